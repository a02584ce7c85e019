#include "io/spool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ntw_error.h"

struct ntw_spool {
  FILE *f;
  char path[4300];
  pthread_t th;
  bool started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* under mu: the bytes waiting for the writer, whether it is writing,
   * whether to stop, and its first error (errno) */
  unsigned char *q;
  size_t qn, qcap;
  bool busy, stop;
  int werr;
};

static void *writer(void *arg) {
  ntw_spool *s = arg;
  unsigned char *w = NULL;
  size_t wcap = 0;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->qn && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
    if (!s->qn && s->stop) break;
    /* take the queue, leave our empty buffer for the next put */
    unsigned char *b = s->q;
    size_t n = s->qn, cap = s->qcap;
    s->q = w, s->qcap = wcap, s->qn = 0;
    s->busy = true;
    pthread_mutex_unlock(&s->mu);
    int e = 0;
    if (fwrite(b, 1, n, s->f) != n || fflush(s->f) != 0) e = errno ? errno : EIO;
    pthread_mutex_lock(&s->mu);
    if (e && !s->werr) s->werr = e;
    w = b, wcap = cap;
    s->busy = false;
    pthread_cond_broadcast(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  free(w);
  return NULL;
}

int ntw_spool_open(const char *path, ntw_spool **out) {
  *out = NULL;
  ntw_spool *s = calloc(1, sizeof *s);
  NTW_ALLOC_CHECK(s);
  snprintf(s->path, sizeof s->path, "%s", path);
  s->f = fopen(path, "w+b");
  if (!s->f) {
    int e = errno;
    free(s);
    return NTW_ERR(NTW_ERR_IO, "%s: cannot create the spool (%s)", path, strerror(e));
  }
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  /* an ordinary thread with a small stack, whatever the caller runs as */
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, 256 * 1024);
  pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
  pthread_attr_setschedpolicy(&at, SCHED_OTHER);
  struct sched_param sp = {.sched_priority = 0};
  pthread_attr_setschedparam(&at, &sp);
  int rc = pthread_create(&s->th, &at, writer, s);
  pthread_attr_destroy(&at);
  if (rc) {
    ntw_spool_close(&s, true);
    return NTW_ERR(NTW_ERR_IO, "%s: cannot start the spool's writer thread (%s)", path,
                   strerror(rc));
  }
  s->started = true;
  *out = s;
  return 0;
}

static int werr_of(const ntw_spool *s) {
  return s->werr ? NTW_ERR(NTW_ERR_IO, "%s: cannot write the spool (%s)", s->path,
                           strerror(s->werr))
                 : 0;
}

int ntw_spool_put(ntw_spool *s, void **buf, size_t *cap, size_t bytes) {
  if (!bytes) return 0;
  int err = 0;
  pthread_mutex_lock(&s->mu);
  if (s->werr) {
    err = werr_of(s);
  } else if (!s->qn) {
    /* idle: swap, no copy */
    unsigned char *b = s->q;
    size_t c = s->qcap;
    s->q = *buf, s->qcap = *cap, s->qn = bytes;
    *buf = b, *cap = c;
  } else {
    if (s->qn + bytes > s->qcap) {
      size_t c = s->qcap ? s->qcap : 65536;
      while (c < s->qn + bytes) c *= 2;
      unsigned char *q = realloc(s->q, c);
      if (!q) err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory queueing the spool", s->path);
      else s->q = q, s->qcap = c;
    }
    if (!err) {
      memcpy(s->q + s->qn, *buf, bytes);
      s->qn += bytes;
    }
  }
  if (!err) pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return err;
}

int ntw_spool_sync(ntw_spool *s) {
  pthread_mutex_lock(&s->mu);
  while (s->qn || s->busy) pthread_cond_wait(&s->cv, &s->mu);
  int err = werr_of(s);
  pthread_mutex_unlock(&s->mu);
  return err;
}

int ntw_spool_rewind(ntw_spool *s) {
  NTW_CHECK(fseek(s->f, 0, SEEK_SET) == 0, NTW_ERR_IO, "%s: cannot read the spool back (%s)",
            s->path, strerror(errno));
  return 0;
}

int ntw_spool_read(ntw_spool *s, void *dst, size_t n) {
  NTW_CHECK(!n || fread(dst, 1, n, s->f) == n, NTW_ERR_IO, "%s: the spool is short", s->path);
  return 0;
}

int ntw_spool_truncate(ntw_spool *s) {
  NTW_CHECK(fflush(s->f) == 0 && ftruncate(fileno(s->f), 0) == 0 &&
                fseek(s->f, 0, SEEK_SET) == 0,
            NTW_ERR_IO, "%s: cannot empty the spool (%s)", s->path, strerror(errno));
  return 0;
}

const char *ntw_spool_path(const ntw_spool *s) { return s->path; }

void ntw_spool_close(ntw_spool **ps, bool remove_file) {
  if (!ps || !*ps) return;
  ntw_spool *s = *ps;
  if (s->started) {
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
  }
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  if (s->f) fclose(s->f);
  if (remove_file) remove(s->path);
  free(s->q);
  free(s);
  *ps = NULL;
}

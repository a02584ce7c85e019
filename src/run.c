/* run.c - `ntwin run`: config -> placement -> partition -> build -> windows,
 * with the spike recorder and the progress line as window hooks, then the
 * run report. */
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "comm/comm.h"
#include "core/ntw_error.h"
#include "core/sysinfo.h"
#include "core/vec.h"
#include "engine.h"
#include "partnet.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/outdir.h"
#include "io/spikes.h"
#include "io/spool.h"
#include "partition/partition.h"
#include "partition/place.h"
#include "twin.h"
#include "weight_recorder.h"

#define NTW_MAX_CKPT_AT 64

typedef struct {
  const char *config, *out, *partition, *bind, *restore, *comm, *overlap;
  const char *coupling_rank; /* auto|on|off, NULL = the config's */
  double t_stop;
  bool has_t_stop, has_seed, quiet, ckpt_final;
  uint64_t seed;
  double ckpt_every;            /* ms, 0 = off */
  double ckpt_at[NTW_MAX_CKPT_AT]; /* ms */
  int n_ckpt_at;
} run_args;

/* Agree on success across ranks. If any rank failed, the lowest failing rank
 * prints its message and every rank returns non-zero: no rank is left
 * waiting in a collective. */
static int agree(int err) {
  int rank, size, first;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int mine = err ? rank : size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first == size) return 0;
  if (rank == first) {
    fprintf(stderr, "ntwin: error: %s\n", ntw_error_msg());
    if (getenv("NTW_DEBUG")) fprintf(stderr, "  (at %s)\n", ntw_error_where());
  }
  return err ? err : NTW_ERR_REMOTE;
}

/* A failure inside the window loop may leave other ranks inside a
 * collective; the only clean stop is to abort them all, once. A rank told
 * that another rank is stopping the run (NTW_ERR_PEER_STOP) leaves the
 * line to that rank and waits for its abort, aborting itself only if that
 * abort never comes. */
#define DIE_PEER_GRACE 5 /* s */
static void die(int err) {
  if (err == NTW_ERR_PEER_STOP) {
    if (getenv("NTW_DEBUG")) fprintf(stderr, "ntwin: note: %s\n", ntw_error_msg());
    unsigned left = DIE_PEER_GRACE; /* SIGTERM (the abort's) cuts sleep short */
    while ((left = sleep(left)) > 0) continue;
  } else {
    fprintf(stderr, "ntwin: error: %s\n", ntw_error_msg());
    fflush(stderr);
    /* Tests only: this rank's abort is lost (seen once in CI: Open MPI's
     * runtime failed to unpack the aborting rank's message and the other
     * ranks ran on for 6 s); the others must still stop, quietly. */
    if (getenv("NTW_FAULT_ABORT_LOST"))
      for (;;) pause();
  }
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, err ? 1 : 0);
}

static int parse_args(int argc, char **argv, run_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(o, "--quiet") == 0) {
      a->quiet = true;
      continue;
    }
    if (strcmp(o, "--checkpoint-final") == 0) {
      a->ckpt_final = true;
      continue;
    }
    if (o[0] != '-') {
      NTW_CHECK(!a->config, NTW_ERR_ARG, "unexpected argument '%s'", o);
      a->config = o;
      continue;
    }
    static const char *const with_value[] = {
        "--out",     "--t-stop",  "--seed",           "--partition",
        "--bind",    "--restore", "--checkpoint-every", "--checkpoint-at",
        "--comm",    "--overlap", "--coupling-rank"};
    bool known = false;
    for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
      known |= strcmp(o, with_value[k]) == 0;
    NTW_CHECK(known, NTW_ERR_ARG, "unknown option '%s'", o);
    NTW_CHECK(v, NTW_ERR_ARG, "%s: missing value", o);
    i++;
    char *end;
    if (strcmp(o, "--out") == 0) {
      a->out = v;
    } else if (strcmp(o, "--t-stop") == 0) {
      a->t_stop = strtod(v, &end);
      NTW_CHECK(*v && !*end && isfinite(a->t_stop), NTW_ERR_ARG,
                "--t-stop: not a number of ms ('%s')", v);
      a->has_t_stop = true;
    } else if (strcmp(o, "--seed") == 0) {
      errno = 0;
      a->seed = strtoull(v, &end, 10);
      NTW_CHECK(*v && !*end && v[0] != '-' && !errno, NTW_ERR_ARG,
                "--seed: not a non-negative integer ('%s')", v);
      a->has_seed = true;
    } else if (strcmp(o, "--partition") == 0) {
      a->partition = v;
    } else if (strcmp(o, "--restore") == 0) {
      a->restore = v;
    } else if (strcmp(o, "--checkpoint-every") == 0) {
      a->ckpt_every = strtod(v, &end);
      NTW_CHECK(*v && !*end && a->ckpt_every > 0 && isfinite(a->ckpt_every),
                NTW_ERR_ARG, "--checkpoint-every: not a positive number of ms ('%s')", v);
    } else if (strcmp(o, "--checkpoint-at") == 0) {
      /* a comma-separated list of times in ms */
      const char *q = v;
      while (*q) {
        NTW_CHECK(a->n_ckpt_at < NTW_MAX_CKPT_AT, NTW_ERR_ARG,
                  "--checkpoint-at: at most %d times", NTW_MAX_CKPT_AT);
        double t = strtod(q, &end);
        NTW_CHECK(end != q && (*end == ',' || !*end) && t >= 0 && isfinite(t),
                  NTW_ERR_ARG, "--checkpoint-at: not a list of times in ms ('%s')", v);
        a->ckpt_at[a->n_ckpt_at++] = t;
        q = *end ? end + 1 : end;
      }
    } else if (strcmp(o, "--comm") == 0) {
      a->comm = v;
    } else if (strcmp(o, "--overlap") == 0) {
      NTW_CHECK(!strcmp(v, "on") || !strcmp(v, "off"), NTW_ERR_ARG,
                "--overlap: 'on' or 'off' (got '%s')", v);
      a->overlap = v;
    } else if (strcmp(o, "--coupling-rank") == 0) {
      NTW_CHECK(!strcmp(v, "auto") || !strcmp(v, "on") || !strcmp(v, "off"), NTW_ERR_ARG,
                "--coupling-rank: 'auto', 'on' or 'off' (got '%s')", v);
      a->coupling_rank = v;
    } else {
      a->bind = v;
    }
  }
  NTW_CHECK(a->config || a->restore, NTW_ERR_ARG, "missing CONFIG.json (or --restore CKPT.h5)");
  NTW_CHECK(a->out, NTW_ERR_ARG, "missing --out DIR");
  return 0;
}

/* Rank 0 reads the file; every rank parses the same bytes, so validation
 * errors are found identically everywhere. */
static int read_config(const char *path, ntw_config **cfg) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char *text = NULL;
  size_t len = 0;
  long long blen = 0;
  int err = 0;
  if (rank == 0) {
    err = ntw_config_read_file(path, &text, &len);
    blen = err ? -1 : (long long)len;
  }
  MPI_Bcast(&blen, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  if (blen < 0) return err ? err : NTW_ERR_REMOTE;
  if (rank != 0) {
    text = malloc((size_t)blen + 1);
    NTW_ALLOC_CHECK(text);
    text[blen] = '\0';
  }
  MPI_Bcast(text, (int)blen, MPI_CHAR, 0, MPI_COMM_WORLD);
  err = ntw_config_parse(text, (size_t)blen, path, cfg);
  free(text);
  return err;
}

static bool dist_eq(const ntw_dist *a, const ntw_dist *b) {
  return a->kind == b->kind && a->a == b->a && a->b == b->b &&
         a->min == b->min && a->max == b->max;
}

/* A config given with --restore may change parameters, stimuli and
 * recording, not the network's shape: populations and connectivity. */
static int same_network(const ntw_config *c, const ntw_config *k, const char *ckpt) {
  NTW_CHECK(c->npops == k->npops, NTW_ERR_CONFIG,
            "%s: populations: %zu populations, the checkpoint %s has %zu",
            c->path, c->npops, ckpt, k->npops);
  for (size_t i = 0; i < c->npops; i++)
    NTW_CHECK(!strcmp(c->pops[i].name, k->pops[i].name) &&
                  c->pops[i].size == k->pops[i].size &&
                  !strcmp(c->pops[i].model, k->pops[i].model),
              NTW_ERR_CONFIG,
              "%s: populations[%zu]: name, size or model differs from the "
              "checkpoint %s ('%s', %llu, %s)",
              c->path, i, ckpt, k->pops[i].name,
              (unsigned long long)k->pops[i].size, k->pops[i].model);
  NTW_CHECK(c->nprojs == k->nprojs, NTW_ERR_CONFIG,
            "%s: projections: %zu projections, the checkpoint %s has %zu",
            c->path, c->nprojs, ckpt, k->nprojs);
  for (size_t i = 0; i < c->nprojs; i++) {
    const ntw_proj_cfg *x = &c->projs[i], *y = &k->projs[i];
    NTW_CHECK(x->source == y->source && x->target == y->target && x->rule == y->rule &&
                  x->indegree == y->indegree && x->p == y->p &&
                  x->allow_autapses == y->allow_autapses &&
                  x->allow_multapses == y->allow_multapses &&
                  dist_eq(&x->weight, &y->weight) && dist_eq(&x->delay, &y->delay) &&
                  !strcmp(x->syn_model, y->syn_model),
              NTW_ERR_CONFIG,
              "%s: projections[%zu]: connectivity differs from the checkpoint %s "
              "(the network's shape cannot change on restore)",
              c->path, i, ckpt);
  }
  return 0;
}

static int load_config(const run_args *a, ntw_config **cfg, ntw_ckpt_info *ck) {
  uint64_t seed = a->seed;
  bool has_seed = a->has_seed;
  if (a->restore) {
    NTW_TRY(ntw_checkpoint_info(a->restore, ck));
    char where[4200];
    snprintf(where, sizeof where, "%s:/config", a->restore);
    ntw_config *kc = NULL;
    NTW_TRY(ntw_config_parse(ck->config_text, strlen(ck->config_text), where, &kc));
    if (a->config) {
      int err = read_config(a->config, cfg);
      if (!err) err = same_network(*cfg, kc, a->restore);
      ntw_config_destroy(&kc);
      NTW_TRY(err);
    } else {
      *cfg = kc;
    }
    /* The run continues with the seed it was started with. */
    if (!has_seed) seed = ck->seed, has_seed = true;
  } else {
    NTW_TRY(read_config(a->config, cfg));
  }
  NTW_TRY(ntw_config_override(*cfg, a->has_t_stop ? &a->t_stop : NULL,
                              has_seed ? &seed : NULL, a->partition, a->bind,
                              a->comm));
  if (a->overlap) (*cfg)->sim.overlap = strcmp(a->overlap, "on") == 0;
  if (a->coupling_rank)
    (*cfg)->sim.coupling_rank = !strcmp(a->coupling_rank, "on")    ? NTW_COUPLING_ON
                                : !strcmp(a->coupling_rank, "off") ? NTW_COUPLING_OFF
                                                                   : NTW_COUPLING_AUTO;
  int P;
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  /* Forced on with one rank: rank 0 cannot both idle and hold the network.
   * An error, not a silent fallback, so a report never claims a coupling
   * rank the run did not have. */
  if ((*cfg)->sim.coupling_rank == NTW_COUPLING_ON && P < 2) {
    if (a->coupling_rank)
      return NTW_ERR(NTW_ERR_ARG, "--coupling-rank on: needs at least 2 ranks "
                     "(rank 0 then owns no neuron; got 1)");
    return NTW_ERR(NTW_ERR_CONFIG, "%s: simulation.coupling_rank: true needs at least 2 "
                   "ranks (rank 0 then owns no neuron; got 1)", (*cfg)->path);
  }  if (a->restore)
    NTW_CHECK((*cfg)->sim.t_stop > ck->t_ms, NTW_ERR_ARG,
              "--t-stop: the checkpoint is at t = %g ms; give a later --t-stop "
              "(got %g)", ck->t_ms, (*cfg)->sim.t_stop);
  return 0;
}

/* ---- spike recorder (AFTER_WINDOW hook) ---- */

typedef struct {
  ntw_spike_writer *w;
  const ntw_config *cfg;
  int *rec_index; /* config pop -> writer pop, -1 if not recorded */
  ntw_spike *buf;
  size_t n, cap;
  int64_t flushed_to; /* spike steps < this are written */
  int64_t flush_every; /* steps */
  double io_s; /* wall seconds in flushes (collective I/O, not compute) */
  /* Paced runs spool instead (README "Spike report of a paced run"): the
   * collective append costs 1-4 ms, a stall the wall-clock-locked window
   * loop cannot absorb, so every flush_every steps each rank hands its
   * buffer to its own spool (io/spool.h: a file written by a thread, no
   * collective, no write() in the loop), and the spool goes into spikes.h5
   * at each checkpoint and at the end. seg_hi/seg_n: per hand-over, the
   * step it covers up to (the same on every rank) and this rank's count. */
  ntw_spool *spool;
  int64_t spool_to; /* spike steps < this are in the spool */
  VEC(int64_t) seg_hi;
  VEC(size_t) seg_n;
} recorder;

static int spool_write(recorder *r, int64_t upto) {
  VPUSH(r->seg_hi, upto);
  VPUSH(r->seg_n, r->n);
  void *b = r->buf;
  size_t cap = r->cap * sizeof *r->buf;
  NTW_TRY(ntw_spool_put(r->spool, &b, &cap, r->n * sizeof *r->buf));
  r->buf = b;
  r->cap = cap / sizeof *r->buf;
  r->n = 0;
  r->spool_to = upto;
  return 0;
}

/* Collective: the spool into spikes.h5, about a second of spikes per append
 * (segments are the same on every rank, so the appends match). */
static int spool_drain(recorder *r) {
  if (!r->seg_hi.n) return 0;
  int err = ntw_spool_sync(r->spool);
  if (!err) err = ntw_spool_rewind(r->spool);
  ntw_spike *chunk = NULL;
  size_t cap = 0;
  for (size_t s = 0; s < r->seg_hi.n;) {
    size_t e = s, n = 0;
    while (e < r->seg_hi.n && (e == s || e - s < 10)) n += r->seg_n.v[e++];
    if (!err && n > cap) {
      ntw_spike *c = realloc(chunk, n * sizeof *c);
      if (c) chunk = c, cap = n;
      else err = NTW_ERR(NTW_ERR_NOMEM, "out of memory reading the spike spool");
    }
    if (!err) err = ntw_spool_read(r->spool, chunk, n * sizeof *chunk);
    /* a rank that cannot read its spool stops every rank's drain here */
    int mine = err != 0, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) {
      if (!err) err = NTW_ERR(NTW_ERR_IO, "another rank could not read its spike spool");
      break;
    }
    err = ntw_spikes_append(r->w, chunk, n, r->flushed_to, r->seg_hi.v[e - 1]);
    if (err) break;
    r->flushed_to = r->seg_hi.v[e - 1];
    s = e;
  }
  free(chunk);
  r->seg_hi.n = r->seg_n.n = 0;
  if (!err) err = ntw_spool_truncate(r->spool);
  return err;
}

static int recorder_flush(recorder *r, int64_t upto) {
  if (r->spool) NTW_TRY(spool_drain(r));
  NTW_TRY(ntw_spikes_append(r->w, r->buf, r->n, r->flushed_to, upto));
  r->n = 0;
  r->flushed_to = r->spool_to = upto;
  return 0;
}

static int recorder_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  recorder *r = ctx;
  const uint64_t *gids;
  const int64_t *steps;
  size_t n;
  ntw_engine_window_spikes(e, &gids, &steps, &n);
  if (r->n + n > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->n + n) cap *= 2;
    ntw_spike *nb = realloc(r->buf, cap * sizeof *nb);
    NTW_ALLOC_CHECK(nb);
    r->buf = nb;
    r->cap = cap;
  }
  const ntw_config *cfg = r->cfg;
  for (size_t k = 0; k < n; k++) {
    size_t p = cfg->npops - 1;
    while (gids[k] < cfg->pops[p].first_gid) p--;
    if (r->rec_index[p] < 0) continue;
    r->buf[r->n++] = (ntw_spike){.node_id = gids[k] - cfg->pops[p].first_gid,
                                 .step = steps[k],
                                 .pop = (uint32_t)r->rec_index[p]};
  }
  /* Spikes of window [lo, hi) carry steps lo+1 .. hi. */
  if (r->spool && hi + 1 - r->spool_to >= r->flush_every) {
    NTW_TRY(spool_write(r, hi + 1));
  } else if (!r->spool && hi + 1 - r->flushed_to >= r->flush_every) {
    double t0 = MPI_Wtime();
    NTW_TRY(recorder_flush(r, hi + 1));
    r->io_s += MPI_Wtime() - t0;
  }
  return 0;
}

/* ---- checkpoints (AFTER_WINDOW hook, all ranks) ---- */

static volatile sig_atomic_t ntw__signal;
static void on_signal(int sig) { ntw__signal = sig; }

typedef struct {
  recorder *rec;
  const char *out;
  double dt;
  int64_t every, next_every; /* steps; 0 = off */
  int64_t at[NTW_MAX_CKPT_AT];
  int n_at, next_at;
  bool final, quiet;
  int64_t until;
  uint64_t windows;
  ntw_twin *twin;       /* its state goes into /twin of every checkpoint */
  int signal; /* agreed signal that stopped the run */
  int written;
  double write_s;       /* wall seconds in checkpoint writes */
  long long bytes;      /* bytes of the last checkpoint */
} ckpt_ctl;

static int ckpt_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  ckpt_ctl *c = ctx;
  bool want = false;
  if (c->every && hi >= c->next_every) {
    want = true;
    while (c->next_every <= hi) c->next_every += c->every;
  }
  while (c->next_at < c->n_at && c->at[c->next_at] <= hi) {
    want = true;
    c->next_at++;
  }
  if (c->final && hi >= c->until) want = true;
  /* Slurm signals every task before a time limit; agree on it every few
   * windows (one small allreduce) so all ranks checkpoint the same step. */
  if (++c->windows % 8 == 0 || hi >= c->until) {
    int mine = ntw__signal, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) {
      c->signal = any;
      want = true;
    }
  }
  if (!want) return 0;
  /* Everything up to this boundary goes into this run's spike report, and
   * every spike emitted so far into the checkpoint's state (overlap). */
  NTW_TRY(recorder_flush(c->rec, hi + 1));
  NTW_TRY(ntw_engine_drain(e));
  char path[4200];
  snprintf(path, sizeof path, "%s/checkpoint-%lld.h5", c->out, (long long)llround(hi * c->dt));
  double t0 = MPI_Wtime();
  NTW_TRY(c->twin ? ntw_checkpoint_write_ext(e, path, "twin", ntw_twin_ckpt_save, c->twin)
                  : ntw_checkpoint_write(e, path));
  c->written++;
  c->write_s += MPI_Wtime() - t0;
  struct stat sb;
  c->bytes = stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0 && !c->quiet)
    fprintf(stderr, "%scheckpoint: %s (t = %g ms, %.2f s)\n", isatty(2) ? "\n" : "",
            path, hi * c->dt, MPI_Wtime() - t0);
  if (c->signal) ntw_engine_request_stop(e);
  return 0;
}

/* ---- progress (AFTER_WINDOW hook, rank 0) ---- */

typedef struct {
  double t_start_wall, last_print, dt;
  int64_t step0, until;
  bool tty;
} progress;

static int progress_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  progress *p = ctx;
  double now = MPI_Wtime();
  double interval = p->tty ? 0.25 : 30.0;
  if (now - p->last_print < interval && hi < p->until) return 0;
  p->last_print = now;
  double done = (double)(hi - p->step0), total = (double)(p->until - p->step0);
  double wall = now - p->t_start_wall;
  double sim_s = done * p->dt * 1e-3;
  double rtf = sim_s > 0 ? wall / sim_s : 0;
  double eta = done > 0 ? wall * (total - done) / done : 0;
  fprintf(stderr, "%s  t = %.1f / %.1f ms  [%3.0f%%]  %.2f s wall  RTF %.3g  ETA %.1f s%s",
          p->tty ? "\r" : "", hi * p->dt, p->until * p->dt,
          total > 0 ? 100.0 * done / total : 100.0, wall, rtf, eta,
          p->tty ? "   " : "\n");
  if (p->tty && hi >= p->until) fputc('\n', stderr);
  return 0;
}

/* ---- report ---- */

static int write_json_atomic(const char *dir, const char *name, json_t *j) {
  char path[4200], tmp[4300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  NTW_CHECK(json_dump_file(j, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) == 0,
            NTW_ERR_IO, "%s: cannot write", tmp);
  NTW_CHECK(rename(tmp, path) == 0, NTW_ERR_IO, "%s: cannot rename: %s", path,
            strerror(errno));
  return 0;
}

static void fmt_count(char *buf, size_t n, double x) {
  if (x >= 1e9) snprintf(buf, n, "%.2f G", x / 1e9);
  else if (x >= 1e6) snprintf(buf, n, "%.2f M", x / 1e6);
  else if (x >= 1e4) snprintf(buf, n, "%.1f k", x / 1e3);
  else snprintf(buf, n, "%.0f", x);
}

typedef struct {
  const run_args *args;
  const ntw_config *cfg;
  ntw_engine *eng;
  const char *binding;
  uint64_t rss_base;
  double t_from_ms, t_to_ms;
  const ckpt_ctl *ck;
  double restore_s;
  int stopped_by_signal;
  json_t *twin; /* rank 0: the twin's report object, or NULL */
  double part_s; /* wall seconds to compute the partition */
  bool coupling_rank; /* rank 0 reserved, owns no neuron */
} report_in;

/* max / mean of x[0..n), 1 when all are zero. */
static double max_over_mean(const double *x, int n) {
  double mx = 0, sum = 0;
  for (int i = 0; i < n; i++) {
    sum += x[i];
    mx = x[i] > mx ? x[i] : mx;
  }
  return sum > 0 ? mx * n / sum : 1.0;
}

static int report(const report_in *in) {
  int rank, P;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  const ntw_config *cfg = in->cfg;
  ntw_engine_stats st;
  ntw_engine_get_stats(in->eng, &st);
  uint64_t peak = ntw_peak_rss_bytes();
  uint64_t mine[5] = {st.syn_local, st.spikes_local, st.events_local,
                      peak > in->rss_base ? peak - in->rss_base : 0,
                      in->rss_base};
  uint64_t sum[5];
  MPI_Reduce(mine, sum, 5, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
  uint64_t *pops = calloc(cfg->npops, sizeof *pops);
  NTW_ALLOC_CHECK(pops);
  MPI_Reduce(ntw_engine_pop_spikes(in->eng), pops, (int)cfg->npops,
             MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
  double tm[5] = {st.comm_s, st.wall_sim_s, st.wall_build_s, st.comm_wait_s,
                  st.comm_post_s}, tmax[5];
  MPI_Reduce(tm, tmax, 5, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  /* The blocked exchange calls by duration, summed over ranks. */
  const uint64_t *wn;
  const double *ws;
  ntw_comm_wait_hist(ntw_engine_comm(in->eng), &wn, &ws);
  uint64_t wn_sum[NTW_COMM_WAIT_BINS];
  double ws_sum[NTW_COMM_WAIT_BINS];
  MPI_Reduce(wn, wn_sum, NTW_COMM_WAIT_BINS, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
  MPI_Reduce(ws, ws_sum, NTW_COMM_WAIT_BINS, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  double *comm_all = rank == 0 ? malloc((size_t)P * sizeof *comm_all) : NULL;
  uint64_t *peak_all = rank == 0 ? malloc((size_t)P * sizeof *peak_all) : NULL;
  char *bind_all = rank == 0 ? calloc((size_t)P, 128) : NULL;
  char bind_mine[128] = {0};
  snprintf(bind_mine, sizeof bind_mine, "%s", in->binding);
  MPI_Gather(&st.comm_s, 1, MPI_DOUBLE, comm_all, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Gather(&peak, 1, MPI_UINT64_T, peak_all, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  MPI_Gather(bind_mine, 128, MPI_CHAR, bind_all, 128, MPI_CHAR, 0, MPI_COMM_WORLD);
  /* Per-rank work and cross-rank volume. Compute time is the simulation
   * wall time minus time inside the spike exchange and in output hooks
   * (spike-report flushes, checkpoints): both contain waiting for other
   * ranks, which is the effect of imbalance, not its cause. */
  enum { W_NEURONS, W_SYN, W_EVENTS, W_REMOTE, W_SELF, NW };
  uint64_t wmine[NW] = {st.n_local, st.syn_local, st.events_local, st.keys_remote,
                        st.keys_self};
  double out_s = in->ck->rec->io_s + in->ck->write_s;
  double tmine[2] = {st.wall_sim_s - st.comm_s - out_s, out_s};
  uint64_t *wall_ = rank == 0 ? malloc((size_t)P * NW * sizeof *wall_) : NULL;
  double *tall = rank == 0 ? malloc((size_t)P * 2 * sizeof *tall) : NULL;
  MPI_Gather(wmine, NW, MPI_UINT64_T, wall_, NW, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  MPI_Gather(tmine, 2, MPI_DOUBLE, tall, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  int err = 0;
  double imb = 1.0;
  uint64_t keys_remote = 0;
  if (rank == 0) {
    double t_sim = in->t_to_ms - in->t_from_ms;
    double wall = tmax[1];
    json_t *j = json_object();
    json_object_set_new(j, "ntwin_version", json_string(NTW_VERSION));
    json_object_set_new(j, "config", json_string(cfg->path));
    json_object_set_new(j, "regime", json_string(ntw_regime_name(
                                         cfg->twin.enabled ? cfg->twin.regime
                                                           : NTW_REGIME_OFFLINE)));
    json_object_set_new(j, "ranks", json_integer(P));
    json_object_set_new(j, "partition", json_string(cfg->sim.partition));
    json_object_set_new(j, "coupling_rank", json_boolean(in->coupling_rank));
    json_object_set_new(j, "comm", json_string(cfg->sim.comm));
    const ntw_comm *cm = ntw_engine_comm(in->eng);
    if (ntw_comm_ofi_provider(cm)) {
      json_object_set_new(j, "comm_provider", json_string(ntw_comm_ofi_provider(cm)));
      json_object_set_new(j, "comm_progress", json_string(ntw_comm_ofi_progress(cm)));
    }
    json_object_set_new(j, "seed", json_integer((json_int_t)cfg->sim.seed));
    json_object_set_new(j, "dt_ms", json_real(cfg->sim.dt));
    json_object_set_new(j, "window_ms", json_real(st.window_steps * cfg->sim.dt));
    json_object_set_new(j, "min_delay_built_ms",
                        json_real(st.min_delay_built * cfg->sim.dt));
    json_object_set_new(j, "neurons", json_integer((json_int_t)st.n_global));
    json_object_set_new(j, "synapses", json_integer((json_int_t)sum[0]));
    json_object_set_new(j, "spikes", json_integer((json_int_t)sum[1]));
    json_object_set_new(j, "events", json_integer((json_int_t)sum[2]));
    json_object_set_new(j, "t_sim_ms", json_real(t_sim));
    json_object_set_new(j, "wall_build_s", json_real(tmax[2]));
    json_object_set_new(j, "wall_sim_s", json_real(wall));
    json_object_set_new(j, "rtf", json_real(t_sim > 0 ? wall / (t_sim * 1e-3) : 0));
    json_object_set_new(j, "events_per_s", json_real(wall > 0 ? sum[2] / wall : 0));
    json_object_set_new(j, "comm_s", json_real(tmax[0]));
    json_object_set_new(j, "comm_share", json_real(wall > 0 ? tmax[0] / wall : 0));
    json_object_set_new(j, "spike_spool", json_boolean(in->ck->rec->spool != NULL));
    json_object_set_new(j, "overlap", json_boolean(st.overlap));
    json_object_set_new(j, "overlap_requested", json_boolean(st.overlap_requested));
    json_object_set_new(j, "epoch_steps", json_integer(st.epoch_steps));
    json_object_set_new(j, "comm_wait_s", json_real(tmax[3]));
    json_object_set_new(j, "comm_post_s", json_real(tmax[4]));
    {
      json_t *h = json_object(), *lo = json_array(), *n = json_array(), *sec = json_array();
      for (int k = 0; k < NTW_COMM_WAIT_BINS; k++) {
        json_array_append_new(lo, json_integer(k ? (json_int_t)1 << k : 0));
        json_array_append_new(n, json_integer((json_int_t)wn_sum[k]));
        json_array_append_new(sec, json_real(ws_sum[k]));
      }
      json_object_set_new(h, "bin_lo_us", lo);
      json_object_set_new(h, "count", n);
      json_object_set_new(h, "seconds", sec);
      json_object_set_new(j, "comm_wait_hist", h);
    }
    json_t *ca = json_array(), *pa = json_array(), *ba = json_array();
    for (int r = 0; r < P; r++) {
      json_array_append_new(ca, json_real(comm_all[r]));
      json_array_append_new(pa, json_integer((json_int_t)peak_all[r]));
      json_array_append_new(ba, json_string(bind_all + 128 * r));
    }
    json_object_set_new(j, "comm_s_per_rank", ca);
    json_object_set_new(j, "wall_partition_s", json_real(in->part_s));
    {
      json_t *arr[NW], *cs = json_array(), *os = json_array();
      double *comp = malloc((size_t)P * 2 * sizeof *comp), *ev = comp ? comp + P : NULL;
      if (!comp) err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for the report");
      uint64_t tot[NW] = {0};
      for (int k = 0; k < NW; k++) arr[k] = json_array();
      for (int r = 0; r < P && comp; r++) {
        for (int k = 0; k < NW; k++) {
          json_array_append_new(arr[k], json_integer((json_int_t)wall_[r * NW + k]));
          tot[k] += wall_[r * NW + k];
        }
        comp[r] = tall[2 * r];
        ev[r] = (double)wall_[r * NW + W_EVENTS];
        json_array_append_new(cs, json_real(comp[r]));
        json_array_append_new(os, json_real(tall[2 * r + 1]));
      }
      json_object_set_new(j, "neurons_per_rank", arr[W_NEURONS]);
      json_object_set_new(j, "synapses_per_rank", arr[W_SYN]);
      json_object_set_new(j, "events_per_rank", arr[W_EVENTS]);
      json_object_set_new(j, "compute_s_per_rank", cs);
      json_object_set_new(j, "output_s_per_rank", os);
      /* Balance among the ranks that hold neurons: an idle coupling rank
       * would count as a rank with no work and inflate max / mean. */
      const int r0 = in->coupling_rank ? 1 : 0;
      json_object_set_new(j, "imbalance",
                          json_real(comp ? max_over_mean(comp + r0, P - r0) : 0));
      json_object_set_new(j, "imbalance_events",
                          json_real(ev ? max_over_mean(ev + r0, P - r0) : 0));
      json_object_set_new(j, "spike_keys_remote", json_integer((json_int_t)tot[W_REMOTE]));
      json_object_set_new(j, "spike_keys_remote_per_rank", arr[W_REMOTE]);
      json_object_set_new(j, "spike_keys_self", json_integer((json_int_t)tot[W_SELF]));
      json_object_set_new(j, "spike_keys_self_per_rank", arr[W_SELF]);
      json_object_set_new(j, "spike_keys_remote_per_spike",
                          json_real(sum[1] ? (double)tot[W_REMOTE] / (double)sum[1] : 0));
      imb = comp ? max_over_mean(comp + r0, P - r0) : 1.0;
      keys_remote = tot[W_REMOTE];
      free(comp);
    }
    json_object_set_new(j, "peak_rss_bytes", pa);
    json_object_set_new(j, "bytes_per_synapse",
                        json_real(sum[0] ? (double)sum[3] / (double)sum[0] : 0));
    json_object_set_new(j, "fixed_overhead_bytes", json_integer((json_int_t)sum[4]));
    json_t *rates = json_object();
    for (size_t p = 0; p < cfg->npops; p++)
      json_object_set_new(rates, cfg->pops[p].name,
                          json_real(t_sim > 0 ? pops[p] / (cfg->pops[p].size * t_sim * 1e-3)
                                              : 0));
    json_object_set_new(j, "rates_hz", rates);
    json_object_set_new(j, "bind", json_string(cfg->sim.bind));
    json_object_set_new(j, "t_start_ms", json_real(in->t_from_ms));
    json_object_set_new(j, "restored_from",
                        in->args->restore ? json_string(in->args->restore) : json_null());
    json_object_set_new(j, "restore_s", json_real(in->restore_s));
    json_object_set_new(j, "checkpoints_written", json_integer(in->ck->written));
    json_object_set_new(j, "checkpoint_write_s", json_real(in->ck->write_s));
    json_object_set_new(j, "checkpoint_bytes", json_integer(in->ck->bytes));
    json_object_set_new(j, "stopped_by_signal", json_integer(in->stopped_by_signal));
    json_object_set_new(j, "binding", ba);
    if (in->twin) json_object_set(j, "twin", in->twin);
    if (!err) err = write_json_atomic(in->args->out, "report.json", j);
    json_decref(j);
    if (!err && !in->args->quiet) {
      char a[32], b[32], c[32], d[32];
      fmt_count(a, sizeof a, (double)st.n_global);
      fmt_count(b, sizeof b, (double)sum[0]);
      fmt_count(c, sizeof c, (double)sum[1]);
      fmt_count(d, sizeof d, wall > 0 ? sum[2] / wall : 0);
      fprintf(stderr,
              "ntwin run: %s on %d rank%s (partition %s, comm %s, bind %s%s)\n"
              "  network   %s neurons, %s synapses, window %.3g ms (%d steps)\n"
              "  simulated %.1f ms in %.3f s wall: RTF %.3g (build %.2f s)\n"
              "  spikes    %s:",
              cfg->path, P, P > 1 ? "s" : "", cfg->sim.partition, cfg->sim.comm,
              cfg->sim.bind, in->coupling_rank ? ", coupling rank 0: no neurons" : "", a, b, st.window_steps * cfg->sim.dt, st.window_steps,
              t_sim, wall, t_sim > 0 ? wall / (t_sim * 1e-3) : 0, tmax[2], c);
      for (size_t p = 0; p < cfg->npops; p++)
        fprintf(stderr, " %s %.2f Hz", cfg->pops[p].name,
                t_sim > 0 ? pops[p] / (cfg->pops[p].size * t_sim * 1e-3) : 0);
      fprintf(stderr,
              "\n  events    %s/s delivered; comm %.3f s (%.1f%% of wall), overlap %s\n"
              "  balance   compute max/mean %.3f; %.3g spike keys to other ranks "
              "(%.2f per spike)\n"
              "  memory    %.2f bytes/synapse (+ %.0f MB runtime overhead per rank)\n"
              "  output    %s/spikes.h5,%s report.json\n",
              d, tmax[0], wall > 0 ? 100 * tmax[0] / wall : 0,
              st.overlap ? "on" : st.overlap_requested ? "off (min delay 1 step)" : "off", imb,
              (double)keys_remote, sum[1] ? (double)keys_remote / (double)sum[1] : 0,
              sum[0] ? (double)sum[3] / (double)sum[0] : 0, sum[4] / 1e6 / P,
              in->args->out, cfg->nwrecs ? " weights.h5," : "");
    }
  }
  free(pops), free(comm_all), free(peak_all), free(bind_all), free(wall_), free(tall);
  MPI_Bcast(&err, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return err;
}

int ntw_cli_run(int argc, char **argv) {
  int rank, P;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  uint64_t rss_base = ntw_rss_bytes();
  run_args a;
  int err = parse_args(argc, argv, &a);
  if (err) { /* the same on every rank: no agreement needed */
    if (rank == 0)
      fprintf(stderr, "ntwin: error: %s\n(see 'ntwin help')\n", ntw_error_msg());
    return 2;
  }
  ntw_config *cfg = NULL;
  ntw_part *part = NULL;
  ntw_comm *comm = NULL;
  ntw_engine *eng = NULL;
  recorder rec = {0};
  ntw_ckpt_info ck = {0};
  ntw_weight_recorder *wrec = NULL;
  ntw_twin *twin = NULL;
  json_t *twin_json = NULL;
  int twin_err = 0;
  char binding[128] = "none";
  bool out_created = false;
  int rc = 1;

  if (agree(load_config(&a, &cfg, &ck))) goto done;
  err = rank == 0 ? ntw_outdir_make(a.out, &out_created) : 0;
  if (agree(err)) goto done;
  {
    ntw_bind_mode mode;
    err = ntw_place_parse(cfg->sim.bind, &mode);
    if (!err) err = ntw_place_bind(MPI_COMM_WORLD, mode, binding, sizeof binding);
    if (agree(err)) goto done;
  }
  double part_s = MPI_Wtime();
  /* The twin's coupling rank (DESIGN.md "Bio link"): rank 0 owns no neuron,
   * so reading the link and deciding stimulation never wait behind a
   * partition. Results are the same either way (tests/determinism.sh). */
  const bool coupling = ntw_config_coupling_rank(cfg, P);
  if (agree(ntw_part_create_config(cfg->sim.partition, cfg, P, coupling, &part))) goto done;
  {
    /* Every rank computed the map itself; a rank that got another one (a
     * different METIS build on another node) would silently lose spikes. */
    uint64_t d = ntw_part_digest(part), dmin, dmax;
    MPI_Allreduce(&d, &dmin, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&d, &dmax, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    err = dmin == dmax ? 0 : NTW_ERR(NTW_ERR_INTERNAL,
                                     "partition %s: the ranks computed different maps "
                                     "(different METIS libraries?)", cfg->sim.partition);
    if (agree(err)) goto done;
  }
  part_s = MPI_Wtime() - part_s;
  if (agree(ntw_comm_create(cfg->sim.comm, MPI_COMM_WORLD, &comm))) goto done;

  /* Spike recorder. */
  {
    rec.cfg = cfg;
    rec.rec_index = malloc(cfg->npops * sizeof *rec.rec_index);
    const char **names = malloc(cfg->npops * sizeof *names);
    size_t nrec = 0;
    err = rec.rec_index && names ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory");
    for (size_t p = 0; !err && p < cfg->npops; p++) {
      rec.rec_index[p] = cfg->pops[p].record_spikes ? (int)nrec : -1;
      if (cfg->pops[p].record_spikes) names[nrec++] = cfg->pops[p].name;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/spikes.h5", a.out);
    if (agree(err)) {
      free(names);
      goto done;
    }
    err = ntw_spikes_open(MPI_COMM_WORLD, path, nrec, names, cfg->sim.dt, &rec.w);
    free(names);
    if (agree(err)) goto done;
    rec.flushed_to = 0; /* set to the start step below */
    /* Flush about every 100 ms of model time (a flush costs ~10 ms of
     * collectives and I/O at 430 k spikes/s; the buffer stays a few MB), and
     * the file is the same whatever the interval. */
    int64_t every = (int64_t)llround(100.0 / cfg->sim.dt);
    rec.flush_every = every > 0 ? every : 1;
  }
  /* Memory growth from here on is the network's (bytes_per_synapse); what
   * MPI, HDF5 and hwloc took before is the fixed runtime overhead. */
  rss_base = ntw_rss_bytes();
  if (agree(ntw_engine_create(cfg, comm, part, &eng))) goto done;
  double restore_s = MPI_Wtime();
  if (a.restore && agree(ntw_checkpoint_restore(eng, a.restore))) goto done;
  restore_s = a.restore ? MPI_Wtime() - restore_s : 0.0;
  NTW_GOTO(err, ntw_engine_add_hook(eng, NTW_HOOK_AFTER_WINDOW, recorder_hook, &rec),
           done);
  /* The twin: rank 0 links to the biology; every rank gets its hooks. After
   * a restore it puts the assimilated weights back into the (static,
   * rebuilt) synapses, so it comes before the weight recorder's first
   * record. Its after-window hook comes before the checkpoint hook, which
   * saves its state at the same boundary. */
  if (cfg->twin.enabled && agree(ntw_twin_create(eng, a.out, a.quiet, a.restore, &twin)))
    goto done;
  if (rec.w && ntw_twin_paced(twin)) {
    /* paced: spool the spike report (see recorder) */
    char sp[4200];
    snprintf(sp, sizeof sp, "%s/.spikes-%d.spool", a.out, rank);
    if (agree(ntw_spool_open(sp, &rec.spool))) goto done;
  }
  /* Weight recorder: the synapse lists and the t = 0 record now, then an
   * AFTER_WINDOW hook. */
  if (cfg->nwrecs > 0) {
    char path[4200];
    snprintf(path, sizeof path, "%s/weights.h5", a.out);
    if (agree(ntw_weight_recorder_open(eng, path, &wrec))) goto done;
    NTW_GOTO(err, ntw_engine_add_hook(eng, NTW_HOOK_AFTER_WINDOW,
                                      ntw_weight_recorder_hook, wrec),
             done);
  }
  int64_t until = ntw_engine_steps(eng, cfg->sim.t_stop);
  ntw_engine_stats st0;
  ntw_engine_get_stats(eng, &st0);
  const int64_t start = st0.step; /* 0, or the checkpoint's step */
  rec.flushed_to = rec.spool_to = start + 1; /* spikes carry steps start+1 .. */
  ckpt_ctl cc = {.rec = &rec, .out = a.out, .dt = cfg->sim.dt, .final = a.ckpt_final,
                 .quiet = a.quiet, .until = until, .twin = twin};
  if (a.ckpt_every > 0) {
    cc.every = ntw_engine_steps(eng, a.ckpt_every);
    if (cc.every < 1) cc.every = 1;
    cc.next_every = start + cc.every;
  }
  for (int i = 0; i < a.n_ckpt_at; i++) {
    int64_t s_at = ntw_engine_steps(eng, a.ckpt_at[i]);
    if (s_at > start) cc.at[cc.n_at++] = s_at;
  }
  for (int i = 1; i < cc.n_at; i++) /* ascending */
    for (int j = i; j > 0 && cc.at[j - 1] > cc.at[j]; j--) {
      int64_t t = cc.at[j]; cc.at[j] = cc.at[j - 1]; cc.at[j - 1] = t;
    }
  signal(SIGTERM, on_signal);
  signal(SIGUSR1, on_signal);
  NTW_GOTO(err, ntw_engine_add_hook(eng, NTW_HOOK_AFTER_WINDOW, ckpt_hook, &cc), done);
  progress prog = {.dt = cfg->sim.dt, .step0 = start, .until = until,
                   .tty = isatty(2) != 0};
  if (rank == 0 && !a.quiet)
    NTW_GOTO(err, ntw_engine_add_hook(eng, NTW_HOOK_AFTER_WINDOW, progress_hook, &prog),
             done);

  prog.t_start_wall = prog.last_print = MPI_Wtime();
  err = ntw_engine_run(eng, until);
  ntw_engine_stats st1;
  ntw_engine_get_stats(eng, &st1);
  const int64_t reached = st1.step; /* < until when stopped by a signal */
  if (!err) err = recorder_flush(&rec, reached + 1);
  if (err) die(err); /* other ranks may be inside a collective */
  if (agree(ntw_spikes_close(&rec.w, true))) goto done;
  if (agree(ntw_weight_recorder_close(&wrec, true))) goto done;
  /* The twin's outputs; an error it stopped the run for on purpose (late
   * policy abort) is reported after everything is written. */
  if (twin) twin_err = ntw_twin_finish(twin, &twin_json);
  if (rank == 0 && cc.signal)
    fprintf(stderr, "ntwin: stopped by signal %d at t = %g ms after a checkpoint\n",
            cc.signal, reached * cfg->sim.dt);
  report_in ri = {&a, cfg, eng, binding, rss_base, start * cfg->sim.dt,
                  reached * cfg->sim.dt, &cc, restore_s, cc.signal, twin_json, part_s,
                  coupling};
  if (agree(report(&ri))) goto done;
  if (agree(twin_err)) goto done;
  rc = 0;
done:
  if (rec.w) ntw_spikes_close(&rec.w, false);
  if (wrec) ntw_weight_recorder_close(&wrec, false);
  ntw_spool_close(&rec.spool, rc == 0); /* kept after a failure, for a post-mortem */
  free(rec.seg_hi.v), free(rec.seg_n.v);
  free(rec.buf);
  free(rec.rec_index);
  ntw_twin_destroy(&twin);
  json_decref(twin_json);
  ntw_engine_destroy(&eng);
  ntw_comm_destroy(&comm);
  ntw_part_destroy(&part);
  ntw_config_destroy(&cfg);
  ntw_ckpt_info_free(&ck);
  if (rc != 0 && out_created) rmdir(a.out); /* only if still empty */
  return rc;
}

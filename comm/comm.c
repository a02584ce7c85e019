/* comm.c - backend registry and the public trampolines. */
#include "comm/comm_impl.h"

#include <stdlib.h>
#include <string.h>

#include "core/ntw_error.h"

static const ntw_comm_ops *const ntw__comm_backends[] = {
    &ntw_comm_mpi_ops,
#ifdef NTW_HAVE_OFI
    &ntw_comm_ofi_ops,
#endif
};
#define NTW_NBACKENDS (sizeof ntw__comm_backends / sizeof *ntw__comm_backends)

int ntw_comm_create(const char *backend, MPI_Comm world, ntw_comm **out) {
  *out = NULL;
  const ntw_comm_ops *ops = NULL;
  for (size_t i = 0; i < NTW_NBACKENDS; i++)
    if (strcmp(ntw__comm_backends[i]->name, backend) == 0)
      ops = ntw__comm_backends[i];
#ifndef NTW_HAVE_OFI
  NTW_CHECK(strcmp(backend, "ofi") != 0, NTW_ERR_NOTSUP,
            "comm ofi: this ntwin was built without libfabric "
            "(install libfabric-dev and reconfigure)");
#endif
  NTW_CHECK(ops, NTW_ERR_ARG, "unknown comm backend '%s' (known: mpi, ofi)",
            backend);
  ntw_comm *c = calloc(1, sizeof *c);
  NTW_ALLOC_CHECK(c);
  c->ops = ops;
  int err = MPI_Comm_dup(world, &c->mpi);
  if (err != MPI_SUCCESS) {
    free(c);
    return NTW_ERR(NTW_ERR_MPI, "MPI_Comm_dup failed (%d)", err);
  }
  MPI_Comm_rank(c->mpi, &c->rank);
  MPI_Comm_size(c->mpi, &c->size);
  err = ops->init(c);
  if (err) {
    MPI_Comm_free(&c->mpi);
    free(c);
    return err;
  }
  *out = c;
  return 0;
}

void ntw_comm_destroy(ntw_comm **pc) {
  if (!pc || !*pc) return;
  ntw_comm *c = *pc;
  c->ops->fini(c);
  MPI_Comm_free(&c->mpi);
  free(c);
  *pc = NULL;
}

const char *ntw_comm_name(const ntw_comm *c) { return c->ops->name; }
int ntw_comm_rank(const ntw_comm *c) { return c->rank; }
int ntw_comm_size(const ntw_comm *c) { return c->size; }
MPI_Comm ntw_comm_mpi(const ntw_comm *c) { return c->mpi; }
double ntw_comm_seconds(const ntw_comm *c) { return c->seconds; }
double ntw_comm_wait_seconds(const ntw_comm *c) { return c->wait_seconds; }
double ntw_comm_post_seconds(const ntw_comm *c) { return c->post_seconds; }
int ntw_comm_pending(const ntw_comm *c) { return c->pending; }
void ntw_comm_wait_hist(const ntw_comm *c, const uint64_t **counts,
                        const double **seconds) {
  *counts = c->wait_n;
  *seconds = c->wait_s;
}

/* A blocked call of dt seconds: totals and its histogram bin. */
static void count_wait(ntw_comm *c, double dt) {
  c->seconds += dt;
  c->wait_seconds += dt;
  int k = 0;
  for (double us = dt * 1e6; us >= 2.0 && k < NTW_COMM_WAIT_BINS - 1; us *= 0.5) k++;
  c->wait_n[k]++;
  c->wait_s[k] += dt;
}
uint64_t ntw_comm_exchanges(const ntw_comm *c) { return c->exchanges; }
uint64_t ntw_comm_keys_sent(const ntw_comm *c) { return c->keys_sent; }
#ifndef NTW_HAVE_OFI
uint64_t ntw_comm_ofi_overflows(const ntw_comm *c) { return 0; }
const char *ntw_comm_ofi_provider(const ntw_comm *c) { return NULL; }
const char *ntw_comm_ofi_progress(const ntw_comm *c) { return NULL; }
#endif

int ntw_comm_exchange(ntw_comm *c, const uint64_t *send, const int *counts,
                      const uint64_t **recv, size_t *nrecv) {
  NTW_CHECK(!c->pending, NTW_ERR_INTERNAL,
            "ntw_comm_exchange while a split exchange is in flight");
  double t0 = MPI_Wtime();
  int err = c->ops->exchange(c, send, counts, recv, nrecv);
  count_wait(c, MPI_Wtime() - t0);
  c->exchanges++;
  for (int r = 0; r < c->size; r++)
    if (r != c->rank) c->keys_sent += (uint64_t)counts[r];
  return err;
}

int ntw_comm_start(ntw_comm *c, const uint64_t *send, const int *counts) {
  NTW_CHECK(!c->pending, NTW_ERR_INTERNAL,
            "ntw_comm_start: an exchange is already in flight");
  double t0 = MPI_Wtime();
  int err = c->ops->start(c, send, counts);
  double dt = MPI_Wtime() - t0;
  c->seconds += dt;
  c->post_seconds += dt;
  if (err) return err;
  c->pending = 1;
  c->exchanges++;
  for (int r = 0; r < c->size; r++)
    if (r != c->rank) c->keys_sent += (uint64_t)counts[r];
  return 0;
}

int ntw_comm_progress(ntw_comm *c) {
  if (!c->pending) return 0;
  double t0 = MPI_Wtime();
  int err = c->ops->progress(c);
  double dt = MPI_Wtime() - t0;
  c->seconds += dt;
  c->post_seconds += dt;
  return err;
}

int ntw_comm_wait(ntw_comm *c, const uint64_t **recv, size_t *nrecv) {
  NTW_CHECK(c->pending, NTW_ERR_INTERNAL, "ntw_comm_wait: no exchange in flight");
  double t0 = MPI_Wtime();
  int err = c->ops->wait(c, recv, nrecv);
  count_wait(c, MPI_Wtime() - t0);
  c->pending = 0;
  return err;
}

int ntw_comm_start_blocking(ntw_comm *c, const uint64_t *send, const int *counts) {
  return c->ops->exchange(c, send, counts, &c->held_recv, &c->held_n);
}

int ntw_comm_progress_none(ntw_comm *c) {
  (void)c;
  return 0;
}

int ntw_comm_wait_blocking(ntw_comm *c, const uint64_t **recv, size_t *nrecv) {
  *recv = c->held_recv;
  *nrecv = c->held_n;
  return 0;
}

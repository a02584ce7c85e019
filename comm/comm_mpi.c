/* comm_mpi.c - spike exchange on MPI collectives.
 *
 * One window = MPI_Alltoall of the counts, then MPI_Alltoallv of the keys.
 * Buffers grow geometrically and are kept, so the steady state allocates
 * nothing. The counts round also synchronises the ranks once per window,
 * which is the conservative (Chandy-Misra) step: no rank can run ahead of a
 * window whose spikes it has not received. */
#include <stdlib.h>
#include <string.h>

#include "comm/comm_impl.h"
#include "core/ntw_error.h"

typedef struct {
  int *rcounts, *sdispls, *rdispls;
  uint64_t *rbuf;
  size_t rcap;
} mpi_state;

static int mpi_init(ntw_comm *c) {
  mpi_state *s = calloc(1, sizeof *s);
  NTW_ALLOC_CHECK(s);
  s->rcounts = calloc((size_t)c->size, sizeof(int));
  s->sdispls = calloc((size_t)c->size, sizeof(int));
  s->rdispls = calloc((size_t)c->size, sizeof(int));
  if (!s->rcounts || !s->sdispls || !s->rdispls) {
    free(s->rcounts), free(s->sdispls), free(s->rdispls), free(s);
    return NTW_ERR(NTW_ERR_NOMEM, "out of memory for comm buffers");
  }
  c->data = s;
  return 0;
}

static void mpi_fini(ntw_comm *c) {
  mpi_state *s = c->data;
  if (!s) return;
  free(s->rcounts), free(s->sdispls), free(s->rdispls), free(s->rbuf);
  free(s);
  c->data = NULL;
}

static int mpi_exchange(ntw_comm *c, const uint64_t *send, const int *counts,
                        const uint64_t **recv, size_t *nrecv) {
  mpi_state *s = c->data;
  NTW_MPI_CHECK(MPI_Alltoall(counts, 1, MPI_INT, s->rcounts, 1, MPI_INT,
                             c->mpi));
  size_t total = 0;
  int sd = 0;
  for (int r = 0; r < c->size; r++) {
    s->sdispls[r] = sd;
    sd += counts[r];
    NTW_CHECK(total + (size_t)s->rcounts[r] < (size_t)1 << 31, NTW_ERR_MPI,
              "more than 2^31 spikes in one window");
    s->rdispls[r] = (int)total;
    total += (size_t)s->rcounts[r];
  }
  if (total > s->rcap) {
    size_t cap = s->rcap ? s->rcap : 1024;
    while (cap < total) cap *= 2;
    uint64_t *nb = realloc(s->rbuf, cap * sizeof *nb);
    NTW_ALLOC_CHECK(nb);
    s->rbuf = nb;
    s->rcap = cap;
  }
  NTW_MPI_CHECK(MPI_Alltoallv(send, counts, s->sdispls, MPI_UINT64_T,
                              s->rbuf, s->rcounts, s->rdispls, MPI_UINT64_T,
                              c->mpi));
  *recv = s->rbuf;
  *nrecv = total;
  return 0;
}

const ntw_comm_ops ntw_comm_mpi_ops = {
    .size = sizeof(ntw_comm_ops),
    .name = "mpi",
    .init = mpi_init,
    .exchange = mpi_exchange,
    .fini = mpi_fini,
};

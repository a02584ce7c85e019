/* comm_mpi.c - spike exchange on MPI collectives.
 *
 * One window = MPI_Alltoall of the counts, then MPI_Alltoallv of the keys.
 * Buffers grow geometrically and are kept, so the steady state allocates
 * nothing. The counts round also synchronises the ranks once per window,
 * which is the conservative (Chandy-Misra) step: no rank can run ahead of a
 * window whose spikes it has not received.
 *
 * The split exchange (start/wait, the engine's overlap mode) uses point-to-
 * point messages instead: start posts one MPI_Isend per peer (empty ones
 * too, so the receiver knows the exchange is complete) and returns; wait
 * matches one message per peer with MPI_Mprobe, learns its size from the
 * status and receives it with MPI_Mrecv. There is no counts round, so no
 * step needs the peer to act after its start: a rank that is late only
 * delays the ranks that actually wait for its keys, and small (eager)
 * messages are complete the moment they are posted. (A non-blocking
 * Ialltoall of counts chained to an Ialltoallv would need every rank to
 * post the second half from its compute loop once the counts have arrived.)
 * Messages of one peer arrive in posting order (MPI's non-overtaking rule),
 * so one tag serves every exchange even when a peer is one exchange ahead. */
#include <stdlib.h>
#include <string.h>

#include "comm/comm_impl.h"
#include "core/ntw_error.h"

#define NTW_MPI_TAG_SPLIT 7

typedef struct {
  int *rcounts, *sdispls, *rdispls;
  uint64_t *rbuf;
  size_t rcap;
  /* split exchange in flight */
  MPI_Request *sreq; /* [peer] */
  MPI_Message *msg;  /* [peer] */
  const uint64_t *self_keys;
  int self_n;
} mpi_state;

static int mpi_init(ntw_comm *c) {
  mpi_state *s = calloc(1, sizeof *s);
  NTW_ALLOC_CHECK(s);
  s->rcounts = calloc((size_t)c->size, sizeof(int));
  s->sdispls = calloc((size_t)c->size, sizeof(int));
  s->rdispls = calloc((size_t)c->size, sizeof(int));
  s->sreq = malloc((size_t)c->size * sizeof *s->sreq);
  s->msg = malloc((size_t)c->size * sizeof *s->msg);
  if (!s->rcounts || !s->sdispls || !s->rdispls || !s->sreq || !s->msg) {
    free(s->rcounts), free(s->sdispls), free(s->rdispls), free(s->sreq);
    free(s->msg), free(s);
    return NTW_ERR(NTW_ERR_NOMEM, "out of memory for comm buffers");
  }
  for (int r = 0; r < c->size; r++) s->sreq[r] = MPI_REQUEST_NULL;
  c->data = s;
  return 0;
}

static void mpi_fini(ntw_comm *c) {
  mpi_state *s = c->data;
  if (!s) return;
  /* A split exchange abandoned by an error: let its sends finish on their
   * own rather than wait for peers that may be gone. */
  for (int r = 0; r < c->size; r++)
    if (s->sreq[r] != MPI_REQUEST_NULL) MPI_Request_free(&s->sreq[r]);
  free(s->rcounts), free(s->sdispls), free(s->rdispls), free(s->rbuf);
  free(s->sreq), free(s->msg);
  free(s);
  c->data = NULL;
}

static int grow_rbuf(mpi_state *s, size_t total) {
  if (total <= s->rcap) return 0;
  size_t cap = s->rcap ? s->rcap : 1024;
  while (cap < total) cap *= 2;
  uint64_t *nb = realloc(s->rbuf, cap * sizeof *nb);
  NTW_ALLOC_CHECK(nb);
  s->rbuf = nb;
  s->rcap = cap;
  return 0;
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
  NTW_TRY(grow_rbuf(s, total));
  NTW_MPI_CHECK(MPI_Alltoallv(send, counts, s->sdispls, MPI_UINT64_T,
                              s->rbuf, s->rcounts, s->rdispls, MPI_UINT64_T,
                              c->mpi));
  *recv = s->rbuf;
  *nrecv = total;
  return 0;
}

static int mpi_start(ntw_comm *c, const uint64_t *send, const int *counts) {
  mpi_state *s = c->data;
  const int P = c->size, me = c->rank;
  int off = 0;
  for (int r = 0; r < P; r++) {
    NTW_CHECK(counts[r] >= 0, NTW_ERR_ARG, "comm mpi: negative count for rank %d", r);
    s->sdispls[r] = off;
    off += counts[r];
  }
  s->self_keys = send + s->sdispls[me];
  s->self_n = counts[me];
  /* Start after ourselves, so that not every rank hits rank 0 first. */
  for (int k = 1; k < P; k++) {
    int p = (me + k) % P;
    NTW_MPI_CHECK(MPI_Isend(send + s->sdispls[p], counts[p], MPI_UINT64_T, p,
                            NTW_MPI_TAG_SPLIT, c->mpi, &s->sreq[p]));
  }
  return 0;
}

/* Large (rendezvous) sends move only while the sender calls MPI. */
static int mpi_progress(ntw_comm *c) {
  mpi_state *s = c->data;
  int done;
  NTW_MPI_CHECK(MPI_Testall(c->size, s->sreq, &done, MPI_STATUSES_IGNORE));
  return 0;
}

static int mpi_wait(ntw_comm *c, const uint64_t **recv, size_t *nrecv) {
  mpi_state *s = c->data;
  const int P = c->size, me = c->rank;
  size_t total = 0;
  for (int r = 0; r < P; r++) {
    int n = s->self_n;
    s->msg[r] = MPI_MESSAGE_NULL;
    if (r != me) {
      MPI_Status st;
      NTW_MPI_CHECK(MPI_Mprobe(r, NTW_MPI_TAG_SPLIT, c->mpi, &s->msg[r], &st));
      NTW_MPI_CHECK(MPI_Get_count(&st, MPI_UINT64_T, &n));
    }
    NTW_CHECK(total + (size_t)n < (size_t)1 << 31, NTW_ERR_MPI,
              "more than 2^31 spikes in one window");
    s->rcounts[r] = n;
    s->rdispls[r] = (int)total;
    total += (size_t)n;
  }
  NTW_TRY(grow_rbuf(s, total));
  for (int r = 0; r < P; r++) {
    if (r == me) {
      if (s->self_n)
        memcpy(s->rbuf + s->rdispls[r], s->self_keys, (size_t)s->self_n * sizeof *s->rbuf);
      continue;
    }
    NTW_MPI_CHECK(MPI_Mrecv(s->rbuf + s->rdispls[r], s->rcounts[r], MPI_UINT64_T,
                            &s->msg[r], MPI_STATUS_IGNORE));
  }
  /* The caller may reuse its send buffer after we return. */
  NTW_MPI_CHECK(MPI_Waitall(P, s->sreq, MPI_STATUSES_IGNORE));
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
    .start = mpi_start,
    .progress = mpi_progress,
    .wait = mpi_wait,
};

/* comm_impl.h - private to comm/: the backend ops table. */
#ifndef NTW_COMM_IMPL_H
#define NTW_COMM_IMPL_H

#include "comm/comm.h"

typedef struct {
  size_t size; /* sizeof(ntw_comm_ops): lets the table grow compatibly */
  const char *name;
  int (*init)(ntw_comm *c);
  int (*exchange)(ntw_comm *c, const uint64_t *send, const int *counts,
                  const uint64_t **recv, size_t *nrecv);
  void (*fini)(ntw_comm *c);
  /* The split exchange (see comm.h); never NULL: a backend without a
   * non-blocking path can use ntw_comm_start_blocking & co., which run the
   * whole exchange in start and hand its result out in wait. */
  int (*start)(ntw_comm *c, const uint64_t *send, const int *counts);
  int (*progress)(ntw_comm *c);
  int (*wait)(ntw_comm *c, const uint64_t **recv, size_t *nrecv);
} ntw_comm_ops;

struct ntw_comm {
  const ntw_comm_ops *ops;
  MPI_Comm mpi; /* a duplicate of the world communicator: our own tag space */
  int rank, size;
  double seconds, wait_seconds, post_seconds;
  uint64_t wait_n[NTW_COMM_WAIT_BINS]; /* see ntw_comm_wait_hist */
  double wait_s[NTW_COMM_WAIT_BINS];
  uint64_t exchanges, keys_sent;
  int pending; /* a split exchange is in flight */
  /* ntw_comm_start_blocking: the result kept for wait */
  const uint64_t *held_recv;
  size_t held_n;
  void *data; /* backend state */
};

extern const ntw_comm_ops ntw_comm_mpi_ops;

/* Fallback split exchange for backends without a non-blocking path: start
 * runs the blocking exchange, progress does nothing, wait returns what
 * start received (valid until the next exchange, as usual). */
int ntw_comm_start_blocking(ntw_comm *c, const uint64_t *send, const int *counts);
int ntw_comm_progress_none(ntw_comm *c);
int ntw_comm_wait_blocking(ntw_comm *c, const uint64_t **recv, size_t *nrecv);
#ifdef NTW_HAVE_OFI
extern const ntw_comm_ops ntw_comm_ofi_ops;
#endif

/* ofi only (0 for other backends or without libfabric): how many messages
 * did not fit the receiver's pre-posted slot and came as a second part.
 * For tests of the overflow path. */
uint64_t ntw_comm_ofi_overflows(const ntw_comm *c);

#endif

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
} ntw_comm_ops;

struct ntw_comm {
  const ntw_comm_ops *ops;
  MPI_Comm mpi; /* a duplicate of the world communicator: our own tag space */
  int rank, size;
  double seconds;
  uint64_t exchanges, keys_sent;
  void *data; /* backend state */
};

extern const ntw_comm_ops ntw_comm_mpi_ops;
#ifdef NTW_HAVE_OFI
extern const ntw_comm_ops ntw_comm_ofi_ops;
#endif

/* ofi only (0 for other backends or without libfabric): how many messages
 * did not fit the receiver's pre-posted slot and came as a second part.
 * For tests of the overflow path. */
uint64_t ntw_comm_ofi_overflows(const ntw_comm *c);

#endif

/* comm/comm.h - the spike exchange, one interface, several backends.
 *
 * Once per min-delay window every rank sends each of its spikes to the ranks
 * that hold targets of the spiking neuron. A spike travels as one uint64 key
 * (see ntw_spike_key in src/engine.h); comm never looks inside it.
 * Backends fill an ops table and are chosen by name ("mpi"; "ofi" later).
 * comm knows no files, no neurons and no biology.
 */
#ifndef NTW_COMM_H
#define NTW_COMM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ntw_comm ntw_comm;

/* Collective over world. Unknown backend: NTW_ERR_ARG listing the known. */
int ntw_comm_create(const char *backend, MPI_Comm world, ntw_comm **out);
/* Collective. NULL-safe; sets *c = NULL. */
void ntw_comm_destroy(ntw_comm **c);

const char *ntw_comm_name(const ntw_comm *c);
int ntw_comm_rank(const ntw_comm *c);
int ntw_comm_size(const ntw_comm *c);
MPI_Comm ntw_comm_mpi(const ntw_comm *c);

/* Collective. send holds the keys for rank 0, then rank 1, ...; counts[r]
 * keys go to rank r (counts has ntw_comm_size entries; the entry for this
 * rank is delivered locally). On return *recv points to all keys received,
 * grouped by source rank in rank order, valid until the next exchange;
 * *nrecv is their number. */
int ntw_comm_exchange(ntw_comm *c, const uint64_t *send, const int *counts,
                      const uint64_t **recv, size_t *nrecv);

/* Wall seconds spent inside exchanges so far (includes waiting for the
 * slowest rank, which is where load imbalance shows). */
double ntw_comm_seconds(const ntw_comm *c);
/* Number of exchanges and keys sent by this rank so far. */
uint64_t ntw_comm_exchanges(const ntw_comm *c);
uint64_t ntw_comm_keys_sent(const ntw_comm *c);

#endif

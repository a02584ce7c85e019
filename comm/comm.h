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

/* The same exchange split in two, so that computation can run while the
 * keys travel (the engine's overlap mode). At most one split exchange is in
 * flight per ntw_comm; ntw_comm_exchange must not be called meanwhile.
 *
 * ntw_comm_start: collective in the sense that every rank must start the
 * same sequence of exchanges; it never blocks on other ranks. `send` and
 * `counts` as for ntw_comm_exchange; both must stay valid and unchanged
 * until ntw_comm_wait returns (backends may send from them in place). */
int ntw_comm_start(ntw_comm *c, const uint64_t *send, const int *counts);
/* Not collective, never blocks: lets the backend move the exchange in
 * flight along (cheap; call it now and then while computing). No-op when
 * nothing is in flight. */
int ntw_comm_progress(ntw_comm *c);
/* Completes the exchange in flight; results as for ntw_comm_exchange. It
 * returns once every rank's keys for this rank have arrived, which needs
 * only that the other ranks have started this exchange and keep calling
 * the comm or MPI (every rank must eventually wait for it). */
int ntw_comm_wait(ntw_comm *c, const uint64_t **recv, size_t *nrecv);
/* Is a split exchange in flight? */
int ntw_comm_pending(const ntw_comm *c);

/* Wall seconds spent inside exchanges so far (includes waiting for the
 * slowest rank, which is where load imbalance shows): blocking exchanges,
 * starts, progress calls and waits. */
double ntw_comm_seconds(const ntw_comm *c);
/* Of those: seconds blocked (ntw_comm_exchange and ntw_comm_wait), and
 * seconds posting (ntw_comm_start and ntw_comm_progress). */
double ntw_comm_wait_seconds(const ntw_comm *c);
double ntw_comm_post_seconds(const ntw_comm *c);
/* The blocked calls by duration: bin 0 counts those under 2 us, bin k
 * (1 <= k < NTW_COMM_WAIT_BINS - 1) those in [2^k, 2^(k+1)) us, the last
 * bin all longer ones; counts[k] calls, seconds[k] their summed time. How
 * the wait splits into short waits (jitter that overlap can hide behind an
 * epoch of computation) and long stalls (a rank held up for longer than an
 * epoch, which no overlap inside a window can hide). Arrays owned by c. */
#define NTW_COMM_WAIT_BINS 24
void ntw_comm_wait_hist(const ntw_comm *c, const uint64_t **counts,
                        const double **seconds);
/* ofi only (NULL for other backends): the libfabric provider in use, e.g.
 * "tcp;ofi_rxm", and its data progress model, "manual" or "auto". */
const char *ntw_comm_ofi_provider(const ntw_comm *c);
const char *ntw_comm_ofi_progress(const ntw_comm *c);

/* Number of exchanges and keys sent by this rank so far. */
uint64_t ntw_comm_exchanges(const ntw_comm *c);
uint64_t ntw_comm_keys_sent(const ntw_comm *c);

#endif

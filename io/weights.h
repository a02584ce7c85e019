/* io/weights.h - synaptic weight recording, written collectively with
 * parallel HDF5 into one file (layout in io/README.md):
 *   /projections/<K>/source   uint64 [M]   source gid
 *   /projections/<K>/target   uint64 [M]   target gid
 *   /projections/<K>/delay    float64 [M]  ms
 *   /projections/<K>/times    float64 [T]  ms, extendible
 *   /projections/<K>/weights  float32 [T][M], extendible in T
 * Synapses are sorted by (target gid, source gid, the order the caller gave
 * them in), so the file is byte-for-byte the same for any number of ranks
 * and any partition as long as each target's synapses are given by one rank
 * in a partition-independent order (the engine's stored order is).
 *
 * Like the spike report, the file is written under "<path>.tmp" and renamed
 * only by ntw_weights_close(..., commit=true).
 *
 * Each rank passes the synapses it holds; the writer assigns each synapse
 * its place in the global order once (per-target counts, prefix sums) and
 * from then on sends each record's weights to the rank owning that slice of
 * the file (a block distribution), which writes a contiguous hyperslab.
 */
#ifndef NTW_IO_WEIGHTS_H
#define NTW_IO_WEIGHTS_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One recorded projection: its identity and this rank's synapses. */
typedef struct {
  int proj;             /* group name /projections/<proj> */
  const char *source;   /* attribute source_population */
  const char *target;   /* attribute target_population */
  const char *synapse;  /* attribute synapse_model */
  uint64_t tgt_first;   /* every target gid lies in [tgt_first, +tgt_n) */
  uint64_t tgt_n;
  uint64_t sample;      /* keep the first `sample` in file order (UINT64_MAX: all) */
  size_t n;             /* synapses on this rank, in the order of every append */
  const uint64_t *src, *tgt;
  const double *delay;  /* ms */
} ntw_weight_set;

typedef struct ntw_weight_writer ntw_weight_writer;

/* Collective. Creates "<path>.tmp" with one group per set (sets must be the
 * same on all ranks except for n/src/tgt/delay) and writes the fixed
 * datasets. The arrays are copied as needed; the caller keeps them. Errors
 * name the path. Temporary memory: tgt_n counters per set. */
int ntw_weights_open(MPI_Comm comm, const char *path, size_t nsets,
                     const ntw_weight_set *sets, ntw_weight_writer **out);

/* Collective. Appends one record of set `set` at time t_ms (set and t_ms
 * the same on all ranks): `weights` holds the set's n local weights in the
 * order given at open. Sets are recorded independently (own times). */
int ntw_weights_append(ntw_weight_writer *w, size_t set, double t_ms,
                       const float *weights);

/* Synapses recorded for a set (M, the same on all ranks); its records. */
uint64_t ntw_weights_count(const ntw_weight_writer *w, size_t set);
uint64_t ntw_weights_records(const ntw_weight_writer *w, size_t set);

/* Collective. Closes; with commit=true renames "<path>.tmp" to <path>,
 * otherwise removes the temporary. NULL-safe; sets *w = NULL. */
int ntw_weights_close(ntw_weight_writer **w, bool commit);

#endif

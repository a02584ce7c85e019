/* io/spikes.h - SONATA spike report, written collectively with parallel HDF5.
 *
 * One file for the whole run, whatever the number of ranks:
 *   /  attributes magic = 0x0A7A (uint32), version = [0, 1] (uint32[2])
 *   /spikes/<population>/timestamps  float64, attribute units = "ms"
 *   /spikes/<population>/node_ids    uint64 (id within the population)
 *   /spikes/<population>              attribute sorting = "by_time"
 * Spikes are sorted by (time, node_id), so the file is byte-for-byte the same
 * for any number of ranks and any partition.
 *
 * The report is written under "<path>.tmp" and renamed to <path> only by a
 * successful ntw_spikes_close(..., commit=true): a failed or killed run never
 * leaves a file that looks valid, and never damages an earlier <path>.
 *
 * Appends are collective and come in time order: each append covers the
 * steps [step_lo, step_hi), the previous append ended at step_lo, and each
 * rank passes the spikes it recorded in that range. Ranks may pass different
 * counts (also zero). The writer sorts across ranks (by time bins, all-to-all,
 * local sort) and writes each rank's contiguous slice collectively.
 */
#ifndef NTW_IO_SPIKES_H
#define NTW_IO_SPIKES_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t node_id; /* id within its population (0-based) */
  int64_t step;     /* spike time = step * dt (ms) */
  uint32_t pop;     /* index into the writer's population list */
  uint32_t pad_;
} ntw_spike;

typedef struct ntw_spike_writer ntw_spike_writer;

/* Collective. Creates "<path>.tmp" with an empty, extendible pair of datasets
 * per population (names in order; pop indices in ntw_spike refer to it).
 * dt in ms converts steps to timestamps. Errors name the path. */
int ntw_spikes_open(MPI_Comm comm, const char *path, size_t npops,
                    const char *const *pop_names, double dt,
                    ntw_spike_writer **out);

/* Collective. Appends this rank's spikes with step in [step_lo, step_hi).
 * The array may be reordered in place. */
int ntw_spikes_append(ntw_spike_writer *w, ntw_spike *spikes, size_t n,
                      int64_t step_lo, int64_t step_hi);

/* Number of spikes written so far for population `pop` (same on all ranks). */
uint64_t ntw_spikes_count(const ntw_spike_writer *w, size_t pop);

/* Collective. Closes the file; with commit=true renames "<path>.tmp" to
 * <path> (rank 0, after all ranks closed), otherwise removes the temporary.
 * NULL-safe; sets *w = NULL. */
int ntw_spikes_close(ntw_spike_writer **w, bool commit);

#endif

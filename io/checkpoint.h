/* io/checkpoint.h - partitioned HDF5 checkpoints: save the whole state,
 * restore on any number of ranks and any partition, continue bit for bit.
 *
 * One file, written collectively with parallel HDF5. Every array is indexed
 * by global neuron id or sorted by (target gid, source gid, occurrence), so
 * the file does not depend on the writer's decomposition and a collaborator
 * can read it with h5py:
 *
 *   /  attributes: format = "ntwin-checkpoint", format_version = 1,
 *      ntwin_version, step (int64), t_ms, dt_ms, seed, n_neurons,
 *      ranks_written, partition_written, ring_slots, ring_ports
 *   /config                       the JSON config text (string)
 *   /neurons/<pop>/<state var>    float64 [size]  model state, internal
 *                                 representation (e.g. V_rel = V_m - E_L)
 *   /ring                         float64 [n_neurons, ring_ports*ring_slots]
 *                                 input already delivered for steps
 *                                 step .. step+ring_slots-1 (spikes in flight)
 *   /synapses/<proj>/{source, target (uint64 gid), weight (float32),
 *                     delay_ms (float32), occurrence (uint32)}
 *                                 every synapse of plastic projection <proj>,
 *                                 sorted by (target, source, occurrence)
 *   /synapses/<proj>/pre/{kplus, u, x (float64), t_last (int64)}
 *                                 per source neuron of the projection
 *   /post/<pop>/{gid (uint64), t (int64 step), K (float64), reads (uint32)}
 *                                 STDP post-spike histories, by (gid, age)
 *   /stimuli/noise_<k>_I          float64 [target size]: the OU current of
 *                                 noise stimulus k (config index), pA
 * Static synapses are not stored: the same config and seed rebuild them
 * exactly. Random numbers are counter-based (keyed by gid and step), so the
 * step is all a generator needs to continue.
 * Every dataset carries an attribute `checksum` (a position-keyed 64-bit
 * hash of its contents: the sum over elements i of
 * mix(mix(i) ^ bits(element i)), so any split of the rows sums to it)
 * verified on restore; datasets are contiguous, not chunked with Fletcher32
 * (see checkpoint.c). The file is written as "<path>.tmp" and renamed only
 * when complete, closed and fsync'ed.
 *
 * Writing and restoring need memory of their own beyond the network: about
 * 8 bytes per neuron of a plastic projection's target population, per
 * source neuron and per local target, plus fixed rounds of synapse records
 * (~7 MB on write, ~11 MB on restore, twice that with more than one rank
 * and the round_robin partition), plus the per-neuron arrays (the ring:
 * 8 bytes x ring_ports x ring_slots per local neuron).
 */
#ifndef NTW_IO_CHECKPOINT_H
#define NTW_IO_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

#define NTW_CKPT_FORMAT "ntwin-checkpoint"
#define NTW_CKPT_VERSION 1

/* Collective. Writes the engine's state at its current step (a window
 * boundary). Errors name the path. */
int ntw_checkpoint_write(ntw_engine *e, const char *path);

typedef struct {
  int64_t step;
  double t_ms, dt_ms;
  uint64_t seed, n_neurons;
  int ranks_written;
  char partition_written[64];
  char ntwin_version[32];
  char *config_text; /* malloc'd */
} ntw_ckpt_info;

/* Collective (all ranks get the same). Opens path, checks the format and
 * version, and reads the metadata and config text. A missing, truncated,
 * foreign or wrong-version file gives one message naming the path. */
int ntw_checkpoint_info(const char *path, ntw_ckpt_info *info);
void ntw_ckpt_info_free(ntw_ckpt_info *info);

/* Collective. Loads the state into an engine freshly built from the same
 * config (any number of ranks, any partition) and sets its step. Verifies
 * checksums and that the network has the checkpoint's shape. */
int ntw_checkpoint_restore(ntw_engine *e, const char *path);

#endif

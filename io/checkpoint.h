/* io/checkpoint.h - partitioned HDF5 checkpoints: save the whole state,
 * restore on any number of ranks and any partition, continue bit for bit.
 *
 * One file, written collectively with parallel HDF5. Every array is indexed
 * by global neuron id or sorted by (target gid, source gid, occurrence), so
 * the file does not depend on the writer's decomposition and a collaborator
 * can read it with h5py:
 *
 *   /  attributes: format = "ntwin-checkpoint", format_version = 1,
 *      format_minor = 1,
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
 *   /forced/{gid (uint64), stamp (int64)}
 *                                 spikes forced at run time
 *                                 (ntw_engine_force_spikes) and not yet
 *                                 emitted: stamp = spike time in steps
 *                                 (> step), sorted by (stamp, gid)
 *   /twin                         only in checkpoints of twin runs: rank
 *                                 0's twin state at the same boundary
 *                                 (src/twin.c), attributes regime, source
 *                                 ("file" | "link"), twin_state_version "1":
 *     step (int64 [1]), channels (uint32 [1])   identity, checked on restore
 *     W, W_applied (float32 [npop, npop])       W[k][j] of the assimilated
 *                                 projection mirror j -> predict k: as
 *                                 assimilated, and as the synapses hold it
 *                                 (they differ when an update is not pushed
 *                                 yet; the projection is static, so its
 *                                 synapses are rebuilt and get W_applied)
 *     dW (float64 [nch, nch]), xs (float64 [nch]), xs_t, xs_next
 *                                 ReSuMe: the change since the last push, the
 *                                 recorded-spike traces at stamp xs_t, the
 *                                 first carried recorded spike not in them
 *     bio_{channel, stamp, t_us}, pred_{channel, stamp}
 *                                 recorded / predicted spikes still needed
 *                                 (by the traces, by the open fidelity
 *                                 interval [fid_lo, fid_next)); fid_bio_from,
 *                                 fid_pred_from index them
 *     pending_{channel, t_us}     events received for later windows
 *     stim_force_{channel, stamp} stimulation pulses not yet forced
 *     act_ring (int64 [horizon windows]), act_pos, act_sum, act_mean,
 *     last_stim_ms, next_periodic_ms          the stimulation policy
 *     w_next, w_push, fid_lo, fid_next, B0, rec_next, and the counters
 *     late, shifted, before_start, injected, predicted, misses, windows,
 *     stims_sent, stims_dropped, shams, stim_forced, stim_force_missed
 *                                 (scalars: one-element datasets, int64,
 *                                 uint64 or float64, named as in twin.c)
 *   Not saved (wall-clock): the lag and latency samples, the clock fit to
 *   the biology's heartbeats, the link itself; the hybrid time is anchored
 *   again at the restored run's first window.
 * Format minor 1 (root attribute `format_minor`; absent = 0) added /forced
 * and /twin. format_version stays 1: a minor-0 file restores as before (no
 * run-time forced spikes pending, twin state not saved: a twin resumes
 * without it and says so on stderr), and a run without a twin ignores
 * /twin. Readers of minor 0 (h5py, tests/ckpt_compare.py) read minor 1.
 * Static synapses are not stored: the same config and seed rebuild them
 * exactly (the twin's assimilated ones get /twin/W_applied). Random numbers
 * are counter-based (keyed by gid and step), so the step is all a
 * generator needs to continue.
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

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

#define NTW_CKPT_FORMAT "ntwin-checkpoint"
#define NTW_CKPT_VERSION 1
#define NTW_CKPT_MINOR 1

/* Collective. Writes the engine's state at its current step (a window
 * boundary). Errors name the path. */
int ntw_checkpoint_write(ntw_engine *e, const char *path);

/* ---- state kept by rank 0 beside the engine's (the twin's) ----
 * A group of small datasets in the same file, each with the `checksum`
 * attribute of every other dataset. Element types: */
typedef enum {
  NTW_CKPT_U8, NTW_CKPT_U32, NTW_CKPT_I64, NTW_CKPT_U64, NTW_CKPT_F32, NTW_CKPT_F64
} ntw_ckpt_type;

typedef struct ntw_ckpt_out ntw_ckpt_out;
/* Called collectively inside ntw_checkpoint_write_ext, after the engine's
 * state is written and before the file is closed, fsync'ed and renamed. */
typedef int (*ntw_ckpt_save_fn)(ntw_ckpt_out *o, void *ctx);

/* Collective. ntw_checkpoint_write plus group `group` (e.g. "twin") filled
 * by save(o, ctx). An error of save leaves no file, like any other. */
int ntw_checkpoint_write_ext(ntw_engine *e, const char *path, const char *group,
                             ntw_ckpt_save_fn save, void *ctx);

/* Inside a save function; collective: every rank calls it with the same
 * names in the same order. Writes dataset /<group>/<name>, rows x cols
 * elements of type t (cols 1: one-dimensional) from rank 0's data; rows,
 * cols and data matter on rank 0 only. Errors are the same on every rank. */
int ntw_ckpt_put(ntw_ckpt_out *o, const char *name, ntw_ckpt_type t,
                 uint64_t rows, uint64_t cols, const void *data);
/* The same for a string attribute of the group (rank 0's value). */
int ntw_ckpt_put_attr(ntw_ckpt_out *o, const char *name, const char *value);

typedef struct ntw_ckpt_in ntw_ckpt_in;
/* Collective on comm. Opens the checkpoint (format checked as on restore)
 * and its group `group`; *in = NULL, and 0 returned, when the file has no
 * such group (a checkpoint of a run without it, or of format minor 0). */
int ntw_ckpt_in_open(const char *path, MPI_Comm comm, const char *group,
                     ntw_ckpt_in **in);
/* Collective. Dataset /<group>/<name> converted to type t: every rank gets
 * rows and cols, rank 0 the data (malloc'd, at least one element; others
 * NULL). Verifies the checksum: a mismatch or a missing dataset is one
 * error naming the file and the dataset, the same on every rank. */
int ntw_ckpt_get(ntw_ckpt_in *in, const char *name, ntw_ckpt_type t,
                 uint64_t *rows, uint64_t *cols, void **data);
/* A string attribute of the group; "" if absent. Every rank. */
void ntw_ckpt_get_attr(ntw_ckpt_in *in, const char *name, char *buf, size_t cap);
void ntw_ckpt_in_close(ntw_ckpt_in **in);

typedef struct {
  int64_t step;
  double t_ms, dt_ms;
  uint64_t seed, n_neurons;
  int ranks_written;
  char partition_written[64];
  char ntwin_version[32];
  int format_minor; /* 0 when the attribute is absent */
  bool has_twin;    /* the file holds /twin (a twin's state) */
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

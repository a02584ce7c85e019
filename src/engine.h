/* engine.h - the distributed spiking engine.
 *
 * Build: every rank constructs only the incoming synapses of its own neurons,
 * drawing connectivity from counter-based random numbers keyed by global ids,
 * so it gets exactly the synapses it would own on one rank, without
 * communication. Synapses are stored by source (CSR): for each source gid, a
 * contiguous run of (target local index, weight, delay).
 *
 * Run: time advances in windows of D steps, D = the network's minimum delay
 * in steps (lookahead). A neuron that crosses threshold in step s emits a
 * spike stamped (s+1)*dt; with delay d steps it reaches its target in step
 * s+d, i.e. the target's potential at (s+1+d)*dt. Since d >= D, spikes of a
 * window [t0, t0+D) arrive at or after t0+D: after one exchange per window,
 * no spike is ever delivered into a window already executed.
 * Determinism: received spikes are delivered in (step, gid) order and all
 * random numbers are keyed by global ids and steps, so results are
 * bit-identical for any number of ranks and any partition.
 *
 * Overlap (simulation.overlap, D >= 2): each window is computed as two
 * epochs, [t0, t0 + ceil(D/2)) and the rest; an epoch's spikes are sent
 * without blocking and travel while the next epoch is computed, then they
 * are delivered, before the epoch after that starts (any two consecutive
 * epochs span at most D steps, so no spike arrives late). Deliveries keep
 * the same (step, gid) order and happen before each slot's Poisson input
 * is added, so spikes, weights and checkpoints are bit-identical with and
 * without overlap. With D = 1 the engine falls back to the blocking
 * exchange.
 *
 * Hooks run on every rank before and after each window, in registration
 * order; the twin coupling and the recorders plug in there, so the engine
 * knows nothing of files or biology. Windows (and so hook calls) are the
 * same with and without overlap. At an AFTER_WINDOW hook every step of the
 * window has been executed and its spikes emitted (ntw_engine_window_spikes),
 * but under overlap the spikes of the window's second epoch may still be in
 * flight (not yet in the ring or the plastic weights); the same holds at the
 * next BEFORE_WINDOW hook. A hook that reads or changes synapses or the
 * spikes in flight (checkpoints, weight records, weight changes) calls
 * ntw_engine_drain first; ntw_engine_map_weights does it itself.
 */
#ifndef NTW_ENGINE_H
#define NTW_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"
#include "io/config.h"
#include "partition/partition.h"

typedef struct ntw_engine ntw_engine;

/* Poisson stimuli (add_poisson in engine.c): a device with per-step mean
 * lambda = rate * dt draws the counts of aligned blocks of
 * NTW_POISSON_BLOCK steps at once when NTW_POISSON_BLOCK * lambda <=
 * NTW_POISSON_BLOCK_MAX_MEAN (lambda <= 2.5), else each step's count by
 * itself. Above that mean the block method needs more Philox calls than
 * the per-step one saves (measured break-even near 48). Which method a
 * device uses is part of what its draws are (tests/test_poisson.c
 * reproduces them). */
#define NTW_POISSON_BLOCK 16
#define NTW_POISSON_BLOCK_MAX_MEAN 40.0

typedef enum { NTW_HOOK_BEFORE_WINDOW = 0, NTW_HOOK_AFTER_WINDOW } ntw_hook_kind;

/* A window covers steps [step_lo, step_hi). Returning non-zero stops the run
 * with that error (the hook must have recorded a message). */
typedef int (*ntw_hook_fn)(ntw_engine *e, int64_t step_lo, int64_t step_hi,
                           void *ctx);

typedef struct {
  uint64_t n_global, n_local;
  uint64_t syn_local;       /* synapses stored on this rank */
  uint64_t spikes_local;    /* spikes emitted by local neurons */
  uint64_t events_local;    /* synaptic events delivered on this rank */
  uint64_t keys_remote;     /* spike keys this rank sent to other ranks */
  uint64_t keys_self;       /* spike keys this rank sent to itself */
  uint64_t windows;
  int window_steps;         /* D */
  int max_delay_steps;
  int min_delay_built;      /* smallest delay actually stored, steps */
  int64_t step;             /* next step to execute */
  int overlap;              /* exchanges overlap computation */
  int overlap_requested;    /* simulation.overlap (off with D = 1) */
  int epoch_steps;          /* steps per exchange: ceil(D/2) with overlap */
  uint64_t epochs;          /* exchanges started without blocking */
  double wall_build_s, wall_sim_s;
  /* comm: all seconds in the comm layer, of which blocked in an exchange
   * or a wait, and spent posting (start, progress) */
  double comm_s, comm_wait_s, comm_post_s;
} ntw_engine_stats;

/* Collective. Builds the local part of the network. Errors in the config
 * that only the engine can see (unknown model, model parameters) name the
 * config file and field; they are detected identically on every rank. */
int ntw_engine_create(const ntw_config *cfg, ntw_comm *comm,
                      const ntw_part *part, ntw_engine **out);
/* Not collective. NULL-safe; sets *e = NULL. */
void ntw_engine_destroy(ntw_engine **e);

int ntw_engine_add_hook(ntw_engine *e, ntw_hook_kind kind, ntw_hook_fn fn,
                        void *ctx);

/* Collective. Advances until step >= until_step (the last window may be
 * shorter than D). */
int ntw_engine_run(ntw_engine *e, int64_t until_step);

/* Collective (every rank at the same window boundary; it may block on
 * other ranks). Finishes the exchange in flight, if any, and delivers it:
 * afterwards every spike emitted so far is in the ring and the plastic
 * state, as at a window boundary without overlap. Also forgets the STDP
 * post-history entries no future delivery reads, so that a checkpoint
 * written now holds the same history whatever the windows and epochs so
 * far. Cheap when nothing is in flight; ntw_engine_run returns drained. */
int ntw_engine_drain(ntw_engine *e);

/* Reads the engine's large arrays once (delay ring, synapses) to warm the
 * caches before a paced run's clock starts; changes nothing. Returns a
 * value that depends on the data (so the reads are not optimised away). */
uint64_t ntw_engine_prefetch(const ntw_engine *e);

/* Ask ntw_engine_run to return after the current window (from a hook; every
 * rank must ask in the same window). */
void ntw_engine_request_stop(ntw_engine *e);

/* Steps for a time in ms (rounded to the grid). */
int64_t ntw_engine_steps(const ntw_engine *e, double t_ms);

/* Spikes emitted by local neurons in the last window (valid in
 * AFTER_WINDOW hooks): gids and spike steps (time = step * dt). */
void ntw_engine_window_spikes(const ntw_engine *e, const uint64_t **gids,
                              const int64_t **steps, size_t *n);

/* Spike count of local neurons per population (config order). */
const uint64_t *ntw_engine_pop_spikes(const ntw_engine *e);

/* Membrane potential (mV) of a local neuron by gid; NAN if not local. */
double ntw_engine_get_v(const ntw_engine *e, uint64_t gid);

/* External current (pA) of a local neuron by gid: the sum of its DC and
 * noise stimuli in the last executed step (before the first step: the DC
 * part only); NAN if not local. Not collective. */
double ntw_engine_get_i_ext(const ntw_engine *e, uint64_t gid);

/* Calls fn for every synapse stored on this rank: source and target gid,
 * weight, delay in steps. Order: by source gid, then as stored. Plastic
 * weights are those after the deliveries so far: in a hook under overlap,
 * call ntw_engine_drain first. */
typedef void (*ntw_synapse_fn)(uint64_t src, uint64_t tgt, float w, int delay,
                               void *ctx);
void ntw_engine_foreach_synapse(const ntw_engine *e, ntw_synapse_fn fn,
                                void *ctx);

/* Like ntw_engine_foreach_synapse, for the synapses of projection `proj`
 * (config index) only, in the same order. A static projection must be
 * listed in the config's record.weights (only those are indexed: static
 * projections share one store); otherwise NTW_ERR_NOTSUP. Not collective. */
int ntw_engine_foreach_projection_synapse(const ntw_engine *e, int proj,
                                          ntw_synapse_fn fn, void *ctx);

/* Force local neurons to spike at run time, e.g. the twin's mirror neurons
 * with recorded bio spikes, or a culture's neurons activated by a
 * stimulation. stamps are spike times in steps (time = stamp * dt) and must
 * be later than the last executed step (stamp - 1 >= the next step to
 * execute): NTW_ERR_ARG otherwise, and nothing is queued. Every rank may be
 * given the same list: gids owned by other ranks are ignored. The spikes
 * are emitted like a neuron's own (recorded, counted, sent to targets,
 * STDP post history); a neuron that already spikes in that step does not
 * spike twice. Not collective. Those still to come at a window boundary
 * are saved in checkpoints (/forced) and queued again on restore. */
int ntw_engine_force_spikes(ntw_engine *e, const uint64_t *gids,
                            const int64_t *stamps, size_t n);

/* Calls fn with a pointer to the weight of every synapse stored on this
 * rank (proj < 0) or of projection proj only; fn may change it (a culture's
 * hidden changes, the twin's assimilation). Same order as
 * ntw_engine_foreach_synapse. A static projection must be indexed
 * (ntw_proj_cfg.indexed), otherwise NTW_ERR_NOTSUP. Every rank must apply
 * the same rule at the same window boundary, to keep ranks consistent and
 * because it first drains the exchange in flight (ntw_engine_drain), so
 * that the spikes in flight meet the weights they would meet without
 * overlap: collective under overlap. */
typedef void (*ntw_weight_map_fn)(uint64_t src, uint64_t tgt, float *w,
                                  void *ctx);
int ntw_engine_map_weights(ntw_engine *e, int proj, ntw_weight_map_fn fn,
                           void *ctx);

void ntw_engine_get_stats(const ntw_engine *e, ntw_engine_stats *st);
const ntw_config *ntw_engine_config(const ntw_engine *e);
const ntw_part *ntw_engine_part(const ntw_engine *e);
ntw_comm *ntw_engine_comm(const ntw_engine *e);

#endif

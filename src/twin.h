/* twin.h - the Neuromorphic Twin coupling: rank 0 couples the distributed
 * network to the biology inside the window loop (DESIGN.md, "Bio link" and
 * "Execution regimes").
 *
 * The network config names two populations of the same size, one neuron per
 * electrode channel (k-th channel of the biology's layout = k-th neuron):
 *  - `mirror` (spike_source): each recorded spike of channel k is forced on
 *    mirror neuron k at its time, through ntw_engine_force_spikes, so it
 *    reaches every target through the normal window exchange;
 *  - `predict`: neuron k is the twin's prediction of channel k. It sees only
 *    mirror spikes older than its input delay, i.e. it predicts channel k
 *    before it sees it.
 * Co-evolution: the weights W[k][j] of the assimilated projection
 * mirror j -> predict k are kept tracking the tissue online with a ReSuMe
 * rule (Ponulak & Kasinski 2010), run on rank 0 from data it already has:
 *     dW[k][j] = eta * sum_(recorded spikes t of k) (a + x_j(t - d))
 *              - eta * sum_(predicted spikes t of k) (a + x_j(t - d))
 * where x_j is the exponential trace (tau_ms) of channel j's recorded spikes
 * and d the projection delay: a missed spike strengthens the inputs that
 * were active before it, a false one weakens them. W is applied to every
 * rank's synapses (ntw_engine_map_weights) at the start of the window after
 * each `every_ms`, broadcast from rank 0, so results stay bit-identical on
 * any number of ranks and any partition for the same biology.
 *
 * Per window, rank 0:
 *   before: waits until the window's biology has arrived (paced regimes:
 *           window end in the biology's clock + allowance), takes the events
 *           of [t0, t1) (late ones: drop, shift or abort, counted), sends
 *           heartbeats, checks for a silent peer; broadcasts one control
 *           message (events, new weights, stop) that every rank applies;
 *   after:  gathers the predictors' spikes, updates fidelity (coincidence
 *           factor Gamma with +-delta_ms per channel, population-rate
 *           correlation, per `interval_ms`), the assimilation, the
 *           stimulation policy (commands back on the link), lag and
 *           deadline figures.
 * Hybrid time: simulated time 0 is the biology's clock B0 at the first
 * window; a recorded event at biology time b (µs) is the spike at step
 * floor((b - B0) / (dt * 1000)) + 1. The biology's clock is mapped to the
 * local one with the link's heartbeat fit (offset, drift). Window [t0, t1)
 * is released at local(B0 + t1) + allowance and must end by that release +
 * window + slack (a deadline miss otherwise); lag = end - local(B0 + t1).
 *
 * Outputs: DIR/twin.h5 (layout in README "Twin outputs") and the `twin`
 * object of report.json.
 */
#ifndef NTW_TWIN_H
#define NTW_TWIN_H

#include <jansson.h>
#include <stdbool.h>

#include "engine.h"
#include "io/checkpoint.h"

typedef struct ntw_twin ntw_twin;

/* Collective. Rank 0 opens the source (link: connects, waits for the
 * biology's HELLO and first heartbeat up to timing.start_timeout_ms; file:
 * loads the recording) and every rank registers the window hooks. The error
 * (one line naming the endpoint, file or field) is the same on every rank.
 * restore: the checkpoint the engine was just restored from (NULL: a fresh
 * run); the twin takes its state from the file's /twin group and puts the
 * assimilated weights back into the synapses (a file without /twin: the
 * twin resumes without its state and says so on stderr). Create the twin
 * before anything that reads those synapses (the weight recorder). */
int ntw_twin_create(ntw_engine *e, const char *outdir, int quiet,
                    const char *restore, ntw_twin **out);

/* Save function for ntw_checkpoint_write_ext (group "twin", ctx = the
 * twin), collective. Writes the twin's state at the engine's step: the
 * checkpoint must be taken after the twin's own after-window hook of the
 * window ending there (an internal error otherwise). What is saved and
 * what is not: README "Checkpoints of a twin run". */
int ntw_twin_ckpt_save(ntw_ckpt_out *o, void *ctx);

/* Collective, after the run. Rank 0 writes DIR/twin.h5 and builds the
 * report's `twin` object (*report, rank 0 only; NULL elsewhere). Returns
 * the run's own error when the twin stopped it on purpose (late_policy
 * abort): the same on every rank, everything written. */
int ntw_twin_finish(ntw_twin *tw, json_t **report);

/* Why the twin ended the run early ("" when it did not). */
const char *ntw_twin_stop_reason(const ntw_twin *tw);

/* Whether the windows are locked to the wall clock (the bio link, or a
 * paced file): the same on every rank. */
bool ntw_twin_paced(const ntw_twin *tw);

/* NULL-safe; sets *tw = NULL. Sends BYE to the biology if still linked. */
void ntw_twin_destroy(ntw_twin **tw);

#endif

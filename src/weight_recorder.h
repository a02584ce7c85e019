/* weight_recorder.h - records the weights of the projections listed in the
 * config's record.weights into one HDF5 file (io/weights.h), as an
 * AFTER_WINDOW hook of the engine.
 *
 * Timing: projection k is recorded when the recorder opens (normally t = 0)
 * and then at the end of the first window ending at or after each multiple
 * of I_k = max(1, round(interval_k / dt)) steps; the recorded time is that
 * window end (step * dt). Several multiples inside one window give one
 * record. Weights change only when spikes are delivered, after a window, so
 * a record holds every change up to its time.
 */
#ifndef NTW_WEIGHT_RECORDER_H
#define NTW_WEIGHT_RECORDER_H

#include <stdbool.h>

#include "engine.h"

typedef struct ntw_weight_recorder ntw_weight_recorder;

/* Collective. Creates "<path>.tmp" for cfg->wrecs (needs nwrecs > 0), writes
 * the synapse lists and the first record at the engine's current step. */
int ntw_weight_recorder_open(ntw_engine *e, const char *path,
                             ntw_weight_recorder **out);

/* The AFTER_WINDOW hook (ctx = the recorder). Collective. */
int ntw_weight_recorder_hook(ntw_engine *e, int64_t step_lo, int64_t step_hi,
                             void *ctx);

/* Collective. Closes the file, renaming it into place if commit. NULL-safe;
 * sets *r = NULL. */
int ntw_weight_recorder_close(ntw_weight_recorder **r, bool commit);

#endif

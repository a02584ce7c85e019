/* culture.h - the stand-in living culture behind `ntwin culture`: its
 * CULTURE.json (format at the top of src/culture.c), parsed and validated
 * apart from the run so tests and the command share one reader.
 * Units: positions in µm, times in s unless a name says _ms or _us,
 * stimulation amplitudes in mV. Not collective; no MPI call. */
#ifndef NTW_CULTURE_H
#define NTW_CULTURE_H

#include <stddef.h>
#include <stdint.h>

#include "io/config.h"

#define NTW_MEA_N 60 /* 8 x 8 grid without its corners */

typedef enum {
  NTW_CHANGE_POTENTIATE = 0, /* scale E weights from group A to group B */
  NTW_CHANGE_LESION,         /* zero a fraction of connections inside a group */
  NTW_CHANGE_DRUG            /* scale every excitatory weight */
} ntw_change_kind;

typedef struct {
  double t_s;
  ntw_change_kind kind;
  double factor;   /* potentiate, drug */
  double fraction; /* lesion */
  uint8_t from[NTW_MEA_N], to[NTW_MEA_N]; /* electrode sets (channel ids);
                                             lesion uses `from` */
  char *desc; /* the change as JSON text, for the ground truth */
} ntw_change;

typedef struct {
  ntw_config *net; /* "network": a normal ntwin config */
  /* "mea" */
  double pitch_um, margin_um, pickup_radius_um, miss_prob, noise_hz, dead_time_ms;
  /* "stimulation" */
  double stim_radius_um, amp50_mv, slope_mv, p_max, lat_min_ms, lat_max_ms;
  size_t nchanges;
  ntw_change *changes; /* sorted by t_s (stable) */
  char *text;          /* the whole file */
} ntw_culture_cfg;

/* Reads and validates CULTURE.json. Every error is one line naming the file
 * and the JSON field ("c.json: mea.pitch_um: must be > 0 (got -1)"). */
int ntw_culture_cfg_load(const char *path, ntw_culture_cfg **out);
/* NULL-safe; sets *c = NULL. */
void ntw_culture_cfg_destroy(ntw_culture_cfg **c);

/* The MCS 60-electrode layout. Channel ids 0..59 follow the labels in
 * ascending order ("12", "13", ..., "17", "21", ..., "87"): column by
 * column, row by row inside a column, corners (11, 18, 81, 88) missing.
 * Electrode "CR" (column C, row R, 1..8) sits at x = (C-1) pitch,
 * y = (R-1) pitch: the array spans [0, 7 pitch]^2, row 1 at the top
 * (smallest y). */
void ntw_mea_electrode(int channel, double pitch_um, double *x_um,
                       double *y_um, char label[3]);
/* Channel id of label "CR", -1 if it is not an electrode. */
int ntw_mea_channel(const char *label);

#endif

/* io/recording.h - recorded spike trains of living cultures (MEA), one
 * in-memory form for every file format the `replay` bio source reads.
 *
 * A recording is a list of channels and every spike event as (channel index,
 * time in µs since the recording's start, uint64), sorted by (time, channel).
 * Formats, detected by content (HDF5 signature, then which objects exist;
 * anything that is not HDF5 is read as CSV):
 *
 *   sjemea  /spikes float64[N] s, concatenated channel by channel;
 *           /sCount int[C] (sums to N); /names strings[C] ("ch_12A_unit_0":
 *           electrode 12 = column 1, row 2; unit 0); /epos float64[2, C] µm;
 *           optional /recordingtime [begin, end] s (time zero = begin), else
 *           optional /summary/duration s.
 *   nwb     /units/spike_times float s (all units concatenated),
 *           /units/spike_times_index int[U] cumulative END offsets, /units/id
 *           int[U]; optional /units/electrodes (+ /units/electrodes_index:
 *           the first electrode of each unit is kept) referring to rows of
 *           /general/extracellular_ephys/electrodes (its id, and rel_x/rel_y
 *           or x/y in µm when present).
 *   mcs     /Data/Recording_0/TimeStampStream/Stream_0/InfoTimeStamp, a
 *           compound table with fields TimeStampEntityID, Label, Exponent
 *           (found by name); one int dataset TimeStampEntity_<id> of ticks
 *           per row; seconds = ticks x 10^Exponent (converted exactly in
 *           integers). Optional attribute Duration (µs) on Recording_0.
 *   csv     header `channel,time_s`, then `label,seconds` per line; blank
 *           lines and lines starting with '#' are skipped; labels are strings
 *           or integers (optionally "quoted"). If every label is an integer,
 *           channels are ordered by value (id = value); otherwise by first
 *           appearance (id = index).
 *
 * Times: non-finite or negative times (relative to time zero) are rejected.
 * Within one channel the file's times must be non-decreasing: a recording
 * whose channel goes back in time is REJECTED, not sorted - every format
 * above stores each channel's train in order, so disorder means a corrupt or
 * misaligned file (e.g. a wrong /sCount), which sorting would hide. Times are
 * rounded to the nearest µs (MCS ticks are converted exactly).
 * Duration: the declared one when the file has it, never less than the last
 * spike; otherwise the last spike time.
 *
 * Every failure returns a negative ntw_err with one message naming the file
 * and the dataset, field or line. Single-process: no MPI call is made
 * (serial HDF5, default file access properties).
 */
#ifndef NTW_IO_RECORDING_H
#define NTW_IO_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  NTW_REC_AUTO = 0, /* detect by content */
  NTW_REC_SJEMEA,
  NTW_REC_NWB,
  NTW_REC_MCS,
  NTW_REC_CSV
} ntw_rec_format;

/* "auto", "sjemea", "nwb", "mcs", "csv". */
const char *ntw_rec_format_name(ntw_rec_format f);
/* Parses one of the names above; NTW_ERR_ARG if unknown. */
int ntw_rec_format_parse(const char *name, ntw_rec_format *f);

typedef struct {
  int64_t id;        /* sjemea: row; nwb: /units/id; mcs: entity id;
                        csv: integer label, else index */
  char *label;       /* as in the file (nwb: "unit_<id>") */
  double x_um, y_um; /* position; NAN when the file has none */
  int32_t electrode; /* electrode number (MCS 8x8: 10*column + row), or the
                        NWB electrode id; -1 unknown */
  int32_t unit;      /* unit index on that electrode; -1 unknown */
} ntw_rec_channel;

typedef struct {
  char *path;
  ntw_rec_format format;
  size_t n_channels;
  ntw_rec_channel *channels;
  size_t n_events;
  uint64_t *t_us;       /* [n_events] µs since the recording's start */
  uint32_t *channel;    /* [n_events] index into channels */
  uint64_t duration_us; /* see above */
  double t0_s;          /* file time of time zero (sjemea /recordingtime[0]) */
} ntw_recording;

/* Detects the format and loads the whole file. *out is NULL on failure. */
int ntw_recording_load(const char *path, ntw_recording **out);
/* Same with an explicit format (NTW_REC_AUTO = detect). Forcing a format on
 * a file of another layout fails naming the missing dataset. */
int ntw_recording_load_as(const char *path, ntw_rec_format fmt, ntw_recording **out);
/* NULL-safe; sets *r = NULL. */
void ntw_recording_destroy(ntw_recording **r);

/* Events with t0_us <= t < t1_us, all channels kept; duration t1-t0 (clamped
 * to the recording). With rebase, times become relative to t0_us. */
int ntw_recording_slice(const ntw_recording *r, uint64_t t0_us, uint64_t t1_us,
                        bool rebase, ntw_recording **out);

/* Spikes per channel (counts[n_channels]) and rates in Hz over duration_us
 * (rates_hz may be NULL; rates are 0 when the duration is 0). */
int ntw_recording_counts(const ntw_recording *r, uint64_t *counts, double *rates_hz);

/* Network bursts: "population rate above threshold" method.
 * The population spike train (all channels merged) is binned in bin_us;
 * a bin is active when its rate exceeds
 *     threshold_hz = max(rate_factor x mean population rate, min_rate_hz),
 * the mean being n_events / duration. Runs of active bins separated by at
 * most merge_gap_us are merged; a candidate's spikes are those in its bins;
 * it is kept as a burst when (last spike - first spike) >= min_duration_us
 * and the number of distinct channels that fired in it is at least
 * max(min_channels, ceil(min_channel_frac x channels that fired at all)).
 * A burst starts at its first spike and ends at its last.
 * Defaults (ntw_burst_params_default): bin 10 ms, factor 4, no floor, gap
 * 100 ms, duration 50 ms, 20 % of active channels and at least 3. */
typedef struct {
  uint64_t bin_us;
  double rate_factor;
  double min_rate_hz;
  uint64_t merge_gap_us;
  uint64_t min_duration_us;
  double min_channel_frac;
  uint32_t min_channels;
} ntw_burst_params;

void ntw_burst_params_default(ntw_burst_params *p);

typedef struct {
  size_t n;
  uint64_t *start_us, *end_us; /* [n] first and last spike */
  uint64_t *n_spikes;          /* [n] spikes in the burst */
  uint32_t *n_channels;        /* [n] distinct channels in the burst */
  double threshold_hz;         /* the population-rate threshold used */
  double rate_hz;              /* n / duration (bursts per second) */
  double frac_spikes;          /* share of all spikes inside bursts */
} ntw_bursts;

/* params NULL = defaults. Fills *out (free with ntw_bursts_free). */
int ntw_recording_bursts(const ntw_recording *r, const ntw_burst_params *params,
                         ntw_bursts *out);
void ntw_bursts_free(ntw_bursts *b);

#endif

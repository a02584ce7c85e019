/* recording_info.c - `ntwin recording-info FILE [--format F] [--json]`: what a
 * recorded MEA file holds (io/recording.h). Single-process: rank 0 reads the
 * file; other ranks (if any) only agree on the exit status. */
#include <jansson.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/ntw_error.h"
#include "io/recording.h"

static int info(const char *path, ntw_rec_format fmt, int as_json) {
  ntw_recording *r = NULL;
  ntw_bursts b = {0};
  uint64_t *counts = NULL;
  if (ntw_recording_load_as(path, fmt, &r) || ntw_recording_bursts(r, NULL, &b)) {
    fprintf(stderr, "ntwin: error: %s\n", ntw_error_msg());
    ntw_recording_destroy(&r);
    return 1;
  }
  counts = calloc(r->n_channels ? r->n_channels : 1, sizeof *counts);
  if (!counts) {
    fprintf(stderr, "ntwin: error: out of memory\n");
    ntw_recording_destroy(&r);
    ntw_bursts_free(&b);
    return 1;
  }
  ntw_recording_counts(r, counts, NULL);
  size_t active = 0;
  for (size_t c = 0; c < r->n_channels; c++) active += counts[c] > 0;
  double dur_s = r->duration_us * 1e-6;
  double mean_rate = dur_s > 0 && active ? r->n_events / dur_s / active : 0;
  ntw_burst_params p;
  ntw_burst_params_default(&p);
  if (as_json) {
    json_t *j = json_object();
    json_object_set_new(j, "path", json_string(path));
    json_object_set_new(j, "format", json_string(ntw_rec_format_name(r->format)));
    json_object_set_new(j, "channels", json_integer((json_int_t)r->n_channels));
    json_object_set_new(j, "active_channels", json_integer((json_int_t)active));
    json_object_set_new(j, "spikes", json_integer((json_int_t)r->n_events));
    json_object_set_new(j, "duration_s", json_real(dur_s));
    json_object_set_new(j, "first_spike_s",
                        r->n_events ? json_real(r->t_us[0] * 1e-6) : json_null());
    json_object_set_new(j, "last_spike_s",
                        r->n_events ? json_real(r->t_us[r->n_events - 1] * 1e-6) : json_null());
    json_object_set_new(j, "mean_rate_hz", json_real(mean_rate));
    json_object_set_new(j, "bursts", json_integer((json_int_t)b.n));
    json_object_set_new(j, "burst_rate_hz", json_real(b.rate_hz));
    json_object_set_new(j, "burst_rate_per_min", json_real(b.rate_hz * 60));
    json_object_set_new(j, "spikes_in_bursts", json_real(b.frac_spikes));
    json_t *bp = json_object();
    json_object_set_new(bp, "method", json_string("population rate > threshold"));
    json_object_set_new(bp, "bin_ms", json_real(p.bin_us / 1e3));
    json_object_set_new(bp, "rate_factor", json_real(p.rate_factor));
    json_object_set_new(bp, "threshold_hz", json_real(b.threshold_hz));
    json_object_set_new(bp, "merge_gap_ms", json_real(p.merge_gap_us / 1e3));
    json_object_set_new(bp, "min_duration_ms", json_real(p.min_duration_us / 1e3));
    json_object_set_new(bp, "min_channel_frac", json_real(p.min_channel_frac));
    json_object_set_new(bp, "min_channels", json_integer(p.min_channels));
    json_object_set_new(j, "burst_params", bp);
    /* each burst: first and last spike, spikes, distinct channels */
    json_t *bs = json_array(), *be = json_array(), *bn = json_array(), *bc = json_array();
    for (size_t i = 0; i < b.n; i++) {
      json_array_append_new(bs, json_real(b.start_us[i] * 1e-6));
      json_array_append_new(be, json_real(b.end_us[i] * 1e-6));
      json_array_append_new(bn, json_integer((json_int_t)b.n_spikes[i]));
      json_array_append_new(bc, json_integer((json_int_t)b.n_channels[i]));
    }
    json_object_set_new(j, "burst_list", json_pack("{s:o,s:o,s:o,s:o}", "start_s", bs, "end_s", be,
                                                   "n_spikes", bn, "n_channels", bc));
    json_t *chs = json_array();
    for (size_t c = 0; c < r->n_channels; c++) {
      const ntw_rec_channel *ch = &r->channels[c];
      json_t *o = json_object();
      json_object_set_new(o, "id", json_integer(ch->id));
      json_object_set_new(o, "label", json_string(ch->label));
      json_object_set_new(o, "x_um", isnan(ch->x_um) ? json_null() : json_real(ch->x_um));
      json_object_set_new(o, "y_um", isnan(ch->y_um) ? json_null() : json_real(ch->y_um));
      json_object_set_new(o, "electrode", ch->electrode >= 0 ? json_integer(ch->electrode) : json_null());
      json_object_set_new(o, "unit", ch->unit >= 0 ? json_integer(ch->unit) : json_null());
      json_object_set_new(o, "spikes", json_integer((json_int_t)counts[c]));
      json_object_set_new(o, "rate_hz", json_real(dur_s > 0 ? counts[c] / dur_s : 0));
      json_array_append_new(chs, o);
    }
    json_object_set_new(j, "channel_list", chs);
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(j);
  } else {
    printf("recording %s\n", path);
    printf("  format      %s\n", ntw_rec_format_name(r->format));
    printf("  channels    %zu (%zu with spikes)\n", r->n_channels, active);
    printf("  spikes      %zu\n", r->n_events);
    printf("  duration    %.3f s\n", dur_s);
    printf("  mean rate   %.3f Hz per active channel\n", mean_rate);
    printf("  bursts      %zu network bursts, %.3f Hz (%.1f /min), %.0f%% of spikes in bursts\n",
           b.n, b.rate_hz, b.rate_hz * 60, 100 * b.frac_spikes);
    printf("              (population rate > %.0f Hz = %.0f x mean in %.0f ms bins, gaps <= "
           "%.0f ms merged, >= %.0f ms, >= %.0f%% of active channels)\n",
           b.threshold_hz, p.rate_factor, p.bin_us / 1e3, p.merge_gap_us / 1e3,
           p.min_duration_us / 1e3, 100 * p.min_channel_frac);
  }
  free(counts);
  ntw_bursts_free(&b);
  ntw_recording_destroy(&r);
  return 0;
}

int ntw_cli_recording_info(int argc, char **argv) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const char *path = NULL;
  int as_json = 0, rc = 0;
  ntw_rec_format fmt = NTW_REC_AUTO;
  for (int i = 1; i < argc && !rc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      as_json = 1;
    } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
      if (ntw_rec_format_parse(argv[++i], &fmt)) {
        if (rank == 0) fprintf(stderr, "ntwin: error: recording-info: --format: %s\n", ntw_error_msg());
        rc = 2;
      }
    } else if (!path && argv[i][0] != '-') {
      path = argv[i];
    } else {
      if (rank == 0)
        fprintf(stderr, "ntwin: error: recording-info: unexpected argument '%s'\n", argv[i]);
      rc = 2;
    }
  }
  if (!rc && !path) {
    if (rank == 0)
      fprintf(stderr, "ntwin: error: usage: ntwin recording-info FILE [--format "
                      "auto|sjemea|nwb|mcs|csv] [--json]\n");
    rc = 2;
  }
  if (!rc && rank == 0) rc = info(path, fmt, as_json);
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return rc;
}

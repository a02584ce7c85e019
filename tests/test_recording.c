/* test_recording.c - io/recording: readers, slice, rates, bursts.
 *
 *   test_recording synthetic FIXTURE_DIR   (fixtures from make_recording_fixtures.py)
 *   test_recording real DATA_DIR           (../shared/data; exit 77 if absent)
 *
 * Real-file constants were read independently with h5py/numpy (see the
 * comments); burst counts come from tests/recording_bursts_ref.py, a numpy
 * implementation of the same method. Data: mouse hippocampal culture DIV25
 * (Charlesworth et al. 2015, Neural Development; github.com/sje30/g2chvcdata,
 * GPL-2+); hiPSC-derived neurons day 34 (Cotterill et al. 2016, J
 * Neurophysiol 116:306; github.com/ellesec/burstanalysis). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/ntw_error.h"
#include "io/recording.h"

/* cmocka < 1.1.6 has no assert_double_equal */
#define assert_close(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

static const char *dir;

static const char *P(const char *name) {
  static char buf[8][4096];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static ntw_recording *load_ok(const char *path, ntw_rec_format fmt) {
  ntw_recording *r = NULL;
  int rc = ntw_recording_load_as(path, fmt, &r);
  if (rc) fprintf(stderr, "load %s: %s\n", path, ntw_error_msg());
  assert_int_equal(rc, 0);
  assert_non_null(r);
  return r;
}

/* ------------------------------------------------------------ synthetic */

static size_t exp_n;
static uint64_t *exp_t;
static uint32_t *exp_c;

static void read_expected(void) {
  FILE *f = fopen(P("train_expected.txt"), "r");
  assert_non_null(f);
  assert_int_equal(fscanf(f, "%zu", &exp_n), 1);
  exp_t = malloc(exp_n * sizeof *exp_t);
  exp_c = malloc(exp_n * sizeof *exp_c);
  for (size_t i = 0; i < exp_n; i++) {
    unsigned long long t;
    unsigned c;
    assert_int_equal(fscanf(f, "%llu %u", &t, &c), 2);
    exp_t[i] = t;
    exp_c[i] = c;
  }
  fclose(f);
}

/* The same known train through every reader: identical event lists. `swap`
 * for the CSV with string labels, whose channels come in order of first
 * appearance (channel id 7 first). */
static void check_train(const char *file, ntw_rec_format want, int swap) {
  ntw_recording *r = load_ok(P(file), NTW_REC_AUTO);
  assert_int_equal(r->format, want);
  assert_int_equal(r->n_channels, 2);
  assert_int_equal(r->n_events, exp_n);
  for (size_t i = 0; i < exp_n; i++) {
    uint64_t t = exp_t[i];
    uint32_t c = exp_c[i];
    if (swap) { /* channel indices swapped: ties at equal times swap too */
      c = 1 - c;
      if (i + 1 < exp_n && exp_t[i + 1] == t) c = 0;
      else if (i > 0 && exp_t[i - 1] == t) c = 1;
    }
    if (r->t_us[i] != t || r->channel[i] != c)
      fail_msg("%s: event %zu is (%llu us, ch %u), expected (%llu us, ch %u)", file, i,
               (unsigned long long)r->t_us[i], r->channel[i], (unsigned long long)t, c);
  }
  /* the explicit format gives the same */
  ntw_recording *r2 = load_ok(P(file), want);
  assert_memory_equal(r2->t_us, r->t_us, exp_n * sizeof *r->t_us);
  assert_memory_equal(r2->channel, r->channel, exp_n * sizeof *r->channel);
  ntw_recording_destroy(&r2);
  assert_null(r2);
  ntw_recording_destroy(&r);
}

static void test_same_train(void **s) {
  (void)s;
  check_train("train_sjemea.h5", NTW_REC_SJEMEA, 0);
  check_train("train_nwb.h5", NTW_REC_NWB, 0);
  check_train("train_nwb_elec.h5", NTW_REC_NWB, 0);
  check_train("train_mcs.h5", NTW_REC_MCS, 0);
  check_train("train_mcs_ns.h5", NTW_REC_MCS, 0);
  check_train("train.csv", NTW_REC_CSV, 0);
  check_train("train_strlabels.csv", NTW_REC_CSV, 1);
}

static void test_channels(void **s) {
  (void)s;
  ntw_recording *r = load_ok(P("train_sjemea.h5"), NTW_REC_AUTO);
  assert_string_equal(r->channels[0].label, "ch_12A_unit_0");
  assert_int_equal(r->channels[0].electrode, 12);
  assert_int_equal(r->channels[0].unit, 0);
  assert_int_equal(r->channels[1].electrode, 21);
  assert_int_equal(r->channels[1].unit, 1);
  assert_true(r->channels[0].x_um == 200 && r->channels[0].y_um == 1400);
  assert_true(r->channels[1].x_um == 400 && r->channels[1].y_um == 1200);
  assert_int_equal(r->duration_us, 3601000000ULL); /* /recordingtime [0, 3601] */
  ntw_recording_destroy(&r);

  r = load_ok(P("train_nwb.h5"), NTW_REC_AUTO);
  assert_int_equal(r->channels[0].id, 3);
  assert_int_equal(r->channels[1].id, 7);
  assert_string_equal(r->channels[1].label, "unit_7");
  assert_int_equal(r->channels[0].electrode, -1); /* no /units/electrodes */
  assert_true(isnan(r->channels[0].x_um));
  assert_int_equal(r->duration_us, 3600000001ULL); /* last spike */
  ntw_recording_destroy(&r);

  r = load_ok(P("train_nwb_elec.h5"), NTW_REC_AUTO); /* rows 0, 2 -> ids 12, 34 */
  assert_int_equal(r->channels[0].electrode, 12);
  assert_int_equal(r->channels[1].electrode, 34);
  assert_true(r->channels[1].x_um == 600 && r->channels[1].y_um == 1000);
  ntw_recording_destroy(&r);

  r = load_ok(P("train_mcs.h5"), NTW_REC_AUTO);
  assert_int_equal(r->channels[0].id, 3);
  assert_string_equal(r->channels[1].label, "7");
  assert_int_equal(r->duration_us, 3601000000ULL); /* Recording_0 Duration attribute */
  ntw_recording_destroy(&r);

  r = load_ok(P("train.csv"), NTW_REC_AUTO);
  assert_int_equal(r->channels[0].id, 3); /* integer labels: numeric order */
  assert_int_equal(r->channels[1].id, 7);
  ntw_recording_destroy(&r);
  r = load_ok(P("train_strlabels.csv"), NTW_REC_AUTO);
  assert_string_equal(r->channels[0].label, "ch_21B_unit_1"); /* first appearance */
  assert_string_equal(r->channels[1].label, "ch_12A_unit_0");  /* quotes removed */
  assert_int_equal(r->channels[1].electrode, 12);
  ntw_recording_destroy(&r);
}

static void test_slice_counts(void **s) {
  (void)s;
  ntw_recording *r = load_ok(P("train_sjemea.h5"), NTW_REC_AUTO), *sl = NULL;
  uint64_t t0 = 1000, t1 = 20001;
  assert_int_equal(ntw_recording_slice(r, t0, t1, false, &sl), 0);
  size_t k = 0;
  for (size_t i = 0; i < exp_n; i++)
    if (exp_t[i] >= t0 && exp_t[i] < t1) {
      assert_true(k < sl->n_events);
      assert_int_equal(sl->t_us[k], exp_t[i]);
      assert_int_equal(sl->channel[k], exp_c[i]);
      k++;
    }
  assert_int_equal(k, sl->n_events);
  assert_int_equal(k, 4); /* 1000 (ch 3), 1000 (ch 7), 15000, 20000 */
  ntw_recording_destroy(&sl);
  assert_int_equal(ntw_recording_slice(r, t0, t1, true, &sl), 0);
  assert_int_equal(sl->n_events, 4);
  assert_int_equal(sl->t_us[0], 0);
  assert_int_equal(sl->t_us[3], 19000);
  assert_int_equal(sl->duration_us, t1 - t0);
  ntw_recording_destroy(&sl);
  assert_true(ntw_recording_slice(r, 5, 4, false, &sl) < 0);
  assert_null(sl);

  uint64_t counts[2];
  double rates[2];
  assert_int_equal(ntw_recording_counts(r, counts, rates), 0);
  uint64_t c0 = 0;
  for (size_t i = 0; i < exp_n; i++) c0 += exp_c[i] == 0;
  assert_int_equal(counts[0], c0);
  assert_int_equal(counts[1], exp_n - c0);
  assert_close(rates[0], c0 / 3601.0, 1e-12);
  ntw_recording_destroy(&r);
}

static void test_bursts(void **s) {
  (void)s;
  ntw_recording *r = load_ok(P("bursts.csv"), NTW_REC_AUTO);
  FILE *f = fopen(P("bursts_expected.txt"), "r");
  assert_non_null(f);
  unsigned long long starts[10];
  for (int i = 0; i < 10; i++) assert_int_equal(fscanf(f, "%llu", &starts[i]), 1);
  fclose(f);
  ntw_bursts b;
  assert_int_equal(ntw_recording_bursts(r, NULL, &b), 0);
  assert_int_equal(b.n, 10);
  for (size_t i = 0; i < b.n; i++) {
    /* a background spike in the first active bin may start it early */
    assert_true(b.start_us[i] + 10000 >= starts[i] && b.start_us[i] <= starts[i]);
    assert_true(b.end_us[i] >= starts[i] + 100000 && b.end_us[i] <= starts[i] + 110000);
    assert_true(b.n_channels[i] >= 20);
    assert_true(b.n_spikes[i] >= 300);
  }
  assert_close(b.rate_hz, 10 / (r->duration_us * 1e-6), 1e-12);
  ntw_bursts_free(&b);
  /* stricter parameters: no burst has 50 channels (20 burst + background) */
  ntw_burst_params p;
  ntw_burst_params_default(&p);
  p.min_channels = 50;
  assert_int_equal(ntw_recording_bursts(r, &p, &b), 0);
  assert_int_equal(b.n, 0);
  ntw_bursts_free(&b);
  p.bin_us = 0;
  assert_true(ntw_recording_bursts(r, &p, &b) < 0);
  ntw_recording_destroy(&r);

  r = load_ok(P("poisson.csv"), NTW_REC_AUTO); /* 60 x 5 Hz Poisson: no bursts */
  assert_int_equal(ntw_recording_bursts(r, NULL, &b), 0);
  assert_int_equal(b.n, 0);
  assert_true(b.threshold_hz > 1100 && b.threshold_hz < 1300);
  ntw_bursts_free(&b);
  /* an empty slice: no crash, no bursts */
  ntw_recording *sl = NULL;
  assert_int_equal(ntw_recording_slice(r, 0, 0, true, &sl), 0);
  assert_int_equal(sl->n_events, 0);
  assert_int_equal(ntw_recording_bursts(sl, NULL, &b), 0);
  assert_int_equal(b.n, 0);
  ntw_bursts_free(&b);
  ntw_recording_destroy(&sl);
  ntw_recording_destroy(&r);
}

static void expect_error(const char *file, ntw_rec_format fmt, const char *field) {
  ntw_recording *r = (ntw_recording *)0x1;
  const char *path = P(file);
  int rc = ntw_recording_load_as(path, fmt, &r);
  if (rc >= 0) fail_msg("%s: loaded, expected an error naming '%s'", file, field);
  assert_null(r);
  const char *m = ntw_error_msg();
  if (strncmp(m, path, strlen(path)) != 0 || !strstr(m, field))
    fail_msg("%s: message '%s' should start with the path and name '%s'", file, m, field);
  if (strchr(m, '\n')) fail_msg("%s: message has several lines: '%s'", file, m);
}

static void test_bad_inputs(void **s) {
  (void)s;
  static const struct {
    const char *file;
    ntw_rec_format fmt;
    const char *field;
  } cases[] = {
      {"bad_sj_nonames.h5", NTW_REC_AUTO, "/names: missing dataset"},
      {"bad_sj_noepos.h5", NTW_REC_AUTO, "/epos: missing dataset"},
      {"bad_sj_noscount.h5", NTW_REC_SJEMEA, "/sCount: missing dataset"},
      {"bad_sj_noscount.h5", NTW_REC_AUTO, "no known recording layout"},
      {"bad_sj_inttimes.h5", NTW_REC_AUTO, "/spikes: wrong type: expected float, got integer"},
      {"bad_sj_2dspikes.h5", NTW_REC_AUTO, "/spikes: wrong shape"},
      {"bad_sj_eposshape.h5", NTW_REC_AUTO, "/epos: wrong shape"},
      {"bad_sj_eposcount.h5", NTW_REC_AUTO, "/epos: wrong shape: expected [2, 2], got [2, 5]"},
      {"bad_sj_scountsum.h5", NTW_REC_AUTO, "/sCount: sums to 510 but /spikes has 511"},
      {"bad_sj_scountneg.h5", NTW_REC_AUTO, "/sCount[0]: negative count"},
      {"bad_sj_namescount.h5", NTW_REC_AUTO, "/names: has 3 entries but /sCount has 2"},
      {"bad_sj_negative.h5", NTW_REC_AUTO, "/spikes[5]: negative time"},
      {"bad_sj_nan.h5", NTW_REC_AUTO, "/spikes[309]: non-finite time"},
      {"bad_sj_unsorted.h5", NTW_REC_AUTO, "/spikes[8]: times of channel ch_12A_unit_0 decrease"},
      {"bad_sj_rt.h5", NTW_REC_AUTO, "/recordingtime"},
      {"bad_nwb_noid.h5", NTW_REC_AUTO, "/units/id: missing dataset"},
      {"bad_nwb_noindex.h5", NTW_REC_AUTO, "/units/spike_times_index: missing dataset"},
      {"bad_nwb_indexend.h5", NTW_REC_AUTO, "/units/spike_times_index[1]: end offset 515"},
      {"bad_nwb_indexdec.h5", NTW_REC_AUTO, "/units/spike_times_index[1]: end offset 305"},
      {"bad_nwb_idcount.h5", NTW_REC_AUTO, "/units/id: has 3 rows"},
      {"bad_nwb_strtimes.h5", NTW_REC_AUTO, "/units/spike_times: wrong type"},
      {"bad_nwb_negative.h5", NTW_REC_AUTO, "/units/spike_times[308]: negative time"},
      {"bad_nwb_unsorted.h5", NTW_REC_AUTO, "/units/spike_times[308]: times of channel unit_7 decrease"},
      {"bad_nwb_elecrow.h5", NTW_REC_AUTO, "/units/electrodes[1]: row 5"},
      {"bad_nwb_eleccount.h5", NTW_REC_AUTO, "/units/electrodes: has 1 rows"},
      {"bad_mcs_noexp.h5", NTW_REC_AUTO, "InfoTimeStamp: missing field Exponent"},
      {"bad_mcs_nolabel.h5", NTW_REC_AUTO, "InfoTimeStamp: missing field Label"},
      {"bad_mcs_noid.h5", NTW_REC_AUTO, "InfoTimeStamp: missing field TimeStampEntityID"},
      {"bad_mcs_expfloat.h5", NTW_REC_AUTO, "InfoTimeStamp.Exponent: wrong type"},
      {"bad_mcs_noentity.h5", NTW_REC_AUTO, "Stream_0/TimeStampEntity_7: missing dataset"},
      {"bad_mcs_negative.h5", NTW_REC_AUTO, "TimeStampEntity_7[0]: negative time stamp"},
      {"bad_mcs_unsorted.h5", NTW_REC_AUTO, "TimeStampEntity_3[1]: times of channel 3 decrease"},
      {"bad_mcs_ticksfloat.h5", NTW_REC_AUTO, "TimeStampEntity_3: wrong type"},
      {"bad_unknown.h5", NTW_REC_AUTO, "HDF5 file of no known recording layout"},
      {"bad_truncated.h5", NTW_REC_AUTO, "cannot open as HDF5"},
      {"bad_garbage.bin", NTW_REC_AUTO, "line 1: binary data"},
      {"bad_empty.csv", NTW_REC_AUTO, "missing the header 'channel,time_s'"},
      {"bad_csv_noheader.csv", NTW_REC_AUTO, "line 1: expected the header 'channel,time_s'"},
      {"bad_csv_header.csv", NTW_REC_AUTO, "line 1: expected the header"},
      {"bad_csv_number.csv", NTW_REC_AUTO, "line 5: time_s: not a number"},
      {"bad_csv_fields.csv", NTW_REC_AUTO, "line 3: malformed"},
      {"bad_csv_onefield.csv", NTW_REC_AUTO, "line 4: malformed"},
      {"bad_csv_negative.csv", NTW_REC_AUTO, "line 3: time_s: negative time"},
      {"bad_csv_nan.csv", NTW_REC_AUTO, "line 3: time_s: non-finite"},
      {"bad_csv_inf.csv", NTW_REC_AUTO, "line 2: time_s: non-finite"},
      {"bad_csv_unsorted.csv", NTW_REC_AUTO, "line 4: time_s: times of channel 3 decrease"},
      {"bad_csv_emptylabel.csv", NTW_REC_AUTO, "line 3: channel: empty label"},
      {"bad_csv_sameint.csv", NTW_REC_AUTO, "channel: labels '3' and '03'"},
      /* a valid file forced into the wrong layout */
      {"train_nwb.h5", NTW_REC_SJEMEA, "/spikes: missing dataset"},
      {"train_sjemea.h5", NTW_REC_MCS, "InfoTimeStamp: missing dataset"},
      {"train_mcs.h5", NTW_REC_NWB, "/units/spike_times: missing dataset"},
      {"train.csv", NTW_REC_NWB, "not an HDF5 file"},
      {"train_sjemea.h5", NTW_REC_CSV, "is an HDF5 file, not CSV"},
      {"no_such_file.h5", NTW_REC_AUTO, "cannot open"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_error(cases[i].file, cases[i].fmt, cases[i].field);
  printf("  %zu bad inputs rejected with the field named\n", sizeof cases / sizeof cases[0]);
  ntw_rec_format f;
  assert_int_equal(ntw_rec_format_parse("mcs", &f), 0);
  assert_int_equal(f, NTW_REC_MCS);
  assert_true(ntw_rec_format_parse("edf", &f) < 0);
  ntw_recording_destroy(NULL);
}

/* ------------------------------------------------------------ real files */

/* h5py: /sCount of each file. */
static const int64_t mouse_scount[59] = {
    17721, 33209, 3538,  10911, 21074, 20742, 867,   11897, 1178,  3618,  9309,  4400,
    7950,  23162, 10615, 8995,  24690, 11685, 8806,  5739,  443,   18993, 4110,  3100,
    5124,  1945,  2461,  1877,  3850,  11426, 10692, 10129, 12083, 896,   6500,  26629,
    25815, 23230, 9534,  17429, 6586,  3729,  8052,  16040, 1153,  172,   12037, 12147,
    14219, 6143,  5950,  21934, 5209,  8475,  8906,  7018,  15297, 3424,  18671};
static const int64_t hipsc_scount[33] = {4,    2172, 3913, 3,   3326, 798,  17,   2,   506,
                                         1570, 138,  690,  933, 2,    2,    29,   24,  260,
                                         2092, 24,   3107, 3,   1176, 38,   8,    2138, 293,
                                         2335, 28,   782,  1487, 1477, 369};

typedef struct {
  const char *file, *label0;
  size_t nch, nspk;
  const int64_t *scount;
  uint64_t duration_us, first_us, last_us;
  unsigned long long sum_us;         /* sum of rint(t * 1e6) over /spikes */
  uint64_t ch0_first, ch0_last;      /* first/last spike of channel 0 */
  uint64_t chl_first, chl_last;      /* ... of the last channel */
  size_t bursts, slice_100_200;      /* recording_bursts_ref.py */
} real_case;

static void check_real(const real_case *c, ntw_recording **keep) {
  struct stat sb;
  if (stat(P(c->file), &sb) != 0) fail_msg("%s missing from %s", c->file, dir);
  ntw_recording *r = load_ok(P(c->file), NTW_REC_AUTO);
  assert_int_equal(r->format, NTW_REC_SJEMEA);
  assert_int_equal(r->n_channels, c->nch);
  assert_int_equal(r->n_events, c->nspk);
  assert_int_equal(r->duration_us, c->duration_us);
  assert_int_equal(r->t_us[0], c->first_us);
  assert_int_equal(r->t_us[r->n_events - 1], c->last_us);
  assert_string_equal(r->channels[0].label, c->label0);
  unsigned long long sum = 0;
  uint64_t first[64], last[64];
  for (size_t k = 0; k < c->nch; k++) first[k] = UINT64_MAX, last[k] = 0;
  for (size_t i = 0; i < r->n_events; i++) {
    sum += r->t_us[i];
    uint32_t ch = r->channel[i];
    assert_true(ch < c->nch);
    if (i && (r->t_us[i] < r->t_us[i - 1] ||
              (r->t_us[i] == r->t_us[i - 1] && ch <= r->channel[i - 1])))
      fail_msg("%s: events %zu, %zu not sorted by (time, channel)", c->file, i - 1, i);
    if (r->t_us[i] < first[ch]) first[ch] = r->t_us[i];
    if (r->t_us[i] > last[ch]) last[ch] = r->t_us[i];
  }
  assert_int_equal(sum, c->sum_us);
  assert_int_equal(first[0], c->ch0_first);
  assert_int_equal(last[0], c->ch0_last);
  assert_int_equal(first[c->nch - 1], c->chl_first);
  assert_int_equal(last[c->nch - 1], c->chl_last);
  uint64_t counts[64];
  double rates[64];
  assert_int_equal(ntw_recording_counts(r, counts, rates), 0);
  for (size_t k = 0; k < c->nch; k++) {
    assert_int_equal(counts[k], c->scount[k]);
    assert_close(rates[k], c->scount[k] / (c->duration_us * 1e-6), 1e-9);
    /* positions on the MCS 8x8 200 µm grid, and matching the label's
     * column/row: x = 200 col, y = 200 (9 - row) in these files */
    const ntw_rec_channel *ch = &r->channels[k];
    assert_true(ch->electrode >= 11 && ch->electrode <= 88);
    assert_int_equal(ch->unit, 0);
    int col = ch->electrode / 10, row = ch->electrode % 10;
    assert_true(fmod(ch->x_um, 200) == 0 && fmod(ch->y_um, 200) == 0);
    assert_true(ch->x_um >= 200 && ch->x_um <= 1600 && ch->y_um >= 200 && ch->y_um <= 1600);
    assert_true(ch->x_um == 200.0 * col && ch->y_um == 200.0 * (9 - row));
  }
  ntw_recording *sl = NULL;
  assert_int_equal(ntw_recording_slice(r, 100000000, 200000000, true, &sl), 0);
  assert_int_equal(sl->n_events, c->slice_100_200);
  assert_int_equal(sl->duration_us, 100000000);
  ntw_recording_destroy(&sl);
  ntw_bursts b;
  assert_int_equal(ntw_recording_bursts(r, NULL, &b), 0);
  printf("  %s: %zu channels, %zu spikes, %.1f s; %zu network bursts = %.3f Hz (%.1f/min), "
         "%.0f%% of spikes in bursts (threshold %.0f Hz)\n",
         c->file, r->n_channels, r->n_events, r->duration_us * 1e-6, b.n, b.rate_hz,
         60 * b.rate_hz, 100 * b.frac_spikes, b.threshold_hz);
  assert_int_equal(b.n, c->bursts);
  ntw_bursts_free(&b);
  *keep = r;
}

static void test_real_mouse(void **s) {
  (void)s;
  /* h5py: 611,534 spikes, 59 channels, /recordingtime [0, 911.2] */
  static const real_case c = {
      "mea-hippocampus-mouse-div25.h5", "ch_12B_unit_0", 59, 611534, mouse_scount,
      911200000, 3840, 909584640, 273405708131520ULL, 38360, 909539800, 31320, 909580520,
      382, 67941};
  ntw_recording *r = NULL;
  check_real(&c, &r);
  /* A bursting culture: network bursts every few seconds. Band 0.1-1 Hz
   * (6-60 /min): below, the culture would hardly be called bursting; above,
   * the detector would be cutting single bursts into pieces (reverberations
   * inside a burst come ~0.25 s apart). Also, a third or more of the spikes
   * should fall inside bursts (a Poisson train of the same rate has none). */
  ntw_bursts b;
  assert_int_equal(ntw_recording_bursts(r, NULL, &b), 0);
  assert_true(b.rate_hz >= 0.1 && b.rate_hz <= 1.0);
  assert_true(b.frac_spikes > 0.25);
  ntw_bursts_free(&b);
  ntw_recording_destroy(&r);
}

static void test_real_hipsc(void **s) {
  (void)s;
  /* h5py: 29,746 spikes on 33 channels (not 29: the file has 33 names, all
   * with spikes); no /recordingtime, /summary/duration = 301 s */
  static const real_case c = {
      "mea-hipsc-neurons-day34.h5", "ch_12_unit_0", 33, 29746, hipsc_scount, 301000000,
      13640, 300096800, 4687383537520ULL, 119956560, 254987320, 759320, 298845520, 262, 10154};
  ntw_recording *r = NULL;
  check_real(&c, &r);
  ntw_recording_destroy(&r);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: test_recording synthetic|real DIR\n");
    return 2;
  }
  dir = argv[2];
  if (strcmp(argv[1], "real") == 0) {
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
      printf("SKIP: real MEA recordings not found at %s (../shared/data is absent in a "
             "user's clone)\n", dir);
      return 77;
    }
    const struct CMUnitTest real[] = {
        cmocka_unit_test(test_real_mouse),
        cmocka_unit_test(test_real_hipsc),
    };
    return cmocka_run_group_tests(real, NULL, NULL);
  }
  read_expected();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_train),   cmocka_unit_test(test_channels),
      cmocka_unit_test(test_slice_counts), cmocka_unit_test(test_bursts),
      cmocka_unit_test(test_bad_inputs),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(exp_t);
  free(exp_c);
  return rc;
}

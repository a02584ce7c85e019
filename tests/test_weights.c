/* test_weights.c - weight recording (src/weight_recorder.h, io/weights.h)
 * against the analytic STDP rule. Runs on 1-4 ranks with the same
 * assertions; rank 0 reads the file back with serial HDF5.
 *  - pairing protocol (as test_plasticity.c): pre k spikes at T1 and T2,
 *    post k at T1 - d + Delta_k. The recorded weight of pair k is w0 in
 *    every record before the window in which the T1 spike is delivered
 *    (the window containing step T1/dt - 1: delivery follows the window),
 *    the analytic weight after T1 in every record from there until the T2
 *    delivery window, and the analytic final weight after that. For
 *    Delta > 0 the T1 record does not change (potentiation is applied at
 *    the next pre spike), for Delta < 0 it does (depression at T1);
 *  - a static projection recorded alongside keeps its weights in every
 *    record;
 *  - the record times are 0 and the window ends at or after each multiple
 *    of the interval; source/target/delay datasets and attributes;
 *  - "sample" keeps the first N synapses in (target, source) order. */
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "comm/comm.h"
#include "core/ntw_error.h"
#include "engine.h"
#include "io/config.h"
#include "partition/partition.h"
#include "weight_recorder.h"

#include "testlib.h"

/* Shared helpers (testlib.h) under this file's historical names. */
typedef ntw_test_sim sim;
#define sim_free ntw_test_sim_free
#define sim_build(s, j, st) ntw_test_sim_build((s), (j), MPI_COMM_WORLD, (st))

static const char *g_dir = ".";

/* Runs the config to t_stop with the weight recorder into DIR/name. */
static void run_recorded(const char *json, const char *strategy, const char *path) {
  sim m;
  sim_build(&m, json, strategy);
  ntw_weight_recorder *r = NULL;
  int err = ntw_weight_recorder_open(m.eng, path, &r);
  if (err) fprintf(stderr, "%s\n", ntw_error_msg());
  assert_int_equal(err, 0);
  assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW,
                                       ntw_weight_recorder_hook, r), 0);
  assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, m.cfg->sim.t_stop)), 0);
  assert_int_equal(ntw_weight_recorder_close(&r, true), 0);
  sim_free(&m);
}

/* Reads a whole dataset (any shape) as the given memory type; returns the
 * element count and the dims (up to 2). */
static void *read_all(hid_t f, const char *name, hid_t mtype, size_t esz,
                      hsize_t dims[2]) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  assert_true(d >= 0);
  hid_t sp = H5Dget_space(d);
  dims[0] = dims[1] = 1;
  int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
  assert_true(nd >= 1 && nd <= 2);
  size_t n = (size_t)dims[0] * (nd == 2 ? (size_t)dims[1] : 1);
  void *buf = malloc(n * esz + 1);
  assert_non_null(buf);
  if (n) assert_true(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  H5Sclose(sp);
  H5Dclose(d);
  return buf;
}

static void check_attr(hid_t f, const char *obj, const char *name, const char *want) {
  hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(a >= 0);
  hid_t t = H5Aget_type(a);
  char *s = NULL;
  assert_true(H5Aread(a, t, &s) >= 0);
  if (strcmp(s, want) != 0) {
    fprintf(stderr, "%s@%s: '%s', expected '%s'\n", obj, name, s, want);
    fail();
  }
  H5free_memory(s);
  H5Tclose(t);
  H5Aclose(a);
}

enum { NPAIR = 6 };

static void test_stdp_recording(void **state) {
  (void)state;
  const double deltas[NPAIR] = {-20, -5, -1.3, 2.5, 10, 40};
  const double d = 1.5, T1 = 50.0, T2 = 400.0, w0 = 50.0, Wmax = 100.0;
  const double lambda = 0.01, alpha = 1.2, tp = 16.8, tm = 33.7, dt = 0.1;
  /* STDP recorded every window (1.5 ms), so each change is pinned to one
   * window; the static projection every 4 ms (not a window multiple). */
  const double w_static = 3.25, interval = 1.5, interval_static = 4.0;
  const int D = 15; /* window = min delay 1.5 ms */
  char json[8192];
  int o = snprintf(json, sizeof json,
                   "{\"simulation\": {\"dt\": %g, \"t_stop\": 420.0},"
                   " \"populations\": ["
                   "  {\"name\": \"pre\", \"model\": \"spike_source\", \"size\": %d},"
                   "  {\"name\": \"post\", \"model\": \"spike_source\", \"size\": %d}],"
                   " \"projections\": ["
                   "  {\"source\": \"pre\", \"target\": \"post\", \"rule\": \"all_to_all\","
                   "   \"weight\": %g, \"delay\": 2.0},"
                   "  {\"source\": \"pre\", \"target\": \"post\","
                   "   \"rule\": \"one_to_one\", \"weight\": %g, \"delay\": %g,"
                   "   \"synapse\": {\"model\": \"stdp\", \"lambda\": %g, \"alpha\": %g,"
                   "    \"mu_plus\": 0, \"mu_minus\": 0, \"Wmax\": %g, \"tau_plus\": %g,"
                   "    \"tau_minus\": %g}}],"
                   " \"stimuli\": [{\"type\": \"spike_times\", \"target\": \"pre\", \"times\": [",
                   dt, NPAIR, NPAIR, w_static, w0, d, lambda, alpha, Wmax, tp, tm);
  for (int k = 0; k < NPAIR; k++)
    o += snprintf(json + o, sizeof json - o, "%s[%g, %g]", k ? ", " : "", T1, T2);
  o += snprintf(json + o, sizeof json - o,
                "]}, {\"type\": \"spike_times\", \"target\": \"post\", \"times\": [");
  for (int k = 0; k < NPAIR; k++)
    o += snprintf(json + o, sizeof json - o, "%s[%.10g]", k ? ", " : "", T1 - d + deltas[k]);
  snprintf(json + o, sizeof json - o,
           "]}], \"record\": {\"weights\": [{\"projection\": 1, \"interval\": %g},"
           " {\"projection\": 0, \"interval\": %g, \"sample\": 20}]}}",
           interval, interval_static);

  const char *strategies[] = {"round_robin", "block"};
  char path[2][1024];
  /* All collective work first: a failed check on rank 0 must not leave the
   * other ranks waiting in the next run. */
  for (int si = 0; si < 2; si++) {
    snprintf(path[si], sizeof path[si], "%s/stdp_%s.h5", g_dir, strategies[si]);
    run_recorded(json, strategies[si], path[si]);
  }
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  for (int si = 0; si < 2; si++) {
    hid_t f = H5Fopen(path[si], H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    /* --- the STDP projection (1) --- */
    hsize_t dm[2], dt_[2], dw[2];
    uint64_t *src = read_all(f, "/projections/1/source", H5T_NATIVE_UINT64, 8, dm);
    uint64_t *tgt = read_all(f, "/projections/1/target", H5T_NATIVE_UINT64, 8, dm);
    double *del = read_all(f, "/projections/1/delay", H5T_NATIVE_DOUBLE, 8, dm);
    double *t = read_all(f, "/projections/1/times", H5T_NATIVE_DOUBLE, 8, dt_);
    float *w = read_all(f, "/projections/1/weights", H5T_NATIVE_FLOAT, 4, dw);
    assert_int_equal(dm[0], NPAIR);
    assert_int_equal(dw[1], NPAIR);
    assert_int_equal(dw[0], dt_[0]);
    check_attr(f, "/projections/1", "source_population", "pre");
    check_attr(f, "/projections/1", "target_population", "post");
    check_attr(f, "/projections/1", "synapse_model", "stdp");
    for (int k = 0; k < NPAIR; k++) {
      assert_int_equal(src[k], k);
      assert_int_equal(tgt[k], NPAIR + k);
      assert_true(fabs(del[k] - d) < 1e-12);
    }
    /* Record times: 0, then the first window end (multiple of D steps) at
     * or after each multiple of the interval. */
    const int every = (int)lround(interval / dt);
    size_t nt = 0;
    {
      int64_t next = 0;
      for (int64_t hi = 0; hi <= 4200; hi += D)
        if (hi >= next) {
          assert_true(nt < dt_[0]);
          assert_true(fabs(t[nt] - hi * dt) < 1e-9);
          nt++;
          next = (hi / every + 1) * every;
        }
      assert_int_equal(nt, dt_[0]);
    }
    /* The step a pre spike at T is emitted in is T/dt - 1; it is delivered
     * (and the weight updated) at the end of that window. */
    const double t_upd1 = (double)(((lround(T1 / dt) - 1) / D + 1) * D) * dt;
    const double t_upd2 = (double)(((lround(T2 / dt) - 1) / D + 1) * D) * dt;
    assert_true(fabs(t_upd1 - 51.0) < 1e-9 && fabs(t_upd2 - 400.5) < 1e-9);
    for (int k = 0; k < NPAIR; k++) {
      const double tpost = T1 - d + deltas[k], Dl = deltas[k];
      /* Additive rule (mu = 0), evaluated independently. */
      double km1 = tpost < T1 - d ? exp(-(T1 - d - tpost) / tm) : 0.0;
      double km2 = exp(-(T2 - d - tpost) / tm);
      double kp = exp(-(tpost + d - T1) / tp);
      double w1 = (float)(w0 - alpha * lambda * Wmax * km1);
      double w2 = w1;
      if (Dl > 0) w2 = fmin(w2 + lambda * Wmax * kp, Wmax);
      w2 = fmax(w2 - alpha * lambda * Wmax * km2, 0);
      for (size_t r = 0; r < nt; r++) {
        const double want = t[r] < t_upd1 - 1e-9 ? w0 : t[r] < t_upd2 - 1e-9 ? w1 : w2;
        const double got = w[r * NPAIR + k];
        if (fabs(got - want) > 2e-6 * want) {
          fprintf(stderr, "%s pair %d (Delta %g) t = %g: %.9g, expected %.9g\n",
                  strategies[si], k, Dl, t[r], got, want);
          fail();
        }
      }
      /* When: depression at T1 only before the post spike... */
      if (Dl < 0) assert_true(w1 < w0);
      else assert_true(w1 == w0);
      /* ... potentiation shows at the T2 record for Delta > 0. */
      if (Dl > 0) assert_true(w2 > w0);
    }
    free(src), free(tgt), free(del), free(t), free(w);

    /* --- the static projection (0), sampled: first 20 of 36 --- */
    uint64_t *s0 = read_all(f, "/projections/0/source", H5T_NATIVE_UINT64, 8, dm);
    uint64_t *t0 = read_all(f, "/projections/0/target", H5T_NATIVE_UINT64, 8, dm);
    float *w0s = read_all(f, "/projections/0/weights", H5T_NATIVE_FLOAT, 4, dw);
    check_attr(f, "/projections/0", "synapse_model", "static");
    assert_int_equal(dm[0], 20);
    assert_int_equal(dw[1], 20);
    assert_int_equal(dw[0], 106); /* 0, then ceil(k 40 / 15) 15 steps, k <= 105 */
    for (int i = 0; i < 20; i++) { /* (target, source) order of all_to_all */
      assert_int_equal(t0[i], NPAIR + i / NPAIR);
      assert_int_equal(s0[i], i % NPAIR);
    }
    for (size_t i = 0; i < dw[0] * dw[1]; i++) assert_true(w0s[i] == (float)w_static);
    free(s0), free(t0), free(w0s);
    H5Fclose(f);
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (argc > 1) g_dir = argv[1];
  if (rank == 0) mkdir(g_dir, 0777);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank != 0 && !freopen("/dev/null", "w", stdout)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stdp_recording),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  int any;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any ? 1 : 0;
}

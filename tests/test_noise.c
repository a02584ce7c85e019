/* test_noise.c - the "noise" stimulus (Ornstein-Uhlenbeck current) against
 * its analytic statistics, and its determinism across ranks.
 * Runs on any number of ranks (meson runs it on 1-4) with the same
 * assertions:
 *  - statistics: the external current of 1000 neurons, read with
 *    ntw_engine_get_i_ext once per 1 ms window for 1.8 s, has the OU mean,
 *    stationary variance and autocorrelation e^{-1} at lag tau, each within
 *    5 standard errors computed from the AR(1) structure of the samples
 *    (Bartlett's formulas); the tolerances are asserted to be tight enough
 *    to tell e^{-1} from e^{-1.1};
 *  - the first active step is a stationary draw (mean and variance over the
 *    neurons at that very step), not a start at the mean;
 *  - additivity and switching: i_ext = DC sum + noise currents, a second
 *    noise stimulus with std 0 adds exactly its mean, a DC step during the
 *    noise shifts the mean, and after "stop" i_ext is exactly the DC sum;
 *  - spikes of a recurrent network driven by noise are bit-identical on
 *    P ranks (both partitions) and on one rank (rank 0 reruns serially),
 *    and change with the seed. */
#include <math.h>
#include <mpi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "comm/comm.h"
#include "core/ntw_error.h"
#include "engine.h"
#include "io/config.h"
#include "partition/partition.h"

#include "testlib.h"

/* Shared helpers (testlib.h) under this file's historical names. */
typedef ntw_test_sim sim;
#define sim_free ntw_test_sim_free
#define sim_build ntw_test_sim_build

/* ---- statistics ---- */

enum { NN = 1000, NWIN = 1850 };
static const double DT = 0.1, MU = 25.0, SIGMA = 60.0, TAU = 5.0;
static const double DC0 = 40.0, OFFSET = 7.0, DC1 = 10.0, T_DC1 = 500.0;
static const double T_START = 0.9, T_STOP = 1800.0;

typedef struct {
  uint64_t n_local;
  uint64_t *gids; /* local gids */
  double *x;      /* x[w * n_local + j]: i_ext after window w */
  int nwin;
} samples;

static int sample_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  samples *s = ctx;
  assert_int_equal(hi - lo, 10); /* windows of 1 ms: no projections */
  if (s->nwin >= NWIN) return 0;
  for (uint64_t j = 0; j < s->n_local; j++)
    s->x[(size_t)s->nwin * s->n_local + j] = ntw_engine_get_i_ext(e, s->gids[j]);
  s->nwin++;
  return 0;
}

/* Expected mean of window w's sample (taken in step 10 (w+1) - 1). */
static double mean_at(int w) {
  const double t = (w + 1) * 1.0 - DT; /* time of the sampled step */
  return DC0 + OFFSET + MU + (t >= T_DC1 - 1e-9 ? DC1 : 0.0);
}

static double sum_all(double x) {
  double g;
  MPI_Allreduce(&x, &g, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return g;
}

static void check(const char *what, double got, double want, double se) {
  if (!(fabs(got - want) <= 5.0 * se)) {
    fprintf(stderr, "%s: %.6g, expected %.6g +- 5 x %.3g\n", what, got, want, se);
    fail();
  }
}

static void test_ou_statistics(void **state) {
  (void)state;
  char json[2048];
  snprintf(json, sizeof json,
           "{\"simulation\": {\"dt\": %g, \"t_stop\": %d, \"seed\": 4711},"
           " \"populations\": [{\"name\": \"N\", \"model\": \"spike_source\", \"size\": %d}],"
           " \"stimuli\": ["
           "  {\"type\": \"dc\", \"target\": \"N\", \"amplitude\": %g},"
           "  {\"type\": \"noise\", \"target\": \"N\", \"mean\": %g, \"std\": %g,"
           "   \"tau\": %g, \"start\": %g, \"stop\": %g},"
           "  {\"type\": \"noise\", \"target\": \"N\", \"mean\": %g, \"std\": 0, \"tau\": 1},"
           "  {\"type\": \"dc\", \"target\": \"N\", \"amplitude\": %g, \"start\": %g}]}",
           DT, NWIN, NN, DC0, MU, SIGMA, TAU, T_START, T_STOP, OFFSET, DC1, T_DC1);
  sim m;
  sim_build(&m, json, MPI_COMM_WORLD, "round_robin");
  samples s = {0};
  ntw_engine_stats st;
  ntw_engine_get_stats(m.eng, &st);
  s.n_local = st.n_local;
  s.gids = malloc((s.n_local + 1) * sizeof *s.gids);
  s.x = malloc(((size_t)NWIN * s.n_local + 1) * sizeof *s.x);
  assert_non_null(s.gids);
  assert_non_null(s.x);
  for (uint64_t g = 0, j = 0; g < NN; g++)
    if (!isnan(ntw_engine_get_i_ext(m.eng, g))) s.gids[j++] = g;
  /* Before the first step: the DC part only (the first DC starts at 0, but
   * DC events are applied in their step). */
  for (uint64_t j = 0; j < s.n_local; j++)
    assert_true(ntw_engine_get_i_ext(m.eng, s.gids[j]) == 0.0);
  assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, sample_hook, &s), 0);
  assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, NWIN)), 0);
  assert_int_equal(s.nwin, NWIN);

  const int W_STOP = (int)lround(T_STOP); /* first window sampled at or after stop */
  const int L = (int)lround(TAU);         /* lag tau in samples (1 ms apart) */
  const double phi = exp(-1.0 / TAU);     /* sample-to-sample correlation */
  const double s2 = SIGMA * SIGMA;

  /* 1. The first active step (step 9, sampled by window 0) is stationary. */
  double a1 = 0, a2 = 0;
  for (uint64_t j = 0; j < s.n_local; j++) {
    double y = s.x[j] - mean_at(0);
    a1 += y, a2 += y * y;
  }
  a1 = sum_all(a1) / NN, a2 = sum_all(a2) / NN;
  check("mean at the first active step", a1, 0.0, SIGMA / sqrt(NN));
  check("variance at the first active step", a2, s2, s2 * sqrt(2.0 / NN));

  /* 2. Mean, variance and lag-tau autocovariance over all windows with
   * noise, centred on the known mean (so the estimators are unbiased). */
  double m1 = 0, m2 = 0, mc = 0, nc = 0;
  for (int w = 0; w < W_STOP; w++)
    for (uint64_t j = 0; j < s.n_local; j++) {
      double y = s.x[(size_t)w * s.n_local + j] - mean_at(w);
      m1 += y, m2 += y * y;
      if (w + L < W_STOP) {
        mc += y * (s.x[(size_t)(w + L) * s.n_local + j] - mean_at(w + L));
        nc += 1;
      }
    }
  const double n = (double)NN * W_STOP;
  m1 = sum_all(m1) / n, m2 = sum_all(m2) / n;
  mc = sum_all(mc) / sum_all(nc);
  /* Standard errors for an AR(1) sequence with autocovariance
   * g_k = s2 phi^|k|, averaged over NN independent neurons:
   *  Var(mean) = (1/n) sum_k g_k,
   *  Var(c_l)  = (1/n_l) sum_k (g_k^2 + g_{k+l} g_{k-l}) (Bartlett). */
  double sg = 0, sgg0 = 0, sggl = 0;
  for (int k = -400; k <= 400; k++) {
    sg += s2 * pow(phi, abs(k));
    sgg0 += 2.0 * s2 * s2 * pow(phi, 2 * abs(k));
    sggl += s2 * s2 * (pow(phi, 2 * abs(k)) + pow(phi, abs(k + L) + abs(k - L)));
  }
  const double n_l = (double)NN * (W_STOP - L);
  const double se_mean = sqrt(sg / n), se_var = sqrt(sgg0 / n), se_cov = sqrt(sggl / n_l);
  check("mean", m1, 0.0, se_mean);
  check("variance", m2, s2, se_var);
  check("autocorrelation at lag tau", mc / s2, exp(-1.0), se_cov / s2);
  /* Power: a wrong correlation time (e^{-1.1} at lag tau) or a variance off
   * by 2 % would be caught. */
  assert_true(5.0 * se_cov / s2 < exp(-1.0) - exp(-1.1));
  assert_true(5.0 * se_var / s2 < 0.02);

  /* 3. After stop: exactly the DC sum plus the constant second stimulus. */
  for (int w = W_STOP; w < NWIN; w++)
    for (uint64_t j = 0; j < s.n_local; j++)
      assert_true(s.x[(size_t)w * s.n_local + j] == DC0 + DC1 + OFFSET);
  free(s.x);
  free(s.gids);
  sim_free(&m);
}

/* ---- determinism ---- */

typedef struct {
  uint64_t *gid;
  int64_t *step;
  size_t n, cap;
} spikes;

static int collect(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  spikes *s = ctx;
  const uint64_t *g;
  const int64_t *st;
  size_t n;
  ntw_engine_window_spikes(e, &g, &st, &n);
  if (s->n + n > s->cap) {
    s->cap = 2 * (s->n + n) + 1024;
    s->gid = realloc(s->gid, s->cap * sizeof *s->gid);
    s->step = realloc(s->step, s->cap * sizeof *s->step);
    assert_non_null(s->gid);
    assert_non_null(s->step);
  }
  if (n == 0) return 0; /* g, st and s->gid may all be NULL */
  memcpy(s->gid + s->n, g, n * sizeof *g);
  memcpy(s->step + s->n, st, n * sizeof *st);
  s->n += n;
  return 0;
}

/* Spikes as sorted keys (step << 32 | gid), gathered on every rank of mc. */
static uint64_t *run_keys(const char *json, MPI_Comm mc, const char *strategy,
                          size_t *nout) {
  sim m;
  sim_build(&m, json, mc, strategy);
  spikes s = {0};
  assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, collect, &s), 0);
  assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, m.cfg->sim.t_stop)), 0);
  int P, n = (int)s.n, tot = 0;
  MPI_Comm_size(mc, &P);
  int *cnt = malloc(P * sizeof *cnt), *dis = malloc(P * sizeof *dis);
  uint64_t *loc = malloc((s.n + 1) * sizeof *loc);
  for (size_t k = 0; k < s.n; k++) loc[k] = (uint64_t)s.step[k] << 32 | s.gid[k];
  MPI_Allgather(&n, 1, MPI_INT, cnt, 1, MPI_INT, mc);
  for (int r = 0; r < P; r++) dis[r] = tot, tot += cnt[r];
  uint64_t *all = malloc(((size_t)tot + 1) * sizeof *all);
  MPI_Allgatherv(loc, n, MPI_UINT64_T, all, cnt, dis, MPI_UINT64_T, mc);
  for (size_t i = 1; i < (size_t)tot; i++) /* insertion sort: nearly sorted */
    for (size_t j = i; j > 0 && all[j - 1] > all[j]; j--) {
      uint64_t t = all[j];
      all[j] = all[j - 1];
      all[j - 1] = t;
    }
  free(cnt), free(dis), free(loc), free(s.gid), free(s.step);
  sim_free(&m);
  *nout = (size_t)tot;
  return all;
}

static void noisy_net(char *json, size_t cap, int seed) {
  snprintf(json, cap,
           "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 300.0, \"seed\": %d},"
           " \"populations\": ["
           "  {\"name\": \"E\", \"model\": \"iaf_psc_delta\", \"size\": 160, \"params\":"
           "   {\"E_L\": 0, \"V_th\": 20, \"V_reset\": 10, \"tau_m\": 10, \"C_m\": 250, \"t_ref\": 2}},"
           "  {\"name\": \"I\", \"model\": \"iaf_psc_exp\", \"size\": 40}],"
           " \"projections\": ["
           "  {\"source\": \"E\", \"target\": \"E\", \"rule\": \"fixed_indegree\", \"indegree\": 20,"
           "   \"weight\": 0.3, \"delay\": 1.5},"
           "  {\"source\": \"E\", \"target\": \"I\", \"rule\": \"fixed_indegree\", \"indegree\": 20,"
           "   \"weight\": 40, \"delay\": 1.0},"
           "  {\"source\": \"I\", \"target\": \"E\", \"rule\": \"fixed_indegree\", \"indegree\": 10,"
           "   \"weight\": -1.0, \"delay\": 2.0}],"
           " \"stimuli\": ["
           "  {\"type\": \"noise\", \"target\": \"E\", \"mean\": 420, \"std\": 250, \"tau\": 3},"
           "  {\"type\": \"noise\", \"target\": \"I\", \"mean\": 200, \"std\": 150, \"tau\": 8,"
           "   \"start\": 20.05, \"stop\": 250},"
           "  {\"type\": \"dc\", \"target\": \"E\", \"amplitude\": -50, \"start\": 100, \"stop\": 150}]}",
           seed);
}

static void test_noise_rank_invariant(void **state) {
  (void)state;
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char json[4096];
  noisy_net(json, sizeof json, 17);
  size_t nref = 0, nother = 0;
  uint64_t *ref = NULL;
  if (rank == 0) {
    ref = run_keys(json, MPI_COMM_SELF, "round_robin", &nref);
    assert_true(nref > 500); /* the noise drives the network */
    char json2[4096];
    noisy_net(json2, sizeof json2, 18);
    uint64_t *other = run_keys(json2, MPI_COMM_SELF, "round_robin", &nother);
    assert_true(nother != nref || memcmp(other, ref, nref * sizeof *ref) != 0);
    free(other);
  }
  uint64_t nb = nref;
  MPI_Bcast(&nb, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  if (rank != 0) ref = malloc((nb + 1) * sizeof *ref);
  MPI_Bcast(ref, (int)nb, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  const char *strategies[] = {"round_robin", "block"};
  for (int s = 0; s < 2; s++) {
    size_t n = 0;
    uint64_t *got = run_keys(json, MPI_COMM_WORLD, strategies[s], &n);
    assert_int_equal(n, nb);
    assert_memory_equal(got, ref, n * sizeof *got);
    free(got);
  }
  free(ref);
}

static void test_bad_noise(void **state) {
  (void)state;
  const struct {
    const char *stim, *field;
  } cases[] = {
      {"\"std\": -1, \"tau\": 5", "test.json: stimuli[0].std"},
      {"\"std\": 1, \"tau\": 0", "test.json: stimuli[0].tau"},
      {"\"std\": 1, \"tau\": -3", "test.json: stimuli[0].tau"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 1},"
             " \"populations\": [{\"name\": \"A\", \"model\": \"iaf_psc_delta\", \"size\": 4}],"
             " \"stimuli\": [{\"type\": \"noise\", \"target\": \"A\", %s}]}",
             cases[k].stim);
    ntw_config *cfg = NULL;
    assert_int_not_equal(ntw_config_parse(json, strlen(json), "test.json", &cfg), 0);
    assert_null(cfg);
    if (!strstr(ntw_error_msg(), cases[k].field)) {
      fprintf(stderr, "case %zu: '%s' lacks '%s'\n", k, ntw_error_msg(), cases[k].field);
      fail();
    }
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ou_statistics),
    cmocka_unit_test(test_noise_rank_invariant),
    cmocka_unit_test(test_bad_noise),
};

NTW_TEST_MAIN(tests)

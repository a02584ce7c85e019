/* test_plasticity.c - synaptic plasticity against analytic results.
 * Runs on 1-4 ranks with the same assertions.
 *  - STDP pairing: one pre and one post spike (spike_source neurons forced
 *    by spike_times) per pair, a late pre spike to apply the facilitation
 *    (NEST's updates happen at pre spikes); the final weight equals the
 *    analytic window w0 + lambda Wmax exp(-Delta/tau_plus) (Delta > 0) or
 *    w0 - alpha lambda Wmax exp(Delta/tau_minus) (Delta < 0), Delta =
 *    t_post + d - t_pre, for additive, multiplicative and power-law rules;
 *  - nearest-spike vs all-to-all pairing of the post trace;
 *  - Tsodyks-Markram: PSP amplitudes of a regular train equal the analytic
 *    recursion u_{n+1} = U + u_n (1-U) e^{-h/tau_fac},
 *    x_{n+1} = 1 + (x_n - u_n x_n - 1) e^{-h/tau_rec};
 *  - plastic weights after a run of a recurrent network are bit-identical on
 *    any number of ranks and partitions (rank 0 reruns it serially). */
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
typedef ntw_test_spikes spikes;
typedef ntw_test_sim sim;
#define collect ntw_test_collect
#define sim_free ntw_test_sim_free
#define sim_build ntw_test_sim_try

/* Weight of the synapse src -> tgt, from whichever rank holds it. */
typedef struct {
  uint64_t src, tgt;
  double w;
  int found;
} wfind;

static void find_syn(uint64_t src, uint64_t tgt, float w, int d, void *ctx) {
  wfind *f = ctx;
  if (src == f->src && tgt == f->tgt) f->w = w, f->found++;
}

static double weight_of(ntw_engine *e, uint64_t src, uint64_t tgt) {
  wfind f = {src, tgt, 0, 0};
  ntw_engine_foreach_synapse(e, find_syn, &f);
  double w = f.found ? f.w : -INFINITY, wmax;
  int n;
  MPI_Allreduce(&w, &wmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&f.found, &n, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  assert_int_equal(n, 1);
  return wmax;
}

enum { RULE_ADD, RULE_MULT, RULE_PL };

/* One pair per Delta: pre k spikes at T1 and T2, post k at T1 - d + Delta. */
static void run_pairing(int rule) {
  /* 0 and 0.1 test the open/closed ends of NEST's intervals: a post spike
   * exactly at t_pre - d neither depresses nor potentiates. */
  const double deltas[] = {-40, -20, -10, -5, -1.3, 0, 0.1, 2.5, 5, 10, 20, 40};
  const int n = 12;
  const double d = 1.5, T1 = 50.0, T2 = 400.0, w0 = 50.0, Wmax = 100.0;
  const double lambda = rule == RULE_PL ? 0.05 : 0.01, alpha = 1.2,
               tp = 16.8, tm = 33.7, mu = 0.4;
  char json[16384];
  int o = snprintf(json, sizeof json,
                   "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 420.0},"
                   " \"populations\": ["
                   "  {\"name\": \"pre\", \"model\": \"spike_source\", \"size\": %d},"
                   "  {\"name\": \"post\", \"model\": \"spike_source\", \"size\": %d}],"
                   " \"projections\": [{\"source\": \"pre\", \"target\": \"post\","
                   "   \"rule\": \"one_to_one\", \"weight\": %g, \"delay\": %g,"
                   "   \"synapse\": {",
                   n, n, w0, d);
  if (rule == RULE_PL)
    o += snprintf(json + o, sizeof json - o,
                  "\"model\": \"stdp_pl_hom\", \"lambda\": %g, \"alpha\": %g,"
                  " \"mu\": %g, \"tau_plus\": %g, \"tau_minus\": %g",
                  lambda, alpha, mu, tp, tm);
  else
    o += snprintf(json + o, sizeof json - o,
                  "\"model\": \"stdp\", \"lambda\": %g, \"alpha\": %g,"
                  " \"mu_plus\": %d, \"mu_minus\": %d, \"Wmax\": %g,"
                  " \"tau_plus\": %g, \"tau_minus\": %g",
                  lambda, alpha, rule == RULE_MULT, rule == RULE_MULT, Wmax, tp, tm);
  o += snprintf(json + o, sizeof json - o,
                "}}], \"stimuli\": [{\"type\": \"spike_times\", \"target\": \"pre\","
                " \"times\": [");
  for (int k = 0; k < n; k++)
    o += snprintf(json + o, sizeof json - o, "%s[%g, %g]", k ? ", " : "", T1, T2);
  o += snprintf(json + o, sizeof json - o,
                "]}, {\"type\": \"spike_times\", \"target\": \"post\", \"times\": [");
  for (int k = 0; k < n; k++)
    o += snprintf(json + o, sizeof json - o, "%s[%.10g]", k ? ", " : "",
                  T1 - d + deltas[k]);
  snprintf(json + o, sizeof json - o, "]}]}");

  const char *strategies[] = {"round_robin", "block"};
  for (int sidx = 0; sidx < 2; sidx++) {
    sim m;
    int err = sim_build(&m, json, MPI_COMM_WORLD, strategies[sidx]);
    if (err) fprintf(stderr, "%s\n", ntw_error_msg());
    assert_int_equal(err, 0);
    assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, 420.0)), 0);
    for (int k = 0; k < n; k++) {
      const double tpost = T1 - d + deltas[k], D = deltas[k];
      /* Independent evaluation of the rule at the two pre spikes. */
      double w = w0;
      /* T1: no earlier pre spike (K+ = 0); depression by the post trace at
       * T1 - d if the post spike came strictly before. */
      double km1 = tpost < T1 - d ? exp(-(T1 - d - tpost) / tm) : 0.0;
      double km2 = exp(-(T2 - d - tpost) / tm);
      double kp = exp(-(tpost + d - T1) / tp); /* pre trace at the post spike */
      if (rule == RULE_ADD) {
        w = w - alpha * lambda * Wmax * km1;
        w = (float)w;
        if (D > 0) w = fmin(w + lambda * Wmax * kp, Wmax);
        w = fmax(w - alpha * lambda * Wmax * km2, 0);
      } else if (rule == RULE_MULT) {
        w = w - alpha * lambda * w * km1;
        w = (float)w;
        if (D > 0) w = w + lambda * (Wmax - w) * kp;
        w = w - alpha * lambda * w * km2;
      } else {
        w = w - lambda * alpha * w * km1;
        w = (float)w;
        if (D > 0) w = w + lambda * pow(w, mu) * kp;
        w = w - lambda * alpha * w * km2;
      }
      double got = weight_of(m.eng, (uint64_t)k, (uint64_t)(n + k));
      if (fabs(got - w) > 2e-6 * w) {
        fprintf(stderr, "rule %d Delta %g: weight %.9g, expected %.9g\n", rule, D,
                got, w);
        fail();
      }
      /* The window's sign: potentiation after, depression before. */
      if (D > 0) assert_true(got > w0);
      if (D < 0) assert_true(got < w0);
    }
    sim_free(&m);
  }
}

static void test_stdp_additive(void **s) { (void)s; run_pairing(RULE_ADD); }
static void test_stdp_multiplicative(void **s) { (void)s; run_pairing(RULE_MULT); }
static void test_stdp_power_law(void **s) { (void)s; run_pairing(RULE_PL); }

/* Pair 0: two post spikes before one pre spike: all-to-all sums both post
 * traces, nearest-spike pairing sees only the later one. Pair 1: two pre
 * spikes before one post spike (then a late pre spike applies it):
 * all-to-all facilitates with both pre traces, nearest with the last. */
static void test_stdp_pairing_modes(void **state) {
  (void)state;
  const char *models[] = {"stdp", "stdp_nn_symm"};
  for (int m_ = 0; m_ < 2; m_++) {
    char json[2048];
    snprintf(json, sizeof json,
             "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 320.0},"
             " \"populations\": [{\"name\": \"pre\", \"model\": \"spike_source\", \"size\": 2},"
             "  {\"name\": \"post\", \"model\": \"spike_source\", \"size\": 2}],"
             " \"projections\": [{\"source\": \"pre\", \"target\": \"post\","
             "  \"rule\": \"one_to_one\", \"weight\": 50, \"delay\": 1.0,"
             "  \"synapse\": {\"model\": \"%s\", \"lambda\": 0.01, \"alpha\": 1,"
             "   \"mu_plus\": 0, \"mu_minus\": 0, \"Wmax\": 100, \"tau_minus\": 20,"
             "   \"tau_plus\": 20}}],"
             " \"stimuli\": [{\"type\": \"spike_times\", \"target\": \"pre\","
             "   \"times\": [[60.0], [20.0, 30.0, 300.0]]},"
             "  {\"type\": \"spike_times\", \"target\": \"post\", \"times\": [[40.0, 50.0], [35.0]]}]}",
             models[m_]);
    sim m;
    int err = sim_build(&m, json, MPI_COMM_WORLD, "round_robin");
    if (err) fprintf(stderr, "%s\n", ntw_error_msg());
    assert_int_equal(err, 0);
    assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, 320.0)), 0);
    /* Pair 0: t_pre - d = 59: post spikes at 40 and 50 are 19 and 9 ms before. */
    double K = m_ == 0 ? exp(-19.0 / 20) + exp(-9.0 / 20) : exp(-9.0 / 20);
    double expect = 50.0 - 0.01 * 100.0 * K;
    double got = weight_of(m.eng, 0, 2);
    assert_true(fabs(got - expect) < 1e-5);
    /* Pair 1: pre trace at the post spike (35 + d = 36). */
    double kp = m_ == 0 ? (1.0 + exp(-10.0 / 20)) * exp(-6.0 / 20) : exp(-6.0 / 20);
    double w = 50.0 + 0.01 * 100.0 * kp;
    w -= 0.01 * 100.0 * exp(-(299.0 - 35.0) / 20); /* depression at 300 */
    got = weight_of(m.eng, 1, 3);
    if (fabs(got - w) > 1e-5) {
      fprintf(stderr, "%s pair 1: weight %.9g, expected %.9g\n", models[m_], got, w);
      fail();
    }
    sim_free(&m);
  }
}

/* Tsodyks-Markram: regular train onto a non-spiking LIF (delta synapses,
 * window of one step); the input of the arrival step is
 * V_k - P33 V_{k-1}, which must equal w u_n x_n. */
typedef struct {
  double v[4096];
  int n;
} vtrace;

static int trace_v(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  vtrace *t = ctx;
  if (t->n < 4096) t->v[t->n++] = ntw_engine_get_v(e, 1);
  return 0;
}

static void test_tsodyks_recursion(void **state) {
  (void)state;
  const double U = 0.3, trec = 120.0, tfac = 350.0, w = 2.0, f = 40.0;
  const int nsp = 12;
  char times[1024];
  int o = 0;
  for (int k = 0; k < nsp; k++)
    o += snprintf(times + o, sizeof times - o, "%s%g", k ? ", " : "", 5.0 + k * 1000.0 / f);
  char json[4096];
  snprintf(json, sizeof json,
           "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 330.0},"
           " \"populations\": [{\"name\": \"pre\", \"model\": \"spike_source\", \"size\": 1},"
           "  {\"name\": \"post\", \"model\": \"iaf_psc_delta\", \"size\": 1, \"params\":"
           "   {\"E_L\": 0, \"V_m\": 0, \"V_th\": 1e5, \"V_reset\": 0, \"tau_m\": 10}}],"
           " \"projections\": [{\"source\": \"pre\", \"target\": \"post\","
           "  \"rule\": \"one_to_one\", \"weight\": %g, \"delay\": 0.1,"
           "  \"synapse\": {\"model\": \"tsodyks2\", \"U\": %g, \"tau_rec\": %g, \"tau_fac\": %g}}],"
           " \"stimuli\": [{\"type\": \"spike_times\", \"target\": \"pre\", \"times\": [[%s]]}]}",
           w, U, trec, tfac, times);
  sim m;
  int err = sim_build(&m, json, MPI_COMM_WORLD, "round_robin");
  if (err) fprintf(stderr, "%s\n", ntw_error_msg());
  assert_int_equal(err, 0);
  vtrace *t = calloc(1, sizeof *t);
  assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, trace_v, t), 0);
  assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, 330.0)), 0);
  if (!isnan(t->v[0])) { /* the rank owning the post neuron checks */
    const double P33 = exp(-0.1 / 10.0);
    /* Arrival of spike k (stamp s_k) in step s_k + d - 1 = s_k: V(s_k + 1). */
    double u = 0, x = 1;
    for (int k = 0; k < nsp; k++) {
      if (k == 0) {
        u = U, x = 1;
      } else {
        double h = 1000.0 / f;
        x = 1 + (x - x * u - 1) * exp(-h / trec);
        u = U + u * (1 - U) * exp(-h / tfac);
      }
      long stamp = lround((5.0 + k * 1000.0 / f) / 0.1);
      /* t->v[j] is V at the end of step j (windows are one step). */
      double in = t->v[stamp] - P33 * t->v[stamp - 1];
      if (fabs(in - w * u * x) > 1e-9) {
        fprintf(stderr, "spike %d: PSP %.12g, expected %.12g\n", k, in, w * u * x);
        fail();
      }
    }
    /* facilitation then depression: the recursion is not flat */
    assert_true(fabs(t->v[lround(5.0 / 0.1)] - P33 * t->v[lround(5.0 / 0.1) - 1] - w * U) < 1e-12);
  }
  free(t);
  sim_free(&m);
}

/* Plastic weights of a recurrent network after 300 ms: the same digest on
 * P ranks (both partitions) as on one rank. */
typedef struct {
  uint64_t n, sum, xsum;
} digest;

static uint64_t mix(uint64_t x) {
  x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
  return x;
}

static void digest_syn(uint64_t src, uint64_t tgt, float w, int d, void *ctx) {
  digest *g = ctx;
  uint32_t wb;
  memcpy(&wb, &w, 4);
  uint64_t h = mix(mix(mix(src) ^ tgt) ^ ((uint64_t)wb << 16 | (uint64_t)d));
  g->n++, g->sum += h, g->xsum ^= mix(h);
}

static const char *recurrent_json =
    "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 300.0, \"seed\": 99},"
    " \"populations\": ["
    "  {\"name\": \"E\", \"model\": \"iaf_psc_delta\", \"size\": 400, \"params\":"
    "   {\"E_L\": 0, \"V_th\": 20, \"V_reset\": 10, \"tau_m\": 20, \"t_ref\": 2,"
    "    \"V_m\": {\"distribution\": \"uniform\", \"low\": 0, \"high\": 20}}},"
    "  {\"name\": \"I\", \"model\": \"iaf_psc_delta\", \"size\": 100, \"params\":"
    "   {\"E_L\": 0, \"V_th\": 20, \"V_reset\": 10, \"tau_m\": 20, \"t_ref\": 2}}],"
    " \"projections\": ["
    "  {\"source\": \"E\", \"target\": \"E\", \"rule\": \"fixed_indegree\", \"indegree\": 40,"
    "   \"weight\": {\"distribution\": \"uniform\", \"low\": 0.1, \"high\": 0.3},"
    "   \"delay\": {\"distribution\": \"uniform\", \"low\": 1.0, \"high\": 3.0},"
    "   \"synapse\": {\"model\": \"stdp\", \"lambda\": 0.02, \"Wmax\": 1.0, \"mu_plus\": 0, \"mu_minus\": 1}},"
    "  {\"source\": \"E\", \"target\": \"I\", \"rule\": \"fixed_indegree\", \"indegree\": 40,"
    "   \"weight\": 0.4, \"delay\": 1.5, \"synapse\": {\"model\": \"tsodyks2\", \"U\": 0.4, \"tau_rec\": 200}},"
    "  {\"source\": \"I\", \"target\": \"E\", \"rule\": \"fixed_indegree\", \"indegree\": 10,"
    "   \"weight\": -1.0, \"delay\": 1.5},"
    "  {\"source\": \"E\", \"target\": \"E\", \"rule\": \"fixed_indegree\", \"indegree\": 10,"
    "   \"weight\": 0.5, \"delay\": 2.0, \"synapse\": {\"model\": \"stdp_pl_hom\", \"lambda\": 0.05}}],"
    " \"stimuli\": [{\"type\": \"poisson\", \"target\": \"E\", \"rate\": 15000, \"weight\": 0.1},"
    "  {\"type\": \"poisson\", \"target\": \"I\", \"rate\": 15000, \"weight\": 0.1}]}";

static void test_plastic_weights_rank_invariant(void **state) {
  (void)state;
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  digest ref = {0, 0, 0}, ref0 = {0, 0, 0};
  if (rank == 0) {
    sim m;
    assert_int_equal(sim_build(&m, recurrent_json, MPI_COMM_SELF, "round_robin"), 0);
    ntw_engine_foreach_synapse(m.eng, digest_syn, &ref0);
    assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, 300.0)), 0);
    ntw_engine_foreach_synapse(m.eng, digest_syn, &ref);
    ntw_engine_stats st;
    ntw_engine_get_stats(m.eng, &st);
    assert_true(st.spikes_local > 2000); /* the network is active */
    sim_free(&m);
    /* the weights did change */
    assert_true(ref.sum != ref0.sum);
  }
  MPI_Bcast(&ref, sizeof ref, MPI_BYTE, 0, MPI_COMM_WORLD);
  const char *strategies[] = {"round_robin", "block"};
  for (int s = 0; s < 2; s++) {
    sim m;
    assert_int_equal(sim_build(&m, recurrent_json, MPI_COMM_WORLD, strategies[s]), 0);
    assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, 300.0)), 0);
    digest loc = {0, 0, 0}, tot;
    ntw_engine_foreach_synapse(m.eng, digest_syn, &loc);
    MPI_Allreduce(&loc.n, &tot.n, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&loc.sum, &tot.sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&loc.xsum, &tot.xsum, 1, MPI_UINT64_T, MPI_BXOR, MPI_COMM_WORLD);
    assert_int_equal(tot.n, ref.n);
    assert_true(tot.sum == ref.sum);
    assert_true(tot.xsum == ref.xsum);
    sim_free(&m);
  }
}

/* Bad input names the field. */
static void test_bad_synapse(void **state) {
  (void)state;
  const struct {
    const char *syn, *field;
  } cases[] = {
      {"{\"model\": \"stdpp\"}", "projections[0].synapse.model"},
      {"{\"model\": \"stdp\", \"tau_plus\": -1}", "projections[0].synapse.tau_plus"},
      {"{\"model\": \"stdp\", \"lamda\": 0.1}", "projections[0].synapse.lamda"},
      {"{\"model\": \"stdp\", \"Wmax\": 0.05}", "projections[0].weight"},
      {"{\"model\": \"tsodyks2\", \"U\": 1.5}", "projections[0].synapse.U"},
      {"{\"model\": \"stdp_pl_hom\", \"mu\": -0.1}", "projections[0].synapse.mu"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 1},"
             " \"populations\": [{\"name\": \"A\", \"model\": \"iaf_psc_delta\", \"size\": 4}],"
             " \"projections\": [{\"source\": \"A\", \"target\": \"A\", \"rule\": \"all_to_all\","
             "  \"weight\": 0.1, \"delay\": 1, \"synapse\": %s}]}",
             cases[k].syn);
    sim m;
    int err = sim_build(&m, json, MPI_COMM_WORLD, "round_robin");
    assert_int_not_equal(err, 0);
    if (!strstr(ntw_error_msg(), cases[k].field)) {
      fprintf(stderr, "case %zu: message '%s' lacks '%s'\n", k, ntw_error_msg(),
              cases[k].field);
      fail();
    }
    sim_free(&m);
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_stdp_additive),
    cmocka_unit_test(test_stdp_multiplicative),
    cmocka_unit_test(test_stdp_power_law),
    cmocka_unit_test(test_stdp_pairing_modes),
    cmocka_unit_test(test_tsodyks_recursion),
    cmocka_unit_test(test_plastic_weights_rank_invariant),
    cmocka_unit_test(test_bad_synapse),
};

NTW_TEST_MAIN(tests)

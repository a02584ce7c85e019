/* test_poisson.c - the "poisson" stimulus: its per-step counts against the
 * Poisson distribution, and the exact draws against a reference written
 * from the definition (engine.h, engine.c: add_poisson).
 * Runs on any number of ranks (meson runs it on 1-4, with overlap and with
 * a coupling rank) with the same assertions:
 *  - statistics: for lambda = 0.02, 0.2, 1 (block method) and 5 (per-step
 *    table), the counts of every step of 1000-4000 neurons over 4800 steps
 *    (read from a membrane that forgets everything each step: V = count)
 *    have mean lambda, variance lambda, P(0) = e^-lambda, lag-1 correlation
 *    0 inside a block of 16 steps and across block boundaries, variance of
 *    the 16-step block sums 16 lambda, each within 5 standard errors, and
 *    events are uniform over the 16 steps of a block (chi-square, 15
 *    degrees of freedom, p = 5.7e-7: the two-sided tail of 5 SE). The
 *    tolerances are asserted tight enough to catch a block mean off by one
 *    step (15 or 17 lambda);
 *  - exact draws: the input of four devices (block and table methods, a
 *    mean of 40 per block whose events need extra Philox calls, start and
 *    stop inside blocks) on an integrating membrane equals a reference
 *    computed here from the definition (Philox keyed (gid, block), N by
 *    inversion, nibbles for the steps), bit for bit at every window end,
 *    with windows of 1, 7, 16, 17 and 23 steps (not multiples of 16, or
 *    16 itself), a run interrupted mid-block, both partitions. */
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

#include "core/rng.h"
#include "engine.h"

#include "testlib.h"

typedef ntw_test_sim sim;

static double sum_all(double x) {
  double g;
  MPI_Allreduce(&x, &g, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return g;
}

static void check(const char *what, double lambda, double got, double want,
                  double se) {
  if (!(fabs(got - want) <= 5.0 * se)) {
    fprintf(stderr, "lambda %g: %s: %.6g, expected %.6g +- 5 x %.3g\n", lambda,
            what, got, want, se);
    fail();
  }
}

/* The gids of population [first, first + n) owned by this rank. */
static uint64_t *local_gids(const sim *m, uint64_t first, uint64_t n, size_t *nl) {
  uint64_t *g = malloc((n + 1) * sizeof *g);
  assert_non_null(g);
  *nl = 0;
  for (uint64_t k = first; k < first + n; k++)
    if (!isnan(ntw_engine_get_v(m->eng, k))) g[(*nl)++] = k;
  return g;
}

/* ---- statistics ---- */

enum { NPOP = 4, T_STEPS = 4800, B = NTW_POISSON_BLOCK };
static const double LAMBDA[NPOP] = {0.02, 0.2, 1.0, 5.0};
static const int SIZE[NPOP] = {4000, 2000, 1000, 1000};

typedef struct {
  uint64_t *gid[NPOP];
  size_t n[NPOP];
  int *prev[NPOP];  /* count of the previous step, per local neuron */
  int *bsum[NPOP];  /* sum over the current block */
  /* sums: c - lambda, (c - lambda)^2, zeros, lag-1 products inside and
   * across blocks (and their numbers), block-sum deviations squared,
   * events per step of the block */
  double s1[NPOP], s2[NPOP], z[NPOP], lin[NPOP], nin[NPOP], lacross[NPOP],
      nacross[NPOP], bs2[NPOP], nb[NPOP], pos[NPOP][B];
  int64_t steps;
  int bad; /* a V that was not a whole count */
} stats;

static int stats_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  stats *S = ctx;
  assert_int_equal(hi - lo, 1); /* windows of one step */
  const int q = (int)(lo % B);
  for (int p = 0; p < NPOP; p++) {
    const double l = LAMBDA[p];
    for (size_t j = 0; j < S->n[p]; j++) {
      const double v = ntw_engine_get_v(e, S->gid[p][j]);
      const int c = (int)lround(v);
      S->bad += v != (double)c;
      S->s1[p] += c - l;
      S->s2[p] += (c - l) * (c - l);
      S->z[p] += c == 0;
      S->pos[p][q] += c;
      if (lo > 0) {
        const double x = (S->prev[p][j] - l) * (c - l);
        if (q != 0)
          S->lin[p] += x, S->nin[p] += 1;
        else
          S->lacross[p] += x, S->nacross[p] += 1;
      }
      S->prev[p][j] = c;
      S->bsum[p][j] = (q == 0 ? 0 : S->bsum[p][j]) + c;
      if (q == B - 1) {
        const double d = S->bsum[p][j] - B * l;
        S->bs2[p] += d * d, S->nb[p] += 1;
      }
    }
  }
  S->steps++;
  return 0;
}

static void test_poisson_statistics(void **state) {
  (void)state;
  /* V = count: tau_m so short that P33 = 0, E_L = 0, weight 1 mV, no
   * threshold in reach. The projection from the silent S only sets the
   * window to one step (delay dt). */
  static const char *neuron =
      "\"model\": \"iaf_psc_delta\", \"params\": {\"tau_m\": 1e-6, \"E_L\": 0,"
      " \"V_m\": 0, \"V_reset\": 0, \"V_th\": 1e6, \"t_ref\": 0}";
  char json[4096];
  int len = snprintf(json, sizeof json,
                     "{\"simulation\": {\"dt\": 0.1, \"t_stop\": %g, \"seed\": 2024},"
                     " \"populations\": [{\"name\": \"S\", \"model\": \"spike_source\", \"size\": 1}",
                     T_STEPS * 0.1);
  for (int p = 0; p < NPOP; p++)
    len += snprintf(json + len, sizeof json - len, ", {\"name\": \"P%d\", \"size\": %d, %s}", p,
                    SIZE[p], neuron);
  len += snprintf(json + len, sizeof json - len,
                  "], \"projections\": [{\"source\": \"S\", \"target\": \"P0\","
                  " \"rule\": \"fixed_indegree\", \"indegree\": 1, \"weight\": 0, \"delay\": 0.1}],"
                  " \"stimuli\": [");
  for (int p = 0; p < NPOP; p++)
    len += snprintf(json + len, sizeof json - len,
                    "%s{\"type\": \"poisson\", \"target\": \"P%d\", \"rate\": %.17g, \"weight\": 1}",
                    p ? ", " : "", p, LAMBDA[p] / 0.1 * 1000.0);
  snprintf(json + len, sizeof json - len, "]}");
  sim m;
  ntw_test_sim_build(&m, json, MPI_COMM_WORLD, "round_robin");
  stats *S = calloc(1, sizeof *S);
  assert_non_null(S);
  for (int p = 0, first = 1; p < NPOP; first += SIZE[p], p++) {
    S->gid[p] = local_gids(&m, (uint64_t)first, (uint64_t)SIZE[p], &S->n[p]);
    S->prev[p] = calloc(S->n[p] + 1, sizeof(int));
    S->bsum[p] = calloc(S->n[p] + 1, sizeof(int));
    assert_non_null(S->prev[p]);
    assert_non_null(S->bsum[p]);
  }
  assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, stats_hook, S), 0);
  assert_int_equal(ntw_engine_run(m.eng, T_STEPS), 0);
  assert_int_equal(S->steps, T_STEPS);
  assert_int_equal(S->bad, 0);

  for (int p = 0; p < NPOP; p++) {
    const double l = LAMBDA[p], n = (double)SIZE[p] * T_STEPS;
    const double mean = sum_all(S->s1[p]) / n + l;
    const double var = sum_all(S->s2[p]) / n; /* about the known mean */
    const double p0 = sum_all(S->z[p]) / n;
    const double nin = sum_all(S->nin[p]), nac = sum_all(S->nacross[p]);
    const double rin = sum_all(S->lin[p]) / nin / l;
    const double racross = sum_all(S->lacross[p]) / nac / l;
    const double nb = sum_all(S->nb[p]);
    const double bvar = sum_all(S->bs2[p]) / nb;
    assert_true(nb == (double)SIZE[p] * (T_STEPS / B));
    const double se_mean = sqrt(l / n);
    check("mean", l, mean, l, se_mean);
    /* Var((c - l)^2) = mu4 - sigma^4 = l + 3 l^2 - l^2 for Poisson(l). */
    check("variance", l, var, l, sqrt((l + 2 * l * l) / n));
    check("P(0)", l, p0, exp(-l), sqrt(exp(-l) * (1 - exp(-l)) / n));
    /* Independent pairs: the normalised product has variance 1. */
    check("lag-1 correlation inside blocks", l, rin, 0.0, 1.0 / sqrt(nin));
    check("lag-1 correlation across blocks", l, racross, 0.0, 1.0 / sqrt(nac));
    check("variance of block sums", l, bvar, B * l,
          sqrt((B * l + 2 * B * B * l * l) / nb));
    /* Uniform over the 16 steps of a block: chi-square against the mean
     * of the bins (15 degrees of freedom). */
    double O[B], tot = 0, chi2 = 0;
    for (int q = 0; q < B; q++) tot += O[q] = sum_all(S->pos[p][q]);
    for (int q = 0; q < B; q++) chi2 += (O[q] - tot / B) * (O[q] - tot / B) / (tot / B);
    if (!(chi2 < 57.93)) {
      fprintf(stderr, "lambda %g: chi-square of the steps in a block %.2f >= 57.93\n", l, chi2);
      fail();
    }
    /* Power: a block mean of 15 or 17 lambda (mean off by 1/16) would be
     * caught, and so would a block-sum variance off by 1/16. */
    assert_true(5.0 * se_mean < l / 16);
    assert_true(5.0 * sqrt((B * l + 2 * B * B * l * l) / nb) < l);
  }
  for (int p = 0; p < NPOP; p++) free(S->gid[p]), free(S->prev[p]), free(S->bsum[p]);
  free(S);
  ntw_test_sim_free(&m);
}

/* ---- exact draws against the definition ---- */

/* The CDF thresholds of Poisson(mean) as the engine builds them: count =
 * number of thresholds <= u. */
typedef struct {
  uint32_t thr[512];
  int n;
} cdf_table;

static void cdf_make(double mean, cdf_table *t) {
  int cap = (int)(mean + 20.0 * sqrt(mean) + 40.0);
  assert_true(cap <= 512);
  double p = exp(-mean), c = p;
  t->n = 0;
  for (int k = 1; k < cap && 1.0 - c > 0x1p-40; k++) {
    double thr = c * 4294967296.0;
    t->thr[t->n++] = thr >= 4294967295.0 ? UINT32_MAX : (uint32_t)thr;
    p *= mean / k;
    c += p;
  }
}

static int cdf_count(const cdf_table *t, uint32_t u) {
  int c = 0;
  while (c < t->n && u >= t->thr[c]) c++;
  return c;
}

typedef struct {
  double rate, weight, start, stop; /* Hz, mV, ms, ms (stop < 0: none) */
} dev;

enum { NX = 200, T_EXACT = 260 };
static const double DT = 0.1;
static const uint64_t SEED = 99;
/* Block (0.2), table (5 = 50 kHz), block with extra Philox calls (2.5: a
 * block mean of 40), block (0.02); starts and stops inside blocks. */
static const dev DEVS[] = {
    {2000.0, 1.0, 1.3, 9.9},
    {50000.0, 0.0078125, 0.5, 3.3},
    {25000.0, 0.125, 0.0, -1.0},
    {200.0, 2.0, 2.0, 20.7},
};
enum { NDEV = sizeof DEVS / sizeof *DEVS };

/* Count of device k (stimulus index k) for gid in step s, from the
 * definition: block method when 16 lambda <= NTW_POISSON_BLOCK_MAX_MEAN. */
static int ref_count(int k, uint64_t gid, int64_t s) {
  const double lambda = DEVS[k].rate * DT * 1e-3;
  const uint32_t stream = NTW_STREAM_POISSON | (uint32_t)k;
  cdf_table t;
  if (B * lambda > NTW_POISSON_BLOCK_MAX_MEAN) {
    cdf_make(lambda, &t);
    ntw_rng_block r = ntw_rng(SEED, stream, gid, (uint32_t)(s / 4));
    return cdf_count(&t, r.v[s % 4]);
  }
  cdf_make(B * lambda, &t);
  const uint32_t blk = (uint32_t)(s / B);
  ntw_rng_block r = ntw_rng(SEED, stream, gid, blk);
  const int N = cdf_count(&t, r.v[0]);
  int c = 0;
  for (int e = 0; e < N; e++) {
    uint32_t word;
    if (e < 24) {
      word = r.v[1 + e / 8];
    } else {
      const uint64_t j = 1 + (uint64_t)(e - 24) / 32;
      word = ntw_rng(SEED, stream, gid | j << 48, blk).v[(e - 24) % 32 / 8];
    }
    c += (int)((word >> (4 * (e % 8))) & 15) == (int)(s % B);
  }
  return c;
}

/* ref[s * NX + j]: V of neuron j after step s of the integrating membrane
 * (y <- P33 y + input, as iaf_psc_delta with no current). */
static double *reference(double tau_m) {
  const double P33 = exp(-DT / tau_m);
  double *ref = malloc((size_t)T_EXACT * NX * sizeof *ref), *y = calloc(NX, sizeof *y);
  assert_non_null(ref);
  assert_non_null(y);
  for (int64_t s = 0; s < T_EXACT; s++)
    for (int j = 0; j < NX; j++) {
      double in = 0.0;
      for (int k = 0; k < NDEV; k++) {
        const int64_t a = llround(DEVS[k].start / DT);
        const int64_t b = DEVS[k].stop < 0 ? INT64_MAX : llround(DEVS[k].stop / DT);
        const int c = s >= a && s < b ? ref_count(k, (uint64_t)j + 1, s) : 0;
        if (c) in += c * DEVS[k].weight;
      }
      y[j] = 0.0 + P33 * y[j] + in;
      ref[s * NX + j] = y[j];
    }
  free(y);
  return ref;
}

typedef struct {
  const double *ref;
  uint64_t *gid;
  size_t n;
  int64_t windows, mism;
} exact_ctx;

static int exact_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  (void)lo;
  exact_ctx *x = ctx;
  for (size_t j = 0; j < x->n; j++) {
    const double v = ntw_engine_get_v(e, x->gid[j]);
    const double want = x->ref[(hi - 1) * NX + (x->gid[j] - 1)];
    if (v != want && x->mism++ < 5)
      fprintf(stderr, "gid %llu after step %lld: V %.17g, reference %.17g\n",
              (unsigned long long)x->gid[j], (long long)(hi - 1), v, want);
  }
  x->windows++;
  return 0;
}

static void test_poisson_exact(void **state) {
  (void)state;
  const double tau_m = 1e9; /* integrates: every step's input stays visible */
  double *ref = reference(tau_m);
  /* The input is substantial in every block (a check that there is
   * something to compare). */
  assert_true(ref[(size_t)(T_EXACT - 1) * NX] > 100.0);
  const int delays[] = {1, 7, 16, 17, 23}; /* window = min delay, in steps */
  const char *strategies[] = {"round_robin", "block"};
  for (size_t d = 0; d < sizeof delays / sizeof *delays; d++)
    for (int st = 0; st < 2; st++) {
      char json[4096];
      int len = snprintf(
          json, sizeof json,
          "{\"simulation\": {\"dt\": %g, \"t_stop\": %g, \"seed\": %llu},"
          " \"populations\": [{\"name\": \"S\", \"model\": \"spike_source\", \"size\": 1},"
          " {\"name\": \"X\", \"model\": \"iaf_psc_delta\", \"size\": %d, \"params\":"
          " {\"tau_m\": %g, \"E_L\": 0, \"V_m\": 0, \"V_reset\": 0, \"V_th\": 1e6, \"t_ref\": 0}}],"
          " \"projections\": [{\"source\": \"S\", \"target\": \"X\", \"rule\": \"fixed_indegree\","
          " \"indegree\": 1, \"weight\": 0, \"delay\": %g}], \"stimuli\": [",
          DT, T_EXACT * DT, (unsigned long long)SEED, NX, tau_m, delays[d] * DT);
      for (int k = 0; k < NDEV; k++) {
        len += snprintf(json + len, sizeof json - len,
                        "%s{\"type\": \"poisson\", \"target\": \"X\", \"rate\": %g,"
                        " \"weight\": %g, \"start\": %g",
                        k ? ", " : "", DEVS[k].rate, DEVS[k].weight, DEVS[k].start);
        if (DEVS[k].stop >= 0)
          len += snprintf(json + len, sizeof json - len, ", \"stop\": %g", DEVS[k].stop);
        len += snprintf(json + len, sizeof json - len, "}");
      }
      snprintf(json + len, sizeof json - len, "]}");
      sim m;
      ntw_test_sim_build(&m, json, MPI_COMM_WORLD, strategies[st]);
      exact_ctx x = {.ref = ref};
      x.gid = local_gids(&m, 1, NX, &x.n);
      assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, exact_hook, &x), 0);
      /* Two runs, the first ending inside a block (step 37 = 2 * 16 + 5):
       * the second goes on from the cached block. */
      assert_int_equal(ntw_engine_run(m.eng, 37), 0);
      assert_int_equal(ntw_engine_run(m.eng, T_EXACT), 0);
      if (x.mism)
        fprintf(stderr, "window %d steps, %s: %lld mismatches\n", delays[d],
                strategies[st], (long long)x.mism);
      assert_int_equal(x.mism, 0);
      assert_true(x.windows >= T_EXACT / delays[d]);
      free(x.gid);
      ntw_test_sim_free(&m);
    }
  free(ref);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_poisson_statistics),
    cmocka_unit_test(test_poisson_exact),
};

NTW_TEST_MAIN(tests)

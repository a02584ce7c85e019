/* test_binomial.c - the keyed binomial and hypergeometric samplers
 * (src/core/binomial.h) against their exact distributions.
 * For each (n, p) - covering inversion (n p < 10), BTRS (n p >= 10, small
 * and large n, p near 0 and 1/2, p > 1/2 by symmetry) - 200,000 draws keyed
 * by (seed, stream, a = draw index):
 *  - the sample mean and variance within 5 standard errors of n p and
 *    n p (1 - p) (the variance's standard error from the fourth moment);
 *  - a chi-square goodness-of-fit against the exact pmf (computed in long
 *    double by the recurrence from the mode) over cells with expected
 *    count >= 5 (tails pooled), below the 0.999 quantile (Wilson-Hilferty);
 *  - the edge cases n = 0, p = 0, p = 1 and determinism of a keyed draw.
 * The hypergeometric sampler gets the same chi-square test. Not MPI. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/binomial.h"

#define NDRAW 200000
#define SEED 0x5eedULL
#define STREAM (7u << 24)

/* Upper 0.999 quantile of chi-square with k degrees of freedom
 * (Wilson-Hilferty; z = 3.0902). */
static double chi2_crit(int k) {
  double z = 3.090232, a = 2.0 / (9.0 * k);
  double t = 1.0 - a + z * sqrt(a);
  return k * t * t * t;
}

/* Exact pmf on [lo, hi] from log-ratios accumulated from the mode outward,
 * normalised; long double keeps it well below the test's resolution. */
typedef long double (*ratio_fn)(const void *par, uint64_t k); /* f(k+1)/f(k) */

static void exact_pmf(const void *par, ratio_fn up, uint64_t lo, uint64_t hi,
                      uint64_t mode, long double *pmf) {
  uint64_t w = hi - lo + 1;
  pmf[mode - lo] = 1.0L;
  for (uint64_t k = mode; k > lo; k--)
    pmf[k - 1 - lo] = pmf[k - lo] / up(par, k - 1);
  for (uint64_t k = mode; k < hi; k++) pmf[k + 1 - lo] = pmf[k - lo] * up(par, k);
  long double s = 0;
  for (uint64_t i = 0; i < w; i++) s += pmf[i];
  for (uint64_t i = 0; i < w; i++) pmf[i] /= s;
}

/* Chi-square over cells with expected >= 5; the two tails pooled into their
 * neighbouring cells. Returns the statistic, *df the degrees of freedom. */
static double chi2(const uint64_t *count, const long double *pmf, uint64_t w,
                   uint64_t ndraw, int *df) {
  double stat = 0.0, obs = 0.0, ex = 0.0;
  int cells = 0;
  for (uint64_t i = 0; i < w; i++) {
    obs += (double)count[i];
    ex += (double)(pmf[i] * ndraw);
    if (ex >= 5.0) {
      /* close the cell, unless what is left of the support is too small to
       * make another one: then it goes into this one */
      long double rest = 0;
      for (uint64_t j = i + 1; j < w; j++) rest += pmf[j];
      if ((double)(rest * ndraw) < 5.0) {
        for (uint64_t j = i + 1; j < w; j++) {
          obs += (double)count[j];
          ex += (double)(pmf[j] * ndraw);
        }
        i = w;
      }
      stat += (obs - ex) * (obs - ex) / ex;
      cells++;
      obs = ex = 0.0;
    }
  }
  *df = cells - 1;
  return stat;
}

typedef struct {
  uint64_t n;
  double p;
} binom_par;

static long double binom_up(const void *v, uint64_t k) {
  const binom_par *b = v;
  return (long double)(b->n - k) / (k + 1) * ((long double)b->p / (1.0L - b->p));
}

static void check_binomial(uint64_t n, double p, uint64_t a0) {
  const double mean = n * p, var = n * p * (1 - p);
  double sd = sqrt(var);
  /* support window: mean +- 12 sd, clipped to [0, n] */
  double lo_f = floor(mean - 12 * sd - 12), hi_f = ceil(mean + 12 * sd + 12);
  uint64_t lo = lo_f < 0 ? 0 : (uint64_t)lo_f;
  uint64_t hi = hi_f > (double)n ? n : (uint64_t)hi_f;
  uint64_t w = hi - lo + 1;
  uint64_t *count = calloc(w, sizeof *count);
  long double *pmf = calloc(w, sizeof *pmf);
  assert_non_null(count);
  assert_non_null(pmf);
  double s1 = 0, s2 = 0;
  for (uint64_t i = 0; i < NDRAW; i++) {
    uint64_t k = ntw_binomial(SEED, STREAM, a0 + i, n, p);
    assert_true(k <= n);
    if (k < lo || k > hi) fail_msg("n=%llu p=%g: draw %llu outside mean +- 12 sd",
                                   (unsigned long long)n, p, (unsigned long long)k);
    count[k - lo]++;
    double x = (double)k - mean;
    s1 += x;
    s2 += x * x;
  }
  double m = s1 / NDRAW, v = s2 / NDRAW - m * m;
  /* Var of the sample variance ~ (mu4 - var^2)/N, mu4 = var (1 + 3 var - 6pq)... */
  double mu4 = var * (1.0 + 3.0 * (n - 2.0) * p * (1 - p));
  double se_m = sd / sqrt(NDRAW), se_v = sqrt((mu4 - var * var) / NDRAW);
  binom_par par = {n, p};
  uint64_t mode = (uint64_t)floor((n + 1) * p);
  if (mode > n) mode = n;
  exact_pmf(&par, binom_up, lo, hi, mode, pmf);
  int df;
  double st = chi2(count, pmf, w, NDRAW, &df);
  printf("binomial n=%-10llu p=%-7g mean %+.2f se, var %+.2f se, chi2 %.1f / "
         "df %d (crit %.1f)\n",
         (unsigned long long)n, p, m / se_m, (v - var) / se_v, st, df,
         chi2_crit(df));
  assert_true(fabs(m) < 5 * se_m);
  assert_true(fabs(v - var) < 5 * se_v);
  assert_true(df >= 1);
  assert_true(st < chi2_crit(df));
  free(count);
  free(pmf);
}

static void test_binomial_small(void **state) {
  (void)state;
  /* inversion: n p < 10 */
  check_binomial(1, 0.3, 0);
  check_binomial(10, 0.5, 1000000);
  check_binomial(19, 0.5, 2000000);
  check_binomial(1000, 0.003, 3000000);
  check_binomial(100000000, 2e-8, 4000000);
  check_binomial(30, 0.9, 5000000); /* p > 1/2: n - Binomial(n, 1-p) */
}

static void test_binomial_btrs(void **state) {
  (void)state;
  check_binomial(20, 0.5, 10000000);  /* n p = 10: smallest BTRS case */
  check_binomial(25, 0.45, 11000000);
  check_binomial(200, 0.1, 12000000);
  check_binomial(1000, 0.5, 13000000);
  check_binomial(45000000, 1.0 / 20683, 14000000); /* the microcircuit's size */
  check_binomial(1ULL << 40, 1e-9, 15000000);      /* n = 2^40 */
  check_binomial(3000000, 0.37, 17000000);          /* large n p */
  check_binomial(1000, 0.97, 16000000);
}

static void test_binomial_edges(void **state) {
  (void)state;
  assert_int_equal(ntw_binomial(SEED, STREAM, 1, 0, 0.5), 0);
  assert_int_equal(ntw_binomial(SEED, STREAM, 1, 77, 0.0), 0);
  assert_int_equal(ntw_binomial(SEED, STREAM, 1, 77, 1.0), 77);
  /* keyed: same key, same draw; the key changes the draw */
  uint64_t x = ntw_binomial(SEED, STREAM, 42, 1000000, 0.25);
  assert_int_equal(ntw_binomial(SEED, STREAM, 42, 1000000, 0.25), x);
  int differ = 0;
  for (uint64_t a = 43; a < 53; a++)
    differ += ntw_binomial(SEED, STREAM, a, 1000000, 0.25) != x;
  assert_true(differ >= 8);
}

typedef struct {
  double total, good, draws;
} hyper_par;

static long double hyper_up(const void *v, uint64_t k) {
  const hyper_par *h = v;
  long double K = k;
  return ((h->good - K) * (h->draws - K)) /
         ((K + 1) * (h->total - h->good - h->draws + K + 1));
}

static void check_hyper(uint64_t total, uint64_t good, uint64_t draws,
                        uint64_t a0) {
  uint64_t bad = total - good;
  uint64_t lo = draws > bad ? draws - bad : 0;
  uint64_t hi = draws < good ? draws : good;
  uint64_t w = hi - lo + 1;
  uint64_t *count = calloc(w, sizeof *count);
  long double *pmf = calloc(w, sizeof *pmf);
  assert_non_null(count);
  assert_non_null(pmf);
  double mean = (double)draws * good / total, s1 = 0;
  for (uint64_t i = 0; i < NDRAW; i++) {
    uint64_t k = ntw_hypergeometric(SEED, STREAM, a0 + i, total, good, draws);
    assert_true(k >= lo && k <= hi);
    count[k - lo]++;
    s1 += (double)k - mean;
  }
  hyper_par par = {(double)total, (double)good, (double)draws};
  uint64_t mode = (uint64_t)floor((draws + 1.0) * (good + 1.0) / (total + 2.0));
  if (mode < lo) mode = lo;
  if (mode > hi) mode = hi;
  exact_pmf(&par, hyper_up, lo, hi, mode, pmf);
  int df;
  double st = chi2(count, pmf, w, NDRAW, &df);
  double var = (double)draws * good / total * bad / total * (total - draws) /
               (total - 1.0);
  printf("hypergeometric total=%-9llu good=%-6llu draws=%-8llu mean %+.2f se, "
         "chi2 %.1f / df %d (crit %.1f)\n",
         (unsigned long long)total, (unsigned long long)good,
         (unsigned long long)draws, s1 / NDRAW / sqrt(var / NDRAW), st, df,
         chi2_crit(df));
  assert_true(fabs(s1 / NDRAW) < 5 * sqrt(var / NDRAW));
  assert_true(df >= 1);
  assert_true(st < chi2_crit(df));
  free(count);
  free(pmf);
}

static void test_hypergeometric(void **state) {
  (void)state;
  check_hyper(50, 10, 5, 0);
  check_hyper(2000, 799, 1000, 1000000);
  check_hyper(799 * 200, 799, 100000, 2000000); /* a fixed_total_number step */
  check_hyper(20682ULL * 20683, 20682, 40000000, 3000000);
  check_hyper(100, 90, 95, 4000000); /* lower bound draws - bad = 85 */
  /* degenerate: a single possible value */
  assert_int_equal(ntw_hypergeometric(SEED, STREAM, 9, 100, 100, 37), 37);
  assert_int_equal(ntw_hypergeometric(SEED, STREAM, 9, 100, 0, 37), 0);
  assert_int_equal(ntw_hypergeometric(SEED, STREAM, 9, 100, 40, 100), 40);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binomial_small),
      cmocka_unit_test(test_binomial_btrs),
      cmocka_unit_test(test_binomial_edges),
      cmocka_unit_test(test_hypergeometric),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

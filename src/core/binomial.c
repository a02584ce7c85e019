/* binomial.c - exact binomial and hypergeometric variates (see binomial.h). */
#include "core/binomial.h"

#include <math.h>
#include <stdbool.h>

#include "core/rng.h"

/* Stirling tail: log(k!) - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi)/2].
 * Directly for small k (values near 1, no cancellation), the asymptotic
 * series of log Gamma(z), z = k + 1, beyond (its next term is < 2e-14). */
static double stirling_tail(double k) {
  if (k < 30.0)
    return lgamma(k + 1.0) - (k + 0.5) * log(k + 1.0) + (k + 1.0) -
           0.91893853320467274178;
  double z = k + 1.0, z2 = z * z;
  return (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * z2)) / z2) / z;
}

/* log f(k) - log f(m) of Binomial(n, p), r = p / q. The large terms
 * (x + 1/2) log(x + 1) of Stirling's formula cancel pairwise; written with
 * log1p of small ratios so that no digits are lost for large n. */
static double log_pmf_ratio(double n, double k, double m, double r) {
  return -(m + 0.5) * log1p((k - m) / (m + 1.0)) -
         (n - m + 0.5) * log1p((m - k) / (n - m + 1.0)) +
         (k - m) * log(r * (n - k + 1.0) / (k + 1.0)) + stirling_tail(m) +
         stirling_tail(n - m) - stirling_tail(k) - stirling_tail(n - k);
}

/* Inversion for n p < 10 (p <= 1/2): f(0) = q^n, f(k+1) = f(k) (n-k)/(k+1) p/q.
 * Expected n p + 1 steps. */
static uint64_t binom_inversion(uint64_t seed, uint32_t stream, uint64_t a,
                                uint64_t n, double p) {
  ntw_rng_block r = ntw_rng(seed, stream, a, 0);
  double u = ntw_u01(r.v[0], r.v[1]);
  const double s = p / (1.0 - p);
  double f = exp((double)n * log1p(-p));
  uint64_t k = 0;
  while (u >= f && k < n) {
    u -= f;
    f *= s * (double)(n - k) / (double)(k + 1);
    k++;
  }
  return k;
}

/* BTRS for n p >= 10, p <= 1/2. Each attempt takes one Philox block (two
 * 53-bit uniforms); expected attempts < 1.2 for n p >= 10. */
static uint64_t binom_btrs(uint64_t seed, uint32_t stream, uint64_t a,
                           uint64_t n_, double p) {
  const double n = (double)n_, q = 1.0 - p;
  const double spq = sqrt(n * p * q);
  const double b = 1.15 + 2.53 * spq;
  const double A = -0.0873 + 0.0248 * b + 0.01 * p;
  const double c = n * p + 0.5;
  const double v_r = 0.92 - 4.2 / b;
  const double alpha = (2.83 + 5.1 / b) * spq;
  const double r = p / q;
  const double m = floor((n + 1.0) * p);
  for (uint32_t t = 0;; t++) {
    ntw_rng_block blk = ntw_rng(seed, stream, a, t);
    double U = ntw_u01(blk.v[0], blk.v[1]) - 0.5;
    double V = ntw_u01(blk.v[2], blk.v[3]);
    double us = 0.5 - fabs(U);
    if (us <= 0.0) continue; /* U = -1/2 exactly: k would be -inf */
    double kf = floor((2.0 * A / us + b) * U + c);
    if (kf < 0.0 || kf > n) continue;
    if (us >= 0.07 && V <= v_r) return (uint64_t)kf;
    double lv = log(V * alpha / (A / (us * us) + b));
    if (lv <= log_pmf_ratio(n, kf, m, r)) return (uint64_t)kf;
  }
}

uint64_t ntw_binomial(uint64_t seed, uint32_t stream, uint64_t a, uint64_t n,
                      double p) {
  if (n == 0 || p <= 0.0) return 0;
  if (p >= 1.0) return n;
  const bool flip = p > 0.5;
  const double pp = flip ? 1.0 - p : p;
  uint64_t k = (double)n * pp < 10.0 ? binom_inversion(seed, stream, a, n, pp)
                                     : binom_btrs(seed, stream, a, n, pp);
  return flip ? n - k : k;
}

uint64_t ntw_hypergeometric(uint64_t seed, uint32_t stream, uint64_t a,
                            uint64_t total, uint64_t good, uint64_t draws) {
  const uint64_t bad = total - good;
  const uint64_t lo = draws > bad ? draws - bad : 0;
  const uint64_t hi = draws < good ? draws : good;
  if (lo >= hi) return lo;
  const double G = (double)good, D = (double)draws, B = (double)bad;
  double mf = floor((D + 1.0) * (G + 1.0) / ((double)total + 2.0));
  uint64_t mode = (uint64_t)mf;
  if (mode < lo) mode = lo;
  if (mode > hi) mode = hi;
  /* w(k+1)/w(k) = (G-k)(D-k) / ((k+1)(B-D+k+1)), w(mode) = 1. */
#define UP(k) (((G - (double)(k)) * (D - (double)(k))) / \
               (((double)(k) + 1.0) * (B - D + (double)(k) + 1.0)))
  const double cut = 0x1p-64;
  double S = 1.0, w = 1.0;
  uint64_t kmin = mode, kmax = mode;
  while (kmin > lo) {
    w /= UP(kmin - 1);
    if (w < cut) break;
    S += w;
    kmin--;
  }
  w = 1.0;
  while (kmax < hi) {
    w *= UP(kmax);
    if (w < cut) break;
    S += w;
    kmax++;
  }
  ntw_rng_block r = ntw_rng(seed, stream, a, 0);
  double u = ntw_u01(r.v[0], r.v[1]) * S;
  /* Same order and arithmetic as the sum above. */
  if (u < 1.0) return mode;
  u -= 1.0;
  w = 1.0;
  for (uint64_t k = mode; k > kmin; k--) {
    w /= UP(k - 1);
    if (u < w) return k - 1;
    u -= w;
  }
  w = 1.0;
  for (uint64_t k = mode; k < kmax; k++) {
    w *= UP(k);
    if (u < w) return k + 1;
    u -= w;
  }
#undef UP
  return mode; /* u beyond the sum by rounding: the most likely value */
}

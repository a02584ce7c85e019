/* binomial.h - exact binomial and hypergeometric variates from the
 * counter-based generator (rng.h).
 *
 * A draw is a pure function of (seed, stream, a) and its parameters: the
 * sampler takes as many Philox blocks as it needs with counters
 * (a, b = 0, 1, 2, ...), b being a per-draw sub-counter, so a caller keys one
 * draw by (seed, stream, a) and gets the same number on every rank.
 *
 * Binomial(n, p): inversion (sequential search from 0) when
 * n * min(p, 1-p) < 10, otherwise Hörmann's BTRS ("transformed rejection with
 * squeeze", Hörmann 1993, J. Stat. Comput. Simul. 46:101-110). Rejection with
 * the exact pmf ratio f(k)/f(m), evaluated with Stirling tails and log1p so
 * that it keeps ~1e-13 absolute accuracy for n up to 2^53 (lgamma
 * differences would lose ~1e-7 at n = 1e8). The result is exact up to that
 * floating-point accuracy.
 *
 * Hypergeometric(total, good, draws): the number of good items among `draws`
 * taken without replacement from `total` items of which `good` are good.
 * Inversion over the unnormalised pmf, searched outward from the mode in a
 * fixed order (mode, then downward, then upward); the tails beyond 2^-64 of
 * the mode weight are cut. O(standard deviation) per draw.
 */
#ifndef NTW_BINOMIAL_H
#define NTW_BINOMIAL_H

#include <stdint.h>

/* Binomial(n, p), 0 <= p <= 1, n <= 2^53. Not collective. */
uint64_t ntw_binomial(uint64_t seed, uint32_t stream, uint64_t a, uint64_t n,
                      double p);

/* Hypergeometric(total, good, draws); requires good <= total, draws <= total,
 * total <= 2^53. Not collective. */
uint64_t ntw_hypergeometric(uint64_t seed, uint32_t stream, uint64_t a,
                            uint64_t total, uint64_t good, uint64_t draws);

#endif

/* rng.h - counter-based random numbers (Random123 Philox4x32-10).
 *
 * Every random number in ntwin is a pure function of (seed, stream, a, b):
 * key = seed, counter = (a, b, stream). Callers key draws by global ids and
 * steps (a = target gid, b = step or draw index), never by rank, so any
 * partition of the network draws exactly the same numbers (DESIGN.md,
 * invariant 1). One call yields four 32-bit words.
 */
#ifndef NTW_RNG_H
#define NTW_RNG_H

#include <math.h>
#include <stdint.h>

#include <Random123/philox.h>

/* Streams: the kind of draw in the high byte, an index (projection,
 * stimulus, population) below it, so no two uses share numbers. */
enum {
  NTW_STREAM_CONN = 1u << 24,    /* which sources connect (per projection) */
  NTW_STREAM_WEIGHT = 2u << 24,  /* weights (per projection) */
  NTW_STREAM_DELAY = 3u << 24,   /* delays (per projection) */
  NTW_STREAM_POISSON = 4u << 24, /* Poisson input (per stimulus) */
  NTW_STREAM_INIT = 5u << 24,    /* initial state/parameters (per pop*64+param) */
  NTW_STREAM_TOTAL = 6u << 24,   /* fixed_total_number in-degrees (per projection) */
  NTW_STREAM_NOISE = 7u << 24,   /* noise (OU) current (per stimulus) */
};

typedef struct {
  uint32_t v[4];
} ntw_rng_block;

static inline ntw_rng_block ntw_rng(uint64_t seed, uint32_t stream, uint64_t a,
                                    uint32_t b) {
  philox4x32_key_t k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  philox4x32_ctr_t c = {{(uint32_t)a, (uint32_t)(a >> 32), b, stream}};
  philox4x32_ctr_t r = philox4x32(c, k);
  ntw_rng_block out = {{r.v[0], r.v[1], r.v[2], r.v[3]}};
  return out;
}

/* Uniform double in [0, 1) from two 32-bit words (53 bits). */
static inline double ntw_u01(uint32_t hi, uint32_t lo) {
  uint64_t x = ((uint64_t)hi << 32 | lo) >> 11;
  return (double)x * 0x1.0p-53;
}

/* Uniform integer in [0, n) from two words (Lemire's multiply-high; the
 * bias is below n / 2^64). */
static inline uint64_t ntw_below(uint32_t hi, uint32_t lo, uint64_t n) {
  uint64_t x = (uint64_t)hi << 32 | lo;
  return (uint64_t)(((unsigned __int128)x * n) >> 64);
}

/* Standard normal from four words (Box-Muller, first output). */
static inline double ntw_normal(ntw_rng_block r) {
  double u1 = 1.0 - ntw_u01(r.v[0], r.v[1]); /* (0, 1] */
  double u2 = ntw_u01(r.v[2], r.v[3]);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif

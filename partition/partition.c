/* partition/partition.c - gid -> rank maps, one ops table per strategy.
 *
 * Callers ask owner() once per gid while building connection tables, so each
 * op is O(1), allocation-free and uses only 64-bit arithmetic (gids may
 * exceed 2^32). Divisor-dependent constants are computed once at create. */
#include "partition/partition.h"

#include <stdlib.h>
#include <string.h>

#include "core/ntw_error.h"

typedef struct {
  int (*owner)(const ntw_part *p, uint64_t gid);
  uint64_t (*local_count)(const ntw_part *p, int rank);
  uint64_t (*local_gid)(const ntw_part *p, int rank, uint64_t lidx);
  uint64_t (*local_lower)(const ntw_part *p, int rank, uint64_t gid);
} part_ops;

struct ntw_part {
  const part_ops *ops;
  const char *name; /* points into the static registry */
  uint64_t n;
  uint64_t nranks;
  int nranks_int;
  /* block: q = n / P, r = n % P; ranks < r hold q + 1 gids, which end at
   * big_end = r * (q + 1). */
  uint64_t q, r, big_end;
};

/* ---- round_robin: gid -> gid % P, local index gid / P ---- */

static int rr_owner(const ntw_part *p, uint64_t gid) {
  return (int)(gid % p->nranks);
}

static uint64_t rr_local_count(const ntw_part *p, int rank) {
  /* ranks below n % P get one extra gid */
  return p->q + ((uint64_t)rank < p->r);
}

static uint64_t rr_local_gid(const ntw_part *p, int rank, uint64_t lidx) {
  return lidx * p->nranks + (uint64_t)rank;
}

static uint64_t rr_local_lower(const ntw_part *p, int rank, uint64_t gid) {
  /* Each full cycle of P gids below gid holds one of rank's, plus one more
   * if the partial cycle reaches past rank. Written this way (not
   * (gid + P - 1 - rank) / P) so gid near 2^64 cannot overflow. */
  return gid / p->nranks + ((uint64_t)rank < gid % p->nranks);
}

/* ---- block: contiguous ranges, the first n % P ranks one larger ---- */

static uint64_t block_start(const ntw_part *p, uint64_t rank) {
  return rank * p->q + (rank < p->r ? rank : p->r);
}

static int block_owner(const ntw_part *p, uint64_t gid) {
  if (gid < p->big_end)
    return (int)(gid / (p->q + 1));
  /* q > 0 here for any valid gid (< n); guard the divisor anyway so an
   * out-of-range gid yields a bad answer, not SIGFPE. */
  return (int)(p->r + (gid - p->big_end) / (p->q ? p->q : 1));
}

static uint64_t block_local_count(const ntw_part *p, int rank) {
  return p->q + ((uint64_t)rank < p->r);
}

static uint64_t block_local_gid(const ntw_part *p, int rank, uint64_t lidx) {
  return block_start(p, (uint64_t)rank) + lidx;
}

static uint64_t block_local_lower(const ntw_part *p, int rank, uint64_t gid) {
  uint64_t start = block_start(p, (uint64_t)rank);
  uint64_t count = block_local_count(p, rank);
  if (gid <= start)
    return 0;
  uint64_t k = gid - start;
  return k < count ? k : count;
}

static const part_ops rr_ops = {rr_owner, rr_local_count, rr_local_gid,
                                rr_local_lower};
static const part_ops block_ops = {block_owner, block_local_count,
                                   block_local_gid, block_local_lower};

/* The registry: add a strategy by adding a row (and its name below). */
static const struct {
  const char *name;
  const part_ops *ops;
} registry[] = {
    {"round_robin", &rr_ops},
    {"block", &block_ops},
};
#define NREG (sizeof registry / sizeof registry[0])

static const char *const strategy_names[NREG + 1] = {"round_robin", "block",
                                                    NULL};

const char *const *ntw_part_strategies(void) { return strategy_names; }

int ntw_part_create(const char *strategy, uint64_t n, int nranks,
                    ntw_part **out) {
  NTW_CHECK(out != NULL, NTW_ERR_ARG, "ntw_part_create: out is NULL");
  *out = NULL;
  NTW_CHECK(strategy != NULL, NTW_ERR_ARG,
            "partition strategy is missing (known: round_robin, block)");
  NTW_CHECK(nranks >= 1, NTW_ERR_ARG,
            "partition: number of ranks must be >= 1 (got %d)", nranks);
  /* n is unsigned, so n >= 0 holds by type. */

  const part_ops *ops = NULL;
  const char *name = NULL;
  for (size_t i = 0; i < NREG; i++) {
    if (strcmp(strategy, registry[i].name) == 0) {
      ops = registry[i].ops;
      name = registry[i].name;
      break;
    }
  }
  NTW_CHECK(ops != NULL, NTW_ERR_ARG,
            "unknown partition strategy '%s' (known: round_robin, block)",
            strategy);

  ntw_part *p = calloc(1, sizeof *p);
  NTW_ALLOC_CHECK(p);
  p->ops = ops;
  p->name = name;
  p->n = n;
  p->nranks = (uint64_t)nranks;
  p->nranks_int = nranks;
  p->q = n / p->nranks;
  p->r = n % p->nranks;
  p->big_end = p->r * (p->q + 1);
  *out = p;
  return NTW_OK;
}

void ntw_part_destroy(ntw_part **p) {
  if (p == NULL || *p == NULL)
    return;
  free(*p);
  *p = NULL;
}

const char *ntw_part_name(const ntw_part *p) { return p->name; }
int ntw_part_nranks(const ntw_part *p) { return p->nranks_int; }
uint64_t ntw_part_size(const ntw_part *p) { return p->n; }

int ntw_part_owner(const ntw_part *p, uint64_t gid) {
  return p->ops->owner(p, gid);
}

uint64_t ntw_part_local_count(const ntw_part *p, int rank) {
  return p->ops->local_count(p, rank);
}

uint64_t ntw_part_local_gid(const ntw_part *p, int rank, uint64_t lidx) {
  return p->ops->local_gid(p, rank, lidx);
}

uint64_t ntw_part_local_lower(const ntw_part *p, int rank, uint64_t gid) {
  return p->ops->local_lower(p, rank, gid);
}

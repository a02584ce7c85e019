/* partition/partition.c - gid -> rank maps, one ops table per strategy.
 *
 * Callers ask owner() once per gid while building connection tables, so each
 * op is O(1) (graph: O(log ranges)), allocation-free and uses only 64-bit
 * arithmetic (gids may exceed 2^32). Divisor-dependent constants are
 * computed once at create. The graph strategy lives in graph.c. */
#include "partition/partition.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntw_error.h"
#include "partition/partition_impl.h"

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

/* The registry: add a strategy by adding a row. `net` marks strategies
 * that need the network (ntw_part_create_net), not just n. */
static const struct {
  const char *name;
  const part_ops *ops;
  bool net;
} registry[] = {
    {"round_robin", &rr_ops, false},
    {"block", &block_ops, false},
    {"graph", &ntw__part_graph_ops, true},
};
#define NREG (sizeof registry / sizeof registry[0])

static const char *const strategy_names[NREG + 1] = {"round_robin", "block",
                                                    "graph", NULL};
#define KNOWN "round_robin, block, graph"

const char *const *ntw_part_strategies(void) { return strategy_names; }

static int part_create(const char *strategy, uint64_t n,
                       const ntw_part_net *net, int nranks, bool reserve0,
                       ntw_part **out) {
  NTW_CHECK(out != NULL, NTW_ERR_ARG, "ntw_part_create: out is NULL");
  *out = NULL;
  NTW_CHECK(strategy != NULL, NTW_ERR_ARG,
            "partition strategy is missing (known: " KNOWN ")");
  NTW_CHECK(nranks >= 1, NTW_ERR_ARG,
            "partition: number of ranks must be >= 1 (got %d)", nranks);
  /* A reserved rank 0 with no other rank would leave the network without
   * an owner: refused rather than silently ignored, so a run never reports
   * a coupling rank it does not have. */
  NTW_CHECK(!reserve0 || nranks >= 2, NTW_ERR_ARG,
            "partition: reserving rank 0 for the coupling needs at least 2 "
            "ranks (got %d)", nranks);
  /* n is unsigned, so n >= 0 holds by type. */

  size_t k = 0;
  while (k < NREG && strcmp(strategy, registry[k].name) != 0) k++;
  NTW_CHECK(k < NREG, NTW_ERR_ARG,
            "unknown partition strategy '%s' (known: " KNOWN ")", strategy);
  NTW_CHECK(!registry[k].net || net, NTW_ERR_ARG,
            "partition strategy '%s' needs the network's projections "
            "(ntw_part_create_net)", strategy);

  ntw_part *p = calloc(1, sizeof *p);
  NTW_ALLOC_CHECK(p);
  p->ops = registry[k].ops;
  p->name = registry[k].name;
  p->n = n;
  p->off = reserve0 ? 1 : 0;
  p->nranks = (uint64_t)(nranks - p->off);
  p->nranks_int = nranks;
  p->q = n / p->nranks;
  p->r = n % p->nranks;
  p->big_end = p->r * (p->q + 1);
  if (registry[k].net) {
    int err = ntw__part_graph_init(p, net);
    if (err) {
      ntw_part_destroy(&p);
      return err;
    }
  }
  *out = p;
  return NTW_OK;
}

int ntw_part_create(const char *strategy, uint64_t n, int nranks,
                    ntw_part **out) {
  return part_create(strategy, n, NULL, nranks, false, out);
}

int ntw_part_create_reserved(const char *strategy, uint64_t n, int nranks,
                             bool reserve_rank0, ntw_part **out) {
  return part_create(strategy, n, NULL, nranks, reserve_rank0, out);
}

int ntw_part_create_net(const char *strategy, const ntw_part_net *net,
                        int nranks, ntw_part **out) {
  return ntw_part_create_net_reserved(strategy, net, nranks, false, out);
}

int ntw_part_create_net_reserved(const char *strategy,
                                 const ntw_part_net *net, int nranks,
                                 bool reserve_rank0, ntw_part **out) {
  NTW_CHECK(net != NULL && (net->npops == 0 || net->pop_size != NULL) &&
                (net->nprojs == 0 || net->projs != NULL),
            NTW_ERR_ARG, "ntw_part_create_net: no network description");
  uint64_t n = 0;
  for (size_t i = 0; i < net->npops; i++) {
    NTW_CHECK(net->pop_size[i] <= UINT64_MAX - n, NTW_ERR_ARG,
              "partition: population sizes overflow 64 bits");
    n += net->pop_size[i];
  }
  return part_create(strategy, n, net, nranks, reserve_rank0, out);
}

void ntw_part_destroy(ntw_part **p) {
  if (p == NULL || *p == NULL)
    return;
  ntw__part_graph_free(*p);
  free(*p);
  *p = NULL;
}

/* FNV-1a over 64-bit words. */
static uint64_t fnv(uint64_t h, uint64_t x) {
  for (int i = 0; i < 8; i++) {
    h ^= (x >> (8 * i)) & 0xff;
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

uint64_t ntw_part_digest(const ntw_part *p) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (const char *c = p->name; *c; c++) h = fnv(h, (unsigned char)*c);
  h = fnv(h, p->n);
  h = fnv(h, p->nranks);
  /* Only when set, so the digests of unreserved maps are unchanged. */
  if (p->off) h = fnv(h, UINT64_C(0x72657365727665)); /* "reserve" */
  for (uint64_t i = 0; i < p->nseg; i++) {
    h = fnv(h, p->seg_start[i]);
    h = fnv(h, (uint64_t)p->seg_rank[i]);
  }
  return h;
}

const char *ntw_part_name(const ntw_part *p) { return p->name; }
int ntw_part_nranks(const ntw_part *p) { return p->nranks_int; }
uint64_t ntw_part_size(const ntw_part *p) { return p->n; }
bool ntw_part_reserved(const ntw_part *p) { return p->off != 0; }

/* The reservation lives here only: the strategies map onto ranks
 * 0 .. P-1-off and these accessors shift to off .. P-1. The reserved rank
 * is answered before any op runs (graph indexes per-rank arrays). */

int ntw_part_owner(const ntw_part *p, uint64_t gid) {
  return p->ops->owner(p, gid) + p->off;
}

uint64_t ntw_part_local_count(const ntw_part *p, int rank) {
  if (rank < p->off) return 0;
  return p->ops->local_count(p, rank - p->off);
}

uint64_t ntw_part_local_gid(const ntw_part *p, int rank, uint64_t lidx) {
  if (rank < p->off) return p->n; /* no valid lidx: an impossible gid */
  return p->ops->local_gid(p, rank - p->off, lidx);
}

uint64_t ntw_part_local_lower(const ntw_part *p, int rank, uint64_t gid) {
  if (rank < p->off) return 0;
  return p->ops->local_lower(p, rank - p->off, gid);
}

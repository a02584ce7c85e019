/* partition/graph.c - the "graph" strategy: METIS on a coarsened graph of
 * the network, built from the projections' expected synapse counts, never
 * from the synapses themselves (they do not exist yet, and would not fit on
 * one rank for a large network).
 *
 * Vertices are chunks of contiguous gids within one population. The rules
 * that ntwin knows are homogeneous over their (source, target) pairs except
 * one_to_one, so the expected synapses between two chunks follow from
 * population-level densities: density(a -> b) * |u| * |v|, plus the
 * one_to_one overlap. Synapses inside one chunk never cross ranks and are
 * not edges (METIS takes no self-loops).
 *
 * Determinism: the graph is a pure function of the network description,
 * METIS runs serially with a fixed seed, and ranks are renumbered by the
 * first gid they own, so every rank computes the same map. */
#include <math.h>
#include <metis.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntw_error.h"
#include "partition/partition_impl.h"

/* Edge and vertex weights are scaled so that their totals stay below this:
 * METIS sums them in idx_t (32 bits here). */
#define WEIGHT_TOTAL 536870912.0 /* 2^29 */
/* Refuse graphs whose adjacency would not fit comfortably in memory on every
 * rank (the graph is dense between connected populations). */
#define MAX_ADJ 50000000ull
/* What the vertex budget aims at: METIS then takes well under a second and
 * a few MB. */
#define ADJ_BUDGET 262144.0
/* At least this many chunks per rank in each population (when it has that
 * many neurons), so METIS can split populations finely enough to balance. */
#define MIN_CHUNKS_PER_RANK 4
/* METIS load imbalance tolerance, in 1/1000: 1 %. Partitions of networks
 * without structure gain nothing from a looser one. */
#define UFACTOR 10

/* ---- lookups ---- */

/* Largest i in [lo, hi) with a[i] <= x, given a[lo] <= x (a ascending). */
static uint64_t last_le(const uint64_t *a, uint64_t lo, uint64_t hi, uint64_t x) {
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (a[mid] <= x) lo = mid;
    else hi = mid;
  }
  return lo;
}

static int graph_owner(const ntw_part *p, uint64_t gid) {
  return p->seg_rank[last_le(p->seg_start, 0, p->nseg, gid)];
}

static uint64_t graph_local_count(const ntw_part *p, int rank) {
  return p->count[rank];
}

static uint64_t graph_local_gid(const ntw_part *p, int rank, uint64_t lidx) {
  uint64_t k = last_le(p->rseg_cum, p->rseg_off[rank], p->rseg_off[rank + 1], lidx);
  return p->seg_start[p->rseg[k]] + (lidx - p->rseg_cum[k]);
}

static uint64_t graph_local_lower(const ntw_part *p, int rank, uint64_t gid) {
  uint64_t lo = p->rseg_off[rank], hi = p->rseg_off[rank + 1];
  if (lo == hi || gid <= p->seg_start[p->rseg[lo]]) return 0;
  /* rseg_start of rank's k-th range is seg_start[rseg[k]]: search by hand
   * (not contiguous in memory). */
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (p->seg_start[p->rseg[mid]] <= gid) lo = mid;
    else hi = mid;
  }
  uint64_t s = p->rseg[lo];
  uint64_t len = p->seg_start[s + 1] - p->seg_start[s];
  uint64_t in = gid - p->seg_start[s];
  return p->rseg_cum[lo] + (in < len ? in : len);
}

const part_ops ntw__part_graph_ops = {graph_owner, graph_local_count,
                                      graph_local_gid, graph_local_lower};

void ntw__part_graph_free(ntw_part *p) {
  free(p->seg_start), free(p->seg_rank), free(p->rseg_off), free(p->rseg);
  free(p->rseg_cum), free(p->count);
  p->seg_start = p->rseg_off = p->rseg = p->rseg_cum = p->count = NULL;
  p->seg_rank = NULL;
  p->nseg = 0;
}

/* ---- building the map ---- */

typedef struct {
  size_t nv;          /* vertices (chunks), in gid order */
  uint64_t *vstart;   /* nv + 1: first gid of each chunk, then n */
  size_t *vpop;       /* population of each chunk */
  size_t *pop_v0;     /* npops + 1: first chunk of each population */
} chunks;

static void chunks_free(chunks *c) {
  free(c->vstart), free(c->vpop), free(c->pop_v0);
}

/* The vertex budget: NTW_PART_GRAPH_VERTICES, lowered so the adjacency of
 * chunks sized in proportion to their populations stays within ADJ_BUDGET
 * entries. Chunks of two connected populations are all pairwise adjacent,
 * so for V vertices the adjacency holds V^2 sum_{a~b} s_a s_b / n^2. */
static double vertex_budget(const ntw_part_net *net, uint64_t n) {
  double frac = 0; /* sum over connected ordered pairs of s_a s_b / n^2 */
  const size_t np = net->npops;
  char *conn = calloc(np * np + 1, 1);
  if (!conn) return NTW_PART_GRAPH_VERTICES; /* only a budget: no error */
  for (size_t j = 0; j < net->nprojs; j++) {
    const ntw_part_proj *pr = &net->projs[j];
    if (pr->source >= np || pr->target >= np || !(pr->synapses > 0)) continue;
    conn[pr->source * np + pr->target] = conn[pr->target * np + pr->source] = 1;
  }
  for (size_t a = 0; a < np; a++)
    for (size_t b = 0; b < np; b++)
      if (conn[a * np + b])
        frac += (double)net->pop_size[a] / (double)n * (double)net->pop_size[b] / (double)n;
  free(conn);
  double v = frac > 0 ? sqrt(ADJ_BUDGET / frac) : NTW_PART_GRAPH_VERTICES;
  return v < NTW_PART_GRAPH_VERTICES ? v : NTW_PART_GRAPH_VERTICES;
}

static int make_chunks(const ntw_part_net *net, uint64_t n, uint64_t P, chunks *c) {
  memset(c, 0, sizeof *c);
  const double budget = vertex_budget(net, n);
  c->pop_v0 = calloc(net->npops + 1, sizeof *c->pop_v0);
  NTW_ALLOC_CHECK(c->pop_v0);
  uint64_t *k = calloc(net->npops + 1, sizeof *k);
  NTW_ALLOC_CHECK(k);
  size_t nv = 0;
  for (size_t i = 0; i < net->npops; i++) {
    uint64_t s = net->pop_size[i];
    if (s == 0) continue;
    /* share of the vertex budget by size, at least MIN_CHUNKS_PER_RANK per
     * rank, at most one chunk per neuron */
    double share = budget * (double)s / (double)n;
    uint64_t ki = share < 1.0 ? 1 : (uint64_t)llround(share);
    uint64_t kmin = P * MIN_CHUNKS_PER_RANK;
    if (ki < kmin) ki = kmin;
    if (ki > s) ki = s;
    k[i] = ki;
    if (ki > MAX_ADJ || nv + ki > MAX_ADJ) {
      free(k);
      return NTW_ERR(NTW_ERR_NOTSUP,
                     "partition graph: too many ranks for a coarsened graph "
                     "of the network (%llu ranks)", (unsigned long long)P);
    }
    nv += ki;
  }
  c->nv = nv;
  c->vstart = malloc((nv + 1) * sizeof *c->vstart);
  c->vpop = malloc((nv + 1) * sizeof *c->vpop);
  if (!c->vstart || !c->vpop) {
    free(k);
    return NTW_ERR(NTW_ERR_NOMEM, "out of memory for the partition graph");
  }
  size_t v = 0;
  uint64_t first = 0;
  for (size_t i = 0; i < net->npops; i++) {
    c->pop_v0[i] = v;
    for (uint64_t j = 0; j < k[i]; j++, v++) {
      /* chunk j of k: [s j / k, s (j + 1) / k), sizes differ by at most one */
      c->vstart[v] = first + (uint64_t)((unsigned __int128)net->pop_size[i] * j / k[i]);
      c->vpop[v] = i;
    }
    first += net->pop_size[i];
  }
  c->pop_v0[net->npops] = v;
  c->vstart[nv] = n;
  free(k);
  return 0;
}

static inline uint64_t vsize(const chunks *c, size_t v) {
  return c->vstart[v + 1] - c->vstart[v];
}

/* Population-local index range of chunk v, as [lo, hi). */
static inline void vrange(const chunks *c, const uint64_t *pop_first, size_t v,
                          uint64_t *lo, uint64_t *hi) {
  *lo = c->vstart[v] - pop_first[c->vpop[v]];
  *hi = c->vstart[v + 1] - pop_first[c->vpop[v]];
}

/* Vertices when no METIS call is needed or possible: contiguous runs of
 * roughly equal weight, like block but by work. */
static void weighted_blocks(const double *w, size_t nv, uint64_t P, idx_t *part) {
  double total = 0, acc = 0;
  for (size_t v = 0; v < nv; v++) total += w[v];
  for (size_t v = 0; v < nv; v++) {
    double mid = acc + 0.5 * w[v];
    acc += w[v];
    uint64_t r = total > 0 ? (uint64_t)(mid / total * (double)P) : 0;
    part[v] = (idx_t)(r < P ? r : P - 1);
  }
}

int ntw__part_graph_init(ntw_part *p, const ntw_part_net *net) {
  const uint64_t P = p->nranks, n = p->n;
  const size_t npops = net->npops;
  int err = 0;
  chunks c;
  double *dens = NULL, *o2o = NULL, *vw = NULL, *ew = NULL;
  uint64_t *pop_first = NULL, *rfirst = NULL;
  idx_t *xadj = NULL, *adjncy = NULL, *vwgt = NULL, *adjwgt = NULL, *part = NULL;
  int *relabel = NULL;
  NTW_TRY(make_chunks(net, n, P, &c));
  const size_t nv = c.nv;

  /* Population-pair densities, symmetrised: dens[a][b] = expected synapses
   * per (neuron of a, neuron of b) pair in either direction; o2o[a][b] the
   * same per index-aligned pair of one_to_one projections. */
  dens = calloc(npops * npops + 1, sizeof *dens);
  o2o = calloc(npops * npops + 1, sizeof *o2o);
  pop_first = calloc(npops + 1, sizeof *pop_first);
  vw = calloc(nv + 1, sizeof *vw);
  if (!dens || !o2o || !pop_first || !vw) goto nomem;
  for (size_t i = 0; i < npops; i++)
    pop_first[i + 1] = pop_first[i] + net->pop_size[i];
  for (size_t v = 0; v < nv; v++) vw[v] = (double)vsize(&c, v);
  for (size_t j = 0; j < net->nprojs; j++) {
    const ntw_part_proj *pr = &net->projs[j];
    if (pr->source >= npops || pr->target >= npops || !(pr->synapses >= 0) ||
        !isfinite(pr->synapses)) {
      err = NTW_ERR(NTW_ERR_ARG, "partition graph: projection %zu is not valid "
                    "(populations %zu -> %zu, %g synapses)", j, pr->source,
                    pr->target, pr->synapses);
      goto done;
    }
    const double ns = (double)net->pop_size[pr->source];
    const double nt = (double)net->pop_size[pr->target];
    if (nt == 0 || ns == 0 || pr->synapses == 0) continue;
    /* every target of a rule receives the same number in expectation */
    for (size_t v = c.pop_v0[pr->target]; v < c.pop_v0[pr->target + 1]; v++)
      vw[v] += pr->synapses * (double)vsize(&c, v) / nt;
    size_t ab = pr->source * npops + pr->target, ba = pr->target * npops + pr->source;
    if (pr->one_to_one) {
      o2o[ab] += pr->synapses / nt;
      o2o[ba] += pr->synapses / nt;
    } else {
      double pairs = ns * nt - (pr->no_autapses ? nt : 0);
      if (pairs <= 0) continue;
      dens[ab] += pr->synapses / pairs;
      dens[ba] += pr->synapses / pairs;
    }
  }

  part = calloc(nv + 1, sizeof *part);
  if (!part) goto nomem;
  size_t nadj = 0;
  if (P > 1 && nv > P) {
    /* CSR adjacency, two passes: count, then fill. */
    xadj = calloc(nv + 1, sizeof *xadj);
    if (!xadj) goto nomem;
    for (int pass = 0; pass < 2; pass++) {
      size_t e = 0;
      for (size_t u = 0; u < nv; u++) {
        const size_t a = c.vpop[u];
        uint64_t ulo, uhi;
        vrange(&c, pop_first, u, &ulo, &uhi);
        for (size_t b = 0; b < npops; b++) {
          const double d = dens[a * npops + b], o = o2o[a * npops + b];
          if (d == 0 && o == 0) continue;
          for (size_t v = c.pop_v0[b]; v < c.pop_v0[b + 1]; v++) {
            if (v == u) continue;
            double w = d * (double)vsize(&c, u) * (double)vsize(&c, v);
            if (o > 0) {
              uint64_t vlo, vhi;
              vrange(&c, pop_first, v, &vlo, &vhi);
              uint64_t lo = ulo > vlo ? ulo : vlo, hi = uhi < vhi ? uhi : vhi;
              if (hi > lo) w += o * (double)(hi - lo);
            }
            if (w <= 0) continue;
            if (pass == 1) {
              adjncy[e] = (idx_t)v;
              ew[e] = w;
            }
            e++;
          }
        }
        if (pass == 0 && e > MAX_ADJ) {
          err = NTW_ERR(NTW_ERR_NOTSUP,
                        "partition graph: the coarsened graph is too dense "
                        "(over %llu adjacency entries for %zu chunks)",
                        (unsigned long long)MAX_ADJ, nv);
          goto done;
        }
        if (pass == 0) xadj[u + 1] = (idx_t)e;
      }
      if (pass == 0) {
        nadj = e;
        adjncy = malloc((nadj + 1) * sizeof *adjncy);
        adjwgt = malloc((nadj + 1) * sizeof *adjwgt);
        ew = malloc((nadj + 1) * sizeof *ew);
        if (!adjncy || !adjwgt || !ew) goto nomem;
      }
    }
  }

  if (P == 1 || nv == 0) {
    /* everything on rank 0: part is all zeros */
  } else if (nv <= P) {
    for (size_t v = 0; v < nv; v++) part[v] = (idx_t)v;
  } else if (nadj == 0) {
    weighted_blocks(vw, nv, P, part);
  } else {
    /* Integer weights for METIS, scaled to use the resolution of idx_t
     * without overflowing its sums. Edge weights that round to zero are
     * kept as 1: the pair is connected. */
    double tv = 0, te = 0;
    for (size_t v = 0; v < nv; v++) tv += vw[v];
    for (size_t e = 0; e < nadj; e++) te += ew[e];
    vwgt = malloc((nv + 1) * sizeof *vwgt);
    if (!vwgt) goto nomem;
    for (size_t v = 0; v < nv; v++) {
      double x = floor(vw[v] * (WEIGHT_TOTAL / tv) + 0.5);
      vwgt[v] = x < 1 ? 1 : (idx_t)x;
    }
    for (size_t e = 0; e < nadj; e++) {
      double x = floor(ew[e] * (WEIGHT_TOTAL / te) + 0.5);
      adjwgt[e] = x < 1 ? 1 : (idx_t)x;
    }
    idx_t opts[METIS_NOPTIONS];
    METIS_SetDefaultOptions(opts);
    opts[METIS_OPTION_OBJTYPE] = METIS_OBJTYPE_CUT;
    opts[METIS_OPTION_NUMBERING] = 0;
    opts[METIS_OPTION_SEED] = 1;      /* fixed: the same map on every rank */
    opts[METIS_OPTION_UFACTOR] = UFACTOR;
    idx_t nvtx = (idx_t)nv, ncon = 1, nparts = (idx_t)P, objval = 0;
    int rc = METIS_PartGraphKway(&nvtx, &ncon, xadj, adjncy, vwgt, NULL, adjwgt,
                                 &nparts, NULL, NULL, opts, &objval, part);
    if (rc != METIS_OK) {
      err = NTW_ERR(rc == METIS_ERROR_MEMORY ? NTW_ERR_NOMEM : NTW_ERR_INTERNAL,
                    "partition graph: METIS_PartGraphKway failed (%d) on %zu "
                    "chunks, %zu adjacency entries, %llu ranks", rc, nv, nadj,
                    (unsigned long long)P);
      goto done;
    }
  }

  /* Renumber ranks in the order of the first gid they own (ranks without
   * any keep the highest numbers), so the map reads left to right. */
  relabel = malloc(P * sizeof *relabel);
  if (!relabel) goto nomem;
  for (uint64_t r = 0; r < P; r++) relabel[r] = -1;
  {
    int next = 0;
    for (size_t v = 0; v < nv; v++)
      if (part[v] < 0 || (uint64_t)part[v] >= P) {
        err = NTW_ERR(NTW_ERR_INTERNAL, "partition graph: METIS gave part %d",
                      (int)part[v]);
        goto done;
      } else if (relabel[part[v]] < 0) {
        relabel[part[v]] = next++;
      }
    for (uint64_t r = 0; r < P; r++)
      if (relabel[r] < 0) relabel[r] = next++;
  }

  /* Gid ranges: merge neighbouring chunks of the same rank. */
  size_t nseg = 0;
  for (size_t v = 0; v < nv; v++)
    if (v == 0 || part[v] != part[v - 1]) nseg++;
  p->seg_start = malloc((nseg + 1) * sizeof *p->seg_start);
  p->seg_rank = malloc((nseg + 1) * sizeof *p->seg_rank);
  p->rseg_off = calloc(P + 1, sizeof *p->rseg_off);
  p->rseg = malloc((nseg + 1) * sizeof *p->rseg);
  p->rseg_cum = malloc((nseg + 1) * sizeof *p->rseg_cum);
  p->count = calloc(P, sizeof *p->count);
  rfirst = calloc(P + 1, sizeof *rfirst);
  if (!p->seg_start || !p->seg_rank || !p->rseg_off || !p->rseg || !p->rseg_cum ||
      !p->count || !rfirst)
    goto nomem;
  nseg = 0;
  for (size_t v = 0; v < nv; v++)
    if (v == 0 || part[v] != part[v - 1]) {
      p->seg_start[nseg] = c.vstart[v];
      p->seg_rank[nseg] = relabel[part[v]];
      nseg++;
    }
  p->seg_start[nseg] = n;
  p->nseg = nseg;
  for (size_t s = 0; s < nseg; s++) p->rseg_off[p->seg_rank[s] + 1]++;
  for (uint64_t r = 0; r < P; r++) p->rseg_off[r + 1] += p->rseg_off[r];
  memcpy(rfirst, p->rseg_off, (P + 1) * sizeof *rfirst);
  for (size_t s = 0; s < nseg; s++) {
    int r = p->seg_rank[s];
    uint64_t k = rfirst[r]++;
    p->rseg[k] = s;
    p->rseg_cum[k] = p->count[r];
    p->count[r] += p->seg_start[s + 1] - p->seg_start[s];
  }
  goto done;
nomem:
  err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for the partition graph");
done:
  chunks_free(&c);
  free(dens), free(o2o), free(vw), free(ew), free(pop_first), free(rfirst);
  free(xadj), free(adjncy), free(vwgt), free(adjwgt), free(part), free(relabel);
  return err;
}

/* engine.c - network build and the window loop (see engine.h). */
#include "engine.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/binomial.h"
#include "core/ntw_error.h"
#include "core/rng.h"
#include "engine_impl.h"
#include "model.h"

/* ------------------------------------------------------------------ */
/* Connectivity: the sources of one target, drawn from keyed RNG.       */

typedef struct {
  const ntw_proj_cfg *pr;
  int proj;
  uint64_t src_first, src_n, tgt_first;
  bool same_pop;
  uint64_t *bitmap; /* src_n bits, all zero between calls */
  uint64_t *buf;    /* up to max(indegree, src_n) sources */
  uint64_t *indeg;  /* fixed_total_number: in-degree per target index */
} src_drawer;

/* The sources of target `tgt_gid` under projection d->pr, into d->buf, in a
 * fixed order. Returns their number. Depends only on (seed, projection,
 * target gid), never on the rank. */
static size_t draw_sources(src_drawer *d, uint64_t seed, uint64_t tgt_gid) {
  const ntw_proj_cfg *pr = d->pr;
  const uint32_t stream = NTW_STREAM_CONN | (uint32_t)d->proj;
  /* Without autapses the target is not a candidate: draw from n-1 and skip
   * over its index. */
  const bool skip_self = d->same_pop && !pr->allow_autapses;
  const uint64_t self = tgt_gid - d->tgt_first; /* index in its population */
  const uint64_t n = d->src_n - (skip_self ? 1 : 0);
  size_t k = 0;
#define MAP(x) (d->src_first + ((skip_self && (x) >= self) ? (x) + 1 : (x)))
  switch (pr->rule) {
  case NTW_RULE_FIXED_INDEGREE:
  case NTW_RULE_FIXED_TOTAL_NUMBER: {
    /* fixed_total_number: this target's share of the N synapses, then the
     * same draws as fixed_indegree. */
    const uint64_t C = pr->rule == NTW_RULE_FIXED_INDEGREE ? pr->indegree
                                                           : d->indeg[self];
    if (C == 0) return 0;
    if (n == 0) return 0;
    if (pr->allow_multapses) {
      for (uint64_t j = 0; j < C; j += 2) {
        ntw_rng_block r = ntw_rng(seed, stream, tgt_gid, (uint32_t)(j >> 1));
        d->buf[k++] = MAP(ntw_below(r.v[0], r.v[1], n));
        if (j + 1 < C) d->buf[k++] = MAP(ntw_below(r.v[2], r.v[3], n));
      }
    } else {
      /* Floyd's algorithm: C distinct values of [0, n) with C draws. */
      for (uint64_t j = n - C, i = 0; j < n; j++, i++) {
        ntw_rng_block r = ntw_rng(seed, stream, tgt_gid, (uint32_t)(i >> 1));
        uint64_t t = (i & 1) ? ntw_below(r.v[2], r.v[3], j + 1)
                             : ntw_below(r.v[0], r.v[1], j + 1);
        if (d->bitmap[t >> 6] >> (t & 63) & 1) t = j;
        d->bitmap[t >> 6] |= UINT64_C(1) << (t & 63);
        d->buf[k++] = t;
      }
      for (size_t i = 0; i < k; i++) {
        uint64_t t = d->buf[i];
        d->bitmap[t >> 6] &= ~(UINT64_C(1) << (t & 63));
        d->buf[i] = MAP(t);
      }
    }
    break;
  }
  case NTW_RULE_FIXED_PROBABILITY: {
    /* Bernoulli trials by geometric skips: O(expected in-degree) draws. */
    const double p = pr->p;
    if (p >= 1.0) {
      for (uint64_t x = 0; x < n; x++) d->buf[k++] = MAP(x);
      break;
    }
    const double inv_log1mp = 1.0 / log1p(-p);
    uint64_t x = 0;
    for (uint32_t b = 0;; b++) {
      ntw_rng_block r = ntw_rng(seed, stream, tgt_gid, b);
      for (int h = 0; h < 2; h++) {
        double u = 1.0 - ntw_u01(r.v[2 * h], r.v[2 * h + 1]); /* (0,1] */
        double skip = floor(log(u) * inv_log1mp);
        if (skip >= (double)(n - x)) return k;
        x += (uint64_t)skip;
        d->buf[k++] = MAP(x);
        if (++x >= n) return k;
      }
    }
  }
  case NTW_RULE_ONE_TO_ONE:
    d->buf[k++] = d->src_first + self;
    break;
  case NTW_RULE_ALL_TO_ALL:
    for (uint64_t x = 0; x < n; x++) d->buf[k++] = MAP(x);
    break;
  }
#undef MAP
  return k;
}

/* The in-degree of every target of a fixed_total_number projection: a
 * multinomial(N; 1/n, ..., 1/n) drawn as sequential conditional binomials,
 * k_i ~ Binomial(N - k_0 - ... - k_{i-1}, 1/(n - i)), in target-index order.
 * Without multapses the N pairs are distinct: a multivariate hypergeometric
 * over n classes of m possible pairs each, k_i ~ Hypergeometric(m (n - i),
 * m, remaining). Each draw is keyed by (seed, TOTAL|proj, i), so every rank
 * computes the same vector (O(n)) without communication. Returns the largest
 * in-degree. */
static uint64_t total_number_indegrees(const ntw_config *cfg, int proj,
                                       uint64_t *indeg) {
  const ntw_proj_cfg *pr = &cfg->projs[proj];
  const uint64_t n = cfg->pops[pr->target].size;
  const bool self = pr->source == pr->target && !pr->allow_autapses;
  const uint64_t m = cfg->pops[pr->source].size - (self ? 1 : 0);
  const uint32_t stream = NTW_STREAM_TOTAL | (uint32_t)proj;
  const uint64_t seed = cfg->sim.seed;
  uint64_t rem = pr->N, kmax = 0;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t k;
    if (i + 1 == n)
      k = rem;
    else if (pr->allow_multapses)
      k = ntw_binomial(seed, stream, i, rem, 1.0 / (double)(n - i));
    else
      k = ntw_hypergeometric(seed, stream, i, m * (n - i), m, rem);
    indeg[i] = k;
    rem -= k;
    if (k > kmax) kmax = k;
  }
  return kmax;
}

static int drawer_init(src_drawer *d, const ntw_config *cfg, int proj) {
  memset(d, 0, sizeof *d);
  d->pr = &cfg->projs[proj];
  d->proj = proj;
  const ntw_pop_cfg *src = &cfg->pops[d->pr->source];
  d->src_first = src->first_gid;
  d->src_n = src->size;
  d->same_pop = d->pr->source == d->pr->target;
  d->tgt_first = cfg->pops[d->pr->target].first_gid;
  uint64_t cap = d->src_n;
  if (d->pr->rule == NTW_RULE_FIXED_INDEGREE && d->pr->indegree > cap)
    cap = d->pr->indegree;
  if (d->pr->rule == NTW_RULE_FIXED_TOTAL_NUMBER) {
    const uint64_t nt = cfg->pops[d->pr->target].size;
    d->indeg = malloc(nt * sizeof *d->indeg);
    NTW_CHECK(d->indeg, NTW_ERR_NOMEM,
              "out of memory for the in-degrees of projection %d", proj);
    uint64_t kmax = total_number_indegrees(cfg, proj, d->indeg);
    if (kmax > cap) cap = kmax;
  }
  d->bitmap = calloc((d->src_n + 63) / 64 + 1, sizeof *d->bitmap);
  d->buf = malloc((cap + 1) * sizeof *d->buf);
  NTW_CHECK(d->bitmap && d->buf, NTW_ERR_NOMEM,
            "out of memory drawing projection %d", proj);
  return 0;
}

static void drawer_fini(src_drawer *d) {
  free(d->indeg);
  free(d->bitmap);
  free(d->buf);
}

/* Delay in steps: round to the grid (as NEST does). */
static int delay_steps(double ms, double dt) { return (int)lround(ms / dt); }

/* ------------------------------------------------------------------ */

static int build_blocks(ntw_engine *e) {
  const ntw_config *cfg = e->cfg;
  e->blocks = calloc(cfg->npops, sizeof *e->blocks);
  NTW_ALLOC_CHECK(e->blocks);
  for (size_t p = 0; p < cfg->npops; p++) {
    const ntw_pop_cfg *pc = &cfg->pops[p];
    const ntw_model_ops *ops = ntw_model_find(pc->model);
    NTW_CHECK(ops, NTW_ERR_CONFIG,
              "%s: populations[%zu].model: unknown model '%s' (known: %s)",
              cfg->path, p, pc->model, ntw_model_names());
    pop_block *b = &e->blocks[e->nblocks++];
    b->ops = ops;
    b->pop = (int)p;
    b->lo = ntw_part_local_lower(e->part, e->rank, pc->first_gid);
    b->n = ntw_part_local_lower(e->part, e->rank, pc->first_gid + pc->size) -
           b->lo;
    ntw_model_init mi = {.pop = pc,
                         .pop_index = (int)p,
                         .cfg_path = cfg->path,
                         .dt = e->dt,
                         .seed = cfg->sim.seed,
                         .n = b->n,
                         .gids = e->gids + b->lo};
    NTW_TRY(ops->create(&mi, &b->state));
  }
  return 0;
}

/* Window and ring size from the configured delay bounds, so every rank
 * agrees without communication. */
static int plan_delays(ntw_engine *e) {
  const ntw_config *cfg = e->cfg;
  int dmin = INT32_MAX, dmax = 1;
  for (size_t k = 0; k < cfg->nprojs; k++) {
    const ntw_dist *dd = &cfg->projs[k].delay;
    int lo = delay_steps(ntw_dist_lower(dd), e->dt);
    double hi_ms = ntw_dist_upper(dd);
    NTW_CHECK(lo >= 1, NTW_ERR_CONFIG,
              "%s: projections[%zu].delay: must be >= dt = %g ms", cfg->path,
              k, e->dt);
    int hi = isfinite(hi_ms) && hi_ms / e->dt < NTW_MAX_DELAY_STEPS
                 ? delay_steps(hi_ms, e->dt)
                 : NTW_MAX_DELAY_STEPS;
    if (lo < dmin) dmin = lo;
    if (hi > dmax) dmax = hi;
  }
  if (dmin == INT32_MAX) /* no projections: windows of ~1 ms */
    dmin = dmax = delay_steps(1.0, e->dt) > 0 ? delay_steps(1.0, e->dt) : 1;
  if (dmax < dmin) dmax = dmin;
  e->D = dmin;
  e->dmax = dmax;
  int64_t need = (int64_t)dmax + dmin + 1, R = 1;
  while (R < need) R <<= 1;
  e->ring_mask = R - 1;
  e->nports = 1;
  for (size_t b = 0; b < e->nblocks; b++)
    if (e->blocks[b].ops->nports > e->nports) e->nports = e->blocks[b].ops->nports;
  e->ring_port = (size_t)R * (e->n_local ? e->n_local : 1);
  e->ring = calloc(e->ring_port * (size_t)e->nports, sizeof(double));
  NTW_CHECK(e->ring, NTW_ERR_NOMEM, "out of memory for the delay ring (%lld x %llu)",
            (long long)R, (unsigned long long)e->n_local);
  return 0;
}

static bool in_store(const syn_store *st, const ntw_proj_cfg *pr, int k) {
  return st->proj < 0 ? strcmp(pr->syn_model, "static") == 0 : st->proj == k;
}

/* Two passes over the same keyed draws: count synapses per source, then fill
 * the CSR in place. No temporary proportional to the synapse count, so the
 * peak memory is the final store. */
static int build_store(ntw_engine *e, syn_store *st) {
  const ntw_config *cfg = e->cfg;
  const uint64_t N = st->src_n;
  st->row = calloc(N + 2, sizeof *st->row);
  NTW_ALLOC_CHECK(st->row);
  /* Pass 0 counts into row[s+1]; pass 1 fills using row[s+1] as the
   * cursor of source s, which leaves row[s+1] at the end of s. */
  uint64_t *cnt = st->row + 1;
  const uint64_t base = st->src_first;
  int err = 0;
  src_drawer d;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t k = 0; k < cfg->nprojs; k++) {
      const ntw_proj_cfg *pr = &cfg->projs[k];
      if (!in_store(st, pr, (int)k)) continue;
      NTW_TRY(drawer_init(&d, cfg, (int)k));
      const pop_block *tb = &e->blocks[pr->target];
      const uint32_t ws = NTW_STREAM_WEIGHT | (uint32_t)k;
      const uint32_t ds = NTW_STREAM_DELAY | (uint32_t)k;
      const bool wconst = pr->weight.kind == NTW_DIST_CONST;
      const bool dconst = pr->delay.kind == NTW_DIST_CONST;
      const int dc = delay_steps(pr->delay.a, e->dt);
      const bool two_ports = tb->ops->nports == 2;
      /* The cursors before and after projection k are its segment of every
       * source's row (recorded static projections only). */
      uint64_t *seg = pass == 1 && st->seg ? st->seg[k] : NULL;
      if (seg) memcpy(seg, cnt, N * sizeof *seg);
      for (uint64_t i = tb->lo; i < tb->lo + tb->n; i++) {
        const uint64_t tg = e->gids[i];
        size_t ns = draw_sources(&d, cfg->sim.seed, tg);
        if (pass == 0) {
          for (size_t j = 0; j < ns; j++) cnt[d.buf[j] - base]++;
          continue;
        }
        for (size_t j = 0; j < ns; j++) {
          uint64_t pos = cnt[d.buf[j] - base]++;
          st->tgt[pos] = (uint32_t)i;
          const float wj = (float)(wconst ? pr->weight.a
                                          : ntw_dist_draw(&pr->weight, cfg->sim.seed,
                                                          ws, tg, (uint32_t)j));
          st->w[pos] = wj;
          int ds_ = dconst ? dc
                           : delay_steps(ntw_dist_draw(&pr->delay, cfg->sim.seed,
                                                       ds, tg, (uint32_t)j),
                                         e->dt);
          if (NTW_UNLIKELY(ds_ > e->dmax || ds_ < e->D)) {
            err = NTW_ERR(NTW_ERR_CONFIG,
                          "%s: projections[%zu].delay: drew %g ms, outside "
                          "[%g, %g] ms; set \"min\"/\"max\"",
                          cfg->path, k, ds_ * e->dt, e->D * e->dt,
                          e->dmax * e->dt);
            drawer_fini(&d);
            return err;
          }
          st->d[pos] = (uint16_t)(ds_ | ((two_ports && wj < 0) << NTW_PORT_BIT));
          if (ds_ < e->dmin_built) e->dmin_built = ds_;
        }
      }
      if (seg) memcpy(seg + N, cnt, N * sizeof *seg);
      drawer_fini(&d);
    }
    if (pass == 0) {
      /* counts -> start offsets: row[s] = start of source s. */
      for (uint64_t x = 0; x < N; x++) st->row[x + 1] += st->row[x];
      st->nsyn = st->row[N];
      NTW_CHECK(e->n_local <= UINT32_MAX, NTW_ERR_NOTSUP,
                "more than 2^32 neurons on one rank; use more ranks");
      size_t ns = st->nsyn ? st->nsyn : 1;
      st->tgt = malloc(ns * sizeof *st->tgt);
      st->w = malloc(ns * sizeof *st->w);
      st->d = malloc(ns * sizeof *st->d);
      NTW_CHECK(st->tgt && st->w && st->d, NTW_ERR_NOMEM,
                "out of memory for %llu synapses on rank %d",
                (unsigned long long)st->nsyn, e->rank);
      /* row[s+1] := start of s, the fill cursor of pass 1. */
      memmove(st->row + 1, st->row, N * sizeof *st->row);
      st->row[0] = 0;
    }
  }
  return 0; /* row[s] = start of s, row[N] = nsyn */
}

/* Store 0 takes every static projection; each plastic projection gets its
 * own store with its parameters and per-source state. */
static int build_synapses(ntw_engine *e) {
  const ntw_config *cfg = e->cfg;
  e->stores = calloc(cfg->nprojs + 1, sizeof *e->stores);
  NTW_ALLOC_CHECK(e->stores);
  NTW_TRY(ntw_syn_setup(e, &e->stores[e->nstores++], -1));
  /* Index the static projections whose weights are recorded or changed at
   * run time, so that ntw_engine_foreach_projection_synapse and
   * ntw_engine_map_weights can walk just them. */
  for (size_t k = 0; k < cfg->nprojs; k++) {
    if (!cfg->projs[k].indexed) continue;
    if (strcmp(cfg->projs[k].syn_model, "static") != 0) continue;
    syn_store *st0 = &e->stores[0];
    if (!st0->seg) {
      st0->seg = calloc(cfg->nprojs, sizeof *st0->seg);
      NTW_ALLOC_CHECK(st0->seg);
    }
    st0->seg[k] = malloc((2 * st0->src_n + 1) * sizeof **st0->seg);
    NTW_ALLOC_CHECK(st0->seg[k]);
  }
  for (size_t k = 0; k < cfg->nprojs; k++)
    if (strcmp(cfg->projs[k].syn_model, "static") != 0)
      NTW_TRY(ntw_syn_setup(e, &e->stores[e->nstores++], (int)k));
  for (size_t k = 0; k < e->nstores; k++) {
    NTW_TRY(build_store(e, &e->stores[k]));
    e->nsyn += e->stores[k].nsyn;
  }
  return ntw_syn_post_setup(e);
}

/* Does any local synapse have source g? */
static bool needed_source(const ntw_engine *e, uint64_t g) {
  for (size_t k = 0; k < e->nstores; k++) {
    const syn_store *st = &e->stores[k];
    uint64_t i = g - st->src_first;
    if (g >= st->src_first && i < st->src_n && st->row[i + 1] > st->row[i])
      return true;
  }
  return false;
}

/* Tell each neuron's owner which ranks need its spikes: every rank sends,
 * per owner, the gids it has synapses from (one all-to-all at build). */
static int build_target_ranks(ntw_engine *e) {
  MPI_Comm mc = ntw_comm_mpi(e->comm);
  const int P = e->nranks;
  int err = 0;
  int *sc = calloc((size_t)P, sizeof *sc), *rc = calloc((size_t)P, sizeof *rc);
  int *sd = calloc((size_t)P, sizeof *sd), *rd = calloc((size_t)P, sizeof *rd);
  uint64_t *sb = NULL, *rb = NULL;
  if (!sc || !rc || !sd || !rd) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for target tables");
    goto done;
  }
  size_t nneed = 0;
  for (uint64_t g = 0; g < e->n_global; g++)
    if (needed_source(e, g)) {
      sc[ntw_part_owner(e->part, g)]++;
      nneed++;
    }
  for (int r = 1; r < P; r++) sd[r] = sd[r - 1] + sc[r - 1];
  sb = malloc((nneed + 1) * sizeof *sb);
  if (!sb) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for target tables");
    goto done;
  }
  {
    int *pos = rd; /* reuse rd as a cursor before the counts exchange */
    memcpy(pos, sd, (size_t)P * sizeof *pos);
    for (uint64_t g = 0; g < e->n_global; g++)
      if (needed_source(e, g)) sb[pos[ntw_part_owner(e->part, g)]++] = g;
  }
  if (MPI_Alltoall(sc, 1, MPI_INT, rc, 1, MPI_INT, mc) != MPI_SUCCESS) {
    err = NTW_ERR(NTW_ERR_MPI, "MPI_Alltoall failed building target tables");
    goto done;
  }
  size_t nrecv = 0;
  for (int r = 0; r < P; r++) {
    rd[r] = (int)nrecv;
    nrecv += (size_t)rc[r];
  }
  rb = malloc((nrecv + 1) * sizeof *rb);
  if (!rb) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for target tables");
    goto done;
  }
  if (MPI_Alltoallv(sb, sc, sd, MPI_UINT64_T, rb, rc, rd, MPI_UINT64_T, mc) !=
      MPI_SUCCESS) {
    err = NTW_ERR(NTW_ERR_MPI, "MPI_Alltoallv failed building target tables");
    goto done;
  }
  e->trow = calloc(e->n_local + 2, sizeof *e->trow);
  e->tranks = malloc((nrecv + 1) * sizeof *e->tranks);
  if (!e->trow || !e->tranks) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for target tables");
    goto done;
  }
  for (size_t j = 0; j < nrecv; j++)
    e->trow[ntw_part_local_lower(e->part, e->rank, rb[j]) + 1]++;
  for (uint64_t i = 0; i < e->n_local; i++) e->trow[i + 1] += e->trow[i];
  /* Fill in source-rank order, so each neuron's list is sorted. */
  {
    uint64_t *cur = malloc((e->n_local + 1) * sizeof *cur);
    if (!cur) {
      err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for target tables");
      goto done;
    }
    memcpy(cur, e->trow, (e->n_local + 1) * sizeof *cur);
    for (int r = 0; r < P; r++)
      for (int j = rd[r]; j < rd[r] + rc[r]; j++)
        e->tranks[cur[ntw_part_local_lower(e->part, e->rank, rb[j])]++] = r;
    free(cur);
  }
done:
  free(sc), free(rc), free(sd), free(rd), free(sb), free(rb);
  return err;
}

/* Poisson CDF as 32-bit thresholds: count = number of thresholds <= u. The
 * table stops where the tail mass is below 2^-40. A guide table (indexed
 * search, Chen & Asau 1974) gives, for the top 10 bits of u, the count at
 * which the search may start, so a draw costs about one comparison. */
static int poisson_table(double lambda, poisson_dev *pd) {
  int cap = (int)(lambda + 20.0 * sqrt(lambda) + 40.0);
  uint32_t *t = malloc((size_t)cap * sizeof *t);
  NTW_ALLOC_CHECK(t);
  double p = exp(-lambda), c = p;
  int n = 0;
  for (int k = 1; k < cap && 1.0 - c > 0x1p-40; k++) {
    double thr = c * 4294967296.0;
    t[n++] = thr >= 4294967295.0 ? UINT32_MAX : (uint32_t)thr;
    p *= lambda / k;
    c += p;
  }
  pd->cdf = t;
  pd->ncdf = n;
  for (uint32_t j = 0, k = 0; j < 1024; j++) {
    uint32_t lo = j << 22; /* smallest u with these top bits */
    while ((int)k < n && lo >= t[k]) k++;
    pd->guide[j] = (uint8_t)(k < 255 ? k : 255);
  }
  return 0;
}

static inline int poisson_count(const poisson_dev *pd, uint32_t u) {
  int c = pd->guide[u >> 22];
  while (c < pd->ncdf && u >= pd->cdf[c]) c++;
  return c;
}

static int cmp_forced(const void *a, const void *b) {
  const forced_spike *x = a, *y = b;
  if (x->step != y->step) return (x->step > y->step) - (x->step < y->step);
  return (x->lidx > y->lidx) - (x->lidx < y->lidx);
}

static int build_stimuli(ntw_engine *e) {
  const ntw_config *cfg = e->cfg;
  const size_t nl1 = e->n_local ? e->n_local : 1;
  bool any_noise = false;
  for (size_t k = 0; k < cfg->nstims; k++)
    any_noise |= cfg->stims[k].kind == NTW_STIM_NOISE;
  e->i_ext = calloc(nl1, sizeof *e->i_ext);
  e->i_dc = any_noise ? calloc(nl1, sizeof *e->i_dc) : e->i_ext;
  e->poisson = calloc(cfg->nstims + 1, sizeof *e->poisson);
  e->noise = calloc(cfg->nstims + 1, sizeof *e->noise);
  e->dc = calloc(2 * cfg->nstims + 1, sizeof *e->dc);
  NTW_CHECK(e->i_ext && e->i_dc && e->poisson && e->noise && e->dc,
            NTW_ERR_NOMEM, "out of memory for stimuli");
  for (size_t k = 0; k < cfg->nstims; k++) {
    const ntw_stim_cfg *s = &cfg->stims[k];
    const pop_block *b = &e->blocks[s->target];
    int64_t start = (int64_t)llround(s->start / e->dt);
    int64_t stop = isfinite(s->stop) ? (int64_t)llround(s->stop / e->dt)
                                     : INT64_MAX;
    if (s->kind == NTW_STIM_POISSON) {
      poisson_dev *p = &e->poisson[e->npoisson++];
      p->stim = (int)k;
      p->lo = b->lo;
      p->n = b->n;
      p->start = start;
      p->stop = stop;
      p->weight = s->weight;
      p->port = (b->ops->nports == 2 && s->weight < 0) ? 1 : 0;
      const double lambda = s->rate * e->dt * 1e-3;
      p->block = NTW_POISSON_BLOCK * lambda <= NTW_POISSON_BLOCK_MAX_MEAN;
      NTW_TRY(poisson_table(p->block ? NTW_POISSON_BLOCK * lambda : lambda, p));
      if (p->block) {
        /* Counts fit a byte: a block holds at most ncdf events. */
        NTW_CHECK(p->ncdf < 256, NTW_ERR_INTERNAL, "Poisson block table too long");
        p->counts = malloc((size_t)NTW_POISSON_BLOCK * (b->n ? b->n : 1));
        NTW_ALLOC_CHECK(p->counts);
        p->cblock = -1;
      }
    } else if (s->kind == NTW_STIM_NOISE) {
      noise_dev *q = &e->noise[e->nnoise++];
      q->stim = (int)k;
      q->lo = b->lo;
      q->n = b->n;
      q->start = start;
      q->stop = stop;
      q->mean = s->mean;
      q->std = s->std;
      q->decay = exp(-e->dt / s->tau);
      q->kick = s->std * sqrt(-expm1(-2.0 * e->dt / s->tau));
      q->I = calloc(b->n + 1, sizeof *q->I);
      NTW_ALLOC_CHECK(q->I);
    } else if (s->kind == NTW_STIM_SPIKE_TIMES) {
      forced_spike *nf = realloc(e->forced, (e->nforced + s->nspikes + 1) * sizeof *nf);
      NTW_ALLOC_CHECK(nf);
      e->forced = nf;
      const uint64_t first = cfg->pops[s->target].first_gid;
      for (size_t q = 0; q < s->nspikes; q++) {
        const uint64_t g = first + s->spike_node[q];
        const int64_t stamp = (int64_t)llround(s->spike_time[q] / e->dt);
        NTW_CHECK(stamp >= 1, NTW_ERR_CONFIG,
                  "%s: stimuli[%zu].times: %g ms rounds to step 0; the first "
                  "possible spike time is dt = %g ms",
                  cfg->path, k, s->spike_time[q], e->dt);
        if (ntw_part_owner(e->part, g) != e->rank) continue;
        e->forced[e->nforced++] = (forced_spike){
            stamp - 1, (uint32_t)ntw_part_local_lower(e->part, e->rank, g)};
      }
    } else {
      e->dc[e->ndc++] = (dc_event){start, b->lo, b->n, s->amplitude};
      if (stop != INT64_MAX)
        e->dc[e->ndc++] = (dc_event){stop, b->lo, b->n, -s->amplitude};
    }
  }
  if (e->nforced > 1) qsort(e->forced, e->nforced, sizeof *e->forced, cmp_forced);
  /* Apply in step order; equal steps keep config order (stable). */
  for (size_t i = 1; i < e->ndc; i++)
    for (size_t j = i; j > 0 && e->dc[j - 1].step > e->dc[j].step; j--) {
      dc_event t = e->dc[j];
      e->dc[j] = e->dc[j - 1];
      e->dc[j - 1] = t;
    }
  return 0;
}

int ntw_engine_create(const ntw_config *cfg, ntw_comm *comm,
                      const ntw_part *part, ntw_engine **out) {
  double t0 = MPI_Wtime();
  *out = NULL;
  ntw_engine *e = calloc(1, sizeof *e);
  NTW_ALLOC_CHECK(e);
  int err = 0;
  e->cfg = cfg;
  e->comm = comm;
  e->part = part;
  e->rank = ntw_comm_rank(comm);
  e->nranks = ntw_comm_size(comm);
  e->dt = cfg->sim.dt;
  e->n_global = cfg->n_neurons;
  e->dmin_built = INT32_MAX;
  if (ntw_part_size(part) != e->n_global || ntw_part_nranks(part) != e->nranks) {
    err = NTW_ERR(NTW_ERR_ARG, "partition does not match the network");
    goto fail;
  }
  if (e->n_global > NTW_KEY_GID_MASK + 1) { /* spike keys, Poisson counters */
    err = NTW_ERR(NTW_ERR_CONFIG, "%s: populations: at most 2^48 neurons "
                  "(global ids are 48-bit) (got %" PRIu64 ")",
                  cfg->path, e->n_global);
    goto fail;
  }
  e->n_local = ntw_part_local_count(part, e->rank);
  e->gids = malloc((e->n_local + 1) * sizeof *e->gids);
  e->pop_spikes = calloc(cfg->npops + 1, sizeof *e->pop_spikes);
  if (!e->gids || !e->pop_spikes) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for %llu neurons",
                  (unsigned long long)e->n_local);
    goto fail;
  }
  for (uint64_t i = 0; i < e->n_local; i++)
    e->gids[i] = ntw_part_local_gid(part, e->rank, i);
  NTW_GOTO(err, build_blocks(e), fail);
  NTW_GOTO(err, plan_delays(e), fail);
  NTW_GOTO(err, build_synapses(e), fail);
  NTW_GOTO(err, build_stimuli(e), fail);
  /* Collective from here on: every rank reaches it (errors above are
   * agreed on by the caller before anything collective runs). */
  NTW_GOTO(err, build_target_ranks(e), fail);
  e->send_counts = calloc((size_t)e->nranks, sizeof(int));
  e->send_offs = calloc((size_t)e->nranks + 1, sizeof(int));
  e->upd_buf = malloc((e->n_local + 1) * sizeof *e->upd_buf);
  if (!e->send_counts || !e->send_offs || !e->upd_buf) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for exchange buffers");
    goto fail;
  }
  /* Overlap needs two epochs per window of at least one step each: with
   * D = 1 every spike may be needed in the very next step, so the run
   * falls back to one blocking exchange per window. The first epoch takes
   * the odd step, so the second (whose exchange spans the window boundary
   * and the next window's first epoch) is the shorter. */
  e->overlap = cfg->sim.overlap && e->D >= 2;
  e->ep_first = (e->D + 1) / 2;
  /* Tests only: a longer first epoch delivers some spikes too late, which
   * the overlap determinism tests must catch (tests/determinism_overlap.sh). */
  const char *fault = getenv("NTW_FAULT_EPOCH_STEPS");
  if (fault && atoi(fault) >= 1)
    e->ep_first = atoi(fault) < e->D ? atoi(fault) : e->D;
  e->st.wall_build_s = MPI_Wtime() - t0;
  *out = e;
  return 0;
fail:
  ntw_engine_destroy(&e);
  return err;
}

void ntw_engine_destroy(ntw_engine **pe) {
  if (!pe || !*pe) return;
  ntw_engine *e = *pe;
  ntw_syn_post_free(e); /* reads the blocks: before they go */
  for (size_t b = 0; b < e->nblocks; b++)
    if (e->blocks[b].state) e->blocks[b].ops->destroy(e->blocks[b].state);
  free(e->blocks);
  for (size_t k = 0; k < e->npoisson; k++)
    free(e->poisson[k].cdf), free(e->poisson[k].counts);
  for (size_t k = 0; k < e->nnoise; k++) free(e->noise[k].I);
  free(e->noise);
  if (e->i_dc != e->i_ext) free(e->i_dc);
  free(e->poisson), free(e->dc), free(e->i_ext);
  for (size_t k = 0; k < e->nstores; k++) ntw_syn_free(&e->stores[k], e->cfg->nprojs);
  free(e->stores), free(e->forced), free(e->live);
  free(e->gids);
  free(e->trow), free(e->tranks), free(e->ring);
  free(e->win_lidx), free(e->win_gid), free(e->win_step), free(e->upd_buf);
  free(e->send_counts), free(e->send_offs), free(e->send_buf);
  free(e->recv_sorted), free(e->pop_spikes);
  free(e);
  *pe = NULL;
}

int ntw_engine_add_hook(ntw_engine *e, ntw_hook_kind kind, ntw_hook_fn fn,
                        void *ctx) {
  NTW_CHECK(e->nhooks[kind] < NTW_MAX_HOOKS, NTW_ERR_ARG, "too many hooks");
  e->hooks[kind][e->nhooks[kind]++] = (hook){fn, ctx};
  return 0;
}

/* ------------------------------------------------------------------ */
/* The window loop.                                                     */

/* Counts of block blk (steps 16 blk ... 16 blk + 15) of device p into
 * p->counts. One Philox call keyed (gid, blk) gives the block's count N
 * from word 0 (table of Poisson(16 lambda)) and the steps of events 0-23
 * from the nibbles of words 1-3 (event k: nibble k % 8 of word 1 + k / 8,
 * lowest first); events 24 on take the 32 nibbles of extra call j = 1, 2,
 * ... in the same order, keyed (gid | j << 48, blk): gids are below 2^48,
 * so these counters are no target's. */
_Static_assert(NTW_POISSON_BLOCK == 16, "a step in a block is one nibble");
__attribute__((noinline)) /* out of line, so profiles show it */
static void poisson_block(const ntw_engine *e, poisson_dev *p, int64_t blk) {
  const uint64_t seed = e->cfg->sim.seed, n = p->n;
  const uint32_t stream = NTW_STREAM_POISSON | (uint32_t)p->stim;
  const uint32_t ctr = (uint32_t)blk;
  uint8_t *cnt = p->counts;
  memset(cnt, 0, (size_t)NTW_POISSON_BLOCK * n);
  for (uint64_t i = 0; i < n; i++) {
    const uint64_t gid = e->gids[p->lo + i];
    ntw_rng_block r = ntw_rng(seed, stream, gid, ctr);
    int left = poisson_count(p, r.v[0]);
    /* A word's eight nibbles are added without a branch per event (an
     * unused nibble adds 0): the number of events varies too much for
     * the branch predictor. */
    for (int k = 1, j = 1;; k++) {
      if (k == 4) {
        r = ntw_rng(seed, stream, gid | (uint64_t)j++ << NTW_KEY_GID_BITS, ctr);
        k = 0;
      }
      uint32_t bits = r.v[k];
      for (int t = 0; t < 8; t++, bits >>= 4) cnt[(size_t)(bits & 15) * n + i] += t < left;
      if ((left -= 8) <= 0) break;
    }
  }
  p->cblock = blk;
}

/* Poisson input of steps [s0, s1) into the ring, only in the device's
 * [start, stop). Each (step, target) gets at most one addition per device,
 * devices in config order, so the traversal order does not matter.
 * Block method (16 lambda <= NTW_POISSON_BLOCK_MAX_MEAN): steps form aligned
 * blocks of 16 (independent of windows, epochs and ranks); a block's count
 * is N ~ Poisson(16 lambda) and each event falls on one of its 16 steps
 * uniformly, so the per-step counts are independent Poisson(lambda)
 * (thinning); one Philox call per target and block instead of one per 4
 * steps. The block's counts are cached until a step of another block is
 * needed. Otherwise one Philox call gives the counts of four aligned steps
 * (counter = step / 4), by the table of Poisson(lambda). */
__attribute__((noinline)) /* out of line, so profiles show it */
static void add_poisson(ntw_engine *e, int64_t s0, int64_t s1) {
  const uint64_t seed = e->cfg->sim.seed;
  const uint64_t nl = e->n_local;
  for (size_t k = 0; k < e->npoisson; k++) {
    poisson_dev *p = &e->poisson[k];
    int64_t a = s0 > p->start ? s0 : p->start;
    int64_t b = s1 < p->stop ? s1 : p->stop;
    const uint32_t stream = NTW_STREAM_POISSON | (uint32_t)p->stim;
    const double w = p->weight;
    double *const ring = e->ring + (size_t)p->port * e->ring_port;
    if (p->block) {
      for (int64_t s = a; s < b; s++) {
        const int64_t blk = s / NTW_POISSON_BLOCK;
        if (blk != p->cblock) poisson_block(e, p, blk);
        const uint8_t *c = p->counts + (size_t)(s % NTW_POISSON_BLOCK) * p->n;
        double *row = ring + (size_t)(s & e->ring_mask) * nl + p->lo;
        /* Eight targets at a time, skipped when all their counts are 0:
         * adding 0 * w is exact (slots start at +0 and a sum from +0 is
         * never -0), so results are those of adding only counts > 0. */
        uint64_t i = 0;
        for (; i + 8 <= p->n; i += 8) {
          uint64_t any;
          memcpy(&any, c + i, sizeof any);
          if (!any) continue;
          for (int t = 0; t < 8; t++) row[i + t] += c[i + t] * w;
        }
        for (; i < p->n; i++)
          if (c[i]) row[i] += c[i] * w;
      }
      continue;
    }
    for (int64_t s = a; s < b;) {
      const int64_t g_end = (s | 3) + 1 < b ? (s | 3) + 1 : b;
      const int q0 = (int)(s & 3), q1 = q0 + (int)(g_end - s);
      double *rows[4];
      for (int q = q0; q < q1; q++)
        rows[q] = ring + (size_t)((s - q0 + q) & e->ring_mask) * nl;
      const uint32_t ctr = (uint32_t)(s >> 2);
      for (uint64_t i = p->lo; i < p->lo + p->n; i++) {
        ntw_rng_block r = ntw_rng(seed, stream, e->gids[i], ctr);
        for (int q = q0; q < q1; q++) {
          int c = poisson_count(p, r.v[q]);
          if (c) rows[q][i] += c * w;
        }
      }
      s = g_end;
    }
  }
}

/* i_ext of the noise targets for step s: the DC sum plus every active
 * noise current, added in config order (the same on any partition). A
 * device's range is also refreshed in its stop step, which removes its
 * last value. The normal of (gid, s) serves the stationary start draw or
 * the step's update: each is used once. */
static void update_noise(ntw_engine *e, int64_t s) {
  const uint64_t seed = e->cfg->sim.seed;
  for (size_t k = 0; k < e->nnoise; k++) {
    const noise_dev *q = &e->noise[k];
    if (s >= q->start && s <= q->stop)
      memcpy(e->i_ext + q->lo, e->i_dc + q->lo, q->n * sizeof *e->i_ext);
  }
  for (size_t k = 0; k < e->nnoise; k++) {
    noise_dev *q = &e->noise[k];
    if (s < q->start || s >= q->stop) continue;
    const uint32_t stream = NTW_STREAM_NOISE | (uint32_t)q->stim;
    const bool first = s == q->start;
    const double mean = q->mean, std = q->std, a = q->decay, kick = q->kick;
    for (uint64_t j = 0; j < q->n; j++) {
      const uint64_t i = q->lo + j;
      const double xi = ntw_normal(ntw_rng(seed, stream, e->gids[i], (uint32_t)s));
      const double I = first ? mean + std * xi
                             : mean + (q->I[j] - mean) * a + kick * xi;
      q->I[j] = I;
      e->i_ext[i] += I;
    }
  }
}

static int grow_window(ntw_engine *e, size_t need) {
  if (need <= e->win_cap) return 0;
  size_t cap = e->win_cap ? e->win_cap : 1024;
  while (cap < need) cap *= 2;
  uint32_t *a = realloc(e->win_lidx, cap * sizeof *a);
  if (a) e->win_lidx = a;
  uint64_t *g = realloc(e->win_gid, cap * sizeof *g);
  if (g) e->win_gid = g;
  int64_t *s = realloc(e->win_step, cap * sizeof *s);
  if (s) e->win_step = s;
  NTW_CHECK(a && g && s, NTW_ERR_NOMEM, "out of memory for window spikes");
  e->win_cap = cap;
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Keys of the spikes win[lo, hi), all emitted in steps >= t0, into
 * send_buf, grouped by destination rank (send_counts). A key is
 * (step - t0) << 48 | gid. */
static int pack_spikes(ntw_engine *e, size_t lo, size_t hi, int64_t t0) {
  const int P = e->nranks;
  memset(e->send_counts, 0, (size_t)P * sizeof(int));
  size_t total = 0;
  for (size_t k = lo; k < hi; k++) {
    uint32_t i = e->win_lidx[k];
    for (uint64_t j = e->trow[i]; j < e->trow[i + 1]; j++)
      e->send_counts[e->tranks[j]]++;
    total += e->trow[i + 1] - e->trow[i];
  }
  /* Cross-rank volume for the report: two adds per window, none per spike. */
  e->st.keys_self += (uint64_t)e->send_counts[e->rank];
  e->st.keys_remote += total - (uint64_t)e->send_counts[e->rank];
  if (total > e->send_cap) {
    size_t cap = e->send_cap ? e->send_cap : 4096;
    while (cap < total) cap *= 2;
    uint64_t *nb = realloc(e->send_buf, cap * sizeof *nb);
    NTW_ALLOC_CHECK(nb);
    e->send_buf = nb;
    e->send_cap = cap;
  }
  e->send_offs[0] = 0;
  for (int r = 0; r < P; r++) e->send_offs[r + 1] = e->send_offs[r] + e->send_counts[r];
  /* Window spikes are in step order, so each destination's keys are too. */
  for (size_t k = lo; k < hi; k++) {
    uint32_t i = e->win_lidx[k];
    uint64_t key = (uint64_t)(e->win_step[k] - 1 - t0) << NTW_KEY_GID_BITS |
                   e->win_gid[k];
    for (uint64_t j = e->trow[i]; j < e->trow[i + 1]; j++)
      e->send_buf[e->send_offs[e->tranks[j]]++] = key;
  }
  return 0;
}

/* Deliver the received keys of spikes emitted in [t0, t1) into the ring
 * and the plastic stores. */
static int deliver(ntw_engine *e, const uint64_t *recv, size_t nrecv,
                   int64_t t0, int64_t t1) {
  if (nrecv > e->recv_cap) {
    size_t cap = e->recv_cap ? e->recv_cap : 4096;
    while (cap < nrecv) cap *= 2;
    uint64_t *nb = realloc(e->recv_sorted, cap * sizeof *nb);
    NTW_ALLOC_CHECK(nb);
    e->recv_sorted = nb;
    e->recv_cap = cap;
  }
  /* Deliver in (step, gid) order whatever the partition: each target then
   * sums its inputs in the same order on any number of ranks. Epochs are
   * delivered in step order, so under overlap every ring slot still sees
   * its inputs in global (step, gid) order. */
  if (nrecv) { /* recv and recv_sorted may be NULL when nothing came */
    memcpy(e->recv_sorted, recv, nrecv * sizeof *recv);
    qsort(e->recv_sorted, nrecv, sizeof *recv, cmp_u64);
  }

  /* Store 0 (static) inline: it is the hot loop of most networks. */
  const syn_store *st0 = &e->stores[0];
  const uint64_t nl = e->n_local;
  const int64_t mask = e->ring_mask;
  double *restrict ring = e->ring;
  const uint64_t *restrict row = st0->row;
  const uint32_t *restrict tgt = st0->tgt;
  const float *restrict w = st0->w;
  const uint16_t *restrict d = st0->d;
  const size_t rp = e->ring_port;
  uint64_t events = 0;
  for (size_t k = 0; k < nrecv; k++) {
    const uint64_t key = e->recv_sorted[k];
    const int64_t s = t0 + (int64_t)(key >> NTW_KEY_GID_BITS);
    const uint64_t g = key & NTW_KEY_GID_MASK;
    const uint64_t j0 = row[g], j1 = row[g + 1];
    events += j1 - j0;
    for (uint64_t j = j0; j < j1; j++) {
      const unsigned dj = d[j];
      ring[(dj >> NTW_PORT_BIT) * rp +
           (size_t)((s + (dj & NTW_DELAY_MASK)) & mask) * nl + tgt[j]] += w[j];
    }
    for (size_t q = 1; q < e->nstores; q++)
      events += ntw_syn_deliver(e, &e->stores[q], g, s);
  }
  e->st.events_local += events;
  e->delivered_to = t1;
  return 0;
}

/* The blocking path: exchange and deliver the spikes win[lo, win_n) of
 * steps [t0, t1). */
static int exchange_and_deliver(ntw_engine *e, size_t lo, int64_t t0, int64_t t1) {
  NTW_TRY(pack_spikes(e, lo, e->win_n, t0));
  const uint64_t *recv;
  size_t nrecv;
  NTW_TRY(ntw_comm_exchange(e->comm, e->send_buf, e->send_counts, &recv, &nrecv));
  return deliver(e, recv, nrecv, t0, t1);
}

/* Overlap: wait for the epoch in flight (if any) and deliver it. */
static int finish_pending(ntw_engine *e, int64_t upto) {
  if (!ntw_comm_pending(e->comm)) return 0;
  const uint64_t *recv;
  size_t nrecv;
  NTW_TRY(ntw_comm_wait(e->comm, &recv, &nrecv));
  return deliver(e, recv, nrecv, e->pend_t0, upto);
}

/* A spike of local neuron li (in block b) emitted in step s, stamped s+1. */
static int emit(ntw_engine *e, size_t b, uint32_t li, int64_t s) {
  NTW_TRY(grow_window(e, e->win_n + 1));
  e->win_lidx[e->win_n] = li;
  e->win_gid[e->win_n] = e->gids[li];
  e->win_step[e->win_n] = s + 1;
  e->win_n++;
  e->pop_spikes[e->blocks[b].pop]++;
  if (e->post && e->post[b]) NTW_TRY(ntw_syn_post_spike(e, b, li, s + 1));
  return 0;
}

static int emit_forced(ntw_engine *e, const forced_spike *f, size_t n,
                       size_t *next, int64_t s, size_t step_first) {
  for (; *next < n && f[*next].step <= s; ++*next) {
    const forced_spike *x = &f[*next];
    if (x->step < s) continue; /* before the run started (restart) */
    bool dup = false;
    for (size_t k = step_first; k < e->win_n && !dup; k++)
      dup = e->win_lidx[k] == x->lidx;
    if (dup) continue;
    size_t b = 0;
    while (x->lidx >= e->blocks[b].lo + e->blocks[b].n) b++;
    NTW_TRY(emit(e, b, x->lidx, s));
  }
  return 0;
}

/* Steps [s0, s1): stimuli, neuron updates, spikes into the window buffer.
 * With an exchange in flight, the comm is given a chance to progress once
 * per step (cheap: a completion-queue read or MPI_Testall). */
static int compute_steps(ntw_engine *e, int64_t s0, int64_t s1) {
  const uint64_t nl = e->n_local;
  const bool poke = ntw_comm_pending(e->comm);
  add_poisson(e, s0, s1);
  for (int64_t s = s0; s < s1; s++) {
    while (e->next_dc < e->ndc && e->dc[e->next_dc].step <= s) {
      const dc_event *ev = &e->dc[e->next_dc++];
      for (uint64_t i = ev->lo; i < ev->lo + ev->n; i++) e->i_dc[i] += ev->delta;
      if (e->i_dc != e->i_ext) /* noise targets are redone just below */
        memcpy(e->i_ext + ev->lo, e->i_dc + ev->lo, ev->n * sizeof *e->i_ext);
    }
    if (e->nnoise) update_noise(e, s);
    double *slot = e->ring + (size_t)(s & e->ring_mask) * nl;
    const size_t step_first = e->win_n;
    for (size_t b = 0; b < e->nblocks; b++) {
      pop_block *pb = &e->blocks[b];
      if (!pb->n) continue;
      size_t ns = 0;
      const double *in[2] = {slot + pb->lo,
                             slot + (e->nports > 1 ? e->ring_port : 0) + pb->lo};
      pb->ops->update(pb->state, in, e->i_ext + pb->lo, e->upd_buf, &ns);
      for (size_t k = 0; k < ns; k++)
        NTW_TRY(emit(e, b, (uint32_t)pb->lo + e->upd_buf[k], s));
    }
    /* Forced spikes of this step (spike_times stimuli, then those forced
     * at run time), unless the neuron already spiked in it. */
    NTW_TRY(emit_forced(e, e->forced, e->nforced, &e->next_forced, s, step_first));
    NTW_TRY(emit_forced(e, e->live, e->nlive, &e->next_live, s, step_first));
    for (int p = 0; p < e->nports; p++)
      memset(slot + (size_t)p * e->ring_port, 0, nl * sizeof *slot);
    if (poke) NTW_TRY(ntw_comm_progress(e->comm));
  }
  return 0;
}

/* One window [t0, t1). Without overlap: compute it, then exchange and
 * deliver its spikes. With overlap: two epochs [t0, tm) and [tm, t1), each
 * computed while the previous epoch's exchange is in flight, then that
 * exchange is finished and delivered and the epoch's own is started. The
 * spikes of an epoch starting at a are first needed in step a + D; two
 * consecutive epochs (in this window or across a boundary) span at most
 * ep_first + (D - ep_first) = D steps, so they are delivered in time, and
 * before the Poisson input of the steps they reach is added: every ring
 * slot sees the same additions in the same order as without overlap. */
static int run_window(ntw_engine *e, int64_t t0, int64_t t1) {
  e->win_n = 0;
  if (!e->overlap) {
    NTW_TRY(compute_steps(e, t0, t1));
    return exchange_and_deliver(e, 0, t0, t1);
  }
  const int64_t tm = t0 + e->ep_first < t1 ? t0 + e->ep_first : t1;
  int64_t lo = t0;
  for (int half = 0; half < 2 && lo < t1; half++) {
    const int64_t hi = half == 0 ? tm : t1;
    const size_t first = e->win_n;
    NTW_TRY(compute_steps(e, lo, hi));
    NTW_TRY(finish_pending(e, lo));
    NTW_TRY(pack_spikes(e, first, e->win_n, lo));
    NTW_TRY(ntw_comm_start(e->comm, e->send_buf, e->send_counts));
    e->pend_t0 = lo;
    e->st.epochs++;
    lo = hi;
  }
  return 0;
}

int ntw_engine_drain(ntw_engine *e) {
  NTW_TRY(finish_pending(e, e->step));
  ntw_syn_post_prune(e);
  return 0;
}

int ntw_engine_run(ntw_engine *e, int64_t until) {
  double wall0 = MPI_Wtime();
  int err = 0;
  e->stop_requested = false;
  e->delivered_to = e->step; /* runs end drained (and restores set step) */
  while (e->step < until && !e->stop_requested) {
    const int64_t t0 = e->step;
    const int64_t t1 = t0 + e->D < until ? t0 + e->D : until;
    for (int h = 0; h < e->nhooks[NTW_HOOK_BEFORE_WINDOW]; h++)
      NTW_GOTO(err, e->hooks[NTW_HOOK_BEFORE_WINDOW][h].fn(
                        e, t0, t1, e->hooks[NTW_HOOK_BEFORE_WINDOW][h].ctx),
               out);
    NTW_GOTO(err, run_window(e, t0, t1), out);
    e->st.spikes_local += e->win_n;
    e->step = t1;
    e->st.windows++;
    for (int h = 0; h < e->nhooks[NTW_HOOK_AFTER_WINDOW]; h++)
      NTW_GOTO(err, e->hooks[NTW_HOOK_AFTER_WINDOW][h].fn(
                        e, t0, t1, e->hooks[NTW_HOOK_AFTER_WINDOW][h].ctx),
               out);
  }
  /* Nothing stays in flight between runs: the caller may checkpoint, map
   * weights or destroy the engine. */
  err = ntw_engine_drain(e);
out:
  e->st.wall_sim_s += MPI_Wtime() - wall0;
  return err;
}

/* ------------------------------------------------------------------ */

void ntw_engine_request_stop(ntw_engine *e) { e->stop_requested = true; }

int ntw_engine_force_spikes(ntw_engine *e, const uint64_t *gids,
                            const int64_t *stamps, size_t n) {
  for (size_t k = 0; k < n; k++) {
    NTW_CHECK(gids[k] < e->n_global, NTW_ERR_ARG,
              "forced spike of neuron %" PRIu64 ": the network has %" PRIu64,
              gids[k], e->n_global);
    NTW_CHECK(stamps[k] - 1 >= e->step, NTW_ERR_ARG,
              "forced spike of neuron %" PRIu64 " at %g ms: that step was "
              "already executed (the engine is at %g ms)",
              gids[k], stamps[k] * e->dt, e->step * e->dt);
  }
  /* Drop what was consumed, then append the local ones and re-sort (the
   * queue holds a few windows of events at most). */
  if (e->next_live) {
    memmove(e->live, e->live + e->next_live,
            (e->nlive - e->next_live) * sizeof *e->live);
    e->nlive -= e->next_live;
    e->next_live = 0;
  }
  if (e->nlive + n > e->live_cap) {
    size_t cap = e->live_cap ? e->live_cap : 256;
    while (cap < e->nlive + n) cap *= 2;
    forced_spike *nl = realloc(e->live, cap * sizeof *nl);
    NTW_ALLOC_CHECK(nl);
    e->live = nl;
    e->live_cap = cap;
  }
  for (size_t k = 0; k < n; k++) {
    if (ntw_part_owner(e->part, gids[k]) != e->rank) continue;
    e->live[e->nlive++] = (forced_spike){
        stamps[k] - 1, (uint32_t)ntw_part_local_lower(e->part, e->rank, gids[k])};
  }
  qsort(e->live, e->nlive, sizeof *e->live, cmp_forced);
  return 0;
}

/* The synapses of projection proj: its store and, for a static one (all
 * in store 0), the per-source segment bounds lo/hi (NULL: whole rows). */
static int proj_range(const ntw_engine *e, int proj, syn_store **st_out,
                      const uint64_t **lo, const uint64_t **hi) {
  const ntw_config *cfg = e->cfg;
  NTW_CHECK(proj >= 0 && (size_t)proj < cfg->nprojs, NTW_ERR_ARG,
            "no projection %d (the config has %zu)", proj, cfg->nprojs);
  syn_store *st = NULL;
  *lo = *hi = NULL;
  if (strcmp(cfg->projs[proj].syn_model, "static") == 0) {
    st = &e->stores[0];
    NTW_CHECK(st->seg && st->seg[proj], NTW_ERR_NOTSUP,
              "projection %d is static and not indexed (its weights are "
              "neither recorded nor assimilated by the twin)",
              proj);
    *lo = st->seg[proj];
    *hi = *lo + st->src_n;
  } else {
    for (size_t k = 1; k < e->nstores && !st; k++)
      if (e->stores[k].proj == proj) st = &e->stores[k];
    NTW_CHECK(st, NTW_ERR_INTERNAL, "no synapse store for projection %d", proj);
  }
  *st_out = st;
  return 0;
}

int ntw_engine_map_weights(ntw_engine *e, int proj, ntw_weight_map_fn fn,
                           void *ctx) {
  /* Spikes in flight must meet the weights they met without overlap. */
  NTW_TRY(ntw_engine_drain(e));
  if (proj < 0) {
    for (size_t k = 0; k < e->nstores; k++) {
      syn_store *st = &e->stores[k];
      for (uint64_t i = 0; i < st->src_n; i++)
        for (uint64_t j = st->row[i]; j < st->row[i + 1]; j++)
          fn(st->src_first + i, e->gids[st->tgt[j]], &st->w[j], ctx);
    }
    return 0;
  }
  syn_store *st;
  const uint64_t *lo, *hi;
  NTW_TRY(proj_range(e, proj, &st, &lo, &hi));
  for (uint64_t i = 0; i < st->src_n; i++) {
    const uint64_t j0 = lo ? lo[i] : st->row[i], j1 = hi ? hi[i] : st->row[i + 1];
    for (uint64_t j = j0; j < j1; j++)
      fn(st->src_first + i, e->gids[st->tgt[j]], &st->w[j], ctx);
  }
  return 0;
}

int64_t ntw_engine_steps(const ntw_engine *e, double t_ms) {
  return (int64_t)llround(t_ms / e->dt);
}

void ntw_engine_window_spikes(const ntw_engine *e, const uint64_t **gids,
                              const int64_t **steps, size_t *n) {
  *gids = e->win_gid;
  *steps = e->win_step;
  *n = e->win_n;
}

const uint64_t *ntw_engine_pop_spikes(const ntw_engine *e) {
  return e->pop_spikes;
}

double ntw_engine_get_v(const ntw_engine *e, uint64_t gid) {
  if (gid >= e->n_global || ntw_part_owner(e->part, gid) != e->rank) return NAN;
  uint64_t li = ntw_part_local_lower(e->part, e->rank, gid);
  for (size_t b = 0; b < e->nblocks; b++)
    if (li >= e->blocks[b].lo && li < e->blocks[b].lo + e->blocks[b].n)
      return e->blocks[b].ops->get_v(e->blocks[b].state, li - e->blocks[b].lo);
  return NAN;
}

double ntw_engine_get_i_ext(const ntw_engine *e, uint64_t gid) {
  if (gid >= e->n_global || ntw_part_owner(e->part, gid) != e->rank) return NAN;
  return e->i_ext[ntw_part_local_lower(e->part, e->rank, gid)];
}

int ntw_engine_foreach_projection_synapse(const ntw_engine *e, int proj,
                                          ntw_synapse_fn fn, void *ctx) {
  syn_store *st;
  const uint64_t *lo, *hi;
  NTW_TRY(proj_range(e, proj, &st, &lo, &hi));
  for (uint64_t i = 0; i < st->src_n; i++) {
    const uint64_t j0 = lo ? lo[i] : st->row[i], j1 = hi ? hi[i] : st->row[i + 1];
    for (uint64_t j = j0; j < j1; j++)
      fn(st->src_first + i, e->gids[st->tgt[j]], st->w[j],
         st->d[j] & NTW_DELAY_MASK, ctx);
  }
  return 0;
}

void ntw_engine_foreach_synapse(const ntw_engine *e, ntw_synapse_fn fn,
                                void *ctx) {
  for (size_t k = 0; k < e->nstores; k++) {
    const syn_store *st = &e->stores[k];
    for (uint64_t i = 0; i < st->src_n; i++)
      for (uint64_t j = st->row[i]; j < st->row[i + 1]; j++)
        fn(st->src_first + i, e->gids[st->tgt[j]], st->w[j],
           st->d[j] & NTW_DELAY_MASK, ctx);
  }
}

void ntw_engine_get_stats(const ntw_engine *e, ntw_engine_stats *st) {
  *st = e->st;
  st->n_global = e->n_global;
  st->n_local = e->n_local;
  st->syn_local = e->nsyn;
  st->window_steps = e->D;
  st->max_delay_steps = e->dmax;
  st->min_delay_built = e->nsyn ? e->dmin_built : 0;
  st->step = e->step;
  st->overlap = e->overlap;
  st->overlap_requested = e->cfg->sim.overlap;
  st->epoch_steps = e->overlap ? e->ep_first : e->D;
  st->comm_s = ntw_comm_seconds(e->comm);
  st->comm_wait_s = ntw_comm_wait_seconds(e->comm);
  st->comm_post_s = ntw_comm_post_seconds(e->comm);
}

const ntw_config *ntw_engine_config(const ntw_engine *e) { return e->cfg; }
const ntw_part *ntw_engine_part(const ntw_engine *e) { return e->part; }
ntw_comm *ntw_engine_comm(const ntw_engine *e) { return e->comm; }

/* Reads through the engine's large arrays once (the delay ring, every
 * synapse store), so the first windows of a paced run do not pay for cold
 * caches and TLBs on the wall clock. Changes nothing. */
uint64_t ntw_engine_prefetch(const ntw_engine *e) {
  uint64_t acc = 0;
  const size_t ring_n = e->ring_port * (size_t)e->nports;
  for (size_t i = 0; i < ring_n; i += 8) acc += (uint64_t)(e->ring[i] != 0);
  for (size_t s = 0; s < e->nstores; s++) {
    const syn_store *st = &e->stores[s];
    for (uint64_t i = 0; i <= st->src_n && st->row; i += 8) acc += st->row[i];
    for (uint64_t i = 0; i < st->nsyn; i += 16) {
      acc += st->tgt[i] + st->d[i];
      acc += (uint64_t)(st->w[i] > 0);
    }
  }
  return acc;
}

/* synapses.c - synapse models: static, STDP (three rules), Tsodyks-Markram.
 *
 * Synapses live on the rank of their target and are stored by source, so a
 * pre-synaptic spike walks one contiguous row. Plasticity follows NEST's
 * event-driven scheme (Morrison et al. 2007), updated when a pre-synaptic
 * spike is delivered:
 *   1. facilitation by every post-synaptic spike t_post of the target with
 *      t_last - d < t_post <= t_pre - d, using the pre trace
 *      K+ exp((t_last - (t_post + d)) / tau_plus);
 *   2. depression by the post trace K-(t_pre - d) (post spikes strictly
 *      before t_pre - d);
 *   3. the spike is delivered with the new weight; K+ <- K+ e^{..} + 1.
 * d is the synapse's delay, all of it dendritic (NEST's convention). Since a
 * spike of window [t0, t0+D) is delivered after the window and d >= D, the
 * post spikes it needs (<= t_pre - d <= t0) are all known: plasticity is
 * causal across ranks without extra communication. Under overlap a spike is
 * delivered one epoch later in wall time, when the history also holds post
 * spikes of the next epoch; those are later than t_pre - d (an epoch is at
 * most D - 1 steps), and the lookups below are bounded by t_pre - d, so the
 * result is the same.
 * The pre trace depends only on the source's spikes, so it is kept once per
 * source (not per synapse): a plastic synapse stores only its weight. The
 * post history keeps, per target, the stamps and traces of its spikes until
 * every incoming plastic synapse has read them (as NEST's ArchivingNode).
 * Tsodyks-Markram depression/facilitation likewise depends only on the
 * pre-synaptic train and per-projection constants: u and x live per source.
 * Every update is a pure function of spike stamps, so weights are
 * bit-identical on any number of ranks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntw_error.h"
#include "engine_impl.h"

typedef struct {
  const char *name;
  syn_kind kind;
  const ntw_param_spec *specs;
  size_t nspecs;
} syn_model;

/* NEST's parameter names and defaults (tau_minus, a neuron parameter in
 * NEST, belongs to the synapse here). */
static const ntw_param_spec stdp_specs[] = {
    {"tau_plus", 20.0, 0, 1e9, true, false, "ms"},
    {"tau_minus", 20.0, 0, 1e9, true, false, "ms"},
    {"lambda", 0.01, 0, 1e9, false, false, ""},
    {"alpha", 1.0, 0, 1e9, false, false, ""},
    {"mu_plus", 1.0, 0, 1e9, false, false, ""},
    {"mu_minus", 1.0, 0, 1e9, false, false, ""},
    {"Wmax", 100.0, -1e12, 1e12, false, false, ""},
};
static const ntw_param_spec stdp_pl_specs[] = {
    {"tau_plus", 20.0, 0, 1e9, true, false, "ms"},
    {"tau_minus", 20.0, 0, 1e9, true, false, "ms"},
    {"lambda", 0.1, 0, 1e9, false, false, ""},
    {"alpha", 1.0, 0, 1e9, false, false, ""},
    {"mu", 0.4, 0, 1e9, false, false, ""},
};
static const ntw_param_spec tsodyks_specs[] = {
    {"U", 0.5, 0, 1, true, false, ""},
    {"tau_rec", 800.0, 0, 1e9, true, false, "ms"},
    {"tau_fac", 0.0, 0, 1e9, false, false, "ms"},
};

#define N_(a) (sizeof(a) / sizeof *(a))
static const syn_model syn_models[] = {
    {"static", NTW_SYN_STATIC, NULL, 0},
    {"stdp", NTW_SYN_STDP, stdp_specs, N_(stdp_specs)},
    {"stdp_nn_symm", NTW_SYN_STDP_NN_SYMM, stdp_specs, N_(stdp_specs)},
    {"stdp_pl_hom", NTW_SYN_STDP_PL_HOM, stdp_pl_specs, N_(stdp_pl_specs)},
    {"tsodyks2", NTW_SYN_TSODYKS2, tsodyks_specs, N_(tsodyks_specs)},
};

static bool is_stdp(syn_kind k) {
  return k == NTW_SYN_STDP || k == NTW_SYN_STDP_NN_SYMM || k == NTW_SYN_STDP_PL_HOM;
}

/* Parameter values of projection k's synapse, validated. */
static int syn_params(const ntw_engine *e, int k, const syn_model *m, double *v) {
  const ntw_config *cfg = e->cfg;
  const ntw_proj_cfg *pr = &cfg->projs[k];
  for (size_t i = 0; i < m->nspecs; i++) v[i] = m->specs[i].def;
  for (size_t j = 0; j < pr->nsyn_params; j++) {
    const ntw_param *p = &pr->syn_params[j];
    size_t i = 0;
    while (i < m->nspecs && strcmp(m->specs[i].name, p->name) != 0) i++;
    if (i == m->nspecs) {
      char known[256] = "";
      for (size_t q = 0; q < m->nspecs; q++) {
        if (q) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, m->specs[q].name, sizeof known - strlen(known) - 1);
      }
      return NTW_ERR(NTW_ERR_CONFIG,
                     "%s: projections[%d].synapse.%s: unknown parameter of "
                     "synapse model '%s' (known: %s)",
                     cfg->path, k, p->name, m->name, m->nspecs ? known : "none");
    }
    const ntw_param_spec *s = &m->specs[i];
    double x = p->value.a;
    bool bad = s->lo_open ? !(x > s->lo) : !(x >= s->lo);
    NTW_CHECK(!bad && x <= s->hi, NTW_ERR_CONFIG,
              "%s: projections[%d].synapse.%s: must lie in %c%g, %g] %s (got %g)",
              cfg->path, k, p->name, s->lo_open ? '(' : '[', s->lo, s->hi,
              s->unit, x);
    v[i] = x;
  }
  return 0;
}

int ntw_syn_setup(ntw_engine *e, syn_store *st, int proj) {
  const ntw_config *cfg = e->cfg;
  memset(st, 0, sizeof *st);
  st->proj = proj;
  st->post_block = -1;
  if (proj < 0) { /* the shared static store: every gid may be a source */
    st->kind = NTW_SYN_STATIC;
    st->src_first = 0;
    st->src_n = e->n_global;
    return 0;
  }
  const ntw_proj_cfg *pr = &cfg->projs[proj];
  const syn_model *m = NULL;
  for (size_t i = 0; i < N_(syn_models); i++)
    if (strcmp(syn_models[i].name, pr->syn_model) == 0) m = &syn_models[i];
  NTW_CHECK(m, NTW_ERR_CONFIG,
            "%s: projections[%d].synapse.model: unknown synapse model '%s' "
            "(known: static, stdp, stdp_nn_symm, stdp_pl_hom, tsodyks2)",
            cfg->path, proj, pr->syn_model);
  double v[8];
  NTW_TRY(syn_params(e, proj, m, v));
  st->kind = m->kind;
  st->src_first = cfg->pops[pr->source].first_gid;
  st->src_n = cfg->pops[pr->source].size;
  const double wlo = ntw_dist_lower(&pr->weight), whi = ntw_dist_upper(&pr->weight);
  switch (m->kind) {
  case NTW_SYN_STDP:
  case NTW_SYN_STDP_NN_SYMM:
    st->tau_plus = v[0], st->lambda = v[2], st->alpha = v[3];
    st->mu_plus = v[4], st->mu_minus = v[5], st->Wmax = v[6];
    NTW_CHECK(st->Wmax != 0, NTW_ERR_CONFIG,
              "%s: projections[%d].synapse.Wmax: must not be 0", cfg->path, proj);
    /* Weights keep the sign of Wmax and lie between 0 and Wmax (NEST). */
    NTW_CHECK(st->Wmax > 0 ? (wlo >= 0 && whi <= st->Wmax)
                           : (whi <= 0 && wlo >= st->Wmax),
              NTW_ERR_CONFIG,
              "%s: projections[%d].weight: must lie between 0 and Wmax = %g for "
              "synapse model '%s' (got values in [%g, %g])",
              cfg->path, proj, st->Wmax, m->name, wlo, whi);
    break;
  case NTW_SYN_STDP_PL_HOM:
    st->tau_plus = v[0], st->lambda = v[2], st->alpha = v[3], st->mu_plus = v[4];
    NTW_CHECK(wlo >= 0, NTW_ERR_CONFIG,
              "%s: projections[%d].weight: must be >= 0 for synapse model "
              "'stdp_pl_hom' (got values down to %g)",
              cfg->path, proj, wlo);
    break;
  case NTW_SYN_TSODYKS2:
    st->U = v[0], st->tau_rec = v[1], st->tau_fac = v[2];
    break;
  case NTW_SYN_STATIC:
    break;
  }
  if (is_stdp(st->kind)) {
    st->kplus = calloc(st->src_n + 1, sizeof *st->kplus);
    st->t_last = calloc(st->src_n + 1, sizeof *st->t_last); /* NEST: 0 */
    NTW_CHECK(st->kplus && st->t_last, NTW_ERR_NOMEM, "out of memory for traces");
    st->post_block = pr->target;
  } else if (st->kind == NTW_SYN_TSODYKS2) {
    st->u = calloc(st->src_n + 1, sizeof *st->u);
    st->x = malloc((st->src_n + 1) * sizeof *st->x);
    st->t_last = malloc((st->src_n + 1) * sizeof *st->t_last);
    NTW_CHECK(st->u && st->x && st->t_last, NTW_ERR_NOMEM,
              "out of memory for short-term plasticity state");
    for (uint64_t i = 0; i <= st->src_n; i++) {
      st->x[i] = 1.0;
      st->t_last[i] = INT64_MIN; /* no spike yet */
    }
  }
  return 0;
}

void ntw_syn_free(syn_store *st, size_t nprojs) {
  for (size_t k = 0; st->seg && k < nprojs; k++) free(st->seg[k]);
  free(st->seg);
  free(st->row), free(st->tgt), free(st->w), free(st->d);
  free(st->kplus), free(st->t_last), free(st->u), free(st->x);
  free(st->exp_plus), free(st->exp_minus);
  memset(st, 0, sizeof *st);
}

/* One post trace per block with STDP input; all STDP projections onto a
 * population must agree on tau_minus and pairing (the trace is shared). */
int ntw_syn_post_setup(ntw_engine *e) {
  const ntw_config *cfg = e->cfg;
  e->post = calloc(e->nblocks, sizeof *e->post);
  NTW_ALLOC_CHECK(e->post);
  for (size_t k = 1; k < e->nstores; k++) {
    syn_store *st = &e->stores[k];
    if (!is_stdp(st->kind)) continue;
    const ntw_proj_cfg *pr = &cfg->projs[st->proj];
    double tau_minus = 20.0;
    for (size_t j = 0; j < pr->nsyn_params; j++)
      if (strcmp(pr->syn_params[j].name, "tau_minus") == 0)
        tau_minus = pr->syn_params[j].value.a;
    const bool nearest = st->kind == NTW_SYN_STDP_NN_SYMM;
    size_t b = (size_t)st->post_block;
    post_trace *pt = e->post[b];
    if (pt) {
      NTW_CHECK(pt->tau_minus == tau_minus && pt->nearest == nearest,
                NTW_ERR_CONFIG,
                "%s: projections[%d].synapse.tau_minus: all STDP projections "
                "onto population '%s' must share tau_minus and pairing (the "
                "post-synaptic trace is one per neuron)",
                cfg->path, st->proj, cfg->pops[pr->target].name);
    } else {
      pt = calloc(1, sizeof *pt);
      NTW_ALLOC_CHECK(pt);
      e->post[b] = pt;
      pt->tau_minus = tau_minus;
      pt->nearest = nearest;
      size_t n = e->blocks[b].n + 1;
      pt->n_in = calloc(n, sizeof *pt->n_in);
      pt->h = calloc(n, sizeof *pt->h);
      NTW_CHECK(pt->n_in && pt->h, NTW_ERR_NOMEM, "out of memory for post traces");
    }
    for (uint64_t j = 0; j < st->nsyn; j++) pt->n_in[st->tgt[j] - e->blocks[b].lo]++;
    st->exp_plus = malloc(NTW_EXP_TABLE * sizeof *st->exp_plus);
    st->exp_minus = malloc(NTW_EXP_TABLE * sizeof *st->exp_minus);
    NTW_CHECK(st->exp_plus && st->exp_minus, NTW_ERR_NOMEM, "out of memory for STDP tables");
    for (int64_t k = 0; k < NTW_EXP_TABLE; k++) {
      st->exp_plus[k] = exp((double)(-k) * e->dt * (1.0 / st->tau_plus));
      st->exp_minus[k] = exp((double)(-k) * e->dt * (1.0 / pt->tau_minus));
    }
  }
  return 0;
}

void ntw_syn_post_free(ntw_engine *e) {
  if (!e->post) return;
  for (size_t b = 0; b < e->nblocks; b++) {
    post_trace *pt = e->post[b];
    if (!pt) continue;
    for (uint64_t i = 0; i < e->blocks[b].n; i++)
      free(pt->h[i].t), free(pt->h[i].K), free(pt->h[i].cnt);
    free(pt->h), free(pt->n_in), free(pt);
  }
  free(e->post);
  e->post = NULL;
}

/* Forget entries every synapse has read, once a later entry is old enough
 * to answer any trace lookup still to come: every delivery from now on is
 * of a spike emitted in a step s >= delivered_to, so it looks up
 * t_pre - d = s + 1 - d >= delivered_to + 1 - dmax = oldest_query. (Under
 * overlap an epoch's spikes are delivered one epoch late, so it is the
 * delivery horizon, not the step being computed, that bounds the query.) */
static void prune(post_hist *h, uint32_t n_in, int64_t oldest_query) {
  while (h->len - h->head >= 2 && h->cnt[h->head] >= n_in &&
         h->t[h->head + 1] < oldest_query)
    h->head++;
}

void ntw_syn_post_prune(ntw_engine *e) {
  if (!e->post) return;
  const int64_t oldest_query = e->delivered_to + 1 - e->dmax;
  for (size_t b = 0; b < e->nblocks; b++) {
    post_trace *pt = e->post[b];
    if (!pt) continue;
    for (uint64_t i = 0; i < e->blocks[b].n; i++)
      prune(&pt->h[i], pt->n_in[i], oldest_query);
  }
}

int ntw_syn_post_spike(ntw_engine *e, size_t b, uint64_t li, int64_t stamp) {
  post_trace *pt = e->post[b];
  const uint64_t k = li - e->blocks[b].lo;
  post_hist *h = &pt->h[k];
  prune(h, pt->n_in[k], e->delivered_to + 1 - e->dmax);
  double K = 1.0;
  if (!pt->nearest && h->len > h->head) {
    uint32_t l = h->len - 1;
    K += h->K[l] * exp((double)(h->t[l] - stamp) * e->dt / pt->tau_minus);
  }
  if (h->len == h->cap) {
    if (h->head > 0) { /* compact before growing */
      uint32_t n = h->len - h->head;
      memmove(h->t, h->t + h->head, n * sizeof *h->t);
      memmove(h->K, h->K + h->head, n * sizeof *h->K);
      memmove(h->cnt, h->cnt + h->head, n * sizeof *h->cnt);
      h->head = 0;
      h->len = n;
    }
    if (h->len == h->cap) {
      uint32_t cap = h->cap ? 2 * h->cap : 8;
      int64_t *t = realloc(h->t, cap * sizeof *t);
      if (t) h->t = t;
      double *Kp = realloc(h->K, cap * sizeof *Kp);
      if (Kp) h->K = Kp;
      uint32_t *c = realloc(h->cnt, cap * sizeof *c);
      if (c) h->cnt = c;
      NTW_CHECK(t && Kp && c, NTW_ERR_NOMEM, "out of memory for spike history");
      h->cap = cap;
    }
  }
  h->t[h->len] = stamp;
  h->K[h->len] = K;
  h->cnt[h->len] = 0;
  h->len++;
  return 0;
}

/* Weight dependence (NEST's stdp_synapse, Guetig et al. 2003). */
static inline double pow_mu(double x, double mu) {
  return mu == 0.0 ? 1.0 : (mu == 1.0 ? x : pow(x, mu));
}

static inline double facilitate(const syn_store *st, double w, double kplus) {
  if (st->kind == NTW_SYN_STDP_PL_HOM)
    return w + st->lambda * pow(w, st->mu_plus) * kplus;
  double nw = w / st->Wmax + st->lambda * pow_mu(1.0 - w / st->Wmax, st->mu_plus) * kplus;
  return nw < 1.0 ? nw * st->Wmax : st->Wmax;
}

/* e^{-k dt / tau} for k >= 0 steps: the table, or the same expression. */
static inline double decay(const double *tab, int64_t k, double dt, double inv_tau) {
  return k < NTW_EXP_TABLE ? tab[k] : exp((double)(-k) * dt * inv_tau);
}

static inline double depress(const syn_store *st, double w, double kminus) {
  if (st->kind == NTW_SYN_STDP_PL_HOM) {
    double nw = w - st->lambda * st->alpha * w * kminus;
    return nw > 0.0 ? nw : 0.0;
  }
  double nw = w / st->Wmax - st->alpha * st->lambda * pow_mu(w / st->Wmax, st->mu_minus) * kminus;
  return nw > 0.0 ? nw * st->Wmax : 0.0;
}

uint64_t ntw_syn_deliver(ntw_engine *e, syn_store *st, uint64_t g, int64_t s) {
  const uint64_t i = g - st->src_first;
  if (g < st->src_first || i >= st->src_n) return 0;
  const uint64_t j0 = st->row[i], j1 = st->row[i + 1];
  if (j0 == j1) return 0;
  const int64_t stamp = s + 1, mask = e->ring_mask;
  const uint64_t nl = e->n_local;
  const size_t rp = e->ring_port;
  double *restrict ring = e->ring;
  const uint32_t *restrict tgt = st->tgt;
  const uint16_t *restrict d = st->d;
  float *restrict w = st->w;
#define SLOT(j) \
  (((d[j]) >> NTW_PORT_BIT) * rp + (size_t)((s + ((d[j]) & NTW_DELAY_MASK)) & mask) * nl + tgt[j])

  switch (st->kind) {
  case NTW_SYN_STATIC:
    for (uint64_t j = j0; j < j1; j++) ring[SLOT(j)] += w[j];
    break;
  case NTW_SYN_TSODYKS2: {
    double u = st->u[i], x = st->x[i];
    if (st->t_last[i] == INT64_MIN) {
      u = st->U; /* first spike: resources full, u at its baseline */
      x = 1.0;
    } else {
      const double h = (double)(stamp - st->t_last[i]) * e->dt;
      const double xd = exp(-h / st->tau_rec);
      const double ud = st->tau_fac < 1e-10 ? 0.0 : exp(-h / st->tau_fac);
      x = 1.0 + (x - x * u - 1.0) * xd;
      u = st->U + u * (1.0 - st->U) * ud;
    }
    st->u[i] = u, st->x[i] = x, st->t_last[i] = stamp;
    const double eff = u * x;
    for (uint64_t j = j0; j < j1; j++) ring[SLOT(j)] += w[j] * eff;
    break;
  }
  case NTW_SYN_STDP:
  case NTW_SYN_STDP_NN_SYMM:
  case NTW_SYN_STDP_PL_HOM: {
    const pop_block *pb = &e->blocks[st->post_block];
    post_trace *pt = e->post[st->post_block];
    const double kp = st->kplus[i];
    const int64_t tl = st->t_last[i];
    const double inv_tp = 1.0 / st->tau_plus, inv_tm = 1.0 / pt->tau_minus;
    const double dt = e->dt;
    for (uint64_t j = j0; j < j1; j++) {
      const int64_t dj = d[j] & NTW_DELAY_MASK;
      post_hist *h = &pt->h[tgt[j] - pb->lo];
      double wj = w[j];
      /* 1. facilitation: post spikes in (tl - d, stamp - d] */
      uint32_t q = h->head;
      while (q < h->len && h->t[q] <= tl - dj) q++;
      for (; q < h->len && h->t[q] <= stamp - dj; q++) {
        wj = facilitate(st, wj, kp * decay(st->exp_plus, h->t[q] + dj - tl, dt, inv_tp));
        h->cnt[q]++;
      }
      /* 2. depression: post trace just before stamp - d */
      double km = 0.0;
      for (uint32_t r = h->len; r > h->head; r--)
        if (h->t[r - 1] < stamp - dj) {
          km = h->K[r - 1] * decay(st->exp_minus, stamp - dj - h->t[r - 1], dt, inv_tm);
          break;
        }
      wj = depress(st, wj, km);
      w[j] = (float)wj;
      ring[SLOT(j)] += w[j];
    }
    st->kplus[i] = st->kind == NTW_SYN_STDP_NN_SYMM
                       ? 1.0
                       : kp * decay(st->exp_plus, stamp - tl, dt, inv_tp) + 1.0;
    st->t_last[i] = stamp;
    break;
  }
  }
#undef SLOT
  return j1 - j0;
}

/* weight_recorder.c - glue between the engine and io/weights (see
 * weight_recorder.h): gathers each recorded projection's local synapses
 * with ntw_engine_foreach_projection_synapse, whose order is the same at
 * every call, so the weights of later records line up with the synapse
 * list given at open. */
#include "weight_recorder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntw_error.h"
#include "io/weights.h"

typedef struct {
  uint64_t *src, *tgt;
  double *delay;
  float *w;
  size_t n, cap;
  double dt;
  bool full; /* collect src/tgt/delay too (at open) */
  bool nomem;
} syn_list;

struct ntw_weight_recorder {
  ntw_weight_writer *w;
  const ntw_config *cfg;
  size_t n;
  syn_list *lists;
  int64_t *every, *next; /* steps */
};

static void collect(uint64_t src, uint64_t tgt, float w, int d, void *ctx) {
  syn_list *l = ctx;
  if (l->nomem) return;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 1024;
    float *nw = realloc(l->w, cap * sizeof *nw);
    if (nw) l->w = nw;
    if (l->full) {
      uint64_t *ns = realloc(l->src, cap * sizeof *ns);
      if (ns) l->src = ns;
      uint64_t *nt = realloc(l->tgt, cap * sizeof *nt);
      if (nt) l->tgt = nt;
      double *nd = realloc(l->delay, cap * sizeof *nd);
      if (nd) l->delay = nd;
      if (!ns || !nt || !nd) l->nomem = true;
    }
    if (!nw) l->nomem = true;
    if (l->nomem) return;
    l->cap = cap;
  }
  l->w[l->n] = w;
  if (l->full) {
    l->src[l->n] = src;
    l->tgt[l->n] = tgt;
    l->delay[l->n] = d * l->dt;
  }
  l->n++;
}

/* Reads the current weights of set k into lists[k].w (same order as at
 * open) and appends them at step `step`. Collective. */
static int record(ntw_weight_recorder *r, ntw_engine *e, size_t k, int64_t step) {
  /* The weights at `step`: after every spike emitted before it has been
   * delivered (under overlap the last epoch's may still be in flight). */
  NTW_TRY(ntw_engine_drain(e));
  syn_list *l = &r->lists[k];
  size_t n0 = l->n;
  l->n = 0;
  int err = ntw_engine_foreach_projection_synapse(e, r->cfg->wrecs[k].proj, collect, l);
  if (!err && (l->nomem || l->n != n0))
    err = NTW_ERR(NTW_ERR_INTERNAL, "weight recording: projection %d changed size",
                  r->cfg->wrecs[k].proj);
  /* A local failure must not leave the other ranks in the append's
   * collectives: ntw_weights_append agrees only after its own exchange, so
   * agree here first. */
  int any = 0;
  MPI_Allreduce(&err, &any, 1, MPI_INT, MPI_MIN, ntw_comm_mpi(ntw_engine_comm(e)));
  if (any) return err ? err : NTW_ERR(NTW_ERR_REMOTE, "weight recording failed on another rank");
  NTW_TRY(ntw_weights_append(r->w, k, (double)step * r->cfg->sim.dt, l->w));
  r->next[k] = (step / r->every[k] + 1) * r->every[k];
  return 0;
}

int ntw_weight_recorder_open(ntw_engine *e, const char *path,
                             ntw_weight_recorder **out) {
  const ntw_config *cfg = ntw_engine_config(e);
  *out = NULL;
  NTW_CHECK(cfg->nwrecs > 0, NTW_ERR_ARG, "%s: no weights to record", path);
  int err = 0;
  ntw_weight_recorder *r = calloc(1, sizeof *r);
  NTW_ALLOC_CHECK(r);
  r->cfg = cfg;
  r->n = cfg->nwrecs;
  r->lists = calloc(r->n, sizeof *r->lists);
  r->every = calloc(r->n, sizeof *r->every);
  r->next = calloc(r->n, sizeof *r->next);
  ntw_weight_set *sets = calloc(r->n, sizeof *sets);
  if (!r->lists || !r->every || !r->next || !sets)
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for weight recording");
  for (size_t k = 0; !err && k < r->n; k++) {
    const ntw_wrec_cfg *wc = &cfg->wrecs[k];
    const ntw_proj_cfg *pc = &cfg->projs[wc->proj];
    syn_list *l = &r->lists[k];
    l->dt = cfg->sim.dt;
    l->full = true;
    err = ntw_engine_foreach_projection_synapse(e, wc->proj, collect, l);
    if (!err && l->nomem)
      err = NTW_ERR(NTW_ERR_NOMEM, "out of memory gathering projection %d", wc->proj);
    l->full = false;
    int64_t every = (int64_t)llround(wc->interval / cfg->sim.dt);
    r->every[k] = every > 0 ? every : 1;
    const ntw_pop_cfg *tp = &cfg->pops[pc->target];
    sets[k] = (ntw_weight_set){.proj = wc->proj,
                               .source = cfg->pops[pc->source].name,
                               .target = tp->name,
                               .synapse = pc->syn_model,
                               .tgt_first = tp->first_gid,
                               .tgt_n = tp->size,
                               .sample = wc->sample,
                               .n = l->n,
                               .src = l->src,
                               .tgt = l->tgt,
                               .delay = l->delay};
  }
  /* Agree before the collective open. */
  MPI_Comm mc = ntw_comm_mpi(ntw_engine_comm(e));
  int any = 0;
  MPI_Allreduce(&err, &any, 1, MPI_INT, MPI_MIN, mc);
  if (any && !err) err = NTW_ERR(NTW_ERR_REMOTE, "weight recording failed on another rank");
  if (!err) err = ntw_weights_open(mc, path, r->n, sets, &r->w);
  free(sets);
  for (size_t k = 0; k < r->n && r->lists; k++) { /* only weights from now on */
    free(r->lists[k].src), free(r->lists[k].tgt), free(r->lists[k].delay);
    r->lists[k].src = r->lists[k].tgt = NULL;
    r->lists[k].delay = NULL;
  }
  ntw_engine_stats st;
  ntw_engine_get_stats(e, &st);
  for (size_t k = 0; !err && k < r->n; k++) err = record(r, e, k, st.step);
  if (err) {
    ntw_weight_recorder_close(&r, false);
    return err;
  }
  *out = r;
  return 0;
}

int ntw_weight_recorder_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  ntw_weight_recorder *r = ctx;
  for (size_t k = 0; k < r->n; k++)
    if (hi >= r->next[k]) NTW_TRY(record(r, e, k, hi));
  return 0;
}

int ntw_weight_recorder_close(ntw_weight_recorder **rp, bool commit) {
  if (!rp || !*rp) return 0;
  ntw_weight_recorder *r = *rp;
  *rp = NULL;
  int err = ntw_weights_close(&r->w, commit);
  for (size_t k = 0; r->lists && k < r->n; k++) {
    free(r->lists[k].src), free(r->lists[k].tgt), free(r->lists[k].delay);
    free(r->lists[k].w);
  }
  free(r->lists), free(r->every), free(r->next), free(r);
  return err;
}

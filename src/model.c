/* model.c - model registry and parameter helpers. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/ntw_error.h"
#include "core/rng.h"

extern const ntw_model_ops ntw_model_iaf_psc_delta;
extern const ntw_model_ops ntw_model_iaf_psc_exp;
extern const ntw_model_ops ntw_model_iaf_psc_alpha;
extern const ntw_model_ops ntw_model_iaf_cond_exp;
extern const ntw_model_ops ntw_model_izhikevich;
extern const ntw_model_ops ntw_model_aeif_cond_exp;
extern const ntw_model_ops ntw_model_spike_source;

/* One model per line. */
static const ntw_model_ops *const ntw__models[] = {
    &ntw_model_iaf_psc_delta,
    &ntw_model_iaf_psc_exp,
    &ntw_model_iaf_psc_alpha,
    &ntw_model_iaf_cond_exp,
    &ntw_model_izhikevich,
    &ntw_model_aeif_cond_exp,
    &ntw_model_spike_source,
};
#define NTW_NMODELS (sizeof ntw__models / sizeof *ntw__models)

const ntw_model_ops *ntw_model_find(const char *name) {
  for (size_t i = 0; i < NTW_NMODELS; i++)
    if (strcmp(ntw__models[i]->name, name) == 0) return ntw__models[i];
  return NULL;
}

const char *ntw_model_names(void) {
  static char buf[512];
  if (!buf[0])
    for (size_t i = 0; i < NTW_NMODELS; i++) {
      if (i) strncat(buf, ", ", sizeof buf - strlen(buf) - 1);
      strncat(buf, ntw__models[i]->name, sizeof buf - strlen(buf) - 1);
    }
  return buf;
}

double ntw_dist_draw(const ntw_dist *d, uint64_t seed, uint32_t stream,
                     uint64_t a, uint32_t b) {
  double x;
  switch (d->kind) {
  case NTW_DIST_CONST:
    return d->a;
  case NTW_DIST_UNIFORM: {
    ntw_rng_block r = ntw_rng(seed, stream, a, b);
    return d->a + (d->b - d->a) * ntw_u01(r.v[0], r.v[1]);
  }
  case NTW_DIST_NORMAL:
    x = d->a + d->b * ntw_normal(ntw_rng(seed, stream, a, b));
    break;
  case NTW_DIST_LOGNORMAL:
    x = exp(d->a + d->b * ntw_normal(ntw_rng(seed, stream, a, b)));
    break;
  default:
    return NAN;
  }
  return x < d->min ? d->min : (x > d->max ? d->max : x);
}

static const char *ntw__spec_names(const ntw_param_spec *specs, size_t n) {
  static _Thread_local char buf[512];
  buf[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (i) strncat(buf, ", ", sizeof buf - strlen(buf) - 1);
    strncat(buf, specs[i].name, sizeof buf - strlen(buf) - 1);
  }
  return buf;
}

int ntw_model_check_params(const ntw_model_init *mi, const ntw_param_spec *specs,
                           size_t nspecs, double *consts) {
  const ntw_pop_cfg *pop = mi->pop;
  for (size_t k = 0; k < nspecs; k++) consts[k] = specs[k].def;
  for (size_t j = 0; j < pop->nparams; j++) {
    const ntw_param *p = &pop->params[j];
    size_t k = 0;
    while (k < nspecs && strcmp(specs[k].name, p->name) != 0) k++;
    NTW_CHECK(k < nspecs, NTW_ERR_CONFIG,
              "%s: populations[%d].params.%s: unknown parameter of model "
              "'%s' (known: %s)",
              mi->cfg_path, mi->pop_index, p->name, pop->model,
              ntw__spec_names(specs, nspecs));
    const ntw_param_spec *s = &specs[k];
    double lo = ntw_dist_lower(&p->value), hi = ntw_dist_upper(&p->value);
    if (p->value.kind != NTW_DIST_CONST) {
      NTW_CHECK(s->per_neuron, NTW_ERR_CONFIG,
                "%s: populations[%d].params.%s: must be a number (this "
                "parameter cannot vary per neuron yet)",
                mi->cfg_path, mi->pop_index, p->name);
      consts[k] = NAN;
    } else {
      consts[k] = p->value.a;
    }
    bool bad_lo = s->lo_open ? !(lo > s->lo) : !(lo >= s->lo);
    NTW_CHECK(!bad_lo && hi <= s->hi, NTW_ERR_CONFIG,
              "%s: populations[%d].params.%s: must lie in %c%g, %g] %s (got "
              "%s%g)",
              mi->cfg_path, mi->pop_index, p->name, s->lo_open ? '(' : '[',
              s->lo, s->hi, s->unit, bad_lo ? "" : "up to ", bad_lo ? lo : hi);
  }
  return 0;
}

void ntw_model_fill_param(const ntw_model_init *mi, const ntw_param_spec *specs,
                          size_t k, double *out) {
  const ntw_param *p = ntw_config_param(mi->pop, specs[k].name);
  if (!p || p->value.kind == NTW_DIST_CONST) {
    double v = p ? p->value.a : specs[k].def;
    for (size_t i = 0; i < mi->n; i++) out[i] = v;
    return;
  }
  uint32_t stream = NTW_STREAM_INIT | (uint32_t)(mi->pop_index * 64 + (int)k);
  for (size_t i = 0; i < mi->n; i++)
    out[i] = ntw_dist_draw(&p->value, mi->seed, stream, mi->gids[i], 0);
}

void ntw_model_state_get(const ntw_model_ops *ops, const void *state, size_t k,
                         size_t n, double *buf) {
  const ntw_state_var *v = &ops->state_vars[k];
  const void *arr = *(void *const *)((const char *)state + v->offset);
  if (v->int32)
    for (size_t i = 0; i < n; i++) buf[i] = ((const int32_t *)arr)[i];
  else
    memcpy(buf, arr, n * sizeof *buf);
}

void ntw_model_state_set(const ntw_model_ops *ops, void *state, size_t k,
                         size_t n, const double *buf) {
  const ntw_state_var *v = &ops->state_vars[k];
  void *arr = *(void **)((char *)state + v->offset);
  if (v->int32)
    for (size_t i = 0; i < n; i++) ((int32_t *)arr)[i] = (int32_t)buf[i];
  else
    memcpy(arr, buf, n * sizeof *buf);
}

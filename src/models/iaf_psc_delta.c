/* iaf_psc_delta.c - leaky integrate-and-fire with delta synapses, integrated
 * exactly on the grid (the scheme of NEST's iaf_psc_delta, Rotter & Diesmann
 * 1999):
 *   not refractory: y <- P33 y + P30 (I_e + i_ext) + syn_in
 *   refractory:     input discarded, counter decremented
 *   y >= V_th - E_L: spike at the end of the step, y <- V_reset - E_L,
 *                    refractory for round(t_ref / dt) steps
 * with y = V_m - E_L, P33 = exp(-dt/tau_m), P30 = tau_m/C_m (1 - P33).
 * Since the solution is exact between inputs, spike times under DC input
 * are the closed-form crossing times rounded up to the grid (tested).
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/ntw_error.h"
#include "model.h"

enum { P_TAU_M, P_C_M, P_T_REF, P_E_L, P_V_TH, P_V_RESET, P_I_E, P_V_M,
       P_V_MIN, P_COUNT };

static const ntw_param_spec specs[P_COUNT] = {
    [P_TAU_M] = {"tau_m", 10.0, 0, 1e9, true, false, "ms"},
    [P_C_M] = {"C_m", 250.0, 0, 1e12, true, false, "pF"},
    [P_T_REF] = {"t_ref", 2.0, 0, 1e9, false, false, "ms"},
    [P_E_L] = {"E_L", -70.0, -1e6, 1e6, false, false, "mV"},
    [P_V_TH] = {"V_th", -55.0, -1e6, 1e6, false, false, "mV"},
    [P_V_RESET] = {"V_reset", -70.0, -1e6, 1e6, false, false, "mV"},
    [P_I_E] = {"I_e", 0.0, -1e12, 1e12, false, true, "pA"},
    [P_V_M] = {"V_m", -70.0, -1e6, 1e6, false, true, "mV"},
    [P_V_MIN] = {"V_min", -INFINITY, -INFINITY, 1e6, false, false, "mV"},
};

typedef struct {
  size_t n;
  double P33, P30, theta, y_reset, y_min, E_L;
  int32_t ref_steps;
  double *y;     /* V_m - E_L, mV */
  double *I_e;   /* pA */
  int32_t *refr; /* remaining refractory steps */
} iaf_state;

static void iaf_destroy(void *st) {
  iaf_state *s = st;
  if (!s) return;
  free(s->y), free(s->I_e), free(s->refr);
  free(s);
}

static int iaf_create(const ntw_model_init *mi, void **out) {
  double c[P_COUNT];
  NTW_TRY(ntw_model_check_params(mi, specs, P_COUNT, c));
  /* E_L defaults to -70, and V_m to E_L when not given (NEST's choice). */
  if (!ntw_config_param(mi->pop, "V_m") && ntw_config_param(mi->pop, "E_L"))
    c[P_V_M] = c[P_E_L];
  NTW_CHECK(c[P_V_RESET] < c[P_V_TH], NTW_ERR_CONFIG,
            "%s: populations[%d].params.V_reset: must be below V_th = %g mV "
            "(got %g)",
            mi->cfg_path, mi->pop_index, c[P_V_TH], c[P_V_RESET]);
  iaf_state *s = calloc(1, sizeof *s);
  NTW_ALLOC_CHECK(s);
  size_t n = mi->n ? mi->n : 1;
  s->n = mi->n;
  s->y = malloc(n * sizeof *s->y);
  s->I_e = malloc(n * sizeof *s->I_e);
  s->refr = calloc(n, sizeof *s->refr);
  if (!s->y || !s->I_e || !s->refr) {
    iaf_destroy(s);
    return NTW_ERR(NTW_ERR_NOMEM, "out of memory for %zu neurons", mi->n);
  }
  s->E_L = c[P_E_L];
  s->P33 = exp(-mi->dt / c[P_TAU_M]);
  s->P30 = c[P_TAU_M] / c[P_C_M] * -expm1(-mi->dt / c[P_TAU_M]);
  s->theta = c[P_V_TH] - c[P_E_L];
  s->y_reset = c[P_V_RESET] - c[P_E_L];
  s->y_min = c[P_V_MIN] - c[P_E_L];
  s->ref_steps = (int32_t)lround(c[P_T_REF] / mi->dt);
  ntw_model_fill_param(mi, specs, P_I_E, s->I_e);
  ntw_model_fill_param(mi, specs, P_V_M, s->y);
  for (size_t i = 0; i < mi->n; i++) s->y[i] -= s->E_L;
  *out = s;
  return 0;
}

static void iaf_update(void *st, const double *const *syn_in,
                       const double *restrict i_ext, uint32_t *restrict spiked,
                       size_t *nspiked) {
  iaf_state *s = st;
  const double *restrict in = syn_in[0];
  double *restrict y = s->y;
  const double *restrict I_e = s->I_e;
  int32_t *restrict refr = s->refr;
  const double P33 = s->P33, P30 = s->P30, theta = s->theta,
               y_reset = s->y_reset, y_min = s->y_min;
  const int32_t ref_steps = s->ref_steps;
  size_t ns = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (refr[i] == 0) {
      double v = P30 * (I_e[i] + i_ext[i]) + P33 * y[i] + in[i];
      v = v < y_min ? y_min : v;
      if (NTW_UNLIKELY(v >= theta)) {
        v = y_reset;
        refr[i] = ref_steps;
        spiked[ns++] = (uint32_t)i;
      }
      y[i] = v;
    } else {
      refr[i]--;
    }
  }
  *nspiked = ns;
}

static double iaf_get_v(const void *st, size_t i) {
  const iaf_state *s = st;
  return s->y[i] + s->E_L;
}


/* Dynamic state saved by checkpoints (internal representation). */
static const ntw_state_var state_vars[] = {
    {"V_rel", offsetof(iaf_state, y), false},
    {"refractory_steps", offsetof(iaf_state, refr), true},
};

const ntw_model_ops ntw_model_iaf_psc_delta = {
    .size = sizeof(ntw_model_ops),
    .name = "iaf_psc_delta",
    .nports = 1,
    .create = iaf_create,
    .update = iaf_update,
    .get_v = iaf_get_v,
    .destroy = iaf_destroy,
    .state_vars = state_vars,
    .nstate_vars = sizeof state_vars / sizeof *state_vars,
};

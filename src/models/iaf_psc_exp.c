/* iaf_psc_exp.c - leaky integrate-and-fire with exponentially decaying
 * synaptic currents, separate excitatory (port 0) and inhibitory (port 1)
 * time constants, integrated exactly on the grid as NEST's iaf_psc_exp
 * (Rotter & Diesmann 1999). With y = V_m - E_L, per step of width h:
 *   not refractory: y <- P22 y + P21ex I_ex + P21in I_in + P20 (I_e + i_ext)
 *   refractory:     counter decremented (y stays at V_reset - E_L)
 *   I_ex <- P11ex I_ex + syn_in[0],  I_in <- P11in I_in + syn_in[1]
 *   y >= V_th - E_L: spike at the end of the step, y <- V_reset - E_L,
 *                    refractory for round(t_ref / h) steps
 * with P11 = e^{-h/tau_s}, P22 = e^{-h/tau_m}, P20 = tau_m/C (1 - P22) and
 *   P21 = tau_s tau_m / (C (tau_m - tau_s)) (e^{-h/tau_m} - e^{-h/tau_s}).
 * Weights are in pA (inhibitory ones negative). A spike arriving in step s
 * raises I at the end of that step, so V first moves one step later and
 * V(t_arr + t) - E_L is the analytic PSP at every grid point (tested).
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/ntw_error.h"
#include "model.h"

enum { P_E_L, P_C_M, P_TAU_M, P_T_REF, P_V_TH, P_V_RESET, P_TAU_EX, P_TAU_IN,
       P_I_E, P_V_M, P_COUNT };

static const ntw_param_spec specs[P_COUNT] = {
    [P_E_L] = {"E_L", -70.0, -1e6, 1e6, false, false, "mV"},
    [P_C_M] = {"C_m", 250.0, 0, 1e12, true, false, "pF"},
    [P_TAU_M] = {"tau_m", 10.0, 0, 1e9, true, false, "ms"},
    [P_T_REF] = {"t_ref", 2.0, 0, 1e9, false, false, "ms"},
    [P_V_TH] = {"V_th", -55.0, -1e6, 1e6, false, false, "mV"},
    [P_V_RESET] = {"V_reset", -70.0, -1e6, 1e6, false, false, "mV"},
    [P_TAU_EX] = {"tau_syn_ex", 2.0, 0, 1e9, true, false, "ms"},
    [P_TAU_IN] = {"tau_syn_in", 2.0, 0, 1e9, true, false, "ms"},
    [P_I_E] = {"I_e", 0.0, -1e12, 1e12, false, true, "pA"},
    [P_V_M] = {"V_m", -70.0, -1e6, 1e6, false, true, "mV"},
};

/* Exact propagator from synaptic current to membrane potential over h:
 *   P21 = (e^{-h/tau_m} - e^{-h/tau_s}) / (C (1/tau_s - 1/tau_m)).
 * Written as e^{-h/tau_m} (1 - e^{-h a}) / (C a), a = 1/tau_s - 1/tau_m,
 * with -expm1(-h a) / a, which has no cancellation as a -> 0 and tends to
 * h; a == 0 (tau_s == tau_m) gives the limit h/C e^{-h/tau} directly. An
 * error in a itself (from forming the difference) moves the result by at
 * most ~h^2/2 |da|, negligible. */
static double psc_exp_p21(double h, double tau_m, double tau_s, double C) {
  double a = 1.0 / tau_s - 1.0 / tau_m;
  double f = a == 0.0 ? h : -expm1(-h * a) / a;
  return exp(-h / tau_m) * f / C;
}

typedef struct {
  size_t n;
  double P11ex, P11in, P21ex, P21in, P22, P20, theta, y_reset, E_L;
  int32_t ref_steps;
  double *y;     /* V_m - E_L, mV */
  double *I_ex;  /* pA */
  double *I_in;  /* pA (negative) */
  double *I_e;   /* pA */
  int32_t *refr; /* remaining refractory steps */
} psc_state;

static void psc_destroy(void *st) {
  psc_state *s = st;
  if (!s) return;
  free(s->y), free(s->I_ex), free(s->I_in), free(s->I_e), free(s->refr);
  free(s);
}

static int psc_create(const ntw_model_init *mi, void **out) {
  double c[P_COUNT];
  NTW_TRY(ntw_model_check_params(mi, specs, P_COUNT, c));
  /* V_m defaults to E_L (NEST's choice). */
  if (!ntw_config_param(mi->pop, "V_m")) c[P_V_M] = c[P_E_L];
  NTW_CHECK(c[P_V_RESET] < c[P_V_TH], NTW_ERR_CONFIG,
            "%s: populations[%d].params.V_reset: must be below V_th = %g mV "
            "(got %g)",
            mi->cfg_path, mi->pop_index, c[P_V_TH], c[P_V_RESET]);
  psc_state *s = calloc(1, sizeof *s);
  NTW_ALLOC_CHECK(s);
  size_t n = mi->n ? mi->n : 1;
  s->n = mi->n;
  s->y = malloc(n * sizeof *s->y);
  s->I_ex = calloc(n, sizeof *s->I_ex);
  s->I_in = calloc(n, sizeof *s->I_in);
  s->I_e = malloc(n * sizeof *s->I_e);
  s->refr = calloc(n, sizeof *s->refr);
  if (!s->y || !s->I_ex || !s->I_in || !s->I_e || !s->refr) {
    psc_destroy(s);
    return NTW_ERR(NTW_ERR_NOMEM, "out of memory for %zu neurons", mi->n);
  }
  const double h = mi->dt, tau_m = c[P_TAU_M], C = c[P_C_M];
  s->E_L = c[P_E_L];
  s->P11ex = exp(-h / c[P_TAU_EX]);
  s->P11in = exp(-h / c[P_TAU_IN]);
  s->P22 = exp(-h / tau_m);
  s->P20 = tau_m / C * -expm1(-h / tau_m);
  s->P21ex = psc_exp_p21(h, tau_m, c[P_TAU_EX], C);
  s->P21in = psc_exp_p21(h, tau_m, c[P_TAU_IN], C);
  s->theta = c[P_V_TH] - c[P_E_L];
  s->y_reset = c[P_V_RESET] - c[P_E_L];
  s->ref_steps = (int32_t)lround(c[P_T_REF] / h);
  ntw_model_fill_param(mi, specs, P_I_E, s->I_e);
  if (ntw_config_param(mi->pop, "V_m")) {
    ntw_model_fill_param(mi, specs, P_V_M, s->y);
    for (size_t i = 0; i < mi->n; i++) s->y[i] -= s->E_L;
  } else {
    for (size_t i = 0; i < mi->n; i++) s->y[i] = 0.0;
  }
  *out = s;
  return 0;
}

static void psc_update(void *st, const double *const *syn_in,
                       const double *restrict i_ext, uint32_t *restrict spiked,
                       size_t *nspiked) {
  psc_state *s = st;
  const double *restrict in_ex = syn_in[0];
  const double *restrict in_in = syn_in[1];
  double *restrict y = s->y;
  double *restrict I_ex = s->I_ex;
  double *restrict I_in = s->I_in;
  const double *restrict I_e = s->I_e;
  int32_t *restrict refr = s->refr;
  const double P11ex = s->P11ex, P11in = s->P11in, P21ex = s->P21ex,
               P21in = s->P21in, P22 = s->P22, P20 = s->P20, theta = s->theta,
               y_reset = s->y_reset;
  const int32_t ref_steps = s->ref_steps;
  size_t ns = 0;
  for (size_t i = 0; i < s->n; i++) {
    double v = y[i];
    if (refr[i] == 0)
      v = P22 * v + P21ex * I_ex[i] + P21in * I_in[i] + P20 * (I_e[i] + i_ext[i]);
    else
      refr[i]--;
    /* spikes of this step act at its end: V sees them from the next step */
    I_ex[i] = P11ex * I_ex[i] + in_ex[i];
    I_in[i] = P11in * I_in[i] + in_in[i];
    if (NTW_UNLIKELY(v >= theta)) {
      v = y_reset;
      refr[i] = ref_steps;
      spiked[ns++] = (uint32_t)i;
    }
    y[i] = v;
  }
  *nspiked = ns;
}

static double psc_get_v(const void *st, size_t i) {
  const psc_state *s = st;
  return s->y[i] + s->E_L;
}


/* Dynamic state saved by checkpoints (internal representation). */
static const ntw_state_var state_vars[] = {
    {"V_rel", offsetof(psc_state, y), false},
    {"I_syn_ex", offsetof(psc_state, I_ex), false},
    {"I_syn_in", offsetof(psc_state, I_in), false},
    {"refractory_steps", offsetof(psc_state, refr), true},
};

const ntw_model_ops ntw_model_iaf_psc_exp = {
    .size = sizeof(ntw_model_ops),
    .name = "iaf_psc_exp",
    .nports = 2,
    .create = psc_create,
    .update = psc_update,
    .get_v = psc_get_v,
    .destroy = psc_destroy,
    .state_vars = state_vars,
    .nstate_vars = sizeof state_vars / sizeof *state_vars,
};

/* iaf_psc_alpha.c - leaky integrate-and-fire with alpha-shaped synaptic
 * currents, separate excitatory (port 0) and inhibitory (port 1) time
 * constants, integrated exactly on the grid as NEST's iaf_psc_alpha (Rotter &
 * Diesmann 1999). A spike of weight w (pA) makes the current
 *   I(t) = w e/tau_s t e^{-t/tau_s}   (peak w at t = tau_s),
 * i.e. per port the linear system dI'/dt = -dI'/tau_s, dI/dt = dI' - I/tau_s
 * with dI' jumping by w e/tau_s. With y = V_m - E_L, per step of width h:
 *   not refractory: y <- P22 y + sum_ports (P31 dI' + P32 I) + P30 (I_e + i_ext)
 *   refractory:     counter decremented (y stays at V_reset - E_L)
 *   I <- e^{-h/tau_s} (h dI' + I),  dI' <- e^{-h/tau_s} dI' + e/tau_s syn_in
 *   y >= V_th - E_L: spike at the end of the step, y <- V_reset - E_L,
 *                    refractory for round(t_ref / h) steps
 * The propagators come from integrating y' = -y/tau_m + I/C exactly with
 * I(s) = (I0 + dI'0 s) e^{-s/tau_s}; with a = 1/tau_s - 1/tau_m:
 *   P22 = e^{-h/tau_m},  P30 = tau_m/C (1 - e^{-h/tau_m}),
 *   P32 = e^{-h/tau_m}/C int_0^h e^{-a s} ds   = e^{-h/tau_m} h   E1(a h) / C,
 *   P31 = e^{-h/tau_m}/C int_0^h s e^{-a s} ds = e^{-h/tau_m} h^2 E2(a h) / C,
 * E1(x) = (1 - e^{-x})/x, E2(x) = (1 - e^{-x}(1 + x))/x^2, both evaluated
 * without cancellation (tau_s == tau_m gives a = 0: E1 = 1, E2 = 1/2).
 * A spike arriving in step s raises dI' at the end of that step, so V first
 * moves one step later and V(t_arr + t) - E_L is the analytic alpha PSP at
 * every grid point (tested). i_ext (DC stimuli) acts in the step it is given
 * for, like the other models here; NEST applies a current one step later.
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

/* E1(x) = (1 - e^{-x})/x: -expm1 keeps full precision; E1(0) = 1. */
static double alpha_e1(double x) { return x == 0.0 ? 1.0 : -expm1(-x) / x; }

/* E2(x) = (1 - e^{-x}(1 + x))/x^2 = sum_{n>=2} (-1)^n (n-1)/n! x^{n-2}.
 * The closed form written as (-expm1(-x) - x e^{-x})/x^2 subtracts two
 * terms of size ~x to get ~x^2/2: relative error ~ eps/|x|. Below
 * |x| = 0.05 the series to x^8 is used instead (first omitted term
 * 10/11! |x|^9 < 1e-18). */
static double alpha_e2(double x) {
  if (fabs(x) < 0.05) {
    double s = 0.0, c = 1.0; /* c = (-1)^n / n!, starting at n = 2 */
    double t[9];
    for (int n = 2; n <= 10; n++) {
      c = n == 2 ? 0.5 : -c / n;
      t[n - 2] = c * (n - 1);
    }
    for (int k = 8; k >= 0; k--) s = s * x + t[k]; /* Horner */
    return s;
  }
  return (-expm1(-x) - x * exp(-x)) / (x * x);
}

typedef struct {
  size_t n;
  double P11ex, P11in, P21ex, P21in;   /* dI' decay, dI' -> I */
  double P31ex, P31in, P32ex, P32in;   /* dI', I -> y */
  double P22, P30, jump_ex, jump_in;   /* jump = e/tau_s per pA of weight */
  double theta, y_reset, E_L;
  int32_t ref_steps;
  double *y;                  /* V_m - E_L, mV */
  double *dI_ex, *I_ex;       /* pA/ms, pA */
  double *dI_in, *I_in;       /* negative */
  double *I_e;                /* pA */
  int32_t *refr;              /* remaining refractory steps */
} alpha_state;

static void alpha_destroy(void *st) {
  alpha_state *s = st;
  if (!s) return;
  free(s->y), free(s->dI_ex), free(s->I_ex), free(s->dI_in), free(s->I_in);
  free(s->I_e), free(s->refr);
  free(s);
}

static int alpha_create(const ntw_model_init *mi, void **out) {
  double c[P_COUNT];
  NTW_TRY(ntw_model_check_params(mi, specs, P_COUNT, c));
  /* V_m defaults to E_L (NEST's choice). */
  if (!ntw_config_param(mi->pop, "V_m")) c[P_V_M] = c[P_E_L];
  NTW_CHECK(c[P_V_RESET] < c[P_V_TH], NTW_ERR_CONFIG,
            "%s: populations[%d].params.V_reset: must be below V_th = %g mV "
            "(got %g)",
            mi->cfg_path, mi->pop_index, c[P_V_TH], c[P_V_RESET]);
  alpha_state *s = calloc(1, sizeof *s);
  NTW_ALLOC_CHECK(s);
  size_t n = mi->n ? mi->n : 1;
  s->n = mi->n;
  s->y = malloc(n * sizeof *s->y);
  s->dI_ex = calloc(n, sizeof *s->dI_ex);
  s->I_ex = calloc(n, sizeof *s->I_ex);
  s->dI_in = calloc(n, sizeof *s->dI_in);
  s->I_in = calloc(n, sizeof *s->I_in);
  s->I_e = malloc(n * sizeof *s->I_e);
  s->refr = calloc(n, sizeof *s->refr);
  if (!s->y || !s->dI_ex || !s->I_ex || !s->dI_in || !s->I_in || !s->I_e ||
      !s->refr) {
    alpha_destroy(s);
    return NTW_ERR(NTW_ERR_NOMEM, "out of memory for %zu neurons", mi->n);
  }
  const double h = mi->dt, tau_m = c[P_TAU_M], C = c[P_C_M];
  const double tex = c[P_TAU_EX], tin = c[P_TAU_IN];
  s->E_L = c[P_E_L];
  s->P22 = exp(-h / tau_m);
  s->P30 = tau_m / C * -expm1(-h / tau_m);
  s->P11ex = exp(-h / tex);
  s->P11in = exp(-h / tin);
  s->P21ex = h * s->P11ex;
  s->P21in = h * s->P11in;
  /* a h = h/tau_s - h/tau_m; exactly 0 when the time constants are equal */
  const double xex = h / tex - h / tau_m, xin = h / tin - h / tau_m;
  s->P32ex = s->P22 * h * alpha_e1(xex) / C;
  s->P32in = s->P22 * h * alpha_e1(xin) / C;
  s->P31ex = s->P22 * h * h * alpha_e2(xex) / C;
  s->P31in = s->P22 * h * h * alpha_e2(xin) / C;
  s->jump_ex = M_E / tex;
  s->jump_in = M_E / tin;
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

static void alpha_update(void *st, const double *const *syn_in,
                         const double *restrict i_ext, uint32_t *restrict spiked,
                         size_t *nspiked) {
  alpha_state *s = st;
  const double *restrict in_ex = syn_in[0];
  const double *restrict in_in = syn_in[1];
  double *restrict y = s->y;
  double *restrict dI_ex = s->dI_ex;
  double *restrict I_ex = s->I_ex;
  double *restrict dI_in = s->dI_in;
  double *restrict I_in = s->I_in;
  const double *restrict I_e = s->I_e;
  int32_t *restrict refr = s->refr;
  const double P11ex = s->P11ex, P11in = s->P11in, P21ex = s->P21ex,
               P21in = s->P21in, P31ex = s->P31ex, P31in = s->P31in,
               P32ex = s->P32ex, P32in = s->P32in, P22 = s->P22, P30 = s->P30,
               jex = s->jump_ex, jin = s->jump_in, theta = s->theta,
               y_reset = s->y_reset;
  const int32_t ref_steps = s->ref_steps;
  size_t ns = 0;
  for (size_t i = 0; i < s->n; i++) {
    double v = y[i];
    const double dex = dI_ex[i], din = dI_in[i];
    if (refr[i] == 0)
      v = P22 * v + P31ex * dex + P32ex * I_ex[i] + P31in * din +
          P32in * I_in[i] + P30 * (I_e[i] + i_ext[i]);
    else
      refr[i]--;
    /* spikes of this step act at its end: V sees them from the next step */
    I_ex[i] = P21ex * dex + P11ex * I_ex[i];
    I_in[i] = P21in * din + P11in * I_in[i];
    dI_ex[i] = P11ex * dex + jex * in_ex[i];
    dI_in[i] = P11in * din + jin * in_in[i];
    if (NTW_UNLIKELY(v >= theta)) {
      v = y_reset;
      refr[i] = ref_steps;
      spiked[ns++] = (uint32_t)i;
    }
    y[i] = v;
  }
  *nspiked = ns;
}

static double alpha_get_v(const void *st, size_t i) {
  const alpha_state *s = st;
  return s->y[i] + s->E_L;
}


/* Dynamic state saved by checkpoints (internal representation). */
static const ntw_state_var state_vars[] = {
    {"V_rel", offsetof(alpha_state, y), false},
    {"dI_syn_ex", offsetof(alpha_state, dI_ex), false},
    {"I_syn_ex", offsetof(alpha_state, I_ex), false},
    {"dI_syn_in", offsetof(alpha_state, dI_in), false},
    {"I_syn_in", offsetof(alpha_state, I_in), false},
    {"refractory_steps", offsetof(alpha_state, refr), true},
};

const ntw_model_ops ntw_model_iaf_psc_alpha = {
    .size = sizeof(ntw_model_ops),
    .name = "iaf_psc_alpha",
    .nports = 2,
    .create = alpha_create,
    .update = alpha_update,
    .get_v = alpha_get_v,
    .destroy = alpha_destroy,
    .state_vars = state_vars,
    .nstate_vars = sizeof state_vars / sizeof *state_vars,
};

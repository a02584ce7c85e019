/* aeif_cond_exp.c - adaptive exponential integrate-and-fire neuron with
 * exponentially decaying conductances (Brette & Gerstner 2005), NEST's
 * aeif_cond_exp: names, units, defaults and update order.
 *
 *   C_m dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_th) / Delta_T)
 *               - g_ex (V - E_ex) - g_in (V - E_in) - w + I_e + i_ext
 *   tau_w dw/dt = a (V - E_L) - w
 *   dg_ex/dt = -g_ex / tau_syn_ex,   dg_in/dt = -g_in / tau_syn_in
 *   V >= V_peak: V <- V_reset, w <- w + b, V clamped to V_reset for t_ref.
 *
 * Solver: the embedded Runge-Kutta-Fehlberg 4(5) pair, advancing with the
 * 5th-order solution, with GSL's standard step control (absolute tolerance
 * gsl_error_tol on all four variables, relative tolerance 0) - the method,
 * controller and tolerance NEST uses (gsl_odeiv_step_rkf45), so results are
 * comparable with NEST's. Each neuron keeps its own step size across steps.
 * Within a step of width dt the solver takes as many sub-steps as the
 * tolerance demands; after every accepted sub-step V >= V_peak triggers the
 * reset (w += b) and the integration continues to the end of the step, so
 * spike-triggered adaptation acts at the sub-step where V crossed V_peak,
 * not at the end of the grid step. The spike itself is emitted at the end of
 * the step (engine contract). Only one spike per step and neuron can be
 * reported; a second crossing within the same step still resets (as in
 * NEST) but is reported once.
 *
 * The exponential is evaluated at min(V, V_peak) (all voltage terms use the
 * clipped value, as in NEST), so the right-hand side stays finite in the
 * sub-step that overshoots V_peak; create() rejects V_peak, V_th, Delta_T
 * with (V_peak - V_th) / Delta_T so large that exp() would overflow.
 *
 * Synaptic input (nS) is added after the step's integration, as NEST does:
 * port 0 increments g_ex by syn_in[0], port 1 increments g_in by -syn_in[1]
 * (inhibitory weights are negative). i_ext is held constant over the step.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/ntw_error.h"
#include "model.h"

enum { P_C_M, P_G_L, P_E_L, P_V_TH, P_DELTA_T, P_TAU_W, P_A, P_B, P_V_RESET,
       P_T_REF, P_V_PEAK, P_E_EX, P_E_IN, P_TAU_EX, P_TAU_IN, P_TOL, P_I_E,
       P_V_M, P_W, P_COUNT };

static const ntw_param_spec specs[P_COUNT] = {
    [P_C_M] = {"C_m", 281.0, 0, 1e12, true, false, "pF"},
    [P_G_L] = {"g_L", 30.0, 0, 1e12, true, false, "nS"},
    [P_E_L] = {"E_L", -70.6, -1e6, 1e6, false, false, "mV"},
    [P_V_TH] = {"V_th", -50.4, -1e6, 1e6, false, false, "mV"},
    [P_DELTA_T] = {"Delta_T", 2.0, 0, 1e6, true, false, "mV"},
    [P_TAU_W] = {"tau_w", 144.0, 0, 1e9, true, false, "ms"},
    [P_A] = {"a", 4.0, -1e12, 1e12, false, false, "nS"},
    [P_B] = {"b", 80.5, -1e12, 1e12, false, false, "pA"},
    [P_V_RESET] = {"V_reset", -60.0, -1e6, 1e6, false, false, "mV"},
    [P_T_REF] = {"t_ref", 0.0, 0, 1e9, false, false, "ms"},
    [P_V_PEAK] = {"V_peak", 0.0, -1e6, 1e6, false, false, "mV"},
    [P_E_EX] = {"E_ex", 0.0, -1e6, 1e6, false, false, "mV"},
    [P_E_IN] = {"E_in", -85.0, -1e6, 1e6, false, false, "mV"},
    [P_TAU_EX] = {"tau_syn_ex", 0.2, 0, 1e9, true, false, "ms"},
    [P_TAU_IN] = {"tau_syn_in", 2.0, 0, 1e9, true, false, "ms"},
    [P_TOL] = {"gsl_error_tol", 1e-6, 0, 1e6, true, false, "(abs.)"},
    [P_I_E] = {"I_e", 0.0, -1e12, 1e12, false, true, "pA"},
    [P_V_M] = {"V_m", -70.6, -1e6, 1e6, false, true, "mV"},
    [P_W] = {"w", 0.0, -1e12, 1e12, false, true, "pA"},
};

/* Constants of the right-hand side, shared by the block. */
typedef struct {
  double gL_C, gLDT_C, inv_C, E_L, V_th, inv_DT, V_peak, V_reset, E_ex, E_in,
      a, inv_tw, inv_tex, inv_tin;
} aeif_rhs;

typedef struct {
  size_t n;
  aeif_rhs p;
  double b, dt, tol, h_min;
  int32_t ref_steps;
  /* state, structure of arrays */
  double *V, *w, *gex, *gin; /* mV, pA, nS, nS */
  double *h;                 /* the solver's current step, ms */
  double *I_e;               /* pA */
  int32_t *refr;             /* remaining refractory steps */
} aeif_state;

/* dy/dt for y = (V, w, g_ex, g_in); I in pA. Refractory: V held. */
static inline void aeif_f(const aeif_rhs *restrict p, double I, int refr,
                          const double y[4], double f[4]) {
  double V = refr ? p->V_reset : (y[0] < p->V_peak ? y[0] : p->V_peak);
  double I_spike = p->gLDT_C * exp((V - p->V_th) * p->inv_DT);
  f[0] = refr ? 0.0
              : -p->gL_C * (V - p->E_L) + I_spike +
                    p->inv_C * (-y[2] * (V - p->E_ex) - y[3] * (V - p->E_in) -
                                y[1] + I);
  f[1] = (p->a * (V - p->E_L) - y[1]) * p->inv_tw;
  f[2] = -y[2] * p->inv_tex;
  f[3] = -y[3] * p->inv_tin;
}

/* One Runge-Kutta-Fehlberg step of size h: y5 the 5th-order solution, the
 * return value max_k |y5_k - y4_k| (the local error estimate). */
static inline double aeif_rkf45(const aeif_rhs *restrict p, double I, int refr,
                                const double y[4], double h, double y5[4]) {
  double k1[4], k2[4], k3[4], k4[4], k5[4], k6[4], t[4];
  aeif_f(p, I, refr, y, k1);
  for (int j = 0; j < 4; j++) t[j] = y[j] + h * (0.25 * k1[j]);
  aeif_f(p, I, refr, t, k2);
  for (int j = 0; j < 4; j++)
    t[j] = y[j] + h * (3.0 / 32 * k1[j] + 9.0 / 32 * k2[j]);
  aeif_f(p, I, refr, t, k3);
  for (int j = 0; j < 4; j++)
    t[j] = y[j] + h * (1932.0 / 2197 * k1[j] - 7200.0 / 2197 * k2[j] +
                       7296.0 / 2197 * k3[j]);
  aeif_f(p, I, refr, t, k4);
  for (int j = 0; j < 4; j++)
    t[j] = y[j] + h * (439.0 / 216 * k1[j] - 8.0 * k2[j] +
                       3680.0 / 513 * k3[j] - 845.0 / 4104 * k4[j]);
  aeif_f(p, I, refr, t, k5);
  for (int j = 0; j < 4; j++)
    t[j] = y[j] + h * (-8.0 / 27 * k1[j] + 2.0 * k2[j] -
                       3544.0 / 2565 * k3[j] + 1859.0 / 4104 * k4[j] -
                       11.0 / 40 * k5[j]);
  aeif_f(p, I, refr, t, k6);
  double err = 0.0;
  for (int j = 0; j < 4; j++) {
    y5[j] = y[j] + h * (16.0 / 135 * k1[j] + 6656.0 / 12825 * k3[j] +
                        28561.0 / 56430 * k4[j] - 9.0 / 50 * k5[j] +
                        2.0 / 55 * k6[j]);
    double e = fabs(h * (1.0 / 360 * k1[j] - 128.0 / 4275 * k3[j] -
                         2197.0 / 75240 * k4[j] + 1.0 / 50 * k5[j] +
                         2.0 / 55 * k6[j]));
    err = (e > err || e != e) ? e : err; /* a NaN sticks, and rejects */
  }
  return err;
}

static void aeif_destroy(void *st) {
  aeif_state *s = st;
  if (!s) return;
  free(s->V), free(s->w), free(s->gex), free(s->gin), free(s->h);
  free(s->I_e), free(s->refr);
  free(s);
}

static int aeif_create(const ntw_model_init *mi, void **out) {
  double c[P_COUNT];
  NTW_TRY(ntw_model_check_params(mi, specs, P_COUNT, c));
  /* V_m defaults to E_L (NEST's choice). */
  if (!ntw_config_param(mi->pop, "V_m")) c[P_V_M] = c[P_E_L];
  const char *f = mi->cfg_path;
  int pi = mi->pop_index;
  NTW_CHECK(c[P_V_PEAK] > c[P_V_TH], NTW_ERR_CONFIG,
            "%s: populations[%d].params.V_peak: must be above V_th = %g mV "
            "(got %g)", f, pi, c[P_V_TH], c[P_V_PEAK]);
  NTW_CHECK(c[P_V_RESET] < c[P_V_PEAK], NTW_ERR_CONFIG,
            "%s: populations[%d].params.V_reset: must be below V_peak = %g mV "
            "(got %g)", f, pi, c[P_V_PEAK], c[P_V_RESET]);
  /* NEST's bound: exp((V_peak - V_th) / Delta_T) must leave headroom
   * (1e20) below DBL_MAX, or the spike current overflows at V_peak. */
  NTW_CHECK((c[P_V_PEAK] - c[P_V_TH]) / c[P_DELTA_T] < log(1.79e308 / 1e20),
            NTW_ERR_CONFIG,
            "%s: populations[%d].params.V_peak: (V_peak - V_th) / Delta_T = "
            "%g overflows exp(); lower V_peak or raise Delta_T",
            f, pi, (c[P_V_PEAK] - c[P_V_TH]) / c[P_DELTA_T]);
  aeif_state *s = calloc(1, sizeof *s);
  NTW_ALLOC_CHECK(s);
  size_t n = mi->n ? mi->n : 1;
  s->n = mi->n;
  s->V = malloc(n * sizeof *s->V);
  s->w = malloc(n * sizeof *s->w);
  s->gex = calloc(n, sizeof *s->gex);
  s->gin = calloc(n, sizeof *s->gin);
  s->h = malloc(n * sizeof *s->h);
  s->I_e = malloc(n * sizeof *s->I_e);
  s->refr = calloc(n, sizeof *s->refr);
  if (!s->V || !s->w || !s->gex || !s->gin || !s->h || !s->I_e || !s->refr) {
    aeif_destroy(s);
    return NTW_ERR(NTW_ERR_NOMEM, "out of memory for %zu neurons", mi->n);
  }
  const double C = c[P_C_M];
  s->p = (aeif_rhs){.gL_C = c[P_G_L] / C,
                    .gLDT_C = c[P_G_L] * c[P_DELTA_T] / C,
                    .inv_C = 1.0 / C,
                    .E_L = c[P_E_L],
                    .V_th = c[P_V_TH],
                    .inv_DT = 1.0 / c[P_DELTA_T],
                    .V_peak = c[P_V_PEAK],
                    .V_reset = c[P_V_RESET],
                    .E_ex = c[P_E_EX],
                    .E_in = c[P_E_IN],
                    .a = c[P_A],
                    .inv_tw = 1.0 / c[P_TAU_W],
                    .inv_tex = 1.0 / c[P_TAU_EX],
                    .inv_tin = 1.0 / c[P_TAU_IN]};
  s->b = c[P_B];
  s->dt = mi->dt;
  s->tol = c[P_TOL];
  /* Below this a rejected sub-step is accepted anyway, so a pathological
   * right-hand side cannot stall the loop (t + h must still move t). */
  s->h_min = 1e-12 * (mi->dt > 1.0 ? mi->dt : 1.0);
  s->ref_steps = (int32_t)lround(c[P_T_REF] / mi->dt);
  ntw_model_fill_param(mi, specs, P_I_E, s->I_e);
  ntw_model_fill_param(mi, specs, P_W, s->w);
  if (ntw_config_param(mi->pop, "V_m"))
    ntw_model_fill_param(mi, specs, P_V_M, s->V);
  else
    for (size_t i = 0; i < mi->n; i++) s->V[i] = c[P_V_M];
  for (size_t i = 0; i < mi->n; i++) s->h[i] = mi->dt; /* NEST starts at dt */
  *out = s;
  return 0;
}

static void aeif_update(void *st, const double *const *syn_in,
                        const double *restrict i_ext, uint32_t *restrict spiked,
                        size_t *nspiked) {
  aeif_state *s = st;
  const aeif_rhs p = s->p;
  const double *restrict in_ex = syn_in[0];
  const double *restrict in_in = syn_in[1];
  double *restrict V = s->V, *restrict W = s->w, *restrict GE = s->gex,
                   *restrict GI = s->gin, *restrict H = s->h;
  const double *restrict I_e = s->I_e;
  int32_t *restrict refr = s->refr;
  const double dt = s->dt, tol = s->tol, h_min = s->h_min, b = s->b;
  const int32_t ref_steps = s->ref_steps;
  size_t ns = 0;
  for (size_t i = 0; i < s->n; i++) {
    double y[4] = {V[i], W[i], GE[i], GI[i]}, y5[4];
    const double I = I_e[i] + i_ext[i];
    double h = H[i], t = 0.0;
    int32_t r = refr[i];
    int fired = 0;
    while (t < dt) {
      const int last = h >= dt - t;
      const double hs = last ? dt - t : h;
      const double rmax = aeif_rkf45(&p, I, r > 0, y, hs, y5) / tol;
      if (!(rmax <= 1.1) && hs > h_min) { /* reject: shrink at most 5-fold */
        double fac = 0.9 * pow(rmax, -1.0 / 5);
        h = hs * (fac > 0.2 ? fac : 0.2);
        continue;
      }
      y[0] = y5[0], y[1] = y5[1], y[2] = y5[2], y[3] = y5[3];
      t = last ? dt : t + hs;
      double hn = hs;
      if (rmax < 0.5) { /* grow at most 5-fold */
        double fac = rmax > 0.0 ? 0.9 * pow(rmax, -1.0 / 6) : 5.0;
        hn = hs * (fac > 5.0 ? 5.0 : (fac < 1.0 ? 1.0 : fac));
      }
      /* A sub-step cut short by the end of the step does not shrink the
       * step carried to the next one. */
      h = last && hn < h ? h : hn;
      if (r > 0) {
        y[0] = p.V_reset;
      } else if (NTW_UNLIKELY(y[0] >= p.V_peak)) {
        y[0] = p.V_reset;
        y[1] += b;
        r = ref_steps > 0 ? ref_steps + 1 : 0; /* +1: decremented below */
        fired = 1;
      }
    }
    if (r > 0) r--;
    if (fired) spiked[ns++] = (uint32_t)i;
    V[i] = y[0], W[i] = y[1];
    GE[i] = y[2] + in_ex[i];
    GI[i] = y[3] - in_in[i];
    H[i] = h;
    refr[i] = r;
  }
  *nspiked = ns;
}

static double aeif_get_v(const void *st, size_t i) {
  const aeif_state *s = st;
  return s->V[i];
}


/* Dynamic state saved by checkpoints (internal representation). */
static const ntw_state_var state_vars[] = {
    {"V_m", offsetof(aeif_state, V), false},
    {"w", offsetof(aeif_state, w), false},
    {"g_ex", offsetof(aeif_state, gex), false},
    {"g_in", offsetof(aeif_state, gin), false},
    {"solver_step", offsetof(aeif_state, h), false},
    {"refractory_steps", offsetof(aeif_state, refr), true},
};

const ntw_model_ops ntw_model_aeif_cond_exp = {
    .size = sizeof(ntw_model_ops),
    .name = "aeif_cond_exp",
    .nports = 2,
    .create = aeif_create,
    .update = aeif_update,
    .get_v = aeif_get_v,
    .destroy = aeif_destroy,
    .state_vars = state_vars,
    .nstate_vars = sizeof state_vars / sizeof *state_vars,
};

/* izhikevich.c - the simple model of Izhikevich (2003, IEEE TNN 14:1569):
 *   dv/dt = 0.04 v^2 + 5 v + 140 - u + I,   du/dt = a (b v - u)
 *   v >= V_th: spike at the end of the step, v <- c, u <- u + d
 * with v in mV, t in ms and I = I_e + i_ext in the paper's units (entered
 * directly, no capacitance; the config calls them pA like NEST does).
 * Parameters and defaults are those of NEST's izhikevich; a, b, c, d, I_e,
 * V_m and U_m may vary per neuron (the paper's network draws a..d per
 * neuron). U_m defaults to b V_m per neuron, as in the paper's code (NEST's
 * default is 0).
 *
 * Two schemes, chosen by consistent_integration (a number here, 1 or 0,
 * since config params are numbers), both with the operations of NEST's
 * izhikevich::update (DC current, though, acts in the step it is on, the
 * engine's convention for every model; NEST lags currents by one step):
 *   1 (default): forward Euler on both variables with the old values,
 *        v' = v + h f(v, u) + w,   u' = u + h a (b v - u),
 *      a spike of weight w raising v by exactly w in its arrival step;
 *   0: the paper's published scheme, two half-steps of h/2 for v, then u
 *      from the new v:
 *        v += h/2 (f(v, u) + w);  v += h/2 (f(v, u) + w);
 *        u += h a (b v - u),
 *      where, as in the paper's network code and NEST, the summed weight of
 *      the step enters as a current (its effect is about w only at
 *      h = 1 ms, the step the scheme was published for).
 * Why forward Euler and not something more accurate: the model is defined
 * by its published discretisation (its firing classes were tuned with it)
 * and NEST uses the same, so results can be compared; the error is first
 * order in h (tested against RK4 in tests/test_model_izhikevich.c).
 * Then v is clipped at V_min, and the threshold is checked after the update.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/ntw_error.h"
#include "model.h"

enum { P_A, P_B, P_C, P_D, P_V_TH, P_V_MIN, P_I_E, P_V_M, P_U_M, P_CONS,
       P_COUNT };

static const ntw_param_spec specs[P_COUNT] = {
    [P_A] = {"a", 0.02, 0, 1e6, false, true, "1/ms"},
    [P_B] = {"b", 0.2, -1e6, 1e6, false, true, "1"},
    [P_C] = {"c", -65.0, -1e6, 1e6, false, true, "mV"},
    [P_D] = {"d", 8.0, -1e6, 1e6, false, true, "mV/ms"},
    [P_V_TH] = {"V_th", 30.0, -1e6, 1e6, false, false, "mV"},
    [P_V_MIN] = {"V_min", -INFINITY, -INFINITY, 1e6, false, false, "mV"},
    [P_I_E] = {"I_e", 0.0, -1e12, 1e12, false, true, "pA"},
    [P_V_M] = {"V_m", -65.0, -1e6, 1e6, false, true, "mV"},
    [P_U_M] = {"U_m", NAN, -1e12, 1e12, false, true, "mV/ms"},
    [P_CONS] = {"consistent_integration", 1.0, 0, 1, false, false, "(0|1)"},
};

typedef struct {
  size_t n;
  double h, h2, V_th, V_min;
  int consistent;
  double *v, *u;          /* mV, mV/ms */
  double *a, *b, *c, *d;  /* per neuron */
  double *I_e;            /* pA */
} izh_state;

static void izh_destroy(void *st) {
  izh_state *s = st;
  if (!s) return;
  free(s->v), free(s->u), free(s->a), free(s->b), free(s->c), free(s->d);
  free(s->I_e);
  free(s);
}

static int izh_create(const ntw_model_init *mi, void **out) {
  double k[P_COUNT];
  NTW_TRY(ntw_model_check_params(mi, specs, P_COUNT, k));
  NTW_CHECK(k[P_CONS] == 0.0 || k[P_CONS] == 1.0, NTW_ERR_CONFIG,
            "%s: populations[%d].params.consistent_integration: must be 1 "
            "(forward Euler) or 0 (the paper's scheme) (got %g)",
            mi->cfg_path, mi->pop_index, k[P_CONS]);
  /* c is the reset: it must lie below the threshold for every neuron. */
  const ntw_param *pc = ntw_config_param(mi->pop, "c");
  double c_hi = pc ? ntw_dist_upper(&pc->value) : specs[P_C].def;
  NTW_CHECK(c_hi < k[P_V_TH], NTW_ERR_CONFIG,
            "%s: populations[%d].params.c: the reset must be below V_th = "
            "%g mV (got %s%g)",
            mi->cfg_path, mi->pop_index, k[P_V_TH],
            pc && pc->value.kind != NTW_DIST_CONST ? "values up to " : "",
            c_hi);
  izh_state *s = calloc(1, sizeof *s);
  NTW_ALLOC_CHECK(s);
  size_t n = mi->n ? mi->n : 1;
  s->n = mi->n;
  double **arr[] = {&s->v, &s->u, &s->a, &s->b, &s->c, &s->d, &s->I_e};
  for (size_t j = 0; j < sizeof arr / sizeof *arr; j++)
    if (!(*arr[j] = malloc(n * sizeof(double)))) {
      izh_destroy(s);
      return NTW_ERR(NTW_ERR_NOMEM, "out of memory for %zu neurons", mi->n);
    }
  s->h = mi->dt;
  s->h2 = 0.5 * mi->dt;
  s->V_th = k[P_V_TH];
  s->V_min = k[P_V_MIN];
  s->consistent = k[P_CONS] == 1.0;
  ntw_model_fill_param(mi, specs, P_A, s->a);
  ntw_model_fill_param(mi, specs, P_B, s->b);
  ntw_model_fill_param(mi, specs, P_C, s->c);
  ntw_model_fill_param(mi, specs, P_D, s->d);
  ntw_model_fill_param(mi, specs, P_I_E, s->I_e);
  ntw_model_fill_param(mi, specs, P_V_M, s->v);
  if (ntw_config_param(mi->pop, "U_m"))
    ntw_model_fill_param(mi, specs, P_U_M, s->u);
  else
    for (size_t i = 0; i < mi->n; i++) s->u[i] = s->b[i] * s->v[i];
  *out = s;
  return 0;
}

static void izh_update(void *st, const double *const *syn_in,
                       const double *restrict i_ext, uint32_t *restrict spiked,
                       size_t *nspiked) {
  izh_state *s = st;
  const double *restrict in = syn_in[0];
  double *restrict v = s->v, *restrict u = s->u;
  const double *restrict a = s->a, *restrict b = s->b, *restrict c = s->c,
               *restrict d = s->d, *restrict I_e = s->I_e;
  const double h = s->h, h2 = s->h2, V_th = s->V_th, V_min = s->V_min;
  size_t ns = 0;
  if (s->consistent) {
    for (size_t i = 0; i < s->n; i++) {
      const double v0 = v[i], u0 = u[i];
      double vn = v0 + h * (0.04 * v0 * v0 + 5.0 * v0 + 140.0 - u0 + i_ext[i] +
                            I_e[i]) + in[i];
      double un = u0 + h * a[i] * (b[i] * v0 - u0);
      vn = vn < V_min ? V_min : vn;
      if (NTW_UNLIKELY(vn >= V_th)) {
        vn = c[i];
        un += d[i];
        spiked[ns++] = (uint32_t)i;
      }
      v[i] = vn, u[i] = un;
    }
  } else {
    for (size_t i = 0; i < s->n; i++) {
      const double u0 = u[i], I = i_ext[i] + I_e[i] + in[i];
      double vn = v[i];
      vn += h2 * (0.04 * vn * vn + 5.0 * vn + 140.0 - u0 + I);
      vn += h2 * (0.04 * vn * vn + 5.0 * vn + 140.0 - u0 + I);
      double un = u0 + h * a[i] * (b[i] * vn - u0);
      vn = vn < V_min ? V_min : vn;
      if (NTW_UNLIKELY(vn >= V_th)) {
        vn = c[i];
        un += d[i];
        spiked[ns++] = (uint32_t)i;
      }
      v[i] = vn, u[i] = un;
    }
  }
  *nspiked = ns;
}

static double izh_get_v(const void *st, size_t i) {
  const izh_state *s = st;
  return s->v[i];
}


/* Dynamic state saved by checkpoints (internal representation). */
static const ntw_state_var state_vars[] = {
    {"V_m", offsetof(izh_state, v), false},
    {"U_m", offsetof(izh_state, u), false},
};

const ntw_model_ops ntw_model_izhikevich = {
    .size = sizeof(ntw_model_ops),
    .name = "izhikevich",
    .nports = 1,
    .create = izh_create,
    .update = izh_update,
    .get_v = izh_get_v,
    .destroy = izh_destroy,
    .state_vars = state_vars,
    .nstate_vars = sizeof state_vars / sizeof *state_vars,
};

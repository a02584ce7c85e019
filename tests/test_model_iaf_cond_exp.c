/* test_model_iaf_cond_exp.c - iaf_cond_exp against analytic results and an
 * independent high-accuracy reference. Runs on any number of ranks (meson
 * runs it on 1 and 2); the assertions are the same for every rank count.
 *  - relaxation: without input V(t) = E_L + (V0 - E_L) exp(-t g_L / C_m) at
 *    every grid point to 1e-9 mV; with a subthreshold I_e the same towards
 *    E_L + I_e / g_L;
 *  - reference: the test integrates the full 3-variable ODE (V, g_ex, g_in)
 *    by its own RK4 with 1000 substeps per dt (the model advances g exactly
 *    and V by RK4 with 5 substeps for tau_syn_ex = 0.2, 2 for COBA), with input spikes added to g at the end
 *    of the arrival step, threshold/reset/refractory clamp on the grid;
 *    |V - V_ref| < 1e-6 mV at every grid point over 50 ms and identical
 *    spike times, for a single excitatory spike, a single inhibitory spike,
 *    and trains of both onto neurons driven above rheobase (NEST defaults
 *    and COBA-benchmark parameters). A neuron with n_substeps = 1 must miss
 *    the tolerance, so the comparison is not vacuous;
 *  - DC: first spike at (C/g_L) ln((V_inf - V0)/(V_inf - V_th)) rounded up to
 *    the grid, then a period of t_ref + the crossing time from V_reset
 *    rounded up; through I_e and through a DC stimulus;
 *  - bad parameters are rejected with an error naming the field. */
#include <math.h>
#include <mpi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "comm/comm.h"
#include "core/ntw_error.h"
#include "engine.h"
#include "io/config.h"
#include "partition/partition.h"

#include "testlib.h"

/* Shared helpers (testlib.h) under this file's historical names. */
typedef ntw_test_spikes spikes;
typedef ntw_test_sim sim;
#define collect ntw_test_collect
#define sim_free ntw_test_sim_free
#define sim_build(s, j, st) ntw_test_sim_build((s), (j), MPI_COMM_WORLD, (st))
#define gather(l, a) ntw_test_gather((l), (a), MPI_COMM_WORLD)

#define MAXSP 4096

/* V of gid on whichever rank owns it, on every rank. */
static double global_v(const ntw_engine *e, uint64_t gid) {
  double v = ntw_engine_get_v(e, gid), m;
  if (isnan(v)) v = -INFINITY;
  MPI_Allreduce(&v, &m, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return m;
}

static size_t spikes_of(const spikes *all, uint64_t gid, double *t, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < all->n; i++)
    if (all->gid[i] == gid && k < cap) t[k++] = all->t[i];
  return k;
}

/* ---------------- the independent reference ---------------- */

typedef struct {
  double V_th, V_reset, t_ref, g_L, C_m, E_ex, E_in, E_L, tau_ex, tau_in, I_e, V0;
} cparams;

static const cparams nest_defaults = {-55, -60, 2, 16.6667, 250, 0, -85, -70,
                                      0.2, 2, 0, -70};
static const cparams coba = {-50, -60, 5, 10, 200, 0, -80, -60, 5, 10, 0, -60};

/* An input: conductance jumps (nS) at time t (ms, a grid point). */
typedef struct {
  double t, dge, dgi;
} jump;

/* y = (V, g_ex, g_in) as one autonomous system; refractory: dV/dt = 0. */
static void ref_f(const cparams *p, const double *y, int refr, double *f) {
  f[0] = refr ? 0.0
              : (-p->g_L * (y[0] - p->E_L) - y[1] * (y[0] - p->E_ex) -
                 y[2] * (y[0] - p->E_in) + p->I_e) / p->C_m;
  f[1] = -y[1] / p->tau_ex;
  f[2] = -y[2] / p->tau_in;
}

/* V at grid points 1..nsteps into v[1..] (v[0] = V0), spike times into ts. */
static size_t reference(const cparams *p, double dt, int nsteps, const jump *jp,
                        size_t nj, double *v, double *ts, size_t cap) {
  const int M = 1000;
  const double h = dt / M;
  const int R = (int)lround(p->t_ref / dt);
  double y[3] = {p->V0, 0, 0};
  int r = 0;
  size_t ns = 0;
  v[0] = p->V0;
  for (int s = 0; s < nsteps; s++) {
    int refr = r > 0;
    for (int m = 0; m < M; m++) {
      double k1[3], k2[3], k3[3], k4[3], t[3];
      ref_f(p, y, refr, k1);
      for (int c = 0; c < 3; c++) t[c] = y[c] + 0.5 * h * k1[c];
      ref_f(p, t, refr, k2);
      for (int c = 0; c < 3; c++) t[c] = y[c] + 0.5 * h * k2[c];
      ref_f(p, t, refr, k3);
      for (int c = 0; c < 3; c++) t[c] = y[c] + h * k3[c];
      ref_f(p, t, refr, k4);
      for (int c = 0; c < 3; c++)
        y[c] += h / 6 * (k1[c] + 2 * k2[c] + 2 * k3[c] + k4[c]);
    }
    double tend = (s + 1) * dt;
    if (refr) {
      r--;
      y[0] = p->V_reset;
    } else if (y[0] >= p->V_th) {
      if (ns < cap) ts[ns] = tend;
      ns++;
      y[0] = p->V_reset;
      r = R;
    }
    for (size_t k = 0; k < nj; k++)
      if (fabs(jp[k].t - tend) < 1e-9) y[1] += jp[k].dge, y[2] += jp[k].dgi;
    v[s + 1] = y[0];
  }
  return ns;
}

static int params_json(char *b, size_t cap, const cparams *p, const char *extra) {
  return snprintf(b, cap,
                  "{\"V_th\": %.17g, \"V_reset\": %.17g, \"t_ref\": %.17g, \"g_L\": %.17g,"
                  " \"C_m\": %.17g, \"E_ex\": %.17g, \"E_in\": %.17g, \"E_L\": %.17g,"
                  " \"tau_syn_ex\": %.17g, \"tau_syn_in\": %.17g, \"I_e\": %.17g,"
                  " \"V_m\": %.17g%s}",
                  p->V_th, p->V_reset, p->t_ref, p->g_L, p->C_m, p->E_ex, p->E_in,
                  p->E_L, p->tau_ex, p->tau_in, p->I_e, p->V0, extra);
}

/* Targets of the reference test. Sources: S0 (gid 0) spikes once at 0.1 ms,
 * S1 (gid 1) fires regularly (~every 6.7 ms). */
typedef struct {
  cparams p;
  const char *extra; /* extra params, e.g. n_substeps */
  int src;           /* 0 or 1 */
  double w_ex, d_ex; /* nS, ms; 0 = no projection */
  double w_in, d_in; /* nS (negative), ms */
  double tol;        /* max |V - V_ref| (mV); < 0: must EXCEED -tol */
  int min_spikes;
} target;

static void test_reference(void **state) {
  (void)state;
  const double dt = 0.1, T = 50.0;
  const int nsteps = 500;
  target tg[] = {
      /* one excitatory / one inhibitory spike onto a neuron at rest */
      {nest_defaults, "", 0, 50.0, 1.0, 0, 0, 1e-6, 0},
      {nest_defaults, "", 0, 0, 0, -50.0, 1.0, 1e-6, 0},
      /* large conductances with the stiff tau_syn_ex = 0.2 ms */
      {nest_defaults, "", 0, 100.0, 1.5, 0, 0, 1e-6, 0},
      /* I_e above rheobase (250 pA) plus trains of both inputs */
      {nest_defaults, "", 1, 40.0, 1.0, -5.0, 2.3, 1e-6, 3},
      /* COBA parameters, I_e above rheobase (100 pA), benchmark weights */
      {coba, "", 1, 6.0, 1.0, -3.0, 1.7, 1e-6, 2},
      /* COBA parameters, high-conductance state (g_in up to ~250 nS,
       * C_m / g ~ 0.8 ms): 1 substep is not enough (3.5e-6 mV), auto = 2 */
      {coba, "", 1, 50.0, 1.0, -100.0, 1.7, 1e-6, 0},
      /* sensitivity: one RK4 step per dt must miss the tolerance */
      {nest_defaults, ", \"n_substeps\": 1", 0, 100.0, 1.5, 0, 0, -1e-6, 0},
  };
  const size_t nt = sizeof tg / sizeof *tg;
  assert_true(nt <= 16);
  tg[3].p.I_e = 350;
  tg[4].p.I_e = 200;

  char json[16384];
  int o = snprintf(json, sizeof json,
                   "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 50.0},"
                   " \"populations\": ["
                   "  {\"name\": \"S0\", \"model\": \"iaf_psc_delta\", \"size\": 1, \"params\":"
                   "   {\"E_L\": 0, \"V_th\": 15, \"V_reset\": 0, \"V_m\": 16, \"t_ref\": 1e6}},"
                   "  {\"name\": \"S1\", \"model\": \"iaf_psc_delta\", \"size\": 1, \"params\":"
                   "   {\"tau_m\": 10, \"C_m\": 250, \"E_L\": 0, \"V_th\": 15, \"V_reset\": 0,"
                   "    \"V_m\": 0, \"t_ref\": 2, \"I_e\": 1000}}");
  for (size_t k = 0; k < nt; k++) {
    char pj[1024];
    params_json(pj, sizeof pj, &tg[k].p, tg[k].extra);
    o += snprintf(json + o, sizeof json - o,
                  ", {\"name\": \"T%zu\", \"model\": \"iaf_cond_exp\", \"size\": 1,"
                  " \"params\": %s}", k, pj);
  }
  o += snprintf(json + o, sizeof json - o, "], \"projections\": [");
  const char *sep = "";
  for (size_t k = 0; k < nt; k++) {
    if (tg[k].w_ex != 0)
      o += snprintf(json + o, sizeof json - o,
                    "%s{\"source\": \"S%d\", \"target\": \"T%zu\", \"rule\": \"one_to_one\","
                    " \"weight\": %.17g, \"delay\": %.17g}",
                    sep, tg[k].src, k, tg[k].w_ex, tg[k].d_ex), sep = ", ";
    if (tg[k].w_in != 0)
      o += snprintf(json + o, sizeof json - o,
                    "%s{\"source\": \"S%d\", \"target\": \"T%zu\", \"rule\": \"one_to_one\","
                    " \"weight\": %.17g, \"delay\": %.17g}",
                    sep, tg[k].src, k, tg[k].w_in, tg[k].d_in), sep = ", ";
  }
  snprintf(json + o, sizeof json - o, "]}");

  static double v[16][501];
  const char *strategies[] = {"round_robin", "block"};
  for (int st = 0; st < 2; st++) {
    sim m;
    sim_build(&m, json, strategies[st]);
    spikes loc = {0}, all = {0};
    assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, collect, &loc), 0);
    for (size_t k = 0; k < nt; k++) v[k][0] = global_v(m.eng, 2 + k);
    /* one step at a time, so V is read at every grid point */
    for (int s = 1; s <= nsteps; s++) {
      assert_int_equal(ntw_engine_run(m.eng, s), 0);
      for (size_t k = 0; k < nt; k++) v[k][s] = global_v(m.eng, 2 + k);
    }
    gather(&loc, &all);
    double src_t[2][64];
    size_t src_n[2];
    for (int q = 0; q < 2; q++) src_n[q] = spikes_of(&all, (uint64_t)q, src_t[q], 64);
    assert_int_equal(src_n[0], 1);
    assert_true(fabs(src_t[0][0] - 0.1) < 1e-12);
    assert_true(src_n[1] >= 6);

    for (size_t k = 0; k < nt; k++) {
      /* inputs: source spike time + delay, on the grid */
      jump jp[128];
      size_t nj = 0;
      for (size_t i = 0; i < src_n[tg[k].src]; i++) {
        double ts = src_t[tg[k].src][i];
        if (tg[k].w_ex != 0) jp[nj++] = (jump){ts + tg[k].d_ex, tg[k].w_ex, 0};
        if (tg[k].w_in != 0) jp[nj++] = (jump){ts + tg[k].d_in, 0, -tg[k].w_in};
      }
      static double vr[501];
      double rt[64], mt[64];
      size_t rn = reference(&tg[k].p, dt, nsteps, jp, nj, vr, rt, 64);
      size_t mn = spikes_of(&all, 2 + k, mt, 64);
      double err = 0;
      int at = 0;
      for (int s = 0; s <= nsteps; s++)
        if (fabs(v[k][s] - vr[s]) > err) err = fabs(v[k][s] - vr[s]), at = s;
      printf("  T%zu (%s): max |V - V_ref| = %.3e mV at t = %.1f ms; spikes %zu "
             "(reference %zu)\n",
             k, strategies[st], err, at * dt, mn, rn);
      if (tg[k].tol > 0) {
        assert_true(err < tg[k].tol);
        assert_int_equal(mn, rn);
        assert_true(rn >= (size_t)tg[k].min_spikes);
        for (size_t i = 0; i < rn && i < 64; i++) assert_true(fabs(mt[i] - rt[i]) < 1e-9);
      } else {
        assert_true(err > -tg[k].tol);
      }
      /* the single-input cases must actually have moved V */
      if (k < 3) {
        double dev = 0;
        for (int s = 0; s <= nsteps; s++)
          if (fabs(vr[s] - tg[k].p.E_L) > dev) dev = fabs(vr[s] - tg[k].p.E_L);
        assert_true(dev > 0.5);
      }
    }
    (void)T;
    sim_free(&m);
  }
}

/* No input: exact relaxation to E_L; subthreshold I_e: to E_L + I_e/g_L. */
static void test_relaxation(void **state) {
  (void)state;
  const char *json =
      "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 200.0},"
      " \"populations\": ["
      "  {\"name\": \"A\", \"model\": \"iaf_cond_exp\", \"size\": 1, \"params\": {\"V_m\": -56}},"
      "  {\"name\": \"B\", \"model\": \"iaf_cond_exp\", \"size\": 1, \"params\":"
      "   {\"V_m\": -90, \"E_L\": -65, \"g_L\": 25, \"C_m\": 300, \"I_e\": 200}},"
      "  {\"name\": \"C\", \"model\": \"iaf_cond_exp\", \"size\": 3, \"params\":"
      "   {\"V_m\": {\"distribution\": \"uniform\", \"low\": -80, \"high\": -56}}}]}";
  const double dt = 0.1;
  sim m;
  sim_build(&m, json, "round_robin");
  double vc0[3];
  for (int j = 0; j < 3; j++) {
    vc0[j] = global_v(m.eng, 2 + (uint64_t)j);
    assert_true(vc0[j] >= -80 && vc0[j] < -56);
  }
  assert_true(vc0[0] != vc0[1]);
  double err = 0;
  for (int s = 1; s <= 2000; s++) {
    assert_int_equal(ntw_engine_run(m.eng, s), 0);
    double t = s * dt;
    double ea = -70 + (-56 + 70) * exp(-t * 16.6667 / 250);
    double vinf = -65 + 200 / 25.0;
    double eb = vinf + (-90 - vinf) * exp(-t * 25 / 300.0);
    double d = fabs(global_v(m.eng, 0) - ea);
    if (d > err) err = d;
    d = fabs(global_v(m.eng, 1) - eb);
    if (d > err) err = d;
    for (int j = 0; j < 3; j++) {
      d = fabs(global_v(m.eng, 2 + (uint64_t)j) - (-70 + (vc0[j] + 70) * exp(-t * 16.6667 / 250)));
      if (d > err) err = d;
    }
  }
  printf("  relaxation: max |V - V_exact| = %.3e mV over 200 ms\n", err);
  assert_true(err < 1e-9);
  /* B has relaxed to E_L + I_e/g_L (distance 33 exp(-200/12) < 2e-6) */
  assert_true(fabs(global_v(m.eng, 1) - (-65 + 8.0)) < 2e-6);
  sim_free(&m);
}

/* DC: closed-form first spike and period, through I_e and a DC stimulus. */
static void test_dc_spike_times(void **state) {
  (void)state;
  const char *json =
      "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 200.0},"
      " \"populations\": ["
      "  {\"name\": \"A\", \"model\": \"iaf_cond_exp\", \"size\": 1, \"params\": {\"I_e\": 400}},"
      "  {\"name\": \"B\", \"model\": \"iaf_cond_exp\", \"size\": 1, \"params\": {}},"
      "  {\"name\": \"C\", \"model\": \"iaf_cond_exp\", \"size\": 1, \"params\":"
      "   {\"V_m\": -58, \"E_L\": -60, \"V_th\": -50, \"V_reset\": -60, \"t_ref\": 5,"
      "    \"C_m\": 200, \"g_L\": 10, \"I_e\": 180}}],"
      " \"stimuli\": [{\"type\": \"dc\", \"target\": \"B\", \"amplitude\": 400}]}";
  struct {
    double C, gL, EL, V0, Vth, Vr, tref, I;
  } c[3] = {{250, 16.6667, -70, -70, -55, -60, 2, 400},
            {250, 16.6667, -70, -70, -55, -60, 2, 400},
            {200, 10, -60, -58, -50, -60, 5, 180}};
  const double dt = 0.1, t_stop = 200.0;
  const char *strategies[] = {"round_robin", "block"};
  for (int st = 0; st < 2; st++) {
    sim m;
    sim_build(&m, json, strategies[st]);
    spikes loc = {0}, all = {0};
    assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, collect, &loc), 0);
    assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, t_stop)), 0);
    gather(&loc, &all);
    for (uint64_t g = 0; g < 3; g++) {
      double tau = c[g].C / c[g].gL, vinf = c[g].EL + c[g].I / c[g].gL;
      double T0 = tau * log((vinf - c[g].V0) / (vinf - c[g].Vth));
      double Tr = tau * log((vinf - c[g].Vr) / (vinf - c[g].Vth));
      /* the closed form must not sit on a grid point */
      assert_true(fabs(T0 / dt - round(T0 / dt)) > 1e-4);
      assert_true(fabs(Tr / dt - round(Tr / dt)) > 1e-4);
      double expect = ceil(T0 / dt) * dt;
      double isi = round(c[g].tref / dt) * dt + ceil(Tr / dt) * dt;
      double t[MAXSP];
      size_t n = spikes_of(&all, g, t, MAXSP), n_exp = 0;
      for (double x = expect; x <= t_stop + 1e-9; x += isi) n_exp++;
      printf("  DC %c: first spike %.1f ms (closed form %.4f), period %.1f ms, %zu spikes\n",
             'A' + (int)g, n ? t[0] : -1.0, T0, isi, n);
      assert_int_equal(n, n_exp);
      assert_true(n >= 5);
      for (size_t i = 0; i < n; i++, expect += isi)
        assert_true(fabs(t[i] - expect) < 1e-9 * (1 + expect));
    }
    sim_free(&m);
  }
}

static void expect_error(const char *params, const char *field) {
  ntw_test_expect_param_error("iaf_cond_exp", params, field);
}

static void test_bad_params(void **state) {
  (void)state;
  expect_error("\"g_L\": 0", "g_L");
  expect_error("\"g_L\": -5", "g_L");
  expect_error("\"tau_syn_in\": 0", "tau_syn_in");
  expect_error("\"tau_syn_in\": -2", "tau_syn_in");
  expect_error("\"tau_syn_ex\": 0", "tau_syn_ex");
  expect_error("\"C_m\": 0", "C_m");
  expect_error("\"t_ref\": -1", "t_ref");
  expect_error("\"V_reset\": -50", "V_reset");
  expect_error("\"n_substeps\": 2.5", "n_substeps");
  expect_error("\"n_substeps\": -1", "n_substeps");
  expect_error("\"g_in\": -1", "g_in");
  expect_error("\"tau_m\": 10", "tau_m");
  expect_error("\"g_L\": {\"distribution\": \"uniform\", \"low\": 5, \"high\": 10}", "g_L");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_relaxation),
    cmocka_unit_test(test_reference),
    cmocka_unit_test(test_dc_spike_times),
    cmocka_unit_test(test_bad_params),
};

NTW_TEST_MAIN(tests)

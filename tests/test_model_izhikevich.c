/* test_model_izhikevich.c - the izhikevich model against independent
 * references. Runs on any number of ranks (meson: 1 and 2); every test makes
 * the same assertions whatever the rank count and gathers all spikes.
 *  - firing classes of Izhikevich (2003) Fig. 2 (RS, IB, CH, FS, LTS), one
 *    neuron each from rest (v = -70, u = b v) under a DC step switched on at
 *    10 ms for 300 ms: spike times EXACTLY equal to a separate few-line loop
 *    of the same scheme (same arithmetic), at dt = 0.1 and 1.0 with both
 *    schemes; then the pattern that defines each class, as numbers;
 *  - accuracy: the same neurons at dt = 0.1 and 0.01 against an RK4
 *    solution at h = 0.001 ms: first spikes within first-order error bounds
 *    that shrink ~10x with dt;
 *  - input: a spike of weight w raises v by exactly w in its arrival step
 *    (forward Euler), and whole voltage traces equal the reference loop fed
 *    with the same inputs (both schemes, positive and negative weights);
 *  - heterogeneity: per-neuron a, b, c, d, V_m, I_e drawn from
 *    distributions, every neuron's spike train equal to the reference loop
 *    run with that neuron's values (drawn through ntw_model_fill_param);
 *    a small random recurrent network gives identical spikes on 1 rank
 *    (MPI_COMM_SELF) and on all ranks with both partitions;
 *  - bad input: c >= V_th and a non-0/1 consistent_integration are refused
 *    with the field named. */
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
#include "model.h"
#include "partition/partition.h"

#include "testlib.h"

/* Shared helpers (testlib.h) under this file's historical names. */
typedef ntw_test_spikes spikes;
typedef ntw_test_sim sim;
#define collect ntw_test_collect
#define sim_free ntw_test_sim_free
#define sim_build ntw_test_sim_build
/* Preallocated: non-root ranks receive broadcasts into it. */
static spikes sp_new(void) {
  spikes s = {0};
  ntw_test_spikes_reserve(&s, 65536);
  return s;
}
#define sp_free ntw_test_spikes_free

/* Run to t_stop collecting spikes, gathered on every rank of mc, sorted by
 * (gid, time). */
static void sim_run_gather(sim *m, MPI_Comm mc, double t_stop, spikes *all) {
  spikes loc = sp_new();
  assert_int_equal(ntw_engine_add_hook(m->eng, NTW_HOOK_AFTER_WINDOW, collect, &loc), 0);
  assert_int_equal(ntw_engine_run(m->eng, ntw_engine_steps(m->eng, t_stop)), 0);
  ntw_test_gather(&loc, all, mc);
  sp_free(&loc);
}

/* Spike times of one gid from a sorted gathered set. */
static size_t train(const spikes *all, uint64_t gid, double *t, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < all->n; i++)
    if (all->gid[i] == gid && k < cap) t[k++] = all->t[i];
  return k;
}

/* ---- the independent reference: the published equations, written again ---- */

typedef struct {
  double a, b, c, d, V_th, V_min, I_e;
  int consistent;
  double v, u;
} ref_neuron;

/* One step of width h with external current I and summed input weight w;
 * returns 1 on a spike (emitted at the end of the step). */
static int ref_step(ref_neuron *n, double h, double I, double w) {
  const double v = n->v, u = n->u;
  double vn, un;
  if (n->consistent) { /* forward Euler, old values on the right */
    vn = v + h * (0.04 * v * v + 5.0 * v + 140.0 - u + I + n->I_e) + w;
    un = u + h * n->a * (n->b * v - u);
  } else { /* the paper: v in two half-steps, then u from the new v */
    vn = v;
    vn += 0.5 * h * (0.04 * vn * vn + 5.0 * vn + 140.0 - u + (I + n->I_e + w));
    vn += 0.5 * h * (0.04 * vn * vn + 5.0 * vn + 140.0 - u + (I + n->I_e + w));
    un = u + h * n->a * (n->b * vn - u);
  }
  if (vn < n->V_min) vn = n->V_min;
  int spike = vn >= n->V_th;
  if (spike) vn = n->c, un += n->d;
  n->v = vn, n->u = un;
  return spike;
}

/* Spike times of a neuron under a DC step of amplitude amp on the steps
 * [llround(t_on/h), llround(t_off/h)), run for llround(t_stop/h) steps. */
static size_t ref_dc_train(ref_neuron n, double h, double amp, double t_on,
                           double t_off, double t_stop, double *t, size_t cap) {
  const int64_t s_on = llround(t_on / h), s_off = llround(t_off / h),
                ns = llround(t_stop / h);
  size_t k = 0;
  for (int64_t s = 0; s < ns; s++)
    if (ref_step(&n, h, s >= s_on && s < s_off ? amp : 0.0, 0.0) && k < cap)
      t[k++] = (double)(s + 1) * h;
  return k;
}

/* RK4 of the same ODE at step h (a high-accuracy reference, not the
 * model's scheme); threshold checked after each step. */
static size_t rk4_dc_train(ref_neuron n, double h, double amp, double t_on,
                           double t_off, double t_stop, double *t, size_t cap) {
#define FV(v, u, I) (0.04 * (v) * (v) + 5.0 * (v) + 140.0 - (u) + (I))
#define FU(v, u) (n.a * (n.b * (v) - (u)))
  const int64_t s_on = llround(t_on / h), s_off = llround(t_off / h),
                ns = llround(t_stop / h);
  size_t k = 0;
  double v = n.v, u = n.u;
  for (int64_t s = 0; s < ns; s++) {
    double I = s >= s_on && s < s_off ? amp : 0.0;
    double k1v = FV(v, u, I), k1u = FU(v, u);
    double k2v = FV(v + 0.5 * h * k1v, u + 0.5 * h * k1u, I),
           k2u = FU(v + 0.5 * h * k1v, u + 0.5 * h * k1u);
    double k3v = FV(v + 0.5 * h * k2v, u + 0.5 * h * k2u, I),
           k3u = FU(v + 0.5 * h * k2v, u + 0.5 * h * k2u);
    double k4v = FV(v + h * k3v, u + h * k3u, I), k4u = FU(v + h * k3v, u + h * k3u);
    v += h / 6 * (k1v + 2 * k2v + 2 * k3v + k4v);
    u += h / 6 * (k1u + 2 * k2u + 2 * k3u + k4u);
    if (v >= n.V_th) {
      v = n.c, u += n.d;
      if (k < cap) t[k++] = (double)(s + 1) * h;
    }
  }
  return k;
#undef FV
#undef FU
}

/* ---- firing classes of Izhikevich (2003), Fig. 2 ---- */

enum { RS, IB, CH, FS, LTS, NCLASS };
static const char *const cls_name[NCLASS] = {"RS", "IB", "CH", "FS", "LTS"};
static const double cls_abcd[NCLASS][4] = {
    {0.02, 0.2, -65, 8}, {0.02, 0.2, -55, 4}, {0.02, 0.2, -50, 2},
    {0.1, 0.2, -65, 2},  {0.02, 0.25, -65, 2}};
/* DC amplitudes: 10 as in the paper, except FS at 6, where its defining
 * "high rate without adaptation" shows: at 10 the first ISI from rest is
 * 4.2 ms and the steady one 7.7 ms (ratio 1.8, also with RK4). */
static const double cls_amp[NCLASS] = {10, 10, 10, 6, 10};
#define T_ON 10.0
#define T_OFF 310.0
#define T_STOP 320.0

static ref_neuron cls_neuron(int k, int consistent) {
  return (ref_neuron){cls_abcd[k][0], cls_abcd[k][1], cls_abcd[k][2],
                      cls_abcd[k][3], 30.0, -INFINITY, 0.0, consistent,
                      -70.0, cls_abcd[k][1] * -70.0};
}

/* Five one-neuron populations (gid = class), each with its DC step. */
static void cls_json(char *buf, size_t cap, double dt, int consistent) {
  int o = snprintf(buf, cap, "{\"simulation\": {\"dt\": %g, \"t_stop\": %g},"
                   " \"populations\": [", dt, T_STOP);
  for (int k = 0; k < NCLASS; k++)
    o += snprintf(buf + o, cap - o,
                  "%s{\"name\": \"%s\", \"model\": \"izhikevich\", \"size\": 1,"
                  " \"params\": {\"a\": %g, \"b\": %g, \"c\": %g, \"d\": %g,"
                  " \"V_m\": -70, \"consistent_integration\": %d}}",
                  k ? ", " : "", cls_name[k], cls_abcd[k][0], cls_abcd[k][1],
                  cls_abcd[k][2], cls_abcd[k][3], consistent);
  o += snprintf(buf + o, cap - o, "], \"stimuli\": [");
  for (int k = 0; k < NCLASS; k++)
    o += snprintf(buf + o, cap - o,
                  "%s{\"type\": \"dc\", \"target\": \"%s\", \"amplitude\": %g,"
                  " \"start\": %g, \"stop\": %g}",
                  k ? ", " : "", cls_name[k], cls_amp[k], T_ON, T_OFF);
  snprintf(buf + o, cap - o, "]}");
}

static void print_train(const char *tag, const double *t, size_t n) {
  printf("    %-4s %2zu spikes, first at %.1f ms, ISIs:", tag, n, n ? t[0] : NAN);
  for (size_t i = 1; i < n; i++) printf(" %.1f", t[i] - t[i - 1]);
  printf("\n");
}

/* The pattern that defines each class, as numbers (ISIs in ms, rate over
 * the 300 ms of current). Returns 1 if the train shows it. */
static int shows_class(int k, const double *t, size_t n) {
  if (n < 4) return 0;
  double isi[256];
  size_t m = n - 1 < 256 ? n - 1 : 256;
  for (size_t i = 0; i < m; i++) isi[i] = t[i + 1] - t[i];
  double first = isi[0], last = isi[m - 1], mn = INFINITY;
  for (size_t i = 0; i < m; i++) mn = isi[i] < mn ? isi[i] : mn;
  switch (k) {
  case RS: /* adapting tonic spikes, no bursts */
    return last / first > 1.5 && mn > 10.0;
  case IB: { /* an initial burst (>= 2 spikes, ISI < 10), then tonic > 20 */
    size_t j = 0;
    while (j < m && isi[j] < 10.0) j++;
    if (j < 1 || m - j < 3) return 0;
    for (size_t i = j; i < m; i++)
      if (isi[i] <= 20.0) return 0;
    return 1;
  }
  case CH: { /* >= 3 bursts of >= 2 spikes (ISI < 10) separated by > 20 */
    int bursts = 0;
    size_t len = 1;
    for (size_t i = 0; i <= m; i++) {
      if (i < m && isi[i] >= 10.0 && isi[i] <= 20.0) return 0;
      if (i < m && isi[i] < 10.0) {
        len++;
      } else {
        bursts += len >= 2;
        len = 1;
      }
    }
    return bursts >= 3;
  }
  case FS: /* > 50 Hz, little adaptation */
    return (double)n / ((T_OFF - T_ON) * 1e-3) > 50.0 && last / first < 1.5;
  case LTS: /* high initial rate (first ISI < 10 ms), then adaptation */
    return first < 10.0 && last / first > 2.0;
  }
  return 0;
}

static void test_firing_classes(void **state) {
  (void)state;
  /* dt, scheme (1 = forward Euler, 0 = the paper's), check the pattern?
   * The paper's scheme at 1 ms is exact-compared only: it is that coarse
   * (RS ISIs 39 then 49 ms, FS at 43 Hz) - a property of the scheme, which
   * the reference loop reproduces bit for bit. */
  const struct { double dt; int cons, pattern; } runs[] = {
      {0.1, 1, 1}, {0.1, 0, 1}, {1.0, 1, 1}, {1.0, 0, 0}};
  const char *strategies[] = {"round_robin", "block"};
  char json[8192];
  for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
    cls_json(json, sizeof json, runs[r].dt, runs[r].cons);
    for (int s = 0; s < 2; s++) {
      sim m;
      sim_build(&m, json, MPI_COMM_WORLD, strategies[s]);
      spikes all = sp_new();
      sim_run_gather(&m, MPI_COMM_WORLD, T_STOP, &all);
      if (s == 0)
        printf("  dt = %g ms, %s:\n", runs[r].dt,
               runs[r].cons ? "forward Euler" : "paper scheme");
      for (int k = 0; k < NCLASS; k++) {
        double te[512], tr[512];
        size_t ne = train(&all, (uint64_t)k, te, 512);
        size_t nr = ref_dc_train(cls_neuron(k, runs[r].cons), runs[r].dt,
                                 cls_amp[k], T_ON, T_OFF, T_STOP, tr, 512);
        if (s == 0) print_train(cls_name[k], te, ne);
        assert_int_equal(ne, nr);
        for (size_t i = 0; i < ne; i++) assert_true(te[i] == tr[i]);
        if (runs[r].pattern && !shows_class(k, te, ne)) {
          printf("    %s: pattern not shown\n", cls_name[k]);
          fail();
        }
      }
      sp_free(&all);
      sim_free(&m);
    }
  }
}

/* First-order convergence to RK4: the engine (forward Euler) at dt = 0.1
 * and 0.01 against RK4 at 0.001 ms, first 3 spikes of every class. */
static void test_accuracy_rk4(void **state) {
  (void)state;
  const double dts[2] = {0.1, 0.01};
  const double tol[2] = {2.5, 0.25}; /* ms; seen: <= 2.05 and <= 0.18 */
  double err0[2][NCLASS];
  char json[8192];
  for (int j = 0; j < 2; j++) {
    cls_json(json, sizeof json, dts[j], 1);
    sim m;
    sim_build(&m, json, MPI_COMM_WORLD, "round_robin");
    spikes all = sp_new();
    sim_run_gather(&m, MPI_COMM_WORLD, T_STOP, &all);
    for (int k = 0; k < NCLASS; k++) {
      double te[512], tr[512];
      size_t ne = train(&all, (uint64_t)k, te, 512);
      size_t nr = rk4_dc_train(cls_neuron(k, 1), 0.001, cls_amp[k], T_ON,
                               T_OFF, T_STOP, tr, 512);
      assert_true(ne >= 3 && nr >= 3);
      double e = 0;
      for (int i = 0; i < 3; i++) e = fmax(e, fabs(te[i] - tr[i]));
      err0[j][k] = fabs(te[0] - tr[0]);
      printf("  %-4s dt = %-4g: %3zu spikes (RK4 %3zu), first 3 within %.3f ms"
             " (first %.3f)\n", cls_name[k], dts[j], ne, nr, e, err0[j][k]);
      assert_true(e < tol[j]);
      if (j == 1) /* spike counts converge too */
        assert_true(labs((long)ne - (long)nr) <= 1);
    }
    sp_free(&all);
    sim_free(&m);
  }
  for (int k = 0; k < NCLASS; k++) /* first order: 10x smaller dt, ~10x error */
    assert_true(err0[0][k] > 5.0 * err0[1][k]);
}

/* ---- synaptic input ---- */

/* v of gid from whichever rank owns it (collective). */
static double v_of(const ntw_engine *e, uint64_t gid) {
  double x = ntw_engine_get_v(e, gid), y;
  if (isnan(x)) x = -INFINITY;
  MPI_Allreduce(&x, &y, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return y;
}

/* Source S (gid 0, I_e = 10) drives, with delay 1.3 ms: T (+4.5 mV), N
 * (-2.5 mV) with forward Euler, P (+4.5) with the paper's scheme; R is T
 * without input. All targets start at rest (-70, u = b v). */
static void test_input_jump(void **state) {
  (void)state;
  const char *json =
      "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 40.0},"
      " \"populations\": ["
      "  {\"name\": \"S\", \"model\": \"izhikevich\", \"size\": 1, \"params\": {\"I_e\": 10}},"
      "  {\"name\": \"T\", \"model\": \"izhikevich\", \"size\": 1, \"params\": {\"V_m\": -70}},"
      "  {\"name\": \"N\", \"model\": \"izhikevich\", \"size\": 1, \"params\": {\"V_m\": -70}},"
      "  {\"name\": \"P\", \"model\": \"izhikevich\", \"size\": 1, \"params\": {\"V_m\": -70,"
      "   \"consistent_integration\": 0}},"
      "  {\"name\": \"R\", \"model\": \"izhikevich\", \"size\": 1, \"params\": {\"V_m\": -70}}],"
      " \"projections\": ["
      "  {\"source\": \"S\", \"target\": \"T\", \"rule\": \"all_to_all\", \"weight\": 4.5, \"delay\": 1.3},"
      "  {\"source\": \"S\", \"target\": \"N\", \"rule\": \"all_to_all\", \"weight\": -2.5, \"delay\": 1.3},"
      "  {\"source\": \"S\", \"target\": \"P\", \"rule\": \"all_to_all\", \"weight\": 4.5, \"delay\": 1.3}]}";
  const double h = 0.1, w[4] = {4.5, -2.5, 4.5, 0.0};
  const int64_t d = 13, nsteps = 400;
  /* reference: the source's spike steps, then each target fed with them */
  ref_neuron src = {0.02, 0.2, -65, 8, 30, -INFINITY, 10.0, 1, -65, -13};
  char in[400] = {0}; /* in[s]: an input arrives in step s */
  int64_t first_arrival = -1;
  for (int64_t s = 0; s < nsteps; s++)
    if (ref_step(&src, h, 0.0, 0.0) && s + d < nsteps) {
      in[s + d] = 1;
      if (first_arrival < 0) first_arrival = s + d;
    }
  assert_true(first_arrival > 0);
  ref_neuron tgt[4];
  for (int j = 0; j < 4; j++)
    tgt[j] = (ref_neuron){0.02, 0.2, -65, 8, 30, -INFINITY, 0.0, j != 2, -70, -14};
  const char *strategies[] = {"round_robin", "block"};
  for (int st = 0; st < 2; st++) {
    sim m;
    sim_build(&m, json, MPI_COMM_WORLD, strategies[st]);
    ref_neuron r[4];
    memcpy(r, tgt, sizeof r);
    int narr = 0;
    for (int64_t s = 0; s < nsteps; s++) {
      assert_int_equal(ntw_engine_run(m.eng, s + 1), 0);
      double v[4];
      for (int j = 0; j < 4; j++) {
        v[j] = v_of(m.eng, (uint64_t)j + 1);
        ref_step(&r[j], h, 0.0, in[s] ? w[j] : 0.0);
        if (v[j] != r[j].v) {
          printf("  gid %d step %lld: v = %.17g, reference %.17g\n", j + 1,
                 (long long)s, v[j], r[j].v);
          fail();
        }
      }
      narr += in[s];
      if (s < first_arrival) {
        assert_true(v[0] == v[3] && v[1] == v[3]); /* same scheme and state */
      } else if (s == first_arrival) {
        printf("  arrival at %.1f ms: T - R = %.15f (w = 4.5), N - R = %.15f"
               " (w = -2.5), P - R = %.15f (paper scheme)\n", (double)(s + 1) * h,
               v[0] - v[3], v[1] - v[3], v[2] - v[3]);
        assert_true(fabs(v[0] - v[3] - 4.5) < 1e-12);
        assert_true(fabs(v[1] - v[3] + 2.5) < 1e-12);
      }
    }
    assert_true(narr >= 2);
    sim_free(&m);
  }
}

/* ---- per-neuron heterogeneity ---- */

/* Per-neuron value of parameter `name` as the model draws it: the helper
 * keys draws by (seed, spec index, gid), so this mirrors the model's spec
 * order (a mismatch makes the comparison below fail, never pass). */
static const char *const izh_spec_order[] = {
    "a", "b", "c", "d", "V_th", "V_min", "I_e", "V_m", "U_m",
    "consistent_integration"};

static void drawn(const ntw_config *cfg, int p, const char *name, double def,
                  double *out) {
  const ntw_pop_cfg *pop = &cfg->pops[p];
  ntw_param_spec specs[10];
  size_t k = 0;
  for (size_t i = 0; i < 10; i++) {
    specs[i] = (ntw_param_spec){izh_spec_order[i], def, -1e12, 1e12, false, true, ""};
    if (strcmp(izh_spec_order[i], name) == 0) k = i;
  }
  uint64_t *g = malloc(pop->size * sizeof *g);
  for (uint64_t i = 0; i < pop->size; i++) g[i] = pop->first_gid + i;
  ntw_model_init mi = {.pop = pop, .pop_index = p, .cfg_path = cfg->path,
                       .dt = cfg->sim.dt, .seed = cfg->sim.seed,
                       .n = pop->size, .gids = g};
  ntw_model_fill_param(&mi, specs, k, out);
  free(g);
}

static void test_heterogeneous_exact(void **state) {
  (void)state;
  const char *json =
      "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 200.0, \"seed\": 4242},"
      " \"populations\": ["
      "  {\"name\": \"H\", \"model\": \"izhikevich\", \"size\": 24, \"params\": {"
      "   \"a\": {\"distribution\": \"uniform\", \"low\": 0.02, \"high\": 0.1},"
      "   \"b\": {\"distribution\": \"uniform\", \"low\": 0.2, \"high\": 0.25},"
      "   \"c\": {\"distribution\": \"uniform\", \"low\": -65, \"high\": -50},"
      "   \"d\": {\"distribution\": \"uniform\", \"low\": 2, \"high\": 8},"
      "   \"V_m\": {\"distribution\": \"uniform\", \"low\": -70, \"high\": -60},"
      "   \"I_e\": {\"distribution\": \"normal\", \"mean\": 8, \"std\": 2, \"min\": 3, \"max\": 14}}},"
      "  {\"name\": \"U\", \"model\": \"izhikevich\", \"size\": 8, \"params\": {"
      "   \"consistent_integration\": 0, \"d\": 2, \"I_e\": 7,"
      "   \"V_m\": {\"distribution\": \"normal\", \"mean\": -65, \"std\": 3,"
      "    \"min\": -75, \"max\": -55},"
      "   \"U_m\": {\"distribution\": \"uniform\", \"low\": -16, \"high\": -10}}}]}";
  const char *strategies[] = {"round_robin", "block"};
  for (int st = 0; st < 2; st++) {
    sim m;
    sim_build(&m, json, MPI_COMM_WORLD, strategies[st]);
    spikes all = sp_new();
    sim_run_gather(&m, MPI_COMM_WORLD, 200.0, &all);
    size_t total = 0, nmin = SIZE_MAX, nmax = 0;
    double cmin = INFINITY, cmax = -INFINITY;
    for (int p = 0; p < 2; p++) {
      const ntw_pop_cfg *pop = &m.cfg->pops[p];
      double a[24], b[24], c[24], d[24], vm[24], ie[24], um[24];
      drawn(m.cfg, p, "a", 0.02, a), drawn(m.cfg, p, "b", 0.2, b);
      drawn(m.cfg, p, "c", -65, c), drawn(m.cfg, p, "d", 8, d);
      drawn(m.cfg, p, "V_m", -65, vm), drawn(m.cfg, p, "I_e", 0, ie);
      drawn(m.cfg, p, "U_m", NAN, um);
      for (uint64_t i = 0; i < pop->size; i++) {
        ref_neuron n = {a[i], b[i], c[i], d[i], 30, -INFINITY, ie[i], p == 0,
                        vm[i], p == 1 ? um[i] : b[i] * vm[i]};
        double te[512], tr[512];
        size_t ne = train(&all, pop->first_gid + i, te, 512);
        size_t nr = ref_dc_train(n, 0.1, 0, 0, 0, 200.0, tr, 512);
        assert_int_equal(ne, nr);
        for (size_t j = 0; j < ne; j++) assert_true(te[j] == tr[j]);
        total += ne;
        nmin = ne < nmin ? ne : nmin, nmax = ne > nmax ? ne : nmax;
        if (p == 0) cmin = fmin(cmin, c[i]), cmax = fmax(cmax, c[i]);
      }
    }
    if (st == 0)
      printf("  32 heterogeneous neurons: %zu spikes, %zu..%zu per neuron, c in"
             " [%.1f, %.1f], all equal to the reference\n", total, nmin, nmax,
             cmin, cmax);
    /* the draws really vary, and so do the trains */
    assert_true(cmax - cmin > 5.0);
    assert_true(nmax > nmin + 2);
    sp_free(&all);
    sim_free(&m);
  }
}

/* A random recurrent network (heterogeneous a..d, V_m, I_e, Poisson drive):
 * the spikes on all ranks, both partitions, equal those of one rank. */
static void test_network_ranks(void **state) {
  (void)state;
  const char *json =
      "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 300.0, \"seed\": 99},"
      " \"populations\": ["
      "  {\"name\": \"E\", \"model\": \"izhikevich\", \"size\": 80, \"params\": {"
      "   \"c\": {\"distribution\": \"uniform\", \"low\": -65, \"high\": -50},"
      "   \"d\": {\"distribution\": \"uniform\", \"low\": 2, \"high\": 8},"
      "   \"V_m\": {\"distribution\": \"uniform\", \"low\": -70, \"high\": -60},"
      "   \"I_e\": {\"distribution\": \"normal\", \"mean\": 2, \"std\": 2,"
      "    \"min\": -4, \"max\": 8}}},"
      "  {\"name\": \"I\", \"model\": \"izhikevich\", \"size\": 20, \"params\": {"
      "   \"a\": {\"distribution\": \"uniform\", \"low\": 0.02, \"high\": 0.1},"
      "   \"b\": {\"distribution\": \"uniform\", \"low\": 0.2, \"high\": 0.25},"
      "   \"d\": 2}}],"
      " \"projections\": ["
      "  {\"source\": \"E\", \"target\": \"E\", \"rule\": \"fixed_indegree\", \"indegree\": 10,"
      "   \"weight\": {\"distribution\": \"uniform\", \"low\": 0, \"high\": 3},"
      "   \"delay\": {\"distribution\": \"uniform\", \"low\": 1, \"high\": 5}},"
      "  {\"source\": \"E\", \"target\": \"I\", \"rule\": \"fixed_indegree\", \"indegree\": 10,"
      "   \"weight\": 2, \"delay\": 1},"
      "  {\"source\": \"I\", \"target\": \"E\", \"rule\": \"fixed_probability\", \"p\": 0.3,"
      "   \"weight\": -4, \"delay\": 1},"
      "  {\"source\": \"I\", \"target\": \"I\", \"rule\": \"all_to_all\", \"weight\": -2,"
      "   \"delay\": 1, \"allow_autapses\": false}],"
      " \"stimuli\": [{\"type\": \"poisson\", \"target\": \"E\", \"rate\": 2000, \"weight\": 1.5},"
      "  {\"type\": \"poisson\", \"target\": \"I\", \"rate\": 1000, \"weight\": 1.5}]}";
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  spikes ser = sp_new();
  if (rank == 0) {
    sim m;
    sim_build(&m, json, MPI_COMM_SELF, "round_robin");
    sim_run_gather(&m, MPI_COMM_SELF, 300.0, &ser);
    sim_free(&m);
  }
  unsigned long long n = ser.n;
  MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  ser.n = (size_t)n;
  MPI_Bcast(ser.gid, (int)n, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  MPI_Bcast(ser.t, (int)n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  size_t ne = 0;
  for (size_t i = 0; i < ser.n; i++) ne += ser.gid[i] < 80;
  printf("  network: %zu spikes on 1 rank (E %.1f Hz, I %.1f Hz)\n", ser.n,
         (double)ne / 80 / 0.3, (double)(ser.n - ne) / 20 / 0.3);
  assert_true(ne > 200 && ser.n - ne > 50); /* both populations active */
  const char *strategies[] = {"round_robin", "block"};
  for (int st = 0; st < 2; st++) {
    sim m;
    sim_build(&m, json, MPI_COMM_WORLD, strategies[st]);
    spikes all = sp_new();
    sim_run_gather(&m, MPI_COMM_WORLD, 300.0, &all);
    assert_int_equal(all.n, ser.n);
    for (size_t i = 0; i < all.n; i++) {
      assert_true(all.gid[i] == ser.gid[i]);
      assert_true(all.t[i] == ser.t[i]);
    }
    sp_free(&all);
    sim_free(&m);
  }
  sp_free(&ser);
}

/* ---- bad input ---- */

static void expect_refused(const char *params, const char *field) {
  char json[1024];
  snprintf(json, sizeof json,
           "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 1.0},"
           " \"populations\": [{\"name\": \"X\", \"model\": \"izhikevich\","
           " \"size\": 4, \"params\": {%s}}]}", params);
  ntw_config *cfg = NULL;
  ntw_part *part = NULL;
  ntw_comm *comm = NULL;
  ntw_engine *eng = NULL;
  int P;
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  assert_int_equal(ntw_config_parse(json, strlen(json), "test.json", &cfg), 0);
  assert_int_equal(ntw_part_create("round_robin", cfg->n_neurons, P, &part), 0);
  assert_int_equal(ntw_comm_create("mpi", MPI_COMM_WORLD, &comm), 0);
  int err = ntw_engine_create(cfg, comm, part, &eng);
  printf("  {%s}: %s\n", params, err ? ntw_error_msg() : "accepted");
  assert_int_not_equal(err, 0);
  assert_non_null(strstr(ntw_error_msg(), field));
  ntw_engine_destroy(&eng);
  ntw_comm_destroy(&comm);
  ntw_part_destroy(&part);
  ntw_config_destroy(&cfg);
}

static void test_bad_input(void **state) {
  (void)state;
  expect_refused("\"c\": 35", "test.json: populations[0].params.c:");
  expect_refused("\"c\": 30", "populations[0].params.c:");
  expect_refused("\"V_th\": -70", "populations[0].params.c:");
  expect_refused("\"c\": {\"distribution\": \"uniform\", \"low\": -65, \"high\": 31}",
                 "populations[0].params.c:");
  expect_refused("\"consistent_integration\": 0.5",
                 "populations[0].params.consistent_integration:");
  expect_refused("\"a\": -0.1", "populations[0].params.a:");
  expect_refused("\"V_th\": {\"distribution\": \"uniform\", \"low\": 20, \"high\": 30}",
                 "populations[0].params.V_th:");
  expect_refused("\"tau_m\": 10", "populations[0].params.tau_m:");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_firing_classes),
    cmocka_unit_test(test_accuracy_rk4),
    cmocka_unit_test(test_input_jump),
    cmocka_unit_test(test_heterogeneous_exact),
    cmocka_unit_test(test_network_ranks),
    cmocka_unit_test(test_bad_input),
};

NTW_TEST_MAIN(tests)

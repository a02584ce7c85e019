#include "testlib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntw_error.h"
#include "partnet.h"

const char *ntw_test_comm(void) {
  const char *c = getenv("NTW_TEST_COMM");
  return c && *c ? c : "mpi";
}

int ntw_test_sim_try(ntw_test_sim *s, const char *json, MPI_Comm mc,
                     const char *strategy) {
  memset(s, 0, sizeof *s);
  int P;
  MPI_Comm_size(mc, &P);
  int err = ntw_config_parse(json, strlen(json), "test.json", &s->cfg);
  /* NTW_TEST_OVERLAP=1 runs the same tests with overlap on: they must pass
   * unchanged, since results are bit-identical. */
  const char *ov = getenv("NTW_TEST_OVERLAP");
  if (!err && ov && strcmp(ov, "1") == 0) s->cfg->sim.overlap = true;
  /* NTW_TEST_COUPLING=1 reserves rank 0 (no neurons) on 2 ranks or more:
   * the same tests must pass unchanged on the remaining ranks. */
  const char *cr = getenv("NTW_TEST_COUPLING");
  if (!err && cr && strcmp(cr, "1") == 0 && P >= 2) s->cfg->sim.coupling_rank = NTW_COUPLING_ON;
  if (!err)
    err = ntw_part_create_config(strategy, s->cfg, P, ntw_config_coupling_rank(s->cfg, P),
                                 &s->part);
  if (!err) err = ntw_comm_create(ntw_test_comm(), mc, &s->comm);
  if (!err) err = ntw_engine_create(s->cfg, s->comm, s->part, &s->eng);
  return err;
}

void ntw_test_sim_build(ntw_test_sim *s, const char *json, MPI_Comm mc,
                        const char *strategy) {
  int err = ntw_test_sim_try(s, json, mc, strategy);
  if (err) fprintf(stderr, "%s\n", ntw_error_msg());
  assert_int_equal(err, 0);
}

void ntw_test_sim_free(ntw_test_sim *s) {
  ntw_engine_destroy(&s->eng);
  ntw_comm_destroy(&s->comm);
  ntw_part_destroy(&s->part);
  ntw_config_destroy(&s->cfg);
}

void ntw_test_spikes_reserve(ntw_test_spikes *s, size_t need) {
  if (need <= s->cap) return;
  size_t cap = s->cap ? s->cap : 1024;
  while (cap < need) cap *= 2;
  s->gid = realloc(s->gid, cap * sizeof *s->gid);
  s->t = realloc(s->t, cap * sizeof *s->t);
  assert_non_null(s->gid);
  assert_non_null(s->t);
  s->cap = cap;
}

int ntw_test_collect(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  (void)lo, (void)hi;
  ntw_test_spikes *s = ctx;
  const uint64_t *g;
  const int64_t *st;
  size_t n;
  ntw_engine_window_spikes(e, &g, &st, &n);
  const double dt = ntw_engine_config(e)->sim.dt;
  ntw_test_spikes_reserve(s, s->n + n);
  for (size_t k = 0; k < n; k++) {
    s->gid[s->n] = g[k];
    s->t[s->n++] = (double)st[k] * dt;
  }
  return 0;
}

typedef struct {
  uint64_t gid;
  double t;
} pair;

static int cmp_pair(const void *a, const void *b) {
  const pair *x = a, *y = b;
  if (x->gid != y->gid) return x->gid < y->gid ? -1 : 1;
  return (x->t > y->t) - (x->t < y->t);
}

void ntw_test_gather(const ntw_test_spikes *loc, ntw_test_spikes *all, MPI_Comm mc) {
  int P;
  MPI_Comm_size(mc, &P);
  int n = (int)loc->n, *cnt = malloc(P * sizeof *cnt), *dis = malloc(P * sizeof *dis);
  MPI_Allgather(&n, 1, MPI_INT, cnt, 1, MPI_INT, mc);
  int tot = 0;
  for (int r = 0; r < P; r++) dis[r] = tot, tot += cnt[r];
  all->n = 0;
  ntw_test_spikes_reserve(all, (size_t)tot + 1);
  MPI_Allgatherv(loc->gid, n, MPI_UINT64_T, all->gid, cnt, dis, MPI_UINT64_T, mc);
  MPI_Allgatherv(loc->t, n, MPI_DOUBLE, all->t, cnt, dis, MPI_DOUBLE, mc);
  all->n = (size_t)tot;
  pair *p = malloc(((size_t)tot + 1) * sizeof *p);
  assert_non_null(p);
  for (int i = 0; i < tot; i++) p[i] = (pair){all->gid[i], all->t[i]};
  qsort(p, (size_t)tot, sizeof *p, cmp_pair);
  for (int i = 0; i < tot; i++) all->gid[i] = p[i].gid, all->t[i] = p[i].t;
  free(p), free(cnt), free(dis);
}

void ntw_test_spikes_free(ntw_test_spikes *s) {
  free(s->gid), free(s->t);
  memset(s, 0, sizeof *s);
}

int ntw_test_main(int argc, char **argv, const struct CMUnitTest *tests, size_t n) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0 && !freopen("/dev/null", "w", stdout)) return 1;
  /* The backend under test must exist here (collective: every rank gets
   * the same answer); if not, skip visibly rather than fail. */
  ntw_comm *probe;
  if (ntw_comm_create(ntw_test_comm(), MPI_COMM_WORLD, &probe) == NTW_ERR_NOTSUP) {
    if (rank == 0) fprintf(stderr, "SKIP: %s\n", ntw_error_msg());
    MPI_Finalize();
    return 77;
  }
  ntw_comm_destroy(&probe);
  if (rank == 0) printf("comm backend: %s\n", ntw_test_comm());
  int failed = _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
  int any;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any ? 1 : 0;
}

/* With y_inf = I tau / C, the first crossing of theta from y0 is at
 * tau ln((y_inf - y0) / (y_inf - theta)). */
static double crossing(double y0, double yinf, double theta, double tau) {
  return tau * log((yinf - y0) / (yinf - theta));
}

void ntw_test_check_lif_train(const ntw_test_spikes *all, uint64_t gid, double t_first_start,
                              double I, double tau, double C, double theta,
                              double vreset, double v0, double tref, double dt,
                              double t_stop) {
  double yinf = I * tau / C;
  double T0 = crossing(v0, yinf, theta, tau), Tr = crossing(vreset, yinf, theta, tau);
  /* Guard: the closed form must not sit on a grid point (rounding). */
  assert_true(fabs(T0 / dt - round(T0 / dt)) > 1e-6);
  assert_true(fabs(Tr / dt - round(Tr / dt)) > 1e-6);
  double expect = t_first_start + ceil(T0 / dt) * dt;
  double isi = round(tref / dt) * dt + ceil(Tr / dt) * dt;
  size_t k = 0;
  for (size_t i = 0; i < all->n; i++) {
    if (all->gid[i] != gid) continue;
    assert_true(fabs(all->t[i] - expect) < 1e-9 * (1 + expect));
    expect += isi;
    k++;
  }
  size_t n_expected = 0;
  for (double t = t_first_start + ceil(T0 / dt) * dt; t <= t_stop + 1e-9; t += isi) n_expected++;
  print_message("  gid %llu: %zu spikes, first at %.1f ms, ISI %.1f ms\n",
                (unsigned long long)gid, k, t_first_start + ceil(T0 / dt) * dt, isi);
  assert_int_equal(k, n_expected);
  assert_true(k >= 3);
}


void ntw_test_expect_param_error(const char *model, const char *params,
                                 const char *field) {
  char json[2048];
  snprintf(json, sizeof json,
           "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 1.0},"
           " \"populations\": [{\"name\": \"E\", \"model\": \"%s\", \"size\": 3,"
           " \"params\": {%s}}]}",
           model, params);
  ntw_test_sim m;
  int err = ntw_test_sim_try(&m, json, MPI_COMM_WORLD, "round_robin");
  const char *msg = ntw_error_msg();
  print_message("  {%s} -> %s\n", params, err ? msg : "(accepted)");
  assert_int_not_equal(err, 0);
  assert_null(m.eng);
  char want[256];
  snprintf(want, sizeof want, "test.json: populations[0].params.%s:", field);
  assert_non_null(strstr(msg, want));
  assert_null(strchr(msg, '\n'));
  ntw_test_sim_free(&m);
}

enum { PSP_NSTEP = 400 }; /* steps run (40 ms at dt = 0.1) */

typedef struct {
  int n;
  double *v; /* [n][PSP_NSTEP + 1]: V at step k*dt; -inf where not local */
  int bad_window;
} psp_trace;

static void psp_read_v(ntw_engine *e, int64_t k, psp_trace *tr) {
  for (int j = 0; j < tr->n; j++) {
    double v = ntw_engine_get_v(e, 1 + (uint64_t)j);
    if (!isnan(v) && k <= PSP_NSTEP) tr->v[(size_t)j * (PSP_NSTEP + 1) + k] = v;
  }
}

static int psp_probe(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  psp_trace *tr = ctx;
  if (hi - lo != 1) tr->bad_window = 1;
  psp_read_v(e, hi, tr);
  return 0;
}

void ntw_test_check_psp(const char *model, const ntw_test_psp_target *tg, int n,
                        ntw_test_psp_fn psp, double *peak) {
  char json[8192];
  int o = snprintf(json, sizeof json,
                   "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 40.0},"
                   " \"populations\": [{\"name\": \"pre\", \"model\": \"%s\","
                   " \"size\": 1, \"params\": {\"E_L\": 0, \"V_th\": 15, \"V_reset\": 0}}",
                   model);
  for (int j = 0; j < n; j++)
    o += snprintf(json + o, sizeof json - o,
                  ", {\"name\": \"T%d\", \"model\": \"%s\", \"size\": 1,"
                  " \"params\": {\"V_th\": 1000, %s}}",
                  j, model, tg[j].params);
  o += snprintf(json + o, sizeof json - o, "], \"projections\": [");
  for (int j = 0; j < n; j++)
    o += snprintf(json + o, sizeof json - o,
                  "%s{\"source\": \"pre\", \"target\": \"T%d\", \"rule\": \"one_to_one\","
                  " \"weight\": %.17g, \"delay\": %g}",
                  j ? ", " : "", j, tg[j].w, tg[j].delay);
  snprintf(json + o, sizeof json - o,
           "], \"stimuli\": [{\"type\": \"dc\", \"target\": \"pre\", \"amplitude\": 1e5,"
           " \"start\": 1.0, \"stop\": 1.1}]}");
  const char *strategies[] = {"round_robin", "block"};
  const size_t nv = (size_t)n * (PSP_NSTEP + 1);
  for (int s = 0; s < 2; s++) {
    ntw_test_sim m;
    ntw_test_sim_build(&m, json, MPI_COMM_WORLD, strategies[s]);
    ntw_engine_stats st;
    ntw_engine_get_stats(m.eng, &st);
    assert_int_equal(st.window_steps, 1);
    psp_trace tr = {n, malloc(nv * sizeof(double)), 0};
    assert_non_null(tr.v);
    for (size_t i = 0; i < nv; i++) tr.v[i] = -INFINITY;
    psp_read_v(m.eng, 0, &tr);
    ntw_test_spikes loc = {0}, all = {0};
    assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, psp_probe, &tr), 0);
    assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, ntw_test_collect, &loc), 0);
    assert_int_equal(ntw_engine_run(m.eng, PSP_NSTEP), 0);
    ntw_test_gather(&loc, &all, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, tr.v, (int)nv, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &tr.bad_window, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    assert_int_equal(tr.bad_window, 0);
    /* exactly one spike in the whole network: pre's, at 1.1 ms */
    assert_int_equal(all.n, 1);
    assert_int_equal(all.gid[0], 0);
    assert_true(fabs(all.t[0] - 1.1) < 1e-12);
    for (int j = 0; j < n; j++) {
      const double dt = 0.1, t_arr = all.t[0] + tg[j].delay;
      const int64_t k_arr = llround(t_arr / dt);
      double err = 0, pk = 0;
      for (int64_t k = 0; k <= PSP_NSTEP; k++) {
        double v = tr.v[(size_t)j * (PSP_NSTEP + 1) + k];
        assert_true(isfinite(v));
        double expect = tg[j].E_L;
        if (k > k_arr)
          expect += psp((double)(k - k_arr) * dt, tg[j].w, tg[j].tau_s, tg[j].tau_m,
                        tg[j].C);
        err = fmax(err, fabs(v - expect));
        if (fabs(v - tg[j].E_L) > fabs(pk)) pk = v - tg[j].E_L;
      }
      print_message("  %s %s T%d: |V - V_analytic| max %.3g mV over %d steps"
                    " (PSP peak %.7f mV)\n",
                    model, strategies[s], j, err, PSP_NSTEP + 1, pk);
      assert_true(err < 1e-9);
      peak[s * n + j] = pk;
    }
    free(tr.v);
    ntw_test_spikes_free(&loc);
    ntw_test_spikes_free(&all);
    ntw_test_sim_free(&m);
  }
}

void ntw_test_check_dc_exact(const char *model) {
  /* A: I_e = 500 pA from t = 0 (V_m defaults to E_L = -65). B: the same
   * current from a DC stimulus switched on at 7.3 ms. C: tau_m = 20,
   * 370 pA, V_m = 5 above E_L, reset 10 above, t_ref = 2.5. Synaptic time
   * constants are irrelevant without input (set to odd values). */
  char json[2048];
  snprintf(json, sizeof json,
      "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 100.0},"
      " \"populations\": ["
      "  {\"name\": \"A\", \"model\": \"%s\", \"size\": 1, \"params\":"
      "   {\"tau_m\": 10, \"C_m\": 250, \"E_L\": -65, \"V_th\": -50, \"V_reset\": -65,"
      "    \"t_ref\": 2, \"I_e\": 500, \"tau_syn_ex\": 0.5, \"tau_syn_in\": 3}},"
      "  {\"name\": \"B\", \"model\": \"%s\", \"size\": 1, \"params\":"
      "   {\"tau_m\": 10, \"C_m\": 250, \"E_L\": -65, \"V_th\": -50, \"V_reset\": -65,"
      "    \"V_m\": -65, \"t_ref\": 2}},"
      "  {\"name\": \"C\", \"model\": \"%s\", \"size\": 1, \"params\":"
      "   {\"tau_m\": 20, \"C_m\": 250, \"E_L\": 0, \"V_th\": 20, \"V_reset\": 10,"
      "    \"V_m\": 5, \"t_ref\": 2.5, \"I_e\": 370, \"tau_syn_ex\": 20}}],"
      " \"stimuli\": [{\"type\": \"dc\", \"target\": \"B\", \"amplitude\": 500, \"start\": 7.3}]}",
           model, model, model);
  const char *strategies[] = {"round_robin", "block"};
  for (int s = 0; s < 2; s++) {
    ntw_test_sim m;
    ntw_test_sim_build(&m, json, MPI_COMM_WORLD, strategies[s]);
    ntw_test_spikes loc = {0}, all = {0};
    assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, ntw_test_collect, &loc), 0);
    assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, 100.0)), 0);
    ntw_test_gather(&loc, &all, MPI_COMM_WORLD);
    ntw_test_check_lif_train(&all, 0, 0.0, 500, 10, 250, 15, 0, 0, 2, 0.1, 100.0);
    ntw_test_check_lif_train(&all, 1, 7.3, 500, 10, 250, 15, 0, 0, 2, 0.1, 100.0);
    ntw_test_check_lif_train(&all, 2, 0.0, 370, 20, 250, 20, 10, 5, 2.5, 0.1, 100.0);
    ntw_test_spikes_free(&loc);
    ntw_test_spikes_free(&all);
    ntw_test_sim_free(&m);
  }
}

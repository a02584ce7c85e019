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


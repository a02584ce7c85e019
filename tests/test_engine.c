/* test_engine.c - the engine against analytic results and its invariants.
 * Runs on any number of ranks (meson runs it on 1-4); each test makes the
 * same assertions whatever the rank count.
 *  - exact LIF: spike times under DC input equal the closed-form crossing
 *    times rounded up to the grid (iaf_psc_delta integrates exactly);
 *  - delivery: a spike of A with delay d makes B (weight >= threshold) spike
 *    exactly d later, for delays equal to, above and not multiples of the
 *    window, on every partition;
 *  - construction: the synapses built on P ranks are exactly those built on
 *    one rank (rank 0 rebuilds the whole network on MPI_COMM_SELF), for
 *    every rule including fixed_total_number, whose total is exactly N and
 *    whose in-degree vector does not depend on the rank count;
 *  - no delay shorter than the window is ever stored;
 *  - overlap: exact delivery times with epochs of ceil(D/2) steps for small
 *    D, and the blocking fallback for D = 1.
 * NTW_TEST_OVERLAP=1 (meson's engine_overlap_*) runs all of it with overlap
 * on: every assertion must hold unchanged. */
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
#define sim_build ntw_test_sim_build
#define gather(l, a) ntw_test_gather((l), (a), MPI_COMM_WORLD)

static void test_lif_exact(void **state) {
  (void)state;
  /* Neuron 0: I_e = 500 pA from t = 0. Neuron 1 (pop B): same current from
   * a DC stimulus switched on at 7.3 ms, dt = 0.1. Pop C: dt sensitivity is
   * covered by a second current (370 pA). */
  const char *json =
      "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 100.0},"
      " \"populations\": ["
      "  {\"name\": \"A\", \"model\": \"iaf_psc_delta\", \"size\": 1, \"params\":"
      "   {\"tau_m\": 10, \"C_m\": 250, \"E_L\": 0, \"V_th\": 15, \"V_reset\": 0,"
      "    \"V_m\": 0, \"t_ref\": 2, \"I_e\": 500}},"
      "  {\"name\": \"B\", \"model\": \"iaf_psc_delta\", \"size\": 1, \"params\":"
      "   {\"tau_m\": 10, \"C_m\": 250, \"E_L\": -65, \"V_th\": -50, \"V_reset\": -65,"
      "    \"V_m\": -65, \"t_ref\": 2}},"
      "  {\"name\": \"C\", \"model\": \"iaf_psc_delta\", \"size\": 1, \"params\":"
      "   {\"tau_m\": 20, \"C_m\": 250, \"E_L\": 0, \"V_th\": 20, \"V_reset\": 10,"
      "    \"V_m\": 5, \"t_ref\": 2.5, \"I_e\": 370}}],"
      " \"stimuli\": [{\"type\": \"dc\", \"target\": \"B\", \"amplitude\": 500, \"start\": 7.3}]}";
  const char *strategies[] = {"round_robin", "block", "graph"};
  for (int s = 0; s < 3; s++) {
    sim m;
    sim_build(&m, json, MPI_COMM_WORLD, strategies[s]);
    spikes loc = {0}, all = {0};
    assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, collect, &loc), 0);
    assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, 100.0)), 0);
    gather(&loc, &all);
    ntw_test_check_lif_train(&all, 0, 0.0, 500, 10, 250, 15, 0, 0, 2, 0.1, 100.0);
    ntw_test_check_lif_train(&all, 1, 7.3, 500, 10, 250, 15, 0, 0, 2, 0.1, 100.0);
    ntw_test_check_lif_train(&all, 2, 0.0, 370, 20, 250, 20, 10, 5, 2.5, 0.1, 100.0);
    sim_free(&m);
  }
}

/* A -> B one_to_one with weight 30 mV (>= threshold): B spikes exactly in
 * the step the input arrives, so t_B = t_A + delay. Several projections with
 * different delays into separate B populations. */
static void test_delivery_time(void **state) {
  (void)state;
  const double delays[] = {1.0, 1.3, 2.0, 2.7, 4.1};
  char json[8192];
  int o = snprintf(json, sizeof json,
                   "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 60.0},"
                   " \"populations\": [{\"name\": \"A\", \"model\": \"iaf_psc_delta\","
                   " \"size\": 3, \"params\": {\"E_L\": 0, \"V_th\": 15, \"V_reset\": 0,"
                   " \"V_m\": 0, \"tau_m\": 10, \"I_e\": 500}}");
  for (int k = 0; k < 5; k++)
    o += snprintf(json + o, sizeof json - o,
                  ", {\"name\": \"B%d\", \"model\": \"iaf_psc_delta\", \"size\": 3,"
                  " \"params\": {\"E_L\": 0, \"V_th\": 15, \"V_reset\": 0, \"V_m\": 0, \"t_ref\": 0.1}}",
                  k);
  o += snprintf(json + o, sizeof json - o, "], \"projections\": [");
  for (int k = 0; k < 5; k++)
    o += snprintf(json + o, sizeof json - o,
                  "%s{\"source\": \"A\", \"target\": \"B%d\", \"rule\": \"one_to_one\","
                  " \"weight\": 30, \"delay\": %g}",
                  k ? ", " : "", k, delays[k]);
  snprintf(json + o, sizeof json - o, "]}");
  const char *strategies[] = {"round_robin", "block", "graph"};
  for (int s = 0; s < 3; s++) {
    sim m;
    sim_build(&m, json, MPI_COMM_WORLD, strategies[s]);
    ntw_engine_stats st;
    ntw_engine_get_stats(m.eng, &st);
    assert_int_equal(st.window_steps, 10); /* min delay 1.0 ms */
    spikes loc = {0}, all = {0};
    assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, collect, &loc), 0);
    assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, 60.0)), 0);
    gather(&loc, &all);
    /* A's spike train (same for its 3 neurons). */
    double ta[64];
    size_t na = 0;
    for (size_t i = 0; i < all.n; i++)
      if (all.gid[i] == 0) ta[na++] = all.t[i];
    assert_true(na >= 3);
    for (int k = 0; k < 5; k++)
      for (uint64_t j = 0; j < 3; j++) {
        uint64_t g = 3 + 3 * (uint64_t)k + j;
        size_t nb = 0;
        for (size_t i = 0; i < all.n; i++) {
          if (all.gid[i] != g) continue;
          assert_true(nb < na);
          assert_true(fabs(all.t[i] - (ta[nb] + delays[k])) < 1e-9);
          nb++;
        }
        /* every A spike whose arrival is within the run reached B */
        size_t expect = 0;
        for (size_t i = 0; i < na; i++)
          if (ta[i] + delays[k] <= 60.0 + 1e-9) expect++;
        assert_int_equal(nb, expect);
      }
    sim_free(&m);
  }
}

/* Spikes forced at run time (a BEFORE_WINDOW hook, as the twin does) reach
 * the targets after exactly the delay, whatever rank owns the source; a
 * spike in a step already executed is refused; map_weights changes what the
 * next spikes deliver. Source S (spike_source, 4 neurons) -> T one_to_one,
 * 2.0 ms, weight 20 mV (T's threshold 15 mV: one input spike = one spike). */
typedef struct {
  int calls;
  int refused;
} force_ctx;

static int force_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  force_ctx *f = ctx;
  (void)hi;
  f->calls++;
  if (lo == 40) { /* window [4.0, 6.0) ms: S0 at 5.3 ms, S2 at 5.7 ms */
    const uint64_t g[] = {0, 2};
    const int64_t st[] = {53, 57};
    assert_int_equal(ntw_engine_force_spikes(e, g, st, 2), 0);
  }
  if (lo == 100) { /* a step already executed is refused, nothing queued */
    const uint64_t g[] = {1, 3};
    const int64_t st[] = {150, 80};
    f->refused = ntw_engine_force_spikes(e, g, st, 2) != 0;
    /* queue S3 for a later window (12.0 ms) */
    const uint64_t g2[] = {3};
    const int64_t st2[] = {120};
    assert_int_equal(ntw_engine_force_spikes(e, g2, st2, 1), 0);
  }
  return 0;
}

static void halve(uint64_t src, uint64_t tgt, float *w, void *ctx) {
  (void)src, (void)tgt;
  ++*(int *)ctx;
  *w *= 0.5f;
}

static void test_force_and_map(void **state) {
  (void)state;
  const char *json =
      "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 30.0},"
      " \"populations\": [{\"name\": \"S\", \"model\": \"spike_source\", \"size\": 4},"
      " {\"name\": \"T\", \"model\": \"iaf_psc_delta\", \"size\": 4,"
      "  \"params\": {\"E_L\": 0, \"V_th\": 15, \"V_reset\": 0, \"V_m\": 0, \"t_ref\": 2}}],"
      " \"projections\": [{\"source\": \"S\", \"target\": \"T\", \"rule\": \"one_to_one\","
      "  \"weight\": 20, \"delay\": 2.0}],"
      " \"record\": {\"weights\": [{\"projection\": 0, \"interval\": 100}]}}";
  const char *strategies[] = {"round_robin", "block"};
  for (int s = 0; s < 2; s++) {
    sim m;
    sim_build(&m, json, MPI_COMM_WORLD, strategies[s]);
    force_ctx fc = {0};
    spikes loc = {0}, all = {0};
    assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_BEFORE_WINDOW, force_hook, &fc), 0);
    assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, collect, &loc), 0);
    assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, 11.0)), 0);
    assert_true(fc.refused);
    /* halve every weight: S3's spike at 12 ms then gives 10 mV, no spike */
    int nmap = 0;
    assert_int_equal(ntw_engine_map_weights(m.eng, 0, halve, &nmap), 0);
    int nsum = 0;
    MPI_Allreduce(&nmap, &nsum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    assert_int_equal(nsum, 4);
    assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, 30.0)), 0);
    gather(&loc, &all);
    /* S0 5.3, S2 5.7, S3 12.0; T0 at 7.3, T2 at 7.7, T3 none */
    const uint64_t eg[] = {0, 2, 3, 4, 6};
    const double et[] = {5.3, 5.7, 12.0, 7.3, 7.7};
    assert_int_equal(all.n, 5);
    for (size_t i = 0; i < all.n; i++) {
      assert_int_equal(all.gid[i], eg[i]);
      assert_true(fabs(all.t[i] - et[i]) < 1e-9);
    }
    sim_free(&m);
  }
}

/* Overlap (simulation.overlap): min delays of 1, 2, 3 and 15 steps. With
 * D = 1 the engine falls back to blocking exchanges (stats say so); else
 * epochs of ceil(D/2) steps, and a spike still reaches its target exactly
 * `delay` later on every partition (a late delivery would be lost or
 * shifted), also for delays of D and D + 1 where the spike is needed the
 * very step the next-but-one epoch starts. */
static void test_overlap_epochs(void **state) {
  (void)state;
  const int Ds[] = {1, 2, 3, 15};
  for (int k = 0; k < 4; k++) {
    const int D = Ds[k];
    char json[2048];
    snprintf(json, sizeof json,
             "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 30.0, \"overlap\": true},"
             " \"populations\": [{\"name\": \"A\", \"model\": \"iaf_psc_delta\","
             " \"size\": 5, \"params\": {\"E_L\": 0, \"V_th\": 15, \"V_reset\": 0,"
             " \"V_m\": 0, \"tau_m\": 10, \"t_ref\": 0.3, \"I_e\": %d}},"
             " {\"name\": \"B\", \"model\": \"iaf_psc_delta\", \"size\": 5,"
             " \"params\": {\"E_L\": 0, \"V_th\": 15, \"V_reset\": 0, \"V_m\": 0,"
             " \"t_ref\": 0.1}},"
             " {\"name\": \"C\", \"model\": \"iaf_psc_delta\", \"size\": 5,"
             " \"params\": {\"E_L\": 0, \"V_th\": 15, \"V_reset\": 0, \"V_m\": 0,"
             " \"t_ref\": 0.1}}],"
             " \"projections\": ["
             " {\"source\": \"A\", \"target\": \"B\", \"rule\": \"one_to_one\","
             "  \"weight\": 30, \"delay\": %g},"
             " {\"source\": \"A\", \"target\": \"C\", \"rule\": \"one_to_one\","
             "  \"weight\": 30, \"delay\": %g}]}",
             2000 + 700 * k, D * 0.1, (D + 1) * 0.1);
    const char *strategies[] = {"round_robin", "block"};
    for (int s = 0; s < 2; s++) {
      sim m;
      sim_build(&m, json, MPI_COMM_WORLD, strategies[s]);
      spikes loc = {0}, all = {0};
      assert_int_equal(ntw_engine_add_hook(m.eng, NTW_HOOK_AFTER_WINDOW, collect, &loc), 0);
      assert_int_equal(ntw_engine_run(m.eng, ntw_engine_steps(m.eng, 30.0)), 0);
      ntw_engine_stats st;
      ntw_engine_get_stats(m.eng, &st);
      assert_int_equal(st.window_steps, D);
      assert_int_equal(st.overlap_requested, 1);
      assert_int_equal(st.overlap, D >= 2);
      assert_int_equal(st.epoch_steps, D >= 2 ? (D + 1) / 2 : 1);
      assert_true(D >= 2 ? st.epochs == 2 * st.windows : st.epochs == 0);
      gather(&loc, &all);
      for (uint64_t j = 0; j < 5; j++) {
        double ta[512];
        size_t na = 0;
        for (size_t i = 0; i < all.n; i++)
          if (all.gid[i] == j) ta[na++] = all.t[i];
        assert_true(na >= 10);
        for (int c = 0; c < 2; c++) {
          const double delay = (D + c) * 0.1;
          size_t nb = 0;
          for (size_t i = 0; i < all.n; i++) {
            if (all.gid[i] != 5 + 5 * (uint64_t)c + j) continue;
            assert_true(nb < na);
            assert_true(fabs(all.t[i] - (ta[nb] + delay)) < 1e-9);
            nb++;
          }
          size_t expect = 0;
          for (size_t i = 0; i < na; i++)
            if (ta[i] + delay <= 30.0 + 1e-9) expect++;
          assert_int_equal(nb, expect);
        }
      }
      ntw_test_spikes_free(&loc);
      ntw_test_spikes_free(&all);
      sim_free(&m);
    }
  }
}

/* Order-independent digest of a synapse set. */
typedef struct {
  uint64_t n, sum, xsum;
  int dmin;
} digest;

static uint64_t mix(uint64_t x) {
  x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
  return x;
}

static void digest_syn(uint64_t src, uint64_t tgt, float w, int d, void *ctx) {
  digest *g = ctx;
  uint32_t wb;
  memcpy(&wb, &w, 4);
  uint64_t h = mix(mix(mix(src) ^ tgt) ^ ((uint64_t)wb << 16 | (uint64_t)d));
  g->n++;
  g->sum += h;
  g->xsum ^= mix(h);
  if (d < g->dmin) g->dmin = d;
}

static void test_build_matches_serial(void **state) {
  (void)state;
  /* Every rule, distributions of weight and delay, autapse/multapse
   * variants. */
  const char *json =
      "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 1.0, \"seed\": 777},"
      " \"populations\": ["
      "  {\"name\": \"E\", \"model\": \"iaf_psc_delta\", \"size\": 301},"
      "  {\"name\": \"I\", \"model\": \"iaf_psc_delta\", \"size\": 77}],"
      " \"projections\": ["
      "  {\"source\": \"E\", \"target\": \"E\", \"rule\": \"fixed_indegree\", \"indegree\": 40,"
      "   \"weight\": {\"distribution\": \"normal\", \"mean\": 0.1, \"std\": 0.02},"
      "   \"delay\": {\"distribution\": \"uniform\", \"low\": 0.5, \"high\": 3.0},"
      "   \"allow_autapses\": false, \"allow_multapses\": false},"
      "  {\"source\": \"I\", \"target\": \"E\", \"rule\": \"fixed_indegree\", \"indegree\": 90,"
      "   \"weight\": -0.5, \"delay\": 0.8},"
      "  {\"source\": \"E\", \"target\": \"I\", \"rule\": \"fixed_probability\", \"p\": 0.1,"
      "   \"weight\": {\"distribution\": \"lognormal\", \"mu\": -2, \"sigma\": 0.5, \"max\": 1},"
      "   \"delay\": {\"distribution\": \"normal\", \"mean\": 1.5, \"std\": 0.5, \"min\": 0.5, \"max\": 4}},"
      "  {\"source\": \"I\", \"target\": \"I\", \"rule\": \"all_to_all\", \"weight\": -0.2,"
      "   \"delay\": 1.0, \"allow_autapses\": false},"
      "  {\"source\": \"E\", \"target\": \"I\", \"rule\": \"fixed_total_number\", \"N\": 5000,"
      "   \"weight\": {\"distribution\": \"normal\", \"mean\": 0.2, \"std\": 0.02, \"min\": 0},"
      "   \"delay\": {\"distribution\": \"normal\", \"mean\": 1.5, \"std\": 0.75, \"min\": 0.5, \"max\": 9}},"
      "  {\"source\": \"I\", \"target\": \"I\", \"rule\": \"fixed_total_number\", \"N\": 3000,"
      "   \"weight\": -0.3, \"delay\": 0.75, \"allow_autapses\": false, \"allow_multapses\": false}]}";
  const char *strategies[] = {"round_robin", "block", "graph"};
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  digest serial = {0, 0, 0, 1 << 30};
  if (rank == 0) {
    sim m;
    sim_build(&m, json, MPI_COMM_SELF, "round_robin");
    ntw_engine_foreach_synapse(m.eng, digest_syn, &serial);
    sim_free(&m);
    /* 301*40 + 301*90 + ~0.1*301*77 + 77*76 + 5000 + 3000 */
    assert_true(serial.n > 301 * 130 + 77 * 76 + 8000 + 1500);
    assert_true(serial.n < 301 * 130 + 77 * 76 + 8000 + 3200);
    assert_int_equal(serial.dmin, 5);
  }
  MPI_Bcast(&serial, sizeof serial, MPI_BYTE, 0, MPI_COMM_WORLD);
  for (int s = 0; s < 3; s++) {
    sim m;
    sim_build(&m, json, MPI_COMM_WORLD, strategies[s]);
    digest loc = {0, 0, 0, 1 << 30}, tot;
    ntw_engine_foreach_synapse(m.eng, digest_syn, &loc);
    MPI_Allreduce(&loc.n, &tot.n, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&loc.sum, &tot.sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&loc.xsum, &tot.xsum, 1, MPI_UINT64_T, MPI_BXOR, MPI_COMM_WORLD);
    MPI_Allreduce(&loc.dmin, &tot.dmin, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    assert_int_equal(tot.n, serial.n);
    assert_true(tot.sum == serial.sum);
    assert_true(tot.xsum == serial.xsum);
    ntw_engine_stats st;
    ntw_engine_get_stats(m.eng, &st);
    /* invariant 3: no stored delay is shorter than the window */
    assert_int_equal(st.window_steps, 5);
    assert_true(tot.dmin >= st.window_steps);
    sim_free(&m);
  }
}

/* Fixed in-degree without multapses: every target has exactly C distinct
 * sources and no autapse. */
typedef struct {
  uint64_t n_src, n_tgt;
  unsigned char *seen; /* n_tgt * n_src */
  int dup, self;
  uint64_t *indeg;
} conn_check;

static void check_syn(uint64_t src, uint64_t tgt, float w, int d, void *ctx) {
  conn_check *c = ctx;
  if (src == tgt) c->self++;
  unsigned char *p = &c->seen[tgt * c->n_src + src];
  if (*p) c->dup++;
  *p = 1;
  c->indeg[tgt]++;
}

static void test_fixed_indegree_properties(void **state) {
  (void)state;
  const char *json =
      "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 1.0},"
      " \"populations\": [{\"name\": \"E\", \"model\": \"iaf_psc_delta\", \"size\": 50}],"
      " \"projections\": [{\"source\": \"E\", \"target\": \"E\", \"rule\": \"fixed_indegree\","
      "   \"indegree\": 49, \"weight\": 0.1, \"delay\": 1.5,"
      "   \"allow_autapses\": false, \"allow_multapses\": false}]}";
  sim m;
  sim_build(&m, json, MPI_COMM_WORLD, "round_robin");
  conn_check c = {50, 50, calloc(2500, 1), 0, 0, calloc(50, sizeof(uint64_t))};
  ntw_engine_foreach_synapse(m.eng, check_syn, &c);
  assert_int_equal(c.dup, 0);
  assert_int_equal(c.self, 0);
  const ntw_part *p = ntw_engine_part(m.eng);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (uint64_t t = 0; t < 50; t++)
    if (ntw_part_owner(p, t) == rank) assert_int_equal(c.indeg[t], 49);
  free(c.seen), free(c.indeg);
  sim_free(&m);
}

/* fixed_total_number: exactly N synapses; the global in-degree vector is
 * the one a single rank builds (so identical on 1-4 ranks, both partitions);
 * no autapse/multapse where they are off; in-degrees with the multinomial's
 * mean and variance. E (301) -> E: N = 12345 without autapses; I (77) -> E:
 * N = 7000 of the 23177 possible pairs without multapses. */
typedef struct {
  uint64_t indeg[2][301]; /* [from E, from I][target] */
  unsigned char *seen;    /* 378 x 301 (source gid, target) */
  int dup, self;
} total_check;

static void total_syn(uint64_t src, uint64_t tgt, float w, int d, void *ctx) {
  (void)w, (void)d;
  total_check *c = ctx;
  assert_true(tgt < 301);
  c->indeg[src >= 301][tgt]++;
  if (src == tgt) c->self++;
  unsigned char *p = &c->seen[src * 301 + tgt];
  if (*p && src >= 301) c->dup++; /* multapses are allowed from E */
  *p = 1;
}

static void test_fixed_total_number(void **state) {
  (void)state;
  const char *json =
      "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 1.0, \"seed\": 4242},"
      " \"populations\": ["
      "  {\"name\": \"E\", \"model\": \"iaf_psc_exp\", \"size\": 301},"
      "  {\"name\": \"I\", \"model\": \"iaf_psc_exp\", \"size\": 77}],"
      " \"projections\": ["
      "  {\"source\": \"E\", \"target\": \"E\", \"rule\": \"fixed_total_number\", \"N\": 12345,"
      "   \"weight\": 10, \"delay\": 1.5, \"allow_autapses\": false},"
      "  {\"source\": \"I\", \"target\": \"E\", \"rule\": \"fixed_total_number\", \"N\": 7000,"
      "   \"weight\": -40, \"delay\": 0.8, \"allow_multapses\": false}]}";
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  static total_check serial, loc, tot;
  if (rank == 0) {
    sim m;
    memset(&serial, 0, sizeof serial);
    serial.seen = calloc(378 * 301, 1);
    sim_build(&m, json, MPI_COMM_SELF, "round_robin");
    ntw_engine_foreach_synapse(m.eng, total_syn, &serial);
    sim_free(&m);
    free(serial.seen);
    assert_int_equal(serial.self, 0);
    assert_int_equal(serial.dup, 0);
    uint64_t sum[2] = {0, 0};
    double s2 = 0, mean = 12345.0 / 301;
    for (int t = 0; t < 301; t++) {
      sum[0] += serial.indeg[0][t], sum[1] += serial.indeg[1][t];
      s2 += (serial.indeg[0][t] - mean) * (serial.indeg[0][t] - mean);
      assert_true(serial.indeg[1][t] <= 77);
    }
    assert_int_equal(sum[0], 12345);
    assert_int_equal(sum[1], 7000);
    /* multinomial: var = N/n (1 - 1/n) = 40.9; the sample variance of 301
     * values has a standard error of about var sqrt(2/300) = 3.3 */
    double var = s2 / 300, expect = mean * (1 - 1.0 / 301);
    assert_true(fabs(var - expect) < 5 * expect * sqrt(2.0 / 300));
  }
  MPI_Bcast(serial.indeg, sizeof serial.indeg, MPI_BYTE, 0, MPI_COMM_WORLD);
  const char *strategies[] = {"round_robin", "block", "graph"};
  for (int s = 0; s < 3; s++) {
    sim m;
    memset(&loc, 0, sizeof loc);
    loc.seen = calloc(378 * 301, 1);
    sim_build(&m, json, MPI_COMM_WORLD, strategies[s]);
    ntw_engine_foreach_synapse(m.eng, total_syn, &loc);
    free(loc.seen);
    assert_int_equal(loc.self, 0);
    assert_int_equal(loc.dup, 0);
    MPI_Allreduce(loc.indeg, tot.indeg, 2 * 301, MPI_UINT64_T, MPI_SUM,
                  MPI_COMM_WORLD);
    assert_memory_equal(tot.indeg, serial.indeg, sizeof tot.indeg);
    ntw_engine_stats st;
    ntw_engine_get_stats(m.eng, &st);
    uint64_t nsyn = st.syn_local, all;
    MPI_Allreduce(&nsyn, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    assert_int_equal(all, 12345 + 7000);
    sim_free(&m);
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lif_exact),
    cmocka_unit_test(test_delivery_time),
    cmocka_unit_test(test_force_and_map),
    cmocka_unit_test(test_overlap_epochs),
    cmocka_unit_test(test_build_matches_serial),
    cmocka_unit_test(test_fixed_indegree_properties),
    cmocka_unit_test(test_fixed_total_number),
};

NTW_TEST_MAIN(tests)

/* tests/test_partition.c - every partition strategy against the contract in
 * partition/partition.h: exhaustive on small (n, P), arithmetic-only on
 * n > 2^32. Serial, no MPI ranks needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ntw_error.h"
#include "partition/partition.h"

/* A strategy on n neurons. "graph" gets one population without
 * projections (so it balances by neuron count alone). */
static ntw_part *make(const char *s, uint64_t n, int P) {
  ntw_part *p = NULL;
  ntw_part_net net = {1, &n, 0, NULL};
  int rc = strcmp(s, "graph") == 0 ? ntw_part_create_net(s, &net, P, &p)
                                   : ntw_part_create(s, n, P, &p);
  if (rc != 0)
    print_error("create(%s, %llu, %d): %s\n", s, (unsigned long long)n, P,
                ntw_error_msg());
  assert_int_equal(rc, 0);
  assert_non_null(p);
  assert_string_equal(ntw_part_name(p), s);
  assert_int_equal(ntw_part_nranks(p), P);
  assert_true(ntw_part_size(p) == n);
  return p;
}

/* All contract properties of p, checked exhaustively. */
static void check_contract(const ntw_part *p) {
  const uint64_t n = ntw_part_size(p);
  const int P = ntw_part_nranks(p);
  int *seen = calloc(n ? n : 1, sizeof *seen);
  assert_non_null(seen);

  uint64_t total = 0;
  for (int r = 0; r < P; r++) {
    uint64_t c = ntw_part_local_count(p, r);
    total += c;
    uint64_t prev = 0;
    for (uint64_t l = 0; l < c; l++) {
      uint64_t g = ntw_part_local_gid(p, r, l);
      assert_true(g < n);
      if (l > 0)
        assert_true(g > prev); /* ascending */
      prev = g;
      assert_int_equal(ntw_part_owner(p, g), r);
      assert_true(ntw_part_local_lower(p, r, g) == l);
      seen[g]++;
    }
    /* local_lower: monotonic over [0, n], 0 at 0, count at n, and steps
     * exactly at owned gids. */
    uint64_t last = 0;
    for (uint64_t g = 0; g <= n; g++) {
      uint64_t lo = ntw_part_local_lower(p, r, g);
      assert_true(lo >= last);
      if (g > 0)
        assert_true(lo - last == (ntw_part_owner(p, g - 1) == r ? 1u : 0u));
      last = lo;
    }
    assert_true(ntw_part_local_lower(p, r, 0) == 0);
    assert_true(ntw_part_local_lower(p, r, n) == c);
  }
  assert_true(total == n);
  for (uint64_t g = 0; g < n; g++) {
    assert_int_equal(seen[g], 1); /* exactly one owner */
    int o = ntw_part_owner(p, g);
    assert_true(o >= 0 && o < P);
    assert_true(ntw_part_local_gid(p, o, ntw_part_local_lower(p, o, g)) == g);
  }
  free(seen);
}

static void check_exhaustive(const char *s, uint64_t n, int P) {
  ntw_part *p = make(s, n, P);
  check_contract(p);
  uint64_t minc = UINT64_MAX, maxc = 0;
  for (int r = 0; r < P; r++) {
    uint64_t c = ntw_part_local_count(p, r);
    minc = c < minc ? c : minc;
    maxc = c > maxc ? c : maxc;
  }
  if (strcmp(s, "graph") == 0) {
    /* chunks of at most ceil(n / (4 P)) neurons, split by weight: within
     * one chunk of the mean, plus rounding */
    uint64_t chunk = n / (4 * (uint64_t)P) + 1;
    assert_true(maxc - minc <= 2 * chunk);
    ntw_part_destroy(&p);
    return;
  }
  /* round_robin and block balance to within one neuron, larger ranks first. */
  if (P > 0)
    assert_true(maxc - minc <= 1);
  for (int r = 1; r < P; r++)
    assert_true(ntw_part_local_count(p, r) <= ntw_part_local_count(p, r - 1));

  if (strcmp(s, "round_robin") == 0) {
    for (uint64_t g = 0; g < n; g++) {
      assert_int_equal(ntw_part_owner(p, g), (int)(g % (uint64_t)P));
      assert_true(ntw_part_local_lower(p, (int)(g % (uint64_t)P), g) ==
                  g / (uint64_t)P);
    }
  } else { /* block: each rank's gids form one contiguous range */
    for (int r = 0; r < P; r++) {
      uint64_t c = ntw_part_local_count(p, r);
      if (c)
        assert_true(ntw_part_local_gid(p, r, c - 1) -
                        ntw_part_local_gid(p, r, 0) ==
                    c - 1);
      assert_true(c == n / (uint64_t)P + ((uint64_t)r < n % (uint64_t)P));
    }
    for (uint64_t g = 1; g < n; g++)
      assert_true(ntw_part_owner(p, g) >= ntw_part_owner(p, g - 1));
  }
  ntw_part_destroy(&p);
  assert_null(p);
}

static void test_exhaustive_small(void **state) {
  (void)state;
  const char *const *names = ntw_part_strategies();
  int nstrat = 0;
  for (; names[nstrat]; nstrat++) {
    for (uint64_t n = 0; n <= 70; n++)
      for (int P = 1; P <= 17; P++)
        check_exhaustive(names[nstrat], n, P);
    /* a few bigger, still exhaustive */
    check_exhaustive(names[nstrat], 1000, 7);
    check_exhaustive(names[nstrat], 1000, 1);
    check_exhaustive(names[nstrat], 3, 64);
    check_exhaustive(names[nstrat], 12345, 128);
  }
  assert_int_equal(nstrat, 3);
}

/* n > 2^32: no arrays, only spot checks of the arithmetic around rank and
 * range boundaries. */
static void check_large(const char *s, uint64_t n, int P) {
  ntw_part *p = make(s, n, P);
  uint64_t total = 0;
  for (int r = 0; r < P; r++) {
    uint64_t c = ntw_part_local_count(p, r);
    total += c;
    assert_true(ntw_part_local_lower(p, r, 0) == 0);
    assert_true(ntw_part_local_lower(p, r, n) == c);
    uint64_t probes[] = {0, 1, c / 2, c > 1 ? c - 2 : 0, c ? c - 1 : 0};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0] && c; i++) {
      uint64_t l = probes[i];
      uint64_t g = ntw_part_local_gid(p, r, l);
      assert_true(g < n);
      assert_int_equal(ntw_part_owner(p, g), r);
      assert_true(ntw_part_local_lower(p, r, g) == l);
      assert_true(ntw_part_local_lower(p, r, g + 1) == l + 1);
    }
  }
  assert_true(total == n);
  /* boundary gids: n - 1 belongs to the last non-empty rank */
  if (strcmp(s, "graph") != 0)
    assert_int_equal(ntw_part_owner(p, n - 1),
                   strcmp(s, "block") == 0 ? P - 1 : (int)((n - 1) % (uint64_t)P));
  ntw_part_destroy(&p);
}

static void test_large_n(void **state) {
  (void)state;
  const uint64_t big[] = {(1ull << 32) + 1, (1ull << 33) + 12345,
                          (1ull << 40) - 1, UINT64_MAX / 2};
  const int ranks[] = {1, 2, 3, 7, 1024, 65535};
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
    for (size_t j = 0; j < sizeof ranks / sizeof ranks[0]; j++) {
      check_large("round_robin", big[i], ranks[j]);
      check_large("block", big[i], ranks[j]);
      if (ranks[j] <= 1024) check_large("graph", big[i], ranks[j]);
    }
  /* a gid above 2^32 maps beyond what 32-bit math would give */
  ntw_part *p = make("round_robin", 1ull << 34, 3);
  uint64_t g = (1ull << 33) + 5;
  assert_int_equal(ntw_part_owner(p, g), (int)(g % 3));
  assert_true(ntw_part_local_lower(p, (int)(g % 3), g) == g / 3);
  ntw_part_destroy(&p);
  p = make("block", 1ull << 34, 2);
  assert_int_equal(ntw_part_owner(p, (1ull << 33) - 1), 0);
  assert_int_equal(ntw_part_owner(p, 1ull << 33), 1);
  assert_true(ntw_part_local_gid(p, 1, 0) == 1ull << 33);
  ntw_part_destroy(&p);
}

/* ---- graph: networks with structure ---- */

/* Work per rank as the graph strategy weighs it (neurons + expected
 * incoming synapses); returns max / mean. */
static double work_imbalance(const ntw_part *p, const ntw_part_net *net) {
  const int P = ntw_part_nranks(p);
  double *per_neuron = calloc(net->npops + 1, sizeof *per_neuron);
  double *w = calloc((size_t)P, sizeof *w);
  assert_non_null(per_neuron);
  assert_non_null(w);
  for (size_t j = 0; j < net->nprojs; j++)
    per_neuron[net->projs[j].target] +=
        net->projs[j].synapses / (double)net->pop_size[net->projs[j].target];
  uint64_t g = 0;
  for (size_t i = 0; i < net->npops; i++)
    for (uint64_t k = 0; k < net->pop_size[i]; k++, g++)
      w[ntw_part_owner(p, g)] += 1.0 + per_neuron[i];
  double mx = 0, sum = 0;
  for (int r = 0; r < P; r++) {
    sum += w[r];
    mx = w[r] > mx ? w[r] : mx;
  }
  free(per_neuron), free(w);
  return mx * P / sum;
}

/* M modules of E (NE) and I (NI) neurons, E populations of every module
 * first, then the I populations (so neither round_robin nor block follows
 * the modules); dense inside a module, sparse E -> E between modules. */
typedef struct {
  uint64_t size[16];
  ntw_part_proj proj[64 + 16];
  ntw_part_net net;
} modular_net;

static void modular(modular_net *m, int M, uint64_t NE, uint64_t NI) {
  size_t np = 0;
  for (int a = 0; a < M; a++) {
    m->size[a] = NE, m->size[M + a] = NI;
    size_t e = (size_t)a, i = (size_t)(M + a);
    m->proj[np++] = (ntw_part_proj){e, e, 0.1 * (double)(NE * NE), false, true};
    m->proj[np++] = (ntw_part_proj){e, i, 0.1 * (double)(NE * NI), false, false};
    m->proj[np++] = (ntw_part_proj){i, e, 0.1 * (double)(NI * NE), false, false};
    m->proj[np++] = (ntw_part_proj){i, i, 0.1 * (double)(NI * NI), false, true};
    for (int b = 0; b < M; b++)
      if (b != a) m->proj[np++] = (ntw_part_proj){e, (size_t)b, 0.5 * (double)NE, false, false};
  }
  m->net = (ntw_part_net){(size_t)(2 * M), m->size, np, m->proj};
}

static ntw_part *make_net(const ntw_part_net *net, int P) {
  ntw_part *p = NULL;
  int rc = ntw_part_create_net("graph", net, P, &p);
  if (rc != 0) print_error("graph: %s\n", ntw_error_msg());
  assert_int_equal(rc, 0);
  assert_string_equal(ntw_part_name(p), "graph");
  return p;
}

static void test_graph_modular(void **state) {
  (void)state;
  modular_net m;
  modular(&m, 4, 1600, 400);
  for (int P = 1; P <= 8; P++) {
    ntw_part *p = make_net(&m.net, P);
    check_contract(p);
    double imb = work_imbalance(p, &m.net);
    if (imb > 1.05) print_error("modular P=%d: work max/mean %.4f\n", P, imb);
    assert_true(imb <= 1.05);
    /* The same input gives the same map (it is computed on every rank). */
    ntw_part *q = make_net(&m.net, P);
    assert_true(ntw_part_digest(p) == ntw_part_digest(q));
    ntw_part_destroy(&q);
    if (P == 4) {
      /* one module per rank: E_a and I_a on the same rank, all of it */
      for (int a = 0; a < 4; a++) {
        uint64_t e0 = 1600 * (uint64_t)a, i0 = 6400 + 400 * (uint64_t)a;
        int r = ntw_part_owner(p, e0);
        for (uint64_t k = 0; k < 1600; k++) assert_int_equal(ntw_part_owner(p, e0 + k), r);
        for (uint64_t k = 0; k < 400; k++) assert_int_equal(ntw_part_owner(p, i0 + k), r);
        assert_true(ntw_part_local_count(p, r) == 2000);
      }
    }
    ntw_part_destroy(&p);
  }
}

/* Microcircuit-like (8 populations of unequal size and in-degree, all
 * connected), one_to_one chains, empty populations, fewer neurons than
 * ranks: the contract always holds; balance where chunks allow it. */
static void test_graph_shapes(void **state) {
  (void)state;
  uint64_t mc[8] = {2068, 584, 2190, 548, 485, 106, 1439, 295};
  ntw_part_proj mcp[64];
  size_t k = 0;
  for (size_t a = 0; a < 8; a++)
    for (size_t b = 0; b < 8; b++)
      mcp[k++] = (ntw_part_proj){a, b, (double)mc[a] * (double)mc[b] * (0.01 + 0.02 * (double)((a * 3 + b) % 7)),
                                 false, a == b};
  ntw_part_net mnet = {8, mc, 64, mcp};
  uint64_t chain[3] = {500, 500, 0};
  ntw_part_proj cp[2] = {{0, 1, 500, true, false}, {1, 0, 500, true, false}};
  ntw_part_net cnet = {3, chain, 2, cp};
  uint64_t tiny[2] = {2, 1};
  ntw_part_proj tp[1] = {{0, 1, 2, false, false}};
  ntw_part_net tnet = {2, tiny, 1, tp};
  const int ranks[] = {1, 2, 3, 4, 5, 16};
  for (size_t i = 0; i < sizeof ranks / sizeof *ranks; i++) {
    int P = ranks[i];
    ntw_part *p = make_net(&mnet, P);
    check_contract(p);
    double imb = work_imbalance(p, &mnet);
    if (imb > 1.05) print_error("microcircuit-like P=%d: work max/mean %.4f\n", P, imb);
    assert_true(imb <= 1.05);
    ntw_part_destroy(&p);
    p = make_net(&cnet, P);
    check_contract(p);
    imb = work_imbalance(p, &cnet);
    if (imb > 1.05) print_error("one_to_one P=%d: work max/mean %.4f\n", P, imb);
    assert_true(imb <= 1.05);
    /* source i and target i share a rank: nothing needs to cross */
    for (uint64_t g = 0; g < 500; g++)
      assert_int_equal(ntw_part_owner(p, g), ntw_part_owner(p, 500 + g));
    ntw_part_destroy(&p);
    p = make_net(&tnet, P);
    check_contract(p);
    ntw_part_destroy(&p);
  }
}

static void test_errors(void **state) {
  (void)state;
  ntw_part *p = (ntw_part *)0x1;
  ntw_error_clear();
  assert_int_equal(ntw_part_create("metis", 10, 2, &p), NTW_ERR_ARG);
  assert_null(p);
  assert_string_equal(ntw_error_msg(),
                      "unknown partition strategy 'metis' (known: "
                      "round_robin, block, graph)");
  assert_int_equal(ntw_part_create("graph", 10, 2, &p), NTW_ERR_ARG);
  assert_null(p);
  assert_non_null(strstr(ntw_error_msg(), "needs the network"));
  ntw_part_net bad = {1, (uint64_t[]){10}, 1,
                      (ntw_part_proj[]){{.source = 0, .target = 3, .synapses = 5}}};
  assert_int_equal(ntw_part_create_net("graph", &bad, 2, &p), NTW_ERR_ARG);
  assert_null(p);
  assert_non_null(strstr(ntw_error_msg(), "projection 0"));
  assert_int_equal(ntw_part_create("block", 10, 0, &p), NTW_ERR_ARG);
  assert_null(p);
  assert_non_null(strstr(ntw_error_msg(), "got 0"));
  assert_int_equal(ntw_part_create("block", 10, -3, &p), NTW_ERR_ARG);
  assert_int_equal(ntw_part_create(NULL, 10, 2, &p), NTW_ERR_ARG);
  assert_int_equal(ntw_part_create("block", 10, 2, NULL), NTW_ERR_ARG);
  /* destroy is NULL-safe */
  ntw_part_destroy(NULL);
  p = NULL;
  ntw_part_destroy(&p);
  assert_null(p);
}

/* ---- rank 0 reserved (the twin's coupling rank) ---- */

/* The reserved map on P ranks is the unreserved one on P - 1 ranks shifted
 * up by one rank, with rank 0 empty, and it keeps the whole contract. */
static void check_reserved(const char *s, uint64_t n, int P) {
  ntw_part *r = NULL, *u = NULL;
  ntw_part_net net = {1, &n, 0, NULL};
  int graph = strcmp(s, "graph") == 0;
  assert_int_equal(graph ? ntw_part_create_net_reserved(s, &net, P, true, &r)
                         : ntw_part_create_reserved(s, n, P, true, &r), 0);
  assert_int_equal(graph ? ntw_part_create_net(s, &net, P - 1, &u)
                         : ntw_part_create(s, n, P - 1, &u), 0);
  assert_true(ntw_part_reserved(r));
  assert_false(ntw_part_reserved(u));
  assert_int_equal(ntw_part_nranks(r), P);
  check_contract(r);
  assert_true(ntw_part_local_count(r, 0) == 0);
  assert_true(ntw_part_local_lower(r, 0, n) == 0);
  for (uint64_t g = 0; g < n; g++)
    assert_int_equal(ntw_part_owner(r, g), ntw_part_owner(u, g) + 1);
  for (int k = 1; k < P; k++) {
    assert_true(ntw_part_local_count(r, k) == ntw_part_local_count(u, k - 1));
    for (uint64_t l = 0; l < ntw_part_local_count(r, k); l++)
      assert_true(ntw_part_local_gid(r, k, l) == ntw_part_local_gid(u, k - 1, l));
  }
  /* the ranks must not take a reserved map for an unreserved one */
  ntw_part *same = NULL;
  assert_int_equal(graph ? ntw_part_create_net(s, &net, P, &same)
                         : ntw_part_create(s, n, P, &same), 0);
  assert_true(ntw_part_digest(same) != ntw_part_digest(r));
  ntw_part_destroy(&same);
  ntw_part_destroy(&r);
  ntw_part_destroy(&u);
}

static void test_reserved(void **state) {
  (void)state;
  const char *const *names = ntw_part_strategies();
  for (int k = 0; names[k]; k++) {
    for (uint64_t n = 0; n <= 40; n++)
      for (int P = 2; P <= 9; P++) check_reserved(names[k], n, P);
    check_reserved(names[k], 2500, 4);
  }
  /* one rank cannot both be reserved and hold the network */
  ntw_part *p = (ntw_part *)0x1;
  ntw_error_clear();
  assert_int_equal(ntw_part_create_reserved("block", 10, 1, true, &p), NTW_ERR_ARG);
  assert_null(p);
  assert_non_null(strstr(ntw_error_msg(), "at least 2 ranks (got 1)"));
  /* false is the plain map */
  assert_int_equal(ntw_part_create_reserved("round_robin", 10, 1, false, &p), 0);
  assert_false(ntw_part_reserved(p));
  assert_int_equal(ntw_part_owner(p, 7), 0);
  ntw_part_destroy(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exhaustive_small),
      cmocka_unit_test(test_large_n),
      cmocka_unit_test(test_graph_modular),
      cmocka_unit_test(test_graph_shapes),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_reserved),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

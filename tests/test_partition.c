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

static ntw_part *make(const char *s, uint64_t n, int P) {
  ntw_part *p = NULL;
  int rc = ntw_part_create(s, n, P, &p);
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

/* All contract properties, checked exhaustively for one (strategy, n, P). */
static void check_exhaustive(const char *s, uint64_t n, int P) {
  ntw_part *p = make(s, n, P);
  int *seen = calloc(n ? n : 1, sizeof *seen);
  assert_non_null(seen);

  uint64_t total = 0, minc = UINT64_MAX, maxc = 0;
  for (int r = 0; r < P; r++) {
    uint64_t c = ntw_part_local_count(p, r);
    total += c;
    minc = c < minc ? c : minc;
    maxc = c > maxc ? c : maxc;
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
  /* Both strategies balance to within one neuron, larger ranks first. */
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
  free(seen);
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
  assert_int_equal(nstrat, 2);
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

static void test_errors(void **state) {
  (void)state;
  ntw_part *p = (ntw_part *)0x1;
  ntw_error_clear();
  assert_int_equal(ntw_part_create("metis", 10, 2, &p), NTW_ERR_ARG);
  assert_null(p);
  assert_string_equal(ntw_error_msg(),
                      "unknown partition strategy 'metis' (known: "
                      "round_robin, block)");
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exhaustive_small),
      cmocka_unit_test(test_large_n),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

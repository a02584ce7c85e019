/* tests/test_place.c - the placement rule on hwloc synthetic topologies, so
 * pinning is checked without a cluster. Serial, no MPI ranks needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ntw_error.h"
#include "partition/place.h"

static hwloc_topology_t synth(const char *desc) {
  hwloc_topology_t t;
  assert_int_equal(hwloc_topology_init(&t), 0);
  assert_int_equal(hwloc_topology_set_synthetic(t, desc), 0);
  assert_int_equal(hwloc_topology_load(t), 0);
  return t;
}

/* compute and compare with an hwloc list string such as "0-9" */
static void expect(hwloc_topology_t t, ntw_bind_mode m, int r, int s,
                   const char *want, int want_over) {
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  int over = -1;
  int rc = ntw_place_compute(t, m, r, s, set, &over);
  if (rc != 0)
    print_error("compute(%s, %d/%d): %s\n", ntw_place_name(m), r, s,
                ntw_error_msg());
  assert_int_equal(rc, 0);
  char got[256];
  hwloc_bitmap_list_snprintf(got, sizeof got, set);
  if (strcmp(got, want) != 0)
    print_error("mode %s rank %d of %d: got %s, want %s\n", ntw_place_name(m),
                r, s, got, want);
  assert_string_equal(got, want);
  assert_int_equal(over, want_over);
  hwloc_bitmap_free(set);
}

/* For every local_size up to the core count, core mode gives non-empty,
 * pairwise disjoint sets that together cover the machine; beyond it, rank i
 * gets exactly core i % ncores and the flag. */
static void check_split_properties(hwloc_topology_t t) {
  int ncores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
  hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(t);
  hwloc_bitmap_t set = hwloc_bitmap_alloc(), acc = hwloc_bitmap_alloc();
  for (int s = 1; s <= ncores; s++) {
    hwloc_bitmap_zero(acc);
    for (int r = 0; r < s; r++) {
      int over = -1;
      assert_int_equal(ntw_place_compute(t, NTW_BIND_CORE, r, s, set, &over), 0);
      assert_int_equal(over, 0);
      assert_false(hwloc_bitmap_iszero(set));
      assert_false(hwloc_bitmap_intersects(set, acc));
      hwloc_bitmap_or(acc, acc, set);
    }
    assert_true(hwloc_bitmap_isequal(acc, all));
  }
  for (int s = ncores + 1; s <= 2 * ncores + 1; s++)
    for (int r = 0; r < s; r++) {
      int over = 0;
      assert_int_equal(ntw_place_compute(t, NTW_BIND_CORE, r, s, set, &over), 0);
      assert_int_equal(over, 1);
      hwloc_obj_t core =
          hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, (unsigned)(r % ncores));
      assert_true(hwloc_bitmap_isequal(set, core->cpuset));
    }
  hwloc_bitmap_free(set);
  hwloc_bitmap_free(acc);
}

static void test_two_cores(void **state) {
  (void)state;
  hwloc_topology_t t = synth("pack:1 core:2 pu:1");
  expect(t, NTW_BIND_CORE, 0, 1, "0-1", 0);
  expect(t, NTW_BIND_CORE, 0, 2, "0", 0);
  expect(t, NTW_BIND_CORE, 1, 2, "1", 0);
  expect(t, NTW_BIND_CORE, 0, 3, "0", 1);
  expect(t, NTW_BIND_CORE, 1, 3, "1", 1);
  expect(t, NTW_BIND_CORE, 2, 3, "0", 1); /* wraps */
  expect(t, NTW_BIND_CORE, 3, 4, "1", 1);
  /* hwloc always has one NUMA node: the whole machine */
  expect(t, NTW_BIND_NUMA, 0, 2, "0-1", 0);
  expect(t, NTW_BIND_NUMA, 1, 2, "0-1", 0);
  expect(t, NTW_BIND_NONE, 1, 2, "0-1", 0);
  check_split_properties(t);
  hwloc_topology_destroy(t);
}

static void test_two_packages(void **state) {
  (void)state;
  /* 2 packages x 2 NUMA x 4 cores x 2 PUs = 16 cores, 32 PUs */
  hwloc_topology_t t = synth("pack:2 numa:2 core:4 pu:2");
  assert_int_equal(hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE), 16);
  expect(t, NTW_BIND_CORE, 0, 1, "0-31", 0);
  expect(t, NTW_BIND_CORE, 0, 4, "0-7", 0);
  expect(t, NTW_BIND_CORE, 3, 4, "24-31", 0);
  /* uneven: cores [0,5) [5,10) [10,16) */
  expect(t, NTW_BIND_CORE, 0, 3, "0-9", 0);
  expect(t, NTW_BIND_CORE, 1, 3, "10-19", 0);
  expect(t, NTW_BIND_CORE, 2, 3, "20-31", 0);
  expect(t, NTW_BIND_CORE, 5, 16, "10-11", 0);
  expect(t, NTW_BIND_CORE, 15, 16, "30-31", 0);
  expect(t, NTW_BIND_CORE, 16, 17, "0-1", 1);
  expect(t, NTW_BIND_CORE, 7, 20, "14-15", 1);
  /* 4 NUMA domains of 8 PUs; ranks beyond 4 share, unflagged */
  expect(t, NTW_BIND_NUMA, 0, 4, "0-7", 0);
  expect(t, NTW_BIND_NUMA, 2, 4, "16-23", 0);
  expect(t, NTW_BIND_NUMA, 5, 6, "8-15", 0);
  expect(t, NTW_BIND_NUMA, 0, 1, "0-7", 0);
  expect(t, NTW_BIND_NONE, 3, 4, "0-31", 0);
  check_split_properties(t);
  hwloc_topology_destroy(t);
}

static void test_four_numa(void **state) {
  (void)state;
  /* 4 NUMA x 8 cores x 2 PUs = 32 cores, 64 PUs */
  hwloc_topology_t t = synth("numa:4 core:8 pu:2");
  /* cores [0,6) [6,12) [12,19) [19,25) [25,32) */
  expect(t, NTW_BIND_CORE, 0, 5, "0-11", 0);
  expect(t, NTW_BIND_CORE, 1, 5, "12-23", 0);
  expect(t, NTW_BIND_CORE, 2, 5, "24-37", 0);
  expect(t, NTW_BIND_CORE, 3, 5, "38-49", 0);
  expect(t, NTW_BIND_CORE, 4, 5, "50-63", 0);
  expect(t, NTW_BIND_CORE, 33, 40, "2-3", 1);
  expect(t, NTW_BIND_NUMA, 1, 4, "16-31", 0);
  expect(t, NTW_BIND_NUMA, 3, 4, "48-63", 0);
  expect(t, NTW_BIND_NUMA, 6, 8, "32-47", 0);
  expect(t, NTW_BIND_NONE, 0, 3, "0-63", 0);
  check_split_properties(t);
  hwloc_topology_destroy(t);
}

static void test_compute_errors(void **state) {
  (void)state;
  hwloc_topology_t t = synth("pack:1 core:2 pu:1");
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  assert_int_equal(ntw_place_compute(t, NTW_BIND_CORE, 2, 2, set, NULL),
                   NTW_ERR_ARG);
  assert_non_null(strstr(ntw_error_msg(), "rank 2 of 2"));
  assert_int_equal(ntw_place_compute(t, NTW_BIND_CORE, -1, 2, set, NULL),
                   NTW_ERR_ARG);
  assert_int_equal(ntw_place_compute(t, NTW_BIND_CORE, 0, 0, set, NULL),
                   NTW_ERR_ARG);
  assert_int_equal(ntw_place_compute(t, (ntw_bind_mode)7, 0, 1, set, NULL),
                   NTW_ERR_ARG);
  assert_int_equal(ntw_place_compute(NULL, NTW_BIND_CORE, 0, 1, set, NULL),
                   NTW_ERR_ARG);
  /* NULL oversubscribed is allowed */
  assert_int_equal(ntw_place_compute(t, NTW_BIND_CORE, 0, 1, set, NULL), 0);
  hwloc_bitmap_free(set);
  hwloc_topology_destroy(t);
}

static void test_parse(void **state) {
  (void)state;
  ntw_bind_mode m = NTW_BIND_NUMA;
  assert_int_equal(ntw_place_parse("none", &m), 0);
  assert_int_equal(m, NTW_BIND_NONE);
  assert_int_equal(ntw_place_parse("core", &m), 0);
  assert_int_equal(m, NTW_BIND_CORE);
  assert_int_equal(ntw_place_parse("numa", &m), 0);
  assert_int_equal(m, NTW_BIND_NUMA);
  for (int i = NTW_BIND_NONE; i <= NTW_BIND_NUMA; i++) {
    assert_int_equal(ntw_place_parse(ntw_place_name((ntw_bind_mode)i), &m), 0);
    assert_int_equal(m, i);
  }
  m = NTW_BIND_CORE;
  assert_int_equal(ntw_place_parse("socket", &m), NTW_ERR_ARG);
  assert_int_equal(m, NTW_BIND_CORE); /* untouched on failure */
  assert_string_equal(ntw_error_msg(),
                      "unknown bind mode 'socket' (known: none, core, numa)");
  assert_int_equal(ntw_place_parse("Core", &m), NTW_ERR_ARG);
  assert_int_equal(ntw_place_parse("", &m), NTW_ERR_ARG);
  assert_int_equal(ntw_place_parse(NULL, &m), NTW_ERR_ARG);
  assert_string_equal(ntw_place_name((ntw_bind_mode)42), "unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_cores),
      cmocka_unit_test(test_two_packages),
      cmocka_unit_test(test_four_numa),
      cmocka_unit_test(test_compute_errors),
      cmocka_unit_test(test_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

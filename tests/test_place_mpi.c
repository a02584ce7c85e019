/* tests/test_place_mpi.c - ntw_place_bind on the real machine.
 * Needs 2 ranks on one node (mpirun -n 2 --bind-to none), and at least 2
 * cores for the disjointness check. If the OS refuses binding (some
 * containers), the core test is skipped with a visible message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ntw_error.h"
#include "partition/place.h"

#define DESC_LEN 256
#define OVER_SUFFIX " (oversubscribed)"

/* desc without the oversubscribed suffix, parsed as an hwloc list */
static int parse_desc(const char *desc, hwloc_bitmap_t set) {
  char buf[DESC_LEN];
  size_t len = strnlen(desc, DESC_LEN - 1);
  memcpy(buf, desc, len);
  buf[len] = '\0';
  char *suffix = strstr(buf, OVER_SUFFIX);
  if (suffix)
    *suffix = '\0';
  return hwloc_bitmap_list_sscanf(set, buf);
}

static void test_bind_core(void **state) {
  (void)state;
  char desc[DESC_LEN] = "";
  int rc = ntw_place_bind(MPI_COMM_WORLD, NTW_BIND_CORE, desc, sizeof desc);
  char msg[512];
  snprintf(msg, sizeof msg, "%s", ntw_error_msg());

  /* Agree on the outcome first so no rank is left waiting in a collective. */
  int refused = rc == NTW_ERR_HWLOC && strstr(msg, "cannot bind") != NULL;
  int any_refused = 0, worst = 0;
  MPI_Allreduce(&refused, &any_refused, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (any_refused) {
    print_message("SKIPPED: the OS refused CPU binding on this machine: %s\n",
                  refused ? msg : "(on another rank)");
    skip();
  }
  if (rc != 0)
    print_error("ntw_place_bind(core): %s\n", msg);
  assert_int_equal(rc, 0);
  assert_int_equal(worst, 0);

  MPI_Comm node;
  int local_rank, local_size;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL,
                      &node);
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_size(node, &local_size);
  char all[DESC_LEN * 64];
  assert_true(local_size <= 64);
  MPI_Allgather(desc, DESC_LEN, MPI_CHAR, all, DESC_LEN, MPI_CHAR, node);
  MPI_Comm_free(&node);

  hwloc_topology_t topo;
  assert_int_equal(hwloc_topology_init(&topo), 0);
  assert_int_equal(hwloc_topology_load(topo), 0);
  int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  hwloc_bitmap_t want = hwloc_bitmap_alloc(), got = hwloc_bitmap_alloc(),
                 other = hwloc_bitmap_alloc();

  /* The process is bound to exactly the set the description names. */
  assert_int_equal(parse_desc(desc, want), 0);
  assert_false(hwloc_bitmap_iszero(want));
  assert_int_equal(hwloc_get_cpubind(topo, got, HWLOC_CPUBIND_PROCESS), 0);
  char gots[DESC_LEN];
  hwloc_bitmap_list_snprintf(gots, sizeof gots, got);
  print_message("node rank %d/%d: bound to %s (desc \"%s\", %d cores)\n",
                local_rank, local_size, gots, desc, ncores);
  assert_true(hwloc_bitmap_isequal(want, got));

  /* Enough cores: every node-local pair is disjoint and nobody is flagged. */
  if (local_size <= ncores) {
    assert_null(strstr(desc, OVER_SUFFIX));
    for (int r = 0; r < local_size; r++) {
      if (r == local_rank)
        continue;
      assert_int_equal(parse_desc(all + (size_t)r * DESC_LEN, other), 0);
      assert_false(hwloc_bitmap_intersects(want, other));
    }
  } else {
    print_message("%d ranks on %d cores: disjointness not checked\n",
                  local_size, ncores);
    assert_non_null(strstr(desc, OVER_SUFFIX));
  }

  /* Undo the binding so later tests (and the MPI runtime) are unaffected. */
  hwloc_set_cpubind(topo, hwloc_topology_get_topology_cpuset(topo),
                    HWLOC_CPUBIND_PROCESS);
  hwloc_bitmap_free(want);
  hwloc_bitmap_free(got);
  hwloc_bitmap_free(other);
  hwloc_topology_destroy(topo);
}

static void test_bind_none(void **state) {
  (void)state;
  char desc[DESC_LEN] = "garbage";
  int rc = ntw_place_bind(MPI_COMM_WORLD, NTW_BIND_NONE, desc, sizeof desc);
  if (rc != 0)
    print_error("ntw_place_bind(none): %s\n", ntw_error_msg());
  assert_int_equal(rc, 0);
  assert_string_equal(desc, "none");
}

static void test_bind_args(void **state) {
  (void)state;
  /* Not collective: rejected before any MPI call. */
  assert_int_equal(ntw_place_bind(MPI_COMM_WORLD, NTW_BIND_CORE, NULL, 8),
                   NTW_ERR_ARG);
  char d[4];
  assert_int_equal(ntw_place_bind(MPI_COMM_WORLD, NTW_BIND_CORE, d, 0),
                   NTW_ERR_ARG);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bind_core),
      cmocka_unit_test(test_bind_none),
      cmocka_unit_test(test_bind_args),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  MPI_Finalize();
  return failed;
}

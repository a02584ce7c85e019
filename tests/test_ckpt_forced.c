/* test_ckpt_forced.c - spikes forced at run time (ntw_engine_force_spikes,
 * e.g. a twin's stimulation pulses queued for later windows) survive a
 * checkpoint: a run interrupted by a checkpoint at 10 ms, with forced
 * spikes still queued for 10.1, 13.7, 16.0 and 20.3 ms, and restored on
 * another partition emits exactly the spikes of the uninterrupted run after
 * 10 ms (the forced ones and those they cause). Runs on any number of ranks
 * (meson: 1-3, and with overlap on). */
#include <math.h>
#include <mpi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ntw_error.h"
#include "engine.h"
#include "io/checkpoint.h"

#include "testlib.h"

static const char *json =
    "{\"simulation\": {\"dt\": 0.1, \"t_stop\": 30.0},"
    " \"populations\": [{\"name\": \"S\", \"model\": \"spike_source\", \"size\": 6},"
    " {\"name\": \"T\", \"model\": \"iaf_psc_delta\", \"size\": 6,"
    "  \"params\": {\"E_L\": 0, \"V_th\": 15, \"V_reset\": 0, \"V_m\": 0, \"t_ref\": 2}}],"
    " \"projections\": [{\"source\": \"S\", \"target\": \"T\", \"rule\": \"one_to_one\","
    "  \"weight\": 20, \"delay\": 2.0}]}";

/* In the first window, queue S0..S5 at 1.5, 5.5, 10.1, 13.7, 16.0 and
 * 20.3 ms (the window is 2 ms: the last four are still queued at 10 ms). */
static int force_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  (void)hi, (void)ctx;
  if (lo == 0) {
    const uint64_t g[] = {0, 1, 2, 3, 4, 5};
    const int64_t st[] = {15, 55, 101, 137, 160, 203};
    return ntw_engine_force_spikes(e, g, st, 6);
  }
  return 0;
}

static void run_collect(ntw_test_sim *m, double until, ntw_test_spikes *all) {
  ntw_test_spikes loc = {0};
  assert_int_equal(ntw_engine_add_hook(m->eng, NTW_HOOK_AFTER_WINDOW, ntw_test_collect, &loc), 0);
  assert_int_equal(ntw_engine_run(m->eng, ntw_engine_steps(m->eng, until)), 0);
  ntw_test_gather(&loc, all, MPI_COMM_WORLD);
  ntw_test_spikes_free(&loc);
}

static void test_forced_survive_checkpoint(void **state) {
  (void)state;
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char dir[64] = "/tmp/ntw_ckpt_forced_XXXXXX", path[128];
  if (rank == 0) assert_non_null(mkdtemp(dir));
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  snprintf(path, sizeof path, "%s/ck.h5", dir);

  /* uninterrupted */
  ntw_test_sim a;
  ntw_test_spikes full = {0};
  ntw_test_sim_build(&a, json, MPI_COMM_WORLD, "round_robin");
  assert_int_equal(ntw_engine_add_hook(a.eng, NTW_HOOK_BEFORE_WINDOW, force_hook, NULL), 0);
  run_collect(&a, 30.0, &full);
  ntw_test_sim_free(&a);

  /* to 10 ms, checkpoint */
  ntw_test_sim b;
  ntw_test_spikes first = {0};
  ntw_test_sim_build(&b, json, MPI_COMM_WORLD, "round_robin");
  assert_int_equal(ntw_engine_add_hook(b.eng, NTW_HOOK_BEFORE_WINDOW, force_hook, NULL), 0);
  run_collect(&b, 10.0, &first);
  int err = ntw_checkpoint_write(b.eng, path);
  if (err) fprintf(stderr, "%s\n", ntw_error_msg());
  assert_int_equal(err, 0);
  ntw_test_sim_free(&b);

  /* restored on another partition, without the hook: the queue comes from
   * the file */
  ntw_test_sim c;
  ntw_test_spikes rest = {0};
  ntw_test_sim_build(&c, json, MPI_COMM_WORLD, "block");
  err = ntw_checkpoint_restore(c.eng, path);
  if (err) fprintf(stderr, "%s\n", ntw_error_msg());
  assert_int_equal(err, 0);
  run_collect(&c, 30.0, &rest);
  ntw_test_sim_free(&c);

  /* the spikes after 10 ms: S2..S5 forced, T2..T5 2 ms later */
  size_t n_after = 0;
  for (size_t i = 0; i < full.n; i++) n_after += full.t[i] > 10.0 + 1e-9;
  assert_int_equal(n_after, 8);
  assert_int_equal(rest.n, n_after);
  size_t j = 0;
  for (size_t i = 0; i < full.n; i++) {
    if (!(full.t[i] > 10.0 + 1e-9)) continue;
    assert_int_equal(rest.gid[j], full.gid[i]);
    assert_true(fabs(rest.t[j] - full.t[i]) < 1e-9);
    j++;
  }
  assert_int_equal(first.n, 4); /* S0, S1, T0, T1 */
  ntw_test_spikes_free(&full), ntw_test_spikes_free(&first), ntw_test_spikes_free(&rest);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    unlink(path);
    rmdir(dir);
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_forced_survive_checkpoint),
};

NTW_TEST_MAIN(tests)

/* test_model_iaf_psc_exp.c - iaf_psc_exp against closed forms. Runs on any
 * number of ranks (meson: 1 and 2); the assertions are the same on all.
 *  - PSP: one presynaptic spike (stamped t_sp) with delay d reaches the
 *    target in the step ending at t_arr = t_sp + d; the synaptic current
 *    jumps to w at t_arr, so V(t) = E_L for t <= t_arr and
 *      V(t_arr + t) = E_L + w tau_s tau_m / (C (tau_m - tau_s))
 *                              (e^{-t/tau_m} - e^{-t/tau_s})
 *    (w t/C e^{-t/tau} when tau_s == tau_m) at every grid point, to 1e-9
 *    mV: excitatory (tau_syn_ex = 2), inhibitory (tau_syn_in = 5, negative
 *    weight, so port 1), tau_s == tau_m, and tau_s within 1e-12 and 1e-8
 *    (relative) of tau_m, where a naive propagator loses ~1e-6 mV or more.
 *    V is read after every window; the minimum delay is dt, so every
 *    window is one step.
 *  - DC: spike times equal the closed-form crossing times rounded up to
 *    the grid (I_e and a DC stimulus switched on at 7.3 ms).
 *  - bad parameters: tau_syn_ex <= 0 (and tau_syn_in, V_reset >= V_th)
 *    are rejected with an error naming populations[0].params.<name>. */
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

/* ---- PSP ---- */

/* The analytic PSP (mV) t ms after the current jumps to w pA. Independent
 * of the model's propagator: the textbook difference of exponentials in
 * long double; the limit w t/C e^{-t/tau} for equal time constants; and
 * for nearly equal ones (x = t (1/tau_s - 1/tau_m) tiny) the Taylor series
 * (1 - e^{-x})/x = 1 - x/2 + x^2/6 - x^3/24, exact to ~x^4/120. */
static double psp(double t, double w, double tau_s, double tau_m, double C) {
  long double ts = tau_s, tm = tau_m;
  if (tau_s == tau_m) return (double)(w * (long double)t / C * expl(-t / tm));
  long double x = (long double)t * (1 / ts - 1 / tm);
  if (fabsl(x) < 1e-4L) {
    long double f = 1 - x / 2 + x * x / 6 - x * x * x / 24; /* (1-e^-x)/x */
    return (double)(w * (long double)t / C * expl(-t / tm) * f);
  }
  return (double)(w * ts * tm / (C * (tm - ts)) * (expl(-t / tm) - expl(-t / ts)));
}

static void test_psp_closed_form(void **state) {
  (void)state;
  /* Pre (gid 0): a 1e5 pA pulse during step 10 ([1.0, 1.1) ms) lifts V by
   * P20 * 1e5 ~ 40 mV > 15 mV: one spike stamped 1.1 ms, then nothing.
   * Targets never spike (V_th high); each has the other port's time
   * constant set differently, so a port mix-up changes the PSP. Fields:
   * params, w, delay, E_L, tau_s, tau_m, C. */
  enum { NT = 5 };
  const ntw_test_psp_target tg[NT] = {
      {"\"E_L\": -65, \"tau_syn_ex\": 2, \"tau_syn_in\": 7", 100, 1.5, -65, 2, 10, 250},
      {"\"tau_syn_ex\": 2, \"tau_syn_in\": 5, \"C_m\": 200", -80, 0.1, -70, 5, 10, 200},
      {"\"tau_m\": 10, \"tau_syn_ex\": 10, \"tau_syn_in\": 3", 100, 2.0, -70, 10, 10, 250},
      {"\"tau_m\": 10, \"tau_syn_ex\": 10.00000000001", 100, 0.7, -70,
       10.00000000001, 10, 250},
      {"\"tau_m\": 20, \"tau_syn_in\": 19.9999998, \"E_L\": -60, \"V_m\": -60", -120, 3.3,
       -60, 19.9999998, 20, 250},
  };
  double peak[2 * NT];
  ntw_test_check_psp("iaf_psc_exp", tg, NT, psp, peak);
  for (int i = 0; i < 2 * NT; i++)
    assert_true(fabs(peak[i]) > 0.3); /* the comparison is not vacuous */
}

/* ---- DC ---- */

static void test_dc_exact(void **state) {
  (void)state;
  ntw_test_check_dc_exact("iaf_psc_exp");
}

/* ---- bad input ---- */

static void expect_error(const char *params, const char *field) {
  ntw_test_expect_param_error("iaf_psc_exp", params, field);
}

static void test_bad_params(void **state) {
  (void)state;
  expect_error("\"tau_syn_ex\": 0", "tau_syn_ex");
  expect_error("\"tau_syn_ex\": -2", "tau_syn_ex");
  expect_error("\"tau_syn_in\": 0", "tau_syn_in");
  expect_error("\"tau_m\": 0", "tau_m");
  expect_error("\"C_m\": -1", "C_m");
  expect_error("\"t_ref\": -0.1", "t_ref");
  expect_error("\"V_reset\": -55", "V_reset");
  expect_error("\"tau_syn\": 2", "tau_syn");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_psp_closed_form),
    cmocka_unit_test(test_dc_exact),
    cmocka_unit_test(test_bad_params),
};

NTW_TEST_MAIN(tests)

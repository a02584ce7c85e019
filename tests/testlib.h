/* testlib.h - what every engine-level test needs: build a network from a
 * JSON string on a communicator, collect the spikes of a run, gather them
 * from all ranks, and run a cmocka group under MPI (every rank runs the same
 * assertions; only rank 0 prints; the exit status is the worst rank's). */
#ifndef NTW_TESTLIB_H
#define NTW_TESTLIB_H

#include <mpi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "comm/comm.h"
#include "engine.h"
#include "io/config.h"
#include "partition/partition.h"

typedef struct {
  ntw_config *cfg;
  ntw_part *part;
  ntw_comm *comm;
  ntw_engine *eng;
} ntw_test_sim;

/* The comm backend tests use: $NTW_TEST_COMM, default "mpi". */
const char *ntw_test_comm(void);

/* Builds; returns the error (message in ntw_error_msg()) without asserting. */
int ntw_test_sim_try(ntw_test_sim *s, const char *json, MPI_Comm mc,
                     const char *strategy);
/* Builds and asserts success (printing the message if it fails). */
void ntw_test_sim_build(ntw_test_sim *s, const char *json, MPI_Comm mc,
                        const char *strategy);
void ntw_test_sim_free(ntw_test_sim *s);

/* Spikes as (gid, time in ms); grows as needed. Zero-initialise. */
typedef struct {
  uint64_t *gid;
  double *t;
  size_t n, cap;
} ntw_test_spikes;

/* AFTER_WINDOW hook appending the window's local spikes to ctx. */
int ntw_test_collect(ntw_engine *e, int64_t lo, int64_t hi, void *ctx);
/* All ranks' spikes on every rank of mc, sorted by (gid, time). */
void ntw_test_gather(const ntw_test_spikes *loc, ntw_test_spikes *all, MPI_Comm mc);
/* Room for at least n spikes (e.g. before receiving a broadcast). */
void ntw_test_spikes_reserve(ntw_test_spikes *s, size_t n);
void ntw_test_spikes_free(ntw_test_spikes *s);

/* Spike train of LIF neuron gid under constant current I (pA) from
 * t_first_start (ms), starting at v0 (mV above E_L): each spike at the
 * closed-form crossing of theta rounded up to the grid, then every
 * t_ref + crossing from vreset; exactly that many up to t_stop. Asserts. */
void ntw_test_check_lif_train(const ntw_test_spikes *all, uint64_t gid,
                              double t_first_start, double I, double tau,
                              double C, double theta, double vreset, double v0,
                              double tref, double dt, double t_stop);

/* A population of `model` (3 neurons) with params `params` (JSON members,
 * without braces) must be refused with one line naming
 * "test.json: populations[0].params.<field>:". Asserts. */
void ntw_test_expect_param_error(const char *model, const char *params,
                                 const char *field);

/* The PSP check of the current-based LIF models: neuron "pre" (gid 0) of
 * `model` spikes once at 1.1 ms (a 1e5 pA pulse in [1.0, 1.1) ms); it
 * reaches target j (gid 1 + j, V_th high, its own params) one_to_one with
 * weight w and delay; after every window (one step: the minimum delay is
 * dt = 0.1) V_j must equal E_L + psp(t - t_arrival, ...) to 1e-9 mV over
 * 400 steps, on round_robin and block. peak[s * n + j] gets the signed
 * largest deviation of V_j from E_L (strategy s) for the model's own
 * checks. Asserts. */
typedef struct {
  const char *params; /* JSON members of the target's params */
  double w, delay, E_L, tau_s, tau_m, C;
} ntw_test_psp_target;
typedef double (*ntw_test_psp_fn)(double t, double w, double tau_s, double tau_m,
                                  double C);
void ntw_test_check_psp(const char *model, const ntw_test_psp_target *tg, int n,
                        ntw_test_psp_fn psp, double *peak);

/* Spike trains of a current-based LIF `model` under constant current equal
 * the closed form on round_robin and block: A, 500 pA I_e from t = 0; B,
 * the same from a DC stimulus switched on at 7.3 ms; C, tau_m = 20, 370 pA,
 * V_m 5 mV above E_L, reset 10 above, t_ref 2.5 (synaptic time constants
 * set to odd values: irrelevant without input). Asserts. */
void ntw_test_check_dc_exact(const char *model);

/* MPI_Init, run the group (stdout of ranks > 0 silenced), MPI_Finalize;
 * returns 1 if any rank failed. */
int ntw_test_main(int argc, char **argv, const struct CMUnitTest *tests, size_t n);
#define NTW_TEST_MAIN(tests) \
  int main(int argc, char **argv) { \
    return ntw_test_main(argc, argv, tests, sizeof tests / sizeof *tests); \
  }

#endif

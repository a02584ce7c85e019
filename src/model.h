/* model.h - the neuron model interface.
 *
 * A model owns the state of one population's neurons on one rank (a block of
 * contiguous local indices) as structure-of-arrays, and advances them one
 * step with one tight loop. Models are registered by name in model.c.
 *
 * Input contract, per step of width dt:
 *   syn_in[p][i]  summed synaptic input arriving in this step on receptor
 *              port p (unit of the model's weights: mV for delta synapses,
 *              pA for current synapses, nS for conductances). A model has
 *              1 port (all input summed) or 2 ports: 0 excitatory, 1
 *              inhibitory; as in NEST, a synapse with a negative weight goes
 *              to port 1, and keeps its sign (conductance models use -w).
 *              The engine clears the slot after the step.
 *   i_ext[i]   external current in pA (DC stimuli), constant over the step.
 * Output: local indices (0-based in the block) of neurons that crossed
 * threshold in this step; the spike time is the end of the step.
 */
#ifndef NTW_MODEL_H
#define NTW_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/config.h"

typedef struct {
  const ntw_pop_cfg *pop; /* parameters as configured */
  int pop_index;          /* index in the config (for messages and streams) */
  const char *cfg_path;   /* config file, for messages */
  double dt;              /* ms */
  uint64_t seed;
  size_t n;               /* neurons in this block */
  const uint64_t *gids;   /* their global ids, ascending */
} ntw_model_init;

/* A dynamic state variable: a per-neuron array inside the model's state
 * struct (at `offset`, a double* or int32_t*). Checkpoints save exactly
 * these, in the model's internal representation, so a restore continues
 * bit for bit; parameters are re-derived from the config. */
typedef struct {
  const char *name; /* e.g. "V_m", "refractory_steps"; unit in the model doc */
  size_t offset;    /* offsetof(state struct, array pointer) */
  bool int32;       /* int32_t array (else double) */
} ntw_state_var;

typedef struct ntw_model_ops {
  size_t size; /* sizeof(ntw_model_ops) */
  const char *name;
  int nports; /* 1 or 2 receptor ports */
  /* Validate parameters (errors name "populations[i].params.X") and allocate
   * the block's state. Not collective. */
  int (*create)(const ntw_model_init *mi, void **state);
  /* Advance all neurons of the block by one step. */
  void (*update)(void *state, const double *const *syn_in,
                 const double *restrict i_ext, uint32_t *restrict spiked,
                 size_t *nspiked);
  /* Membrane potential of neuron i in mV (for probes and tests). */
  double (*get_v)(const void *state, size_t i);
  void (*destroy)(void *state);
  const ntw_state_var *state_vars;
  size_t nstate_vars;
} ntw_model_ops;

/* Copy state variable k of the block's n neurons out of / into buf. */
void ntw_model_state_get(const ntw_model_ops *ops, const void *state, size_t k,
                         size_t n, double *buf);
void ntw_model_state_set(const ntw_model_ops *ops, void *state, size_t k,
                         size_t n, const double *buf);

/* The model registered under name, or NULL. */
const ntw_model_ops *ntw_model_find(const char *name);
/* Comma-separated list of known models, for messages. */
const char *ntw_model_names(void);

/* ---- helpers for model implementations ---- */

/* A parameter a model accepts. */
typedef struct {
  const char *name;
  double def;        /* default when absent */
  double lo, hi;     /* valid closed range */
  bool lo_open;      /* lo itself excluded (e.g. time constants > 0) */
  bool per_neuron;   /* may be a distribution (drawn per neuron) */
  const char *unit;
} ntw_param_spec;

/* Check the population's params against specs: unknown names, ranges,
 * distributions where not allowed. Constant values (or defaults) go to
 * consts[k] for spec k; NaN there marks a distribution. */
int ntw_model_check_params(const ntw_model_init *mi, const ntw_param_spec *specs,
                           size_t nspecs, double *consts);

/* Per-neuron values of spec k (constant or drawn from its distribution,
 * keyed by gid, so the same on any partition). out has mi->n entries. */
void ntw_model_fill_param(const ntw_model_init *mi, const ntw_param_spec *specs,
                          size_t k, double *out);

/* Draw of a distribution keyed by (seed, stream, a, b). */
double ntw_dist_draw(const ntw_dist *d, uint64_t seed, uint32_t stream,
                     uint64_t a, uint32_t b);

#endif

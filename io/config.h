/* io/config.h - the JSON run configuration (parsed with jansson).
 *
 * A config is read once, validated completely, and then immutable. Every
 * error names the file and the JSON path of the field, e.g.
 *   "configs/x.json: projections[2].indegree: 900 exceeds the size of source
 *    population 'E' (800)".
 * Units: times in ms, rates in Hz, currents in pA, potentials in mV,
 * capacitances in pF, synaptic weights in the unit of the target model
 * (mV for delta synapses).
 *
 * Format (all keys; unknown keys are errors so typos never pass silently;
 * keys starting with '_', e.g. "_comment", are notes and ignored):
 * {
 *   "simulation": { "dt": 0.1, "t_stop": 1000.0, "seed": 12345,
 *                   "partition": "round_robin"|"block"|"graph",
 *                   "bind": "core"|"numa"|"none", "comm": "mpi"|"ofi",
 *                   "overlap": false|true,
 *                   "coupling_rank": "auto"|true|false },
 *   "populations": [ { "name": "E", "model": "iaf_psc_delta", "size": 8000,
 *                      "params": { "tau_m": 20.0, "V_m": VALUE, ... } } ],
 *   "projections": [ { "source": "E", "target": "I",
 *                      "rule": "fixed_indegree", "indegree": 800,
 *                      | "rule": "fixed_probability", "p": 0.1,
 *                      | "rule": "one_to_one" | "all_to_all"
 *                      | "rule": "fixed_total_number", "N": 1000000,
 *                      "weight": VALUE, "delay": VALUE,
 *                      "allow_autapses": true, "allow_multapses": true,
 *                      "synapse": { "model": "static" | "stdp" | "stdp_pl"
 *                                   | "tsodyks", PARAM: number, ... } } ],
 *   "stimuli": [ { "type": "poisson", "target": "E", "rate": 20000.0,
 *                  "weight": 0.1, "start": 0, "stop": 1e300 },
 *                { "type": "dc", "target": "E", "amplitude": 100.0,
 *                  "start": 0, "stop": 1e300 },
 *                { "type": "spike_times", "target": "P",
 *                  "times": [[1.0, 5.5], [], [2.0]],   one list per neuron
 *                  "node_ids": [0, 1, 7] },            optional, default 0..
 *                { "type": "noise", "target": "E", "mean": 0.0,
 *                  "std": 50.0, "tau": 5.0, "start": 0, "stop": 1e300 } ],
 * fixed_total_number (NEST's rule): exactly N synapses in the projection,
 * each (source, target) pair drawn uniformly among the possible ones
 * (sources other than the target itself when allow_autapses is false; with
 * allow_multapses false, N distinct pairs, so N <= n_src x n_tgt or
 * (n_src - 1) x n_tgt). N >= 0; an integer, or an integral real up to 2^53.
 * Built without communication: every rank draws the whole in-degree vector
 * of the target population, a multinomial(N; 1/n_tgt, ...) by sequential
 * conditional binomials in target-index order (multivariate hypergeometric
 * by conditional hypergeometrics without multapses), key (seed, stream
 * TOTAL|projection, target index), then the sources of its own targets as
 * fixed_indegree with that in-degree. Identical on any partition.
 * A spike_times stimulus forces the listed neurons to spike at the given
 * times (ms, rounded to the grid, ascending per neuron).
 * A noise stimulus adds to each target neuron's external current an
 * independent Ornstein-Uhlenbeck current I with stationary mean `mean` (pA,
 * optional, default 0), stationary standard deviation `std` (pA, >= 0) and
 * correlation time `tau` (ms, > 0): in each active step s (start <= t < stop,
 * both rounded to the grid) the neuron sees I_s, with I at the first active
 * step drawn from the stationary distribution N(mean, std^2) and then the
 * exact update I_{s+1} = mean + (I_s - mean) e^{-dt/tau}
 *                        + std sqrt(1 - e^{-2 dt/tau}) N(0,1).
 * The normal numbers are keyed by (seed, stimulus index, gid, step), so the
 * current is the same on any number of ranks. The neuron's external current
 * is the sum of its DC stimuli and its noise stimuli (in config order).
 *   "record": { "spikes": ["E", "I"],
 *               "weights": [ { "projection": 0, "interval": 10.0,
 *                              "sample": 1000 } ] }
 * }
 * record.weights: the weights of projection `projection` (an index into
 * "projections", each listed at most once) are written to DIR/weights.h5
 * (layout in io/README.md) at t = 0 and then every `interval` ms (> 0). The
 * engine exchanges spikes once per window, so recording happens at window
 * ends: the k-th record is taken at the end of the first window ending at or
 * after step k * max(1, round(interval / dt)), and its time is that window
 * end (a window end that covers several targets records once). `sample`
 * (optional, >= 1) keeps only the first N synapses in (target gid, source
 * gid, stored order) order; default all.
 * VALUE is a number, or a distribution object:
 *   {"distribution": "uniform", "low": a, "high": b}
 *   {"distribution": "normal", "mean": m, "std": s, "min": lo, "max": hi}
 *     (min/max optional, default -inf/+inf; draws outside are clipped)
 *   {"distribution": "lognormal", "mu": m, "sigma": s, "min":.., "max":..}
 * Delays must have a lower bound >= dt: a constant >= dt, a uniform with
 * low >= dt, or a normal/lognormal with "min" >= dt.
 */
#ifndef NTW_IO_CONFIG_H
#define NTW_IO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NTW_NAME_MAX 64

typedef enum {
  NTW_DIST_CONST = 0, /* a */
  NTW_DIST_UNIFORM,   /* [a, b) */
  NTW_DIST_NORMAL,    /* mean a, std b, clipped to [min, max] */
  NTW_DIST_LOGNORMAL  /* exp(N(a, b)), clipped to [min, max] */
} ntw_dist_kind;

typedef struct {
  ntw_dist_kind kind;
  double a, b;
  double min, max; /* clip bounds; -INFINITY/INFINITY when absent */
} ntw_dist;

/* The smallest value a draw can take (a for const, low for uniform, min for
 * normal/lognormal). */
double ntw_dist_lower(const ntw_dist *d);
/* The largest value a draw can take (may be INFINITY). */
double ntw_dist_upper(const ntw_dist *d);

typedef struct {
  char name[NTW_NAME_MAX]; /* as written in the file, e.g. "tau_m" */
  ntw_dist value;
} ntw_param;

typedef struct {
  char name[NTW_NAME_MAX];
  char model[NTW_NAME_MAX];
  uint64_t size;
  uint64_t first_gid; /* gids are contiguous per population, in file order */
  size_t nparams;
  ntw_param *params;
  bool record_spikes;
} ntw_pop_cfg;

typedef enum {
  NTW_RULE_FIXED_INDEGREE = 0,
  NTW_RULE_FIXED_PROBABILITY,
  NTW_RULE_ONE_TO_ONE,
  NTW_RULE_ALL_TO_ALL,
  NTW_RULE_FIXED_TOTAL_NUMBER
} ntw_rule;

typedef struct {
  int source, target; /* population indices */
  ntw_rule rule;
  uint64_t indegree; /* fixed_indegree */
  double p;          /* fixed_probability */
  uint64_t N;        /* fixed_total_number: synapses in the projection */
  ntw_dist weight;
  ntw_dist delay; /* ms */
  bool allow_autapses, allow_multapses;
  char syn_model[NTW_NAME_MAX]; /* "static" unless "synapse" says otherwise */
  size_t nsyn_params;
  ntw_param *syn_params; /* constants only; validated by the engine */
  /* The engine keeps an index of this projection's synapses (only needed
   * for static ones, which share one store): set for projections whose
   * weights are recorded or changed at run time (the twin's assimilation). */
  bool indexed;
} ntw_proj_cfg;

typedef enum {
  NTW_STIM_POISSON = 0,
  NTW_STIM_DC,
  NTW_STIM_SPIKE_TIMES,
  NTW_STIM_NOISE /* Ornstein-Uhlenbeck current */
} ntw_stim_kind;

typedef struct {
  ntw_stim_kind kind;
  int target;       /* population index */
  double rate;      /* Hz, poisson */
  double weight;    /* poisson: weight of each input event */
  double amplitude; /* pA, dc */
  double mean, std; /* pA, noise: stationary mean and standard deviation */
  double tau;       /* ms, noise: correlation time, > 0 */
  double start, stop; /* ms; active for start <= t < stop */
  size_t nspikes;      /* spike_times: (node, time) pairs, time in ms */
  uint64_t *spike_node;
  double *spike_time;
} ntw_stim_cfg;

/* One entry of "record": {"weights": [...]}. */
typedef struct {
  int proj;        /* index into projections */
  double interval; /* ms, > 0 */
  uint64_t sample; /* record the first `sample` synapses; UINT64_MAX = all */
} ntw_wrec_cfg;

/* Execution regimes (DESIGN.md, after Muzy): a config without "twin" is
 * offline. */
typedef enum {
  NTW_REGIME_OFFLINE = 0, /* as fast as possible, no biology */
  NTW_REGIME_REPLAY,      /* recorded biology, as fast as possible or paced */
  NTW_REGIME_TWIN,        /* live biology, paced, online assimilation */
  NTW_REGIME_CLOSED_LOOP  /* twin + stimulation back to the biology */
} ntw_regime;

typedef enum { NTW_LATE_DROP = 0, NTW_LATE_SHIFT, NTW_LATE_ABORT } ntw_late_policy;
typedef enum { NTW_STIMPOL_OFF = 0, NTW_STIMPOL_PERIODIC, NTW_STIMPOL_BURST } ntw_stim_policy;

#define NTW_TWIN_MAX_STIM_CH 64

/* The "twin" section (src/twin.h says what each field does). */
typedef struct {
  bool enabled;
  ntw_regime regime;
  /* source: a file read directly (replay only) or the bio link */
  bool from_file;
  char file[1024];
  char format[16];         /* recording format: auto|sjemea|nwb|mcs|csv */
  double from_s, to_s;     /* part of the file replayed (to_s <= 0: all) */
  bool pace;               /* lock windows to the wall clock */
  char events[256], commands[256]; /* link endpoints */
  uint64_t max_msg_bytes;
  int mirror, predict;     /* population indices */
  int stim_input;          /* population told of the twin's own stimulation, -1 = none */
  /* online assimilation of mirror -> predict weights */
  int assim_proj;          /* projection index, -1 = none */
  double eta, a, tau_ms, w_min, w_max, every_ms, until_s;
  /* fidelity */
  double delta_ms, interval_ms, rate_bin_ms;
  /* hybrid time */
  ntw_late_policy late;
  bool release_watermark;  /* run a window once the source's watermark has
                              passed its end (else: always the allowance) */
  double allowance_ms, slack_ms, peer_timeout_ms, heartbeat_ms,
      start_timeout_ms;
  double rt_priority;      /* SCHED_FIFO priority of every rank, 0 = off */
  bool lock_memory;        /* mlockall on every rank */
  /* stimulation (closed-loop) */
  ntw_stim_policy stim;
  size_t nstim_ch;
  char stim_ch[NTW_TWIN_MAX_STIM_CH][NTW_NAME_MAX]; /* electrode labels */
  double stim_amplitude, stim_period_ms, stim_horizon_ms, stim_refractory_ms,
      stim_factor, stim_alternate_s, stim_pulse_interval_ms;
  uint32_t stim_duration_us, stim_pulses;
} ntw_twin_cfg;

/* simulation.coupling_rank: whether rank 0 is the twin's dedicated coupling
 * rank (owns no neuron). */
typedef enum {
  NTW_COUPLING_AUTO = 0, /* on for a paced twin on >= 3 ranks (below) */
  NTW_COUPLING_OFF,
  NTW_COUPLING_ON /* also without a twin: rank 0 then just idles */
} ntw_coupling_mode;

typedef struct {
  double dt;     /* ms, > 0 */
  double t_stop; /* ms, >= 0 */
  uint64_t seed;
  char partition[NTW_NAME_MAX]; /* "round_robin" (default) | "block" | "graph" */
  char bind[NTW_NAME_MAX];      /* "core" (default) | "numa" | "none" */
  char comm[NTW_NAME_MAX];      /* "mpi" (default) or "ofi" (libfabric) */
  bool overlap; /* exchange spikes while computing (engine.h), default off */
  ntw_coupling_mode coupling_rank; /* default auto */
} ntw_sim_cfg;

typedef struct ntw_config {
  char *path; /* file the config came from (for messages) */
  char *text; /* the whole JSON text as read (saved with results) */
  ntw_sim_cfg sim;
  size_t npops;
  ntw_pop_cfg *pops;
  size_t nprojs;
  ntw_proj_cfg *projs;
  size_t nstims;
  ntw_stim_cfg *stims;
  size_t nwrecs; /* weight recordings, at most one per projection */
  ntw_wrec_cfg *wrecs;
  uint64_t n_neurons; /* sum of population sizes */
  ntw_twin_cfg twin;   /* twin.enabled false: offline */
} ntw_config;

const char *ntw_regime_name(ntw_regime r);

/* Parse and validate JSON text. `path` is used in error messages only.
 * Not collective. On failure *out is NULL and ntw_error_msg() says why. */
int ntw_config_parse(const char *text, size_t len, const char *path,
                     ntw_config **out);

/* Read the whole file into a NUL-terminated buffer (*len without the NUL).
 * Error message: "<path>: cannot read: <strerror>". */
int ntw_config_read_file(const char *path, char **text, size_t *len);

/* NULL-safe; sets *cfg = NULL. */
void ntw_config_destroy(ntw_config **cfg);

/* Index of a population by name, or -1. */
int ntw_config_pop_index(const ntw_config *cfg, const char *name);

/* Lookup of a population parameter by name; NULL if absent. */
const ntw_param *ntw_config_param(const ntw_pop_cfg *pop, const char *name);

/* Whether a run of cfg on nranks ranks reserves rank 0 for the coupling
 * (DESIGN.md "Bio link"): on/off as configured; auto is on when the config
 * has a paced twin (a link source, or a file with source.pace true) and
 * nranks >= 3, off otherwise (offline runs, unpaced replay, 1-2 ranks). It
 * does not check that nranks >= 2 for "on": the partition refuses that. */
bool ntw_config_coupling_rank(const ntw_config *cfg, int nranks);

/* Apply command-line overrides after parsing (NULL = keep). Nothing is
 * changed unless all of them are valid.
 * Validates them like the file's own fields (field named "--t-stop" etc.). */
int ntw_config_override(ntw_config *cfg, const double *t_stop,
                        const uint64_t *seed, const char *partition,
                        const char *bind, const char *comm);

#endif

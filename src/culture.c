/* culture.c - `ntwin culture`: a stand-in living neuronal culture on a
 * 60-electrode MEA, speaking the bio link (io/BIOLINK.md) so that a twin
 * cannot tell it from an acquisition system.
 *
 *   ntwin culture CULTURE.json --out DIR [--t-stop S] [--seed N]
 *                 [--events EP] [--commands EP] [--no-pace] [--no-link]
 *                 [--wait-peer S] [--rt-priority N] [--quiet]
 *
 * CULTURE.json (unknown keys are errors; keys starting with '_' are notes):
 * {
 *   "network": { a normal ntwin config (io/config.h): "simulation" (dt,
 *                t_stop in ms = the culture's duration, seed), populations,
 *                projections, stimuli. A population is excitatory when every
 *                projection leaving it has weights >= 0. },
 *   "mea": { "pitch_um": 200,          electrode pitch (MCS 60MEA200)
 *            "margin_um": 100,         neurons lie in [-margin, 7 pitch +
 *                                      margin]^2, uniformly (positions from
 *                                      the counter-based RNG keyed by seed
 *                                      and gid: reproducible)
 *            "pickup_radius_um": 50,   an electrode sees the neurons within
 *                                      this distance (~3 per electrode for
 *                                      1000 neurons)
 *            "miss_prob": 0.0,         each seen spike is missed with this
 *                                      probability
 *            "noise_hz": 0.0,          Poisson noise spikes per electrode
 *            "dead_time_ms": 0.0 },    after a detection an electrode
 *                                      detects nothing for this long (a
 *                                      threshold detector's dead time;
 *                                      0: one detection per µs)
 *   "stimulation": { "radius_um": 100, a STIM on an electrode reaches the
 *                                      neurons within this distance
 *                    "amp50_mv": 400, "slope_mv": 100, "p_max": 0.9,
 *                                      each fires with probability
 *                                      p_max / (1 + exp(-(|A| - amp50)/slope))
 *                                      for amplitude A (mV)
 *                    "latency_ms": [1.0, 3.0] }  at the stimulus time plus a
 *                                      latency uniform in this range
 *   "changes": [ hidden changes, applied at the first window starting at or
 *                after t (s); GROUP is a list of electrode labels
 *                (["12", "13"]) or "NW", "NE", "SW", "SE" (quadrants: x, y
 *                below or above the array's centre; N = rows 1-4) or "all";
 *                a neuron belongs to the group of its nearest electrode
 *                (its Voronoi cell):
 *     {"t": 15, "kind": "potentiate", "from": GROUP, "to": GROUP, "factor": 2}
 *          every synapse from an excitatory neuron of `from` onto a neuron
 *          of `to`: w *= factor;
 *     {"t": 15, "kind": "lesion", "region": GROUP, "fraction": 0.5}
 *          each synapse with both ends in `region` is set to 0 with
 *          probability `fraction` (RNG keyed by seed, change, synapse);
 *     {"t": 15, "kind": "drug", "factor": 0.6}
 *          every synapse from an excitatory neuron: w *= factor ]
 * }
 * Groups, layout and ids: src/culture.h. Defaults above apply to missing
 * keys of "mea" and "stimulation" (both objects optional); "changes"
 * optional.
 *
 * The run: one rank (the engine on MPI_COMM_SELF). Time advances in the
 * engine's windows of D = min delay; paced, window [t, t+D) runs once the
 * wall clock (CLOCK_MONOTONIC) has reached start + t + D - like an
 * acquisition block that is published once it has been acquired - and its
 * observed spikes go out at once in one SPIKES message, also when empty: an
 * empty block tells the twin that nothing happened up to t + D, which it
 * needs to advance (conservative synchronisation). The culture clock (spike
 * t_us, message stamps, heartbeats) is µs since start, so the twin's clock
 * fit relates the same timebase the spikes use. HELLO at start and every 1 s
 * until the twin's first heartbeat, then every 10 s, and every 10 ms while
 * it could not be queued (no twin connected to the events socket);
 * heartbeats every 100 ms. A twin that vanishes does not stop the culture.
 * Outputs: DIR/culture.h5 (ground truth, layout in README.md) and
 * DIR/culture_report.json, both written through a .tmp and renamed.
 */
#include "culture.h"

#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "comm/comm.h"
#include "core/ntw_error.h"
#include "core/realtime.h"
#include "core/rng.h"
#include "engine.h"
#include "io/biolink.h"
#include "io/outdir.h"
#include "io/recording.h"
#include "partition/partition.h"

/* Random streams of the culture (above the engine's, see core/rng.h). */
enum {
  CUL_STREAM_POS = 0x40u << 24,    /* neuron positions (a = gid) */
  CUL_STREAM_MISS = 0x41u << 24,   /* missed spikes (a = gid, b = step) */
  CUL_STREAM_NOISE = 0x42u << 24,  /* noise spikes (a = channel, b = window) */
  CUL_STREAM_STIM = 0x43u << 24,   /* stimulation (a = gid, b = stim index) */
  CUL_STREAM_CHANGE = 0x44u << 24, /* lesions (| change index; a = synapse) */
};

/* ---- layout ---------------------------------------------------------- */

void ntw_mea_electrode(int channel, double pitch_um, double *x_um,
                       double *y_um, char label[3]) {
  /* Column 1 and 8 have rows 2-7 (6 electrodes), the others 8. */
  int col, row;
  if (channel < 6) {
    col = 1, row = 2 + channel;
  } else if (channel < 54) {
    col = 2 + (channel - 6) / 8, row = 1 + (channel - 6) % 8;
  } else {
    col = 8, row = 2 + (channel - 54);
  }
  *x_um = (col - 1) * pitch_um;
  *y_um = (row - 1) * pitch_um;
  label[0] = (char)('0' + col), label[1] = (char)('0' + row), label[2] = '\0';
}

int ntw_mea_channel(const char *s) {
  if (!s || strlen(s) != 2 || s[0] < '1' || s[0] > '8' || s[1] < '1' || s[1] > '8')
    return -1;
  int col = s[0] - '0', row = s[1] - '0';
  bool edge_col = col == 1 || col == 8;
  if (edge_col && (row == 1 || row == 8)) return -1;
  if (col == 1) return row - 2;
  if (col == 8) return 54 + row - 2;
  return 6 + (col - 2) * 8 + row - 1;
}

/* ---- CULTURE.json ---------------------------------------------------- */

static int check_keys(const char *path, const char *where, json_t *obj,
                      const char *const *keys) {
  NTW_CHECK(json_is_object(obj), NTW_ERR_CONFIG, "%s: %s: must be an object",
            path, where);
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    if (k[0] == '_') continue;
    bool ok = false;
    for (size_t i = 0; keys[i]; i++) ok |= strcmp(k, keys[i]) == 0;
    NTW_CHECK(ok, NTW_ERR_CONFIG, "%s: %s%s%s: unknown field", path, where,
              *where ? "." : "", k);
  }
  return 0;
}

/* obj.key as a number in [lo, hi] (lo excluded when lo_open), default def
 * when absent (NAN = required). */
static int get_num(const char *path, const char *where, json_t *obj,
                   const char *key, double def, double lo, bool lo_open,
                   double hi, double *out) {
  json_t *v = json_object_get(obj, key);
  if (!v) {
    NTW_CHECK(!isnan(def), NTW_ERR_CONFIG, "%s: %s.%s: missing required field",
              path, where, key);
    *out = def;
    return 0;
  }
  NTW_CHECK(json_is_number(v), NTW_ERR_CONFIG, "%s: %s.%s: must be a number",
            path, where, key);
  double x = json_number_value(v);
  bool bad = !isfinite(x) || (lo_open ? !(x > lo) : !(x >= lo)) || x > hi;
  NTW_CHECK(!bad, NTW_ERR_CONFIG, "%s: %s.%s: must lie in %c%g, %g] (got %g)",
            path, where, key, lo_open ? '(' : '[', lo, hi, x);
  *out = x;
  return 0;
}

/* A GROUP: electrode labels or a quadrant name, into a channel set. */
static int get_group(const char *path, const char *where, json_t *v,
                     double pitch, uint8_t set[NTW_MEA_N]) {
  memset(set, 0, NTW_MEA_N);
  NTW_CHECK(v, NTW_ERR_CONFIG, "%s: %s: missing required field", path, where);
  if (json_is_string(v)) {
    const char *q = json_string_value(v);
    double c = 3.5 * pitch, x, y;
    char lab[3];
    int mode = !strcmp(q, "all")  ? 0 : !strcmp(q, "NW") ? 1
               : !strcmp(q, "NE") ? 2 : !strcmp(q, "SW") ? 3
               : !strcmp(q, "SE") ? 4 : -1;
    NTW_CHECK(mode >= 0, NTW_ERR_CONFIG,
              "%s: %s: '%s' is not a group (a list of electrode labels, or "
              "\"NW\", \"NE\", \"SW\", \"SE\", \"all\")", path, where, q);
    for (int ch = 0; ch < NTW_MEA_N; ch++) {
      ntw_mea_electrode(ch, pitch, &x, &y, lab);
      bool west = x < c, north = y < c;
      set[ch] = mode == 0 || (mode == 1 && north && west) ||
                (mode == 2 && north && !west) || (mode == 3 && !north && west) ||
                (mode == 4 && !north && !west);
    }
    return 0;
  }
  NTW_CHECK(json_is_array(v) && json_array_size(v) > 0, NTW_ERR_CONFIG,
            "%s: %s: must be a non-empty list of electrode labels or a "
            "quadrant name", path, where);
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    int ch = json_is_string(e) ? ntw_mea_channel(json_string_value(e)) : -1;
    NTW_CHECK(ch >= 0, NTW_ERR_CONFIG,
              "%s: %s[%zu]: not an electrode label of the 60-electrode MEA "
              "(\"12\"..\"87\", corners excluded)", path, where, i);
    set[ch] = 1;
  }
  return 0;
}

static int cmp_change(const void *a, const void *b) {
  const ntw_change *x = a, *y = b;
  return (x->t_s > y->t_s) - (x->t_s < y->t_s);
}

static int parse_changes(const char *path, json_t *arr, ntw_culture_cfg *c) {
  NTW_CHECK(json_is_array(arr), NTW_ERR_CONFIG, "%s: changes: must be a list",
            path);
  size_t n = json_array_size(arr);
  c->changes = calloc(n + 1, sizeof *c->changes);
  NTW_ALLOC_CHECK(c->changes);
  double t_end = c->net->sim.t_stop * 1e-3;
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_array_get(arr, i);
    char where[64];
    snprintf(where, sizeof where, "changes[%zu]", i);
    static const char *const keys[] = {"t", "kind", "from", "to", "factor",
                                       "region", "fraction", NULL};
    NTW_TRY(check_keys(path, where, o, keys));
    ntw_change *ch = &c->changes[i];
    c->nchanges = i + 1;
    NTW_TRY(get_num(path, where, o, "t", NAN, 0, false, 1e9, &ch->t_s));
    json_t *k = json_object_get(o, "kind");
    NTW_CHECK(k, NTW_ERR_CONFIG, "%s: %s.kind: missing required field", path, where);
    const char *ks = json_is_string(k) ? json_string_value(k) : "";
    char f[96];
    if (!strcmp(ks, "potentiate")) {
      ch->kind = NTW_CHANGE_POTENTIATE;
      snprintf(f, sizeof f, "%s.from", where);
      NTW_TRY(get_group(path, f, json_object_get(o, "from"), c->pitch_um, ch->from));
      snprintf(f, sizeof f, "%s.to", where);
      NTW_TRY(get_group(path, f, json_object_get(o, "to"), c->pitch_um, ch->to));
      NTW_TRY(get_num(path, where, o, "factor", NAN, 0, false, 1e6, &ch->factor));
    } else if (!strcmp(ks, "lesion")) {
      ch->kind = NTW_CHANGE_LESION;
      snprintf(f, sizeof f, "%s.region", where);
      NTW_TRY(get_group(path, f, json_object_get(o, "region"), c->pitch_um, ch->from));
      NTW_TRY(get_num(path, where, o, "fraction", NAN, 0, false, 1, &ch->fraction));
    } else if (!strcmp(ks, "drug")) {
      ch->kind = NTW_CHANGE_DRUG;
      NTW_TRY(get_num(path, where, o, "factor", NAN, 0, false, 1e6, &ch->factor));
    } else {
      return NTW_ERR(NTW_ERR_CONFIG,
                     "%s: %s.kind: must be \"potentiate\", \"lesion\" or \"drug\"",
                     path, where);
    }
    /* Fields of another kind are typos, not notes. */
    static const char *const kind_keys[3][6] = {
        {"t", "kind", "from", "to", "factor", NULL},
        {"t", "kind", "region", "fraction", NULL},
        {"t", "kind", "factor", NULL}};
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) {
      bool ok = key[0] == '_';
      for (int q = 0; kind_keys[ch->kind][q]; q++) ok |= !strcmp(key, kind_keys[ch->kind][q]);
      NTW_CHECK(ok, NTW_ERR_CONFIG, "%s: %s.%s: not a field of kind \"%s\"", path,
                where, key, ks);
    }
    NTW_CHECK(ch->t_s < t_end, NTW_ERR_CONFIG,
              "%s: %s.t: %g s is not before the end of the culture "
              "(network.simulation.t_stop = %g s)", path, where, ch->t_s, t_end);
    ch->desc = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    NTW_ALLOC_CHECK(ch->desc);
  }
  qsort(c->changes, c->nchanges, sizeof *c->changes, cmp_change);
  return 0;
}

static int culture_parse(const char *path, ntw_culture_cfg *c) {
  json_error_t jerr;
  json_t *root = json_loads(c->text, JSON_REJECT_DUPLICATES, &jerr);
  NTW_CHECK(root, NTW_ERR_CONFIG, "%s: line %d: %s", path, jerr.line, jerr.text);
  int err = 0;
  char *net_text = NULL;
  static const char *const top[] = {"network", "mea", "stimulation", "changes", NULL};
  if ((err = check_keys(path, "", root, top))) goto out;
  json_t *net = json_object_get(root, "network");
  if (!net) {
    err = NTW_ERR(NTW_ERR_CONFIG, "%s: network: missing required field", path);
    goto out;
  }
  if (!json_is_object(net)) {
    err = NTW_ERR(NTW_ERR_CONFIG, "%s: network: must be an object (an ntwin config)", path);
    goto out;
  }
  /* The sub-object through the normal parser: its messages then read
   * "FILE: network: populations[0].size: ...". */
  net_text = json_dumps(net, JSON_COMPACT);
  if (!net_text) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory");
    goto out;
  }
  char npath[4200];
  snprintf(npath, sizeof npath, "%s: network", path);
  if ((err = ntw_config_parse(net_text, strlen(net_text), npath, &c->net))) goto out;

  json_t *mea = json_object_get(root, "mea");
  json_t *empty = json_object();
  if (!mea) mea = empty;
  static const char *const mkeys[] = {"pitch_um", "margin_um", "pickup_radius_um",
                                      "miss_prob", "noise_hz", "dead_time_ms", NULL};
  if (!err) err = check_keys(path, "mea", mea, mkeys);
  if (!err) err = get_num(path, "mea", mea, "pitch_um", 200, 0, true, 1e5, &c->pitch_um);
  if (!err) err = get_num(path, "mea", mea, "margin_um", 100, 0, false, 1e5, &c->margin_um);
  if (!err) err = get_num(path, "mea", mea, "pickup_radius_um", 50, 0, true, 1e5,
                          &c->pickup_radius_um);
  if (!err) err = get_num(path, "mea", mea, "miss_prob", 0, 0, false, 1, &c->miss_prob);
  if (!err) err = get_num(path, "mea", mea, "noise_hz", 0, 0, false, 1e4, &c->noise_hz);
  if (!err) err = get_num(path, "mea", mea, "dead_time_ms", 0, 0, false, 1e3, &c->dead_time_ms);
  json_t *st = json_object_get(root, "stimulation");
  if (!st) st = empty;
  static const char *const skeys[] = {"radius_um", "amp50_mv", "slope_mv", "p_max",
                                      "latency_ms", NULL};
  if (!err) err = check_keys(path, "stimulation", st, skeys);
  if (!err) err = get_num(path, "stimulation", st, "radius_um", 100, 0, true, 1e5,
                          &c->stim_radius_um);
  if (!err) err = get_num(path, "stimulation", st, "amp50_mv", 400, 0, false, 1e6,
                          &c->amp50_mv);
  if (!err) err = get_num(path, "stimulation", st, "slope_mv", 100, 0, true, 1e6,
                          &c->slope_mv);
  if (!err) err = get_num(path, "stimulation", st, "p_max", 0.9, 0, false, 1, &c->p_max);
  c->lat_min_ms = 1.0, c->lat_max_ms = 3.0;
  json_t *lat = json_object_get(st, "latency_ms");
  if (!err && lat) {
    bool ok = json_is_array(lat) && json_array_size(lat) == 2 &&
              json_is_number(json_array_get(lat, 0)) &&
              json_is_number(json_array_get(lat, 1));
    if (ok) {
      c->lat_min_ms = json_number_value(json_array_get(lat, 0));
      c->lat_max_ms = json_number_value(json_array_get(lat, 1));
    }
    /* Forced spikes must land after the step being executed. */
    if (!ok || !(c->lat_min_ms >= c->net->sim.dt) || !(c->lat_max_ms >= c->lat_min_ms) ||
        !(c->lat_max_ms <= 1000))
      err = NTW_ERR(NTW_ERR_CONFIG,
                    "%s: stimulation.latency_ms: must be [min, max] with dt (%g "
                    "ms) <= min <= max <= 1000", path, c->net->sim.dt);
  }
  json_t *chg = json_object_get(root, "changes");
  if (!err && chg) err = parse_changes(path, chg, c);
  json_decref(empty);
out:
  free(net_text);
  json_decref(root);
  return err;
}

void ntw_culture_cfg_destroy(ntw_culture_cfg **pc) {
  if (!pc || !*pc) return;
  ntw_culture_cfg *c = *pc;
  ntw_config_destroy(&c->net);
  for (size_t i = 0; i < c->nchanges; i++) free(c->changes[i].desc);
  free(c->changes);
  free(c->text);
  free(c);
  *pc = NULL;
}

int ntw_culture_cfg_load(const char *path, ntw_culture_cfg **out) {
  *out = NULL;
  ntw_culture_cfg *c = calloc(1, sizeof *c);
  NTW_ALLOC_CHECK(c);
  size_t len;
  int err = ntw_config_read_file(path, &c->text, &len);
  if (!err) err = culture_parse(path, c);
  if (err) {
    ntw_culture_cfg_destroy(&c);
    return err;
  }
  *out = c;
  return 0;
}

/* ---- the running culture --------------------------------------------- */

typedef struct {
  const char *config, *out, *events, *commands;
  double t_stop_s, wait_peer_s;
  int rt_priority; /* SCHED_FIFO, 0 = off */
  bool has_t_stop, has_seed, pace, link, quiet;
  uint64_t seed;
} cul_args;

typedef struct { /* a growable array of fixed-size items */
  void *p;
  size_t n, cap, size;
} vec;

static int vec_push(vec *v, const void *item) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? 2 * v->cap : 1024;
    void *np = realloc(v->p, cap * v->size);
    NTW_ALLOC_CHECK(np);
    v->p = np, v->cap = cap;
  }
  memcpy((char *)v->p + v->n * v->size, item, v->size);
  v->n++;
  return 0;
}

typedef struct {
  uint16_t channel;
  uint64_t t_us, received_t_us, applied_t_us;
  float amplitude;
  uint32_t duration_us, n_activated;
  uint8_t late;
} stim_rec;

typedef struct {
  uint64_t gid;
  int64_t step;
} spike_rec;

typedef struct {
  const cul_args *args;
  ntw_culture_cfg *cc;
  const ntw_config *cfg;
  ntw_engine *eng;
  uint64_t N, seed;
  double dt; /* ms */
  int D;     /* window, steps */
  uint8_t *exc; /* per gid: 1 if its population is excitatory */
  double *x, *y;
  int32_t *cell;            /* nearest electrode (Voronoi cell) */
  double ex[NTW_MEA_N], ey[NTW_MEA_N];
  char label[NTW_MEA_N][3];
  uint64_t *pick_ptr, *pick_gid;  /* electrode -> neurons seen (CSR) */
  uint64_t *seen_ptr;             /* gid -> electrodes that see it (CSR) */
  uint16_t *seen_ch;
  uint64_t *stim_ptr, *stim_gid;  /* electrode -> neurons a stim reaches */
  /* results */
  vec spikes;   /* spike_rec: the culture's own */
  vec obs;      /* ntw_bio_event: what the MEA published */
  vec win;      /* ntw_bio_event: this window's */
  vec stims;    /* stim_rec */
  vec fgid, fstep; /* uint64 gid, int64 stamp: one STIM message's evoked
                      spikes, forced on the engine in one call */
  vec G, G_t, G_phase; /* float[60*60], double, int8 */
  uint32_t G_cnt[NTW_MEA_N * NTW_MEA_N];
  uint64_t n_missed, n_noise, n_dead;
  uint64_t obs_per_ch[NTW_MEA_N];
  uint64_t last_det_us[NTW_MEA_N]; /* last detection + 1 (0: none yet) */
  uint64_t *change_hits;
  double *change_at_s;
  /* link */
  ntw_biolink *link;
  bool clock_started, peer_heartbeat, hello_dropped;
  struct timespec t0;
  uint64_t stim_late, stim_applied, stim_activated;
} culture;

static volatile sig_atomic_t cul_signal;
static void cul_on_signal(int sig) { cul_signal = sig; }

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The culture clock: µs since its start (0 before), the link's stamps too. */
static uint64_t cul_clock(void *ctx) {
  culture *c = ctx;
  if (!c->clock_started) return 0;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t us = (int64_t)(ts.tv_sec - c->t0.tv_sec) * 1000000 +
               (ts.tv_nsec - c->t0.tv_nsec) / 1000;
  return us > 0 ? (uint64_t)us : 0;
}

static int cul_parse_args(int argc, char **argv, cul_args *a) {
  memset(a, 0, sizeof *a);
  a->pace = a->link = true;
  a->events = NTW_BIO_EVENTS_DEFAULT;
  a->commands = NTW_BIO_COMMANDS_DEFAULT;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--quiet")) { a->quiet = true; continue; }
    if (!strcmp(o, "--no-pace")) { a->pace = false; continue; }
    if (!strcmp(o, "--no-link")) { a->link = false; continue; }
    if (o[0] != '-') {
      NTW_CHECK(!a->config, NTW_ERR_ARG, "unexpected argument '%s'", o);
      a->config = o;
      continue;
    }
    static const char *const with_value[] = {"--out", "--t-stop", "--seed", "--events",
                                             "--commands", "--wait-peer", "--rt-priority"};
    bool known = false;
    for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
      known |= strcmp(o, with_value[k]) == 0;
    NTW_CHECK(known, NTW_ERR_ARG, "unknown option '%s'", o);
    NTW_CHECK(v, NTW_ERR_ARG, "%s: missing value", o);
    i++;
    char *end;
    if (!strcmp(o, "--out")) {
      a->out = v;
    } else if (!strcmp(o, "--events")) {
      a->events = v;
    } else if (!strcmp(o, "--commands")) {
      a->commands = v;
    } else if (!strcmp(o, "--t-stop")) {
      a->t_stop_s = strtod(v, &end);
      NTW_CHECK(*v && !*end && isfinite(a->t_stop_s) && a->t_stop_s > 0, NTW_ERR_ARG,
                "--t-stop: not a positive number of seconds ('%s')", v);
      a->has_t_stop = true;
    } else if (!strcmp(o, "--rt-priority")) {
      long p = strtol(v, &end, 10);
      NTW_CHECK(*v && !*end && p >= 1 && p <= 98, NTW_ERR_ARG,
                "--rt-priority: not an integer in [1, 98] ('%s')", v);
      a->rt_priority = (int)p;
    } else if (!strcmp(o, "--wait-peer")) {
      a->wait_peer_s = strtod(v, &end);
      NTW_CHECK(*v && !*end && isfinite(a->wait_peer_s) && a->wait_peer_s >= 0,
                NTW_ERR_ARG, "--wait-peer: not a number of seconds >= 0 ('%s')", v);
    } else {
      errno = 0;
      a->seed = strtoull(v, &end, 10);
      NTW_CHECK(*v && !*end && v[0] != '-' && !errno, NTW_ERR_ARG,
                "--seed: not a non-negative integer ('%s')", v);
      a->has_seed = true;
    }
  }
  NTW_CHECK(a->config, NTW_ERR_ARG, "missing CULTURE.json");
  NTW_CHECK(a->out, NTW_ERR_ARG, "missing --out DIR");
  return 0;
}

/* Positions, cells, pickup and stimulation neighbourhoods. */
static int build_geometry(culture *c) {
  const ntw_culture_cfg *cc = c->cc;
  const uint64_t N = c->N;
  c->x = malloc(N * sizeof *c->x);
  c->y = malloc(N * sizeof *c->y);
  c->cell = malloc(N * sizeof *c->cell);
  c->exc = calloc(N, 1);
  c->seen_ptr = calloc(N + 1, sizeof *c->seen_ptr);
  c->pick_ptr = calloc(NTW_MEA_N + 1, sizeof *c->pick_ptr);
  c->stim_ptr = calloc(NTW_MEA_N + 1, sizeof *c->stim_ptr);
  NTW_CHECK(c->x && c->y && c->cell && c->exc && c->seen_ptr && c->pick_ptr && c->stim_ptr,
            NTW_ERR_NOMEM, "out of memory for the culture's geometry");
  for (int e = 0; e < NTW_MEA_N; e++)
    ntw_mea_electrode(e, cc->pitch_um, &c->ex[e], &c->ey[e], c->label[e]);
  const ntw_config *cfg = c->cfg;
  for (size_t p = 0; p < cfg->npops; p++) {
    bool out = false, pos = true;
    for (size_t k = 0; k < cfg->nprojs; k++)
      if (cfg->projs[k].source == (int)p) {
        out = true;
        pos &= ntw_dist_lower(&cfg->projs[k].weight) >= 0;
      }
    for (uint64_t i = 0; i < cfg->pops[p].size; i++)
      c->exc[cfg->pops[p].first_gid + i] = out && pos;
  }
  const double side = 7 * cc->pitch_um + 2 * cc->margin_um;
  const double r2 = cc->pickup_radius_um * cc->pickup_radius_um;
  const double s2 = cc->stim_radius_um * cc->stim_radius_um;
  for (uint64_t g = 0; g < N; g++) {
    ntw_rng_block r = ntw_rng(c->seed, CUL_STREAM_POS, g, 0);
    c->x[g] = -cc->margin_um + side * ntw_u01(r.v[0], r.v[1]);
    c->y[g] = -cc->margin_um + side * ntw_u01(r.v[2], r.v[3]);
    double best = INFINITY;
    for (int e = 0; e < NTW_MEA_N; e++) {
      double dx = c->x[g] - c->ex[e], dy = c->y[g] - c->ey[e], d2 = dx * dx + dy * dy;
      if (d2 < best) best = d2, c->cell[g] = e; /* ties: the lower channel */
      if (d2 <= r2) c->pick_ptr[e + 1]++, c->seen_ptr[g + 1]++;
      if (d2 <= s2) c->stim_ptr[e + 1]++;
    }
  }
  for (int e = 0; e < NTW_MEA_N; e++) {
    c->pick_ptr[e + 1] += c->pick_ptr[e];
    c->stim_ptr[e + 1] += c->stim_ptr[e];
  }
  for (uint64_t g = 0; g < N; g++) c->seen_ptr[g + 1] += c->seen_ptr[g];
  c->pick_gid = malloc((c->pick_ptr[NTW_MEA_N] + 1) * sizeof *c->pick_gid);
  c->stim_gid = malloc((c->stim_ptr[NTW_MEA_N] + 1) * sizeof *c->stim_gid);
  c->seen_ch = malloc((c->seen_ptr[N] + 1) * sizeof *c->seen_ch);
  NTW_CHECK(c->pick_gid && c->stim_gid && c->seen_ch, NTW_ERR_NOMEM,
            "out of memory for the electrodes' neurons");
  uint64_t fp[NTW_MEA_N], fs[NTW_MEA_N];
  memcpy(fp, c->pick_ptr, sizeof fp);
  memcpy(fs, c->stim_ptr, sizeof fs);
  for (uint64_t g = 0; g < N; g++) {
    uint64_t q = c->seen_ptr[g];
    for (int e = 0; e < NTW_MEA_N; e++) {
      double dx = c->x[g] - c->ex[e], dy = c->y[g] - c->ey[e], d2 = dx * dx + dy * dy;
      if (d2 <= r2) c->pick_gid[fp[e]++] = g, c->seen_ch[q++] = (uint16_t)e;
      if (d2 <= s2) c->stim_gid[fs[e]++] = g;
    }
  }
  return 0;
}

/* ---- ground-truth effective weights ---- */

typedef struct {
  culture *c;
  double sum[NTW_MEA_N * NTW_MEA_N];
  uint32_t cnt[NTW_MEA_N * NTW_MEA_N];
} g_acc;

static void g_visit(uint64_t src, uint64_t tgt, float w, int delay, void *ctx) {
  g_acc *a = ctx;
  if (!a->c->exc[src]) return;
  size_t k = (size_t)a->c->cell[tgt] * NTW_MEA_N + (size_t)a->c->cell[src];
  a->sum[k] += w;
  a->cnt[k]++;
}

/* G[e][j]: mean weight of the excitatory synapses from the neurons of
 * electrode j's cell onto those of electrode e's cell (NAN if none). */
static int sample_G(culture *c, double t_s, int8_t phase) {
  g_acc *a = calloc(1, sizeof *a);
  NTW_ALLOC_CHECK(a);
  a->c = c;
  ntw_engine_foreach_synapse(c->eng, g_visit, a);
  float G[NTW_MEA_N * NTW_MEA_N];
  for (size_t k = 0; k < NTW_MEA_N * NTW_MEA_N; k++)
    G[k] = a->cnt[k] ? (float)(a->sum[k] / a->cnt[k]) : NAN;
  memcpy(c->G_cnt, a->cnt, sizeof c->G_cnt);
  free(a);
  NTW_TRY(vec_push(&c->G, G));
  NTW_TRY(vec_push(&c->G_t, &t_s));
  return vec_push(&c->G_phase, &phase);
}

/* ---- hidden changes ---- */

typedef struct {
  culture *c;
  const ntw_change *ch;
  uint32_t stream;
  uint64_t visited, hits;
} change_ctx;

static void change_visit(uint64_t src, uint64_t tgt, float *w, void *ctx) {
  change_ctx *x = ctx;
  culture *c = x->c;
  const ntw_change *ch = x->ch;
  const uint64_t k = x->visited++;
  switch (ch->kind) {
  case NTW_CHANGE_POTENTIATE:
    if (c->exc[src] && ch->from[c->cell[src]] && ch->to[c->cell[tgt]]) {
      *w = (float)(*w * ch->factor);
      x->hits++;
    }
    break;
  case NTW_CHANGE_DRUG:
    if (c->exc[src]) {
      *w = (float)(*w * ch->factor);
      x->hits++;
    }
    break;
  case NTW_CHANGE_LESION:
    if (ch->from[c->cell[src]] && ch->from[c->cell[tgt]]) {
      /* Keyed by the synapse's place in the (deterministic, one-rank)
       * store order, so multapses are cut independently. */
      ntw_rng_block r = ntw_rng(c->seed, x->stream, k, 0);
      if (ntw_u01(r.v[0], r.v[1]) < ch->fraction) {
        *w = 0.0f;
        x->hits++;
      }
    }
    break;
  }
}

static int apply_change(culture *c, size_t i, double t_s) {
  change_ctx x = {c, &c->cc->changes[i], CUL_STREAM_CHANGE | (uint32_t)i, 0, 0};
  NTW_TRY(sample_G(c, t_s, 1));
  NTW_TRY(ntw_engine_map_weights(c->eng, -1, change_visit, &x));
  NTW_TRY(sample_G(c, t_s, 2));
  c->change_hits[i] = x.hits;
  c->change_at_s[i] = t_s;
  if (!c->args->quiet)
    fprintf(stderr, "culture: t = %.3f s: hidden change %zu applied (%" PRIu64
                    " synapses)\n", t_s, i, x.hits);
  return 0;
}

/* ---- stimulation ---- */

/* Records one STIM and queues the spikes it evokes in c->fgid/fstep; the
 * caller forces them all at once (ntw_engine_force_spikes re-sorts its whole
 * queue per call, and a pulse train is one message of pulses x electrodes
 * STIMs: one call per STIM made the culture fall 100-200 ms behind the wall
 * clock after every train). */
static int apply_stim(culture *c, const ntw_bio_stim *s, int64_t step) {
  const ntw_culture_cfg *cc = c->cc;
  const uint64_t now_us = (uint64_t)llround(step * c->dt * 1000.0);
  stim_rec r = {.channel = s->channel, .t_us = s->t_us, .amplitude = s->amplitude,
                .duration_us = s->duration_us, .received_t_us = cul_clock(c)};
  r.late = s->t_us < now_us;
  r.applied_t_us = r.late ? now_us : s->t_us;
  const uint64_t idx = c->stims.n;
  if (s->channel < NTW_MEA_N) { /* the link already dropped unknown ones */
    double A = fabs((double)s->amplitude);
    double p = cc->p_max / (1.0 + exp(-(A - cc->amp50_mv) / cc->slope_mv));
    size_t m = 0;
    for (uint64_t q = c->stim_ptr[s->channel]; q < c->stim_ptr[s->channel + 1]; q++) {
      uint64_t g = c->stim_gid[q];
      ntw_rng_block rb = ntw_rng(c->seed, CUL_STREAM_STIM, g, (uint32_t)idx);
      if (ntw_u01(rb.v[0], rb.v[1]) >= p) continue;
      double lat = cc->lat_min_ms + (cc->lat_max_ms - cc->lat_min_ms) * ntw_u01(rb.v[2], rb.v[3]);
      int64_t st = (int64_t)llround((r.applied_t_us * 1e-3 + lat) / c->dt);
      if (st < step + 1) st = step + 1;
      NTW_TRY(vec_push(&c->fgid, &g));
      NTW_TRY(vec_push(&c->fstep, &st));
      m++;
    }
    r.n_activated = (uint32_t)m;
    c->stim_applied++;
    c->stim_activated += m;
    c->stim_late += r.late;
  }
  return vec_push(&c->stims, &r);
}

/* Everything waiting on the command socket, without blocking. */
static int drain_link(culture *c, ntw_bio_msg *msg, int64_t step) {
  if (!c->link) return 0;
  for (;;) {
    int got = ntw_biolink_poll(c->link, 0, msg);
    if (got < 0) {
      /* A socket failure is the link's, not the biology's: log it once
       * and keep the culture alive (it has no one to report to anyway). */
      fprintf(stderr, "ntwin: culture: %s\n", ntw_error_msg());
      return 0;
    }
    if (got == 0) return 0;
    if (msg->type == NTW_BIO_HEARTBEAT) {
      c->peer_heartbeat = true;
    } else if (msg->type == NTW_BIO_STIM) {
      c->fgid.n = c->fstep.n = 0;
      for (uint32_t k = 0; k < msg->stim.n; k++)
        NTW_TRY(apply_stim(c, &msg->stim.stims[k], step));
      NTW_TRY(ntw_engine_force_spikes(c->eng, c->fgid.p, c->fstep.p, c->fgid.n));
    } else if (msg->type == NTW_BIO_BYE && !c->args->quiet) {
      fprintf(stderr, "culture: the twin said BYE (reason %u); the culture goes on\n",
              msg->bye.reason);
    }
  }
}

/* ---- observation (AFTER_WINDOW hook) ---- */

static int cmp_event(const void *a, const void *b) {
  const ntw_bio_event *x = a, *y = b;
  if (x->t_us != y->t_us) return x->t_us < y->t_us ? -1 : 1;
  return (x->channel > y->channel) - (x->channel < y->channel);
}

static int observe_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  culture *c = ctx;
  const ntw_culture_cfg *cc = c->cc;
  const uint64_t *gids;
  const int64_t *steps;
  size_t n;
  ntw_engine_window_spikes(e, &gids, &steps, &n);
  c->win.n = 0;
  const double us_per_step = c->dt * 1000.0;
  for (size_t k = 0; k < n; k++) {
    spike_rec s = {gids[k], steps[k]};
    NTW_TRY(vec_push(&c->spikes, &s));
    for (uint64_t q = c->seen_ptr[gids[k]]; q < c->seen_ptr[gids[k] + 1]; q++) {
      if (cc->miss_prob > 0) {
        ntw_rng_block r = ntw_rng(c->seed, CUL_STREAM_MISS | c->seen_ch[q], gids[k],
                                  (uint32_t)steps[k]);
        if (ntw_u01(r.v[0], r.v[1]) < cc->miss_prob) {
          c->n_missed++;
          continue;
        }
      }
      ntw_bio_event ev = {c->seen_ch[q], (uint64_t)llround(steps[k] * us_per_step)};
      NTW_TRY(vec_push(&c->win, &ev));
    }
  }
  if (cc->noise_hz > 0) {
    /* Poisson count per electrode and window by inversion, times uniform in
     * the window's (lo, hi] µs. */
    const uint64_t lo_us = (uint64_t)llround(lo * us_per_step);
    const uint64_t span = (uint64_t)llround((hi - lo) * us_per_step);
    const double lam = cc->noise_hz * span * 1e-6;
    const uint64_t w = (uint64_t)(lo / c->D);
    for (int ch = 0; ch < NTW_MEA_N; ch++) {
      ntw_rng_block r = ntw_rng(c->seed, CUL_STREAM_NOISE, (uint64_t)ch, (uint32_t)w);
      double u = ntw_u01(r.v[0], r.v[1]), p = exp(-lam), cdf = p;
      int cnt = 0;
      while (u > cdf && cnt < 4) cnt++, p *= lam / cnt, cdf += p;
      for (int q = 0; q < cnt; q++) {
        uint32_t word = r.v[2 + (q & 1)] ^ (uint32_t)(q * 0x9E3779B9u);
        ntw_bio_event ev = {(uint16_t)ch, lo_us + 1 + (uint64_t)(((uint64_t)word * span) >> 32)};
        NTW_TRY(vec_push(&c->win, &ev));
        c->n_noise++;
      }
    }
  }
  /* Sorted by (time, channel); an electrode reports one spike per µs (two
   * neurons or noise in the same instant are one detection), and none
   * within dead_time_ms after its last detection (counted as dead). */
  ntw_bio_event *ev = c->win.p;
  if (c->win.n > 1) qsort(ev, c->win.n, sizeof *ev, cmp_event);
  const uint64_t dead_us = (uint64_t)llround(cc->dead_time_ms * 1000.0);
  size_t m = 0;
  for (size_t k = 0; k < c->win.n; k++) {
    if (k > 0 && ev[k].t_us == ev[k - 1].t_us && ev[k].channel == ev[k - 1].channel) continue;
    uint64_t *last = &c->last_det_us[ev[k].channel];
    if (dead_us > 0 && *last > 0 && ev[k].t_us < *last - 1 + dead_us) {
      c->n_dead++;
      continue;
    }
    *last = ev[k].t_us + 1;
    ev[m++] = ev[k];
  }
  c->win.n = m;
  for (size_t k = 0; k < m; k++) {
    NTW_TRY(vec_push(&c->obs, &ev[k]));
    c->obs_per_ch[ev[k].channel]++;
  }
  return 0;
}

/* ---- burst statistics of what the MEA saw ---- */

static int observed_recording(const culture *c, uint64_t duration_us, ntw_recording **out) {
  ntw_recording *r = calloc(1, sizeof *r);
  NTW_ALLOC_CHECK(r);
  r->path = strdup("culture");
  r->format = NTW_REC_CSV;
  r->n_channels = NTW_MEA_N;
  r->channels = calloc(NTW_MEA_N, sizeof *r->channels);
  r->n_events = c->obs.n;
  r->t_us = malloc((c->obs.n + 1) * sizeof *r->t_us);
  r->channel = malloc((c->obs.n + 1) * sizeof *r->channel);
  r->duration_us = duration_us;
  int err = r->path && r->channels && r->t_us && r->channel ? 0 : NTW_ERR_NOMEM;
  for (int e = 0; !err && e < NTW_MEA_N; e++) {
    r->channels[e] = (ntw_rec_channel){.id = e, .label = strdup(c->label[e]),
                                       .x_um = c->ex[e], .y_um = c->ey[e],
                                       .electrode = atoi(c->label[e]), .unit = 0};
    if (!r->channels[e].label) err = NTW_ERR_NOMEM;
  }
  const ntw_bio_event *ev = c->obs.p;
  for (size_t k = 0; !err && k < c->obs.n; k++) {
    r->t_us[k] = ev[k].t_us;
    r->channel[k] = ev[k].channel;
    if (ev[k].t_us > r->duration_us) r->duration_us = ev[k].t_us;
  }
  if (err) {
    ntw_recording_destroy(&r);
    return NTW_ERR(NTW_ERR_NOMEM, "out of memory for the burst statistics");
  }
  *out = r;
  return 0;
}

/* ---- culture.h5 ---- */

#define H5OK(x, what)                                                          \
  do {                                                                         \
    if ((x) < 0) {                                                             \
      err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot write %s", tmp, what);            \
      goto fail;                                                               \
    }                                                                          \
  } while (0)

static herr_t h5_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                       const hsize_t *dims, const void *data) {
  hid_t s = H5Screate_simple(rank, dims, NULL);
  if (s < 0) return -1;
  hid_t d = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = d < 0 ? -1 : 0;
  bool empty = false;
  for (int i = 0; i < rank; i++) empty |= dims[i] == 0;
  if (rc == 0 && !empty) rc = H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  if (d >= 0) H5Dclose(d);
  H5Sclose(s);
  return rc;
}

static herr_t h5_1d(hid_t loc, const char *name, hid_t ftype, hid_t mtype, size_t n,
                    const void *data) {
  hsize_t dim = n;
  return h5_write(loc, name, ftype, mtype, 1, &dim, data);
}

static herr_t h5_attr_str(hid_t loc, const char *name, const char *v) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = a < 0 ? -1 : H5Awrite(a, t, &v);
  if (a >= 0) H5Aclose(a);
  H5Sclose(s), H5Tclose(t);
  return rc;
}

static herr_t h5_strings(hid_t loc, const char *name, const char *const *v, size_t n) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  herr_t rc = h5_1d(loc, name, t, t, n, v);
  H5Tclose(t);
  return rc;
}

static int cmp_spike(const void *a, const void *b) {
  const spike_rec *x = a, *y = b;
  if (x->step != y->step) return x->step < y->step ? -1 : 1;
  return (x->gid > y->gid) - (x->gid < y->gid);
}

static int write_h5(culture *c, const char *path, uint64_t duration_us) {
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int err = 0;
  hid_t f = -1, g = -1;
  void *buf = NULL, *buf2 = NULL;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  NTW_CHECK(f >= 0, NTW_ERR_HDF5, "%s: cannot create", tmp);
  {
    uint32_t magic = 0x0A7A, ver[2] = {0, 1};
    hsize_t one = 1, two = 2;
    hid_t s = H5Screate_simple(1, &one, NULL);
    hid_t a = H5Acreate2(f, "magic", H5T_STD_U32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(H5Awrite(a, H5T_NATIVE_UINT32, &magic), "/magic");
    H5Aclose(a), H5Sclose(s);
    s = H5Screate_simple(1, &two, NULL);
    a = H5Acreate2(f, "version", H5T_STD_U32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(H5Awrite(a, H5T_NATIVE_UINT32, ver), "/version");
    H5Aclose(a), H5Sclose(s);
    H5OK(h5_attr_str(f, "culture_config", c->cc->text), "/culture_config");
    s = H5Screate(H5S_SCALAR);
    a = H5Acreate2(f, "seed", H5T_STD_U64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(H5Awrite(a, H5T_NATIVE_UINT64, &c->seed), "/seed");
    H5Aclose(a);
    a = H5Acreate2(f, "dt_ms", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(H5Awrite(a, H5T_NATIVE_DOUBLE, &c->dt), "/dt_ms");
    H5Aclose(a), H5Sclose(s);
  }
  /* Own spikes, SONATA style, sorted by (time, gid). */
  {
    spike_rec *sp = c->spikes.p;
    qsort(sp, c->spikes.n, sizeof *sp, cmp_spike);
    size_t n = c->spikes.n;
    double *ts = malloc((n + 1) * sizeof *ts);
    uint64_t *ids = malloc((n + 1) * sizeof *ids);
    buf = ts, buf2 = ids;
    if (!ts || !ids) {
      err = NTW_ERR(NTW_ERR_NOMEM, "out of memory writing %s", tmp);
      goto fail;
    }
    for (size_t i = 0; i < n; i++) ts[i] = sp[i].step * c->dt, ids[i] = sp[i].gid;
    g = H5Gcreate2(f, "spikes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t gp = H5Gcreate2(g, "culture", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(h5_1d(gp, "timestamps", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, ts), "/spikes");
    H5OK(h5_1d(gp, "node_ids", H5T_STD_U64LE, H5T_NATIVE_UINT64, n, ids), "/spikes");
    hid_t dts = H5Dopen2(gp, "timestamps", H5P_DEFAULT);
    H5OK(h5_attr_str(dts, "units", "ms"), "units");
    H5Dclose(dts);
    H5OK(h5_attr_str(gp, "sorting", "by_time"), "sorting");
    H5Gclose(gp), H5Gclose(g);
    g = -1;
    free(buf), free(buf2);
    buf = buf2 = NULL;
  }
  /* Neurons. */
  {
    g = H5Gcreate2(f, "neurons", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(h5_1d(g, "x_um", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c->N, c->x), "/neurons");
    H5OK(h5_1d(g, "y_um", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c->N, c->y), "/neurons");
    H5OK(h5_1d(g, "cell", H5T_STD_I32LE, H5T_NATIVE_INT32, c->N, c->cell), "/neurons");
    H5OK(h5_1d(g, "excitatory", H5T_STD_U8LE, H5T_NATIVE_UINT8, c->N, c->exc), "/neurons");
    int32_t *pop = malloc((c->N + 1) * sizeof *pop);
    const char **names = malloc((c->cfg->npops + 1) * sizeof *names);
    buf = pop, buf2 = names;
    if (!pop || !names) {
      err = NTW_ERR(NTW_ERR_NOMEM, "out of memory writing %s", tmp);
      goto fail;
    }
    for (size_t p = 0; p < c->cfg->npops; p++) {
      names[p] = c->cfg->pops[p].name;
      for (uint64_t i = 0; i < c->cfg->pops[p].size; i++)
        pop[c->cfg->pops[p].first_gid + i] = (int32_t)p;
    }
    H5OK(h5_1d(g, "population", H5T_STD_I32LE, H5T_NATIVE_INT32, c->N, pop), "/neurons");
    H5OK(h5_strings(g, "population_names", names, c->cfg->npops), "/neurons");
    H5Gclose(g);
    g = -1;
    free(buf), free(buf2);
    buf = buf2 = NULL;
  }
  /* MEA layout, pickup, published spikes. */
  {
    g = H5Gcreate2(f, "mea", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    uint16_t ids[NTW_MEA_N];
    const char *labels[NTW_MEA_N];
    for (int e = 0; e < NTW_MEA_N; e++) ids[e] = (uint16_t)e, labels[e] = c->label[e];
    H5OK(h5_1d(g, "channel", H5T_STD_U16LE, H5T_NATIVE_UINT16, NTW_MEA_N, ids), "/mea");
    H5OK(h5_strings(g, "label", labels, NTW_MEA_N), "/mea");
    H5OK(h5_1d(g, "x_um", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, NTW_MEA_N, c->ex), "/mea");
    H5OK(h5_1d(g, "y_um", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, NTW_MEA_N, c->ey), "/mea");
    H5OK(h5_1d(g, "pickup_ptr", H5T_STD_U64LE, H5T_NATIVE_UINT64, NTW_MEA_N + 1,
               c->pick_ptr), "/mea");
    H5OK(h5_1d(g, "pickup_gid", H5T_STD_U64LE, H5T_NATIVE_UINT64,
               c->pick_ptr[NTW_MEA_N], c->pick_gid), "/mea");
    H5OK(h5_1d(g, "stim_ptr", H5T_STD_U64LE, H5T_NATIVE_UINT64, NTW_MEA_N + 1,
               c->stim_ptr), "/mea");
    H5OK(h5_1d(g, "stim_gid", H5T_STD_U64LE, H5T_NATIVE_UINT64,
               c->stim_ptr[NTW_MEA_N], c->stim_gid), "/mea");
    size_t n = c->obs.n;
    uint16_t *ch = malloc((n + 1) * sizeof *ch);
    uint64_t *t = malloc((n + 1) * sizeof *t);
    buf = ch, buf2 = t;
    if (!ch || !t) {
      err = NTW_ERR(NTW_ERR_NOMEM, "out of memory writing %s", tmp);
      goto fail;
    }
    const ntw_bio_event *ev = c->obs.p;
    for (size_t i = 0; i < n; i++) ch[i] = ev[i].channel, t[i] = ev[i].t_us;
    hid_t gs = H5Gcreate2(g, "spikes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(h5_1d(gs, "channel", H5T_STD_U16LE, H5T_NATIVE_UINT16, n, ch), "/mea/spikes");
    H5OK(h5_1d(gs, "t_us", H5T_STD_U64LE, H5T_NATIVE_UINT64, n, t), "/mea/spikes");
    H5Gclose(gs);
    /* The network bursts of what was published (the report's figures). */
    ntw_recording *rec = NULL;
    ntw_bursts b = {0};
    if ((err = observed_recording(c, duration_us, &rec))) goto fail;
    err = ntw_recording_bursts(rec, NULL, &b);
    ntw_recording_destroy(&rec);
    if (err) goto fail;
    gs = H5Gcreate2(g, "bursts", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = gs < 0 ? -1 : 0;
    if (!rc) rc = h5_1d(gs, "start_us", H5T_STD_U64LE, H5T_NATIVE_UINT64, b.n, b.start_us);
    if (!rc) rc = h5_1d(gs, "end_us", H5T_STD_U64LE, H5T_NATIVE_UINT64, b.n, b.end_us);
    if (!rc) rc = h5_1d(gs, "n_channels", H5T_STD_U32LE, H5T_NATIVE_UINT32, b.n, b.n_channels);
    if (gs >= 0) H5Gclose(gs);
    ntw_bursts_free(&b);
    H5OK(rc, "/mea/bursts");
    H5Gclose(g);
    g = -1;
    free(buf), free(buf2);
    buf = buf2 = NULL;
  }
  /* Stimulation received. */
  {
    size_t n = c->stims.n;
    const stim_rec *s = c->stims.p;
    uint16_t *ch = malloc((n + 1) * sizeof *ch);
    uint64_t *u64 = malloc((n + 1) * 3 * sizeof *u64);
    float *amp = malloc((n + 1) * sizeof *amp);
    uint32_t *u32 = malloc((n + 1) * 2 * sizeof *u32);
    uint8_t *late = malloc(n + 1);
    int ok = ch && u64 && amp && u32 && late;
    for (size_t i = 0; ok && i < n; i++) {
      ch[i] = s[i].channel, amp[i] = s[i].amplitude, late[i] = s[i].late;
      u64[i] = s[i].t_us, u64[n + i] = s[i].applied_t_us, u64[2 * n + i] = s[i].received_t_us;
      u32[i] = s[i].duration_us, u32[n + i] = s[i].n_activated;
    }
    herr_t rc = ok ? 0 : -1;
    g = ok ? H5Gcreate2(f, "stim", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (g < 0) rc = -1;
    if (!rc) rc = h5_1d(g, "channel", H5T_STD_U16LE, H5T_NATIVE_UINT16, n, ch);
    if (!rc) rc = h5_1d(g, "t_us", H5T_STD_U64LE, H5T_NATIVE_UINT64, n, u64);
    if (!rc) rc = h5_1d(g, "amplitude", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, n, amp);
    if (!rc) rc = h5_1d(g, "duration_us", H5T_STD_U32LE, H5T_NATIVE_UINT32, n, u32);
    if (!rc) rc = h5_1d(g, "applied_t_us", H5T_STD_U64LE, H5T_NATIVE_UINT64, n, u64 + n);
    if (!rc) rc = h5_1d(g, "received_t_us", H5T_STD_U64LE, H5T_NATIVE_UINT64, n, u64 + 2 * n);
    if (!rc) rc = h5_1d(g, "n_activated", H5T_STD_U32LE, H5T_NATIVE_UINT32, n, u32 + n);
    if (!rc) rc = h5_1d(g, "late", H5T_STD_U8LE, H5T_NATIVE_UINT8, n, late);
    free(ch), free(u64), free(amp), free(u32), free(late);
    H5OK(rc, "/stim");
    H5Gclose(g);
    g = -1;
  }
  /* Hidden changes and the effective weights. */
  {
    size_t n = c->cc->nchanges;
    g = H5Gcreate2(f, "changes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double *t = malloc((n + 1) * sizeof *t);
    const char **kind = malloc((n + 1) * sizeof *kind), **par = malloc((n + 1) * sizeof *par);
    buf = t;
    int ok = t && kind && par;
    static const char *const kn[] = {"potentiate", "lesion", "drug"};
    for (size_t i = 0; ok && i < n; i++) {
      t[i] = c->change_at_s[i];
      kind[i] = kn[c->cc->changes[i].kind];
      par[i] = c->cc->changes[i].desc;
    }
    herr_t rc = ok ? 0 : -1;
    if (!rc) rc = h5_1d(g, "t_s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, t);
    if (!rc) rc = h5_strings(g, "kind", kind, n);
    if (!rc) rc = h5_strings(g, "params", par, n);
    if (!rc) rc = h5_1d(g, "n_synapses", H5T_STD_U64LE, H5T_NATIVE_UINT64, n, c->change_hits);
    free(kind), free(par);
    H5OK(rc, "/changes");
    H5Gclose(g);
    g = H5Gcreate2(f, "truth", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[3] = {c->G.n, NTW_MEA_N, NTW_MEA_N};
    H5OK(h5_write(g, "G", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dims, c->G.p), "/truth/G");
    hid_t dg = H5Dopen2(g, "G", H5P_DEFAULT);
    H5OK(h5_attr_str(dg, "dimensions", "time, target electrode e, source electrode j"),
         "/truth/G");
    H5Dclose(dg);
    H5OK(h5_1d(g, "G_t_s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c->G_t.n, c->G_t.p),
         "/truth/G_t_s");
    H5OK(h5_1d(g, "G_phase", H5T_STD_I8LE, H5T_NATIVE_INT8, c->G_phase.n, c->G_phase.p),
         "/truth/G_phase");
    hsize_t d2[2] = {NTW_MEA_N, NTW_MEA_N};
    H5OK(h5_write(g, "G_count", H5T_STD_U32LE, H5T_NATIVE_UINT32, 2, d2, c->G_cnt),
         "/truth/G_count");
    H5Gclose(g);
    g = -1;
    free(buf);
    buf = NULL;
  }
  H5OK(H5Fclose(f), "the file");
  f = -1;
  NTW_CHECK(rename(tmp, path) == 0, NTW_ERR_IO, "%s: cannot rename: %s", path,
            strerror(errno));
  return 0;
fail:
  free(buf), free(buf2);
  if (g >= 0) H5Gclose(g);
  if (f >= 0) H5Fclose(f);
  unlink(tmp);
  return err;
}

/* ---- report ---- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double quantile(double *v, size_t n, double q) { /* v sorted */
  if (!n) return 0;
  size_t k = (size_t)ceil(q * n);
  return v[k ? k - 1 : 0];
}

typedef struct {
  double t_sim_s, wall_s, compute_s, wait_s;
  double *lag_ms;  /* paced: publish time - window deadline, per window */
  size_t nlag;
  double *comp_ms; /* window compute (engine + observation + publish) */
  size_t ncomp;
  uint64_t misses;
  double slack_ms;
} pacing;

static int write_report(culture *c, const pacing *pc, const char *dir) {
  ntw_recording *rec = NULL;
  NTW_TRY(observed_recording(c, (uint64_t)llround(pc->t_sim_s * 1e6), &rec));
  ntw_bursts b = {0};
  int err = ntw_recording_bursts(rec, NULL, &b);
  ntw_recording_destroy(&rec);
  NTW_TRY(err);
  ntw_engine_stats st;
  ntw_engine_get_stats(c->eng, &st);
  json_t *j = json_object();
  json_object_set_new(j, "ntwin_version", json_string(NTW_VERSION));
  json_object_set_new(j, "config", json_string(c->args->config));
  json_object_set_new(j, "seed", json_integer((json_int_t)c->seed));
  json_object_set_new(j, "dt_ms", json_real(c->dt));
  json_object_set_new(j, "window_ms", json_real(c->D * c->dt));
  json_object_set_new(j, "neurons", json_integer((json_int_t)c->N));
  json_object_set_new(j, "synapses", json_integer((json_int_t)st.syn_local));
  json_object_set_new(j, "paced", json_boolean(c->args->pace));
  json_object_set_new(j, "t_sim_s", json_real(pc->t_sim_s));
  json_object_set_new(j, "wall_s", json_real(pc->wall_s));
  json_object_set_new(j, "compute_s", json_real(pc->compute_s));
  json_object_set_new(j, "rtf_compute",
                      json_real(pc->t_sim_s > 0 ? pc->compute_s / pc->t_sim_s : 0));
  json_object_set_new(j, "spikes", json_integer((json_int_t)c->spikes.n));
  json_t *rates = json_object();
  const uint64_t *ps = ntw_engine_pop_spikes(c->eng);
  for (size_t p = 0; p < c->cfg->npops; p++)
    json_object_set_new(rates, c->cfg->pops[p].name,
                        json_real(pc->t_sim_s > 0
                                      ? ps[p] / (c->cfg->pops[p].size * pc->t_sim_s)
                                      : 0));
  json_object_set_new(j, "rates_hz", rates);
  json_t *o = json_object(), *per = json_object(), *seen = json_object();
  for (int e = 0; e < NTW_MEA_N; e++) {
    json_object_set_new(per, c->label[e], json_integer((json_int_t)c->obs_per_ch[e]));
    json_object_set_new(seen, c->label[e],
                        json_integer((json_int_t)(c->pick_ptr[e + 1] - c->pick_ptr[e])));
  }
  json_object_set_new(o, "spikes", json_integer((json_int_t)c->obs.n));
  json_object_set_new(o, "missed", json_integer((json_int_t)c->n_missed));
  json_object_set_new(o, "noise_spikes", json_integer((json_int_t)c->n_noise));
  json_object_set_new(o, "dead_time_dropped", json_integer((json_int_t)c->n_dead));
  json_object_set_new(o, "per_electrode", per);
  json_object_set_new(o, "neurons_per_electrode", seen);
  json_object_set_new(j, "observed", o);
  json_t *bj = json_object();
  double *dur = malloc((b.n + 1) * sizeof *dur);
  double ch_mean = 0, dmean = 0;
  for (size_t k = 0; dur && k < b.n; k++) {
    dur[k] = (b.end_us[k] - b.start_us[k]) * 1e-3;
    dmean += dur[k] / b.n;
    ch_mean += (double)b.n_channels[k] / b.n;
  }
  if (dur) qsort(dur, b.n, sizeof *dur, cmp_double);
  json_object_set_new(bj, "n", json_integer((json_int_t)b.n));
  json_object_set_new(bj, "rate_hz", json_real(b.rate_hz));
  json_object_set_new(bj, "duration_ms_mean", json_real(dmean));
  json_object_set_new(bj, "duration_ms_median", json_real(dur ? quantile(dur, b.n, 0.5) : 0));
  json_object_set_new(bj, "channels_mean", json_real(ch_mean));
  json_object_set_new(bj, "frac_spikes", json_real(b.frac_spikes));
  json_object_set_new(bj, "threshold_hz", json_real(b.threshold_hz));
  json_object_set_new(bj, "method", json_string("ntw_recording_bursts defaults (io/recording.h)"));
  json_object_set_new(j, "bursts", bj);
  free(dur);
  ntw_bursts_free(&b);
  json_t *sj = json_object();
  json_object_set_new(sj, "received", json_integer((json_int_t)c->stims.n));
  json_object_set_new(sj, "applied", json_integer((json_int_t)c->stim_applied));
  json_object_set_new(sj, "late", json_integer((json_int_t)c->stim_late));
  json_object_set_new(sj, "neurons_activated", json_integer((json_int_t)c->stim_activated));
  json_object_set_new(j, "stimulation", sj);
  json_t *cj = json_array();
  for (size_t i = 0; i < c->cc->nchanges; i++) {
    json_t *x = json_loads(c->cc->changes[i].desc, 0, NULL);
    json_object_set_new(x, "applied_at_s", json_real(c->change_at_s[i]));
    json_object_set_new(x, "synapses_changed", json_integer((json_int_t)c->change_hits[i]));
    json_array_append_new(cj, x);
  }
  json_object_set_new(j, "changes", cj);
  qsort(pc->lag_ms, pc->nlag, sizeof *pc->lag_ms, cmp_double);
  json_t *pj = json_object();
  json_object_set_new(pj, "windows", json_integer((json_int_t)pc->ncomp));
  qsort(pc->comp_ms, pc->ncomp, sizeof *pc->comp_ms, cmp_double);
  json_t *cw = json_object();
  json_object_set_new(cw, "p50", json_real(quantile(pc->comp_ms, pc->ncomp, 0.5)));
  json_object_set_new(cw, "p99", json_real(quantile(pc->comp_ms, pc->ncomp, 0.99)));
  json_object_set_new(cw, "max", json_real(pc->ncomp ? pc->comp_ms[pc->ncomp - 1] : 0));
  json_object_set_new(pj, "window_compute_ms", cw);
  json_t *lag = json_object();
  json_object_set_new(lag, "p50", json_real(quantile(pc->lag_ms, pc->nlag, 0.5)));
  json_object_set_new(lag, "p99", json_real(quantile(pc->lag_ms, pc->nlag, 0.99)));
  json_object_set_new(lag, "max", json_real(pc->nlag ? pc->lag_ms[pc->nlag - 1] : 0));
  /* Paced runs only (null otherwise): how late each window's SPIKES left
   * after the wall-clock end of the window. */
  json_object_set_new(pj, "lag_ms", c->args->pace ? lag : (json_decref(lag), json_null()));
  json_object_set_new(pj, "deadline_slack_ms", json_real(pc->slack_ms));
  json_object_set_new(pj, "deadline_misses", json_integer((json_int_t)pc->misses));
  json_object_set_new(pj, "start_wait_s", json_real(pc->wait_s));
  json_object_set_new(pj, "peer_heartbeat_seen", json_boolean(c->peer_heartbeat));
  json_object_set_new(j, "pacing", pj);
  if (c->link) {
    const ntw_bio_stats *s = ntw_biolink_stats(c->link);
    json_t *lj = json_object();
    json_object_set_new(lj, "events", json_string(ntw_biolink_endpoint(c->link, 0)));
    json_object_set_new(lj, "commands", json_string(ntw_biolink_endpoint(c->link, 1)));
#define LS(f) json_object_set_new(lj, #f, json_integer((json_int_t)s->f))
    LS(msgs_tx), LS(events_tx), LS(bytes_tx), LS(msgs_rx), LS(events_rx), LS(bytes_rx);
    LS(malformed), LS(wrong_version), LS(oversized), LS(wrong_direction);
    LS(unknown_channel), LS(non_monotonic), LS(lost), LS(seq_resets), LS(sessions);
    LS(dropped), LS(dropped_events), LS(heartbeats_rx), LS(byes_rx);
#undef LS
    json_object_set_new(lj, "rtt_mean_us", json_real(s->rtt_mean_us));
    json_object_set_new(j, "biolink", lj);
  } else {
    json_object_set_new(j, "biolink", json_null());
  }
  json_object_set_new(j, "stopped_by_signal", json_integer(cul_signal));
  char path[4200], tmp[4300];
  snprintf(path, sizeof path, "%s/culture_report.json", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  err = json_dump_file(j, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
  json_decref(j);
  NTW_CHECK(err == 0, NTW_ERR_IO, "%s: cannot write", tmp);
  NTW_CHECK(rename(tmp, path) == 0, NTW_ERR_IO, "%s: cannot rename: %s", path,
            strerror(errno));
  return 0;
}

/* ---- the loop ---- */

static void sleep_until(double t_s) {
  struct timespec ts = {(time_t)t_s, (long)((t_s - floor(t_s)) * 1e9)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !cul_signal) {
  }
}

static int send_hello(culture *c) {
  ntw_bio_channel lay[NTW_MEA_N];
  for (int e = 0; e < NTW_MEA_N; e++) {
    lay[e] = (ntw_bio_channel){.id = (uint16_t)e, .x_um = (float)c->ex[e],
                               .y_um = (float)c->ey[e]};
    memcpy(lay[e].label, c->label[e], 3);
  }
  int rc = ntw_biolink_send_hello(c->link, 1000.0 / c->dt, NTW_BIO_UNIT_MV, lay, NTW_MEA_N);
  /* Dropped (the twin's events socket is not connected yet, although its
   * heartbeats may already arrive on the other one): retry soon, or the
   * twin would wait for the next periodic HELLO. */
  c->hello_dropped = rc == 1;
  return rc < 0 ? rc : 0;
}

static int run_culture(culture *c, pacing *pc) {
  const cul_args *a = c->args;
  ntw_bio_msg msg = {0};
  int err = 0;
  const int64_t until = ntw_engine_steps(c->eng, c->cfg->sim.t_stop);
  pc->t_sim_s = 0;
  pc->slack_ms = c->D * c->dt; /* one window: the twin's own lookahead */
  pc->lag_ms = malloc((size_t)(until / c->D + 2) * sizeof *pc->lag_ms);
  pc->comp_ms = malloc((size_t)(until / c->D + 2) * sizeof *pc->comp_ms);
  NTW_ALLOC_CHECK(pc->lag_ms);
  NTW_ALLOC_CHECK(pc->comp_ms);
  double last_hello = -1e9;
  int64_t step = 0;
  /* --wait-peer: HELLO every second until the twin's first heartbeat. */
  if (c->link) {
    double w0 = mono_s();
    NTW_GOTO(err, send_hello(c), out);
    last_hello = w0;
    while (a->wait_peer_s > 0 && !c->peer_heartbeat && !cul_signal &&
           mono_s() - w0 < a->wait_peer_s) {
      int got = ntw_biolink_poll(c->link, 50, &msg);
      if (got > 0 && msg.type == NTW_BIO_HEARTBEAT) c->peer_heartbeat = true;
      /* A STIM before the clock starts applies at t = 0 at the earliest. */
      if (got > 0 && msg.type == NTW_BIO_STIM) {
        c->fgid.n = c->fstep.n = 0;
        for (uint32_t k = 0; k < msg.stim.n; k++)
          NTW_GOTO(err, apply_stim(c, &msg.stim.stims[k], 0), out);
        NTW_GOTO(err, ntw_engine_force_spikes(c->eng, c->fgid.p, c->fstep.p, c->fgid.n), out);
      }
      if (mono_s() - last_hello >= 1.0) {
        NTW_GOTO(err, send_hello(c), out);
        last_hello = mono_s();
      }
    }
    pc->wait_s = mono_s() - w0;
    if (a->wait_peer_s > 0 && !c->peer_heartbeat && !a->quiet)
      fprintf(stderr, "culture: no heartbeat from a twin after %.1f s; starting anyway\n",
              a->wait_peer_s);
  }
  clock_gettime(CLOCK_MONOTONIC, &c->t0);
  c->clock_started = true;
  const double start = c->t0.tv_sec + c->t0.tv_nsec * 1e-9;
  last_hello = start; /* the HELLO just sent (or none without a link) */
  if (c->link) NTW_GOTO(err, send_hello(c), out);
  double last_hb = -1e9, last_progress = start;
  size_t next_change = 0;
  int64_t next_G = 0;
  const int64_t G_every = ntw_engine_steps(c->eng, 1000.0);
  while (step < until && !cul_signal) {
    const int64_t hi = step + c->D < until ? step + c->D : until;
    const double deadline = start + hi * c->dt * 1e-3;
    if (a->pace) sleep_until(deadline);
    NTW_GOTO(err, drain_link(c, &msg, step), out);
    const double now = mono_s();
    if (c->link && now - last_hb >= 0.1) {
      if ((err = ntw_biolink_send_heartbeat(c->link)) < 0) goto out;
      last_hb = now;
    }
    if (c->link && now - last_hello >= (c->hello_dropped ? 0.01 : c->peer_heartbeat ? 10.0 : 1.0)) {
      NTW_GOTO(err, send_hello(c), out);
      last_hello = now;
    }
    const double t_s = step * c->dt * 1e-3;
    while (next_change < c->cc->nchanges &&
           ntw_engine_steps(c->eng, c->cc->changes[next_change].t_s * 1e3) <= step) {
      NTW_GOTO(err, apply_change(c, next_change, t_s), out);
      next_change++;
    }
    if (step >= next_G) {
      NTW_GOTO(err, sample_G(c, t_s, 0), out);
      next_G += G_every;
    }
    double c0 = mono_s();
    NTW_GOTO(err, ntw_engine_run(c->eng, hi), out);
    if (c->link) { /* 1 = dropped (no twin, or it is behind): counted */
      /* Every event of [lo, hi] is in this batch (spikes at steps up to
       * hi, MEA noise in (lo, hi] µs): the watermark lets the twin run the
       * window as soon as it arrives instead of waiting its allowance. */
      const uint64_t complete = (uint64_t)llround(hi * c->dt * 1000.0) + 1;
      int rc = ntw_biolink_send_spikes(c->link, c->win.p, (uint32_t)c->win.n, complete);
      if (rc < 0) {
        err = rc;
        goto out;
      }
    }
    const double done = mono_s();
    pc->compute_s += done - c0;
    const double lag = (done - deadline) * 1e3;
    pc->comp_ms[pc->ncomp++] = (done - c0) * 1e3;
    if (a->pace) {
      pc->lag_ms[pc->nlag++] = lag;
      if (lag > pc->slack_ms) pc->misses++;
    }
    step = hi;
    pc->t_sim_s = step * c->dt * 1e-3;
    if (!a->quiet && done - last_progress >= 5.0) {
      last_progress = done;
      ntw_recording *rec = NULL;
      ntw_bursts b = {0};
      size_t nb = 0;
      if (!observed_recording(c, (uint64_t)llround(pc->t_sim_s * 1e6), &rec) &&
          !ntw_recording_bursts(rec, NULL, &b))
        nb = b.n;
      ntw_bursts_free(&b);
      ntw_recording_destroy(&rec);
      fprintf(stderr,
              "culture: t = %.1f s  observed %zu spikes, %zu bursts  lag %.2f ms  "
              "misses %" PRIu64 "  stims %zu (late %" PRIu64 ")\n",
              pc->t_sim_s, c->obs.n, nb, a->pace ? lag : 0.0, pc->misses, c->stims.n, c->stim_late);
    }
  }
  pc->wall_s = mono_s() - start;
  if (step > 0 && (c->G_t.n == 0 || ((double *)c->G_t.p)[c->G_t.n - 1] < pc->t_sim_s))
    NTW_GOTO(err, sample_G(c, pc->t_sim_s, 0), out);
out:
  if (c->link) { /* the end, also after an error: the twin must know */
    drain_link(c, &msg, step);
    ntw_biolink_send_bye(c->link, err ? 1 : 0);
  }
  ntw_bio_msg_free(&msg);
  return err;
}

int ntw_cli_culture(int argc, char **argv) {
  int rank, P;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  cul_args a;
  if (cul_parse_args(argc, argv, &a)) {
    if (rank == 0) fprintf(stderr, "ntwin: error: %s\n(see 'ntwin help')\n", ntw_error_msg());
    return 2;
  }
  if (P != 1) {
    if (rank == 0)
      fprintf(stderr, "ntwin: error: culture runs on one rank (got %d): start it without "
                      "mpirun or with -n 1\n", P);
    return 2;
  }
  culture c = {.args = &a};
  c.spikes.size = sizeof(spike_rec);
  c.obs.size = c.win.size = sizeof(ntw_bio_event);
  c.stims.size = sizeof(stim_rec);
  c.fgid.size = sizeof(uint64_t);
  c.fstep.size = sizeof(int64_t);
  c.G.size = NTW_MEA_N * NTW_MEA_N * sizeof(float);
  c.G_t.size = sizeof(double);
  c.G_phase.size = sizeof(int8_t);
  ntw_comm *comm = NULL;
  ntw_part *part = NULL;
  pacing pc = {0};
  int rc = 1, err;
  if ((err = ntw_culture_cfg_load(a.config, &c.cc))) goto done;
  {
    double t_ms = a.t_stop_s * 1e3;
    if ((err = ntw_config_override(c.cc->net, a.has_t_stop ? &t_ms : NULL,
                                   a.has_seed ? &a.seed : NULL, NULL, NULL, NULL)))
      goto done;
  }
  c.cfg = c.cc->net;
  c.N = c.cfg->n_neurons;
  c.seed = c.cfg->sim.seed;
  c.dt = c.cfg->sim.dt;
  c.change_hits = calloc(c.cc->nchanges + 1, sizeof *c.change_hits);
  c.change_at_s = calloc(c.cc->nchanges + 1, sizeof *c.change_at_s);
  if (!c.change_hits || !c.change_at_s) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < c.cc->nchanges; i++) c.change_at_s[i] = NAN; /* not reached */
  if ((err = ntw_outdir_make(a.out, NULL))) goto done;
  if ((err = ntw_part_create(c.cfg->sim.partition, c.N, 1, &part))) goto done;
  if ((err = ntw_comm_create(c.cfg->sim.comm, MPI_COMM_SELF, &comm))) goto done;
  if ((err = ntw_engine_create(c.cfg, comm, part, &c.eng))) goto done;
  {
    ntw_engine_stats st;
    ntw_engine_get_stats(c.eng, &st);
    c.D = st.window_steps;
  }
  if ((err = build_geometry(&c))) goto done;
  if ((err = ntw_engine_add_hook(c.eng, NTW_HOOK_AFTER_WINDOW, observe_hook, &c))) goto done;
  /* before the link's threads start */
  const int io_prio = ntw_realtime_enter_cli(a.rt_priority, "ntwin culture");
  if (a.link) {
    ntw_bio_endpoints ep = {a.events, a.commands};
    ntw_bio_opts o;
    ntw_bio_opts_default(&o);
    o.io_rt_priority = io_prio;
    o.clock = cul_clock;
    o.clock_ctx = &c;
    if ((err = ntw_biolink_open_bio(&ep, &o, &c.link))) goto done;
  }
  signal(SIGINT, cul_on_signal);
  signal(SIGTERM, cul_on_signal);
  if (!a.quiet)
    fprintf(stderr, "culture: %s: %" PRIu64 " neurons, %zu hidden change%s, %s, %s%s%s\n",
            a.config, c.N, c.cc->nchanges, c.cc->nchanges == 1 ? "" : "s",
            a.pace ? "paced" : "unpaced", c.link ? "events on " : "no link",
            c.link ? ntw_biolink_endpoint(c.link, 0) : "",
            c.link ? (a.wait_peer_s > 0 ? " (waiting for the twin)" : "") : "");
  err = run_culture(&c, &pc);
  /* Even a run that failed midway leaves its ground truth. */
  char path[4200];
  snprintf(path, sizeof path, "%s/culture.h5", a.out);
  int werr = write_h5(&c, path, (uint64_t)llround(pc.t_sim_s * 1e6));
  if (!werr) werr = write_report(&c, &pc, a.out);
  if (!err) err = werr;
  if (err) goto done;
  if (!a.quiet) {
    char rp[4200];
    snprintf(rp, sizeof rp, "%s/culture_report.json", a.out);
    fprintf(stderr,
            "culture: %.1f s simulated in %.1f s wall (compute %.2f s, RTF %.3f); %zu "
            "spikes, %zu observed; %zu stims (%" PRIu64 " late)%s\n"
            "culture: wrote %s and %s\n",
            pc.t_sim_s, pc.wall_s, pc.compute_s,
            pc.t_sim_s > 0 ? pc.compute_s / pc.t_sim_s : 0, c.spikes.n, c.obs.n,
            c.stims.n, c.stim_late, cul_signal ? " (stopped by a signal)" : "", path, rp);
  }
  rc = 0;
done:
  if (err) {
    fprintf(stderr, "ntwin: error: %s\n", ntw_error_msg());
    if (getenv("NTW_DEBUG")) fprintf(stderr, "  (at %s)\n", ntw_error_where());
  }
  ntw_biolink_close(&c.link);
  ntw_engine_destroy(&c.eng);
  ntw_comm_destroy(&comm);
  ntw_part_destroy(&part);
  free(c.x), free(c.y), free(c.cell), free(c.exc), free(c.seen_ptr), free(c.seen_ch);
  free(c.pick_ptr), free(c.pick_gid), free(c.stim_ptr), free(c.stim_gid);
  free(c.spikes.p), free(c.obs.p), free(c.win.p), free(c.stims.p);
  free(c.fgid.p), free(c.fstep.p);
  free(c.G.p), free(c.G_t.p), free(c.G_phase.p);
  free(c.change_hits), free(c.change_at_s), free(pc.lag_ms), free(pc.comp_ms);
  ntw_culture_cfg_destroy(&c.cc);
  return rc;
}

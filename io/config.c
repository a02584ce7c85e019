/* io/config.c - parse and validate the JSON run configuration.
 *
 * Validation is complete and happens once, here: the engine may trust every
 * field of an ntw_config. Each error names the file and the JSON path of the
 * offending field, so a user never has to guess which of many projections
 * is wrong. Parsing writes straight into the (zeroed) config; on any failure
 * ntw_config_destroy() frees whatever was filled so far, which keeps every
 * error path leak-free without per-function cleanup. */
#include "io/config.h"

#include "core/ntw_error.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Where an error is reported: "<file>: <field>: ..." for the file, or just
 * "<flag>: ..." for command-line overrides (file = "", sep = ""). */
typedef struct {
  const char *file;
  const char *sep;
  const ntw_config *cfg; /* for population look-ups */
} cfg_ctx;

#define CFG_FAIL(c, field, fmt, ...)                                   \
  NTW_ERR(NTW_ERR_CONFIG, "%s%s%s: " fmt, (c)->file, (c)->sep, (field), \
          ##__VA_ARGS__)

/* Field paths and value renderings are small fixed buffers returned by
 * value, so messages can be built inline without allocation. */
typedef struct {
  char s[256];
} cfg_path;

typedef struct {
  char s[96];
} cfg_show;

static const char *const rule_names[] = {"fixed_indegree", "fixed_probability",
                                         "one_to_one", "all_to_all",
                                         "fixed_total_number"};
/* Indexed by ntw_dist_kind - 1 (constants are plain numbers). */
static const char *const dist_names[] = {"uniform", "normal", "lognormal"};
static const char *const partition_names[] = {"round_robin", "block", "graph"};
static const char *const bind_names[] = {"core", "numa", "none"};
static const char *const comm_names[] = {"mpi", "ofi"};
static const char *const stim_names[] = {"poisson", "dc", "spike_times",
                                          "noise"};

static const char *const top_keys[] = {"simulation", "populations",
                                       "projections", "stimuli", "record",
                                       "twin"};
/* The bio link's default endpoints (io/biolink.h; repeated so that the
 * config library does not depend on ZeroMQ). */
#define NTW_BIO_EVENTS_DEFAULT_CFG "tcp://127.0.0.1:5557"
#define NTW_BIO_COMMANDS_DEFAULT_CFG "tcp://127.0.0.1:5559"
static const char *const regime_names[] = {"offline", "replay", "twin",
                                           "closed-loop"};
static const char *const late_names[] = {"drop", "shift", "abort"};
static const char *const release_names[] = {"watermark", "allowance"};
static const char *const stimpol_names[] = {"off", "periodic", "burst"};
static const char *const twin_keys[] = {"regime", "source", "mirror",
                                        "predict", "assimilate", "fidelity",
                                        "timing", "stimulation", "stim_input"};
static const char *const tsrc_keys[] = {"kind", "path", "format", "from_s",
                                        "to_s", "pace", "events", "commands",
                                        "max_msg_bytes"};
static const char *const tsrc_kinds[] = {"link", "file"};
static const char *const tass_keys[] = {"projection", "eta", "a", "tau_ms",
                                        "w_min", "w_max", "every_ms",
                                        "until_s"};
static const char *const tfid_keys[] = {"delta_ms", "interval_ms",
                                        "rate_bin_ms"};
static const char *const ttim_keys[] = {"late_policy", "release", "allowance_ms",
                                        "slack_ms", "peer_timeout_ms", "rt_priority", "lock_memory",
                                        "heartbeat_ms", "start_timeout_ms"};
static const char *const tstim_keys[] = {"policy", "electrodes", "amplitude",
                                         "duration_us", "period_ms",
                                         "horizon_ms", "refractory_ms",
                                         "factor", "alternate_s", "pulses",
                                         "pulse_interval_ms"};
static const char *const sim_keys[] = {"dt",        "t_stop", "seed",
                                       "partition", "bind",   "comm",
                                       "overlap",   "coupling_rank"};
static const char *const pop_keys[] = {"name", "model", "size", "params"};
static const char *const proj_keys[] = {
    "source", "target", "rule",           "indegree",       "p",  "N",
    "weight", "delay",  "allow_autapses", "allow_multapses", "synapse"};
static const char *const stim_keys[] = {"type",  "target", "rate",
                                        "weight", "amplitude", "start",
                                        "stop", "times", "node_ids",
                                        "mean", "std", "tau"};
static const char *const record_keys[] = {"spikes", "weights"};
static const char *const wrec_keys[] = {"projection", "interval", "sample"};
static const char *const dist_keys[] = {"distribution", "low", "high",
                                        "mean",         "std", "mu",
                                        "sigma",        "min", "max"};

/* Append with silent truncation: an over-long key only shortens the path
 * shown in a message (and snprintf would trip -Wformat-truncation). */
static void path_cat(cfg_path *p, const char *s) {
  size_t used = strlen(p->s), n = strlen(s);
  if (n > sizeof p->s - 1 - used) n = sizeof p->s - 1 - used;
  memcpy(p->s + used, s, n);
  p->s[used + n] = '\0';
}

static cfg_path fld(const char *base, const char *key) {
  cfg_path p = {.s = ""};
  path_cat(&p, base);
  if (base[0] != '\0') path_cat(&p, ".");
  path_cat(&p, key);
  return p;
}

static cfg_path fld_idx(const char *base, size_t i) {
  char idx[32];
  cfg_path p = {.s = ""};
  snprintf(idx, sizeof idx, "[%zu]", i);
  path_cat(&p, base);
  path_cat(&p, idx);
  return p;
}

/* The JSON text of a value, shortened: it is only there to show the user
 * what the parser actually saw. */
static cfg_show jshow(const json_t *v) {
  cfg_show out;
  char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT |
                              JSON_REAL_PRECISION(15));
  if (s == NULL) {
    snprintf(out.s, sizeof out.s, "?");
    return out;
  }
  if (strlen(s) >= sizeof out.s)
    snprintf(out.s, sizeof out.s, "%.*s...", (int)sizeof out.s - 4, s);
  else
    snprintf(out.s, sizeof out.s, "%s", s);
  free(s);
  return out;
}

static int find_name(const char *s, const char *const *names, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) return (int)i;
  return -1;
}

static void join_names(char *buf, size_t cap, const char *const *names,
                       size_t n) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
                             names[i]);
}

static int check_keys(const cfg_ctx *c, json_t *obj, const char *where,
                      const char *const *allowed, size_t n) {
  const char *key;
  json_t *val;
  json_object_foreach(obj, key, val) {
    if (key[0] == '_') continue; /* "_comment" and the like: notes for people */
    if (find_name(key, allowed, n) < 0)
      return CFG_FAIL(c, fld(where, key).s, "unknown field");
  }
  return 0;
}

static int need(const cfg_ctx *c, json_t *obj, const char *where,
                const char *key, json_t **v) {
  *v = json_object_get(obj, key);
  if (*v == NULL) return CFG_FAIL(c, fld(where, key).s, "missing required field");
  return 0;
}

static int need_object(const cfg_ctx *c, json_t *v, const char *field) {
  if (!json_is_object(v))
    return CFG_FAIL(c, field, "must be an object (got %s)", jshow(v).s);
  return 0;
}

static int num_value(const cfg_ctx *c, json_t *v, const char *field,
                     double *out) {
  if (!json_is_number(v))
    return CFG_FAIL(c, field, "must be a number (got %s)", jshow(v).s);
  double x = json_number_value(v);
  /* jansson rejects NaN/inf literals and overflowing reals already; this
   * guards against a future parser that does not. */
  if (!isfinite(x))
    return CFG_FAIL(c, field, "must be a finite number (got %s)", jshow(v).s);
  *out = x;
  return 0;
}

static int bool_value(const cfg_ctx *c, json_t *v, const char *field,
                      bool *out) {
  if (!json_is_boolean(v))
    return CFG_FAIL(c, field, "must be true or false (got %s)", jshow(v).s);
  *out = json_is_true(v);
  return 0;
}

/* A count >= min. Integral reals (1e4) are accepted because scientific
 * notation is natural for sizes, but only up to 2^53 where doubles are exact. */
static int count_value(const cfg_ctx *c, json_t *v, const char *field,
                       uint64_t min, uint64_t *out) {
  const char *what = min > 0 ? "a positive integer" : "a non-negative integer";
  if (json_is_integer(v)) {
    json_int_t x = json_integer_value(v);
    if (x >= 0 && (uint64_t)x >= min) {
      *out = (uint64_t)x;
      return 0;
    }
  } else if (json_is_real(v)) {
    double x = json_real_value(v);
    if (isfinite(x) && x == floor(x) && x >= (double)min && x <= 0x1p53) {
      *out = (uint64_t)x;
      return 0;
    }
  }
  return CFG_FAIL(c, field, "must be %s (got %s)", what, jshow(v).s);
}

static int choice_value(const cfg_ctx *c, json_t *v, const char *field,
                        const char *what, const char *const *names, size_t n,
                        int *idx) {
  if (!json_is_string(v))
    return CFG_FAIL(c, field, "must be a string (got %s)", jshow(v).s);
  const char *s = json_string_value(v);
  *idx = find_name(s, names, n);
  if (*idx < 0) {
    char known[256];
    join_names(known, sizeof known, names, n);
    return CFG_FAIL(c, field, "unknown %s '%s' (known: %s)", what, s, known);
  }
  return 0;
}

/* A non-empty string that fits a NTW_NAME_MAX buffer. */
static int name_value(const cfg_ctx *c, json_t *v, const char *field,
                      char dst[NTW_NAME_MAX]) {
  if (!json_is_string(v))
    return CFG_FAIL(c, field, "must be a string (got %s)", jshow(v).s);
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  if (len == 0) return CFG_FAIL(c, field, "must not be empty (got \"\")");
  if (len >= NTW_NAME_MAX)
    return CFG_FAIL(c, field, "must be at most %d characters (got %s)",
                    NTW_NAME_MAX - 1, jshow(v).s);
  memcpy(dst, s, len + 1);
  return 0;
}

static int pop_ref(const cfg_ctx *c, json_t *v, const char *field, int *idx) {
  if (!json_is_string(v))
    return CFG_FAIL(c, field, "must be a population name (got %s)",
                    jshow(v).s);
  const char *s = json_string_value(v);
  *idx = ntw_config_pop_index(c->cfg, s);
  if (*idx >= 0) return 0;
  char known[200];
  size_t used = 0;
  known[0] = '\0';
  for (size_t i = 0; i < c->cfg->npops; i++) {
    const char *name = c->cfg->pops[i].name;
    /* Keep room for ", ..." so a long list stays one readable line. */
    if (used + strlen(name) + 8 >= sizeof known) {
      snprintf(known + used, sizeof known - used, ", ...");
      break;
    }
    used += (size_t)snprintf(known + used, sizeof known - used, "%s%s",
                             i ? ", " : "", name);
  }
  return CFG_FAIL(c, field, "unknown population '%s' (known: %s)", s, known);
}

double ntw_dist_lower(const ntw_dist *d) {
  switch (d->kind) {
  case NTW_DIST_CONST:
  case NTW_DIST_UNIFORM:
    return d->a;
  case NTW_DIST_NORMAL:
    return d->min;
  case NTW_DIST_LOGNORMAL:
    return d->min > 0.0 ? d->min : 0.0; /* exp() is never negative */
  }
  return -INFINITY;
}

double ntw_dist_upper(const ntw_dist *d) {
  switch (d->kind) {
  case NTW_DIST_CONST:
    return d->a;
  case NTW_DIST_UNIFORM:
    return d->b;
  case NTW_DIST_NORMAL:
  case NTW_DIST_LOGNORMAL:
    return d->max;
  }
  return INFINITY;
}

/* VALUE: a number or {"distribution": ..., ...}. */
static int dist_value(const cfg_ctx *c, json_t *v, const char *field,
                      ntw_dist *d) {
  d->kind = NTW_DIST_CONST;
  d->a = d->b = 0.0;
  d->min = -INFINITY;
  d->max = INFINITY;
  if (json_is_number(v)) return num_value(c, v, field, &d->a);
  if (!json_is_object(v))
    return CFG_FAIL(c, field,
                    "must be a number or a distribution object (got %s)",
                    jshow(v).s);
  NTW_TRY(check_keys(c, v, field, dist_keys, NTW_ARRAY_LEN(dist_keys)));
  json_t *jd;
  int k;
  NTW_TRY(need(c, v, field, "distribution", &jd));
  NTW_TRY(choice_value(c, jd, fld(field, "distribution").s, "distribution",
                       dist_names, NTW_ARRAY_LEN(dist_names), &k));
  d->kind = (ntw_dist_kind)(k + 1);

  static const char *const params[3][2] = {
      {"low", "high"}, {"mean", "std"}, {"mu", "sigma"}};
  const char *an = params[k][0], *bn = params[k][1];
  const bool clipped = d->kind != NTW_DIST_UNIFORM;
  const char *key;
  json_t *val;
  json_object_foreach(v, key, val) {
    bool ok = strcmp(key, "distribution") == 0 || strcmp(key, an) == 0 ||
              strcmp(key, bn) == 0 ||
              (clipped && (strcmp(key, "min") == 0 || strcmp(key, "max") == 0));
    if (!ok)
      return CFG_FAIL(c, fld(field, key).s,
                      "not allowed for a %s distribution", dist_names[k]);
  }

  json_t *ja, *jb;
  NTW_TRY(need(c, v, field, an, &ja));
  NTW_TRY(num_value(c, ja, fld(field, an).s, &d->a));
  NTW_TRY(need(c, v, field, bn, &jb));
  NTW_TRY(num_value(c, jb, fld(field, bn).s, &d->b));
  if (d->kind == NTW_DIST_UNIFORM) {
    if (!(d->b > d->a))
      return CFG_FAIL(c, fld(field, "high").s,
                      "must be greater than low = %.15g (got %s)", d->a,
                      jshow(jb).s);
    return 0;
  }
  if (!(d->b >= 0.0))
    return CFG_FAIL(c, fld(field, bn).s, "must be >= 0 (got %s)",
                    jshow(jb).s);
  json_t *jmin = json_object_get(v, "min"), *jmax = json_object_get(v, "max");
  if (jmin) NTW_TRY(num_value(c, jmin, fld(field, "min").s, &d->min));
  if (jmax) NTW_TRY(num_value(c, jmax, fld(field, "max").s, &d->max));
  if (jmin && jmax && !(d->min < d->max))
    return CFG_FAIL(c, fld(field, "max").s,
                    "must be greater than min = %.15g (got %s)", d->min,
                    jshow(jmax).s);
  return 0;
}

static int parse_sim(const cfg_ctx *c, ntw_config *cfg, json_t *root) {
  json_t *s, *v;
  ntw_sim_cfg *sim = &cfg->sim;
  NTW_TRY(need(c, root, "", "simulation", &s));
  NTW_TRY(need_object(c, s, "simulation"));
  NTW_TRY(check_keys(c, s, "simulation", sim_keys, NTW_ARRAY_LEN(sim_keys)));

  NTW_TRY(need(c, s, "simulation", "dt", &v));
  NTW_TRY(num_value(c, v, "simulation.dt", &sim->dt));
  if (!(sim->dt > 0.0))
    return CFG_FAIL(c, "simulation.dt", "must be > 0 (got %s)", jshow(v).s);

  NTW_TRY(need(c, s, "simulation", "t_stop", &v));
  NTW_TRY(num_value(c, v, "simulation.t_stop", &sim->t_stop));
  if (!(sim->t_stop >= 0.0))
    return CFG_FAIL(c, "simulation.t_stop", "must be >= 0 (got %s)",
                    jshow(v).s);

  sim->seed = 12345;
  if ((v = json_object_get(s, "seed")) != NULL) {
    /* Only true JSON integers: a seed written as 1e6 is almost surely a
     * mistake, and reals above 2^53 would silently lose bits. */
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      return CFG_FAIL(c, "simulation.seed",
                      "must be a non-negative integer (got %s)", jshow(v).s);
    sim->seed = (uint64_t)json_integer_value(v);
  }

  struct {
    const char *key, *what, *def;
    const char *const *names;
    size_t n;
    char *dst;
  } choices[] = {
      {"partition", "partition", "round_robin", partition_names,
       NTW_ARRAY_LEN(partition_names), sim->partition},
      {"bind", "bind", "core", bind_names, NTW_ARRAY_LEN(bind_names),
       sim->bind},
      {"comm", "comm", "mpi", comm_names, NTW_ARRAY_LEN(comm_names),
       sim->comm},
  };
  for (size_t i = 0; i < NTW_ARRAY_LEN(choices); i++) {
    const char *val = choices[i].def;
    if ((v = json_object_get(s, choices[i].key)) != NULL) {
      int k;
      NTW_TRY(choice_value(c, v, fld("simulation", choices[i].key).s,
                           choices[i].what, choices[i].names, choices[i].n,
                           &k));
      val = choices[i].names[k];
    }
    snprintf(choices[i].dst, NTW_NAME_MAX, "%s", val);
  }
  sim->overlap = false;
  if ((v = json_object_get(s, "overlap")) != NULL)
    NTW_TRY(bool_value(c, v, "simulation.overlap", &sim->overlap));
  /* "auto" is a string and the forced settings are booleans, so a typo in
   * either ("Auto", "on") is an error rather than a silent default. */
  sim->coupling_rank = NTW_COUPLING_AUTO;
  if ((v = json_object_get(s, "coupling_rank")) != NULL) {
    if (json_is_boolean(v))
      sim->coupling_rank = json_is_true(v) ? NTW_COUPLING_ON : NTW_COUPLING_OFF;
    else if (!json_is_string(v) || strcmp(json_string_value(v), "auto") != 0)
      return CFG_FAIL(c, "simulation.coupling_rank",
                      "must be \"auto\", true or false (got %s)", jshow(v).s);
  }
  return 0;
}

static bool valid_pop_name(const char *s) {
  for (; *s; s++) {
    char ch = *s;
    bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

static int parse_params(const cfg_ctx *c, ntw_pop_cfg *pop, json_t *jp,
                        const char *field) {
  NTW_TRY(need_object(c, jp, field));
  size_t n = json_object_size(jp);
  if (n == 0) return 0;
  pop->params = calloc(n, sizeof *pop->params);
  NTW_ALLOC_CHECK(pop->params);
  const char *key;
  json_t *val;
  json_object_foreach(jp, key, val) {
    cfg_path pf = fld(field, key);
    size_t len = strlen(key);
    if (len == 0 || len >= NTW_NAME_MAX)
      return CFG_FAIL(c, len ? pf.s : field,
                      "parameter names must have 1 to %d characters (got "
                      "\"%s\")",
                      NTW_NAME_MAX - 1, key);
    ntw_param *p = &pop->params[pop->nparams];
    memcpy(p->name, key, len + 1);
    NTW_TRY(dist_value(c, val, pf.s, &p->value));
    pop->nparams++;
  }
  return 0;
}

static int parse_pops(const cfg_ctx *c, ntw_config *cfg, json_t *root) {
  json_t *arr, *v;
  NTW_TRY(need(c, root, "", "populations", &arr));
  if (!json_is_array(arr) || json_array_size(arr) == 0)
    return CFG_FAIL(c, "populations", "must be a non-empty array (got %s)",
                    jshow(arr).s);
  size_t n = json_array_size(arr);
  cfg->pops = calloc(n, sizeof *cfg->pops);
  NTW_ALLOC_CHECK(cfg->pops);
  cfg->npops = n;

  uint64_t gid = 0;
  for (size_t i = 0; i < n; i++) {
    ntw_pop_cfg *pop = &cfg->pops[i];
    json_t *jp = json_array_get(arr, i);
    cfg_path where = fld_idx("populations", i);
    NTW_TRY(need_object(c, jp, where.s));
    NTW_TRY(check_keys(c, jp, where.s, pop_keys, NTW_ARRAY_LEN(pop_keys)));

    cfg_path f = fld(where.s, "name");
    NTW_TRY(need(c, jp, where.s, "name", &v));
    NTW_TRY(name_value(c, v, f.s, pop->name));
    /* Names appear in file names and HDF5 paths, so keep them plain. */
    if (!valid_pop_name(pop->name))
      return CFG_FAIL(c, f.s,
                      "may contain only letters, digits, '_' and '-' (got %s)",
                      jshow(v).s);
    for (size_t j = 0; j < i; j++)
      if (strcmp(cfg->pops[j].name, pop->name) == 0)
        return CFG_FAIL(c, f.s,
                        "duplicate population name (also populations[%zu]) "
                        "(got %s)",
                        j, jshow(v).s);

    NTW_TRY(need(c, jp, where.s, "model", &v));
    NTW_TRY(name_value(c, v, fld(where.s, "model").s, pop->model));

    f = fld(where.s, "size");
    NTW_TRY(need(c, jp, where.s, "size", &v));
    NTW_TRY(count_value(c, v, f.s, 1, &pop->size));
    if (pop->size > UINT64_MAX - gid)
      return CFG_FAIL(c, f.s,
                      "the total number of neurons overflows 64 bits (got %s)",
                      jshow(v).s);
    pop->first_gid = gid;
    gid += pop->size;

    if ((v = json_object_get(jp, "params")) != NULL)
      NTW_TRY(parse_params(c, pop, v, fld(where.s, "params").s));
  }
  cfg->n_neurons = gid;
  return 0;
}

/* "synapse": {"model": NAME, PARAM: number, ...}. The engine knows which
 * models and parameters exist; here only the shape is checked. */
static int parse_synapse(const cfg_ctx *c, json_t *jp, const char *where,
                         ntw_proj_cfg *pj) {
  snprintf(pj->syn_model, sizeof pj->syn_model, "static");
  json_t *js = json_object_get(jp, "synapse");
  if (js == NULL) return 0;
  cfg_path f = fld(where, "synapse");
  NTW_TRY(need_object(c, js, f.s));
  json_t *v;
  NTW_TRY(need(c, js, f.s, "model", &v));
  NTW_TRY(name_value(c, v, fld(f.s, "model").s, pj->syn_model));
  size_t n = json_object_size(js);
  pj->syn_params = calloc(n, sizeof *pj->syn_params);
  NTW_ALLOC_CHECK(pj->syn_params);
  const char *key;
  json_object_foreach(js, key, v) {
    if (strcmp(key, "model") == 0 || key[0] == '_') continue;
    cfg_path pf = fld(f.s, key);
    size_t len = strlen(key);
    if (len == 0 || len >= NTW_NAME_MAX)
      return CFG_FAIL(c, f.s, "parameter names must have 1 to %d characters",
                      NTW_NAME_MAX - 1);
    ntw_param *p = &pj->syn_params[pj->nsyn_params];
    memcpy(p->name, key, len + 1);
    double x;
    NTW_TRY(num_value(c, v, pf.s, &x));
    p->value = (ntw_dist){NTW_DIST_CONST, x, 0, -INFINITY, INFINITY};
    pj->nsyn_params++;
  }
  return 0;
}

static int parse_proj(const cfg_ctx *c, const ntw_config *cfg, json_t *jp,
                      const char *where, ntw_proj_cfg *pj) {
  json_t *v;
  int k;
  NTW_TRY(need_object(c, jp, where));
  NTW_TRY(check_keys(c, jp, where, proj_keys, NTW_ARRAY_LEN(proj_keys)));

  NTW_TRY(need(c, jp, where, "source", &v));
  NTW_TRY(pop_ref(c, v, fld(where, "source").s, &pj->source));
  NTW_TRY(need(c, jp, where, "target", &v));
  NTW_TRY(pop_ref(c, v, fld(where, "target").s, &pj->target));
  const ntw_pop_cfg *src = &cfg->pops[pj->source];
  const ntw_pop_cfg *tgt = &cfg->pops[pj->target];

  NTW_TRY(need(c, jp, where, "rule", &v));
  NTW_TRY(choice_value(c, v, fld(where, "rule").s, "rule", rule_names,
                       NTW_ARRAY_LEN(rule_names), &k));
  pj->rule = (ntw_rule)k;

  /* NEST's defaults, so configs translated from NEST mean the same. */
  pj->allow_autapses = pj->allow_multapses = true;
  if ((v = json_object_get(jp, "allow_autapses")) != NULL)
    NTW_TRY(bool_value(c, v, fld(where, "allow_autapses").s,
                       &pj->allow_autapses));
  if ((v = json_object_get(jp, "allow_multapses")) != NULL)
    NTW_TRY(bool_value(c, v, fld(where, "allow_multapses").s,
                       &pj->allow_multapses));

  /* Rule-specific fields: required for their rule, rejected otherwise so a
   * leftover "indegree" on an all_to_all projection is not silently ignored. */
  cfg_path f = fld(where, "indegree");
  v = json_object_get(jp, "indegree");
  if (pj->rule == NTW_RULE_FIXED_INDEGREE) {
    if (v == NULL)
      return CFG_FAIL(c, f.s, "missing required field (rule fixed_indegree)");
    NTW_TRY(count_value(c, v, f.s, 1, &pj->indegree));
    const bool self = pj->source == pj->target && !pj->allow_autapses;
    const uint64_t avail = src->size - (self ? 1 : 0);
    if (avail == 0)
      return CFG_FAIL(c, f.s,
                      "population '%s' has a single neuron and autapses are "
                      "not allowed, so there is no possible source (got %s)",
                      src->name, jshow(v).s);
    if (!pj->allow_multapses && pj->indegree > avail) {
      if (self)
        return CFG_FAIL(c, f.s,
                        "%" PRIu64 " exceeds the %" PRIu64
                        " possible sources in population '%s' (%" PRIu64
                        " minus the target itself, autapses are not allowed) "
                        "and multapses are not allowed",
                        pj->indegree, avail, src->name, src->size);
      return CFG_FAIL(c, f.s,
                      "%" PRIu64 " exceeds the size of source population "
                      "'%s' (%" PRIu64 ") and multapses are not allowed",
                      pj->indegree, src->name, src->size);
    }
  } else if (v != NULL) {
    return CFG_FAIL(c, f.s, "only allowed with rule fixed_indegree (rule is "
                            "'%s')", rule_names[k]);
  }

  f = fld(where, "p");
  v = json_object_get(jp, "p");
  if (pj->rule == NTW_RULE_FIXED_PROBABILITY) {
    if (v == NULL)
      return CFG_FAIL(c, f.s,
                      "missing required field (rule fixed_probability)");
    NTW_TRY(num_value(c, v, f.s, &pj->p));
    if (!(pj->p > 0.0 && pj->p <= 1.0))
      return CFG_FAIL(c, f.s, "must be in (0, 1] (got %s)", jshow(v).s);
  } else if (v != NULL) {
    return CFG_FAIL(c, f.s, "only allowed with rule fixed_probability (rule "
                            "is '%s')", rule_names[k]);
  }

  f = fld(where, "N");
  v = json_object_get(jp, "N");
  if (pj->rule == NTW_RULE_FIXED_TOTAL_NUMBER) {
    if (v == NULL)
      return CFG_FAIL(c, f.s,
                      "missing required field (rule fixed_total_number)");
    NTW_TRY(count_value(c, v, f.s, 0, &pj->N));
    const bool self = pj->source == pj->target && !pj->allow_autapses;
    const uint64_t avail = src->size - (self ? 1 : 0);
    /* Possible (source, target) pairs; 128 bits so no size overflows. */
    const unsigned __int128 pairs = (unsigned __int128)avail * tgt->size;
    if (pj->N > 0 && avail == 0)
      return CFG_FAIL(c, f.s,
                      "population '%s' has a single neuron and autapses are "
                      "not allowed, so there is no possible source (got %s)",
                      src->name, jshow(v).s);
    if (!pj->allow_multapses && (unsigned __int128)pj->N > pairs)
      return CFG_FAIL(c, f.s,
                      "%" PRIu64 " exceeds the %" PRIu64 " possible (source, "
                      "target) pairs ('%s' %" PRIu64 "%s x '%s' %" PRIu64
                      ") and multapses are not allowed",
                      pj->N, (uint64_t)pairs, src->name, avail,
                      self ? " without the target itself" : "", tgt->name,
                      tgt->size);
  } else if (v != NULL) {
    return CFG_FAIL(c, f.s, "only allowed with rule fixed_total_number (rule "
                            "is '%s')", rule_names[k]);
  }

  if (pj->rule == NTW_RULE_ONE_TO_ONE && src->size != tgt->size)
    return CFG_FAIL(c, fld(where, "rule").s,
                    "one_to_one needs source and target of equal size "
                    "('%s' has %" PRIu64 ", '%s' has %" PRIu64
                    ") (got \"one_to_one\")",
                    src->name, src->size, tgt->name, tgt->size);

  NTW_TRY(need(c, jp, where, "weight", &v));
  NTW_TRY(dist_value(c, v, fld(where, "weight").s, &pj->weight));

  f = fld(where, "delay");
  NTW_TRY(need(c, jp, where, "delay", &v));
  NTW_TRY(dist_value(c, v, f.s, &pj->delay));
  /* A spike must not arrive within the step it was emitted in: the exchange
   * between ranks relies on a minimum delay of one step. */
  const double dt = cfg->sim.dt, lo = ntw_dist_lower(&pj->delay);
  if (!(lo >= dt)) {
    switch (pj->delay.kind) {
    case NTW_DIST_CONST:
      return CFG_FAIL(c, f.s, "the delay must be >= dt = %.15g ms (got %s)",
                      dt, jshow(v).s);
    case NTW_DIST_UNIFORM:
      return CFG_FAIL(c, f.s,
                      "the delay must be >= dt = %.15g ms, so \"low\" must be "
                      ">= %.15g (got %s)",
                      dt, dt, jshow(v).s);
    case NTW_DIST_NORMAL:
    case NTW_DIST_LOGNORMAL:
      return CFG_FAIL(c, f.s,
                      "the delay must be >= dt = %.15g ms: set \"min\" >= "
                      "%.15g for a %s delay (got %s)",
                      dt, dt, dist_names[pj->delay.kind - 1], jshow(v).s);
    }
  }
  return parse_synapse(c, jp, where, pj);
}

static int parse_projs(const cfg_ctx *c, ntw_config *cfg, json_t *root) {
  json_t *arr = json_object_get(root, "projections");
  if (arr == NULL) return 0;
  if (!json_is_array(arr))
    return CFG_FAIL(c, "projections", "must be an array (got %s)",
                    jshow(arr).s);
  size_t n = json_array_size(arr);
  if (n == 0) return 0;
  cfg->projs = calloc(n, sizeof *cfg->projs);
  NTW_ALLOC_CHECK(cfg->projs);
  cfg->nprojs = n;
  for (size_t i = 0; i < n; i++)
    NTW_TRY(parse_proj(c, cfg, json_array_get(arr, i),
                       fld_idx("projections", i).s, &cfg->projs[i]));
  return 0;
}

static int opt_num(const cfg_ctx *c, json_t *obj, const char *where,
                   const char *key, double def, double *out) {
  json_t *v = json_object_get(obj, key);
  *out = def;
  return v ? num_value(c, v, fld(where, key).s, out) : 0;
}

static int req_num(const cfg_ctx *c, json_t *obj, const char *where,
                   const char *key, double *out) {
  json_t *v;
  NTW_TRY(need(c, obj, where, key, &v));
  return num_value(c, v, fld(where, key).s, out);
}

/* "times": [[t, ...], ...] one ascending list per neuron; "node_ids":
 * which neurons of the target the lists belong to (default 0, 1, ...). */
static int parse_spike_times(const cfg_ctx *c, const ntw_config *cfg,
                             json_t *js, const char *where, ntw_stim_cfg *st) {
  json_t *times, *ids = json_object_get(js, "node_ids");
  cfg_path ft = fld(where, "times"), fi = fld(where, "node_ids");
  NTW_TRY(need(c, js, where, "times", &times));
  if (!json_is_array(times))
    return CFG_FAIL(c, ft.s, "must be an array of arrays of times in ms (got %s)",
                    jshow(times).s);
  size_t nlist = json_array_size(times);
  uint64_t size = cfg->pops[st->target].size;
  if (ids != NULL && (!json_is_array(ids) || json_array_size(ids) != nlist))
    return CFG_FAIL(c, fi.s, "must be an array with one node id per list in "
                             "\"times\" (%zu) (got %s)", nlist, jshow(ids).s);
  if (ids == NULL && nlist > size)
    return CFG_FAIL(c, ft.s, "has %zu lists but population '%s' has %" PRIu64
                             " neurons", nlist, cfg->pops[st->target].name, size);
  size_t total = 0;
  for (size_t i = 0; i < nlist; i++) {
    json_t *l = json_array_get(times, i);
    if (!json_is_array(l))
      return CFG_FAIL(c, fld_idx(ft.s, i).s, "must be an array of times in ms "
                                              "(got %s)", jshow(l).s);
    total += json_array_size(l);
  }
  st->spike_node = malloc((total + 1) * sizeof *st->spike_node);
  st->spike_time = malloc((total + 1) * sizeof *st->spike_time);
  NTW_CHECK(st->spike_node && st->spike_time, NTW_ERR_NOMEM,
            "out of memory for spike times");
  for (size_t i = 0; i < nlist; i++) {
    uint64_t node = i;
    if (ids != NULL)
      NTW_TRY(count_value(c, json_array_get(ids, i), fld_idx(fi.s, i).s, 0, &node));
    if (node >= size)
      return CFG_FAIL(c, fld_idx(fi.s, i).s, "%" PRIu64 " is not a neuron of "
                      "'%s' (size %" PRIu64 ")", node, cfg->pops[st->target].name,
                      size);
    json_t *l = json_array_get(times, i);
    cfg_path fl = fld_idx(ft.s, i);
    double prev = -INFINITY;
    for (size_t j = 0; j < json_array_size(l); j++) {
      double t;
      cfg_path fj = fld_idx(fl.s, j);
      NTW_TRY(num_value(c, json_array_get(l, j), fj.s, &t));
      if (!(t >= 0.0))
        return CFG_FAIL(c, fj.s, "must be >= 0 ms (got %s)",
                        jshow(json_array_get(l, j)).s);
      if (!(t >= prev))
        return CFG_FAIL(c, fj.s, "times must be ascending (got %s after %.15g)",
                        jshow(json_array_get(l, j)).s, prev);
      prev = t;
      st->spike_node[st->nspikes] = node;
      st->spike_time[st->nspikes++] = t;
    }
  }
  return 0;
}

static int parse_stim(const cfg_ctx *c, const ntw_config *cfg, json_t *js,
                      const char *where, ntw_stim_cfg *st) {
  json_t *v;
  int k;
  NTW_TRY(need_object(c, js, where));
  NTW_TRY(check_keys(c, js, where, stim_keys, NTW_ARRAY_LEN(stim_keys)));
  NTW_TRY(need(c, js, where, "type", &v));
  NTW_TRY(choice_value(c, v, fld(where, "type").s, "stimulus type",
                       stim_names, NTW_ARRAY_LEN(stim_names), &k));
  st->kind = (ntw_stim_kind)k;

  /* Fields of the other types are rejected, not ignored. */
  static const char *const poisson_fields[] = {"rate", "weight"};
  static const char *const dc_fields[] = {"amplitude"};
  static const char *const times_fields[] = {"times", "node_ids"};
  static const char *const noise_fields[] = {"mean", "std", "tau"};
  static const char *const *const owned[] = {poisson_fields, dc_fields,
                                             times_fields, noise_fields};
  static const size_t nowned[] = {2, 1, 2, 3};
  for (int t = 0; t < 4; t++)
    if (t != k)
      for (size_t i = 0; i < nowned[t]; i++)
        if (json_object_get(js, owned[t][i]) != NULL)
          return CFG_FAIL(c, fld(where, owned[t][i]).s,
                          "not allowed for type '%s'", stim_names[k]);

  NTW_TRY(need(c, js, where, "target", &v));
  NTW_TRY(pop_ref(c, v, fld(where, "target").s, &st->target));

  if (st->kind == NTW_STIM_POISSON) {
    NTW_TRY(req_num(c, js, where, "rate", &st->rate));
    if (!(st->rate >= 0.0))
      return CFG_FAIL(c, fld(where, "rate").s, "must be >= 0 Hz (got %s)",
                      jshow(json_object_get(js, "rate")).s);
    NTW_TRY(req_num(c, js, where, "weight", &st->weight));
  } else if (st->kind == NTW_STIM_DC) {
    NTW_TRY(req_num(c, js, where, "amplitude", &st->amplitude));
  } else if (st->kind == NTW_STIM_NOISE) {
    NTW_TRY(opt_num(c, js, where, "mean", 0.0, &st->mean));
    NTW_TRY(req_num(c, js, where, "std", &st->std));
    if (!(st->std >= 0.0))
      return CFG_FAIL(c, fld(where, "std").s, "must be >= 0 pA (got %s)",
                      jshow(json_object_get(js, "std")).s);
    NTW_TRY(req_num(c, js, where, "tau", &st->tau));
    if (!(st->tau > 0.0))
      return CFG_FAIL(c, fld(where, "tau").s, "must be > 0 ms (got %s)",
                      jshow(json_object_get(js, "tau")).s);
  } else {
    NTW_TRY(parse_spike_times(c, cfg, js, where, st));
  }

  NTW_TRY(opt_num(c, js, where, "start", 0.0, &st->start));
  NTW_TRY(opt_num(c, js, where, "stop", INFINITY, &st->stop));
  if (!(st->start >= 0.0))
    return CFG_FAIL(c, fld(where, "start").s, "must be >= 0 (got %s)",
                    jshow(json_object_get(js, "start")).s);
  if (!(st->stop >= 0.0))
    return CFG_FAIL(c, fld(where, "stop").s, "must be >= 0 (got %s)",
                    jshow(json_object_get(js, "stop")).s);
  if (!(st->start <= st->stop))
    return CFG_FAIL(c, fld(where, "stop").s,
                    "must be >= start = %.15g (got %s)", st->start,
                    jshow(json_object_get(js, "stop")).s);
  return 0;
}

static int parse_stims(const cfg_ctx *c, ntw_config *cfg, json_t *root) {
  json_t *arr = json_object_get(root, "stimuli");
  if (arr == NULL) return 0;
  if (!json_is_array(arr))
    return CFG_FAIL(c, "stimuli", "must be an array (got %s)", jshow(arr).s);
  size_t n = json_array_size(arr);
  if (n == 0) return 0;
  cfg->stims = calloc(n, sizeof *cfg->stims);
  NTW_ALLOC_CHECK(cfg->stims);
  cfg->nstims = n;
  for (size_t i = 0; i < n; i++)
    NTW_TRY(parse_stim(c, cfg, json_array_get(arr, i),
                       fld_idx("stimuli", i).s, &cfg->stims[i]));
  return 0;
}

/* "weights": [{"projection": K, "interval": MS, "sample": N}, ...] */
static int parse_record_weights(const cfg_ctx *c, ntw_config *cfg,
                                json_t *rec) {
  json_t *arr = json_object_get(rec, "weights");
  if (arr == NULL) return 0;
  if (!json_is_array(arr))
    return CFG_FAIL(c, "record.weights",
                    "must be an array of {\"projection\": index, "
                    "\"interval\": ms} (got %s)",
                    jshow(arr).s);
  size_t n = json_array_size(arr);
  if (n == 0) return 0;
  cfg->wrecs = calloc(n, sizeof *cfg->wrecs);
  NTW_ALLOC_CHECK(cfg->wrecs);
  for (size_t i = 0; i < n; i++) {
    cfg_path where = fld_idx("record.weights", i);
    json_t *jw = json_array_get(arr, i), *v;
    ntw_wrec_cfg *wr = &cfg->wrecs[cfg->nwrecs];
    NTW_TRY(need_object(c, jw, where.s));
    NTW_TRY(check_keys(c, jw, where.s, wrec_keys, NTW_ARRAY_LEN(wrec_keys)));
    cfg_path fp = fld(where.s, "projection");
    uint64_t k;
    NTW_TRY(need(c, jw, where.s, "projection", &v));
    NTW_TRY(count_value(c, v, fp.s, 0, &k));
    if (k >= cfg->nprojs)
      return CFG_FAIL(c, fp.s,
                      "no projection %" PRIu64 ": the config has %zu "
                      "(got %s)",
                      k, cfg->nprojs, jshow(v).s);
    for (size_t j = 0; j < cfg->nwrecs; j++)
      if (cfg->wrecs[j].proj == (int)k)
        return CFG_FAIL(c, fp.s, "projection %" PRIu64 " is listed twice "
                        "(also in record.weights[%zu]) (got %s)", k, j,
                        jshow(v).s);
    wr->proj = (int)k;
    cfg->projs[k].indexed = true;
    NTW_TRY(req_num(c, jw, where.s, "interval", &wr->interval));
    if (!(wr->interval > 0.0))
      return CFG_FAIL(c, fld(where.s, "interval").s, "must be > 0 ms (got %s)",
                      jshow(json_object_get(jw, "interval")).s);
    wr->sample = UINT64_MAX;
    if ((v = json_object_get(jw, "sample")) != NULL)
      NTW_TRY(count_value(c, v, fld(where.s, "sample").s, 1, &wr->sample));
    cfg->nwrecs++;
  }
  return 0;
}

static int parse_record(const cfg_ctx *c, ntw_config *cfg, json_t *root) {
  json_t *rec = json_object_get(root, "record");
  if (rec == NULL) return 0;
  NTW_TRY(need_object(c, rec, "record"));
  NTW_TRY(check_keys(c, rec, "record", record_keys,
                     NTW_ARRAY_LEN(record_keys)));
  json_t *arr = json_object_get(rec, "spikes");
  if (arr == NULL) return parse_record_weights(c, cfg, rec);
  if (!json_is_array(arr))
    return CFG_FAIL(c, "record.spikes",
                    "must be an array of population names (got %s)",
                    jshow(arr).s);
  for (size_t i = 0; i < json_array_size(arr); i++) {
    cfg_path f = fld_idx("record.spikes", i);
    int p;
    NTW_TRY(pop_ref(c, json_array_get(arr, i), f.s, &p));
    if (cfg->pops[p].record_spikes)
      return CFG_FAIL(c, f.s, "population '%s' is listed twice (got \"%s\")",
                      cfg->pops[p].name, cfg->pops[p].name);
    cfg->pops[p].record_spikes = true;
  }
  return parse_record_weights(c, cfg, rec);
}

const char *ntw_regime_name(ntw_regime r) {
  return (unsigned)r < NTW_ARRAY_LEN(regime_names) ? regime_names[r] : "?";
}

/* A number in [lo, hi] (optional, default def). */
static int num_in(const cfg_ctx *c, json_t *obj, const char *where,
                  const char *key, double def, double lo, double hi,
                  double *out) {
  NTW_TRY(opt_num(c, obj, where, key, def, out));
  if (!(*out >= lo && *out <= hi))
    return CFG_FAIL(c, fld(where, key).s, "must be in [%g, %g] (got %s)", lo,
                    hi, jshow(json_object_get(obj, key)).s);
  return 0;
}

static int str_into(const cfg_ctx *c, json_t *obj, const char *where,
                    const char *key, const char *def, char *dst, size_t cap) {
  json_t *v = json_object_get(obj, key);
  if (v == NULL) {
    snprintf(dst, cap, "%s", def);
    return 0;
  }
  if (!json_is_string(v) || json_string_length(v) == 0 ||
      json_string_length(v) >= cap)
    return CFG_FAIL(c, fld(where, key).s,
                    "must be a non-empty string of at most %zu characters "
                    "(got %s)",
                    cap - 1, jshow(v).s);
  memcpy(dst, json_string_value(v), json_string_length(v) + 1);
  return 0;
}

static int opt_choice(const cfg_ctx *c, json_t *obj, const char *where,
                      const char *key, const char *what,
                      const char *const *names, size_t n, int def, int *out) {
  json_t *v = json_object_get(obj, key);
  *out = def;
  return v ? choice_value(c, v, fld(where, key).s, what, names, n, out) : 0;
}

static int opt_obj(const cfg_ctx *c, json_t *parent, const char *where,
                   const char *key, const char *const *keys, size_t nkeys,
                   json_t **out) {
  *out = json_object_get(parent, key);
  if (*out == NULL) {
    *out = json_object(); /* defaults everywhere; freed by the caller */
    return 0;
  }
  NTW_TRY(need_object(c, *out, fld(where, key).s));
  NTW_TRY(check_keys(c, *out, fld(where, key).s, keys, nkeys));
  json_incref(*out);
  return 0;
}

static int parse_twin_source(const cfg_ctx *c, ntw_twin_cfg *t, json_t *jt) {
  json_t *js;
  NTW_TRY(opt_obj(c, jt, "twin", "source", tsrc_keys,
                  NTW_ARRAY_LEN(tsrc_keys), &js));
  int err = 0, kind;
  const char *w = "twin.source";
  NTW_GOTO(err, opt_choice(c, js, w, "kind", "source kind", tsrc_kinds, 2, 0,
                           &kind), out);
  t->from_file = kind == 1;
  NTW_GOTO(err, str_into(c, js, w, "events", NTW_BIO_EVENTS_DEFAULT_CFG,
                         t->events, sizeof t->events), out);
  NTW_GOTO(err, str_into(c, js, w, "commands", NTW_BIO_COMMANDS_DEFAULT_CFG,
                         t->commands, sizeof t->commands), out);
  NTW_GOTO(err, str_into(c, js, w, "format", "auto", t->format,
                         sizeof t->format), out);
  NTW_GOTO(err, str_into(c, js, w, "path", "", t->file, sizeof t->file), out);
  NTW_GOTO(err, num_in(c, js, w, "from_s", 0, 0, 1e9, &t->from_s), out);
  NTW_GOTO(err, num_in(c, js, w, "to_s", 0, 0, 1e9, &t->to_s), out);
  double mm;
  NTW_GOTO(err, num_in(c, js, w, "max_msg_bytes", 1 << 20, 64, 1 << 30, &mm),
           out);
  t->max_msg_bytes = (uint64_t)mm;
  json_t *v;
  t->pace = !t->from_file;
  if ((v = json_object_get(js, "pace")) != NULL)
    NTW_GOTO(err, bool_value(c, v, "twin.source.pace", &t->pace), out);
  if (t->from_file && !t->file[0])
    err = CFG_FAIL(c, "twin.source.path",
                   "missing required field (a \"file\" source needs the "
                   "recording's path)");
  else if (t->from_file && t->regime != NTW_REGIME_REPLAY)
    err = CFG_FAIL(c, "twin.source.kind",
                   "a \"file\" source needs regime \"replay\" (got regime "
                   "\"%s\": live regimes read the bio link)",
                   ntw_regime_name(t->regime));
  else if (t->to_s > 0 && t->to_s <= t->from_s)
    err = CFG_FAIL(c, "twin.source.to_s", "must be > from_s (%g) (got %g)",
                   t->from_s, t->to_s);
  else if (!t->pace && !t->from_file)
    err = CFG_FAIL(c, "twin.source.pace",
                   "a \"link\" source delivers biology in real time, so the "
                   "twin is paced (got false)");
  else if (!t->pace && t->regime >= NTW_REGIME_TWIN)
    err = CFG_FAIL(c, "twin.source.pace",
                   "regime \"%s\" is paced by the wall clock (got false)",
                   ntw_regime_name(t->regime));
out:
  json_decref(js);
  return err;
}

static int parse_twin_assim(const cfg_ctx *c, const ntw_config *cfg,
                            ntw_twin_cfg *t, json_t *jt) {
  json_t *ja = json_object_get(jt, "assimilate"), *v;
  t->assim_proj = -1;
  t->eta = 0;
  if (ja == NULL) return 0;
  const char *w = "twin.assimilate";
  NTW_TRY(need_object(c, ja, w));
  NTW_TRY(check_keys(c, ja, w, tass_keys, NTW_ARRAY_LEN(tass_keys)));
  uint64_t k;
  NTW_TRY(need(c, ja, w, "projection", &v));
  NTW_TRY(count_value(c, v, "twin.assimilate.projection", 0, &k));
  if (k >= cfg->nprojs)
    return CFG_FAIL(c, "twin.assimilate.projection",
                    "no projection %" PRIu64 ": the config has %zu", k,
                    cfg->nprojs);
  const ntw_proj_cfg *pr = &cfg->projs[k];
  if (pr->source != t->mirror || pr->target != t->predict)
    return CFG_FAIL(c, "twin.assimilate.projection",
                    "projection %" PRIu64 " goes %s -> %s; the assimilated "
                    "one must go from the mirror (%s) to the predictors (%s)",
                    k, cfg->pops[pr->source].name, cfg->pops[pr->target].name,
                    cfg->pops[t->mirror].name, cfg->pops[t->predict].name);
  if (pr->rule != NTW_RULE_ALL_TO_ALL || strcmp(pr->syn_model, "static") != 0 ||
      pr->weight.kind != NTW_DIST_CONST)
    return CFG_FAIL(c, "twin.assimilate.projection",
                    "projection %" PRIu64 " must be all_to_all, static, with "
                    "a constant initial weight (one synapse per electrode "
                    "pair carries the twin's weight W[e][j])",
                    k);
  t->assim_proj = (int)k;
  cfg->projs[k].indexed = true;
  NTW_TRY(num_in(c, ja, w, "eta", 0.5, 0, 1e6, &t->eta));
  NTW_TRY(num_in(c, ja, w, "a", 0.0, -1e6, 1e6, &t->a));
  NTW_TRY(num_in(c, ja, w, "tau_ms", 10.0, 1e-3, 1e6, &t->tau_ms));
  NTW_TRY(num_in(c, ja, w, "w_min", -1e3, -1e9, 1e9, &t->w_min));
  NTW_TRY(num_in(c, ja, w, "w_max", 1e3, -1e9, 1e9, &t->w_max));
  if (!(t->w_min < t->w_max))
    return CFG_FAIL(c, "twin.assimilate.w_max", "must be > w_min (%g) (got %g)",
                    t->w_min, t->w_max);
  NTW_TRY(num_in(c, ja, w, "every_ms", 10.0, 1e-6, 1e9, &t->every_ms));
  NTW_TRY(num_in(c, ja, w, "until_s", 0.0, 0, 1e9, &t->until_s));
  return 0;
}

static int parse_twin_stim(const cfg_ctx *c, ntw_twin_cfg *t, json_t *jt) {
  json_t *js;
  NTW_TRY(opt_obj(c, jt, "twin", "stimulation", tstim_keys,
                  NTW_ARRAY_LEN(tstim_keys), &js));
  int err = 0, pol;
  const char *w = "twin.stimulation";
  NTW_GOTO(err, opt_choice(c, js, w, "policy", "stimulation policy",
                           stimpol_names, NTW_ARRAY_LEN(stimpol_names), 0, &pol),
           out);
  t->stim = (ntw_stim_policy)pol;
  double d;
  NTW_GOTO(err, num_in(c, js, w, "amplitude", 800, -1e6, 1e6, &t->stim_amplitude), out);
  NTW_GOTO(err, num_in(c, js, w, "duration_us", 200, 1, 1e7, &d), out);
  t->stim_duration_us = (uint32_t)d;
  NTW_GOTO(err, num_in(c, js, w, "period_ms", 1000, 1e-3, 1e9, &t->stim_period_ms), out);
  NTW_GOTO(err, num_in(c, js, w, "horizon_ms", 20, 0, 1e6, &t->stim_horizon_ms), out);
  NTW_GOTO(err, num_in(c, js, w, "refractory_ms", 500, 0, 1e9, &t->stim_refractory_ms), out);
  NTW_GOTO(err, num_in(c, js, w, "factor", 4, 1, 1e6, &t->stim_factor), out);
  NTW_GOTO(err, num_in(c, js, w, "alternate_s", 0, 0, 1e9, &t->stim_alternate_s), out);
  NTW_GOTO(err, num_in(c, js, w, "pulses", 1, 1, 1000, &d), out);
  t->stim_pulses = (uint32_t)d;
  NTW_GOTO(err, num_in(c, js, w, "pulse_interval_ms", 20, 0, 1e6, &t->stim_pulse_interval_ms), out);
  json_t *je = json_object_get(js, "electrodes");
  if (je) {
    if (!json_is_array(je) || json_array_size(je) == 0 ||
        json_array_size(je) > NTW_TWIN_MAX_STIM_CH) {
      err = CFG_FAIL(c, "twin.stimulation.electrodes",
                     "must be a list of 1..%d electrode labels (got %s)",
                     NTW_TWIN_MAX_STIM_CH, jshow(je).s);
      goto out;
    }
    for (size_t i = 0; i < json_array_size(je); i++) {
      cfg_path f = fld_idx("twin.stimulation.electrodes", i);
      NTW_GOTO(err, name_value(c, json_array_get(je, i), f.s, t->stim_ch[i]), out);
      for (size_t j = 0; j < i; j++)
        if (strcmp(t->stim_ch[j], t->stim_ch[i]) == 0) {
          err = CFG_FAIL(c, f.s, "electrode '%s' is listed twice", t->stim_ch[i]);
          goto out;
        }
    }
    t->nstim_ch = json_array_size(je);
  }
  if (t->stim != NTW_STIMPOL_OFF && t->regime != NTW_REGIME_CLOSED_LOOP)
    err = CFG_FAIL(c, "twin.stimulation.policy",
                   "stimulation needs regime \"closed-loop\" (got policy "
                   "\"%s\" in regime \"%s\")",
                   stimpol_names[t->stim], ntw_regime_name(t->regime));
  else if (t->stim != NTW_STIMPOL_OFF && t->nstim_ch == 0)
    err = CFG_FAIL(c, "twin.stimulation.electrodes",
                   "missing required field (policy \"%s\" needs electrodes)",
                   stimpol_names[t->stim]);
out:
  json_decref(js);
  return err;
}

static int parse_twin(const cfg_ctx *c, ntw_config *cfg, json_t *root) {
  json_t *jt = json_object_get(root, "twin"), *v;
  ntw_twin_cfg *t = &cfg->twin;
  t->mirror = t->predict = t->assim_proj = -1;
  if (jt == NULL) return 0;
  NTW_TRY(need_object(c, jt, "twin"));
  NTW_TRY(check_keys(c, jt, "twin", twin_keys, NTW_ARRAY_LEN(twin_keys)));
  t->enabled = true;
  int r;
  NTW_TRY(need(c, jt, "twin", "regime", &v));
  NTW_TRY(choice_value(c, v, "twin.regime", "regime", regime_names,
                       NTW_ARRAY_LEN(regime_names), &r));
  if (r == NTW_REGIME_OFFLINE)
    return CFG_FAIL(c, "twin.regime",
                    "\"offline\" means no biology: leave the \"twin\" section "
                    "out (got \"offline\")");
  t->regime = (ntw_regime)r;
  NTW_TRY(need(c, jt, "twin", "mirror", &v));
  NTW_TRY(pop_ref(c, v, "twin.mirror", &t->mirror));
  NTW_TRY(need(c, jt, "twin", "predict", &v));
  NTW_TRY(pop_ref(c, v, "twin.predict", &t->predict));
  if (strcmp(cfg->pops[t->mirror].model, "spike_source") != 0)
    return CFG_FAIL(c, "twin.mirror",
                    "population '%s' must be of model spike_source (its "
                    "neurons only replay the recorded spikes) (got %s)",
                    cfg->pops[t->mirror].name, cfg->pops[t->mirror].model);
  if (t->predict == t->mirror ||
      cfg->pops[t->predict].size != cfg->pops[t->mirror].size)
    return CFG_FAIL(c, "twin.predict",
                    "must be another population of the mirror's size "
                    "(%" PRIu64 ", one predictor per electrode) (got '%s')",
                    cfg->pops[t->mirror].size, json_string_value(v));
  t->stim_input = -1;
  if ((v = json_object_get(jt, "stim_input")) != NULL) {
    NTW_TRY(pop_ref(c, v, "twin.stim_input", &t->stim_input));
    if (strcmp(cfg->pops[t->stim_input].model, "spike_source") != 0 ||
        cfg->pops[t->stim_input].size != cfg->pops[t->mirror].size ||
        t->stim_input == t->mirror)
      return CFG_FAIL(c, "twin.stim_input",
                      "must be another spike_source population of the "
                      "mirror's size (%" PRIu64 ", one neuron per electrode) "
                      "(got '%s')",
                      cfg->pops[t->mirror].size, json_string_value(v));
  }
  NTW_TRY(parse_twin_source(c, t, jt));
  NTW_TRY(parse_twin_assim(c, cfg, t, jt));
  json_t *jf, *jm;
  NTW_TRY(opt_obj(c, jt, "twin", "fidelity", tfid_keys,
                  NTW_ARRAY_LEN(tfid_keys), &jf));
  int err = 0;
  NTW_GOTO(err, num_in(c, jf, "twin.fidelity", "delta_ms", 5, 1e-3, 1e4, &t->delta_ms), f1);
  NTW_GOTO(err, num_in(c, jf, "twin.fidelity", "interval_ms", 1000, 1, 1e9, &t->interval_ms), f1);
  NTW_GOTO(err, num_in(c, jf, "twin.fidelity", "rate_bin_ms", 10, 0.01, 1e6, &t->rate_bin_ms), f1);
f1:
  json_decref(jf);
  NTW_TRY(err);
  NTW_TRY(opt_obj(c, jt, "twin", "timing", ttim_keys,
                  NTW_ARRAY_LEN(ttim_keys), &jm));
  int lp = 0;
  const char *w = "twin.timing";
  NTW_GOTO(err, opt_choice(c, jm, w, "late_policy", "late policy", late_names,
                           NTW_ARRAY_LEN(late_names), 0, &lp), f2);
  t->late = (ntw_late_policy)lp;
  int rl = 0;
  NTW_GOTO(err, opt_choice(c, jm, w, "release", "window release", release_names,
                           NTW_ARRAY_LEN(release_names), 0, &rl), f2);
  t->release_watermark = rl == 0;
  NTW_GOTO(err, num_in(c, jm, w, "allowance_ms", 2, 0, 1e5, &t->allowance_ms), f2);
  NTW_GOTO(err, num_in(c, jm, w, "slack_ms", 1, 0, 1e5, &t->slack_ms), f2);
  NTW_GOTO(err, num_in(c, jm, w, "peer_timeout_ms", 2000, 1, 1e8, &t->peer_timeout_ms), f2);
  NTW_GOTO(err, num_in(c, jm, w, "heartbeat_ms", 100, 1, 1e6, &t->heartbeat_ms), f2);
  NTW_GOTO(err, num_in(c, jm, w, "start_timeout_ms", 20000, 1, 1e8, &t->start_timeout_ms), f2);
  NTW_GOTO(err, num_in(c, jm, w, "rt_priority", 0, 0, 98, &t->rt_priority), f2);
  if (t->rt_priority != floor(t->rt_priority))
    NTW_GOTO(err, CFG_FAIL(c, "twin.timing.rt_priority", "must be an integer in [0, 98] (got %g)",
                           t->rt_priority), f2);
  {
    json_t *v = json_object_get(jm, "lock_memory");
    if (v) NTW_GOTO(err, bool_value(c, v, "twin.timing.lock_memory", &t->lock_memory), f2);
  }
f2:
  json_decref(jm);
  NTW_TRY(err);
  return parse_twin_stim(c, t, jt);
}

static int parse_root(const cfg_ctx *c, ntw_config *cfg, json_t *root) {
  if (!json_is_object(root))
    return CFG_FAIL(c, "top level", "must be an object (got %s)",
                    jshow(root).s);
  NTW_TRY(check_keys(c, root, "", top_keys, NTW_ARRAY_LEN(top_keys)));
  NTW_TRY(parse_sim(c, cfg, root));
  NTW_TRY(parse_pops(c, cfg, root));
  NTW_TRY(parse_projs(c, cfg, root));
  NTW_TRY(parse_stims(c, cfg, root));
  NTW_TRY(parse_record(c, cfg, root));
  return parse_twin(c, cfg, root);
}

int ntw_config_parse(const char *text, size_t len, const char *path,
                     ntw_config **out) {
  NTW_CHECK(out != NULL, NTW_ERR_ARG, "ntw_config_parse: out is NULL");
  *out = NULL;
  if (path == NULL) path = "(config)";
  NTW_CHECK(text != NULL, NTW_ERR_ARG, "%s: no text to parse", path);

  int err = 0;
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return NTW_ERR(NTW_ERR_CONFIG, "%s: line %d, column %d: %s", path,
                   jerr.line, jerr.column, jerr.text);

  ntw_config *cfg = calloc(1, sizeof *cfg);
  if (cfg == NULL) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory allocating the config");
    goto fail_json;
  }
  cfg->path = strdup(path);
  cfg->text = malloc(len + 1);
  if (cfg->path == NULL || cfg->text == NULL) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory copying the config text");
    goto fail_cfg;
  }
  memcpy(cfg->text, text, len);
  cfg->text[len] = '\0';

  const cfg_ctx c = {.file = path, .sep = ": ", .cfg = cfg};
  NTW_GOTO(err, parse_root(&c, cfg, root), fail_cfg);
  json_decref(root);
  *out = cfg;
  return 0;

fail_cfg:
  ntw_config_destroy(&cfg);
fail_json:
  json_decref(root);
  return err;
}

int ntw_config_read_file(const char *path, char **text, size_t *len) {
  NTW_CHECK(path != NULL && text != NULL && len != NULL, NTW_ERR_ARG,
            "ntw_config_read_file: NULL argument");
  *text = NULL;
  *len = 0;
  int err = 0;
  size_t cap = 4096, n = 0;
  char *buf = NULL;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NTW_ERR(NTW_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
  buf = malloc(cap);
  if (buf == NULL) {
    err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory reading the file", path);
    goto fail;
  }
  /* Read to EOF rather than trusting a size from stat: works for pipes
   * and /dev/stdin, and a directory fails here with EISDIR. */
  for (;;) {
    if (n + 1 >= cap) {
      char *nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory reading the file",
                      path);
        goto fail;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - 1 - n, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    err = NTW_ERR(NTW_ERR_IO, "%s: cannot read: %s", path,
                  strerror(errno ? errno : EIO));
    goto fail;
  }
  fclose(f);
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return 0;

fail:
  free(buf);
  fclose(f);
  return err;
}

void ntw_config_destroy(ntw_config **cfg) {
  if (cfg == NULL || *cfg == NULL) return;
  ntw_config *c = *cfg;
  for (size_t i = 0; i < c->npops; i++) free(c->pops[i].params);
  for (size_t i = 0; i < c->nprojs; i++) free(c->projs[i].syn_params);
  for (size_t i = 0; i < c->nstims; i++) {
    free(c->stims[i].spike_node);
    free(c->stims[i].spike_time);
  }
  free(c->pops);
  free(c->projs);
  free(c->stims);
  free(c->wrecs);
  free(c->text);
  free(c->path);
  free(c);
  *cfg = NULL;
}

int ntw_config_pop_index(const ntw_config *cfg, const char *name) {
  if (cfg == NULL || name == NULL) return -1;
  for (size_t i = 0; i < cfg->npops; i++)
    if (strcmp(cfg->pops[i].name, name) == 0) return (int)i;
  return -1;
}

const ntw_param *ntw_config_param(const ntw_pop_cfg *pop, const char *name) {
  if (pop == NULL || name == NULL) return NULL;
  for (size_t i = 0; i < pop->nparams; i++)
    if (strcmp(pop->params[i].name, name) == 0) return &pop->params[i];
  return NULL;
}

bool ntw_config_coupling_rank(const ntw_config *cfg, int nranks) {
  switch (cfg->sim.coupling_rank) {
  case NTW_COUPLING_ON: return true;
  case NTW_COUPLING_OFF: return false;
  case NTW_COUPLING_AUTO: break;
  }
  /* Paced: a link source always is, a file source when source.pace says
   * so. With 2 ranks a dedicated rank 0 would halve the compute ranks to
   * one, which costs more than the coupling's waits save. */
  return cfg->twin.enabled && cfg->twin.pace && nranks >= 3;
}

int ntw_config_override(ntw_config *cfg, const double *t_stop,
                        const uint64_t *seed, const char *partition,
                        const char *bind, const char *comm) {
  NTW_CHECK(cfg != NULL, NTW_ERR_ARG, "ntw_config_override: cfg is NULL");
  char known[128];
  /* Validate everything before changing anything, so a rejected override
   * leaves the config exactly as parsed. */
  if (t_stop != NULL && !(isfinite(*t_stop) && *t_stop >= 0.0))
    return NTW_ERR(NTW_ERR_CONFIG, "--t-stop: must be >= 0 (got %g)",
                   *t_stop);
  if (partition != NULL &&
      find_name(partition, partition_names,
                NTW_ARRAY_LEN(partition_names)) < 0) {
    join_names(known, sizeof known, partition_names,
               NTW_ARRAY_LEN(partition_names));
    return NTW_ERR(NTW_ERR_CONFIG,
                   "--partition: unknown partition '%s' (known: %s)",
                   partition, known);
  }
  if (bind != NULL &&
      find_name(bind, bind_names, NTW_ARRAY_LEN(bind_names)) < 0) {
    join_names(known, sizeof known, bind_names, NTW_ARRAY_LEN(bind_names));
    return NTW_ERR(NTW_ERR_CONFIG, "--bind: unknown bind '%s' (known: %s)",
                   bind, known);
  }
  if (comm != NULL &&
      find_name(comm, comm_names, NTW_ARRAY_LEN(comm_names)) < 0) {
    join_names(known, sizeof known, comm_names, NTW_ARRAY_LEN(comm_names));
    return NTW_ERR(NTW_ERR_CONFIG, "--comm: unknown comm '%s' (known: %s)",
                   comm, known);
  }
  if (t_stop != NULL) cfg->sim.t_stop = *t_stop;
  if (seed != NULL) cfg->sim.seed = *seed;
  if (partition != NULL)
    snprintf(cfg->sim.partition, sizeof cfg->sim.partition, "%s", partition);
  if (bind != NULL)
    snprintf(cfg->sim.bind, sizeof cfg->sim.bind, "%s", bind);
  if (comm != NULL)
    snprintf(cfg->sim.comm, sizeof cfg->sim.comm, "%s", comm);
  return 0;
}

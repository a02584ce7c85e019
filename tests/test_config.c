/* tests/test_config.c - io/config: good configs parse to the right values,
 * and every bad input fails with the right code and names the field.
 * Serial (no MPI). JSON in this file is written with ' for " to stay
 * readable; q() swaps them back before parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ntw_error.h"
#include "io/config.h"

#define PATH "configs/x.json"

static char *q(const char *s) {
  char *t = strdup(s);
  assert_non_null(t);
  for (char *p = t; *p; p++)
    if (*p == '\'') *p = '"';
  return t;
}

static int parse_q(const char *json, ntw_config **cfg) {
  char *t = q(json);
  ntw_error_clear();
  int rc = ntw_config_parse(t, strlen(t), PATH, cfg);
  free(t);
  return rc;
}

static ntw_config *parse_ok(const char *json) {
  ntw_config *cfg = NULL;
  int rc = parse_q(json, &cfg);
  if (rc != 0) fail_msg("unexpected error: %s", ntw_error_msg());
  assert_non_null(cfg);
  return cfg;
}

#define SIM "'simulation': {'dt': 0.1, 't_stop': 100}"
#define POPS                                                 \
  "'populations': [{'name': 'E', 'model': 'iaf', 'size': 800}, " \
  "{'name': 'I', 'model': 'iaf', 'size': 200}]"
#define BASE SIM ", " POPS
#define PROJ(body) "{" BASE ", 'projections': [" body "]}"
#define STIM(body) "{" BASE ", 'stimuli': [" body "]}"
#define WD "'weight': 0.1, 'delay': 1.5"
#define WREC(body)                                                       \
  "{" BASE ", 'projections': [{'source': 'E', 'target': 'I', 'rule': "    \
  "'all_to_all', " WD "}], 'record': {'spikes': ['E'], 'weights': [" body \
  "]}}"
#define DPROJ(delay)                                                   \
  PROJ("{'source': 'E', 'target': 'I', 'rule': 'all_to_all', 'weight': 1, " \
       "'delay': " delay "}")
#define PARAM(value)                                                   \
  "{" SIM ", 'populations': [{'name': 'E', 'model': 'iaf', 'size': 1, " \
  "'params': {'V_m': " value "}}]}"

/* ---- good configs ------------------------------------------------------ */

static const char *full_config =
    "{'simulation': {'dt': 0.1, 't_stop': 1000.0, 'seed': 42,"
    "   'partition': 'block', 'bind': 'numa', 'comm': 'mpi', 'overlap': true},"
    " 'populations': ["
    "   {'name': 'E', 'model': 'iaf_psc_delta', 'size': 8000,"
    "    'params': {'tau_m': 20.0, 'V_th': 20,"
    "               'V_m': {'distribution': 'uniform', 'low': 0, 'high': 20}}},"
    "   {'name': 'I-1', 'model': 'iaf_psc_delta', 'size': 2000},"
    "   {'name': 'ext_0', 'model': 'parrot', 'size': 1e3}],"
    " 'projections': ["
    "   {'source': 'E', 'target': 'I-1', 'rule': 'fixed_indegree',"
    "    'indegree': 800, 'weight': 0.1, 'delay': 1.5},"
    "   {'source': 'I-1', 'target': 'E', 'rule': 'fixed_probability',"
    "    'p': 0.1, 'weight': -0.5,"
    "    'delay': {'distribution': 'normal', 'mean': 1.5, 'std': 0.3,"
    "              'min': 0.1, 'max': 3},"
    "    'allow_autapses': false, 'allow_multapses': false},"
    "   {'source': 'ext_0', 'target': 'ext_0', 'rule': 'one_to_one',"
    "    'weight': {'distribution': 'lognormal', 'mu': 0, 'sigma': 1},"
    "    'delay': {'distribution': 'uniform', 'low': 0.1, 'high': 2}},"
    "   {'source': 'E', 'target': 'E', 'rule': 'all_to_all',"
    "    'weight': 1, 'delay': {'distribution': 'lognormal', 'mu': 0,"
    "    'sigma': 0.5, 'min': 0.2}}],"
    " 'stimuli': ["
    "   {'type': 'poisson', 'target': 'E', 'rate': 20000.0, 'weight': 0.1},"
    "   {'type': 'dc', 'target': 'I-1', 'amplitude': 100.0, 'start': 5,"
    "    'stop': 50}],"
    " 'record': {'spikes': ['E', 'ext_0']}}";

static void test_full(void **state) {
  (void)state;
  ntw_config *cfg = parse_ok(full_config);

  assert_string_equal(cfg->path, PATH);
  char *t = q(full_config);
  assert_string_equal(cfg->text, t);
  free(t);

  assert_true(cfg->sim.dt == 0.1);
  assert_true(cfg->sim.t_stop == 1000.0);
  assert_int_equal(cfg->sim.seed, 42);
  assert_string_equal(cfg->sim.partition, "block");
  assert_string_equal(cfg->sim.bind, "numa");
  assert_string_equal(cfg->sim.comm, "mpi");
  assert_true(cfg->sim.overlap);

  assert_int_equal(cfg->npops, 3);
  assert_string_equal(cfg->pops[0].name, "E");
  assert_string_equal(cfg->pops[0].model, "iaf_psc_delta");
  assert_int_equal(cfg->pops[0].size, 8000);
  assert_int_equal(cfg->pops[0].first_gid, 0);
  assert_int_equal(cfg->pops[1].first_gid, 8000);
  assert_int_equal(cfg->pops[2].size, 1000);
  assert_int_equal(cfg->pops[2].first_gid, 10000);
  assert_int_equal(cfg->n_neurons, 11000);
  assert_true(cfg->pops[0].record_spikes);
  assert_false(cfg->pops[1].record_spikes);
  assert_true(cfg->pops[2].record_spikes);
  assert_int_equal(ntw_config_pop_index(cfg, "I-1"), 1);
  assert_int_equal(ntw_config_pop_index(cfg, "nope"), -1);

  assert_int_equal(cfg->pops[0].nparams, 3);
  const ntw_param *p = ntw_config_param(&cfg->pops[0], "tau_m");
  assert_non_null(p);
  assert_int_equal(p->value.kind, NTW_DIST_CONST);
  assert_true(p->value.a == 20.0);
  p = ntw_config_param(&cfg->pops[0], "V_th");
  assert_non_null(p);
  assert_true(p->value.a == 20.0);
  p = ntw_config_param(&cfg->pops[0], "V_m");
  assert_non_null(p);
  assert_int_equal(p->value.kind, NTW_DIST_UNIFORM);
  assert_true(p->value.a == 0.0 && p->value.b == 20.0);
  assert_null(ntw_config_param(&cfg->pops[0], "C_m"));
  assert_int_equal(cfg->pops[1].nparams, 0);

  assert_int_equal(cfg->nprojs, 4);
  const ntw_proj_cfg *pj = &cfg->projs[0];
  assert_int_equal(pj->source, 0);
  assert_int_equal(pj->target, 1);
  assert_int_equal(pj->rule, NTW_RULE_FIXED_INDEGREE);
  assert_int_equal(pj->indegree, 800);
  assert_int_equal(pj->weight.kind, NTW_DIST_CONST);
  assert_true(pj->weight.a == 0.1);
  assert_true(pj->delay.a == 1.5);
  assert_true(pj->allow_autapses && pj->allow_multapses);

  pj = &cfg->projs[1];
  assert_int_equal(pj->rule, NTW_RULE_FIXED_PROBABILITY);
  assert_true(pj->p == 0.1);
  assert_true(pj->weight.a == -0.5);
  assert_int_equal(pj->delay.kind, NTW_DIST_NORMAL);
  assert_true(pj->delay.a == 1.5 && pj->delay.b == 0.3);
  assert_true(pj->delay.min == 0.1 && pj->delay.max == 3.0);
  assert_false(pj->allow_autapses);
  assert_false(pj->allow_multapses);

  pj = &cfg->projs[2];
  assert_int_equal(pj->rule, NTW_RULE_ONE_TO_ONE);
  assert_int_equal(pj->source, 2);
  assert_int_equal(pj->weight.kind, NTW_DIST_LOGNORMAL);
  assert_true(isinf(pj->weight.min) && pj->weight.min < 0);
  assert_true(isinf(pj->weight.max) && pj->weight.max > 0);
  assert_int_equal(pj->delay.kind, NTW_DIST_UNIFORM);

  pj = &cfg->projs[3];
  assert_int_equal(pj->rule, NTW_RULE_ALL_TO_ALL);
  assert_true(pj->delay.min == 0.2);

  assert_int_equal(cfg->nstims, 2);
  assert_int_equal(cfg->stims[0].kind, NTW_STIM_POISSON);
  assert_int_equal(cfg->stims[0].target, 0);
  assert_true(cfg->stims[0].rate == 20000.0);
  assert_true(cfg->stims[0].weight == 0.1);
  assert_true(cfg->stims[0].start == 0.0);
  assert_true(isinf(cfg->stims[0].stop));
  assert_int_equal(cfg->stims[1].kind, NTW_STIM_DC);
  assert_int_equal(cfg->stims[1].target, 1);
  assert_true(cfg->stims[1].amplitude == 100.0);
  assert_true(cfg->stims[1].start == 5.0 && cfg->stims[1].stop == 50.0);

  ntw_config_destroy(&cfg);
  assert_null(cfg);
}

/* The noise stimulus and weight recording parse to the right values. */
static void test_noise_and_weights(void **state) {
  (void)state;
  ntw_config *cfg = parse_ok(
      "{" BASE ", 'projections': [{'source': 'E', 'target': 'I', 'rule': "
      "'all_to_all', " WD "}, {'source': 'I', 'target': 'E', 'rule': "
      "'all_to_all', " WD "}],"
      " 'stimuli': [{'type': 'noise', 'target': 'I', 'mean': 12.5, 'std': 30,"
      " 'tau': 4, 'start': 10}, {'type': 'noise', 'target': 'E', 'std': 0,"
      " 'tau': 0.5}],"
      " 'record': {'weights': [{'projection': 1, 'interval': 2.5, 'sample': 7},"
      " {'projection': 0, 'interval': 1e3}]}}");
  assert_int_equal(cfg->nstims, 2);
  assert_int_equal(cfg->stims[0].kind, NTW_STIM_NOISE);
  assert_int_equal(cfg->stims[0].target, 1);
  assert_true(cfg->stims[0].mean == 12.5 && cfg->stims[0].std == 30.0 &&
              cfg->stims[0].tau == 4.0);
  assert_true(cfg->stims[0].start == 10.0 && isinf(cfg->stims[0].stop));
  assert_true(cfg->stims[1].mean == 0.0 && cfg->stims[1].std == 0.0);
  assert_int_equal(cfg->nwrecs, 2);
  assert_int_equal(cfg->wrecs[0].proj, 1);
  assert_true(cfg->wrecs[0].interval == 2.5);
  assert_true(cfg->wrecs[0].sample == 7);
  assert_int_equal(cfg->wrecs[1].proj, 0);
  assert_true(cfg->wrecs[1].sample == UINT64_MAX);
  ntw_config_destroy(&cfg);
}

static void test_defaults(void **state) {
  (void)state;
  ntw_config *cfg = parse_ok("{" BASE "}");
  assert_int_equal(cfg->sim.seed, 12345);
  assert_string_equal(cfg->sim.partition, "round_robin");
  assert_string_equal(cfg->sim.bind, "core");
  assert_string_equal(cfg->sim.comm, "mpi");
  assert_false(cfg->sim.overlap);
  assert_int_equal(cfg->nprojs, 0);
  assert_int_equal(cfg->nstims, 0);
  assert_false(cfg->pops[0].record_spikes);
  assert_false(cfg->pops[1].record_spikes);
  assert_int_equal(cfg->n_neurons, 1000);
  ntw_config_destroy(&cfg);

  /* t_stop 0, empty lists, empty record are all fine. */
  cfg = parse_ok("{'simulation': {'dt': 1, 't_stop': 0}, " POPS
                 ", 'projections': [], 'stimuli': [], 'record': {}}");
  assert_true(cfg->sim.t_stop == 0.0);
  ntw_config_destroy(&cfg);
}

/* simulation.coupling_rank: parsed values and the auto rule (a paced twin
 * on >= 3 ranks). */
#define TWIN_NET(sim, source)                                               \
  "{'simulation': {'dt': 0.1, 't_stop': 100" sim "},"                      \
  " 'populations': [{'name': 'M', 'model': 'spike_source', 'size': 4},"    \
  "  {'name': 'P', 'model': 'iaf_psc_delta', 'size': 4}],"                 \
  " 'projections': [{'source': 'M', 'target': 'P', 'rule': 'all_to_all',"  \
  "  'weight': 0.0, 'delay': 1.0}],"                                       \
  " 'twin': {'regime': " source ", 'mirror': 'M', 'predict': 'P'}}"
static void test_coupling_rank(void **state) {
  (void)state;
  ntw_config *cfg = parse_ok("{" BASE "}");
  assert_int_equal(cfg->sim.coupling_rank, NTW_COUPLING_AUTO);
  /* offline: auto is off on any number of ranks */
  assert_false(ntw_config_coupling_rank(cfg, 1));
  assert_false(ntw_config_coupling_rank(cfg, 8));
  ntw_config_destroy(&cfg);
  cfg = parse_ok("{'simulation': {'dt': 0.1, 't_stop': 1, 'coupling_rank': true}, " POPS "}");
  assert_int_equal(cfg->sim.coupling_rank, NTW_COUPLING_ON);
  assert_true(ntw_config_coupling_rank(cfg, 2)); /* without a twin: an idle rank 0 */
  ntw_config_destroy(&cfg);
  cfg = parse_ok("{'simulation': {'dt': 0.1, 't_stop': 1, 'coupling_rank': 'auto'}, " POPS "}");
  assert_int_equal(cfg->sim.coupling_rank, NTW_COUPLING_AUTO);
  ntw_config_destroy(&cfg);

  /* a link source is paced: on from 3 ranks */
  cfg = parse_ok(TWIN_NET("", "'twin', 'source': {'kind': 'link'}"));
  assert_false(ntw_config_coupling_rank(cfg, 2));
  assert_true(ntw_config_coupling_rank(cfg, 3));
  ntw_config_destroy(&cfg);
  cfg = parse_ok(TWIN_NET(", 'coupling_rank': false", "'twin', 'source': {'kind': 'link'}"));
  assert_false(ntw_config_coupling_rank(cfg, 4));
  ntw_config_destroy(&cfg);
  /* a file replayed as fast as possible is not paced: off; paced: on */
  cfg = parse_ok(TWIN_NET("", "'replay', 'source': {'kind': 'file', 'path': 'x.csv'}"));
  assert_false(ntw_config_coupling_rank(cfg, 4));
  ntw_config_destroy(&cfg);
  cfg = parse_ok(TWIN_NET("", "'replay', 'source': {'kind': 'file', 'path': 'x.csv', "
                              "'pace': true}"));
  assert_true(ntw_config_coupling_rank(cfg, 3));
  ntw_config_destroy(&cfg);
}

/* fixed_total_number: N as parsed; 0 and the exact pair bound are fine. */
static void test_total_number(void **state) {
  (void)state;
  ntw_config *cfg = parse_ok(PROJ(
      "{'source': 'E', 'target': 'I', 'rule': 'fixed_total_number', "
      "'N': 1.6e5, 'allow_multapses': false, " WD "}, "
      "{'source': 'I', 'target': 'I', 'rule': 'fixed_total_number', "
      "'N': 0, " WD "}, "
      "{'source': 'I', 'target': 'I', 'rule': 'fixed_total_number', "
      "'N': 39800, 'allow_autapses': false, 'allow_multapses': false, " WD
      "}"));
  assert_int_equal(cfg->projs[0].rule, NTW_RULE_FIXED_TOTAL_NUMBER);
  assert_int_equal(cfg->projs[0].N, 160000);
  assert_false(cfg->projs[0].allow_multapses);
  assert_int_equal(cfg->projs[1].N, 0);
  assert_true(cfg->projs[1].allow_autapses && cfg->projs[1].allow_multapses);
  assert_int_equal(cfg->projs[2].N, 39800);
  ntw_config_destroy(&cfg);
}

static void test_dist_bounds(void **state) {
  (void)state;
  ntw_dist c = {NTW_DIST_CONST, 2.0, 0.0, -INFINITY, INFINITY};
  assert_true(ntw_dist_lower(&c) == 2.0 && ntw_dist_upper(&c) == 2.0);
  ntw_dist u = {NTW_DIST_UNIFORM, 1.0, 3.0, -INFINITY, INFINITY};
  assert_true(ntw_dist_lower(&u) == 1.0 && ntw_dist_upper(&u) == 3.0);
  ntw_dist n = {NTW_DIST_NORMAL, 1.0, 3.0, -INFINITY, INFINITY};
  assert_true(isinf(ntw_dist_lower(&n)) && ntw_dist_lower(&n) < 0);
  assert_true(isinf(ntw_dist_upper(&n)) && ntw_dist_upper(&n) > 0);
  n.min = 0.5;
  n.max = 4.0;
  assert_true(ntw_dist_lower(&n) == 0.5 && ntw_dist_upper(&n) == 4.0);
  ntw_dist l = {NTW_DIST_LOGNORMAL, 0.0, 1.0, -INFINITY, INFINITY};
  assert_true(ntw_dist_lower(&l) == 0.0);
  assert_true(isinf(ntw_dist_upper(&l)));
  l.min = 0.3;
  assert_true(ntw_dist_lower(&l) == 0.3);

  /* Delay exactly dt is allowed, and a parsed normal delay bounds by min. */
  ntw_config *cfg = parse_ok(DPROJ("0.1"));
  ntw_config_destroy(&cfg);
  cfg = parse_ok(
      DPROJ("{'distribution': 'normal', 'mean': 1, 'std': 0.5, 'min': 0.1}"));
  assert_true(ntw_dist_lower(&cfg->projs[0].delay) == 0.1);
  assert_true(isinf(ntw_dist_upper(&cfg->projs[0].delay)));
  ntw_config_destroy(&cfg);
}

static void test_destroy_null(void **state) {
  (void)state;
  ntw_config *cfg = NULL;
  ntw_config_destroy(&cfg);
  ntw_config_destroy(NULL);
  assert_null(cfg);
  assert_null(ntw_config_param(NULL, "x"));
  assert_int_equal(ntw_config_pop_index(NULL, "x"), -1);
}

/* ---- files ------------------------------------------------------------- */

static void test_read_missing(void **state) {
  (void)state;
  char *text = (char *)1;
  size_t len = 7;
  ntw_error_clear();
  int rc = ntw_config_read_file("/nonexistent/x.json", &text, &len);
  assert_int_equal(rc, NTW_ERR_IO);
  assert_null(text);
  assert_string_equal(ntw_error_msg(),
                      "/nonexistent/x.json: cannot read: No such file or "
                      "directory");
}

static void test_read_dir(void **state) {
  (void)state;
  char *text = NULL;
  size_t len = 0;
  int rc = ntw_config_read_file("/", &text, &len);
  assert_int_equal(rc, NTW_ERR_IO);
  assert_non_null(strstr(ntw_error_msg(), "/: cannot read: "));
  assert_null(text);
}

static void test_read_file(void **state) {
  (void)state;
  char path[] = "/tmp/ntw_test_config_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  /* Larger than the initial buffer so growing is exercised. */
  size_t want = 10000;
  char *body = malloc(want);
  assert_non_null(body);
  memset(body, ' ', want);
  char *cfgtext = q("{" BASE "}");
  memcpy(body, cfgtext, strlen(cfgtext));
  assert_int_equal(write(fd, body, want), (ssize_t)want);
  close(fd);

  char *text = NULL;
  size_t len = 0;
  assert_int_equal(ntw_config_read_file(path, &text, &len), 0);
  assert_int_equal(len, want);
  assert_int_equal(text[len], '\0');
  assert_memory_equal(text, body, want);
  ntw_config *cfg = NULL;
  assert_int_equal(ntw_config_parse(text, len, path, &cfg), 0);
  assert_int_equal(strlen(cfg->text), want);
  ntw_config_destroy(&cfg);
  free(text);
  free(body);
  free(cfgtext);
  unlink(path);
}

/* ---- overrides --------------------------------------------------------- */

static void test_override(void **state) {
  (void)state;
  ntw_config *cfg = parse_ok("{" BASE "}");
  double t = 250.0;
  uint64_t seed = UINT64_MAX;
  assert_int_equal(ntw_config_override(cfg, &t, &seed, "block", "none", "ofi"), 0);
  assert_true(cfg->sim.t_stop == 250.0);
  assert_true(cfg->sim.seed == UINT64_MAX);
  assert_string_equal(cfg->sim.partition, "block");
  assert_string_equal(cfg->sim.bind, "none");
  assert_string_equal(cfg->sim.comm, "ofi");

  /* NULL keeps everything. */
  assert_int_equal(ntw_config_override(cfg, NULL, NULL, NULL, NULL, NULL), 0);
  assert_true(cfg->sim.t_stop == 250.0);

  /* Errors name the flag, not the file, and change nothing. */
  t = -1;
  seed = 7;
  assert_int_equal(ntw_config_override(cfg, &t, &seed, NULL, NULL, NULL),
                   NTW_ERR_CONFIG);
  assert_string_equal(ntw_error_msg(), "--t-stop: must be >= 0 (got -1)");
  assert_true(cfg->sim.t_stop == 250.0);
  assert_true(cfg->sim.seed == UINT64_MAX);

  t = NAN;
  assert_int_equal(ntw_config_override(cfg, &t, NULL, NULL, NULL, NULL),
                   NTW_ERR_CONFIG);
  assert_non_null(strstr(ntw_error_msg(), "--t-stop: "));

  t = 10;
  assert_int_equal(ntw_config_override(cfg, &t, NULL, "metis", NULL, NULL),
                   NTW_ERR_CONFIG);
  assert_string_equal(ntw_error_msg(),
                      "--partition: unknown partition 'metis' (known: "
                      "round_robin, block, graph)");
  assert_true(cfg->sim.t_stop == 250.0);
  assert_string_equal(cfg->sim.partition, "block");

  assert_int_equal(ntw_config_override(cfg, NULL, NULL, NULL, "socket", NULL),
                   NTW_ERR_CONFIG);
  assert_non_null(strstr(ntw_error_msg(), "--bind: unknown bind 'socket'"));
  assert_null(strstr(ntw_error_msg(), PATH));
  assert_string_equal(cfg->sim.bind, "none");

  assert_int_equal(ntw_config_override(cfg, NULL, NULL, NULL, NULL, "ucx"),
                   NTW_ERR_CONFIG);
  assert_string_equal(ntw_error_msg(),
                      "--comm: unknown comm 'ucx' (known: mpi, ofi)");
  assert_string_equal(cfg->sim.comm, "ofi");
  ntw_config_destroy(&cfg);
}

/* ---- bad inputs -------------------------------------------------------- */

typedef struct {
  const char *json;
  int code;
  const char *expect; /* substring of ntw_error_msg() */
} bad_case;

static const bad_case bad_cases[] = {
    /* syntax (jansson) */
    {"{'simulation': ", NTW_ERR_CONFIG, PATH ": line 1, column "},
    {"{" BASE ",\n 'record': {'spikes': [}}", NTW_ERR_CONFIG,
     PATH ": line 2, column "},
    {"{'simulation': {'dt': NaN, 't_stop': 1}, " POPS "}", NTW_ERR_CONFIG,
     PATH ": line 1, column "},
    {"{'simulation': {'dt': Infinity, 't_stop': 1}, " POPS "}", NTW_ERR_CONFIG,
     PATH ": line 1, column "},
    {"{'simulation': {'dt': 1e999, 't_stop': 1}, " POPS "}", NTW_ERR_CONFIG,
     PATH ": line 1, column "},
    {"{'simulation': {'dt': 0.1, 'dt': 0.2, 't_stop': 1}, " POPS "}",
     NTW_ERR_CONFIG, "duplicate"},
    {"[1, 2]", NTW_ERR_CONFIG, PATH ": top level: must be an object"},
    /* top level and simulation */
    {"{" BASE ", 'projection': []}", NTW_ERR_CONFIG,
     PATH ": projection: unknown field"},
    {"{" POPS "}", NTW_ERR_CONFIG, PATH ": simulation: missing required field"},
    {"{'simulation': 1, " POPS "}", NTW_ERR_CONFIG,
     PATH ": simulation: must be an object (got 1)"},
    {"{'simulation': {'t_stop': 1}, " POPS "}", NTW_ERR_CONFIG,
     PATH ": simulation.dt: missing required field"},
    {"{'simulation': {'dt': 0, 't_stop': 1}, " POPS "}", NTW_ERR_CONFIG,
     PATH ": simulation.dt: must be > 0 (got 0)"},
    {"{'simulation': {'dt': '0.1', 't_stop': 1}, " POPS "}", NTW_ERR_CONFIG,
     PATH ": simulation.dt: must be a number (got \"0.1\")"},
    {"{'simulation': {'dt': 0.1}, " POPS "}", NTW_ERR_CONFIG,
     "simulation.t_stop: missing required field"},
    {"{'simulation': {'dt': 0.1, 't_stop': -1}, " POPS "}", NTW_ERR_CONFIG,
     "simulation.t_stop: must be >= 0 (got -1)"},
    {"{'simulation': {'dt': 0.1, 't_stop': 1, 'dtt': 1}, " POPS "}",
     NTW_ERR_CONFIG, "simulation.dtt: unknown field"},
    {"{'simulation': {'dt': 0.1, 't_stop': 1, 'seed': -3}, " POPS "}",
     NTW_ERR_CONFIG, "simulation.seed: must be a non-negative integer (got -3)"},
    {"{'simulation': {'dt': 0.1, 't_stop': 1, 'seed': 1.5}, " POPS "}",
     NTW_ERR_CONFIG, "simulation.seed: must be a non-negative integer"},
    {"{'simulation': {'dt': 0.1, 't_stop': 1, 'partition': 'metis'}, " POPS
     "}",
     NTW_ERR_CONFIG,
     "simulation.partition: unknown partition 'metis' (known: round_robin, "
     "block, graph)"},
    {"{'simulation': {'dt': 0.1, 't_stop': 1, 'bind': 'socket'}, " POPS "}",
     NTW_ERR_CONFIG, "simulation.bind: unknown bind 'socket'"},
    {"{'simulation': {'dt': 0.1, 't_stop': 1, 'comm': 'ucx'}, " POPS "}",
     NTW_ERR_CONFIG, "simulation.comm: unknown comm 'ucx' (known: mpi, ofi)"},
    {"{'simulation': {'dt': 0.1, 't_stop': 1, 'comm': 3}, " POPS "}",
     NTW_ERR_CONFIG, "simulation.comm: must be a string (got 3)"},
    {"{'simulation': {'dt': 0.1, 't_stop': 1, 'overlap': 'on'}, " POPS "}",
     NTW_ERR_CONFIG, "simulation.overlap: must be true or false"},
    {"{'simulation': {'dt': 0.1, 't_stop': 1, 'coupling_rank': 'on'}, " POPS "}",
     NTW_ERR_CONFIG, "simulation.coupling_rank: must be \"auto\", true or false (got \"on\")"},
    {"{'simulation': {'dt': 0.1, 't_stop': 1, 'coupling_rank': 1}, " POPS "}",
     NTW_ERR_CONFIG, "simulation.coupling_rank: must be \"auto\", true or false (got 1)"},
    /* populations */
    {"{" SIM "}", NTW_ERR_CONFIG, "populations: missing required field"},
    {"{" SIM ", 'populations': []}", NTW_ERR_CONFIG,
     "populations: must be a non-empty array"},
    {"{" SIM ", 'populations': [1]}", NTW_ERR_CONFIG,
     "populations[0]: must be an object (got 1)"},
    {"{" SIM ", 'populations': [{'name': 'E', 'model': 'm', 'size': 1},"
     " {'name': 'I', 'model': 'm', 'size': -5}]}",
     NTW_ERR_CONFIG,
     PATH ": populations[1].size: must be a positive integer (got -5)"},
    {"{" SIM ", 'populations': [{'name': 'E', 'model': 'm', 'size': 2.5}]}",
     NTW_ERR_CONFIG, "populations[0].size: must be a positive integer (got 2.5)"},
    {"{" SIM ", 'populations': [{'name': 'E', 'model': 'm', 'size': 0}]}",
     NTW_ERR_CONFIG, "populations[0].size: must be a positive integer (got 0)"},
    {"{" SIM ", 'populations': [{'name': 'E', 'model': 'm', 'size': '10'}]}",
     NTW_ERR_CONFIG, "populations[0].size: must be a positive integer"},
    {"{" SIM ", 'populations': [{'name': 'E', 'model': 'm', 'size': "
     "99999999999999999999}]}",
     NTW_ERR_CONFIG, PATH ": line 1, column "},
    {"{" SIM ", 'populations': [{'name': 'A', 'model': 'm', 'size': "
     "9223372036854775807}, {'name': 'B', 'model': 'm', 'size': "
     "9223372036854775807}, {'name': 'C', 'model': 'm', 'size': 2}]}",
     NTW_ERR_CONFIG, "populations[2].size: the total number of neurons"},
    {"{" SIM ", 'populations': [{'name': 'E', 'model': 'm', 'sizee': 10}]}",
     NTW_ERR_CONFIG, PATH ": populations[0].sizee: unknown field"},
    {"{" SIM ", 'populations': [{'name': 'E', 'model': 'm'}]}", NTW_ERR_CONFIG,
     "populations[0].size: missing required field"},
    {"{" SIM ", 'populations': [{'model': 'm', 'size': 1}]}", NTW_ERR_CONFIG,
     "populations[0].name: missing required field"},
    {"{" SIM ", 'populations': [{'name': '', 'model': 'm', 'size': 1}]}",
     NTW_ERR_CONFIG, "populations[0].name: must not be empty"},
    {"{" SIM ", 'populations': [{'name': 'a b', 'model': 'm', 'size': 1}]}",
     NTW_ERR_CONFIG, "populations[0].name: may contain only letters"},
    {"{" SIM ", 'populations': [{'name': "
     "'x234567890123456789012345678901234567890123456789012345678901234', "
     "'model': 'm', 'size': 1}]}",
     NTW_ERR_CONFIG, "populations[0].name: must be at most 63 characters"},
    {"{" SIM ", 'populations': [{'name': 'E', 'model': 'm', 'size': 1},"
     " {'name': 'E', 'model': 'm', 'size': 1}]}",
     NTW_ERR_CONFIG, "populations[1].name: duplicate population name"},
    {"{" SIM ", 'populations': [{'name': 'E', 'size': 1}]}", NTW_ERR_CONFIG,
     "populations[0].model: missing required field"},
    {"{" SIM ", 'populations': [{'name': 'E', 'model': '', 'size': 1}]}",
     NTW_ERR_CONFIG, "populations[0].model: must not be empty"},
    {"{" SIM ", 'populations': [{'name': 'E', 'model': 'm', 'size': 1, "
     "'params': [1]}]}",
     NTW_ERR_CONFIG, "populations[0].params: must be an object"},
    /* params and distributions (unknown param names are fine) */
    {PARAM("'-70'"), NTW_ERR_CONFIG,
     "populations[0].params.V_m: must be a number or a distribution object "
     "(got \"-70\")"},
    {"{" SIM ", 'populations': [{'name': 'E', 'model': 'm', 'size': 1, "
     "'params': {'': 1}}]}",
     NTW_ERR_CONFIG, "populations[0].params: parameter names must have 1 to "},
    {PARAM("null"), NTW_ERR_CONFIG,
     "populations[0].params.V_m: must be a number or a distribution object "
     "(got null)"},
    {PARAM("{'distribution': 'gamma', 'k': 1}"), NTW_ERR_CONFIG,
     "populations[0].params.V_m.k: unknown field"},
    {PARAM("{'distribution': 'gamma'}"), NTW_ERR_CONFIG,
     "populations[0].params.V_m.distribution: unknown distribution 'gamma' "
     "(known: uniform, normal, lognormal)"},
    {PARAM("{'low': 1, 'high': 2}"), NTW_ERR_CONFIG,
     "populations[0].params.V_m.distribution: missing required field"},
    {PARAM("{'distribution': 'uniform', 'low': 2, 'high': 1}"), NTW_ERR_CONFIG,
     "populations[0].params.V_m.high: must be greater than low = 2 (got 1)"},
    {PARAM("{'distribution': 'uniform', 'low': 2, 'high': 2}"), NTW_ERR_CONFIG,
     "populations[0].params.V_m.high: must be greater than low"},
    {PARAM("{'distribution': 'uniform', 'low': 0}"), NTW_ERR_CONFIG,
     "populations[0].params.V_m.high: missing required field"},
    {PARAM("{'distribution': 'uniform', 'low': 0, 'high': 1, 'min': 0}"),
     NTW_ERR_CONFIG,
     "populations[0].params.V_m.min: not allowed for a uniform distribution"},
    {PARAM("{'distribution': 'normal', 'mu': 0, 'sigma': 1}"), NTW_ERR_CONFIG,
     "populations[0].params.V_m.mu: not allowed for a normal distribution"},
    {PARAM("{'distribution': 'normal', 'mean': 0, 'std': -1}"), NTW_ERR_CONFIG,
     "populations[0].params.V_m.std: must be >= 0 (got -1)"},
    {PARAM("{'distribution': 'normal', 'mean': 0, 'std': 1, 'min': 5, "
           "'max': 5}"),
     NTW_ERR_CONFIG,
     "populations[0].params.V_m.max: must be greater than min = 5 (got 5)"},
    {PARAM("{'distribution': 'normal', 'mean': 'x', 'std': 1}"),
     NTW_ERR_CONFIG, "populations[0].params.V_m.mean: must be a number"},
    {PARAM("{'distribution': 'lognormal', 'mu': 0, 'sigma': -0.5}"),
     NTW_ERR_CONFIG, "populations[0].params.V_m.sigma: must be >= 0"},
    {PARAM("{'distribution': 'lognormal', 'mu': 0, 'sigma': 1, 'max': true}"),
     NTW_ERR_CONFIG, "populations[0].params.V_m.max: must be a number"},
    /* projections */
    {"{" BASE ", 'projections': {}}", NTW_ERR_CONFIG,
     "projections: must be an array"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'all_to_all', " WD
          "}, {'source': 'I', 'target': 'I', 'rule': 'one_to_one', " WD
          "}, {'source': 'E', 'target': 'I', 'rule': 'fixed_outdegre', " WD
          "}"),
     NTW_ERR_CONFIG,
     PATH ": projections[2].rule: unknown rule 'fixed_outdegre' (known: "
          "fixed_indegree, fixed_probability, one_to_one, all_to_all, "
          "fixed_total_number)"},
    /* fixed_total_number: N required, bounded without multapses, owned */
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_total_number', " WD
          "}"),
     NTW_ERR_CONFIG,
     PATH ": projections[0].N: missing required field (rule "
          "fixed_total_number)"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_total_number', "
          "'N': 160001, 'allow_multapses': false, " WD "}"),
     NTW_ERR_CONFIG,
     PATH ": projections[0].N: 160001 exceeds the 160000 possible (source, "
          "target) pairs ('E' 800 x 'I' 200) and multapses are not allowed"},
    {PROJ("{'source': 'I', 'target': 'I', 'rule': 'fixed_total_number', "
          "'N': 39801, 'allow_multapses': false, 'allow_autapses': false, "
          WD "}"),
     NTW_ERR_CONFIG,
     PATH ": projections[0].N: 39801 exceeds the 39800 possible (source, "
          "target) pairs ('I' 199 without the target itself x 'I' 200) and "
          "multapses are not allowed"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_total_number', "
          "'N': -5, " WD "}"),
     NTW_ERR_CONFIG,
     PATH ": projections[0].N: must be a non-negative integer (got -5)"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_total_number', "
          "'N': 2.5, " WD "}"),
     NTW_ERR_CONFIG,
     PATH ": projections[0].N: must be a non-negative integer (got 2.5)"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_indegree', "
          "'indegree': 10, 'N': 100, " WD "}"),
     NTW_ERR_CONFIG,
     PATH ": projections[0].N: only allowed with rule fixed_total_number "
          "(rule is 'fixed_indegree')"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_total_number', "
          "'N': 10, 'indegree': 10, " WD "}"),
     NTW_ERR_CONFIG,
     PATH ": projections[0].indegree: only allowed with rule fixed_indegree "
          "(rule is 'fixed_total_number')"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_indegree', "
          "'indegree': 900, 'allow_multapses': false, " WD "}"),
     NTW_ERR_CONFIG,
     PATH ": projections[0].indegree: 900 exceeds the size of source "
          "population 'E' (800) and multapses are not allowed"},
    {PROJ("{'source': 'E', 'target': 'E', 'rule': 'fixed_indegree', "
          "'indegree': 800, 'allow_multapses': false, 'allow_autapses': "
          "false, " WD "}"),
     NTW_ERR_CONFIG,
     "projections[0].indegree: 800 exceeds the 799 possible sources in "
     "population 'E'"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_indegree', " WD "}"),
     NTW_ERR_CONFIG, "projections[0].indegree: missing required field"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_indegree', "
          "'indegree': 0, " WD "}"),
     NTW_ERR_CONFIG,
     "projections[0].indegree: must be a positive integer (got 0)"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_probability', "
          "'p': 0.1, 'indegree': 10, " WD "}"),
     NTW_ERR_CONFIG,
     "projections[0].indegree: only allowed with rule fixed_indegree"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_probability', " WD
          "}"),
     NTW_ERR_CONFIG, "projections[0].p: missing required field"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_probability', "
          "'p': 0, " WD "}"),
     NTW_ERR_CONFIG, "projections[0].p: must be in (0, 1] (got 0)"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'fixed_probability', "
          "'p': 1.5, " WD "}"),
     NTW_ERR_CONFIG, "projections[0].p: must be in (0, 1] (got 1.5)"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'all_to_all', 'p': 0.5, " WD
          "}"),
     NTW_ERR_CONFIG, "projections[0].p: only allowed with rule"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'one_to_one', " WD "}"),
     NTW_ERR_CONFIG, "projections[0].rule: one_to_one needs source and target"},
    {PROJ("{'source': 'X', 'target': 'I', 'rule': 'all_to_all', " WD "}"),
     NTW_ERR_CONFIG,
     "projections[0].source: unknown population 'X' (known: E, I)"},
    {PROJ("{'source': 'E', 'target': 'Y', 'rule': 'all_to_all', " WD "}"),
     NTW_ERR_CONFIG, "projections[0].target: unknown population 'Y'"},
    {PROJ("{'source': 'E', 'rule': 'all_to_all', " WD "}"), NTW_ERR_CONFIG,
     "projections[0].target: missing required field"},
    {PROJ("{'source': 'E', 'target': 'I', " WD "}"), NTW_ERR_CONFIG,
     "projections[0].rule: missing required field"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'all_to_all', 'delay': 1}"),
     NTW_ERR_CONFIG, "projections[0].weight: missing required field"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'all_to_all', 'weight': 1}"),
     NTW_ERR_CONFIG, "projections[0].delay: missing required field"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'all_to_all', 'wieght': 1, "
          "'delay': 1}"),
     NTW_ERR_CONFIG, "projections[0].wieght: unknown field"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'all_to_all', "
          "'allow_autapses': 1, " WD "}"),
     NTW_ERR_CONFIG,
     "projections[0].allow_autapses: must be true or false (got 1)"},
    {PROJ("{'source': 'E', 'target': 'I', 'rule': 'all_to_all', "
          "'weight': {'distribution': 'normal', 'mean': 1}, 'delay': 1}"),
     NTW_ERR_CONFIG, "projections[0].weight.std: missing required field"},
    {DPROJ("0.05"), NTW_ERR_CONFIG,
     PATH ": projections[0].delay: the delay must be >= dt = 0.1 ms (got "
          "0.05)"},
    {DPROJ("{'distribution': 'uniform', 'low': 0.05, 'high': 1}"),
     NTW_ERR_CONFIG,
     "projections[0].delay: the delay must be >= dt = 0.1 ms, so \"low\""},
    {DPROJ("{'distribution': 'normal', 'mean': 1.5, 'std': 0.2}"),
     NTW_ERR_CONFIG,
     "projections[0].delay: the delay must be >= dt = 0.1 ms: set \"min\" >= "
     "0.1 for a normal delay"},
    {DPROJ("{'distribution': 'normal', 'mean': 1.5, 'std': 0.2, 'min': 0.05}"),
     NTW_ERR_CONFIG, "projections[0].delay: the delay must be >= dt = 0.1 ms"},
    {DPROJ("{'distribution': 'lognormal', 'mu': 0, 'sigma': 0.2}"),
     NTW_ERR_CONFIG,
     "projections[0].delay: the delay must be >= dt = 0.1 ms: set \"min\" >= "
     "0.1 for a lognormal delay"},
    /* stimuli */
    {"{" BASE ", 'stimuli': 3}", NTW_ERR_CONFIG, "stimuli: must be an array"},
    {STIM("{'type': 'spike', 'target': 'E'}"), NTW_ERR_CONFIG,
     "stimuli[0].type: unknown stimulus type 'spike' (known: poisson, dc, spike_times, noise)"},
    {STIM("{'target': 'E', 'rate': 1, 'weight': 1}"), NTW_ERR_CONFIG,
     "stimuli[0].type: missing required field"},
    {STIM("{'type': 'poisson', 'target': 'E', 'weight': 1}"), NTW_ERR_CONFIG,
     "stimuli[0].rate: missing required field"},
    {STIM("{'type': 'poisson', 'target': 'E', 'rate': 1}"), NTW_ERR_CONFIG,
     "stimuli[0].weight: missing required field"},
    {STIM("{'type': 'poisson', 'target': 'E', 'rate': -1, 'weight': 1}"),
     NTW_ERR_CONFIG, "stimuli[0].rate: must be >= 0 Hz (got -1)"},
    {STIM("{'type': 'poisson', 'target': 'E', 'rate': 1, 'weight': 1, "
          "'amplitude': 5}"),
     NTW_ERR_CONFIG, "stimuli[0].amplitude: not allowed for type 'poisson'"},
    {STIM("{'type': 'dc', 'target': 'E', 'amplitude': 5, 'rate': 1}"),
     NTW_ERR_CONFIG, "stimuli[0].rate: not allowed for type 'dc'"},
    {STIM("{'type': 'dc', 'target': 'E'}"), NTW_ERR_CONFIG,
     "stimuli[0].amplitude: missing required field"},
    {STIM("{'type': 'dc', 'target': 'Z', 'amplitude': 5}"), NTW_ERR_CONFIG,
     "stimuli[0].target: unknown population 'Z'"},
    {STIM("{'type': 'dc', 'target': 'E', 'amplitude': 5, 'start': 10, "
          "'stop': 5}"),
     NTW_ERR_CONFIG, "stimuli[0].stop: must be >= start = 10 (got 5)"},
    {STIM("{'type': 'dc', 'target': 'E', 'amplitude': 5, 'start': -1}"),
     NTW_ERR_CONFIG, "stimuli[0].start: must be >= 0 (got -1)"},
    {STIM("{'type': 'dc', 'target': 'E', 'amplitude': 5, 'durations': 1}"),
     NTW_ERR_CONFIG, "stimuli[0].durations: unknown field"},
    /* noise */
    {STIM("{'type': 'noise', 'target': 'E', 'std': -1, 'tau': 5}"),
     NTW_ERR_CONFIG, "stimuli[0].std: must be >= 0 pA (got -1)"},
    {STIM("{'type': 'noise', 'target': 'E', 'std': 10, 'tau': 0}"),
     NTW_ERR_CONFIG, "stimuli[0].tau: must be > 0 ms (got 0)"},
    {STIM("{'type': 'noise', 'target': 'E', 'std': 10, 'tau': -2.5}"),
     NTW_ERR_CONFIG, "stimuli[0].tau: must be > 0 ms (got -2.5)"},
    {STIM("{'type': 'noise', 'target': 'E', 'tau': 5}"), NTW_ERR_CONFIG,
     "stimuli[0].std: missing required field"},
    {STIM("{'type': 'noise', 'target': 'E', 'std': 5}"), NTW_ERR_CONFIG,
     "stimuli[0].tau: missing required field"},
    {STIM("{'type': 'noise', 'target': 'E', 'std': 5, 'tau': 1, 'rate': 3}"),
     NTW_ERR_CONFIG, "stimuli[0].rate: not allowed for type 'noise'"},
    {STIM("{'type': 'dc', 'target': 'E', 'amplitude': 5, 'tau': 3}"),
     NTW_ERR_CONFIG, "stimuli[0].tau: not allowed for type 'dc'"},
    {STIM("{'type': 'noise', 'target': 'E', 'std': 5, 'tau': 1, 'mean': 'x'}"),
     NTW_ERR_CONFIG, "stimuli[0].mean: must be a number"},
    /* record.weights */
    {WREC("{'projection': 1, 'interval': 5}"), NTW_ERR_CONFIG,
     "record.weights[0].projection: no projection 1: the config has 1 (got 1)"},
    {WREC("{'projection': -1, 'interval': 5}"), NTW_ERR_CONFIG,
     "record.weights[0].projection: must be a non-negative integer (got -1)"},
    {WREC("{'interval': 5}"), NTW_ERR_CONFIG,
     "record.weights[0].projection: missing required field"},
    {WREC("{'projection': 0, 'interval': 0}"), NTW_ERR_CONFIG,
     "record.weights[0].interval: must be > 0 ms (got 0)"},
    {WREC("{'projection': 0, 'interval': -1.5}"), NTW_ERR_CONFIG,
     "record.weights[0].interval: must be > 0 ms (got -1.5)"},
    {WREC("{'projection': 0}"), NTW_ERR_CONFIG,
     "record.weights[0].interval: missing required field"},
    {WREC("{'projection': 0, 'interval': 1, 'sample': 0}"), NTW_ERR_CONFIG,
     "record.weights[0].sample: must be a positive integer (got 0)"},
    {WREC("{'projection': 0, 'interval': 1}, {'projection': 0, 'interval': 2}"),
     NTW_ERR_CONFIG,
     "record.weights[1].projection: projection 0 is listed twice"},
    {WREC("{'projection': 0, 'interval': 1, 'every': 2}"), NTW_ERR_CONFIG,
     "record.weights[0].every: unknown field"},
    {"{" BASE ", 'record': {'weights': {'projection': 0}}}", NTW_ERR_CONFIG,
     "record.weights: must be an array"},
    /* record */
    {"{" BASE ", 'record': {'spikes': ['E', 'X']}}", NTW_ERR_CONFIG,
     "record.spikes[1]: unknown population 'X' (known: E, I)"},
    {"{" BASE ", 'record': {'spikes': ['E', 'I', 'E']}}", NTW_ERR_CONFIG,
     "record.spikes[2]: population 'E' is listed twice"},
    {"{" BASE ", 'record': {'spikes': 'E'}}", NTW_ERR_CONFIG,
     "record.spikes: must be an array"},
    {"{" BASE ", 'record': {'voltage': ['E']}}", NTW_ERR_CONFIG,
     "record.voltage: unknown field"},
};

static void run_bad(void **state) {
  const bad_case *bc = *state;
  ntw_config *cfg = (ntw_config *)1;
  int rc = parse_q(bc->json, &cfg);
  if (rc != bc->code || strstr(ntw_error_msg(), bc->expect) == NULL)
    fail_msg("rc %d (want %d), message:\n  %s\nwant substring:\n  %s", rc,
             bc->code, ntw_error_msg(), bc->expect);
  assert_null(cfg);
  /* One line, starting with the file name. */
  assert_null(strchr(ntw_error_msg(), '\n'));
  assert_int_equal(strncmp(ntw_error_msg(), PATH ": ", strlen(PATH) + 2), 0);
}

int main(void) {
  static const struct CMUnitTest fixed[] = {
      cmocka_unit_test(test_full),         cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_total_number),
      cmocka_unit_test(test_dist_bounds),  cmocka_unit_test(test_destroy_null),
      cmocka_unit_test(test_read_missing), cmocka_unit_test(test_read_dir),
      cmocka_unit_test(test_read_file),    cmocka_unit_test(test_override),
      cmocka_unit_test(test_noise_and_weights),
      cmocka_unit_test(test_coupling_rank),
  };
  const size_t nfixed = sizeof fixed / sizeof fixed[0];
  const size_t nbad = sizeof bad_cases / sizeof bad_cases[0];
  struct CMUnitTest *tests = calloc(nfixed + nbad, sizeof *tests);
  char (*names)[48] = calloc(nbad, sizeof *names);
  if (tests == NULL || names == NULL) return 1;
  memcpy(tests, fixed, sizeof fixed);
  for (size_t i = 0; i < nbad; i++) {
    snprintf(names[i], sizeof names[i], "bad_input_%zu", i);
    tests[nfixed + i].name = names[i];
    tests[nfixed + i].test_func = run_bad;
    tests[nfixed + i].initial_state = (void *)&bad_cases[i];
  }
  int rc = _cmocka_run_group_tests("config", tests, nfixed + nbad, NULL, NULL);
  free(tests);
  free(names);
  return rc;
}

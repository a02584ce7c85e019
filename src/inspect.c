/* inspect.c - `ntwin inspect CKPT.h5 [--json]`: what a checkpoint holds. */
#include <jansson.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/ntw_error.h"
#include "io/checkpoint.h"
#include "io/config.h"

int ntw_cli_inspect(int argc, char **argv) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const char *path = NULL;
  int as_json = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) as_json = 1;
    else if (!path && argv[i][0] != '-') path = argv[i];
    else {
      if (rank == 0) fprintf(stderr, "ntwin: error: inspect: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!path) {
    if (rank == 0) fprintf(stderr, "ntwin: error: usage: ntwin inspect CKPT.h5 [--json]\n");
    return 2;
  }
  ntw_ckpt_info ck;
  int err = ntw_checkpoint_info(path, &ck);
  if (err) {
    if (rank == 0) fprintf(stderr, "ntwin: error: %s\n", ntw_error_msg());
    return 1;
  }
  ntw_config *cfg = NULL;
  char where[4200];
  snprintf(where, sizeof where, "%s:/config", path);
  err = ntw_config_parse(ck.config_text, strlen(ck.config_text), where, &cfg);
  if (err) {
    if (rank == 0) fprintf(stderr, "ntwin: error: %s\n", ntw_error_msg());
    ntw_ckpt_info_free(&ck);
    return 1;
  }
  struct stat sb;
  long long bytes = stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
  if (rank == 0) {
    json_t *j = json_object();
    json_object_set_new(j, "path", json_string(path));
    json_object_set_new(j, "t_ms", json_real(ck.t_ms));
    json_object_set_new(j, "step", json_integer(ck.step));
    json_object_set_new(j, "dt_ms", json_real(ck.dt_ms));
    json_object_set_new(j, "seed", json_integer((json_int_t)ck.seed));
    json_object_set_new(j, "neurons", json_integer((json_int_t)ck.n_neurons));
    json_object_set_new(j, "ranks_written", json_integer(ck.ranks_written));
    json_object_set_new(j, "partition_written", json_string(ck.partition_written));
    json_object_set_new(j, "ntwin_version", json_string(ck.ntwin_version));
    json_object_set_new(j, "format_minor", json_integer(ck.format_minor));
    json_object_set_new(j, "twin_state", json_boolean(ck.has_twin));
    json_object_set_new(j, "bytes", json_integer(bytes));
    json_t *pops = json_array(), *projs = json_array();
    for (size_t p = 0; p < cfg->npops; p++) {
      json_t *o = json_object();
      json_object_set_new(o, "name", json_string(cfg->pops[p].name));
      json_object_set_new(o, "model", json_string(cfg->pops[p].model));
      json_object_set_new(o, "size", json_integer((json_int_t)cfg->pops[p].size));
      json_array_append_new(pops, o);
    }
    for (size_t k = 0; k < cfg->nprojs; k++) {
      json_t *o = json_object();
      json_object_set_new(o, "index", json_integer((json_int_t)k));
      json_object_set_new(o, "source", json_string(cfg->pops[cfg->projs[k].source].name));
      json_object_set_new(o, "target", json_string(cfg->pops[cfg->projs[k].target].name));
      json_object_set_new(o, "synapse", json_string(cfg->projs[k].syn_model));
      json_object_set_new(o, "stored", json_boolean(strcmp(cfg->projs[k].syn_model, "static") != 0));
      json_array_append_new(projs, o);
    }
    json_object_set_new(j, "populations", pops);
    json_object_set_new(j, "projections", projs);
    json_object_set_new(j, "config", json_string(ck.config_text));
    if (as_json) {
      json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
      fputc('\n', stdout);
    } else {
      printf("checkpoint %s (%.1f MB, ntwin %s, format 1.%d)\n", path, bytes / 1e6,
             ck.ntwin_version, ck.format_minor);
      printf("  time        t = %g ms (step %lld, dt %g ms), seed %llu\n", ck.t_ms,
             (long long)ck.step, ck.dt_ms, (unsigned long long)ck.seed);
      printf("  written by  %d rank%s, partition %s (restores on any)\n", ck.ranks_written,
             ck.ranks_written > 1 ? "s" : "", ck.partition_written);
      printf("  network     %llu neurons\n", (unsigned long long)ck.n_neurons);
      for (size_t p = 0; p < cfg->npops; p++)
        printf("    population %-12s %-16s %llu\n", cfg->pops[p].name, cfg->pops[p].model,
               (unsigned long long)cfg->pops[p].size);
      for (size_t k = 0; k < cfg->nprojs; k++)
        printf("    projection %zu: %s -> %s, %s%s\n", k, cfg->pops[cfg->projs[k].source].name,
               cfg->pops[cfg->projs[k].target].name, cfg->projs[k].syn_model,
               strcmp(cfg->projs[k].syn_model, "static") ? " (synapses stored)"
               : ck.has_twin && cfg->twin.enabled && (int)k == cfg->twin.assim_proj
                   ? " (rebuilt from config + seed, the twin's weights from /twin/W_applied)"
                   : " (rebuilt from config + seed)");
      if (cfg->twin.enabled || ck.has_twin)
        printf("  twin        %s\n", ck.has_twin ? "state saved (/twin): a replay resumes exactly"
                                                  : "state not saved (format minor 0): the twin "
                                                    "resumes without it");
      printf("  config      %zu bytes of JSON (ntwin inspect --json shows it)\n",
             strlen(ck.config_text));
    }
    json_decref(j);
  }
  ntw_config_destroy(&cfg);
  ntw_ckpt_info_free(&ck);
  return 0;
}

/* partnet.c - config -> the partitioners' view of the network. */
#include "partnet.h"

#include <stdlib.h>

#include "core/ntw_error.h"

double ntw_proj_expected_synapses(const ntw_config *cfg, size_t proj) {
  const ntw_proj_cfg *pr = &cfg->projs[proj];
  const double ns = (double)cfg->pops[pr->source].size;
  const double nt = (double)cfg->pops[pr->target].size;
  const bool self = pr->source == pr->target && !pr->allow_autapses;
  const double pairs = ns * nt - (self ? nt : 0);
  switch (pr->rule) {
  case NTW_RULE_FIXED_INDEGREE: return (double)pr->indegree * nt;
  case NTW_RULE_FIXED_PROBABILITY: return pr->p * pairs;
  case NTW_RULE_ONE_TO_ONE: return nt; /* the engine connects i -> i always */
  case NTW_RULE_ALL_TO_ALL: return pairs;
  case NTW_RULE_FIXED_TOTAL_NUMBER: return (double)pr->N;
  }
  return 0;
}

int ntw_part_create_config(const char *strategy, const ntw_config *cfg,
                           int nranks, bool reserve_rank0, ntw_part **out) {
  uint64_t *size = malloc((cfg->npops + 1) * sizeof *size);
  ntw_part_proj *projs = malloc((cfg->nprojs + 1) * sizeof *projs);
  if (!size || !projs) {
    free(size), free(projs);
    return NTW_ERR(NTW_ERR_NOMEM, "out of memory for the partition");
  }
  for (size_t i = 0; i < cfg->npops; i++) size[i] = cfg->pops[i].size;
  for (size_t j = 0; j < cfg->nprojs; j++) {
    const ntw_proj_cfg *pr = &cfg->projs[j];
    projs[j] = (ntw_part_proj){
        .source = (size_t)pr->source,
        .target = (size_t)pr->target,
        .synapses = ntw_proj_expected_synapses(cfg, j),
        .one_to_one = pr->rule == NTW_RULE_ONE_TO_ONE,
        .no_autapses = pr->source == pr->target && !pr->allow_autapses};
  }
  ntw_part_net net = {cfg->npops, size, cfg->nprojs, projs};
  int err = ntw_part_create_net_reserved(strategy, &net, nranks, reserve_rank0,
                                         out);
  free(size), free(projs);
  return err;
}

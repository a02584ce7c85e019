/* partnet.h - the partition of a configured network: the bridge between the
 * config (io) and the partitioners (partition/), which know no config. */
#ifndef NTW_PARTNET_H
#define NTW_PARTNET_H

#include <stdbool.h>
#include <stddef.h>

#include "io/config.h"
#include "partition/partition.h"

/* Expected number of synapses projection `proj` builds, from its rule:
 * fixed_indegree K n_t; fixed_probability p x pairs; all_to_all pairs;
 * one_to_one n_t; fixed_total_number N (pairs = n_s n_t, minus n_t without
 * autapses inside one population). Not collective. */
double ntw_proj_expected_synapses(const ntw_config *cfg, size_t proj);

/* ntw_part_create_net_reserved for `strategy` on cfg's populations and
 * projections (reserve_rank0: rank 0 owns no neuron, the twin's coupling
 * rank). Not collective: every rank computes the same map. */
int ntw_part_create_config(const char *strategy, const ntw_config *cfg,
                           int nranks, bool reserve_rank0, ntw_part **out);

#endif

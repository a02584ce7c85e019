/* partition/partition.h - which rank owns which neuron.
 *
 * A partition maps global neuron ids (gids, 0 .. n-1) to ranks. Every
 * strategy keeps each rank's neurons in ascending gid order, so the local
 * index of a gid is the number of the rank's gids below it; populations (gid
 * ranges) are therefore contiguous ranges of local indices on every rank.
 * Strategies are registered by name (a table of function pointers).
 * None of these functions is collective: every rank computes the same map
 * (for "graph" too: METIS runs serially with fixed options and seed on the
 * same input; ntw_part_digest lets callers confirm the ranks agree).
 */
#ifndef NTW_PARTITION_H
#define NTW_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ntw_part ntw_part;

/* The network as a partitioner sees it, without synapses: populations are
 * contiguous gid ranges in order, and each projection is described by the
 * number of synapses its rule gives in expectation. */
typedef struct {
  size_t source, target; /* population indices */
  double synapses;       /* expected synapses of the projection, >= 0 */
  bool one_to_one;       /* source i -> target i only (else homogeneous:
                            every allowed pair equally likely) */
  bool no_autapses;      /* source == target and no self-connections */
} ntw_part_proj;

typedef struct {
  size_t npops;
  const uint64_t *pop_size; /* gids of population p follow those of p - 1 */
  size_t nprojs;
  const ntw_part_proj *projs;
} ntw_part_net;

/* strategy: "round_robin" (gid % nranks) or "block" (contiguous, sizes
 * differing by at most one, lower ranks larger). "graph" needs the network:
 * use ntw_part_create_net (here it fails with NTW_ERR_ARG saying so).
 * Unknown names fail with NTW_ERR_ARG and a message listing the known
 * strategies. */
int ntw_part_create(const char *strategy, uint64_t n, int nranks,
                    ntw_part **out);

/* Any strategy, for the network `net` (n = sum of population sizes).
 * "graph" (METIS k-way, partition/graph.c): the populations are cut into
 * chunks of contiguous gids (at most about NTW_PART_GRAPH_VERTICES in all,
 * fewer when the graph would be dense, and at least 4 per rank per
 * population where the population is that large);
 * vertex weight = neurons + expected incoming synapses of the chunk (work
 * and memory), edge weight = expected synapses between two chunks, in both
 * directions; METIS minimises the cut with a 1 % imbalance tolerance. Each
 * chunk goes whole to one rank, so the map is a list of gid ranges. */
#define NTW_PART_GRAPH_VERTICES 1024
int ntw_part_create_net(const char *strategy, const ntw_part_net *net,
                        int nranks, ntw_part **out);

/* The same with rank 0 reserved (reserve_rank0 true): rank 0 owns no
 * neuron and ranks 1 .. nranks-1 get the strategy's map computed for
 * nranks - 1 parts, i.e. rank r here holds exactly what rank r - 1 holds in
 * the unreserved map on nranks - 1 ranks. Every accessor below accounts for
 * the shift (owner >= 1, local_count(0) = 0, local_lower(0, .) = 0), so the
 * contract above holds unchanged; ntw_part_nranks is still nranks. Used for
 * the twin's dedicated coupling rank (README "The twin"). With nranks = 1
 * there would be no rank for the network: NTW_ERR_ARG, never ignored.
 * reserve_rank0 false is exactly ntw_part_create / ntw_part_create_net. */
int ntw_part_create_reserved(const char *strategy, uint64_t n, int nranks,
                             bool reserve_rank0, ntw_part **out);
int ntw_part_create_net_reserved(const char *strategy,
                                 const ntw_part_net *net, int nranks,
                                 bool reserve_rank0, ntw_part **out);
void ntw_part_destroy(ntw_part **p);

const char *ntw_part_name(const ntw_part *p);
int ntw_part_nranks(const ntw_part *p);
uint64_t ntw_part_size(const ntw_part *p); /* n */
/* Whether rank 0 is reserved (owns no neuron). */
bool ntw_part_reserved(const ntw_part *p);

/* Rank owning gid. */
int ntw_part_owner(const ntw_part *p, uint64_t gid);
/* Number of neurons owned by rank. */
uint64_t ntw_part_local_count(const ntw_part *p, int rank);
/* gid of local index `lidx` on `rank` (lidx < local_count; on a reserved
 * rank 0 there is none and the answer is n). */
uint64_t ntw_part_local_gid(const ntw_part *p, int rank, uint64_t lidx);
/* Number of gids owned by `rank` that are < gid (gid may equal n). For an
 * owned gid this is its local index. */
uint64_t ntw_part_local_lower(const ntw_part *p, int rank, uint64_t gid);

/* The names of all strategies, NULL-terminated. */
const char *const *ntw_part_strategies(void);

/* A 64-bit digest of the map (strategy, n, ranks, the reservation and the
 * owner of every gid):
 * equal digests on all ranks mean they computed the same partition. */
uint64_t ntw_part_digest(const ntw_part *p);

#endif

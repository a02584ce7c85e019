/* partition/partition.h - which rank owns which neuron.
 *
 * A partition maps global neuron ids (gids, 0 .. n-1) to ranks. Every
 * strategy keeps each rank's neurons in ascending gid order, so the local
 * index of a gid is the number of the rank's gids below it; populations (gid
 * ranges) are therefore contiguous ranges of local indices on every rank.
 * Strategies are registered by name (a table of function pointers), so a
 * graph partitioner can be added without touching callers.
 * None of these functions is collective: every rank computes the same map.
 */
#ifndef NTW_PARTITION_H
#define NTW_PARTITION_H

#include <stddef.h>
#include <stdint.h>

typedef struct ntw_part ntw_part;

/* strategy: "round_robin" (gid % nranks) or "block" (contiguous, sizes
 * differing by at most one, lower ranks larger). Unknown names fail with
 * NTW_ERR_ARG and a message listing the known strategies. */
int ntw_part_create(const char *strategy, uint64_t n, int nranks,
                    ntw_part **out);
void ntw_part_destroy(ntw_part **p);

const char *ntw_part_name(const ntw_part *p);
int ntw_part_nranks(const ntw_part *p);
uint64_t ntw_part_size(const ntw_part *p); /* n */

/* Rank owning gid. */
int ntw_part_owner(const ntw_part *p, uint64_t gid);
/* Number of neurons owned by rank. */
uint64_t ntw_part_local_count(const ntw_part *p, int rank);
/* gid of local index `lidx` on `rank`. */
uint64_t ntw_part_local_gid(const ntw_part *p, int rank, uint64_t lidx);
/* Number of gids owned by `rank` that are < gid (gid may equal n). For an
 * owned gid this is its local index. */
uint64_t ntw_part_local_lower(const ntw_part *p, int rank, uint64_t gid);

/* The names of all strategies, NULL-terminated. */
const char *const *ntw_part_strategies(void);

#endif

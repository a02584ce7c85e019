/* partition/partition_impl.h - private to partition/: the layout of
 * ntw_part and the ops table each strategy fills. */
#ifndef NTW_PARTITION_IMPL_H
#define NTW_PARTITION_IMPL_H

#include <stdint.h>

#include "partition/partition.h"

typedef struct {
  int (*owner)(const ntw_part *p, uint64_t gid);
  uint64_t (*local_count)(const ntw_part *p, int rank);
  uint64_t (*local_gid)(const ntw_part *p, int rank, uint64_t lidx);
  uint64_t (*local_lower)(const ntw_part *p, int rank, uint64_t gid);
} part_ops;

struct ntw_part {
  const part_ops *ops;
  const char *name; /* points into the static registry */
  uint64_t n;
  /* The strategy's own ranks: nranks_int (all ranks) minus `off`. With
   * rank 0 reserved (off = 1) the ops below see ranks 0 .. P-2 and know
   * nothing of the reservation; the public accessors shift by `off`. */
  uint64_t nranks;
  int nranks_int;
  int off;
  /* block: q = n / P, r = n % P; ranks < r hold q + 1 gids, which end at
   * big_end = r * (q + 1). */
  uint64_t q, r, big_end;
  /* graph: the map as nseg gid ranges [seg_start[i], seg_start[i + 1]),
   * seg_start[nseg] = n, owned by seg_rank[i]; adjacent ranges have
   * different owners. Per rank, its ranges in gid order: rseg_off[r] ..
   * rseg_off[r + 1] index rseg (segment indices), rseg_cum the rank's gids
   * before each of them; count[r] gids in all. */
  uint64_t nseg;
  uint64_t *seg_start;
  int *seg_rank;
  uint64_t *rseg_off, *rseg, *rseg_cum, *count;
};

/* graph.c */
extern const part_ops ntw__part_graph_ops;
/* Fills p's graph fields (p->n, p->nranks are set). */
int ntw__part_graph_init(ntw_part *p, const ntw_part_net *net);
void ntw__part_graph_free(ntw_part *p);

#endif

/* partition/place.h - where each rank runs: hwloc binding.
 *
 * Ranks that share a node (MPI_COMM_TYPE_SHARED) split the node's cores (or
 * NUMA domains) among themselves by their node-local rank. With more ranks
 * than cores, ranks wrap around (and the description says "oversubscribed").
 */
#ifndef NTW_PLACE_H
#define NTW_PLACE_H

#include <hwloc.h>
#include <mpi.h>
#include <stddef.h>

typedef enum { NTW_BIND_NONE = 0, NTW_BIND_CORE, NTW_BIND_NUMA } ntw_bind_mode;

/* "none" | "core" | "numa"; NTW_ERR_ARG otherwise (message lists them). */
int ntw_place_parse(const char *name, ntw_bind_mode *mode);
const char *ntw_place_name(ntw_bind_mode mode);

/* Pure placement rule, testable on synthetic topologies: the cpuset that node
 * local rank `local_rank` of `local_size` gets under `mode`.
 *  core: the node's cores are split into local_size contiguous groups (each
 *        rank gets >= 1 core; more ranks than cores wrap around); the set is
 *        all PUs of the rank's cores.
 *  numa: NUMA domain (local_rank % n_numa); the set is its cpuset.
 *  none: the whole topology's cpuset.
 * `*oversubscribed` (may be NULL) is set to 1 only in core mode when
 * local_size exceeds the node's cores, else 0: numa ranks sharing a domain
 * and "none" are never flagged, since sharing is their point.
 * A node without Core objects uses its PUs as cores; one without NUMA nodes
 * is a single domain. Fails with NTW_ERR_ARG unless
 * 0 <= local_rank < local_size. */
int ntw_place_compute(hwloc_topology_t topo, ntw_bind_mode mode,
                      int local_rank, int local_size, hwloc_bitmap_t out,
                      int *oversubscribed);

/* Collective over comm. Finds this rank's node-local rank, loads the node
 * topology, binds the process (HWLOC_CPUBIND_PROCESS) and writes a short
 * description of the binding into desc, e.g. "0" or "0-3" (the OS indices of
 * the PUs, hwloc list syntax) or "none". If the OS refuses binding, returns
 * NTW_ERR_HWLOC with a message suggesting --bind none. A missing desc
 * buffer is rejected before any MPI call; other failures are reported only
 * on the rank that hit them (the caller stops all ranks). */
int ntw_place_bind(MPI_Comm comm, ntw_bind_mode mode, char *desc,
                   size_t desc_len);

#endif

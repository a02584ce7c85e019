/* partition/place.c - node-local placement of ranks with hwloc.
 *
 * The rule (ntw_place_compute) is a pure function of a topology so it can be
 * tested on synthetic machines; ntw_place_bind only gathers the inputs from
 * MPI and the real topology and applies the result. */
#include "partition/place.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/ntw_error.h"

static const char *const mode_names[] = {
    [NTW_BIND_NONE] = "none",
    [NTW_BIND_CORE] = "core",
    [NTW_BIND_NUMA] = "numa",
};
#define NMODES ((int)(sizeof mode_names / sizeof mode_names[0]))

int ntw_place_parse(const char *name, ntw_bind_mode *mode) {
  NTW_CHECK(mode != NULL, NTW_ERR_ARG, "ntw_place_parse: mode is NULL");
  for (int i = 0; name != NULL && i < NMODES; i++) {
    if (strcmp(name, mode_names[i]) == 0) {
      *mode = (ntw_bind_mode)i;
      return NTW_OK;
    }
  }
  return NTW_ERR(NTW_ERR_ARG, "unknown bind mode '%s' (known: none, core, numa)",
                 name ? name : "(null)");
}

const char *ntw_place_name(ntw_bind_mode mode) {
  if ((int)mode < 0 || (int)mode >= NMODES)
    return "unknown";
  return mode_names[mode];
}

/* Union of the cpusets of objects [first, last) of `type` into out. */
static int union_objs(hwloc_topology_t topo, hwloc_obj_type_t type,
                      int first, int last, hwloc_bitmap_t out) {
  for (int i = first; i < last; i++) {
    hwloc_obj_t obj = hwloc_get_obj_by_type(topo, type, (unsigned)i);
    NTW_CHECK(obj != NULL && obj->cpuset != NULL, NTW_ERR_HWLOC,
              "hwloc: %s #%d of the topology has no cpuset",
              hwloc_obj_type_string(type), i);
    NTW_CHECK(hwloc_bitmap_or(out, out, obj->cpuset) == 0, NTW_ERR_NOMEM,
              "out of memory building a cpuset");
  }
  return NTW_OK;
}

int ntw_place_compute(hwloc_topology_t topo, ntw_bind_mode mode,
                      int local_rank, int local_size, hwloc_bitmap_t out,
                      int *oversubscribed) {
  NTW_CHECK(topo != NULL && out != NULL, NTW_ERR_ARG,
            "ntw_place_compute: topology or output set is NULL");
  NTW_CHECK(local_size >= 1 && local_rank >= 0 && local_rank < local_size,
            NTW_ERR_ARG, "placement: node-local rank %d of %d is out of range",
            local_rank, local_size);
  int over = 0;
  hwloc_bitmap_zero(out);

  switch (mode) {
  case NTW_BIND_NONE: {
    hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
    NTW_CHECK(all != NULL, NTW_ERR_HWLOC, "hwloc: topology has no cpuset");
    NTW_CHECK(hwloc_bitmap_copy(out, all) == 0, NTW_ERR_NOMEM,
              "out of memory building a cpuset");
    break;
  }
  case NTW_BIND_CORE: {
    /* Some platforms expose no Core objects; their PUs are then the cores. */
    hwloc_obj_type_t type = HWLOC_OBJ_CORE;
    int ncores = hwloc_get_nbobjs_by_type(topo, type);
    if (ncores <= 0) {
      type = HWLOC_OBJ_PU;
      ncores = hwloc_get_nbobjs_by_type(topo, type);
    }
    NTW_CHECK(ncores > 0, NTW_ERR_HWLOC, "hwloc: topology has no cores");
    int first, last;
    if (local_size <= ncores) {
      /* 64-bit products: rank * ncores overflows int on huge nodes. */
      first = (int)((int64_t)local_rank * ncores / local_size);
      last = (int)((int64_t)(local_rank + 1) * ncores / local_size);
    } else {
      first = local_rank % ncores;
      last = first + 1;
      over = 1;
    }
    NTW_TRY(union_objs(topo, type, first, last, out));
    break;
  }
  case NTW_BIND_NUMA: {
    int nnuma = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    if (nnuma <= 0) {
      /* No NUMA information: the whole machine is one domain. */
      hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
      NTW_CHECK(all != NULL, NTW_ERR_HWLOC, "hwloc: topology has no cpuset");
      NTW_CHECK(hwloc_bitmap_copy(out, all) == 0, NTW_ERR_NOMEM,
                "out of memory building a cpuset");
    } else {
      int d = local_rank % nnuma;
      NTW_TRY(union_objs(topo, HWLOC_OBJ_NUMANODE, d, d + 1, out));
    }
    break;
  }
  default:
    return NTW_ERR(NTW_ERR_ARG, "placement: invalid bind mode %d", (int)mode);
  }
  /* A memory-only NUMA node (e.g. HBM) has an empty cpuset; binding to it
   * would fail with a confusing EINVAL, so say so here. */
  NTW_CHECK(!hwloc_bitmap_iszero(out), NTW_ERR_HWLOC,
            "placement: %s mode gives node-local rank %d an empty cpuset",
            ntw_place_name(mode), local_rank);
  if (oversubscribed)
    *oversubscribed = over;
  return NTW_OK;
}

int ntw_place_bind(MPI_Comm comm, ntw_bind_mode mode, char *desc,
                   size_t desc_len) {
  NTW_CHECK(desc != NULL && desc_len > 0, NTW_ERR_ARG,
            "ntw_place_bind: description buffer is missing");
  desc[0] = '\0';
  int err = NTW_OK;
  MPI_Comm node = MPI_COMM_NULL;
  hwloc_topology_t topo = NULL;
  hwloc_bitmap_t set = NULL;
  int local_rank, local_size, over = 0, rc;
  char list[256];

  /* Always split, even for "none", so the call stays collective no matter
   * which mode each rank was given. */
  rc = MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  if (rc != MPI_SUCCESS) {
    err = NTW_ERR(NTW_ERR_MPI, "MPI_Comm_split_type(SHARED) failed (%d)", rc);
    goto cleanup;
  }
  if (MPI_Comm_rank(node, &local_rank) != MPI_SUCCESS ||
      MPI_Comm_size(node, &local_size) != MPI_SUCCESS) {
    err = NTW_ERR(NTW_ERR_MPI, "cannot query the node-local communicator");
    goto cleanup;
  }

  if (mode == NTW_BIND_NONE) {
    snprintf(desc, desc_len, "none");
    goto cleanup;
  }

  if (hwloc_topology_init(&topo) != 0) {
    topo = NULL;
    err = NTW_ERR(NTW_ERR_HWLOC, "hwloc_topology_init failed: %s",
                  strerror(errno));
    goto cleanup;
  }
  if (hwloc_topology_load(topo) != 0) {
    err = NTW_ERR(NTW_ERR_HWLOC, "cannot load the node topology: %s",
                  strerror(errno));
    goto cleanup;
  }
  set = hwloc_bitmap_alloc();
  if (set == NULL) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory allocating a cpuset");
    goto cleanup;
  }
  NTW_GOTO(err, ntw_place_compute(topo, mode, local_rank, local_size, set,
                                  &over),
           cleanup);

  hwloc_bitmap_list_snprintf(list, sizeof list, set);
  if (hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) != 0) {
    int e = errno;
    err = NTW_ERR(NTW_ERR_HWLOC,
                  "cannot bind to cores %s: %s; run with --bind none", list,
                  strerror(e));
    goto cleanup;
  }
  snprintf(desc, desc_len, "%s%s", list, over ? " (oversubscribed)" : "");

cleanup:
  hwloc_bitmap_free(set);
  if (topo)
    hwloc_topology_destroy(topo);
  if (node != MPI_COMM_NULL)
    MPI_Comm_free(&node);
  return err;
}

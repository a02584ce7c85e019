/* io/spikes.c - SONATA spike report written collectively with parallel HDF5.
 *
 * An append is a distributed sort followed by one collective write per
 * dataset: ranks histogram their spikes over time bins, agree on contiguous
 * bin ranges of about equal global counts, exchange spikes all-to-all so rank
 * r owns range r, sort locally, and write their slice at an offset obtained
 * by a prefix sum. The file therefore holds the same sequence whatever the
 * number of ranks or the partition of neurons.
 *
 * Failure policy: every local failure (bad argument, allocation, HDF5) is
 * agreed on with a small Allreduce before the next collective that depends on
 * it, so a failing rank never leaves the others waiting. A writer that failed
 * once is "broken": it refuses further appends and never commits. */
#include "io/spikes.h"
#include "io/collective.h"

#include "core/ntw_error.h"

#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTW_SPIKES_MAGIC 0x0A7Au
#define NTW_SPIKES_MAX_BINS 4096
/* 64 Ki elements: 512 KiB per timestamp chunk, large enough for efficient
 * parallel I/O, small enough not to waste much in short runs. */
#define NTW_SPIKES_CHUNK 65536

struct ntw_spike_writer {
  MPI_Comm comm; /* private duplicate, so our collectives never mix with the
                    caller's traffic */
  MPI_Datatype spike_type;
  int rank, nranks;
  char *path, *tmp_path;
  double dt;
  size_t npops;
  hid_t file, dxpl;
  hid_t *ts_dset, *id_dset; /* per population */
  uint64_t *count;          /* spikes written per population (global) */
  int64_t next_step;        /* appends must start at or after this step */
  bool broken;
};

/* ---------------------------------------------------------------- helpers */

/* All ranks learn whether any rank failed. A rank that failed keeps its own
 * message; the others record that the failure was elsewhere. */
static int ntw__spikes_agree(MPI_Comm comm, int err, const char *path) {
  return ntw_io_agree(comm, err, path, "spike report");
}

static char *ntw__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static herr_t ntw__attr_u32(hid_t obj, const char *name, const uint32_t *v,
                            hsize_t n) {
  herr_t rc = -1;
  /* One value is a scalar, as h5py-based SONATA writers store `magic`. */
  hid_t space = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
  if (space < 0) return -1;
  hid_t attr = H5Acreate2(obj, name, H5T_STD_U32LE, space, H5P_DEFAULT,
                          H5P_DEFAULT);
  if (attr >= 0) {
    rc = H5Awrite(attr, H5T_NATIVE_UINT32, v);
    H5Aclose(attr);
  }
  H5Sclose(space);
  return rc;
}

/* Variable-length UTF-8 scalar: what h5py writes for a str and reads back
 * as a str (a fixed-length string would come back as bytes). */
static herr_t ntw__attr_str(hid_t obj, const char *name, const char *value) {
  herr_t rc = -1;
  hid_t type = H5Tcopy(H5T_C_S1);
  if (type < 0) return -1;
  hid_t space = -1, attr = -1;
  if (H5Tset_size(type, H5T_VARIABLE) < 0 ||
      H5Tset_cset(type, H5T_CSET_UTF8) < 0)
    goto out;
  space = H5Screate(H5S_SCALAR);
  if (space < 0) goto out;
  attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0) goto out;
  rc = H5Awrite(attr, type, &value);
out:
  if (attr >= 0) H5Aclose(attr);
  if (space >= 0) H5Sclose(space);
  H5Tclose(type);
  return rc;
}

static hid_t ntw__make_dset(hid_t group, const char *name, hid_t type,
                            hid_t dcpl) {
  hsize_t zero = 0, unlimited = H5S_UNLIMITED;
  hid_t space = H5Screate_simple(1, &zero, &unlimited);
  if (space < 0) return -1;
  hid_t d = H5Dcreate2(group, name, type, space, H5P_DEFAULT, dcpl,
                       H5P_DEFAULT);
  H5Sclose(space);
  return d;
}

/* Builds the file layout once the file exists. Collective HDF5 metadata
 * calls: every rank runs exactly this sequence. */
static int ntw__spikes_layout(ntw_spike_writer *w,
                              const char *const *pop_names) {
  int err = 0;
  hid_t gcpl = -1, dcpl = -1, spikes = -1, pop = -1;
  const uint32_t magic = NTW_SPIKES_MAGIC, version[2] = {0, 1};
  hsize_t chunk = NTW_SPIKES_CHUNK;

  /* No object timestamps: they would make otherwise equal files differ. */
  gcpl = H5Pcreate(H5P_GROUP_CREATE);
  dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (gcpl < 0 || dcpl < 0 || H5Pset_obj_track_times(gcpl, 0) < 0 ||
      H5Pset_obj_track_times(dcpl, 0) < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0 ||
      /* Every element is written, so filling chunks first is wasted I/O. */
      H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0)
    goto hdf5_fail;

  if (ntw__attr_u32(w->file, "magic", &magic, 1) < 0 ||
      ntw__attr_u32(w->file, "version", version, 2) < 0)
    goto hdf5_fail;
  spikes = H5Gcreate2(w->file, "spikes", H5P_DEFAULT, gcpl, H5P_DEFAULT);
  if (spikes < 0) goto hdf5_fail;

  for (size_t p = 0; p < w->npops; p++) {
    pop = H5Gcreate2(spikes, pop_names[p], H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (pop < 0 || ntw__attr_str(pop, "sorting", "by_time") < 0) goto hdf5_fail;
    w->ts_dset[p] = ntw__make_dset(pop, "timestamps", H5T_IEEE_F64LE, dcpl);
    if (w->ts_dset[p] < 0 ||
        ntw__attr_str(w->ts_dset[p], "units", "ms") < 0)
      goto hdf5_fail;
    w->id_dset[p] = ntw__make_dset(pop, "node_ids", H5T_STD_U64LE, dcpl);
    if (w->id_dset[p] < 0) goto hdf5_fail;
    H5Gclose(pop);
    pop = -1;
  }
  goto cleanup;

hdf5_fail:
  err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot create spike report layout",
                w->path);
cleanup:
  if (pop >= 0) H5Gclose(pop);
  if (spikes >= 0) H5Gclose(spikes);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (gcpl >= 0) H5Pclose(gcpl);
  return err;
}

/* Frees everything; closes HDF5 objects (collective when the file is open,
 * so all ranks must come here together). Returns nonzero if closing failed. */
static int ntw__spikes_release(ntw_spike_writer *w) {
  int bad = 0;
  for (size_t p = 0; w->ts_dset && p < w->npops; p++)
    if (w->ts_dset[p] >= 0 && H5Dclose(w->ts_dset[p]) < 0) bad = 1;
  for (size_t p = 0; w->id_dset && p < w->npops; p++)
    if (w->id_dset[p] >= 0 && H5Dclose(w->id_dset[p]) < 0) bad = 1;
  if (w->dxpl >= 0 && H5Pclose(w->dxpl) < 0) bad = 1;
  if (w->file >= 0 && H5Fclose(w->file) < 0) bad = 1;
  if (w->spike_type != MPI_DATATYPE_NULL) MPI_Type_free(&w->spike_type);
  if (w->comm != MPI_COMM_NULL) MPI_Comm_free(&w->comm);
  free(w->count);
  free(w->id_dset);
  free(w->ts_dset);
  free(w->tmp_path);
  free(w->path);
  free(w);
  return bad;
}

/* ------------------------------------------------------------------- open */

static int ntw__spikes_check_args(const char *path, size_t npops,
                                  const char *const *pop_names, double dt) {
  NTW_CHECK(npops > 0 && pop_names != NULL, NTW_ERR_ARG,
            "%s: a spike report needs at least one population", path);
  NTW_CHECK(dt > 0.0, NTW_ERR_ARG, "%s: dt must be > 0 ms (got %g)", path, dt);
  for (size_t p = 0; p < npops; p++) {
    const char *n = pop_names[p];
    NTW_CHECK(n != NULL && n[0] != '\0' && strchr(n, '/') == NULL &&
                  strcmp(n, ".") != 0,
              NTW_ERR_ARG, "%s: population %zu: invalid name \"%s\"", path, p,
              n ? n : "(null)");
    for (size_t q = 0; q < p; q++)
      NTW_CHECK(strcmp(n, pop_names[q]) != 0, NTW_ERR_ARG,
                "%s: population %zu: duplicate name \"%s\"", path, p, n);
  }
  return 0;
}

int ntw_spikes_open(MPI_Comm comm, const char *path, size_t npops,
                    const char *const *pop_names, double dt,
                    ntw_spike_writer **out) {
  NTW_CHECK(out != NULL && path != NULL && path[0] != '\0', NTW_ERR_ARG,
            "spike report: missing path or output pointer");
  *out = NULL;
  int err = 0;
  hid_t fapl = -1;
  ntw_spike_writer *w = calloc(1, sizeof *w);
  NTW_ALLOC_CHECK(w);
  w->comm = MPI_COMM_NULL;
  w->spike_type = MPI_DATATYPE_NULL;
  w->file = w->dxpl = -1;
  w->npops = npops;
  w->dt = dt;

  if (MPI_Comm_dup(comm, &w->comm) != MPI_SUCCESS) {
    w->comm = MPI_COMM_NULL;
    err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Comm_dup failed", path);
    goto fail; /* comm itself is unusable: nothing collective can follow */
  }
  MPI_Comm_rank(w->comm, &w->rank);
  MPI_Comm_size(w->comm, &w->nranks);

  /* Local preparation, then one agreement before the collective create. */
  err = ntw__spikes_check_args(path, npops, pop_names, dt);
  if (err == 0) {
    w->path = ntw__strdup(path);
    w->tmp_path = ntw_io_tmp_name(path);
    w->ts_dset = malloc(npops * sizeof *w->ts_dset);
    w->id_dset = malloc(npops * sizeof *w->id_dset);
    w->count = calloc(npops, sizeof *w->count);
    if (!w->path || !w->tmp_path || !w->ts_dset || !w->id_dset || !w->count) {
      err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory opening spike report",
                    path);
    } else {
      for (size_t p = 0; p < npops; p++) w->ts_dset[p] = w->id_dset[p] = -1;
    }
  }
  if (err == 0 &&
      (MPI_Type_contiguous((int)sizeof(ntw_spike), MPI_BYTE, &w->spike_type) !=
           MPI_SUCCESS ||
       MPI_Type_commit(&w->spike_type) != MPI_SUCCESS))
    err = NTW_ERR(NTW_ERR_MPI, "%s: cannot create MPI spike datatype", path);
  NTW_GOTO(err, ntw__spikes_agree(w->comm, err, path), fail);

  /* We report errors ourselves, as one line; HDF5's stack dump would be
   * printed once per rank. */
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  w->dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (fapl < 0 || w->dxpl < 0 ||
      H5Pset_fapl_mpio(fapl, w->comm, MPI_INFO_NULL) < 0 ||
      H5Pset_dxpl_mpio(w->dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
    err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot set up parallel HDF5", path);
  } else {
    w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (w->file < 0)
      err = NTW_ERR(NTW_ERR_IO, "%s: cannot create spike report", path);
  }
  if (fapl >= 0) H5Pclose(fapl);
  NTW_GOTO(err, ntw__spikes_agree(w->comm, err, path), fail);

  err = ntw__spikes_layout(w, pop_names);
  NTW_GOTO(err, ntw__spikes_agree(w->comm, err, path), fail_file);
  *out = w;
  return 0;

fail_file: {
  /* The temporary exists on disk: remove it once every rank has closed it
   * (H5Fclose is collective). */
  int rank = w->rank;
  char *tmp = w->tmp_path;
  w->tmp_path = NULL;
  ntw__spikes_release(w);
  if (rank == 0) remove(tmp);
  free(tmp);
  return err;
}
fail:
  ntw__spikes_release(w);
  return err;
}

/* ----------------------------------------------------------------- append */

/* Sender side: by step only, which is all the bin ranges need. */
static int ntw__cmp_step(const void *a, const void *b) {
  const ntw_spike *x = a, *y = b;
  return (x->step > y->step) - (x->step < y->step);
}

/* Receiver side: populations contiguous, each in (time, node_id) order. */
static int ntw__cmp_pop_step_id(const void *a, const void *b) {
  const ntw_spike *x = a, *y = b;
  if (x->pop != y->pop) return (x->pop > y->pop) - (x->pop < y->pop);
  if (x->step != y->step) return (x->step > y->step) - (x->step < y->step);
  return (x->node_id > y->node_id) - (x->node_id < y->node_id);
}

/* Extends one dataset by `total` elements and writes this rank's `n` at
 * `offset` past the old end. Collective. */
static int ntw__write_slice(ntw_spike_writer *w, hid_t dset, hid_t memtype,
                            const void *buf, uint64_t old, uint64_t offset,
                            uint64_t n, uint64_t total) {
  herr_t rc = -1;
  hsize_t size = old + total, start = old + offset, cnt = n;
  hsize_t mdim = n > 0 ? n : 1;
  hid_t fspace = -1, mspace = -1;
  static const double dummy = 0.0; /* HDF5 rejects NULL even for no data */

  if (H5Dset_extent(dset, &size) < 0) return -1;
  fspace = H5Dget_space(dset);
  mspace = H5Screate_simple(1, &mdim, NULL);
  if (fspace < 0 || mspace < 0) goto out;
  if (n > 0) {
    if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &cnt,
                            NULL) < 0)
      goto out;
  } else if (H5Sselect_none(fspace) < 0 || H5Sselect_none(mspace) < 0) {
    goto out;
  }
  rc = H5Dwrite(dset, memtype, mspace, fspace, w->dxpl,
                n > 0 ? buf : (const void *)&dummy);
out:
  if (mspace >= 0) H5Sclose(mspace);
  if (fspace >= 0) H5Sclose(fspace);
  return rc;
}

int ntw_spikes_append(ntw_spike_writer *w, ntw_spike *spikes, size_t n,
                      int64_t step_lo, int64_t step_hi) {
  NTW_CHECK(w != NULL, NTW_ERR_ARG, "spike report: append to a NULL writer");
  NTW_CHECK(!w->broken, NTW_ERR_ARG,
            "%s: spike report unusable after an earlier error", w->path);
  const int nr = w->nranks;
  const size_t np = w->npops;
  int err = 0;
  uint64_t *hist = NULL, *cnt = NULL;
  int *scount = NULL, *sdispl = NULL, *rcount = NULL, *rdispl = NULL;
  ntw_spike *recv = NULL;
  double *ts = NULL;
  uint64_t *ids = NULL;

  /* 1. Validate; the step range must be the same on all ranks, since the
   * histogram length depends on it. */
  if (step_hi < step_lo || step_lo < w->next_step)
    err = NTW_ERR(NTW_ERR_ARG,
                  "%s: append range [%lld, %lld) is empty-reversed or before "
                  "step %lld already written",
                  w->path, (long long)step_lo, (long long)step_hi,
                  (long long)w->next_step);
  else if (n > 0 && spikes == NULL)
    err = NTW_ERR(NTW_ERR_ARG, "%s: %zu spikes but a NULL array", w->path, n);
  for (size_t i = 0; err == 0 && i < n; i++)
    if (spikes[i].step < step_lo || spikes[i].step >= step_hi ||
        spikes[i].pop >= np)
      err = NTW_ERR(NTW_ERR_ARG,
                    "%s: spike %zu (node %llu, step %lld, population %u) is "
                    "outside steps [%lld, %lld) or the %zu populations",
                    w->path, i, (unsigned long long)spikes[i].node_id,
                    (long long)spikes[i].step, spikes[i].pop,
                    (long long)step_lo, (long long)step_hi, np);

  /* Whole steps per bin, so one step never straddles two ranks. */
  uint64_t range = err == 0 ? (uint64_t)(step_hi - step_lo) : 0;
  uint64_t width = range > NTW_SPIKES_MAX_BINS
                       ? (range + NTW_SPIKES_MAX_BINS - 1) / NTW_SPIKES_MAX_BINS
                       : 1;
  size_t nbins = range > 0 ? (size_t)((range + width - 1) / width) : 1;
  if (err == 0) {
    hist = calloc(nbins, sizeof *hist);
    scount = calloc((size_t)nr, sizeof *scount);
    sdispl = calloc((size_t)nr, sizeof *sdispl);
    rcount = calloc((size_t)nr, sizeof *rcount);
    rdispl = calloc((size_t)nr, sizeof *rdispl);
    cnt = calloc(3 * np + 1, sizeof *cnt);
    if (!hist || !scount || !sdispl || !rcount || !rdispl || !cnt)
      err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory appending spikes",
                    w->path);
  }
  {
    int64_t lim[5] = {step_lo, -step_lo, step_hi, -step_hi, err != 0}, g[5];
    if (MPI_Allreduce(lim, g, 5, MPI_INT64_T, MPI_MAX, w->comm) !=
        MPI_SUCCESS) {
      err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Allreduce failed appending spikes",
                    w->path);
      goto cleanup; /* cannot agree on anything any more */
    }
    if (err == 0 && g[4] != 0)
      err = NTW_ERR(NTW_ERR_REMOTE, "%s: spike report failed on another rank",
                    w->path);
    else if (err == 0 && (g[0] != -g[1] || g[2] != -g[3]))
      err = NTW_ERR(NTW_ERR_ARG,
                    "%s: ranks disagree on the append range (got [%lld, %lld) "
                    "here)",
                    w->path, (long long)step_lo, (long long)step_hi);
    if (err) goto fail;
  }

  /* 2. Global histogram over time bins. */
  if (n > 1) qsort(spikes, n, sizeof *spikes, ntw__cmp_step);
  for (size_t i = 0; i < n; i++)
    hist[(uint64_t)(spikes[i].step - step_lo) / width]++;
  if (MPI_Allreduce(MPI_IN_PLACE, hist, (int)nbins, MPI_UINT64_T, MPI_SUM,
                    w->comm) != MPI_SUCCESS) {
    err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Allreduce failed appending spikes",
                  w->path);
    goto fail;
  }
  uint64_t total = 0;
  for (size_t b = 0; b < nbins; b++) total += hist[b];
  if (total == 0) goto done; /* every rank sees the same total */

  /* 3. Cut bins into nr contiguous ranges of about total/nr spikes: a bin
   * goes to the rank whose share contains the bin's first spike. The owner
   * is monotonic in the bin, and the local array is sorted by step, so each
   * destination's spikes are one contiguous run. hist becomes owner[]. */
  {
    uint64_t before = 0;
    for (size_t b = 0; b < nbins; b++) {
      uint64_t h = hist[b];
      uint64_t owner = before * (uint64_t)nr / total;
      hist[b] = owner < (uint64_t)nr ? owner : (uint64_t)nr - 1;
      before += h;
    }
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t dst = hist[(uint64_t)(spikes[i].step - step_lo) / width];
    if (scount[dst] == INT_MAX) {
      err = NTW_ERR(NTW_ERR_NOTSUP,
                    "%s: more than %d spikes for one rank in one append",
                    w->path, INT_MAX);
      break;
    }
    scount[dst]++;
  }
  /* Counts and byte offsets are int in MPI-3; keep them in range. */
  if (err == 0 && n > (size_t)INT_MAX)
    err = NTW_ERR(NTW_ERR_NOTSUP, "%s: more than %d spikes on one rank in one "
                  "append", w->path, INT_MAX);
  for (int r = 1; err == 0 && r < nr; r++)
    sdispl[r] = sdispl[r - 1] + scount[r - 1];
  if (MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, w->comm) !=
      MPI_SUCCESS) {
    err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Alltoall failed appending spikes",
                  w->path);
    goto fail;
  }
  size_t nrecv = 0;
  for (int r = 0; r < nr; r++) {
    if (err == 0 && nrecv + (size_t)rcount[r] > (size_t)INT_MAX)
      err = NTW_ERR(NTW_ERR_NOTSUP,
                    "%s: more than %d spikes for one rank in one append",
                    w->path, INT_MAX);
    rdispl[r] = (int)nrecv;
    nrecv += (size_t)rcount[r];
  }
  if (err == 0 && nrecv > 0) {
    recv = malloc(nrecv * sizeof *recv);
    ts = malloc(nrecv * sizeof *ts);
    ids = malloc(nrecv * sizeof *ids);
    if (!recv || !ts || !ids)
      err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory receiving %zu spikes",
                    w->path, nrecv);
  }
  NTW_GOTO(err, ntw__spikes_agree(w->comm, err, w->path), fail);

  /* 4. Exchange, then sort what this rank owns. */
  if (MPI_Alltoallv(spikes, scount, sdispl, w->spike_type, recv, rcount,
                    rdispl, w->spike_type, w->comm) != MPI_SUCCESS) {
    err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Alltoallv failed appending spikes",
                  w->path);
    goto fail;
  }
  if (nrecv > 1) qsort(recv, nrecv, sizeof *recv, ntw__cmp_pop_step_id);
  for (size_t i = 0; i < nrecv; i++) {
    ts[i] = (double)recv[i].step * w->dt;
    ids[i] = recv[i].node_id;
    cnt[recv[i].pop]++;
  }

  /* 5. Offsets (exclusive prefix) and totals per population. */
  uint64_t *mine = cnt, *offset = cnt + np, *sum = cnt + 2 * np;
  if (MPI_Exscan(mine, offset, (int)np, MPI_UINT64_T, MPI_SUM, w->comm) !=
          MPI_SUCCESS ||
      MPI_Allreduce(mine, sum, (int)np, MPI_UINT64_T, MPI_SUM, w->comm) !=
          MPI_SUCCESS) {
    err = NTW_ERR(NTW_ERR_MPI, "%s: prefix sum failed appending spikes",
                  w->path);
    goto fail;
  }
  if (w->rank == 0) memset(offset, 0, np * sizeof *offset); /* undefined */

  /* 6. One collective write per dataset; populations with no new spikes
   * anywhere are skipped by all ranks alike. A failure is remembered, not
   * acted on, so every rank still makes the same sequence of calls. */
  size_t first = 0;
  for (size_t p = 0; p < np; p++) {
    if (sum[p] == 0) continue;
    if (ntw__write_slice(w, w->ts_dset[p], H5T_NATIVE_DOUBLE, ts + first,
                         w->count[p], offset[p], mine[p], sum[p]) < 0 ||
        ntw__write_slice(w, w->id_dset[p], H5T_NATIVE_UINT64, ids + first,
                         w->count[p], offset[p], mine[p], sum[p]) < 0) {
      if (err == 0)
        err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot write spikes of population %zu",
                      w->path, p);
    }
    first += mine[p];
    w->count[p] += sum[p];
  }
  NTW_GOTO(err, ntw__spikes_agree(w->comm, err, w->path), fail);

done:
  w->next_step = step_hi;
  goto cleanup;
fail:
  w->broken = true;
cleanup:
  free(ids);
  free(ts);
  free(recv);
  free(cnt);
  free(rdispl);
  free(rcount);
  free(sdispl);
  free(scount);
  free(hist);
  return err;
}

uint64_t ntw_spikes_count(const ntw_spike_writer *w, size_t pop) {
  if (w == NULL || pop >= w->npops) return 0;
  return w->count[pop];
}

/* ------------------------------------------------------------------ close */

int ntw_spikes_close(ntw_spike_writer **wp, bool commit) {
  if (wp == NULL || *wp == NULL) return 0;
  ntw_spike_writer *w = *wp;
  *wp = NULL;
  MPI_Comm comm = MPI_COMM_NULL;
  int err = 0;
  bool broken = w->broken;
  char *path = w->path, *tmp = w->tmp_path;
  w->path = w->tmp_path = NULL; /* keep them past the release */

  /* Our own duplicate outlives the release for the final handshake. */
  if (MPI_Comm_dup(w->comm, &comm) != MPI_SUCCESS) {
    ntw__spikes_release(w);
    err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Comm_dup failed closing spike report",
                  path);
    goto cleanup;
  }
  if (ntw__spikes_release(w) != 0)
    err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot close spike report", path);
  /* Also the barrier: every rank has closed before rank 0 renames. */
  err = ntw__spikes_agree(comm, err, path);
  if (err == 0 && broken && commit)
    err = NTW_ERR(NTW_ERR_IO,
                  "%s: spike report not saved after an earlier write error",
                  path);

  err = ntw_io_commit_tmp(comm, err, commit, tmp, path);
  MPI_Comm_free(&comm);
cleanup:
  free(tmp);
  free(path);
  return err;
}

/* io/weights.c - weight recording with parallel HDF5 (see weights.h).
 *
 * Set-up, once per recorded projection: sort the local synapses by
 * (target, source, given index); count synapses per target over all ranks
 * (an Allreduce of tgt_n counters) and prefix-sum them, which gives every
 * synapse its global index, since a target's synapses all live on one rank;
 * keep indices below `sample`; then route each kept synapse to the rank that
 * owns its index in a block distribution of [0, M). The routing (counts,
 * displacements, positions) is computed once; each append is one
 * Alltoallv of floats and one collective hyperslab write per projection.
 *
 * Failure policy as in spikes.c: local failures are agreed on with an
 * Allreduce before the next collective that depends on them; a writer that
 * failed once is broken, refuses appends and never commits. */
#include "io/weights.h"
#include "io/collective.h"

#include "core/ntw_error.h"

#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* About 64 Ki weights (256 KiB) per chunk: a row of up to 16 Ki synapses,
 * several rows when the projection is small. */
#define NTW_W_CHUNK_COLS 16384
#define NTW_W_CHUNK_ELEMS 65536
#define NTW_W_TIME_CHUNK 1024

typedef struct {
  uint64_t M, lo, cnt;  /* kept synapses (global), this rank's block */
  size_t n_local;       /* synapses given on this rank */
  size_t n_send;        /* of which kept */
  size_t *perm;         /* n_send: given index, in send order */
  int *sc, *sd, *rc, *rd;
  size_t n_recv;
  uint64_t *rpos;       /* n_recv: position in the block */
  float *sbuf, *rbuf, *block;
  hid_t times, weights;
  uint64_t rows;        /* records written */
} wset;

struct ntw_weight_writer {
  MPI_Comm comm;
  int rank, nranks;
  char *path, *tmp_path;
  hid_t file, dxpl;
  size_t nsets;
  wset *sets;
  bool broken;
};

static int agree(MPI_Comm comm, int err, const char *path) {
  return ntw_io_agree(comm, err, path, "weight recording");
}

static herr_t attr_str(hid_t obj, const char *name, const char *value) {
  herr_t rc = -1;
  hid_t type = H5Tcopy(H5T_C_S1), space = -1, attr = -1;
  if (type < 0) return -1;
  if (H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0)
    goto out;
  if ((space = H5Screate(H5S_SCALAR)) < 0) goto out;
  if ((attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0)
    goto out;
  rc = H5Awrite(attr, type, &value);
out:
  if (attr >= 0) H5Aclose(attr);
  if (space >= 0) H5Sclose(space);
  H5Tclose(type);
  return rc;
}

/* ------------------------------------------------------------ set-up */

typedef struct {
  uint64_t tgt, src;
  size_t idx;
} skey;

static int cmp_skey(const void *a, const void *b) {
  const skey *x = a, *y = b;
  if (x->tgt != y->tgt) return (x->tgt > y->tgt) - (x->tgt < y->tgt);
  if (x->src != y->src) return (x->src > y->src) - (x->src < y->src);
  return (x->idx > y->idx) - (x->idx < y->idx);
}

static uint64_t block_lo(uint64_t M, int P, int r) {
  uint64_t q = M / (uint64_t)P, m = M % (uint64_t)P;
  return q * (uint64_t)r + ((uint64_t)r < m ? (uint64_t)r : m);
}

/* Local part of the set-up: sort, global indices, routing. Collective
 * (Allreduce, Alltoall); every rank calls it for every set. Returns a
 * local error in *lerr (agreed on by the caller) and nonzero only when a
 * collective itself failed. */
static int plan_set(ntw_weight_writer *w, wset *s, const ntw_weight_set *in,
                    uint64_t **gidx_out) {
  const int P = w->nranks;
  int err = 0;
  skey *keys = NULL;
  uint64_t *cnt = NULL, *gidx = NULL;
  s->n_local = in->n;
  s->sc = calloc((size_t)P, sizeof *s->sc);
  s->sd = calloc((size_t)P, sizeof *s->sd);
  s->rc = calloc((size_t)P, sizeof *s->rc);
  s->rd = calloc((size_t)P, sizeof *s->rd);
  keys = malloc((in->n + 1) * sizeof *keys);
  gidx = malloc((in->n + 1) * sizeof *gidx);
  cnt = calloc(in->tgt_n + 1, sizeof *cnt);
  if (!s->sc || !s->sd || !s->rc || !s->rd || !keys || !gidx || !cnt)
    err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory planning projection %d",
                  w->path, in->proj);
  if (!err && in->tgt_n > (uint64_t)INT_MAX)
    err = NTW_ERR(NTW_ERR_NOTSUP, "%s: projection %d: target population too "
                  "large to record", w->path, in->proj);
  for (size_t i = 0; !err && i < in->n; i++) {
    if (in->tgt[i] < in->tgt_first || in->tgt[i] - in->tgt_first >= in->tgt_n) {
      err = NTW_ERR(NTW_ERR_ARG, "%s: projection %d: target %llu outside the "
                    "target population", w->path, in->proj,
                    (unsigned long long)in->tgt[i]);
      break;
    }
    keys[i] = (skey){in->tgt[i], in->src[i], i};
    cnt[in->tgt[i] - in->tgt_first]++;
  }
  err = agree(w->comm, err, w->path);
  if (err) goto out;
  if (MPI_Allreduce(MPI_IN_PLACE, cnt, (int)in->tgt_n, MPI_UINT64_T, MPI_SUM,
                    w->comm) != MPI_SUCCESS) {
    err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Allreduce failed", w->path);
    goto out;
  }
  uint64_t total = 0;
  for (uint64_t t = 0; t < in->tgt_n; t++) {
    uint64_t c = cnt[t];
    cnt[t] = total; /* first global index of target t */
    total += c;
  }
  qsort(keys, in->n, sizeof *keys, cmp_skey);
  s->M = in->sample < total ? in->sample : total;
  s->lo = block_lo(s->M, P, w->rank);
  s->cnt = block_lo(s->M, P, w->rank + 1) - s->lo;
  /* Global indices ascend along the sorted keys, so the kept ones are a
   * prefix and their owners ascend: one contiguous run per destination. */
  s->perm = malloc((in->n + 1) * sizeof *s->perm);
  if (!s->perm) {
    err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory", w->path);
  } else {
    int r = 0;
    for (size_t i = 0; i < in->n; i++) {
      uint64_t g = cnt[keys[i].tgt - in->tgt_first]++;
      if (g >= s->M) continue;
      while (g >= block_lo(s->M, P, r + 1)) r++;
      s->perm[s->n_send] = keys[i].idx;
      gidx[s->n_send++] = g;
      s->sc[r]++;
    }
  }
  if (!err && s->n_send > (size_t)INT_MAX)
    err = NTW_ERR(NTW_ERR_NOTSUP, "%s: too many synapses on one rank", w->path);
  err = agree(w->comm, err, w->path);
  if (err) goto out;
  for (int r = 1; r < P; r++) s->sd[r] = s->sd[r - 1] + s->sc[r - 1];
  if (MPI_Alltoall(s->sc, 1, MPI_INT, s->rc, 1, MPI_INT, w->comm) != MPI_SUCCESS) {
    err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Alltoall failed", w->path);
    goto out;
  }
  for (int r = 0; r < P; r++) {
    s->rd[r] = (int)s->n_recv;
    s->n_recv += (size_t)s->rc[r];
  }
  if (s->n_recv != s->cnt)
    err = NTW_ERR(NTW_ERR_INTERNAL, "%s: weight routing lost synapses", w->path);
  s->rpos = malloc((s->n_recv + 1) * sizeof *s->rpos);
  s->sbuf = malloc((s->n_send + 1) * sizeof *s->sbuf);
  s->rbuf = malloc((s->n_recv + 1) * sizeof *s->rbuf);
  s->block = malloc((s->cnt + 1) * sizeof *s->block);
  if (!err && (!s->rpos || !s->sbuf || !s->rbuf || !s->block))
    err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory", w->path);
  err = agree(w->comm, err, w->path);
  if (err) goto out;
  if (MPI_Alltoallv(gidx, s->sc, s->sd, MPI_UINT64_T, s->rpos, s->rc, s->rd,
                    MPI_UINT64_T, w->comm) != MPI_SUCCESS) {
    err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Alltoallv failed", w->path);
    goto out;
  }
  for (size_t i = 0; i < s->n_recv; i++) s->rpos[i] -= s->lo;
  *gidx_out = gidx;
  gidx = NULL;
out:
  free(keys), free(cnt), free(gidx);
  return err;
}

/* Sends the kept values of a given-order array (elem bytes each) to their
 * owners and places them in block order into dst. Collective. */
static int route(ntw_weight_writer *w, wset *s, const void *src_given,
                 size_t elem, MPI_Datatype type, void *dst) {
  int err = 0;
  char *sb = malloc((s->n_send + 1) * elem), *rb = malloc((s->n_recv + 1) * elem);
  if (!sb || !rb) err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory", w->path);
  err = agree(w->comm, err, w->path);
  if (!err) {
    for (size_t i = 0; i < s->n_send; i++)
      memcpy(sb + i * elem, (const char *)src_given + s->perm[i] * elem, elem);
    if (MPI_Alltoallv(sb, s->sc, s->sd, type, rb, s->rc, s->rd, type, w->comm) !=
        MPI_SUCCESS)
      err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Alltoallv failed", w->path);
    else
      for (size_t i = 0; i < s->n_recv; i++)
        memcpy((char *)dst + s->rpos[i] * elem, rb + i * elem, elem);
  }
  free(sb), free(rb);
  return err;
}

/* Collective write of this rank's block [lo, lo+cnt) of a fixed 1-D dataset. */
static int write_fixed(ntw_weight_writer *w, hid_t group, const char *name,
                       hid_t ftype, hid_t mtype, const wset *s, const void *buf,
                       hid_t dcpl) {
  hsize_t dim = s->M, start = s->lo, count = s->cnt, mdim = s->cnt ? s->cnt : 1;
  hid_t space = H5Screate_simple(1, &dim, NULL), mspace = -1, d = -1;
  herr_t rc = -1;
  static const double dummy = 0;
  if (space < 0) return -1;
  d = H5Dcreate2(group, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d < 0) goto out;
  if (s->M == 0) {
    rc = 0;
    goto out;
  }
  mspace = H5Screate_simple(1, &mdim, NULL);
  if (mspace < 0) goto out;
  if (s->cnt > 0
          ? H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0
          : (H5Sselect_none(space) < 0 || H5Sselect_none(mspace) < 0))
    goto out;
  rc = H5Dwrite(d, mtype, mspace, space, w->dxpl, s->cnt ? buf : (const void *)&dummy);
out:
  if (mspace >= 0) H5Sclose(mspace);
  if (d >= 0 && H5Dclose(d) < 0) rc = -1;
  H5Sclose(space);
  return rc;
}

/* Group, attributes and datasets of one set; every rank the same calls. */
static int layout_set(ntw_weight_writer *w, hid_t projs, wset *s,
                      const ntw_weight_set *in, const uint64_t *bsrc,
                      const uint64_t *btgt, const double *bdel) {
  int err = 0;
  char name[32];
  snprintf(name, sizeof name, "%d", in->proj);
  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE), fixed = H5Pcreate(H5P_DATASET_CREATE);
  hid_t tcpl = H5Pcreate(H5P_DATASET_CREATE), wcpl = H5Pcreate(H5P_DATASET_CREATE);
  hid_t g = -1, space = -1;
  hsize_t tchunk = NTW_W_TIME_CHUNK, zero = 0, unl = H5S_UNLIMITED;
  hsize_t cols = s->M == 0 ? 1 : (s->M < NTW_W_CHUNK_COLS ? s->M : NTW_W_CHUNK_COLS);
  hsize_t rows = NTW_W_CHUNK_ELEMS / cols;
  if (rows > 1024) rows = 1024;
  hsize_t wchunk[2] = {rows, cols}, wdim[2] = {0, s->M}, wmax[2] = {unl, unl};
  if (gcpl < 0 || fixed < 0 || tcpl < 0 || wcpl < 0 ||
      /* No object timestamps: they would make equal files differ. */
      H5Pset_obj_track_times(gcpl, 0) < 0 || H5Pset_obj_track_times(fixed, 0) < 0 ||
      H5Pset_obj_track_times(tcpl, 0) < 0 || H5Pset_obj_track_times(wcpl, 0) < 0 ||
      H5Pset_chunk(tcpl, 1, &tchunk) < 0 || H5Pset_chunk(wcpl, 2, wchunk) < 0 ||
      H5Pset_fill_time(tcpl, H5D_FILL_TIME_NEVER) < 0 ||
      H5Pset_fill_time(wcpl, H5D_FILL_TIME_NEVER) < 0)
    goto fail;
  g = H5Gcreate2(projs, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
  if (g < 0 || attr_str(g, "source_population", in->source) < 0 ||
      attr_str(g, "target_population", in->target) < 0 ||
      attr_str(g, "synapse_model", in->synapse) < 0)
    goto fail;
  if (write_fixed(w, g, "source", H5T_STD_U64LE, H5T_NATIVE_UINT64, s, bsrc, fixed) < 0 ||
      write_fixed(w, g, "target", H5T_STD_U64LE, H5T_NATIVE_UINT64, s, btgt, fixed) < 0 ||
      write_fixed(w, g, "delay", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s, bdel, fixed) < 0)
    goto fail;
  if ((space = H5Screate_simple(1, &zero, &unl)) < 0) goto fail;
  s->times = H5Dcreate2(g, "times", H5T_IEEE_F64LE, space, H5P_DEFAULT, tcpl, H5P_DEFAULT);
  H5Sclose(space);
  if (s->times < 0 || attr_str(s->times, "units", "ms") < 0) goto fail;
  if ((space = H5Screate_simple(2, wdim, wmax)) < 0) goto fail;
  s->weights = H5Dcreate2(g, "weights", H5T_IEEE_F32LE, space, H5P_DEFAULT, wcpl,
                          H5P_DEFAULT);
  H5Sclose(space);
  if (s->weights < 0 || attr_str(s->weights, "dimensions", "time, synapse") < 0)
    goto fail;
  goto out;
fail:
  err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot create the layout of projection %d",
                w->path, in->proj);
out:
  if (g >= 0) H5Gclose(g);
  if (gcpl >= 0) H5Pclose(gcpl);
  if (fixed >= 0) H5Pclose(fixed);
  if (tcpl >= 0) H5Pclose(tcpl);
  if (wcpl >= 0) H5Pclose(wcpl);
  return err;
}

static int release(ntw_weight_writer *w) {
  int bad = 0;
  for (size_t k = 0; w->sets && k < w->nsets; k++) {
    wset *s = &w->sets[k];
    if (s->times >= 0 && H5Dclose(s->times) < 0) bad = 1;
    if (s->weights >= 0 && H5Dclose(s->weights) < 0) bad = 1;
    free(s->perm), free(s->sc), free(s->sd), free(s->rc), free(s->rd);
    free(s->rpos), free(s->sbuf), free(s->rbuf), free(s->block);
  }
  if (w->dxpl >= 0 && H5Pclose(w->dxpl) < 0) bad = 1;
  if (w->file >= 0 && H5Fclose(w->file) < 0) bad = 1;
  if (w->comm != MPI_COMM_NULL) MPI_Comm_free(&w->comm);
  free(w->sets), free(w->tmp_path), free(w->path), free(w);
  return bad;
}

int ntw_weights_open(MPI_Comm comm, const char *path, size_t nsets,
                     const ntw_weight_set *sets, ntw_weight_writer **out) {
  NTW_CHECK(out != NULL && path != NULL && path[0] != '\0', NTW_ERR_ARG,
            "weight recording: missing path or output pointer");
  *out = NULL;
  int err = 0;
  ntw_weight_writer *w = calloc(1, sizeof *w);
  NTW_ALLOC_CHECK(w);
  w->comm = MPI_COMM_NULL;
  w->file = w->dxpl = -1;
  w->nsets = nsets;
  if (MPI_Comm_dup(comm, &w->comm) != MPI_SUCCESS) {
    w->comm = MPI_COMM_NULL;
    err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Comm_dup failed", path);
    release(w);
    return err;
  }
  MPI_Comm_rank(w->comm, &w->rank);
  MPI_Comm_size(w->comm, &w->nranks);
  size_t len = strlen(path);
  w->path = malloc(len + 1);
  w->tmp_path = ntw_io_tmp_name(path);
  w->sets = calloc(nsets + 1, sizeof *w->sets);
  if (!w->path || !w->tmp_path || !w->sets) {
    err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory", path);
  } else {
    memcpy(w->path, path, len + 1);
    for (size_t k = 0; k < nsets; k++) w->sets[k].times = w->sets[k].weights = -1;
  }
  NTW_GOTO(err, agree(w->comm, err, path), fail);

  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* one error line, not a stack per rank */
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
  w->dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (fapl < 0 || fcpl < 0 || w->dxpl < 0 ||
      H5Pset_fapl_mpio(fapl, w->comm, MPI_INFO_NULL) < 0 ||
      H5Pset_dxpl_mpio(w->dxpl, H5FD_MPIO_COLLECTIVE) < 0 ||
      H5Pset_obj_track_times(fcpl, 0) < 0) {
    err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot set up parallel HDF5", path);
  } else {
    w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, fcpl, fapl);
    if (w->file < 0) err = NTW_ERR(NTW_ERR_IO, "%s: cannot create weight file", path);
  }
  if (fapl >= 0) H5Pclose(fapl);
  if (fcpl >= 0) H5Pclose(fcpl);
  NTW_GOTO(err, agree(w->comm, err, path), fail);

  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE), projs = -1;
  if (gcpl >= 0 && H5Pset_obj_track_times(gcpl, 0) >= 0)
    projs = H5Gcreate2(w->file, "projections", H5P_DEFAULT, gcpl, H5P_DEFAULT);
  if (gcpl >= 0) H5Pclose(gcpl);
  if (projs < 0) err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot create /projections", path);
  NTW_GOTO(err, agree(w->comm, err, path), fail_file);

  for (size_t k = 0; k < nsets && !err; k++) {
    wset *s = &w->sets[k];
    uint64_t *gidx = NULL, *bsrc = NULL, *btgt = NULL;
    double *bdel = NULL;
    err = plan_set(w, s, &sets[k], &gidx);
    free(gidx);
    if (err) break;
    bsrc = malloc((s->cnt + 1) * sizeof *bsrc);
    btgt = malloc((s->cnt + 1) * sizeof *btgt);
    bdel = malloc((s->cnt + 1) * sizeof *bdel);
    if (!bsrc || !btgt || !bdel) err = NTW_ERR(NTW_ERR_NOMEM, "%s: out of memory", path);
    err = agree(w->comm, err, path);
    if (!err) err = route(w, s, sets[k].src, sizeof *bsrc, MPI_UINT64_T, bsrc);
    if (!err) err = route(w, s, sets[k].tgt, sizeof *btgt, MPI_UINT64_T, btgt);
    if (!err) err = route(w, s, sets[k].delay, sizeof *bdel, MPI_DOUBLE, bdel);
    if (!err) err = agree(w->comm, layout_set(w, projs, s, &sets[k], bsrc, btgt, bdel), path);
    free(bsrc), free(btgt), free(bdel);
  }
  H5Gclose(projs);
  if (err) goto fail_file;
  *out = w;
  return 0;

fail_file: {
  int rank = w->rank;
  char *tmp = w->tmp_path;
  w->tmp_path = NULL;
  release(w);
  if (rank == 0) remove(tmp);
  free(tmp);
  return err;
}
fail:
  release(w);
  return err;
}

int ntw_weights_append(ntw_weight_writer *w, size_t set, double t_ms,
                       const float *weights) {
  NTW_CHECK(w != NULL, NTW_ERR_ARG, "weight recording: append to a NULL writer");
  NTW_CHECK(!w->broken, NTW_ERR_ARG,
            "%s: weight recording unusable after an earlier error", w->path);
  NTW_CHECK(set < w->nsets, NTW_ERR_ARG, "%s: no recorded set %zu", w->path, set);
  int err = 0;
  wset *s = &w->sets[set];
  const hsize_t row = s->rows;
  do {
    for (size_t i = 0; i < s->n_send; i++) s->sbuf[i] = weights[s->perm[i]];
    if (MPI_Alltoallv(s->sbuf, s->sc, s->sd, MPI_FLOAT, s->rbuf, s->rc, s->rd,
                      MPI_FLOAT, w->comm) != MPI_SUCCESS) {
      err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Alltoallv failed", w->path);
      break;
    }
    for (size_t i = 0; i < s->n_recv; i++) s->block[s->rpos[i]] = s->rbuf[i];
    /* Every rank makes the same HDF5 calls; failures are remembered. */
    hsize_t tdim = row + 1, wdim[2] = {row + 1, s->M};
    hsize_t one = 1, wstart[2] = {row, s->lo}, wcount[2] = {1, s->cnt};
    hsize_t mdim = s->cnt ? s->cnt : 1;
    static const double dummy = 0;
    int bad = 0;
    hid_t fs = -1, ms = -1;
    /* times: rank 0 writes the one new element */
    if (H5Dset_extent(s->times, &tdim) < 0 || (fs = H5Dget_space(s->times)) < 0 ||
        (ms = H5Screate_simple(1, &one, NULL)) < 0)
      bad = 1;
    if (!bad) {
      if (w->rank == 0)
        bad = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &row, NULL, &one, NULL) < 0;
      else
        bad = H5Sselect_none(fs) < 0 || H5Sselect_none(ms) < 0;
      if (!bad) bad = H5Dwrite(s->times, H5T_NATIVE_DOUBLE, ms, fs, w->dxpl, &t_ms) < 0;
    }
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    fs = ms = -1;
    if (H5Dset_extent(s->weights, wdim) < 0) bad = 1;
    if (s->M > 0) {
      if ((fs = H5Dget_space(s->weights)) < 0 ||
          (ms = H5Screate_simple(1, &mdim, NULL)) < 0) {
        bad = 1;
      } else {
        int sel = s->cnt ? H5Sselect_hyperslab(fs, H5S_SELECT_SET, wstart, NULL,
                                               wcount, NULL)
                         : (H5Sselect_none(fs) < 0 || H5Sselect_none(ms) < 0 ? -1 : 0);
        if (sel < 0 ||
            H5Dwrite(s->weights, H5T_NATIVE_FLOAT, ms, fs, w->dxpl,
                     s->cnt ? (const void *)s->block : (const void *)&dummy) < 0)
          bad = 1;
      }
      if (fs >= 0) H5Sclose(fs);
      if (ms >= 0) H5Sclose(ms);
    }
    if (bad)
      err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot write record %llu of set %zu",
                    w->path, (unsigned long long)row, set);
  } while (0);
  err = agree(w->comm, err, w->path);
  if (err) {
    w->broken = true;
    return err;
  }
  s->rows++;
  return 0;
}

uint64_t ntw_weights_count(const ntw_weight_writer *w, size_t set) {
  return w && set < w->nsets ? w->sets[set].M : 0;
}

uint64_t ntw_weights_records(const ntw_weight_writer *w, size_t set) {
  return w && set < w->nsets ? w->sets[set].rows : 0;
}

int ntw_weights_close(ntw_weight_writer **wp, bool commit) {
  if (wp == NULL || *wp == NULL) return 0;
  ntw_weight_writer *w = *wp;
  *wp = NULL;
  MPI_Comm comm = MPI_COMM_NULL;
  int err = 0;
  bool broken = w->broken;
  char *path = w->path, *tmp = w->tmp_path;
  w->path = w->tmp_path = NULL;
  if (MPI_Comm_dup(w->comm, &comm) != MPI_SUCCESS) {
    release(w);
    err = NTW_ERR(NTW_ERR_MPI, "%s: MPI_Comm_dup failed closing weights", path);
    goto out;
  }
  if (release(w) != 0) err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot close weight file", path);
  err = agree(comm, err, path); /* also the barrier before the rename */
  if (err == 0 && broken && commit)
    err = NTW_ERR(NTW_ERR_IO, "%s: weights not saved after an earlier write error",
                  path);
  err = ntw_io_commit_tmp(comm, err, commit, tmp, path);
  MPI_Comm_free(&comm);
out:
  free(tmp);
  free(path);
  return err;
}

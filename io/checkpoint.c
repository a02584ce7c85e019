/* checkpoint.c - see checkpoint.h for the file layout.
 *
 * The file's layout is independent of the writer's decomposition. Per-neuron
 * arrays (state, ring, noise) and post-spike histories are small: every rank
 * sends its records to the rank that owns them in a *block* layout
 * (contiguous gid ranges), which writes one contiguous hyperslab; restoring
 * does the reverse. Synapses are most of a checkpoint and are streamed in
 * bounded rounds straight from the synapse stores (see syn_stream): no
 * record array of the whole store, and on one rank or with the block
 * partition no redistribution at all. So a checkpoint written on N ranks
 * with one partition restores on M ranks with another.
 *
 * Integrity: every dataset carries a position-keyed checksum attribute,
 * computed while streaming. It is kept instead of HDF5's chunked Fletcher32
 * filter: parallel HDF5 (1.10) writes filtered datasets only collectively,
 * redistributing whole chunks to owner ranks inside the library, while the
 * checksum costs one pass over data already in cache and does not depend on
 * how the rows are split. Contiguous datasets also let each rank write its
 * rows in place.
 *
 * This file reads the engine's internals (engine_impl.h), as DESIGN.md
 * allows io to do for saving state; it is compiled into the engine library.
 */
#include "io/checkpoint.h"

#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/ntw_error.h"
#include "engine_impl.h"

#ifndef NTW_VERSION
#define NTW_VERSION "unknown"
#endif

/* ------------------------------------------------------------------ */
/* helpers                                                              */

static int agree(MPI_Comm c, int err) {
  int e = err, lo;
  MPI_Allreduce(&e, &lo, 1, MPI_INT, MPI_MIN, c);
  if (lo == 0) return 0;
  if (err) return err;
  return NTW_ERR(NTW_ERR_REMOTE, "checkpoint failed on another rank");
}

static uint64_t hmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Position-keyed hash of elements [first, first+n) of a dataset: the sum
 * over ranks of their slices is the hash of the whole, whatever the split. */
static uint64_t slice_hash_strided(const void *buf, size_t n, size_t esz,
                                   size_t stride_bytes, uint64_t first) {
  uint64_t h = 0;
  const unsigned char *p = buf;
  for (size_t i = 0; i < n; i++) {
    uint64_t bits = 0;
    memcpy(&bits, p + i * stride_bytes, esz < 8 ? esz : 8);
    h += hmix(hmix(first + i) ^ bits);
  }
  return h;
}

static uint64_t slice_hash(const void *buf, size_t n, size_t esz, uint64_t first) {
  return slice_hash_strided(buf, n, esz, esz, first);
}

/* Send each fixed-size record to dest[i]; receive all records sent here. */
static int exchange(MPI_Comm c, const void *recs, size_t n, size_t sz,
                    const int *dest, void **out, size_t *nout) {
  int P;
  MPI_Comm_size(c, &P);
  int err = 0;
  int *sc = calloc((size_t)P, sizeof *sc), *rc = calloc((size_t)P, sizeof *rc);
  int *sd = calloc((size_t)P + 1, sizeof *sd), *rd = calloc((size_t)P + 1, sizeof *rd);
  char *sb = malloc(n * sz + 1), *rb = NULL;
  size_t *pos = calloc((size_t)P + 1, sizeof *pos);
  if (!sc || !rc || !sd || !rd || !sb || !pos) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory in checkpoint exchange");
    goto done;
  }
  for (size_t i = 0; i < n; i++) pos[dest[i] + 1]++;
  for (int r = 0; r < P; r++) pos[r + 1] += pos[r];
  for (int r = 0; r < P; r++) {
    if ((pos[r + 1] - pos[r]) * sz > (size_t)INT32_MAX || pos[r] * sz > (size_t)INT32_MAX) {
      err = NTW_ERR(NTW_ERR_NOTSUP, "checkpoint exchange over 2 GB per rank; use more ranks");
      goto done;
    }
    sc[r] = (int)((pos[r + 1] - pos[r]) * sz);
    sd[r] = (int)(pos[r] * sz);
  }
  for (size_t i = 0; i < n; i++)
    memcpy(sb + (pos[dest[i]]++) * sz, (const char *)recs + i * sz, sz);
  MPI_Alltoall(sc, 1, MPI_INT, rc, 1, MPI_INT, c);
  size_t tot = 0;
  for (int r = 0; r < P; r++) {
    if (tot > (size_t)INT32_MAX) {
      err = NTW_ERR(NTW_ERR_NOTSUP, "checkpoint exchange over 2 GB per rank; use more ranks");
      goto done;
    }
    rd[r] = (int)tot;
    tot += (size_t)rc[r];
  }
  rb = malloc(tot + 1);
  if (!rb) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory in checkpoint exchange");
    goto done;
  }
  MPI_Alltoallv(sb, sc, sd, MPI_BYTE, rb, rc, rd, MPI_BYTE, c);
  *out = rb;
  *nout = tot / sz;
  rb = NULL;
done:
  free(sc), free(rc), free(sd), free(rd), free(sb), free(rb), free(pos);
  return err;
}

/* Rows [lo, hi) of the block layout of n rows over P ranks. */
static void block_range(uint64_t n, int P, int r, uint64_t *lo, uint64_t *hi) {
  uint64_t q = n / (uint64_t)P, m = n % (uint64_t)P, ur = (uint64_t)r;
  *lo = ur * q + (ur < m ? ur : m);
  *hi = *lo + q + (ur < m ? 1 : 0);
}

static int block_owner(uint64_t n, int P, uint64_t row) {
  uint64_t q = n / (uint64_t)P, m = n % (uint64_t)P;
  if (row < m * (q + 1)) return (int)(row / (q + 1));
  return (int)(m + (row - m * (q + 1)) / (q ? q : 1));
}

typedef struct {
  MPI_Comm comm;
  int rank, P;
  hid_t file;
  const char *path;
  double t_phase; /* NTW_CKPT_PROFILE: start of the current phase, else < 0 */
  int wb_fd;      /* write: rank 0's descriptor of the file to start writeback, or -1 */
} ckio;

/* Write: starts the device writing what is in the page cache so far, without
 * waiting. The disk then works while the next rounds are computed, instead
 * of all at the final fsync (the kernel's own writeback starts only at
 * gigabytes of dirty pages or after 30 s). */
static void writeback(ckio *k) {
#ifdef SYNC_FILE_RANGE_WRITE
  if (k->wb_fd >= 0) sync_file_range(k->wb_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
  (void)k;
#endif
}

/* NTW_CKPT_PROFILE=1: rank 0 prints the wall time of each phase to stderr
 * (where a checkpoint's time goes; bench/checkpoint.sh reports the totals). */
static void phase(ckio *k, const char *what) {
  if (k->t_phase < 0) return;
  double now = MPI_Wtime();
  if (k->rank == 0 && what)
    fprintf(stderr, "ckpt %-28s %8.3f s\n", what, now - k->t_phase);
  k->t_phase = now;
}

/* Adds a phase measured in pieces (printed, not counted in the next one). */
static void phase_add(ckio *k, const char *what, double secs) {
  if (k->t_phase >= 0 && k->rank == 0) fprintf(stderr, "ckpt %-28s %8.3f s\n", what, secs);
}

static double phase_start(void) {
  const char *p = getenv("NTW_CKPT_PROFILE");
  return p && *p && strcmp(p, "0") ? MPI_Wtime() : -1.0;
}

/* Collective: create `name` under loc with dims [rows(, cols)], write this
 * rank's rows [first, first+nrows) from buf, whose consecutive elements lie
 * `mstride` elements apart (1 = contiguous; a field of an array of records
 * is written in place this way), attach the checksum. */
static int write_ds_strided(ckio *k, hid_t loc, const char *name, hid_t mtype,
                            hid_t ftype, size_t esz, uint64_t rows, uint64_t cols,
                            uint64_t first, uint64_t nrows, const void *buf,
                            uint64_t mstride) {
  int rankd = cols > 1 ? 2 : 1;
  hsize_t dims[2] = {rows, cols};
  hid_t fs = H5Screate_simple(rankd, dims, NULL);
  hid_t ds = H5Dcreate2(loc, name, ftype, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int err = 0;
  if (ds < 0) {
    H5Sclose(fs);
    return NTW_ERR(NTW_ERR_HDF5, "%s: cannot create dataset %s", k->path, name);
  }
  hsize_t start[2] = {first, 0}, count[2] = {nrows, cols};
  hid_t ms;
  if (mstride > 1) { /* 1-D only: the field of nrows records */
    hsize_t mdim = nrows ? (nrows - 1) * mstride + 1 : 1, m0 = 0, mst = mstride, mc = nrows;
    ms = H5Screate_simple(1, &mdim, NULL);
    if (nrows) H5Sselect_hyperslab(ms, H5S_SELECT_SET, &m0, &mst, &mc, NULL);
  } else {
    ms = H5Screate_simple(rankd, count, NULL);
  }
  if (nrows) {
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  } else {
    H5Sselect_none(fs);
    H5Sselect_none(ms);
  }
  hid_t x = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(x, H5FD_MPIO_COLLECTIVE);
  /* An empty contiguous dataset has no storage: nothing to write (the
   * same on every rank, since rows and cols are global). */
  if (rows * cols > 0 && H5Dwrite(ds, mtype, ms, fs, x, buf) < 0)
    { if (getenv("NTW_DEBUG")) H5Eprint2(H5E_DEFAULT, stderr); err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot write %s", k->path, name); }
  H5Pclose(x);
  H5Sclose(ms);
  uint64_t h = slice_hash_strided(buf, nrows * cols, esz, esz * (mstride > 1 ? mstride : 1),
                                  first * cols), hs;
  MPI_Allreduce(&h, &hs, 1, MPI_UINT64_T, MPI_SUM, k->comm);
  hid_t as = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(ds, "checksum", H5T_STD_U64LE, as, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Awrite(a, H5T_NATIVE_UINT64, &hs) < 0)
    err = err ? err : NTW_ERR(NTW_ERR_HDF5, "%s: cannot write checksum of %s", k->path, name);
  if (a >= 0) H5Aclose(a);
  H5Sclose(as);
  H5Sclose(fs);
  H5Dclose(ds);
  return agree(k->comm, err);
}

static int write_ds(ckio *k, hid_t loc, const char *name, hid_t mtype, hid_t ftype,
                    size_t esz, uint64_t rows, uint64_t cols, uint64_t first,
                    uint64_t nrows, const void *buf) {
  return write_ds_strided(k, loc, name, mtype, ftype, esz, rows, cols, first, nrows, buf, 1);
}

/* Collective: the number of rows (and columns) of a dataset. */
static int ds_dims(ckio *k, hid_t loc, const char *name, uint64_t *rows, uint64_t *cols) {
  int err = 0;
  hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
  if (ds < 0) return agree(k->comm, NTW_ERR(NTW_ERR_FORMAT, "%s: %s: missing (not a checkpoint of this network?)", k->path, name));
  hid_t fs = H5Dget_space(ds);
  hsize_t d[2] = {0, 1};
  int nd = H5Sget_simple_extent_dims(fs, d, NULL);
  if (nd < 1 || nd > 2) err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s: unexpected shape", k->path, name);
  *rows = d[0];
  *cols = nd == 2 ? d[1] : 1;
  H5Sclose(fs);
  H5Dclose(ds);
  return agree(k->comm, err);
}

/* Collective: read rows [first, first+nrows) and verify the checksum of the
 * whole dataset (the ranks' slices must cover it). */
static int read_ds(ckio *k, hid_t loc, const char *name, hid_t mtype, size_t esz,
                   uint64_t cols, uint64_t first, uint64_t nrows, void *buf) {
  int err = 0;
  hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
  if (ds < 0) return agree(k->comm, NTW_ERR(NTW_ERR_FORMAT, "%s: %s: missing", k->path, name));
  hid_t fs = H5Dget_space(ds);
  int rankd = H5Sget_simple_extent_ndims(fs);
  hsize_t start[2] = {first, 0}, count[2] = {nrows, cols};
  hid_t ms = H5Screate_simple(rankd, count, NULL);
  if (nrows) {
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  } else {
    H5Sselect_none(fs);
    H5Sselect_none(ms);
  }
  hid_t x = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(x, H5FD_MPIO_COLLECTIVE);
  if (H5Sget_simple_extent_npoints(fs) > 0 && H5Dread(ds, mtype, ms, fs, x, buf) < 0)
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s: cannot read (truncated file?)", k->path, name);
  H5Pclose(x);
  H5Sclose(ms);
  H5Sclose(fs);
  uint64_t want = 0;
  hid_t a = H5Aopen(ds, "checksum", H5P_DEFAULT);
  if (a < 0 || H5Aread(a, H5T_NATIVE_UINT64, &want) < 0)
    err = err ? err : NTW_ERR(NTW_ERR_FORMAT, "%s: %s: no checksum", k->path, name);
  if (a >= 0) H5Aclose(a);
  H5Dclose(ds);
  uint64_t h = err ? 0 : slice_hash(buf, nrows * cols, esz, first * cols), hs;
  MPI_Allreduce(&h, &hs, 1, MPI_UINT64_T, MPI_SUM, k->comm);
  err = agree(k->comm, err);
  if (err) return err;
  NTW_CHECK(hs == want, NTW_ERR_FORMAT, "%s: %s: checksum mismatch (file corrupted)",
            k->path, name);
  return 0;
}

static int attr_write(hid_t loc, const char *name, hid_t mtype, hid_t ftype, const void *v) {
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
  int ok = a >= 0 && H5Awrite(a, mtype, v) >= 0;
  if (a >= 0) H5Aclose(a);
  H5Sclose(s);
  return ok ? 0 : -1;
}

static int attr_write_str(hid_t loc, const char *name, const char *v) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(v) + 1);
  int rc = attr_write(loc, name, t, t, v);
  H5Tclose(t);
  return rc;
}

static int attr_read(hid_t loc, const char *name, hid_t mtype, void *v) {
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return -1;
  int ok = H5Aread(a, mtype, v) >= 0;
  H5Aclose(a);
  return ok ? 0 : -1;
}

static int attr_read_str(hid_t loc, const char *name, char *buf, size_t cap) {
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return -1;
  hid_t t = H5Aget_type(a);
  int ok = 0;
  if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
    size_t sz = H5Tget_size(t);
    char *tmp = calloc(sz + 1, 1);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, sz);
    if (tmp && H5Aread(a, mt, tmp) >= 0) {
      snprintf(buf, cap, "%s", tmp);
      ok = 1;
    }
    H5Tclose(mt);
    free(tmp);
  }
  H5Tclose(t);
  H5Aclose(a);
  return ok ? 0 : -1;
}

static hid_t group(hid_t loc, const char *name, bool create) {
  return create ? H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                : H5Gopen2(loc, name, H5P_DEFAULT);
}

/* ------------------------------------------------------------------ */
/* records                                                              */

typedef struct {
  uint64_t gid;
  uint32_t idx, reads;
  int64_t t;
  double K;
} post_rec;

static int cmp_post(const void *a, const void *b) {
  const post_rec *x = a, *y = b;
  if (x->gid != y->gid) return x->gid < y->gid ? -1 : 1;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

static int cmp_u64first(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* ------------------------------------------------------------------ */
/* synapse streams                                                      */

/* Records per round of a synapse stream: 7 MB of column buffers on write,
 * 11 MB on restore, allocated once per projection and reused by every
 * round (a fresh large buffer costs a page fault per page, which is
 * expensive in VMs). NTW_CKPT_ROUND_RECORDS overrides it, so that tests run
 * many rounds on a small network. */
static uint64_t syn_round(void) {
  const char *v = getenv("NTW_CKPT_ROUND_RECORDS");
  uint64_t n = v ? strtoull(v, NULL, 10) : 0;
  return n ? n : UINT64_C(1) << 18;
}

/* Below this many records per contiguous run of its rows (on some rank),
 * writing rows in place would be one small write per run: the rounds are
 * exchanged between ranks instead. */
#define SYN_MIN_RUN 4096

typedef struct {
  void *p;
  size_t esz; /* 8 or 4 */
  MPI_Datatype mt;
} col;

/* The synapses of one plastic store in file order, one round at a time.
 *
 * All synapses of a target live on the target's rank, so where each lies in
 * the file is known without moving any: the synapses of the population's
 * target g are rows [foff[g], foff[g+1]) of the (target, source,
 * occurrence)-sorted list, foff being the prefix sum of the global
 * in-degrees (one Allreduce). Each rank puts its CSR-by-source store into
 * that order a round of consecutive local targets at a time, by a counting
 * sort on the target (sources come in CSR order and a row's synapses in
 * target order, so each target's synapses come out in (source, occurrence)
 * order). There is no record array of the whole store.
 *
 * Direct rounds (one rank, the block partition: long runs of rows per rank):
 * each rank writes or reads exactly its own rows, the runs of a round as one
 * selection. Exchanged rounds (round_robin: every target a separate run):
 * a round is a range of targets [g0, g1) of the population, the same on all
 * ranks; its rows are split evenly over the ranks, each of which writes or
 * reads one contiguous slice, and one Alltoallv per column moves records
 * between the rank of their target and the rank of their slice. */
typedef struct {
  const ntw_engine *e;
  const syn_store *st;
  MPI_Comm comm;
  int P, rank;
  bool write, xchg;
  uint64_t tlo, tn;   /* local index range of the target population */
  uint64_t tfirst;    /* its first gid */
  uint64_t size;      /* its size */
  uint64_t *cnt;      /* in-degree of each local target [tn] */
  uint64_t *foff;     /* first row of each target of the population [size + 1] */
  uint64_t *cur;      /* per source: its first synapse not streamed yet [src_n] */
  uint64_t *slot;     /* per target of the round: its first slot */
  uint64_t total;     /* rows in the file: synapses of the projection */
  uint64_t cap;       /* slots per round */
  int rounds;         /* the same on every rank */
  uint64_t a, b, n;   /* the round: local targets [a, b) (from tlo), n records */
  uint64_t g0, g1;    /* exchanged: the round's targets of the population */
  uint64_t w0, w1;    /* exchanged: this rank's slice of the file's rows */
  /* the round's records in slot order; write: tgt, src, occ, w, dly;
   * restore: src, occ and idx (the synapse's index in the store) */
  uint64_t *tgt, *src, *idx;
  uint32_t *occ;
  float *w, *dly;
  /* exchanged: the slice in row order (x) and by rank (y) */
  col x[5], y[5];
  int ncol;
  int *sc, *sd, *rc, *rd; /* Alltoallv counts and displacements */
  uint64_t *qcur;         /* per rank: records taken so far */
  bool bad_tgt;           /* restore: a row of the slice has the wrong target */
} syn_stream;

static void stream_free(syn_stream *s) {
  free(s->cnt), free(s->foff), free(s->cur), free(s->slot);
  free(s->tgt), free(s->src), free(s->idx), free(s->occ), free(s->w), free(s->dly);
  for (int c = 0; c < 5; c++) free(s->x[c].p), free(s->y[c].p);
  free(s->sc), free(s->sd), free(s->rc), free(s->rd), free(s->qcur);
  memset(s, 0, sizeof *s);
}

/* Direct rounds: local targets [a, b) of the round starting at a, as many
 * as fit in cap slots, at least one. */
static uint64_t round_end(const syn_stream *s, uint64_t a, uint64_t *n) {
  uint64_t b = a, m = 0;
  while (b < s->tn && (b == a || m + s->cnt[b] <= s->cap)) m += s->cnt[b++];
  *n = m;
  return b;
}

/* Exchanged rounds: the targets of the population [g0, end) of the round
 * starting at g0, as many as fit in cap rows, at least one. */
static uint64_t xround_end(const syn_stream *s, uint64_t g0) {
  uint64_t g = g0 < s->size ? g0 + 1 : s->size;
  while (g < s->size && s->foff[g + 1] - s->foff[g0] <= s->cap) g++;
  return g;
}

/* Collective. In-degrees, file rows, the kind of rounds and the buffers of
 * store st. */
static int stream_init(ckio *k, const ntw_engine *e, const syn_store *st, bool write,
                       syn_stream *s) {
  memset(s, 0, sizeof *s);
  const ntw_proj_cfg *pr = &e->cfg->projs[st->proj];
  const ntw_pop_cfg *tp = &e->cfg->pops[pr->target];
  const pop_block *tb = &e->blocks[pr->target];
  s->e = e, s->st = st, s->write = write, s->comm = k->comm, s->P = k->P, s->rank = k->rank;
  s->tlo = tb->lo, s->tn = tb->n, s->tfirst = tp->first_gid, s->size = tp->size;
  s->cnt = calloc(s->tn + 1, sizeof *s->cnt);
  s->foff = calloc(s->size + 1, sizeof *s->foff);
  s->cur = malloc((st->src_n + 1) * sizeof *s->cur);
  s->slot = malloc((s->tn + 1) * sizeof *s->slot);
  int err = s->cnt && s->foff && s->cur && s->slot ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory");
  if (!err && s->size > (uint64_t)INT32_MAX)
    err = NTW_ERR(NTW_ERR_NOTSUP, "%s: checkpoints of populations over 2^31 neurons", k->path);
  if (!err) {
    for (uint64_t j = 0; j < st->nsyn; j++) s->cnt[st->tgt[j] - s->tlo]++;
    for (uint64_t t = 0; t < s->tn; t++) s->foff[e->gids[s->tlo + t] - s->tfirst] = s->cnt[t];
    for (uint64_t i = 0; i < st->src_n; i++) s->cur[i] = st->row[i];
  }
  err = agree(k->comm, err);
  if (err) {
    stream_free(s);
    return err;
  }
  /* each target's in-degree is non-zero on its owner only */
  MPI_Allreduce(MPI_IN_PLACE, s->foff, (int)s->size, MPI_UINT64_T, MPI_SUM, k->comm);
  uint64_t run = 0, maxc = 0;
  for (uint64_t g = 0; g < s->size; g++) {
    const uint64_t c = s->foff[g];
    s->foff[g] = run;
    run += c;
    if (c > maxc) maxc = c;
  }
  s->foff[s->size] = s->total = run;
  s->cap = maxc > syn_round() ? maxc : syn_round();
  /* runs of adjacent rows of this rank: one, or long ones, are written in
   * place; otherwise every rank exchanges */
  uint64_t runs = 0, end = UINT64_MAX;
  for (uint64_t t = 0; t < s->tn; t++) {
    if (!s->cnt[t]) continue;
    const uint64_t p = s->foff[e->gids[s->tlo + t] - s->tfirst];
    runs += p != end;
    end = p + s->cnt[t];
  }
  int direct = runs <= 1 || st->nsyn / runs >= SYN_MIN_RUN, all;
  MPI_Allreduce(&direct, &all, 1, MPI_INT, MPI_MIN, k->comm);
  s->xchg = !all;
  int r = 0;
  if (s->xchg) {
    for (uint64_t g = 0; g < s->size; r++) g = xround_end(s, g);
    s->rounds = r;
  } else {
    for (uint64_t a = 0, m; a < s->tn; r++) a = round_end(s, a, &m);
    MPI_Allreduce(&r, &s->rounds, 1, MPI_INT, MPI_MAX, k->comm);
  }
  const size_t c1 = s->cap + 1;
  s->src = malloc(c1 * sizeof *s->src);
  s->occ = malloc(c1 * sizeof *s->occ);
  bool ok = s->src && s->occ;
  if (write) {
    s->tgt = malloc(c1 * sizeof *s->tgt);
    s->w = malloc(c1 * sizeof *s->w);
    s->dly = malloc(c1 * sizeof *s->dly);
    ok = ok && s->tgt && s->w && s->dly;
  } else {
    s->idx = malloc(c1 * sizeof *s->idx);
    ok = ok && s->idx;
  }
  if (s->xchg) {
    /* target, source, occurrence, weight (, delay_ms) */
    static const size_t esz[5] = {8, 8, 4, 4, 4};
    const MPI_Datatype mt[5] = {MPI_UINT64_T, MPI_UINT64_T, MPI_UINT32_T, MPI_FLOAT, MPI_FLOAT};
    s->ncol = write ? 5 : 4;
    const size_t slice = s->cap / (uint64_t)s->P + 2;
    for (int c = 0; c < s->ncol; c++) {
      s->x[c] = (col){malloc(slice * esz[c]), esz[c], mt[c]};
      s->y[c] = (col){malloc(slice * esz[c]), esz[c], mt[c]};
      ok = ok && s->x[c].p && s->y[c].p;
    }
    const size_t P = (size_t)s->P;
    s->sc = malloc(P * sizeof *s->sc), s->sd = malloc(P * sizeof *s->sd);
    s->rc = malloc(P * sizeof *s->rc), s->rd = malloc(P * sizeof *s->rd);
    s->qcur = malloc(P * sizeof *s->qcur);
    ok = ok && s->sc && s->sd && s->rc && s->rd && s->qcur;
  }
  err = agree(k->comm, ok ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory for checkpoint buffers"));
  if (err) stream_free(s);
  return err;
}

/* The next round's records in slot order (none once the rank is done). */
static void stream_next(syn_stream *s) {
  const ntw_engine *e = s->e;
  const syn_store *st = s->st;
  const uint64_t a = s->b;
  uint64_t b = a, n = 0;
  if (s->xchg) {
    s->g0 = s->g1;
    s->g1 = xround_end(s, s->g0);
    while (b < s->tn && e->gids[s->tlo + b] - s->tfirst < s->g1) n += s->cnt[b++];
    uint64_t lo, hi;
    const uint64_t R0 = s->foff[s->g0];
    block_range(s->foff[s->g1] - R0, s->P, s->rank, &lo, &hi);
    s->w0 = R0 + lo, s->w1 = R0 + hi;
  } else {
    b = round_end(s, a, &n);
  }
  s->a = a, s->b = b, s->n = n;
  if (a == b) return;
  uint64_t q = 0;
  for (uint64_t t = a; t < b; t++) {
    s->slot[t - a] = q;
    q += s->cnt[t];
  }
  /* counting sort on the target: slot[t - a] is the next slot of target t */
  const uint32_t lo = (uint32_t)(s->tlo + a), hi = (uint32_t)(s->tlo + b);
  const uint32_t *restrict tgt = st->tgt;
  uint64_t *restrict slot = s->slot, *restrict src = s->src;
  uint32_t *restrict occ = s->occ;
  for (uint64_t i = 0; i < st->src_n; i++) {
    uint64_t j = s->cur[i];
    const uint64_t end = st->row[i + 1];
    if (j == end || tgt[j] >= hi) continue;
    /* equal targets are adjacent in a row and never split by a round, so
     * the occurrence restarts at 0 here */
    uint32_t prev = UINT32_MAX, o = 0;
    for (; j < end && tgt[j] < hi; j++) {
      const uint32_t t = tgt[j];
      o = t == prev ? o + 1 : 0;
      prev = t;
      const uint64_t p = slot[t - lo]++;
      src[p] = st->src_first + i;
      occ[p] = o;
      if (s->write) {
        s->w[p] = st->w[j];
        s->dly[p] = (float)((st->d[j] & NTW_DELAY_MASK) * e->dt);
      } else {
        s->idx[p] = j;
      }
    }
    s->cur[i] = j;
  }
  for (uint64_t t = a; t < b; t++) {
    slot[t - a] -= s->cnt[t];
    if (s->write && !s->xchg) /* exchanged: the slice's writer fills it */
      for (uint64_t p = slot[t - a]; p < slot[t - a] + s->cnt[t]; p++)
        s->tgt[p] = e->gids[s->tlo + t];
  }
}

/* Direct rounds: the round's rows as a selection of fs (runs of adjacent
 * targets merged), or none. */
static int stream_select(const syn_stream *s, hid_t fs) {
  if (H5Sselect_none(fs) < 0) return -1;
  hsize_t start = 0, len = 0;
  for (uint64_t t = s->a; t < s->b; t++) {
    if (!s->cnt[t]) continue;
    const hsize_t p = s->foff[s->e->gids[s->tlo + t] - s->tfirst];
    if (len && p == start + len) {
      len += s->cnt[t];
      continue;
    }
    if (len && H5Sselect_hyperslab(fs, H5S_SELECT_OR, &start, NULL, &len, NULL) < 0) return -1;
    start = p, len = s->cnt[t];
  }
  if (len && H5Sselect_hyperslab(fs, H5S_SELECT_OR, &start, NULL, &len, NULL) < 0) return -1;
  return 0;
}

/* Adds element i of columns c[0..nc) at file row pos to their checksums:
 * the position-keyed hash of slice_hash, the position's hash computed once
 * for all columns. */
static inline void hash_row(const col *c, int nc, uint64_t pos, uint64_t i, uint64_t *h) {
  const uint64_t hp = hmix(pos);
  for (int k = 0; k < nc; k++) {
    const uint64_t bits = c[k].esz == 8 ? ((const uint64_t *)c[k].p)[i]
                                        : ((const uint32_t *)c[k].p)[i];
    h[k] += hmix(hp ^ bits);
  }
}

/* Direct rounds: checksums of the round's records in slot order. */
static void stream_hash(const syn_stream *s, const col *c, int nc, uint64_t *h) {
  for (uint64_t t = s->a; t < s->b; t++) {
    const uint64_t p0 = s->foff[s->e->gids[s->tlo + t] - s->tfirst], q0 = s->slot[t - s->a];
    for (uint64_t q = q0; q < q0 + s->cnt[t]; q++) hash_row(c, nc, p0 + (q - q0), q, h);
  }
}

/* Exchanged rounds: how many of this rank's records of the round lie in
 * each rank's slice (the slices follow the ranks, so they are consecutive
 * runs of this rank's slots). */
static void xchg_mine(const syn_stream *s, int *cnt, int *dis) {
  const uint64_t R0 = s->foff[s->g0], R = s->foff[s->g1] - R0;
  memset(cnt, 0, (size_t)s->P * sizeof *cnt);
  for (uint64_t t = s->a; t < s->b; t++) {
    uint64_t row = s->foff[s->e->gids[s->tlo + t] - s->tfirst];
    const uint64_t end = row + s->cnt[t];
    while (row < end) {
      const int q = block_owner(R, s->P, row - R0);
      uint64_t qlo, qhi;
      block_range(R, s->P, q, &qlo, &qhi);
      const uint64_t z = end < R0 + qhi ? end : R0 + qhi;
      cnt[q] += (int)(z - row);
      row = z;
    }
  }
  for (int q = 0, d = 0; q < s->P; q++) dis[q] = d, d += cnt[q];
}

enum { WALK_COUNT, WALK_MERGE, WALK_PACK };

/* Exchanged rounds: the pieces of this rank's slice [w0, w1), one per
 * target, in row order; each belongs to the target's rank q. COUNT adds
 * their sizes to cnt[q] (and sets dis); MERGE copies them from y (received
 * by rank, at dis[q]) to x (row order); PACK the other way. The target
 * column (0) is known here from the piece, so it never travels: MERGE
 * fills it, PACK checks it. */
static void xchg_walk(syn_stream *s, int how, int *cnt, int *dis) {
  if (how == WALK_COUNT) memset(cnt, 0, (size_t)s->P * sizeof *cnt);
  else memset(s->qcur, 0, (size_t)s->P * sizeof *s->qcur);
  /* first target with rows at or after w0 */
  uint64_t lo = s->g0, hi = s->g1;
  while (lo < hi) {
    const uint64_t m = lo + (hi - lo) / 2;
    if (s->foff[m + 1] <= s->w0) lo = m + 1;
    else hi = m;
  }
  for (uint64_t g = lo; g < s->g1 && s->foff[g] < s->w1; g++) {
    const uint64_t r0 = s->foff[g] > s->w0 ? s->foff[g] : s->w0;
    const uint64_t r1 = s->foff[g + 1] < s->w1 ? s->foff[g + 1] : s->w1;
    if (r0 >= r1) continue;
    const int q = ntw_part_owner(s->e->part, s->tfirst + g);
    if (how == WALK_COUNT) {
      cnt[q] += (int)(r1 - r0);
      continue;
    }
    const uint64_t at = (uint64_t)dis[q] + s->qcur[q];
    uint64_t *tx = (uint64_t *)s->x[0].p + (r0 - s->w0);
    for (uint64_t i = 0; i < r1 - r0; i++) {
      if (how == WALK_MERGE) tx[i] = s->tfirst + g;
      else s->bad_tgt |= tx[i] != s->tfirst + g;
    }
    for (int c = 1; c < s->ncol; c++) {
      char *xp = (char *)s->x[c].p + (r0 - s->w0) * s->x[c].esz;
      char *yp = (char *)s->y[c].p + at * s->y[c].esz;
      const size_t nb = (r1 - r0) * s->x[c].esz;
      if (how == WALK_MERGE) memcpy(xp, yp, nb);
      else memcpy(yp, xp, nb);
    }
    s->qcur[q] += r1 - r0;
  }
  if (how == WALK_COUNT)
    for (int q = 0, d = 0; q < s->P; q++) dis[q] = d, d += cnt[q];
}

/* Exchanged rounds: one Alltoallv per column but the target's. */
static void xchg_cols(const syn_stream *s, int nc, const col *from, const int *sc,
                      const int *sd, const col *to, const int *rc, const int *rd) {
  for (int c = 1; c < nc; c++)
    MPI_Alltoallv(from[c].p, sc, sd, from[c].mt, to[c].p, rc, rd, to[c].mt, s->comm);
}

/* Independent transfers: every rank writes or reads whole runs of its own
 * rows (measured: collective MPI-IO with two-phase aggregation was 3x
 * slower on one node, and each rank already has contiguous slices). */
static hid_t stream_xfer(void) {
  hid_t x = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(x, H5FD_MPIO_INDEPENDENT);
  return x;
}

static int ring_width(const ntw_engine *e) {
  return (int)((e->ring_mask + 1) * e->nports);
}

/* ------------------------------------------------------------------ */
/* write                                                                */

static int write_neurons(ckio *k, ntw_engine *e, hid_t gn) {
  const ntw_config *cfg = e->cfg;
  for (size_t b = 0; b < e->nblocks; b++) {
    const pop_block *pb = &e->blocks[b];
    const ntw_pop_cfg *pc = &cfg->pops[pb->pop];
    const size_t nv = pb->ops->nstate_vars, rs = 8 * (1 + nv);
    hid_t gp = group(gn, pc->name, true);
    char *recs = malloc(pb->n * rs + 1);
    int *dest = malloc((pb->n + 1) * sizeof *dest);
    double *col = malloc((pb->n + 1) * sizeof *col);
    int err = recs && dest && col ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory");
    for (size_t v = 0; !err && v < nv; v++) {
      ntw_model_state_get(pb->ops, pb->state, v, pb->n, col);
      for (uint64_t i = 0; i < pb->n; i++) memcpy(recs + i * rs + 8 * (1 + v), &col[i], 8);
    }
    for (uint64_t i = 0; !err && i < pb->n; i++) {
      uint64_t g = e->gids[pb->lo + i];
      memcpy(recs + i * rs, &g, 8);
      dest[i] = block_owner(e->n_global, k->P, g);
    }
    err = agree(k->comm, err);
    void *in = NULL;
    size_t nin = 0;
    if (!err) err = exchange(k->comm, recs, err ? 0 : pb->n, rs, dest, &in, &nin);
    free(recs), free(dest), free(col);
    if (!err) {
      qsort(in, nin, rs, cmp_u64first);
      uint64_t lo, hi;
      block_range(e->n_global, k->P, k->rank, &lo, &hi);
      /* this rank's rows of the population: [max(lo, first), min(hi, end)) */
      uint64_t a = lo > pc->first_gid ? lo : pc->first_gid;
      uint64_t z = hi < pc->first_gid + pc->size ? hi : pc->first_gid + pc->size;
      uint64_t nr = z > a ? z - a : 0;
      double *vals = malloc((nr + 1) * sizeof *vals);
      err = vals ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory");
      err = agree(k->comm, err);
      for (size_t v = 0; !err && v < nv; v++) {
        for (uint64_t i = 0; i < nr; i++) memcpy(&vals[i], (char *)in + i * rs + 8 * (1 + v), 8);
        err = write_ds(k, gp, pb->ops->state_vars[v].name, H5T_NATIVE_DOUBLE,
                       H5T_IEEE_F64LE, 8, pc->size, 1, a - pc->first_gid, nr, vals);
      }
      free(vals);
    }
    free(in);
    H5Gclose(gp);
    NTW_TRY(err);
  }
  return 0;
}

/* One double per neuron of population `pop`, given for the local neurons
 * lo..lo+n of that population: written indexed by node id. */
static int write_popvec(ckio *k, ntw_engine *e, hid_t loc, const char *name,
                        int pop, uint64_t lo, uint64_t n, const double *v) {
  const ntw_pop_cfg *pc = &e->cfg->pops[pop];
  const size_t rs = 16;
  char *recs = malloc(n * rs + 1);
  int *dest = malloc((n + 1) * sizeof *dest);
  int err = agree(k->comm, recs && dest ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
  for (uint64_t i = 0; !err && i < n; i++) {
    uint64_t g = e->gids[lo + i];
    memcpy(recs + i * rs, &g, 8);
    memcpy(recs + i * rs + 8, &v[i], 8);
    dest[i] = block_owner(pc->size, k->P, g - pc->first_gid);
  }
  void *in = NULL;
  size_t nin = 0;
  if (!err) err = exchange(k->comm, recs, n, rs, dest, &in, &nin);
  free(recs), free(dest);
  if (!err) {
    qsort(in, nin, rs, cmp_u64first);
    uint64_t a, z;
    block_range(pc->size, k->P, k->rank, &a, &z);
    double *vals = malloc((nin + 1) * sizeof *vals);
    err = agree(k->comm, vals ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
    for (size_t i = 0; !err && i < nin; i++) memcpy(&vals[i], (char *)in + i * rs + 8, 8);
    if (!err) err = write_ds(k, loc, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 8, pc->size, 1, a, z - a, vals);
    free(vals);
  }
  free(in);
  return err;
}

/* The inverse: the values of the local neurons lo..lo+n of `pop`. */
static int to_owners(ckio *k, ntw_engine *e, const void *recs, size_t n, size_t sz,
                     void **out, size_t *nout);
static int read_popvec(ckio *k, ntw_engine *e, hid_t loc, const char *name,
                       int pop, uint64_t lo, uint64_t n, double *v) {
  const ntw_pop_cfg *pc = &e->cfg->pops[pop];
  uint64_t rows, cols, a, z;
  NTW_TRY(ds_dims(k, loc, name, &rows, &cols));
  NTW_TRY(agree(k->comm, rows != pc->size ? NTW_ERR(NTW_ERR_FORMAT, "%s: %s: %" PRIu64 " values for population '%s' of %" PRIu64 " (config changed?)", k->path, name, rows, pc->name, pc->size) : 0));
  block_range(pc->size, k->P, k->rank, &a, &z);
  const size_t rs = 16, nr = z - a;
  double *buf = malloc((nr + 1) * sizeof *buf);
  char *recs = malloc(nr * rs + 1);
  int err = agree(k->comm, buf && recs ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
  if (!err) err = read_ds(k, loc, name, H5T_NATIVE_DOUBLE, 8, 1, a, nr, buf);
  for (size_t i = 0; !err && i < nr; i++) {
    uint64_t g = pc->first_gid + a + i;
    memcpy(recs + i * rs, &g, 8);
    memcpy(recs + i * rs + 8, &buf[i], 8);
  }
  void *in = NULL;
  size_t nin = 0;
  if (!err) err = to_owners(k, e, recs, nr, rs, &in, &nin);
  free(buf), free(recs);
  if (!err) {
    qsort(in, nin, rs, cmp_u64first);
    err = agree(k->comm, nin != n ? NTW_ERR(NTW_ERR_INTERNAL, "%s: %s: redistribution mismatch", k->path, name) : 0);
    for (size_t i = 0; !err && i < nin; i++) memcpy(&v[i], (char *)in + i * rs + 8, 8);
  }
  free(in);
  return err;
}

/* Noise (OU) currents: the last value per target of each noise stimulus. */
static int noise_io(ckio *k, ntw_engine *e, bool write) {
  if (e->nnoise == 0) return 0;
  hid_t g = group(k->file, "stimuli", write);
  int err = agree(k->comm, g < 0 ? NTW_ERR(NTW_ERR_FORMAT, "%s: /stimuli missing (config changed?)", k->path) : 0);
  for (size_t q = 0; !err && q < e->nnoise; q++) {
    const noise_dev *nd = &e->noise[q];
    char name[48];
    snprintf(name, sizeof name, "noise_%d_I", nd->stim);
    int pop = e->cfg->stims[nd->stim].target;
    err = write ? write_popvec(k, e, g, name, pop, nd->lo, nd->n, nd->I)
                : read_popvec(k, e, g, name, pop, nd->lo, nd->n, nd->I);
  }
  if (g >= 0) H5Gclose(g);
  return err;
}

/* Row i of the ring (local neuron i, W doubles: port-major, then the steps
 * step .. step+R-1) from or into rows[i * W]. The ring is slot-major, so
 * the loops run along it (rows are a few hundred bytes: strided rows cost
 * less than a strided ring). */
static void ring_rows(ntw_engine *e, double *rows, bool get) {
  const int W = ring_width(e);
  const int64_t R = e->ring_mask + 1;
  const uint64_t nl = e->n_local;
  for (int p = 0; p < e->nports; p++)
    for (int64_t q = 0; q < R; q++) {
      double *ring = e->ring + (size_t)p * e->ring_port + (size_t)((e->step + q) & e->ring_mask) * nl;
      double *col = rows + p * R + q;
      if (get)
        for (uint64_t i = 0; i < nl; i++) col[i * (size_t)W] = ring[i];
      else
        for (uint64_t i = 0; i < nl; i++) ring[i] = col[i * (size_t)W];
    }
}

static int write_ring(ckio *k, ntw_engine *e) {
  const int W = ring_width(e);
  const size_t rs = 8 * (1 + (size_t)W);
  const uint64_t nl = e->n_local;
  uint64_t lo, hi;
  block_range(e->n_global, k->P, k->rank, &lo, &hi);
  double *rows = malloc(((nl > hi - lo ? nl : hi - lo) * (size_t)W + 1) * sizeof *rows);
  int err = agree(k->comm, rows ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
  if (err) return err;
  ring_rows(e, rows, true);
  if (k->P > 1) { /* to the rank of the row in the block layout */
    char *recs = malloc(nl * rs + 1);
    int *dest = malloc((nl + 1) * sizeof *dest);
    err = recs && dest ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; !err && i < nl; i++) {
      memcpy(recs + i * rs, &e->gids[i], 8);
      memcpy(recs + i * rs + 8, rows + i * W, 8 * (size_t)W);
      dest[i] = block_owner(e->n_global, k->P, e->gids[i]);
    }
    err = agree(k->comm, err);
    void *in = NULL;
    size_t nin = 0;
    if (!err) err = exchange(k->comm, recs, nl, rs, dest, &in, &nin);
    free(recs), free(dest);
    /* each gid once: its row is gid - lo */
    for (size_t i = 0; !err && i < nin; i++) {
      uint64_t g;
      memcpy(&g, (char *)in + i * rs, 8);
      memcpy(rows + (g - lo) * W, (char *)in + i * rs + 8, 8 * (size_t)W);
    }
    free(in);
  }
  if (!err)
    err = write_ds(k, k->file, "ring", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 8, e->n_global,
                   (uint64_t)W, lo, hi - lo, rows);
  free(rows);
  return err;
}

/* Collective: write one field of the sorted records as a 1-D dataset,
 * gathered into `scratch` (n * 8 bytes, reused for every column: fresh
 * large buffers cost a page fault per page). */
#define WRITE_COL(k, g, name, ctype, field, mtype, ftype, r, n, first, total, err, scratch) \
  WRITE_COL_ORD(k, g, name, ctype, field, mtype, ftype, r, n, first, total, err, scratch, NULL)
/* The same through a permutation: column element i is r[ord[i]].field. */
#define WRITE_COL_ORD(k, g, name, ctype, field, mtype, ftype, r, n, first, total, err, scratch, ord) \
  do {                                                                         \
    ctype *col_ = (ctype *)(scratch);                                          \
    const uint64_t *ord_ = (ord);                                              \
    for (size_t i_ = 0; i_ < (n); i_++) col_[i_] = (r)[ord_ ? ord_[i_] : i_].field; \
    (err) = write_ds((k), (g), (name), (mtype), (ftype), sizeof(ctype),        \
                     (total), 1, (first), (n), col_);                          \
  } while (0)

static int write_store(ckio *k, ntw_engine *e, const syn_store *st, hid_t gs) {
  char name[32];
  snprintf(name, sizeof name, "%d", st->proj);
  hid_t g = group(gs, name, true);
  const ntw_config *cfg = e->cfg;
  const ntw_proj_cfg *pr = &cfg->projs[st->proj];
  attr_write_str(g, "synapse_model", pr->syn_model);
  attr_write_str(g, "source_population", cfg->pops[pr->source].name);
  attr_write_str(g, "target_population", cfg->pops[pr->target].name);
  phase(k, NULL);
  syn_stream s;
  int err = stream_init(k, e, st, true, &s);
  phase(k, "syn: in-degrees, offsets");
  if (!err) {
    enum { NC = 5 };
    static const char *const cn[NC] = {"target", "source", "occurrence", "weight", "delay_ms"};
    const hid_t mt[NC] = {H5T_NATIVE_UINT64, H5T_NATIVE_UINT64, H5T_NATIVE_UINT32,
                          H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT};
    const hid_t ft[NC] = {H5T_STD_U64LE, H5T_STD_U64LE, H5T_STD_U32LE, H5T_IEEE_F32LE,
                          H5T_IEEE_F32LE};
    /* the round's records in slot order */
    const col rec[NC] = {{s.tgt, 8, MPI_UINT64_T}, {s.src, 8, MPI_UINT64_T},
                         {s.occ, 4, MPI_UINT32_T}, {s.w, 4, MPI_FLOAT}, {s.dly, 4, MPI_FLOAT}};
    hid_t ds[NC];
    hsize_t dim = s.total;
    hid_t fs = H5Screate_simple(1, &dim, NULL);
    for (int c = 0; c < NC; c++) {
      ds[c] = H5Dcreate2(g, cn[c], ft[c], fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      if (ds[c] < 0 && !err) err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot create dataset /synapses/%s/%s", k->path, name, cn[c]);
    }
    err = agree(k->comm, err);
    hid_t x = stream_xfer();
    uint64_t h[NC] = {0};
    double tf = 0, tx = 0, tw = 0, th = 0, t0;
    /* every rank takes part in every round's exchange, even after an error
     * (agreed on at the end) */
    for (int r = 0; r < s.rounds; r++) {
      t0 = MPI_Wtime();
      stream_next(&s);
      tf += MPI_Wtime() - t0, t0 = MPI_Wtime();
      /* what this rank writes: its slots (direct) or its slice (exchanged) */
      const col *out = rec;
      hsize_t n = s.n;
      if (s.xchg) {
        xchg_mine(&s, s.sc, s.sd);
        xchg_walk(&s, WALK_COUNT, s.rc, s.rd);
        xchg_cols(&s, NC, rec, s.sc, s.sd, s.y, s.rc, s.rd);
        xchg_walk(&s, WALK_MERGE, s.rc, s.rd);
        out = s.x, n = s.w1 - s.w0;
        hsize_t start = s.w0;
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &n, NULL);
      } else if (!err && stream_select(&s, fs) < 0) {
        err = NTW_ERR(NTW_ERR_HDF5, "%s: /synapses/%s: cannot select rows", k->path, name);
      }
      tx += MPI_Wtime() - t0, t0 = MPI_Wtime();
      hid_t ms = H5Screate_simple(1, &n, NULL);
      for (int c = 0; !err && n && c < NC; c++)
        if (H5Dwrite(ds[c], mt[c], ms, fs, x, out[c].p) < 0)
          err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot write /synapses/%s/%s", k->path, name, cn[c]);
      H5Sclose(ms);
      tw += MPI_Wtime() - t0, t0 = MPI_Wtime();
      if (s.xchg)
        for (uint64_t i = 0; i < n; i++) hash_row(out, NC, s.w0 + i, i, h);
      else
        stream_hash(&s, rec, NC, h);
      th += MPI_Wtime() - t0;
      writeback(k);
    }
    err = agree(k->comm, err);
    H5Pclose(x);
    H5Sclose(fs);
    phase_add(k, s.xchg ? "syn: transpose (exchanged)" : "syn: transpose (direct)", tf);
    phase_add(k, "syn: select / exchange", tx);
    phase_add(k, "syn: H5Dwrite", tw);
    phase_add(k, "syn: checksums", th);
    if (!err) MPI_Allreduce(MPI_IN_PLACE, h, NC, MPI_UINT64_T, MPI_SUM, k->comm);
    for (int c = 0; c < NC; c++) {
      if (!err && ds[c] >= 0 && attr_write(ds[c], "checksum", H5T_NATIVE_UINT64, H5T_STD_U64LE, &h[c]) < 0)
        err = NTW_ERR(NTW_ERR_HDF5, "%s: cannot write checksum of /synapses/%s/%s", k->path, name, cn[c]);
      if (ds[c] >= 0) H5Dclose(ds[c]);
    }
    err = agree(k->comm, err);
  }
  stream_free(&s);
  phase(k, NULL);
  /* Per-source state: only ranks with synapses from a source keep it
   * current, and they agree; take it from them (MAX over sentinels). */
  if (!err && st->kind != NTW_SYN_STATIC) {
    hid_t gp = group(g, "pre", true);
    const uint64_t n = st->src_n;
    double *d = malloc((n + 1) * sizeof *d), *dr = malloc((n + 1) * sizeof *dr);
    int64_t *t = malloc((n + 1) * sizeof *t), *tr = malloc((n + 1) * sizeof *tr);
    err = agree(k->comm, d && dr && t && tr ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
    uint64_t lo, hi;
    block_range(n, k->P, k->rank, &lo, &hi);
    const bool stdp = st->kplus != NULL;
    double *src_arr[3] = {stdp ? st->kplus : st->u, stdp ? NULL : st->x, NULL};
    const char *names[3] = {stdp ? "kplus" : "u", stdp ? NULL : "x", NULL};
    for (int a = 0; !err && a < 2 && src_arr[a]; a++) {
      for (uint64_t i = 0; i < n; i++)
        d[i] = st->row[i + 1] > st->row[i] ? src_arr[a][i] : -INFINITY;
      MPI_Allreduce(d, dr, (int)n, MPI_DOUBLE, MPI_MAX, k->comm);
      err = write_ds(k, gp, names[a], H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 8, n, 1, lo,
                     hi - lo, dr + lo);
    }
    if (!err) {
      for (uint64_t i = 0; i < n; i++)
        t[i] = st->row[i + 1] > st->row[i] ? st->t_last[i] : INT64_MIN;
      MPI_Allreduce(t, tr, (int)n, MPI_INT64_T, MPI_MAX, k->comm);
      err = write_ds(k, gp, "t_last", H5T_NATIVE_INT64, H5T_STD_I64LE, 8, n, 1, lo,
                     hi - lo, tr + lo);
    }
    free(d), free(dr), free(t), free(tr);
    H5Gclose(gp);
  }
  H5Gclose(g);
  phase(k, "syn: per-source state");
  return err;
}

static int write_post(ckio *k, ntw_engine *e, hid_t gpost) {
  for (size_t b = 0; b < e->nblocks; b++) {
    int has = e->post && e->post[b];
    if (!has) continue; /* the same on every rank: blocks exist everywhere */
    const post_trace *pt = e->post[b];
    const pop_block *pb = &e->blocks[b];
    size_t n = 0;
    for (uint64_t i = 0; i < pb->n; i++) n += pt->h[i].len - pt->h[i].head;
    post_rec *recs = malloc((n + 1) * sizeof *recs);
    int *dest = malloc((n + 1) * sizeof *dest);
    int err = agree(k->comm, recs && dest ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
    size_t q = 0;
    for (uint64_t i = 0; !err && i < pb->n; i++) {
      const post_hist *h = &pt->h[i];
      const uint64_t g = e->gids[pb->lo + i];
      for (uint32_t j = h->head; j < h->len; j++, q++) {
        recs[q] = (post_rec){g, j - h->head, h->cnt[j], h->t[j], h->K[j]};
        dest[q] = block_owner(e->n_global, k->P, g);
      }
    }
    void *in = NULL;
    size_t nin = 0;
    if (!err) err = exchange(k->comm, recs, n, sizeof *recs, dest, &in, &nin);
    free(recs), free(dest);
    post_rec *r = in;
    hid_t g = group(gpost, e->cfg->pops[pb->pop].name, true);
    if (!err) {
      qsort(r, nin, sizeof *r, cmp_post);
      uint64_t mine = nin, first = 0, total = 0;
      MPI_Exscan(&mine, &first, 1, MPI_UINT64_T, MPI_SUM, k->comm);
      if (k->rank == 0) first = 0;
      MPI_Allreduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, k->comm);
      void *scr = malloc((nin + 1) * 8);
      err = agree(k->comm, scr ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
      if (!err) WRITE_COL(k, g, "gid", uint64_t, gid, H5T_NATIVE_UINT64, H5T_STD_U64LE, r, nin, first, total, err, scr);
      if (!err) WRITE_COL(k, g, "t", int64_t, t, H5T_NATIVE_INT64, H5T_STD_I64LE, r, nin, first, total, err, scr);
      if (!err) WRITE_COL(k, g, "K", double, K, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, r, nin, first, total, err, scr);
      if (!err) WRITE_COL(k, g, "reads", uint32_t, reads, H5T_NATIVE_UINT32, H5T_STD_U32LE, r, nin, first, total, err, scr);
      free(scr);
    }
    free(in);
    H5Gclose(g);
    NTW_TRY(err);
  }
  return 0;
}

/* Spikes forced at run time and not yet emitted (the queue of
 * ntw_engine_force_spikes: a twin's stimulation pulses for later steps).
 * Few: rank 0 gathers and writes them, sorted by (stamp, gid). */
static int cmp_forced_rec(const void *a, const void *b) {
  const int64_t *x = a, *y = b; /* (stamp, gid) */
  if (x[0] != y[0]) return (x[0] > y[0]) - (x[0] < y[0]);
  return ((uint64_t)x[1] > (uint64_t)y[1]) - ((uint64_t)x[1] < (uint64_t)y[1]);
}

static int write_forced(ckio *k, ntw_engine *e) {
  const size_t n = e->nlive - e->next_live;
  int64_t *mine = malloc((2 * n + 1) * sizeof *mine);
  int *cnt = calloc((size_t)k->P, sizeof *cnt), *dis = calloc((size_t)k->P, sizeof *dis);
  int err = agree(k->comm, mine && cnt && dis && 2 * n < (size_t)INT32_MAX
                               ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
  int64_t *all = NULL, *stamp = NULL;
  uint64_t *gid = NULL;
  int tot = 0;
  if (!err) {
    for (size_t i = 0; i < n; i++) {
      const forced_spike *f = &e->live[e->next_live + i];
      mine[2 * i] = f->step + 1;
      mine[2 * i + 1] = (int64_t)e->gids[f->lidx];
    }
    int c = (int)(2 * n);
    MPI_Gather(&c, 1, MPI_INT, cnt, 1, MPI_INT, 0, k->comm);
    for (int r = 0; k->rank == 0 && r < k->P; r++) {
      dis[r] = tot;
      tot += cnt[r];
    }
    all = malloc(((size_t)tot + 2) * sizeof *all);
    stamp = malloc(((size_t)tot / 2 + 1) * sizeof *stamp);
    gid = malloc(((size_t)tot / 2 + 1) * sizeof *gid);
    err = agree(k->comm, all && stamp && gid ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
    if (!err) MPI_Gatherv(mine, c, MPI_INT64_T, all, cnt, dis, MPI_INT64_T, 0, k->comm);
  }
  uint64_t m = (uint64_t)tot / 2;
  if (!err) {
    qsort(all, m, 2 * sizeof *all, cmp_forced_rec);
    for (uint64_t i = 0; i < m; i++) stamp[i] = all[2 * i], gid[i] = (uint64_t)all[2 * i + 1];
    MPI_Bcast(&m, 1, MPI_UINT64_T, 0, k->comm);
    hid_t g = group(k->file, "forced", true);
    err = agree(k->comm, g < 0 ? NTW_ERR(NTW_ERR_HDF5, "%s: cannot create /forced", k->path) : 0);
    if (!err) err = write_ds(k, g, "gid", H5T_NATIVE_UINT64, H5T_STD_U64LE, 8, m, 1, 0,
                             k->rank == 0 ? m : 0, gid);
    if (!err) err = write_ds(k, g, "stamp", H5T_NATIVE_INT64, H5T_STD_I64LE, 8, m, 1, 0,
                             k->rank == 0 ? m : 0, stamp);
    if (g >= 0) H5Gclose(g);
  }
  free(mine), free(cnt), free(dis), free(all), free(stamp), free(gid);
  return err;
}

/* ---- extra groups (the twin's state) ---- */

struct ntw_ckpt_out {
  ckio *k;
  char group[64];
};

typedef struct {
  hid_t mem, file;
  size_t esz;
} ckpt_types;

static ckpt_types ckpt_type(ntw_ckpt_type t) {
  switch (t) {
  case NTW_CKPT_U8: return (ckpt_types){H5T_NATIVE_UINT8, H5T_STD_U8LE, 1};
  case NTW_CKPT_U32: return (ckpt_types){H5T_NATIVE_UINT32, H5T_STD_U32LE, 4};
  case NTW_CKPT_I64: return (ckpt_types){H5T_NATIVE_INT64, H5T_STD_I64LE, 8};
  case NTW_CKPT_U64: return (ckpt_types){H5T_NATIVE_UINT64, H5T_STD_U64LE, 8};
  case NTW_CKPT_F32: return (ckpt_types){H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 4};
  default: return (ckpt_types){H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 8};
  }
}

int ntw_ckpt_put(ntw_ckpt_out *o, const char *name, ntw_ckpt_type t, uint64_t rows,
                 uint64_t cols, const void *data) {
  ckio *k = o->k;
  uint64_t dim[2] = {rows, cols ? cols : 1};
  MPI_Bcast(dim, 2, MPI_UINT64_T, 0, k->comm);
  char full[256];
  snprintf(full, sizeof full, "/%s/%s", o->group, name);
  const ckpt_types ty = ckpt_type(t);
  static const uint64_t none[1] = {0}; /* HDF5 wants a buffer even for no rows */
  return write_ds(k, k->file, full, ty.mem, ty.file, ty.esz, dim[0], dim[1], 0,
                  k->rank == 0 ? dim[0] : 0, data && k->rank == 0 ? data : none);
}

int ntw_ckpt_put_attr(ntw_ckpt_out *o, const char *name, const char *value) {
  ckio *k = o->k;
  char v[256] = "";
  if (k->rank == 0) snprintf(v, sizeof v, "%s", value);
  MPI_Bcast(v, sizeof v, MPI_CHAR, 0, k->comm);
  hid_t g = group(k->file, o->group, false);
  int err = g < 0 || attr_write_str(g, name, v)
                ? NTW_ERR(NTW_ERR_HDF5, "%s: cannot write attribute %s of /%s", k->path, name, o->group)
                : 0;
  if (g >= 0) H5Gclose(g);
  return agree(k->comm, err);
}

int ntw_checkpoint_write(ntw_engine *e, const char *path) {
  return ntw_checkpoint_write_ext(e, path, NULL, NULL, NULL);
}

int ntw_checkpoint_write_ext(ntw_engine *e, const char *path, const char *xgroup,
                             ntw_ckpt_save_fn save, void *ctx) {
  ckio k = {.comm = ntw_comm_mpi(e->comm), .path = path, .t_phase = phase_start(), .wb_fd = -1};
  MPI_Comm_rank(k.comm, &k.rank);
  MPI_Comm_size(k.comm, &k.P);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, k.comm, MPI_INFO_NULL);
  k.file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  k.wb_fd = k.rank == 0 && k.file >= 0 ? open(tmp, O_RDONLY) : -1;
  H5Pclose(fapl);
  int err = k.file < 0 ? NTW_ERR(NTW_ERR_IO, "%s: cannot create checkpoint", tmp) : 0;
  NTW_TRY(agree(k.comm, err));
  const ntw_config *cfg = e->cfg;
  int64_t step = e->step;
  double t_ms = step * e->dt, dt = e->dt;
  int32_t ver = NTW_CKPT_VERSION, minor = NTW_CKPT_MINOR, P = k.P, R = (int32_t)(e->ring_mask + 1), np = e->nports;
  uint64_t seed = cfg->sim.seed, n = e->n_global;
  int a = 0;
  a |= attr_write_str(k.file, "format", NTW_CKPT_FORMAT);
  a |= attr_write(k.file, "format_version", H5T_NATIVE_INT32, H5T_STD_I32LE, &ver);
  a |= attr_write(k.file, "format_minor", H5T_NATIVE_INT32, H5T_STD_I32LE, &minor);
  a |= attr_write_str(k.file, "ntwin_version", NTW_VERSION);
  a |= attr_write(k.file, "step", H5T_NATIVE_INT64, H5T_STD_I64LE, &step);
  a |= attr_write(k.file, "t_ms", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, &t_ms);
  a |= attr_write(k.file, "dt_ms", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, &dt);
  a |= attr_write(k.file, "seed", H5T_NATIVE_UINT64, H5T_STD_U64LE, &seed);
  a |= attr_write(k.file, "n_neurons", H5T_NATIVE_UINT64, H5T_STD_U64LE, &n);
  a |= attr_write(k.file, "ranks_written", H5T_NATIVE_INT32, H5T_STD_I32LE, &P);
  a |= attr_write_str(k.file, "partition_written", cfg->sim.partition);
  a |= attr_write(k.file, "ring_slots", H5T_NATIVE_INT32, H5T_STD_I32LE, &R);
  a |= attr_write(k.file, "ring_ports", H5T_NATIVE_INT32, H5T_STD_I32LE, &np);
  err = a ? NTW_ERR(NTW_ERR_HDF5, "%s: cannot write attributes", tmp) : 0;
  err = agree(k.comm, err);
  if (!err) {
    uint64_t len = strlen(cfg->text);
    err = write_ds(&k, k.file, "config", H5T_NATIVE_UCHAR, H5T_STD_U8LE, 1, len, 1, 0,
                   k.rank == 0 ? len : 0, cfg->text);
  }
  hid_t gn = -1, gs = -1, gp = -1;
  if (!err) {
    gn = group(k.file, "neurons", true);
    gs = group(k.file, "synapses", true);
    gp = group(k.file, "post", true);
    phase(&k, "create, attributes, config");
    err = write_neurons(&k, e, gn);
    phase(&k, "neurons");
  }
  if (!err) err = write_ring(&k, e);
  phase(&k, "ring");
  /* Test-only fault injection: kill one rank in the middle of the N-th
   * checkpoint, to test that an interrupted write damages nothing. */
  static int ncalls;
  const char *fault = getenv("NTW_FAULT_KILL_IN_CHECKPOINT");
  if (fault && ++ncalls == atoi(fault) && k.rank == (k.P > 1 ? 1 : 0)) raise(SIGKILL);
  for (size_t s = 1; !err && s < e->nstores; s++) err = write_store(&k, e, &e->stores[s], gs);
  if (!err) err = write_post(&k, e, gp);
  phase(&k, "post");
  if (!err) err = noise_io(&k, e, true);
  phase(&k, "noise");
  if (!err) err = write_forced(&k, e);
  if (!err && xgroup) {
    hid_t gx = group(k.file, xgroup, true);
    err = agree(k.comm, gx < 0 ? NTW_ERR(NTW_ERR_HDF5, "%s: cannot create /%s", tmp, xgroup) : 0);
    if (gx >= 0) H5Gclose(gx);
    ntw_ckpt_out o = {.k = &k};
    snprintf(o.group, sizeof o.group, "%s", xgroup);
    if (!err) err = agree(k.comm, save(&o, ctx));
  }
  phase(&k, "forced spikes, extra state");
  if (gn >= 0) H5Gclose(gn);
  if (gs >= 0) H5Gclose(gs);
  if (gp >= 0) H5Gclose(gp);
  if (H5Fclose(k.file) < 0 && !err) err = NTW_ERR(NTW_ERR_IO, "%s: cannot close", tmp);
  if (k.wb_fd >= 0) close(k.wb_fd);
  err = agree(k.comm, err);
  phase(&k, "close");
  if (k.rank == 0) {
    /* flushed to the device before it takes the final name */
    int fd = err ? -1 : open(tmp, O_RDONLY);
    if (fd >= 0) {
      if (fsync(fd) != 0) err = NTW_ERR(NTW_ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
      close(fd);
    }
    if (!err && rename(tmp, path) != 0)
      err = NTW_ERR(NTW_ERR_IO, "%s: cannot rename: %s", path, strerror(errno));
    if (err) remove(tmp);
  }
  MPI_Bcast(&err, 1, MPI_INT, 0, k.comm);
  phase(&k, "fsync, rename");
  if (err && k.rank != 0 && ntw_error_code() == 0)
    NTW_ERR(err, "%s: cannot write checkpoint", path);
  return err;
}

/* ------------------------------------------------------------------ */
/* read                                                                 */

static int open_file(ckio *k, const char *path) {
  k->path = path;
  MPI_Comm_rank(k->comm, &k->rank);
  MPI_Comm_size(k->comm, &k->P);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  FILE *f = fopen(path, "rb");
  int err = 0;
  if (!f) err = NTW_ERR(NTW_ERR_IO, "%s: cannot open checkpoint: %s", path, strerror(errno));
  else fclose(f);
  NTW_TRY(agree(k->comm, err));
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, k->comm, MPI_INFO_NULL);
  k->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  err = k->file < 0 ? NTW_ERR(NTW_ERR_FORMAT,
                              "%s: not a readable HDF5 file (truncated or corrupted?)",
                              path)
                    : 0;
  NTW_TRY(agree(k->comm, err));
  char fmt[64] = "";
  int32_t ver = -1;
  if (attr_read_str(k->file, "format", fmt, sizeof fmt) || strcmp(fmt, NTW_CKPT_FORMAT))
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: not an ntwin checkpoint (no format = \"%s\")",
                  path, NTW_CKPT_FORMAT);
  else if (attr_read(k->file, "format_version", H5T_NATIVE_INT32, &ver) || ver != NTW_CKPT_VERSION)
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: format_version: %d is not supported (this ntwin reads %d)",
                  path, ver, NTW_CKPT_VERSION);
  if (err) H5Fclose(k->file);
  return agree(k->comm, err);
}

int ntw_checkpoint_info(const char *path, ntw_ckpt_info *info) {
  memset(info, 0, sizeof *info);
  ckio k = {.comm = MPI_COMM_WORLD, .t_phase = -1};
  NTW_TRY(open_file(&k, path));
  int32_t P = 0;
  int a = 0;
  a |= attr_read(k.file, "step", H5T_NATIVE_INT64, &info->step);
  a |= attr_read(k.file, "t_ms", H5T_NATIVE_DOUBLE, &info->t_ms);
  a |= attr_read(k.file, "dt_ms", H5T_NATIVE_DOUBLE, &info->dt_ms);
  a |= attr_read(k.file, "seed", H5T_NATIVE_UINT64, &info->seed);
  a |= attr_read(k.file, "n_neurons", H5T_NATIVE_UINT64, &info->n_neurons);
  a |= attr_read(k.file, "ranks_written", H5T_NATIVE_INT32, &P);
  a |= attr_read_str(k.file, "partition_written", info->partition_written,
                     sizeof info->partition_written);
  a |= attr_read_str(k.file, "ntwin_version", info->ntwin_version, sizeof info->ntwin_version);
  info->ranks_written = P;
  int32_t minor = 0;
  if (attr_read(k.file, "format_minor", H5T_NATIVE_INT32, &minor)) minor = 0;
  info->format_minor = minor;
  info->has_twin = H5Lexists(k.file, "twin", H5P_DEFAULT) > 0;
  int err = a ? NTW_ERR(NTW_ERR_FORMAT, "%s: missing metadata attributes", path) : 0;
  uint64_t len = 0, cols;
  if (!agree(k.comm, err)) err = ds_dims(&k, k.file, "config", &len, &cols);
  if (!err) {
    info->config_text = calloc(len + 1, 1);
    err = agree(k.comm, info->config_text ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
    /* every rank reads the whole (small) text: slices must cover it once
     * for the checksum, so rank 0 reads and broadcasts */
    if (!err) err = read_ds(&k, k.file, "config", H5T_NATIVE_UCHAR, 1, 1, 0,
                            k.rank == 0 ? len : 0, info->config_text);
    if (!err) MPI_Bcast(info->config_text, (int)len, MPI_CHAR, 0, k.comm);
  }
  H5Fclose(k.file);
  if (err) ntw_ckpt_info_free(info);
  return err ? err : agree(k.comm, 0);
}

void ntw_ckpt_info_free(ntw_ckpt_info *info) {
  free(info->config_text);
  info->config_text = NULL;
}

/* Read a contiguous slice of fixed-size records column by column is done by
 * the callers; here: send rows to their owners under the engine's partition. */
static int to_owners(ckio *k, ntw_engine *e, const void *recs, size_t n, size_t sz,
                     void **out, size_t *nout) {
  int *dest = malloc((n + 1) * sizeof *dest);
  int err = agree(k->comm, dest ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
  if (err) return err;
  for (size_t i = 0; i < n; i++)
    dest[i] = ntw_part_owner(e->part, *(const uint64_t *)((const char *)recs + i * sz));
  err = exchange(k->comm, recs, n, sz, dest, out, nout);
  free(dest);
  return err;
}

static int read_neurons(ckio *k, ntw_engine *e) {
  const ntw_config *cfg = e->cfg;
  hid_t gn = group(k->file, "neurons", false);
  int err = agree(k->comm, gn < 0 ? NTW_ERR(NTW_ERR_FORMAT, "%s: /neurons missing", k->path) : 0);
  NTW_TRY(err);
  for (size_t b = 0; !err && b < e->nblocks; b++) {
    const pop_block *pb = &e->blocks[b];
    const ntw_pop_cfg *pc = &cfg->pops[pb->pop];
    const size_t nv = pb->ops->nstate_vars, rs = 8 * (1 + nv);
    hid_t gp = group(gn, pc->name, false);
    err = agree(k->comm, gp < 0 ? NTW_ERR(NTW_ERR_FORMAT, "%s: /neurons/%s missing (config changed?)", k->path, pc->name) : 0);
    if (err) break;
    uint64_t lo, hi;
    block_range(pc->size, k->P, k->rank, &lo, &hi);
    const uint64_t nr = hi - lo;
    char *recs = malloc(nr * rs + 1);
    double *col = malloc((nr + pb->n + 1) * sizeof *col);
    err = agree(k->comm, recs && col ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
    for (size_t v = 0; !err && v < nv; v++) {
      uint64_t rows, cols;
      err = ds_dims(k, gp, pb->ops->state_vars[v].name, &rows, &cols);
      if (!err) err = agree(k->comm, rows != pc->size ? NTW_ERR(NTW_ERR_FORMAT, "%s: /neurons/%s/%s: %" PRIu64 " neurons, the network has %" PRIu64 " (config changed?)", k->path, pc->name, pb->ops->state_vars[v].name, rows, pc->size) : 0);
      if (!err) err = read_ds(k, gp, pb->ops->state_vars[v].name, H5T_NATIVE_DOUBLE, 8, 1, lo, nr, col);
      for (uint64_t i = 0; !err && i < nr; i++) memcpy(recs + i * rs + 8 * (1 + v), &col[i], 8);
    }
    for (uint64_t i = 0; !err && i < nr; i++) {
      uint64_t g = pc->first_gid + lo + i;
      memcpy(recs + i * rs, &g, 8);
    }
    void *in = NULL;
    size_t nin = 0;
    if (!err) err = to_owners(k, e, recs, nr, rs, &in, &nin);
    free(recs);
    if (!err) {
      qsort(in, nin, rs, cmp_u64first);
      /* nin == pb->n and in order of local index (gids ascending) */
      err = agree(k->comm, nin != pb->n ? NTW_ERR(NTW_ERR_INTERNAL, "neuron redistribution mismatch") : 0);
      for (size_t v = 0; !err && v < nv; v++) {
        for (size_t i = 0; i < nin; i++) memcpy(&col[i], (char *)in + i * rs + 8 * (1 + v), 8);
        ntw_model_state_set(pb->ops, pb->state, v, pb->n, col);
      }
    }
    free(in), free(col);
    H5Gclose(gp);
  }
  H5Gclose(gn);
  return err;
}

static int read_ring(ckio *k, ntw_engine *e) {
  const int W = ring_width(e);
  uint64_t rows_n, cols;
  NTW_TRY(ds_dims(k, k->file, "ring", &rows_n, &cols));
  NTW_TRY(agree(k->comm, rows_n != e->n_global || cols != (uint64_t)W
                             ? NTW_ERR(NTW_ERR_FORMAT, "%s: /ring: shape %" PRIu64 " x %" PRIu64 " does not match the network (%" PRIu64 " x %d; config changed?)", k->path, rows_n, cols, e->n_global, W)
                             : 0));
  uint64_t lo, hi;
  block_range(e->n_global, k->P, k->rank, &lo, &hi);
  const size_t rs = 8 * (1 + (size_t)W), nr = hi - lo;
  const uint64_t nl = e->n_local;
  double *buf = malloc(((nr > nl ? nr : nl) * (size_t)W + 1) * sizeof *buf);
  int err = agree(k->comm, buf ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
  if (!err) err = read_ds(k, k->file, "ring", H5T_NATIVE_DOUBLE, 8, (uint64_t)W, lo, nr, buf);
  if (!err && k->P > 1) { /* to the rank of each row under the new partition */
    char *recs = malloc(nr * rs + 1);
    err = agree(k->comm, recs ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
    for (size_t i = 0; !err && i < nr; i++) {
      uint64_t g = lo + i;
      memcpy(recs + i * rs, &g, 8);
      memcpy(recs + i * rs + 8, buf + i * W, 8 * (size_t)W);
    }
    void *in = NULL;
    size_t nin = 0;
    if (!err) err = to_owners(k, e, recs, nr, rs, &in, &nin);
    free(recs);
    /* each local gid once: its row is its local index */
    for (size_t i = 0; !err && i < nin; i++) {
      uint64_t g;
      memcpy(&g, (char *)in + i * rs, 8);
      const uint64_t li = ntw_part_local_lower(e->part, e->rank, g);
      memcpy(buf + li * W, (char *)in + i * rs + 8, 8 * (size_t)W);
    }
    free(in);
  }
  if (!err) ring_rows(e, buf, false);
  free(buf);
  return err;
}

#define READ_COL(k, g, name, ctype, field, mtype, r, n, first, err) \
  do {                                                               \
    ctype *col_ = malloc(((n) + 1) * sizeof(ctype));                 \
    (err) = agree((k)->comm, col_ ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory")); \
    if (!(err)) (err) = read_ds((k), (g), (name), (mtype), sizeof(ctype), 1, (first), (n), col_); \
    if (!(err))                                                      \
      for (size_t i_ = 0; i_ < (n); i_++) (r)[i_].field = col_[i_];  \
    free(col_);                                                      \
  } while (0)

static int read_store(ckio *k, ntw_engine *e, syn_store *st, hid_t gs) {
  char name[32];
  snprintf(name, sizeof name, "%d", st->proj);
  hid_t g = group(gs, name, false);
  NTW_TRY(agree(k->comm, g < 0 ? NTW_ERR(NTW_ERR_FORMAT, "%s: /synapses/%s missing (config changed?)", k->path, name) : 0));
  phase(k, NULL);
  syn_stream s;
  int err = stream_init(k, e, st, false, &s);
  phase(k, "syn: in-degrees, offsets");
  if (!err) {
    /* delay_ms is not read: the config rebuilds it exactly */
    enum { NC = 4 };
    static const char *const cn[NC] = {"target", "source", "occurrence", "weight"};
    const hid_t mt[NC] = {H5T_NATIVE_UINT64, H5T_NATIVE_UINT64, H5T_NATIVE_UINT32,
                          H5T_NATIVE_FLOAT};
    const size_t c1 = s.cap + 1;
    uint64_t *rt = malloc(c1 * 8), *rs = malloc(c1 * 8);
    uint32_t *ro = malloc(c1 * 4);
    float *rw = malloc(c1 * 4);
    /* the file's records of this rank's synapses, in slot order */
    const col got[NC] = {{rt, 8, MPI_UINT64_T}, {rs, 8, MPI_UINT64_T}, {ro, 4, MPI_UINT32_T},
                         {rw, 4, MPI_FLOAT}};
    hid_t ds[NC];
    uint64_t want[NC] = {0}, h[NC] = {0};
    if (!rt || !rs || !ro || !rw) err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for checkpoint buffers");
    for (int c = 0; c < NC; c++) {
      ds[c] = H5Dopen2(g, cn[c], H5P_DEFAULT);
      hsize_t d = 0;
      hid_t sp = ds[c] >= 0 ? H5Dget_space(ds[c]) : -1;
      int nd = sp >= 0 ? H5Sget_simple_extent_dims(sp, &d, NULL) : -1;
      if (sp >= 0) H5Sclose(sp);
      hid_t at = ds[c] >= 0 ? H5Aopen(ds[c], "checksum", H5P_DEFAULT) : -1;
      int ok = at >= 0 && H5Aread(at, H5T_NATIVE_UINT64, &want[c]) >= 0;
      if (at >= 0) H5Aclose(at);
      if (err) continue;
      if (ds[c] < 0)
        err = NTW_ERR(NTW_ERR_FORMAT, "%s: /synapses/%s/%s: missing", k->path, name, cn[c]);
      else if (nd != 1 || d != s.total)
        err = NTW_ERR(NTW_ERR_FORMAT, "%s: /synapses/%s/%s: %llu synapses, the network has %" PRIu64 " (config or seed changed?)", k->path, name, cn[c], (unsigned long long)d, s.total);
      else if (!ok)
        err = NTW_ERR(NTW_ERR_FORMAT, "%s: /synapses/%s/%s: no checksum", k->path, name, cn[c]);
    }
    err = agree(k->comm, err);
    hid_t x = stream_xfer();
    hsize_t dim = s.total;
    hid_t fs = H5Screate_simple(1, &dim, NULL);
    int bad = 0;
    double tf = 0, tr = 0, tx = 0, tm = 0, t0;
    /* every rank takes part in every round's exchange, even after an error
     * (agreed on at the end) */
    const bool ok0 = !err;
    for (int r = 0; ok0 && r < s.rounds; r++) {
      t0 = MPI_Wtime();
      stream_next(&s);
      tf += MPI_Wtime() - t0, t0 = MPI_Wtime();
      /* what this rank reads: its slots (direct) or its slice (exchanged) */
      const col *in = got;
      hsize_t n = s.n;
      if (s.xchg) {
        in = s.x, n = s.w1 - s.w0;
        hsize_t start = s.w0;
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &n, NULL);
      } else if (!err && stream_select(&s, fs) < 0) {
        err = NTW_ERR(NTW_ERR_HDF5, "%s: /synapses/%s: cannot select rows", k->path, name);
      }
      hid_t ms = H5Screate_simple(1, &n, NULL);
      for (int c = 0; !err && n && c < NC; c++)
        if (H5Dread(ds[c], mt[c], ms, fs, x, in[c].p) < 0)
          err = NTW_ERR(NTW_ERR_FORMAT, "%s: /synapses/%s/%s: cannot read (truncated file?)", k->path, name, cn[c]);
      H5Sclose(ms);
      tr += MPI_Wtime() - t0, t0 = MPI_Wtime();
      if (s.xchg) {
        for (uint64_t i = 0; i < n; i++) hash_row(in, NC, s.w0 + i, i, h);
        xchg_walk(&s, WALK_COUNT, s.sc, s.sd);
        xchg_walk(&s, WALK_PACK, s.sc, s.sd);
        xchg_mine(&s, s.rc, s.rd);
        xchg_cols(&s, NC, s.y, s.sc, s.sd, got, s.rc, s.rd);
      } else {
        stream_hash(&s, got, NC, h);
      }
      tx += MPI_Wtime() - t0, t0 = MPI_Wtime();
      /* every local synapse meets its record: same (target, source,
       * occurrence) in the same slot */
      for (uint64_t t = s.a; t < s.b; t++) {
        const uint64_t gid = e->gids[s.tlo + t], q0 = s.slot[t - s.a];
        for (uint64_t q = q0; q < q0 + s.cnt[t]; q++) {
          bad |= (!s.xchg & (rt[q] != gid)) | (rs[q] != s.src[q]) | (ro[q] != s.occ[q]);
          st->w[s.idx[q]] = rw[q];
        }
      }
      tm += MPI_Wtime() - t0;
    }
    H5Pclose(x);
    H5Sclose(fs);
    for (int c = 0; c < NC; c++)
      if (ds[c] >= 0) H5Dclose(ds[c]);
    free(rt), free(rs), free(ro), free(rw);
    phase_add(k, s.xchg ? "syn: transpose (exchanged)" : "syn: transpose (direct)", tf);
    phase_add(k, "syn: select + H5Dread", tr);
    phase_add(k, "syn: checksums, exchange", tx);
    phase_add(k, "syn: match", tm);
    bad |= s.bad_tgt;
    err = agree(k->comm, err);
    if (!err) {
      MPI_Allreduce(MPI_IN_PLACE, h, NC, MPI_UINT64_T, MPI_SUM, k->comm);
      MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, k->comm);
      /* a damaged file is reported as such before any mismatch it causes */
      for (int c = 0; !err && c < NC; c++)
        if (h[c] != want[c])
          err = NTW_ERR(NTW_ERR_FORMAT, "%s: /synapses/%s/%s: checksum mismatch (file corrupted)", k->path, name, cn[c]);
      if (!err && bad)
        err = NTW_ERR(NTW_ERR_FORMAT, "%s: /synapses/%s: the synapses do not match the network (config or seed changed?)", k->path, name);
    }
  }
  stream_free(&s);
  phase(k, NULL);
  if (!err && st->kind != NTW_SYN_STATIC) {
    hid_t gp = group(g, "pre", false);
    const uint64_t n = st->src_n;
    double *d = malloc((n + 1) * sizeof *d);
    int64_t *t = malloc((n + 1) * sizeof *t);
    err = agree(k->comm, gp >= 0 && d && t ? 0 : NTW_ERR(NTW_ERR_FORMAT, "%s: /synapses/%s/pre missing", k->path, name));
    /* Every rank needs the whole per-source arrays; read them in block
     * slices (so the checksum covers each element once) and gather. */
    uint64_t a, z;
    block_range(n, k->P, k->rank, &a, &z);
    int *cnt = malloc((size_t)k->P * sizeof *cnt), *dis = malloc((size_t)k->P * sizeof *dis);
    for (int q = 0; cnt && dis && q < k->P; q++) {
      uint64_t qa, qz;
      block_range(n, k->P, q, &qa, &qz);
      cnt[q] = (int)(qz - qa), dis[q] = (int)qa;
    }
    const bool stdp = st->kplus != NULL;
    double *dst[2] = {stdp ? st->kplus : st->u, stdp ? NULL : st->x};
    const char *names[2] = {stdp ? "kplus" : "u", stdp ? NULL : "x"};
    for (int q = 0; !err && q < 2 && dst[q]; q++) {
      err = read_ds(k, gp, names[q], H5T_NATIVE_DOUBLE, 8, 1, a, z - a, d + a);
      if (!err) MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DOUBLE, d, cnt, dis, MPI_DOUBLE, k->comm);
      for (uint64_t i = 0; !err && i < n; i++)
        if (st->row[i + 1] > st->row[i]) dst[q][i] = d[i];
    }
    if (!err) err = read_ds(k, gp, "t_last", H5T_NATIVE_INT64, 8, 1, a, z - a, t + a);
    if (!err) MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_INT64_T, t, cnt, dis, MPI_INT64_T, k->comm);
    for (uint64_t i = 0; !err && i < n; i++)
      if (st->row[i + 1] > st->row[i]) st->t_last[i] = t[i];
    free(d), free(t), free(cnt), free(dis);
    if (gp >= 0) H5Gclose(gp);
  }
  H5Gclose(g);
  return err;
}

static int read_post(ckio *k, ntw_engine *e) {
  hid_t gpost = group(k->file, "post", false);
  NTW_TRY(agree(k->comm, gpost < 0 ? NTW_ERR(NTW_ERR_FORMAT, "%s: /post missing", k->path) : 0));
  int err = 0;
  for (size_t b = 0; !err && b < e->nblocks; b++) {
    if (!(e->post && e->post[b])) continue;
    post_trace *pt = e->post[b];
    const pop_block *pb = &e->blocks[b];
    hid_t g = group(gpost, e->cfg->pops[pb->pop].name, false);
    err = agree(k->comm, g < 0 ? NTW_ERR(NTW_ERR_FORMAT, "%s: /post/%s missing (config changed?)", k->path, e->cfg->pops[pb->pop].name) : 0);
    if (err) break;
    uint64_t total, cols, lo, hi;
    err = ds_dims(k, g, "gid", &total, &cols);
    block_range(total, k->P, k->rank, &lo, &hi);
    const size_t nr = hi - lo;
    post_rec *r = calloc(nr + 1, sizeof *r);
    if (!err) err = agree(k->comm, r ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
    if (!err) READ_COL(k, g, "gid", uint64_t, gid, H5T_NATIVE_UINT64, r, nr, lo, err);
    if (!err) READ_COL(k, g, "t", int64_t, t, H5T_NATIVE_INT64, r, nr, lo, err);
    if (!err) READ_COL(k, g, "K", double, K, H5T_NATIVE_DOUBLE, r, nr, lo, err);
    if (!err) READ_COL(k, g, "reads", uint32_t, reads, H5T_NATIVE_UINT32, r, nr, lo, err);
    /* the records are in (gid, age) order; keep it through the exchange */
    for (size_t i = 0; !err && i < nr; i++) r[i].idx = (uint32_t)(lo + i);
    void *in = NULL;
    size_t nin = 0;
    if (!err) err = to_owners(k, e, r, nr, sizeof *r, &in, &nin);
    free(r);
    if (!err) {
      post_rec *p = in;
      qsort(p, nin, sizeof *p, cmp_post);
      for (size_t i = 0; i < nin && !err; i++) {
        uint64_t li = ntw_part_local_lower(e->part, e->rank, p[i].gid) - pb->lo;
        post_hist *h = &pt->h[li];
        if (h->len == h->cap) {
          uint32_t cap = h->cap ? 2 * h->cap : 8;
          int64_t *tt = realloc(h->t, cap * sizeof *tt);
          if (tt) h->t = tt;
          double *KK = realloc(h->K, cap * sizeof *KK);
          if (KK) h->K = KK;
          uint32_t *cc = realloc(h->cnt, cap * sizeof *cc);
          if (cc) h->cnt = cc;
          if (!tt || !KK || !cc) err = NTW_ERR(NTW_ERR_NOMEM, "out of memory");
          else h->cap = cap;
        }
        if (!err) {
          h->t[h->len] = p[i].t, h->K[h->len] = p[i].K, h->cnt[h->len] = p[i].reads;
          h->len++;
        }
      }
    }
    free(in);
    H5Gclose(g);
    err = agree(k->comm, err);
  }
  H5Gclose(gpost);
  return err;
}

/* Run-time forced spikes still to come (format minor >= 1; none before). */
static int read_forced(ckio *k, ntw_engine *e) {
  if (H5Lexists(k->file, "forced", H5P_DEFAULT) <= 0) return agree(k->comm, 0);
  uint64_t n = 0, cols = 1, n2 = 0;
  NTW_TRY(ds_dims(k, k->file, "forced/gid", &n, &cols));
  NTW_TRY(ds_dims(k, k->file, "forced/stamp", &n2, &cols));
  NTW_TRY(agree(k->comm, n2 == n ? 0 : NTW_ERR(NTW_ERR_FORMAT, "%s: /forced: gid and stamp differ in length", k->path)));
  uint64_t *gid = malloc((n + 1) * sizeof *gid);
  int64_t *stamp = malloc((n + 1) * sizeof *stamp);
  int err = agree(k->comm, gid && stamp ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
  const uint64_t mine = k->rank == 0 ? n : 0;
  if (!err) err = read_ds(k, k->file, "/forced/gid", H5T_NATIVE_UINT64, 8, 1, 0, mine, gid);
  if (!err) err = read_ds(k, k->file, "/forced/stamp", H5T_NATIVE_INT64, 8, 1, 0, mine, stamp);
  if (!err && n) {
    MPI_Bcast(gid, (int)n, MPI_UINT64_T, 0, k->comm);
    MPI_Bcast(stamp, (int)n, MPI_INT64_T, 0, k->comm);
    /* each rank queues its own; a stamp not after the step is refused */
    err = agree(k->comm, ntw_engine_force_spikes(e, gid, stamp, (size_t)n));
  }
  free(gid), free(stamp);
  return err;
}

struct ntw_ckpt_in {
  ckio k;
  char group[64];
};

int ntw_ckpt_in_open(const char *path, MPI_Comm comm, const char *grp, ntw_ckpt_in **in) {
  *in = NULL;
  ntw_ckpt_in *x = calloc(1, sizeof *x);
  int err = agree(comm, x ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
  if (err) {
    free(x);
    return err;
  }
  x->k = (ckio){.comm = comm, .t_phase = -1, .wb_fd = -1};
  snprintf(x->group, sizeof x->group, "%s", grp);
  err = open_file(&x->k, path);
  if (err) {
    free(x);
    return err;
  }
  if (H5Lexists(x->k.file, grp, H5P_DEFAULT) <= 0) {
    H5Fclose(x->k.file);
    free(x);
    return 0;
  }
  *in = x;
  return 0;
}

int ntw_ckpt_get(ntw_ckpt_in *in, const char *name, ntw_ckpt_type t, uint64_t *rows,
                 uint64_t *cols, void **data) {
  ckio *k = &in->k;
  *data = NULL;
  char full[256];
  snprintf(full, sizeof full, "/%s/%s", in->group, name);
  const ckpt_types ty = ckpt_type(t);
  NTW_TRY(ds_dims(k, k->file, full, rows, cols));
  void *buf = NULL;
  if (k->rank == 0) buf = malloc((*rows * *cols + 1) * ty.esz);
  int err = agree(k->comm, k->rank != 0 || buf ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"));
  uint64_t none[1];
  if (!err) err = read_ds(k, k->file, full, ty.mem, ty.esz, *cols, 0, k->rank == 0 ? *rows : 0,
                          buf ? buf : none);
  if (err) {
    free(buf);
    return err;
  }
  *data = buf;
  return 0;
}

void ntw_ckpt_get_attr(ntw_ckpt_in *in, const char *name, char *buf, size_t cap) {
  buf[0] = '\0';
  hid_t g = group(in->k.file, in->group, false);
  if (g >= 0) {
    if (attr_read_str(g, name, buf, cap)) buf[0] = '\0';
    H5Gclose(g);
  }
}

void ntw_ckpt_in_close(ntw_ckpt_in **in) {
  if (!in || !*in) return;
  H5Fclose((*in)->k.file);
  free(*in);
  *in = NULL;
}

int ntw_checkpoint_restore(ntw_engine *e, const char *path) {
  ckio k = {.comm = ntw_comm_mpi(e->comm), .t_phase = phase_start()};
  NTW_TRY(open_file(&k, path));
  int64_t step = 0;
  uint64_t n = 0;
  int32_t R = 0, np = 0;
  int err = 0;
  if (attr_read(k.file, "step", H5T_NATIVE_INT64, &step) ||
      attr_read(k.file, "n_neurons", H5T_NATIVE_UINT64, &n) ||
      attr_read(k.file, "ring_slots", H5T_NATIVE_INT32, &R) ||
      attr_read(k.file, "ring_ports", H5T_NATIVE_INT32, &np))
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: missing metadata attributes", path);
  else if (n != e->n_global)
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: n_neurons: %" PRIu64 " in the checkpoint, %" PRIu64 " in the network (config changed?)", path, n, e->n_global);
  else if (R != e->ring_mask + 1 || np != e->nports)
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: ring_slots: the delays of the network changed (checkpoint %d x %d, network %lld x %d)", path, R, np, (long long)(e->ring_mask + 1), e->nports);
  err = agree(k.comm, err);
  phase(&k, "open, attributes");
  if (!err) {
    e->step = step;
    err = read_neurons(&k, e);
  }
  phase(&k, "neurons");
  if (!err) err = read_ring(&k, e);
  phase(&k, "ring");
  if (!err) {
    hid_t gs = group(k.file, "synapses", false);
    err = agree(k.comm, gs < 0 ? NTW_ERR(NTW_ERR_FORMAT, "%s: /synapses missing", path) : 0);
    for (size_t s = 1; !err && s < e->nstores; s++) err = read_store(&k, e, &e->stores[s], gs);
    if (gs >= 0) H5Gclose(gs);
  }
  phase(&k, "synapses");
  if (!err) err = read_post(&k, e);
  phase(&k, "post");
  if (!err) err = noise_io(&k, e, false);
  if (!err) err = read_forced(&k, e);
  H5Fclose(k.file);
  err = agree(k.comm, err);
  phase(&k, "noise, close");
  return err;
}

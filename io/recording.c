/* io/recording.c - readers for recorded MEA spike trains (see recording.h). */
#include "io/recording.h"

#include <ctype.h>
#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntw_error.h"

/* Largest time accepted, in s: keeps µs far from uint64 overflow. */
#define REC_MAX_S 1e12
/* Largest number of elements read from one dataset (guards bad shapes). */
#define REC_MAX_ELEMS ((uint64_t)1 << 34)

static const char *const fmt_names[] = {"auto", "sjemea", "nwb", "mcs", "csv"};

const char *ntw_rec_format_name(ntw_rec_format f) {
  return (unsigned)f < 5 ? fmt_names[f] : "?";
}

int ntw_rec_format_parse(const char *name, ntw_rec_format *f) {
  for (int i = 0; i < 5; i++)
    if (name && strcmp(name, fmt_names[i]) == 0) {
      *f = (ntw_rec_format)i;
      return 0;
    }
  return NTW_ERR(NTW_ERR_ARG, "unknown recording format '%s' (auto, sjemea, nwb, mcs, csv)",
                 name ? name : "");
}

/* ---------------------------------------------------------------- building */

/* Events collected per channel in file order, then sorted once. */
typedef struct {
  const char *path;
  size_t nch, capch;
  ntw_rec_channel *ch;
  size_t nev, capev;
  uint64_t *t;
  uint32_t *c;
} builder;

static void builder_free(builder *b) {
  for (size_t i = 0; i < b->nch; i++) free(b->ch[i].label);
  free(b->ch);
  free(b->t);
  free(b->c);
  memset(b, 0, sizeof *b);
}

static int add_channel(builder *b, int64_t id, const char *label, double x, double y,
                       int32_t electrode, int32_t unit) {
  if (b->nch == b->capch) {
    size_t cap = b->capch ? 2 * b->capch : 64;
    ntw_rec_channel *n = realloc(b->ch, cap * sizeof *n);
    NTW_ALLOC_CHECK(n);
    b->ch = n;
    b->capch = cap;
  }
  ntw_rec_channel *c = &b->ch[b->nch];
  c->label = strdup(label ? label : "");
  NTW_ALLOC_CHECK(c->label);
  c->id = id;
  c->x_um = x;
  c->y_um = y;
  c->electrode = electrode;
  c->unit = unit;
  b->nch++;
  return 0;
}

static int reserve_events(builder *b, size_t more) {
  if (b->nev + more <= b->capev) return 0;
  size_t cap = b->capev ? b->capev : 1024;
  while (cap < b->nev + more) cap *= 2;
  uint64_t *t = realloc(b->t, cap * sizeof *t);
  NTW_ALLOC_CHECK(t);
  b->t = t;
  uint32_t *c = realloc(b->c, cap * sizeof *c);
  NTW_ALLOC_CHECK(c);
  b->c = c;
  b->capev = cap;
  return 0;
}

/* Seconds (relative to time zero) -> µs, with the checks every format shares.
 * `what` names the element, e.g. "/spikes[12]". */
static int sec_to_us(const char *path, const char *what, double s, uint64_t *us) {
  NTW_CHECK(isfinite(s), NTW_ERR_FORMAT, "%s: %s: non-finite time (%g)", path, what, s);
  NTW_CHECK(s > -0.5e-6, NTW_ERR_FORMAT, "%s: %s: negative time %.9g s", path, what, s);
  NTW_CHECK(s <= REC_MAX_S, NTW_ERR_FORMAT, "%s: %s: time %.9g s is out of range", path,
            what, s);
  double v = nearbyint(s * 1e6);
  *us = v > 0 ? (uint64_t)v : 0;
  return 0;
}

typedef struct {
  uint64_t t;
  uint32_t c;
} ev_pair;

static int cmp_ev(const void *a, const void *b) {
  const ev_pair *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return (x->c > y->c) - (x->c < y->c);
}

/* Sorts by (time, channel) and hands the arrays to a new recording. */
static int builder_finish(builder *b, ntw_rec_format fmt, uint64_t declared_us, double t0_s,
                          ntw_recording **out) {
  ev_pair *p = NULL;
  if (b->nev) {
    p = malloc(b->nev * sizeof *p);
    NTW_ALLOC_CHECK(p);
    int sorted = 1;
    for (size_t i = 0; i < b->nev; i++) {
      p[i].t = b->t[i];
      p[i].c = b->c[i];
      if (i && cmp_ev(&p[i - 1], &p[i]) > 0) sorted = 0;
    }
    if (!sorted) qsort(p, b->nev, sizeof *p, cmp_ev);
    for (size_t i = 0; i < b->nev; i++) {
      b->t[i] = p[i].t;
      b->c[i] = p[i].c;
    }
    free(p);
  }
  ntw_recording *r = calloc(1, sizeof *r);
  NTW_ALLOC_CHECK(r);
  r->path = strdup(b->path);
  if (!r->path) {
    free(r);
    return NTW_ERR(NTW_ERR_NOMEM, "out of memory");
  }
  r->format = fmt;
  r->n_channels = b->nch;
  r->channels = b->ch;
  r->n_events = b->nev;
  r->t_us = b->t;
  r->channel = b->c;
  uint64_t last = b->nev ? b->t[b->nev - 1] : 0;
  r->duration_us = declared_us > last ? declared_us : last;
  r->t0_s = t0_s;
  memset(b, 0, sizeof *b);
  *out = r;
  return 0;
}

void ntw_recording_destroy(ntw_recording **pr) {
  if (!pr || !*pr) return;
  ntw_recording *r = *pr;
  for (size_t i = 0; i < r->n_channels; i++) free(r->channels[i].label);
  free(r->channels);
  free(r->t_us);
  free(r->channel);
  free(r->path);
  free(r);
  *pr = NULL;
}

/* "ch_12A_unit_0", "12", "ch_12" -> electrode 12 (column 1, row 2), unit. */
static void parse_mea_label(const char *s, int32_t *electrode, int32_t *unit) {
  *electrode = -1;
  *unit = -1;
  if (strncmp(s, "ch_", 3) == 0) s += 3;
  if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1])) return;
  if (isdigit((unsigned char)s[2])) return; /* not an 8x8 "CR" label */
  *electrode = (s[0] - '0') * 10 + (s[1] - '0');
  s += 2;
  while (isalpha((unsigned char)*s)) s++;
  if (strncmp(s, "_unit_", 6) == 0 && isdigit((unsigned char)s[6]))
    *unit = (int32_t)strtol(s + 6, NULL, 10);
}

/* -------------------------------------------------------------- HDF5 help */

typedef struct {
  H5E_auto2_t func;
  void *data;
} h5_quiet;

static void quiet_on(h5_quiet *q) {
  H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void quiet_off(h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

/* Does the absolute path exist (every component checked)? Type: 0 any,
 * 1 group, 2 dataset. */
static int h5_has(hid_t f, const char *path, int type) {
  char buf[512];
  size_t n = strlen(path);
  if (n >= sizeof buf) return 0;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char save = buf[i];
      buf[i] = '\0';
      htri_t e = H5Lexists(f, buf, H5P_DEFAULT);
      if (e <= 0) return 0;
      e = H5Oexists_by_name(f, buf, H5P_DEFAULT);
      if (e <= 0) return 0;
      buf[i] = save;
    }
  }
  if (!type) return 1;
  H5O_info_t info;
  if (H5Oget_info_by_name(f, path, &info, H5P_DEFAULT) < 0) return 0;
  return type == 1 ? info.type == H5O_TYPE_GROUP : info.type == H5O_TYPE_DATASET;
}

static const char *class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    default: return "other";
  }
}

/* Opens dataset `name`, checks its class and that it is 1-D (or 2-D with a
 * dimension of 1 when allow_2d; 2-D [rows, cols] exactly when want_rows > 0).
 * Returns the dataset id in *ds and element count in *n. */
static int h5_open_ds(const char *path, hid_t f, const char *name, H5T_class_t want,
                      int allow_2d, uint64_t want_rows, hid_t *ds, uint64_t *n) {
  *ds = H5I_INVALID_HID;
  NTW_CHECK(h5_has(f, name, 2), NTW_ERR_FORMAT, "%s: %s: missing dataset", path, name);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  NTW_CHECK(d >= 0, NTW_ERR_HDF5, "%s: %s: cannot open dataset", path, name);
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
  int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
  hsize_t dims[H5S_MAX_RANK] = {0};
  if (rank > 0 && rank <= H5S_MAX_RANK) H5Sget_simple_extent_dims(s, dims, NULL);
  if (t >= 0) H5Tclose(t);
  if (s >= 0) H5Sclose(s);
  int err = 0;
  if (cls != want) {
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s: wrong type: expected %s, got %s", path, name,
                  class_name(want), class_name(cls));
  } else if (want_rows) {
    if (rank != 2 || dims[0] != want_rows)
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s: wrong shape: expected [%" PRIu64 ", C], got rank %d",
                    path, name, want_rows, rank);
    else
      *n = (uint64_t)dims[0] * dims[1];
  } else if (rank == 1) {
    *n = dims[0];
  } else if (rank == 2 && allow_2d && (dims[0] == 1 || dims[1] == 1)) {
    *n = (uint64_t)dims[0] * dims[1];
  } else if (rank == 0) {
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s: wrong shape: expected a 1-D array, got a scalar",
                  path, name);
  } else {
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s: wrong shape: expected a 1-D array, got rank %d",
                  path, name, rank);
  }
  if (!err && *n > REC_MAX_ELEMS)
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s: too many elements (%" PRIu64 ")", path, name, *n);
  if (err) {
    H5Dclose(d);
    return err;
  }
  *ds = d;
  return 0;
}

/* Reads a whole numeric dataset converted to mtype (esz bytes per element). */
static int h5_read_num(const char *path, hid_t f, const char *name, H5T_class_t want,
                       int allow_2d, uint64_t want_rows, hid_t mtype, size_t esz,
                       void **out, uint64_t *n) {
  *out = NULL;
  hid_t d;
  NTW_TRY(h5_open_ds(path, f, name, want, allow_2d, want_rows, &d, n));
  void *buf = malloc(*n ? *n * esz : 1);
  if (!buf) {
    H5Dclose(d);
    return NTW_ERR(NTW_ERR_NOMEM, "%s: %s: out of memory (%" PRIu64 " elements)", path, name, *n);
  }
  herr_t st = *n ? H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
  H5Dclose(d);
  if (st < 0) {
    free(buf);
    return NTW_ERR(NTW_ERR_HDF5, "%s: %s: cannot read (unreadable or out-of-range values)",
                   path, name);
  }
  *out = buf;
  return 0;
}

static void free_strs(char **s, uint64_t n) {
  if (!s) return;
  for (uint64_t i = 0; i < n; i++) free(s[i]);
  free(s);
}

/* Reads strings from a dataset (whole, or one compound member `field`),
 * fixed- or variable-length, into n malloc'd C strings. */
static int h5_read_strs(const char *path, hid_t d, const char *name, const char *field,
                        uint64_t n, char ***out) {
  *out = NULL;
  hid_t ft = H5Dget_type(d), st = H5I_INVALID_HID, mt = H5I_INVALID_HID, mem = H5I_INVALID_HID;
  char **res = NULL;
  void *buf = NULL;
  int err = 0;
  if (ft < 0) return NTW_ERR(NTW_ERR_HDF5, "%s: %s: cannot read type", path, name);
  if (field) {
    int idx = H5Tget_member_index(ft, field);
    st = idx >= 0 ? H5Tget_member_type(ft, (unsigned)idx) : H5I_INVALID_HID;
  } else {
    st = H5Tcopy(ft);
  }
  if (st < 0 || H5Tget_class(st) != H5T_STRING) {
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s%s%s: wrong type: expected string, got %s", path, name,
                  field ? "." : "", field ? field : "",
                  st < 0 ? "nothing" : class_name(H5Tget_class(st)));
    goto done;
  }
  htri_t vl = H5Tis_variable_str(st);
  size_t fsz = vl > 0 ? sizeof(char *) : H5Tget_size(st);
  mt = H5Tcopy(H5T_C_S1);
  if (vl > 0) H5Tset_size(mt, H5T_VARIABLE);
  else H5Tset_size(mt, fsz + 1), H5Tset_strpad(mt, H5T_STR_NULLTERM);
  size_t esz = vl > 0 ? sizeof(char *) : fsz + 1;
  if (field) {
    mem = H5Tcreate(H5T_COMPOUND, esz);
    H5Tinsert(mem, field, 0, mt);
  } else {
    mem = H5Tcopy(mt);
  }
  buf = calloc(n ? n : 1, esz);
  res = calloc(n ? n : 1, sizeof *res);
  if (!buf || !res) {
    err = NTW_ERR(NTW_ERR_NOMEM, "%s: %s: out of memory", path, name);
    goto done;
  }
  if (n && H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
    err = NTW_ERR(NTW_ERR_HDF5, "%s: %s%s%s: cannot read strings", path, name, field ? "." : "",
                  field ? field : "");
    goto done;
  }
  for (uint64_t i = 0; i < n && !err; i++) {
    const char *s = vl > 0 ? ((char **)buf)[i] : (char *)buf + i * esz;
    res[i] = strdup(s ? s : "");
    if (!res[i]) err = NTW_ERR(NTW_ERR_NOMEM, "%s: %s: out of memory", path, name);
  }
  if (vl > 0 && n) {
    hid_t sp = H5Dget_space(d);
    H5Dvlen_reclaim(mem, sp, H5P_DEFAULT, buf);
    H5Sclose(sp);
  }
done:
  free(buf);
  if (mem >= 0) H5Tclose(mem);
  if (mt >= 0) H5Tclose(mt);
  if (st >= 0) H5Tclose(st);
  H5Tclose(ft);
  if (err) free_strs(res, n);
  else *out = res;
  return err;
}

/* Appends times v[lo..hi) (s, minus t0) of channel `chan` (index ci): each
 * value is checked (finite, not negative) before the order within the
 * channel, so the message names the first bad element. */
static int push_times(builder *b, const char *ds, const double *v, uint64_t lo, uint64_t hi,
                      double t0, uint32_t ci, const char *chan) {
  char what[300];
  for (uint64_t k = lo; k < hi; k++) {
    snprintf(what, sizeof what, "%s[%" PRIu64 "]", ds, k);
    NTW_TRY(sec_to_us(b->path, what, v[k] - t0, &b->t[b->nev]));
    NTW_CHECK(k == lo || !(v[k] < v[k - 1]), NTW_ERR_FORMAT,
              "%s: %s: times of channel %s decrease (%.9g s after %.9g s); "
              "per-channel times must be sorted",
              b->path, what, chan, v[k], v[k - 1]);
    b->c[b->nev++] = ci;
  }
  return 0;
}

/* -------------------------------------------------------------- sjemea */

static int load_sjemea(const char *path, hid_t f, builder *b, uint64_t *dur_us, double *t0) {
  double *sp = NULL, *epos = NULL, *rt = NULL, *sd = NULL;
  int64_t *cnt = NULL;
  char **names = NULL;
  uint64_t n = 0, c = 0, nn = 0, ne = 0, nrt = 0, nsd;
  int err = 0;
  hid_t d = H5I_INVALID_HID;
  NTW_GOTO(err, h5_read_num(path, f, "/spikes", H5T_FLOAT, 0, 0, H5T_NATIVE_DOUBLE, 8,
                            (void **)&sp, &n), out);
  NTW_GOTO(err, h5_read_num(path, f, "/sCount", H5T_INTEGER, 0, 0, H5T_NATIVE_INT64, 8,
                            (void **)&cnt, &c), out);
  NTW_GOTO(err, h5_open_ds(path, f, "/names", H5T_STRING, 0, 0, &d, &nn), out);
  if (nn != c) {
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: /names: has %" PRIu64 " entries but /sCount has %" PRIu64,
                  path, nn, c);
    goto out;
  }
  NTW_GOTO(err, h5_read_strs(path, d, "/names", NULL, nn, &names), out);
  NTW_GOTO(err, h5_read_num(path, f, "/epos", H5T_FLOAT, 0, 2, H5T_NATIVE_DOUBLE, 8,
                            (void **)&epos, &ne), out);
  if (ne != 2 * c) {
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: /epos: wrong shape: expected [2, %" PRIu64 "], got [2, %" PRIu64 "]",
                  path, c, ne / 2);
    goto out;
  }
  uint64_t sum = 0;
  for (uint64_t i = 0; i < c; i++) {
    if (cnt[i] < 0) {
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: /sCount[%" PRIu64 "]: negative count %" PRId64, path, i,
                    cnt[i]);
      goto out;
    }
    sum += (uint64_t)cnt[i];
  }
  if (sum != n) {
    err = NTW_ERR(NTW_ERR_FORMAT,
                  "%s: /sCount: sums to %" PRIu64 " but /spikes has %" PRIu64 " elements", path,
                  sum, n);
    goto out;
  }
  *t0 = 0;
  uint64_t declared = 0;
  if (h5_has(f, "/recordingtime", 2)) {
    NTW_GOTO(err, h5_read_num(path, f, "/recordingtime", H5T_FLOAT, 0, 0, H5T_NATIVE_DOUBLE, 8,
                              (void **)&rt, &nrt), out);
    if (nrt != 2 || !isfinite(rt[0]) || !isfinite(rt[1]) || rt[1] < rt[0] ||
        fabs(rt[0]) > REC_MAX_S || fabs(rt[1]) > REC_MAX_S) {
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: /recordingtime: expected [begin, end] with end >= begin",
                    path);
      goto out;
    }
    *t0 = rt[0];
    NTW_GOTO(err, sec_to_us(path, "/recordingtime", rt[1] - rt[0], &declared), out);
  } else if (h5_has(f, "/summary/duration", 2)) {
    NTW_GOTO(err, h5_read_num(path, f, "/summary/duration", H5T_FLOAT, 0, 0, H5T_NATIVE_DOUBLE,
                              8, (void **)&sd, &nsd), out);
    if (nsd >= 1) NTW_GOTO(err, sec_to_us(path, "/summary/duration", sd[0], &declared), out);
  }
  *dur_us = declared;
  NTW_GOTO(err, reserve_events(b, n), out);
  uint64_t off = 0;
  for (uint64_t i = 0; i < c; i++) {
    int32_t el, unit;
    parse_mea_label(names[i], &el, &unit);
    NTW_GOTO(err, add_channel(b, (int64_t)i, names[i], epos[i], epos[c + i], el, unit), out);
    uint64_t hi = off + (uint64_t)cnt[i];
    NTW_GOTO(err, push_times(b, "/spikes", sp, off, hi, *t0, (uint32_t)i, names[i]), out);
    off = hi;
  }
out:
  if (d >= 0) H5Dclose(d);
  free(sp);
  free(cnt);
  free(epos);
  free(rt);
  free(sd);
  free_strs(names, nn);
  return err;
}

/* -------------------------------------------------------------- NWB */

#define NWB_ELEC "/general/extracellular_ephys/electrodes"

/* Optional numeric column of the electrodes table, NULL when absent. */
static int nwb_elec_col(const char *path, hid_t f, const char *col, uint64_t rows,
                        double **out) {
  *out = NULL;
  char name[256];
  snprintf(name, sizeof name, NWB_ELEC "/%s", col);
  if (!h5_has(f, name, 2)) return 0;
  uint64_t n;
  hid_t d;
  NTW_TRY(h5_open_ds(path, f, name, H5T_FLOAT, 0, 0, &d, &n));
  H5Dclose(d);
  NTW_CHECK(n == rows, NTW_ERR_FORMAT, "%s: %s: has %" PRIu64 " rows, %s/id has %" PRIu64, path,
            name, n, NWB_ELEC, rows);
  return h5_read_num(path, f, name, H5T_FLOAT, 0, 0, H5T_NATIVE_DOUBLE, 8, (void **)out, &n);
}

static int load_nwb(const char *path, hid_t f, builder *b) {
  double *st = NULL, *ex = NULL, *ey = NULL;
  int64_t *idx = NULL, *ids = NULL, *el = NULL, *elidx = NULL, *eid = NULL;
  uint64_t n = 0, u = 0, nid = 0, nel = 0, nelidx = 0, nrows = 0;
  int err = 0;
  NTW_GOTO(err, h5_read_num(path, f, "/units/spike_times", H5T_FLOAT, 0, 0, H5T_NATIVE_DOUBLE, 8,
                            (void **)&st, &n), out);
  NTW_GOTO(err, h5_read_num(path, f, "/units/spike_times_index", H5T_INTEGER, 0, 0,
                            H5T_NATIVE_INT64, 8, (void **)&idx, &u), out);
  NTW_GOTO(err, h5_read_num(path, f, "/units/id", H5T_INTEGER, 0, 0, H5T_NATIVE_INT64, 8,
                            (void **)&ids, &nid), out);
  if (nid != u) {
    err = NTW_ERR(NTW_ERR_FORMAT,
                  "%s: /units/id: has %" PRIu64 " rows but /units/spike_times_index has %" PRIu64,
                  path, nid, u);
    goto out;
  }
  for (uint64_t i = 0; i < u; i++) {
    int64_t prev = i ? idx[i - 1] : 0;
    if (idx[i] < prev || (uint64_t)idx[i] > n) {
      err = NTW_ERR(NTW_ERR_FORMAT,
                    "%s: /units/spike_times_index[%" PRIu64 "]: end offset %" PRId64
                    " is not within [%" PRId64 ", %" PRIu64 "] (cumulative end offsets into "
                    "/units/spike_times)",
                    path, i, idx[i], prev, n);
      goto out;
    }
  }
  if ((u ? (uint64_t)idx[u - 1] : 0) != n) {
    err = NTW_ERR(NTW_ERR_FORMAT,
                  "%s: /units/spike_times_index: last end offset %" PRId64
                  " differs from the length of /units/spike_times (%" PRIu64 ")",
                  path, u ? idx[u - 1] : 0, n);
    goto out;
  }
  /* Optional electrodes (a DynamicTableRegion into the electrodes table). */
  if (h5_has(f, "/units/electrodes", 2)) {
    NTW_GOTO(err, h5_read_num(path, f, "/units/electrodes", H5T_INTEGER, 0, 0, H5T_NATIVE_INT64,
                              8, (void **)&el, &nel), out);
    if (h5_has(f, "/units/electrodes_index", 2)) {
      NTW_GOTO(err, h5_read_num(path, f, "/units/electrodes_index", H5T_INTEGER, 0, 0,
                                H5T_NATIVE_INT64, 8, (void **)&elidx, &nelidx), out);
      if (nelidx != u) {
        err = NTW_ERR(NTW_ERR_FORMAT, "%s: /units/electrodes_index: has %" PRIu64
                      " rows, expected %" PRIu64 " (one per unit)", path, nelidx, u);
        goto out;
      }
      for (uint64_t i = 0; i < u; i++)
        if (elidx[i] < (i ? elidx[i - 1] : 0) || (uint64_t)elidx[i] > nel) {
          err = NTW_ERR(NTW_ERR_FORMAT, "%s: /units/electrodes_index[%" PRIu64
                        "]: end offset %" PRId64 " out of range", path, i, elidx[i]);
          goto out;
        }
    } else if (nel != u) {
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: /units/electrodes: has %" PRIu64
                    " rows, expected %" PRIu64 " (one per unit)", path, nel, u);
      goto out;
    }
    if (h5_has(f, NWB_ELEC "/id", 2)) {
      NTW_GOTO(err, h5_read_num(path, f, NWB_ELEC "/id", H5T_INTEGER, 0, 0, H5T_NATIVE_INT64, 8,
                                (void **)&eid, &nrows), out);
      const char *cx = h5_has(f, NWB_ELEC "/rel_x", 2) ? "rel_x" : "x";
      const char *cy = h5_has(f, NWB_ELEC "/rel_y", 2) ? "rel_y" : "y";
      NTW_GOTO(err, nwb_elec_col(path, f, cx, nrows, &ex), out);
      NTW_GOTO(err, nwb_elec_col(path, f, cy, nrows, &ey), out);
    }
  }
  NTW_GOTO(err, reserve_events(b, n), out);
  char label[64];
  for (uint64_t i = 0; i < u; i++) {
    int32_t elec = -1, unit = -1;
    double x = NAN, y = NAN;
    if (el) {
      int64_t lo = elidx ? (i ? elidx[i - 1] : 0) : (int64_t)i;
      int64_t hi = elidx ? elidx[i] : (int64_t)i + 1;
      if (hi > lo) {
        int64_t row = el[lo];
        if (row < 0 || (eid && (uint64_t)row >= nrows)) {
          err = NTW_ERR(NTW_ERR_FORMAT, "%s: /units/electrodes[%" PRId64 "]: row %" PRId64
                        " is not in %s (%" PRIu64 " rows)", path, lo, row, NWB_ELEC, nrows);
          goto out;
        }
        elec = (int32_t)(eid ? eid[row] : row);
        if (ex) x = ex[row];
        if (ey) y = ey[row];
        unit = 0; /* units before this one on the same electrode */
        for (uint64_t k = 0; k < b->nch; k++)
          if (b->ch[k].electrode == elec) unit++;
      }
    }
    snprintf(label, sizeof label, "unit_%" PRId64, ids[i]);
    NTW_GOTO(err, add_channel(b, ids[i], label, x, y, elec, unit), out);
    uint64_t lo = i ? (uint64_t)idx[i - 1] : 0, hi = (uint64_t)idx[i];
    NTW_GOTO(err, push_times(b, "/units/spike_times", st, lo, hi, 0.0, (uint32_t)i, label), out);
  }
out:
  free(st);
  free(idx);
  free(ids);
  free(el);
  free(elidx);
  free(eid);
  free(ex);
  free(ey);
  return err;
}

/* -------------------------------------------------------------- MCS */

#define MCS_REC "/Data/Recording_0"
#define MCS_STREAM MCS_REC "/TimeStampStream/Stream_0"
#define MCS_INFO MCS_STREAM "/InfoTimeStamp"

/* Reads integer member `field` of the compound dataset d into int64[n]. */
static int mcs_int_field(const char *path, hid_t d, const char *field, uint64_t n,
                         int64_t **out) {
  *out = NULL;
  hid_t ft = H5Dget_type(d);
  NTW_CHECK(ft >= 0, NTW_ERR_HDF5, "%s: %s: cannot read type", path, MCS_INFO);
  int idx = H5Tget_member_index(ft, field);
  H5T_class_t cls = H5T_NO_CLASS;
  if (idx >= 0) {
    hid_t mt = H5Tget_member_type(ft, (unsigned)idx);
    cls = H5Tget_member_class(ft, (unsigned)idx);
    H5Tclose(mt);
  }
  H5Tclose(ft);
  NTW_CHECK(idx >= 0, NTW_ERR_FORMAT, "%s: %s: missing field %s", path, MCS_INFO, field);
  NTW_CHECK(cls == H5T_INTEGER, NTW_ERR_FORMAT, "%s: %s.%s: wrong type: expected integer, got %s",
            path, MCS_INFO, field, class_name(cls));
  int64_t *v = malloc((n ? n : 1) * sizeof *v);
  NTW_ALLOC_CHECK(v);
  hid_t mem = H5Tcreate(H5T_COMPOUND, sizeof(int64_t));
  H5Tinsert(mem, field, 0, H5T_NATIVE_INT64);
  herr_t st = n ? H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) : 0;
  H5Tclose(mem);
  if (st < 0) {
    free(v);
    return NTW_ERR(NTW_ERR_HDF5, "%s: %s.%s: cannot read", path, MCS_INFO, field);
  }
  *out = v;
  return 0;
}

static int load_mcs(const char *path, hid_t f, builder *b, uint64_t *dur_us) {
  int64_t *eid = NULL, *expo = NULL, *ticks = NULL;
  char **labels = NULL;
  uint64_t n = 0;
  int err = 0;
  hid_t d = H5I_INVALID_HID;
  NTW_GOTO(err, h5_open_ds(path, f, MCS_INFO, H5T_COMPOUND, 0, 0, &d, &n), out);
  NTW_GOTO(err, mcs_int_field(path, d, "TimeStampEntityID", n, &eid), out);
  NTW_GOTO(err, mcs_int_field(path, d, "Exponent", n, &expo), out);
  {
    hid_t ft = H5Dget_type(d);
    int has_label = ft >= 0 && H5Tget_member_index(ft, "Label") >= 0;
    if (ft >= 0) H5Tclose(ft);
    if (!has_label) {
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s: missing field Label", path, MCS_INFO);
      goto out;
    }
  }
  NTW_GOTO(err, h5_read_strs(path, d, MCS_INFO, "Label", n, &labels), out);
  *dur_us = 0;
  if (H5Aexists_by_name(f, MCS_REC, "Duration", H5P_DEFAULT) > 0) {
    hid_t a = H5Aopen_by_name(f, MCS_REC, "Duration", H5P_DEFAULT, H5P_DEFAULT);
    hid_t at = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    int64_t v = -1;
    if (at < 0 || H5Tget_class(at) != H5T_INTEGER || H5Aread(a, H5T_NATIVE_INT64, &v) < 0 ||
        v < 0)
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s: attribute Duration: expected a non-negative integer (µs)",
                    path, MCS_REC);
    if (at >= 0) H5Tclose(at);
    if (a >= 0) H5Aclose(a);
    if (err) goto out;
    *dur_us = (uint64_t)v;
  }
  for (uint64_t i = 0; i < n; i++) {
    char name[160], what[200];
    snprintf(name, sizeof name, MCS_STREAM "/TimeStampEntity_%" PRId64, eid[i]);
    for (uint64_t k = 0; k < i; k++)
      if (eid[k] == eid[i]) {
        err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s.TimeStampEntityID[%" PRIu64 "]: duplicate id %" PRId64,
                      path, MCS_INFO, i, eid[i]);
        goto out;
      }
    int64_t e = expo[i] + 6; /* to µs: x 10^e */
    if (e < -18 || e > 12) {
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s.Exponent[%" PRIu64 "]: %" PRId64 " is out of range [-24, 6]",
                    path, MCS_INFO, i, expo[i]);
      goto out;
    }
    uint64_t m;
    NTW_GOTO(err, h5_read_num(path, f, name, H5T_INTEGER, 1, 0, H5T_NATIVE_INT64, 8,
                              (void **)&ticks, &m), out);
    int32_t el, unit;
    parse_mea_label(labels[i], &el, &unit);
    NTW_GOTO(err, add_channel(b, eid[i], labels[i], NAN, NAN, el, unit), out);
    NTW_GOTO(err, reserve_events(b, m), out);
    uint64_t p10 = 1;
    for (int64_t k = 0; k < (e < 0 ? -e : e); k++) p10 *= 10;
    for (uint64_t k = 0; k < m; k++) {
      snprintf(what, sizeof what, "%s[%" PRIu64 "]", name, k);
      if (ticks[k] < 0) {
        err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s: negative time stamp %" PRId64, path, what, ticks[k]);
        goto out;
      }
      if (k && ticks[k] < ticks[k - 1]) {
        err = NTW_ERR(NTW_ERR_FORMAT,
                      "%s: %s: times of channel %s decrease (%" PRId64 " after %" PRId64
                      " ticks); per-channel times must be sorted",
                      path, what, labels[i], ticks[k], ticks[k - 1]);
        goto out;
      }
      uint64_t v = (uint64_t)ticks[k], us;
      if (e >= 0) {
        if (v > (uint64_t)(REC_MAX_S * 1e6) / p10) {
          err = NTW_ERR(NTW_ERR_FORMAT, "%s: %s: time stamp %" PRId64 " is out of range", path,
                        what, ticks[k]);
          goto out;
        }
        us = v * p10;
      } else {
        us = v / p10 + (v % p10 >= (p10 + 1) / 2); /* nearest µs, ties up */
      }
      b->t[b->nev] = us;
      b->c[b->nev++] = (uint32_t)(b->nch - 1);
    }
    free(ticks);
    ticks = NULL;
  }
out:
  if (d >= 0) H5Dclose(d);
  free(eid);
  free(expo);
  free(ticks);
  free_strs(labels, n);
  return err;
}

/* -------------------------------------------------------------- CSV */

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

typedef struct {
  char *label;
  size_t idx;
  int64_t ival;
  int is_int;
  double last;
} csv_chan;

static int cmp_csv_chan(const void *a, const void *b) {
  const csv_chan *x = a, *y = b;
  return (x->ival > y->ival) - (x->ival < y->ival);
}

static int load_csv(const char *path, builder *b) {
  FILE *fp = fopen(path, "r");
  NTW_CHECK(fp, NTW_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
  char *line = NULL;
  size_t cap = 0, nch = 0, capch = 0, lineno = 0;
  csv_chan *ch = NULL;
  int err = 0, header = 0;
  ssize_t len;
  /* Channel lookup: a small open-addressing hash of labels. */
  size_t hcap = 0;
  size_t *htab = NULL;
  while ((len = getline(&line, &cap, fp)) >= 0) {
    lineno++;
    if (memchr(line, '\0', (size_t)len)) {
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: line %zu: binary data (NUL byte): not a CSV file", path,
                    lineno);
      goto out;
    }
    char *s = trim(line);
    if (!*s || *s == '#') continue;
    char *comma = strchr(s, ',');
    if (!header) {
      if (comma) *comma = '\0';
      char *c0 = trim(s), *c1 = comma ? trim(comma + 1) : NULL;
      if (!comma || strcasecmp(c0, "channel") != 0 || strcasecmp(c1, "time_s") != 0) {
        err = NTW_ERR(NTW_ERR_FORMAT,
                      "%s: line %zu: expected the header 'channel,time_s' (or the file is not a "
                      "known recording format: sjemea/NWB/MCS HDF5 or CSV)",
                      path, lineno);
        goto out;
      }
      header = 1;
      continue;
    }
    if (!comma || strchr(comma + 1, ',')) {
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: line %zu: malformed: expected 'channel,time_s' (2 fields)",
                    path, lineno);
      goto out;
    }
    *comma = '\0';
    char *lab = trim(s), *ts = trim(comma + 1);
    size_t ll = strlen(lab);
    if (ll >= 2 && lab[0] == '"' && lab[ll - 1] == '"') {
      lab[ll - 1] = '\0';
      lab = trim(lab + 1);
    }
    if (!*lab) {
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: line %zu: channel: empty label", path, lineno);
      goto out;
    }
    char *end;
    errno = 0;
    double t = strtod(ts, &end);
    if (!*ts || *end || errno == ERANGE) {
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: line %zu: time_s: not a number ('%.40s')", path, lineno,
                    ts);
      goto out;
    }
    char what[64];
    snprintf(what, sizeof what, "line %zu: time_s", lineno);
    uint64_t us;
    NTW_GOTO(err, sec_to_us(path, what, t, &us), out);
    /* find or add the channel */
    if (2 * (nch + 1) > hcap) {
      size_t nc = hcap ? 2 * hcap : 256;
      size_t *nt = malloc(nc * sizeof *nt);
      if (!nt) {
        err = NTW_ERR(NTW_ERR_NOMEM, "out of memory");
        goto out;
      }
      for (size_t i = 0; i < nc; i++) nt[i] = SIZE_MAX;
      for (size_t k = 0; k < nch; k++) {
        size_t h = 5381;
        for (const char *p = ch[k].label; *p; p++) h = h * 33 + (unsigned char)*p;
        while (nt[h & (nc - 1)] != SIZE_MAX) h++;
        nt[h & (nc - 1)] = k;
      }
      free(htab);
      htab = nt;
      hcap = nc;
    }
    size_t h = 5381;
    for (const char *p = lab; *p; p++) h = h * 33 + (unsigned char)*p;
    size_t k;
    while ((k = htab[h & (hcap - 1)]) != SIZE_MAX && strcmp(ch[k].label, lab) != 0) h++;
    if (k == SIZE_MAX) {
      if (nch == capch) {
        size_t nc = capch ? 2 * capch : 64;
        csv_chan *n2 = realloc(ch, nc * sizeof *n2);
        if (!n2) {
          err = NTW_ERR(NTW_ERR_NOMEM, "out of memory");
          goto out;
        }
        ch = n2;
        capch = nc;
      }
      k = nch;
      ch[k].label = strdup(lab);
      if (!ch[k].label) {
        err = NTW_ERR(NTW_ERR_NOMEM, "out of memory");
        goto out;
      }
      ch[k].idx = k;
      ch[k].last = -1;
      errno = 0;
      long long v = strtoll(lab, &end, 10);
      ch[k].is_int = !*end && errno == 0;
      ch[k].ival = v;
      htab[h & (hcap - 1)] = k;
      nch++;
    }
    if (t < ch[k].last) {
      err = NTW_ERR(NTW_ERR_FORMAT,
                    "%s: line %zu: time_s: times of channel %s decrease (%.9g s after %.9g s); "
                    "per-channel times must be sorted",
                    path, lineno, lab, t, ch[k].last);
      goto out;
    }
    ch[k].last = t;
    NTW_GOTO(err, reserve_events(b, 1), out);
    b->t[b->nev] = us;
    b->c[b->nev++] = (uint32_t)k; /* first-appearance index, remapped below */
  }
  if (ferror(fp)) {
    err = NTW_ERR(NTW_ERR_IO, "%s: read error (%s)", path, strerror(errno));
    goto out;
  }
  if (!header) {
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: line %zu: missing the header 'channel,time_s' (empty file?)",
                  path, lineno);
    goto out;
  }
  int all_int = 1;
  for (size_t k = 0; k < nch; k++) all_int &= ch[k].is_int;
  if (all_int && nch) {
    qsort(ch, nch, sizeof *ch, cmp_csv_chan);
    for (size_t k = 1; k < nch; k++)
      if (ch[k].ival == ch[k - 1].ival) {
        err = NTW_ERR(NTW_ERR_FORMAT, "%s: channel: labels '%s' and '%s' are the same integer",
                      path, ch[k - 1].label, ch[k].label);
        goto out;
      }
    size_t *map = malloc(nch * sizeof *map);
    if (!map) {
      err = NTW_ERR(NTW_ERR_NOMEM, "out of memory");
      goto out;
    }
    for (size_t k = 0; k < nch; k++) map[ch[k].idx] = k;
    for (size_t i = 0; i < b->nev; i++) b->c[i] = (uint32_t)map[b->c[i]];
    free(map);
  }
  for (size_t k = 0; k < nch; k++) {
    int32_t el, unit;
    parse_mea_label(ch[k].label, &el, &unit);
    NTW_GOTO(err, add_channel(b, all_int ? ch[k].ival : (int64_t)k, ch[k].label, NAN, NAN, el,
                              unit), out);
  }
out:
  for (size_t k = 0; k < nch; k++) free(ch[k].label);
  free(ch);
  free(htab);
  free(line);
  fclose(fp);
  return err;
}

/* -------------------------------------------------------------- dispatch */

static int is_hdf5(const char *path, int *yes) {
  *yes = 0;
  FILE *fp = fopen(path, "rb");
  NTW_CHECK(fp, NTW_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  unsigned char buf[8];
  /* The superblock is at 0 or, after a user block, at 512, 1024, 2048, ... */
  for (long off = 0; off <= (1L << 30) && !*yes; off = off ? 2 * off : 512) {
    if (fseek(fp, off, SEEK_SET) != 0 || fread(buf, 1, 8, fp) != 8) break;
    *yes = memcmp(buf, sig, 8) == 0;
  }
  fclose(fp);
  return 0;
}

static int load_hdf5(const char *path, ntw_rec_format fmt, builder *b, ntw_rec_format *got,
                     uint64_t *dur, double *t0) {
  h5_quiet q;
  quiet_on(&q);
  int err = 0;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    quiet_off(&q);
    return NTW_ERR(NTW_ERR_HDF5, "%s: cannot open as HDF5 (truncated or damaged?)", path);
  }
  if (fmt == NTW_REC_AUTO) {
    if (h5_has(f, "/spikes", 2) && h5_has(f, "/sCount", 0)) fmt = NTW_REC_SJEMEA;
    else if (h5_has(f, "/units/spike_times", 0)) fmt = NTW_REC_NWB;
    else if (h5_has(f, MCS_REC "/TimeStampStream", 1)) fmt = NTW_REC_MCS;
    else {
      err = NTW_ERR(NTW_ERR_FORMAT,
                    "%s: HDF5 file of no known recording layout (looked for /spikes + /sCount "
                    "(sjemea), /units/spike_times (NWB), " MCS_REC "/TimeStampStream (MCS))",
                    path);
    }
  }
  *got = fmt;
  *dur = 0;
  *t0 = 0;
  if (!err) {
    switch (fmt) {
      case NTW_REC_SJEMEA: err = load_sjemea(path, f, b, dur, t0); break;
      case NTW_REC_NWB: err = load_nwb(path, f, b); break;
      case NTW_REC_MCS: err = load_mcs(path, f, b, dur); break;
      default: err = NTW_ERR(NTW_ERR_ARG, "%s: format %s is not an HDF5 layout", path,
                             ntw_rec_format_name(fmt));
    }
  }
  H5Fclose(f);
  quiet_off(&q);
  return err;
}

int ntw_recording_load_as(const char *path, ntw_rec_format fmt, ntw_recording **out) {
  NTW_CHECK(out, NTW_ERR_ARG, "ntw_recording_load: out is NULL");
  *out = NULL;
  NTW_CHECK(path && *path, NTW_ERR_ARG, "recording: empty path");
  NTW_CHECK((unsigned)fmt <= NTW_REC_CSV, NTW_ERR_ARG, "%s: invalid format %d", path, (int)fmt);
  int h5;
  NTW_TRY(is_hdf5(path, &h5));
  builder b = {.path = path};
  ntw_rec_format got = fmt;
  uint64_t dur = 0;
  double t0 = 0;
  int err;
  if (fmt == NTW_REC_CSV || (fmt == NTW_REC_AUTO && !h5)) {
    got = NTW_REC_CSV;
    err = h5 ? NTW_ERR(NTW_ERR_FORMAT, "%s: is an HDF5 file, not CSV", path) : load_csv(path, &b);
  } else if (!h5) {
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: not an HDF5 file (no HDF5 signature), cannot read as %s",
                  path, ntw_rec_format_name(fmt));
  } else {
    err = load_hdf5(path, fmt, &b, &got, &dur, &t0);
  }
  if (!err && b.nch > UINT32_MAX)
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: too many channels (%zu)", path, b.nch);
  if (!err) err = builder_finish(&b, got, dur, t0, out);
  builder_free(&b);
  return err;
}

int ntw_recording_load(const char *path, ntw_recording **out) {
  return ntw_recording_load_as(path, NTW_REC_AUTO, out);
}

/* -------------------------------------------------------------- analysis */

static size_t lower_bound(const uint64_t *t, size_t n, uint64_t v) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

int ntw_recording_slice(const ntw_recording *r, uint64_t t0, uint64_t t1, bool rebase,
                        ntw_recording **out) {
  NTW_CHECK(r && out, NTW_ERR_ARG, "ntw_recording_slice: NULL argument");
  *out = NULL;
  NTW_CHECK(t1 >= t0, NTW_ERR_ARG, "%s: slice [%" PRIu64 ", %" PRIu64 ") µs: end before start",
            r->path, t0, t1);
  size_t lo = lower_bound(r->t_us, r->n_events, t0), hi = lower_bound(r->t_us, r->n_events, t1);
  builder b = {.path = r->path};
  int err = 0;
  for (size_t i = 0; i < r->n_channels && !err; i++) {
    const ntw_rec_channel *c = &r->channels[i];
    err = add_channel(&b, c->id, c->label, c->x_um, c->y_um, c->electrode, c->unit);
  }
  if (!err) err = reserve_events(&b, hi - lo);
  if (!err) {
    for (size_t i = lo; i < hi; i++) {
      b.t[b.nev] = r->t_us[i] - (rebase ? t0 : 0);
      b.c[b.nev++] = r->channel[i];
    }
    uint64_t end = t1 < r->duration_us ? t1 : r->duration_us;
    uint64_t dur = end > t0 ? end - t0 : 0;
    err = builder_finish(&b, r->format, rebase ? dur : end, r->t0_s, out);
    if (!err && rebase) (*out)->t0_s = r->t0_s + t0 * 1e-6;
  }
  builder_free(&b);
  return err;
}

int ntw_recording_counts(const ntw_recording *r, uint64_t *counts, double *rates_hz) {
  NTW_CHECK(r && counts, NTW_ERR_ARG, "ntw_recording_counts: NULL argument");
  memset(counts, 0, r->n_channels * sizeof *counts);
  for (size_t i = 0; i < r->n_events; i++) counts[r->channel[i]]++;
  if (rates_hz)
    for (size_t c = 0; c < r->n_channels; c++)
      rates_hz[c] = r->duration_us ? counts[c] / (r->duration_us * 1e-6) : 0.0;
  return 0;
}

void ntw_burst_params_default(ntw_burst_params *p) {
  p->bin_us = 10000;
  p->rate_factor = 4.0;
  p->min_rate_hz = 0.0;
  p->merge_gap_us = 100000;
  p->min_duration_us = 50000;
  p->min_channel_frac = 0.2;
  p->min_channels = 3;
}

void ntw_bursts_free(ntw_bursts *b) {
  if (!b) return;
  free(b->start_us);
  free(b->end_us);
  free(b->n_spikes);
  free(b->n_channels);
  memset(b, 0, sizeof *b);
}

int ntw_recording_bursts(const ntw_recording *r, const ntw_burst_params *params,
                         ntw_bursts *out) {
  NTW_CHECK(r && out, NTW_ERR_ARG, "ntw_recording_bursts: NULL argument");
  memset(out, 0, sizeof *out);
  ntw_burst_params p;
  if (params) p = *params;
  else ntw_burst_params_default(&p);
  NTW_CHECK(p.bin_us > 0 && p.rate_factor >= 0 && p.min_rate_hz >= 0 && p.min_channel_frac >= 0 &&
                p.min_channel_frac <= 1,
            NTW_ERR_ARG, "burst parameters: bin_us > 0, rate_factor >= 0, min_rate_hz >= 0, "
                         "0 <= min_channel_frac <= 1 required");
  size_t n = r->n_events;
  uint64_t span = r->duration_us;
  if (n && r->t_us[n - 1] + 1 > span) span = r->t_us[n - 1] + 1;
  double dur_s = span * 1e-6;
  double mean = n && dur_s > 0 ? n / dur_s : 0;
  double thr = p.rate_factor * mean;
  if (thr < p.min_rate_hz) thr = p.min_rate_hz;
  out->threshold_hz = thr;
  if (!n) return 0;
  /* active channel count and the per-burst channel requirement */
  uint8_t *seen = calloc(r->n_channels ? r->n_channels : 1, 1);
  NTW_ALLOC_CHECK(seen);
  size_t active = 0;
  for (size_t i = 0; i < n; i++)
    if (!seen[r->channel[i]]) seen[r->channel[i]] = 1, active++;
  size_t need = (size_t)ceil(p.min_channel_frac * active - 1e-9);
  if (need < p.min_channels) need = p.min_channels;
  /* a bin is active when count / bin_s > thr */
  double thr_count = thr * (p.bin_us * 1e-6);
  size_t cap = 0, nb = 0;
  int err = 0;
  size_t i = 0;
  while (i < n) {
    /* next active bin at or after spike i */
    uint64_t bin = r->t_us[i] / p.bin_us;
    size_t j = i;
    while (j < n && r->t_us[j] / p.bin_us == bin) j++;
    if ((double)(j - i) <= thr_count) {
      i = j;
      continue;
    }
    /* a candidate: extend over active bins, merging gaps <= merge_gap_us */
    size_t lo = i, hi = j;
    uint64_t last_active = bin;
    while (hi < n) {
      uint64_t b2 = r->t_us[hi] / p.bin_us;
      if ((b2 - last_active - 1) * p.bin_us > p.merge_gap_us) break;
      size_t k = hi;
      while (k < n && r->t_us[k] / p.bin_us == b2) k++;
      if ((double)(k - hi) > thr_count) {
        last_active = b2;
        hi = k;
      } else {
        /* inactive bin: include only if a later active bin closes the gap */
        size_t m = k;
        int closes = 0;
        while (m < n) {
          uint64_t b3 = r->t_us[m] / p.bin_us;
          if ((b3 - last_active - 1) * p.bin_us > p.merge_gap_us) break;
          size_t q = m;
          while (q < n && r->t_us[q] / p.bin_us == b3) q++;
          if ((double)(q - m) > thr_count) {
            closes = 1;
            break;
          }
          m = q;
        }
        if (!closes) break;
        hi = m; /* the next loop pass takes the active bin at m */
      }
    }
    /* spikes lo..hi-1 */
    uint64_t t_first = r->t_us[lo], t_last = r->t_us[hi - 1];
    size_t nchan = 0;
    memset(seen, 0, r->n_channels);
    for (size_t k = lo; k < hi; k++)
      if (!seen[r->channel[k]]) seen[r->channel[k]] = 1, nchan++;
    if (t_last - t_first >= p.min_duration_us && nchan >= need) {
      if (nb == cap) {
        cap = cap ? 2 * cap : 64;
        uint64_t *s = realloc(out->start_us, cap * sizeof *s);
        if (s) out->start_us = s;
        uint64_t *e = realloc(out->end_us, cap * sizeof *e);
        if (e) out->end_us = e;
        uint64_t *c = realloc(out->n_spikes, cap * sizeof *c);
        if (c) out->n_spikes = c;
        uint32_t *h = realloc(out->n_channels, cap * sizeof *h);
        if (h) out->n_channels = h;
        if (!s || !e || !c || !h) {
          err = NTW_ERR(NTW_ERR_NOMEM, "out of memory (bursts)");
          break;
        }
      }
      out->start_us[nb] = t_first;
      out->end_us[nb] = t_last;
      out->n_spikes[nb] = hi - lo;
      out->n_channels[nb] = (uint32_t)nchan;
      out->frac_spikes += (double)(hi - lo);
      nb++;
    }
    i = hi;
  }
  free(seen);
  if (err) {
    ntw_bursts_free(out);
    return err;
  }
  out->n = nb;
  out->frac_spikes /= (double)n;
  out->rate_hz = r->duration_us ? nb / (r->duration_us * 1e-6) : 0;
  out->threshold_hz = thr;
  return 0;
}

/* tests/test_spikes.c - parallel SONATA spike report (io/spikes.h).
 *
 * Runs on any number of ranks (the suite uses 1-4):
 *   test_spikes <dir> [roundrobin|block|lastidle]
 * Spikes come from a global recipe that does not depend on the rank count,
 * so the file must be identical for every rank count and partition (the
 * compare test checks that with h5diff). Rank 0 re-reads the file serially
 * and checks every element and attribute. Exit status 0 only if all checks
 * pass on all ranks. */
#include "io/spikes.h"

#include "core/ntw_error.h"

#include <errno.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPOPS 2
static const char *const pop_names[NPOPS] = {"excitatory", "inhibitory"};
static const uint64_t pop_size[NPOPS] = {1000, 357};
#define NGIDS 1357
#define DT 0.1
#define T_END 20000 /* steps */

/* Appends: a first single step, an empty range, a range with no spikes at
 * all, a dense step, and a long range wider than the 4096 histogram bins. */
static const int64_t cuts[][2] = {{0, 1},       {1, 300},     {300, 300},
                                  {300, 310},   {310, 501},   {501, 4000},
                                  {4000, T_END}};
#define NAPPENDS (sizeof cuts / sizeof cuts[0])

static int rank, nranks;
static int failures;

#define EXPECT(cond, ...)                                               \
  do {                                                                  \
    if (!(cond)) {                                                      \
      failures++;                                                       \
      fprintf(stderr, "rank %d: %s:%d: check failed: %s: ", rank,       \
              __FILE__, __LINE__, #cond);                               \
      fprintf(stderr, __VA_ARGS__);                                     \
      fputc('\n', stderr);                                              \
    }                                                                   \
  } while (0)

static uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* The global recipe: does global neuron g spike at step t? */
static int fires(uint64_t g, int64_t t) {
  if (t >= 300 && t < 310) return 0; /* a silent append */
  if (t == 500) return 1;             /* everyone fires: one heavy bin */
  return mix(g * 1000003u + (uint64_t)t) % 1000 < 7;
}

static void gid_to_pop(uint64_t g, uint32_t *pop, uint64_t *id) {
  *pop = g < pop_size[0] ? 0 : 1;
  *id = g < pop_size[0] ? g : g - pop_size[0];
}

/* Which rank records neuron g; several partitions, to show the file does
 * not depend on it. "lastidle" leaves the last rank without neurons. */
static int owner(uint64_t g, const char *part) {
  if (strcmp(part, "roundrobin") == 0) return (int)(g % (uint64_t)nranks);
  int users = strcmp(part, "lastidle") == 0 && nranks > 1 ? nranks - 1
                                                           : nranks;
  uint64_t per = (NGIDS + (uint64_t)users - 1) / (uint64_t)users;
  return (int)(g / per);
}

/* This rank's spikes in [lo, hi), in an order unlike the sorted one. */
static ntw_spike *local_spikes(int64_t lo, int64_t hi, const char *part,
                               size_t *n) {
  size_t cap = 64, k = 0;
  ntw_spike *s = malloc(cap * sizeof *s);
  for (uint64_t g = NGIDS; g-- > 0;) {
    if (owner(g, part) != rank) continue;
    for (int64_t t = lo; t < hi; t++) {
      if (!fires(g, t)) continue;
      if (k == cap) s = realloc(s, (cap *= 2) * sizeof *s);
      ntw_spike sp = {0};
      gid_to_pop(g, &sp.pop, &sp.node_id);
      sp.step = t;
      s[k++] = sp;
    }
  }
  *n = k;
  return s;
}

static uint64_t expected_count(uint32_t pop, int64_t hi) {
  uint64_t c = 0;
  for (uint64_t g = 0; g < NGIDS; g++)
    for (int64_t t = 0; t < hi; t++) {
      uint32_t p;
      uint64_t id;
      gid_to_pop(g, &p, &id);
      if (p == pop && fires(g, t)) c++;
    }
  return c;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static int all_ok(int ok) {
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  return all;
}

/* ------------------------------------------------------------ the checks */

static void test_open_fails(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/no/such/dir/spikes.h5", dir);
  ntw_spike_writer *w = (ntw_spike_writer *)1;
  ntw_error_clear();
  int err = ntw_spikes_open(MPI_COMM_WORLD, path, NPOPS, pop_names, DT, &w);
  EXPECT(err < 0, "open in a missing directory returned %d", err);
  EXPECT(w == NULL, "writer not NULL after a failed open");
  EXPECT(strstr(ntw_error_msg(), path) != NULL, "message \"%s\" lacks path",
         ntw_error_msg());
  EXPECT(strstr(ntw_error_msg(), "cannot create spike report") != NULL,
         "message \"%s\"", ntw_error_msg());
  EXPECT(strchr(ntw_error_msg(), '\n') == NULL, "message has a newline");
  if (rank == 0) printf("open failure message: %s\n", ntw_error_msg());

  /* Bad arguments fail the same way on all ranks, before any file exists. */
  const char *dup[2] = {"a", "a"};
  snprintf(path, sizeof path, "%s/dup.h5", dir);
  err = ntw_spikes_open(MPI_COMM_WORLD, path, 2, dup, DT, &w);
  EXPECT(err == NTW_ERR_ARG, "duplicate population names returned %d", err);
  EXPECT(strstr(ntw_error_msg(), path) != NULL, "message \"%s\"",
         ntw_error_msg());
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT(!exists(path), "%s exists", path);
}

/* Uncommitted and failed writers leave nothing behind. */
static void test_discard(const char *dir, const char *part) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/discard.h5", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  ntw_spike_writer *w = NULL;
  size_t n;
  int err = ntw_spikes_open(MPI_COMM_WORLD, path, NPOPS, pop_names, DT, &w);
  EXPECT(err == 0, "open: %s", ntw_error_msg());
  if (err) return;
  ntw_spike *s = local_spikes(0, 100, part, &n);
  err = ntw_spikes_append(w, s, n, 0, 100);
  EXPECT(err == 0, "append: %s", ntw_error_msg());
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT(exists(tmp), "%s missing while open", tmp);
  EXPECT(ntw_spikes_close(&w, false) == 0, "close: %s", ntw_error_msg());
  EXPECT(w == NULL, "writer not NULL after close");
  EXPECT(!exists(path) && !exists(tmp), "close(commit=false) left a file");
  EXPECT(ntw_spikes_close(&w, true) == 0, "close(NULL) failed");

  /* A spike outside the append's range on rank 0 only: every rank fails
   * (no hang), and the writer refuses to commit. */
  err = ntw_spikes_open(MPI_COMM_WORLD, path, NPOPS, pop_names, DT, &w);
  EXPECT(err == 0, "open: %s", ntw_error_msg());
  if (err) { free(s); return; }
  if (rank == 0 && n == 0) s[n++] = (ntw_spike){.node_id = 1, .step = 0};
  if (rank == 0) s[0].step = 100;
  err = ntw_spikes_append(w, s, n, 0, 100);
  EXPECT(err == (rank == 0 ? NTW_ERR_ARG : NTW_ERR_REMOTE),
         "bad append returned %d: %s", err, ntw_error_msg());
  EXPECT(strstr(ntw_error_msg(), path) != NULL, "message \"%s\"",
         ntw_error_msg());
  err = ntw_spikes_close(&w, true);
  EXPECT(err < 0, "commit after a failed append returned %d", err);
  EXPECT(!exists(path) && !exists(tmp), "failed writer left a file");
  free(s);
}

static void test_write(const char *path, const char *part) {
  ntw_spike_writer *w = NULL;
  int err = ntw_spikes_open(MPI_COMM_WORLD, path, NPOPS, pop_names, DT, &w);
  EXPECT(err == 0, "open: %s", ntw_error_msg());
  if (err) return;
  for (size_t a = 0; a < NAPPENDS; a++) {
    size_t n;
    ntw_spike *s = local_spikes(cuts[a][0], cuts[a][1], part, &n);
    err = ntw_spikes_append(w, s, n, cuts[a][0], cuts[a][1]);
    EXPECT(err == 0, "append %zu: %s", a, ntw_error_msg());
    free(s);
    for (uint32_t p = 0; p < NPOPS; p++) {
      uint64_t want = expected_count(p, cuts[a][1]);
      EXPECT(ntw_spikes_count(w, p) == want, "count pop %u after %zu: %llu "
             "!= %llu", p, a, (unsigned long long)ntw_spikes_count(w, p),
             (unsigned long long)want);
    }
  }
  /* Appends must come in time order. */
  size_t n0 = 0;
  err = ntw_spikes_append(w, NULL, n0, 10, 20);
  EXPECT(err == NTW_ERR_ARG, "append back in time returned %d", err);
  MPI_Barrier(MPI_COMM_WORLD);
  /* That error made the writer unusable, so write a fresh file. */
  ntw_spikes_close(&w, false);

  err = ntw_spikes_open(MPI_COMM_WORLD, path, NPOPS, pop_names, DT, &w);
  EXPECT(err == 0, "open: %s", ntw_error_msg());
  if (err) return;
  for (size_t a = 0; a < NAPPENDS; a++) {
    size_t n;
    ntw_spike *s = local_spikes(cuts[a][0], cuts[a][1], part, &n);
    err = ntw_spikes_append(w, s, n, cuts[a][0], cuts[a][1]);
    EXPECT(err == 0, "append %zu: %s", a, ntw_error_msg());
    free(s);
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  err = ntw_spikes_close(&w, true);
  EXPECT(err == 0, "close: %s", ntw_error_msg());
  /* Close returns on no rank before the rename. */
  EXPECT(exists(path) && !exists(tmp), "after commit: %s %s, %s %s", path,
         exists(path) ? "exists" : "missing", tmp,
         exists(tmp) ? "exists" : "missing");
}

/* The attribute must be a variable-length UTF-8 scalar string (h5py reads
 * it as str); copies it into buf. */
static int read_str_attr(hid_t obj, const char *name, char *buf, size_t len) {
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return -1;
  hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
  int ok = H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0 &&
           H5Tget_cset(t) == H5T_CSET_UTF8 &&
           H5Sget_simple_extent_type(sp) == H5S_SCALAR;
  char *s = NULL;
  if (ok) ok = H5Aread(a, t, &s) >= 0 && s != NULL && strlen(s) < len;
  if (ok) strcpy(buf, s);
  if (s) H5free_memory(s);
  H5Sclose(sp);
  H5Tclose(t);
  H5Aclose(a);
  return ok ? 0 : -1;
}

/* Rank 0, serial HDF5, after the collective close. */
static void check_file(const char *path) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT(f >= 0, "cannot reopen %s", path);
  if (f < 0) return;
  uint32_t magic = 0, version[2] = {9, 9};
  hid_t a = H5Aopen(f, "magic", H5P_DEFAULT);
  hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
  EXPECT(sp >= 0 && H5Sget_simple_extent_type(sp) == H5S_SCALAR &&
             H5Aread(a, H5T_NATIVE_UINT32, &magic) >= 0 && magic == 0x0A7A,
         "magic = %#x (must be a scalar)", magic);
  if (sp >= 0) H5Sclose(sp);
  if (a >= 0) H5Aclose(a);
  a = H5Aopen(f, "version", H5P_DEFAULT);
  sp = a >= 0 ? H5Aget_space(a) : -1;
  EXPECT(sp >= 0 && H5Sget_simple_extent_npoints(sp) == 2 &&
             H5Aread(a, H5T_NATIVE_UINT32, version) >= 0 && version[0] == 0 &&
             version[1] == 1,
         "version = [%u, %u]", version[0], version[1]);
  if (sp >= 0) H5Sclose(sp);
  if (a >= 0) H5Aclose(a);

  for (uint32_t p = 0; p < NPOPS; p++) {
    char name[256], buf[64] = "";
    snprintf(name, sizeof name, "/spikes/%s", pop_names[p]);
    hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
    EXPECT(g >= 0, "no group %s", name);
    if (g < 0) continue;
    EXPECT(read_str_attr(g, "sorting", buf, sizeof buf) == 0 &&
               strcmp(buf, "by_time") == 0,
           "%s sorting = \"%s\"", name, buf);

    /* Expected: (step, node_id) in order, straight from the recipe. */
    size_t want_n = 0, cap = 1024;
    double *wt = malloc(cap * sizeof *wt);
    uint64_t *wi = malloc(cap * sizeof *wi);
    for (int64_t t = 0; t < T_END; t++)
      for (uint64_t id = 0; id < pop_size[p]; id++) {
        uint64_t gid = p == 0 ? id : id + pop_size[0];
        if (!fires(gid, t)) continue;
        if (want_n == cap) {
          cap *= 2;
          wt = realloc(wt, cap * sizeof *wt);
          wi = realloc(wi, cap * sizeof *wi);
        }
        wt[want_n] = (double)t * DT;
        wi[want_n++] = id;
      }

    hid_t dt = H5Dopen2(g, "timestamps", H5P_DEFAULT);
    hid_t di = H5Dopen2(g, "node_ids", H5P_DEFAULT);
    EXPECT(dt >= 0 && di >= 0, "%s: datasets missing", name);
    if (dt >= 0 && di >= 0) {
      hid_t st = H5Dget_space(dt), si = H5Dget_space(di);
      size_t nt = (size_t)H5Sget_simple_extent_npoints(st);
      size_t ni = (size_t)H5Sget_simple_extent_npoints(si);
      EXPECT(nt == want_n && ni == want_n, "%s: %zu/%zu elements, want %zu",
             name, nt, ni, want_n);
      hid_t ty = H5Dget_type(dt);
      EXPECT(H5Tequal(ty, H5T_IEEE_F64LE) > 0, "%s: timestamps not f64", name);
      H5Tclose(ty);
      ty = H5Dget_type(di);
      EXPECT(H5Tequal(ty, H5T_STD_U64LE) > 0, "%s: node_ids not u64", name);
      H5Tclose(ty);
      buf[0] = '\0';
      EXPECT(read_str_attr(dt, "units", buf, sizeof buf) == 0 &&
                 strcmp(buf, "ms") == 0,
             "%s/timestamps units = \"%s\"", name, buf);
      if (nt == want_n && ni == want_n) {
        double *rt = malloc((want_n + 1) * sizeof *rt);
        uint64_t *ri = malloc((want_n + 1) * sizeof *ri);
        EXPECT(H5Dread(dt, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                       rt) >= 0 &&
                   H5Dread(di, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL,
                           H5P_DEFAULT, ri) >= 0,
               "%s: read failed", name);
        size_t bad = 0;
        for (size_t i = 0; i < want_n; i++)
          if (rt[i] != wt[i] || ri[i] != wi[i]) {
            if (bad++ < 5)
              EXPECT(0, "%s[%zu] = (%g, %llu), want (%g, %llu)", name, i,
                     rt[i], (unsigned long long)ri[i], wt[i],
                     (unsigned long long)wi[i]);
          }
        EXPECT(bad == 0, "%s: %zu wrong elements", name, bad);
        free(ri);
        free(rt);
      }
      H5Sclose(si);
      H5Sclose(st);
    }
    if (di >= 0) H5Dclose(di);
    if (dt >= 0) H5Dclose(dt);
    H5Gclose(g);
    printf("%s: %zu spikes checked\n", name, want_n);
    free(wi);
    free(wt);
  }
  H5Fclose(f);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  if (argc < 2) {
    if (rank == 0) fprintf(stderr, "usage: %s DIR [roundrobin|block|lastidle]\n",
                           argv[0]);
    MPI_Finalize();
    return 2;
  }
  const char *dir = argv[1];
  const char *part = argc > 2 ? argv[2] : "roundrobin";
  if (rank == 0 && mkdir(dir, 0755) != 0 && errno != EEXIST) {
    perror(dir);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Barrier(MPI_COMM_WORLD);

  char path[4096];
  snprintf(path, sizeof path, "%s/spikes.h5", dir);
  if (rank == 0) remove(path);

  test_open_fails(dir);
  test_discard(dir, part);
  test_write(path, part);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) check_file(path);

  int ok = all_ok(failures == 0);
  if (rank == 0)
    printf("test_spikes on %d ranks (%s): %s\n", nranks, part,
           ok ? "PASS" : "FAIL");
  MPI_Finalize();
  return ok ? 0 : 1;
}

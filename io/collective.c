/* io/collective.c - see collective.h. */
#include "io/collective.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntw_error.h"

int ntw_io_agree(MPI_Comm comm, int err, const char *path, const char *what) {
  int global = 0;
  if (MPI_Allreduce(&err, &global, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
    return NTW_ERR(NTW_ERR_MPI, "%s: MPI_Allreduce failed writing the %s", path, what);
  if (global == 0) return 0;
  if (err != 0) return err;
  return NTW_ERR(NTW_ERR_REMOTE, "%s: %s failed on another rank", path, what);
}

char *ntw_io_tmp_name(const char *path) {
  const size_t len = strlen(path);
  char *t = malloc(len + 5);
  if (t) {
    memcpy(t, path, len);
    memcpy(t + len, ".tmp", 5);
  }
  return t;
}

int ntw_io_commit_tmp(MPI_Comm comm, int err, bool commit, const char *tmp,
                      const char *path) {
  int rank, rc = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    if (commit && err == 0)
      rc = rename(tmp, path) != 0 ? -1 : 0;
    else
      remove(tmp);
  }
  /* Nobody returns before the rename, and all ranks learn its outcome. */
  if (MPI_Bcast(&rc, 1, MPI_INT, 0, comm) != MPI_SUCCESS && err == 0)
    return NTW_ERR(NTW_ERR_MPI, "%s: MPI_Bcast failed closing the file", path);
  if (rc != 0 && err == 0)
    return NTW_ERR(NTW_ERR_IO, "%s: cannot rename %s into place", path, tmp);
  return err;
}

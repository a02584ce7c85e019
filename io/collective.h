/* io/collective.h - what the collectively written files share: one error
 * agreed on every rank, and the temporary-then-rename commit (a file only
 * appears under its name once every rank has closed it without error). */
#ifndef NTW_IO_COLLECTIVE_H
#define NTW_IO_COLLECTIVE_H

#include <mpi.h>
#include <stdbool.h>

/* Collective. 0 when no rank failed; else this rank's own err, or
 * NTW_ERR_REMOTE "PATH: WHAT failed on another rank". Also a barrier. */
int ntw_io_agree(MPI_Comm comm, int err, const char *path, const char *what);

/* "PATH.tmp", malloc'ed (NULL when out of memory). */
char *ntw_io_tmp_name(const char *path);

/* Collective, after every rank closed the file: err must already be agreed
 * (the same on all ranks). Rank 0 renames tmp to path when commit and no
 * error, else removes tmp; every rank learns the outcome. Returns err, or
 * an error naming path when the rename (or the broadcast) failed. */
int ntw_io_commit_tmp(MPI_Comm comm, int err, bool commit, const char *tmp,
                      const char *path);

#endif

/* spool.h - an append-only local file written by a background thread, so
 * that a paced window loop never waits for the disk (README "Spike report
 * of a paced run"). One per rank; no MPI, no HDF5.
 *
 * The loop hands its buffer over with ntw_spool_put (a pointer swap when
 * the writer is idle, else a copy; never a write() on the caller's
 * thread). The writer runs as an ordinary (SCHED_OTHER) thread even when
 * the caller is real-time, so it never competes with the window loop.
 * ntw_spool_sync waits until everything handed over is on the file; then
 * the caller may read it back (ntw_spool_read from the start) and empty
 * it (ntw_spool_truncate). Errors of the writer (disk full) are kept and
 * returned by the next put or sync, naming the file. */
#ifndef NTW_SPOOL_H
#define NTW_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ntw_spool ntw_spool;

/* Creates (truncates) path and starts the writer. */
int ntw_spool_open(const char *path, ntw_spool **out);

/* Hands over bytes of *buf (capacity *cap bytes; from malloc: the spool
 * may keep it and free it). On return *buf may be another malloc'ed buffer
 * (possibly NULL) of capacity *cap, swapped with the writer's spare: the
 * caller's data is the spool's now and the caller starts afresh. On an
 * error *buf is unchanged and still the caller's. */
int ntw_spool_put(ntw_spool *s, void **buf, size_t *cap, size_t bytes);

/* Waits until every byte handed over is written (and flushed). */
int ntw_spool_sync(ntw_spool *s);

/* After a sync: reads the next n bytes from the start of the file on
 * (ntw_spool_rewind first); a short file is an error. */
int ntw_spool_rewind(ntw_spool *s);
int ntw_spool_read(ntw_spool *s, void *dst, size_t n);

/* After a sync: empties the file. */
int ntw_spool_truncate(ntw_spool *s);

const char *ntw_spool_path(const ntw_spool *s);

/* Stops the writer, closes the file and, if remove_file, removes it.
 * NULL-safe; sets *s = NULL. */
void ntw_spool_close(ntw_spool **s, bool remove_file);

#endif

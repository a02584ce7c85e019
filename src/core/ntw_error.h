/* ntw_error.h - one error type, one check macro, for all of ntwin.
 *
 * Every fallible function returns ntw_err (0 on success, a negative code on
 * failure) and records a one-line, user-facing message with ntw_error_set().
 * The message names the file and the field when the error comes from input,
 * e.g. "configs/x.json: populations[1].size: must be > 0 (got -5)".
 * Library code never exits; main() prints ntw_error_msg() once and stops all
 * ranks. The message buffer is per thread. */
#ifndef NTW_ERROR_H
#define NTW_ERROR_H

#include <stdarg.h>

#if defined(__GNUC__)
#define NTW_LIKELY(x) __builtin_expect(!!(x), 1)
#define NTW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NTW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NTW_LIKELY(x) (x)
#define NTW_UNLIKELY(x) (x)
#define NTW_PRINTF(a, b)
#endif

/* X-macro: one list makes the enum and ntw_strerror(). */
#define NTW_ERRORS(X)                                        \
  X(NTW_OK, 0, "success")                                    \
  X(NTW_ERR_NOMEM, -1, "out of memory")                      \
  X(NTW_ERR_IO, -2, "input/output error")                    \
  X(NTW_ERR_CONFIG, -3, "invalid configuration")             \
  X(NTW_ERR_ARG, -4, "invalid argument")                     \
  X(NTW_ERR_MPI, -5, "MPI error")                            \
  X(NTW_ERR_HDF5, -6, "HDF5 error")                          \
  X(NTW_ERR_HWLOC, -7, "hwloc error")                        \
  X(NTW_ERR_NOTSUP, -8, "not supported")                     \
  X(NTW_ERR_FORMAT, -9, "malformed file")                    \
  X(NTW_ERR_INTERNAL, -10, "internal error")                 \
  X(NTW_ERR_REMOTE, -11, "error on another rank")            \
  X(NTW_ERR_PEER_STOP, -12, "another rank is stopping the run")

typedef enum {
#define NTW_ERR_ENUM_(name, val, str) name = val,
  NTW_ERRORS(NTW_ERR_ENUM_)
#undef NTW_ERR_ENUM_
} ntw_err;

/* Short description of a code ("out of memory"). */
const char *ntw_strerror(int code);

/* Record a failure and return code, so `return ntw_error_set(...)` reads well.
 * file/line are where it was detected (shown with NTW_DEBUG=1). */
int ntw_error_set(int code, const char *file, int line, const char *fmt, ...)
    NTW_PRINTF(4, 5);
int ntw_error_vset(int code, const char *file, int line, const char *fmt,
                   va_list ap);
/* The last recorded message, "" if none. */
const char *ntw_error_msg(void);
/* "file:line" where the last error was recorded. */
const char *ntw_error_where(void);
int ntw_error_code(void);
void ntw_error_clear(void);

#define NTW_ERR(code, ...) ntw_error_set((code), __FILE__, __LINE__, __VA_ARGS__)

/* Return `code` with a message when `cond` is false. */
#define NTW_CHECK(cond, code, ...)                                   \
  do {                                                               \
    if (NTW_UNLIKELY(!(cond)))                                       \
      return ntw_error_set((code), __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

/* Propagate a failure from a call that already recorded its message. */
#define NTW_TRY(expr)                 \
  do {                                \
    int ntw_e_ = (expr);              \
    if (NTW_UNLIKELY(ntw_e_ != 0))    \
      return ntw_e_;                  \
  } while (0)

/* For functions with cleanup labels: `NTW_GOTO(err, call, fail);` */
#define NTW_GOTO(errvar, expr, label)     \
  do {                                    \
    (errvar) = (expr);                    \
    if (NTW_UNLIKELY((errvar) != 0))      \
      goto label;                         \
  } while (0)

/* Translate library return codes at the boundary. */
#define NTW_MPI_CHECK(call)                                                   \
  do {                                                                        \
    int ntw_mpi_rc_ = (call);                                                 \
    if (NTW_UNLIKELY(ntw_mpi_rc_ != 0 /* MPI_SUCCESS */))                     \
      return ntw_error_set(NTW_ERR_MPI, __FILE__, __LINE__, "%s failed (%d)", \
                           #call, ntw_mpi_rc_);                               \
  } while (0)

#define NTW_ALLOC_CHECK(ptr) \
  NTW_CHECK((ptr) != NULL, NTW_ERR_NOMEM, "out of memory allocating %s", #ptr)

#endif

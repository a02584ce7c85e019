/* io/outdir.c - see outdir.h. */
#define _POSIX_C_SOURCE 200809L
#include "io/outdir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ntw_error.h"

int ntw_outdir_make(const char *dir, bool *created) {
  if (created) *created = false;
  char path[4096];
  NTW_CHECK(strlen(dir) < sizeof path - 32, NTW_ERR_ARG, "--out: path too long");
  snprintf(path, sizeof path, "%s", dir);
  for (char *p = path + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(path, 0777) && errno != EEXIST)
        return NTW_ERR(NTW_ERR_IO, "%s: cannot create output directory (--out): %s",
                       path, strerror(errno));
      *p = '/';
    }
  if (mkdir(path, 0777) == 0) {
    if (created) *created = true;
  } else if (errno != EEXIST) {
    return NTW_ERR(NTW_ERR_IO, "%s: cannot create output directory (--out): %s",
                   dir, strerror(errno));
  }
  NTW_CHECK(access(dir, W_OK | X_OK) == 0, NTW_ERR_IO,
            "%s: output directory (--out) is not writable: %s", dir,
            strerror(errno));
  return 0;
}

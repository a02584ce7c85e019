/* io/outdir.h - the output directory of a command (--out DIR). */
#ifndef NTW_IO_OUTDIR_H
#define NTW_IO_OUTDIR_H

#include <stdbool.h>

/* Creates DIR and its parents and checks it is writable. *created (may be
 * NULL) tells whether DIR itself is new, so a failed run can take back an
 * empty directory it made. Errors name the directory and the option
 * ("DIR: cannot create output directory (--out): ..."). Not collective. */
int ntw_outdir_make(const char *dir, bool *created);

#endif

/* Growable arrays: VEC(T) declares {v, n, cap}; VPUSH appends, and on an
 * allocation failure returns NTW_ERR_NOMEM from the calling function (which
 * must return int), leaving the array as it was. */
#ifndef NTW_VEC_H
#define NTW_VEC_H

#include <stdlib.h>

#include "core/ntw_error.h"

#define VEC(T) struct { T *v; size_t n, cap; }
#define VPUSH(vec, x)                                                      \
  do {                                                                     \
    if ((vec).n == (vec).cap) {                                            \
      size_t c_ = (vec).cap ? 2 * (vec).cap : 1024;                        \
      void *p_ = realloc((vec).v, c_ * sizeof *(vec).v);                   \
      NTW_ALLOC_CHECK(p_);                                                 \
      (vec).v = p_;                                                        \
      (vec).cap = c_;                                                      \
    }                                                                      \
    (vec).v[(vec).n++] = (x);                                              \
  } while (0)

#endif

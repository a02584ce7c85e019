#include "core/ntw_error.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char ntw__msg[1024];
static _Thread_local char ntw__where[256];
static _Thread_local int ntw__code;

const char *ntw_strerror(int code) {
  switch (code) {
#define NTW_ERR_CASE_(name, val, str) \
  case val:                           \
    return str;
    NTW_ERRORS(NTW_ERR_CASE_)
#undef NTW_ERR_CASE_
  default:
    return "unknown error";
  }
}

int ntw_error_vset(int code, const char *file, int line, const char *fmt,
                   va_list ap) {
  vsnprintf(ntw__msg, sizeof ntw__msg, fmt, ap);
  /* A message is one line: fold any newline the caller let through. */
  for (char *p = ntw__msg; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
  snprintf(ntw__where, sizeof ntw__where, "%s:%d", file ? file : "?", line);
  ntw__code = code;
  return code;
}

int ntw_error_set(int code, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ntw_error_vset(code, file, line, fmt, ap);
  va_end(ap);
  return code;
}

const char *ntw_error_msg(void) { return ntw__msg; }
const char *ntw_error_where(void) { return ntw__where; }
int ntw_error_code(void) { return ntw__code; }
void ntw_error_clear(void) {
  ntw__msg[0] = '\0';
  ntw__where[0] = '\0';
  ntw__code = 0;
}

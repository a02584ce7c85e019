#include "core/sysinfo.h"

#include <stdio.h>
#include <string.h>

static uint64_t status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kb = 0;
  size_t n = strlen(key);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0 && line[n] == ':') {
      sscanf(line + n + 1, "%llu", &kb);
      break;
    }
  fclose(f);
  return (uint64_t)kb * 1024;
}

uint64_t ntw_rss_bytes(void) { return status_kb("VmRSS"); }
uint64_t ntw_peak_rss_bytes(void) { return status_kb("VmHWM"); }

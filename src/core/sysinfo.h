/* sysinfo.h - process facts for reports. */
#ifndef NTW_SYSINFO_H
#define NTW_SYSINFO_H

#include <stdint.h>

/* Resident set size now and its peak (VmRSS, VmHWM), bytes; 0 if unknown. */
uint64_t ntw_rss_bytes(void);
uint64_t ntw_peak_rss_bytes(void);

#endif

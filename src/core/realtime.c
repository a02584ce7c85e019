#include "core/realtime.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

void ntw_realtime_enter(ntw_realtime *rt) {
  rt->fifo = rt->locked = false;
  rt->why[0] = '\0';
  size_t off = 0;
  if (rt->priority > 0) {
    struct sched_param sp = {.sched_priority = rt->priority};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) == 0)
      rt->fifo = true;
    else
      off += (size_t)snprintf(rt->why + off, sizeof rt->why - off,
                              "SCHED_FIFO %d refused (%s)", rt->priority, strerror(errno));
  }
  if (rt->lock_memory) {
    /* MCL_FUTURE under a finite RLIMIT_MEMLOCK (no privilege) would make a
     * later allocation past the limit fail mid-run: then lock what is
     * there now (the network is built) and leave later pages alone. */
    struct rlimit rl;
    const bool bounded = geteuid() != 0 && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
                         rl.rlim_cur != RLIM_INFINITY;
    if (mlockall(bounded ? MCL_CURRENT : MCL_CURRENT | MCL_FUTURE) == 0)
      rt->locked = true;
    else if (off < sizeof rt->why)
      snprintf(rt->why + off, sizeof rt->why - off, "%smlockall refused (%s)",
               off ? "; " : "", strerror(errno));
  }
}

int ntw_realtime_enter_cli(int priority, const char *who) {
  if (priority <= 0) return 0;
  ntw_realtime rt = {.priority = priority, .lock_memory = true};
  ntw_realtime_enter(&rt);
  if (rt.why[0]) fprintf(stderr, "%s: --rt-priority: %s; running on without it\n", who, rt.why);
  return rt.fifo ? rt.priority + 1 : 0;
}

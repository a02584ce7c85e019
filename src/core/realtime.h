/* realtime.h - real-time scheduling for the paced processes (the twin's
 * ranks, `ntwin culture`, `ntwin replay`): README "Real-time priority".
 *
 * A window locked to the wall clock has a budget of about a millisecond; an
 * ordinary (SCHED_OTHER) process can lose that and more whenever anything
 * else on the node wants a core (a compile, a file copy, another job), and
 * a page fault in the window loop costs microseconds each. So, as closed-
 * loop electrophysiology systems do, a paced process may ask for:
 *  - SCHED_FIFO at `priority` (1..98) for the calling thread and every
 *    thread it starts afterwards (call it before creating ZeroMQ contexts);
 *  - its memory locked (mlockall: current and future pages resident; only
 *    the current ones for an unprivileged user under a finite
 *    RLIMIT_MEMLOCK, where locking future pages would make a later
 *    allocation past the limit fail mid-run).
 * Both need privileges (root, CAP_SYS_NICE / CAP_IPC_LOCK, or `ulimit -r` /
 * `ulimit -l` limits); without them the run goes on as before and the
 * result says what was refused. The kernel's real-time throttling (by
 * default 5 % of each second left to other tasks) still applies. */
#ifndef NTW_REALTIME_H
#define NTW_REALTIME_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
  int priority;      /* asked for, 0 = none */
  bool lock_memory;  /* asked for */
  bool fifo;         /* SCHED_FIFO granted */
  bool locked;       /* mlockall granted */
  char why[160];     /* what was refused and why, "" when all granted */
} ntw_realtime;

/* Asks for what rt describes (priority, lock_memory) and fills in the rest.
 * Never fails: a refusal is recorded in rt->why. */
void ntw_realtime_enter(ntw_realtime *rt);

/* For a single-process command's --rt-priority (`ntwin replay`, `ntwin
 * culture`): SCHED_FIFO at priority (> 0) with locked memory, before the
 * bio link starts its threads; a refusal is one line on stderr, "WHO:
 * --rt-priority: <why>; running on without it". Returns the priority for
 * the link's I/O thread (ntw_bio_opts.io_rt_priority): one above the
 * caller's when SCHED_FIFO was granted, so its messages get through while
 * the loop holds the core; else 0. */
int ntw_realtime_enter_cli(int priority, const char *who);

#endif

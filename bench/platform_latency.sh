#!/usr/bin/env bash
# bench/platform_latency.sh - how late can this machine wake a real-time
# thread? The floor under the twin's deadline misses. A paced twin sleeps
# until its data or its deadline and must then run within the window; if the
# platform (kernel, interrupts, the hypervisor of a VM) wakes a SCHED_FIFO
# thread several windows late now and then, no code in ntwin can meet every
# deadline there. This runs cyclictest (Debian package rt-tests) with one
# SCHED_FIFO thread per CPU, memory locked, waking every window, on an
# otherwise quiet machine, and counts the wake-ups later than 1, 2 and 4
# windows, per minute, and the maximum.
#
# Usage: bench/platform_latency.sh [--duration S] [--window-us US]
#                                  [--priority P] [--out DIR]
#   --duration   seconds to measure (default 60, as bench/twin.sh)
#   --window-us  the wake-up period: the twin's window (default 1000)
#   --priority   SCHED_FIFO priority (default 20, as configs/twin-10k.json)
#   --out        where to put cyclictest's histogram, summary.json and
#                latency.png (default bench/out/platform-<date>)
# Needs root (or CAP_SYS_NICE and a memlock limit) for SCHED_FIFO; without
# it cyclictest refuses and the script says so.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
PY=/usr/bin/python3
DUR=60 WIN=1000 PRIO=20 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DUR=$2; shift 2 ;;
    --window-us) WIN=$2; shift 2 ;;
    --priority) PRIO=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "platform_latency.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for v in "$DUR" "$WIN" "$PRIO"; do
  case "$v" in ''|*[!0-9]*) echo "platform_latency.sh: '$v' is not a whole number" >&2; exit 2 ;; esac
done
command -v cyclictest >/dev/null || {
  echo "platform_latency.sh: cyclictest not found (Debian: apt-get install rt-tests)" >&2; exit 1; }
[ -n "$OUT" ] || OUT="bench/out/platform-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT" || exit 1
NCPU=$(nproc)
# Histogram buckets of 1 us up to 64 windows; later wake-ups are overflows
# (cyclictest still reports the maximum).
NB=$((64 * WIN))
echo "== platform wake-up latency: $NCPU CPUs, SCHED_FIFO $PRIO, every $WIN us, $DUR s, load $(cut -d' ' -f1 /proc/loadavg)"
if ! cyclictest -m -a -t "$NCPU" -p "$PRIO" -i "$WIN" -D "$DUR" -q -h "$NB" \
    --histfile="$OUT/cyclictest.hist" >"$OUT/cyclictest.log" 2>&1; then
  echo "platform_latency.sh: cyclictest failed (SCHED_FIFO needs root or CAP_SYS_NICE):" >&2
  tail -3 "$OUT/cyclictest.log" >&2
  exit 1
fi
"$PY" - "$OUT" "$WIN" "$DUR" "$PRIO" <<'PY'
import json, sys
out, win, dur, prio = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rows, mx, ovf = [], [], []
for line in open(f"{out}/cyclictest.hist"):
    if line.startswith("# Max Latencies:"):
        mx = [int(x) for x in line.split(":")[1].split()]
    elif line.startswith("# Histogram Overflows:"):
        ovf = [int(x) for x in line.split(":")[1].split()]
    elif line[:1].isdigit():
        v = [int(x) for x in line.split()]
        rows.append(v)
ncpu = len(rows[0]) - 1
per_cpu = []
for c in range(ncpu):
    n = sum(r[c + 1] for r in rows) + ovf[c]
    later = {k: sum(r[c + 1] for r in rows if r[0] >= k * win) + ovf[c] for k in (1, 2, 4)}
    per_cpu.append({"cpu": c, "wakeups": n, "max_us": mx[c],
                    **{f"later_than_{k}_windows": later[k] for k in later}})
tot = {k: sum(p[f"later_than_{k}_windows"] for p in per_cpu) for k in (1, 2, 4)}
n = sum(p["wakeups"] for p in per_cpu)
s = {"window_us": win, "duration_s": dur, "priority": prio, "cpus": per_cpu,
     "wakeups": n, "max_us": max(mx),
     **{f"later_than_{k}_windows_per_min_per_cpu": tot[k] / ncpu * 60.0 / dur for k in tot}}
json.dump(s, open(f"{out}/summary.json", "w"), indent=1)
for p in per_cpu:
    print(f"   cpu {p['cpu']}: {p['wakeups']} wake-ups, later than 1/2/4 windows: "
          f"{p['later_than_1_windows']}/{p['later_than_2_windows']}/{p['later_than_4_windows']}, "
          f"max {p['max_us'] / 1e3:.2f} ms")
print(f"per CPU and minute: {s['later_than_1_windows_per_min_per_cpu']:.1f} wake-ups later than "
      f"one window, {s['later_than_2_windows_per_min_per_cpu']:.1f} later than two, "
      f"{s['later_than_4_windows_per_min_per_cpu']:.1f} later than four; max {max(mx) / 1e3:.2f} ms")
print("A paced twin on this machine meets every deadline only if its slack covers these; "
      "the count later than its slack is a floor under its misses per minute.")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    fig, ax = plt.subplots(figsize=(7, 3.6))
    lat = np.array([r[0] for r in rows], float) / 1e3 + 0.0005  # bucket centre, ms
    edges = np.logspace(-3, np.log10(max(max(mx) / 1e3, 4 * win / 1e3) * 1.2), 80)
    for c in range(ncpu):
        w = np.array([r[c + 1] for r in rows], float)
        ax.hist(lat, bins=edges, weights=w, histtype="step", label=f"cpu {c}", lw=0.9)
        ax.plot([mx[c] / 1e3], [1], "v", ms=6, color=f"C{c}")
    for k in (1, 2, 4):
        ax.axvline(k * win / 1e3, color="k", ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("wake-up latency (ms); dotted: 1, 2, 4 windows; triangles: max")
    ax.set_ylabel("wake-ups")
    ax.set_title(f"SCHED_FIFO {prio}, every {win} us, {dur:.0f} s: max {max(mx) / 1e3:.1f} ms")
    ax.legend()
    fig.tight_layout()
    fig.savefig(f"{out}/latency.png", dpi=120)
except ImportError:
    print("(no matplotlib: no latency.png)")
PY
echo "-> $OUT/summary.json, $OUT/latency.png"

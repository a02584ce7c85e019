#!/usr/bin/env bash
# bench/twin.sh - the twin's paced benchmark (issue: "twin of 10,000 neurons
# on 2 ranks, paced: zero deadline misses over 60 s with window 1 ms; loop
# latency p99 <= 2 windows"). Streams SECONDS of the real mouse recording
# (../shared/data, 59 electrodes) in real time with `ntwin replay`, runs the
# twin CONFIG on NP ranks against it on the bio link, and prints the
# figures from its report.json: deadline misses, lag and loop latency
# (p50/p99/max), late events, Gamma, the load average before and after, and
# the misses as episodes: how many, how long, and whether the data came late
# or the twin's own window took long (twin.h5 /timing).
#
# Usage: bench/twin.sh [--seconds 60] [--np 2] [--config configs/twin-10k.json]
#                      [--out bench/out/twin] [--recording FILE]
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
SECONDS_=60 NP=2 CONFIG=configs/twin-10k.json OUT=bench/out/twin
REC=../shared/data/mea-hippocampus-mouse-div25.h5
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECONDS_=$2; shift 2 ;;
    --np) NP=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --recording) REC=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/twin.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$REC" ] || { echo "bench/twin.sh: no recording $REC" >&2; exit 1; }
[ -x build/src/ntwin ] || { echo "bench/twin.sh: build first (scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$OUT"
port=$((5700 + $$ % 100 * 2))
ev="tcp://127.0.0.1:$port" cm="tcp://127.0.0.1:$((port + 1))"
# the config, pointed at this run's endpoints and length
/usr/bin/python3 - "$CONFIG" "$OUT/config.json" "$ev" "$cm" "$SECONDS_" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["twin"]["source"] = {"kind": "link", "events": sys.argv[3], "commands": sys.argv[4]}
c["simulation"]["t_stop"] = float(sys.argv[5]) * 1000 + 1000
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
# the replay (the biology's side) at the twin's real-time priority, if any
rtopt=$(scripts/rt_option.sh "$CONFIG") || exit 1
load0=$(cut -d' ' -f1-3 /proc/loadavg)
# shellcheck disable=SC2086
build/src/ntwin replay "$REC" --to "$SECONDS_" --events "$ev" --commands "$cm" \
  --wait-peer 60 --quiet $rtopt &
rp=$!
export OMPI_MCA_mpi_yield_when_idle=1
scripts/mpirun.sh "$NP" build/src/ntwin run "$OUT/config.json" --out "$OUT/run" --quiet
st=$?
wait $rp
load1=$(cut -d' ' -f1-3 /proc/loadavg)
[ $st -eq 0 ] || { echo "bench/twin.sh: the twin failed ($st)" >&2; exit 1; }
/usr/bin/python3 - "$OUT/run/report.json" "$load0" "$load1" "$NP" "$CONFIG" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); t = r["twin"]
w = r["window_ms"]
f = lambda d: "p50 %.2f / p99 %.2f / max %.2f ms" % (d["p50"] or 0, d["p99"] or 0, d["max"] or 0)
print("twin benchmark: %s, %d neurons, %.2f M synapses, %d ranks, window %g ms" % (
    sys.argv[5], r["neurons"], r["synapses"] / 1e6, int(sys.argv[4]), w))
print("  simulated %.1f s paced; windows %d, deadline misses %d (%.3f %%), late events %d" % (
    r["t_sim_ms"] / 1e3, t["windows"], t["deadline_misses"],
    100.0 * t["deadline_misses"] / max(1, t["windows"]), t["late_events"]))
print("  lag      " + f(t["lag_ms"]))
print("  latency  " + f(t["latency_ms"]) + "  (target p99 <= %g ms = 2 windows)" % (2 * w))
print("  release  %d of %d windows by the source's watermark (%s), allowance %g ms" % (
    t.get("released_by_watermark", 0), t["windows"], t.get("release", "allowance"),
    t["allowance_ms"]))
rt = t.get("realtime", {})
print("  real-time: SCHED_FIFO %s (priority %d), memory locked %s; spike report %s" % (
    "granted" if rt.get("fifo") else "off", rt.get("rt_priority", 0),
    "yes" if rt.get("locked") else "no", "spooled" if r.get("spike_spool") else "direct"))
print("  Gamma %.3f, rate corr %.3f; load average before %s, after %s" % (
    t["gamma_steady"] or 0, t["rate_corr_steady"] or 0, sys.argv[2], sys.argv[3]))
# The misses as episodes (runs of consecutive missed windows) and, for the
# window that starts each, whether the biology's data came late (ready) or
# the twin's own window took long (run): twin.h5 /timing, lag = ready + run.
import os
import h5py
import numpy as np
h = os.path.join(os.path.dirname(sys.argv[1]), "twin.h5")
tm = h5py.File(h, "r")["timing"]
lag = tm["lag_ms"][:]
dl = t["allowance_ms"] + w + t.get("slack_ms", 0)
miss = np.flatnonzero(lag > dl)
if len(miss) and "ready_ms" in tm:
    ready, run = tm["ready_ms"][:], tm["run_ms"][:]
    starts = miss[np.r_[True, np.diff(miss) > 1]]
    ends = miss[np.r_[np.diff(miss) > 1, True]]
    lens = ends - starts + 1
    # the jump that opened each episode: in the data's arrival or in the run
    jr = [ready[s] - (ready[s - 1] if s else 0) for s in starts]
    jn = [run[s] for s in starts]
    by_data = sum(1 for a, b in zip(jr, jn) if a >= b)
    print("  misses   %d episodes (%d in the first 100 windows, %d in the last 100), "
          "longest %d windows, median %d; opened by late data %d, by the twin's own "
          "window %d" % (len(starts), int(np.sum(starts < 100)),
                         int(np.sum(starts >= len(lag) - 100)), lens.max(),
                         int(np.median(lens)), by_data, len(starts) - by_data))
elif not len(miss):
    print("  misses   none")
PY

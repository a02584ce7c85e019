#!/usr/bin/env bash
# bench/overlap.sh - overlap of the spike exchange with computation, on vs
# off: configs/brunel.json (1 s) on 2 ranks, REPS runs of each, alternating
# on/off so background load drifts over both alike. One CSV row per run:
# wall_sim_s, comm_s (slowest rank), comm_share, comm_wait_s, comm_post_s,
# spikes, the 1-minute load average before the run, and from report.json's
# comm_wait_hist (blocked calls by duration, summed over ranks):
#   stall_share  share of the wait spent in calls of 1 ms or more (a rank
#                held up for longer than an epoch: descheduled, interrupted);
#   hide_bound   (overlap-off runs) the wait an ideal overlap could leave of
#                that run's waits, as a fraction: each wait w shortened by
#                the computation of one epoch (half a window), sum of
#                max(0, w - half window) over the histogram (bin means).
#                Above 0.5 the stalls alone keep the share from halving.
#   crit_share   comm share of the rank with the most computation (the
#                critical path): its time in the exchange is the exchange's
#                own cost. The other ranks' extra wait is for that rank's
#                computation - load imbalance, which no overlap can hide.
# Then medians per mode. The issue's target: comm share halved on 2 ranks
# for brunel.json.
#
# Usage: bench/overlap.sh [--reps 5] [--ranks 2] [--config configs/brunel.json]
#                         [--t-stop 1000] [--comm mpi] [--max-load L] [--out DIR]
# --max-load L: before each run wait (up to 10 min) until the 1-minute load
# average is below L (the machine is shared); the CSV records it either way.
# Environment: NTWIN (default build/src/ntwin), MPIRUN. Spikes must be
# identical in every run (checked: a mismatch is reported and fails).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
PY=/usr/bin/python3
REPS=5 RANKS=2 CONFIG=configs/brunel.json T_STOP=1000 COMM=mpi MAX_LOAD="" OUT=""
NTWIN=${NTWIN:-build/src/ntwin}
MPIRUN=${MPIRUN:-mpirun}
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --ranks) RANKS=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    --t-stop) T_STOP=$2; shift 2 ;;
    --comm) COMM=$2; shift 2 ;;
    --max-load) MAX_LOAD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "overlap.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$NTWIN" ] || { echo "overlap.sh: no $NTWIN (build first)" >&2; exit 1; }
[ -n "$OUT" ] || OUT="bench/out/overlap-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT" || exit 1
CSV=$OUT/results.csv
[ ! -e "$CSV" ] || { echo "overlap.sh: $CSV exists" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || COMMIT="$COMMIT-dirty"
echo "overlap,rep,ranks,comm,load1_before,wall_sim_s,comm_s,comm_share,comm_wait_s,comm_post_s,epoch_steps,spikes,stall_share,hide_bound,crit_share,git_commit,date" >"$CSV"
echo "== overlap on/off: $CONFIG, $T_STOP ms, $RANKS ranks, comm $COMM, $REPS reps -> $CSV"

load1() { cut -d' ' -f1 /proc/loadavg; }
wait_quiet() {
  [ -n "$MAX_LOAD" ] || return 0
  local waited=0
  while awk -v l="$(load1)" -v m="$MAX_LOAD" 'BEGIN{exit !(l >= m)}'; do
    [ $waited -ge 600 ] && { echo "   (load still $(load1) after 10 min; running anyway)"; return 0; }
    sleep 10; waited=$((waited + 10))
  done
}

nfail=0
for rep in $(seq 1 "$REPS"); do
  # Alternate which mode goes first, so a trend in the load hits both alike.
  if [ $((rep % 2)) = 1 ]; then modes="off on"; else modes="on off"; fi
  for ov in $modes; do
    dir=$OUT/${ov}-rep$rep
    wait_quiet
    l=$(load1)
    if ! "$MPIRUN" -n "$RANKS" --oversubscribe --bind-to none "$NTWIN" run "$CONFIG" \
        --out "$dir" --t-stop "$T_STOP" --comm "$COMM" --overlap "$ov" --quiet \
        >"$dir.log" 2>&1; then
      echo "   rep $rep overlap $ov: FAILED (see $dir.log)"; nfail=$((nfail + 1)); continue
    fi
    "$PY" - "$dir/report.json" "$ov" "$rep" "$RANKS" "$COMM" "$l" "$COMMIT" >>"$CSV" <<'PY'
import json, sys, datetime
r = json.load(open(sys.argv[1]))
ov, rep, ranks, comm, load, commit = sys.argv[2:8]
h = r["comm_wait_hist"]
tot = sum(h["seconds"]) or float("nan")
stall = sum(s for lo, s in zip(h["bin_lo_us"], h["seconds"]) if lo >= 1024) / tot
windows = r["t_sim_ms"] / r["window_ms"]
half = 0.5 * (r["wall_sim_s"] - r["comm_s"]) / windows  # one epoch's computation
comp = r["compute_s_per_rank"]
crit = r["comm_s_per_rank"][comp.index(max(comp))] / r["wall_sim_s"]
left = sum(n * max(0.0, s / n - half) for n, s in zip(h["count"], h["seconds"]) if n)
print(",".join(str(x) for x in [ov, rep, ranks, comm, load, r["wall_sim_s"], r["comm_s"],
      r["comm_share"], r["comm_wait_s"], r["comm_post_s"], r["epoch_steps"], r["spikes"],
      f"{stall:.4f}", f"{left / tot:.4f}" if ov == "off" else "",
      f"{crit:.5f}",
      commit, datetime.datetime.now().isoformat(timespec="seconds")]))
PY
    tail -1 "$CSV" | awk -F, '{printf "   rep %s overlap %-3s load %-5s wall_sim %.3f s  comm %.3f s (%.1f%%: wait %.3f, post %.3f; stalls %.0f%% of wait; critical path %.1f%%)\n", $2, $1, $5, $6, $7, 100*$8, $9, $10, 100*$13, 100*$15}'
  done
done

"$PY" - "$CSV" <<'PY'
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1])))
spikes = {r["spikes"] for r in rows}
print()
print(f"{'overlap':8} {'runs':>4} {'load1':>6} {'wall_sim_s':>10} {'comm_s':>8} {'comm %':>7} "
      f"{'wait_s':>7} {'post_s':>7} {'crit %':>7}   (medians)")
med = {}
for ov in ("off", "on"):
    v = [r for r in rows if r["overlap"] == ov]
    if not v:
        continue
    m = lambda k: st.median(float(r[k]) for r in v)
    med[ov] = (m("wall_sim_s"), m("comm_share"), m("crit_share"))
    print(f"{ov:8} {len(v):4d} {m('load1_before'):6.2f} {m('wall_sim_s'):10.3f} {m('comm_s'):8.3f} "
          f"{100 * m('comm_share'):6.1f}% {m('comm_wait_s'):7.3f} {m('comm_post_s'):7.3f} "
          f"{100 * m('crit_share'):6.2f}%")
if len(med) == 2:
    (w0, c0, k0), (w1, c1, k1) = med["off"], med["on"]
    print(f"on/off: wall x{w1 / w0:.3f}, comm share x{c1 / c0:.3f} "
          f"({'halved' if c1 <= c0 / 2 else 'not halved'}; target: halved); "
          f"critical path's comm share x{k1 / k0:.3f}")
    off = [r for r in rows if r["overlap"] == "off"]
    hb = st.median(float(r["hide_bound"]) for r in off)
    ss = st.median(float(r["stall_share"]) for r in off)
    print(f"off runs: {100 * ss:.0f}% of the wait in stalls of 1 ms or more; an ideal "
          f"overlap (half a window of computation behind every wait) would leave "
          f"x{hb:.2f} of it (medians)")
if len(spikes) > 1:
    print("FAIL: spike counts differ between runs:", sorted(spikes))
    sys.exit(1)
PY
st=$?
[ $nfail -eq 0 ] && [ $st -eq 0 ]

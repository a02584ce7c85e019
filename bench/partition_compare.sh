#!/usr/bin/env bash
# bench/partition_compare.sh - the partition strategies side by side (issue 7):
# round_robin, block and graph on CONFIGS at RANKS, REPS runs each, T_STOP ms.
# Per run: cross-rank spike keys (total, per spike), imbalance (max/mean of
# per-rank compute time), imbalance_events (max/mean of synaptic events per
# rank: the deterministic part of the load), comm share, wall_sim_s, partition
# time. Writes OUT/partition_compare.csv (one row per run), prints a median
# table (Markdown) and plots OUT/partition_compare.png.
#
# Usage: bench/partition_compare.sh [--reps 1] [--ranks "2 4"] [--t-stop 500]
#            [--configs "configs/microcircuit-small.json configs/modular.json"] [--out DIR]
# Environment: REPS, RANKS, T_STOP, CONFIGS, OUT (default bench/out/partition_compare),
# NTWIN (default build/src/ntwin). More ranks than cores are run with
# --oversubscribe and marked oversubscribed=1: their counts are exact, their
# times are not scaling data. The CPU load average before each run is recorded.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
REPS=${REPS:-1}
RANKS=${RANKS:-"2 4"}
T_STOP=${T_STOP:-500}
CONFIGS=${CONFIGS:-"configs/microcircuit-small.json configs/modular.json"}
OUT=${OUT:-bench/out/partition_compare}
NTWIN=${NTWIN:-build/src/ntwin}
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --ranks) RANKS=$2; shift 2 ;;
    --t-stop) T_STOP=$2; shift 2 ;;
    --configs) CONFIGS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "partition_compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$NTWIN" ] || { echo "partition_compare.sh: no $NTWIN (build first)" >&2; exit 1; }
mkdir -p "$OUT" || exit 1
csv=$OUT/partition_compare.csv
echo "config,ranks,partition,rep,oversubscribed,load_avg_1min,spikes,spike_keys_remote,spike_keys_remote_per_spike,spike_keys_self,imbalance,imbalance_events,comm_s,comm_share,wall_sim_s,wall_partition_s,t_sim_ms,neurons_per_rank" >"$csv"
cores=$(nproc)
failed=0
for cfg in $CONFIGS; do
  for np in $RANKS; do
    for part in round_robin block graph; do
      for rep in $(seq 1 "$REPS"); do
        out=$OUT/runs/$(basename "$cfg" .json)_np${np}_${part}_$rep
        mkdir -p "$(dirname "$out")"
        load=$(cut -d' ' -f1 /proc/loadavg)
        over=$([ "$np" -gt "$cores" ] && echo 1 || echo 0)
        if ! scripts/mpirun.sh "$np" "$NTWIN" run "$cfg" --out "$out" --t-stop "$T_STOP" \
            --partition "$part" --bind none --quiet >"$out.log" 2>&1; then
          echo "run failed: $cfg np=$np partition=$part (see $out.log)" >&2
          tail -3 "$out.log" >&2
          failed=1
          continue
        fi
        /usr/bin/python3 - "$out/report.json" "$cfg" "$np" "$part" "$rep" "$over" "$load" >>"$csv" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cfg, np, part, rep, over, load = sys.argv[2:8]
f = [cfg, np, part, rep, over, load] + [repr(r[k]) if isinstance(r[k], float) else str(r[k]) for k in
     ("spikes", "spike_keys_remote", "spike_keys_remote_per_spike", "spike_keys_self",
      "imbalance", "imbalance_events", "comm_s", "comm_share", "wall_sim_s",
      "wall_partition_s", "t_sim_ms")]
f.append('"' + " ".join(map(str, r["neurons_per_rank"])) + '"')
print(",".join(f))
PY
        echo "done: $cfg np=$np $part rep $rep (load $load)" >&2
      done
    done
  done
done
/usr/bin/python3 bench/plot_partition_compare.py "$csv" "$OUT/partition_compare.png"
echo "csv: $csv; plot: $OUT/partition_compare.png" >&2
exit $failed

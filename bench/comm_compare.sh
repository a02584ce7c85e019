#!/usr/bin/env bash
# bench/comm_compare.sh - the two spike-exchange backends side by side:
# configs/brunel-small.json and configs/brunel.json for T_STOP ms on 1 and 2
# ranks with --comm mpi and --comm ofi, REPS runs each; prints the median
# wall_sim_s, comm_s (slowest rank), comm share, exchange time per window
# (comm_s / windows, ms) and remote spike keys per window per backend, and
# the libfabric provider and progress model that ran (report.json's
# comm_provider, comm_progress; FI_PROVIDER if set, else what ntwin picks:
# shm on one node).
#
# Usage: bench/comm_compare.sh [--reps 3] [--ranks "1 2"] [--t-stop 1000]
#                              [--configs "configs/brunel-small.json configs/brunel.json"]
# Environment: REPS, RANKS, T_STOP, CONFIGS, NTWIN (default build/src/ntwin),
# MPIRUN, OUT (work dir, default a temporary one). Runs are spike-identical
# across backends (tests/determinism_ofi.sh); only the timings differ.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
REPS=${REPS:-3}
RANKS=${RANKS:-"1 2"}
T_STOP=${T_STOP:-1000}
CONFIGS=${CONFIGS:-"configs/brunel-small.json configs/brunel.json"}
NTWIN=${NTWIN:-build/src/ntwin}
MPIRUN=${MPIRUN:-mpirun}
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --ranks) RANKS=$2; shift 2 ;;
    --t-stop) T_STOP=$2; shift 2 ;;
    --configs) CONFIGS=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "comm_compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$NTWIN" ] || { echo "comm_compare.sh: no $NTWIN (build first)" >&2; exit 1; }
OUT=${OUT:-$(mktemp -d /tmp/ntwin-comm-compare.XXXXXX)}
mkdir -p "$OUT" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
results=$OUT/results.tsv
: >"$results"
echo "provider: ${FI_PROVIDER:-auto (shm on one node, else the first libfabric offers)}; $REPS reps; t_stop $T_STOP ms; work dir $OUT" >&2
for cfg in $CONFIGS; do
  for np in $RANKS; do
    for comm in mpi ofi; do
      for rep in $(seq 1 "$REPS"); do
        out=$OUT/$(basename "$cfg" .json)_np${np}_${comm}_$rep
        if ! "$MPIRUN" -n "$np" --oversubscribe --bind-to none "$NTWIN" run "$cfg" \
            --out "$out" --t-stop "$T_STOP" --comm "$comm" --bind none --quiet \
            >"$out.log" 2>&1; then
          echo "run failed: $cfg np=$np comm=$comm (see $out.log)" >&2
          tail -3 "$out.log" >&2
          continue
        fi
        /usr/bin/python3 - "$out/report.json" "$cfg" "$np" "$comm" >>"$results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
windows = max(1, round(r["t_sim_ms"] / r["window_ms"]))
print("\t".join([sys.argv[2], sys.argv[3], sys.argv[4],
                 repr(r["wall_sim_s"]), repr(r["comm_s"]), repr(r["comm_share"]),
                 str(r["spikes"]), str(windows), str(r.get("spike_keys_remote", 0)),
                 r.get("comm_provider", "-") + "/" + r.get("comm_progress", "-")]))
PY
      done
    done
  done
done
/usr/bin/python3 - "$results" <<'PY'
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
groups = {}
provs = set()
for cfg, np, comm, wall, comm_s, share, spikes, win, keys, prov in rows:
    groups.setdefault((cfg, int(np), comm), []).append(
        (float(wall), float(comm_s), float(share), int(spikes), int(win), int(keys)))
    if comm == "ofi":
        provs.add(prov)
print("ofi ran with (provider/progress):", ", ".join(sorted(provs)) or "-")
print(f"{'config':28} {'ranks':>5} {'comm':>4} {'runs':>4} {'wall_sim_s':>10} "
      f"{'comm_s':>8} {'comm %':>7} {'ms/win':>7} {'keys/win':>8} {'spikes':>8}")
for (cfg, np, comm), v in sorted(groups.items()):
    med = lambda i: st.median(x[i] for x in v)
    print(f"{cfg:28} {np:5d} {comm:>4} {len(v):4d} {med(0):10.3f} {med(1):8.3f} "
          f"{100 * med(2):6.1f}% {1e3 * med(1) / v[0][4]:7.3f} "
          f"{v[0][5] / v[0][4]:8.1f} {v[0][3]:8d}")
PY


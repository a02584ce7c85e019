#!/usr/bin/env bash
# bench/loop_tradeoff.sh - what the closed loop costs the twin's fidelity.
# The demo's burst policy answers a predicted burst with a train of weak
# pulses; the longer the train, the fewer bursts the culture has, and the
# less of its activity is its own predictable bursting - so the twin's Γ
# falls. This runs the demo pair (scripts/demo.sh: the culture and the twin
# on 2 ranks, closed loop, then the same culture with the loop off) for each
# train length and tabulates Γ and the culture's own burst count, closed
# against open loop, with a picture. About 70 s per point.
#
# Usage: bench/loop_tradeoff.sh [--pulses "20 40 80"] [--reps 1] [--out DIR]
#   --pulses  pulses per train (50 ms apart: 20 = 1 s, 80 = 4 s, the demo's)
#   --reps    runs per train length
#   --out     results (default bench/out/loop-tradeoff-<date>): one demo
#             directory per run, results.csv, tradeoff.png
# Environment: TWIN_CONFIG (default configs/twin-demo.json), CULTURE_CONFIG
# (passed on to scripts/demo.sh).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
PY=/usr/bin/python3
PULSES="20 40 80" REPS=1 OUT=""
BASE=${TWIN_CONFIG:-configs/twin-demo.json}
while [ $# -gt 0 ]; do
  case "$1" in
    --pulses) PULSES=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "loop_tradeoff.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for v in $PULSES $REPS; do
  case "$v" in ''|*[!0-9]*|0) echo "loop_tradeoff.sh: '$v' is not a positive whole number" >&2; exit 2 ;; esac
done
[ -n "$PULSES" ] || { echo "loop_tradeoff.sh: --pulses is empty" >&2; exit 2; }
[ -n "$OUT" ] || OUT="bench/out/loop-tradeoff-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT" || exit 1
CSV=$OUT/results.csv
[ ! -e "$CSV" ] || { echo "loop_tradeoff.sh: $CSV exists" >&2; exit 1; }
echo "pulses,train_s,rep,gamma_closed,gamma_open,bursts_closed,bursts_open,stimulations,misses_closed,load1_before" >"$CSV"
nfail=0
for p in $PULSES; do
  for rep in $(seq 1 "$REPS"); do
    run=$OUT/p$p-r$rep
    mkdir -p "$run.cfg" || exit 1
    cfg=$run.cfg/twin.json
    "$PY" - "$BASE" "$cfg" "$p" <<'PY' || exit 1
import json, sys
c = json.load(open(sys.argv[1]))
st = c.get("twin", {}).get("stimulation")
if not st:
    sys.exit(f"loop_tradeoff.sh: {sys.argv[1]}: twin.stimulation: missing (a closed-loop config is needed)")
st["pulses"] = int(sys.argv[3])
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
    l=$(cut -d' ' -f1 /proc/loadavg)
    echo "== $p pulses per train, run $rep (load $l)"
    if ! TWIN_CONFIG=$cfg scripts/demo.sh "$run" >"$run.log" 2>&1; then
      echo "   FAILED (see $run.log)"; nfail=$((nfail + 1)); continue
    fi
    "$PY" - "$run" "$p" "$rep" "$l" >>"$CSV" <<'PY' || { nfail=$((nfail + 1)); continue; }
import json, sys
run, p, rep, load = sys.argv[1:5]
cfg = json.load(open(f"{run}.cfg/twin.json"))["twin"]["stimulation"]
t = json.load(open(f"{run}/report.json"))["twin"]
e = json.load(open(f"{run}/eval.json"))
cb = e["culture_bursts_runs"]
print(",".join(str(x) for x in [p, int(p) * cfg["pulse_interval_ms"] / 1e3, rep,
      t["gamma_steady"], e["open_loop_run"]["gamma_steady"], cb["closed_loop"]["bursts"],
      cb["open_loop"]["bursts"], t["stims_sent"], t["deadline_misses"], load]))
PY
    tail -1 "$CSV" | awk -F, '{printf "   Γ %.3f closed / %.3f open; culture bursts %d closed / %d open; %d stimulations\n", $4, $5, $6, $7, $8}'
  done
done
"$PY" - "$CSV" "$OUT/tradeoff.png" <<'PY'
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1])))
if not rows:
    sys.exit("loop_tradeoff.sh: no run finished")
by = {}
for r in rows:
    by.setdefault(float(r["train_s"]), []).append(r)
print(f"\n{'train s':>7} {'runs':>4} {'Γ closed':>8} {'Γ open':>7} {'bursts closed/open':>19}   (medians)")
pts = []
for ts in sorted(by):
    v = by[ts]
    m = lambda k: st.median(float(r[k]) for r in v)
    ratio = st.median(float(r["bursts_closed"]) / max(1.0, float(r["bursts_open"])) for r in v)
    pts.append((ts, m("gamma_closed"), m("gamma_open"), ratio))
    print(f"{ts:7.1f} {len(v):4d} {m('gamma_closed'):8.3f} {m('gamma_open'):7.3f} "
          f"{m('bursts_closed'):8.0f} / {m('bursts_open'):<4.0f} (x{ratio:.2f})")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    x = [p[0] for p in pts]
    ax.plot(x, [p[1] for p in pts], "o-", color="C0", label="Γ, closed loop")
    ax.plot(x, [p[2] for p in pts], "o--", color="C0", alpha=0.5, label="Γ, loop off")
    ax.axhline(0.5, color="C0", ls=":", lw=0.8)
    ax.set_xlabel("train length per predicted burst (s)")
    ax.set_ylabel("causal Γ (steady state)", color="C0")
    ax.set_ylim(0, 1)
    ax2 = ax.twinx()
    ax2.plot(x, [p[3] for p in pts], "s-", color="C3", label="culture bursts, closed / open")
    ax2.set_ylabel("culture's bursts, closed / open loop", color="C3")
    ax2.set_ylim(0, max(1.2, max(p[3] for p in pts) * 1.1))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="lower left", fontsize=8)
    ax.set_title("Closed loop: burst suppression against the twin's fidelity")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=120)
    print(f"-> {sys.argv[2]}")
except ImportError:
    print("(no matplotlib: no tradeoff.png)")
PY
[ $nfail -eq 0 ]

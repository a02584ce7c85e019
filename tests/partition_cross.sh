#!/bin/sh
# The graph partition's target (issue 7): on a modular network at 4 ranks,
# >= 30 % fewer spike keys cross ranks than with round_robin, with the very
# same spikes. Also checks the report's per-rank fields add up.
#
# Usage: partition_cross.sh NTWIN MPIRUN CONFIG_DIR WORK_DIR
#
# configs/modular.json (4 modules x 2,000 neurons, E populations first, then
# I) for 200 ms on 4 ranks (oversubscribed on small machines: only counts are
# checked, no timings) with round_robin, block and graph. round_robin sends
# each spike to all 3 other ranks (every neuron has targets everywhere); a
# partition that keeps modules together sends only the ~0.4 long-range
# links per spike and other module, so graph must be <= 0.7 x round_robin.
set -u
ntwin=$1 mpirun=$2 configs=$3 work=$4
py=/usr/bin/python3
TIMEOUT=${NTWIN_TEST_TIMEOUT:-120}
die() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work" || die "cannot create $work"

for part in round_robin block graph; do
  out=$work/$part
  timeout -k 10 "$TIMEOUT" "$mpirun" -n 4 --oversubscribe --bind-to none \
    "$ntwin" run "$configs/modular.json" --out "$out" --t-stop 200 \
    --partition "$part" --bind none --quiet >"$out.log" 2>&1 ||
    { cat "$out.log" >&2; die "4 ranks, $part: ntwin run failed (status $?)"; }
done

"$py" - "$work" <<'PY'
import json, sys
work = sys.argv[1]
r = {p: json.load(open(f"{work}/{p}/report.json")) for p in ("round_robin", "block", "graph")}
bad = []
for p, j in r.items():
    P = j["ranks"]
    for f, tot in (("neurons_per_rank", "neurons"), ("synapses_per_rank", "synapses"),
                   ("events_per_rank", "events"),
                   ("spike_keys_remote_per_rank", "spike_keys_remote"),
                   ("spike_keys_self_per_rank", "spike_keys_self")):
        if len(j[f]) != P or sum(j[f]) != j[tot]:
            bad.append(f"{p}: {f} {j[f]} does not add up to {tot} = {j[tot]}")
    if not j["imbalance"] >= 1.0 or not j["imbalance_events"] >= 1.0:
        bad.append(f"{p}: imbalance {j['imbalance']}, imbalance_events {j['imbalance_events']} < 1")
    if len(j["compute_s_per_rank"]) != P or min(j["compute_s_per_rank"]) <= 0:
        bad.append(f"{p}: compute_s_per_rank {j['compute_s_per_rank']}")
    if j["partition"] != p:
        bad.append(f"{p}: report says partition {j['partition']}")
    print(f"{p:12s} spikes {j['spikes']:7d}  keys to other ranks {j['spike_keys_remote']:8d} "
          f"({j['spike_keys_remote_per_spike']:.3f} per spike)  to self {j['spike_keys_self']:8d}  "
          f"neurons/rank {j['neurons_per_rank']}  events max/mean {j['imbalance_events']:.3f}")
rr, g = r["round_robin"], r["graph"]
if rr["spikes"] < 20000:
    bad.append(f"only {rr['spikes']} spikes: too few for a meaningful comparison")
if len({j["spikes"] for j in r.values()}) != 1 or len({j["events"] for j in r.values()}) != 1:
    bad.append("spike or event counts differ between partitions")
# each spike of round_robin goes to every other rank: the counter counts
if abs(rr["spike_keys_remote"] - 3 * rr["spikes"]) > 0.01 * rr["spikes"]:
    bad.append(f"round_robin: {rr['spike_keys_remote']} remote keys, expected ~3 x {rr['spikes']}")
ratio = g["spike_keys_remote"] / rr["spike_keys_remote"]
print(f"graph / round_robin cross-rank spike keys = {ratio:.3f} ({100 * (1 - ratio):.1f} % fewer; target >= 30 %)")
if ratio > 0.7:
    bad.append(f"graph sends {ratio:.3f} x round_robin's cross-rank keys (need <= 0.70)")
# block happens to keep parts of modules together; graph must do clearly better
bl = r["block"]
if g["spike_keys_remote"] > 0.8 * bl["spike_keys_remote"]:
    bad.append(f"graph sends {g['spike_keys_remote']} cross-rank keys, block {bl['spike_keys_remote']} "
               "(need graph <= 0.8 x block)")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

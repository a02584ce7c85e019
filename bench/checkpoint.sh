#!/usr/bin/env bash
# Checkpoint throughput beside the raw sequential write speed of the same
# disk, measured in the same run (the checkpoint issue's benchmark).
# Network: configs/brunel.json with its E->E projection made plastic (stdp),
# so 6.4 M synapses are stored (~180 MB), on 1 and 2 ranks.
# Usage: bench/checkpoint.sh [OUT_DIR]     (default bench/out/checkpoint-<date>)
# REPS=N repeats each rank count N times (one line each); the load average
# is printed on every line, since the machine may be shared.
# NTW_CKPT_PROFILE=1 adds each phase's time (rank 0) to the output.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/checkpoint-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
[ -x build/src/ntwin ] || scripts/setup.sh
py=/usr/bin/python3
$py - "$out/brunel-stdp.json" <<'PY'
import json, sys
c = json.load(open("configs/brunel.json"))
c["_comment"] = "brunel.json with plastic E->E synapses (checkpoint benchmark)"
for p in c["projections"]:
    if p["source"] == "E" and p["target"] == "E":
        p["synapse"] = {"model": "stdp", "lambda": 0.001, "Wmax": 1.0, "mu_plus": 0, "mu_minus": 1}
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; disk of $out: $(df -h "$out" | tail -1 | awk '{print $1, $2}')"
# Raw sequential write of 512 MB, flushed, in the same directory. This VM's
# disk ranges from 0.3 to 1.2 GB/s from one minute to the next (host
# caching), so it is measured again right before every checkpoint run and
# each line is compared with its own raw figure.
raw_speed() {
  local r
  r=$( { dd if=/dev/zero of="$out/raw.bin" bs=4M count=128 conv=fdatasync 2>&1 >/dev/null; } | tail -1)
  rm -f "$out/raw.bin"
  echo "$r" | $py -c "
import re,sys; s=sys.stdin.read(); m=re.search(r'([0-9.]+) s, ([0-9.]+) ([kMG]B)/s', s)
t=float(m.group(1)); print(f'{512*1024*1024/t/1e9:.3f}')"
}
printf "%-6s %-8s %-9s %-8s %-11s %-9s %-10s %-13s %-9s %s\n" ranks ckpt_MB raw_GB/s write_s write_GB/s "w % raw" restore_s restore_GB/s "r % raw" "load avg (1 min)"
for np in 1 2; do for rep in $(seq "${REPS:-1}"); do
  d="$out/np$np-$rep"
  raw_gbs=$(raw_speed)
  sleep 3 # the host may still be flushing dd's 512 MB
  scripts/mpirun.sh "$np" build/src/ntwin run "$out/brunel-stdp.json" --out "$d/a" --t-stop 20 \
    --checkpoint-final --quiet
  scripts/mpirun.sh "$np" build/src/ntwin run --restore "$d/a/checkpoint-20.h5" --out "$d/b" \
    --t-stop 21 --quiet
  $py - "$d" "$np" "$raw_gbs" <<'PY'
import json, os, sys
d, np_, raw = sys.argv[1], sys.argv[2], float(sys.argv[3])
a = json.load(open(f"{d}/a/report.json")); b = json.load(open(f"{d}/b/report.json"))
B = a["checkpoint_bytes"]; w = a["checkpoint_write_s"]; r = b["restore_s"]
print(f"{np_:<6} {B/1e6:<8.1f} {raw:<9.3f} {w:<8.3f} {B/w/1e9:<11.3f} {100*B/w/1e9/raw:<9.0f} {r:<10.3f} "
      f"{B/r/1e9:<13.3f} {100*B/r/1e9/raw:<9.0f} {os.getloadavg()[0]:.2f}")
PY
  rm -rf "$d"
done; done

#!/usr/bin/env bash
# The models issue's benchmark: events/s, real-time factor and bytes per
# synapse of the reference networks on 1 and 2 ranks.
#   hpc_benchmark.json  NEST's hpc_benchmark at scale 1 (11,250 neurons,
#                       126.6 M synapses, E->E power-law STDP), 250 ms
#   microcircuit-small.json  (or microcircuit.json with --full: 77,169
#                       neurons, 0.3 G synapses; ~3 GB per rank, minutes)
# Usage: bench/reference_networks.sh [--full] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
[ "${1:-}" = "--full" ] && { full=1; shift; }
out=${1:-bench/out/reference-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
[ -x build/src/ntwin ] || scripts/setup.sh
micro=configs/microcircuit-small.json
[ $full = 1 ] && micro=configs/microcircuit.json
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); ntwin $(git rev-parse --short HEAD)"
printf "%-26s %-5s %-10s %-10s %-8s %-12s %-9s %s\n" config ranks build_s sim_s RTF events/s B/syn rates_Hz
for cfg in configs/hpc_benchmark.json "$micro"; do
  for np in 1 2; do
    d="$out/$(basename "$cfg" .json)-np$np"
    scripts/mpirun.sh "$np" build/src/ntwin run "$cfg" --out "$d" --quiet
    /usr/bin/python3 - "$d" "$cfg" "$np" <<'PY'
import json, sys
r = json.load(open(sys.argv[1] + "/report.json"))
rates = " ".join(f"{k}:{v:.2f}" for k, v in r["rates_hz"].items())
print(f"{sys.argv[2].split('/')[-1]:<26} {sys.argv[3]:<5} {r['wall_build_s']:<10.2f} {r['wall_sim_s']:<10.2f} "
      f"{r['rtf']:<8.2f} {r['events_per_s']/1e6:<8.1f} M   {r['bytes_per_synapse']:<9.2f} {rates}")
PY
  done
done

#!/usr/bin/env bash
# The main job: sets everything up, then runs the Brunel balanced network
# (configs/brunel.json: 10,000 neurons, 10 M synapses, 1 s) on 2 ranks and
# plots its raster and rates. (The closed-loop twin demo replaces this when
# the twin lands.)
# Usage: scripts/demo.sh [CONFIG] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
config=${1:-configs/brunel.json}
out=${2:-out/demo}
scripts/mpirun.sh 2 build/src/ntwin run "$config" --out "$out"
/usr/bin/python3 scripts/plot_spikes.py "$out" -o "$out/raster.png"
echo "demo: results in $out (spikes.h5, report.json, raster.png)"

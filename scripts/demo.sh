#!/usr/bin/env bash
# The main job: the closed-loop Neuromorphic Twin demo. Sets everything up,
# then
#   1. starts `ntwin culture` (configs/culture-demo.json: a stand-in culture
#      of 1000 Izhikevich neurons on a 60-electrode MEA, with one hidden
#      change, a lesion at 15 s) and the twin (configs/twin-demo.json) on 2
#      ranks beside it, coupled both ways on the bio link, closed loop, 30 s
#      of biological time paced by the wall clock;
#   2. runs the same culture again with the twin watching but the loop off
#      (the reference burst rate);
#   3. scores the twin against the culture's ground truth and draws the
#      pictures (scripts/twin_eval.py, scripts/plot_culture.py), ending with
#      a short summary.
# Results: OUT/report.json (twin object), OUT/twin.h5, OUT/spikes.h5,
# OUT/twin_*.png, OUT/culture/ (ground truth, culture.png), OUT/open-loop/.
# Usage: scripts/demo.sh [OUT_DIR]   (default out/demo; about 2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out=${1:-out/demo}
twin=${TWIN_CONFIG:-configs/twin-demo.json}
culture=${CULTURE_CONFIG:-configs/culture-demo.json}
rm -rf "$out"
mkdir -p "$out/open-loop"
# Ranks wait for rank 0 asleep or yielding, not spinning: the culture needs
# a core too (2 ranks + the culture on this 2-core machine).
export OMPI_MCA_mpi_yield_when_idle=1

pair() { # pair TWIN_CONFIG OUT: the culture and the twin, coupled; the
  # culture at the twin's real-time priority (README "Real-time priority")
  local rtopt
  rtopt=$(scripts/rt_option.sh "$1") || exit 1
  # shellcheck disable=SC2086
  build/src/ntwin culture "$culture" --out "$2/culture" --wait-peer 120 \
    $rtopt 2>"$2/culture.log" &
  local cpid=$!
  if ! scripts/mpirun.sh 2 build/src/ntwin run "$1" --out "$2"; then
    kill "$cpid" 2>/dev/null || true
    echo "demo: the twin failed; the culture's log is $2/culture.log" >&2
    exit 1
  fi
  wait "$cpid" || { echo "demo: the culture failed (see $2/culture.log)" >&2; exit 1; }
}

echo "demo: 1/2 closed loop: ntwin culture + twin on 2 ranks, 30 s paced"
pair "$twin" "$out"
echo "demo: 2/2 reference: the same culture, the twin watching, loop off"
/usr/bin/python3 - "$twin" "$out/open-loop/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["twin"]["regime"] = "twin"
c["twin"].pop("stimulation", None)
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
pair "$out/open-loop/config.json" "$out/open-loop" >/dev/null 2>"$out/open-loop/twin.log"
/usr/bin/python3 scripts/plot_culture.py "$out/culture" >/dev/null
/usr/bin/python3 scripts/twin_eval.py "$out" --truth "$out/culture/culture.h5" \
  --open-loop "$out/open-loop" --summary

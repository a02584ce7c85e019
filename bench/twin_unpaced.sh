#!/usr/bin/env bash
# bench/twin_unpaced.sh - the twin's compute cost without pacing: CONFIG
# (default configs/twin-10k.json) turned into an unpaced replay of SECONDS of
# the real mouse recording read from the file (regime "replay", source
# "file", pace false: windows run as fast as they can), run REPS times on NP
# ranks; prints wall_sim_s and the real-time factor (wall / simulated time,
# < 1 is faster than biology) of each run with the load average before it,
# then the median. Alternates nothing: run it once per binary or rank count.
#
# Usage: bench/twin_unpaced.sh [--seconds 10] [--np 1] [--reps 3]
#                              [--config configs/twin-10k.json] [--out DIR]
# NTWIN=path selects another binary (default build/src/ntwin).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
SECONDS_=10 NP=1 REPS=3 CONFIG=configs/twin-10k.json OUT=bench/out/twin-unpaced
REC=../shared/data/mea-hippocampus-mouse-div25.h5
NTWIN=${NTWIN:-build/src/ntwin}
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECONDS_=$2; shift 2 ;;
    --np) NP=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/twin_unpaced.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$REC" ] || { echo "bench/twin_unpaced.sh: no recording $REC" >&2; exit 1; }
[ -x "$NTWIN" ] || { echo "bench/twin_unpaced.sh: no binary $NTWIN (scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$OUT"
/usr/bin/python3 - "$CONFIG" "$OUT/config.json" "$REC" "$SECONDS_" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
t = c["twin"]
t["regime"] = "replay"
t["source"] = {"kind": "file", "path": sys.argv[3], "pace": False}
t.pop("timing", None)  # paced twins only
c["simulation"]["t_stop"] = float(sys.argv[4]) * 1000
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
walls=()
for rep in $(seq 1 "$REPS"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  scripts/mpirun.sh "$NP" "$NTWIN" run "$OUT/config.json" --out "$OUT/np$NP-rep$rep" --quiet \
    || { echo "bench/twin_unpaced.sh: run $rep failed" >&2; exit 1; }
  w=$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.3f %.3f" % (r["wall_sim_s"], r["rtf"]))' \
      "$OUT/np$NP-rep$rep/report.json")
  echo "rep $rep  np $NP  wall_sim_s ${w% *}  rtf ${w#* }  load before $load"
  walls+=("${w% *}")
done
med=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median wall_sim_s $med  rtf $(awk -v m="$med" -v s="$SECONDS_" 'BEGIN{printf "%.3f", m/s}')  ($NTWIN, $SECONDS_ s, np $NP)"

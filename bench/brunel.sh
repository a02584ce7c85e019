#!/usr/bin/env bash
# bench/brunel.sh - the benchmark of the engine issue: configs/brunel.json
# (10,000 neurons, 10 M synapses) for 1 s of biological time on 1 and 2 ranks,
# REPS times each; one results.csv row per run, then a summary table and the
# verdict against the issue's targets (<= 1.5 s wall_sim_s on 2 ranks,
# <= 12 bytes/synapse), as measured.
#
# Usage: bench/brunel.sh [--ranks "1 2"] [--reps 3] [--config configs/brunel.json]
#                        [--t-stop 1000] [--out DIR] [--settle S] [--no-build]
# The same settings as environment variables: RANKS, REPS, CONFIG, T_STOP, OUT,
# SETTLE, NO_BUILD=1, plus NTWIN (binary, default build/src/ntwin) and MPIRUN.
# Flags win over the environment. See bench/README.md.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
PY=/usr/bin/python3
HELPER="$ROOT/bench/report_to_csv.py"

RANKS=${RANKS:-"1 2"}
REPS=${REPS:-3}
CONFIG=${CONFIG:-configs/brunel.json}
T_STOP=${T_STOP:-1000}
OUT=${OUT:-}
SETTLE=${SETTLE:-1}
NO_BUILD=${NO_BUILD:-0}
NTWIN=${NTWIN:-build/src/ntwin}
MPIRUN=${MPIRUN:-mpirun}

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) RANKS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    --t-stop) T_STOP=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --settle) SETTLE=$2; shift 2 ;;
    --no-build) NO_BUILD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "brunel.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
RANKS=$(echo "$RANKS" | tr ',' ' ')
[ -n "$OUT" ] || OUT="bench/out/brunel-$(date +%Y%m%d-%H%M%S)"
case "$REPS" in ''|*[!0-9]*) echo "brunel.sh: --reps wants a positive integer" >&2; exit 2 ;; esac
for r in $RANKS; do
  case "$r" in ''|*[!0-9]*|0) echo "brunel.sh: bad rank count '$r'" >&2; exit 2 ;; esac
done
[ -f "$CONFIG" ] || { echo "brunel.sh: no config $CONFIG" >&2; exit 2; }
[ -x "$PY" ] || { echo "brunel.sh: needs $PY (with the stdlib only)" >&2; exit 2; }

# mpirun as root needs these; harmless otherwise.
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# Build: set up and compile when the binary is missing. When a build dir exists,
# a (normally no-op) 'meson compile' keeps the binary in step with the sources
# so that the git_commit column describes what actually ran.
if [ "$NO_BUILD" != 1 ] && [ "$NTWIN" = build/src/ntwin ]; then
  if [ ! -x build/src/ntwin ]; then
    echo "== building ntwin (meson setup/compile build)" >&2
    { [ -f build/build.ninja ] || meson setup build; } >&2 && meson compile -C build >&2 \
      || { echo "brunel.sh: build failed" >&2; exit 1; }
  else
    meson compile -C build >/dev/null 2>&1 \
      || { echo "brunel.sh: 'meson compile -C build' failed (use --no-build to skip)" >&2; exit 1; }
  fi
fi
[ -x "$NTWIN" ] || { echo "brunel.sh: no ntwin binary at $NTWIN" >&2; exit 1; }

NPROC=$(nproc)
CPU_MODEL=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)
CORES_PER_SOCKET=$(lscpu 2>/dev/null | sed -n 's/^Core(s) per socket:[[:space:]]*//p' | head -n1)
SOCKETS=$(lscpu 2>/dev/null | sed -n 's/^Socket(s):[[:space:]]*//p' | head -n1)
HOST=$(hostname)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  COMMIT="$COMMIT-dirty"
fi

mkdir -p "$OUT" || exit 1
CSV="$OUT/results.csv"
[ ! -e "$CSV" ] || { echo "brunel.sh: $CSV exists; choose another --out" >&2; exit 1; }

# Fraction of all CPUs that were busy during a 1 s window (while we ran
# nothing): other people's load, which contaminates the timings.
cpu_busy() {
  local a b
  a=$(head -n1 /proc/stat); sleep 1; b=$(head -n1 /proc/stat)
  printf '%s\n%s\n' "$a" "$b" | awk '
    { idle = $5 + $6; tot = 0; for (i = 2; i <= NF; i++) tot += $i;
      if (NR == 1) { i0 = idle; t0 = tot } else { i1 = idle; t1 = tot } }
    END { d = t1 - t0; printf "%.3f", (d > 0) ? 1 - (i1 - i0) / d : 0 }'
}
quote_cmd() { local s="" w; for w in "$@"; do s="$s $(printf '%q' "$w")"; done; echo "${s# }"; }

echo "== ntwin brunel benchmark -> $OUT"
echo "   machine: ${CPU_MODEL:-unknown CPU}, $NPROC logical CPUs" \
     "(${SOCKETS:-?} socket(s) x ${CORES_PER_SOCKET:-?} core(s)), host $HOST"
echo "   ntwin:   commit $COMMIT ($NTWIN)"
echo "   config:  $CONFIG, t_stop $T_STOP ms, ranks: $RANKS, reps: $REPS"

nfail=0
# Reps in the outer loop, so drift in background load hits every rank count alike.
for rep in $(seq 1 "$REPS"); do
  for np in $RANKS; do
    over=0; extra=()
    if [ "$np" -gt "$NPROC" ]; then over=1; extra=(--oversubscribe); fi
    dir="$OUT/np$np-rep$rep"
    mkdir -p "$dir"
    [ "$SETTLE" = 0 ] || sleep "$SETTLE"
    busy=$(cpu_busy)
    load1=$(cut -d' ' -f1 /proc/loadavg)
    cmd=("$MPIRUN" --bind-to none "${extra[@]}" -n "$np" "$NTWIN" run "$CONFIG"
         --out "$dir" --t-stop "$T_STOP" --quiet)
    cmdline=$(quote_cmd "${cmd[@]}")
    when=$(date -Iseconds)
    t0=$(date +%s.%N)
    "${cmd[@]}" >"$dir/stdout.log" 2>"$dir/stderr.log"
    rc=$?
    t1=$(date +%s.%N)
    status=ok
    if [ $rc -ne 0 ] || [ ! -f "$dir/report.json" ]; then status="failed(rc=$rc)"; nfail=$((nfail + 1)); fi
    report_arg=(); [ "$status" = ok ] && report_arg=(--report "$dir/report.json")
    "$PY" "$HELPER" append "$CSV" "${report_arg[@]}" \
      --set "ranks=$np" --set "rep=$rep" --set "oversubscribed=$over" --set "status=$status" \
      --set "git_commit=$COMMIT" --set "host=$HOST" --set "date=$when" \
      --set "nproc=$NPROC" --set "cpu_model=$CPU_MODEL" \
      --set "bg_cpu_busy_before=$busy" --set "load1_before=$load1" \
      --set "wall_total_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')" \
      --set "run_dir=$dir" --set "command=$cmdline" || exit 1
    if [ "$status" = ok ]; then
      w=$("$PY" -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["wall_sim_s"])' "$dir/report.json")
      printf '   rep %d  np %d%s  wall_sim_s %s  (background busy %.0f%%)\n' "$rep" "$np" \
        "$([ $over = 1 ] && echo ' OVERSUB')" "$w" "$(awk -v b="$busy" 'BEGIN{print 100*b}')"
    else
      printf '   rep %d  np %d  %s  (see %s/stderr.log)\n' "$rep" "$np" "$status" "$dir"
    fi
  done
done

echo
{
  echo "== results: $CSV"
  echo "   machine: ${CPU_MODEL:-unknown CPU}, $NPROC logical CPUs" \
       "(${SOCKETS:-?} socket(s) x ${CORES_PER_SOCKET:-?} core(s)), host $HOST"
  echo "   ntwin:   commit $COMMIT; $CONFIG, t_stop $T_STOP ms, $REPS rep(s)"
  echo
  "$PY" "$HELPER" summary "$CSV"
  echo "summary-status $?"
} > "$OUT/summary.txt"
status=$(sed -n 's/^summary-status //p' "$OUT/summary.txt")
sed -i '/^summary-status /d' "$OUT/summary.txt"
cat "$OUT/summary.txt"
echo
echo "plot: /usr/bin/python3 bench/plot_bench.py $CSV"
[ "$nfail" -eq 0 ] && [ "$status" -eq 0 ]

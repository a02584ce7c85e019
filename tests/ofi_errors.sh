#!/bin/sh
# The ofi backend's failures follow invariant 4: FI_PROVIDER=nonexistent
# (no usable libfabric provider) ends with exactly one "ntwin: error:" line
# naming the backend, the provider and libfabric's reason, status 1 on every
# rank, no hang, no output left. Same for an unknown --comm value, a bad
# NTW_COMM_TIMEOUT and a bad NTW_OFI_PROGRESS. And the watchdog: with rank 1
# stopped for good before exchange 5 (NTW_FAULT_OFI_STALL=1:5) and
# NTW_COMM_TIMEOUT=2, the run (default provider) ends non-zero within the
# time limit with one error line naming the stall and rank 1.
#
# Usage: ofi_errors.sh NTWIN MPIRUN WORK_DIR   (2 ranks; each rank records
# its own exit status, and mpirun does not kill the others when one fails,
# so a rank that would not stop by itself shows up as a timeout.)
set -u
ntwin=$1 mpirun=$2 work=$3
py=/usr/bin/python3
NP=2
TIMEOUT=${NTWIN_TEST_TIMEOUT:-60}
case $ntwin in /*) ;; *) ntwin=$PWD/$ntwin ;; esac
die() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work" && cd "$work" || die "cannot create work dir $work"

"$py" - <<'PYEOF' || die "cannot write good.json"
import json
pop = lambda name, size: {"name": name, "model": "iaf_psc_delta", "size": size,
    "params": {"tau_m": 20.0, "C_m": 250.0, "t_ref": 2.0, "E_L": 0.0,
               "V_th": 20.0, "V_reset": 10.0, "I_e": 0.0, "V_m": 5.0}}
c = {"simulation": {"dt": 0.1, "t_stop": 20.0, "seed": 1, "bind": "none"},
     "populations": [pop("E", 40)],
     "projections": [{"source": "E", "target": "E", "rule": "fixed_indegree",
                      "indegree": 4, "weight": 0.1, "delay": 1.5}],
     "stimuli": [{"type": "poisson", "target": "E", "rate": 20000.0, "weight": 0.1}],
     "record": {"spikes": ["E"]}}
json.dump(c, open("good.json", "w"), indent=1)
PYEOF

failed=0
# case NAME WANT_STATUS TEXTS(|-separated) -- ENV... -- ARGS...
case_() {
  name=$1 want=$2 texts=$3
  shift 4
  envs=
  while [ "$1" != -- ]; do envs="$envs $1"; shift; done
  shift
  rm -rf "rc_$name" "out_$name" && mkdir "rc_$name"
  # shellcheck disable=SC2086
  env $envs timeout -k 10 "$TIMEOUT" "$mpirun" -n $NP --oversubscribe --bind-to none \
    --mca orte_abort_on_non_zero_status 0 \
    sh -c 'd=$1 r=${OMPI_COMM_WORLD_RANK:-x}; shift; echo $$ >"$d/pid.$r"
           "$0" "$@"; s=$?; echo $s >"$d/$r"; exit $s' \
    "$ntwin" "$work/rc_$name" "$@" >"$name.stdout" 2>"$name.stderr" </dev/null
  rc=$?
  why=
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    why="$why; hang (no exit within ${TIMEOUT}s)"
    for f in "rc_$name"/pid.*; do [ -f "$f" ] && kill -9 "-$(cat "$f")" 2>/dev/null; done
  fi
  r=0
  while [ $r -lt $NP ]; do
    got=$(cat "rc_$name/$r" 2>/dev/null || echo none)
    [ "$got" = "$want" ] || why="$why; rank $r exit status $got, expected $want"
    r=$((r + 1))
  done
  # A crash report fails the case even with the expected status: ASan exits
  # with status 1 (see cli_errors.sh).
  crash=$(grep -m1 -e 'Process received signal' -e 'ERROR: AddressSanitizer' \
    -e ': runtime error: ' "$name.stderr")
  [ -n "$crash" ] && why="$why; crash report in stderr: $crash"
  n=$(grep -c '^ntwin: error:' "$name.stderr")
  [ "$n" -eq 1 ] || why="$why; $n 'ntwin: error:' lines, expected 1"
  line=$(grep '^ntwin: error:' "$name.stderr" | head -1)
  old=$IFS; IFS='|'
  for t in $texts; do
    case $line in *"$t"*) ;; *) why="$why; error line lacks '$t'" ;; esac
  done
  IFS=$old
  for f in spikes.h5 spikes.h5.tmp report.json; do
    [ -e "out_$name/$f" ] && why="$why; left out_$name/$f"
  done
  if [ -z "$why" ]; then
    echo "ok   $name: $line"
  else
    echo "FAIL $name$why" >&2
    sed 's/^/  | /' "$name.stderr" >&2
    failed=$((failed + 1))
  fi
}

case_ bad_provider 1 "comm ofi|no usable libfabric provider|FI_PROVIDER=nonexistent|No data available" \
  -- FI_PROVIDER=nonexistent -- run good.json --out out_bad_provider --comm ofi
case_ bad_comm 1 "--comm|unknown comm 'ucx'|known: mpi, ofi" \
  -- -- run good.json --out out_bad_comm --comm ucx
case_ bad_timeout 1 "comm ofi|NTW_COMM_TIMEOUT must be a number of seconds|'soon'" \
  -- NTW_COMM_TIMEOUT=soon -- run good.json --out out_bad_timeout --comm ofi
case_ bad_progress 1 "comm ofi|NTW_OFI_PROGRESS must be 'auto' or 'manual'|'fast'" \
  -- NTW_OFI_PROGRESS=fast -- run good.json --out out_bad_progress --comm ofi

# The watchdog: ranks that are killed by the abort leave no status, so this
# case checks the run's status, the time and the one line.
"$py" - <<'PYEOF' || die "cannot write long.json"
import json
c = json.load(open("good.json"))
c["simulation"]["t_stop"] = 2000.0
json.dump(c, open("long.json", "w"), indent=1)
PYEOF
rm -rf out_watchdog rc_watchdog && mkdir rc_watchdog
NTW_COMM_TIMEOUT=2 NTW_FAULT_OFI_STALL=1:5 timeout -k 10 "$TIMEOUT" "$mpirun" -n $NP \
  --oversubscribe --bind-to none \
  sh -c 'echo $$ >"$1/pid.${OMPI_COMM_WORLD_RANK:-x}"; shift; exec "$0" "$@"' \
  "$ntwin" "$work/rc_watchdog" run long.json --out out_watchdog --comm ofi \
  --quiet >watchdog.stdout 2>watchdog.stderr </dev/null
rc=$?
n=$(grep -c '^ntwin: error:' watchdog.stderr)
line=$(grep '^ntwin: error:' watchdog.stderr | head -1)
why=
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
  why="; hang (no exit within ${TIMEOUT}s)"
  for f in rc_watchdog/pid.*; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
elif [ $rc -eq 0 ]; then
  why="; the run with a stuck rank succeeded"
fi
[ "$n" -eq 1 ] || why="$why; $n 'ntwin: error:' lines, expected 1"
case $line in
  *"comm ofi"*"no progress for 2 s in exchange 5 on rank 0, waiting for rank 1:"*) ;;
  *) why="$why; error line lacks the stall, exchange 5 or rank 1" ;;
esac
[ -e out_watchdog/report.json ] && why="$why; left out_watchdog/report.json"
if [ -z "$why" ]; then
  echo "ok   watchdog (status $rc): $line"
else
  echo "FAIL watchdog$why" >&2
  sed 's/^/  | /' watchdog.stderr >&2
  failed=$((failed + 1))
fi
[ $failed -eq 0 ] || exit 1
echo "ofi_errors: all cases passed"

#!/usr/bin/env bash
# Tests every job script in slurm/ on a real one-node Slurm (tests/slurm/slurm-one-node.sh,
# which installs Slurm and munge when missing). Root, Debian 12. Usage: bash tests/slurm/run.sh
# Each job is submitted with `timeout 300 sbatch --wait` and at most $(nproc) (<= 2) tasks;
# its exit code and outputs are checked:
#   ntwin-node.sbatch      srun --mpi=pmix, then the mpirun fallback (NTWIN_LAUNCHER=mpirun)
#   ntwin-multinode.sbatch one rank per core, and one rank per NUMA domain (--bind numa)
#   study-array.sbatch     through slurm/submit-study.sh --wait: a 4-task array + merge job
#   a bad config           must FAIL, non-zero exit, the ntwin error line in its log
# The daemons this script started are stopped at the end, pass or fail (trap).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
W=${SLURM_TEST_DIR:-$ROOT/build/slurm-test}
PY=/usr/bin/python3
SLURM=tests/slurm/slurm-one-node.sh
fails=0
t_start=$(date +%s)

pass() { echo "PASS: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

[ "$(id -u)" = 0 ] || { echo "tests/slurm/run.sh: needs root (installs and starts Slurm)" >&2; exit 1; }

started=0
cleanup() {
  if [ "$started" = 1 ]; then scancel -u root >/dev/null 2>&1; bash "$SLURM" stop; echo "slurm: daemons stopped"; fi
}
trap cleanup EXIT
out=$(bash "$SLURM" start) || { echo "$out"; echo "FAIL: could not start Slurm" >&2; exit 1; }
echo "$out"
[ "$(echo "$out" | tail -n1)" = started ] && started=1

# Build ntwin if needed (scripts/setup.sh installs its packages and builds).
[ -x build/src/ntwin ] || scripts/setup.sh || { echo "FAIL: build" >&2; exit 1; }

rm -rf "$W" && mkdir -p "$W"
N=$(nproc); [ "$N" -gt 2 ] && N=2
echo "== slurm job tests: up to $N ranks, outputs in $W"

# check_run DIR RANKS LABEL: report.json has ranks == RANKS and spikes > 0; spikes.h5 exists.
check_run() {
  local d=$1 n=$2 what=$3
  [ -f "$d/report.json" ] || { bad "$what: no $d/report.json"; return; }
  [ -f "$d/spikes.h5" ] || { bad "$what: no $d/spikes.h5"; return; }
  if $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["ranks"]==int(sys.argv[2]) and r["spikes"]>0 else 1)' \
      "$d/report.json" "$n"; then
    pass "$what: report.json ranks=$n, spikes>0, spikes.h5 present"
  else
    bad "$what: report.json fields wrong: $(head -c 400 "$d/report.json")"
  fi
}
# submit NAME [sbatch options and script args...]: run with --wait, set $rc and $log.
submit() {
  local name=$1; shift
  log="$W/$name.out"
  timeout 300 sbatch --wait -o "$log" -J "$name" "$@" >/dev/null
  rc=$?
  [ $rc -eq 124 ] && echo "  (timed out after 300 s; squeue: $(squeue -h 2>&1 | head -3))"
}
grep_log() { grep -q -- "$1" "$log" && pass "$2" || { bad "$2: '$1' not in $log"; tail -n 20 "$log"; }; }

# 1. one node, srun --mpi=pmix.
submit node -n "$N" slurm/ntwin-node.sbatch configs/brunel-small.json "$W/node" --t-stop 100
[ $rc -eq 0 ] && pass "ntwin-node.sbatch (srun) exit 0" || { bad "ntwin-node.sbatch exit $rc"; tail -n 20 "$log"; }
check_run "$W/node" "$N" "ntwin-node.sbatch"
grep_log "srun --mpi=pmix --cpu-bind=none -n $N" "ntwin-node.sbatch chose srun --mpi=pmix"
grep_log "ntwin summary:" "ntwin-node.sbatch printed the summary"

# 2. one node, mpirun inside the allocation (the fallback), config and out from the environment.
NTWIN_LAUNCHER=mpirun NTWIN_CONFIG=configs/brunel-small.json NTWIN_OUT="$W/node-mpirun" \
  NTWIN_ARGS="--t-stop 100 --partition block" submit node-mpirun -n "$N" slurm/ntwin-node.sbatch
[ $rc -eq 0 ] && pass "ntwin-node.sbatch (mpirun, env) exit 0" || { bad "ntwin-node.sbatch mpirun exit $rc"; tail -n 20 "$log"; }
check_run "$W/node-mpirun" "$N" "ntwin-node.sbatch mpirun"
grep_log "mpirun --bind-to none -n $N" "ntwin-node.sbatch used mpirun --bind-to none"

# 3. multi node script (one node here): one rank per core.
submit multi-core -N 1 --ntasks-per-node="$N" slurm/ntwin-multinode.sbatch configs/brunel-small.json \
  "$W/multi-core" --t-stop 100
[ $rc -eq 0 ] && pass "ntwin-multinode.sbatch (bind core) exit 0" || { bad "ntwin-multinode.sbatch core exit $rc"; tail -n 20 "$log"; }
check_run "$W/multi-core" "$N" "ntwin-multinode.sbatch core"
$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["bind"]=="core" and len(r["binding"])==r["ranks"] else 1)' \
  "$W/multi-core/report.json" 2>/dev/null && pass "multinode core: binding reported per rank" || bad "multinode core: binding not reported"

# 4. multi node script: one rank per NUMA domain (this machine has one), all cores per rank.
NTWIN_BIND=numa submit multi-numa -N 1 --ntasks-per-node=1 --cpus-per-task="$N" \
  slurm/ntwin-multinode.sbatch configs/brunel-small.json "$W/multi-numa" --t-stop 100
[ $rc -eq 0 ] && pass "ntwin-multinode.sbatch (bind numa) exit 0" || { bad "ntwin-multinode.sbatch numa exit $rc"; tail -n 20 "$log"; }
check_run "$W/multi-numa" 1 "ntwin-multinode.sbatch numa"
$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["bind"]=="numa" else 1)' \
  "$W/multi-numa/report.json" 2>/dev/null && pass "multinode numa: report says bind numa" || bad "multinode numa: bind not numa"

# 5. the study as a job array plus its merge job.
log="$W/study-submit.out"
timeout 300 slurm/submit-study.sh --wait tests/slurm/study.json "$W/study" -o "$W/study-%A_%a.out" >"$log" 2>&1
rc=$?
[ $rc -eq 0 ] && pass "submit-study.sh --wait (array + merge) exit 0" || { bad "submit-study.sh exit $rc"; cat "$log"; tail -n 20 "$W"/study-*.out; }
read -r nruns _ < <($PY bench/study.py count tests/slurm/study.json)
if $PY - "$W/study/results.csv" "$nruns" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ok = [r for r in rows if r["status"] == "ok" and r["launcher"] == "srun" and int(r["spikes"]) > 0
      and r["slurm_job_id"]]
print("  results.csv: %d rows, %d ok via srun" % (len(rows), len(ok)))
sys.exit(0 if len(rows) == len(ok) == int(sys.argv[2]) else 1)
PY
then pass "study array: $nruns CSV rows, all ok, launched by srun inside the array tasks"
else bad "study array: results.csv rows wrong"; fi
[ -s "$W/study/study.png" ] && pass "study array: study.png written" || bad "study array: no study.png"
ntask=$(grep -l "^study-array: task" "$W"/study-*.out 2>/dev/null | wc -l)
[ "$ntask" -eq "$nruns" ] && pass "study array: $nruns task logs" || bad "study array: $ntask task logs, expected $nruns"
grep -q "^study-array: merging" "$W"/study-*.out && pass "study array: merge job ran" || bad "study array: no merge log"

# 6. a job that must FAIL: bad config -> non-zero exit, the error line in its log.
submit bad -n 1 slurm/ntwin-node.sbatch tests/slurm/bad-config.json "$W/bad"
[ $rc -ne 0 ] && [ $rc -ne 124 ] && pass "bad config: job failed (exit $rc)" || bad "bad config: exit $rc, expected a failure"
grep_log "ntwin: error: tests/slurm/bad-config.json: populations\[0\].size" "bad config: error line naming file and field in the job log"
[ ! -e "$W/bad/report.json" ] && pass "bad config: no report.json" || bad "bad config: report.json left behind"

echo "== slurm tests: $fails failure(s), $(( $(date +%s) - t_start )) s"
[ $fails -eq 0 ]

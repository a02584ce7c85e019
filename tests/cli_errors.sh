#!/bin/sh
# Invariant 4: bad input ends with one clear error line naming the file and
# the field, non-zero exit on every rank, all ranks stopped (no hang), and no
# earlier output damaged.
#
# Usage: cli_errors.sh NTWIN MPIRUN WORK_DIR
#
# Every case runs `ntwin` on 2 ranks. Each rank is wrapped so that it records
# its own exit status, and mpirun is told not to kill the other ranks when one
# fails (orte_abort_on_non_zero_status 0): a rank that does not stop by
# itself then shows up as a timeout instead of being hidden by mpirun's abort.
# Per case it requires:
#   - no timeout; every rank exits with the expected status (1 bad input,
#     2 usage); usage errors also print "(see 'ntwin help')";
#   - exactly one stderr line starting with "ntwin: error:", containing the
#     expected file name and field text;
#   - no spikes.h5, weights.h5 (or their .tmp) or report.json in the --out directory;
#   - no crash report in stderr: Open MPI's signal handler ("Process received
#     signal"), AddressSanitizer or UBSan. ASan exits with status 1, the very
#     status a bad-input case expects, so in a sanitizer build
#     (-Db_sanitize=address,undefined) only its report tells a memory error
#     from a clean stop. A rank killed by a signal is named with the signal,
#     and its core file (where the system writes one) is kept in rc_NAME/.
# Then a good run's output must survive later failing runs into the same dir.
set -u
ntwin=$1 mpirun=$2 work=$3
py=/usr/bin/python3
NP=2
TIMEOUT=${NTWIN_TEST_TIMEOUT:-60}
case $ntwin in /*) ;; *) ntwin=$PWD/$ntwin ;; esac

die() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$work" && mkdir -p "$work" && cd "$work" || die "cannot create work dir $work"

# A small valid network (500 neurons, 50 ms) and one broken copy per case.
"$py" - <<'EOF' || die "cannot write the configs"
import json, copy
pop = lambda name, size: {
    "name": name, "model": "iaf_psc_delta", "size": size,
    "params": {"tau_m": 20.0, "C_m": 250.0, "t_ref": 2.0, "E_L": 0.0,
               "V_th": 20.0, "V_reset": 10.0, "I_e": 0.0,
               "V_m": {"distribution": "uniform", "low": 0.0, "high": 20.0}}}
proj = lambda s, t, k, w: {
    "source": s, "target": t, "rule": "fixed_indegree", "indegree": k,
    "weight": w, "delay": 1.5, "allow_autapses": False, "allow_multapses": False}
good = {
    "simulation": {"dt": 0.1, "t_stop": 50.0, "seed": 12345,
                   "partition": "round_robin", "bind": "none", "comm": "mpi"},
    "populations": [pop("E", 400), pop("I", 100)],
    "projections": [proj("E", "E", 80, 0.1), proj("E", "I", 80, 0.1),
                    proj("I", "E", 20, -0.5), proj("I", "I", 20, -0.5)],
    "stimuli": [{"type": "poisson", "target": "E", "rate": 20000.0, "weight": 0.1},
                {"type": "poisson", "target": "I", "rate": 20000.0, "weight": 0.1}],
    "record": {"spikes": ["E", "I"]},
}
def write(name, edit=None):
    c = copy.deepcopy(good)
    if edit:
        edit(c)
    with open(name, "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
write("good.json")
write("no_dt.json", lambda c: c["simulation"].pop("dt"))
write("neg_size.json", lambda c: c["populations"][0].update(size=-5))
write("sizee.json", lambda c: c["populations"][1].update(sizee=c["populations"][1].pop("size")))
write("bad_model.json", lambda c: c["populations"][0].update(model="iaf_psc_nope"))
write("bad_rule.json", lambda c: c["projections"][1].update(rule="fixed_outdegreee"))
# I has 100 neurons; 101 distinct sources cannot exist without multapses.
write("big_indegree.json", lambda c: c["projections"][2].update(indegree=101))
write("short_delay.json", lambda c: c["projections"][0].update(delay=0.05))
write("tau_mm.json", lambda c: c["populations"][0]["params"].update(tau_mm=20.0))
write("v_reset.json", lambda c: c["populations"][1]["params"].update(V_reset=20.0))
write("bad_record.json", lambda c: c["record"].update(spikes=["E", "X"]))
write("bad_wrec_proj.json", lambda c: c["record"].update(weights=[{"projection": 4, "interval": 1}]))
write("bad_wrec_interval.json", lambda c: c["record"].update(weights=[{"projection": 0, "interval": 0}]))
write("bad_noise_tau.json", lambda c: c["stimuli"].append({"type": "noise", "target": "E", "std": 5, "tau": -1}))
EOF
# The twin: a small replay config on a CSV recording, and broken copies.
"$py" - <<'EOF' || die "cannot write the twin configs"
import json, copy
with open("rec.csv", "w") as f:
    f.write("channel,time_s\n")
    for i in range(200):
        f.write("%d,%.4f\n" % (i % 4, 0.01 + i * 0.005))
pops = [{"name": "M", "model": "spike_source", "size": 4},
        {"name": "P", "model": "iaf_psc_delta", "size": 4,
         "params": {"E_L": 0, "V_th": 15, "V_reset": 0, "V_m": 0}},
        {"name": "Q", "model": "iaf_psc_delta", "size": 5}]
good = {"simulation": {"dt": 0.1, "t_stop": 100.0, "bind": "none"},
        "populations": pops,
        "projections": [{"source": "M", "target": "P", "rule": "all_to_all",
                         "weight": 0.0, "delay": 1.0},
                        {"source": "M", "target": "P", "rule": "fixed_indegree",
                         "indegree": 2, "weight": 1.0, "delay": 1.0}],
        "twin": {"regime": "replay", "mirror": "M", "predict": "P",
                 "source": {"kind": "file", "path": "rec.csv"},
                 "assimilate": {"projection": 0}},
        "record": {"spikes": ["P"]}}
def write(name, edit=None):
    c = copy.deepcopy(good)
    if edit:
        edit(c)
    with open(name, "w") as f:
        json.dump(c, f, indent=2)
write("twin_good.json")
write("twin_regime.json", lambda c: c["twin"].update(regime="dream"))
write("twin_mirror.json", lambda c: c["twin"].update(mirror="P", predict="M"))
write("twin_predict.json", lambda c: c["twin"].update(predict="Q"))
write("twin_assim.json", lambda c: c["twin"]["assimilate"].update(projection=1))
write("twin_stim.json", lambda c: c["twin"].update(stimulation={"policy": "burst", "electrodes": ["0"]}))
write("twin_nopath.json", lambda c: c["twin"]["source"].pop("path"))
write("twin_stim_input.json", lambda c: c["twin"].update(stim_input="Q"))
write("twin_release.json", lambda c: c["twin"].update(timing={"release": "soon"}))
write("twin_rt_prio.json", lambda c: c["twin"].update(timing={"rt_priority": 99}))
write("twin_rt_frac.json", lambda c: c["twin"].update(timing={"rt_priority": 2.5}))
write("twin_rt_lock.json", lambda c: c["twin"].update(timing={"lock_memory": "yes"}))
write("twin_unpaced.json", lambda c: c["twin"].update(regime="twin", source={"kind": "link", "pace": False}))
write("twin_norec.json", lambda c: c["twin"]["source"].update(path="no_such_recording.h5"))
write("twin_nobio.json", lambda c: c["twin"].update(
    regime="twin", source={"kind": "link", "events": "tcp://127.0.0.1:5697",
                           "commands": "tcp://127.0.0.1:5698"},
    timing={"start_timeout_ms": 1500}))
EOF
# JSON syntax error: missing ',' at line 6, column 40 (the '"model"' token).
cat >syntax.json <<'EOF'
{
  "simulation": {
    "dt": 0.1,
    "t_stop": 100.0
  },
  "populations": [ { "name": "E", "size" 10, "model": "iaf_psc_delta" } ]
}
EOF
: >regular_file

# ntw NAME ARGS...: run ntwin on NP ranks in $work, every rank writing its
# exit status to rc_NAME/RANK. Sets $rc (timeout's status) and leaves
# NAME.stdout / NAME.stderr.
ntw() {
  name=$1
  shift
  rm -rf "rc_$name" && mkdir "rc_$name"
  # $0 = ntwin, $1 = status dir; passed as arguments, not via the environment.
  timeout -k 10 "$TIMEOUT" "$mpirun" -n "$NP" --oversubscribe --bind-to none \
    --mca orte_abort_on_non_zero_status 0 \
    sh -c 'd=$1 r=${OMPI_COMM_WORLD_RANK:-x}; shift; echo $$ >"$d/pid.$r"
           ulimit -c unlimited 2>/dev/null
           "$0" "$@"; s=$?; echo $s >"$d/$r"; exit $s' \
    "$ntwin" "$work/rc_$name" "$@" >"$name.stdout" 2>"$name.stderr" </dev/null
  rc=$?
  for f in core core.*; do
    [ -f "$f" ] && mv "$f" "rc_$name/"
  done
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    # mpirun, killed by timeout, may leave hung ranks behind. mpirun starts
    # each wrapper as a process-group leader: kill exactly those groups.
    for f in "rc_$name"/pid.*; do
      [ -f "$f" ] && kill -9 "-$(cat "$f")" 2>/dev/null
    done
  fi
}

pass=0 failed=0 failed_cases=
# expect NAME STATUS OUTDIR TEXT... -- ARGS...
#   STATUS: 1 (bad input) or 2 (usage); TEXTs must all occur in the error line.
expect() {
  name=$1 want=$2 outdir=$3
  shift 3
  texts=
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    texts="$texts$1
"
    shift
  done
  shift
  ntw "$name" "$@"
  why=
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    why="$why
  did not finish within ${TIMEOUT}s (hang: some rank did not stop)"
  fi
  r=0
  while [ $r -lt $NP ]; do
    if [ ! -f "rc_$name/pid.$r" ]; then
      why="$why
  rank $r never started"
    elif [ ! -f "rc_$name/$r" ]; then
      why="$why
  rank $r left no exit status (killed, crashed or hung)"
    else
      got=$(cat "rc_$name/$r")
      if [ "$got" -gt 128 ] 2>/dev/null; then
        why="$why
  rank $r was killed by signal $((got - 128)) (status $got, expected $want)"
        ls "rc_$name"/core* >/dev/null 2>&1 && why="$why; core file in $work/rc_$name/"
      elif [ "$got" != "$want" ]; then
        why="$why
  rank $r exited with status $got, expected $want"
      fi
    fi
    r=$((r + 1))
  done
  crash=$(grep -m1 -e 'Process received signal' -e 'ERROR: AddressSanitizer' \
    -e ': runtime error: ' "$name.stderr")
  [ -n "$crash" ] && why="$why
  crash report in stderr: $crash"
  nerr=$(grep -c '^ntwin: error:' "$name.stderr")
  line=$(grep '^ntwin: error:' "$name.stderr" | head -1)
  if [ "$nerr" -ne 1 ]; then
    why="$why
  $nerr stderr lines start with 'ntwin: error:', expected exactly 1"
  fi
  old_ifs=$IFS
  IFS='
'
  for t in $texts; do
    case $line in
      *"$t"*) ;;
      *) why="$why
  error line does not contain '$t'" ;;
    esac
  done
  IFS=$old_ifs
  if [ "$want" = 2 ] && ! grep -qF "(see 'ntwin help')" "$name.stderr"; then
    why="$why
  usage error without the \"(see 'ntwin help')\" line"
  fi
  for f in spikes.h5 spikes.h5.tmp weights.h5 weights.h5.tmp report.json report.json.tmp; do
    [ -e "$outdir/$f" ] && why="$why
  left $outdir/$f behind"
  done
  if [ -z "$why" ]; then
    pass=$((pass + 1))
    echo "ok   $name: $line"
  else
    failed=$((failed + 1))
    failed_cases="$failed_cases $name"
    echo "FAIL $name: ntwin $*$why" >&2
    echo "  --- stderr:" >&2
    sed 's/^/  | /' "$name.stderr" >&2
  fi
}

expect missing_file 1 out_missing missing.json "cannot read" -- \
  run missing.json --out out_missing
expect json_syntax 1 out_syntax syntax.json "line 6" "column" -- \
  run syntax.json --out out_syntax
expect missing_dt 1 out_no_dt no_dt.json simulation.dt -- \
  run no_dt.json --out out_no_dt
expect negative_size 1 out_neg_size neg_size.json "populations[0].size" -- \
  run neg_size.json --out out_neg_size
expect mistyped_field 1 out_sizee sizee.json "populations[1].sizee" -- \
  run sizee.json --out out_sizee
expect unknown_model 1 out_bad_model bad_model.json "populations[0].model" iaf_psc_nope -- \
  run bad_model.json --out out_bad_model
expect unknown_rule 1 out_bad_rule bad_rule.json "projections[1].rule" fixed_outdegreee -- \
  run bad_rule.json --out out_bad_rule
expect indegree_too_big 1 out_big_indegree big_indegree.json "projections[2].indegree" -- \
  run big_indegree.json --out out_big_indegree
expect delay_below_dt 1 out_short_delay short_delay.json "projections[0].delay" -- \
  run short_delay.json --out out_short_delay
expect unknown_param 1 out_tau_mm tau_mm.json "populations[0].params.tau_mm" -- \
  run tau_mm.json --out out_tau_mm
expect v_reset_ge_v_th 1 out_v_reset v_reset.json "populations[1].params.V_reset" -- \
  run v_reset.json --out out_v_reset
expect unknown_record_pop 1 out_bad_record bad_record.json "record.spikes" "'X'" -- \
  run bad_record.json --out out_bad_record
expect unknown_wrec_projection 1 out_bad_wrec_proj bad_wrec_proj.json "record.weights[0].projection" -- \
  run bad_wrec_proj.json --out out_bad_wrec_proj
expect wrec_interval_zero 1 out_bad_wrec_interval bad_wrec_interval.json "record.weights[0].interval" -- \
  run bad_wrec_interval.json --out out_bad_wrec_interval
expect noise_tau_negative 1 out_bad_noise_tau bad_noise_tau.json "stimuli[2].tau" -- \
  run bad_noise_tau.json --out out_bad_noise_tau
expect twin_regime 1 out_twin twin_regime.json twin.regime dream -- \
  run twin_regime.json --out out_twin
expect twin_mirror_model 1 out_twin twin_mirror.json twin.mirror spike_source -- \
  run twin_mirror.json --out out_twin
expect twin_predict_size 1 out_twin twin_predict.json twin.predict -- \
  run twin_predict.json --out out_twin
expect twin_assim_rule 1 out_twin twin_assim.json twin.assimilate.projection all_to_all -- \
  run twin_assim.json --out out_twin
expect twin_stim_regime 1 out_twin twin_stim.json twin.stimulation.policy closed-loop -- \
  run twin_stim.json --out out_twin
expect twin_no_path 1 out_twin twin_nopath.json twin.source.path -- \
  run twin_nopath.json --out out_twin
expect twin_stim_input 1 out_twin twin_stim_input.json twin.stim_input spike_source -- \
  run twin_stim_input.json --out out_twin
expect twin_release 1 out_twin twin_release.json twin.timing.release soon -- \
  run twin_release.json --out out_twin
expect twin_rt_priority 1 out_twin twin_rt_prio.json twin.timing.rt_priority 99 -- \
  run twin_rt_prio.json --out out_twin
expect twin_rt_fraction 1 out_twin twin_rt_frac.json twin.timing.rt_priority 2.5 -- \
  run twin_rt_frac.json --out out_twin
expect twin_lock_memory 1 out_twin twin_rt_lock.json twin.timing.lock_memory '"yes"' -- \
  run twin_rt_lock.json --out out_twin
expect twin_unpaced_link 1 out_twin twin_unpaced.json twin.source.pace -- \
  run twin_unpaced.json --out out_twin
expect twin_no_recording 1 out_twin no_such_recording.h5 -- \
  run twin_norec.json --out out_twin
expect twin_no_biology 1 out_twin twin_nobio.json "no HELLO" tcp://127.0.0.1:5697 -- \
  run twin_nobio.json --out out_twin
expect negative_t_stop 1 out_t_stop --t-stop -- \
  run good.json --out out_t_stop --t-stop -5
expect bogus_partition 1 out_partition --partition bogus -- \
  run good.json --out out_partition --partition bogus
# a near miss of a strategy name: the one error lists every strategy
expect typo_partition 1 out_partition_typo "--partition" "'metiss'" "round_robin, block, graph" -- \
  run good.json --out out_partition_typo --partition metiss
expect bad_coupling_rank 2 out_coupling "--coupling-rank" "'maybe'" -- \
  run good.json --out out_coupling --coupling-rank maybe
# rank 0 reserved and nobody left for the network: refused, not ignored
NP=1
expect coupling_rank_one 1 out_coupling_one "--coupling-rank on" "at least 2 ranks" -- \
  run good.json --out out_coupling_one --coupling-rank on
NP=2
expect unknown_option 2 out_option "unknown option" --frobnicate -- \
  run good.json --frobnicate --out out_option
expect unknown_option_last 2 out_option_last "unknown option" --frobnicate -- \
  run good.json --out out_option_last --frobnicate
expect missing_value 2 out_missing_value --t-stop "missing value" -- \
  run good.json --out out_missing_value --t-stop
expect missing_out 2 . --out -- \
  run good.json
expect unwritable_out 1 regular_file/sub regular_file/sub -- \
  run good.json --out regular_file/sub
if [ -s regular_file ] || [ ! -f regular_file ]; then
  echo "FAIL unwritable_out: regular_file was changed" >&2
  failed=$((failed + 1)) failed_cases="$failed_cases unwritable_out_file"
fi

# No earlier output damaged: a good run, then failing runs into the same dir.
ntw good run good.json --out keep --quiet
if [ $rc -ne 0 ] || [ "$(cat rc_good/0 rc_good/1 2>/dev/null | tr -d '\n')" != 00 ] ||
   [ ! -s keep/spikes.h5 ] || [ ! -s keep/report.json ]; then
  cat good.stderr >&2
  die "the good config did not run (status $rc), cannot test output preservation"
fi
before=$(md5sum keep/spikes.h5 keep/report.json)
for bad in tau_mm v_reset short_delay; do
  ntw "keep_$bad" run "$bad.json" --out keep
  after=$(md5sum keep/spikes.h5 keep/report.json 2>&1)
  leftovers=$(ls -A keep | grep -v -x -e spikes.h5 -e report.json)
  if [ "$(cat rc_keep_$bad/0 2>/dev/null)" != 1 ]; then
    echo "FAIL keep_$bad: the bad run into keep/ did not fail with status 1 (timeout status $rc)" >&2
    failed=$((failed + 1)) failed_cases="$failed_cases keep_$bad"
  elif [ "$before" != "$after" ]; then
    echo "FAIL keep_$bad: a failing run changed the earlier output:" >&2
    echo "  before: $before" >&2
    echo "  after:  $after" >&2
    failed=$((failed + 1)) failed_cases="$failed_cases keep_$bad"
  elif [ -n "$leftovers" ]; then
    echo "FAIL keep_$bad: a failing run left files in keep/: $leftovers" >&2
    failed=$((failed + 1)) failed_cases="$failed_cases keep_$bad"
  else
    pass=$((pass + 1))
    echo "ok   keep_$bad: keep/spikes.h5 and keep/report.json unchanged, no leftovers"
  fi
done

echo "cli_errors: $pass passed, $failed failed${failed_cases:+ ($failed_cases )}"
[ $failed -eq 0 ]

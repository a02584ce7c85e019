#!/usr/bin/env bash
# Checkpoint guarantees, each asserted (DESIGN.md invariant 2, the checkpoint
# issue):
#  1. run 2T on N ranks == run T on N ranks, checkpoint, restore on M != N
#     ranks with another partition (round_robin, block, graph both written
#     and restored), run T: identical spikes and identical
#     final state (every dataset of the final checkpoints); also written
#     with rank 0 reserved as the coupling rank (no neurons) and restored
#     without, and the reverse;
#  2. SIGUSR1 (what Slurm sends before a time limit) checkpoints at the next
#     window boundary and stops cleanly; the restored run finishes the job
#     identically;
#  3. killing a rank in the middle of a checkpoint leaves the previous
#     checkpoint valid and no file that looks complete;
#  4. truncated, corrupted, foreign and wrong-version files, a config that
#     changes the network's shape and a too-early --t-stop each give one error
#     line naming the file (and field), non-zero exit, no hang, no output;
#  5. `ntwin inspect` reports time, size, populations and ranks.
# usage: checkpoint.sh NTWIN MPIRUN SRCDIR WORKDIR
set -u
ntwin=$(readlink -f "$1") mpirun=$2 src=$(readlink -f "$3") work=$4
cfg=$src/tests/data/ckpt-net.json
py=/usr/bin/python3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() { # run NP ARGS... (stderr to $work/last.err)
  local np=$1; shift
  timeout -k 5 120 "$mpirun" -n "$np" --oversubscribe --bind-to none "$ntwin" "$@" \
    >"$work/last.out" 2>"$work/last.err"
}

# 1. N -> M matrix. Optional fields: 5th, stream the synapses in rounds of
# that many records (thousands by default; "-" = default), so that round
# boundaries, exchanged (round_robin) and direct (block) rounds are all
# exercised on this small network and the files must not depend on it;
# 6th and 7th, --coupling-rank of the writing and the restoring runs.
for case in "2 round_robin 1 block" "1 block 3 round_robin" "3 graph 4 block 300" \
    "4 block 2 round_robin 300" "2 round_robin 3 graph" "3 round_robin 2 block - on off" \
    "2 block 3 graph - off on"; do
  set -- $case
  n=$1 pn=$2 m=$3 pm=$4 rounds=${5:--} cw=${6:-auto} cr=${7:-auto} d="n$n-$pn-m$m-$pm"
  [ $# -gt 5 ] && d="$d-coupling-$cw-$cr"
  if [ "$rounds" != - ]; then export NTW_CKPT_ROUND_RECORDS=$rounds; else unset NTW_CKPT_ROUND_RECORDS; fi
  run "$n" run "$cfg" --out "$d/full" --partition "$pn" --checkpoint-final --quiet --bind none \
      --coupling-rank "$cw" || { fail "$d: uninterrupted run: $(tail -1 last.err)"; continue; }
  run "$n" run "$cfg" --out "$d/a" --partition "$pn" --t-stop 100 --checkpoint-final --quiet --bind none \
      --coupling-rank "$cw" || { fail "$d: first half: $(tail -1 last.err)"; continue; }
  [ -f "$d/a/checkpoint-100.h5" ] || { fail "$d: no checkpoint-100.h5"; continue; }
  run "$m" run --restore "$d/a/checkpoint-100.h5" --out "$d/b" --t-stop 200 --partition "$pm" \
      --checkpoint-final --quiet --bind none --coupling-rank "$cr" ||
    { fail "$d: restore: $(tail -1 last.err)"; continue; }
  # the reservation must really be in effect where asked (rank 0: no neurons)
  for x in a b; do
    want=$([ $x = a ] && echo "$cw" || echo "$cr")
    [ "$want" = on ] || continue
    $py -c "import json,sys; r=json.load(open('$d/$x/report.json')); sys.exit(0 if r['coupling_rank'] and r['neurons_per_rank'][0] == 0 else 1)" ||
      fail "$d: $x: report.json does not show rank 0 reserved"
  done
  if $py "$src/tests/ckpt_compare.py" "$d/full" "$d/a" "$d/b" \
      "$d/full/checkpoint-200.h5" "$d/b/checkpoint-200.h5" >"$d.cmp" 2>&1; then
    echo "ok: $n ranks $pn (coupling $cw) -> $m ranks $pm (coupling $cr): $(grep -c identical "$d.cmp") populations identical, $(tail -1 "$d.cmp")"
  else
    fail "$d: restored run differs"; cat "$d.cmp"
  fi
done
unset NTW_CKPT_ROUND_RECORDS

# 2. SIGUSR1: stop at the next window boundary with a checkpoint, then resume
long=sig
# mpirun itself gets the signal (it forwards SIGUSR1 to the ranks, as srun
# does); a watchdog replaces `timeout`, which would take the signal itself.
"$mpirun" -n 2 --oversubscribe --bind-to none "$ntwin" run "$cfg" --out $long/a \
  --t-stop 20000 --quiet --bind none >/dev/null 2>$long.err &
pid=$!
( sleep 90; kill -9 $pid 2>/dev/null ) &
dog=$!
for _ in $(seq 100); do [ -f $long/a/spikes.h5.tmp ] && break; sleep 0.1; done
sleep 1
kill -USR1 $pid
wait $pid; rc=$?
kill $dog 2>/dev/null; wait $dog 2>/dev/null
ck=$(ls $long/a/checkpoint-*.h5 2>/dev/null | head -1)
if [ "$rc" -ne 0 ] || [ -z "$ck" ]; then
  fail "SIGUSR1: exit $rc, checkpoint '${ck:-none}': $(tail -2 $long.err)"
else
  grep -q "stopped by signal" $long.err || fail "SIGUSR1: no 'stopped by signal' line"
  t=$(basename "$ck" .h5 | sed 's/checkpoint-//')
  [ -f $long/a/report.json ] || fail "SIGUSR1: no report.json for the stopped run"
  tend=$((t + 150))
  run 2 run "$cfg" --out $long/full --t-stop $tend --quiet --bind none || fail "SIGUSR1: full run"
  run 3 run --restore "$ck" --out $long/b --t-stop $tend --quiet --bind none || fail "SIGUSR1: restore: $(tail -1 last.err)"
  if $py "$src/tests/ckpt_compare.py" $long/full $long/a $long/b >$long.cmp 2>&1; then
    echo "ok: SIGUSR1 at t = $t ms checkpointed and stopped (exit 0); resumed on 3 ranks to $tend ms identically"
  else
    fail "SIGUSR1: resumed run differs"; cat $long.cmp
  fi
fi

# 3. a rank killed during the second checkpoint
NTW_FAULT_KILL_IN_CHECKPOINT=2 timeout -k 5 60 "$mpirun" -n 2 --oversubscribe --bind-to none \
  -x NTW_FAULT_KILL_IN_CHECKPOINT "$ntwin" run "$cfg" --out kill --checkpoint-every 50 --quiet \
  --bind none >/dev/null 2>kill.err
rc=$?
[ "$rc" -ne 0 ] || fail "kill: the run should have failed"
[ "$rc" -ne 124 ] || fail "kill: hang (timeout)"
[ -f kill/checkpoint-50.h5 ] || fail "kill: the first checkpoint is missing"
[ ! -f kill/checkpoint-100.h5 ] || fail "kill: an interrupted checkpoint looks complete"
[ ! -f kill/spikes.h5 ] || fail "kill: a spike report looks complete"
if run 1 inspect kill/checkpoint-50.h5 && grep -q "t = 50 ms" last.out; then
  echo "ok: rank killed during checkpoint-100: checkpoint-50 still valid, no complete-looking file"
else
  fail "kill: checkpoint-50 unreadable: $(tail -1 last.err)"
fi
run 2 run --restore kill/checkpoint-50.h5 --out kill-resume --t-stop 80 --quiet --bind none ||
  fail "kill: restore from checkpoint-50: $(tail -1 last.err)"

# 4. bad files and bad restores: one error line, non-zero, no output
good=n2-round_robin-m1-block/a/checkpoint-100.h5
cp "$good" trunc.h5 && truncate -s $(( $(stat -c %s "$good") / 2 )) trunc.h5
cp "$good" corrupt.h5
# flip bytes inside the ring dataset (the largest array)
off=$($py -c "import h5py; f=h5py.File('corrupt.h5','r'); print(f['ring'].id.get_offset() + 4096)")
printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of=corrupt.h5 bs=1 seek="$off" conv=notrunc status=none
# and inside the weights of the first plastic projection (read in rounds)
cp "$good" corrupt-syn.h5
off=$($py -c "
import h5py; f=h5py.File('corrupt-syn.h5','r'); p=sorted(f['synapses'])[0]
print(f['synapses'][p]['weight'].id.get_offset() + 4000)")
printf '\x01\x02\x03\x04' | dd of=corrupt-syn.h5 bs=1 seek="$off" conv=notrunc status=none
cp "$good" version.h5 && $py -c "import h5py; f=h5py.File('version.h5','r+'); f.attrs['format_version']=99"
$py -c "
import json; c=json.load(open('$cfg')); c['populations'][0]['size']=401; json.dump(c, open('bigger.json','w'))"
check_bad() { # name expected-substring ARGS...
  local name=$1 want=$2; shift 2
  rm -rf "bad-$name"
  timeout -k 5 60 "$mpirun" -n 2 --oversubscribe --bind-to none "$ntwin" "$@" --out "bad-$name" \
    --quiet --bind none >/dev/null 2>"bad-$name.err"
  local rc=$? n
  n=$(grep -c '^ntwin: error:' "bad-$name.err")
  if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ "$n" -ne 1 ] || ! grep -q -- "$want" "bad-$name.err" ||
     [ -e "bad-$name/spikes.h5" ] || [ -e "bad-$name/report.json" ]; then
    fail "$name: rc=$rc, $n error lines, want '$want': $(head -3 "bad-$name.err")"
  else
    echo "ok: $name -> $(grep '^ntwin: error:' "bad-$name.err")"
  fi
}
check_bad truncated "trunc.h5" run --restore trunc.h5 --t-stop 200
check_bad corrupted "corrupt.h5: ring: checksum mismatch" run --restore corrupt.h5 --t-stop 200
check_bad corrupted-synapses "corrupt-syn.h5: /synapses/[0-9]*/weight: checksum mismatch" \
  run --restore corrupt-syn.h5 --t-stop 200
check_bad version "version.h5: format_version: 99" run --restore version.h5 --t-stop 200
check_bad foreign "not an ntwin checkpoint" run --restore n2-round_robin-m1-block/a/spikes.h5 --t-stop 200
check_bad missing "nothere.h5: cannot open checkpoint" run --restore nothere.h5 --t-stop 200
check_bad shape "populations\[0\]" run bigger.json --restore "$good" --t-stop 200
check_bad early "--t-stop" run --restore "$good" --t-stop 50

# 5. inspect
if run 1 inspect "$good" --json && $py -c "
import json,sys; j=json.load(open('$work/last.out'))
assert j['t_ms']==100 and j['neurons']==505 and j['ranks_written']==2, j
assert [p['name'] for p in j['populations']]==['E','I','S']
assert json.loads(j['config'])['simulation']['seed']==4242"; then
  echo "ok: inspect --json reports t, neurons, ranks, populations, config"
else
  fail "inspect --json"
fi

echo "$fails failed"
[ $fails -eq 0 ]

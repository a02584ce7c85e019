#!/usr/bin/env bash
# Checkpoints under overlap (the issue's "Overlap" part, DESIGN.md invariant
# 2): a checkpoint written while an exchange may be in flight holds the
# complete state, so
#  1. the checkpoints of a run with --overlap on equal, dataset by dataset,
#     those of the same run with --overlap off: mid-run (t = 56 ms, a window
#     boundary with an epoch in flight; 100 ms) and final (200 ms);
#  2. run T with overlap on, restore on other ranks with overlap off, run T:
#     spikes and final checkpoint equal the uninterrupted run (and off -> on).
# The network (tests/data/ckpt-net.json) has STDP, Tsodyks-Markram, delay
# distributions, Poisson, DC, noise and forced spikes, D = 10 steps.
# usage: checkpoint_overlap.sh NTWIN MPIRUN SRCDIR WORKDIR
set -u
ntwin=$(readlink -f "$1") mpirun=$2 src=$(readlink -f "$3") work=$4
cfg=$src/tests/data/ckpt-net.json
py=/usr/bin/python3
cmpck=$src/tests/ckpt_compare.py
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() { # run NP ARGS... (stderr to $work/last.err)
  local np=$1; shift
  timeout -k 5 120 "$mpirun" -n "$np" --oversubscribe --bind-to none "$ntwin" "$@" \
    --quiet --bind none >"$work/last.out" 2>"$work/last.err"
}
# same_ckpt A B: every dataset equal (ckpt_compare.py needs spike dirs too:
# compare a directory with itself for the spike part).
same_ckpt() {
  $py "$cmpck" "$(dirname "$1")" "$(dirname "$1")" "$1" "$2" >"$work/cmp.log" 2>&1
}

# 1. on vs off, same rank count
for ov in off on; do
  run 2 run "$cfg" --out full_$ov --overlap $ov --checkpoint-at 55.5,100 --checkpoint-final ||
    { fail "full run overlap $ov: $(tail -1 last.err)"; }
done
for t in 56 100 200; do
  a=full_off/checkpoint-$t.h5 b=full_on/checkpoint-$t.h5
  if [ ! -f "$a" ] || [ ! -f "$b" ]; then
    fail "checkpoint-$t.h5 missing ($(ls full_off full_on | tr '\n' ' '))"
  elif same_ckpt "$a" "$b"; then
    echo "ok: checkpoint at $t ms: overlap on == off ($(grep -o '[0-9]* datasets' cmp.log))"
  else
    fail "checkpoint at $t ms differs between overlap on and off"; cat cmp.log
  fi
done
cmp -s full_off/spikes.h5 full_on/spikes.h5 || fail "full runs: spikes.h5 on != off"

# 2. restore across overlap modes and rank counts
for case in "2 on 3 off" "1 off 2 on" "3 on 2 on"; do
  set -- $case
  n=$1 ovn=$2 m=$3 ovm=$4 d="n$n-$ovn-m$m-$ovm"
  run "$n" run "$cfg" --out "$d/a" --overlap "$ovn" --t-stop 100 --checkpoint-final ||
    { fail "$d: first half: $(tail -1 last.err)"; continue; }
  run "$m" run --restore "$d/a/checkpoint-100.h5" --out "$d/b" --overlap "$ovm" --t-stop 200 \
      --checkpoint-final || { fail "$d: restore: $(tail -1 last.err)"; continue; }
  ovb=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["overlap"])' "$d/b/report.json")
  [ "$ovb" = "$([ "$ovm" = on ] && echo True || echo False)" ] ||
    fail "$d: restored run's report.json says overlap=$ovb"
  if $py "$cmpck" full_off "$d/a" "$d/b" full_off/checkpoint-200.h5 "$d/b/checkpoint-200.h5" \
      >"$d.cmp" 2>&1; then
    echo "ok: $n ranks overlap $ovn -> $m ranks overlap $ovm: $(tail -1 "$d.cmp"), spikes identical"
  else
    fail "$d: restored run differs"; cat "$d.cmp"
  fi
done

echo "$fails failed"
[ $fails -eq 0 ]

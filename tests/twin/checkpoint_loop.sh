#!/usr/bin/env bash
# Checkpoints of a closed-loop twin: the stimulation policy's state and the
# pulses held for the twin's own stim_input population survive a restore.
#
# Why on the live link: a stimulation policy runs only in regime
# "closed-loop" (io/config.c refuses it in "replay"), which reads the link
# (a "file" source needs regime "replay"), and src/twin.c's stimulate()
# does nothing without a link. On the link, the hybrid time is anchored
# again at the restore and the pulses' times come from the biology's clock
# when the command is sent, so a restored run cannot equal an uninterrupted
# one bit for bit as a replay from a file does (tests/twin/checkpoint.sh).
# What the policy decides, when, on which electrodes, and what it keeps
# between windows follow from the twin's predictions only; this test's
# twin makes those independent of the wall clock (P fires from its own
# Poisson drive; the mirror -> P weight is 0, not assimilated; the pulses
# drive a separate population Q), so they must be identical, and the
# pulses held at the checkpoint must be forced at exactly their times
# (tests/twin/loop_check.py has the list of checks).
#
# Cases (an uninterrupted run to T on 1 rank, a run to H with a checkpoint,
# a restore run to T):
#  periodic, H at a decision (pulses held in /twin/stim_force)  1 -> 1
#  periodic, H between two trains (next_periodic_ms not the
#            value a fresh twin takes, pulses in /forced)       2 -> 1
#  burst,    H at a decision (pulses held, inside the
#            refractory period, running mean and ring set)      1 -> 2, 2 -> 1
# usage: checkpoint_loop.sh NTWIN MPIRUN SRCDIR WORKDIR
set -u
ntwin=$(readlink -f "$1") mpirun=$2 src=$(readlink -f "$3") work=$4
here=$src/tests/twin
. "$src/tests/lib.sh"
rm -rf "$work" && mkdir -p "$work" && cd "$work" || die "no work dir"
port=$((6130 + $$ % 150 * 2))
"$py" "$here/make_fixture.py" . 20 || die "fixture"
STIM='"electrodes": ["0", "5", "9"], "pulses": 3, "pulse_interval_ms": 20, "amplitude": 500'
config() { # config NAME T_STOP STIM_JSON
  "$py" "$here/twin_config.py" "$1.json" --regime closed-loop --t-stop "$2" --seed 7 \
    --link "tcp://127.0.0.1:$port" "tcp://127.0.0.1:$((port + 1))" --loop 40 \
    --assimilate '{"eta": 0}' --timing '{"allowance_ms": 100, "peer_timeout_ms": 10000}' \
    --stim "$3" || die "config $1"
}
config periodic 800 "{\"policy\": \"periodic\", \"period_ms\": 150, $STIM}"
config burst 2700 "{\"policy\": \"burst\", \"refractory_ms\": 150, \"factor\": 1, \"horizon_ms\": 20, $STIM}"

# linkrun OUT NP FROM_S ARGS...: the twin (ntwin run ARGS --out OUT) on NP
# ranks against `ntwin replay wave.csv --from FROM_S` (stderr in OUT.err)
linkrun() {
  local out=$1 np=$2 from=$3 rp st; shift 3
  "$ntwin" replay wave.csv --from "$from" --to 19 --wait-peer 30 \
    --events "tcp://127.0.0.1:$port" --commands "tcp://127.0.0.1:$((port + 1))" \
    >"$out.replay" 2>&1 &
  rp=$!
  timeout -k 5 "$TIMEOUT" "$mpirun" -n "$np" --oversubscribe --bind-to none "$ntwin" run "$@" \
    --out "$out" >"$out.out" 2>"$out.err"
  st=$?
  kill $rp 2>/dev/null; wait $rp 2>/dev/null
  [ $st -eq 0 ] || { fail "$out: exit $st: $(tail -2 "$out.err")"; return 1; }
  "$py" -c "import json,sys; s=json.load(open('$out/report.json'))['twin']['stop_reason']
sys.exit(0 if s == 't_stop' else 'stopped by ' + s)" || { fail "$out: stopped early"; return 1; }
}

# restore_case POLICY KIND N M H T: run to H on N ranks, checkpoint,
# restore on M ranks, run to T, check against full-POLICY.
restore_case() {
  local pol=$1 kind=$2 n=$3 m=$4 H=$5 T=$6 e="$1-$2-n$3-m$4"
  linkrun "$e-a" "$n" 0 "$pol.json" --t-stop "$H" --checkpoint-final --quiet || return
  [ -f "$e-a/checkpoint-$H.h5" ] || { fail "$e: no checkpoint at $H"; return; }
  linkrun "$e-b" "$m" "$(awk "BEGIN{print $H/1000}")" --restore "$e-a/checkpoint-$H.h5" \
    --t-stop "$T" --checkpoint-final || return
  grep -q "twin: state restored from $e-a/checkpoint-$H.h5" "$e-b.err" ||
    fail "$e: no 'state restored' line"
  if "$py" "$here/loop_check.py" "$kind" "full-$pol" "$e-a" "$e-b" "$H" "$T" >"$e.chk" 2>&1; then
    echo "ok: $e (H = $H ms): $(cat "$e.chk")"
  else
    fail "$e (H = $H ms):"; sed 's/^/  | /' "$e.chk" >&2
  fi
}

# periodic: decisions at 150, 300, 450, 600, 750 ms; H = 450 is one, H =
# 470 lies between it and the next (its third pulse, at ~490 ms, is in
# flight)
if linkrun full-periodic 1 0 periodic.json --checkpoint-final --quiet; then
  restore_case periodic decision 1 1 450 800
  restore_case periodic between 2 1 470 800
fi
# burst: the policy trusts its running mean after 2 s, then fires every
# refractory period (P's drive keeps the predicted activity above it): H
# is the third decision of the uninterrupted run
if linkrun full-burst 1 0 burst.json --checkpoint-final --quiet; then
  H=$("$py" -c "import h5py; t = sorted(set(h5py.File('full-burst/twin.h5', 'r')['stim/t_ms'][:]))
print('%g' % t[2] if len(t) >= 4 else 'none')")
  if [ "$H" = none ]; then
    fail "burst: fewer than 4 decisions in the uninterrupted run"
  else
    restore_case burst decision 1 2 "$H" 2700
    restore_case burst decision 2 1 "$H" 2700
  fi
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "closed-loop twin checkpoints: all checks passed"

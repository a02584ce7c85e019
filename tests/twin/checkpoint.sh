#!/usr/bin/env bash
# Checkpoints of a twin run (regime replay, a file as fast as possible):
#  1. run T uninterrupted == run to H, checkpoint, restore, run to T, on
#     1 -> 1, 2 -> 2, 1 -> 2, 2 -> 1 and 3 (rank 0 reserved as the
#     coupling rank) -> 2 ranks, the partition switched, for
#     H = T/2 = 6071 ms, right after a W update not yet pushed to the
#     synapses, and H = 6066 ms, halfway to the next (dW not zero), both
#     inside a fidelity interval with recorded and predicted spikes (the
#     test asserts the boundaries are such): spikes.h5 after H identical
#     (the two reports concatenated), the final checkpoints identical
#     dataset by dataset (engine and /twin), the synapse weights of the
#     mirror -> predict projection identical (weights.h5: every record from
#     H on, 467 ms apart, T/2 and T multiples of it, and the restored run's
#     first, at H), twin.h5's predicted and recorded spikes after H and its
#     W, Gamma and counts per fidelity interval in the resumed part
#     identical; the restored twin.h5 covers the resumed part only;
#     report.json says from which step, its counters run on from t = 0;
#  2. a checkpoint without /twin (as written before format minor 1) still
#     restores, with one line saying the twin state was not in the file;
#     a run without a twin ignores /twin;
#  3. a /twin dataset whose checksum does not match: one error line naming
#     the file and the dataset, non-zero exit on every rank, no hang, no
#     output;
#  4. on the live link (paced): a consistent restore (see below); a source
#     that keeps its clock and sends again the events from before the
#     checkpoint: none of them is injected twice.
# usage: checkpoint.sh NTWIN MPIRUN SRCDIR WORKDIR
set -u
ntwin=$(readlink -f "$1") mpirun=$2 src=$(readlink -f "$3") work=$4
here=$src/tests/twin
. "$src/tests/lib.sh"
rm -rf "$work" && mkdir -p "$work" && cd "$work" || die "no work dir"
T=12142 H1=6071 H2=6066
run() { # run NP ARGS... (stderr to $work/last.err)
  local np=$1; shift
  timeout -k 5 "$TIMEOUT" "$mpirun" -n "$np" --oversubscribe --bind-to none "$ntwin" "$@" \
    >"$work/last.out" 2>"$work/last.err"
}
"$py" "$here/make_fixture.py" . 20 || die "fixture"
"$py" "$here/twin_config.py" wave.json --regime replay --file wave.csv --t-stop $T \
  --seed 7 --assimilate '{"w_min": -30, "w_max": 30}' --record-weights 467 || die "config"  # T/2 and T: multiples of 467 ms

# 1. uninterrupted vs checkpoint + restore
# restore_case N PN M PM CR H: run to H on N ranks (partition PN,
# --coupling-rank CR), checkpoint, restore on M ranks (PM), run to T,
# compare with full<N> (uninterrupted).
restore_case() {
  local n=$1 pn=$2 m=$3 pm=$4 cr=$5 H=$6 e="n$1-m$3-$6" ck
  run "$n" run wave.json --out "$e/a" --partition "$pn" --t-stop $H --checkpoint-final --quiet \
      --coupling-rank "$cr" ||
    { fail "$e: first part: $(tail -1 last.err)"; return; }
  ck="$e/a/checkpoint-$H.h5"
  [ -f "$ck" ] || { fail "$e: no $ck"; return; }
  # demanding boundaries: H1 right after a W update not yet in the synapses
  # (dW just reset), H2 halfway to the next update (dW not zero); both
  # inside a fidelity interval with recorded and predicted spikes
  "$py" -c "
import sys, h5py, numpy as np
t = h5py.File('$ck', 'r')['twin']
pending = t['w_push'][0] == 1 and not np.array_equal(t['W'][:], t['W_applied'][:])
ok = ((pending if $H == $H1 else not pending and np.any(t['dW'][:] != 0))
      and len(t['pred_stamp']) >= 1 and len(t['bio_stamp']) >= 5)
sys.exit(0 if ok else 1)" || fail "$e: $ck: not the boundary the test needs (W push / dW / open interval)"
  run "$m" run --restore "$ck" --out "$e/b" --t-stop $T --partition "$pm" --checkpoint-final ||
    { fail "$e: restore: $(tail -1 last.err)"; return; }
  grep -q "twin: state restored from $ck" last.err || fail "$e: no 'state restored' line"
  if "$py" "$src/tests/ckpt_compare.py" "full$n" "$e/a" "$e/b" \
      "full$n/checkpoint-$T.h5" "$e/b/checkpoint-$T.h5" >"$e.cmp" 2>&1; then
    echo "ok: $e ($pn -> $pm): spikes and final checkpoints (with /twin) identical: $(tail -1 "$e.cmp")"
  else
    fail "$e: restored run differs from the uninterrupted one"; cat "$e.cmp"
  fi
  # twin.h5 and weights.h5 after H, report.json (Python below, up to PY)
  if "$py" - "full$n" "$e/b" $H $((H * 10)) >"$e.twin" 2>&1 <<'PY'; then
import json, sys
import h5py
import numpy as np
full, rest, H, step = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
bad = []
F, R = h5py.File(full + "/twin.h5", "r"), h5py.File(rest + "/twin.h5", "r")
for g, c in (("predicted", "channel"), ("bio", "channel")):
    t, tr = F[g + "/t_ms"][:], R[g + "/t_ms"][:]
    m = t > H
    if len(tr) == 0 or tr.min() <= H:
        bad.append("%s: the restored twin.h5 is not the resumed part only" % g)
    if not (np.array_equal(t[m], tr) and np.array_equal(F[g + "/" + c][:][m], R[g + "/" + c][:])):
        bad.append("%s spikes after %g ms differ (%d vs %d)" % (g, H, m.sum(), len(tr)))
ft, rt = F["fidelity/t_ms"][:], R["fidelity/t_ms"][:]
m = ft > H
if not np.array_equal(ft[m], rt) or len(rt) < 5:
    bad.append("fidelity intervals differ: %s vs %s" % (ft[m], rt))
else:
    for ds in ("weights/W", "fidelity/gamma", "fidelity/gamma_symmetric", "fidelity/rate_corr",
               "fidelity/n_bio", "fidelity/n_predicted", "fidelity/gamma_channel"):
        a, b = F[ds][:][m], R[ds][:]
        if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            bad.append("twin.h5 %s differs in the resumed part" % ds)
if R.attrs["t_start_ms"] != H or R.attrs["restored_from_step"] != step:
    bad.append("twin.h5 attributes t_start_ms / restored_from_step: %s / %s"
               % (R.attrs["t_start_ms"], R.attrs["restored_from_step"]))
# the final synapse weights of the assimilated projection (and every record
# from the checkpoint on, the first made right after the restore)
Fw, Rw = h5py.File(full + "/weights.h5", "r"), h5py.File(rest + "/weights.h5", "r")
p = "projections/0/"
wt, rt = Fw[p + "times"][:], Rw[p + "times"][:]
# the restored file starts with a record at H (made right after the
# restore); the uninterrupted one has it too if H is a multiple of 467 ms
m, mr = wt >= H, (rt > H) | np.isin(rt, wt)
if rt[0] != H or not np.array_equal(wt[m], rt[mr]):
    bad.append("weights.h5 record times differ: %s vs %s" % (wt[m][:3], rt[:3]))
elif not np.array_equal(Fw[p + "weights"][:][m], Rw[p + "weights"][:][mr]):
    bad.append("weights.h5: mirror -> predict weights differ after the restore")
wf = Fw[p + "weights"][-1]
if not np.array_equal(wf, Rw[p + "weights"][-1]) or not np.any(wf != 0):
    bad.append("final mirror -> predict weights differ (or never changed)")
a, b = json.load(open(full + "/report.json"))["twin"], json.load(open(rest + "/report.json"))["twin"]
if b["restored_from_step"] != step or b["state_restored"] is not True or a["restored_from_step"] is not None:
    bad.append("report.json twin.restored_from_step / state_restored: %s / %s"
               % (b["restored_from_step"], b["state_restored"]))
for k in ("events_injected", "predicted_spikes", "late_events", "windows"):
    if a[k] != b[k]:
        bad.append("report.json twin.%s: %s uninterrupted, %s restored (counters run on)" % (k, a[k], b[k]))
print("\n".join(bad) if bad else
      "%d predicted spikes, %d fidelity intervals, %d weight records after %g ms identical"
      % ((F["predicted/t_ms"][:] > H).sum(), len(R["fidelity/t_ms"]), len(Rw[p + "times"]), H))
sys.exit(1 if bad else 0)
PY
    echo "ok: $e: twin.h5, weights.h5, report.json: $(tail -1 "$e.twin")"
  else
    fail "$e: twin outputs differ:"; cat "$e.twin"
  fi
}
# the last: written with rank 0 reserved as the coupling rank (no neurons)
for case in "1 round_robin 1 block auto" "2 round_robin 2 block auto" \
    "1 block 2 round_robin auto" "2 block 1 round_robin auto" "3 round_robin 2 block on"; do
  set -- $case
  if [ ! -d "full$1" ]; then
    run "$1" run wave.json --out "full$1" --partition "$2" --checkpoint-final --quiet \
        --coupling-rank "$5" || { fail "n$1: uninterrupted run: $(tail -1 last.err)"; continue; }
  fi
  restore_case "$@" $H2
  restore_case "$@" $H1
done

# 2. a checkpoint without the twin's state (format minor 0) still restores
H=$H1 ck=n1-m1-$H1/a/checkpoint-$H1.h5
cp "$ck" old.h5
"$py" -c "
import h5py; f = h5py.File('old.h5', 'r+'); del f['twin']; del f['forced']; del f.attrs['format_minor']" ||
  die "cannot make old.h5"
if run 2 run --restore old.h5 --out old --t-stop $T --quiet; then
  n=$(grep -c 'holds no twin state' last.err)
  [ "$n" -eq 1 ] || fail "old format: $n lines saying the twin state is not in the file"
  "$py" -c "import json,sys; t=json.load(open('old/report.json'))['twin']
sys.exit(0 if t['state_restored'] is False and t['restored_from_step'] == $((H * 10)) else 1)" ||
    fail "old format: report.json twin.state_restored is not false"
  echo "ok: old format restores: $(grep 'holds no twin state' last.err | cut -c1-90)..."
else
  fail "old format: restore failed: $(tail -1 last.err)"
fi
# a run without a twin ignores /twin
"$py" -c "
import json; c = json.load(open('wave.json')); del c['twin']; json.dump(c, open('notwin.json', 'w'))"
if run 2 run notwin.json --restore "$ck" --out notwin --t-stop 9000 --quiet &&
    ! grep -q twin last.err && [ -f notwin/spikes.h5 ] && [ ! -e notwin/twin.h5 ]; then
  echo "ok: a run without a twin restores the twin's checkpoint and ignores /twin"
else
  fail "no-twin restore: $(tail -2 last.err)"
fi

# 3. a /twin dataset that does not match its checksum
for ds in xs bio_stamp; do
  cp "$ck" "bad-$ds.h5"
  "$py" -c "
import h5py; f = h5py.File('bad-$ds.h5', 'r+'); x = f['twin/$ds']; x[0] = x[0] + 1" || die "bad-$ds.h5"
  rm -rf "bad-$ds"
  timeout -k 5 60 "$mpirun" -n 2 --oversubscribe --bind-to none "$ntwin" run --restore "bad-$ds.h5" \
    --out "bad-$ds" --t-stop $T --quiet >/dev/null 2>"bad-$ds.err"
  rc=$?
  n=$(grep -c '^ntwin: error:' "bad-$ds.err")
  if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ "$n" -ne 1 ] ||
      ! grep -q "^ntwin: error: bad-$ds.h5: /twin/$ds: checksum mismatch" "bad-$ds.err" ||
      [ -e "bad-$ds/spikes.h5" ] || [ -e "bad-$ds/report.json" ] || [ -e "bad-$ds/twin.h5" ]; then
    fail "corrupted /twin/$ds: rc=$rc, $n error lines: $(head -3 "bad-$ds.err")"
  else
    echo "ok: corrupted /twin/$ds -> $(grep '^ntwin: error:' "bad-$ds.err") (exit $rc)"
  fi
done

# 4. on the live link (paced, `ntwin replay` in real time): not comparable
# bit for bit, but consistent. Checkpoint at 2 s, restore against a replay
# from 2 s: the hybrid time is re-anchored (no event late, the replay's
# events from before the twin's first window counted as before the start),
# the events pending at the checkpoint are injected, every event the second
# replay sent is accounted for, the counters run on. The second replay's
# clock starts again (it is behind the checkpoint's): the twin says once
# that it cannot tell its events from those delivered before the checkpoint
# and ignores none as such.
port=$((5830 + $$ % 150 * 2))
"$py" "$here/twin_config.py" link.json --regime twin --link "tcp://127.0.0.1:$port" \
  "tcp://127.0.0.1:$((port + 1))" --timing '{"allowance_ms": 100, "peer_timeout_ms": 3000}' ||
  die "link config"
replay() { # replay NAME FROM: ntwin replay wave.csv from FROM s to 4 s, in the background
  "$ntwin" replay wave.csv --from "$2" --to 4 --wait-peer 30 --events "tcp://127.0.0.1:$port" \
    --commands "tcp://127.0.0.1:$((port + 1))" >"$1.replay" 2>&1 &
}
replay link-a 0
rp=$!
run 2 run link.json --out link-a --checkpoint-at 2000 --quiet; st=$?
kill $rp 2>/dev/null; wait $rp 2>/dev/null
if [ $st -ne 0 ] || [ ! -f link-a/checkpoint-2000.h5 ]; then
  fail "link: first run: exit $st: $(tail -2 last.err)"
else
  replay link-b 2
  rp=$!
  run 2 run --restore link-a/checkpoint-2000.h5 --out link-b --quiet; st=$?
  kill $rp 2>/dev/null; wait $rp 2>/dev/null
  if [ $st -ne 0 ]; then
    fail "link: restore: exit $st: $(tail -2 last.err)"
  elif "$py" - >link.chk 2>&1 <<'PY'; then
import json, re, sys
import h5py
ck = h5py.File("link-a/checkpoint-2000.h5", "r")["twin"]
t = json.load(open("link-b/report.json"))["twin"]
sent = int(re.search(r"sent (\d+) events", open("link-b.replay").read()).group(1))
pend = len(ck["pending_t_us"])
new = t["events_injected"] - ck["injected"][0] + t["events_before_start"] - ck["before_start"][0]
f = h5py.File("link-b/twin.h5", "r")
bio = f["bio/t_ms"][:]
conds = {
    "restored with state from step 20000": t["state_restored"] is True and t["restored_from_step"] == 20000,
    "no late event (time re-anchored)": t["late_events"] == 0,
    "stopped by the replay's BYE": t["stop_reason"] == "peer_bye",
    "events: new injected + before start == sent + pending": new == sent + pend,
    "twin.h5: the resumed part": f.attrs["t_start_ms"] == 2000 and len(bio) > 20 and bio.min() > 2000,
    "counters run on": t["windows"] > ck["windows"][0] == 2000,
    "none ignored as delivered before the checkpoint": t["dropped_before_resume"] == 0,
    "one line: the source's clock restarted": open("last.err").read().count("restarted its clock") == 1,
}
bad = [k for k, v in conds.items() if not v]
print("; ".join(bad) if bad else "sent %d, %d pending at the checkpoint injected, %d before the "
      "resumed start, 0 late" % (sent, pend, t["events_before_start"] - ck["before_start"][0]))
sys.exit(1 if bad else 0)
PY
    echo "ok: link restore consistent: $(cat link.chk)"
  else
    fail "link restore: $(cat link.chk)"
  fi
fi

# 4b. a source that keeps its clock across the twin's restore and sends
# again every event from its start (NTW_FAULT_BIO=reconnect: one `ntwin
# replay` for both twins; after the first twin's BYE, the next gets a HELLO
# and all events sent so far, with their times): the restored twin injects
# none stamped before the checkpoint's time (its B0 + 2 s on the same
# clock): the events it injects and those the first twin injected are
# disjoint (the same event has the same time), every event the first twin
# injected is counted in report.json twin.dropped_before_resume, and one
# line says how many were ignored.
rport=$((port + 2))
"$py" "$here/twin_config.py" resend.json --regime twin --link "tcp://127.0.0.1:$rport" \
  "tcp://127.0.0.1:$((rport + 1))" --timing '{"allowance_ms": 100, "peer_timeout_ms": 10000}' ||
  die "resend config"
NTW_FAULT_BIO=reconnect "$ntwin" replay wave.csv --to 15 --wait-peer 30 \
  --events "tcp://127.0.0.1:$rport" --commands "tcp://127.0.0.1:$((rport + 1))" >resend.replay 2>&1 &
rp=$!
if ! run 2 run resend.json --out resend-a --t-stop 2000 --checkpoint-final --quiet; then
  fail "resend: first run: $(tail -2 last.err)"
elif ! run 1 run --restore resend-a/checkpoint-2000.h5 --out resend-b --t-stop 3500; then
  fail "resend: restore: $(tail -2 last.err)"
elif "$py" - >resend.chk 2>&1 <<'PY'; then
import json, re, sys
import h5py
ck = h5py.File("resend-a/checkpoint-2000.h5", "r")["twin"]
R = int(ck["B0"][0]) + 2000000  # the checkpoint's time on the biology's clock
t = json.load(open("resend-b/report.json"))["twin"]
a, b = h5py.File("resend-a/twin.h5", "r"), h5py.File("resend-b/twin.h5", "r")
A = set(zip(a["bio/channel"][:].tolist(), a["bio/t_us"][:].tolist()))
B = set(zip(b["bio/channel"][:].tolist(), b["bio/t_us"][:].tolist()))
err = open("last.err").read()
m = re.search(r"twin: (\d+) events stamped before the checkpoint's time", err)
resent = re.search(r"HELLO and (\d+) events sent again", open("resend.replay").read())
n = t["dropped_before_resume"]
conds = {
    "the replay sent the events again": resent is not None and int(resent.group(1)) >= len(A),
    "every event injected before the checkpoint ignored": n >= ck["injected"][0] == len(A) > 20,
    "none injected twice": not (A & B),
    "none injected stamped before the checkpoint's time": len(B) > 10 and min(u for _, u in B) >= R,
    "no late event": t["late_events"] == 0 and t["stop_reason"] == "t_stop",
    "one line with the count": err.count("stamped before the checkpoint") == 1 and m
                               and int(m.group(1)) == n,
    "the clock is the checkpoint's": "restarted its clock" not in err,
}
bad = [k for k, v in conds.items() if not v]
print("; ".join(bad) if bad else "%d events sent again and ignored (%d injected before the "
      "checkpoint), %d injected after it, none twice" % (n, len(A), len(B)))
sys.exit(1 if bad else 0)
PY
  echo "ok: link source resending from before the checkpoint: $(cat resend.chk)"
else
  fail "link resend: $(cat resend.chk)"
fi
kill $rp 2>/dev/null; wait $rp 2>/dev/null

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "twin checkpoints: all checks passed"

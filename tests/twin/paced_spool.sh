#!/usr/bin/env bash
# The spike report of a paced twin, and its real-time options (README
# "Spike report of a paced run", "Real-time priority"):
#  1. a twin paced by the wall clock on a recorded file (2 ranks) spools its
#     spikes (report.json spike_spool) and its spikes.h5 equals, dataset by
#     dataset, the one the same run writes unpaced (direct collective
#     appends): 3 s, so 30 spool segments and 3 appends at the end; no spool
#     file is left behind;
#  2. the same with a checkpoint at 1300 ms (the spool goes into spikes.h5
#     there, then on) and with rank 0 as the coupling rank: still equal;
#  3. twin.timing.rt_priority / lock_memory: as root both are granted and
#     report.json twin.realtime says so; without the privilege the run goes
#     on with one line on stderr saying what was refused;
#  4. twin.h5 /timing: lag = ready + run per window.
# usage: paced_spool.sh NTWIN MPIRUN H5DIFF SRCDIR WORKDIR
set -u
ntwin=$(readlink -f "$1") mpirun=$2 h5diff=$3 src=$(readlink -f "$4") work=$5
here=$src/tests/twin
. "$src/tests/lib.sh"
rm -rf "$work" && mkdir -p "$work" && cd "$work" || die "no work dir"
run() { # run NP ARGS... (stderr to $work/last.err)
  local np=$1; shift
  timeout -k 5 "$TIMEOUT" "$mpirun" -n "$np" --oversubscribe --bind-to none "$ntwin" "$@" \
    >"$work/last.out" 2>"$work/last.err"
}
"$py" "$here/make_fixture.py" . 5 || die "fixture"
"$py" "$here/twin_config.py" direct.json --regime replay --file wave.csv --t-stop 3000 \
  --seed 7 || die "config"
# paced.json: the same, paced; rt.json: paced with real-time options
"$py" - <<'PY' || die "configs"
import json
c = json.load(open("direct.json"))
c["record"]["spikes"] = ["M", "P"]
c["projections"][0]["weight"] = 16.0  # P fires from the start
json.dump(c, open("direct.json", "w"), indent=1)
c["twin"]["source"]["pace"] = True
json.dump(c, open("paced.json", "w"), indent=1)
c["twin"]["timing"] = {"rt_priority": 10, "lock_memory": True}
json.dump(c, open("rt.json", "w"), indent=1)
PY
same_spikes() { # same_spikes DIR WHAT
  h5same direct/spikes.h5 "$1/spikes.h5" || fail "$2: spikes.h5 differs from the unpaced run's"
}
run 2 run direct.json --out direct --quiet || die "direct run: $(tail -1 last.err)"
[ "$(jget direct/report.json spike_spool)" = False ] || fail "an unpaced run spooled"
n=$("$py" -c "import h5py; f = h5py.File('direct/spikes.h5'); print(len(f['spikes/M/timestamps']), len(f['spikes/P/timestamps']))")
set -- $n
[ "$1" -gt 100 ] && [ "$2" -gt 200 ] || fail "too few spikes to compare ($n)"

# 1. paced: spooled, same file
run 2 run paced.json --out paced --quiet || fail "paced run: $(tail -1 last.err)"
[ "$(jget paced/report.json spike_spool)" = True ] || fail "the paced run did not spool"
same_spikes paced "paced, 2 ranks"
ls -a paced | grep -q spool && fail "a spool file was left in paced/"

# 2. a checkpoint in the middle; rank 0 as the coupling rank
run 2 run paced.json --out ck --checkpoint-at 1300 --quiet || fail "paced + checkpoint: $(tail -1 last.err)"
[ -f ck/checkpoint-1300.h5 ] || fail "no checkpoint-1300.h5"
same_spikes ck "paced with a checkpoint"
run 3 run paced.json --out cr --coupling-rank on --quiet || fail "paced, coupling rank: $(tail -1 last.err)"
same_spikes cr "paced, 3 ranks with a coupling rank"

# 3. real-time options
run 2 run rt.json --out rt --quiet || fail "rt run: $(tail -1 last.err)"
same_spikes rt "paced, real-time"
"$py" - "$(id -u)" <<'PY' || fail "real-time report"
import json, sys
root = sys.argv[1] == "0"
t = json.load(open("rt/report.json"))["twin"]["realtime"]
err = open("last.err").read().splitlines()
refused = [l for l in err if "refused" in l]
print("realtime:", t, "refused lines:", refused)
assert t["rt_priority"] == 10 and t["lock_memory"] is True, t
if root:
    assert t["fifo"] and t["locked"] and not refused, (t, refused)
else:
    assert len(refused) == 1 and "Real-time priority" in refused[0], refused
p = json.load(open("paced/report.json"))["twin"]["realtime"]
assert p == {"rt_priority": 0, "fifo": False, "lock_memory": False, "locked": False}, p
PY

# 4. the lag split in twin.h5
"$py" - <<'PY' || fail "twin.h5 /timing"
import h5py, numpy as np
t = h5py.File("paced/twin.h5", "r")["timing"]
lag, ready, run = (t[k][:].astype(float) for k in ("lag_ms", "ready_ms", "run_ms"))
assert len(lag) == len(ready) == len(run) >= 2900, (len(lag), len(ready), len(run))
assert np.allclose(lag, ready + run, atol=2e-3), np.abs(lag - ready - run).max()
assert (run >= 0).all(), run.min()
print("lag p50 %.3f ms = ready %.3f + run %.3f" % (np.median(lag), np.median(ready), np.median(run)))
PY
[ $failures -eq 0 ] || exit 1
echo "paced_spool: ok"

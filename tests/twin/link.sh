#!/bin/sh
# The twin on the live bio link (real ZeroMQ sockets, a real publisher:
# `ntwin replay` of a synthetic recording) on 2 ranks: hybrid-time checks
# and faults, each with a counted, stated behaviour (issue: never a crash,
# hang or silently wrong twin). One clean case on 3 ranks, where the
# coupling rank is on by default (rank 0 owns no neuron).
# Usage: link.sh NTWIN MPIRUN WORK_DIR
set -u
ntwin=$1 mpirun=$2 work=$3
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
case $ntwin in /*) ;; *) ntwin=$PWD/$ntwin ;; esac
TIMEOUT=${NTWIN_TEST_TIMEOUT:-60}
die() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work" && cd "$work" || die "no work dir"
"$py" "$here/make_fixture.py" . 4 || die "fixture"
port=$((5610 + $$ % 200 * 2))
fails=0
# The late, lie and clean cases need the twin and the publisher to keep up
# with the wall clock (a fault of 20 ms cannot make an event late for a twin
# 2 s behind). Both run at SCHED_FIFO RT, as a paced twin should (README
# "Real-time priority"), so a loaded machine (other tests in parallel) does
# not starve them; where that is refused (not root, no CAP_SYS_NICE) each
# prints one line and runs as before. NTWIN_TEST_RT=0 turns it off.
RT=${NTWIN_TEST_RT:-10}
RTARG=""; [ "$RT" -gt 0 ] && RTARG="--rt-priority $RT"

# config NAME REGIME TIMING_JSON [STIM_JSON]
config() {
  "$py" "$here/twin_config.py" "$1.json" --regime "$2" --timing "$3" ${4:+--stim "$4"} \
    --rt-priority "$RT" \
    --link "tcp://127.0.0.1:$port" "tcp://127.0.0.1:$((port + 1))" || die "config $1"
}

# case NAME FAULTS EXPECT_STATUS [NP]: replay 3 s of wave.csv with
# NTW_FAULT_BIO, the twin on NP ranks (default 2); leaves NAME.out/,
# NAME.err, NAME.replay.
run_case() {
  name=$1 faults=$2 want=$3 np=${4:-2}
  NTW_FAULT_BIO=$faults "$ntwin" replay wave.csv --to 3 --wait-peer 20 $RTARG \
    --events "tcp://127.0.0.1:$port" --commands "tcp://127.0.0.1:$((port + 1))" \
    >"$name.replay" 2>&1 &
  rp=$!
  timeout -k 5 "$TIMEOUT" "$mpirun" -n "$np" --oversubscribe --bind-to none \
    "$ntwin" run "$name.json" --out "$name.out" >/dev/null 2>"$name.err"
  st=$?
  kill $rp 2>/dev/null; wait $rp 2>/dev/null
  port=$((port + 2))
  if [ $st -ne "$want" ]; then
    echo "FAIL $name: exit status $st, expected $want" >&2
    sed 's/^/  | /' "$name.err" >&2
    fails=$((fails + 1))
    return 1
  fi
  return 0
}

# check NAME PYTHON_CONDITION...: conditions on r (report.json), t
# (r["twin"]), sent (events the publisher sent), stims (commands it got).
check() {
  name=$1; shift
  "$py" - "$name" "$@" <<'PY' || { fails=$((fails + 1)); return 1; }
import json, re, sys
name, conds = sys.argv[1], sys.argv[2:]
r = json.load(open(name + ".out/report.json")); t = r["twin"]; l = t.get("link", {})
log = open(name + ".replay").read()
m = re.search(r"sent (\d+) events", log); sent = int(m.group(1)) if m else -1
m = re.search(r"(\d+) stimulation commands received", log); stims = int(m.group(1)) if m else -1
bad = [c for c in conds if not eval(c)]
for c in bad:
    print("FAIL %s: %s  (twin: %s)" % (name, c, json.dumps({k: t[k] for k in t if k not in ("link", "clock")})), file=sys.stderr)
print("ok   %s: injected %d, late %d (shifted %d), link %s, stop %s" % (
    name, t["events_injected"], t["late_events"], t["late_shifted"],
    {k: v for k, v in l.items() if v and k not in ("messages", "events")}, t["stop_reason"]))
sys.exit(1 if bad else 0)
PY
}

TIMING='{"allowance_ms": 50, "peer_timeout_ms": 2000}'
config clean twin "$TIMING"
run_case clean "" 0 && check clean 't["late_events"] == 0' 't["events_injected"] + t["events_before_start"] == sent > 100' \
  't["stop_reason"] == "peer_bye"' 't["clock"]["heartbeats"] >= 10' \
  'abs(t["clock"]["drift_ppm"]) < 2000' 't["lag_ms"]["n"] > 2000' 'r["regime"] == "twin"' \
  't["min_delay_ok"]' 't["paced"]' 't["release"] == "watermark"' \
  't["released_by_watermark"] > 0.5 * t["windows"]' \
  't["latency_ms"]["p50"] < 25 or t["lag_ms"]["p50"] > 10' \
  'l["after_watermark"] == 0' 'l["watermark_backwards"] == 0'

# (A twin that lags behind, on a loaded machine, receives events long before
# it runs their window: low latency is only required when it keeps up.)
# The same with the watermark ignored: every window waits its 50 ms
# allowance, so the loop latency is at least that (the watermark above cut
# it to the transport and compute).
config allowance twin '{"allowance_ms": 50, "peer_timeout_ms": 2000, "release": "allowance"}'
run_case allowance "" 0 && check allowance 't["late_events"] == 0' \
  't["events_injected"] + t["events_before_start"] == sent > 100' 't["released_by_watermark"] == 0' \
  't["latency_ms"]["p50"] >= 45'

# A source that breaks its promise (watermarks 20 ms ahead of what it has
# sent): the twin runs windows before their events arrive; each such event
# is counted at the link (after_watermark) and handled by the late policy.
config lie twin "$TIMING"
run_case lie "lie:20" 0 && check lie 't["late_events"] > 0' 'l["after_watermark"] > 0' \
  't["events_injected"] + t["late_events"] + t["events_before_start"] == sent' 't["stop_reason"] == "peer_bye"'

# 3 ranks, coupling_rank left at auto: a link twin on >= 3 ranks reserves
# rank 0, and every event still reaches the network on ranks 1-2. Three
# ranks and the source, all at SCHED_FIFO, on a 2-core machine: the source
# can be held back for 50-100 ms (likely the kernel's real-time throttling,
# 95 % of each second; seen: lag max 100.6 ms, every window released by the
# watermark; once in CI, a 50 ms allowance released 52 windows while the
# source was held and 2 events came late). A 250 ms allowance keeps "no late
# event from an honest source" testable here; late events still mean a bug.
config clean3 twin '{"allowance_ms": 250, "peer_timeout_ms": 2000}'
run_case clean3 "" 0 3 && check clean3 'r["coupling_rank"] is True' \
  'r["neurons_per_rank"][0] == 0 and sum(r["neurons_per_rank"]) == 32' \
  't["late_events"] == 0' 't["events_injected"] + t["events_before_start"] == sent > 100' \
  't["stop_reason"] == "peer_bye"' 't["clock"]["heartbeats"] >= 10' \
  't["lag_ms"]["n"] > 2000' 'r["regime"] == "twin"' 't["min_delay_ok"]' 't["paced"]'
# and on 2 ranks auto leaves it off (the clean case above)
check clean 'r["coupling_rank"] is False'

LATE='{"allowance_ms": 5, "late_policy": "%s", "peer_timeout_ms": 2000}'
config late_drop twin "$(printf "$LATE" drop)"
run_case late_drop "late:300" 0 && check late_drop 't["late_events"] > 0' \
  't["events_injected"] + t["late_events"] + t["events_before_start"] == sent' 't["late_shifted"] == 0'
config late_shift twin "$(printf "$LATE" shift)"
run_case late_shift "late:300" 0 && check late_shift 't["late_events"] > 0' \
  't["late_shifted"] == t["late_events"]' 't["events_injected"] + t["events_before_start"] == sent'
config late_abort twin "$(printf "$LATE" abort)"
if run_case late_abort "late:300" 1; then
  n=$(grep -c '^ntwin: error:' late_abort.err)
  if [ "$n" -ne 1 ] || ! grep -q 'late event' late_abort.err ||
     [ ! -s late_abort.out/twin.h5 ] || [ ! -s late_abort.out/spikes.h5 ]; then
    echo "FAIL late_abort: want one 'late event' error line and the outputs written ($n error lines)" >&2
    sed 's/^/  | /' late_abort.err >&2
    fails=$((fails + 1))
  else
    check late_abort 't["stop_reason"] == "failed"' 't["late_events"] >= 1'
  fi
fi

config bad_events twin "$TIMING"
run_case bad_events "backwards,unknown" 0 && check bad_events \
  'l["non_monotonic"] >= 1' 'l["unknown_channel"] >= 1' 't["stop_reason"] == "peer_bye"'
config bad_frames twin "$TIMING"
run_case bad_frames "malformed,version,oversized" 0 && check bad_frames \
  'l["malformed"] >= 1' 'l["wrong_version"] >= 1' 'l["oversized"] == 1' \
  't["events_injected"] + t["late_events"] + t["events_before_start"] == sent'

config vanish twin '{"allowance_ms": 50, "peer_timeout_ms": 500}'
if run_case vanish "vanish:1.5" 0; then
  check vanish 't["stop_reason"] == "peer_silent"' '1000 <= r["t_sim_ms"] <= 3000' \
    't["events_injected"] + t["events_before_start"] == sent'
  [ -s vanish.out/spikes.h5 ] && [ -s vanish.out/twin.h5 ] ||
    { echo "FAIL vanish: outputs missing" >&2; fails=$((fails + 1)); }
fi

config loop closed-loop "$TIMING" \
  '{"policy": "periodic", "period_ms": 200, "electrodes": ["0", "5"], "pulses": 2}'
run_case loop "" 0 && check loop 't["stims_sent"] >= 5' 'stims >= 4 * t["stims_sent"] * 0.9' \
  't["latency_ms"]["n"] >= 20' 't["latency_ms"]["p99"] is not None' 'r["regime"] == "closed-loop"'

config badlabel closed-loop "$TIMING" '{"policy": "periodic", "electrodes": ["0", "99"]}'
if run_case badlabel "" 1; then
  grep -q 'twin.stimulation.electrodes\[1\].*99' badlabel.err ||
    { echo "FAIL badlabel: error does not name the field" >&2; sed 's/^/  | /' badlabel.err >&2; fails=$((fails + 1)); }
  echo "ok   badlabel: $(grep '^ntwin: error' badlabel.err)"
fi

echo "twin link: $fails failure(s)"
[ $fails -eq 0 ]

#!/bin/sh
# The whole loop with real processes and sockets, as the demo runs it but
# short: `ntwin culture` (paced, --wait-peer) and a closed-loop twin on 2
# ranks (periodic stimulation of 2 electrodes, 3-pulse trains), 6 s.
# Requires: both exit 0; every stimulation command the twin sent reached
# the culture and was applied (culture_report.json); every spike the
# culture published after the twin's start was injected or counted
# (injected + late + before start == published in the run's span, within
# the spikes of the last window); the twin's channel layout is the
# culture's; scripts/twin_eval.py scores it against culture.h5.
# Usage: culture_loop.sh NTWIN MPIRUN CULTURE_JSON WORK_DIR
set -u
ntwin=$1 mpirun=$2 culture=$3 work=$4
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
case $ntwin in /*) ;; *) ntwin=$PWD/$ntwin ;; esac
case $culture in /*) ;; *) culture=$PWD/$culture ;; esac
die() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work" && cd "$work" || die "no work dir"
port=$((5900 + $$ % 50 * 2))
# Both processes at SCHED_FIFO RT (as tests/twin/link.sh; one line each
# where refused): a twin seconds behind on a loaded machine would send its
# last commands after the culture has stopped. NTWIN_TEST_RT=0 turns it off.
RT=${NTWIN_TEST_RT:-10}
RTARG=""; [ "$RT" -gt 0 ] && RTARG="--rt-priority $RT"
ev="tcp://127.0.0.1:$port" cm="tcp://127.0.0.1:$((port + 1))"
"$py" - "$culture" "$ev" "$cm" "$RT" <<'PY' || die "configs"
import json, sys
c = json.load(open(sys.argv[1]))
net = c["network"]
twin = {
  "simulation": {"dt": 0.1, "t_stop": 20000.0, "seed": 5, "bind": "none"},
  "populations": [{"name": "M", "model": "spike_source", "size": 60},
                  {"name": "S", "model": "spike_source", "size": 60},
                  {"name": "P", "model": "iaf_psc_delta", "size": 60,
                   "params": {"E_L": 0.0, "V_th": 15.0, "V_reset": 0.0, "V_m": 0.0}}],
  "projections": [{"source": "M", "target": "P", "rule": "all_to_all", "weight": 0.0, "delay": 1.0},
                  {"source": "S", "target": "P", "rule": "one_to_one", "weight": 20.0, "delay": 2.0}],
  "record": {"spikes": ["P", "S"]},
  "twin": {"regime": "closed-loop", "mirror": "M", "predict": "P", "stim_input": "S",
           "source": {"kind": "link", "events": sys.argv[2], "commands": sys.argv[3]},
           "assimilate": {"projection": 0, "eta": 0.05, "tau_ms": 5.0, "w_min": 0.0},
           "timing": {"allowance_ms": 20.0, "peer_timeout_ms": 3000.0,
                      **({"rt_priority": int(sys.argv[4])} if int(sys.argv[4]) > 0 else {})},
           "stimulation": {"policy": "periodic", "period_ms": 500.0, "electrodes": ["22", "77"],
                           "pulses": 3, "pulse_interval_ms": 30.0, "amplitude": 800.0}}}
json.dump(twin, open("twin.json", "w"), indent=1)
PY
"$ntwin" culture "$culture" --out culture --t-stop 6 --wait-peer 60 --events "$ev" \
  --commands "$cm" --quiet $RTARG 2>culture.err &
cp=$!
timeout -k 5 120 "$mpirun" -n 2 --oversubscribe --bind-to none "$ntwin" run twin.json \
  --out twin --quiet 2>twin.err
st=$?
wait $cp; cst=$?
[ $st -eq 0 ] || { cat twin.err >&2; die "twin exit $st"; }
[ $cst -eq 0 ] || { cat culture.err >&2; die "culture exit $cst"; }
"$py" - <<'PY' || die "loop checks"
import json, sys
import h5py, numpy as np
r = json.load(open("twin/report.json")); t = r["twin"]
c = json.load(open("culture/culture_report.json"))
f = h5py.File("twin/twin.h5", "r"); g = h5py.File("culture/culture.h5", "r")
ok = True
def want(cond, msg):
    global ok
    if not cond:
        print("FAIL: " + msg); ok = False
cmds = t["stims_sent"] * 2 * 3
want(t["stims_sent"] >= 5, "stimulations sent %d < 5" % t["stims_sent"])
want(c["stimulation"]["received"] == cmds, "culture received %d commands, twin sent %d"
     % (c["stimulation"]["received"], cmds))
want(c["stimulation"]["applied"] == cmds, "culture applied %d of %d" % (c["stimulation"]["applied"], cmds))
# the twin told its own network: one stim_input spike per pulse, and the
# predictor of a stimulated electrode fires 2 ms (the S -> P delay) after
# each pulse
want(t["stim_input_spikes"] + t["stim_input_missed"] == cmds and t["stim_input_spikes"] > 0,
     "stim_input spikes %d + missed %d != %d commands" % (t["stim_input_spikes"], t["stim_input_missed"], cmds))
import h5py as _h
sp = _h.File("twin/spikes.h5", "r")["spikes/P"]
pt, pn = sp["timestamps"][:], sp["node_ids"][:]
# S's spikes are the pulses the twin forced (a pulse whose time the twin
# had already passed when the command went out is counted in
# stim_input_missed instead). Each is at its pulse's own time - the first
# pulse at the biology's clock when the command was sent (t_us, in the
# twin's time: stamp floor((t_us - B0) / dt) + 1), then every 30 ms - and
# the stimulated electrode's predictor fires 2 ms (S -> P delay) after it
# (W >= 0 here, so nothing holds P below threshold but its refractory time).
B0 = float(f.attrs["B0_us"])
tp = (np.floor((f["stim/t_us"][:] - B0) / 100.0) + 1) * 0.1
st_c = f["stim/channel"][:]
ss = _h.File("twin/spikes.h5", "r")["spikes/S"]
s_t, s_n = ss["timestamps"][:], ss["node_ids"][:]
want(len(s_t) == t["stim_input_spikes"] >= 24,
     "S spikes %d, stim_input_spikes %d" % (len(s_t), t["stim_input_spikes"]))
pulses = [(t0 + 30.0 * k, cc) for t0, cc in zip(tp, st_c) for k in range(3)]
off = [tt for tt, cc in zip(s_t, s_n) if not any(cc == pc and abs(tt - pt_) < 0.05 for pt_, pc in pulses)]
want(not off, "%d S spikes at no pulse's time, e.g. %s" % (len(off), off[:3]))
t_end = r["t_sim_ms"]
seen = [(tt + 2.0, cc) for tt, cc in zip(s_t, s_n) if tt + 3.0 < t_end]
# (or P was refractory then: it fired in the 2 ms (t_ref) before, driven
# by the recorded spikes on M)
hits = sum(1 for tt, cc in seen if np.any((pn == cc) & (np.abs(pt - tt) < 0.05)))
refr = sum(1 for tt, cc in seen if not np.any((pn == cc) & (np.abs(pt - tt) < 0.05))
           and np.any((pn == cc) & (pt > tt - 2.05) & (pt < tt - 0.05)))
want(hits >= 0.75 * len(seen) and hits + refr >= len(seen) - 1,
     "the stimulated electrodes' predictors fired 2 ms after %d of %d pulses (refractory at %d)"
     % (hits, len(seen), refr))
lab_t = [x.decode() for x in f["layout/label"][:]]
lab_c = [x.decode() for x in g["mea/label"][:]]
want(lab_t == lab_c, "the twin's layout is not the culture's")
want(list(f["layout/channel_id"][:]) == list(g["mea/channel"][:]), "channel ids differ")
# every published spike within the twin's span was injected (or counted)
B0 = float(f.attrs["B0_us"]); T = r["t_sim_ms"] * 1e3
ts = g["mea/spikes/t_us"][:]
pub = int(np.sum((ts >= B0) & (ts < B0 + T)))
got = t["events_injected"] + t["late_events"]
want(abs(got - pub) <= 60, "published in the span %d, injected %d + late %d" %
     (pub, t["events_injected"], t["late_events"]))
# injected times are the published ones
bt = np.sort(f["bio/t_us"][:]); sel = np.sort(ts[(ts >= B0) & (ts < B0 + T)])
n = min(len(bt), len(sel)) - 60
want(n > 100 and np.all(np.isin(bt[:n], sel)), "injected times are not the culture's published times")
print("ok: %d stimulations (%d commands) sent, received and applied; %d spikes published, %d injected,"
      " %d late; lag p50 %.2f ms" % (t["stims_sent"], cmds, pub, t["events_injected"], t["late_events"],
                                       t["lag_ms"]["p50"] or -1))
sys.exit(0 if ok else 1)
PY
"$py" "$here/../../scripts/twin_eval.py" twin --truth culture/culture.h5 --ntwin "$ntwin" --no-plots ||
  die "twin_eval on the loop"
echo "culture loop: all checks passed"

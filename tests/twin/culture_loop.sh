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
ev="tcp://127.0.0.1:$port" cm="tcp://127.0.0.1:$((port + 1))"
"$py" - "$culture" "$ev" "$cm" <<'PY' || die "configs"
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
  "record": {"spikes": ["P"]},
  "twin": {"regime": "closed-loop", "mirror": "M", "predict": "P", "stim_input": "S",
           "source": {"kind": "link", "events": sys.argv[2], "commands": sys.argv[3]},
           "assimilate": {"projection": 0, "eta": 0.05, "tau_ms": 5.0},
           "timing": {"allowance_ms": 20.0, "peer_timeout_ms": 3000.0},
           "stimulation": {"policy": "periodic", "period_ms": 500.0, "electrodes": ["22", "77"],
                           "pulses": 3, "pulse_interval_ms": 30.0, "amplitude": 800.0}}}
json.dump(twin, open("twin.json", "w"), indent=1)
PY
"$ntwin" culture "$culture" --out culture --t-stop 6 --wait-peer 60 --events "$ev" \
  --commands "$cm" --quiet 2>culture.err &
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
# predictor of a stimulated electrode fires 2 ms (the S -> P delay) later
want(t["stim_input_spikes"] + t["stim_input_missed"] == cmds and t["stim_input_spikes"] > 0,
     "stim_input spikes %d + missed %d != %d commands" % (t["stim_input_spikes"], t["stim_input_missed"], cmds))
import h5py as _h
sp = _h.File("twin/spikes.h5", "r")["spikes/P"]
pt, pn = sp["timestamps"][:], sp["node_ids"][:]
st_t, st_c = f["stim/t_ms"][:], f["stim/channel"][:]
hits = sum(1 for tt, cc in zip(st_t, st_c) if np.any((pn == cc) & (pt > tt) & (pt <= tt + 100 + 3)))
want(hits >= 0.9 * len(st_t), "predictors of stimulated electrodes fired after %d of %d stimulations" % (hits, len(st_t)))
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

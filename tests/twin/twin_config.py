#!/usr/bin/python3
"""The small twin the twin tests run: 16 mirror neurons (one per channel of
tests/twin/make_fixture.py's recordings) and 16 LIF predictors, the
mirror -> predict projection assimilated.

usage: twin_config.py OUT.json --regime R (--file CSV | --link EVENTS COMMANDS)
                      [--t-stop MS] [--seed N] [--timing JSON] [--stim JSON]
                      [--assimilate JSON]   (merged into twin.assimilate)
                      [--rt-priority N]     (twin.timing.rt_priority: paced
                                             tests that need the twin to keep
                                             up with the wall clock)
                      [--record-weights MS] (weights.h5: the assimilated
                                             projection every MS)
                      [--loop RATE]  (closed-loop tests: stim_input S, 16
                                      spike sources told of the twin's pulses,
                                      S -> Q one_to_one, Q 16 LIF responders,
                                      and a Poisson drive of RATE Hz on P, so
                                      that P fires whatever the biology does;
                                      spikes of P and S recorded)
"""
import argparse
import json

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--regime", required=True)
ap.add_argument("--file")
ap.add_argument("--link", nargs=2)
ap.add_argument("--t-stop", type=float, default=10000.0)
ap.add_argument("--seed", type=int, default=3)
ap.add_argument("--timing")
ap.add_argument("--stim")
ap.add_argument("--assimilate")
ap.add_argument("--record-weights", type=float)
ap.add_argument("--loop", type=float)
ap.add_argument("--rt-priority", type=int)
a = ap.parse_args()
twin = {
    "regime": a.regime,
    "source": {"kind": "file", "path": a.file} if a.file else
              {"kind": "link", "events": a.link[0], "commands": a.link[1]},
    "mirror": "M", "predict": "P",
    "assimilate": {"projection": 0, "eta": 0.5, "tau_ms": 5},
}
twin["assimilate"].update(json.loads(a.assimilate or "{}"))
if a.timing:
    twin["timing"] = json.loads(a.timing)
if a.rt_priority:
    twin.setdefault("timing", {})["rt_priority"] = a.rt_priority
if a.stim:
    twin["stimulation"] = json.loads(a.stim)
cfg = {
    "simulation": {"dt": 0.1, "t_stop": a.t_stop, "seed": a.seed, "bind": "none"},
    "populations": [
        {"name": "M", "model": "spike_source", "size": 16},
        {"name": "P", "model": "iaf_psc_delta", "size": 16,
         "params": {"E_L": 0, "V_th": 15, "V_reset": 0, "V_m": 0, "tau_m": 10, "t_ref": 2}}],
    "projections": [{"source": "M", "target": "P", "rule": "all_to_all",
                     "weight": 0.0, "delay": 1.0}],
    "record": {"spikes": ["P"]},
    "twin": twin,
}
if a.loop is not None:
    lif = cfg["populations"][1]["params"]
    cfg["populations"] += [{"name": "S", "model": "spike_source", "size": 16},
                           {"name": "Q", "model": "iaf_psc_delta", "size": 16, "params": dict(lif)}]
    cfg["projections"].append({"source": "S", "target": "Q", "rule": "one_to_one",
                               "weight": 20.0, "delay": 1.0})
    cfg["stimuli"] = [{"type": "poisson", "target": "P", "rate": a.loop, "weight": 16.0}]
    cfg["record"]["spikes"] = ["P", "S"]
    twin["stim_input"] = "S"
if a.record_weights:
    cfg["record"]["weights"] = [{"projection": 0, "interval": a.record_weights}]
with open(a.out, "w") as f:
    json.dump(cfg, f, indent=2)

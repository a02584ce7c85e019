#!/bin/sh
# Usage: compare_weights.sh NTWIN MPIRUN H5DIFF DIR
# Runs a small plastic network (STDP, power-law STDP, static and
# Tsodyks projections; 20000 STDP synapses, so the weight matrix spans two
# column chunks) with weight recording on 1 rank (round_robin) and on 3
# ranks (block), and requires weights.h5 (and spikes.h5) to be identical:
# h5diff finds no difference, attributes included, and cmp finds the files
# byte-for-byte equal. Also checks the layout with h5py: dataset shapes,
# the sort order, the record times, that the STDP weights changed and the
# static ones did not, and that "sample" keeps the first N synapses.
set -eu
ntwin=$1 mpirun=$2 h5diff=$3 dir=$4
py=/usr/bin/python3
rm -rf "$dir" && mkdir -p "$dir"
cat >"$dir/net.json" <<'JSON'
{"simulation": {"dt": 0.1, "t_stop": 200.0, "seed": 7, "bind": "none"},
 "populations": [
  {"name": "E", "model": "iaf_psc_delta", "size": 500, "params":
   {"E_L": 0, "V_th": 20, "V_reset": 10, "tau_m": 20, "t_ref": 2,
    "V_m": {"distribution": "uniform", "low": 0, "high": 20}}},
  {"name": "I", "model": "iaf_psc_delta", "size": 100, "params":
   {"E_L": 0, "V_th": 20, "V_reset": 10, "tau_m": 20, "t_ref": 2}}],
 "projections": [
  {"source": "E", "target": "E", "rule": "fixed_indegree", "indegree": 40,
   "weight": {"distribution": "uniform", "low": 0.1, "high": 0.3},
   "delay": {"distribution": "uniform", "low": 1.0, "high": 3.0},
   "allow_multapses": true,
   "synapse": {"model": "stdp", "lambda": 0.02, "Wmax": 1.0, "mu_plus": 0, "mu_minus": 1}},
  {"source": "E", "target": "I", "rule": "fixed_indegree", "indegree": 40,
   "weight": 0.4, "delay": 1.5, "synapse": {"model": "tsodyks2", "U": 0.4, "tau_rec": 200}},
  {"source": "I", "target": "E", "rule": "fixed_indegree", "indegree": 10,
   "weight": {"distribution": "normal", "mean": -1.0, "std": 0.1, "max": 0}, "delay": 1.5},
  {"source": "E", "target": "E", "rule": "fixed_indegree", "indegree": 10,
   "weight": 0.5, "delay": 2.0, "synapse": {"model": "stdp_pl_hom", "lambda": 0.05}},
  {"source": "I", "target": "I", "rule": "fixed_probability", "p": 0.2,
   "weight": -0.5, "delay": 1.0}],
 "stimuli": [{"type": "poisson", "target": "E", "rate": 15000, "weight": 0.1},
  {"type": "noise", "target": "I", "mean": 150, "std": 100, "tau": 4}],
 "record": {"spikes": ["E", "I"],
  "weights": [{"projection": 0, "interval": 10.0},
              {"projection": 2, "interval": 25.0},
              {"projection": 3, "interval": 7.3, "sample": 333},
              {"projection": 4, "interval": 50}]}}
JSON
"$mpirun" -n 1 --oversubscribe --bind-to none "$ntwin" run "$dir/net.json" \
  --out "$dir/np1" --partition round_robin --quiet
"$mpirun" -n 3 --oversubscribe --bind-to none "$ntwin" run "$dir/net.json" \
  --out "$dir/np3" --partition block --quiet
"$h5diff" -r "$dir/np1/weights.h5" "$dir/np3/weights.h5"
echo "h5diff weights: identical"
cmp "$dir/np1/weights.h5" "$dir/np3/weights.h5"
echo "cmp weights: byte-identical"
"$h5diff" -r "$dir/np1/spikes.h5" "$dir/np3/spikes.h5"
cmp "$dir/np1/spikes.h5" "$dir/np3/spikes.h5" # h5diff passes different shapes
[ ! -e "$dir/np1/weights.h5.tmp" ] && [ ! -e "$dir/np3/weights.h5.tmp" ]
"$py" - "$dir/np1/weights.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert sorted(f["projections"].keys()) == ["0", "2", "3", "4"], list(f["projections"])
dt, D = 0.1, 10  # window = min delay 1.0 ms = 10 steps
def ends(interval, t_stop=200.0):
    """Record times: t = 0, then the first window end >= each multiple."""
    every = max(1, round(interval / dt))
    out, nxt = [0.0], every
    for hi in range(D, round(t_stop / dt) + 1, D):
        if hi >= nxt:
            out.append(hi * dt)
            nxt = (hi // every + 1) * every
    return np.array(out)
exp = {"0": (40 * 500, ends(10.0), "E", "E", "stdp"),
       "2": (10 * 500, ends(25.0), "I", "E", "static"),
       "3": (333, ends(7.3), "E", "E", "stdp_pl_hom"),
       "4": (None, ends(50), "I", "I", "static")}
for k, (m, times, sp, tp, model) in exp.items():
    g = f["projections"][k]
    src, tgt, dly = g["source"][:], g["target"][:], g["delay"][:]
    t, w = g["times"][:], g["weights"][:]
    if m is not None:
        assert len(src) == m, (k, len(src), m)
    assert src.dtype == np.uint64 and tgt.dtype == np.uint64
    assert dly.dtype == np.float64 and w.dtype == np.float32
    assert w.shape == (len(times), len(src)), (k, w.shape)
    assert np.allclose(t, times, rtol=0, atol=1e-9), (k, t, times)
    # sorted by (target, source)
    key = tgt.astype(np.float64) * 1e6 + src
    assert np.all(np.diff(key) >= 0), k
    assert g.attrs["source_population"] == sp and g.attrs["target_population"] == tp
    assert g.attrs["synapse_model"] == model
    if model == "static":
        assert np.all(w == w[0]), k
    else:
        assert np.any(w[-1] != w[0]), k
    print(k, model, w.shape, "t =", t[:4], "...")
# sample keeps the first N synapses of the full order: same order as set 0
g0, g3 = f["projections"]["0"], f["projections"]["3"]
assert g3["target"][0] == 0
assert np.all(np.diff(g3["target"][:]) >= 0) and g3["target"][-1] < 40
assert np.all(f["projections"]["2"]["delay"][:] == 1.5)
print("layout OK")
PY

#!/bin/sh
# ntwin culture: layout, spontaneous bursts, hidden changes, bad configs.
# Usage: culture.sh NTWIN CULTURE.json WORK_DIR
#  1. configs/culture.json for 30 s unpaced, no link: culture.h5 holds the
#     60-electrode MCS layout (corners missing, 200 µm pitch, labels 12..87
#     in channel order), pickup lists that match the neuron positions and the
#     radius, 2-4 neurons per electrode on average; the observed spikes burst
#     (ntw_recording_bursts in culture_report.json) at 0.2-1.2 Hz, bursts
#     40-300 ms long recruiting >= 30 of 60 electrodes on average, standing
#     out of the tonic rate (population rate in burst bins >= 10x the rate in
#     the other bins; the DIV25 mouse recording gives 0.42 Hz and 35 % of
#     spikes in bursts); /truth/G
#     sampled every second plus before/after the change, whose potentiation
#     doubles exactly the G entries of the pathway (NW -> SE) and no other.
#     Then one band check per seed on 2 other seeds (shorter), so the band is
#     the config's, not one lucky draw.
#  2. A "drug" (factor 0.5) at 2 s of a 4 s run: G after = 0.5 x G before,
#     entry by entry (float rounding), and the run is reproducible (same
#     /mea/spikes twice).
#     The same run with mea.dead_time_ms 1: a subset of its spikes, none two
#     on one electrode closer than 1 ms, the rest counted as dropped.
#  3. Bad culture configs: exit 1, exactly one "ntwin: error:" line naming
#     the file and the field; no culture.h5 left.
set -u
ntwin=$1 config=$2 work=$3
py=/usr/bin/python3
die() { echo "FAIL: $*" >&2; exit 1; }
case $ntwin in /*) ;; *) ntwin=$PWD/$ntwin ;; esac
rm -rf "$work" && mkdir -p "$work" && cd "$work" || die "cannot create $work"

"$ntwin" culture "$config" --out run30 --no-pace --no-link --quiet || die "30 s run failed"
"$py" - "$config" <<'PY' || die "30 s run checks"
import h5py, json, math, sys
import numpy as np
cfg = json.load(open(sys.argv[1]))
f = h5py.File("run30/culture.h5", "r")
rep = json.load(open("run30/culture_report.json"))
lab = [s.decode() if isinstance(s, bytes) else s for s in f["mea/label"][:]]
x, y = f["mea/x_um"][:], f["mea/y_um"][:]
assert len(lab) == 60 and list(f["mea/channel"][:]) == list(range(60)), "60 channels 0..59"
want = [f"{c}{r}" for c in range(1, 9) for r in range(1, 9) if not (c in (1, 8) and r in (1, 8))]
assert lab == want, f"labels {lab[:8]}..."
for l in ("11", "18", "81", "88"): assert l not in lab, f"corner {l} present"
for i, l in enumerate(lab):
    c, r = int(l[0]), int(l[1])
    assert x[i] == (c - 1) * 200 and y[i] == (r - 1) * 200, f"{l} at {x[i]},{y[i]}"
# pitch: nearest-neighbour distance 200 µm everywhere
d = np.hypot(x[:, None] - x[None], y[:, None] - y[None]) + np.eye(60) * 1e9
assert np.allclose(d.min(axis=1), 200.0), "pitch"
# pickup lists against positions and the radius (default 50 µm)
R = cfg["mea"].get("pickup_radius_um", 50.0)
nx, ny = f["neurons/x_um"][:], f["neurons/y_um"][:]
ptr, gid = f["mea/pickup_ptr"][:], f["mea/pickup_gid"][:]
for e in range(60):
    mine = set(gid[ptr[e]:ptr[e + 1]].tolist())
    truth = set(np.where(np.hypot(nx - x[e], ny - y[e]) <= R)[0].tolist())
    assert mine == truth, f"pickup of {lab[e]}"
per = np.diff(ptr)
print(f"neurons per electrode: mean {per.mean():.2f}, min {per.min()}, max {per.max()}")
assert 2.0 <= per.mean() <= 4.0, "pickup mean outside 2-4"
cell = f["neurons/cell"][:]
dd = np.hypot(nx[:, None] - x[None], ny[:, None] - y[None])
assert (cell == dd.argmin(axis=1)).all(), "Voronoi cells"
b = rep["bursts"]
print("bursts:", b)
assert 0.2 <= b["rate_hz"] <= 1.2, f"burst rate {b['rate_hz']}"
assert 40 <= b["duration_ms_mean"] <= 300, f"burst duration {b['duration_ms_mean']}"
assert b["channels_mean"] >= 30, f"electrodes recruited {b['channels_mean']}"
# the observed spikes are /mea/spikes; between bursts the rate is low
t = f["mea/spikes/t_us"][:]
assert len(t) == rep["observed"]["spikes"] and (np.diff(t.astype(np.int64)) >= 0).all()
# a bin is "between bursts" when below the population-rate threshold
h, _ = np.histogram(t, bins=np.arange(0, 30e6 + 1, 1e4))
mean_rate = len(t) / 30.0
above = h * 100 >= b["threshold_hz"]
quiet_rate, burst_rate = h[~above].mean() * 100, h[above].mean() * 100
print(f"population rate between bursts {quiet_rate:.0f} Hz, in bursts {burst_rate:.0f} Hz, "
      f"mean {mean_rate:.0f} Hz (all electrodes)")
assert burst_rate >= 10 * quiet_rate, "bursts do not stand out of the tonic rate"
# G: every second and before/after the change at 15 s
Gt, Gp, G = f["truth/G_t_s"][:], f["truth/G_phase"][:], f["truth/G"][:]
assert G.shape[1:] == (60, 60)
per_s = Gt[Gp == 0]
assert np.allclose(per_s, np.arange(len(per_s))), f"periodic G times {per_s[:5]}"
ib, ia = np.where(Gp == 1)[0][0], np.where(Gp == 2)[0][0]
assert Gt[ib] == Gt[ia] == 15.0
NW = np.array([(xx < 700) and (yy < 700) for xx, yy in zip(x, y)])
SE = np.array([(xx >= 700) and (yy >= 700) for xx, yy in zip(x, y)])
path = SE[:, None] & NW[None, :]  # G[e][j]: from j (NW) onto e (SE)
ok = ~np.isnan(G[ib])
ratio = G[ia][ok] / G[ib][ok]
assert np.allclose(ratio[path[ok]], 2.0, rtol=1e-5), "pathway not doubled"
assert np.allclose(ratio[~path[ok]], 1.0, rtol=1e-6), "entries off the pathway changed"
assert list(f["changes/kind"].asstr()[:]) == ["potentiate"]
print("ok: layout, pickup, bursts, G")
PY
for seed in 11 12; do
  "$ntwin" culture "$config" --out "seed$seed" --seed $seed --t-stop 20 --no-pace --no-link --quiet ||
    die "seed $seed run failed"
  "$py" - "seed$seed" <<'PY' || die "seed $seed out of band"
import json, sys
b = json.load(open(sys.argv[1] + "/culture_report.json"))["bursts"]
print(sys.argv[1], b["rate_hz"], b["duration_ms_mean"], b["channels_mean"])
assert 0.2 <= b["rate_hz"] <= 1.2 and 40 <= b["duration_ms_mean"] <= 300 and b["channels_mean"] >= 30
PY
done

# 2. drug
"$py" - "$config" <<'PY' || die "cannot write drug.json"
import json, sys
c = json.load(open(sys.argv[1]))
c["changes"] = [{"t": 2.0, "kind": "drug", "factor": 0.5}]
c["network"]["simulation"]["t_stop"] = 4000.0
json.dump(c, open("drug.json", "w"))
PY
for r in a b; do
  "$ntwin" culture drug.json --out "drug_$r" --no-pace --no-link --quiet || die "drug run failed"
done
"$py" - <<'PY' || die "drug checks"
import h5py, numpy as np
f = h5py.File("drug_a/culture.h5", "r")
Gt, Gp, G = f["truth/G_t_s"][:], f["truth/G_phase"][:], f["truth/G"][:]
ib, ia = np.where(Gp == 1)[0][0], np.where(Gp == 2)[0][0]
assert Gt[ib] == Gt[ia] == 2.0, Gt
ok = ~np.isnan(G[ib])
assert ok.sum() > 3000, "too few electrode pairs with synapses"
assert np.allclose(G[ia][ok], 0.5 * G[ib][ok], rtol=1e-6, atol=0), "drug is not x0.5"
# G follows the live weights: STDP moves it between the periodic samples
g1 = G[np.where((Gp == 0) & (Gt == 1.0))[0][0]]
assert not np.array_equal(G[ib][ok], g1[ok]), "G did not move between 1 s and 2 s (STDP)"
f2 = h5py.File("drug_b/culture.h5", "r")
for k in ("mea/spikes/t_us", "mea/spikes/channel", "truth/G", "spikes/culture/node_ids"):
    assert np.array_equal(f[k][:], f2[k][:], equal_nan=True) if f[k].dtype.kind == "f" else np.array_equal(f[k][:], f2[k][:]), f"{k} not reproducible"
print("ok: drug scales G by 0.5 exactly; reproducible")
PY
# the electrode dead time: the same run with mea.dead_time_ms 1 publishes a
# subset of drug_a's spikes (observation does not act back on the network),
# no two on one electrode less than 1 ms apart, and counts the rest as dropped
"$py" - <<'PY' || die "cannot write dead.json"
import json
c = json.load(open("drug.json"))
c["mea"]["dead_time_ms"] = 1.0
json.dump(c, open("dead.json", "w"))
PY
"$ntwin" culture dead.json --out dead --no-pace --no-link --quiet || die "dead-time run failed"
"$py" - <<'PY' || die "dead-time checks"
import h5py, json, numpy as np
a, d = h5py.File("drug_a/culture.h5", "r"), h5py.File("dead/culture.h5", "r")
ka = set(zip(a["mea/spikes/channel"][:].tolist(), a["mea/spikes/t_us"][:].tolist()))
ch, t = d["mea/spikes/channel"][:], d["mea/spikes/t_us"][:].astype(np.int64)
kd = set(zip(ch.tolist(), t.tolist()))
assert kd <= ka, "dead time published a spike the plain run did not"
for e in range(60):
    te = t[ch == e]
    assert (np.diff(te) >= 1000).all(), f"electrode {e}: two detections < 1 ms apart"
drop = json.load(open("dead/culture_report.json"))["observed"]["dead_time_dropped"]
assert drop > 0 and len(kd) + drop == len(ka), (len(ka), len(kd), drop)
print(f"ok: dead time 1 ms: {drop} of {len(ka)} detections dropped, none closer than 1 ms")
PY

# 3. bad configs
"$py" - "$config" <<'PY' || die "cannot write bad configs"
import json, copy, sys
good = json.load(open(sys.argv[1]))
def w(name, edit):
    c = copy.deepcopy(good); edit(c); json.dump(c, open(name, "w"))
w("bad_top.json", lambda c: c.update(meas={}))
w("bad_pitch.json", lambda c: c["mea"].update(pitch_um=-1))
w("bad_mea_key.json", lambda c: c["mea"].update(radius=3))
w("bad_net.json", lambda c: c["network"]["populations"][0].update(size=-5))
w("bad_nonet.json", lambda c: c.pop("network"))
w("bad_label.json", lambda c: c["changes"][0].update({"from": ["12", "11"]}))
w("bad_quad.json", lambda c: c["changes"][0].update(to="middle"))
w("bad_kind.json", lambda c: c["changes"][0].update(kind="magic"))
w("bad_kind_field.json", lambda c: c["changes"].append({"t": 1, "kind": "drug", "factor": 2, "region": "NW"}))
w("bad_t.json", lambda c: c["changes"][0].update(t=99))
w("bad_lat.json", lambda c: c["stimulation"].update(latency_ms=[3, 1]))
w("bad_pmax.json", lambda c: c["stimulation"].update(p_max=2))
w("bad_dead.json", lambda c: c["mea"].update(dead_time_ms=-1))
w("bad_frac.json", lambda c: c["changes"].append({"t": 1, "kind": "lesion", "region": "NW", "fraction": 1.5}))
open("bad_syntax.json", "w").write('{"network": {,}')
PY
check() { # file expected-field-text
  rm -rf outbad
  "$ntwin" culture "$1" --out outbad --no-link --no-pace --quiet >out.txt 2>err.txt
  st=$?
  [ $st -eq 1 ] || die "$1: exit $st (want 1): $(cat err.txt)"
  n=$(grep -c '^ntwin: error:' err.txt)
  [ "$n" -eq 1 ] || die "$1: $n error lines: $(cat err.txt)"
  grep -q "^ntwin: error: $1" err.txt || die "$1: error does not name the file: $(cat err.txt)"
  grep -qF -- "$2" err.txt || die "$1: error does not name '$2': $(cat err.txt)"
  [ ! -e outbad/culture.h5 ] || die "$1: culture.h5 written"
  echo "  $1: $(cat err.txt)"
}
check bad_top.json "meas: unknown field"
check bad_pitch.json "mea.pitch_um"
check bad_mea_key.json "mea.radius: unknown field"
check bad_net.json "network: populations[0].size"
check bad_nonet.json "network: missing"
check bad_label.json "changes[0].from[1]"
check bad_quad.json "changes[0].to"
check bad_kind.json "changes[0].kind"
check bad_kind_field.json "changes[1].region"
check bad_t.json "changes[0].t"
check bad_lat.json "stimulation.latency_ms"
check bad_pmax.json "stimulation.p_max"
check bad_frac.json "changes[1].fraction"
check bad_dead.json "mea.dead_time_ms"
check bad_syntax.json "line 1"
rm -rf outbad
"$ntwin" culture "$config" --out outbad --bogus >/dev/null 2>err.txt; st=$?
[ $st -eq 2 ] || die "unknown option: exit $st (want 2)"
grep -q "unknown option '--bogus'" err.txt || die "unknown option message: $(cat err.txt)"
echo "ok: culture"

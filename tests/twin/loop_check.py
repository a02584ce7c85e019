#!/usr/bin/python3
"""Checks of tests/twin/checkpoint_loop.sh: a closed-loop twin on the live
link, run uninterrupted to T (FULL) and to H with a checkpoint (A), then
restored from it and run to T (B).

usage: loop_check.py KIND FULL A B H_MS T_MS

KIND says what the checkpoint at H must hold, so that the test cannot pass
on a trivial boundary:
  decision  a stimulation was decided in the window ending at H: its pulses
            are held in /twin/stim_force, not yet forced (stamps after H);
            burst policy: last_stim_ms == H (the refractory period runs on
            past H), a running mean and an activity ring with spikes;
  between   periodic policy, between two trains: the last decision before
            H, the next after it (next_periodic_ms is not H + period, the
            value a fresh twin would take), and pulses of the last train
            still in the engine's /forced.

On the link the biology's events and the pulses' own times come from the
wall clock (hybrid time re-anchored at the restore, pulse times from the
biology's clock when the command is sent), so only what does not depend on
them can be identical; the test's network is built so that the policy does
not (P fires from its own Poisson drive; the mirror -> P weight is 0 and not
assimilated; the stim_input pulses drive Q, not P). Compared exactly:
  1. P's spikes: FULL == A followed by B;
  2. twin.h5 /stim (t_ms, channel, status): FULL == A followed by B (every
     decision of the policy, its time and electrodes); /predicted after H;
  3. report.json: stims_sent, stims_dropped, stims_sham, predicted_spikes,
     windows, stim_input_spikes + stim_input_missed (all pulses decided);
  4. final checkpoints, dataset by dataset, for the state that follows
     from the policy and P: /neurons/P/*, P's rows of /ring, and /twin's
     policy state (act_mean, act_pos, act_sum, act_ring, last_stim_ms,
     next_periodic_ms), counters, W, traces and carried predictions;
  5. the pulses held at H (the checkpoint's /twin/stim_force and its
     /forced pulses on the stim_input population S): each is a spike of S
     in B at its time (node, time = stamp * dt), or if after T still in B's
     final /forced, and up to B's own first decision S has no other spike.
Not compared (they follow the wall clock): spikes of M, S (after B's first
decision) and Q, the recorded spikes in twin.h5, /stim t_us and latency,
the timing figures, the biology's counters.
"""
import json
import sys
from collections import Counter

import h5py
import numpy as np

kind, full, a, b = sys.argv[1:5]
H, T = float(sys.argv[5]), float(sys.argv[6])
bad, notes = [], []


def spikes(d, pop):
    with h5py.File(d + "/spikes.h5", "r") as f:
        if pop not in f["spikes"]:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        return f["spikes/%s/timestamps" % pop][:], f["spikes/%s/node_ids" % pop][:]


def stims(d):
    with h5py.File(d + "/twin.h5", "r") as f:
        return f["stim/t_ms"][:], f["stim/channel"][:], f["stim/status"][:]


def report(d):
    return json.load(open(d + "/report.json"))["twin"]


ck = h5py.File("%s/checkpoint-%g.h5" % (a, H), "r")
tw = ck["twin"]
cfg = json.loads(bytes(ck["config"][:]).decode())
dt = ck.attrs["dt_ms"]
Hs = int(round(H / dt))
first = {}
n = 0
for p in cfg["populations"]:
    first[p["name"]] = n
    n += p["size"]
st = cfg["twin"]["stimulation"]

# 0. the boundary is the one the test needs
sf_ch, sf_st = tw["stim_force_channel"][:], tw["stim_force_stamp"][:]
fg, fs = ck["forced/gid"][:], ck["forced/stamp"][:]
onS = (fg >= first["S"]) & (fg < first["S"] + 16)
last, nxt = tw["last_stim_ms"][0], tw["next_periodic_ms"][0]
if kind == "decision":
    # (a pulse stamped at or before H, when the twin's estimate of the
    # biology's clock was behind the window it had just run, is missed)
    if not np.any(sf_st > Hs):
        bad.append("checkpoint: no pulse held in /twin/stim_force after H (%d held)" % len(sf_ch))
    if st["policy"] == "burst":
        if not (last == H and tw["act_sum"][0] > 0 and tw["act_mean"][0] > 0
                and np.any(tw["act_ring"][:] > 0)):
            bad.append("checkpoint: burst state trivial: last_stim_ms %g, act_sum %d, act_mean %g"
                       % (last, tw["act_sum"][0], tw["act_mean"][0]))
    elif nxt != H + st["period_ms"]:
        bad.append("checkpoint: next_periodic_ms %g, expected %g" % (nxt, H + st["period_ms"]))
    notes.append("at H: %d pulses in stim_force, %d on S in /forced, last_stim_ms %g"
                 % (len(sf_ch), int(onS.sum()), last))
elif kind == "between":
    if not (nxt - st["period_ms"] < H < nxt) or not np.any(fs[onS] > Hs):
        bad.append("checkpoint: not between two trains with pulses in flight: next_periodic_ms "
                   "%g, %d pulses on S in /forced after H" % (nxt, int((fs[onS] > Hs).sum())))
    notes.append("at H: next_periodic_ms %g (a fresh twin: %g), %d pulses on S in /forced"
                 % (nxt, H + st["period_ms"], int(onS.sum())))
else:
    sys.exit("unknown KIND " + kind)

# 1. P's spikes: FULL == A + B
tf, nf = spikes(full, "P")
ta, na = spikes(a, "P")
tb, nb = spikes(b, "P")
if not (np.array_equal(tf, np.concatenate([ta, tb])) and np.array_equal(nf, np.concatenate([na, nb]))):
    bad.append("P spikes differ: %d uninterrupted, %d + %d restored" % (len(tf), len(ta), len(tb)))
elif len(tb) < 50 or (len(ta) and ta.max() > H) or (len(tb) and tb.min() <= H):
    bad.append("P spikes: %d after H (too few) or parts overlapping H" % len(tb))

# 2. the stimulation decisions, and the predictions after H
sf, sa, sb = stims(full), stims(a), stims(b)
same = all(np.array_equal(x, np.concatenate([y, z])) for x, y, z in zip(sf, sa, sb))
if not same:
    bad.append("twin.h5 /stim differs: uninterrupted decisions at %s, restored %s + %s"
               % (sorted(set(sf[0])), sorted(set(sa[0])), sorted(set(sb[0]))))
elif len(sb[0]) == 0 or not np.all(sf[2] == 1):
    bad.append("twin.h5 /stim: no decision after H, or a command not sent: %s" % sf[2])
with h5py.File(full + "/twin.h5", "r") as F, h5py.File(b + "/twin.h5", "r") as R:
    m = F["predicted/t_ms"][:] > H
    if not (np.array_equal(F["predicted/t_ms"][:][m], R["predicted/t_ms"][:])
            and np.array_equal(F["predicted/channel"][:][m], R["predicted/channel"][:])):
        bad.append("twin.h5 /predicted after H differs")

# 3. counters
rf, rb = report(full), report(b)
for k in ("stims_sent", "stims_dropped", "stims_sham", "predicted_spikes", "windows"):
    if rf[k] != rb[k]:
        bad.append("report.json twin.%s: %s uninterrupted, %s restored" % (k, rf[k], rb[k]))
pf = rf["stim_input_spikes"] + rf["stim_input_missed"]
pb = rb["stim_input_spikes"] + rb["stim_input_missed"]
npulse = len(st["electrodes"]) * st.get("pulses", 1) * rf["stims_sent"]
if not pf == pb == npulse:
    bad.append("stim_input pulses (spikes + missed): %d uninterrupted, %d restored, %d decided"
               % (pf, pb, npulse))
notes.append("stim_input_spikes/missed %d/%d uninterrupted, %d/%d restored"
             % (rf["stim_input_spikes"], rf["stim_input_missed"], rb["stim_input_spikes"],
                rb["stim_input_missed"]))

# 4. final checkpoints, what follows from the policy and P
cf = h5py.File("%s/checkpoint-%g.h5" % (full, T), "r")
cb = h5py.File("%s/checkpoint-%g.h5" % (b, T), "r")
names = ["neurons/P/" + k for k in cf["neurons/P"]]
names += ["twin/" + k for k in ("act_mean", "act_pos", "act_sum", "act_ring", "last_stim_ms",
                                "next_periodic_ms", "stims_sent", "stims_dropped", "shams",
                                "predicted", "windows", "W", "W_applied", "dW", "xs", "xs_t",
                                "w_next", "fid_lo", "fid_next", "pred_channel", "pred_stamp",
                                "fid_pred_from", "step")]
for k in names:
    if not np.array_equal(cf[k][()], cb[k][()]):
        bad.append("final checkpoint %s differs" % k)
rows = slice(first["P"], first["P"] + 16)
if not np.array_equal(cf["ring"][rows], cb["ring"][rows]):
    bad.append("final checkpoint ring (P's rows) differs")
x = cf["twin/stim_forced"][0] + cf["twin/stim_force_missed"][0]
y = cb["twin/stim_forced"][0] + cb["twin/stim_force_missed"][0]
if x != y:
    bad.append("final checkpoint twin/stim_forced + stim_force_missed: %d vs %d" % (x, y))

# 5. the pulses held at H are forced, at their times, by the restored run:
# each of them up to T is a spike of S in B, each after T is still held in
# B's final /forced (a twin lagging its biology stamps pulses far ahead),
# and before B's own first decision S has no other spike (B's own pulses
# come after it or are missed)
tS, nS = spikes(b, "S")
Ts = int(round(T / dt))
t_own = sb[0].min() if len(sb[0]) else T
got = Counter((int(k), int(round(t / dt))) for t, k in zip(tS, nS))
early = Counter((int(k), int(round(t / dt))) for t, k in zip(tS, nS) if t <= t_own)
held = [(int(c), int(s)) for c, s in zip(sf_ch, sf_st) if s > Hs]
held += [(int(g - first["S"]), int(s)) for g, s in zip(fg[onS], fs[onS]) if s > Hs]
want = Counter(x for x in held if x[1] <= Ts)
gb, sb_ = cb["forced/gid"][:], cb["forced/stamp"][:]
still = Counter((int(g - first["S"]), int(s)) for g, s in zip(gb, sb_)
                if first["S"] <= g < first["S"] + 16)
later = Counter(x for x in held if x[1] > Ts)
missing, extra, lost = want - got, early - want, later - still
if missing or extra or lost or not held:
    bad.append("S spikes of the restored run: of the %d pulses held at H (%d up to T), %d "
               "missing %s, %d after T not in its final /forced; %d spikes before its first "
               "decision (%g ms) that were not held %s"
               % (len(held), sum(want.values()), sum(missing.values()), sorted(missing)[:6],
                  sum(lost.values()), sum(extra.values()), t_own, sorted(extra)[:6]))

if bad:
    print("\n".join(bad))
    sys.exit(1)
print("%d P spikes after H, decisions at %s ms identical, %d held pulses forced at their "
      "times (or held at T); %s" % (len(tb), ", ".join("%g" % t for t in sorted(set(sb[0]))), len(held),
                     "; ".join(notes)))

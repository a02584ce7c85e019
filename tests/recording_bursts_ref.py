#!/usr/bin/python3
"""Independent reference (numpy, h5py) for the network-burst detector of
io/recording.c on the sjemea files: population rate > 4 x mean in 10 ms bins,
runs merged across gaps <= 100 ms, kept if last-first spike >= 50 ms and
>= max(3, ceil(20 % of active channels)) channels fired. Prints the counts
that tests/test_recording.c asserts, plus the slice counts it uses.

usage: recording_bursts_ref.py FILE.h5 [t0_s t1_s]
"""
import math
import sys

import h5py
import numpy as np

h = h5py.File(sys.argv[1], "r")
sp, sc = h["spikes"][:], h["sCount"][:]
t0 = h["recordingtime"][0] if "recordingtime" in h else 0.0
dur = (h["recordingtime"][1] - t0) if "recordingtime" in h else h["summary/duration"][0]
t = np.rint((sp - t0) * 1e6).astype(np.int64)
ch = np.repeat(np.arange(len(sc)), sc)
o = np.lexsort((ch, t))
t, ch = t[o], ch[o]
dur_us = max(int(round(dur * 1e6)), int(t[-1]))
span = max(dur_us, int(t[-1]) + 1)
BIN, GAP, MIND = 10_000, 100_000, 50_000
thr_count = 4 * len(t) / (span * 1e-6) * BIN * 1e-6
bins = t // BIN
ub, cnt = np.unique(bins, return_counts=True)
active = ub[cnt > thr_count]
need = max(3, math.ceil(0.2 * len(np.unique(ch)) - 1e-9))
runs = []
for b in active:
    if runs and (b - runs[-1][1] - 1) * BIN <= GAP:
        runs[-1][1] = b
    else:
        runs.append([b, b])
n = nsp = 0
for a, b in runs:
    lo, hi = np.searchsorted(bins, a), np.searchsorted(bins, b, side="right")
    if t[hi - 1] - t[lo] >= MIND and len(np.unique(ch[lo:hi])) >= need:
        n += 1
        nsp += hi - lo
print("bursts", n, "rate_hz %.6f" % (n / (dur_us * 1e-6)), "frac_spikes %.4f" % (nsp / len(t)))
if len(sys.argv) > 3:
    a, b = int(float(sys.argv[2]) * 1e6), int(float(sys.argv[3]) * 1e6)
    print("slice", ((t >= a) & (t < b)).sum())

#!/usr/bin/python3
"""Synthetic MEA recordings for the twin tests, as CSV `channel,time_s`.

usage: make_fixture.py OUTDIR [SECONDS]

wave.csv:   16 channels; a network burst every 1.2-1.8 s travels across the
            array as a wave: channel k first fires 3k ms after the onset, then
            twice more 4-6 ms apart; plus 0.5 Hz Poisson background per
            channel. Each channel's spikes are predictable from its
            neighbour's 3 ms earlier: a twin should learn W[k][k-1].
shifted.csv: the same spike trains, each channel shifted in time by its own
            random offset (circularly): rates and each channel's own
            structure kept, the cross-channel timing destroyed.
"""
import os
import sys

import numpy as np

out = sys.argv[1]
T = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
os.makedirs(out, exist_ok=True)
rng = np.random.RandomState(4242)
N = 16
trains = [[] for _ in range(N)]
t = 0.3
while t < T - 0.2:
    for k in range(N):
        s = t + 0.003 * k + rng.uniform(-0.0003, 0.0003)
        for j in range(3):
            trains[k].append(s)
            s += rng.uniform(0.004, 0.006)
    t += rng.uniform(1.2, 1.8)
for k in range(N):
    n = rng.poisson(0.5 * T)
    trains[k].extend(rng.uniform(0, T, n))


def write(name, tr):
    ev = sorted((round(x, 4), k) for k in range(N) for x in tr[k] if 0 <= x < T)
    with open(os.path.join(out, name), "w") as f:
        f.write("channel,time_s\n")
        last = {}
        for x, k in ev:
            if last.get(k) == x:  # one spike per channel and 0.1 ms
                continue
            last[k] = x
            f.write("%d,%.4f\n" % (k, x))


write("wave.csv", trains)
shifted = [[(x + rng.uniform(0, T)) % T for x in tr] for tr in trains]
write("shifted.csv", shifted)

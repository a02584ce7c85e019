#!/usr/bin/python3
"""Checks invariant 2 of DESIGN.md on files: the spikes of an uninterrupted
run equal the spikes of the first part followed by those of the restored
part(s), population by population, and (optionally) the final checkpoints of
both equal dataset by dataset (metadata attributes aside).
usage: ckpt_compare.py FULL_DIR PART1_DIR [PART2_DIR ...] [CKPT_FULL CKPT_LAST]
(any number of parts, in order; the two checkpoints are the trailing *.h5 arguments)"""
import sys

import h5py
import numpy as np


def spikes(d):
    with h5py.File(f"{d}/spikes.h5", "r") as f:
        return {p: (f[f"spikes/{p}/timestamps"][:], f[f"spikes/{p}/node_ids"][:])
                for p in f["spikes"]}


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


args = sys.argv[1:]
ckpts = args[-2:] if len(args) >= 4 and all(x.endswith(".h5") for x in args[-2:]) else []
dirs = args[:len(args) - len(ckpts)]
if len(dirs) < 2:
    sys.exit(__doc__)
full, parts = spikes(dirs[0]), [spikes(d) for d in dirs[1:]]
bad = 0
total = 0
for p in full:
    t = np.concatenate([x[p][0] for x in parts])
    n = np.concatenate([x[p][1] for x in parts])
    same = len(t) == len(full[p][0]) and np.array_equal(t, full[p][0]) and np.array_equal(n, full[p][1])
    total += len(t)
    print(f"spikes {p}: {len(full[p][0])} uninterrupted, "
          f"{' + '.join(str(len(x[p][0])) for x in parts)} restored:",
          "identical" if same else "DIFFERENT")
    bad += not same
if total < 100:
    print("too few spikes for a meaningful comparison"); bad += 1
if ckpts:
    x, y = datasets(ckpts[0]), datasets(ckpts[1])
    if sorted(x) != sorted(y):
        print("checkpoint datasets differ:", sorted(set(x) ^ set(y))); bad += 1
    for k in sorted(x):
        if k in y and not np.array_equal(x[k], y[k]):
            print(f"checkpoint {k}: DIFFERENT"); bad += 1
    print(f"final checkpoints: {len(x)} datasets compared")
sys.exit(1 if bad else 0)

#!/usr/bin/python3
"""Merges the spike reports of a chained run (slurm/ntwin-chain.sbatch) into one SONATA file.

usage: merge_parts.py OUT [--out FILE]      (FILE defaults to OUT/spikes.h5)

Reads OUT/part-001/spikes.h5, part-002, ... in order (part-NNN.failed-* directories are
ignored), checks with each part's report.json that every part starts where the previous one
ended, and writes FILE with the layout ntwin writes: /spikes/<population>/timestamps (ms) and
node_ids, sorting "by_time" (each part is sorted by time and the parts follow each other, so the
concatenation is too), root attributes copied from part 1. Written as FILE.tmp, then renamed.
Reading the parts without this script: concatenate spikes/<pop>/{timestamps,node_ids} of
part-001, part-002, ... in that order."""
import glob
import json
import os
import re
import sys

import h5py
import numpy as np

CHUNK = 1 << 22


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    out_dir = argv[0]
    dest = os.path.join(out_dir, "spikes.h5")
    if len(argv) == 3 and argv[1] == "--out":
        dest = argv[2]
    elif len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    parts = sorted(d for d in glob.glob(os.path.join(out_dir, "part-*"))
                   if re.fullmatch(r"part-\d+", os.path.basename(d)) and os.path.isdir(d))
    if not parts:
        print(f"merge_parts: error: no part-NNN directories in {out_dir}", file=sys.stderr)
        return 1
    # Continuity: part k starts where part k-1 ended.
    t_end = t_begin = None
    for i, d in enumerate(parts):
        if int(os.path.basename(d)[5:]) != i + 1:
            print(f"merge_parts: error: {d}: parts must be numbered 1, 2, ... without gaps",
                  file=sys.stderr)
            return 1
        try:
            r = json.load(open(os.path.join(d, "report.json")))
        except (OSError, ValueError) as e:
            print(f"merge_parts: error: {d}/report.json: {e}", file=sys.stderr)
            return 1
        if t_end is not None and abs(r["t_start_ms"] - t_end) > 1e-6:
            print(f"merge_parts: error: {d} starts at t = {r['t_start_ms']} ms but the previous "
                  f"part ended at t = {t_end} ms", file=sys.stderr)
            return 1
        t_end = r["t_start_ms"] + r["t_sim_ms"]
        t_begin = r["t_start_ms"] if t_begin is None else t_begin
    files = [h5py.File(os.path.join(d, "spikes.h5"), "r") for d in parts]
    pops = list(files[0]["spikes"])
    for d, f in zip(parts, files):
        if list(f["spikes"]) != pops:
            print(f"merge_parts: error: {d}/spikes.h5 has populations {list(f['spikes'])}, "
                  f"part 1 has {pops}", file=sys.stderr)
            return 1
    tmp = dest + ".tmp"
    total = 0
    with h5py.File(tmp, "w") as g:
        for k, v in files[0].attrs.items():
            g.attrs[k] = v
        for p in pops:
            src0 = files[0]["spikes"][p]
            grp = g.create_group(f"spikes/{p}")
            for k, v in src0.attrs.items():
                grp.attrs[k] = v
            for name in ("timestamps", "node_ids"):
                n = sum(f["spikes"][p][name].shape[0] for f in files)
                ds = grp.create_dataset(name, shape=(n,), dtype=src0[name].dtype,
                                        chunks=(min(max(n, 1), CHUNK),) if n else None)
                for k, v in src0[name].attrs.items():
                    ds.attrs[k] = v
                at = 0
                for f in files:
                    s = f["spikes"][p][name]
                    for lo in range(0, s.shape[0], CHUNK):
                        block = s[lo:lo + CHUNK]
                        ds[at:at + len(block)] = block
                        at += len(block)
            ts = grp["timestamps"]
            total += ts.shape[0]
            # Parts are in time order: the first spike of part k+1 is not before the last of k.
            prev = None
            for f in files:
                s = f["spikes"][p]["timestamps"]
                if s.shape[0]:
                    if prev is not None and s[0] < prev:
                        print(f"merge_parts: error: population {p}: part spikes overlap in time",
                              file=sys.stderr)
                        os.unlink(tmp)
                        return 1
                    prev = s[-1]
    for f in files:
        f.close()
    os.replace(tmp, dest)
    print(f"merge_parts: {len(parts)} parts, t = {t_begin:g} .. {t_end:g} ms, {total} spikes in "
          f"{len(pops)} populations -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

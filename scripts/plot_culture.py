#!/usr/bin/python3
"""Raster of what the MEA of `ntwin culture` published, with its network
bursts and hidden changes marked, and the population rate below.

Reads DIR/culture.h5 (layout in README.md, "ntwin culture"): /mea/spikes
(channel, t_us), /mea/label, /mea/bursts (start_us, end_us; the report's
ntw_recording_bursts result), /changes (t_s, kind), /stim (channel, t_us).
Writes one PNG (default DIR/culture.png).

usage: /usr/bin/python3 scripts/plot_culture.py DIR [-o OUT.png] [--t0 S] [--t1 S]
"""
import argparse
import os
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("-o", "--out")
    ap.add_argument("--t0", type=float, default=0.0, help="from (s)")
    ap.add_argument("--t1", type=float, default=None, help="to (s)")
    a = ap.parse_args()
    path = os.path.join(a.dir, "culture.h5")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        sys.exit(f"plot_culture: {path}: {e}")
    with f:
        t = f["mea/spikes/t_us"][:] * 1e-6
        ch = f["mea/spikes/channel"][:]
        labels = [s.decode() if isinstance(s, bytes) else s for s in f["mea/label"][:]]
        b0 = f["mea/bursts/start_us"][:] * 1e-6
        b1 = f["mea/bursts/end_us"][:] * 1e-6
        ct = f["changes/t_s"][:]
        ck = [s.decode() if isinstance(s, bytes) else s for s in f["changes/kind"][:]]
        st = f["stim/t_us"][:] * 1e-6
        sc = f["stim/channel"][:]
    t1 = a.t1 if a.t1 is not None else (t.max() if len(t) else 1.0)
    sel = (t >= a.t0) & (t <= t1)
    fig, (ax, ar) = plt.subplots(2, 1, figsize=(12, 7), sharex=True,
                                 gridspec_kw={"height_ratios": [3, 1]})
    for s, e in zip(b0, b1):
        if e >= a.t0 and s <= t1:
            for axx in (ax, ar):
                axx.axvspan(s, e, color="tab:orange", alpha=0.25, lw=0)
    ax.plot(t[sel], ch[sel], "|", ms=3, color="k")
    ssel = (st >= a.t0) & (st <= t1)
    if ssel.any():
        ax.plot(st[ssel], sc[ssel], "^", ms=5, color="tab:blue", label="STIM")
    for tc, k in zip(ct, ck):
        if np.isfinite(tc):
            for axx in (ax, ar):
                axx.axvline(tc, color="tab:red", lw=1.5)
            ax.text(tc, 61, f" {k}", color="tab:red", va="bottom")
    ax.set_yticks(range(0, 60, 6))
    ax.set_yticklabels([labels[i] for i in range(0, 60, 6)])
    ax.set_ylim(-1, 64)
    ax.set_ylabel("electrode (channel id; label)")
    ax.set_title(f"{a.dir}: {sel.sum()} observed spikes, {len(b0)} network bursts "
                 f"(orange), hidden changes (red)")
    bins = np.arange(a.t0, t1 + 0.01, 0.01)
    h, _ = np.histogram(t[sel], bins)
    ar.plot(bins[:-1], h / 0.01, color="k", lw=0.7)
    ar.set_ylabel("all electrodes (Hz)")
    ar.set_xlabel("culture time (s)")
    ar.set_xlim(a.t0, t1)
    out = a.out or os.path.join(a.dir, "culture.png")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()

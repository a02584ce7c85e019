#!/usr/bin/python3
"""Raster of what the MEA of `ntwin culture` published, with its network
bursts and hidden changes marked, and the population rate below.

Reads DIR/culture.h5 (layout in README.md, "ntwin culture"): /mea/spikes
(channel, t_us), /mea/label, /mea/bursts (start_us, end_us; the report's
ntw_recording_bursts result), /changes (t_s, kind), /stim (channel, t_us).
Writes one PNG (default DIR/culture.png).

With --compare REC [REC ...] (recorded MEA files, e.g. ../shared/data/*.h5)
it instead prints the electrode-level statistics of the culture's MEA output
beside those of the recordings (plain text, or --json) and draws
DIR/culture_compare.png (per-electrode rates, ISI distributions). Network
bursts are ntwin's own detector everywhere: the culture's /mea/bursts, and
`ntwin recording-info --json` (its burst_list) for the recordings. The
statistics, per source (over [--t0, --t1] for the culture):
  rate        spikes / s per active electrode; p10/p50/p90 and CV over
              the active electrodes
  bursts      network bursts per s; share of spikes inside one; CV of the
              inter-burst intervals (start to start); mean duration (first
              to last spike); spikes per recruited electrode per burst
  pop. events the detector's first stage alone: 10 ms bins whose array
              rate exceeds 4 x its mean, consecutive ones one event (short
              network spikes included); share of spikes in them, events per
              s, mean length
  isolated    share of spikes with no spike on any electrode 1-6 ms before
  ISI         median interval between successive spikes of one electrode
  trains      share of spikes with an earlier spike on the same electrode
              1-5 ms before (inside and outside network bursts): what a
              causal 5 ms predictor can build on from the electrode's own
              history (the twin's Gamma window, README "The twin")

usage: /usr/bin/python3 scripts/plot_culture.py DIR [-o OUT.png] [--t0 S] [--t1 S]
           [--compare REC.h5 ... [--json]] [--ntwin build/src/ntwin]
"""
import argparse
import json
import os
import subprocess
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


HERE = os.path.dirname(os.path.abspath(__file__))


def electrode_stats(name, ch, t_s, n_ch, dur_s, b_start, b_end):
    """The statistics of the module docstring. ch, t_s: every spike (channel
    index < n_ch, seconds from the start); bursts as [start, end] s."""
    o = np.lexsort((ch, t_s))
    ch, t_s = ch[o], t_s[o]
    counts = np.bincount(ch, minlength=n_ch)
    act = counts > 0
    rates = counts[act] / dur_s
    b_start, b_end = np.asarray(b_start, float), np.asarray(b_end, float)
    k = np.searchsorted(b_start, t_s, side="right") - 1
    inb = (k >= 0) & (t_s <= b_end[np.maximum(k, 0)]) if len(b_start) else np.zeros(len(t_s), bool)
    prev = np.full(len(t_s), np.inf)  # ms since the electrode's previous spike
    for c in np.flatnonzero(act):
        idx = np.flatnonzero(ch == c)
        prev[idx[1:]] = np.diff(t_s[idx]) * 1e3
    train = (prev >= 1.0) & (prev <= 5.0)
    isi = prev[np.isfinite(prev)]
    ibi = np.diff(b_start)
    nb = len(b_start)
    # spikes per recruited electrode per burst
    spc = []
    for s0, s1 in zip(b_start, b_end):
        lo, hi = np.searchsorted(t_s, s0), np.searchsorted(t_s, s1, side="right")
        if hi > lo:
            spc.append((hi - lo) / len(np.unique(ch[lo:hi])))
    frac = lambda m: float(np.mean(m)) if np.size(m) else None
    # population events at the detector's first stage alone: 10 ms bins
    # whose array rate exceeds 4 x its mean, neither merged nor filtered
    # (ntwin's detector then keeps only runs >= 50 ms on >= 20 % of the
    # electrodes, which drops the short network spikes)
    nbin = max(1, int(np.ceil(dur_s / 0.01)))
    b = np.minimum((t_s / 0.01).astype(np.int64), nbin - 1)
    cnt = np.bincount(b, minlength=nbin)
    hot = cnt > 4.0 * len(t_s) / nbin
    ev = np.diff(np.concatenate([[0], hot.astype(np.int8), [0]]))
    n_ev = int(np.sum(ev == 1))
    ev_len = np.flatnonzero(ev == -1) - np.flatnonzero(ev == 1)
    # isolated: nothing on the whole array 1-6 ms before (the window the
    # twin's predictors, fed 1 ms late, integrate)
    lo = np.searchsorted(t_s, t_s - 6e-3, side="left")
    hi = np.searchsorted(t_s, t_s - 1e-3, side="right")
    isolated = hi <= lo
    return {
        "source": name, "duration_s": float(dur_s), "electrodes": int(act.sum()),
        "spikes": int(len(t_s)),
        "rate_hz": float(rates.mean()) if len(rates) else 0.0,
        "rate_p10_p50_p90": [float(x) for x in np.percentile(rates, [10, 50, 90])] if len(rates) else None,
        "rate_cv": float(rates.std() / rates.mean()) if len(rates) and rates.mean() > 0 else None,
        "bursts": nb, "burst_rate_hz": nb / dur_s,
        "in_burst": frac(inb),
        "ibi_cv": float(ibi.std() / ibi.mean()) if len(ibi) > 1 else None,
        "ibi_mean_s": float(ibi.mean()) if len(ibi) else None,
        "burst_ms": float(np.mean(b_end - b_start) * 1e3) if nb else None,
        "spikes_per_electrode_burst": float(np.mean(spc)) if spc else None,
        "in_events": frac(hot[b]), "events_hz": n_ev / dur_s,
        "event_ms": float(ev_len.mean() * 10) if n_ev else None,
        "isolated": frac(isolated),
        "isi_median_ms": float(np.median(isi)) if len(isi) else None,
        "train": frac(train), "train_in_burst": frac(train[inb]), "train_outside": frac(train[~inb]),
        "_rates": rates, "_isi": isi,
    }


def culture_stats(d, t0, t1):
    with h5py.File(os.path.join(d, "culture.h5"), "r") as f:
        t = f["mea/spikes/t_us"][:] * 1e-6
        ch = f["mea/spikes/channel"][:].astype(np.int64)
        n_ch = len(f["mea/channel"])
        b0 = f["mea/bursts/start_us"][:] * 1e-6
        b1 = f["mea/bursts/end_us"][:] * 1e-6
        dur = json.loads(f.attrs["culture_config"])["network"]["simulation"]["t_stop"] * 1e-3
    rp = os.path.join(d, "culture_report.json")
    if os.path.exists(rp):
        dur = json.load(open(rp)).get("t_sim_s", dur)
    t1 = dur if t1 is None else min(t1, dur)
    sel, bsel = (t >= t0) & (t < t1), (b0 >= t0) & (b1 < t1)
    return electrode_stats("culture " + d, ch[sel], t[sel] - t0, n_ch, t1 - t0,
                           b0[bsel] - t0, b1[bsel] - t0)


def recording_stats(path, ntwin):
    """A recorded sjemea file; bursts from `ntwin recording-info --json`."""
    j = json.loads(subprocess.run([ntwin, "recording-info", path, "--json"], check=True,
                                  capture_output=True, text=True).stdout)
    with h5py.File(path, "r") as h:
        if "spikes" not in h or "sCount" not in h:
            sys.exit(f"plot_culture: {path}: --compare reads the sjemea layout (/spikes, /sCount)")
        sp, sc = h["spikes"][:], h["sCount"][:]
        t0 = h["recordingtime"][0] if "recordingtime" in h else 0.0
    ch = np.repeat(np.arange(len(sc)), sc)
    bl = j["burst_list"]
    return electrode_stats(os.path.basename(path), ch, sp - t0, len(sc), j["duration_s"],
                           bl["start_s"], bl["end_s"])


def compare(a):
    rows = [culture_stats(a.dir, a.t0, a.t1)] + [recording_stats(p, a.ntwin) for p in a.compare]
    if a.json:
        print(json.dumps([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
                         indent=2))
    else:
        def fmt(v, f="%.2f"):
            if v is None:
                return "-"
            if isinstance(v, list):
                return "/".join(f % x for x in v)
            return f % v
        lines = [("source", lambda r: r["source"]),
                 ("duration s", lambda r: fmt(r["duration_s"], "%.0f")),
                 ("active electrodes", lambda r: str(r["electrodes"])),
                 ("rate Hz per electrode", lambda r: fmt(r["rate_hz"])),
                 ("  p10/p50/p90", lambda r: fmt(r["rate_p10_p50_p90"], "%.1f")),
                 ("  CV over electrodes", lambda r: fmt(r["rate_cv"])),
                 ("network bursts Hz", lambda r: fmt(r["burst_rate_hz"], "%.3f")),
                 ("spikes in bursts", lambda r: fmt(r["in_burst"])),
                 ("IBI CV", lambda r: fmt(r["ibi_cv"])),
                 ("burst duration ms", lambda r: fmt(r["burst_ms"], "%.0f")),
                 ("spikes/electrode/burst", lambda r: fmt(r["spikes_per_electrode_burst"], "%.1f")),
                 ("spikes in pop. events", lambda r: fmt(r["in_events"])),
                 ("pop. events Hz", lambda r: fmt(r["events_hz"])),
                 ("pop. event ms", lambda r: fmt(r["event_ms"], "%.0f")),
                 ("isolated spikes", lambda r: fmt(r["isolated"])),
                 ("median ISI ms", lambda r: fmt(r["isi_median_ms"], "%.1f")),
                 ("trains (1-5 ms)", lambda r: fmt(r["train"])),
                 ("  in bursts", lambda r: fmt(r["train_in_burst"])),
                 ("  outside", lambda r: fmt(r["train_outside"]))]
        w = max(24, max(len(r["source"]) for r in rows) + 2)
        for lab, fn in lines:
            print("%-24s" % lab + "".join(("%-" + str(w) + "s") % fn(r) for r in rows))
    if a.no_plot:
        return
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    for r in rows:
        ax[0].plot(np.sort(r["_rates"]), np.linspace(0, 1, len(r["_rates"])), label=r["source"])
        isi = r["_isi"]
        isi = isi[isi > 0]
        if len(isi):
            ax[1].hist(np.log10(isi), bins=np.linspace(-1, 4, 101), density=True,
                       histtype="step", label=r["source"])
    ax[0].set_xscale("symlog", linthresh=1)
    ax[0].set_xlabel("electrode rate (Hz)")
    ax[0].set_ylabel("fraction of active electrodes")
    ax[1].set_xlabel("log10 ISI on one electrode (ms)")
    ax[1].set_ylabel("density")
    ax[1].axvspan(0, np.log10(5), color="gray", alpha=0.15)
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    out = a.out or os.path.join(a.dir, "culture_compare.png")
    fig.savefig(out, dpi=110)
    print(out, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("-o", "--out")
    ap.add_argument("--t0", type=float, default=0.0, help="from (s)")
    ap.add_argument("--t1", type=float, default=None, help="to (s)")
    ap.add_argument("--compare", nargs="+", metavar="REC", help="recorded MEA files (sjemea)")
    ap.add_argument("--json", action="store_true", help="with --compare: JSON, not a table")
    ap.add_argument("--no-plot", action="store_true", help="with --compare: no PNG")
    ap.add_argument("--ntwin", default=os.path.join(HERE, "..", "build", "src", "ntwin"))
    a = ap.parse_args()
    if a.compare:
        compare(a)
        return
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

#!/usr/bin/python3
"""Per-population statistics of a Potjans & Diesmann microcircuit run.

Usage: microcircuit_stats.py RUN_DIR [--t-start MS] [--sample N] [--seed S]
                             [--png FILE] [--json FILE]

Reads RUN_DIR/spikes.h5 (SONATA: /spikes/<pop>/timestamps in ms, node_ids)
and RUN_DIR/report.json (t_sim_ms, config path); population sizes come from
the config named in the report (or --config). After the warm-up (--t-start,
default 500 ms) it computes per population:
  - mean rate (Hz) over all neurons, silent ones included;
  - ISI CV: the mean over neurons with >= 3 spikes of std(ISI)/mean(ISI);
  - the mean pairwise Pearson correlation coefficient of spike counts in
    2 ms bins over a random sample of --sample (200) neurons (pairs with a
    silent neuron are left out, as in the usual analyses);
and prints them next to the full-scale reference rates (Potjans & Diesmann
2014, NEST's full_mean_rates) with the relative error. Writes a PNG
(RUN_DIR/microcircuit_stats.png by default): rates vs reference, CV and
correlation per population, a raster of 100 neurons per population over
200 ms.
Exit status 0 (a report, not a test). Needs numpy, h5py, matplotlib
(/usr/bin/python3).
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np

POPS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
REF_HZ = {"L23E": 0.97, "L23I": 2.87, "L4E": 4.75, "L4I": 5.40,
          "L5E": 8.14, "L5I": 9.08, "L6E": 0.99, "L6I": 7.52}


def pop_sizes(cfg_path):
    with open(cfg_path) as f:
        cfg = json.load(f)
    return {p["name"]: int(p["size"]) for p in cfg["populations"]}


def cv_isi(t, ids):
    order = np.lexsort((t, ids))
    t, ids = t[order], ids[order]
    cvs = []
    bounds = np.flatnonzero(np.diff(ids)) + 1
    for seg in np.split(np.arange(t.size), bounds):
        if seg.size >= 3:
            isi = np.diff(t[seg])
            m = isi.mean()
            if m > 0:
                cvs.append(isi.std() / m)
    return np.array(cvs)


def mean_corr(t, ids, n, t0, t1, sample, rng, bin_ms=2.0):
    pick = np.sort(rng.choice(n, size=min(sample, n), replace=False))
    nb = int(np.floor((t1 - t0) / bin_ms))
    if nb < 2:
        return float("nan"), 0
    m = np.isin(ids, pick)
    row = np.searchsorted(pick, ids[m])
    col = np.floor((t[m] - t0) / bin_ms).astype(np.int64)
    ok = (col >= 0) & (col < nb)
    counts = np.zeros((pick.size, nb))
    np.add.at(counts, (row[ok], col[ok]), 1.0)
    active = counts.std(axis=1) > 0
    c = counts[active]
    if c.shape[0] < 2:
        return float("nan"), int(c.shape[0])
    cc = np.corrcoef(c)
    iu = np.triu_indices(c.shape[0], k=1)
    return float(np.mean(cc[iu])), int(c.shape[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--config", help="config (default: the report's)")
    ap.add_argument("--t-start", type=float, default=500.0)
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--png")
    ap.add_argument("--json", help="also write the table as JSON here")
    a = ap.parse_args()

    with open(os.path.join(a.run_dir, "report.json")) as f:
        rep = json.load(f)
    sizes = pop_sizes(a.config or rep["config"])
    t1 = float(rep["t_sim_ms"])
    t0 = a.t_start
    if not t1 > t0:
        sys.exit("microcircuit_stats: run of %g ms is not longer than the "
                 "warm-up of %g ms" % (t1, t0))
    rng = np.random.default_rng(a.seed)
    rows, raster = [], {}
    with h5py.File(os.path.join(a.run_dir, "spikes.h5"), "r") as f:
        for pop in POPS:
            if pop not in sizes:
                continue
            n = sizes[pop]
            g = f["spikes"].get(pop)
            t = g["timestamps"][:] if g is not None else np.zeros(0)
            ids = g["node_ids"][:].astype(np.int64) if g is not None else np.zeros(0, np.int64)
            late = t > t0
            tl, il = t[late], ids[late]
            rate = tl.size / n / ((t1 - t0) / 1000.0)
            cvs = cv_isi(tl, il)
            corr, nact = mean_corr(tl, il, n, t0, t1, a.sample, rng)
            ref = REF_HZ.get(pop)
            rows.append({"pop": pop, "n": n, "rate_hz": rate, "ref_hz": ref,
                         "rel_err": (rate - ref) / ref if ref else None,
                         "cv_isi": float(cvs.mean()) if cvs.size else float("nan"),
                         "cv_neurons": int(cvs.size), "corr": corr,
                         "corr_neurons": nact})
            # raster: 100 evenly spaced neurons per population, 200 ms
            k = min(n, 100)
            keep = np.isin(ids, np.arange(0, n, max(1, n // k)))
            w = keep & (t > t0) & (t <= min(t1, t0 + 200.0))
            raster[pop] = (t[w], ids[w] // max(1, n // k), min(k, n))

    print("population statistics after %g ms (window %g ms), %s" % (t0, t1 - t0, a.run_dir))
    print("%-5s %7s %9s %9s %8s %7s %9s" % ("pop", "N", "rate Hz", "ref Hz",
                                            "rel.err", "CV ISI", "corr"))
    for r in rows:
        flag = "" if r["rel_err"] is None else ("  ok" if abs(r["rel_err"]) <= 0.2 else "  >20%")
        print("%-5s %7d %9.3f %9.2f %+7.1f%% %7.3f %9.4f%s"
              % (r["pop"], r["n"], r["rate_hz"], r["ref_hz"], 100 * r["rel_err"],
                 r["cv_isi"], r["corr"], flag))
    within = sum(1 for r in rows if r["rel_err"] is not None and abs(r["rel_err"]) <= 0.2)
    print("%d of %d populations within +-20 %% of the reference rate" % (within, len(rows)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(2, 2, figsize=(12, 9))
    x = np.arange(len(rows))
    names = [r["pop"] for r in rows]
    ax[0, 0].bar(x - 0.2, [r["rate_hz"] for r in rows], 0.4, label="ntwin")
    ax[0, 0].bar(x + 0.2, [r["ref_hz"] for r in rows], 0.4, label="reference (P&D 2014)")
    ax[0, 0].set_xticks(x, names)
    ax[0, 0].set_ylabel("rate (Hz)")
    ax[0, 0].legend()
    ax[0, 0].set_title("mean rate after %g ms" % t0)
    ax[0, 1].bar(x, [r["cv_isi"] for r in rows], color="C2")
    ax[0, 1].set_xticks(x, names)
    ax[0, 1].set_ylabel("mean CV of ISI")
    ax[0, 1].set_title("irregularity")
    ax[1, 0].bar(x, [r["corr"] for r in rows], color="C3")
    ax[1, 0].set_xticks(x, names)
    ax[1, 0].set_ylabel("mean pairwise corr. (2 ms bins)")
    ax[1, 0].set_title("synchrony (%d-neuron samples)" % a.sample)
    off = 0
    ticks = []
    for i, pop in enumerate(reversed([r["pop"] for r in rows])):
        t, y, k = raster[pop]
        ax[1, 1].plot(t, y + off, ".", ms=1.5, color="C0" if pop.endswith("E") else "C1")
        ticks.append(off + k / 2)
        off += k
    ax[1, 1].set_yticks(ticks, list(reversed(names)))
    ax[1, 1].set_xlabel("time (ms)")
    ax[1, 1].set_title("raster (100 neurons per population)")
    fig.tight_layout()
    png = a.png or os.path.join(a.run_dir, "microcircuit_stats.png")
    fig.savefig(png, dpi=100)
    print("wrote", png)


if __name__ == "__main__":
    main()

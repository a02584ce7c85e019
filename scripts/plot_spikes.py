#!/usr/bin/python3
"""Raster and population-rate plot of one ntwin run directory.

Reads RUN_DIR/spikes.h5 (SONATA: /spikes/<pop>/timestamps in ms,
/spikes/<pop>/node_ids, population-local ids) and, if present,
RUN_DIR/report.json (config name, ranks, mean rates). Writes one PNG: on top
a raster of a random sample of at most --max-neurons neurons per population,
below the population rate in 1 ms bins, one line per population.

usage: /usr/bin/python3 scripts/plot_spikes.py RUN_DIR [-o OUT.png]
                        [--t0 0] [--t1 500] [--max-neurons 200] [--bin 1] [--seed 0]
"""
import argparse
import json
import os
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def load_report(run_dir):
    path = os.path.join(run_dir, "report.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print("plot_spikes: no usable report.json (%s); sizes and rates from spikes only"
              % e, file=sys.stderr)
        return None


def population_sizes(report, run_dir):
    """{pop: size} from the run's config, if it can be found; else {}."""
    if not report or not report.get("config"):
        return {}
    cfg = report["config"]
    for base in ("", os.getcwd(), os.path.join(HERE, ".."), run_dir):
        path = os.path.join(base, cfg) if base else cfg
        try:
            with open(path) as f:
                c = json.load(f)
            return {p["name"]: int(p["size"]) for p in c.get("populations", [])}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return {}


def read_spikes(path):
    """[(pop, timestamps_ms, node_ids)] in file order; empty arrays when a
    population has no spikes (or no datasets)."""
    out = []
    with h5py.File(path, "r") as f:
        if "spikes" not in f:
            return out
        for pop, g in f["spikes"].items():
            if not isinstance(g, h5py.Group):
                continue
            ts = g["timestamps"][()] if "timestamps" in g else np.empty(0)
            ids = g["node_ids"][()] if "node_ids" in g else np.empty(0, dtype=np.uint64)
            out.append((pop, np.asarray(ts, dtype=float), np.asarray(ids, dtype=np.int64)))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("-o", "--out", help="PNG path (default RUN_DIR/spikes.png)")
    p.add_argument("--t0", type=float, default=0.0, help="start of the window, ms")
    p.add_argument("--t1", type=float, default=500.0, help="end of the window, ms")
    p.add_argument("--max-neurons", type=int, default=200,
                   help="neurons sampled per population for the raster")
    p.add_argument("--bin", type=float, default=1.0, help="rate histogram bin, ms")
    p.add_argument("--seed", type=int, default=0, help="seed of the neuron sample")
    p.add_argument("--config", help="config JSON for the population sizes (default: "
                   "the one named in report.json, if it can be found)")
    a = p.parse_args()
    if a.t1 <= a.t0:
        sys.exit("plot_spikes: --t1 must be after --t0")

    h5 = os.path.join(a.run_dir, "spikes.h5")
    if not os.path.exists(h5):
        sys.exit("plot_spikes: no %s" % h5)
    report = load_report(a.run_dir)
    sizes = population_sizes({"config": a.config} if a.config else report, a.run_dir)
    pops = read_spikes(h5)
    if not pops:
        sys.exit("plot_spikes: %s has no /spikes/<population> groups" % h5)
    # Population order: the report's (= the config's) when known.
    order = list((report or {}).get("rates_hz", {}).keys())
    pops.sort(key=lambda x: order.index(x[0]) if x[0] in order else len(order))

    t_sim = (report or {}).get("t_sim_ms")
    t1 = min(a.t1, t_sim) if t_sim else a.t1
    rng = np.random.default_rng(a.seed)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    edges = np.arange(a.t0, t1 + a.bin * 0.5, a.bin)
    if len(edges) < 2:
        edges = np.array([a.t0, t1])

    fig, (ax_r, ax_h) = plt.subplots(2, 1, figsize=(12, 8), sharex=True,
                                     gridspec_kw={"height_ratios": [2.2, 1]})
    # Rates in Hz need every spiking population's size; without them the
    # lower panel shows spikes per bin for all populations instead.
    in_hz = all(pop in sizes for pop, ts, _ in pops if ts.size)
    # Rows given to a population with nothing to sample, so its label fits.
    min_band = max(20, a.max_neurons // 5)
    row0 = 0
    yticks, ylabels = [], []
    rate_txt = []
    for i, (pop, ts, ids) in enumerate(pops):
        c = colors[i % len(colors)]
        size = sizes.get(pop)
        size_note = ""
        if size is None:  # unknown: at least every id that spiked
            size = int(ids.max()) + 1 if ids.size else 0
            size_note = ">="
        # Sample of neurons: from all ids when the size is known, so silent
        # neurons show as empty rows; else from the ids that spiked.
        universe = np.arange(size) if not size_note else np.unique(ids)
        n = min(a.max_neurons, universe.size)
        sample = np.sort(rng.choice(universe, size=n, replace=False)) if n else universe[:0]
        win = (ts >= a.t0) & (ts < t1)
        tw, iw = ts[win], ids[win]
        sel = np.isin(iw, sample)
        row_of = np.searchsorted(sample, iw[sel])
        ax_r.scatter(tw[sel], row0 + row_of, s=2, marker="|" if n > 100 else ".",
                     color=c, linewidths=0.8, rasterized=True)
        band = n if n else min_band
        yticks.append(row0 + (band - 1) / 2)
        ylabels.append("%s\n(%d of %s%d)" % (pop, n, size_note, size) if size else
                       "%s\n(size unknown)" % pop)
        if row0:
            ax_r.axhline(row0 - 0.5, color="k", lw=0.5)
        row0 += band

        counts, _ = np.histogram(tw, bins=edges)
        width_s = np.diff(edges) * 1e-3
        if in_hz:
            y = counts / (size * width_s) if size else counts.astype(float)
        else:
            y = counts
        ax_h.plot(edges[:-1], y, drawstyle="steps-post", alpha=0.85, color=c, lw=0.8,
                  label=pop + (" (no spikes)" if ts.size == 0 else ""))
        if report and pop in report.get("rates_hz", {}):
            rate_txt.append("%s %.2f Hz" % (pop, report["rates_hz"][pop]))
        elif size and not size_note and t_sim:
            rate_txt.append("%s %.2f Hz" % (pop, ts.size / (size * t_sim * 1e-3)))
        else:
            rate_txt.append("%s %d spikes" % (pop, ts.size))
        if ts.size == 0:
            ax_r.text(a.t0 + 0.01 * (t1 - a.t0), yticks[-1], "no spikes", va="center",
                      fontsize=9, color=c)

    ax_r.set_yticks(yticks)
    ax_r.set_yticklabels(ylabels, fontsize=9)
    ax_r.set_ylim(-0.5, row0 - 0.5)
    ax_r.invert_yaxis()
    ax_r.set_ylabel("sampled neurons")
    ax_r.set_title("Raster, %s ms to %s ms" % (("%g" % a.t0), ("%g" % t1)), fontsize=10)
    ax_h.set_xlabel("time [ms]")
    if in_hz:
        ax_h.set_ylabel("population rate [Hz]\n(%g ms bins)" % a.bin)
    else:
        ax_h.set_ylabel("spikes per %g ms bin\n(population sizes unknown)" % a.bin)
    ax_h.set_xlim(a.t0, t1)
    ax_h.set_ylim(bottom=0)
    ax_h.grid(alpha=0.3)
    ax_h.legend(fontsize=8, loc="upper right")

    if report:
        cfg = os.path.splitext(os.path.basename(report.get("config", "?")))[0]
        head = "%s on %s rank%s" % (cfg, report.get("ranks", "?"),
                                   "" if report.get("ranks") == 1 else "s")
        tail = "mean rates over %g ms: %s" % (report.get("t_sim_ms", float("nan")),
                                              ", ".join(rate_txt))
    else:
        head = "%s (no report.json: config and ranks unknown)" % os.path.basename(
            os.path.abspath(a.run_dir))
        tail = "spikes: " + ", ".join(rate_txt)
    fig.suptitle(head + "\n" + tail, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    out = a.out or os.path.join(a.run_dir, "spikes.png")
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Plot a bench results.csv (from bench/brunel.sh) as one PNG.

Panels, all against the number of ranks: wall_sim_s and RTF (median over reps,
min-max error bars, ideal scaling from the 1-rank median), events/s per core,
communication share of wall time, and bytes/synapse. Oversubscribed runs (more
ranks than cores) are drawn hollow and labelled: they are not scaling data.

usage: /usr/bin/python3 bench/plot_bench.py RESULTS.csv [-o OUT.png]
                        [--target-wall-s 1.5 --target-ranks 2 --target-bytes-per-synapse 12]
"""
import argparse
import csv
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def load(path):
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("status", "ok") == "ok"]
    if not rows:
        sys.exit("plot_bench: no successful runs in %s" % path)
    return rows


def series_key(r):
    cfg = os.path.splitext(os.path.basename(r.get("config", "?")))[0]
    t = fnum(r.get("t_sim_ms"))
    return "%s, %g ms" % (cfg, t) if t is not None else cfg


def aggregate(rows, col, scale=1.0, per_core=False):
    """{(ranks, oversub): (median, min, max, n)} for one column."""
    out = {}
    groups = {}
    for r in rows:
        groups.setdefault((int(r["ranks"]), r.get("oversubscribed") == "1"), []).append(r)
    for key, rs in groups.items():
        v = [fnum(r.get(col)) for r in rs]
        v = [x * scale / (key[0] if per_core else 1) for x in v if x is not None]
        if v:
            out[key] = (statistics.median(v), min(v), max(v), len(v))
    return out


def si(x, _pos=None):
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return "%g%s" % (round(x / div, 3), suf)
    return "%g" % round(x, 3)


def draw(ax, agg, color, label, ideal=False, annotate_fmt="%.3g"):
    keys = sorted(agg)
    for over in (False, True):
        ks = [k for k in keys if k[1] == over]
        if not ks:
            continue
        x = [k[0] for k in ks]
        med = [agg[k][0] for k in ks]
        lo = [agg[k][0] - agg[k][1] for k in ks]
        hi = [agg[k][2] - agg[k][0] for k in ks]
        ax.errorbar(x, med, yerr=[lo, hi], fmt="o", ms=7, capsize=4, color=color,
                    mfc="white" if over else color, mew=1.6,
                    label=(label + (" (oversubscribed)" if over else "")) if label else None,
                    zorder=3)
        for xi, m in zip(x, med):
            txt = (annotate_fmt % m) if isinstance(annotate_fmt, str) else annotate_fmt(m)
            if over:
                txt += "\noversubscribed"
            ax.annotate(txt, (xi, m), textcoords="offset points", xytext=(9, 0),
                        va="center", fontsize=8, color=color)
    # Connect the medians of the real (not oversubscribed) points.
    real = [k for k in keys if not k[1]]
    if len(real) > 1:
        ax.plot([k[0] for k in real], [agg[k][0] for k in real], "-", color=color, alpha=0.5)
    if ideal:
        base = agg.get((1, False))
        if base:
            xs = sorted({k[0] for k in keys} | {1})
            ax.plot(xs, [base[0] / x for x in xs], "--", color="gray", lw=1,
                    label="ideal (1-rank median / ranks)", zorder=1)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv")
    p.add_argument("-o", "--out", help="PNG path (default: next to the CSV, bench.png)")
    p.add_argument("--target-wall-s", type=float, default=1.5)
    p.add_argument("--target-ranks", type=int, default=2)
    p.add_argument("--target-bytes-per-synapse", type=float, default=12.0)
    a = p.parse_args()
    rows = load(a.csv)
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.csv)), "bench.png")

    by_series = {}
    for r in rows:
        by_series.setdefault(series_key(r), []).append(r)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    all_ranks = sorted({int(r["ranks"]) for r in rows})

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    (ax_wall, ax_rtf, ax_ev), (ax_comm, ax_mem, ax_info) = axes

    for i, (name, rs) in enumerate(sorted(by_series.items())):
        c = colors[i % len(colors)]
        draw(ax_wall, aggregate(rs, "wall_sim_s"), c, name, ideal=(i == 0), annotate_fmt="%.2f s")
        draw(ax_rtf, aggregate(rs, "rtf"), c, name, ideal=(i == 0), annotate_fmt="%.2f")
        draw(ax_ev, aggregate(rs, "events_per_s", per_core=True), c, name,
             annotate_fmt=lambda v: si(v) + "/s")
        draw(ax_comm, aggregate(rs, "comm_share", scale=100), c, name, annotate_fmt="%.1f %%")
        draw(ax_mem, aggregate(rs, "bytes_per_synapse"), c, name, annotate_fmt="%.2f B")

    ax_wall.axhline(a.target_wall_s, color="tab:red", ls=":", lw=1.2,
                    label="target <= %g s on %d ranks" % (a.target_wall_s, a.target_ranks))
    ax_mem.axhline(a.target_bytes_per_synapse, color="tab:red", ls=":", lw=1.2,
                   label="target <= %g B/synapse" % a.target_bytes_per_synapse)

    titles = {
        ax_wall: ("Simulation wall time (wall_sim_s)", "seconds"),
        ax_rtf: ("Real-time factor (wall / biological time)", "RTF (lower is faster)"),
        ax_ev: ("Synaptic events delivered per second per core", "events / s / core"),
        ax_comm: ("Communication share of wall time", "comm_s / wall_sim_s  [%]"),
        ax_mem: ("Memory per synapse (RSS growth during build)", "bytes / synapse"),
    }
    for ax, (t, yl) in titles.items():
        ax.set_title(t, fontsize=10)
        ax.set_ylabel(yl)
        ax.set_xlabel("MPI ranks")
        ax.set_xticks(all_ranks)
        ax.set_xlim(min(all_ranks) - 0.5, max(all_ranks) + 0.9)
        ax.grid(alpha=0.3)
        # Headroom above the data for the legend and the point labels.
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)
    ax_ev.yaxis.set_major_formatter(FuncFormatter(si))
    ax_mem.set_ylim(0, max(a.target_bytes_per_synapse * 1.4, ax_mem.get_ylim()[1]))
    ax_comm.set_ylim(0, max(10, ax_comm.get_ylim()[1]))
    for ax in titles:
        ax.legend(fontsize=7, loc="upper right")

    # Info panel: provenance and the caveats that decide how to read the numbers.
    ax_info.axis("off")
    def uniq(col):
        return ", ".join(sorted({r.get(col, "") for r in rows if r.get(col)})) or "?"
    busy = [fnum(r.get("bg_cpu_busy_before")) for r in rows]
    busy = [b for b in busy if b is not None]
    reps = {}
    for r in rows:
        reps[(int(r["ranks"]), r.get("oversubscribed") == "1")] = \
            reps.get((int(r["ranks"]), r.get("oversubscribed") == "1"), 0) + 1
    lines = [
        "ntwin commit: %s" % uniq("git_commit"),
        "host: %s   (%s CPUs)" % (uniq("host"), uniq("nproc")),
        "CPU: %s" % uniq("cpu_model"),
        "config: %s" % uniq("config"),
        "partition: %s   comm: %s   bind: %s" % (uniq("partition"), uniq("comm"), uniq("bind")),
        "runs (ok): " + ", ".join("%d rank%s%s: %d" % (k[0], "s" if k[0] > 1 else "",
                                                       " oversub" if k[1] else "", n)
                                  for k, n in sorted(reps.items())),
        "dates: %s .. %s" % (min(r.get("date", "") for r in rows)[:19],
                             max(r.get("date", "") for r in rows)[:19]),
        "",
        "markers: median over reps; bars: min-max",
        "hollow = oversubscribed (ranks > cores):",
        "   NOT scaling data",
    ]
    if busy:
        lines.append("background CPU busy before runs: median %.0f%%, max %.0f%%"
                     % (100 * statistics.median(busy), 100 * max(busy)))
        if max(busy) > 0.10:
            lines.append("   -> machine was shared: timings pessimistic")
    ax_info.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=9,
                 family="monospace", transform=ax_info.transAxes, wrap=True)

    fig.suptitle("ntwin benchmark: %s" % os.path.abspath(a.csv), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Plot a study's results.csv (bench/study.py) as one PNG, study.png next to it.

Panels against the number of ranks (log2 axis): simulation wall time and RTF
with the ideal line (strong: T(P0)*P0/P; weak: flat at T(P0)), parallel
efficiency, synaptic events/s per core, communication share, bytes/synapse,
and a panel with the machine, commit, command and caveats. Markers are the
median over repetitions, bars min-max. Oversubscribed runs (ranks > cores)
are hollow, labelled and excluded from lines and efficiency: not scaling data.

usage: /usr/bin/python3 bench/plot_study.py RESULTS.csv [-o OUT.png]
"""
import argparse
import csv
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def si(x, _pos=None):
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return "%g%s" % (round(x / div, 3), suf)
    return "%g" % round(x, 3)


def series_name(r, mode):
    sc = fnum(r.get("scale")) or 1
    s = r["network"]
    if mode == "weak":
        s += " (%g x per rank)" % sc
    elif sc != 1:
        s += " x%g" % sc
    return "%s, %s, %s" % (s, r.get("partition"), r.get("comm"))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv")
    p.add_argument("-o", "--out")
    a = p.parse_args()
    with open(a.csv, newline="") as f:
        allrows = list(csv.DictReader(f))
    rows = [r for r in allrows if r.get("status") == "ok"]
    if not rows:
        sys.exit("plot_study: no successful runs in %s" % a.csv)
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.csv)), "study.png")
    mode = rows[0].get("mode", "strong")

    series = {}
    for r in rows:
        series.setdefault(series_name(r, mode), []).append(r)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ranks_all = sorted({int(r["ranks"]) for r in rows})

    fig = plt.figure(figsize=(16, 10))
    gs = fig.add_gridspec(3, 3, height_ratios=[1, 1, 0.62])
    ax_t, ax_rtf, ax_eff = (fig.add_subplot(gs[0, i]) for i in range(3))
    ax_ev, ax_comm, ax_mem = (fig.add_subplot(gs[1, i]) for i in range(3))
    ax_info = fig.add_subplot(gs[2, :])

    def agg(rs, col, per_core=False, scale=1.0):
        g = {}
        for r in rs:
            g.setdefault((int(r["ranks"]), r.get("oversubscribed") == "1"), []).append(r)
        res = {}
        for k, grp in g.items():
            v = [fnum(x.get(col)) for x in grp]
            v = [x * scale / (k[0] if per_core else 1) for x in v if x is not None]
            if v:
                res[k] = (statistics.median(v), min(v), max(v))
        return res

    def draw(ax, d, c, label, fmt):
        for over in (False, True):
            ks = sorted(k for k in d if k[1] == over)
            if not ks:
                continue
            x = [k[0] for k in ks]
            m = [d[k][0] for k in ks]
            ax.errorbar(x, m, yerr=[[d[k][0] - d[k][1] for k in ks], [d[k][2] - d[k][0] for k in ks]],
                        fmt="o", ms=7, capsize=4, color=c, mfc="white" if over else c, mew=1.6,
                        label=(label + " (oversubscribed)") if over else label, zorder=3)
            for xi, mi in zip(x, m):
                ax.annotate(fmt(mi) + ("\nOVERSUB" if over else ""), (xi, mi),
                            textcoords="offset points", xytext=(8, 0), va="center", fontsize=7.5,
                            color=c)
        real = sorted(k for k in d if not k[1])
        if len(real) > 1:
            ax.plot([k[0] for k in real], [d[k][0] for k in real], "-", color=c, alpha=0.5)

    for i, (name, rs) in enumerate(sorted(series.items())):
        c = colors[i % len(colors)]
        t = agg(rs, "wall_sim_s")
        rtf = agg(rs, "rtf")
        draw(ax_t, t, c, name, lambda v: "%.3g s" % v)
        draw(ax_rtf, rtf, c, name, lambda v: "%.3g" % v)
        real = sorted(k for k in t if not k[1])
        if real:
            p0 = real[0][0]
            xs = sorted({k[0] for k in t})
            for ax, d in ((ax_t, t), (ax_rtf, rtf)):
                b = d[(p0, False)][0]
                ideal = [b * p0 / x if mode == "strong" else b for x in xs]
                ax.plot(xs, ideal, "--", color=c, lw=1, alpha=0.8,
                        label="ideal (%s)" % ("T(%d)·%d/P" % (p0, p0) if mode == "strong" else "flat"))
            # Parallel efficiency per repetition-median; no efficiency for oversubscribed runs.
            b = t[(p0, False)][0]
            eff = {}
            for k in real:
                m, lo, hi = t[k]
                f = (lambda v: b * p0 / (k[0] * v)) if mode == "strong" else (lambda v: b / v)
                eff[k] = (f(m), f(hi), f(lo))
            draw(ax_eff, eff, c, name, lambda v: "%.0f %%" % (100 * v))
        draw(ax_ev, agg(rs, "events_per_s", per_core=True), c, name, lambda v: si(v) + "/s")
        draw(ax_comm, agg(rs, "comm_share", scale=100), c, name, lambda v: "%.1f %%" % v)
        draw(ax_mem, agg(rs, "bytes_per_synapse"), c, name, lambda v: "%.2f B" % v)
    ax_eff.axhline(1.0, color="gray", ls="--", lw=1, label="ideal (100 %)")

    panels = {
        ax_t: ("Simulation wall time (wall_sim_s)", "seconds"),
        ax_rtf: ("Real-time factor (wall / biological time)", "RTF (lower is faster)"),
        ax_eff: ("Parallel efficiency (%s scaling)" % mode,
                 "T(P0)·P0 / (P·T(P))" if mode == "strong" else "T(P0) / T(P)"),
        ax_ev: ("Synaptic events delivered per second per rank", "events / s / rank"),
        ax_comm: ("Communication share of wall time", "comm_s / wall_sim_s  [%]"),
        ax_mem: ("Memory per synapse (RSS growth during build)", "bytes / synapse"),
    }
    for ax, (title, yl) in panels.items():
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(yl)
        ax.set_xlabel("MPI ranks")
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(ranks_all))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: "%d" % v))
        ax.set_xlim(min(ranks_all) / 1.3, max(ranks_all) * 1.6)
        ax.grid(alpha=0.3)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
        ax.legend(fontsize=6.5, loc="upper right")
    ax_ev.yaxis.set_major_formatter(FuncFormatter(si))
    ax_eff.set_ylim(0, max(1.3, ax_eff.get_ylim()[1]))
    ax_eff.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: "%.0f%%" % (100 * v)))
    ax_comm.set_ylim(0, max(10, ax_comm.get_ylim()[1]))

    ax_info.axis("off")
    uniq = lambda col: ", ".join(sorted({r.get(col, "") for r in allrows if r.get(col)})) or "?"
    busy = [fnum(r.get("bg_cpu_busy_before")) for r in allrows]
    busy = [b for b in busy if b is not None]
    nfail = sum(1 for r in allrows if r.get("status") != "ok")
    cmd_file = os.path.join(os.path.dirname(os.path.abspath(a.csv)), "command.txt")
    study_cmd = open(cmd_file).read().strip() if os.path.exists(cmd_file) else "(Slurm array; see slurm_job_id)"
    left = [
        "study: %s (%s scaling)   file: %s" % (uniq("study"), mode, uniq("study_file")),
        "command: %s" % study_cmd[-110:],
        "host: %s  (%s CPUs)   CPU: %s" % (uniq("host"), uniq("nproc"), uniq("cpu_model")),
        "ntwin commit: %s   launcher: %s   slurm job: %s" % (uniq("git_commit"), uniq("launcher"),
                                                              uniq("slurm_job_id").replace("?", "-")),
        "networks (neurons): %s" % ", ".join(sorted({"%s (%s)" % (r["network"], r.get("neurons"))
                                                    for r in rows}, key=len)),
        "t_sim_ms: %s   runs ok: %d   failed: %d   dates: %s .. %s" % (
            uniq("t_sim_ms"), len(rows), nfail, min(r["date"] for r in allrows)[:19],
            max(r["date"] for r in allrows)[:19]),
    ]
    right = ["markers: median over repetitions; bars: min-max",
             "hollow + OVERSUB: more ranks than cores -> NOT scaling data",
             "dashed: ideal scaling from the smallest non-oversubscribed rank count"]
    if busy:
        right.append("CPU busy before runs: median %.0f%%, max %.0f%%%s" % (
            100 * statistics.median(busy), 100 * max(busy),
            "  -> shared machine, timings pessimistic" if max(busy) > 0.10 else ""))
    ax_info.text(0.0, 1.0, "\n".join(left), va="top", ha="left", fontsize=8.5, family="monospace",
                 transform=ax_info.transAxes)
    ax_info.text(0.0, 0.28, "\n".join(right), va="top", ha="left", fontsize=8.5, family="monospace",
                 transform=ax_info.transAxes, color="dimgray")
    fig.suptitle("ntwin %s-scaling study: %s" % (mode, os.path.abspath(a.csv)), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out, dpi=100)
    print(out)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""ntwin's cost model per communication window: fit, check, project (see bench/COST_MODEL.md).

  T_window(P) = T_comp(P) + T_exch(P)
  T_comp(P)   = c_ev * E/P + c_nu * N*S/P
  T_exch(P)   = L * log2(P) + o * (P-1) + (8 * R*q(P) + 4*P) / BW        (0 for P = 1)
    E = events delivered per window (all ranks), N*S = neuron updates per window,
    R = spikes per window (all ranks), q(P) = 1-(1-1/P)^K_out = share of the sources
    that have a target on a given rank; L latency, o per-peer cost, BW bandwidth.

usage: /usr/bin/python3 bench/cost_model.py --fit CSV [CSV...] [--check CSV ...]
           [--latency 1.5e-6] [--per-peer 0.3e-6] [--bandwidth 10e9] [-o OUT.png]
  --fit    results.csv files (bench/study.py or bench/brunel.sh) whose non-oversubscribed
           runs fit c_ev, c_nu (non-negative least squares on compute time per window)
  --check  results.csv files to compare the fitted model with (1-2-4-rank runs; oversubscribed
           ones are shown, marked, not used)
Prints the fitted constants, the check table, the projection for the microcircuit and a
1 M-neuron Brunel network at 1..10,000 ranks with the rank count where the exchange starts
to dominate, and writes the plot (default: next to the first --fit CSV, cost_model.png).
"""
import argparse
import csv
import itertools
import math
import os
import statistics
import sys

import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Networks to project: N neurons, K_out mean out-degree (= synapses / N), rate nu (Hz),
# window D (ms), dt (ms).
NETWORKS = {
    "microcircuit (Potjans & Diesmann 2014)":
        dict(N=77169, syn=0.3e9, nu=3.0, D=0.1, dt=0.1),
    "Brunel, 1 M neurons (scale 100, K=1000)":
        dict(N=1e6, syn=1e9, nu=43.0, D=1.5, dt=0.1),
}


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def load(paths):
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            for r in csv.DictReader(f):
                if r.get("status", "ok") == "ok" and fnum(r.get("wall_sim_s")):
                    r["_file"] = p
                    rows.append(r)
    return rows


def features(r):
    """Per-window quantities of one measured run."""
    P = int(r["ranks"])
    D, dt, t = fnum(r["window_ms"]), fnum(r["dt_ms"]), fnum(r["t_sim_ms"])
    W = t / D
    N, syn = fnum(r["neurons"]), fnum(r["synapses"])
    K = syn / N
    R = fnum(r["spikes"]) / W
    E = fnum(r["events"]) / W
    q = 1 - (1 - 1 / P) ** K
    comp = (fnum(r["wall_sim_s"]) - fnum(r["comm_s"])) / W
    comm = fnum(r["comm_s"]) / W
    return dict(P=P, W=W, x=[E / P, N * (D / dt) / P], comp=comp, comm=comm,
                total=fnum(r["wall_sim_s"]) / W, R=R, q=q, K=K, over=r.get("oversubscribed") == "1",
                name="%s np%d %s" % (os.path.splitext(os.path.basename(r.get("config", "?")))[0], P,
                                     r.get("partition", "")))


def nnls(X, y):
    """Non-negative least squares for a handful of columns: best non-negative subset fit."""
    best = (None, math.inf, ())
    n = X.shape[1]
    for k in range(1, n + 1):
        for cols in itertools.combinations(range(n), k):
            c, *_ = np.linalg.lstsq(X[:, cols], y, rcond=None)
            if (c < 0).any():
                continue
            res = float(np.sum((X[:, cols] @ c - y) ** 2))
            if res < best[1] * (1 - 1e-9):
                full = np.zeros(n)
                full[list(cols)] = c
                best = (full, res, cols)
    return best


def exch(P, R, K, a):
    if P <= 1:
        return 0.0
    q = 1 - (1 - 1 / P) ** K
    return a.latency * math.log2(P) + a.per_peer * (P - 1) + (8 * R * q + 4 * P) / a.bandwidth


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fit", nargs="+", required=True)
    p.add_argument("--check", nargs="*", default=[])
    p.add_argument("--latency", type=float, default=1.5e-6, help="s per collective stage (default 1.5 us)")
    p.add_argument("--per-peer", type=float, default=0.3e-6, help="s per peer in alltoallv (default 0.3 us)")
    p.add_argument("--bandwidth", type=float, default=10e9, help="bytes/s per rank (default 10 GB/s)")
    p.add_argument("--max-ranks", type=int, default=10000)
    p.add_argument("-o", "--out")
    a = p.parse_args()

    fit_rows = [features(r) for r in load(a.fit)]
    fit_rows = [f for f in fit_rows if not f["over"]]
    if len(fit_rows) < 2:
        sys.exit("cost_model: need at least 2 non-oversubscribed runs in --fit")
    X = np.array([f["x"] for f in fit_rows])
    y = np.array([f["comp"] for f in fit_rows])
    c, res, cols = nnls(X, y)
    names = ("c_ev  (s per synaptic event)", "c_nu  (s per neuron update)")
    print("== cost model fit: %d runs from %s" % (len(fit_rows), ", ".join(a.fit)))
    for nm, v in zip(names, c):
        print("   %-32s %.3e%s" % (nm, v, "" if v else "   (0: not supported by the data)"))
    rel = np.abs(X @ c - y) / y
    print("   compute per window: fit error median %.0f%%, max %.0f%%" % (100 * np.median(rel), 100 * rel.max()))
    cond = np.linalg.cond(X / X.max(axis=0))
    if cond > 30:
        print("   caution: the fit columns are nearly collinear (condition %.0f): the split between "
              "the constants is uncertain; add runs of a network with another events/neuron ratio" % cond)
    # Local exchange: what the measured 2+-rank runs say about this machine's latency.
    multi = [f for f in fit_rows if f["P"] > 1]
    if multi:
        lat_loc = statistics.median((f["comm"]) / (math.log2(f["P"]) + (f["P"] - 1)) for f in multi)
        print("   measured comm per window on this machine (P>1): median %.1f us  -> effective latency "
              "%.1f us per stage (includes waiting for the slowest rank)"
              % (1e6 * statistics.median(f["comm"] for f in multi), 1e6 * lat_loc))
    print("   exchange parameters for the projection: latency L = %.2g s, per-peer o = %.2g s, "
          "bandwidth BW = %.3g B/s" % (a.latency, a.per_peer, a.bandwidth))

    checks = [features(r) for r in load(a.check)] if a.check else []
    if checks:
        print("\n== check against measured runs (compute per window; comm measured vs model)")
        print("   %-32s %5s %12s %12s %7s %12s %12s" % ("run", "P", "meas comp", "model comp", "err",
                                                         "meas comm", "model exch"))
        for f in checks:
            mc = float(np.dot(c, f["x"]))
            me = exch(f["P"], f["R"], f["K"], a)
            print("   %-32s %5s %10.1fus %10.1fus %+6.0f%% %10.1fus %10.1fus%s" % (
                f["name"][:32], f["P"], 1e6 * f["comp"], 1e6 * mc, 100 * (mc / f["comp"] - 1),
                1e6 * f["comm"], 1e6 * me, "  OVERSUB (not scaling data)" if f["over"] else ""))

    # Projection.
    Ps = np.unique(np.round(np.logspace(0, math.log10(a.max_ranks), 200)).astype(int))
    fig, axes = plt.subplots(1, 3 if checks else 2, figsize=(18 if checks else 13, 5.6))
    print("\n== projection, time per window (c from the fit; exchange from L, o, BW)")
    for ax, (nm, n) in zip(axes, NETWORKS.items()):
        K = n["syn"] / n["N"]
        R = n["N"] * n["nu"] * n["D"] * 1e-3
        E = R * K
        S = n["D"] / n["dt"]
        comp = np.array([c[0] * E / P + c[1] * n["N"] * S / P for P in Ps])
        ex = np.array([exch(P, R, K, a) for P in Ps])
        tot = comp + ex
        cross = next((int(P) for P, cc, ee in zip(Ps, comp, ex) if ee >= cc), None)
        best = int(Ps[np.argmin(tot)])
        print("   %s: N=%d, K=%.0f, %.1f Hz, window %.1f ms; %.0f spikes, %.3g events per window"
              % (nm, n["N"], K, n["nu"], n["D"], R, E))
        for P in (1, 2, 4, 16, 64, 256, 1024, 4096, 10000):
            i = np.searchsorted(Ps, P)
            if i < len(Ps) and Ps[i] == P:
                print("     P=%5d  compute %9.2f us  exchange %8.2f us  total %9.2f us  RTF %.3g"
                      % (P, 1e6 * comp[i], 1e6 * ex[i], 1e6 * tot[i], tot[i] / (n["D"] * 1e-3)))
        print("     exchange >= compute from P = %s; fastest at P = %d (%.2f us/window, RTF %.3g)"
              % (cross if cross else "never (<= %d)" % a.max_ranks, best, 1e6 * tot.min(),
                 tot.min() / (n["D"] * 1e-3)))
        ax.loglog(Ps, 1e6 * comp, label="compute (fitted c)")
        ax.loglog(Ps, 1e6 * ex, label="exchange (L=%.2g s, o=%.2g s, BW=%.2g B/s)"
                  % (a.latency, a.per_peer, a.bandwidth))
        ax.loglog(Ps, 1e6 * tot, "k", lw=2, label="total")
        ax.axhline(1e3 * n["D"], color="tab:red", ls=":", label="real time (window = %.1f ms)" % n["D"])
        if cross:
            ax.axvline(cross, color="gray", ls="--", lw=1)
            ax.annotate("exchange dominates\nfrom P = %d" % cross, (cross, 1e6 * tot.min()),
                        textcoords="offset points", xytext=(5, 30), fontsize=8)
        ax.set_title("%s\nN=%s, %.2g synapses, %.0f Hz" % (nm, "{:,}".format(int(n["N"])), n["syn"],
                                                            n["nu"]), fontsize=10)
        ax.set_xlabel("MPI ranks")
        ax.set_ylabel("projected time per window [us]")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7.5, loc="lower left")
    if checks:
        ax = axes[-1]
        for over in (False, True):
            fs = [f for f in checks if f["over"] == over]
            if fs:
                ax.scatter([1e6 * f["comp"] for f in fs], [1e6 * float(np.dot(c, f["x"])) for f in fs],
                           facecolors="white" if over else "tab:blue", edgecolors="tab:blue",
                           label="oversubscribed (not scaling data)" if over else "measured runs")
                for f in fs:
                    ax.annotate("np%d" % f["P"], (1e6 * f["comp"], 1e6 * float(np.dot(c, f["x"]))),
                                fontsize=7, textcoords="offset points", xytext=(4, 2))
        lim = [0, 1.15e6 * max(max(f["comp"], float(np.dot(c, f["x"]))) for f in checks)]
        ax.plot(lim, lim, "k--", lw=1, label="model = measured")
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_xlabel("measured compute per window [us] (wall_sim_s - comm_s)")
        ax.set_ylabel("model compute per window [us]")
        ax.set_title("check: %s" % ", ".join(os.path.basename(os.path.dirname(os.path.abspath(x)))
                                              for x in a.check), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("ntwin cost model: c_ev=%.3g s/event, c_nu=%.3g s/neuron update (fit: %s)"
                 % (c[0], c[1], ", ".join(a.fit)), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.fit[0])), "cost_model.png")
    fig.savefig(out, dpi=100)
    print("\nplot: %s" % out)


if __name__ == "__main__":
    main()

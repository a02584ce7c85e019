#!/usr/bin/python3
"""Evaluate a twin run and draw its pictures.

Reads RUN_DIR/twin.h5 and RUN_DIR/report.json (written by `ntwin run` with a
"twin" section), optionally the ground truth of `ntwin culture`
(--truth DIR/culture.h5, for evaluation only: the twin never reads it), and

  * held-out prediction (--fit-s S, or the config's assimilate.until_s):
    on t >= S, per electrode, the correlation of the twin's predicted spike
    counts with the recorded ones in --bin-ms bins, against a baseline that
    predicts each electrode's count as its mean over the preceding second;
    the causal Gamma of the twin on the same part;
  * bursts of the recorded spikes and of the twin's predicted spikes side by
    side, with ntwin's own detector (`ntwin recording-info --json` on CSV
    exports), so both use exactly the rule the README states;
  * with --truth: for each hidden change at time tc, Gamma before
    ([tc - 5 s, tc)) and after, retrack_s = the first time after tc at which
    the 3-interval running mean of Gamma is back to >= 90 % of the level
    before (null if never), and weight_change_corr = the Pearson correlation,
    over the 4 x 4 pairs of electrode groups (the layout's quadrants NW, NE,
    SW, SE; target group x source group), of the change of the mean ground
    truth effective weight G and of the mean twin weight W between just
    before tc and the end of the run (W averaged over 5 samples each side);

then merges these figures into report.json's `twin` object and writes
eval.json and the PNGs: twin_raster.png (recorded vs predicted),
twin_fidelity.png (Gamma and rate correlation over time, hidden changes and
stimulation epochs marked), twin_timing.png (lag and loop-latency
histograms), twin_weights.png (W before/after, and G when known).

With --open-loop DIR (the same culture run with the loop off, as
scripts/demo.sh does) the burst rates with and without the loop come from
the two runs: report.json's burst_rate_hz.open_loop is then the reference
run's, and the culture's own burst counts (its ground truth) are compared
too; the reference run's Gamma, rate correlation and deadline misses are
reported beside the closed loop's, and its own hidden change (DIR/culture/
culture.h5) is scored like the closed loop's (retrack_s, weight-change r). --summary prints the demo's closing summary.

usage: /usr/bin/python3 scripts/twin_eval.py RUN_DIR [--truth CULTURE.h5]
           [--open-loop DIR] [--summary] [--fit-s S] [--bin-ms 10]
           [--ntwin build/src/ntwin] [--no-plots]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    print("twin_eval: error: " + msg, file=sys.stderr)
    sys.exit(1)


def bursts(ntwin, ch, t_ms, nch, duration_s):
    """Bursts with ntwin's detector: export CSV, run recording-info --json."""
    if len(t_ms) == 0:
        return {"bursts": 0, "burst_rate_hz": 0.0, "duration_s": duration_s}
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("channel,time_s\n")
        order = np.lexsort((ch, t_ms))
        last = {}
        for i in order:
            key = (int(ch[i]), round(float(t_ms[i]) * 1e-3, 4))
            if last.get(key[0]) == key[1]:
                continue
            last[key[0]] = key[1]
            f.write("%d,%.4f\n" % key)
        path = f.name
    try:
        out = subprocess.run([ntwin, "recording-info", path, "--json"], check=True,
                             capture_output=True, text=True).stdout
        j = json.loads(out)
    finally:
        os.unlink(path)
    return {"bursts": j["bursts"], "burst_rate_hz": j["burst_rate_hz"],
            "spikes_in_bursts": j["spikes_in_bursts"], "duration_s": j["duration_s"]}


def causal_gamma(d, m, delta, T):
    if len(d) == 0:
        return np.nan
    if len(m) == 0:
        return 0.0
    idx = np.searchsorted(m, d - delta, side="left")
    coinc = np.sum((idx < len(m)) & (m[np.minimum(idx, len(m) - 1)] <= d))
    nu = len(m) / T
    w = delta + 1
    norm = 1 - nu * w
    if norm <= 0:
        return np.nan
    return (coinc - nu * w * len(d)) / (0.5 * (len(d) + len(m))) / norm


def heldout(f, fit_s, bin_ms):
    dt = float(f.attrs["dt_ms"])
    delta = int(round(float(f.attrs["delta_ms"]) / dt))
    nch = len(f["layout/channel_id"])
    bc, bt = f["bio/channel"][:], f["bio/t_ms"][:]
    pc, pt = f["predicted/channel"][:], f["predicted/t_ms"][:]
    t_end = max(bt.max() if len(bt) else 0, pt.max() if len(pt) else 0)
    t0 = fit_s * 1e3
    if t_end <= t0 + 2000:
        return None
    edges = np.arange(t0 - 1000.0, t_end + bin_ms, bin_ms)
    nb_hist = int(round(1000.0 / bin_ms))
    r_twin, r_base, gam = [], [], []
    for k in range(nch):
        b = np.histogram(bt[bc == k], edges)[0].astype(float)
        p = np.histogram(pt[pc == k], edges)[0].astype(float)
        # baseline: the mean count of the preceding second
        cs = np.concatenate([[0], np.cumsum(b)])
        base = (cs[nb_hist:-1] - cs[:-nb_hist - 1]) / nb_hist
        b, p = b[nb_hist:], p[nb_hist:]
        if b.std() > 0 and p.std() > 0:
            r_twin.append(np.corrcoef(b, p)[0, 1])
        elif b.std() > 0:
            r_twin.append(0.0)
        if b.std() > 0 and base.std() > 0:
            r_base.append(np.corrcoef(b, base)[0, 1])
        d = np.rint(bt[(bc == k) & (bt >= t0)] / dt).astype(np.int64)
        m = np.sort(np.rint(pt[(pc == k) & (pt >= t0)] / dt).astype(np.int64))
        g = causal_gamma(np.sort(d), m, delta, (t_end - t0) / dt)
        if np.isfinite(g):
            gam.append(g)
    return {"from_s": fit_s, "to_s": t_end * 1e-3, "bin_ms": bin_ms,
            "rate_corr_twin": float(np.mean(r_twin)) if r_twin else None,
            "rate_corr_baseline": float(np.mean(r_base)) if r_base else None,
            "gamma_twin": float(np.mean(gam)) if gam else None,
            "electrodes": len(r_twin)}


def G_n(g):
    return g["truth/G"].shape[1] if "truth/G" in g else 0


def truth_eval(f, truth, res):
    g = h5py.File(truth, "r")
    changes = []
    if "changes/t_s" in g:
        ts = g["changes/t_s"][:]
        kinds = g["changes/kind"][:] if "changes/kind" in g else [b"?"] * len(ts)
        # a change scheduled after the culture stopped was never applied (NaN)
        changes = [(float(t), k.decode() if isinstance(k, bytes) else str(k))
                   for t, k in zip(ts, kinds) if np.isfinite(t)]
    ft = f["fidelity/t_ms"][:] * 1e-3
    fg = f["fidelity/gamma"][:]
    out = []
    Wt = f["weights/t_ms"][:] * 1e-3
    W = f["weights/W"][:]
    G = g["truth/G"][:] if "truth/G" in g else None
    Gt = g["truth/G_t_s"][:] if "truth/G_t_s" in g else None
    # the twin's channels as the culture's channel ids: on the link they are
    # the ids of its HELLO; a CSV replay numbers channels 0.. in file order
    # but keeps the culture's ids as labels
    ids = f["layout/channel_id"][:].astype(int)
    labs = [x.decode() if isinstance(x, bytes) else str(x) for x in f["layout/label"][:]]
    clabs = [x.decode() if isinstance(x, bytes) else str(x) for x in g["mea/label"][:]] \
        if "mea/label" in g else []
    if clabs and all(l in clabs for l in labs):
        ids = np.array([clabs.index(l) for l in labs])
    elif all(l.isdigit() and int(l) < G_n(g) for l in labs):
        ids = np.array([int(l) for l in labs])
    for tc, kind in changes:
        before = fg[(ft > tc - 5) & (ft <= tc) & np.isfinite(fg)]
        after = fg[(ft > tc) & np.isfinite(fg)]
        lvl = float(np.mean(before)) if len(before) else np.nan
        rt = None
        sm = np.convolve(np.nan_to_num(fg), np.ones(3) / 3, mode="same")
        for t, v in zip(ft, sm):
            if t > tc + 1 and np.isfinite(lvl) and v >= 0.9 * lvl:
                rt = float(t - tc)
                break
        dip = float(np.min(after[:5])) if len(after) else None
        corr = None
        if G is not None and len(Wt):
            # the sample taken just before the change (G_phase 1), else the
            # last one before it
            ph = g["truth/G_phase"][:] if "truth/G_phase" in g else np.zeros(len(Gt))
            pre = np.where((ph == 1) & (np.abs(Gt - tc) < 1e-6))[0]
            i0 = int(pre[0]) if len(pre) else np.searchsorted(Gt, tc, side="left") - 1
            w0 = np.searchsorted(Wt, tc, side="right") - 1
            if i0 >= 0 and w0 >= 0:
                # electrode groups: the four quadrants of the layout; the
                # change of each group-to-group block mean, truth vs twin,
                # W averaged over up to 5 samples before the change and
                # over the last 5 (a single W sample is noisy)
                x_um, y_um = f["layout/x_um"][:], f["layout/y_um"][:]
                if not np.all(np.isfinite(x_um)) and "mea/x_um" in g:
                    # a file replay without positions: the culture's
                    x_um, y_um = g["mea/x_um"][:][ids], g["mea/y_um"][:][ids]
                cx, cy = (x_um.min() + x_um.max()) / 2, (y_um.min() + y_um.max()) / 2
                grp = (y_um >= cy).astype(int) * 2 + (x_um >= cx).astype(int)  # NW NE SW SE
                Gc = G[:, ids][:, :, ids]
                Wb = W[max(0, w0 - 4):w0 + 1].mean(axis=0)
                We = W[-5:].mean(axis=0)
                dG, dW = [], []
                for a in range(4):
                    for b in range(4):
                        sel = np.ix_(grp == a, grp == b)
                        dG.append(float(np.nanmean(Gc[-1][sel] - Gc[i0][sel])))
                        dW.append(float(np.mean(We[sel] - Wb[sel])))
                dG, dW = np.array(dG), np.array(dW)
                if dG.std() > 0 and dW.std() > 0:
                    corr = float(np.corrcoef(dG, dW)[0, 1])
                res.setdefault("group_changes", []).append(
                    {"t_s": tc, "groups": ["NW", "NE", "SW", "SE"],
                     "dG_target_by_source": dG.reshape(4, 4).tolist(),
                     "dW_target_by_source": dW.reshape(4, 4).tolist()})
        out.append({"t_s": tc, "kind": kind, "gamma_before": lvl, "gamma_min_after": dip,
                    "retrack_s": rt, "weight_change_corr": corr})
    res["changes"] = out
    # the culture's own bursts (its ground truth), by stimulation epoch
    alt = float(f.attrs["stim_alternate_s"])
    if "mea/bursts/start_us" in g and alt > 0:
        B0 = float(f.attrs["B0_us"])
        t_end = float(f["fidelity/t_ms"][-1]) * 1e-3 if len(f["fidelity/t_ms"]) else 0
        st = (g["mea/bursts/start_us"][:] - B0) * 1e-6
        st = st[(st >= 0) & (st < t_end)]
        on = (np.floor(st / alt).astype(int) % 2) == 1
        k = np.arange(int(np.ceil(t_end / alt)))
        lens = np.minimum(alt, t_end - k * alt)
        t_on, t_off = lens[k % 2 == 1].sum(), lens[k % 2 == 0].sum()
        res["culture_bursts"] = {
            "closed_loop": int(on.sum()), "open_loop": int((~on).sum()),
            "closed_loop_s": float(t_on), "open_loop_s": float(t_off),
            "rate_closed_loop_hz": float(on.sum() / t_on) if t_on else None,
            "rate_open_loop_hz": float((~on).sum() / t_off) if t_off else None}
    return changes


def plots(run, f, rep, changes, res):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    bc, bt = f["bio/channel"][:], f["bio/t_ms"][:] * 1e-3
    pc, pt = f["predicted/channel"][:], f["predicted/t_ms"][:] * 1e-3
    nch = len(f["layout/channel_id"])
    t_end = max(bt.max() if len(bt) else 1, pt.max() if len(pt) else 1)
    def attr(k):
        v = f.attrs[k]
        return v.decode() if isinstance(v, bytes) else str(v)
    title = "%s (%s)" % (os.path.basename(attr("config")), attr("regime"))
    # raster: 4 s around the first change, or the last 4 s
    tc = changes[0][0] if changes else max(0, t_end - 4)
    lo, hi = max(0, tc - 2), max(0, tc - 2) + 4
    fig, ax = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    sel = (bt >= lo) & (bt < hi)
    ax[0].plot(bt[sel], bc[sel], "|", ms=4, color="k")
    ax[0].set_ylabel("electrode\n(recorded)")
    sel = (pt >= lo) & (pt < hi)
    ax[1].plot(pt[sel], pc[sel], "|", ms=4, color="tab:red")
    ax[1].set_ylabel("electrode\n(twin predicts)")
    ax[1].set_xlabel("time (s)")
    for a in ax:
        a.set_ylim(-1, nch)
        for t, k in changes:
            if lo <= t < hi:
                a.axvline(t, color="tab:blue", ls="--")
    s = f["stim/t_ms"][:] * 1e-3
    st = f["stim/status"][:]
    for t, k in zip(s, st):
        if lo <= t < hi and k == 1:
            ax[0].axvline(t, color="tab:green", alpha=0.4)
    ax[0].set_title(title + ": recorded vs twin")
    fig.tight_layout()
    fig.savefig(os.path.join(run, "twin_raster.png"), dpi=110)
    plt.close(fig)
    # fidelity
    ft = f["fidelity/t_ms"][:] * 1e-3
    fig, ax = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True)
    ax[0].plot(ft, f["fidelity/gamma"][:], "-o", ms=3, label="Gamma (causal, +-%g ms)" % f.attrs["delta_ms"])
    ax[0].plot(ft, f["fidelity/gamma_symmetric"][:], "-", alpha=0.5, label="Gamma (symmetric)")
    ax[0].axhline(0.5, color="gray", ls=":")
    ax[0].set_ylabel("coincidence factor")
    ax[0].legend(loc="lower right", fontsize=8)
    ax[1].plot(ft, f["fidelity/rate_corr"][:], "-", color="tab:purple")
    ax[1].set_ylabel("population-rate corr")
    ax[1].set_xlabel("time (s)")
    alt = float(f.attrs["stim_alternate_s"])
    for a in ax:
        for t, k in changes:
            a.axvline(t, color="tab:blue", ls="--", label=None)
            a.text(t, a.get_ylim()[1], " " + k, color="tab:blue", va="top", fontsize=8)
        if alt > 0:
            e = alt
            while e < t_end:
                a.axvspan(e, min(e + alt, t_end), color="tab:green", alpha=0.08)
                e += 2 * alt
    ax[0].set_title(title + ": fidelity" + (" (green: closed loop on)" if alt > 0 else ""))
    fig.tight_layout()
    fig.savefig(os.path.join(run, "twin_fidelity.png"), dpi=110)
    plt.close(fig)
    # timing
    lag = f["timing/lag_ms"][:]
    lat = f["timing/latency_ms"][:]
    if len(lag) or len(lat):
        fig = plt.figure(figsize=(11, 7))
        gs = fig.add_gridspec(2, 2)
        ax = [fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1]), fig.add_subplot(gs[1, :])]
        if len(lag):
            ax[0].hist(lag, bins=100, color="tab:orange")
            ax[0].set_yscale("log")
        ax[0].set_xlabel("lag behind the biology at window end (ms)")
        if len(lat):
            ax[1].hist(lat, bins=100, color="tab:cyan")
            ax[1].set_yscale("log")
        ax[1].set_xlabel("loop latency: event received -> decision (ms)")
        t = rep.get("twin", {})
        # per window over the run: the lag and, when recorded, its split
        # into the biology arriving late (ready) and the twin's own window
        if len(lag):
            w_s = np.arange(len(lag)) * float(rep.get("window_ms", 1.0)) * 1e-3
            ax[2].plot(w_s, lag, lw=0.5, color="tab:orange", label="lag")
            if "timing/run_ms" in f and len(f["timing/run_ms"]) == len(lag):
                ax[2].plot(w_s, f["timing/run_ms"][:], lw=0.5, color="tab:blue",
                           label="of which the twin's own window (run)")
            dl = t.get("allowance_ms")
            if dl is not None:
                dl = dl + float(rep.get("window_ms", 1.0)) + t.get("slack_ms", 0)
                ax[2].axhline(dl, color="k", ls="--", lw=0.8, label="deadline")
            ax[2].set_yscale("log")
            ax[2].set_xlabel("time since the twin started (s, one point per window)")
            ax[2].set_ylabel("ms")
            ax[2].legend(loc="upper right", fontsize=8)
        fig.suptitle("%s: %s deadline misses in %s windows" % (title, t.get("deadline_misses"), t.get("windows")))
        fig.tight_layout()
        fig.savefig(os.path.join(run, "twin_timing.png"), dpi=110)
        plt.close(fig)
    # weights
    W = f["weights/W"][:]
    if len(W):
        i0 = 0
        if changes:
            i0 = max(0, np.searchsorted(f["weights/t_ms"][:] * 1e-3, changes[0][0]) - 1)
        fig, ax = plt.subplots(1, 3, figsize=(13, 4))
        vm = np.percentile(np.abs(W[-1]), 99) or 1
        for a, M, name in ((ax[0], W[i0], "W at %.0f s" % (f["weights/t_ms"][i0] * 1e-3)),
                           (ax[1], W[-1], "W at the end"),
                           (ax[2], W[-1] - W[i0], "change")):
            im = a.imshow(M, cmap="RdBu_r", vmin=-vm, vmax=vm)
            a.set_title(name)
            a.set_xlabel("source electrode j")
        ax[0].set_ylabel("target electrode e")
        fig.colorbar(im, ax=ax, shrink=0.8)
        fig.savefig(os.path.join(run, "twin_weights.png"), dpi=110)
        plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run")
    ap.add_argument("--truth")
    ap.add_argument("--fit-s", type=float)
    ap.add_argument("--bin-ms", type=float, default=10.0)
    ap.add_argument("--ntwin", default=os.path.join(HERE, "..", "build", "src", "ntwin"))
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--open-loop")
    ap.add_argument("--summary", action="store_true")
    a = ap.parse_args()
    tpath, rpath = os.path.join(a.run, "twin.h5"), os.path.join(a.run, "report.json")
    if not os.path.exists(tpath) or not os.path.exists(rpath):
        fail("%s: no twin.h5 or report.json (is it a twin run?)" % a.run)
    f = h5py.File(tpath, "r")
    rep = json.load(open(rpath))
    res = {}
    nch = len(f["layout/channel_id"])
    dur = rep.get("t_sim_ms", 0) * 1e-3
    res["bursts_recorded"] = bursts(a.ntwin, f["bio/channel"][:], f["bio/t_ms"][:], nch, dur)
    res["bursts_twin"] = bursts(a.ntwin, f["predicted/channel"][:], f["predicted/t_ms"][:], nch, dur)
    fit = a.fit_s
    if fit is None:
        try:
            cfg = json.load(open(rep["config"]))
            fit = cfg.get("twin", {}).get("assimilate", {}).get("until_s")
        except (OSError, ValueError, KeyError):
            fit = None
    if fit:
        res["heldout"] = heldout(f, fit, a.bin_ms)
    changes = truth_eval(f, a.truth, res) if a.truth else []
    t = rep.setdefault("twin", {})
    if a.open_loop:
        ref = json.load(open(os.path.join(a.open_loop, "report.json")))["twin"]
        br = t.setdefault("burst_rate_hz", {})
        br["open_loop"] = ref["burst_rate_hz"].get("open_loop")
        res["open_loop_run"] = {"dir": a.open_loop, "burst_rate_hz": br["open_loop"],
                                "gamma_steady": ref.get("gamma_steady"),
                                "gamma_symmetric_steady": ref.get("gamma_symmetric_steady"),
                                "rate_corr_steady": ref.get("rate_corr_steady"),
                                "deadline_misses": ref.get("deadline_misses"),
                                "windows": ref.get("windows"), "lag_ms": ref.get("lag_ms"),
                                "late_events": ref.get("late_events")}
        # the reference run's own culture: its hidden change, scored alike
        ref_truth = os.path.join(a.open_loop, "culture", "culture.h5")
        if a.truth and os.path.exists(ref_truth):
            ro = {}
            with h5py.File(os.path.join(a.open_loop, "twin.h5"), "r") as fo:
                truth_eval(fo, ref_truth, ro)
            res["open_loop_run"]["changes"] = ro.get("changes", [])
        def own(d):  # the culture's own bursts within the twin's run
            try:
                g = h5py.File(os.path.join(d, "culture", "culture.h5"), "r")
                ft = h5py.File(os.path.join(d, "twin.h5"), "r")
            except OSError:
                return None
            B0, T = float(ft.attrs["B0_us"]), json.load(open(os.path.join(d, "report.json")))["t_sim_ms"] * 1e3
            st = g["mea/bursts/start_us"][:]
            n = int(np.sum((st >= B0) & (st < B0 + T)))
            return {"bursts": n, "seconds": T * 1e-6, "rate_hz": n / (T * 1e-6) if T else None}
        res["culture_bursts_runs"] = {"closed_loop": own(a.run), "open_loop": own(a.open_loop)}
    t["evaluation"] = res
    if res.get("changes"):
        t["retrack_s"] = [c["retrack_s"] for c in res["changes"]]
        cs = [c["weight_change_corr"] for c in res["changes"] if c["weight_change_corr"] is not None]
        t["weight_change_corr"] = cs[0] if len(cs) == 1 else (cs or None)
    tmp = rpath + ".tmp"
    with open(tmp, "w") as o:
        json.dump(rep, o, indent=2)
    os.replace(tmp, rpath)
    with open(os.path.join(a.run, "eval.json"), "w") as o:
        json.dump(res, o, indent=2)
    if not a.no_plots:
        plots(a.run, f, rep, changes, res)
    if a.summary:
        summary(rep, res)
        return
    br, bw = res["bursts_recorded"], res["bursts_twin"]
    print("twin_eval: bursts recorded %d (%.3f Hz), twin %d (%.3f Hz)"
          % (br["bursts"], br["burst_rate_hz"], bw["bursts"], bw["burst_rate_hz"]))
    h = res.get("heldout")
    if h:
        print("twin_eval: held out %.0f-%.0f s: rate corr twin %.3f vs baseline %.3f; Gamma %.3f"
              % (h["from_s"], h["to_s"], h["rate_corr_twin"] or np.nan,
                 h["rate_corr_baseline"] or np.nan, h["gamma_twin"] or np.nan))
    cb = res.get("culture_bursts")
    if cb:
        print("twin_eval: culture's own bursts: %.3f Hz with the loop (%d in %.0f s), %.3f Hz without"
              " (%d in %.0f s)" % (cb["rate_closed_loop_hz"] or 0, cb["closed_loop"], cb["closed_loop_s"],
                                   cb["rate_open_loop_hz"] or 0, cb["open_loop"], cb["open_loop_s"]))
    for c in res.get("changes", []):
        print("twin_eval: change '%s' at %.1f s: Gamma %.3f before, min %.3f after, retrack %s s,"
              " weight-change corr %s" % (c["kind"], c["t_s"], c["gamma_before"],
                                           c["gamma_min_after"] if c["gamma_min_after"] is not None else np.nan,
                                           c["retrack_s"], c["weight_change_corr"]))


def summary(rep, res):
    r, t = rep, rep["twin"]
    f = lambda d: "p50 %.2f / p99 %.2f / max %.2f ms" % (d["p50"] or 0, d["p99"] or 0, d["max"] or 0)
    print("")
    print("Neuromorphic Twin demo: %.1f s of biology, %s, twin of %d neurons on %d ranks, window %g ms"
          % (r["t_sim_ms"] / 1e3, t["regime"], r["neurons"], r["ranks"], r["window_ms"]))
    ol = res.get("open_loop_run") or {}
    print("  fidelity   Gamma (causal, 5 ms) %.3f in steady state, population-rate corr %.3f"
          % (t["gamma_steady"] or 0, t["rate_corr_steady"] or 0))
    if ol:
        print("             loop off (reference run): Gamma %.3f, population-rate corr %.3f"
              % (ol.get("gamma_steady") or 0, ol.get("rate_corr_steady") or 0))
    def change_lines(cs, who):
        for c in cs:
            print("  change     %s at %.1f s (hidden)%s: Gamma %.3f before, %.3f at worst after, back to 90 %% in %s s;"
                  % (c["kind"], c["t_s"], who, c["gamma_before"],
                     c["gamma_min_after"] if c["gamma_min_after"] is not None else float("nan"), c["retrack_s"]))
            print("             twin vs true weight change by electrode group: r = %s"
                  % ("%.2f" % c["weight_change_corr"] if c["weight_change_corr"] is not None else "n/a"))
    change_lines(res.get("changes", []), "")
    change_lines(ol.get("changes", []), ", loop off")
    br = t.get("burst_rate_hz", {})
    cb = res.get("culture_bursts_runs") or {}
    cl, olb = cb.get("closed_loop"), cb.get("open_loop")
    print("  loop       network bursts %.3f Hz with the loop, %.3f Hz without (recorded spikes, ntwin's detector)"
          % (br.get("closed_loop") or 0, br.get("open_loop") or 0))
    if cl and olb:
        print("             culture's own count: %d in %.0f s with, %d in %.0f s without; %d stimulations sent"
              % (cl["bursts"], cl["seconds"], olb["bursts"], olb["seconds"], t["stims_sent"]))
    print("  timing     lag %s; %d deadline misses in %d windows; %d late events"
          % (f(t["lag_ms"]), t["deadline_misses"], t["windows"], t["late_events"]))
    if ol.get("windows"):
        print("             loop off: lag %s; %d deadline misses in %d windows; %d late events"
              % (f(ol["lag_ms"]), ol["deadline_misses"], ol["windows"], ol["late_events"]))
    print("             loop latency (event received -> decision) %s" % f(t["latency_ms"]))
    print("  pictures   twin_raster.png twin_fidelity.png twin_timing.png twin_weights.png culture/culture.png")


if __name__ == "__main__":
    main()

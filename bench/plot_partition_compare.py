#!/usr/bin/python3
"""bench/partition_compare.csv -> a Markdown table of medians (stdout) and one
PNG: cross-rank spike keys per spike, imbalance (compute and events), comm
share and wall time, per config and rank count, one bar per partition.

Usage: /usr/bin/python3 bench/plot_partition_compare.py CSV PNG
"""
import csv
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PARTS = ("round_robin", "block", "graph")


def main():
    src, png = sys.argv[1], sys.argv[2]
    rows = list(csv.DictReader(open(src)))
    groups = {}
    for r in rows:
        groups.setdefault((r["config"], int(r["ranks"]), r["partition"]), []).append(r)
    med = lambda v, k: statistics.median(float(x[k]) for x in v)  # noqa: E731
    cases = sorted({(c, n) for c, n, _ in groups})
    print("| network | ranks | partition | cross-rank keys | per spike | vs round_robin "
          "| imbalance (compute) | imbalance (events) | comm share | wall_sim_s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for c, n in cases:
        rr = groups.get((c, n, "round_robin"))
        for p in PARTS:
            v = groups.get((c, n, p))
            if not v:
                continue
            keys = med(v, "spike_keys_remote")
            rel = f"{100 * (keys / med(rr, 'spike_keys_remote') - 1):+.0f} %" if rr else "-"
            over = " (oversubscribed)" if v[0]["oversubscribed"] == "1" else ""
            print(f"| {c.split('/')[-1].removesuffix('.json')} | {n}{over} | {p} | {keys:,.0f} "
                  f"| {med(v, 'spike_keys_remote_per_spike'):.2f} | {rel} "
                  f"| {med(v, 'imbalance'):.2f} | {med(v, 'imbalance_events'):.3f} "
                  f"| {100 * med(v, 'comm_share'):.0f} % | {med(v, 'wall_sim_s'):.2f} |")
    metrics = [("spike_keys_remote_per_spike", "cross-rank spike keys per spike"),
               ("imbalance", "imbalance: max/mean compute time"),
               ("imbalance_events", "max/mean events per rank"),
               ("comm_share", "comm share of wall"),
               ("wall_sim_s", "wall_sim_s")]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 4.2))
    width = 0.8 / len(PARTS)
    labels = [f"{c.split('/')[-1].removesuffix('.json')}\n{n} ranks" for c, n in cases]
    for ax, (k, title) in zip(axes, metrics):
        for i, p in enumerate(PARTS):
            ys = [med(groups[(c, n, p)], k) if (c, n, p) in groups else 0 for c, n in cases]
            ax.bar([x + (i - 1) * width for x in range(len(cases))], ys, width, label=p)
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_title(title, fontsize=9)
        if k.startswith("imbalance"):
            ax.set_ylim(bottom=0.9)
    axes[0].legend(fontsize=8)
    over = any(r["oversubscribed"] == "1" for r in rows)
    loads = [float(r["load_avg_1min"]) for r in rows]
    fig.suptitle(f"partition strategies ({len(rows)} runs; load avg {min(loads):.1f}-{max(loads):.1f}"
                 + ("; runs with more ranks than cores are oversubscribed: times are not scaling data"
                    if over else "") + ")", fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""CSV/JSON plumbing for bench/brunel.sh (stdlib only).

  report_to_csv.py append RESULTS.csv [--report report.json] [--set KEY=VALUE ...]
      Add one row: the bench's own columns (--set, in the order given), then
      every scalar field of report.json, rates_hz flattened to rate_hz_<pop>,
      and the per-rank arrays joined with ';'. A run that failed has no report;
      its row carries only the --set columns. If the row brings a column the
      file does not have yet, the file is rewritten with the union header.

  report_to_csv.py summary RESULTS.csv [--target-ranks 2] [--target-wall-s 1.5]
                   [--target-bytes-per-synapse 12] [--target-config brunel.json]
                   [--target-t-sim-ms 1000]
      Print the per-rank-count table and the verdict against the targets.
"""
import argparse
import csv
import json
import os
import statistics
import sys

ARRAY_FIELDS = ("comm_s_per_rank", "peak_rss_bytes", "binding")


def flatten_report(rep):
    row = {}
    for k, v in rep.items():
        if isinstance(v, bool):
            row[k] = int(v)
        elif isinstance(v, (int, float, str)) or v is None:
            row[k] = "" if v is None else v
        elif k == "rates_hz" and isinstance(v, dict):
            for pop, hz in v.items():
                row["rate_hz_" + pop] = hz
        elif isinstance(v, list):
            row[k] = ";".join(str(x) for x in v)
            if k == "peak_rss_bytes" and v:
                row["peak_rss_max_bytes"] = max(v)
        else:  # unexpected nested object: keep it, as JSON
            row[k] = json.dumps(v, separators=(",", ":"))
    return row


def read_csv(path):
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return [], []
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        return list(r.fieldnames or []), list(r)


def cmd_append(a):
    row = {}
    for kv in a.set or []:
        k, sep, v = kv.partition("=")
        if not sep:
            sys.exit("report_to_csv: --set wants KEY=VALUE, got %r" % kv)
        row[k] = v
    if a.report and os.path.exists(a.report):
        with open(a.report) as f:
            rep = json.load(f)
        for k, v in flatten_report(rep).items():
            # The bench's columns win (e.g. ranks is known even without a report);
            # a disagreement would be a bug worth seeing, so keep both.
            if k in row and str(row[k]) != str(v):
                row["report_" + k] = v
            else:
                row.setdefault(k, v)
    header, rows = read_csv(a.csv)
    new_cols = [k for k in row if k not in header]
    rows.append(row)
    if new_cols or not header:
        header = header + new_cols
        tmp = a.csv + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=header, restval="")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, a.csv)
    else:
        with open(a.csv, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=header, restval="").writerow(row)


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def fmt_si(x):
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return "%.3g %s" % (x / div, suf)
    return "%.3g" % x


def cmd_summary(a):
    _, rows = read_csv(a.csv)
    if not rows:
        print("no rows in %s" % a.csv)
        return 1
    ok = [r for r in rows if r.get("status") == "ok"]
    failed = len(rows) - len(ok)
    groups = {}
    for r in ok:
        key = (int(r["ranks"]), r.get("oversubscribed") == "1")
        groups.setdefault(key, []).append(r)

    def med(rs, col):
        v = [fnum(r.get(col)) for r in rs]
        v = [x for x in v if x is not None]
        return (statistics.median(v), min(v), max(v)) if v else (None, None, None)

    hdr = ("ranks", "n", "wall_sim_s median (min-max)", "RTF", "events/s",
           "events/s/core", "comm share", "bytes/syn", "build_s")
    lines = []
    for (ranks, over), rs in sorted(groups.items()):
        w = med(rs, "wall_sim_s")
        lines.append((
            "%d%s" % (ranks, " OVERSUB" if over else ""),
            str(len(rs)),
            "%.3f (%.3f-%.3f)" % w,
            "%.3f" % med(rs, "rtf")[0],
            fmt_si(med(rs, "events_per_s")[0]),
            fmt_si(med(rs, "events_per_s")[0] / ranks),
            "%.1f%%" % (100 * med(rs, "comm_share")[0]),
            "%.2f" % med(rs, "bytes_per_synapse")[0],
            "%.2f" % med(rs, "wall_build_s")[0],
        ))
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(hdr)]
    sep = "  "
    print(sep.join(h.ljust(widths[i]) for i, h in enumerate(hdr)))
    print(sep.join("-" * wdt for wdt in widths))
    for l in lines:
        print(sep.join(c.ljust(widths[i]) for i, c in enumerate(l)))
    if failed:
        print("\n%d run(s) FAILED (status != ok); see their run directories." % failed)
    if any(r.get("oversubscribed") == "1" for r in ok):
        print("\nOVERSUB rows ran more ranks than cores: their timings are NOT scaling data.")
    busy = [fnum(r.get("bg_cpu_busy_before")) for r in rows]
    busy = [x for x in busy if x is not None]
    if busy and max(busy) > a.busy_warn:
        print("\nWARNING: other processes kept the CPUs busy before some runs (up to %.0f%%, "
              "median %.0f%% of all %s CPUs, measured over 1 s before each run): the "
              "timings are pessimistic and noisy; rerun on a quiet machine for numbers "
              "to quote." % (100 * max(busy), 100 * statistics.median(busy),
                             rows[0].get("nproc", "?")))

    # Verdict, from the measurements only.
    print("\nVerdict against the engine issue's targets (measured, medians over reps):")
    cfgs = {os.path.basename(r.get("config", "")) for r in ok}
    tsims = {fnum(r.get("t_sim_ms")) for r in ok}
    applicable = cfgs == {a.target_config} and tsims == {a.target_t_sim_ms}
    if not applicable:
        print("  NOT APPLICABLE: the targets are for %s over %g ms; this CSV has "
              "config(s) %s and t_sim_ms %s." % (a.target_config, a.target_t_sim_ms,
                                                  sorted(cfgs), sorted(tsims)))
    tr = [r for (ranks, over), rs in groups.items() if ranks == a.target_ranks and not over
          for r in rs]
    if tr:
        m, lo, hi = med(tr, "wall_sim_s")
        verdict = "PASS" if m <= a.target_wall_s else "FAIL"
        print("  wall_sim_s on %d ranks: median %.3f s (min %.3f, max %.3f) vs target "
              "<= %g s -> %s%s" % (a.target_ranks, m, lo, hi, a.target_wall_s, verdict,
                                   "" if applicable else " (not applicable)"))
        shared = [r for r in tr if (fnum(r.get("bg_cpu_busy_before")) or 0) > a.busy_warn]
        if shared:
            quiet = [r for r in tr if r not in shared]
            if quiet:
                qm, qlo, qhi = med(quiet, "wall_sim_s")
                print("    caveat: %d of %d runs started on a busy machine; the %d that did not: "
                      "median %.3f s (min %.3f, max %.3f)" % (len(shared), len(tr), len(quiet),
                                                              qm, qlo, qhi))
            else:
                print("    caveat: every %d-rank run started on a busy machine" % a.target_ranks)
    else:
        over_only = any(ranks == a.target_ranks for ranks, _ in groups)
        print("  wall_sim_s on %d ranks: NO VERDICT (%s)" % (
            a.target_ranks, "only oversubscribed runs" if over_only else "no successful %d-rank runs" % a.target_ranks))
    if ok:
        worst = max(fnum(r["bytes_per_synapse"]) for r in ok if fnum(r.get("bytes_per_synapse")) is not None)
        permed = {ranks: med(rs, "bytes_per_synapse")[0] for (ranks, _), rs in sorted(groups.items())}
        verdict = "PASS" if worst <= a.target_bytes_per_synapse else "FAIL"
        print("  bytes/synapse: worst run %.2f (medians by ranks: %s) vs target <= %g -> %s%s" % (
            worst, ", ".join("%d: %.2f" % kv for kv in permed.items()),
            a.target_bytes_per_synapse, verdict, "" if applicable else " (not applicable)"))
    return 0 if not failed else 1


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    ap = sub.add_parser("append")
    ap.add_argument("csv")
    ap.add_argument("--report")
    ap.add_argument("--set", action="append", metavar="KEY=VALUE")
    sp = sub.add_parser("summary")
    sp.add_argument("csv")
    sp.add_argument("--target-ranks", type=int, default=2)
    sp.add_argument("--target-wall-s", type=float, default=1.5)
    sp.add_argument("--target-bytes-per-synapse", type=float, default=12.0)
    sp.add_argument("--target-config", default="brunel.json")
    sp.add_argument("--target-t-sim-ms", type=float, default=1000.0)
    sp.add_argument("--busy-warn", type=float, default=0.10,
                    help="warn when bg_cpu_busy_before exceeded this fraction")
    a = p.parse_args()
    return cmd_append(a) if a.cmd == "append" else cmd_summary(a)


if __name__ == "__main__":
    sys.exit(main() or 0)

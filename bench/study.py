#!/usr/bin/python3
"""Scaling studies of ntwin, driven by a small study file (JSON).

  study.py run STUDY.json [--out DIR] [--launcher auto|mpirun|srun] [--no-build]
                          [--settle S] [--timeout S]
      Run every run of the study in turn (reps outermost), one CSV row per run
      in DIR/results.csv (kept up to date after every run), then the summary
      table (DIR/summary.txt) and the plots (DIR/study.png). A failed run is
      reported (which one, its stderr tail) and the study goes on; the exit
      status is 1 if any run failed.
  study.py check STUDY.json            validate only; print the runs
  study.py count STUDY.json            print "<number of runs> <max ranks>"
  study.py run-one STUDY.json --index I --out DIR [--launcher ...]
      One run (a Slurm array task): writes DIR/rows/<I>.csv only.
  study.py merge STUDY.json --out DIR
      DIR/rows/*.csv -> DIR/results.csv, summary.txt, study.png.

Study file fields (keys starting with "_" are comments):
  networks    list: "brunel", "brunel-small", "coba", or paths to config files
  mode        "strong" (default: fixed size, more ranks) or "weak" (fixed size
              per rank: the Brunel generator makes N = scale x ranks x 10,000,
              in-degrees fixed; networks without a generator are skipped)
  scales      list of numbers, default [1]: size factor of the network (weak:
              per rank); only where a generator exists (brunel, brunel-small),
              other networks run at scale 1 only and other scales are skipped
  ranks       list of positive integers (MPI ranks)
  partitions  list of "round_robin" / "block" / "graph", default ["round_robin"]
  comms       list of comm backends, default ["mpi"] (the only one so far)
  reps        repetitions, default 3
  t_stop      biological time per run in ms, default: the config's
  bind        ntwin's binding, "core" (default), "numa" or "none"
  seed        optional seed override
  name        optional; default: the file name
"""
import argparse
import csv
import glob
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen_brunel  # noqa: E402
import report_to_csv  # noqa: E402

NAMED = {  # name -> (config, generator scale of the config or None)
    "brunel": ("configs/brunel.json", 1.0),
    "brunel-small": ("configs/brunel-small.json", 0.25),
    "coba": ("configs/coba.json", None),
}
FIELDS = {"name", "mode", "networks", "scales", "ranks", "partitions", "comms", "reps",
          "t_stop", "bind", "seed"}
PARTITIONS = ("round_robin", "block", "graph")
COMMS = ("mpi",)
BINDS = ("core", "numa", "none")


class StudyError(Exception):
    pass


def fail(path, field, what, got=None):
    msg = "%s: %s: %s" % (path, field, what)
    if got is not None:
        msg += " (got %s)" % json.dumps(got)
    raise StudyError(msg)


def config_neurons(path):
    try:
        with open(path) as f:
            cfg = json.load(f)
        sizes = [p["size"] for p in cfg["populations"]]
        if all(isinstance(x, int) and x > 0 for x in sizes):
            return sum(sizes)
        return None  # ntwin reports the bad size itself
    except Exception:  # SONATA networks or a config ntwin itself will judge
        return None


def resolve_network(study_path, net):
    if net in NAMED:
        return os.path.join(ROOT, NAMED[net][0]), NAMED[net][1]
    for base in (os.getcwd(), os.path.dirname(os.path.abspath(study_path)), ROOT):
        p = os.path.join(base, net)
        if os.path.isfile(p):
            return os.path.abspath(p), None
    return None, None


def load_study(path):
    """Validate the study file; return (study dict, list of runs). Raises StudyError."""
    try:
        with open(path) as f:
            s = json.load(f)
    except OSError as e:
        raise StudyError("%s: cannot read: %s" % (path, e.strerror))
    except json.JSONDecodeError as e:
        raise StudyError("%s: line %d column %d: invalid JSON: %s" % (path, e.lineno, e.colno, e.msg))
    if not isinstance(s, dict):
        fail(path, "(top level)", "must be an object", type(s).__name__)
    for k in s:
        if not k.startswith("_") and k not in FIELDS:
            fail(path, k, "unknown field (known: %s)" % ", ".join(sorted(FIELDS)))

    def intlist(field, default=None):
        v = s.get(field, default)
        if not isinstance(v, list) or not v:
            fail(path, field, "must be a non-empty list", v)
        return v

    mode = s.get("mode", "strong")
    if mode not in ("strong", "weak"):
        fail(path, "mode", 'must be "strong" or "weak"', mode)
    if "networks" not in s:
        fail(path, "networks", "missing (a list of brunel, brunel-small, coba or config paths)")
    nets = intlist("networks")
    if "ranks" not in s:
        fail(path, "ranks", "missing (a list of positive rank counts)")
    ranks = intlist("ranks")
    for i, r in enumerate(ranks):
        if isinstance(r, bool) or not isinstance(r, int) or r <= 0:
            fail(path, "ranks[%d]" % i, "must be a positive integer", r)
    scales = intlist("scales", [1])
    for i, x in enumerate(scales):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or x <= 0:
            fail(path, "scales[%d]" % i, "must be a positive number", x)
    parts = intlist("partitions", ["round_robin"])
    for i, p in enumerate(parts):
        if p not in PARTITIONS:
            fail(path, "partitions[%d]" % i, "unknown partition (known: %s)" % ", ".join(PARTITIONS), p)
    comms = intlist("comms", ["mpi"])
    for i, c in enumerate(comms):
        if c not in COMMS:
            fail(path, "comms[%d]" % i, "unknown or not yet implemented comm backend (known: %s)"
                 % ", ".join(COMMS), c)
    reps = s.get("reps", 3)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps <= 0:
        fail(path, "reps", "must be a positive integer", reps)
    t_stop = s.get("t_stop")
    if t_stop is not None and (isinstance(t_stop, bool) or not isinstance(t_stop, (int, float))
                               or t_stop <= 0):
        fail(path, "t_stop", "must be a positive number of ms", t_stop)
    bind = s.get("bind", "core")
    if bind not in BINDS:
        fail(path, "bind", "must be one of %s" % ", ".join(BINDS), bind)
    seed = s.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        fail(path, "seed", "must be a non-negative integer", seed)
    name = s.get("name") or os.path.splitext(os.path.basename(path))[0]
    if not isinstance(name, str) or "/" in name:
        fail(path, "name", "must be a string without '/'", name)

    # Expand: (network, scale) cases, each with its config per rank count.
    cases, skipped = [], []
    for i, net in enumerate(nets):
        if not isinstance(net, str):
            fail(path, "networks[%d]" % i, "must be a string", net)
        cfg, gscale = resolve_network(path, net)
        if cfg is None:
            fail(path, "networks[%d]" % i, "unknown network: not brunel, brunel-small, coba, "
                 "nor an existing config file", net)
        for j, sc in enumerate(scales):
            if gscale is None and (sc != 1 or mode == "weak"):
                skipped.append("%s at scale %g%s: no generator for this network" % (
                    net, sc, " per rank (weak)" if mode == "weak" else ""))
                continue
            for k, r in enumerate(ranks):
                if gscale is None:
                    n = config_neurons(cfg)
                else:
                    gs = gscale * sc * (r if mode == "weak" else 1)
                    n = sum(int(round(x * gs)) for x in (8000, 2000))
                    try:
                        gen_brunel.generate(gs)
                    except gen_brunel.GenError:
                        fail(path, "scales[%d]" % j, "%s at scale %g on %d rank(s) has fewer neurons "
                             "than its fixed in-degrees need; the smallest scale is %.3g" % (
                                 net, sc, r, gen_brunel.MIN_SCALE / (gs / sc)), sc)
                if n is not None and r > n:
                    fail(path, "ranks[%d]" % k, "more ranks than the %d neurons of %s%s" % (
                        n, net, "" if sc == 1 else " at scale %g" % sc), r)
            cases.append((net, cfg, gscale, sc))
    runs = []
    for rep in range(1, reps + 1):
        for net, cfg, gscale, sc in cases:
            for part in parts:
                for comm in comms:
                    for r in ranks:
                        gs = None if gscale is None else gscale * sc * (r if mode == "weak" else 1)
                        runs.append(dict(index=len(runs), network=net, base_config=cfg,
                                         gen_scale=gs, scale=sc, partition=part, comm=comm,
                                         ranks=r, rep=rep))
    study = dict(path=os.path.abspath(path), name=name, mode=mode, t_stop=t_stop, bind=bind,
                 seed=seed, skipped=skipped, max_ranks=max(ranks), reps=reps)
    return study, runs


def run_id(run):
    return "%s-s%g-%s-%s-np%d-rep%d" % (run["network"].replace("/", "_").replace(".json", ""),
                                        run["scale"], run["partition"], run["comm"],
                                        run["ranks"], run["rep"])


def config_for(run, out):
    """The config file a run uses: the named/given one, or a generated one."""
    base = run["base_config"]
    if run["gen_scale"] is None and run["comm"] == "mpi":
        return base
    if run["gen_scale"] is not None:
        cfg = gen_brunel.generate(run["gen_scale"])
        name = "brunel-x%g" % run["gen_scale"]
    else:
        with open(base) as f:
            cfg = json.load(f)
        name = os.path.splitext(os.path.basename(base))[0]
    cfg.setdefault("simulation", {})["comm"] = run["comm"]
    path = os.path.join(out, "configs", "%s-%s.json" % (name, run["comm"]))
    gen_brunel.write(cfg, path)
    return path


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return ""


def machine():
    lscpu = sh("lscpu")
    field = lambda k: next((l.split(":", 1)[1].strip() for l in lscpu.splitlines()
                            if l.startswith(k + ":")), "")
    commit = sh("git -C %s rev-parse --short HEAD" % shlex.quote(ROOT)) or "unknown"
    if sh("git -C %s status --porcelain --untracked-files=no" % shlex.quote(ROOT)):
        commit += "-dirty"
    return dict(host=socket.gethostname(), nproc=str(os.cpu_count()), cpu_model=field("Model name"),
                sockets=field("Socket(s)"), cores_per_socket=field("Core(s) per socket"),
                numa_nodes=field("NUMA node(s)"), git_commit=commit,
                slurm_job_id=os.environ.get("SLURM_ARRAY_JOB_ID", os.environ.get("SLURM_JOB_ID", "")),
                slurm_nodes=os.environ.get("SLURM_JOB_NODELIST", ""))


def cpu_busy(seconds=0.5):
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)
    i0, t0 = snap()
    time.sleep(seconds)
    i1, t1 = snap()
    return 1 - (i1 - i0) / (t1 - t0) if t1 > t0 else 0.0


def launcher_choice(want):
    if want != "auto":
        return want
    if os.environ.get("SLURM_JOB_ID") and shutil.which("srun"):
        out = sh("srun --mpi=list 2>&1")
        if "pmix" in out:
            return "srun"
    return "mpirun"


def ntasks_available():
    n = os.environ.get("SLURM_NTASKS")
    return int(n) if n and n.isdigit() else None


def tail(path, n=6):
    """The last lines of a run's stderr, ntwin's own error lines first (mpirun's banner
    about the failed process follows them and would hide them)."""
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip() for l in f if l.strip() and not set(l.strip()) <= set("-")]
    except OSError:
        return []
    errs = list(dict.fromkeys(l for l in lines if l.startswith("ntwin: error")))
    return errs + [l for l in lines[-n:] if l not in errs]


def run_one(study, run, out, launcher, ntwin, settle, timeout):
    """Run one run; write out/rows/<index>.csv; return (status, row)."""
    m = machine()
    rid = run_id(run)
    rdir = os.path.join(out, "runs", rid)
    os.makedirs(rdir, exist_ok=True)
    for f in ("report.json", "spikes.h5"):  # a rerun must not report an earlier run's files
        if os.path.exists(os.path.join(rdir, f)):
            os.remove(os.path.join(rdir, f))
    np_ = run["ranks"]
    nproc = os.cpu_count()
    over = 0
    lch = launcher_choice(launcher)
    avail = ntasks_available()
    cfg = config_for(run, out)
    args = [ntwin, "run", cfg, "--out", rdir, "--partition", run["partition"],
            "--bind", study["bind"], "--quiet"]
    if study["t_stop"] is not None:
        args += ["--t-stop", "%g" % study["t_stop"]]
    if study["seed"] is not None:
        args += ["--seed", str(study["seed"])]
    if lch == "srun":
        cmd = ["srun", "--mpi=pmix", "--cpu-bind=none", "-n", str(np_)] + args
    else:
        cmd = ["mpirun", "--bind-to", "none"]
        if np_ > nproc and not os.environ.get("SLURM_JOB_ID"):
            cmd.append("--oversubscribe")
            over = 1
        cmd += ["-n", str(np_)] + args
    if settle:
        time.sleep(settle)
    busy = cpu_busy()
    load1 = open("/proc/loadavg").read().split()[0]
    when = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    t0 = time.time()
    errlog = os.path.join(rdir, "stderr.log")
    if avail is not None and np_ > avail:
        rc, status = None, "failed(ranks %d > %d Slurm tasks)" % (np_, avail)
        with open(errlog, "w") as f:
            f.write("study: run needs %d ranks but the allocation has %d tasks\n" % (np_, avail))
    else:
        with open(os.path.join(rdir, "stdout.log"), "w") as so, open(errlog, "w") as se:
            try:
                rc = subprocess.run(cmd, stdout=so, stderr=se, env=env, cwd=ROOT,
                                    timeout=timeout).returncode
                status = "ok" if rc == 0 and os.path.exists(os.path.join(rdir, "report.json")) \
                    else "failed(rc=%d)" % rc
            except subprocess.TimeoutExpired:
                rc, status = None, "failed(timeout %gs)" % timeout
    t1 = time.time()
    err = tail(errlog)
    sets = [("run_index", run["index"]), ("run_id", rid), ("study", study["name"]),
            ("study_file", study["path"]), ("mode", study["mode"]), ("network", run["network"]),
            ("scale", run["scale"]), ("gen_scale", "" if run["gen_scale"] is None else run["gen_scale"]),
            ("ranks", np_), ("rep", run["rep"]), ("partition", run["partition"]),
            ("comm", run["comm"]), ("oversubscribed", over), ("status", status),
            ("error_tail", " | ".join(err[:3]) if status != "ok" else ""),
            ("launcher", lch), ("git_commit", m["git_commit"]), ("host", m["host"]),
            ("nproc", m["nproc"]), ("cpu_model", m["cpu_model"]),
            ("slurm_job_id", m["slurm_job_id"]), ("slurm_nodes", m["slurm_nodes"]),
            ("date", when), ("bg_cpu_busy_before", "%.3f" % busy), ("load1_before", load1),
            ("wall_total_s", "%.3f" % (t1 - t0)), ("run_dir", rdir),
            ("command", " ".join(shlex.quote(c) for c in cmd))]
    rows_dir = os.path.join(out, "rows")
    os.makedirs(rows_dir, exist_ok=True)
    rowcsv = os.path.join(rows_dir, "%05d.csv" % run["index"])
    if os.path.exists(rowcsv):
        os.remove(rowcsv)
    a = argparse.Namespace(csv=rowcsv, report=os.path.join(rdir, "report.json") if status == "ok" else None,
                           set=["%s=%s" % kv for kv in sets])
    report_to_csv.cmd_append(a)
    return status, err


def merge(out):
    """rows/*.csv -> results.csv (union header, run order). Returns the rows."""
    header, rows = [], []
    for p in sorted(glob.glob(os.path.join(out, "rows", "*.csv"))):
        h, rs = report_to_csv.read_csv(p)
        header += [c for c in h if c not in header]
        rows += rs
    rows.sort(key=lambda r: (int(r.get("run_index", 0)), r.get("date", "")))
    tmp = os.path.join(out, "results.csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, restval="")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, os.path.join(out, "results.csv"))
    return rows


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def summary(rows, out):
    """The per-group table with medians, spread and parallel efficiency."""
    ok = [r for r in rows if r.get("status") == "ok"]
    groups = {}
    for r in ok:
        key = (r["network"], fnum(r["scale"]), r["partition"], r["comm"],
               int(r["ranks"]), r.get("oversubscribed") == "1")
        groups.setdefault(key, []).append(r)
    med = lambda rs, c: statistics.median([fnum(r[c]) for r in rs if fnum(r.get(c)) is not None])
    mode = rows[0].get("mode", "strong") if rows else "strong"
    base = {}
    for k, rs in groups.items():
        if not k[5]:
            s = k[:4]
            if s not in base or k[4] < base[s][0]:
                base[s] = (k[4], med(rs, "wall_sim_s"))
    hdr = ["network", "scale", "partition", "ranks", "n", "neurons", "wall_sim_s med (min-max)",
           "RTF", "efficiency", "events/s/core", "comm share", "B/syn"]
    lines = []
    for k in sorted(groups):
        rs = groups[k]
        w = [fnum(r["wall_sim_s"]) for r in rs]
        m = statistics.median(w)
        b = base.get(k[:4])
        if b and not k[5]:
            eff = (b[1] * b[0] / (k[4] * m)) if mode == "strong" else b[1] / m
            effs = "%.2f" % eff
        else:
            effs = "-"
        lines.append([k[0], "%g" % k[1], k[2], "%d%s" % (k[4], " OVERSUB" if k[5] else ""),
                      str(len(rs)), rs[0].get("neurons", "?"),
                      "%.3f (%.3f-%.3f)" % (m, min(w), max(w)), "%.3f" % med(rs, "rtf"), effs,
                      report_to_csv.fmt_si(med(rs, "events_per_s") / k[4]),
                      "%.1f%%" % (100 * med(rs, "comm_share")), "%.2f" % med(rs, "bytes_per_synapse")])
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(hdr)]
    txt = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(hdr)),
           "  ".join("-" * x for x in widths)]
    txt += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(l)) for l in lines]
    failed = [r for r in rows if r.get("status") != "ok"]
    if mode == "weak":
        txt.append("\nweak scaling: the network grows with the ranks; efficiency = T(smallest ranks) / T(P)")
    else:
        txt.append("\nstrong scaling: efficiency = T(P0) * P0 / (P * T(P)), P0 = smallest rank count")
    if any(r.get("oversubscribed") == "1" for r in ok):
        txt.append("OVERSUB rows ran more ranks than cores: their timings are NOT scaling data "
                   "(kept, marked, no efficiency).")
    busy = [fnum(r.get("bg_cpu_busy_before")) for r in rows if fnum(r.get("bg_cpu_busy_before")) is not None]
    if busy and max(busy) > 0.10:
        txt.append("WARNING: the CPUs were busy before some runs (max %.0f%%, median %.0f%%): "
                   "timings pessimistic and noisy." % (100 * max(busy), 100 * statistics.median(busy)))
    for r in failed:
        txt.append("FAILED run %s (%s): %s; stderr tail: %s" % (r.get("run_index"), r.get("run_id"),
                                                                r.get("status"), r.get("error_tail")))
    return "\n".join(txt), len(failed)


def finish(study, out):
    rows = merge(out)
    m = machine()
    text, nfail = summary(rows, out)
    head = ["== study %s (%s scaling): %s" % (study["name"], study["mode"], study["path"]),
            "   machine: %s, %s logical CPUs (%s socket(s) x %s core(s), %s NUMA node(s)), host %s"
            % (m["cpu_model"] or "?", m["nproc"], m["sockets"] or "?", m["cores_per_socket"] or "?",
               m["numa_nodes"] or "?", m["host"]),
            "   ntwin commit %s; results %s" % (m["git_commit"], os.path.join(out, "results.csv"))]
    for s in study["skipped"]:
        head.append("   skipped: " + s)
    full = "\n".join(head) + "\n\n" + text + "\n"
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(full)
    print(full)
    if any(r.get("status") == "ok" for r in rows):
        r = subprocess.run([sys.executable, os.path.join(HERE, "plot_study.py"),
                            os.path.join(out, "results.csv")], capture_output=True, text=True)
        if r.returncode == 0:
            print("plots: " + r.stdout.strip().replace("\n", ", "))
        else:
            print("plot_study failed:\n" + r.stderr, file=sys.stderr)
            nfail += 1
    return nfail


def build(no_build):
    ntwin = os.environ.get("NTWIN", os.path.join(ROOT, "build", "src", "ntwin"))
    if not no_build and ntwin == os.path.join(ROOT, "build", "src", "ntwin"):
        if not os.path.exists(os.path.join(ROOT, "build", "build.ninja")):
            subprocess.run(["meson", "setup", "build", "--buildtype=release"], cwd=ROOT, check=True,
                           stdout=sys.stderr)
        subprocess.run(["meson", "compile", "-C", "build"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    if not os.access(ntwin, os.X_OK):
        sys.exit("study: error: no ntwin binary at %s (build it, or set NTWIN)" % ntwin)
    return ntwin


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=("run", "check", "count", "run-one", "merge"))
    p.add_argument("study")
    p.add_argument("--out")
    p.add_argument("--index", type=int)
    p.add_argument("--launcher", default="auto", choices=("auto", "mpirun", "srun"))
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--settle", type=float, default=0.5, help="seconds of pause before each run")
    p.add_argument("--timeout", type=float, default=1800, help="seconds before a run is killed")
    p.add_argument("--max-oversubscribe", type=float, default=4,
                   help="outside Slurm, refuse rank counts above this many times the CPUs (default 4)")
    a = p.parse_args()
    try:
        study, runs = load_study(a.study)
        if a.cmd in ("run", "run-one") and not os.environ.get("SLURM_JOB_ID"):
            with open(a.study) as f:
                rk = json.load(f)["ranks"]
            for i, r in enumerate(rk):
                if r > a.max_oversubscribe * os.cpu_count():
                    fail(a.study, "ranks[%d]" % i, "%d ranks would oversubscribe the %d CPUs of this "
                         "machine more than %gx (run it under Slurm, or pass --max-oversubscribe)"
                         % (r, os.cpu_count(), a.max_oversubscribe), r)
    except StudyError as e:
        print("study: error: %s" % e, file=sys.stderr)
        return 2
    if a.cmd == "count":
        print(len(runs), study["max_ranks"])
        return 0
    if a.cmd == "check":
        for r in runs:
            print("%4d  %s" % (r["index"], run_id(r)))
        for s in study["skipped"]:
            print("skipped: " + s)
        print("%d runs, up to %d ranks" % (len(runs), study["max_ranks"]))
        return 0
    out = a.out or os.path.join(ROOT, "bench", "out", "%s-%s" % (study["name"], time.strftime("%Y%m%d-%H%M%S")))
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    if a.cmd == "merge":
        return 1 if finish(study, out) else 0
    ntwin = build(a.no_build or a.cmd == "run-one")
    argv = " ".join(shlex.quote(x) for x in [os.path.relpath(sys.argv[0])] + sys.argv[1:])
    if a.cmd == "run-one":
        if a.index is None or not 0 <= a.index < len(runs):
            print("study: error: --index must be in 0..%d (got %s)" % (len(runs) - 1, a.index),
                  file=sys.stderr)
            return 2
        run = runs[a.index]
        status, err = run_one(study, run, out, a.launcher, ntwin, a.settle, a.timeout)
        print("run %d %s: %s" % (run["index"], run_id(run), status))
        if status != "ok":
            print("FAILED run %d (%s), stderr tail:\n  %s" % (run["index"], run_id(run), "\n  ".join(err)),
                  file=sys.stderr)
        return 0 if status == "ok" else 1
    if os.path.exists(os.path.join(out, "results.csv")):
        print("study: error: %s already holds results.csv; choose another --out" % out, file=sys.stderr)
        return 2
    with open(os.path.join(out, "command.txt"), "w") as f:
        f.write("cd %s && %s\n" % (shlex.quote(os.getcwd()), argv))
    with open(os.path.join(out, "machine.txt"), "w") as f:
        f.write(json.dumps(machine(), indent=2) + "\n\n" + sh("lscpu") + "\n\n" + sh("mpirun --version 2>&1") + "\n")
    shutil.copy(a.study, os.path.join(out, "study.json"))
    print("== study %s: %d runs -> %s" % (study["name"], len(runs), out))
    for s in study["skipped"]:
        print("   skipped: " + s)
    for run in runs:
        status, err = run_one(study, run, out, a.launcher, ntwin, a.settle, a.timeout)
        merge(out)  # results.csv holds every finished row at every moment
        rep = os.path.join(out, "runs", run_id(run), "report.json")
        if status == "ok":
            with open(rep) as f:
                w = json.load(f)["wall_sim_s"]
            print("   [%d/%d] %s: wall_sim_s %.3f%s" % (run["index"] + 1, len(runs), run_id(run), w,
                  " OVERSUB" if run["ranks"] > os.cpu_count() else ""))
        else:
            print("   [%d/%d] %s: FAILED %s; stderr tail:\n      %s" % (
                run["index"] + 1, len(runs), run_id(run), status, "\n      ".join(err) or "(empty)"))
    nfail = finish(study, out)
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())

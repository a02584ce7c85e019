#!/bin/sh
# The published figure: Brunel (2000) balanced network, delta synapses,
# scale 1 (configs/brunel.json: 10,000 neurons, 10 M synapses, 1 s) fires at
# 42-43 Hz in NEST's brunel_delta example. Runs it on 2 ranks and requires
# the E and I rates after the first 200 ms within [41, 45] Hz, report.json
# rates_hz equal to the rates computed from spikes.h5 (relative 1e-9), spike
# times sorted, on the 0.1 ms grid within (0, 1000] ms and node ids within
# their population. configs/brunel-small.json must fire within [40, 49] Hz.
#
# Usage: brunel_rate.sh NTWIN MPIRUN CONFIG_DIR WORK_DIR
set -u
ntwin=$1 mpirun=$2 configs=$3 work=$4
py=/usr/bin/python3
TIMEOUT=${NTWIN_TEST_TIMEOUT:-240}

die() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$work" && mkdir -p "$work" || die "cannot create work dir $work"

# run CONFIG OUTDIR
run() {
  timeout -k 10 "$TIMEOUT" "$mpirun" -n 2 --oversubscribe --bind-to none \
    "$ntwin" run "$1" --out "$2" --bind none --quiet >"$2.log" 2>&1
  rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    cat "$2.log" >&2
    die "$1 on 2 ranks timed out after ${TIMEOUT}s (hang?)"
  fi
  [ $rc -eq 0 ] || { cat "$2.log" >&2; die "$1 on 2 ranks exited with status $rc"; }
  [ -f "$2/spikes.h5" ] || die "$1: no $2/spikes.h5"
  [ -f "$2/report.json" ] || die "$1: no $2/report.json"
}

# check CONFIG OUTDIR LOW HIGH: all file/report checks; rates after 200 ms
# must lie in [LOW, HIGH] Hz.
check() {
  "$py" - "$@" <<'EOF'
import json, sys
import h5py, numpy as np

cfg_path, out, lo, hi = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
cfg = json.load(open(cfg_path))
rep = json.load(open(out + "/report.json"))
dt = cfg["simulation"]["dt"]
t_stop = cfg["simulation"]["t_stop"]
t_skip = 200.0
sizes = {p["name"]: p["size"] for p in cfg["populations"]}
errors = []

def err(msg):
    errors.append(msg)
    print("FAIL: " + msg, file=sys.stderr)

total = 0
with h5py.File(out + "/spikes.h5", "r") as f:
    if set(f["spikes"].keys()) != set(sizes):
        err("populations in spikes.h5 %s != config %s" % (sorted(f["spikes"].keys()), sorted(sizes)))
    for pop, n in sizes.items():
        if pop not in f["spikes"]:
            continue
        g = f["spikes"][pop]
        t = g["timestamps"][:]
        ids = g["node_ids"][:]
        total += t.size
        if g["timestamps"].dtype != np.float64:
            err("%s: timestamps dtype %s, expected float64" % (pop, g["timestamps"].dtype))
        if g["node_ids"].dtype != np.uint64:
            err("%s: node_ids dtype %s, expected uint64" % (pop, g["node_ids"].dtype))
        if t.size != ids.size:
            err("%s: %d timestamps but %d node_ids" % (pop, t.size, ids.size))
            continue
        if t.size == 0:
            err("%s: no spikes" % pop)
            continue
        # sorted by time, then node id
        order = np.lexsort((ids, t))
        if not np.array_equal(order, np.arange(t.size)):
            k = int(np.argmax(order != np.arange(t.size)))
            err("%s: spikes not sorted by (time, node id) near index %d: t=%r id=%r" % (pop, k, t[k:k+2], ids[k:k+2]))
        if t.min() <= 0.0 or t.max() > t_stop:
            err("%s: spike times span [%r, %r], expected within (0, %r]" % (pop, t.min(), t.max(), t_stop))
        steps = t / dt
        off = np.abs(steps - np.round(steps))
        if off.max() > 1e-6:
            k = int(np.argmax(off))
            err("%s: spike time %r is not on the %r ms grid" % (pop, t[k], dt))
        if ids.max() >= n:
            err("%s: node id %d out of range [0, %d)" % (pop, int(ids.max()), n))
        # rate over the whole run vs report.json
        rate_all = t.size / n / (t_stop / 1000.0)
        rep_rate = rep.get("rates_hz", {}).get(pop)
        if rep_rate is None:
            err("%s: report.json has no rates_hz.%s" % (pop, pop))
        elif abs(rep_rate - rate_all) > 1e-9 * abs(rate_all):
            err("%s: report.json rates_hz=%r but spikes.h5 gives %r Hz" % (pop, rep_rate, rate_all))
        # steady-state rate
        late = np.count_nonzero(t > t_skip)
        rate = late / n / ((t_stop - t_skip) / 1000.0)
        print("%s: %s rate %.3f Hz after %g ms (whole run %.3f Hz, report %s Hz), %d spikes"
              % (cfg_path.rsplit("/", 1)[-1], pop, rate, t_skip, rate_all, rep_rate, t.size))
        if not (lo <= rate <= hi):
            err("%s: rate %.3f Hz after %g ms outside [%g, %g] Hz" % (pop, rate, t_skip, lo, hi))

if rep.get("spikes") != total:
    err("report.json spikes=%r but spikes.h5 holds %d" % (rep.get("spikes"), total))
if rep.get("neurons") != sum(sizes.values()):
    err("report.json neurons=%r, expected %d" % (rep.get("neurons"), sum(sizes.values())))
sys.exit(1 if errors else 0)
EOF
}

status=0
run "$configs/brunel.json" "$work/brunel"
syn=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["synapses"])' "$work/brunel/report.json")
[ "$syn" = 10000000 ] || { echo "FAIL: brunel.json: report.json synapses=$syn, expected 10000000" >&2; status=1; }
check "$configs/brunel.json" "$work/brunel" 41.0 45.0 || status=1

run "$configs/brunel-small.json" "$work/brunel-small"
check "$configs/brunel-small.json" "$work/brunel-small" 40.0 49.0 || status=1

[ $status -eq 0 ] && echo "brunel_rate: all checks passed" || echo "brunel_rate: FAILED" >&2
exit $status

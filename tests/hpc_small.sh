#!/bin/sh
# NEST's hpc_benchmark at scale 0.1 (configs/hpc_benchmark-small.json: 900 E
# + 225 I iaf_psc_alpha, in-degree 900 + 225, E->E stdp_pl_hom) for 100 ms
# on 2 ranks. Requires the E and I rates of the whole run (report.json) in
# [30, 65] Hz. Why that band: the diffusion (Siegert) mean-field of this
# network, with the drive, J and g of the config, gives 44 Hz (white
# noise) or 41 Hz (with the Fourcaud-Brunel shift for tau_syn/tau_m =
# 0.033); ntwin gives 42-48 Hz over seeds 1, 2, 3, 12345. At scale 0.1 the
# in-degree equals the population size, so inputs are strongly correlated
# and the activity oscillates (NEST's script warns of this below scale 10):
# the band allows for that. It excludes the usual physics errors: without
# the e/tau_s factor of the alpha current (J 2.7x too small) the external
# drive alone stays below threshold and the rate drops to 0.3 Hz; with
# inhibitory weights made excitatory it runs at 1600 Hz (both measured). At scale 1 the same
# mean-field gives 8.0-8.7 Hz (ntwin: 9.1 Hz).
# Plasticity: E->E weights cannot be read from the CLI yet, so they are not
# checked directly. Indirectly: the same network with static E->E synapses
# (weights frozen at J) must give different spikes, so the stdp_pl_hom
# projection does change the dynamics.
#
# Usage: hpc_small.sh NTWIN MPIRUN CONFIG_DIR WORK_DIR
set -u
ntwin=$1 mpirun=$2 configs=$3 work=$4
py=/usr/bin/python3
TIMEOUT=${NTWIN_TEST_TIMEOUT:-240}

die() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$work" && mkdir -p "$work" || die "cannot create work dir $work"

# run CONFIG OUTDIR
run() {
  timeout -k 10 "$TIMEOUT" "$mpirun" -n 2 --oversubscribe --bind-to none \
    "$ntwin" run "$1" --out "$2" --t-stop 100 --bind none --quiet >"$2.log" 2>&1
  rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    cat "$2.log" >&2
    die "$1 on 2 ranks timed out after ${TIMEOUT}s (hang?)"
  fi
  [ $rc -eq 0 ] || { cat "$2.log" >&2; die "$1 on 2 ranks exited with status $rc"; }
  [ -f "$2/report.json" ] || die "$1: no $2/report.json"
  [ -f "$2/spikes.h5" ] || die "$1: no $2/spikes.h5"
}

cfg="$configs/hpc_benchmark-small.json"
run "$cfg" "$work/stdp"

# The same network with static E->E synapses.
"$py" - "$cfg" "$work/static.json" <<'EOF' || die "cannot write the static variant"
import json, sys
c = json.load(open(sys.argv[1]))
ee = [p for p in c["projections"] if p["source"] == "E" and p["target"] == "E"]
assert len(ee) == 1 and ee[0]["synapse"]["model"] == "stdp_pl_hom"
del ee[0]["synapse"]
json.dump(c, open(sys.argv[2], "w"))
EOF
run "$work/static.json" "$work/static"

"$py" - "$cfg" "$work/stdp" "$work/static" <<'EOF'
import json, sys
import h5py, numpy as np

cfg, out, out_static = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
rep = json.load(open(out + "/report.json"))
lo, hi = 30.0, 65.0
bad = []
sizes = {p["name"]: p["size"] for p in cfg["populations"]}
if rep.get("t_sim_ms") != 100.0:
    bad.append("t_sim_ms = %r, expected 100" % rep.get("t_sim_ms"))
if rep.get("synapses") != 1265625:
    bad.append("synapses = %r, expected 1265625" % rep.get("synapses"))
for pop in sizes:
    r = rep.get("rates_hz", {}).get(pop)
    print("hpc_benchmark-small: %s %s Hz over 100 ms (band [%g, %g])" % (pop, r, lo, hi))
    if r is None or not lo <= r <= hi:
        bad.append("%s rate %r Hz outside [%g, %g]" % (pop, r, lo, hi))

def trains(d):
    with h5py.File(d + "/spikes.h5", "r") as f:
        g = f["spikes"]["E"]
        return g["timestamps"][:], g["node_ids"][:]
t1, n1 = trains(out)
t0, n0 = trains(out_static)
same = t1.size == t0.size and np.array_equal(t1, t0) and np.array_equal(n1, n0)
print("E spikes: %d with stdp_pl_hom, %d with static E->E" % (t1.size, t0.size))
if same:
    bad.append("E spikes identical with stdp_pl_hom and static E->E synapses: "
               "plasticity had no effect")
for b in bad:
    print("FAIL: " + b, file=sys.stderr)
print("hpc_small: " + ("FAILED" if bad else "all checks passed"))
sys.exit(1 if bad else 0)
EOF

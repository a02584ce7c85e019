#!/bin/sh
# Overlap of the exchange with computation changes nothing: spikes.h5 (and
# weights.h5 of a plastic network) with `--overlap on` are byte-identical to
# `--overlap off`, on 1-4 ranks, both partitions, both comm backends.
#
# Usage: determinism_overlap.sh NTWIN MPIRUN CONFIG_DIR DATA_DIR WORK_DIR
#
#  1. Brunel (configs/brunel-small.json cut to 300 ms, D = 15 steps): the
#     reference is 1 rank, overlap off; overlap on for 1-4 ranks x
#     round_robin, block; --comm ofi on 2 and 3 ranks (skipped, saying so,
#     when no libfabric provider works).
#  2. STDP + Tsodyks-Markram + delay distributions (tests/data/ckpt-net.json,
#     D = 10 steps) with the STDP weights recorded every 10 ms: spikes.h5 and
#     weights.h5 identical to 1 rank, overlap off, for overlap on 1-3 ranks
#     and ofi.
#  3. Small D: the Brunel net with 0.2 and 0.3 ms delays (epochs of 1 and 2
#     steps) on 2 ranks, on == off; with 0.1 ms (D = 1 step) overlap falls
#     back: report.json says overlap false, overlap_requested true, and the
#     spikes equal overlap off.
#  4. Control: NTW_FAULT_EPOCH_STEPS=15 (epochs as long as the window, so
#     spikes arrive late) must give different spikes, or the checks above
#     prove nothing.
set -u
ntwin=$1 mpirun=$2 configs=$3 data=$4 work=$5
. "$(dirname "$0")/lib.sh"

rm -rf "$work" && mkdir -p "$work" || die "cannot create work dir $work"
# mkcfg SRC DST T_STOP DELAY_MS|- [weights]: a copy cut to T_STOP ms, every
# constant delay set to DELAY_MS, the first projection's weights recorded.
mkcfg() {
  "$py" - "$@" <<'PYEOF' || die "cannot write $2"
import json, sys
src, dst, t_stop, delay = sys.argv[1:5]
c = json.load(open(src))
c["simulation"]["t_stop"] = float(t_stop)
if delay != "-":
    for p in c["projections"]:
        p["delay"] = float(delay)
if len(sys.argv) > 5:
    c.setdefault("record", {})["weights"] = [{"projection": 0, "interval": 10.0}]
json.dump(c, open(dst, "w"), indent=1)
PYEOF
}

# run CFG NP OUTDIR ARGS...: sets $rc, leaves OUTDIR.log
run() {
  cfg=$1 np=$2 out=$3
  shift 3
  # shellcheck disable=SC2086 # MPIX: extra mpirun arguments, word-split
  timeout -k 10 "$TIMEOUT" "$mpirun" ${MPIX:-} -n "$np" --oversubscribe --bind-to none \
    "$ntwin" run "$cfg" --out "$out" --bind none --quiet "$@" >"$out.log" 2>&1
  rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    cat "$out.log" >&2
    die "$(basename "$out"): timed out after ${TIMEOUT}s (hang?)"
  fi
}

# check REF NAME OVERLAP [files...]: NAME ran fine, report.json says
# overlap=OVERLAP and REF's spike count, and every file equals REF's (cmp).
check() {
  ref=$1 name=$2 out=$work/$2 want=$3
  shift 3
  [ $rc -eq 0 ] || { cat "$out.log" >&2; fail "$name: exited with status $rc"; return; }
  ov=$(jget "$out/report.json" overlap)
  spk=$(jget "$out/report.json" spikes)
  rspk=$(jget "$ref/report.json" spikes)
  [ "$ov" = "$want" ] || fail "$name: report.json overlap=$ov, expected $want"
  [ "$spk" = "$rspk" ] || fail "$name: report.json spikes=$spk, reference has $rspk"
  same=""
  for f in spikes.h5 "$@"; do
    if cmp -s "$ref/$f" "$out/$f"; then
      same="$same $f"
    else
      fail "$name: $f differs from $(basename "$ref")/$f"
    fi
  done
  echo "$name: overlap=$ov spikes=$spk, byte-identical:$same"
}

# ---- 1. Brunel, D = 15 ----
brunel=$work/brunel-300ms.json
mkcfg "$configs/brunel-small.json" "$brunel" 300 -
ref=$work/off_np1
run "$brunel" 1 "$ref" --overlap off
[ $rc -eq 0 ] || { cat "$ref.log" >&2; die "reference run failed"; }
nref=$(jget "$ref/report.json" spikes)
[ "$nref" -gt 10000 ] || fail "reference has only $nref spikes"
[ "$(jget "$ref/report.json" overlap)" = False ] || fail "reference: overlap not off"
for np in 1 2 3 4; do
  for part in round_robin block; do
    run "$brunel" $np "$work/on_np${np}_$part" --overlap on --partition $part
    check "$ref" "on_np${np}_$part" True
  done
done
ep=$(jget "$work/on_np2_round_robin/report.json" epoch_steps)
[ "$ep" = 8 ] || fail "D = 15: report.json epoch_steps=$ep, expected 8"

probe=$work/ofi_probe
run "$brunel" 1 "$probe" --comm ofi --t-stop 1
have_ofi=1
if [ $rc -ne 0 ]; then
  grep -q 'ntwin: error: comm ofi:' "$probe.log" || { cat "$probe.log" >&2; die "--comm ofi probe failed"; }
  echo "note: no usable libfabric backend here, ofi cases skipped: $(grep 'ntwin: error:' "$probe.log")"
  have_ofi=0
fi
if [ $have_ofi = 1 ]; then
  run "$brunel" 2 "$work/on_ofi_np2" --overlap on --comm ofi
  check "$ref" on_ofi_np2 True
  run "$brunel" 3 "$work/on_ofi_np3_block" --overlap on --comm ofi --partition block
  check "$ref" on_ofi_np3_block True
fi

# ---- 2. plastic network with weights recorded ----
stdp=$work/stdp.json
mkcfg "$data/ckpt-net.json" "$stdp" 200 - weights
sref=$work/stdp_off_np1
run "$stdp" 1 "$sref" --overlap off
[ $rc -eq 0 ] || { cat "$sref.log" >&2; die "STDP reference run failed"; }
[ -f "$sref/weights.h5" ] || die "STDP reference wrote no weights.h5"
run "$stdp" 1 "$work/stdp_on_np1" --overlap on
check "$sref" stdp_on_np1 True weights.h5
run "$stdp" 2 "$work/stdp_on_np2" --overlap on --partition round_robin
check "$sref" stdp_on_np2 True weights.h5
run "$stdp" 3 "$work/stdp_on_np3_block" --overlap on --partition block
check "$sref" stdp_on_np3_block True weights.h5
if [ $have_ofi = 1 ]; then
  run "$stdp" 2 "$work/stdp_on_ofi_np2" --overlap on --comm ofi
  check "$sref" stdp_on_ofi_np2 True weights.h5
fi
# The recorded weights must really change, or weights.h5 compares nothing.
"$py" - "$sref/weights.h5" <<'PYEOF' || fail "STDP reference: recorded weights do not change"
import h5py, sys, numpy as np
f = h5py.File(sys.argv[1], "r")
found = []
f.visititems(lambda n, o: found.append(o[()]) if isinstance(o, h5py.Dataset) and o.ndim == 2 else None)
assert found and any(not np.all(a == a[0]) for a in found), "no 2-d weight record changes"
PYEOF

# ---- 3. small D ----
for dms in 0.2 0.3; do
  c=$work/brunel-d$dms.json
  mkcfg "$configs/brunel-small.json" "$c" 200 $dms
  run "$c" 2 "$work/d${dms}_off" --overlap off
  [ $rc -eq 0 ] || { cat "$work/d${dms}_off.log" >&2; fail "d=$dms ms off failed"; continue; }
  run "$c" 2 "$work/d${dms}_on" --overlap on --partition block
  check "$work/d${dms}_off" "d${dms}_on" True
done
c=$work/brunel-d0.1.json
mkcfg "$configs/brunel-small.json" "$c" 200 0.1
run "$c" 2 "$work/d0.1_off" --overlap off
[ $rc -eq 0 ] || { cat "$work/d0.1_off.log" >&2; die "D = 1 off failed"; }
run "$c" 2 "$work/d0.1_on" --overlap on
check "$work/d0.1_off" d0.1_on False
[ "$(jget "$work/d0.1_on/report.json" overlap_requested)" = True ] ||
  fail "D = 1: report.json overlap_requested is not true"

# ---- 4. control ----
export NTW_FAULT_EPOCH_STEPS=15
MPIX="-x NTW_FAULT_EPOCH_STEPS" run "$brunel" 2 "$work/fault" --overlap on
unset NTW_FAULT_EPOCH_STEPS
[ $rc -eq 0 ] || { cat "$work/fault.log" >&2; die "fault-injected run failed"; }
if cmp -s "$ref/spikes.h5" "$work/fault/spikes.h5"; then
  fail "control: epochs of a whole window (late deliveries) give identical spikes: the comparison cannot fail"
else
  echo "control: NTW_FAULT_EPOCH_STEPS=15 (late deliveries) differs, as it must"
fi

if [ $failures -ne 0 ]; then
  echo "determinism_overlap: $failures check(s) failed" >&2
  exit 1
fi
echo "determinism_overlap: overlap on == off, byte for byte ($nref Brunel spikes)"

#!/bin/sh
# Invariant 1 across comm backends: `--comm ofi` (libfabric) gives spikes.h5
# byte-identical to `--comm mpi` on 1-4 ranks.
#
# Usage: determinism_ofi.sh NTWIN MPIRUN CONFIG_DIR WORK_DIR
#
# Reference: configs/brunel-small.json cut to 300 ms, 1 rank, --comm mpi.
# Then --comm ofi on 1, 2, 3, 4 ranks (round_robin; 3 ranks also block), and
# 2 ranks with 2-word receive slots and no slot growth, so that every
# non-trivial message takes the overflow path. Every spikes.h5 must be
# byte-identical (cmp) to the reference, every report.json must say
# comm=ofi and the same spike count. Exits 77 (skipped, with the reason)
# when no libfabric provider works here or ntwin was built without it.
set -u
ntwin=$1 mpirun=$2 configs=$3 work=$4
. "$(dirname "$0")/lib.sh"

rm -rf "$work" && mkdir -p "$work" || die "cannot create work dir $work"
cfg=$work/brunel-300ms.json
brunel_small "$configs" "$cfg" 300

# run NP OUTDIR ARGS...: sets $rc, leaves OUTDIR.log
run() {
  np=$1 out=$2
  shift 2
  timeout -k 10 "$TIMEOUT" "$mpirun" -n "$np" --oversubscribe --bind-to none \
    "$ntwin" run "$cfg" --out "$out" --bind none --quiet "$@" >"$out.log" 2>&1
  rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    cat "$out.log" >&2
    die "np=$np $* timed out after ${TIMEOUT}s (hang?)"
  fi
}

ref=$work/mpi_np1
run 1 "$ref" --comm mpi
[ $rc -eq 0 ] || { cat "$ref.log" >&2; die "reference run (--comm mpi, 1 rank) failed"; }
ref_spikes=$(jget "$ref/report.json" spikes)
[ "$ref_spikes" -gt 10000 ] || fail "reference has only $ref_spikes spikes"
echo "reference (--comm mpi, 1 rank): $ref_spikes spikes"

# Is there a usable provider at all?
probe=$work/ofi_probe
run 1 "$probe" --comm ofi --t-stop 1
if [ $rc -ne 0 ]; then
  if grep -q 'ntwin: error: comm ofi:' "$probe.log"; then
    echo "SKIP: no usable libfabric backend here: $(grep 'ntwin: error:' "$probe.log")"
    exit 77
  fi
  cat "$probe.log" >&2
  die "--comm ofi probe run failed"
fi

# check NAME NP: compares OUTDIR=$work/NAME with the reference
check() {
  out=$work/$1
  [ $rc -eq 0 ] || { cat "$out.log" >&2; fail "$1: exited with status $rc"; return; }
  comm=$(jget "$out/report.json" comm)
  spk=$(jget "$out/report.json" spikes)
  [ "$comm" = ofi ] || fail "$1: report.json comm=$comm, expected ofi"
  [ "$spk" = "$ref_spikes" ] || fail "$1: report.json spikes=$spk, mpi has $ref_spikes"
  if cmp -s "$ref/spikes.h5" "$out/spikes.h5"; then
    echo "$1: comm=$comm spikes=$spk, spikes.h5 byte-identical to --comm mpi"
  else
    fail "$1: spikes.h5 differs from the --comm mpi reference"
  fi
}

for np in 1 2 3 4; do
  run $np "$work/ofi_np${np}" --comm ofi --partition round_robin
  check "ofi_np${np}"
done
run 3 "$work/ofi_np3_block" --comm ofi --partition block
check ofi_np3_block
NTW_OFI_SLOT_WORDS=2 NTW_OFI_GROW=0 run 2 "$work/ofi_np2_overflow" --comm ofi
check ofi_np2_overflow

if [ $failures -ne 0 ]; then
  echo "determinism_ofi: $failures check(s) failed" >&2
  exit 1
fi
echo "determinism_ofi: 6 ofi runs byte-identical to mpi ($ref_spikes spikes)"

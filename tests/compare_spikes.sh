#!/bin/sh
# Usage: compare_spikes.sh MPIRUN TEST_SPIKES H5DIFF DIR
# Writes the spike report with 1 rank and with 3 ranks (another partition)
# and requires h5diff to find them identical, attributes included, and the
# files to be byte-for-byte equal as io/spikes.h promises.
set -eu
mpirun=$1 test_spikes=$2 h5diff=$3 dir=$4
mkdir -p "$dir"
"$mpirun" --oversubscribe -n 1 "$test_spikes" "$dir/np1" block
"$mpirun" --oversubscribe -n 3 "$test_spikes" "$dir/np3" lastidle
"$h5diff" -r "$dir/np1/spikes.h5" "$dir/np3/spikes.h5"
echo "h5diff: identical"
cmp "$dir/np1/spikes.h5" "$dir/np3/spikes.h5"
echo "cmp: byte-identical"

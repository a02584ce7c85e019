#!/bin/bash
# Submit a scaling study as a Slurm job array plus a merge job that runs after it.
# Usage: slurm/submit-study.sh [--wait] STUDY.json OUT_DIR [extra sbatch options, e.g. -p compute --time=2:00:00]
# Prints the two job ids. Results: OUT_DIR/results.csv, summary.txt, study.png.
# --wait: return when the merge job ends, with its exit code (non-zero if any run failed).
set -euo pipefail
cd "$(dirname "$0")/.."
wait=(); if [ "${1:-}" = --wait ]; then wait=(--wait); shift; fi
study=$1 out=$2; shift 2
read -r nruns maxranks < <(/usr/bin/python3 bench/study.py count "$study")
mkdir -p "$out"
arr=$(sbatch --parsable --array=0-$((nruns - 1)) -n "$maxranks" "$@" slurm/study-array.sbatch "$study" "$out")
arr=${arr%%;*}
echo "study: $nruns runs of up to $maxranks ranks: array job $arr -> $out"
sbatch "${wait[@]}" --dependency=afterany:"$arr" -n 1 "$@" slurm/study-array.sbatch "$study" "$out"

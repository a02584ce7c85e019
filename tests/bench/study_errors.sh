#!/bin/sh
# bench/study.py on bad input: a study file with an unknown network, an unknown field,
# impossible rank counts (<= 0, more ranks than neurons), a bad scale or mode gives ONE
# error line naming the file and the field, exit 2, and runs nothing. A run that fails
# (a config ntwin rejects) is reported with its stderr tail, every finished row is kept
# in results.csv, and the study exits 1.
# Usage: study_errors.sh WORK_DIR   (from anywhere; needs build/src/ntwin)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-$root/build/bench-study-test}
py=/usr/bin/python3
study="$root/bench/study.py"
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
rm -rf "$work" && mkdir -p "$work" || exit 1
cd "$work" || exit 1

cat > tiny.json <<'J'
{"simulation": {"dt": 0.1, "t_stop": 10.0, "seed": 1},
 "populations": [{"name": "E", "model": "iaf_psc_delta", "size": 10}],
 "projections": [], "record": {"spikes": ["E"]}}
J
# expect_error NAME STUDY_JSON FIELD
expect_error() {
  printf '%s\n' "$2" > "$1.json"
  "$py" "$study" run "$1.json" --out "$work/out-$1" --no-build > "$1.log" 2>&1
  rc=$?
  lines=$(wc -l < "$1.log")
  if [ $rc -ne 2 ]; then bad "$1: exit $rc, expected 2"; cat "$1.log"
  elif [ "$lines" -ne 1 ]; then bad "$1: $lines lines, expected one"; cat "$1.log"
  elif ! grep -q "^study: error: $1.json: $3: " "$1.log"; then bad "$1: error line does not name file and '$3'"; cat "$1.log"
  elif [ -e "$work/out-$1/results.csv" ]; then bad "$1: ran something"
  else echo "PASS: $1: $(cat "$1.log")"; fi
}
expect_error unknown-network '{"networks": ["brunel", "hpc_benchmark"], "ranks": [1]}' 'networks\[1\]'
expect_error unknown-field '{"networks": ["brunel"], "ranks": [1], "repetitions": 3}' 'repetitions'
expect_error zero-ranks '{"networks": ["brunel"], "ranks": [1, 0]}' 'ranks\[1\]'
expect_error negative-ranks '{"networks": ["coba"], "ranks": [-2]}' 'ranks\[0\]'
expect_error too-many-ranks '{"networks": ["tiny.json"], "ranks": [1, 20]}' 'ranks\[1\]'
expect_error weak-too-many '{"networks": ["brunel-small"], "mode": "weak", "ranks": [1, 30000]}' 'ranks\[1\]'
expect_error bad-scale '{"networks": ["brunel-small"], "scales": [0.1], "ranks": [1]}' 'scales\[0\]'
expect_error bad-partition '{"networks": ["brunel"], "ranks": [1], "partitions": ["metis"]}' 'partitions\[0\]'
expect_error bad-comm '{"networks": ["brunel"], "ranks": [1], "comms": ["ofi"]}' 'comms\[0\]'
expect_error bad-mode '{"networks": ["brunel"], "ranks": [1], "mode": "both"}' 'mode'
expect_error no-ranks '{"networks": ["brunel"]}' 'ranks'

# A failing run amid good ones: reported, the others' rows kept.
cp "$here/../slurm/bad-config.json" bad-config.json
cat > mixed.json <<'J'
{"networks": ["tiny.json", "bad-config.json", "brunel-small"], "ranks": [1], "reps": 1, "t_stop": 20}
J
"$py" "$study" run mixed.json --out "$work/mixed" --no-build --settle 0 > mixed.log 2>&1
rc=$?
[ $rc -eq 1 ] && echo "PASS: mixed: exit 1 with a failed run" || { bad "mixed: exit $rc, expected 1"; cat mixed.log; }
grep -q "FAILED" mixed.log && grep -q "ntwin: error: .*bad-config.json: populations\[0\].size" mixed.log \
  && echo "PASS: mixed: the failed run and its stderr tail are reported" \
  || { bad "mixed: failure not reported with its stderr"; cat mixed.log; }
if "$py" - "$work/mixed/results.csv" <<'P'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
st = [(r["network"], r["status"]) for r in rows]
print("  rows:", st)
ok = (len(rows) == 3 and st[0] == ("tiny.json", "ok") and st[1][1].startswith("failed")
      and st[2] == ("brunel-small", "ok") and "populations[0].size" in rows[1]["error_tail"]
      and int(rows[2]["spikes"]) > 0)
sys.exit(0 if ok else 1)
P
then echo "PASS: mixed: every finished row kept (2 ok, 1 failed with its error)"
else bad "mixed: results.csv rows wrong"; fi
[ $fails -eq 0 ] && echo "study_errors: all passed" || echo "study_errors: $fails failure(s)"
[ $fails -eq 0 ]

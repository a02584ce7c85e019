# tests/lib.sh - what the shell tests share; source it after `set -u`:
#   . "$(dirname "$0")/lib.sh"
# fail MSG: count a failure and go on; die MSG: stop the test now;
# jget FILE FIELD: a top-level field of a JSON file; TIMEOUT: per-run limit
# in seconds (NTWIN_TEST_TIMEOUT, default 120); py: Debian's python3.
py=/usr/bin/python3
TIMEOUT=${NTWIN_TEST_TIMEOUT:-120}
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
jget() {
  "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
# h5same A B [OBJ]: h5diff (the caller's $h5diff) finds A and B (or their
# object OBJ) identical. h5diff 1.10 exits 0 for datasets of different
# shapes ("Not comparable"), e.g. two spike reports with different spike
# counts, so that message counts as a difference too. The report goes to
# $H5SAME_LOG when set, else the first lines of a difference to stderr.
h5same() {
  _log=${H5SAME_LOG:-${TMPDIR:-/tmp}/h5same.$$}
  if [ $# -ge 3 ]; then set -- "$1" "$2" "$3" "$3"; fi
  if "$h5diff" -r -c "$@" >"$_log" 2>&1 && ! grep -qi 'not comparable' "$_log"; then
    [ -n "${H5SAME_LOG:-}" ] || rm -f "$_log"
    return 0
  fi
  [ -n "${H5SAME_LOG:-}" ] || { grep -v '0 differences found' "$_log" | head -8 >&2; rm -f "$_log"; }
  return 1
}
# brunel_small CONFIGS_DIR DST T_STOP_MS: configs/brunel-small.json (2500
# neurons) shortened to T_STOP_MS, written to DST (dies if it cannot).
brunel_small() {
  "$py" - "$1/brunel-small.json" "$2" "$3" <<'PYEOF' || die "cannot write $2"
import json, sys
c = json.load(open(sys.argv[1]))
c["simulation"]["t_stop"] = float(sys.argv[3])
assert sum(p["size"] for p in c["populations"]) == 2500
json.dump(c, open(sys.argv[2], "w"), indent=1)
PYEOF
}

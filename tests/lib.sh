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

#!/bin/sh
# rt_option.sh TWIN_CONFIG: print "--rt-priority N" when the config's
# twin.timing.rt_priority is N > 0, nothing otherwise. The biology's side of
# a paced pair (`ntwin culture`, `ntwin replay`) takes it, so that it runs at
# the twin's real-time priority (README "Real-time priority").
exec /usr/bin/python3 - "$1" <<'PY'
import json, sys
try:
    c = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    sys.exit(f"rt_option.sh: {sys.argv[1]}: {e}")
rt = int(c.get("twin", {}).get("timing", {}).get("rt_priority", 0))
if rt > 0:
    print(f"--rt-priority {rt}")
PY

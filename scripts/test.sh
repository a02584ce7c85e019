#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite (unit, multi-rank MPI
# and command-line tests) through meson.
# Usage: scripts/test.sh [meson test options, e.g. --suite unit]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
meson test -C build --print-errorlogs "$@"

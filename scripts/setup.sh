#!/usr/bin/env bash
# Installs what ntwin needs from Debian (only what is missing) and builds it
# with meson into build/. Safe to run again: it does nothing it need not do.
# Usage: scripts/setup.sh            (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

# One line per package: what it is for is in README.md ("Dependencies").
PKGS=(
  build-essential pkg-config meson ninja-build
  openmpi-bin libopenmpi-dev            # MPI ranks
  libhwloc-dev                          # binding ranks to cores
  libhdf5-openmpi-dev hdf5-tools        # parallel HDF5 output, h5dump/h5diff
  libjansson-dev                        # JSON configs and reports
  librandom123-dev                      # counter-based random numbers
  libfabric-dev                         # the ofi comm backend (optional)
  libmetis-dev                          # graph partitioning (--partition graph)
  libcmocka-dev                         # unit tests
  libzmq3-dev                           # bio link (ZeroMQ, as BioemuS and Open Ephys)
  python3-h5py python3-numpy python3-matplotlib   # plots, test checks
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release
fi
meson compile -C build
echo "setup: built $(pwd)/build/src/ntwin" >&2

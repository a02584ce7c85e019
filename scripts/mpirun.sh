#!/usr/bin/env bash
# mpirun for ntwin on a workstation or in CI: handles what users should not
# have to remember. Usage: scripts/mpirun.sh N COMMAND [ARGS...]
#  - runs as root too (Open MPI refuses root unless told otherwise);
#  - --oversubscribe when N exceeds the cores (timings are then not scaling
#    data);
#  - --bind-to none: ntwin binds its ranks itself with hwloc (--bind).
set -euo pipefail
n=$1; shift
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Containers often lack the kernel support for single-copy shared memory.
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
extra=()
if [ "$n" -gt "$(nproc)" ]; then extra+=(--oversubscribe); fi
exec mpirun -n "$n" --bind-to none "${extra[@]}" "$@"

# slurm/launch.sh - sourced by the sbatch scripts (not run on its own).
# Finds the repository, picks the MPI launcher, prepares the environment.
#   ntwin_root            repository root (NTWIN_ROOT, else the submit dir or this file's)
#   ntwin_launcher        "srun" when srun supports --mpi=pmix, else "mpirun" (NTWIN_LAUNCHER overrides)
#   ntwin_launch N ARGS   run ARGS on N ranks with the chosen launcher, binding left to ntwin
#   ntwin_launch_bg N ARGS  the same in the background, launcher pid in ntwin_step_pid
#   ntwin_summary DIR     print the key fields of DIR/report.json
if [ -n "${NTWIN_ROOT:-}" ]; then ntwin_root=$NTWIN_ROOT
elif [ -f "${SLURM_SUBMIT_DIR:-.}/slurm/launch.sh" ]; then ntwin_root=$SLURM_SUBMIT_DIR
else ntwin_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); fi
NTWIN=${NTWIN:-$ntwin_root/build/src/ntwin}
[ -x "$NTWIN" ] || { echo "ntwin: error: no ntwin binary at $NTWIN (build it: meson setup build && meson compile -C build, or set NTWIN)" >&2; exit 1; }

if [ -n "${NTWIN_LAUNCHER:-}" ]; then ntwin_launcher=$NTWIN_LAUNCHER
elif command -v srun >/dev/null && srun --mpi=list 2>&1 | grep -q pmix; then ntwin_launcher=srun
else ntwin_launcher=mpirun; fi

# Open MPI refuses root unless told; containers often lack single-copy shared memory (CMA).
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}

# ntwin binds each rank itself with hwloc (--bind core|numa): the launcher must not bind.
ntwin_launch_cmd() { # N: sets the array ntwin_cmd to the launcher command for N ranks
  if [ "$ntwin_launcher" = srun ]; then ntwin_cmd=(srun --mpi=pmix --cpu-bind=none -n "$1")
  else ntwin_cmd=(mpirun --bind-to none -n "$1"); fi
}
ntwin_launch() {
  local n=$1; shift
  ntwin_launch_cmd "$n"
  echo "+ ${ntwin_cmd[*]} $*" >&2
  "${ntwin_cmd[@]}" "$@"
}
# ntwin_launch_bg N ARGS: the same in the background; ntwin_step_pid is the launcher's pid, so
# a trap in the batch shell can signal it (srun and mpirun forward SIGUSR1/SIGTERM to the ranks).
ntwin_launch_bg() {
  local n=$1; shift
  ntwin_launch_cmd "$n"
  echo "+ ${ntwin_cmd[*]} $*" >&2
  "${ntwin_cmd[@]}" "$@" &
  ntwin_step_pid=$!
}

ntwin_summary() {
  local py=/usr/bin/python3; [ -x "$py" ] || py=python3
  "$py" - "$1/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("ntwin summary: %s on %d ranks (%s, bind %s): %d neurons, %d synapses, %d spikes, "
      "wall_sim_s %.3f, RTF %.3f, comm share %.1f%%, %.2f bytes/synapse"
      % (r["config"], r["ranks"], r["partition"], r.get("bind", "?"), r["neurons"], r["synapses"],
         r["spikes"], r["wall_sim_s"], r["rtf"], 100 * r["comm_share"], r["bytes_per_synapse"]))
PY
}

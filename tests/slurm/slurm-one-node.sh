#!/usr/bin/env bash
# A real one-node Slurm cluster (munge + slurmctld + slurmd) on 127.0.0.1, for the tests of
# slurm/*.sbatch. Copied from the team's tested recipe and adapted: installs its Debian 12
# packages when missing (apt-get update first, as on a fresh machine), keeps its state in
# SLURM_CI_DIR, and reuses a Slurm that already answers instead of starting a second one.
# Root only. Usage: tests/slurm/slurm-one-node.sh start | stop
# start prints "started" or "reused" as its last line; stop only stops daemons this script
# started (their pid files are in SLURM_CI_DIR).
# Notes: Debian's Open MPI supports `srun --mpi=pmix` only (not pmi2); mpirun inside an
# allocation works. A job asking for more tasks than CPUs stays pending forever: keep
# -n <= CPUs and wrap `sbatch --wait` in `timeout`. MinJobAge=5 keeps `sbatch --wait` polling
# every 2 s and returning the job's exit code reliably.
set -euo pipefail
D=${SLURM_CI_DIR:-/tmp/ntwin-slurm-ci}
NODE=localhost
CPUS=${SLURM_CI_CPUS:-$(nproc)}
PKGS=(munge slurmctld slurmd slurm-client openmpi-bin libopenmpi-dev)
case "${1:-start}" in
start)
  [ "$(id -u)" = 0 ] || { echo "slurm-one-node: must run as root" >&2; exit 1; }
  missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "slurm-one-node: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [ "$(sinfo -h -n "$NODE" -o %t 2>/dev/null)" = idle ] && [ ! -s "$D/slurmctld.pid" ]; then
    sinfo; echo reused; exit 0
  fi
  mkdir -p "$D"/{state,spool,log} /run/munge /etc/slurm
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key /run/munge && chmod 400 /etc/munge/munge.key
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
    touch "$D/munged.ours"
  fi
  munge -n | unmunge >/dev/null
  MEM=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 512 ))
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=ci
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=pmix
ReturnToService=2
MinJobAge=5
# Run the main scheduling loop every 2 s (default 60): chained jobs wait on
# afterok dependencies, which only this loop releases.
SchedulerParameters=sched_interval=2
MailProg=/bin/true
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld
  slurmd -N "$NODE"
  for i in $(seq 60); do
    [ "$(sinfo -h -n "$NODE" -o %t 2>/dev/null)" = idle ] && break; sleep 0.5
  done
  sinfo
  [ "$(sinfo -h -n "$NODE" -o %t 2>/dev/null)" = idle ] || {
    echo "slurm-one-node: node not idle after 30 s; logs in $D/log" >&2; tail -n 20 "$D"/log/*.log >&2; exit 1; }
  echo started
  ;;
stop)
  for f in "$D/slurmd.pid" "$D/slurmctld.pid"; do
    [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  if [ -e "$D/munged.ours" ] && [ -s /run/munge/munged.pid ]; then
    kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true; rm -f "$D/munged.ours"
  fi
  ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

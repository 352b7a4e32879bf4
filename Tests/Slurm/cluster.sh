#!/usr/bin/env bash
# A one-node SLURM cluster on localhost for the SLURM tests: munged, slurmctld and slurmd as
# background processes, with key, configuration, state, spool and logs in one folder.
# Installs nothing (`make test-slurm` installs slurm-wlm and munge first).
#
#   Tests/Slurm/cluster.sh start [DIR]   # prints the SLURM_CONF line to export
#   Tests/Slurm/cluster.sh stop [DIR]    # stops the daemons and deletes DIR
#   Tests/Slurm/cluster.sh status [DIR]
#
# DIR defaults to $MSCN_SLURM_DIR or /tmp/mscn-slurm. Ports: $MSCN_SLURM_PORT (slurmctld, default
# 6917) and the next one (slurmd).
set -euo pipefail
cmd="${1:-}"
dir="${2:-${MSCN_SLURM_DIR:-/tmp/mscn-slurm}}"
port="${MSCN_SLURM_PORT:-6917}"

die() { echo "cluster.sh: $*" >&2; exit 1; }

stop_pidfile() {
  local f="$1" pid
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f" 2>/dev/null || true)"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop() {
  [[ -d "$dir" ]] || return 0
  if [[ -f "$dir/slurm.conf" ]]; then
    # Jobs still running would outlive slurmd as orphans: cancel them first.
    SLURM_CONF="$dir/slurm.conf" timeout 10 scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 50); do
      [[ -z "$(SLURM_CONF="$dir/slurm.conf" timeout 5 squeue -h 2>/dev/null)" ]] && break
      sleep 0.2
    done
  fi
  stop_pidfile "$dir/run/slurmd.pid"
  stop_pidfile "$dir/run/slurmctld.pid"
  stop_pidfile "$dir/run/munged.pid"
  rm -rf "$dir"
}

start() {
  for exe in munged slurmctld slurmd sbatch scontrol; do
    command -v "$exe" >/dev/null || die "$exe not found: install slurm-wlm and munge (make test-slurm does)"
  done
  [[ -e "$dir/slurm.conf" ]] && die "$dir already holds a cluster; stop it first"
  # Another cluster (a developer's, a parallel CI job) may hold the ports: take the next free pair.
  for _ in $(seq 20); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$((port + 1))") 2>/dev/null; then break; fi
    port=$((port + 2))
  done
  mkdir -p "$dir"/{run,log,state,spool,munge}
  chmod 700 "$dir/munge"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
    || die "munged did not start (see $dir/log/munged.log)"

  local host node user
  host="$(hostname -s)"
  user="$(id -un)"
  # The node as slurmd sees it (CPUs, sockets, cores, memory), minus the uptime.
  node="$(slurmd -C | head -n 1 | sed -E 's/^NodeName=[^ ]+ //')"
  cat > "$dir/slurm.conf" <<CONF
ClusterName=mscntest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in containers; linuxproc tracks a job's processes by parentage.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# No slurmdbd here: completed jobs (state, start, end, node) are appended to this file.
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Schedule a submitted batch job at once (the default waits up to 3 s to batch submissions):
# short test stages would otherwise spend most of their time pending.
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
# Time limits are enforced without grace, and a killed job goes within seconds.
OverTimeLimit=0
KillWait=2
MinJobAge=300
InactiveLimit=0
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF" || die "slurmctld did not start (see $dir/log/slurmctld.log)"
  slurmd -f "$SLURM_CONF" || die "slurmd did not start (see $dir/log/slurmd.log)"
  for _ in $(seq 100); do
    if sinfo -h -o '%T' 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then
      echo "export SLURM_CONF=$SLURM_CONF"
      return 0
    fi
    sleep 0.2
  done
  sinfo >&2 || true
  tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  die "the node did not become idle within 20 s"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) SLURM_CONF="$dir/slurm.conf" sinfo && SLURM_CONF="$dir/slurm.conf" squeue ;;
  *) die "usage: cluster.sh start|stop|status [DIR]" ;;
esac

#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for tests/test_slurm.py and CI (run as root).
#
# Installs Debian's slurm-wlm and munge if missing, writes /etc/slurm/slurm.conf (it must be
# there: the job-step plugin strips SLURM_CONF), starts munged, slurmctld and slurmd by hand
# (no systemd) and waits until `sinfo` shows the node idle. PID files go to $SLURM_STATE_DIR;
# tests/slurm/stop-cluster.sh stops the daemons by them. Running it again while the cluster
# answers does nothing. Jobs run as root; there is no accounting database, so the Snakemake
# plugin must query job states with squeue (`--slurm-status-command squeue`).
set -euo pipefail

STATE_DIR=${SLURM_STATE_DIR:-/run/initbench-slurm}
CONF=/etc/slurm/slurm.conf
NODE=$(hostname -s)

answers() { timeout 10 sinfo -h -N -n "$NODE" -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; }
alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if command -v sinfo >/dev/null && [[ -f "$STATE_DIR/slurmctld.pid" ]] && answers; then
    echo "start-cluster: already running ($(sinfo -h -o '%P %D %t'))"
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null; then
    echo "start-cluster: installing slurm-wlm and munge with apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge >/dev/null
fi

mkdir -p "$STATE_DIR" /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm \
    /run/munge /var/lib/munge /var/log/munge

# The node as the hardware and memory limits really are: 2 CPUs here, memory from `free`,
# less a little for the daemons.
CPUS=$(nproc)
MEM_MB=$(free -m | awk '/^Mem:/ {print int($2 * 0.9)}')
cat > "$CONF" <<CONF
# Written by tests/slurm/start-cluster.sh: a one-node test cluster on localhost.
ClusterName=initbench
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# No cgroups in a container: track processes by their parent, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Cores and memory are consumable, so several jobs share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
# Finished jobs stay visible to squeue for 10 minutes: the plugin's squeue status queries
# need that (it falls back to sacct when MinJobAge is under 3x its first-check delay).
MinJobAge=600
KillWait=5
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MessageTimeout=20
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF

if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 700 /etc/munge
chmod 400 /etc/munge/munge.key

if ! alive "$STATE_DIR/munged.pid"; then
    runuser -u munge -- /usr/sbin/munged
    cp /run/munge/munged.pid "$STATE_DIR/munged.pid"
fi
# -c: start without the jobs of an earlier test cluster.
alive "$STATE_DIR/slurmctld.pid" || /usr/sbin/slurmctld -c
alive "$STATE_DIR/slurmd.pid" || /usr/sbin/slurmd

for _ in $(seq 60); do
    if answers; then
        echo "start-cluster: up ($(sinfo -h -o '%P %D %t'), CPUs=$CPUS, RealMemory=$MEM_MB)"
        exit 0
    fi
    # A node remembered as down from an earlier run comes back by hand.
    scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
    sleep 1
done
echo "start-cluster: the node did not become idle; see /var/log/slurm/*.log" >&2
sinfo >&2 || true
exit 1

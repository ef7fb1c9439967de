#!/usr/bin/env bash
# Stop the daemons tests/slurm/start-cluster.sh started, by their PID files.
set -uo pipefail

STATE_DIR=${SLURM_STATE_DIR:-/run/initbench-slurm}
for daemon in slurmd slurmctld munged; do
    pidfile="$STATE_DIR/$daemon.pid"
    [[ -s "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        echo "stop-cluster: stopped $daemon ($pid)"
    fi
    rm -f "$pidfile"
done

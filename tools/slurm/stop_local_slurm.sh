#!/usr/bin/env bash
# Stop the single-node SLURM that install_local_slurm.sh started, by the PIDs it recorded:
#
#   tools/slurm/stop_local_slurm.sh [DIR]     (DIR, else $SLURM_LOCAL_DIR, else /tmp/segrel-slurm)
#
# slurmd, slurmctld, then munged; SIGTERM, then SIGKILL after 20 s. Keeps DIR (state and logs)
# and the packages; removes /etc/slurm/slurm.conf only where it is the link to DIR's.
set -euo pipefail

DIR=${1:-${SLURM_LOCAL_DIR:-/tmp/segrel-slurm}}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

log() { echo "[local-slurm] $*"; }

[ -d "$DIR" ] || { log "nothing to stop: no $DIR"; exit 0; }
DIR=$(cd "$DIR" && pwd -P)
export PATH="$PATH:/usr/sbin:/sbin"

# jobs still queued or running (e.g. a test run killed by its timeout) are cancelled first:
# their processes would outlive slurmd
if [ -s "$DIR/run/slurmctld.pid" ] && $SUDO kill -0 "$(cat "$DIR/run/slurmctld.pid")" 2>/dev/null; then
  jobs=$(SLURM_CONF="$DIR/slurm.conf" squeue -h -t PENDING,RUNNING,SUSPENDED -o %A 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    log "cancelling jobs: $(echo $jobs)"
    # shellcheck disable=SC2086
    $SUDO env SLURM_CONF="$DIR/slurm.conf" scancel $jobs || true
    for _ in $(seq 1 30); do
      [ -z "$(SLURM_CONF="$DIR/slurm.conf" squeue -h -t RUNNING,COMPLETING -o %A 2>/dev/null)" ] && break
      sleep 1
    done
  fi
fi

for name in slurmd slurmctld munged; do
  file="$DIR/run/$name.pid"
  if [ ! -s "$file" ]; then
    log "$name: no PID file"
    continue
  fi
  pid=$(cat "$file")
  if ! $SUDO kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) was not running"
    $SUDO rm -f "$file"
    continue
  fi
  $SUDO kill -TERM "$pid"
  for _ in $(seq 1 100); do
    $SUDO kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if $SUDO kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM for 20 s: SIGKILL"
    $SUDO kill -KILL "$pid" 2>/dev/null || true
  fi
  $SUDO rm -f "$file"
  log "stopped $name (pid $pid)"
done

if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$DIR/slurm.conf" ]; then
  $SUDO rm -f /etc/slurm/slurm.conf
  log "removed the link /etc/slurm/slurm.conf"
fi

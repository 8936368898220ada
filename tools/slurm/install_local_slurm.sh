#!/usr/bin/env bash
# Install (Debian packages) and start a single-node SLURM on this machine, for `make test-slurm`.
#
#   tools/slurm/install_local_slurm.sh [DIR]     (DIR, else $SLURM_LOCAL_DIR, else /tmp/segrel-slurm)
#
# Everything it creates lives in DIR: slurm.conf, a private munge key and socket, the daemons'
# state, logs and PID files. The only thing outside is the symlink /etc/slurm/slurm.conf -> DIR's
# (the slurm jobstep plugin clears SLURM_* before its inner srun, so SLURM_CONF alone is not
# enough). Idempotent: daemons already running are left alone. Stop with stop_local_slurm.sh DIR.
# Root, or sudo for the package install and the daemons. No systemd needed (none is used).
set -euo pipefail

DIR=${1:-${SLURM_LOCAL_DIR:-/tmp/segrel-slurm}}
PARTITION=${SLURM_LOCAL_PARTITION:-local}
WAIT_S=${SLURM_LOCAL_WAIT_S:-60}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

log() { echo "[local-slurm] $*"; }
die() { echo "[local-slurm] ERROR: $*" >&2; exit 1; }

# ---- 1. packages (SLURM 22.05 and munge on Debian 12; no slurmdbd: no accounting)
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
   || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurmctld slurmd slurm-client munge (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi
# Debian's binaries live in /usr/sbin, which a non-root PATH may lack
export PATH="$PATH:/usr/sbin:/sbin"

# ---- 2. the directory: munge/ must be 755 (clients of every user connect to its socket)
$SUDO mkdir -p "$DIR"/{munge,run,log,state/ctld,state/d}
$SUDO chmod 755 "$DIR" "$DIR/munge"
DIR=$(cd "$DIR" && pwd -P)   # absolute: it is written into slurm.conf
CONF="$DIR/slurm.conf"
SOCKET="$DIR/munge/munge.socket.2"

# pid_alive NAME: the daemon whose PID file is $DIR/run/NAME.pid is running
pid_alive() {
  local file="$DIR/run/$1.pid"
  [ -s "$file" ] && $SUDO kill -0 "$(cat "$file")" 2>/dev/null
}

# ---- 3. slurm.conf: this host, its CPUs, 90% of its memory (above the real memory the node
# is drained; without RealMemory every --mem request is rejected)
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
NEW_CONF=$(cat <<EOF
# single-node SLURM written by tools/slurm/install_local_slurm.sh; all state under $DIR
ClusterName=segrel-local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$DIR/state/ctld
SlurmdSpoolDir=$DIR/state/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# no cgroups, no accounting: nothing beyond the packages is needed
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# finished jobs stay visible to squeue this long; the snakemake plugin needs >= 3x its
# slurm-init-seconds-before-status-checks (or it switches back to sacct, which fails here)
MinJobAge=300
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$NEW_CONF" ]; then
  if pid_alive slurmctld || pid_alive slurmd; then
    die "$CONF would change but SLURM is running from it; stop it first: tools/slurm/stop_local_slurm.sh $DIR"
  fi
  echo "$NEW_CONF" | $SUDO tee "$CONF" >/dev/null
  log "wrote $CONF ($HOST: $CPUS CPUs, RealMemory=$MEM_MB MB, partition '$PARTITION')"
fi

# /etc/slurm/slurm.conf -> ours; never overwrite a real cluster's configuration
ETC_CONF=/etc/slurm/slurm.conf
if [ -L "$ETC_CONF" ] || [ ! -e "$ETC_CONF" ]; then
  if [ "$(readlink "$ETC_CONF" || true)" != "$CONF" ]; then
    $SUDO mkdir -p /etc/slurm
    $SUDO ln -sfn "$CONF" "$ETC_CONF"
    log "linked $ETC_CONF -> $CONF"
  fi
else
  die "$ETC_CONF is a regular file (a real SLURM configuration?); not replacing it"
fi

# ---- 4. munged on a private socket with its own key (the system's munge is left alone)
if pid_alive munged; then
  log "munged already running (pid $(cat "$DIR/run/munged.pid"))"
else
  if [ ! -s "$DIR/munge/munge.key" ]; then
    $SUDO dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  fi
  $SUDO chmod 600 "$DIR/munge/munge.key"
  $SUDO rm -f "$SOCKET" "$SOCKET.lock"   # a stale socket from an unclean stop
  $SUDO munged --socket="$SOCKET" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munged.seed"
  log "started munged (pid $(cat "$DIR/run/munged.pid"))"
fi

# ---- 5. slurmctld, then slurmd (both daemonise and write their PID files)
show_logs() {
  for name in munged slurmctld slurmd; do
    echo "---- $DIR/log/$name.log (last 20 lines)" >&2
    $SUDO tail -n 20 "$DIR/log/$name.log" >&2 2>/dev/null || echo "(none)" >&2
  done
}
start_daemon() {  # NAME: start it unless its PID file names a live process
  local name=$1
  if pid_alive "$name"; then
    log "$name already running (pid $(cat "$DIR/run/$name.pid"))"
    return
  fi
  $SUDO rm -f "$DIR/run/$name.pid"
  if ! $SUDO "$name" -f "$CONF"; then
    show_logs; die "$name did not start"
  fi
  for _ in $(seq 1 50); do   # the PID file appears once it has daemonised
    [ -s "$DIR/run/$name.pid" ] && break
    sleep 0.2
  done
  pid_alive "$name" || { show_logs; die "$name exited right after starting"; }
  log "started $name (pid $(cat "$DIR/run/$name.pid"))"
}
start_daemon slurmctld
start_daemon slurmd

# ---- 6. wait until the node takes jobs
state=""
for second in $(seq 1 "$WAIT_S"); do
  state=$(sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle|mixed|allocated|completing) break ;;
    # left down by an earlier unclean stop: ReturnToService=2 usually clears it; else resume
    down*|drain*|fail*)
      if [ "$second" -gt 10 ]; then
        $SUDO scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true
      fi ;;
  esac
  sleep 1
done
case "$state" in
  idle|mixed|allocated|completing)
    log "SLURM is up: node $HOST is $state in partition '$PARTITION' (state in $DIR)" ;;
  *)
    sinfo -N -l >&2 2>/dev/null || true
    show_logs
    die "node $HOST not idle after ${WAIT_S}s (state: '${state:-no answer}')" ;;
esac

#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for developers and CI (Debian/Ubuntu, root).
#
#   eval "$(scripts/local_slurm.sh up)"     # install if missing, start, wait for the node; prints export SLURM_CONF=...
#   scripts/local_slurm.sh status           # sinfo/squeue against this cluster
#   scripts/local_slurm.sh down             # cancel its jobs, stop exactly the daemons it started
#
# Everything lives in $LDDR_SLURM_DIR (default /tmp/lddr-slurm): slurm.conf, the munge key and
# socket, state and spool folders, logs (slurmctld.log, slurmd.log, munged.log) and pid files.
# Clients (sbatch, squeue, sinfo, scontrol, scancel) find the cluster through SLURM_CONF; `up`
# prints the line to export, and the tests look at $SLURM_CONF, then at
# /tmp/lddr-slurm/slurm.conf (tests/slurm_cluster.py).
#
# Sizing: LDDR_SLURM_CPUS (default: all cores), LDDR_SLURM_MEM_MB (default 8192, kept below the
# machine's memory), ports LDDR_SLURM_PORT (slurmctld, default 6817; slurmd uses the next one).
# No systemd and no cgroups are needed: proctrack/linuxproc, task/none, no accounting; jobs run
# as root (SlurmUser=SlurmdUser=root), so the node is for a throw-away machine or container.
set -euo pipefail

dir="${LDDR_SLURM_DIR:-/tmp/lddr-slurm}"
conf="$dir/slurm.conf"
port="${LDDR_SLURM_PORT:-6817}"
node="$(hostname -s)"

say() { echo "local_slurm: $*" >&2; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
        && command -v sbatch >/dev/null; then
        return
    fi
    say "installing slurm-wlm and munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurm-wlm munge >"$dir/apt.log" 2>&1 \
        || { apt-get update -q >>"$dir/apt.log" 2>&1 && apt-get install -y -q slurm-wlm munge >>"$dir/apt.log" 2>&1; } \
        || { say "apt-get install slurm-wlm munge failed; see $dir/apt.log"; exit 1; }
}

alive() {  # alive PIDFILE NAME: the pid in PIDFILE runs a program called NAME
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(cat "$1")"
    [[ -r "/proc/$pid/comm" ]] && [[ "$(cat "/proc/$pid/comm")" == "$2" ]]
}

write_conf() {
    local cpus mem total_mb
    cpus="${LDDR_SLURM_CPUS:-$(nproc)}"
    total_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 ))
    mem="${LDDR_SLURM_MEM_MB:-8192}"
    (( mem < total_mb )) || mem=$(( total_mb / 2 ))
    mkdir -p "$dir/state" "$dir/spool"
    cat >"$conf" <<EOF
# Written by scripts/local_slurm.sh: one node ($node), one partition, no accounting, no cgroups.
ClusterName=lddr
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
PlugStackConfig=$dir/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
# Requeued jobs may run again at once (tests requeue on purpose).
JobRequeue=1
MinJobAge=600
KillWait=10
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=lddr Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
    : >"$dir/plugstack.conf"
}

start_munge() {
    if alive "$dir/munged.pid" munged; then return; fi
    if [[ ! -s "$dir/munge.key" ]]; then
        dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 status=none
        chmod 400 "$dir/munge.key"
    fi
    # --force: munged refuses to run as root, or with its socket under world-writable /tmp, without it.
    munged --force --key-file="$dir/munge.key" --socket="$dir/munge.socket" --pid-file="$dir/munged.pid" \
        --log-file="$dir/munged.log" --seed-file="$dir/munged.seed"
}

wait_idle() {
    local state
    for _ in $(seq 1 60); do
        state="$(SLURM_CONF="$conf" sinfo -h -N -n "$node" -o %T 2>/dev/null || true)"
        case "$state" in
            idle|mixed|allocated) return 0 ;;
            down*|drain*) SLURM_CONF="$conf" scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 1
    done
    say "node $node is not idle after 60 s (state '${state:-none}'); see $dir/slurmctld.log and $dir/slurmd.log"
    return 1
}

up() {
    mkdir -p "$dir"
    install_packages
    write_conf
    start_munge
    # -i: ignore stale state from an earlier cluster in the same folder.
    alive "$dir/slurmctld.pid" slurmctld || slurmctld -f "$conf" -i
    alive "$dir/slurmd.pid" slurmd || slurmd -f "$conf"
    wait_idle
    say "cluster up: node $node, partition lddr; logs in $dir"
    echo "export SLURM_CONF=$conf"
}

stop() {  # stop PIDFILE NAME: end that daemon, and only it
    local pid
    if alive "$1" "$2"; then
        pid="$(cat "$1")"
        kill "$pid"
        for _ in $(seq 1 30); do [[ -d "/proc/$pid" ]] || break; sleep 0.5; done
        [[ -d "/proc/$pid" ]] && kill -9 "$pid"
        say "stopped $2 ($pid)"
    fi
    rm -f "$1"
}

down() {
    if [[ -f "$conf" ]] && alive "$dir/slurmctld.pid" slurmctld; then
        SLURM_CONF="$conf" scancel --partition=lddr >/dev/null 2>&1 || true  # this cluster's jobs only
        for _ in $(seq 1 20); do
            [[ -z "$(SLURM_CONF="$conf" squeue -h -o %i 2>/dev/null)" ]] && break
            sleep 1
        done
    fi
    stop "$dir/slurmd.pid" slurmd
    stop "$dir/slurmctld.pid" slurmctld
    stop "$dir/munged.pid" munged
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) SLURM_CONF="$conf" sinfo; SLURM_CONF="$conf" squeue ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac

# shellcheck shell=bash disable=SC2034  # TARGET_PID / TARGET_LUN are outputs for the caller
# Shared helpers for scripts/*.sh: package installation, free ports, bounded waits,
# and starting/stopping the target under test (ours = iscsi-targetd, or Debian's tgtd).
# Everything binds to 127.0.0.1 only; every wait is bounded; every process started
# here is recorded and killed by cleanup_all (install it with `trap cleanup_all EXIT`).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# Debian packages the real-initiator tests and the benchmark need.
PACKAGES=(libaio-dev libiscsi-bin qemu-utils qemu-block-extra tgt sg3-utils socat python3 iproute2 util-linux procps)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

# ensure_packages: install whatever of PACKAGES is missing (root only; apt-get update first).
ensure_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -q >/dev/null
    # policy-rc.d keeps the packaged tgt service from being started on install (it would grab 3260).
    local prc=/usr/sbin/policy-rc.d created_prc=0
    if [ ! -e "$prc" ]; then printf '#!/bin/sh\nexit 101\n' >"$prc"; chmod +x "$prc"; created_prc=1; fi
    timeout 900 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || {
        [ $created_prc -eq 1 ] && rm -f "$prc"; die "apt-get install failed"; }
    [ $created_prc -eq 1 ] && rm -f "$prc"
    return 0
}

# free_port: print a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
    python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# wait_port PORT SECONDS: wait until something accepts on 127.0.0.1:PORT.
wait_port() {
    local port=$1 secs=${2:-20} i
    for ((i = 0; i < secs * 10; i++)); do
        if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# --- process bookkeeping -------------------------------------------------------------
STARTED_PIDS=()
CLEANUP_CMDS=()   # run after the processes are gone (loop devices, files)
STOP_CMDS=()      # run before the processes are signalled (graceful shutdown requests)
cleanup_all() {
    local pid i
    for ((i = 0; i < ${#STOP_CMDS[@]}; i++)); do timeout 10 bash -c "${STOP_CMDS[$i]}" >/dev/null 2>&1 || true; done
    STOP_CMDS=()
    for pid in "${STARTED_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED_PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    STARTED_PIDS=()
    for ((i = ${#CLEANUP_CMDS[@]} - 1; i >= 0; i--)); do eval "${CLEANUP_CMDS[$i]}" 2>/dev/null || true; done
    CLEANUP_CMDS=()
}
on_cleanup() { CLEANUP_CMDS+=("$1"); }
on_stop() { STOP_CMDS+=("$1"); }

# stop_pid PID: TERM, bounded wait, KILL.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${STARTED_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    STARTED_PIDS=("${keep[@]}")
}

# --- targets ---------------------------------------------------------------------------
# A target is described by lines "NAME|KIND|PATH_OR_BLOCKS" fed to start_target:
#   KIND fileio|blockio|nullio.  For ours these become ietd.conf Lun lines; for tgtd,
#   fileio -> bstype rdwr, blockio -> bstype aio (O_DIRECT), nullio -> bstype null.
# start_target WHICH PORT WORKDIR SPEC...  sets TARGET_PID and TARGET_LUN (ours: 0, tgtd: 1,
# because tgtd puts its controller on LUN 0).

ours_binary() { echo "${ISCSI_TARGETD:-$ROOT/.build/release/iscsi-targetd}"; }

# require_ours_binary NAME: exports ISCSI_TARGETD (the given one, else the release build, else the debug
# build); when none exists prints "SKIP NAME: ..." and a zero count line, then exits 0.
require_ours_binary() {
    if [ -z "${ISCSI_TARGETD:-}" ]; then
        for b in "$ROOT/.build/release/iscsi-targetd" "$ROOT/.build/debug/iscsi-targetd"; do
            [ -x "$b" ] && { ISCSI_TARGETD=$b; break; }
        done
    fi
    export ISCSI_TARGETD=${ISCSI_TARGETD:-$ROOT/.build/release/iscsi-targetd}
    if [ ! -x "$ISCSI_TARGETD" ]; then
        echo "SKIP $1: no iscsi-targetd binary (swift build -c release, or set ISCSI_TARGETD)"
        echo "0 passed, 0 failed"
        exit 0
    fi
}

start_target() {
    local which=$1 port=$2 dir=$3; shift 3
    case "$which" in
        ours) start_ours "$port" "$dir" "$@" ;;
        tgtd) start_tgtd "$port" "$dir" "$@" ;;
        *) die "unknown target '$which' (want ours|tgtd)" ;;
    esac
}

start_ours() {
    local port=$1 dir=$2; shift 2
    local bin; bin="$(ours_binary)"
    [ -x "$bin" ] || die "iscsi-targetd not found at $bin (build it: swift build -c release)"
    local cfg="$dir/ietd.conf" spec name kind arg
    : >"$cfg"
    for spec in "$@"; do
        IFS='|' read -r name kind arg <<<"$spec"
        printf 'Target %s\n' "$name" >>"$cfg"
        case "$kind" in
            nullio) printf '\tLun 0 Type=nullio,Blocks=%s\n' "$arg" >>"$cfg" ;;
            *) printf '\tLun 0 Path=%s,Type=%s\n' "$arg" "$kind" >>"$cfg" ;;
        esac
    done
    "$bin" --config "$cfg" --portal "127.0.0.1:$port" --foreground --log-level "${OURS_LOG_LEVEL:-info}" \
        --control-socket "$dir/iscsi-targetd.sock" >"$dir/target.log" 2>&1 &
    TARGET_PID=$!
    STARTED_PIDS+=("$TARGET_PID")
    TARGET_LUN=0
    if ! wait_port "$port" 30; then
        tail -n 30 "$dir/target.log" >&2 || true
        die "iscsi-targetd did not listen on 127.0.0.1:$port within 30 s"
    fi
}

start_tgtd() {
    local port=$1 dir=$2; shift 2
    command -v tgtd >/dev/null || die "tgtd not installed (apt-get install tgt)"
    # Control channel: abstract socket keyed by -C (a short int); derive it from the iSCSI port so
    # parallel runs differ.  tgtd ignores SIGTERM/SIGINT: stop it with tgtadm (see tgtd_shutdown_cmd).
    local ctl=$((port % 30000 + 1000))
    tgtd -f -C "$ctl" --iscsi "portal=127.0.0.1:$port" >"$dir/target.log" 2>&1 &
    TARGET_PID=$!
    STARTED_PIDS+=("$TARGET_PID")
    TARGET_LUN=1
    on_stop "$(tgtd_shutdown_cmd "$ctl" $#)"
    wait_port "$port" 30 || { tail -n 30 "$dir/target.log" >&2; die "tgtd did not listen on 127.0.0.1:$port"; }
    local tid=0 spec name kind arg bs
    for spec in "$@"; do
        IFS='|' read -r name kind arg <<<"$spec"
        tid=$((tid + 1))
        tgtadm -C "$ctl" --lld iscsi --mode target --op new --tid "$tid" --targetname "$name" \
            || die "tgtadm: target $name"
        case "$kind" in
            fileio) bs=(--bstype rdwr --backing-store "$arg") ;;
            blockio) bs=(--bstype aio --backing-store "$arg")
                # tgtd presents 512-byte blocks unless told: match a block device's logical block size
                # (as iscsi-targetd does), or O_DIRECT refuses the misaligned requests.
                if [ -b "$arg" ] && [ "$(blockdev --getss "$arg")" != 512 ]; then
                    bs+=("--blocksize=$(blockdev --getss "$arg")")
                fi ;;
            nullio) bs=(--bstype null --backing-store "null$tid") ;;
            *) die "unknown LUN kind $kind" ;;
        esac
        tgtadm -C "$ctl" --lld iscsi --mode logicalunit --op new --tid "$tid" --lun 1 "${bs[@]}" \
            || die "tgtadm: LUN for $name ($kind $arg)"
        tgtadm -C "$ctl" --lld iscsi --mode target --op bind --tid "$tid" --initiator-address 127.0.0.1 \
            || die "tgtadm: bind $name"
    done
}

# tgtd_shutdown_cmd CTL NTARGETS: shell text that deletes the targets (forced) and the tgtd system.
tgtd_shutdown_cmd() {
    local ctl=$1 n=$2 tid cmd=""
    for ((tid = 1; tid <= n; tid++)); do
        cmd+="tgtadm -C $ctl --lld iscsi --mode target --op delete --force --tid $tid; "
    done
    echo "${cmd}tgtadm -C $ctl --op delete --mode system"
}

# cpu_ticks PID: utime+stime of the whole process (all threads), in clock ticks.
cpu_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# machine_idle: "IDLE_TICKS IDLE_ENTRIES" for the whole machine — idle + iowait clock ticks of all CPUs
# (/proc/stat) and how often a CPU entered an idle state (sum of cpuidle `usage` counters; -1 without
# cpuidle). Sampled around a run, they show how much of the machine sat idle and how often a CPU halted
# per I/O: on a VM every halt makes the next wake-up of that CPU slow.
machine_idle() {
    local ticks entries=0 f found=0
    ticks=$(awk '$1 == "cpu" { print $5 + $6; exit }' /proc/stat)
    for f in /sys/devices/system/cpu/cpu[0-9]*/cpuidle/state[0-9]*/usage; do
        [ -r "$f" ] || continue
        entries=$((entries + $(cat "$f"))); found=1
    done
    [ "$found" = 1 ] || entries=-1
    echo "${ticks:-0} $entries"
}
# rss_kib PID FIELD: VmRSS or VmHWM in KiB.
rss_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

#!/usr/bin/env bash
# The Linux kernel initiator (open-iscsi) end to end against iscsi-targetd, in QEMU guests (TCG).
#
#   scripts/guest/run.sh DAEMON_BINARY
#
# Starts DAEMON_BINARY with its own ietd.conf on 127.0.0.1:333x (first free port of 3330-3339, or
# $GUEST_PORT), boots guest A (scenarios 1-7 and one side of 8) and, when A asks, guest B (the second
# initiator of scenario 8), and prints one PASS/FAIL line per scenario and `N passed, N failed`.
# Exit: 0 all passed (or skipped because QEMU cannot start at all), 1 a scenario failed, 2 harness error.
#
#   GUEST_NET=ns        (default) QEMU in its own network namespace (`unshare -n`, only lo): user-mode
#                       networking connects to 127.0.0.1:3260 inside it, socat relays that to a Unix
#                       socket, and a second socat relays the socket to the daemon in the host namespace.
#   GUEST_NET=guestfwd  QEMU user-mode networking with restrict=on and guestfwd to `socat - TCP:...`.
#   GUEST_TIMEOUT=540   bound (s) on the guests' run; GUEST_KEEP=1 keeps the work dir (consoles, logs).
# The kernel, modules and tools come from Debian packages (scripts/guest/build-image.sh, cached).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

DAEMON=${1:-}
[ -n "$DAEMON" ] && [ -x "$DAEMON" ] || die "usage: $0 DAEMON_BINARY (an executable iscsi-targetd)"
DAEMON=$(realpath "$DAEMON")
NET=${GUEST_NET:-ns}
GUEST_TIMEOUT=${GUEST_TIMEOUT:-540}
T0=$SECONDS

# shellcheck disable=SC2034  # read by ensure_packages (lib.sh)
PACKAGES=(qemu-system-x86 socat cpio kmod xz-utils zstd iproute2 util-linux gzip)
ensure_packages

PASSED=0 FAILED=0
pass() { echo "PASS $1${2:+ ($2)}"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1${2:+ ($2)}"; FAILED=$((FAILED + 1)); }
skip_all() { echo "SKIP guest-tests ($1)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }

# --- can QEMU start at all? (the only reason to skip) -----------------------------------------------
QEMU=$(command -v qemu-system-x86_64 || true)
[ -n "$QEMU" ] || skip_all "qemu-system-x86_64 not installed and cannot be installed (not root)"
if ! out=$(printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
    timeout 60 "$QEMU" -accel tcg -nodefaults -display none -machine none -S -qmp stdio 2>&1) || ! grep -q QMP <<<"$out"; then
    skip_all "qemu-system-x86_64 cannot start: $(head -n 2 <<<"$out" | tr '\n' ' ')"
fi
if [ "$NET" = ns ] && ! unshare -n true 2>/dev/null; then
    log "cannot create a network namespace here; falling back to GUEST_NET=guestfwd"
    NET=guestfwd
fi

IMG=$("$HERE/build-image.sh") || die "guest image build failed"
log "guest image: $IMG ($(grep -E '^(kernel|open-iscsi)' "$IMG/manifest.txt" | tr '\n' ' '))"

WORK=$(mktemp -d /tmp/iscsi-guest.XXXXXX)
trap 'cleanup_all; [ "${GUEST_KEEP:-0}" = 1 ] && log "work dir kept: $WORK" || rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# --- the target ------------------------------------------------------------------------------------
PORT=${GUEST_PORT:-}
if [ -z "$PORT" ]; then
    for p in 3330 3331 3332 3333 3334 3335 3336 3337 3338 3339; do
        if ! timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; then PORT=$p; break; fi
    done
fi
[ -n "$PORT" ] || die "no free port in 3330-3339"
IQN=iqn.2026-11.org.example.guest
T_PLAIN=$IQN:plain T_CHAP=$IQN:chap T_DIGEST=$IQN:digest T_CUT=$IQN:cut T_SHARED=$IQN:shared T_4K=$IQN:bs512on4k
SIZE_PLAIN=$((256 * 1048576)) SIZE_SMALL=$((64 * 1048576))
CHAP_USER=guestuser CHAP_SECRET=guest-secret-16c
for n in plain chap digest cut shared; do
    sz=$SIZE_SMALL; [ $n = plain ] && sz=$SIZE_PLAIN; [ $n = cut ] && sz=$((128 * 1048576))
    truncate -s "$sz" "$WORK/$n.img"
done
# Scenario 5c: 512-byte LUN blocks on a block device with 4 KiB sectors (an LV on a 4Kn disk).
truncate -s "$SIZE_SMALL" "$WORK/s4k.img"
DEV4K=$(losetup --direct-io=on --sector-size 4096 --find --show "$WORK/s4k.img") \
    || die "losetup --sector-size 4096 failed (scenario 5c needs a loop device)"
on_cleanup "losetup -d $DEV4K"
cat >"$WORK/ietd.conf" <<EOF
Target $T_4K
	Lun 0 Path=$DEV4K,Type=blockio,BlockSize=512
Target $T_PLAIN
	Lun 0 Path=$WORK/plain.img,Type=fileio
Target $T_CHAP
	IncomingUser $CHAP_USER $CHAP_SECRET
	Lun 0 Path=$WORK/chap.img,Type=fileio
Target $T_DIGEST
	HeaderDigest CRC32C,None
	DataDigest CRC32C,None
	Lun 0 Path=$WORK/digest.img,Type=fileio
Target $T_CUT
	Lun 0 Path=$WORK/cut.img,Type=fileio
Target $T_SHARED
	Lun 0 Path=$WORK/shared.img,Type=fileio
EOF
DAEMON_PID=
start_daemon() {
    "$DAEMON" --config "$WORK/ietd.conf" --portal "127.0.0.1:$PORT" --foreground --log-level "${GUEST_LOG_LEVEL:-info}" \
        --control-socket "$WORK/ctl.sock" >>"$WORK/target.log" 2>&1 &
    DAEMON_PID=$!
    STARTED_PIDS+=("$DAEMON_PID")
    wait_port "$PORT" 30 || { tail -n 20 "$WORK/target.log" >&2; die "daemon did not listen on 127.0.0.1:$PORT"; }
}
start_daemon
log "daemon pid $DAEMON_PID on 127.0.0.1:$PORT, net=$NET, work dir $WORK"

# --- networking ------------------------------------------------------------------------------------
if [ "$NET" = ns ]; then
    socat UNIX-LISTEN:"$WORK/relay.sock",fork TCP:127.0.0.1:"$PORT",nodelay >>"$WORK/relay.log" 2>&1 &
    RELAY_PID=$!
    STARTED_PIDS+=("$RELAY_PID")
    for ((i = 0; i < 50; i++)); do [ -S "$WORK/relay.sock" ] && break; sleep 0.1; done
    GUEST_PORTAL=10.0.2.2:3260
else
    GUEST_PORTAL=10.0.2.100:3260
fi

# --- guests ----------------------------------------------------------------------------------------
cat >"$WORK/guest.conf" <<EOF
T_PLAIN=$T_PLAIN
T_CHAP=$T_CHAP
T_DIGEST=$T_DIGEST
T_CUT=$T_CUT
T_SHARED=$T_SHARED
T_4K=$T_4K
SIZE_PLAIN=$SIZE_PLAIN
SIZE_SMALL=$SIZE_SMALL
CHAP_USER=$CHAP_USER
CHAP_SECRET=$CHAP_SECRET
INAME_A=iqn.2026-11.org.example.guest:initiator-a
INAME_B=iqn.2026-11.org.example.guest:initiator-b
EOF
mkdir -p "$WORK/overlay/etc"
cp "$HERE/init.sh" "$WORK/overlay/init"; chmod 755 "$WORK/overlay/init"
cp "$WORK/guest.conf" "$WORK/overlay/etc/guest.conf"
(cd "$WORK/overlay" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$WORK/overlay.cpio.gz"
cat "$IMG/base.cpio.gz" "$WORK/overlay.cpio.gz" >"$WORK/initrd"

declare -A GUEST_PID=()
# boot_guest ROLE SMP: QEMU in its own process group (killed as a group at exit), console to ROLE.console.
boot_guest() {
    local role=$1 smp=$2 qemu_args
    # shellcheck disable=SC2054  # commas belong to QEMU option values
    qemu_args=("$QEMU" -accel tcg,thread=multi -cpu max -smp "$smp" -m 1024 -nodefaults -display none -no-reboot
        -kernel "$IMG/vmlinuz" -initrd "$WORK/initrd"
        -append "console=ttyS0 quiet loglevel=4 panic=-1 guest.role=$role guest.portal=$GUEST_PORTAL"
        -serial "file:$WORK/$role.console" -device virtio-net-pci,netdev=n0 -pidfile "$WORK/$role.pid")
    if [ "$NET" = ns ]; then
        # Inside the namespace only lo exists: user-mode networking's connection to 10.0.2.2:3260 becomes
        # 127.0.0.1:3260 there, and the relay carries it over the Unix socket to the daemon.
        setsid unshare -n -- bash -c 'sock=$0 rlog=$1; shift; ip link set lo up &&
            { socat TCP-LISTEN:3260,bind=127.0.0.1,reuseaddr,fork,nodelay UNIX-CONNECT:"$sock" 2>>"$rlog" & } &&
            sleep 0.3 && exec "$@"' "$WORK/relay.sock" "$WORK/relay-$role.log" \
            "${qemu_args[@]}" -netdev user,id=n0,ipv6=off >"$WORK/$role.qemu.log" 2>&1 &
    else
        setsid "${qemu_args[@]}" -netdev "user,id=n0,ipv6=off,restrict=on,guestfwd=tcp:10.0.2.100:3260-cmd:socat - TCP:127.0.0.1:$PORT,,nodelay" \
            >"$WORK/$role.qemu.log" 2>&1 &
    fi
    GUEST_PID[$role]=$!
    on_cleanup "kill -TERM -- -${GUEST_PID[$role]}; sleep 0.5; kill -KILL -- -${GUEST_PID[$role]}"
    log "guest $role booting (pid ${GUEST_PID[$role]})"
}
restart_daemon() {
    log "scenario 7: restarting the daemon in the middle of the guest's write stream"
    stop_pid "$DAEMON_PID"
    sleep 1
    start_daemon
    log "daemon restarted (pid $DAEMON_PID)"
}

# Scenario 7b: freeze the relay processes that carry the guest's connection (SIGSTOP): the target still
# holds the old connection open while iscsid, after its NOP-Out timeout, logs in again with the same
# ISID and TSIH 0 - a real session reinstatement on the target. The frozen relays are killed afterwards.
STALLED=()
relay_children() {
    if [ "$NET" = ns ]; then pgrep -P "$RELAY_PID" || true; return; fi
    # guestfwd: libslirp detaches each connection's command (setsid, reparented to init): find the
    # socat processes by the sockets they hold to the daemon's port.
    ss -tnpH state established "( dport = :$PORT )" 2>/dev/null | grep -o '"socat",pid=[0-9]*' | cut -d= -f2 | sort -u
}
stall_relay() {
    mapfile -t STALLED < <(relay_children)
    log "scenario 7b: freezing relay pids ${STALLED[*]:-none} (connection stalls, the target keeps it open)"
    local p; for p in "${STALLED[@]}"; do kill -STOP "$p" 2>/dev/null || true; done
}
release_relay() {
    local p; for p in "${STALLED[@]}"; do kill -KILL "$p" 2>/dev/null || true; kill -CONT "$p" 2>/dev/null || true; done
    STALLED=()
}
on_cleanup release_relay

boot_guest a 2
DEADLINE=$((SECONDS + GUEST_TIMEOUT))
done_restart=0 done_b=0 done_stall=0 done_release=0
while [ $SECONDS -lt $DEADLINE ]; do
    if [ $done_restart -eq 0 ] && grep -q '^@@HOST restart-target' "$WORK/a.console" 2>/dev/null; then
        done_restart=1; restart_daemon
    fi
    if [ $done_stall -eq 0 ] && grep -q '^@@HOST stall-relay' "$WORK/a.console" 2>/dev/null; then
        done_stall=1; stall_relay
    fi
    if [ $done_release -eq 0 ] && grep -q '^@@HOST stall-relay-done' "$WORK/a.console" 2>/dev/null; then
        done_release=1; release_relay
    fi
    if [ $done_b -eq 0 ] && grep -q '^@@HOST start-b' "$WORK/a.console" 2>/dev/null; then
        done_b=1; boot_guest b 1
    fi
    alive=0
    for r in "${!GUEST_PID[@]}"; do kill -0 "${GUEST_PID[$r]}" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.5
done
for r in "${!GUEST_PID[@]}"; do
    if kill -0 "${GUEST_PID[$r]}" 2>/dev/null; then
        log "guest $r still running after ${GUEST_TIMEOUT} s: stopping it"
        kill -TERM -- "-${GUEST_PID[$r]}" 2>/dev/null || true
    fi
done
WALL=$((SECONDS - T0))

# --- results ---------------------------------------------------------------------------------------
if ! grep -q '^@@BOOTED' "$WORK/a.console" 2>/dev/null; then
    tail -n 20 "$WORK/a.qemu.log" "$WORK/a.console" >&2 2>/dev/null || true
    if grep -qiE 'could not|failed to|error' "$WORK/a.qemu.log" 2>/dev/null && [ ! -s "$WORK/a.console" ]; then
        skip_all "QEMU could not start the guest: $(head -n 1 "$WORK/a.qemu.log")"
    fi
fi
EXPECTED=(1-discovery 2-login-identity-logout 3-odirect-pattern 4-ext4 5-chap-wrong-secret 5-chap 5-crc32c-digests 5-512-on-4k
    6-iscsistart-root 7-reconnect-daemon-restart 7-reinstatement-relay-stall 8-two-initiators-a-reads-b 8-two-initiators-b-reads-a)
declare -A SEEN=()
for r in a b; do
    [ -f "$WORK/$r.console" ] || continue
    while read -r _ verdict name detail; do
        [ -n "${SEEN[$name]:-}" ] && continue
        SEEN[$name]=1
        if [ "$verdict" = PASS ]; then pass "guest-$name" "$detail"; else fail "guest-$name" "$detail"; fi
    done < <(tr -d '\r' <"$WORK/$r.console" | grep '^@@RESULT ')
done
for name in "${EXPECTED[@]}"; do
    [ -n "${SEEN[$name]:-}" ] || fail "guest-$name" "no result (guest stopped or timed out; see console)"
done
# 7b is only a reinstatement if the target saw the new login while it still held the old session.
if [ "${SEEN[7-reinstatement-relay-stall]:-}" ]; then
    if grep -q 'session reinstatement: closing' "$WORK/target.log"; then
        pass "guest-7-target-reinstated-session" "$(grep -c 'session reinstatement: closing' "$WORK/target.log") reinstatement(s) in the target log"
    else
        fail "guest-7-target-reinstated-session" "the target logged no 'session reinstatement'"
    fi
fi
if [ $FAILED -gt 0 ]; then
    for r in a b; do
        [ -f "$WORK/$r.console" ] || continue
        echo "--- guest $r: diagnostics ---"
        tr -d '\r' <"$WORK/$r.console" | grep -E '^@@(LOG|RESULT FAIL)' | tail -n 80 || true
        tr -d '\r' <"$WORK/$r.console" | grep -vE '^@@' | tail -n 20 || true
    done
    echo "--- target log (last 40 lines) ---"; tail -n 40 "$WORK/target.log" || true
fi
times=$(tr -d '\r' <"$WORK/a.console" 2>/dev/null | awk '/^@@TIME/ { printf "s%s=%ss ", $2, $3 }')
booted=$(tr -d '\r' <"$WORK/a.console" 2>/dev/null | awk '/^@@ READY/ { sub("uptime=", "", $4); print $4 }')
rates=$(tr -d '\r' <"$WORK/a.console" 2>/dev/null | sed -n 's/^@@RATE //p' | head -n 1)
log "wall ${WALL}s (guest a ready at ${booted:-?}s uptime; $times) net=$NET; guest I/O: ${rates:-?}"
echo "$PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]

#!/usr/bin/env bash
# IET drop-in compatibility checks with real initiators (libiscsi tools, qemu-img) against
# iscsi-targetd and iscsi-targetadm.
#
#   scripts/iet-compat-tests.sh DAEMON_BINARY [ADMIN_BINARY]
#
# ADMIN_BINARY defaults to iscsi-targetadm beside DAEMON_BINARY. Prints one `PASS name`, `FAIL name`
# or `SKIP name: reason` line per check and a final `N passed, N failed` line; exits non-zero when
# anything failed. Listens on 127.0.0.1 only (ports IET_COMPAT_PORT, default 3320, and +1); every
# wait is bounded; every process, loop device and file it creates is removed on exit.
set -u

DAEMON=${1:?usage: $0 DAEMON_BINARY [ADMIN_BINARY]}
ADM=${2:-$(dirname "$DAEMON")/iscsi-targetadm}
PORT=${IET_COMPAT_PORT:-3320}
[ -x "$DAEMON" ] || { echo "no executable daemon at $DAEMON" >&2; exit 2; }
[ -x "$ADM" ] || { echo "no executable admin tool at $ADM" >&2; exit 2; }

PASSED=0
FAILED=0
pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP $1: $2"; }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }

WORK=$(mktemp -d /tmp/iet-compat-XXXXXX)
PIDS=()
LOOPS=()
cleanup() {
    local p i
    # SIGINT first: iscsi-perf finishes cleanly on it. Its `timeout --foreground` wrapper forwards
    # the signal once (without --foreground timeout also signals its process group, and a second
    # SIGINT makes iscsi-perf print ABORTED!).
    for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -TERM "$p" 2>/dev/null || true
        for ((i = 0; i < 20; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    for p in "${LOOPS[@]}"; do losetup -d "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need() { command -v "$1" >/dev/null 2>&1; }
for tool in iscsi-inq iscsi-ls iscsi-readcapacity16 iscsi-perf qemu-img; do
    need "$tool" || echo "note: $tool is missing (Debian: libiscsi-bin, qemu-utils, qemu-block-extra); checks using it are skipped" >&2
done

SOCK=$WORK/control.sock
CONF=$WORK/ietd.conf
LOG=$WORK/daemon.log
adm() { timeout 60 "$ADM" "$@" --control-socket "$SOCK"; }
URL=iscsi://127.0.0.1:$PORT
T1=iqn.2001-04.com.example:storage.lun1
T_ACL=iqn.2001-04.com.example:storage.acl
ALLOWED=iqn.2026-11.org.example:allowed-initiator
DENIED=iqn.2026-11.org.example:denied-initiator

# A backing block device: a loop device on a temp file, or (without losetup) the file itself.
make_backing() { # NAME SIZE -> sets BACKING (not a subshell: LOOPS must survive)
    local file=$WORK/$1.img dev
    truncate -s "$2" "$file"
    if need losetup && dev=$(losetup -f --show "$file" 2>/dev/null) && [ -n "$dev" ]; then
        LOOPS+=("$dev")
        BACKING=$dev
    else
        BACKING=$file
    fi
}

start_daemon() { # CONFIG
    "$DAEMON" --config "$1" --portal "127.0.0.1:$PORT" --control-socket "$SOCK" --threads 2 >>"$LOG" 2>&1 &
    DPID=$!
    PIDS+=("$DPID")
    local i
    for ((i = 0; i < 100; i++)); do
        [ -S "$SOCK" ] && timeout 5 "$ADM" ping --control-socket "$SOCK" >/dev/null 2>&1 && return 0
        kill -0 "$DPID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# 1. IET's man-page example configuration (ietd.conf(5), 1.4.20.3) passes check-config.
# ---------------------------------------------------------------------------------------------
make_backing sdc 32M
SDC=$BACKING
cat >"$WORK/man-example.conf" <<EOF
IncomingUser joe secret
OutgoingUser jack secret2
Target iqn.2001-04.com.example:storage.disk2.sys1.xyz
    IncomingUser jim othersecret
    OutgoingUser james yetanothersecret
    Lun 0 Path=$SDC,Type=fileio
    Lun 1 Blocks=10000,BlockSize=4096,Type=nullio
    Alias Test
    HeaderDigest None
    DataDigest None
    MaxConnections 1
    MaxSessions 0
    InitialR2T Yes
    ImmediateData No
    MaxRecvDataSegmentLength 8192
    MaxXmitDataSegmentLength 8192
    MaxBurstLength 262144
    FirstBurstLength 65536
    DefaultTime2Wait 2
    DefaultTime2Retain 0
    MaxOutstandingR2T 8
    NOPInterval 0
    NOPTimeout 0
    DataPDUInOrder Yes
    DataSequenceInOrder Yes
    ErrorRecoveryLevel 0
EOF
out=$(timeout 30 "$ADM" check-config "$WORK/man-example.conf" 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q 'OK, 1 target, 2 LUNs' <<<"$out"; then pass man-page-example-check-config
else fail man-page-example-check-config "rc=$rc: $(tail -1 <<<"$out")"; fi

# A configuration with an error fails check-config with file:line:column.
printf 'Target %s\n    Lun 0 Path=%s,Type=bogus\n' "$T1" "$SDC" >"$WORK/bad.conf"
out=$(timeout 30 "$ADM" check-config "$WORK/bad.conf" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q "bad.conf:2:" <<<"$out"; then pass check-config-rejects-error
else fail check-config-rejects-error "rc=$rc"; fi

# ---------------------------------------------------------------------------------------------
# 2. Serve IET's README stanza from a loop device, with an ACL'd second target.
# ---------------------------------------------------------------------------------------------
make_backing lun1 64M
LUN1=$BACKING
if [ -b "$LUN1" ]; then
    BACKING_IS_DEVICE=1
else
    skip loop-device "losetup unavailable or failed; serving a regular file instead"
    BACKING_IS_DEVICE=0
fi
write_config() { # extra lines appended
    {
        printf 'Target %s\n    Lun 0 Path=%s,Type=fileio\n    Alias LUN1\n' "$T1" "$LUN1"
        printf 'Target %s\n    Lun 0 Blocks=20480,Type=nullio\n' "$T_ACL"
        printf '%s\n' "$@"
    } >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
}
write_config
# initiators.allow beside the config: the ACL target only for $ALLOWED; everything else open.
cat >"$WORK/initiators.allow" <<EOF
$T_ACL ${ALLOWED//./\\.}
ALL ALL
EOF

if ! start_daemon "$CONF"; then
    fail daemon-start "see log below"
    sed 's/^/    /' "$LOG" | tail -20
    echo "$PASSED passed, $FAILED failed"
    exit 1
fi
pass daemon-start

if need iscsi-inq; then
    out=$(timeout 20 iscsi-inq -i "$ALLOWED" "$URL/$T1/0" 2>&1)
    if grep -q '^Vendor:IET' <<<"$out" && grep -q '^Product:VIRTUAL-DISK' <<<"$out"; then pass readme-stanza-inquiry-iet-identity
    else fail readme-stanza-inquiry-iet-identity "$(head -3 <<<"$out")"; fi
else skip readme-stanza-inquiry-iet-identity "iscsi-inq missing"; fi

if need iscsi-readcapacity16; then
    out=$(timeout 20 iscsi-readcapacity16 "$URL/$T1/0" 2>&1)
    if grep -q 'Total size:67108864' <<<"$out"; then pass readme-stanza-readcapacity16-size
    else fail readme-stanza-readcapacity16-size "$(tail -1 <<<"$out")"; fi
else skip readme-stanza-readcapacity16-size "iscsi-readcapacity16 missing"; fi

if need qemu-img; then
    head -c 4194304 /dev/urandom >"$WORK/pattern.raw"
    if timeout 60 qemu-img convert -n -f raw -O raw "$WORK/pattern.raw" "$URL/$T1/0" >"$WORK/qemu.out" 2>&1 \
        && timeout 60 qemu-img convert -f raw -O raw "$URL/$T1/0" "$WORK/readback.raw" >>"$WORK/qemu.out" 2>&1 \
        && cmp -n 4194304 "$WORK/pattern.raw" "$WORK/readback.raw" >/dev/null; then
        pass qemu-img-write-read-compare
    else
        fail qemu-img-write-read-compare "$(tail -1 "$WORK/qemu.out")"
    fi
    # The data reached the backing device itself (not only the target's view).
    if [ "$BACKING_IS_DEVICE" = 1 ]; then
        check backing-device-holds-data cmp -n 4194304 "$WORK/pattern.raw" "$LUN1"
    fi
else skip qemu-img-write-read-compare "qemu-img missing"; fi

# ---------------------------------------------------------------------------------------------
# 3. initiators.allow with real initiators using different names; SendTargets filtered too.
# ---------------------------------------------------------------------------------------------
if need iscsi-inq; then
    if timeout 20 iscsi-inq -i "$ALLOWED" "$URL/$T_ACL/0" >/dev/null 2>&1; then pass acl-allowed-initiator-logs-in
    else fail acl-allowed-initiator-logs-in; fi
    if timeout 20 iscsi-inq -i "$DENIED" "$URL/$T_ACL/0" >"$WORK/deny.out" 2>&1; then
        fail acl-denied-initiator-refused "login succeeded"
    else
        pass acl-denied-initiator-refused
    fi
    if timeout 20 iscsi-inq -i "$DENIED" "$URL/$T1/0" >/dev/null 2>&1; then pass acl-open-target-for-other-initiator
    else fail acl-open-target-for-other-initiator; fi
else skip acl-checks "iscsi-inq missing"; fi

if need iscsi-ls; then
    allowed_ls=$(timeout 20 iscsi-ls -s -i "$ALLOWED" "$URL" 2>&1)
    denied_ls=$(timeout 20 iscsi-ls -s -i "$DENIED" "$URL" 2>&1)
    if grep -q "Target:$T_ACL " <<<"$allowed_ls" && grep -q "Target:$T1 " <<<"$allowed_ls"; then pass sendtargets-allowed-sees-acl-target
    else fail sendtargets-allowed-sees-acl-target "$allowed_ls"; fi
    if ! grep -q "Target:$T_ACL " <<<"$denied_ls" && grep -q "Target:$T1 " <<<"$denied_ls"; then pass sendtargets-denied-filtered
    else fail sendtargets-denied-filtered "$denied_ls"; fi
else skip sendtargets-acl "iscsi-ls missing"; fi

# ---------------------------------------------------------------------------------------------
# 4. show sessions while a client is logged in (/proc/net/iet/session format).
# ---------------------------------------------------------------------------------------------
PERF_PID=
if need iscsi-perf; then
    timeout --foreground -s INT -k 5 120 iscsi-perf -i "$ALLOWED" "$URL/$T1/0" >"$WORK/perf.out" 2>&1 &
    PERF_PID=$!
    PIDS+=("$PERF_PID")
    sessions=
    for ((i = 0; i < 100; i++)); do
        sessions=$(adm show sessions 2>&1)
        grep -q "initiator:$ALLOWED" <<<"$sessions" && break
        sleep 0.1
    done
    if grep -q "^tid:1 name:$T1\$" <<<"$sessions" \
        && grep -qE "^	sid:[0-9]+ initiator:$ALLOWED\$" <<<"$sessions" \
        && grep -qE "^		cid:0 ip:127\.0\.0\.1 state:active hd:none dd:none\$" <<<"$sessions"; then
        pass show-sessions-proc-format
    else
        fail show-sessions-proc-format "$sessions"
    fi
    volumes=$(adm show luns 2>&1)
    if grep -qE "^	lun:0 state:0 iotype:fileio iomode:wt blocks:131072 blocksize:512 path:$LUN1\$" <<<"$volumes"; then
        pass show-luns-proc-format
    else
        fail show-luns-proc-format "$volumes"
    fi
    SID=$(sed -n 's/^	sid:\([0-9]*\) initiator:.*/\1/p' <<<"$sessions" | head -1)
    out=$(adm --op show --tid=1 --sid="${SID:-0}" 2>&1)
    if grep -q '^MaxRecvDataSegmentLength=[0-9]*$' <<<"$out" && grep -q '^HeaderDigest=None$' <<<"$out"; then
        pass ietadm-show-session-parameters
    else
        fail ietadm-show-session-parameters "$out"
    fi
    if adm --op delete --tid=1 >/dev/null 2>&1; then fail ietadm-delete-busy-target-refused "deleted"
    else pass ietadm-delete-busy-target-refused; fi
else
    skip show-sessions-proc-format "iscsi-perf missing"
fi

# ---------------------------------------------------------------------------------------------
# 5. Reloads (SIGHUP and iscsi-targetadm reload) while the client keeps reading.
# ---------------------------------------------------------------------------------------------
T_ADDED=iqn.2001-04.com.example:storage.added
# Let the client read for a while before and between the reloads.
[ -n "$PERF_PID" ] && sleep 1
write_config "Target $T_ADDED" "    Lun 0 Blocks=4096,Type=nullio"
kill -HUP "$DPID"
for ((i = 0; i < 50; i++)); do
    adm show targets 2>/dev/null | grep -q "$T_ADDED" && break
    sleep 0.1
done
if need iscsi-ls; then
    if timeout 20 iscsi-ls -s "$URL" 2>&1 | grep -q "Target:$T_ADDED "; then pass sighup-reload-adds-target
    else fail sighup-reload-adds-target; fi
else check sighup-reload-adds-target bash -c "timeout 10 '$ADM' show targets --control-socket '$SOCK' | grep -q '$T_ADDED'"; fi

T_ADDED2=iqn.2001-04.com.example:storage.added2
write_config "Target $T_ADDED" "    Lun 0 Blocks=4096,Type=nullio" "Target $T_ADDED2" "    Lun 0 Blocks=4096,Type=nullio"
out=$(adm reload 2>&1)
rc=$?
if [ $rc -eq 0 ] && need iscsi-ls && timeout 20 iscsi-ls -s "$URL" 2>&1 | grep -q "Target:$T_ADDED2 "; then
    pass adm-reload-adds-target
elif [ $rc -eq 0 ] && ! need iscsi-ls; then pass adm-reload-adds-target
else fail adm-reload-adds-target "rc=$rc $out"; fi

# A configuration with an error is rejected; the old one stays.
before=$(adm show targets 2>&1)
write_config "Target $T_ADDED" "    Lun 0 Path=$WORK/does-not-matter,Type=bogus"
out=$(adm reload 2>&1)
rc=$?
after=$(adm show targets 2>&1)
if [ $rc -ne 0 ] && grep -q 'configuration has errors' <<<"$out" && [ "$before" = "$after" ]; then
    pass adm-reload-rejects-bad-config
else
    fail adm-reload-rejects-bad-config "rc=$rc"
fi
rejected_before=$(grep -c 'reload rejected' "$LOG")
kill -HUP "$DPID"
for ((i = 0; i < 50; i++)); do
    [ "$(grep -c 'reload rejected' "$LOG")" -gt "$rejected_before" ] && break
    sleep 0.1
done
after=$(adm show targets 2>&1)
if [ "$(grep -c 'reload rejected' "$LOG")" -gt "$rejected_before" ] && [ "$before" = "$after" ] && kill -0 "$DPID" 2>/dev/null; then
    pass sighup-rejects-bad-config
else fail sighup-rejects-bad-config; fi
# A backing store that cannot be opened is rejected the same way.
write_config "Target $T_ADDED" "    Lun 0 Path=$WORK/missing.img,Type=fileio"
if adm reload >/dev/null 2>&1; then fail adm-reload-rejects-missing-backing "accepted"
else check adm-reload-rejects-missing-backing test "$before" = "$(adm show targets 2>&1)"; fi
write_config "Target $T_ADDED" "    Lun 0 Blocks=4096,Type=nullio" "Target $T_ADDED2" "    Lun 0 Blocks=4096,Type=nullio"
adm reload >/dev/null 2>&1

if [ -n "$PERF_PID" ]; then
    # qemu-img reads in a loop during one more reload: every read must succeed.
    if need qemu-img; then
        (
            for ((n = 0; n < 5; n++)); do
                timeout 30 qemu-img convert -f raw -O raw "$URL/$T1/0" "$WORK/loop-read.raw" || exit 1
                cmp -n 4194304 "$WORK/pattern.raw" "$WORK/loop-read.raw" >/dev/null || exit 1
            done
        ) >"$WORK/qemu-loop.out" 2>&1 &
        QLOOP=$!
        PIDS+=("$QLOOP")
        sleep 0.3
        kill -HUP "$DPID"
        adm reload >/dev/null 2>&1
        if wait "$QLOOP"; then pass qemu-img-reads-across-reload
        else fail qemu-img-reads-across-reload "$(tail -2 "$WORK/qemu-loop.out")"; fi
    fi
    # Let iscsi-perf report a few seconds in all (bounded: at most 15 s), so that a fast run of the
    # reload steps above still gives it enough progress lines to judge.
    for ((w = 0; w < 30; w++)); do
        [ "$(tr '\r' '\n' <"$WORK/perf.out" | grep -c 'iops current')" -ge 4 ] && break
        kill -0 "$PERF_PID" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$PERF_PID" 2>/dev/null; then
        kill -INT "$PERF_PID" 2>/dev/null
        wait "$PERF_PID" 2>/dev/null
        # iscsi-perf exits on the first failed command (no -n); its progress lines are \r-separated.
        problems=$(tr '\r' '\n' <"$WORK/perf.out" | grep -v 'press CTRL-C' | grep -iE 'error|fail|reconnect|abort')
        seconds=$(tr '\r' '\n' <"$WORK/perf.out" | grep -c 'iops current')
        if [ -n "$problems" ]; then
            fail iscsi-perf-no-error-across-reloads "$(head -2 <<<"$problems")"
        elif [ "$seconds" -lt 3 ]; then
            fail iscsi-perf-no-error-across-reloads "only $seconds s of progress"
        else
            pass iscsi-perf-no-error-across-reloads
        fi
    else
        fail iscsi-perf-no-error-across-reloads "iscsi-perf exited: $(tail -c 300 "$WORK/perf.out")"
    fi
    sessions=$(adm show sessions 2>&1)
    for ((i = 0; i < 50; i++)); do
        grep -q "initiator:" <<<"$sessions" || break
        sleep 0.1
        sessions=$(adm show sessions 2>&1)
    done
fi

# ---------------------------------------------------------------------------------------------
# 6. ietadm operations: show, new target + LUN (visible to iscsi-ls), update, delete.
# ---------------------------------------------------------------------------------------------
out=$(adm --op show --tid=1 2>&1)
rc=$?
if [ $rc -eq 0 ] && ! grep -qv '^[A-Za-z0-9]*=' <<<"$out" && grep -q '^MaxBurstLength=' <<<"$out" \
    && grep -q '^Alias=LUN1$' <<<"$out"; then pass ietadm-show-target
else fail ietadm-show-target "rc=$rc $(head -2 <<<"$out")"; fi

T_RT=iqn.2001-04.com.example:storage.runtime
truncate -s 16M "$WORK/runtime.img"
out=$(adm --op new --tid=0 --params "Name=$T_RT" 2>&1)
RT_TID=$(sed -n 's/^tid:\([0-9]*\) name:.*/\1/p' <<<"$out")
if [ -n "$RT_TID" ] && adm --op new --tid="$RT_TID" --lun=0 --params "Path=$WORK/runtime.img,Type=fileio" >/dev/null 2>&1; then
    if ! need iscsi-ls; then pass ietadm-new-target-and-lun
    elif timeout 20 iscsi-ls -s "$URL" 2>&1 | grep -A1 "Target:$T_RT " | grep -q 'Lun:0'; then pass ietadm-new-target-and-lun
    else fail ietadm-new-target-and-lun "not listed by iscsi-ls"; fi
else fail ietadm-new-target-and-lun "$out"; fi
if need iscsi-readcapacity16; then
    check ietadm-new-lun-serves-io bash -c "timeout 20 iscsi-readcapacity16 '$URL/$T_RT/0' | grep -q 'Total size:16777216'"
fi

if adm --op new --tid="${RT_TID:-99}" --lun=1 --params "Path=$WORK/runtime.img,Type=bogus" >/dev/null 2>&1; then
    fail ietadm-new-lun-bad-params-refused; else pass ietadm-new-lun-bad-params-refused; fi
if adm --op update --tid=1 --params=NOPInterval=10,NOPTimeout=5 >/dev/null 2>&1 \
    && adm --op show --tid=1 | grep -q '^NOPInterval=10$'; then pass ietadm-update-target
else fail ietadm-update-target; fi
if adm --op update --tid=1 --params=NoSuchKey=1 >/dev/null 2>&1; then fail ietadm-update-unknown-key-refused
else pass ietadm-update-unknown-key-refused; fi
adm --op new --tid=1 --user --params=IncomingUser=alice,Password=alice-secret-123 >/dev/null 2>&1
out=$(adm --op show --tid=1 --user 2>&1)
if [ "$out" = "IncomingUser alice" ] && ! grep -rq 'alice-secret-123' "$LOG"; then pass ietadm-user-listed-without-secret
else fail ietadm-user-listed-without-secret "$out"; fi
adm --op delete --tid=1 --user --params=IncomingUser=alice >/dev/null 2>&1
if adm --op delete --tid="${RT_TID:-99}" --lun=0 >/dev/null 2>&1 && adm --op delete --tid="${RT_TID:-99}" >/dev/null 2>&1 \
    && ! adm show targets | grep -q "$T_RT"; then pass ietadm-delete-lun-and-target
else fail ietadm-delete-lun-and-target; fi
# Drop a live connection (ietadm --op delete --tid --sid --cid); the initiator may log in again.
if need iscsi-perf; then
    timeout --foreground -s INT -k 5 60 iscsi-perf -i "$ALLOWED" "$URL/$T1/0" >"$WORK/perf2.out" 2>&1 &
    P2=$!
    PIDS+=("$P2")
    SID=
    for ((i = 0; i < 100; i++)); do
        SID=$(adm show sessions 2>/dev/null | sed -n "s/^	sid:\([0-9]*\) initiator:$ALLOWED\$/\1/p" | head -1)
        [ -n "$SID" ] && break
        sleep 0.1
    done
    if [ -n "$SID" ] && adm --op delete --tid=1 --sid="$SID" --cid=0 >/dev/null 2>&1         && ! adm show sessions | grep -q "sid:$SID "; then pass ietadm-drop-connection
    else fail ietadm-drop-connection "sid=$SID"; fi
    kill -INT "$P2" 2>/dev/null
    wait "$P2" 2>/dev/null
fi
adm --op delete --tid=4242 >/dev/null 2>&1
rc=$?
if [ $rc -eq 1 ]; then pass ietadm-error-exit-status; else fail ietadm-error-exit-status "rc=$rc"; fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

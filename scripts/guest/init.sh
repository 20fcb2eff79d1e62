#!/bin/sh
# shellcheck disable=SC3043,SC2086,SC2015  # busybox ash has `local`; word splitting of set -- is wanted
# /init of the test guest (busybox sh). run.sh appends it, with /etc/guest.conf, to the cached base initramfs.
#
# Role "a" runs scenarios 1-7 and the writer side of 8; role "b" is the second initiator of scenario 8.
# Lines for the host on the serial console:
#   @@RESULT PASS|FAIL name detail    one per scenario (the host re-prints them as PASS/FAIL name)
#   @@HOST request                     ask the host to act (restart-target, start-b)
#   @@LOG text                         diagnostics (iscsid log, dmesg) printed when a scenario fails
#   @@TIME name seconds                how long a step took inside the guest
# Every command that talks to the target runs under `timeout`; every wait loop is bounded.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /run/lock/iscsi /var/lock/iscsi /etc/iscsi/nodes /etc/iscsi/send_targets /etc/iscsi/ifaces /mnt/a
exec </dev/console >/dev/console 2>&1

ROLE=a
PORTAL=10.0.2.2:3260
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        guest.role=*) ROLE=${arg#guest.role=} ;;
        guest.portal=*) PORTAL=${arg#guest.portal=} ;;
    esac
done
PADDR=${PORTAL%:*}
PPORT=${PORTAL##*:}
. /etc/guest.conf   # T_PLAIN T_CHAP T_DIGEST T_CUT T_SHARED, sizes, CHAP account, initiator names

say() { echo "@@ $*"; }
now() { date +%s; }
result() { # result PASS|FAIL name detail
    echo "@@RESULT $1 $2 ${3:-}"
    if [ "$1" = FAIL ]; then diag; fi
}
diag() {
    dmesg | tail -n 25 | sed 's/^/@@LOG dmesg: /'
    tail -n 25 /tmp/iscsid.log 2>/dev/null | sed 's/^/@@LOG iscsid: /'
}
t() { local s=$1; shift; timeout "$s" "$@"; }   # bounded command
finish() { say "DONE role=$ROLE"; sync; poweroff -f; sleep 5; echo o >/proc/sysrq-trigger; }

# --- boot -----------------------------------------------------------------------------------------
say "BOOTED role=$ROLE uptime=$(cut -d' ' -f1 /proc/uptime)"
while read -r ko; do insmod "$ko" 2>/dev/null || true; done </etc/guest-modules
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
sed -e 's|^iscsid.startup = .*|iscsid.startup = /bin/true|' \
    -e 's|^node.conn\[0\].timeo.noop_out_interval = .*|node.conn[0].timeo.noop_out_interval = 10|' \
    -e 's|^node.conn\[0\].timeo.noop_out_timeout = .*|node.conn[0].timeo.noop_out_timeout = 15|' \
    -e 's|^node.conn\[0\].timeo.login_timeout = .*|node.conn[0].timeo.login_timeout = 30|' \
    /etc/iscsi/iscsid.conf.debian >/etc/iscsi/iscsid.conf
if [ "$ROLE" = b ]; then INAME=$INAME_B; else INAME=$INAME_A; fi
echo "InitiatorName=$INAME" >/etc/iscsi/initiatorname.iscsi

start_iscsid() {
    # Own session: iscsid's shutdown signals its log process, which is kill(0) (the whole process
    # group) when it runs in the foreground.
    setsid iscsid -f -d 1 >>/tmp/iscsid.log 2>&1 &
    ISCSID_PID=$!
    local i=0
    while [ $i -lt 50 ]; do
        iscsiadm -m session >/dev/null 2>&1 && return 0
        [ $? -eq 21 ] && return 0   # ISCSI_ERR_NO_OBJS_FOUND: iscsid answers, no session yet
        sleep 0.2; i=$((i + 1))
    done
    return 1
}
stop_iscsid() { kill "$ISCSID_PID" 2>/dev/null; sleep 1; kill -9 "$ISCSID_PID" 2>/dev/null; wait "$ISCSID_PID" 2>/dev/null; }
start_iscsid || say "iscsid did not answer"
say "READY role=$ROLE uptime=$(cut -d' ' -f1 /proc/uptime)"

# --- helpers --------------------------------------------------------------------------------------
# node_new TARGET: a node record for TARGET on the portal the guest reaches (the target advertises the
# address the relay connected from, 127.0.0.1, which the guest cannot reach).
node_new() { t 30 iscsiadm -m node -o new -T "$1" -p "$PORTAL" >/dev/null; }
node_set() { t 30 iscsiadm -m node -T "$1" -p "$PORTAL" -o update -n "$2" -v "$3" >/dev/null; }
login() { t 90 iscsiadm -m node -T "$1" -p "$PORTAL" --login >>/tmp/iscsiadm.log 2>&1; }
logout() { t 60 iscsiadm -m node -T "$1" -p "$PORTAL" --logout >>/tmp/iscsiadm.log 2>&1; }
# session_of TARGET: the sysfs session directory of TARGET (empty when none).
session_of() {
    local s
    for s in /sys/class/iscsi_session/session*; do
        [ -e "$s/targetname" ] || continue
        [ "$(cat "$s/targetname")" = "$1" ] && { echo "$s"; return 0; }
    done
    return 1
}
# disk_of TARGET: waits (bounded) for the block device of TARGET's LUN 0, prints /dev/sdX.
disk_of() {
    local i=0 s b
    while [ $i -lt 120 ]; do
        s=$(session_of "$1")
        if [ -n "$s" ]; then
            for b in "$s"/device/target*/*:0/block/*; do
                [ -e "$b" ] && [ -b "/dev/${b##*/}" ] && { echo "/dev/${b##*/}"; return 0; }
            done
        fi
        sleep 0.5; i=$((i + 1))
    done
    return 1
}
no_session_of() { # bounded wait until TARGET has no session
    local i=0
    while [ $i -lt 40 ]; do session_of "$1" >/dev/null || return 0; sleep 0.5; i=$((i + 1)); done
    return 1
}
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
md5() { md5sum | cut -d' ' -f1; }

# check_identity NAME DEV BYTES: size and INQUIRY identity.
check_identity() {
    local name=$1 dev=$2 bytes=$3 got inq
    got=$(( $(cat "/sys/block/${dev#/dev/}/size") * 512 ))
    [ "$got" = "$bytes" ] || { result FAIL "$name" "size $got, expected $bytes"; return 1; }
    inq=$(t 30 sg_inq "$dev" 2>&1)
    echo "$inq" | grep -q 'Vendor identification: IET' &&
        echo "$inq" | grep -q 'Product identification: VIRTUAL-DISK' ||
        { echo "$inq" | sed 's/^/@@LOG sg_inq: /'; result FAIL "$name" "INQUIRY identity"; return 1; }
    return 0
}
# pattern_check NAME DEV BYTES: 4 MiB of random data at the start and at the end with O_DIRECT,
# read back with O_DIRECT and, after dropping caches, buffered.
pattern_check() {
    local name=$1 dev=$2 bytes=$3 last want a b c d
    last=$((bytes / 1048576 - 4))
    dd if=/dev/urandom of=/tmp/pat bs=1M count=8 2>/dev/null
    t 120 dd if=/tmp/pat of="$dev" bs=1M count=4 oflag=direct 2>/dev/null &&
        t 120 dd if=/tmp/pat of="$dev" bs=1M skip=4 seek=$last count=4 oflag=direct 2>/dev/null ||
        { result FAIL "$name" "O_DIRECT write"; return 1; }
    want1=$(dd if=/tmp/pat bs=1M count=4 2>/dev/null | md5)
    want2=$(dd if=/tmp/pat bs=1M skip=4 count=4 2>/dev/null | md5)
    a=$(t 120 dd if="$dev" bs=1M count=4 iflag=direct 2>/dev/null | md5)
    b=$(t 120 dd if="$dev" bs=1M skip=$last count=4 iflag=direct 2>/dev/null | md5)
    drop_caches
    c=$(t 120 dd if="$dev" bs=1M count=4 2>/dev/null | md5)
    d=$(t 120 dd if="$dev" bs=1M skip=$last count=4 2>/dev/null | md5)
    [ "$a" = "$want1" ] && [ "$c" = "$want1" ] && [ "$b" = "$want2" ] && [ "$d" = "$want2" ] ||
        { result FAIL "$name" "read-back differs (start direct=$a buffered=$c want=$want1; end direct=$b buffered=$d want=$want2)"; return 1; }
    return 0
}
# fs_check NAME DEV: mkfs.ext4, mount, files, umount, e2fsck -fn, remount, files intact.
fs_check() {
    local name=$1 dev=$2 out
    out=$(t 180 mkfs.ext4 -q -F -E nodiscard "$dev" 2>&1) || { echo "$out" | sed 's/^/@@LOG mkfs: /'; result FAIL "$name" "mkfs.ext4"; return 1; }
    t 60 mount -t ext4 "$dev" /mnt/a || { result FAIL "$name" "mount"; return 1; }
    mkdir -p /mnt/a/dir
    dd if=/dev/urandom of=/mnt/a/dir/big bs=1M count=6 2>/dev/null
    dd if=/dev/urandom of=/mnt/a/small bs=1k count=5 2>/dev/null
    echo "written by $INAME" >/mnt/a/hello.txt
    (cd /mnt/a && md5sum dir/big small hello.txt >/tmp/files.md5)
    t 120 umount /mnt/a || { result FAIL "$name" "umount"; return 1; }
    out=$(t 180 e2fsck -fn "$dev" 2>&1) || { echo "$out" | sed 's/^/@@LOG e2fsck: /'; result FAIL "$name" "e2fsck -fn not clean"; return 1; }
    drop_caches
    t 60 mount -t ext4 "$dev" /mnt/a || { result FAIL "$name" "remount"; return 1; }
    out=$(cd /mnt/a && md5sum -c /tmp/files.md5 2>&1) || { echo "$out" | sed 's/^/@@LOG md5: /'; t 60 umount /mnt/a; result FAIL "$name" "files differ after remount"; return 1; }
    t 120 umount /mnt/a || { result FAIL "$name" "umount 2"; return 1; }
    return 0
}
# mailbox: 4 KiB blocks at the start of the shared LUN carry the hand-over messages of scenario 8.
mbox_put() { # mbox_put DEV SLOT TEXT
    echo "$3" | dd of=/tmp/mbox bs=4096 count=1 conv=sync 2>/dev/null
    t 60 dd if=/tmp/mbox of="$1" bs=4096 seek="$2" count=1 oflag=direct 2>/dev/null
}
mbox_get() { t 60 dd if="$1" bs=4096 skip="$2" count=1 iflag=direct 2>/dev/null | tr -d '\000' | head -n 1; }
mbox_wait() { # mbox_wait DEV SLOT PREFIX SECONDS: prints the message once it starts with PREFIX
    local end msg
    end=$(( $(now) + $4 ))
    while [ "$(now)" -lt "$end" ]; do
        msg=$(mbox_get "$1" "$2")
        case "$msg" in "$3"*) echo "$msg"; return 0 ;; esac
        sleep 1
    done
    return 1
}
timed() { # timed NAME FUNCTION ARGS...: run a scenario function and print its duration
    local _tn=$1 _t0; shift; _t0=$(now); "$@"; echo "@@TIME $_tn $(( $(now) - _t0 ))"
}

# --- role b: the second initiator of scenario 8 ----------------------------------------------------
role_b() {
    S8=8-two-initiators-b-reads-a
    node_new "$T_SHARED"
    if ! login "$T_SHARED" || ! DEV=$(disk_of "$T_SHARED"); then
        result FAIL $S8 "login of the second initiator ($INAME)"; return 1
    fi
    mbox_put "$DEV" 0 "B-READY $INAME"
    if MSG=$(mbox_wait "$DEV" 1 A-WROTE 400); then
        drop_caches
        set -- $MSG
        got=$(t 120 dd if="$DEV" bs=1M skip=1 count=8 2>/dev/null | md5)
        dd if=/dev/urandom of=/tmp/patb bs=1M count=4 2>/dev/null
        t 120 dd if=/tmp/patb of="$DEV" bs=1M seek=16 count=4 oflag=direct 2>/dev/null
        mbox_put "$DEV" 2 "B-READ $got $(md5 </tmp/patb)"
        if [ "$got" = "$2" ]; then result PASS $S8 "8 MiB written by A read back by B after a cache drop"
        else result FAIL $S8 "B read $got, A wrote $2"; fi
    else
        result FAIL $S8 "no A-WROTE message from the first initiator within 400 s"
    fi
    mbox_wait "$DEV" 3 A-DONE 200 >/dev/null
    logout "$T_SHARED"
}

# --- role a ---------------------------------------------------------------------------------------
# 1. discovery
s1() {
    local out missing="" tn
    out=$(t 60 iscsiadm -m discovery -t sendtargets -p "$PORTAL" 2>&1)
    echo "$out" | sed 's/^/@@LOG discovery: /'
    for tn in $T_PLAIN $T_CHAP $T_DIGEST $T_CUT $T_SHARED $T_4K; do
        echo "$out" | grep -q " $tn\$" || missing="$missing $tn"
    done
    # drop the records discovery made for the advertised 127.0.0.1 portal
    t 30 iscsiadm -m node -o delete >/dev/null 2>&1
    if [ -z "$missing" ]; then result PASS 1-discovery "6 targets via SendTargets"
    else result FAIL 1-discovery "missing:$missing"; fi
}
# 2. login, size, INQUIRY, logout
s2() {
    node_new "$T_PLAIN"
    login "$T_PLAIN" || { tail -n 5 /tmp/iscsiadm.log | sed 's/^/@@LOG /'; result FAIL 2-login-identity-logout "login"; return 1; }
    DEV=$(disk_of "$T_PLAIN") || { result FAIL 2-login-identity-logout "no disk after login"; return 1; }
    check_identity 2-login-identity-logout "$DEV" "$SIZE_PLAIN" || return 1
    logout "$T_PLAIN" || { result FAIL 2-login-identity-logout "logout"; return 1; }
    no_session_of "$T_PLAIN" || { result FAIL 2-login-identity-logout "session left after logout"; return 1; }
    t 10 iscsiadm -m session >/dev/null 2>&1; rc=$?
    [ $rc -eq 21 ] || { result FAIL 2-login-identity-logout "iscsiadm -m session rc=$rc after logout"; return 1; }
    result PASS 2-login-identity-logout "$DEV $SIZE_PLAIN bytes, IET VIRTUAL-DISK, no session after logout"
}
# 3. O_DIRECT pattern at both ends
s3() {
    login "$T_PLAIN" && DEV=$(disk_of "$T_PLAIN") || { result FAIL 3-odirect-pattern "login"; return 1; }
    pattern_check 3-odirect-pattern "$DEV" "$SIZE_PLAIN" && result PASS 3-odirect-pattern "4 MiB at start and end"
    rate "$DEV"
}
# rate DEV: informational throughput of 32 MiB O_DIRECT writes and reads (measures TCG + relay, not the target).
cs() { cut -d' ' -f1 /proc/uptime | tr -d .; }   # centiseconds since boot
rate() {
    local a b c
    a=$(cs); t 120 dd if=/dev/zero of="$1" bs=1M seek=64 count=32 oflag=direct 2>/dev/null
    b=$(cs); t 120 dd if="$1" of=/dev/null bs=1M skip=64 count=32 iflag=direct 2>/dev/null
    c=$(cs)
    echo "@@RATE write=$((3200 / (b - a + 1)))MB/s read=$((3200 / (c - b + 1)))MB/s (32 MiB O_DIRECT, 1 MiB requests)"
}
# 4. ext4 (stays logged in from 3)
s4() {
    DEV=$(disk_of "$T_PLAIN") || { result FAIL 4-ext4 "no disk"; return 1; }
    fs_check 4-ext4 "$DEV" && result PASS 4-ext4 "mkfs, files, e2fsck -fn clean, intact after remount"
    logout "$T_PLAIN"; no_session_of "$T_PLAIN"
}
# 5a. CHAP: a wrong secret is refused, the right one logs in; then the whole disk exercise.
s5a() {
    local n=5-chap
    node_new "$T_CHAP"
    node_set "$T_CHAP" node.session.auth.authmethod CHAP
    node_set "$T_CHAP" node.session.auth.username "$CHAP_USER"
    node_set "$T_CHAP" node.session.auth.password "wrong-$CHAP_SECRET"
    node_set "$T_CHAP" node.session.initial_login_retry_max 1
    if login "$T_CHAP"; then
        logout "$T_CHAP"; result FAIL 5-chap-wrong-secret "login with a wrong CHAP secret succeeded"
    else
        result PASS 5-chap-wrong-secret "refused"
    fi
    no_session_of "$T_CHAP"
    node_set "$T_CHAP" node.session.auth.password "$CHAP_SECRET"
    login "$T_CHAP" || { tail -n 5 /tmp/iscsiadm.log | sed 's/^/@@LOG /'; result FAIL $n "CHAP login"; return 1; }
    DEV=$(disk_of "$T_CHAP") || { result FAIL $n "no disk"; return 1; }
    check_identity $n "$DEV" "$SIZE_SMALL" && pattern_check $n "$DEV" "$SIZE_SMALL" && fs_check $n "$DEV" &&
        result PASS $n "CHAP login, identity, O_DIRECT pattern, ext4"
    logout "$T_CHAP"; no_session_of "$T_CHAP"
}
# 5b. CRC32C header and data digests.
s5b() {
    local n=5-crc32c-digests hd dd_
    node_new "$T_DIGEST"
    node_set "$T_DIGEST" 'node.conn[0].iscsi.HeaderDigest' CRC32C
    node_set "$T_DIGEST" 'node.conn[0].iscsi.DataDigest' CRC32C
    login "$T_DIGEST" || { tail -n 5 /tmp/iscsiadm.log | sed 's/^/@@LOG /'; result FAIL $n "login"; return 1; }
    DEV=$(disk_of "$T_DIGEST") || { result FAIL $n "no disk"; return 1; }
    local c
    c=$(ls -d "$(session_of "$T_DIGEST")"/device/connection*/iscsi_connection/connection* 2>/dev/null | head -n 1)
    hd=$(cat "$c/header_digest" 2>/dev/null); dd_=$(cat "$c/data_digest" 2>/dev/null)
    # sysfs shows 1 (kernel 6.x) or CRC32C for an enabled digest
    case "$hd$dd_" in 11|CRC32CCRC32C) ;; *) false ;; esac || { result FAIL $n "negotiated HeaderDigest=$hd DataDigest=$dd_"; logout "$T_DIGEST"; return 1; }
    check_identity $n "$DEV" "$SIZE_SMALL" && pattern_check $n "$DEV" "$SIZE_SMALL" && fs_check $n "$DEV" &&
        result PASS $n "HeaderDigest=DataDigest=CRC32C, identity, O_DIRECT pattern, ext4"
    logout "$T_DIGEST"; no_session_of "$T_DIGEST"
}
# 5c. 512-byte LUN blocks on a 4 KiB-sector device: the kernel sees 512-byte logical, 4 KiB physical blocks.
s5c() {
    local n=5-512-on-4k q lbs pbs
    node_new "$T_4K"
    login "$T_4K" || { tail -n 5 /tmp/iscsiadm.log | sed 's/^/@@LOG /'; result FAIL $n "login"; return 1; }
    DEV=$(disk_of "$T_4K") || { result FAIL $n "no disk"; return 1; }
    q=/sys/block/${DEV#/dev/}/queue
    lbs=$(cat $q/logical_block_size); pbs=$(cat $q/physical_block_size)
    [ "$lbs/$pbs" = 512/4096 ] || { result FAIL $n "logical/physical block size $lbs/$pbs, expected 512/4096"; logout "$T_4K"; return 1; }
    check_identity $n "$DEV" "$SIZE_SMALL" && pattern_check $n "$DEV" "$SIZE_SMALL" && fs_check $n "$DEV" &&
        result PASS $n "logical 512 / physical 4096, identity, O_DIRECT pattern, ext4"
    logout "$T_4K"; no_session_of "$T_4K"
}
# 6. the initramfs boot path: iscsistart without iscsid, then mount the filesystem of scenario 4.
s6() {
    local n=6-iscsistart-root out
    stop_iscsid
    out=$(t 120 iscsistart -i "$INAME" -t "$T_PLAIN" -g 1 -a "$PADDR" -p "$PPORT" 2>&1)
    rc=$?
    echo "$out" | tail -n 5 | sed 's/^/@@LOG iscsistart: /'
    start_iscsid
    [ $rc -eq 0 ] || { result FAIL $n "iscsistart rc=$rc"; return 1; }
    DEV=$(disk_of "$T_PLAIN") || { result FAIL $n "no disk after iscsistart"; return 1; }
    if t 60 mount -t ext4 -o ro "$DEV" /mnt/a; then
        out=$(cd /mnt/a && md5sum -c /tmp/files.md5 2>&1)
        rc=$?
        t 60 umount /mnt/a
        if [ $rc -eq 0 ]; then result PASS $n "iscsistart -i -t -g 1 -a -p; ext4 of scenario 4 mounted, files intact"
        else echo "$out" | sed 's/^/@@LOG md5: /'; result FAIL $n "files differ"; fi
    else
        result FAIL $n "mount"
    fi
    # iscsid adopted the session at start; log it out by session id.
    sid=$(session_of "$T_PLAIN"); sid=${sid##*session}
    t 60 iscsiadm -m session -r "$sid" -u >>/tmp/iscsiadm.log 2>&1
    no_session_of "$T_PLAIN" || say "session of iscsistart still present"
}
# 7. the connection is cut in the middle of a write stream; iscsid logs in again and the stream
# completes. cut_stream NAME TARGET REQUEST: writes 1 MiB O_DIRECT chunks (each at its own offset),
# asks the host for REQUEST after 3 chunks, and goes on until the connection broke, came back and 8
# more chunks went through (and every chunk was written at least once); then reads everything back.
cut_stream() {
    local n=$1 tn=$2 req=$3 i=0 chunks=32 cut0 cut after=-1 end written=0 got want st
    node_new "$tn"
    # Fast failure detection for the stalled-relay case: a NOP-Out every 2 s, dead after 3 s more.
    node_set "$tn" 'node.conn[0].timeo.noop_out_interval' 2
    node_set "$tn" 'node.conn[0].timeo.noop_out_timeout' 3
    login "$tn" && DEV=$(disk_of "$tn") || { result FAIL "$n" "login"; return 1; }
    dd if=/dev/urandom of=/tmp/pat7 bs=1M count=$chunks 2>/dev/null
    cut0=$(dmesg | grep -c 'detected conn error')
    end=$(( $(now) + 240 ))
    while [ "$(now)" -lt "$end" ]; do
        t 200 dd if=/tmp/pat7 of="$DEV" bs=1M skip=$i seek=$i count=1 oflag=direct 2>/dev/null ||
            { result FAIL "$n" "write of chunk $i failed"; logout "$tn"; return 1; }
        written=$((written + 1))
        [ $written -eq 3 ] && echo "@@HOST $req"
        cut=$(dmesg | grep -c 'detected conn error')
        [ $after -lt 0 ] && [ "$cut" -gt "$cut0" ] && after=0
        [ $after -ge 0 ] && after=$((after + 1))
        i=$(( (i + 1) % chunks ))
        [ $after -ge 8 ] && [ $written -ge $chunks ] && break
    done
    echo "@@HOST $req-done"
    [ $after -ge 0 ] || { result FAIL "$n" "no connection error during the stream (host action missed?)"; logout "$tn"; return 1; }
    st=$(cat "$(session_of "$tn")/state" 2>/dev/null)
    [ "$st" = LOGGED_IN ] || { result FAIL "$n" "session state '$st' after the stream"; logout "$tn"; return 1; }
    drop_caches
    want=$(md5 </tmp/pat7)
    got=$(t 120 dd if="$DEV" bs=1M count=$chunks iflag=direct 2>/dev/null | md5)
    grep -E 'operational after recovery|conn error|reinstat' /tmp/iscsid.log | tail -n 3 | sed "s/^/@@LOG $n iscsid: /"
    dmesg | grep -E 'conn error|recover' | tail -n 3 | sed "s/^/@@LOG $n dmesg: /"
    if [ "$got" = "$want" ]; then result PASS "$n" "$written MiB written across the cut, relogin, data intact"
    else result FAIL "$n" "read-back $got, written $want"; fi
    logout "$tn"; no_session_of "$tn"
}
s7() { cut_stream 7-reconnect-daemon-restart "$T_CUT" restart-target; }
s7b() { cut_stream 7-reinstatement-relay-stall "$T_CUT" stall-relay; }
# 8. two initiators on one target: a writes, b reads after a cache drop, and the other way round.
s8() {
    local n=8-two-initiators-a-reads-b msg got
    echo "@@HOST start-b"
    node_new "$T_SHARED"
    login "$T_SHARED" && DEV=$(disk_of "$T_SHARED") || { result FAIL $n "login"; return 1; }
    if ! mbox_wait "$DEV" 0 B-READY 420 >/dev/null; then
        result FAIL $n "second guest never logged in (no B-READY within 420 s)"; logout "$T_SHARED"; return 1
    fi
    dd if=/dev/urandom of=/tmp/pat8 bs=1M count=8 2>/dev/null
    t 120 dd if=/tmp/pat8 of="$DEV" bs=1M seek=1 count=8 oflag=direct 2>/dev/null
    mbox_put "$DEV" 1 "A-WROTE $(md5 </tmp/pat8)"
    if msg=$(mbox_wait "$DEV" 2 B-READ 300); then
        set -- $msg
        drop_caches
        got=$(t 120 dd if="$DEV" bs=1M skip=16 count=4 2>/dev/null | md5)
        if [ "$got" = "$3" ]; then result PASS $n "4 MiB written by B read back by A after a cache drop (both logged in)"
        else result FAIL $n "A read $got, B wrote $3"; fi
    else
        result FAIL $n "no B-READ message within 300 s"
    fi
    mbox_put "$DEV" 3 "A-DONE"
    logout "$T_SHARED"
}

role_a() {
    timed 1 s1
    timed 2 s2
    timed 3 s3
    timed 4 s4
    timed 6 s6
    timed 5a s5a
    timed 5b s5b
    timed 5c s5c
    timed 7 s7
    timed 7b s7b
    timed 8 s8
}
# A subshell: a shell error in a scenario ends the scenarios, not init (the host reports what is missing).
( if [ "$ROLE" = b ]; then role_b; else role_a; fi )
finish

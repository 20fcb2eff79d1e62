#!/usr/bin/env bash
# CHAP and digest checks with a real initiator (libiscsi's iscsi-inq / iscsi-ls / iscsi-test-cu).
# Builds nothing.
#
#   scripts/auth-digest-tests.sh /path/to/iscsi-targetd
#
#   AUTH_PORT=N       port on 127.0.0.1 (default: the first free one of 3310-3319)
#   RESULTS_DIR=DIR   where logs go (default $ROOT/.build/results/auth-digest)
#   KEEP_WORKDIR=1    keep the temp dir (ietd.conf, LUN files, target.log)
#
# The target gets a temporary ietd.conf: a target with two IncomingUser accounts and an
# OutgoingUser (mutual CHAP), an open target, a target that requires HeaderDigest CRC32C, one that
# requires it and CHAP, one that requires DataDigest CRC32C, and a global IncomingUser (discovery
# needs CHAP).
#
# Digests and libiscsi 1.19: its tools call iscsi_set_header_digest(None,CRC32C) after parsing the
# URL, so the URL argument header_digest= has no effect, and it always sends DataDigest=None. The
# list rule (RFC 7143 §6.2) picks the initiator's first supported value: None on a target that
# accepts both, CRC32C on a target configured "HeaderDigest CRC32C".
# Prints "PASS name" / "FAIL name" / "SKIP name (why)" per check and ends with
# "N passed, N failed, N skipped". Exit status: 0 when nothing failed, 1 when a check failed,
# 2 on a harness error.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN=${1:-}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then die "usage: $0 /path/to/iscsi-targetd"; fi
for tool in iscsi-inq iscsi-ls iscsi-test-cu python3; do
    command -v "$tool" >/dev/null || die "$tool missing (apt-get install libiscsi-bin python3)"
done

RESULTS_DIR=${RESULTS_DIR:-$ROOT/.build/results/auth-digest}
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
WORK=$(mktemp -d /tmp/iscsi-auth-digest.XXXXXX)
trap 'cleanup_all; [ "${KEEP_WORKDIR:-0}" = 1 ] || rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
rm -rf "$RESULTS_DIR"; mkdir -p "$RESULTS_DIR"

PASSED=0 FAILED=0 SKIPPED=0
pass() { echo "PASS $1${2:+ ($2)}"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1${2:+ ($2)}"; FAILED=$((FAILED + 1)); return 0; }
skip() { echo "SKIP $1${2:+ ($2)}"; SKIPPED=$((SKIPPED + 1)); }
safe() { tr -c 'A-Za-z0-9._-' '_' <<<"$1" | sed 's/_$//'; }
logof() { echo "$RESULTS_DIR/$(safe "$1").log"; }
# run_logged NAME CMD...: bounded run, output to the check's log; returns the command's status.
run_logged() {
    local name=$1; shift
    { echo "\$ $*"; timeout -k 5 "$STEP_TIMEOUT" "$@"; } >"$(logof "$name")" 2>&1
}

# --- port: the first free one of our range -------------------------------------------------
port_free() { ! timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
PORT=${AUTH_PORT:-}
if [ -z "$PORT" ]; then
    for p in $(seq 3310 3319); do port_free "$p" && { PORT=$p; break; }; done
fi
[ -n "$PORT" ] || die "no free port in 3310-3319"
PORTAL="127.0.0.1:$PORT"

# --- configuration (secrets ≥ 12 characters, RFC 7143 §12.1.3 / ietd.conf man page) ------------
T_AUTH=iqn.2026-11.org.example:auth
T_OPEN=iqn.2026-11.org.example:open
T_HDREQ=iqn.2026-11.org.example:header-digest-required
T_DDREQ=iqn.2026-11.org.example:data-digest-required
T_AUTHHD=iqn.2026-11.org.example:auth-header-digest
ALICE=alice ALICE_SECRET=alice-secret-12
BOB=bob BOB_SECRET=bob-secret-3456
TOUT=target-out TOUT_SECRET=target-secret-34
DISC=disc-user DISC_SECRET=discovery-secret-01
SECRETS=("$ALICE_SECRET" "$BOB_SECRET" "$TOUT_SECRET" "$DISC_SECRET")
for t in auth open hdreq ddreq authhd; do truncate -s $((64 * 1024 * 1024)) "$WORK/$t.img"; done
cat >"$WORK/ietd.conf" <<EOF
IncomingUser $DISC $DISC_SECRET
Target $T_AUTH
	IncomingUser $ALICE $ALICE_SECRET
	IncomingUser $BOB $BOB_SECRET
	OutgoingUser $TOUT $TOUT_SECRET
	Lun 0 Path=$WORK/auth.img,Type=fileio
Target $T_OPEN
	Lun 0 Path=$WORK/open.img,Type=fileio
Target $T_HDREQ
	HeaderDigest CRC32C
	Lun 0 Path=$WORK/hdreq.img,Type=fileio
Target $T_DDREQ
	DataDigest CRC32C
	Lun 0 Path=$WORK/ddreq.img,Type=fileio
Target $T_AUTHHD
	IncomingUser $ALICE $ALICE_SECRET
	OutgoingUser $TOUT $TOUT_SECRET
	HeaderDigest CRC32C
	Lun 0 Path=$WORK/authhd.img,Type=fileio
EOF

TLOG="$WORK/target.log"
"$BIN" --config "$WORK/ietd.conf" --portal "$PORTAL" --foreground --log-level debug \
    --control-socket "$WORK/iscsi-targetd.sock" >"$TLOG" 2>&1 &
TARGET_PID=$!
STARTED_PIDS+=("$TARGET_PID")
if ! wait_port "$PORT" 30; then
    tail -n 30 "$TLOG" >&2
    die "iscsi-targetd did not listen on $PORTAL within 30 s"
fi
log "target pid $TARGET_PID on $PORTAL (work dir $WORK, logs $RESULTS_DIR)"

# Log lines written by the target since the mark (per-check slices of target.log).
MARK=0
mark() { MARK=$(wc -l <"$TLOG"); }
since_mark() { tail -n +"$((MARK + 1))" "$TLOG"; }

url() { # url USER SECRET TARGET [QUERY]
    local cred=""
    [ -n "$1" ] && cred="$1%$2@"
    echo "iscsi://$cred$PORTAL/$3/0${4:+?$4}"
}

# expect_ok NAME URL [target-log pattern]: the inquiry succeeds (and the target logged the pattern).
expect_ok() {
    local n=$1 u=$2 pattern=${3:-}
    mark
    if ! run_logged "$n" iscsi-inq "$u"; then
        fail "$n" "iscsi-inq failed: $(grep -v '^\$' "$(logof "$n")" | head -n 1)"
        return
    fi
    sleep 0.2
    if [ -n "$pattern" ] && ! since_mark | grep -Eq "$pattern"; then
        fail "$n" "target log lacks /$pattern/"
        return
    fi
    pass "$n"
}

# expect_refused NAME URL CLIENT-PATTERN [TARGET-PATTERN]: the login fails as expected.
expect_refused() {
    local n=$1 u=$2 client=$3 target=${4:-}
    mark
    if run_logged "$n" iscsi-inq "$u"; then
        fail "$n" "login succeeded but must be refused"
        return
    fi
    sleep 0.2
    if ! grep -Eq "$client" "$(logof "$n")"; then
        fail "$n" "client error lacks /$client/: $(grep -v '^\$' "$(logof "$n")" | head -n 1)"
        return
    fi
    if [ -n "$target" ] && ! since_mark | grep -Eq "$target"; then
        fail "$n" "target log lacks /$target/"
        return
    fi
    pass "$n"
}

AUTHFAIL='Authentication failure|\(513\)'

# --- CHAP -------------------------------------------------------------------------------------
expect_ok chap-one-way "$(url $ALICE $ALICE_SECRET $T_AUTH)" 'login complete'
expect_ok chap-second-account "$(url $BOB $BOB_SECRET $T_AUTH)" 'login complete'
expect_refused chap-wrong-secret "$(url $ALICE wrong-secret-000 $T_AUTH)" "$AUTHFAIL" \
    "CHAP response mismatch for user $ALICE"
expect_refused chap-unknown-user "$(url mallory mallory-secret-1 $T_AUTH)" "$AUTHFAIL" 'unknown CHAP user mallory'
expect_refused chap-no-credentials "$(url '' '' $T_AUTH)" "$AUTHFAIL" 'security stage was skipped'
# Mutual CHAP: libiscsi URL arguments target_user / target_password (lib/init.c).
expect_ok chap-mutual "$(url $ALICE $ALICE_SECRET $T_AUTH "target_user=$TOUT&target_password=$TOUT_SECRET")" \
    'login complete'
expect_refused chap-mutual-wrong-target-secret \
    "$(url $ALICE $ALICE_SECRET $T_AUTH "target_user=$TOUT&target_password=wrong-secret-000")" 'Invalid CHAP_R'
expect_refused chap-mutual-wrong-target-user \
    "$(url $ALICE $ALICE_SECRET $T_AUTH "target_user=someone-else&target_password=$TOUT_SECRET")" \
    'Wrong CHAP targetname'
expect_ok open-target-without-credentials "$(url '' '' $T_OPEN)" 'login complete'
# libiscsi offers AuthMethod=CHAP,None; a target without IncomingUser answers None.
expect_ok open-target-with-credentials "$(url $ALICE $ALICE_SECRET $T_OPEN)" 'login complete'
# Mutual CHAP against a target without IncomingUser: it never authenticates, so libiscsi must
# notice the missing CHAP_N/CHAP_R and refuse.
expect_refused open-target-mutual-refused \
    "$(url $ALICE $ALICE_SECRET $T_OPEN "target_user=$TOUT&target_password=$TOUT_SECRET")" \
    'did not return CHAP_N|did not return CHAP_R'

# Discovery uses the global IncomingUser.
n=discovery-chap
if run_logged $n iscsi-ls "iscsi://$DISC%$DISC_SECRET@$PORTAL" && grep -q "Target:$T_AUTH" "$(logof $n)"; then
    pass $n
else
    fail $n "iscsi-ls with the discovery account: $(grep -v '^\$' "$(logof $n)" | head -n 1)"
fi
n=discovery-without-credentials
if run_logged $n iscsi-ls -s "iscsi://$PORTAL"; then
    fail $n "discovery succeeded without CHAP"
else
    pass $n
fi
n=discovery-with-target-account
if run_logged $n iscsi-ls -s "iscsi://$ALICE%$ALICE_SECRET@$PORTAL"; then
    fail $n "a target account opened a discovery session"
else
    pass $n
fi

# --- digests ----------------------------------------------------------------------------------
HD_ON='hd=true' HD_OFF='hd=false'
# The open target accepts CRC32C and None: libiscsi's offer "None,CRC32C" gets None.
expect_ok header-digest-initiator-preference "$(url '' '' $T_OPEN)" "$HD_OFF"
# "HeaderDigest CRC32C" in ietd.conf (no None): required, so the same offer gets CRC32C.
expect_ok header-digest-required "$(url '' '' $T_HDREQ)" "$HD_ON"
expect_ok header-digest-required-with-chap "$(url $ALICE $ALICE_SECRET $T_AUTHHD)" "$HD_ON"
expect_ok header-digest-required-with-mutual-chap \
    "$(url $ALICE $ALICE_SECRET $T_AUTHHD "target_user=$TOUT&target_password=$TOUT_SECRET")" "$HD_ON"
skip header-digest-required-none-refused "libiscsi tools cannot offer HeaderDigest=None alone (unit transcript DigestNegotiationTests.configuredRequired covers it)"
# "DataDigest CRC32C": required; libiscsi only offers None, so the login is refused (0x0200).
expect_refused data-digest-required-refused "$(url '' '' $T_DDREQ)" 'Initiator error|\(512\)' \
    'DataDigest: CRC32C required'
skip data-digest-io "libiscsi $(dpkg-query -W -f='${Version}' libiscsi-bin 2>/dev/null) always offers DataDigest=None; no installed client negotiates data digests"

# Reads and writes with header digests (and CHAP): libiscsi's Read10/Write10 suites.
cu_suite() { # cu_suite NAME URL
    local n=$1 u=$2 logf; logf=$(logof "$1")
    run_logged "$n" iscsi-test-cu -i iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test \
        -I iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2 --dataloss -V -t ALL.Read10,ALL.Write10 "$u" || true
    local summary line tests failed
    summary=$(python3 "$ROOT/scripts/cu-score.py" "$logf" -v 2>/dev/null) || true
    line=$(tail -n 1 <<<"$summary")
    tests=$(sed -n 's/.*tests=\([0-9]*\).*/\1/p' <<<"$line")
    failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
    if [ "${tests:-0}" -gt 0 ] && [ "${failed:-1}" -eq 0 ]; then
        pass "$n" "$line"
    else
        fail "$n" "$line; $(grep '^FAIL' <<<"$summary" | head -n 3 | paste -sd' ')"
    fi
}
mark
cu_suite cu-read-write-header-digest "$(url '' '' $T_HDREQ)"
cu_suite cu-read-write-chap "$(url $ALICE $ALICE_SECRET $T_AUTH)"
cu_suite cu-read-write-mutual-chap-header-digest \
    "$(url $ALICE $ALICE_SECRET $T_AUTHHD "target_user=$TOUT&target_password=$TOUT_SECRET")"
n=digest-io
if since_mark | grep -qi 'digest error\|digest mismatch'; then
    fail $n "the target logged digest errors during the I/O suites"
elif ! since_mark | grep 'login complete' | grep -q "$HD_ON"; then
    fail $n "no I/O session ran with header digests"
else
    pass $n "$(since_mark | grep 'login complete' | grep -c "$HD_ON") sessions with header digests, no digest errors"
fi

if iscsi-test-cu --list 2>/dev/null | grep -q 'iSCSICHAP'; then
    n=cu-iSCSICHAP
    run_logged $n iscsi-test-cu -V -t ALL.iSCSICHAP "$(url $ALICE $ALICE_SECRET $T_AUTH)" || true
    if grep -Eq '(FAILED|failed): *[1-9]' "$(logof $n)"; then fail $n; else pass $n; fi
else
    skip cu-iSCSICHAP "iscsi-test-cu $(dpkg-query -W -f='${Version}' libiscsi-bin 2>/dev/null) has no iSCSICHAP suite"
fi

# --- hygiene ----------------------------------------------------------------------------------
n=no-secret-in-target-log
leaked=0
for s in "${SECRETS[@]}" wrong-secret-000 mallory-secret-1; do grep -qF -- "$s" "$TLOG" && leaked=1; done
if [ $leaked -eq 0 ]; then pass $n; else fail $n "a CHAP secret appears in $TLOG"; fi
n="target-alive"
if kill -0 "$TARGET_PID" 2>/dev/null && wait_port "$PORT" 5; then pass $n; else fail $n "target died"; fi

cp "$TLOG" "$RESULTS_DIR/target.log" 2>/dev/null || true
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]

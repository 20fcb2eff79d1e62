#!/usr/bin/env bash
# Start iscsi-targetd in the foreground on its embedded demo configuration:
# iqn.2026-11.org.example:demo, LUN 0 = 1 GiB sparse file /var/tmp/iscsi-target-demo.img,
# listening on 127.0.0.1:3260.  Ctrl-C stops it.
#   sudo scripts/demo.sh [extra iscsi-targetd options, e.g. --portal 127.0.0.1:3261 --log-level debug]
# Installs libaio-dev if missing (as root), builds the release binary, then execs the daemon.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! dpkg-query -W -f='${Status}' libaio-dev 2>/dev/null | grep -q 'install ok installed'; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "libaio-dev is missing: run as root (sudo scripts/demo.sh) or apt-get install libaio-dev" >&2; exit 2
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends libaio-dev
fi
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:/opt/swift/bin:$PATH"
swift build -c release --product iscsi-targetd
echo "Starting the demo target (default portal 127.0.0.1:3260); try: iscsi-ls -s iscsi://127.0.0.1:3260" >&2
exec "$ROOT/.build/release/iscsi-targetd" --demo --foreground "$@"

#!/usr/bin/env bash
# Build (or reuse from the cache) the guest kernel and the base initramfs for the open-iscsi guest tests.
#
#   scripts/guest/build-image.sh            prints the cache directory holding vmlinuz + base.cpio.gz
#
# Everything comes from Debian's packages, fetched with `apt-get download` and unpacked with `dpkg-deb -x`:
# the current linux-image-*-amd64 (its iscsi_tcp / sd_mod / ext4 / virtio-net modules), busybox-static,
# open-iscsi (iscsid, iscsiadm, iscsistart), e2fsprogs (mkfs.ext4, e2fsck), sg3-utils (sg_inq, sg_readcap)
# and the library packages those binaries need (followed with ldd until closed, never from the host).
#
# Cache: $ISCSI_GUEST_CACHE, else /var/cache/iscsi-target-guest as root, else $XDG_CACHE_HOME/iscsi-target-guest;
# one subdirectory per key = hash(package=version list + this script), so a Debian update or an edit here
# rebuilds, and anything else reuses. The scenario scripts are not in this image (run.sh appends them as a
# second cpio archive), so editing them never rebuilds it.
set -euo pipefail

log() { printf '[%s] build-image: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

if [ -n "${ISCSI_GUEST_CACHE:-}" ]; then CACHE=$ISCSI_GUEST_CACHE
elif [ "$(id -u)" -eq 0 ]; then CACHE=/var/cache/iscsi-target-guest
else CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/iscsi-target-guest
fi
mkdir -p "$CACHE"

TOOLS=(open-iscsi e2fsprogs sg3-utils busybox-static)
# Modules loaded at boot, in this order (dependencies are resolved with modprobe --show-depends).
MODULES=(virtio_pci virtio_net crc32c_generic crc32c_intel iscsi_tcp sd_mod sg ext4)
# Binaries copied into the image: package path -> image path.
BINARIES=(sbin/iscsid sbin/iscsiadm sbin/iscsistart sbin/mke2fs sbin/e2fsck usr/bin/sg_inq usr/bin/sg_readcap)

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }

# The apt lists must be present to resolve versions (a fresh machine has none).
if [ -z "$(candidate busybox-static)" ] || [ "$(candidate busybox-static)" = "(none)" ]; then
    [ "$(id -u)" -eq 0 ] || die "apt lists are empty and we are not root (run: sudo apt-get update)"
    log "apt-get update"
    timeout 600 apt-get update -q >/dev/null || die "apt-get update failed"
fi

KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$KPKG" ] || die "cannot resolve linux-image-amd64 to a linux-image-*-amd64 package"
KVER=${KPKG#linux-image-}
KEYTEXT=""
for p in "$KPKG" "${TOOLS[@]}"; do
    v=$(candidate "$p"); [ -n "$v" ] && [ "$v" != "(none)" ] || die "no candidate version for $p"
    KEYTEXT+="$p=$v "
done
KEY=$(printf '%s\n' "$KEYTEXT" | cat - "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
OUT="$CACHE/$KEY"
if [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/base.cpio.gz" ] && [ -s "$OUT/manifest.txt" ]; then
    log "cached: $OUT ($KEYTEXT)"
    echo "$OUT"; exit 0
fi

exec 9>"$CACHE/.lock"
flock -w 900 9 || die "cache lock busy for 15 minutes"
if [ -s "$OUT/base.cpio.gz" ]; then echo "$OUT"; exit 0; fi  # built by a concurrent run meanwhile

WORK=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/debs" "$WORK/stage" "$WORK/root"
START=$SECONDS

# download PKG...: apt-get download into debs/ and unpack each into stage/ (skips ones already there).
declare -A HAVE=()
download() {
    local want=() p
    for p in "$@"; do [ -n "${HAVE[$p]:-}" ] || want+=("$p"); done
    [ ${#want[@]} -eq 0 ] && return 0
    log "apt-get download ${want[*]}"
    (cd "$WORK/debs" && timeout 600 apt-get download -q -o APT::Sandbox::User=root "${want[@]}" >/dev/null) \
        || die "apt-get download ${want[*]} failed"
    for p in "${want[@]}"; do
        HAVE[$p]=1
        local deb
        deb=$(ls "$WORK/debs/${p}_"*.deb 2>/dev/null | head -n 1)
        [ -n "$deb" ] || die "downloaded $p but found no .deb"
        dpkg-deb -x "$deb" "$WORK/stage"
        printf '%s\n' "$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version)" >>"$WORK/manifest.txt"
    done
}
# lib_depends PKG...: the library packages PKG depends on (first alternative of each group).
lib_depends() {
    apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$@" 2>/dev/null \
        | awk '/^ [ |](Pre)?Depends: lib/ { print $2 }' | sort -u
}

download "$KPKG" "${TOOLS[@]}"
S=$WORK/stage
LIBDIRS="$S/lib/x86_64-linux-gnu:$S/usr/lib/x86_64-linux-gnu:$S/lib64"

# Follow the shared-library closure: every library must resolve inside stage/ (Debian packages only).
pkgs=("${TOOLS[@]}")
for round in 1 2 3 4 5 6; do
    mapfile -t deps < <(lib_depends "${pkgs[@]}")
    new=(); for p in "${deps[@]}"; do [ -n "${HAVE[$p]:-}" ] || new+=("$p"); done
    download "${new[@]}"
    pkgs=("${new[@]}")
    missing=0
    for b in "${BINARIES[@]}"; do
        if LD_LIBRARY_PATH=$LIBDIRS ldd "$S/$b" | grep -q 'not found'; then missing=1; fi
    done
    [ $missing -eq 0 ] && [ ${#new[@]} -eq 0 ] && break
    [ $round -eq 6 ] && die "library closure did not converge"
done

# --- the root file system -------------------------------------------------------------------------
R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc/iscsi,lib/x86_64-linux-gnu,lib64,proc,sys,dev,run,tmp,mnt,var/lock,var/lib/iscsi}
ln -s ../lib "$R/usr/lib"   # one library directory, whatever RUNPATH the binaries carry
cp "$S/bin/busybox" "$R/bin/busybox"
for applet in $("$R/bin/busybox" --list-full); do
    [ -e "$R/$applet" ] || ln -s /bin/busybox "$R/$applet"
done
for b in "${BINARIES[@]}"; do
    rm -f "$R/$b"; cp "$S/$b" "$R/$b"
    LD_LIBRARY_PATH=$LIBDIRS ldd "$S/$b" | awk '/=>/ { print $3 } /ld-linux/ { print $1 }' | while read -r lib; do
        [ -n "$lib" ] || continue
        case "$lib" in
            /lib64/ld-linux-x86-64.so.2) src="$S/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ;;
            "$S"/*) src=$lib ;;
            *) die "$b: library $lib resolved outside the Debian packages fetched here" ;;
        esac
        [ -e "$src" ] || die "$b: $src missing"
        cp -L "$src" "$R/lib/x86_64-linux-gnu/$(basename "$lib")"
    done
done
ln -sf /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$R/lib64/ld-linux-x86-64.so.2"
ln -sf mke2fs "$R/sbin/mkfs.ext4"
cp "$S/etc/mke2fs.conf" "$R/etc/mke2fs.conf"
cp "$S/etc/iscsi/iscsid.conf" "$R/etc/iscsi/iscsid.conf.debian"
printf 'root:x:0:0:root:/:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"

# Kernel and modules (plus modules.dep so iscsid's libkmod and request_module find them).
KSRC=$S/lib/modules/$KVER
[ -d "$KSRC" ] || die "no modules in $KPKG"
depmod -b "$S" "$KVER"
: >"$R/etc/guest-modules"
for m in "${MODULES[@]}"; do
    modprobe -d "$S" -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" { print $2 }' | while read -r ko; do
        rel=${ko#"$S"/}
        grep -qxF "/$rel" "$R/etc/guest-modules" && continue
        mkdir -p "$R/$(dirname "$rel")"
        case "$ko" in
            *.xz) xz -dc "$ko" >"$R/${rel%.xz}"; rel=${rel%.xz} ;;
            *.zst) zstd -qdc "$ko" >"$R/${rel%.zst}"; rel=${rel%.zst} ;;
            *) cp "$ko" "$R/$rel" ;;
        esac
        echo "/$rel" >>"$R/etc/guest-modules"
    done
done
cp "$KSRC/modules.builtin" "$KSRC/modules.builtin.modinfo" "$KSRC/modules.order" "$R/lib/modules/$KVER/"
depmod -b "$R" "$KVER"

cp "$S/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$WORK/base.cpio.gz"
printf 'kernel=%s\n' "$KVER" >>"$WORK/manifest.txt"

# Older keys (previous package versions or builds) are not used again: drop them.
find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$KEY" ! -name '.build.*' -exec rm -rf {} +
mkdir -p "$OUT"
mv "$WORK/vmlinuz" "$WORK/base.cpio.gz" "$WORK/manifest.txt" "$OUT/"
log "built $OUT in $((SECONDS - START)) s (initramfs $(du -h "$OUT/base.cpio.gz" | cut -f1))"
echo "$OUT"

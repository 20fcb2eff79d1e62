#!/usr/bin/env bash
# libFuzzer targets for the pure modules (docs/hardening.md).
#
#   scripts/fuzz.sh              build, replay Fuzz/regressions, fuzz every target FUZZ_SECONDS each
#   scripts/fuzz.sh build        build only
#   scripts/fuzz.sh replay       build, replay the regression fixtures only (fast; what CI must always do)
#   scripts/fuzz.sh run T...     build, replay, fuzz only the named targets (pdu login cdb config)
#
# Environment: FUZZ_SECONDS (default 30 per target), FUZZ_OUT (build dir, default .build-fuzz),
# FUZZ_JOBS (libFuzzer -jobs, default 1), FUZZ_FLAGS (extra libFuzzer flags).
#
# The modules are compiled from their sources with swiftc (-sanitize=fuzzer,address; CCRC32C with
# clang -fsanitize=fuzzer-no-link,address), one object per module, then linked with each entry in
# Fuzz/Targets. New inputs found while fuzzing go to $FUZZ_OUT/corpus/<target> (the checked-in seeds in
# Fuzz/corpus/<target> stay read-only). A crash exits non-zero and leaves crash-* in $FUZZ_OUT/artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${FUZZ_OUT:-$ROOT/.build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-30}
JOBS=${FUZZ_JOBS:-1}
ALL_TARGETS=(pdu login cdb config)
# The Swift runtime's backtracer would otherwise attach to every crash libFuzzer provokes and stall it.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}

SWIFT_COMMON=(-O -g -swift-version 6 -enable-upcoming-feature MemberImportVisibility -parse-as-library
              -sanitize=fuzzer,address -I "$OUT/mods" -Xcc "-fmodule-map-file=$OUT/ccrc/module.modulemap")

newer() {  # newer OUTPUT INPUT...: true when OUTPUT is missing or older than an input
    local out=$1; shift
    [[ -e $out ]] || return 0
    local f
    for f in "$@"; do [[ $f -nt $out ]] && return 0; done
    return 1
}

build_module() {  # build_module NAME: Sources/NAME/*.swift → $OUT/obj/NAME.o + $OUT/mods/NAME.swiftmodule
    local name=$1
    local srcs=("$ROOT"/Sources/"$name"/*.swift)
    if newer "$OUT/obj/$name.o" "${srcs[@]}" "$0"; then
        echo "fuzz: compiling $name"
        swiftc "${SWIFT_COMMON[@]}" -module-name "$name" -wmo -c "${srcs[@]}" \
            -emit-module -emit-module-path "$OUT/mods/$name.swiftmodule" -o "$OUT/obj/$name.o"
    fi
}

build() {
    mkdir -p "$OUT"/{mods,obj,bin,ccrc,artifacts,corpus}
    if newer "$OUT/obj/crc32c.o" "$ROOT/Sources/CCRC32C/crc32c.c"; then
        echo "fuzz: compiling CCRC32C"
        clang -O2 -g -fsanitize=fuzzer-no-link,address -I "$ROOT/Sources/CCRC32C/include" \
            -c "$ROOT/Sources/CCRC32C/crc32c.c" -o "$OUT/obj/crc32c.o"
    fi
    printf 'module CCRC32C {\n    header "%s"\n    export *\n}\n' "$ROOT/Sources/CCRC32C/include/crc32c.h" > "$OUT/ccrc/module.modulemap.new"
    cmp -s "$OUT/ccrc/module.modulemap.new" "$OUT/ccrc/module.modulemap" 2>/dev/null \
        || mv "$OUT/ccrc/module.modulemap.new" "$OUT/ccrc/module.modulemap"
    rm -f "$OUT/ccrc/module.modulemap.new"
    local m
    for m in Checksums ISCSIWire ISCSINegotiation SCSICommands IETConfig; do build_module "$m"; done
    local objs=("$OUT"/obj/*.o)
    local t
    for t in "${ALL_TARGETS[@]}"; do
        local entry="$ROOT/Fuzz/Targets/fuzz-$t.swift"
        if newer "$OUT/bin/fuzz-$t" "$entry" "${objs[@]}"; then
            echo "fuzz: linking fuzz-$t"
            swiftc "${SWIFT_COMMON[@]}" -module-name "Fuzz_$t" "$entry" "${objs[@]}" -o "$OUT/bin/fuzz-$t" 2> "$OUT/link-$t.log" \
                || { cat "$OUT/link-$t.log" >&2; return 1; }
        fi
    done
}

replay() {  # every checked-in seed and regression input must run clean
    local t failed=0
    for t in "${ALL_TARGETS[@]}"; do
        local inputs=()
        local d
        for d in "$ROOT/Fuzz/corpus/$t" "$ROOT/Fuzz/regressions/$t"; do
            [[ -d $d ]] && while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find "$d" -type f ! -name "*.md" -print0)
        done
        if (( ${#inputs[@]} == 0 )); then echo "SKIP replay-$t (no inputs)"; continue; fi
        if "$OUT/bin/fuzz-$t" -runs=0 "${inputs[@]}" > "$OUT/replay-$t.log" 2>&1; then
            echo "PASS replay-$t (${#inputs[@]} inputs)"
        else
            echo "FAIL replay-$t (see $OUT/replay-$t.log)"; tail -30 "$OUT/replay-$t.log"; failed=1
        fi
    done
    return $failed
}

fuzz_one() {
    local t=$1
    mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
    local seeds=()
    [[ -d $ROOT/Fuzz/corpus/$t ]] && seeds+=("$ROOT/Fuzz/corpus/$t")
    [[ -d $ROOT/Fuzz/regressions/$t ]] && seeds+=("$ROOT/Fuzz/regressions/$t")
    local dict=()
    [[ -f $ROOT/Fuzz/dict/$t.dict ]] && dict=(-dict="$ROOT/Fuzz/dict/$t.dict")
    # -rss_limit_mb bounds memory (24 GiB shared machine); -max_len keeps inputs PDU-sized.
    # timeout: hard stop 60 s past the budget, whatever libFuzzer does.
    local jobs=()
    (( JOBS > 1 )) && jobs=(-jobs="$JOBS" -workers="$JOBS")
    # Run inside $OUT: with -jobs libFuzzer writes fuzz-N.log files into the current directory.
    if (cd "$OUT" && timeout -k 5 $((SECONDS_EACH + 60)) "$OUT/bin/fuzz-$t" -max_total_time="$SECONDS_EACH" -max_len=65536 \
            -rss_limit_mb=2048 -timeout=10 "${jobs[@]}" -print_final_stats=1 \
            -artifact_prefix="$OUT/artifacts/$t/" "${dict[@]}" ${FUZZ_FLAGS:-} \
            "$OUT/corpus/$t" "${seeds[@]}") > "$OUT/fuzz-$t.log" 2>&1; then
        local runs
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/fuzz-$t.log" | awk '{s+=$2} END {print s+0}')
        echo "PASS fuzz-$t (${SECONDS_EACH}s, $runs executions, corpus $(find "$OUT/corpus/$t" -type f | wc -l))"
    else
        echo "FAIL fuzz-$t (see $OUT/fuzz-$t.log; inputs in $OUT/artifacts/$t)"
        grep -E 'ERROR|Fatal error|SUMMARY|Test unit written' "$OUT/fuzz-$t.log" | head -10
        return 1
    fi
}

cmd=${1:-all}
[[ $# -gt 0 ]] && shift
case $cmd in
    build) build ;;
    replay) build; replay ;;
    run)
        build; replay
        rc=0
        for t in "${@:-${ALL_TARGETS[@]}}"; do fuzz_one "$t" || rc=1; done
        exit $rc ;;
    all)
        build
        rc=0
        replay || rc=1
        for t in "${ALL_TARGETS[@]}"; do fuzz_one "$t" || rc=1; done
        exit $rc ;;
    *) echo "usage: $0 [all|build|replay|run TARGET...]" >&2; exit 2 ;;
esac

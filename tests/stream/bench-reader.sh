#!/bin/sh
# bench-reader.sh [BUILDDIR] [PAGES]: throughput of libmig's stream reader
# and writer against the raw read ceiling, measured side by side in one run
# on one file (page cache warm): `cat FILE`, `xl-ext stream-dump FILE`
# (fd reader + decode of every body), `cp FILE` against `stream-dump
# --rewrite` (reader + writev writer), and the rewrite to /dev/null.  Prints MB/s and ratios.  Not part of make check; use an
# optimised build without sanitizers for meaningful numbers.
set -eu
build=${1:-build}
pages=${2:-65536}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/tests/stream/mkstream" --format xl --guest hvm --pages "$pages" "$tmp/in.xl"
bytes=$(wc -c <"$tmp/in.xl")
now() { date +%s.%N; }
run() { # NAME COMMAND...: best of 3
    name=$1; shift
    best=
    for _ in 1 2 3; do
        t0=$(now); "$@" >/dev/null; t1=$(now)
        best=$(echo "$t0 $t1 ${best:-0}" | awk '{d=$2-$1; if ($3==0 || d<$3) print d; else print $3}')
    done
    echo "$name $best"
}
cat "$tmp/in.xl" >/dev/null
{
    run cat cat "$tmp/in.xl"
    run dump "$build/xl-ext/xl-ext" stream-dump "$tmp/in.xl"
    run cp cp "$tmp/in.xl" "$tmp/copy.xl"
    run rewrite "$build/xl-ext/xl-ext" stream-dump --rewrite "$tmp/out.xl" "$tmp/in.xl"
    run rewrite-null "$build/xl-ext/xl-ext" stream-dump --rewrite /dev/null "$tmp/in.xl"
} >"$tmp/times"
cmp "$tmp/in.xl" "$tmp/out.xl"
awk -v bytes="$bytes" '
    { t[$1] = $2 }
    END {
        printf "stream of %.1f MiB (%d bytes)\n", bytes / 1048576, bytes
        for (n in t) printf "%-8s %8.3f s %8.0f MB/s\n", n, t[n], bytes / t[n] / 1e6
        printf "ratio dump/cat throughput:    %.2f\n", t["cat"] / t["dump"]
        printf "ratio rewrite/cp throughput:  %.2f (both write a file)\n", t["cp"] / t["rewrite"]
        printf "ratio rewrite-to-/dev/null/cat throughput: %.2f\n", t["cat"] / t["rewrite-null"]
    }' "$tmp/times"

#!/bin/sh
# Every file in tests/data/streams/ (real save files from the Xen lab and
# small generated ones; *.xz are decompressed to a temporary file) must
# read and write back byte-identical through libmig (xl-ext stream-dump
# --rewrite).  New files are picked up without touching this script.
dir="$XENMIG_SRCDIR/tests/data/streams"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
files=$(find "$dir" -maxdepth 1 -type f ! -name '*.md' ! -name '.*' | sort)
if [ -z "$files" ]; then
    echo "1..1"
    echo "not ok 1 - $dir holds no stream files"
    exit 1
fi
n=0; fail=0
echo "1..$(echo "$files" | wc -l)"
for f in $files; do
    n=$((n+1))
    name=${f##*/}
    case "$f" in
        *.xz)
            if ! command -v xz >/dev/null; then
                echo "ok $n - $name # SKIP xz not installed (apt-get install xz-utils)"
                continue
            fi
            xz -dc "$f" >"$tmp/input" || { echo "not ok $n - $name: xz -d failed"; fail=1; continue; }
            ;;
        *) cp "$f" "$tmp/input" ;;
    esac
    if ! "$XL_EXT" stream-dump --rewrite "$tmp/output" "$tmp/input" >"$tmp/listing" 2>"$tmp/err"; then
        echo "not ok $n - $name: stream-dump failed: $(tail -n 1 "$tmp/err")"
        fail=1
    elif ! cmp "$tmp/input" "$tmp/output" >"$tmp/cmp" 2>&1; then
        echo "not ok $n - $name: rewrite differs: $(cat "$tmp/cmp")"
        fail=1
    else
        echo "ok $n - $name round-trips byte-identical ($(wc -c <"$tmp/input") bytes)"
    fi
done
exit $fail

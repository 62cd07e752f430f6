#!/bin/sh
# Oracle: streams written by libmig's writer (mkstream, and a rewrite by
# `xl-ext stream-dump --rewrite`) pass Xen's own checker verify-stream-v2
# (xen-utils-4.17).  Exit 77 (SKIP) when the checker or its python is absent.
#
# Xen 4.17's verifier compares bytes with str when it checks a non-empty
# EMULATOR_XENSTORE_DATA record under python3 and so rejects every such
# record ("Data not NUL terminated"); the HVM xl/libxl streams are therefore
# generated without that record here (its layout is covered by test_stream).
VERIFY=${VERIFY_STREAM_V2:-/usr/lib/xen-4.17/bin/verify-stream-v2}
XEN_PYTHONPATH=${XEN_PYTHONPATH:-/usr/lib/xen-4.17/lib/python}
MKSTREAM="$XENMIG_BUILDDIR/tests/stream/mkstream"
if [ ! -x "$VERIFY" ]; then
    echo "verify-stream-v2 not found at $VERIFY: install xen-utils-4.17" >&2
    exit 77
fi
if ! PYTHONPATH="$XEN_PYTHONPATH" /usr/bin/python3 -c 'import xen.migration.libxc' 2>/dev/null; then
    echo "python3 cannot import xen.migration from $XEN_PYTHONPATH: install xen-utils-4.17" >&2
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
check() { # FORMAT FILE
    PYTHONPATH="$XEN_PYTHONPATH" "$VERIFY" -q -f "$1" -i "$2" 2>"$tmp/err" ||
        { sed 's/^/# /' "$tmp/err"; return 1; }
}
echo "1..8"
for format in libxc libxl xl; do
    for guest in hvm pv; do
        f="$tmp/$format-$guest"
        "$MKSTREAM" --format $format --guest $guest --pages 2100 --vcpus 2 \
            --no-xenstore-data "$f"
        t "verify-stream-v2 accepts a $format stream of a $guest guest" "check $format '$f'"
    done
done
"$MKSTREAM" --format xl --guest pv --pages 300 "$tmp/in"
"$XL_EXT" stream-dump --rewrite "$tmp/rewritten" "$tmp/in" >/dev/null
t "a stream rewritten by stream-dump --rewrite passes" "check xl '$tmp/rewritten'"
# the oracle itself must be able to fail: a record type it does not know
cp "$tmp/libxc-pv" "$tmp/damaged"
printf '\023' | dd of="$tmp/damaged" bs=1 seek=40 conv=notrunc 2>/dev/null
t "verify-stream-v2 rejects a damaged stream (the oracle can fail)" \
    "! PYTHONPATH='$XEN_PYTHONPATH' '$VERIFY' -q -f libxc -i '$tmp/damaged'"
exit $fail

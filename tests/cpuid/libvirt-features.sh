#!/bin/sh
# libvirt-features.sh: cpuid-policy/data/libvirt/x86-features.map agrees
# with the installed libvirt map and Xen 4.17's feature table: every
# feature of x86_features.xml has its row at the same CPUID/MSR bit, and
# every row's Xen name is the Xen feature at that bit (the generator's
# --check).  SKIP when the libvirt CPU map is not installed.
map=${XENMIG_TEST_LIBVIRT_MAP:-/usr/share/libvirt/cpu_map}
if [ ! -f "$map/x86_features.xml" ] || ! command -v python3 >/dev/null; then
    echo "1..0 # SKIP no libvirt CPU map at $map (Debian package libvirt0) or no python3"
    exit 0
fi
echo "1..2"
out=$(python3 "$XENMIG_SRCDIR/cpuid-policy/data/gen-libvirt-features.py" \
    --feature-table "$XENMIG_SRCDIR/cpuid-policy/feature_table.c" --xml "$map/x86_features.xml" \
    --map "$XENMIG_SRCDIR/cpuid-policy/data/libvirt/x86-features.map" --check 2>&1)
rc=$?
if [ $rc -eq 0 ]; then echo "ok 1 - $out"; else echo "not ok 1 - x86-features.map:"; echo "$out" | sed 's/^/# /'; fi
# The check can fail: a row moved to another bit is caught.
bad=$(mktemp); trap 'rm -f "$bad"' EXIT
sed 's/^\(avx2  *0x00000007:0 *ebx\)  5 /\1  6 /' \
    "$XENMIG_SRCDIR/cpuid-policy/data/libvirt/x86-features.map" > "$bad"
if ! grep -q "^avx2 .* ebx  6 " "$bad"; then
    echo "not ok 2 - could not move avx2's row"
elif python3 "$XENMIG_SRCDIR/cpuid-policy/data/gen-libvirt-features.py" \
    --feature-table "$XENMIG_SRCDIR/cpuid-policy/feature_table.c" --xml "$map/x86_features.xml" \
    --map "$bad" --check >/dev/null 2>&1; then
    echo "not ok 2 - a row at the wrong bit passed the check"
else
    echo "ok 2 - a row at the wrong bit fails the check"
fi

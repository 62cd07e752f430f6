#!/bin/sh
# feature-table.sh: the checked-in cpuid-policy/feature_table.c is exactly
# what gen-feature-table.py makes from the installed Xen 4.17
# cpufeatureset.h, xen-cpuid's names and data/feature-deps.txt.  A Xen
# update that adds or renames a feature fails here: regenerate the table.
# SKIP (77) if the header, xen-cpuid or python3 is absent.
HEADER=${XEN_CPUFEATURESET_H:-/usr/include/xen/arch-x86/cpufeatureset.h}
XEN_CPUID=${XEN_CPUID:-/usr/lib/xen-4.17/bin/xen-cpuid}
for need in "$HEADER" "$XEN_CPUID"; do
    [ -e "$need" ] || { echo "$need is absent (libxen-dev, xen-utils-4.17)" >&2; exit 77; }
done
command -v python3 >/dev/null || { echo "python3 is absent" >&2; exit 77; }
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
echo "1..2"
if python3 "$XENMIG_SRCDIR/cpuid-policy/gen-feature-table.py" --header "$HEADER" \
        --xen-cpuid "$XEN_CPUID" --deps "$XENMIG_SRCDIR/cpuid-policy/data/feature-deps.txt" \
        > "$tmp"; then
    echo "ok 1 - the generator runs on the installed header"
else
    echo "not ok 1 - the generator fails on the installed header"; exit 1
fi
if diff -u "$XENMIG_SRCDIR/cpuid-policy/feature_table.c" "$tmp" > "$tmp.diff"; then
    echo "ok 2 - feature_table.c matches the installed Xen"
else
    echo "not ok 2 - feature_table.c differs from the installed Xen: regenerate it"
    sed 's/^/# /' "$tmp.diff" | head -40
    rm -f "$tmp.diff"; exit 1
fi
rm -f "$tmp.diff"

#!/bin/sh
# xen-cpuid-oracle.sh: our featureset names agree with Xen's own xen-cpuid
# (xen-utils-4.17), word by word, on every CPU of the corpus and on random
# featuresets; and our names parse back to the same hex words.  xen-cpuid
# decodes a featureset given on its command line without a hypervisor.
# SKIP (77) if xen-cpuid is absent.
XEN_CPUID=${XEN_CPUID:-/usr/lib/xen-4.17/bin/xen-cpuid}
if [ ! -x "$XEN_CPUID" ]; then
    echo "xen-cpuid not found at $XEN_CPUID (install xen-utils-4.17)" >&2
    exit 77
fi
export XENMIG_CPUID_LEVELS_DIR="$XENMIG_SRCDIR/cpuid-policy/data/levels"
export XENMIG_CPUID_CORPUS="$XENMIG_SRCDIR/cpuid-policy/data/cpus/corpus.txt"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0; fail=0

# Featuresets: every corpus CPU, then 20 random ones (unnamed bits included).
"$XL_EXT" cpuid-policy corpus | sed 1d | cut -c1-46 | sed 's/ *$//' > "$tmp/cpus"
while read -r cpu; do
    "$XL_EXT" cpuid-policy corpus --host-json "$cpu" |
        sed -n 's/.*"host": "\([0-9a-f:]*\)".*/\1/p' >> "$tmp/sets"
done < "$tmp/cpus"
for i in $(seq 20); do
    od -An -N76 -tx4 /dev/urandom | tr -s ' \n' '  ' | sed 's/^ //; s/ $//; s/ /:/g' >> "$tmp/sets"
    echo >> "$tmp/sets"
done
total=$(wc -l < "$tmp/sets")
echo "1..$((total * 2))"

while read -r hex; do
    # xen-cpuid: "  [05] CPUID 0x00000007:0.ebx   fsgsbase ... <13> ..." -> "[05] names"
    # (the names start in column 33, after the word's leaf description)
    "$XEN_CPUID" "$hex" | grep '^  \[' | while IFS= read -r line; do
        printf '%s %s\n' "$(echo "$line" | cut -c4-5)" "$(echo "$line" | cut -c33-)"
    done | awk '{ w = $1 + 0; line = sprintf("[%02d]", w);
            for (i = 2; i <= NF; i++) { t = $i; if (t ~ /^<[0-9]+>$/) { gsub(/[<>]/, "", t);
                t = sprintf("w%db%d", w, t) } line = line " " t } print line }' > "$tmp/theirs"
    "$XL_EXT" cpuid-policy decode --hex --words "$hex" | sed 1d | sed 's/ *$//' > "$tmp/ours"
    n=$((n + 1))
    if diff "$tmp/theirs" "$tmp/ours" > "$tmp/diff"; then
        echo "ok $n - names of $hex agree with xen-cpuid"
    else
        echo "not ok $n - names of $hex differ from xen-cpuid"; sed 's/^/# /' "$tmp/diff"; fail=1
    fi
    names=$("$XL_EXT" cpuid-policy decode --hex "$hex" | sed -n 's/^names: //p')
    back=$("$XL_EXT" cpuid-policy decode --names "$names" 2>&1 | sed -n 's/^hex: //p')
    n=$((n + 1))
    # Random sets break Xen's dependency rules; only closed ones parse back.
    if [ -z "$back" ] && ! "$XL_EXT" cpuid-policy decode --names "$names" 2>&1 | grep -q needs; then
        echo "not ok $n - names of $hex do not parse back"; fail=1
    elif [ -n "$back" ] && [ "$back" != "$("$XL_EXT" cpuid-policy decode --hex "$hex" | sed -n 's/^hex: //p')" ]; then
        echo "not ok $n - names of $hex parse back to $back"; fail=1
    else
        echo "ok $n - names of $hex parse back (or are refused as not closed)"
    fi
done < "$tmp/sets"
exit $fail

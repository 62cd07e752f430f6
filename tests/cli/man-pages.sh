#!/bin/sh
# The man pages (docs/man): their POD is valid, they were built with the
# data directory filled in, they render without a groff warning, and
# xl-ext(1) documents every command and every option `xl-ext help` lists,
# so the page cannot fall behind the command table.
srcdir=${XENMIG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${XENMIG_BUILDDIR:-$srcdir/build}
XL_EXT=${XL_EXT:-$builddir/xl-ext/xl-ext}
pod=$srcdir/docs/man/xl-ext.1.pod.in
command -v podchecker >/dev/null || { echo "podchecker is not installed (Debian package perl)" >&2; exit 77; }

n=0 fail=0
t() {  # DESCRIPTION CONDITION [DETAIL]
    n=$((n + 1))
    if eval "$2"; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        [ -n "${3:-}" ] && echo "#   $3"
        fail=1
    fi
}

echo "1..7"
t "xl-ext.1 POD is valid" 'podchecker -warnings "$pod" >/dev/null 2>&1'
t "xl-ext.cfg.5 POD is valid" 'podchecker -warnings "$srcdir/docs/man/xl-ext.cfg.5.pod.in" >/dev/null 2>&1'
t "the pages were built" '[ -s "$builddir/docs/man/xl-ext.1" ] && [ -s "$builddir/docs/man/xl-ext.cfg.5" ]'
t "@pkgdatadir@ is filled in" '! grep -q "@pkgdatadir@" "$builddir/docs/man/xl-ext.1" "$builddir/docs/man/xl-ext.cfg.5"'
if command -v man >/dev/null; then
    warnings=$(for page in "$builddir/docs/man/xl-ext.1" "$builddir/docs/man/xl-ext.cfg.5"; do
        LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null
    done)
    t "the pages render without groff warnings" '[ -z "$warnings" ]' "$(echo "$warnings" | head -n 3)"
else
    n=$((n + 1)); echo "ok $n # SKIP man is not installed (Debian package man-db)"
fi

# every command of `xl-ext help`, and every cpuid-policy subcommand, has its =item
missing=""
for cmd in $("$XL_EXT" help | awk '/^ [^ ]/ { print $1 }'); do
    grep -q "^=item B<${cmd}[> ]" "$pod" || missing="$missing $cmd"
done
subs=$("$XL_EXT" help cpuid-policy | awk '/^  cluster [a-z]/ { print $1 "_" $2; next } /^  [a-z]/ { print $1 }')
for sub in $subs; do
    grep -q "^=item B<cpuid-policy $(echo "$sub" | tr _ ' ')>" "$pod" || missing="$missing cpuid-policy:$sub"
done
t "every command has an =item" '[ -z "$missing" ]' "not documented:$missing"

# every option that `xl-ext help COMMAND` shows appears as B<option>
missing=""
for cmd in $("$XL_EXT" help | awk '/^ [^ ]/ { print $1 }'); do
    for option in $("$XL_EXT" help "$cmd" | grep -oE -- '(^|[][ |])--?[A-Za-z][A-Za-z0-9-]*' |
                    sed 's/^[][ |]//' | sort -u); do
        grep -q -- "B<$option>" "$pod" || missing="$missing $cmd:$option"
    done
done
t "every option of xl-ext help is documented" '[ -z "$missing" ]' "not documented:$missing"
exit $fail

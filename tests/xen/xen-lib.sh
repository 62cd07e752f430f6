# xen-lib.sh: sourced by the script tests of the Xen destination without
# Xen (xendest.sh, xen-mapped.sh): where the source double, the real PVH
# capture its head and tail are cut from, a Core 2 host description and
# the fake xl are; a scratch directory $tmp (removed on exit); TAP
# counters (t, skip) and show; have_verify, whether Xen's verify-stream-v2
# can run here.  Ends the script with 77 (SKIP) without xz.  Needs
# XENMIG_SRCDIR, XENMIG_BUILDDIR and XL_EXT (tests/Makefile.am).
B="$XENMIG_BUILDDIR/tests/xen"
DOUBLE="$B/xen-source-double"
LAB="$XENMIG_SRCDIR/tests/data/streams/lab-pvh-96m.xl-save.xz"
CORE2="$XENMIG_SRCDIR/tests/fuzz/corpus/cpuid_host_json/core2.json"
VERIFY=${VERIFY_STREAM_V2:-/usr/lib/xen-4.17/bin/verify-stream-v2}
XEN_PYTHONPATH=${XEN_PYTHONPATH:-/usr/lib/xen-4.17/lib/python}
if ! command -v xz >/dev/null; then
    echo "xz not found: install xz-utils" >&2
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
skip() { n=$((n+1)); echo "ok $n # SKIP $1"; }
show() { sed 's/^/# /' "$@"; }
XENMIG_XL="$B/fake-xl"; export XENMIG_XL
have_verify() {
    [ -x "$VERIFY" ] && PYTHONPATH="$XEN_PYTHONPATH" /usr/bin/python3 -c 'import xen.migration.libxc' 2>/dev/null
}

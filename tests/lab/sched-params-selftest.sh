#!/bin/sh
# The lab's scheduler-parameter check (tests/lab/sched-params.sh, which
# scenarios.sh's sched_check runs in dom0), against a fake `xl` first on
# PATH that prints what Xen 4.17's `xl info` and `xl sched-credit{,2} -d`
# print (tools/xl/xl_sched.c: a "Name ID Weight Cap" header, then the
# domain's line): it reads weight and cap under the scheduler xl info
# names, refuses what it cannot read with xl's words, and the comparison
# fails, quoting both records, when the cap or weight changed.
script=${XENMIG_SRCDIR:-$(dirname "$0")/../..}/tests/lab/sched-params.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }

# FAKE_SCHED: xen_scheduler; FAKE_WEIGHT, FAKE_CAP: the domain's;
# FAKE_FAIL=info|sched: that command fails as xl does; FAKE_GARBLE=1: the
# domain line is missing.  Every call's arguments go to $tmp/calls.
cat > "$tmp/xl" <<'EOF'
#!/bin/sh
echo "$*" >> "$FAKE_DIR/calls"
case "$1" in
info)
    [ "${FAKE_FAIL:-}" = info ] && { echo "libxl: error: cannot get physinfo" >&2; exit 1; }
    printf 'host                   : lab-dom0\nxen_version            : 4.17.5\n'
    printf 'xen_scheduler          : %s\nnr_cpus                : 2\n' "$FAKE_SCHED" ;;
sched-credit|sched-credit2)
    [ "$2" = -d ] || exit 2
    if [ "${FAKE_FAIL:-}" = sched ]; then
        echo "$3 is an invalid domain identifier (rc=-6)" >&2
        exit 1
    fi
    printf '%-33s %4s %6s %4s\n' Name ID Weight Cap
    [ "${FAKE_GARBLE:-}" = 1 ] && exit 0
    printf '%-33s %4d %6d %4d\n' "$3" 7 "$FAKE_WEIGHT" "$FAKE_CAP" ;;
*) echo "fake xl: unexpected '$*'" >&2; exit 2 ;;
esac
EOF
chmod 755 "$tmp/xl"
export FAKE_DIR="$tmp" PATH="$tmp:$PATH" FAKE_WEIGHT=256 FAKE_CAP=0
run() {  # [NAME=VALUE...] -- ARGS: sched-params.sh ARGS in that environment;
         # its stdout, stderr and status in $tmp/out, err, rc
    vars=""
    while [ $# -gt 0 ] && [ "$1" != -- ]; do vars="$vars $1"; shift; done
    shift
    env $vars sh "$script" "$@" > "$tmp/out" 2> "$tmp/err"
    echo $? > "$tmp/rc"
}
rc() { cat "$tmp/rc"; }
out() { cat "$tmp/out"; }
echo "1..16"

rm -f "$tmp/calls"
run FAKE_SCHED=credit2 -- record lab-pvh-128-idle
t "credit2: the record is scheduler:weight:cap ($(out))" '[ "$(rc)" = 0 ] && [ "$(out)" = credit2:256:0 ]'
t "credit2: asked xl sched-credit2 -d for the domain" \
    'grep -qx "sched-credit2 -d lab-pvh-128-idle" "$tmp/calls"'
run FAKE_SCHED=credit FAKE_WEIGHT=512 FAKE_CAP=50 -- record lab-pv-128-idle
t "credit: its weight and cap ($(out))" '[ "$(rc)" = 0 ] && [ "$(out)" = credit:512:50 ]'
run FAKE_SCHED=credit2 FAKE_CAP=25 -- record lab-pv-128-idle
t "a throttled cap shows ($(out))" '[ "$(out)" = credit2:256:25 ]'
rm -f "$tmp/calls"
run FAKE_SCHED=rtds -- record lab-pv-128-idle
t "rtds (no weight, no cap): only its name, and no sched-rtds call" \
    '[ "$(rc)" = 0 ] && [ "$(out)" = rtds ] && ! grep -q sched "$tmp/calls"'
run FAKE_SCHED=credit2 FAKE_FAIL=sched -- record lab-gone
t "a domain xl cannot find: exit 1, nothing on stdout" '[ "$(rc)" = 1 ] && [ ! -s "$tmp/out" ]'
t "... and xl's own words on stderr" 'grep -q "lab-gone is an invalid domain identifier" "$tmp/err"'
run FAKE_SCHED=credit2 FAKE_FAIL=info -- record lab-pv-128-idle
t "xl info failing: exit 1 quoting it" '[ "$(rc)" = 1 ] && grep -q "cannot get physinfo" "$tmp/err"'
run FAKE_SCHED=credit2 FAKE_GARBLE=1 -- record lab-pv-128-idle
t "no line for the domain: exit 1, the output quoted" \
    '[ "$(rc)" = 1 ] && [ ! -s "$tmp/out" ] && grep -q "printed no weight and cap of lab-pv-128-idle" "$tmp/err"'

run -- compare "at the destination after xenmig-s2-loose" credit2:256:0 credit2:256:0
t "the same record: the check passes, silently" '[ "$(rc)" = 0 ] && [ ! -s "$tmp/out" ]'
run -- compare "at the destination after xenmig-s2-loose" credit2:256:0 credit2:256:25
t "a cap left behind: the check fails" '[ "$(rc)" = 1 ]'
t "... quoting both and where ($(out))" \
    'grep -q "changed: credit2:256:0 before the migration at the source, credit2:256:25 at the destination after xenmig-s2-loose" "$tmp/out"'
run -- compare "at the source after the failed xenmig-fault-sigint" credit2:256:0 credit2:128:0
t "a weight that changed: the check fails too" '[ "$(rc)" = 1 ] && grep -q "credit2:128:0 at the source after the failed" "$tmp/out"'
run -- compare "at the destination after migrate-pipe" "" credit2:256:0
t "nothing recorded before: the check fails, saying so" \
    '[ "$(rc)" = 1 ] && grep -q "could not be read before the migration" "$tmp/out"'
run -- compare "at the destination after migrate-pipe" credit2:256:0 ""
t "nothing read after: the check fails, saying where" \
    '[ "$(rc)" = 1 ] && grep -q "could not be read at the destination after migrate-pipe" "$tmp/out"'
run -- record
t "usage errors exit 2" '[ "$(rc)" = 2 ] && grep -q usage "$tmp/err"'
exit $fail

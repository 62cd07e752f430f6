#!/bin/sh
# scripts/lab's refusals of bad --xen, --peer-xen and --xen-image values:
# exit 2 with one line naming the option and the value, before anything is
# installed, built or booted (no Xen or QEMU needed).
lab=${XENMIG_SRCDIR:-..}/scripts/lab
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0 fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; sed 's/^/# /' "$dir/err"; fail=1; fi; }
run() { rc=0; bash "$lab" --no-install --work-dir "$dir/work" --results "$dir/results" "$@" > "$dir/out" 2> "$dir/err" || rc=$?; }

run --peer-xen 4.20
t "--peer-xen without --two-host: exit 2, says to add --two-host" \
    '[ $rc = 2 ] && grep -q "^lab: --peer-xen .4.20. .*add --two-host" "$dir/err"'
run --two-host --peer-xen 4.21
t "--peer-xen 4.21: exit 2, the value quoted, the choices named" \
    '[ $rc = 2 ] && grep -q "^lab: --peer-xen .4.21.: expected 4.17, 4.20 or 4.22" "$dir/err"'
run --xen 5
t "--xen 5: exit 2, the value quoted" \
    '[ $rc = 2 ] && grep -q "^lab: --xen .5.: expected 4.17, 4.20 or 4.22" "$dir/err"'
run --xen 4.22 --xen-image "$dir/no-such-xen"
t "--xen-image of a missing file: exit 2, the file quoted" \
    '[ $rc = 2 ] && grep -q "^lab: --xen-image .*no-such-xen.: no such readable file" "$dir/err"'
run --two-host --peer-xen
t "--peer-xen without a value: exit 2" '[ $rc = 2 ] && grep -q "^lab: --peer-xen needs a value" "$dir/err"'
t "nothing was created in the work or results directory" '[ ! -e "$dir/work" ] && [ ! -e "$dir/results" ]'
echo "1..$n"
exit $fail

#!/bin/sh
# tap-wrap.sh TEST [ARGS...]: run one test for automake's tap-driver.
# Exit 77 means "cannot run here" (no Xen, no tool): unless the test printed
# its own plan, report it as a TAP skip with the reason from its last
# stderr line.  Any other non-zero exit stays an error.
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
case "$1" in
    *.sh) sh "$@" >"$out" 2>"$err" ;;
    *) "$@" >"$out" 2>"$err" ;;
esac
rc=$?
cat "$out"
cat "$err" >&2
if [ "$rc" -eq 77 ]; then
    if ! grep -q '^1\.\.' "$out"; then
        reason=$(tail -n 1 "$err")
        echo "1..0 # SKIP ${reason:-cannot run here (exit 77)}"
    fi
    exit 0
fi
exit "$rc"

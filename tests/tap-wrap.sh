#!/bin/sh
# tap-wrap.sh TEST [ARGS...]: run one test for automake's tap-driver.
# Exit 77 means "cannot run here" (no Xen, no tool): unless the test printed
# its own plan, report it as a TAP skip with the reason from its last
# stderr line.  Any other non-zero exit stays an error.
# Every test runs under scripts/bounded: one that is still running after
# XENMIG_TEST_TIMEOUT seconds (default 600) is stopped, its threads'
# backtraces go to its log, and a "Bail out!" line names it.
# XENMIG_STATE_DIR is a fresh directory per test, removed afterwards.
srcdir=${XENMIG_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
limit=${XENMIG_TEST_TIMEOUT:-600}
name=$1
out=$(mktemp) err=$(mktemp) state=$(mktemp -d)
trap 'rm -rf "$out" "$err" "$state"' EXIT
# Every test has its own empty state directory: none learns switchover
# costs from, or teaches them to, this host's /var/lib/xenmig.
XENMIG_STATE_DIR=$state/state
export XENMIG_STATE_DIR
case "$1" in
    *.sh) set -- sh "$@" ;;
esac
python3 "$srcdir/scripts/bounded" --name "$name" "$limit" "$@" >"$out" 2>"$err"
rc=$?
cat "$out"
cat "$err" >&2
if [ "$rc" -eq 124 ] && grep -q '^bounded: .* did not finish within' "$err"; then
    echo "Bail out! $(grep -m1 '^bounded: .* did not finish within' "$err" | cut -c10-) (backtraces in this log)"
    exit "$rc"
fi
if [ "$rc" -eq 77 ]; then
    if ! grep -q '^1\.\.' "$out"; then
        reason=$(tail -n 1 "$err")
        echo "1..0 # SKIP ${reason:-cannot run here (exit 77)}"
    fi
    exit 0
fi
exit "$rc"

# sim-lib.sh: sourced by the `xl-ext migrate --sim` script tests
# (migrate-sim.sh, migrate-predict.sh, switchover-costs.sh): a scratch
# directory $t (removed on exit), TAP counters and checks that quote the
# command's output on a failure, and sim_guest_or_skip, which ends the
# script with 77 (skipped) where this kernel cannot run a simulated guest
# (no userfaultfd write-protection).  Needs XL_EXT (tests/Makefile.am).
set -u
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
n=0 fail=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
not_ok() { n=$((n+1)); echo "not ok $n - $1"; fail=1; sed 's/^/# /' "$t/out" "$t/err" | tail -n 20; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }

sim_guest_or_skip() {
    if ! "$XL_EXT" migrate --sim --sim-memory 4M --sim-pattern idle --no-verify localhost \
            >"$t/out" 2>"$t/err"; then
        if grep -q "userfaultfd\|not supported\|EUNSUPP" "$t/err"; then
            echo "no userfaultfd write-protection here: $(head -n 1 "$t/err")" >&2
            exit 77
        fi
    fi
}

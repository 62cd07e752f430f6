#!/bin/sh
# The test harness's bound of last resort (scripts/bounded, tests/tap-wrap.sh)
# on deliberately stuck stand-ins: a hung test fails with a message naming
# it and the backtraces of what it left, nothing of it keeps running, and a
# test that finishes keeps its own exit status.  The stand-ins never finish
# by themselves: the only way out is the bound, so nothing here is decided
# by how fast the machine is.
src=${XENMIG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bounded="python3 $src/scripts/bounded"
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0 fail=0
# a process that still runs (a zombie left to a slow init does not)
running() { [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" | grep -q '^Z'; }
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
unset XENMIG_BOUND_SCALE

# a stuck test: a shell whose child sleeps, and a pipe nobody writes to
cat > "$dir/stuck.sh" <<EOF
echo \$\$ > "$dir/stuck.pid"
sleep 3600 &
echo \$! > "$dir/child.pid"
read line < "$dir/fifo"
EOF
mkfifo "$dir/fifo"
$bounded --name stuck-test 2 sh "$dir/stuck.sh" > "$dir/out" 2> "$dir/err"
rc=$?
t "a stuck test exits 124" '[ $rc -eq 124 ]'
t "the message names it and the bound" 'grep -q "^bounded: stuck-test did not finish within [0-9]* s: stopped; backtraces follow" "$dir/err"'
t "the command line is shown" 'grep -q "^bounded: command: sh $dir/stuck.sh" "$dir/err"'
t "both of its processes have a backtrace section" \
    'grep -q "^--- pid $(cat "$dir/stuck.pid"): sh" "$dir/err" && grep -q "^--- pid $(cat "$dir/child.pid"): sleep 3600" "$dir/err"'
t "the backtraces name frames (eu-stack or gdb ran)" 'grep -Eq "^#[0-9]+ +(0x[0-9a-f]+ )?" "$dir/err"'
t "the stuck shell is gone" '! running "$(cat "$dir/stuck.pid")"'
t "its background child is gone too" '! running "$(cat "$dir/child.pid")"'

# through tap-wrap.sh (what make check runs): a Bail out! line names it
cat > "$dir/hang-test.sh" <<EOF
echo "ok 1 - first part"
read line < "$dir/fifo"
EOF
XENMIG_SRCDIR=$src XENMIG_TEST_TIMEOUT=2 sh "$src/tests/tap-wrap.sh" "$dir/hang-test.sh" > "$dir/out" 2> "$dir/err"
rc=$?
t "tap-wrap: the hung test is an error (124)" '[ $rc -eq 124 ]'
t "tap-wrap: its TAP so far is kept" 'grep -q "^ok 1 - first part" "$dir/out"'
t "tap-wrap: Bail out! names the hung test" 'grep -q "^Bail out! .*hang-test.sh did not finish within" "$dir/out"'

# a test that finishes keeps its status; a signal is 128+N; 77 is a skip
$bounded 600 sh -c 'exit 3'; rc=$?
t "exit status 3 is passed on" '[ $rc -eq 3 ]'
$bounded 600 sh -c 'kill -TERM $$'; rc=$?
t "death by SIGTERM is 143" '[ $rc -eq 143 ]'
printf 'echo skipping >&2; exit 77\n' > "$dir/skip.sh"
XENMIG_SRCDIR=$src sh "$src/tests/tap-wrap.sh" "$dir/skip.sh" > "$dir/out" 2>/dev/null
rc=$?
t "tap-wrap: exit 77 stays a skip with its reason" '[ $rc -eq 0 ] && grep -q "^1..0 # SKIP skipping" "$dir/out"'
$bounded soon true 2> "$dir/err"; rc=$?
t "a bound that is not seconds: exit 2, quoted" '[ $rc -eq 2 ] && grep -q "'"'"'soon'"'"'" "$dir/err"'
XENMIG_BOUND_SCALE=0.001 $bounded --name scaled 2000 sh "$dir/stuck.sh" > /dev/null 2> "$dir/err"
rc=$?
t "XENMIG_BOUND_SCALE scales the bound" '[ $rc -eq 124 ] && grep -q "^bounded: scaled did not finish within" "$dir/err"'
echo "1..$n"
exit $fail

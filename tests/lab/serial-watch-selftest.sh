#!/bin/sh
# The host side of the lab's serial console (tests/lab/serial-watch.py) on
# made-up consoles, with a sleeping process standing in for QEMU: LAB-DONE
# stops it; a console that goes silent after dom0's signs of life is a hang
# (a LAB-HANG line, the stand-in stopped); silence before any sign of life
# is not (a LAB-QUIET line instead); LAB-ALIVE lines are logged but not
# echoed as progress.
# No check depends on timing: the made-up console stays open (silent) until
# the watcher has logged what the silence makes it log, however late the
# watcher started or however slowly it runs; 60 s is only the bound of last
# resort on that wait.
watch=${XENMIG_SRCDIR:-..}/tests/lab/serial-watch.py
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 77; }
dir=$(mktemp -d)
victim=""
trap '[ -n "$victim" ] && kill "$victim" 2>/dev/null; rm -rf "$dir"' EXIT
n=0 fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
stand_in() {  # a process for the watcher to stop, its pid in $dir/pid
    sleep 600 &
    victim=$!
    echo "$victim" > "$dir/pid"
}
# 0 when the watcher stopped the stand-in (SIGTERM): a stand-in that it did
# not stop is killed here with SIGKILL and reaped, so the answer is final
stopped_by_watcher() {
    kill -KILL "$victim" 2>/dev/null
    wait "$victim" 2>/dev/null
    rc=$?
    victim=""
    [ "$rc" -eq 143 ]
}
. "${XENMIG_SRCDIR:-$(dirname "$0")/../..}/tests/testlib.sh"   # await
logged() { grep -q "$1" "$dir/log" 2>/dev/null; }

# signs of life, then silence with the pipe open until the hang is logged
stand_in
rm -f "$dir/log"
{ printf '(XEN) Xen version 4.17\nLAB-ALIVE uptime=1.00\nLAB-RESULT name=a status=pass\n'; await 'LAB-HANG in the log' 'logged LAB-HANG'; } |
    python3 "$watch" "$dir/log" "$dir/pid" t 2 2> "$dir/err"
rc=$?
t "the watcher exits 0 at the end of the console" '[ $rc -eq 0 ]'
t "silence after signs of life is a hang: LAB-HANG in the log" 'grep -q "^\[ *[0-9.]*\] LAB-HANG the console was silent for [0-9]* s" "$dir/log"'
t "the hang is reported as progress too" 'grep -q "LAB-HANG" "$dir/err"'
t "the stand-in for QEMU was stopped" 'stopped_by_watcher'
t "LAB-ALIVE is logged, not echoed; LAB-RESULT is echoed" 'grep -q "LAB-ALIVE uptime=1.00" "$dir/log" && ! grep -q "LAB-ALIVE" "$dir/err" && grep -q "LAB-RESULT name=a" "$dir/err"'

# the same silence before any sign of life (Xen still booting): no hang
stand_in
rm -f "$dir/log"
{ printf '(XEN) Xen version 4.17\n'; await 'LAB-QUIET in the log' 'logged LAB-QUIET'; } |
    python3 "$watch" "$dir/log" "$dir/pid" t 2 2> "$dir/err"
t "silence before dom0's signs of life is noted as quiet" 'grep -q "LAB-QUIET the console was silent for [0-9]* s before" "$dir/log"'
t "silence before dom0's signs of life is not a hang" '! grep -q "LAB-HANG" "$dir/log" && ! stopped_by_watcher'

# LAB-DONE stops QEMU; a last line without a newline still reaches the log
stand_in
printf 'LAB-ALIVE uptime=2.00\nLAB-DONE\nno newline at the end' |
    python3 "$watch" "$dir/log" "$dir/pid" t 2 2> "$dir/err"
t "LAB-DONE stops the stand-in" 'stopped_by_watcher'
t "a last line without a newline is logged" 'grep -q "\] no newline at the end$" "$dir/log"'
t "no hang when the console ended" '! grep -q "LAB-HANG" "$dir/log"'

# a watcher that starts late (a loaded machine: the console's lines are
# already waiting in the pipe when it first reads) still sees the hang
stand_in
rm -f "$dir/log"
{ printf 'LAB-ALIVE uptime=1.00\n'; await 'LAB-HANG in the log' 'logged LAB-HANG'; } |
    { sleep 3; exec python3 "$watch" "$dir/log" "$dir/pid" t 2 2> "$dir/err"; }
t "a watcher that starts 3 s late still finds the hang" 'grep -q "LAB-HANG" "$dir/log" && stopped_by_watcher'

python3 "$watch" "$dir/log" "$dir/pid" t soon < /dev/null 2> "$dir/err"
rc=$?
t "a HANG_S that is not seconds: exit 2, quoted" '[ $rc -eq 2 ] && grep -q "'"'"'soon'"'"'" "$dir/err"'
echo "1..$n"
exit $fail

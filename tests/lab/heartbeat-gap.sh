#!/bin/sh
# The lab's guest workload (tests/lab/lab-guest.c), run on this host: it
# keeps ticking, reports the largest gap between ticks (so a pause the
# process is put through shows up as that gap: the lab's downtime
# measurement), dirties memory at the asked rate, and rejects bad options
# quoting them.  Nothing here asks the scheduler to be punctual: the pause
# is measured by the test around SIGSTOP/SIGCONT and the gap must be at
# least that, and the report period and the dirtying rate are checked
# against the workload's own clock readings (its t_ms), not the wall clock.
guest=${XENMIG_BUILDDIR:-..}/tests/lab/lab-guest
[ -x "$guest" ] || { echo "lab-guest is not built at $guest" >&2; exit 1; }
out=$(mktemp) err=$(mktemp)
pid=
trap 'rm -f "$out" "$err"; [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null' EXIT
n=0 fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
field_max() {  # FIELD: largest value of FIELD=N over the HB lines
    sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$out" | sort -n | tail -n 1
}
hb_lines() { grep -c '^HB boot=' "$out"; }
# "t_ms gap_max_us dirtied_mib" of every HB line
hb_fields() {
    sed -n 's/^HB .* gap_max_us=\([0-9]*\) t_ms=\([0-9]*\) dirtied_mib=\([0-9]*\) .*/\2 \1 \3/p' "$out"
}
. "${XENMIG_SRCDIR:-$(dirname "$0")/../..}/tests/testlib.sh"   # await
stopped() { [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f 1)" = T ]; }
echo "1..16"

# A pause of the running heartbeat: stopped once it has reported 3 times,
# kept stopped for at least 600 ms from the moment it is seen stopped (that
# interval is measured: the heartbeat cannot tick in it), then continued;
# once 3 more lines are out, the test ends the run (SIGTERM).
"$guest" heartbeat --tick-ms 2 --report-ms 100 > "$out" 2> "$err" &
pid=$!
waits=failed
if await "3 heartbeat lines" '[ "$(hb_lines)" -ge 3 ]' && kill -STOP "$pid" &&
    await "lab-guest (pid $pid) to stop" 'stopped "$pid"'; then
    t0=$("$guest" now)
    sleep 0.6                           # the pause applied: measured, not assumed
    t1=$("$guest" now)
    before=$(hb_lines)
    kill -CONT "$pid"
    await "3 heartbeat lines after the pause" '[ "$(hb_lines)" -ge $((before + 3)) ]' &&
        waits=ok
fi
kill -TERM "$pid"
kill -CONT "$pid"
wait "$pid" 2>/dev/null
rc=$?
pid=
# the stop lasted at least this (both clocks are truncated: 1 us less)
pause=$(echo "${t0:-0} ${t1:-0}" | awk '{ printf "%d", ($2 - $1) * 1000000 - 1 }')
t "it reported, was seen stopped, and reported again after the pause" '[ "$waits" = ok ]'
t "the paused run ran until the test's SIGTERM" '[ $rc -eq 143 ]'
# A line is made at the first tick 100 ms or more after the previous one:
# never sooner, and later by at most that tick's gap (in its gap_max_us);
# the ms are truncated, hence 2 ms of rounding.
t "reports every 100 ms, late by at most its own tick gap ($(hb_lines) lines)" \
    'hb_fields | awk "NR > 1 { d = \$1 - t; if (d < 100 || d > 102 + \$2 / 1000) { print \"# \" d \" ms after the line before, gap \" \$2 \" us\"; bad = 1 } } { t = \$1 } END { exit bad || NR < 2 }"'
t "one boot id throughout" '[ "$(sed -n "s/^HB boot=\([^ ]*\) .*/\1/p" "$out" | sort -u | wc -l)" -eq 1 ]'
t "the tick counter only grows" 'sed -n "s/.* seq=\([0-9]*\) .*/\1/p" "$out" | awk "NR > 1 && \$1 <= prev { bad = 1 } { prev = \$1 } END { exit bad }"'
gap=$(field_max gap_max_us)
t "the stop shows as the largest gap: at least the $pause us it lasted (got ${gap:-none} us)" \
    '[ -n "$gap" ] && [ "$pause" -ge 599000 ] && [ "$gap" -ge "$pause" ]'

# dirtying at 40 MiB/s for 1 s over an 8 MiB working set
"$guest" heartbeat --duration-ms 1000 --dirty-mib-per-s 40 --working-set-mib 8 > "$out" 2> "$err"
rc=$?
dirtied=$(field_max dirtied_mib)
t "dirtying run exits 0" '[ $rc -eq 0 ]'
# It owes 40 MiB/s for the time that passed, at most 0.1 s of it per tick:
# under 1 s before its last tick, and 0.1 s at that tick.
t "never dirties faster than asked: at most 44 MiB in its 1 s (got ${dirtied:-none} MiB)" \
    '[ -n "$dirtied" ] && [ "$dirtied" -gt 0 ] && [ "$dirtied" -le 44 ]'
# Between two lines it owed 10240 pages/s of its own clock (t_ms truncated:
# 1 ms less) and dirtied them, less one page of rounding, unless a tick came
# 99 ms or more late: then it drops what it owed beyond 0.1 s (the
# window's gap_max_us shows it).  MiB counts are truncated: one less.
# (A run whose first tick came after its whole second has no window.)
t "dirties at the asked rate by its own clock, where no tick came late" \
    'hb_fields | awk "NR == 1 { d0 = \$3 } NR > 1 && \$2 < 99000 { p += 10.24 * (\$1 - t - 1) - 1 } { t = \$1; d = \$3 } END { w = p / 256 - 1; printf \"# %d MiB between the first and last lines, at least %.1f owed\\n\", d - d0, w; exit !(d - d0 >= w) }"'

"$guest" heartbeat --tick-ms 0 > "$out" 2> "$err"
rc=$?
t "a bad --tick-ms exits 2" '[ $rc -eq 2 ]'
t "the error quotes the bad value" 'grep -q "'"'"'0'"'"'" "$err"'
# count: copies stdin to stdout and writes how many bytes
count=$(mktemp)
head -c 300001 /dev/urandom > "$err"
"$guest" count "$count" < "$err" > "$out"
rc=$?
t "count copies its input unchanged and exits 0" '[ $rc -eq 0 ] && cmp -s "$err" "$out"'
t "count writes the number of bytes (got $(cat "$count"))" '[ "$(cat "$count")" = 300001 ]'
"$guest" count > "$out" 2> "$err"
rc=$?
t "count without FILE exits 2" '[ $rc -eq 2 ]'
rm -f "$count"

# The lab's listing of a step's long gaps (scenarios.sh's heartbeat_gaps_over
# and the hb_awk it reads lines with, taken from that file as they are): the
# reports of one boot and seq range whose gap is at least the minimum, in seq
# order, with the guest's time.
logs=$(mktemp -d)
scenarios=${XENMIG_SRCDIR:-$(dirname "$0")/../..}/tests/lab/scenarios.sh
eval "$(sed -n "/^hb_awk='/,/^'\$/p; /^heartbeat_gaps_over() {/,/^}/p" "$scenarios")"
cat > "$logs/a.log" <<'HB'
HB boot=0000aaaa seq=98 gap_max_us=500000 t_ms=900 dirtied_mib=0 dropped=0
HB boot=0000aaaa seq=100 gap_max_us=2100 t_ms=1000 dirtied_mib=0 dropped=0
HB boot=0000aaaa seq=1000 gap_max_us=1196000 t_ms=3000 dirtied_mib=0 dropped=0
HB boot=0000aaaa seq=150 gap_max_us=250000 t_ms=1100 dirtied_mib=0 dropped=0
HB boot=0000bbbb seq=120 gap_max_us=900000 t_ms=1100 dirtied_mib=0 dropped=0
HB
gaps=$(console_logs=$logs heartbeat_gaps_over 99 1000 0000aaaa 100)
t "a step's gaps of 100 ms or more, in seq order, of its boot and seqs only (got '$gaps')" \
    '[ "$gaps" = "250.0 ms at t=1.100 s, 1196.0 ms at t=3.000 s" ]'
gaps=$(console_logs=$logs heartbeat_gaps_over 99 140 0000aaaa 100)
t "none when no report of the step reaches the minimum (got '$gaps')" '[ "$gaps" = none ]'
rm -rf "$logs"
exit $fail

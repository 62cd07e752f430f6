#!/bin/sh
# The lab's guest workload (tests/lab/lab-guest.c), run on this host: it
# keeps ticking, reports the largest gap between ticks (so a pause the
# process is put through shows up as that gap: the lab's downtime
# measurement), dirties memory at the asked rate, and rejects bad options
# quoting them.
guest=${XENMIG_BUILDDIR:-..}/tests/lab/lab-guest
[ -x "$guest" ] || { echo "lab-guest is not built at $guest" >&2; exit 1; }
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
n=0 fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
field_max() {  # FIELD: largest value of FIELD=N over the HB lines
    sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$out" | sort -n | tail -n 1
}
echo "1..12"

# a 600 ms SIGSTOP in the middle of a 1.6 s run
"$guest" heartbeat --tick-ms 2 --report-ms 100 --duration-ms 1600 > "$out" 2> "$err" &
pid=$!
sleep 0.5
kill -STOP $pid
sleep 0.6
kill -CONT $pid
wait $pid
rc=$?
lines=$(grep -c '^HB boot=' "$out")
t "heartbeat run exits 0" '[ $rc -eq 0 ]'
t "reports every 100 ms (>= 6 lines in 1.6 s, got $lines)" '[ "$lines" -ge 6 ]'
t "one boot id throughout" '[ "$(sed -n "s/^HB boot=\([^ ]*\) .*/\1/p" "$out" | sort -u | wc -l)" -eq 1 ]'
t "the tick counter only grows" 'sed -n "s/.* seq=\([0-9]*\) .*/\1/p" "$out" | awk "NR > 1 && \$1 <= prev { bad = 1 } { prev = \$1 } END { exit bad }"'
gap=$(field_max gap_max_us)
t "the 600 ms stop shows as the largest gap (got ${gap:-none} us)" '[ -n "$gap" ] && [ "$gap" -ge 600000 ] && [ "$gap" -lt 5000000 ]'

# dirtying at 40 MiB/s for 1 s over an 8 MiB working set
"$guest" heartbeat --duration-ms 1000 --dirty-mib-per-s 40 --working-set-mib 8 > "$out" 2> "$err"
rc=$?
dirtied=$(field_max dirtied_mib)
t "dirtying run exits 0" '[ $rc -eq 0 ]'
t "dirties about 40 MiB in 1 s (got ${dirtied:-none} MiB)" '[ -n "$dirtied" ] && [ "$dirtied" -ge 25 ] && [ "$dirtied" -le 45 ]'

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
exit $fail

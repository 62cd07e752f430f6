#!/bin/sh
# The lab's report generator (tests/lab/report.py) on a recorded console:
# passes, a skip, a failure with its evidence, and a scenario of the plan
# that never reported must come out right in TAP, JUnit XML and JSON.
report=${XENMIG_SRCDIR:-..}/tests/lab/report.py
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0 fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
cat > "$dir/plan" <<'PLAN'
# a plan as scripts/lab writes it
option xenmig_migrate=0
check-xl-ext
guest pv 128 idle create migrate-pipe migrate-tcp xenmig-migrate-pipe
guest pv 512 dirty:16:256 create
PLAN
cat > "$dir/serial.log" <<'LOG'
[    0.40] (XEN) Xen version 4.17.5
[    9.53] LAB-MARK dom0-ready uptime=5.29
[   10.29] LAB-RESULT name=dom0-xl-ext-runs status=pass retries=0 tool=xl-ext reason=
[   30.00] LAB-RESULT name=pv-128-idle-create status=pass retries=0 tool=xl type=pv mem=128 workload=idle boot_before=2d6c46e7 boot_after=2d6c46e7 total_s=18.573 downtime_ms=none reason=
[   34.00] LAB-RESULT name=pv-128-idle-migrate-pipe status=pass retries=1 tool=xl type=pv mem=128 workload=idle boot_before=2d6c46e7 boot_after=2d6c46e7 total_s=2.759 downtime_ms=425.9 transport=pipe reason=
[   40.00] LAB-LOG-BEGIN pv-128-idle-migrate-tcp
[   40.01] --- guest console marker-line-from-evidence
[   40.02] LAB-LOG-END pv-128-idle-migrate-tcp
[   40.03] LAB-RESULT name=pv-128-idle-migrate-tcp status=fail retries=0 tool=xl type=pv mem=128 boot_before=2d6c46e7 boot_after=none total_s=none downtime_ms=none reason=migrate-tcp with xl failed (rc=1): # broken pipe
[   40.04] LAB-RESULT name=pv-128-idle-xenmig-migrate-pipe status=skip retries=0 tool=xl-ext reason=hook off
[   41.00] last-console-line-before-the-crash
LOG
python3 "$report" --plan "$dir/plan" --results "$dir" single="$dir/serial.log" > "$dir/tap" 2> "$dir/err"
rc=$?
t "exit status 1 when a scenario failed" '[ $rc -eq 1 ]'
t "TAP plan counts every planned scenario" 'grep -qx "1\.\.6" "$dir/tap"'
t "a pass carries total, downtime and retries" 'grep -q "^ok 3 - pv-128-idle-migrate-pipe (total 2.76 s, downtime 425.9 ms, retries 1)$" "$dir/tap"'
t "the failure quotes its reason" 'grep -q "^not ok 4 - pv-128-idle-migrate-tcp: migrate-tcp with xl failed (rc=1): \\\\# broken pipe" "$dir/tap"'
t "the failure carries its evidence and the console tail" 'grep -q "^# --- guest console marker-line-from-evidence" "$dir/tap" && grep -q "^# .*last-console-line-before-the-crash" "$dir/tap"'
t "the hook is a skip, not a pass" 'grep -q "^ok 5 - pv-128-idle-xenmig-migrate-pipe # SKIP hook off" "$dir/tap"'
t "a planned scenario without a result fails" 'grep -q "^not ok 6 - pv-512-dirty16-create: no result" "$dir/tap"'
t "the count line scripts/test adds up: 6 scenarios, 3 passed, 2 failed, 1 skipped" \
  'tail -n 1 "$dir/tap" | grep -qx "# lab: 6 scenarios: 3 passed, 2 failed, 1 skipped"'
t "JUnit: 6 tests, 2 failures, 1 skipped" 'python3 -c "
import sys, xml.etree.ElementTree as E
s = E.parse(sys.argv[1]).getroot()
assert (s.get(\"tests\"), s.get(\"failures\"), s.get(\"skipped\")) == (\"6\", \"2\", \"1\"), s.attrib
f = [c for c in s if c.find(\"failure\") is not None]
assert \"last-console-line-before-the-crash\" in f[0].find(\"failure\").text
" "$dir/junit.xml"'
t "JSON: downtime, retries and boot time" 'python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
by = {s[\"name\"]: s for s in d[\"scenarios\"]}
assert by[\"pv-128-idle-migrate-pipe\"][\"downtime_ms\"] == 425.9
assert by[\"pv-128-idle-migrate-pipe\"][\"retries\"] == 1
assert by[\"pv-128-idle-create\"][\"downtime_ms\"] is None
assert d[\"boots\"][\"single\"][\"dom0_ready_s\"] == 9.53
" "$dir/timings.json"'
t "baseline: only passed stock xl migrations" 'python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert [s[\"name\"] for s in d[\"scenarios\"]] == [\"pv-128-idle-migrate-pipe\"], d[\"scenarios\"]
" "$dir/baseline-xl.json"'

# A boot that hung before the 512 MiB guest and the check reported, and the
# boot after it: what did not finish runs again, options in their places.
cat > "$dir/plan2" <<'PLAN'
option xenmig_migrate=1
guest pv 128 idle create hold-10
check-xl-ext
option link_cap=16000000
guest pv 512 idle create hold-10
PLAN
cat > "$dir/serial1.log" <<'LOG'
[   20.00] LAB-RESULT name=pv-128-idle-create status=pass retries=0 total_s=18.5 downtime_ms=none reason=
[   31.00] LAB-RESULT name=pv-128-idle-hold-10 status=pass retries=0 total_s=10.0 downtime_ms=30.0 reason=
[   52.00] LAB-RESULT name=pv-512-idle-create status=pass retries=0 total_s=19.0 downtime_ms=none reason=
[  300.00] LAB-HANG the console was silent for 180 s after dom0's signs of life: Xen or dom0 stopped; stopping QEMU
LOG
python3 "$report" --plan "$dir/plan2" --results "$dir" --remaining-plan "$dir/rest" \
    single="$dir/serial1.log" > "$dir/out" 2>&1
rc=$?
t "remaining plan: exit 0 when something is left" '[ $rc -eq 0 ]'
t "remaining plan: the unfinished lines, whole, options in place" 'printf "option xenmig_migrate=1\ncheck-xl-ext\noption link_cap=16000000\nguest pv 512 idle create hold-10\n" | cmp -s - "$dir/rest"'
cat > "$dir/serial2.log" <<'LOG'
[   10.29] LAB-RESULT name=dom0-xl-ext-runs status=pass retries=0 tool=xl-ext reason=
[   30.00] LAB-RESULT name=pv-512-idle-create status=pass retries=0 total_s=21.0 downtime_ms=none reason=
[   41.00] LAB-RESULT name=pv-512-idle-hold-10 status=pass retries=0 total_s=10.0 downtime_ms=40.0 reason=
LOG
python3 "$report" --plan "$dir/plan2" --results "$dir" --remaining-plan "$dir/rest2" \
    single="$dir/serial1.log" single-2="$dir/serial2.log" > "$dir/out" 2>&1
rc=$?
t "remaining plan: exit 1 once every scenario reported" '[ $rc -eq 1 ] && [ ! -e "$dir/rest2" ]'
python3 "$report" --plan "$dir/plan2" --results "$dir" single="$dir/serial1.log" \
    single-2="$dir/serial2.log" > "$dir/tap" 2> "$dir/err"
rc=$?
t "after the second boot every scenario passed" '[ $rc -eq 0 ] && [ "$(grep -c "^ok" "$dir/tap")" -eq 5 ]'
t "the TAP output names the hang" 'grep -q "^# single: LAB-HANG the console was silent for 180 s" "$dir/tap"'
t "the later boot's result replaces the earlier one" 'grep -q "^ok 4 - pv-512-idle-create (total 21.00 s, retries 0)$" "$dir/tap"'
# each xl-ext migration is set against the stock ones of its guest
cat > "$dir/plan3" <<'PLAN'
option xenmig_migrate=1
guest pvh 128 idle create migrate-pipe migrate-tcp xenmig-s2-loose
PLAN
cat > "$dir/serial3.log" <<'LOG'
[   20.00] LAB-RESULT name=pvh-128-idle-create status=pass retries=0 tool=xl total_s=18.5 downtime_ms=none reason=
[   30.00] LAB-RESULT name=pvh-128-idle-migrate-pipe status=pass retries=0 tool=xl total_s=10.0 downtime_ms=800.0 reason=
[   40.00] LAB-RESULT name=pvh-128-idle-migrate-tcp status=pass retries=0 tool=xl total_s=20.0 downtime_ms=1000.0 reason=
[   50.00] LAB-RESULT name=pvh-128-idle-xenmig-s2-loose status=pass retries=0 tool=xl-ext total_s=5.0 downtime_ms=600.0 reason=
LOG
python3 "$report" --plan "$dir/plan3" --results "$dir" single="$dir/serial3.log" > "$dir/tap" 2> "$dir/err"
t "an xl-ext migration's ratios to stock pipe and TCP of the same guest" 'grep -q "^ok 4 - pvh-128-idle-xenmig-s2-loose (total 5.00 s, downtime 600.0 ms, retries 0, x stock pipe: total 0.50, downtime 0.75; x stock tcp: total 0.25, downtime 0.60)$" "$dir/tap"'
t "a stock migration carries no ratio" 'grep -q "^ok 2 - pvh-128-idle-migrate-pipe (total 10.00 s, downtime 800.0 ms, retries 0)$" "$dir/tap"'

# Xen's own test (plan line xen-test NAME): one scenario, xen-test-NAME
printf 'xen-test ranged-logdirty\nxen-test resource\n' > "$dir/plan4"
cat > "$dir/serial4.log" <<'LOG'
[   20.00] LAB-RESULT name=xen-test-ranged-logdirty status=pass retries=0 tool=xen-test total_s=0.5 reason=
LOG
python3 "$report" --plan "$dir/plan4" --results "$dir" single="$dir/serial4.log" > "$dir/tap" 2> "$dir/err"
t "xen-test lines: one scenario each, the one that never reported fails" \
    'grep -q "^ok 1 - xen-test-ranged-logdirty" "$dir/tap" && grep -q "^not ok 2 - xen-test-resource" "$dir/tap"'
echo "1..$n"
exit $fail

#!/bin/sh
# The two-host lab's result combiner (tests/lab/two-host-combine.py) on
# recorded consoles of hosts a and b: a scenario passes only when both
# hosts' halves passed with matching boot ids on CPUs that differ, and the
# report (tests/lab/report.py) then counts exactly the planned scenarios,
# even when the evidence quotes the hosts' own LAB- lines.
lab=${XENMIG_SRCDIR:-..}/tests/lab
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0 fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }

cat > "$dir/scenarios" <<'EOF'
two-host-pv-128-idle-migrate a pv 128 xl moves
two-host-pvh-128-idle-xenmig-preflight-refused b pvh 128 xenmig-s2 refused
two-host-pvh-128-idle-xenmig-s2 a pvh 128 xenmig-s2 moves
EOF
printf 'peer two-host-pv-128-idle-migrate\npeer two-host-pvh-128-idle-xenmig-preflight-refused\npeer two-host-pvh-128-idle-xenmig-s2\n' > "$dir/plan"
cat > "$dir/a.log" <<'EOF'
[   39.49] LAB-CPUID Host: 178bf3fd:80002001:2193fbfd
[  236.47] LAB-RESULT name=two-host-pv-128-idle-migrate-send status=pass retries=0 tool=xl type=pv mem=128 expect=moves boot_before=1e6301c4 boot_after=moved total_s=158.385 reason=
[  283.17] LAB-RESULT name=two-host-pvh-128-idle-xenmig-preflight-refused-receive status=pass retries=0 tool=xl-ext type=pvh mem=128 expect=refused receiver_rc=4 boot_after=none downtime_ms=none reason=
[  403.51] LAB-RESULT name=two-host-pvh-128-idle-xenmig-s2-send status=pass retries=1 tool=xl-ext type=pvh mem=128 expect=moves boot_before=63d77fdd boot_after=moved total_s=64.784 xenmig_downtime=595.5ms xenmig_bytes=68623792 reason=
EOF
cat > "$dir/b.log" <<'EOF'
[   38.87] LAB-CPUID Host: 178bf3fd:80982201:2193fbfd
[  238.96] LAB-RESULT name=two-host-pv-128-idle-migrate-receive status=pass retries=0 tool=xl type=pv mem=128 expect=moves receiver_rc=0 boot_after=1e6301c4 downtime_ms=3914.5 reason=
[  290.68] LAB-RESULT name=two-host-pvh-128-idle-xenmig-preflight-refused-send status=pass retries=0 tool=xl-ext type=pvh mem=128 expect=refused boot_before=436d326e boot_after=436d326e total_s=5.353 xenmig_pages=0 missing=ssse3,sse4-1,sse4-2,popcnt downtime_ms=33.0 reason=
[  395.37] LAB-RESULT name=two-host-pvh-128-idle-xenmig-s2-receive status=pass retries=0 tool=xl-ext type=pvh mem=128 expect=moves receiver_rc=0 boot_after=63d77fdd downtime_ms=951.1 reason=
EOF
combine() {  # A_LOG B_LOG OUT: combined log, then report.py's TAP of it
    python3 "$lab/two-host-combine.py" "$1" "$2" "$dir/scenarios" > "$3.log" &&
        python3 "$lab/report.py" --plan "$dir/plan" --results "$dir" two-host="$3.log" > "$3.tap" 2>&1
}

combine "$dir/a.log" "$dir/b.log" "$dir/good"
rc=$?
t "all halves passed: exit 0, three passes" '[ $rc -eq 0 ] && [ "$(grep -c "^ok " "$dir/good.tap")" = 3 ]'
t "the refusal carries the missing features and its boot id" \
  'grep -q "name=two-host-pvh-128-idle-xenmig-preflight-refused status=pass .*direction=b-to-a expect=refused boot_before=436d326e boot_after=436d326e .*missing=ssse3,sse4-1,sse4-2,popcnt " "$dir/good.log"'
t "a move reports the receiver's downtime and the sender's retries" \
  'grep -q "^ok 3 - two-host-pvh-128-idle-xenmig-s2 (total 64.78 s, downtime 951.1 ms, retries 1)" "$dir/good.tap"'

# the refused guest came back with another boot id (it rebooted on b)
sed 's/boot_before=436d326e boot_after=436d326e/boot_before=436d326e boot_after=99999999/' "$dir/b.log" > "$dir/b-reboot.log"
combine "$dir/a.log" "$dir/b-reboot.log" "$dir/reboot"
rc=$?
t "a refused guest that rebooted fails" '[ $rc -ne 0 ] && grep -q "^not ok 2 - .*boot id changed on b: 436d326e before, 99999999 after" "$dir/reboot.tap"'

# b never reported taking the guest in; a's half passed
grep -v 'xenmig-s2-receive' "$dir/b.log" > "$dir/b-silent.log"
combine "$dir/a.log" "$dir/b-silent.log" "$dir/silent"
t "a missing half fails" 'grep -q "^not ok 3 - two-host-pvh-128-idle-xenmig-s2: host b reported no receive result" "$dir/silent.tap"'

# the receiver runs another boot than the sender had
sed 's/boot_after=63d77fdd/boot_after=0badb007/' "$dir/b.log" > "$dir/b-other.log"
combine "$dir/a.log" "$dir/b-other.log" "$dir/other"
t "a move to another boot id fails" 'grep -q "^not ok 3 - .*boot id changed: 63d77fdd on a, 0badb007 on b" "$dir/other.tap"'

# a host half failed: its reason is quoted; its evidence, which quotes
# LAB- lines of the host, must not add or end results in the report
cat > "$dir/a-failed.log" <<'EOF'
[   39.49] LAB-CPUID Host: 178bf3fd:80002001:2193fbfd
[  236.47] LAB-RESULT name=two-host-pv-128-idle-migrate-send status=pass retries=0 tool=xl type=pv mem=128 expect=moves boot_before=1e6301c4 boot_after=moved total_s=158.385 reason=
[  280.00] LAB-LOG-BEGIN two-host-pvh-128-idle-xenmig-preflight-refused-receive
[  280.01] --- command output marker-from-a-evidence
[  280.02] LAB-RESULT name=quoted-from-a-console status=pass reason=
[  280.03] LAB-LOG-END two-host-pvh-128-idle-xenmig-preflight-refused-receive
[  283.17] LAB-RESULT name=two-host-pvh-128-idle-xenmig-preflight-refused-receive status=fail retries=0 tool=xl-ext type=pvh mem=128 expect=refused receiver_rc=0 boot_after=none reason=expected this host's CPUID pre-flight to refuse the guest (exit 4), got rc=0
[  403.51] LAB-RESULT name=two-host-pvh-128-idle-xenmig-s2-send status=pass retries=1 tool=xl-ext type=pvh mem=128 expect=moves boot_before=63d77fdd boot_after=moved total_s=64.784 reason=
EOF
combine "$dir/a-failed.log" "$dir/b.log" "$dir/failed"
rc=$?
t "a failed half fails the scenario with its reason" \
  '[ $rc -ne 0 ] && grep -q "^not ok 2 - .*host a: expected this host.s CPUID pre-flight to refuse the guest (exit 4), got rc=0" "$dir/failed.tap"'
t "the failure carries the host's evidence" 'grep -q "marker-from-a-evidence" "$dir/failed.tap"'
t "quoted host lines add no results" 'grep -qx "1\.\.3" "$dir/failed.tap" && ! grep -q "^\(not \)\{0,1\}ok [0-9]* - quoted-from-a-console" "$dir/failed.tap"'

# both hosts got the same CPU model: nothing proves the pre-flight
sed 's/^\(.*LAB-CPUID Host: \).*/\1178bf3fd:80002001:2193fbfd/' "$dir/b.log" > "$dir/b-same.log"
combine "$dir/a.log" "$dir/b-same.log" "$dir/same"
t "equal CPUs fail every scenario" '[ "$(grep -c "^not ok .*featuresets are equal" "$dir/same.tap")" = 3 ]'

# a malformed scenario line is a failure, not a crash or a pass
printf 'two-host-broken c pvh 128\n' >> "$dir/scenarios"
python3 "$lab/two-host-combine.py" "$dir/a.log" "$dir/b.log" "$dir/scenarios" > "$dir/broken.log"
rc=$?
t "a malformed scenario line fails" '[ $rc -eq 0 ] && grep -q "name=two-host-broken status=fail .*expected NAME SENDER_HOST" "$dir/broken.log"'
echo "1..$n"
exit $fail

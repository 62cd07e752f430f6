#!/bin/sh
# test-count.sh: scripts/test's last line (scripts/count-tests) counts
# everything that ran, from the logs of recorded runs: make check's
# test-suite.log, the fuzz, valgrind and lab stages' summary lines; a
# stage that failed before its summary, or a build that failed, is one
# failure; a lab that could not be had is one skip.
src=${XENMIG_SRCDIR:-$(dirname "$0")/../..}
count=$src/scripts/count-tests
n=0; fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
t() { n=$((n+1)); if [ "$2" = "$3" ]; then echo "ok $n - $1"; else echo "not ok $n - $1"
      echo "#   got:  $2"; echo "#   want: $3"; fail=1; fi; }
echo "1..9"
cat > "$tmp/suite.log" <<'LOG'
========================================
   xenmig 0.1.0: tests/test-suite.log
========================================

# TOTAL: 612
# PASS:  600
# SKIP:  9
# XFAIL: 1
# FAIL:  1
# XPASS: 0
# ERROR: 1

.. contents:: :depth: 2

FAIL: unit/test_x 3 - a test whose own output looks like a summary:
# PASS:  5
# FAIL:  0
LOG
cat > "$tmp/fuzz.log" <<'LOG'
fuzz: control: 123456 executions in 20s: ok
fuzz: stream: 99 executions in 20s: FAILED
==1== ERROR: AddressSanitizer: heap-buffer-overflow
fuzz: 9 targets: 8 ok, 1 failed
stage: fuzz: 190 s, FAILED (exit 1)
LOG
cat > "$tmp/valgrind.log" <<'LOG'
valgrind: ok   tests/unit/test_error
valgrind: skip tests/unit/test_sim: valgrind does not implement userfaultfd
valgrind: 38 of 40 unit test programs clean, 1 skipped, 1 failed
stage: valgrind: 600 s, FAILED (exit 1)
LOG
cat > "$tmp/lab.log" <<'LOG'
1..13
ok 1 - dom0-xl-ext-runs (retries 0)
not ok 2 - pv-128-idle-migrate-tcp: broken pipe
ok 3 - pv-128-idle-xenmig-migrate-pipe # SKIP hook off
# lab: 13 scenarios: 11 passed, 1 failed, 1 skipped
lab: install 3s, xen 1s, deb 0s, artefacts 20s, qemu 300s, total 330s; results in build-test/lab-results
LOG
printf 'fuzz: a: 5 executions in 20s: ok\n' > "$tmp/fuzz-died.log"
printf 'lab: QEMU is missing\ncheck-lab: SKIP: QEMU or Xen cannot be had here (see above)\n' > "$tmp/lab-skip.log"
printf 'fuzz: 9 targets: 9 ok, 0 failed\n' > "$tmp/fuzz-ok.log"
printf 'valgrind: 39 of 40 unit test programs clean, 1 skipped, 0 failed\n' > "$tmp/vg-ok.log"
printf '# lab: 13 scenarios: 13 passed, 0 failed, 0 skipped\n' > "$tmp/lab-ok.log"

t "make check alone: XFAIL passes, FAIL and ERROR fail" \
  "$("$count" --make-check "$tmp/suite.log")" \
  "tests: 601 passed, 2 failed, 9 skipped (make check 612)"
t "every kind adds up, each named with how many ran" \
  "$("$count" --make-check "$tmp/suite.log" --fuzz "$tmp/fuzz.log" --valgrind "$tmp/valgrind.log" \
      --lab "$tmp/lab.log" --failed make-check --failed fuzz --failed valgrind --failed lab)" \
  "tests: 658 passed, 5 failed, 11 skipped (make check 612, fuzz 9, valgrind 40, lab 13)"
t "a run that passed" \
  "$("$count" --fuzz "$tmp/fuzz-ok.log" --valgrind "$tmp/vg-ok.log" --lab "$tmp/lab-ok.log")" \
  "tests: 61 passed, 0 failed, 1 skipped (fuzz 9, valgrind 40, lab 13)"
t "a fuzz stage that failed before its summary is one failure" \
  "$("$count" --fuzz "$tmp/fuzz-died.log" --failed fuzz)" \
  "tests: 0 passed, 1 failed, 0 skipped (fuzz 0)"
t "a stage whose log is missing and that failed is one failure" \
  "$("$count" --valgrind "$tmp/nowhere.log" --failed valgrind)" \
  "tests: 0 passed, 1 failed, 0 skipped (valgrind 0)"
t "a build that failed is one failure" \
  "$("$count" --make-check "$tmp/nowhere.log" --failed build)" \
  "tests: 0 passed, 1 failed, 0 skipped (make check 0, build 1)"
t "a lab that could not be had is one skip" \
  "$("$count" --lab "$tmp/lab-skip.log")" \
  "tests: 0 passed, 0 failed, 1 skipped (lab 1)"
# the summary lines counted are the ones the stages print
t "scripts/fuzz prints the fuzz summary line" \
  "$(grep -c '^echo "fuzz: $ran targets: $((ran - failed)) ok, $failed failed"$' "$src/scripts/fuzz")" 1
t "scripts/valgrind-check prints the valgrind summary line" \
  "$(grep -c '^echo "valgrind: $((n - fail - skipped)) of $n unit test programs clean, $skipped skipped, $fail failed"' "$src/scripts/valgrind-check")" 1
exit $fail

# the first run of a new user (issue 26, "First run"): the live progress
# line on a terminal and not off it, scripts/test's count line,
# scripts/demo's quiet set-up
TESTS += cli/progress-line.sh
EXTRA_DIST += cli/progress-line.sh
TESTS += cli/test-count.sh
EXTRA_DIST += cli/test-count.sh
TESTS += cli/demo-quiet.sh
EXTRA_DIST += cli/demo-quiet.sh

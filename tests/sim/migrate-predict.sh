#!/bin/sh
# migrate-predict.sh: `xl-ext migrate --sim --dry-run` and `--predict`
# end to end (source and destination in separate processes): the dry run's
# "prediction" event and lines, its exit codes (0 within the target, 8
# predicted to miss it), that it leaves the guest running and the receiver
# keeping nothing; and a real migration with --predict that carries the
# prediction into its summary, the memory arriving whole; a save with
# --predict names its predicted/actual line save.
. "${XENMIG_SRCDIR:-../..}/tests/sim/sim-lib.sh"

sim_guest_or_skip

echo "1..11"
migrate() { "$XL_EXT" migrate --sim "$@" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"; }
rc() { cat "$t/rc"; }
# (with --json the summary line is on stderr: stdout has JSON events only)
src_hash() { cat "$t/out" "$t/err" | sed -n 's/^xl-ext migrate: .*memory_hash=\([0-9a-f]*\).*/\1/p'; }
dst_hash() { sed -n 's/.*memory digest \([0-9a-f]*\)$/\1/p' "$t/err"; }
GUEST="--sim-memory 32M --sim-fill realistic --sim-pattern hot --sim-working-set 4M --sim-rate 5000 --sim-vcpus 1"

# shellcheck disable=SC2086
migrate $GUEST --max-downtime 5000 --dry-run --json localhost
check "--dry-run within the target: exit 0" '[ "$(rc)" = 0 ]'
check "--dry-run --json: a prediction event with its figures and the probe's" 'python3 -c "
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith(\"{\")]
p = [e for e in events if e[\"event\"] == \"prediction\"]
assert len(p) == 1, p
p = p[0]
for key in (\"total_s\", \"downtime_ms\", \"bytes\", \"rounds\", \"rungs\", \"ladder\",
            \"min_throttle_percent\", \"max_streams\", \"forced\", \"gave_up\",
            \"meets_target\", \"reason\", \"probe\"):
    assert key in p, key
assert p[\"meets_target\"] and not p[\"forced\"] and not p[\"gave_up\"], p
assert p[\"rounds\"] >= 1 and p[\"bytes\"] > 0 and p[\"total_s\"] > 0, p
assert p[\"downtime_ms\"] <= 5000, p
probe = p[\"probe\"]
assert probe[\"link_mb_per_s\"] > 0 and probe[\"streams\"] == 2, probe
assert probe[\"dirty_pages_per_s\"] > 0 and probe[\"dirty_window_s\"] >= 1, probe
assert 0 <= probe[\"zero_share\"] <= 1 and probe[\"compress_ratio\"] >= 1, probe
# nothing but the probe ran: no round, no switchover
assert not [e for e in events if e[\"event\"] in (\"precopy\", \"switchover\", \"done\")], events
s = [e for e in events if e[\"event\"] == \"summary\"][0]
assert s[\"result\"] == \"dry-run\" and s[\"rounds\"] == 0 and s[\"downtime_ms\"] == 0, s
assert s[\"prediction\"][\"total_s\"] == p[\"total_s\"], s
" "$t/out"'
check "--dry-run: the receiver kept nothing and said so" \
    'grep -q "migrate-receive: dry run: nothing kept" "$t/err" && ! grep -q "guest resumed here" "$t/err"'
check "--dry-run: the guest kept writing at the source" \
    'grep -q "^xl-ext migrate: guest writes/s before=[1-9][0-9]* during=[1-9]" "$t/err"'

# a hot set written at 20 MB/s behind a 4 MB/s link, no ladder: a miss
# (the 1 ms target alone is not one: the policy aims above the
# switchover's fixed cost, 22 ms, which an unlinked guest meets)
# shellcheck disable=SC2086
migrate $GUEST --max-downtime 1 --bandwidth 4M --ladder off --dry-run localhost
check "--dry-run predicted to miss the target: exit 8" '[ "$(rc)" = 8 ]'
check "--dry-run: probe and prediction lines" \
    'grep -q "^probe: link [0-9.]* MB/s over 2 stream(s), dirty [0-9]* pages/s" "$t/out" &&
     grep -q "^prediction: total [0-9.]* s, downtime [0-9]* ms, [0-9]* MiB on the wire, [0-9]* round(s), rungs: none: forced above target" "$t/out" &&
     grep -q "^xl-ext migrate: result=dry-run " "$t/out"'

# shellcheck disable=SC2086
migrate $GUEST --max-downtime 2000 --predict --json localhost
check "--predict: the migration goes through, memory whole" \
    '[ "$(rc)" = 0 ] && [ -n "$(src_hash)" ] && [ "$(src_hash)" = "$(dst_hash)" ]'
check "--predict --json: the prediction before round 0, and in the summary" 'python3 -c "
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith(\"{\")]
names = [e[\"event\"] for e in events]
assert names.count(\"prediction\") == 1, names
assert names.index(\"prediction\") < names.index(\"precopy\"), names
s = [e for e in events if e[\"event\"] == \"summary\"][0]
assert s[\"result\"] == \"ok\", s
pr = s[\"prediction\"]
for key in (\"total_s\", \"downtime_ms\", \"bytes\", \"rounds\", \"ladder\", \"forced\"):
    assert key in pr, key
assert pr[\"bytes\"] > 0 and pr[\"rounds\"] >= 1, pr
" "$t/out"'

# shellcheck disable=SC2086
migrate $GUEST --max-downtime 2000 --predict localhost
check "--predict: a predicted/actual line after the summary" \
    'grep -q "^xl-ext migrate: predicted/actual: total=[0-9.]*/[0-9.]*s downtime=[0-9.]*/[0-9.]*ms bytes=[0-9]*/[0-9]* rounds=[0-9]*/[0-9]* ladder=[a-z:,0-9]*/[a-z:,0-9]* forced=[a-z]*/[a-z]*$" "$t/out"'

# shellcheck disable=SC2086
"$XL_EXT" save --sim $GUEST --max-downtime 2000 --predict "$t/guest.save" >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
check "save --predict: exit 0, its predicted/actual line named save" \
    '[ "$(rc)" = 0 ] && grep -q "^xl-ext save: predicted/actual: total=[0-9.]*/[0-9.]*s downtime=" "$t/out" &&
     ! grep -q "^xl-ext migrate:" "$t/out" "$t/err"'

"$XL_EXT" migrate --dry-run --engine xl dom1 localhost >"$t/out" 2>"$t/err"; echo $? >"$t/rc"
check "--dry-run is xenmig's: refused with --engine xl, naming it" \
    '[ "$(rc)" = 2 ] && grep -q "'"'"'--dry-run'"'"' is a xenmig option" "$t/err"'
exit $fail

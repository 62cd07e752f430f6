#!/bin/sh
# switchover-costs.sh: `xl-ext migrate --sim` learns the switchover's fixed
# costs into XENMIG_STATE_DIR/switchover-costs.json after each successful
# migration (and only then), and the next migration's prediction uses them:
# the summary line and the JSON summary event say what was predicted, from
# what, against the downtime the guest saw.  A store that cannot be
# written is warned about and the migration still succeeds.
. "${XENMIG_SRCDIR:-../..}/tests/sim/sim-lib.sh"
sim_guest_or_skip

XENMIG_STATE_DIR=$t/state
export XENMIG_STATE_DIR
store=$t/state/switchover-costs.json

if ! "$XL_EXT" migrate --sim --sim-memory 4M --sim-pattern idle --no-verify localhost \
        >"$t/out" 2>"$t/err"; then
    if grep -q "userfaultfd\|not supported\|EUNSUPP" "$t/err"; then
        echo "no userfaultfd write-protection here: $(head -n 1 "$t/err")" >&2
        exit 77
    fi
fi
rm -rf "$t/state"

echo "1..15"
migrate() { "$XL_EXT" migrate --sim --sim-memory 16M "$@" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"; }
rc() { cat "$t/rc"; }
# the store's count for sim, or "none"
count() { python3 -c "
import json, sys
try:
    print(json.load(open(sys.argv[1]))['costs']['sim']['count'])
except (OSError, KeyError):
    print('none')
" "$store"; }

migrate --sim-pattern idle localhost
check "first migration: exit 0" '[ "$(rc)" = 0 ]'
check "first migration: predicted from the default fixed cost" \
    'grep -q "^xl-ext migrate: predicted downtime [0-9]* ms (pages [0-9-]* + fixed 20 ms, the default), actual [0-9.]* ms, actual/predicted [0-9.]*$" "$t/out"'
check "first migration: the store has count 1" '[ "$(count)" = 1 ]'

migrate --sim-pattern idle --json localhost
check "second migration: exit 0" '[ "$(rc)" = 0 ]'
check "second migration: learned from 1 migration" \
    'grep -q "^xl-ext migrate: predicted downtime .*, learned from 1 migration), actual" "$t/err"'
check "second migration: the store has count 2" '[ "$(count)" = 2 ]'
check "second migration: the JSON summary has the prediction, its parts and the ratio" 'python3 -c "
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith(\"{\")]
s = [e for e in events if e[\"event\"] == \"summary\"][0]
assert s[\"fixed_cost_from\"] == \"learned\" and s[\"fixed_cost_learned_from\"] == 1, s
p = s[\"predicted_parts_ms\"]
assert abs(p[\"pages\"] + p[\"fixed\"] - s[\"predicted_downtime_ms\"]) < 1e-6, s
# the ratio to 3 decimals, of figures to the microsecond
assert abs(s[\"downtime_ratio\"] - s[\"downtime_ms\"] / s[\"predicted_downtime_ms\"]) < 1.5e-3, s
" "$t/out"'
check "second migration: each round event's expected downtime holds the fixed part" 'python3 -c "
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith(\"{\")]
fixed = [e for e in events if e[\"event\"] == \"summary\"][0][\"predicted_parts_ms\"][\"fixed\"]
rounds = [e for e in events if e[\"event\"] == \"precopy\"]
assert rounds and all(e[\"expected_downtime_ms\"] >= fixed for e in rounds), (fixed, rounds)
" "$t/out"'

cp "$store" "$t/before"
migrate --sim-rate 1000 --inject-fault corrupt-page localhost
check "a failed migration: exit 1" '[ "$(rc)" = 1 ]'
check "a failed migration: the store is as it was" 'cmp -s "$store" "$t/before"'
migrate --sim-rate 1000 --dry-run localhost
check "a dry run: exit 0, the store is as it was (it switched nothing over)" \
    '[ "$(rc)" = 0 ] && cmp -s "$store" "$t/before"'
check "no temporary file beside the store" '[ "$(ls -A "$t/state")" = switchover-costs.json ]'

# A store that has seen more migrations than it keeps samples of (8) says
# the median is of the last 8, not of them all.
python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
sim = d['costs']['sim']
for k, v in sim.items():
    if isinstance(v, list):
        sim[k] = (v * 8)[:8]
sim['count'] = 20
json.dump(d, open(sys.argv[1], 'w'))
" "$store"
migrate --sim-pattern idle localhost
check "a store of 20 migrations: learned from the last 8 of 20" \
    'grep -q "^xl-ext migrate: predicted downtime .*, learned from the last 8 of 20 migrations), actual" "$t/out"'

# A state directory that cannot be made (under a file): warned, not fatal.
: >"$t/file"
XENMIG_STATE_DIR=$t/file/state migrate --sim-pattern idle localhost
check "an unwritable store: the migration succeeds" '[ "$(rc)" = 0 ]'
check "an unwritable store: one warning naming the path and the error" \
    '[ "$(grep -c "cannot keep the switchover costs: .*$t/file/state.*Not a directory" "$t/err")" = 1 ]'
exit $fail

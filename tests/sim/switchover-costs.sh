#!/bin/sh
# switchover-costs.sh: `xl-ext migrate --sim` learns the switchover's fixed
# costs into XENMIG_STATE_DIR/switchover-costs.json after each successful
# migration (and only then), and the next migration's prediction uses them:
# the summary line and the JSON summary event say what was predicted, from
# what, against the downtime the guest saw.  With no history the fixed
# cost comes from a probe of this host (switchover_probe.c), not the 20 ms
# default; `--dry-run` on an empty store seeds it with the probe's figures,
# and the next real migration replaces the seed with what it measured.  A
# bad XENMIG_PROBE_REFERENCE_US is refused before anything runs.  A store
# that cannot be written is warned about and the migration still succeeds.
# No check reads a time beyond "positive and finite".
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

echo "1..31"
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

# the store's sim entry (or KEY's) as "COUNT SAMPLES", or "none"
entry() { python3 -c "
import json, sys
try:
    sim = json.load(open(sys.argv[1]))['costs'][sys.argv[2]]
    print(sim['count'], len(sim['pause_ms']))
except (OSError, KeyError):
    print('none')
" "${1:-$store}" "${2:-sim}"; }

migrate --sim-pattern idle localhost
check "first migration: exit 0" '[ "$(rc)" = 0 ]'
check "first migration: predicted from a probe, not the default" \
    'grep -q "^xl-ext migrate: predicted downtime [0-9]* ms (pages [0-9-]* + fixed [0-9]* ms, from a probe), actual [0-9.]* ms, actual/predicted [0-9.]*$" "$t/out"'
check "first migration: the probe's line: its median, reference, scale and parts" \
    'grep -Eq "^xl-ext migrate: switchover probe: median [0-9]+ us of [1-5] runs, reference [0-9]+ us, scale [0-9]+\.[0-9]{3}( \(clamped\))?: fixed [0-9.]+ ms \(pause [0-9.]+, state [0-9.]+, destination [0-9.]+, resume [0-9.]+\)$" "$t/out"'
check "first migration: the store has count 1 (what it measured, not the probe)" \
    '[ "$(entry)" = "1 1" ]'

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
check "second migration: no probe ran (the store had history)" \
    '! grep -q "switchover probe" "$t/err" && ! grep -q "switchover_probe" "$t/out"'
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

# A save learns under a key of its own, sim-save (its switchover ends in a
# file, not in a restore elsewhere): the first probes, the second uses what
# the first measured; the migrations' figures stay as they were.
save() { "$XL_EXT" save --sim --sim-memory 16M --sim-pattern idle "$@" "$t/guest.save" \
             >"$t/out" 2>"$t/err"; echo $? >"$t/rc"; }
sim_before=$(entry)
save
check "first save: exit 0, predicted from a probe of its own" \
    '[ "$(rc)" = 0 ] && grep -q "^xl-ext save: predicted downtime [0-9]* ms (pages [0-9-]* + fixed [0-9]* ms, from a probe), actual" "$t/out" && grep -q "^xl-ext save: switchover probe: median" "$t/out"'
check "first save: the store has sim-save count 1, sim as it was" \
    '[ "$(entry "$store" sim-save)" = "1 1" ] && [ "$(entry)" = "$sim_before" ]'
save
check "second save: learned from 1 save, no probe" \
    '[ "$(rc)" = 0 ] && grep -q "^xl-ext save: predicted downtime .*, learned from 1 save), actual" "$t/out" && ! grep -q "switchover probe" "$t/out"'
check "second save: sim-save count 2, sim as it was" \
    '[ "$(entry "$store" sim-save)" = "2 2" ] && [ "$(entry)" = "$sim_before" ]'

# The probe against an empty store: --dry-run seeds it, the next real
# migration takes the seed (no probe) and replaces it with what it measured.
XENMIG_STATE_DIR=$t/fresh
export XENMIG_STATE_DIR
fresh=$t/fresh/switchover-costs.json
migrate --sim-pattern idle --json localhost
check "empty store, --json: the summary's fixed cost came from a probe, its figures recorded" 'python3 -c "
import json, math, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith(\"{\")]
s = [e for e in events if e[\"event\"] == \"summary\"][0]
assert s[\"fixed_cost_from\"] == \"probe\" and s[\"fixed_cost_learned_from\"] == 0, s
p = s[\"switchover_probe\"]
assert p[\"probe_us\"] > 0 and p[\"reference_us\"] > 0 and 1 <= p[\"runs\"] <= 5, p
assert math.isfinite(p[\"scale\"]) and 0.05 <= p[\"scale\"] <= 20, p
assert all(math.isfinite(v) and v >= 0 for v in p[\"parts_ms\"].values()), p
assert abs(s[\"predicted_parts_ms\"][\"fixed\"] - round(p[\"fixed_ms\"])) < 1e-6, (s, p)
" "$t/out"'
rm -rf "$t/fresh"
migrate --sim-rate 1000 --dry-run --json localhost
check "empty store, --dry-run: exit 0, its summary records the probe" \
    '[ "$(rc)" = 0 ] && grep "\"event\":\"summary\"" "$t/out" | grep -q "\"switchover_probe\":{\"probe_us\":[1-9]"'
check "empty store, --dry-run: the store has a seed (count 0, one sample)" \
    '[ "$(entry "$fresh")" = "0 1" ]'
cp "$fresh" "$t/seeded"
migrate --sim-rate 1000 --dry-run localhost
check "a second --dry-run: the seed is used as it is, no probe runs" \
    'cmp -s "$fresh" "$t/seeded" && ! grep -q "switchover probe" "$t/out"'
migrate --sim-pattern idle localhost
check "after the seed: the first migration says its fixed cost came from a probe" \
    'grep -q "^xl-ext migrate: predicted downtime [0-9]* ms (pages [0-9-]* + fixed [0-9]* ms, from a probe), actual" "$t/out"'
check "after the seed: no probe ran (the seed stood for it)" '! grep -q "switchover probe" "$t/out"'
check "after the seed: the migration replaced it (count 1, one sample)" \
    '[ "$(rc)" = 0 ] && [ "$(entry "$fresh")" = "1 1" ]'
migrate --sim-pattern idle localhost
check "and the next one learned from 1 migration" \
    'grep -q "^xl-ext migrate: predicted downtime .*, learned from 1 migration), actual" "$t/out"'

# A bad calibration is refused before anything runs, quoting it.
rm -rf "$t/fresh"
XENMIG_PROBE_REFERENCE_US=fast
export XENMIG_PROBE_REFERENCE_US
migrate --sim-pattern idle localhost
check "XENMIG_PROBE_REFERENCE_US=fast: exit 2, the error quotes it, nothing written" \
    '[ "$(rc)" = 2 ] && grep -q "XENMIG_PROBE_REFERENCE_US .fast.: give a positive number" "$t/err" && [ ! -e "$fresh" ]'
XENMIG_PROBE_REFERENCE_US=-3
migrate --sim-pattern idle --dry-run localhost
check "XENMIG_PROBE_REFERENCE_US=-3 with --dry-run: exit 2" '[ "$(rc)" = 2 ]'
unset XENMIG_PROBE_REFERENCE_US
XENMIG_STATE_DIR=$t/state
export XENMIG_STATE_DIR

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

#!/bin/sh
# migrate-sim.sh: end-to-end `xl-ext migrate --sim` runs, source and
# destination in separate processes over real pipes and loopback streams.
# Each success asserts that the destination verified its memory against the
# source's at pause (the two hashes printed are equal); each fault asserts a
# clear error, the exit code, and that the guest kept running at the source.
. "${XENMIG_SRCDIR:-../..}/tests/sim/sim-lib.sh"

sim_guest_or_skip

echo "1..33"
migrate() { "$XL_EXT" migrate --sim "$@" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"; }
rc() { cat "$t/rc"; }
# (with --json the summary line is on stderr: stdout has JSON events only)
src_hash() { cat "$t/out" "$t/err" | sed -n 's/^xl-ext migrate: .*memory_hash=\([0-9a-f]*\).*/\1/p'; }
dst_hash() { sed -n 's/.*memory digest \([0-9a-f]*\)$/\1/p' "$t/err"; }

for mode in loose stop; do
    for streams in 1 3; do
        what="$mode tracing, $streams stream(s)"
        migrate --sim-memory 32M --sim-pattern hot --sim-working-set 4M --sim-rate 20000 \
            --tracing "$mode" --streams "$streams" --max-downtime 2000 localhost
        check "$what: exit 0" '[ "$(rc)" = 0 ]'
        check "$what: result=ok, verified" 'grep -q "^xl-ext migrate: result=ok .*streams=$streams tracing=$mode .*verified=yes" "$t/out"'
        check "$what: destination memory equals source memory at pause" \
            '[ -n "$(src_hash)" ] && [ "$(src_hash)" = "$(dst_hash)" ]'
        check "$what: more than one round" 'grep -q "rounds=[1-9]" "$t/out"'
    done
done

migrate --sim-memory 32M --sim-pattern idle --json localhost
check "--json: every stdout line is a JSON event, the text lines are on stderr" \
    'python3 -c "import sys,json; assert [json.loads(l)[\"event\"] for l in sys.stdin]" <"$t/out" &&
     grep -q "^xl-ext migrate: result=ok " "$t/err"'
check "--json: a summary event with result ok" 'grep -q "\"event\": *\"summary\".*\"result\": *\"ok\"" "$t/out"'
check "--json: the summary's downtime_parts_ms are the text line's parts" 'python3 -c "
import json, sys
lines = open(sys.argv[1]).read().splitlines()
summary = [json.loads(l) for l in lines if json.loads(l)[\"event\"] == \"summary\"]
text = [l for l in open(sys.argv[2]) if l.startswith(\"xl-ext migrate: downtime parts (ms): \")]
assert len(summary) == 1 and len(text) == 1, (summary, text)
parts = summary[0][\"downtime_parts_ms\"]
words = dict(w.split(\"=\") for w in text[0].split(\"(ms): \")[1].split())
assert sorted(parts) == sorted(words), (parts, words)
for key, value in words.items():    # the event to the µs, the line to 0.1 ms
    assert abs(parts[key] - float(value)) <= 0.05 + 1e-9, (key, parts[key], value)
" "$t/out" "$t/err"'

migrate --sim-memory 32M --sim-pattern idle --policy xen-default localhost
check "--policy xen-default: converges on an idle guest" '[ "$(rc)" = 0 ] && [ "$(src_hash)" = "$(dst_hash)" ]'

migrate --sim-memory 32M --sim-fill realistic --sim-pattern hot --sim-working-set 4M \
    --sim-rate 20000 localhost
check "--sim-fill realistic: the non-zero memory arrives as it was" \
    '[ "$(rc)" = 0 ] && [ -n "$(src_hash)" ] && [ "$(src_hash)" = "$(dst_hash)" ]'

# The convergence ladder: a hot guest of incompressible memory behind
# 20 MB/s rewrites its whole 16 MiB working set every round, so the policy
# throttles it before it forces; the step is a "ladder" event and the
# summary names the rung, and the memory still arrives whole.
migrate --sim-memory 32M --sim-fill random --sim-pattern hot --sim-working-set 16M \
    --sim-rate 20000 --sim-vcpus 1 --bandwidth 20M --ladder throttle --json localhost
check "--ladder throttle: a ladder event per step, the summary names the rung" 'python3 -c "
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith(\"{\")]
steps = [e for e in events if e[\"event\"] == \"ladder\"]
summary = [e for e in events if e[\"event\"] == \"summary\"][0]
assert steps and steps[0][\"rung\"] == \"throttle\", steps
assert steps[0][\"throttle_percent\"] == 50 and steps[0][\"from_round\"] >= 1, steps[0]
assert all(s[\"why\"] for s in steps), steps
assert summary[\"ladder\"].startswith(\"throttle:\"), summary[\"ladder\"]
" "$t/out"'
check "--ladder throttle: the memory arrives as it was" \
    '[ "$(rc)" = 0 ] && [ -n "$(src_hash)" ] && [ "$(src_hash)" = "$(dst_hash)" ]'

# The data streams' cipher: named, it runs on both ends and the summaries
# (JSON and text) say which; by default one of the two ran; plain: none.
migrate --sim-memory 16M --sim-pattern idle --cipher chacha20-poly1305 --json localhost
check "--cipher chacha20-poly1305: migrated, the memory arrives as it was" \
    '[ "$(rc)" = 0 ] && [ -n "$(src_hash)" ] && [ "$(src_hash)" = "$(dst_hash)" ]'
check "--cipher chacha20-poly1305: the JSON summary says it ran, encrypted" 'python3 -c "
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith(\"{\")]
summary = [e for e in events if e[\"event\"] == \"summary\"][0]
assert summary[\"cipher\"] == \"chacha20-poly1305\" and summary[\"encrypted\"] is True, summary
" "$t/out" && grep -q "^xl-ext migrate: result=ok .*encrypted=yes cipher=chacha20-poly1305 " "$t/err"'
check "--cipher chacha20-poly1305: the destination ran it too" \
    'grep -q "^xl-ext migrate-receive: result=ok .*cipher=chacha20-poly1305 " "$t/err"'
migrate --sim-memory 16M --sim-pattern idle --no-encrypt localhost
check "--no-encrypt: no cipher" '[ "$(rc)" = 0 ] && grep -q "encrypted=no cipher=none " "$t/out"'
migrate --sim-memory 16M --cipher chacha20-poly1305 --no-encrypt localhost
check "--cipher with --no-encrypt: exit 2 quoting both" \
    '[ "$(rc)" = 2 ] && grep -q -- "--cipher chacha20-poly1305 and --no-encrypt" "$t/err"'
migrate --sim-memory 16M --cipher aes-128-cbc localhost
check "bad --cipher: exit 2 quoting the value and the choices" \
    '[ "$(rc)" = 2 ] && grep -q "aes-128-cbc.*auto, aes-256-gcm or chacha20-poly1305" "$t/err"'

# XENMIG_TRACE: both ends say where the time goes, per stream too; else silence
XENMIG_TRACE=1 "$XL_EXT" migrate --sim --sim-memory 16M --streams 2 localhost >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
check "XENMIG_TRACE=1: each stream's epochs traced at both ends" \
    '[ "$(rc)" = 0 ] && grep -q "^xenmig-trace source [0-9.]* stream 1: epoch 0: [0-9]* pages$" "$t/err" &&
     grep -q "^xenmig-trace destination [0-9.]* stream 0: epoch 0: ended ([0-9]* pages)$" "$t/err" &&
     grep -q "^xenmig-trace source [0-9.]* final epoch$" "$t/err"'
env -u XENMIG_TRACE "$XL_EXT" migrate --sim --sim-memory 16M --streams 2 localhost >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
check "without XENMIG_TRACE: no trace line" '[ "$(rc)" = 0 ] && ! grep -q "xenmig-trace" "$t/err"'

migrate --sim-memory 32M --tracing bogus localhost
check "bad --tracing: exit 2 quoting the value" '[ "$(rc)" = 2 ] && grep -q "bogus" "$t/err"'
migrate --sim-memory lots localhost
check "bad --sim-memory: exit 2 quoting the value" '[ "$(rc)" = 2 ] && grep -q "lots" "$t/err"'
exit $fail

#!/bin/sh
# json-events.sh: the machine output of `xl-ext migrate --json`, `save
# --json` and `migrate-receive --json`.  Real runs of a simulated guest:
# stdout carries JSON lines only, each valid against docs/events.schema.json
# (and a mutated event is not, so the schema can fail), numbers rounded as
# docs/formats.md "JSON events" says; the event names the code emits are
# the ones documented (formats.md, the schema, the man page), both ways;
# the rounds say which counts are theirs and which all rounds'; a save's
# summary says where its pause went, as a migration's does; the
# receiver's summary says only what it knows.  Needs python3-jsonschema
# (scripts/install-deps); skipped without it or without userfaultfd.
. "${XENMIG_SRCDIR:-../..}/tests/sim/sim-lib.sh"

SRC=${XENMIG_SRCDIR:-../..}
SCHEMA=$SRC/docs/events.schema.json
# The python3 that has jsonschema: the first on PATH may be another
# (pyenv's) than Debian's /usr/bin/python3, where python3-jsonschema is.
for py in python3 /usr/bin/python3; do
    "$py" -c "import jsonschema" 2>/dev/null && break
    py=""
done
if [ -z "$py" ]; then
    echo "python3-jsonschema is not installed (scripts/install-deps installs it)" >&2
    exit 77
fi
mkdir -p "$t/bin" && ln -sf "$(command -v "$py")" "$t/bin/python3" && PATH=$t/bin:$PATH
sim_guest_or_skip
XENMIG_STATE_DIR=$t/state
export XENMIG_STATE_DIR

echo "1..21"
migrate() { "$XL_EXT" migrate --sim "$@" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"; }
rc() { cat "$t/rc"; }

# validate FILE...: every line of each FILE is one JSON object valid
# against the schema; "# " lines say what is wrong.
cat >"$t/validate.py" <<'PY'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
bad = 0
for path in sys.argv[2:]:
    lines = open(path).read().splitlines()
    if not lines:
        print("# %s: no line" % path); bad += 1
    for n, line in enumerate(lines, 1):
        try:
            e = json.loads(line)
        except ValueError as x:
            print("# %s:%d: not JSON (%s): %s" % (path, n, x, line[:120])); bad += 1
            continue
        for err in v.iter_errors(e):
            print("# %s:%d: %s at %s" % (path, n, err.message, list(err.absolute_path))); bad += 1
sys.exit(1 if bad else 0)
PY
validate() { python3 "$t/validate.py" "$SCHEMA" "$@"; }

# rounded FILE: every number is rounded as docs/formats.md says, by its
# member's name (a number of any other member fails: every one has a rule).
cat >"$t/rounded.py" <<'PY'
import json, sys
class Num(float):
    pass
def num(text):
    n = Num(text); n.text = text; return n
RATIOS = {"ratio", "downtime_ratio", "cpu_idle", "zero_share", "compress_ratio", "scale"}
def decimals(text):
    return len(text.split(".")[1]) if "." in text else 0
def check(key, parent, v, where):
    if isinstance(v, dict):
        for k, x in v.items():
            check(k, key, x, where + "." + k)
        return
    if isinstance(v, list):
        for x in v:
            check(key, parent, x, where)
        return
    if not isinstance(v, Num):
        return
    t = v.text
    if "e" in t.lower():
        return "%s: %s has an exponent" % (where, t)
    if key.endswith("_mb_per_s"):
        digits = t.lstrip("-0.").replace(".", "")
        if abs(v) >= 100 and "." in t or abs(v) < 100 and len(digits) > 3:
            return "%s: %s is not 3 significant digits" % (where, t)
    elif "_per_s" in key:
        return "%s: %s is not a whole number" % (where, t)
    elif key.endswith("_s"):
        if decimals(t) > 6:
            return "%s: %s has more than 6 decimals" % (where, t)
    elif key.endswith("_ms") or (parent or "").endswith("_ms"):
        if decimals(t) > 3:
            return "%s: %s has more than 3 decimals" % (where, t)
    elif key in RATIOS:
        if decimals(t) > 3:
            return "%s: %s has more than 3 decimals" % (where, t)
    else:
        return "%s: %s: a number with no rounding rule" % (where, t)
bad = 0
for line in open(sys.argv[1]):
    e = json.loads(line, parse_float=num)
    for k, x in e.items():
        msg = check(k, None, x, e["event"] + "." + k)
        if msg:
            print("# " + msg); bad += 1
sys.exit(1 if bad else 0)
PY

check "the schema is a valid JSON Schema (draft 2020-12)" 'python3 -c "
import json, sys, jsonschema
jsonschema.Draft202012Validator.check_schema(json.load(open(sys.argv[1])))
" "$SCHEMA"'

# A run with every event: a probe and prediction first, a guest of
# incompressible memory behind 20 MB/s that the ladder throttles.
migrate --sim-memory 32M --sim-fill random --sim-pattern hot --sim-working-set 16M \
    --sim-rate 20000 --sim-vcpus 1 --bandwidth 20M --ladder throttle --predict --json localhost
cp "$t/out" "$t/events"
check "migrate --json: exit 0" '[ "$(rc)" = 0 ]'
check "migrate --json: every stdout line is a JSON event valid against the schema" \
    'validate "$t/events"'
check "migrate --json: every kind of event came" 'python3 -c "
import json, sys
names = {json.loads(l)[\"event\"] for l in open(sys.argv[1])}
want = {\"connect\", \"prediction\", \"precopy\", \"ladder\", \"switchover\", \"done\", \"summary\", \"guest\"}
assert names == want, (sorted(names), sorted(want))
" "$t/events"'
check "migrate --json: numbers rounded (µs, 3 digits of MB/s, whole rates, 3-decimal ratios)" \
    'python3 "$t/rounded.py" "$t/events"'
check "migrate --json: the text lines are on stderr" \
    'grep -q "^xl-ext migrate: result=ok " "$t/err" &&
     grep -q "^xl-ext migrate: downtime parts (ms): " "$t/err" &&
     grep -q "^xl-ext migrate: guest writes/s " "$t/err" && ! grep -q "^xl-ext" "$t/out"'
check "migrate --json: a round's own counts add up to all rounds' counts" 'python3 -c "
import json, sys
rounds = [e for e in map(json.loads, open(sys.argv[1])) if e[\"event\"] == \"precopy\"]
pages = bytes_ = 0
assert len(rounds) >= 2, rounds
for e in rounds:
    pages += e[\"round_pages_sent\"]; bytes_ += e[\"round_bytes_sent\"]
    assert (e[\"pages_sent\"], e[\"bytes_sent\"]) == (pages, bytes_), (e, pages, bytes_)
" "$t/events"'
check "migrate --json: the summary event has the summary line's memory hash" 'python3 -c "
import json, sys
s = [e for e in map(json.loads, open(sys.argv[1])) if e[\"event\"] == \"summary\"][0]
line = [l for l in open(sys.argv[2]) if l.startswith(\"xl-ext migrate: result=\")][0]
assert \"memory_hash=%s \" % s[\"memory_hash\"] in line, (s[\"memory_hash\"], line)
assert \"verified_at=%s \" % s[\"verified_at\"] in line, (s[\"verified_at\"], line)
" "$t/events" "$t/err"'

# The schema can fail: each mutation of a real event is refused.
check "the schema refuses mutated events (unknown member, missing member, wrong type, unknown event)" 'python3 -c "
import json, sys, jsonschema
v = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
events = [json.loads(l) for l in open(sys.argv[2])]
first = {}
for e in events:
    first.setdefault(e[\"event\"], e)
assert all(v.is_valid(e) for e in first.values())
def mutated(name, change):
    e = json.loads(json.dumps(first[name])); change(e); return e
bad = [
    mutated(\"summary\", lambda e: e.update(bogus=1)),
    mutated(\"summary\", lambda e: e.pop(\"memory_hash\")),
    mutated(\"summary\", lambda e: e.update(memory_hash=\"xyz\")),
    mutated(\"summary\", lambda e: e.update(side=\"migrate-receive\")),
    mutated(\"summary\", lambda e: e[\"downtime_parts_ms\"].pop(\"send\")),
    mutated(\"precopy\", lambda e: e.update(link_mb_per_s=\"fast\")),
    mutated(\"precopy\", lambda e: e.pop(\"round_pages_sent\")),
    mutated(\"ladder\", lambda e: e.update(rung=\"pray\")),
    mutated(\"prediction\", lambda e: e[\"probe\"].update(extra=True)),
    mutated(\"guest\", lambda e: e.update(writes_per_s_before=1.5)),
    mutated(\"connect\", lambda e: e.update(event=\"frobnicate\")),
    mutated(\"connect\", lambda e: e.pop(\"elapsed_s\")),
]
for i, e in enumerate(bad):
    assert not v.is_valid(e), (i, e)
" "$SCHEMA" "$t/events"'

# The names the code can emit (every "event" member it writes and every
# phase name) against formats.md's table, the schema and the man page.
cat >"$t/names.py" <<'PY'
import glob, json, os, re, sys
src = sys.argv[1]
code = set()
for path in glob.glob(os.path.join(src, "xl-ext", "*.c")):
    text = open(path).read()
    code |= set(re.findall(r'"event",\s*json_object_new_string\("([a-z_-]+)"\)', text))
    code |= set(re.findall(r'case MIG_PHASE_\w+:\s*return "([a-z_-]+)";', text))
formats = open(os.path.join(src, "docs", "formats.md")).read()
section = formats.split("## JSON events\n", 1)[1].split("\n## ", 1)[0]
docs = set(re.findall(r"^\| `([a-z_-]+)` \|", section, re.M))
schema = set(json.load(open(os.path.join(src, "docs", "events.schema.json")))
             ["properties"]["event"]["enum"])
man = open(os.path.join(src, "docs", "man", "xl-ext.1.pod.in")).read()
item = man.split("Print one JSON event per line on stdout", 1)[1].split("=item", 1)[0]
manual = set(re.findall(r"B<([a-z][a-z_-]*)>", item))
print("# code: %s" % " ".join(sorted(code)))
bad = 0
for name, doc in (("docs/formats.md", docs), ("docs/events.schema.json", schema),
                  ("the man page's --json", manual)):
    if code - doc:
        print("# %s misses %s" % (name, sorted(code - doc))); bad = 1
    if doc - code:
        print("# %s lists %s, which the code never emits" % (name, sorted(doc - code))); bad = 1
sys.exit(bad or len(code) < 8)
PY
check "every event the code emits is documented, and every documented one is emitted" \
    'python3 "$t/names.py" "$SRC"'

# The receiver with --json (its events on stderr), the source in text:
# the round lines label their counts, one summary line each, the
# receiver's saying what it knows.
migrate --sim-memory 16M --sim-pattern hot --sim-working-set 4M --sim-rate 20000 \
    --data-host 127.0.0.1 -s "" \
    "exec '$XL_EXT' migrate-receive --sim --json --data-listen 127.0.0.1 2>'$t/recv'"
check "migrate-receive --json: exit 0" '[ "$(rc)" = 0 ]'
grep "^{" "$t/recv" >"$t/recv.json"
check "migrate-receive --json: its events on stderr are valid against the schema" \
    'validate "$t/recv.json" && python3 "$t/rounded.py" "$t/recv.json"'
check "migrate-receive: its summary says the source matched its digest, the source's hash" 'python3 -c "
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])]
assert len(s) == 1 and s[0][\"side\"] == \"migrate-receive\" and s[0][\"digest_matched\"], s
line = [l for l in open(sys.argv[2]) if l.startswith(\"xl-ext migrate: result=ok \")]
assert len(line) == 1 and \"memory_hash=%s \" % s[0][\"memory_hash\"] in line[0], (s, line)
" "$t/recv.json" "$t/out"'
check "migrate-receive: no second, misleading verified=no summary" \
    'grep -q "^xl-ext migrate-receive: result=ok .* digest=matched " "$t/recv" &&
     ! grep -q "verified=\|verified_at=\|downtime=" "$t/recv" &&
     [ "$(grep -c "result=" "$t/out")" = 1 ]'
check "the round lines say what is this round's and what all rounds'" 'python3 -c "
import re, sys
total = 0
rounds = [l for l in open(sys.argv[1]) if l.startswith(\"round \")]
assert len(rounds) >= 2, rounds
for l in rounds:
    m = re.match(r\"round \d+: sent (\d+) pages \([0-9.]+ MiB\) this round, (\d+) \([0-9.]+ MiB\) in all; remaining \d+\", l)
    assert m, l
    total += int(m.group(1))
    assert int(m.group(2)) == total, (l, total)
" "$t/out"'

# A text run whose round 0 is mostly zero pages: no made-up expected downtime.
check "round 0 of a mostly zero guest: expected downtime n/a, not a figure" \
    'grep -q "^round 0: .*link not measured yet, expected downtime n/a$" "$t/out"'

# save --sim --json: the same events, nothing else on stdout.
"$XL_EXT" save --sim --sim-memory 16M --sim-pattern hot --sim-working-set 4M --sim-rate 20000 \
    --json "$t/guest.save" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"
check "save --sim --json: exit 0, stdout JSON events valid against the schema" \
    '[ "$(rc)" = 0 ] && validate "$t/out" && python3 "$t/rounded.py" "$t/out"'
check "save --sim --json: its summary line is on stderr, named save" \
    'grep -q "^xl-ext save: result=ok " "$t/err" && ! grep -q "^xl-ext" "$t/out" &&
     grep -q "\"event\":\"summary\",\"side\":\"save\"" "$t/out"'
check "save --sim --json: its summary has the downtime's six parts, within the downtime, as its text line says" \
    'python3 -c "
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])]
s = [e for e in s if e[\"event\"] == \"summary\"][0]
parts = s[\"downtime_parts_ms\"]
assert sorted(parts) == [\"destination\", \"harvest\", \"pause\", \"resume\", \"send\", \"state\"], parts
assert all(v >= 0 for v in parts.values()) and sum(parts.values()) <= s[\"downtime_ms\"] + 0.01, s
assert s[\"predicted_downtime_ms\"] >= s[\"predicted_parts_ms\"][\"fixed\"], s
text = [l for l in open(sys.argv[2]) if l.startswith(\"xl-ext save: downtime parts (ms): \")]
words = dict(w.split(\"=\") for w in text[0].split(\"(ms): \")[1].split())
assert all(abs(parts[k] - float(v)) <= 0.05 + 1e-9 for k, v in words.items()), (parts, words)
" "$t/out" "$t/err" && grep -q "^xl-ext save: predicted downtime [0-9]* ms (pages " "$t/err"'

# --dry-run --json: the prediction and the summary, nothing else on stdout.
migrate --sim-memory 16M --sim-pattern hot --sim-working-set 4M --sim-rate 5000 --dry-run \
    --json localhost
check "migrate --dry-run --json: stdout JSON events valid against the schema" \
    '[ "$(rc)" = 0 ] && validate "$t/out" && python3 "$t/rounded.py" "$t/out" &&
     grep -q "\"event\":\"prediction\"" "$t/out" && grep -q "^xl-ext migrate: result=dry-run " "$t/err"'
# The other --json commands print one JSON document on stdout, their
# text on stderr: cpuid-policy cluster baseline and report, gpu-probe.
export XENMIG_CPUID_LEVELS_DIR="$SRC/cpuid-policy/data/levels"
export XENMIG_CPUID_CORPUS="$SRC/cpuid-policy/data/cpus/corpus.txt"
"$XL_EXT" cpuid-policy corpus --host-json "Intel Xeon Gold 6148" >"$t/skx.json"
"$XL_EXT" cpuid-policy corpus --host-json "Intel Ice Lake Server" >"$t/icx.json"
"$XL_EXT" cpuid-policy cluster create "$t/c.json" "$t/skx.json" "$t/icx.json" >/dev/null 2>&1
printf 'name="db"\ntype="hvm"\ncpuid_baseline="x86-64-v4"\n' >"$t/db.cfg"
one_document() { "$XL_EXT" "$@" >"$t/out" 2>"$t/err" && python3 -c "
import json, sys
json.load(open(sys.argv[1]))
" "$t/out"; }
check "cpuid-policy cluster baseline --json, report --json, gpu-probe --json: one JSON document" \
    'one_document cpuid-policy cluster baseline --json "$t/skx.json" "$t/icx.json" &&
     one_document cpuid-policy report --json --cluster "$t/c.json" "$t/db.cfg" &&
     one_document gpu-probe --json --facts "$SRC/tests/gpu/facts/nvidia-a100.json"'
exit $fail

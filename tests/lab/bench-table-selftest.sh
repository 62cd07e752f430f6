#!/bin/sh
# scripts/bench-lab's table (tests/lab/bench-table.py) from a recorded run
# (tests/lab/data/bench-lab/): the rows and ratios, the engine's share of
# the downtime from each scenario's own `xl-ext migrate --json` summary
# (LAB-JSON), a later boot's results replacing a hung one's, and malformed
# lines named and left out; report.py reads the same logs.
lab=${XENMIG_SRCDIR:-..}/tests/lab
data=$lab/data/bench-lab
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 77; }
export PYTHONDONTWRITEBYTECODE=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0 fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
table() {  # OUT LOG...: the table of the LOGs into OUT.txt, stderr into OUT.err
    out=$1
    shift
    python3 "$lab/bench-table.py" "$@" > "$dir/$out.txt" 2> "$dir/$out.err"
}
row() {  # OUT NAME: NAME's row of table OUT, its words one a line
    grep "^$2 " "$dir/$1.txt" | tr -s ' ' '\n'
}
cell() {  # OUT NAME COLUMN: one cell (1 name, 2 status, 3 total, 4 ratio, 5 downtime,
    row "$1" "$2" | sed -n "$3p"  # 6 ratio, 7 MB, 8 ratio, 9 rounds, 10 pause,
}                                 # 11 max, 12 engine ms, 13 rest ms

table both "$data/serial-single.log" "$data/serial-single-2.log" "$data/absent.log"
rc=$?
t "both boots: exit 0, nothing on stderr (an absent log is passed over)" '[ $rc = 0 ] && [ ! -s "$dir/both.err" ]'
t "both boots: the recorded table" 'cmp -s "$data/table.txt" "$dir/both.txt" || { diff "$data/table.txt" "$dir/both.txt" | sed "s/^/# /"; false; }'
t "a header and the 10 migrations, no create or hold steps" \
  '[ "$(wc -l < "$dir/both.txt")" = 11 ] && ! grep -q -- "-create \|-hold-10 " "$dir/both.txt"'
t "engine ms: harvest + send + state of the scenario's JSON summary; rest ms: the remainder" \
  '[ "$(cell both pvh-128-idle-xenmig-s1-stop-plain 12)" = 52.8 ] && [ "$(cell both pvh-128-idle-xenmig-s1-stop-plain 13)" = 649.7 ]'
t "ratios to the group's stock migration" \
  '[ "$(cell both pvh-128-idle-xenmig-s1-stop-plain 4)" = 0.66 ] && [ "$(cell both pvh-128-idle-xenmig-s1-stop-plain 6)" = 0.58 ]'
t "the second boot's results replace the hung boot's" \
  '[ "$(cell both pvh-128-dirty16-migrate-pipe 3)" = 58.9 ] && [ "$(cell both pvh-128-dirty16-xenmig-s1-stop-plain 12)" = 741.7 ]'
t "a migration that failed before its switchover has no engine ms" \
  '[ "$(cell both pvh-128-dirty16-xenmig-s2-loose-plain 2)" = fail ] && [ "$(cell both pvh-128-dirty16-xenmig-s2-loose-plain 12)" = nan ]'

table first "$data/serial-single.log"
t "a retried step: the summary of its last attempt" \
  '[ "$(cell first pvh-128-dirty16-xenmig-s1-stop-plain 12)" = 752.4 ]'
t "a step the hang cut off before its result has no row" \
  '! grep -q "^pvh-128-dirty16-xenmig-s2-stop-plain " "$dir/first.txt" && [ "$(wc -l < "$dir/first.txt")" = 9 ]'

table cap --link-cap 16000000 "$data/serial-single.log"
t "--link-cap: the cap is said first" \
  'head -n 1 "$dir/cap.txt" | grep -q "^link capped at 16 MB/s per TCP connection"'

# one scenario's summary must never be another's: a migration without
# LAB-JSON lines of its own has no engine ms, even right after a summary
# whose result never came
grep -v -e "LAB-JSON name=pvh-128-idle-xenmig-s1-loose-plain " \
    -e "LAB-RESULT name=pvh-128-idle-xenmig-s1-stop-plain " "$data/serial-single.log" > "$dir/nojson.log"
table nojson "$dir/nojson.log"
t "no LAB-JSON of its own: no engine ms, not another scenario's" \
  '[ "$(cell nojson pvh-128-idle-xenmig-s1-loose-plain 12)" = nan ] && [ "$(cell nojson pvh-128-idle-xenmig-s2-stop-plain 12)" = 39.2 ]'

# a summary cut short on the console, and a result line cut short
sed -e '/LAB-JSON name=pvh-128-idle-xenmig-s2-stop-plain {"event":"summary"/s/,"downtime_parts_ms".*//' \
    -e '/LAB-RESULT name=pvh-128-idle-xenmig-s2-loose-plain /s/ xenmig_verified=yes.*//' \
    "$data/serial-single.log" > "$dir/cut.log"
table cut "$dir/cut.log"
rc=$?
t "malformed lines: exit 0, the table still printed" '[ $rc = 0 ] && grep -q "^pvh-128-idle-xenmig-s1-stop-plain " "$dir/cut.txt"'
t "a malformed LAB-JSON line is named on stderr, quoted, and its row has no engine ms" \
  'grep -q "cut.log line [0-9]* left out: malformed LAB-JSON line: its JSON does not parse .*: .LAB-JSON name=pvh-128-idle-xenmig-s2-stop-plain {\"event\":\"summary\"" "$dir/cut.err" &&
   [ "$(cell cut pvh-128-idle-xenmig-s2-stop-plain 12)" = nan ]'
t "a malformed LAB-RESULT line is named on stderr, quoted, and has no row" \
  'grep -q "left out: malformed LAB-RESULT line: no . reason=. .*: .LAB-RESULT name=pvh-128-idle-xenmig-s2-loose-plain status=pass" "$dir/cut.err" &&
   ! grep -q "^pvh-128-idle-xenmig-s2-loose-plain " "$dir/cut.txt"'

# the same logs through the report: every line reads, the hang is named
python3 "$lab/report.py" --plan "$data/plan" --results "$dir" single="$data/serial-single.log" \
    single-2="$data/serial-single-2.log" > "$dir/tap" 2> "$dir/tap.err"
rc=$?
t "report.py: 14 scenarios, 13 passed, the failed one with its reason" \
  '[ $rc = 1 ] && grep -qx "1\.\.14" "$dir/tap" && [ "$(grep -c "^ok " "$dir/tap")" = 13 ] &&
   grep -q "^not ok 14 - pvh-128-dirty16-xenmig-s2-loose-plain: xenmig-s2-loose-plain with xl-ext failed (rc=1): xl-ext migrate: migration failed: control channel closed" "$dir/tap"'
t "report.py: the hang is named" 'grep -q "^# single: LAB-HANG the console was silent" "$dir/tap"'
# a malformed result is a failure of its scenario that quotes it, never a pass
sed 's/\(LAB-RESULT name=pvh-128-idle-migrate-pipe status=pass\) retries=0/\1 retries=zero/' \
    "$data/serial-single.log" > "$dir/bad.log"
python3 "$lab/report.py" --plan "$data/plan" --results "$dir" single="$dir/bad.log" \
    single-2="$data/serial-single-2.log" > "$dir/tap" 2> "$dir/tap.err"
t "report.py: a malformed LAB-RESULT line fails its scenario, quoted" \
  'grep -q "^not ok 3 - pvh-128-idle-migrate-pipe: .*bad.log line [0-9]*: malformed LAB-RESULT line: retries=.zero. is not a whole number (or none): .LAB-RESULT name=pvh-128-idle-migrate-pipe status=pass retries=zero " "$dir/tap"'

# scripts/bench-lab (which boots the lab) prints its table with this program
t "scripts/bench-lab runs bench-table.py on its results" \
  'grep -q "python3 \"\$source_dir/tests/lab/bench-table.py\" --link-cap \"\$link_cap\"" "$lab/../../scripts/bench-lab"'
echo "1..$n"
exit $fail

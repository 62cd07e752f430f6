#!/bin/sh
# error-lines.sh: a migration or save of a simulated guest that fails says
# so in one line of its own command ("xl-ext migrate: migration failed:
# ...", "xl-ext save: the save failed: ..."), not a second time through the
# engine's log ("migrate: error: ..."); save --sim names its lines "save"
# and its file, not the receiver it runs.
n=0; fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1
      sed 's/^/# out: /' "$tmp/out" | head -n 8; sed 's/^/# err: /' "$tmp/err" | head -n 8; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { "$XL_EXT" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?; }
echo "1..5"

# a "receiver" that answers with a line that is no control message (and
# reads on, so that the source's first write never meets a closed pipe)
run migrate --sim --sim-memory 16M --sim-rate 1000 -s "" "echo hi; exec cat >/dev/null"
t "a failed migration: exit 1, its error in one line of xl-ext migrate" \
  '[ $rc -eq 1 ] && [ "$(grep -c "not a control message: .hi." "$tmp/err")" -eq 1 ] &&
   grep -q "^xl-ext migrate: migration failed: control channel: not a control message: .hi.$" "$tmp/err"'
t "a failed migration: no line of the engine's log ('migrate: error:')" \
  '! grep -q "^migrate: error" "$tmp/err"'

run save --sim --sim-memory 16M --sim-rate 1000 "$tmp/guest.save"
t "save --sim: its lines are named save, the first names the file" \
  '[ $rc -eq 0 ] && grep -q "^saving simulated guest (16 MiB, .*) to .$tmp/guest.save.: " "$tmp/out" &&
   grep -q "^xl-ext save: result=ok " "$tmp/out" && grep -q "^xl-ext save: guest writes/s " "$tmp/out" &&
   ! grep -q "^xl-ext migrate\|migrate-receive" "$tmp/out"'

run save --sim --sim-memory 16M --sim-rate 1000 /dev/full
t "save --sim to a full disk: exit 1, one line of xl-ext save saying why" \
  '[ $rc -eq 1 ] &&
   [ "$(grep -c "^xl-ext save: the save failed: .*No space left on device" "$tmp/err")" -eq 1 ] &&
   ! grep -q "^migrate: error" "$tmp/err"'
t "save --sim to a full disk: the guest kept running, said by xl-ext save" \
  'grep -q "^xl-ext save: the guest keeps running at the source" "$tmp/err"'
exit $fail

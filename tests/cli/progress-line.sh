#!/bin/sh
# progress-line.sh: the live line of `xl-ext migrate` (progress_line.h).
# On a terminal (a pseudo-terminal from util-linux's script(1)) a round
# that lasts shows "round 0: NN% of 32 MiB, ... MB/s, ETA ..." redrawn in
# place (\r, then ESC [ K to clear the line's end), and finished with the
# round's totals and a newline; with stderr in a pipe, off a terminal, or
# with --json on one: no such line.  The guest: 32 MiB of random pages
# (they do not compress) over one stream capped at 20 MB/s, about 1.7 s.
# A round whose streams are full for a second (4 MiB at 1 MB/s: read and
# queued at once, then sent for 4 s) says it waits, and for how long.
n=0; fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1
      sed 's/^/# /' "$tmp/out" | cat -A | head -n 40; fi; }
echo "1..8"
if ! command -v script >/dev/null; then
    for i in 1 2 3 4 5 6 7 8; do
        echo "ok $i # SKIP script(1) is missing (Debian package bsdutils)"
    done
    exit 0
fi
sim="migrate --sim --sim-memory 32M --sim-fill random --sim-pattern idle --streams 1 --bandwidth 20M localhost"
esc=$(printf '\033')
cr=$(printf '\r')
# on_tty COMMAND: run the shell COMMAND on a pseudo-terminal; its output in out
on_tty() { script -qec "$1" /dev/null </dev/null >"$tmp/out" 2>&1; rc=$?; }
# draws: how many times the live line was drawn
draws() { tr '\r' '\n' <"$tmp/out" | grep -c "^round 0: *[0-9]*% of 32 MiB, [0-9.]* MB/s, ETA "; }

on_tty "\"$XL_EXT\" $sim"
t "on a terminal the migration succeeds" '[ $rc -eq 0 ] && grep -q "result=ok" "$tmp/out"'
t "on a terminal round 0 is drawn again and again in place (CR, ESC [ K)" \
  '[ "$(draws)" -ge 2 ] && grep -q "${cr}round 0: *[0-9]*% of 32 MiB" "$tmp/out" &&
   grep -q "ETA [0-9.-]*[^$esc]*${esc}\[K" "$tmp/out"'
t "on a terminal the round ends with its totals and a newline" \
  'grep -q "${cr}round 0: 100% of 32 MiB in [0-9.]* s, [0-9.]* MB/s${esc}\[K${cr}\$" "$tmp/out"'

# The rounds' summaries are whole lines that stay (they are longer than a
# terminal's line: redrawn in place they would wrap over each other).
t "on a terminal each round's summary is a line of its own, never redrawn" \
  'grep -q "^round 0: sent [0-9]* pages .* this round, .*${cr}\$" "$tmp/out" &&
   ! grep -q "${cr}round [0-9]*: sent" "$tmp/out"'

on_tty "\"$XL_EXT\" migrate --sim --sim-memory 4M --sim-fill random --sim-pattern idle --streams 1 --bandwidth 1M localhost"
t "on a terminal a round whose streams are full says what it waits for, how long" \
  'tr "\\r" "\\n" <"$tmp/out" | grep -q "^round 0: *[0-9]*% of 4 MiB queued, waiting [1-9][0-9.]* s for the link and the destination"'

on_tty "\"$XL_EXT\" $sim 2>&1 | cat"
t "with stderr in a pipe: no live line" \
  '[ $rc -eq 0 ] && grep -q "result=ok" "$tmp/out" && [ "$(draws)" -eq 0 ] && ! grep -q "$esc" "$tmp/out"'

on_tty "\"$XL_EXT\" $sim --json"
t "with --json on a terminal: no live line" \
  '[ $rc -eq 0 ] && grep -q "\"event\"" "$tmp/out" && [ "$(draws)" -eq 0 ] && ! grep -q "$esc" "$tmp/out"'

"$XL_EXT" $sim </dev/null >"$tmp/out" 2>&1; rc=$?
t "off a terminal: no live line" \
  '[ $rc -eq 0 ] && grep -q "result=ok" "$tmp/out" && [ "$(draws)" -eq 0 ] && ! grep -q "$esc" "$tmp/out"'
exit $fail

#!/bin/sh
# The dispatcher: help lists the owned commands, unknown commands and
# options give exit 2 with a message that quotes them.
n=0; fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
echo "1..5"
out=$("$XL_EXT" help); rc=$?
t "help exits 0" '[ $rc -eq 0 ]'
t "help lists version" 'echo "$out" | grep -q "^ version "'
err=$("$XL_EXT" help no-such-cmd 2>&1); rc=$?
t "help of an unknown command exits 2" '[ $rc -eq 2 ]'
t "the error quotes the command" 'echo "$err" | grep -q "no-such-cmd"'
out=$("$XL_EXT" --version); rc=$?
t "--version prints the version" '[ $rc -eq 0 ] && echo "$out" | grep -q "xenmig"'
exit $fail

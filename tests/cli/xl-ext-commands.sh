#!/bin/sh
# xl-ext-commands.sh: the surface of every command (issue 26, "Commands
# and errors"): `COMMAND --help` and `xl-ext help COMMAND` exit 0 with the
# usage on stdout, for every command and every subcommand of cpuid-policy
# and of its cluster; a bad option is a usage error, exit 2, in one line
# "xl-ext COMMAND: ... '--no-such-option' ..."; xl-ext alone is a usage
# error; an unknown command is refused with the nearest one suggested and
# never reaches xl; xl's own commands go to xl ($XENMIG_XL) only.
n=0; fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1
      sed 's/^/# out: /' "$tmp/out" | head -n 3; sed 's/^/# err: /' "$tmp/err" | head -n 3; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { "$XL_EXT" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?; }
lines() { wc -l <"$1" | tr -d ' '; }

# The commands of `xl-ext help`, then the cpuid-policy and cluster subcommands.
commands=$("$XL_EXT" help | awk '/^ [^ ]/ { print $1 }')
subs="features decode levels corpus host-dump cluster check report"
cluster_subs="baseline create add remove relevel pin pin-gpu show"
[ -n "$commands" ] || { echo "Bail out! xl-ext help lists no command"; exit 1; }
# a command or subcommand left out here would go untested: the lists must
# be those the dispatchers print in their own errors
run cpuid-policy no-such-sub
for s in $subs; do grep -q "$s" "$tmp/err" || { echo "Bail out! cpuid-policy has '$s'?"; exit 1; }; done
run cpuid-policy cluster no-such-sub
for s in $cluster_subs; do grep -q "$s" "$tmp/err" || { echo "Bail out! cluster has '$s'?"; exit 1; }; done

for c in $commands; do
    run "$c" --help
    t "$c --help exits 0, usage on stdout (first line 'Usage: xl-ext $c'), nothing on stderr" \
      '[ $rc -eq 0 ] && head -n 1 "$tmp/out" | grep -q "^Usage: xl-ext $c" && [ ! -s "$tmp/err" ]'
    run help "$c"
    t "help $c exits 0, usage on stdout" '[ $rc -eq 0 ] && [ -s "$tmp/out" ]'
    t "help $c: no line ends in a space, prose is not the first entry under Options:" \
      '! grep -q " \$" "$tmp/out" &&
       ! sed -n "/^Options:\$/{n;p;}" "$tmp/out" | grep -q "^Sizes\|^Units"'
done
for s in $subs; do
    run cpuid-policy "$s" --help
    t "cpuid-policy $s --help exits 0, usage on stdout" \
      '[ $rc -eq 0 ] && head -n 1 "$tmp/out" | grep -q "^Usage: xl-ext cpuid-policy $s" && [ ! -s "$tmp/err" ]'
done
run cpuid-policy cluster --help
t "cpuid-policy cluster --help lists every cluster subcommand" \
  '[ $rc -eq 0 ] && for s in $cluster_subs; do grep -q "^  $s " "$tmp/out" || exit 1; done'
for s in $cluster_subs; do
    run cpuid-policy cluster "$s" --help
    t "cpuid-policy cluster $s --help exits 0, usage on stdout" \
      '[ $rc -eq 0 ] && head -n 1 "$tmp/out" | grep -q "^Usage: xl-ext cpuid-policy cluster $s" && [ ! -s "$tmp/err" ]'
    run help cpuid-policy cluster "$s"
    t "help cpuid-policy cluster $s is the same" '[ $rc -eq 0 ] && grep -q "cluster $s" "$tmp/out"'
done

# A bad option: exit 2, one line, naming the command and quoting the option.
one_line_usage() {  # PREFIX: the last run was a usage error of one line starting with PREFIX
    [ $rc -eq 2 ] && [ "$(lines "$tmp/err")" -eq 1 ] && [ ! -s "$tmp/out" ] &&
        grep -q "^xl-ext $1: .*'--no-such-option'" "$tmp/err" &&
        ! grep -q "see above" "$tmp/err"
}
for c in $commands; do
    case $c in help|version) continue ;; esac
    case $c in cpuid-policy) run "$c" features --no-such-option; p="$c features" ;;
               *) run "$c" --no-such-option x y; p=$c ;; esac
    t "$p: a bad option exits 2 in one line quoting it" 'one_line_usage "$p"'
done
for s in $subs; do
    [ "$s" = cluster ] && continue
    run cpuid-policy "$s" --no-such-option
    t "cpuid-policy $s: a bad option exits 2 in one line quoting it" 'one_line_usage "cpuid-policy $s"'
done
for s in baseline create add relevel; do
    run cpuid-policy cluster "$s" --no-such-option
    t "cpuid-policy cluster $s: a bad option exits 2 in one line" 'one_line_usage "cpuid-policy cluster $s"'
done
for s in remove pin pin-gpu show; do     # positional only: a missing argument
    run cpuid-policy cluster "$s"
    t "cpuid-policy cluster $s without arguments exits 2 in one line" \
      '[ $rc -eq 2 ] && [ "$(lines "$tmp/err")" -eq 1 ] && grep -q "^xl-ext cpuid-policy cluster $s: give" "$tmp/err"'
done
run migrate --streams
t "an option without its value says so" \
  '[ $rc -eq 2 ] && [ "$(lines "$tmp/err")" -eq 1 ] && grep -q "option .--streams. needs a value" "$tmp/err"'
run migrate --sim --sim-memory 0 host
t "--sim-memory 0 says what is required, no double negative" \
  '[ $rc -eq 2 ] && [ "$(lines "$tmp/err")" -eq 1 ] && grep -q "give a whole number of 4 KiB pages" "$tmp/err" && ! grep -q "not a non-zero" "$tmp/err"'

# xl-ext alone: a usage error, as xl's; the list goes to stderr.
run
t "xl-ext alone exits 2 with the help on stderr" \
  '[ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q "^ migrate " "$tmp/err"'

# Unknown commands, with a stand-in xl that records being run.
cat >"$tmp/xl" <<EOS
#!/bin/sh
echo "\$@" >"$tmp/xl-ran"
exit 42
EOS
chmod +x "$tmp/xl"
XENMIG_XL=$tmp/xl run frobnicate
t "an unknown command exits 2 in one line, never reaching xl" \
  '[ $rc -eq 2 ] && [ "$(lines "$tmp/err")" -eq 1 ] && grep -q "^xl-ext: unknown command .frobnicate.; .*xl-ext help" "$tmp/err" && [ ! -e "$tmp/xl-ran" ]'
XENMIG_XL=$tmp/xl run migrat --sim
t "a typo of xl-ext's command suggests it" \
  "[ \$rc -eq 2 ] && grep -qx \"xl-ext: unknown command 'migrat'; did you mean 'migrate'? (xl-ext help)\" \"\$tmp/err\" && [ ! -e \"\$tmp/xl-ran\" ]"
XENMIG_XL=$tmp/xl run lsit
t "a typo of xl's command suggests it" \
  "[ \$rc -eq 2 ] && grep -q \"did you mean 'list'?\" \"\$tmp/err\" && [ ! -e \"\$tmp/xl-ran\" ]"
run help frobnicate
t "help of an unknown command exits 2 quoting it" \
  '[ $rc -eq 2 ] && grep -q "unknown command .frobnicate." "$tmp/err"'
XENMIG_XL=$tmp/xl run list -l
t "an xl command goes to \$XENMIG_XL with its arguments and exit status" \
  '[ $rc -eq 42 ] && [ "$(cat "$tmp/xl-ran")" = "list -l" ]'
rm -f "$tmp/xl-ran"
run version extra
t "version with an argument is a usage error in one line, quoting it" \
  '[ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && [ "$(lines "$tmp/err")" -eq 1 ] &&
   grep -q "^xl-ext version: unexpected argument .extra.; " "$tmp/err"'
run --version
t "--version still prints the version" '[ $rc -eq 0 ] && grep -q "^xl-ext (xenmig) " "$tmp/out"'

# a file that is not what the command reads: exit 3, one line quoting it
# and saying what to give (no second line "see above")
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tmp/notsave"
run stream-dump "$tmp/notsave"
t "stream-dump of a file that is no stream: exit 3, one error line saying what to give" \
  '[ $rc -eq 3 ] && [ "$(lines "$tmp/err")" -eq 1 ] &&
   grep -q "^xl-ext stream-dump: .$tmp/notsave.: .*; give an xl save file" "$tmp/err"'
run stream-dump --json "$tmp/notsave"
t "stream-dump --json of it: the error a JSON line on stdout, one line on stderr" \
  '[ $rc -eq 3 ] && [ "$(lines "$tmp/err")" -eq 1 ] && grep -q "^{\"error\":" "$tmp/out"'
{ printf 'XENMIG-SIM-SAVE1'; head -c 64 /dev/zero; } >"$tmp/sim.save"
run stream-dump "$tmp/sim.save"
t "stream-dump of a simulated guest's save file: exit 3, one line saying what it is and what reads it" \
  '[ $rc -eq 3 ] && [ ! -s "$tmp/out" ] && [ "$(lines "$tmp/err")" -eq 1 ] &&
   grep -q "^xl-ext stream-dump: .$tmp/sim.save. is a simulated guest.s sequential save file .*restore --sim" "$tmp/err"'
run stream-dump --json "$tmp/sim.save"
t "stream-dump --json of it: an error object on stdout, as any bad input" \
  '[ $rc -eq 3 ] && grep -q "^{\"error\":.*\"code\":\"EFORMAT\"}$" "$tmp/out" && [ "$(lines "$tmp/err")" -eq 1 ]'
run restore "$tmp/sim.save"
t "restore without --sim of a simulated guest's save file: exit 3, one line saying to add --sim" \
  '[ $rc -eq 3 ] && [ "$(lines "$tmp/err")" -eq 1 ] &&
   grep -q "^xl-ext restore: .$tmp/sim.save. is a simulated guest.s save file .*restore --sim" "$tmp/err"'
run convert --format xl "$tmp/notsave" "$tmp/converted"
t "convert of a file that is no mapped save file: exit 3, one line, nothing written" \
  '[ $rc -eq 3 ] && [ "$(lines "$tmp/err")" -eq 1 ] &&
   grep -q "^xl-ext convert: cannot convert .$tmp/notsave.: .*; nothing was started" "$tmp/err" &&
   [ ! -e "$tmp/converted" ]'
if [ -e /proc/xen ]; then
    n=$((n+1)); echo "ok $n # SKIP a Xen host: xl's commands run here"
else
    (unset XENMIG_XL; "$XL_EXT" list </dev/null >"$tmp/out" 2>"$tmp/err"); rc=$?
    t "off Xen an xl command exits 5 saying xl needs a Xen host" \
      '[ $rc -eq 5 ] && [ "$(lines "$tmp/err")" -eq 1 ] && grep -q "xl, which needs a Xen host" "$tmp/err"'
    # what would run stock xl, or open Xen, says so in one line too
    for args in "migrate-receive" "migrate --engine xl dom host" "save --engine xl dom f" \
                "migrate dom localhost" "save dom $tmp/f"; do
        # shellcheck disable=SC2086
        (unset XENMIG_XL; "$XL_EXT" $args </dev/null >"$tmp/out" 2>"$tmp/err"); rc=$?
        t "off Xen '$args' exits 5 in one line saying it needs a Xen host" \
          '[ $rc -eq 5 ] && [ "$(lines "$tmp/err")" -eq 1 ] && grep -q "Xen host\|Xen dom0" "$tmp/err"'
    done
fi
echo "1..$n"
exit $fail

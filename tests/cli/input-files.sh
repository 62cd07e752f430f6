#!/bin/sh
# input-files.sh: every command given an input file it cannot read says so
# in one line before any work, quoting the path, with what to do, and
# exits 3 (bad input); a command missing its file or an option names what
# is missing, exit 2.
n=0; fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1
      sed 's/^/# out: /' "$tmp/out" | head -n 5; sed 's/^/# err: /' "$tmp/err" | head -n 5; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { "$XL_EXT" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?; }
missing=$tmp/no-such-file
echo "1..11"
# one_line CMD WHAT: exit 3, stderr is one line "xl-ext CMD: cannot read
# WHAT 'PATH': No such file...; give the path of an existing, readable ..."
one_line() {
    [ $rc -eq 3 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
        grep -q "^xl-ext $1: cannot read $2 '$missing': No such file or directory; give the path of an existing, readable " "$tmp/err"
}
run restore "$missing";                    t "restore FILE" 'one_line restore "save file"'
run restore --sim "$missing";              t "restore --sim FILE" 'one_line restore "save file"'
run convert --format xl "$missing" "$tmp/out.xl"
t "convert IN OUT (and OUT is not made)" 'one_line convert "save file" && [ ! -e "$tmp/out.xl" ]'
run stream-dump "$missing";                t "stream-dump FILE" 'one_line stream-dump stream'
run create --dry-run "$missing";           t "create --dry-run CFG" 'one_line create "domain config"'
run gpu-probe --config "$missing";         t "gpu-probe --config CFG" 'one_line gpu-probe "domain config"'
run cpuid-policy cluster show "$missing"
t "cpuid-policy cluster show FILE" 'one_line "cpuid-policy cluster show" "cluster file"'
# usage errors say what is missing
run restore
t "restore alone: no save file given (exit 2)" \
  '[ $rc -eq 2 ] && grep -q "^xl-ext restore: no save file given; give \[CONFIG\] FILE" "$tmp/err"'
run create
t "create alone: no config file given (exit 2)" \
  '[ $rc -eq 2 ] && grep -q "^xl-ext create: no config file given; " "$tmp/err"'
run cpuid-policy check dom.cfg
t "cpuid-policy check without --host: says so (exit 2)" \
  '[ $rc -eq 2 ] && grep -q "^xl-ext cpuid-policy check: no --host given; give DOMAIN|CFG and --host" "$tmp/err"'
run cpuid-policy check --host "$tmp/h.json"
t "cpuid-policy check without a domain: says so (exit 2)" \
  '[ $rc -eq 2 ] && grep -q "^xl-ext cpuid-policy check: no domain or config given; " "$tmp/err"'
exit $fail

#!/bin/sh
# migrate-preflight.sh: `xl-ext migrate` and `save` check what they can
# before any expensive work (issue 26): an unresolvable or unreachable
# destination, a save file in a directory that is missing or not
# writable, a --data-host that is no address of the destination, and
# contradictory options all fail before the simulated guest is built.
# The proof is an event, not a clock: with --debug the simulated guest's
# own log says "xenmig-sim: info: guest of N MiB ..." when it is built (in
# libmig, apart from the command's output), and that line must not appear;
# the elapsed time is only reported.
n=0; fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1
      sed 's/^/# out: /' "$tmp/out" | head -n 3; sed 's/^/# err: /' "$tmp/err" | head -n 3; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() {
    start=$(date +%s%N)
    cmd=$1; shift
    "$XL_EXT" "$cmd" --debug "$@" </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
}
not_built() { ! grep -q "xenmig-sim: info: guest of" "$tmp/out" "$tmp/err"; }
one_line() { [ "$(wc -l <"$tmp/err")" -eq 1 ]; }

# The guard itself: the same command to a good destination does build the
# guest and print the line (else not_built proves nothing).
run migrate --sim --sim-memory 16M --sim-pattern idle localhost
t "a good destination builds the guest and says so (the event the others lack)" \
  '[ $rc -eq 0 ] && ! not_built'

run migrate --sim --sim-memory 1G no-such-host.invalid
t "an unresolvable host fails before a 1 GiB guest is built (${ms} ms)" \
  '[ $rc -eq 1 ] && not_built && one_line && grep -q "cannot resolve the destination .no-such-host.invalid." "$tmp/err"'

if command -v ssh >/dev/null; then
    # ssh -G gives the port of -s "ssh -p 1"; nothing listens on port 1
    run migrate --sim --sim-memory 1G -s "ssh -p 1" 127.0.0.2
    t "an unreachable host fails before the guest is built (${ms} ms)" \
      '[ $rc -eq 1 ] && not_built && one_line && grep -q "cannot reach the destination .127.0.0.2. (127.0.0.2 port 1)" "$tmp/err"'
    # behind a proxy only ssh can tell: no direct check, ssh fails it later
    run migrate --sim --sim-memory 16M -s "ssh -o ProxyJump=bastion.invalid" no-such-host.invalid
    t "a host behind an ssh ProxyJump is left to ssh" \
      '[ $rc -ne 0 ] && ! not_built && ! grep -q "cannot resolve the destination" "$tmp/err"'
else
    n=$((n+2)); echo "ok $((n-1)) # SKIP ssh is not installed (Debian package openssh-client)"
    echo "ok $n # SKIP ssh is not installed"
fi

run save --sim --sim-memory 1G "$tmp/no-such-dir/guest.save"
t "save into a missing directory fails before the guest is built" \
  '[ $rc -eq 1 ] && not_built && one_line && grep -q "no-such-dir" "$tmp/err" && [ ! -e "$tmp/no-such-dir" ]'
run save --sim --sim-memory 1G "$tmp"
t "save to a directory is a usage error before the guest is built" \
  '[ $rc -eq 2 ] && not_built && one_line && grep -q "is a directory" "$tmp/err"'
# /proc takes no new file, though root passes access(W_OK) on it
run save --sim --sim-memory 1G /proc/guest.save
t "save into a directory that takes no file (/proc, even as root) fails before the guest is built" \
  '[ $rc -eq 1 ] && not_built && one_line && grep -q "cannot create the save file ./proc/guest.save." "$tmp/err"'
mkdir "$tmp/ro" && chmod 0555 "$tmp/ro"
if [ -w "$tmp/ro" ]; then
    n=$((n+1)); echo "ok $n # SKIP running as root: every directory is writable"
else
    run save --sim --sim-memory 1G "$tmp/ro/guest.save"
    t "save into a read-only directory fails before the guest is built" \
      '[ $rc -eq 1 ] && not_built && one_line && grep -q "Permission denied" "$tmp/err" && [ ! -e "$tmp/ro/guest.save" ]'
fi

run migrate --sim --sim-memory 1G --data-host 192.0.2.1 localhost
t "a --data-host that is not this (the destination's) address is refused first" \
  '[ $rc -eq 2 ] && not_built && one_line && grep -q "192.0.2.1. is not an address of the destination" "$tmp/err"'
run migrate --sim --sim-memory 1G --data-host no-such-host.invalid localhost
t "an unresolvable --data-host is refused first" \
  '[ $rc -eq 2 ] && not_built && one_line && grep -q "cannot resolve --data-host" "$tmp/err"'

# contradictions: usage errors, one line each
contra() {  # DESCRIPTION PATTERN ARGS...
    d=$1 p=$2; shift 2
    run "$@"
    t "$d is refused" '[ $rc -eq 2 ] && not_built && one_line && grep -q -- "$p" "$tmp/err"'
}
contra "--engine xl with --sim" "--engine xl and --sim" migrate --engine xl --sim localhost
contra "a working set larger than the memory" "--sim-working-set '64M' is larger than" \
    migrate --sim --sim-memory 16M --sim-working-set 64M localhost
contra "a --sim-* option without --sim" "'--sim-memory' is an option of a simulated guest" \
    migrate --sim-memory 1G dom localhost
contra "--dry-run with --predict" "--dry-run and --predict" migrate --sim --dry-run --predict localhost
contra "--cipher with --no-encrypt" "--cipher chacha20-poly1305 and --no-encrypt" \
    migrate --sim --no-encrypt --cipher chacha20-poly1305 localhost
contra "--sim-memory that is no whole number of pages" "--sim-memory '5000'" \
    migrate --sim --sim-memory 5000 localhost
echo "1..$n"
exit $fail

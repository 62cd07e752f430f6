#!/bin/sh
# cluster.sh: clusters that change, end to end on host files made from
# real CPUs of the corpus: `cluster create` (files and --ssh), `remove`,
# `relevel` with the recorded domains it would leave behind, `add --ssh`
# and `add --relevel`, `host-dump --ssh`.  The remote path runs with -s, as
# the migration tests do: a fake ssh that "reaches" canned hosts (and, for
# host "local", runs this xl-ext's own host-dump), one that hangs (killed
# at --timeout) and one that is refused.  TAP output.
export XENMIG_CPUID_LEVELS_DIR="$XENMIG_SRCDIR/cpuid-policy/data/levels"
export XENMIG_CPUID_CORPUS="$XENMIG_SRCDIR/cpuid-policy/data/cpus/corpus.txt"
export XENMIG_GPU_LEVELS="$XENMIG_SRCDIR/cpuid-policy/data/gpu-levels"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export XENMIG_STATE_DIR="$tmp/state"
n=0; fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1
      sed 's/^/# /' "$tmp/out" "$tmp/err"; fi; }
run() { "$XL_EXT" cpuid-policy "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?; }
echo "1..46"

# host files of real CPUs, named as their hosts
for cpu in "Intel Xeon Gold 6148:skx" "Intel Xeon E5-2630 v3:hsw" \
           "Intel Ice Lake Server:icx" "AMD EPYC 7502 32-Core:rome"; do
    "$XL_EXT" cpuid-policy corpus --host-json "${cpu%:*}" |
        sed "s/\"hostname\": \"[^\"]*\"/\"hostname\": \"${cpu#*:}\"/" > "$tmp/${cpu#*:}.json"
done
# skx2: the same Skylake-SP dumped again after a microcode update took TSX (rtm) away
hvm=$(sed -n 's/.*"hvm_max": "\([0-9a-f:]*\)".*/\1/p' "$tmp/skx.json")
names=$("$XL_EXT" cpuid-policy decode --hex "$hvm" | sed -n 's/^names: //p' | sed 's/,rtm,/,/')
notsx=$("$XL_EXT" cpuid-policy decode --names "$names" | sed -n 's/^hex: //p')
sed "s/$hvm/$notsx/g; s/\"hostname\": \"skx\"/\"hostname\": \"skx2\"/" "$tmp/skx.json" > "$tmp/skx2.json"

# the fake ssh: fakessh [USER@]HOST COMMAND..., as `ssh HOST COMMAND` is run
cat > "$tmp/fakessh" <<'EOF'
#!/bin/sh
host=${1#*@}; shift
case "$host" in
dead*) echo "ssh: connect to host $host port 22: Connection refused" >&2; exit 255 ;;
hang*) exec cat ;;      # never answers: its stdin stays open until it is killed
esac
[ "$*" = "xl-ext cpuid-policy host-dump" ] || { echo "fakessh: not the host-dump command: $*" >&2; exit 127; }
[ "$host" = local ] && exec "$XL_EXT" cpuid-policy host-dump
exec cat "$FAKESSH_HOSTS/$host.json"
EOF
chmod +x "$tmp/fakessh"
export FAKESSH_HOSTS="$tmp"
ssh="-s $tmp/fakessh"

# ---- cluster create ----
run cluster create "$tmp/c.json" "$tmp/skx.json" "$tmp/hsw.json" "$tmp/icx.json"
t "create: three hosts, not subsets of one another" '[ $rc -eq 0 ] && grep -q "^created cluster .c. (3 member(s)): baseline [0-9]* features, highest levels: x86-64-v3, intel-haswell, libvirt:Haswell-noTSX$" "$tmp/out"'
run cluster show "$tmp/c.json"
t "create: the file is version 1 with the three members" '[ $rc -eq 0 ] && grep -qx "version: 1" "$tmp/out" && grep -qx "members: 3" "$tmp/out" && grep -q "^member: icx " "$tmp/out"'
base_c=$(sed -n 's/^baseline: //p' "$tmp/out")
base_b=$("$XL_EXT" cpuid-policy cluster baseline "$tmp/skx.json" "$tmp/hsw.json" "$tmp/icx.json" | sed -n 's/^baseline: //p')
t "create: the baseline is the intersection" '[ -n "$base_c" ] && [ "$base_c" = "$base_b" ]'
cp "$tmp/c.json" "$tmp/c.before"
run cluster create "$tmp/c.json" "$tmp/skx.json"
t "create: an existing file exits 1 and stays" '[ $rc -eq 1 ] && grep -q "exists" "$tmp/err" && cmp -s "$tmp/c.json" "$tmp/c.before"'
run cluster create "$tmp/mix.json" "$tmp/skx.json" "$tmp/rome.json"
t "create: a vendor mix exits 4, no file" '[ $rc -eq 4 ] && grep -q "one vendor" "$tmp/err" && [ ! -e "$tmp/mix.json" ]'
run cluster create "$tmp/dup.json" "$tmp/skx.json" "$tmp/skx.json"
t "create: two hosts of one name exit 3 naming both" '[ $rc -eq 3 ] && grep -q "are both host .skx." "$tmp/err" && [ ! -e "$tmp/dup.json" ]'
run cluster create "$tmp/none.json"
t "create: no host is a usage error" '[ $rc -eq 2 ]'
run cluster create --help
t "create --help" '[ $rc -eq 0 ] && grep -q "^Usage: xl-ext cpuid-policy cluster create" "$tmp/out"'

# ---- the remote path: --ssh with -s ----
run cluster create "$tmp/r.json" $ssh --ssh skx --ssh root@hsw --ssh icx
t "create --ssh: three remote hosts" '[ $rc -eq 0 ] && grep -q "(3 member(s)).*x86-64-v3, intel-haswell, libvirt:Haswell-noTSX$" "$tmp/out"'
run cluster show "$tmp/r.json"
t "create --ssh: the same baseline as from the files" '[ "$(sed -n "s/^baseline: //p" "$tmp/out")" = "$base_c" ]'
run cluster create "$tmp/p.json" $ssh --ssh skx --ssh dead1 --ssh hang1 --ssh icx --timeout 1
t "create --ssh: unreachable hosts make exit 9" '[ $rc -eq 9 ]'
t "the refused host is named with ssh's reason" 'grep -q "host .dead1. could not be reached: exit status 255: ssh: connect to host dead1 port 22: Connection refused" "$tmp/err"'
t "the silent host is killed at --timeout and named" 'grep -q "host .hang1. could not be reached: no answer within 1 s (killed)" "$tmp/err"'
t "the others still count" 'grep -q "^created cluster .p. (2 member(s)).*x86-64-v4, intel-skylake-server, libvirt:Skylake-Server$" "$tmp/out"'
run cluster create "$tmp/q.json" $ssh --ssh dead1 --ssh dead2
t "create --ssh: no host reached exits 1, no file" '[ $rc -eq 1 ] && [ ! -e "$tmp/q.json" ]'
run cluster create "$tmp/e.json" -s "" --ssh "cat $tmp/skx.json" --ssh "cat $tmp/icx.json"
t "create -s '': HOST is the whole command, as xl migrate -s ''" '[ $rc -eq 0 ] && grep -q "(2 member(s))" "$tmp/out"'
run cluster create "$tmp/l.json" $ssh --ssh local
t "create --ssh: the remote end runs xl-ext's own host-dump" '[ $rc -eq 0 ] && grep -q "(1 member(s))" "$tmp/out"'
run cluster create "$tmp/t.json" $ssh --ssh skx --timeout 0
t "create: --timeout 0 is a usage error" '[ $rc -eq 2 ] && grep -q "timeout" "$tmp/err"'

# ---- host-dump --ssh ----
run host-dump $ssh --ssh icx
t "host-dump --ssh: the remote host's file on stdout" '[ $rc -eq 0 ] && grep -q "\"hostname\": \"icx\"" "$tmp/out"'
run host-dump $ssh --ssh icx --hostname icx-renamed -o "$tmp/renamed.json"
t "host-dump --hostname names it" '[ $rc -eq 0 ] && grep -q "\"hostname\": \"icx-renamed\"" "$tmp/renamed.json"'
run host-dump $ssh --ssh skx --ssh hsw --ssh dead3 -o "$tmp/dumps"
t "host-dump --ssh of several: DIR/HOST.json each, exit 9 for the unreachable one" '[ $rc -eq 9 ] && [ -s "$tmp/dumps/skx.json" ] && [ -s "$tmp/dumps/hsw.json" ] && grep -q "dead3" "$tmp/err"'
run host-dump $ssh --ssh skx --ssh hsw
t "host-dump: several --ssh without -o DIR is a usage error" '[ $rc -eq 2 ]'
run host-dump -s "$tmp/fakessh"
t "host-dump: -s without --ssh is a usage error" '[ $rc -eq 2 ]'
run host-dump --help
t "host-dump --help" '[ $rc -eq 0 ] && grep -q -- "--ssh \[USER@\]HOST" "$tmp/out"'

# ---- cluster add --ssh, several hosts ----
run cluster add "$tmp/a.json" $ssh --ssh hsw --ssh skx
t "add --ssh: two hosts into a new cluster" '[ $rc -eq 0 ] && [ "$(grep -c "^added " "$tmp/out")" -eq 2 ]'
cp "$tmp/a.json" "$tmp/a.before"
run cluster add "$tmp/a.json" "$tmp/icx.json" $ssh --ssh rome
t "add: one refused host of two: exit 4, nothing written" '[ $rc -eq 4 ] && grep -q "host .rome. is amd" "$tmp/err" && cmp -s "$tmp/a.json" "$tmp/a.before"'
run cluster add "$tmp/a.json" $ssh --ssh skx --ssh dead4
t "add --ssh: an unreachable host makes exit 9, the other is added" '[ $rc -eq 9 ] && grep -q "^added .skx." "$tmp/out" && grep -q "dead4" "$tmp/err"'
run cluster add --help
t "add --help" '[ $rc -eq 0 ] && grep -q -- "--relevel" "$tmp/out"'

# ---- remove ----
run cluster remove "$tmp/c.json" hsw
t "remove: the member leaves, the baseline stays" '[ $rc -eq 0 ] && grep -q "2 left" "$tmp/out"'
run cluster show "$tmp/c.json"
t "remove: shown" '! grep -q "^member: hsw" "$tmp/out" && [ "$(sed -n "s/^baseline: //p" "$tmp/out")" = "$base_c" ] && grep -qx "version: 2" "$tmp/out"'
cp "$tmp/c.json" "$tmp/c.before"
run cluster remove "$tmp/c.json" nosuch
t "remove: an unknown member exits 3, nothing written" '[ $rc -eq 3 ] && grep -q "no member .nosuch." "$tmp/err" && cmp -s "$tmp/c.json" "$tmp/c.before"'
run cluster remove --help
t "remove --help" '[ $rc -eq 0 ] && grep -q "^Usage: xl-ext cpuid-policy cluster remove" "$tmp/out"'

# ---- relevel, with the recorded domains it would leave behind ----
# records as xl-ext create leaves them (XENMIG_STATE_DIR/domain-UUID/KEY)
record() {  # UUID BASELINE [FEATURESET]
    mkdir -p "$XENMIG_STATE_DIR/domain-$1"
    printf '%s' "$2" > "$XENMIG_STATE_DIR/domain-$1/cpuid_baseline"
    [ -z "${3:-}" ] || printf '%s' "$3" > "$XENMIG_STATE_DIR/domain-$1/cpuid_featureset"
}
run cluster relevel "$tmp/c.json"
t "relevel --auto: after the Haswell left, up to what Skylake-SP and Ice Lake share" '[ $rc -eq 0 ] && grep -q "^relevelled cluster .c. (2 member(s)).*(was [0-9]*), highest levels: x86-64-v4, intel-skylake-server, libvirt:Skylake-Server$" "$tmp/out"'
skx_base=$("$XL_EXT" cpuid-policy cluster show "$tmp/c.json" | sed -n 's/^baseline: //p')
record 11111111-1111-1111-1111-111111111111 cluster "$skx_base"
record 22222222-2222-2222-2222-222222222222 x86-64-v3
record 33333333-3333-3333-3333-333333333333 x86-64-v4
cp "$tmp/c.json" "$tmp/c.before"
run cluster relevel "$tmp/c.json" --to x86-64-v3
t "relevel --to a lower level: refused with exit 4" '[ $rc -eq 4 ] && cmp -s "$tmp/c.json" "$tmp/c.before"'
t "it names the domain levelled to the cluster, with what it would lose" 'grep -q "^uncovered: domain-11111111-1111-1111-1111-111111111111 baseline=cluster missing=.*avx512f" "$tmp/out"'
t "and the one levelled to x86-64-v4" 'grep -q "^uncovered: domain-33333333-3333-3333-3333-333333333333 baseline=x86-64-v4 missing=avx512f,avx512dq,avx512cd,avx512bw,avx512vl$" "$tmp/out"'
t "not the one levelled to x86-64-v3" '! grep -q "22222222" "$tmp/out" && grep -q "leaves 2 recorded domain(s) behind" "$tmp/err"'
run cluster relevel "$tmp/c.json" --to x86-64-v3 --domains "$tmp/empty"
t "relevel --domains DIR that does not exist exits 1" '[ $rc -eq 1 ] && grep -q "empty" "$tmp/err"'
mkdir "$tmp/empty"
run cluster relevel "$tmp/c.json" --to x86-64-v3 --domains "$tmp/empty"
t "relevel --domains DIR without records: lowered" '[ $rc -eq 0 ] && grep -q "^relevelled" "$tmp/out"'
cp "$tmp/c.before" "$tmp/c.json"
run cluster relevel "$tmp/c.json" --to x86-64-v3 --force
t "relevel --force: written anyway, the domains still listed" '[ $rc -eq 0 ] && [ "$(grep -c "^uncovered: " "$tmp/out")" -eq 2 ] && grep -q "^relevelled" "$tmp/out" && grep -q "x86-64-v3" "$tmp/c.json"'
run cluster relevel "$tmp/c.json" --to x86-64-v9
t "relevel to an unknown level exits 3" '[ $rc -eq 3 ] && grep -q "x86-64-v9" "$tmp/err"'
run cluster relevel "$tmp/c.json" --to x86-64-v3 --auto
t "relevel --to with --auto is a usage error" '[ $rc -eq 2 ]'
run cluster relevel --help
t "relevel --help" '[ $rc -eq 0 ] && grep -q "uncovered: NAME baseline=BASELINE missing=FEATURE" "$tmp/out"'

# ---- add --relevel: the Skylake-SP host without TSX ----
rm -rf "$XENMIG_STATE_DIR"
run cluster create "$tmp/tsx.json" "$tmp/skx.json" "$tmp/icx.json"
tsx_base=$("$XL_EXT" cpuid-policy cluster show "$tmp/tsx.json" | sed -n 's/^baseline: //p')
record 44444444-4444-4444-4444-444444444444 cluster "$tsx_base"
run cluster add "$tmp/tsx.json" "$tmp/skx2.json"
t "add: the host without rtm is refused" '[ $rc -eq 4 ] && grep -qx "missing: rtm" "$tmp/out"'
run cluster add "$tmp/tsx.json" "$tmp/skx2.json" --relevel
t "add --relevel: the domain levelled to the cluster would lose rtm: exit 4" '[ $rc -eq 4 ] && grep -qx "uncovered: domain-44444444-4444-4444-4444-444444444444 baseline=cluster missing=rtm" "$tmp/out"'
run cluster add "$tmp/tsx.json" "$tmp/skx2.json" --relevel --force
t "add --relevel --force: added, the baseline lowered by rtm" '[ $rc -eq 0 ] && grep -q "^added .skx2." "$tmp/out" && grep -q "^relevelled cluster .tsx. (3 member(s)): baseline [0-9]* features (was [0-9]*)" "$tmp/out"'
exit $fail

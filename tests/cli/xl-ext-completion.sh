#!/bin/bash
# xl-ext's bash completion (xl-ext/completion/xl-ext): sourced into bash,
# asked to complete a few command lines against the built xl-ext, with a
# stand-in `xl` on PATH whose `xl help` and `xl list` are known.
[ -n "${BASH_VERSION:-}" ] || {
    command -v bash >/dev/null || { echo "bash is not installed" >&2; exit 77; }
    exec bash "$0" "$@"
}
srcdir=${XENMIG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
XL_EXT=${XL_EXT:-$srcdir/build/xl-ext/xl-ext}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir "$work/bin" "$work/files"
cat > "$work/bin/xl" <<'EOF'
#!/bin/sh
case "$1" in
help) printf 'Usage xl [-vfN] <subcommand> [args]\n\nxl full list of subcommands:\n\n list          List information about all/some domains\n destroy       Terminate a domain immediately\n' ;;
list) printf 'Name                                        ID   Mem VCPUs\tState\tTime(s)\nDomain-0                                     0  1024     2     r-----      10.0\nweb1                                         3   512     1     -b----       1.0\ndb2                                          4   512     1     -b----       1.0\n' ;;
*) exit 1 ;;
esac
EOF
chmod +x "$work/bin/xl"
: > "$work/files/web.cfg"
: > "$work/files/stream.xl"
PATH=$work/bin:$PATH
cd "$work/files" || exit 1
# shellcheck source=/dev/null
. "$srcdir/xl-ext/completion/xl-ext"

# complete WORD...: what _xl_ext offers for the last word, sorted, on one line
complete_line() {
    COMP_WORDS=("$XL_EXT" "$@")
    COMP_CWORD=$#
    COMP_LINE="xl-ext $*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _xl_ext 2>/dev/null
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}

n=0 fail=0
# expect DESCRIPTION WANTED WORD...: the completions of WORD... are exactly WANTED
expect() {
    local what=$1 want=$2 got
    shift 2
    n=$((n + 1))
    got=$(complete_line "$@")
    if [ "$got" = "$want" ]; then
        echo "ok $n - $what"
    else
        echo "not ok $n - $what"
        echo "#   xl-ext $*<TAB>: wanted '$want', got '$got'"
        fail=1
    fi
}
# expect_has DESCRIPTION WANTED WORD...: the completions include every word of WANTED
expect_has() {
    local what=$1 want=$2 got word missing=""
    shift 2
    n=$((n + 1))
    got=" $(complete_line "$@") "
    for word in $want; do
        case "$got" in *" $word "*) ;; *) missing="$missing $word" ;; esac
    done
    if [ -z "$missing" ]; then
        echo "ok $n - $what"
    else
        echo "not ok $n - $what"
        echo "#   xl-ext $*<TAB>: missing$missing in '$got'"
        fail=1
    fi
}

echo "1..26"
expect "a prefix of owned commands" "migrate migrate-receive" mig
expect_has "every owned command and xl's own" \
    "help version stream-dump cpuid-policy create gpu-probe migrate migrate-receive save list destroy" ""
expect "a long option of migrate" "--streams" migrate --str
expect "the values of --tracing" "loose stop" migrate --tracing ""
expect "the values of --cipher" "aes-256-gcm auto chacha20-poly1305" migrate --cipher ""
expect "the values of --sim-fill" "random realistic" migrate --sim --sim-fill r
expect "migrate's --policy" "downtime xen-default" migrate --policy ""
expect "cluster baseline's --policy" "host hvm_max pv_max" cpuid-policy cluster baseline --policy ""
expect "--option=value" "loose" migrate --tracing = l
expect "migrate's domain comes from xl list, without dom0" "db2 web1" migrate ""
expect "an option's value is not the domain" "db2 web1" migrate --streams 4 --max-downtime 100 ""
expect "save's first argument is a domain" "web1" save w
expect "save --sim takes migrate's options" "--sim-memory" save --sim --sim-m
expect "--option=value is skipped as one" "db2 web1" migrate --tracing = loose ""
expect "cpuid-policy's subcommands" "check cluster corpus decode features host-dump levels report" cpuid-policy ""
expect "cluster's subcommands" "pin pin-gpu" cpuid-policy cluster pi
expect "check's options" "--baseline --cluster --host" cpuid-policy check --
expect_has "levels --show offers the named levels" "x86-64-v1 x86-64-v2 x86-64-v3 x86-64-v4" \
    cpuid-policy levels --show x86-64-v
expect "stream-dump --rewrite takes a file" "stream.xl" stream-dump --rewrite st
expect "save's --format values" "mapped xl" save --sim --format ""
expect "convert's --format is xl" "xl" convert --format ""
expect "restore takes a file" "stream.xl" restore --streams 2 st
expect "restore's own options" "--sim --streams" restore --s
expect "create's config, then its keys" "cpuid_baseline=" create web.cfg cpu
expect "help offers the owned commands" "gpu-probe" help gpu
expect "an xl command gets bash's default completion" "" list ""
exit $fail

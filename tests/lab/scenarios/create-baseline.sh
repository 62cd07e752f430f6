#!/bin/sh
# create-baseline.sh GUEST.cfg: `xl-ext create` on a real Xen host (dom0 of
# the lab, with xl-ext on PATH).  TAP output.
#   1. with a baseline this host meets (x86-64-v1, which qemu64 has): the
#      domain starts, its policy read back has nothing beyond the baseline
#      beyond what Xen itself controls, and xenstore holds
#      /local/domain/DOMID/xenmig/{cpuid_baseline,cpuid_featureset};
#   2. after stock xl save + xl restore (new domid, same UUID): check by name
#      finds the recorded baseline and the domain's policy still within it;
#      and the same after a stock xl live migration;
#   3. with x86-64-v3, which the lab's qemu64 CPU cannot meet: exit 4 with
#      "missing: avx2" among the missing features, and no domain started.
# GUEST.cfg is any bootable guest config; its name is replaced by
# xenmig-create-<pid> through a KEY=VALUE override, so a running guest of
# the same config is not touched.
set -u
cfg=${1:?usage: create-baseline.sh GUEST.cfg}
name="xenmig-create-$$"
out=$(mktemp) err=$(mktemp)
n=0 fail=0
trap 'xl destroy "$name" >/dev/null 2>&1; rm -f "$out" "$err"' EXIT
t() {
    n=$((n + 1))
    if eval "$2"; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"; sed 's/^/# /' "$out" "$err"; fail=1
    fi
}
echo "1..15"
if [ ! -e /proc/xen ] || ! command -v xl >/dev/null || ! command -v xl-ext >/dev/null; then
    echo "# needs dom0 with xl and xl-ext on PATH"
    i=0; while [ $i -lt 15 ]; do i=$((i + 1)); echo "ok $i # SKIP not a Xen dom0"; done
    exit 0
fi

xl-ext create "$cfg" "name=\"$name\"" 'cpuid_baseline="x86-64-v1"' >"$out" 2>"$err"
rc=$?
t "create with x86-64-v1 exits 0" '[ $rc -eq 0 ]'
t "and says the domain is within its baseline" 'grep -q "^created: domain .$name. ([0-9]*) within baseline .x86-64-v1." "$out"'
t "nothing beyond the baseline was read back" '! grep -q "^exceeds: " "$out"'
domid=$(xl domid "$name" 2>/dev/null)
t "the domain runs" '[ -n "$domid" ]'
t "xenstore records the baseline name" '[ "$(xenstore-read /local/domain/$domid/xenmig/cpuid_baseline 2>/dev/null)" = x86-64-v1 ]'
fs=$(xenstore-read "/local/domain/$domid/xenmig/cpuid_featureset" 2>/dev/null)
want=$(xl-ext cpuid-policy levels --show x86-64-v1 | sed -n 's/^feature: //p' | tr '\n' ' ')
# has_all "LIST" "NAMES,COMMA,SEPARATED": every word of LIST is one of NAMES.
has_all() {
    for f in $1; do
        case ",$2," in *",$f,"*) ;; *) return 1;; esac
    done
}
got=$(xl-ext cpuid-policy decode --hex "$fs" 2>/dev/null | sed -n 's/^names: //p')
t "and its featureset, which decodes to the level" '[ -n "$fs" ] && has_all "$want" "$got"'
# Save and restore with stock xl: a new domid, the same UUID.  The record
# kept by UUID names the baseline again, and the restored domain still runs
# within it (its levelled policy travelled inside the save file).
host_json=$(mktemp)
xl-ext cpuid-policy host-dump -o "$host_json" 2>/dev/null
timeout 120 xl save "$name" /tmp/xenmig-create.save >"$out" 2>"$err" &&
    timeout 120 xl restore /tmp/xenmig-create.save >>"$out" 2>>"$err"
rc=$?
rm -f /tmp/xenmig-create.save
t "xl save + xl restore of the levelled domain" '[ $rc -eq 0 ] && [ "$(xl domid "$name" 2>/dev/null)" != "$domid" ]'
xl-ext cpuid-policy check "$name" --host "$host_json" >"$out" 2>"$err"
rc=$?
t "after restore, check names the recorded baseline" '[ $rc -eq 0 ] && grep -q "baseline .x86-64-v1." "$out"'
t "and the restored domain runs within it" 'grep -q "^domain policy: .$name. ([0-9]*) runs within its recorded baseline .x86-64-v1." "$out"'
t "nothing beyond the baseline after restore" '! grep -q "^exceeds: " "$out"'
# Live migration with stock xl (to this host: the lab has one): the policy
# travels in the stream's CPUID record, the UUID stays.
before=$(xl domid "$name" 2>/dev/null)
timeout 300 xl migrate -s "" "$name" "xl migrate-receive" >"$out" 2>"$err"
rc=$?
t "xl migrate of the levelled domain" '[ $rc -eq 0 ] && [ "$(xl domid "$name" 2>/dev/null)" != "$before" ]'
xl-ext cpuid-policy check "$name" --host "$host_json" >"$out" 2>"$err"
rc=$?
t "after migration, check names the recorded baseline" '[ $rc -eq 0 ] && grep -q "baseline .x86-64-v1." "$out"'
t "and the migrated domain runs within it" 'grep -q "^domain policy: .$name. ([0-9]*) runs within its recorded baseline .x86-64-v1." "$out" && ! grep -q "^exceeds: " "$out"'
rm -f "$host_json"
xl destroy "$name" >/dev/null 2>&1

xl-ext create "$cfg" "name=\"$name\"" 'cpuid_baseline="x86-64-v3"' >"$out" 2>"$err"
rc=$?
t "create with x86-64-v3 on qemu64 exits 4" '[ $rc -eq 4 ]'
t "listing avx2 among the missing, and no domain started" 'grep -qx "missing: avx2" "$out" && ! xl domid "$name" >/dev/null 2>&1'
exit $fail

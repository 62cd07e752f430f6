#!/bin/sh
# demo-quiet.sh: scripts/demo's set-up is quiet (a line per step, the
# output in its log), shows a failed step's output and the log's name,
# explains xen-utils' "Can't find hypervisor information in sysfs!" as
# harmless, and ends with the migration's result and what to try next.
# Its steps are replaced through the environment (no apt, no build here);
# the migration is a fake xl-ext that prints a summary line.
src=${XENMIG_SRCDIR:-$(dirname "$0")/../..}
n=0; fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1
      sed 's/^/# /' "$tmp/out"; fi; }
cat > "$tmp/xl-ext" <<'FAKE'
#!/bin/sh
echo "$*" > "${0%/*}/ran"
echo "xl-ext migrate: result=${FAKE_RESULT:-ok} total=1.005s downtime=68.5ms target=300ms rounds=2 bytes=1 pages=2 stall_total=9.9ms verified=yes"
exit ${FAKE_RC:-0}
FAKE
chmod +x "$tmp/xl-ext"
export XENMIG_DEMO_LOG="$tmp/demo.log" XENMIG_DEMO_XL_EXT="$tmp/xl-ext"
install_noise='echo "Setting up xen-utils-4.17"; echo "ERROR:  Can'"'"'t find hypervisor information in sysfs!"'
demo() { sh "$src/scripts/demo" </dev/null >"$tmp/out" 2>&1; rc=$?; }
echo "1..11"

XENMIG_DEMO_INSTALL=$install_noise XENMIG_DEMO_BUILD='echo "compiling libmig"' demo
t "a demo that went through exits 0" '[ $rc -eq 0 ]'
t "one line per set-up step, none of their output" \
  '[ "$(grep -c "^demo: .* \.\.\. done ([0-9]* s)$" "$tmp/out")" -eq 2 ] &&
   ! grep -q "Setting up\|compiling libmig" "$tmp/out"'
t "the steps' output is in the log it names" \
  'grep -q "^demo: set-up output goes to $tmp/demo.log$" "$tmp/out" &&
   grep -q "^Setting up xen-utils-4.17$" "$tmp/demo.log" && grep -q "^compiling libmig$" "$tmp/demo.log"'
t "xen-utils' sysfs ERROR is explained as harmless, in one line" \
  '[ "$(grep -c "hypervisor information in sysfs.*harmless on a machine without Xen" "$tmp/out")" -eq 1 ]'
t "the migration ran with the demo's options" \
  'grep -q "^migrate --sim --sim-memory 1G .* localhost$" "$tmp/ran"'
t "it ends with the result and what to try next" \
  'grep -q "^demo: result: the guest moved in 1.005s with 68.5ms of downtime (target 300ms), 2 pre-copy round(s); memory verified=yes$" "$tmp/out" &&
   grep -q "^demo: try next:$" "$tmp/out" && tail -n 1 "$tmp/out" | grep -q "scripts/test"'
t "what to try next: each command's description in one column" \
  '[ "$(sed -n "/^demo: try next:$/,\$p" "$tmp/out" | tail -n +2 | wc -l)" -ge 3 ] &&
   [ "$(sed -n "/^demo: try next:$/,\$p" "$tmp/out" | tail -n +2 |
        awk "{ match(substr(\$0, 3), /  +/); print RSTART + RLENGTH }" | sort -u | wc -l)" -eq 1 ]'

rm -f "$tmp/ran"
XENMIG_DEMO_INSTALL='echo "apt: fine"' XENMIG_DEMO_BUILD='echo "cc: compiling"; echo "cc: error: boom" >&2; exit 3' demo
t "a failed step exits with its status, naming it and the log" \
  '[ $rc -eq 3 ] && grep -q "^demo: building .* \.\.\. FAILED (exit 3)$" "$tmp/out" &&
   grep -q "the whole log: $tmp/demo.log" "$tmp/out"'
t "a failed step's output is shown, an earlier step's is not" \
  'grep -q "^  | cc: error: boom$" "$tmp/out" && grep -q "^  | cc: compiling$" "$tmp/out" &&
   ! grep -q "apt: fine" "$tmp/out" && ! grep -q "harmless" "$tmp/out"'
t "no migration after a failed step" '[ ! -e "$tmp/ran" ]'

FAKE_RC=1 FAKE_RESULT=failed XENMIG_DEMO_INSTALL=true XENMIG_DEMO_BUILD=true demo
t "a failed migration exits with its status and says so" \
  '[ $rc -eq 1 ] && grep -q "^demo: the migration did not succeed (exit 1, result=failed)" "$tmp/out" &&
   ! grep -q "try next" "$tmp/out"'
exit $fail

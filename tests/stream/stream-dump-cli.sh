#!/bin/sh
# xl-ext stream-dump: the text listing, --json (every line parsed by
# python3's json module), --pages, stdin, and exit codes on bad input
# (3 with the decoded part on stdout and the error on stderr), missing
# files (1) and bad usage (2).
MKSTREAM="$XENMIG_BUILDDIR/tests/stream/mkstream"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
echo "1..23"
"$MKSTREAM" --format xl --guest hvm --pages 2500 --vcpus 1 "$tmp/hvm.xl"
"$MKSTREAM" --format libxc --guest pv --pages 40 --vcpus 3 "$tmp/pv.libxc"

out=$("$XL_EXT" stream-dump "$tmp/hvm.xl" 2>"$tmp/err"); rc=$?
t "text listing exits 0" '[ $rc -eq 0 ] && [ ! -s "$tmp/err" ]'
t "lists the xl header at offset 0" 'echo "$out" | grep -q "^0x00000000     0 xl header"'
t "lists 3 PAGE_DATA records" '[ "$(echo "$out" | grep -c "libxc PAGE_DATA")" -eq 3 ]'
t "first batch: pfn ranges around the VGA hole and type counts" \
  'echo "$out" | grep "libxc PAGE_DATA" | head -n 1 | grep -q "1024 pfns 0x0-0x3ff, 992 data pages; NOTAB 992 XTAB 32"'
t "lists HVM_CONTEXT, HVM_PARAMS and the emulator context" \
  'echo "$out" | grep -q "libxc HVM_CONTEXT" && echo "$out" | grep -q "6 params" && echo "$out" | grep -q "libxl EMULATOR_CONTEXT .*qemu-upstream"'
t "totals count 2500 pfns and the stream size" \
  'echo "$out" | tail -n 1 | grep -q "^total: xl save file, .* $(wc -c <"$tmp/hvm.xl") bytes; 3 PAGE_DATA records, 2500 pfns, 2468 data pages"'

"$XL_EXT" stream-dump --json "$tmp/hvm.xl" >"$tmp/json"; rc=$?
t "--json exits 0" '[ $rc -eq 0 ]'
t "--json: every line is a JSON object" \
  'python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$tmp/json"'
t "--json: items then totals, consistent with the file" \
  'python3 - "$tmp/json" "$(wc -c <"$tmp/hvm.xl")" <<PY
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
items, totals = lines[:-1], lines[-1]["totals"]
assert totals["format"] == "xl save file", totals
assert totals["pfns"] == 2500 and totals["data_pages"] == 2468, totals
assert totals["page_types"] == {"NOTAB": 2468, "XTAB": 32}, totals
assert totals["items"] == len(items) and totals["bytes"] == int(sys.argv[2])
assert sum(i["size"] for i in items) == int(sys.argv[2])
for a, b in zip(items, items[1:]):
    assert a["offset"] + a["size"] == b["offset"], (a, b)
pd = [i for i in items if i.get("type") == "PAGE_DATA"]
assert pd[0]["pfn_ranges"] == [[0, 1023]], pd[0]["pfn_ranges"]
assert pd[0]["page_types"] == {"NOTAB": 992, "XTAB": 32}, pd[0]
assert [i["item"] for i in items[:2]] == ["xl header", "libxl header"]
PY'

out=$("$XL_EXT" stream-dump --pages - <"$tmp/pv.libxc"); rc=$?
t "reads stdin (-) and lists PV records" \
  '[ $rc -eq 0 ] && echo "$out" | grep -q "libxc X86_PV_INFO .*64-bit guest, 4 page-table levels"'
t "--pages lists every pfn with its type" \
  '[ "$(echo "$out" | grep -c "^        pfn 0x")" -eq 40 ] && echo "$out" | grep -q "pfn 0x1 PINNED_L4TAB"'
t "PV vcpu records of 3 vcpus" '[ "$(echo "$out" | grep -c "X86_PV_VCPU_BASIC")" -eq 3 ]'

# bad input: truncated inside the second PAGE_DATA record
head -c 5000000 "$tmp/hvm.xl" >"$tmp/cut"
out=$("$XL_EXT" stream-dump "$tmp/cut" 2>"$tmp/err"); rc=$?
t "truncated file exits 3" '[ $rc -eq 3 ]'
t "the decoded part is listed before the error" '[ "$(echo "$out" | grep -c "libxc PAGE_DATA")" -eq 1 ]'
t "the error names record, offset and what was wrong" \
  'grep -q "record 9 (PAGE_DATA) at offset 0x[0-9a-f]*: body truncated" "$tmp/err"'
"$XL_EXT" stream-dump --json "$tmp/cut" >"$tmp/json" 2>/dev/null; rc=$?
t "--json on bad input exits 3 and ends with an error object" \
  '[ $rc -eq 3 ] && python3 -c "import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; assert l[-1][\"code\"]==\"ETRUNC\" and \"body truncated\" in l[-1][\"error\"]" "$tmp/json"'
printf 'GIF89a not a stream at all' >"$tmp/garbage"
"$XL_EXT" stream-dump "$tmp/garbage" >/dev/null 2>"$tmp/err"; rc=$?
t "garbage exits 3 and quotes the first bytes" '[ $rc -eq 3 ] && grep -q "47 49 46 38 39 61" "$tmp/err"'
: >"$tmp/empty"
"$XL_EXT" stream-dump "$tmp/empty" >/dev/null 2>"$tmp/err"; rc=$?
t "empty file exits 3" '[ $rc -eq 3 ] && grep -q "too short" "$tmp/err"'
"$XL_EXT" stream-dump "$tmp/no-such-file" >/dev/null 2>"$tmp/err"; rc=$?
t "missing file exits 3 (bad input) and quotes the name" '[ $rc -eq 3 ] && grep -q "cannot read stream .*no-such-file" "$tmp/err"'
"$XL_EXT" stream-dump >/dev/null 2>&1; rc=$?
t "no FILE is a usage error (2)" '[ $rc -eq 2 ]'
"$XL_EXT" stream-dump --bogus "$tmp/hvm.xl" >/dev/null 2>&1; rc=$?
t "an unknown option is a usage error (2)" '[ $rc -eq 2 ]'
"$XL_EXT" help | grep -q "^ stream-dump "; rc=$?
t "help lists stream-dump" '[ $rc -eq 0 ]'
"$XL_EXT" stream-dump --rewrite "$tmp/copy" "$tmp/pv.libxc" >/dev/null; rc=$?
t "--rewrite of a libxc stream is byte-identical" '[ $rc -eq 0 ] && cmp -s "$tmp/copy" "$tmp/pv.libxc"'
exit $fail

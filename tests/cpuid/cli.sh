#!/bin/sh
# cli.sh: `xl-ext cpuid-policy` end to end on host files made from real
# CPUs of the corpus: cluster baseline, vendor mix, cluster add refusing a
# weaker host, pin, check (0/4/3/2/5), report in three formats, host-dump,
# and bad input quoted with exit 3; libxml2 loaded only when a libvirt CPU
# map is read (glibc's LD_DEBUG=libs lists what the loader initialises).
export XENMIG_CPUID_LEVELS_DIR="$XENMIG_SRCDIR/cpuid-policy/data/levels"
export XENMIG_CPUID_CORPUS="$XENMIG_SRCDIR/cpuid-policy/data/cpus/corpus.txt"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0; fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
run() { "$XL_EXT" cpuid-policy "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?; }
echo "1..73"

for cpu in "Intel Xeon Gold 6148:skx" "Intel Xeon E5-2630 v3:hsw" \
           "Intel Ice Lake Server:icx" "AMD EPYC 7502 32-Core:rome"; do
    "$XL_EXT" cpuid-policy corpus --host-json "${cpu%:*}" > "$tmp/${cpu#*:}.json"
done
t "corpus writes host files" '[ -s "$tmp/skx.json" ] && grep -q "\"vendor\": \"amd\"" "$tmp/rome.json"'

run cluster baseline "$tmp/skx.json" "$tmp/hsw.json" "$tmp/icx.json"
t "cluster baseline exits 0" '[ $rc -eq 0 ]'
t "Skylake-SP + Haswell + Ice Lake level to Haswell" 'grep -q "^highest-levels: x86-64-v3, intel-haswell, " "$tmp/out"'
t "the baseline keeps avx2" 'grep -qx "feature: avx2" "$tmp/out"'
t "the baseline drops avx512f" '! grep -qx "feature: avx512f" "$tmp/out"'
run cluster baseline --json "$tmp/skx.json" "$tmp/icx.json"
t "cluster baseline --json" '[ $rc -eq 0 ] && grep -q "\"highest_levels\": \"x86-64-v4, intel-skylake-server, " "$tmp/out"'

run cluster baseline "$tmp/skx.json" "$tmp/rome.json"
t "a vendor mix exits 4" '[ $rc -eq 4 ]'
t "and names both hosts" 'grep -q "vendor mix: .Intel Xeon Gold 6148. is intel but .AMD EPYC 7502 32-Core. is amd" "$tmp/err"'

run cluster add "$tmp/c.json" "$tmp/skx.json"
t "cluster add creates the cluster" '[ $rc -eq 0 ] && [ -s "$tmp/c.json" ]'
cp "$tmp/c.json" "$tmp/c.before"
run cluster add "$tmp/c.json" "$tmp/hsw.json"
t "adding a weaker host exits 4" '[ $rc -eq 4 ]'
t "and lists what it lacks" 'grep -qx "missing: avx512f" "$tmp/out" && grep -qx "missing: avx512vl" "$tmp/out"'
t "the message names the host" 'grep -q "host .Intel Xeon E5-2630 v3. lacks" "$tmp/err"'
t "the cluster file is unchanged" 'cmp -s "$tmp/c.json" "$tmp/c.before"'
run cluster add "$tmp/c.json" "$tmp/rome.json"
t "adding another vendor exits 4" '[ $rc -eq 4 ] && grep -q "a cluster has one vendor" "$tmp/err"'
run cluster pin "$tmp/c.json" x86-64-v3
t "pinning to x86-64-v3" '[ $rc -eq 0 ]'
run cluster add "$tmp/c.json" "$tmp/hsw.json"
t "now the Haswell host fits" '[ $rc -eq 0 ]'
run cluster show "$tmp/c.json"
t "cluster show" '[ $rc -eq 0 ] && grep -qx "members: 2" "$tmp/out" && grep -qx "pinned-level: x86-64-v3" "$tmp/out"'
t "cluster show: the file's version and content hash" 'grep -qx "version: 3" "$tmp/out" && grep -qE "^content-hash: sha256:[0-9a-f]{64}$" "$tmp/out"'
sed 's/"Intel Xeon E5-2630 v3"/"hsw by hand"/' "$tmp/c.json" > "$tmp/hand.json"
run cluster show "$tmp/hand.json"
t "cluster show: a file edited by hand says so" '[ $rc -eq 0 ] && grep -q "^content-hash: sha256:.* (the file states sha256:.*: changed by hand since xl-ext wrote it)" "$tmp/out"'
run cluster pin "$tmp/c.json" x86-64-v4
t "pinning above a member exits 4" '[ $rc -eq 4 ] && grep -qx "missing: avx512f" "$tmp/out"'
run cluster pin "$tmp/c.json" x86-64-v9
t "pinning an unknown level exits 3" '[ $rc -eq 3 ] && grep -q "x86-64-v9" "$tmp/err"'

printf 'name = "db"\ntype = "hvm"\ncpuid_baseline = "x86-64-v4"\n' > "$tmp/db.cfg"
printf 'name = "web"\ntype = "pvh"\ncpuid_baseline = "cluster"\n' > "$tmp/web.cfg"
printf 'name = "legacy"\ncpuid_baseline = "intel-pentium4"\n' > "$tmp/bad.cfg"
printf 'name = "free"\n' > "$tmp/free.cfg"
run check "$tmp/db.cfg" --host "$tmp/hsw.json"
t "check: x86-64-v4 on Haswell exits 4" '[ $rc -eq 4 ]'
t "with exactly the five AVX-512 features" '[ "$(grep -c "^missing: " "$tmp/out")" -eq 5 ] && grep -qx "missing: avx512bw" "$tmp/out"'
t "and a summary" 'grep -q "lacks 5 of the 31 features of domain .db. baseline .x86-64-v4." "$tmp/err"'
run check "$tmp/db.cfg" --host "$tmp/icx.json"
t "check: x86-64-v4 on Ice Lake exits 0" '[ $rc -eq 0 ] && grep -q "^compatible: " "$tmp/out"'
run check "$tmp/web.cfg" --host "$tmp/hsw.json" --cluster "$tmp/c.json"
t "check: the cluster baseline on a member exits 0" '[ $rc -eq 0 ]'
run check "$tmp/web.cfg" --host "$tmp/hsw.json"
t "check: baseline cluster without --cluster exits 3" '[ $rc -eq 3 ] && grep -q -- "--cluster" "$tmp/err"'
run check "$tmp/bad.cfg" --host "$tmp/hsw.json"
t "check: an unknown baseline exits 3 quoting it" '[ $rc -eq 3 ] && grep -q "intel-pentium4" "$tmp/err"'
run check "$tmp/free.cfg" --host "$tmp/hsw.json"
t "check: no baseline is compatible" '[ $rc -eq 0 ] && grep -q "no cpuid_baseline" "$tmp/out"'
run check "$tmp/db.cfg"
t "check without --host exits 2" '[ $rc -eq 2 ]'
run check "$tmp/db.cfg" --host "$tmp/skx.json" --baseline amd-zen2
t "check --baseline overrides the config" '[ $rc -eq 4 ] && grep -qx "missing: clzero" "$tmp/out"'
# cpuid_baseline may be Xen's 19 hex words in the xl.cfg too (README: "a
# level, cluster or hex words"): check and report read them as --baseline does.
skx_hex=$("$XL_EXT" cpuid-policy cluster baseline "$tmp/skx.json" | sed -n "s/^baseline: //p")
printf 'name = "hexdb"\ntype = "hvm"\ncpuid_baseline = "%s"\n' "$skx_hex" > "$tmp/hex.cfg"
run check "$tmp/hex.cfg" --host "$tmp/skx.json"
t "check: hex words in the xl.cfg, on the host they came from, exit 0" '[ $rc -eq 0 ] && grep -q "^compatible: " "$tmp/out"'
run check "$tmp/hex.cfg" --host "$tmp/hsw.json"
t "check: hex words in the xl.cfg on Haswell exit 4 with the AVX-512 lines" '[ $rc -eq 4 ] && grep -qx "missing: avx512f" "$tmp/out"'
run report --host "$tmp/skx.json" --host "$tmp/hsw.json" "$tmp/hex.cfg"
t "report reads hex words from the xl.cfg" '[ $rc -eq 0 ] && grep -E "^hexdb +hvm +hex \([0-9]+ features\) +- +yes +no \([0-9]+\)" "$tmp/out" >/dev/null'
if [ ! -e /proc/xen ]; then
    run check no-such-domain --host "$tmp/hsw.json"
    t "check of a domain name without Xen exits 5" '[ $rc -eq 5 ]'
else
    t "check of a domain name without Xen (skipped: this is a Xen host) # SKIP" 'true'
fi

run report --cluster "$tmp/c.json" --host "$tmp/icx.json" "$tmp/db.cfg" "$tmp/web.cfg" "$tmp/free.cfg"
t "report exits 0" '[ $rc -eq 0 ]'
t "report: db fits Ice Lake and Skylake-SP, not Haswell" 'grep -E "^db +hvm +x86-64-v4 +- +yes +yes +no \(5\)" "$tmp/out" >/dev/null'
t "report: each host has its highest level" 'grep -E "^Intel Ice Lake Server +intel +x86-64-v4, intel-icelake-server" "$tmp/out" >/dev/null'
run report --csv --cluster "$tmp/c.json" "$tmp/db.cfg" "$tmp/web.cfg"
t "report --csv has one row per domain and host" '[ $rc -eq 0 ] && [ "$(grep -c "^check," "$tmp/out")" -eq 4 ]'
t "report --csv marks db on Haswell incompatible" 'grep -q "^check,db,hvm,x86-64-v4,Intel Xeon E5-2630 v3,no,5," "$tmp/out"'
run report --json --cluster "$tmp/c.json" "$tmp/db.cfg"
if command -v python3 >/dev/null; then
    t "report --json is JSON with the missing features" 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); h=d[\"domains\"][0][\"hosts\"]; assert any(\"avx512f\" in x[\"missing\"] for x in h)" "$tmp/out"'
else
    t "report --json (skipped: no python3) # SKIP" 'true'
fi
run report "$tmp/db.cfg"
t "report without hosts exits 2" '[ $rc -eq 2 ]'

run host-dump -o "$tmp/me.json"
t "host-dump -o writes a host file" '[ $rc -eq 0 ] && grep -q "\"schema_version\": 1" "$tmp/me.json"'
run cluster baseline "$tmp/me.json"
t "and it reads back" '[ $rc -eq 0 ] && grep -q "^highest-levels: x86-64-v" "$tmp/out"'
t "host-dump has the host's gpu object with levels" 'grep -q "\"gpu\": {" "$tmp/me.json" && grep -q "\"baseline\": " "$tmp/me.json"'

run decode "sse4_2,avx513f"
t "an unknown feature exits 3 quoting the input" '[ $rc -eq 3 ] && grep -qF "unknown feature '"'"'avx513f'"'"' in \"sse4_2,avx513f\"" "$tmp/err"'
sed 's/"host": "[0-9a-f:]*"/"host": "1:2:3"/' "$tmp/skx.json" > "$tmp/short.json"
run cluster baseline "$tmp/short.json"
t "a wrong word count exits 3 quoting it" '[ $rc -eq 3 ] && grep -q "\"1:2:3\" has 3 words" "$tmp/err" && grep -q "short.json" "$tmp/err"'
printf '{"schema_version": 1, "hostname": ' > "$tmp/cut.json"
run cluster baseline "$tmp/cut.json"
t "a truncated host file exits 3" '[ $rc -eq 3 ] && grep -q "cut.json" "$tmp/err"'
run frobnicate
t "an unknown subcommand exits 2" '[ $rc -eq 2 ] && grep -q "frobnicate" "$tmp/err"'
run decode --libxl "host,avx=0" --host "$tmp/skx.json"
t "decode of a cpuid= string drops avx dependents" '[ $rc -eq 0 ] && ! grep -q "avx2" "$tmp/out" && grep -q "sse4-2" "$tmp/out"'

# ---- GPU levels joined to the CPU commands ----
facts="$XENMIG_SRCDIR/tests/gpu/facts"
# with_gpu HOST.json FACTS NEWNAME OUT: a host file with a "gpu" object of recorded facts.
with_gpu() {
    { printf '{ "gpu": { "facts": '; cat "$facts/$2.json"; printf ' },\n'
      tail -n +2 "$1" | sed "s/\"hostname\": \"[^\"]*\"/\"hostname\": \"$3\"/"; } > "$4"
}
with_gpu "$tmp/icx.json" nvidia-h100 icx-h100 "$tmp/icx-h100.json"
with_gpu "$tmp/icx.json" nvidia-a10 icx-a10 "$tmp/icx-a10.json"
with_gpu "$tmp/hsw.json" nvidia-a10 hsw-a10 "$tmp/hsw-a10.json"
with_gpu "$tmp/skx.json" nvidia-a100 skx-a100 "$tmp/skx-a100.json"
printf 'name = "ml"\ntype = "hvm"\ncpuid_baseline = "x86-64-v4"\ngpu_baseline = "cuda-9.0"\n' > "$tmp/ml.cfg"
printf 'name = "cad"\ntype = "hvm"\ngpu_baseline = "d3d11.0-gl4.1"\n' > "$tmp/cad.cfg"
run check "$tmp/ml.cfg" --host "$tmp/icx-h100.json"
t "check: x86-64-v4 + cuda-9.0 on Ice Lake + H100 exits 0" '[ $rc -eq 0 ] && grep -q "meets domain .ml. gpu_baseline .cuda-9.0." "$tmp/out"'
run check "$tmp/ml.cfg" --host "$tmp/icx-a10.json"
t "check: cuda-9.0 on an A10 exits 4 with the GPU shortfall" '[ $rc -eq 4 ] && grep -qx "gpu: needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)" "$tmp/out" && ! grep -q "^missing: " "$tmp/out"'
run check "$tmp/ml.cfg" --host "$tmp/hsw-a10.json"
t "check: both shortfalls in one run" '[ $rc -eq 4 ] && [ "$(grep -c "^missing: " "$tmp/out")" -eq 5 ] && grep -qx "gpu: needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)" "$tmp/out"'
t "check: both named on stderr" 'grep -q "lacks 5 of the 31" "$tmp/err" && grep -q "GPU baseline .cuda-9.0. not met" "$tmp/err"'
run check "$tmp/ml.cfg" --host "$tmp/icx.json"
t "check: a host file without gpu is level none" '[ $rc -eq 4 ] && grep -q "^gpu: needs cuda-9.0, host has none" "$tmp/out"'
run check "$tmp/cad.cfg" --host "$tmp/hsw-a10.json"
t "check: GPU only, met" '[ $rc -eq 0 ] && grep -q "no cpuid_baseline" "$tmp/out"'
printf 'name = "bad"\ngpu_baseline = "cuda-9.5"\n' > "$tmp/badgpu.cfg"
run check "$tmp/badgpu.cfg" --host "$tmp/hsw-a10.json"
t "check: an unknown GPU level exits 3 quoting it" '[ $rc -eq 3 ] && grep -q "cuda-9.5" "$tmp/err"'

run cluster add "$tmp/g.json" "$tmp/icx-h100.json"
t "cluster add records the first host's GPU level" '[ $rc -eq 0 ] && grep -q "\"gpu_baseline\": \"d3d12-gl4.6,cuda-9.0\"" "$tmp/g.json"'
cp "$tmp/g.json" "$tmp/g.before"
run cluster add "$tmp/g.json" "$tmp/icx-a10.json"
t "cluster add refuses a host below the GPU level" '[ $rc -eq 4 ] && grep -qx "gpu: needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)" "$tmp/out" && grep -q "below GPU level" "$tmp/err"'
t "and leaves the cluster file alone" 'cmp -s "$tmp/g.json" "$tmp/g.before"'
run cluster add "$tmp/g.json" "$tmp/hsw-a10.json"
t "cluster add lists CPU and GPU shortfalls together" '[ $rc -eq 4 ] && grep -q "^missing: avx512f" "$tmp/out" && grep -q "^gpu: needs cuda-9.0" "$tmp/out"'
run cluster pin-gpu "$tmp/g.json" cuda-8.0
t "cluster pin-gpu lowers the GPU level" '[ $rc -eq 0 ] && grep -q "\"gpu_pinned\": true" "$tmp/g.json"'
run cluster add "$tmp/g.json" "$tmp/icx-a10.json"
t "then the A10 host fits" '[ $rc -eq 0 ]'
run cluster show "$tmp/g.json"
t "cluster show prints the GPU level and members' levels" '[ $rc -eq 0 ] && grep -qx "gpu-baseline: cuda-8.0 (pinned)" "$tmp/out" && grep -q "^member: icx-a10 .*gpu: d3d12-gl4.6,cuda-8.6)" "$tmp/out"'
run cluster pin-gpu "$tmp/g.json" cuda-9.0
t "pin-gpu above a member exits 4 naming it" '[ $rc -eq 4 ] && grep -q "member .icx-a10." "$tmp/err"'
run cluster add "$tmp/u.json" "$tmp/icx-h100.json"
run cluster add "$tmp/u.json" "$tmp/skx-a100.json"
t "an unpinned cluster refuses a weaker GPU host" '[ $rc -eq 4 ] && grep -q "^gpu: .*needs cuda-9.0, host has cuda-8.0 (NVIDIA A100" "$tmp/out"'
hex=$("$XL_EXT" cpuid-policy cluster baseline "$tmp/icx.json" | sed -n "s/^baseline: //p")
printf '{ "schema_version": 1, "name": "old", "vendor": "intel", "baseline": "%s",\n  "pinned_level": null, "members": [ { "hostname": "icx", "features": "%s" } ] }\n' \
    "$hex" "$hex" > "$tmp/old.json"
run cluster add "$tmp/old.json" "$tmp/icx-a10.json"
run cluster show "$tmp/old.json"
t "a cluster file from before GPU levels records none" '[ $rc -eq 0 ] && grep -qx "gpu-baseline: - (not recorded)" "$tmp/out"'

run report --cluster "$tmp/g.json" --host "$tmp/hsw-a10.json" "$tmp/ml.cfg" "$tmp/cad.cfg"
t "report: each host's GPU levels" '[ $rc -eq 0 ] && grep -E "^hsw-a10 +intel +x86-64-v3, intel-haswell, [^ ]+ +d3d12-gl4.6,cuda-8.6" "$tmp/out" >/dev/null'
t "report: ml needs cuda-9.0: only icx-h100 meets it" 'grep -E "^ml +hvm +x86-64-v4 +cuda-9.0 +no \(5\+gpu\) +yes +no \(gpu\)" "$tmp/out" >/dev/null'
run report --csv --host "$tmp/icx-a10.json" "$tmp/ml.cfg"
t "report --csv: gpu columns" '[ $rc -eq 0 ] && grep -q "^check,ml,hvm,x86-64-v4,icx-a10,no,0,,\"cuda-9.0\",no,\"needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)\"" "$tmp/out"'
run report --json --host "$tmp/icx-h100.json" --host "$tmp/icx-a10.json" "$tmp/ml.cfg"
if command -v python3 >/dev/null; then
    t "report --json: gpu_baseline and per-host gpu_compatible" 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); m=d[\"domains\"][0]; assert m[\"gpu_baseline\"]==\"cuda-9.0\"; assert [h[\"gpu_compatible\"] for h in m[\"hosts\"]]==[True,False]; assert d[\"hosts\"][1][\"gpu_levels\"]==\"d3d12-gl4.6,cuda-8.6\"" "$tmp/out"'
else
    t "report --json gpu (skipped: no python3) # SKIP" 'true'
fi

mkdir -p "$tmp/map"
printf "<cpus><arch name='x86'><include filename='x86_T.xml'/></arch></cpus>\n" > "$tmp/map/index.xml"
printf "<cpus><model name='Tiny'><vendor name='Intel'/><feature name='fpu'/></model></cpus>\n" \
    > "$tmp/map/x86_T.xml"
LD_DEBUG=libs "$XL_EXT" --version > "$tmp/out" 2> "$tmp/err"; rc=$?
t "xl-ext starts without libxml2" \
  '[ $rc -eq 0 ] && grep -q "calling init: .*libc.so" "$tmp/err" && ! grep -q libxml2 "$tmp/err"'
XENMIG_LIBVIRT_DATA_DIR="$XENMIG_SRCDIR/cpuid-policy/data/libvirt" XENMIG_LIBVIRT_CPU_MAP="$tmp/map" \
    LD_DEBUG=libs "$XL_EXT" cpuid-policy levels > "$tmp/out" 2> "$tmp/err"; rc=$?
t "reading a libvirt map loads libxml2 and lists its model" \
  '[ $rc -eq 0 ] && grep -q "calling init: .*libxml2.so" "$tmp/err" && grep -q "^libvirt:Tiny .*installed: $tmp/map/x86_T.xml" "$tmp/out"'
exit $fail

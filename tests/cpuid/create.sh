#!/bin/sh
# create.sh: `xl-ext create` without Xen: --dry-run --host HOST.json (the
# refusal with the missing list, the GPU shortfall, both at once, the
# derived cpuid= string parsed back with `decode --libxl`), and a fake `xl`
# first on PATH that records its arguments, to check the command line run
# for a config without baselines and that xl's exit status comes back.
# What needs a Xen host (the read-back, xenstore) is the lab scenario
# tests/lab/scenarios/create-baseline.sh.  TAP output.
export XENMIG_CPUID_LEVELS_DIR="$XENMIG_SRCDIR/cpuid-policy/data/levels"
export XENMIG_GPU_LEVELS="$XENMIG_SRCDIR/cpuid-policy/data/gpu-levels"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0; fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1
      sed 's/^/# /' "$tmp/out" "$tmp/err"; fi; }
run() { "$XL_EXT" create "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?; }
echo "1..18"

facts="$XENMIG_SRCDIR/tests/gpu/facts"
"$XL_EXT" cpuid-policy corpus --host-json "Intel Xeon E5-2630 v3" > "$tmp/hsw-plain.json"
{ printf '{ "gpu": { "facts": '; cat "$facts/nvidia-a10.json"; printf ' },\n'
  tail -n +2 "$tmp/hsw-plain.json"; } > "$tmp/hsw.json"
printf 'name = "v4"\ntype = "hvm"\ncpuid_baseline = "x86-64-v4"\n' > "$tmp/v4.cfg"
printf 'name = "v2"\ntype = "hvm"\ncpuid_baseline = "x86-64-v2"\nmemory = 512\n' > "$tmp/v2.cfg"
printf 'name = "ml"\ntype = "hvm"\ncpuid_baseline = "x86-64-v4"\ngpu_baseline = "cuda-9.0"\n' > "$tmp/ml.cfg"
printf 'name = "plain"\nmemory = 256\n' > "$tmp/plain.cfg"

run --dry-run --host "$tmp/hsw.json" "$tmp/v4.cfg"
t "x86-64-v4 on Haswell is refused with exit 4" '[ $rc -eq 4 ]'
t "listing exactly the five AVX-512 features" '[ "$(grep -c "^missing: " "$tmp/out")" -eq 5 ] && grep -qx "missing: avx512f" "$tmp/out"'
t "and nothing is run" '! grep -q "^xl create" "$tmp/out"'
run --dry-run --host "$tmp/hsw.json" "$tmp/v2.cfg" vcpus=2
t "x86-64-v2 on Haswell: the xl command" '[ $rc -eq 0 ] && grep -q "^xl create $tmp/v2.cfg vcpus=2 '"'"'cpuid=\"host,.*\"'"'"'$" "$tmp/out"'
mask=$(sed -n "s/.*'cpuid=\"\(host[^\"]*\)\"'\$/\1/p" "$tmp/out")
t "the mask hides AVX2, AVX and FMA, not SSE4.2 or tsc" 'case ",$mask," in *,avx2=0,*) ;; *) false;; esac && case ",$mask," in *,avx=0,*) ;; *) false;; esac && case ",$mask," in *,fma=0,*) ;; *) false;; esac && case "$mask" in *sse4-2=0*|*,tsc=0*) false;; esac'
"$XL_EXT" cpuid-policy decode --libxl "$mask" --host "$tmp/hsw.json" > "$tmp/decoded" 2>&1
"$XL_EXT" cpuid-policy levels --show x86-64-v2 | sed -n 's/^feature: //p' > "$tmp/v2-features"
t "parsed back, it keeps every x86-64-v2 feature" 'names=$(sed -n "s/^names: //p" "$tmp/decoded"); ok=1; while read -r f; do case ",$names," in *,"$f",*) ;; *) ok=0; echo "# lost $f";; esac; done < "$tmp/v2-features"; [ $ok -eq 1 ]'
t "and has no AVX left" 'names=$(sed -n "s/^names: //p" "$tmp/decoded"); case ",$names," in *,avx,*|*,avx2,*|*,fma,*) false;; esac'
run --dry-run --host "$tmp/hsw.json" "$tmp/ml.cfg"
t "CPU and GPU shortfalls in one run (exit 4)" '[ $rc -eq 4 ] && grep -q "^missing: avx512f" "$tmp/out" && grep -qx "gpu: needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)" "$tmp/out"'
run --dry-run --host "$tmp/hsw.json" "$tmp/ml.cfg" 'cpuid_baseline="x86-64-v3"'
t "a KEY=VALUE override is read as xl reads it: only the GPU fails" '[ $rc -eq 4 ] && ! grep -q "^missing: " "$tmp/out" && grep -q "^gpu: needs cuda-9.0" "$tmp/out"'
run --dry-run --host "$tmp/hsw.json" "$tmp/ml.cfg" 'cpuid_baseline="x86-64-v3"' 'gpu_baseline="cuda-8.0"'
t "and with both lowered it would run" '[ $rc -eq 0 ] && grep -q "^xl create .*cpuid=" "$tmp/out"'
run --dry-run --host "$tmp/hsw.json" "$tmp/ml.cfg" 'gpu_baseline="cuda-9.5"'
t "an unknown GPU level exits 3 quoting it" '[ $rc -eq 3 ] && grep -q "cuda-9.5" "$tmp/err"'
hsw_hex=$("$XL_EXT" cpuid-policy cluster baseline "$tmp/hsw.json" | sed -n "s/^baseline: //p")
printf 'name = "hex"\ntype = "hvm"\ncpuid_baseline = "%s"\n' "$hsw_hex" > "$tmp/hex.cfg"
run --dry-run --host "$tmp/hsw.json" "$tmp/hex.cfg"
t "hex words in the xl.cfg: the host they came from runs it" '[ $rc -eq 0 ] && grep -q "^xl create $tmp/hex.cfg '"'"'cpuid=\"host.*\"'"'"'$" "$tmp/out"'
run --host "$tmp/hsw.json" "$tmp/v2.cfg"
t "--host without --dry-run is a usage error" '[ $rc -eq 2 ]'
if [ ! -e /proc/xen ]; then
    run "$tmp/v2.cfg"
    t "a baseline without Xen exits 5" '[ $rc -eq 5 ] && grep -q "needs a Xen host" "$tmp/err"'
else
    t "a baseline without Xen (skipped: this is a Xen host) # SKIP" 'true'
fi

# A fake xl that records its arguments and exits with $FAKE_XL_EXIT.
mkdir "$tmp/bin"
cat > "$tmp/bin/xl" <<'FAKE'
#!/bin/sh
printf '%s\n' "$@" > "$FAKE_XL_LOG"
exit "${FAKE_XL_EXIT:-0}"
FAKE
chmod +x "$tmp/bin/xl"
export FAKE_XL_LOG="$tmp/xl-args"
PATH="$tmp/bin:$PATH" FAKE_XL_EXIT=0 "$XL_EXT" create -p "$tmp/plain.cfg" memory=512 > "$tmp/out" 2> "$tmp/err"; rc=$?
t "no baseline: xl create runs unchanged" '[ $rc -eq 0 ] && [ "$(tr "\n" " " < "$tmp/xl-args")" = "create -p $tmp/plain.cfg memory=512 " ]'
PATH="$tmp/bin:$PATH" FAKE_XL_EXIT=3 "$XL_EXT" create "$tmp/plain.cfg" > "$tmp/out" 2> "$tmp/err"; rc=$?
t "xl's exit status comes back" '[ $rc -eq 3 ]'
run --dry-run "$tmp/plain.cfg" 'name="other"'
t "--dry-run without baselines prints the stock command" '[ $rc -eq 0 ] && grep -qx "xl create $tmp/plain.cfg name=\"other\"" "$tmp/out" || grep -qx "xl create $tmp/plain.cfg '"'"'name=\"other\"'"'"'" "$tmp/out"'
run --dry-run "$tmp/nonexistent.cfg"
t "a missing config exits 3 naming it" '[ $rc -eq 3 ] && grep -q "nonexistent.cfg" "$tmp/err"'
exit $fail

#!/bin/sh
# gpu-probe.sh: `xl-ext gpu-probe` end to end: recorded facts in, levels and
# exit codes out (0 ok, 2 usage, 3 bad input, 4 host cannot meet), plus the
# real probe of this host (exit 0 whatever it finds).  TAP output.
set -u
: "${XL_EXT:?run through make check}" "${XENMIG_SRCDIR:?run through make check}"
facts="$XENMIG_SRCDIR/tests/gpu/facts"
levels="$XENMIG_SRCDIR/cpuid-policy/data/gpu-levels"
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
n=0 failed=0
echo "1..16"

# check NAME EXPECTED-RC GREP-PATTERN-IN-STDOUT+STDERR -- ARGS...
check() {
    name=$1 want=$2 pattern=$3
    shift 4
    n=$((n + 1))
    "$XL_EXT" gpu-probe --levels "$levels" "$@" >"$out" 2>"$err"
    rc=$?
    if [ "$rc" -eq "$want" ] && cat "$out" "$err" | grep -q -- "$pattern"; then
        echo "ok $n - $name"
    else
        echo "not ok $n - $name (exit $rc, wanted $want and /$pattern/)"
        sed 's/^/# /' "$out" "$err"
        failed=1
    fi
}

check "H100 reports compute capability 9.0" 0 "compute   cuda-9.0" -- --facts "$facts/nvidia-h100.json"
check "H100 meets cuda-9.0" 0 "Requirement cuda-9.0: met" -- --facts "$facts/nvidia-h100.json" --require cuda-9.0
check "A10 shortfall quoted" 4 "needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)" -- \
    --facts "$facts/nvidia-a10.json" --require cuda-9.0
check "no GPU is level none, exit 0" 0 "baseline  none" -- --facts "$facts/no-gpu.json"
check "llvmpipe GL 4.5" 0 "graphics  d3d11.0-gl4.5" -- --facts "$facts/mesa-llvmpipe-gl4.5.json"
check "unknown level is bad input" 3 "unknown GPU level 'cuda-9.5'" -- --require cuda-9.5
check "missing facts file is bad input" 3 "cannot open GPU facts file" -- --facts /nonexistent/facts.json
check "unknown option is usage" 2 "xl-ext gpu-probe: unknown option '--frobnicate'" -- --frobnicate
configs="$XENMIG_SRCDIR/tests/gpu/configs"
check "domain config met (HVM, d3d11.0-gl4.1,cuda-8.0 on H100)" 0 "Requirement d3d11.0-gl4.1,cuda-8.0: met" -- \
    --facts "$facts/nvidia-h100.json" --config "$configs/hvm.cfg"
check "domain config not met on T4" 4 "needs cuda-8.0, host has cuda-7.5 (Tesla T4)" -- \
    --facts "$facts/nvidia-t4.json" --config "$configs/hvm.cfg"
check "config parse error has file and line" 3 "bad-quoting.cfg:3: config parsing error" -- \
    --facts "$facts/no-gpu.json" --config "$configs/bad-quoting.cfg"
check "--require and --config together is usage" 2 "not both" -- --require none --config "$configs/hvm.cfg"
check "JSON carries levels" 0 '"compute":"cuda-8.0"' -- --json --facts "$facts/nvidia-a100.json"

# --json output is what --facts reads back
n=$((n + 1))
json=$(mktemp)
"$XL_EXT" gpu-probe --levels "$levels" --json --facts "$facts/nvidia-t4.json" >"$json" 2>"$err" &&
    "$XL_EXT" gpu-probe --levels "$levels" --facts "$json" >"$out" 2>>"$err"
if [ $? -eq 0 ] && grep -q "compute   cuda-7.5" "$out"; then
    echo "ok $n - --json output reads back with --facts"
else
    echo "not ok $n - --json output reads back with --facts"; sed 's/^/# /' "$out" "$err"; failed=1
fi
rm -f "$json"

# the real probe of this machine: exit 0 and a level on each axis
check "probe of this host exits 0" 0 "^  baseline  " --
check "probe of this host as JSON" 0 '"levels"' -- --json
exit $failed

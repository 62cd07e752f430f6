#!/usr/bin/env python3
"""gen-levels.py: write cpuid-policy/data/levels/*.level from GCC's -march.

Run once by a maintainer (the .level files are checked in and installed;
adding a level is adding a file, no rebuild).  Facts: GCC 12's -march=NAME
ISA sets, read with `gcc -march=NAME -Q --help=target`; Zen 4, which GCC
12.2 lacks, is GCC 13's PTA_ZNVER4 (= znver3 + the AVX-512 set listed).

How a level treats Xen's non-ISA bits: a level constrains only the bits it
lists.  Every level lists the x86-64 base (psABI x86-64 baseline: cmov cx8
fpu fxsr mmx syscall sse sse2, plus lm and what Xen makes long mode need:
pae) and the ISA extensions GCC enables.  Bits such as hypervisor, tsc,
apic or the speculation controls are never part of a level.

GCC_TO_XEN is the one table mapping GCC ISA option names to Xen names; an
ISA Xen 4.17 does not offer guests (sgx, ptwrite...) and TSX (hle, rtm,
tsxldtrk: microcode disables it on most parts) map to None and are left
out, said in the file.
"""
import subprocess, sys, os

GCC_TO_XEN = {
    "mmx": "mmx", "sse": "sse", "sse2": "sse2", "sse3": "sse3", "ssse3": "ssse3",
    "sse4.1": "sse4-1", "sse4.2": "sse4-2", "sse4a": "sse4a", "popcnt": "popcnt",
    "cx16": "cx16", "sahf": "lahf-lm", "movbe": "movbe", "aes": "aesni",
    "pclmul": "pclmulqdq", "xsave": "xsave", "xsaveopt": "xsaveopt", "xsavec": "xsavec",
    "xsaves": "xsaves", "avx": "avx", "avx2": "avx2", "fma": "fma", "fma4": "fma4",
    "f16c": "f16c", "bmi": "bmi1", "bmi2": "bmi2", "lzcnt": "abm", "abm": "abm",
    "rdrnd": "rdrand", "rdseed": "rdseed", "fsgsbase": "fsgsbase", "adx": "adx",
    "prfchw": "3dnowprefetch", "clflushopt": "clflushopt",
    "clwb": "clwb", "pku": "pku", "sha": "sha", "avx512f": "avx512f",
    "avx512cd": "avx512cd", "avx512dq": "avx512dq", "avx512bw": "avx512bw",
    "avx512vl": "avx512vl", "avx512er": "avx512er", "avx512pf": "avx512pf",
    "avx512ifma": "avx512-ifma", "avx512vbmi": "avx512-vbmi",
    "avx5124vnniw": "avx512-4vnniw", "avx5124fmaps": "avx512-4fmaps",
    "avx512vpopcntdq": "avx512-vpopcntdq", "avx512vbmi2": "avx512-vbmi2",
    "avx512vnni": "avx512-vnni", "avx512bitalg": "avx512-bitalg",
    "avx512bf16": "avx512-bf16", "avx512fp16": "avx512-fp16",
    "avx512vp2intersect": "avx512-vp2intersect", "gfni": "gfni", "vaes": "vaes",
    "vpclmulqdq": "vpclmulqdq", "rdpid": "rdpid", "movdiri": "movdiri",
    "movdir64b": "movdir64b", "enqcmd": "enqcmd", "cldemote": "cldemote",
    "serialize": "serialize", "avxvnni": "avx-vnni",
    "clzero": "clzero", "mwaitx": "monitorx", "wbnoinvd": "wbnoinvd", "xop": "xop",
    "lwp": "lwp", "tbm": "tbm", "3dnow": "3dnow", "3dnowa": "3dnowext", "fxsr": "fxsr",
    "prefetchwt1": "prefetchwt1",
    # TSX: disabled by microcode (TAA/TSX Async Abort) on most of these parts
    # and by Xen's tsx= default there, so a level requiring it would refuse
    # real hosts; tsxldtrk needs rtm (Xen's dependency rules).
    "hle": None, "rtm": None, "tsxldtrk": None,
    # Not offered to guests by Xen 4.17, or no Xen featureset bit:
    "sgx": None, "ptwrite": None, "waitpkg": None, "pconfig": None, "uintr": None,
    "amx-tile": None, "amx-int8": None, "amx-bf16": None, "crc32": None,
    "kl": None, "widekl": None, "hreset": None, "rdpru": None, "mwait": None,
    "cmpxchg16b": None, "prefetchi": None, "avxifma": None,
}
# Options of --help=target that are not ISA extensions.
NOT_ISA = {"64", "80387", "fancy-math-387", "fp-ret-in-387", "ieee-fp", "red-zone",
           "push-args", "align-stringops", "stv", "tls-direct-seg-refs", "vzeroupper",
           "sahf-if-available", "long-double-80", "mitigate-rop", "cld", "direct-extern-access",
           "accumulate-outgoing-args", "general-regs-only", "soft-float", "prefer-vector-width",
           "omit-leaf-frame-pointer", "stack-arg-probe", "stackrealign", "use-hardware-fp",
           "128bit-long-double", "avx256-split-unaligned-load", "avx256-split-unaligned-store",
           "glibc", "hard-float", "sse4"}
BASE = ["fpu", "cx8", "cmov", "mmx", "fxsr", "sse", "sse2", "syscall", "lm", "pae"]

LEVELS = [
    # name, family, rank, vendor, gcc -march, title
    ("x86-64-v1", "x86-64", 1, "any", "x86-64", "x86-64 psABI baseline"),
    ("x86-64-v2", "x86-64", 2, "any", "x86-64-v2", "x86-64 psABI level 2"),
    ("x86-64-v3", "x86-64", 3, "any", "x86-64-v3", "x86-64 psABI level 3"),
    ("x86-64-v4", "x86-64", 4, "any", "x86-64-v4", "x86-64 psABI level 4"),
    ("intel-nehalem", "intel", 1, "intel", "nehalem", "Intel Nehalem"),
    ("intel-westmere", "intel", 2, "intel", "westmere", "Intel Westmere"),
    ("intel-sandybridge", "intel", 3, "intel", "sandybridge", "Intel Sandy Bridge"),
    ("intel-ivybridge", "intel", 4, "intel", "ivybridge", "Intel Ivy Bridge"),
    ("intel-haswell", "intel", 5, "intel", "haswell", "Intel Haswell"),
    ("intel-broadwell", "intel", 6, "intel", "broadwell", "Intel Broadwell"),
    ("intel-skylake", "intel", 7, "intel", "skylake", "Intel Skylake (client)"),
    ("intel-skylake-server", "intel", 8, "intel", "skylake-avx512", "Intel Skylake-SP"),
    ("intel-cascadelake", "intel", 9, "intel", "cascadelake", "Intel Cascade Lake"),
    ("intel-cooperlake", "intel", 10, "intel", "cooperlake", "Intel Cooper Lake"),
    ("intel-icelake-server", "intel", 11, "intel", "icelake-server", "Intel Ice Lake-SP"),
    ("intel-sapphirerapids", "intel", 12, "intel", "sapphirerapids", "Intel Sapphire Rapids"),
    ("amd-opteron-k8", "amd", 1, "amd", "k8", "AMD Opteron (K8, first generation)"),
    ("amd-opteron-k8-sse3", "amd", 2, "amd", "k8-sse3", "AMD Opteron (K8 rev. E/F, SSE3)"),
    ("amd-opteron-barcelona", "amd", 3, "amd", "amdfam10", "AMD Opteron Barcelona (family 10h)"),
    ("amd-bulldozer", "amd", 4, "amd", "bdver1", "AMD Opteron Bulldozer (family 15h)"),
    ("amd-piledriver", "amd", 5, "amd", "bdver2", "AMD Opteron Piledriver"),
    ("amd-steamroller", "amd", 6, "amd", "bdver3", "AMD Steamroller"),
    ("amd-excavator", "amd", 7, "amd", "bdver4", "AMD Excavator"),
    ("amd-zen1", "amd", 8, "amd", "znver1", "AMD Zen (EPYC Naples)"),
    ("amd-zen2", "amd", 9, "amd", "znver2", "AMD Zen 2 (EPYC Rome)"),
    ("amd-zen3", "amd", 10, "amd", "znver3", "AMD Zen 3 (EPYC Milan)"),
]
ZEN4_EXTRA = ["avx512f", "avx512dq", "avx512ifma", "avx512cd", "avx512bw", "avx512vl",
              "avx512bf16", "avx512vbmi", "avx512vbmi2", "gfni", "avx512vnni",
              "avx512bitalg", "avx512vpopcntdq"]

def gcc_isas(march):
    out = subprocess.run(["gcc", "-march=" + march, "-Q", "--help=target"],
                         capture_output=True, text=True, check=True).stdout
    isas = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0].startswith("-m") and f[-1] == "[enabled]" and "=" not in f[0]:
            opt = f[0][2:]
            if opt in NOT_ISA or opt.startswith("no-"):
                continue
            isas.append(opt)
    return isas

def write(outdir, name, family, rank, vendor, title, source, isas, gcc_version):
    feats, skipped = list(BASE), []
    for isa in isas:
        if isa not in GCC_TO_XEN:
            sys.exit("%s: GCC ISA '%s' is not in GCC_TO_XEN: add it" % (name, isa))
        x = GCC_TO_XEN[isa]
        if x is None:
            skipped.append(isa)
        elif x not in feats:
            feats.append(x)
    with open(os.path.join(outdir, name + ".level"), "w") as f:
        f.write("# %s: %s.\n" % (name, title))
        f.write("# Generated by cpuid-policy/data/gen-levels.py (%s); edit by hand only\n"
                "# together with that script.  A level constrains only the features it\n"
                "# lists: the x86-64 base plus the ISA extensions of its source.\n" % gcc_version)
        if skipped:
            f.write("# Left out (TSX, or Xen 4.17 has no guest bit for them): %s\n" % " ".join(sorted(skipped)))
        f.write("name: %s\nfamily: %s\nrank: %d\nvendor: %s\nsource: %s\n" %
                (name, family, rank, vendor, source))
        line = "features:"
        for x in feats:
            if len(line) + len(x) + 1 > 76:
                f.write(line + "\n")
                line = "features:"
            line += " " + x
        f.write(line + "\n")

def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "levels")
    ver = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    gcc_version = "GCC " + ver
    for name, family, rank, vendor, march, title in LEVELS:
        src = "GCC %s -march=%s (gcc -march=%s -Q --help=target)" % (ver.split(".")[0], march, march)
        if family == "x86-64":
            src += "; the levels are defined in the x86-64 psABI (gitlab.com/x86-psABIs/x86-64-ABI)"
        write(outdir, name, family, rank, vendor, title, src, gcc_isas(march), gcc_version)
    write(outdir, "amd-zen4", "amd", 11, "amd", "AMD Zen 4 (EPYC Genoa)",
          "GCC 13 gcc/config/i386/i386.h PTA_ZNVER4 = PTA_ZNVER3 + %s "
          "(GCC 12 -march=znver3 for the PTA_ZNVER3 part)" % " ".join(ZEN4_EXTRA),
          gcc_isas("znver3") + ZEN4_EXTRA, gcc_version)

main()

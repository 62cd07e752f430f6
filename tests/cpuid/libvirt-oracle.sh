#!/bin/sh
# libvirt-oracle.sh: libvirt as the oracle of xenmig's cluster baseline.
# Real CPUs of the corpus (cpuid-policy/data/cpus/corpus.txt: raw CPUID
# leaves and MSR_ARCH_CAPS from libvirt's own test data) are written as
# libvirt CPU XML, every libvirt feature whose bit (libvirt's
# x86_features.xml) is set in the dump, on the vendor-neutral model 486:
#   <cpu><arch>x86_64</arch><model>486</model><vendor>Intel</vendor>
#        <feature name='sse4.2'/>...</cpu>
# `virsh -c test:///default cpu-baseline --features` (no daemon) computes
# libvirt's baseline of each set offline, and the Xen features of its
# answer (by bit position, tests/cpuid/libvirt_xml.py) must be exactly
# xenmig's `cluster baseline` of the same CPUs, over the bits both can
# name.  The OS-state bits (osxsave, ospke, hypervisor) describe the
# running OS, not the CPU, and are left out of both.  A difference is
# allowed only where ALLOWED below lists it with its reason, and the
# reason is checked: a Xen dependency rule (data/feature-deps.txt) whose
# prerequisite libvirt's answer lacks.  SKIP without virsh or the map.
map=${XENMIG_TEST_LIBVIRT_MAP:-/usr/share/libvirt/cpu_map}
if ! command -v virsh >/dev/null || [ ! -f "$map/x86_features.xml" ] ||
   ! command -v python3 >/dev/null; then
    echo "1..0 # SKIP needs virsh (Debian package libvirt-clients), libvirt's CPU map at $map (libvirt0) and python3"
    exit 0
fi
. "$XENMIG_SRCDIR/tests/cpuid/libvirt-env.sh"
cd "$tmp" || exit 1
python3 - "$map" "$XL_EXT" "$XENMIG_SRCDIR" <<'EOF'
import json, os, re, subprocess, sys
import libvirt_xml as lx

map_dir, xl_ext, srcdir = sys.argv[1:4]
OS_STATE = {"osxsave", "ospke", "hypervisor"}
SETS = [
    "Intel Core i7-2600 | Intel Core i7-3770",
    "Intel Xeon E5-2630 v3 | Intel Xeon E5-2650 v4",
    "Intel Xeon Gold 6148 | Intel Xeon Platinum 8268",
    "Intel Ice Lake Server | Intel Cooper Lake (Xeon)",
    "Intel Core i7-8700 | Intel Core i5-6600",
    "Intel Xeon W3520 | Intel Xeon E7540",
    "Intel Core 2 Duo E6850 | Intel Xeon W3520",
    "Intel Xeon Gold 6148 | Intel Ice Lake Server | Intel Xeon E5-2630 v3",
    "Intel Core i7-8700 | Intel Xeon Gold 6148",
    "Intel Xeon Platinum 8268 | Intel Cooper Lake (Xeon) | Intel Ice Lake Server",
    "Intel Xeon (this build machine, virtualised) | Intel Xeon Gold 6148",
    "Intel Core i7-2600 | Intel Xeon E5-2630 v3 | Intel Core i5-6600 | Intel Xeon W3520",
    "AMD EPYC 7601 32-Core | AMD Ryzen 7 1800X Eight-Core",
    "AMD EPYC 7502 32-Core | AMD Ryzen 9 3900X 12-Core",
    "AMD FX-8150 Eight-Core | AMD Opteron 6234",
    "AMD Opteron 1352 Quad-Core | AMD Phenom II X4 B95",
    "AMD EPYC 7601 32-Core | AMD EPYC 7502 32-Core",
    "AMD Phenom II X4 B95 | AMD FX-8150 Eight-Core",
    "AMD EPYC 7502 32-Core | AMD Ryzen 9 3900X 12-Core | AMD EPYC 7601 32-Core",
    "Hygon C86 7185 32-core",
]
# Each difference between libvirt's answer and xenmig's intersection, with
# its reason: (set, Xen feature) -> why.
IBRS = ("Xen's dependency ibrs -> amd-stibp, amd-ssbd: the Ryzen 9 3900X dump lacks ibrs "
        "(0x80000008.ebx[14]), so Xen clears these; libvirt keeps them")
ARCH_CAPS = ("Xen's dependency arch-caps -> MSR_ARCH_CAPS words 16, 17: these AMD dumps carry "
             "an MSR_ARCH_CAPS value but not CPUID 7:0.edx[29], so Xen ignores the MSR; libvirt "
             "takes its bits")
ALLOWED = {
    ("AMD EPYC 7502 32-Core | AMD Ryzen 9 3900X 12-Core", f): why
    for f, why in [("amd-stibp", IBRS), ("amd-ssbd", IBRS), ("rdcl-no", ARCH_CAPS),
                   ("mds-no", ARCH_CAPS), ("if-pschange-mc-no", ARCH_CAPS),
                   ("skip-l1dfl", ARCH_CAPS)]
}

names = lx.XenNames(map_dir, xl_ext)
defs = {n: d for n, _, d in lx.installed_models(map_dir)}
both = {names.xen(f) for f in names.positions if names.xen(f)} - OS_STATE
closed = lx.XenDependencies(srcdir, names).closed

def corpus():
    cpus, cur = {}, None
    for line in open(os.path.join(srcdir, "cpuid-policy/data/cpus/corpus.txt")):
        tok = line.split()
        if line.startswith("["):
            cur = cpus[line.strip()[1:-1]] = {"leaves": {}, "msr": 0}
        elif tok and tok[0] == "leaf":
            leaf, sub = tok[1].split(":")
            cur["leaves"][(int(leaf, 16), int(sub, 16))] = [int(x, 16) for x in tok[2:6]]
        elif tok and tok[0] == "msr" and int(tok[1], 16) == 0x10a:
            cur["msr"] = int(tok[2], 16) | int(tok[3], 16) << 32
    return cpus

def libvirt_cpu(cpu):
    """libvirt CPU XML of a dump: every libvirt feature whose bit is set."""
    regs = cpu["leaves"][(0, 0)]
    vendor = {b"GenuineIntel": "Intel", b"AuthenticAMD": "AMD", b"HygonGenuine": "Hygon"}[
        b"".join(r.to_bytes(4, "little") for r in (regs[1], regs[3], regs[2]))]
    feats = []
    for f, (kind, leaf, sub, reg, bit) in sorted(names.positions.items()):
        if f in OS_STATE or (kind == "msr" and leaf != 0x10a):
            continue
        if kind == "msr":
            value = cpu["msr"] >> (32 if reg == "edx" else 0)
        else:
            value = cpu["leaves"].get((leaf, sub), [0, 0, 0, 0])[lx.REGS.index(reg)]
        if value >> bit & 1:
            feats.append(f)
    return ("<cpu>\n  <arch>x86_64</arch>\n  <model>486</model>\n  <vendor>%s</vendor>\n%s"
            "</cpu>\n" % (vendor, "".join("  <feature name='%s'/>\n" % f for f in feats)))

def libvirt_baseline(cpus, members):
    open("cpus.xml", "w").write("".join(libvirt_cpu(cpus[m]) for m in members))
    out = subprocess.run(["virsh", "-c", "test:///default", "cpu-baseline", "--features",
                          "cpus.xml"], check=True, capture_output=True, text=True).stdout
    model = re.search(r"<model[^>]*>([^<]+)</model>", out).group(1)
    wanted = set(re.findall(r"<feature policy='require' name='([^']+)'", out))
    disabled = set(re.findall(r"<feature policy='disable' name='([^']+)'", out))
    feats = (lx.resolve(defs, model)[0] | wanted) - disabled
    return {names.xen(f) for f in feats if names.xen(f)} - OS_STATE, model

def xenmig_baseline(members):
    hosts = []
    for i, m in enumerate(members):
        hosts.append("host%d.json" % i)
        open(hosts[-1], "w").write(subprocess.run(
            [xl_ext, "cpuid-policy", "corpus", "--host-json", m], check=True,
            capture_output=True, text=True).stdout)
    out = subprocess.run([xl_ext, "cpuid-policy", "cluster", "baseline", "--json"] + hosts,
                         check=True, capture_output=True, text=True).stdout
    return set(json.loads(out)["features"]) & both

cpus = corpus()
used = {m.strip() for s in SETS for m in s.split("|")}
print("1..%d" % (len(SETS) + 2))
failed = False
print("ok 1 - %d real CPUs of the corpus in %d sets, %d of them of two CPUs or more"
      % (len(used), len(SETS), sum("|" in s for s in SETS)))
n = 1
for s in SETS:
    members = [m.strip() for m in s.split("|")]
    theirs, model = libvirt_baseline(cpus, members)
    ours = xenmig_baseline(members)
    diff = (theirs ^ ours)
    unexplained = sorted(f for f in diff if (s, f) not in ALLOWED)
    # The reason holds: each allowed feature is one Xen's rules clear from libvirt's answer.
    wrong = sorted(f for f in diff if (s, f) in ALLOWED and
                   (f not in theirs or f in closed(theirs)))
    unused = sorted(f for (t, f) in ALLOWED if t == s and f not in diff)
    n += 1
    ok = not unexplained and not wrong and not unused
    failed |= not ok
    print("%s %d - %s: libvirt (%s + features) and xenmig agree on %d features%s%s" % (
        "ok" if ok else "not ok", n, s, model, len(theirs & ours),
        ", %d differences, each allowed" % len(diff) if diff else "",
        "" if ok else ": only libvirt %s, only xenmig %s, reason not holding %s, listed but "
        "not seen %s" % (sorted(theirs - ours), sorted(ours - theirs), wrong, unused)))
n += 1
ok = len(used) >= 20 and sum("|" in s for s in SETS) >= 15
print("%s %d - at least 20 CPUs and 15 sets of several CPUs" % ("ok" if ok else "not ok", n))
sys.exit(1 if failed or not ok else 0)
EOF

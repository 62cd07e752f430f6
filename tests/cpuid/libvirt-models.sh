#!/bin/sh
# libvirt-models.sh: libvirt's CPU models as xenmig levels, checked against
# the XML they come from.  The installed map (Debian's libvirt0) is read
# here with python3's own XML parser, each model's Xen features derived by
# bit position from libvirt's x86_features.xml and `xl-ext cpuid-policy
# features` (tests/cpuid/libvirt_xml.py), not from x86-features.map, and
# compared feature by feature with `levels --show`: a dozen and more
# installed models and four shipped ones (against x86-models.txt).  Then:
# every model is listed with its source, in libvirt's order; an installed
# model wins over a shipped one; the highest model a CPU or a cluster
# fully contains, computed here, is what the highest-levels lines name.
# SKIP when the libvirt CPU map is not installed.
map=${XENMIG_TEST_LIBVIRT_MAP:-/usr/share/libvirt/cpu_map}
if [ ! -f "$map/index.xml" ] || ! command -v python3 >/dev/null; then
    echo "1..0 # SKIP no libvirt CPU map at $map (Debian package libvirt0) or no python3"
    exit 0
fi
. "$XENMIG_SRCDIR/tests/cpuid/libvirt-env.sh"
export TMPDIR="$tmp"
python3 - "$map" "$XL_EXT" "$XENMIG_LIBVIRT_DATA_DIR" <<'EOF'
import os, re, shutil, subprocess, sys
import libvirt_xml as lx

map_dir, xl_ext, data_dir = sys.argv[1:4]
n = 0
failed = False

def t(name, ok, detail=""):
    global n, failed
    n += 1
    print("%s %d - %s%s" % ("ok" if ok else "not ok", n, name, "" if ok else ": " + detail))
    failed |= not ok

def run(*args, env=None):
    return subprocess.run([xl_ext, "cpuid-policy"] + list(args), capture_output=True,
                          text=True, env=env)

# Where libvirt's features live: the installed XML, and for features only
# newer libvirt defines, the positions written in x86-features.map (their
# Xen names are derived here all the same).
names = lx.XenNames(map_dir, xl_ext)
for line in open(os.path.join(data_dir, "x86-features.map")):
    tok = line.split()
    if line.startswith("#") or len(tok) != 5 or tok[0] in names.positions:
        continue
    leaf, _, sub = tok[1].replace("msr:", "").partition(":")
    kind = "msr" if tok[1].startswith("msr:") else "cpuid"
    names.positions[tok[0]] = (kind, int(leaf, 16), int(sub or 0), tok[2], int(tok[3]))

def shipped_models():
    models, order, cur = {}, [], None
    for line in open(os.path.join(data_dir, "x86-models.txt")):
        key, _, value = line.strip().partition(": ")
        if key == "order":
            order += value.split()
        elif key == "model":
            cur = models[value] = {"ancestor": None, "vendor": None, "features": [],
                                   "removed": [], "file": None}
        elif key in ("features", "added"):
            cur["features"] += value.split()
        elif key == "removed":
            cur["removed"] += value.split()
        elif key in ("vendor", "file"):
            cur[key] = value
        elif key == "inherits":
            cur["ancestor"] = value
    return models, order

installed = lx.installed_models(map_dir)
defs = {name: d for name, _, d in installed}
shipped, order = shipped_models()
for name, d in shipped.items():
    defs.setdefault(name, d)

def expected(model):
    feats, vendor = lx.resolve(defs, model)
    xen = {f: names.xen(f) for f in feats}
    return ({x for x in xen.values() if x and names.offered(x)},
            {f for f, x in xen.items() if not x},
            {f for f, x in xen.items() if x and not names.offered(x)}, vendor)

def check_model(model, source_has):
    want_xen, want_none, want_no_guest, vendor = expected(model)
    s = lx.show(xl_ext, "libvirt:" + model)
    have = set(s.get("feature", []))
    dropped = {d.split(" ")[0]: d.split(" ")[4] for d in s.get("dropped", [])}
    problems = []
    if have | set(dropped) != want_xen or have & set(dropped):
        problems.append("Xen features: extra %s, missing %s" % (
            sorted((have | set(dropped)) - want_xen), sorted(want_xen - have - set(dropped))))
    for feat, needed in dropped.items():
        if needed in have:
            problems.append("%s dropped though %s is there" % (feat, needed))
    if set(s.get("no-xen-equivalent", [])) != want_none:
        problems.append("no-xen-equivalent %s, want %s" % (
            sorted(s.get("no-xen-equivalent", [])), sorted(want_none)))
    if set(s.get("xen-offers-no-guest", [])) != want_no_guest:
        problems.append("xen-offers-no-guest %s, want %s" % (
            sorted(s.get("xen-offers-no-guest", [])), sorted(want_no_guest)))
    if s["vendor"] != [vendor.lower() if vendor else "any"] or "not-in-mapping-table" in s:
        problems.append("vendor %s (want %s) or unmapped features" % (s["vendor"], vendor))
    if source_has not in s["source"][0]:
        problems.append("source %r lacks %r" % (s["source"][0], source_has))
    t("libvirt:%s: %d Xen features, %d without a Xen equivalent, %d Xen offers no guest, "
      "%d dropped, as its XML says" % (model, len(have), len(want_none), len(want_no_guest),
                                       len(dropped)), not problems, "; ".join(problems))

files = {name: f for name, f, _ in installed}
for model in ("Nehalem", "Westmere-IBRS", "SandyBridge", "Haswell-noTSX", "Broadwell-noTSX-IBRS",
              "Skylake-Client-noTSX-IBRS", "Skylake-Server", "Cascadelake-Server-noTSX",
              "Icelake-Client", "Icelake-Server-noTSX", "Cooperlake", "Snowridge",
              "Opteron_G3", "EPYC-Rome", "EPYC-Milan", "Dhyana", "qemu64", "core2duo"):
    check_model(model, os.path.join(map_dir, files[model]) if model in files else "?")
for model in ("SapphireRapids", "GraniteRapids-v2", "SierraForest-v4", "EPYC-Genoa"):
    if model in files:
        check_model(model, os.path.join(map_dir, files[model]))
    else:
        check_model(model, "shipped: libvirt src/cpu_map/" + shipped[model]["file"])

# Every model found is listed, with its source, in libvirt's order.
text = run("levels").stdout
rows = {m.group(1): (int(m.group(2)), m.group(3)) for m in
        re.finditer(r"^libvirt:(\S+) +libvirt +(\d+) +\S+ +\d+  (\S+)", text, re.M)}
skipped = set(re.findall(r"^# not a level: libvirt:([^:]+):", text, re.M))
missing = [m for m, _, _ in installed if m not in rows and m not in skipped]
t("levels lists every installed model (%d) with 'installed:'" % len(installed),
  not missing and all(rows[m][1] == "installed:" for m, _, _ in installed if m in rows),
  "missing %s" % missing)
ranks = [rows[m][0] for m, _, _ in installed if m in rows]
t("installed models rank in index.xml's order", ranks == sorted(ranks), str(ranks))
newer = [m for m in shipped if m not in files]
t("levels lists the %d shipped models the installed map lacks, with 'shipped:'" % len(newer),
  all(m in skipped or rows.get(m, (0, ""))[1] == "shipped:" for m in newer),
  str([m for m in newer if m not in rows and m not in skipped]))
m = re.search(r"^# libvirt models: (\d+) from the installed map .*, (\d+) shipped .*, (\d+) not "
              r"levels$", text, re.M)
t("the count line adds up", bool(m) and int(m.group(1)) + int(m.group(2)) == len(rows) and
  int(m.group(3)) == len(skipped), m.group(0) if m else text[-300:])
t("Zhaoxin's YongFeng is found and said to be no level", "YongFeng" in skipped, str(skipped))

# A newer installed map wins: a copy of the map that defines SapphireRapids.
copy = os.path.join(os.environ["TMPDIR"], "map")
shutil.copytree(map_dir, copy)
xml = open(os.path.join(map_dir, "x86_Cooperlake.xml")).read()
open(os.path.join(copy, "x86_SapphireRapids.xml"), "w").write(
    xml.replace("name='Cooperlake'", "name='SapphireRapids'"))
index = open(os.path.join(copy, "index.xml")).read()
open(os.path.join(copy, "index.xml"), "w").write(index.replace(
    "<include filename='x86_Cooperlake.xml'/>",
    "<include filename='x86_Cooperlake.xml'/><include filename='x86_SapphireRapids.xml'/>"))
env = dict(os.environ, XENMIG_LIBVIRT_CPU_MAP=copy)
out = run("levels", "--show", "libvirt:SapphireRapids", env=env).stdout
t("an installed model wins over the shipped one of that name",
  "source: installed: %s/x86_SapphireRapids.xml" % copy in out and
  "feature: amx-tile" not in out and "feature: avx512-bf16" in out, out[:300])
open(os.path.join(copy, "x86_Broken.xml"), "w").write("<cpus><model name='Broken'>\n<feature")
open(os.path.join(copy, "index.xml"), "a").write("")
index = open(os.path.join(copy, "index.xml")).read()
open(os.path.join(copy, "index.xml"), "w").write(index.replace(
    "<include filename='x86_Dhyana.xml'/>",
    "<include filename='x86_Dhyana.xml'/><include filename='x86_Broken.xml'/>"))
r = run("levels", env=env)
t("a broken installed map file fails with its path, line and the way out (exit 3)",
  r.returncode == 3 and "x86_Broken.xml:2: not well-formed XML" in r.stderr and
  "XENMIG_LIBVIRT_CPU_MAP=none" in r.stderr, "%d %s" % (r.returncode, r.stderr))
r = run("levels", env=dict(env, XENMIG_LIBVIRT_CPU_MAP="none"))
t("XENMIG_LIBVIRT_CPU_MAP=none leaves the installed map out",
  r.returncode == 0 and "libvirt:Haswell-noTSX " not in r.stdout and
  "libvirt:SapphireRapids " in r.stdout, r.stderr)

# A libvirt model is a baseline like any level: in an xl.cfg and for --baseline.
tmpd = os.environ["TMPDIR"]
for cpu, name in (("Intel Xeon E5-2630 v3", "hsw"), ("Intel Core i7-2600", "snb")):
    open(os.path.join(tmpd, name + ".json"), "w").write(run("corpus", "--host-json", cpu).stdout)
cfg = os.path.join(tmpd, "web.cfg")
open(cfg, "w").write('name = "web"\ntype = "hvm"\ncpuid_baseline = "libvirt:Haswell-noTSX"\n')
ok = run("check", cfg, "--host", os.path.join(tmpd, "hsw.json"))
short = run("check", cfg, "--host", os.path.join(tmpd, "snb.json"))
t("cpuid_baseline = \"libvirt:Haswell-noTSX\": a Haswell host runs it, a Sandy Bridge lacks avx2",
  ok.returncode == 0 and short.returncode == 4 and "missing: avx2\n" in short.stdout,
  "%d %d %s %s" % (ok.returncode, short.returncode, ok.stderr, short.stderr))
r = run("check", cfg, "--baseline", "libvirt:SandyBridge", "--host",
        os.path.join(tmpd, "snb.json"))
t("check --baseline libvirt:SandyBridge on that Sandy Bridge", r.returncode == 0,
  r.stdout + r.stderr)

# The highest model a featureset fully contains, computed here: the last
# model in libvirt's order of its vendor (or none) whose Xen features,
# closed under Xen's dependencies, it has; a model that only renames an
# earlier one is left out.
closed = lx.XenDependencies(os.environ["XENMIG_SRCDIR"], names).closed

merged = list(order)
for i, (m, _, _) in enumerate(installed):
    if m not in merged:
        merged.insert(merged.index(installed[i - 1][0]) + 1 if i else 0, m)

def highest(vendor, feats):
    best = "-"
    for model in merged:
        d = defs.get(model)
        if not d or (d["ancestor"] and not d["features"] and not d["removed"] and not d["vendor"]):
            continue
        want, _, _, v = expected(model)
        if (not v or v.lower() == vendor) and closed(want) <= feats:
            best = "libvirt:" + model
    return best

def decode(hexwords):
    out = run("decode", "--hex", hexwords).stdout
    return set(re.search(r"^names: (.*)$", out, re.M).group(1).split(","))

for cpus in (["Intel Xeon E5-2630 v3"], ["AMD EPYC 7502 32-Core"], ["Hygon C86 7185 32-core"],
             ["Intel Xeon Gold 6148", "Intel Xeon E5-2630 v3", "Intel Ice Lake Server"],
             ["Intel Core i7-2600", "Intel Core 2 Duo E6850"]):
    hosts = []
    for c in cpus:
        path = os.path.join(os.environ["TMPDIR"], "%d.json" % len(hosts))
        open(path, "w").write(run("corpus", "--host-json", c).stdout)
        hosts.append(path)
    out = run("cluster", "baseline", *hosts).stdout
    vendor = re.search(r"^vendor: (\S+)", out, re.M).group(1)
    feats = decode(re.search(r"^baseline: (\S+)", out, re.M).group(1))
    line = re.search(r"^highest-levels: (.*)$", out, re.M).group(1)
    want = highest(vendor, feats)
    t("cluster baseline of %s names %s" % (" + ".join(cpus), want),
      line.split(", ")[-1] == want, line)
    if len(cpus) == 1:
        r = subprocess.run([xl_ext, "cpuid-policy", "cluster", "add",
                            os.path.join(os.environ["TMPDIR"], "c.json"), hosts[0]],
                           capture_output=True, text=True)
        show = run("cluster", "show", os.path.join(os.environ["TMPDIR"], "c.json")).stdout
        os.unlink(os.path.join(os.environ["TMPDIR"], "c.json"))
        t("cluster show of %s names %s" % (cpus[0], want),
          r.returncode == 0 and "highest-levels: " + line + "\n" in show, show[:400])
print("1..%d" % n)
sys.exit(1 if failed else 0)
EOF

"""libvirt_xml.py: what the libvirt tests of tests/cpuid read on their own,
without xenmig's code or its mapping table: libvirt's CPU map XML (python3's
xml.etree), and Xen's featureset words as `xl-ext cpuid-policy features`
prints them.  A libvirt feature's Xen name is found here by bit position,
the rule data/gen-libvirt-features.py follows, but from these two sources
alone.  Test code only.
"""
import os, re, subprocess
import xml.etree.ElementTree as ET

REGS = ("eax", "ebx", "ecx", "edx")


def feature_positions(map_dir):
    """{libvirt name: (kind, leaf, subleaf, reg, bit)} from x86_features.xml."""
    out = {}
    for f in ET.parse(os.path.join(map_dir, "x86_features.xml")).getroot().findall("feature"):
        item = [c for c in f if c.tag in ("cpuid", "msr")][0]
        if item.tag == "cpuid":
            where = ("cpuid", int(item.get("eax_in"), 16), int(item.get("ecx_in", "0"), 16))
        else:
            where = ("msr", int(item.get("index"), 16), 0)
        reg, mask = [(r, int(item.get(r), 16)) for r in REGS if int(item.get(r, "0"), 16)][0]
        out[f.get("name")] = where + (reg, mask.bit_length() - 1)
    return out


def xen_words(xl_ext):
    """({(kind, leaf, subleaf, reg): word}, {(word, bit): (name, attributes)})."""
    text = subprocess.run([xl_ext, "cpuid-policy", "features"], check=True,
                          capture_output=True, text=True).stdout
    words, bits, word = {}, {}, None
    for line in text.splitlines():
        m = re.match(r"^word (\d+): .*CPUID level (0x[0-9A-Fa-f]+)(?::(\d+))?\.(e[a-d]x)", line)
        if m:
            word = int(m.group(1))
            words[("cpuid", int(m.group(2), 16), int(m.group(3) or 0), m.group(4))] = word
            continue
        m = re.match(r"^word (\d+): .*MSR_ARCH_CAPS (0x[0-9a-f]+)\.(e[ad]x)", line)
        if m:
            words[("msr", int(m.group(2), 16), 0, m.group(3))] = int(m.group(1))
            continue
        m = re.match(r"^\s+(\d+)\s+(\d+)\s+(\S+)\s+\S+\s*(\S*)$", line)
        if m:
            bits[(int(m.group(1)), int(m.group(2)))] = (m.group(3), m.group(4))
    return words, bits


class XenNames:
    """libvirt feature name -> Xen name (None: none), by bit position."""

    def __init__(self, map_dir, xl_ext):
        self.positions = feature_positions(map_dir)
        self.words, self.bits = xen_words(xl_ext)

    def xen(self, name):
        kind, leaf, subleaf, reg, bit = self.positions[name]
        word = self.words.get((kind, leaf, subleaf, reg))
        return self.bits.get((word, bit), (None, ""))[0] if word is not None else None

    def offered(self, xen_name):
        """Whether Xen 4.17 may give an HVM guest the feature (A/S/H or '!')."""
        attrs = [a for n, a in self.bits.values() if n == xen_name][0]
        return bool(re.search(r"[AaSsHh!]", attrs))


class XenDependencies:
    """Xen 4.17's dependency rules (cpuid-policy/data/feature-deps.txt)."""

    def __init__(self, srcdir, names):
        self.deps = []
        for line in open(os.path.join(srcdir, "cpuid-policy/data/feature-deps.txt")):
            if line.strip() and not line.startswith("#"):
                pre, _, dependents = line.partition(":")
                self.deps += [(pre.strip(), d) for d in dependents.split()]
        self.word_of = {n: w for (w, b), (n, _) in names.bits.items()}

    def closed(self, feats):
        """feats less what the rules clear (a feature whose prerequisite is absent)."""
        feats = set(feats)
        while True:
            gone = {f for p, d in self.deps for f in feats if p not in feats and
                    (f == d or (d.startswith("word:") and self.word_of.get(f) == int(d[5:])))}
            if not gone:
                return feats
            feats -= gone


def installed_models(map_dir):
    """[(name, file, {'ancestor', 'vendor', 'features', 'removed'})] in index order."""
    arch = [a for a in ET.parse(os.path.join(map_dir, "index.xml")).getroot()
            if a.tag == "arch" and a.get("name") == "x86"][0]
    files = [i.get("filename") for i in arch.iter("include")]
    models = []
    for f in files:
        for m in ET.parse(os.path.join(map_dir, f)).getroot().findall("model"):
            anc, ven = m.find("model"), m.find("vendor")
            feats = m.findall("feature")
            models.append((m.get("name"), f, {
                "ancestor": anc.get("name") if anc is not None else None,
                "vendor": ven.get("name") if ven is not None else None,
                "features": [x.get("name") for x in feats if x.get("removed") != "yes"],
                "removed": [x.get("name") for x in feats if x.get("removed") == "yes"]}))
    return models


def resolve(defs, name):
    """(features, vendor) of a model, its ancestors first, removed ones left out."""
    d = defs[name]
    features, vendor = resolve(defs, d["ancestor"]) if d["ancestor"] else (set(), None)
    return (features | set(d["features"])) - set(d["removed"]), d["vendor"] or vendor


def show(xl_ext, level):
    """`levels --show LEVEL` as {key: [values]}."""
    text = subprocess.run([xl_ext, "cpuid-policy", "levels", "--show", level], check=True,
                          capture_output=True, text=True).stdout
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        out.setdefault(key, []).append(value)
    return out

#!/bin/sh
# The one specification of xenmig's formats is docs/formats.md.  Wherever
# it names a version or magic, it writes `VALUE (`CONSTANT`)`; each such
# value must be the constant's value in the headers, every versioned
# format's constant must be named there, and a header comment that quotes
# a constant's value (`CONSTANT (VALUE)`) must quote the same.  Fails when
# the code's version moves and the spec (or a comment) does not.
src=${XENMIG_SRCDIR:-..}
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 77; }
PYTHONDONTWRITEBYTECODE=1 python3 - "$src" <<'PYEOF'
import glob, os, re, sys

src = sys.argv[1]
spec_path = os.path.join(src, "docs", "formats.md")
headers = sorted(glob.glob(os.path.join(src, "libmig", "*.h")) +
                 glob.glob(os.path.join(src, "libmig", "sys", "*.h")) +
                 glob.glob(os.path.join(src, "cpuid-policy", "*.h")))
# every versioned format, by the constant that carries its version or magic
REQUIRED = ["MIG_MIGRATE_PROTOCOL_VERSION", "MIG_XFER_VERSION",
            "MIG_DIRTY_COMPACT_VERSION", "MIG_XEN_PROLOGUE_MAGIC",
            "MIG_STREAM_IHDR_VERSION", "MIG_STREAM_LIBXL_VERSION",
            "CPUID_HOST_SCHEMA_VERSION", "MIG_MAPPED_VERSION", "MIG_MAPPED_MAGIC"]

defines = {}
for path in headers:
    with open(path, encoding="utf-8") as f:
        for m in re.finditer(r'^#define\s+([A-Z][A-Z0-9_]+)\s+("[^"]*"|\d+)',
                             f.read(), re.M):
            defines[m.group(1)] = m.group(2).strip('"')

with open(spec_path, encoding="utf-8") as f:
    spec = f.read()
# `VALUE` or VALUE, maybe bold, then (`CONSTANT`)
quoted = re.findall(r'`?([0-9A-Za-z-]+)`?\**\s*\(`((?:MIG|CPUID)_[A-Z0-9_]+)`\)', spec)

tests = []
def t(what, ok, diag=""):
    tests.append((what, ok, diag))

for const in REQUIRED:
    t("%s is defined in a header" % const, const in defines)
    t("docs/formats.md gives the value of %s" % const,
      any(c == const for _, c in quoted))
for value, const in quoted:
    have = defines.get(const)
    t("docs/formats.md: %s is %s, as in the headers" % (const, value), have == value,
      "the headers define %s as %r" % (const, have))
for path in headers:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for const, value in re.findall(r'\b((?:MIG|CPUID)_[A-Z0-9_]+) \(([0-9]+)\)', text):
        t("%s's comment: %s (%s) matches its definition" %
          (os.path.relpath(path, src), const, value), defines.get(const) == value,
          "defined as %r" % defines.get(const))

print("1..%d" % len(tests))
for n, (what, ok, diag) in enumerate(tests, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", n, what))
    if not ok and diag:
        print("# " + diag)
sys.exit(0 if all(ok for _, ok, _ in tests) else 1)
PYEOF

# libvirt-env.sh: sourced by the libvirt tests of tests/cpuid after they
# set $map (the libvirt CPU map): the source tree's data, that map,
# libvirt_xml.py on python's path, and a directory $tmp removed on exit.
export XENMIG_CPUID_LEVELS_DIR="$XENMIG_SRCDIR/cpuid-policy/data/levels"
export XENMIG_CPUID_CORPUS="$XENMIG_SRCDIR/cpuid-policy/data/cpus/corpus.txt"
export XENMIG_LIBVIRT_DATA_DIR="$XENMIG_SRCDIR/cpuid-policy/data/libvirt"
export XENMIG_LIBVIRT_CPU_MAP="$map"
export PYTHONPATH="$XENMIG_SRCDIR/tests/cpuid${PYTHONPATH:+:$PYTHONPATH}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

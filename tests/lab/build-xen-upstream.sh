#!/bin/bash
# build-xen-upstream.sh VERSION CACHE_DIR WORK_DIR: print the path of a
# directory holding an upstream Xen VERSION (4.20, 4.22) built from the
# release tarball, building it only when CACHE_DIR has none for that
# tarball, configuration and patch set:
#   DIR/xen          the hypervisor (ELF32 with multiboot headers, for
#                    QEMU's -kernel), CONFIG_SHADOW_PAGING=y
#   DIR/dist/        the tools installed with DESTDIR (prefix /usr):
#                    dist/usr/lib/libxen*.so*, dist/usr/include,
#                    dist/usr/lib/pkgconfig, dist/usr/sbin/xl, xenstored,
#                    dist/usr/lib/xen/bin (libxl-save-helper, xen-init-dom0,
#                    verify-stream-v2, hvmloader in dist/usr/lib/xen/boot),
#                    dist/etc/init.d (xencommons and the other init scripts)
#   DIR/build-info   version, tarball checksum, configure line, build seconds
# The tools are what dom0 runs (scripts/lab --xen VERSION) and what xenmig
# is built against (./configure --with-xen=DIR/dist/usr).
#
# Why: Debian 12 ships Xen 4.17 only; users run 4.17 to 4.22, so the lab
# must boot those too (issue 27). Debian's qemu-system-xen, seabios and
# ovmf stand in for the submodules the tarballs lack (--with-system-*).
#
# The tarball: the newest xen-VERSION.*.tar.xz in the directory
# XENMIG_XEN_TARBALLS names (there is no default: the tarballs are not part
# of this repository; tests/lab/README.md, "Other Xen versions", says how
# to make them from the public xen-project repository). It applies every
# tests/lab/patches/xen-VERSION/*.patch (patch -p1, in name order); a patch
# that does not apply fails the build loudly.
#
# The cache key is the tarball's sha256 plus a hash of the configure line,
# the config change and the patches, so a new tarball, option or patch
# rebuilds once. Needs the build dependencies of scripts/install-deps
# --lab (acpica-tools for iasl, libyajl-dev for 4.20, libjson-c-dev for
# 4.22, uuid-dev, zlib, python3-dev, flex, bison...). Must never write
# outside CACHE_DIR and WORK_DIR; progress goes to stderr, only the
# resulting path to stdout. Takes about 15-30 minutes on 2 busy cores.
set -eu

usage="usage: build-xen-upstream.sh VERSION CACHE_DIR WORK_DIR"
version=${1:?$usage}
cache_dir=${2:?$usage}
work_dir=${3:?$usage}
script_dir=$(cd "$(dirname "$0")" && pwd)
tarballs=${XENMIG_XEN_TARBALLS:-}
nice_level=${XENMIG_LAB_NICE:-10}

log() { echo "build-xen-upstream: $*" >&2; }

case "$version" in
4.[0-9]*) ;;
*) log "version '$version': expected a Xen release line such as 4.20 or 4.22"; exit 2 ;;
esac
if [ -z "$tarballs" ]; then
    log "XENMIG_XEN_TARBALLS is not set: name the directory holding xen-$version.*.tar.xz" \
        "(tests/lab/README.md, \"Other Xen versions\", says how to make it)"
    exit 1
fi
tarball=$(ls "$tarballs"/xen-"$version".*.tar.xz 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$tarball" ]; then
    log "no xen-$version.*.tar.xz in $tarballs: put the release tarball there or set XENMIG_XEN_TARBALLS"
    exit 1
fi
full_version=$(basename "$tarball" .tar.xz)
full_version=${full_version#xen-}

# Debian's device model, BIOS and UEFI firmware instead of the submodules.
# No stubdoms, docs, OCaml/Go bindings, pygrub, XSM policy, PV shim or
# xentop: dom0 in the lab needs none of them, and each costs build time.
configure_args="--prefix=/usr --disable-docs --disable-stubdom --disable-ocamltools
    --disable-golang --disable-pygrub --disable-xsmpolicy --disable-pvshim
    --disable-monitors --with-system-qemu=/usr/libexec/xen-qemu-system-i386
    --with-system-seabios=/usr/share/seabios/bios-256k.bin
    --with-system-ovmf=/usr/share/OVMF/OVMF_CODE.fd"
config_change='CONFIG_SHADOW_PAGING=y'
# xl info shows at most 15 characters of the extra version: keep it short
vendor_version=-lab
patches=$(ls "$script_dir/patches/xen-$version"/*.patch 2>/dev/null | sort || true)
# shellcheck disable=SC2086
config_key=$( { echo $configure_args; printf '%s %s' "$config_change" "$vendor_version"; \
    [ -z "$patches" ] || cat $patches; } | sha256sum | cut -c1-8)

mkdir -p "$cache_dir" "$work_dir"
source_sum=$(sha256sum "$tarball" | cut -c1-12)
cached="$cache_dir/xen-$full_version-$source_sum-$config_key"
use_cached() {  # a result is published whole (mv of its .tmp directory)
    [ -s "$cached/xen" ] && [ -x "$cached/dist/usr/sbin/xl" ] || return 1
    log "using cached $cached"
    echo "$cached"
    exit 0
}
# before the lock too: a cached result never waits for another's build
use_cached || true
# One builder at a time per cache (CI and a developer may share a machine).
exec 9>"$cache_dir/.lock"
if ! flock -w 3600 9; then
    log "another build holds $cache_dir/.lock for more than an hour; remove it if no build is running"
    exit 1
fi
use_cached || true

started=$(date +%s)
src_dir="$work_dir/xen-$full_version"
rm -rf "$src_dir"
mkdir -p "$src_dir"
log "unpacking $(basename "$tarball") into $src_dir"
tar -xJf "$tarball" -C "$src_dir" --strip-components=1
for patch in $patches; do
    log "applying $(basename "$patch")"
    patch -p1 -s -N -d "$src_dir" < "$patch" >&2 \
        || { log "$patch does not apply to xen $full_version; fix the patch (the stock build is unaffected without it)"; exit 1; }
done

cd "$src_dir"
log "configuring the tools ($full_version)"
# shellcheck disable=SC2086
./configure $configure_args >"$src_dir/configure.log" 2>&1 \
    || { tail -n 20 "$src_dir/configure.log" >&2; log "configure failed; full log: $src_dir/configure.log (missing build dependency? scripts/install-deps --lab)"; exit 1; }

log "building the hypervisor (nice $nice_level, -j2)"
make -C xen -s defconfig >"$src_dir/xen-build.log" 2>&1
sed -i 's/^# CONFIG_SHADOW_PAGING is not set$/CONFIG_SHADOW_PAGING=y/' xen/.config
grep -qx 'CONFIG_SHADOW_PAGING=y' xen/.config || echo 'CONFIG_SHADOW_PAGING=y' >> xen/.config
nice -n "$nice_level" make -C xen -s olddefconfig >>"$src_dir/xen-build.log" 2>&1
nice -n "$nice_level" make -C xen -j2 XEN_VENDORVERSION="$vendor_version" >>"$src_dir/xen-build.log" 2>&1 \
    || { tail -n 30 "$src_dir/xen-build.log" >&2; log "the hypervisor build failed; full log: $src_dir/xen-build.log"; exit 1; }
grep -qx 'CONFIG_SHADOW_PAGING=y' xen/.config \
    || { log "olddefconfig dropped CONFIG_SHADOW_PAGING; see $src_dir/xen/.config"; exit 1; }
xen_s=$(( $(date +%s) - started ))
log "hypervisor built in ${xen_s}s; building and installing the tools (nice $nice_level, -j2)"

rm -rf "$cached.tmp"
mkdir -p "$cached.tmp/dist"
nice -n "$nice_level" make -j2 install-tools DESTDIR="$cached.tmp/dist" >"$src_dir/tools-build.log" 2>&1 \
    || { tail -n 40 "$src_dir/tools-build.log" >&2; log "the tools build failed; full log: $src_dir/tools-build.log"; exit 1; }
[ -x "$cached.tmp/dist/usr/sbin/xl" ] || { log "make install-tools left no usr/sbin/xl in $cached.tmp/dist"; exit 1; }
# xen/xen is an ELF32 image with multiboot headers: QEMU's -kernel takes it as is.
cp xen/xen "$cached.tmp/xen"
cp xen/.config "$cached.tmp/xen.config"
total_s=$(( $(date +%s) - started ))
{
    echo "version=$full_version"
    echo "tarball=$(basename "$tarball") sha256=$(sha256sum "$tarball" | cut -d' ' -f1)"
    echo "configure=$(echo $configure_args)"
    echo "config_change=$config_change vendor_version=$vendor_version"
    echo "patches=$(for p in $patches; do basename "$p"; done | tr '\n' ' ')"
    echo "hypervisor_s=$xen_s total_build_s=$total_s nice=$nice_level jobs=2"
} > "$cached.tmp/build-info"
rm -rf "$cached"
mv "$cached.tmp" "$cached"
cd /
rm -rf "$src_dir"
log "built $cached in ${total_s}s (hypervisor ${xen_s}s)"
echo "$cached"

#!/bin/bash
# build-xen-shadow.sh CACHE_DIR WORK_DIR: print the path of a Xen 4.17
# hypervisor rebuilt from Debian's source with CONFIG_SHADOW_PAGING=y,
# building it only when CACHE_DIR has none for the current source version.
#
# Why: Debian builds Xen without shadow paging, and PV guests need shadow
# paging for log-dirty mode, so PV live migration fails on the stock
# hypervisor ("Failed to enable logdirty: 95"). PVH guests use HAP and do not
# need this.
#
# It also applies every tests/lab/patches/xen-4.17-*.patch (patch -p1, in
# name order): xen-4.17-ranged-logdirty.patch adds the ranged log-dirty op
# XEN_DOMCTL_SHADOW_OP_CLEAN_RANGE (40) that libmig/backend/xen/ranged.c
# uses; a patch that does not apply fails the build loudly.
#
# The cache key is the Debian source version plus a hash of the config
# change and of the patches, so a new Debian upload, a new option or a
# changed patch rebuilds once. The newest
# source version the mirror actually serves is used (the security archive
# lists 4.17.7 but answers 404 for its files; 4.17.5 from bookworm main
# works with the 4.17.7 tools: same 4.17 hypercall ABI).
#
# Needs: a deb-src entry (scripts/lab adds one), dpkg-dev, gcc, make, patch, flex,
# bison. Must never write outside CACHE_DIR and WORK_DIR; progress goes to
# stderr, only the resulting path to stdout.
set -eu

cache_dir=${1:?usage: build-xen-shadow.sh CACHE_DIR WORK_DIR}
work_dir=${2:?usage: build-xen-shadow.sh CACHE_DIR WORK_DIR}
config_change='CONFIG_SHADOW_PAGING=y'
# xl info shows at most 15 characters of the extra version: keep it short
vendor_version=-lab-shadow
patch_dir=$(cd "$(dirname "$0")" && pwd)/patches
patches=$(ls "$patch_dir"/xen-4.17-*.patch 2>/dev/null | sort || true)
# shellcheck disable=SC2086
config_key=$( { printf '%s %s' "$config_change" "$vendor_version"; [ -z "$patches" ] || cat $patches; } \
    | sha256sum | cut -c1-8)

log() { echo "build-xen-shadow: $*" >&2; }

mkdir -p "$cache_dir" "$work_dir"
# One builder at a time per cache (CI and a developer may share a machine).
exec 9>"$cache_dir/.lock"
if ! flock -w 900 9; then
    log "another build holds $cache_dir/.lock for more than 15 minutes; remove it if no build is running"
    exit 1
fi

versions=$(apt-cache showsrc xen 2>/dev/null | sed -n 's/^Version: //p' | sort -rV | uniq)
if [ -z "$versions" ]; then
    log "apt knows no source package 'xen': add a deb-src entry (scripts/lab does) and run apt-get update"
    exit 1
fi

for version in $versions; do
    cached="$cache_dir/xen-shadow-$version-$config_key"
    if [ -s "$cached" ]; then
        log "using cached $cached"
        echo "$cached"
        exit 0
    fi
done

src_dir="$work_dir/xen-source"
rm -rf "$src_dir"
mkdir -p "$src_dir"
chosen=""
for version in $versions; do
    log "downloading the source of xen $version"
    if (cd "$src_dir" && timeout 300 apt-get source --download-only "xen=$version" >&2 2>"$src_dir/download.log"); then
        chosen=$version
        break
    fi
    log "xen $version is not downloadable here ($(grep -m1 -o '404.*' "$src_dir/download.log" || tail -n1 "$src_dir/download.log")), trying an older one"
    rm -f "$src_dir"/xen_*
done
if [ -z "$chosen" ]; then
    log "no xen source version could be downloaded (tried: $(echo $versions))"
    exit 1
fi

log "unpacking xen $chosen with Debian's patches"
(cd "$src_dir" && dpkg-source --no-check -x xen_"$chosen".dsc tree >&2 2>/dev/null) \
    || { log "dpkg-source could not unpack xen_$chosen.dsc in $src_dir"; exit 1; }

for patch in $patches; do
    log "applying $(basename "$patch")"
    patch -p1 -s -N -d "$src_dir/tree" < "$patch" >&2 \
        || { log "$patch does not apply to xen $chosen; fix the patch (the stock build is unaffected without it)"; exit 1; }
done

cd "$src_dir/tree/xen"
if [ ! -r /boot/xen-4.17-amd64.config ]; then
    log "/boot/xen-4.17-amd64.config is missing: install xen-hypervisor-4.17-amd64"
    exit 1
fi
cp /boot/xen-4.17-amd64.config .config
sed -i 's/^# CONFIG_SHADOW_PAGING is not set$/CONFIG_SHADOW_PAGING=y/' .config
grep -qx 'CONFIG_SHADOW_PAGING=y' .config || echo 'CONFIG_SHADOW_PAGING=y' >> .config
log "building the hypervisor (nice ${XENMIG_LAB_NICE:-0}, -j2; about a minute on 2 cores)"
nice -n "${XENMIG_LAB_NICE:-0}" make -s olddefconfig >&2
nice -n "${XENMIG_LAB_NICE:-0}" make -s -j2 XEN_VENDORVERSION="$vendor_version" >"$src_dir/build.log" 2>&1 \
    || { tail -n 30 "$src_dir/build.log" >&2; log "the hypervisor build failed; full log: $src_dir/build.log"; exit 1; }
grep -qx 'CONFIG_SHADOW_PAGING=y' .config \
    || { log "olddefconfig dropped CONFIG_SHADOW_PAGING; see $src_dir/tree/xen/.config"; exit 1; }

cached="$cache_dir/xen-shadow-$chosen-$config_key"
# xen/xen is an ELF32 image with multiboot headers: QEMU's -kernel takes it as is.
cp xen "$cached.tmp"
mv "$cached.tmp" "$cached"
cd /
rm -rf "$src_dir"
log "built $cached"
echo "$cached"

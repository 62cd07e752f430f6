#!/bin/bash
# build-artefacts.sh SOURCE_DIR BUILD_DIR OUT_DIR DEB [XEN_DIR]: build what
# the lab boots, into OUT_DIR (large files; never inside the repository):
#   OUT_DIR/vmlinuz          Debian kernel, used for dom0 and for the domU
#   OUT_DIR/lab-guest        tests/lab/lab-guest.c, static (runs in domU and dom0)
#   OUT_DIR/ranged-check     tests/lab/ranged-check.c (dom0, /usr/bin)
#   OUT_DIR/domU-initrd.gz   busybox + lab-guest + tests/lab/domU-init
#   OUT_DIR/dom0-base.cpio.gz  busybox, the Xen 4.17 tools and the libraries
#                            they load, socat, Xen and virtio kernel modules,
#                            the HVM device model (qemu-xen) with hvmloader,
#                            SeaBIOS, linuxboot.bin and a keymap,
#                            the guest kernel and initramfs, tests/lab/dom0-init
#                            and scenarios.sh (with sched-params.sh), and this
#                            project's files as the xenmig package DEB installs
#                            them (dpkg-deb -x: xl-ext in /usr/bin, its data in
#                            /usr/share/xenmig) with the libraries they load
# BUILD_DIR is a configured build (its config.h); scripts/build-deb makes DEB.
# dom0 has no dpkg: the .deb's Depends are checked here instead, against
# this host's packages, whose libraries dom0 gets (the same Xen 4.17
# libraries as its xl), and the lab fails if they do not meet them.
# scripts/lab appends a small cpio with the run's plan to dom0-base.cpio.gz
# (the kernel unpacks concatenated archives).
# With XEN_DIR (tests/lab/build-xen-upstream.sh's result, scripts/lab --xen
# 4.20|4.22), dom0 gets that Xen's tools and libraries (XEN_DIR/dist, prefix
# /usr: xl in /usr/sbin, the libraries in /usr/lib, libxl's helpers and
# hvmloader in /usr/lib/xen) instead of Debian's Xen 4.17, and DEB is a
# directory: xenmig installed with make install DESTDIR=DEB from BUILD_DIR,
# configured --with-xen=XEN_DIR/dist/usr (there is no package to check).
# A host library whose soname that Xen also has (libxenstore.so.4, ...) is
# left out of dom0, so Debian's qemu-xen loads the new Xen's stable
# libraries; only libxenctrl.so.4.17, which it also needs, comes from Debian.
# Must never write outside OUT_DIR; must fail loudly (naming the missing
# file and the package that provides it) rather than build a partial image.
set -eu

usage="usage: build-artefacts.sh SOURCE_DIR BUILD_DIR OUT_DIR DEB [XEN_DIR]"
source_dir=${1:?$usage}
build_dir=${2:?$usage}
out_dir=${3:?$usage}
deb=${4:?$usage}
xen_dir=${5:-}
lab_dir=$source_dir/tests/lab
xen_bin=/usr/lib/xen-4.17/bin
xen_dist=""

fail() { echo "build-artefacts: $*" >&2; exit 1; }
need() {  # FILE PACKAGE
    [ -e "$1" ] || fail "$1 is missing: install the Debian package $2 (scripts/install-deps --lab)"
}

build_dir=$(cd "$build_dir" && pwd) || fail "build directory '$build_dir' does not exist: run scripts/build"

kernel_version=$(ls /lib/modules 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel_version" ] || fail "no kernel modules under /lib/modules: install linux-image-amd64"
need "/boot/vmlinuz-$kernel_version" linux-image-amd64
need /bin/busybox busybox-static
if [ -n "$xen_dir" ]; then
    xen_dist=$(cd "$xen_dir" && pwd)/dist
    need "$xen_dist/usr/sbin/xl" "(none: tests/lab/build-xen-upstream.sh builds it)"
    # ldd resolves the Xen libraries to that Xen's, as dom0's loader will
    export LD_LIBRARY_PATH=$xen_dist/usr/lib
else
    need "$xen_bin/xl" xen-utils-4.17
fi
need /usr/bin/socat socat
need "$build_dir/config.h" "(none: configure the project first, scripts/build)"
need "$deb" "(none: scripts/build-deb makes it)"
for tool in dpkg-deb:dpkg readelf:binutils; do
    command -v "${tool%%:*}" >/dev/null || fail "${tool%%:*} is missing: install the Debian package ${tool#*:}"
done
if ldd /bin/busybox >/dev/null 2>&1; then
    fail "/bin/busybox is dynamically linked: install busybox-static (it replaces busybox)"
fi

mkdir -p "$out_dir"
staging=$(mktemp -d "$out_dir/staging.XXXXXX")
trap 'rm -rf "$staging"' EXIT

cp "/boot/vmlinuz-$kernel_version" "$out_dir/vmlinuz"
cc -std=c11 -O2 -static -Wall -Wextra -Werror -I"$build_dir" \
    -o "$out_dir/lab-guest" "$lab_dir/lab-guest.c" \
    || fail "could not build $lab_dir/lab-guest.c statically (needs libc6-dev)"
# dom0's proof of the ranged log-dirty op, with the project's own ranged.c
xen_flags=""
[ -z "$xen_dist" ] || xen_flags="-I$xen_dist/usr/include -L$xen_dist/usr/lib"
# shellcheck disable=SC2086
cc -std=c11 -O2 -Wall -Wextra -Wshadow -Wmissing-prototypes -Wformat=2 -Werror $xen_flags \
    -I"$build_dir" -I"$source_dir/libmig" -I"$source_dir/libmig/backend/xen" \
    -o "$out_dir/ranged-check" "$lab_dir/ranged-check.c" \
    "$source_dir/libmig/backend/xen/ranged.c" "$source_dir/libmig/error.c" \
    "$source_dir/libmig/clock.c" \
    -lxenctrl -lxenforeignmemory \
    || fail "could not build $lab_dir/ranged-check.c (needs libxen-dev)"

# ------------------------------------------------------------------ domU
guest_root=$staging/domU
mkdir -p "$guest_root"/{bin,proc,sys,dev}
cp /bin/busybox "$guest_root/bin/busybox"
cp "$out_dir/lab-guest" "$guest_root/bin/lab-guest"
install -m 755 "$lab_dir/domU-init" "$guest_root/init"
(cd "$guest_root" && find . | cpio -o -H newc --quiet | gzip -9) > "$out_dir/domU-initrd.gz"

# ------------------------------------------------------------------ dom0
root=$staging/dom0
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,proc,sys,dev,run,tmp,root,etc/xen,guest,lab,results,lib/modules} \
         "$root"/var/{lib/xen,lib/xenstored,log/xen/console,run} "$root$xen_bin"
cp /bin/busybox "$root/bin/busybox"

copy_libraries() {  # FILE: copy every library ldd lists for FILE (a program of this host's)
    local library
    { ldd "$1" 2>/dev/null || true; } | awk '/=>/ { print $3 } /^\t\// { print $1 }' |
    while read -r library; do
        [ -n "$library" ] && [ -e "$library" ] || continue
        # XEN_DIR's libraries are in dom0's /usr/lib already (copy_xen_dist)
        [ -n "$xen_dist" ] && [ "${library#"$xen_dist"/}" != "$library" ] && continue
        mkdir -p "$root$(dirname "$library")"
        [ -e "$root$library" ] || cp -L "$library" "$root$library"
    done
}
copy_with_libraries() {  # FILE...: copy each file and every library ldd lists for it
    local file
    for file in "$@"; do
        need "$file" "(see scripts/install-deps --lab)"
        mkdir -p "$root$(dirname "$file")"
        cp -L "$file" "$root$file"
        copy_libraries "$file"
    done
}

# owner_package FILE: the Debian package that installed FILE on this host
# (with merged /usr, ldd's /lib/... is dpkg's /usr/lib/... or the reverse)
owner_package() {
    local path=$1 other
    case "$path" in /usr/*) other=${path#/usr} ;; *) other=/usr$path ;; esac
    { dpkg-query -S "$path" 2>/dev/null || dpkg-query -S "$other" 2>/dev/null || true; } |
        grep -v '^diversion' | head -n 1 | sed 's|: /.*||; s|:[a-z0-9]*$||'
}

# install_package DEB: unpack DEB into dom0 as dpkg would install it, and,
# since dom0 has no dpkg, prove here what dpkg would: every Depends entry
# is met by the package installed on this host (whose libraries dom0 gets),
# every Xen library it names is one this host's Xen 4.17 xl loads, and
# every library its programs load is in dom0, from a package it names.
install_package() {
    local deb=$1 unpacked=$staging/package depends entry alternative name op version
    local installed met file soname path package xl_packages checked=0
    mkdir -p "$unpacked"
    dpkg-deb -x "$deb" "$unpacked" || fail "dpkg-deb -x $deb failed"
    depends=$(dpkg-deb -f "$deb" Depends)
    [ -n "$depends" ] || fail "$deb has no Depends (built without \${shlibs:Depends}?)"
    while IFS= read -r entry; do
        met=""
        IFS='|' read -ra alternatives <<< "$entry"
        for alternative in "${alternatives[@]}"; do
            name=$(echo "$alternative" | awk '{ print $1 }')
            op=$(echo "$alternative" | sed -n 's/.*(\([<>=]*\) *\([^)]*\)).*/\1/p')
            version=$(echo "$alternative" | sed -n 's/.*(\([<>=]*\) *\([^)]*\)).*/\2/p')
            installed=$(dpkg-query -W -f '${Version}' "$name" 2>/dev/null) || continue
            if [ -z "$op" ] || dpkg --compare-versions "$installed" "$op" "$version"; then
                met=$name
                break
            fi
        done
        [ -n "$met" ] || fail "$(basename "$deb") needs '$entry', which this host's packages do not meet" \
            "(installed: $(dpkg-query -W -f '${Package} ${Version}' "$name" 2>/dev/null || echo none)):" \
            "dom0 gets this host's libraries, so they would not be those the package was built for"
    done < <(echo "$depends" | tr ',' '\n' | sed 's/^ *//; /^$/d')

    # the Xen libraries it names are those of this host's Xen 4.17 xl (dom0's)
    xl_packages=$({ ldd "$xen_bin/xl" 2>/dev/null || true; } | awk '/=>/ { print $3 }' |
        while read -r path; do owner_package "$path"; done | sort -u | tr '\n' ' ')
    for name in $(echo "$depends" | tr ',|' '\n\n' | awk '$1 ~ /^libxen/ { print $1 }'); do
        case " $xl_packages " in
        *" $name "*) ;;
        *) fail "$(basename "$deb") depends on $name, which is not among the Xen 4.17 libraries" \
                "$xen_bin/xl loads here ($xl_packages)" ;;
        esac
    done

    while IFS= read -r file; do
        [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
        for soname in $(readelf -d "$file" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
            path=$(ldd "$file" 2>/dev/null | awk -v soname="$soname" '$1 == soname { print $3 }')
            [ -n "$path" ] && [ -e "$path" ] ||
                fail "${file#"$unpacked"} of $(basename "$deb") needs $soname, which this host does not have"
            package=$(owner_package "$path")
            case ", $depends" in
            *[,\|]" $package "*|*[,\|]" $package") ;;
            *) fail "${file#"$unpacked"} needs $soname from the package '$package'," \
                    "which $(basename "$deb")'s Depends does not name: $depends" ;;
            esac
            checked=$((checked + 1))
        done
        copy_libraries "$file"
        for path in $(ldd "$file" 2>/dev/null | awk '/=>/ { print $3 }'); do
            [ -e "$root$path" ] || fail "$path (for ${file#"$unpacked"}) did not reach dom0"
        done
    done < <(find "$unpacked" -type f)
    cp -a "$unpacked/." "$root/"
    echo "build-artefacts: $(basename "$deb") unpacked into dom0: its Depends met by this host's" \
        "packages, $checked direct library needs checked and copied with their own" >&2
}

# copy_xen_dist: XEN_DIR's tools as make install-tools put them (prefix
# /usr), without what only a build needs, with the host libraries they load
copy_xen_dist() {
    local file
    tar -C "$xen_dist" --exclude=./usr/include --exclude=./usr/share --exclude='*.a' \
        --exclude=./usr/lib/pkgconfig --exclude='./usr/lib/python3*' --exclude=./usr/lib/debug --exclude='./usr/local' \
        --exclude=./var -cf - . | tar -C "$root" -xf - \
        || fail "could not copy $xen_dist into dom0"
    while IFS= read -r file; do
        [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
        copy_libraries "$file"
    done < <(find "$xen_dist/usr/sbin" "$xen_dist/usr/bin" "$xen_dist/usr/lib/xen/bin" -type f)
}

if [ -n "$xen_dist" ]; then
    copy_xen_dist
    copy_with_libraries /usr/bin/socat \
        /lib/x86_64-linux-gnu/libgcc_s.so.1   # glibc dlopens it for pthread_cancel; ldd does not list it
else
    copy_with_libraries "$xen_bin"/{xl,xenstored,xenconsoled,libxl-save-helper,xen-init-dom0,xen-cpuid} \
        /usr/bin/xenstore /usr/bin/socat \
        /lib/x86_64-linux-gnu/libgcc_s.so.1   # glibc dlopens it for pthread_cancel; ldd does not list it
    for command in read write ls list rm exists; do
        ln -sf xenstore "$root/usr/bin/xenstore-$command"
    done
    for command in xl xenstored xenconsoled xen-init-dom0 xen-cpuid; do
        ln -sf "$xen_bin/$command" "$root/usr/sbin/$command"
    done
fi

# HVM guests: Debian's qemu-xen device model (libxl runs exactly this path
# for device_model_version="qemu-xen"), hvmloader, the SeaBIOS image libxl
# hands to hvmloader, and of qemu's data only what the device model opens
# for the lab's HVM guest (direct kernel boot, no VGA, no NIC):
# linuxboot.bin (the serial log shows SeaBIOS running it; qemu-xen has no
# fw_cfg DMA, so linuxboot_dma.bin is never opened), and the en-us keymap
# (libxl passes "-vnc none", and qemu still loads a keymap and exits
# without one)
need /usr/libexec/xen-qemu-system-i386 qemu-system-xen
need /usr/share/seabios/bios-256k.bin seabios
copy_with_libraries /usr/libexec/xen-qemu-system-i386
mkdir -p "$root/usr/share/seabios" "$root/usr/share/qemu/keymaps"
if [ -z "$xen_dist" ]; then   # else copy_xen_dist brought XEN_DIR's hvmloader
    need /usr/lib/xen-4.17/boot/hvmloader xen-utils-4.17
    mkdir -p "$root/usr/lib/xen-4.17/boot"
    cp /usr/lib/xen-4.17/boot/hvmloader "$root/usr/lib/xen-4.17/boot/hvmloader"
fi
cp /usr/share/seabios/bios-256k.bin "$root/usr/share/seabios/bios-256k.bin"
for data in linuxboot.bin keymaps/en-us; do
    need "/usr/share/qemu/$data" qemu-system-data
    cp -L "/usr/share/qemu/$data" "$root/usr/share/qemu/$data"
done

# install_tree DIR: xenmig as make install DESTDIR=DIR put it, built
# against XEN_DIR's Xen (no package, so no Depends to check), with the host
# libraries its programs load; XEN_DIR's own are in dom0's /usr/lib
install_tree() {
    local tree=$1 file
    [ -x "$tree/usr/bin/xl-ext" ] || fail "$tree/usr/bin/xl-ext is missing: make install DESTDIR=$tree in the build --with-xen"
    while IFS= read -r file; do
        [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
        copy_libraries "$file"
    done < <(find "$tree" -type f)
    cp -a "$tree/." "$root/"
    echo "build-artefacts: xenmig from $tree (built against $xen_dist) copied into dom0" >&2
}

# this project's files: the package, unpacked where dpkg would install it
# (with XEN_DIR: the tree installed from the build against that Xen)
if [ -n "$xen_dist" ]; then
    install_tree "$deb"
else
    install_package "$deb"
fi
cp "$out_dir/lab-guest" "$root/usr/bin/lab-guest"
copy_with_libraries "$out_dir/ranged-check"
rm -rf "$root${out_dir:?}"
cp "$out_dir/ranged-check" "$root/usr/bin/ranged-check"

# kernel modules with their dependencies, dependencies first
resolve_modules() {  # MODULE...: print a load order
    local module dependency
    for module in "$@"; do
        case " $seen_modules " in *" $module "*) continue ;; esac
        for dependency in $(modinfo -k "$kernel_version" -F depends "$module" | tr ',' ' '); do
            resolve_modules "$dependency"
        done
        seen_modules="$seen_modules $module"
        echo "$module"
    done
}
seen_modules=""
resolve_modules xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc virtio_pci virtio_blk virtio_net \
    > "$root/lib/modules/load-order"
while read -r module; do
    file=$(modinfo -k "$kernel_version" -F filename "$module") || fail "kernel module $module not found for $kernel_version"
    case "$file" in
    *.ko) cp "$file" "$root/lib/modules/$module.ko" ;;
    *.ko.xz) xz -dc "$file" > "$root/lib/modules/$module.ko" ;;
    *) fail "kernel module $module has an unexpected file name '$file'" ;;
    esac
done < "$root/lib/modules/load-order"

cp "$out_dir/vmlinuz" "$root/guest/vmlinuz"
cp "$out_dir/domU-initrd.gz" "$root/guest/initrd.gz"
echo 'autoballoon="off"' > "$root/etc/xen/xl.conf"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
echo lab-dom0 > "$root/etc/hostname"
install -m 755 "$lab_dir/dom0-init" "$root/init"
install -m 755 "$lab_dir/scenarios.sh" "$root/lab/scenarios.sh"
# the scheduler-parameter check of option sched_check (scenarios.sh)
install -m 755 "$lab_dir/sched-params.sh" "$root/lab/sched-params.sh"
# xl-ext create's lab scenario; the CPUID/GPU level data it names
# (/lab/data/...) are the package's own
install -m 755 "$lab_dir/scenarios/create-baseline.sh" "$root/lab/create-baseline.sh"
mkdir -p "$root/lab/data"
for data in levels gpu-levels cpus; do
    [ -e "$root/usr/share/xenmig/$data" ] || fail "$deb lacks /usr/share/xenmig/$data"
    ln -s "/usr/share/xenmig/$data" "$root/lab/data/$data"
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out_dir/dom0-base.cpio.gz"
echo "build-artefacts: dom0 $(du -h "$out_dir/dom0-base.cpio.gz" | cut -f1), domU $(du -h "$out_dir/domU-initrd.gz" | cut -f1) in $out_dir" >&2

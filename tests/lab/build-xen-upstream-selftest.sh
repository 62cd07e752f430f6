#!/bin/sh
# tests/lab/build-xen-upstream.sh (scripts/lab --xen 4.20|4.22) on a fake
# release tarball whose configure and Makefiles only make the files a real
# build leaves (xen/xen, xen/.config, DESTDIR/usr/sbin/xl), in seconds: the
# result is built once and then taken from the cache, only its path goes to
# stdout (without waiting for the lock another build holds), a changed
# patch set builds anew (and a patch that does not apply
# fails naming it), CONFIG_SHADOW_PAGING=y reaches the hypervisor's config,
# and a bad version or a missing tarball is refused with a message.
script=${XENMIG_SRCDIR:-$(dirname "$0")/../..}/tests/lab/build-xen-upstream.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
t() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }

# the fake Xen 4.99.1 source tree
src=$tmp/src/xen-4.99.1
mkdir -p "$src/xen"
cat > "$src/configure" <<'EOF'
#!/bin/sh
echo "$*" > configure.args
EOF
cat > "$src/Makefile" <<'EOF'
install-tools:
	mkdir -p $(DESTDIR)/usr/sbin $(DESTDIR)/usr/lib
	printf '#!/bin/sh\n' > $(DESTDIR)/usr/sbin/xl
	chmod 755 $(DESTDIR)/usr/sbin/xl
	cp configure.args $(DESTDIR)/usr/lib/configure.args
	echo build >> ../builds
EOF
cat > "$src/xen/Makefile" <<'EOF'
defconfig:
	echo '# CONFIG_SHADOW_PAGING is not set' > .config
olddefconfig:
	true
all:
	echo "fake hypervisor $(XEN_VENDORVERSION)" > xen
.DEFAULT_GOAL := all
EOF
chmod 755 "$src/configure"
mkdir -p "$tmp/tarballs"
tar -C "$tmp/src" -cJf "$tmp/tarballs/xen-4.99.1.tar.xz" xen-4.99.1

# the script's patch directory is beside it: run a copy in a tree of our own
mkdir -p "$tmp/tree/tests/lab/patches"
cp "$script" "$tmp/tree/tests/lab/build-xen-upstream.sh"
build() {  # the script on the fake tarball; stdout in $tmp/out, stderr in $tmp/err
    XENMIG_XEN_TARBALLS=$tmp/tarballs XENMIG_LAB_NICE=0 \
        sh "$tmp/tree/tests/lab/build-xen-upstream.sh" "$@" > "$tmp/out" 2> "$tmp/err"
}
builds() { cat "$tmp/work/builds" 2>/dev/null | wc -l; }

build 4.99 "$tmp/cache" "$tmp/work"; rc=$?
dir=$(cat "$tmp/out")
t "builds a release from its tarball: exit 0" '[ $rc = 0 ]'
t "stdout is the result's path alone, a directory in the cache" \
    '[ "$(wc -l < "$tmp/out")" = 1 ] && [ -d "$dir" ] && [ "${dir#"$tmp/cache/xen-4.99.1-"}" != "$dir" ]'
t "the hypervisor image is there, built with the short vendor version" \
    'grep -qx "fake hypervisor -lab" "$dir/xen"'
t "CONFIG_SHADOW_PAGING=y reached the hypervisor's config" 'grep -qx CONFIG_SHADOW_PAGING=y "$dir/xen.config"'
t "the tools are installed under dist/ with prefix /usr and Debian's qemu" \
    '[ -x "$dir/dist/usr/sbin/xl" ] && grep -q -- "--prefix=/usr .*--with-system-qemu=/usr/libexec/xen-qemu-system-i386" "$dir/dist/usr/lib/configure.args"'
t "build-info records the tarball's sha256 and the build time" \
    'grep -q "sha256=$(sha256sum "$tmp/tarballs/xen-4.99.1.tar.xz" | cut -d" " -f1)" "$dir/build-info" && grep -q "total_build_s=[0-9]" "$dir/build-info"'
t "progress went to stderr" 'grep -q "build-xen-upstream: built $dir" "$tmp/err"'

build 4.99 "$tmp/cache" "$tmp/work"; rc=$?
t "a second run takes the cache: same path, nothing built" \
    '[ $rc = 0 ] && [ "$(cat "$tmp/out")" = "$dir" ] && [ "$(builds)" = 1 ] && grep -q "using cached" "$tmp/err"'

# another build holds the cache's lock (this subshell, for as long as the
# run lasts): a cached result is still taken at once (bounded by timeout)
( flock 9 && XENMIG_XEN_TARBALLS=$tmp/tarballs timeout 20 \
    sh "$tmp/tree/tests/lab/build-xen-upstream.sh" 4.99 "$tmp/cache" "$tmp/work" > "$tmp/out" 2> "$tmp/err" ) \
    9> "$tmp/cache/.lock"; rc=$?
t "a cached result does not wait for the lock another build holds" \
    '[ $rc = 0 ] && [ "$(cat "$tmp/out")" = "$dir" ]'

mkdir -p "$tmp/tree/tests/lab/patches/xen-4.99"
cat > "$tmp/tree/tests/lab/patches/xen-4.99/0001-note.patch" <<'EOF'
--- /dev/null
+++ b/NOTE
@@ -0,0 +1 @@
+patched
EOF
build 4.99 "$tmp/cache" "$tmp/work"; rc=$?
t "a new patch builds anew, into another cache entry, and names the patch" \
    '[ $rc = 0 ] && [ "$(cat "$tmp/out")" != "$dir" ] && [ "$(builds)" = 2 ] && grep -q "0001-note.patch" "$(cat "$tmp/out")/build-info"'

printf -- '--- a/NOPE\n+++ b/NOPE\n@@ -1 +1 @@\n-x\n+y\n' > "$tmp/tree/tests/lab/patches/xen-4.99/0002-bad.patch"
build 4.99 "$tmp/cache" "$tmp/work"; rc=$?
t "a patch that does not apply fails the build, naming it" \
    '[ $rc = 1 ] && [ ! -s "$tmp/out" ] && grep -q "0002-bad.patch does not apply" "$tmp/err"'

build 5 "$tmp/cache" "$tmp/work"; rc=$?
t "a version that is no Xen release line is refused (exit 2)" \
    '[ $rc = 2 ] && grep -q "version .5.: expected" "$tmp/err"'
build 4.98 "$tmp/cache" "$tmp/work"; rc=$?
t "a version without a tarball is refused, naming where it looked" \
    '[ $rc = 1 ] && grep -q "no xen-4.98.\*.tar.xz in $tmp/tarballs" "$tmp/err"'

XENMIG_XEN_TARBALLS= XENMIG_LAB_NICE=0 \
    sh "$tmp/tree/tests/lab/build-xen-upstream.sh" 4.99 "$tmp/cache" "$tmp/work" > "$tmp/out" 2> "$tmp/err"; rc=$?
t "without XENMIG_XEN_TARBALLS: refused, saying what to set (no default outside the tree)" \
    '[ $rc = 1 ] && [ ! -s "$tmp/out" ] && grep -q "XENMIG_XEN_TARBALLS is not set" "$tmp/err"'
echo "1..$n"
exit $fail

#!/bin/sh
# save-restore.sh: `xl-ext save --sim` then `xl-ext restore --sim`, on
# every format (the sequential "xl" file and the mapped file) and with one
# and several threads: the restored guest's memory digest is the source
# guest's at the end of the save.  The format's default follows --streams;
# a dirtying save over several rounds leaves a mapped file no larger than
# 1.05 times the guest's memory; stream-dump lists a mapped file; convert
# turns it into the sequential one, which restores to the same digest.  A
# file cut short or damaged is refused (exit 3) with the offset, and
# nothing is started.
. "${XENMIG_SRCDIR:-../..}/tests/sim/sim-lib.sh"

sim_guest_or_skip

echo "1..38"
save() { "$XL_EXT" save --sim "$@" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"; }
restore() { "$XL_EXT" restore "$@" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"; }
rc() { cat "$t/rc"; }
saved_hash() { sed -n 's/^xl-ext save: result=ok .*memory_hash=\([0-9a-f]*\).*/\1/p' "$t/out"; }
restored_hash() { sed -n 's/^xl-ext restore: result=ok .*memory_digest=\([0-9a-f]*\).*/\1/p' "$t/out"; }
magic() { head -c "$2" "$1"; }
# a hot guest: several rounds, each page of the working set written again
GUEST="--sim-memory 32M --sim-fill realistic --sim-pattern hot --sim-working-set 4M --sim-rate 20000 --max-downtime 2000"

# 1. the default format follows --streams
save $GUEST "$t/default.save"
check "no --streams: the sequential file (XENMIG-SIM-SAVE1)" \
    '[ "$(rc)" = 0 ] && [ "$(magic "$t/default.save" 16)" = XENMIG-SIM-SAVE1 ]'
hash_default=$(saved_hash)
save $GUEST --streams 2 "$t/two.mapped"
check "--streams 2: the mapped file (XMIGMAP1)" \
    '[ "$(rc)" = 0 ] && [ "$(magic "$t/two.mapped" 8)" = XMIGMAP1 ]'
check "the receiver says where the mapped save went" 'grep -q "guest saved to .*two.mapped. (mapped)" "$t/err"'
save $GUEST --streams 3 --format xl "$t/three.save"
check "--streams 3 --format xl: the sequential file" \
    '[ "$(rc)" = 0 ] && [ "$(magic "$t/three.save" 16)" = XENMIG-SIM-SAVE1 ]'
save $GUEST --format mapped "$t/one.mapped"
check "--format mapped with one stream: the mapped file" \
    '[ "$(rc)" = 0 ] && [ "$(magic "$t/one.mapped" 8)" = XMIGMAP1 ]'
hash_one_mapped=$(saved_hash)
save $GUEST --format zip "$t/zip"
check "--format zip: a usage error (exit 2), no file" \
    '[ "$(rc)" = 2 ] && grep -q "format .zip.: use .xl." "$t/err" && [ ! -e "$t/zip" ]'
"$XL_EXT" migrate --sim --format mapped localhost >"$t/out" 2>"$t/err"; echo $? >"$t/rc"
check "migrate --format: a usage error (exit 2)" '[ "$(rc)" = 2 ] && grep -q "option of .save." "$t/err"'

# the streams to the local receiver: plain unless --cipher asks
save $GUEST "$t/plain.save"
check "a save's streams are plain by default (they never leave the host)" \
    '[ "$(rc)" = 0 ] && grep -q "^xl-ext save: result=ok .* encrypted=no cipher=none" "$t/out"'
save $GUEST --cipher chacha20-poly1305 "$t/sealed.save"
check "save --cipher seals them" \
    '[ "$(rc)" = 0 ] && grep -q "^xl-ext save: result=ok .* encrypted=yes cipher=chacha20-poly1305" "$t/out"'

# 2. save -> restore -> the same memory, every format, one and three threads
for format in xl mapped; do
    save $GUEST --streams 3 --format "$format" "$t/g.$format"
    hash=$(saved_hash)
    check "$format: saved over more than one round" \
        '[ "$(rc)" = 0 ] && [ -n "$hash" ] && grep -q "rounds=[1-9]" "$t/out"'
    for threads in 1 3; do
        restore --sim --streams "$threads" "$t/g.$format"
        check "$format, $threads thread(s): restored, the memory digest is the source's" \
            '[ "$(rc)" = 0 ] && [ "$(restored_hash)" = "$hash" ]'
    done
done
restore --sim "$t/default.save"
check "the default save restores to its source's digest" '[ "$(restored_hash)" = "$hash_default" ]'
restore --sim "$t/one.mapped"
check "a mapped save of one stream restores to its source's digest" \
    '[ "$(restored_hash)" = "$hash_one_mapped" ]'

# 3. a dirtying save over several rounds: the mapped file does not grow
# with the rounds (every page is data here: random memory)
save --sim-memory 32M --sim-fill random --sim-pattern hot --sim-working-set 8M \
    --sim-rate 20000 --max-downtime 2000 --policy xen-default --streams 2 "$t/hot.mapped"
rounds=$(sed -n 's/^xl-ext save: result=ok .*rounds=\([0-9]*\).*/\1/p' "$t/out")
pages=$(sed -n 's/^xl-ext save: result=ok .*pages=\([0-9]*\).*/\1/p' "$t/out")
size=$(stat -c %s "$t/hot.mapped")
echo "# hot save: $rounds rounds, $pages pages sent, file $size bytes for a 33554432-byte guest"
check "the dirtying save ran several rounds and sent pages again" \
    '[ "$(rc)" = 0 ] && [ "${rounds:-0}" -ge 2 ] && [ "${pages:-0}" -gt 8192 ]'
check "the mapped file is at most 1.05 x the guest's memory" '[ "$size" -le 35232153 ]'
hash=$(saved_hash)
restore --sim --streams 2 "$t/hot.mapped"
check "the dirtied guest restores to its source's digest" '[ "$(restored_hash)" = "$hash" ]'

# 4. stream-dump lists a mapped file; convert makes it sequential
"$XL_EXT" stream-dump "$t/g.mapped" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"
tail_offset=$(sed -n 's/^tail  *\([0-9]*\) .*/\1/p' "$t/out")
check "stream-dump: the superblock, the sections, the pfn range" \
    '[ "$(rc)" = 0 ] && grep -q "^mapped save file, version 1: family sim, 8192 pfns, 8192 pages" "$t/out" &&
     grep -q "^pages  *4096 " "$t/out" && grep -q "^tail " "$t/out" && grep -q "^index " "$t/out" &&
     grep -q "^pfns 0x0-0x1fff: 8192 pages" "$t/out"'
"$XL_EXT" stream-dump --json "$t/g.mapped" >"$t/out" 2>"$t/err"
check "stream-dump --json: one object per line, the totals last" 'python3 -c "
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
assert objs[0][\"format\"] == \"mapped\" and objs[0][\"family\"] == \"sim\", objs[0]
assert [o[\"section\"] for o in objs[1:5]] == [\"prologue\", \"pages\", \"tail\", \"index\"]
assert objs[-1][\"totals\"][\"pages\"] == 8192, objs[-1]
" "$t/out"'
hash=$(sed -n 's/.*"memory_digest":"\([0-9a-f]*\)".*/\1/p' "$t/out")
"$XL_EXT" convert --format xl --streams 3 "$t/g.mapped" "$t/converted.save" >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
check "convert --format xl: the sequential file" \
    '[ "$(rc)" = 0 ] && [ "$(magic "$t/converted.save" 16)" = XENMIG-SIM-SAVE1 ]'
restore --sim "$t/converted.save"
check "the converted file restores to the mapped file's digest" \
    '[ -n "$hash" ] && [ "$(restored_hash)" = "$hash" ]'
"$XL_EXT" convert --format mapped "$t/g.mapped" "$t/x" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"
check "convert --format mapped: a usage error (exit 2)" '[ "$(rc)" = 2 ] && [ ! -e "$t/x" ]'

# 5. cut short: refused with the offset, nothing started
size=$(stat -c %s "$t/g.mapped")
for cut in 2000 4096 1000000 $((size - 1)); do
    head -c "$cut" "$t/g.mapped" >"$t/cut.mapped"
    restore --sim "$t/cut.mapped"
    check "mapped, cut at $cut: exit 3, the offset named, nothing started" \
        '[ "$(rc)" = 3 ] && grep -q "ends at offset $cut" "$t/err" && grep -q "nothing was started" "$t/err" &&
         ! grep -q "result=ok" "$t/out"'
done
head -c 1000000 "$t/g.xl" >"$t/cut.save"
restore --sim "$t/cut.save"
check "sequential, cut short: exit 3, the offset named, nothing started" \
    '[ "$(rc)" = 3 ] && grep -q "ends at offset 1000000, its pages run to offset" "$t/err" &&
     grep -q "nothing was started" "$t/err"'
"$XL_EXT" convert --format xl "$t/cut.mapped" "$t/never" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"
check "convert of a file cut short: exit 3, nothing written" '[ "$(rc)" = 3 ] && [ ! -e "$t/never" ]'

# 6. damaged: a page, the tail's checksum, the superblock
flip() {   # FILE OFFSET: flip one bit of the byte at OFFSET
    python3 -c "
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x10]))
" "$1" "$2"
}
cp "$t/g.mapped" "$t/bad.mapped"
flip "$t/bad.mapped" 12345
restore --sim "$t/bad.mapped"
check "a damaged page: exit 3, the pfn and its offset named, nothing started" \
    '[ "$(rc)" = 3 ] && grep -q "at offset 12288: the page of pfn 0x[0-9a-f]* (slot 2) fails its checksum" "$t/err" &&
     grep -q "nothing was started" "$t/err"'
"$XL_EXT" stream-dump "$t/bad.mapped" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"
check "stream-dump of the damaged file: exit 3 with the same error" \
    '[ "$(rc)" = 3 ] && grep -q "fails its checksum" "$t/err"'
cp "$t/g.mapped" "$t/bad.mapped"
flip "$t/bad.mapped" 100
restore --sim "$t/bad.mapped"
check "a damaged superblock: exit 3, its checksum named" \
    '[ "$(rc)" = 3 ] && grep -q "at offset 4080: the superblock fails its checksum" "$t/err"'
cp "$t/g.mapped" "$t/bad.mapped"
flip "$t/bad.mapped" $((tail_offset + 3))
restore --sim "$t/bad.mapped"
check "a damaged tail (the device state): exit 3, the section named" \
    '[ "$(rc)" = 3 ] && grep -q "the tail section (.* bytes) fails its checksum" "$t/err"'

# 7. what restore --sim refuses before reading pages
restore --sim one.cfg "$t/g.mapped"
check "restore --sim with a CONFIG: a usage error (exit 2)" '[ "$(rc)" = 2 ]'
printf 'not a save file' >"$t/text"
restore --sim "$t/text"
check "restore --sim of a file of no known kind: exit 3" \
    '[ "$(rc)" = 3 ] && grep -q "is not a simulated guest.s save file" "$t/err"'
restore "$t/g.mapped"
check "restore of a simulated guest's mapped file without --sim: exit 3, says --sim" \
    '[ "$(rc)" = 3 ] && grep -q "holds a .sim. guest, not a Xen domain: restore it with --sim" "$t/err"'
exit $fail

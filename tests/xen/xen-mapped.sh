#!/bin/sh
# xen-mapped.sh: a Xen domain's mapped save file, without Xen.  The source
# double (xendest.sh's: the memory double dressed as a Xen source, head and
# tail cut from the real PVH capture lab-pvh-96m) saves live into `xl-ext
# migrate-receive --xen --save FILE --save-format mapped`, the receiver
# `xl-ext save --format mapped DOMAIN FILE` starts.  stream-dump lists the
# file with its prologue's metadata; `convert --format xl` turns it into
# the merged xl stream, whose head, pages and tail the double checks
# against its own (and Xen's verify-stream-v2 when installed); `restore`
# feeds it to tests/xen/fake-xl, a stand-in for stock `xl migrate-receive`,
# with xl's options, a stream whose pages digest to the memory saved; a host that lacks a feature refuses (exit 4), a file
# cut short is refused (exit 3), and then xl is never started; a damaged
# page is refused (exit 3), xl, started while the pages were checked,
# given no byte of the stream;
# xl failing to start the domain fails the restore (exit 1), no xl at all
# is exit 5.  Exit 77 (SKIP) without xz.
. "$XENMIG_SRCDIR/tests/xen/xen-lib.sh"
unset XENMIG_HOST_JSON
# save NAME [double options]: the double saves into $tmp/NAME.mapped, which
# the receiver then converts to $tmp/NAME.xl; out in $tmp/NAME.{out,err}
save() {
    name=$1; shift
    "$DOUBLE" --head "$tmp/head" --tail "$tmp/tail" "$@" -- sh -c \
        "'$XL_EXT' migrate-receive --xen --timeout 20000 --host-json '$tmp/every.json' \
            --save '$tmp/$name.mapped' --save-format mapped &&
         exec '$XL_EXT' convert --format xl --streams 3 '$tmp/$name.mapped' '$tmp/$name.xl' >&2" \
        >"$tmp/$name.out" 2>"$tmp/$name.err"
}
# restore NAME [restore options] FILE: fake xl's log in $tmp/NAME.log
restore() {
    name=$1; shift
    FAKE_XL_LOG="$tmp/$name.log" "$XL_EXT" restore "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    echo $? >"$tmp/$name.rc"
}
rc() { cat "$tmp/$1.rc"; }

echo "1..26"
"$DOUBLE" --extract "$LAB" "$tmp/head" "$tmp/tail" >"$tmp/extract.out" 2>&1
python3 - "$CORE2" "$tmp/every.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
every = dict(h, hostname="a host with every feature",
             featuresets={k: ":".join(["ffffffff"] * 19) for k in h["featuresets"]})
json.dump(every, open(sys.argv[2], "w"))
PY
t "the head and tail are cut from the real PVH capture" \
    '[ -s "$tmp/head" ] && [ -s "$tmp/tail" ] && [ -s "$tmp/every.json" ] || { show "$tmp/extract.out"; false; }'

# 1. a live save over 3 streams with dirtying rounds, converted at once
save dom --pfns 4096 --streams 3 --dirty 600 --check "$tmp/dom.xl" \
    --feature-names "sse4_2,avx2"
t "the save succeeds and the source lets its domain go" \
    'grep -q "^source: rc=0 " "$tmp/dom.out" && grep -q "^receiver: exit=0$" "$tmp/dom.out" &&
     grep -q "^source: released=1" "$tmp/dom.out" || { show "$tmp/dom.out" "$tmp/dom.err"; false; }'
t "the file is a mapped save file, mode 0600" \
    '[ "$(head -c 8 "$tmp/dom.mapped")" = XMIGMAP1 ] && [ "$(stat -c %a "$tmp/dom.mapped")" = 600 ]'
t "pages went more than once (dirty rounds)" \
    '[ "$(sed -n "s/^xl-ext migrate-receive: result=ok .* pages=\([0-9]*\) .*/\1/p" "$tmp/dom.err")" -gt 4096 ]'
t "converted, it is the head + the source's pages + the tail (the double's check)" \
    'grep -q "^check: ok: .* all 4096 pfns equal" "$tmp/dom.out" || { show "$tmp/dom.out" "$tmp/dom.err"; false; }'
t "converted, each pfn once: the first copy of a zero page as XALLOC" \
    'grep -q "^check: ok: .* records, 4096 pages ([1-9][0-9]* allocate-only" "$tmp/dom.out"'
if have_verify; then
    t "Xen's verify-stream-v2 accepts the converted file" \
        'PYTHONPATH="$XEN_PYTHONPATH" "$VERIFY" -q -f xl -i "$tmp/dom.xl" 2>"$tmp/verify.err" || { show "$tmp/verify.err"; false; }'
else
    skip "verify-stream-v2 (xen-utils-4.17) not installed"
fi

# 2. stream-dump of both
"$XL_EXT" stream-dump "$tmp/dom.mapped" >"$tmp/dump.out" 2>&1
t "stream-dump: family xen, the prologue's metadata, the pfn range" \
    'grep -q "^mapped save file, version 1: family xen, 4096 pfns, 4096 pages" "$tmp/dump.out" &&
     grep -q "^metadata: {\"domain\":\"lab-pvh\"" "$tmp/dump.out" &&
     grep -q "^pfns 0x0-0xfff: 4096 pages" "$tmp/dump.out" || { show "$tmp/dump.out"; false; }'
"$XL_EXT" stream-dump "$tmp/dom.xl" >"$tmp/dumpxl.out" 2>&1
t "stream-dump of the converted file: an xl save file of 4096 pfns" \
    'grep -q "^total: xl save file, .* 4096 pfns" "$tmp/dumpxl.out" || { show "$tmp/dumpxl.out"; false; }'

# 3. restore into (fake) stock xl migrate-receive
restore ok -p -e --streams 3 --host-json "$tmp/every.json" "$tmp/dom.mapped"
t "restore: exit 0, a summary line" \
    '[ "$(rc ok)" = 0 ] && grep -q "^xl-ext restore: result=ok .*format=mapped family=xen pages=4096 .*threads=3" "$tmp/ok.out" || { show "$tmp/ok.out" "$tmp/ok.err"; false; }'
t "xl got -p -e, the banner, the whole stream, ready, go, report, in order" \
    '[ "$(tr "\n" "|" <"$tmp/ok.log" | sed "s/stream ok: [^|]*4096 pages/stream ok/")" = "args migrate-receive -p -e|banner|stream ok|ready|go|reported 0|" ] || { show "$tmp/ok.log"; false; }'
digest=$(sed -n "s/.*guest saved to .* memory digest \([0-9a-f]*\)$/\1/p" "$tmp/dom.err")
t "restore reports the digest the save verified" \
    '[ -n "$digest" ] && grep -q "^xl-ext restore: result=ok .*memory_digest=$digest" "$tmp/ok.out"'
FAKE_XL_PFNS=4096 restore whole --streams 2 --host-json "$tmp/every.json" "$tmp/dom.mapped"
t "what xl was given is that memory: the digest of the stream's pages" \
    '[ "$(rc whole)" = 0 ] && grep -qx "memory digest $digest" "$tmp/whole.log" || { show "$tmp/whole.log" "$tmp/whole.err"; false; }'

# 4. refusals before xl is started
restore refuse --host-json "$CORE2" "$tmp/dom.mapped"
t "a host that lacks features refuses: exit 4, naming them" \
    '[ "$(rc refuse)" = 4 ] && grep -q "missing features: sse4-2, avx2" "$tmp/refuse.err" || { show "$tmp/refuse.err"; false; }'
t "... and xl was never started" '[ ! -e "$tmp/refuse.log" ]'
size=$(stat -c %s "$tmp/dom.mapped")
head -c $((size / 2)) "$tmp/dom.mapped" >"$tmp/cut.mapped"
restore cut --host-json "$tmp/every.json" "$tmp/cut.mapped"
t "a file cut short: exit 3, the offset named, nothing started" \
    '[ "$(rc cut)" = 3 ] && grep -q "ends at offset $((size / 2)), the pages section" "$tmp/cut.err" &&
     grep -q "nothing was started" "$tmp/cut.err" || { show "$tmp/cut.err"; false; }'
t "... and xl was never started" '[ ! -e "$tmp/cut.log" ]'
# a byte of the first page with data, as the index says where it is
"$XL_EXT" stream-dump --json --pages "$tmp/dom.mapped" >"$tmp/pages.json"
cp "$tmp/dom.mapped" "$tmp/bad.mapped"
slot=$(python3 - "$tmp/pages.json" "$tmp/bad.mapped" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
pages = [o for o in objs if o.get("section") == "pages"][0]["offset"]
entry = [o for o in objs if "pfn" in o and not o["zero"]][0]
at = pages + entry["slot"] * 4096 + 100
with open(sys.argv[2], "r+b") as f:
    f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 1]))
print(entry["slot"])
PY
)
restore bad --host-json "$tmp/every.json" "$tmp/bad.mapped"
# xl migrate-receive starts while the pages are checked (warm_up); it must
# get no byte of the stream, and go without a word
t "a damaged page: exit 3, the pfn named, xl given nothing" \
    '[ "$(rc bad)" = 3 ] && grep -q "the page of pfn 0x[0-9a-f]* (slot $slot) fails its checksum" "$tmp/bad.err" &&
     ! grep -q "stream\|ready\|go\|input closed" "$tmp/bad.log" 2>/dev/null &&
     [ "$(grep -c . "$tmp/bad.err")" = 1 ] || { show "$tmp/bad.err" "$tmp/bad.log"; false; }'
restore config one.cfg "$tmp/dom.mapped"
t "a CONFIG with a mapped file: exit 2, saying to convert it" \
    '[ "$(rc config)" = 2 ] && grep -q "convert --format xl" "$tmp/config.err" && [ ! -e "$tmp/config.log" ]'
restore vnc -V "$tmp/dom.mapped"
t "-V with a mapped file: exit 2" '[ "$(rc vnc)" = 2 ] && [ ! -e "$tmp/vnc.log" ]'

# 5. xl's own failures
FAKE_XL_RC=3 restore xlfail --host-json "$tmp/every.json" "$tmp/dom.mapped"
t "xl fails to start the domain: exit 1, saying so" \
    '[ "$(rc xlfail)" = 1 ] && grep -q "failed to start the domain (code 3" "$tmp/xlfail.err" &&
     grep -q "the guest was not resumed" "$tmp/xlfail.err" || { show "$tmp/xlfail.err"; false; }'
XENMIG_XL="$tmp/no-such-xl" restore noxl --host-json "$tmp/every.json" "$tmp/dom.mapped"
t "no xl to run: exit 5" '[ "$(rc noxl)" = 5 ] && grep -q "is Xen.s xl installed" "$tmp/noxl.err" || { show "$tmp/noxl.err"; false; }'

# 6. convert refuses what it cannot do
convert() { "$XL_EXT" convert "$@" >"$tmp/conv.out" 2>&1; echo $? >"$tmp/conv.rc"; }
convert --format xl "$tmp/cut.mapped" "$tmp/never.xl"
t "convert of a file cut short: exit 3, nothing written" \
    '[ "$(rc conv)" = 3 ] && [ ! -e "$tmp/never.xl" ]'
echo "an earlier file" >"$tmp/kept.xl"
convert --format xl "$tmp/bad.mapped" "$tmp/kept.xl"
t "convert of a damaged file: exit 3, OUT as it was, no temporary file beside it" \
    '[ "$(rc conv)" = 3 ] && [ "$(cat "$tmp/kept.xl")" = "an earlier file" ] &&
     [ -z "$(ls -A "$tmp" | grep "^\.kept")" ]'
convert "$tmp/dom.mapped" "$tmp/x.xl"
t "convert without --format xl: exit 2" '[ "$(rc conv)" = 2 ] && [ ! -e "$tmp/x.xl" ]'
convert --format xl "$tmp/dom.xl" "$tmp/y.xl"
t "convert of an xl save file: exit 3, it is no mapped file" \
    '[ "$(rc conv)" = 3 ] && grep -q "no magic \"XMIGMAP1\"" "$tmp/conv.out" || { show "$tmp/conv.out"; false; }'
exit $fail

#!/bin/sh
# End to end, without Xen: a source double (the memory test double dressed
# as a Xen source whose prologue head and state tail are cut from the real
# PVH capture lab-pvh-96m) migrates to `xl-ext migrate-receive --xen`, which
# feeds tests/xen/fake-xl (a stand-in for xl migrate-receive that validates
# the stream with libmig's reader and speaks xl's handshake).  Asserts the
# merged stream (--capture) is the head, pages equal to the source's, the
# tail, and passes Xen's verify-stream-v2 when installed; the go message
# reaches xl only when the source says go; a pre-flight refusal exits 4
# naming the missing features and never starts xl; xl's failures fail the
# migration with a clear error and never kill the receiver with SIGPIPE.
# Exit 77 (SKIP) without xz.
. "$XENMIG_SRCDIR/tests/xen/xen-lib.sh"
# run NAME [double options] -- [receiver options]: out in $tmp/NAME.{out,err,log}
run() {
    name=$1; shift
    FAKE_XL_LOG="$tmp/$name.log" "$DOUBLE" --head "$tmp/head" --tail "$tmp/tail" "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err"
}
receiver() { echo "$XL_EXT" migrate-receive --xen --timeout 20000; }

echo "1..40"
"$DOUBLE" --extract "$LAB" "$tmp/head" "$tmp/tail" >"$tmp/extract.out" 2>&1
t "the head and tail are cut from the real PVH capture" \
    '[ -s "$tmp/head" ] && [ -s "$tmp/tail" ] || { show "$tmp/extract.out"; false; }'

# 1. a successful migration over 3 streams with dirtying rounds
run ok --pfns 4096 --streams 3 --dirty 600 --check "$tmp/ok.xl" -- \
    $(receiver) --capture "$tmp/ok.xl" --host-json "$CORE2" -p
t "the migration succeeds" 'grep -q "^source: rc=0 " "$tmp/ok.out" || { show "$tmp/ok.out" "$tmp/ok.err"; false; }'
t "the receiver exits 0" 'grep -q "^receiver: exit=0$" "$tmp/ok.out"'
t "the source released its guest" 'grep -q "^source: released=1" "$tmp/ok.out"'
t "the captured stream is head + the source's pages + tail (libmig's reader)" \
    'grep -q "^check: ok: .* all 4096 pfns equal" "$tmp/ok.out" || { show "$tmp/ok.out"; false; }'
t "pages were sent more than once (dirty rounds) and still end equal" \
    'pages=$(sed -n "s/^check: ok: .* records, \([0-9]*\) pages.*/\1/p" "$tmp/ok.out"); [ "${pages:-0}" -gt 4096 ]'
# the double's all-zero pages (833 of 4096) are still zero when round 0
# reads them; later copies of pages carry data
t "the first copy of each all-zero page went as XALLOC, without data" \
    'grep -q "^check: ok: .* (\([1-9][0-9]*\) allocate-only; \1 zero at the start)" "$tmp/ok.out" || { show "$tmp/ok.out"; false; }'
t "xl got -p and saw banner, stream, ready, go, report in order" \
    '[ "$(tr "\n" "|" <"$tmp/ok.log" | sed "s/stream ok: [^|]*/stream ok/")" = "args migrate-receive -p|banner|stream ok|ready|go|reported 0|" ] || { show "$tmp/ok.log"; false; }'
if have_verify; then
    t "Xen's verify-stream-v2 accepts the captured stream" \
        'PYTHONPATH="$XEN_PYTHONPATH" "$VERIFY" -q -f xl -i "$tmp/ok.xl" 2>"$tmp/verify.err" || { show "$tmp/verify.err"; false; }'
else
    skip "verify-stream-v2 (xen-utils-4.17) not installed"
fi

# 1b. baselines in the metadata are recorded for the new domain (best
# effort: without Xen here, or without that domain, a warning, not a failure)
run baseline --baseline x86-64-v2 -- $(receiver)
t "a baseline to record never fails a migration that succeeded" \
    'grep -q "^receiver: exit=0$" "$tmp/baseline.out" && grep -q "^source: rc=0 " "$tmp/baseline.out" || { show "$tmp/baseline.out" "$tmp/baseline.err"; false; }'
t "when it cannot be recorded, the receiver warns naming the domain" \
    'grep -q "warning: .*baselines of .lab-pvh. are not recorded here" "$tmp/baseline.err" || { show "$tmp/baseline.err"; false; }'

# 2. pre-flight: a Core 2 host lacks avx2 and sse4_2
run refuse --feature-names "sse4_2,avx2" -- $(receiver) --host-json "$CORE2"
t "a missing feature refuses: receiver exit 4" 'grep -q "^receiver: exit=4$" "$tmp/refuse.out" || { show "$tmp/refuse.out" "$tmp/refuse.err"; false; }'
t "the message names the host, the domain and the missing features" \
    'grep -q "destination Intel Core 2 Duo E6850 cannot run domain lab-pvh: missing features: sse4-2, avx2" "$tmp/refuse.err" || { show "$tmp/refuse.err"; false; }'
t "the source failed and keeps its guest" \
    'grep -q "^source: rc=-9 .*missing features" "$tmp/refuse.out" && grep -q "^source: released=0 paused=0" "$tmp/refuse.out"'
t "xl was never started" '[ ! -e "$tmp/refuse.log" ]'
XENMIG_HOST_JSON="$CORE2" run refuse-env --feature-names avx2 -- $(receiver)
t "\$XENMIG_HOST_JSON names the host too" 'grep -q "^receiver: exit=4$" "$tmp/refuse-env.out" && [ ! -e "$tmp/refuse-env.log" ]'

# 3. go only when the source says go
run cancel --cancel-at-switchover --dirty 50 -- $(receiver)
t "a source that gives up at switchover fails the migration" \
    'grep -q "^source: rc=-8 " "$tmp/cancel.out" || { show "$tmp/cancel.out" "$tmp/cancel.err"; false; }'
t "xl never got go and the receiver exits 1" \
    '! grep -q "^go$" "$tmp/cancel.log" && grep -q "^receiver: exit=1$" "$tmp/cancel.out" || { show "$tmp/cancel.log"; false; }'
run direct --direct-no-go "$XENMIG_XL" --pfns 3000
t "closed after the whole stream but before resume: xl got ready, never go, and ended" \
    'grep -q "^direct: restore_state rc=0 " "$tmp/direct.out" && grep -q "^direct: closed$" "$tmp/direct.out" &&
     grep -q "^stream ok: .* 3000 pages$" "$tmp/direct.log" && grep -q "^ready$" "$tmp/direct.log" &&
     grep -q "^no go: input closed$" "$tmp/direct.log" && ! grep -q "^go$" "$tmp/direct.log" ||
     { show "$tmp/direct.out" "$tmp/direct.log"; false; }'

# 4. xl cannot start the domain: nonzero result byte
FAKE_XL_RC=3 run xlfail -- $(receiver)
t "xl's result code 3 fails the migration" 'grep -q "^source: rc=-[0-9]* .*failed to start the domain (code 3" "$tmp/xlfail.out" || { show "$tmp/xlfail.out" "$tmp/xlfail.err"; false; }'
t "xl destroyed its copy, so the source resumed its own (paused=0, not released)" \
    'grep -q "^source: released=0 paused=0" "$tmp/xlfail.out" || { show "$tmp/xlfail.out"; false; }'
t "the receiver exits 1 and says so" 'grep -q "^receiver: exit=1$" "$tmp/xlfail.out" && grep -q "failed to start the domain (code 3" "$tmp/xlfail.err"'

# 5. xl dies in the middle of the stream: an error, not SIGPIPE
FAKE_XL_EXIT_AFTER=11 run xldies --pfns 8192 -- $(receiver)
t "xl dying mid-stream fails the migration and the receiver exits 1 (not killed)" \
    'grep -q "^receiver: exit=1$" "$tmp/xldies.out" && ! grep -q "^source: rc=0 " "$tmp/xldies.out" || { show "$tmp/xldies.out" "$tmp/xldies.err"; false; }'
t "the error says xl stopped reading" 'grep -q "stopped reading\|closed its output" "$tmp/xldies.err" || { show "$tmp/xldies.err"; false; }'

# 6. not xl at all: a wrong banner is quoted
FAKE_XL_BANNER="hello from sh" run banner -- $(receiver)
t "a wrong banner is refused, quoting it" 'grep -qF "(it sent \"hello from sh\")" "$tmp/banner.err" || { show "$tmp/banner.err"; false; }'

# 7. a save (xl-ext save of a real domain): no xl, the merged stream to a
# file that appears only whole
run save --pfns 4096 --streams 3 --dirty 600 --check "$tmp/save.xl" -- \
    $(receiver) --save "$tmp/save.xl" --host-json "$CORE2"
t "a save succeeds and the receiver exits 0" \
    'grep -q "^source: rc=0 " "$tmp/save.out" && grep -q "^receiver: exit=0$" "$tmp/save.out" || { show "$tmp/save.out" "$tmp/save.err"; false; }'
t "the save file is head + the source's pages + tail (libmig's reader)" \
    'grep -q "^check: ok: .* all 4096 pfns equal" "$tmp/save.out" || { show "$tmp/save.out"; false; }'
t "no xl was started for a save" '[ ! -e "$tmp/save.log" ]'
t "the receiver names the save file" 'grep -q "domain saved to .*save.xl. (an xl save file)" "$tmp/save.err" || { show "$tmp/save.err"; false; }'
if have_verify; then
    t "Xen's verify-stream-v2 accepts the save file" \
        'PYTHONPATH="$XEN_PYTHONPATH" "$VERIFY" -q -f xl -i "$tmp/save.xl" 2>"$tmp/verify-save.err" || { show "$tmp/verify-save.err"; false; }'
else
    skip "verify-stream-v2 (xen-utils-4.17) not installed"
fi
mkdir "$tmp/keep"
echo "an earlier save" >"$tmp/keep/domain.xl"
run savecancel --cancel-at-switchover --dirty 50 -- $(receiver) --save "$tmp/keep/domain.xl"
t "a save that fails at the switchover fails, and the source keeps its guest" \
    'grep -q "^source: rc=-8 " "$tmp/savecancel.out" && grep -q "^source: released=0 paused=0" "$tmp/savecancel.out" || { show "$tmp/savecancel.out" "$tmp/savecancel.err"; false; }'
t "the earlier file is as it was and no partial file is left beside it" \
    '[ "$(cat "$tmp/keep/domain.xl")" = "an earlier save" ] && [ "$(ls -A "$tmp/keep")" = "domain.xl" ] || { ls -la "$tmp/keep"; false; }'
run savefull -- $(receiver) --save /dev/full
t "a full disk fails the save, and the source keeps its guest" \
    '! grep -q "^source: rc=0 " "$tmp/savefull.out" && grep -q "^source: released=0 paused=0" "$tmp/savefull.out" || { show "$tmp/savefull.out" "$tmp/savefull.err"; false; }'
t "the error names the save file" 'grep -q "the save file" "$tmp/savefull.err" "$tmp/savefull.out" || { show "$tmp/savefull.err"; false; }'
t "the receiver exits 1" 'grep -q "^receiver: exit=1$" "$tmp/savefull.out"'

# 8. xl-ext restore of that file: the CPU policy it carries against the
# host, then stock xl restore (a stand-in on PATH that says what it got)
mkdir "$tmp/bin"
printf '#!/bin/sh\necho "stock xl: $*"\n' >"$tmp/bin/xl"
chmod +x "$tmp/bin/xl"
python3 - "$CORE2" "$tmp" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
every = dict(h, hostname="a host with every feature",
             featuresets={k: ":".join(["ffffffff"] * 19) for k in h["featuresets"]})
json.dump(every, open(sys.argv[2] + "/every.json", "w"))
# leaf 1 ecx: sse3 alone (no ssse3, cx16, sse4 ...)
low = dict(h, hostname="a host without cx16", featuresets={})
for k, v in h["featuresets"].items():
    w = v.split(":"); w[1] = "00000001"; low["featuresets"][k] = ":".join(w)
json.dump(low, open(sys.argv[2] + "/low.json", "w"))
PY
PATH="$tmp/bin:$PATH" "$XL_EXT" restore -p --host-json "$tmp/every.json" "$tmp/save.xl" >"$tmp/r1.out" 2>&1
t "a host that has every feature restores it with stock xl restore and xl's options" \
    'grep -qx "stock xl: restore -p $tmp/save.xl" "$tmp/r1.out" || { show "$tmp/r1.out"; false; }'
PATH="$tmp/bin:$PATH" "$XL_EXT" restore --host-json "$tmp/low.json" "$tmp/save.xl" >"$tmp/r2.out" 2>&1
rc=$?
t "a host that lacks a feature the domain runs with refuses: exit 4" '[ $rc = 4 ] || { show "$tmp/r2.out"; false; }'
t "the refusal names the host, the domain and the features, and stock xl never ran" \
    'grep -q "this host (a host without cx16) cannot run domain lab-pvh-96-idle of .*missing features: .*cx16" "$tmp/r2.out" && ! grep -q "stock xl" "$tmp/r2.out" || { show "$tmp/r2.out"; false; }'
head -c 3000 "$tmp/save.xl" >"$tmp/cut.xl"
PATH="$tmp/bin:$PATH" "$XL_EXT" restore --host-json "$tmp/every.json" "$tmp/cut.xl" >"$tmp/r3.out" 2>&1
rc=$?
t "a save file cut short is refused (exit 3) with the offset, and nothing started" \
    '[ $rc = 3 ] && grep -q "cut.xl. cannot be read at offset 3000: .*truncated" "$tmp/r3.out" && ! grep -q "stock xl" "$tmp/r3.out" || { show "$tmp/r3.out"; false; }'
PATH="$tmp/bin:$PATH" "$XL_EXT" restore one.cfg "$tmp/save.xl" extra-word >"$tmp/r4.out" 2>&1
rc=$?
t "more than [CONFIG] FILE is a usage error (exit 2)" '[ $rc = 2 ] || { show "$tmp/r4.out"; false; }'
exit $fail

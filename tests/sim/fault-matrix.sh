#!/bin/sh
# fault-matrix.sh: every fault of the fault matrix (docs/architecture.md,
# "Testing hooks and the fault matrix") on the sim backend.  Each case
# asserts a clear error, the documented exit code, and that the guest runs
# exactly once afterwards: at the source (its vCPUs still make progress
# there) and never resumed by the receiver.
set -u
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
n=0 fail=0
check() {
    n=$((n+1))
    if eval "$2"; then echo "ok $n - $1"; else
        echo "not ok $n - $1"; fail=1; sed 's/^/# /' "$t/out" "$t/err" | tail -n 15
    fi
}
if ! "$XL_EXT" migrate --sim --sim-memory 4M --sim-pattern idle localhost >"$t/out" 2>"$t/err"; then
    if grep -q "userfaultfd\|not supported" "$t/err"; then
        echo "no userfaultfd write-protection here: $(head -n 1 "$t/err")" >&2
        exit 77
    fi
fi
echo "1..122"

migrate() { "$XL_EXT" migrate --sim "$@" >"$t/out" 2>"$t/err"; echo $? >"$t/rc"; }
rc() { cat "$t/rc"; }
receiver_command() { printf '%s' "'$XL_EXT' migrate-receive --sim --data-listen 127.0.0.1 $*"; }
receiver() { printf 'exec %s' "$(receiver_command "$@")"; }
srcdir=${XENMIG_SRCDIR:-$(dirname "$0")/../..}
. "$srcdir/tests/testlib.sh"   # await
# tests/sim/flood.py OPTIONS... before a receiver, in the control channel.
flood_py() { printf '%s' "exec python3 '$srcdir/tests/sim/flood.py' $* -- $(receiver_command)"; }
# A receiver behind flood.py, which writes "port=P" and "pid=N" (its data
# port and pid) to FILE as soon as it says "ready".
receiver_watched() { flood_py --no-flood --report "'$1'"; }
# The value of KEY in flood.py's report FILE: report FILE KEY.
report() { sed -n "s/^$2=//p" "$1" 2>/dev/null; }
# The established TCP connections whose local port is $1 (the receiver's
# data port): its data streams.  World-readable /proc/net/tcp needs no
# access to the receiver, which may be non-dumpable.
tcp_streams() {
    awk -v p="$(printf '%04X' "$1")" '$4 == "01" && substr($2, length($2) - 3) == p' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null | wc -l
}
# The receiver whose flood.py report is FILE has both its data streams:
# pages flow (at 2 MB/s for 64 MiB, for half a minute).
streams_up() { port=$(report "$1" port); [ -n "$port" ] && [ "$(tcp_streams "$port")" -ge 2 ]; }
# The guest still runs at the source: its write counter moved after the failure.
at_source() {
    sed -n 's/.*the guest keeps running at the source (vCPU 0 writes: \([0-9]*\) -> \([0-9]*\)[;)].*/\1 \2/p' "$t/err" |
        { read -r a b && [ "$b" -gt "$a" ]; }
}
# The receiver failed and never resumed the guest.
not_resumed() {
    grep -q "xl-ext migrate-receive: result=\(failed\|cancelled\)" "$t/err" &&
        grep -q "the guest was not resumed here" "$t/err" &&
        ! grep -q "guest resumed here" "$t/err"
}
case_() {   # name, expected exit, error pattern
    expect=$2 pattern=$3
    echo "# $1: exit $(rc): $(sed -n 's/^xl-ext \(migrate: migration\|save: the save\) failed: //p' "$t/err" | head -n 1)"
    check "$1: exit $2" '[ "$(rc)" = "$expect" ]'
    check "$1: clear error" 'grep -q "\(migration\|the save\) failed: .*$pattern" "$t/err"'
    check "$1: guest runs at the source" 'at_source'
    check "$1: the receiver did not resume it" 'not_resumed'
}

# The receiver is killed once its data streams run (the transfer then has
# half a minute to go under the 2 MB/s cap).
"$XL_EXT" migrate --sim --sim-memory 64M --bandwidth 2M -s "" "$(receiver_watched "$t/receiver")" \
    >"$t/out" 2>"$t/err" &
pid=$!
if await "the receiver's data streams" 'streams_up "$t/receiver"'; then
    kill -KILL "$(report "$t/receiver" pid)"
else
    kill -KILL "$pid"
fi
wait "$pid"
echo $? >"$t/rc"
echo "# receiver killed: exit $(rc): $(sed -n 's/^xl-ext migrate: migration failed: //p' "$t/err" | head -n 1)"
check "receiver killed: exit 1" '[ "$(rc)" = 1 ]'
check "receiver killed: clear error" 'grep -q "migration failed: .*\(closed\|reset\|Broken pipe\|lost\)" "$t/err"'
check "receiver killed: guest runs at the source" 'at_source'

migrate --sim-memory 32M --sim-rate 1000 --streams 3 --inject-fault cut-stream --reconnects 0 localhost
case_ "one stream cut" 1 "stream 2"

# The stream stalls for the source's --timeout + 2 s: the receiver's limit
# of 1 s runs out long before, on the stall; the source's limit is one of
# last resort (also for the receiver's start).
migrate --sim-memory 32M --sim-rate 1000 --timeout 20000 --inject-fault stall \
    -s "" "$(receiver --timeout 1000)"
case_ "one stream stalled" 1 "no data for 1000 ms"

migrate --sim-memory 32M --sim-rate 1000 --inject-fault tamper-frame localhost
case_ "frame tampered" 1 "fails authentication"

migrate --sim-memory 32M --sim-rate 1000 --inject-fault replay-frame localhost
case_ "frame replayed" 1 "replayed, reordered or lost frame"

migrate --sim-memory 32M --sim-rate 1000 --inject-fault truncate --reconnects 0 localhost
case_ "stream truncated" 1 "\(connection lost\|closed by peer\|reset by peer\)"

# The same breaks with reconnection allowed (the default): the stream comes
# back, resends its round, and the migration completes, verified.
recovered() {   # name, least reconnects
    least=$2
    echo "# $1: exit $(rc): $(grep -o 'reconnects=[0-9]*' "$t/out" | head -n 1)"
    check "$1: migrated, verified" \
        '[ "$(rc)" = 0 ] && grep -q "^xl-ext migrate: result=ok .*verified=yes" "$t/out"'
    check "$1: reconnects counted" \
        '[ "$(sed -n "s/^xl-ext migrate: result=ok .*reconnects=\([0-9]*\).*/\1/p" "$t/out")" -ge "$least" ]'
}
migrate --sim-memory 32M --sim-rate 1000 --streams 3 --inject-fault cut-stream localhost
recovered "one stream cut, reconnected" 1
migrate --sim-memory 32M --sim-rate 1000 --inject-fault truncate localhost
recovered "stream truncated, reconnected" 1
migrate --sim-memory 32M --sim-rate 1000 --streams 3 --inject-fault stream-reset-rounds localhost
recovered "a stream reset (RST) in every round" 2
migrate --sim-memory 32M --sim-rate 1000 --no-encrypt --inject-fault stream-reset-rounds localhost
recovered "a plain stream reset in every round" 2
migrate --sim-memory 32M --sim-rate 1000 --inject-fault stream-reset-always localhost
case_ "a stream reset on every connection" 1 "connection reset (injected fault); gave up after 3 reconnect attempt"
migrate --sim-memory 32M --sim-rate 1000 --inject-fault stream-reset-always --reconnects 1 localhost
case_ "a stream reset on every connection, --reconnects 1" 1 "gave up after 1 reconnect attempt"

migrate --sim-memory 32M --sim-rate 1000 --inject-fault corrupt-page localhost
case_ "page hash mismatch" 1 "arrived corrupted"

migrate --sim-memory 32M --sim-rate 1000 --inject-fault wrong-key localhost
case_ "wrong key" 4 "does not accept this migration's key"

migrate --sim-memory 32M --sim-rate 1000 --inject-fault version localhost
case_ "version mismatch" 4 "protocol version 99"

migrate --sim-memory 64M --sim-rate 1000 -s "" "$(receiver --sim-max-memory 16M)"
case_ "destination out of memory" 4 "destination out of memory: the guest needs 64 MiB, this host allows 16 MiB"

# save to a full disk: /dev/full answers every write with ENOSPC.
"$XL_EXT" save --sim --sim-memory 32M --sim-rate 1000 /dev/full >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
case_ "destination disk full for save" 1 "cannot write the save file '/dev/full': No space left on device"
# the same for a mapped save: its first page written fails
"$XL_EXT" save --sim --sim-memory 32M --sim-rate 1000 --streams 2 /dev/full >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
case_ "destination disk full for a mapped save" 1 \
    "cannot write the save file '/dev/full' (pfn 0x[0-9a-f]* at offset [0-9]*\(, and the [0-9]* pages after it\)\?): No space left on device"
# The disk fills up in the middle of a mapped save: a file size limit the
# receiver meets after 8 MiB (dash's ulimit counts 512-byte blocks; 16 MiB
# in bash's) of a 32 MiB guest of random memory.  The older file stays,
# no temporary file is left beside it, the guest keeps running.
mkdir "$t/filling"
echo "an older save" >"$t/filling/guest.mapped"
(ulimit -f 16384 && exec "$XL_EXT" save --sim --sim-memory 32M --sim-fill random --sim-rate 1000 \
    --streams 2 "$t/filling/guest.mapped") >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
case_ "the disk fills up in the middle of a mapped save" 1 \
    "cannot write the save file '[^']*guest.mapped' (pfn 0x[0-9a-f]* at offset [0-9]*\(, and the [0-9]* pages after it\)\?): File too large"
check "the disk fills up mid-save: it failed after megabytes of pages were written" \
    '[ "$(sed -n "s/.*guest.mapped. (pfn 0x[0-9a-f]* at offset \([0-9]*\)[,)].*/\1/p" "$t/err" | head -n 1)" -ge 4194304 ]'
check "the disk fills up mid-save: the older file is untouched, no temporary file left" \
    '[ "$(cat "$t/filling/guest.mapped")" = "an older save" ] && [ "$(ls -A "$t/filling")" = guest.mapped ]'

# The sender is killed once the data streams run: the receiver must notice
# and never resume the guest (a simulated guest lives in the sender's
# process and dies with it; a Xen domain would stay paused or running at
# the source).
rm -f "$t/receiver"
"$XL_EXT" migrate --sim --sim-memory 64M --bandwidth 2M -s "" "$(receiver_watched "$t/receiver")" \
    >"$t/out" 2>"$t/err" &
pid=$!
await "the receiver's data streams" 'streams_up "$t/receiver"'
kill -9 "$pid"
wait "$pid" 2>/dev/null
echo $? >"$t/rc"
await "the receiver's result line" 'grep -q "xl-ext migrate-receive: result=" "$t/err"'
check "sender killed: it died by SIGKILL" '[ "$(rc)" = 137 ]'
check "sender killed: the receiver did not resume it" 'not_resumed'
check "sender killed: the receiver says why" 'grep -q "migrate-receive: error: .*\(closed\|lost\|reset\)" "$t/err"'

# The destination's digest is taken as wrong at the last check: the source
# aborts instead of "go".
migrate --sim-memory 32M --sim-rate 1000 --inject-fault digest-mismatch localhost
case_ "memory digest mismatch" 1 "destination memory differs from what was sent"

# save: the new file replaces the old one only whole, and only once the
# memory was verified.  An aborted save leaves the old file as it was and
# no temporary file beside it.
mkdir "$t/saves"
echo "an older save" >"$t/saves/guest.save"
"$XL_EXT" save --sim --sim-memory 32M --sim-rate 1000 --inject-fault digest-mismatch \
    "$t/saves/guest.save" >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
check "save aborted at the last check: exit 1" '[ "$(rc)" = 1 ]'
check "save aborted: the old file is untouched" \
    '[ "$(cat "$t/saves/guest.save")" = "an older save" ]'
check "save aborted: no partial file left" '[ "$(ls -A "$t/saves")" = guest.save ]'
"$XL_EXT" save --sim --sim-memory 32M --sim-rate 1000 "$t/saves/guest.save" >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
check "save: exit 0, the file replaced whole" \
    '[ "$(rc)" = 0 ] && [ "$(head -c 16 "$t/saves/guest.save")" = XENMIG-SIM-SAVE1 ] &&
     [ "$(ls -A "$t/saves")" = guest.save ]'
check "save: the file is 0600" '[ "$(stat -c %a "$t/saves/guest.save")" = 600 ]'
# Through a symlink planted where the save goes: the link is replaced, the
# file it points at is never written.
echo "not yours" >"$t/victim"
rm "$t/saves/guest.save"
ln -s "$t/victim" "$t/saves/guest.save"
"$XL_EXT" save --sim --sim-memory 32M --sim-rate 1000 "$t/saves/guest.save" >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
check "save over a planted symlink: the link's target is untouched" \
    '[ "$(rc)" = 0 ] && [ "$(cat "$t/victim")" = "not yours" ] && [ ! -L "$t/saves/guest.save" ]'
# A mapped save aborted at the last check: the same, and the file is not
# in place, whole or in part.
echo "an older save" >"$t/saves/guest.mapped"
"$XL_EXT" save --sim --sim-memory 32M --sim-rate 1000 --streams 2 --inject-fault digest-mismatch \
    "$t/saves/guest.mapped" >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
check "mapped save aborted at the last check: exit 1, the old file untouched, nothing left" \
    '[ "$(rc)" = 1 ] && [ "$(cat "$t/saves/guest.mapped")" = "an older save" ] &&
     [ "$(ls -A "$t/saves" | sort | tr "\n" " ")" = "guest.mapped guest.save " ]'

# A hello that announces 2^36 pages to a receiver that allows 16 MiB: a
# clear refusal before any allocation, never an allocator's abort.
printf '%s\n' '{"msg":"hello","version":1,"id":"000102030405060708090a0b0c0d0e0f","nr_pfns":68719476736,"streams":1,"page_size":4096,"tracing":"loose","backend":"sim","acks":true}' |
    "$XL_EXT" migrate-receive --sim --sim-max-memory 16M >"$t/out" 2>"$t/err"
echo $? >"$t/rc"
check "a hello of 2^36 pages: refused (exit 1), no abort" \
    '[ "$(rc)" = 1 ] && grep -q "the guest needs 268435456 MiB, this host allows 16 MiB" "$t/err"'
# A simulated guest larger than this machine: refused up front.
migrate --sim-memory 64T localhost
check "--sim-memory beyond this machine: exit 1, says so" \
    '[ "$(rc)" = 1 ] && grep -q "MiB of memory asked, this host has" "$t/err"'

# SIGINT and SIGTERM at the source while the pages flow: the migration is
# cancelled (exit 6), the guest keeps running at the source.
for sig in INT TERM; do
    rm -f "$t/receiver"
    "$XL_EXT" migrate --sim --sim-memory 64M --bandwidth 2M -s "" \
        "$(receiver_watched "$t/receiver")" >"$t/out" 2>"$t/err" &
    pid=$!
    await "the receiver's data streams" 'streams_up "$t/receiver"'
    kill -$sig "$pid"
    wait "$pid"
    echo $? >"$t/rc"
    case_ "SIG$sig during pre-copy" 6 "cancelled by the caller during pre-copy"
done

# A receiver that fails and then does not exit (its shell keeps running
# with the pipes open): the source stops waiting for it after 10 s and
# leaves it be, as xl does.
rm -f "$t/receiver.pid"
migrate --sim-memory 64M --sim-rate 1000 -s "" \
    "echo \$\$ > '$t/receiver.pid'; '$XL_EXT' migrate-receive --sim --data-listen 127.0.0.1 --sim-max-memory 16M; exec sleep 300"
check "a receiver that never exits: exit 4 all the same" '[ "$(rc)" = 4 ]'
check "a receiver that never exits: the source says it stopped waiting" \
    'grep -q "has not exited 10 s after the migration ended: no longer waiting" "$t/err"'
check "a receiver that never exits: guest runs at the source" 'at_source'
kill "$(cat "$t/receiver.pid")" 2>/dev/null    # the source never kills it, as xl

# The destination dies right after "go" (tests/sim/flood.py kills it before
# it reads the line): the source cannot know where the guest runs, says so
# once, leaves it paused and exits 7.
migrate --sim-memory 32M --sim-rate 1000 -s "" "$(flood_py --no-flood --kill-at-go)"
echo "# destination died after go: exit $(rc): $(sed -n 's/^xl-ext migrate: migration failed: //p' "$t/err" | head -n 1)"
check "destination died after go: exit 7" '[ "$(rc)" = 7 ]'
check "destination died after go: one consistent message" \
    'grep -q "did not confirm: the guest is left paused here" "$t/err" &&
     grep -q "the guest is left paused at the source; check the destination" "$t/err" &&
     ! grep -q "keeps running at the source" "$t/err"'

# The destination dies (SIGKILL, tests/sim/flood.py) at its 4th "applied",
# while the convergence ladder has the guest throttled (a hot guest of
# incompressible memory behind 20 MB/s: it outruns the link from round 1):
# the guest runs on at the source with its whole CPU again.
migrate --sim-memory 64M --sim-fill random --sim-pattern hot --sim-working-set 32M \
    --sim-rate 20000 --sim-vcpus 1 --bandwidth 20M --ladder throttle -s "" \
    "$(flood_py --no-flood --kill-after-applied 4)"
echo "# killed during throttle: exit $(rc): $(sed -n 's/^xl-ext migrate: migration failed: //p' "$t/err" | head -n 1)"
check "killed during throttle: exit 1" '[ "$(rc)" = 1 ]'
check "killed during throttle: the guest was throttled first" \
    'grep -q "^ladder from round [0-9]*: throttle the guest to" "$t/out" &&
     grep -q "result=failed .*ladder=throttle:" "$t/out"'
check "killed during throttle: guest runs at the source" 'at_source'
check "killed during throttle: with its whole CPU again" \
    'grep -q "keeps running at the source (vCPU 0 writes: [0-9]* -> [0-9]*; CPU share 100%)" "$t/err"'

# Strangers on the data port (tests/sim/flood.py): before "ready" reaches
# the source, 40 idle connections (more than the receiver's 16 slots),
# slowloris HELLOs, plain HELLOs with another migration id and garbage;
# more of each while the pages flow.  The migration must not notice.
for mode in plain sealed; do
    rm -f "$t/flood"
    plain=""; [ "$mode" = plain ] && plain=--no-encrypt
    migrate --sim-memory 32M --sim-rate 1000 --streams 2 $plain -s "" \
        "$(flood_py --report "'$t/flood'")"
    echo "# flood, $mode streams: exit $(rc), $(grep before= "$t/flood" 2>/dev/null)"
    check "flood, $mode streams: migrated, verified" \
        '[ "$(rc)" = 0 ] && grep -q "^xl-ext migrate: result=ok .*verified=yes" "$t/out"'
    check "flood, $mode streams: strangers before ready" 'grep -q "before=[1-9]" "$t/flood"'
    check "flood, $mode streams: strangers during the migration" 'grep -q "during=[1-9]" "$t/flood"'
done

# flood.py --reset-data: a TCP proxy in the data path resets the last
# stream's connection (a TCP RST to both ends) once per pre-copy round, in
# its data; the stream reconnects and resends its epoch.  The migration
# succeeds and counts as many reconnects as the proxy made resets.
reconnects() { sed -n 's/^xl-ext migrate: result=ok .* reconnects=\([0-9]*\).*/\1/p' "$t/out"; }
for mode in sealed plain; do
    rm -f "$t/proxy"
    plain=""; [ "$mode" = plain ] && plain=--no-encrypt
    migrate --sim-memory 32M --sim-rate 1000 --streams 2 $plain -s "" \
        "$(flood_py --reset-data once-per-round --report "'$t/proxy'")"
    echo "# a stream reset once per round, $mode streams: exit $(rc), resets=$(report "$t/proxy" resets)," \
        "reconnects=$(reconnects): $(sed -n 's/^xl-ext migrate: migration failed: //p' "$t/err" | head -n 1)"
    check "a stream reset once per round, $mode streams: migrated, verified" \
        '[ "$(rc)" = 0 ] && grep -q "^xl-ext migrate: result=ok .*verified=yes" "$t/out"'
    check "a stream reset once per round, $mode streams: at least 2 reconnects" \
        '[ -n "$(reconnects)" ] && [ "$(reconnects)" -ge 2 ]'
    # The reset armed by the last "applied" may land after the stream's DONE
    # went through: that one breaks nothing and needs no reconnection.
    check "a stream reset once per round, $mode streams: a reconnection per reset that broke a round" \
        '[ -n "$(reconnects)" ] && [ "$(reconnects)" -le "$(report "$t/proxy" resets)" ] &&
         [ "$(reconnects)" -ge $(($(report "$t/proxy" resets) - 1)) ]'
done

# The proxy resets the last stream's every new connection, right after its
# HELLO: the source gives up after its reconnect attempts (3 by default),
# and the guest keeps running there.
for limit in 3 1; do
    rm -f "$t/proxy"
    option=""; [ "$limit" = 3 ] || option="--reconnects $limit"   # 3: the default
    migrate --sim-memory 32M --sim-rate 1000 --streams 2 $option -s "" \
        "$(flood_py --reset-data always --report "'$t/proxy'")"
    echo "# a stream that keeps failing, ${option:-no --reconnects}: resets=$(report "$t/proxy" resets)"
    case_ "a stream that keeps failing, ${option:-no --reconnects}" 1 \
        "gave up after $limit reconnect attempt"
done
exit $fail

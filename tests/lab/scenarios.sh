#!/bin/sh
# scenarios.sh PLAN RESULTS_DIR: the lab's scenario runner, run by dom0's
# /init inside the emulated Xen host (busybox sh).
#
# PLAN has one line per guest (blank lines and # comments ignored):
#   guest TYPE MEM_MIB WORKLOAD OP...
#     TYPE      pv | pvh | hvm   (hvm: Debian's qemu-xen device model in
#               dom0, direct kernel boot, no VGA/serial/disk/NIC; its
#               heartbeat goes through the PV console hvc0 of a PVHVM
#               Linux; pvh and hvm are retried once: TCG nested SVM)
#     WORKLOAD  idle | dirty:RATE_MIB_PER_S:WORKING_SET_MIB
#     OP        create save-restore migrate-pipe migrate-tcp capture-save
#               ranged-check   (PVH: the ranged log-dirty op of the lab's
#                              patched Xen, tests/lab/ranged-check.c)
#               xenmig-migrate-pipe xenmig-migrate-tcp   (the switched-off hook)
#               xenmig-sN-stop|loose[-plain][-capture][-noverify][-nomonitor][-reset][-ladder][-predict][-dryrun][-sched]
#                              xl-ext migrate, N streams (plain:
#                              --no-encrypt, noverify: --no-verify,
#                              predict: --predict, prediction against
#                              outcome in the summary; dryrun:
#                              --dry-run, the guest stays, exit 0 or 8
#                              (a predicted miss) passes,
#                              nomonitor: -e, no xl monitor daemon,
#                              reset: the last data stream's connection
#                              is reset once (a TCP RST) and must come
#                              back: reconnects= at least 1; sched: this
#                              step checks the scheduler parameters, as
#                              option sched_check=1 does)
#               xenmig-again-sN-stop|loose   the same, of a guest (the same
#                              boot) that xenmig already migrated: after
#                              a retry re-created the guest, it is
#                              migrated once more first, so the step is
#                              always a re-migration
#               save-c         stock `xl save -c` to a checkpoint file (the
#                              domain is paused throughout); downtime_ms is
#                              the pause the guest saw
#               xenmig-save-sN-stop|loose[-sealed][-mapped]   `xl-ext save
#                              -c`, live, through the engine, to a
#                              checkpoint file (mapped: --format mapped;
#                              sealed: --cipher chacha20-poly1305, the
#                              streams of a save being plain by default)
#               xenmig-save-fault-full   `xl-ext save -c` to /dev/full (a
#                              full disk): must fail naming the save file,
#                              and the guest runs on
#               restore-checkpoint[-sN]   the last checkpoint file of the
#                              guest (either save step's): the domain
#                              destroyed, then stock `xl restore` of the
#                              file (a mapped file: `xl-ext restore
#                              --streams N`, default 2);
#                              the guest must continue (the same boot)
#               hold-SECONDS   the guest just runs (it must still run after)
#   option NAME=VALUE      xenmig_migrate=1 switches the hook on;
#                          tsc_mode=MODE sets xl's tsc_mode of PVH/HVM
#                          guests (default here: native);
#                          link_cap=BYTES_PER_S caps every migration TCP
#                          connection from then on through TCP pacing
#                          (SO_MAX_PACING_RATE), a per-connection
#                          bottleneck: stock's migrate-tcp (its sending
#                          socat) and each xl-ext data stream (--bandwidth
#                          N x cap); 0 = none (the default);
#                          disk_mib=N gives HVM guests created from then
#                          on a raw disk image of N MiB in dom0's /tmp,
#                          which both ends of a migration open (shared
#                          storage, as seen by the device model: QEMU
#                          locks the image); 0 = none (the default);
#                          retries=N lets each PVH/HVM step of guests
#                          from then on be tried N more times after a
#                          failure (default 1; PV steps get none);
#                          sched_check=1 makes every migration step from
#                          then on (migrate-pipe, migrate-tcp, xenmig-*)
#                          record the domain's scheduler, weight and cap
#                          (tests/lab/sched-params.sh) before it at the
#                          source and after it at the destination (after
#                          a xenmig-fault-* step: at the source), and fail
#                          when they differ (the ladder's throttle must
#                          leave no cap behind); the result carries
#                          sched_before= and sched_after=; 0 = off (the
#                          default)
#   check-xl-ext           run our xl-ext inside dom0 (proves it loads here)
#   check-create-baseline  xl-ext create with CPUID baselines (met and not met)
#   net ADDRESS            two-host mode: bring up eth0 (the emulated network
#                          between the two lab hosts) with ADDRESS/24
#   peer NAME ROLE PEER_ADDRESS TYPE MEM [TOOL [EXPECT]]   two-host mode:
#                          ROLE sender creates an idle guest and migrates it
#                          to PEER_ADDRESS with TOOL (xl, the default, or
#                          xenmig-sN: xl-ext migrate --streams N); ROLE
#                          receiver takes it in and checks it continues;
#                          EXPECT refused: the receiver's CPUID pre-flight
#                          must turn the guest away and it stays put
# Every scenario prints exactly one line on the console
#   LAB-RESULT name=N status=pass|fail|skip retries=R total_s=T downtime_ms=D
#              boot_before=B boot_after=B tool=xl|xl-ext ... reason=TEXT
# and, when it failed, the evidence between LAB-LOG-BEGIN N / LAB-LOG-END N.
# An xl-ext migration (xenmig-s*, xenmig-again-*) runs with --json and
# prints its JSON events before its result, one a line:
#   LAB-JSON name=N {"event":"precopy",...}   (the first 12 progress events)
#   LAB-JSON name=N {"event":"summary",...}   (always, when xl-ext printed one)
# scripts/lab turns these lines into TAP, JUnit XML and JSON, scripts/bench-lab
# into its table (both read them with tests/lab/labresult.py).
#
# Downtime is guest-observed: the guest's heartbeat (tests/lab/lab-guest.c)
# reports the largest gap between its 2 ms ticks on CLOCK_BOOTTIME; the
# downtime of an operation is the largest gap reported after it began.
#
# Must never report a scenario as passed that did not run, and must never
# wait without a bound (every xl call runs under timeout).
# Debian's Xen 4.17 keeps its tools in /usr/lib/xen-4.17/bin, an upstream
# build (scripts/lab --xen 4.20|4.22) libxl's helpers in /usr/lib/xen/bin
export PATH=/usr/lib/xen-4.17/bin:/usr/lib/xen/bin:/usr/sbin:/usr/bin:/sbin:/bin
plan=${1:?usage: scenarios.sh PLAN RESULTS_DIR}
results=${2:?usage: scenarios.sh PLAN RESULTS_DIR}
console_logs=/var/log/xen/console
work=/tmp/lab-work
mkdir -p "$work" "$results"
xenmig_migrate=0
# PVH/HVM guests keep the host's TSC (no rdtsc emulation after a
# migration): with xl's default, triple faults under TCG's nested SVM were
# often seen right after an emulated rdtsc; with native, one boot passed 12
# of 12 steps, the next still retried 3 of about 40 (see the README): it
# helps at best.  option tsc_mode=default restores xl's default.
tsc_mode=native
tcp_port=8002
link_cap=0
disk_mib=0
hvm_retries=1
# a CI rehearsal (2026-12-07) lost its quick set's PVH group to two triple
# faults in a row while stock xl created the guest: creation alone gets
# this many tries more when the guest triple-faulted
create_flake_retries=2
sched_check=0
failures=0

now() { /usr/bin/lab-guest now; }
elapsed() { echo "$1 $2" | awk '{ printf "%.3f", $2 - $1 }'; }

# awk: hb() reads the HB line in $0 (tests/lab/lab-guest.c) into boot ("" when
# missing), seq, gap (gap_max_us) and t (t_ms), each -1 when missing or not a
# whole number; every reader of the heartbeats below starts from it
hb_awk='
    function hb(   i, kv) {
        boot = ""; seq = -1; gap = -1; t = -1
        for (i = 2; i <= NF; i++) {
            split($i, kv, "=")
            if (kv[1] == "boot") boot = kv[2]
            if (kv[1] == "seq" && kv[2] ~ /^[0-9]+$/) seq = kv[2] + 0
            if (kv[1] == "gap_max_us" && kv[2] ~ /^[0-9]+$/) gap = kv[2] + 0
            if (kv[1] == "t_ms" && kv[2] ~ /^[0-9]+$/) t = kv[2] + 0
        }
    }
'

# newest heartbeat of the guest as "SEQ BOOT", from every console log (the
# log file name changes across a migration: NAME--incoming)
heartbeat_newest() {
    cat "$console_logs"/*.log 2>/dev/null | awk "$hb_awk"'
        $1 == "HB" {
            hb()
            if (boot != "" && seq > best) { best = seq; best_boot = boot }
        }
        BEGIN { best = -1 }
        END { if (best >= 0) print best, best_boot }'
}

# heartbeat_wait MIN_SEQ BOOT TIMEOUT_S: 0 once BOOT reported a seq > MIN_SEQ;
# 1 on timeout, or at once when the guest says its workload died (OOM)
heartbeat_wait() {
    deadline=$(( $(cut -d. -f1 /proc/uptime) + $3 ))
    while [ "$(cut -d. -f1 /proc/uptime)" -lt "$deadline" ]; do
        if cat "$console_logs"/*.log 2>/dev/null | grep -q "GUEST heartbeat exited"; then
            echo "the guest's heartbeat workload died: $(cat "$console_logs"/*.log | grep -m1 "GUEST heartbeat exited")" >> "$work/command.out"
            return 1
        fi
        set -- "$1" "$2" "$3" $(heartbeat_newest)
        if [ -n "${4:-}" ] && [ "$4" -gt "$1" ] && { [ "$2" = any ] || [ "$5" = "$2" ]; }; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# largest gap_max_us of BOOT's heartbeats with FROM_SEQ < seq <= TO_SEQ, in ms
heartbeat_gap_ms() {
    cat "$console_logs"/*.log 2>/dev/null | awk -v from="$1" -v to="$2" -v want="$3" "$hb_awk"'
        $1 == "HB" {
            hb()
            if (boot == want && seq > from && seq <= to && gap > best) best = gap
        }
        BEGIN { best = -1 }
        END { if (best >= 0) printf "%.1f", best / 1000; else print "none" }'
}

# BOOT's heartbeat reports with FROM_SEQ < seq <= TO_SEQ whose largest gap
# is MIN_MS or more, as "GAP ms at t=T s" (T: the guest's CLOCK_BOOTTIME when
# it reported), in order: a step with more than one tells a stall during its
# rounds (a throttle, a harvest) from the switchover's pause
heartbeat_gaps_over() {
    cat "$console_logs"/*.log 2>/dev/null | awk -v from="$1" -v to="$2" -v want="$3" -v min="$4" "$hb_awk"'
        $1 == "HB" {
            hb()
            if (boot == want && seq > from && seq <= to && gap >= min * 1000)
                line[seq] = sprintf("%.1f ms at t=%.3f s", gap / 1000, t / 1000)
        }
        END {
            n = 0
            for (s in line) keys[++n] = s + 0
            for (i = 2; i <= n; i++)        # a few lines: insertion sort by seq
                for (j = i; j > 1 && keys[j - 1] > keys[j]; j--) {
                    k = keys[j]; keys[j] = keys[j - 1]; keys[j - 1] = k
                }
            for (i = 1; i <= n; i++)
                printf "%s%s", (i > 1 ? ", " : ""), line[keys[i]]
            if (n == 0) printf "none"
        }'
}

# per console log: its name, then per boot id the HB lines, lowest and
# highest seq and how many carry no numeric gap_max_us (for a LAB-WARN when
# a step's downtime could not be measured)
heartbeat_census() {
    for log in "$console_logs"/*.log; do
        [ -f "$log" ] || continue
        awk -v file="${log##*/}" "$hb_awk"'
            $1 == "HB" {
                hb()
                if (boot == "") boot = "?"
                n[boot]++
                if (!(boot in lo) || seq < lo[boot]) lo[boot] = seq
                if (!(boot in hi) || seq > hi[boot]) hi[boot] = seq
                if (gap < 0) nogap[boot]++
            }
            END {
                printf "%s:", file
                for (b in n) printf " boot=%s lines=%d seq=%d..%d no_gap=%d", b, n[b], lo[b], hi[b], nogap[b] + 0
                printf ";"
            }' "$log"
    done
}

# boot ids other than BOOT seen in the logs (a guest that rebooted)
heartbeat_other_boots() {
    cat "$console_logs"/*.log 2>/dev/null | sed -n 's/^HB boot=\([0-9a-z_]*\) .*/\1/p' | sort -u | grep -v -x "$1" | tr '\n' ' '
}

result() {  # NAME STATUS KEY=VALUE... (reason=... last)
    name=$1 status=$2
    shift 2
    echo "LAB-RESULT name=$name status=$status $*"
    [ "$status" = fail ] && failures=$((failures + 1))
    return 0
}

evidence() {  # NAME: what a failure report carries
    echo "LAB-LOG-BEGIN $1"
    echo "--- command output"
    tail -n 40 "$work/command.out" 2>/dev/null
    echo "--- xl list"
    timeout 20 xl list 2>&1
    for log in "$console_logs"/*.log; do
        [ -f "$log" ] || continue
        echo "--- guest console $log (last 25 lines)"
        tail -n 25 "$log"
    done
    # HVM guests: the device model's own log (qemu-xen failing to start)
    for log in /var/log/xen/qemu-dm-*.log; do
        [ -f "$log" ] || continue
        echo "--- device model log $log (last 25 lines)"
        tail -n 25 "$log"
    done
    echo "--- xl dmesg (last 30 lines)"
    timeout 20 xl dmesg 2>&1 | tail -n 30
    echo "LAB-LOG-END $1"
}

destroy_guest() {  # NAME: remove every copy a failed operation may have left
    for suffix in "" --incoming --migratedaway; do
        timeout 60 xl destroy "$1$suffix" >/dev/null 2>&1
    done
    return 0
}

write_config() {  # NAME TYPE MEM EXTRA
    cat > "$work/$1.cfg" <<EOF
name = "$1"
type = "$2"
kernel = "/guest/vmlinuz"
ramdisk = "/guest/initrd.gz"
extra = "console=hvc0 quiet loglevel=3 $4"
memory = $3
maxmem = $3
vcpus = 1
on_crash = "destroy"
on_reboot = "destroy"
EOF
    # option tsc_mode=MODE: xl's tsc_mode for PVH and HVM guests
    if [ -n "$tsc_mode" ] && [ "$2" != pv ]; then
        echo "tsc_mode = \"$tsc_mode\"" >> "$work/$1.cfg"
    fi
    # HVM: qemu-xen loads the kernel (direct kernel boot through SeaBIOS);
    # the fewest emulated devices: no VGA, no VNC, no USB, no serial port
    # (no serial= line); xen-platform-pci stays on (the default): with it
    # Linux runs as PVHVM and its hvc0 is the PV console xenconsoled logs
    if [ "$2" = hvm ]; then
        cat >> "$work/$1.cfg" <<EOF
device_model_version = "qemu-xen"
vga = "none"
vnc = 0
sdl = 0
usb = 0
xen_platform_pci = 1
EOF
        # option disk_mib=N: a shared raw disk that qemu's emulated IDE
        # disk keeps open (the guest does not unplug it: the lab's guest
        # has no blkfront, and an unplugged disk is closed); qdisk: no
        # hotplug scripts or loop devices in dom0
        if [ "$disk_mib" != 0 ]; then
            rm -f "$work/$1.disk"
            dd if=/dev/zero of="$work/$1.disk" bs=1M count=0 seek="$disk_mib" 2>/dev/null
            echo "disk = [ \"format=raw,vdev=hda,access=rw,backendtype=qdisk,target=$work/$1.disk\" ]" >> "$work/$1.cfg"
            sed -i 's/^extra = "/extra = "xen_emul_unplug=never /' "$work/$1.cfg"
        fi
    fi
}

# ---------------------------------------------------------------- operations
# Each op_* returns 0 on success and sets op_total (seconds) and op_extra
# (more KEY=VALUE words); the command's output is in $work/command.out.

op_create() {
    start=$(now)
    timeout 300 xl create "$work/$guest.cfg" > "$work/command.out" 2>&1 || return 1
    # up to 300 s for the first heartbeat, but not for a domain that died
    # booting (a triple fault destroys it: on_crash = "destroy")
    waited=0
    until heartbeat_wait -1 any 10; do
        # the workload's own death was reported by heartbeat_wait already
        cat "$console_logs"/*.log 2>/dev/null | grep -q "GUEST heartbeat exited" && return 1
        waited=$((waited + 10))
        if ! timeout 20 xl domid "$guest" > /dev/null 2>&1; then
            echo "domain $guest died before its first heartbeat (after ${waited} s; see xl dmesg)" >> "$work/command.out"
            return 1
        fi
        if [ $waited -ge 300 ]; then
            echo "no heartbeat after xl create (waited up to 300 s)" >> "$work/command.out"
            return 1
        fi
    done
    op_total=$(elapsed "$start" "$(now)")
    op_extra=""
}

op_save_restore() {
    file=$work/$guest.save
    start=$(now)
    timeout 300 xl save "$guest" "$file" > "$work/command.out" 2>&1 || return 1
    middle=$(now)
    size=$(wc -c < "$file")
    timeout 300 xl restore "$file" >> "$work/command.out" 2>&1 || { rm -f "$file"; return 1; }
    end=$(now)
    rm -f "$file"
    op_total=$(elapsed "$start" "$end")
    op_extra="save_s=$(elapsed "$start" "$middle") restore_s=$(elapsed "$middle" "$end") save_bytes=$size"
}

# save-c / xenmig-save-sN-TRACING: a checkpoint of the running guest,
# kept for restore-checkpoint
op_save_checkpoint() {  # TOOL [STREAMS TRACING [FLAGS...]]
    file=$work/$guest.ckpt
    rm -f "$file"
    ckpt_format=xl
    start=$(now)
    if [ "$1" = xl ]; then
        timeout 300 xl save -c "$guest" "$file" > "$work/command.out" 2>&1 || return 1
    else
        # --format xl unless -mapped: with --streams given, mapped is save's default
        streams=$2 tracing=$3 options="" format=xl
        shift 3
        for flag in "$@"; do
            case "$flag" in
            plain) options="$options --no-encrypt" ;;
            sealed) options="$options --cipher chacha20-poly1305" ;;
            mapped) format=mapped ckpt_format=mapped ;;
            esac
        done
        options="$options --format $format"
        XENMIG_TRACE=1 timeout 600 xl-ext save -c --json --streams "$streams" \
            --tracing "$tracing" --timeout 60000 $options "$guest" "$file" \
            > "$work/command.out" 2>&1 || return 1
        grep '^{.*"event":"summary"' "$work/command.out" | tail -n 1 | sed "s/^/LAB-JSON name=$name /"
        grep -E '^xenmig-trace|^xl-ext (migrate|save): downtime parts' "$work/command.out" | tail -n 120 |
            sed "s/^/LAB-DETAIL $name: /"
    fi
    op_total=$(elapsed "$start" "$(now)")
    [ -s "$file" ] || { echo "no checkpoint file '$file' after the save" >> "$work/command.out"; return 1; }
    summary=$(grep -m 1 '^xl-ext save: result=' "$work/command.out" || true)
    op_extra="save_bytes=$(wc -c < "$file") $(echo "$summary" | tr ' ' '\n' |
        grep -E '^(downtime|bytes|rounds|verified|verified_at)=' | sed 's/^/xenmig_/' | tr '\n' ' ')"
}

# xl-ext save -c to a full disk: the save fails, the domain runs on
op_save_fault_full() {
    start=$(now)
    if timeout 300 xl-ext save -c --streams 2 --timeout 60000 "$guest" /dev/full \
        > "$work/command.out" 2>&1; then
        echo "xl-ext save to /dev/full succeeded: it must fail" >> "$work/command.out"
        return 1
    fi
    op_total=$(elapsed "$start" "$(now)")
    if ! grep -q "the save file" "$work/command.out"; then
        echo "the error does not name the save file" >> "$work/command.out"
        return 1
    fi
    op_extra=""
}

op_restore_checkpoint() {  # THREADS (a mapped file's xl-ext restore --streams)
    file=$work/$guest.ckpt
    [ -s "$file" ] || { echo "no checkpoint file '$file': run a save step first" > "$work/command.out"; return 1; }
    timeout 60 xl destroy "$guest" > "$work/command.out" 2>&1 || return 1
    start=$(now)
    if [ "${ckpt_format:-xl}" = mapped ]; then
        timeout 300 xl-ext restore --streams "$1" "$file" >> "$work/command.out" 2>&1 || return 1
    else
        timeout 300 xl restore "$file" >> "$work/command.out" 2>&1 || return 1
    fi
    op_total=$(elapsed "$start" "$(now)")
    op_extra="restore_s=$op_total save_bytes=$(wc -c < "$file") format=${ckpt_format:-xl}"
    [ "${ckpt_format:-xl}" != mapped ] || op_extra="$op_extra threads=$1"
    # xl-ext restore's own split: checking the file, then feeding xl
    split=$(grep -m 1 '^xl-ext restore: result=ok' "$work/command.out" |
        sed -n 's/.* \(verify=[0-9.]*s replay=[0-9.]*s replay_parts=[0-9./]*\) memory_digest=[0-9a-f]* *\(.*\)/\1 \2/p')
    [ -z "$split" ] || op_extra="$op_extra $split"
    rm -f "$file"
}

op_migrate() {  # TOOL TRANSPORT
    tool=$1
    start=$(now)
    case "$2" in
    pipe)
        timeout 600 "$tool" migrate -s "" "$guest" "$tool migrate-receive" > "$work/command.out" 2>&1 || return 1
        ;;
    tcp)
        tcp_port=$((tcp_port + 1))
        # lab-guest count: the bytes of the stream that arrived (stock's
        # "bytes sent"); one more copy in dom0, cheap next to the link
        rm -f "$work/stream-bytes"
        socat "TCP-LISTEN:$tcp_port,bind=127.0.0.1,reuseaddr" \
            SYSTEM:"lab-guest count $work/stream-bytes | $tool migrate-receive" \
            > "$work/receiver.out" 2>&1 &
        receiver=$!
        # the listener is up once the port answers; bounded wait
        tries=0
        until grep -q ":$(printf '%04X' "$tcp_port") 00000000:0000 0A" /proc/net/tcp 2>/dev/null; do
            tries=$((tries + 1))
            [ $tries -gt 50 ] && break
            sleep 0.1
        done
        start=$(now)
        # SOL_SOCKET (1), SO_MAX_PACING_RATE (47): the sending side paces
        cap=""
        if [ "$link_cap" != 0 ]; then cap=",setsockopt-int=1:47:$link_cap"; fi
        timeout 600 "$tool" migrate -s "" "$guest" "socat - TCP:127.0.0.1:$tcp_port$cap" > "$work/command.out" 2>&1
        rc=$?
        # the count is written once the stream's end reached the receiver
        tries=0
        while [ ! -s "$work/stream-bytes" ] && [ $tries -lt 30 ]; do
            tries=$((tries + 1))
            sleep 0.1
        done
        kill "$receiver" 2>/dev/null
        wait "$receiver" 2>/dev/null
        cat "$work/receiver.out" >> "$work/command.out"
        [ $rc = 0 ] || return 1
        ;;
    esac
    op_total=$(elapsed "$start" "$(now)")
    op_extra="transport=$2"
    if [ "$2" = tcp ]; then
        op_extra="$op_extra link_cap=$link_cap stream_bytes=$(cat "$work/stream-bytes" 2>/dev/null || echo none)"
    fi
}

# xenmig STREAMS TRACING [capture]: xl-ext migrate --json with the xenmig
# engine over a pipe (control) and loopback TCP (data); its summary line
# goes into the result, its JSON events into LAB-JSON lines of scenario
# $name; with capture, the merged stream the stock receiver got is kept in
# RESULTS/streams/ and checked here with xl-ext stream-dump.
op_xenmig() {
    streams=$1 tracing=$2
    shift 2
    recv="xl-ext migrate-receive --xen --data-listen 127.0.0.1 --timeout 60000"
    options="" merged="" dry_run=0
    if [ "$link_cap" != 0 ]; then options="--bandwidth $((streams * link_cap))"; fi
    for flag in "$@"; do
        case "$flag" in
        plain) options="$options --no-encrypt" ;;
        noverify) options="$options --no-verify" ;;
        nomonitor) options="$options -e" recv="$recv -e" ;;
        reset) options="$options --inject-fault stream-reset" ;;
        ladder) options="$options --ladder compress,throttle" ;;
        predict) options="$options --predict" ;;
        dryrun) options="$options --dry-run" dry_run=1 ;;
        capture)
            mkdir -p "$results/streams"
            # .xl-save: the host compresses it and runs verify-stream-v2 on it
            merged=$results/streams/xenmig-$type-${memory}m-s$streams-$tracing.xl-save
            recv="$recv --capture $merged" ;;
        esac
    done
    start=$(now)
    XENMIG_TRACE=1 timeout 600 xl-ext migrate --json --streams "$streams" --tracing "$tracing" \
        --timeout 60000 $options -s "" "$guest" "$recv" > "$work/command.out" 2>&1
    rc=$?
    grep '^xenmig-trace' "$work/command.out" | tail -n 120 |
        sed "s/^/LAB-DETAIL $type-$memory-$workload_name-xenmig-s$streams-$tracing: /"
    grep -E '^xl-ext migrate: (downtime parts|predicted|probe|prediction)' "$work/command.out" |
        sed "s/^/LAB-DETAIL $type-$memory-$workload_name-xenmig-s$streams-$tracing: /"
    # the engine's rounds and summary, for the record and for bench-lab
    # (xl-ext's --json events: one object a line, each with "event")
    grep '^{.*"event":' "$work/command.out" > "$work/events.json"
    { grep -v '"event":"summary"' "$work/events.json" | head -n 12
      grep '"event":"summary"' "$work/events.json" | tail -n 1
    } | sed "s/^/LAB-JSON name=$name /"
    # a dry run that predicts a miss exits 8 (the guest runs on, untouched)
    [ $rc = 0 ] || { [ "$dry_run" = 1 ] && [ $rc = 8 ]; } || return 1
    op_total=$(elapsed "$start" "$(now)")
    summary=$(grep -m 1 '^xl-ext migrate: result=' "$work/command.out" || true)
    op_extra="streams=$streams tracing=$tracing link_cap=$link_cap encrypted=$(case "$options" in *no-encrypt*) echo no ;; *) echo yes ;; esac) $(echo "$summary" | tr ' ' '\n' |
        grep -E '^(downtime|bytes|rounds|harvest_pause|stall_total|stall_max|verified|verified_at|reconnects|ladder|forced)=' | sed 's/^/xenmig_/' | tr '\n' ' ')"
    case "$options" in *stream-reset*)
        if ! echo "$summary" | grep -q ' reconnects=[1-9]'; then
            echo "the reset data stream did not come back (no reconnects= in: $summary)" >> "$work/command.out"
            return 1
        fi ;;
    esac
    if [ -n "${merged:-}" ]; then
        if ! xl-ext stream-dump "$merged" > "$work/dump.out" 2>&1; then
            echo "the merged stream is not valid: $(tail -n 1 "$work/dump.out")" >> "$work/command.out"
            return 1
        fi
        op_extra="$op_extra merged_bytes=$(wc -c < "$merged")"
        merged=""
    fi
}

# xenmig-again STREAMS TRACING: op_xenmig of a guest whose boot xenmig has
# migrated before (xenmig_boot, set by run_op); a guest re-created by a
# retry is migrated once first, and the step says so (first_migration=)
op_xenmig_again() {
    first=earlier-step
    if [ "$boot_before" != "${xenmig_boot:-}" ]; then
        first=in-step
        op_xenmig "$1" "$2" || return 1
        set -- "$1" "$2" $(heartbeat_newest)
        heartbeat_wait "${3:--1}" "$boot_before" 60 || {
            echo "no heartbeat of boot $boot_before after its first xenmig migration" >> "$work/command.out"
            return 1
        }
    fi
    op_xenmig "$1" "$2" || return 1
    op_extra="$op_extra first_migration=$first"
}

# the newest "Triple fault" line of Xen's console (empty when none): a PVH
# guest under TCG's nested SVM triple-faults now and then, at VM entry or
# right after an emulated rdtsc, whatever tool moved it (or none)
last_triple_fault() {
    timeout 20 xl dmesg 2>/dev/null | grep 'Triple fault' | tail -n 1 | sed 's/^(XEN) //'
}

# exactly_once: the guest exists once here, no half-migrated copy is left
# (xl's --incoming on the receiving side, --migratedaway on the sending one)
exactly_once() {
    tries=0
    while :; do
        names=$(timeout 20 xl list 2>/dev/null | awk 'NR > 1 { print $1 }')
        count=$(echo "$names" | grep -c "^$guest\$")
        leftovers=$(echo "$names" | grep -E -- "^$guest--(incoming|migratedaway)\$" | tr '\n' ' ')
        [ "$count" = 1 ] && [ -z "$leftovers" ] && return 0
        tries=$((tries + 1))
        if [ $tries -ge 20 ]; then     # xl destroys its incoming copy on its own
            echo "after the failed migration: $count domain(s) named $guest, leftovers: ${leftovers:-none}" >> "$work/command.out"
            return 1
        fi
        sleep 1
    done
}

# xenmig-fault-KIND: a migration that must fail with the guest running here,
# exactly once.  receiver-killed: kill -9 the receiver mid-transfer;
# cut-stream: one data connection is shut down mid-transfer; preflight: the
# destination's host lacks the guest's CPU features (a host description
# with an empty HVM max policy), so nothing is sent; sigint: SIGINT to
# xl-ext migrate mid-transfer cancels it (exit 6), the domain renamed back
# and resumed here.
op_xenmig_fault() {
    recv="xl-ext migrate-receive --xen --data-listen 127.0.0.1 --timeout 20000"
    extra=""
    case "$1" in
    # a cut stream would come back: this step is about one that may not
    cut-stream) extra="--inject-fault cut-stream --reconnects 0" ;;
    # capped, so that the pre-copy outlasts the wait for it below
    sigint) extra="--bandwidth 4M" ;;
    preflight)
        zero=00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000
        printf '{"schema_version":1,"hostname":"lab-poor-host","source":"xen","vendor":"amd","family":15,"model":6,"stepping":1,"featuresets":{"host":"%s","pv_max":"%s","hvm_max":"%s"}}\n' \
            "$zero" "$zero" "$zero" > "$work/poor-host.json"
        recv="$recv --host-json $work/poor-host.json" ;;
    esac
    rm -f "$work/receiver.pid"
    start=$(now)
    # the receiver notes its pid (sh execs it, so the pid stays)
    timeout 600 xl-ext migrate --streams 2 --timeout 20000 $extra -s "" "$guest" \
        "echo \$\$ > $work/receiver.pid; exec $recv" > "$work/command.out" 2>&1 &
    migrator=$!
    if [ "$1" = receiver-killed ] || [ "$1" = sigint ]; then
        # once pages flow (xl has created the incoming domain), kill ours
        tries=0
        until timeout 10 xl list 2>/dev/null | grep -q -- "^$guest--incoming " || [ $tries -ge 200 ]; do
            tries=$((tries + 1))
            sleep 0.1
        done
        [ "$1" = sigint ] || sleep 1
        if [ "$1" = sigint ]; then
            # busybox's timeout execs the command in its own pid (coreutils'
            # forwards SIGINT to it): either way $migrator takes the signal
            kill -INT "$migrator" 2>/dev/null ||
                echo "no xl-ext migrate to interrupt" >&2
        elif [ -s "$work/receiver.pid" ]; then
            kill -9 "$(cat "$work/receiver.pid")" 2>/dev/null
        else
            echo "the receiver never started (no pid file)" >> "$work/command.out"
        fi
    fi
    wait "$migrator"
    rc=$?
    op_total=$(elapsed "$start" "$(now)")
    op_extra="fault=$1 migrate_rc=$rc"
    if [ $rc = 0 ]; then
        echo "xl-ext migrate succeeded although the $1 fault should have stopped it" >> "$work/command.out"
        return 1
    fi
    if [ "$1" = sigint ] && [ $rc != 6 ]; then
        echo "SIGINT: expected exit 6 (cancelled), got rc=$rc" >> "$work/command.out"
        return 1
    fi
    if [ "$1" = preflight ]; then
        if [ $rc != 4 ] || ! grep -q "cannot run domain $guest: missing features: " "$work/command.out"; then
            echo "pre-flight: expected exit 4 naming the missing features, got rc=$rc" >> "$work/command.out"
            return 1
        fi
        op_extra="$op_extra missing=$(grep -o 'missing features: [a-z0-9_, -]*' "$work/command.out" | head -n 1 | cut -c19- | cut -d, -f1-3 | tr -d ' ')"
    fi
    exactly_once
}

# hold SECONDS: the guest just runs; the checks after every step prove it
# still does (a guest that crashes some seconds after a migration fails here)
op_hold() {
    start=$(now)
    sleep "$1"
    op_total=$(elapsed "$start" "$(now)")
    op_extra=""
}

op_capture_save() {
    mkdir -p "$results/streams"
    file=$results/streams/lab-$type-${memory}m.xl-save
    start=$(now)
    # -c: checkpoint, the guest keeps running
    timeout 300 xl save -c "$guest" "$file" > "$work/command.out" 2>&1 || { rm -f "$file"; return 1; }
    op_total=$(elapsed "$start" "$(now)")
    op_extra="save_bytes=$(wc -c < "$file")"
}

# ranged-check: enable log-dirty, harvest with the patched Xen's ranged op
# and with stock CLEAN, prove no write is lost, disable log-dirty; its
# RANGED-RESULT lines go to the console as they are
op_ranged_check() {
    domid=$(timeout 20 xl domid "$guest" 2>"$work/command.out") || return 1
    start=$(now)
    timeout 300 ranged-check "$domid" 3 > "$work/ranged.out" 2>> "$work/command.out"
    rc=$?
    cat "$work/ranged.out"
    cat "$work/ranged.out" >> "$work/command.out"
    op_total=$(elapsed "$start" "$(now)")
    summary=$(grep -m 1 '^RANGED-RESULT summary' "$work/ranged.out")
    op_extra=$(for word in $summary; do
        case "$word" in
        ranged_call_ms_median=*|stock_clean_ms_median=*|lost_writes=*|changed_pages=*) printf '%s ' "$word" ;;
        esac
    done)
    [ $rc = 0 ] && [ -n "$summary" ]
}

# sched_record_before: the guest's scheduler:weight:cap at the source,
# before a step that checks them (sched_check), into sched_before
sched_record_before() {
    sched_before=$(sh /lab/sched-params.sh record "$guest" 2> "$work/sched.err") ||
        sched_before=""
    sched_words="sched_before=${sched_before:-unreadable}"
}

# sched_check_after RC: the same after the step (RC: its status so far),
# where the guest runs now: at the destination after a migration, at the
# source after a xenmig-fault-* step (its migration failed, as it must);
# 1 with the difference (or why it could not be read) as the last line of
# command.out when it is not what it was
sched_check_after() {
    case "$1:$op" in
    0:xenmig-fault-*) where="at the source after $op (its migration failed, as it must)" ;;
    0:*) where="at the destination after $op" ;;
    *) where="after $op, which failed" ;;
    esac
    cat "$work/sched.err" >> "$work/command.out" 2>/dev/null
    sched_after=$(sh /lab/sched-params.sh record "$guest" 2>> "$work/command.out") ||
        sched_after=""
    sched_words="sched_before=${sched_before:-unreadable} sched_after=${sched_after:-unreadable}"
    sh /lab/sched-params.sh compare "$where" "$sched_before" "$sched_after" >> "$work/command.out"
}

# ---------------------------------------------------------------- driver

# recreate_guest: a retry's fresh guest, running its heartbeat; a guest that
# dies on the way (the TCG flake can strike at boot too) is created again
# while retries are left, each try counting as one (attempt, retries_allowed)
recreate_guest() {
    while :; do
        if op_create && heartbeat_wait 150 any 60; then
            return 0
        fi
        [ "$attempt" -lt "$retries_allowed" ] || return 1
        echo "LAB-MARK retry $name: the re-created guest died too; creating it again"
        attempt=$((attempt + 1))
        destroy_guest "$guest"
        rm -f "$console_logs"/*.log
    done
}

# run_op OP: one scenario for the current guest, with checks and one retry
# where the guest type allows it (PVH under TCG triple-faults now and then).
run_op() {
    op=$1
    name=$type-$memory-$workload_name-$op
    tool=xl
    case "$op" in
    xenmig-*)
        if [ "$xenmig_migrate" != 1 ]; then
            result "$name" skip retries=0 tool=xl-ext type=$type mem=$memory workload=$workload_name \
                reason="hook off: xl-ext migrate has no Xen backend yet (enable with scripts/lab --xenmig-migrate)"
            return 0
        fi
        # Without its Xen backend xl-ext hands `migrate DOMAIN HOST` to stock
        # xl: without this check the hook would time stock xl and call it ours
        if ! timeout 30 xl-ext version 2>/dev/null | grep -q '^migration backends:.* xen'; then
            result "$name" fail retries=0 tool=xl-ext type=$type mem=$memory workload=$workload_name \
                reason="xl-ext has no Xen migration backend yet ('xl-ext version'), so it would run stock xl"
            return 0
        fi
        tool=xl-ext ;;
    esac
    # option sched_check=1, or an xl-ext migration's -sched flag
    sched_step=0
    case "$op" in
    migrate-pipe|migrate-tcp|xenmig-*) sched_step=$sched_check ;;
    esac
    case "$op-" in xenmig-s[0-9]*-*-sched-*) sched_step=1 ;; esac
    if [ "$guest_alive" != 1 ] && [ "$op" != create ]; then
        result "$name" fail retries=0 tool=$tool type=$type mem=$memory workload=$workload_name \
            reason="not run: the guest of this group is not running (an earlier step failed)"
        return 0
    fi

    attempt=0
    while :; do
        set -- $(heartbeat_newest)
        seq_before=${1:--1} boot_before=${2:-none}
        op_total="" op_extra="" reason="" sched_words=""
        triple_before=$(last_triple_fault)
        [ "$sched_step" = 1 ] && sched_record_before
        case "$op" in
        create) op_create ;;
        save-restore) op_save_restore ;;
        save-c) op_save_checkpoint xl ;;
        xenmig-save-fault-full) op_save_fault_full ;;
        xenmig-save-s*-*)
            streams=$(echo "$op" | sed 's/^xenmig-save-s\([0-9]*\)-.*/\1/')
            op_save_checkpoint xl-ext "$streams" $(echo "$op" | cut -d- -f4- | tr '-' ' ') ;;
        restore-checkpoint) op_restore_checkpoint 2 ;;
        restore-checkpoint-s[0-9]*) op_restore_checkpoint "${op#restore-checkpoint-s}" ;;
        migrate-pipe) op_migrate xl pipe ;;
        migrate-tcp) op_migrate xl tcp ;;
        xenmig-s*-*)
            # xenmig-s<N>-<stop|loose>[-plain][-capture]
            streams=$(echo "$op" | sed 's/^xenmig-s\([0-9]*\)-.*/\1/')
            tracing=$(echo "$op" | cut -d- -f3)
            op_xenmig "$streams" "$tracing" $(echo "$op" | cut -d- -f4- | tr '-' ' ') ;;
        xenmig-again-s*-*)
            streams=$(echo "$op" | sed 's/^xenmig-again-s\([0-9]*\)-.*/\1/')
            tracing=$(echo "$op" | cut -d- -f4)
            op_xenmig_again "$streams" "$tracing" ;;
        xenmig-fault-*) op_xenmig_fault "${op#xenmig-fault-}" ;;
        xenmig-migrate-pipe) op_migrate xl-ext pipe ;;
        xenmig-migrate-tcp) op_migrate xl-ext tcp ;;
        hold-[0-9]*) op_hold "${op#hold-}" ;;
        capture-save) op_capture_save ;;
        ranged-check) op_ranged_check ;;
        *) echo "unknown operation '$op' in the plan" > "$work/command.out"; false ;;
        esac
        rc=$?
        [ $rc = 0 ] || reason="$op with $tool failed (rc=$rc): $(tail -n 1 "$work/command.out" | tr -s ' \t' '  ')"

        # the guest continues: the same boot reports ~0.3 s of new ticks
        set -- $(heartbeat_newest)
        seq_after=${1:--1}
        if [ $rc = 0 ]; then
            if [ "$op" = create ]; then
                boot_before=${2:-none}
            fi
            if ! heartbeat_wait $((seq_after + 150)) "$boot_before" 60; then
                rc=1
                reason="guest did not continue: no new heartbeat of boot $boot_before within 60 s (newest: $(heartbeat_newest))"
            fi
        fi
        set -- $(heartbeat_newest)
        boot_after=${2:-none} seq_end=${1:--1}
        others=$(heartbeat_other_boots "$boot_before")
        if [ $rc = 0 ] && [ -n "$others" ]; then
            rc=1
            reason="guest rebooted: heartbeats of another boot id ($others) appeared"
        fi
        if [ $rc = 0 ] && ! timeout 20 xl domid "$guest" > /dev/null 2>&1; then
            rc=1
            reason="domain $guest is gone after $op"
        fi
        # sched_check: a failed step says so too, after its own reason
        if [ "$sched_step" = 1 ] && ! sched_check_after $rc; then
            if [ $rc = 0 ]; then
                rc=1
                reason=$(tail -n 1 "$work/command.out")
            else
                reason="$reason [$(tail -n 1 "$work/command.out")]"
            fi
        fi
        flake=0
        if [ $rc != 0 ] && [ "$(last_triple_fault)" != "$triple_before" ]; then
            reason="$reason [Xen: '$(last_triple_fault)' during this step: the TCG nested-SVM flake, not the tool]"
            flake=1
        fi
        # a guest that triple-faults while stock xl creates it is the flake
        # alone (no xenmig code has run): create_flake_retries more tries
        allowed=$retries_allowed
        if [ "$op" = create ] && [ $flake = 1 ]; then
            allowed=$((retries_allowed + create_flake_retries))
        fi
        if [ $rc = 0 ] || [ $attempt -ge "$allowed" ]; then
            break
        fi
        echo "LAB-MARK retry $name after: $reason"
        evidence "$name-attempt-$attempt"
        attempt=$((attempt + 1))
        destroy_guest "$guest"
        rm -f "$console_logs"/*.log
        if [ "$op" != create ] && ! recreate_guest; then
            reason="retry impossible: the guest could not be re-created"
            break
        fi
    done

    downtime=none
    if [ "$op" != create ] && [ $rc = 0 ]; then
        downtime=$(heartbeat_gap_ms "$seq_before" "$seq_end" "$boot_before")
        if [ "$downtime" = none ]; then
            echo "LAB-WARN $name: no heartbeat of boot $boot_before with $seq_before < seq <= $seq_end, so no downtime; console logs: $(heartbeat_census)"
        else
            echo "LAB-DETAIL $name: heartbeat gaps of 100 ms or more: $(heartbeat_gaps_over "$seq_before" "$seq_end" "$boot_before" 100)"
        fi
    fi
    common="retries=$attempt tool=$tool type=$type mem=$memory workload=$workload_name boot_before=$boot_before boot_after=$boot_after"
    if [ $rc = 0 ]; then
        guest_alive=1
        case "$op" in xenmig-s*|xenmig-again-*) xenmig_boot=$boot_after ;; esac
        result "$name" pass $common total_s=$op_total downtime_ms=$downtime $op_extra $sched_words reason=
    else
        guest_alive=0
        evidence "$name"
        result "$name" fail $common total_s=${op_total:-none} downtime_ms=none $sched_words reason="$reason"
    fi
}

run_guest() {  # TYPE MEM WORKLOAD OP...
    type=$1 memory=$2 workload=$3
    shift 3
    case "$workload" in
    idle) workload_name=idle extra="" ;;
    dirty:*:*)
        rate=$(echo "$workload" | cut -d: -f2) set_size=$(echo "$workload" | cut -d: -f3)
        workload_name=dirty$rate
        extra="lab.dirty_rate=$rate lab.working_set=$set_size" ;;
    *) result "$type-$memory-$workload" fail reason="bad workload '$workload' in the plan: use idle or dirty:RATE:SET"; return ;;
    esac
    case "$type" in
    pvh|hvm) retries_allowed=$hvm_retries ;;   # TCG's nested SVM triple-faults now and then
    pv) retries_allowed=0 ;;
    *) result "$type-$memory-$workload" fail reason="bad guest type '$type' in the plan: use pv, pvh or hvm"; return ;;
    esac
    # capture guests zero freed pages, so the saved image compresses well
    case " $* " in *" capture-save "*) extra="$extra init_on_free=1" ;; esac
    guest=lab-$type-$memory-$workload_name
    write_config "$guest" "$type" "$memory" "$extra"
    rm -f "$console_logs"/*.log
    echo "LAB-MARK guest $guest begin uptime=$(cut -d' ' -f1 /proc/uptime)"
    guest_alive=0 xenmig_boot=""
    for op in "$@"; do
        run_op "$op"
    done
    destroy_guest "$guest"
    echo "LAB-MARK guest $guest end uptime=$(cut -d' ' -f1 /proc/uptime)"
}

setup_net() {  # ADDRESS: only the emulated network inside QEMU, never the real host's
    net_address=$1
    if ip link set eth0 up && ip addr add "$1/24" dev eth0; then
        echo "LAB-MARK net eth0=$1"
    else
        echo "LAB-WARN could not configure eth0 with $1"
    fi
}

# peer_create: create $guest here for a two-host scenario and wait for its
# heartbeat; a PVH or HVM guest is re-created once (TCG triple-faults now
# and then).
# Sets peer_retries; returns 1 when the guest could not be created.
peer_create() {
    peer_retries=0
    while :; do
        if op_create && heartbeat_wait 150 any 60; then
            return 0
        fi
        case "$type" in pvh|hvm) ;; *) return 1 ;; esac
        [ $peer_retries = 0 ] || return 1
        echo "LAB-MARK retry $name-send after: xl create failed or the guest sent no heartbeat"
        evidence "$name-send-attempt-0"
        peer_retries=1
        destroy_guest "$guest"
        rm -f "$console_logs"/*.log
    done
}

# peer_domains: this host's domains that are $guest or a copy of it
# (NAME--incoming, NAME--migratedaway), each followed by a space
peer_domains() {
    timeout 20 xl list 2>/dev/null | awk -v want="$guest" \
        'NR > 1 && ($1 == want || index($1, want "--") == 1) { printf "%s ", $1 }'
}

# peer_wait_ready: wait (at most 600 s) until the receiver at $peer answers
# "ready" on port 8001
peer_wait_ready() {
    deadline=$(( $(cut -d. -f1 /proc/uptime) + 600 ))
    until timeout 5 socat -u "TCP:$peer:8001,connect-timeout=3" - 2>/dev/null | grep -q ready; do
        [ "$(cut -d. -f1 /proc/uptime)" -lt "$deadline" ] || return 1
        sleep 1
    done
}

# run_peer NAME ROLE PEER_ADDRESS TYPE MEM [TOOL [EXPECT]]: one side of a
# two-host migration (the other host's plan has the same line with the
# other ROLE).  TOOL: xl (stock xl migrate, the default) or xenmig-sN
# (xl-ext migrate --engine xenmig --streams N, its data streams over TCP to
# PEER_ADDRESS).  EXPECT: moves (default: the receiver runs the guest with
# the boot id the sender reported) or refused (the receiver's CPUID
# pre-flight turns the guest away before any page is sent: exit 4 on both
# sides, the guest continues on the sender, no copy is left on either host).
# The receiver answers "ready" on port 8001 once it listens on 8002, so the
# sender never spends the one-shot migration listener on a probe; a sender
# that cannot migrate still connects to 8002 once, so that the receiver
# stops waiting and the two hosts' plans stay in step.
run_peer() {
    name=$1 role=$2 peer=$3 type=$4 memory=$5 peer_tool=${6:-xl} expect=${7:-moves}
    workload_name=idle guest=lab-$type-$memory-idle peer_retries=0
    rm -f "$console_logs"/*.log
    tool=xl receive_command="xl migrate-receive"
    case "$peer_tool" in
    xl) ;;
    xenmig-s[0-9]*)
        tool=xl-ext streams=${peer_tool#xenmig-s}
        receive_command="xl-ext migrate-receive --xen --data-listen $net_address --timeout 60000" ;;
    *) result "$name-$role" fail retries=0 reason="bad peer tool '$peer_tool' in the plan: use xl or xenmig-sN"; return 0 ;;
    esac
    case "$expect" in
    moves|refused) ;;
    *) result "$name-$role" fail retries=0 reason="bad peer expectation '$expect' in the plan: use moves or refused"; return 0 ;;
    esac
    common="tool=$tool type=$type mem=$memory expect=$expect"
    problem=""
    if [ "$tool" = xl-ext ] && ! timeout 30 xl-ext version 2>/dev/null | grep -q '^migration backends:.* xen'; then
        problem="xl-ext has no Xen migration backend ('xl-ext version'): it would run stock xl"
    fi
    case "$role" in
    sender) peer_send ;;
    receiver) peer_receive ;;
    *) result "$name" fail reason="bad peer role '$role' in the plan: use sender or receiver" ;;
    esac
}

# peer_cluster: the cluster of both hosts, each host's dump collected
# through xl-ext's remote path with the transport `xl migrate -s ""` is
# given here (HOST the whole command): the peer's through socat to its
# port 8003 (peer_receive serves host-dump there), this host's through its
# own command.  Sets cluster_members and cluster_problem ("" when the
# cluster has both hosts and levels to host a, which lacks sse4-2).
peer_cluster() {
    rm -f "$work/two-host-cluster.json"
    timeout 180 xl-ext cpuid-policy cluster create "$work/two-host-cluster.json" -s "" \
        --ssh "socat - TCP:$peer:8003" \
        --ssh "xl-ext cpuid-policy host-dump --hostname $net_address" > "$work/cluster.out" 2>&1
    cluster_rc=$?
    sed 's/^/LAB-MARK cluster: /' "$work/cluster.out"
    cluster_members=$(xl-ext cpuid-policy cluster show "$work/two-host-cluster.json" 2>/dev/null |
        sed -n 's/^members: //p')
    cluster_names=$(xl-ext cpuid-policy decode --hex "$(xl-ext cpuid-policy cluster show \
        "$work/two-host-cluster.json" 2>/dev/null | sed -n 's/^baseline: //p')" 2>/dev/null |
        sed -n 's/^names: //p')
    cluster_problem=""
    if [ $cluster_rc != 0 ]; then
        cluster_problem="cluster create of both hosts through the remote path failed (rc=$cluster_rc): $(tail -n 1 "$work/cluster.out")"
    elif [ "$cluster_members" != 2 ]; then
        cluster_problem="the cluster of both hosts has ${cluster_members:-no} members, not 2"
    elif echo ",$cluster_names," | grep -q ',sse4-2,'; then
        cluster_problem="the cluster baseline has sse4-2, which host a lacks: a's dump did not count"
    fi
}

peer_send() {
    cluster_members=none cluster_problem=""
    if [ -z "$problem" ]; then
        write_config "$guest" "$type" "$memory" ""
        peer_create || problem="xl create failed or the guest sent no heartbeat (retries=$peer_retries): $(tail -n 1 "$work/command.out")"
    fi
    if ! peer_wait_ready; then
        evidence "$name-send"
        result "$name-send" fail retries=$peer_retries $common reason="${problem:+$problem; }the receiver $peer never answered on port 8001 within 600 s"
        destroy_guest "$guest"
        return 0
    fi
    if [ -n "$problem" ]; then
        # release the receiver: it sees the connection close at once
        timeout 10 socat -u /dev/null "TCP:$peer:8002,connect-timeout=3" 2>/dev/null
        evidence "$name-send"
        result "$name-send" fail retries=$peer_retries $common reason="$problem"
        destroy_guest "$guest"
        return 0
    fi
    [ "$expect" = refused ] && peer_cluster
    set -- $(heartbeat_newest)
    seq_before=${1:--1} boot_before=${2:-none}
    start=$(now)
    if [ "$tool" = xl ]; then
        timeout 600 xl migrate -s "" "$guest" "socat - TCP:$peer:8002" > "$work/command.out" 2>&1
    else
        timeout 600 xl-ext migrate --engine xenmig --streams "$streams" --timeout 60000 -s "" \
            --data-host "$peer" "$guest" "socat - TCP:$peer:8002" > "$work/command.out" 2>&1
    fi
    rc=$?
    total=$(elapsed "$start" "$(now)")
    tail -n 20 "$work/command.out" | sed 's/^/LAB-MARK sender: /'
    reason="" extra=""
    summary=$(grep -m 1 '^xl-ext migrate: result=' "$work/command.out" || true)
    if [ -n "$summary" ]; then
        extra=$(echo "$summary" | tr ' ' '\n' | grep -E '^(downtime|bytes|pages|rounds)=' |
            sed 's/^/xenmig_/' | tr '\n' ' ')
    fi
    if [ "$expect" = moves ]; then
        if [ $rc != 0 ]; then
            reason="$tool migrate to $peer failed (rc=$rc): $(tail -n 1 "$work/command.out")"
        elif [ -n "$(peer_domains)" ]; then
            reason="the guest is still here after migrating: $(peer_domains)"
        fi
        boot_after=moved
    else
        # refused: exit 4 with the missing features named, no page sent,
        # the guest continues here as the one domain of its name
        missing=$(sed -n 's/.*cannot run domain .*: missing features: //p' "$work/command.out" |
            head -n 1 | tr -d ' ')
        if [ $rc != 4 ]; then
            reason="expected the destination's CPUID pre-flight to refuse (exit 4), got rc=$rc: $(tail -n 1 "$work/command.out")"
        elif ! echo ",$missing," | grep -q -E ',(ssse3|sse4-1|sse4-2|popcnt),'; then
            reason="exit 4, but the message names none of ssse3, sse4-1, sse4-2, popcnt (missing: '${missing:-none}')"
        elif echo " $summary" | grep -q -E ' pages=[1-9]'; then
            reason="refused only after pages were sent: $summary"
        elif set -- $(heartbeat_newest) && ! heartbeat_wait $(( ${1:--1} + 150 )) "$boot_before" 60; then
            reason="the guest did not continue here: no new heartbeat of boot $boot_before within 60 s (newest: $(heartbeat_newest))"
        elif [ -n "$(heartbeat_other_boots "$boot_before")" ]; then
            reason="the guest rebooted: heartbeats of another boot id ($(heartbeat_other_boots "$boot_before"))"
        elif [ "$(peer_domains)" != "$guest " ]; then
            reason="expected exactly one domain '$guest' here, found: '$(peer_domains)'"
        fi
        set -- $(heartbeat_newest)
        boot_after=${2:-none}
        extra="$extra missing=${missing:-none} downtime_ms=$(heartbeat_gap_ms "$seq_before" "${1:--1}" "$boot_before") xenmig_cluster_members=$cluster_members"
        [ -z "$reason" ] && reason=$cluster_problem
    fi
    if [ -z "$reason" ]; then
        result "$name-send" pass retries=$peer_retries $common boot_before=$boot_before boot_after=$boot_after total_s=$total $extra reason=
    else
        evidence "$name-send"
        result "$name-send" fail retries=$peer_retries $common boot_before=$boot_before boot_after=$boot_after total_s=$total $extra reason="$reason"
    fi
    destroy_guest "$guest"
}

peer_receive() {
    # the receiver's own exit status, whatever socat makes of it
    printf '%s\necho $? > %s\n' "$receive_command" "$work/receive.rc" > "$work/receive.sh"
    rm -f "$work/receive.rc"
    timeout 900 socat "TCP-LISTEN:8002,bind=$net_address,reuseaddr" EXEC:"sh $work/receive.sh" \
        > "$work/command.out" 2>&1 &
    listener=$!
    # this host's dump for the peer's cluster (peer_cluster), on port 8003
    socat "TCP-LISTEN:8003,bind=$net_address,fork,reuseaddr" \
        SYSTEM:"xl-ext cpuid-policy host-dump --hostname $net_address 2>/dev/null" > /dev/null 2>&1 &
    dumps=$!
    tries=0
    until grep -q ":1F42 00000000:0000 0A" /proc/net/tcp 2>/dev/null &&   # 8002 and
          grep -q ":1F43 00000000:0000 0A" /proc/net/tcp 2>/dev/null; do  # 8003 listen
        tries=$((tries + 1))
        [ $tries -gt 100 ] && break
        sleep 0.1
    done
    socat "TCP-LISTEN:8001,bind=$net_address,fork,reuseaddr" SYSTEM:"echo ready" > /dev/null 2>&1 &
    ready=$!
    wait "$listener"
    socat_rc=$?
    kill "$ready" "$dumps" 2>/dev/null
    wait "$ready" "$dumps" 2>/dev/null
    rc=$(cat "$work/receive.rc" 2>/dev/null || echo "none(socat-rc=$socat_rc)")
    tail -n 20 "$work/command.out" | sed 's/^/LAB-MARK receiver: /'
    reason="" boot_after=none downtime=none
    if [ -n "$problem" ]; then
        reason=$problem
    elif [ "$expect" = moves ]; then
        if [ "$rc" != 0 ]; then
            reason="$tool migrate-receive failed (rc=$rc): $(tail -n 1 "$work/command.out")"
        elif ! heartbeat_wait 150 any 60; then
            reason="the migrated guest sent no heartbeats here within 60 s"
        elif [ "$(peer_domains)" != "$guest " ]; then
            reason="expected exactly one domain '$guest' here after the migration, found: '$(peer_domains)'"
        fi
        set -- $(heartbeat_newest)
        boot_after=${2:-none}
        # every heartbeat here came after the move: its largest gap is the downtime
        [ -z "$reason" ] && downtime=$(heartbeat_gap_ms -1 "${1:--1}" "$boot_after")
    else
        if [ "$rc" != 4 ]; then
            reason="expected this host's CPUID pre-flight to refuse the guest (exit 4), got rc=$rc: $(tail -n 1 "$work/command.out")"
        elif ! grep -q 'missing features:' "$work/command.out"; then
            reason="exit 4 without naming the missing features: $(tail -n 1 "$work/command.out")"
        elif [ -n "$(peer_domains)" ]; then
            reason="the refused guest left domains here: $(peer_domains)"
        fi
    fi
    if [ -z "$reason" ]; then
        result "$name-receive" pass retries=0 $common receiver_rc=$rc boot_after=$boot_after downtime_ms=$downtime reason=
    else
        evidence "$name-receive"
        result "$name-receive" fail retries=0 $common receiver_rc=$rc boot_after=$boot_after reason="$reason"
    fi
    destroy_guest "$guest"
}

# xl-ext create with a CPUID baseline on this real Xen host
# (tests/lab/scenarios/create-baseline.sh, TAP): one result for the set.
check_create_baseline() {
    name=xl-ext-create-baseline guest=lab-pv-128-create
    write_config "$guest" pv 128 ""
    export XENMIG_CPUID_LEVELS_DIR=/lab/data/levels XENMIG_GPU_LEVELS=/lab/data/gpu-levels \
        XENMIG_CPUID_CORPUS=/lab/data/cpus/corpus.txt
    start=$(now)
    timeout 300 sh /lab/create-baseline.sh "$work/$guest.cfg" > "$work/command.out" 2>&1
    rc=$?
    total=$(elapsed "$start" "$(now)")
    sed 's/^/LAB-MARK create-baseline: /' "$work/command.out"
    if [ $rc = 0 ] && grep -q '^ok ' "$work/command.out" && ! grep -q '^not ok' "$work/command.out" &&
       ! grep -q '# SKIP' "$work/command.out"; then
        result "$name" pass retries=0 tool=xl-ext type=pv mem=128 total_s=$total reason=
    else
        evidence "$name"
        result "$name" fail retries=0 tool=xl-ext type=pv mem=128 total_s=$total \
            reason="$(grep -m 1 '^not ok\|SKIP' "$work/command.out" || echo "rc=$rc")"
    fi
    destroy_guest "$guest"
}

# check_xen_test NAME: Xen's own test tools/tests/NAME, as that Xen's
# make install-tools put it in dom0 (/usr/lib/xen/tests/test-NAME; a test a
# patch of tests/lab/patches/xen-VERSION adds, e.g. ranged-logdirty):
# pass on exit 0, skip when it skipped or is not there, else fail with its
# first "Fail" line
check_xen_test() {
    name=xen-test-$1 test=/usr/lib/xen/tests/test-$1
    if [ ! -x "$test" ]; then
        result "$name" skip retries=0 tool=xen-test reason="$test is not in dom0 (this Xen was built without tools/tests/$1)"
        return 0
    fi
    start=$(now)
    timeout 300 "$test" > "$work/command.out" 2>&1
    rc=$?
    total=$(elapsed "$start" "$(now)")
    sed 's/^/LAB-MARK xen-test: /' "$work/command.out"
    if [ $rc = 0 ] && grep -q '^ *Skip:' "$work/command.out"; then
        result "$name" skip retries=0 tool=xen-test total_s=$total reason="$(grep -m 1 '^ *Skip:' "$work/command.out")"
    elif [ $rc = 0 ]; then
        result "$name" pass retries=0 tool=xen-test total_s=$total reason=
    else
        result "$name" fail retries=0 tool=xen-test total_s=$total \
            reason="$test exited $rc: $(grep -m 1 'Fail' "$work/command.out" || tail -n 1 "$work/command.out")"
    fi
}

check_xl_ext() {
    if timeout 60 xl-ext help > "$work/command.out" 2>&1 && grep -q version "$work/command.out"; then
        result dom0-xl-ext-runs pass retries=0 tool=xl-ext reason=
    else
        evidence dom0-xl-ext-runs
        result dom0-xl-ext-runs fail retries=0 tool=xl-ext reason="xl-ext help failed inside dom0: $(tail -n 1 "$work/command.out")"
    fi
}

if [ ! -r "$plan" ]; then
    result plan fail reason="no plan at '$plan': the initramfs was built without one"
    exit 1
fi
# the plan is read on fd 3 so that no command of a scenario can eat it
while read -r kind rest <&3; do
    case "$kind" in
    ''|'#'*) ;;
    option)
        case "$rest" in
        xenmig_migrate=*) xenmig_migrate=${rest#xenmig_migrate=} ;;
        tsc_mode=*) tsc_mode=${rest#tsc_mode=} ;;
        link_cap=*)
            link_cap=${rest#link_cap=}
            case "$link_cap" in
            ''|*[!0-9]*) echo "LAB-WARN option link_cap='$link_cap' is not bytes/s; no cap"; link_cap=0 ;;
            esac ;;
        disk_mib=*)
            disk_mib=${rest#disk_mib=}
            case "$disk_mib" in
            ''|*[!0-9]*) echo "LAB-WARN option disk_mib='$disk_mib' is not MiB; no disk"; disk_mib=0 ;;
            esac ;;
        sched_check=*)
            case "${rest#sched_check=}" in
            0|1) sched_check=${rest#sched_check=} ;;
            *) echo "LAB-WARN option sched_check='${rest#sched_check=}' is not 0 or 1; keeping $sched_check" ;;
            esac ;;
        retries=*)
            case "${rest#retries=}" in
            ''|*[!0-9]*) echo "LAB-WARN option retries='${rest#retries=}' is not a count; keeping $hvm_retries" ;;
            *) hvm_retries=${rest#retries=} ;;
            esac ;;
        *) echo "LAB-WARN unknown option '$rest' in the plan" ;;
        esac ;;
    check-xl-ext) check_xl_ext ;;
    check-create-baseline) check_create_baseline ;;
    xen-test) check_xen_test $rest ;;
    net) setup_net $rest ;;
    peer) run_peer $rest ;;
    guest) run_guest $rest ;;
    *) result "plan-$kind" fail reason="unknown plan line '$kind $rest': expected guest, option or check-xl-ext" ;;
    esac
done 3< "$plan"
echo "LAB-MARK failures=$failures"
[ $failures = 0 ]

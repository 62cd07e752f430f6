# two-host.sh: sourced by scripts/lab for --two-host (bash; uses its
# boot_host, collect_disk, log, $work, $plan, $hosts, $results_dir).
#
# Boots two emulated Xen hosts with different QEMU CPU models (so their
# CPUID differs: b has ssse3, sse4.1, sse4.2 and popcnt, a has not), joined
# by a QEMU socket network on 127.0.0.1 only. Inside, eth0 of host a is
# 192.0.2.1/24 and of host b 192.0.2.2/24 (TEST-NET-1, a documentation
# range; nothing is configured on this machine's interfaces). The two
# hosts run their plans side by side, in step (scenarios.sh run_peer):
#   two-host-pv-128-idle-migrate        stock xl migrate of a PV guest a -> b
#   two-host-pvh-128-idle-xenmig-preflight-refused
#                                       xl-ext migrate of a PVH guest created
#                                       on b (so it uses b's extra features)
#                                       to a: a's CPUID pre-flight refuses it
#                                       before any page is sent (exit 4, the
#                                       missing features named), it goes on
#                                       running on b, no copy anywhere
#   two-host-pvh-128-idle-xenmig-s2     xl-ext migrate --streams 2 of a PVH
#                                       guest a -> b: b runs it, same boot id
# Each combined result also requires that the two hosts' CPUID featuresets
# differ (so the refusal is the pre-flight's doing, not a broken network).
#
# Must never bind anything but 127.0.0.1 on this machine, and must leave no
# QEMU behind (scripts/lab's cleanup kills every pid file it registered).

two_host_cpu_a=qemu64,+npt
two_host_cpu_b=qemu64,+npt,+ssse3,+sse4.1,+sse4.2,+popcnt
# NAME SENDER_HOST TYPE MEM TOOL EXPECT, in the order both hosts run them
two_host_scenarios="two-host-pv-128-idle-migrate a pv 128 xl moves
two-host-pvh-128-idle-xenmig-preflight-refused b pvh 128 xenmig-s2 refused
two-host-pvh-128-idle-xenmig-s2 a pvh 128 xenmig-s2 moves"

two_host_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "net 192.0.2.1" > "$work/plan-a"
echo "net 192.0.2.2" > "$work/plan-b"
echo "$two_host_scenarios" | while read -r name sender type memory tool expect; do
    if [ "$sender" = a ]; then
        echo "peer $name sender 192.0.2.2 $type $memory $tool $expect" >> "$work/plan-a"
        echo "peer $name receiver 192.0.2.1 $type $memory $tool $expect" >> "$work/plan-b"
    else
        echo "peer $name receiver 192.0.2.2 $type $memory $tool $expect" >> "$work/plan-a"
        echo "peer $name sender 192.0.2.1 $type $memory $tool $expect" >> "$work/plan-b"
    fi
done

phase_started=$(date +%s.%N)
boot_host a "$two_host_cpu_a" "$work/plan-a" \
    -netdev "socket,id=lab,listen=127.0.0.1:$two_host_port" \
    -device virtio-net-pci,netdev=lab,mac=52:54:00:0a:00:01
two_host_pid_a=$boot_pid
# host b connects to a's socket: wait (bounded) until QEMU a listens
listening=0
for _ in $(seq 1 100); do
    if grep -q ":$(printf '%04X' "$two_host_port") 00000000:0000 0A" /proc/net/tcp; then
        listening=1
        break
    fi
    sleep 0.2
done
if [ $listening = 1 ]; then
    boot_host b "$two_host_cpu_b" "$work/plan-b" \
        -netdev "socket,id=lab,connect=127.0.0.1:$two_host_port" \
        -device virtio-net-pci,netdev=lab,mac=52:54:00:0a:00:02
    two_host_pid_b=$boot_pid
    log "two-host mode: hosts a ($two_host_cpu_a) and b ($two_host_cpu_b) joined on 127.0.0.1:$two_host_port"
    wait "$two_host_pid_b" || true
else
    log "two-host mode: QEMU a never listened on 127.0.0.1:$two_host_port"
fi
wait "$two_host_pid_a" || true
two_host_s=$(echo "$(date +%s.%N) $phase_started" | awk '{ printf "%.1f", $1 - $2 }')
log "two-host mode took $two_host_s s"
collect_disk a
[ $listening = 1 ] && collect_disk b

# Combine both sides into one scenario result per scenario for report.py.
echo "$two_host_scenarios" > "$work/two-host-scenarios"
python3 - "$results_dir/serial-a.log" "$results_dir/serial-b.log" "$work/two-host-scenarios" \
    > "$results_dir/serial-two-host.log" <<'EOF'
import sys

def read(path):
    try:
        with open(path, errors="replace") as log:
            lines = log.read().splitlines()
    except OSError:
        return [], []
    return [line[line.find("LAB-"):] for line in lines if "LAB-" in line], lines

def result(lab, name):
    for line in lab:
        if line.startswith("LAB-RESULT name=%s " % name):
            head, _, reason = line[len("LAB-RESULT "):].partition(" reason=")
            fields = dict(word.split("=", 1) for word in head.split() if "=" in word)
            fields["reason"] = reason
            return fields
    return None

def evidence(lines, name):
    """The host's own LAB-LOG block of NAME, without the LAB-LOG lines."""
    block, inside = [], False
    for line in lines:
        if "LAB-LOG-BEGIN %s" % name in line and line.rstrip().endswith(name):
            inside = True
        elif inside and "LAB-LOG-END" in line:
            inside = False
        elif inside:
            block.append(line)
    return block

hosts = {"a": read(sys.argv[1]), "b": read(sys.argv[2])}
cpuid = {label: [line for line in lab if line.startswith("LAB-CPUID Host:")]
         for label, (lab, _) in hosts.items()}
with open(sys.argv[3]) as listing:
    scenarios = [line.split() for line in listing if line.strip()]
for name, sender, guest_type, memory, tool, expect in scenarios:
    receiver = "b" if sender == "a" else "a"
    send = result(hosts[sender][0], name + "-send")
    receive = result(hosts[receiver][0], name + "-receive")
    problems = []
    for label, side, fields in ((sender, "send", send), (receiver, "receive", receive)):
        if not fields:
            problems.append("host %s reported no %s result" % (label, side))
        elif fields.get("status") != "pass":
            problems.append("host %s: %s" % (label, fields.get("reason", "")))
    if send and receive and expect == "moves" and send.get("boot_before") != receive.get("boot_after"):
        problems.append("boot id changed: %s on %s, %s on %s" % (
            send.get("boot_before"), sender, receive.get("boot_after"), receiver))
    if send and expect == "refused" and send.get("boot_before") != send.get("boot_after"):
        problems.append("boot id changed on %s: %s before, %s after" % (
            sender, send.get("boot_before"), send.get("boot_after")))
    if not cpuid["a"] or not cpuid["b"]:
        problems.append("a host did not report its CPUID featureset")
    elif cpuid["a"] == cpuid["b"]:
        problems.append("the two hosts' CPUID featuresets are equal: the CPU models did not differ")
    common = "tool=%s type=%s mem=%s workload=idle transport=tcp-two-host direction=%s-to-%s expect=%s" % (
        "xl" if tool == "xl" else "xl-ext", guest_type, memory, sender, receiver, expect)
    if problems:
        # quoted host lines lose their LAB- markers: report.py must not
        # read a quoted LAB-LOG-END or LAB-RESULT as one of this log's own
        print("LAB-LOG-BEGIN %s" % name)
        for label, side in ((sender, "send"), (receiver, "receive")):
            block = evidence(hosts[label][1], "%s-%s" % (name, side))
            if block:
                print("--- host %s, %s side: its evidence" % (label, side))
                print("\n".join(block).replace("LAB-", "LAB_"))
        for label in ("a", "b"):
            print("--- serial console of host %s (last 40 lines)" % label)
            print("\n".join(hosts[label][1][-40:]).replace("LAB-", "LAB_"))
        print("LAB-LOG-END %s" % name)
        print("LAB-RESULT name=%s status=fail retries=%s %s reason=%s" % (
            name, (send or {}).get("retries", 0), common, "; ".join(problems)))
        continue
    extra = "".join("%s=%s " % (key, send[key]) for key in sorted(send)
                    if key.startswith("xenmig_") or key == "missing")
    if expect == "moves":
        downtime = receive.get("downtime_ms")
    else:
        downtime = send.get("downtime_ms")
    print("LAB-RESULT name=%s status=pass retries=%s %s boot_before=%s boot_after=%s total_s=%s "
          "downtime_ms=%s %sreason=" % (name, send.get("retries", 0), common, send["boot_before"],
                                         receive["boot_after"] if expect == "moves" else send["boot_after"],
                                         send.get("total_s"), downtime, extra))
for label in ("a", "b"):
    for line in cpuid[label]:
        print("LAB-MARK host %s %s" % (label, line))
EOF
echo "$two_host_scenarios" | while read -r name _; do
    echo "peer $name" >> "$plan"
done
hosts="$hosts two-host=$results_dir/serial-two-host.log"

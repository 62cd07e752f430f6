# two-host.sh: sourced by scripts/lab for --two-host (bash; uses its
# boot_host, collect_disk, log, $work, $plan, $hosts, $results_dir).
#
# Boots two emulated Xen hosts with different QEMU CPU models (so their
# CPUID differs), joined by a QEMU socket network on 127.0.0.1 only. Inside,
# eth0 of host a is 192.0.2.1/24 and of host b 192.0.2.2/24 (TEST-NET-1, a
# documentation range; nothing is configured on this machine's interfaces).
# Host a creates an idle PV guest and migrates it with stock xl to host b;
# the scenario passes when b runs it with the boot id a reported, and the
# two hosts' CPUID featuresets differ. This is where the CPUID pre-flight of
# xl-ext migrate will be proven (its scenarios join here later).
#
# Must never bind anything but 127.0.0.1 on this machine, and must leave no
# QEMU behind (scripts/lab's cleanup kills every pid file it registered).

two_host_cpu_a=qemu64,+npt
two_host_cpu_b=qemu64,+npt,+ssse3,+sse4.1,+sse4.2,+popcnt
two_host_name=two-host-pv-128-idle-migrate

two_host_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'net 192.0.2.1\npeer %s sender 192.0.2.2 pv 128\n' "$two_host_name" > "$work/plan-a"
printf 'net 192.0.2.2\npeer %s receiver 192.0.2.1 pv 128\n' "$two_host_name" > "$work/plan-b"

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

# Combine both sides into one scenario result for report.py.
python3 - "$results_dir/serial-a.log" "$results_dir/serial-b.log" "$two_host_name" \
    > "$work/serial-two-host.log" <<'EOF'
import sys

def lab_lines(path):
    try:
        with open(path, errors="replace") as log:
            lines = log.read().splitlines()
    except OSError:
        return [], []
    lab = [line[line.find("LAB-"):] for line in lines if "LAB-" in line]
    return lab, lines

def result(lab, name):
    for line in lab:
        if line.startswith("LAB-RESULT name=%s " % name):
            head, _, reason = line[len("LAB-RESULT "):].partition(" reason=")
            fields = dict(word.split("=", 1) for word in head.split() if "=" in word)
            fields["reason"] = reason
            return fields
    return None

(lab_a, lines_a), (lab_b, lines_b) = lab_lines(sys.argv[1]), lab_lines(sys.argv[2])
name = sys.argv[3]
send, receive = result(lab_a, name + "-send"), result(lab_b, name + "-receive")
cpuid_a = [line for line in lab_a if line.startswith("LAB-CPUID Host:")]
cpuid_b = [line for line in lab_b if line.startswith("LAB-CPUID Host:")]
problems = []
if not send:
    problems.append("host a reported no send result")
elif send.get("status") != "pass":
    problems.append("host a: " + send.get("reason", ""))
if not receive:
    problems.append("host b reported no receive result")
elif receive.get("status") != "pass":
    problems.append("host b: " + receive.get("reason", ""))
if send and receive and send.get("boot_before") != receive.get("boot_after"):
    problems.append("boot id changed: %s on a, %s on b" % (send.get("boot_before"), receive.get("boot_after")))
if not cpuid_a or not cpuid_b:
    problems.append("a host did not report its CPUID featureset")
elif cpuid_a == cpuid_b:
    problems.append("the two hosts' CPUID featuresets are equal: the CPU models did not differ")
if problems:
    print("LAB-LOG-BEGIN %s" % name)
    for label, lines in (("a", lines_a), ("b", lines_b)):
        print("--- serial console of host %s (last 40 lines)" % label)
        print("\n".join(lines[-40:]))
    print("LAB-LOG-END %s" % name)
    print("LAB-RESULT name=%s status=fail retries=0 tool=xl type=pv mem=128 reason=%s" % (name, "; ".join(problems)))
else:
    print("LAB-RESULT name=%s status=pass retries=0 tool=xl type=pv mem=128 workload=idle transport=tcp-two-host "
          "boot_before=%s boot_after=%s total_s=%s downtime_ms=%s reason=" % (
              name, send["boot_before"], receive["boot_after"], send.get("total_s"), receive.get("downtime_ms")))
for label, lines in (("a", cpuid_a), ("b", cpuid_b)):
    for line in lines:
        print("LAB-MARK host %s %s" % (label, line))
EOF
echo "peer $two_host_name" >> "$plan"
hosts="$hosts two-host=$work/serial-two-host.log"

# two-host.sh: sourced by scripts/lab for --two-host (bash; uses its
# boot_host, collect_disk, log, $work, $plan, $hosts, $results_dir, and
# $peer_image, $peer_artefacts, $peer_xen, $xen_version).
#
# Boots two emulated Xen hosts with different QEMU CPU models (so their
# CPUID differs: b has ssse3, sse4.1, sse4.2 and popcnt, a has not), joined
# by a QEMU socket network on 127.0.0.1 only. Inside, eth0 of host a is
# 192.0.2.1/24 and of host b 192.0.2.2/24 (TEST-NET-1, a documentation
# range; nothing is configured on this machine's interfaces). The two
# hosts run their plans side by side, in step (scenarios.sh run_peer):
#   two-host-pv-128-idle-migrate        stock xl migrate of a PV guest a -> b
#   two-host-pvh-128-idle-xenmig-preflight-refused
#                                       first b builds the cluster of both
#                                       hosts through xl-ext's remote path
#                                       (cluster create -s "" --ssh, the
#                                       transport xl migrate -s "" is given
#                                       below: a's dump through socat to a's
#                                       port 8003), which must level to a
#                                       (xenmig_cluster_members=2); then
#                                       xl-ext migrate of a PVH guest created
#                                       on b (so it uses b's extra features)
#                                       to a: a's CPUID pre-flight refuses it
#                                       before any page is sent (exit 4, the
#                                       missing features named), it goes on
#                                       running on b, no copy anywhere
#   two-host-pvh-128-idle-xenmig-s2     xl-ext migrate --streams 2 of a PVH
#                                       guest a -> b: b runs it, same boot id
#   two-host-pvh-128-idle-migrate       (only when b boots another Xen than
#                                       a) stock xl migrate of a PVH guest
#                                       a -> b, for comparison
# Each combined result also requires that the two hosts' CPUID featuresets
# differ (so the refusal is the pre-flight's doing, not a broken network).
# Host a boots --xen; host b boots --peer-xen (default the same), so with
# --xen 4.17 --peer-xen 4.20 the a -> b migrations go from 4.17 to 4.20
# and the refused one from 4.20 to 4.17.
#
# Must never bind anything but 127.0.0.1 on this machine, and must leave no
# QEMU behind (scripts/lab's cleanup kills every pid file it registered).

two_host_cpu_a=qemu64,+npt
two_host_cpu_b=qemu64,+npt,+ssse3,+sse4.1,+sse4.2,+popcnt
# NAME SENDER_HOST TYPE MEM TOOL EXPECT, in the order both hosts run them
two_host_scenarios="two-host-pv-128-idle-migrate a pv 128 xl moves
two-host-pvh-128-idle-xenmig-preflight-refused b pvh 128 xenmig-s2 refused
two-host-pvh-128-idle-xenmig-s2 a pvh 128 xenmig-s2 moves"
# between two Xen versions, stock xl moves the same PVH guest too: what
# xl-ext's result is compared with
if [ "$peer_xen" != "$xen_version" ]; then
    two_host_scenarios="$two_host_scenarios
two-host-pvh-128-idle-migrate a pvh 128 xl moves"
fi

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
    host_image=$peer_image host_artefacts=$peer_artefacts \
        boot_host b "$two_host_cpu_b" "$work/plan-b" \
        -netdev "socket,id=lab,connect=127.0.0.1:$two_host_port" \
        -device virtio-net-pci,netdev=lab,mac=52:54:00:0a:00:02
    two_host_pid_b=$boot_pid
    log "two-host mode: hosts a ($two_host_cpu_a, Xen $xen_version) and b ($two_host_cpu_b, Xen $peer_xen) joined on 127.0.0.1:$two_host_port"
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
python3 "$lab_dir/two-host-combine.py" "$results_dir/serial-a.log" "$results_dir/serial-b.log" \
    "$work/two-host-scenarios" > "$results_dir/serial-two-host.log"
echo "$two_host_scenarios" | while read -r name _; do
    echo "peer $name" >> "$plan"
done
hosts="$hosts two-host=$results_dir/serial-two-host.log"

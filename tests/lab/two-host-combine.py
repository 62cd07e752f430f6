#!/usr/bin/env python3
"""two-host-combine.py SERIAL_A SERIAL_B SCENARIOS: the two-host lab's
scenario results, one LAB-RESULT line per scenario on stdout (a serial-log
look-alike for report.py).

SCENARIOS has one line per scenario: NAME SENDER_HOST TYPE MEM TOOL EXPECT
(SENDER_HOST a or b, EXPECT moves or refused).  Each host printed its half
(NAME-send, NAME-receive; tests/lab/scenarios.sh run_peer); a scenario
passes only when both halves passed, the boot id matches (moves: the
receiver runs the boot the sender had; refused: the sender still runs the
boot it had) and the two hosts' CPUID Host featuresets differ.

Must never count a scenario as passed that a host did not report as
passed, and must never let a quoted host line pass for one of its own
LAB- lines (report.py reads them)."""
import sys

CONSOLE_TAIL_LINES = 40


def read(path):
    """(the LAB- lines of a serial log from their marker on, all its lines)"""
    try:
        with open(path, errors="replace") as log:
            lines = log.read().splitlines()
    except OSError:
        return [], []
    return [line[line.find("LAB-"):] for line in lines if "LAB-" in line], lines


def result(lab, name):
    """NAME's LAB-RESULT fields in LAB lines, reason= free text; None if absent."""
    for line in lab:
        if line.startswith("LAB-RESULT name=%s " % name):
            head, _, reason = line[len("LAB-RESULT "):].partition(" reason=")
            fields = dict(word.split("=", 1) for word in head.split() if "=" in word)
            fields["reason"] = reason
            return fields
    return None


def evidence(lines, name):
    """The host's own LAB-LOG block of NAME, without its LAB-LOG lines."""
    block, inside = [], False
    for line in lines:
        if "LAB-LOG-BEGIN %s" % name in line and line.rstrip().endswith(" " + name):
            inside = True
        elif inside and "LAB-LOG-END" in line:
            inside = False
        elif inside:
            block.append(line)
    return block


def quoted(lines):
    """Host lines as evidence: their LAB- markers defused for report.py."""
    return "\n".join(lines).replace("LAB-", "LAB_")


def combine(hosts, cpuid, name, sender, guest_type, memory, tool, expect):
    """Prints NAME's evidence (on failure) and its one LAB-RESULT line."""
    receiver = "b" if sender == "a" else "a"
    send = result(hosts[sender][0], name + "-send")
    receive = result(hosts[receiver][0], name + "-receive")
    problems = []
    if expect not in ("moves", "refused"):
        problems.append("unknown expectation '%s' (moves or refused)" % expect)
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
    common = ("tool=%s type=%s mem=%s workload=idle transport=tcp-two-host direction=%s-to-%s "
              "expect=%s" % ("xl" if tool == "xl" else "xl-ext", guest_type, memory, sender,
                             receiver, expect))
    if problems:
        print("LAB-LOG-BEGIN %s" % name)
        for label, side in ((sender, "send"), (receiver, "receive")):
            block = evidence(hosts[label][1], "%s-%s" % (name, side))
            if block:
                print("--- host %s, %s side: its evidence" % (label, side))
                print(quoted(block))
        for label in ("a", "b"):
            print("--- serial console of host %s (last %d lines)" % (label, CONSOLE_TAIL_LINES))
            print(quoted(hosts[label][1][-CONSOLE_TAIL_LINES:]))
        print("LAB-LOG-END %s" % name)
        print("LAB-RESULT name=%s status=fail retries=%s %s reason=%s" % (
            name, (send or {}).get("retries", 0), common, "; ".join(problems)))
        return
    extra = "".join("%s=%s " % (key, send[key]) for key in sorted(send)
                    if key.startswith("xenmig_") or key == "missing")
    # moves: the largest heartbeat gap on the receiver; refused: on the
    # sender during the attempt (the guest was never paused)
    downtime = receive.get("downtime_ms") if expect == "moves" else send.get("downtime_ms")
    boot_after = receive["boot_after"] if expect == "moves" else send["boot_after"]
    print("LAB-RESULT name=%s status=pass retries=%s %s boot_before=%s boot_after=%s total_s=%s "
          "downtime_ms=%s %sreason=" % (name, send.get("retries", 0), common, send["boot_before"],
                                         boot_after, send.get("total_s"), downtime, extra))


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: two-host-combine.py SERIAL_A SERIAL_B SCENARIOS")
    hosts = {"a": read(sys.argv[1]), "b": read(sys.argv[2])}
    cpuid = {label: [line for line in lab if line.startswith("LAB-CPUID Host:")]
             for label, (lab, _) in hosts.items()}
    with open(sys.argv[3]) as listing:
        for number, line in enumerate(listing, 1):
            words = line.split()
            if not words:
                continue
            if len(words) != 6 or words[1] not in ("a", "b"):
                name = words[0]
                print("LAB-RESULT name=%s status=fail retries=0 reason=scenario line %d '%s': expected "
                      "NAME SENDER_HOST(a|b) TYPE MEM TOOL EXPECT" % (name, number, line.strip()))
                continue
            combine(hosts, cpuid, *words)
    for label in ("a", "b"):
        for line in cpuid[label]:
            print("LAB-MARK host %s %s" % (label, line))


if __name__ == "__main__":
    main()

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
passed (a half whose LAB-RESULT line is malformed failed; the reason quotes
it), and must never let a quoted host line pass for one of its own LAB-
lines (report.py reads them).  Host lines are read by
tests/lab/labresult.py."""
import sys

import labresult

CONSOLE_TAIL_LINES = 40


def read(path):
    """A host's serial log as labresult.LogLine ([] when it cannot be read)."""
    try:
        return labresult.read_log(path)
    except OSError:
        return []


def result(log, name):
    """NAME's first LAB-RESULT in LOG as a labresult.Result (a malformed line
    of NAME: a failed one whose reason quotes it); None if absent."""
    for line in log:
        if line.evidence is not None or not (line.lab or "").startswith("LAB-RESULT "):
            continue
        try:
            record = labresult.parse_result(line.lab)
        except labresult.LabLineError as error:
            if error.name == name:
                return labresult.make_result(name, "fail", "line %d: %s" % (line.number, error))
            continue
        if record.name == name:
            return record
    return None


def evidence(log, name):
    """The host's own LAB-LOG block of NAME, without its LAB-LOG lines."""
    return [line.raw for line in log if line.evidence == name]


def quoted(lines):
    """Host lines as evidence: their LAB- markers defused for report.py."""
    return "\n".join(lines).replace("LAB-", "LAB_")


def combine(hosts, cpuid, name, sender, guest_type, memory, tool, expect):
    """Prints NAME's evidence (on failure) and its one LAB-RESULT line."""
    receiver = "b" if sender == "a" else "a"
    send = result(hosts[sender], name + "-send")
    receive = result(hosts[receiver], name + "-receive")
    problems = []
    if expect not in ("moves", "refused"):
        problems.append("unknown expectation '%s' (moves or refused)" % expect)
    for label, side, record in ((sender, "send", send), (receiver, "receive", receive)):
        if not record:
            problems.append("host %s reported no %s result" % (label, side))
        elif record.status != "pass":
            problems.append("host %s: %s" % (label, record.reason))
    if send and receive and expect == "moves" and send.raw("boot_before") != receive.raw("boot_after"):
        problems.append("boot id changed: %s on %s, %s on %s" % (
            send.raw("boot_before"), sender, receive.raw("boot_after"), receiver))
    if send and expect == "refused" and send.raw("boot_before") != send.raw("boot_after"):
        problems.append("boot id changed on %s: %s before, %s after" % (
            sender, send.raw("boot_before"), send.raw("boot_after")))
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
            block = evidence(hosts[label], "%s-%s" % (name, side))
            if block:
                print("--- host %s, %s side: its evidence" % (label, side))
                print(quoted(block))
        for label in ("a", "b"):
            print("--- serial console of host %s (last %d lines)" % (label, CONSOLE_TAIL_LINES))
            print(quoted([line.raw for line in hosts[label][-CONSOLE_TAIL_LINES:]]))
        print("LAB-LOG-END %s" % name)
        print("LAB-RESULT name=%s status=fail retries=%s %s reason=%s" % (
            name, send.raw("retries", 0) if send else 0, common, "; ".join(problems)))
        return
    extra = "".join("%s=%s " % (key, send.fields[key]) for key in sorted(send.fields)
                    if key.startswith("xenmig_") or key == "missing")
    # moves: the largest heartbeat gap on the receiver; refused: on the
    # sender during the attempt (the guest was never paused)
    downtime = receive.raw("downtime_ms") if expect == "moves" else send.raw("downtime_ms")
    boot_after = receive.raw("boot_after") if expect == "moves" else send.raw("boot_after")
    print("LAB-RESULT name=%s status=pass retries=%s %s boot_before=%s boot_after=%s total_s=%s "
          "downtime_ms=%s %sreason=" % (name, send.raw("retries", 0), common,
                                         send.raw("boot_before"), boot_after, send.raw("total_s"),
                                         downtime, extra))


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: two-host-combine.py SERIAL_A SERIAL_B SCENARIOS")
    hosts = {"a": read(sys.argv[1]), "b": read(sys.argv[2])}
    cpuid = {label: [line.lab for line in log if line.evidence is None
                     and (line.lab or "").startswith("LAB-CPUID Host:")]
             for label, log in hosts.items()}
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

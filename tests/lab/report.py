#!/usr/bin/env python3
"""report.py --plan PLAN --results DIR HOST=SERIAL_LOG [HOST=SERIAL_LOG...]

Turns the serial console logs of one lab run into its results:
  stdout                TAP: one test per scenario the plan asked for
  DIR/junit.xml         the same as JUnit XML (failures carry the console)
  DIR/timings.json      boot time, host facts and every scenario's numbers
  DIR/baseline-xl.json  the stock `xl` save/restore and migration numbers of
                        this boot: what the project's own migration is
                        compared against
Exit status: 0 when every scenario passed or was skipped, 1 otherwise.

Scenario results are the LAB-RESULT lines that tests/lab/scenarios.sh
prints (read by tests/lab/labresult.py).  A scenario the plan asked for
that has no LAB-RESULT line (QEMU timed out, dom0 crashed) is a failure
carrying the console tail, and so is one whose line is malformed (the
reason quotes it): this program must never count a scenario as passed that
did not report a pass.
Of several logs, a later one's result of a scenario replaces an earlier's
(scripts/lab boots again after a hang); each hang is a TAP comment.

report.py --plan PLAN --results DIR --remaining-plan FILE HOST=SERIAL_LOG...
writes the plan lines whose scenarios did not all report (exit 0), or exits
1 when nothing remains."""
import argparse
import json
import re
import sys
import xml.etree.ElementTree as ElementTree

import labresult

CONSOLE_TAIL_LINES = 60
NO_RESULT = ("no result: the scenario did not finish (QEMU stopped, timed out or dom0 "
             "crashed); see the console log")


def line_scenarios(words):
    """Scenario names one plan line asks for, in order (mirrors scenarios.sh)."""
    if not words or words[0].startswith("#"):
        return []
    if words[0] == "check-xl-ext":
        return ["dom0-xl-ext-runs"]
    if words[0] == "check-create-baseline":
        return ["xl-ext-create-baseline"]
    if words[0] == "xen-test" and len(words) >= 2:
        return ["xen-test-" + words[1]]
    if words[0] == "guest" and len(words) >= 5:
        guest_type, memory, workload = words[1], words[2], words[3]
        if workload.startswith("dirty:"):
            workload = "dirty" + workload.split(":")[1]
        return ["%s-%s-%s-%s" % (guest_type, memory, workload, operation)
                for operation in words[4:]]
    if words[0] == "peer" and len(words) >= 2:
        return [words[1]]
    return []


def expected_scenarios(plan_path):
    """Scenario names the plan asks for, in order."""
    names = []
    with open(plan_path) as plan:
        for line in plan:
            names += line_scenarios(line.split())
    return names


def remaining_plan(plan_path, results):
    """The plan without the lines whose scenarios all reported (a guest's
    line runs again whole: its numbers then come from one boot); options
    keep their places.  None when every scenario reported."""
    kept, missing = [], False
    with open(plan_path) as plan:
        for line in plan:
            names = line_scenarios(line.split())
            if names and all(name in results for name in names):
                continue
            missing = missing or bool(names)
            kept.append(line if line.endswith("\n") else line + "\n")
    return "".join(kept) if missing else None


def unreadable(host, path, line, error):
    """The failed Result standing for a malformed LAB-RESULT line: of the
    scenario it names, else of one named after where it is."""
    name = error.name or "malformed-result-%s-line-%d" % (host, line.number)
    return labresult.make_result(name, "fail", "%s line %d: %s" % (path, line.number, error))


def read_log(host, path):
    """Returns (results, evidence, marks, lines) of one serial log:
    results as Result, in the log's order."""
    results, evidence, marks = [], {}, {}
    try:
        log = labresult.read_log(path)
    except OSError as error:
        log = list(labresult.iter_log(["[    0.00] (report.py: cannot read %s: %s)"
                                       % (path, error)]))
    for line in log:
        lab = line.lab
        if line.evidence is not None:
            evidence.setdefault(line.evidence, []).append(line.text)
        elif not lab:
            continue
        elif lab.startswith("LAB-RESULT "):
            try:
                results.append(labresult.parse_result(lab))
            except labresult.LabLineError as error:
                results.append(unreadable(host, path, line, error))
        elif lab.startswith("LAB-MARK dom0-ready") and line.stamp is not None:
            marks["dom0_ready_s"] = line.stamp
        elif lab.startswith("LAB-HOST "):
            marks["xen"] = dict(word.split("=", 1) for word in lab[9:].split() if "=" in word)
        elif lab.startswith("LAB-DONE") and line.stamp is not None:
            marks["done_s"] = line.stamp
        elif lab.startswith("LAB-HANG"):
            marks["hang"] = lab
    if log and log[-1].stamp is not None:
        marks["last_line_s"] = log[-1].stamp
    return results, evidence, marks, [line.raw for line in log]


def tap_escape(text):
    return text.replace("#", "\\#").replace("\n", " ")


def failure_console(name, host, evidence, console_tails):
    """What a failure carries: NAME's evidence, then the console tail of its
    HOST (of every host when it is "?")."""
    console = evidence.get(name, []) + ["--- serial console of %s (last %d lines)"
                                        % (host, CONSOLE_TAIL_LINES)]
    for tail_host, tail in console_tails.items():
        if host in ("?", tail_host):
            console += tail
    return console


def timings_entry(record, status, host, reason):
    """timings.json's entry of one scenario (its status and reason as reported)."""
    entry = {"name": record.name, "status": status, "host": host, "retries": record.retries,
             "total_s": record.total_s, "downtime_ms": record.downtime_ms,
             "reason": reason or None}
    for key in ("tool", "type", "mem", "workload", "transport", "save_s", "restore_s",
                "save_bytes", "boot_before", "boot_after"):
        if record.raw(key) is not None:
            value = record.value(key)
            if key in ("mem", "save_bytes"):
                value = value or 0
            entry[key] = value
    return entry


def stock_ratios(name, record, results):
    """For an xl-ext migration: its total time and downtime over those of
    the stock migrations (migrate-pipe, migrate-tcp) of the same guest in
    the same boot, as text ("x stock pipe: total 0.84, downtime 0.58"), or
    "" when there is no such pair."""
    match = re.match(r"^(.*)-xenmig-(again-)?s[0-9]+-", name)
    if not match or record.downtime_ms is None or record.total_s is None:
        return ""
    parts = []
    for op in ("migrate-pipe", "migrate-tcp"):
        host, stock = results.get("%s-%s" % (match.group(1), op), (None, None))
        if (stock is None or stock.status != "pass" or not stock.total_s
                or not stock.downtime_ms):
            continue
        parts.append("x stock %s: total %.2f, downtime %.2f" % (
            op[len("migrate-"):], record.total_s / stock.total_s,
            record.downtime_ms / stock.downtime_ms))
    return "; ".join(parts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--extra-json", help="JSON object merged into timings.json (run facts)")
    parser.add_argument("--remaining-plan", metavar="FILE",
                        help="only write FILE: the plan lines still to run (exit 0), "
                             "or exit 1 when every scenario reported")
    parser.add_argument("logs", nargs="+", metavar="HOST=SERIAL_LOG")
    arguments = parser.parse_args()

    expected = expected_scenarios(arguments.plan)
    results, evidence, boots, console_tails = {}, {}, {}, {}
    for item in arguments.logs:
        host, _, path = item.partition("=")
        host_results, host_evidence, marks, lines = read_log(host, path)
        boots[host] = marks
        console_tails[host] = lines[-CONSOLE_TAIL_LINES:]
        evidence.update(host_evidence)
        for record in host_results:
            results[record.name] = (host, record)

    if arguments.remaining_plan:
        rest = remaining_plan(arguments.plan, results)
        if rest is None:
            return 1
        with open(arguments.remaining_plan, "w") as out:
            out.write(rest)
        return 0

    ordered = [name for name in expected]
    ordered += [name for name in results if name not in expected]
    tap = ["1..%d" % len(ordered)]
    # a boot that hung: what did not finish ran again in a later boot
    tap += ["# %s: %s" % (host, marks["hang"]) for host, marks in boots.items()
            if "hang" in marks]
    suite = ElementTree.Element("testsuite", name="xenmig-lab")
    scenarios_json = []
    failures = skipped = 0
    for index, name in enumerate(ordered, 1):
        host, record = results.get(name) or ("?", labresult.make_result(name, "fail", NO_RESULT))
        status, reason = record.status, record.reason
        # the host's own checks of what the scenarios produced (verify-stream-v2
        # on a captured stream) are results too, though no plan line names them
        host_check = record.raw("host_check") or name.endswith("-verify-stream-v2")
        if name not in expected and not host_check:
            status = "fail"
            reason = "unexpected scenario not in the plan: %s" % reason
        total, downtime = record.total_s, record.downtime_ms
        case = ElementTree.SubElement(suite, "testcase", classname="lab." + host,
                                      name=name, time="%.3f" % (total or 0.0))
        if status == "pass":
            detail = []
            if total is not None:
                detail.append("total %.2f s" % total)
            if downtime is not None:
                detail.append("downtime %.1f ms" % downtime)
            detail.append("retries %s" % record.raw("retries", "0"))
            ratios = stock_ratios(name, record, results)
            if ratios:
                detail.append(ratios)
            tap.append("ok %d - %s (%s)" % (index, name, ", ".join(detail)))
        elif status == "skip":
            skipped += 1
            tap.append("ok %d - %s # SKIP %s" % (index, name, tap_escape(reason)))
            ElementTree.SubElement(case, "skipped", message=reason)
        else:
            failures += 1
            tap.append("not ok %d - %s: %s" % (index, name, tap_escape(reason)))
            console = failure_console(name, host, evidence, console_tails)
            tap.extend("# " + line for line in console)
            failure = ElementTree.SubElement(case, "failure", message=reason)
            failure.text = "\n".join(console)
            ElementTree.SubElement(case, "system-out").text = "\n".join(console)
        scenarios_json.append(timings_entry(record, status, host, reason))
    suite.set("tests", str(len(ordered)))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    suite.set("errors", "0")

    print("\n".join(tap))
    # the count scripts/test's last line adds up (scripts/count-tests)
    print("# lab: %d scenarios: %d passed, %d failed, %d skipped"
          % (len(ordered), len(ordered) - failures - skipped, failures, skipped))
    ElementTree.ElementTree(suite).write(arguments.results + "/junit.xml",
                                         encoding="utf-8", xml_declaration=True)
    timings = {"boots": boots, "scenarios": scenarios_json}
    if arguments.extra_json:
        timings["run"] = json.loads(arguments.extra_json)
    with open(arguments.results + "/timings.json", "w") as out:
        json.dump(timings, out, indent=2)
        out.write("\n")
    baseline = [entry for entry in scenarios_json
                if entry.get("tool") == "xl" and entry["status"] == "pass"
                and re.search(r"-(migrate-pipe|migrate-tcp|save-restore|two-host-migrate)$",
                              entry["name"])]
    with open(arguments.results + "/baseline-xl.json", "w") as out:
        json.dump({"what": "stock xl numbers measured in this boot (total_s: wall time of the "
                           "xl command in dom0; downtime_ms: largest heartbeat gap the guest saw)",
                   "boots": boots, "scenarios": baseline}, out, indent=2)
        out.write("\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

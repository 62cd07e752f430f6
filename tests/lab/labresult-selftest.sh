#!/bin/sh
# The lab's line parser (tests/lab/labresult.py): LAB-RESULT lines as
# scenarios.sh, two-host-combine.py and scripts/lab print them come out
# with their fields typed; malformed ones raise an error that says what is
# wrong and quotes the line; LAB-JSON lines carry xl-ext's --json events;
# a serial log's lines keep their stamps, markers and evidence blocks.
lab=${XENMIG_SRCDIR:-..}/tests/lab
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 77; }
PYTHONDONTWRITEBYTECODE=1 python3 - "$lab" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import labresult as L

count = 0
failed = False


def t(what, check):
    """One TAP test: CHECK() must return without raising."""
    global count, failed
    count += 1
    try:
        check()
        print("ok %d - %s" % (count, what))
    except Exception as error:  # any failure of the check is the test's
        failed = True
        print("not ok %d - %s" % (count, what))
        print("# %s: %s" % (type(error).__name__, error))


def rejects(text, *words):
    """parse_result(TEXT) raises LabLineError naming WORDS and quoting TEXT."""
    def check():
        try:
            L.parse_result(text)
        except L.LabLineError as error:
            message = str(error)
            assert ("'%s'" % text) in message, "the line is not quoted: " + message
            for word in words:
                assert word in message, "%r not in %r" % (word, message)
            return
        raise AssertionError("accepted: %s" % text)
    return check


def equal(got, want):
    assert got == want, "got %r, want %r" % (got, want)


# -- good lines, as the code prints them
XENMIG = ("LAB-RESULT name=pvh-128-idle-xenmig-s2-stop-plain status=pass retries=1 tool=xl-ext "
          "type=pvh mem=128 workload=idle boot_before=63d77fdd boot_after=63d77fdd total_s=6.227 "
          "downtime_ms=688.1 streams=2 tracing=stop link_cap=0 encrypted=no "
          "xenmig_downtime=471.6ms xenmig_rounds=2 xenmig_bytes=70362304 "
          "xenmig_harvest_pause=2.9ms xenmig_stall_total=9.1ms xenmig_stall_max=2.0ms "
          "xenmig_verified=yes xenmig_verified_at=before-go reason=")
r = L.parse_result(XENMIG)
t("a pass: name, status, empty reason", lambda: equal((r.name, r.status, r.reason),
                                                      ("pvh-128-idle-xenmig-s2-stop-plain", "pass", "")))
t("numbers are typed: int, float, ms with its unit", lambda: equal(
    (r.retries, r.value("mem"), r.total_s, r.downtime_ms, r.value("xenmig_bytes"),
     r.value("xenmig_downtime"), r.value("link_cap")),
    (1, 128, 6.227, 688.1, 70362304, 471.6, 0)))
t("raw values as spelt, text fields as text, in line order", lambda: (
    equal(r.raw("xenmig_downtime"), "471.6ms"), equal(r.value("tracing"), "stop"),
    equal(list(r.fields)[:4], ["name", "status", "retries", "tool"]),
    equal(list(r.fields)[-1], "xenmig_verified_at")))
t("absent fields: the default", lambda: (equal(r.raw("stream_bytes"), None),
                                        equal(r.value("save_s", "x"), "x")))

FAIL = ("LAB-RESULT name=pv-128-idle-migrate-tcp status=fail retries=0 tool=xl type=pv mem=128 "
        "boot_before=2d6c46e7 boot_after=none total_s=none downtime_ms=none "
        "reason=migrate-tcp with xl failed (rc=1): # total_s=9 reason=x LAB-RESULT name=y")
f = L.parse_result(FAIL)
t("none is None; the reason runs to the end, '=' and markers and all", lambda: (
    equal((f.total_s, f.downtime_ms, f.raw("boot_after")), (None, None, "none")),
    equal(f.reason, "migrate-tcp with xl failed (rc=1): # total_s=9 reason=x LAB-RESULT name=y"),
    equal(f.raw("reason"), None)))
t("a line without retries= has 0 retries", lambda: equal(
    L.parse_result("LAB-RESULT name=plan status=fail reason=no plan at '/lab/plan'").retries, 0))
t("text values keep '=' and parentheses", lambda: equal(
    L.parse_result("LAB-RESULT name=x-receive status=fail retries=0 receiver_rc=none(socat-rc=1) "
                   "boot_after=none reason=rc").raw("receiver_rc"), "none(socat-rc=1)"))
t("a skip", lambda: equal(L.parse_result(
    "LAB-RESULT name=pv-128-idle-xenmig-migrate-pipe status=skip retries=0 tool=xl-ext "
    "reason=hook off").status, "skip"))
t("make_result writes a line parse_result reads back", lambda: (
    equal(L.make_result("a-b", "fail", "no result: x=1", retries=2).line,
          "LAB-RESULT name=a-b status=fail retries=2 reason=no result: x=1"),
    equal(L.make_result("a-b", "fail", "no result").retries, 0)))

# -- malformed lines: an error saying what is wrong, quoting the line
t("no reason= is malformed", rejects("LAB-RESULT name=x status=pass total_s=1.0", "no ' reason='"))
t("a line cut short is malformed", rejects("LAB-RESULT name=x status=pa", "no ' reason='"))
t("no status= is malformed", rejects("LAB-RESULT name=x retries=0 reason=", "status=''"))
t("an unknown status is malformed", rejects("LAB-RESULT name=x status=passed reason=",
                                            "status='passed'", "pass, fail, skip"))
t("no name= is malformed", rejects("LAB-RESULT status=pass reason=", "no name="))
t("an empty name= is malformed", rejects("LAB-RESULT name= status=pass reason=", "no name="))
t("a word that is not KEY=VALUE is malformed",
  rejects("LAB-RESULT name=x status=pass (XEN) reason=", "'(XEN)' is not KEY=VALUE"))
t("a key twice is malformed", rejects("LAB-RESULT name=x status=pass total_s=1 total_s=2 reason=",
                                      "total_s= twice"))
t("a number that is not one is malformed",
  rejects("LAB-RESULT name=x status=pass total_s=1.2.3 reason=", "total_s='1.2.3'",
          "decimal number"))
t("a count that is not whole is malformed",
  rejects("LAB-RESULT name=x status=pass retries=one reason=", "retries='one'", "whole number"))
t("milliseconds without their unit are malformed",
  rejects("LAB-RESULT name=x status=pass xenmig_downtime=471.6 reason=", "milliseconds"))
t("another marker is not a LAB-RESULT line", rejects("LAB-MARK guest x begin", "not a LAB-RESULT"))


def names_its_scenario():
    try:
        L.parse_result("LAB-RESULT name=pvh-1 status=pass total_s=x reason=name=other")
    except L.LabLineError as error:
        equal(error.name, "pvh-1")
        return
    raise AssertionError("accepted")


t("the error names the scenario of a malformed line (not from its reason)", names_its_scenario)


def long_lines_quoted_in_part():
    line = "LAB-RESULT name=x status=pass " + "k=v " * 400
    try:
        L.parse_result(line)
    except L.LabLineError as error:
        assert line[:L.QUOTE_MAX] in str(error) and "(%d more characters)" % (
            len(line) - L.QUOTE_MAX) in str(error), str(error)
        return
    raise AssertionError("accepted")


t("a long malformed line is quoted up to its first %d characters" % L.QUOTE_MAX,
  long_lines_quoted_in_part)

# -- LAB-JSON lines: xl-ext migrate --json's events, one a line
SUMMARY = ('LAB-JSON name=pvh-128-idle-xenmig-s1-stop-plain {"event":"summary","side":"migrate",'
           '"result":"ok","total_s":6.118,"downtime_ms":488.2,"rounds":2,"bytes_sent":70354112,'
           '"downtime_parts_ms":{"pause":61.3,"harvest":3.9,"send":44.7,"state":4.2,'
           '"destination":281.6,"resume":92.5}}')
j = L.parse_json(SUMMARY)
t("a summary event: its scenario, kind and members", lambda: (
    equal((j.name, j.kind, j.event["rounds"]), ("pvh-128-idle-xenmig-s1-stop-plain", "summary", 2)),
    equal(j.event["downtime_parts_ms"]["send"], 44.7)))


def json_rejects(text, *words):
    def check():
        try:
            L.parse_json(text)
        except L.LabLineError as error:
            assert ("'%s'" % text) in str(error), str(error)
            for word in words:
                assert word in str(error), "%r not in %r" % (word, str(error))
            return
        raise AssertionError("accepted: %s" % text)
    return check


t("LAB-JSON without name= is malformed", json_rejects('LAB-JSON {"event":"done"}', "name="))
t("LAB-JSON with JSON cut short is malformed",
  json_rejects(SUMMARY[:120], "does not parse"))
t("LAB-JSON of an array is malformed", json_rejects('LAB-JSON name=x [1, 2]', '"event"'))
t("LAB-JSON of an object without event is malformed",
  json_rejects('LAB-JSON name=x {"round":1}', '"event"'))

# -- a serial log: stamps, markers, evidence blocks
LOG = ["[    0.40] (XEN) Xen version 4.17.5",
       "[    9.53] LAB-MARK dom0-ready uptime=5.29",
       "[   40.00] LAB-LOG-BEGIN pv-128-idle-migrate-tcp",
       "[   40.01] LAB-RESULT name=quoted status=pass reason=",
       "[   40.02] LAB-LOG-END pv-128-idle-migrate-tcp",
       "[   40.03] console noise LAB-RESULT name=a status=fail reason=x",
       "[host] LAB-RESULT name=s-verify-stream-v2 status=pass retries=0 tool=verify-stream-v2 "
       "bytes=135 reason=",
       "[   50.00] LAB-LOG-BEGIN unfinished",
       "[   50.01] text"]
log = list(L.iter_log(LOG))
t("stamps, text without the stamp, line numbers", lambda: (
    equal((log[1].number, log[1].stamp, log[1].text),
          (2, 9.53, "LAB-MARK dom0-ready uptime=5.29")),
    equal((log[6].stamp, log[6].raw), (None, LOG[6]))))
t("the marker starts at the line's first LAB-", lambda: (
    equal(log[0].lab, None), equal(log[5].lab, "LAB-RESULT name=a status=fail reason=x"),
    equal(L.parse_result(log[6].lab).name, "s-verify-stream-v2")))
t("evidence: the lines between LAB-LOG-BEGIN and -END, not those lines", lambda: equal(
    [line.evidence for line in log],
    [None, None, None, "pv-128-idle-migrate-tcp", None, None, None, None, "unfinished"]))

print("1..%d" % count)
sys.exit(1 if failed else 0)
EOF

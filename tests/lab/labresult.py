"""labresult.py: the lab's result lines, read in one place.

tests/lab/scenarios.sh, run inside the Xen lab's dom0, prints on the serial
console (tests/lab/two-host-combine.py and scripts/lab print LAB-RESULT
lines of the same form):

  LAB-RESULT name=N status=pass|fail|skip KEY=VALUE... reason=FREE TEXT
      one line per scenario N.  Every word before " reason=" is KEY=VALUE
      (KEY: lower case, digits, "_"; VALUE: no spaces, may be empty, "none"
      where a number could not be had); reason= comes last and runs to the
      end of the line.
  LAB-JSON name=N {"event": ...}
      one JSON event of scenario N's `xl-ext migrate --json` run (op_xenmig:
      its first progress events and its "summary" event).
  LAB-LOG-BEGIN N ... LAB-LOG-END N
      the evidence of a failure: the lines between are quoted output, never
      results.

On the host, tests/lab/serial-watch.py prefixes every console line with
"[ SECONDS] "; a marker may follow other text on its line: the line's
first "LAB-" starts it.

parse_result(text) and parse_json(text) read one marker line (the text
from "LAB-" on) into a Result or a JsonEvent and raise LabLineError, whose
message says what is wrong and quotes the line, when it is malformed.
iter_log(lines) / read_log(path) give a serial log's lines as LogLine.

Must never return a Result whose status was not spelt out on the line (a
line without status=pass is never a pass), and never read a line inside
an evidence block as anything but evidence."""
import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

STATUSES = ("pass", "fail", "skip")
QUOTE_MAX = 500
STAMP = re.compile(r"^\[\s*([0-9.]+)\] ?(.*)$")
KEY = re.compile(r"^[a-z][a-z0-9_]*$")
DIGITS = re.compile(r"^[0-9]+$")
DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")
MILLISECONDS = re.compile(r"^([0-9]+(\.[0-9]+)?)ms$")

# The fields whose values are numbers ("none" where scenarios.sh could not
# measure one); any other field's value is text.
INTEGER_FIELDS = ("retries", "mem", "save_bytes", "stream_bytes", "merged_bytes", "link_cap",
                  "streams", "xenmig_bytes", "xenmig_pages", "xenmig_rounds")
DECIMAL_FIELDS = ("total_s", "downtime_ms", "save_s", "restore_s")
# from the "xl-ext migrate: result=..." line, with its unit: "595.5ms"
MILLISECOND_FIELDS = ("xenmig_downtime", "xenmig_harvest_pause", "xenmig_stall_total",
                      "xenmig_stall_max")


class LabLineError(ValueError):
    """A malformed LAB- line: str() says what is wrong and quotes the line;
    name: the scenario its name= word names (None when it has none)."""

    def __init__(self, problem, line):
        self.problem, self.line = problem, line
        match = re.search(r"(?:^|\s)name=(\S+)", line.partition(" reason=")[0])
        self.name = match.group(1) if match else None
        super().__init__("%s: '%s'" % (problem, quote(line)))


def quote(line):
    """LINE as an error quotes it: whole, or its first QUOTE_MAX characters."""
    if len(line) <= QUOTE_MAX:
        return line
    return "%s... (%d more characters)" % (line[:QUOTE_MAX], len(line) - QUOTE_MAX)


def typed(key, text):
    """TEXT of field KEY as its type (int, float, or text; None for "none");
    raises ValueError naming what was expected."""
    if key not in INTEGER_FIELDS + DECIMAL_FIELDS + MILLISECOND_FIELDS:
        return text
    if text == "none":
        return None
    if key in INTEGER_FIELDS and DIGITS.match(text):
        return int(text)
    if key in DECIMAL_FIELDS and DECIMAL.match(text):
        return float(text)
    match = MILLISECONDS.match(text)
    if key in MILLISECOND_FIELDS and match:
        return float(match.group(1))
    expected = ("a whole number" if key in INTEGER_FIELDS else
                "a decimal number" if key in DECIMAL_FIELDS else "milliseconds such as 12.5ms")
    raise ValueError("%s='%s' is not %s (or none)" % (key, text, expected))


@dataclass(frozen=True)
class Result:
    """One LAB-RESULT line.  fields: every KEY=VALUE before reason=, as the
    line spelt it, in its order (name and status among them); values: the
    same, typed (see typed())."""
    name: str
    status: str
    reason: str
    fields: dict
    values: dict
    line: str

    def raw(self, key, default=None):
        """KEY's value as the line spelt it (default when absent)."""
        return self.fields.get(key, default)

    def value(self, key, default=None):
        """KEY's typed value: None for "none", default when absent."""
        return self.values.get(key, default)

    @property
    def retries(self):
        return self.values.get("retries") or 0

    @property
    def total_s(self):
        return self.values.get("total_s")

    @property
    def downtime_ms(self):
        return self.values.get("downtime_ms")


def make_result(name, status, reason, **words):
    """The Result of the line "LAB-RESULT name=NAME status=STATUS [KEY=VALUE...]
    reason=REASON" (for a scenario that printed none); raises LabLineError
    as parse_result would."""
    head = " ".join("%s=%s" % item for item in [("name", name), ("status", status)] +
                    list(words.items()))
    return parse_result("LAB-RESULT %s reason=%s" % (head, reason))


def parse_result(text):
    """TEXT, "LAB-RESULT name=N status=S ... reason=...", as a Result;
    raises LabLineError quoting TEXT when it is not one."""
    prefix = "LAB-RESULT "
    if not text.startswith(prefix):
        raise LabLineError("not a LAB-RESULT line (it must start with '%s')" % prefix, text)
    head, separator, reason = text[len(prefix):].partition(" reason=")
    if not separator:
        if not head.startswith("reason="):
            raise LabLineError("malformed LAB-RESULT line: no ' reason=' (it ends every "
                               "result line, even when empty)", text)
        head, reason = "", head[len("reason="):]
    fields, values = {}, {}
    for word in head.split():
        key, equals, value = word.partition("=")
        if not equals or not KEY.match(key):
            raise LabLineError("malformed LAB-RESULT line: '%s' is not KEY=VALUE (before "
                               "reason=, every word is one)" % word, text)
        if key in fields:
            raise LabLineError("malformed LAB-RESULT line: %s= twice ('%s' and '%s')"
                               % (key, fields[key], value), text)
        try:
            values[key] = typed(key, value)
        except ValueError as error:
            raise LabLineError("malformed LAB-RESULT line: %s" % error, text) from None
        fields[key] = value
    if not fields.get("name"):
        raise LabLineError("malformed LAB-RESULT line: no name= (the scenario's name)", text)
    if fields.get("status") not in STATUSES:
        raise LabLineError("malformed LAB-RESULT line: status='%s', expected one of %s"
                           % (fields.get("status", ""), ", ".join(STATUSES)), text)
    return Result(name=fields["name"], status=fields["status"], reason=reason.strip(),
                  fields=fields, values=values, line=text)


@dataclass(frozen=True)
class JsonEvent:
    """One LAB-JSON line: scenario NAME's event, the decoded JSON object
    (its "event" member is a string: precopy, switchover, done, summary...)."""
    name: str
    event: dict
    line: str

    @property
    def kind(self):
        return self.event["event"]


def parse_json(text):
    """TEXT, "LAB-JSON name=N {...}", as a JsonEvent; raises LabLineError
    quoting TEXT when it is not one."""
    prefix = "LAB-JSON "
    if not text.startswith(prefix):
        raise LabLineError("not a LAB-JSON line (it must start with '%s')" % prefix, text)
    word, _, document = text[len(prefix):].partition(" ")
    key, _, name = word.partition("=")
    if key != "name" or not name:
        raise LabLineError("malformed LAB-JSON line: expected 'LAB-JSON name=SCENARIO "
                           "{JSON}', got '%s' where name= belongs" % word, text)
    try:
        event = json.loads(document)
    except ValueError as error:
        raise LabLineError("malformed LAB-JSON line: its JSON does not parse (%s)" % error,
                           text) from None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise LabLineError("malformed LAB-JSON line: expected a JSON object with a string "
                           "member \"event\"", text)
    return JsonEvent(name=name, event=event, line=text)


@dataclass(frozen=True)
class LogLine:
    """One serial log line.  number: from 1; raw: as in the log; stamp: the
    host's seconds of "[ SECONDS] " (None without); text: raw without the
    stamp; lab: text from its first "LAB-" on (None without); evidence: the
    name of the LAB-LOG block the line is quoted in (None outside one; the
    BEGIN and END lines themselves are outside)."""
    number: int
    raw: str
    stamp: Optional[float]
    text: str
    lab: Optional[str]
    evidence: Optional[str] = field(default=None)


def iter_log(lines: Iterable[str]) -> Iterator[LogLine]:
    """LINES (a serial log's, without line ends) as LogLine."""
    block = None
    for number, raw in enumerate(lines, 1):
        match = STAMP.match(raw)
        stamp, text = (float(match.group(1)), match.group(2)) if match else (None, raw)
        position = text.find("LAB-")
        lab = text[position:] if position >= 0 else None
        if block is not None:
            if lab is not None and lab.startswith("LAB-LOG-END"):
                block = None
                yield LogLine(number, raw, stamp, text, lab)
            else:
                yield LogLine(number, raw, stamp, text, lab, block)
            continue
        if lab is not None and lab.startswith("LAB-LOG-BEGIN "):
            block = lab[len("LAB-LOG-BEGIN "):].strip()
        yield LogLine(number, raw, stamp, text, lab)


def read_log(path):
    """The serial log at PATH as a list of LogLine; raises OSError."""
    with open(path, errors="replace") as log:
        return list(iter_log(log.read().splitlines()))

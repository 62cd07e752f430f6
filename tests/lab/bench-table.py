#!/usr/bin/env python3
"""bench-table.py [--link-cap BYTES_PER_S] SERIAL_LOG...: scripts/bench-lab's
table, from the serial logs of one lab run (logs that do not exist are
passed over: serial-single-2.log is there only after a hang).

Per guest group (TYPE-MEM-WORKLOAD), every migration's status, total time,
the downtime the guest saw and bytes, each with its ratio to the group's
stock xl migration (migrate-pipe or migrate-tcp) where it has one; per
xl-ext migration its pre-copy rounds, harvest pause and longest stall (its
LAB-RESULT fields), and, from the "summary" event of its `xl-ext migrate
--json` run (the scenario's LAB-JSON lines), what the engine itself spent
while the guest was paused ("engine ms": final harvest, last pages,
reading its state) and the rest of the guest's downtime ("rest ms").  A
later log's result of a scenario replaces an earlier one's.

Lines are read by tests/lab/labresult.py; a malformed LAB-RESULT or
LAB-JSON line is named on stderr, quoted, and left out of the table.
Must never attribute one scenario's engine numbers to another."""
import argparse
import os
import re
import sys

import labresult

NAN = float("nan")


def engine_ms(summary):
    """What the engine spent while the guest was paused, in ms, from an
    xl-ext migrate --json "summary" event (None without its parts)."""
    parts = summary.get("downtime_parts_ms") if summary else None
    if not isinstance(parts, dict):
        return None
    try:
        return sum(float(parts[key]) for key in ("harvest", "send", "state"))
    except (KeyError, TypeError, ValueError):
        return None


def read_rows(paths):
    """{name: (Result, engine ms or None)} of the migrations in the logs at
    PATHS, a later log's replacing an earlier's."""
    rows = {}
    for path in paths:
        if not os.path.exists(path):
            continue
        summaries = {}   # by scenario: its newest summary event in this log
        for line in labresult.read_log(path):
            if line.evidence is not None or not line.lab:
                continue
            try:
                if line.lab.startswith("LAB-JSON "):
                    event = labresult.parse_json(line.lab)
                    if event.kind == "summary":
                        summaries[event.name] = event.event
                elif line.lab.startswith("LAB-RESULT "):
                    record = labresult.parse_result(line.lab)
                    summary = summaries.pop(record.name, None)
                    if not record.name.endswith("-create") and "-hold-" not in record.name:
                        engine = engine_ms(summary) if "-xenmig-" in record.name else None
                        rows[record.name] = (record, engine)
            except labresult.LabLineError as error:
                print("bench-table: %s line %d left out: %s" % (path, line.number, error),
                      file=sys.stderr)
    return rows


def cell(value, width, precision=1):
    return "%*.*f" % (width, precision, value if value is not None else NAN)


def ratio(value, base):
    return "%6.2f" % (value / base) if value is not None and base else "     -"


def print_table(rows):
    groups = {}
    for record, engine in rows.values():
        groups.setdefault("-".join(record.name.split("-")[:3]), []).append((record, engine))
    print(f"{'scenario':38} {'status':6} {'total s':>8} {'x xl':>6} {'downtime ms':>11} {'x xl':>6} "
          f"{'bytes MB':>9} {'x xl':>6} {'rounds':>6} {'harvest pause ms':>16} {'max/harvest ms':>14} "
          f"{'engine ms':>9} {'rest ms':>7}")
    for items in groups.values():
        stock = next((record for record, _ in items
                      if re.search(r"-migrate-(pipe|tcp)$", record.name)), None)
        passed = stock is not None and stock.status == "pass"
        base_total = stock.total_s if passed else None
        base_down = stock.downtime_ms if passed else None
        # stock's bytes: counted at the receiver (migrate-tcp only)
        base_bytes = stock.value("stream_bytes") if passed else None
        for record, engine in items:
            total, down = record.total_s, record.downtime_ms
            sent = record.value("xenmig_bytes") or record.value("stream_bytes")
            rest = down - engine if down is not None and engine is not None else None
            print(f"{record.name:38} {record.status:6} "
                  f"{cell(total, 8)} {ratio(total, base_total)} "
                  f"{cell(down, 11)} {ratio(down, base_down)} "
                  f"{cell(sent / 1e6 if sent else None, 9)} {ratio(sent, base_bytes)} "
                  f"{record.raw('xenmig_rounds', '-'):>6} "
                  f"{cell(record.value('xenmig_harvest_pause'), 16)} "
                  f"{cell(record.value('xenmig_stall_max'), 14)} "
                  f"{cell(engine, 9)} {cell(rest, 7)}")


def main():
    parser = argparse.ArgumentParser(description="scripts/bench-lab's table from serial logs")
    parser.add_argument("--link-cap", type=int, default=0, metavar="BYTES_PER_S",
                        help="the per-connection cap the run had (0: none)")
    parser.add_argument("logs", nargs="+", metavar="SERIAL_LOG")
    arguments = parser.parse_args()
    if arguments.link_cap:
        print(f"link capped at {arguments.link_cap / 1e6:g} MB/s per TCP connection (TCP pacing): "
              f"stock xl one connection, xl-ext one per stream")
    print_table(read_rows(arguments.logs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

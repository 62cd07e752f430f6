#!/usr/bin/env python3
"""serial-watch.py LOG PIDFILE [LABEL]: the host side of a lab boot's serial
console.  Reads QEMU's serial output on stdin, prefixes every line with host
wall-clock seconds since QEMU started ("[   12.34] "), writes it to LOG,
echoes the lab's own LAB-* lines and Xen panics to stderr as progress, and
sends SIGTERM to the QEMU whose pid is in PIDFILE once dom0 is done
(LAB-DONE, or the power-off/halt lines that follow it) or Xen panicked.

It must never kill any other process than the one in PIDFILE, and never
stop reading before QEMU's output ends (the pipe must not fill up)."""
import os
import signal
import sys
import time

FINISHED = ("LAB-DONE", "reboot: Power down", "Hardware Dom0 halted",
            "Hardware Dom0 shutdown", "(XEN) Panic on CPU", "Reboot in five seconds")


def stop_qemu(pidfile):
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass   # already gone, or it never wrote its pid: timeout(1) reaps it


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: serial-watch.py LOG PIDFILE [LABEL]\n")
        return 2
    log_path, pidfile = sys.argv[1], sys.argv[2]
    label = sys.argv[3] if len(sys.argv) > 3 else "lab"
    start = time.monotonic()
    stopped = False
    with open(log_path, "w", buffering=1, errors="replace") as log:
        for raw in sys.stdin.buffer:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            stamped = "[%8.2f] %s" % (time.monotonic() - start, line)
            log.write(stamped + "\n")
            if "LAB-" in line or "Panic" in line or "Xen version" in line:
                sys.stderr.write("%s: %s\n" % (label, stamped))
            if not stopped and any(marker in line for marker in FINISHED):
                if "LAB-DONE" not in line:
                    # let the last lines of a panic reach the log
                    time.sleep(1)
                stop_qemu(pidfile)
                stopped = True
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""serial-watch.py LOG PIDFILE [LABEL [HANG_S]]: the host side of a lab
boot's serial console.  Reads QEMU's serial output on stdin, prefixes every
line with host wall-clock seconds since QEMU started ("[   12.34] "), writes
it to LOG, echoes the lab's own LAB-* lines (but the LAB-ALIVE signs of
life) and Xen panics to stderr as progress, and sends SIGTERM to the QEMU
whose pid is in PIDFILE once dom0 is done (LAB-DONE, or the power-off/halt
lines that follow it) or Xen panicked.

Once dom0 has sent a LAB-ALIVE line (it sends one every 15 s while the
scenarios run), a console that then stays silent for HANG_S seconds
(default 180) means Xen or dom0 stopped: it writes a LAB-HANG line to LOG
and stderr and stops QEMU (scripts/lab may boot again for what did not
finish).  The same silence before any LAB-ALIVE (Xen or dom0 still
booting) is no hang: it writes one LAB-QUIET line to LOG per silence.

It must never kill any other process than the one in PIDFILE, and never
stop reading before QEMU's output ends (the pipe must not fill up)."""
import os
import select
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
        sys.stderr.write("usage: serial-watch.py LOG PIDFILE [LABEL [HANG_S]]\n")
        return 2
    log_path, pidfile = sys.argv[1], sys.argv[2]
    label = sys.argv[3] if len(sys.argv) > 3 else "lab"
    try:
        hang_s = float(sys.argv[4]) if len(sys.argv) > 4 else 180.0
    except ValueError:
        sys.stderr.write("serial-watch.py: HANG_S '%s' is not seconds\n" % sys.argv[4])
        return 2
    start = last = time.monotonic()
    stopped = alive = quiet_noted = False
    pending = b""
    fd = sys.stdin.fileno()
    with open(log_path, "w", buffering=1, errors="replace") as log:
        def note(line):
            stamped = "[%8.2f] %s" % (time.monotonic() - start, line)
            log.write(stamped + "\n")
            return stamped

        def handle(raw):
            nonlocal stopped, alive
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            stamped = note(line)
            if "LAB-ALIVE" in line:
                alive = True
            elif "LAB-" in line or "Panic" in line or "Xen version" in line:
                sys.stderr.write("%s: %s\n" % (label, stamped))
            if not stopped and any(marker in line for marker in FINISHED):
                if "LAB-DONE" not in line:
                    # let the last lines of a panic reach the log
                    time.sleep(1)
                stop_qemu(pidfile)
                stopped = True

        while True:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                silent = time.monotonic() - last
                if not alive and not quiet_noted and silent >= hang_s:
                    # said once per silence, so that a long boot is visible
                    note("LAB-QUIET the console was silent for %.0f s before dom0's "
                         "signs of life: Xen is still booting, not a hang" % silent)
                    quiet_noted = True
                if alive and not stopped and silent >= hang_s:
                    stamped = note("LAB-HANG the console was silent for %.0f s after dom0's "
                                   "signs of life: Xen or dom0 stopped; stopping QEMU" % silent)
                    sys.stderr.write("%s: %s\n" % (label, stamped))
                    stop_qemu(pidfile)
                    stopped = True
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            last = time.monotonic()
            quiet_noted = False
            pending += chunk
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                handle(raw)
        if pending:
            handle(pending)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""flood.py: a hostile neighbour of a migration's data port.

    flood.py [--during N] [--report FILE] [--no-flood] [--kill-at-go]
             -- RECEIVER COMMAND...

Runs RECEIVER COMMAND (an `xl-ext migrate-receive`) as the control
channel's far end, passing stdin and stdout through byte for byte.  When
the receiver announces its data port ("ready"), before the source can see
the line, it opens a flood against that port: idle connections (more than
the receiver's pending slots), slowloris connections that send one byte of
a HELLO at a time, plain HELLOs with the right magic and a wrong migration
id, and garbage.  Only then is "ready" passed on.  During the migration
it keeps opening N more connections of each kind (--during, default 10).
At the end it writes to FILE one line: "before=B during=D", the
connections it opened before "ready" went on and during the migration.
The exit code is the receiver's.

--no-flood passes the channel through without a flood; --kill-at-go kills
the receiver (SIGKILL) and ends the channel when the source's "go" comes,
before the receiver sees it: a destination that dies after the point of no
return.
"""
import json
import os
import re
import signal
import random
import socket
import struct
import subprocess
import sys
import threading
import time


def hello(migration_id):
    return (b"XMIGDAT1" + struct.pack("<IIIIQ", 1, 0, 1, 4096, 0) + migration_id)


class Flood:
    def __init__(self, port):
        self.port = port
        self.socks = []
        self.slow = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1)
        try:
            s.connect(("127.0.0.1", self.port))
        except OSError:
            s.close()
            return None
        with self.lock:
            self.socks.append(s)
        return s

    def wave(self, idle):
        """One of each kind, and idle connections."""
        for _ in range(idle):
            self.connect()
        for _ in range(3):
            s = self.connect()
            if s:
                self.slow.append([s, hello(os.urandom(16)), 0])
        for _ in range(3):
            s = self.connect()
            if s:
                try:
                    s.sendall(hello(os.urandom(16)))
                except OSError:
                    pass
        for _ in range(2):
            s = self.connect()
            if s:
                try:
                    s.sendall(os.urandom(48))
                except OSError:
                    pass

    def drip(self):
        """Slowloris: one more byte of each slow HELLO, keeping one short."""
        for entry in list(self.slow):
            s, data, sent = entry
            if sent < len(data) - 1:
                try:
                    s.send(data[sent:sent + 1])
                    entry[2] = sent + 1
                except OSError:
                    self.slow.remove(entry)

    def run_during(self, waves):
        for _ in range(waves):
            if self.stop.wait(0.05):
                break
            self.wave(1)
            self.drip()


def main():
    argv = sys.argv[1:]
    during, report, do_flood, kill_at_go = 10, None, True, False
    while argv and argv[0] != "--":
        if argv[0] == "--no-flood":
            do_flood = False
            argv = argv[1:]
        elif argv[0] == "--kill-at-go":
            kill_at_go = True
            argv = argv[1:]
        elif argv[0] == "--during":
            during = int(argv[1])
            argv = argv[2:]
        elif argv[0] == "--report":
            report = argv[1]
            argv = argv[2:]
        else:
            sys.exit("flood.py: unknown option %r" % argv[0])
    command = argv[1:]
    receiver = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                bufsize=0)

    def pass_stdin():
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            if kill_at_go and re.search(rb'"msg": *"go"', data):
                receiver.send_signal(signal.SIGKILL)
                os._exit(137)
            try:
                receiver.stdin.write(data)
            except OSError:
                break
        try:
            receiver.stdin.close()
        except OSError:
            pass

    threading.Thread(target=pass_stdin, daemon=True).start()
    flood, before, pending, t = None, 0, b"", None
    out = receiver.stdout
    while True:
        data = os.read(out.fileno(), 65536)
        if not data:
            break
        if do_flood and flood is None:
            pending += data
            line_end = pending.find(b"\n")
            while line_end >= 0 and flood is None:
                line = pending[:line_end]
                try:
                    msg = json.loads(line)
                except ValueError:
                    msg = {}
                if isinstance(msg, dict) and msg.get("msg") == "ready":
                    flood = Flood(int(msg["port"]))
                    flood.wave(40)
                    for _ in range(5):
                        flood.drip()
                    before = len(flood.socks)
                    t = threading.Thread(target=flood.run_during, args=(during,))
                    t.start()
                os.write(1, pending[:line_end + 1])
                pending = pending[line_end + 1:]
                line_end = pending.find(b"\n")
            if flood is not None and pending:
                os.write(1, pending)
                pending = b""
            continue
        os.write(1, data)
    if pending:
        os.write(1, pending)
    rc = receiver.wait()
    if flood:
        flood.stop.set()
        t.join()
        if report:
            with open(report, "w") as f:
                f.write("before=%d during=%d\n" % (before, len(flood.socks) - before))
    sys.exit(rc)


if __name__ == "__main__":
    main()

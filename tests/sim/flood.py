#!/usr/bin/env python3
"""flood.py: a hostile neighbour of a migration's data port.

    flood.py [--during N] [--report FILE] [--no-flood] [--kill-at-go]
             [--kill-after-applied N]
             [--reset-data MODE [--flood]] -- RECEIVER COMMAND...

Runs RECEIVER COMMAND (an `xl-ext migrate-receive`) as the control
channel's far end, passing stdin and stdout through byte for byte (but for
the port of "ready" with --reset-data).  When the receiver announces its
data port ("ready"), before the source can see the line, it opens a flood
against that port: idle connections (more than the receiver's pending
slots), slowloris connections that send one byte of a HELLO at a time,
plain HELLOs with the right magic and a wrong migration id, and garbage.
Only then is "ready" passed on.  During the migration it keeps opening N
more connections of each kind (--during, default 10).  The exit code is
the receiver's.

--report FILE: as soon as "ready" passes, FILE says "port=P" and "pid=N",
the receiver's data port and process id (so that a test can watch that
port's connections in /proc/net/tcp and kill the receiver); at the end it
adds "before=B during=D" when it flooded, the connections it opened before
"ready" went on and during the migration, and "resets=R" with
--reset-data.  One item a line; FILE is replaced whole each time (written
beside it, then renamed), so a reader never sees half of it.

--no-flood passes the channel through without a flood; --kill-at-go kills
the receiver (SIGKILL) and ends the channel when the source's "go" comes,
before the receiver sees it: a destination that dies after the point of no
return.  --kill-after-applied N kills it (SIGKILL) when its Nth "applied"
comes, before the source sees it: a destination that dies during pre-copy
(with the convergence ladder: while the guest may be throttled).

--reset-data MODE stands between the source and the data port as well: a
TCP proxy on 127.0.0.1 (a free port), whose port replaces the receiver's
in "ready", forwards every data connection to the receiver's port both
ways.  It reads each connection's stream index and count from its HELLO
(u32 at bytes 12 and 16); the connections of the last stream (index count
- 1, "the victim") are reset, a real TCP RST to both sides (SO_LINGER 0,
then close), and R counts those resets.  MODE once-per-round: a reset is
armed when "ready" passes and again when each "applied" passes (towards
the source); an armed reset fires once, on the victim's connection, right
after the next chunk from the source was forwarded on it once the receiver
answered its HELLO: in the data, not in the handshake.  MODE always: the
first reset as once-per-round, then every later victim connection is reset
right after its first chunk from the source (its HELLO).  A
connection that the receiver or the source breaks is passed on broken (a
reset), and not counted.  --reset-data implies --no-flood; --flood floods
as well (the strangers go to the receiver's port, not through the proxy).
"""
import json
import os
import re
import select
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


class Proxy:
    """The data port behind a proxy that resets the victim stream."""

    def __init__(self, port, mode):
        self.port, self.mode = port, mode
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.armed, self.fired, self.resets = False, False, 0
        self.relays = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        self.own_port = self.listener.getsockname()[1]
        self.acceptor = threading.Thread(target=self.accept_all, daemon=True)
        self.acceptor.start()

    def arm(self):
        with self.lock:
            self.armed = True

    def fire(self, first, answered):
        """Whether the victim's connection, which just forwarded a chunk
        from the source (its first if FIRST; after the receiver's answer
        to its HELLO if ANSWERED), is to be reset now."""
        with self.lock:
            if (self.armed and answered) or (self.mode == "always" and self.fired and first):
                self.armed, self.fired = False, True
                self.resets += 1
                return True
        return False

    def accept_all(self):
        while not self.stop.is_set():
            try:
                src, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            try:
                dst = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                reset(src)
                continue
            t = threading.Thread(target=self.relay, args=(src, dst), daemon=True)
            t.start()
            with self.lock:
                self.relays.append(t)
        self.listener.close()

    def relay(self, src, dst):
        """Both ways until both ends closed; this thread alone owns both
        sockets, so that a reset closes them at once."""
        src.setblocking(False)
        dst.setblocking(False)
        to_dst = to_src = head = b""
        src_open = dst_open = True
        answer = 0      # bytes from the receiver: its HELLO_REPLY is 16
        victim, first, broken = None, True, False
        try:
            while not self.stop.is_set() and not broken:
                rl = [s for s, ok in ((src, src_open and not to_dst),
                                      (dst, dst_open and not to_src)) if ok]
                wl = [s for s, ok in ((dst, to_dst), (src, to_src)) if ok]
                if not rl and not wl:
                    break
                r, w, _ = select.select(rl, wl, [], 0.2)
                if src in r:
                    to_dst = src.recv(65536)
                    if not to_dst:
                        src_open = False
                        dst.shutdown(socket.SHUT_WR)
                    elif len(head) < 20:
                        head += to_dst[:20 - len(head)]
                        if len(head) == 20:
                            index, count = struct.unpack_from("<II", head, 12)
                            victim = head[:8] == b"XMIGDAT1" and index == count - 1
                if dst in r:
                    to_src = dst.recv(65536)
                    answer += len(to_src)
                    if not to_src:
                        dst_open = False
                        src.shutdown(socket.SHUT_WR)
                if dst in w:
                    to_dst = to_dst[dst.send(to_dst):]
                    if not to_dst and victim:
                        broken = self.fire(first, answer >= 16)
                        first = False
                if src in w:
                    to_src = to_src[src.send(to_src):]
        except OSError:
            broken = True   # passed on as a reset
        for s in (src, dst):
            if broken:
                reset(s)
            else:
                s.close()

    def finish(self):
        """Ends the proxy's threads (each looks at stop every 0.2 s)."""
        self.stop.set()
        self.acceptor.join(10)
        with self.lock:
            relays = list(self.relays)
        for t in relays:
            t.join(10)


def reset(s):
    """Close S with a TCP RST rather than a FIN."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def write_report(path, lines):
    """Replace PATH whole with LINES."""
    if not path:
        return
    with open(path + ".tmp", "w") as f:
        f.write("".join(line + "\n" for line in lines))
    os.replace(path + ".tmp", path)


class Session:
    """What happens on the lines from the receiver to the source."""

    def __init__(self, receiver, report, do_flood, during, reset_mode, kill_after=0):
        self.receiver, self.report = receiver, report
        self.do_flood, self.during, self.reset_mode = do_flood, during, reset_mode
        self.kill_after, self.applied = kill_after, 0
        self.flood = self.proxy = self.flooder = None
        self.ready, self.before, self.lines = False, 0, []

    def watching(self):
        return not self.ready or self.proxy is not None or self.kill_after > 0

    def line(self, line):
        """LINE (with its newline) as it goes on to the source."""
        try:
            msg = json.loads(line)
        except ValueError:
            msg = {}
        if not isinstance(msg, dict):
            return line
        if msg.get("msg") == "applied" and self.proxy:
            self.proxy.arm()
        if msg.get("msg") == "applied" and self.kill_after:
            self.applied += 1
            if self.applied == self.kill_after:
                self.receiver.send_signal(signal.SIGKILL)
                return b""     # the killed receiver's "applied" never arrives
        if msg.get("msg") != "ready" or self.ready:
            return line
        self.ready = True
        port = int(msg["port"])
        self.lines = ["port=%d" % port, "pid=%d" % self.receiver.pid]
        write_report(self.report, self.lines)
        if self.do_flood:
            self.flood = Flood(port)
            self.flood.wave(40)
            for _ in range(5):
                self.flood.drip()
            self.before = len(self.flood.socks)
            self.flooder = threading.Thread(target=self.flood.run_during, args=(self.during,))
            self.flooder.start()
        if self.reset_mode:
            self.proxy = Proxy(port, self.reset_mode)
            self.proxy.arm()
            line = re.sub(rb'("port" *: *)[0-9]+', b"\\g<1>%d" % self.proxy.own_port, line,
                          count=1)
        return line

    def finish(self):
        if self.flood:
            self.flood.stop.set()
            self.flooder.join()
            self.lines.append("before=%d during=%d" % (
                self.before, len(self.flood.socks) - self.before))
        if self.proxy:
            self.proxy.finish()
            self.lines.append("resets=%d" % self.proxy.resets)
        if self.ready:
            write_report(self.report, self.lines)


source_gone = False


def to_source(data):
    """DATA on to the source, dropped once the source went away: the
    receiver's output is still read, so that it is never blocked on it."""
    global source_gone
    if source_gone:
        return
    try:
        os.write(1, data)
    except OSError:
        source_gone = True


def main():
    argv = sys.argv[1:]
    during, report, do_flood, kill_at_go, reset_mode = 10, None, None, False, None
    kill_after = 0
    while argv and argv[0] != "--":
        if argv[0] in ("--no-flood", "--flood"):
            do_flood = argv[0] == "--flood"
            argv = argv[1:]
        elif argv[0] == "--kill-at-go":
            kill_at_go = True
            argv = argv[1:]
        elif argv[0] == "--kill-after-applied":
            kill_after = int(argv[1])
            argv = argv[2:]
        elif argv[0] == "--during":
            during = int(argv[1])
            argv = argv[2:]
        elif argv[0] == "--report":
            report = argv[1]
            argv = argv[2:]
        elif argv[0] == "--reset-data" and argv[1:2] in (["once-per-round"], ["always"]):
            reset_mode = argv[1]
            argv = argv[2:]
        else:
            sys.exit("flood.py: unknown option %r (see its docstring)" % " ".join(argv[:2]))
    if do_flood is None:
        do_flood = reset_mode is None
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
    session = Session(receiver, report, do_flood, during, reset_mode, kill_after)
    pending = b""
    out = receiver.stdout
    while True:
        data = os.read(out.fileno(), 65536)
        if not data:
            break
        if not session.watching():
            to_source(data)
            continue
        pending += data
        line_end = pending.find(b"\n")
        while line_end >= 0:
            to_source(session.line(pending[:line_end + 1]))
            pending = pending[line_end + 1:]
            line_end = pending.find(b"\n")
        # A control line is at most 64 KiB: longer is not one to look at.
        if not session.watching() or len(pending) > 65536:
            to_source(pending)
            pending = b""
    if pending:
        to_source(pending)
    rc = receiver.wait()
    session.finish()
    sys.exit(rc)


if __name__ == "__main__":
    main()

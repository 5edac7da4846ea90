#!/usr/bin/env python3
"""netfault.py - misbehaving TCP peers on 127.0.0.1 for the remote tests.

  netfault.py stall PORTFILE
      accept connections and never say anything (a server that hangs)
  netfault.py cut PORTFILE TARGET_PORT NBYTES
      a proxy to 127.0.0.1:TARGET_PORT that closes both sides once NBYTES
      bytes have come from the server (a connection lost mid-transfer)
  netfault.py imap PORTFILE VARIANT
      a plaintext IMAP server that logs anyone in, has two messages, and
      answers the fetch of the index (VARIANT index-*) or of the texts
      (body-*) with one kind of malformed response (see BAD below)

The listening port is written to PORTFILE once the socket listens, and
the process's PID to PORTFILE.pid.  Runs until killed.
"""
import os
import select
import socket
import sys


def listen(portfile):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    # our own PID: a shell's $! may be a wrapper's (pyenv shims)
    with open(portfile + ".pid", "w") as f:
        f.write("%d\n" % os.getpid())
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(tmp, portfile)
    return s


def stall(portfile):
    s = listen(portfile)
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)


def cut(portfile, target, limit):
    # one connection at a time, in this process: killing it ends all
    s = listen(portfile)
    while True:
        c, _ = s.accept()
        u = socket.create_connection(("127.0.0.1", target))
        sent = 0
        while True:
            r, _, _ = select.select([c, u], [], [])
            if c in r:
                d = c.recv(65536)
                if not d:
                    break
                u.sendall(d)
            if u in r:
                d = u.recv(65536)
                if not d:
                    break
                if sent + len(d) >= limit:
                    c.sendall(d[: limit - sent])
                    break
                c.sendall(d)
                sent += len(d)
        c.close()
        u.close()


GOOD_INDEX = (b"* 1 FETCH (UID 1 FLAGS (\\Seen) INTERNALDATE "
              b"\"01-Jan-2020 00:00:00 +0000\" RFC822.SIZE 5)\r\n"
              b"* 2 FETCH (UID 2 FLAGS () INTERNALDATE "
              b"\"01-Jan-2020 00:00:00 +0000\" RFC822.SIZE 5)\r\n")
GOOD_BODY = (b"* 1 FETCH (UID 1 BODY[] {5}\r\nab\r\n)\r\n"
             b"* 2 FETCH (UID 2 BODY[] {5}\r\ncd\r\n)\r\n")
BAD = {
    "index-tag": b"B999 OK wrong tag\r\n",
    "index-trunc": b"* 1 FETCH (UID 1 FLAGS (\\Seen\r\n",
    "index-date": b"* 1 FETCH (UID 1 INTERNALDATE \"yesterday\")\r\n",
    "index-flags": b"* 1 FETCH (UID 1 FLAGS \"x\")\r\n",
    "index-binary": bytes(range(256)) + b"\r\n",
    "index-longline": b"* " + b"x" * (1 << 21) + b"\r\n",
    "index-close": b"",
    "body-biglit": b"* 1 FETCH (UID 1 BODY[] {99999999999999999}\r\nab",
    "body-shortlit": b"* 1 FETCH (UID 1 BODY[] {500}\r\nab",
    "body-nolit": b"* 1 FETCH (UID 1 BODY[] (a b))\r\n",
    "body-manylit": b"* 1 FETCH (UID 1 " +
                    b"X {1}\r\nz " * 20 + b")\r\n",
    "body-unknown-uid": b"* 9 FETCH (UID 77 BODY[] {2}\r\nzz)\r\n",
    "body-expunged": b"* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n",
}


def imap(portfile, variant):
    bad = BAD[variant]
    s = listen(portfile)
    while True:
        c, _ = s.accept()
        f = c.makefile("rb")
        c.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] evil\r\n")
        try:
            for line in f:
                words = line.split()
                if len(words) < 2:
                    break
                tag, cmd = words[0], words[1].upper()
                ok = tag + b" OK done\r\n"
                if cmd == b"AUTHENTICATE":
                    c.sendall(b"+ \r\n")
                    f.readline()
                    c.sendall(ok)
                elif cmd in (b"SELECT", b"EXAMINE"):
                    c.sendall(b"* 2 EXISTS\r\n* OK [UIDVALIDITY 5] x\r\n"
                              b"* OK [UIDNEXT 3] x\r\n" + ok)
                elif cmd == b"UID" and b"BODY.PEEK" not in line:
                    if variant.startswith("index-"):
                        if not bad:
                            break
                        c.sendall(bad + ok)
                    else:
                        c.sendall(GOOD_INDEX + ok)
                elif cmd == b"UID":
                    c.sendall((bad if variant.startswith("body-")
                               else GOOD_BODY) + ok)
                elif cmd == b"LOGOUT":
                    c.sendall(b"* BYE bye\r\n" + ok)
                    break
                else:
                    c.sendall(ok)
        except OSError:
            pass
        f.close()
        c.close()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "stall":
        stall(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "imap":
        imap(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "cut":
        cut(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(64)


if __name__ == "__main__":
    main()

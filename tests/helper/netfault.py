#!/usr/bin/env python3
"""netfault.py - misbehaving TCP peers on 127.0.0.1 for the remote tests.

  netfault.py stall PORTFILE
      accept connections and never say anything (a server that hangs)
  netfault.py cut PORTFILE TARGET_PORT NBYTES
      a proxy to 127.0.0.1:TARGET_PORT that closes both sides once NBYTES
      bytes have come from the server (a connection lost mid-transfer)

The listening port is written to PORTFILE once the socket listens.  Runs
until killed.
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
    s = listen(portfile)
    while True:
        c, _ = s.accept()
        if os.fork() == 0:
            s.close()
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
            c.shutdown(socket.SHUT_RDWR)
            c.close()
            u.close()
            os._exit(0)
        c.close()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "stall":
        stall(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "cut":
        cut(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(64)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""ptyrun.py - run a full-screen program (mutt) on a pseudo-terminal.

  ptyrun.py LOG SECONDS CMD [ARG...]

CMD runs on a new 24x80 pty whose screen output is written to LOG.  Nothing
is typed: the program gets its work from its own arguments (mutt's -e
'push ...').  ptyrun returns when CMD has exited and the pty is drained,
with CMD's exit status; if CMD is still running after SECONDS (it waits
for a key nobody will type), it is killed and ptyrun exits 124.
"""
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time


def main():
    if len(sys.argv) < 4:
        sys.stderr.write('usage: ptyrun.py LOG SECONDS CMD [ARG...]\n')
        return 2
    log, limit, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    pid, fd = pty.fork()
    if pid == 0:
        # the size is set before the program starts: no race with it
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            sys.stderr.write('ptyrun.py: %s: %s\n' % (argv[0], e.strerror))
        os._exit(127)
    end = time.monotonic() + limit
    with open(log, 'wb') as out:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                sys.stderr.write('ptyrun.py: %s still running after %gs, '
                                 'killed\n' % (argv[0], limit))
                return 124
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the program and its children are gone
                break
            if not data:
                break
            out.write(data)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == '__main__':
    sys.exit(main())

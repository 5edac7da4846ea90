#!/usr/bin/env python3
"""imapfetch.py - FETCH data from an IMAP server, and comparisons.

  imapfetch.py fetch CMD...     run the IMAP server CMD (preauthenticated,
                                on stdin/stdout), SELECT INBOX, FETCH
                                1:* (ENVELOPE BODY BODYSTRUCTURE
                                RFC822.SIZE); print one line per message
                                in mimetool's canonical form
  imapfetch.py net HOST PORT   the same over TCP, after LOGIN test pw
  imapfetch.py canon FILE       mimetool fetch output, canonical form
Canonical form: "N ITEM VALUE" lines, strings always quoted, literals
turned into quoted strings with escapes, atoms upper case.
"""
import imaplib
import sys

def parse(b, i=0):
    """Parse one IMAP value at b[i:]; return (value, next index)."""
    while b[i:i+1] == b' ':
        i += 1
    c = b[i:i+1]
    if c == b'(':
        i += 1
        out = []
        while True:
            while b[i:i+1] == b' ':
                i += 1
            if b[i:i+1] == b')':
                return out, i + 1
            v, i = parse(b, i)
            out.append(v)
    if c == b'"':
        i += 1
        s = bytearray()
        while b[i:i+1] != b'"':
            if b[i:i+1] == b'\\':
                i += 1
            s += b[i:i+1]
            i += 1
        return ('s', bytes(s)), i + 1
    if c == b'{':
        j = b.index(b'}', i)
        n = int(b[i+1:j])
        k = j + 1
        if b[k:k+2] == b'\r\n':
            k += 2
        return ('s', b[k:k+n]), k + n
    j = i
    while j < len(b) and b[j:j+1] not in (b' ', b')', b'(', b'\r', b'\n'):
        j += 1
    return ('a', b[i:j].upper()), j

def show(v):
    if isinstance(v, list):
        return '(' + ' '.join(show(x) for x in v) + ')'
    if v[0] == 's':
        return '"' + v[1].decode('utf-8', 'backslashreplace').replace(
            '\\', '\\\\').replace('"', '\\"').replace('\r', '\\r').replace(
            '\n', '\\n') + '"'
    return v[1].decode()

def canon_line(b):
    """b: b'N (ITEM VALUE ...)' -> list of 'N ITEM VALUE' lines."""
    sp = b.index(b' ')
    n = int(b[:sp])
    v, _ = parse(b, sp + 1)
    lines = []
    for k in range(0, len(v), 2):
        lines.append('%d %s %s' % (n, v[k][1].decode(), show(v[k + 1])))
    return sorted(lines)

def fetch(cmd=None, host=None, port=None):
    if cmd is not None:
        m = imaplib.IMAP4_stream(cmd)
    else:
        m = imaplib.IMAP4(host, port, timeout=60)
        m.login('test', 'pw')
    m.select('INBOX')
    typ, d = m.fetch('1:*', '(ENVELOPE BODY BODYSTRUCTURE RFC822.SIZE)')
    out = []
    cur = b''
    for x in d:
        if isinstance(x, tuple):
            cur += x[0] + x[1]
        else:
            cur += x
            out += canon_line(cur)
            cur = b''
    m.logout()
    return out

def main():
    if sys.argv[1] == 'fetch':
        lines = fetch(cmd=' '.join(sys.argv[2:]))
    elif sys.argv[1] == 'net':
        lines = fetch(host=sys.argv[2], port=int(sys.argv[3]))
    else:
        lines = []
        with open(sys.argv[2], 'rb') as f:
            data = f.read()
        # "N (...)" responses one after another; literals may hold
        # line ends, so parse the stream, not lines
        i = 0
        while True:
            while i < len(data) and data[i:i+1] in (b'\n', b'\r', b' '):
                i += 1
            if i >= len(data):
                break
            sp = data.index(b' ', i)
            v, j = parse(data, sp + 1)
            lines += canon_line(data[i:j])
            i = j
    for l in lines:
        print(l)

main()

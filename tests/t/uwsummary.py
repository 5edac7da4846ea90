#!/usr/bin/env python3
"""uwsummary.py - what a unix mailbox written by mailbag or by UW holds.

  uwsummary.py FILE

Line 1: "box VALIDITY" (from X-IMAP or X-IMAPbase, 0 without).  Then one
tab-separated line per message (UW's pseudo-message left out): X-UID,
flags (R D F A T), O, sorted keywords, subject, md5 of the body with CRs
dropped.  "-" stands for an empty field.
"""
import hashlib, re, sys
data = open(sys.argv[1], 'rb').read()
FROM = re.compile(rb'^From \S+ [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] ')
msgs, cur = [], None
for line in data.split(b'\n'):
    if FROM.match(line):
        cur = []
        msgs.append(cur)
    elif cur is not None:
        cur.append(line.rstrip(b'\r'))
out, validity = [], 0
for lines in msgs:
    hdr, j = {}, 0
    while j < len(lines) and lines[j] != b'':
        m = re.match(rb'^(Status|X-Status|X-Keywords|X-UID|X-IMAP|X-IMAPbase|Subject):(.*)$', lines[j])
        if m:
            hdr.setdefault(m.group(1).decode(), m.group(2).decode('latin-1').strip())
        j += 1
    base = hdr.get('X-IMAP', hdr.get('X-IMAPbase'))
    if base:
        validity = int(base.split()[0])
        if 'X-IMAP' in hdr:
            continue
    st = hdr.get('Status', '') + hdr.get('X-Status', '')
    body = b'\n'.join(lines[j + 1:]).rstrip(b'\n')
    out.append('\t'.join([hdr.get('X-UID', '-'),
                          ''.join(c for c in 'RDFAT' if c in st) or '-',
                          'O' if 'O' in st else '-',
                          ' '.join(sorted(hdr.get('X-Keywords', '').split())) or '-',
                          hdr.get('Subject', '-'),
                          hashlib.md5(body).hexdigest()]))
print('box %d' % validity)
print('\n'.join(out))

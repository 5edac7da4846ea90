#!/usr/bin/env python3
# mbparse.py FILE: what UW's unix/mmdf drivers see in FILE (spec 2.2-2.5).
# Line 1: "box VALIDITY NEXT" (NEXT: the UID the next message gets once UW
# has assigned UIDs; VALIDITY 0 when none).  Then one line per message,
# tab-separated: X-UID (- if none), the UID UW gives it, flags R D F A T,
# O or -, sorted keywords, subject, md5 of the body (CRs and one level of
# ">From " quoting removed, trailing newlines dropped).
import hashlib, re, sys

FROM = re.compile(rb'^From .*[ ][A-Za-z]{3} [A-Za-z]{3} [ 0-9][0-9] '
                  rb'[0-9]{2}:[0-9]{2}(:[0-9]{2})?'
                  rb'( [A-Z]{3}| [+-][0-9]{4})? [0-9]{4}'
                  rb'( [A-Z]{3}| [+-][0-9]{4})?( remote from \S+)?\r?$')
data = open(sys.argv[1], 'rb').read()
msgs = []
if data.startswith(b'\1\1\1\1\n'):
    for part in data.split(b'\1\1\1\1\n'):
        if part.strip(b'\n') == b'':
            continue
        lines = part.split(b'\n')
        if FROM.match(lines[0]):
            lines = lines[1:]
        msgs.append(lines)
else:
    cur = None
    for line in data.lstrip(b'\r\n \t').split(b'\n'):
        if FROM.match(line):
            cur = []
            msgs.append(cur)
        elif cur is not None:
            cur.append(line)
validity = last = 0
kwdefs = []
out = []
prev = 0
for i, lines in enumerate(msgs):
    hdr = {}
    j = 0
    while j < len(lines) and lines[j].rstrip(b'\r') != b'':
        m = re.match(rb'^(Status|X-Status|X-Keywords|X-UID|X-IMAP|X-IMAPbase|Subject):(.*)$',
                     lines[j].rstrip(b'\r'))
        if m:
            hdr.setdefault(m.group(1).decode(), m.group(2).decode('latin-1').strip())
        j += 1
    body = b'\n'.join(l.rstrip(b'\r') for l in lines[j + 1:])
    body = re.sub(rb'(?m)^>From ', b'From ', body).rstrip(b'\n')
    base = hdr.get('X-IMAP', hdr.get('X-IMAPbase'))
    if i == 0 and base:
        f = base.split()
        validity, last, kwdefs = int(f[0]), int(f[1]), f[2:]
        if 'X-IMAP' in hdr:
            continue              # the pseudo-message
    st = hdr.get('Status', '') + hdr.get('X-Status', '')
    flags = ''.join(c for c in 'RDFAT' if c in st) or '-'
    xuid = hdr.get('X-UID')
    if xuid is not None and int(xuid) <= prev:
        validity = -1             # UW renumbers everything
    if xuid is not None and int(xuid) > prev:
        uid = int(xuid)
        last = max(last, uid)
    else:
        last += 1
        uid = last
    prev = uid
    kws = ' '.join(sorted(k for k in hdr.get('X-Keywords', '').split()
                          if k.lower() in [d.lower() for d in kwdefs])) or '-'
    out.append('\t'.join([xuid or '-', str(uid), flags,
                          'O' if 'O' in st else '-', kws,
                          hdr.get('Subject', '-'),
                          hashlib.md5(body).hexdigest()]))
if validity <= 0:   # UW starts afresh: new validity, UIDs from 1
    out = ['\t'.join(l.split('\t')[:1] + [str(n + 1)] + l.split('\t')[2:])
           for n, l in enumerate(out)]
    last = len(out)
print('box %d %d' % (max(validity, 0), last + 1))
for l in out:
    print(l)

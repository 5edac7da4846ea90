#!/usr/bin/env python3
# mbsum.py FORMAT FILE: one JSON line per message of a unix ("mbox") or
# mmdf FILE as Python's mailbox module splits it, plus a first line with
# the UID state; UW's internal headers are taken out of the text and
# reported as flags/keywords/uid.  The pseudo-message is left out.
import json, mailbox, sys

fmt, path = sys.argv[1], sys.argv[2]
box = (mailbox.mbox if fmt == "unix" else mailbox.MMDF)(path, create=False)
NAMES = {b"Status": "status", b"X-Status": "status", b"X-Keywords": "kw",
         b"X-UID": "uid", b"X-IMAP": "ximap", b"X-IMAPbase": "ximapbase"}
state = {"validity": None, "uidlast": None, "keywords": None}
msgs = []
for i, key in enumerate(box.iterkeys()):
    raw = box.get_bytes(key, from_=True)
    lines = raw.splitlines(keepends=True)
    fromline, lines = lines[0], lines[1:]
    text, flags, kws, uid, ximap, pseudo = [], set(), [], None, None, False
    header = True
    for ln in lines:
        if header and ln in (b"\n", b"\r\n"):
            header = False
        name = ln.split(b":", 1)[0] if header and b":" in ln else None
        if name in NAMES:
            v = ln.split(b":", 1)[1].strip()
            kind = NAMES[name]
            if kind == "status":
                flags.update(chr(c) for c in v)
            elif kind == "kw":
                kws += [k.decode() for k in v.split()]
            elif kind == "uid":
                uid = int(v)
            else:
                ximap = v.split()
                pseudo = pseudo or kind == "ximap"
            continue
        text.append(ln)
    if i == 0 and ximap:
        state = {"validity": int(ximap[0]), "uidlast": int(ximap[1]),
                 "keywords": sorted(k.decode() for k in ximap[2:])}
    if i == 0 and pseudo:
        continue
    msgs.append({"from": fromline.decode("latin-1"),
                 "flags": "".join(sorted(flags)), "keywords": sorted(kws),
                 "uid": uid, "text": b"".join(text).decode("latin-1")})
print(json.dumps(state, sort_keys=True))
for m in msgs:
    print(json.dumps(m, sort_keys=True))

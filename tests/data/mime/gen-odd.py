#!/usr/bin/env python3
"""gen-odd.py DIR - odd and broken messages for the MIME engine's tests,
one file each (odd-NN.eml): structures, encodings and header syntax that
real mail gets wrong, written here because no corpus has them all."""
import base64
import os
import sys

M = []
def add(s):
    M.append(s.encode('utf-8') if isinstance(s, str) else s)

# 1 deep nesting
inner = 'Content-Type: text/plain\n\ndeep\n'
for i in range(12):
    inner = ('Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n%s--b%d--\n'
             % (i, i, inner, i))
add('From: a@b\nSubject: deep\n' + inner)
# 2 an outer boundary closes inner multiparts
add('From: a@b\nContent-Type: multipart/mixed; boundary=outer\n\n--outer\n'
    'Content-Type: multipart/alternative; boundary=inner\n\n--inner\n'
    'Content-Type: text/plain\n\nunclosed inner\n--outer\n'
    'Content-Type: text/html\n\n<p>x</p>\n--outer--\n')
# 3 no close delimiter at all
add('From: a@b\nContent-Type: multipart/mixed; boundary=zz\n\npreamble\n'
    '--zz\nContent-Type: text/plain\n\none\n--zz\n\ntwo\nlast line')
# 4 CR LF everywhere
add('From: a@b\r\nSubject: crlf\r\nContent-Type: multipart/mixed; '
    'boundary="c"\r\n\r\n--c\r\nContent-Type: text/plain; charset=utf-8\r\n'
    '\r\nline 1\r\nline 2\r\n--c\r\nContent-Type: application/pdf\r\n'
    'Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--c--\r\n')
# 5 header only, no body, no final newline
add('From: a@b\nSubject: no body')
# 6 raw 8-bit UTF-8 headers and encoded-words
add('From: =?UTF-8?Q?J=C3=BCrgen?= <j@x.de>\nTo: "Ünïcode" <u@x.de>\n'
    'Subject: =?ISO-8859-1?Q?caf=E9?= =?UTF-8?B?w6lsw6h2ZQ==?= plain\n'
    'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n'
    '\nGrüße\n')
# 7 RFC 2231 parameters in every form
add('From: a@b\nContent-Type: multipart/mixed; boundary=p\n\n--p\n'
    'Content-Type: application/octet-stream;\n'
    " name*0*=iso-8859-1'fr'caf%E9;\n name*1=\".txt\"\n"
    'Content-Disposition: attachment;\n'
    " filename*=UTF-8''r%C3%A9sum%C3%A9.pdf; size=10;\n"
    ' creation-date="Mon, 1 Jan 2001 00:00:00 +0000"\n'
    'Content-Language: fr, en-GB\nContent-Location: http://x/y\n'
    'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\nContent-ID: <id1@x>\n'
    'Content-Description: a file\n\nxxxx\n--p--\n')
# 8 message/rfc822 with base64 encoding (stays opaque) and a plain one
add('From: a@b\nContent-Type: multipart/mixed; boundary=r\n\n--r\n'
    'Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n' +
    base64.encodebytes(b'Subject: hidden\n\nbody\n').decode() +
    '--r\nContent-Type: message/rfc822\n\nFrom: x@y\nSubject: shown\n'
    'Content-Type: multipart/alternative; boundary=q\n\n--q\n\nin q\n--q--\n'
    '--r--\n')
# 9 empty multipart, digest defaults
add('From: a@b\nContent-Type: multipart/digest; boundary=d\n\n--d\n\n'
    'Subject: in digest\n\ndigest body\n--d\nContent-Type: text/plain\n\n'
    'typed\n--d--\n')
# 10 addresses: groups, routes, missing parts, comments, escapes
add('From: "Doe, \\"J\\"" <jd@x.org>, (c) plain@x.org (Plain Name)\n'
    'To: Friends: a@b, "B" <b@c>;, undisclosed-recipients:;\n'
    'Cc: <@r1,@r2:route@h>, nodomain, Name Only <>\n'
    'Bcc: =?UTF-8?B?w4Q=?= <ae@x>\nReply-To: "" <empty@name>\n'
    'Sender: s@x\nIn-Reply-To: <a@b> <c@d>\nMessage-ID: <m@x>\n'
    'Date: 1 Jan 2001 00:00 GMT\nSubject: addrs\n\nbody\n')
# 11 duplicate fields, obsolete "Name :" syntax, folding with tabs
add('From : first@x\nFrom: second@x\nSubject: one\n\tfolded\nSubject: two\n'
    'To: a@b\nTo: c@d\nContent-Type: text/plain\nContent-Type: text/html\n'
    '\nbody\n')
# 12 boundary prefixes and transport padding
add('From: a@b\nContent-Type: multipart/mixed; boundary=ab\n\n--ab   \n\n'
    'one\n--abc\nnot a boundary? it is: prefix\n--ab--  \nepilogue\n')
# 13 type without subtype, unknown encoding, uppercase
add('From: a@b\nContent-Type: TEXT\nContent-Transfer-Encoding: X-UUENCODE\n'
    '\nbegin 644 x\n`\nend\n')
# 14 quoted-printable with long lines and soft breaks
add('From: a@b\nContent-Type: text/plain; charset=iso-8859-15\n'
    'Content-Transfer-Encoding: quoted-printable\n\n' +
    ('=A4uro ' * 20) + '=\n' + 'x' * 300 + '\n')
# 15 message/global and a charset-less text with 8-bit bytes
add(b'From: a@b\nContent-Type: multipart/mixed; boundary=g\n\n--g\n'
    b'Content-Type: message/global\n\nSubject: gl\n\nhi\n--g\n\n\xe9t\xe9\n--g--\n')
# 16 a very long header line and a long subject
add('From: a@b\nX-Long: ' + 'y' * 5000 + '\nSubject: ' +
    ' '.join(['word'] * 200) + '\n\nbody\n')

os.makedirs(sys.argv[1], exist_ok=True)
for i, m in enumerate(M, 1):
    with open(os.path.join(sys.argv[1], 'odd-%02d.eml' % i), 'wb') as f:
        f.write(m)

#!/usr/bin/env python3
"""gen-search.py OUT - the mailbox of tests/t/t6000-search.sh.

Eight messages in a UW unix mbox with UW's flags (Status, X-Status),
keyword ($Junk) and UIDs, in several charsets and transfer encodings.
"""
import base64
import quopri
import sys

def msg(frm_line, headers, body, charset=None):
    return frm_line, headers, body

out = []
def add(date_line, hdr, body):
    if isinstance(body, str):
        body = body.encode()
    out.append(b'From sender@example.org ' + date_line.encode() + b'\n' +
               hdr.encode('latin-1') + b'\n' + body)

add('Mon Jan  6 10:00:00 2020',
    'X-IMAPbase: 1234 20 $Junk\nFrom: Alice <alice@example.org>\n'
    'To: bob@example.org\nSubject: Hello world\n'
    'Date: Mon, 6 Jan 2020 10:00:00 +0000\nX-Mailer: gen\n'
    'Status: RO\nX-UID: 3\n',
    'Plain text, nothing special.\n')
add('Tue Feb  4 10:00:00 2020',
    'From: Bob <bob@example.org>\nTo: alice@example.org\n'
    'Subject: =?ISO-8859-1?Q?Caf=E9?= menu\n'
    'Date: Tue, 4 Feb 2020 10:00:00 +0100\nMIME-Version: 1.0\n'
    'Content-Type: text/plain; charset=ISO-8859-1\n'
    'Content-Transfer-Encoding: quoted-printable\nStatus: O\nX-UID: 4\n',
    quopri.encodestring('Un caf\xe9 cr\xe8me, s\'il vous pla\xeet.\n'
                        .encode('latin-1')))
alt = ('--alt\nContent-Type: text/plain; charset=utf-8\n'
       'Content-Transfer-Encoding: base64\n\n' +
       base64.encodebytes('Viele Grüße aus Köln\n'.encode()).decode() +
       '--alt\nContent-Type: text/html; charset=utf-8\n\n'
       '<p>Viele Gr&uuml;&szlig;e</p>\n--alt--\n')
add('Wed Mar  4 10:00:00 2020',
    'From: carol@example.org\nTo: bob@example.org\nCc: dave@example.org\n'
    'Subject: Greetings\nDate: Wed, 4 Mar 2020 10:00:00 +0000\n'
    'MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=alt\n'
    'X-UID: 5\n', alt)
add('Thu Apr  2 10:00:00 2020',
    'From: ivan@example.ru\nTo: bob@example.org\nSubject: privet\n'
    'Date: Thu, 2 Apr 2020 10:00:00 +0300\nMIME-Version: 1.0\n'
    'Content-Type: text/plain; charset=koi8-r\n'
    'Content-Transfer-Encoding: 8bit\nX-Keywords: $Junk\nX-UID: 6\n',
    'Привет, мир!\n'.encode('koi8-r'))
add('Fri May  1 10:00:00 2020',
    'From: taro@example.jp\nTo: bob@example.org\n'
    'Subject: =?ISO-2022-JP?B?' +
    base64.b64encode('日本の夏'.encode('iso-2022-jp')).decode() + '?=\n'
    'Date: Fri, 1 May 2020 10:00:00 +0900\nMIME-Version: 1.0\n'
    'Content-Type: text/plain; charset=Shift_JIS\n'
    'Content-Transfer-Encoding: 8bit\nX-UID: 7\n',
    '日本語のテキスト\n'.encode('shift_jis'))
add('Sat Jun  6 10:00:00 2020',
    'From: bob@example.org\nTo: list@example.org\nSubject: big one\n'
    'Date: Sat, 6 Jun 2020 10:00:00 +0000\n'
    'Status: RO\nX-Status: AFD\nX-UID: 8\n',
    ''.join('line %05d of filler text\n' % i for i in range(400)))
mixed = ('--m\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n' +
         base64.encodebytes(b'needle 42\nhay\n').decode() +
         '--m\nContent-Type: application/octet-stream\n'
         'Content-Transfer-Encoding: base64\n\n' +
         base64.encodebytes(b'secretword in a binary\n').decode() +
         '--m--\n')
add('Sun Jul  5 10:00:00 2020',
    'From: eve@example.org\nTo: bob@example.org\nSubject: attachment\n'
    'Date: Sun, 5 Jul 2020 10:00:00 +0000\nMIME-Version: 1.0\n'
    'Content-Type: multipart/mixed; boundary=m\nStatus: R\nX-UID: 9\n',
    mixed)
add('Mon Aug  3 10:00:00 2020',
    'From: Alice <alice@example.org>\nTo: bob@example.org\n'
    'Subject: Re: Hello world\nDate: Mon, 3 Aug 2020 10:00:00 +0000\n'
    'In-Reply-To: <1@example.org>\nX-UID: 12\n',
    'Quoted:\n>From the start\n')
with open(sys.argv[1], 'wb') as f:
    f.write(b'\n'.join(out) + b'\n')

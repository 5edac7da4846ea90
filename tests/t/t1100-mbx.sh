#!/bin/bash
test_description='mbx: UW reads what mailbag writes and the other way round'
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"

# summary FILE: one line per message of a unix mailbox written by mailbag
# convert: X-UID, flags (R D F A T, O), sorted keywords, subject, md5 of
# the body with CRs dropped.  Line 1: "box VALIDITY".
cat >"$TRASH/summary.py" <<'PY'
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
PY
summary() { python3 "$TRASH/summary.py" "$1"; }

# mb_json FILE KEY...: values from `mailbag check --json FILE`.
mb_json() {
	local f=$1
	shift
	mailbag check --json "$f" >"$TRASH/json.out" || :
	python3 -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o.get("type") == "mailbox":
        for k in sys.argv[2:]:
            print(o[k])
' "$TRASH/json.out" "$@"
}

# --- without UW: samples and damage

test_expect_success 'UW samples (mailutil, tmail -b mbx, dmail) read with their counts' '
	for f in mbx-new-empty:0:1 mbx-appended-no-uids:2:3 \
		mbx-after-rw-open-uids-assigned:2:3 mbx-with-keywords:2:4 \
		mbx-shared-expunge-hidden:0:3 tmail-mbx-inbox:2:3 \
		tmail-folder-mbx:1:2 dmail-kw-seen:3:5; do
		n=${f%%:*} && rest=${f#*:} &&
		echo "mbx ${rest%%:*} ${rest#*:}" >exp &&
		mailbag check "$DATA/mbx/$n.mbx" &&
		mb_json "$DATA/mbx/$n.mbx" format messages uidnext | tr "\n" " " |
			sed "s/ $//" >got && echo >>got &&
		test_cmp exp got || return 1
	done
'

test_expect_success 'keywords and flags of the dmail sample' '
	mailbag convert --to unix "$DATA/mbx/dmail-kw-seen.mbx" dm.mbox &&
	summary dm.mbox | sed 1d | cut -f1-4 >got &&
	printf "2\tRF\t-\t\$Label1 NonJunk\n3\tR\t-\tJunk\n4\tR\t-\tJunk\n" >exp &&
	test_cmp exp got
'

# plant SED-EXPR: the rw-open sample with its second header line edited.
plant() {
	python3 - "$DATA/mbx/mbx-after-rw-open-uids-assigned.mbx" "$1" "$2" <<-'PY'
	import sys
	d = open(sys.argv[1], 'rb').read()
	old = b'10-Dec-1992 11:00:00 +0000,29;000000000032-00000002'
	open(sys.argv[3], 'wb').write(d.replace(old, sys.argv[2].encode()))
	PY
}

test_expect_success 'check: UW wording and offsets for planted damage (exit 65)' '
	plant "10-Dec-1992 11:00:00 +0000,29;0000000000z2-00000002" d1.mbx &&
	test_expect_code 65 mailbag check d1.mbx >out &&
	test_grep "d1.mbx: at byte 2288: Unable to parse message flags at 2288: 10-Dec-1992 11:00:00 +0000,29;0000000000z2-00000002 (message 2)" out &&
	test_grep "1 messages" out &&
	plant "10-Dec-1992 11:00:00 +0000,99;000000000032-00000002" d2.mbx &&
	test_expect_code 65 mailbag check d2.mbx >out &&
	test_grep "at byte 2288: Last message (at 2288) runs past end of file (2440 > 2370)" out &&
	plant "10-Dec-1992 11:00:00 +0000;29,000000000032-00000002" d3.mbx &&
	test_expect_code 65 mailbag check d3.mbx >out &&
	test_grep "Unable to parse internal header at 2288: " out &&
	plant "10-Dec-1992 11:00:00 +0000,29;000000000032-00000001" d4.mbx &&
	test_expect_code 65 mailbag check d4.mbx >out &&
	test_grep "at byte 2288: Invalid UID 00000001 in message 2" out &&
	plant "1O-Dec-1992 11:00:00 +0000,29;000000000032-00000002" d5.mbx &&
	test_expect_code 65 mailbag check d5.mbx >out &&
	test_grep "Unable to parse message date at 2288: 1O-Dec-1992 11:00:00 +0000" out
'

test_expect_success 'convert refuses a damaged mbx instead of copying part of it' '
	test_must_fail mailbag convert --to unix d1.mbx d1.mbox 2>err &&
	test_grep "Unable to parse message flags at 2288" err &&
	test ! -e d1.mbox
'

# A varied source: flags, keywords, UIDs with gaps, recent messages, From
# lines in bodies, 8-bit text, a message without a final newline.
test_expect_success 'setup: a varied unix mailbox, converted to mbx and back' '
	{
	printf "From alice@example.com Wed Dec  2 05:53:22 1992\n"
	printf "Date: Wed, 2 Dec 1992 05:53:22 -0800\n"
	printf "From: alice@example.com\nTo: bob@example.com\nSubject: one\n"
	printf "X-IMAPbase: 1234567890 0000000012 Junk NonJunk \$Label1 Work\n"
	printf "Status: RO\nX-Status: FA\nX-Keywords: NonJunk \$Label1\nX-UID: 3\n\n"
	printf "Hello Bob.\nFrom the start this line begins with From.\n"
	printf ">From already quoted line.\nCaf\303\251 na\303\257ve \351t\351\n\n"
	printf "From bob@example.com Thu Dec 10 11:00:07 1992\n"
	printf "Subject: two\nStatus: O\nX-Status: DT\nX-Keywords: Junk\nX-UID: 5\n\n"
	printf "Body two\n\n"
	printf "From carol@example.com Fri Dec 11 12:00:00 PST 1992\n"
	printf "Subject: three\nStatus: R\nX-UID: 8\n\n"
	printf "body three\nFrom here on, a body line\n\n"
	printf "From dave@example.com Sat Dec 12 13:14:15 1992 -0700\n"
	printf "Subject: four\nX-Keywords: Work Junk\nX-UID: 9\n\n"
	printf "four \344\366\374\n\n"
	printf "From erin@example.com Sun Dec 13 01:02:03 1992\n"
	printf "Subject: five\nStatus: RO\nX-Status: DFAT\n"
	printf "X-Keywords: \$Label1 NonJunk Work Junk\nX-UID: 12\n\n"
	printf "last line"
	} >src.mbox &&
	mailbag convert --to unix src.mbox ref.mbox &&
	mailbag convert --to mbx src.mbox ours.mbx &&
	test "$(mailbag formats | grep -c "^mbx")" = 1 &&
	mailbag check ours.mbx &&
	test "$(mb_json ours.mbx format messages uidvalidity uidnext | tr "\n" " ")" = "mbx 5 1234567890 13 " &&
	mailbag convert --to unix ours.mbx back.mbox &&
	summary ref.mbox >ref.sum &&
	summary back.mbox >back.sum &&
	test_cmp ref.sum back.sum
'

test_expect_success 'the mbx file: UW header, header lines, CRLF text' '
	python3 - ours.mbx <<-\PY
	import re, sys
	d = open(sys.argv[1], "rb").read()
	assert d[:25] == b"*mbx*\r\n499602d20000000c\r\n", d[:25]
	assert d[25:25 + 33] == b"NonJunk\r\n$Label1\r\nJunk\r\nWork\r\n\r\n" or \
	       d[25:25 + 33].count(b"\r\n") == 5, d[25:60]
	pos, uids = 2048, []
	while pos < len(d):
	    end = d.index(b"\r\n", pos)
	    m = re.match(rb"^[ 0-9][0-9]-[A-Z][a-z]{2}-[0-9]{4} [0-9:]{8} [-+][0-9]{4},([0-9]+);[0-9a-f]{12}-([0-9a-f]{8})$", d[pos:end])
	    assert m, d[pos:end]
	    size = int(m.group(1))
	    text = d[end + 2:end + 2 + size]
	    assert re.search(rb"(?<!\r)\n", text) is None, text
	    uids.append(int(m.group(2), 16))
	    pos = end + 2 + size
	assert pos == len(d) and uids == [3, 5, 8, 9, 12], (pos, uids)
	PY
'

test_expect_success 'append to an existing mbx, then flags kept by a reconversion' '
	cp ours.mbx app.mbx &&
	printf "From x@example.com Mon Jan  1 00:00:00 2024\nSubject: six\nStatus: RO\n\nsix\n" >six.mbox &&
	mailbag convert --append six.mbox app.mbx &&
	mailbag check app.mbx &&
	test "$(mb_json app.mbx messages uidnext | tr "\n" " ")" = "6 14 " &&
	test ! -e .app.mbx.mbtail
'

. "$TESTS_DIR/t/uw.sh"
uw_setup
if [ "$(id -u)" = 0 ] && command -v tmail >/dev/null 2>&1; then
	test_set_prereq TMAIL
fi
command -v dmail >/dev/null 2>&1 && test_set_prereq DMAIL

uw_count() {
	sed -n -e 's/^No new messages, \([0-9]*\) total in .*/\1/p' \
	    -e 's/^[0-9]* new message(s) ([0-9]* unseen), \([0-9]*\) total in .*/\1/p' "$1"
}

test_expect_success 'mailutil check counts what mailbag wrote' '
	uw_put ours.mbx ours &&
	uw_run mailutil check ours >uwcheck.out 2>&1 &&
	cat uwcheck.out &&
	test "$(uw_count uwcheck.out)" = 5 &&
	test_grep "^2 new message" uwcheck.out
'

test_expect_success 'a UW read/write open finds no invalid UID and keeps ours' '
	uw_run mailutil -verbose prune ours "subject nosuchxyz" >prune.out 2>&1
	cat prune.out &&
	test_grep "No matching messages, so nothing purged" prune.out &&
	test_grep ! -i "invalid uid" prune.out &&
	test_grep ! -i "rebuilding" prune.out &&
	uw_get ours after.mbx &&
	! cmp -s ours.mbx after.mbx &&
	test "$(mb_json after.mbx messages uidvalidity uidnext | tr "\n" " ")" = "5 1234567890 13 " &&
	mailbag convert --to unix after.mbx after.mbox &&
	summary after.mbox | cut -f1,2,4- >after.sum &&
	cut -f1,2,4- ref.sum >ref2.sum &&
	test_cmp ref2.sum after.sum &&
	summary after.mbox | sed 1d | cut -f3 | sort -u >old &&
	echo O >exp && test_cmp exp old
'

test_expect_success 'UW -kw copy into #driver.mbx: mailbag reads flags, keywords, text' '
	uw_put src.mbox src &&
	uw_run mailutil -kw copy src "#driver.mbx/kwm" >copy.out 2>&1 &&
	uw_get kwm kwm.mbx &&
	mailbag check kwm.mbx &&
	test "$(mb_json kwm.mbx format messages | tr "\n" " ")" = "mbx 5 " &&
	mailbag convert --to unix kwm.mbx kwm.mbox &&
	summary kwm.mbox | sed 1d | cut -f2,4- >got &&
	sed 1d ref.sum | cut -f2,4- >exp &&
	test_cmp exp got
'

test_expect_success 'the UIDs mailbag predicts for a -kw copy are the ones UW gives' '
	summary kwm.mbox | sed 1d | cut -f1 >pred &&
	uw_run mailutil -verbose prune kwm "subject nosuchxyz" >prune.out 2>&1
	test_grep ! -i "invalid uid" prune.out &&
	uw_get kwm kwm2.mbx &&
	python3 -c "
import re, sys
d = open(sys.argv[1], \"rb\").read()[2048:]
for m in re.finditer(rb\"[^\r\n]*,[0-9]+;[0-9a-f]{12}-([0-9a-f]{8})\r\n\", d):
    print(int(m.group(1), 16))
" kwm2.mbx >real &&
	test_cmp pred real
'

test_expect_success 'mailbag appends to a UW mbx that UW then opens cleanly' '
	mailbag convert --append six.mbox kwm2.mbx &&
	uw_put kwm2.mbx kwm3 &&
	uw_run mailutil -verbose prune kwm3 "subject nosuchxyz" >prune.out 2>&1
	cat prune.out &&
	test_grep ! -i "invalid uid" prune.out &&
	uw_run mailutil check kwm3 >c.out 2>&1 &&
	test "$(uw_count c.out)" = 6 &&
	uw_get kwm3 kwm3.mbx &&
	test "$(mb_json kwm3.mbx messages | tr "\n" " ")" = "6 "
'

test_expect_success 'a UW append into a mailbag-made mbx, read back' '
	mailbag convert --to mbx six.mbox mine.mbx &&
	uw_put mine.mbx mine &&
	uw_run mailutil append src mine >a.out 2>&1 &&
	uw_get mine mine2.mbx &&
	mailbag check mine2.mbx &&
	test "$(mb_json mine2.mbx messages | tr "\n" " ")" = "6 "
'

test_expect_success TMAIL 'tmail -b mbx deliveries are read with the right count' '
	printf "Subject: t1\n\nline\n" >m1 &&
	printf "Subject: t2\nStatus: RO\n\nbody\n" >m2 &&
	(cd "$UW_HOME" && HOME=$UW_HOME tmail -b mbx "$UW_USER" <"$TRASH/m1") &&
	(cd "$UW_HOME" && HOME=$UW_HOME tmail -b mbx "$UW_USER" <"$TRASH/m2") &&
	uw_get INBOX tinbox.mbx &&
	test "$(mb_json tinbox.mbx format messages | tr "\n" " ")" = "mbx 2 " &&
	uw_run mailutil check INBOX >c.out 2>&1 &&
	test "$(uw_count c.out)" = 2
'

test_expect_success DMAIL 'dmail -s -k into an mbx folder is read with flags and keywords' '
	uw_run mailutil -kw copy src "#driver.mbx/dbox" &&
	printf "Subject: dmail test\nFrom: x@y\n\nbody\n" >dm1 &&
	uw_run dmail -s -k "Junk Bogus" -f ret@example.com +dbox <dm1 &&
	uw_get dbox dbox.mbx &&
	mailbag check dbox.mbx &&
	mailbag convert --to unix dbox.mbx dbox.mbox &&
	summary dbox.mbox | sed 1d | tail -1 | cut -f2,4,5 >got &&
	printf "R\tJunk\tdmail test\n" >exp &&
	test_cmp exp got
'

test_done

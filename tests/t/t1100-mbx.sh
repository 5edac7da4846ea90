#!/bin/bash
test_description='mbx: UW reads what mailbag writes and the other way round'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"

summary() { uw_summary "$1"; }

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
	uw_varied_mbox >src.mbox &&
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

uw_setup
if [ "$(id -u)" = 0 ] && command -v tmail >/dev/null 2>&1; then
	test_set_prereq TMAIL
fi
command -v dmail >/dev/null 2>&1 && test_set_prereq DMAIL

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

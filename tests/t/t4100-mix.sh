#!/bin/bash
test_description='mix: UW reads what mailbag writes and the other way round'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"

summary() { uw_summary "$1"; }

# files DIR: the mix file kinds in DIR with their sizes ("data" for data files)
files() {
	(cd "$1" && for f in .mix*; do
		case $f in .mix[0-9a-f]*[0-9a-f]) n=data ;; *) n=$f ;; esac
		echo "$n $(wc -c <"$f")"
	done) | sort
}

mbtool() { "$HELPER/mbtool" "$@"; }

# --- without UW: the sample, damage, round trip

test_expect_success 'the UW sample (-kw copy + append) reads with count, UIDs, keywords' '
	cp -r "$DATA/mix/mix-sample" sample &&
	mailbag check sample &&
	test "$(mb_json sample format messages uidvalidity uidnext keywords | tr "\n" " ")" = \
		"mix 4 1795635355 6 Junk NonJunk \$Label1 " &&
	mailbag convert --to unix sample sample.mbox &&
	summary sample.mbox >got &&
	printf "box 1795635355\n" >exp &&
	printf "2\tRF\t-\t\$Label1 NonJunk\tkw one\t%s\n" \
		"$(printf "one\n>From the middle" | md5sum | cut -d" " -f1)" >>exp &&
	printf "3\tR\t-\tJunk\tkw two\t%s\n" "$(printf two | md5sum | cut -d" " -f1)" >>exp &&
	printf "4\tRFA\t-\t-\tfirst\t%s\n" "$(printf "Hello Bob.\n>From the start this line begins with From.\n>From already quoted line." | md5sum | cut -d" " -f1)" >>exp &&
	printf "5\tDT\t-\t-\tsecond\t%s\n" "$(printf "Body two" | md5sum | cut -d" " -f1)" >>exp &&
	test_cmp exp got &&
	tr -d "\r" <sample.mbox >sample.lf &&
	grep "^From .* Thu Dec 10 11:00:07 1992 -0800$" sample.lf &&
	grep "^From .* Wed Dec  2 05:53:22 1992 +0000$" sample.lf
'

# plant FILE PY-EXPR: copy of the sample with FILE's bytes d replaced.
plant() {
	rm -rf "$3" && cp -r "$DATA/mix/mix-sample" "$3" && chmod -R u+w "$3" &&
	python3 -c "
import sys
p = sys.argv[1] + \"/\" + sys.argv[2]
d = open(p, \"rb\").read()
d = eval(sys.argv[3])
open(p, \"wb\").write(d)
" "$3" "$1" "$2"
}

test_expect_success 'check names the file and byte offset of planted damage (exit 65)' '
	plant .mix6b07389b "d.replace(b\":msg:00000004:\", b\":msg:00000009:\")" d1 &&
	test_expect_code 65 mailbag check d1 >out &&
	cat out &&
	test_grep "d1/.mixindex: at byte 165: message 3 (UID 00000004): message record at 193 in .mix6b07389b does not match the index" out &&
	plant .mixindex "d.replace(b\":0000001d:6b07389b:000001a8:\", b\":0000ff1d:6b07389b:000001a8:\")" d2 &&
	test_expect_code 65 mailbag check d2 >out &&
	test_grep "d2/.mixindex: at byte 242: .*runs past the end of data file .mix6b07389b" out &&
	plant .mixindex "d.replace(b\":00000003:1992\", b\":00000003:19x2\")" d3 &&
	test_expect_code 65 mailbag check d3 >out &&
	test_grep "d3/.mixindex: at byte 88: Error in mix index file message record" out &&
	plant .mixmeta "d.replace(b\"V6b07389b\", b\"Vzz\")" d4 &&
	test_expect_code 65 mailbag check d4 >out &&
	test_grep "d4/.mixmeta: at byte 11: Error in mix metadata file UIDVALIDITY record" out &&
	plant .mixstatus "d.replace(b\":00000003:00000001:0001:\", b\":00000003:0000000q:0001:\")" d5 &&
	test_expect_code 65 mailbag check d5 >out &&
	test_grep "d5/.mixstatus: at byte 46: Error in mix status file message record" out &&
	rm d1/.mix6b07389b &&
	test_expect_code 65 mailbag check d1 >out &&
	test_grep "d1/.mixindex: at byte 11: message 1 (UID 00000002): data file .mix6b07389b: No such file" out &&
	test_must_fail mailbag convert --to unix d2 d2.mbox &&
	test ! -e d2.mbox
'

test_expect_success 'setup: a varied unix mailbox; unix -> mix -> unix is equal' '
	uw_varied_mbox >src.mbox &&
	mailbag convert --to unix src.mbox ref.mbox &&
	mailbag convert --to mix src.mbox ours &&
	test "$(mailbag formats | grep -c "^mix")" = 1 &&
	mailbag check ours &&
	test "$(mb_json ours format messages uidvalidity uidnext | tr "\n" " ")" = "mix 5 1234567890 13 " &&
	mailbag convert --to unix ours back.mbox &&
	summary ref.mbox >ref.sum &&
	summary back.mbox >back.sum &&
	test_cmp ref.sum back.sum &&
	tr -d "\r" <back.mbox >back.lf &&
	grep "^From .* Sat Dec 12 13:14:15 1992 -0700$" back.lf &&
	grep "^From .* Fri Dec 11 12:00:00 1992 -0800$" back.lf
'

test_expect_success 'the files mailbag wrote: UW syntax' '
	python3 - ours <<-\PY
	import os, re, sys
	d = sys.argv[1]
	meta = open(d + "/.mixmeta", "rb").read()
	m = re.fullmatch(rb"S([0-9a-f]{8})\r\nV499602d2\r\nL0000000c\r\nN([0-9a-f]{8})\r\nK(.*)\r\n", meta)
	assert m, meta
	assert sorted(m.group(3).split(b" ")) == sorted([b"Junk", b"NonJunk", b"$Label1", b"Work"]), meta
	data = open(d + "/.mix" + m.group(2).decode(), "rb").read()
	idx = open(d + "/.mixindex", "rb").read().split(b"\r\n")
	assert re.fullmatch(rb"S[0-9a-f]{8}", idx[0]) and idx[-1] == b"", idx
	uids = []
	for line in idx[1:-1]:
	    f = re.fullmatch(rb":([0-9a-f]{8}):([0-9]{14}[-+][0-9]{4}):([0-9a-f]{8}):([0-9a-f]{8}):([0-9a-f]{8}):([0-9a-f]{8}):([0-9a-f]{8}):", line)
	    assert f, line
	    uid, date, size, num, pos, isz, hsz = f.groups()
	    assert num == m.group(2)
	    pos, isz, size, hsz = (int(x, 16) for x in (pos, isz, size, hsz))
	    rec = data[pos:pos + isz]
	    assert rec == b":msg:" + uid + b":" + date + b":" + f.group(3) + b":\r\n", rec
	    text = data[pos + isz:pos + isz + size]
	    assert re.search(rb"(?<!\r)\n", text) is None
	    assert text[hsz - 4:hsz] == b"\r\n\r\n", text[:hsz]
	    uids.append(int(uid, 16))
	assert uids == [3, 5, 8, 9, 12], uids
	st = open(d + "/.mixstatus", "rb").read().split(b"\r\n")
	assert len(st) == 7 and re.fullmatch(rb"S[0-9a-f]{8}", st[0])
	for line in st[1:-1]:
	    assert re.fullmatch(rb":[0-9a-f]{8}:[0-9a-f]{8}:[0-9a-f]{4}:[0-9a-f]{8}:", line), line
	PY
'

test_expect_success 'flags, new keyword, expunge with burp; bytes of kept messages intact' '
	cp -r ours fl &&
	mbtool flags fl 2 -deleted +flagged +Later -Junk &&
	mbtool flags fl 5 -deleted &&
	mbtool flags fl 3 +deleted &&
	mailbag check fl &&
	test "$(mb_json fl keywords)" = "NonJunk \$Label1 Junk Work Later" &&
	echo "1 expunged" >exp && mbtool expunge fl >got && test_cmp exp got &&
	mailbag check fl &&
	test "$(mb_json fl messages uidnext | tr "\n" " ")" = "4 13 " &&
	mailbag convert --to unix fl fl.mbox &&
	summary fl.mbox >fl.sum &&
	sed -e "/	three	/d" -e "s/^5	DT	O	Junk	/5	FT	O	Later	/" \
		-e "s/^12	RDFAT	/12	RFAT	/" ref.sum >exp &&
	test_cmp exp fl.sum &&
	test "$(ls -a fl | grep -c "^\.mix[0-9a-f]")" = 1 &&
	test "$(cat fl/.mix[0-9a-f]* | wc -c)" -lt "$(cat ours/.mix[0-9a-f]* | wc -c)"
'

test_expect_success 'shared expunge: another session open, bytes stay, index drops it' '
	cp -r ours sh &&
	mbtool flags sh 2 -deleted && mbtool flags sh 5 -deleted &&
	mbtool flags sh 1 +deleted &&
	before=$(cat sh/.mix[0-9a-f]* | wc -c) &&
	exec 9<sh/.mixmeta && flock -s 9 &&
	mbtool expunge sh >got 9<&- &&
	exec 9<&- &&
	echo "1 expunged" >exp && test_cmp exp got &&
	test "$(cat sh/.mix[0-9a-f]* | wc -c)" = "$before" &&
	mailbag check sh &&
	test "$(mb_json sh messages)" = 4 &&
	mbtool flags sh 1 +deleted && mbtool expunge sh &&
	test "$(cat sh/.mix[0-9a-f]* | wc -c)" -lt "$before" &&
	test "$(mb_json sh messages)" = 3
'

test_expect_success 'a damaged mix cannot be appended to or expunged' '
	cp -r d3 d3b &&
	test_must_fail mailbag convert --append src.mbox d3b 2>err &&
	test_grep "Error in mix index file message record" err &&
	cmp d3/.mixindex d3b/.mixindex
'

uw_setup


test_expect_success 'an empty mix made by mailbag is laid out as mailutil create makes it' '
	uw_run mailutil create "#driver.mix/uwempty" &&
	uw_get_dir uwempty uwempty &&
	: >empty.mbox &&
	mailbag convert --to mix empty.mbox mbempty &&
	files uwempty >exp && files mbempty >got && test_cmp exp got &&
	grep -q "^.mixmeta 44$" got &&
	python3 - mbempty <<-\PY
	import os, re, sys
	d = sys.argv[1]
	m = open(d + "/.mixmeta", "rb").read()
	f = re.fullmatch(rb"S([0-9a-f]{8})\r\nV([0-9a-f]{8})\r\nL00000000\r\nN([0-9a-f]{8})\r\n", m)
	assert f and f.group(1) == f.group(2) == f.group(3), m
	assert os.path.exists(d + "/.mix" + f.group(3).decode())
	PY
'

test_expect_success 'expunging everything leaves what UW leaves' '
	uw_put one.mbox one 2>/dev/null || { printf "From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\nx\n" >one.mbox && uw_put one.mbox one; } &&
	uw_run mailutil copy one "#driver.mix/uwall" &&
	uw_run mailutil prune uwall "subject x"
	uw_get_dir uwall uwall &&
	mailbag convert --to mix one.mbox mball && mbtool flags mball 1 +deleted &&
	mbtool expunge mball &&
	files uwall >exp && files mball >got && test_cmp exp got &&
	grep -q "^data 0$" got
'

test_expect_success 'mailutil check counts what mailbag wrote; -kw copy out gives the same messages' '
	uw_put_dir ours ours &&
	uw_run mailutil check ours >c.out 2>&1 &&
	cat c.out &&
	test "$(uw_count c.out)" = 5 &&
	uw_run mailutil -kw copy ours "#driver.unix/uwout" >copy.out 2>&1 &&
	cat copy.out &&
	uw_get uwout uwout.mbox &&
	summary uwout.mbox | sed 1d | cut -f2,4- >got &&
	sed 1d ref.sum | cut -f2,4- >exp &&
	test_cmp exp got
'

test_expect_success 'a UW read/write open finds nothing invalid and keeps our UIDs' '
	uw_run mailutil -verbose prune ours "subject nosuchxyz" >prune.out 2>&1
	cat prune.out &&
	test_grep "No matching messages, so nothing purged" prune.out &&
	test_grep ! -i "error\|invalid" prune.out &&
	uw_get_dir ours after &&
	mailbag check after &&
	test "$(mb_json after messages uidvalidity uidnext | tr "\n" " ")" = "5 1234567890 13 " &&
	mailbag convert --to unix after after.mbox &&
	summary after.mbox | cut -f1,2,4- >got &&
	cut -f1,2,4- ref.sum >exp &&
	test_cmp exp got &&
	summary after.mbox | sed 1d | cut -f3 | sort -u >old &&
	echo O >exp && test_cmp exp old
'

test_expect_success 'mailbag flags and expunge, then UW reads the same' '
	uw_put_dir fl fl &&
	uw_run mailutil -verbose prune fl "subject nosuchxyz" >prune.out 2>&1
	test_grep ! -i "error\|invalid" prune.out &&
	uw_run mailutil -kw copy fl "#driver.unix/flout" >copy.out 2>&1 &&
	uw_get flout flout.mbox &&
	summary flout.mbox | sed 1d | cut -f2,4- >got &&
	sed 1d fl.sum | cut -f2,4- >exp &&
	test_cmp exp got
'

test_expect_success 'UW create + -kw copy + append into #driver.mix: mailbag reads it all' '
	uw_put src.mbox src &&
	uw_run mailutil -kw copy src "#driver.mix/kwx" >copy.out 2>&1 &&
	uw_run mailutil append src kwx >app.out 2>&1 &&
	uw_get_dir kwx kwx &&
	mailbag check kwx &&
	v=$(sed -n "s/^V\([0-9a-f]*\).*/\1/p" kwx/.mixmeta) &&
	l=$(sed -n "s/^L\([0-9a-f]*\).*/\1/p" kwx/.mixmeta) &&
	test "$(mb_json kwx format messages uidvalidity uidnext | tr "\n" " ")" = \
		"mix 10 $((0x$v)) $((0x$l + 1)) " &&
	mailbag convert --to unix kwx kwx.mbox &&
	summary kwx.mbox | sed 1d >kwx.sum &&
	cut -f1 kwx.sum | tr "\n" " " >uids &&
	tr -d "\r" <kwx/.mixindex | sed 1d | cut -d: -f2 | while read u; do
		printf "%d " $((0x$u)); done >exp &&
	test_cmp exp uids &&
	head -5 kwx.sum | cut -f2,4- >got &&
	sed 1d ref.sum | cut -f2,4- >exp &&
	test_cmp exp got &&
	tr -d "\r" <kwx.mbox | grep -c "^From .* Sat Dec 12 13:14:15 1992 -0700$" >n &&
	echo 2 >exp && test_cmp exp n
'

test_expect_success 'mailbag appends to a UW mix; UW then opens it cleanly' '
	printf "From x@example.com Mon Jan  1 00:00:00 2024\nSubject: six\nStatus: RO\nX-Keywords: Fresh\n\nsix\n" >six.mbox &&
	mailbag convert --append six.mbox kwx &&
	mailbag check kwx &&
	test "$(mb_json kwx messages | tr "\n" " ")" = "11 " &&
	rm -rf "$UW_HOME/kwx" && uw_put_dir kwx kwx &&
	uw_run mailutil -verbose prune kwx "subject nosuchxyz" >prune.out 2>&1
	cat prune.out &&
	test_grep ! -i "error\|invalid" prune.out &&
	uw_run mailutil check kwx >c.out 2>&1 &&
	test "$(uw_count c.out)" = 11 &&
	uw_run mailutil -kw copy kwx "#driver.unix/kwxout" >copy.out 2>&1 &&
	uw_get kwxout kwxout.mbox &&
	summary kwxout.mbox | tail -1 | cut -f2,4,5 >got &&
	printf "R\tFresh\tsix\n" >exp &&
	test_cmp exp got
'

test_expect_success 'UW expunges a mailbag-written mix; mailbag reads the result' '
	uw_run mailutil -verbose prune kwx "subject two" >prune.out 2>&1
	cat prune.out &&
	test_grep "4 message(s) purged" prune.out &&
	uw_get_dir kwx kwx2 &&
	mailbag check kwx2 &&
	test "$(mb_json kwx2 messages | tr "\n" " ")" = "7 "
'

test_done

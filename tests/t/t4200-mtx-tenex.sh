#!/bin/bash
test_description='mtx and tenex: UW reads what mailbag writes and the other way round'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"

# The site keywords (UW's "set keywords", mailbag's "keywords"): the only
# keyword names an mtx or tenex file can carry.
KWS='Junk NonJunk $Label1 Work'
printf 'keywords = %s\n' "$KWS" >"$HOME/.mailbagrc"

# summary FILE: uw_summary without its "box" line.
summary() { uw_summary "$1" | sed 1d; }
# fromdates FILE: the date part of each message's From line (the
# pseudo-message's left out).
fromdates() {
	python3 - "$1" <<-\PY
	import re, sys
	d = open(sys.argv[1], "rb").read().split(b"\n")
	for i, l in enumerate(d):
	    m = re.match(rb"^From \S+ ([A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] .*)$", l)
	    if m and b"FOLDER INTERNAL DATA" not in b"\n".join(d[i:i + 5]):
	        print(m.group(1).decode().rstrip("\r"))
	PY
}
# without UIDs and the \Recent bit: what survives every copy
summary2() { summary "$1" | cut -f2,4-; }
# mb_json1 FILE KEY...: mb_json on one line.
mb_json1() { mb_json "$@" | paste -sd " " -; }

# headers FILE: the internal header lines of an mtx or tenex file, in
# order, walking the size chain: offset, date, size, flag digits and the
# newline (shown as \r\n or \n), tab-separated.
cat >"$TRASH/headers.py" <<'PY'
import re, sys
d = open(sys.argv[1], 'rb').read()
pos = 0
while pos < len(d):
    nl = d.index(b'\n', pos)
    line = d[pos:nl + 1]
    m = re.match(rb'^([ 0-9][0-9]-[A-Z][a-z]{2}-[0-9]{4} [0-9:]{8} [-+][0-9]{4}),([0-9]+);([0-7]{12})(\r?\n)$', line)
    assert m, (pos, line)
    print('\t'.join([str(pos), m.group(1).decode(), m.group(2).decode(),
                     m.group(3).decode(),
                     m.group(4).decode().replace('\r', '\\r').replace('\n', '\\n')]))
    pos = nl + 1 + int(m.group(2))
assert pos == len(d), (pos, len(d))
PY
headers() { python3 "$TRASH/headers.py" "$1"; }

# --- without UW: samples, damage, round trips

test_expect_success 'mailbag formats lists mtx and tenex' '
	mailbag formats >out &&
	test_grep "^mtx" out &&
	test_grep "^tenex" out
'

test_expect_success 'the UW samples are found by content and read' '
	test "$(mb_json1 "$DATA/tenex/mtx-sample.mtx" format messages status)" = "mtx 4 ok" &&
	test "$(mb_json1 "$DATA/tenex/tenex-sample.tenex" format messages status)" = "tenex 4 ok" &&
	mailbag check "$DATA/tenex/mtx-sample.mtx" &&
	mailbag check "$DATA/tenex/tenex-sample.tenex"
'

test_expect_success 'the samples: flags, dates, texts (mtx and tenex agree)' '
	mailbag convert --to unix "$DATA/tenex/mtx-sample.mtx" sm.mbox &&
	mailbag convert --to unix "$DATA/tenex/tenex-sample.tenex" st.mbox &&
	summary2 sm.mbox >sm.sum &&
	summary2 st.mbox >st.sum &&
	test_cmp sm.sum st.sum &&
	cut -f1-3 st.sum >got &&
	printf "RF\t-\tkw one\nR\t-\tkw two\nRFA\t-\tfirst\nDT\t-\tsecond\n" >exp &&
	test_cmp exp got &&
	fromdates st.mbox >dates &&
	printf "%s\n" "Wed Dec  2 05:53:22 1992 +0000" "Thu Dec 10 11:00:07 1992 -0800" \
		"Wed Dec  2 05:53:22 1992 +0000" "Thu Dec 10 11:00:00 1992 +0000" >exp &&
	test_cmp exp dates &&
	sed -n "/^Subject: first/,/^From /p" st.mbox >first &&
	test_grep "^>From the start this line begins with From\.$" first &&
	test_grep "^>From already quoted line\.$" first
'

# plant FILE OLD NEW OUT: FILE with the header line OLD replaced by NEW.
plant() {
	python3 - "$1" "$2" "$3" "$4" <<-'PY'
	import sys
	d = open(sys.argv[1], 'rb').read()
	old, new = sys.argv[2].encode(), sys.argv[3].encode()
	assert d.count(old) == 1, old
	open(sys.argv[4], 'wb').write(d.replace(old, new))
	PY
}
T=$DATA/tenex/tenex-sample.tenex
M=$DATA/tenex/mtx-sample.mtx
H2='10-Dec-1992 11:00:07 -0800,21;000000000001'

test_expect_success 'check: damage planted in message 2 of tenex is reported at byte 117 (exit 65)' '
	plant "$T" "$H2" "10-Dec-1992 11:00:07 -0800,21;00000000000z" d1.tenex &&
	test_expect_code 65 mailbag check d1.tenex >out &&
	test_grep "d1.tenex: at byte 117: Unable to parse internal header elements at 117: 10-Dec-1992 11:00:07 -0800,21;00000000000z (message 2)" out &&
	test_grep "tenex, 1 messages" out &&
	plant "$T" "$H2" "10-Dec-1992 11:00:07 -0800,999;000000000001" d2.tenex &&
	test_expect_code 65 mailbag check d2.tenex >out &&
	test_grep "at byte 117: Last message (at 117) runs past end of file (1160 > 473)" out &&
	plant "$T" "$H2" "10-Dec-1992 11:00:07 -0800;21,000000000001" d3.tenex &&
	test_expect_code 65 mailbag check d3.tenex >out &&
	test_grep "at byte 117: Unable to parse internal header at 117: " out &&
	plant "$T" "$H2" "1O-Dec-1992 11:00:07 -0800,21;000000000001" d4.tenex &&
	test_expect_code 65 mailbag check d4.tenex >out &&
	test_grep "at byte 117: Unable to parse internal header elements at 117: 1O-Dec" out &&
	plant "$T" "$H2" "10-Dec-1992 11:00:07 -0800,2x;000000000001" d5.tenex &&
	test_expect_code 65 mailbag check d5.tenex >out &&
	test_grep "at byte 117: Unable to parse internal header elements" out &&
	plant "$T" "$H2" "10-Dec-1992 11:00:07 -0800,21;0000000000001" d6.tenex &&
	test_expect_code 65 mailbag check d6.tenex >out &&
	test_grep "at byte 117: Unable to parse internal header elements" out
'

test_expect_success 'check: a size that shifts the chain, a truncated file, a lost CR in mtx' '
	plant "$T" "$H2" "10-Dec-1992 11:00:07 -0800,20;000000000001" d7.tenex &&
	test_expect_code 65 mailbag check d7.tenex >out &&
	test_grep "at byte 180: Unable to parse internal header at 180:  (message 3)" out &&
	head -c 460 "$T" >d8.tenex &&
	test_expect_code 65 mailbag check d8.tenex >out &&
	test_grep "at byte 403: Last message (at 403) runs past end of file (472 > 460)" out &&
	python3 -c "
import sys
d = open(sys.argv[1], \"rb\").read()
i = d.index(b\"10-Dec-1992 11:00:07 -0800,24;000000000001\r\n\")
open(sys.argv[2], \"wb\").write(d[:i + 42] + d[i + 43:])
print(i)
" "$M" d9.mtx >pos &&
	test "$(cat pos)" = 123 &&
	test_expect_code 65 mailbag check d9.mtx >out &&
	test_grep "at byte 123: Unable to find CRLF at 123 in 64 bytes, text: 10-Dec-1992" out
'

test_expect_success 'convert refuses a damaged tenex file instead of copying part of it' '
	test_must_fail mailbag convert --to unix d1.tenex d1.mbox 2>err &&
	test_grep "Unable to parse internal header elements at 117" err &&
	test ! -e d1.mbox
'

# A varied source: flags, keywords, recent messages, From lines in
# bodies, 8-bit text, a message without a final newline.
test_expect_success 'setup: a varied unix mailbox' '
	uw_varied_mbox >src.mbox &&
	mailbag convert --to unix src.mbox ref.mbox &&
	summary ref.mbox | cut -f2- >ref.sum &&
	test "$(wc -l <ref.sum)" = 5
'

for f in tenex mtx; do
test_expect_success "round trip unix -> $f -> unix keeps flags, keywords, dates, texts" '
	mailbag convert --to '$f' src.mbox ours.'$f' &&
	test "$(mb_json1 ours.'$f' format messages status)" = "'$f' 5 ok" &&
	mailbag convert --to unix ours.'$f' back-'$f'.mbox &&
	summary back-'$f'.mbox | cut -f2- >back.sum &&
	test_cmp ref.sum back.sum &&
	printf "%s\n" "Wed Dec  2 05:53:22 1992 +0000" \
		"Thu Dec 10 11:00:07 1992 +0000" "Fri Dec 11 12:00:00 1992 -0800" \
		"Sat Dec 12 13:14:15 1992 -0700" "Sun Dec 13 01:02:03 1992 +0000" >exp &&
	fromdates back-'$f'.mbox >got &&
	test_cmp exp got
'
done

test_expect_success 'the tenex file: LF header lines, reversed octal keyword bits, LF text' '
	headers ours.tenex >got &&
	printf "%s\t%s\t%s\t%s\t%s\n" \
		0 " 2-Dec-1992 05:53:22 +0000" 193 300000000035 "\\n" \
		237 "10-Dec-1992 11:00:07 +0000" 23 400000000062 "\\n" \
		303 "11-Dec-1992 12:00:00 -0800" 53 000000000001 "\\n" \
		399 "12-Dec-1992 13:14:15 -0700" 24 440000000000 "\\n" \
		466 "13-Dec-1992 01:02:03 +0000" 24 740000000077 "\\n" >exp &&
	test_cmp exp got &&
	! grep -q "$(printf "\r")" ours.tenex &&
	test "$(tail -c 9 ours.tenex)" = "last line"
'

test_expect_success 'the mtx file: CRLF header lines and CRLF text of the same sizes plus CRs' '
	headers ours.mtx | cut -f2,4,5 >got &&
	headers ours.tenex | cut -f2,4 | sed "s/\$/	\\\\r\\\\n/" >exp &&
	test_cmp exp got &&
	python3 - ours.tenex ours.mtx <<-\PY
	import re, sys
	t = open(sys.argv[1], "rb").read()
	m = open(sys.argv[2], "rb").read()
	# the same records with CRLF, each size grown by the line count
	pat = re.compile(rb"([ 0-9][0-9]-[^,]*),([0-9]+);([0-7]{12})\r?\n")
	def walk(d):
	    pos, out = 0, []
	    while pos < len(d):
	        h = pat.match(d, pos)
	        size = int(h.group(2))
	        out.append((h.group(1), h.group(3), d[h.end():h.end() + size]))
	        pos = h.end() + size
	    return out
	a, b = walk(t), walk(m)
	assert len(a) == len(b) == 5
	for x, y in zip(a, b):
	    assert x[0] == y[0] and x[1] == y[1], (x, y)
	    assert x[2].replace(b"\n", b"\r\n") == y[2], (x[2], y[2])
	PY
'

test_expect_success 'flag changes are written in place, keywords through the setting' '
	cp ours.tenex fl.tenex &&
	"$HELPER/mbtool" flags fl.tenex 3 +flagged +Work -seen &&
	"$HELPER/mbtool" flags fl.tenex 1 -NonJunk +Junk -answered &&
	test "$(wc -c <fl.tenex)" = "$(wc -c <ours.tenex)" &&
	cmp -l ours.tenex fl.tenex | wc -l >n && test "$(cat n)" -le 24 &&
	headers fl.tenex | cut -f4 >got &&
	printf "%s\n" 500000000025 400000000062 040000000004 440000000000 740000000077 >exp &&
	test_cmp exp got &&
	test_must_fail "$HELPER/mbtool" flags fl.tenex 2 +NoSuchKeyword 2>err &&
	test_grep "bad flag" err
'

test_expect_success 'keyword bits with no name in the setting are kept, not lost' '
	mailbag check --set keywords=Junk fl.tenex >out &&
	test_grep "fl.tenex: at byte 31: keyword bits 1000000000 name no keyword of the .keywords. setting (message 1)" out &&
	test_grep "1 keywords: ok (4 warnings)" out &&
	cp fl.tenex kwk.tenex &&
	printf "keywords = Junk\n" >one.conf &&
	MAILBAG_CONF=$TRASH/one.conf HOME=$TRASH/nohome \
		"$HELPER/mbtool" flags kwk.tenex 1 +draft -Junk &&
	headers kwk.tenex | sed -n 1p | cut -f4 >got &&
	echo 100000000065 >exp &&
	test_cmp exp got
'

test_expect_success 'expunge rewrites the file in place (same inode), leaving no temporary files' '
	cp ours.tenex ex.tenex &&
	ino=$(stat -c %i ex.tenex) &&
	"$HELPER/mbtool" expunge ex.tenex >out &&
	echo "2 expunged" >exp && test_cmp exp out &&
	test "$(stat -c %i ex.tenex)" = "$ino" &&
	test "$(mb_json1 ex.tenex messages status)" = "3 ok" &&
	mailbag convert --to unix ex.tenex ex.mbox &&
	summary ex.mbox | cut -f2- >got &&
	awk -F "\t" "\$1 !~ /D/" ref.sum >exp &&
	test_cmp exp got &&
	ls -A | grep -E "mbnew|mbredo|mbtail" >left || :
	test_must_be_empty left
'

test_expect_success 'expunge is refused while another process has the file open (flock)' '
	cp ours.mtx busy.mtx &&
	cp busy.mtx busy.orig &&
	{ flock -s busy.mtx -c "echo held >held; sleep 30" & } &&
	pid=$! &&
	for i in $(seq 50); do test -e held && break; sleep 0.1; done &&
	test_must_fail "$HELPER/mbtool" expunge busy.mtx 2>err &&
	kill $pid 2>/dev/null; wait $pid 2>/dev/null
	test_grep "in use by another process" err &&
	cmp busy.orig busy.mtx
'

test_expect_success 'append to an existing file; a new empty mailbox is an empty file' '
	cp ours.tenex app.tenex &&
	printf "From x@example.com Mon Jan  1 00:00:00 2024\nSubject: six\nStatus: RO\n\nsix\n" >six.mbox &&
	mailbag convert --append six.mbox app.tenex &&
	test "$(mb_json1 app.tenex format messages status)" = "tenex 6 ok" &&
	headers app.tenex | tail -1 >got &&
	printf "%s\t%s\t%s\n" " 1-Jan-2024 00:00:00 +0000" 18 000000000021 >exp &&
	cut -f2-4 got >got2 && test_cmp exp got2 &&
	test ! -e .app.tenex.mbtail &&
	: >empty.mbox &&
	mailbag convert --to mtx empty.mbox new.mtx &&
	test -f new.mtx && ! test -s new.mtx &&
	test "$(stat -c %a new.mtx)" = 600
'

test_expect_success 'a lone CR survives a tenex file, a CRLF does not' '
	printf "From a@b Mon Jan  1 00:00:00 2024\nSubject: cr\n\na\rb\r\nc\n" >cr.mbox &&
	mailbag convert --to tenex cr.mbox cr.tenex &&
	printf " 1-Jan-2024 00:00:00 +0000,19;000000000000\nSubject: cr\n\na\rb\nc\n" >exp &&
	test_cmp exp cr.tenex
'

# A source that cannot be rewound (gzip) and a text over the 8 MiB kept
# in memory: the append spools it to a temporary file in $TMPDIR, unlinked
# at once (libmbox/afile.c).
test_expect_success 'a big message from a stream is spooled and appended intact' '
	{
	printf "From a@b Mon Jan  1 00:00:00 2024\nSubject: big\n\n" &&
	head -c 7000000 /dev/urandom | base64 -w 76
	} >big.mbox &&
	gzip -k big.mbox &&
	mkdir spooltmp &&
	for f in tenex mtx mbx; do
		TMPDIR=$TRASH/spooltmp mailbag convert -q --to $f big.mbox.gz big.$f &&
		mailbag convert --to unix big.$f big-$f.mbox &&
		summary big.mbox | cut -f2,4- >exp &&
		summary big-$f.mbox | cut -f2,4- >got &&
		test_cmp exp got || return 1
	done &&
	ls -A spooltmp >left && test_must_be_empty left
'

# --- with UW's programs

uw_setup

# UW reads keyword names for mtx and tenex only from /etc/c-client.cf.
# As root, uw_kw_run gives the UW program a private /etc (an overlay in
# its own mount namespace) that has one with our keywords.
uw_kw_run() {
	UW_HOME=$UW_HOME UW_USER=$UW_USER UW_GROUP=$UW_GROUP UW_SELF=$UW_SELF \
	unshare -m bash -c '
		mount --make-rprivate / &&
		mount -t overlay overlay \
			-o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc || exit 1
		shift 2
		'"$(declare -f uw_run)"'
		uw_run "$@"' uwkw "$TRASH/etc-up" "$TRASH/etc-work" "$@"
}
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1; then
	mkdir -p "$TRASH/etc-up" "$TRASH/etc-work" &&
	printf "set keywords %s\n" "$KWS" >"$TRASH/etc-up/c-client.cf" &&
	chmod 644 "$TRASH/etc-up/c-client.cf" &&
	uw_kw_run grep -q NonJunk /etc/c-client.cf 2>/dev/null &&
	test_set_prereq UWKW
fi
# UW without the site keywords drops the keyword bits of each message
# whose flags it writes back; then only the other columns can agree.
nokw=1
test_have_prereq UWKW && nokw=0
uwx() {
	if test_have_prereq UWKW; then uw_kw_run "$@"; else uw_run "$@"; fi
}

for f in tenex mtx; do
test_expect_success "UW copy into #driver.$f: mailbag reads count, flags, dates, texts" '
	uw_put src.mbox src &&
	uw_run mailutil copy src "#driver.'$f'/uw'$f'" >copy.out 2>&1 &&
	uw_get uw'$f' uw.'$f' &&
	test "$(mb_json1 uw.'$f' format messages status)" = "'$f' 5 ok" &&
	mailbag convert --to unix uw.'$f' uw-'$f'.mbox &&
	summary uw-'$f'.mbox | cut -f2,5- >got &&
	cut -f1,4- ref.sum >exp &&
	test_cmp exp got &&
	fromdates back-'$f'.mbox >exp &&
	fromdates uw-'$f'.mbox >got &&
	test_cmp exp got
'

test_expect_success "mailbag writes UW's bytes (UW never sets the old bit on append)" '
	python3 - ours.'$f' uw.'$f' <<-\PY
	import re, sys
	ours = open(sys.argv[1], "rb").read()
	uw = open(sys.argv[2], "rb").read()
	def clear_old(m):
	    kw, fl = m.group(1), int(m.group(2), 8)
	    return b";" + b"0000000000" + b"%02o" % (fl & ~0o20) + m.group(3)
	norm = re.sub(rb";([0-7]{10})([0-7]{2})(\r?\n)", clear_old, ours)
	assert norm == uw, "differ"
	PY
'

test_expect_success UWKW "UW -kw copy into #driver.$f with site keywords: mailbag reads them" '
	uw_kw_run mailutil -kw copy src "#driver.'$f'/kw'$f'" >copy.out 2>&1 &&
	test_grep ! "Unknown flag" copy.out &&
	uw_get kw'$f' kw.'$f' &&
	mailbag convert --to unix kw.'$f' kw-'$f'.mbox &&
	summary kw-'$f'.mbox | cut -f2,4- >got &&
	cut -f1,3- ref.sum >exp &&
	test_cmp exp got &&
	python3 - ours.'$f' kw.'$f' <<-\PY
	import re, sys
	ours = open(sys.argv[1], "rb").read()
	uw = open(sys.argv[2], "rb").read()
	f = lambda m: b";" + m.group(1) + b"%02o" % (int(m.group(2), 8) & ~0o20) + m.group(3)
	assert re.sub(rb";([0-7]{10})([0-7]{2})(\r?\n)", f, ours) == uw, "differ"
	PY
'

test_expect_success "mailutil check and copy read what mailbag wrote ($f)" '
	uw_put ours.'$f' ours'$f' &&
	uw_run mailutil check ours'$f' >c.out 2>&1 &&
	cat c.out &&
	test "$(uw_count c.out)" = 5 &&
	test_grep "^2 new message" c.out &&
	uw_run mailutil copy ours'$f' "#driver.unix/back'$f'" >copy.out 2>&1 &&
	uw_get back'$f' uwback.mbox &&
	summary2 uwback.mbox | cut -f1,3- >got &&
	cut -f1,4- ref.sum >exp &&
	test_cmp exp got
'

test_expect_success UWKW "UW copies mailbag's keywords back out of $f" '
	uw_kw_run mailutil -kw copy ours'$f' "#driver.unix/kwback'$f'" >copy.out 2>&1 &&
	uw_get kwback'$f' kwback.mbox &&
	summary2 kwback.mbox >got &&
	cut -f1,3- ref.sum >exp &&
	test_cmp exp got
'

test_expect_success "mailbag flags and expunge, then UW reads the same ($f)" '
	cp ours.'$f' fx.'$f' &&
	"$HELPER/mbtool" flags fx.'$f' 3 +deleted &&
	"$HELPER/mbtool" flags fx.'$f' 4 +seen +answered &&
	"$HELPER/mbtool" expunge fx.'$f' >out &&
	test_grep "^3 expunged" out &&
	mailbag convert --to unix fx.'$f' fx-'$f'.mbox &&
	summary fx-'$f'.mbox | cut -f2- >mine &&
	test "$(wc -l <mine)" = 2 &&
	uw_put fx.'$f' fx'$f' &&
	uw_run mailutil check fx'$f' >c.out 2>&1 &&
	test "$(uw_count c.out)" = 2 &&
	uw_run mailutil copy fx'$f' "#driver.unix/fxback'$f'" >copy.out 2>&1 &&
	uw_get fxback'$f' fxback.mbox &&
	summary fxback.mbox | cut -f2,5- >got &&
	cut -f1,4- mine >exp &&
	test_cmp exp got &&
	printf "RFA\tone\nRA\tfour\n" >exp1 &&
	cut -f1,2 exp >got1 && test_cmp exp1 got1
'

test_expect_success "a UW read/write open marks the messages old in place; mailbag reads it ($f)" '
	uw_put ours.'$f' rw'$f' &&
	uwx mailutil prune rw'$f' "subject nosuchxyz" >p.out 2>&1
	uw_get rw'$f' rw.'$f' &&
	test "$(wc -c <rw.'$f')" = "$(wc -c <ours.'$f')" &&
	headers rw.'$f' | cut -f4 | cut -c11,12 >fl &&
	python3 -c "
import sys
for l in open(sys.argv[1]):
    assert int(l, 8) & 0o20, l
" fl &&
	mailbag convert --to unix rw.'$f' rw-'$f'.mbox &&
	summary rw-'$f'.mbox | cut -f2,$((4 + nokw))- >got &&
	cut -f1,$((3 + nokw))- ref.sum >exp &&
	test_cmp exp got
'

test_expect_success "UW expunges a file mailbag wrote; mailbag reads the rest ($f)" '
	uw_put ours.'$f' px'$f' &&
	uwx mailutil prune px'$f' "subject two" >p.out 2>&1
	cat p.out &&
	uw_get px'$f' px.'$f' &&
	test_grep "^2 message(s) purged" p.out &&
	test "$(mb_json1 px.'$f' format messages status)" = "'$f' 3 ok" &&
	mailbag convert --to unix px.'$f' px-'$f'.mbox &&
	summary px-'$f'.mbox | cut -f2,$((4 + nokw))- >got &&
	awk -F "\t" "\$1 !~ /D/" ref.sum | cut -f1,$((3 + nokw))- >exp &&
	test_cmp exp got
'

test_expect_success "UW appends to a file mailbag wrote; mailbag reads it ($f)" '
	uw_put ours.'$f' ap'$f' &&
	uw_put six.mbox six &&
	uw_run mailutil append six ap'$f' >a.out 2>&1 &&
	uw_get ap'$f' ap.'$f' &&
	test "$(mb_json1 ap.'$f' format messages status)" = "'$f' 6 ok" &&
	cmp -n "$(wc -c <ours.'$f')" ours.'$f' ap.'$f'
'
done

test_expect_success 'mailbag and UW make the same empty file for a new mailbox' '
	uw_run mailutil create "#driver.tenex/made" &&
	uw_get made made.uw &&
	test -f made.uw && ! test -s made.uw &&
	mailbag convert --to tenex empty.mbox made.ours &&
	cmp made.uw made.ours
'

test_done

#!/bin/bash
test_description='phile: any other file is read-only as one message, as UW shows it'
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
MBTOOL=$HELPER/mbtool

# msgpart FILE: the last message of a unix mailbox from its "From " line
# on, with the envelope line, Date: and the trailing blank line dropped.
msgpart() {
	python3 - "$1" <<-\PY
	import re, sys
	d = open(sys.argv[1], "rb").read()
	i = [m.start() for m in re.finditer(rb"(?m)^From \S+@\S+ ", d)][-1]
	lines = d[i:].split(b"\n")[1:]
	while lines and lines[-1] == b"":
	    lines.pop()
	sys.stdout.buffer.write(b"\n".join(l for l in lines
	                                   if not l.startswith(b"Date: ")) + b"\n")
	PY
}

mb_host() { hostname; }

# The file UW read for its sample (spec 23: first line not a From line).
printf 'Hello there\nFrom alice@example.com Wed Dec  2 05:53:22 1992\nSubject: x\n\nbody\n' >bad.mbox

test_expect_success 'a text file is one message: check warns, exit 0' '
	printf "just a note\n" >note.txt &&
	mailbag check note.txt >out &&
	test_grep "^note.txt: phile, 1 messages" out &&
	test_grep "note.txt: at byte 0: not in any mailbox format" out
'

test_expect_success 'convert somefile.eml out.mbox: header made up as UW makes it' '
	printf "Subject: hi\n\nthe body\n" >mail.eml &&
	touch -d "2020-05-06 07:08:09" mail.eml &&
	mailbag convert mail.eml out.mbox &&
	mailbag check out.mbox >out && test_grep "unix, 1 messages" out &&
	test_grep "^From root@.* Wed May  6 07:08:09 2020 +0000\$" out.mbox &&
	sed -n "/^From root@/,\$p" out.mbox >got &&
	h=$(mb_host) &&
	kw=$(grep "^X-Keywords:" "$DATA/phile/phile-message-copied-to-unix.mbox" | tail -1) &&
	printf "From root@%s Wed May  6 07:08:09 2020 +0000\nDate: Wed, 6 May 2020 07:08:09 +0000\nFrom: root@%s\nSubject: %s/mail.eml\nMIME-Version: 1.0\nContent-Type: TEXT/PLAIN; charset=US-ASCII\nStatus: \nX-Status: \n%s\nX-UID: 1\n\nSubject: hi\n\nthe body\n\n" "$h" "$h" "$TRASH" "$kw" >exp &&
	test_cmp exp got &&
	test_grep "^X-IMAP: 1588748889 0000000001" out.mbox
'

test_expect_success 'the stored UW sample: same header and body for the same input' '
	mailbag convert --format=phile bad.mbox badcopy.mbox &&
	msgpart "$DATA/phile/phile-message-copied-to-unix.mbox" |
		sed -e "s/^From: .*/From: X/" -e "s/^Subject: .*/Subject: X/" >exp &&
	msgpart badcopy.mbox |
		sed -e "s/^From: .*/From: X/" -e "s/^Subject: .*/Subject: X/" >got &&
	test_cmp exp got
'

test_expect_success 'binary: base64 in 60-character lines that decode to the file' '
	for n in 1 44 45 46 90 100 1000; do
		head -c $n /dev/urandom >bin$n && printf "\0" >>bin$n &&
		mailbag convert bin$n bin$n.mbox &&
		test_grep "^Content-Type: APPLICATION/OCTET-STREAM; name=bin$n\$" bin$n.mbox &&
		test_grep "^Content-Transfer-Encoding: BASE64\$" bin$n.mbox &&
		python3 - bin$n bin$n.mbox <<-\PY || return 1
		import base64, sys
		d = open(sys.argv[2], "rb").read()
		body = d[d.index(b"\nX-UID: 1\n\n") + 11:]
		lines = body.split(b"\n")
		assert all(len(l) == 60 for l in lines[:-3]), lines
		assert base64.b64decode(b"".join(lines)) == open(sys.argv[1], "rb").read()
		PY
	done
'

test_expect_success 'charsets: 8-bit, ISO-2022-JP/KR/CN; control bytes make it binary' '
	printf "caf\303\251\n" >t8 && printf "jis \033\$B\$3\033(B\n" >tjp &&
	printf "kr \033\$)C x\n" >tkr && printf "cn \033\$)A x\n" >tcn &&
	printf "bell\a vt\v ff\f bs\b esc\033x\n" >tctl && printf "del\177\n" >tdel &&
	for f in t8:"charset=X-UNKNOWN" tjp:"charset=ISO-2022-JP" \
		tkr:"charset=ISO-2022-KR" tcn:"charset=ISO-2022-CN" \
		tctl:"charset=US-ASCII" tdel:"APPLICATION/OCTET-STREAM"; do
		mailbag convert "${f%%:*}" "${f%%:*}.mbox" &&
		test_grep "^Content-Type: .*${f#*:}" "${f%%:*}.mbox" || return 1
	done &&
	test_grep "^Content-Transfer-Encoding: 8BIT" t8.mbox
'

test_expect_success 'a phile is never written: append, flags and delete are refused' '
	cp note.txt keep.txt && touch -d "2001-01-01" note.txt &&
	printf "From a@b Wed Dec  2 05:53:22 1992\nSubject: s\n\nx\n" >m.mbox &&
	test_must_fail mailbag convert --append m.mbox note.txt 2>err &&
	test_grep "not in valid mailbox format" err &&
	test_must_fail "$MBTOOL" flags note.txt 1 +seen 2>err &&
	test_grep "note.txt" err &&
	test_must_fail "$MBTOOL" expunge note.txt &&
	cmp keep.txt note.txt &&
	test "$(stat -c %Y note.txt)" = "$(date -d 2001-01-01 +%s)" &&
	test_must_fail mailbag convert m.mbox "#driver.phile/new.txt" 2>err &&
	test_grep "cannot create phile" err &&
	test ! -e new.txt
'

test_expect_success 'every real format wins over phile; an empty file stays unix' '
	: >empty &&
	mailbag check empty >out && test_grep "^empty: unix, 0 messages" out &&
	mailbag check bad.mbox >out || :
	test_grep "^bad.mbox: unix" out &&
	printf "\1\1\1\1\nSubject: x\n\nb\n\1\1\1\1\n" >m.mmdf &&
	mailbag check m.mmdf >out && test_grep "^m.mmdf: mmdf" out &&
	test "$(mailbag formats | tail -1 | cut -f1)" = phile
'

test_expect_success 'repair does not take a phile for a format' '
	{ head -c 5000 /dev/zero | tr "\0" x; printf "\nFrom a@b Wed Dec  2 05:53:22 1992\nSubject: s\n\nx\n"; } >late &&
	mailbag check late >out && test_grep "^late: phile" out &&
	test_expect_code 65 mailbag repair -n late >out 2>&1 &&
	test_grep ! "phile" out
'

. "$TESTS_DIR/t/uw.sh"
uw_setup

test_expect_success 'mailutil copy of a phile and mailbag convert give the same message' '
	uw_put bad.mbox bad.mbox &&
	for f in t8 tjp tkr tctl tdel bin45 bin100 note.txt; do
		uw_put $f $f || return 1
	done &&
	for f in bad.mbox t8 tjp tkr tctl tdel bin45 bin100 note.txt; do
		uw_run mailutil copy $f "#driver.unix/$f.uw" &&
		mailbag convert --format=phile "$UW_HOME/$f" $f.ours &&
		msgpart "$UW_HOME/$f.uw" >exp &&
		msgpart $f.ours >got &&
		test_cmp exp got || return 1
	done
'

test_expect_success 'mailutil refuses to append to a phile; so does mailbag' '
	uw_put m.mbox m &&
	uw_run mailutil append m "bad.mbox" >out 2>&1
	test_grep "not in valid mailbox format" out &&
	test_must_fail mailbag convert --append m.mbox "$UW_HOME/bad.mbox" &&
	cmp bad.mbox "$UW_HOME/bad.mbox"
'

test_done

#!/bin/bash
test_description='what the fuzzers found, checked against UW: unix texts ending in a blank line'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"
uw_setup

MBTOOL=$HELPER/mbtool
# texts: one line per message, its size and hash (UIDs and flags left out)
texts() { "$MBTOOL" dump "$1" | sed -n 's/^msg .* \(size=[0-9]* hash=[0-9a-f]*\).*/\1/p'; }

# Found by fuzz-rewrite (tests/fuzz/regress/rewrite/): a message whose
# text ends in a blank line is stored with one more blank line before the
# next From line (the reader drops the last one as the separator).  The
# writers left that separator out, so every rewrite or append cut one
# blank line off such a text.
box() {
	printf 'From a@example.com Wed Dec  2 05:53:22 1992\nSubject: one\n\nbody 1\n\n'
	printf 'From b@example.com Wed Dec  2 05:53:22 1992\nSubject: two\n\nbody 2\n\n\n\n'
	printf 'From c@example.com Wed Dec  2 05:53:22 1992\nSubject: three\n\nbody 3\n\n\n'
}

test_expect_success 'UW and mailbag read the same texts' '
	box >src.mbox &&
	uw_put src.mbox src &&
	uw_run mailutil copy src "#driver.unix/uwcopy" &&
	uw_get uwcopy uwcopy.mbox &&
	texts src.mbox >exp &&
	test_line_count() { test $(wc -l <"$2") = "$1"; } &&
	test_line_count 3 exp &&
	texts uwcopy.mbox >uw.got &&
	test_cmp exp uw.got
'

test_expect_success 'a flag change rewrites the texts unchanged' '
	cp src.mbox flag.mbox &&
	"$MBTOOL" flags flag.mbox 2 +seen &&
	texts flag.mbox >got &&
	test_cmp exp got &&
	uw_put flag.mbox flag &&
	uw_run mailutil copy flag "#driver.unix/uwflag" &&
	uw_get uwflag uwflag.mbox &&
	texts uwflag.mbox >uw.got &&
	test_cmp exp uw.got
'

test_expect_success 'an expunge keeps the other texts unchanged' '
	cp src.mbox exp.mbox &&
	"$MBTOOL" flags exp.mbox 1 +deleted &&
	"$MBTOOL" expunge exp.mbox &&
	sed 1d exp >exp2 &&
	texts exp.mbox >got &&
	test_cmp exp2 got
'

test_expect_success 'appended texts ending in blank lines read back unchanged, as UW appends them' '
	printf "Subject: x\n\nbody\n\n" >m1 &&
	printf "Subject: y\n\nbody\n\n\n" >m2 &&
	mailbag create --to unix ap.mbox &&
	mailbag append ap.mbox <m1 &&
	mailbag append ap.mbox <m2 &&
	mailbag append ap.mbox <m1 &&
	mailbag check ap.mbox &&
	texts ap.mbox >got &&
	printf "%s\n" "size=18" "size=19" "size=18" >size.exp &&
	sed "s/ hash.*//" got >size.got &&
	test_cmp size.exp size.got &&
	uw_put ap.mbox ap &&
	uw_run mailutil copy ap "#driver.unix/uwap" &&
	uw_get uwap uwap.mbox &&
	texts uwap.mbox >uw.got &&
	test_cmp got uw.got
'

# Found by fuzz-rewrite: when a truncated last message, all header and
# its last line without LF, became the first message, X-IMAPbase was
# glued to that line: the header changed and UW lost the UIDs.
test_expect_success 'X-IMAPbase never joins a header line cut short' '
	printf "From a@example.com Wed Dec  2 05:53:22 1992\nSubject: one\nX-Status: D\n\nbody\n\n" >cut.mbox &&
	printf "From b@example.com Wed Dec  2 05:53:22 1992\nSubject: two" >>cut.mbox &&
	"$MBTOOL" expunge cut.mbox &&
	grep -x "Subject: two" cut.mbox &&
	grep "^X-IMAPbase: [1-9][0-9]* 2$" cut.mbox &&
	uw_put cut.mbox cut &&
	uw_run mailutil check cut >uw.out 2>&1 &&
	test_grep "1 total" uw.out
'

# Found by fuzz-rewrite: an MMDF file that ends in a line of four ^A
# bytes with no LF (a closing delimiter cut short) holds them as text of
# its last message; a rewrite that ended that line with a LF made it a
# delimiter: a message appeared and the last text lost bytes.  MMDF
# drops ^A from message lines, so the rewrite drops these four.
test_expect_success 'an MMDF rewrite never turns a cut-short ^A^A^A^A into a delimiter' '
	printf "\001\001\001\001\nFrom a@example.com Wed Dec  2 05:53:22 1992\nSubject: one\n\nbody\n\001\001\001\001\n" >cut.mmdf &&
	printf "\001\001\001\001\nFrom b@example.com Wed Dec  2 05:53:22 1992\nSubject: two\n\nlast\n\001\001\001\001" >>cut.mmdf &&
	mailbag check cut.mmdf >before.out 2>&1;
	test_grep "2 messages" before.out &&
	mailbag prune cut.mmdf 1 &&
	mailbag check cut.mmdf >after.out &&
	test_grep "mmdf, 1 messages" after.out &&
	mailbag convert --to eml cut.mmdf out.eml >/dev/null &&
	printf "Subject: two\n\nlast\n" >exp &&
	cat out.eml/* >got &&
	test_cmp exp got
'

# ... and in a message that is all header, the CR left of such a line
# ("^A^A^A^A" CR, cut short) became a blank line once ended: the header
# ended there and the fresh status lines went into the body.  The whole
# line goes now.
test_expect_success 'an MMDF rewrite drops a cut-short ^A^A^A^A CR line in a header whole' '
	printf "\001\001\001\001\nFrom a@example.com Wed Dec  2 05:53:22 1992\nSubject: one\n\nbody\n\001\001\001\001\n" >cut2.mmdf &&
	printf "\001\001\001\001\nFrom b@example.com Wed Dec  2 05:53:22 1992\nSubject: two\n\001\001\001\001\r" >>cut2.mmdf &&
	mailbag prune cut2.mmdf 1 &&
	"$MBTOOL" flags cut2.mmdf 1 +flagged &&
	mailbag check cut2.mmdf >after.out &&
	test_grep "mmdf, 1 messages" after.out &&
	rm -rf out2.eml && mailbag convert --to eml cut2.mmdf out2.eml >/dev/null &&
	printf "Subject: two\n" >exp &&
	cat out2.eml/* >got &&
	test_cmp exp got &&
	"$MBTOOL" dump cut2.mmdf >dump.out &&
	grep "^msg uid=2 flags=0x4 " dump.out
'

test_expect_success 'an MMDF rewrite drops a cut-short ^A^A^A^A CR line in a body whole' '
	printf "\001\001\001\001\nFrom a@example.com Wed Dec  2 05:53:22 1992\nSubject: one\n\nbody\n\001\001\001\001\n" >cut3.mmdf &&
	printf "\001\001\001\001\nFrom b@example.com Wed Dec  2 05:53:22 1992\nSubject: two\n\nlast\n\001\001\001\001\r" >>cut3.mmdf &&
	mailbag prune cut3.mmdf 1 &&
	rm -rf out3.eml && mailbag convert --to eml cut3.mmdf out3.eml >/dev/null &&
	printf "Subject: two\n\nlast\n" >exp &&
	cat out3.eml/* >got &&
	test_cmp exp got
'

# Found by fuzz-rewrite (tests/fuzz/regress/rewrite/): an mbx header that
# names one keyword in two slots.  The reader kept one slot per name, so
# every slot after the second shifted: a message's bits were read under
# the wrong names and every write stopped with "keyword slot changed
# under us".  UW keeps the slots as the file has them.
kwbox() {
	printf 'From a@example.com Wed Dec  2 05:53:22 1992\nX-IMAPbase: 1234567890 0000000002 Aa Bb Cc\nX-UID: 1\nX-Keywords: Aa Cc\nSubject: one\n\none\n\n'
	printf 'From b@example.com Wed Dec  2 05:53:22 1992\nX-UID: 2\nX-Keywords: Bb\nSubject: two\n\ntwo\n'
}
kwslots() { head -c 2048 "$1" | tr -d "\000\r" | sed -n 3,7p | tr "\n" " "; }
test_expect_success 'an mbx header naming a keyword twice keeps its slots' '
	kwbox >kw.mbox &&
	mailbag convert --to mbx kw.mbox dup.mbx &&
	python3 -c "
import sys
p = sys.argv[1]
d = bytearray(open(p, \"rb\").read())
i = d.index(b\"\\r\\nBb\\r\\n\")
d[i + 2:i + 4] = b\"Aa\"
open(p, \"wb\").write(d)
" dup.mbx &&
	printf "Aa Cc Aa   " >slots.exp &&
	kwslots dup.mbx >slots.got &&
	test_cmp slots.exp slots.got &&
	"$MBTOOL" dump dup.mbx >dump.out &&
	grep "^msg uid=1 .* kw=Aa,Cc,$" dump.out &&
	grep "^msg uid=2 .* kw=Aa,$" dump.out
'
test_expect_success 'UW reads the same keywords from it' '
	uw_put dup.mbx dup &&
	uw_run mailutil -kw copy dup uwdup >uwcopy.out 2>&1 &&
	uw_get uwdup uwdup.mbox &&
	mailbag convert --to unix dup.mbx mbdup.mbox &&
	uw_summary uwdup.mbox | sed 1d | cut -f4,5 >uw.sum &&
	uw_summary mbdup.mbox | sed 1d | cut -f4,5 >mb.sum &&
	test_cmp uw.sum mb.sum &&
	printf "Aa Cc\tone\nAa\ttwo\n" >exp.sum &&
	test_cmp exp.sum mb.sum
'
test_expect_success 'writes keep the slots: expunge and a keyword change' '
	mailbag prune dup.mbx 1 &&
	kwslots dup.mbx >slots.got &&
	test_cmp slots.exp slots.got &&
	"$MBTOOL" flags dup.mbx 1 +Cc &&
	kwslots dup.mbx >slots.got &&
	test_cmp slots.exp slots.got &&
	"$MBTOOL" dump dup.mbx >dump.out &&
	grep "^msg uid=2 .* kw=Aa,Cc,$" dump.out &&
	uw_put dup.mbx dup2 &&
	uw_run mailutil check dup2 >uwcheck.out 2>&1 &&
	test_grep " 1 total" uwcheck.out
'

test_expect_success 'a mix metadata file naming a keyword twice keeps its slots' '
	mailbag convert --to mix kw.mbox dup.mix &&
	tr -d "\r" <dup.mix/.mixmeta | grep -x "KAa Cc Bb" &&
	sed -i "s/^KAa Cc Bb/KAa Cc Aa/" dup.mix/.mixmeta &&
	"$MBTOOL" dump dup.mix >dump.out &&
	grep "^msg uid=1 .* kw=Aa,Cc,$" dump.out &&
	grep "^msg uid=2 .* kw=Aa,$" dump.out &&
	uw_put_dir dup.mix dupmix &&
	uw_run mailutil -kw copy dupmix uwdupmix >uwcopy.out 2>&1 &&
	uw_get uwdupmix uwdupmix.mbox &&
	uw_summary uwdupmix.mbox | sed 1d | cut -f4,5 >uw.sum &&
	test_cmp exp.sum uw.sum &&
	"$MBTOOL" flags dup.mix 2 +Cc &&
	tr -d "\r" <dup.mix/.mixmeta | grep -x "KAa Cc Aa" &&
	"$MBTOOL" dump dup.mix >dump.out &&
	grep "^msg uid=2 .* kw=Aa,Cc,$" dump.out
'

# Found by fuzz-pop3 (tests/fuzz/regress/pop3/): a server whose STAT
# claims tens of millions of messages made the client allocate and fill
# an index for all of them (4 GB) before it had listed one.  The index
# now grows with the LIST and UIDL lines.  (Not under ASan, whose shadow
# memory does not fit under a ulimit.)
if nm "$MAILBAG" 2>/dev/null | grep -q __asan_init; then :; else test_set_prereq NOASAN; fi
test_expect_success NOASAN 'a POP3 STAT of 70 million messages costs no memory until they are listed' '
	cat >pop3srv.py <<-\EOF &&
	import socket, sys
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	s.listen(1)
	open("port", "w").write(str(s.getsockname()[1]))
	c, _ = s.accept()
	f = c.makefile("rb")
	c.sendall(b"+OK ready\r\n")
	for line in f:
	    cmd = line.split()[0].upper() if line.split() else b""
	    r = {b"CAPA": b"+OK\r\nUIDL\r\nUSER\r\n.\r\n",
	         b"STAT": b"+OK 70000000 100\r\n",
	         b"LIST": b"+OK\r\n1 100\r\n.\r\n",
	         b"UIDL": b"+OK\r\n1 only-one\r\n.\r\n"}.get(cmd, b"+OK\r\n")
	    c.sendall(r)
	    if cmd == b"QUIT":
	        break
	EOF
	python3 pop3srv.py &
	for i in $(seq 100); do test -s port && break; sleep 0.1; done &&
	echo pw >pw &&
	(ulimit -v 400000 && exec "$MAILBAG" fetch --allow-plaintext --password-file pw \
		"{127.0.0.1:$(cat port)/pop3/notls/user=u}INBOX" big.mbox) 2>err;
	rc=$? && wait && cat err &&
	test $rc != 0 && test_grep "no UIDL for message 2" err &&
	! test -e big.mbox
'

test_done

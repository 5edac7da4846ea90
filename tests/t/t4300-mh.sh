#!/bin/bash
test_description='mh: MH folders, #mh/ names, flags in .mh_sequences, UW reads and writes them'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
MBTOOL=$HELPER/mbtool

# summary FILE: flags (R D F A T), subject and body hash of each message
# of a unix mailbox (MH keeps no keywords, no \Recent, no UIDVALIDITY).
summary() { uw_summary "$1" | sed 1d | cut -f2,5,6; }
# uids FILE: the X-UID of every message of a unix mailbox.
uids() { sed -n 's/^X-UID: //p' "$1" | tr "\n" " "; }

# The spec's src.mbox (section 23.1), from which UW made mh-sample/.
cat >src.mbox <<'EOF'
From alice@example.com Wed Dec  2 05:53:22 1992
Date: Wed, 2 Dec 1992 05:53:22 -0800
From: alice@example.com
To: bob@example.com
Subject: first
Status: RO
X-Status: AF

Hello Bob.
From the start this line begins with From.
>From already quoted line.

From bob@example.com Thu Dec 10 11:00 1992
Subject: second
Status: O
X-Status: DT

Body two
EOF
printf 'Path: Mail\n' >.mh_profile

test_expect_success 'convert into #mh/foo writes the files UW writes (mh-sample)' '
	mailbag convert src.mbox "#mh/foo" &&
	test -d Mail/foo &&
	cmp "$DATA/mh/mh-sample/1" Mail/foo/1 &&
	cmp "$DATA/mh/mh-sample/2" Mail/foo/2 &&
	test "$(stat -c %Y Mail/foo/1) $(stat -c %Y Mail/foo/2)" = "723275602 723985200" &&
	test "$(stat -c %a Mail/foo)" = 700 &&
	ls -A Mail/foo | sort | tr "\n" " " >names &&
	test "$(cat names)" = ".mh_sequences 1 2 "
'

test_expect_success 'the flags are in the nmh sequences' '
	sort Mail/foo/.mh_sequences >seqs &&
	printf "deleted: 2\ndraft: 2\nflagged: 1\nreplied: 1\nunseen: 2\n" >exp &&
	test_cmp exp seqs
'

test_expect_success 'read back: check, probe by content, #mh/ name, flags and dates' '
	mailbag check Mail/foo >out &&
	test_grep "^Mail/foo: mh, 2 messages" out &&
	mailbag check "#mh/foo" >out &&
	test_grep "/Mail/foo: mh, 2 messages" out &&
	mailbag convert "#mh/foo" back.mbox &&
	mailbag convert src.mbox ref.mbox &&
	summary ref.mbox >exp &&
	summary back.mbox >got &&
	test_cmp exp got &&
	test_grep "^From MAILER-DAEMON Wed Dec  2 05:53:22 1992" back.mbox &&
	test "$(uids back.mbox)" = "1 2 "
'

test_expect_success 'round trip unix -> MH -> unix keeps text, flags and UIDs' '
	{
	printf "From a@example.com Wed Dec  2 05:53:22 1992\nSubject: one\n"
	printf "X-IMAPbase: 1234567890 0000000012\nStatus: RO\nX-Status: F\nX-UID: 3\n\n"
	printf "From here\n>From there\n\n"
	printf "From b@example.com Thu Dec 10 11:00:07 1992\nSubject: two\nStatus: O\nX-UID: 5\n\n"
	printf "crlf\r\nand 8-bit \351t\351\n\n"
	printf "From c@example.com Fri Dec 11 12:00:00 1992\nSubject: three\nStatus: R\nX-Status: ADT\nX-UID: 9\n\n"
	printf "last line"
	} >rt.mbox &&
	mailbag convert rt.mbox "#mh/rt" &&
	ls Mail/rt | sort -n | tr "\n" " " >nums &&
	test "$(cat nums)" = "3 5 9 " &&
	printf "crlf\nand 8-bit \351t\351\n" >exp && tail -n 2 Mail/rt/5 >got &&
	test_cmp exp got &&
	mailbag convert "#mh/rt" rt-back.mbox &&
	test "$(uids rt-back.mbox)" = "3 5 9 " &&
	mailbag convert rt.mbox rt-ref.mbox &&
	summary rt-ref.mbox | sed "2s/\t[0-9a-f]*\$//" >exp &&
	summary rt-back.mbox | sed "2s/\t[0-9a-f]*\$//" >got &&
	test_cmp exp got
'

test_expect_success 'flags through .mh_sequences keep the other sequences' '
	printf "cur: 2\nmyseq: 1-2 5\nunseen: 1-2\nodd line without colon\nflagged:\n" >Mail/foo/.mh_sequences &&
	"$MBTOOL" flags Mail/foo 1 +seen +flagged +answered &&
	printf "cur: 2\nmyseq: 1-2 5\nunseen: 2\nodd line without colon\nflagged: 1\nreplied: 1\n" >exp &&
	test_cmp exp Mail/foo/.mh_sequences &&
	"$MBTOOL" flags Mail/foo 1 -answered -seen &&
	printf "cur: 2\nmyseq: 1-2 5\nunseen: 1-2\nodd line without colon\nflagged: 1\n" >exp &&
	test_cmp exp Mail/foo/.mh_sequences &&
	mailbag convert Mail/foo f.mbox &&
	summary f.mbox | cut -f1 | tr "\n" " " >got &&
	test "$(cat got)" = "F - "
'

test_expect_success 'answered is read under either name, and the profile names the unseen sequence' '
	printf "answered: 2\nnotyet: 1\n" >Mail/foo/.mh_sequences &&
	mailbag convert Mail/foo a1.mbox &&
	summary a1.mbox | cut -f1 | tr "\n" " " >got &&
	test "$(cat got)" = "R RA " &&
	printf "Path: Mail\nUnseen-Sequence: notyet\n" >.mh_profile &&
	mailbag convert Mail/foo a2.mbox &&
	summary a2.mbox | cut -f1 | tr "\n" " " >got &&
	test "$(cat got)" = "- RA " &&
	"$MBTOOL" flags Mail/foo 2 -seen &&
	printf "answered: 2\nnotyet: 1-2\n" >exp &&
	test_cmp exp Mail/foo/.mh_sequences &&
	printf "Path: Mail\n" >.mh_profile
'

test_expect_success 'a bad .mh_sequences: warning with file and byte, line kept' '
	printf "unseen: 1 x7 2\ncur: 2\n" >Mail/foo/.mh_sequences &&
	mailbag check Mail/foo >out &&
	test_grep "\\.mh_sequences at byte 10: .x7. in sequence .unseen." out &&
	test_grep "1 warning" out &&
	printf "garbage\nunseen: 2\n" >Mail/foo/.mh_sequences &&
	mailbag check Mail/foo >out &&
	test_grep "\\.mh_sequences at byte 0: a line that is not" out &&
	"$MBTOOL" flags Mail/foo 1 +flagged &&
	printf "garbage\nunseen: 2\nflagged: 1\n" >exp &&
	test_cmp exp Mail/foo/.mh_sequences
'

test_expect_success 'expunge unlinks the files and takes the numbers out of every sequence' '
	cp -a Mail/foo Mail/ex &&
	printf "cur: 1\nmine: 1-2\nunseen: 2\n" >Mail/ex/.mh_sequences &&
	"$MBTOOL" flags Mail/ex 1 +deleted &&
	test_grep "^deleted: 1" Mail/ex/.mh_sequences &&
	"$MBTOOL" expunge Mail/ex >out &&
	test_grep "^1 expunged" out &&
	test ! -e Mail/ex/1 && test -f Mail/ex/2 &&
	printf "mine: 2\nunseen: 2\n" >exp &&
	test_cmp exp Mail/ex/.mh_sequences
'

test_expect_success 'append to an existing folder: next number, a taken number skipped' '
	cp -a Mail/foo Mail/ap &&
	rm -f Mail/ap/.mh_sequences &&
	printf "From x@example.com Mon Jan  1 00:00:00 2024\nSubject: six\n\nsix\n" >six.mbox &&
	mailbag convert --append six.mbox Mail/ap &&
	test -f Mail/ap/3 &&
	test "$(stat -c %Y Mail/ap/3)" = 1704067200 &&
	printf "Subject: six\n\nsix\n" >exp && test_cmp exp Mail/ap/3 &&
	test_grep "^unseen:.*[ -]3\$" Mail/ap/.mh_sequences &&
	{ ls -A Mail/ap | grep -v -e "^[0-9]*\$" -e "^.mh_sequences\$" >left || :; } &&
	test_must_be_empty left
'

test_expect_success 'a folder without .mh_sequences is read with UW rule (atime > mtime)' '
	mkdir -p Mail/uwrule &&
	printf "Subject: a\n\na\n" >Mail/uwrule/1 &&
	printf "Subject: b\n\nb\n" >Mail/uwrule/2 &&
	touch -m -d "2020-01-02 00:00:00" Mail/uwrule/1 Mail/uwrule/2 &&
	touch -a -d "2021-01-01 00:00:00" Mail/uwrule/1 &&
	touch -a -d "2019-01-01 00:00:00" Mail/uwrule/2 &&
	"$MBTOOL" flags Mail/uwrule 1 +flagged &&
	printf "flagged: 1\nunseen: 2\n" >exp &&
	sort Mail/uwrule/.mh_sequences >got &&
	test_cmp exp got
'

test_expect_success 'probe: no empty directory, no maildir, mix or mx; #driver.mh/ forces' '
	mkdir empty &&
	test_must_fail mailbag check empty 2>err &&
	test_grep "not in a recognised mailbox format" err &&
	mailbag check "#driver.mh/empty" >out &&
	test_grep "mh, 0 messages" out &&
	mkdir -p md/cur md/new md/tmp && cp Mail/foo/1 md/1 &&
	mailbag check md >out 2>&1 ;
	test_grep ! "^md: mh" out &&
	mkdir mxd && cp Mail/foo/1 mxd/1 && : >mxd/.mxindex &&
	test_must_fail mailbag check mxd &&
	mkdir seqonly && : >seqonly/.mh_sequences &&
	mailbag check seqonly >out &&
	test_grep "mh, 0 messages" out &&
	mkdir other && : >other/notes && mkdir other/123 &&
	test_must_fail mailbag check other
'

test_expect_success 'create makes missing parents, atomically; existing folders are refused' '
	mailbag convert six.mbox "#mh/deep/er/sub" &&
	test -f Mail/deep/er/sub/1 &&
	test "$(stat -c %a Mail/deep)" = 700 &&
	test_must_fail mailbag convert six.mbox "#mh/deep/er/sub" 2>err &&
	test_grep "already exists" err &&
	ls -A Mail/deep/er >names && test "$(cat names)" = sub
'

test_expect_success 'names: #mhinbox, bad folder names, no profile' '
	mailbag convert six.mbox "#mhinbox" &&
	test -f Mail/inbox/1 &&
	test_must_fail mailbag check "#mh/12/x" 2>err &&
	test_grep "invalid MH-format name" err &&
	test_must_fail mailbag check "#mh/a/../b" 2>err &&
	test_grep "invalid MH-format name" err &&
	mv .mh_profile profile.saved &&
	test_must_fail mailbag check "#mh/foo" 2>err &&
	test_grep "mh_profile not found, mh format names disabled" err &&
	mv profile.saved .mh_profile &&
	printf "Path: /nonexistent-root\n" >.mh_profile &&
	test_must_fail mailbag check "#mh/foo" 2>err &&
	test_grep "/nonexistent-root/foo" err &&
	printf "path:   Mail  \n" >.mh_profile &&
	mailbag check "#mh/foo" >out && test_grep "mh, 2 messages" out
'

test_expect_success 'bad input: unreadable message file, odd entries, errors name the file' '
	mkdir -p Mail/odd && cp Mail/foo/1 Mail/odd/1 && cp Mail/foo/2 Mail/odd/02 &&
	: >Mail/odd/3 && mkdir Mail/odd/4 && printf "x" >Mail/odd/,5 &&
	ln -s /nonexistent Mail/odd/6 &&
	mailbag check Mail/odd >out &&
	test_grep "mh, 2 messages" out &&
	test_grep "message file 3 is empty" out &&
	chmod 000 Mail/odd/1 &&
	if [ "$(id -u)" != 0 ]; then
		test_must_fail mailbag convert Mail/odd o.mbox 2>err &&
		test_grep "Mail/odd" err
	fi &&
	chmod 600 Mail/odd/1 &&
	printf "\0\377\n" >Mail/odd/.mh_sequences &&
	mailbag check Mail/odd >out && test_grep "Mail/odd: mh" out
'

# --- UW: mailutil reads mailbag's folders and writes folders mailbag reads

uw_setup

test_expect_success 'setup: the UW user has an MH profile' '
	printf "Path: Mail\n" >.mh_profile &&
	uw_put .mh_profile .mh_profile &&
	uw_put src.mbox src &&
	uw_put rt.mbox rt
'

test_expect_success 'mailutil copy into #mh/: mailbag reads the same files and flags UW shows' '
	uw_run mailutil copy src "#mh/uwfoo" &&
	cmp "$DATA/mh/mh-sample/1" "$UW_HOME/Mail/uwfoo/1" &&
	cmp "$DATA/mh/mh-sample/2" "$UW_HOME/Mail/uwfoo/2" &&
	test ! -e "$UW_HOME/Mail/uwfoo/.mh_sequences" &&
	uw_run mailutil copy "#mh/uwfoo" "#driver.unix/uwfoo.mbox" &&
	mailbag convert "$UW_HOME/Mail/uwfoo" ours.mbox &&
	summary "$UW_HOME/uwfoo.mbox" >exp &&
	summary ours.mbox >got &&
	test_cmp exp got
'

test_expect_success 'mailutil reads the folder mailbag made: count, text, \Seen' '
	mailbag convert --to mh rt.mbox rtdir &&
	uw_put_dir rtdir Mail/rtdir &&
	uw_run mailutil check "#mh/rtdir" >c.out 2>&1 &&
	test_grep " 3 total in" c.out &&
	uw_run mailutil copy "#mh/rtdir" "#driver.unix/rtdir.mbox" &&
	summary "$UW_HOME/rtdir.mbox" | cut -f2 >uwsubj &&
	summary rt-ref.mbox | cut -f2 >exp &&
	test_cmp exp uwsubj &&
	summary "$UW_HOME/rtdir.mbox" | cut -f1 | sed "s/[^R]//g" >uwseen &&
	summary rt-ref.mbox | cut -f1 | sed "s/[^R]//g" >exp &&
	test_cmp exp uwseen
'

test_expect_success 'mailutil copy into #driver.mh/#mh/..., read by mailbag' '
	uw_run mailutil copy rt "#driver.mh/#mh/drv" &&
	test -f "$UW_HOME/Mail/drv/1" &&
	mailbag convert "$UW_HOME/Mail/drv" drv.mbox &&
	summary drv.mbox | cut -f2 >got &&
	summary rt-ref.mbox | cut -f2 >exp &&
	test_cmp exp got &&
	HOME=$UW_HOME mailbag convert six.mbox "#driver.mh/#mh/drv2" &&
	test -f "$UW_HOME/Mail/drv2/1"
'

test_expect_success 'mailutil appends to a folder mailbag made; the sequences survive' '
	uw_run mailutil append src "#mh/rtdir" &&
	ls "$UW_HOME/Mail/rtdir" | sort -n | tr "\n" " " >nums &&
	test "$(cat nums)" = "3 5 9 10 11 " &&
	mailbag check "$UW_HOME/Mail/rtdir" >out &&
	test_grep "mh, 5 messages" out &&
	test_grep "^unseen: 5\$" "$UW_HOME/Mail/rtdir/.mh_sequences"
'

test_done

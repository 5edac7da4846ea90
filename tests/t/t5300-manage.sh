#!/bin/bash
test_description='create, delete, rename, append, copy, move, prune in every local format, against UW mailutil'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root: runs UW's mailutil as a throwaway user"
uw_setup
H=$UW_HOME
# The formats both UW's mailutil and mailbag create, read and write.
UWF="unix mmdf mbx mix mtx tenex"

# mb ARGS: mailbag as the user, in the home directory (names as UW's).
mb() { local c=$1; shift; uw_run "$MAILBAG" "$c" --set lock-timeout=2 "$@"; }
mu() { uw_run mailutil "$@"; }
# put SRC NAME: a file or directory into the home, the user's.
put() {
	rm -rf "$H/$2" && mkdir -p "$(dirname "$H/$2")" &&
		cp -r -- "$1" "$H/$2" || return 1
	[ -n "$UW_SELF" ] || chown -R "$UW_USER:$UW_GROUP" "$H"
}
# dump BOX: messages with UID, flags, keywords, date, size and text hash,
# then uidnext and the count (the UIDVALIDITY, a time, left out).
dump() { "$HELPER/mbtool" dump "$1" | sed 's/^uidvalidity=[0-9]* //'; }
# nouid: the same without UIDs (UW's -kw dummy message burns UID 1).
nouid() { dump "$1" | sed 's/^msg uid=[0-9]* /msg /; s/^uidnext=[0-9]* //'; }
# notext: the same without the text's size and hash.
notext() { dump "$1" | sed 's/ size=[0-9]* hash=[0-9a-f]*//'; }
# ids BOX: the Message-IDs of BOX in order, via a unix copy.
ids() {
	rm -f "$TRASH/.ids" &&
		mailbag convert -q "$1" "$TRASH/.ids" &&
		tr -d '\r' <"$TRASH/.ids" | sed -n 's/^Message-ID: <\(.*@t\)>$/\1/p'
}
count() { mailbag check "$1" | sed -n 's/^[^:]*: [a-z]*, \([0-9]*\) messages.*/\1/p'; }
# The /tmp lock of UW's unix and mmdf drivers (spec 12.3) for a file.
tmplock() { printf '/tmp/.%s.%x' "$(stat -c %D "$1")" "$(stat -c %i "$1")"; }

test_expect_success 'setup: a source mailbox in every format' '
	cat >src.unix <<-\EOF &&
	From alice@example.com Mon Jan  1 10:00:00 2024
	Message-ID: <m1@t>
	Subject: one
	Status: RO

	first
	>From the quoted line

	From bob@example.com Tue Jan  2 11:00:00 2024
	Message-ID: <m2@t>
	Subject: two

	second

	From carol@example.com Wed Jan  3 12:00:00 2024
	Message-ID: <m3@t>
	Subject: three
	Status: RO
	X-Status: F

	third

	From dave@example.com Thu Jan  4 13:00:00 2024
	Message-ID: <m4@t>
	Subject: four
	Status: O
	X-Status: A

	fourth

	From erin@example.com Fri Jan  5 14:00:00 2024
	Message-ID: <m5@t>
	Subject: five
	Status: O
	X-Status: T

	fifth
	EOF
	for f in $UWF; do
		test $f = unix || mailbag convert -q --to $f src.unix src.$f ||
			return 1
		test "$(count src.$f)" = 5 || return 1
	done
'

test_expect_success 'create: the same mailboxes, modes and parents as mailutil create' '
	for f in $UWF; do
		mu create "#driver.$f/uw/new/c.$f" &&
		mb create -q "#driver.$f/mb/new/c.$f" &&
		test "$(mailbag check "$H/uw/new/c.$f" | sed "s/^[^:]*: //;s/uidvalidity [0-9]*/V/;s/[0-9]* bytes/N bytes/")" = \
			"$(mailbag check "$H/mb/new/c.$f" | sed "s/^[^:]*: //;s/uidvalidity [0-9]*/V/;s/[0-9]* bytes/N bytes/")" &&
		mu check "mb/new/c.$f" >out 2>&1 &&
		test_grep "0 total in mb/new/c.$f" out &&
		test "$(stat -c %a "$H/mb/new/c.$f")" = "$(stat -c %a "$H/uw/new/c.$f")" ||
			return 1
	done &&
	test "$(stat -c %a "$H/mb/new/c.unix")" = 600 &&
	test "$(stat -c %a "$H/mb")" = 700 &&
	test "$(stat -c %a "$H/mb/new")" = "$(stat -c %a "$H/uw/new")" &&
	test "$(stat -c %U "$H/mb/new")" = "$UW_USER"
'

test_expect_success 'create: the new-format setting, --to, a directory, --json, -n' '
	mb create --set new-format=mbx plain &&
	mailbag check "$H/plain" | grep ": mbx, 0 messages" &&
	mb create --to mix mixbox && test -f "$H/mixbox/.mixmeta" &&
	mb create dir1/sub/ && test -d "$H/dir1/sub" &&
	test "$(stat -c %a "$H/dir1/sub")" = 700 &&
	mb create --json --to mmdf jbox >out &&
	test_grep "\"type\":\"create\".*\"format\":\"mmdf\"" out &&
	mb create -n --to mbx dry >out && test_grep "would create" out &&
	test ! -e "$H/dry"
'

test_expect_success 'create: refusals and their exit codes' '
	mu create INBOX 2>err; test_grep "Can.t create INBOX" err &&
	test_expect_code 73 mb create INBOX &&
	test_expect_code 73 mb create plain &&
	test_expect_code 64 mb create --to nosuch x1 &&
	test ! -e "$H/x1" &&
	test_expect_code 64 mb create "#driver.nosuch/x2" &&
	test_expect_code 64 mb create --to mbx "#driver.mix/x3" &&
	test_expect_code 64 mb create &&
	mb create "#driver.mbx/INBOX" &&
	mailbag check "$H/INBOX" | grep ": mbx, 0 messages"
'

test_expect_success 'append: flags, keywords and date as mailutil append gives them' '
	printf "From frank@example.org Sat Jan  6 15:00:00 2024\nMessage-ID: <a1@t>\nSubject: app\nX-IMAPbase: 1700000000 0000000001 Junk Work\nStatus: RO\nX-Status: FA\nX-Keywords: Junk Work\nX-UID: 1\n\nbody\n>From x\n" >one.unix &&
	put one.unix one &&
	for f in $UWF; do
		mu create "#driver.$f/ua.$f" && mb create -q --to $f ma.$f &&
		mu append -kw one ua.$f &&
		sed 1d one.unix | grep -v "^Status\|^X-Status\|^X-Keywords\|^X-UID\|^X-IMAPbase" |
			sed "1i From frank@example.org Sat Jan  6 15:00:00 2024" >msg &&
		mb append -q --flags "seen \\Flagged,answered" --keywords Junk,Work \
			--date "Sat Jan  6 15:00:00 2024" "ma.$f" <msg &&
		nouid "$H/ua.$f" >exp &&
		nouid "$H/ma.$f" >act &&
		test_cmp exp act &&
		mu check "ma.$f" >out 2>&1 && test_grep "1 total" out ||
			return 1
	done &&
	grep "^From frank@example.org Sat Jan  6 15:00:00 2024" "$H/ma.unix"
'

test_expect_success 'append: the From line is the sender; --from; --create; --json' '
	printf "From grace@example.net Mon Feb  5 08:00:00 2024\nSubject: s\n\nx\n" |
		mb append --create --to unix snd &&
	test "$(grep -c "^From grace@example.net Mon Feb  5 08:00:00 2024" "$H/snd")" = 1 &&
	test "$(grep -c "^From " "$H/snd")" = 2 &&
	printf "Subject: s2\n\nx\n" | mb append --from=heidi@example.net snd &&
	grep "^From heidi@example.net " "$H/snd" &&
	test "$(count "$H/snd")" = 2 &&
	printf "Subject: j\n\nx\n" | mb append --json -c --to mbx japp >out &&
	test_grep "\"type\":\"append\".*\"format\":\"mbx\".*\"uid\":1" out &&
	printf "Subject: n\n\nx\n" | mb append -n snd >out &&
	test_grep "would append" out && test "$(count "$H/snd")" = 2
'

test_expect_success 'append: failures: no mailbox 66, empty 65, bad flag/date 64' '
	printf "Subject: x\n\nx\n" | { mb append nosuch 2>err; test $? = 66; } &&
	test_grep "no such mailbox" err && test ! -e "$H/nosuch" &&
	{ mb append snd </dev/null 2>err; test $? = 65; } &&
	printf "Subject: x\n\nx\n" | { mb append --flags=bogus snd 2>err; test $? = 64; } &&
	printf "Subject: x\n\nx\n" | { mb append --date=never snd 2>err; test $? = 64; } &&
	printf "Subject: x\n\nx\n" | { mb append --keywords="a(b" snd 2>err; test $? = 64; } &&
	test "$(count "$H/snd")" = 2
'

# UW reads the LF that ends each MMDF message before the closing ^A^A^A^A
# line (its own "size+1" separator, spec 3) as message text, so its
# copies out of MMDF grow by one byte a message; mailbag does not count
# it.  Copies out of MMDF are compared without the text.
test_expect_success 'copy: every format to every format, as mailutil copy' '
	for f in $UWF; do put src.$f s.$f || return 1; done &&
	for f in $UWF; do
		cmp=dump && test $f = mmdf && cmp=notext
		for g in $UWF; do
			mu copy s.$f "#driver.$g/uc/$f.$g" &&
			mb copy -q s.$f "#driver.$g/mc/$f.$g" &&
			$cmp "$H/uc/$f.$g" >exp && $cmp "$H/mc/$f.$g" >act &&
			test_cmp exp act &&
			mu check "mc/$f.$g" >out 2>&1 &&
			test_grep "5 total" out || return 1
		done
	done &&
	for f in $UWF; do dump "$TRASH/src.$f" >exp && dump "$H/s.$f" >act &&
		test_cmp exp act || return 1; done
'

# UW's unix and MMDF appends reopen the mailbox and rewrite it, which
# gives the new messages UIDs at once (spec 2.8); mailbag's append leaves
# them to the next read/write session; mtx and tenex keep no UIDs (UW
# numbers the messages of each session).  UIDs are compared only where
# the format stores them with the message.
test_expect_success 'copy: --existing appends like mailutil append; --new refuses' '
	for f in $UWF; do
		cmp=dump && case $f in unix|mmdf|mtx|tenex) cmp=nouid ;; esac
		mu create "#driver.$f/ue.$f" && mb create -q --to $f me.$f &&
		mu append s.unix ue.$f && mb copy -q --existing s.unix me.$f &&
		$cmp "$H/ue.$f" >exp && $cmp "$H/me.$f" >act &&
		test_cmp exp act || return 1
	done &&
	test_expect_code 73 mb copy --new s.unix me.unix &&
	test_expect_code 66 mb copy --existing s.unix nothere &&
	test ! -e "$H/nothere"
'

test_expect_success 'copy: each message keeps its own envelope line' '
	mb copy -q s.unix env.unix "1:*" && mb copy -q s.mmdf env.mmdf &&
	for b in env.unix env.mmdf; do
		grep "^From " "$TRASH/src.unix" >exp &&
		grep -a "^From " "$H/$b" | grep -v "^From MAILER-DAEMON" >act &&
		test_cmp exp act || return 1
	done
'

test_expect_success 'copy: message sets by number and by UID' '
	mb copy -q s.mbx set1 "2:3,5" && test "$(ids "$H/set1" | tr "\n" " ")" = "m2@t m3@t m5@t " &&
	mb copy -q s.mbx set2 "4:2" && test "$(ids "$H/set2" | tr "\n" " ")" = "m2@t m3@t m4@t " &&
	mb copy -q s.mbx set3 "*" && test "$(ids "$H/set3")" = m5@t &&
	mb copy -q s.mbx set4 "1,1,1" && test "$(ids "$H/set4")" = m1@t &&
	mb create -q --to mbx u.mbx && mb copy -q s.mbx u.mbx 1:5 &&
	mb prune -q u.mbx 1:2 &&
	mb copy -q --uid u.mbx set5 "1:7" && test "$(ids "$H/set5" | tr "\n" " ")" = "m3@t m4@t m5@t " &&
	mb copy -q --uid u.mbx set6 "4,*" && test "$(ids "$H/set6" | tr "\n" " ")" = "m4@t m5@t " &&
	mb copy --json s.mbx set7 "9:12" >out &&
	test_grep "\"selected\":0" out &&
	mb copy -n s.mbx set8 2 >out && test_grep "would copy 1 of 5" out &&
	test ! -e "$H/set8"
'

test_expect_success 'copy: bad sets and other failures, with their exit codes' '
	for s in 0 "1:" a "1,,2" "1:2:3" "-1" "4294967296" ""; do
		test_expect_code 64 mb copy s.mbx bad "$s" || return 1
	done &&
	test ! -e "$H/bad" &&
	test_expect_code 64 mb copy --uid s.mbx bad &&
	test_expect_code 66 mb copy nosuch bad 1 &&
	test_expect_code 64 mb copy s.mbx s.mbx 1 &&
	test_expect_code 64 mb copy s.mbx &&
	test_expect_code 64 mb copy --to nosuch s.mbx bad 1 &&
	test ! -e "$H/bad"
'

test_expect_success 'move: every format, as mailutil move; SRC left empty' '
	for f in $UWF; do
		cmp=dump && test $f = mmdf && cmp=notext
		put src.$f um.$f && put src.$f mm.$f &&
		mu move um.$f "#driver.$f/umd.$f" &&
		mb move -q mm.$f "#driver.$f/mmd.$f" &&
		$cmp "$H/umd.$f" >exp && $cmp "$H/mmd.$f" >act &&
		test_cmp exp act &&
		test "$(count "$H/mm.$f")" = 0 && test "$(count "$H/um.$f")" = 0 ||
			return 1
	done
'

test_expect_success 'move: a set; only the moved messages are expunged' '
	for f in $UWF; do
		put src.$f mv.$f &&
		"$HELPER/mbtool" flags "$H/mv.$f" 2 +deleted &&
		mb move -q mv.$f "mvd.$f" "2:4" &&
		test "$(ids "$H/mvd.$f" | tr "\n" " ")" = "m2@t m3@t m4@t " &&
		test "$(ids "$H/mv.$f" | tr "\n" " ")" = "m1@t m5@t " ||
			return 1
	done &&
	put src.mbx mv2.mbx &&
	"$HELPER/mbtool" flags "$H/mv2.mbx" 2 +deleted &&
	mb move --json mv2.mbx mvd2 "3" >out &&
	test_grep "\"expunged\":1" out &&
	test "$(ids "$H/mv2.mbx" | tr "\n" " ")" = "m1@t m2@t m4@t m5@t " &&
	dump "$H/mv2.mbx" | sed -n 2p | grep "flags=0x2 "
'

test_expect_success 'prune: as mailutil prune, but exit 0' '
	for f in $UWF; do
		put src.$f up.$f && put src.$f mp.$f &&
		test_expect_code 1 mu prune up.$f FLAGGED &&
		mb prune -q mp.$f 3 &&
		dump "$H/up.$f" >exp && dump "$H/mp.$f" >act &&
		test_cmp exp act &&
		test_expect_code 1 mu prune up.$f ALL &&
		mb prune -q mp.$f "1:*" &&
		test "$(count "$H/mp.$f")" = 0 && test "$(count "$H/up.$f")" = 0 ||
			return 1
	done
'

test_expect_success 'prune: previously deleted messages stay; --uid; -n; --json; failures' '
	put src.mbx pr.mbx &&
	"$HELPER/mbtool" flags "$H/pr.mbx" 1 +deleted &&
	mb prune -n pr.mbx 2 >out && test_grep "would prune 1 of 5" out &&
	test "$(count "$H/pr.mbx")" = 5 &&
	mb prune --json --uid pr.mbx "2,4" >out &&
	test_grep "\"expunged\":2" out &&
	test "$(ids "$H/pr.mbx" | tr "\n" " ")" = "m1@t m3@t m5@t " &&
	dump "$H/pr.mbx" | sed -n 1p | grep "flags=0x3 " &&
	mb prune pr.mbx 10 >out && test_grep "nothing pruned" out &&
	test_expect_code 66 mb prune nosuch 1 &&
	test_expect_code 64 mb prune pr.mbx &&
	test_expect_code 64 mb prune pr.mbx x
'

test_expect_success 'rename: as mailutil rename, parents made' '
	for f in $UWF; do
		put src.$f ur.$f && put src.$f mr.$f &&
		mu rename ur.$f "urd/x/r.$f" &&
		mb rename -q mr.$f "mrd/x/r.$f" &&
		test ! -e "$H/mr.$f" && test ! -e "$H/ur.$f" &&
		dump "$H/urd/x/r.$f" >exp && dump "$H/mrd/x/r.$f" >act &&
		test_cmp exp act || return 1
	done &&
	test "$(stat -c %a "$H/mrd/x")" = "$(stat -c %a "$H/urd/x")" &&
	test_expect_code 66 mb rename nosuch x &&
	test_expect_code 73 mb rename mrd/x/r.unix mrd/x/r.mbx &&
	test_expect_code 73 mb rename mrd/x/r.unix INBOX &&
	mb rename -n mrd/x/r.unix elsewhere >out && test_grep "would rename" out &&
	test -e "$H/mrd/x/r.unix"
'

test_expect_success 'delete: as mailutil delete; directories; -n; --json' '
	for f in $UWF; do
		put src.$f ud.$f && put src.$f md.$f &&
		mu delete ud.$f && mb delete -q md.$f &&
		test ! -e "$H/ud.$f" && test ! -e "$H/md.$f" || return 1
	done &&
	mb create -q deld/ && mb delete deld >out &&
	test ! -e "$H/deld" && test_grep "directory" out &&
	mb create -q deld2/sub/ &&
	test_expect_code 73 mb delete deld2 && test -d "$H/deld2/sub" &&
	put src.mbx dj.mbx && mb delete -n dj.mbx >out &&
	test_grep "would delete" out && test -e "$H/dj.mbx" &&
	mb delete --json dj.mbx >out && test_grep "\"format\":\"mbx\"" out &&
	test_expect_code 66 mb delete dj.mbx
'

test_expect_success 'delete, rename: a mailbox held open by another process is refused (75)' '
	put src.mbx held.mbx && put src.unix held.unix && put src.mtx held.mtx &&
	put src.mix held.mix &&
	uw_run flock -s held.mix/.mixmeta sleep 30 &
	pid=$! &&
	sleep 0.5 &&
	{ mb delete held.mix 2>err; rc=$?; } ;
	kill $pid; wait $pid;
	test $rc = 75 && test_grep "in use" err && test -e "$H/held.mix/.mixmeta" &&
	for f in mbx mtx; do
		uw_run flock -s "held.$f" sleep 30 &
		pid=$! &&
		sleep 0.5 &&
		{ mb delete held.$f 2>err; rc=$?; } ;
		{ mb rename held.$f moved.$f 2>err2; rc2=$?; } ;
		kill $pid; wait $pid;
		test $rc = 75 && test_grep "in use" err &&
		test $rc2 = 75 && test ! -e "$H/moved.$f" &&
		test -e "$H/held.$f" || return 1
	done &&
	lk=$(tmplock "$H/held.unix") &&
	rm -f "$lk" && touch "$lk" && chmod 666 "$lk" &&
	{ flock -s "$lk" sleep 30 & pid=$!; } &&
	sleep 0.5 &&
	{ mb delete held.unix 2>err; rc=$?; } ;
	kill $pid; wait $pid; rm -f "$lk";
	test $rc = 75 && test -e "$H/held.unix" &&
	mb delete held.unix && test ! -e "$H/held.unix"
'

test_expect_success 'INBOX: create and delete refused as UW refuses; --force deletes' '
	SP=$TRASH/spool && mkdir -p "$SP" && chmod 1777 "$SP" &&
	cp src.unix "$SP/$UW_USER" && chown "$UW_USER" "$SP/$UW_USER" &&
	test_expect_code 1 mu delete INBOX &&
	{ mb delete --set "spool-directory=$SP" INBOX 2>err; test $? = 77; } &&
	test_grep "refusing" err && test -e "$SP/$UW_USER" &&
	{ mb delete --set "spool-directory=$SP" inbox 2>err; test $? = 77; } &&
	cp "$SP/$UW_USER" inbox.keep
'

test_expect_success 'INBOX: rename moves its messages and leaves it in place, empty' '
	# the mbx ~/INBOX made above would be INBOX (UW rule 2): the spool here
	rm -f "$H/INBOX" &&
	ino=$(stat -c %i "$SP/$UW_USER") &&
	mb rename --set "spool-directory=$SP" INBOX saved/inbox-2024 >out &&
	test_grep "moved 5 of 5" out &&
	nouid "$H/saved/inbox-2024" >act && nouid inbox.keep >exp &&
	test_cmp exp act &&
	test "$(stat -c %i "$SP/$UW_USER")" = "$ino" &&
	test "$(count "$SP/$UW_USER")" = 0 &&
	test "$(stat -c %U "$SP/$UW_USER")" = "$UW_USER" &&
	printf "From x@y Mon Jan  1 00:00:00 2024\nSubject: new\n\nn\n" |
		mb append --set "spool-directory=$SP" INBOX &&
	test "$(count "$SP/$UW_USER")" = 1 &&
	mb delete --set "spool-directory=$SP" --force INBOX &&
	test ! -e "$SP/$UW_USER"
'

test_expect_success 'list: formats, patterns, --json, exit codes' '
	mkdir -p lt/a/b && cp src.unix lt/u && cp src.mbx lt/a/x.mbx &&
	cp -r src.mix lt/a/b/m && cp src.mmdf lt/a/b/f && cp src.tenex lt/t &&
	cp src.mtx lt/a/m.mtx && echo "just text" >lt/a/note &&
	mailbag list lt >out &&
	cat >exp <<-\EOF &&
	dir	a/
	dir	a/b/
	mmdf	a/b/f
	mix	a/b/m
	mtx	a/m.mtx
	mbx	a/x.mbx
	tenex	t
	unix	u
	EOF
	test_cmp exp out &&
	mailbag list lt "%" >out &&
	printf "dir\ta/\ntenex\tt\nunix\tu\n" >exp && test_cmp exp out &&
	mailbag list lt "a/%" >out &&
	printf "dir\ta/b/\nmtx\ta/m.mtx\nmbx\ta/x.mbx\n" >exp && test_cmp exp out &&
	mailbag list lt "*/m*" >out &&
	printf "mix\ta/b/m\nmtx\ta/m.mtx\n" >exp && test_cmp exp out &&
	mailbag list --all lt "a/n*" >out && test_grep "a/note" out &&
	(cd lt && mailbag list "a/b/%") >out &&
	printf "mmdf\ta/b/f\nmix\ta/b/m\n" >exp && test_cmp exp out &&
	mailbag list --json lt "a/b/m" >out &&
	test_grep "\"name\":\"a/b/m\",\"path\":\"lt/a/b/m\",\"kind\":\"mailbox\",\"format\":\"mix\"" out &&
	mailbag list --json lt "a" >out && test_grep "Noselect" out &&
	test_expect_code 1 mailbag list lt "zz*" &&
	test_expect_code 66 mailbag list nosuchdir &&
	test_expect_code 64 mailbag list a b c
'

test_expect_success 'MH folders (#mh/ names) and eml directories' '
	printf "Path: Mail\n" >"$H/.mh_profile" &&
	[ -n "$UW_SELF" ] || chown "$UW_USER" "$H/.mh_profile" &&
	mb create -q "#mh/work" && test -d "$H/Mail/work" &&
	mb copy -q s.mbx "#mh/work" "1:3" &&
	test "$(ids "$H/Mail/work" | tr "\n" " ")" = "m1@t m2@t m3@t " &&
	printf "Subject: mh\nMessage-ID: <mh@t>\n\nx\n" | mb append --flags flagged "#mh/work" &&
	mb prune -q "#mh/work" 2 &&
	test "$(ids "$H/Mail/work" | tr "\n" " ")" = "m1@t m3@t mh@t " &&
	mb move -q "#mh/work" mhout.mbx "1" &&
	test "$(ids "$H/mhout.mbx")" = m1@t &&
	test "$(ids "$H/Mail/work" | tr "\n" " ")" = "m3@t mh@t " &&
	mb rename -q "#mh/work" "#mh/old/work" && test -d "$H/Mail/old/work" &&
	test "$(count "$H/Mail/old/work")" = 2 &&
	mu check "#mh/old/work" >out 2>&1 && test_grep "2 total" out &&
	mb delete -q "#mh/old/work" && test ! -e "$H/Mail/old/work" &&
	mb create -q --to eml emlbox &&
	mb copy -q s.unix emlbox 4:5 && test "$(count "$H/emlbox")" = 2 &&
	{ mb move emlbox ebx 1 2>err; test $? = 69; } &&
	test "$(count "$H/emlbox")" = 2 && test ! -e "$H/ebx" &&
	{ mb prune emlbox 1 2>err; test $? = 69; } &&
	mb copy -q emlbox ebx 2 && test "$(ids "$H/ebx")" = m5@t &&
	mb delete -q emlbox && test ! -e "$H/emlbox"
'

test_expect_success 'a locked SRC: move waits, then fails 75 and changes nothing' '
	put src.unix lk.unix &&
	lockfile -r0 "$H/lk.unix.lock" &&
	{ mb move lk.unix lkd 1 2>err; rc=$?; } ;
	rm -f "$H/lk.unix.lock";
	test $rc = 75 && test ! -e "$H/lkd" &&
	test "$(count "$H/lk.unix")" = 5
'

test_expect_success 'a read-only SRC: move refuses (77) before anything is copied' '
	put src.mbx ro.mbx && chmod 444 "$H/ro.mbx" &&
	{ mb move ro.mbx rod 1 2>err; test $? = 77; } &&
	test ! -e "$H/rod" && test "$(count "$H/ro.mbx")" = 5 &&
	{ mb prune ro.mbx 1 2>err; test $? = 77; } &&
	mb copy -q ro.mbx rod 1 && test "$(count "$H/rod")" = 1 &&
	put src.unix rdir/x && chmod 555 "$H/rdir" &&
	{ mb delete rdir/x 2>err; rc=$?; } ;
	chmod 755 "$H/rdir"; test $rc = 77 && test -e "$H/rdir/x"
'

test_expect_success 'names: ~user/name and #driver.FORMAT/name as UW reads them' '
	mailbag list "~$UW_USER" "s.m%" >out &&
	printf "mbx\ts.mbx\nmix\ts.mix\nmmdf\ts.mmdf\nmtx\ts.mtx\n" >exp &&
	test_cmp exp out &&
	mb copy -q "~/s.mbx" "#driver.mtx/tilde.mtx" 1:2 &&
	mailbag check "$H/tilde.mtx" | grep ": mtx, 2 messages"
'

if mkdir full && mount -t tmpfs -o size=128k,mode=1777 tmpfs full 2>/dev/null; then
	test_set_prereq TMPFS
	test_atexit "umount '$TRASH/full'"
fi
test_expect_success TMPFS 'disk full (small tmpfs): 75; a new DST is not left, an old one is as it was' '
	{ cat src.unix && for i in $(seq 1 40); do
		printf "From big@x Mon Jan  1 00:00:00 2024\nMessage-ID: <b$i@t>\n\n" &&
		head -c 8000 /dev/zero | tr "\0" "x" | fold -w 70 && echo ||
			return 1
	done; } >big.unix &&
	test_expect_code 75 mailbag copy -q big.unix full/new.mbx &&
	test ! -e full/new.mbx && test -z "$(ls -A full)" &&
	mailbag copy -q src.unix full/old.mbx 1:2 && cp full/old.mbx before &&
	test_expect_code 75 mailbag copy -q --existing big.unix full/old.mbx &&
	test_cmp before full/old.mbx &&
	cp big.unix mvsrc && cp mvsrc mvsrc.orig &&
	test_expect_code 75 mailbag move -q mvsrc full/mv.mbx &&
	test_cmp mvsrc.orig mvsrc && test ! -e full/mv.mbx &&
	test_expect_code 75 mailbag append --to mbx full/app <big.unix &&
	test ! -e full/app
'

test_done

#!/bin/bash
test_description='dmail: delivery as the user from procmail, with flags and keywords'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root: runs as a throwaway user"
uw_setup
U=$UW_USER
SPOOL=$TRASH/spool
mkdir "$SPOOL" && chmod 1777 "$SPOOL" || exit 1

# dm ARGS: mailbag dmail as the user.
dm() {
	uw_run "$MAILBAG" dmail --set "spool-directory=$SPOOL" \
		--set lock-timeout=2 "$@"
}
msg() { printf 'From sender@example.com Mon Jan  1 00:00:00 2024\nMessage-ID: <%s@test>\nSubject: %s\n\nbody\n' "$1" "$1"; }

test_expect_success 'INBOX: made in the spool, owned by the user' '
	msg i1 | dm &&
	mailbag check "$SPOOL/$U" | grep ": unix, 1 messages" &&
	test "$(stat -c %U "$SPOOL/$U")" = "$U" &&
	grep "^Received: via mailbag-[0-9.]* dmail for $U; " "$SPOOL/$U"
'

test_expect_success '-k and --flags into an mbx folder: UW sees the keywords and flags' '
	uw_run mailutil create "#driver.mbx/kw" &&
	msg k1 | dm -s -k "Junk Work" +kw &&
	msg k2 | dm --flags="\\Flagged,answered" -k Lists "$U+kw" &&
	mailbag convert --to unix "$UW_HOME/kw" kw.crlf &&
	tr -d "\r" <kw.crlf >kw.mbox &&
	grep -A6 "^Subject: k1" kw.mbox | grep -x "Status: R" &&
	grep -A6 "^Subject: k1" kw.mbox | grep "^X-Keywords: Junk Work" &&
	grep -A6 "^Subject: k2" kw.mbox | grep -x "X-Status: FA" &&
	grep -A6 "^Subject: k2" kw.mbox | grep "^X-Keywords: Lists" &&
	uw_run mailutil check kw >uw.out 2>&1 &&
	grep "2 total in" uw.out
'

test_expect_success 'a missing folder is 73, never INBOX; --create makes it' '
	before=$(grep -c "^Message-ID" "$SPOOL/$U") &&
	msg m1 | { dm +missing 2>err; test $? = 73; } &&
	test_grep "no such folder" err &&
	test "$(grep -c "^Message-ID" "$SPOOL/$U")" = "$before" &&
	test ! -e "$UW_HOME/missing" &&
	msg m2 | dm --create -b mbx +missing &&
	mailbag check "$UW_HOME/missing" | grep ": mbx, 1 messages"
'

test_expect_success 'refusals: root 77, another user 77, bad flag 64, bad folder 64, empty 65' '
	msg r | test_expect_code 77 mailbag dmail &&
	msg r | { dm daemon 2>err; test $? = 77; } &&
	msg r | { dm --flags=bogus 2>err; test $? = 64; } &&
	msg r | { dm +../x 2>err; test $? = 64; } &&
	{ dm </dev/null 2>err; test $? = 65; }
'

test_expect_success 'a lock held by another: 75, folder untouched' '
	uw_run mailutil create "#driver.unix/ufold" &&
	msg u1 | dm +ufold &&
	cp "$UW_HOME/ufold" before &&
	lockfile -r0 "$UW_HOME/ufold.lock" &&
	msg u2 | { dm +ufold 2>/dev/null; test $? = 75; } &&
	rm -f "$UW_HOME/ufold.lock" &&
	test_cmp before "$UW_HOME/ufold"
'

test_expect_success 'procmail runs dmail from a recipe' '
	cat >"$UW_HOME/.procmailrc" <<-PRC &&
	SHELL=/bin/sh
	:0 w
	* ^Subject: list
	| $MAILBAG dmail --set spool-directory=$SPOOL -k Lists +kw
	PRC
	chown "$U" "$UW_HOME/.procmailrc" && chmod 644 "$UW_HOME/.procmailrc" &&
	printf "From a@b Mon Jan  1 00:00:00 2024\nMessage-ID: <pm@test>\nSubject: list mail\n\nx\n" |
		uw_run procmail &&
	mailbag convert --to unix "$UW_HOME/kw" kw2.mbox &&
	tr -d "\r" <kw2.mbox | grep -A5 "^Subject: list mail" | grep "^X-Keywords: Lists" &&
	tr -d "\r" <kw2.mbox | grep -x "Return-Path: <a@b>"
'

test_done

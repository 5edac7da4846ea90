#!/bin/bash
test_description='a 2775 root:mail spool: spool-move and dmail as the user (through mailbag-lock) against deliver as root and procmail lockfile'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root to make a throwaway user"
getent group mail >/dev/null || skip_all "no group mail"
command -v lockfile >/dev/null 2>&1 || skip_all "procmail's lockfile missing"
SPOOL=/var/mail
[ -d /var/mail ] || SPOOL=/var/spool/mail
[ -f /etc/mailbag.conf ] && skip_all "/etc/mailbag.conf would pick the spool directory"
uw_setup
U=$UW_USER
SF=$SPOOL/$U
LOCK=$SF.lock
HLP=$TRASH/bin/mailbag-lock

cleanup_spool() { rm -f "$SF" "$LOCK" "$LOCK".*; }
test_atexit cleanup_spool

# as_user CMD...: run as the throwaway user (clean environment, HOME).
as_user() { uw_run "$@"; }
# mu ARGS: mailbag as the user, through the helper copy.
mu() {
	uw_run "$MAILBAG" "$1" --set "lock-helper=$HLP" --set lock-timeout=60 \
		--set dotlock-timeout=60 "${@:2}"
}
msg() {
	printf 'From sender@example.com Mon Jan  1 00:00:00 2024\nMessage-ID: <%s@test>\nSubject: %s\n\nbody of %s\nFrom here\n' \
		"$1" "$1" "$1"
}
# ids FILE...: every Message-ID in the mailboxes, sorted, with counts.
ids() {
	local f
	for f in "$@"; do
		test -s "$f" || continue
		rm -f ids.tmp &&
		"$MAILBAG" convert -q --set uw-metadata=no --to=unix "$f" ids.tmp ||
			return 1
		grep -a "^Message-ID:" ids.tmp | tr -d "\r"
	done | sort | uniq -c | sed "s/^ *//"
}
# retry75 CMD...: as an MTA or cron would, retry a temporary failure.
retry75() {
	local try rc
	for try in $(seq 1 20); do
		rc=0
		"$@" || rc=$?
		[ "$rc" = 75 ] || return "$rc"
		sleep 0.5
	done
	return 75
}

test_expect_success 'setup: a 2775 root:mail spool, a setgid-mail helper copy' '
	test "$(stat -c %a:%U:%G "$SPOOL")" = 2775:root:mail &&
	mkdir -p bin && cp "$MAILBAG_BUILD/bin/mailbag-lock" "$HLP" &&
	chgrp mail "$HLP" && chmod 2755 "$HLP" && chmod 755 bin &&
	rm -f "$SF" "$LOCK" && : >"$SF" &&
	chown "$U:mail" "$SF" && chmod 660 "$SF" &&
	! as_user touch "$SPOOL/$U.probe"
'

# Four at once on one spool file, for a few seconds:
#  - mailbag deliver as root (its child keeps the group mail: own dot-lock)
#  - procmail's lockfile as root: takes the dot-lock, checks that nobody
#    changes the spool while it holds it, lets go
#  - mailbag dmail as the user into INBOX (the spool): the helper's lock
#  - mailbag spool-move as the user, spool to ~/moved: the helper's lock
# Then every Message-ID must be in spool + ~/moved exactly once.
test_expect_success 'deliver, lockfile, dmail and spool-move contend: each message once, the dot-lock honoured' '
	ND=30 NU=20
	rm -f stop bad.* "$UW_HOME/moved"
	(
		for i in $(seq 1 $ND); do
			msg "d$i" >m.d$i
			retry75 "$MAILBAG" deliver --set spool-directory=$SPOOL \
				--set lock-timeout=60 --set dotlock-timeout=60 \
				"$U" <m.d$i || { echo "d$i: $?" >>bad.deliver; exit 1; }
		done
	) &
	p1=$!
	(
		for i in $(seq 1 $NU); do
			msg "u$i" >"$UW_HOME/m.u$i" && chmod 644 "$UW_HOME/m.u$i"
			retry75 mu dmail <"$UW_HOME/m.u$i" ||
				{ echo "u$i: $?" >>bad.dmail; exit 1; }
			sleep 0.05
		done
	) &
	p2=$!
	(
		n=0
		while ! test -e stop && [ $n -lt 1000 ]; do
			retry75 mu spool-move -q "$SF" moved >>sm.out 2>&1 ||
				{ echo "spool-move: $?" >>bad.move; exit 1; }
			n=$((n + 1))
			sleep 0.1
		done
	) &
	p3=$!
	(
		n=0
		while { ! test -e stop || [ $n -lt 5 ]; } && [ $n -lt 1000 ]; do
			lockfile -1 -r 60 "$LOCK" || { echo "lockfile failed" >>bad.lockfile; exit 1; }
			a=$(stat -c %s.%Y.%i "$SF")
			sleep 0.15
			b=$(stat -c %s.%Y.%i "$SF")
			rm -f "$LOCK"
			test "$a" = "$b" || echo "changed under the dot-lock: $a $b" >>bad.lockfile
			n=$((n + 1))
			sleep 0.05
		done
		echo $n >lockfile.rounds
	) &
	p4=$!
	rc=0
	wait $p1 || rc=1
	wait $p2 || rc=1
	touch stop
	wait $p3 || rc=1
	wait $p4 || rc=1
	cat bad.* sm.out 2>/dev/null;
	test "$rc" = 0 && ! ls bad.* 2>/dev/null &&
	echo "lockfile rounds: $(cat lockfile.rounds)" &&
	test "$(cat lockfile.rounds)" -ge 5 &&
	test -s "$UW_HOME/moved" &&
	mu spool-move "$SF" moved &&
	! test -s "$SF" && ! test -e "$LOCK" &&
	"$MAILBAG" check "$UW_HOME/moved" &&
	ids "$SF" "$UW_HOME/moved" >got &&
	cat got && test "$(wc -l <got)" = $((ND + NU)) && ! grep -v "^1 " got &&
	test "$(uw_run mailutil check moved 2>&1 | sed -n "s/.* \([0-9]*\) total in .*/\1/p")" = $((ND + NU))
'

test_expect_success 'while mail is still in the spool: both files pass check, UW counts them' '
	rm -f "$UW_HOME/moved" &&
	for i in 1 2 3; do msg "s$i" | "$MAILBAG" deliver --set spool-directory=$SPOOL "$U" || return 1; done &&
	for i in 4 5; do msg "s$i" | mu dmail || return 1; done &&
	"$MAILBAG" check "$SF" | grep ": unix, 5 messages" &&
	test "$(stat -c %U "$SF")" = "$U" &&
	mu spool-move "$SF" moved >out && grep "moved 5 messages" out &&
	test "$(ids "$SF" "$UW_HOME/moved" | wc -l)" = 5
'

# FAQ 7.10: UW says "Mailbox vulnerable - directory /var/mail must have
# 1777 protection" on every access and goes on without the dot-lock.  We
# say once what is wrong and what to do, and leave the spool alone.
# check_one ERRFILE: exactly one line, the actionable one.
check_one() {
	cat "$1" &&
	test "$(wc -l <"$1")" = 1 &&
	grep -q "cannot create lock file .$LOCK.: directory $SPOOL (mode 2775, owner root:mail) is not writable by you" "$1" &&
	grep -q "install mailbag-lock setgid to the directory.s group" "$1" &&
	grep -q "or give the directory mode 1777; nothing was changed" "$1" &&
	! grep -q -i "vulnerable" "$1"
}

test_expect_success 'no helper: dmail says once what to do, exits 75, spool untouched' '
	msg keep | "$MAILBAG" deliver --set spool-directory=$SPOOL "$U" &&
	cp "$SF" before &&
	msg nohelper >"$UW_HOME/m.nh" && chmod 644 "$UW_HOME/m.nh" &&
	rc=0 && uw_run "$MAILBAG" dmail --set lock-helper=no <"$UW_HOME/m.nh" \
		>out 2>err || rc=$? &&
	test "$rc" = 75 && check_one err && test_must_be_empty out &&
	cmp before "$SF"
'

test_expect_success 'no helper: spool-move and append say it once too' '
	rc=0 && uw_run "$MAILBAG" spool-move --set lock-helper=no >out 2>err ||
	rc=$? && test "$rc" = 75 && check_one err && cmp before "$SF" &&
	! test -e "$UW_HOME/INBOX" &&
	rc=0 && uw_run "$MAILBAG" append --set lock-helper=no INBOX \
		<"$UW_HOME/m.nh" >out 2>err || rc=$? &&
	test "$rc" = 75 && check_one err && cmp before "$SF"
'

test_expect_success 'a helper that is not setgid: one message naming it' '
	cp "$HLP" bin/plain && chmod 755 bin/plain &&
	rc=0 && uw_run "$MAILBAG" dmail --set lock-helper=$TRASH/bin/plain \
		<"$UW_HOME/m.nh" >out 2>err || rc=$? &&
	cat err && test "$rc" = 75 && test "$(wc -l <err)" = 1 &&
	grep -q "the lock helper $TRASH/bin/plain refused: cannot create $LOCK: Permission denied" err &&
	grep -q "install mailbag-lock setgid" err &&
	cmp before "$SF"
'

test_expect_success 'reading the spool without a lock helper: no warning on every access' '
	uw_run "$MAILBAG" check --set lock-helper=no "$SF" >out 2>err &&
	grep -q ": unix, 1 messages.*: ok" out && test_must_be_empty err &&
	uw_run "$MAILBAG" check --set lock-helper=no INBOX >out 2>err &&
	grep -q "^$SF: unix, 1 messages.*: ok" out && test_must_be_empty err
'

test_done

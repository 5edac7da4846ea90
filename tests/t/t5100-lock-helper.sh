#!/bin/bash
test_description='mailbag-lock: the setgid dot-lock helper for the spool'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

# Needs root (a throwaway user, a setgid copy of the helper) and the real
# spool directory, which the helper takes from the system, never from us.
[ "$(id -u)" = 0 ] || skip_all "needs root to make a throwaway user"
getent group mail >/dev/null || skip_all "no group mail"
SPOOL=/var/mail
[ -d /var/mail ] || SPOOL=/var/spool/mail
[ -f /etc/mailbag.conf ] && skip_all "/etc/mailbag.conf would pick the spool directory"
uw_setup
U=$UW_USER
LOCK=$SPOOL/$U.lock
HLP=$TRASH/bin/mailbag-lock

cleanup_spool() { rm -f "$SPOOL/$U" "$SPOOL/$U.lock" "$SPOOL/$U".lock.*; }
test_atexit cleanup_spool

# as_user CMD...: run as the throwaway user, outside the harness's shell.
as_user() { uw_run "$@"; }

test_expect_success 'setup: a 2775 root:mail spool, a setgid-mail helper copy' '
	test "$(stat -c %a:%U:%G "$SPOOL")" = 2775:root:mail &&
	mkdir -p bin && cp "$MAILBAG_BUILD/bin/mailbag-lock" "$HLP" &&
	chgrp mail "$HLP" && chmod 2755 "$HLP" &&
	chmod 755 bin &&
	touch "$SPOOL/$U" && chown "$U:mail" "$SPOOL/$U" && chmod 600 "$SPOOL/$U" &&
	! as_user touch "$SPOOL/probe.lock"
'

# A holder reads its line once "go" exists; at exit any holder left goes.
test_atexit 'touch "$UW_HOME/go"'
test_expect_success 'the user alone cannot make the lock; the helper makes it and holds it' '
	rm -f "$UW_HOME/go" "$UW_HOME/ans" &&
	{ as_user sh -c "{ until test -e $UW_HOME/go; do sleep 0.05; done; echo x; } | $HLP -t 5 $SPOOL/$U >$UW_HOME/ans" & } &&
	pid=$! &&
	for i in $(seq 300); do test -s "$UW_HOME/ans" && break; sleep 0.1; done &&
	test "$(cat "$UW_HOME/ans")" = + &&
	test -f "$LOCK" &&
	test "$(stat -c %U:%G "$LOCK")" = "$U:mail" &&
	touch "$UW_HOME/go" &&
	wait $pid &&
	! test -e "$LOCK" &&
	test -z "$(ls "$SPOOL" | grep "^$U\.lock")"
'

test_expect_success 'the lock goes when the caller dies without a word' '
	rm -f "$UW_HOME/ans" &&
	{ as_user sh -c "sleep 60 | $HLP $SPOOL/$U >$UW_HOME/ans" & } &&
	for i in $(seq 300); do test -s "$UW_HOME/ans" && break; sleep 0.1; done &&
	test -f "$LOCK" &&
	# the helper may answer before the shell has started sleep
	for i in $(seq 300); do pkill -KILL -u "$U" -x sleep && break; sleep 0.1; done &&
	for i in $(seq 300); do test -e "$LOCK" || break; sleep 0.1; done &&
	! test -e "$LOCK" && wait
'

# refused CODE TEXT ARGS...: the helper answers -CODE TEXT, exits CODE.
refused() {
	local code=$1 text=$2 rc=0
	shift 2
	as_user sh -c "$HLP $* </dev/null" >ans 2>err || rc=$?
	cat ans err
	test "$rc" = "$code" && grep -q -- "^-$code .*$text" ans
}

test_expect_success 'another user'"'"'s spool file is refused' '
	refused 77 "is not your spool file" "$SPOOL/root" &&
	refused 77 "is not your spool file" "$SPOOL/mail"
'

test_expect_success 'a path outside the spool directory is refused' '
	refused 77 "outside the spool directory" "$UW_HOME/$U" &&
	refused 77 "outside the spool directory" "/tmp/$U" &&
	refused 77 "not an absolute path" "$U" &&
	ln -s "$SPOOL" "$UW_HOME/sp" &&
	refused 77 "outside the spool directory" "$UW_HOME/sub/../$U" &&
	! test -e "$UW_HOME/$U.lock" && ! test -e "/tmp/$U.lock"
'

test_expect_success 'a symlinked spool file is refused' '
	mv "$SPOOL/$U" "$SPOOL/$U.real" &&
	ln -s "$UW_HOME/x" "$SPOOL/$U" &&
	refused 77 "is a symbolic link" "$SPOOL/$U" &&
	! test -e "$LOCK" &&
	rm -f "$SPOOL/$U" && mv "$SPOOL/$U.real" "$SPOOL/$U"
'

test_expect_success 'a spool file the user does not own is refused' '
	chown root "$SPOOL/$U" &&
	refused 77 "belongs to uid 0" "$SPOOL/$U" &&
	! test -e "$LOCK" &&
	chown "$U" "$SPOOL/$U"
'

test_expect_success 'a hard-linked spool file is refused' '
	ln "$SPOOL/$U" "$SPOOL/$U.hl" &&
	refused 77 "hard links" "$SPOOL/$U" &&
	rm -f "$SPOOL/$U.hl"
'

test_expect_success 'a symlink on the lock name is refused, not followed' '
	ln -s "$UW_HOME/target" "$LOCK" &&
	refused 77 "not a regular file" "-t 1 $SPOOL/$U" &&
	! test -e "$UW_HOME/target" &&
	rm -f "$LOCK"
'

test_expect_success 'a lock held by another (procmail lockfile) is waited for, then 75' '
	lockfile -r0 "$LOCK" &&
	refused 75 "held by another process" "-t 1 $SPOOL/$U" &&
	test -f "$LOCK" && rm -f "$LOCK"
'

test_expect_success 'the spool file need not exist yet' '
	mv "$SPOOL/$U" "$SPOOL/$U.keep" &&
	as_user sh -c "echo x | $HLP $SPOOL/$U" >ans &&
	test "$(cat ans)" = + && ! test -e "$LOCK" &&
	mv "$SPOOL/$U.keep" "$SPOOL/$U"
'

test_expect_success 'usage errors, and root is sent away' '
	refused 64 "usage" "" &&
	refused 64 "bad timeout" "-t -5 $SPOOL/$U" &&
	refused 64 "usage" "-x $SPOOL/$U" &&
	rc=0 && "$HLP" "$SPOOL/root" </dev/null >ans 2>&1 || rc=$? &&
	test "$rc" = 64 && grep -q "root creates its locks itself" ans
'

test_expect_success 'without the setgid bit it cannot create the lock' '
	cp "$HLP" bin/plain && chmod 755 bin/plain &&
	rc=0 && as_user sh -c "$TRASH/bin/plain -t 1 $SPOOL/$U </dev/null" >ans 2>err ||
	rc=$? && cat ans err &&
	test "$rc" = 73 && grep -q "^-73 cannot create $LOCK: Permission denied" ans &&
	grep -q "not installed setgid" err
'

test_expect_success 'no extra descriptors reach it, and it holds the lock with its group privilege switched off' '
	as_user sh -c "echo x | MAILBAG_CONF=/nonexistent HOME=/ $HLP $SPOOL/$U 5>/dev/null" >ans &&
	test "$(cat ans)" = + &&
	rm -f "$UW_HOME/go" ans &&
	{ as_user sh -c "{ until test -e $UW_HOME/go; do sleep 0.05; done; echo x; } | $HLP $SPOOL/$U 7<$SPOOL/$U" >ans & } &&
	for i in $(seq 300); do grep -q "^+" ans 2>/dev/null && break; sleep 0.1; done &&
	hp=$(pgrep -u "$U" -x mailbag-lock) && test -n "$hp" &&
	for p in $hp; do
		ls /proc/$p/fd >fds.$p && test "$(cat fds.$p | tr "\n" " ")" = "0 1 2 3 " || return 1
		# real, effective, saved, fs: the group privilege only saved
		grep "^Gid:" /proc/$p/status >gid.$p && cat gid.$p &&
		test "$(awk "{print \$2, \$3, \$4}" gid.$p)" = "$UW_GROUP $UW_GROUP $(getent group mail | cut -d: -f3)" || return 1
	done && touch "$UW_HOME/go" && wait
'

test_expect_success 'libmbox uses the helper: spool-move as the user locks the 2775 spool' '
	"$HELPER/gen-mbox" --seed 51 --count 3 -o three &&
	cat three >"$SPOOL/$U" &&
	as_user "$MAILBAG" spool-move --set lock-helper="$HLP" >out 2>err &&
	cat out err && grep -q "moved 3 messages" out &&
	test -s "$UW_HOME/INBOX" && ! test -s "$SPOOL/$U" && ! test -e "$LOCK"
'

test_expect_success 'neither the user nor a helper can lock: one clear message, exit 75, spool untouched' '
	cat three >"$SPOOL/$U" && cp "$SPOOL/$U" before &&
	rc=0 && as_user "$MAILBAG" spool-move --set lock-helper=no >out 2>err ||
	rc=$? && cat out err && test "$rc" = 75 &&
	grep -q "directory $SPOOL (mode 2775, owner root:mail) is not writable by you, and no lock helper is configured; install mailbag-lock setgid" err &&
	grep -q "or give the directory mode 1777; nothing was changed" err &&
	test "$(wc -l <err)" = 1 &&
	cmp before "$SPOOL/$U" &&
	rc=0 && as_user "$MAILBAG" spool-move --set lock-helper=$TRASH/bin/plain >out 2>err ||
	rc=$? && cat err && test "$rc" = 75 &&
	grep -q "the lock helper $TRASH/bin/plain refused: cannot create" err &&
	cmp before "$SPOOL/$U"
'

test_expect_success 'while the helper holds the lock for spool-move, lockfile waits' '
	"$HELPER/gen-mbox" --seed 52 --count 200 -o many &&
	cat many >"$SPOOL/$U" &&
	as_user "$MAILBAG" spool-move --set lock-helper="$HLP" >out 2>&1 &
	pid=$! &&
	for i in $(seq 100); do test -e "$LOCK" && break; sleep 0.02; done &&
	lockfile -1 -r 100 "$LOCK" && echo got >>order &&
	wait $pid && cat out && grep -q "moved 200 messages" out &&
	rm -f "$LOCK" && ! test -s "$SPOOL/$U"
'

test_done

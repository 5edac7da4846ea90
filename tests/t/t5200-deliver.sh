#!/bin/bash
test_description='deliver: local delivery for the MTA, as UW tmail, into unix, mmdf and mbx'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root: delivers as throwaway users"
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
uw_setup
U=$UW_USER
SPOOL=$TRASH/spool
mkdir "$SPOOL" && chmod 1777 "$SPOOL" || exit 1

# md ARGS: deliver into the test's spool directory, short lock waits.
md() {
	mailbag deliver --set "spool-directory=$SPOOL" --set lock-timeout=2 \
		--set dotlock-timeout=2 "$@"
}
# msg ID [SUBJECT]: a small message with Message-ID <ID@test>.
msg() {
	printf 'From sender@example.com Mon Jan  1 00:00:00 2024\nMessage-ID: <%s@test>\nSubject: %s\n\nbody of %s\nFrom here\n' \
		"$1" "${2:-$1}" "$1"
}
# ids FILE: Message-IDs, sorted, with their counts.
ids() { grep -a '^Message-ID: ' "$1" | sort | uniq -c | sed 's/^ *//'; }
# uw_total NAME: the message count `mailutil check NAME` reports.
uw_total() {
	uw_run mailutil check "$1" >uw.out 2>&1
	sed -n -e 's/^No new messages, \([0-9]*\) total in .*/\1/p' \
		-e 's/^[0-9]* new message(s) ([0-9]* unseen), \([0-9]*\) total in .*/\1/p' uw.out
}
# mb_count FILE: the message count mailbag check reports (and it is clean).
mb_count() {
	mailbag check "$1" | sed -n 's/^[^:]*: [a-z]*, \([0-9]*\) messages.*: ok$/\1/p'
}

test_expect_success 'a new unix INBOX in the spool: envelope, Return-Path, Received, LF' '
	printf "From sender@example.com Mon Jan  1 00:00:00 2024\r\nSubject: one\r\nFrom: a@b\r\n\r\nFrom here\r\nbody\r\n" >m1 &&
	md "$U" <m1 &&
	f=$SPOOL/$U &&
	test "$(stat -c %U "$f")" = "$U" &&
	test "$(mb_count "$f")" = 1 &&
	head -n 1 "$f" | grep "^From sender@example.com [A-Z][a-z][a-z] " &&
	sed -n 2p "$f" | grep -x "Return-Path: <sender@example.com>" &&
	sed -n 3p "$f" | grep "^Received: via mailbag-[0-9.]* deliver for $U; " &&
	grep -x ">From here" "$f" &&
	! grep -q "$(printf "\r")" "$f" &&
	! grep -q "FOLDER INTERNAL DATA" "$f"
'

test_expect_success '-f overrides the envelope line; no sender: the recipient' '
	msg two | md -f other@example.org "$U" &&
	printf "Subject: three\n\nno envelope\n" | md "$U" &&
	f=$SPOOL/$U &&
	test "$(mb_count "$f")" = 3 &&
	grep "^From other@example.org " "$f" &&
	grep -x "Return-Path: <other@example.org>" "$f" &&
	grep "^From $U@" "$f" &&
	test "$(grep -c "^Return-Path:" "$f")" = 2
'

test_expect_success 'UW mailutil reads the delivered spool with the same count' '
	uw_put "$SPOOL/$U" box1 &&
	test "$(uw_total box1)" = 3
'

test_expect_success 'the same input through UW tmail gives the same shape' '
	spool=/var/mail/$U &&
	test_atexit "rm -f \"$spool\" \"$spool.lock\"" &&
	rm -f "$spool" &&
	: >"$spool" && chown "$U" "$spool" && chmod 600 "$spool" &&
	printf "From sender@example.com Mon Jan  1 00:00:00 2024\r\nSubject: cmp\r\nStatus: RO\r\nX-Foo: x\r\n\r\nFrom here on\r\nbody line\r\n" >mc &&
	tmail -f sender@example.com "$U" <mc &&
	mv "$spool" uw.mbox &&
	mailbag deliver --set spool-directory=/var/mail -f sender@example.com "$U" <mc &&
	mv "$spool" mb.mbox &&
	norm() {
		sed -e "s/^From [^ ]* .*/From ENVELOPE/" \
		    -e "s/^Received: via [^ ]*\( deliver\)\? for /Received: via PROGRAM for /" \
		    -e "s/; [A-Z][a-z][a-z], .*/; DATE/" \
		    -e "/^X-IMAPbase: /d" -e "/^X-UID: /d" -e "s/^\(X-Keywords:\) *$/\1/" "$1"
	} &&
	norm uw.mbox >uw.norm && norm mb.mbox >mb.norm &&
	test_cmp uw.norm mb.norm &&
	grep -x "X-Original-Status: RO" mb.mbox
'

test_expect_success 'mmdf: a new INBOX in new-format mmdf, then appends as mmdf' '
	rm -f "$SPOOL/$U" &&
	msg m1 | md --set new-format=mmdf "$U" &&
	msg m2 | md "$U" &&
	mailbag check "$SPOOL/$U" | grep ": mmdf, 2 messages" &&
	test "$(head -c 5 "$SPOOL/$U" | od -An -c | tr -d " ")" = "001001001001\\n" &&
	uw_put "$SPOOL/$U" box2 && test "$(uw_total box2)" = 2
'

test_expect_success 'mbx: -b mbx makes ~/INBOX in mbx; later copies go there; UW reads it as INBOX' '
	rm -f "$SPOOL/$U" &&
	msg x1 | md -b mbx "$U" &&
	test ! -e "$SPOOL/$U" &&
	mailbag check "$UW_HOME/INBOX" | grep ": mbx, 1 messages" &&
	test "$(stat -c %U "$UW_HOME/INBOX")" = "$U" &&
	msg x2 | md "$U" &&
	msg x3 | md "$U+INBOX" &&
	test "$(mb_count "$UW_HOME/INBOX")" = 3 &&
	test "$(uw_total INBOX)" = 3 &&
	tr -d "\r" <"$UW_HOME/INBOX" | grep -x "Return-Path: <sender@example.com>" &&
	grep -a -c "$(printf "\r$")" "$UW_HOME/INBOX" >/dev/null
'

test_expect_success 'tmail and mailbag deliver to the same mbx folder' '
	uw_run mailutil create "#driver.mbx/fold" &&
	msg f1 | md "$U+fold" &&
	msg f2 | tmail "$U+fold" &&
	msg f3 | md "$U+fold" &&
	test "$(mb_count "$UW_HOME/fold")" = 3 &&
	test "$(uw_total fold)" = 3 &&
	ids "$UW_HOME/fold" >got && test "$(wc -l <got)" = 3
'

test_expect_success 'a missing or invalid folder falls back to INBOX, as tmail' '
	before=$(mb_count "$UW_HOME/INBOX") &&
	msg n1 | md "$U+nosuch" 2>err &&
	test_grep "no such folder" err &&
	msg n2 | md "$U+../etc" 2>err &&
	test_grep "invalid mailbox name" err &&
	test "$(mb_count "$UW_HOME/INBOX")" = $((before + 2))
'

test_expect_success 'exit codes: usage 64, empty 65, unknown user 67, root 77' '
	test_expect_code 64 md </dev/null &&
	test_expect_code 64 md --bogus "$U" </dev/null &&
	test_expect_code 64 md -b nosuchformat "$U" </dev/null &&
	test_expect_code 65 md "$U" </dev/null &&
	printf "From a@b Mon Jan  1 00:00:00 2024\n" >envonly &&
	test_expect_code 65 md "$U" <envonly &&
	test_expect_code 67 md nosuchuser$$ <m1 2>err &&
	test_grep "no such user" err &&
	test_expect_code 77 md root <m1
'

test_expect_success 'lock held by another (dot-lock, flock): 75, mailbox unchanged' '
	rm -f "$UW_HOME/INBOX" && rm -f "$SPOOL/$U" &&
	msg l0 | md "$U" &&
	cp "$SPOOL/$U" before &&
	lockfile -r0 "$SPOOL/$U.lock" &&
	test_expect_code 75 md "$U" <m1 &&
	rm -f "$SPOOL/$U.lock" &&
	test_cmp before "$SPOOL/$U" &&
	{ flock -x "$SPOOL/$U" sleep 6 & } &&
	sleep 0.5 &&
	test_expect_code 75 md "$U" <m1 &&
	wait &&
	test_cmp before "$SPOOL/$U" &&
	md "$U" <m1 && test "$(mb_count "$SPOOL/$U")" = 2
'

test_expect_success 'read-only, symlinked, hard-linked and foreign mailboxes: 75, untouched' '
	f=$SPOOL/$U && cp "$f" before &&
	chmod 400 "$f" &&
	test_expect_code 75 md "$U" <m1 && test_cmp before "$f" &&
	chmod 600 "$f" &&
	ln "$f" "$SPOOL/hardlink" &&
	test_expect_code 75 md "$U" <m1 2>err && test_grep "hard links" err &&
	rm "$SPOOL/hardlink" &&
	mv "$f" "$SPOOL/real" && ln -s real "$f" &&
	test_expect_code 75 md "$U" <m1 2>err && test_grep "symbolic link" err &&
	rm "$f" && mv "$SPOOL/real" "$f" &&
	chown root "$f" &&
	test_expect_code 75 md "$U" <m1 2>err && test_grep "uid mismatch" err &&
	chown "$U" "$f" && test_cmp before "$f"
'

test_expect_success 'several recipients: each reported, worst exit code' '
	before=$(mb_count "$SPOOL/$U") &&
	test_expect_code 67 md "$U" nosuchuser$$ "$U" <m1 2>err &&
	test_grep "nosuchuser$$" err &&
	test "$(mb_count "$SPOOL/$U")" = $((before + 2)) &&
	lockfile -r0 "$SPOOL/$U.lock" &&
	test_expect_code 75 md nosuchuser$$ "$U" <m1 &&
	rm -f "$SPOOL/$U.lock"
'

test_expect_success 'run as the recipient (mailbox_command), not as another user' '
	before=$(mb_count "$SPOOL/$U") &&
	setpriv --reuid="$U" --regid="$UW_GROUP" --init-groups env HOME="$UW_HOME" \
		"$MAILBAG" deliver --set "spool-directory=$SPOOL" "$U" <m1 &&
	test "$(mb_count "$SPOOL/$U")" = $((before + 1)) &&
	setpriv --reuid="$U" --regid="$UW_GROUP" --init-groups \
		"$MAILBAG" deliver --set "spool-directory=$SPOOL" daemon <m1 2>err;
	test $? = 75 && test_grep "run as root or as that user" err
'

if mkdir full && mount -t tmpfs -o size=256k,mode=1777 tmpfs full 2>/dev/null; then
	test_set_prereq TMPFS
	test_atexit "umount '$TRASH/full'"
fi
test_expect_success TMPFS 'disk full (small tmpfs): 75 and the mailbox is as it was' '
	msg small | mailbag deliver --set spool-directory="$TRASH/full" "$U" &&
	cp "full/$U" before &&
	{ msg big && head -c 400000 /dev/zero | tr "\0" "x" | fold -w 70; } >big &&
	test_expect_code 75 mailbag deliver --set spool-directory="$TRASH/full" "$U" <big &&
	test_cmp before "full/$U" &&
	mailbag check "full/$U"
'

# --- crashes: SIGKILL in the middle of writing the mailbox

. "$TESTS_DIR/t/crash.sh"
test -f "$SHIM" && test_set_prereq SHIM

# crash_loop FILE RECIPIENT N: deliver N messages, each first killed at the
# Nth (1, 2, 3: torn data write, before fsync, ...) call on FILE, then
# retried as an MTA retries; every Message-ID must end up there once.
crash_loop() {
	local f=$1 r=$2 n=$3 i at rc
	for i in $(seq 1 "$n"); do
		at=$((i % 3 + 1))
		msg "c$i" >cm
		rc=0
		env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_ONLY="$f" \
			CRASH_AT=$at CRASH_TORN=$((i % 2)) "$MAILBAG" deliver \
			--set "spool-directory=$SPOOL" --set dotlock-timeout=1 \
			"$r" <cm 2>/dev/null || rc=$?
		if [ "$rc" != 0 ]; then
			md "$r" <cm || return 1
		fi
	done
}

test_expect_success SHIM 'unix INBOX: writers killed mid-append, retried: each message once' '
	rm -f "$SPOOL/$U" && msg c0 | md "$U" &&
	crash_loop "$SPOOL/$U" "$U" 12 &&
	mailbag check "$SPOOL/$U" &&
	ids "$SPOOL/$U" >got &&
	test "$(wc -l <got)" = 13 && ! grep -v "^1 " got &&
	uw_put "$SPOOL/$U" crashed && test "$(uw_total crashed)" = 13
'

test_expect_success SHIM 'mbx folder: writers killed mid-append, retried: each message once' '
	uw_run mailutil create "#driver.mbx/cbox" &&
	crash_loop "$UW_HOME/cbox" "$U+cbox" 12 &&
	mailbag check "$UW_HOME/cbox" &&
	ids "$UW_HOME/cbox" >got &&
	test "$(wc -l <got)" = 12 && ! grep -v "^1 " got &&
	test "$(uw_total cbox)" = 12
'

test_expect_success SHIM 'repair removes a torn tail a killed deliver left' '
	f=$SPOOL/$U && cp "$f" before &&
	msg torn >cm &&
	test_expect_code 137 env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" \
		CRASH_ONLY="$f" CRASH_AT=1 CRASH_TORN=1 "$MAILBAG" deliver \
		--set "spool-directory=$SPOOL" "$U" <cm 2>/dev/null;
	test $(stat -c %s "$f") -gt $(stat -c %s before) &&
	rm -f "$f.lock" &&
	mailbag repair "$f" >out 2>&1 &&
	mailbag check "$f" &&
	! grep -q "Message-ID: <torn@test>" "$f" &&
	test "$(mb_count "$f")" = "$(mb_count before)"
'

# --- concurrency: many writers at once, UW tmail and procmail among them

# hold_open FILE STOP [sh]: keep FILE open and read it until STOP
# exists; with sh under a shared flock for the whole time, as UW's mbx
# sessions hold it.
hold_open() {
	python3 -c '
import fcntl, os, sys, time
fd = None
while not os.path.exists(sys.argv[2]):
    if fd is None and os.path.exists(sys.argv[1]):
        fd = os.open(sys.argv[1], os.O_RDONLY)
        if sys.argv[3:] == ["sh"]:
            fcntl.flock(fd, fcntl.LOCK_SH)
    if fd is not None:
        os.lseek(fd, 0, 0)
        while os.read(fd, 65536):
            pass
    time.sleep(0.02)
' "$@" &
}

# hold_lock FILE KIND SECONDS: hold a lock on FILE as other mail software
# does (KIND flock: UW c-client; fcntl; dot+fcntl: procmail, Postfix) and
# print "held" once it is taken.  Run it in the background: its job is
# then the holder itself (exec), so that killing the job frees the lock.
hold_lock() {
	exec python3 -c '
import fcntl, os, sys, time
path, kind, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
fd = os.open(path, os.O_RDWR)
if kind.startswith("dot"):
    lk = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
if kind == "flock":
    fcntl.flock(fd, fcntl.LOCK_EX)
else:
    fcntl.lockf(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(secs)
if kind.startswith("dot"):
    os.unlink(path + ".lock")
' "$@"
}
unhold() { kill "$1" 2>/dev/null; wait "$1"; return 0; }

# Why UW tmail and procmail are never run at the same time below: in a
# spool directory of mode 2775 root:mail (Debian), tmail runs as the
# recipient, cannot make the dot-lock (Debian's mlock is not where
# c-client looks for it), says "Mailbox vulnerable" and writes under
# flock alone; procmail takes the dot-lock and fcntl but no flock.  So
# neither waits for the other, and procmail's append lands in the middle
# of tmail's in-place rewrite after its append (uw-formats.md 2.8): a
# region shifted by a byte ("FFrom ...", "rom sender..."), messages
# merged or lost, with no mailbag program involved.  mailbag deliver
# takes all three locks, so it waits for either of them.
test_expect_success 'tmail and procmail share no lock in a 2775 spool; deliver honours both' '
	spool=/var/mail/$U &&
	rm -f "$spool" "$spool.lock" && : >"$spool" &&
	chown "$U:mail" "$spool" && chmod 660 "$spool" &&
	msg first | procmail -d "$U" && msg blocked >bl &&
	# procmail does not wait for a flock (what tmail holds)
	{ hold_lock "$spool" flock 8 >held & } && hp=$! &&
	for i in $(seq 1 50); do test -s held && break; sleep 0.1; done &&
	test -s held &&
	msg pf | timeout 6 procmail -d "$U" &&
	kill -0 $hp && grep -q "^Message-ID: <pf@test>" "$spool" &&
	# but deliver does
	test_expect_code 75 mailbag deliver --set spool-directory=/var/mail \
		--set lock-timeout=1 "$U" <bl &&
	unhold $hp &&
	# tmail does not wait for the dot-lock and fcntl (what procmail holds)
	rm -f held && { hold_lock "$spool" dot+fcntl 8 >held & } && hp=$! &&
	for i in $(seq 1 50); do test -s held && break; sleep 0.1; done &&
	test -s held &&
	msg td | timeout 6 tmail "$U" 2>err &&
	kill -0 $hp && grep -q "^Message-ID: <td@test>" "$spool" &&
	test_grep "Mailbox vulnerable" err &&
	# but deliver does
	test_expect_code 75 mailbag deliver --set spool-directory=/var/mail \
		--set lock-timeout=1 --set dotlock-timeout=1 "$U" <bl &&
	unhold $hp &&
	rm -f held "$spool.lock" &&
	{ hold_lock "$spool" fcntl 8 >held & } && hp=$! &&
	for i in $(seq 1 50); do test -s held && break; sleep 0.1; done &&
	test -s held &&
	test_expect_code 75 mailbag deliver --set spool-directory=/var/mail \
		--set lock-timeout=1 "$U" <bl &&
	unhold $hp &&
	! grep -q "^Message-ID: <blocked@test>" "$spool" &&
	test "$(grep -c "^Message-ID: " "$spool")" = 3
'

# The race itself, without any mailbag writer: rounds of 2 tmail and 2
# procmail at once until one damages the spool (6 of 10 rounds of 4 + 4
# did, by hand).  Known breakage of the pair, not of mailbag.
test_expect_failure 'tmail and procmail at once damage a 2775 spool (no mailbag writer)' '
	spool=/var/mail/$U &&
	for round in 1 2 3 4 5 6; do
		rm -f "$spool" "$spool.lock" && : >"$spool" &&
		chown "$U:mail" "$spool" && chmod 660 "$spool" &&
		msg r0 | procmail -d "$U" || return 1
		pids=
		for i in 1 2; do
			msg "rt$i" | tmail "$U" 2>/dev/null & pids="$pids $!"
			msg "rp$i" | procmail -d "$U" & pids="$pids $!"
		done
		for p in $pids; do wait $p || return 1; done
		ids "$spool" >got &&
		test "$(wc -l <got)" = 5 && ! grep -v "^1 " got &&
		test "$(mb_count "$spool")" = 5 || return 1
	done
'

test_expect_success 'unix spool: 16 deliver at once among tmail and procmail (one at a time), a reader holding it open' '
	spool=/var/mail/$U &&
	rm -f "$spool" stop && : >"$spool" && chown "$U:mail" "$spool" && chmod 660 "$spool" &&
	hold_open "$spool" stop &&
	pids= &&
	for i in $(seq 1 16); do
		(
			# as an MTA: retry a temporary failure (75)
			for try in 1 2 3 4 5; do
				rc=0
				msg "md$i" | mailbag deliver --set spool-directory=/var/mail \
					--set lock-timeout=120 "$U" || rc=$?
				[ "$rc" = 75 ] || exit "$rc"
				echo "md$i: retry $try" >>retries
				sleep 1
			done
			exit 75
		) & pids="$pids $!"
	done &&
	# tmail and procmail alternate: they do not lock against each other
	{
		(
			for i in $(seq 1 4); do
				msg "tm$i" | tmail "$U" 2>/dev/null || exit 1
				msg "pm$i" | procmail -d "$U" || exit 1
			done
		) & pids="$pids $!"
	} &&
	rc=0 && for p in $pids; do wait $p || rc=1; done &&
	touch stop && wait &&
	test "$rc" = 0 &&
	cp "$spool" conc.mbox &&
	mailbag check conc.mbox &&
	ids conc.mbox >got &&
	test "$(wc -l <got)" = 24 && ! grep -v "^1 " got &&
	uw_put conc.mbox conc && test "$(uw_total conc)" = 24
'

# UW's kiss of death: a UW session opening the INBOX read/write signals
# the PID in the /tmp lock (SIGUSR2) and retries for 15 s.  strace holds
# the delivery for 3 s in its first fsync, under all its locks.
strace -o /dev/null -e trace=fsync -e inject=fsync:delay_enter=1:when=1 \
	true 2>/dev/null && test_set_prereq STRACE_INJECT
test_expect_success STRACE_INJECT 'a UW session opening the INBOX mid-delivery waits for it: SIGUSR2 does not kill deliver' '
	spool=/var/mail/$U &&
	rm -f "$spool" "$UW_HOME/INBOX" "$UW_HOME/mbox" &&
	: >"$spool" && chown "$U:mail" "$spool" && chmod 660 "$spool" &&
	msg k0 | mailbag deliver --set spool-directory=/var/mail "$U" &&
	msg k1 >k1 &&
	# LeakSanitizer cannot run under ptrace
	{ ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -o /dev/null -e trace=fsync \
		-e inject=fsync:delay_enter=3000000:when=1 \
		"$MAILBAG" deliver --set spool-directory=/var/mail "$U" <k1 \
		>dl.out 2>&1 & } && dp=$! &&
	for i in $(seq 1 100); do
		ls /var/mail/..$U.mbtail* >/dev/null 2>&1 && break
		sleep 0.05
	done &&
	ls /var/mail/..$U.mbtail* &&
	uw_run mailutil prune INBOX "SUBJECT nosuch" >uw.out 2>&1;
	wait $dp &&
	test_grep "Trying to get mailbox lock from process" uw.out &&
	test_grep ! "readonly" uw.out &&
	ids "$spool" >got && test "$(wc -l <got)" = 2 && ! grep -v "^1 " got
'

test_expect_success 'mbx INBOX: 16 deliver and 4 tmail at once, a reader holding a shared flock' '
	rm -f "$UW_HOME/INBOX" stop "$SPOOL/$U" "/var/mail/$U" &&
	msg first | md -b mbx "$U" &&
	hold_open "$UW_HOME/INBOX" stop sh &&
	pids= &&
	for i in $(seq 1 16); do
		msg "mx$i" | mailbag deliver --set lock-timeout=120 "$U" &
		pids="$pids $!"
	done &&
	for i in $(seq 1 4); do
		msg "tx$i" | tmail "$U" 2>/dev/null & pids="$pids $!"
	done &&
	rc=0 && for p in $pids; do wait $p || rc=1; done &&
	touch stop && wait &&
	test "$rc" = 0 &&
	mailbag check "$UW_HOME/INBOX" &&
	ids "$UW_HOME/INBOX" >got &&
	test "$(wc -l <got)" = 21 && ! grep -v "^1 " got &&
	test "$(uw_total INBOX)" = 21
'

test_expect_success SHIM 'mbx INBOX: 16 deliver at once, 4 of them killed mid-write and retried' '
	rm -f "$UW_HOME/INBOX" stop &&
	msg first | md -b mbx "$U" &&
	hold_open "$UW_HOME/INBOX" stop sh &&
	pids= &&
	for i in $(seq 1 16); do
		(
			msg "mk$i" >"cm$i"
			if [ $((i % 4)) = 0 ]; then
				env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" \
					CRASH_ONLY="$UW_HOME/INBOX" CRASH_AT=1 \
					CRASH_TORN=1 "$MAILBAG" deliver --set lock-timeout=120 \
					"$U" <"cm$i" 2>/dev/null && exit 0
			fi
			mailbag deliver --set lock-timeout=120 "$U" <"cm$i"
		) & pids="$pids $!"
	done &&
	rc=0 && for p in $pids; do wait $p || rc=1; done &&
	touch stop && wait &&
	test "$rc" = 0 &&
	mailbag check "$UW_HOME/INBOX" &&
	ids "$UW_HOME/INBOX" >got &&
	test "$(wc -l <got)" = 17 && ! grep -v "^1 " got &&
	test "$(uw_total INBOX)" = 17
'

# The tail journal removes only the killed writer's own bytes: a message
# that a writer which does not know the journal (UW tmail) appended after
# the torn tail survives, moved down over it, byte for byte.
test_expect_success SHIM 'a tmail message appended after a killed writer'"'"'s torn tail survives recovery' '
	rm -f "$UW_HOME/INBOX" &&
	msg first | md -b mbx "$U" &&
	msg torn >cm &&
	test_expect_code 137 env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" \
		CRASH_ONLY="$UW_HOME/INBOX" CRASH_AT=1 CRASH_TORN=1 \
		"$MAILBAG" deliver "$U" <cm 2>/dev/null;
	n=$(stat -c %s "$UW_HOME/INBOX") &&
	msg byuw | tmail "$U" &&
	tail -c +$((n + 1)) "$UW_HOME/INBOX" >theirs &&
	test -s theirs &&
	msg after | md "$U" &&
	python3 -c "import sys; sys.exit(open(\"theirs\", \"rb\").read() not in open(sys.argv[1], \"rb\").read())" "$UW_HOME/INBOX" &&
	grep -a -q "Message-ID: <byuw@test>" "$UW_HOME/INBOX" &&
	! grep -a -q "Message-ID: <torn@test>" "$UW_HOME/INBOX" &&
	"$MAILBAG" check "$UW_HOME/INBOX"
'

test_done

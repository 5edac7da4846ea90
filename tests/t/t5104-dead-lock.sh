#!/bin/bash
test_description='a writer killed mid-append leaves its dot-lock: our next locker clears it when its owner is provably dead'
. "$(dirname "$0")/lib.sh"

. "$TESTS_DIR/t/crash.sh"
test -f "$SHIM" || skip_all "crashinject.so not built"
command -v lockfile >/dev/null 2>&1 && test_set_prereq LOCKFILE

msg() {
	printf 'From sender@example.com Mon Jan  1 00:00:00 2024\nMessage-ID: <%s@test>\nSubject: %s\n\nbody of %s\n' \
		"$1" "$1" "$1"
}
ids() { grep -a '^Message-ID: ' "$1" | sort | uniq -c | sed 's/^ *//'; }
# killed_append BOX ID: append message ID to BOX, killed half way
# through its write to BOX (a torn tail, the dot-lock left behind).
killed_append() {
	msg "$2" >cm &&
	test_expect_code 137 env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" \
		CRASH_ONLY="$TRASH/$1" CRASH_AT=1 CRASH_TORN=1 \
		"$MAILBAG" append "$TRASH/$1" <cm 2>/dev/null
}
secs() { date +%s.%N; }

test_expect_success 'setup' '
	for i in 1 2 3; do msg "m$i"; done >box.src &&
	cp box.src box && "$MAILBAG" check box | grep ": unix, 3 messages"
'

test_expect_success 'a killed append leaves a torn tail and its lock, which names it' '
	cp box before &&
	killed_append box torn &&
	test -f box.lock &&
	test "$(stat -c %s box)" -gt "$(stat -c %s before)" &&
	grep -E -x "mailbag [0-9]+ [^ ]+ [0-9]+" box.lock
'

test_expect_success LOCKFILE 'procmail'"'"'s lockfile is blocked by it (no owner check there)' '
	test_must_fail lockfile -r0 box.lock
'

test_expect_success 'the next append clears the dead owner'"'"'s lock at once and the torn tail' '
	t0=$(secs) &&
	msg after | "$MAILBAG" append --set lock-timeout=10 box &&
	t1=$(secs) &&
	echo "took $(echo "$t1 - $t0" | bc) s" &&
	test "$(echo "$t1 - $t0 < 3" | bc)" = 1 &&
	! test -e box.lock &&
	"$MAILBAG" check box | grep ": unix, 4 messages" &&
	ids box >got && ! grep -q "<torn@test>" got && grep -q "<after@test>" got &&
	! grep -v "^1 " got
'

test_expect_success LOCKFILE 'after that procmail gets the lock' '
	lockfile -r0 box.lock && rm -f box.lock
'

test_expect_success 'a lock whose owner is alive is waited for, then 75' '
	sleep 30 & sp=$! &&
	printf "mailbag %d %s %d\n" $sp "$(hostname)" \
		"$(stat -L -c %i /proc/self/ns/pid)" >box.lock &&
	rc=0 && msg live | "$MAILBAG" append --set lock-timeout=1 box 2>err ||
	rc=$? && kill $sp; wait $sp; cat err && test "$rc" = 75 &&
	test -f box.lock && ! grep -q "<live@test>" box && rm -f box.lock
'

test_expect_success 'a dead owner on another host, UW'"'"'s empty lock, procmail'"'"'s: waited for' '
	(exit 0) & dp=$! && wait $dp &&
	for content in "mailbag $dp elsewhere.example $(stat -L -c %i /proc/self/ns/pid)" "" "0"; do
		printf "%s" "$content" >box.lock &&
		rc=0 && msg other | "$MAILBAG" append --set lock-timeout=1 box 2>err ||
		rc=$? && test "$rc" = 75 && test -f box.lock || return 1
	done &&
	rm -f box.lock && ! grep -q "<other@test>" box
'

# As root: UW tmail waits five minutes for a lock a killed writer left;
# mailbag deliver clears it, and tmail delivers straight away after that.
if [ "$(id -u)" = 0 ] && command -v tmail >/dev/null 2>&1; then
	. "$TESTS_DIR/t/uw.sh"
	uw_setup
	test_set_prereq TMAIL
fi

test_expect_success TMAIL 'deliver killed mid-append into a unix folder: tmail waits, the next deliver clears, tmail follows' '
	F=$UW_HOME/fold &&
	for i in 1 2; do msg "f$i"; done >"$F" && chown "$UW_USER:" "$F" && chmod 600 "$F" &&
	msg dtorn >cm &&
	rc=0 && env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" \
		CRASH_ONLY="$F" CRASH_AT=1 CRASH_TORN=1 \
		"$MAILBAG" deliver "$UW_USER+fold" <cm 2>err || rc=$? &&
	cat err && test "$rc" = 75 && grep -q "killed by signal 9" err &&
	test -f "$F.lock" && grep -q "^mailbag " "$F.lock" &&
	# tmail waits for it (and would for five minutes)
	rc=0 && msg tw | timeout 4 tmail "$UW_USER+fold" 2>/dev/null || rc=$? &&
	test "$rc" = 124 && ! grep -q "<tw@test>" "$F" &&
	# the MTA retries: the lock and the torn tail go, the message lands once
	"$MAILBAG" deliver --set lock-timeout=10 "$UW_USER+fold" <cm &&
	! test -e "$F.lock" &&
	msg tw | timeout 20 tmail "$UW_USER+fold" &&
	"$MAILBAG" check "$F" | grep ": unix, 4 messages" &&
	ids "$F" >got && cat got && ! grep -v "^1 " got &&
	grep -q "<dtorn@test>" got && grep -q "<tw@test>" got
'

test_done

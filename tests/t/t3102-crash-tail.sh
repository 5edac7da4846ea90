#!/bin/bash
test_description='a killed mailbag append, then another program appends: the next mailbag writer removes only the killed bytes'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

# Each single-file format: a mailbag append (convert --append) is killed
# at a seeded system call on the mailbox (plain or torn), another program
# that knows nothing of mailbag's tail journal appends a message (UW tmail
# for mbx, tenex and mtx; procmail for unix; for MMDF, for which no such
# program is installed, a writer that takes the flock and appends with
# O_APPEND), then a mailbag writer opens the mailbox.  Every message
# other than the killed append's survives byte for byte, the killed
# append's messages are gone, mailbag check and UW's mailutil are clean.

[ "$(id -u)" = 0 ] || skip_all "needs root: UW's programs run as a throwaway user"
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
. "$TESTS_DIR/t/crash.sh"
test -f "$SHIM" || skip_all "no $SHIM (run make)"
SEED=${CRASH_SEED:-3102}
POINTS=${CRASH_POINTS:-4}
uw_setup
U=$UW_USER
BOX=$UW_HOME/box
echo "dotlock-timeout = 1" >.mailbagrc

# msg ID [BODY]: a message with Message-ID <ID@test>.
msg() {
	printf 'From sender@example.com Mon Jan  1 00:00:00 2024\nMessage-ID: <%s@test>\nSubject: %s\n\n%s\n' \
		"$1" "$1" "${2:-body of $1}"
}
# ids FILE: Message-IDs with their counts, sorted.
ids() { tr -d '\r' <"$1" | grep -a '^Message-ID: <' | sort | uniq -c | sed 's/^ *//'; }
# contains BIG SMALL: SMALL's bytes occur in BIG.
contains() {
	python3 -c 'import sys
sys.exit(open(sys.argv[2], "rb").read() not in open(sys.argv[1], "rb").read())' "$1" "$2"
}
# points TOTAL SALT: "1 torn", then POINTS seeded "N" or "N torn".
points() {
	awk -v total="$1" -v max="$POINTS" -v seed="$((SEED + $2))" 'BEGIN {
		print "1 torn"
		srand(seed)
		for (i = 0; i < max; i++) {
			p = 1 + int(rand() * total)
			print p (rand() < 0.5 ? " torn" : "")
		}
	}'
}

# foreign FORMAT ID: another program appends message ID to $BOX.
# PEER=uw: UW tmail for every format.
foreign() {
	case ${PEER-}$1 in
	unix)
		printf 'DEFAULT=%s\n:0\n%s\n' "$BOX" "$BOX" >rc.procmail &&
		msg "$2" | procmail -m rc.procmail ;;
	mmdf)
		{ printf '\1\1\1\1\n' && msg "$2" && printf '\1\1\1\1\n'; } >fm &&
		python3 -c 'import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, open(sys.argv[2], "rb").read())
os.fsync(fd)' "$BOX" fm ;;
	*)
		msg "$2" | tmail "$U+box" >/dev/null 2>&1 ;;
	esac
}

# UW's reading of $BOX: its message count.
uw_count() {
	uw_run mailutil check box >uw.out 2>&1
	sed -n -e 's/^No new messages, \([0-9]*\) total in .*/\1/p' \
		-e 's/^[0-9]* new message(s) ([0-9]* unseen), \([0-9]*\) total in .*/\1/p' uw.out
}

test_expect_success 'setup: the killed append carries three messages, one over 1 MiB' '
	{ msg base1 && echo && msg base2 && echo; } >base.mbox &&
	{
		msg killed1 && echo &&
		msg killed2 "$(head -c 1500000 /dev/zero | tr "\0" "x" | fold -w 70)" &&
		echo && msg killed3 && echo
	} >killed.mbox &&
	msg after >after.mbox &&
	test "$(mailbag check killed.mbox | sed -n "s/.*, \([0-9]*\) messages.*/\1/p")" = 3
'

# run FORMAT N [torn]: one scenario; fails with a reason on stderr.
run() {
	local f=$1 at=$2 torn=${3:+1} n tag=$1-$2${3:+-torn}
	rm -f "$BOX" "$BOX.lock" "$UW_HOME/.box.mbtail" &&
	mailbag convert -q --to "$f" base.mbox "$BOX" &&
	chown "$U:$UW_GROUP" "$BOX" && chmod 600 "$BOX" &&
	cp "$BOX" before || return 1
	env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_ONLY="$BOX" \
		CRASH_AT="$at" ${torn:+CRASH_TORN=1} \
		"$MAILBAG" convert -q --append killed.mbox "$BOX" 2>/dev/null
	test $? = 137 || { echo "$tag: the append was not killed" >&2; return 1; }
	test -e "$UW_HOME/.box.mbtail" ||
		{ echo "$tag: killed after the append committed" >&2; return 1; }
	# UW and procmail break a dot-lock only after minutes: no waiting
	rm -f "$BOX.lock"
	n=$(stat -c %s "$BOX") &&
	foreign "$f" "theirs-$tag" ||
		{ echo "$tag: the foreign append failed" >&2; return 1; }
	tail -c +$((n + 1)) "$BOX" >theirs &&
	cp "$BOX" peered &&
	mailbag convert -q --append after.mbox "$BOX" 2>err
	rc=$?
	! test -e "$UW_HOME/.box.mbtail" ||
		{ echo "$tag: the journal is left" >&2; return 1; }
	if [ -n "${PEER-}" ]; then
		uw_rewrote "$tag" "$rc"
		return
	fi
	test "$rc" = 0 ||
		{ echo "$tag: the next writer failed" >&2; cat err >&2; return 1; }
	test -s theirs && contains "$BOX" theirs ||
		{ echo "$tag: their message is not intact" >&2; return 1; }
	ids "$BOX" >got &&
	for i in after base1 base2 "theirs-$tag"; do
		echo "1 Message-ID: <$i@test>"
	done | sort >want &&
	grep -v "^1 Message-ID: <[0-9]*@" got | sort >got.s &&
	test_cmp want got.s ||
		{ echo "$tag: wrong messages" >&2; return 1; }
	mailbag check "$BOX" >/dev/null ||
		{ echo "$tag: check finds defects" >&2; mailbag check "$BOX" >&2; return 1; }
	test "$(uw_count)" = 4 ||
		{ echo "$tag: UW reads $(uw_count) messages" >&2; cat uw.out >&2; return 1; }
	# the bytes before the append are as they were, but for the last
	# UID an append raises (mbx: in its header; unix, mmdf: X-IMAPbase)
	n=$(stat -c %s before) &&
	head -c "$n" "$BOX" >now &&
	case $f in
	mbx) cmp -i 2048 before now ;;
	*) cmp <(grep -av "^X-IMAP\(base\)\?: " before) \
		<(grep -av "^X-IMAP\(base\)\?: " now) ;;
	esac || { echo "$tag: the old messages changed" >&2; return 1; }
}

# uw_rewrote TAG RC: UW's unix and mmdf drivers rewrite the whole file
# when they append, adopting a torn message as theirs, and UW's mmdf
# driver puts its closing delimiter right after a torn line, which leaves
# text between messages.  The next mailbag writer (exit status RC) must
# then not touch a byte: when it refuses the damaged mailbox, the file is
# as UW left it; else nothing is lost (theirs and the old ones once each,
# the killed ones at most once), and mailbag and UW agree on a clean
# mailbox.
uw_rewrote() {
	local tag=$1 rc=$2 c
	if [ "$rc" != 0 ]; then
		mailbag check "$BOX" >/dev/null &&
			{ echo "$tag: the writer failed on a clean mailbox" >&2; cat err >&2; return 1; }
		cmp peered "$BOX" ||
			{ echo "$tag: the failed writer changed UW's file" >&2; return 1; }
		echo "# $tag: UW left the mailbox damaged; mailbag left it alone"
		return 0
	fi
	ids "$BOX" >got &&
	for i in after base1 base2 "theirs-$tag"; do
		grep -q -x "1 Message-ID: <$i@test>" got ||
			{ echo "$tag: <$i> not there once" >&2; cat got >&2; return 1; }
	done &&
	! grep -v "^1 " got ||
		{ echo "$tag: a message twice" >&2; return 1; }
	mailbag check "$BOX" >out ||
		{ echo "$tag: check finds defects" >&2; cat out >&2; return 1; }
	c=$(sed -n "s/^[^:]*: [a-z]*, \([0-9]*\) messages.*/\1/p" out) &&
	test "$(uw_count)" = "$c" ||
		{ echo "$tag: UW reads $(uw_count), mailbag $c" >&2; return 1; }
}

for f in ${T3102_FORMATS:-unix mmdf mbx tenex mtx}; do
	test_expect_success "$f: killed append, then a foreign append, then a mailbag writer" '
		rm -f "$BOX" "$TRASH/.count" &&
		mailbag convert -q --to '"$f"' base.mbox "$BOX" &&
		chown "$U:$UW_GROUP" "$BOX" &&
		env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_COUNT=1 \
			CRASH_COUNT_FILE="$TRASH/.count" CRASH_ONLY="$BOX" \
			"$MAILBAG" convert -q --append killed.mbox "$BOX" &&
		total=$(cat "$TRASH/.count") &&
		test "$total" -ge 3 &&
		points "$total" '"${#f}"' >pts &&
		fails=0 &&
		while read -r at torn; do
			run '"$f"' "$at" $torn || fails=$((fails + 1))
		done <pts &&
		test "$fails" = 0
	'
done

# staged FORMAT: $BOX with a torn append (killed at its first write)
# and another program's message after it; the expected bytes in theirs.
staged() {
	rm -f "$BOX" "$BOX.lock" "$UW_HOME/.box.mbtail" &&
	mailbag convert -q --to "$1" base.mbox "$BOX" &&
	chown "$U:$UW_GROUP" "$BOX" && chmod 600 "$BOX" || return 1
	env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_ONLY="$BOX" \
		CRASH_AT=1 CRASH_TORN=1 \
		"$MAILBAG" convert -q --append killed.mbox "$BOX" 2>/dev/null
	test $? = 137 && rm -f "$BOX.lock" &&
	n=$(stat -c %s "$BOX") &&
	foreign "$1" theirs &&
	tail -c +$((n + 1)) "$BOX" >theirs
}

# The recovering writer itself killed at each of its calls on the
# mailbox (while it moves their message down, or appends after), then
# one more writer: still only the first killed append is gone.
for f in ${T3102_RECOVER_FORMATS:-unix mbx}; do
	test_expect_success "$f: the recovering writer killed at each call, then another writer" '
		msg after2 >after2.mbox &&
		staged '"$f"' &&
		rm -f "$TRASH/.count" &&
		env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_COUNT=1 \
			CRASH_COUNT_FILE="$TRASH/.count" CRASH_ONLY="$BOX" \
			"$MAILBAG" convert -q --append after.mbox "$BOX" &&
		total=$(cat "$TRASH/.count") &&
		test "$total" -ge 3 &&
		fails=0 &&
		for at in $(seq 1 "$total"); do
			for torn in "" 1; do
				tag='"$f"'-recover-$at${torn:+-torn} &&
				staged '"$f"' || { fails=$((fails + 1)); continue; }
				env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" \
					CRASH_ONLY="$BOX" CRASH_AT="$at" \
					${torn:+CRASH_TORN=1} "$MAILBAG" convert -q \
					--append after.mbox "$BOX" 2>/dev/null
				rm -f "$BOX.lock"
				if ! mailbag convert -q --append after2.mbox "$BOX" 2>err; then
					echo "$tag: the last writer failed" >&2; cat err >&2
					fails=$((fails + 1)); continue
				fi
				contains "$BOX" theirs ||
					{ echo "$tag: theirs not intact" >&2; fails=$((fails + 1)); continue; }
				ids "$BOX" | grep -v "^1 Message-ID: <[0-9]*@" >got
				for i in base1 base2 theirs after2; do
					grep -q -x "1 Message-ID: <$i@test>" got ||
						{ echo "$tag: <$i> not there once" >&2; fails=$((fails + 1)); }
				done
				! grep -v "^1 " got && ! grep killed got ||
					{ echo "$tag: wrong messages" >&2; cat got >&2; fails=$((fails + 1)); }
				mailbag check "$BOX" >/dev/null ||
					{ echo "$tag: check finds defects" >&2; fails=$((fails + 1)); }
				c=$(grep -c . got)
				test "$(uw_count)" = "$c" ||
					{ echo "$tag: UW reads $(uw_count), not $c" >&2; fails=$((fails + 1)); }
			done
		done &&
		echo "# $total calls, each plain and torn" &&
		test "$fails" = 0
	'
done

for f in ${T3102_UW_FORMATS:-unix mmdf}; do
	test_expect_success "$f: killed append, then UW tmail (which rewrites the file), then a mailbag writer" '
		fails=0 &&
		while read -r at torn; do
			PEER=uw run '"$f"' "$at" $torn || fails=$((fails + 1))
		done <<-EOF &&
		1 torn
		1
		2 torn
		EOF
		test "$fails" = 0
	'
done

test_done

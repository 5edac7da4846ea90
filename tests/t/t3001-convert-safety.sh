#!/bin/bash
test_description='mailbag convert: SRC untouched, DST whole or absent, torn appends'
. "$(dirname "$0")/lib.sh"

D=$(printf '\1\1\1\1')
F1='From alice@example.com Wed Dec  2 05:53:22 1992'
F2='From bob@example.com Thu Dec 10 11:00:00 1992'

# summary FILE: the check summary without the path, for comparisons.
summary() { mailbag check "$1" | tail -n 1 | sed "s/^[^:]*: //"; }

# messages FILE: the message count check reports.
messages() { mailbag check "$1" | tail -n 1 | sed -n "s/^[^:]*: [a-z]*, \([0-9]*\) messages.*/\1/p"; }

# wait_size FILE MIN PID: wait until FILE (a glob) is at least MIN bytes
# or PID has gone; true if the size was reached while PID was alive.
wait_size() {
	local i f s
	for i in $(seq 1 20000); do
		kill -0 "$3" 2>/dev/null || return 1
		for f in $1; do
			s=$(stat -c %s "$f" 2>/dev/null) || continue
			[ "$s" -ge "$2" ] && return 0
		done
	done
	return 1
}

test_expect_success 'setup: small mailboxes and a big one' '
	printf "%s\nSubject: a\nX-IMAPbase: 1795635279 2\nStatus: RO\nX-UID: 1\n\nbody a\n\n" "$F1" >small &&
	printf "%s\nSubject: b\nX-UID: 2\n\nbody b\n" "$F2" >>small &&
	printf "%s\n%s\nSubject: m\n\nbody m\n%s\n" "$D" "$F1" "$D" >small.mmdf &&
	"$HELPER/gen-mbox" --seed 7 --size 200M -o big &&
	bigsize=$(wc -c <big) &&
	test "$bigsize" -ge 200000000 &&
	bigcount=$(messages big) &&
	test "$bigcount" -gt 1000
'

test_expect_success 'SRC is never modified: bytes and times' '
	touch -d "2020-01-01 00:00:00" small small.mmdf &&
	cp -p small small.orig && cp -p small.mmdf small.mmdf.orig &&
	stat -c "%Y %s %i" small small.mmdf >before &&
	mailbag convert --to=mmdf small out1 &&
	mailbag convert --to=unix small.mmdf out2 &&
	mailbag convert -n small out3 &&
	mailbag convert --append small.mmdf out1 &&
	mailbag convert --no-uw-metadata --quote=mboxrd small out4 &&
	stat -c "%Y %s %i" small small.mmdf >after &&
	test_cmp before after &&
	cmp small small.orig &&
	cmp small.mmdf small.mmdf.orig
'

test_expect_success 'SRC is not modified when DST exists (73)' '
	test_expect_code 73 mailbag convert small out1 &&
	stat -c "%Y %s %i" small small.mmdf >after &&
	test_cmp before after
'

test_expect_success 'no DST and no leftovers when the directory does not exist' '
	mkdir nd && cp small nd/src &&
	(cd nd && test_must_fail mailbag convert src nodir/dst 2>../err) &&
	test_grep "nodir/dst" err &&
	! test -e nd/nodir &&
	ls -A nd >actual &&
	echo src >expect &&
	test_cmp expect actual
'

test_expect_success 'no DST and no temporary file when SRC is damaged midway' '
	mkdir fail &&
	printf "%s\n%s\nSubject: 1\n\none\n%s\n" "$D" "$F1" "$D" >fail/src &&
	printf "stray text\n%s\n%s\nSubject: 2\n\ntwo\n%s\n" "$D" "$F2" "$D" >>fail/src &&
	(cd fail && ls -A >../before.ls) &&
	(cd fail && test_must_fail mailbag convert src dst 2>../err) &&
	(cd fail && ls -A >../after.ls) &&
	test_cmp before.ls after.ls
'

test_expect_success 'no DST and no temporary file when the format cannot be written' '
	mkdir fail2 && cp small fail2/src &&
	(cd fail2 && test_must_fail mailbag convert --to=nosuchformat src dst 2>../err) &&
	(cd fail2 && ls -A) >actual &&
	echo src >expect &&
	test_cmp expect actual
'

test_expect_success 'SIGTERM midway: cleans up, no DST, no temporary file' '
	mkdir term &&
	ok= &&
	for try in 1 2 3; do
		rm -f term/.dst.mbtmp.* &&
		{ "$MAILBAG" convert -q big term/dst & pid=$!; } &&
		if wait_size "term/.dst.mbtmp.*" 20000000 $pid; then
			kill -TERM $pid; rc=0; wait $pid || rc=$?
			test "$rc" = 143 && ok=1 && break
		fi
		wait $pid
		rm -f term/dst
	done &&
	test -n "$ok" &&
	ls -A term >actual &&
	test_must_be_empty actual
'

test_expect_success 'SIGKILL midway: no DST, at most a .dst.mbtmp.* file' '
	mkdir kill &&
	ok= &&
	for try in 1 2 3; do
		{ "$MAILBAG" convert -q big kill/dst & pid=$!; } &&
		if wait_size "kill/.dst.mbtmp.*" 20000000 $pid; then
			kill -KILL $pid; rc=0; wait $pid || rc=$?
			test "$rc" = 137 && ok=1 && break
		fi
		wait $pid
		rm -f kill/dst kill/.dst.mbtmp.*
	done &&
	test -n "$ok" &&
	! test -e kill/dst &&
	ls -A kill >left &&
	test $(wc -l <left) -le 1 &&
	! grep -v "^\.dst\.mbtmp\." left &&
	for f in $(cat left); do
		s=$(stat -c %s kill/$f) &&
		test "$s" -ge 20000000 && test "$s" -lt $((bigsize * 2)) || return 1
	done
'

test_expect_success 'after SIGKILL a rerun makes DST whole and correct' '
	mailbag convert -q big kill/dst &&
	test "$(messages kill/dst)" = "$bigcount" &&
	summary big | sed "s/ [0-9]* bytes,//; s/, mbox[a-z]* quoting//" >expect &&
	summary kill/dst | sed "s/ [0-9]* bytes,//; s/, mbox[a-z]* quoting//" >actual &&
	test_cmp expect actual &&
	rm -f kill/.dst.mbtmp.* kill/dst
'

test_expect_success '--append killed with SIGKILL midway leaves a torn tail' '
	printf "%s\nSubject: old a\nX-IMAPbase: 1795635279 2\nStatus: RO\nX-UID: 1\n\nold a\n\n" "$F1" >arch &&
	printf "%s\nSubject: old b\nX-UID: 2\n\nold b\n" "$F2" >>arch &&
	cp arch arch.orig &&
	oldsize=$(wc -c <arch) &&
	ok= &&
	for try in 1 2 3; do
		{ "$MAILBAG" convert -q --append big arch & pid=$!; } &&
		if wait_size arch $((oldsize + 20000000)) $pid; then
			kill -KILL $pid; rc=0; wait $pid || rc=$?
			test "$rc" = 137 && ok=1 && break
		fi
		wait $pid
		cp arch.orig arch && rm -f arch.lock .arch.mbtail
	done &&
	test -n "$ok" &&
	size=$(wc -c <arch) &&
	test "$size" -gt "$oldsize" &&
	test "$size" -lt $((oldsize + bigsize)) &&
	head -c $oldsize arch | cmp - arch.orig
'

test_expect_success 'the next append removes the torn tail and adds its message' '
	echo "dotlock-timeout = 1" >.mailbagrc &&
	sleep 1 &&
	printf "%s\nSubject: next\n\nthe next append\n" "$F1" >next &&
	timeout 120 "$MAILBAG" convert -q --append next arch &&
	rm -f .mailbagrc &&
	grep -av "^X-IMAPbase: " arch.orig >expect &&
	head -c $oldsize arch | grep -av "^X-IMAPbase: " >actual &&
	cmp expect actual &&
	test "$(messages arch)" = 3 &&
	tail -c 40 arch >actual &&
	test_grep "the next append" actual &&
	test $(wc -c <arch) -lt $((oldsize + 1000)) &&
	! test -e .arch.mbtail &&
	! test -e arch.lock
'

test_expect_success 'after the repair the mailbox checks clean' '
	mailbag check --strict arch >out &&
	test_grep "^arch: unix, 3 messages, [0-9]* bytes, uidvalidity 1795635279, uidnext 4: ok$" out
'

test_expect_success '--append interrupted by SIGTERM leaves DST as it was' '
	cp arch.orig arch2 &&
	ok= &&
	for try in 1 2 3; do
		{ "$MAILBAG" convert -q --append big arch2 & pid=$!; } &&
		if wait_size arch2 $((oldsize + 20000000)) $pid; then
			kill -TERM $pid; rc=0; wait $pid || rc=$?
			test "$rc" = 143 && ok=1 && break
		fi
		wait $pid
		cp arch.orig arch2
	done &&
	test -n "$ok" &&
	cmp arch2 arch.orig &&
	! test -e .arch2.mbtail &&
	! test -e arch2.lock
'

test_done

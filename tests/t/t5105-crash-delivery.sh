#!/bin/bash
test_description='deliver and spool-move killed with SIGKILL at seeded random points, then retried or run again: nothing lost, nothing duplicated, every mailbox always checks'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

# Knobs: CRASH_SEED (the random points and spools), CRASH_RUNS (runs per
# mailbox format and command; make torture raises it).
SEED=${CRASH_SEED:-5105}
RUNS=${CRASH_RUNS:-25}
. "$TESTS_DIR/t/crash.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root: delivers as a throwaway user, as an MTA does"
test -f "$SHIM" || skip_all "crashinject.so not built"
uw_setup
U=$UW_USER
SPOOL=$TRASH/spool
# Debian's /var/mail, privately: deliver's child keeps the group mail
mkdir "$SPOOL" && chgrp mail "$SPOOL" && chmod 2775 "$SPOOL" || exit 1
# the shim's files are written by the user deliver becomes
touch cnt trace && chmod 666 cnt trace || exit 1

msg() {
	printf 'From sender@example.com Mon Jan  1 00:00:00 2024\nMessage-ID: <%s@test>\nSubject: %s\n\nbody of %s\nFrom inside the body\n\n' \
		"$1" "$1" "$1"
}
md() {
	"$MAILBAG" deliver --set "spool-directory=$SPOOL" --set lock-timeout=20 "$@"
}
# ids FILE: Message-IDs with their counts (mbx keeps CRLF).
ids() { grep -a "^Message-ID: " "$1" | tr -d "\r" | sort | uniq -c | sed "s/^ *//"; }

# crash_runs BOX RCPT NAME: RUNS deliveries of c1, c2, ... to RCPT (whose
# mailbox is BOX), each killed at a seeded random counted call (torn
# writes half the time), then judged:
#  - not killed (the point lay beyond its calls): delivered once;
#  - killed before the tail journal was removed: nothing of it may
#    remain once the MTA's retry has run, and the retry delivers it once;
#  - killed after that (the append was durable, only unlocking was
#    left): it is there once; an MTA would retry and get a second copy,
#    which is the window every delivery agent has between its last
#    fsync and its exit status, so it is counted, not retried.
# After every run: mailbag check passes, each Message-ID exactly once.
crash_runs() {
	local box=$1 rcpt=$2 name=$3 total i p torn rc fails=0 commit
	local nk=0 nb=0 na=0 nn=0
	msg c0 | md "$rcpt" || return 1
	rm -f cnt && touch cnt && chmod 666 cnt &&
	msg count | env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" \
		CRASH_COUNT=1 CRASH_COUNT_FILE="$TRASH/cnt" \
		"$MAILBAG" deliver --set "spool-directory=$SPOOL" "$rcpt" || return 1
	total=$(cat cnt)
	echo "# $name: $total counted calls per delivery, seed $SEED, $RUNS runs"
	# what is there now must stay
	ids "$box" >want.ids
	i=0
	while read -r p torn; do
		i=$((i + 1))
		msg "c$i" >cm
		: >trace
		rc=0
		env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_AT=$p \
			CRASH_TORN=$torn CRASH_TRACE="$TRASH/trace" \
			"$MAILBAG" deliver --set "spool-directory=$SPOOL" \
			--set lock-timeout=20 "$rcpt" <cm >out 2>&1 || rc=$?
		if [ "$rc" = 0 ]; then
			nn=$((nn + 1))
		elif [ "$rc" = 137 ] || { [ "$rc" = 75 ] &&
			grep -q "killed by signal 9" out; }; then
			nk=$((nk + 1))
			commit=$(awk -v p="$p" '$1 < p && $2 == "unlink" &&
				($3 ~ /\.mbtail$/ || $3 ~ /^\/tmp\/\.mbtail\./) { print $1 }' trace)
			if [ -n "$commit" ]; then
				na=$((na + 1))
			else
				nb=$((nb + 1))
				if ! md "$rcpt" <cm >out 2>&1; then
					echo "run $i (point $p torn $torn): retry failed"
					cat out; fails=$((fails + 1)); continue
				fi
			fi
		else
			echo "run $i (point $p torn $torn): exit $rc"; cat out
			fails=$((fails + 1)); continue
		fi
		{ cat want.ids; echo "1 Message-ID: <c$i@test>"; } | sort >want.tmp &&
			mv want.tmp want.ids
		if ! "$MAILBAG" check -q "$box" >chk 2>&1; then
			echo "run $i (point $p torn $torn): check failed"; cat chk
			fails=$((fails + 1))
		fi
		if ! ids "$box" | cmp -s want.ids -; then
			echo "run $i (point $p torn $torn): Message-IDs differ"
			ids "$box" | diff want.ids - | head -5
			fails=$((fails + 1))
		fi
		[ "$fails" -gt 5 ] && break
	done < <(awk -v n="$RUNS" -v t="$total" -v seed="$SEED" 'BEGIN {
		srand(seed)
		for (i = 0; i < n; i++)
			print 1 + int(rand() * (t + 1)), (rand() < 0.5 ? 1 : 0)
	}')
	echo "# $name: $i runs: $nk killed ($nb before the append was durable, retried; $na after), $nn not reached"
	echo "$name $i $nk $nb $na $nn" >>summary
	# one more, undisturbed: it clears what the last killed run left
	msg "last-$name" | md "$rcpt" &&
	cp want.ids $name.want &&
	[ "$i" = "$RUNS" ] && [ "$fails" = 0 ]
}

test_expect_success 'setup: the shim counts a delivery' '
	msg probe | env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" \
		CRASH_COUNT=1 CRASH_COUNT_FILE="$TRASH/cnt" CRASH_TRACE="$TRASH/trace" \
		"$MAILBAG" deliver --set "spool-directory=$SPOOL" "$U" &&
	cat trace && test "$(cat cnt)" -gt 5 &&
	grep -q " unlink .*\.mbtail " trace &&
	rm -f "$SPOOL/$U"
'

test_expect_success 'unix INBOX in a 2775 spool: seeded SIGKILLs' '
	crash_runs "$SPOOL/$U" "$U" unix
'

test_expect_success 'UW mailutil reads the unix INBOX after all that' '
	uw_put "$SPOOL/$U" unixcopy &&
	uw_run mailutil check unixcopy >uw.out 2>&1; cat uw.out &&
	grep -q " $(($(wc -l <unix.want) + 1)) total in" uw.out
'

test_expect_success 'mbx ~/INBOX: seeded SIGKILLs' '
	rm -f "$SPOOL/$U" &&
	msg first | md -b mbx "$U" &&
	crash_runs "$UW_HOME/INBOX" "$U" mbx
'

test_expect_success 'UW mailutil reads the mbx INBOX after all that' '
	uw_run mailutil check INBOX >uw.out 2>&1; cat uw.out &&
	grep -q " $(($(wc -l <mbx.want) + 1)) total in" uw.out
'

# A writer killed between creating its tail journal and installing it
# leaves that temporary file ("..INBOX.mbtail.mbtmp.PID.N", at most a
# few hundred bytes, never mail); the next create, spool-move or a broken
# dead dot-lock sweeps them, a plain append does not (a directory scan
# on every delivery would cost too much in a large spool).
test_expect_success 'nothing of the killed writers is left behind but unused journal temporaries' '
	ls -A "$SPOOL" >left.spool && cat left.spool &&
	! grep -E "\.lock|mbtail|mbtmp|mbnew|mbredo" left.spool &&
	ls -A "$UW_HOME" >left.home && cat left.home &&
	! grep -v -E "^(INBOX|unixcopy|\.\.INBOX\.mbtail\.mbtmp\.[0-9]+\.[0-9a-f]+)\$" left.home &&
	for f in "$UW_HOME"/..INBOX.mbtail.mbtmp.*; do
		test -e "$f" || continue
		test "$(stat -c %s "$f")" -le 512 || return 1
	done &&
	echo "journal temporaries left: $(grep -c mbtmp left.home)" &&
	cat summary
'

# --- spool-move: seeded spools, killed at a seeded point, run again

# spool_runs FORMAT: RUNS times a fresh spool of 1 to 12 seeded messages
# (unix or MMDF, as MTAs write them) is moved into one destination of
# FORMAT that keeps growing, the move killed at a random counted call
# (torn writes half the time; a point past the end lets it finish), then
# run again as cron would.  After every run: the spool is empty, the
# destination checks and holds every message moved so far exactly once
# (the generator's Message-IDs; not UW's pseudo-message of a unix one).
spool_runs() {
	local fmt=$1 dir=sm.$1 i p torn n sf rc fails=0 nk=0 nn=0
	rm -rf $dir && mkdir $dir || return 1
	: >$dir/want
	i=0
	while read -r p torn n sf; do
		i=$((i + 1))
		"$HELPER/gen-mbox" --seed $((SEED * 1000 + i)) --count "$n" \
			--format "$sf" -o $dir/spool 2>/dev/null || return 1
		grep -a "^Message-ID: <.*@gen\.example>" $dir/spool | tr -d "\r" >>$dir/want
		rc=0
		env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_AT=$p \
			CRASH_TORN=$torn "$MAILBAG" spool-move -q --format="$fmt" \
			$dir/spool $dir/dst >out 2>&1 || rc=$?
		case $rc in
		0) nn=$((nn + 1)) ;;
		137) nk=$((nk + 1)) ;;
		*) echo "run $i (point $p torn $torn): exit $rc"; cat out
			fails=$((fails + 1)); continue ;;
		esac
		if ! "$MAILBAG" spool-move -q --format="$fmt" $dir/spool $dir/dst >out 2>&1; then
			echo "run $i (point $p torn $torn): the second run failed"; cat out
			fails=$((fails + 1)); continue
		fi
		test -s $dir/spool && { echo "run $i: spool not emptied"; fails=$((fails + 1)); }
		if ! "$MAILBAG" check -q $dir/dst >chk 2>&1; then
			echo "run $i (point $p torn $torn): check failed"; cat chk
			fails=$((fails + 1))
		fi
		if ! grep -a "^Message-ID: <.*@gen\.example>" $dir/dst | tr -d "\r" | sort | uniq -c |
			cmp -s - <(sort $dir/want | uniq -c); then
			echo "run $i (point $p torn $torn): Message-IDs differ"
			grep -a "^Message-ID: <.*@gen\.example>" $dir/dst | tr -d "\r" | sort | uniq -c |
				diff <(sort $dir/want | uniq -c) - | head -5
			fails=$((fails + 1))
		fi
		[ "$fails" -gt 5 ] && break
	done < <(awk -v n="$RUNS" -v seed="$SEED" 'BEGIN {
		srand(seed + 7)
		for (i = 0; i < n; i++)
			print 1 + int(rand() * 60), (rand() < 0.5 ? 1 : 0),
				1 + int(rand() * 12), (rand() < 0.7 ? "unix" : "mmdf")
	}')
	echo "# spool-move into $fmt: $i runs: $nk killed, $nn finished; $(wc -l <$dir/want) messages moved"
	echo "spool-$fmt $i $nk - - $nn" >>summary
	ls -A $dir | grep -v -x -e dst -e spool -e want >stray
	test_must_be_empty stray &&
	[ "$i" = "$RUNS" ] && [ "$fails" = 0 ]
}

test_expect_success 'spool-move into mbx: seeded spools, seeded SIGKILLs' '
	spool_runs mbx
'

test_expect_success 'spool-move into unix: seeded spools, seeded SIGKILLs' '
	spool_runs unix
'

test_expect_success 'UW mailutil counts both destinations' '
	for f in mbx unix; do
		uw_put sm.$f/dst sm$f &&
		uw_run mailutil check sm$f >uw.out 2>&1; cat uw.out &&
		grep -q " $(wc -l <sm.$f/want) total in" uw.out || return 1
	done &&
	cat summary
'

test_done

#!/bin/bash
test_description='mailbag spool-move: flags, INBOX rules, crashes, contention'
. "$(dirname "$0")/lib.sh"

. "$TESTS_DIR/t/crash.sh"
SEED=${CRASH_SEED:-5101}
MAXPOINTS=${CRASH_POINTS:-40}

# ids FILE: the Message-IDs of a mailbox of any format, one a line
ids() {
	rm -f ids.tmp &&
	"$MAILBAG" convert -q --set uw-metadata=no --to=unix "$1" ids.tmp &&
	grep -a "^Message-ID:" ids.tmp | tr -d "\r" | sort
}

test_expect_success 'setup: a spool with flags and keywords, an old mbx' '
	mkdir sp &&
	cat >flagged <<-\EOM &&
	From alice@example.org Wed Dec  2 05:53:22 1992
	Subject: one
	Message-ID: <one@t>
	Status: RO
	X-Status: AF
	X-Keywords: Junk Work

	body one
	From bob@example.org Wed Dec  2 05:54:22 1992
	Subject: two
	Message-ID: <two@t>

	body two
	From bob@example.org Wed Dec  2 05:55:22 1992
	Subject: three
	Message-ID: <three@t>
	Status: O

	From the body
	EOM
	"$HELPER/gen-mbox" --seed 61 --count 12 -o spool.src &&
	"$HELPER/gen-mbox" --seed 62 --count 3 -o old.src &&
	"$MAILBAG" convert -q --to=mbx old.src old.mbx &&
	echo "spool-directory = $TRASH/sp" >.mailbagrc &&
	echo "lock-helper = no" >>.mailbagrc &&
	echo "dotlock-timeout = 1" >>.mailbagrc
'

test_expect_success 'flags, keywords and dates survive the move into mbx' '
	cp flagged sp/$(id -un) &&
	"$MAILBAG" spool-move >out && cat out &&
	grep -q "moved 3 messages" out && grep -q "(created)" out &&
	test -s INBOX && ! test -s sp/$(id -un) &&
	"$MAILBAG" check INBOX >chk && grep -q "^$TRASH/INBOX: mbx, 3 messages" chk &&
	"$MAILBAG" convert -q --to=unix INBOX back.crlf &&
	tr -d "\r" <back.crlf >back &&
	grep -q "^From .* Wed Dec  2 05:53:22 1992" back &&
	grep -q "^Status: RO" back && grep -q "^X-Status: FA" back &&
	grep -q "^X-Keywords: Junk Work" back &&
	test "$(grep -c "^Status: O\$" back)" = 1 &&
	grep -q "^>From the body" back
'

test_expect_success 'a second run finds no new mail; --json and -n report' '
	"$MAILBAG" spool-move >out && grep -q "no new mail" out &&
	cp flagged sp/$(id -un) &&
	"$MAILBAG" spool-move -n --json >out && cat out &&
	grep -q "\"messages\":3" out && grep -q "\"dry_run\":true" out &&
	cmp flagged sp/$(id -un) &&
	"$MAILBAG" spool-move --json >out &&
	grep -q "\"messages\":3,\"bytes\":[1-9]" out &&
	test "$(ids INBOX | wc -l)" = 6
'

test_expect_success 'into ~/mbox when UW takes ~/mbox as INBOX, senders kept' '
	rm -f INBOX && : >mbox && cp flagged sp/$(id -un) &&
	"$MAILBAG" spool-move >out && cat out && grep -q "to $TRASH/mbox" out &&
	test "$(ids mbox | wc -l)" = 3 && ! test -e INBOX &&
	grep -q "^From alice@example.org Wed Dec  2 05:53:22 1992" mbox &&
	grep -q "^X-Keywords: Junk Work" mbox
'

test_expect_success 'no ~/INBOX that UW would hide: ~/mbox exists (MMDF spool)' '
	rm -f sp/$(id -un) &&
	"$MAILBAG" convert -q --to=mmdf flagged sp/$(id -un) &&
	cp sp/$(id -un) before &&
	test_expect_code 73 "$MAILBAG" spool-move 2>err && cat err &&
	grep -q "mbox exists, so UW would not take a new $TRASH/INBOX as INBOX" err &&
	! test -e INBOX && cmp before sp/$(id -un)
'

test_expect_success 'no ~/INBOX over an existing non-INBOX file; no unix ~/INBOX' '
	rm -f mbox && cp flagged INBOX &&
	test_expect_code 73 "$MAILBAG" spool-move 2>err && cat err &&
	grep -q "INBOX exists but is in format unix, which UW does not take" err &&
	rm INBOX &&
	test_expect_code 73 "$MAILBAG" spool-move --format=unix 2>err &&
	grep -q "UW takes no unix-format ~/INBOX" err &&
	cmp before sp/$(id -un) &&
	"$MAILBAG" spool-move >out && grep -q "moved 3 messages" out &&
	test "$(ids INBOX | wc -l)" = 3 && rm INBOX
'

test_expect_success 'a symlinked spool file is refused' '
	ln -s "$TRASH/flagged" sp/link &&
	test_must_fail "$MAILBAG" spool-move sp/link dst 2>err &&
	grep -q "symbolic link" err && ! test -e dst && cmp flagged flagged
'

# --- crashes ---------------------------------------------------------

test_expect_success 'setup: the shim works' '
	test -f "$SHIM" &&
	ids spool.src >want.spool && ids old.src >want.old &&
	sort want.spool want.old >want.all && test "$(wc -l <want.all)" = 15
'

# crash_loop DSTFORMAT: kill spool-move at seeded points, rerun, count.
crash_loop() {
	local f=$1 total p torn rc fails=0 dir=crash.$1
	rm -rf $dir && mkdir $dir || return 1
	cp spool.src $dir/spool && cp old.$f $dir/dst || return 1
	total=$(count_calls "$MAILBAG" spool-move -q $dir/spool $dir/dst) ||
		return 1
	echo "# $f: $total counted calls"
	while read -r p torn; do
		rm -rf $dir && mkdir $dir &&
		cp spool.src $dir/spool && cp old.$f $dir/dst || return 1
		rc=0
		env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_AT=$p \
			${torn:+CRASH_TORN=1} \
			"$MAILBAG" spool-move -q $dir/spool $dir/dst >/dev/null 2>&1 ||
			rc=$?
		if [ "$rc" != 137 ]; then
			echo "point $p $torn: exit $rc, not killed"; fails=1; continue
		fi
		if ! "$MAILBAG" spool-move -q $dir/spool $dir/dst >rerun.out 2>&1; then
			echo "point $p $torn: rerun failed"; cat rerun.out; fails=1
			continue
		fi
		if test -s $dir/spool; then
			echo "point $p $torn: spool not emptied"; fails=1
		fi
		"$MAILBAG" check -q $dir/dst || { echo "point $p $torn: dst damaged"; fails=1; }
		if ! ids $dir/dst | cmp -s - want.all; then
			echo "point $p $torn: Message-IDs differ:"
			ids $dir/dst | diff want.all - | head -5; fails=1
		fi
		ls -A $dir | grep -v "^dst$\|^spool$" &&
			{ echo "point $p $torn: stray files"; fails=1; }
	done < <(points "$total")
	return $fails
}

old.unix() { :; }
test_expect_success 'killed at any point into an mbx, a rerun moves each message once' '
	crash_loop mbx
'

test_expect_success 'killed at any point into a unix mailbox, likewise' '
	cp old.src old.unix && crash_loop unix
'

test_expect_success 'killed while creating the destination, likewise' '
	rm -rf crash.new && mkdir crash.new && cp spool.src crash.new/spool &&
	total=$(count_calls "$MAILBAG" spool-move -q crash.new/spool crash.new/dst) &&
	fails=0 &&
	for p in $(seq 1 $total); do
		rm -rf crash.new && mkdir crash.new && cp spool.src crash.new/spool &&
		rc=0 && env LD_PRELOAD="$SHIM" CRASH_AT=$p ASAN_OPTIONS="$CRASH_ASAN" \
			"$MAILBAG" spool-move -q crash.new/spool crash.new/dst \
			>/dev/null 2>&1 || rc=$?
		test "$rc" = 137 || { echo "point $p: exit $rc"; fails=1; }
		"$MAILBAG" spool-move -q crash.new/spool crash.new/dst || fails=1
		ids crash.new/dst | cmp -s - want.spool ||
			{ echo "point $p: Message-IDs differ"; fails=1; }
	done &&
	test "$fails" = 0
'

test_done

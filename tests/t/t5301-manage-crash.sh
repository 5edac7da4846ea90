#!/bin/bash
test_description='mailbag move killed at seeded system calls: every message in SRC or DST'
. "$(dirname "$0")/lib.sh"

. "$TESTS_DIR/t/crash.sh"
SEED=${CRASH_SEED:-5301}
MAXPOINTS=${CRASH_POINTS:-30}

test -f "$SHIM" || skip_all "no $SHIM (run make)"

# ids BOX: its Message-IDs, sorted, one a line (nothing if BOX is absent).
ids() {
	[ -e "$1" ] || return 0
	rm -f "$TRASH/.ids" &&
		"$MAILBAG" convert -q "$1" "$TRASH/.ids" &&
		tr -d '\r' <"$TRASH/.ids" |
		sed -n 's/^Message-ID: <\(.*@t\)>$/\1/p' | sort
}

SET="2:4,7,10:*"
printf 'm%s@t\n' 1 2 3 4 5 6 7 8 9 10 11 12 | sort >all
printf 'm%s@t\n' 2 3 4 7 10 11 12 | sort >sel
comm -23 all sel >unsel
printf 'o%s@t\n' 1 2 | sort >old.ids

test_expect_success 'setup: sources and old destinations in several formats' '
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		printf "From u%s@example.com Mon Jan  %s 10:00:00 2024\nMessage-ID: <m%s@t>\nSubject: message %s\n\nbody %s\n>From inside\n\n" \
			$i $((i % 9 + 1)) $i $i $i || return 1
	done >src.unix &&
	printf "From o@example.com Mon Jan  1 00:00:00 2024\nMessage-ID: <o1@t>\n\n1\n\nFrom o@example.com Mon Jan  1 00:00:00 2024\nMessage-ID: <o2@t>\n\n2\n\n" >old.unix &&
	for f in mmdf mbx mix mtx mh; do
		mailbag convert -q --to $f src.unix src.$f &&
		mailbag convert -q --to $f old.unix old.$f || return 1
	done &&
	ids src.mix >got && test_cmp all got &&
	ids old.mbx >got && test_cmp old.ids got
'

test_expect_success 'the shim counts and kills' '
	cp src.unix s1 &&
	total=$(count_calls "$MAILBAG" move -q s1 d1 "$SET") &&
	test "$total" -ge 3 && ids d1 >got && test_cmp sel got &&
	rm -f d1 && cp src.unix s1 &&
	rc=0 && crashrun CRASH_AT=1 -- "$MAILBAG" move -q s1 d1 "$SET" || rc=$? &&
	test "$rc" = 137 && ids s1 >got && test_cmp all got
' || skip_all "crashinject.so does not work with $MAILBAG"

# crash_move SF DF new|old: move SET from an SF source to a DF
# destination (new, or an old one with two messages), killed at each
# point.  Afterwards each message is in SRC or DST; DST got the selected
# messages whole or not at all; SRC lost only selected ones, and only
# once DST had them; both pass check.  Duplicates (a kill after the copy
# was durable, before SRC's expunge was) are counted.
crash_move() {
	local sf=$1 df=$2 kind=$3 total p torn rc fails=0 runs=0 dups=0
	local dir=w.$sf.$df.$kind
	rm -rf $dir && mkdir $dir &&
	cp -r src.$sf $dir/src &&
	if [ $kind = old ]; then cp -r old.$df $dir/dst; fi &&
	total=$(count_calls "$MAILBAG" move -q --to $df $dir/src $dir/dst "$SET") ||
		return 1
	echo "# $sf -> $df ($kind DST): $total counted calls"
	while read -r p torn; do
		rm -rf $dir && mkdir $dir && cp -r src.$sf $dir/src || return 1
		if [ $kind = old ]; then cp -r old.$df $dir/dst || return 1; fi
		rc=0
		crashrun CRASH_AT=$p ${torn:+CRASH_TORN=1} -- \
			"$MAILBAG" move -q --to $df $dir/src $dir/dst "$SET" || rc=$?
		runs=$((runs + 1))
		if [ "$rc" != 137 ]; then
			echo "point $p $torn: exit $rc, not killed"; fails=1; continue
		fi
		# a killed process leaves its dot-locks; an administrator or
		# the lock timeout removes them
		rm -f $dir/src.lock $dir/dst.lock
		# The next writer cuts the torn tail of an interrupted append
		# (the tail journal, libmbox/durable.c): a prune that selects
		# nothing opens each mailbox read/write and changes nothing.
		for b in $dir/src $dir/dst; do
			[ -e $b ] || continue
			"$MAILBAG" prune -q $b 4294967295 || {
				echo "point $p $torn: $b cannot be opened"; fails=1; }
		done
		ids $dir/src >s.ids && ids $dir/dst >d.ids || {
			echo "point $p $torn: unreadable"; fails=1; continue; }
		if [ $kind = old ]; then
			comm -23 d.ids old.ids >d.new
			comm -13 d.ids old.ids | grep . &&
				{ echo "point $p $torn: old DST messages lost"; fails=1; }
		else
			cp d.ids d.new
		fi
		sort -u s.ids d.new | comm -23 all - | grep . &&
			{ echo "point $p $torn: messages in neither mailbox"; fails=1; }
		if [ -s d.new ] && ! cmp -s d.new sel; then
			echo "point $p $torn: DST got part of the selection"; fails=1
		fi
		comm -23 unsel s.ids | grep . &&
			{ echo "point $p $torn: unselected messages left SRC"; fails=1; }
		if [ ! -s d.new ] && ! cmp -s s.ids all; then
			echo "point $p $torn: SRC changed before DST had the copy"
			fails=1
		fi
		[ -s d.new ] && comm -12 s.ids sel | grep -q . && dups=$((dups + 1))
		"$MAILBAG" check -q $dir/src ||
			{ echo "point $p $torn: SRC fails check"; fails=1; }
		if [ -e $dir/dst ] && ! "$MAILBAG" check -q $dir/dst; then
			echo "point $p $torn: DST fails check"; fails=1
		fi
		if [ $fails != 0 ] && [ -z "${kept-}" ]; then
			kept=1; cp -r $dir keep.$sf.$df.$p${torn:+.torn}
		fi
	done < <(points "$total" ${#sf}${#df})
	echo "# $sf -> $df ($kind DST): $runs kills, $dups left duplicates"
	echo "$sf $df $kind $runs $dups" >>summary
	return $fails
}

test_expect_success 'unix to a new mbx' 'crash_move unix mbx new'
test_expect_success 'mbx to an old unix' 'crash_move mbx unix old'
test_expect_success 'mix to an old mbx' 'crash_move mix mbx old'
test_expect_success 'mtx to a new mix' 'crash_move mtx mix new'
test_expect_success 'mmdf to an old mmdf' 'crash_move mmdf mmdf old'
test_expect_success 'MH to a new unix' 'crash_move mh unix new'

test_expect_success 'duplicates only after a durable copy; some runs got that far' '
	cat summary &&
	awk -v max=$MAXPOINTS "{ r += \$4; d += \$5 } END { exit !(r >= 4 * max && d > 0 && d < r) }" summary
'

test_done

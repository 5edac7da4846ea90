#!/bin/bash
test_description='mailbag convert killed at seeded system calls (crashinject.so)'
. "$(dirname "$0")/lib.sh"

. "$TESTS_DIR/t/crash.sh"
SEED=${CRASH_SEED:-3100}
MAXPOINTS=${CRASH_POINTS:-40}

test -f "$SHIM" || skip_all "no $SHIM (run make)"

# messages FILE: the message count check reports.
messages() {
	"$MAILBAG" check "$1" | tail -n 1 |
		sed -n "s/^[^:]*: [a-z]*, \([0-9]*\) messages.*/\1/p"
}

# The bytes of a mailbox that must survive any append: all but UW's
# X-IMAPbase (its uidnext moves) and X-UID (a cut append burns UIDs).
stable() { grep -av '^X-IMAPbase: \|^X-UID: ' "$@"; }


test_expect_success 'setup: sources and old mailboxes, unix and mmdf' '
	"$HELPER/gen-mbox" --seed 31 --count 12 -o src.unix &&
	"$HELPER/gen-mbox" --seed 31 --count 12 --format mmdf -o src.mmdf &&
	"$HELPER/gen-mbox" --seed 32 --count 4 -o old.unix &&
	"$HELPER/gen-mbox" --seed 32 --count 4 --format mmdf -o old.mmdf &&
	for f in unix mmdf; do
		cp src.$f src.$f.orig || return 1
	done &&
	n=$(messages src.unix) && test "$n" = 12 &&
	test "$(messages src.mmdf)" = 12 &&
	test "$(messages old.unix)" = 4 &&
	echo "dotlock-timeout = 1" >.mailbagrc
'

test_expect_success 'the shim counts and kills' '
	total=$(count_calls "$MAILBAG" convert -q src.unix cnt.out) &&
	test "$total" -ge 3 &&
	rm -f cnt.out &&
	rc=0 && crashrun CRASH_AT=1 -- "$MAILBAG" convert -q src.unix cnt.out ||
		rc=$? &&
	test "$rc" = 137 &&
	! test -e cnt.out &&
	rm -f .cnt.out.mbtmp.*
' || skip_all "crashinject.so does not work with $MAILBAG"

# new_dst FMT: convert SRC to a new DST of format FMT, killed at each point.
new_dst() {
	local f=$1 total p torn rc dir=new.$1 fails=0
	mkdir -p $dir &&
	total=$(count_calls "$MAILBAG" convert -q --to=$f src.$f $dir/probe) ||
		return 1
	echo "# $f new DST: $total counted calls"
	rm -f $dir/probe
	while read -r p torn; do
		rm -rf $dir && mkdir $dir || return 1
		rc=0
		crashrun CRASH_AT=$p ${torn:+CRASH_TORN=1} -- \
			"$MAILBAG" convert -q --to=$f src.$f $dir/dst || rc=$?
		if [ "$rc" != 137 ]; then
			echo "point $p $torn: exit $rc, not killed"; fails=1; continue
		fi
		if ! cmp src.$f src.$f.orig; then
			echo "point $p $torn: SRC changed"; return 1
		fi
		if [ -e $dir/dst ]; then
			if ! "$MAILBAG" check -q $dir/dst ||
				[ "$(messages $dir/dst)" != 12 ]; then
				echo "point $p $torn: DST exists but is not whole"
				fails=1
			fi
		else
			# the next run must be able to make it
			if ! "$MAILBAG" convert -q --to=$f src.$f $dir/dst ||
				[ "$(messages $dir/dst)" != 12 ]; then
				echo "point $p $torn: rerun after the kill failed"
				fails=1
			fi
		fi
		ls -A $dir | grep -v "^dst$\|^\.dst\.mbtmp\." &&
			{ echo "point $p $torn: stray files"; fails=1; }
	done < <(points "$total" 1)
	return $fails
}

# append FMT: convert --append SRC to an old DST, killed at each point,
# then appended again by a normal run.
append() {
	local f=$1 total p torn rc n dir=app.$1 fails=0 i=0 old
	rm -rf $dir && mkdir $dir && cp old.$f $dir/probe &&
	total=$(count_calls "$MAILBAG" convert -q --append src.$f $dir/probe) ||
		return 1
	echo "# $f --append: $total counted calls"
	# what one and two whole appends give
	cp old.$f ref1.$f && "$MAILBAG" convert -q --append src.$f ref1.$f &&
	cp ref1.$f ref2.$f && "$MAILBAG" convert -q --append src.$f ref2.$f &&
	stable ref1.$f >ref1.$f.s && stable ref2.$f >ref2.$f.s &&
	stable old.$f >old.$f.s || return 1
	old=$(wc -c <old.$f)
	while read -r p torn; do
		i=$((i + 1))
		rm -rf $dir && mkdir $dir && cp old.$f $dir/dst || return 1
		rc=0
		crashrun CRASH_AT=$p ${torn:+CRASH_TORN=1} -- \
			"$MAILBAG" convert -q --append src.$f $dir/dst || rc=$?
		if [ "$rc" != 137 ]; then
			echo "point $p $torn: exit $rc, not killed"; fails=1; continue
		fi
		cmp src.$f src.$f.orig || { echo "point $p $torn: SRC changed"; return 1; }
		# The killed writer's dot-lock is stale: every 4th run lets
		# the next writer break it (dotlock-timeout = 1), the others
		# remove it as an administrator would, to keep this fast.
		if [ -e $dir/dst.lock ]; then
			if [ $((i % 4)) = 0 ]; then
				touch -d "1 hour ago" $dir/dst.lock
			else
				rm -f $dir/dst.lock
			fi
		fi
		if ! "$MAILBAG" convert -q --append src.$f $dir/dst; then
			echo "point $p $torn: the next append failed"; fails=1; continue
		fi
		if ! head -c $old $dir/dst | stable | cmp -s - old.$f.s; then
			echo "point $p $torn: the old messages changed"; fails=1
		fi
		if ! "$MAILBAG" check -q $dir/dst; then
			echo "point $p $torn: check failed"; fails=1
		fi
		n=$(messages $dir/dst)
		case $n in
		16) stable $dir/dst | cmp -s - ref1.$f.s ;;
		28) stable $dir/dst | cmp -s - ref2.$f.s ;;
		*) false ;;
		esac || { echo "point $p $torn: $n messages, not the old ones" \
			"plus one or two whole copies"; fails=1; }
		# stray temporary files are reported by a test of their own
		ls -A $dir | grep -v "^dst$" | sed "s/^/$f point $p $torn: /" \
			>>stray
		if [ $fails != 0 ] && [ -z "${kept-}" ]; then
			kept=1; cp -r $dir keep.$f.$p${torn:+.torn}
		fi
	done < <(points "$total" 2)
	return $fails
}

test_expect_success 'unix: new DST is absent or whole after a kill' 'new_dst unix'
test_expect_success 'mmdf: new DST is absent or whole after a kill' 'new_dst mmdf'
test_expect_success 'unix: a killed --append is undone or whole' 'append unix'
test_expect_success 'mmdf: a killed --append is undone or whole' 'append mmdf'

test_expect_success 'no stray temporary files once the next writer ran' '
	touch stray && cat stray && test_must_be_empty stray
'

test_done

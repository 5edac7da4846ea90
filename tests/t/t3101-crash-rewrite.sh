#!/bin/bash
test_description='in-place rewrites (flags, expunge) killed at seeded system calls'
. "$(dirname "$0")/lib.sh"

. "$TESTS_DIR/t/crash.sh"
MBTOOL=$HELPER/mbtool
SEED=${CRASH_SEED:-3101}
MAXPOINTS=${CRASH_POINTS:-40}

test -f "$SHIM" || skip_all "no $SHIM (run make)"

messages() {
	"$MAILBAG" check "$1" | tail -n 1 |
		sed -n "s/^[^:]*: [a-z]*, \([0-9]*\) messages.*/\1/p"
}

# split_texts FILE: one line per message, "Message-ID<TAB>md5 of its
# text", sorted; the text leaves out the From line, the ^A^A^A^A lines,
# UW's status headers (they change with the flags) and trailing blank
# lines.
split_texts() {
	LC_ALL=C awk -v out="$TRASH/.split" '
	function flush() {
		if (id != "") {
			sub(/\n+$/, "", txt)
			f = out "." n++
			printf "%s", txt > f; close(f)
			print id "\t" f
		}
		id = ""; txt = ""; inhdr = 1
	}
	BEGIN { inhdr = 1 }
	/^\001\001\001\001$/ { prev = $0; next }
	/^From / && (NR == 1 || prev == "" || prev ~ /^\001\001\001\001$/) {
		flush(); prev = $0; next
	}
	{ prev = $0 }
	inhdr && /^$/ { inhdr = 0 }
	inhdr && /^(Status|X-Status|X-Keywords|X-UID|X-IMAP|X-IMAPbase):/ { next }
	inhdr && tolower($0) ~ /^message-id:/ { id = $0 }
	{ txt = txt $0 "\n" }
	END { flush() }
	' "$1" | while IFS=$'\t' read -r id f; do
		printf "%s\t%s\n" "$id" "$(md5sum <"$f" | cut -c1-32)"
		rm -f "$f"
	done | sort
}

# flagstate FILE: the flags of every message, in order (Status and
# X-Status values), to tell "before" from "after" a flag change.
flagstate() {
	grep -a "^Status: \|^X-Status: \|^X-Keywords: " "$1"
}

test_expect_success 'setup: mailboxes, unix and mmdf' '
	for f in unix mmdf; do
		"$HELPER/gen-mbox" --seed 41 --count 15 --format $f -o base.$f &&
		# a read-write open assigns UIDs and the like: start from
		# a mailbox that has been through one
		"$MBTOOL" flags base.$f 1 +seen &&
		"$MBTOOL" flags base.$f 2 +deleted &&
		"$MBTOOL" flags base.$f 7 +deleted &&
		"$MBTOOL" flags base.$f 11 +deleted &&
		test "$(messages base.$f)" = 15 &&
		split_texts base.$f >base.$f.texts &&
		test $(wc -l <base.$f.texts) = 15 &&
		test $(cut -f1 base.$f.texts | sort -u | wc -l) = 15 || return 1
	done
'

# crash_op FMT OP SALT: run mbtool OP (flags or expunge) on a copy of
# base.FMT killed at each point; the next writer must find it before or
# after, never half.
crash_op() {
	local f=$1 op=$2 total p torn rc dir=rw.$1.$2 fails=0 n
	local args
	case $op in
	flags) args="flags BOX 3 +flagged" ;;
	expunge) args="expunge BOX" ;;
	esac
	# before and after, both after the next writer's "flags 1 +seen"
	cp base.$f before.$f.$op && "$MBTOOL" flags before.$f.$op 1 +seen &&
	cp base.$f after.$f.$op && "$MBTOOL" ${args/BOX/after.$f.$op} >/dev/null &&
	"$MBTOOL" flags after.$f.$op 1 +seen &&
	split_texts after.$f.$op >after.$f.$op.texts &&
	flagstate before.$f.$op >before.$f.$op.flags &&
	flagstate after.$f.$op >after.$f.$op.flags || return 1
	cmp -s before.$f.$op after.$f.$op &&
		{ echo "$op changes nothing"; return 1; }
	rm -rf $dir && mkdir $dir && cp base.$f $dir/box &&
	total=$(count_calls "$MBTOOL" ${args/BOX/$dir/box}) || return 1
	echo "# $f $op: $total counted calls"
	while read -r p torn; do
		rm -rf $dir && mkdir $dir && cp base.$f $dir/box || return 1
		rc=0
		crashrun CRASH_AT=$p ${torn:+CRASH_TORN=1} -- \
			"$MBTOOL" ${args/BOX/$dir/box} >/dev/null || rc=$?
		if [ "$rc" != 137 ]; then
			echo "point $p $torn: exit $rc, not killed"; fails=1; continue
		fi
		# the killed writer's dot-lock is stale; mbtool reads no
		# configuration (it would wait out UW's 5 minutes), so remove
		# it as an administrator would (t3100 lets a writer break it)
		rm -f $dir/box.lock
		if ! "$MBTOOL" flags $dir/box 1 +seen; then
			echo "point $p $torn: the next writer failed"; fails=1
			continue
		fi
		if ! "$MAILBAG" check -q $dir/box; then
			echo "point $p $torn: check failed"; fails=1
		fi
		n=$(messages $dir/box)
		split_texts $dir/box >$dir/texts
		if ! join -t "	" $dir/texts base.$f.texts | awk -F "	" \
			'$2 != $3 { exit 1 }' ||
			[ $(join -t "	" $dir/texts base.$f.texts | wc -l) != "$n" ]
		then
			echo "point $p $torn: a message text changed"; fails=1
		fi
		if cmp -s $dir/box before.$f.$op; then
			:
		elif [ "$n" = "$(messages after.$f.$op)" ] &&
			cmp -s $dir/texts after.$f.$op.texts &&
			flagstate $dir/box | cmp -s - after.$f.$op.flags; then
			:
		else
			echo "point $p $torn: neither before nor after ($n messages)"
			fails=1
		fi
		ls -A $dir | grep -v "^box$\|^texts$" |
			sed "s/^/$f $op point $p $torn: /" >>stray
		if [ $fails != 0 ] && [ -z "${kept-}" ]; then
			kept=1; cp -r $dir keep.$f.$op.$p${torn:+.torn}
		fi
	done < <(points "$total" $3)
	return $fails
}

test_expect_success 'unix: a killed flag change is all or nothing' 'crash_op unix flags 1'
test_expect_success 'unix: a killed expunge is all or nothing' 'crash_op unix expunge 2'
test_expect_success 'mmdf: a killed flag change is all or nothing' 'crash_op mmdf flags 3'
test_expect_success 'mmdf: a killed expunge is all or nothing' 'crash_op mmdf expunge 4'

test_expect_success 'no stray temporary files once the next writer ran' '
	touch stray && cat stray && test_must_be_empty stray
'

test_done

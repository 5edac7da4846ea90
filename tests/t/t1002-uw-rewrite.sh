#!/bin/bash
test_description='flag changes and expunge rewrite unix/mmdf mailboxes in place, readable by UW'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"
uw_setup

MBTOOL=$HELPER/mbtool

# An MTA-written mailbox: no UIDs, no status headers.
mta_box() {
	for i in 1 2 3 4; do
		printf 'From sender%d@example.com Wed Dec  %d 05:53:22 1992\n' $i $i
		printf 'Subject: message %d\nMessage-ID: <%d@example.com>\n\n' $i $i
		printf 'body %d\nFrom the middle\n\n' $i
	done
}

for fmt in unix mmdf; do
	test_expect_success "$fmt: set up a mailbag mailbox" "
		mta_box >src.mbox &&
		mailbag convert --to $fmt src.mbox box.$fmt &&
		stat -c %i box.$fmt >inode.before &&
		grep -a '^X-UID:' box.$fmt >uids.before
	"

	test_expect_success "$fmt: flags and expunge keep the inode and the UIDs" "
		\$MBTOOL flags box.$fmt 2 +flagged +seen +Work &&
		\$MBTOOL flags box.$fmt 3 +deleted &&
		\$MBTOOL expunge box.$fmt >out &&
		grep -q '^1 expunged' out &&
		stat -c %i box.$fmt >inode.after &&
		test_cmp inode.before inode.after &&
		grep -a '^X-UID:' box.$fmt >uids.after &&
		sed 3d uids.before >uids.want &&
		test_cmp uids.want uids.after &&
		! grep -a 'message 3' box.$fmt
	"

	test_expect_success "$fmt: mailbag sees the change" "
		mailbag check --json box.$fmt >check.json &&
		grep -q '\"messages\":3' check.json &&
		grep -q '\"Work\"' check.json &&
		grep -a -A6 '^Subject: message 2' box.$fmt >m2 &&
		grep -q '^Status: R\$' m2 &&
		grep -q '^X-Status: F' m2 &&
		grep -q '^X-Keywords: Work' m2
	"

	test_expect_success "$fmt: UW reads the rewritten mailbox without renumbering" "
		uw_put box.$fmt box &&
		uw_run mailutil -verbose check box >uw.out 2>&1 &&
		grep -q '3 total in box' uw.out &&
		uw_run mailutil -verbose prune box 'subject nosuchxyz' >uw.prune 2>&1;
		! grep -q 'Assigning new' uw.prune &&
		! grep -q 'less than' uw.prune &&
		uw_get box back.$fmt &&
		grep -a '^X-UID:' back.$fmt >uids.uw &&
		test_cmp uids.want uids.uw &&
		grep -a -A6 '^Subject: message 2' back.$fmt | grep -q '^X-Keywords: Work'
	"
done

test_expect_success 'a rewrite killed before its copy finished is redone by the next writer' '
	mta_box >src.mbox &&
	mailbag convert src.mbox redo.mbox &&
	cp redo.mbox want.mbox &&
	# the state a killed rewrite leaves: the new content complete, the
	# journal naming it, the mailbox half overwritten
	ino=$(stat -c %i redo.mbox) && dev=$(stat -c %d redo.mbox) &&
	cp want.mbox .redo.mbox.mbnew.99999 &&
	printf "mailbag-redo 1 %s %s\n" "$(wc -c <want.mbox)" "$PWD/.redo.mbox.mbnew.99999" \
		>"$(printf ".mbredo.%x.%x" "$dev" "$ino")" &&
	off=$(grep -abo "body 2" redo.mbox | cut -d: -f1) &&
	printf "GARBAGE" | dd of=redo.mbox bs=1 seek=$off conv=notrunc 2>/dev/null &&
	! cmp -s redo.mbox want.mbox &&
	$MBTOOL flags redo.mbox 1 +seen &&
	test "$(stat -c %i redo.mbox)" = "$ino" &&
	mailbag check redo.mbox &&
	test_must_fail test -e "$(printf ".mbredo.%x.%x" "$dev" "$ino")" &&
	grep -q "^body 2$" redo.mbox &&
	! grep -q GARBAGE redo.mbox &&
	grep -c "^Subject: message" redo.mbox >count &&
	echo 4 >count.want && test_cmp count.want count
'

test_done

#!/bin/bash
test_description='uid-rebuild --new-uidvalidity in every format that keeps UIDs (69 in the others); rename of an eml directory'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

# The UIDs of a renumbered mailbox are 1..n under a new UIDVALIDITY, the
# messages (text, flags, dates, keywords) are the same, and UW's mailutil
# reads the result with the same count.
uw_setup
H=$UW_HOME

dump() { "$HELPER/mbtool" dump "$1"; }
# msgs BOX: the dump without UIDs, the validity and uidnext
msgs() { dump "$1" | sed -e 's/^msg uid=[0-9]* /msg /' -e '/^uidvalidity=/d'; }
validity() { dump "$1" | sed -n 's/^uidvalidity=\([0-9]*\) .*/\1/p'; }
uids() { dump "$1" | sed -n 's/^msg uid=\([0-9]*\) .*/\1/p' | tr '\n' ' '; }
uw_total() {
	uw_run mailutil check "$1" >uw.out 2>&1
	sed -n -e 's/^No new messages, \([0-9]*\) total in .*/\1/p' \
		-e 's/^[0-9]* new message(s) ([0-9]* unseen), \([0-9]*\) total in .*/\1/p' uw.out
}

test_expect_success 'setup: a source with flags, keywords and gaps in its UIDs' '
	cat >src <<-\EOF &&
	From a@example.com Mon Jan  1 10:00:00 2024
	Subject: one
	X-IMAPbase: 1000 0000000040 Work
	X-UID: 7
	Status: RO
	X-Keywords: Work

	first

	From b@example.com Tue Jan  2 11:00:00 2024
	Subject: two
	X-UID: 20
	X-Status: F

	second

	From c@example.com Wed Jan  3 12:00:00 2024
	Subject: three
	X-UID: 33

	third
	EOF
	test "$(uids src)" = "7 20 33 "
'

for f in unix mmdf mbx mix maildir; do
	test_expect_success "$f: --new-uidvalidity numbers 1..3 under a new validity, messages kept" '
		rm -rf "$H/r.$f" &&
		mailbag convert -q --to='"$f"' src "$H/r.'"$f"'" &&
		msgs "$H/r.'"$f"'" >before &&
		v0=$(validity "$H/r.'"$f"'") &&
		mailbag uid-rebuild --new-uidvalidity "$H/r.'"$f"'" >out &&
		test_grep "renumbered" out &&
		test "$(uids "$H/r.'"$f"'")" = "1 2 3 " &&
		v1=$(validity "$H/r.'"$f"'") && test "$v1" != "$v0" &&
		msgs "$H/r.'"$f"'" >after && test_cmp before after &&
		mailbag check "$H/r.'"$f"'"
	'
done

test_expect_success 'mtx, tenex and mh keep no UIDs: 69, mailbox untouched' '
	for f in mtx tenex mh; do
		rm -rf "$H/r.$f" &&
		mailbag convert -q --to=$f src "$H/r.$f" 2>/dev/null &&
		msgs "$H/r.$f" >before &&
		test_expect_code 69 mailbag uid-rebuild --new-uidvalidity "$H/r.$f" 2>err &&
		test_grep "keep no UIDs" err &&
		msgs "$H/r.$f" >after && test_cmp before after || return 1
	done
'

test_expect_success 'UW reads every renumbered UW format with the same count' '
	[ -n "$UW_SELF" ] || chown -R "$UW_USER:$UW_GROUP" "$H" &&
	for f in unix mmdf mbx mix; do
		test "$(uw_total r.$f)" = 3 || { cat uw.out; return 1; }
	done
'

test_expect_success 'rename of an eml directory mailbox; a taken name refused' '
	mailbag convert -q --to=eml src ebox &&
	mailbag rename ebox ebox2 >out && test_grep "(eml)" out &&
	test ! -e ebox && test "$(ls ebox2 | wc -l)" = 3 &&
	mkdir taken &&
	test_must_fail mailbag rename ebox2 taken 2>err &&
	test -d ebox2 && test "$(ls ebox2 | wc -l)" = 3
'

test_done

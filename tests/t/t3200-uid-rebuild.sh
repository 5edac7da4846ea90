#!/bin/bash
test_description='mailbag uid-rebuild: repair the UID regime, keeping what is valid'
. "$(dirname "$0")/lib.sh"

D=$(printf '\1\1\1\1')

# mkbox FORMAT BASE UID... : messages 1..n; BASE is the X-IMAPbase value
# of message 1 ("" for none); a UID of "-" leaves the X-UID out.
mkbox() {
	local fmt=$1 base=$2 i=0 u
	shift 2
	for u in "$@"; do
		i=$((i + 1))
		[ "$fmt" = mmdf ] && printf '%s\n' "$D"
		printf 'From a%d@example.com Wed Dec  %d 05:53:22 1992\n' $i $i
		printf 'Subject: message %d\nMessage-ID: <%d@example.com>\n' $i $i
		[ $i = 1 ] && [ -n "$base" ] && printf 'X-IMAPbase: %s\n' "$base"
		printf 'Status: RO\n'
		[ $((i % 2)) = 0 ] && printf 'X-Status: F\n'
		[ "$u" != - ] && printf 'X-UID: %s\n' "$u"
		printf '\nbody %d\n>From the middle\n' $i
		# mmdf as UW writes it: an extra LF before the closing delimiter
		if [ "$fmt" = mmdf ]; then printf '\n%s\n' "$D"; else printf '\n'; fi
	done
}

# The messages as Python's mailbox module sees them, less UW's headers:
# envelope, flags and text, one JSON line each.
texts() {
	python3 "$DATA/convert/mbsum.py" "$1" "$2" | tail -n +2 |
		python3 -c 'import json, sys
for l in sys.stdin:
    m = json.loads(l)
    print(json.dumps([m["from"], m["flags"], m["keywords"], m["text"]]))'
}
uids() { grep -a '^X-UID:' "$1" | sed 's/X-UID: //'; }
base() { grep -a -m1 '^X-IMAP\(base\)\?:' "$1" | awk '{print $2, $3 + 0}'; }

# repaired FORMAT FILE: no UID problem left, texts unchanged.
repaired() {
	mailbag check --strict --json "$2" >check.json &&
	! grep -q -e '"code":"[a-z-]*uid[a-z-]*"' -e '"code":"bad-ximap"' check.json &&
	test_grep '"status":"ok"' check.json &&
	texts "$1" "$2.orig" >texts.want && texts "$1" "$2" >texts.got &&
	test_cmp texts.want texts.got
}

test_expect_success 'command, usage and errors' '
	mailbag uid-rebuild --help >out &&
	test_grep "^usage: mailbag uid-rebuild" out &&
	test_expect_code 64 mailbag uid-rebuild 2>err &&
	test_grep "no mailbox given" err &&
	test_expect_code 66 mailbag uid-rebuild nosuchbox 2>err &&
	test_grep nosuchbox err &&
	mailbag --list-commands | grep -qx uid-rebuild &&
	ln -s "$MAILBAG" mailbag-uid-rebuild &&
	./mailbag-uid-rebuild --help | grep -q "^usage: mailbag uid-rebuild"
'

for fmt in unix mmdf; do
	test_expect_success "$fmt: consistent UIDs are left alone, byte for byte" "
		mkbox $fmt '1000 3' 1 2 3 >clean.$fmt && cp clean.$fmt clean.$fmt.orig &&
		touch -d '2001-01-01 00:00:00' clean.$fmt &&
		mailbag uid-rebuild clean.$fmt >out &&
		echo 'clean.$fmt: UIDs consistent, nothing to do' >want &&
		test_cmp want out &&
		cmp clean.$fmt clean.$fmt.orig &&
		test \"\$(stat -c %Y clean.$fmt)\" = \"\$(date -d '2001-01-01 00:00:00' +%s)\"
	"

	test_expect_success "$fmt: duplicate X-UIDs get a new UIDVALIDITY and 1..n" "
		mkbox $fmt '1000 3' 1 2 2 3 >dup.$fmt && cp dup.$fmt dup.$fmt.orig &&
		mailbag uid-rebuild dup.$fmt >out &&
		test_grep '^dup.$fmt: new uidvalidity [0-9]* (was 1000): 4 messages renumbered (duplicate UIDs)\$' out &&
		printf '1\n2\n3\n4\n' >want && uids dup.$fmt >got && test_cmp want got &&
		set -- \$(base dup.$fmt) && test \"\$1\" -gt 1000 && test \"\$2\" = 4 &&
		repaired $fmt dup.$fmt
	"

	test_expect_success "$fmt: X-UIDs out of order get a new UIDVALIDITY" "
		mkbox $fmt '1000 9' 1 5 3 9 >order.$fmt && cp order.$fmt order.$fmt.orig &&
		mailbag uid-rebuild order.$fmt >out &&
		test_grep '(was 1000): 4 messages renumbered (UIDs out of order)\$' out &&
		printf '1\n2\n3\n4\n' >want && uids order.$fmt >got && test_cmp want got &&
		repaired $fmt order.$fmt
	"

	test_expect_success "$fmt: an X-UID above the recorded last raises it, validity kept" "
		mkbox $fmt '1000 3' 1 2 7 >above.$fmt && cp above.$fmt above.$fmt.orig &&
		mailbag uid-rebuild above.$fmt >out &&
		test_grep '^above.$fmt: kept uidvalidity 1000, 3 UIDs kept, 0 assigned, next UID 8' out &&
		printf '1\n2\n7\n' >want && uids above.$fmt >got && test_cmp want got &&
		echo '1000 7' >want && base above.$fmt >got && test_cmp want got &&
		repaired $fmt above.$fmt
	"

	test_expect_success "$fmt: messages without X-UID are numbered, validity kept" "
		mkbox $fmt '1000 5' 2 4 5 - - >missing.$fmt && cp missing.$fmt missing.$fmt.orig &&
		mailbag uid-rebuild missing.$fmt >out &&
		test_grep '^missing.$fmt: kept uidvalidity 1000, 3 UIDs kept, 2 assigned, next UID 8' out &&
		printf '2\n4\n5\n6\n7\n' >want && uids missing.$fmt >got && test_cmp want got &&
		echo '1000 7' >want && base missing.$fmt >got && test_cmp want got &&
		repaired $fmt missing.$fmt
	"

	# Without X-IMAP/X-IMAPbase the old UIDVALIDITY is unknown, so the
	# X-UIDs cannot be vouched for: a new validity, UIDs 1..n.
	test_expect_success "$fmt: a lost pseudo-message means a new UIDVALIDITY" "
		mkbox $fmt '' 4 5 6 >lost.$fmt && cp lost.$fmt lost.$fmt.orig &&
		mailbag uid-rebuild lost.$fmt >out &&
		test_grep '(was none): 3 messages renumbered (no UIDVALIDITY recorded)\$' out &&
		printf '1\n2\n3\n' >want && uids lost.$fmt >got && test_cmp want got &&
		set -- \$(base lost.$fmt) && test \"\$2\" = 3 &&
		repaired $fmt lost.$fmt
	"

	test_expect_success "$fmt: a pseudo-message keeps its place" "
		mailbag convert --to $fmt clean.$fmt pseudo.$fmt &&
		grep -q 'FOLDER INTERNAL DATA' pseudo.$fmt &&
		sed -i 's/^X-UID: 3\$/X-UID: 2/' pseudo.$fmt && cp pseudo.$fmt pseudo.$fmt.orig &&
		mailbag uid-rebuild pseudo.$fmt >out &&
		test_grep 'renumbered (duplicate UIDs)' out &&
		grep -q 'FOLDER INTERNAL DATA' pseudo.$fmt &&
		! grep -q '^X-IMAPbase' pseudo.$fmt &&
		printf '1\n2\n3\n' >want && uids pseudo.$fmt >got && test_cmp want got &&
		repaired $fmt pseudo.$fmt
	"

	test_expect_success "$fmt: --new-uidvalidity renumbers a clean mailbox" "
		mkbox $fmt '1000 9' 3 5 9 >force.$fmt && cp force.$fmt force.$fmt.orig &&
		mailbag uid-rebuild --new-uidvalidity force.$fmt >out &&
		test_grep '(was 1000): 3 messages renumbered (forced)\$' out &&
		printf '1\n2\n3\n' >want && uids force.$fmt >got && test_cmp want got &&
		set -- \$(base force.$fmt) && test \"\$1\" -gt 1000 &&
		repaired $fmt force.$fmt
	"

	test_expect_success "$fmt: -n reports and changes nothing" "
		mkbox $fmt '1000 3' 1 2 2 >dry.$fmt && cp dry.$fmt dry.$fmt.orig &&
		mailbag uid-rebuild -n dry.$fmt >out &&
		test_grep '^dry.$fmt: would set new uidvalidity [0-9]* (was 1000): 3 messages renumbered' out &&
		cmp dry.$fmt dry.$fmt.orig &&
		mailbag uid-rebuild --dry-run --new-uidvalidity clean.$fmt >out &&
		test_grep 'would set new uidvalidity' out &&
		cmp clean.$fmt clean.$fmt.orig
	"
done

# The driver numbers a message with a malformed X-UID above the last UID,
# as UW does, so the next stored UID goes backwards.
test_expect_success 'a malformed X-UID between numbered ones: renumber' '
	# (mbsum.py cannot read the bad X-UID: compare with the good box)
	mkbox unix "1000 3" 1 2 3 >hole.orig &&
	sed "0,/^X-UID: 2/s//X-UID: two/" hole.orig >hole &&
	mailbag uid-rebuild hole >out &&
	test_grep "(was 1000): 3 messages renumbered (UIDs out of order)" out &&
	repaired unix hole
'

test_expect_success 'a malformed X-UID in the last message: a new UID, validity kept' '
	mkbox unix "1000 3" 1 2 3 >tailbad.orig &&
	sed "s/^X-UID: 3/X-UID: 3x/" tailbad.orig >tailbad &&
	mailbag uid-rebuild tailbad >out &&
	test_grep "^tailbad: kept uidvalidity 1000, 2 UIDs kept, 1 assigned, next UID 5" out &&
	printf "1\n2\n4\n" >want && uids tailbad >got && test_cmp want got &&
	repaired unix tailbad
'

test_expect_success 'an MTA mailbox gets its first UIDs' '
	mkbox unix "" - - >mta && cp mta mta.orig &&
	mailbag uid-rebuild mta >out &&
	test_grep "^mta: new uidvalidity [0-9]* (was none): 2 messages renumbered" out &&
	printf "1\n2\n" >want && uids mta >got && test_cmp want got &&
	repaired unix mta
'

test_expect_success 'an empty file is left alone' '
	: >empty &&
	mailbag uid-rebuild empty >out &&
	test_grep "nothing to do" out &&
	test_must_be_empty empty
'

test_expect_success '--json: one valid object per mailbox' '
	mkbox unix "1000 3" 1 1 >j1 && mkbox unix "1000 3" 1 2 3 >j2 &&
	mkbox unix "1000 3" 1 2 3 - >j3 &&
	mailbag uid-rebuild --json j1 j2 j3 >out.json &&
	python3 -c "
import json, sys
r = [json.loads(l) for l in open(\"out.json\")]
assert len(r) == 3, r
assert all(x[\"type\"] == \"uid-rebuild\" for x in r)
a, b, c = r
assert a[\"path\"] == \"j1\" and a[\"format\"] == \"unix\" and a[\"renumbered\"]
assert a[\"uidvalidity_old\"] == 1000 and a[\"uidvalidity\"] > 1000
assert a[\"kept\"] == 0 and a[\"assigned\"] == 2 and a[\"reason\"] == \"duplicate UIDs\"
assert not b[\"renumbered\"] and not b[\"changed\"] and b[\"kept\"] == 3
assert b[\"reason\"] == \"consistent\" and b[\"uidvalidity\"] == 1000
assert not c[\"renumbered\"] and c[\"changed\"] and c[\"kept\"] == 3
assert c[\"assigned\"] == 1 and c[\"uidvalidity\"] == c[\"uidvalidity_old\"] == 1000
"
'

test_expect_success 'damage beyond the UIDs: exit 65, nothing written' '
	{ printf "garbage line\n"; mkbox unix "1000 3" 1 1; } >bad && cp bad bad.orig &&
	test_expect_code 65 mailbag uid-rebuild bad >out 2>err &&
	test_grep "damaged beyond its UIDs" err &&
	cmp bad bad.orig
'

test_expect_success 'several mailboxes: the first failure decides the status' '
	mkbox unix "1000 3" 1 1 >m1 &&
	test_expect_code 66 mailbag uid-rebuild nosuch m1 >out 2>err &&
	test_grep "^m1: new uidvalidity" out
'

# UW's own view of what we wrote.
. "$TESTS_DIR/t/uw.sh"
uw_setup

for fmt in unix mmdf; do
	for b in dup order above missing lost pseudo force; do
		test_expect_success "$fmt: UW opens the repaired $b mailbox without renumbering" "
			uw_put $b.$fmt box.$b.$fmt &&
			uw_run mailutil -verbose prune box.$b.$fmt 'subject nosuchxyz' >uw.out 2>&1;
			! grep -q 'Assigning new' uw.out &&
			! grep -q 'less than' uw.out &&
			! grep -q 'already has UID' uw.out &&
			uw_get box.$b.$fmt back &&
			uids $b.$fmt >want && uids back >got && test_cmp want got &&
			base $b.$fmt >want && base back >got && test_cmp want got
		"
	done
done

test_expect_success 'mbx: UIDs written down, then --new-uidvalidity renumbers' '
	printf "From a@b Wed Dec  2 05:53:22 1992\nSubject: a\n\nx\n\nFrom a@b Wed Dec  2 05:53:22 1992\nSubject: b\n\ny\n" >plain &&
	mailbag convert --to mbx --set uw-metadata=yes plain box.mbx &&
	mailbag check box.mbx >before &&
	v=$(sed -n "s/.*uidvalidity \([0-9]*\),.*/\1/p" before) &&
	mailbag uid-rebuild --new-uidvalidity box.mbx >out &&
	test_grep "new uidvalidity" out &&
	mailbag check --json box.mbx >after.json &&
	python3 -c "
import json
m = [json.loads(l) for l in open(\"after.json\") if \"\\\"mailbox\\\"\" in l][0]
assert m[\"uidvalidity\"] > $v and m[\"uidnext\"] == 3 and m[\"status\"] == \"ok\", m
" &&
	mailbag uid-rebuild box.mbx >again &&
	test_grep "consistent, nothing to do" again
'

test_done

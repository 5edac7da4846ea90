#!/bin/bash
test_description='copy, move and prune select messages by IMAP SEARCH criteria and PCRE2 regexes, as mailutil prune does'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root: runs UW's mailutil as a throwaway user"
export LC_ALL=C.UTF-8
uw_setup
H=$UW_HOME
UWF="unix mmdf mbx mix mtx tenex"

mb() { local c=$1; shift; uw_run "$MAILBAG" "$c" --set lock-timeout=2 "$@"; }
mu() { uw_run mailutil "$@"; }
put() {
	rm -rf "$H/$2" && mkdir -p "$(dirname "$H/$2")" &&
		cp -r -- "$1" "$H/$2" || return 1
	[ -n "$UW_SELF" ] || chown -R "$UW_USER:$UW_GROUP" "$H"
}
dump() { "$HELPER/mbtool" dump "$1" | sed 's/^uidvalidity=[0-9]* //'; }
# ids BOX: the Message-IDs of BOX on one line, via a unix copy.
ids() {
	rm -f "$TRASH/.ids" &&
		mailbag convert -q "$1" "$TRASH/.ids" &&
		tr -d '\r' <"$TRASH/.ids" |
		sed -n 's/^Message-ID: <\(.*\)@t>$/\1/p' | tr '\n' ' ' |
			sed 's/ $//'
}

test_expect_success 'setup: a source mailbox in every format' '
	cat >src.unix <<-\EOF &&
	From alice@example.com Mon Jan  1 10:00:00 2024
	Message-ID: <m1@t>
	From: Alice <alice@example.com>
	Subject: one
	Date: Mon, 1 Jan 2024 10:00:00 +0000
	Status: RO

	first
	>From the quoted line

	From bob@example.com Tue Jan  2 11:00:00 2024
	Message-ID: <m2@t>
	From: Bob <bob@example.com>
	To: alice@example.com
	Subject: =?UTF-8?Q?caf=C3=A9_menu?=
	Date: Tue, 2 Jan 2024 11:00:00 +0000

	second, with a longer body so that it is the largest message of all
	of them by a good margin: lorem ipsum dolor sit amet, consectetur.

	From carol@example.com Wed Jan  3 12:00:00 2024
	Message-ID: <m3@t>
	From: carol@example.com
	Subject: three
	Date: Wed, 3 Jan 2024 12:00:00 +0000
	Status: RO
	X-Status: F

	third

	From dave@example.com Thu Jan  4 13:00:00 2024
	Message-ID: <m4@t>
	From: dave@example.com
	Cc: bob@example.com
	Subject: four
	Date: Thu, 4 Jan 2024 13:00:00 +0000
	Status: O
	X-Status: A

	fourth

	From erin@example.com Fri Jan  5 14:00:00 2024
	Message-ID: <m5@t>
	From: erin@example.com
	Subject: five
	Date: Fri, 5 Jan 2024 14:00:00 +0000
	Status: O
	X-Status: T

	fifth
	EOF
	for f in $UWF; do
		test $f = unix || mailbag convert -q --to $f src.unix src.$f ||
			return 1
	done
'

# mailutil prune takes its criteria as one argument; mailbag takes the
# words (one argument works too).  Each criterion prunes the same
# messages in every format, and leaves the same mailbox behind.
while IFS='|' read -r want crit; do
	test_expect_success "prune '$crit': as mailutil prune" '
		for f in $UWF; do
			put src.$f up.$f && put src.$f mp.$f &&
			{ mu prune up.$f "$crit" >uout 2>&1; test $? = 1; } &&
			mb prune -q mp.$f $crit &&
			dump "$H/up.$f" >exp && dump "$H/mp.$f" >act &&
			test_cmp exp act &&
			test "$(ids "$H/mp.$f")" = "$want" || {
				echo "$f: $(ids "$H/mp.$f"), want $want"
				cat uout; return 1; }
		done
	'
done <<'EOF'
m1 m2 m4 m5|FLAGGED
m1 m2 m3 m5|FROM dave
m1 m3 m4 m5|FROM bob
m1 m2 m3 m5|CC bob
m1 m3|SUBJECT f
m1 m3 m4 m5|SUBJECT café
m3 m4 m5|BEFORE 3-Jan-2024
m1 m2 m3|SINCE 4-Jan-2024
m1 m2 m4 m5|ON 3-Jan-2024
m1 m2 m4 m5|SENTON 3-Jan-2024
m4 m5|SENTBEFORE 4-Jan-2024
m1 m2 m3|SENTSINCE 4-Jan-2024
m1 m3|UNSEEN
m2 m4 m5|SEEN
m1 m3 m4 m5|BODY lorem
m2 m3 m4 m5|TEXT quoted
m1 m3 m4 m5|LARGER 200
m2|SMALLER 200
m1 m2 m3 m4|UNSEEN SUBJECT fi
m1 m2 m3 m4|DRAFT
m1 m2 m3 m5|ANSWERED
m1 m3 m4 m5|TO alice
|ALL
EOF

test_expect_success 'prune: IMAP keys mailutil lacks: OR, NOT, lists, sets, UID' '
	put src.mbx p1.mbx &&
	mb prune -q p1.mbx OR FLAGGED ANSWERED &&
	test "$(ids "$H/p1.mbx")" = "m1 m2 m5" &&
	put src.mbx p2.mbx &&
	mb prune -q p2.mbx "(OR FLAGGED ANSWERED)" NOT 4 &&
	test "$(ids "$H/p2.mbx")" = "m1 m2 m4 m5" &&
	put src.mbx p3.mbx &&
	mb prune -q p3.mbx 2:4 UNFLAGGED &&
	test "$(ids "$H/p3.mbx")" = "m1 m3 m5" &&
	put src.mbx p4.mbx &&
	mb prune -q --uid p4.mbx "1,5" SEEN &&
	test "$(ids "$H/p4.mbx")" = "m2 m3 m4 m5" &&
	put src.mbx p5.mbx &&
	mb prune -q p5.mbx NOT SUBJECT "café menu" &&
	test "$(ids "$H/p5.mbx")" = "m2"
'

test_expect_success 'prune: --match and --body-match (PCRE2), alone or with criteria' '
	put src.mbx r1.mbx &&
	mb prune -q --match "subject:^f(our|ive)$" r1.mbx &&
	test "$(ids "$H/r1.mbx")" = "m1 m2 m3" &&
	put src.mbx r2.mbx &&
	mb prune -q --body-match "^(first|third)$" r2.mbx &&
	test "$(ids "$H/r2.mbx")" = "m2 m4 m5" &&
	put src.mbx r3.mbx &&
	mb prune -q --match "from:@example\\.com" --body-match "^f" r3.mbx SEEN &&
	test "$(ids "$H/r3.mbx")" = "m2 m3 m4 m5" &&
	put src.mbx r4.mbx &&
	mb prune -q --match "subject:^CAFÉ" r4.mbx &&
	test "$(ids "$H/r4.mbx")" = "m1 m2 m3 m4 m5" &&
	mb prune -q --match "subject:(?i)^CAFÉ" r4.mbx &&
	test "$(ids "$H/r4.mbx")" = "m1 m3 m4 m5"
'

test_expect_success 'prune: -n and --json report the match; bad criteria change nothing' '
	put src.mbx pj.mbx &&
	mb prune -n pj.mbx SUBJECT f >out &&
	test_grep "would prune 3 of 5" out &&
	mb prune --json pj.mbx SUBJECT f NOT TO alice >out &&
	test_grep "\"selected\":2,\"expunged\":2" out &&
	test "$(ids "$H/pj.mbx")" = "m1 m2 m3" &&
	mb prune pj.mbx SUBJECT nomatch >out &&
	test_grep "nothing pruned" out &&
	cp "$H/pj.mbx" before &&
	{ mb prune pj.mbx BOGUS 2>err; test $? = 64; } &&
	test_grep "unknown search key .BOGUS." err &&
	{ mb prune pj.mbx SINCE 32-Jan-2024 2>err; test $? = 64; } &&
	test_grep "bad date" err &&
	{ mb prune pj.mbx "(SEEN" 2>err; test $? = 64; } &&
	{ mb prune --match "subject:(" pj.mbx 2>err; test $? = 64; } &&
	test_grep "bad regular expression" err &&
	{ mb prune --match "nocolon" pj.mbx 2>err; test $? = 64; } &&
	{ mb prune --uid pj.mbx SEEN 2>err; test $? = 64; } &&
	{ mb prune pj.mbx 2>err; test $? = 64; } &&
	cmp before "$H/pj.mbx"
'

test_expect_success 'copy: criteria select the messages, in every format' '
	for f in $UWF; do
		put src.$f c.$f &&
		mb copy -q c.$f "#driver.$f/cs/$f" SENTSINCE 4-Jan-2024 &&
		test "$(ids "$H/cs/$f")" = "m4 m5" &&
		mb copy -q --existing c.$f "cs/$f" OR FROM alice BODY lorem &&
		test "$(ids "$H/cs/$f")" = "m4 m5 m1 m2" &&
		mb copy -q c.$f "cs/$f.b" --body-match "^th" &&
		test "$(ids "$H/cs/$f.b")" = "m3" &&
		dump "$TRASH/src.$f" >exp && dump "$H/c.$f" >act &&
		test_cmp exp act || return 1
	done
'

test_expect_success 'copy: flags and dates kept as without criteria; mailutil reads the result' '
	put src.mbx ck.mbx &&
	mb copy -q ck.mbx all.mbx &&
	mb copy -q ck.mbx sel.mbx NOT 0:0 2>/dev/null ||
	mb copy -q ck.mbx sel.mbx NOT SUBJECT nosuch &&
	dump "$H/all.mbx" >exp && dump "$H/sel.mbx" >act &&
	test_cmp exp act &&
	mu check sel.mbx >out 2>&1 && test_grep "5 total" out
'

test_expect_success 'move: only the matching messages leave SRC' '
	for f in $UWF; do
		put src.$f mv.$f &&
		mb move -q mv.$f "#driver.$f/mvd.$f" SINCE 3-Jan-2024 UNFLAGGED &&
		test "$(ids "$H/mvd.$f")" = "m4 m5" &&
		test "$(ids "$H/mv.$f")" = "m1 m2 m3" &&
		mb move -q --uid mv.$f "mvd.$f" "1:*" --match "from:^(Bob|carol)" &&
		test "$(ids "$H/mvd.$f")" = "m4 m5 m2 m3" &&
		test "$(ids "$H/mv.$f")" = "m1" ||
			return 1
	done &&
	mu check mv.mbx >out 2>&1 && test_grep "1 total" out
'

test_expect_success 'move/copy: -n, --json; bad criteria 64 and nothing done' '
	put src.mbx mj.mbx &&
	mb move -n mj.mbx mjd SMALLER 200 >out &&
	test_grep "would move 4 of 5" out && test ! -e "$H/mjd" &&
	mb copy --json mj.mbx mjd FROM carol >out &&
	test_grep "\"selected\":1,\"copied\":1" out &&
	{ mb move mj.mbx mjd2 FROM 2>err; test $? = 64; } &&
	test_grep "missing string after .FROM." err &&
	{ mb copy --uid mj.mbx mjd2 2>err; test $? = 64; } &&
	test ! -e "$H/mjd2" &&
	dump "$TRASH/src.mbx" >exp && dump "$H/mj.mbx" >act && test_cmp exp act
'

test_done

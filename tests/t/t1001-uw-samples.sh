#!/bin/bash
test_description='byte-exact files written by the UW programs (tests/data/uw)'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"
uw_setup
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"

parse() { python3 "$TESTS_DIR/t/mbparse.py" "$1"; }

# expected FILE: "COUNT VALIDITY UIDNEXT" from FILE's own headers: the
# messages are the valid From lines (unix) or delimiter pairs (mmdf), less the
# FOLDER INTERNAL DATA one; validity and last UID come from X-IMAP or
# X-IMAPbase; UW gives messages without X-UID the UIDs after the last.
expected() {
	local f=$1 n base validity last nouid
	case $f in
	*.mmdf) n=$(($(grep -c "^$(printf '\001\001\001\001')\$" "$f") / 2)) ;;
	*) n=$(grep -c -E "^From .* [A-Za-z]{3} [A-Za-z]{3} [ 0-9][0-9] [0-9]{2}:[0-9]{2}(:[0-9]{2})? " "$f") ;;
	esac
	n=$((n - $(grep -c "^X-IMAP: " "$f")))
	base=$(sed -n 's/^X-IMAP\(base\)\{0,1\}: \([0-9]*\) \([0-9]*\).*/\2 \3/p' "$f" | head -n 1)
	validity=$(echo "$base" | sed 's/ .*//; s/^0*\([0-9]\)/\1/')
	last=$(echo "$base" | sed 's/.* //; s/^0*\([0-9]\)/\1/')
	nouid=$((n - $(grep -c "^X-UID: " "$f")))
	echo "$n $validity $((last + nouid + 1))"
}

samples="unix-new-empty.mbox unix-after-append-before-rewrite.mbox
	unix-after-rewrite-pseudo-xIMAP.mbox unix-rewritten-xIMAPbase.mbox
	unix-bogus-headers-after-rewrite.mbox unix-uid-backwards-after-rewrite.mbox
	mmdf-after-append.mmdf tmail-spool-delivery.mbox tmail-spool-xoriginal.mbox"

test_expect_success 'the samples are there' '
	for f in $samples; do test -s "$DATA/uw/$f" || return 1; done &&
	for f in $samples; do cp "$DATA/uw/$f" . || return 1; done
'

for f in $samples; do
	case $f in *.mmdf) fmt=mmdf other=unix ;; *) fmt=unix other=mmdf ;; esac

	test_expect_success "$f: count, uidvalidity and uidnext" '
		expected $f >exp &&
		cat exp &&
		test "$(cut -d" " -f2 exp)" -gt 0 &&
		mb_json $f format messages uidvalidity uidnext | tr "\n" " " >got &&
		echo "$fmt $(cat exp) " >exp2 &&
		echo >>got &&
		test_cmp exp2 got
	'

	test_expect_success "$f: flags, keywords, UIDs as UW reads them" '
		parse $f >$f.uw &&
		sed -n "1s/^box //p" $f.uw >a &&
		cut -d" " -f2,3 exp >b &&
		test_cmp b a
	'

	# the expectation itself, checked against UW: after a read/write
	# open, UW keeps the validity and its last UID is UIDNEXT - 1
	test_expect_success "$f: UW agrees with the expected values" '
		uw_put $f raw &&
		uw_run mailutil -verbose prune raw "subject nosuchsubjectxyz" >uw.out 2>&1;
		cat uw.out &&
		test_grep ! "Assigning new" uw.out &&
		uw_get raw raw.after &&
		sed -n "s/^X-IMAP\(base\)\{0,1\}: \([0-9]*\) \([0-9]*\).*/\2 \3/p" raw.after |
			head -n 1 >vl &&
		test "$(sed "s/ .*//" vl)" = "$(cut -d" " -f2 exp)" &&
		test "$(($(sed "s/.* //; s/^0*\([0-9]\)/\1/" vl) + 1))" = "$(cut -d" " -f3 exp)"
	'

	for to in $fmt $other; do
		test_expect_success "$f: converted to $to keeps count, flags, keywords, UIDs" '
			rm -f $f.$to &&
			mailbag convert --to=$to $f $f.$to &&
			mailbag check $f.$to &&
			mb_json $f.$to format messages uidvalidity uidnext | tr "\n" " " >got &&
			echo "$to $(cat exp) " >exp2 &&
			echo >>got &&
			test_cmp exp2 got &&
			parse $f.$to >$f.$to.p &&
			cut -f2- $f.uw >a &&
			cut -f2- $f.$to.p >b &&
			test_cmp a b &&
			sed 1d $f.$to.p | cut -f1 >xuid &&
			sed 1d $f.$to.p | cut -f2 >uid &&
			test_cmp uid xuid
		'

		test_expect_success "$f: mailutil check agrees on the conversion to $to" '
			uw_put $f.$to conv.$to &&
			uw_run mailutil check conv.$to >uw.out 2>&1 &&
			cat uw.out &&
			total=$(sed -n "s/.*[ ,] \([0-9]*\) total in .*/\1/p" uw.out) &&
			test "$total" = "$(cut -d" " -f1 exp)"
		'
	done
done

test_done

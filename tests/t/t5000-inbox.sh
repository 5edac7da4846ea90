#!/bin/bash
test_description='INBOX resolution in UW order, agreeing with UW mailutil'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root to make a throwaway user"
SPOOL=/var/mail
[ -d /var/mail ] || SPOOL=/var/spool/mail
uw_setup
U=$UW_USER
H=$UW_HOME
cleanup_spool() { rm -f "$SPOOL/$U" "$SPOOL/$U.lock"; }
test_atexit cleanup_spool

# which: the file mailbag takes for INBOX, as the user
which() { uw_run "$MAILBAG" check INBOX 2>&1 | sed -n "s/^\([^:]*\): .*/\1/p" | head -n 1; }

# agree N FILE: UW and mailbag both see N messages in INBOX, mailbag in FILE
agree() {
	uw_run mailutil check INBOX >uw.out 2>&1; cat uw.out
	w=$(which); echo "mailbag: $w"
	test "$(uw_count uw.out)" = "$1" && test "$w" = "$2" &&
	uw_run "$MAILBAG" check INBOX >mb.out 2>&1 &&
	grep -q ", $1 messages" mb.out
}

put_spool() {
	cp "$1" "$SPOOL/$U" && chown "$U:mail" "$SPOOL/$U" && chmod 600 "$SPOOL/$U"
}

test_expect_success 'setup: mailboxes of 2, 3 and 4 messages' '
	"$HELPER/gen-mbox" --seed 1 --count 2 -o two &&
	"$HELPER/gen-mbox" --seed 2 --count 3 -o three &&
	"$HELPER/gen-mbox" --seed 3 --count 4 -o four &&
	"$HELPER/gen-mbox" --seed 3 --count 4 --format mmdf -o four.mmdf &&
	"$MAILBAG" convert -q --to=mbx three three.mbx
'

test_expect_success 'only the spool file: INBOX is the spool' '
	put_spool four && agree 4 "$SPOOL/$U"
'

test_expect_success 'an MMDF spool file' '
	put_spool four.mmdf && agree 4 "$SPOOL/$U"
'

test_expect_success 'a UNIX ~/mbox wins over the spool file (spool empty)' '
	: >"$SPOOL/$U" && uw_put two mbox && agree 2 "$H/mbox"
'

test_expect_success 'an empty ~/mbox counts too' '
	: >"$SPOOL/$U" && rm -f "$H/mbox" && uw_put /dev/null mbox &&
	agree 0 "$H/mbox"
'

test_expect_success 'an mbx ~/INBOX when there is no ~/mbox' '
	rm -f "$H/mbox" && put_spool four && uw_put three.mbx INBOX &&
	agree 3 "$H/INBOX"
'

test_expect_success '~/mbox goes before an mbx ~/INBOX' '
	: >"$SPOOL/$U" && uw_put two mbox && agree 2 "$H/mbox"
'

test_expect_success 'an ~/mbox not in UNIX format is no INBOX: the mbx ~/INBOX is' '
	rm -f "$H/mbox" && uw_put three.mbx mbox && put_spool four &&
	agree 3 "$H/INBOX"
'

test_expect_success 'a ~/mbox with an MMDF spool is passed over for the spool' '
	rm -f "$H/mbox" "$H/INBOX" && uw_put two mbox && put_spool four.mmdf &&
	agree 4 "$SPOOL/$U"
'

test_expect_success 'a UNIX ~/INBOX is not INBOX: the spool is' '
	rm -f "$H/mbox" && uw_put three INBOX && put_spool four &&
	agree 4 "$SPOOL/$U"
'

test_expect_success 'spool-directory setting overrides the spool location' '
	rm -f "$H/INBOX" && mkdir -p "$H/sp" && cp two "$H/sp/$U" &&
	chown -R "$U" "$H/sp" &&
	uw_run "$MAILBAG" check --set spool-directory="$H/sp" INBOX >out 2>&1 &&
	cat out && grep -q "^$H/sp/$U: unix, 2 messages" out
'

test_expect_success '#driver.mbx/INBOX creates an mbx ~/INBOX, which UW then takes' '
	rm -f "$H/INBOX" "$H/mbox" && put_spool four &&
	uw_put three three && uw_run "$MAILBAG" convert -q three "#driver.mbx/INBOX" &&
	test "$("$MAILBAG" check "$H/INBOX" | sed -n "s/^[^:]*: \([a-z]*\),.*/\1/p")" = mbx &&
	agree 3 "$H/INBOX"
'

test_done

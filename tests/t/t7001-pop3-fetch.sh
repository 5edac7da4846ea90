#!/usr/bin/env bash
test_description='POP3: mailbag fetch from a real Dovecot (STLS, POP3S, USER/PASS,
APOP, SASL), UIDL state, --delete only after the messages are stored,
interrupted runs'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/dovecot.sh"
dc_setup
# the crash runs preload crashinject.so ahead of a sanitizer build's libasan
if nm "$MAILBAG" 2>/dev/null | grep -q __asan_init; then
	export ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0
fi

printf '%s\n' "$DC_PASS" >pw
U=$DC_LOGIN
POP="{127.0.0.1:$DC_POP3/pop3/user=$U}"
POPS="{127.0.0.1:$DC_POP3S/pop3/ssl/user=$U}"
POPN="{127.0.0.1:$DC_POP3/pop3/notls/user=$U}"
F="--ca-file $DC_CA --password-file pw --timeout 10"
export MAILBAG_CONF=/dev/null

msg() {
	printf 'From: sender%s@example.org\nSubject: message %s\nMessage-ID: <%s@mailbag.test>\n\nbody of %s\n.\n..two dots\nFrom the body\n' \
		"$1" "$1" "$1" "$1"
}
# deliver, ids and exactly: tests/t/dovecot.sh

test_expect_success 'fetch over STLS into MH, byte for byte (dot-stuffing undone)' '
	deliver 1 2 3 &&
	mailbag fetch $F -f mh "${POP}INBOX" md >log &&
	grep "fetched 3 messages" log &&
	for i in 1 2 3; do
		grep -l "^Message-ID: <$i@" md/[0-9]* >f.$i &&
		test_cmp m.$i "$(cat f.$i)" || return 1
	done &&
	grep "pop3-login: Info: Login: user=<$U>, method=PLAIN.*TLS" "$DC_DIR/dovecot.log"
'

test_expect_success 'the UIDL state: a rerun fetches only new mail' '
	grep "^mailbag-fetch 1$" .md.mbfetch &&
	test "$(grep -c "^D [0-9a-fA-F]\{16\}$" .md.mbfetch)" = 3 &&
	mailbag fetch $F "${POP}" md >log &&
	grep "fetched 0 messages.*3 already" log &&
	deliver 4 &&
	mailbag fetch $F "${POP}INBOX" md >log &&
	grep "fetched 1 messages.*3 already" log &&
	exactly 4 md/[0-9]* &&
	test "$(dc_count)" = 4
'

test_expect_success 'POP3S into mbox; --json' '
	mailbag fetch $F --json "${POPS}INBOX" s.mbox >json &&
	grep "\"fetched\":4" json && exactly 4 s.mbox &&
	mailbag check s.mbox
'

test_expect_success 'no TLS: USER/PASS refused (77), APOP and CRAM-MD5 keep the password off the wire' '
	test_expect_code 77 mailbag fetch $F --auth user "${POPN}INBOX" pt.mbox 2>err &&
	grep "refusing to send the password in clear" err &&
	! test -e pt.mbox &&
	mailbag fetch $F --auth apop -q "${POPN}INBOX" apop.mbox &&
	exactly 4 apop.mbox &&
	grep "method=APOP" "$DC_DIR/dovecot.log" &&
	mailbag fetch $F -q "${POPN}INBOX" cram.mbox &&
	exactly 4 cram.mbox &&
	grep "pop3-login.*method=CRAM-MD5" "$DC_DIR/dovecot.log"
'

test_expect_success 'USER/PASS in clear only with --allow-plaintext' '
	mailbag fetch $F --auth user --allow-plaintext -q "${POPN}INBOX" user.mbox &&
	exactly 4 user.mbox &&
	grep "pop3-login: Info: Login: user=<$U>, method=PLAIN" "$DC_DIR/dovecot.log" | grep -v TLS
'

# Dovecot logs each POP3 session's TOP and RETR counts at logout
# ("top=N/BYTES, retr=N/BYTES"): the last session's are checked.
last_counts() {
	grep "pop3($U).*Logged out" "$DC_DIR/dovecot.log" | tail -n 1 |
		sed -n "s/.*top=\([0-9]*\)\/[0-9]*, retr=\([0-9]*\)\/[0-9]*.*/top=\1 retr=\2/p"
}
S="--set ca-file=$DC_CA --set password-file=pw"

test_expect_success 'search over POP3: header keys read headers by TOP only' '
	mailbag search $S "${POP}INBOX" SUBJECT "message 3" >out &&
	test "$(cat out)" = 3 &&
	test "$(last_counts)" = "top=4 retr=0" &&
	# the matches are then read whole for --mbox (RETR, pipelined
	# from the first match on: 2, 3, 4)
	mailbag search $S --mbox "${POP}INBOX" OR FROM sender2 FROM sender4 >out.mbox &&
	test "$(last_counts)" = "top=4 retr=3" &&
	test "$(grep -c "^Message-ID: <[24]@mailbag.test>" out.mbox)" = 2 &&
	grep -q "^body of 4" out.mbox &&
	mailbag search $S "${POP}INBOX" NOT HEADER Message-ID "3@" >out &&
	test "$(echo $(cat out))" = "1 2 4" &&
	test "$(last_counts)" = "top=4 retr=0"
'

test_expect_success 'search over POP3: body keys and sizes read whole messages (RETR)' '
	mailbag search $S "${POP}INBOX" BODY "body of 2" >out &&
	test "$(cat out)" = 2 &&
	test "$(last_counts)" = "top=0 retr=4" &&
	mailbag search $S "${POP}INBOX" SUBJECT message LARGER 10 >out &&
	test "$(echo $(cat out))" = "1 2 3 4" &&
	test "$(last_counts)" = "top=0 retr=4"
'

test_expect_success 'a wrong password is permanent (77); /tls with STLS works' '
	echo nope >bad &&
	test_expect_code 77 mailbag fetch --ca-file "$DC_CA" --password-file bad "${POP}INBOX" bad.mbox 2>err &&
	grep "refused" err &&
	mailbag fetch $F -q "{127.0.0.1:$DC_POP3/pop3/tls/user=$U}INBOX" tls.mbox &&
	exactly 4 tls.mbox
'

test_expect_success 'a wrong host name fails verification (76)' '
	test_expect_code 76 mailbag fetch $F "{localhost:$DC_POP3S/pop3/ssl/user=$U}INBOX" x.mbox 2>err &&
	grep "hostname mismatch" err
'

test_expect_success 'a POP3 server has only INBOX' '
	test_expect_code 66 mailbag fetch $F "${POP}Other" x.mbox 2>err &&
	grep "only INBOX" err
'

test_expect_success '--delete: DELE and QUIT only after the messages are stored' '
	mailbag fetch $F --delete "${POP}INBOX" del.mbox >log &&
	grep "fetched 4 messages.*4 deleted" log &&
	test "$(dc_count)" = 0 &&
	exactly 4 del.mbox
'

test_expect_success 'killed at any point with --delete: nothing lost, nothing twice' '
	deliver $(seq 5 16) &&
	CRASH_COUNT=1 CRASH_COUNT_FILE=$TRASH/count \
		LD_PRELOAD=$MAILBAG_BUILD/tests/helper/crashinject.so \
		"$MAILBAG" fetch $F -q --allow-plaintext --batch 5 "${POPN}INBOX" probe.mbox &&
	total=$(cat count) && test "$total" -gt 10 &&
	step=$(( total / 15 + 1 )) &&
	for at in $(seq 1 $step "$total"); do
		dc_doveadm expunge -u $U mailbox INBOX all &&
		deliver $(seq 5 16) &&
		rm -f k.mbox .k.mbox.mbfetch &&
		{ CRASH_AT=$at LD_PRELOAD=$MAILBAG_BUILD/tests/helper/crashinject.so \
			"$MAILBAG" fetch $F -q --allow-plaintext --delete --batch 5 "${POPN}INBOX" k.mbox 2>/dev/null
		  test $? = 137 || return 1; } &&
		rm -f k.mbox.lock &&
		left=$(dc_count) &&
		"$MAILBAG" fetch $F -q --allow-plaintext "${POPN}INBOX" k.mbox &&
		ids k.mbox | sed "s/[^0-9]*\([0-9]*\).*/\1/" | sort -n >have &&
		test "$(uniq -d have)" = "" &&
		test "$(wc -l <have)" = 12 &&
		test "$(head -1 have)" = 5 && test "$(tail -1 have)" = 16 &&
		test "$left" -le 12 || { echo "crash at $at of $total"; return 1; }
	done
'

test_done

#!/usr/bin/env bash
test_description='IMAP: {host}MAILBOX names, TLS and logins against a real
Dovecot, mailbag fetch (incremental, interrupted, --delete, --all-folders),
APPEND through convert, failures and their exit codes'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/dovecot.sh"
dc_setup
# the crash runs preload crashinject.so ahead of a sanitizer build's libasan
if nm "$MAILBAG" 2>/dev/null | grep -q __asan_init; then
	export ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0
fi

NETFAULT=$TESTS_DIR/helper/netfault.py
printf '%s\n' "$DC_PASS" >pw
U=$DC_LOGIN
IMAP="{127.0.0.1:$DC_IMAP/user=$U}"
IMAPS="{127.0.0.1:$DC_IMAPS/ssl/user=$U}"
# settings for the commands that take no options for them (convert, mbtool)
cat >conf <<EOF
ca-file = $DC_CA
password-file = $TRASH/pw
net-timeout = 10
EOF
export MAILBAG_CONF=$TRASH/conf
F="--ca-file $DC_CA --password-file pw --timeout 10"

# msg N: a message with a unique Message-ID
msg() {
	printf 'From: sender%s@example.org\nTo: %s@example.org\nSubject: message %s\nMessage-ID: <%s@mailbag.test>\n\nbody of %s\nFrom the body, a line to quote\n' \
		"$1" "$U" "$1" "$1" "$1"
}
# deliver, ids and exactly: tests/t/dovecot.sh

test_expect_success 'fetch over STARTTLS, verified against the test CA' '
	deliver 1 2 3 &&
	mailbag fetch $F "${IMAP}INBOX" out.mbox >log &&
	grep "fetched 3 messages" log &&
	exactly 3 out.mbox &&
	grep -q "^>From the body" out.mbox &&
	grep "method=PLAIN.*TLS" "$DC_DIR/dovecot.log"
'

test_expect_success 'the state file records UIDVALIDITY and every UID' '
	grep "^mailbag-fetch 1$" .out.mbox.mbfetch &&
	grep "^V [0-9][0-9]*$" .out.mbox.mbfetch &&
	test "$(grep -c "^D " .out.mbox.mbfetch)" = 3 &&
	test "$(grep -c "^I [0-9]* [0-9a-f]\{64\}$" .out.mbox.mbfetch)" = 3
'

test_expect_success 'a rerun fetches only new mail' '
	mailbag fetch $F "${IMAP}INBOX" out.mbox >log &&
	grep "fetched 0 messages.*3 already" log &&
	deliver 4 5 &&
	mailbag fetch $F "${IMAP}INBOX" out.mbox >log &&
	grep "fetched 2 messages.*3 already" log &&
	exactly 5 out.mbox &&
	test "$(dc_count)" = 5
'

test_expect_success 'the messages arrive byte for byte (MH, LF line ends)' '
	mailbag fetch -f mh $F "${IMAP}INBOX" md >/dev/null &&
	for i in 1 2 3 4 5; do
		grep -l "^Message-ID: <$i@" md/[0-9]* >f.$i &&
		test_cmp m.$i "$(cat f.$i)" || return 1
	done
'

test_expect_success 'implicit TLS (/ssl) into mbx; --json summary' '
	mailbag fetch $F --json -f mbx "${IMAPS}INBOX" out.mbx >json &&
	grep "\"type\":\"summary\"" json &&
	grep "\"fetched\":5" json && grep "\"status\":0" json &&
	mailbag check out.mbx
'

test_expect_success 'dry run: says what it would do, writes nothing' '
	deliver 6 &&
	mailbag fetch -n $F "${IMAP}INBOX" out.mbox >log &&
	grep "would fetch 1 messages" log &&
	exactly 5 out.mbox &&
	mailbag fetch -n $F "${IMAP}INBOX" new.mbox >log &&
	grep "would fetch 6 messages" log &&
	! test -e new.mbox &&
	! test -e .new.mbox.mbfetch
'

test_expect_success 'flags, keywords and internal dates survive APPEND and fetch' '
	cat >flags.mbox <<-\EOF &&
	From a@example.org Mon Jan  2 03:04:05 2023
	Subject: seen and flagged
	Message-ID: <f1@x>
	Status: RO
	X-Status: F

	one
	From b@example.org Tue Feb 14 10:20:30 2023
	Subject: answered draft
	Message-ID: <f2@x>
	Status: O
	X-Status: AT

	two
	EOF
	mailbag convert --append flags.mbox "${IMAP}Flagged" 2>err &&
	! test -s err ||
	{ dc_doveadm mailbox create -u $U Flagged &&
	  mailbag convert --append flags.mbox "${IMAP}Flagged"; } &&
	mailbag fetch $F "${IMAP}Flagged" back.mbox >/dev/null &&
	"$HELPER/mbtool" dump flags.mbox | sed "s/uid=[0-9]* //" >want &&
	"$HELPER/mbtool" dump back.mbox | sed "s/uid=[0-9]* //" >got &&
	grep -v uidvalidity want >want.m && grep -v uidvalidity got >got.m &&
	test_cmp want.m got.m &&
	grep "flags=0x5 date=1672628645" got.m &&
	grep "flags=0x28 date=1676370030" got.m
'

test_expect_success 'the remote mailbox reads like a local one (mbtool dump)' '
	"$HELPER/mbtool" dump "${IMAP}Flagged" >remote.dump &&
	test "$(grep -c "^msg " remote.dump)" = 2 &&
	grep "flags=0x5 date=1672628645+0" remote.dump
'

test_expect_success 'a wrong host name fails certificate verification (76)' '
	test_expect_code 76 mailbag fetch $F "{localhost:$DC_IMAPS/ssl/user=$U}INBOX" x.mbox 2>err &&
	grep "certificate verification failed" err &&
	! test -e x.mbox
'

test_expect_success 'a certificate from an unknown CA fails (76); /novalidate-cert accepts it' '
	test_expect_code 76 env MAILBAG_CONF=/dev/null "$MAILBAG" fetch --password-file pw "${IMAPS}INBOX" x.mbox 2>err &&
	grep "certificate verification failed" err &&
	test_expect_code 76 env MAILBAG_CONF=/dev/null "$MAILBAG" fetch --password-file pw "${IMAP}INBOX" x.mbox 2>err &&
	grep "certificate verification failed" err &&
	MAILBAG_CONF=/dev/null mailbag fetch --password-file pw -q "{127.0.0.1:$DC_IMAPS/ssl/novalidate-cert/user=$U}INBOX" nv.mbox &&
	exactly 6 nv.mbox
'

test_expect_success 'no TLS: the password is not sent in clear (77) unless allowed' '
	: >"$DC_DIR/dovecot.log" &&
	test_expect_code 77 mailbag fetch $F --auth PLAIN "{127.0.0.1:$DC_IMAP/notls/user=$U}INBOX" pt.mbox 2>err &&
	grep "refusing to send the password in clear" err &&
	test_expect_code 77 mailbag fetch $F --auth login-command "{127.0.0.1:$DC_IMAP/notls/user=$U}INBOX" pt.mbox 2>err &&
	grep "refusing to send the password in clear" err &&
	test_expect_code 77 mailbag fetch $F "{127.0.0.1:$DC_IMAP/notls/secure/user=$U}INBOX" --auth PLAIN pt.mbox 2>err &&
	! test -e pt.mbox &&
	! grep "Login:" "$DC_DIR/dovecot.log" &&
	mailbag fetch $F --allow-plaintext -q "{127.0.0.1:$DC_IMAP/notls/user=$U}INBOX" pt.mbox &&
	exactly 6 pt.mbox &&
	grep "Login: user=<$U>, method=PLAIN" "$DC_DIR/dovecot.log" | grep -v TLS
'

test_expect_success 'CRAM-MD5 keeps the password off the wire without TLS' '
	mailbag fetch $F --auth CRAM-MD5 -q "{127.0.0.1:$DC_IMAP/notls/user=$U}INBOX" cram.mbox &&
	exactly 6 cram.mbox &&
	grep "method=CRAM-MD5" "$DC_DIR/dovecot.log"
'

test_expect_success 'LOGIN mechanism, LOGIN command; password from env, fd and command' '
	mailbag fetch --ca-file "$DC_CA" --password-file pw --auth LOGIN -q "${IMAP}INBOX" l1.mbox &&
	grep "method=LOGIN" "$DC_DIR/dovecot.log" &&
	MBPW="$DC_PASS" mailbag fetch --ca-file "$DC_CA" --password-env MBPW --auth login-command -q "${IMAP}INBOX" l2.mbox &&
	mailbag fetch --ca-file "$DC_CA" --password-fd 3 -q "${IMAP}INBOX" l3.mbox 3<pw &&
	mailbag fetch --ca-file "$DC_CA" --password-command "cat $TRASH/pw" -q "${IMAP}INBOX" l4.mbox &&
	exactly 6 l1.mbox && exactly 6 l2.mbox && exactly 6 l3.mbox && exactly 6 l4.mbox
'

test_expect_success 'a wrong password is a permanent failure (77)' '
	echo wrong >badpw &&
	test_expect_code 77 mailbag fetch --ca-file "$DC_CA" --password-file badpw "${IMAP}INBOX" bad.mbox 2>err &&
	grep "login as .$U. refused" err &&
	! test -e bad.mbox
'

test_expect_success 'no password source is a permanent failure (77)' '
	test_expect_code 77 env MAILBAG_CONF=/dev/null "$MAILBAG" fetch --ca-file "$DC_CA" "${IMAP}INBOX" bad.mbox 2>err &&
	grep "no password source" err
'

test_expect_success 'connection refused is temporary (75)' '
	port=$(dc_free_port) &&
	test_expect_code 75 mailbag fetch $F "{127.0.0.1:$port/user=$U}INBOX" bad.mbox 2>err &&
	grep "cannot connect: Connection refused" err
'

test_expect_success 'a server that says nothing times out (75)' '
	python3 "$NETFAULT" stall stall.port &
	for i in $(seq 1 50); do test -s stall.port && break; sleep 0.1; done &&
	test_atexit "kill $(cat stall.port.pid)" &&
	test_expect_code 75 mailbag fetch $F --timeout 1 "{127.0.0.1:$(cat stall.port)/user=$U}INBOX" bad.mbox 2>err &&
	grep "timed out after 1 seconds" err &&
	test_expect_code 75 mailbag fetch $F --timeout 1 "{127.0.0.1:$(cat stall.port)/ssl/user=$U}INBOX" bad.mbox 2>err &&
	grep "timed out" err
'

test_expect_success 'a connection cut mid-fetch: 75, then a rerun gets each message once' '
	deliver $(seq 7 30) &&
	test "$(dc_count)" = 30 &&
	python3 "$NETFAULT" cut cut.port $DC_IMAP 3000 &
	for i in $(seq 1 50); do test -s cut.port && break; sleep 0.1; done &&
	test_atexit "kill $(cat cut.port.pid)" &&
	test_expect_code 75 mailbag fetch $F --allow-plaintext --batch 5 "{127.0.0.1:$(cat cut.port)/notls/user=$U}INBOX" cut.mbox 2>err &&
	grep "connection closed by the server" err &&
	mailbag fetch $F -q "${IMAP}INBOX" cut.mbox &&
	exactly 30 cut.mbox
'

# SIGKILL at every point of a run (each counted write, fsync, rename ...),
# then a clean rerun: every message exactly once, for mbox and maildir.
crash_runs() {
	local fmt=$1 dst=$2 total at step
	# the spool files have no name: none is left by a killed run
	mkdir -p "$TRASH/tmp.$fmt" && local TMPDIR=$TRASH/tmp.$fmt &&
	export TMPDIR &&
	rm -rf "$dst" ".$dst.mbfetch" &&
	CRASH_COUNT=1 CRASH_COUNT_FILE=$TRASH/count LD_PRELOAD=$MAILBAG_BUILD/tests/helper/crashinject.so \
		"$MAILBAG" fetch $F -q --allow-plaintext --batch 7 -f $fmt "{127.0.0.1:$DC_IMAP/notls/user=$U}INBOX" "$dst" &&
	exactly 30 $(find "$dst" -type f ! -name ".*") &&
	total=$(cat count) && test "$total" -gt 10 &&
	step=$(( total / 25 + 1 )) &&
	for at in $(seq 1 $step "$total"); do
		rm -rf "$dst" ".$dst.mbfetch" &&
		{ CRASH_AT=$at LD_PRELOAD=$MAILBAG_BUILD/tests/helper/crashinject.so \
			"$MAILBAG" fetch $F -q --allow-plaintext --batch 7 -f $fmt "{127.0.0.1:$DC_IMAP/notls/user=$U}INBOX" "$dst" 2>/dev/null; test $? = 137 || return 1; } &&
		rm -f "$dst.lock" &&
		"$MAILBAG" fetch $F -q --allow-plaintext -f $fmt "{127.0.0.1:$DC_IMAP/notls/user=$U}INBOX" "$dst" &&
		exactly 30 $(find "$dst" -type f ! -name ".*") || { echo "crash at $at of $total"; return 1; }
	done &&
	test -z "$(ls -A "$TMPDIR")"
}

test_expect_success 'killed anywhere, a rerun neither loses nor duplicates (mbox)' '
	crash_runs unix crash.mbox
'

test_expect_success 'killed anywhere, a rerun neither loses nor duplicates (MH)' '
	crash_runs mh crash.mh
'

test_expect_success '--delete empties the server only of what is stored' '
	dc_doveadm mailbox create -u $U Del &&
	for i in 41 42 43; do msg $i >m.$i && dc_deliver m.$i Del || return 1; done &&
	test "$(dc_count Del)" = 3 &&
	mailbag fetch $F --delete "${IMAP}Del" del.mbox >log &&
	grep "3 deleted" log &&
	test "$(dc_count Del)" = 0 &&
	grep -c "^Message-ID: <4[123]@" del.mbox >n && test "$(cat n)" = 3
'

test_expect_success '--delete killed before the expunge: nothing lost, rerun deletes' '
	for i in 44 45; do msg $i >m.$i && dc_deliver m.$i Del || return 1; done &&
	mailbag fetch $F -q --delete "${IMAP}Del" del2.mbox &&
	test "$(dc_count Del)" = 0 &&
	for i in 46 47; do msg $i >m.$i && dc_deliver m.$i Del || return 1; done &&
	# the 3rd call on the state file: after the intents and DEST commit,
	# before the done records (header, then I write + sync, D write + sync)
	{ CRASH_AT=3 CRASH_ONLY=$TRASH/.del2.mbox.mbfetch \
		LD_PRELOAD=$MAILBAG_BUILD/tests/helper/crashinject.so \
		"$MAILBAG" fetch $F -q --delete "${IMAP}Del" del2.mbox; test $? = 137; } &&
	rm -f del2.mbox.lock &&
	test "$(dc_count Del)" = 2 &&
	test "$(grep -c "^Message-ID: <4[4-7]@" del2.mbox)" = 4 &&
	mailbag fetch $F --delete --json "${IMAP}Del" del2.mbox >json &&
	grep "\"fetched\":0,\"skipped\":2,\"deleted\":2,\"reconciled\":2" json &&
	test "$(dc_count Del)" = 0 &&
	test "$(grep -c "^Message-ID: <4[4-7]@" del2.mbox)" = 4
'

test_expect_success '--all-folders walks the hierarchy' '
	dc_doveadm mailbox create -u $U Lists/a Lists/b &&
	msg 51 >m.51 && dc_deliver m.51 Lists/a &&
	msg 52 >m.52 && dc_deliver m.52 Lists/b &&
	mailbag fetch $F --all-folders -f mbx "${IMAP}" tree >log &&
	test -f tree/INBOX && test -f tree/Lists/a && test -f tree/Lists/b &&
	test -f tree/Flagged && ! test -e tree/Del &&
	mailbag check tree/Lists/a tree/INBOX &&
	"$HELPER/mbtool" dump tree/Lists/b | grep -c "^msg " >n && test "$(cat n)" = 1 &&
	mailbag fetch $F --all-folders -f mbx --json "${IMAP}" tree >json &&
	grep "\"fetched\":0" json
'

test_expect_success 'a server without STARTTLS: /tls fails (76), no password in clear (77)' '
	rm -f evil.port &&
	{ python3 "$NETFAULT" imap evil.port body-nolit & } &&
	for i in $(seq 1 50); do test -s evil.port && break; sleep 0.1; done &&
	test_atexit "kill $(cat evil.port.pid)" &&
	P=$(cat evil.port) &&
	test_expect_code 76 env MBPW=x "$MAILBAG" fetch --password-env MBPW --allow-plaintext "{127.0.0.1:$P/tls/user=u}INBOX" t.mbox 2>err &&
	grep "does not offer STARTTLS" err &&
	test_expect_code 77 env MBPW=x "$MAILBAG" fetch --password-env MBPW "{127.0.0.1:$P/user=u}INBOX" t.mbox 2>err &&
	grep "refusing to send the password in clear" err &&
	! test -e t.mbox
'

test_expect_success 'a malformed server: a clean error, never a crash' '
	for v in index-tag index-trunc index-date index-flags index-binary \
		index-longline index-close body-biglit body-shortlit body-nolit \
		body-manylit body-unknown-uid body-expunged; do
		rm -f evil.port &&
		{ python3 "$NETFAULT" imap evil.port $v & } &&
		for i in $(seq 1 50); do test -s evil.port && break; sleep 0.1; done &&
		{ MBPW=x mailbag fetch --password-env MBPW --allow-plaintext --timeout 3 \
			"{127.0.0.1:$(cat evil.port)/user=u}INBOX" evil.$v.mbox 2>err.$v
		  rc=$?; } &&
		kill $(cat evil.port.pid) &&
		echo "$v $rc $(cat err.$v)" &&
		case $rc in 66|75|76) ;; *) return 1 ;; esac &&
		grep -q "^mailbag fetch: " err.$v &&
		! test -e evil.$v.mbox || return 1
	done
'

test_expect_success 'bad remote names are usage errors' '
	test_expect_code 64 mailbag fetch $F "{127.0.0.1/bogus}INBOX" x.mbox 2>err &&
	grep "unknown flag ./bogus" err &&
	test_expect_code 64 mailbag fetch $F INBOX x.mbox
'

test_expect_success 'fetch-remote is an alias' '
	mailbag --list-aliases | grep -x fetch-remote
'

test_done

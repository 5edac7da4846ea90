#!/usr/bin/env bash
test_description='OAuth 2 logins (XOAUTH2, OAUTHBEARER) against a real Dovecot
whose oauth2 passdb asks a token introspection endpoint: IMAP and POP3,
STARTTLS and TLS, long tokens, user names RFC 7628 escapes, refused and
missing tokens, failing token commands; the token never shows'
. "$(dirname "$0")/lib.sh"
DC_OAUTH=1
. "$TESTS_DIR/t/dovecot.sh"
dc_setup

U=$DC_LOGIN
IMAP="{127.0.0.1:$DC_IMAP/user=$U}"
IMAPS="{127.0.0.1:$DC_IMAPS/ssl/user=$U}"
POP="{127.0.0.1:$DC_POP3/pop3/user=$U}"
POPS="{127.0.0.1:$DC_POP3S/pop3/ssl/user=$U}"
export MAILBAG_CONF=/dev/null
F="--ca-file $DC_CA --timeout 10"
# the token comes only from a file the command reads, never from argv
printf '%s\n' "$DC_TOKEN" >tok
chmod 600 tok
OC="cat $TRASH/tok"
LOG=$DC_DIR/dovecot.log

msg() {
	printf 'From: sender%s@example.org\nTo: %s@example.org\nSubject: message %s\nMessage-ID: <%s@mailbag.test>\n\nbody of %s\n.\nFrom the body\n' \
		"$1" "$U" "$1" "$1" "$1"
}
# deliver, ids and exactly: tests/t/dovecot.sh
# MH folder DIR holds messages 1..N, each byte for byte as delivered
same_as_sent() {
	local dir=$1 n=$2 i
	exactly "$n" "$dir"/[0-9]* &&
	for i in $(seq 1 "$n"); do
		grep -l "^Message-ID: <$i@" "$dir"/[0-9]* >f.$i &&
		test_cmp m.$i "$(cat f.$i)" || return 1
	done
}
# introspections that accepted (good) or refused (bad) a token so far
intro() { grep -c "^$1\( \|\$\)" "$DC_OAUTH_LOG" || :; }
# logged N PATTERN: Dovecot's log has N lines matching PATTERN (its log
# process writes them a moment after the fact: wait up to 10 s for them)
logged() {
	local i n
	for i in $(seq 1 100); do
		n=$(grep -c -e "$2" "$LOG")
		[ "$n" -ge "$1" ] && break
		sleep 0.1
	done
	[ "$n" = "$1" ] && return 0
	echo "logged: $n lines, not $1, match: $2" >&2
	return 1
}
# FILE... exist, and the token is in none of them
no_token() {
	local f
	for f in "$@"; do
		test -e "$f" || { echo "no_token: no $f" >&2; return 1; }
	done
	! grep -r -F -e "$DC_TOKEN" "$@"
}

test_expect_success 'setup: three messages; the server offers both mechanisms' '
	deliver 1 2 3 &&
	test "$(dc_count)" = 3 &&
	python3 -c "import socket, sys
i = socket.create_connection((\"127.0.0.1\", int(sys.argv[1])), 10)
print(i.makefile(\"rb\").readline().decode().strip())
p = socket.create_connection((\"127.0.0.1\", int(sys.argv[2])), 10)
f = p.makefile(\"rwb\")
f.readline(); f.write(b\"CAPA\\r\\n\"); f.flush()
for l in f:
    if l == b\".\\r\\n\":
        break
    print(l.decode().strip())" \
		"$DC_IMAP" "$DC_POP3" >caps &&
	grep "AUTH=XOAUTH2 AUTH=OAUTHBEARER" caps &&
	grep "^SASL .*XOAUTH2 OAUTHBEARER" caps
'

test_expect_success 'IMAP XOAUTH2 over STARTTLS: every message, byte for byte' '
	g=$(intro good) &&
	: >"$LOG" &&
	mailbag fetch $F --auth XOAUTH2 --oauth-command "$OC" -f mh \
		"${IMAP}INBOX" x.mh >out 2>err &&
	grep "fetched 3 messages" out &&
	same_as_sent x.mh 3 &&
	logged 1 "imap-login: Info: Login: user=<$U>, method=XOAUTH2,.* TLS" &&
	test "$(intro good)" = $((g + 1)) &&
	no_token out err
'

test_expect_success 'IMAP OAUTHBEARER over TLS (/ssl): every message, byte for byte; --json' '
	g=$(intro good) &&
	: >"$LOG" &&
	mailbag fetch $F --auth oauthbearer --oauth-command "$OC" --json -f mh \
		"${IMAPS}INBOX" ob.mh >json 2>err &&
	grep "\"fetched\":3" json && grep "\"status\":0" json &&
	same_as_sent ob.mh 3 &&
	logged 1 "imap-login: Info: Login: user=<$U>, method=OAUTHBEARER,.* TLS" &&
	test "$(intro good)" = $((g + 1)) &&
	no_token json err &&
	! test -s err
'

test_expect_success 'IMAP: without --auth an --oauth-command picks OAUTHBEARER; reruns fetch only new mail' '
	: >"$LOG" &&
	mailbag fetch $F --oauth-command "$OC" "${IMAP}INBOX" a.mbox >out &&
	grep "fetched 3 messages" out &&
	deliver 4 &&
	mailbag fetch $F --oauth-command "$OC" "${IMAP}INBOX" a.mbox >out &&
	grep "fetched 1 messages.*3 already" out &&
	exactly 4 a.mbox &&
	grep -q "^>From the body" a.mbox &&
	logged 2 "Login: user=<$U>, method=OAUTHBEARER"
'

test_expect_success 'POP3 XOAUTH2 over STLS: every message, byte for byte; initial response on the AUTH line' '
	g=$(intro good) &&
	: >"$LOG" &&
	mailbag fetch $F --auth XOAUTH2 --oauth-command "$OC" -f mh \
		"${POP}INBOX" px.mh >out 2>err &&
	grep "fetched 4 messages" out &&
	same_as_sent px.mh 4 &&
	logged 1 "pop3-login: Info: Login: user=<$U>, method=XOAUTH2,.* TLS" &&
	logged 1 "client in: AUTH.*XOAUTH2.service=pop3.*resp=" &&
	test "$(intro good)" = $((g + 1)) &&
	no_token out err
'

test_expect_success 'POP3 OAUTHBEARER over POP3S; the default mechanism too' '
	: >"$LOG" &&
	mailbag fetch $F --auth OAUTHBEARER --oauth-command "$OC" --json \
		"${POPS}INBOX" pob.mbox >json 2>err &&
	grep "\"fetched\":4" json &&
	exactly 4 pob.mbox &&
	mailbag fetch $F --oauth-command "$OC" -q "${POP}INBOX" pd.mbox &&
	exactly 4 pd.mbox &&
	logged 2 "pop3-login: Info: Login: user=<$U>, method=OAUTHBEARER,.* TLS" &&
	no_token json err
'

test_expect_success 'the token and mechanism from mailbag.conf' '
	cat >oconf <<-EOF &&
	ca-file = $DC_CA
	oauth-command = $OC
	auth-mechanism = xoauth2
	EOF
	: >"$LOG" &&
	MAILBAG_CONF=$TRASH/oconf mailbag fetch -q "${IMAP}INBOX" conf.mbox &&
	exactly 4 conf.mbox &&
	logged 1 "Login: user=<$U>, method=XOAUTH2"
'

# Real access tokens run to kilobytes (JWTs); Dovecot takes up to 8 KiB
# of base64.  POP3 keeps its AUTH line within 255 octets (RFC 5034, RFC
# 2449): a long initial response follows the server's "+" instead.
test_expect_success 'a 4000-byte token: IMAP (SASL-IR) and POP3 (after the +), both mechanisms' '
	long=$(printf "%04000d" 7 | tr 0 L) &&
	test ${#long} = 4000 &&
	dc_token "$long" &&
	printf "%s\n" "$long" >long.tok &&
	g=$(intro "good 4000") &&
	: >"$LOG" &&
	for m in XOAUTH2 OAUTHBEARER; do
		mailbag fetch $F -q --auth $m --oauth-command "cat long.tok" \
			"${IMAP}INBOX" l-i-$m.mbox &&
		exactly 4 l-i-$m.mbox &&
		mailbag fetch $F -q --auth $m --oauth-command "cat long.tok" \
			"${POP}INBOX" l-p-$m.mbox &&
		exactly 4 l-p-$m.mbox || return 1
	done &&
	test "$(intro "good 4000")" = $((g + 4)) &&
	logged 2 "pop3-login: Info: Login: user=<$U>, method=" &&
	logged 2 "client in: AUTH.*service=pop3" &&
	logged 0 "client in: AUTH.*service=pop3.*resp=" &&
	logged 2 "client in: CONT" &&
	logged 2 "client in: AUTH.*service=imap.*resp="
'

test_expect_success 'a token longer than mailbag takes is an error, not cut (77)' '
	i=$(intro bad) && j=$(intro good) &&
	printf "%020000d\n" 1 >huge.tok &&
	test_expect_code 77 mailbag fetch $F --oauth-command "cat huge.tok" \
		"${IMAP}INBOX" huge.mbox 2>err &&
	grep "oauth-command printed a line longer than 16383 bytes" err &&
	! test -e huge.mbox && ! test -e .huge.mbox.mbfetch &&
	test "$(intro bad)" = "$i" && test "$(intro good)" = "$j"
'

# RFC 7628 sends the user in a GS2 header: "," and "=" as =2C and =3D,
# which Dovecot undoes (and refuses them bare); XOAUTH2 sends it as is.
test_expect_success 'a user name with "," and "=": both mechanisms' '
	dc_token "$DC_TOKEN.2" "o,auth=user" &&
	printf "%s\n" "$DC_TOKEN.2" >tok2 &&
	: >"$LOG" &&
	for m in OAUTHBEARER XOAUTH2; do
		mailbag fetch $F --auth $m --oauth-command "cat tok2" \
			"{127.0.0.1:$DC_IMAP/user=o,auth=user}INBOX" u-$m.mbox >out &&
		grep "fetched 0 messages" out || return 1
	done &&
	logged 1 "Login: user=<o,auth=user>, method=OAUTHBEARER" &&
	logged 1 "Login: user=<o,auth=user>, method=XOAUTH2"
'

# The server answers a refused token with a JSON challenge (RFC 7628
# 3.2.2), which the client must answer (^A, or empty for XOAUTH2) to get
# the final NO; mailbag tells the status it carried.
test_expect_success 'a refused token: 77, the server and the status named, nothing written' '
	echo "ya29.not-the-token" >bad.tok &&
	b=$(intro bad) &&
	for p in "${IMAP}" "${IMAPS}" "${POP}" "${POPS}"; do
		test_expect_code 77 mailbag fetch $F --auth XOAUTH2 \
			--oauth-command "cat bad.tok" "${p}INBOX" bad.mbox 2>err &&
		grep "^mailbag fetch: {127.0.0.1:[0-9]*/.*user=$U}.*: login as .$U. refused by the server: access token rejected (status 401)$" err &&
		test_expect_code 77 mailbag fetch $F --auth OAUTHBEARER --json \
			--oauth-command "cat bad.tok" "${p}INBOX" bad.mbox >json 2>err2 &&
		grep "^mailbag fetch: {127.0.0.1:[0-9]*/.*user=$U}.*: login as .$U. refused by the server: access token rejected (status invalid_token)$" err2 &&
		! grep "\"fetched\":[1-9]" json &&
		! grep "ya29.not-the-token" err err2 json &&
		! test -e bad.mbox && ! test -e .bad.mbox.mbfetch || return 1
	done &&
	test "$(intro bad)" = $((b + 8))
'

test_expect_success 'the mail password is no token' '
	printf "%s\n" "$DC_PASS" >pw &&
	test_expect_code 77 mailbag fetch $F --auth XOAUTH2 \
		--oauth-command "cat pw" "${IMAP}INBOX" pw.mbox 2>err &&
	grep "refused by the server" err &&
	! test -e pw.mbox
'

test_expect_success 'a token command that fails or prints nothing: 77, said so, no login tried' '
	b=$(intro bad) && g=$(intro good) &&
	: >"$LOG" &&
	test_expect_code 77 mailbag fetch $F --oauth-command false \
		"${IMAP}INBOX" c.mbox 2>err &&
	grep "^mailbag fetch: {127.0.0.1:$DC_IMAP/user=$U}INBOX: oauth-command failed (exit status 1)$" err &&
	test_expect_code 77 mailbag fetch $F --oauth-command "echo $DC_TOKEN; exit 3" \
		"${POP}INBOX" c.mbox 2>err &&
	grep "oauth-command failed (exit status 3)$" err &&
	no_token err &&
	test_expect_code 77 mailbag fetch $F --oauth-command true \
		"${IMAP}INBOX" c.mbox 2>err &&
	grep "oauth-command printed no access token (its first line is empty)$" err &&
	test_expect_code 77 mailbag fetch $F --oauth-command "echo; cat tok" \
		"${POP}INBOX" c.mbox 2>err &&
	grep "oauth-command printed no access token" err &&
	test_expect_code 77 mailbag fetch $F --oauth-command "kill -TERM \$\$" \
		"${IMAP}INBOX" c.mbox 2>err &&
	grep "oauth-command was killed by signal 15$" err &&
	test_expect_code 77 mailbag fetch $F --oauth-command "no-such-token-tool" \
		"${IMAP}INBOX" c.mbox 2>err &&
	grep "oauth-command failed (exit status 127: command not found?)$" err &&
	! test -e c.mbox && ! test -e .c.mbox.mbfetch &&
	test "$(intro bad)" = "$b" && test "$(intro good)" = "$g" &&
	! grep "method=.*OAUTH" "$LOG"
'

test_expect_success 'no TLS: the token is not sent in clear (77), nor fetched, unless allowed' '
	: >"$LOG" &&
	test_expect_code 77 mailbag fetch $F --auth XOAUTH2 \
		--oauth-command "touch ran; cat tok" \
		"{127.0.0.1:$DC_IMAP/notls/user=$U}INBOX" nt.mbox 2>err &&
	grep "refusing to send an access token in clear" err &&
	test_expect_code 77 mailbag fetch $F --auth OAUTHBEARER \
		--oauth-command "touch ran; cat tok" \
		"{127.0.0.1:$DC_POP3/pop3/notls/user=$U}INBOX" nt.mbox 2>err &&
	grep "refusing to send an access token in clear: use TLS" err &&
	! test -e ran && ! test -e nt.mbox &&
	! grep "method=" "$LOG" &&
	mailbag fetch $F -q --allow-plaintext --auth XOAUTH2 --oauth-command "$OC" \
		"{127.0.0.1:$DC_IMAP/notls/user=$U}INBOX" nt.mbox &&
	exactly 4 nt.mbox &&
	logged 1 "Login: user=<$U>, method=XOAUTH2,.* secured, session="
'

test_expect_success '/secure: no access token even over TLS (77)' '
	: >"$LOG" &&
	test_expect_code 77 mailbag fetch $F --oauth-command "touch ran; cat tok" \
		"{127.0.0.1:$DC_IMAPS/ssl/secure/user=$U}INBOX" sec.mbox 2>err &&
	grep "refusing to send an access token: /secure allows only CRAM-MD5$" err &&
	test_expect_code 77 mailbag fetch $F --oauth-command "touch ran; cat tok" \
		"{127.0.0.1:$DC_POP3S/pop3/ssl/secure/user=$U}INBOX" sec.mbox 2>err &&
	grep "refusing to send an access token: /secure allows only CRAM-MD5 or APOP$" err &&
	! test -e ran && ! test -e sec.mbox &&
	! grep "method=" "$LOG"
'

test_expect_success 'the token shows in no mailbag output (stdout, stderr, --json, the state file)' '
	no_token out err json ./*.mbox .*.mbfetch &&
	! grep -r -F -e "$DC_TOKEN" x.mh ob.mh px.mh
'

test_done

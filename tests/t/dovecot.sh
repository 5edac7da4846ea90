# dovecot.sh - a private Dovecot IMAP and POP3 server for the remote tests.
# Source it after lib.sh:   . "$TESTS_DIR/t/dovecot.sh"; dc_setup
#
# dc_setup makes, in $TRASH/dc: a throwaway CA and a server certificate
# (openssl, at test time) for the name mail.test and the address
# 127.0.0.1 only, so that {localhost...} must fail verification; a
# passwd-file with one user; a configuration listening on 127.0.0.1 on
# free ports; and starts Dovecot there, as a throwaway unprivileged user
# when we are root (uw.sh's user), as ourselves otherwise.  It is stopped
# when the script exits.
#
#   DC_IMAP DC_IMAPS DC_POP3 DC_POP3S   the ports (plain+STARTTLS, TLS)
#   DC_CA                               the CA certificate (PEM)
#   DC_LOGIN DC_PASS                    the mail user and its password
#   DC_MAIL                             the user's Maildir
#   dc_deliver FILE [FLAGS]             store FILE in the user's INBOX
#                                       (doveadm save; flags via \Seen ...)
#   dc_count                            messages in the user's INBOX
#
# DC_OAUTH=1 before dc_setup adds OAuth 2: the mechanisms XOAUTH2 and
# OAUTHBEARER, checked by a passdb of driver oauth2 (the password file
# then serves only the other mechanisms) against oauth2srv.py, a token
# introspection endpoint on 127.0.0.1 (stopped at exit) that accepts the
# tokens in $DC_DIR/token and rejects every other.
#
#   DC_TOKEN                            DC_LOGIN's token
#   dc_token TOKEN [USER]               accept TOKEN too, for USER (any
#                                       name: Dovecot's userdb is static)
#   DC_OAUTH_LOG                        one line per introspection:
#                                       "good LEN" or "bad LEN"

DC_DIR='' DC_LOGIN=mbuser DC_PASS='s3cret pass' DC_RUNAS=''
DC_OAUTH=${DC_OAUTH-} DC_TOKEN='' DC_OAUTH_LOG=''

dc_free_port() {
	python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

dc_stop() {
	[ -n "$DC_DIR" ] && [ -f "$DC_DIR/run/master.pid" ] &&
		kill "$(cat "$DC_DIR/run/master.pid")" 2>/dev/null
	local i
	for i in $(seq 1 50); do
		[ -f "$DC_DIR/run/master.pid" ] || break
		kill -0 "$(cat "$DC_DIR/run/master.pid" 2>/dev/null)" 2>/dev/null || break
		sleep 0.1
	done
}

dc_oauth_stop() {
	[ -f "$DC_DIR/oauth2.port.pid" ] &&
		kill "$(cat "$DC_DIR/oauth2.port.pid")" 2>/dev/null
}

# The introspection endpoint: started, its port in DC_OAUTH_PORT.
dc_oauth_start() {
	local i
	# a bearer token's characters (RFC 6750 b64token), and unique
	DC_TOKEN=ya29.mb-test_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')~x/Y+z=
	printf '%s\n' "$DC_TOKEN" >"$DC_DIR/token"
	DC_OAUTH_LOG=$DC_DIR/oauth2.log
	: >"$DC_OAUTH_LOG"
	test_atexit dc_oauth_stop
	python3 "$TESTS_DIR/t/oauth2srv.py" "$DC_DIR/oauth2.port" \
		"$DC_DIR/token" "$DC_LOGIN" "$DC_OAUTH_LOG" \
		</dev/null >"$DC_DIR/oauth2srv.out" 2>&1 &
	for i in $(seq 1 300); do
		[ -s "$DC_DIR/oauth2.port" ] && break
		sleep 0.05
	done
	DC_OAUTH_PORT=$(cat "$DC_DIR/oauth2.port" 2>/dev/null)
	[ -n "$DC_OAUTH_PORT" ] || {
		echo "dovecot.sh: oauth2srv.py did not start:" >&2
		cat "$DC_DIR/oauth2srv.out" >&2
		exit 1
	}
}

dc_token() {
	printf '%s%s\n' "$1" "${2:+ $2}" >>"$DC_DIR/token"
}

dc_as() {
	if [ -n "$DC_RUNAS" ]; then
		setpriv --reuid="$UW_USER" --regid="$UW_GROUP" --init-groups -- "$@"
	else
		"$@"
	fi
}

dc_setup() {
	local u g
	[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] &&
		[ -x /usr/lib/dovecot/pop3 ] ||
		skip_all "Dovecot IMAP/POP3 not installed (dovecot-imapd, dovecot-pop3d)"
	command -v openssl >/dev/null 2>&1 || skip_all "openssl missing"
	command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
	DC_DIR=$TRASH/dc
	mkdir -p "$DC_DIR/run" "$DC_DIR/state" "$DC_DIR/home" || exit 1
	if [ "$(id -u)" = 0 ]; then
		. "$TESTS_DIR/t/uw.sh"
		UW_HOME=$DC_DIR/home
		uw_open_path || skip_all "the trash directory cannot be opened to others"
		test_atexit uw_cleanup
		uw_make_user || exit 1
		UW_GROUP=$(id -g "$UW_USER")
		DC_RUNAS=1
		u=$UW_USER g=$(id -gn "$UW_USER")
	else
		u=$(id -un) g=$(id -gn)
	fi
	# the CA and a certificate for mail.test and 127.0.0.1
	(
		cd "$DC_DIR" &&
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
			-subj "/CN=mailbag test CA" -keyout ca.key -out ca.crt &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=mail.test" \
			-keyout server.key -out server.csr &&
		printf 'subjectAltName=DNS:mail.test,IP:127.0.0.1\n' >ext &&
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
			-CAcreateserial -days 2 -extfile ext -out server.crt
	) >"$DC_DIR/openssl.log" 2>&1 || { cat "$DC_DIR/openssl.log" >&2; exit 1; }
	DC_CA=$DC_DIR/ca.crt
	DC_IMAP=$(dc_free_port) DC_IMAPS=$(dc_free_port)
	DC_POP3=$(dc_free_port) DC_POP3S=$(dc_free_port)
	printf '%s:{PLAIN}%s::::::\n' "$DC_LOGIN" "$DC_PASS" >"$DC_DIR/passwd"
	DC_MAIL=$DC_DIR/home/$DC_LOGIN/Maildir
	local mechs='' passdb_oauth='' passdb_mechs='' main='' penalty=''
	if [ -n "$DC_OAUTH" ]; then
		dc_oauth_start
		cat >"$DC_DIR/oauth2.conf.ext" <<EOF
introspection_mode = auth
introspection_url = http://127.0.0.1:$DC_OAUTH_PORT/introspect
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 10000
EOF
		mechs=' xoauth2 oauthbearer'
		passdb_oauth="passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $DC_DIR/oauth2.conf.ext
}"
		# "none": doveadm's lookups (static userdb)
		passdb_mechs='
  mechanisms = plain login cram-md5 apop none'
		# the rejections come at once: no delay, no penalty; user
		# names with "," and "=" (RFC 7628 escapes them); the auth
		# requests in the log, to tell how the initial response came
		# ("client in: AUTH ... resp=<hidden>"; but the oauth2
		# passdb's debug lines show the tokens it accepted)
		main='auth_failure_delay = 0
auth_username_chars =
auth_debug = yes'
		penalty='
  unix_listener anvil-auth-penalty {
    mode = 0
  }'
	fi
	cat >"$DC_DIR/dovecot.conf" <<EOF
base_dir = $DC_DIR/run
state_dir = $DC_DIR/state
log_path = $DC_DIR/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$DC_DIR/server.crt
ssl_key = <$DC_DIR/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 apop$mechs
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
default_internal_user = $u
default_internal_group = $g
default_login_user = $u
login_trusted_networks =
$main
$passdb_oauth
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DC_DIR/passwd$passdb_mechs
}
userdb {
  driver = static
  args = uid=$u gid=$g home=$DC_DIR/home/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $DC_IMAP
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $DC_IMAPS
    ssl = yes
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DC_POP3
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $DC_POP3S
    ssl = yes
  }
}
service anvil {
  chroot =$penalty
}
service stats {
  unix_listener stats-reader {
    mode = 0600
  }
  unix_listener stats-writer {
    mode = 0600
  }
}
namespace inbox {
  inbox = yes
  separator = /
}
EOF
	[ -n "$DC_RUNAS" ] && chown -R "$UW_USER:$UW_GROUP" "$DC_DIR"
	test_atexit dc_stop
	dc_as /usr/sbin/dovecot -c "$DC_DIR/dovecot.conf" ||
		{ cat "$DC_DIR/dovecot.log" >&2; exit 1; }
	local i
	for i in $(seq 1 100); do
		python3 -c "import socket,sys
for p in sys.argv[1:]: socket.create_connection(('127.0.0.1',int(p)),1).close()" \
			"$DC_IMAP" "$DC_IMAPS" "$DC_POP3" "$DC_POP3S" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "dovecot.sh: Dovecot did not start:" >&2
	cat "$DC_DIR/dovecot.log" >&2
	exit 1
}

dc_doveadm() {
	dc_as doveadm -c "$DC_DIR/dovecot.conf" "$@"
}

# dc_deliver FILE [MAILBOX]: store FILE as a new message.
dc_deliver() {
	dc_as doveadm -c "$DC_DIR/dovecot.conf" save -u "$DC_LOGIN" \
		-m "${2:-INBOX}" <"$1"
}

# Helpers of the fetch tests (t7000-t7002).  Each test defines msg N, a
# message with Message-ID <N@mailbag.test> and the body it needs.
# deliver N...: msg N into the server's INBOX, for each N.
deliver() {
	local i
	for i in "$@"; do
		msg "$i" >m.$i && dc_deliver m.$i || return 1
	done
}
# ids FILE...: the Message-IDs in local mailbox files, one a line, sorted
ids() { grep -h '^Message-ID: <.*@mailbag.test>' "$@" | sort; }
# exactly N FILE...: the IDs of FILE... are exactly 1..N, each once
exactly() {
	local n=$1
	shift
	seq 1 "$n" | sed 's/.*/Message-ID: <&@mailbag.test>/' | sort >ids.want &&
		ids "$@" >ids.got && test_cmp ids.want ids.got
}

dc_count() {
	dc_doveadm mailbox status -u "$DC_LOGIN" messages "${1:-INBOX}" |
		sed 's/.*messages=//'
}

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

DC_DIR='' DC_LOGIN=mbuser DC_PASS='s3cret pass' DC_RUNAS=''

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
auth_mechanisms = plain login cram-md5 apop
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
default_internal_user = $u
default_internal_group = $g
default_login_user = $u
login_trusted_networks =
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DC_DIR/passwd
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
  chroot =
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

dc_count() {
	dc_doveadm mailbox status -u "$DC_LOGIN" messages "${1:-INBOX}" |
		sed 's/.*messages=//'
}

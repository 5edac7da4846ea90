#!/bin/bash
test_description='MIME engine: ENVELOPE, BODY, BODYSTRUCTURE, RFC822.SIZE as Dovecot IMAP serves them'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

# A corpus (CPython's real messages and generated odd ones) goes into a
# maildir; Dovecot's IMAP server runs on 127.0.0.1 as a throwaway user
# (uw.sh's) and Python's imaplib fetches every message's ENVELOPE, BODY,
# BODYSTRUCTURE and RFC822.SIZE.  mimetool computes the same from the
# same files with libmbox.  Both are brought to one canonical text and
# compared item by item.

command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
DOVECOT=$(command -v dovecot || echo /usr/sbin/dovecot)
[ -x "$DOVECOT" ] && [ -x /usr/lib/dovecot/imap ] ||
	skip_all "Dovecot IMAP server missing (dovecot-core, dovecot-imapd)"
uw_setup

D=$UW_HOME
PORT=

start_dovecot() {
	local grp try
	grp=$(id -gn "$UW_USER")
	for try in 1 2 3 4 5; do
		PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		cat >"$D/dovecot.conf" <<-CONF
		base_dir = $D/run
		state_dir = $D/state
		log_path = $D/dovecot.log
		instance_name = mailbag-t6001-$$
		ssl = no
		listen = 127.0.0.1
		protocols = imap
		default_internal_user = $UW_USER
		default_internal_group = $grp
		default_login_user = $UW_USER
		disable_plaintext_auth = no
		auth_mechanisms = plain
		passdb {
		  driver = static
		  args = password=pw
		}
		userdb {
		  driver = static
		  args = uid=$UW_USER gid=$grp home=$D
		}
		mail_location = maildir:$D/Maildir:INDEX=MEMORY
		service imap-login {
		  chroot =
		  inet_listener imap {
		    address = 127.0.0.1
		    port = $PORT
		  }
		  inet_listener imaps {
		    port = 0
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
		CONF
		[ -n "$UW_SELF" ] || chown "$UW_USER" "$D/dovecot.conf"
		uw_run "$DOVECOT" -c "$D/dovecot.conf" || return 1
		for i in $(seq 1 50); do
			python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null &&
				return 0
			grep -q "Address already in use" "$D/dovecot.log" 2>/dev/null && break
			sleep 0.1
		done
		stop_dovecot
	done
	return 1
}

stop_dovecot() {
	local pid
	pid=$(cat "$D/run/master.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$D/run/master.pid"
}
test_atexit stop_dovecot

test_expect_success 'corpus: CPython email test messages and odd ones' '
	mkdir -p "$D/Maildir/cur" "$D/Maildir/new" "$D/Maildir/tmp" &&
	python3 "$DATA/mime/gen-odd.py" odd &&
	n=1000000000 &&
	for f in odd/*.eml "$DATA"/mime/cpython/*.eml; do
		n=$((n + 1)) &&
		cp "$f" "$D/Maildir/cur/$n.M1P1.mailbag:2," || return 1
	done &&
	ls "$D/Maildir/cur" | wc -l >count &&
	test "$(cat count)" = 64 &&
	{ [ -n "$UW_SELF" ] || chown -R "$UW_USER" "$D/Maildir"; }
'

test_expect_success 'Dovecot IMAP starts on 127.0.0.1 as an unprivileged user' '
	start_dovecot
'

test_expect_success 'fetch from Dovecot with imaplib' '
	python3 "$TESTS_DIR/t/imapfetch.py" net 127.0.0.1 "$PORT" >dovecot.txt &&
	test "$(wc -l <dovecot.txt)" = 256
'

test_expect_success 'libmbox computes the same from the same files' '
	"$HELPER/mimetool" files "$D"/Maildir/cur/* >mine.raw &&
	python3 "$TESTS_DIR/t/imapfetch.py" canon mine.raw >mine.txt &&
	test_cmp dovecot.txt mine.txt
'

test_expect_success 'every item of every message was compared' '
	for item in ENVELOPE BODY BODYSTRUCTURE RFC822.SIZE; do
		test "$(grep -c "^[0-9]* $item " mine.txt)" = 64 || return 1
	done
'

test_expect_success 'BODY[]/BINARY[] sections and partials: libmbox against Dovecot' '
	cat >sections.py <<-PY &&
	import imaplib, re, subprocess, sys
	def connect():
	    m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=60)
	    m.login("test", "pw")
	    m.select("INBOX")
	    return m
	m = connect()
	files = sys.argv[3:]
	bad = n = skipped = reencoded = 0
	cte_bin = re.compile(rb"(?im)^content-transfer-encoding: binary\r?$")
	body = ["", "HEADER", "TEXT", "1", "2", "3", "1.MIME", "2.MIME",
	        "1.1", "1.2", "2.1", "2.2", "1.1.1", "1.1.MIME", "2.HEADER",
	        "2.TEXT", "2.1.HEADER", "2.1.TEXT", "3.1",
	        "HEADER.FIELDS (SUBJECT FROM)", "HEADER.FIELDS.NOT (RECEIVED)",
	        "2.HEADER.FIELDS (SUBJECT)"]
	items = [("BODY", s, None) for s in body]
	items += [("BODY", s, (7, 50)) for s in ("", "TEXT", "1", "2")]
	items += [("BINARY", s, None) for s in ("1", "2", "1.1", "2.1", "3")]
	for kind, sec, part in items:
	    what = "%s.PEEK[%s]" % (kind, sec)
	    if part:
	        what += "<%d.%d>" % part
	    got = {}
	    for i in range(1, len(files) + 1):
	        # Dovecot: data, NO (refused: mailbag must refuse too), or an
	        # internal error on broken base64 (not compared)
	        try:
	            typ, d = m.fetch(str(i), "(%s)" % what)
	        except imaplib.IMAP4.abort:
	            m = connect()
	            got[i] = "skip"
	            continue
	        except imaplib.IMAP4.error:
	            got[i] = None
	            continue
	        if typ != "OK":
	            got[i] = None
	            continue
	        for x in d:
	            if isinstance(x, tuple):
	                got[i] = x[1]
	            elif x and re.search(rb"%s[^ ]* NIL" % kind.encode(), x):
	                got[i] = b""
	    for i, f in enumerate(files, 1):
	        args = [sys.argv[2], "binary" if kind == "BINARY" else "section",
	                f, sec] + ([str(part[0]), str(part[1])] if part else [])
	        p = subprocess.run(args, capture_output=True)
	        mine = p.stdout if p.returncode == 0 else None
	        want = got.get(i, b"")
	        # BINARY of damaged base64: mailbag refuses (exit 2) where
	        # Dovecot sends nothing or fails: not compared.  BINARY of
	        # a multipart or message part is compared: both send the
	        # body as it is, except that Dovecot decodes the encoded
	        # leaf parts inside and relabels them binary, which mailbag
	        # does not (see mb_imap_section in libmbox/mb-msg.h): such answers
	        # are counted apart
	        if want == "skip" or (
	                p.returncode == 2 and want in (b"", None)):
	            skipped += 1
	            continue
	        if (kind == "BINARY" and want and mine and want != mine and
	                cte_bin.search(want) and not cte_bin.search(mine)):
	            reencoded += 1
	            continue
	        n += 1
	        if want != mine:
	            bad += 1
	            print("message %d %s differs: dovecot %r, mailbag %r" %
	                  (i, what, (want or b"")[:60], (mine or b"")[:60]))
	print("compared %d, %d differences, %d not compared, %d re-encoded "
	      "by Dovecot" % (n, bad, skipped, reencoded))
	sys.exit(1 if bad or n < 64 * 30 else 0)
	PY
	python3 sections.py "$PORT" "$HELPER/mimetool" "$D"/Maildir/cur/*
'

test_done

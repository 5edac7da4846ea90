# uw.sh - run the UW IMAP toolkit's programs (mailutil, ...) from tests.
# Source it after lib.sh:   . "$TESTS_DIR/t/uw.sh"; uw_setup
#
# Debian's mailutil only accepts names relative to the home directory
# (restrictBox, see spec/uw-formats.md 1.4) and does nothing useful as
# root.  So as root, uw_setup creates a throwaway user whose home is
# $TRASH/uwhome and uw_run runs commands as that user; the user is
# deleted when the script exits, even after a failure.  As any other
# user, the programs run as ourselves with HOME=$TRASH/uwhome (c-client
# believes $HOME for non-root users).
#
#   uw_setup            skip_all unless mailutil exists; sets UW_HOME, UW_USER
#   uw_run CMD ARG...   run CMD in UW_HOME as the user, clean environment
#   uw_put SRC NAME     copy SRC to UW_HOME/NAME, the user's, mode 600
#   uw_get NAME DST     copy UW_HOME/NAME back to DST
#
# Helpers for the tests that compare UW's files with mailbag's (none
# needs uw_setup):
#
#   uw_count OUT        the message count in `mailutil check` output OUT
#   uw_summary FILE     a unix mailbox's messages: UID, flags, keywords,
#                       subject, body hash (tests/t/uwsummary.py)
#   uw_varied_mbox      print a varied unix mailbox: flags, keywords,
#                       UIDs with gaps, recent messages, From lines in
#                       bodies, 8-bit text, no final newline
#   mb_json FILE KEY... the values of KEYs in `mailbag check --json FILE`,
#                       one a line (lists space-separated)

UW_USER='' UW_GROUP='' UW_HOME='' UW_SELF=''

# Make every directory from $TRASH up to / searchable by others, changing
# only the ones inside the temp directory.  Fails if another one is not.
uw_open_path() {
	local d tmp
	d=$(cd "$TRASH" && pwd -P) && tmp=$(cd "${TMPDIR:-/tmp}" && pwd -P) ||
		return 1
	while [ "$d" != / ] && [ -n "$d" ]; do
		if [ -z "$(find "$d" -maxdepth 0 -perm -o+x)" ]; then
			case $d in
			"$tmp"/*) chmod o+rx "$d" || return 1 ;;
			*) echo "uw.sh: '$d' is not searchable by others" >&2
				return 1 ;;
			esac
		fi
		d=$(dirname "$d")
	done
}

uw_make_user() {
	local i rc
	for i in $(seq 1 40); do
		UW_USER=mbt$(printf '%05d%04x' $$ $((RANDOM)))
		rc=0
		useradd -M -d "$UW_HOME" -s /bin/sh "$UW_USER" 2>"$t_root/useradd.err" ||
			rc=$?
		case $rc in
		0) return 0 ;;
		9) ;;			# name taken: pick another
		*) sleep "0.$((RANDOM % 9 + 1))" ;; # /etc/passwd locked
		esac
	done
	echo "uw.sh: useradd failed ($rc):" >&2
	cat "$t_root/useradd.err" >&2
	UW_USER=
	return 1
}

uw_cleanup() {
	local i
	[ -n "$UW_USER" ] || return 0
	rm -f "/var/mail/$UW_USER" "/var/spool/mail/$UW_USER"
	# a process of the throwaway user left by a failed test would make
	# userdel refuse, and the user would stay
	pkill -KILL -u "$UW_USER" 2>/dev/null
	for i in $(seq 1 40); do
		userdel "$UW_USER" 2>/dev/null && break
		id "$UW_USER" >/dev/null 2>&1 || break
		sleep "0.$((RANDOM % 9 + 1))"
	done
	UW_USER=
}

uw_setup() {
	command -v mailutil >/dev/null 2>&1 ||
		skip_all "UW mailutil not installed (Debian package uw-mailutils)"
	UW_HOME=$TRASH/uwhome
	mkdir -p "$UW_HOME" && chmod 700 "$UW_HOME" || exit 1
	if [ "$(id -u)" != 0 ]; then
		UW_USER=$(id -un)
		UW_SELF=1
		return 0
	fi
	UW_SELF=
	command -v useradd >/dev/null 2>&1 || skip_all "useradd missing"
	uw_open_path || skip_all "the trash directory cannot be opened to others"
	test_atexit uw_cleanup
	uw_make_user || exit 1
	UW_GROUP=$(id -g "$UW_USER") && chown "$UW_USER:$UW_GROUP" "$UW_HOME" ||
		exit 1
	uw_run test -w "$UW_HOME" || {
		echo "uw.sh: $UW_USER cannot write to $UW_HOME" >&2
		exit 1
	}
}

uw_run() {
	local env=(PATH=/usr/local/bin:/usr/bin:/bin "HOME=$UW_HOME"
		"USER=$UW_USER" "LOGNAME=$UW_USER" TZ=UTC)
	(
		cd "$UW_HOME" || exit 1
		if [ -n "$UW_SELF" ]; then
			exec env -i "${env[@]}" "$@"
		elif command -v setpriv >/dev/null 2>&1; then
			exec env -i "${env[@]}" setpriv --reuid="$UW_USER" \
				--regid="$UW_GROUP" --init-groups -- "$@"
		else
			exec runuser -u "$UW_USER" -- env -i "${env[@]}" "$@"
		fi
	)
}

uw_put() {
	local dst=$UW_HOME/$2
	case $2 in */*) mkdir -p "${dst%/*}" ;; esac
	cp -- "$1" "$dst" && chmod 600 "$dst" || return 1
	[ -n "$UW_SELF" ] && return 0
	# Subdirectories made above become the user's too.
	chown -R "$UW_USER:$UW_GROUP" "$UW_HOME"
}

uw_get() { cp -- "$UW_HOME/$1" "$2"; }

# uw_put_dir DIR NAME: copy the folder DIR (mix, MH) to UW_HOME/NAME for
# the user, private as UW makes it, with its times (UW's MH driver takes
# \Seen from them); uw_get_dir NAME DIR copies it back.
uw_put_dir() {
	mkdir -p "$UW_HOME/$(dirname "$2")" &&
	cp -a -- "$1" "$UW_HOME/$2" && chmod -R go-rwx "$UW_HOME/$2" || return 1
	[ -n "$UW_SELF" ] && return 0
	chown -R "$UW_USER:$UW_GROUP" "$UW_HOME"
}
uw_get_dir() { rm -rf "$2" && cp -r -- "$UW_HOME/$1" "$2"; }

uw_count() {
	sed -n -e 's/^No new messages, \([0-9]*\) total in .*/\1/p' \
	    -e 's/^[0-9]* new message(s) ([0-9]* unseen), \([0-9]*\) total in .*/\1/p' "$1"
}

uw_summary() { python3 "$TESTS_DIR/t/uwsummary.py" "$1"; }

uw_varied_mbox() {
	printf "From alice@example.com Wed Dec  2 05:53:22 1992\n"
	printf "Date: Wed, 2 Dec 1992 05:53:22 -0800\n"
	printf "From: alice@example.com\nTo: bob@example.com\nSubject: one\n"
	printf "X-IMAPbase: 1234567890 0000000012 Junk NonJunk \$Label1 Work\n"
	printf "Status: RO\nX-Status: FA\nX-Keywords: NonJunk \$Label1\nX-UID: 3\n\n"
	printf "Hello Bob.\nFrom the start this line begins with From.\n"
	printf ">From already quoted line.\nCaf\303\251 na\303\257ve \351t\351\n\n"
	printf "From bob@example.com Thu Dec 10 11:00:07 1992\n"
	printf "Subject: two\nStatus: O\nX-Status: DT\nX-Keywords: Junk\nX-UID: 5\n\n"
	printf "Body two\n\n"
	printf "From carol@example.com Fri Dec 11 12:00:00 PST 1992\n"
	printf "Subject: three\nStatus: R\nX-UID: 8\n\n"
	printf "body three\nFrom here on, a body line\n\n"
	printf "From dave@example.com Sat Dec 12 13:14:15 1992 -0700\n"
	printf "Subject: four\nX-Keywords: Work Junk\nX-UID: 9\n\n"
	printf "four \344\366\374\n\n"
	printf "From erin@example.com Sun Dec 13 01:02:03 1992\n"
	printf "Subject: five\nStatus: RO\nX-Status: DFAT\n"
	printf "X-Keywords: \$Label1 NonJunk Work Junk\nX-UID: 12\n\n"
	printf "last line"
}

mb_json() {
	local f=$1
	shift
	"$MAILBAG" check --json "$f" >"$TRASH/json.out" || :
	python3 -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o.get("type") == "mailbox":
        for k in sys.argv[2:]:
            v = o[k]
            print(" ".join(v) if isinstance(v, list) else v)
' "$TRASH/json.out" "$@"
}

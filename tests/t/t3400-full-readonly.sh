#!/bin/bash
test_description='every writing command on a full disk, a read-only file or directory and a read-only file system'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

# Covered elsewhere, so left out here: deliver on a full disk and into a
# read-only mailbox (t5200); copy, move and append on a full disk and
# move and prune from a read-only SRC (t5300).  Each case below checks
# the exit status, a message naming the file, and that nothing changed:
# the source, the destination and its directory are byte for byte as
# they were, no temporary file or backup is left behind.

[ "$(id -u)" = 0 ] || skip_all "needs root: mounts tmpfs, runs as a throwaway user"
uw_setup
U=$UW_USER H=$UW_HOME

# mbu CMD ARGS: mailbag as the user (permissions apply), in the home.
mbu() {
	local c=$1
	shift
	(
		cd "$H" || exit 1
		exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$H" USER="$U" \
			LOGNAME="$U" TZ=UTC LC_ALL=C ASAN_OPTIONS="$ASAN_OPTIONS" \
			UBSAN_OPTIONS="$UBSAN_OPTIONS" LSAN_OPTIONS="$LSAN_OPTIONS" \
			setpriv --reuid="$U" --regid="$UW_GROUP" --init-groups -- \
			"$MAILBAG" "$c" --set lock-timeout=2 --set dotlock-timeout=1 \
			--set "spool-directory=$H/spool" "$@"
	)
}
# snap DIR...: every file below DIR with its mode, size and checksum.
snap() {
	find "$@" -printf '%p %y %m %s\n' | sort &&
		find "$@" -type f -exec md5sum {} + | sort
}
# expect CODES WHAT CMD...: CMD exits with one of CODES (a list), and says
# WHAT (a grep pattern) on stderr.
expect() {
	local codes=$1 what=$2 rc=0
	shift 2
	"$@" 2>err || rc=$?
	case " $codes " in
	*" $rc "*) ;;
	*) echo "expect: '$*' exited $rc, wanted one of $codes" >&2
		cat err >&2
		return 1 ;;
	esac
	test_grep -e "$what" err
}
msg() {
	printf 'From sender@example.com Mon Jan  1 00:00:00 2024\nMessage-ID: <%s@t>\nSubject: %s\n\nbody of %s\n\n' \
		"$1" "$1" "$1"
}
# big N: a unix mailbox of N messages of about 8 kB each.
big() {
	local i
	for i in $(seq 1 "$1"); do
		printf 'From big@x Mon Jan  1 00:00:00 2024\nMessage-ID: <b%s@t>\n\n' "$i" &&
		head -c 8000 /dev/zero | tr '\0' x | fold -w 70 && echo ||
			return 1
	done
}
# own FILE...: the user's.
own() { chown "$U:$UW_GROUP" "$@"; }
count() { mailbag check "$1" | sed -n 's/^[^:]*: [a-z]*, \([0-9]*\) messages.*/\1/p'; }

mkdir "$H/spool" && chmod 1777 "$H/spool" || exit 1
big 60 >"$H/big.unix" && own "$H/big.unix" || exit 1
msg s1 >"$H/small.unix" && msg s2 >>"$H/small.unix" && own "$H/small.unix" ||
	exit 1
cp "$H/big.unix" big.orig && cp "$H/small.unix" small.orig || exit 1

if mkdir "$H/full" && mount -t tmpfs -o size=256k,mode=1777 tmpfs "$H/full" 2>/dev/null
then
	test_set_prereq TMPFS
	test_atexit "umount '$H/full'"
fi

# fill NAME SRC: full/ holds only NAME, a copy of SRC, the user's; the
# state is in before.snap.
fill() {
	rm -rf "$H/full/"* "$H/full/".[!.]* &&
	cp "$2" "$H/full/$1" && own "$H/full/$1" &&
	snap "$H/full" "$H/big.unix" "$H/small.unix" >before.snap
}
unchanged() {
	snap "$H/full" "$H/big.unix" "$H/small.unix" >after.snap &&
	test_cmp before.snap after.snap
}

test_expect_success TMPFS 'full disk: convert to a new DST: 75, nothing left' '
	fill keep small.orig &&
	expect 75 "No space left" mbu convert -q big.unix full/new.mbx &&
	unchanged &&
	expect 75 "No space left" mbu convert -q --to=maildir big.unix full/md &&
	unchanged
'

test_expect_success TMPFS 'full disk: convert --append and append: 75, DST as it was' '
	fill old small.orig &&
	expect 75 "No space left" mbu convert -q --append big.unix full/old &&
	unchanged &&
	{ msg onebig && head -c 320000 /dev/zero | tr "\0" y | fold -w 70; } >onebig &&
	expect 75 "No space left" mbu append full/old <onebig &&
	unchanged
'

test_expect_success TMPFS 'full disk: repair a torn mailbox: 75, no backup, unchanged' '
	head -c 150000 big.orig >torn &&
	fill torn.unix torn &&
	expect 75 "No space left" mbu repair full/torn.unix &&
	unchanged
'

# A rewrite in place may need no room at all; if it succeeds it must be
# right, if it fails the mailbox must be as it was.
test_expect_success TMPFS 'full disk: uid-rebuild and prune: done right, or 75 and unchanged' '
	big 18 >u && fill u.unix u && n=$(count u) &&
	rc=0 && mbu uid-rebuild -q full/u.unix 2>err || rc=$? &&
	case $rc in
	0) count "$H/full/u.unix" >c && test "$(cat c)" = "$n" &&
	   mailbag check "$H/full/u.unix" | test_grep ! "no X-UID" - ;;
	75) test_grep "No space left" err && unchanged ;;
	*) cat err >&2; false ;;
	esac &&
	fill u.unix u &&
	rc=0 && mbu prune -q full/u.unix 1:3 2>err || rc=$? &&
	case $rc in
	0) test "$(count "$H/full/u.unix")" = $((n - 3)) ;;
	75) test_grep "No space left" err && unchanged ;;
	*) cat err >&2; false ;;
	esac
'

test_expect_success TMPFS 'full disk: dmail into a folder: 75, folder as it was' '
	fill fold small.orig &&
	expect 75 "No space left\|disk full" mbu dmail +full/fold <onebig &&
	unchanged
'

test_expect_success TMPFS 'full disk: spool-move: 75, the spool kept, DEST as it was' '
	cp big.orig "$H/spool/$U" && own "$H/spool/$U" &&
	fill dest small.orig &&
	snap "$H/spool" >spool.snap &&
	expect 75 "No space left" mbu spool-move "$H/spool/$U" full/dest &&
	unchanged && snap "$H/spool" >spool.after &&
	test_cmp spool.snap spool.after &&
	rm -f "$H/full/dest" &&
	expect 75 "No space left" mbu spool-move --format=mbx "$H/spool/$U" full/dest &&
	test ! -e "$H/full/dest" && snap "$H/spool" >spool.after &&
	test_cmp spool.snap spool.after
'

# --- read-only files and directories, as the user

mkdir "$H/ro" "$H/rodir" && own "$H/ro" "$H/rodir" || exit 1
# ro: NAME SRC: ro/NAME, a read-only copy of SRC, in a writable directory;
# rodir/ is read-only itself.
ro() {
	chmod 755 "$H/rodir" &&
	rm -rf "$H/ro/"* "$H/ro/".[!.]* "$H/rodir/"* &&
	cp "$2" "$H/ro/$1" && own "$H/ro/$1" && chmod 444 "$H/ro/$1" &&
	cp small.orig "$H/rodir/in" && own "$H/rodir/in" &&
	chmod 555 "$H/rodir" &&
	snap "$H/ro" "$H/rodir" "$H/small.unix" "$H/big.unix" >before.snap
}
rounchanged() {
	snap "$H/ro" "$H/rodir" "$H/small.unix" "$H/big.unix" >after.snap &&
	test_cmp before.snap after.snap
}
test_atexit "chmod 755 '$H/rodir'"

test_expect_success 'read-only: convert into a read-only directory or --append to a read-only file 77' '
	ro old small.orig &&
	expect 77 "rodir" mbu convert -q small.unix rodir/new &&
	expect 77 "ro/old" mbu convert -q --append small.unix ro/old &&
	rounchanged
'

test_expect_success 'read-only: repair and uid-rebuild of a read-only mailbox: 77' '
	head -c 15000 big.orig >torn && ro torn torn &&
	expect 77 "ro/torn" mbu repair ro/torn &&
	rounchanged &&
	ro u small.orig &&
	expect 77 "ro/u" mbu uid-rebuild ro/u &&
	rounchanged &&
	expect 77 "rodir" mbu uid-rebuild rodir/in &&
	expect 77 "rodir" mbu repair rodir/in &&
	rounchanged
'

test_expect_success 'read-only: append, copy and move into a read-only DST: 77' '
	ro dst small.orig &&
	msg a1 >a1 &&
	expect 77 "ro/dst" mbu append ro/dst <a1 &&
	expect 77 "ro/dst" mbu copy -q --existing small.unix ro/dst &&
	expect 77 "ro/dst" mbu move -q --existing small.unix ro/dst &&
	expect 77 "rodir" mbu copy -q small.unix rodir/new &&
	expect 77 "rodir" mbu move -q small.unix rodir/new &&
	expect 77 "rodir" mbu prune -q rodir/in 1 &&
	rounchanged
'

test_expect_success 'read-only: dmail into a read-only folder: 75 (as deliver: the MTA retries), untouched' '
	ro fold small.orig &&
	expect 75 "ro/fold" mbu dmail +ro/fold <a1 &&
	rounchanged
'

test_expect_success 'read-only: spool-move with a read-only spool or DEST: 77, untouched' '
	ro dest small.orig &&
	cp big.orig "$H/spool/$U" && own "$H/spool/$U" && chmod 444 "$H/spool/$U" &&
	snap "$H/spool" >spool.snap &&
	expect 77 "$U" mbu spool-move "$H/spool/$U" ro/newdest &&
	test ! -e "$H/ro/newdest" &&
	chmod 644 "$H/spool/$U" && snap "$H/spool" >spool.snap &&
	expect 77 "ro/dest" mbu spool-move "$H/spool/$U" ro/dest &&
	snap "$H/spool" >spool.after && test_cmp spool.snap spool.after &&
	rounchanged
'

# --- a read-only file system: EROFS even for root

if mkdir "$TRASH/rofs" && mount -t tmpfs -o size=1m tmpfs "$TRASH/rofs" 2>/dev/null
then
	test_atexit "umount '$TRASH/rofs'"
	cp small.orig rofs/box && head -c 15000 big.orig >rofs/torn &&
	mkdir rofs/spool && cp small.orig "rofs/spool/$U" &&
	chown "$U:$UW_GROUP" "rofs/spool/$U" &&
	mount -o remount,ro "$TRASH/rofs" && test_set_prereq ROFS
fi

test_expect_success ROFS 'read-only file system: every writing command refuses, nothing changes' '
	snap rofs >rofs.snap &&
	expect 77 "rofs" mailbag convert -q small.orig rofs/new &&
	expect 77 "rofs/box" mailbag convert -q --append small.orig rofs/box &&
	expect 77 "rofs/torn" mailbag repair rofs/torn &&
	expect 77 "rofs/box" mailbag uid-rebuild rofs/box &&
	expect 77 "rofs/box" mailbag append rofs/box <a1 &&
	expect 77 "rofs/box" mailbag copy -q --existing small.orig rofs/box &&
	expect 77 "rofs" mailbag copy -q small.orig rofs/new &&
	expect 77 "rofs/box" mailbag move -q rofs/box moved &&
	test ! -e moved &&
	expect 77 "rofs/box" mailbag prune -q rofs/box 1 &&
	expect 75 "rofs" mailbag deliver --set spool-directory="$TRASH/rofs/spool" \
		"$U" <a1 &&
	expect 77 "rofs" mailbag spool-move rofs/box dest &&
	test ! -e dest &&
	snap rofs >rofs.after && test_cmp rofs.snap rofs.after
'

test_done

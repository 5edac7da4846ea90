#!/bin/bash
test_description='spool-move --all-users: as root, each user'"'"'s mail into their own INBOX, as them'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root to make throwaway users"
command -v useradd >/dev/null 2>&1 || skip_all "useradd missing"
getent group mail >/dev/null || skip_all "no group mail"
uw_open_path || skip_all "the trash directory cannot be opened to others"

# A private spool directory like Debian's /var/mail (2775 root:mail): the
# real one holds other tests' spool files, which --all-users would move.
SPOOL=$TRASH/spool
mkdir "$SPOOL" && chgrp mail "$SPOOL" && chmod 2775 "$SPOOL" || exit 1

USERS=''
del_users() {
	local u i
	for u in $USERS; do
		for i in $(seq 1 40); do
			userdel "$u" 2>/dev/null && break
			id "$u" >/dev/null 2>&1 || break
			sleep "0.$((RANDOM % 9 + 1))"
		done
	done
}
test_atexit del_users

# new_user VAR HOME: a throwaway user with that home (not created), its
# name in $VAR.
new_user() {
	local name i rc
	for i in $(seq 1 40); do
		name=mbs$(printf '%05d%04x' $$ $((RANDOM)))
		rc=0
		useradd -M -d "$2" -s /bin/sh "$name" 2>useradd.err || rc=$?
		case $rc in
		0) USERS="$USERS $name"; eval "$1=\$name"; return 0 ;;
		9) ;;
		*) sleep "0.$((RANDOM % 9 + 1))" ;;
		esac
	done
	cat useradd.err >&2
	return 1
}
# home USER: make the user's home, theirs, mode 700.
home() {
	local h
	h=$(getent passwd "$1" | cut -d: -f6) &&
	mkdir -p "$h" && chown "$1:" "$h" && chmod 700 "$h"
}
# spool USER GEN-SEED COUNT: USER's spool file with COUNT messages.
spool() {
	"$HELPER/gen-mbox" --seed "$2" --count "$3" -o "$SPOOL/$1" &&
	chown "$1:mail" "$SPOOL/$1" && chmod 660 "$SPOOL/$1"
}
ids() {
	rm -f ids.tmp &&
	"$MAILBAG" convert -q --set uw-metadata=no --to=unix "$1" ids.tmp &&
	grep -a "^Message-ID:" ids.tmp | tr -d "\r" | sort
}

test_expect_success 'setup: four users, three with spool mail, one of them without a home' '
	mkdir homes && chmod 755 homes &&
	new_user A "$TRASH/homes/a" && home $A && spool $A 71 5 &&
	new_user B "$TRASH/homes/b" && home $B && spool $B 72 3 &&
	new_user C "$TRASH/homes/nonesuch" && spool $C 73 2 &&
	new_user D "$TRASH/homes/d" && home $D && : >"$SPOOL/$D" &&
	chown "$D:mail" "$SPOOL/$D" &&
	: >"$TRASH/homes/b/mbox" && chown $B: "$TRASH/homes/b/mbox" &&
	for u in $A $B $C; do ids "$SPOOL/$u" >want.$u || return 1; done &&
	cp "$SPOOL/$C" keep.c &&
	# not users, or not theirs: left alone
	"$HELPER/gen-mbox" --seed 74 --count 1 -o "$SPOOL/nosuchuser$$" &&
	"$HELPER/gen-mbox" --seed 75 --count 1 -o "$SPOOL/daemon" &&
	cp "$SPOOL/daemon" keep.daemon
'

test_expect_success 'spool-move --all-users: each into their own INBOX, as them; the rest skipped' '
	rc=0 &&
	"$MAILBAG" spool-move --all-users --set "spool-directory=$SPOOL" \
		>out 2>err || rc=$? &&
	cat out err && test "$rc" = 0 &&
	# A: a new mbx ~/INBOX, owned by A, the spool emptied
	inbox=$TRASH/homes/a/INBOX &&
	test "$(stat -c %U:%a "$inbox")" = "$A:600" &&
	"$MAILBAG" check "$inbox" | grep -q ": mbx, 5 messages" &&
	ids "$inbox" >got && test_cmp want.$A got &&
	! test -s "$SPOOL/$A" &&
	grep -q "^$SPOOL/$A: moved 5 messages .* to $inbox (created)" out &&
	# B: ~/mbox is INBOX for UW, so the mail went there, still B'"'"'s
	test "$(stat -c %U "$TRASH/homes/b/mbox")" = "$B" &&
	ids "$TRASH/homes/b/mbox" >got && test_cmp want.$B got &&
	! test -e "$TRASH/homes/b/INBOX" && ! test -s "$SPOOL/$B" &&
	# C: no home: skipped, mail kept, said so
	cmp keep.c "$SPOOL/$C" &&
	grep -q "$SPOOL/$C: $C has no home directory ($TRASH/homes/nonesuch), skipped; the mail stays in the spool" err &&
	! test -e "$TRASH/homes/nonesuch" &&
	# D: nothing to move, nothing made
	! test -e "$TRASH/homes/d/INBOX" && test "$(ls -A "$TRASH/homes/d")" = "" &&
	# no such user, a file not the user'"'"'s: left alone
	grep -q "$SPOOL/nosuchuser$$: no such user, skipped" err &&
	grep -q "$SPOOL/daemon: not a regular file owned by daemon, skipped" err &&
	cmp keep.daemon "$SPOOL/daemon" &&
	test "$(wc -l <err)" = 3 &&
	ls -A "$SPOOL" | grep "\.lock" >locks; test_must_be_empty locks
'

test_expect_success 'a second run moves nothing; new mail for A goes to the same INBOX' '
	"$MAILBAG" spool-move --all-users --set "spool-directory=$SPOOL" >out 2>err &&
	! grep -q moved out &&
	spool $A 76 2 && ids "$SPOOL/$A" >more &&
	"$MAILBAG" spool-move --all-users --json --set "spool-directory=$SPOOL" \
		>out 2>err && cat out &&
	grep -q "\"messages\":2" out &&
	sort want.$A more >want2 && ids "$TRASH/homes/a/INBOX" >got &&
	test_cmp want2 got && cmp keep.c "$SPOOL/$C"
'

test_expect_success 'UW reads each user'"'"'s INBOX as theirs (mailutil check as the user)' '
	for u in $A $B; do
		h=$(getent passwd $u | cut -d: -f6) &&
		(cd "$h" && env -i PATH=/usr/bin:/bin HOME="$h" USER=$u LOGNAME=$u \
			MAIL="$SPOOL/$u" setpriv --reuid=$u --regid=$(id -g $u) \
			--init-groups mailutil check INBOX) >uw.$u 2>&1 || return 1
		cat uw.$u
	done &&
	grep -q " 7 total in" uw.$A && grep -q " 3 total in" uw.$B
'

test_expect_success 'a user whose spool is locked: 75 for the run, the others still moved' '
	spool $A 77 1 && spool $B 78 1 &&
	touch "$SPOOL/$A.lock" &&
	rc=0 && "$MAILBAG" spool-move --all-users --lock-timeout=1 \
		--set "spool-directory=$SPOOL" >out 2>err ||
		rc=$? &&
	cat out err && test "$rc" = 75 &&
	test -s "$SPOOL/$A" && ! test -s "$SPOOL/$B" &&
	grep -q "^$SPOOL/$B: moved 1 message" out &&
	rm -f "$SPOOL/$A.lock"
'

test_expect_success 'not root: refused' '
	h=$TRASH/homes/a &&
	rc=0 && (cd "$h" && setpriv --reuid=$A --regid=$(id -g $A) --init-groups \
		"$MAILBAG" spool-move --all-users --set "spool-directory=$SPOOL") \
		>out 2>err || rc=$? &&
	cat err && test "$rc" = 77 && grep -q "needs root" err
'

test_done

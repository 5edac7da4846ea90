#!/bin/bash
test_description='torture: mailbag, UW tmail and mailutil, procmail and dovecot-lda write one mailbox at once'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

# Every writer appends to (or, mailbag prune, expunges from) the same
# mailbox at the same time, each through its own locks: mailbag takes
# the dot-lock, flock and fcntl; UW's c-client the dot-lock and flock
# (mbx: flock only); procmail the dot-lock and fcntl; Dovecot the
# dot-lock and fcntl (mbox_write_locks).  The mailbox lives in the
# user's home, where every writer can make the dot-lock (in a 2775
# /var/mail tmail cannot, and races procmail: t5200 shows that).
# Afterwards every Message-ID must be there exactly once, the pruned
# seed messages gone, mailbag check clean and UW's count the same.

[ "$(id -u)" = 0 ] || skip_all "needs root: runs the peers as a throwaway user"
command -v tmail >/dev/null 2>&1 || skip_all "UW tmail missing"
command -v procmail >/dev/null 2>&1 || skip_all "procmail missing"
LDA=/usr/lib/dovecot/dovecot-lda
[ -x "$LDA" ] || skip_all "dovecot-lda missing (dovecot-core)"
uw_setup
U=$UW_USER H=$UW_HOME
# Rounds per writer; ROUNDS=50 for a longer run.
R=${ROUNDS:-10}

# as_u CMD...: CMD as the user, in the home, with a clean environment.
as_u() {
	(
		cd "$H" || exit 1
		exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$H" USER="$U" \
			LOGNAME="$U" TZ=UTC LC_ALL=C ASAN_OPTIONS="$ASAN_OPTIONS" \
			UBSAN_OPTIONS="$UBSAN_OPTIONS" LSAN_OPTIONS="$LSAN_OPTIONS" \
			setpriv --reuid="$U" --regid="$UW_GROUP" --init-groups -- "$@"
	)
}
mb() { local c=$1; shift; as_u "$MAILBAG" "$c" --set lock-timeout=120 "$@"; }
# msg ID [LINE]: a small message with Message-ID <ID@test> and a body
# line that writers must quote ("From "), or LINE instead: Dovecot's mbox
# never quotes, it writes Content-Length and trusts it.
msg() {
	printf 'From sender@example.com Mon Jan  1 00:00:00 2024\nMessage-ID: <%s@test>\nSubject: %s\n\nbody of %s\n%s\n' \
		"$1" "$1" "$1" "${2:-From here, a quoted line}"
}
# ids FILE: Message-IDs with their counts, via a unix copy (mbx has CRLF).
ids() {
	rm -f "$TRASH/.ids" && mailbag convert -q "$1" "$TRASH/.ids" &&
		tr -d '\r' <"$TRASH/.ids" |
		sed -n 's/^Message-ID: <\(.*\)@test>$/\1/p' | sort | uniq -c |
		sed 's/^ *//'
}
mb_count() {
	mailbag check "$1" | sed -n 's/^[^:]*: [a-z]*, \([0-9]*\) messages.*: ok\( ([0-9]* warnings\?)\)\?$/\1/p'
}
uw_total() {
	uw_run mailutil check "$1" >uw.out 2>&1
	sed -n -e 's/^No new messages, \([0-9]*\) total in .*/\1/p' \
		-e 's/^[0-9]* new message(s) ([0-9]* unseen), \([0-9]*\) total in .*/\1/p' uw.out
}

# The Dovecot LDA's configuration and log, in a directory of the user's.
DC=$TRASH/dc
mkdir -p "$DC/run" "$DC/state" && chown -R "$U:$UW_GROUP" "$DC" || exit 1
cat >"$DC/lda.conf" <<EOF
base_dir = $DC/run
state_dir = $DC/state
log_path = $DC/lda.log
ssl = no
mail_location = mbox:$H/dmail:INBOX=$H/box:INDEX=MEMORY
mbox_write_locks = dotlock fcntl
mbox_read_locks = fcntl
mbox_lock_timeout = 120s
postmaster_address = postmaster@test
EOF
# procmail as the user: the dot-lock box.lock (and fcntl), retried each second.
cat >"$H/pm.rc" <<EOF
LOCKSLEEP=1
LOGFILE=$H/pm.log
:0:
$H/box
EOF
chown "$U:$UW_GROUP" "$H/pm.rc" && chmod 600 "$H/pm.rc" || exit 1

# writers BOX PEERS: start every writer on BOX in the background; PEERS
# "all" adds procmail and dovecot-lda (unix only).  Each writer records
# the IDs it delivered successfully in exp.NAME; a failure ends it and
# leaves fail.NAME.
writers() {
	local box=$1 peers=$2 i
	rm -f exp.* fail.* && pids=
	# mailbag deliver, as root for the user's folder
	(
		for i in $(seq 1 "$R"); do
			msg "dl$i" | mailbag deliver --set lock-timeout=120 \
				--set dotlock-timeout=120 "$U+$box" || { touch fail.dl; exit 1; }
			echo "dl$i" >>exp.dl
		done
	) & pids="$pids $!"
	# mailbag append, as the user
	(
		for i in $(seq 1 "$R"); do
			msg "ap$i" | mb append -q "$box" || { touch fail.ap; exit 1; }
			echo "ap$i" >>exp.ap
		done
	) & pids="$pids $!"
	# mailbag copy: two messages at a time from a source of the user's
	(
		for i in $(seq 1 "$R"); do
			mb copy -q --existing "cp$i.src" "$box" ||
				{ touch fail.cp; exit 1; }
			printf 'cp%sa\ncp%sb\n' "$i" "$i" >>exp.cp
		done
	) & pids="$pids $!"
	# mailbag prune: expunge message 1, one of the seeds, while
	# everyone else appends behind it
	(
		for i in $(seq 1 "$R"); do
			mb prune -q "$box" 1 || { touch fail.pr; exit 1; }
		done
	) & pids="$pids $!"
	# UW tmail, as root: it becomes the user
	(
		for i in $(seq 1 "$R"); do
			msg "tm$i" | tmail "$U+$box" 2>>tmail.err ||
				{ touch fail.tm; exit 1; }
			echo "tm$i" >>exp.tm
		done
	) & pids="$pids $!"
	# UW mailutil append, as the user: two messages at a time
	(
		for i in $(seq 1 "$R"); do
			uw_run mailutil append "mu$i.src" "$box" >>mu.out 2>&1 ||
				{ touch fail.mu; exit 1; }
			printf 'mu%sa\nmu%sb\n' "$i" "$i" >>exp.mu
		done
	) & pids="$pids $!"
	[ "$peers" = all ] || return 0
	# procmail, as the user
	(
		for i in $(seq 1 "$R"); do
			msg "pm$i" | as_u procmail -m "$H/pm.rc" ||
				{ touch fail.pm; exit 1; }
			echo "pm$i" >>exp.pm
		done
	) & pids="$pids $!"
	# Dovecot's LDA, as the user
	(
		for i in $(seq 1 "$R"); do
			msg "dv$i" "from here" | as_u "$LDA" -c "$DC/lda.conf" \
				-f sender@example.com || { touch fail.dv; exit 1; }
			echo "dv$i" >>exp.dv
		done
	) & pids="$pids $!"
}

# verify BOX: every writer succeeded; the expected IDs, each once.
verify() {
	local box=$1 p rc=0
	for p in $pids; do wait "$p" || rc=1; done
	ls fail.* 2>/dev/null && return 1
	test "$rc" = 0 &&
	cat exp.* | sort | sed 's/^/1 /' >expect &&
	ids "$H/$box" | sort >got &&
	test_cmp expect got &&
	mailbag check "$H/$box" &&
	n=$(wc -l <expect) &&
	test "$(mb_count "$H/$box")" = "$n" &&
	test "$(uw_total "$box")" = "$n"
}

# seed BOX FORMAT: BOX with R seed messages, the ones prune removes,
# and the sources of mailbag copy and mailutil append.
seed() {
	local i
	rm -f seed.in &&
	for i in $(seq 1 "$R"); do
		msg "seed$i" >>seed.in &&
		{ msg "cp${i}a"; msg "cp${i}b"; } >"cp$i.in" &&
		{ msg "mu${i}a"; msg "mu${i}b"; } >"mu$i.in" &&
		uw_put "cp$i.in" "cp$i.src" && uw_put "mu$i.in" "mu$i.src" ||
			return 1
	done &&
	uw_put seed.in seed.src &&
	mb convert -q --to="$2" seed.src "$1" &&
	test "$(mb_count "$H/$1")" = "$R"
}

test_expect_success 'unix: 4 mailbag writers, tmail, mailutil, procmail and dovecot-lda at once' '
	seed box unix &&
	start=$(date +%s) &&
	writers box all &&
	verify box &&
	echo "unix: $(wc -l <expect) messages in $(($(date +%s) - start)) s" &&
	test_grep ! "vulnerable" tmail.err &&
	test_grep "saved mail to INBOX" "$DC/lda.log" &&
	test_grep ! -i "error\|warning" "$DC/lda.log"
'

test_expect_success 'unix: UW copies the result in full, message for message' '
	uw_run mailutil copy box box.copy >uw.out 2>&1 &&
	test "$(mb_count "$H/box.copy")" = "$(wc -l <expect)" &&
	ids "$H/box.copy" | sort >got2 && test_cmp expect got2
'

test_expect_success 'mbx: 4 mailbag writers, tmail and mailutil at once' '
	seed mbx.box mbx &&
	start=$(date +%s) &&
	writers mbx.box uw &&
	verify mbx.box &&
	echo "mbx: $(wc -l <expect) messages in $(($(date +%s) - start)) s" &&
	test_grep ! "vulnerable" tmail.err
'

test_done

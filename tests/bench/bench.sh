#!/bin/sh
# bench.sh BUILD_DIR - mailbag vs. cat/cp and UW mailutil on seeded corpora.
#
# Called by `make bench`.  Knobs (environment):
#   BENCH_SIZES    corpus sizes, default "1M 100M 1G"
#   BENCH_RUNS     runs per job, default 5 (the median is reported)
#   BENCH_RUNS_BIG runs per job for corpora >= 1 GiB, default 3
#   BENCH_DATA     corpus/scratch directory, default REPO/build/bench-data
#   BENCH_SEED     generator seed, default 1
#   BENCH_STRICT   1 (default): a missed target makes the exit status 2
#   BENCH_USER     unprivileged user for mailutil/doveadm when run as root (nobody)
#   BENCH_JOBS     job groups to run, default all:
#                  "check unix mmdf mbx repair maildir mix gz deliver spool search fetch"
#   BENCH_DELIVERIES deliveries per run of a deliver job, default 200
#   BENCH_RUNS_SLOW runs of the slow peers (doveadm, python) on corpora
#                  >= 1 GiB, default 1
#   BENCH_FETCH_MSGS messages on the local Dovecot for group fetch (10000)
#   BENCH_FETCH_RUNS runs per fetch job, default 3
#   BENCH_FETCH_RUNS_SLOW runs of getmail and fetchmail (minutes each
#                  at 10,000 messages), default 1
# Exit status: 0 all good, 1 a job failed or a tool is missing,
# 2 all jobs ran but a target was missed.
# See tests/bench/README.md.
# shellcheck disable=SC2317 # v_* hooks are called through $verify

set -u

usage() {
	echo "usage: sh tests/bench/bench.sh BUILD_DIR" >&2
	exit 64
}

[ $# -eq 1 ] || usage
BUILD=$(cd "$1" 2>/dev/null && pwd) || { echo "bench: no build dir $1" >&2; exit 64; }
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${BENCH_DATA:-$REPO/build/bench-data}
SIZES=${BENCH_SIZES:-"1M 100M 1G"}
RUNS=${BENCH_RUNS:-5}
RUNS_BIG=${BENCH_RUNS_BIG:-3}
SEED=${BENCH_SEED:-1}
STRICT=${BENCH_STRICT:-1}
MU_USER=${BENCH_USER:-nobody}
ALL_JOBS="check unix mmdf mbx repair maildir mix gz deliver spool search fetch"
JOBS=${BENCH_JOBS:-$ALL_JOBS}
RUNS_SLOW=${BENCH_RUNS_SLOW:-1}
NDEL=${BENCH_DELIVERIES:-200}
FETCH_N=${BENCH_FETCH_MSGS:-10000}
FETCH_RUNS=${BENCH_FETCH_RUNS:-3}
FETCH_RUNS_SLOW=${BENCH_FETCH_RUNS_SLOW:-1}
for j in $JOBS; do
	case " $ALL_JOBS " in
	*" $j "*) ;;
	*) echo "bench: unknown job group '$j' (known: $ALL_JOBS)" >&2; exit 64 ;;
	esac
done
want() { case " $JOBS " in *" $1 "*) return 0 ;; esac; return 1; }
MAILBAG=$BUILD/bin/mailbag
GEN=$BUILD/tests/helper/gen-mbox
GEN_SRC=$REPO/tests/helper/gen-mbox.c
REPORT=$BUILD/bench-report.txt
MAILUTIL=$(command -v mailutil 2>/dev/null || true)
DOVEADM=$(command -v doveadm 2>/dev/null || true)
MB2MD=$(command -v mb2md 2>/dev/null || true)
PYTHON=$(command -v python3 2>/dev/null || true)
TMAIL=$(command -v tmail 2>/dev/null || true)
DMAIL=$(command -v dmail 2>/dev/null || true)
MOVEMAIL=$(command -v movemail 2>/dev/null || true)
LDA=/usr/lib/dovecot/dovecot-lda
MBSYNC=$(command -v mbsync 2>/dev/null || true)
FETCHMAIL=$(command -v fetchmail 2>/dev/null || true)
GETMAIL=$(command -v getmail 2>/dev/null || true)
PROCMAIL=$(command -v procmail 2>/dev/null || true)
TIME=/usr/bin/time

# targets
T_CHECK_CAT=1.5   # mailbag check <= 1.5 x cat (warm cache)
T_RSS_MB=64       # peak RSS of every mailbag job < 64 MB
T_MIN_BYTES=67108864  # ratio targets apply from 64 MiB up (startup noise below)
T_GZ_ZCAT=1.3     # mailbag check FILE.gz <= 1.3 x zcat FILE.gz >/dev/null
# mbox -> maildir: mailbag faster than every peer (doveadm, mb2md, python);
# mbox -> mix: faster than mailutil; cp -r is the floor, shown, no target

OUT=$DATA/out
MUHOME=$DATA/uw
RES=$DATA/results.tsv
COUNTS=$DATA/counts.tsv
LOG=$DATA/bench.log
failed=0
missed=0

log() { printf '%s\n' "$*" >&2; }

# single-quote a string for sh -c
q() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

mkdir -p "$DATA" "$OUT" || exit 1
: >"$RES"
: >"$COUNTS"
: >"$LOG"

# --- environment checks -------------------------------------------------

# df -T names ext4 as such (stat -f says "ext2/ext3" for all three)
fstype=$(df -T "$DATA" 2>/dev/null | awk 'NR == 2 {print $2}')
[ -n "$fstype" ] || fstype=$(stat -f -c %T "$DATA" 2>/dev/null || echo unknown)
case $fstype in
tmpfs | ramfs)
	log "bench: WARNING: $DATA is on $fstype, not a real disk;" \
		"set BENCH_DATA to a directory on disk"
	;;
esac

have_time=1
[ -x "$TIME" ] || { have_time=0; log "bench: $TIME missing: no peak RSS"; }
ns_clock=1
case $(date +%N) in *N*) ns_clock=0 ;; esac

now_ns() {
	if [ $ns_clock = 1 ]; then
		date +%s%N
	else
		echo "$(date +%s)000000000"
	fi
}

# --- generator ----------------------------------------------------------

newer() { # is $1 newer than $2?
	[ -n "$(find "$1" -newer "$2" 2>/dev/null)" ]
}

if [ ! -x "$GEN" ] || newer "$GEN_SRC" "$GEN"; then
	# the helper is normally built by `make all`; build it standalone when
	# the library (which every helper links with) does not build yet
	GEN=$DATA/gen-mbox
	if [ ! -x "$GEN" ] || newer "$GEN_SRC" "$GEN"; then
		log "bench: building $GEN"
		${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
			-o "$GEN" "$GEN_SRC" || { log "bench: cannot build gen-mbox"; exit 1; }
	fi
fi
gen_sum=$(cksum <"$GEN_SRC" | cut -d' ' -f1)

to_bytes() {
	case $1 in
	*[kK]) echo $((${1%?} * 1024)) ;;
	*[mM]) echo $((${1%?} * 1048576)) ;;
	*[gG]) echo $((${1%?} * 1073741824)) ;;
	*) echo "$1" ;;
	esac
}

# corpus SIZE -> sets F (path), OFF (planted bad-UID message offset),
# XOFF (offset of its X-UID line), NMSG, BYTES
corpus() {
	F=$DATA/corpus-$1-s$SEED.mbox
	info=$F.info
	if [ ! -s "$F" ] || [ ! -s "$info" ] ||
		[ "$(sed -n 's/^gen=//p' "$info")" != "$gen_sum" ]; then
		log "bench: generating $F"
		t0=$(now_ns)
		if ! "$GEN" --seed "$SEED" --size "$1" --bad-uid-near-end \
			-o "$F.tmp" 2>"$info.tmp"; then
			cat "$info.tmp" >&2
			rm -f "$F.tmp" "$info.tmp"
			return 1
		fi
		t1=$(now_ns)
		echo "gen=$gen_sum" >>"$info.tmp"
		echo "gen_seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", (b-a)/1e9}')" >>"$info.tmp"
		mv "$F.tmp" "$F" && mv "$info.tmp" "$info" || return 1
		log "bench: $(tr '\n' ' ' <"$info")"
	fi
	OFF=$(sed -n 's/^bad-uid offset=\([0-9]*\) .*/\1/p' "$info")
	XOFF=$(sed -n 's/^bad-uid .* xuid-offset=\([0-9]*\).*/\1/p' "$info")
	NMSG=$(sed -n 's/^messages=\([0-9]*\) .*/\1/p' "$info")
	BYTES=$(wc -c <"$F" | tr -d ' ')
	[ -n "$OFF" ] && [ -n "$XOFF" ] && [ -n "$NMSG" ]
}

# --- mailutil as an unprivileged user ----------------------------------
#
# Debian's mailutil only takes names relative to $HOME (restrictBox) and
# cannot be run usefully as root, so as root it runs as $MU_USER with
# HOME=$MUHOME, a directory that user owns; the corpus is hard-linked
# into it (same inode: same page cache, no copy).

MU_RUN=
DV_RUN=
mu_setup() {
	[ -n "$MAILUTIL" ] || return 1
	rm -rf "$MUHOME"
	mkdir -p "$MUHOME" || return 1
	if [ "$(id -u)" = 0 ]; then
		id "$MU_USER" >/dev/null 2>&1 || { log "bench: no user $MU_USER"; return 1; }
		chown "$MU_USER" "$MUHOME" && chmod 755 "$MUHOME" || return 1
		if ! runuser -u "$MU_USER" -- test -w "$MUHOME"; then
			log "bench: $MU_USER cannot reach $MUHOME (parent directory modes?)"
			return 1
		fi
		MU_RUN="runuser -u $MU_USER -- env HOME=$(q "$MUHOME") $MAILUTIL"
		DV_RUN="runuser -u $MU_USER -- env -i HOME=$(q "$MUHOME") USER=$MU_USER PATH=/usr/bin:/bin"
	else
		MU_RUN="env HOME=$(q "$MUHOME") $MAILUTIL"
		DV_RUN="env -i HOME=$(q "$MUHOME") USER=$(id -un) PATH=/usr/bin:/bin"
	fi
	return 0
}

mu_link() { # corpus path -> MUNAME (name relative to MUHOME)
	MUNAME=$(basename "$1")
	ln -f "$1" "$MUHOME/$MUNAME" 2>/dev/null || cp "$1" "$MUHOME/$MUNAME" || return 1
	chmod 644 "$MUHOME/$MUNAME"
	if [ "$(id -u)" = 0 ] && ! runuser -u "$MU_USER" -- test -r "$MUHOME/$MUNAME"; then
		log "bench: $MU_USER cannot read $MUHOME/$MUNAME"
		return 1
	fi
}

mu_ok=0
if mu_setup; then mu_ok=1; else log "bench: mailutil unavailable"; fi

# --- delivery and spool jobs: a throwaway user with a home in DATA ----------
#
# Delivery agents deliver into the recipient's home (pw_dir), so the
# deliver and spool groups make a user of their own (root only), whose
# home DHOME holds the INBOXes; DSPOOL is a private spool directory
# (mode 1777: every tool can make its dot-lock there).

DU=
DHOME=$DATA/dhome
DSPOOL=$DATA/dspool
du_cleanup() {
	[ -n "$DU" ] || return 0
	userdel "$DU" 2>/dev/null
	DU=
}
du_setup() {
	[ "$(id -u)" = 0 ] || { log "bench: deliver/spool jobs need root"; return 1; }
	command -v useradd >/dev/null 2>&1 || { log "bench: useradd missing"; return 1; }
	rm -rf "$DHOME" "$DSPOOL"
	mkdir -p "$DHOME" "$DSPOOL" && chmod 1777 "$DSPOOL" || return 1
	DU=mbbench$$
	useradd -M -d "$DHOME" -s /bin/sh "$DU" 2>>"$LOG" || { DU=; return 1; }
	chown "$DU:" "$DHOME" && chmod 700 "$DHOME" || return 1
	if ! runuser -u "$DU" -- test -w "$DHOME"; then
		log "bench: $DU cannot reach $DHOME (parent directory modes?)"
		return 1
	fi
	# one small message, as an MTA hands it over
	{
		echo "From sender@example.com Mon Jan  1 00:00:00 2024"
		echo "Return-Path: <sender@example.com>"
		echo "From: Sender <sender@example.com>"
		echo "To: $DU@localhost"
		echo "Subject: bench delivery"
		echo "Date: Mon, 1 Jan 2024 00:00:00 +0000"
		echo "Message-ID: <bench@example.com>"
		echo
		i=0
		while [ $i -lt 30 ]; do
			echo "A line of body text, about seventy characters long, for the bench $i."
			i=$((i + 1))
		done
	} >"$DATA/dmsg" && chmod 644 "$DATA/dmsg" || return 1
	printf 'log_path = /dev/stderr\ninfo_log_path = /dev/null\nmail_location = mbox:~/mail:INBOX=~/mbox\n' \
		>"$DHOME/lda.conf" && chown "$DU:" "$DHOME/lda.conf"
	DU_RUN="runuser -u $DU -- env -i HOME=$(q "$DHOME") USER=$DU LOGNAME=$DU PATH=/usr/bin:/bin"
	return 0
}
du_ok=0
if want deliver || want spool; then
	if du_setup; then du_ok=1; else log "bench: no delivery user: deliver/spool jobs fail"; fi
fi
DCS=
trap 'fetch_stop; rm -rf "$MUHOME" "$OUT" "$DHOME" "$DSPOOL"; du_cleanup' EXIT
trap 'exit 130' INT TERM

# Python's mailbox module: mbox -> Maildir, flags through MaildirMessage
PY_MAILDIR='import mailbox, sys
src = mailbox.mbox(sys.argv[1], create=False)
dst = mailbox.Maildir(sys.argv[2], factory=None, create=True)
n = 0
for m in src:
    dst.add(mailbox.MaildirMessage(m))
    n += 1
print("messages=%d" % n)'

# --- one job ---------------------------------------------------------------

# record GROUP TOOL SIZE BYTES STATUS MEDIAN RSS_KB RUNS
record() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RES"
}

# verification hooks: called after every run with the output file in $1
v_none() { return 0; }
v_offset() { # mailbag check must name the planted offset
	# the offset of the message's From line or of its X-UID: line
	for o in $OFF $XOFF; do
		grep -Eq "(^|[^0-9])$o([^0-9]|\$)" "$1" && return 0
	done
	VMSG="offset $OFF/$XOFF not reported"
	return 1
}
v_mu_check() {
	grep -q "$NMSG total" "$1" && return 0
	VMSG="message count $NMSG not reported"
	return 1
}
v_unix_out() { # $2 = output file
	[ "$(head -c 5 "$2" 2>/dev/null)" = "From " ] && return 0
	VMSG="no unix output"
	return 1
}
v_count() { # $2 = a mailbox mailbag reads: must hold NMSG messages
	"$MAILBAG" check "$2" >"$DATA/verify.out" 2>&1
	grep -q ", $NMSG messages," "$DATA/verify.out" && return 0
	VMSG="not $NMSG messages: $(head -c 200 "$DATA/verify.out" | tr '\n' ' ')"
	return 1
}
v_files() { # $2 = a maildir: NMSG files in cur/ and new/
	c=$(find "$2/cur" "$2/new" -type f 2>/dev/null | wc -l | tr -d ' ')
	[ "$c" = "$NMSG" ] && return 0
	VMSG="$c message files, not $NMSG"
	return 1
}
v_py() { # python's own count and the files
	grep -q "^messages=$NMSG\$" "$1" || { VMSG="python: not $NMSG messages"; return 1; }
	v_files "$@"
}
v_delivered() { # $2 = the mailbox: NMSG + NDEL messages (the corpus
	# keeps its planted UID defect; nothing else may be reported)
	"$MAILBAG" check "$2" >"$DATA/verify.out" 2>&1
	n=$((NMSG + NDEL))
	if grep -q ", $n messages," "$DATA/verify.out" &&
		[ "$(grep -c "^$2: at byte" "$DATA/verify.out")" -le 1 ]; then
		return 0
	fi
	VMSG="not $n messages: $(head -c 200 "$DATA/verify.out" | tr '\n' ' ')"
	return 1
}
v_moved() { # $2 = DEST (NMSG messages); the spool left empty or gone
	v_count "$@" || return 1
	[ ! -s "$SPOOLF" ] && return 0
	# UW leaves its pseudo-message in an emptied mailbox
	"$MAILBAG" check "$SPOOLF" 2>&1 | grep -q ", 0 messages," && return 0
	VMSG="spool $SPOOLF not emptied"
	return 1
}
v_nonzero() { # the job printed a count; kept for the report
	c=$(tail -n 1 "$1" | tr -d ' ')
	case $c in
	'' | *[!0-9]*) VMSG="no count: $(head -c 200 "$1" | tr '\n' ' ')"; return 1 ;;
	0) VMSG="no match"; return 1 ;;
	esac
	printf '%s\t%s\t%s\t%s\n' "$g" "$tool" "$size" "$c" >>"$COUNTS"
	return 0
}
v_mmdf_out() {
	[ "$(head -c 4 "$2" 2>/dev/null | od -An -c | tr -d ' ')" = '001001001001' ] && return 0
	VMSG="no mmdf output"
	return 1
}

# job GROUP TOOL EXPECT_RC VERIFY OUTFILE CMD
#   OUTFILE is removed before each run (and afterwards) outside the timing
job() {
	g=$1 tool=$2 want=$3 verify=$4 ofile=$5 cmd=$6 prep=${7-}
	times=
	rss=0
	status=ok
	i=0
	printf '  %-8s %-9s' "$g" "$tool" >&2
	runs=${JOB_RUNS:-$n_runs}
	while [ $i -lt "$runs" ]; do
		i=$((i + 1))
		[ -n "$ofile" ] && rm -rf "$ofile"
		# PREP (untimed): e.g. a fresh copy of a damaged mailbox
		[ -n "$prep" ] && sh -c "$prep" >/dev/null 2>&1
		sync
		t0=$(now_ns)
		if [ $have_time = 1 ]; then
			"$TIME" -f '%e %M' -o "$DATA/time.out" sh -c "$cmd" >"$DATA/job.out" 2>&1
		else
			sh -c "$cmd" >"$DATA/job.out" 2>&1
		fi
		rc=$?
		t1=$(now_ns)
		{
			echo "== $g $tool $size run $i rc=$rc: $cmd"
			head -c 2000 "$DATA/job.out"
		} >>"$LOG"
		if [ "$rc" != "$want" ]; then
			status="FAIL(rc=$rc)"
			log " $status: $(head -c 300 "$DATA/job.out" | tr '\n' ' ')"
			break
		fi
		VMSG=
		if ! $verify "$DATA/job.out" "$ofile"; then
			status="FAIL($VMSG)"
			log " $status"
			break
		fi
		times="$times $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", (b-a)/1e9}')"
		if [ $have_time = 1 ]; then
			m=$(awk 'END{print $2}' "$DATA/time.out")
			[ -n "$m" ] && [ "$m" -gt "$rss" ] && rss=$m
		fi
		printf '.' >&2
	done
	[ -n "$ofile" ] && rm -rf "$ofile"
	if [ "$status" = ok ]; then
		med=$(printf '%s\n' "$times" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
		log " median ${med}s"
	else
		med=-
		failed=1
	fi
	[ $have_time = 1 ] || rss=-
	record "$g" "$tool" "$size" "$BYTES" "$status" "$med" "$rss" "$i"
}

missing() { # GROUP TOOL WHAT
	log "  $1 $2: FAIL($3 missing)"
	record "$1" "$2" "$size" "$BYTES" "FAIL($3 missing)" - - 0
	failed=1
}

# --- fetch: a local Dovecot, mailbag fetch vs mbsync, fetchmail, getmail --
#
# Dovecot runs as the unprivileged user from $MUHOME/dcsrv, listening on
# 127.0.0.1 without TLS (every client logs in with a password in clear
# on the loopback, so none pays for TLS), over a maildir of the FETCH_N
# messages of a generated corpus (written by mailbag; Dovecot indexes it
# once before the first job).  Each job starts from an empty destination
# and empty client state (removed outside the timing) and leaves the mail
# on the server.  The clients run as the same unprivileged user (getmail
# and procmail refuse to deliver as root), in $MUHOME/fout.  Sinks: mailbag and getmail write the maildir or the
# mailbox themselves (getmail's Mboxrd for the mbox rows, mailbag mbx);
# mbsync syncs to a maildir (it has no mbox); fetchmail hands each
# message to an MDA, `procmail -f- RC` with DEFAULT the maildir or the
# mbox (the usual fetchmail setup without an MTA: one process per
# message; -f- makes procmail write the mbox "From " line).

FU=bench FP=benchpw
fetch_stop() {
	[ -n "$DCS" ] && [ -f "$DCS/run/master.pid" ] || return 0
	kill "$(cat "$DCS/run/master.pid")" 2>/dev/null
	i=0
	while [ $i -lt 50 ] && [ -f "$DCS/run/master.pid" ] &&
		kill -0 "$(cat "$DCS/run/master.pid" 2>/dev/null)" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
}
free_port() {
	"$PYTHON" -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
dovecot_conf() { # $1 user, $2 group
	printf 'base_dir = %s/run\nstate_dir = %s/state\nlog_path = %s/dovecot.log\n' \
		"$DCS" "$DCS" "$DCS"
	printf 'protocols = imap pop3\nlisten = 127.0.0.1\nssl = no\n'
	printf 'disable_plaintext_auth = no\nauth_mechanisms = plain login\n'
	printf 'mail_location = maildir:~/Maildir\nmail_fsync = never\n'
	printf 'pop3_uidl_format = %%08Xu%%08Xv\n'
	printf 'default_internal_user = %s\ndefault_internal_group = %s\n' "$1" "$2"
	printf 'default_login_user = %s\n' "$1"
	printf 'passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %s/passwd\n}\n' "$DCS"
	printf 'userdb {\n  driver = static\n  args = uid=%s gid=%s home=%s/home/%%u\n}\n' "$1" "$2" "$DCS"
	printf 'service imap-login {\n  chroot =\n  inet_listener imap {\n    address = 127.0.0.1\n    port = %s\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}\n' "$FIMAP"
	printf 'service pop3-login {\n  chroot =\n  inet_listener pop3 {\n    address = 127.0.0.1\n    port = %s\n  }\n  inet_listener pop3s {\n    port = 0\n  }\n}\n' "$FPOP3"
	printf 'service anvil {\n  chroot =\n}\n'
	printf 'service stats {\n  unix_listener stats-reader {\n    mode = 0600\n  }\n  unix_listener stats-writer {\n    mode = 0600\n  }\n}\n'
	printf 'namespace inbox {\n  inbox = yes\n  separator = /\n}\n'
}
fetch_setup() {
	[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] &&
		[ -x /usr/lib/dovecot/pop3 ] && [ -n "$PYTHON" ] &&
		[ -x "$MAILBAG" ] && [ $mu_ok = 1 ] || return 1
	FC=$DATA/fetch-$FETCH_N-s$SEED.mbox
	if [ ! -s "$FC" ] || newer "$GEN_SRC" "$FC"; then
		"$GEN" --seed "$SEED" --count "$FETCH_N" --no-uw-metadata \
			-o "$FC.tmp" 2>/dev/null && mv "$FC.tmp" "$FC" || return 1
	fi
	DCS=$MUHOME/dcsrv
	rm -rf "$DCS"
	mkdir -p "$DCS/run" "$DCS/state" "$DCS/home/$FU" || return 1
	"$MAILBAG" convert -q --to maildir "$FC" "$DCS/home/$FU/Maildir" || return 1
	FIMAP=$(free_port) FPOP3=$(free_port)
	if [ "$(id -u)" = 0 ]; then
		dovecot_conf "$MU_USER" "$(id -gn "$MU_USER")" >"$DCS/dovecot.conf"
		chown -R "$MU_USER" "$DCS" || return 1
		DCAS="runuser -u $MU_USER --"
	else
		dovecot_conf "$(id -un)" "$(id -gn)" >"$DCS/dovecot.conf"
		DCAS=
	fi
	printf '%s:{PLAIN}%s::::::\n' "$FU" "$FP" >"$DCS/passwd"
	$DCAS /usr/sbin/dovecot -c "$DCS/dovecot.conf" || return 1
	i=0
	until "$PYTHON" -c 'import socket,sys
for p in sys.argv[1:]: socket.create_connection(("127.0.0.1",int(p)),1).close()' \
		"$FIMAP" "$FPOP3" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$DCS/dovecot.log" >&2; return 1; }
		sleep 0.1
	done
	# Dovecot's index of the maildir, built once, outside the timing
	n=$($DCAS doveadm -c "$DCS/dovecot.conf" -f flow fetch -u "$FU" uid \
		mailbox INBOX all | wc -l)
	[ "$n" = "$FETCH_N" ] || { log "bench: Dovecot sees $n messages, not $FETCH_N"; return 1; }
	FOUT=$MUHOME/fout
	rm -rf "$FOUT"
	mkdir -p "$FOUT/home" || return 1
	printf '%s\n' "$FP" >"$FOUT/pw" && chmod 600 "$FOUT/pw"
	if [ "$(id -u)" = 0 ]; then
		chown -R "$MU_USER" "$FOUT" || return 1
		CL="runuser -u $MU_USER -- env HOME=$(q "$FOUT/home")"
	else
		CL="env HOME=$(q "$FOUT/home")"
	fi
}
# fjob GROUP TOOL VERIFY OUTFILE CMD [PREP]: job with CMD and PREP run
# as the client user
fjob() {
	job "$1" "$2" 0 "$3" "$4" "$CL sh -c $(q "$5")" "${6:+$CL sh -c $(q "$6")}"
}

# the peers' configurations
mbsync_rc() { # $1 = the maildir
	printf 'IMAPAccount bench\nHost 127.0.0.1\nPort %s\nUser %s\nPass %s\n' \
		"$FIMAP" "$FU" "$FP"
	printf 'SSLType None\nAuthMechs LOGIN\n\nIMAPStore far\nAccount bench\n\n'
	printf 'MaildirStore near\nPath %s/mbsync-dirs/\nInbox %s\n\n' "$FOUT" "$1"
	printf 'Channel bench\nFar :far:\nNear :near:\nPatterns INBOX\n'
	printf 'Sync Pull\nCreate Near\nSyncState *\n'
}
getmail_rc() { # $1 = imap|pop3, $2 = maildir|mbox, $3 = the destination
	if [ "$1" = imap ]; then
		printf '[retriever]\ntype = SimpleIMAPRetriever\nport = %s\nmailboxes = ("INBOX",)\n' "$FIMAP"
	else
		printf '[retriever]\ntype = SimplePOP3Retriever\nport = %s\n' "$FPOP3"
	fi
	printf 'server = 127.0.0.1\nusername = %s\npassword = %s\n' "$FU" "$FP"
	if [ "$2" = maildir ]; then
		printf '[destination]\ntype = Maildir\npath = %s/\n' "$3"
	else
		printf '[destination]\ntype = Mboxrd\npath = %s\n' "$3"
	fi
	printf '[options]\nread_all = true\ndelete = false\nverbose = 0\nmessage_log_syslog = false\n'
}
fetchmail_rc() { # $1 = imap|pop3
	if [ "$1" = imap ]; then
		printf 'poll 127.0.0.1 service %s protocol IMAP auth password\n' "$FIMAP"
	else
		printf 'poll 127.0.0.1 service %s protocol POP3 auth password\n' "$FPOP3"
	fi
	printf '  user "%s" password "%s" keep fetchall sslproto ""\n' "$FU" "$FP"
	printf '  mda "%s -f- %s/fm.procmailrc"\n' "$PROCMAIL" "$FOUT"
}

fetch_jobs() {
	size=${FETCH_N}msg
	BYTES=$(wc -c <"$FC" | tr -d ' ')
	NMSG=$FETCH_N
	n_runs=$FETCH_RUNS
	qo=$(q "$FOUT")
	for proto in imap pop3; do
		if [ $proto = imap ]; then
			R="{127.0.0.1:$FIMAP/imap/notls/user=$FU}INBOX"
		else
			R="{127.0.0.1:$FPOP3/pop3/notls/user=$FU}INBOX"
		fi
		for sink in maildir mbx; do
			if [ $sink = maildir ]; then
				g=$proto-md v=v_files
			else
				g=$proto-mbox v=v_count
			fi
			d=$FOUT/mb.$sink
			fjob "$g" mailbag "$v" "$d" \
				"$(q "$MAILBAG") fetch -q --allow-plaintext --auth plain \
--password-file $qo/pw --state $qo/mb.state -f $sink $(q "$R") $(q "$d") && sync" \
				"rm -f $qo/mb.state"
			# the peers write a maildir, or an mbox for the mbx rows
			if [ $sink = maildir ]; then
				d=$FOUT/peer.maildir
				mk="mkdir -p $(q "$d")/cur $(q "$d")/new $(q "$d")/tmp"
				pmrc="DEFAULT=$d/"
			else
				d=$FOUT/peer.mbox
				mk=": >$(q "$d")"
				pmrc="DEFAULT=$d"
			fi
			if [ $proto = imap ] && [ $sink = maildir ]; then
				if [ -n "$MBSYNC" ]; then
					mbsync_rc "$d" >"$FOUT/mbsyncrc"
					fjob "$g" mbsync "$v" "$d" \
						"$(q "$MBSYNC") -q -c $qo/mbsyncrc bench && sync" \
						"rm -rf $qo/mbsync-dirs && mkdir $qo/mbsync-dirs"
				else
					missing "$g" mbsync mbsync
				fi
			fi
			if [ -n "$GETMAIL" ]; then
				getmail_rc $proto $sink "$d" >"$FOUT/getmailrc.$g"
				JOB_RUNS=$FETCH_RUNS_SLOW fjob "$g" getmail "$v" "$d" \
					"$mk && $(q "$GETMAIL") -q --rcfile=$qo/getmailrc.$g --getmaildir=$qo/gm && sync" \
					"rm -rf $qo/gm && mkdir $qo/gm"
			else
				missing "$g" getmail getmail
			fi
			if [ -n "$FETCHMAIL" ] && [ -n "$PROCMAIL" ]; then
				fetchmail_rc $proto >"$FOUT/fetchmailrc.$g"
				chmod 600 "$FOUT/fetchmailrc.$g"
				printf 'MAILDIR=%s\n%s\nLOGFILE=/dev/null\n' "$FOUT" "$pmrc" >"$FOUT/fm.procmailrc.$g"
				[ "$(id -u)" = 0 ] && chown "$MU_USER" "$FOUT"/*rc*
				JOB_RUNS=$FETCH_RUNS_SLOW fjob "$g" fetchmail "$v" "$d" \
					"$mk && cp $qo/fm.procmailrc.$g $qo/fm.procmailrc && \
HOME=$qo/fmhome $(q "$FETCHMAIL") -s -N --nosyslog -f $qo/fetchmailrc.$g \
--idfile $qo/fmhome/ids --pidfile $qo/fmhome/pid && sync" \
					"rm -rf $qo/fmhome && mkdir $qo/fmhome"
			else
				missing "$g" fetchmail "fetchmail/procmail"
			fi
		done
	done
}

# --- main loop -----------------------------------------------------------

[ -x "$MAILBAG" ] || log "bench: $MAILBAG missing (mailbag jobs will fail)"
[ "$JOBS" = fetch ] && SIZES= # group fetch has its own mailbox
for size in $SIZES; do
	bytes=$(to_bytes "$size")
	case $bytes in '' | *[!0-9]*) log "bench: bad size $size"; failed=1; continue ;; esac
	if ! corpus "$size"; then
		log "bench: corpus $size failed"
		failed=1
		continue
	fi
	n_runs=$RUNS
	slow_runs=$RUNS
	if [ "$BYTES" -ge 1073741824 ]; then
		n_runs=$RUNS_BIG
		slow_runs=$RUNS_SLOW
	fi
	log "bench: $size: $F ($BYTES bytes, $NMSG messages, bad UID at $OFF, X-UID line at $XOFF), $n_runs runs"
	cat "$F" >/dev/null # warm the cache
	qf=$(q "$F")

	mu_here=0
	if [ $mu_ok = 1 ] && mu_link "$F"; then
		mu_here=1
		MUCORPUS=$MUNAME
	fi

	if want check; then
		job check cat 0 v_none "" "cat $qf >/dev/null"
		if [ -x "$MAILBAG" ]; then
			job check mailbag 65 v_offset "" "$(q "$MAILBAG") check $qf"
		else
			missing check mailbag mailbag
		fi
		if [ $mu_here = 1 ]; then
			job check mailutil 0 v_mu_check "" "$MU_RUN check $(q "$MUCORPUS")"
		else
			missing check mailutil mailutil
		fi
	fi

	if want unix; then
		job unix cp+sync 0 v_unix_out "$OUT/cp.mbox" "cp $qf $(q "$OUT/cp.mbox") && sync"
		if [ -x "$MAILBAG" ]; then
			job unix mailbag 0 v_unix_out "$OUT/dst.mbox" \
				"$(q "$MAILBAG") convert $qf $(q "$OUT/dst.mbox") && sync"
		else
			missing unix mailbag mailbag
		fi
		if [ $mu_here = 1 ]; then
			job unix mailutil 0 v_unix_out "$MUHOME/out.mbox" \
				"$MU_RUN copy -kw $(q "$MUCORPUS") out.mbox && sync"
		else
			missing unix mailutil mailutil
		fi
	fi

	if want mmdf; then
		if [ -x "$MAILBAG" ]; then
			job mmdf mailbag 0 v_mmdf_out "$OUT/dst.mmdf" \
				"$(q "$MAILBAG") convert --to mmdf $qf $(q "$OUT/dst.mmdf") && sync"
		else
			missing mmdf mailbag mailbag
		fi
		if [ $mu_here = 1 ]; then
			job mmdf mailutil 0 v_mmdf_out "$MUHOME/out.mmdf" \
				"$MU_RUN copy -kw $(q "$MUCORPUS") '#driver.mmdf/out.mmdf' && sync"
		else
			missing mmdf mailutil mailutil
		fi
	fi

	# mbox -> maildir (issue 4): the floor is cp -r of a maildir of the
	# same messages (made once by mailbag and kept next to the corpus);
	# the peers are Dovecot's import, mb2md and Python's mailbox module;
	# every job ends with sync (mailbag's convert syncs by itself too)
	if want maildir; then
		MD="$F.maildir"
		if [ -x "$MAILBAG" ] && { [ -d "$MD" ] && ! newer "$F" "$MD" ||
			{ rm -rf "$MD" && "$MAILBAG" convert -q --to maildir "$F" "$MD"; }; }; then
			job maildir cp-r+sync 0 v_files "$OUT/cp.maildir" \
				"cp -r $(q "$MD") $(q "$OUT/cp.maildir") && sync"
		else
			missing maildir cp-r+sync "maildir copy"
		fi
		if [ -x "$MAILBAG" ]; then
			job maildir mailbag 0 v_count "$OUT/dst.maildir" \
				"$(q "$MAILBAG") convert -q --to maildir $qf $(q "$OUT/dst.maildir") && sync"
		else
			missing maildir mailbag mailbag
		fi
		if [ -n "$DOVEADM" ] && [ $mu_here = 1 ]; then
			# as the unprivileged user (Dovecot refuses root), the
			# corpus hard-linked read-only (Dovecot would rewrite a
			# writable mbox's headers), indexes in memory, Dovecot's
			# own fsyncs off: the final sync makes it durable
			printf 'log_path = /dev/stderr\nmail_location = maildir:%s/dv-none\n' \
				"$MUHOME" >"$MUHOME/dc.conf"
			mh=$(q "$MUHOME")
			[ "$(id -u)" = 0 ] && chown "$MU_USER" "$MUHOME/dc.conf"
			JOB_RUNS=$slow_runs job maildir doveadm 0 v_files "$MUHOME/dv.maildir" \
				"$DV_RUN $(q "$DOVEADM") -c $mh/dc.conf -o mail_fsync=never \
-o mail_location=maildir:$mh/dv.maildir:INDEX=MEMORY \
import -s mbox:$mh/dv-none:INBOX=$mh/$(q "$MUCORPUS"):INDEX=MEMORY '' all && sync"
		else
			missing maildir doveadm doveadm
		fi
		if [ -n "$MB2MD" ]; then
			job maildir mb2md 0 v_files "$OUT/mb2md.maildir" \
				"$(q "$MB2MD") -s $qf -d $(q "$OUT/mb2md.maildir") && sync"
		else
			missing maildir mb2md mb2md
		fi
		if [ -n "$PYTHON" ]; then
			JOB_RUNS=$slow_runs job maildir python 0 v_py "$OUT/py.maildir" \
				"$(q "$PYTHON") -c $(q "$PY_MAILDIR") $qf $(q "$OUT/py.maildir") && sync"
		else
			missing maildir python python3
		fi
		# UW has no maildir: its nearest is a copy to mix (group mix)
	fi

	# mbox -> mix: mailbag against UW's mailutil (the floor: cp -r of the
	# mix directory mailbag wrote)
	if want mix; then
		MX="$F.mix"
		if [ -x "$MAILBAG" ] && { [ -d "$MX" ] && ! newer "$F" "$MX" ||
			{ rm -rf "$MX" && "$MAILBAG" convert -q --to mix "$F" "$MX"; }; }; then
			job mix cp-r+sync 0 v_count "$OUT/cp.mix" \
				"cp -r $(q "$MX") $(q "$OUT/cp.mix") && sync"
		else
			missing mix cp-r+sync "mix copy"
		fi
		if [ -x "$MAILBAG" ]; then
			job mix mailbag 0 v_count "$OUT/dst.mix" \
				"$(q "$MAILBAG") convert -q --to mix $qf $(q "$OUT/dst.mix") && sync"
		else
			missing mix mailbag mailbag
		fi
		if [ $mu_here = 1 ]; then
			job mix mailutil 0 v_count "$MUHOME/out.mix" \
				"$MU_RUN copy -kw $(q "$MUCORPUS") '#driver.mix/out.mix' && sync"
		else
			missing mix mailutil mailutil
		fi
	fi

	# reading a gzip-compressed mbox against zcat
	if want gz; then
		GZ="$F.gz"
		if [ -s "$GZ" ] && ! newer "$F" "$GZ" ||
			{ rm -f "$GZ" && gzip -6 -c "$F" >"$GZ.tmp" && mv "$GZ.tmp" "$GZ"; }; then
			qg=$(q "$GZ")
			cat "$GZ" >/dev/null
			job gz zcat 0 v_none "" "zcat $qg >/dev/null"
			if [ -x "$MAILBAG" ]; then
				job gz mailbag 65 v_offset "" "$(q "$MAILBAG") check $qg"
			else
				missing gz mailbag mailbag
			fi
		else
			missing gz zcat "gzip corpus"
		fi
	fi
	# search (issue 7): a header term and a body term over the whole
	# mbox, against grep -c (the floor: no parsing, no decoding) and
	# Dovecot's doveadm search over the same file (read-only, indexes in
	# memory, as the unprivileged user); mailbag also with a PCRE2
	# header regex.  Each job's count of matches is kept for the report.
	if want search; then
		S_HDR=budget
		S_RE='^(Re: )?(the|quarterly) (budget|report)$'
		S_BODY=smörgåsbord
		job search-hdr grep 0 v_nonzero "" \
			"grep -c -i -E '^Subject:.*$S_HDR' $qf"
		if [ -x "$MAILBAG" ]; then
			job search-hdr mailbag 0 v_nonzero "" \
				"$(q "$MAILBAG") search $qf SUBJECT $S_HDR | wc -l"
			job search-hdr mbag-re 0 v_nonzero "" \
				"$(q "$MAILBAG") search --match $(q "Subject:$S_RE") $qf | wc -l"
			job search-bdy mailbag 0 v_nonzero "" \
				"$(q "$MAILBAG") search $qf BODY $S_BODY | wc -l"
		else
			missing search-hdr mailbag mailbag
			missing search-bdy mailbag mailbag
		fi
		job search-bdy grep 0 v_nonzero "" "grep -c -i $S_BODY $qf"
		if [ -n "$DOVEADM" ] && [ $mu_here = 1 ]; then
			printf 'log_path = /dev/stderr\nmail_location = maildir:%s/dv-none\n' \
				"$MUHOME" >"$MUHOME/dc.conf"
			mh=$(q "$MUHOME")
			[ "$(id -u)" = 0 ] && chown "$MU_USER" "$MUHOME/dc.conf"
			dvs="$DV_RUN $(q "$DOVEADM") -f flow -c $mh/dc.conf \
-o mail_location=mbox:$mh/dv-none:INBOX=$mh/$(q "$MUCORPUS"):INDEX=MEMORY \
fetch uid mailbox INBOX"
			JOB_RUNS=$slow_runs job search-hdr doveadm 0 v_nonzero "" \
				"$dvs SUBJECT $S_HDR | wc -l"
			JOB_RUNS=$slow_runs job search-bdy doveadm 0 v_nonzero "" \
				"$dvs BODY $S_BODY | wc -l"
		else
			missing search-hdr doveadm doveadm
			missing search-bdy doveadm doveadm
		fi
	fi
	[ $mu_here = 1 ] && rm -f "$MUHOME/$MUCORPUS"

	if want mbx; then
		# mbx (issue 3): check walks the size chain instead of every byte
		MBX="$F.mbx"
		if [ -x "$MAILBAG" ] && { [ -s "$MBX" ] && ! newer "$F" "$MBX" ||
			{ rm -f "$MBX" && "$MAILBAG" convert -q --to mbx "$F" "$MBX"; }; }; then
			qm=$(q "$MBX")
			cat "$MBX" >/dev/null
			job mbx-check cat 0 v_none "" "cat $qm >/dev/null"
			job mbx-check mailbag 0 v_none "" "$(q "$MAILBAG") check $qm"
			if [ $mu_ok = 1 ] && mu_link "$MBX"; then
				job mbx-check mailutil 0 v_mu_check "" "$MU_RUN check $(q "$MUNAME")"
				rm -f "$MUHOME/$MUNAME"
			else
				missing mbx-check mailutil mailutil
			fi
		else
			missing mbx-check mailbag "mbx corpus"
		fi
	fi

	if want repair; then
		# repair of the mbx corpus with ten damaged regions, against cp+sync
		CORRUPT="$BUILD/tests/helper/corrupt"
		MBX="$F.mbx"
		DAMAGED="$MBX.damaged"
		[ -s "$MBX" ] && ! newer "$F" "$MBX" || [ ! -x "$MAILBAG" ] ||
			{ rm -f "$MBX" && "$MAILBAG" convert -q --to mbx "$F" "$MBX"; }
		if [ -s "$MBX" ] && [ -x "$CORRUPT" ] &&
			"$MAILBAG" repair --help >/dev/null 2>&1; then
			if [ ! -s "$DAMAGED" ] || newer "$MBX" "$DAMAGED"; then
				cp "$MBX" "$DAMAGED.0"
				k=0
				for kind in size-field garbage overwrite-header flip size-field \
					garbage overwrite-header flip size-field garbage; do
					k=$((k + 1))
					"$CORRUPT" --seed $k --kind $kind "$DAMAGED.$((k - 1))" \
						"$DAMAGED.$k" 2>>"$LOG" || cp "$DAMAGED.$((k - 1))" "$DAMAGED.$k"
					rm -f "$DAMAGED.$((k - 1))"
				done
				mv "$DAMAGED.$k" "$DAMAGED"
			fi
			qd=$(q "$DAMAGED")
			W="$OUT/repair.mbx"
			job repair cp+sync 0 v_none "$W" "cp $qd $(q "$W") && sync"
			job repair mailbag 65 v_none "$W" \
				"$(q "$MAILBAG") repair -q --salvage-dir $(q "$OUT/salvage") $(q "$W"); rc=\$?; sync; exit \$rc" \
				"cp $qd $(q "$W") && rm -rf $(q "$OUT/salvage") $(q "$W").mailbag-backup.*"
			rm -rf "$OUT/salvage" "$W".mailbag-backup.*
		else
			missing repair mailbag "mbx repair"
		fi
		# repair of the unix corpus: its planted bad X-UID makes the
		# repair renumber, so every message is framed, judged and
		# written again (peak RSS counts in the memory target)
		W="$OUT/repair.mbox"
		job repair-mbox cp+sync 0 v_none "$W" "cp $qf $(q "$W") && sync"
		job repair-mbox mailbag 65 v_none "$W" \
			"$(q "$MAILBAG") repair -q --salvage-dir $(q "$OUT/salvage") $(q "$W"); rc=\$?; sync; exit \$rc" \
			"cp $qf $(q "$W") && rm -rf $(q "$OUT/salvage") $(q "$W").mailbag-backup.*"
		rm -rf "$OUT/salvage" "$W" "$W".mailbag-backup.*
	fi

	# deliveries per second (issue 5): NDEL deliveries of one small
	# message in a row into an INBOX that holds this corpus, in UNIX
	# format (~/mbox) and in mbx (~/inbox.mbx); mailbag deliver and UW
	# tmail as root (as an MTA runs them), mailbag dmail, UW dmail and
	# dovecot-lda (mbox only: it has no mbx) as the user.
	if want deliver; then
		if [ $du_ok = 1 ]; then
			qdm=$(q "$DATA/dmsg")
			loop() { # CMD run NDEL times, stdin the message
				echo "i=0; while [ \$i -lt $NDEL ]; do $1 <$qdm || exit 1; i=\$((i + 1)); done"
			}
			MB="$DHOME/mbox"
			prep="cp $qf $(q "$MB") && chown $DU: $(q "$MB") && chmod 600 $(q "$MB")"
			v_mb() { v_delivered "$1" "$MB"; }
			job deliver-mbox mailbag 0 v_mb "" \
				"$(loop "$(q "$MAILBAG") deliver $DU+mbox")" "$prep"
			job deliver-mbox mb-dmail 0 v_mb "" \
				"$(loop "$DU_RUN $(q "$MAILBAG") dmail +mbox")" "$prep"
			if [ -n "$TMAIL" ]; then
				job deliver-mbox tmail 0 v_mb "" "$(loop "$TMAIL $DU+mbox")" "$prep"
			else
				missing deliver-mbox tmail tmail
			fi
			if [ -n "$DMAIL" ]; then
				job deliver-mbox dmail 0 v_mb "" "$(loop "$DU_RUN $DMAIL +mbox")" "$prep"
			else
				missing deliver-mbox dmail dmail
			fi
			if [ -x "$LDA" ]; then
				job deliver-mbox dove-lda 0 v_mb "" \
					"$(loop "$DU_RUN $LDA -c $(q "$DHOME/lda.conf") -f sender@example.com")" "$prep"
			else
				missing deliver-mbox dove-lda dovecot-lda
			fi
			rm -f "$MB"

			MBX="$F.mbx"
			[ -s "$MBX" ] && ! newer "$F" "$MBX" ||
				{ rm -f "$MBX" && "$MAILBAG" convert -q --to mbx "$F" "$MBX"; }
			XB="$DHOME/inbox.mbx"
			prep="cp $(q "$MBX") $(q "$XB") && chown $DU: $(q "$XB") && chmod 600 $(q "$XB")"
			v_xb() { v_delivered "$1" "$XB"; }
			job deliver-mbx mailbag 0 v_xb "" \
				"$(loop "$(q "$MAILBAG") deliver $DU+inbox.mbx")" "$prep"
			job deliver-mbx mb-dmail 0 v_xb "" \
				"$(loop "$DU_RUN $(q "$MAILBAG") dmail +inbox.mbx")" "$prep"
			if [ -n "$TMAIL" ]; then
				job deliver-mbx tmail 0 v_xb "" "$(loop "$TMAIL $DU+inbox.mbx")" "$prep"
			else
				missing deliver-mbx tmail tmail
			fi
			if [ -n "$DMAIL" ]; then
				job deliver-mbx dmail 0 v_xb "" "$(loop "$DU_RUN $DMAIL +inbox.mbx")" "$prep"
			else
				missing deliver-mbx dmail dmail
			fi
			rm -f "$XB"
		else
			missing deliver-mbox mailbag "delivery user"
		fi
	fi

	# spool-move (issue 5): the whole corpus as the user's spool file,
	# moved into a new mailbox in the home directory by mailbag (UNIX
	# format, as movemail writes, and mbx, what it makes by default),
	# GNU movemail and UW mailutil move (which takes names in the home
	# only, so its spool file lies there); all as the user, ending with
	# sync.
	if want spool; then
		if [ $du_ok = 1 ]; then
			SPOOLF=$DSPOOL/$DU
			D="$DHOME/moved"
			prep="rm -rf $(q "$D") && cp $qf $(q "$SPOOLF") && chown $DU: $(q "$SPOOLF") && chmod 600 $(q "$SPOOLF")"
			job spool mailbag 0 v_moved "$D" \
				"$DU_RUN $(q "$MAILBAG") spool-move -q --format=unix $(q "$SPOOLF") $(q "$D") && sync" "$prep"
			job spool mbag-mbx 0 v_moved "$D" \
				"$DU_RUN $(q "$MAILBAG") spool-move -q --format=mbx $(q "$SPOOLF") $(q "$D") && sync" "$prep"
			if [ -n "$MOVEMAIL" ]; then
				job spool movemail 0 v_moved "$D" \
					"$DU_RUN $(q "$MOVEMAIL") --no-config $(q "$SPOOLF") $(q "$D") && sync" "$prep"
			else
				missing spool movemail "movemail (package mailutils)"
			fi
			if [ -n "$MAILUTIL" ]; then
				SPOOLF=$DHOME/spool.mbox
				prep="rm -rf $(q "$D") && cp $qf $(q "$SPOOLF") && chown $DU: $(q "$SPOOLF") && chmod 600 $(q "$SPOOLF")"
				job spool mailutil 0 v_moved "$D" \
					"$DU_RUN $MAILUTIL move spool.mbox moved && sync" "$prep"
			else
				missing spool mailutil mailutil
			fi
			rm -f "$DSPOOL/$DU" "$DHOME/spool.mbox"
		else
			missing spool mailbag "delivery user"
		fi
	fi
done

if want fetch; then
	if fetch_setup; then
		log "bench: fetch: $FETCH_N messages ($(wc -c <"$FC" | tr -d ' ') bytes) on Dovecot at 127.0.0.1:$FIMAP (IMAP), :$FPOP3 (POP3)"
		fetch_jobs
	else
		size=${FETCH_N}msg BYTES=0
		log "bench: fetch: no local Dovecot server (needs dovecot-imapd, dovecot-pop3d, python3, user $MU_USER)"
		missing imap-md dovecot "Dovecot server"
	fi
	fetch_stop
fi

# --- report ----------------------------------------------------------------

{
	echo "mailbag bench  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "host: $(uname -srm), $(nproc 2>/dev/null || echo '?') cpu; data: $DATA ($fstype)"
	echo "rev: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" status --porcelain 2>/dev/null | grep -q . && echo '+dirty')"
	echo "runs: $RUNS (>=1G: $RUNS_BIG), median wall time, warm cache; seed $SEED"
	echo "groups: check = read/validate; unix = copy to a new unix mbox;" \
		"mmdf = copy to a new MMDF file; maildir, mix = copy to a new" \
		"maildir, mix; gz = read a gzip'ed mbox (write jobs end with sync)"
	echo "jobs: $JOBS; slow peers (doveadm, python) run $RUNS_SLOW time(s) on corpora >= 1 GiB"
	echo
	awk -F '\t' '
	{
		n++; g[n]=$1; t[n]=$2; s[n]=$3; b[n]=$4; st[n]=$5; m[n]=$6; r[n]=$7; nr[n]=$8
		if ($2 == "mailbag" && $5 == "ok") mb[$1 SUBSEP $3] = $6
	}
	END {
		printf "%-9s %-9s %6s %4s %10s %9s %8s %8s  %s\n", "job", "tool", "size",
			"runs", "median_s", "MB/s", "rss_MB", "vs_mbag", "status"
		for (i = 1; i <= n; i++) {
			if (st[i] == "ok") {
				mbs = m[i] > 0 ? sprintf("%.1f", b[i] / 1048576 / m[i]) : "inf"
				med = sprintf("%.4f", m[i])
			} else { mbs = "-"; med = "-" }
			rss = (r[i] == "-" || st[i] != "ok") ? "-" : sprintf("%.1f", r[i] / 1024)
			k = g[i] SUBSEP s[i]
			ratio = "-"
			if (st[i] == "ok" && (k in mb) && mb[k] > 0)
				ratio = sprintf("%.2fx", m[i] / mb[k])
			printf "%-9s %-9s %6s %4s %10s %9s %8s %8s  %s\n", g[i], t[i], s[i],
				nr[i], med, mbs, rss, ratio, st[i]
		}
	}' "$RES"
	echo "(median_s: median wall time; MB/s: corpus size / median; rss_MB: peak"
	echo " RSS of the runs; vs_mbag: median / mailbag's median, same job and size)"
	if [ -s "$COUNTS" ]; then
		echo
		echo "matches (search: messages, grep -c: lines; fetch: messages stored; the last run's):"
		sort -u "$COUNTS" | awk -F '\t' '{ printf "  %-10s %-9s %6s %s\n", $1, $2, $3, $4 }'
	fi
	echo
	echo "targets (ratio targets apply to corpora >= 64 MiB):"
} >"$REPORT.tmp"

# targets: one line per size
for size in $SIZES; do
	awk -F '\t' -v size="$size" -v tcat="$T_CHECK_CAT" -v trss="$T_RSS_MB" \
		-v minb="$T_MIN_BYTES" -v tgz="$T_GZ_ZCAT" -v jobs=" $JOBS " '
	$3 == size { bytes = $4 }
	$3 == size && $5 == "ok" { med[$1 "/" $2] = $6 }
	$3 == size && $2 == "mailbag" {
		if ($5 != "ok" || $7 == "-") rssok = rssok "?"
		else if ($7 / 1024 > maxrss) maxrss = $7 / 1024
	}
	END {
		big = bytes + 0 >= minb + 0
		note = big ? "" : " (informational: small corpus)"
		c = med["check/mailbag"]; f = med["check/cat"]; u = med["check/mailutil"]
		if (index(jobs, " check ") == 0) {
			# group not run: no check target lines
		} else if (c != "" && f != "" && f > 0) {
			v = c / f
			ok = v <= tcat
			printf "  %-5s check/cat      = %6.2f   target <= %s  %s%s\n", size, v, tcat,
				ok ? "ok" : "** MISS **", note
			if (big && !ok) miss = 1
		} else printf "  %-5s check/cat      =    n/a   target <= %s  ** NO DATA **\n", size, tcat
		if (index(jobs, " check ") == 0) {
		} else if (c != "" && u != "" && u > 0)
			printf "  %-5s check/mailutil = %6.2f   (lower is better; mailutil = UW 2007f)\n", size, c / u
		else printf "  %-5s check/mailutil =    n/a\n", size
		if (index(jobs, " gz ") > 0) {
			c = med["gz/mailbag"]; f = med["gz/zcat"]
			if (c != "" && f != "" && f > 0) {
				v = c / f
				ok = v <= tgz
				printf "  %-5s gz/zcat        = %6.2f   target <= %s  %s%s\n", size, v, tgz,
					ok ? "ok" : "** MISS **", note
				if (big && !ok) miss = 1
			} else {
				printf "  %-5s gz/zcat        =    n/a   target <= %s  ** NO DATA **\n", size, tgz
				if (big) miss = 1
			}
		}
		if (index(jobs, " maildir ") > 0) {
			# mbox -> maildir: faster than every peer that writes one
			c = med["maildir/mailbag"]
			np = split("maildir/doveadm maildir/mb2md maildir/python", peer, " ")
			for (k = 1; k <= np; k++) {
				f = med[peer[k]]
				if (c != "" && f != "" && c > 0) {
					ok = c < f
					printf "  %-5s maildir: %-14s = %6.2fx faster   target > 1  %s%s\n",
						size, peer[k], f / c, ok ? "ok" : "** MISS **", note
					if (big && !ok) miss = 1
				} else {
					printf "  %-5s maildir: %-14s =    n/a   target > 1  ** NO DATA **\n", size, peer[k]
					if (big) miss = 1
				}
			}
			f = med["maildir/cp-r+sync"]
			if (c != "" && f != "" && f > 0)
				printf "  %-5s maildir/cp-r+sync = %6.2f   (the floor: copying a maildir of the same messages)\n", size, c / f
			f = med["mix/mailutil"]
			if (c != "" && f != "" && c > 0)
				printf "  %-5s maildir/mailbag vs mix/mailutil = %6.2fx faster   (UW has no maildir; mix is its nearest)\n", size, f / c
		}
		if (index(jobs, " mix ") > 0) {
			# mbox -> mix: faster than UW writing its own format
			c = med["mix/mailbag"]; f = med["mix/mailutil"]
			if (c != "" && f != "" && c > 0) {
				ok = c < f
				printf "  %-5s mix: mix/mailutil        = %6.2fx faster   target > 1  %s%s\n",
					size, f / c, ok ? "ok" : "** MISS **", note
				if (big && !ok) miss = 1
			} else {
				printf "  %-5s mix: mix/mailutil        =    n/a   target > 1  ** NO DATA **\n", size
				if (big) miss = 1
			}
		}
		if (rssok == "" && maxrss > 0) {
			ok = maxrss < trss
			printf "  %-5s mailbag peak RSS = %.1f MB   target < %s MB  %s\n", size, maxrss, trss,
				ok ? "ok" : "** MISS **"
			if (!ok) miss = 1
		} else printf "  %-5s mailbag peak RSS =    n/a   target < %s MB  ** NO DATA **\n", size, trss
		exit miss
	}' "$RES" >>"$REPORT.tmp" || missed=1
done
if want deliver; then
	{
		echo
		echo "deliveries per second ($NDEL in a row, median run; INBOX = the corpus):"
		awk -F '\t' -v n="$NDEL" '
		$1 ~ /^deliver-/ {
			if ($5 == "ok" && $6 > 0)
				printf "  %-5s %-13s %-9s %8.1f /s\n", $3, $1, $2, n / $6
			else
				printf "  %-5s %-13s %-9s %8s    %s\n", $3, $1, $2, "-", $5
		}' "$RES"
	} >>"$REPORT.tmp"
fi
if want spool; then
	{
		echo
		echo "spool-move of the corpus (as the user, ending with sync):"
		awk -F '\t' '
		$1 == "spool" && $5 == "ok" { m[$3 SUBSEP $2] = $6 }
		$1 == "spool" { sz[$3] = 1; tl[$2] = 1; st[$3 SUBSEP $2] = $5 }
		END {
			for (s in sz) for (t in tl) {
				k = s SUBSEP t
				if (!(k in st)) continue
				if (k in m && (s SUBSEP "mailbag") in m && m[s SUBSEP "mailbag"] > 0)
					printf "  %-5s %-9s %9.4f s  %6.2fx mailbag\n", s, t, m[k], m[k] / m[s SUBSEP "mailbag"]
				else printf "  %-5s %-9s %9s    %s\n", s, t, "-", st[k]
			}
		}' "$RES" | sort
	} >>"$REPORT.tmp"
fi
# fetch: mailbag faster than every peer of the same group
if want fetch; then
	awk -F '\t' '
	$1 ~ /^(imap|pop3)-/ { key[$1 "/" $2] = $5 == "ok" ? $6 : ""; size = $3
		if (!($1 in seen)) { seen[$1] = 1; order[++ng] = $1 }
		if ($2 != "mailbag") peers[$1] = peers[$1] " " $2 }
	END {
		for (i = 1; i <= ng; i++) {
			g = order[i]; c = key[g "/mailbag"]
			np = split(peers[g], p, " ")
			for (k = 1; k <= np; k++) {
				f = key[g "/" p[k]]
				if (c != "" && f != "" && c > 0) {
					ok = c < f
					printf "  %-7s fetch %-9s: %-9s = %6.2fx faster   target > 1  %s\n",
						size, g, p[k], f / c, ok ? "ok" : "** MISS **"
					if (!ok) miss = 1
				} else {
					printf "  %-7s fetch %-9s: %-9s =    n/a   target > 1  ** NO DATA **\n", size, g, p[k]
					miss = 1
				}
			}
		}
		exit miss
	}' "$RES" >>"$REPORT.tmp" || missed=1
fi
{
	echo
	[ $failed = 0 ] || echo "RESULT: some jobs FAILED (see $LOG)"
	[ $missed = 0 ] || echo "RESULT: targets MISSED"
	[ $failed = 0 ] && [ $missed = 0 ] && echo "RESULT: ok"
} >>"$REPORT.tmp"
mv "$REPORT.tmp" "$REPORT"
cat "$REPORT"
echo "report: $REPORT" >&2

# --- plot: median time against corpus size, check and convert ------------
#
# build/bench-plot.png, next to the report: one panel per job (check, and
# the converts to unix mbox and maildir), one line per tool, both axes
# logarithmic.  Needs gnuplot (gnuplot-nox); without it only a note.
PLOT=$BUILD/bench-plot.png
plot() {
	pd=$DATA/plot
	rm -rf "$pd" && mkdir -p "$pd" || return 1
	# one file per job and tool: bytes median, by size
	awk -F '\t' -v d="$pd" '$5 == "ok" && $6 > 0 {
		f = d "/" $1 "." $2 ".dat"
		print $4 / 1048576, $6 | ("sort -n >" f)
	}' "$RES" || return 1
	gp=$pd/plot.gp
	{
		echo "set terminal pngcairo size 1500,520 font ',10'"
		echo "set output '$PLOT.tmp'"
		echo "set multiplot layout 1,3 title 'mailbag bench: median wall time against mailbox size ($(date -u '+%Y-%m-%d'))'"
		echo "set logscale xy; set grid; set key top left"
		echo "set xlabel 'mailbox size (MB)'; set ylabel 'median wall time (s)'"
		for g in check unix maildir; do
			case $g in
			check) title='check (read and validate)' ;;
			unix) title='convert to a unix mbox' ;;
			maildir) title='convert to a maildir' ;;
			esac
			echo "set title '$title'"
			set --
			for f in "$pd/$g".*.dat; do
				[ -s "$f" ] || continue
				t=${f##*/$g.}
				t=${t%.dat}
				set -- "$@" "'$f' using 1:2 with linespoints lw 2 title '$t'"
			done
			if [ $# = 0 ]; then
				# an empty panel: gnuplot refuses a plot with no
				# defined point, so draw a line outside the range
				echo "set label 1 'no data' at graph 0.4,0.5; unset logscale; plot [0:1] [0:1] 2 notitle; unset label 1; set logscale xy"
			else
				printf 'plot %s' "$1"
				shift
				for x in "$@"; do printf ', %s' "$x"; done
				echo
			fi
		done
		echo "unset multiplot"
	} >"$gp"
	gnuplot "$gp" >>"$LOG" 2>&1 && mv "$PLOT.tmp" "$PLOT"
}
if command -v gnuplot >/dev/null 2>&1; then
	if plot; then
		echo "plot: $PLOT" >&2
	else
		log "bench: the plot failed (see $LOG)"
	fi
else
	log "bench: gnuplot missing (gnuplot-nox): no plot"
fi

[ $failed = 0 ] || exit 1
[ $missed = 0 ] || [ "$STRICT" = 0 ] || exit 2
exit 0

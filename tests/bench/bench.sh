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
#                  "check unix mmdf mbx repair maildir mix gz"
#   BENCH_RUNS_SLOW runs of the slow peers (doveadm, python) on corpora
#                  >= 1 GiB, default 1
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
ALL_JOBS="check unix mmdf mbx repair maildir mix gz"
JOBS=${BENCH_JOBS:-$ALL_JOBS}
RUNS_SLOW=${BENCH_RUNS_SLOW:-1}
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
: >"$LOG"

# --- environment checks -------------------------------------------------

fstype=$(stat -f -c %T "$DATA" 2>/dev/null || echo unknown)
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
trap 'rm -rf "$MUHOME" "$OUT"' EXIT
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

# --- main loop -----------------------------------------------------------

[ -x "$MAILBAG" ] || log "bench: $MAILBAG missing (mailbag jobs will fail)"
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
	fi
done


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
				echo "set label 1 'no data' at graph 0.4,0.5; plot NaN notitle; unset label 1"
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

#!/bin/sh
# run.sh BUILD-FUZZ SECONDS [NAME...] - run each fuzz target in turn for
# SECONDS (all of BUILD-FUZZ/fuzz-* when no NAME is given), nice'd, one
# at a time.  The corpus grows in BUILD-FUZZ/corpus/NAME (seeded from
# tests/fuzz/corpus/NAME and tests/fuzz/regress/NAME, which are only
# read); crashes land in BUILD-FUZZ/crash/NAME/; logs in BUILD-FUZZ/log/.
# Prints one line per target: executions, exec/s, corpus size, findings.
set -u
fz=$1 secs=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- $(cd "$fz" && ls fuzz-* | sed 's/^fuzz-//')
mkdir -p "$fz/log"
printf '%-12s %10s %8s %8s %9s %s\n' target execs exec/s corpus findings seconds
for t in "$@"; do
	bin=$fz/fuzz-$t
	[ -x "$bin" ] || { echo "$t: no $bin" >&2; continue; }
	mkdir -p "$fz/corpus/$t" "$fz/crash/$t"
	seeds=
	for d in "$src/corpus/$t" "$src/regress/$t"; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	log=$fz/log/$t.log
	start=$(date +%s)
	# -timeout: one input may take at most 10 s; -rss_limit_mb: 2 GiB.
	nice -n 10 "$bin" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$fz/crash/$t/" \
		"$fz/corpus/$t" $seeds >"$log" 2>&1
	rc=$?
	el=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	ncorp=$(ls "$fz/corpus/$t" | wc -l)
	nfind=$(ls "$fz/crash/$t" | wc -l)
	printf '%-12s %10s %8s %8s %9s %s%s\n' "$t" "${execs:-?}" "${eps:-?}" \
		"$ncorp" "$nfind" "$el" "$( [ $rc = 0 ] || echo " (exit $rc, see $log)")"
done

#!/bin/sh
# demo.sh BIN - a short tour of mailbag on contrib/sample.mbox.
# Run by `make demo`: checks the sample, converts it to MMDF and back, and
# compares the round trip with the original.  Works in a temp directory.
set -u

bin=${1:?usage: demo.sh /path/to/mailbag}
here=$(cd "$(dirname "$0")" && pwd)
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mailbag-demo.XXXXXX") || exit 1
# MAILBAG_KEEP=1 keeps the directory to look at.
[ -n "${MAILBAG_KEEP-}" ] || trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
cp "$here/sample.mbox" sample.mbox

status=0
# mb ARGS...: show the mailbag command, run it, report a non-zero exit.
mb() {
	printf '\n$ mailbag %s\n' "$*"
	"$bin" "$@"
	rc=$?
	if [ "$rc" != 0 ]; then
		echo "(exit $rc)"
		status=1
	fi
	return "$rc"
}

echo "mailbag demo in $tmp (sample: $(grep -c '^From ' sample.mbox) messages)"
mb check sample.mbox
mb convert --to mmdf sample.mbox sample.mmdf
mb check sample.mmdf
mb convert sample.mmdf roundtrip.mbox

mb convert sample.mbox direct.mbox

# Both files were written by mailbag from the same messages; they differ
# only in the FOLDER INTERNAL DATA message (it carries the time it was
# made), so compare everything after it.
after_pseudo() { awk 'n >= 2 { print; next } /^From / { n++; if (n == 2) print }' "$1"; }
printf '\n$ compare direct.mbox roundtrip.mbox (after the internal-data message)\n'
if [ ! -f roundtrip.mbox ] || [ ! -f direct.mbox ]; then
	echo "a conversion failed"
	status=1
elif after_pseudo direct.mbox >a.txt && after_pseudo roundtrip.mbox >b.txt &&
	cmp a.txt b.txt; then
	echo "identical: mbox -> mmdf -> mbox kept every message, flag, keyword and UID ($(wc -c <a.txt) bytes)"
else
	status=1
	diff -u a.txt b.txt | head -40
fi
exit "$status"

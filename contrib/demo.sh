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

printf '\n$ cmp sample.mbox roundtrip.mbox\n'
if [ ! -f roundtrip.mbox ]; then
	echo "no roundtrip.mbox: the conversion failed"
	status=1
elif cmp sample.mbox roundtrip.mbox; then
	echo "identical: mbox -> mmdf -> mbox kept every byte ($(wc -c <sample.mbox) bytes)"
else
	status=1
	diff -u sample.mbox roundtrip.mbox | head -40
fi
exit "$status"

#!/bin/bash
test_description='the manual pages keep up with the code: commands, options, diagnostic codes, settings'
. "$(dirname "$0")/lib.sh"

SRC=$(dirname "$TESTS_DIR")
MAN=$SRC/man

# How a page is turned into plain text (and checked for mistakes).
if command -v mandoc >/dev/null 2>&1; then
	test_set_prereq MANDOC
	render() { mandoc -T ascii -O width=250 "$1" | col -bx; }
	test_set_prereq RENDER
elif command -v man >/dev/null 2>&1 && man -l /dev/null >/dev/null 2>&1; then
	render() { MANWIDTH=250 man -l -T ascii "$1" 2>/dev/null | col -bx; }
	test_set_prereq RENDER
fi
if command -v man >/dev/null 2>&1 && man -l /dev/null >/dev/null 2>&1; then
	test_set_prereq MAN
fi

# has_option FILE OPT: rendered page FILE names --OPT as a whole word.
has_option() {
	grep -E -q -- "(^|[^a-zA-Z-])--$2([^a-zA-Z-]|\$)" "$1" && return 0
	echo "no --$2 in $1" >&2
	return 1
}

# The long options a --help text lists.
long_options() { grep -o -E -- '--[a-z][a-z-]*' | sed 's/^--//' | sort -u; }

# "LEVEL code" for every mbi_diag(b, MB_DIAG_LEVEL, "code"...) call of
# formats/*.c, and for diag functions taking a path before the level;
# a conditional code ("a" : "b") gives one line for each.
diag_codes() {
	perl -0777 -ne '
		while (/\w*diag\w*\(\s*\w+\s*,\s*(?:[^,()]+,\s*)?MB_DIAG_(\w+)\s*,\s*([^,]*),/g) {
			my ($l, $a) = ($1, $2);
			print substr($l, 0, 1), " $1\n" while $a =~ /"([^"]*)"/g;
		}' "$@" | sort -u
}

test_expect_success 'the mailbag binary is built' '
	test -x "$MAILBAG"
'

test_expect_success 'every command and alias is known' '
	mailbag --list-commands >commands &&
	test -s commands &&
	mailbag --list-aliases >aliases
'

# Section 8 for commands only the system runs (deliver, for the MTA).
page_of() {
	if [ -f "$MAN/mailbag-$1.8" ]; then echo "mailbag-$1.8"
	else echo "mailbag-$1.1"; fi
}

test_expect_success 'every command has its page man/mailbag-COMMAND.1 (or .8)' '
	rc=0 &&
	while read -r c; do
		test -f "$MAN/$(page_of "$c")" || {
			echo "missing man/mailbag-$c.1" >&2; rc=1; }
	done <commands &&
	test "$rc" = 0
'

test_expect_success 'every page names itself in its .Dt and section suffix' '
	rc=0 &&
	for f in "$MAN"/*.[1-9]; do
		b=$(basename "$f") && sec=${b##*.} && name=${b%.*} &&
		dt=$(sed -n "s/^\.Dt //p" "$f") &&
		want=$(echo "$name $sec" | tr a-z A-Z) &&
		if [ "$dt" != "$want" ]; then
			echo "$b: .Dt $dt, wanted $want" >&2; rc=1
		fi
	done &&
	test "$rc" = 0
'

test_expect_success MANDOC 'every page passes mandoc -T lint without warnings' '
	mandoc -T lint -W warning "$MAN"/*.[1-9] >lint 2>&1
	rc=$? &&
	cat lint >&2 &&
	test "$rc" = 0 &&
	test_must_be_empty lint
'

test_expect_success MAN 'every page renders with man -l without complaints' '
	rc=0 &&
	for f in "$MAN"/*.[1-9]; do
		MANWIDTH=80 man -l "$f" >out 2>err </dev/null || {
			echo "man -l $f failed" >&2; rc=1; }
		test -s out || { echo "man -l $f: no output" >&2; rc=1; }
		if grep -v "^$" err | grep -q .; then
			echo "man -l $f:" >&2; cat err >&2; rc=1
		fi
	done &&
	test "$rc" = 0
'

test_expect_success RENDER 'render every page to text' '
	mkdir txt &&
	rc=0 &&
	for f in "$MAN"/*.[1-9]; do
		render "$f" >"txt/$(basename "$f")" &&
		test -s "txt/$(basename "$f")" || {
			echo "cannot render $f" >&2; rc=1; }
	done &&
	test "$rc" = 0
'

test_expect_success RENDER 'every long option of mailbag --help is in mailbag(1)' '
	mailbag --help | long_options >opts &&
	test -s opts &&
	rc=0 &&
	while read -r o; do has_option txt/mailbag.1 "$o" || rc=1; done <opts &&
	test "$rc" = 0
'

test_expect_success RENDER 'every long option of each COMMAND --help is in mailbag-COMMAND(1)' '
	rc=0 &&
	while read -r c; do
		p=$(page_of "$c") &&
		mailbag "$c" --help | long_options >"opts.$c" &&
		test -s "opts.$c" || { echo "$c: no options in --help" >&2; rc=1; }
		test -f "txt/$p" || { rc=1; continue; }
		while read -r o; do
			has_option "txt/$p" "$o" || rc=1
		done <"opts.$c"
	done <commands &&
	test "$rc" = 0
'

test_expect_success RENDER 'every command and alias is named in mailbag(1)' '
	rc=0 &&
	while read -r c; do
		grep -q -w -- "$c" txt/mailbag.1 || {
			echo "mailbag.1 does not name $c" >&2; rc=1; }
	done <commands &&
	while read -r a; do
		grep -q -- "$a" txt/mailbag.1 || {
			echo "mailbag.1 does not name alias $a" >&2; rc=1; }
	done <aliases &&
	test "$rc" = 0
'

test_expect_success 'the diagnostic codes of formats/*.c are found' '
	diag_codes "$SRC"/formats/*.c >codes &&
	cat codes >&2 &&
	grep -q "^D bad-first-line\$" codes &&
	grep -q "^D uid-order\$" codes &&
	grep -q "^D duplicate-uid\$" codes &&
	grep -q "^W no-blank-line\$" codes &&
	test "$(wc -l <codes)" -ge 20
'

test_expect_success RENDER 'every diagnostic code is in mailbag-check(1) with its level' '
	rc=0 &&
	while read -r level code; do
		grep -q -E -- "^ *$code \\($level\\)" txt/mailbag-check.1 || {
			echo "mailbag-check.1 lacks \"$code ($level)\"" >&2
			rc=1
		}
	done <codes &&
	test "$rc" = 0
'

test_expect_success RENDER 'mailbag-check(1) lists no diagnostic code the code lacks' '
	sed -n "/^ *[a-z][a-z-]* ([DWI])\$/s/^ *\([a-z-]*\) (\([DWI]\))\$/\2 \1/p" \
		txt/mailbag-check.1 | sort -u >listed &&
	test -s listed &&
	test_cmp codes listed
'

test_expect_success 'the settings of libmbox/conf.c are found' '
	sed -n "/settings\[\] = {/,/^};/s/^[[:space:]]*{ \"\([a-z-]*\)\",.*/\1/p" \
		"$SRC/libmbox/conf.c" | sort -u >settings &&
	cat settings >&2 &&
	grep -q "^lock-timeout\$" settings &&
	test "$(wc -l <settings)" -ge 8
'

test_expect_success RENDER 'every setting name conf.c accepts is in mailbag.conf(5)' '
	rc=0 &&
	while read -r s; do
		grep -q -E -- "(^|[^a-z-])$s([^a-z-]|\$)" txt/mailbag.conf.5 || {
			echo "mailbag.conf.5 lacks $s" >&2; rc=1; }
	done <settings &&
	test "$rc" = 0
'

test_expect_success RENDER 'every format the build knows is in mailbag-formats(5)' '
	mailbag formats | cut -f1 >formats &&
	test -s formats &&
	rc=0 &&
	while read -r f; do
		grep -q -w -- "$f" txt/mailbag-formats.5 || {
			echo "mailbag-formats.5 lacks $f" >&2; rc=1; }
	done <formats &&
	test "$rc" = 0
'

test_done

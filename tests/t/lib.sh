# lib.sh - git t/-style harness for mailbag's shell tests; emits TAP.
#
#   test_description 'what this script tests'
#   . "$(dirname "$0")/lib.sh"
#   test_expect_success 'title' 'mailbag check x >out && test_cmp exp out'
#   test_done
#
# Each script runs in a private trash directory (cwd, also $HOME), removed
# at exit unless a test failed or MAILBAG_KEEP is set.  Test bodies are
# eval'd in the script's shell (so variables carry over), with stdin from
# /dev/null and stdout/stderr captured; the capture is shown as "# " lines
# on stderr only when the test fails, or always with MAILBAG_VERBOSE=1 or
# -v.  Exported: MAILBAG MAILBAG_BUILD TESTS_DIR DATA HELPER TRASH.

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MAILBAG_BUILD=${MAILBAG_BUILD:-$(dirname "$TESTS_DIR")/build}
MAILBAG=$MAILBAG_BUILD/bin/mailbag
DATA=$TESTS_DIR/data
HELPER=$MAILBAG_BUILD/tests/helper
export TESTS_DIR MAILBAG_BUILD MAILBAG DATA HELPER

case ${1-} in -v | --verbose) MAILBAG_VERBOSE=1 ;; esac
export LC_ALL=C TZ=UTC
unset LANG LANGUAGE MAIL MAILDIR
umask 022
# Sanitizer reports exit 99 so test_must_fail can tell them from failures.
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=99:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=99:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-exitcode=99}

t_count=0 t_failed=0 t_done=0 t_atexit='' t_prereqs=''
t_name=$(basename "$0" .sh)
t_root=$(mktemp -d "${TMPDIR:-/tmp}/mailbag-$t_name.XXXXXX") || exit 1
TRASH=$t_root/trash
# Searchable by others: uw.sh runs UW programs as a throwaway user in it.
chmod 755 "$t_root" && mkdir "$TRASH" "$t_root/log" || exit 1
export TRASH HOME=$TRASH
cd "$TRASH" || exit 1

mailbag() { "$MAILBAG" "$@"; }

t_diag() { sed 's/^/# /' >&2; }

t_cleanup() {
	local rc=$?
	eval "$t_atexit" >/dev/null 2>&1
	cd / || :
	if [ "$t_done" = 0 ]; then
		echo "# $t_name: exited (status $rc) before test_done" >&2
		[ "$rc" = 0 ] && rc=1
	fi
	if [ "$t_failed" != 0 ] || [ "$rc" != 0 ] || [ -n "${MAILBAG_KEEP-}" ]; then
		echo "# trash directory kept: $TRASH" >&2
	else
		rm -rf "$t_root"
	fi
	exit "$rc"
}
trap t_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# test_atexit CMD: run CMD (a string) when the script exits, newest first.
test_atexit() { t_atexit="$1; $t_atexit"; }

test_description() { test_description=$1; }
test_set_prereq() { t_prereqs="$t_prereqs $1 "; }
# test_have_prereq A,B: true when all of the comma-separated prereqs are set.
test_have_prereq() {
	local p
	for p in ${1//,/ }; do
		case $t_prereqs in *" $p "*) ;; *) return 1 ;; esac
	done
}

# t_run TITLE BODY: run BODY with captured output; status of BODY.
t_run() {
	local log=$t_root/log/$t_count rc
	{ eval "$2"; } </dev/null >"$log" 2>&1
	rc=$?
	cd "$TRASH" || exit 1
	if [ -n "${MAILBAG_VERBOSE-}" ] && [ -s "$log" ]; then t_diag <"$log"; fi
	t_lastlog=$log
	return "$rc"
}

# test_expect_success [PREREQ] TITLE BODY
test_expect_success() {
	if [ $# = 3 ]; then
		test_have_prereq "$1" || { test_skip "$2" "missing $1"; return; }
		shift
	fi
	t_count=$((t_count + 1))
	if t_run "$1" "$2"; then
		echo "ok $t_count - $1"
	else
		t_failed=$((t_failed + 1))
		echo "not ok $t_count - $1"
		{ echo "failed test: $1"; echo "$2" | sed 's/^/    /'
		  echo "output:"; cat "$t_lastlog"; } | t_diag
	fi
}

# A known breakage: TODO in TAP, so it never fails the script.
test_expect_failure() {
	if [ $# = 3 ]; then
		test_have_prereq "$1" || { test_skip "$2" "missing $1"; return; }
		shift
	fi
	t_count=$((t_count + 1))
	if t_run "$1" "$2"; then
		echo "ok $t_count - $1 # TODO known breakage vanished"
	else
		echo "not ok $t_count - $1 # TODO known breakage"
	fi
}

test_skip() {
	t_count=$((t_count + 1))
	echo "ok $t_count - $1 # SKIP ${2:-}"
}

skip_all() {
	[ "$t_count" = 0 ] || { echo "# skip_all after $t_count tests: $1" >&2; exit 1; }
	echo "1..0 # SKIP $1"
	t_done=1
	exit 0
}

test_done() {
	echo "1..$t_count"
	t_done=1
	[ "$t_failed" = 0 ] && exit 0
	echo "# failed $t_failed of $t_count" >&2
	exit 1
}

# --- helpers for test bodies; each explains itself on stderr when failing.

test_expect_code() {
	local want=$1 rc=0
	shift
	"$@" || rc=$?
	[ "$rc" = "$want" ] && return 0
	echo "test_expect_code: '$*' exited $rc, wanted $want" >&2
	return 1
}

# Fails on success, on a missing command (126/127), on death by signal
# (>128) and on a sanitizer report (99).
test_must_fail() {
	local rc=0
	"$@" || rc=$?
	case $rc in
	0) echo "test_must_fail: '$*' succeeded" >&2 ;;
	99) echo "test_must_fail: '$*' hit a sanitizer (99)" >&2 ;;
	126 | 127) echo "test_must_fail: '$*' could not run ($rc)" >&2 ;;
	*) [ "$rc" -le 128 ] && return 0
		echo "test_must_fail: '$*' died of signal $((rc - 128))" >&2 ;;
	esac
	return 1
}

test_cmp() { diff -u -- "$1" "$2" >&2; }

test_must_be_empty() {
	[ -f "$1" ] || { echo "test_must_be_empty: '$1' is missing" >&2; return 1; }
	[ -s "$1" ] || return 0
	echo "test_must_be_empty: '$1' is not empty:" >&2
	cat -- "$1" >&2
	return 1
}

# test_grep [!] [GREP-OPTION...] PATTERN FILE
test_grep() {
	local neg='' file
	[ "$1" = "!" ] && { neg=1; shift; }
	file=${!#}
	if [ -n "$neg" ]; then
		grep "$@" >/dev/null || return 0
		echo "test_grep: found unwanted '${*: -2:1}' in '$file':" >&2
	else
		grep "$@" >/dev/null && return 0
		echo "test_grep: no '${*: -2:1}' in '$file':" >&2
	fi
	cat -- "$file" >&2
	return 1
}

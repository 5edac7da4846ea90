#!/bin/sh
# run.sh BUILD [JOBS] - `make valgrind`: the tests with every mailbag run
# under valgrind's memcheck (see README in this directory).
#
# A wrapper build directory, BUILD/valgrind, stands in for BUILD: its
# bin/mailbag is a script that runs the real BUILD/bin/mailbag under
#   valgrind --error-exitcode=99 --leak-check=full
#            --errors-for-leak-kinds=definite
# with the report in a log file (so stderr stays the program's own), and
# its tests/ is BUILD/tests (helpers, unit tests).  lib.sh finds mailbag
# through MAILBAG_BUILD, so every test's mailbag, also one started as
# another user or through a symlink with another name (argv[0] is kept),
# runs under valgrind.  The C unit tests run under it directly.
#
# VALGRIND_TESTS="tests/t/t1100-mbx.sh ..." chooses the shell scripts,
# VALGRIND_TESTS=all runs every script but the excluded ones (over an
# hour); the default is the representative set below (about 15 minutes
# on 2 quiet cores), and always the unit tests.
set -u

b=$(cd "${1:?usage: run.sh BUILD [JOBS]}" && pwd) || exit 1
jobs=${2:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
command -v valgrind >/dev/null 2>&1 || { echo "valgrind is not installed" >&2; exit 1; }

# Left out: the crash-injection suites (hundreds of runs, each killed on
# purpose: a killed process leaks by definition), t5100 (the setgid
# lock helper, which valgrind cannot run with its privileges) and
# t6000's memory-ceiling test would measure valgrind (its search tests
# are kept through t6001).
exclude='t3100-crash-convert t3101-crash-rewrite t3102-crash-tail t5301-manage-crash t5100-lock-helper t6000-search'

# The default set: every format's driver (mbx, maildir, mix and the
# rest through convert and manage), the damaged-input parsers, the
# error paths of every writing command (full disk, read-only), delivery
# and the mailutil jobs.
default='t1100-mbx t2001-check-damage t3000-convert t3400-full-readonly t4000-maildir t4100-mix t5201-dmail t5300-manage'

vg=$b/valgrind
logs=$vg/logs
rm -rf "$vg"
mkdir -p "$vg/bin" "$vg/alias" "$logs" || exit 1
# runs as throwaway users too: they must reach the wrapper and the logs
chmod 755 "$vg" "$vg/bin" && chmod 1777 "$vg/alias" "$logs" || exit 1
ln -s "$b/tests" "$vg/tests"
ln -s "$b/bin/mailbag-lock" "$vg/bin/mailbag-lock"
cat >"$vg/bin/mailbag" <<EOS
#!/bin/sh
# mailbag under valgrind (tests/valgrind/run.sh)
real=$b/bin/mailbag
name=\${0##*/}
if [ "\$name" != mailbag ]; then
	# called by another name (mbox-check, mailbag-convert, ...): the
	# multi-call binary needs that name as argv[0]
	[ -e "$vg/alias/\$name" ] || ln -s "\$real" "$vg/alias/\$name" 2>/dev/null
	real=$vg/alias/\$name
fi
# PIDs come round again in a long run, and a log of another user's in
# the sticky directory cannot be overwritten: the name has the time too
stamp=\$(date +%s%N)
exec valgrind -q --error-exitcode=99 --leak-check=full \\
	--suppressions=$root/tests/valgrind/mailbag.supp \\
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \\
	--child-silent-after-fork=yes --num-callers=30 \\
	--log-file=$logs/vg.%p.\$stamp "\$real" "\$@"
EOS
chmod 755 "$vg/bin/mailbag"

vgunit="valgrind -q --error-exitcode=99 --suppressions=$root/tests/valgrind/mailbag.supp --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --log-file=$logs/vg.unit.%p"
tests=
case ${VALGRIND_TESTS:-default} in
all)
	for t in tests/t/t*.sh; do
		n=${t##*/}
		case " $exclude " in *" ${n%.sh} "*) continue ;; esac
		tests="$tests $t"
	done ;;
default)
	for n in $default; do tests="$tests tests/t/$n.sh"; done ;;
*)	tests=$VALGRIND_TESTS ;;
esac
units=$(ls "$b"/tests/unit/* | grep -v '\.gc')

start=$(date +%s)
rc=0
# the unit tests find their data through the real build directory
# shellcheck disable=SC2086
MAILBAG_BUILD=$b prove --timer -j"$jobs" --exec "$vgunit" $units || rc=1
# shellcheck disable=SC2086
MAILBAG_BUILD=$vg prove --timer -j"$jobs" --exec "$root/tests/run-test" $tests || rc=1

# a log with anything in it is a report (-q prints only errors)
n=0
for f in "$logs"/vg.*; do
	[ -s "$f" ] || { rm -f "$f"; continue; }
	n=$((n + 1))
done
echo
echo "valgrind: $(ls "$logs" | wc -l) reports in $logs, $(($(date +%s) - start)) s"
if [ "$n" != 0 ]; then
	for f in "$logs"/vg.*; do
		echo "--- $f"
		head -n 40 "$f"
	done
	rc=1
fi
exit "$rc"

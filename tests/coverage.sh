#!/bin/sh
# coverage.sh BUILD [JOBS] - `make coverage`: run the whole test suite on
# the gcov build BUILD (build-cov, made with COV=1) and report the line
# coverage of libmbox/, formats/ and repair/, each and in total, and every
# file below the threshold (COVERAGE_MIN, default 85).  HTML goes to
# BUILD/html, the lcov data to BUILD/coverage.info.
#
# Many tests run mailbag as a throwaway user (uw.sh), which must be able
# to write the .gcda counters: the build's directories are made writable
# by all and each counter file is made empty and mode 666 beforehand
# (libgcov fills an empty file), so that no test sees gcov's complaints.
# COVERAGE_TESTS="tests/t/t1100-mbx.sh ..." runs only those scripts.
set -u

b=$(cd "${1:?usage: coverage.sh BUILD [JOBS]}" && pwd) || exit 1
jobs=${2:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
min=${COVERAGE_MIN:-85}
cd "$root" || exit 1

find "$b" -name '*.gcda' -exec rm -f {} +
find "$b" -type d -exec chmod 777 {} +
find "$b" -name '*.gcno' | while read -r g; do
	: >"${g%.gcno}.gcda" && chmod 666 "${g%.gcno}.gcda"
done

tests=${COVERAGE_TESTS:-"$(ls "$b"/tests/unit/* | grep -v '\.gc' | tr '\n' ' ') $(ls tests/t/t*.sh | tr '\n' ' ')"}
# shellcheck disable=SC2086
MAILBAG_BUILD=$b prove -j"$jobs" --exec "$root/tests/run-test" $tests
trc=$?
# counters no program wrote (killed ones) are not gcov files
find "$b" -name '*.gcda' -size 0 -exec rm -f {} +

info=$b/coverage.info
# (lcov 1.16 with gcc 12's gcov: geninfo warns of redefined subroutines)
lcov -q --capture --directory "$b" --base-directory "$root" \
	--output-file "$b/all.info" 2>"$b/lcov.log" || { cat "$b/lcov.log" >&2; exit 1; }
lcov -q --extract "$b/all.info" "$root/libmbox/*" "$root/formats/*" \
	"$root/repair/*" --output-file "$info" 2>>"$b/lcov.log" || exit 1
for d in libmbox formats repair; do
	lcov -q --extract "$info" "$root/$d/*" --output-file "$b/$d.info" \
		2>>"$b/lcov.log" || exit 1
done

# lines hit and found of an lcov file: "LH LF"
lines() { awk -F: '/^LH:/ { h += $2 } /^LF:/ { f += $2 } END { print h + 0, f + 0 }' "$1"; }
row() {
	set -- "$1" $(lines "$2")
	awk -v n="$1" -v h="$2" -v f="$3" 'BEGIN {
		printf "%-10s %8d %8d %7.1f%%\n", n, h, f, f ? 100 * h / f : 0 }'
}
echo
echo "line coverage ($(date -u '+%Y-%m-%d %H:%M UTC'), tests exit $trc)"
printf '%-10s %8s %8s %8s\n' area hit lines cover
for d in libmbox formats repair; do row "$d/" "$b/$d.info"; done
row total "$info"

echo
echo "files below $min%:"
awk -F: -v min="$min" -v root="$root/" '
	/^SF:/ { f = substr($0, 4); sub(root, "", f); h = 0; n = 0 }
	/^LH:/ { h = $2 } /^LF:/ { n = $2 }
	/^end_of_record/ { if (n && 100 * h / n < min)
		printf "  %-24s %5d of %5d  %5.1f%%\n", f, h, n, 100 * h / n }
' "$info" | sort -k5 -n

genhtml -q --title "mailbag line coverage" --output-directory "$b/html" \
	"$info" >>"$b/lcov.log" 2>&1 || { cat "$b/lcov.log" >&2; exit 1; }
echo
echo "HTML: $b/html/index.html"
exit "$trc"

#!/bin/bash
test_description='fuzz targets: every seed input and every crash ever found, replayed'
. "$(dirname "$0")/lib.sh"

# Each tests/fuzz/fuzz-NAME.c is also built with the normal compiler as
# $MAILBAG_BUILD/tests/fuzz/replay-NAME (tests/fuzz/replay.c is its main):
# it runs the target once on each file.  Under SAN=1 a sanitizer report
# fails the test (exit 99, see lib.sh).
FUZZ=$TESTS_DIR/fuzz

for src in "$FUZZ"/fuzz-*.c; do
	t=$(basename "$src" .c)
	t=${t#fuzz-}
	test_expect_success "$t: seeds and regression inputs replay cleanly" '
		bin=$MAILBAG_BUILD/tests/fuzz/replay-$t &&
		test -x "$bin" &&
		ls "$FUZZ/corpus/$t"/* >seeds &&
		test -s seeds &&
		find "$FUZZ/corpus/$t" "$FUZZ/regress/$t" -type f 2>/dev/null |
			sort >inputs &&
		xargs -d "\n" "$bin" <inputs >out &&
		test_grep "^replayed $(wc -l <inputs) input" out
	'
done

test_expect_success 'a crashing input fails the replay' '
	printf "crash" >boom &&
	cat >crash.c <<-\C &&
	#include <stdint.h>
	#include <stdlib.h>
	#include <string.h>
	int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
	int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
	{
		if (n == 5 && memcmp(d, "crash", 5) == 0)
			abort();
		return 0;
	}
	C
	${CC:-cc} -o crash crash.c "$FUZZ/replay.c" &&
	printf "fine" >fine &&
	./crash fine &&
	test_expect_code 134 ./crash fine boom
'

test_done

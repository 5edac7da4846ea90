#!/bin/bash
test_description='the scout thread (libmbox/scout.c) under ThreadSanitizer

tests/unit/scout.c, built here with -fsanitize=thread against scout.c and
mapped.c alone, must pass and draw no report: a data race between the
scan and its scout fails this test even when the answers came out right.'
. "$(dirname "$0")/lib.sh"

REPO=$(dirname "$TESTS_DIR")
CC=${CC:-cc}
TSAN_CFLAGS="-std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -g -O1 -fsanitize=thread -pthread"

# TSan needs its runtime (libtsan) and a kernel whose address layout it
# accepts: try a trivial program first
cat >probe.c <<'PROBE'
#include <pthread.h>
static void *f(void *a) { return a; }
int main(void) { pthread_t t; pthread_create(&t, 0, f, 0); return pthread_join(t, 0); }
PROBE
if $CC $TSAN_CFLAGS probe.c -o probe >probe.err 2>&1 && ./probe >>probe.err 2>&1; then
	test_set_prereq TSAN
fi

test_expect_success TSAN 'unit/scout builds with -fsanitize=thread' '
	$CC $TSAN_CFLAGS -I"$REPO/libmbox" -I"$TESTS_DIR" \
		"$TESTS_DIR/unit/scout.c" "$REPO/libmbox/scout.c" \
		"$REPO/libmbox/mapped.c" -o scout-tsan
'

test_expect_success TSAN 'and passes with no ThreadSanitizer report' '
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./scout-tsan >out 2>err &&
	grep -q "^1\.\.[0-9]" out &&
	! grep -q "^not ok" out &&
	! grep -q ThreadSanitizer err
'

test_done

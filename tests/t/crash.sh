# crash.sh - helpers for the tests that kill a command at a system call
# with tests/helper/crashinject.so (see its comment for CRASH_AT, CRASH_TORN,
# CRASH_COUNT).  Source after lib.sh.
#
#   SHIM                 the shim; a test without it calls skip_all itself
#   CRASH_ASAN           ASAN_OPTIONS to run with: a sanitizer build accepts
#                        a shim preloaded ahead of libasan only with
#                        verify_asan_link_order=0
#   crashrun ENV... -- CMD...   CMD with the shim and ENV; its status
#   count_calls CMD...   the counted calls CMD makes (it must succeed)
#   points TOTAL SALT    crash points, "N" or "N torn", one a line: every
#                        call twice (plain and torn) when that is at most
#                        $MAXPOINTS runs, else $MAXPOINTS ones seeded from
#                        $SEED + SALT

SHIM=$HELPER/crashinject.so
if ldd "$MAILBAG" 2>/dev/null | grep -q libasan ||
	nm "$MAILBAG" 2>/dev/null | grep -q __asan_init; then
	CRASH_ASAN=${ASAN_OPTIONS-}:verify_asan_link_order=0
else
	CRASH_ASAN=${ASAN_OPTIONS-}
fi

crashrun() {
	local env=()
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" "${env[@]}" "$@"
}

count_calls() {
	rm -f "$TRASH/.count"
	crashrun CRASH_COUNT=1 CRASH_COUNT_FILE="$TRASH/.count" -- "$@" \
		>/dev/null || return 1
	cat "$TRASH/.count"
}

points() {
	awk -v total="$1" -v max="$MAXPOINTS" -v seed="$((SEED + ${2:-0}))" 'BEGIN {
		if (2 * total <= max) {
			for (i = 1; i <= total; i++) { print i; print i " torn" }
			exit
		}
		srand(seed)
		for (i = 0; i < max; i++) {
			p = 1 + int(rand() * total)
			print p (rand() < 0.5 ? " torn" : "")
		}
	}'
}

#!/bin/bash
test_description='convert -r: a tree of mailboxes, mailbox by mailbox'
. "$(dirname "$0")/lib.sh"

MBTOOL=$HELPER/mbtool
. "$TESTS_DIR/t/crash.sh"

# dump BOX: format-neutral summary (UID state; per message UID, flags,
# keywords, internal date, size and hash of the text).
dump() { "$MBTOOL" dump "$1"; }

# same SRC DST [FORMAT]: the two mailboxes hold the same messages with
# the same flags, keywords, dates and UIDs, and DST holds exactly what a
# plain `convert SRC` (into FORMAT) makes of each message's text (which
# may differ from SRC's by the quoting the destination needs).
same() {
	local fmt=${3:-$("$MAILBAG" check "$1" | sed -n "s/^[^:]*: \([a-z]*\),.*/\1/p" | tail -n 1)}
	dump "$1" | sed "s/ size=.* kw=/ kw=/" >"$TRASH/.a" &&
	dump "$2" | sed "s/ size=.* kw=/ kw=/" >"$TRASH/.b" &&
	test_cmp "$TRASH/.a" "$TRASH/.b" &&
	rm -f "$TRASH/.single" &&
	"$MAILBAG" convert -q --to="$fmt" "$1" "$TRASH/.single" &&
	dump "$TRASH/.single" >"$TRASH/.a" && dump "$2" >"$TRASH/.b" &&
	test_cmp "$TRASH/.a" "$TRASH/.b"
}

# snap DIR: names, types, sizes, modes, mtimes and contents of a tree.
snap() {
	(cd "$1" && find . -printf '%p %y %s %m %l\n' | sort &&
		find . -type f -printf '%p %T@\n' | sort &&
		find . -type f -exec md5sum {} + | sort)
}

# The source tree: unix, mmdf and mbx mailboxes (UW's own samples and
# generated ones) at several levels, an empty directory, a file that is
# no mailbox, a FIFO, links (inside, out of the tree, a loop, dangling)
# and a lock file.
make_tree() {
	mkdir -p "$1/lists/old/deep" "$1/empty/inner" "$1/archive" &&
	cp "$DATA/uw/unix-rewritten-xIMAPbase.mbox" "$1/inbox" &&
	cp "$DATA/uw/unix-after-rewrite-pseudo-xIMAP.mbox" "$1/.saved" &&
	cp "$DATA/uw/mmdf-after-append.mmdf" "$1/lists/mm" &&
	cp "$DATA/mbx/mbx-with-keywords.mbx" "$1/lists/old/kw" &&
	cp "$DATA/mbx/mbx-after-rw-open-uids-assigned.mbx" "$1/lists/old/deep/x" &&
	"$HELPER/gen-mbox" --seed 7 --count 30 -o "$1/archive/2023" &&
	"$HELPER/gen-mbox" --seed 8 --count 20 --format mmdf \
		-o "$1/archive/2024" &&
	cp "$DATA/uw/unix-new-empty.mbox" "$1/archive/none"
}

test_expect_success 'setup: a tree with everything in it' '
	make_tree src &&
	echo "no mail here" >src/notes.txt &&
	mkfifo src/lists/fifo &&
	ln -s inbox src/in-link &&
	ln -s ../.. src/lists/old/up &&
	ln -s /etc src/etc-link &&
	ln -s nowhere src/dangling &&
	ln -s loop-b src/loop-a && ln -s loop-a src/loop-b &&
	: >src/inbox.lock &&
	snap src >src.before
'

cat >expect.tree <<EOF
directory dst
copied 2 messages from src/.saved (unix) to dst/.saved (unix)
directory dst/archive
copied 30 messages from src/archive/2023 (unix) to dst/archive/2023 (unix)
copied 20 messages from src/archive/2024 (mmdf) to dst/archive/2024 (mmdf)
copied 0 messages from src/archive/none (unix) to dst/archive/none (unix)
skipped src/dangling: dangling symbolic link
directory dst/empty
directory dst/empty/inner
skipped src/etc-link: symbolic link out of the tree
link dst/in-link -> inbox
copied 2 messages from src/inbox (unix) to dst/inbox (unix)
directory dst/lists
skipped src/lists/fifo: not a regular file or directory
copied 2 messages from src/lists/mm (mmdf) to dst/lists/mm (mmdf)
directory dst/lists/old
directory dst/lists/old/deep
copied 2 messages from src/lists/old/deep/x (mbx) to dst/lists/old/deep/x (mbx)
copied 2 messages from src/lists/old/kw (mbx) to dst/lists/old/kw (mbx)
link dst/lists/old/up -> ../..
skipped src/loop-a: symbolic link loop
skipped src/loop-b: symbolic link loop
skipped src/notes.txt: not a mailbox
copied 8 mailboxes, 7 directories, 2 links; 0 failed, 6 skipped
EOF

test_expect_success 'convert -r copies every mailbox, one line each' '
	mailbag convert -r -q src dst >out &&
	test_cmp expect.tree out
'

test_expect_success 'each mailbox keeps its format, messages, flags, UIDs' '
	for b in inbox .saved lists/mm lists/old/kw lists/old/deep/x \
		archive/2023 archive/2024 archive/none; do
		same src/$b dst/$b || return 1
	done &&
	test "$("$MBTOOL" list dst "*" | grep -c " mailbox unix")" = 5 &&
	test "$("$MBTOOL" list dst "*" | grep -c " mailbox mmdf")" = 2 &&
	test "$("$MBTOOL" list dst "*" | grep -c " mailbox mbx")" = 2
'

test_expect_success 'directories, links and nothing else' '
	test -d dst/empty/inner &&
	test "$(readlink dst/in-link)" = inbox &&
	test "$(readlink dst/lists/old/up)" = ../.. &&
	! test -e dst/notes.txt && ! test -e dst/inbox.lock &&
	! test -e dst/etc-link && ! test -e dst/lists/fifo &&
	test -z "$(find dst -name ".*mbtmp*")"
'

test_expect_success 'SRC is not modified' '
	snap src >src.after &&
	test_cmp src.before src.after
'

test_expect_success '--to applies to every mailbox' '
	mailbag convert -r -q --to=mbx src dst-mbx >out &&
	test "$("$MBTOOL" list dst-mbx "*" | grep -c " mailbox mbx")" = 9 &&
	! "$MBTOOL" list dst-mbx "*" | grep " mailbox unix\| mailbox mmdf" &&
	for b in inbox lists/mm archive/2023 archive/2024; do
		same src/$b dst-mbx/$b mbx || return 1
	done
'

test_expect_success '--json: one object per entry and a summary' '
	mailbag convert -r -q --json src dst-json >out.json &&
	python3 -c "
import json, sys
rows = [json.loads(l) for l in open(\"out.json\")]
kinds = [r[\"type\"] for r in rows]
assert kinds.count(\"convert\") == 8, kinds
assert kinds.count(\"convert-dir\") == 7, kinds
assert kinds.count(\"convert-skip\") == 6, kinds
assert kinds.count(\"convert-link\") == 2, kinds
last = rows[-1]
assert last[\"type\"] == \"convert-tree\" and last[\"exit\"] == 0, last
assert last[\"mailboxes\"] == 8 and last[\"failed\"] == 0, last
"
'

test_expect_success 'a dry run says what it would do and writes nothing' '
	mailbag convert -r -n src dry >out &&
	! test -e dry &&
	grep "^would copy 30 messages (.* bytes) from src/archive/2023 (unix)" out &&
	grep "^would make directory dry/empty/inner$" out &&
	grep "^would link dry/in-link -> inbox$" out &&
	tail -n 1 out >last &&
	echo "would copy 8 mailboxes, 7 directories, 2 links; 0 failed, 6 skipped" >exp &&
	test_cmp exp last &&
	snap src >src.after && test_cmp src.before src.after
'

test_expect_success 'DST inside SRC is refused' '
	test_expect_code 64 mailbag convert -r src src/sub/copy 2>err &&
	test_grep "inside" err &&
	test_expect_code 64 mailbag convert -r src src 2>err &&
	! test -e src/sub &&
	ln -s src/lists srclink &&
	test_expect_code 64 mailbag convert -r src srclink/x 2>err &&
	! test -e src/lists/x
'

test_expect_success 'a file SRC needs no -r' '
	test_expect_code 64 mailbag convert -r src/inbox nf 2>err &&
	test_grep "not a directory" err && ! test -e nf
'

test_expect_success 'a damaged mailbox fails alone; the others are copied' '
	make_tree bad &&
	head -c 2100 "$DATA/mbx/mbx-with-keywords.mbx" >bad/lists/old/kw &&
	test_expect_code 65 mailbag convert -r -q bad bad-dst >out 2>err &&
	test_grep "^failed bad/lists/old/kw: not copied (exit 65" out &&
	test_grep "bad/lists/old/kw: at byte 2048" err &&
	! test -e bad-dst/lists/old/kw &&
	test -z "$(find bad-dst -name ".*mbtmp*")" &&
	for b in inbox lists/mm lists/old/deep/x archive/2023 archive/2024; do
		same bad/$b bad-dst/$b || return 1
	done &&
	tail -n 1 out >last &&
	echo "copied 7 mailboxes, 7 directories, 0 links; 1 failed, 0 skipped" >exp &&
	test_cmp exp last
'

test_expect_success 'a rerun into an existing DST fills in what is missing' '
	cp -r "$DATA/mbx/mbx-with-keywords.mbx" bad/lists/old/kw &&
	test_expect_code 73 mailbag convert -r -q bad bad-dst >out 2>err &&
	test_grep "^directory bad-dst/lists (exists)$" out &&
	test_grep "^copied 2 messages from bad/lists/old/kw" out &&
	test_grep "^failed bad/inbox: not copied (exit 73" out &&
	same bad/lists/old/kw bad-dst/lists/old/kw
'

test_expect_success 'exit status is the worst one' '
	make_tree worst &&
	head -c 2100 "$DATA/mbx/mbx-with-keywords.mbx" >worst/lists/old/kw &&
	mkdir -p worst-dst/archive && : >worst-dst/archive/2023 &&
	test_expect_code 73 mailbag convert -r -q worst worst-dst >out 2>err &&
	test_grep "^failed worst/lists/old/kw: not copied (exit 65" out &&
	test_grep "^failed worst/archive/2023: not copied (exit 73" out
'

# -- unreadable entries: root reads everything, so as an ordinary user --
. "$TESTS_DIR/t/uw.sh"
uw_setup

if uw_run "$MAILBAG" --version >/dev/null 2>&1; then
	test_set_prereq UWRUN
fi

test_expect_success UWRUN 'unreadable entries are reported, the rest copied' '
	make_tree "$UW_HOME/u" &&
	mkdir "$UW_HOME/u/locked" &&
	cp "$DATA/uw/unix-new-empty.mbox" "$UW_HOME/u/locked/box" &&
	cp "$DATA/uw/unix-new-empty.mbox" "$UW_HOME/u/secret" &&
	{ test -n "$UW_SELF" || chown -R "$UW_USER:$UW_GROUP" "$UW_HOME"; } &&
	chmod 000 "$UW_HOME/u/locked" "$UW_HOME/u/secret" &&
	rc=0 && uw_run "$MAILBAG" convert -r -q u u-dst >out 2>err || rc=$? &&
	chmod 700 "$UW_HOME/u/locked" "$UW_HOME/u/secret" &&
	test "$rc" = 77 &&
	test_grep "^failed u/locked: Permission denied$" out &&
	test_grep "^failed u/secret: Permission denied$" out &&
	test_grep "^copied 30 messages from u/archive/2023" out &&
	! test -e "$UW_HOME/u-dst/locked" && ! test -e "$UW_HOME/u-dst/secret" &&
	same "$UW_HOME/u/lists/old/kw" "$UW_HOME/u-dst/lists/old/kw"
'

test_expect_success 'UW mailutil transfer finds the same mailboxes in the tree' '
	make_tree "$UW_HOME/t" &&
	{ test -n "$UW_SELF" || chown -R "$UW_USER:$UW_GROUP" "$UW_HOME"; } &&
	uw_run mailutil transfer -v t/ uwcopy/ >uw.out 2>&1 &&
	sed -n "s|^Copying t/||p" uw.out | sort >uw.names &&
	"$MBTOOL" list "$UW_HOME/t" "*" | sed -n "s/ mailbox .*//p" |
		sort >our.names &&
	test_line_count() { test "$(wc -l <"$2")" "$1" "$3"; } &&
	test_line_count = our.names 8 &&
	test_cmp uw.names our.names
'

test_expect_success 'UW reads every mailbox of the copied tree' '
	mailbag convert -r -q --to=mbx src "$UW_HOME/ours" >/dev/null &&
	{ test -n "$UW_SELF" || chown -R "$UW_USER:$UW_GROUP" "$UW_HOME"; } &&
	for b in inbox .saved lists/mm lists/old/kw archive/2023 archive/2024; do
		n=$(dump src/$b | tail -n 1 | sed "s/.*messages=//") &&
		uw_run mailutil check "ours/$b" >uw.check 2>&1 &&
		grep " $n total in ours/$b" uw.check || {
			cat uw.check; return 1; }
	done
'

# -- killed runs --
test -f "$SHIM" && "$MAILBAG" --version >/dev/null && test_set_prereq SHIM

test_expect_success SHIM 'a killed run leaves each mailbox whole or absent' '
	rm -f "$TRASH/.count" &&
	env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_COUNT=1 \
		CRASH_COUNT_FILE="$TRASH/.count" \
		"$MAILBAG" convert -r -q src kcount >/dev/null &&
	total=$(cat "$TRASH/.count") && test "$total" -gt 20 &&
	echo "# $total counted calls" &&
	whole=0 &&
	for p in $(awk -v t="$total" "BEGIN { srand(3002);
		for (i = 0; i < 12; i++) print 1 + int(rand() * t) }"); do
		rm -rf k && rc=0 &&
		env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_AT=$p \
			"$MAILBAG" convert -r -q src k >/dev/null 2>&1 || rc=$?
		test "$rc" = 137 || { echo "point $p: exit $rc"; return 1; }
		for b in inbox .saved lists/mm lists/old/kw lists/old/deep/x \
			archive/2023 archive/2024 archive/none; do
			test -e k/$b || continue
			same src/$b k/$b || { echo "point $p: $b torn"; return 1; }
			whole=$((whole + 1))
		done
		snap src >src.after && test_cmp src.before src.after || return 1
	done &&
	echo "# $whole whole mailboxes found after kills" &&
	test "$whole" -gt 0 &&
	rm -rf k && mailbag convert -r -q src k >/dev/null &&
	same src/archive/2024 k/archive/2024
'

test_done

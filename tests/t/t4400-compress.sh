#!/bin/bash
test_description='compressed mailboxes: gzip, bzip2, xz, zstd read by content; convert --compress'
. "$(dirname "$0")/lib.sh"

for t in gzip bzip2 xz zstd; do
	command -v $t >/dev/null || skip_all "$t not installed"
done

. "$TESTS_DIR/t/crash.sh"

# rest FILE: check's summary line less the path and the compression note.
rest() {
	mailbag check "$1" | tail -n 1 |
		sed -e "s/^[^:]*: //" -e "s/, [a-z0-9]*-compressed//" \
			-e "s/, [0-9]* bytes//"
}

# stable FILE: FILE less the three lines of UW's pseudo-message that
# carry the time it was written (mailbag writes one per new mailbox).
stable() {
	awk 'NR <= 6 && (/^From MAILER-DAEMON / || /^Date: / || /^Message-ID: </ || /^X-IMAP: /) { next } { print }' "$@"
}

# The same private TMPDIR for every run, so leftovers can be seen.
export TMPDIR=$TRASH/tmp

test_expect_success 'setup: UW-made mailboxes of three formats, each compressed four ways' '
	mkdir "$TMPDIR" &&
	cp "$DATA/uw/tmail-spool-delivery.mbox" spool.unix &&
	cp "$DATA/uw/unix-rewritten-xIMAPbase.mbox" rewritten.unix &&
	cp "$DATA/uw/mmdf-after-append.mmdf" app.mmdf &&
	cp "$DATA/mbx/mbx-with-keywords.mbx" kw.mbx &&
	for f in spool.unix rewritten.unix app.mmdf kw.mbx; do
		gzip -c $f >$f.gz &&
		bzip2 -c $f >$f.bz2 &&
		xz -c $f >$f.xz &&
		zstd -q -c $f >$f.zst || return 1
	done &&
	ls *.gz *.bz2 *.xz *.zst | wc -l >n && test "$(cat n)" = 16
'

test_expect_success 'check reads each compressed file by content and says how it was compressed' '
	for f in spool.unix rewritten.unix app.mmdf kw.mbx; do
		plain=$(rest $f) &&
		for z in gz:gzip bz2:bzip2 xz:xz zst:zstd; do
			ext=${z%%:*} name=${z#*:} &&
			{ mailbag check $f.$ext >out; test $? -le 65; } &&
			grep ", $name-compressed: \(ok\|damaged\)" out &&
			test "$(rest $f.$ext)" = "$plain" || return 1
		done || return 1
	done
'

test_expect_success 'by content, not by name: a .gz file under another name' '
	cp kw.mbx.xz kw-noext &&
	mailbag check kw-noext >out &&
	grep "^kw-noext: mbx, .*xz-compressed: ok" out &&
	mailbag check --json spool.unix.bz2 >json &&
	grep "\"compression\":\"bzip2\"" json
'

test_expect_success 'convert from each compressed file equals convert from the plain one' '
	for f in spool.unix rewritten.unix app.mmdf kw.mbx; do
		mailbag convert --to=unix $f plain.$f.out &&
		for ext in gz bz2 xz zst; do
			mailbag convert --to=unix $f.$ext z.$f.$ext.out &&
			stable plain.$f.out >p && stable z.$f.$ext.out >q &&
			cmp p q || return 1
		done || return 1
	done
'

test_expect_success 'no temporary files are left behind by reading' '
	find "$TMPDIR" -mindepth 1 >left &&
	test_must_be_empty left
'

test_expect_success 'TMPDIR is honoured: an unusable one is named in the error' '
	test_expect_code 74 env TMPDIR=$TRASH/nosuchdir "$MAILBAG" check kw.mbx.gz 2>err &&
	grep "cannot make a temporary directory in .*nosuchdir" err
'

test_expect_success 'truncated streams of every compressor: 65, the file named' '
	for ext in gz bz2 xz zst; do
		size=$(stat -c %s spool.unix.$ext) &&
		head -c $((size / 2)) spool.unix.$ext >cut.$ext &&
		test_expect_code 65 mailbag check cut.$ext 2>err &&
		grep "^mailbag check: cut.$ext: .*\(truncated\|corrupt\)" err &&
		test_expect_code 65 mailbag convert cut.$ext out.$ext 2>err &&
		grep "cut.$ext" err &&
		! test -e out.$ext || return 1
	done
'

test_expect_success 'gzip: a wrong CRC and a damaged block, with the byte offset' '
	size=$(stat -c %s spool.unix.gz) &&
	python3 -c "
import sys
d = bytearray(open(\"spool.unix.gz\", \"rb\").read())
d[-6] ^= 0xff
open(\"crc.gz\", \"wb\").write(d)
d = bytearray(open(\"spool.unix.gz\", \"rb\").read())
for i in range(20, 40): d[i] ^= 0x55
open(\"mid.gz\", \"wb\").write(d)
" &&
	test_expect_code 65 mailbag check crc.gz 2>err &&
	grep "^mailbag check: crc.gz: at byte [0-9]*: corrupt gzip data: incorrect data check" err &&
	test_expect_code 65 mailbag check mid.gz 2>err &&
	grep "^mailbag check: mid.gz: at byte [0-9]*: corrupt gzip data" err &&
	head -c -4 spool.unix.gz >t4.gz &&
	test_expect_code 65 mailbag check t4.gz 2>err &&
	grep "^mailbag check: t4.gz: at byte $((size - 4)): truncated gzip data" err
'

test_expect_success 'gzip: several members are one stream (gzip -c a b)' '
	gzip -c spool.unix >two.gz && gzip -c spool.unix >>two.gz &&
	cat spool.unix spool.unix >two.plain &&
	test "$(rest two.gz)" = "$(rest two.plain)" &&
	printf "junk" >>two.gz &&
	test_expect_code 65 mailbag check two.gz 2>err &&
	grep "trailing garbage" err
'

test_expect_success 'garbage after the magic bytes does not crash anything' '
	for m in "\037\213\010" "BZh9" "\375\067zXZ\000" "\050\265\057\375"; do
		printf "$m" >g && head -c 3000 /dev/urandom >>g &&
		test_expect_code 65 mailbag check g 2>err &&
		grep "^mailbag check: g: " err || return 1
	done
'

test_expect_success 'read/write open of a compressed mailbox is refused' '
	cp kw.mbx.gz rw.gz && cp rw.gz rw.orig &&
	test_must_fail "$HELPER/mbtool" flags rw.gz 1 +seen 2>err &&
	grep "compressed mailbox: can only be read" err &&
	test_expect_code 64 mailbag convert --append spool.unix rw.gz 2>err &&
	grep "cannot add to .rw.gz." err &&
	cmp rw.gz rw.orig
'

test_expect_success 'convert --compress and DST.gz write gzip that gzip and mailbag read back equal' '
	mailbag convert spool.unix out.plain &&
	mailbag convert spool.unix out.mbox.gz &&
	mailbag convert --compress spool.unix out.compressed &&
	gzip -t out.mbox.gz && gzip -t out.compressed &&
	stable out.plain >p &&
	gzip -dc out.mbox.gz | stable | cmp - p &&
	gzip -dc out.compressed | stable | cmp - p &&
	mailbag convert out.mbox.gz back.plain &&
	stable back.plain | cmp - p &&
	mailbag convert --no-uw-metadata spool.unix nometa.plain &&
	mailbag convert --no-uw-metadata spool.unix nometa.gz &&
	mailbag convert --no-uw-metadata nometa.gz nometa.back &&
	gzip -dc nometa.gz | cmp - nometa.plain &&
	cmp nometa.back nometa.plain &&
	mailbag convert --to=mbx kw.mbx kw.out.gz &&
	gzip -t kw.out.gz &&
	mailbag check kw.out.gz | grep "mbx, .*3 keywords, gzip-compressed: ok" &&
	mailbag convert --to=unix kw.out.gz kw.back &&
	mailbag convert --to=unix kw.mbx kw.direct &&
	stable kw.back >p && stable kw.direct >q && cmp p q
'

test_expect_success 'a directory format cannot be gzipped; no DST, no temporary left' '
	test_expect_code 69 mailbag convert --to=eml spool.unix eml.gz 2>err &&
	grep "single-file mailbox" err &&
	! test -e eml.gz &&
	ls -a | grep mbtmp >left; test_must_be_empty left &&
	find "$TMPDIR" -mindepth 1 >left && test_must_be_empty left
'

test_expect_success 'an existing DST is never replaced' '
	echo keep >exists.gz &&
	test_expect_code 73 mailbag convert spool.unix exists.gz &&
	test "$(cat exists.gz)" = keep
'

test_expect_success 'mailutil (UW) reads what was converted out of a .gz' '
	. "$TESTS_DIR/t/uw.sh" && uw_setup &&
	mailbag convert spool.unix.xz fromxz &&
	uw_put fromxz fromxz &&
	uw_run mailutil check fromxz >uw.out 2>&1 &&
	n=$(mailbag check spool.unix | sed -n "s/^[^:]*: unix, \([0-9]*\) messages.*/\1/p") &&
	test "$n" -ge 1 &&
	grep "$n total in fromxz" uw.out
'

test_expect_success 'killed at every write of convert DST.gz: no DST, or a whole one' '
	test -f "$SHIM" || return 0
	rm -f "$TRASH/.count" &&
	env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_COUNT=1 \
		CRASH_COUNT_FILE="$TRASH/.count" "$MAILBAG" convert -q spool.unix probe.gz &&
	total=$(cat "$TRASH/.count") && test "$total" -ge 4 &&
	stable out.plain >p &&
	for p in $(seq 1 $total); do
		rm -f k.gz &&
		rc=0 &&
		env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$CRASH_ASAN" CRASH_AT=$p CRASH_TORN=1 \
			"$MAILBAG" convert -q spool.unix k.gz || rc=$?
		if test -e k.gz; then
			gzip -dc k.gz | stable | cmp - p || return 1
		else
			test "$rc" = 137 || return 1
		fi
	done &&
	rm -f k.gz && mailbag convert -q spool.unix k.gz &&
	ls -a | grep "mbtmp" >left; test_must_be_empty left
'

test_expect_success 'an interrupted convert to .gz leaves no DST and no temporary directory' '
	"$HELPER/gen-mbox" --seed 9 --size 60M -o big &&
	rm -rf "$TMPDIR"/* &&
	( "$MAILBAG" convert -q big big.gz & pid=$!
	  for i in $(seq 1 500); do
		test -n "$(find "$TMPDIR" -type f -size +1M)" && break
		sleep 0.01
	  done
	  kill -TERM $pid; wait $pid; echo "rc=$?" >rc ) &&
	grep "rc=143" rc &&
	! test -e big.gz &&
	find "$TMPDIR" -mindepth 1 >left && test_must_be_empty left
'

test_done

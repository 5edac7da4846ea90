#!/bin/bash
test_description='mailbag convert: text, flags, keywords and UIDs survive'
. "$(dirname "$0")/lib.sh"

D=$(printf '\1\1\1\1')
F1='From alice@example.com Wed Dec  2 05:53:22 1992'
F2='From bob@example.com Thu Dec 10 11:00:00 1992 -0800'
F3='From carol@example.com Fri Dec 11 12:00:00 1992'
F4='From dave@example.com Sat Dec 12 13:14:15 1992'

# mbsum FORMAT FILE: messages as Python's mailbox module reads them,
# with UW's internal headers turned into flags/keywords/uid fields.
mbsum() { python3 "$DATA/convert/mbsum.py" "$@"; }

# count FORMAT FILE: number of real messages, per Python.
count() { mbsum "$@" | tail -n +2 | wc -l | tr -d " "; }

# The source: UID state, keywords, every flag, quoted lines, 8-bit text.
src_box() {
	printf '%s\nSubject: one\nX-IMAPbase: 1795635279 9 Junk NonJunk Todo\n' "$F1"
	printf 'Status: RO\nX-Status: FA\nX-Keywords: Junk\nX-UID: 3\n\n'
	printf 'Hello.\n>From the start, quoted.\n\nLast line.\n\n'
	printf '%s\nSubject: two\nStatus: O\nX-Status: DT\n' "$F2"
	printf 'X-Keywords: Todo NonJunk\nX-UID: 5\n\nBody two: caf\351 \377\n\n'
	printf '%s\nSubject: three\nX-UID: 7\n\nnot seen, recent\n\n' "$F3"
	printf '%s\nSubject: four\nStatus: R\nX-UID: 9\n\nbody\n   \n\nfour\n' "$F4"
}

test_expect_success 'setup' '
	src_box >src &&
	cp src src.orig &&
	mailbag check --strict src >out &&
	test_grep "^src: unix, 4 messages, .*: ok$" out &&
	mbsum unix src >src.sum &&
	test $(wc -l <src.sum) = 5
'

test_expect_success 'unix to mmdf: same messages, flags, keywords, UIDs' '
	mailbag convert --to=mmdf src box.mmdf &&
	mailbag check --strict box.mmdf >out &&
	test_grep "^box.mmdf: mmdf, 4 messages, [0-9]* bytes, uidvalidity 1795635279, uidnext 10, 3 keywords: ok$" out &&
	mbsum mmdf box.mmdf >mmdf.sum &&
	test_cmp src.sum mmdf.sum
'

test_expect_success 'mmdf back to unix: same messages, flags, keywords, UIDs' '
	mailbag convert --to=unix box.mmdf back &&
	mailbag check --strict back >out &&
	test_grep "^back: unix, 4 messages, [0-9]* bytes, uidvalidity 1795635279, uidnext 10, 3 keywords" out &&
	mbsum unix back >back.sum &&
	test_cmp src.sum back.sum
'

test_expect_success 'round trip: X-UID values and the X-IMAP validity are kept' '
	grep -a "^X-UID:" src >expect &&
	grep -a "^X-UID:" back >actual &&
	test_cmp expect actual &&
	grep -a "^X-IMAP" back >ximap &&
	test $(wc -l <ximap) = 1 &&
	test_grep "^X-IMAP\(base\)\{0,1\}: 1795635279 0*9\( \|$\)" ximap
'

test_expect_success 'round trip: flag letters per message are kept' '
	printf "AFOR\nDOT\n\nR\n" >expect &&
	python3 -c "
import json
for l in open(\"back.sum\").readlines()[1:]:
    print(json.loads(l)[\"flags\"])
" >actual &&
	test_cmp expect actual
'

test_expect_success 'a canonical unix mailbox survives unix->mmdf->unix byte for byte' '
	mailbag convert back back.mmdf &&
	mailbag convert --to=unix back.mmdf back2 &&
	grep -av "^Date: \|^From MAILER-DAEMON \|^Message-ID: <" back >expect &&
	grep -av "^Date: \|^From MAILER-DAEMON \|^Message-ID: <" back2 >actual &&
	cmp expect actual
'

test_expect_success 'the default destination format is new-format (unix)' '
	mailbag convert box.mmdf same &&
	mailbag check same >out &&
	test_grep "^same: unix, 4 messages" out &&
	mbsum unix same >actual &&
	test_cmp src.sum actual
'

test_expect_success 'new-format = mmdf in ~/.mailbagrc makes mmdf the default' '
	echo "new-format = mmdf" >.mailbagrc &&
	mailbag convert src same.mmdf &&
	rm .mailbagrc &&
	mailbag check same.mmdf >out &&
	test_grep "^same.mmdf: mmdf, 4 messages" out
'

test_expect_success 'a #driver.mmdf/ name chooses the destination format' '
	mailbag convert src "#driver.mmdf/$TRASH/named" &&
	mailbag check named >out &&
	test_grep "^named: mmdf, 4 messages" out
'

test_expect_success 'a source without UIDs: messages and flags kept' '
	printf "%s\nSubject: a\nStatus: RO\n\na\n\n%s\nSubject: b\n\nb\n" "$F1" "$F2" >nouid &&
	mailbag convert --to=mmdf nouid nouid.mmdf &&
	mbsum unix nouid | tail -n +2 | python3 -c "
import json, sys
for l in sys.stdin: m = json.loads(l); m[\"uid\"] = None; print(json.dumps(m, sort_keys=True))
" >expect &&
	mbsum mmdf nouid.mmdf | tail -n +2 | python3 -c "
import json, sys
for l in sys.stdin: m = json.loads(l); m[\"uid\"] = None; print(json.dumps(m, sort_keys=True))
" >actual &&
	test_cmp expect actual &&
	mailbag check --strict nouid.mmdf
'

test_expect_success 'CRLF messages keep their CRs' '
	printf "%s\r\nSubject: crlf\r\n\r\nline one\r\nline two\r\n\r\n%s\r\nSubject: b\r\n\r\nb\r\n" "$F1" "$F2" >crlf &&
	mailbag convert --to=mmdf crlf crlf.mmdf &&
	mailbag convert --to=unix crlf.mmdf crlf.back &&
	test_grep "^Subject: crlf.$" crlf.mmdf &&
	printf "\r\nline one\r\nline two\r\n" >expect &&
	cr=$(printf "\r") &&
	for f in crlf.mmdf crlf.back; do
		grep -ac "$cr\$" $f >ncr &&
		test $(cat ncr) -ge 8 &&
		sed -n "/^Subject: crlf/,/^line two/p" $f | sed -n "/^X-UID\|^X-Keywords\|^X-Status\|^Status/!p" | tail -n +2 >actual &&
		test_cmp expect actual || return 1
	done &&
	mbsum unix crlf | sed -n 2p >expect &&
	mbsum unix crlf.back | sed -n 2p | python3 -c "
import json, sys
for l in sys.stdin: m = json.loads(l); m[\"uid\"] = None; m[\"flags\"] = \"\"; print(json.dumps(m, sort_keys=True))
" >actual &&
	test_cmp expect actual
'

test_expect_success 'mbx to unix: the format'"'"'s CR LF line ends become LF, and back' '
	cp "$TESTS_DIR/data/mbx/mbx-with-keywords.mbx" kw.mbx &&
	mailbag convert --to=unix kw.mbx kw.unix &&
	cr=$(printf "\r") &&
	! grep -aq "$cr" kw.unix &&
	mailbag convert --to=mmdf kw.mbx kw.mmdf &&
	! grep -aq "$cr" kw.mmdf &&
	mailbag convert --to=mbx kw.mmdf kw.back &&
	tail -c +2049 kw.mbx >kw.a && tail -c +2049 kw.back >kw.b &&
	python3 - kw.a kw.b <<-\EOF
	import re, sys
	def texts(p):
	    d = open(p, "rb").read(); out = []; pos = 0
	    while pos < len(d):
	        e = d.index(b"\r\n", pos)
	        size = int(re.match(rb".*,(\d+);", d[pos:e]).group(1))
	        out.append(d[e + 2:e + 2 + size]); pos = e + 2 + size
	    return out
	a, b = texts(sys.argv[1]), texts(sys.argv[2])
	assert len(a) == len(b) and len(a) > 0, (len(a), len(b))
	for x, y in zip(a, b):
	    assert x == y, (x[:200], y[:200])
	EOF
'

test_expect_success 'a last message without a final newline keeps it' '
	printf "%s\nSubject: a\n\na\n\n%s\nSubject: b\n\nno newline here" "$F1" "$F2" >nonl &&
	mailbag convert nonl nonl.unix &&
	tail -c 16 nonl.unix >actual &&
	printf "\nno newline here" >expect &&
	cmp expect actual &&
	mailbag convert --to=mmdf nonl nonl.mmdf &&
	mailbag convert --to=unix nonl.mmdf nonl.back &&
	tail -c 18 nonl.back >actual &&
	printf "\nno newline here\n\n" >expect &&
	cmp expect actual
'
# (MMDF cannot keep it: its ^A^A^A^A line must start a line, so the
# message gains the newline; mailbag-formats(5) lists that transformation)

test_expect_success 'NUL bytes and 8-bit bytes survive unix->mmdf->unix' '
	printf "%s\nSubject: bin\n\n" "$F1" >bin &&
	printf "a\000b\000\000c\n\200\201\376\377 caf\351\n" >payload &&
	cat payload >>bin &&
	printf "\n%s\nSubject: two\n\nx\n" "$F2" >>bin &&
	mailbag convert --to=mmdf bin bin.mmdf &&
	mailbag convert --to=unix bin.mmdf bin.back &&
	for f in bin.mmdf bin.back; do
		python3 - $f <<-\EOF || return 1
		import sys
		data = open(sys.argv[1], "rb").read()
		payload = open("payload", "rb").read()
		i = data.index(b"Subject: bin\n")
		j = data.index(b"\n\n", i) + 2
		assert data[j:j + len(payload)] == payload, data[j:j + 40]
		EOF
	done
'

test_expect_success 'mmdf to unix: body "From " lines get one ">" (mboxo)' '
	printf "%s\n%s\nSubject: q\n\nFrom here\n>From there\n>>From deep\nFrom:x\n%s\n" "$D" "$F1" "$D" >quote.mmdf &&
	mailbag convert --to=unix quote.mmdf quote.o &&
	sed -n "/^Subject: q/,\$p" quote.o | sed -n "/^>*From/p" >actual &&
	printf ">From here\n>From there\n>>From deep\nFrom:x\n" >expect &&
	test_cmp expect actual &&
	mailbag check --strict quote.o >out &&
	test_grep "^quote.o: unix, 1 messages" out
'

test_expect_success '--quote=mboxrd also quotes ">From " lines' '
	mailbag convert --to=unix --quote=mboxrd quote.mmdf quote.rd &&
	sed -n "/^Subject: q/,\$p" quote.rd | sed -n "/^>*From/p" >actual &&
	printf ">From here\n>>From there\n>>>From deep\nFrom:x\n" >expect &&
	test_cmp expect actual
'

test_expect_success '--unquote=mboxrd removes one ">" when reading' '
	mailbag convert --to=mmdf --unquote=mboxrd quote.rd quote.un &&
	sed -n "/^Subject: q/,\$p" quote.un | sed -n "/^>*From/p" >actual &&
	printf "From here\n>From there\n>>From deep\nFrom:x\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'without --unquote quoted lines are kept as stored' '
	mailbag convert --to=mmdf quote.rd quote.keep &&
	sed -n "/^Subject: q/,\$p" quote.keep | sed -n "/^>*From/p" >actual &&
	printf ">From here\n>>From there\n>>>From deep\nFrom:x\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a bad --quote or --unquote value is a usage error' '
	test_expect_code 64 mailbag convert --quote=both src q1 &&
	test_expect_code 64 mailbag convert --unquote=all src q2 &&
	! test -e q1 && ! test -e q2
'

test_expect_success '--no-uw-metadata: no X-IMAP, X-UID, X-Keywords, pseudo-message' '
	mailbag convert --no-uw-metadata src plain &&
	test_grep ! -a -e "^X-IMAP" -e "^X-UID:" -e "^X-Keywords:" plain &&
	test_grep ! -a "FOLDER INTERNAL DATA" plain &&
	test_grep ! -a "^From MAILER-DAEMON" plain &&
	test $(grep -ac "^From " plain) = 4 &&
	test $(count unix plain) = 4
'

test_expect_success '--no-uw-metadata keeps Status/X-Status flags and the text' '
	mbsum unix src | tail -n +2 | python3 -c "
import json, sys
for l in sys.stdin: m = json.loads(l); m[\"uid\"] = None; m[\"keywords\"] = []; print(json.dumps(m, sort_keys=True))
" >expect &&
	mbsum unix plain | tail -n +2 >actual &&
	test_cmp expect actual &&
	test_grep -a "^Status: RO$" plain
'

test_expect_success '--no-uw-metadata into mmdf' '
	mailbag convert --no-uw-metadata --to=mmdf src plain.mmdf &&
	test_grep ! -a -e "^X-IMAP" -e "^X-UID:" -e "^X-Keywords:" plain.mmdf &&
	test $(grep -ac "^$D\$" plain.mmdf) = 8 &&
	test_grep -a "^X-Status: DT$" plain.mmdf
'

test_expect_success 'an existing DST: exit 73, DST untouched' '
	printf "precious\n" >taken &&
	touch -d "2020-01-01 00:00:00" taken &&
	stat -c "%Y %s" taken >before &&
	test_expect_code 73 mailbag convert src taken 2>err &&
	test_grep "taken" err &&
	stat -c "%Y %s" taken >after &&
	test_cmp before after &&
	printf "precious\n" | cmp - taken
'

test_expect_success 'an existing empty DST is not replaced either' '
	: >emptydst &&
	test_expect_code 73 mailbag convert src emptydst &&
	test_must_be_empty emptydst
'

test_expect_success '-n writes nothing and reports the count' '
	mkdir dry && cp src dry/src &&
	(cd dry && ls -A >../before && mailbag convert -n src dst >../out) &&
	(cd dry && ls -A) >after &&
	test_cmp before after &&
	test_grep "would copy 4 messages" out &&
	cmp src dry/src
'

test_expect_success '-n --json reports the count as JSON' '
	mailbag convert -n --json src dry/dst >out &&
	! test -e dry/dst &&
	python3 -c "
import json
r = [json.loads(l) for l in open(\"out\")]
assert len(r) == 1 and r[0][\"messages\"] == 4 and r[0][\"dry_run\"] is True, r
"
'

test_expect_success '--append: count is the sum, old bytes untouched' '
	printf "%s\nSubject: old1\nStatus: RO\n\nold one\n\n%s\nSubject: old2\n\nold two\n" "$F3" "$F4" >arch &&
	cp arch arch.orig &&
	mailbag convert --append src arch &&
	test $(count unix arch) = 6 &&
	head -c $(wc -c <arch.orig) arch | cmp - arch.orig &&
	mbsum unix arch | tail -n 4 | python3 -c "
import json, sys
for l in sys.stdin: m = json.loads(l); m[\"uid\"] = None; print(json.dumps(m, sort_keys=True))
" >actual &&
	mbsum unix src | tail -n +2 | python3 -c "
import json, sys
for l in sys.stdin: m = json.loads(l); m[\"uid\"] = None; print(json.dumps(m, sort_keys=True))
" >expect &&
	test_cmp expect actual
'

test_expect_success '--append leaves a mailbox that checks clean' '
	mailbag check --strict arch >out &&
	test_grep "^arch: unix, 6 messages, .*: ok$" out
'

test_expect_success '--append to a mailbox with UIDs: new UIDs follow, old kept' '
	mailbag convert nouid withuid &&
	mbsum unix withuid >w.before &&
	cp withuid withuid.orig &&
	mailbag convert --append src withuid &&
	mailbag check --strict withuid >out &&
	test_grep "^withuid: unix, 6 messages, [0-9]* bytes, uidvalidity [0-9]*, uidnext 7, 3 keywords\(, [^:]*\)\?: ok$" out &&
	mbsum unix withuid >w.after &&
	head -n 3 w.before | tail -n 2 >expect &&
	head -n 3 w.after | tail -n 2 >actual &&
	test_cmp expect actual &&
	python3 -c "
import json
lines = open(\"w.after\").read().splitlines()
assert [json.loads(l)[\"uid\"] for l in lines[1:]] == [1, 2, 3, 4, 5, 6], lines
assert json.loads(lines[0])[\"uidlast\"] == 6, lines[0]
" &&
	# the internal-data message is regenerated in place (its X-IMAP
	# line lists the new keywords, its Date the time); the rest stays
	pseudo="^X-IMAP\|^From MAILER-DAEMON \|^Date: [0-9][0-9] \|^Message-ID: <[0-9]*@\\|^ *\$" &&
	grep -av "$pseudo" withuid.orig >expect &&
	head -c $(wc -c <withuid.orig) withuid | grep -av "$pseudo" >actual &&
	cmp expect actual
'

test_expect_success '--append to an mmdf mailbox' '
	cp box.mmdf target.mmdf &&
	mailbag convert --append nouid target.mmdf &&
	test $(count mmdf target.mmdf) = 6 &&
	mailbag check --strict target.mmdf >out &&
	test_grep "^target.mmdf: mmdf, 6 messages, " out
'

test_expect_success '--append to a missing DST fails and creates nothing' '
	test_must_fail mailbag convert --append src missing 2>err &&
	! test -e missing
'

test_expect_success '--append of a mailbox to itself is refused (64)' '
	cp src self && cp self self.orig &&
	test_expect_code 64 mailbag convert --append self self &&
	cmp self self.orig
'

test_expect_success 'the mailbox-convert link runs convert' '
	ln -s "$MAILBAG" mailbox-convert &&
	./mailbox-convert --to=mmdf src linked &&
	mbsum mmdf linked >actual &&
	test_cmp src.sum actual &&
	test_expect_code 73 ./mailbox-convert src linked
'

test_expect_success '--json prints one valid summary object' '
	mailbag convert --json --to=mmdf src js >out &&
	python3 - <<-\EOF
	import json
	recs = [json.loads(l) for l in open("out")]
	assert len(recs) == 1, recs
	r = recs[0]
	want = {"type": "convert", "source": "src", "destination": "js",
	        "source_format": "unix", "format": "mmdf", "messages": 4}
	for k, v in want.items():
	    assert r.get(k) == v, (k, r.get(k), v)
	assert isinstance(r["bytes"], int) and r["bytes"] > 0, r
	EOF
'

test_expect_success '-v prints a summary line; default prints nothing' '
	mailbag convert -v src verbose >out &&
	test_grep "copied 4 messages from src (unix) to verbose (unix)" out &&
	mailbag convert src silent >out 2>err &&
	test_must_be_empty out
'

test_expect_success 'usage errors exit 64' '
	test_expect_code 64 mailbag convert src &&
	test_expect_code 64 mailbag convert src a b &&
	test_expect_code 64 mailbag convert --bogus src c &&
	! test -e a && ! test -e b && ! test -e c
'

test_expect_success 'a missing SRC exits 66 and creates no DST' '
	test_expect_code 66 mailbag convert nosuch out66 &&
	! test -e out66
'

test_expect_success 'the source is never modified' '
	cmp src src.orig
'

test_expect_success 'a source with broken UIDs gets a new UIDVALIDITY in every format' '
	printf "From a@b Wed Dec  2 05:53:22 1992\nX-IMAPbase: 100 9\nX-UID: 5\nSubject: a\n\nx\n\nFrom a@b Wed Dec  2 05:53:22 1992\nX-UID: 3\nSubject: b\n\ny\n" >broken &&
	for to in unix mmdf mbx; do
		mailbag convert --to $to broken broken.$to &&
		mailbag check --json broken.$to >bj &&
		python3 -c "
import json, sys
m = [json.loads(l) for l in open(\"bj\") if \"\\\"mailbox\\\"\" in l][0]
assert m[\"uidvalidity\"] != 100 and m[\"status\"] == \"ok\", m
" || return 1
	done &&
	printf "From a@b Wed Dec  2 05:53:22 1992\nX-IMAPbase: 100 9\nX-UID: 5\nSubject: a\n\nx\n" >fine &&
	mailbag convert --to mbx fine fine.mbx &&
	mailbag check fine.mbx >out &&
	test_grep "uidvalidity 100," out
'

test_done

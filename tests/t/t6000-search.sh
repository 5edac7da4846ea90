#!/bin/bash
test_description='mailbag search: IMAP SEARCH keys, charsets, regexes, output forms'
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
export LC_ALL=C.UTF-8

# s CRITERIA...: the matching message numbers of box on one line
s() { mailbag search box "$@" | tr '\n' ' ' | sed 's/ $//'; }
# expect "WANT" CRITERIA...
expect() {
	local want=$1 got
	shift
	got=$(s "$@")
	[ "$got" = "$want" ] || { echo "search $*: got '$got', want '$want'"; return 1; }
}

test_expect_success 'generate the mailbox' '
	python3 "$DATA/mime/gen-search.py" box &&
	mailbag check box
'

test_expect_success 'flags, keywords, recent' '
	expect "1 2 3 4 5 6 7 8" ALL &&
	expect "1 6 7" SEEN &&
	expect "2 3 4 5 8" UNSEEN &&
	expect "6" FLAGGED &&
	expect "6" ANSWERED &&
	expect "6" DELETED &&
	expect "1 2 3 4 5 7 8" UNDELETED &&
	expect "" DRAFT &&
	expect "3 4 5 8" NEW &&
	expect "3 4 5 7 8" RECENT &&
	expect "1 2 6" OLD &&
	expect "4" KEYWORD "\$Junk" &&
	expect "4" KEYWORD "\$junk" &&
	expect "1 2 3 5 6 7 8" UNKEYWORD "\$Junk" &&
	expect "" KEYWORD nosuchflag
'

test_expect_success 'header keys over decoded, case-folded text' '
	expect "1 8" FROM alice &&
	expect "1 8" FROM ALICE@EXAMPLE &&
	expect "3" CC dave &&
	expect "" BCC dave &&
	expect "2" TO alice &&
	expect "2" SUBJECT "café" &&
	expect "2" SUBJECT "CAFÉ MENU" &&
	expect "5" SUBJECT "日本の" &&
	expect "1 8" SUBJECT "hello world" &&
	expect "8" HEADER In-Reply-To "<1@" &&
	expect "1" HEADER X-Mailer "" &&
	expect "1 2 8" TEXT alice
'

test_expect_success 'body keys decode transfer encodings and charsets' '
	expect "2" BODY "crème" &&
	expect "3" BODY "GRÜSSE" || expect "3" BODY "grüße" &&
	expect "3" BODY "köln" &&
	expect "4" BODY "привет, МИР" &&
	expect "5" BODY "日本語のテキスト" &&
	expect "7" BODY "needle 42" &&
	expect "" BODY "secretword" &&
	expect "" BODY "Un caf=E9" &&
	expect "8" BODY ">From the start" &&
	expect "1 2 3 4 5 6 7 8" BODY ""
'

test_expect_success 'CHARSET converts the search strings' '
	expect "2" CHARSET ISO-8859-1 BODY "$(printf "cr\350me")" &&
	expect "4" CHARSET KOI8-R BODY "$(printf "\360\322\311\327\305\324")" &&
	test_expect_code 64 mailbag search box CHARSET x-no-such BODY a 2>err &&
	test_grep BADCHARSET err
'

test_expect_success 'dates: internal (From line) and sent (Date:)' '
	expect "1" SENTBEFORE 4-Feb-2020 &&
	expect "2" SENTON 4-Feb-2020 &&
	expect "6 7 8" SENTSINCE 6-Jun-2020 &&
	expect "1 2 3" BEFORE 2-Apr-2020 &&
	expect "4" ON 2-Apr-2020 &&
	expect "6 7 8" SINCE 1-Jun-2020
'

test_expect_success 'sizes, sequence sets, UIDs' '
	expect "6" LARGER 5000 &&
	expect "1 2 3 4 5 7 8" SMALLER 5000 &&
	expect "2 3 4 8" 2:4,8 &&
	expect "8" "*" &&
	expect "7 8" "7:*" &&
	expect "3 4 5 6" UID 5:8 &&
	expect "8" UID "*" &&
	test "$(mailbag search --uid box 2:4 | tr "\n" " ")" = "4 5 6 "
'

test_expect_success 'OR, NOT, nested parentheses, implicit AND' '
	expect "1 3 8" OR FROM alice FROM carol &&
	expect "2 3 4 5 7" NOT OR FROM alice FLAGGED &&
	expect "1 8" "(OR (FROM alice) (SUBJECT café)) NOT SUBJECT menu" &&
	expect "2" "((OR FROM bob SUBJECT café) UNSEEN) NOT DELETED" &&
	expect "" SEEN UNSEEN &&
	expect "6" "NOT (NOT FLAGGED)"
'

test_expect_success 'PCRE2: --match HEADER:REGEX and --body-match' '
	test "$(mailbag search --match "subject:^Hello" box | tr "\n" " ")" = "1 " &&
	test "$(mailbag search --match "subject:(?i)^re: hello" box | tr "\n" " ")" = "8 " &&
	test "$(mailbag search --match "from:alice" --match "subject:^Re" box | tr "\n" " ")" = "8 " &&
	test "$(mailbag search --body-match "^needle [0-9]+$" box | tr "\n" " ")" = "7 " &&
	test "$(mailbag search --body-match "Köln" box | tr "\n" " ")" = "3 " &&
	test "$(mailbag search --body-match "filler text$" box SMALLER 5000 | wc -l)" = 0 &&
	test "$(mailbag search box X-MATCH "subject:^big" | tr "\n" " ")" = "6 " &&
	test_expect_code 64 mailbag search --match "subject:(" box 2>err &&
	test_grep "regular expression" err &&
	test_expect_code 64 mailbag search --match "noheader" box
'

test_expect_success 'no match exits 1; bad criteria exit 64 and name the token' '
	test_expect_code 1 mailbag search box FROM nobody-at-all >out &&
	test_must_be_empty out &&
	test_expect_code 64 mailbag search box FROM 2>err &&
	test_expect_code 64 mailbag search box SINCE 31-Foo-2020 2>err &&
	test_grep "bad date" err &&
	test_expect_code 64 mailbag search box "(SEEN" 2>err &&
	test_expect_code 64 mailbag search box BOGUS 2>err &&
	test_grep "BOGUS" err &&
	test_expect_code 66 mailbag search nonexistent ALL 2>err
'

test_expect_success '--json: one object per match' '
	mailbag search --json box FROM alice >out.json &&
	python3 -c "
import json, sys
objs = [json.loads(l) for l in open(\"out.json\")]
assert [(o[\"type\"], o[\"seq\"], o[\"uid\"]) for o in objs] == [(\"match\", 1, 3), (\"match\", 8, 12)], objs
"
'

test_expect_success '--mbox writes the matches as an mbox that reads back' '
	mailbag search --mbox box FROM alice >out.mbox &&
	mailbag check out.mbox &&
	test "$(mailbag search out.mbox ALL | tr "\n" " ")" = "1 2 " &&
	grep -c "^From sender@example.org " out.mbox >n && test "$(cat n)" = 2 &&
	grep -q "^>From the start" out.mbox &&
	test "$(mailbag search out.mbox BODY ">From the start")" = 2 &&
	test "$(mailbag search out.mbox SUBJECT "hello world" | tr "\n" " ")" = "1 2 " &&
	! grep -q "^X-UID" out.mbox &&
	! grep -q "^Status" out.mbox
'

test_expect_success 'other formats, through the driver interface (mbx, mh)' '
	mailbag convert --to mbx box box.mbx &&
	mailbag convert --to mh box box.mh &&
	for f in box.mbx box.mh; do
		test "$(mailbag search $f BODY "привет" | tr "\n" " ")" = "4 " &&
		test "$(mailbag search $f FLAGGED | tr "\n" " ")" = "6 " &&
		test "$(mailbag search $f LARGER 5000 | tr "\n" " ")" = "6 " || return 1
	done &&
	test "$(mailbag search box.mbx KEYWORD "\$Junk" | tr "\n" " ")" = "4 " &&
	test "$(mailbag search --uid box.mbx UID 5:8 | tr "\n" " ")" = "5 6 7 8 "
'

# The bound: 40 MB for a 75 MB message with a 20 MB line; ASan builds
# keep freed memory in quarantine and shadow it, so they get more.
RSS_MAX=40000
case $MAILBAG_BUILD in *-san) RSS_MAX=400000 ;; esac

test_expect_success 'bodies are streamed: memory does not grow with message size' '
	command -v /usr/bin/time >/dev/null || { echo "no /usr/bin/time"; return 1; }
	python3 - <<-PY &&
	import base64
	with open("big", "wb") as f:
	    f.write(b"From a@b Mon Jan  6 10:00:00 2020\nSubject: big\n"
	            b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	            b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n")
	    line = base64.b64encode(b"x" * 57) + b"\n"
	    for i in range(700000):
	        f.write(line)
	    f.write(base64.b64encode(b"the needle at the end\n") + b"\n")
	    f.write(b"--b\nContent-Type: text/plain\n\n" + b"y" * (20 << 20) +
	            b" one long line, no line end\n--b--\n")
	PY
	test "$(wc -c <big)" -gt 70000000 &&
	/usr/bin/time -f %M -o rss "$MAILBAG" search big BODY "needle at the end" >out &&
	test "$(cat out)" = 1 &&
	test "$(cat rss)" -lt $RSS_MAX &&
	/usr/bin/time -f %M -o rss "$MAILBAG" search --body-match "no line end$" big >out &&
	test "$(cat out)" = 1 &&
	test "$(cat rss)" -lt $RSS_MAX
'

test_expect_success 'search never changes the mailbox' '
	cp box box.orig &&
	mailbag search box BODY x >/dev/null; mailbag search box ALL >/dev/null &&
	cmp box box.orig
'

test_done

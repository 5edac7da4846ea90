#!/bin/bash
test_description='mailbag check: each kind of damage, at its byte offset'
. "$(dirname "$0")/lib.sh"

D=$(printf '\1\1\1\1')
F1='From alice@example.com Wed Dec  2 05:53:22 1992'
F2='From bob@example.com Thu Dec 10 11:00:00 1992'
F3='From carol@example.com Fri Dec 11 12:00:00 1992'

# at FILE: the offset the next byte appended to FILE will have.
at() { wc -c <"$1" | tr -d " "; }

# has_problem JSONFILE OFFSET CODE LEVEL: a problem record with these.
has_problem() {
	python3 - "$@" <<-\EOF
	import json, sys
	f, off, code, level = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
	recs = [json.loads(l) for l in open(f)]
	probs = [r for r in recs if r["type"] == "problem"]
	hit = [p for p in probs if p["offset"] == off and p["code"] == code]
	if not hit or hit[0]["level"] != level:
	    sys.exit("want %s/%s at %d, got %r" % (code, level, off, probs))
	EOF
}

# count_problems JSONFILE LEVEL: how many problems of that level.
count_problems() {
	python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
print(sum(1 for r in recs if r["type"] == "problem" and r["level"] == sys.argv[2]))
' "$@"
}

# --- damage (exit 65) ------------------------------------------------

test_expect_success 'garbage before the first From line' '
	printf "this is not a From line\n" >garbage &&
	printf "%s\nSubject: a\n\nbody\n" "$F1" >>garbage &&
	test_expect_code 65 mailbag check garbage >out &&
	test_grep "^garbage: at byte 0: " out &&
	test_grep "^garbage: unix, 1 messages, " out &&
	test_expect_code 65 mailbag check --json garbage >json &&
	has_problem json 0 bad-first-line damage
'

test_expect_success 'garbage after leading blank lines: offset of the text' '
	printf "\n\n" >garbage2 &&
	n=$(at garbage2) &&
	printf "junk junk\n%s\nSubject: a\n\nbody\n" "$F1" >>garbage2 &&
	test_expect_code 65 mailbag check garbage2 >out &&
	test_grep "^garbage2: at byte $n: " out &&
	test_expect_code 65 mailbag check --json garbage2 >json &&
	has_problem json $n bad-first-line damage
'

test_expect_success 'an unquoted body "From " line that is not a From line' '
	printf "%s\nSubject: a\n\nbody\n\n%s\nSubject: b\n\nline\n" "$F1" "$F2" >unq &&
	n=$(at unq) &&
	printf "From x\nmore\n" >>unq &&
	test_expect_code 65 mailbag check unq >out &&
	test_grep "^unq: at byte $n: .*(message 2)" out &&
	test_grep "^unq: unix, 2 messages, " out &&
	test_expect_code 65 mailbag check --json unq >json &&
	has_problem json $n unquoted-from damage
'

test_expect_success 'Content-Length that disagrees with the framing' '
	printf "%s\nSubject: a\n\nbody\n\n%s\nSubject: b\n" "$F1" "$F2" >cl &&
	n=$(at cl) &&
	printf "Content-Length: 5\n\n0123456789\nabcdef\n\n%s\nSubject: c\n\nc\n" "$F3" >>cl &&
	test_expect_code 65 mailbag check cl >out &&
	test_grep "^cl: at byte $n: .*(message 2)" out &&
	test_grep "^cl: unix, 3 messages, " out &&
	test_expect_code 65 mailbag check --json cl >json &&
	has_problem json $n content-length damage
'

test_expect_success 'a Content-Length that agrees is no problem' '
	printf "%s\nSubject: a\nContent-Length: 11\n\n0123456789\n\n%s\nSubject: b\n\nb\n" "$F1" "$F2" >clok &&
	test_expect_code 0 mailbag check --strict clok >out &&
	test_grep "^clok: unix, 2 messages, .*: ok$" out
'

uidbase() { printf "%s\nSubject: a\nX-IMAPbase: 1795635279 9\nX-UID: %s\n\nbody\n\n" "$F1" "$1"; }

test_expect_success 'X-UID repeating the previous message'"'"'s UID' '
	uidbase 4 >dup &&
	printf "%s\nSubject: b\n" "$F2" >>dup &&
	n=$(at dup) &&
	printf "X-UID: 4\n\nb\n" >>dup &&
	test_expect_code 65 mailbag check dup >out &&
	test_grep "^dup: at byte $n: .*(message 2)" out &&
	test_expect_code 65 mailbag check --json dup >json &&
	has_problem json $n duplicate-uid damage
'

test_expect_success 'a message with two X-UID headers (UW: already has UID)' '
	uidbase 4 >dup2 &&
	printf "%s\nSubject: b\nX-UID: 5\n" "$F2" >>dup2 &&
	n=$(at dup2) &&
	printf "X-UID: 6\n\nb\n" >>dup2 &&
	test_expect_code 65 mailbag check dup2 >out &&
	test_grep "^dup2: at byte $n: .*(message 2)" out &&
	test_expect_code 65 mailbag check --json dup2 >json &&
	has_problem json $n duplicate-uid damage
'

test_expect_success 'X-UID out of order' '
	uidbase 7 >order &&
	printf "%s\nSubject: b\n" "$F2" >>order &&
	n=$(at order) &&
	printf "X-UID: 5\n\nb\n" >>order &&
	test_expect_code 65 mailbag check order >out &&
	test_grep "^order: at byte $n: .*(message 2)" out &&
	test_expect_code 65 mailbag check --json order >json &&
	has_problem json $n uid-order damage
'

test_expect_success 'malformed X-IMAPbase: validity zero' '
	printf "%s\nSubject: a\n" "$F1" >ximap0 &&
	n=$(at ximap0) &&
	printf "X-IMAPbase: 0 3\nX-UID: 1\n\nbody\n" >>ximap0 &&
	test_expect_code 65 mailbag check ximap0 >out &&
	test_grep "^ximap0: at byte $n: " out &&
	test_expect_code 65 mailbag check --json ximap0 >json &&
	has_problem json $n bad-ximap damage
'

test_expect_success 'malformed X-IMAPbase: not numbers' '
	printf "%s\nSubject: a\n" "$F1" >ximapx &&
	n=$(at ximapx) &&
	printf "X-IMAPbase: soon never\n\nbody\n" >>ximapx &&
	test_expect_code 65 mailbag check --json ximapx >json &&
	has_problem json $n bad-ximap damage
'

test_expect_success 'MMDF: text between two messages' '
	printf "%s\n%s\nSubject: a\n\nbody\n%s\n" "$D" "$F1" "$D" >between &&
	n=$(at between) &&
	printf "stray text\n%s\n%s\nSubject: b\n\nb\n%s\n" "$D" "$F2" "$D" >>between &&
	test_expect_code 65 mailbag check between >out &&
	test_grep "^between: at byte $n: " out &&
	test_grep "^between: mmdf, 2 messages, " out &&
	test_expect_code 65 mailbag check --json between >json &&
	has_problem json $n garbage damage
'

test_expect_success 'MMDF: blank lines between messages are no problem' '
	printf "%s\n%s\nSubject: a\n\nbody\n%s\n\n%s\nSubject: b\n\nb\n%s\n" "$D" "$F1" "$D" "$D" "$D" >blanks &&
	test_expect_code 0 mailbag check --strict blanks >out &&
	test_grep "^blanks: mmdf, 2 messages, .*: ok$" out
'

test_expect_success 'MMDF: last message without its closing delimiter' '
	printf "%s\n%s\nSubject: a\n\nbody\n%s\n%s\nSubject: b\n\ncut off here\n" "$D" "$F1" "$D" "$D" >trunc &&
	n=$(at trunc) &&
	test_expect_code 65 mailbag check trunc >out &&
	test_grep "^trunc: at byte $n: .*(message 2)" out &&
	test_expect_code 65 mailbag check --json trunc >json &&
	has_problem json $n truncated damage
'

# --- warnings (exit 0, 65 with --strict) -------------------------------

# warn_case NAME OFFSET CODE: exit 0 and "ok (1 warning)", 65 with
# --strict, the offset in text and JSON.
warn_case() {
	test_expect_code 0 mailbag check "$1" >out &&
	test_grep "^$1: at byte $2: " out &&
	test_grep "^$1: unix, .*: ok (1 warning)$" out &&
	test_expect_code 65 mailbag check --strict "$1" >out &&
	test_grep "^$1: at byte $2: " out &&
	test_grep "^$1: unix, .*: damaged (1 problem)$" out &&
	test_expect_code 0 mailbag check --json "$1" >json &&
	has_problem json "$2" "$3" warning
}

test_expect_success 'warning: no X-UID although X-IMAPbase exists' '
	uidbase 1 >nouid &&
	n=$(at nouid) &&
	printf "%s\nSubject: b\n\nb\n" "$F2" >>nouid &&
	warn_case nouid $n missing-uid
'

test_expect_success 'warning: bogus lowercase status: header' '
	printf "%s\nSubject: a\n" "$F1" >bogus &&
	n=$(at bogus) &&
	printf "status: RO\n\nbody\n" >>bogus &&
	warn_case bogus $n bogus-header
'

test_expect_success 'warning: X-IMAPbase outside message 1' '
	uidbase 1 >stray &&
	printf "%s\nSubject: b\n" "$F2" >>stray &&
	n=$(at stray) &&
	printf "X-IMAPbase: 1795635279 9\nX-UID: 2\n\nb\n" >>stray &&
	warn_case stray $n stray-ximap
'

test_expect_success 'warning: no blank line before a From line' '
	printf "%s\nSubject: a\n\nbody\n" "$F1" >noblank &&
	n=$(at noblank) &&
	printf "%s\nSubject: b\n\nb\n" "$F2" >>noblank &&
	warn_case noblank $n no-blank-line &&
	test_grep "^noblank: unix, 2 messages, " out
'

test_expect_success 'warnings do not hide damage: both are counted' '
	cat bogus >mixed && printf "\n" >>mixed &&
	cat unq >>mixed &&
	test_expect_code 65 mailbag check mixed >out &&
	test_grep "^mixed: unix, 3 messages, .*: damaged (2 problems)$" out
'

# --- every problem is listed -------------------------------------------

test_expect_success 'three problems planted, three reported, in order' '
	printf "%s\nSubject: a\nX-IMAPbase: 1795635279 9\nX-UID: 3\n\nbody\n" "$F1" >three &&
	n1=$(at three) &&
	printf "From nobody in particular\n\n%s\nSubject: b\n" "$F2" >>three &&
	n2=$(at three) &&
	printf "Content-Length: 1\nX-UID: 4\n\n0123456789\n\n%s\nSubject: c\n" "$F3" >>three &&
	n3=$(at three) &&
	printf "X-UID: 2\n\nc\n" >>three &&
	test_expect_code 65 mailbag check three >out &&
	grep "^three: at byte " out >problems &&
	sed "s/^three: at byte \([0-9]*\): .*/\1/" problems >offsets &&
	printf "%s\n" $n1 $n2 $n3 >expect &&
	test_cmp expect offsets &&
	test_grep "^three: unix, 3 messages, .*: damaged (3 problems)$" out &&
	test_expect_code 65 mailbag check --json three >json &&
	has_problem json $n1 unquoted-from damage &&
	has_problem json $n2 content-length damage &&
	has_problem json $n3 uid-order damage &&
	echo 3 >expect && count_problems json damage >actual &&
	test_cmp expect actual
'

test_expect_success 'the same damage in many messages is reported each time' '
	: >many &&
	offs= &&
	for i in 1 2 3 4 5; do
		printf "%s\nSubject: %s\n\nline\n" "$F1" $i >>many &&
		offs="$offs $(at many)" &&
		printf "From here on %s\n\n" $i >>many || return 1
	done &&
	test_expect_code 65 mailbag check many >out &&
	grep "^many: at byte " out | sed "s/^many: at byte \([0-9]*\): .*/\1/" >offsets &&
	printf "%s\n" $offs >expect &&
	test_cmp expect offsets &&
	test_grep "damaged (5 problems)" out
'

# --- quoting variants ----------------------------------------------------

test_expect_success 'body ">From " lines: the mboxo variant' '
	printf "%s\nSubject: a\n\n>From the start\nbody\n" "$F1" >mboxo &&
	test_expect_code 0 mailbag check mboxo >out &&
	test_grep "^mboxo: unix, 1 messages, .*, mboxo[^,:]*: ok$" out &&
	test_grep ! "mboxrd" out &&
	mailbag check --json mboxo >json &&
	python3 -c "
import json
r = [json.loads(l) for l in open(\"json\")][-1]
assert r[\"variant\"].startswith(\"mboxo\"), r
"
'

test_expect_success 'body ">>From " lines: the mboxrd variant' '
	printf "%s\nSubject: a\n\n>From the start\n>>From deeper\nbody\n" "$F1" >mboxrd &&
	test_expect_code 0 mailbag check mboxrd >out &&
	test_grep "^mboxrd: unix, 1 messages, .*, mboxrd[^,:]*: ok$" out &&
	test_grep ! "mboxo" out &&
	mailbag check --json mboxrd >json &&
	python3 -c "
import json
r = [json.loads(l) for l in open(\"json\")][-1]
assert r[\"variant\"].startswith(\"mboxrd\"), r
"
'

test_expect_success 'no quoted lines: no quoting variant' '
	printf "%s\nSubject: a\n\nbody\n" "$F1" >plain &&
	mailbag check plain >out &&
	test_grep "^plain: unix, 1 messages, [0-9]* bytes, uidvalidity 0, uidnext [0-9]*: ok$" out
'

test_done

#!/bin/bash
test_description='mailbag repair: each kind of damage of the mbox family, repaired without losing a byte'
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"

D=$(printf '\1\1\1\1')
F1='From alice@example.com Wed Dec  2 05:53:22 1992'
F2='From bob@example.com Thu Dec 10 11:00:00 1992'
F3='From carol@example.com Fri Dec 11 12:00:00 1992'

# at FILE: the offset the next byte appended to FILE will have.
at() { wc -c <"$1" | tr -d " "; }
ino() { stat -c %i "$1"; }

# repaired NAME [OPTIONS]: repair NAME (a copy of it is kept in NAME.orig)
# and check everything a repair promises: exit 65, the backup equals the
# original, same inode, `check` is clean, a second repair changes nothing.
repaired() {
	local f=$1 i
	shift
	cp "$f" "$f.orig" &&
	i=$(ino "$f") &&
	test_expect_code 65 mailbag repair "$@" "$f" >"$f.out" &&
	cat "$f.out" &&
	test "$(ino "$f")" = "$i" &&
	ls "$f".mailbag-backup.* >/dev/null &&
	cmp "$f.orig" "$f".mailbag-backup.* &&
	mailbag check "$f" &&
	cp "$f" "$f.once" &&
	test_expect_code 0 mailbag repair "$@" "$f" &&
	cmp "$f.once" "$f" &&
	test "$(ls "$f".mailbag-backup.* | wc -l)" = 1
}

# kept FILE TEXT...: every TEXT (printf-escaped) is in FILE or in FILE's
# salvage files, byte for byte.
kept() {
	python3 - "$@" <<-\EOF
	import sys, os, glob
	f = sys.argv[1]
	hay = open(f, "rb").read()
	for s in sorted(glob.glob(f + ".salvage/*")):
	    hay += b"\0" + open(s, "rb").read()
	for t in sys.argv[2:]:
	    t = t.encode().decode("unicode_escape").encode("latin-1")
	    if t not in hay:
	        sys.exit("missing from %s and its salvage: %r" % (f, t))
	EOF
}

# json_ok FILE: every line is JSON with a type.
json_ok() {
	python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert recs and all("type" in r for r in recs), recs
assert recs[-1]["type"] == "mailbox", recs[-1]
' "$1"
}

# field JSONFILE ACTION KEY: KEY of the first region with ACTION.
field() {
	python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "region" and r["action"] == sys.argv[2]:
        print(r[sys.argv[3]]); break
' "$@"
}

# count FILE: messages mailbag reads in FILE.
count() { mailbag check --json "$1" | python3 -c '
import json, sys
print([json.loads(l) for l in sys.stdin][-1]["messages"])'; }

# --- nothing to do --------------------------------------------------

test_expect_success 'a clean mailbox is left alone: exit 0, no backup' '
	printf "%s\nSubject: a\n\nbody\n\n%s\nSubject: b\n\nb\n" "$F1" "$F2" >clean &&
	cp clean clean.orig &&
	test_expect_code 0 mailbag repair clean >out &&
	test_grep "nothing damaged" out &&
	cmp clean clean.orig &&
	! ls clean.mailbag-backup.* 2>/dev/null
'

# --- unix -------------------------------------------------------------

test_expect_success 'garbage before the first From line goes to a salvage file' '
	printf "this is not a From line\n" >garbage &&
	n=$(at garbage) &&
	printf "%s\nSubject: a\n\nbody\n" "$F1" >>garbage &&
	repaired garbage &&
	test_grep "salvaged" garbage.out &&
	cmp garbage.salvage/badmsg.1 - <<-\EOF &&
	this is not a From line
	EOF
	kept garbage "Subject: a\n\nbody\n" &&
	test "$(count garbage)" = 1
'

test_expect_success '-n reports and writes nothing, not even a backup' '
	printf "junk\n%s\nSubject: a\n\nbody\n" "$F1" >dry &&
	cp dry dry.orig &&
	test_expect_code 65 mailbag repair -n dry >out &&
	test_grep "would be repaired" out &&
	cmp dry dry.orig &&
	! ls dry.mailbag-backup.* 2>/dev/null &&
	! test -e dry.salvage &&
	test_expect_code 65 mailbag repair -n --json dry >json &&
	json_ok json &&
	test "$(field json salvaged offset)" = 0 &&
	cmp dry dry.orig
'

test_expect_success '--json names every region with offsets, and the salvage file' '
	printf "junk\n" >js &&
	printf "%s\nSubject: a\n\nbody\n" "$F1" >>js &&
	test_expect_code 65 mailbag repair --json js >json &&
	json_ok json &&
	test "$(field json salvaged offset)" = 0 &&
	test "$(field json salvaged length)" = 5 &&
	test "$(field json salvaged file)" = js.salvage/badmsg.1 &&
	test "$(field json kept offset)" = 5 &&
	test "$(field json kept messages)" = 1
'

test_expect_success '--salvage-dir puts the salvage elsewhere' '
	printf "junk\n%s\nSubject: a\n\nbody\n" "$F1" >sd &&
	test_expect_code 65 mailbag repair --salvage-dir="$TRASH/elsewhere" sd &&
	test -f elsewhere/badmsg.1 && ! test -e sd.salvage
'

test_expect_success 'a first line that is not a valid From line: the message is recovered' '
	printf "From alice Wed Dec 2 05:53:22 1992\nDate: Wed, 2 Dec 1992 05:53:22 +0000\nSubject: first\n\nfirst body\n\n" >badfrom &&
	printf "%s\nSubject: b\n\nb\n" "$F2" >>badfrom &&
	repaired badfrom &&
	test_grep "recovered" badfrom.out &&
	test "$(count badfrom)" = 2 &&
	head -1 badfrom >first &&
	echo "From alice Wed Dec  2 05:53:22 1992 +0000" >expect &&
	test_cmp expect first &&
	kept badfrom "Date: Wed, 2 Dec 1992 05:53:22 +0000\nSubject: first\n" \
		"\nfirst body\n" "From alice Wed Dec 2 05:53:22 1992\n" "Subject: b\n\nb\n"
'

test_expect_success 'a message without any From line before the first one is recovered' '
	printf "Return-Path: <x@example.com>\nSubject: lost\nDate: Thu, 10 Dec 1992 09:00:00 +0100\n\nlost body\n\n" >nofrom &&
	printf "%s\nSubject: b\n\nb\n" "$F2" >>nofrom &&
	repaired nofrom &&
	test "$(count nofrom)" = 2 &&
	head -1 nofrom >first &&
	echo "From MAILER-DAEMON Thu Dec 10 09:00:00 1992 +0100" >expect &&
	test_cmp expect first &&
	! test -e nofrom.salvage &&
	kept nofrom "Return-Path: <x@example.com>\nSubject: lost\nDate: Thu, 10 Dec 1992 09:00:00 +0100\n" "\nlost body\n"
'

test_expect_success 'unquoted body "From " lines: quoted by default (keep)' '
	printf "%s\nSubject: a\n\nbody\n\n%s\nSubject: b\n\nline\n" "$F1" "$F2" >unq &&
	printf "From x\nmore\n" >>unq &&
	repaired unq &&
	test "$(count unq)" = 2 &&
	test_grep "^>From x$" unq &&
	kept unq "Subject: a\n\nbody\n" "\nline\n" "From x\nmore\n"
'

test_expect_success '--from-lines=split: a new message starts there, as lax readers see it' '
	printf "%s\nSubject: a\n\nbody\n\n%s\nSubject: b\n\nline\n\n" "$F1" "$F2" >split &&
	printf "From x\nmore\n" >>split &&
	repaired split --from-lines=split &&
	test "$(count split)" = 3 &&
	! test_grep "^>From" split &&
	test_grep "^From x .* 20[0-9][0-9] +0000$" split &&
	cmp split.salvage/badmsg.1 - <<-\EOF &&
	From x
	EOF
	kept split "Subject: a\n\nbody\n" "\nline\n" "more\n"
'

test_expect_success 'a Content-Length that disagrees is corrected, the old value kept' '
	printf "%s\nSubject: a\n\nbody\n\n%s\nSubject: b\n" "$F1" "$F2" >cl &&
	printf "Content-Length: 5\n\n0123456789\nabcdef\n\n%s\nSubject: c\n\nc\n" "$F3" >>cl &&
	repaired cl &&
	test "$(count cl)" = 3 &&
	test_grep "^Content-Length: 18$" cl &&
	test_grep "^X-Original-Content-Length: 5$" cl &&
	kept cl "Subject: a\n\nbody\n" "\n0123456789\nabcdef\n" "Subject: c\n\nc\n"
'

test_expect_success '--drop-content-length removes it instead' '
	printf "%s\nSubject: b\nContent-Length: 5\n\n0123456789\nabcdef\n" "$F2" >cl2 &&
	repaired cl2 --drop-content-length &&
	! test_grep "^Content-Length:" cl2 &&
	test_grep "^X-Original-Content-Length: 5$" cl2
'

uidmsg() { printf "%s\nSubject: %s\n%bX-UID: %s\n\n%s body\n\n" "$1" "$2" "$3" "$4" "$2"; }

test_expect_success 'a deleted FOLDER INTERNAL DATA message: made again, the UIDs kept' '
	uidmsg "$F1" a "Status: RO\nX-Keywords: Junk\n" 4 >nopseudo &&
	uidmsg "$F2" b "" 7 >>nopseudo &&
	repaired nopseudo &&
	test "$(count nopseudo)" = 2 &&
	mailbag check --json nopseudo >json &&
	test_grep "\"uidnext\":8" json &&
	test_grep "^X-IMAP: [0-9]\{10\} 0000000007 Junk" nopseudo &&
	test_grep "^X-UID: 4$" nopseudo && test_grep "^X-UID: 7$" nopseudo &&
	kept nopseudo "Subject: a\nStatus: RO\nX-Keywords: Junk\nX-UID: 4\n\na body\n"
'

test_expect_success 'a deleted pseudo-message and UIDs that do not ascend: renumbered' '
	uidmsg "$F1" a "" 9 >desc &&
	uidmsg "$F2" b "" 3 >>desc &&
	repaired desc &&
	test_grep "^X-IMAP: [0-9]\{10\} 0000000002" desc &&
	test_grep "^X-UID: 1$" desc && test_grep "^X-UID: 2$" desc &&
	kept desc "Subject: a\n" "\na body\n" "Subject: b\n" "\nb body\n"
'

test_expect_success 'garbage before a mailbox with UIDs: the recovered message gets a new UID at the end' '
	printf "Subject: lost\nDate: Thu, 10 Dec 1992 09:00:00 +0100\n\nlost\n\n" >uidg &&
	printf "%s\nSubject: a\nX-IMAPbase: 1795635279 9\nX-UID: 4\n\na\n\n" "$F1" >>uidg &&
	uidmsg "$F2" b "" 5 >>uidg &&
	repaired uidg &&
	mailbag check --json uidg >json &&
	test_grep "\"uidvalidity\":1795635279" json &&
	test_grep "\"uidnext\":11" json &&
	tail -n 9 uidg | test_grep "^X-UID: 10$" &&
	test_grep "^X-UID: 4$" uidg && test_grep "^X-UID: 5$" uidg
'

test_expect_success 'a truncated last message (the file ends mid-header) is kept as a message' '
	printf "%s\nSubject: a\n\nbody\n\n%s\nSubject: b\nX-Fo" "$F1" "$F2" >trunc &&
	repaired trunc &&
	test "$(count trunc)" = 2 &&
	kept trunc "Subject: a\n\nbody\n" "Subject: b\nX-Fo\n"
'

test_expect_success 'mail delivered while repair waits for its locks is kept' '
	printf "junk\n%s\nSubject: a\n\nbody\n" "$F1" >busy &&
	python3 - "$F2" <<-\EOF &
	import fcntl, sys, time, os
	f = open("busy", "ab")
	fcntl.flock(f, fcntl.LOCK_EX)
	open("locked", "w").close()
	time.sleep(1.5)
	f.write(("\n%s\nSubject: late\n\nlate body\n" % sys.argv[1]).encode())
	f.flush(); os.fsync(f.fileno())
	fcntl.flock(f, fcntl.LOCK_UN)
	EOF
	while ! test -e locked; do sleep 0.1; done &&
	test_expect_code 65 mailbag repair --lock-timeout=20 busy &&
	wait &&
	test "$(count busy)" = 2 &&
	test_grep "^Subject: late$" busy &&
	mailbag check busy
'

test_expect_success 'locks held too long: exit 75, nothing written' '
	printf "junk\n%s\nSubject: a\n\nbody\n" "$F1" >held &&
	cp held held.orig &&
	python3 -c "
import fcntl, time
f = open(\"held\", \"ab\")
fcntl.flock(f, fcntl.LOCK_EX)
open(\"held-locked\", \"w\").close()
time.sleep(4)
" &
	while ! test -e held-locked; do sleep 0.1; done &&
	test_expect_code 75 mailbag repair --lock-timeout=1 held &&
	wait &&
	cmp held held.orig && ! ls held.mailbag-backup.* 2>/dev/null
'

test_expect_success 'mbx-repair is the same command' '
	ln -s "$MAILBAG" mbx-repair &&
	printf "junk\n%s\nSubject: a\n\nbody\n" "$F1" >alias &&
	test_expect_code 65 ./mbx-repair alias &&
	mailbag check alias
'

test_expect_success 'CRLF messages get CRLF in the lines repair writes' '
	printf "%s\r\nSubject: x\r\nContent-Length: 3\r\n\r\nhello\r\nFrom y\r\n" "$F1" >crlf &&
	repaired crlf &&
	test_grep "^Content-Length: 16.$" crlf &&
	test_grep "^X-Original-Content-Length: 3.$" crlf &&
	cr=$(printf "\r") &&
	test "$(grep -c "^[A-Z][-A-Za-z]*:" crlf)" = "$(grep -c "^[A-Z][-A-Za-z]*:.*$cr\$" crlf)" &&
	kept crlf "Subject: x\r\n" "\r\nhello\r\n" "From y\r\n"
'

# --- mmdf -------------------------------------------------------------

test_expect_success 'mmdf: garbage before the first delimiter and between messages' '
	printf "junk\n$D\n%s\nSubject: a\n\nbody\n$D\nmore junk\n$D\n%s\nSubject: b\n\nb\n$D\n" "$F1" "$F2" >mm &&
	repaired mm &&
	test "$(count mm)" = 2 &&
	kept mm "junk\n" "more junk\n" "Subject: a\n\nbody\n" "Subject: b\n\nb\n"
'

test_expect_success 'mmdf: a truncated last message gets its closing delimiter' '
	printf "$D\n%s\nSubject: a\n\nbody\n$D\n$D\n%s\nSubject: b\n\nb no end" "$F1" "$F2" >mmt &&
	repaired mmt &&
	test "$(count mmt)" = 2 &&
	kept mmt "Subject: a\n\nbody\n" "\nb no end\n"
'

test_expect_success 'mmdf: a lost delimiter does not merge or lose messages' '
	printf "$D\n%s\nSubject: a\n\nbody\n$D\n%s\nSubject: b\n\nb\n$D\n$D\n%s\nSubject: c\n\nc\n$D\n" "$F1" "$F2" "$F3" >mml &&
	repaired mml &&
	test "$(count mml)" = 3 &&
	kept mml "Subject: a\n\nbody\n" "Subject: b\n" "\nb\n" "Subject: c\n\nc\n"
'

# --- seeded damage ----------------------------------------------------

# untouched ORIG DAMAGED REPAIRED: every message of ORIG whose bytes are
# still whole in DAMAGED is in REPAIRED (or its salvage), its header less
# UW's status headers and Content-Length, and its body byte for byte.
cat >untouched.py <<-\EOF
import sys, re, glob, hashlib
orig, damaged, repaired = sys.argv[1:4]
mmdf = open(orig, "rb").read().startswith(b"\1\1\1\1\n")
FROM = re.compile(rb"^From \S+ \w{3} \w{3} [ \d]\d \d\d:\d\d(:\d\d)? \d{4}.*$", re.M)
DROP = re.compile(rb"^(Status|X-Status|X-Keywords|X-UID|X-IMAP|X-IMAPbase|Content-Length|X-Original-Content-Length):[^\n]*\n(?:[ \t][^\n]*\n)*", re.M | re.I)
def messages(data):
    if mmdf:
        return [p for p in data.split(b"\1\1\1\1\n") if p.strip()]
    starts = [m.start() for m in FROM.finditer(data)]
    return [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]
def norm(msg):
    i = msg.find(b"\n\n")
    if i < 0:
        return DROP.sub(b"", msg)
    return DROP.sub(b"", msg[:i + 1]) + msg[i + 1:]
d = open(damaged, "rb").read()
hay = norm(open(repaired, "rb").read())
for s in glob.glob(repaired + ".salvage/*"):
    hay += open(s, "rb").read()
hay_msgs = b"\0".join(norm(m) for m in messages(open(repaired, "rb").read()))
n = 0
for m in messages(open(orig, "rb").read()):
    if m.rstrip(b"\n") not in d or b"X-IMAP:" in m:
        continue
    n += 1
    t = norm(m).rstrip(b"\n")
    mid = re.search(rb"^Message-ID:[^\n]*", m, re.M | re.I)
    if t not in hay_msgs and t not in hay:
        sys.exit("lost message %s (md5 %s)" % (mid.group(0) if mid else "?", hashlib.md5(t).hexdigest()))
print(n)
EOF

if test -x "$HELPER/corrupt" && test -x "$HELPER/gen-mbox"; then
	test_set_prereq CORRUPT
fi

for fmt in unix mmdf; do
test_expect_success CORRUPT "$fmt: 100 seeds of random damage: intact messages kept, check clean, idempotent" '
	"$HELPER/gen-mbox" --seed 7 --count 30 --format '$fmt' -o gen.'$fmt' &&
	fails=0 &&
	for s in $(seq 1 "${REPAIR_SEEDS:-100}"); do
		rm -rf c c.* &&
		{ "$HELPER/corrupt" --seed $s --kind random gen.'$fmt' c 2>/dev/null; rc=$?; } ;
		test $rc = 2 && continue
		test $rc = 0 || { echo "corrupt failed for seed $s"; fails=$((fails + 1)); continue; }
		cp c c.damaged &&
		{ mailbag repair c >c.log 2>&1; rc=$?; } ;
		if test $rc != 0 && test $rc != 65; then
			echo "seed $s: repair exit $rc"; cat c.log; fails=$((fails + 1)); continue
		fi
		mailbag check c >/dev/null || { echo "seed $s: check fails"; fails=$((fails + 1)); continue; }
		python3 untouched.py gen.'$fmt' c.damaged c >/dev/null ||
			{ echo "seed $s: lost an intact message"; fails=$((fails + 1)); continue; }
		cp c c.once && mailbag repair c >/dev/null &&
		cmp c c.once || { echo "seed $s: second repair changed it"; fails=$((fails + 1)); }
	done &&
	test $fails = 0
'
done

test_done

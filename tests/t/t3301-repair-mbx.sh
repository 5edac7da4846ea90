#!/bin/bash
test_description='mailbag repair of mbx mailboxes: the size chain resynchronised, no byte lost'
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
if command -v mailutil >/dev/null 2>&1; then
	. "$TESTS_DIR/t/uw.sh"
	uw_setup
	test_set_prereq UW
fi

ino() { stat -c %i "$1"; }

# repaired NAME [OPTIONS]: as in t3300: exit 65, the backup equals the
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

count() { mailbag check --json "$1" | python3 -c '
import json, sys
print([json.loads(l) for l in sys.stdin][-1]["messages"])'; }

# mbx.py: look at and damage mbx files.
cat >mbx.py <<-\EOF
import sys, re, glob
def recs(d):
    out, pos = [], 2048
    while pos < len(d):
        e = d.find(b"\r\n", pos)
        m = re.match(rb"^(.*),(\d+);([0-9a-fA-F]{8})([0-9a-fA-F]{4})-([0-9a-fA-F]{8})$", d[pos:e]) if e >= 0 else None
        if not m:
            break
        t = e + 2
        out.append(dict(off=pos, line=d[pos:e], size=int(m.group(2)), text=t,
                        kw=m.group(3), flags=m.group(4), uid=int(m.group(5), 16),
                        body=d[t:t + int(m.group(2))]))
        pos = t + int(m.group(2))
    return out
cmd, f = sys.argv[1], sys.argv[2]
d = bytearray(open(f, "rb").read())
R = recs(bytes(d))
def put(off, old, new):
    d[off:off + len(old)] = new
if cmd == "size":           # size FILE N DELTA
    r = R[int(sys.argv[3])]
    s = str(r["size"]).encode(); n = str(r["size"] + int(sys.argv[4])).encode()
    i = r["line"].index(b",") + 1
    put(r["off"] + i, s, n)
elif cmd == "uid":          # uid FILE N UID
    r = R[int(sys.argv[3])]
    put(r["text"] - 10, b"x" * 8, b"%08x" % int(sys.argv[4]))
elif cmd == "smash":        # smash FILE N: destroy the internal header line
    r = R[int(sys.argv[3])]
    put(r["off"], r["line"], b"#" * len(r["line"]))
elif cmd == "insert":       # insert FILE N TEXT: before record N
    off = R[int(sys.argv[3])]["off"] if int(sys.argv[3]) < len(R) else len(d)
    d[off:off] = sys.argv[4].encode()
elif cmd == "at":           # at FILE N: offset of record N
    print(R[int(sys.argv[3])]["off"]); sys.exit(0)
elif cmd in ("list", "visible"):  # list FILE: flags, uid, md5 of each text
    import hashlib                  # (visible: not the hidden-expunged)
    for r in R:
        if cmd == "visible" and int(r["flags"], 16) & 0x8000:
            continue
        print(r["kw"].decode(), r["flags"].decode(), r["uid"], hashlib.md5(r["body"]).hexdigest())
    sys.exit(0)
elif cmd == "texts":        # texts ORIG REPAIRED: every text of ORIG is a message of REPAIRED
    have = [r["body"] for r in recs(open(sys.argv[3], "rb").read())]
    hay = open(sys.argv[3], "rb").read()
    for s in glob.glob(sys.argv[3] + ".salvage/*"):
        hay += b"\0" + open(s, "rb").read()
    for a in sys.argv[4:]:
        b = R[int(a)]["body"]
        if b not in have:
            sys.exit("message %s is not a message of %s" % (a, sys.argv[3]))
    sys.exit(0)
open(f, "wb").write(d)
EOF
mbx() { python3 "$TRASH/mbx.py" "$@"; }

msg() { printf "From %s@example.com Wed Dec  2 05:53:22 1992\nDate: Wed, 2 Dec 1992 05:53:22 +0000\nFrom: %s@example.com\nSubject: %s\nMessage-ID: <%s@example.com>\n\n%s body\nline two\n\n" "$1" "$1" "$1" "$1" "$1"; }

test_expect_success 'setup: a three-message mbx with flags, keywords and UIDs' '
	{ msg alpha; msg bravo; msg charlie; } >three.mbox &&
	mailbag convert --to mbx three.mbox three.mbx &&
	test "$(count three.mbx)" = 3 &&
	mbx list three.mbx >three.list && cat three.list
'

test_expect_success 'a clean mailbox (ours and the UW samples) is left alone: exit 0' '
	for f in three.mbx "$DATA"/mbx/*.mbx; do
		cp "$f" clean &&
		test_expect_code 0 mailbag repair clean >out &&
		test_grep "nothing damaged" out &&
		cmp "$f" clean || return 1
	done &&
	! ls clean.mailbag-backup.* 2>/dev/null
'

test_expect_success 'a size field too big eats into the next message: cut there' '
	cp three.mbx big && mbx size big 0 7 &&
	repaired big &&
	test_grep "runs into the next message" big.out &&
	test "$(count big)" = 3 &&
	mbx list big >list && test_cmp three.list list &&
	! test -e big.salvage
'

test_expect_success 'a size field too small: the message is extended to the next header' '
	cp three.mbx small && mbx size small 1 -5 &&
	repaired small &&
	test_grep "ends inside the message" small.out &&
	mbx list small >list && test_cmp three.list list
'

test_expect_success 'the last size runs past the end of the file: cut at the end' '
	cp three.mbx last && mbx size last 2 100 &&
	repaired last &&
	test_grep "runs past the end of the file" last.out &&
	mbx list last >list && test_cmp three.list list
'

test_expect_success 'a truncated last message is kept, its size corrected' '
	cp three.mbx trunc && n=$(wc -c <three.mbx) &&
	truncate -s $((n - 20)) trunc &&
	repaired trunc &&
	test "$(count trunc)" = 3 &&
	mbx texts three.mbx trunc 0 1
'

test_expect_success 'a destroyed internal header: the message is recovered, the line salvaged' '
	cp three.mbx smash && mbx smash smash 1 &&
	repaired smash &&
	test_grep "recovered" smash.out &&
	test "$(count smash)" = 3 &&
	mbx texts three.mbx smash 0 1 2 &&
	grep "^#####" smash.salvage/badmsg.1 &&
	mbx visible smash >list &&
	sed -n 1p three.list | cmp - <(sed -n 1p list) &&
	sed -n 3p three.list | cmp - <(sed -n 2p list) &&
	tail -1 list | test_grep "^00000000 0000 4 " &&
	mailbag check --json smash | test_grep "\"uidnext\":5" &&
	# patched in place: the damaged bytes became a hidden placeholder
	test_grep "1 damaged region left in place" smash.out &&
	mailbag check smash | test_grep "1 hidden expunged" &&
	test "$(mbx list smash | wc -l)" = 4 &&
	at=$(mbx at three.mbx 1) &&
	cmp -n $((at - 2048)) <(tail -c +2049 three.mbx) <(tail -c +2049 smash)
'

test_expect_success 'a destroyed internal header, --compact: the file is rewritten' '
	cp three.mbx smashc && mbx smash smashc 1 &&
	repaired smashc --compact &&
	test_grep ! "left in place" smashc.out &&
	mbx list smashc >list &&
	test "$(wc -l <list)" = 3 &&
	sed -n 1p three.list | cmp - <(sed -n 1p list) &&
	sed -n 3p three.list | cmp - <(sed -n 2p list) &&
	tail -1 list | test_grep "^00000000 0000 4 " &&
	mailbag check smashc >c.out &&
	test_grep ! "hidden" c.out
'

test_expect_success 'garbage between messages goes to a salvage file' '
	cp three.mbx garb && mbx insert garb 1 "this is garbage" &&
	at=$(mbx at three.mbx 1) &&
	repaired garb --json &&
	printf "this is garbage" | cmp - garb.salvage/badmsg.1 &&
	mbx list garb >list && test_cmp three.list list &&
	python3 -c "
import json, sys
rs = [json.loads(l) for l in open(\"garb.out\")]
s = [r for r in rs if r[\"type\"] == \"region\" and r[\"action\"] == \"salvaged\"]
assert len(s) == 1 and s[0][\"offset\"] == $at and s[0][\"length\"] == 15, s
assert rs[-1][\"type\"] == \"mailbox\"
"
'

test_expect_success 'a damaged file header: salvaged, made again, messages kept' '
	cp three.mbx hdr && printf "XXXXX" | dd of=hdr conv=notrunc 2>/dev/null &&
	repaired hdr &&
	test_grep "made a new file header" hdr.out &&
	cmp <(head -c 2048 three.mbx | tail -c +6) <(tail -c +6 hdr.salvage/badmsg.1) &&
	test "$(count hdr)" = 3 &&
	mbx texts three.mbx hdr 0 1 2
'

test_expect_success 'a duplicate UID: renumbered under a new UIDVALIDITY, flags kept' '
	cp three.mbx dup && mbx uid dup 2 2 &&
	repaired dup &&
	test_grep "new UIDVALIDITY" dup.out &&
	mbx list dup >list && test_cmp three.list list &&
	test "$(mailbag check --json three.mbx | grep -o "\"uidvalidity\":[0-9]*")" != \
		"$(mailbag check --json dup | grep -o "\"uidvalidity\":[0-9]*")"
'

test_expect_success 'a UID above the last UID of the header: the last UID is raised' '
	cp three.mbx high && mbx uid high 2 9 &&
	repaired high &&
	mailbag check --json high | test_grep "\"uidnext\":10" &&
	mbx list high | tail -1 | test_grep " 9 "
'

test_expect_success 'UW-written mailbox with keywords: size damage repaired, keywords and flags kept' '
	cp "$DATA/mbx/mbx-with-keywords.mbx" uwkw &&
	mbx list uwkw >uwkw.list &&
	mbx size uwkw 0 30 &&
	repaired uwkw &&
	mbx list uwkw >list && test_cmp uwkw.list list &&
	cmp <(head -c 2048 "$DATA/mbx/mbx-with-keywords.mbx") <(head -c 2048 uwkw)
'

test_expect_success 'UW-written mailbox with a hidden expunged message: garbage salvaged, the hidden one kept' '
	cp "$DATA/mbx/mbx-shared-expunge-hidden.mbx" uwh &&
	mbx list uwh >uwh.list &&
	mbx insert uwh 1 "junk junk" &&
	repaired uwh &&
	mbx list uwh >list && test_cmp uwh.list list
'

test_expect_success '-n reports and writes nothing; --json is JSON' '
	cp three.mbx dry && mbx smash dry 1 && cp dry dry.orig &&
	test_expect_code 65 mailbag repair -n dry >out &&
	test_grep "would be repaired" out &&
	test_expect_code 65 mailbag repair -n --json dry >json &&
	python3 -c "
import json, sys
rs = [json.loads(l) for l in open(\"json\")]
assert rs[-1][\"type\"] == \"mailbox\" and rs[-1][\"format\"] == \"mbx\", rs[-1]
assert {\"salvaged\", \"recovered\", \"kept\"} <= {r.get(\"action\") for r in rs}, rs
" &&
	cmp dry dry.orig &&
	! ls dry.mailbag-backup.* 2>/dev/null && ! test -e dry.salvage
'

test_expect_success 'a reader holding flock(LOCK_SH) makes repair wait: exit 75' '
	cp three.mbx held && mbx size held 0 7 && cp held held.orig &&
	python3 -c "
import fcntl, time
f = open(\"held\", \"rb\")
fcntl.flock(f, fcntl.LOCK_SH)
open(\"held-locked\", \"w\").close()
time.sleep(4)
" &
	while ! test -e held-locked; do sleep 0.1; done &&
	test_expect_code 75 mailbag repair --lock-timeout=1 held &&
	wait &&
	cmp held held.orig && ! ls held.mailbag-backup.* 2>/dev/null
'

# --- seeded damage ----------------------------------------------------

# untouched ORIG DAMAGED REPAIRED: every message text of ORIG still whole
# in DAMAGED is a message of REPAIRED; where its whole record is whole,
# its flags and keywords are kept (and, UIDs not renumbered, its record).
cat >untouched.py <<-\EOF
import sys, re, os
orig, damaged, repaired = sys.argv[1:4]
exec(open(os.environ["TRASH"] + "/mbx.py").read().split("cmd, f =")[0])
O = open(orig, "rb").read(); D = open(damaged, "rb").read(); R = open(repaired, "rb").read()
rr = recs(R)
if sum(r["size"] + len(r["line"]) + 2 for r in rr) + 2048 != len(R):
    sys.exit("the repaired chain does not cover the file")
flags = {}
for r in rr:
    flags.setdefault(r["body"], []).append(r["kw"] + r["flags"])
same = O[7:15] == R[7:15]
for r in recs(O):
    if r["body"] not in D:
        continue
    if r["body"] not in flags:
        sys.exit("lost %r" % r["body"][:60])
    rec = r["line"] + b"\r\n" + r["body"]
    if rec in D and r["kw"] + r["flags"] not in flags[r["body"]]:
        sys.exit("flags lost: %r" % r["line"])
    if rec in D and same and rec not in R:
        sys.exit("intact record changed: %r" % r["line"])
EOF

if test -x "$HELPER/corrupt" && test -x "$HELPER/gen-mbox"; then
	test_set_prereq CORRUPT
fi

test_expect_success CORRUPT 'mbx: 100 seeds of random damage: intact messages kept, check clean, idempotent' '
	"$HELPER/gen-mbox" --seed 11 --count 30 -o gen.mbox &&
	mailbag convert --to mbx gen.mbox gen.mbx &&
	fails=0 &&
	for s in $(seq 1 "${REPAIR_SEEDS:-100}"); do
		rm -rf c c.* &&
		{ "$HELPER/corrupt" --seed $s --kind random gen.mbx c 2>c.how; rc=$?; } ;
		test $rc = 2 && continue
		test $rc = 0 || { echo "corrupt failed for seed $s"; fails=$((fails + 1)); continue; }
		cp c c.damaged &&
		{ mailbag repair c >c.log 2>&1; rc=$?; } ;
		if test $rc != 0 && test $rc != 65; then
			echo "seed $s: repair exit $rc"; cat c.how c.log; fails=$((fails + 1)); continue
		fi
		if test $rc = 65 && ! cmp -s c.damaged c.mailbag-backup.*; then
			echo "seed $s: backup differs"; fails=$((fails + 1)); continue
		fi
		mailbag check c >/dev/null || { echo "seed $s: check fails"; cat c.how; fails=$((fails + 1)); continue; }
		python3 untouched.py gen.mbx c.damaged c ||
			{ echo "seed $s: lost an intact message"; cat c.how; fails=$((fails + 1)); continue; }
		cp c c.once && mailbag repair c >/dev/null &&
		cmp c c.once || { echo "seed $s: second repair changed it"; fails=$((fails + 1)); }
	done &&
	test $fails = 0
'

for kind in size-field garbage truncate flip overwrite-header dup-uid; do
test_expect_success CORRUPT "mbx: 15 seeds of $kind on a UW-written mailbox and ours" '
	fails=0 &&
	for f in gen.mbx "$DATA/mbx/tmail-folder-mbx.mbx" "$DATA/mbx/mbx-with-keywords.mbx"; do
		for s in $(seq 1 15); do
			rm -rf c c.* &&
			{ "$HELPER/corrupt" --seed $s --kind '$kind' "$f" c 2>c.how; rc=$?; } ;
			test $rc = 2 && continue
			cp c c.damaged &&
			{ mailbag repair c >c.log 2>&1; rc=$?; } ;
			if test $rc != 0 && test $rc != 65; then
				echo "$f seed $s: repair exit $rc"; cat c.how c.log; fails=$((fails + 1)); continue
			fi
			mailbag check c >/dev/null &&
			python3 untouched.py "$f" c.damaged c &&
			cp c c.once && mailbag repair c >/dev/null && cmp c c.once ||
				{ echo "$f seed $s failed"; cat c.how; fails=$((fails + 1)); }
		done
	done &&
	test $fails = 0
'
done

# --- UW reads what repair wrote --------------------------------------

test_expect_success UW 'UW mailutil check counts the repaired mailbox' '
	uw_put smash uwsmash &&
	uw_run mailutil check uwsmash >uw.out 2>&1 &&
	cat uw.out &&
	test_grep " 3 total" uw.out &&
	uw_put dup uwdup &&
	uw_run mailutil check uwdup >uw.out 2>&1 &&
	test_grep " 3 total" uw.out &&
	! test_grep -i "invalid\|error" uw.out
'

test_expect_success UW 'UW reads zero-padded sizes and placeholders; its read/write open keeps everything' '
	cp three.mbx pad && mbx smash pad 2 && mbx size pad 0 1000 &&
	repaired pad &&
	test_grep "left in place" pad.out &&
	grep -a ",0[0-9]*;" pad >/dev/null &&
	mailbag convert --to unix pad pad.mbox &&
	uw_put pad uwpad &&
	uw_run mailutil check uwpad >uw.out 2>&1 &&
	cat uw.out &&
	test_grep " 3 total" uw.out &&
	uw_run mailutil -verbose prune uwpad "subject nosuchxyz" >prune.out 2>&1
	cat prune.out &&
	test_grep "nothing purged" prune.out &&
	test_grep ! -i "invalid\|error\|rebuilding" prune.out &&
	uw_get uwpad pad.after &&
	mailbag check pad.after &&
	mailbag convert --to unix pad.after pad.after.mbox &&
	grep -v "^X-IMAPbase\|^X-Keywords\|^Status\|^X-Status\|^Date: \|^Message-ID: <.*@\|^From MAILER" pad.mbox >a &&
	grep -v "^X-IMAPbase\|^X-Keywords\|^Status\|^X-Status\|^Date: \|^Message-ID: <.*@\|^From MAILER" pad.after.mbox >b &&
	test_cmp a b
'

test_done

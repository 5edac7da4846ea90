#!/bin/bash
test_description='convert between every pair of writable formats: texts, dates, flags, keywords and UIDs survive as each format allows'
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
MBTOOL=$HELPER/mbtool

# The writable formats this build has (mailbag formats lists them all;
# phile is read-only).
FORMATS=
for f in unix mmdf mbx mix mtx tenex mh maildir eml; do
	mailbag formats | grep -q "^$f[[:space:]]" && FORMATS="$FORMATS $f"
done

test_expect_success 'setup: a source with flags, keywords, zones, UIDs, a body "From " line, 8-bit text' '
	printf "%s\n" \
		"From alice@example.com Wed Dec  2 05:53:22 1992 +0000" \
		"X-IMAPbase: 1234567890 13 Junk \$Label1 NonJunk" \
		"Status: RO" "X-Status: A" "X-Keywords: Junk" "X-UID: 5" \
		"From: Alice <alice@example.com>" "Subject: one" \
		"Message-ID: <one@example.com>" "" \
		"first body" ">From the middle of a line, quoted as unix stores it" "" \
		"From bob@example.org Thu Jan 14 23:59:59 2021 -0800" \
		"Status: O" "X-Status: FT" "X-Keywords: \$Label1 NonJunk" "X-UID: 6" \
		"From: Bob <bob@example.org>" "Subject: two" "" \
		"caf$(printf "\303\251") and $(printf "\377\376") bytes" "" \
		"From carol@example.net Sat Feb 29 12:00:00 2020 +0530" \
		"Status: RO" "X-Status: DF" "X-Keywords: " "X-UID: 9" \
		"Subject: three" "" \
		"$(printf "%0998d" 0)" "" \
		"From dave@example.com Mon Mar  1 00:00:01 2021 +0000" \
		"Status: " "X-Status: " "X-UID: 12" \
		"Subject: four" "" \
		"last" >src.mbox &&
	mailbag check src.mbox &&
	"$MBTOOL" jdump src.mbox >src.json &&
	test "$(grep -c "\"uid\"" src.json)" = 4 &&
	echo "# formats:$FORMATS" &&
	for a in $FORMATS; do
		rm -rf "a.$a" &&
		mailbag convert --to=$a src.mbox "a.$a" 2>"a.$a.err" &&
		"$MBTOOL" jdump "a.$a" >"a.$a.json" || return 1
	done
'

cat >check.py <<-\EOF
import json, re, sys

# What each format can hold (mailbag-formats(5)).
UIDS = {"unix", "mmdf", "mbx", "mix", "maildir"}
KW_NAMES = {"unix", "mmdf", "mbx", "mix", "maildir"}
FLAGS_KEPT = {"unix", "mmdf", "mbx", "mix", "mtx", "tenex", "mh", "maildir"}
ZONE_KEPT = {"unix", "mmdf", "mbx", "mix", "mtx", "tenex"}
FLAG_MASK = 0x01 | 0x02 | 0x04 | 0x08 | 0x20

def load(p):
    L = [json.loads(l) for l in open(p)]
    return [m for m in L if "uid" in m], L[-1]

def norm(text):
    # line ends are the format's: compare with LF
    return bytes.fromhex(text).replace(b"\r\n", b"\n")

def quote(t):
    # what the unix writer adds (mboxo): ">" before body "From " lines
    head, sep, body = t.partition(b"\n\n")
    return head + sep + re.sub(rb"(?m)^From ", b">From ", body)

a, b, fa, fb = sys.argv[1:5]
A, Abox = load(fa)
B, Bbox = load(fb)
bad = []
if len(A) != len(B):
    sys.exit("%s -> %s: %d messages became %d" % (a, b, len(A), len(B)))
for i, (x, y) in enumerate(zip(A, B), 1):
    want = norm(x["text"])
    if b == "unix":
        want = quote(want)
    if norm(y["text"]) != want:
        bad.append("message %d: text differs" % i)
    if x["idate"] != y["idate"]:
        bad.append("message %d: date %d became %d" % (i, x["idate"], y["idate"]))
    if b in ZONE_KEPT and a in ZONE_KEPT and x["tz"] != y["tz"]:
        bad.append("message %d: zone %d became %d" % (i, x["tz"], y["tz"]))
    wf = x["flags"] & FLAG_MASK if b in FLAGS_KEPT else 0
    if y["flags"] & FLAG_MASK != wf:
        bad.append("message %d: flags %#x became %#x" % (i, wf, y["flags"]))
    wk = sorted(x["keywords"]) if b in KW_NAMES else []
    if sorted(y["keywords"]) != wk:
        bad.append("message %d: keywords %s became %s" % (i, wk, y["keywords"]))
    if a in UIDS and b in UIDS and x["uid"] != y["uid"]:
        bad.append("message %d: UID %d became %d" % (i, x["uid"], y["uid"]))
if a in UIDS and b in UIDS and Abox["uidvalidity"] != Bbox["uidvalidity"]:
    bad.append("UIDVALIDITY %d became %d" % (Abox["uidvalidity"], Bbox["uidvalidity"]))
if bad:
    sys.exit("%s -> %s: %s" % (a, b, "; ".join(bad)))
EOF

test_expect_success 'the source itself: what every first copy holds' '
	for a in $FORMATS; do
		python3 check.py unix $a src.json a.$a.json || return 1
	done
'

for a in $FORMATS; do
	test_expect_success "from $a to every format" '
		for b in $FORMATS; do
			rm -rf "b.$a.$b" &&
			mailbag convert --to=$b "a.$a" "b.$a.$b" 2>err &&
			mailbag check "b.$a.$b" >/dev/null &&
			"$MBTOOL" jdump "b.$a.$b" >"b.$a.$b.json" &&
			python3 check.py $a $b "a.$a.json" "b.$a.$b.json" || return 1
		done
	'
done

test_expect_success 'keywords a format cannot name are reported when dropped' '
	for a in mtx tenex mh eml; do
		case " $FORMATS " in *" $a "*) ;; *) continue ;; esac
		test -s "a.$a.err" || { echo "no warning for $a"; return 1; }
	done
'

test_done

#!/bin/bash
test_description='byte-exact files written by the UW programs (tests/data/uw)'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"
uw_setup
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"

cat >"$TRASH/mbparse.py" <<'PARSER'
# mbparse.py FILE: what UW's unix/mmdf drivers see in FILE (spec 2.2-2.5).
# Line 1: "box VALIDITY NEXT" (NEXT: the UID the next message gets once UW
# has assigned UIDs; VALIDITY 0 when none).  Then one line per message,
# tab-separated: X-UID (- if none), the UID UW gives it, flags R D F A T,
# O or -, sorted keywords, subject, md5 of the body (CRs and one level of
# ">From " quoting removed, trailing newlines dropped).
import hashlib, re, sys

FROM = re.compile(rb'^From .*[ ][A-Za-z]{3} [A-Za-z]{3} [ 0-9][0-9] '
                  rb'[0-9]{2}:[0-9]{2}(:[0-9]{2})?'
                  rb'( [A-Z]{3}| [+-][0-9]{4})? [0-9]{4}'
                  rb'( [A-Z]{3}| [+-][0-9]{4})?( remote from \S+)?\r?$')
data = open(sys.argv[1], 'rb').read()
msgs = []
if data.startswith(b'\1\1\1\1\n'):
    for part in data.split(b'\1\1\1\1\n'):
        if part.strip(b'\n') == b'':
            continue
        lines = part.split(b'\n')
        if FROM.match(lines[0]):
            lines = lines[1:]
        msgs.append(lines)
else:
    cur = None
    for line in data.lstrip(b'\r\n \t').split(b'\n'):
        if FROM.match(line):
            cur = []
            msgs.append(cur)
        elif cur is not None:
            cur.append(line)
validity = last = 0
kwdefs = []
out = []
prev = 0
for i, lines in enumerate(msgs):
    hdr = {}
    j = 0
    while j < len(lines) and lines[j].rstrip(b'\r') != b'':
        m = re.match(rb'^(Status|X-Status|X-Keywords|X-UID|X-IMAP|X-IMAPbase|Subject):(.*)$',
                     lines[j].rstrip(b'\r'))
        if m:
            hdr.setdefault(m.group(1).decode(), m.group(2).decode('latin-1').strip())
        j += 1
    body = b'\n'.join(l.rstrip(b'\r') for l in lines[j + 1:])
    body = re.sub(rb'(?m)^>From ', b'From ', body).rstrip(b'\n')
    base = hdr.get('X-IMAP', hdr.get('X-IMAPbase'))
    if i == 0 and base:
        f = base.split()
        validity, last, kwdefs = int(f[0]), int(f[1]), f[2:]
        if 'X-IMAP' in hdr:
            continue              # the pseudo-message
    st = hdr.get('Status', '') + hdr.get('X-Status', '')
    flags = ''.join(c for c in 'RDFAT' if c in st) or '-'
    xuid = hdr.get('X-UID')
    if xuid is not None and int(xuid) <= prev:
        validity = -1             # UW renumbers everything
    if xuid is not None and int(xuid) > prev:
        uid = int(xuid)
        last = max(last, uid)
    else:
        last += 1
        uid = last
    prev = uid
    kws = ' '.join(sorted(k for k in hdr.get('X-Keywords', '').split()
                          if k.lower() in [d.lower() for d in kwdefs])) or '-'
    out.append('\t'.join([xuid or '-', str(uid), flags,
                          'O' if 'O' in st else '-', kws,
                          hdr.get('Subject', '-'),
                          hashlib.md5(body).hexdigest()]))
if validity <= 0:   # UW starts afresh: new validity, UIDs from 1
    out = ['\t'.join(l.split('\t')[:1] + [str(n + 1)] + l.split('\t')[2:])
           for n, l in enumerate(out)]
    last = len(out)
print('box %d %d' % (max(validity, 0), last + 1))
for l in out:
    print(l)
PARSER
parse() { python3 "$TRASH/mbparse.py" "$1"; }

# expected FILE: "COUNT VALIDITY UIDNEXT" from FILE's own headers: the
# messages are the valid From lines (unix) or delimiter pairs (mmdf), less the
# FOLDER INTERNAL DATA one; validity and last UID come from X-IMAP or
# X-IMAPbase; UW gives messages without X-UID the UIDs after the last.
expected() {
	local f=$1 n base validity last nouid
	case $f in
	*.mmdf) n=$(($(grep -c "^$(printf '\001\001\001\001')\$" "$f") / 2)) ;;
	*) n=$(grep -c -E "^From .* [A-Za-z]{3} [A-Za-z]{3} [ 0-9][0-9] [0-9]{2}:[0-9]{2}(:[0-9]{2})? " "$f") ;;
	esac
	n=$((n - $(grep -c "^X-IMAP: " "$f")))
	base=$(sed -n 's/^X-IMAP\(base\)\{0,1\}: \([0-9]*\) \([0-9]*\).*/\2 \3/p' "$f" | head -n 1)
	validity=$(echo "$base" | sed 's/ .*//; s/^0*\([0-9]\)/\1/')
	last=$(echo "$base" | sed 's/.* //; s/^0*\([0-9]\)/\1/')
	nouid=$((n - $(grep -c "^X-UID: " "$f")))
	echo "$n $validity $((last + nouid + 1))"
}

samples="unix-new-empty.mbox unix-after-append-before-rewrite.mbox
	unix-after-rewrite-pseudo-xIMAP.mbox unix-rewritten-xIMAPbase.mbox
	unix-bogus-headers-after-rewrite.mbox unix-uid-backwards-after-rewrite.mbox
	mmdf-after-append.mmdf tmail-spool-delivery.mbox tmail-spool-xoriginal.mbox"

test_expect_success 'the samples are there' '
	for f in $samples; do test -s "$DATA/uw/$f" || return 1; done &&
	for f in $samples; do cp "$DATA/uw/$f" . || return 1; done
'

for f in $samples; do
	case $f in *.mmdf) fmt=mmdf other=unix ;; *) fmt=unix other=mmdf ;; esac

	test_expect_success "$f: count, uidvalidity and uidnext" '
		expected $f >exp &&
		cat exp &&
		test "$(cut -d" " -f2 exp)" -gt 0 &&
		mb_json $f format messages uidvalidity uidnext | tr "\n" " " >got &&
		echo "$fmt $(cat exp) " >exp2 &&
		echo >>got &&
		test_cmp exp2 got
	'

	test_expect_success "$f: flags, keywords, UIDs as UW reads them" '
		parse $f >$f.uw &&
		sed -n "1s/^box //p" $f.uw >a &&
		cut -d" " -f2,3 exp >b &&
		test_cmp b a
	'

	# the expectation itself, checked against UW: after a read/write
	# open, UW keeps the validity and its last UID is UIDNEXT - 1
	test_expect_success "$f: UW agrees with the expected values" '
		uw_put $f raw &&
		uw_run mailutil -verbose prune raw "subject nosuchsubjectxyz" >uw.out 2>&1;
		cat uw.out &&
		test_grep ! "Assigning new" uw.out &&
		uw_get raw raw.after &&
		sed -n "s/^X-IMAP\(base\)\{0,1\}: \([0-9]*\) \([0-9]*\).*/\2 \3/p" raw.after |
			head -n 1 >vl &&
		test "$(sed "s/ .*//" vl)" = "$(cut -d" " -f2 exp)" &&
		test "$(($(sed "s/.* //; s/^0*\([0-9]\)/\1/" vl) + 1))" = "$(cut -d" " -f3 exp)"
	'

	for to in $fmt $other; do
		test_expect_success "$f: converted to $to keeps count, flags, keywords, UIDs" '
			rm -f $f.$to &&
			mailbag convert --to=$to $f $f.$to &&
			mailbag check $f.$to &&
			mb_json $f.$to format messages uidvalidity uidnext | tr "\n" " " >got &&
			echo "$to $(cat exp) " >exp2 &&
			echo >>got &&
			test_cmp exp2 got &&
			parse $f.$to >$f.$to.p &&
			cut -f2- $f.uw >a &&
			cut -f2- $f.$to.p >b &&
			test_cmp a b &&
			sed 1d $f.$to.p | cut -f1 >xuid &&
			sed 1d $f.$to.p | cut -f2 >uid &&
			test_cmp uid xuid
		'

		test_expect_success "$f: mailutil check agrees on the conversion to $to" '
			uw_put $f.$to conv.$to &&
			uw_run mailutil check conv.$to >uw.out 2>&1 &&
			cat uw.out &&
			total=$(sed -n "s/.*[ ,] \([0-9]*\) total in .*/\1/p" uw.out) &&
			test "$total" = "$(cut -d" " -f1 exp)"
		'
	done
done

test_done

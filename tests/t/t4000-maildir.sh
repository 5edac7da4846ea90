#!/bin/bash
test_description='maildir: Dovecot, mblaze and mailbag share folders, UIDs and flags'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"

command -v doveadm >/dev/null 2>&1 || skip_all "doveadm (dovecot-core) missing"
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
# Dovecot refuses mail access as root: everything runs as uw.sh's
# throwaway user, in its home.
uw_setup
H=$UW_HOME
cat >"$H/dc.conf" <<EOF
mail_location = maildir:~/Maildir
log_path = /dev/stderr
EOF
[ -n "$UW_SELF" ] || chown "$UW_USER:$UW_GROUP" "$H/dc.conf"
dv() { uw_run doveadm -c "$H/dc.conf" "$@"; }
mb() { uw_run "$MAILBAG" "$@"; }
as_user() { uw_run "$@"; }

# A unix mailbox with UW's metadata: UIDs 3, 7, 9 under 1600000000,
# flags and keywords, one message containing a CRLF line.
cat >src.mbox <<'EOF'
From alice@example.org Mon Nov 13 09:15:02 2023
X-IMAPbase: 1600000000 0000000012 Todo Work
Status: RO
X-Status: A
X-Keywords: Todo
X-UID: 3
Subject: one

first body
From bob@example.org Tue Nov 14 10:00:00 2023
Status: O
X-Status: FT
X-Keywords: Todo Work
X-UID: 7
Subject: two

second body
From carol@example.org Wed Nov 15 11:30:00 2023
X-UID: 9
Subject: three

third body
EOF
printf 'From x Thu Nov 16 12:00:00 2023\nSubject: a\n\nb\n' >one.mbox
printf 'From dave@example.org Thu Nov 16 12:00:00 2023\nX-UID: 10\nSubject: crlf\n\nline\r\n' >crlf.mbox

# summary BOX: "uid flags keywords subject md5(text)" per message of a
# unix mailbox written by mailbag, after "box VALIDITY NEXT".
cat >"$TRASH/summary.py" <<'PY'
import hashlib, re, sys
data = open(sys.argv[1], 'rb').read()
FROM = re.compile(rb'^From \S+ [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] ')
msgs, cur = [], None
for line in data.split(b'\n'):
    if FROM.match(line):
        cur = [line]
        msgs.append(cur)
    elif cur is not None:
        cur.append(line)
out, box = [], 'box - -'
for lines in msgs:
    hdr, j = {}, 1
    while j < len(lines) and lines[j] != b'':
        m = re.match(rb'^(Status|X-Status|X-Keywords|X-UID|X-IMAP|X-IMAPbase|Subject):(.*)$', lines[j])
        if m:
            hdr.setdefault(m.group(1).decode(), m.group(2).decode().strip())
        j += 1
    base = hdr.get('X-IMAP', hdr.get('X-IMAPbase'))
    if base:
        v = base.split()
        box = 'box %d %d' % (int(v[0]), int(v[1]) + 1 if len(v) > 1 else 0)
        if 'X-IMAP' in hdr:
            continue
    st = hdr.get('Status', '') + hdr.get('X-Status', '')
    date = b' '.join(lines[0].split()[2:7]).decode()
    text = b'\n'.join(l for l in lines[1:] if not re.match(rb'^(Status|X-Status|X-Keywords|X-UID|X-IMAP|X-IMAPbase):', l))
    out.append('\t'.join([hdr.get('X-UID', '-'), ''.join(c for c in 'RDFAT' if c in st) or '-',
                          'O' if 'O' in st else '-',
                          ' '.join(sorted(hdr.get('X-Keywords', '').split())) or '-',
                          hdr.get('Subject', '-'), date, hashlib.md5(text.rstrip(b'\n')).hexdigest()]))
print(box)
print('\n'.join(out))
PY
summary() { python3 "$TRASH/summary.py" "$1"; }

# fetch: doveadm's view of a folder, one "uid flags" line per message.
dvo() {
	local loc=$1
	shift
	uw_run doveadm -c "$H/dc.conf" -o "mail_location=maildir:~/$loc" "$@"
}
fetch() {
	dvo "$1" fetch 'uid flags' mailbox "${2:-INBOX}" all |
		awk '/^uid:/ {u=$2} /^flags:/ {$1=""; print u $0}' |
		sed 's/ \\Recent//'
}
status() {
	dvo "$1" mailbox status 'uidvalidity uidnext messages' "${2:-INBOX}"
}

test_expect_success 'convert unix -> maildir: layout, names, uidlist, keywords' '
	uw_put src.mbox src.mbox &&
	mb convert --to maildir src.mbox Maildir &&
	test -d "$H/Maildir/tmp" && test -d "$H/Maildir/new" &&
	test -d "$H/Maildir/cur" &&
	head -1 "$H/Maildir/dovecot-uidlist" >hdr &&
	test_grep "^3 V1600000000 N13 G[0-9a-f]\{32\}\$" hdr &&
	sed 1d "$H/Maildir/dovecot-uidlist" | cut -d" " -f1 >uids &&
	printf "3\n7\n9\n" >exp && test_cmp exp uids &&
	printf "0 Todo\n1 Work\n" >exp && test_cmp exp "$H/Maildir/dovecot-keywords" &&
	(cd "$H/Maildir" && ls cur new) | grep "^[0-9]" | sed "s/^[0-9]*\.M[0-9]*P[0-9]*Q[0-9]*\.[^,]*//" >names &&
	printf ",S=25,W=28:2,RSa\n,S=26,W=29:2,DFab\n,S=27,W=30\n" >exp &&
	test_cmp exp names &&
	ls "$H/Maildir/new" | grep -q "S=27" &&
	f=$(ls "$H"/Maildir/cur/*RSa) &&
	test "$(stat -c %Y "$f")" = "$(date -u -d "2023-11-13 09:15:02" +%s)" &&
	printf "Subject: one\n\nfirst body\n" >exp && test_cmp exp "$f"
'

test_expect_success 'unix -> maildir -> unix keeps UIDs, validity, flags, keywords, dates, text' '
	mb convert --to unix Maildir back.mbox &&
	uw_get back.mbox back.mbox &&
	summary src.mbox >exp && summary back.mbox >got && test_cmp exp got
'

test_expect_success 'maildir messages are stored with LF (CRLF text converted)' '
	uw_put crlf.mbox crlf.mbox &&
	mb convert --to maildir crlf.mbox CrLf &&
	f=$(ls "$H"/CrLf/new/*) && ! grep -q "$(printf "\r")" "$f" &&
	case $f in *,S=20,W=23) ;; *) false ;; esac
'

test_expect_success 'Dovecot reads what mailbag wrote: UIDs, validity, flags, keywords' '
	fetch Maildir >got &&
	cat >exp <<-\EOF &&
	3 \Answered \Seen Todo
	7 \Flagged \Draft Todo Work
	9
	EOF
	test_cmp exp got &&
	status Maildir >got &&
	echo "INBOX messages=3 uidnext=13 uidvalidity=1600000000" >exp &&
	test_cmp exp got
'

test_expect_success 'mailbag reads what Dovecot wrote (save, flags, keywords)' '
	for i in 1 2 3; do
		printf "Subject: dv%s\n\nbody %s\n" $i $i |
			dvo Dv save || return 1
	done &&
	dvo Dv flags add "\\Seen \\Flagged \$Forwarded" mailbox INBOX uid 2 &&
	dvo Dv expunge mailbox INBOX uid 1 &&
	status Dv | sed "s/uidvalidity=//" >st && read -r _ _ _ dvv <st &&
	mb check --json Dv >json &&
	test_grep "\"uidvalidity\":$dvv" json && test_grep "\"uidnext\":4" json &&
	test_grep "\"messages\":2" json &&
	mb convert --to unix Dv dv.mbox && uw_get dv.mbox dv.mbox &&
	summary dv.mbox | cut -f1-5 >got &&
	printf "box %s 4\n2\tRF\t-\t\$Forwarded\tdv2\n3\t-\t-\t-\tdv3\n" "$dvv" >exp &&
	test_cmp exp got
'

test_expect_success 'Dovecot -> mailbag convert -> Dovecot keeps UIDs and validity' '
	fetch Dv >before && status Dv >st1 &&
	mb convert --to mbx Dv dv.mbx &&
	mb convert --to maildir dv.mbx Dv2 &&
	fetch Dv2 >after && status Dv2 >st2 &&
	test_cmp before after && test_cmp st1 st2
'

test_expect_success 'flag changes are renames in cur/; Dovecot sees them, UIDs stay' '
	"$HELPER/mbtool" flags "$H/Maildir" 3 +seen +answered +Later &&
	ls "$H/Maildir/new" | grep -q ",S=27,W=30:2,RSc\$" &&
	test_grep "^2 Later\$" "$H/Maildir/dovecot-keywords" &&
	# written as root into a user folder: owned by that user
	test "$(stat -c %U "$H/Maildir/dovecot-keywords")" = "$UW_USER" &&
	fetch Maildir >got &&
	cat >exp <<-\EOF &&
	3 \Answered \Seen Todo
	7 \Flagged \Draft Todo Work
	9 \Answered \Seen Later
	EOF
	test_cmp exp got
'

test_expect_success 'Dovecot flag changes are seen by mailbag' '
	dv flags add "\\Draft Work" mailbox INBOX uid 3 &&
	mb convert --to unix Maildir fl.mbox && uw_get fl.mbox fl.mbox &&
	summary fl.mbox | sed -n 2p | cut -f1-4 >got &&
	printf "3\tRAT\tO\tTodo Work\n" >exp && test_cmp exp got
'

test_expect_success 'mblaze: mlist lists our messages, mflag renames keep UIDs' '
	command -v mflag >/dev/null || { echo "no mblaze"; return 0; } &&
	as_user mlist Maildir | wc -l >n && echo 3 >exp && test_cmp exp n &&
	as_user mlist -S Maildir | wc -l >n && echo 2 >exp && test_cmp exp n &&
	f=$(cd "$H" && ls Maildir/cur/*,S=26,*) &&
	as_user mflag -S "$f" >/dev/null &&
	ls "$H/Maildir/cur" | grep -q ",S=26,W=29:2,DFSab\$" &&
	fetch Maildir | sed -n 2p >got &&
	echo "7 \\Flagged \\Seen \\Draft Todo Work" >exp && test_cmp exp got &&
	mb check --json Maildir >json && test_grep "\"uidnext\":13" json
'

test_expect_success 'files dropped in by mblaze and procmail get the next UIDs in order' '
	printf "Subject: md1\n\nx\n" | as_user mdeliver Maildir &&
	sleep 1 &&
	printf "Subject: md2\n\ny\n" | as_user mdeliver Maildir &&
	sleep 1 &&
	printf "DEFAULT=%s/Maildir/\n" "$H" >"$H/rc" &&
	printf "From x@y Thu Nov 16 12:00:00 2023\nSubject: pm\n\nz\n" |
		as_user procmail -m "$H/rc" &&
	mb check Maildir >out &&
	test_grep "uidnext 16" out &&
	"$HELPER/mbtool" flags "$H/Maildir" 1 +seen &&
	tail -3 "$H/Maildir/dovecot-uidlist" | cut -d" " -f1 >got &&
	printf "13\n14\n15\n" >exp && test_cmp exp got &&
	# in delivery order: md1, md2 (mblaze), then procmail
	for u in 13 14 15; do
		n=$(sed -n "s/^$u :\(.*\)/\1/p" "$H/Maildir/dovecot-uidlist") &&
		grep -l "^Subject: " "$H"/Maildir/*/"$n"* | xargs sed -n "s/^Subject: //p" || return 1
	done >subjects &&
	printf "md1\nmd2\npm\n" >exp && test_cmp exp subjects &&
	fetch Maildir | cut -d" " -f1 >got &&
	printf "3\n7\n9\n13\n14\n15\n" >exp && test_cmp exp got
'

test_expect_success 'poll while open: a delivery by another program gets the next UID' '
	"$HELPER/mdwatch" "$H/Maildir" sh -c "printf \"Subject: live\n\nlive\n\" | mdeliver \"$H/Maildir\"" >out &&
	test_grep "^changed 1\$" out &&
	sed -n "/^changed/,\$p" out | tail -1 | cut -d" " -f1,2 >got &&
	echo "16 N" >exp && test_cmp exp got &&
	tail -1 "$H/Maildir/dovecot-uidlist" | cut -d" " -f1 >got &&
	echo 16 >exp && test_cmp exp got
'

test_expect_success 'poll while open: Dovecot delivers, mflag renames, a file vanishes' '
	f=$(cd "$H" && ls Maildir/*/*,S=27,*) &&
	b14=$(sed -n "s/^14 .*:\(.*\)/\1/p" "$H/Maildir/dovecot-uidlist") &&
	test -n "$b14" &&
	cat >"$H/act" <<-EOF &&
	printf "Subject: dvlive\n\nq\n" | doveadm -c "$H/dc.conf" save &&
	mflag -F "$f" >/dev/null &&
	rm "$H"/Maildir/*/"$b14"*
	EOF
	chmod 755 "$H/act" &&
	uw_run "$HELPER/mdwatch" "$H/Maildir" "$H/act" >out &&
	sed -n "/^changed/,\$p" out >after &&
	test_grep "^changed 1\$" after &&
	test_grep "^9 SRFN new/.*:2,FRSc\$" after &&
	test_grep "^17 N new/" after &&
	! test_grep "^14 " after &&
	fetch Maildir | cut -d" " -f1 | tr "\n" " " >got &&
	printf "3 7 9 13 15 16 17 " >exp && test_cmp exp got
'

test_expect_success 'expunge unlinks \Deleted messages and drops their uidlist lines' '
	uw_run "$HELPER/mbtool" flags "$H/Maildir" 2 +deleted &&
	uw_run "$HELPER/mbtool" expunge "$H/Maildir" >out &&
	test_grep "1 expunged" out &&
	! grep -q "S=26" "$H/Maildir/dovecot-uidlist" &&
	! ls "$H/Maildir/cur" | grep -q "S=26" &&
	fetch Maildir | cut -d" " -f1 | tr "\n" " " >got &&
	printf "3 9 13 15 16 17 " >exp && test_cmp exp got &&
	status Maildir >got && test_grep "uidvalidity=1600000000" got
'

test_expect_success 'a held uidlist lock is honoured; a dead writer'"'"'s is broken' '
	printf "Subject: late\n\nl\n" | as_user mdeliver Maildir &&
	{ sleep 30 & } && spid=$! &&
	printf "%s:%s" $spid "$(hostname)" >"$H/Maildir/dovecot-uidlist.lock" &&
	uw_put one.mbox one.mbox &&
	test_expect_code 75 mb convert --lock-timeout=1 --append one.mbox Maildir 2>err
	rc=$?
	kill $spid
	test $rc = 0 && test_grep "locked" err &&
	{ sh -c "exit 0" & } && dead=$! && wait $dead &&
	printf "%s:%s" $dead "$(hostname)" >"$H/Maildir/dovecot-uidlist.lock" &&
	mb convert --lock-timeout=1 --append one.mbox Maildir &&
	! test -e "$H/Maildir/dovecot-uidlist.lock" &&
	tail -2 "$H/Maildir/dovecot-uidlist" | cut -d" " -f1 | tr "\n" " " >got &&
	printf "18 19 " >exp && test_cmp exp got
'

test_expect_success 'Maildir++ subfolder: created with maildirfolder, Dovecot lists it' '
	mb convert --to maildir src.mbox Maildir/.Sub.Folder &&
	test -f "$H/Maildir/.Sub.Folder/maildirfolder" &&
	dv mailbox list >got && test_grep "^Sub.Folder\$" got &&
	fetch Maildir Sub.Folder | cut -d" " -f1 | tr "\n" " " >got &&
	printf "3 7 9 " >exp && test_cmp exp got
'

test_expect_success 'check: bad names, S= mismatch, corrupt and duplicate uidlist lines' '
	cp -R "$H/Dv2" bad && chmod -R u+w bad &&
	f=$(ls bad/new bad/cur | grep "^[0-9]" | head -1) &&
	touch bad/cur/junk "bad/cur/1700000000.x.host:2,SR" &&
	g=$(ls bad/*/*,S=* | head -1) && echo extra >>"$g" &&
	printf "2 :dup\n2 :dup2\nbogus line\n" >>bad/dovecot-uidlist &&
	test_expect_code 65 mailbag check bad >out &&
	test_grep "bad/cur/junk: not a maildir message name" out &&
	test_grep "1700000000.x.host:2,SR: flag letters .* not in ASCII order" out &&
	test_grep "size-mismatch\|S=.* in the name, but the file has" out &&
	test_grep "dovecot-uidlist: at byte [0-9]*: line 4: UID lower than the one before" out &&
	test_grep "dovecot-uidlist: at byte [0-9]*: line 6: not .<uid> \[fields\] :<name>." out &&
	off=$(sed -n "s/.*dovecot-uidlist: at byte \([0-9]*\): line 6.*/\1/p" out) &&
	test "$off" = "$(head -5 bad/dovecot-uidlist | wc -c)"
'

test_expect_success 'a damaged uidlist is never rewritten by an append' '
	cp bad/dovecot-uidlist ul.before &&
	test_must_fail mailbag convert --append one.mbox bad 2>err &&
	test_grep "uid-rebuild" err && test_cmp ul.before bad/dovecot-uidlist
'

test_expect_success 'uid-rebuild renumbers a maildir whose uidlist has UIDs out of order' '
	cp -R "$H/Dv2" ren && chmod -R u+w ren &&
	printf "1 :gone\n" >>ren/dovecot-uidlist &&
	test_expect_code 65 mailbag check ren >out &&
	test_grep "line 4: UID lower than the one before" out &&
	mailbag uid-rebuild ren >out &&
	mailbag check ren >out &&
	test_grep "uidnext 3, 1 keywords: ok\$" out &&
	sed 1d ren/dovecot-uidlist | cut -d" " -f1 | tr "\n" " " >got &&
	printf "1 2 " >exp && test_cmp exp got
'

test_expect_success 'convert --append to a maildir: the next UID, tmp/ left empty' '
	mailbag convert --to maildir src.mbox App &&
	mailbag convert --append one.mbox App &&
	tail -1 App/dovecot-uidlist | cut -d" " -f1 >got && echo 13 >exp &&
	test_cmp exp got &&
	ls App/tmp >tmpfiles && test_must_be_empty tmpfiles
'

test_done

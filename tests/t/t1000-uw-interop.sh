#!/bin/bash
test_description='UW interop: UW reads what mailbag writes, mailbag reads what UW writes'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/uw.sh"
uw_setup
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
if [ "$(id -u)" = 0 ] && command -v tmail >/dev/null 2>&1; then
	test_set_prereq TMAIL
fi
command -v dmail >/dev/null 2>&1 && test_set_prereq DMAIL

# parse FILE: UW's view of a unix/mmdf file, computed independently of
# mailbag (see the comment at the top of mbparse.py).
parse() { python3 "$TESTS_DIR/t/mbparse.py" "$1"; }

# uw_counts OUT: "NEW UNSEEN TOTAL" from the output of `mailutil check`.
uw_counts() {
	sed -n -e 's/^No new messages, \([0-9]*\) total in .*/0 0 \1/p' \
	    -e 's/^\([0-9]*\) new message(s) (\([0-9]*\) unseen), \([0-9]*\) total in .*/\1 \2 \3/p' "$1"
}

# counts_of PARSED: "NEW UNSEEN TOTAL" computed from parse output.
counts_of() {
	awk -F'\t' 'NR > 1 { t++; if ($4 != "O") n++; if ($3 !~ /R/) u++ }
		END { printf "%d %d %d\n", n, u, t }' "$1"
}

# uw_agrees NAME FILE: `mailutil check NAME` (as the UW user) agrees with
# mailbag on the message count, and on new/unseen with the flags in FILE.
uw_agrees() {
	uw_run mailutil check "$1" >"$TRASH/uwcheck.out" 2>&1 || {
		cat "$TRASH/uwcheck.out"; return 1; }
	uw_counts "$TRASH/uwcheck.out" >"$TRASH/uw.counts" &&
	parse "$2" >"$TRASH/agree.parsed" &&
	counts_of "$TRASH/agree.parsed" >"$TRASH/mb.counts" &&
	test "$(mb_json "$2" messages)" = "$(cut -d" " -f3 "$TRASH/uw.counts")" &&
	test_cmp "$TRASH/mb.counts" "$TRASH/uw.counts"
}

# same_view UWFILE: mailbag reads UWFILE (written by UW) as UW does: the
# count, UIDVALIDITY and UIDNEXT of `mailbag check --json`, and per message
# UID, flags (also recent), keywords, subject and body in a new mailbox
# written by `mailbag convert`, all equal what UW's rules give for the file.
same_view() {
	local f=$1 conv=$1.conv
	rm -f "$conv" &&
	parse "$f" >"$f.uw" &&
	mailbag check "$f" &&
	mb_json "$f" messages uidvalidity uidnext >"$f.mb" &&
	{ echo $(($(wc -l <"$f.uw") - 1)); sed -n '1s/^box //p' "$f.uw" | tr ' ' '\n'; } >"$f.exp" &&
	test_cmp "$f.exp" "$f.mb" &&
	mailbag convert "$f" "$conv" &&
	parse "$conv" >"$conv.parsed" &&
	cut -f2- "$f.uw" >"$f.uw2" &&
	cut -f2- "$conv.parsed" >"$conv.parsed2" &&
	test_cmp "$f.uw2" "$conv.parsed2" &&
	# the conversion carries real X-UID headers (not just UW's rules)
	cut -f1 "$conv.parsed" | sed 1d >"$conv.xuid" &&
	cut -f2 "$conv.parsed" | sed 1d >"$conv.uid" &&
	test_cmp "$conv.uid" "$conv.xuid"
}

# uw_rw_open NAME: a read/write open by UW that changes nothing but UW's
# own bookkeeping: prune with criteria matching no message.
uw_rw_open() {
	uw_run mailutil -verbose prune "$1" 'subject nosuchsubjectxyz' \
		>"$TRASH/prune.out" 2>&1
	cat "$TRASH/prune.out"
	test_grep "No matching messages, so nothing purged" "$TRASH/prune.out" &&
	test_grep ! -i "Assigning new unique identifiers" "$TRASH/prune.out" &&
	test_grep ! -i "UID .* less than" "$TRASH/prune.out" &&
	test_grep ! -i "already has UID" "$TRASH/prune.out" &&
	test_grep ! -i "bogus" "$TRASH/prune.out"
}

# uw_state FILE: the UID bookkeeping in FILE, numbers without padding.
uw_state() {
	grep -a -E '^(X-IMAP|X-IMAPbase|X-UID):' "$1" |
		sed -e 's/ *$//' -e 's/: 0*\([0-9]\)/: \1/' -e 's/ 0*\([0-9][0-9]*\)\( \|$\)/ \1\2/'
}

# A varied source: flags in Status and X-Status, keywords declared in
# X-IMAPbase and set in X-Keywords, X-UIDs with gaps, recent messages,
# unquoted and quoted "From " lines in bodies, 8-bit text (UTF-8 and
# Latin-1), a From line with a zone.
test_expect_success 'setup: a varied source, converted by mailbag to unix and mmdf' '
	{
	printf "From alice@example.com Wed Dec  2 05:53:22 1992\n"
	printf "Date: Wed, 2 Dec 1992 05:53:22 -0800\n"
	printf "From: alice@example.com\nTo: bob@example.com\nSubject: one\n"
	printf "X-IMAPbase: 1234567890 0000000012 Junk NonJunk \$Label1 Work\n"
	printf "Status: RO\nX-Status: FA\nX-Keywords: NonJunk \$Label1\nX-UID: 3\n\n"
	printf "Hello Bob.\nFrom the start this line begins with From.\n"
	printf ">From already quoted line.\nCaf\303\251 na\303\257ve \351t\351 \377\n\n"
	printf "From bob@example.com Thu Dec 10 11:00:07 1992\n"
	printf "Subject: two\nStatus: O\nX-Status: DT\nX-Keywords: Junk\nX-UID: 5\n\n"
	printf "Body two\n\n"
	printf "From carol@example.com Fri Dec 11 12:00:00 PST 1992\n"
	printf "Subject: three\nStatus: R\nX-Keywords:\nX-UID: 8\n\n"
	printf "body three\nFrom here on, a body line\n\n"
	printf "From dave@example.com Sat Dec 12 13:14:15 1992 -0700\n"
	printf "Subject: four\nX-Keywords: Work Junk\nX-UID: 9\n\n"
	printf "four \344\366\374\n\n"
	printf "From erin@example.com Sun Dec 13 01:02:03 1992\n"
	printf "Subject: five\nStatus: RO\nX-Status: DFAT\n"
	printf "X-Keywords: \$Label1 NonJunk Work Junk\nX-UID: 12\n\n"
	printf "From erin, twice:\nFrom erin Sun Dec 13 01:02:03 1992 not a From line\nend\n"
	} >src.mbox &&
	parse src.mbox >src.parsed &&
	test $(wc -l <src.parsed) = 6 &&
	mailbag convert --to=unix src.mbox ours.mbox &&
	mailbag convert --to=mmdf src.mbox ours.mmdf &&
	uw_put ours.mbox ours &&
	uw_put ours.mmdf oursm &&
	uw_put src.mbox src
'

test_expect_success 'mailbag conversions keep UIDs, flags, keywords and text' '
	parse ours.mbox >ours.parsed &&
	test_cmp src.parsed ours.parsed &&
	parse ours.mmdf >oursm.parsed &&
	test_cmp src.parsed oursm.parsed &&
	mailbag check ours.mbox ours.mmdf &&
	test "$(mb_json ours.mbox messages uidvalidity uidnext | tr "\n" " ")" = "5 1234567890 13 " &&
	test "$(mb_json ours.mmdf messages uidvalidity uidnext | tr "\n" " ")" = "5 1234567890 13 "
'

test_expect_success 'mailutil check agrees with mailbag on the unix mailbox' '
	uw_agrees ours ours.mbox &&
	echo "2 2 5" >exp && test_cmp exp uw.counts
'

test_expect_success 'mailutil check agrees with mailbag on the mmdf mailbox' '
	uw_agrees oursm ours.mmdf &&
	echo "2 2 5" >exp && test_cmp exp uw.counts
'

# copy_same SRCNAME SRCFILE DRIVER DST: UW copies SRCNAME (mailbag wrote
# it) with -kw into a fresh DRIVER mailbox; read by mailbag, the copy has
# the flags and keywords (not recent-ness: UW's append makes every message
# recent) and the text of the source.
copy_same() {
	uw_run mailutil -verbose -kw copy "$1" "#driver.$3/$4" >copy.out 2>&1
	rc=$?
	cat copy.out
	test $rc = 0 &&
	test_grep "\[Ok 5 messages(s)\]" copy.out &&
	uw_get "$4" "$4" &&
	test "$(mb_json "$4" format messages | tr "\n" " ")" = "$3 5 " &&
	rm -f "$4.back" &&
	mailbag convert --to=unix "$4" "$4.back" &&
	parse "$4.back" | sed 1d | cut -f3,5- >"$4.got" &&
	parse "$2" | sed 1d | cut -f3,5- >"$4.exp" &&
	test_cmp "$4.exp" "$4.got"
}

test_expect_success 'UW -kw copy of the unix mailbox to unix keeps flags and keywords' '
	copy_same ours ours.mbox unix copy1
'
test_expect_success 'UW -kw copy of the unix mailbox to mmdf keeps flags and keywords' '
	copy_same ours ours.mbox mmdf copy1m
'
test_expect_success 'UW -kw copy of the mmdf mailbox to unix keeps flags and keywords' '
	copy_same oursm ours.mmdf unix copy2
'
test_expect_success 'UW -kw copy of the mmdf mailbox to mmdf keeps flags and keywords' '
	copy_same oursm ours.mmdf mmdf copy2m
'

# rw_keeps NAME FILE: a read/write open by UW of what mailbag wrote finds
# valid UIDs and keeps mailbag's UIDVALIDITY, last UID and X-UIDs; only
# recent-ness changes, and mailbag reads the result the same.
rw_keeps() {
	uw_state "$2" >"$2.state.before" &&
	test -s "$2.state.before" &&
	uw_rw_open "$1" &&
	uw_get "$1" "$2.after" &&
	! cmp -s "$2" "$2.after" &&
	uw_state "$2.after" >"$2.state.after" &&
	test_cmp "$2.state.before" "$2.state.after" &&
	parse "$2" | cut -f1,2,3,5- >"$2.p.before" &&
	parse "$2.after" | cut -f1,2,3,5- >"$2.p.after" &&
	test_cmp "$2.p.before" "$2.p.after" &&
	same_view "$2.after"
}

test_expect_success 'a UW read/write open of the unix mailbox keeps its UIDs' '
	rw_keeps ours ours.mbox
'
test_expect_success 'a UW read/write open of the mmdf mailbox keeps its UIDs' '
	rw_keeps oursm ours.mmdf
'

# --- mailboxes written by UW

# uw_written NAME: mailbag reads NAME as UW does, then again after a UW
# read/write open assigned the UIDs (those must be what mailbag predicted).
uw_written() {
	uw_get "$1" "$1.1" &&
	uw_agrees "$1" "$1.1" &&
	same_view "$1.1" &&
	uw_rw_open "$1" &&
	uw_get "$1" "$1.2" &&
	uw_agrees "$1" "$1.2" &&
	same_view "$1.2" &&
	# UW gave the UIDs that mailbag read before the open
	cut -f2,3,5- "$1.1.conv.parsed" >pred &&
	cut -f2,3,5- "$1.2.uw" >real &&
	test_cmp pred real &&
	# and they are in the file as X-UID headers
	sed 1d "$1.2.uw" | cut -f1 >xuid &&
	sed 1d "$1.2.uw" | cut -f2 >uid &&
	test_cmp uid xuid
}

test_expect_success 'mailutil create + -kw append (unix) is read as UW reads it' '
	uw_run mailutil create "#driver.unix/uwu" &&
	uw_run mailutil -kw append src uwu &&
	uw_written uwu
'
test_expect_success 'mailutil create + -kw append (mmdf) is read as UW reads it' '
	uw_run mailutil create "#driver.mmdf/uwm" &&
	uw_run mailutil -kw append src uwm &&
	uw_written uwm
'
test_expect_success 'mailutil -kw copy (unix) is read as UW reads it' '
	uw_run mailutil -kw copy src "#driver.unix/uwku" &&
	uw_written uwku
'
test_expect_success 'mailutil -kw copy (mmdf) is read as UW reads it' '
	uw_run mailutil -kw copy src "#driver.mmdf/uwkm" &&
	uw_written uwkm
'
# UW's -kw copy leaves its messages without X-UID until the next r/w open
# (spec 2.8); the UIDs UW will give them are taken: a message that mailbag
# appends now must get a UID above them, or UW renumbers the mailbox.
append_keeps() {
	uw_run mailutil -kw copy src "#driver.$1/$2" &&
	uw_get "$2" "$2" &&
	parse "$2" | sed 1d | cut -f2 >uids.exp &&
	echo 7 >>uids.exp &&
	printf "From a@example.com Wed Dec  2 05:53:22 1992\nSubject: appended\n\nbody\n" >one.mbox &&
	mailbag convert --append one.mbox "$2" &&
	mb_json "$2" messages uidnext >next.got &&
	uw_put "$2" "$2" &&
	uw_rw_open "$2" &&
	uw_get "$2" "$2.after" &&
	parse "$2.after" | sed 1d | cut -f1 >uids.got &&
	test_cmp uids.exp uids.got &&
	printf "6\n8\n" >next.exp &&
	test_cmp next.exp next.got
}
test_expect_success 'mailbag appends to a UW unix mailbox not yet given UIDs' '
	append_keeps unix uwapp
'
test_expect_success 'mailbag appends to a UW mmdf mailbox not yet given UIDs' '
	append_keeps mmdf uwappm
'
test_expect_success 'mailutil append without -kw (unix, keywords dropped)' '
	uw_run mailutil create "#driver.unix/uwplain" &&
	uw_run mailutil append src uwplain &&
	uw_written uwplain
'

# The spool: tmail must run as root; it delivers to /var/mail/USER, which
# uw_cleanup removes at exit (also after a failure); removed here too.
spool=/var/mail/$UW_USER
if test_have_prereq TMAIL; then
	test_atexit "rm -f '$spool' '$spool.lock'"
fi
test_expect_success TMAIL 'tmail deliveries to the spool are read as UW reads them' '
	test ! -e "$spool" &&
	: >"$spool" && chown "$UW_USER" "$spool" && chmod 600 "$spool" &&
	printf "From sender@example.com Mon Jan  1 00:00:00 2024\r\nSubject: tmail one\r\nFrom: sender@example.com\r\n\r\nFrom here on\r\nbody line\r\n" >m1 &&
	printf "Subject: tmail two\nX-Foo: bar\nStatus: RO\nX-UID: 77\n\nStatus: body\n" >m2 &&
	printf "Subject: tmail three\nStatus: RO\nX-Status: F\nX-UID: 78\n\n8-bit \303\251\n" >m3 &&
	tmail -f sender@example.com "$UW_USER" <m1 &&
	tmail -f sender@example.com "$UW_USER" <m2 &&
	tmail "$UW_USER" <m3 &&
	cp "$spool" spool.1 &&
	uw_agrees INBOX spool.1 &&
	same_view spool.1 &&
	uw_rw_open INBOX &&
	cp "$spool" spool.2 &&
	uw_agrees INBOX spool.2 &&
	same_view spool.2 &&
	cut -f2,3,5- spool.1.conv.parsed >pred &&
	cut -f2,3,5- spool.2.uw >real &&
	test_cmp pred real
'
test_expect_success TMAIL 'the spool file is removed' '
	rm -f "$spool" "$spool.lock" && test ! -e "$spool"
'

test_expect_success DMAIL 'dmail deliveries to a unix folder are read as UW reads them' '
	uw_run mailutil create "#driver.unix/dfolder" &&
	printf "From sender@example.com Mon Jan  1 00:00:00 2024\nSubject: dmail one\n\nFrom here on\nbody\n" >d1 &&
	printf "Subject: dmail two\nStatus: RO\n\nseen body \303\251\n" >d2 &&
	uw_run dmail -f ret@example.com +dfolder <d1 &&
	uw_run dmail -s +dfolder <d2 &&
	uw_written dfolder
'
test_expect_success DMAIL 'dmail -s -k to an mmdf folder with keywords is read as UW reads it' '
	uw_run mailutil -kw copy src "#driver.mmdf/dmm" &&
	uw_run dmail -s -k "Junk Work Bogus" +dmm <d1 &&
	uw_run dmail -k "NonJunk" +dmm <d2 &&
	uw_get dmm dmm.0 &&
	parse dmm.0 | tail -n 2 | cut -f3,5,6 >got &&
	printf "R\tJunk Work\tdmail one\n-\tNonJunk\tdmail two\n" >exp &&
	test_cmp exp got &&
	uw_written dmm
'

test_done

#!/bin/bash
test_description='mutt and mailbag share maildirs (and unix and MMDF files)'
. "$(dirname "$0")/lib.sh"

command -v mutt >/dev/null 2>&1 || skip_all "mutt missing"
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"

# mutt is driven without a terminal of ours: it runs on a pty made by
# ptyrun.py and does what the keys pushed by -e 'push ...' say, ending
# with <quit>; ptyrun returns when mutt has exited.  A prompt that eats
# the keys leaves mutt waiting: ptyrun kills it after 120 seconds and the
# test fails, with the screen.  No system muttrc (-n), no header cache,
# no pauses.
cat >muttrc <<EOF2
set folder="$TRASH"
set spoolfile="$TRASH/Maildir"
set mbox="$TRASH/mutt-mbox"
set header_cache=""
set mbox_type=Maildir
set maildir_trash=yes
set confirmappend=no
set confirmcreate=no
set wait_key=no
set sleep_time=0
set quit=yes
set move=no
set delete=yes
set mark_old=no
set beep=no
set save_history=0
set sort=subject
EOF2

# mutt_run LOG BOX KEYS [MUTT-ARG...]: mutt -f BOX, KEYS pushed.
mutt_run() {
	local log=$1 box=$2 keys=$3 rc=0
	shift 3
	TERM=vt100 python3 "$TESTS_DIR/t/ptyrun.py" "$log" 120 \
		mutt -n -F "$TRASH/muttrc" "$@" -f "$box" \
		-e "push \"$keys\"" || rc=$?
	[ "$rc" = 0 ] && return 0
	echo "mutt exited $rc; its screen:" >&2
	tr -c '[:print:]\n' ' ' <"$log" | tail -c 3000 >&2
	return 1
}

# copy_all LOG BOX DST [MUTT-ARG...]: mutt copies every message of BOX
# to the mbox DST, in subject order; mutt's Status/X-Status lines there
# say which flags it saw.
copy_all() {
	local log=$1 box=$2 dst=$3
	shift 3
	mutt_run "$log" "$box" \
		"<tag-pattern>~A<enter><tag-prefix><copy-message>$dst<enter><quit>" \
		-e "set mbox_type=mbox" "$@"
}

# seen MBOX: "subject status x-status" per message of an mbox mutt wrote.
seen() {
	awk '/^From / { if (s != "") print s " [" st "] [" xs "]"; s = ""; st = ""; xs = ""; h = 1; next }
	     h && /^$/ { h = 0 }
	     h && /^Subject: / { s = substr($0, 10) }
	     h && /^Status: / { st = substr($0, 9) }
	     h && /^X-Status: / { xs = substr($0, 11) }
	     END { if (s != "") print s " [" st "] [" xs "]" }' "$1"
}

# dump BOX: "uid flags keywords" per message as mailbag reads BOX, then
# "uidvalidity=V uidnext=N messages=M".
dump() {
	"$HELPER/mbtool" dump "$1" >"$TRASH/dump.out" || return 1
	sed -n 's/^msg uid=\([0-9]*\) flags=\([0-9a-fx]*\) .* kw=\(.*\)/\1 \2 \3/p; /^uidvalidity/p' \
		"$TRASH/dump.out"
}

# names DIR: the flag part of every message file name, by subject.
names() {
	local f
	for f in "$1"/cur/* "$1"/new/*; do
		[ -f "$f" ] || continue
		printf '%s %s\n' "$(sed -n 's/^Subject: //p' "$f" | head -1)" \
			"${f#"$1"/}" | sed 's, \(cur\|new\)/[^:]*, \1,; s,:2\,, :2\,,'
	done | sort
}

# UW metadata: UIDs 3 7 9 10 under 1600000000, flags and keywords.
cat >src.mbox <<'EOF2'
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

From dan@example.org Thu Nov 16 08:00:00 2023
Status: RO
X-Status: D
X-UID: 10
Subject: four

fourth body

EOF2

test_expect_success 'mailbag writes the maildir' '
	mailbag convert --to maildir src.mbox Maildir &&
	names Maildir >got &&
	cat >exp <<-\EOF &&
	four cur :2,ST
	one cur :2,RSa
	three new
	two cur :2,DFab
	EOF
	test_cmp exp got &&
	cp Maildir/dovecot-uidlist uidlist.before &&
	cp Maildir/dovecot-keywords keywords.before &&
	dump Maildir >dump.before &&
	cat >exp <<-\EOF &&
	3 0x9 Todo,
	7 0x24 Todo,Work,
	9 0 
	10 0x3 
	uidvalidity=1600000000 uidnext=13 messages=4
	EOF
	test_cmp exp dump.before
'

test_expect_success 'mutt reads it: subjects, bodies, seen/replied/flagged/new/deleted' '
	copy_all log1 Maildir "$TRASH/all.mbox" &&
	seen all.mbox >got &&
	cat >exp <<-\EOF &&
	four [RO] []
	one [RO] [A]
	three [] []
	two [O] [F]
	EOF
	test_cmp exp got &&
	grep -c "^\(first\|second\|third\|fourth\) body\$" all.mbox >n &&
	echo 4 >exp && test_cmp exp n &&
	mutt_run log2 Maildir \
		"<tag-pattern>~D<enter><tag-prefix><copy-message>$TRASH/del.mbox<enter><untag-pattern>~A<enter><tag-pattern>~N<enter><tag-prefix><copy-message>$TRASH/new.mbox<enter><quit>" \
		-e "set mbox_type=mbox" &&
	seen del.mbox >got && echo "four [RO] []" >exp && test_cmp exp got &&
	seen new.mbox >got && echo "three [] []" >exp && test_cmp exp got &&
	test_cmp uidlist.before Maildir/dovecot-uidlist
'

test_expect_success 'mutt marks read, flags, unflags, deletes: renames keep UIDs and keywords' '
	mutt_run log3 Maildir "<limit>~s three<enter><clear-flag>N<set-flag>!<limit>~s two<enter><clear-flag>N<clear-flag>!<limit>~s one<enter><delete-message><limit>~A<enter><sync-mailbox><quit>" &&
	names Maildir >got &&
	cat >exp <<-\EOF &&
	four cur :2,ST
	one cur :2,RSTa
	three cur :2,FS
	two cur :2,DSab
	EOF
	test_cmp exp got &&
	test_cmp uidlist.before Maildir/dovecot-uidlist &&
	test_cmp keywords.before Maildir/dovecot-keywords &&
	dump Maildir >got &&
	cat >exp <<-\EOF &&
	3 0xb Todo,
	7 0x21 Todo,Work,
	9 0x5 
	10 0x3 
	uidvalidity=1600000000 uidnext=13 messages=4
	EOF
	test_cmp exp got &&
	mailbag check Maildir >out && test_grep ": ok\$" out
'

test_expect_success 'mutt expunges (maildir_trash off): mailbag drops those UIDs only' '
	mutt_run log4 Maildir "<sync-mailbox><quit>" -e "set maildir_trash=no" &&
	names Maildir >got &&
	cat >exp <<-\EOF &&
	three cur :2,FS
	two cur :2,DSab
	EOF
	test_cmp exp got &&
	dump Maildir >got &&
	cat >exp <<-\EOF &&
	7 0x21 Todo,Work,
	9 0x5 
	uidvalidity=1600000000 uidnext=13 messages=2
	EOF
	test_cmp exp got &&
	# mailbag changes a flag of what is left
	"$HELPER/mbtool" flags Maildir 1 +answered &&
	names Maildir | sed -n 2p >got && echo "two cur :2,DRSab" >exp &&
	test_cmp exp got &&
	dump Maildir | sed -n 1p >got && echo "7 0x29 Todo,Work," >exp &&
	test_cmp exp got
'

cat >in.mbox <<'EOF2'
From erin@example.org Fri Nov 17 07:00:00 2023
Subject: five
Status: RO
X-Status: F

fifth body

From frank@example.org Sat Nov 18 06:30:00 2023
Subject: six

sixth body

EOF2

test_expect_success 'mutt copies messages into the maildir: the next UIDs, flags, dates' '
	mutt_run log5 "$TRASH/in.mbox" \
		"<tag-pattern>~A<enter><tag-prefix><copy-message>$TRASH/Maildir<enter><quit>" &&
	names Maildir >got &&
	cat >exp <<-\EOF &&
	five cur :2,FS
	six new
	three cur :2,FS
	two cur :2,DRSab
	EOF
	test_cmp exp got &&
	"$HELPER/mbtool" dump Maildir >out &&
	sed -n "s/^msg uid=\([0-9]*\) flags=\([0-9a-fx]*\) date=\([0-9+-]*\) .*/\1 \2 \3/p" out >got &&
	cat >exp <<-EOF &&
	7 0x29 $(date -u -d "2023-11-14 10:00:00" +%s)+0
	9 0x5 $(date -u -d "2023-11-15 11:30:00" +%s)+0
	13 0x5 $(date -u -d "2023-11-17 07:00:00" +%s)+0
	14 0 $(date -u -d "2023-11-18 06:30:00" +%s)+0
	EOF
	test_cmp exp got &&
	# a write by mailbag records them in the uidlist, after the others
	"$HELPER/mbtool" flags Maildir 4 +seen &&
	sed 1d Maildir/dovecot-uidlist | cut -d" " -f1 | tr "\n" " " >got &&
	printf "7 9 13 14 " >exp && test_cmp exp got &&
	head -1 Maildir/dovecot-uidlist | cut -d" " -f1-3 >got &&
	echo "3 V1600000000 N15" >exp && test_cmp exp got &&
	f=$(grep -l "^Subject: six" Maildir/*/*) &&
	grep -qx "sixth body" "$f"
'

test_expect_success 'mutt creates a maildir; mailbag reads and converts it' '
	mutt_run log6 "$TRASH/in.mbox" \
		"<tag-pattern>~A<enter><tag-prefix><copy-message>$TRASH/New<enter><quit>" &&
	test -d New/tmp && test -d New/new && test -d New/cur &&
	mailbag check New >out && test_grep "2 messages" out &&
	mailbag convert --to unix New created.mbox &&
	grep "^\(Subject\|Status\|X-Status\|X-UID\):" created.mbox >got &&
	cat >exp <<-\EOF &&
	Subject: DON'"'"'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA
	Status: RO
	Subject: five
	Status: RO
	X-Status: F
	X-UID: 1
	Subject: six
	Status: 
	X-Status: 
	X-UID: 2
	EOF
	test_cmp exp got &&
	grep -qx "fifth body" created.mbox && grep -qx "sixth body" created.mbox
'

test_expect_success 'mutt reads a unix mailbox and an MMDF file that mailbag wrote' '
	mailbag convert --to unix src.mbox u.mbox &&
	mailbag convert --to mmdf src.mbox m.mmdf &&
	copy_all log7 "$TRASH/u.mbox" "$TRASH/u-seen.mbox" &&
	copy_all log8 "$TRASH/m.mmdf" "$TRASH/m-seen.mbox" &&
	# UW'"'"'s pseudo-message too, as mutt shows it for UW'"'"'s own files
	cat >exp <<-\EOF &&
	DON'"'"'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA [RO] []
	four [RO] []
	one [RO] [A]
	three [] []
	two [O] [F]
	EOF
	seen u-seen.mbox >got && test_cmp exp got &&
	seen m-seen.mbox >got && test_cmp exp got &&
	for f in u-seen.mbox m-seen.mbox; do
		grep -c "^\(first\|second\|third\|fourth\) body\$" $f >n &&
		echo 4 >exp && test_cmp exp n || return 1
	done
'

test_expect_success 'mutt changes flags in a unix mailbox: mailbag keeps UIDs and keywords' '
	mutt_run log9 "$TRASH/u.mbox" "<limit>~s three<enter><clear-flag>N<set-flag>!<limit>~A<enter><sync-mailbox><quit>" \
		-e "set mbox_type=mbox" &&
	# mutt purged "four" (\Deleted) when it rewrote the file
	dump u.mbox >got &&
	cat >exp <<-\EOF &&
	3 0x9 Todo,
	7 0x24 Todo,Work,
	9 0x5 
	uidvalidity=1600000000 uidnext=13 messages=3
	EOF
	test_cmp exp got &&
	mailbag check u.mbox >out && test_grep ": ok\$" out
'

# UW ends a text without a final newline with LF + the separator LF
# (mailutil copy); mailbag ends the file with the bare text, and mutt,
# which takes the last byte of a file for the separator, loses the
# text's last byte.  mailbag keeps the bare text on purpose: UW's way
# adds a LF to the message for every later reader, and mailbag promises
# that a last message without a final newline survives (t3000).
test_expect_failure 'mutt reads the last message intact when its text has no final newline' '
	mkdir -p Nl/cur Nl/new Nl/tmp &&
	printf "Subject: nl\n\nno final newline" >Nl/new/1700000000.M1P1.host &&
	mailbag convert --to unix Nl nl.mbox &&
	copy_all log10 "$TRASH/nl.mbox" "$TRASH/nl-seen.mbox" &&
	grep -qx "no final newline" nl-seen.mbox
'

test_done

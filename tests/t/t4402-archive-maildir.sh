#!/bin/bash
test_description='archives of maildirs: bsdtar-made tar/zip of a maildir to unix with flags, keywords and UIDs; unix to tar.gz/zip/tar.xz and back'
. "$(dirname "$0")/lib.sh"

command -v bsdtar >/dev/null || skip_all "bsdtar not installed"
MBTOOL=$HELPER/mbtool
export TMPDIR=$TRASH/tmp

# meta FILE: the lines of a unix mailbox that carry the metadata (the
# pseudo-message's own lines, which hold the time of the run, left out)
meta() {
	grep -a -E '^(From |Status:|X-Status:|X-Keywords:|X-UID:|X-IMAP)' "$1" |
		sed -e 's/\r$//' -e 's/ *$//' | awk '/^From / { n++ } n > 1 || /^X-IMAP/'
}

# A maildir laid out as Dovecot leaves it: a version 3 uidlist naming the
# files by their base (the part before ":2,"), a keywords file, flags in
# the names (S seen, R replied, F flagged, T trashed, D draft, letters a-z
# keywords), a new/ message without info, the internal date as mtime.
test_expect_success 'setup: a Dovecot-style maildir, packed by bsdtar as tar, tar.gz, tar.xz, zip' '
	mkdir "$TMPDIR" &&
	mkdir -p Maildir/cur Maildir/new Maildir/tmp &&
	printf "Subject: a\n\nbody a\n" >"Maildir/cur/1600000001.M1P1.host,S=19:2,FS" &&
	printf "Subject: b\r\n\r\nbody b\r\n" >"Maildir/cur/1600000002.M2P1.host,S=22:2,RSab" &&
	printf "Subject: c\n\nFrom here\nbody c\n" >"Maildir/cur/1600000003.M3P1.host:2,DTc" &&
	printf "Subject: d\n\nbody d\n" >"Maildir/new/1600000004.M4P1.host" &&
	printf "0 Junk\n1 \$Label1\n2 Work\n" >Maildir/dovecot-keywords &&
	printf "%s\n" "3 V1500000000 N20 Gf00dfeed" \
		"7 :1600000001.M1P1.host,S=19" "8 :1600000002.M2P1.host,S=22" \
		"11 :1600000003.M3P1.host" "12 :1600000004.M4P1.host" \
		>Maildir/dovecot-uidlist &&
	touch -d "2020-05-06 07:08:09 UTC" Maildir/cur/1600000001.*,FS &&
	touch -d "2021-01-14 23:59:59 UTC" Maildir/cur/1600000002.* &&
	touch -d "2022-02-02 02:02:02 UTC" Maildir/cur/1600000003.* &&
	touch -d "2023-03-03 03:03:03 UTC" Maildir/new/1600000004.* &&
	mailbag check Maildir >out &&
	grep "^Maildir: maildir, 4 messages, .*uidvalidity 1500000000, uidnext 20, 3 keywords: ok" out &&
	bsdtar -cf md.tar Maildir && bsdtar -czf md.tar.gz Maildir &&
	bsdtar -cJf md.tar.xz Maildir && bsdtar -cf md.zip --format zip Maildir &&
	bsdtar -tf md.tar.gz >list && grep "^Maildir/dovecot-uidlist\$" list
'

# What the flags in the names mean in UW's headers (X-Status: D deleted,
# F flagged, A answered, T draft): S -> Status R,
# not new -> Status O, R -> A(nswered), F -> F, T -> D(eleted), D ->
# T (draft); a-c -> the keywords of dovecot-keywords; UIDs and
# UIDVALIDITY from the uidlist; the mtime is the From line date.
cat >expect.meta <<'EOF'
X-IMAP: 1500000000 0000000019 Junk $Label1 Work
From MAILER-DAEMON Wed May  6 07:08:09 2020 +0000
Status: RO
X-Status: F
X-Keywords:
X-UID: 7
From MAILER-DAEMON Thu Jan 14 23:59:59 2021 +0000
Status: RO
X-Status: A
X-Keywords: Junk $Label1
X-UID: 8
From MAILER-DAEMON Wed Feb  2 02:02:02 2022 +0000
Status: O
X-Status: DT
X-Keywords: Work
X-UID: 11
From MAILER-DAEMON Fri Mar  3 03:03:03 2023 +0000
Status:
X-Status:
X-Keywords:
X-UID: 12
EOF

test_expect_success 'the plain maildir converts to unix with its flags, keywords and UIDs' '
	mailbag convert Maildir plain.mbox &&
	meta plain.mbox >got && test_cmp expect.meta got &&
	grep -a "^>From here\$" plain.mbox &&
	"$MBTOOL" jdump plain.mbox >plain.json
'

for kind in tar tar.gz tar.xz zip; do
test_expect_success "bsdtar $kind of the maildir: check, then convert to unix with flags" "
	mailbag check md.$kind >out &&
	grep '^md.$kind: maildir, 4 messages, .*uidvalidity 1500000000, uidnext 20, 3 keywords, from a .*archive: ok' out &&
	mailbag convert md.$kind a.$kind.mbox &&
	meta a.$kind.mbox >got && test_cmp expect.meta got &&
	\"\$MBTOOL\" jdump a.$kind.mbox >a.$kind.json &&
	test_cmp plain.json a.$kind.json
"
done

test_expect_success 'a problem inside the archive names ARCHIVE:MEMBER, not the temporary copy' '
	cp -r Maildir Bad &&
	mv "Bad/cur/1600000001.M1P1.host,S=19:2,FS" "Bad/cur/1600000001.M1P1.host,S=18:2,FS" &&
	bsdtar -czf bad.tar.gz Bad &&
	test_expect_code 65 mailbag check bad.tar.gz >out 2>&1 &&
	grep "^bad.tar.gz:Bad/cur/1600000001.M1P1.host,S=18:2,FS: S=18 in the name, but the file has 19 bytes" out &&
	! grep "$TMPDIR" out
'

# A unix mailbox with UW metadata: flags of every kind, keywords, UIDs
# with gaps, a CRLF line, a body "From " line.
test_expect_success 'setup: a unix mailbox with flags, keywords and UIDs' '
	printf "%s\n" \
		"From alice@example.com Wed Dec  2 05:53:22 1992" \
		"X-IMAPbase: 1234567890 0000000013 Junk \$Label1 NonJunk" \
		"Status: RO" "X-Status: A" "X-Keywords: Junk" "X-UID: 5" \
		"Subject: one" "" "body one" ">From the middle" "" \
		"From bob@example.org Thu Jan 14 23:59:59 2021" \
		"Status: O" "X-Status: FT" "X-Keywords: \$Label1 NonJunk" "X-UID: 6" \
		"Subject: two" "" "crlf line$(printf "\r")" "" \
		"From carol@example.net Sat Feb 29 12:00:00 2020" \
		"Status: RO" "X-Status: DF" "X-Keywords: " "X-UID: 9" \
		"Subject: three" "" "three" "" \
		"From dave@example.com Mon Mar  1 00:00:01 2021" \
		"X-UID: 12" "Subject: four" "" "four" >src.mbox &&
	mailbag check src.mbox &&
	"$MBTOOL" jdump src.mbox >src.json &&
	test "$(grep -c "\"uid\"" src.json)" = 4 &&
	# a maildir stores lines with LF (mailbag-formats(5)): the one
	# change the round trip makes is "crlf line\r\n" -> "crlf line\n"
	sed "s/63726c66206c696e650d0a/63726c66206c696e650a/" src.json >want.json &&
	! cmp -s src.json want.json
'

for kind in tar.gz zip tar.xz tar; do
test_expect_success "unix -> out.$kind: a maildir inside, bsdtar lists and extracts it, both convert back equal" "
	rm -rf out.$kind x.$kind &&
	mailbag convert src.mbox out.$kind &&
	bsdtar -tf out.$kind >list &&
	grep '^out/dovecot-uidlist\$' list && grep '^out/dovecot-keywords\$' list &&
	test \$(grep -c '^out/cur/[^/]*:2,' list) = 3 &&
	test \$(grep -c '^out/new/[^/]' list) = 1 &&
	grep '^out/cur/[^/]*:2,RSa\$' list &&
	grep '^out/cur/[^/]*:2,DFbc\$' list &&
	grep '^out/cur/[^/]*:2,FST\$' list &&
	mkdir x.$kind && bsdtar -xf out.$kind -C x.$kind &&
	mailbag check x.$kind/out >out &&
	grep 'maildir, 4 messages, .*uidvalidity 1234567890, uidnext 14, 3 keywords: ok' out &&
	mailbag convert out.$kind back.$kind.mbox &&
	\"\$MBTOOL\" jdump back.$kind.mbox >back.json &&
	test_cmp want.json back.json &&
	rm -f back.x.mbox && mailbag convert x.$kind/out back.x.mbox &&
	\"\$MBTOOL\" jdump back.x.mbox >backx.json &&
	test_cmp want.json backx.json
"
done

test_expect_success 'the archive keeps the internal dates as the members mtimes' '
	mkdir -p y && bsdtar -xf out.tar.gz -C y &&
	for f in y/out/cur/* y/out/new/*; do
		stat -c %Y "$f" || return 1
	done | sort -n >mtimes &&
	printf "%s\n" 723275602 1582977600 1610668799 1614556801 >expect &&
	test_cmp expect mtimes
'

test_expect_success 'no temporary directories left' '
	find "$TMPDIR" -mindepth 1 >left && test_must_be_empty left
'

test_done

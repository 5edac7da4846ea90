#!/bin/bash
test_description='archives: tar, tar.gz, tar.xz, zip of eml directories, with bsdtar as the peer; evil archives'
. "$(dirname "$0")/lib.sh"

command -v bsdtar >/dev/null || skip_all "bsdtar not installed"
export TMPDIR=$TRASH/tmp

# stable FILE: FILE less the lines of UW's pseudo-message that carry time.
stable() {
	awk 'NR <= 6 && (/^From MAILER-DAEMON / || /^Date: / || /^Message-ID: </ || /^X-IMAP: /) { next } { print }' "$@"
}

test_expect_success 'setup: an mbox and an eml directory made by hand' '
	mkdir "$TMPDIR" &&
	cp "$DATA/uw/tmail-spool-delivery.mbox" spool.unix &&
	mkdir -p src/box &&
	for i in 1 2 3 10; do
		printf "From: a%s@example.com\nSubject: s%s\n\nbody %s\n" $i $i $i >src/box/$i.eml &&
		touch -d "2021-01-0$((i % 9 + 1)) 12:00:00 UTC" src/box/$i.eml || return 1
	done &&
	mailbag check src/box >out &&
	grep "^src/box: eml, 4 messages" out
'

test_expect_success 'eml: numeric order, text byte for byte, mtime is the internal date' '
	mailbag convert src/box box.unix &&
	grep "^Subject: s" box.unix >subjects &&
	printf "Subject: s1\nSubject: s2\nSubject: s3\nSubject: s10\n" >expect &&
	test_cmp expect subjects &&
	grep "^From .* Sat Jan  2 12:00:00 2021" box.unix &&
	mailbag convert --to=eml box.unix back &&
	ls back >names && printf "1.eml\n2.eml\n3.eml\n4.eml\n" >expect &&
	test_cmp expect names &&
	cmp back/4.eml src/box/10.eml &&
	test "$(stat -c %Y back/1.eml)" = "$(stat -c %Y src/box/1.eml)"
'

test_expect_success 'eml: --append adds N+1.eml; mailbag formats says flags are not stored' '
	mailbag convert --append --to=eml spool.unix back &&
	ls back | wc -l >n && test "$(cat n)" = 6 &&
	test -f back/6.eml && ! ls -a back | grep mbtmp &&
	mailbag formats | grep "^eml.*NO FLAGS"
'

for kind in tar tar.gz tar.xz zip; do
test_expect_success "bsdtar $kind of an eml directory: check and convert read it" "
	( cd src && bsdtar -caf ../in.$kind box ) &&
	mailbag check in.$kind >out &&
	grep 'eml, 4 messages' out &&
	mailbag convert in.$kind from.$kind.unix &&
	stable from.$kind.unix >p && stable box.unix >q && cmp p q
"
done

test_expect_success 'convert writes tar, tar.gz, tar.xz, zip that bsdtar lists and mailbag reads back' '
	for kind in tar tar.gz tar.xz zip; do
		mailbag convert --to=eml spool.unix out.$kind &&
		bsdtar -tf out.$kind >list &&
		grep "^out/1.eml\$" list && grep "^out/2.eml\$" list &&
		mkdir x.$kind && bsdtar -xf out.$kind -C x.$kind &&
		mailbag convert x.$kind/out x.$kind.unix &&
		mailbag convert out.$kind r.$kind.unix &&
		stable x.$kind.unix >p && stable r.$kind.unix >q && cmp p q || return 1
	done &&
	bsdtar -tvf out.tar.gz | head -n 1 | grep "^drwx" &&
	od -An -c -N3 out.tar.gz | grep "037 213" &&
	od -An -c -N4 out.zip | grep "P   K 003 004"
'

test_expect_success '--member picks the mailbox inside the archive' '
	mkdir -p multi/a multi/b &&
	cp src/box/1.eml multi/a/ && cp src/box/2.eml src/box/3.eml multi/b/ &&
	( cd multi && bsdtar -cf ../multi.tar a b ) &&
	test_must_fail mailbag check multi.tar &&
	mailbag convert --member=b multi.tar m.unix &&
	test "$(grep -c "^From " m.unix)" = 3 &&
	test_expect_code 66 mailbag convert --member=nosuch multi.tar m2.unix 2>err &&
	grep "holds no .nosuch." err
'

test_expect_success 'evil archives are refused and write nothing outside the temporary directory' '
	mkdir evil && cd evil &&
	mkdir -p d/box && cp ../src/box/1.eml d/box/ &&
	echo pwned >d/pwned &&
	python3 - <<-\EOF &&
	import tarfile, io, zipfile
	def add(t, name, data=b"x", **kw):
	    ti = tarfile.TarInfo(name); ti.size = len(data)
	    for k, v in kw.items(): setattr(ti, k, v)
	    t.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
	with tarfile.open("dotdot.tar", "w") as t:
	    add(t, "box/1.eml"); add(t, "box/../../pwned-dotdot")
	with tarfile.open("abs.tar", "w") as t:
	    add(t, "box/1.eml"); add(t, "/tmp/pwned-abs")
	with tarfile.open("symlink.tar", "w") as t:
	    add(t, "box/link.eml", b"", type=tarfile.SYMTYPE, linkname="/etc/passwd")
	    add(t, "box/1.eml")
	with tarfile.open("hardlink.tar", "w") as t:
	    add(t, "box/1.eml"); add(t, "box/2.eml", b"", type=tarfile.LNKTYPE, linkname="/etc/passwd")
	with tarfile.open("device.tar", "w") as t:
	    add(t, "box/null", b"", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
	with zipfile.ZipFile("dotdot.zip", "w") as z:
	    z.writestr("box/1.eml", "x"); z.writestr("../pwned-zip", "x")
	EOF
	for a in dotdot.tar abs.tar symlink.tar hardlink.tar device.tar dotdot.zip; do
		test_expect_code 65 "$MAILBAG" check $a 2>err &&
		grep "^mailbag check: $a: .*refused" err &&
		test_expect_code 65 "$MAILBAG" convert $a out.unix &&
		! test -e out.unix || return 1
	done &&
	! test -e ../pwned-dotdot && ! test -e "$TRASH/../pwned-dotdot" &&
	! test -e /tmp/pwned-abs && ! test -e ../pwned-zip &&
	find "$TMPDIR" -mindepth 1 >left && test_must_be_empty left &&
	cd ..
'

test_expect_success 'a damaged archive: 65, the archive named' '
	size=$(stat -c %s out.tar.gz) &&
	head -c $((size / 2)) out.tar.gz >cut.tar.gz &&
	test_expect_code 65 mailbag check cut.tar.gz 2>err &&
	grep "^mailbag check: cut.tar.gz: .*truncated gzip data" err &&
	head -c 700 out.tar >cut.tar &&
	test_expect_code 65 mailbag check cut.tar 2>err &&
	grep "^mailbag check: cut.tar: " err
'

test_expect_success 'an archive is read-only: --append to it is refused, DST untouched' '
	cp out.tar.gz keep.tar.gz &&
	test_expect_code 64 mailbag convert --append --to=eml spool.unix out.tar.gz &&
	cmp out.tar.gz keep.tar.gz
'

test_expect_success 'no temporary directories left after all this' '
	find "$TMPDIR" -mindepth 1 >left && test_must_be_empty left
'

test_done

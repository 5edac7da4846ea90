test_description='scratch'
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/t/dovecot.sh"
dc_setup
printf '%s\n' "$DC_PASS" >pw
U=$DC_LOGIN
F="--ca-file $DC_CA --password-file pw --timeout 10"
for i in $(seq 1 30); do printf 'From: x\nSubject: %s\nMessage-ID: <%s@mailbag.test>\n\nbody %s\nFrom here\n' $i $i $i > m; dc_deliver m; done
R="{127.0.0.1:$DC_IMAP/notls/user=$U}INBOX"
CRASH_COUNT=1 CRASH_COUNT_FILE=$TRASH/count LD_PRELOAD=$MAILBAG_BUILD/tests/helper/crashinject.so "$MAILBAG" fetch $F -q --allow-plaintext --batch 7 -f mh "$R" c0.mh; cat count
for at in $(seq 60 130); do
rm -rf crash.mh .crash.mh.mbfetch
CRASH_AT=$at CRASH_TRACE=$TRASH/trace.$at LD_PRELOAD=$MAILBAG_BUILD/tests/helper/crashinject.so "$MAILBAG" fetch $F -q --allow-plaintext --batch 7 -f mh "$R" crash.mh 2>/dev/null
cp .crash.mh.mbfetch st.$at; ls -a crash.mh > ls.$at
rm -f crash.mh.lock
"$MAILBAG" fetch $F --allow-plaintext -q -f mh "$R" crash.mh
d=$(grep -h Message-ID crash.mh/* | sort | uniq -d)
[ -n "$d" ] && { echo "dup at $at: $d"; tail -3 trace.$at; cat ls.$at | tr '\n' ' '; }
done
test_done

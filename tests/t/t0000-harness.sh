#!/bin/bash
test_description='the test harness itself: lib.sh and uw.sh'
. "$(dirname "$0")/lib.sh"

# run_sub NAME: run NAME.sh (a nested test script written by the test) with
# its trash under ours; leaves NAME.out (TAP), NAME.err and NAME.rc.
run_sub() {
	{
		echo ". '$TESTS_DIR/t/lib.sh'"
		cat
		echo "test_done"
	} >"$1.sh" &&
	mkdir -p "$TRASH/tmp" &&
	rc=0 &&
	env -u MAILBAG_KEEP -u MAILBAG_VERBOSE TMPDIR="$TRASH/tmp" OUTER="$TRASH" \
		bash "$1.sh" >"$1.out" 2>"$1.err" || rc=$?
	echo "$rc" >"$1.rc"
}

test_expect_success 'a passing test; variables carry over' '
	carried=yes &&
	test "$(pwd)" = "$TRASH"
'

test_expect_success 'variables set by earlier tests are visible' '
	test "$carried" = yes
'

test_expect_success 'trash directory is private, fresh and is $HOME' '
	test "$HOME" = "$TRASH" &&
	test "$(basename "$TRASH")" = trash &&
	case $TRASH in "${TMPDIR:-/tmp}"/mailbag-t0000-harness.*/trash) ;; *) false ;; esac &&
	ls -A >list &&
	echo list >expect &&
	test_cmp expect list
'

test_expect_success 'nested: passing tests give ok, 1..N, exit 0, no trash left' '
	run_sub pass <<-\EOF &&
	test_expect_success "one" "true"
	test_expect_success "two" "echo hidden output && test 1 = 1"
	EOF
	printf "ok 1 - one\nok 2 - two\n1..2\n" >expect &&
	test_cmp expect pass.out &&
	echo 0 >expect && test_cmp expect pass.rc &&
	test_must_be_empty pass.err &&
	test -z "$(ls -A tmp)"
'

test_expect_success 'nested: test_cmp catches a difference' '
	run_sub cmp <<-\EOF &&
	test_expect_success "differs" "echo a >x && echo b >y && test_cmp x y"
	test_expect_success "same" "echo a >x && echo a >y && test_cmp x y"
	EOF
	test_grep "^not ok 1 - differs" cmp.out &&
	test_grep "^ok 2 - same" cmp.out &&
	test_grep "^1\.\.2$" cmp.out &&
	echo 1 >expect && test_cmp expect cmp.rc &&
	test_grep "^# -a" cmp.err &&
	test_grep "^# +b" cmp.err &&
	test_grep "trash directory kept" cmp.err
'

test_expect_success 'nested: test_expect_code catches a wrong code' '
	run_sub code <<-\EOF &&
	test_expect_success "wrong" "test_expect_code 65 sh -c \"exit 64\""
	test_expect_success "right" "test_expect_code 65 sh -c \"exit 65\""
	EOF
	test_grep "^not ok 1 - wrong" code.out &&
	test_grep "^ok 2 - right" code.out &&
	test_grep "exited 64, wanted 65" code.err
'

test_expect_success 'test_must_fail: failure yes; success, signal, 127 no' '
	test_must_fail false &&
	test_must_fail sh -c "exit 65" &&
	! test_must_fail true 2>err &&
	test_grep succeeded err &&
	! test_must_fail sh -c "kill -SEGV \$\$" 2>err &&
	test_grep "signal 11" err &&
	! test_must_fail no-such-command-here 2>err &&
	test_grep "could not run" err
'

test_expect_success 'test_must_be_empty and test_grep fail when they should' '
	: >empty && echo text >full &&
	test_must_be_empty empty &&
	! test_must_be_empty full 2>err &&
	! test_must_be_empty missing 2>err &&
	test_grep -F text full &&
	test_grep ! nothing full &&
	! test_grep nothing full 2>err &&
	! test_grep ! text full 2>err
'

test_expect_success 'nested: skip_all, test_expect_failure, skips, early exit' '
	run_sub skip <<-\EOF &&
	skip_all "nothing to do"
	EOF
	echo "1..0 # SKIP nothing to do" >expect &&
	test_cmp expect skip.out &&
	run_sub todo <<-\EOF &&
	test_expect_failure "known bug" "false"
	test_skip "later" "not yet"
	test_expect_success NOPE "needs NOPE" "false"
	EOF
	test_grep "^not ok 1 - known bug # TODO" todo.out &&
	test_grep "^ok 2 - later # SKIP not yet" todo.out &&
	test_grep "^ok 3 - needs NOPE # SKIP missing NOPE" todo.out &&
	echo 0 >expect && test_cmp expect todo.rc &&
	run_sub early <<-\EOF &&
	test_expect_success "ok" "true"
	exit 0
	EOF
	echo 1 >expect && test_cmp expect early.rc &&
	test_grep "before test_done" early.err
'

test_expect_success 'stdin is /dev/null and output does not leak into TAP' '
	run_sub quiet <<-\EOF &&
	test_expect_success "reads stdin" "cat >in && test ! -s in && echo noise && echo more >&2"
	EOF
	echo 0 >expect && test_cmp expect quiet.rc &&
	test_grep ! noise quiet.out &&
	test_must_be_empty quiet.err
'

if [ "$(id -u)" = 0 ]; then test_set_prereq ROOT; fi
if command -v mailutil >/dev/null 2>&1; then test_set_prereq UW; fi

test_expect_success UW 'uw.sh: uw_run mailutil create/check, uw_put, uw_get' '
	run_sub uw <<-\EOF &&
	. "$TESTS_DIR/t/uw.sh"
	uw_setup
	echo "$UW_USER" >"$OUTER/user"
	test_expect_success "create" "
		uw_run mailutil create \"#driver.mbx/x1\" &&
		head -c 5 \"\$UW_HOME/x1\" >magic && printf \"*mbx*\" >exp &&
		test_cmp exp magic &&
		uw_run mailutil check x1 >out &&
		echo \"No new messages, 0 total in x1\" >exp && test_cmp exp out
	"
	test_expect_success "put/get" "
		uw_put \"$TESTS_DIR/t/lib.sh\" sub/y &&
		uw_run test -O sub/y -a -r sub/y &&
		uw_get sub/y back && cmp back \"$TESTS_DIR/t/lib.sh\"
	"
	EOF
	cat uw.err >&2 &&
	test_grep "^ok 1 - create" uw.out &&
	test_grep "^ok 2 - put/get" uw.out &&
	echo 0 >expect && test_cmp expect uw.rc &&
	test -s user
'

test_expect_success ROOT,UW 'uw.sh: the throwaway user is gone afterwards' '
	user=$(cat user) &&
	case $user in mbt*) ;; *) false ;; esac &&
	test_must_fail id "$user"
'

test_done

/*
 * copy.c - `mailbag copy` and `mailbag move`: selected messages of one
 * mailbox into another (UW mailutil copy/append and move/appenddelete,
 * shared/spec/uw-formats.md 16), with their flags, keywords and dates.
 * DST is created when it does not exist.  move copies, makes the copy
 * durable, and only then flags the moved messages \Deleted and expunges
 * exactly them: a crash leaves each message in SRC or DST, at worst (a
 * crash after the copy, before the expunge) in both.
 */
#include <getopt.h>
#include <string.h>

#include "manage.h"
#include "util.h"

#define COPY_HELP(verb)                                                         \
	"\n"                                                                    \
	"CRITERIA are IMAP SEARCH keys as mailbag search takes them (see\n"     \
	"mailbag-search(1)): a sequence set of message numbers (1:5,7,10:*;\n"  \
	"* is the last), SEEN, SINCE 1-Jan-2024, FROM alice, OR K1 K2, ...;\n"  \
	"keys in a row must all match; none select every message.  DST is\n"    \
	"created (in --to FORMAT, else SRC's #driver or the new-format\n"       \
	"setting) when it does not exist.\n"                                    \
	"\n"                                                                    \
	"   -u, --uid        the first criterion is a set of UIDs\n"            \
	"       --match=HEADER:REGEX\n"                                         \
	"                    also require a HEADER field whose decoded value\n" \
	"                    matches the PCRE2 REGEX (repeatable)\n"            \
	"       --body-match=REGEX\n"                                           \
	"                    also require a line of decoded body text to\n"     \
	"                    match REGEX (repeatable)\n"                        \
	"   -t, --to=FORMAT  format of a created DST\n"                         \
	"   -e, --existing   DST must exist already (mailutil " verb ")\n"      \
	"   -N, --new        DST must not exist yet (mailutil copy/move)\n"     \
	"   -n, --dry-run    say what would be done\n"                          \
	"   -q, --quiet      print nothing on success\n"                        \
	"       --json       print the result as a JSON object\n"               \
	"   -h, --help       this text\n"                                       \
	"       --version    print the version\n"                               \
	"\n"                                                                    \
	"Exit status: 0 done (also when nothing matches); 66 no such\n"         \
	"SRC (or DST with --existing); 73 DST exists with --new or cannot\n"    \
	"be created; 75 a mailbox is busy or the disk full (try later);\n"      \
	"65 a damaged SRC; 64 usage or bad CRITERIA.\n"

const char cmd_copy_usage[] =
	"usage: mailbag copy [-nq] [--json] [--uid] [--to FORMAT]\n"
	"                    [--existing|--new] [--match=HEADER:REGEX]...\n"
	"                    [--body-match=REGEX]... SRC DST [CRITERIA...]\n"
	"\n"
	"Copy the messages of SRC that match CRITERIA to DST, keeping flags,\n"
	"keywords and internal dates.\n" COPY_HELP("append");

const char cmd_move_usage[] =
	"usage: mailbag move [-nq] [--json] [--uid] [--to FORMAT]\n"
	"                    [--existing|--new] [--match=HEADER:REGEX]...\n"
	"                    [--body-match=REGEX]... SRC DST [CRITERIA...]\n"
	"\n"
	"Move the messages of SRC that match CRITERIA to DST: copy them, and\n"
	"once the copy is safely on disk, delete and expunge them (only\n"
	"them) from SRC.\n" COPY_HELP("appenddelete");

static int
run(int argc, char **argv, struct cmd_env *env, int job)
{
	static const struct option opts[] = {
		MG_COMMON_LONGOPTS,
		SEL_LONGOPTS,
		{ "to", required_argument, NULL, 't' },
		{ "existing", no_argument, NULL, 'e' },
		{ "new", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	struct mg_opts o = { 0 };
	struct mg_name src, dst;
	struct mg_transfer t;
	struct sel_args a = { 0 };
	struct sel sel;
	bool have_sel = false;
	char why[512];
	int c, rc;

	memset(&t, 0, sizeof(t));
	t.job = job;
	while ((c = getopt_long(argc, argv, "nqhut:eN", opts, NULL)) != -1) {
		rc = mg_common_opt(env, c, &o);
		if (rc >= 0)
			return rc;
		if (rc == -1)
			continue;
		if (sel_opt(&a, c, optarg))
			continue;
		switch (c) {
		case 't':
			t.to = optarg;
			break;
		case 'e':
			t.must_exist = true;
			break;
		case 'N':
			t.must_not_exist = true;
			break;
		}
	}
	if (t.must_exist && t.must_not_exist) {
		sel_args_free(&a);
		return cmd_usage_error(env, "--existing or --new, not both");
	}
	if (argc - optind < 2) {
		sel_args_free(&a);
		return cmd_usage_error(env, "SRC DST [CRITERIA], please");
	}
	if (argc - optind > 2 || a.uid || a.nre > 0) {
		if (!sel_parse_search(&sel, &a, argc - optind - 2,
				      argv + optind + 2, why, sizeof(why))) {
			sel_args_free(&a);
			return cmd_usage_error(env, "%s", why);
		}
		have_sel = true;
		t.sel = &sel;
	}
	sel_args_free(&a);
	if ((rc = cmd_load_config(env)) != 0)
		goto out;
	if ((rc = mg_resolve(env, argv[optind], &src)) != 0 ||
	    (rc = mg_resolve(env, argv[optind + 1], &dst)) != 0)
		goto out;
	if (t.to == NULL)
		t.to = dst.format;
	rc = mg_transfer(env, &o, &src, &dst, &t);
out:
	if (have_sel)
		sel_free(&sel);
	return rc;
}

int
cmd_copy(int argc, char **argv, struct cmd_env *env)
{
	return run(argc, argv, env, MG_COPY);
}

int
cmd_move(int argc, char **argv, struct cmd_env *env)
{
	return run(argc, argv, env, MG_MOVE);
}

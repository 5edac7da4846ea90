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

#define COPY_HELP(verb)                                                       \
	"\n"                                                                  \
	"SET is an IMAP sequence set of message numbers (1:5,7,10:*; * is\n"  \
	"the last), or of UIDs with --uid; without SET every message.  DST\n" \
	"is created (in --to FORMAT, else SRC's #driver or the new-format\n"  \
	"setting) when it does not exist.\n"                                  \
	"\n"                                                                  \
	"   -u, --uid        SET holds UIDs\n"                                \
	"   -t, --to=FORMAT  format of a created DST\n"                       \
	"   -e, --existing   DST must exist already (mailutil " verb ")\n"    \
	"   -N, --new        DST must not exist yet (mailutil copy/move)\n"   \
	"   -n, --dry-run    say what would be done\n"                        \
	"   -q, --quiet      print nothing on success\n"                      \
	"       --json       print the result as a JSON object\n"             \
	"   -h, --help       this text\n"                                     \
	"       --version    print the version\n"                             \
	"\n"                                                                  \
	"Exit status: 0 done (also when SET selects nothing); 66 no such\n"   \
	"SRC (or DST with --existing); 73 DST exists with --new or cannot\n"  \
	"be created; 75 a mailbox is busy or the disk full (try later);\n"    \
	"65 a damaged SRC; 64 usage or a bad SET.\n"

const char cmd_copy_usage[] =
	"usage: mailbag copy [-nq] [--json] [--uid] [--to FORMAT]\n"
	"                    [--existing|--new] SRC DST [SET]\n"
	"\n"
	"Copy the messages of SRC selected by SET to DST, keeping flags,\n"
	"keywords and internal dates.\n" COPY_HELP("append");

const char cmd_move_usage[] =
	"usage: mailbag move [-nq] [--json] [--uid] [--to FORMAT]\n"
	"                    [--existing|--new] SRC DST [SET]\n"
	"\n"
	"Move the messages of SRC selected by SET to DST: copy them, and\n"
	"once the copy is safely on disk, delete and expunge them (only\n"
	"them) from SRC.\n" COPY_HELP("appenddelete");

static int
run(int argc, char **argv, struct cmd_env *env, int job)
{
	static const struct option opts[] = {
		MG_COMMON_LONGOPTS,
		{ "uid", no_argument, NULL, 'u' },
		{ "to", required_argument, NULL, 't' },
		{ "existing", no_argument, NULL, 'e' },
		{ "new", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	struct mg_opts o = { 0 };
	struct mg_name src, dst;
	struct mg_transfer t;
	struct sel sel;
	bool uid = false, have_sel = false;
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
		switch (c) {
		case 'u':
			uid = true;
			break;
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
	if (t.must_exist && t.must_not_exist)
		return cmd_usage_error(env, "--existing or --new, not both");
	if (argc - optind < 2 || argc - optind > 3)
		return cmd_usage_error(env, "SRC DST [SET], please");
	if (argc - optind == 3) {
		if (!sel_parse(&sel, uid ? SEL_UID : SEL_SEQ, argv[optind + 2],
			       why, sizeof(why)))
			return cmd_usage_error(env, "%s", why);
		have_sel = true;
		t.sel = &sel;
	} else if (uid) {
		return cmd_usage_error(env, "--uid needs a SET");
	}
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

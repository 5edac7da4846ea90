/*
 * rename.c - `mailbag rename`: rename a mailbox with its format's locks
 * (UW mailutil rename, shared/spec/uw-formats.md 16, 2.10).  Renaming
 * INBOX moves its messages into a new mailbox NEW, in INBOX's format,
 * and leaves INBOX in place and empty, as IMAP and UW do: the copy is
 * durable before INBOX is emptied, and mail delivered meanwhile stays.
 */
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "manage.h"
#include "util.h"

const char cmd_rename_usage[] =
	"usage: mailbag rename [-nq] [--json] OLD NEW\n"
	"\n"
	"Rename mailbox OLD to NEW (which must not exist; its missing parent\n"
	"directories are created, mode 0700).  Renaming INBOX moves its\n"
	"messages to NEW and leaves INBOX empty.\n"
	"\n"
	"   -n, --dry-run    say what would be done\n"
	"   -q, --quiet      print nothing on success\n"
	"       --json       print the result as a JSON object\n"
	"   -h, --help       this text\n"
	"       --version    print the version\n"
	"\n"
	"Exit status: 0 renamed; 66 no such mailbox OLD; 73 NEW exists or\n"
	"cannot be made; 75 OLD is in use (try later); 64 usage.\n";

int
cmd_rename(int argc, char **argv, struct cmd_env *env)
{
	static const struct option opts[] = {
		MG_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct mg_opts o = { 0 };
	struct mg_name from, to;
	struct mg_transfer t;
	const char *format;
	struct mb_err e;
	struct stat st;
	struct json j;
	int c, rc;

	while ((c = getopt_long(argc, argv, "nqh", opts, NULL)) != -1) {
		rc = mg_common_opt(env, c, &o);
		if (rc >= 0)
			return rc;
		if (rc == -2)
			return cmd_usage_error(env, NULL);
	}
	if (argc - optind != 2)
		return cmd_usage_error(env, "OLD and NEW, please");
	if ((rc = cmd_load_config(env)) != 0)
		return rc;
	if (mg_is_inbox(argv[optind + 1])) {
		warnmsg(env->prog, "cannot rename a mailbox to INBOX");
		return EX_CANTCREAT;
	}
	if ((rc = mg_resolve(env, argv[optind], &from)) != 0 ||
	    (rc = mg_resolve(env, argv[optind + 1], &to)) != 0)
		return rc;
	mb_err_clear(&e);
	if (lstat(from.path, &st) < 0) {
		warnmsg(env->prog, "%s: no such mailbox", from.path);
		return EX_NOINPUT;
	}
	if (lstat(to.path, &st) == 0) {
		warnmsg(env->prog, "%s: mailbox already exists", to.path);
		return EX_CANTCREAT;
	}
	format = mb_probe(env->ctx, from.path, &e);
	if (format == NULL && !from.inbox)
		return report_err(env->prog, from.path, &e);
	if (from.inbox) {
		/* move every message; INBOX stays, empty */
		memset(&t, 0, sizeof(t));
		t.job = MG_MOVE;
		t.to = to.format ? to.format : format;
		t.must_not_exist = true;
		return mg_transfer(env, &o, &from, &to, &t);
	}
	if (!o.dry_run) {
		if (mg_make_parents(to.path, &e) != MB_OK ||
		    mb_rename(env->ctx, from.path, to.path, &e) != MB_OK)
			return report_err(env->prog, from.path, &e);
	}
	if (o.json) {
		json_begin(&j, stdout, "rename");
		json_bool(&j, "dry_run", o.dry_run);
		json_str(&j, "from", from.path);
		json_str(&j, "to", to.path);
		json_str(&j, "format", format);
		json_end(&j);
	} else if (!o.quiet) {
		printf("%s %s to %s (%s)\n",
		       o.dry_run ? "would rename" : "renamed", from.path,
		       to.path, format);
	}
	return 0;
}

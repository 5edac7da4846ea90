/*
 * create.c - `mailbag create`: a new, empty mailbox (UW mailutil create,
 * shared/spec/uw-formats.md 16, 1.6, 1.7).  The format is --to, or the
 * one a #driver.NAME/ name forces, or the new-format setting; missing
 * parent directories are made with mode 0700, as UW makes them; a name
 * ending in "/" makes only the directory.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "manage.h"
#include "util.h"

const char cmd_create_usage[] =
	"usage: mailbag create [-nq] [--json] [--to FORMAT] MAILBOX\n"
	"\n"
	"Create a new, empty mailbox.  MAILBOX is a path, ~/name, ~user/name\n"
	"or #driver.FORMAT/name (relative to the home directory, as UW names\n"
	"it); a name ending in / creates a directory for mailboxes.  Missing\n"
	"parent directories are created (mode 0700).  INBOX itself is only\n"
	"created as #driver.FORMAT/INBOX (~/INBOX), as UW allows.\n"
	"\n"
	"   -t, --to=FORMAT  the format (default: #driver's, else the\n"
	"                    new-format setting; see mailbag formats)\n"
	"   -n, --dry-run    say what would be created\n"
	"   -q, --quiet      print nothing on success\n"
	"       --json       print the result as a JSON object\n"
	"   -h, --help       this text\n"
	"       --version    print the version\n"
	"\n"
	"Exit status: 0 created; 73 it exists or cannot be created; 64 usage\n"
	"or an unknown format; 77 permission denied.\n";

static void
report(const struct mg_opts *o, const char *path, const char *format, bool dir)
{
	struct json j;

	if (o->json) {
		json_begin(&j, stdout, "create");
		json_bool(&j, "dry_run", o->dry_run);
		json_str(&j, "path", path);
		json_str(&j, "format", dir ? NULL : format);
		json_bool(&j, "directory", dir);
		json_end(&j);
	} else if (!o->quiet) {
		printf("%s %s (%s)\n", o->dry_run ? "would create" : "created",
		       path, dir ? "directory" : format);
	}
}

int
cmd_create(int argc, char **argv, struct cmd_env *env)
{
	static const struct option opts[] = {
		MG_COMMON_LONGOPTS,
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct mg_opts o = { 0 };
	struct mg_name n;
	struct mb_box *box;
	struct mb_err e;
	const char *to = NULL, *format;
	struct stat st;
	size_t len;
	int c, rc;

	while ((c = getopt_long(argc, argv, "nqht:", opts, NULL)) != -1) {
		rc = mg_common_opt(env, c, &o);
		if (rc >= 0)
			return rc;
		if (rc == -1)
			continue;
		to = optarg; /* 't' */
	}
	if (argc - optind != 1)
		return cmd_usage_error(env, argc - optind ?
						    "one MAILBOX, please" :
						    "no MAILBOX");
	if ((rc = cmd_load_config(env)) != 0)
		return rc;
	if (mg_is_inbox(argv[optind])) {
		warnmsg(env->prog,
			"cannot create INBOX: it is made by delivery; name "
			"~/INBOX in a format with #driver.FORMAT/INBOX");
		return EX_CANTCREAT;
	}
	if ((rc = mg_resolve(env, argv[optind], &n)) != 0)
		return rc;
	if (to != NULL && n.format != NULL && strcmp(to, n.format) != 0)
		return cmd_usage_error(env, "--to %s and #driver.%s disagree",
				       to, n.format);
	format = to	  ? to :
		 n.format ? n.format :
			    mb_ctx_get(env->ctx, "new-format");
	mb_err_clear(&e);
	len = strlen(n.path);
	if (lstat(n.path, &st) == 0) {
		warnmsg(env->prog, "%s: mailbox already exists", n.path);
		return EX_CANTCREAT;
	}
	if (len > 1 && n.path[len - 1] == '/') {
		/* a directory to hold mailboxes */
		if (o.dry_run) {
			report(&o, n.path, NULL, true);
			return 0;
		}
		if (mg_make_parents(n.path, &e) != MB_OK)
			return report_err(env->prog, n.path, &e);
		report(&o, n.path, NULL, true);
		return 0;
	}
	if (o.dry_run) {
		size_t i;
		const char *f;

		for (i = 0; (f = mb_format_name((unsigned)i)) != NULL; i++)
			if (strcmp(f, format) == 0)
				break;
		if (f == NULL && strcmp(format, "mbox") != 0)
			return cmd_usage_error(env, "unknown format '%s'",
					       format);
		report(&o, n.path, format, false);
		return 0;
	}
	if (mg_make_parents(n.path, &e) != MB_OK)
		return report_err(env->prog, n.path, &e);
	rc = mb_create(env->ctx, n.path, format,
		       MB_CREATE_ATOMIC | MB_CREATE_EXCL, &box, &e);
	if (rc == MB_OK) {
		format = mb_box_format(box);
		rc = mb_close(&box, &e);
	}
	if (rc != MB_OK)
		return report_err(env->prog, n.path, &e);
	report(&o, n.path, format, false);
	return 0;
}

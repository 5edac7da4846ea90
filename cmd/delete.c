/*
 * delete.c - `mailbag delete`: remove a mailbox with its format's locks
 * (UW mailutil delete, shared/spec/uw-formats.md 16).  A mailbox another
 * process holds open is refused where the format can tell (unix and
 * mmdf through UW's /tmp lock, mbx, mix, mtx and tenex through their
 * exclusive locks).  INBOX is refused unless --force.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "manage.h"
#include "util.h"

const char cmd_delete_usage[] =
	"usage: mailbag delete [-nq] [--json] [--force] MAILBOX\n"
	"\n"
	"Delete a mailbox, taking the locks its format asks for; a mailbox\n"
	"another process has open is refused where the format can tell.  An\n"
	"empty directory that is no mailbox is removed too.\n"
	"\n"
	"   -f, --force      delete INBOX as well\n"
	"   -n, --dry-run    say what would be deleted\n"
	"   -q, --quiet      print nothing on success\n"
	"       --json       print the result as a JSON object\n"
	"   -h, --help       this text\n"
	"       --version    print the version\n"
	"\n"
	"Exit status: 0 deleted; 66 no such mailbox; 75 in use by another\n"
	"process (try later); 77 INBOX without --force, or permission denied;\n"
	"69 the format cannot delete; 64 usage.\n";

/* Does the directory hold nothing at all? */
static bool
empty_dir(const char *path)
{
	struct dirent *d;
	DIR *dp = opendir(path);
	bool empty = true;

	if (dp == NULL)
		return false;
	while (empty && (d = readdir(dp)) != NULL)
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			empty = false;
	closedir(dp);
	return empty;
}

int
cmd_delete(int argc, char **argv, struct cmd_env *env)
{
	static const struct option opts[] = {
		MG_COMMON_LONGOPTS,
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct mg_opts o = { 0 };
	const char *format = NULL;
	bool force = false, dir = false;
	struct mg_name n;
	struct mb_err e;
	struct stat st;
	struct json j;
	int c, rc;

	while ((c = getopt_long(argc, argv, "nqhf", opts, NULL)) != -1) {
		rc = mg_common_opt(env, c, &o);
		if (rc >= 0)
			return rc;
		if (rc == -1)
			continue;
		force = true; /* 'f' */
	}
	if (argc - optind != 1)
		return cmd_usage_error(env, argc - optind ?
						    "one MAILBOX, please" :
						    "no MAILBOX");
	if ((rc = cmd_load_config(env)) != 0)
		return rc;
	if ((rc = mg_resolve(env, argv[optind], &n)) != 0)
		return rc;
	if (n.inbox && !force) {
		warnmsg(env->prog,
			"%s: refusing to delete INBOX (--force "
			"deletes it)",
			n.path);
		return EX_NOPERM;
	}
	mb_err_clear(&e);
	if (lstat(n.path, &st) < 0) {
		warnmsg(env->prog, "%s: no such mailbox", n.path);
		return EX_NOINPUT;
	}
	if (S_ISDIR(st.st_mode) && empty_dir(n.path))
		dir = true; /* an empty directory: no mailbox of any format */
	else if ((format = mb_probe(env->ctx, n.path, &e)) == NULL &&
		 S_ISDIR(st.st_mode))
		dir = true; /* a directory for mailboxes, \NoSelect */
	else if (format == NULL)
		return report_err(env->prog, n.path, &e);
	if (!o.dry_run) {
		if (dir) {
			if (rmdir(n.path) < 0) {
				warnmsg(env->prog,
					"%s: cannot delete the directory: %s",
					n.path, strerror(errno));
				return EX_CANTCREAT;
			}
		} else if (mb_delete(env->ctx, n.path, &e) != MB_OK) {
			return report_err(env->prog, n.path, &e);
		}
	}
	if (o.json) {
		json_begin(&j, stdout, "delete");
		json_bool(&j, "dry_run", o.dry_run);
		json_str(&j, "path", n.path);
		json_str(&j, "format", format);
		json_bool(&j, "directory", dir);
		json_end(&j);
	} else if (!o.quiet) {
		printf("%s %s (%s)\n", o.dry_run ? "would delete" : "deleted",
		       n.path, dir ? "directory" : format);
	}
	return 0;
}

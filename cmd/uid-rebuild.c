/*
 * uid-rebuild.c - `mailbag uid-rebuild`: check the UID regime of
 * mailboxes (UIDVALIDITY, ascending UIDs, the last UID) and repair it
 * the least disruptive way IMAP allows: keep every UID that is still
 * valid, and change UIDVALIDITY and renumber only when the UIDs clients
 * may have seen cannot all be kept.  The logic is repair/uid.c's.
 *
 * One line (or JSON object) per mailbox on stdout; mailboxes that could
 * not be repaired go to stderr.
 */
#include <getopt.h>
#include <string.h>
#include <sysexits.h>

#include "repair.h"
#include "util.h"

const char cmd_uid_rebuild_usage[] =
	"usage: mailbag uid-rebuild [-n] [-q] [-v] [--json]"
	" [--new-uidvalidity] [--format=NAME] MAILBOX...\n"
	"\n"
	"Check the UIDs of each MAILBOX and repair them: UIDs that are still\n"
	"valid are kept under the same UIDVALIDITY (messages not numbered yet\n"
	"get theirs, a last UID below the UIDs in use is raised); repeated or\n"
	"backward UIDs, or a lost UIDVALIDITY, get a new UIDVALIDITY and the\n"
	"messages UIDs 1..n.\n"
	"\n"
	"   -n, --dry-run        only report what would change\n"
	"       --new-uidvalidity\n"
	"                        always assign a new UIDVALIDITY and renumber\n"
	"   -q, --quiet          print nothing for mailboxes that need nothing\n"
	"   -v, --verbose        also print the UID problems found\n"
	"       --json           one JSON object per mailbox\n"
	"       --format=NAME    read as format NAME instead of probing\n"
	"       --lock-timeout=SECONDS\n"
	"                        wait this long for a busy lock\n"
	"   -h, --help           this text\n"
	"       --version        print the version\n"
	"\n"
	"Exit status: 0 when every mailbox is consistent or was repaired, 65\n"
	"when one is damaged beyond its UIDs (nothing is changed then), 69\n"
	"when its format keeps no UIDs, else see mailbag-exit(7).\n";

struct uidr {
	struct cmd_env *env;
	bool dry_run, quiet, verbose, json, force;
	const char *path;
};

/* -v: the scan's problems, as `mailbag check` prints them. */
static void
on_diag(void *arg, const struct mb_diag *d)
{
	struct uidr *u = arg;
	const char *path = d->path ? d->path : u->path;
	struct json j;

	if (!u->verbose || d->level == MB_DIAG_INFO)
		return;
	if (u->json) {
		json_begin(&j, stdout, "problem");
		json_str(&j, "path", path);
		json_int(&j, "offset", d->offset);
		json_uint(&j, "msgno", d->msgno);
		json_uint(&j, "uid", d->uid);
		json_str(&j, "level",
			 d->level == MB_DIAG_DAMAGE ? "damage" : "warning");
		json_str(&j, "code", d->code);
		json_str(&j, "text", d->text);
		json_end(&j);
		return;
	}
	printf("%s: ", path);
	if (d->offset >= 0)
		printf("at byte %lld: ", (long long)d->offset);
	fputs(d->text ? d->text : "", stdout);
	if (d->msgno > 0)
		printf(" (message %lu)", (unsigned long)d->msgno);
	if (d->uid > 0)
		printf(" [uid %lu]", (unsigned long)d->uid);
	putchar('\n');
}

/* Why UIDs were kept but written: "" when nothing was. */
static const char *
keep_reason(const struct rp_uid_report *r, char *buf, size_t size)
{
	buf[0] = '\0';
	if (r->assigned > 0)
		snprintf(buf, size, "messages without a stored UID");
	if (r->nabove > 0)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s",
			 buf[0] ? ", " : "",
			 "UIDs above the recorded last UID");
	return buf;
}

static void
print_report(const struct uidr *u, const struct rp_uid_report *r)
{
	char why[256];
	struct json j;

	if (r->renumbered)
		rp_uid_why(r->why, why, sizeof(why));
	else if (r->changed)
		keep_reason(r, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "consistent");
	if (u->json) {
		json_begin(&j, stdout, "uid-rebuild");
		json_str(&j, "path", u->path);
		json_str(&j, "format", r->format);
		json_uint(&j, "messages", r->messages);
		json_uint(&j, "uidvalidity_old", r->uidvalidity_old);
		json_uint(&j, "uidvalidity", r->uidvalidity);
		json_uint(&j, "uidnext", r->uidnext);
		json_bool(&j, "renumbered", r->renumbered);
		json_bool(&j, "changed", r->changed);
		json_bool(&j, "dry_run", u->dry_run);
		json_uint(&j, "kept", r->kept);
		json_uint(&j, "assigned", r->assigned);
		json_str(&j, "reason", why);
		json_end(&j);
		return;
	}
	if (!r->changed) {
		if (!u->quiet)
			printf("%s: UIDs consistent, nothing to do\n", u->path);
		return;
	}
	if (r->renumbered) {
		printf("%s: %snew uidvalidity %lu (was ", u->path,
		       u->dry_run ? "would set " : "",
		       (unsigned long)r->uidvalidity);
		if (r->uidvalidity_old)
			printf("%lu", (unsigned long)r->uidvalidity_old);
		else
			fputs("none", stdout);
		printf("): %lu message%s renumbered (%s)\n",
		       (unsigned long)r->messages, r->messages == 1 ? "" : "s",
		       why);
		return;
	}
	printf("%s: %s uidvalidity %lu, %lu UID%s kept, %lu assigned, "
	       "next UID %lu (%s)\n",
	       u->path, u->dry_run ? "would keep" : "kept",
	       (unsigned long)r->uidvalidity, (unsigned long)r->kept,
	       r->kept == 1 ? "" : "s", (unsigned long)r->assigned,
	       (unsigned long)r->uidnext, why);
}

static int
failed(struct uidr *u, const struct mb_err *e)
{
	struct json j;

	if (u->json) {
		json_begin(&j, stdout, "uid-rebuild");
		json_str(&j, "path", u->path);
		json_str(&j, "status", "error");
		json_str(&j, "code", mb_code_name(e->code));
		json_int(&j, "offset", e->offset);
		json_str(&j, "text", e->msg);
		json_end(&j);
	}
	return report_err(u->env->prog, u->path, e);
}

static int
rebuild_one(struct uidr *u, const char *name, const char *format)
{
	struct rp_uid_report rep;
	char path[4096];
	const char *forced = NULL;
	struct mb_err e;
	unsigned flags = 0;

	mb_err_clear(&e);
	u->path = name;
	if (mb_resolve_name(u->env->ctx, name, path, sizeof(path), &forced,
			    &e) != MB_OK)
		return failed(u, &e);
	u->path = path;
	if (forced != NULL)
		format = forced;
	if (u->force)
		flags |= RP_UID_FORCE;
	if (u->dry_run)
		flags |= RP_UID_DRY_RUN;
	progress_label(path);
	if (rp_uid_rebuild(u->env->ctx, path, format, flags, on_diag, u, &rep,
			   &e) != MB_OK) {
		progress_done();
		return failed(u, &e);
	}
	progress_done();
	print_report(u, &rep);
	return 0;
}

int
cmd_uid_rebuild(int argc, char **argv, struct cmd_env *env)
{
	enum {
		OPT_VERSION = 256,
		OPT_JSON,
		OPT_FORMAT,
		OPT_NEW_UIDVALIDITY,
		OPT_LOCK_TIMEOUT
	};
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "new-uidvalidity", no_argument, NULL, OPT_NEW_UIDVALIDITY },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct uidr u;
	const char *format = NULL, *lock_timeout = NULL;
	int c, i, rc, status = 0;

	memset(&u, 0, sizeof(u));
	u.env = env;
	while ((c = getopt_long(argc, argv, "nqvh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			u.dry_run = true;
			break;
		case 'q':
			u.quiet = true;
			break;
		case 'v':
			u.verbose = true;
			break;
		case 'h':
			return cmd_help(env);
		case OPT_VERSION:
			return print_version();
		case OPT_JSON:
			u.json = true;
			break;
		case OPT_FORMAT:
			format = optarg;
			break;
		case OPT_NEW_UIDVALIDITY:
			u.force = true;
			break;
		case OPT_LOCK_TIMEOUT:
			lock_timeout = optarg;
			break;
		default:
			return cmd_usage_error(env, NULL);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(env, "no mailbox given");
	if ((rc = cmd_load_config(env)) != 0)
		return rc;
	/* the UIDs are the point: write UW's bookkeeping whatever the
	 * configuration says */
	if ((rc = cmd_set(env, "uw-metadata", "yes")) != 0)
		return rc;
	if (lock_timeout != NULL &&
	    (rc = cmd_set(env, "lock-timeout", lock_timeout)) != 0)
		return rc;
	progress_setup(env, u.quiet);

	for (i = optind; i < argc; i++) {
		rc = rebuild_one(&u, argv[i], format);
		if (rc != 0 && status == 0)
			status = rc;
	}
	progress_done();
	return status;
}

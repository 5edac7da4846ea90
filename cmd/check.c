/*
 * check.c - `mailbag check`: read mailboxes end to end and report every
 * defect with its byte offset.  Read-only: the mailbox, its times and
 * its locks are left as they were found.
 *
 * The defects are the data, so they go to stdout (text or JSON Lines);
 * stderr carries only the mailboxes that could not be read at all.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "util.h"

const char cmd_check_usage[] =
	"usage: mailbag check [-q] [-v] [--json] [--format=NAME] [--strict]"
	" MAILBOX...\n"
	"\n"
	"Read each MAILBOX whole and report what is wrong with it, with byte\n"
	"offsets, then one summary line per mailbox.\n"
	"\n"
	"   -q, --quiet          print only the problems of damaged mailboxes,"
	" no summary\n"
	"   -v, --verbose        also print informational notes\n"
	"       --json           JSON Lines: one object per problem and per"
	" mailbox\n"
	"       --format=NAME    read as format NAME instead of probing\n"
	"       --strict         warnings count as damage (exit 65)\n"
	"       --lock-timeout=SECONDS\n"
	"                        wait this long for a busy lock\n"
	"   -h, --help           this text\n"
	"       --version        print the version\n"
	"\n"
	"MAILBOX is a path, INBOX, ~/name, ~user/name or #driver.FORMAT/name;\n"
	"'-' reads more names from stdin, one per line.\n"
	"Exit status: 0 all clean, 65 damage found, else the status of the\n"
	"first mailbox that could not be read (see mailbag-exit(7)).\n";

struct check {
	struct cmd_env *env;
	bool quiet, verbose, json, strict;
	/* Per mailbox. */
	const char *path;
	unsigned ndamage, nwarn;
	/* -q holds the lines back until the mailbox proves damaged. */
	FILE *out;
	char *held;
	size_t nheld;
};

static const char *
level_name(int level)
{
	switch (level) {
	case MB_DIAG_DAMAGE:
		return "damage";
	case MB_DIAG_WARN:
		return "warning";
	default:
		return "info";
	}
}

static void
print_problem(struct check *ck, const struct mb_diag *d)
{
	const char *path = d->path ? d->path : ck->path;
	struct json j;

	if (ck->json) {
		json_begin(&j, ck->out, "problem");
		json_str(&j, "path", path);
		json_int(&j, "offset", d->offset);
		json_uint(&j, "msgno", d->msgno);
		json_uint(&j, "uid", d->uid);
		json_str(&j, "level", level_name(d->level));
		json_str(&j, "code", d->code);
		json_str(&j, "text", d->text);
		json_end(&j);
		return;
	}
	fprintf(ck->out, "%s: ", path);
	if (d->offset >= 0)
		fprintf(ck->out, "at byte %lld: ", (long long)d->offset);
	fputs(d->text ? d->text : "", ck->out);
	if (d->msgno > 0)
		fprintf(ck->out, " (message %lu)", (unsigned long)d->msgno);
	if (d->uid > 0)
		fprintf(ck->out, " [uid %lu]", (unsigned long)d->uid);
	fputc('\n', ck->out);
}

static void
on_diag(void *arg, const struct mb_diag *d)
{
	struct check *ck = arg;

	if (d->level == MB_DIAG_DAMAGE)
		ck->ndamage++;
	else if (d->level == MB_DIAG_WARN)
		ck->nwarn++;
	else if (!ck->verbose)
		return;
	progress_done();
	print_problem(ck, d);
}

/* A message the driver could not read at all, unless a diag said so. */
static void
failed_message(struct check *ck, const struct mb_err *e)
{
	struct mb_diag d;

	d.level = MB_DIAG_DAMAGE;
	d.code = mb_code_name(e->code);
	d.path = e->path[0] ? e->path : ck->path;
	d.offset = e->offset;
	d.msgno = e->msgno;
	d.uid = e->uid;
	d.text = e->msg;
	on_diag(ck, &d);
}

static bool
damaged(const struct check *ck)
{
	return ck->ndamage > 0 || (ck->strict && ck->nwarn > 0);
}

static void
print_summary(struct check *ck, struct mb_box *box, const struct mb_info *in)
{
	const char *kw[MB_MAX_KEYWORDS];
	unsigned nproblems = ck->ndamage + ck->nwarn;
	unsigned i, nkw = 0;
	struct json j;

	if (ck->json) {
		for (i = 0; i < in->nkeywords && i < MB_MAX_KEYWORDS; i++)
			if ((kw[nkw] = mb_keyword(box, i)) != NULL)
				nkw++;
		json_begin(&j, stdout, "mailbox");
		json_str(&j, "path", ck->path);
		json_str(&j, "format",
			 in->format ? in->format : mb_box_format(box));
		json_uint(&j, "messages", in->messages);
		json_int(&j, "bytes", in->size);
		json_uint(&j, "uidvalidity", in->uidvalidity);
		json_uint(&j, "uidnext", in->uidnext);
		json_strv(&j, "keywords", kw, nkw);
		json_str(&j, "variant", in->variant);
		json_str(&j, "compression", in->compression);
		json_str(&j, "archive", in->archive);
		json_uint(&j, "problems", nproblems);
		json_str(&j, "status", damaged(ck) ? "damaged" : "ok");
		json_end(&j);
		return;
	}
	printf("%s: %s, %lu messages, %lld bytes, uidvalidity %lu, uidnext %lu",
	       ck->path, in->format ? in->format : mb_box_format(box),
	       (unsigned long)in->messages, (long long)in->size,
	       (unsigned long)in->uidvalidity, (unsigned long)in->uidnext);
	if (in->nkeywords > 0)
		printf(", %u keywords", in->nkeywords);
	if (in->variant[0])
		printf(", %s", in->variant);
	if (in->archive[0] && in->compression[0])
		printf(", from a %s-compressed %s archive", in->compression,
		       in->archive);
	else if (in->archive[0])
		printf(", from a %s archive", in->archive);
	else if (in->compression[0])
		printf(", %s-compressed", in->compression);
	if (damaged(ck))
		printf(": damaged (%u problem%s)\n", nproblems,
		       nproblems == 1 ? "" : "s");
	else if (nproblems > 0)
		printf(": ok (%u warning%s)\n", nproblems,
		       nproblems == 1 ? "" : "s");
	else
		printf(": ok\n");
}

/* A mailbox that could not be read: stderr, and a record for --json. */
static int
unreadable(struct check *ck, const struct mb_err *e)
{
	struct json j;

	progress_done();
	if (ck->json) {
		json_begin(&j, stdout, "mailbox");
		json_str(&j, "path", ck->path);
		json_str(&j, "status", "error");
		json_str(&j, "code", mb_code_name(e->code));
		json_int(&j, "offset", e->offset);
		json_str(&j, "text", e->msg);
		json_end(&j);
	}
	return report_err(ck->env->prog, ck->path, e);
}

/* Returns 0 (clean or only warnings), 65 (damage) or an error status. */
static int
check_one(struct check *ck, const char *name, const char *format)
{
	char path[4096];
	const char *forced = NULL;
	struct mb_box *box = NULL;
	struct mb_msg *m;
	struct mb_info info;
	struct mb_err e;
	unsigned before;
	int rc, status = 0;

	mb_err_clear(&e);
	if (mb_resolve_name(ck->env->ctx, name, path, sizeof(path), &forced,
			    &e) != MB_OK) {
		ck->path = name;
		return unreadable(ck, &e);
	}
	if (forced != NULL)
		format = forced;
	ck->path = path;
	ck->ndamage = ck->nwarn = 0;
	ck->out = stdout;
	if (ck->quiet) {
		ck->out = open_memstream(&ck->held, &ck->nheld);
		if (ck->out == NULL)
			die(EX_OSERR, ck->env->prog, "out of memory");
	}
	progress_label(path);

	rc = mb_open(ck->env->ctx, path, format,
		     MB_RDONLY | MB_CHECK | MB_STREAM | MB_KEEP_TIMES, &box,
		     &e);
	if (rc != MB_OK) {
		status = unreadable(ck, &e);
		goto out;
	}
	for (;;) {
		before = ck->ndamage;
		mb_err_clear(&e);
		rc = mb_next(box, &m, &e);
		if (rc == MB_OK)
			continue;
		if (rc == MB_END)
			break;
		if (rc == MB_FAILED) {
			if (ck->ndamage == before)
				failed_message(ck, &e);
			continue;
		}
		/* MB_FATAL or MB_RETRY: this mailbox is done for. */
		mb_abort(&box);
		if (ck->ndamage == before && e.code == MB_EFORMAT)
			failed_message(ck, &e);
		status = unreadable(ck, &e);
		goto out;
	}
	mb_err_clear(&e);
	if (mb_box_info(box, &info, &e) != MB_OK) {
		mb_abort(&box);
		status = unreadable(ck, &e);
		goto out;
	}
	progress_done();
	if (!ck->quiet)
		print_summary(ck, box, &info);
	mb_err_clear(&e);
	if (mb_close(&box, &e) != MB_OK)
		status = unreadable(ck, &e);
	else if (damaged(ck))
		status = EX_DATAERR;
out:
	if (ck->quiet) {
		fclose(ck->out);
		if (damaged(ck) || status != 0)
			fwrite(ck->held, 1, ck->nheld, stdout);
		free(ck->held);
		ck->held = NULL;
		ck->nheld = 0;
	}
	if (status == 0 && damaged(ck))
		status = EX_DATAERR;
	return status;
}

/* "-": mailbox names one per line on stdin; the worst status as above. */
static int
check_stdin(struct check *ck, const char *format)
{
	char *line = NULL;
	size_t size = 0;
	ssize_t n;
	int rc, status = 0;
	bool any_damage = false;

	while ((n = getline(&line, &size, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			continue;
		rc = check_one(ck, line, format);
		if (rc == EX_DATAERR)
			any_damage = true;
		else if (rc != 0 && status == 0)
			status = rc;
	}
	free(line);
	if (ferror(stdin)) {
		warnmsg(ck->env->prog, "cannot read mailbox names from stdin");
		if (status == 0)
			status = EX_IOERR;
	}
	return status == 0 && any_damage ? EX_DATAERR : status;
}

int
cmd_check(int argc, char **argv, struct cmd_env *env)
{
	enum {
		OPT_VERSION = 256,
		OPT_JSON,
		OPT_FORMAT,
		OPT_STRICT,
		OPT_LOCK_TIMEOUT
	};
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct check ck;
	const char *format = NULL, *lock_timeout = NULL;
	int c, i, rc, status = 0;
	bool any_damage = false;

	memset(&ck, 0, sizeof(ck));
	ck.env = env;
	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			ck.quiet = true;
			break;
		case 'v':
			ck.verbose = true;
			break;
		case 'h':
			return cmd_help(env);
		case OPT_VERSION:
			return print_version();
		case OPT_JSON:
			ck.json = true;
			break;
		case OPT_FORMAT:
			format = optarg;
			break;
		case OPT_STRICT:
			ck.strict = true;
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
	if (lock_timeout != NULL &&
	    (rc = cmd_set(env, "lock-timeout", lock_timeout)) != 0)
		return rc;
	mb_ctx_set_diag(env->ctx, on_diag, &ck);
	progress_setup(env, ck.quiet);

	for (i = optind; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			rc = check_stdin(&ck, format);
		} else {
			rc = check_one(&ck, argv[i], format);
		}
		if (rc == EX_DATAERR)
			any_damage = true;
		else if (rc != 0 && status == 0)
			status = rc;
	}
	progress_done();
	if (status == 0 && any_damage)
		status = EX_DATAERR;
	return status;
}

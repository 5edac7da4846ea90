/*
 * repair.c - `mailbag repair` (also `mbx-repair`): put a damaged mailbox
 * back in order, keeping every intact message with its flags, keywords
 * and UID, and every other byte in a salvage file.  The logic is in
 * repair/ (repair/repair-mbox.h); this file parses options and prints
 * the regions the repair reports.
 */
#include <getopt.h>
#include <string.h>
#include <sysexits.h>

#include "repair-mbox.h"
#include "util.h"

const char cmd_repair_usage[] =
	"usage: mailbag repair [-n] [-q] [--json] [--format=NAME]"
	" [--salvage-dir=DIR]\n"
	"                      [--from-lines=keep|split]"
	" [--drop-content-length] [--compact] MAILBOX\n"
	"\n"
	"Repair MAILBOX in place under the locks other mail programs honour:\n"
	"messages are framed again, bytes that are no message are recovered\n"
	"as one when they hold a header or saved to salvage files, unquoted\n"
	"\"From \" lines, wrong Content-Length headers, broken UIDs and a lost\n"
	"FOLDER INTERNAL DATA message are fixed.  A verified copy of the\n"
	"original is kept as MAILBOX.mailbag-backup.YYYYMMDDTHHMMSS.\n"
	"\n"
	"   -n, --dry-run        report what would be done; write nothing\n"
	"   -q, --quiet          print only the summary line\n"
	"       --json           JSON Lines: one object per region and one"
	" per mailbox\n"
	"       --format=NAME    repair as format NAME (unix, mmdf, mbx) instead of"
	" probing\n"
	"       --salvage-dir=DIR\n"
	"                        salvage files go to DIR (default"
	" MAILBOX.salvage)\n"
	"       --from-lines=keep|split\n"
	"                        an unquoted body \"From \" line stays in its"
	" message\n"
	"                        and is quoted (keep, the default) or starts a"
	" new\n"
	"                        message, as lax readers split (split)\n"
	"       --drop-content-length\n"
	"                        remove a wrong Content-Length instead of"
	" correcting it\n"
	"       --compact        mbx: rewrite the whole file, dropping damaged\n"
	"                        bytes, instead of patching it in place\n"
	"       --lock-timeout=SECONDS\n"
	"                        wait this long for a busy lock\n"
	"   -h, --help           this text\n"
	"       --version        print the version\n"
	"\n"
	"Exit status: 0 nothing was damaged, 65 damage was found and repaired\n"
	"(with -n: would be), 75 the mailbox is locked, else see"
	" mailbag-exit(7).\n";

struct repair {
	struct cmd_env *env;
	const char *path;
	bool json, quiet, dry_run;
};

static const char *
action_name(int a)
{
	switch (a) {
	case RP_KEPT:
		return "kept";
	case RP_CHANGED:
		return "changed";
	case RP_RECOVERED:
		return "recovered";
	case RP_SALVAGED:
		return "salvaged";
	case RP_BLANK:
		return "blank";
	case RP_PSEUDO:
		return "uid-state";
	default:
		return "recovery";
	}
}

static void
on_region(void *arg, const struct rp_region *r)
{
	struct repair *rp = arg;
	struct json j;

	if (rp->json) {
		json_begin(&j, stdout, "region");
		json_str(&j, "path", rp->path);
		json_str(&j, "action", action_name(r->action));
		json_int(&j, "offset", r->offset);
		json_int(&j, "length", r->length);
		json_uint(&j, "messages", r->messages);
		json_bool(&j, "damaged", r->damage);
		json_str(&j, "file", r->file);
		json_str(&j, "text", r->text);
		json_end(&j);
		return;
	}
	if (rp->quiet)
		return;
	printf("%s: ", rp->path);
	if (r->offset >= 0)
		printf("bytes %lld-%lld: ", (long long)r->offset,
		       (long long)(r->offset + r->length));
	printf("%s: %s", action_name(r->action), r->text ? r->text : "");
	if (r->file != NULL)
		printf(" -> %s", r->file);
	putchar('\n');
}

static int
failed(struct repair *rp, const struct mb_err *e)
{
	struct json j;

	if (rp->json) {
		json_begin(&j, stdout, "mailbox");
		json_str(&j, "path", rp->path);
		json_str(&j, "status", "error");
		json_str(&j, "code", mb_code_name(e->code));
		json_int(&j, "offset", e->offset);
		json_str(&j, "text", e->msg);
		json_end(&j);
	}
	return report_err(rp->env->prog, rp->path, e);
}

static void
summary(struct repair *rp, const struct rp_result *r)
{
	const char *status = !r->damaged ? "clean" :
			     rp->dry_run ? "damaged" :
					   "repaired";
	struct json j;

	if (rp->json) {
		json_begin(&j, stdout, "mailbox");
		json_str(&j, "path", rp->path);
		json_str(&j, "format", r->format);
		json_str(&j, "status", status);
		json_bool(&j, "dry_run", rp->dry_run);
		json_bool(&j, "written", r->written);
		json_bool(&j, "in_place", r->in_place);
		json_uint(&j, "placeholders", r->placeholders);
		json_uint(&j, "messages", r->messages);
		json_uint(&j, "kept", r->kept);
		json_uint(&j, "changed", r->changed);
		json_uint(&j, "recovered", r->recovered);
		json_uint(&j, "salvaged", r->salvaged);
		json_int(&j, "bytes_before", r->size_before);
		json_int(&j, "bytes_after", r->size_after);
		json_uint(&j, "uidvalidity", r->uidvalidity);
		json_bool(&j, "renumbered", r->renumbered);
		json_str(&j, "backup", r->backup[0] ? r->backup : NULL);
		json_str(&j, "salvage_dir",
			 r->salvaged > 0 ? r->salvage_dir : NULL);
		json_end(&j);
		return;
	}
	if (!r->damaged) {
		printf("%s: %s, %lu messages: nothing damaged\n", rp->path,
		       r->format, (unsigned long)r->messages);
		return;
	}
	printf("%s: %s, %s: %lu messages (%lu kept as they were, %lu changed,"
	       " %lu recovered), %lu salvage file%s",
	       rp->path, r->format,
	       rp->dry_run ? "damaged, would be repaired" : "repaired",
	       (unsigned long)r->messages, (unsigned long)r->kept,
	       (unsigned long)r->changed, (unsigned long)r->recovered,
	       (unsigned long)r->salvaged, r->salvaged == 1 ? "" : "s");
	if (r->salvaged > 0)
		printf(" in %s", r->salvage_dir);
	if (r->backup[0])
		printf("; original kept as %s", r->backup);
	if (r->placeholders > 0)
		printf("; %lu damaged region%s left in place as expunged "
		       "placeholder%s (reclaimed by the next expunge, or now "
		       "with --compact)",
		       (unsigned long)r->placeholders,
		       r->placeholders == 1 ? "" : "s",
		       r->placeholders == 1 ? "" : "s");
	putchar('\n');
}

int
cmd_repair(int argc, char **argv, struct cmd_env *env)
{
	enum {
		OPT_VERSION = 256,
		OPT_JSON,
		OPT_FORMAT,
		OPT_SALVAGE_DIR,
		OPT_FROM_LINES,
		OPT_DROP_CL,
		OPT_COMPACT,
		OPT_LOCK_TIMEOUT
	};
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "salvage-dir", required_argument, NULL, OPT_SALVAGE_DIR },
		{ "from-lines", required_argument, NULL, OPT_FROM_LINES },
		{ "drop-content-length", no_argument, NULL, OPT_DROP_CL },
		{ "compact", no_argument, NULL, OPT_COMPACT },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct repair rp;
	struct rp_opts o;
	struct rp_result res;
	struct mb_err e;
	char path[4096];
	const char *forced = NULL, *lock_timeout = NULL;
	int c, rc;

	memset(&rp, 0, sizeof(rp));
	memset(&o, 0, sizeof(o));
	rp.env = env;
	while ((c = getopt_long(argc, argv, "nqh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			rp.dry_run = o.dry_run = true;
			break;
		case 'q':
			rp.quiet = true;
			break;
		case 'h':
			return cmd_help(env);
		case OPT_VERSION:
			return print_version();
		case OPT_JSON:
			rp.json = true;
			break;
		case OPT_FORMAT:
			o.format = optarg;
			break;
		case OPT_SALVAGE_DIR:
			o.salvage_dir = optarg;
			break;
		case OPT_FROM_LINES:
			if (strcmp(optarg, "keep") == 0)
				o.from_lines = RP_FROM_KEEP;
			else if (strcmp(optarg, "split") == 0)
				o.from_lines = RP_FROM_SPLIT;
			else
				return cmd_usage_error(
					env, "--from-lines takes keep "
					     "or split");
			break;
		case OPT_DROP_CL:
			o.drop_cl = true;
			break;
		case OPT_COMPACT:
			o.compact = true;
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
	if (optind + 1 < argc)
		return cmd_usage_error(env, "one mailbox at a time");
	if ((rc = cmd_load_config(env)) != 0)
		return rc;
	if (lock_timeout != NULL &&
	    (rc = cmd_set(env, "lock-timeout", lock_timeout)) != 0)
		return rc;

	mb_err_clear(&e);
	rp.path = argv[optind];
	if (mb_resolve_name(env->ctx, argv[optind], path, sizeof(path), &forced,
			    &e) != MB_OK)
		return failed(&rp, &e);
	rp.path = path;
	if (forced != NULL && o.format == NULL)
		o.format = forced;
	if (rp_repair(env->ctx, path, &o, on_region, &rp, &res, &e) != MB_OK)
		return failed(&rp, &e);
	summary(&rp, &res);
	return res.damaged ? EX_DATAERR : 0;
}

/*
 * prune.c - `mailbag prune`: delete and expunge the selected messages of
 * a mailbox (UW mailutil prune, shared/spec/uw-formats.md 16, but with
 * exit status 0 on success).  Messages that were \Deleted before and are
 * not selected stay, with their flag.  Selection is select.c's: IMAP
 * SEARCH criteria (a sequence set of numbers, or of UIDs with --uid, is
 * one), and PCRE2 --match/--body-match.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "manage.h"
#include "util.h"

const char cmd_prune_usage[] =
	"usage: mailbag prune [-nq] [--json] [--uid] [--match=HEADER:REGEX]...\n"
	"                     [--body-match=REGEX]... MAILBOX CRITERIA...\n"
	"\n"
	"Delete the messages of MAILBOX that match CRITERIA and expunge them.\n"
	"CRITERIA are IMAP SEARCH keys as mailbag search takes them (see\n"
	"mailbag-search(1)): a sequence set of message numbers (1:5,7,10:*;\n"
	"* is the last), FLAGGED, BEFORE 1-Jan-2024, SUBJECT \"some words\",\n"
	"OR K1 K2, NOT K, ...; keys in a row must all match.  Prune all with\n"
	"ALL.\n"
	"\n"
	"   -u, --uid        the first criterion is a set of UIDs\n"
	"       --match=HEADER:REGEX\n"
	"                    also require a HEADER field whose decoded value\n"
	"                    matches the PCRE2 REGEX (repeatable)\n"
	"       --body-match=REGEX\n"
	"                    also require a line of decoded body text to\n"
	"                    match REGEX (repeatable)\n"
	"   -n, --dry-run    say what would be pruned\n"
	"   -q, --quiet      print nothing on success\n"
	"       --json       print the result as a JSON object\n"
	"   -h, --help       this text\n"
	"       --version    print the version\n"
	"\n"
	"Exit status: 0 done (also when nothing matches); 66 no such\n"
	"mailbox; 69 the format cannot expunge; 75 the mailbox is busy (try\n"
	"later); 64 usage or bad CRITERIA.\n";

int
cmd_prune(int argc, char **argv, struct cmd_env *env)
{
	static const struct option opts[] = {
		MG_COMMON_LONGOPTS,
		SEL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct mg_opts o = { 0 };
	struct mb_box *box = NULL;
	struct mg_name n;
	struct mb_err e;
	struct sel sel;
	struct sel_args a = { 0 };
	struct json j;
	bool *marks = NULL;
	uint32_t count = 0, selected = 0, expunged = 0;
	char why[512];
	int c, rc;

	while ((c = getopt_long(argc, argv, "nqhu", opts, NULL)) != -1) {
		rc = mg_common_opt(env, c, &o);
		if (rc >= 0)
			return rc;
		if (rc == -1)
			continue;
		sel_opt(&a, c, optarg);
	}
	if (argc - optind < 1 || (argc - optind < 2 && a.nre == 0)) {
		sel_args_free(&a);
		return cmd_usage_error(env, "MAILBOX CRITERIA, please");
	}
	if (!sel_parse_search(&sel, &a, argc - optind - 1, argv + optind + 1,
			      why, sizeof(why))) {
		sel_args_free(&a);
		return cmd_usage_error(env, "%s", why);
	}
	sel_args_free(&a);
	if ((rc = cmd_load_config(env)) != 0 ||
	    (rc = mg_resolve(env, argv[optind], &n)) != 0)
		goto out;
	mb_err_clear(&e);
	if (mg_open_scan(env, n.path, n.format, o.dry_run ? MB_RDONLY : MB_RDWR,
			 &box, &count, &e) != MB_OK ||
	    sel_mark(&sel, box, count, &marks, &selected, &e) != MB_OK) {
		rc = report_err(env->prog, n.path, &e);
		goto out;
	}
	if (!o.dry_run && selected > 0) {
		if (mg_expunge_marked(box, marks, count, &expunged, &e) !=
			    MB_OK ||
		    mb_close(&box, &e) != MB_OK) {
			rc = report_err(env->prog, n.path, &e);
			goto out;
		}
	}
	if (o.json) {
		json_begin(&j, stdout, "prune");
		json_bool(&j, "dry_run", o.dry_run);
		json_str(&j, "path", n.path);
		json_uint(&j, "messages", count);
		json_uint(&j, "selected", selected);
		json_uint(&j, "expunged", expunged);
		json_end(&j);
	} else if (!o.quiet) {
		if (selected == 0)
			printf("no matching messages in %s, nothing pruned\n",
			       n.path);
		else if (o.dry_run)
			printf("would prune %u of %u messages from %s\n",
			       (unsigned)selected, (unsigned)count, n.path);
		else
			printf("pruned %u of %u messages from %s\n",
			       (unsigned)expunged, (unsigned)count, n.path);
	}
	rc = 0;
out:
	if (box != NULL)
		mb_abort(&box);
	free(marks);
	sel_free(&sel);
	return rc;
}

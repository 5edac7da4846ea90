/*
 * list.c - `mailbag list`: the mailboxes under a directory whose names
 * match an IMAP LIST pattern ("*" any run of characters, "%" any run
 * without "/"), with the format of each (libmbox/list.c's mb_list).
 */
#include <getopt.h>
#include <string.h>
#include <sysexits.h>

#include "manage.h"
#include "util.h"

const char cmd_list_usage[] =
	"usage: mailbag list [-q] [--json] [--all] [ROOT] [PATTERN]\n"
	"\n"
	"List the mailboxes and directories under ROOT (default: the current\n"
	"directory) whose names match PATTERN (default: *), one per line:\n"
	"the format (\"dir\" for a directory that is no mailbox), a tab and\n"
	"the name relative to ROOT.  In PATTERN, * matches any characters\n"
	"and % any but /.  A single argument with * or % in it is PATTERN.\n"
	"\n"
	"   -a, --all        list other files and unreadable entries too\n"
	"   -q, --quiet      print nothing; the exit status says whether\n"
	"                    anything matched\n"
	"       --json       one JSON object per entry, with its attributes\n"
	"   -h, --help       this text\n"
	"       --version    print the version\n"
	"\n"
	"Exit status: 0 something matched; 1 nothing matched; 66 no such\n"
	"ROOT; 64 usage.\n";

struct lister {
	const struct mg_opts *o;
	unsigned count;
};

static const struct {
	unsigned bit;
	const char *name;
} attr_names[] = {
	{ MB_LATT_NOINFERIORS, "\\Noinferiors" },
	{ MB_LATT_NOSELECT, "\\Noselect" },
	{ MB_LATT_HASCHILDREN, "\\HasChildren" },
	{ MB_LATT_HASNOCHILDREN, "\\HasNoChildren" },
	{ MB_LATT_MARKED, "\\Marked" },
	{ MB_LATT_UNMARKED, "\\Unmarked" },
	{ MB_LATT_SYMLINK, "symlink" },
	{ MB_LATT_DIRBOX, "dirbox" },
	{ MB_LATT_NOWALK, "nowalk" },
};

static int
one(void *arg, const struct mb_list_entry *ent)
{
	static const char *const kinds[] = { "mailbox", "dir", "other",
					     "error" };
	struct lister *l = arg;
	const char *attrs[sizeof(attr_names) / sizeof(attr_names[0])];
	size_t i, na = 0;
	struct json j;

	l->count++;
	if (l->o->quiet)
		return 0;
	if (l->o->json) {
		for (i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++)
			if (ent->attrs & attr_names[i].bit)
				attrs[na++] = attr_names[i].name;
		json_begin(&j, stdout, "mailbox");
		json_str(&j, "name", ent->name);
		json_str(&j, "path", ent->path);
		json_str(&j, "kind", kinds[ent->kind]);
		json_str(&j, "format", ent->format);
		json_strv(&j, "attributes", attrs, na);
		if (ent->reason != NULL)
			json_str(&j, "reason", ent->reason);
		json_end(&j);
		return 0;
	}
	switch (ent->kind) {
	case MB_LIST_MAILBOX:
		printf("%s\t%s\n", ent->format, ent->name);
		break;
	case MB_LIST_DIR:
		printf("dir\t%s/\n", ent->name);
		break;
	default:
		printf("%s\t%s (%s)\n", kinds[ent->kind], ent->name,
		       ent->reason ? ent->reason : "?");
		break;
	}
	return 0;
}

int
cmd_list(int argc, char **argv, struct cmd_env *env)
{
	static const struct option opts[] = {
		MG_COMMON_LONGOPTS,
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct mg_opts o = { 0 };
	struct lister l = { &o, 0 };
	const char *root = ".", *pattern = "*";
	unsigned flags = 0;
	struct mg_name n;
	struct mb_err e;
	int c, rc, nargs;

	while ((c = getopt_long(argc, argv, "qha", opts, NULL)) != -1) {
		if (c == 'n')
			return cmd_usage_error(env, NULL);
		rc = mg_common_opt(env, c, &o);
		if (rc >= 0)
			return rc;
		if (rc == -1)
			continue;
		flags |= MB_LIST_ALL; /* 'a' */
	}
	nargs = argc - optind;
	if (nargs > 2)
		return cmd_usage_error(env, "ROOT and PATTERN at most");
	if (nargs == 2) {
		root = argv[optind];
		pattern = argv[optind + 1];
	} else if (nargs == 1 && strpbrk(argv[optind], "*%") != NULL) {
		pattern = argv[optind];
	} else if (nargs == 1) {
		root = argv[optind];
	}
	if ((rc = cmd_load_config(env)) != 0)
		return rc;
	if ((rc = mg_resolve(env, root, &n)) != 0)
		return rc;
	mb_err_clear(&e);
	if (mb_list(env->ctx, n.path, pattern, flags, one, &l, &e) != MB_OK)
		return report_err(env->prog, n.path, &e);
	return l.count > 0 ? 0 : 1;
}

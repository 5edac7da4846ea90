/*
 * dmail.c - `mailbag dmail`: delivery as the user, from procmail, as UW's
 * dmail does it (shared/spec/uw-formats.md section 15), with flags and
 * keywords set at delivery.  Unlike UW's dmail, a folder that does not
 * exist is an error (or is created with --create), never a silent
 * delivery to INBOX.  The delivery itself is deliver.c's.
 */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <syslog.h>
#include <unistd.h>

#include "deliver.h"
#include "util.h"

const char cmd_dmail_usage[] =
	"usage: mailbag dmail [-v] [-f SENDER] [-s] [-k KEYWORD]..."
	" [--flags=FLAGS]\n"
	"                     [--create] [-b FORMAT] [USER][+FOLDER]\n"
	"\n"
	"Deliver the message on stdin, as the user running it (procmail's\n"
	"delivery agent), to INBOX or to FOLDER (relative to the home\n"
	"directory).  A FOLDER that does not exist is an error unless\n"
	"--create is given.  USER, if given, must be the invoking user.\n"
	"\n"
	"   -f, -r, --from=SENDER  the envelope sender (overrides a From line)\n"
	"   -s                     set \\Seen\n"
	"   -k, --keyword=KEYWORDS set these keywords (space-separated;\n"
	"                          repeatable); new ones are added to the\n"
	"                          mailbox's list\n"
	"       --flags=FLAGS      set these flags: seen, answered, flagged,\n"
	"                          deleted, draft (comma- or space-separated,\n"
	"                          a leading \\ allowed)\n"
	"       --create           create a missing FOLDER\n"
	"   -b, --format=FORMAT    format of a created INBOX or FOLDER\n"
	"                          (default: the new-format setting)\n"
	"   -v, --verbose          say where the message went\n"
	"   -h, --help             this text\n"
	"       --version          print the version\n"
	"\n"
	"Exit status: 0 delivered; 73 (EX_CANTCREAT) FOLDER does not exist;\n"
	"75 (EX_TEMPFAIL) delivery may succeed later (lock busy, disk full,\n"
	"I/O error, unsafe mailbox); 77 run as root or for another user;\n"
	"65 empty message; 64 usage.\n";

static const struct {
	const char *name;
	unsigned bit;
} flag_names[] = {
	{ "seen", MB_SEEN },	   { "answered", MB_ANSWERED },
	{ "flagged", MB_FLAGGED }, { "deleted", MB_DELETED },
	{ "draft", MB_DRAFT },
};

/* FLAGS into *out; false for an unknown name (put in *bad). */
static bool
parse_flags(char *list, unsigned *out, const char **bad)
{
	char *save = NULL, *w;
	size_t i;

	for (w = strtok_r(list, ", \t", &save); w != NULL;
	     w = strtok_r(NULL, ", \t", &save)) {
		if (*w == '\\')
			w++;
		for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
			if (strcasecmp(w, flag_names[i].name) == 0)
				break;
		if (i == sizeof(flag_names) / sizeof(flag_names[0])) {
			*bad = w;
			return false;
		}
		*out |= flag_names[i].bit;
	}
	return true;
}

/* A keyword as IMAP allows it: printable ASCII, no specials. */
static bool
keyword_ok(const char *k)
{
	const unsigned char *p = (const unsigned char *)k;

	if (*p == '\0' || *p == '\\')
		return false;
	for (; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("(){%*\"\\]", *p))
			return false;
	return true;
}

struct dmail {
	char *kw[MB_MAX_KEYWORDS];
	size_t nkw;
};

static int
add_keywords(struct dmail *dm, struct cmd_env *env, const char *arg)
{
	char *copy = xstrdup(arg), *save = NULL, *w;
	size_t i;

	for (w = strtok_r(copy, " \t", &save); w != NULL;
	     w = strtok_r(NULL, " \t", &save)) {
		if (!keyword_ok(w)) {
			free(copy);
			return cmd_usage_error(env, "bad keyword '%s'", w);
		}
		for (i = 0; i < dm->nkw; i++)
			if (strcasecmp(dm->kw[i], w) == 0)
				break;
		if (i < dm->nkw)
			continue;
		if (dm->nkw == MB_MAX_KEYWORDS) {
			free(copy);
			return cmd_usage_error(env, "more than %d keywords",
					       MB_MAX_KEYWORDS);
		}
		dm->kw[dm->nkw++] = xstrdup(w);
	}
	free(copy);
	return 0;
}

static int
run(struct cmd_env *env, struct dl_job *j, const char *folder, bool create,
    const char *format)
{
	char path[PATH_MAX];
	const char *cfmt;
	struct mb_err e;
	bool missing = false;
	int n, rc;

	mb_err_clear(&e);
	if (folder != NULL) {
		n = snprintf(path, sizeof(path), "%s/%s", j->pw->pw_dir,
			     folder);
		if (n < 0 || (size_t)n >= sizeof(path))
			return cmd_usage_error(env, "folder name too long");
		rc = dl_append(j, path, create ? DL_CREATE : DL_NO_CREATE,
			       format, &missing, &e);
		if (rc != MB_OK && missing) {
			warnmsg(env->prog,
				"%s: no such folder (--create makes it)", path);
			syslog(LOG_NOTICE, "no such folder %s", path);
			return EX_CANTCREAT;
		}
	} else {
		rc = dl_inbox(j->ctx, j->pw, format, path, sizeof(path), &cfmt,
			      &e);
		if (rc == MB_OK)
			rc = dl_append(j, path, DL_CREATE_EMPTY, cfmt, &missing,
				       &e);
	}
	if (rc != MB_OK) {
		warnmsg(env->prog, "%s%s%s", e.path, e.path[0] ? ": " : "",
			e.msg);
		syslog(LOG_ERR, "delivery failed: %s%s%s", e.path,
		       e.path[0] ? ": " : "", e.msg);
		return EX_TEMPFAIL;
	}
	if (j->verbose)
		fprintf(stderr, "%s: delivered to %s\n", env->prog, path);
	syslog(LOG_INFO, "delivered to %s", path);
	return 0;
}

int
cmd_dmail(int argc, char **argv, struct cmd_env *env)
{
	enum { OPT_VERSION = 256, OPT_FLAGS, OPT_CREATE };
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "keyword", required_argument, NULL, 'k' },
		{ "flags", required_argument, NULL, OPT_FLAGS },
		{ "create", no_argument, NULL, OPT_CREATE },
		{ "format", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct dmail dm;
	struct dl_msg msg;
	struct dl_job j;
	struct passwd *pwp, pw;
	const char *format = NULL, *bad = NULL, *arg, *plus, *folder = NULL;
	bool create = false, verbose = false;
	unsigned flags = 0;
	char *fl;
	size_t i, ulen;
	int c, rc;

	memset(&dm, 0, sizeof(dm));
	memset(&msg, 0, sizeof(msg));
	msg.fd = -1;
	while ((c = getopt_long(argc, argv, "f:r:sk:b:vDh", opts, NULL)) !=
	       -1) {
		rc = 0;
		switch (c) {
		case 'f':
		case 'r':
			free(msg.sender);
			msg.sender = xstrdup(optarg);
			break;
		case 's':
			flags |= MB_SEEN;
			break;
		case 'k':
			rc = add_keywords(&dm, env, optarg);
			break;
		case OPT_FLAGS:
			fl = xstrdup(optarg);
			if (!parse_flags(fl, &flags, &bad))
				rc = cmd_usage_error(env, "unknown flag '%s'",
						     bad);
			free(fl);
			break;
		case OPT_CREATE:
			create = true;
			break;
		case 'b':
			format = optarg;
			break;
		case 'v':
		case 'D':
			verbose = true;
			break;
		case 'h':
			rc = cmd_help(env);
			goto out;
		case OPT_VERSION:
			rc = print_version();
			goto out;
		default:
			rc = cmd_usage_error(env, NULL);
			break;
		}
		if (rc != 0)
			goto out;
	}
	if (argc - optind > 1) {
		rc = cmd_usage_error(env, "too many recipients");
		goto out;
	}
	if (getuid() == 0 || geteuid() == 0) {
		warnmsg(env->prog, "dmail may not be run as root: it delivers "
				   "as the user (see mailbag deliver)");
		rc = EX_NOPERM;
		goto out;
	}
	pwp = getpwuid(getuid());
	if (pwp == NULL) {
		warnmsg(env->prog, "uid %u has no password entry",
			(unsigned)getuid());
		rc = EX_TEMPFAIL;
		goto out;
	}
	pw = *pwp;
	arg = optind < argc ? argv[optind] : pw.pw_name;
	plus = strchr(arg, '+');
	ulen = plus ? (size_t)(plus - arg) : strlen(arg);
	if (ulen > 0 && (ulen != strlen(pw.pw_name) ||
			 strncmp(arg, pw.pw_name, ulen) != 0)) {
		warnmsg(env->prog, "%s: cannot deliver to another user", arg);
		rc = EX_NOPERM;
		goto out;
	}
	if (plus != NULL && !dl_folder_is_inbox(plus + 1)) {
		folder = plus + 1;
		if (!dl_folder_ok(folder)) {
			rc = cmd_usage_error(env, "invalid folder name '%s'",
					     folder);
			goto out;
		}
	}
	if ((rc = cmd_load_config(env)) != 0) {
		rc = rc == EX_CONFIG ? EX_TEMPFAIL : rc;
		goto out;
	}
	if (format != NULL) {
		const char *f;

		for (i = 0; (f = mb_format_name((unsigned)i)) != NULL; i++)
			if (strcmp(f, format) == 0)
				break;
		if (f == NULL) {
			rc = cmd_usage_error(env, "unknown format '%s'",
					     format);
			goto out;
		}
	}
	openlog("mailbag-dmail", LOG_PID, LOG_MAIL);
	rc = dl_spool(&msg, 0, env->prog);
	if (rc == 0) {
		memset(&j, 0, sizeof(j));
		j.ctx = env->ctx;
		j.prog = env->prog;
		j.via = "dmail";
		j.rcpt = arg;
		j.msg = &msg;
		j.pw = &pw;
		j.check_owner = false;
		j.new_format = format;
		j.flags = flags;
		j.keywords = (const char *const *)dm.kw;
		j.nkeywords = dm.nkw;
		j.verbose = verbose;
		rc = run(env, &j, folder, create, format);
	}
	closelog();
out:
	dl_msg_free(&msg);
	for (i = 0; i < dm.nkw; i++)
		free(dm.kw[i]);
	return rc;
}

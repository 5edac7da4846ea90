/*
 * append.c - `mailbag append`: add the message on stdin to a mailbox,
 * with flags, keywords and an internal date (UW mailutil append's job
 * for one message from a pipeline).  An envelope "From " line first is
 * taken as the sender and dropped; the format writes its own envelope.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "deliver.h"
#include "manage.h"
#include "util.h"

const char cmd_append_usage[] =
	"usage: mailbag append [-nq] [--json] [--flags FLAGS] [--keywords K,...]\n"
	"                      [--date DATE] [--from SENDER] [--create]\n"
	"                      [--to FORMAT] MAILBOX < message\n"
	"\n"
	"Append the message on standard input to MAILBOX, which must exist\n"
	"unless --create is given or MAILBOX is #driver.FORMAT/name.  An\n"
	"envelope \"From \" line at the start gives the sender and the date and\n"
	"is dropped.\n"
	"\n"
	"   -F, --flags=FLAGS      seen, answered, flagged, deleted, draft\n"
	"                          (comma- or space-separated, \\ allowed)\n"
	"   -k, --keywords=K,...   keywords to set (added to the mailbox's\n"
	"                          list where needed)\n"
	"   -d, --date=DATE        the internal date (RFC 5322, ctime or IMAP\n"
	"                          form; default: the From line's, else now)\n"
	"   -f, --from=SENDER      the envelope sender (overrides a From line)\n"
	"   -c, --create           create MAILBOX if it does not exist\n"
	"   -t, --to=FORMAT        format of a created mailbox\n"
	"   -n, --dry-run          read the message, say what would be done\n"
	"   -q, --quiet            print nothing on success\n"
	"       --json             print the result as a JSON object\n"
	"   -h, --help             this text\n"
	"       --version          print the version\n"
	"\n"
	"Exit status: 0 appended; 66 no such mailbox; 65 empty message;\n"
	"75 mailbox busy or disk full (try later); 64 usage.\n";

static const struct {
	const char *name;
	unsigned bit;
} flag_names[] = {
	{ "seen", MB_SEEN },	   { "answered", MB_ANSWERED },
	{ "flagged", MB_FLAGGED }, { "deleted", MB_DELETED },
	{ "draft", MB_DRAFT },
};

static bool
parse_flags(const char *arg, unsigned *out, char *bad, size_t size)
{
	char *list = xstrdup(arg), *save = NULL, *w;
	size_t i;

	for (w = strtok_r(list, ", \t", &save); w != NULL;
	     w = strtok_r(NULL, ", \t", &save)) {
		if (*w == '\\')
			w++;
		for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
			if (strcasecmp(w, flag_names[i].name) == 0)
				break;
		if (i == sizeof(flag_names) / sizeof(flag_names[0])) {
			snprintf(bad, size, "%s", w);
			free(list);
			return false;
		}
		*out |= flag_names[i].bit;
	}
	free(list);
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

struct append {
	char *kw[MB_MAX_KEYWORDS];
	size_t nkw;
};

static int
add_keywords(struct append *a, struct cmd_env *env, const char *arg)
{
	char *copy = xstrdup(arg), *save = NULL, *w;
	size_t i;
	int rc = 0;

	for (w = strtok_r(copy, ", \t", &save); w != NULL && rc == 0;
	     w = strtok_r(NULL, ", \t", &save)) {
		if (!keyword_ok(w)) {
			rc = cmd_usage_error(env, "bad keyword '%s'", w);
			break;
		}
		for (i = 0; i < a->nkw; i++)
			if (strcasecmp(a->kw[i], w) == 0)
				break;
		if (i < a->nkw)
			continue;
		if (a->nkw == MB_MAX_KEYWORDS)
			rc = cmd_usage_error(env, "more than %d keywords",
					     MB_MAX_KEYWORDS);
		else
			a->kw[a->nkw++] = xstrdup(w);
	}
	free(copy);
	return rc;
}

/*
 * The date of an envelope line "From SENDER DATE" as the internal date,
 * as UW's copy and append take it from a source mailbox; left alone (now)
 * when it is no date.
 */
static void
envelope_date(const char *line, struct mb_newmsg *meta)
{
	const char *p = line + 5;
	size_t len;

	while (*p == ' ')
		p++;
	p += strcspn(p, " \t");
	while (*p == ' ' || *p == '\t')
		p++;
	len = strlen(p);
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' '))
		len--;
	if (len > 0 && !mb_date_parse(p, len, &meta->idate, &meta->idate_tz))
		meta->idate = -1;
}

static int
do_append(struct cmd_env *env, const struct mg_opts *o, struct mg_name *n,
	  const struct dl_msg *msg, struct mb_newmsg *meta, bool create,
	  const char *to)
{
	struct mb_reader *r = NULL;
	struct mb_box *box = NULL;
	struct mb_err e;
	struct stat st;
	uint32_t uid = 0;
	bool exists;
	const char *format = NULL;
	struct json j;
	int rc;

	mb_err_clear(&e);
	exists = lstat(n->path, &st) == 0;
	if (!exists && !create && n->format == NULL) {
		warnmsg(env->prog, "%s: no such mailbox (--create makes it)",
			n->path);
		return EX_NOINPUT;
	}
	if (o->dry_run) {
		format = exists	   ? mb_probe(env->ctx, n->path, &e) :
			 to	   ? to :
			 n->format ? n->format :
				     mb_ctx_get(env->ctx, "new-format");
		goto done;
	}
	if (exists) {
		rc = mb_open(env->ctx, n->path, n->format, MB_RDWR, &box, &e);
	} else {
		rc = mg_make_parents(n->path, &e);
		if (rc == MB_OK)
			rc = mb_create(env->ctx, n->path, to ? to : n->format,
				       MB_CREATE_ATOMIC | MB_CREATE_EXCL, &box,
				       &e);
	}
	if (rc != MB_OK)
		return report_err(env->prog, n->path, &e);
	format = mb_box_format(box);
	r = mb_reader_fd(msg->fd, 0, msg->size);
	if (r == NULL) {
		mb_abort(&box);
		warnmsg(env->prog, "out of memory");
		return EX_OSERR;
	}
	rc = mb_append(box, meta, r, &uid, &e);
	mb_reader_close(&r);
	if (rc != MB_OK) {
		mb_abort(&box);
		return report_err(env->prog, n->path, &e);
	}
	if (mb_close(&box, &e) != MB_OK)
		return report_err(env->prog, n->path, &e);
done:
	if (o->json) {
		json_begin(&j, stdout, "append");
		json_bool(&j, "dry_run", o->dry_run);
		json_str(&j, "path", n->path);
		json_str(&j, "format", format);
		json_int(&j, "bytes", msg->size);
		json_str(&j, "sender", meta->sender);
		if (uid != 0)
			json_uint(&j, "uid", uid);
		json_bool(&j, "created", !exists);
		json_end(&j);
	} else if (!o->quiet) {
		printf("%s %lld bytes to %s (%s)",
		       o->dry_run ? "would append" : "appended",
		       (long long)msg->size, n->path, format ? format : "?");
		if (uid != 0)
			printf(", uid %u", (unsigned)uid);
		printf("\n");
	}
	return 0;
}

int
cmd_append(int argc, char **argv, struct cmd_env *env)
{
	enum { OPT_FLAGS = MG_OPT_FIRST_FREE };
	static const struct option opts[] = {
		MG_COMMON_LONGOPTS,
		{ "flags", required_argument, NULL, 'F' },
		{ "keywords", required_argument, NULL, 'k' },
		{ "date", required_argument, NULL, 'd' },
		{ "from", required_argument, NULL, 'f' },
		{ "create", no_argument, NULL, 'c' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct mg_opts o = { 0 };
	struct append a;
	struct mb_newmsg meta;
	struct dl_msg msg;
	struct mg_name n;
	const char *to = NULL, *date = NULL;
	bool create = false;
	char bad[128];
	size_t i;
	int c, rc;

	memset(&a, 0, sizeof(a));
	memset(&meta, 0, sizeof(meta));
	memset(&msg, 0, sizeof(msg));
	msg.fd = -1;
	meta.idate = -1;
	while ((c = getopt_long(argc, argv, "nqhF:k:d:f:ct:", opts, NULL)) !=
	       -1) {
		rc = mg_common_opt(env, c, &o);
		if (rc >= 0)
			goto out;
		if (rc == -1)
			continue;
		rc = 0;
		switch (c) {
		case 'F':
			if (!parse_flags(optarg, &meta.flags, bad, sizeof(bad)))
				rc = cmd_usage_error(env, "unknown flag '%s'",
						     bad);
			break;
		case 'k':
			rc = add_keywords(&a, env, optarg);
			break;
		case 'd':
			date = optarg;
			break;
		case 'f':
			free(msg.sender);
			msg.sender = xstrdup(optarg);
			break;
		case 'c':
			create = true;
			break;
		case 't':
			to = optarg;
			create = true;
			break;
		}
		if (rc != 0)
			goto out;
	}
	if (argc - optind != 1) {
		rc = cmd_usage_error(env, argc - optind ?
						  "one MAILBOX, please" :
						  "no MAILBOX");
		goto out;
	}
	if (date != NULL &&
	    !mb_date_parse(date, strlen(date), &meta.idate, &meta.idate_tz)) {
		rc = cmd_usage_error(env, "not a date: '%s'", date);
		goto out;
	}
	if ((rc = cmd_load_config(env)) != 0)
		goto out;
	if ((rc = mg_resolve(env, argv[optind], &n)) != 0)
		goto out;
	rc = dl_spool(&msg, 0, env->prog);
	if (rc != 0)
		goto out;
	if (date == NULL && msg.envelope != NULL)
		envelope_date(msg.envelope, &meta);
	meta.sender = msg.sender;
	meta.keywords = (const char *const *)a.kw;
	meta.nkeywords = a.nkw;
	rc = do_append(env, &o, &n, &msg, &meta, create, to);
out:
	dl_msg_free(&msg);
	for (i = 0; i < a.nkw; i++)
		free(a.kw[i]);
	return rc;
}

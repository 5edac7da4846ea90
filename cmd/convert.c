/*
 * convert.c - `mailbag convert`: copy every message of one mailbox into
 * another, usually of another format, with internal dates, flags,
 * keywords and (where both formats keep them) UIDVALIDITY and UIDs.
 *
 * SRC is only read.  A new DST is built under a temporary name and
 * published by mb_close, so a failure or an interrupt leaves nothing;
 * with --append the library stages the appends and mb_abort drops them.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "convert-tree.h"
#include "util.h"

const char cmd_convert_usage[] =
	"usage: mailbag convert [-n] [-q] [-v] [--json] [--to=FORMAT]"
	" [--format=FORMAT] [--append] [--compress] [--member=PATH]"
	" SRC DST\n"
	"       mailbag convert -r [-n] [-q] [--json] [--to=FORMAT] SRCDIR DSTDIR\n"
	"\n"
	"Copy every message of SRC into DST with its internal date, flags and\n"
	"keywords, and its UIDVALIDITY and UIDs where both formats keep them.\n"
	"SRC is never modified.  DST must not exist unless --append is given.\n"
	"\n"
	"       --to=FORMAT      write DST in FORMAT; default: the format a\n"
	"                        #driver.FORMAT/ name forces, else the format\n"
	"                        of an existing DST (--append), else the\n"
	"                        new-format setting (unix unless configured)\n"
	"       --format=FORMAT  read SRC as FORMAT instead of probing\n"
	"       --append         add to an existing DST\n"
	"   -r, --recursive      copy the tree SRCDIR: its directories, and\n"
	"                        each mailbox in its own format unless --to\n"
	"                        is given; one line per entry\n"
	"       --compress       gzip DST (also when DST ends in .gz); a DST\n"
	"                        ending in .tar, .tar.gz, .tgz, .tar.xz or .zip\n"
	"                        is an archive of a maildir (or --to=eml)\n"
	"       --member=PATH    the mailbox inside an archive SRC\n"
	"   -n, --dry-run        only count what would be copied\n"
	"   -q, --quiet          no progress bar\n"
	"   -v, --verbose        print a summary line\n"
	"       --json           print the summary as JSON\n"
	"       --no-uw-metadata do not write UW's bookkeeping (X-IMAP, X-UID,\n"
	"                        Status, X-Keywords headers)\n"
	"       --quote=mboxo|mboxrd\n"
	"                        how to quote \"From \" lines in mbox output\n"
	"       --unquote=none|mboxrd\n"
	"                        remove mboxrd quoting while reading SRC\n"
	"       --lock-timeout=SECONDS\n"
	"                        wait this long for a busy lock\n"
	"   -h, --help           this text\n"
	"       --version        print the version\n";

struct convert {
	struct cmd_env *env;
	bool append, dry_run, verbose, json;
	const char *src, *dst; /* resolved paths */
	const char *src_format, *dst_format;
	unsigned open_mode;
	uint32_t messages;
	int64_t bytes;
};

/* Interrupts abort the copy cleanly; the signal is re-raised after. */
static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

static void
catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* The temporary directory of a packed DST (convert_packed). */
static char pack_tmp[PATH_MAX];

static void
reraise(void)
{
	int sig = interrupted;

	if (sig == 0)
		return;
	if (pack_tmp[0] != '\0')
		mb_rmtree(pack_tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
bad(struct convert *cv, struct mb_box **src, struct mb_box **dst,
    const char *path, const struct mb_err *e)
{
	if (dst != NULL)
		mb_abort(dst);
	if (src != NULL)
		mb_abort(src);
	progress_done();
	return report_err(cv->env->prog, path, e);
}

static int64_t
reader_bytes(const struct mb_reader *r, const struct mb_msg *m)
{
	if (r->size >= 0)
		return r->size;
	return m->text_size > 0 ? m->text_size : m->size;
}

/* -n: walk SRC, count, say what would happen. */
static int
dry_run(struct convert *cv, struct mb_box *sbox)
{
	struct mb_reader *r;
	struct mb_msg *m;
	struct mb_err e;
	struct json j;
	int rc;

	for (;;) {
		mb_err_clear(&e);
		rc = mb_next(sbox, &m, &e);
		if (rc == MB_END)
			break;
		if (rc != MB_OK)
			return bad(cv, &sbox, NULL, cv->src, &e);
		if (mb_msg_open(sbox, m, &r, &e) != MB_OK)
			return bad(cv, &sbox, NULL, cv->src, &e);
		cv->messages++;
		cv->bytes += reader_bytes(r, m);
		mb_reader_close(&r);
	}
	mb_abort(&sbox);
	progress_done();
	if (cv->dst_format == NULL) {
		/* --append without --to: what the real run would open. */
		mb_err_clear(&e);
		cv->dst_format = mb_probe(cv->env->ctx, cv->dst, &e);
		if (cv->dst_format == NULL && e.code != MB_ENONE)
			return report_err(cv->env->prog, cv->dst, &e);
	}
	if (cv->json) {
		json_begin(&j, stdout, "convert");
		json_bool(&j, "dry_run", true);
		json_str(&j, "source", cv->src);
		json_str(&j, "destination", cv->dst);
		json_str(&j, "source_format", cv->src_format);
		json_str(&j, "format", cv->dst_format);
		json_uint(&j, "messages", cv->messages);
		json_int(&j, "bytes", cv->bytes);
		json_end(&j);
		return 0;
	}
	printf("would copy %lu messages (%lld bytes) from %s (%s) to %s (%s)\n",
	       (unsigned long)cv->messages, (long long)cv->bytes, cv->src,
	       cv->src_format, cv->dst,
	       cv->dst_format ? cv->dst_format : "unknown");
	return 0;
}

static int
copy_one(struct convert *cv, struct mb_box *sbox, struct mb_box *dbox,
	 const struct mb_msg *m, bool keep_uids, struct mb_err *e)
{
	const char *kw[MB_MAX_KEYWORDS];
	struct mb_newmsg meta;
	struct mb_reader *r;
	unsigned n;
	int rc;

	memset(&meta, 0, sizeof(meta));
	meta.flags = m->flags;
	meta.idate = m->idate;
	meta.idate_tz = m->idate_tz;
	meta.uid = keep_uids ? m->uid : 0;
	meta.sender = m->sender;
	meta.envelope = m->envelope;
	meta.crlf_text = mb_box_crlf_text(sbox);
	for (n = 0; n < MB_MAX_KEYWORDS; n++)
		if ((m->keywords & ((uint64_t)1 << n)) &&
		    (kw[meta.nkeywords] = mb_keyword(sbox, n)) != NULL)
			meta.nkeywords++;
	meta.keywords = kw;

	rc = mb_msg_open(sbox, m, &r, e);
	if (rc != MB_OK)
		return rc;
	cv->bytes += reader_bytes(r, m);
	rc = mb_append(dbox, &meta, r, NULL, e);
	mb_reader_close(&r);
	return rc;
}

static int
convert(struct convert *cv)
{
	struct mb_box *sbox = NULL, *dbox = NULL;
	struct mb_info info;
	struct mb_msg *m;
	struct mb_err e;
	struct stat st, dst_st;
	bool keep_uids;
	int rc;

	mb_err_clear(&e);
	if (!cv->append && lstat(cv->dst, &st) == 0) {
		warnmsg(cv->env->prog,
			"'%s' already exists (use --append to add to it)",
			cv->dst);
		return EX_CANTCREAT;
	}
	if (cv->append && stat(cv->dst, &dst_st) == 0 &&
	    stat(cv->src, &st) == 0 && st.st_dev == dst_st.st_dev &&
	    st.st_ino == dst_st.st_ino) {
		warnmsg(cv->env->prog, "'%s' and '%s' are the same mailbox",
			cv->src, cv->dst);
		return EX_USAGE;
	}

	progress_label(cv->src);
	if (mb_open(cv->env->ctx, cv->src, cv->src_format, cv->open_mode, &sbox,
		    &e) != MB_OK)
		return bad(cv, NULL, NULL, cv->src, &e);
	cv->src_format = mb_box_format(sbox);
	if (mb_box_info(sbox, &info, &e) != MB_OK)
		return bad(cv, &sbox, NULL, cv->src, &e);
	/* like UW's mailutil copy: a new mailbox gets the configured
	 * format for new mailboxes (new-format, unix unless changed) */
	if (cv->dst_format == NULL && !cv->append)
		cv->dst_format = mb_ctx_get(cv->env->ctx, "new-format");
	if (cv->dry_run)
		return dry_run(cv, sbox);

	if (cv->append)
		rc = mb_open(cv->env->ctx, cv->dst, cv->dst_format, MB_RDWR,
			     &dbox, &e);
	else
		rc = mb_create(cv->env->ctx, cv->dst, cv->dst_format,
			       MB_CREATE_ATOMIC | MB_CREATE_EXCL, &dbox, &e);
	if (rc != MB_OK)
		return bad(cv, &sbox, NULL, cv->dst, &e);
	cv->dst_format = mb_box_format(dbox);
	/* from here an interrupt aborts cleanly; before, while waiting for
	 * a lock, it simply ends the process */
	catch_signals();

	/* UIDs only mean something under their UIDVALIDITY. */
	keep_uids = !cv->append && info.uidvalidity != 0;
	if (keep_uids && mb_set_uidstate(dbox, info.uidvalidity, info.uidnext,
					 &e) != MB_OK) {
		if (e.code != MB_ENOTSUP)
			return bad(cv, &sbox, &dbox, cv->dst, &e);
		mb_err_clear(&e);
	}

	for (;;) {
		if (interrupted) {
			mb_abort(&dbox);
			mb_abort(&sbox);
			progress_done();
			reraise();
			return EX_TEMPFAIL;
		}
		mb_err_clear(&e);
		rc = mb_next(sbox, &m, &e);
		if (rc == MB_END)
			break;
		if (rc != MB_OK)
			return bad(cv, &sbox, &dbox, cv->src, &e);
		rc = copy_one(cv, sbox, dbox, m, keep_uids, &e);
		if (rc != MB_OK)
			return bad(cv, &sbox, &dbox,
				   e.path[0] ? e.path : cv->dst, &e);
		cv->messages++;
	}

	/* UIDs kept from a source whose UID sequence turned out broken are
	 * not the ones its clients saw: they need a new UIDVALIDITY */
	if (keep_uids && mb_box_info(sbox, &info, &e) == MB_OK &&
	    info.uids_broken && mb_new_uidvalidity(dbox, &e) != MB_OK &&
	    e.code != MB_ENOTSUP)
		return bad(cv, &sbox, &dbox, cv->dst, &e);
	mb_err_clear(&e);
	if (mb_close(&dbox, &e) != MB_OK)
		return bad(cv, &sbox, NULL, cv->dst, &e);
	mb_err_clear(&e);
	if (mb_close(&sbox, &e) != MB_OK)
		report_err(cv->env->prog, cv->src, &e); /* copy is done */
	progress_done();
	reraise();
	return 0;
}

/*
 * A gzip-compressed DST or an archive: the mailbox is built as usual in
 * a private temporary directory, then mb_pack writes DST from it under a
 * temporary name and renames it into place.
 */
static bool
has_format(const char *name)
{
	const char *f;
	unsigned i;

	for (i = 0; (f = mb_format_name(i)) != NULL; i++)
		if (strcmp(f, name) == 0)
			return true;
	return false;
}

static int
convert_packed(struct convert *cv, const char *kind)
{
	static const char *const exts[] = { ".tar.gz", ".tar.xz", ".tgz",
					    ".txz",    ".tar",	  ".zip",
					    ".gz" };
	char build[PATH_MAX + 256], top[256];
	const char *real = cv->dst, *base;
	struct mb_err e;
	struct stat st;
	size_t i, n;
	int rc;

	if (cv->append) {
		warnmsg(cv->env->prog,
			"--append cannot add to '%s': a compressed file or an "
			"archive would have to be rewritten whole; convert "
			"into a new one",
			cv->dst);
		return EX_USAGE;
	}
	if (lstat(cv->dst, &st) == 0) {
		warnmsg(cv->env->prog, "'%s' already exists", cv->dst);
		return EX_CANTCREAT;
	}
	if (strcmp(kind, "gzip") != 0 && cv->dst_format == NULL) {
		cv->dst_format = "maildir";
		if (!has_format("maildir")) {
			warnmsg(cv->env->prog,
				"this build has no maildir format: pack an eml "
				"directory with --to=eml");
			return EX_UNAVAILABLE;
		}
	}
	if (cv->dry_run)
		return convert(cv);
	/* the name inside the archive: DST's, without directory and suffix */
	base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
	if (strlen(base) >= sizeof(top)) {
		warnmsg(cv->env->prog, "'%s': name too long", real);
		return EX_USAGE;
	}
	memcpy(top, base, strlen(base) + 1);
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		n = strlen(top);
		if (n > strlen(exts[i]) &&
		    strcasecmp(top + n - strlen(exts[i]), exts[i]) == 0) {
			top[n - strlen(exts[i])] = '\0';
			break;
		}
	}
	if (top[0] == '\0' || top[0] == '.')
		snprintf(top, sizeof(top), "mailbox");
	mb_err_clear(&e);
	if (mb_tmpdir(pack_tmp, sizeof(pack_tmp), &e) != MB_OK) {
		pack_tmp[0] = '\0';
		return report_err(cv->env->prog, real, &e);
	}
	snprintf(build, sizeof(build), "%s/%s", pack_tmp, top);
	cv->dst = build;
	rc = convert(cv);
	cv->dst = real;
	if (rc == 0 &&
	    mb_pack(cv->env->ctx, build, top, real, kind, &e) != MB_OK)
		rc = report_err(cv->env->prog, real, &e);
	mb_rmtree(pack_tmp);
	pack_tmp[0] = '\0';
	reraise();
	return rc;
}

static void
report(const struct convert *cv)
{
	struct json j;

	if (cv->json) {
		json_begin(&j, stdout, "convert");
		json_str(&j, "source", cv->src);
		json_str(&j, "destination", cv->dst);
		json_str(&j, "source_format", cv->src_format);
		json_str(&j, "format", cv->dst_format);
		json_uint(&j, "messages", cv->messages);
		json_int(&j, "bytes", cv->bytes);
		json_end(&j);
	} else if (cv->verbose) {
		printf("copied %lu messages from %s (%s) to %s (%s)\n",
		       (unsigned long)cv->messages, cv->src, cv->src_format,
		       cv->dst, cv->dst_format);
	}
}

/* -r: one mailbox of the tree (cmd/convert-tree.c calls it). */
static int
tree_one(void *arg, const char *src, const char *dst, const char *src_format,
	 const char *dst_format)
{
	struct convert *cv = arg;
	int rc;

	reraise(); /* a signal that came between two mailboxes */
	cv->src = src;
	cv->dst = dst;
	cv->src_format = src_format;
	cv->dst_format = dst_format;
	cv->messages = 0;
	cv->bytes = 0;
	rc = convert(cv);
	if (rc == 0 && !cv->dry_run)
		report(cv);
	return rc;
}

static int
convert_recursive(struct convert *cv, const char *from)
{
	struct tree_conv t;
	char src[4096], dst[4096];
	int rc;

	if (cv->append || from != NULL)
		return cmd_usage_error(cv->env, "-r takes neither --append nor "
						"--format");
	memset(&t, 0, sizeof(t));
	t.env = cv->env;
	t.to = cv->dst_format;
	t.dry_run = cv->dry_run;
	t.json = cv->json;
	t.one = tree_one;
	t.arg = cv;
	cv->verbose = true;
	cv->open_mode |= MB_KEEP_TIMES;
	snprintf(src, sizeof(src), "%s", cv->src);
	snprintf(dst, sizeof(dst), "%s", cv->dst);
	rc = convert_tree(&t, src, dst);
	reraise();
	return rc;
}

int
cmd_convert(int argc, char **argv, struct cmd_env *env)
{
	enum {
		OPT_VERSION = 256,
		OPT_JSON,
		OPT_TO,
		OPT_FORMAT,
		OPT_APPEND,
		OPT_NO_UW,
		OPT_QUOTE,
		OPT_UNQUOTE,
		OPT_LOCK_TIMEOUT,
		OPT_COMPRESS,
		OPT_MEMBER
	};
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "recursive", no_argument, NULL, 'r' },
		{ "compress", no_argument, NULL, OPT_COMPRESS },
		{ "member", required_argument, NULL, OPT_MEMBER },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "to", required_argument, NULL, OPT_TO },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "append", no_argument, NULL, OPT_APPEND },
		{ "no-uw-metadata", no_argument, NULL, OPT_NO_UW },
		{ "quote", required_argument, NULL, OPT_QUOTE },
		{ "unquote", required_argument, NULL, OPT_UNQUOTE },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	char src[4096], dst[4096];
	const char *to = NULL, *from = NULL, *quote = NULL;
	const char *lock_timeout = NULL, *forced, *member = NULL, *kind;
	struct convert cv;
	struct mb_err e;
	bool quiet = false, no_uw = false, recursive = false, compress = false;
	int c, rc;

	memset(&cv, 0, sizeof(cv));
	cv.env = env;
	cv.open_mode = MB_RDONLY | MB_STREAM;
	while ((c = getopt_long(argc, argv, "nqvhr", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			cv.dry_run = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'r':
			recursive = true;
			break;
		case 'v':
			cv.verbose = true;
			break;
		case 'h':
			return cmd_help(env);
		case OPT_VERSION:
			return print_version();
		case OPT_JSON:
			cv.json = true;
			break;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_FORMAT:
			from = optarg;
			break;
		case OPT_APPEND:
			cv.append = true;
			break;
		case OPT_NO_UW:
			no_uw = true;
			break;
		case OPT_QUOTE:
			if (strcmp(optarg, "mboxo") != 0 &&
			    strcmp(optarg, "mboxrd") != 0)
				return cmd_usage_error(
					env,
					"bad --quote '%s' (mboxo or mboxrd)",
					optarg);
			quote = optarg;
			break;
		case OPT_UNQUOTE:
			if (strcmp(optarg, "mboxrd") == 0)
				cv.open_mode |= MB_UNQUOTE;
			else if (strcmp(optarg, "none") == 0)
				cv.open_mode &= ~(unsigned)MB_UNQUOTE;
			else
				return cmd_usage_error(
					env,
					"bad --unquote '%s' (none or mboxrd)",
					optarg);
			break;
		case OPT_LOCK_TIMEOUT:
			lock_timeout = optarg;
			break;
		case OPT_COMPRESS:
			compress = true;
			break;
		case OPT_MEMBER:
			member = optarg;
			break;
		default:
			return cmd_usage_error(env, NULL);
		}
	}
	if (argc - optind != 2)
		return cmd_usage_error(
			env, argc - optind < 2 ?
				     "need two arguments, SRC and DST" :
				     "too many arguments");
	if ((rc = cmd_load_config(env)) != 0)
		return rc;
	if (no_uw && (rc = cmd_set(env, "uw-metadata", "no")) != 0)
		return rc;
	if (quote != NULL && (rc = cmd_set(env, "quote", quote)) != 0)
		return rc;
	if (lock_timeout != NULL &&
	    (rc = cmd_set(env, "lock-timeout", lock_timeout)) != 0)
		return rc;

	mb_err_clear(&e);
	forced = NULL;
	if (mb_resolve_name(env->ctx, argv[optind], src, sizeof(src), &forced,
			    &e) != MB_OK)
		return report_err(env->prog, argv[optind], &e);
	cv.src_format = forced ? forced : from;
	forced = NULL;
	if (mb_resolve_name(env->ctx, argv[optind + 1], dst, sizeof(dst),
			    &forced, &e) != MB_OK)
		return report_err(env->prog, argv[optind + 1], &e);
	cv.dst_format = to ? to : forced;
	cv.src = src;
	cv.dst = dst;

	progress_setup(env, quiet);
	mb_ctx_set_member(env->ctx, member);
	if (recursive && (compress || member != NULL))
		return cmd_usage_error(env, "-r takes neither --compress nor "
					    "--member");
	if (recursive)
		return convert_recursive(&cv, from);
	kind = mb_pack_kind(dst);
	if (compress && kind == NULL)
		kind = "gzip";
	else if (compress && strcmp(kind, "tar") == 0)
		kind = "tar.gz";
	rc = kind ? convert_packed(&cv, kind) : convert(&cv);
	if (rc == 0 && !cv.dry_run)
		report(&cv);
	return rc;
}

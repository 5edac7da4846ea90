/*
 * fetch.c - `mailbag fetch`: copy new messages from an IMAP or POP3
 * mailbox ("{host...}MAILBOX") into a local mailbox of any format,
 * keeping flags and internal dates, and remember what was fetched so
 * that a rerun fetches only new mail.
 *
 * Never lose, never duplicate.  Messages go in batches: every message of
 * a batch is appended to DEST (staged), then one "intent" record per
 * message (its key and a fingerprint of its text) is written to the
 * state file and fsynced, then DEST is committed (mb_close: fsync), then
 * one "done" record per message is fsynced.  A run killed anywhere
 * leaves either no trace of the batch in DEST, or intents that the next
 * run reconciles by looking for the fingerprints in DEST.  --delete
 * removes a message from the server only after its "done" record is on
 * disk.  See mailbag-fetch(1) for the state file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "lazy.h"
#include "util.h"

const char cmd_fetch_usage[] =
	"usage: mailbag fetch [options] REMOTE DEST\n"
	"Copy new messages from a remote mailbox into a local one.\n"
	"REMOTE is {host[:port][/imap|/pop3][/ssl][/tls][/notls]"
	"[/novalidate-cert][/user=NAME]...}MAILBOX.\n"
	"  -f, --format NAME       format of DEST when it is created\n"
	"      --state FILE        state file (default: .DEST.mbfetch beside "
	"DEST)\n"
	"      --delete            remove fetched messages from the server, "
	"once stored\n"
	"      --keep              leave them on the server (the default)\n"
	"      --all-folders       every folder of the server into DEST, a "
	"directory\n"
	"      --batch N           messages per durable commit (default: 100,\n"
	"                          growing with the run up to 5000)\n"
	"  -n, --dry-run           say what would be fetched; change nothing\n"
	"      --json              a JSON Lines summary on stdout\n"
	"  -q, --quiet             no progress bar, no summary line\n"
	"Connection and login (also settings of mailbag.conf):\n"
	"      --ca-file FILE      trust these CA certificates, not the "
	"system's\n"
	"      --timeout SEC       connect, TLS and read timeout (60)\n"
	"      --password-file F   the password is the first line of F\n"
	"      --password-fd N     ... of file descriptor N\n"
	"      --password-env VAR  ... the value of the environment variable\n"
	"      --password-command CMD  ... the first line CMD prints\n"
	"      --oauth-command CMD an OAuth2 access token (XOAUTH2, "
	"OAUTHBEARER)\n"
	"      --auth MECH         PLAIN, LOGIN, CRAM-MD5, XOAUTH2, "
	"OAUTHBEARER,\n"
	"                          login-command (IMAP), user or apop (POP3)\n"
	"      --allow-plaintext   send the password even without TLS\n"
	"  -h, --help              this help\n";

enum {
	OPT_STATE = 256,
	OPT_DELETE,
	OPT_KEEP,
	OPT_ALL,
	OPT_BATCH,
	OPT_JSON,
	OPT_CA,
	OPT_TIMEOUT,
	OPT_PFILE,
	OPT_PFD,
	OPT_PENV,
	OPT_PCMD,
	OPT_OAUTH,
	OPT_AUTH,
	OPT_PLAIN,
};

struct fetch {
	struct cmd_env *env;
	const char *format;
	const char *state_opt;
	bool del, dry_run, json, quiet, tty;
	unsigned batch;
	bool batch_fixed; /* --batch given: every batch that size */
	/* totals */
	unsigned long fetched, skipped, deleted, reconciled, folders;
	int64_t bytes;
};

/* ------------------------------------------------------------------ */
/* Fingerprints: SHA-256 of the text as any format gives it back       */

/*
 * What a local format may change in a message is left out: CRs, the
 * bookkeeping header fields (Status, X-Status, X-Keywords, X-UID,
 * X-IMAP, X-IMAPbase, Content-Length), ">" quoting of "From " lines and
 * blank lines at the end.
 */
struct fp {
	EVP_MD_CTX *md;
	char *line; /* a line cut by the end of a buffer, CRs left out */
	size_t len, cap;
	bool body, skipping;
	unsigned blank; /* blank lines not hashed yet */
	size_t olen;	/* bytes in out, not hashed yet */
	char out[16384];
};

static void
fp_init(struct fp *f)
{
	memset(f, 0, sizeof(*f));
	if (mbi_lazy_load(MBI_LAZY_CRYPTO, NULL) != MB_OK)
		die(71, "mailbag fetch", "cannot load libcrypto for SHA-256");
	f->md = EVP_MD_CTX_new();
	if (f->md == NULL || EVP_DigestInit_ex(f->md, EVP_sha256(), NULL) != 1)
		die(71, "mailbag fetch", "cannot set up SHA-256");
}

static void
fp_reset(struct fp *f)
{
	EVP_DigestInit_ex(f->md, EVP_sha256(), NULL);
	f->len = f->olen = 0;
	f->body = f->skipping = false;
	f->blank = 0;
}

/* Hash n bytes (through a buffer: one digest call per 16 KiB). */
static void
fp_out(struct fp *f, const char *p, size_t n)
{
	if (f->olen + n > sizeof(f->out)) {
		EVP_DigestUpdate(f->md, f->out, f->olen);
		f->olen = 0;
		if (n >= sizeof(f->out)) {
			EVP_DigestUpdate(f->md, p, n);
			return;
		}
	}
	memcpy(f->out + f->olen, p, n);
	f->olen += n;
}

static bool
bookkeeping(const char *l, size_t n)
{
	static const char *const names[] = {
		"status:", "x-status:",	  "x-keywords:",     "x-uid:",
		"x-imap:", "x-imapbase:", "content-length:",
	};
	size_t i, k;

	if (n == 0 || strchr("sSxXcC", l[0]) == NULL)
		return false;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		k = strlen(names[i]);
		if (n >= k && strncasecmp(l, names[i], k) == 0)
			return true;
	}
	return false;
}

/* One line without its LF and without CRs. */
static void
fp_line(struct fp *f, const char *l, size_t n)
{
	if (!f->body) {
		if (n == 0) {
			f->body = true;
			fp_out(f, "\n", 1);
			return;
		}
		if (l[0] != ' ' && l[0] != '\t')
			f->skipping = bookkeeping(l, n);
		if (!f->skipping) {
			fp_out(f, l, n);
			fp_out(f, "\n", 1);
		}
		return;
	}
	if (n == 0) {
		f->blank++;
		return;
	}
	for (; f->blank > 0; f->blank--)
		fp_out(f, "\n", 1);
	if (l[0] == '>') {
		size_t q = 0;

		while (q < n && l[q] == '>')
			q++;
		if (n - q >= 5 && memcmp(l + q, "From ", 5) == 0) {
			l += q;
			n -= q;
		}
	}
	fp_out(f, l, n);
	fp_out(f, "\n", 1);
}

/* Add p[0..n) to the line being gathered, CRs left out. */
static void
fp_gather(struct fp *f, const char *p, size_t n)
{
	size_t i;

	if (f->len + n > f->cap) {
		while (f->len + n > f->cap)
			f->cap = f->cap ? f->cap * 2 : 256;
		f->line = xreallocarray(f->line, f->cap, 1);
	}
	for (i = 0; i < n; i++)
		if (p[i] != '\r')
			f->line[f->len++] = p[i];
}

static void
fp_feed(struct fp *f, const char *p, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl != NULL ? (size_t)(nl - p) : n;

		if (nl == NULL) {
			fp_gather(f, p, seg);
			return;
		}
		if (f->len == 0 && seg > 0 && p[seg - 1] == '\r' &&
		    memchr(p, '\r', seg - 1) == NULL) {
			fp_line(f, p, seg - 1); /* whole, ending in CRLF */
		} else if (f->len == 0 && memchr(p, '\r', seg) == NULL) {
			fp_line(f, p, seg); /* whole in the buffer, no CR */
		} else {
			fp_gather(f, p, seg);
			fp_line(f, f->line, f->len);
			f->len = 0;
		}
		p += seg + 1;
		n -= seg + 1;
	}
}

/* The hex digest into out[65]; the state starts again. */
static void
fp_final(struct fp *f, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	static const char hex[] = "0123456789abcdef";

	if (f->len > 0 || !f->body)
		fp_line(f, f->line, f->len);
	f->len = 0;
	EVP_DigestUpdate(f->md, f->out, f->olen);
	f->olen = 0;
	EVP_DigestFinal_ex(f->md, md, &n);
	for (i = 0; i < n && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	fp_reset(f);
}

static void
fp_free(struct fp *f)
{
	EVP_MD_CTX_free(f->md);
	free(f->line);
}

/* A reader that passes src through and fingerprints what goes by. */
struct tee {
	struct mb_reader r;
	struct mb_reader *src;
	struct fp *fp;
	int64_t bytes;
};

static ssize_t
tee_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	struct tee *t = (struct tee *)r;
	ssize_t n = mb_reader_read(t->src, buf, len, e);

	if (n > 0) {
		fp_feed(t->fp, buf, (size_t)n);
		t->bytes += n;
	}
	return n;
}

static int
tee_rewind(struct mb_reader *r, struct mb_err *e)
{
	struct tee *t = (struct tee *)r;
	int rc = mb_reader_rewind(t->src, e);

	if (rc == MB_OK) {
		fp_reset(t->fp);
		t->bytes = 0;
	}
	return rc;
}

static void
tee_close(struct mb_reader *r)
{
	(void)r; /* on the stack; src is closed by its owner */
}

/* ------------------------------------------------------------------ */
/* The state file                                                       */

/*
 * Text, one record a line, only ever appended to (and fsynced):
 *	mailbag-fetch 1
 *	source {host...}MAILBOX
 *	V uidvalidity		(IMAP; a new value starts a new epoch)
 *	I key sha256		intent: appended to DEST, not yet committed
 *	D key			done: committed to DEST
 * Keys are IMAP UIDs or POP3 UIDL strings.
 */
struct rec {
	char *key;
	char hash[65];
	bool done;
	size_t line; /* order in the file, while loading */
};

struct state {
	char path[4096];
	int fd;
	uint32_t uidvalidity;
	struct rec *recs;
	size_t n, cap;
	bool sorted;
};

static int
cmp_rec(const void *a, const void *b)
{
	return strcmp(((const struct rec *)a)->key,
		      ((const struct rec *)b)->key);
}

/* by key, then by position in the file */
static int
cmp_rec_line(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static struct rec *
state_find(struct state *st, const char *key)
{
	struct rec k;

	if (!st->sorted) {
		qsort(st->recs, st->n, sizeof(*st->recs), cmp_rec);
		st->sorted = true;
	}
	k.key = (char *)key;
	return bsearch(&k, st->recs, st->n, sizeof(*st->recs), cmp_rec);
}

/* A record as read from the file; state_merge() combines a key's. */
static struct rec *
state_add(struct state *st, const char *key)
{
	struct rec *r;

	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 256;
		st->recs = xreallocarray(st->recs, st->cap, sizeof(*st->recs));
	}
	r = &st->recs[st->n++];
	memset(r, 0, sizeof(*r));
	r->key = xstrdup(key);
	r->line = st->n;
	st->sorted = false;
	return r;
}

/* One record per key: done if any line said so, the last fingerprint. */
static void
state_merge(struct state *st)
{
	size_t i, j;

	st->sorted = true;
	if (st->n == 0)
		return;
	qsort(st->recs, st->n, sizeof(*st->recs), cmp_rec_line);
	for (i = j = 0; i < st->n; i++) {
		struct rec *r = &st->recs[i];

		if (j > 0 && strcmp(st->recs[j - 1].key, r->key) == 0) {
			struct rec *w = &st->recs[j - 1];

			w->done = w->done || r->done;
			if (r->hash[0])
				memcpy(w->hash, r->hash, sizeof(w->hash));
			free(r->key);
			continue;
		}
		st->recs[j++] = *r;
	}
	st->n = j;
	st->sorted = true;
}

static void
state_free(struct state *st)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		free(st->recs[i].key);
	free(st->recs);
	st->recs = NULL;
	st->n = st->cap = 0;
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

/* Load path if it exists.  0, or an exit status after a message. */
static int
state_load(struct fetch *f, struct state *st)
{
	FILE *fp = fopen(st->path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int rc = 0;

	if (fp == NULL) {
		if (errno == ENOENT)
			return 0;
		warnmsg(f->env->prog, "%s: cannot read state file: %s",
			st->path, strerror(errno));
		return 74;
	}
	while ((n = getline(&line, &cap, fp)) > 0) {
		char key[1024], hash[80];
		struct rec *r;

		lineno++;
		if (line[n - 1] != '\n')
			break; /* a torn last line: never fsynced, ignored */
		line[n - 1] = '\0';
		if (lineno == 1) {
			if (strcmp(line, "mailbag-fetch 1") != 0) {
				warnmsg(f->env->prog,
					"%s: line 1: not a "
					"mailbag fetch state file",
					st->path);
				rc = 65;
				break;
			}
			continue;
		}
		if (strncmp(line, "source ", 7) == 0)
			continue;
		if (sscanf(line, "V %u", &st->uidvalidity) == 1) {
			/* a new epoch: what was recorded before is void */
			size_t i;

			for (i = 0; i < st->n; i++)
				free(st->recs[i].key);
			st->n = 0;
			continue;
		}
		if (sscanf(line, "I %1023s %79s", key, hash) == 2 &&
		    strlen(hash) == 64) {
			r = state_add(st, key);
			snprintf(r->hash, sizeof(r->hash), "%s", hash);
			continue;
		}
		if (sscanf(line, "D %1023s", key) == 1) {
			state_add(st, key)->done = true;
			continue;
		}
		warnmsg(f->env->prog, "%s: line %ld: bad state record",
			st->path, lineno);
		rc = 65;
		break;
	}
	free(line);
	fclose(fp);
	state_merge(st);
	return rc;
}

static int
state_write(struct fetch *f, struct state *st, const char *text, size_t len)
{
	const char *p = text;

	if (st->fd < 0) {
		struct stat sb;
		bool fresh;
		char dir[4096];

		st->fd = open(st->path,
			      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (st->fd < 0 || fstat(st->fd, &sb) < 0)
			goto fail;
		fresh = sb.st_size == 0;
		if (fresh && write(st->fd, "mailbag-fetch 1\n", 16) != 16)
			goto fail;
		if (fresh) {
			int dfd;

			snprintf(dir, sizeof(dir), "%s", st->path);
			dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
			if (dfd >= 0) {
				fsync(dfd);
				close(dfd);
			}
		}
	}
	while (len > 0) {
		ssize_t w = write(st->fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fdatasync(st->fd) < 0)
		goto fail;
	return 0;
fail:
	warnmsg(f->env->prog, "%s: cannot write state file: %s", st->path,
		strerror(errno));
	return 74;
}

/* ------------------------------------------------------------------ */
/* One remote mailbox into one local mailbox                            */

static void
msg_key(const struct mb_msg *m, char *buf, size_t size)
{
	if (m->key != NULL)
		snprintf(buf, size, "%s", m->key);
	else
		snprintf(buf, size, "%u", m->uid);
}

static void
progress(struct fetch *f, const char *label, unsigned long done,
	 unsigned long total)
{
	if (!f->tty)
		return;
	if (total == 0)
		fprintf(stderr, "\r\033[K");
	else
		fprintf(stderr, "\r%s: %lu/%lu (%d%%)\033[K", label, done,
			total, (int)(done * 100 / total));
	fflush(stderr);
}

/*
 * Pending intents: look for their fingerprints in DEST.  Found ones are
 * recorded done; the others were never committed and are fetched again.
 */
static int
reconcile(struct fetch *f, struct state *st, const char *dest)
{
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_reader *r;
	struct mb_err e;
	struct fp fp;
	char buf[65536], hash[65];
	struct mbi_hits {
		char hash[65];
		unsigned n;
	} *hits = NULL;
	size_t nh = 0, i, j;
	size_t npend = 0;
	int rc;

	for (i = 0; i < st->n; i++)
		if (!st->recs[i].done && st->recs[i].hash[0])
			npend++;
	if (npend == 0)
		return 0;
	/* read/write: a writer's open first finishes or undoes what a killed
	 * writer left (UW's locks, the tail journal), so what is read here
	 * is what stays */
	rc = mb_open(f->env->ctx, dest, NULL, MB_RDWR | MB_STREAM, &b, &e);
	if (rc != MB_OK) {
		if (e.code == MB_ENOENT)
			goto forget;
		return report_err(f->env->prog, dest, &e);
	}
	fp_init(&fp);
	while ((rc = mb_next(b, &m, &e)) == MB_OK) {
		ssize_t n;

		if (mb_msg_open(b, m, &r, &e) != MB_OK)
			continue;
		while ((n = mb_reader_read(r, buf, sizeof(buf), &e)) > 0)
			fp_feed(&fp, buf, (size_t)n);
		mb_reader_close(&r);
		fp_final(&fp, hash);
		for (i = 0; i < st->n; i++)
			if (!st->recs[i].done &&
			    strcmp(st->recs[i].hash, hash) == 0)
				break;
		if (i == st->n)
			continue;
		for (j = 0; j < nh && strcmp(hits[j].hash, hash) != 0; j++)
			;
		if (j == nh) {
			hits = xreallocarray(hits, nh + 1, sizeof(*hits));
			memcpy(hits[nh].hash, hash, sizeof(hash));
			hits[nh++].n = 0;
		}
		hits[j].n++;
	}
	fp_free(&fp);
	mb_abort(&b);
	if (rc != MB_END) {
		free(hits);
		return report_err(f->env->prog, dest, &e);
	}
	/* copies that messages recorded done account for are not ours */
	for (j = 0; j < nh; j++)
		for (i = 0; i < st->n; i++)
			if (st->recs[i].done && hits[j].n > 0 &&
			    strcmp(st->recs[i].hash, hits[j].hash) == 0)
				hits[j].n--;
	/* each other copy in DEST accounts for one pending message */
	for (i = 0; i < st->n; i++) {
		struct rec *rp = &st->recs[i];
		char line[1200];

		if (rp->done || !rp->hash[0])
			continue;
		for (j = 0; j < nh && strcmp(hits[j].hash, rp->hash) != 0; j++)
			;
		if (j < nh && hits[j].n > 0) {
			hits[j].n--;
			snprintf(line, sizeof(line), "D %s\n", rp->key);
			if ((rc = state_write(f, st, line, strlen(line))) !=
			    0) {
				free(hits);
				return rc;
			}
			rp->done = true;
			f->reconciled++;
		} else {
			rp->hash[0] = '\0';
		}
	}
	free(hits);
	return 0;
forget:
	for (i = 0; i < st->n; i++)
		if (!st->recs[i].done)
			st->recs[i].hash[0] = '\0';
	return 0;
}

/*
 * Messages in the next batch.  Each commit opens DEST again, and opening
 * reads what it holds (a mailbox file's messages, a maildir's names), so
 * fixed batches would make a long run quadratic.  Unless --batch fixes
 * the size, a batch may hold up to a quarter of what this run has
 * fetched so far (at most 5000): the re-reading stays a constant share,
 * while a run cut short still keeps all but its last batch.
 */
static unsigned long
batch_size(const struct fetch *f, unsigned long done)
{
	unsigned long n = done / 4;

	if (f->batch_fixed || n <= f->batch)
		return f->batch;
	return n < 5000 ? n : 5000;
}

static void
default_state_path(const char *dest, char *out, size_t size)
{
	char d[4096], b[4096];

	snprintf(d, sizeof(d), "%s", dest);
	snprintf(b, sizeof(b), "%s", dest);
	snprintf(out, size, "%s/.%s.mbfetch", dirname(d), basename(b));
}

/* Add "T key [hash]\n" to a growing text buffer. */
static void
n_append_rec(char **p, size_t *len, size_t *cap, const char *type,
	     const char *key, const char *hash)
{
	size_t need = strlen(type) + strlen(key) + (hash ? 66 : 0) + 3;

	while (*len + need + 1 > *cap) {
		*cap = *cap ? *cap * 2 : 4096;
		*p = xreallocarray(*p, *cap, 1);
	}
	*len += (size_t)snprintf(*p + *len, *cap - *len, "%s %s%s%s\n", type,
				 key, hash ? " " : "", hash ? hash : "");
}

static int
flag_deleted(struct fetch *f, struct mb_box *src, uint32_t seq,
	     const char *remote)
{
	struct mb_err e;

	if (mb_set_flags(src, seq, MB_DELETED, 0, 0, 0, &e) != MB_OK)
		return report_err(f->env->prog, remote, &e);
	f->deleted++;
	return 0;
}

static int
fetch_box(struct fetch *f, const char *remote, const char *dest)
{
	struct state st;
	struct mb_box *src = NULL, *dst = NULL;
	struct mb_info info;
	struct mb_msg *m;
	struct mb_err e;
	struct fp fp;
	struct stat sb;
	uint32_t *todo = NULL;
	char key[1024], (*hashes)[65] = NULL;
	unsigned long ntodo = 0, i, done_here = 0, nhashes = 0;
	int64_t want_bytes = 0;
	struct mbi_buf_text {
		char *p;
		size_t len, cap;
	} rec = { NULL, 0, 0 };
	int rc, ret = 0;

	memset(&st, 0, sizeof(st));
	st.fd = -1;
	if (f->state_opt != NULL)
		snprintf(st.path, sizeof(st.path), "%s", f->state_opt);
	else
		default_state_path(dest, st.path, sizeof(st.path));
	if ((ret = state_load(f, &st)) != 0)
		goto out;
	rc = mb_open(f->env->ctx, remote, NULL,
		     f->del && !f->dry_run ? MB_RDWR : MB_RDONLY, &src, &e);
	if (rc != MB_OK) {
		ret = report_err(f->env->prog, remote, &e);
		goto out;
	}
	while ((rc = mb_next(src, &m, &e)) == MB_OK)
		;
	if (rc != MB_END) {
		ret = report_err(f->env->prog, remote, &e);
		goto out;
	}
	mb_box_info(src, &info, &e);
	if (strcmp(info.format, "imap") == 0) {
		if (st.uidvalidity != 0 && st.uidvalidity != info.uidvalidity) {
			warnmsg(f->env->prog,
				"%s: UIDVALIDITY changed from %u to %u: the "
				"server renumbered the mailbox; the messages "
				"cannot be matched with what was fetched (move "
				"%s away to fetch everything again)",
				remote, st.uidvalidity, info.uidvalidity,
				st.path);
			ret = 65;
			goto out;
		}
		if (st.uidvalidity == 0 && !f->dry_run) {
			char line[1200 + 4096];

			snprintf(line, sizeof(line), "source %s\nV %u\n",
				 remote, info.uidvalidity);
			if ((ret = state_write(f, &st, line, strlen(line))))
				goto out;
			st.uidvalidity = info.uidvalidity;
		}
	} else if (st.fd < 0 && st.n == 0 && !f->dry_run &&
		   stat(st.path, &sb) < 0) {
		char line[4200];

		snprintf(line, sizeof(line), "source %s\n", remote);
		if ((ret = state_write(f, &st, line, strlen(line))))
			goto out;
	}
	if (!f->dry_run && (ret = reconcile(f, &st, dest)) != 0)
		goto out;
	/* what is new; what was fetched before and may now be deleted */
	todo = xreallocarray(NULL, info.messages ? info.messages : 1,
			     sizeof(*todo));
	for (i = 1; i <= info.messages; i++) {
		struct rec *r;

		if (mb_msg_at(src, (uint32_t)i, &m, &e) != MB_OK) {
			ret = report_err(f->env->prog, remote, &e);
			goto out;
		}
		msg_key(m, key, sizeof(key));
		r = st.n ? state_find(&st, key) : NULL;
		if (r != NULL && r->done) {
			f->skipped++;
			if (f->del && !f->dry_run &&
			    (ret = flag_deleted(f, src, (uint32_t)i, remote)))
				goto out;
			continue;
		}
		todo[ntodo++] = (uint32_t)i;
		want_bytes += m->size;
	}
	if (f->dry_run) {
		if (!f->json && !f->quiet)
			printf("would fetch %lu messages (%lld bytes) from %s "
			       "into %s; %lu fetched before\n",
			       ntodo, (long long)want_bytes, remote, dest,
			       f->skipped);
		f->fetched += ntodo;
		f->bytes += want_bytes;
		goto out;
	}
	fp_init(&fp);
	for (i = 0; i < ntodo;) {
		unsigned long first = i, k, nb = batch_size(f, done_here);

		/* 1. fingerprint the batch (the texts land in the remote
		 * driver's spool, where the appends read them again) */
		if (nb > ntodo - first)
			nb = ntodo - first;
		if (nb > nhashes) {
			hashes = xreallocarray(hashes, nb, sizeof(*hashes));
			nhashes = nb;
		}
		for (k = 0; k < nb; k++) {
			struct mb_reader *r;
			char buf[65536];
			ssize_t n;

			mb_msg_at(src, todo[first + k], &m, &e);
			if (mb_msg_open(src, m, &r, &e) != MB_OK) {
				ret = report_err(f->env->prog, remote, &e);
				break;
			}
			fp_reset(&fp);
			while ((n = mb_reader_read(r, buf, sizeof(buf), &e)) >
			       0)
				fp_feed(&fp, buf, (size_t)n);
			mb_reader_close(&r);
			if (n < 0) {
				ret = report_err(f->env->prog, remote, &e);
				break;
			}
			fp_final(&fp, hashes[k]);
		}
		if (ret != 0)
			break;
		/* 2. intents, durable before anything reaches DEST (some
		 * formats publish a message at append, not at commit) */
		rec.len = 0;
		for (k = 0; k < nb; k++) {
			mb_msg_at(src, todo[first + k], &m, &e);
			msg_key(m, key, sizeof(key));
			n_append_rec(&rec.p, &rec.len, &rec.cap, "I", key,
				     hashes[k]);
		}
		if ((ret = state_write(f, &st, rec.p, rec.len)) != 0)
			break;
		/* 3. append the batch */
		if (lstat(dest, &sb) == 0)
			rc = mb_open(f->env->ctx, dest, NULL, MB_RDWR, &dst,
				     &e);
		else
			rc = mb_create(f->env->ctx, dest, f->format,
				       MB_CREATE_ATOMIC, &dst, &e);
		if (rc != MB_OK) {
			ret = report_err(f->env->prog, dest, &e);
			break;
		}
		for (k = 0; k < nb; k++, i++) {
			const char *kw[MB_MAX_KEYWORDS];
			struct mb_newmsg meta;
			struct mb_reader *r;
			struct tee t;
			char check[65];
			unsigned n;

			mb_msg_at(src, todo[i], &m, &e);
			memset(&meta, 0, sizeof(meta));
			meta.flags = m->flags & MB_FLAGS_ALL;
			meta.idate = m->idate > 0 ? m->idate : -1;
			meta.idate_tz = m->idate_tz;
			meta.crlf_text = mb_box_crlf_text(src);
			for (n = 0; n < MB_MAX_KEYWORDS; n++)
				if ((m->keywords & ((uint64_t)1 << n)) &&
				    (kw[meta.nkeywords] = mb_keyword(src, n)))
					meta.nkeywords++;
			meta.keywords = kw;
			if (mb_msg_open(src, m, &r, &e) != MB_OK) {
				ret = report_err(f->env->prog, remote, &e);
				break;
			}
			memset(&t, 0, sizeof(t));
			t.r.read = tee_read;
			t.r.rewind = tee_rewind;
			t.r.close = tee_close;
			t.r.size = r->size;
			t.src = r;
			t.fp = &fp;
			fp_reset(&fp);
			rc = mb_append(dst, &meta, &t.r, NULL, &e);
			mb_reader_close(&r);
			if (rc != MB_OK) {
				ret = report_err(f->env->prog, dest, &e);
				break;
			}
			fp_final(&fp, check);
			if (strcmp(check, hashes[k]) != 0) {
				/* the server sent another text the second time */
				msg_key(m, key, sizeof(key));
				warnmsg(f->env->prog,
					"%s: message %s changed while "
					"it was fetched",
					remote, key);
				ret = 76;
				break;
			}
			f->bytes += t.bytes;
			progress(f, "fetch", done_here + k + 1, ntodo);
		}
		if (ret != 0) {
			mb_abort(&dst);
			break;
		}
		/* 4. commit DEST (fsync) */
		if (mb_close(&dst, &e) != MB_OK) {
			ret = report_err(f->env->prog, dest, &e);
			break;
		}
		/* 5. done records */
		rec.len = 0;
		for (k = 0; k < nb; k++) {
			mb_msg_at(src, todo[first + k], &m, &e);
			msg_key(m, key, sizeof(key));
			n_append_rec(&rec.p, &rec.len, &rec.cap, "D", key,
				     NULL);
		}
		if ((ret = state_write(f, &st, rec.p, rec.len)) != 0)
			break;
		f->fetched += nb;
		done_here += nb;
		/* 6. only now may the server forget them */
		for (k = 0; f->del && k < nb; k++)
			if ((ret = flag_deleted(f, src, todo[first + k],
						remote)) != 0)
				break;
		if (ret != 0)
			break;
	}
	progress(f, "", 0, 0);
	fp_free(&fp);
	if (ret == 0 && f->del && f->deleted > 0) {
		uint32_t x;

		if (mb_expunge(src, &x, &e) != MB_OK) {
			ret = report_err(f->env->prog, remote, &e);
			goto out;
		}
	}
	if (ret == 0 && src != NULL) {
		/* POP3: QUIT makes the deletions real */
		rc = mb_close(&src, &e);
		if (rc != MB_OK)
			ret = report_err(f->env->prog, remote, &e);
	}
out:
	if (src != NULL)
		mb_abort(&src);
	free(todo);
	free(hashes);
	free(rec.p);
	state_free(&st);
	return ret;
}

/* ------------------------------------------------------------------ */
/* --all-folders                                                        */

struct folders {
	char **remote;
	char **local;
	size_t n;
};

static int
add_folder(void *arg, const struct mb_list_entry *ent)
{
	struct folders *fl = arg;

	if (ent->kind != MB_LIST_MAILBOX)
		return 0;
	fl->remote = xreallocarray(fl->remote, fl->n + 1, sizeof(char *));
	fl->local = xreallocarray(fl->local, fl->n + 1, sizeof(char *));
	fl->remote[fl->n] = xstrdup(ent->path);
	fl->local[fl->n] = xstrdup(ent->name);
	fl->n++;
	return 0;
}

/* A server's name as a path below DEST: no "", ".", ".." components. */
static bool
safe_name(const char *name)
{
	const char *p = name;

	if (*p == '\0' || *p == '/')
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return p[-1] != '/';
}

static int
mkdirs(const char *path)
{
	char tmp[4096], *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int
fetch_all(struct fetch *f, const char *remote, const char *dest)
{
	struct folders fl = { NULL, NULL, 0 };
	struct mb_err e;
	char local[8192];
	size_t i;
	int ret = 0, r;

	if (mb_remote_list(f->env->ctx, remote, add_folder, &fl, &e) != MB_OK)
		return report_err(f->env->prog, remote, &e);
	if (!f->dry_run && mkdirs(dest) < 0) {
		warnmsg(f->env->prog, "%s: cannot make directory: %s", dest,
			strerror(errno));
		ret = 73;
	}
	for (i = 0; ret == 0 && i < fl.n; i++) {
		char *slash;

		if (!safe_name(fl.local[i])) {
			warnmsg(f->env->prog,
				"%s: skipped: the name cannot be "
				"a local path",
				fl.remote[i]);
			continue;
		}
		snprintf(local, sizeof(local), "%s/%s", dest, fl.local[i]);
		slash = strrchr(local, '/');
		*slash = '\0';
		if (!f->dry_run && mkdirs(local) < 0) {
			warnmsg(f->env->prog, "%s: cannot make directory: %s",
				local, strerror(errno));
			ret = 73;
			break;
		}
		*slash = '/';
		f->folders++;
		r = fetch_box(f, fl.remote[i], local);
		/* a folder that fails is reported; the others go on, but a
		 * lost connection ends the walk */
		if (r != 0 && (ret == 0 || r == 75))
			ret = r;
		if (r == 75)
			break;
	}
	for (i = 0; i < fl.n; i++) {
		free(fl.remote[i]);
		free(fl.local[i]);
	}
	free(fl.remote);
	free(fl.local);
	return ret;
}

int
cmd_fetch(int argc, char **argv, struct cmd_env *env)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "delete", no_argument, NULL, OPT_DELETE },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "all-folders", no_argument, NULL, OPT_ALL },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "ca-file", required_argument, NULL, OPT_CA },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "password-file", required_argument, NULL, OPT_PFILE },
		{ "password-fd", required_argument, NULL, OPT_PFD },
		{ "password-env", required_argument, NULL, OPT_PENV },
		{ "password-command", required_argument, NULL, OPT_PCMD },
		{ "oauth-command", required_argument, NULL, OPT_OAUTH },
		{ "auth", required_argument, NULL, OPT_AUTH },
		{ "allow-plaintext", no_argument, NULL, OPT_PLAIN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *set_names[] = {
		[OPT_CA - OPT_CA] = "ca-file",
		[OPT_TIMEOUT - OPT_CA] = "net-timeout",
		[OPT_PFILE - OPT_CA] = "password-file",
		[OPT_PFD - OPT_CA] = "password-fd",
		[OPT_PENV - OPT_CA] = "password-env",
		[OPT_PCMD - OPT_CA] = "password-command",
		[OPT_OAUTH - OPT_CA] = "oauth-command",
		[OPT_AUTH - OPT_CA] = "auth-mechanism",
		[OPT_PLAIN - OPT_CA] = "plaintext-auth",
	};
	const char *set_vals[sizeof(set_names) / sizeof(set_names[0])] = { 0 };
	struct fetch f;
	struct json j;
	char *end;
	size_t i;
	int c, rc;

	memset(&f, 0, sizeof(f));
	f.env = env;
	f.batch = 100;
	while ((c = getopt_long(argc, argv, "f:nqh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			f.format = optarg;
			break;
		case OPT_STATE:
			f.state_opt = optarg;
			break;
		case OPT_DELETE:
			f.del = true;
			break;
		case OPT_KEEP:
			f.del = false;
			break;
		case OPT_ALL:
			f.folders = 1;
			break;
		case OPT_BATCH:
			f.batch = (unsigned)strtoul(optarg, &end, 10);
			f.batch_fixed = true;
			if (*end || f.batch == 0 || f.batch > 100000)
				return cmd_usage_error(env, "bad --batch '%s'",
						       optarg);
			break;
		case 'n':
			f.dry_run = true;
			break;
		case OPT_JSON:
			f.json = true;
			break;
		case 'q':
			f.quiet = true;
			break;
		case OPT_CA:
		case OPT_TIMEOUT:
		case OPT_PFILE:
		case OPT_PFD:
		case OPT_PENV:
		case OPT_PCMD:
		case OPT_OAUTH:
		case OPT_AUTH:
			set_vals[c - OPT_CA] = optarg;
			break;
		case OPT_PLAIN:
			set_vals[c - OPT_CA] = "yes";
			break;
		case 'h':
			return cmd_help(env);
		default:
			return cmd_usage_error(env, NULL);
		}
	}
	if (argc - optind != 2)
		return cmd_usage_error(
			env, argc - optind < 2 ? "need two arguments, REMOTE "
						 "and DEST" :
						 "too many arguments");
	if (argv[optind][0] != '{')
		return cmd_usage_error(env, "REMOTE must be a remote name, "
					    "{host...}MAILBOX");
	if ((rc = cmd_load_config(env)) != 0)
		return rc;
	for (i = 0; i < sizeof(set_names) / sizeof(set_names[0]); i++)
		if (set_vals[i] != NULL &&
		    (rc = cmd_set(env, set_names[i], set_vals[i])) != 0)
			return rc;
	if (f.state_opt != NULL && f.folders)
		return cmd_usage_error(env, "--state names one file: not with "
					    "--all-folders");
	f.tty = !f.quiet && !f.json && isatty(STDERR_FILENO);
	if (f.folders) {
		f.folders = 0;
		rc = fetch_all(&f, argv[optind], argv[optind + 1]);
	} else {
		rc = fetch_box(&f, argv[optind], argv[optind + 1]);
	}
	if (f.json) {
		json_begin(&j, stdout, "summary");
		json_str(&j, "remote", argv[optind]);
		json_str(&j, "destination", argv[optind + 1]);
		json_bool(&j, "dry_run", f.dry_run);
		json_uint(&j, "fetched", f.fetched);
		json_uint(&j, "skipped", f.skipped);
		json_uint(&j, "deleted", f.dry_run ? 0 : f.deleted);
		json_uint(&j, "reconciled", f.reconciled);
		json_uint(&j, "folders", f.folders);
		json_int(&j, "bytes", f.bytes);
		json_int(&j, "status", rc);
		json_end(&j);
	} else if (!f.quiet && !f.dry_run && rc == 0) {
		printf("fetched %lu messages (%lld bytes), %lu already "
		       "fetched, %lu deleted from the server\n",
		       f.fetched, (long long)f.bytes, f.skipped, f.deleted);
	}
	return rc;
}

/*
 * deliver.c - `mailbag deliver`: local delivery for the MTA, as UW's
 * tmail does it (shared/spec/uw-formats.md section 14), and the delivery
 * code `mailbag dmail` shares (deliver.h).
 *
 * The message is read once into an unlinked temporary file, so that it
 * can be written to several recipients and memory does not grow with it.
 * Each copy goes through mb_open/mb_create and mb_append, so it lands in
 * whatever format the target mailbox has, under that format's locks; a
 * failed or killed append leaves nothing behind (the drivers' tail
 * journal), so the MTA's retry delivers exactly once.
 *
 * As root, every recipient is served by a child that has become that
 * user (groups, gid, uid, all three ids) before it opens anything in the
 * user's name; run as the user (Postfix's mailbox_command) the only
 * recipient must be the user itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "util.h"

#define FIRST_MAX  4096 /* bytes of the first line kept to parse it */
#define SPOOL_BUF  65536
#define SENDER_MAX 512
#define RETRIES	   5 /* creates that lost a race to another creator */

const char cmd_deliver_usage[] =
	"usage: mailbag deliver [-v] [-f SENDER] [-b FORMAT] USER[+FOLDER]...\n"
	"\n"
	"Deliver the message on stdin to each USER's INBOX, or to FOLDER\n"
	"(relative to the user's home directory), in the format the mailbox\n"
	"already has; a new mailbox is made in FORMAT.  An envelope \"From \"\n"
	"line at the top gives the sender and is dropped.  Run as root (it\n"
	"becomes each recipient to write) or as the only recipient.\n"
	"\n"
	"   -f, -r, --from=SENDER  the envelope sender (overrides a From line)\n"
	"   -b, --format=FORMAT    format of a new INBOX or folder (default:\n"
	"                          the new-format setting)\n"
	"   -v, --verbose          say where each copy went\n"
	"       --set NAME=VALUE   a mailbag.conf(5) setting, e.g.\n"
	"                          spool-directory=/var/mail\n"
	"   -h, --help             this text\n"
	"       --version          print the version\n"
	"\n"
	"Exit status: 0 delivered to every recipient; 75 (EX_TEMPFAIL) when\n"
	"a delivery may succeed later (lock busy, disk full, I/O error, unsafe\n"
	"or unreadable mailbox); 67 unknown user; 77 mail to root refused;\n"
	"65 empty message; 64 usage.  With several recipients: 75 if any\n"
	"copy failed that way, else the first other failure.\n";

/* ------------------------------------------------------------------ */
/* Spooling stdin                                                       */

struct spooler {
	struct dl_msg *m;
	const char *prog;
	char buf[SPOOL_BUF];
	size_t len;
	bool cr;      /* a CR waits: dropped if LF follows */
	bool header;  /* still in the header */
	char pre[12]; /* first bytes of the current line */
	size_t prelen;
	bool failed;
};

static void
sp_flush(struct spooler *sp)
{
	size_t off = 0;
	ssize_t n;

	while (off < sp->len && !sp->failed) {
		n = write(sp->m->fd, sp->buf + off, sp->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			warnmsg(sp->prog, "cannot store the message: %s",
				strerror(n < 0 ? errno : EIO));
			sp->failed = true;
			break;
		}
		off += (size_t)n;
	}
	sp->len = 0;
}

static void
sp_emit(struct spooler *sp, char c)
{
	if (sp->header) {
		if (c == '\n') {
			if (sp->prelen == 0)
				sp->header = false;
			sp->prelen = 0;
		} else if (sp->prelen < sizeof(sp->pre)) {
			sp->pre[sp->prelen++] = c;
			if (sp->prelen == sizeof(sp->pre) &&
			    strncasecmp(sp->pre, "Return-Path:", 12) == 0)
				sp->m->has_return_path = true;
		} else if (sp->prelen == sizeof(sp->pre)) {
			sp->prelen++; /* past the name: stop looking */
		}
	}
	if (sp->len == sizeof(sp->buf))
		sp_flush(sp);
	sp->buf[sp->len++] = c;
	sp->m->size++;
}

static void
sp_put(struct spooler *sp, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (sp->cr) {
			sp->cr = false;
			if (p[i] == '\n') {
				sp_emit(sp, '\n');
				continue;
			}
			sp_emit(sp, '\r');
		}
		if (p[i] == '\r')
			sp->cr = true;
		else
			sp_emit(sp, p[i]);
	}
}

/* The sender of an envelope line "From SENDER ...". */
static char *
envelope_sender(const char *line, size_t len)
{
	size_t i = 5, j;

	while (i < len && line[i] == ' ')
		i++;
	for (j = i;
	     j < len && line[j] != ' ' && line[j] != '\t' && line[j] != '\r';
	     j++)
		;
	if (j == i)
		return NULL;
	return strndup(line + i, j - i);
}

static ssize_t
read_some(int fd, char *buf, size_t size)
{
	ssize_t n;

	do
		n = read(fd, buf, size);
	while (n < 0 && errno == EINTR);
	return n;
}

/* A temporary file without a name in $TMPDIR (or /tmp). */
static int
spool_file(const char *prog)
{
	struct mb_err e;
	int fd = mb_tmpfile("mailbag-deliver", "a temporary file", &e);

	if (fd < 0)
		warnmsg(prog, "%s: %s", e.path, e.msg);
	return fd;
}

int
dl_spool(struct dl_msg *m, int in_fd, const char *prog)
{
	enum { F_START, F_ENVELOPE, F_TEXT } st = F_START;
	struct spooler *sp;
	char first[FIRST_MAX], chunk[SPOOL_BUF];
	size_t flen = 0, i;
	ssize_t n;
	int rc = 0;

	m->fd = spool_file(prog);
	m->size = 0;
	m->has_return_path = false;
	if (m->fd < 0)
		return EX_TEMPFAIL;
	sp = calloc(1, sizeof(*sp));
	if (sp == NULL) {
		warnmsg(prog, "out of memory");
		return EX_TEMPFAIL;
	}
	sp->m = m;
	sp->prog = prog;
	sp->header = true;
	for (;;) {
		n = read_some(in_fd, chunk, sizeof(chunk));
		if (n < 0) {
			warnmsg(prog, "cannot read the message: %s",
				strerror(errno));
			rc = EX_TEMPFAIL;
			goto out;
		}
		if (n == 0)
			break;
		/* the first line: an envelope "From " line is dropped */
		for (i = 0; i < (size_t)n && st != F_TEXT; i++) {
			char c = chunk[i];

			if (st == F_START) {
				first[flen++] = c;
				if (flen == 5 &&
				    memcmp(first, "From ", 5) == 0) {
					st = F_ENVELOPE;
				} else if (flen == 5 || c == '\n') {
					sp_put(sp, first, flen);
					st = F_TEXT;
				}
			} else if (c == '\n') {
				if (m->sender == NULL)
					m->sender =
						envelope_sender(first, flen);
				free(m->envelope);
				m->envelope = strndup(first, flen);
				st = F_TEXT;
			} else if (flen < sizeof(first)) {
				first[flen++] = c;
			}
		}
		sp_put(sp, chunk + i, (size_t)n - i);
		if (sp->failed) {
			rc = EX_TEMPFAIL;
			goto out;
		}
	}
	if (st == F_START)
		sp_put(sp, first, flen);
	else if (st == F_ENVELOPE && m->sender == NULL)
		m->sender = envelope_sender(first, flen);
	if (st == F_ENVELOPE) {
		free(m->envelope);
		m->envelope = strndup(first, flen);
	}
	if (sp->cr)
		sp_emit(sp, '\r');
	sp_flush(sp);
	if (sp->failed) {
		rc = EX_TEMPFAIL;
		goto out;
	}
	if (m->size == 0) {
		warnmsg(prog, "empty message");
		rc = EX_DATAERR;
	}
out:
	free(sp);
	return rc;
}

void
dl_msg_free(struct dl_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	free(m->sender);
	m->sender = NULL;
	free(m->envelope);
	m->envelope = NULL;
}

/* ------------------------------------------------------------------ */
/* The reader: our header lines, then the spooled message               */

struct cat_reader {
	struct mb_reader r;
	char *pre;
	size_t prelen, ppos;
	int fd;
	int64_t size, pos;
};

static ssize_t
cat_read(struct mb_reader *rr, void *buf, size_t len, struct mb_err *e)
{
	struct cat_reader *c = (struct cat_reader *)rr;
	size_t n;
	ssize_t got;

	if (c->ppos < c->prelen) {
		n = c->prelen - c->ppos;
		if (n > len)
			n = len;
		memcpy(buf, c->pre + c->ppos, n);
		c->ppos += n;
		return (ssize_t)n;
	}
	if (c->pos >= c->size)
		return 0;
	n = len;
	if ((int64_t)n > c->size - c->pos)
		n = (size_t)(c->size - c->pos);
	do
		got = pread(c->fd, buf, n, c->pos);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		mb_err_clear(e);
		e->code = MB_EIO;
		e->sys_errno = got < 0 ? errno : EIO;
		e->offset = c->pos;
		snprintf(e->msg, sizeof(e->msg),
			 "cannot read the spooled message: %s",
			 strerror(e->sys_errno));
		return -1;
	}
	c->pos += got;
	return got;
}

static int
cat_rewind(struct mb_reader *rr, struct mb_err *e)
{
	struct cat_reader *c = (struct cat_reader *)rr;

	(void)e;
	c->ppos = 0;
	c->pos = 0;
	return MB_OK;
}

static void
cat_close(struct mb_reader *rr)
{
	struct cat_reader *c = (struct cat_reader *)rr;

	free(c->pre);
	free(c);
}

/* "Return-Path: <s>" unless the message has one, and "Received:". */
static char *
prefix_lines(const struct dl_job *j, size_t *len)
{
	char date[80], rp[SENDER_MAX + 32], inv[300];
	struct tm tm;
	time_t now = time(NULL);
	char *out = NULL;
	int n, tz = 0;

	if (localtime_r(&now, &tm) != NULL)
		tz = (int)(tm.tm_gmtoff / 60);
	mb_date_rfc5322((int64_t)now, tz, date, sizeof(date));
	rp[0] = '\0';
	if (j->msg->sender != NULL && !j->msg->has_return_path)
		snprintf(rp, sizeof(rp), "Return-Path: <%s>\n", j->msg->sender);
	inv[0] = '\0';
	if (j->invoker != NULL)
		snprintf(inv, sizeof(inv), " (invoked by user %s)", j->invoker);
	n = asprintf(&out, "%sReceived: via mailbag-%s %s%s for %s; %s\n", rp,
		     MAILBAG_VERSION, j->via, inv, j->rcpt, date);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return out;
}

static struct mb_reader *
cat_reader_new(const struct dl_job *j)
{
	struct cat_reader *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->pre = prefix_lines(j, &c->prelen);
	if (c->pre == NULL) {
		free(c);
		return NULL;
	}
	c->fd = j->msg->fd;
	c->size = j->msg->size;
	c->r.read = cat_read;
	c->r.rewind = cat_rewind;
	c->r.close = cat_close;
	c->r.size = (int64_t)c->prelen + c->size;
	return &c->r;
}

/* ------------------------------------------------------------------ */
/* Targets                                                              */

bool
dl_folder_ok(const char *name)
{
	if (*name == '\0' || strchr("%*#/~", *name) != NULL)
		return false;
	if (strstr(name, "..") || strstr(name, "//") || strstr(name, "/~"))
		return false;
	return strpbrk(name, "%*\n\r") == NULL;
}

bool
dl_folder_is_inbox(const char *name)
{
	return *name == '\0' || strcasecmp(name, "INBOX") == 0;
}

static bool
is_single_file_text_format(const char *fmt)
{
	return fmt != NULL &&
	       (strcmp(fmt, "unix") == 0 || strcmp(fmt, "mmdf") == 0);
}

int
dl_inbox(struct mb_ctx *ctx, const struct passwd *pw, const char *fmt,
	 char *path, size_t size, const char **create_fmt, struct mb_err *e)
{
	char home_inbox[PATH_MAX];
	struct mb_err pe;
	const char *forced = NULL, *probed;
	int n;

	/* libmbox names INBOX (UW's order, shared/spec/uw-formats.md 13) */
	if (mb_resolve_name(ctx, "INBOX", path, size, &forced, e) != MB_OK)
		return MB_FAILED;
	if (fmt == NULL)
		fmt = mb_ctx_get(ctx, "new-format");
	*create_fmt = forced ? forced : fmt;
	n = snprintf(home_inbox, sizeof(home_inbox), "%s/INBOX", pw->pw_dir);
	if (n < 0 || (size_t)n >= sizeof(home_inbox))
		return MB_OK;
	/*
	 * The resolution above names the spool file for every user who has
	 * no ~/INBOX of another format; an existing one of those is the
	 * INBOX (UW's rule 4, mbx and others), and a new INBOX in such a
	 * format is made there, as `tmail -b mbx` makes it.
	 */
	mb_err_clear(&pe);
	probed = access(home_inbox, F_OK) == 0 ?
			 mb_probe(ctx, home_inbox, &pe) :
			 NULL;
	if ((probed != NULL && !is_single_file_text_format(probed)) ||
	    (probed == NULL && access(path, F_OK) != 0 &&
	     !is_single_file_text_format(*create_fmt))) {
		if (strlen(home_inbox) < size)
			snprintf(path, size, "%s", home_inbox);
	}
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* The append                                                           */

static int fail(struct mb_err *e, int code, int sys, const char *path,
		const char *fmt, ...) CMD_PRINTF(5, 6);

static int
fail(struct mb_err *e, int code, int sys, const char *path, const char *fmt,
     ...)
{
	va_list ap;

	mb_err_clear(e);
	e->code = code;
	e->sys_errno = sys;
	snprintf(e->path, sizeof(e->path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return MB_FAILED;
}

/* UW's checks of a delivery target (section 14.4): refused, not warned. */
static int
check_target(const struct dl_job *j, const char *path, const struct stat *st,
	     struct mb_err *e)
{
	const char *why = NULL;
	char buf[96];

	if (S_ISLNK(st->st_mode))
		why = "it is a symbolic link";
	else if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		why = "it is not a regular file or a directory";
	else if (st->st_mode & (S_ISUID | S_ISGID))
		why = "it is setuid or setgid";
	else if (S_ISREG(st->st_mode) && st->st_nlink > 1)
		why = "it has several hard links";
	else if (j->check_owner && st->st_uid != j->pw->pw_uid) {
		snprintf(buf, sizeof(buf), "uid mismatch (%u != %u)",
			 (unsigned)st->st_uid, (unsigned)j->pw->pw_uid);
		why = buf;
	}
	if (why == NULL)
		return MB_OK;
	return fail(e, MB_EPERM, 0, path, "delivery to %s unsafe: %s", path,
		    why);
}

/* The driver for an empty file: it has no format yet (UW: unix). */
static const char *
empty_format(const struct dl_job *j, const char *create_fmt)
{
	const char *f =
		create_fmt ? create_fmt : mb_ctx_get(j->ctx, "new-format");

	return is_single_file_text_format(f) ? f : "unix";
}

/* "a@b" from "<a@b>"; "" for the null sender "<>". */
static void
bare_sender(const char *s, char *out, size_t size)
{
	size_t n;

	while (*s == ' ' || *s == '<')
		s++;
	snprintf(out, size, "%s", s);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '>' || out[n - 1] == ' '))
		out[--n] = '\0';
}

/* The "new mail" mark: accessed before it was last modified. */
static void
mark_new_mail(const char *path)
{
	struct timespec ts[2];
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	ts[0] = st.st_mtim;
	ts[0].tv_sec -= 1;
	ts[1].tv_sec = 0;
	ts[1].tv_nsec = UTIME_OMIT;
	utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

static int append_copy(const struct dl_job *j, const char *path, int create,
		       const char *create_fmt, bool *missing, struct mb_err *e);

/*
 * A UW session that opens the mailbox read/write while we hold its /tmp
 * lock sends SIGUSR2 to the PID written there (its "kiss of death",
 * uw-formats.md 12.4) and retries once a second for 15 s.  Left at its
 * default, the signal kills the delivery (75, the MTA retries later);
 * ignored, the append finishes in a moment, the lock is released, and
 * the UW session gets it on its next try.
 */
int
dl_append(const struct dl_job *j, const char *path, int create,
	  const char *create_fmt, bool *missing, struct mb_err *e)
{
	struct sigaction ign, old;
	int rc;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGUSR2, &ign, &old) < 0)
		return fail(e, MB_EIO, errno, path, "cannot ignore SIGUSR2: %s",
			    strerror(errno));
	rc = append_copy(j, path, create, create_fmt, missing, e);
	sigaction(SIGUSR2, &old, NULL);
	return rc;
}

static int
append_copy(const struct dl_job *j, const char *path, int create,
	    const char *create_fmt, bool *missing, struct mb_err *e)
{
	char sender[SENDER_MAX];
	struct mb_newmsg meta;
	struct mb_reader *rd;
	struct mb_box *box;
	struct stat st, st2;
	struct tm tm;
	time_t now;
	int attempt, rc = MB_FAILED;
	bool created;

	*missing = false;
	for (attempt = 0; attempt < RETRIES; attempt++) {
		created = false;
		box = NULL;
		if (lstat(path, &st) < 0) {
			if (errno != ENOENT)
				return fail(e, MB_EIO, errno, path,
					    "cannot look at %s: %s", path,
					    strerror(errno));
			if (!create) {
				*missing = true;
				return fail(e, MB_ENOENT, ENOENT, path,
					    "no such mailbox");
			}
			if (create == DL_CREATE_EMPTY &&
			    is_single_file_text_format(create_fmt)) {
				/* a spool file starts empty, without UW's
				 * pseudo-message (UW makes INBOX so) */
				int fd = open(path,
					      O_WRONLY | O_CREAT | O_EXCL |
						      O_NOFOLLOW | O_CLOEXEC,
					      0600);

				if (fd < 0 && errno == EEXIST)
					continue;
				if (fd < 0)
					return fail(
						e,
						errno == ENOSPC ||
								errno ==
									EDQUOT ?
							MB_ENOSPC :
							MB_EPERM,
						errno, path,
						"cannot create %s: %s", path,
						strerror(errno));
				close(fd);
				continue; /* now open it as any other */
			}
			rc = mb_create(j->ctx, path, create_fmt,
				       MB_CREATE_ATOMIC, &box, e);
			if (rc != MB_OK && e->code == MB_EEXIST)
				continue; /* made by another delivery */
			if (rc != MB_OK)
				return rc;
			created = true;
		} else {
			if ((rc = check_target(j, path, &st, e)) != MB_OK)
				return rc;
			rc = mb_open(j->ctx, path,
				     S_ISREG(st.st_mode) && st.st_size == 0 ?
					     empty_format(j, create_fmt) :
					     NULL,
				     MB_RDWR, &box, e);
			if (rc != MB_OK)
				return rc;
			/* still the file we checked (renamed meanwhile?) */
			if (lstat(path, &st2) < 0 || st2.st_ino != st.st_ino ||
			    st2.st_dev != st.st_dev) {
				mb_abort(&box);
				continue;
			}
		}

		memset(&meta, 0, sizeof(meta));
		now = time(NULL);
		meta.idate = (int64_t)now;
		if (localtime_r(&now, &tm) != NULL)
			meta.idate_tz = (int)(tm.tm_gmtoff / 60);
		meta.flags = j->flags;
		meta.keywords = j->keywords;
		meta.nkeywords = j->nkeywords;
		if (j->msg->sender != NULL) {
			bare_sender(j->msg->sender, sender, sizeof(sender));
			if (sender[0] == '\0')
				snprintf(sender, sizeof(sender),
					 "MAILER-DAEMON");
		} else {
			/* no envelope: the recipient, as UW writes it */
			snprintf(sender, sizeof(sender), "%s@%s",
				 j->pw->pw_name,
				 mb_ctx_get(j->ctx, "local-host"));
		}
		meta.sender = sender;

		rd = cat_reader_new(j);
		if (rd == NULL) {
			mb_abort(&box);
			return fail(e, MB_ENOMEM, ENOMEM, path,
				    "out of memory");
		}
		rc = mb_append(box, &meta, rd, NULL, e);
		mb_reader_close(&rd);
		if (rc != MB_OK) {
			mb_abort(&box);
			return rc;
		}
		rc = mb_close(&box, e);
		if (rc != MB_OK && created && e->code == MB_EEXIST)
			continue; /* another delivery created it first */
		if (rc == MB_OK)
			mark_new_mail(path);
		return rc;
	}
	return fail(e, MB_ECHANGED, 0, path,
		    "the mailbox kept changing under us: try again");
}

/* ------------------------------------------------------------------ */
/* mailbag deliver                                                      */

/* An internal child status: the folder is missing, use INBOX. */
#define TO_INBOX 200

struct deliver {
	struct cmd_env *env;
	struct dl_msg msg;
	const char *format;
	const char *invoker;
	bool verbose;
};

static int
report_failure(const struct deliver *d, const char *rcpt,
	       const struct mb_err *e)
{
	warnmsg(d->env->prog, "%s: %s%s%s", rcpt, e->path,
		e->path[0] ? ": " : "", e->msg);
	syslog(LOG_ERR, "delivery to %s failed: %s%s%s", rcpt, e->path,
	       e->path[0] ? ": " : "", e->msg);
	return EX_TEMPFAIL;
}

/*
 * As the recipient: deliver to folder (NULL: INBOX).  Returns 0,
 * EX_TEMPFAIL, or TO_INBOX when the folder does not exist or its name is
 * not valid.
 */
static int
deliver_as_user(struct deliver *d, const char *rcpt, const struct passwd *pw,
		const char *folder)
{
	char path[PATH_MAX];
	const char *cfmt;
	struct dl_job j;
	struct mb_err e;
	bool missing;
	int n, rc;

	memset(&j, 0, sizeof(j));
	j.ctx = d->env->ctx;
	j.prog = d->env->prog;
	j.via = "deliver";
	j.rcpt = rcpt;
	j.invoker = d->invoker;
	j.msg = &d->msg;
	j.pw = pw;
	j.check_owner = true;
	j.new_format = d->format;
	mb_err_clear(&e);

	if (folder != NULL) {
		if (!dl_folder_ok(folder)) {
			warnmsg(d->env->prog,
				"invalid mailbox name %s: delivering to INBOX",
				rcpt);
			syslog(LOG_NOTICE, "invalid mailbox name %s", rcpt);
			return TO_INBOX;
		}
		n = snprintf(path, sizeof(path), "%s/%s", pw->pw_dir, folder);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			warnmsg(d->env->prog,
				"%s: name too long: delivering to INBOX", rcpt);
			return TO_INBOX;
		}
		rc = dl_append(&j, path, DL_NO_CREATE, d->format, &missing, &e);
		if (rc == MB_OK)
			goto done;
		if (missing) {
			warnmsg(d->env->prog,
				"%s: no such folder %s: delivering to INBOX",
				rcpt, path);
			syslog(LOG_NOTICE, "no such folder %s for %s", path,
			       rcpt);
			return TO_INBOX;
		}
		return report_failure(d, rcpt, &e);
	}
	if (dl_inbox(j.ctx, pw, d->format, path, sizeof(path), &cfmt, &e) !=
	    MB_OK)
		return report_failure(d, rcpt, &e);
	rc = dl_append(&j, path, DL_CREATE_EMPTY, cfmt, &missing, &e);
	if (rc != MB_OK)
		return report_failure(d, rcpt, &e);
done:
	if (d->verbose)
		fprintf(stderr, "%s: %s: delivered to %s\n", d->env->prog, rcpt,
			path);
	syslog(LOG_INFO, "delivered to %s for %s", path, rcpt);
	return 0;
}

/*
 * Become pw for good: supplementary groups (plus extra_gid when it is not
 * (gid_t)-1: the spool directory's group), gid, uid.  Returns 0 or -1.
 */
static int
become(const struct passwd *pw, gid_t extra_gid)
{
	gid_t groups[NGROUPS_MAX + 1];
	int n;

	if (initgroups(pw->pw_name, pw->pw_gid) < 0)
		return -1;
	if (extra_gid != (gid_t)-1) {
		n = getgroups(NGROUPS_MAX, groups);
		if (n < 0)
			return -1;
		groups[n++] = extra_gid;
		if (setgroups((size_t)n, groups) < 0)
			return -1;
	}
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return -1;
	/* no way back */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return -1;
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || getegid() != pw->pw_gid)
		return -1;
	return 0;
}

/* The group of a spool directory that MDAs write as members of (Debian:
 * /var/mail 2775 root:mail), or (gid_t)-1. */
static gid_t
spool_group(struct mb_ctx *ctx)
{
	const char *dir = mb_ctx_get(ctx, "spool-directory");
	struct stat st;

	if (dir == NULL || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return (gid_t)-1;
	if ((st.st_mode & S_IWGRP) && !(st.st_mode & S_IWOTH) && st.st_gid != 0)
		return st.st_gid;
	return (gid_t)-1;
}

/* Run deliver_as_user in a child that has become pw. */
static int
deliver_in_child(struct deliver *d, const char *rcpt, const struct passwd *pw,
		 const char *folder, gid_t extra)
{
	int status;
	pid_t pid, w;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		warnmsg(d->env->prog, "%s: cannot fork: %s", rcpt,
			strerror(errno));
		return EX_TEMPFAIL;
	}
	if (pid == 0) {
		if (become(pw, extra) < 0) {
			warnmsg(d->env->prog, "%s: cannot become uid %u: %s",
				rcpt, (unsigned)pw->pw_uid, strerror(errno));
			_exit(EX_TEMPFAIL);
		}
		setenv("HOME", pw->pw_dir, 1);
		setenv("USER", pw->pw_name, 1);
		setenv("LOGNAME", pw->pw_name, 1);
		status = deliver_as_user(d, rcpt, pw, folder);
		fflush(stderr);
		_exit(status);
	}
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return EX_TEMPFAIL;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	warnmsg(d->env->prog, "%s: delivery killed by signal %d", rcpt,
		WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return EX_TEMPFAIL;
}

static int
deliver_rcpt(struct deliver *d, const char *rcpt)
{
	char user[256];
	const char *plus = strchr(rcpt, '+');
	const char *folder = plus ? plus + 1 : NULL;
	size_t ulen = plus ? (size_t)(plus - rcpt) : strlen(rcpt);
	struct passwd *pwp, pw;
	bool root = geteuid() == 0;
	int rc;

	if (ulen == 0 || ulen >= sizeof(user)) {
		warnmsg(d->env->prog, "%s: not a user name", rcpt);
		return EX_NOUSER;
	}
	memcpy(user, rcpt, ulen);
	user[ulen] = '\0';
	errno = 0;
	pwp = getpwnam(user);
	if (pwp == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH) {
			warnmsg(d->env->prog, "%s: cannot look up the user: %s",
				rcpt, strerror(errno));
			return EX_TEMPFAIL;
		}
		warnmsg(d->env->prog, "%s: no such user as %s", rcpt, user);
		syslog(LOG_NOTICE, "no such user as %s", user);
		return EX_NOUSER;
	}
	pw = *pwp; /* the strings stay: no other getpw* call follows */
	if (pw.pw_uid == 0) {
		warnmsg(d->env->prog, "%s: mail to root prohibited", rcpt);
		return EX_NOPERM;
	}
	if (folder != NULL && dl_folder_is_inbox(folder))
		folder = NULL;
	if (!root && pw.pw_uid != getuid()) {
		warnmsg(d->env->prog,
			"%s: cannot deliver to %s as uid %u: run as root or as "
			"that user",
			rcpt, user, (unsigned)getuid());
		return EX_TEMPFAIL;
	}
	if (folder != NULL) {
		rc = root ? deliver_in_child(d, rcpt, &pw, folder, (gid_t)-1) :
			    deliver_as_user(d, rcpt, &pw, folder);
		if (rc != TO_INBOX)
			return rc;
	}
	rc = root ? deliver_in_child(d, rcpt, &pw, NULL,
				     spool_group(d->env->ctx)) :
		    deliver_as_user(d, rcpt, &pw, NULL);
	return rc == TO_INBOX ? EX_TEMPFAIL : rc;
}

/* Several recipients: a retryable failure outweighs a permanent one. */
static int
worse(int a, int b)
{
	if (a == EX_TEMPFAIL || b == EX_TEMPFAIL)
		return EX_TEMPFAIL;
	return a != 0 ? a : b;
}

static bool
known_format(const char *name)
{
	const char *f;
	unsigned i;

	for (i = 0; (f = mb_format_name(i)) != NULL; i++)
		if (strcmp(f, name) == 0)
			return true;
	return false;
}

int
cmd_deliver(int argc, char **argv, struct cmd_env *env)
{
	enum { OPT_VERSION = 256 };
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "format", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct deliver d;
	struct passwd *me;
	int c, i, rc, all = 0;

	memset(&d, 0, sizeof(d));
	d.env = env;
	d.msg.fd = -1;
	while ((c = getopt_long(argc, argv, "f:r:b:vDh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
		case 'r':
			free(d.msg.sender);
			d.msg.sender = xstrdup(optarg);
			break;
		case 'b':
			d.format = optarg;
			break;
		case 'v':
		case 'D':
			d.verbose = true;
			break;
		case 'h':
			free(d.msg.sender);
			return cmd_help(env);
		case OPT_VERSION:
			free(d.msg.sender);
			return print_version();
		default:
			free(d.msg.sender);
			return cmd_usage_error(env, NULL);
		}
	}
	if (optind >= argc) {
		free(d.msg.sender);
		return cmd_usage_error(env, "no recipient");
	}
	if (d.format != NULL && !known_format(d.format)) {
		free(d.msg.sender);
		return cmd_usage_error(env, "unknown format '%s'", d.format);
	}
	if ((rc = cmd_load_config(env)) != 0) {
		free(d.msg.sender);
		return rc == EX_CONFIG ? EX_TEMPFAIL : rc;
	}
	openlog("mailbag-deliver", LOG_PID, LOG_MAIL);
	if (getuid() != 0) {
		me = getpwuid(getuid());
		d.invoker = me ? xstrdup(me->pw_name) : NULL;
	}
	rc = dl_spool(&d.msg, 0, env->prog);
	if (rc == 0) {
		for (i = optind; i < argc; i++)
			all = worse(all, deliver_rcpt(&d, argv[i]));
		rc = all;
	}
	dl_msg_free(&d.msg);
	free((char *)d.invoker);
	closelog();
	return rc;
}

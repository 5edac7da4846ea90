/*
 * maildir.c - maildir folders (one file per message in tmp/, new/, cur/),
 * with UIDs, UIDVALIDITY and keywords kept the way Dovecot keeps them, so
 * that a folder moves between Dovecot, mutt, mblaze, procmail and
 * mailbag without its UIDs or flags changing.
 *
 *	<folder>/tmp/<unique>			being written
 *	<folder>/new/<unique>[:2,<info>]	delivered, \Recent
 *	<folder>/cur/<unique>:2,<info>		seen by a client
 *	<folder>/dovecot-uidlist		"3 V<validity> N<next> G<guid>"
 *						then "<uid> [ext] :<unique>"
 *	<folder>/dovecot-keywords		"<n> <name>": letter 'a' + n
 *	<folder>/maildirfolder			marks a Maildir++ subfolder
 *
 * The info letters, in ASCII order: D \Draft, F \Flagged, P passed (no
 * IMAP flag, kept), R \Answered, S \Seen, T \Deleted, a..z keywords;
 * any other letter is kept as found.  A message is \Recent while in new/.
 * The internal date is the file's mtime; the size is S=<n> in the name
 * when present, else the file's size.  Messages are stored with LF line
 * ends.
 *
 * UIDs are keyed by the unique part of the name (up to the ':'), so a
 * flag rename by another program keeps the UID.  dovecot-uidlist is
 * changed only under its dot-lock dovecot-uidlist.lock (created O_EXCL,
 * holding "<pid>:<host>", stale when its process is gone or it is older
 * than two minutes); the new list is written into the lock file itself
 * and renamed over the old one, which also releases the lock (Dovecot's
 * way).  dovecot-keywords is changed the same way.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "formats.h"

#define UIDLIST	     "dovecot-uidlist"
#define KEYWORDS     "dovecot-keywords"
#define FOLDER_MARK  "maildirfolder"
#define NLETTERS     26	 /* keyword letters a..z */
#define LOCK_STALE   120 /* seconds, as Dovecot's uidlist lock */
#define LOCK_REFRESH 30	 /* touch a held lock this often */
#define CHUNK	     (64u << 10)
/* a folder being created takes a message up to this size straight at
 * its final name, from memory */
#define RAW_MAX	    (1u << 20)
#define UIDLIST_MAX (256u << 20) /* larger is not a uidlist */

/* One message file. */
struct md_ent {
	char *name;  /* "cur/<unique>:2,FS" */
	size_t blen; /* bytes of <unique> */
	uint32_t uid;
	char *ext;   /* uidlist extension fields, or NULL */
	bool listed; /* the uidlist names it */
	bool gone;   /* vanished, not yet removed from the index */
	bool mark;   /* scratch for resync */
};

/* A message appended and waiting in tmp/ for commit. */
struct md_pending {
	char *tmpname; /* "tmp/<unique>"; NULL: written in place already */
	char *name;    /* its final "new/..." or "cur/..." */
	size_t blen;
	uint32_t uid;
};

struct md_lock {
	char path[PATH_MAX];
	int fd;
	dev_t dev;
	ino_t ino;
	time_t touched;
};

struct md_state {
	struct md_ent *ents; /* in UID order; ents[i] is message i + 1 */
	uint32_t nents, nalloc;
	uint32_t reported; /* handed to the core by next() */

	/* the uidlist as last read */
	bool ul_exists;
	bool ul_broken; /* damaged: nothing is written until renumber */
	bool ul_dirty;	/* to be written */
	struct stat ul_st;
	char guid[40];
	char *hdr_extra;  /* header fields we keep verbatim */
	uint32_t ul_next; /* N */

	/* keywords: letter -> box keyword index, or -1 */
	int letter_kw[NLETTERS];
	char *letter_name[NLETTERS];
	struct stat kw_st;

	struct md_lock lock; /* the uidlist lock, while held */
	bool created;	     /* we made the folder */
	bool renumbered;     /* created: a kept UID had to be replaced */
	bool uids_dirty;     /* renumber() */
	uint32_t wprev_uid;  /* last UID given to an append */
	struct md_pending *pend;
	uint32_t npend, npalloc;
	uint32_t unsynced; /* pending files in tmp/ not fsynced yet */
	char *raw;	   /* created: a message read whole (RAW_MAX) */
	char *cooked;
	bool check; /* MB_CHECK: report what is odd */
	/* files we make take the folder's owner and mode (Dovecot's way) */
	mode_t fmode;
	uid_t fuid;
	gid_t fgid;
	/* poll: the directories as last listed */
	struct timespec new_mtim, cur_mtim, listed_at;
};

static struct md_state *
state(struct mb_box *b)
{
	return b->priv;
}

static void md_close(struct mb_box *b);

/* snprintf for path names: false when the result did not fit. */
static bool pathf(char *out, size_t size, const char *fmt, ...)
	MBI_PRINTF(3, 4);

static bool
pathf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < size;
}

/* Give a file we created the folder's mode and, as root, its owner. */
static void
own(struct mb_box *b, int fd)
{
	struct md_state *s = b->priv;

	if (s == NULL || s->fmode == 0)
		return;
	fchmod(fd, s->fmode);
	if (geteuid() == 0 && (s->fuid != 0 || s->fgid != 0) &&
	    fchown(fd, s->fuid, s->fgid) < 0)
		fchmod(fd, 0600); /* stays ours, readable by root only */
}

struct md_ent;
static int relocate(struct mb_box *b, struct md_state *s, struct md_ent *t,
		    struct mb_err *e);

/* A diagnostic about the file rel (relative to the folder). */
static void diag_file(struct mb_box *b, const char *rel, int level,
		      const char *code, int64_t off, uint32_t msgno,
		      uint32_t uid, const char *fmt, ...) MBI_PRINTF(8, 9);

static void
diag_file(struct mb_box *b, const char *rel, int level, const char *code,
	  int64_t off, uint32_t msgno, uint32_t uid, const char *fmt, ...)
{
	char path[PATH_MAX], text[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pathf(path, sizeof(path), "%s/%s",
	      b->creating ? b->final_path : b->path, rel);
	mbi_diag_at(b, path, level, code, off, msgno, uid, "%s", text);
}

/* ------------------------------------------------------------------ */
/* Names                                                                */

/* "<dir>/<rel>" into out; MB_FAILED when too long. */
static int
join(char *out, size_t size, const char *dir, const char *rel, struct mb_err *e)
{
	int n = snprintf(out, size, "%s/%s", dir, rel);

	if (n < 0 || (size_t)n >= size)
		return mbi_err(e, MB_FAILED, MB_EINVAL, dir, -1,
			       "path name too long");
	return MB_OK;
}

/* The unique part of a file name: up to the first ':'. */
static size_t
base_len(const char *name)
{
	const char *c = strchr(name, ':');

	return c ? (size_t)(c - name) : strlen(name);
}

/* Skip "new/" or "cur/". */
static const char *
leaf(const char *rel)
{
	const char *p = strchr(rel, '/');

	return p ? p + 1 : rel;
}

static bool
in_cur(const char *rel)
{
	return strncmp(rel, "cur/", 4) == 0;
}

/*
 * Is this the name of a delivered message as maildir writers make it:
 * "<seconds>.<unique>.<host>" with an optional ":<info>", no controls,
 * no blanks, at most one ':'?
 */
static bool
good_name(const char *n)
{
	const char *p = n, *c;

	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p != '.' || p[1] == '.' || p[1] == '\0' || p[1] == ':')
		return false;
	c = strchr(n, ':');
	if (c != NULL && strchr(c + 1, ':') != NULL)
		return false;
	if (memchr(p + 1, '.', c ? (size_t)(c - p - 1) : strlen(p + 1)) == NULL)
		return false;
	for (p = n; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* Numbers compare as numbers, so 999999999.x sorts before 1000000000.x. */
static int
name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t da = 0, db = 0;
	int c;

	while (da < alen && isdigit((unsigned char)a[da]))
		da++;
	while (db < blen && isdigit((unsigned char)b[db]))
		db++;
	if (da != db && da > 0 && db > 0)
		return da < db ? -1 : 1;
	c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* ------------------------------------------------------------------ */
/* Dot-locks (dovecot-uidlist.lock, dovecot-keywords.lock)              */

static void
host_name(char *buf, size_t size)
{
	if (gethostname(buf, size) != 0)
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
}

/* A lock whose writer is gone (same host, dead PID) or that is old. */
static bool
lock_stale(const char *path, const struct stat *st)
{
	char buf[300], host[256], *colon, *end;
	ssize_t n;
	long pid;
	int fd;

	if (time(NULL) - st->st_mtime > LOCK_STALE)
		return true;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	colon = strchr(buf, ':');
	if (colon == NULL)
		return false;
	*colon = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (*end != '\0' || pid <= 0 || errno != 0)
		return false;
	host_name(host, sizeof(host));
	if (strcmp(colon + 1, host) != 0)
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/*
 * Take "<target>.lock", waiting up to the lock timeout.  MB_OK,
 * MB_RETRY (busy) or MB_FAILED.
 */
static int
lock_take(struct mb_box *b, const char *target, struct md_lock *l,
	  struct mb_err *e)
{
	char host[256], buf[300];
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	struct stat st, st2;
	time_t deadline = time(NULL) + b->ctx->lock_timeout;
	int n;

	if (snprintf(l->path, sizeof(l->path), "%s.lock", target) >=
	    (int)sizeof(l->path))
		return mbi_err(e, MB_FAILED, MB_EINVAL, target, -1,
			       "path name too long");
	for (;;) {
		l->fd = open(l->path,
			     O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			     0600);
		if (l->fd >= 0)
			break;
		if (errno != EEXIST)
			return mbi_err_sys(e, MB_FAILED, errno, l->path,
					   "cannot create lock");
		if (lstat(l->path, &st) == 0 && lock_stale(l->path, &st) &&
		    lstat(l->path, &st2) == 0 && st2.st_ino == st.st_ino &&
		    st2.st_mtime == st.st_mtime) {
			unlink(l->path);
			mbi_diag(b, MB_DIAG_INFO, "stale-lock", -1, 0, 0,
				 "removed the stale lock %s", l->path);
			continue;
		}
		if (time(NULL) >= deadline)
			return mbi_err(e, MB_RETRY, MB_ELOCKED, l->path, -1,
				       "locked by another process");
		nanosleep(&pause, NULL);
	}
	host_name(host, sizeof(host));
	n = snprintf(buf, sizeof(buf), "%ld:%s", (long)getpid(), host);
	if (mbi_write_all(l->fd, buf, (size_t)n, l->path, e) != MB_OK ||
	    fstat(l->fd, &st) < 0) {
		close(l->fd);
		unlink(l->path);
		l->fd = -1;
		return MB_FAILED;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	l->touched = time(NULL);
	own(b, l->fd);
	return MB_OK;
}

static bool
lock_held(const struct md_lock *l)
{
	return l->fd >= 0;
}

/* Keep a long-held lock from looking stale. */
static void
lock_touch(struct md_lock *l)
{
	time_t now = time(NULL);

	if (l->fd >= 0 && now - l->touched >= LOCK_REFRESH) {
		futimens(l->fd, NULL);
		l->touched = now;
	}
}

static void
lock_release(struct md_lock *l)
{
	struct stat st;

	if (l->fd < 0)
		return;
	if (lstat(l->path, &st) == 0 && st.st_dev == l->dev &&
	    st.st_ino == l->ino)
		unlink(l->path);
	close(l->fd);
	l->fd = -1;
}

/*
 * Replace target by the content: written into the lock file, synced,
 * renamed over target.  The lock is gone afterwards, whatever happens.
 */
static int
lock_replace(struct md_lock *l, const char *target, const struct mbi_buf *c,
	     struct mb_err *e)
{
	int rc;

	if (ftruncate(l->fd, 0) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, l->path,
				 "cannot write lock file");
		goto fail;
	}
	rc = mbi_pwrite_all(l->fd, c->buf, c->len, 0, l->path, e);
	if (rc != MB_OK)
		goto fail;
	if (fsync(l->fd) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, l->path,
				 "cannot write to disk");
		goto fail;
	}
	if (rename(l->path, target) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, target,
				 "cannot replace '%s'", target);
		goto fail;
	}
	close(l->fd);
	l->fd = -1;
	return mbi_fsync_dir(target, e);
fail:
	lock_release(l);
	return rc;
}

/* ------------------------------------------------------------------ */
/* dovecot-keywords                                                     */

static void
kw_forget(struct md_state *s)
{
	unsigned i;

	for (i = 0; i < NLETTERS; i++) {
		free(s->letter_name[i]);
		s->letter_name[i] = NULL;
		s->letter_kw[i] = -1;
	}
}

/* Read dovecot-keywords (if it changed) into the letter map. */
static int
kw_read(struct mb_box *b, struct md_state *s, bool force, struct mb_err *e)
{
	char path[PATH_MAX], *line = NULL, *end;
	size_t cap = 0;
	ssize_t n;
	int64_t off = 0;
	unsigned lineno = 0;
	struct stat st;
	FILE *f;

	if (join(path, sizeof(path), b->path, KEYWORDS, e) != MB_OK)
		return MB_FAILED;
	f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT)
			return MB_OK;
		return mbi_err_sys(e, MB_FAILED, errno, path, "cannot read");
	}
	if (fstat(fileno(f), &st) == 0 && !force &&
	    st.st_ino == s->kw_st.st_ino && st.st_size == s->kw_st.st_size &&
	    st.st_mtim.tv_sec == s->kw_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == s->kw_st.st_mtim.tv_nsec) {
		fclose(f);
		return MB_OK;
	}
	s->kw_st = st;
	kw_forget(s);
	while ((n = getline(&line, &cap, f)) > 0) {
		unsigned long idx;
		size_t len = (size_t)n;
		int k;

		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		errno = 0;
		idx = strtoul(line, &end, 10);
		if (len == 0 || !isdigit((unsigned char)line[0]) ||
		    *end != ' ' || end[1] == '\0' || errno != 0 ||
		    idx >= NLETTERS || s->letter_name[idx] != NULL ||
		    memchr(line, '\0', len) != NULL) {
			diag_file(b, KEYWORDS, MB_DIAG_WARN, "bad-keyword-line",
				  off, 0, 0,
				  "line %u is not '<0-25> <name>' "
				  "(or repeats an index): ignored",
				  lineno);
			off += n;
			continue;
		}
		s->letter_name[idx] = strdup(end + 1);
		if (s->letter_name[idx] == NULL) {
			fclose(f);
			free(line);
			return mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1,
				       "out of memory");
		}
		k = mbi_kw_add(b, end + 1, strlen(end + 1));
		s->letter_kw[idx] = k;
		off += n;
	}
	free(line);
	fclose(f);
	return MB_OK;
}

/* The letter of box keyword k, assigning one (and writing the file) if
 * it has none.  Returns 'a'..'z', or 0 when none can be had. */
static int
kw_letter(struct mb_box *b, struct md_state *s, unsigned k, bool assign,
	  struct mb_err *e)
{
	char path[PATH_MAX];
	struct md_lock l = { .fd = -1 };
	struct mbi_buf c;
	unsigned i;
	int rc, free_slot = -1;

	for (i = 0; i < NLETTERS; i++)
		if (s->letter_kw[i] == (int)k)
			return 'a' + (int)i;
	if (!assign || k >= b->nkw)
		return 0;
	if (join(path, sizeof(path), b->path, KEYWORDS, e) != MB_OK)
		return 0;
	if (lock_take(b, path, &l, e) != MB_OK)
		return 0;
	if (kw_read(b, s, true, e) != MB_OK)
		goto fail;
	for (i = 0; i < NLETTERS; i++) {
		if (s->letter_kw[i] == (int)k) {
			lock_release(&l);
			return 'a' + (int)i;
		}
		if (s->letter_name[i] == NULL && free_slot < 0)
			free_slot = (int)i;
	}
	if (free_slot < 0) {
		mbi_err(e, MB_FAILED, MB_ELIMIT, path, -1,
			"a maildir names at most %d keywords", NLETTERS);
		goto fail;
	}
	s->letter_name[free_slot] = strdup(b->kw[k]);
	if (s->letter_name[free_slot] == NULL) {
		mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1, "out of memory");
		goto fail;
	}
	s->letter_kw[free_slot] = (int)k;
	mbi_buf_init(&c);
	for (i = 0; i < NLETTERS; i++)
		if (s->letter_name[i] != NULL)
			mbi_buf_addf(&c, "%u %s\n", i, s->letter_name[i]);
	rc = lock_replace(&l, path, &c, e);
	mbi_buf_free(&c);
	if (rc != MB_OK)
		return 0;
	stat(path, &s->kw_st);
	return 'a' + free_slot;
fail:
	lock_release(&l);
	return 0;
}

/* A keyword name that Dovecot can store: an IMAP atom, one line. */
static bool
kw_storable(const char *name)
{
	const char *p;

	if (*name == '\0' || *name == '\\')
		return false;
	for (p = name; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f ||
		    strchr("(){%*\"]", *p) != NULL)
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* Info letters                                                         */

static const struct {
	char c;
	unsigned flag;
} flag_letters[] = {
	{ 'D', MB_DRAFT }, { 'F', MB_FLAGGED }, { 'R', MB_ANSWERED },
	{ 'S', MB_SEEN },  { 'T', MB_DELETED },
};

/* The "2," info of a name, or NULL. */
static const char *
info_of(const char *name)
{
	const char *c = strchr(name, ':');

	return c != NULL && c[1] == '2' && c[2] == ',' ? c + 3 : NULL;
}

static void
parse_info(struct mb_box *b, struct md_state *s, const char *rel,
	   unsigned *flags, uint64_t *kw, uint32_t seq, uint32_t uid)
{
	const char *info = info_of(rel), *p;
	size_t i;

	*flags = in_cur(rel) ? MB_OLD : 0;
	*kw = 0;
	if (info == NULL)
		return;
	for (p = info; *p; p++) {
		for (i = 0; i < sizeof(flag_letters) / sizeof(flag_letters[0]);
		     i++)
			if (*p == flag_letters[i].c)
				*flags |= flag_letters[i].flag;
		if (*p >= 'a' && *p <= 'z') {
			int k = s->letter_kw[*p - 'a'];

			if (k >= 0 && k < MB_MAX_KEYWORDS)
				*kw |= (uint64_t)1 << k;
			else if (s->check)
				diag_file(b, rel, MB_DIAG_WARN,
					  "undeclared-keyword", -1, seq, uid,
					  "keyword letter '%c' is not named "
					  "in " KEYWORDS,
					  *p);
		}
	}
}

static int
cmp_char(const void *a, const void *b)
{
	return *(const unsigned char *)a - *(const unsigned char *)b;
}

/*
 * The name of the message with base (blen bytes) and new flags and
 * keywords: the letters we manage are replaced, all others kept, in
 * ASCII order.  old may be NULL (a new message).
 */
static int
build_name(struct mb_box *b, struct md_state *s, const char *base, size_t blen,
	   const char *old, unsigned flags, uint64_t kw, char **out,
	   struct mb_err *e)
{
	char letters[128];
	const char *info = old ? info_of(old) : NULL, *p;
	size_t n = 0, i, j;
	unsigned k;
	int c;

	mb_err_clear(e);
	if (info != NULL) {
		for (p = info; *p && n < sizeof(letters) - 40; p++) {
			if (strchr("DFRST", *p) != NULL)
				continue;
			if (*p >= 'a' && *p <= 'z' &&
			    s->letter_kw[*p - 'a'] >= 0)
				continue;
			letters[n++] = *p;
		}
	}
	for (i = 0; i < sizeof(flag_letters) / sizeof(flag_letters[0]); i++)
		if (flags & flag_letters[i].flag)
			letters[n++] = flag_letters[i].c;
	for (k = 0; k < MB_MAX_KEYWORDS && k < b->nkw; k++) {
		if (!(kw & ((uint64_t)1 << k)))
			continue;
		c = kw_letter(b, s, k, true, e);
		if (c == 0)
			return e->code == MB_ENONE ?
				       mbi_err(e, MB_FAILED, MB_ELIMIT, b->path,
					       -1,
					       "keyword '%s' cannot be "
					       "stored",
					       b->kw[k]) :
				       MB_FAILED;
		letters[n++] = (char)c;
	}
	qsort(letters, n, 1, cmp_char);
	for (i = j = 0; i < n; i++)
		if (j == 0 || letters[j - 1] != letters[i])
			letters[j++] = letters[i];
	n = j;
	letters[n] = '\0';
	{
		const char *dir = (flags & MB_OLD) ? "cur/" : "new/";
		bool with_info = (flags & MB_OLD) || n > 0;
		size_t len = 4 + blen + (with_info ? 3 + n : 0) + 1;

		*out = malloc(len);
		if (*out == NULL)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		snprintf(*out, len, "%s%.*s%s%s", dir, (int)blen, base,
			 with_info ? ":2," : "", with_info ? letters : "");
	}
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Listing and the uidlist                                              */

struct listing {
	char **names; /* "new/x", "cur/y" */
	size_t n, cap;
};

static void
listing_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	memset(l, 0, sizeof(*l));
}

static int
list_dir(struct mb_box *b, struct md_state *s, const char *sub,
	 struct listing *l, struct mb_err *e)
{
	char path[PATH_MAX], rel[PATH_MAX];
	struct dirent *d;
	DIR *dir;

	if (join(path, sizeof(path), b->path, sub, e) != MB_OK)
		return MB_FAILED;
	dir = opendir(path);
	if (dir == NULL)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot read maildir");
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", sub, d->d_name);
		if (d->d_type != DT_REG && d->d_type != DT_UNKNOWN) {
			if (s->check)
				diag_file(b, rel, MB_DIAG_WARN, "not-a-file",
					  -1, 0, 0,
					  "not a regular file: ignored");
			continue;
		}
		if (l->n == l->cap) {
			size_t nc = l->cap ? l->cap * 2 : 256;
			char **p = mbi_reallocarray(l->names, nc, sizeof(*p));

			if (p == NULL)
				goto nomem;
			l->names = p;
			l->cap = nc;
		}
		l->names[l->n] = strdup(rel);
		if (l->names[l->n] == NULL)
			goto nomem;
		l->n++;
	}
	closedir(dir);
	return MB_OK;
nomem:
	closedir(dir);
	return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1, "out of memory");
}

/* A hash of unique names -> index, open addressing. */
struct bmap {
	uint32_t *slot; /* index + 1, 0 = empty */
	size_t mask;
};

static uint64_t
hash_base(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n--)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

static int
bmap_init(struct bmap *m, size_t n)
{
	size_t size = 16;

	while (size < n * 2 + 16)
		size *= 2;
	m->slot = calloc(size, sizeof(*m->slot));
	m->mask = size - 1;
	return m->slot ? 0 : -1;
}

/*
 * Find base in the map (names[i] gives the name of index i; keyed by
 * leaf up to ':').  Insert idx when not found and idx != UINT32_MAX.
 * Returns the index found, or UINT32_MAX.
 */
static uint32_t
bmap_get(struct bmap *m, char *const *names, const char *base, size_t blen,
	 uint32_t idx)
{
	size_t h = (size_t)hash_base(base, blen) & m->mask;

	for (;; h = (h + 1) & m->mask) {
		uint32_t v = m->slot[h];
		const char *n;

		if (v == 0) {
			if (idx != UINT32_MAX)
				m->slot[h] = idx + 1;
			return UINT32_MAX;
		}
		if (names[v - 1] == NULL)
			continue; /* handed over already: keep probing */
		n = leaf(names[v - 1]);
		if (base_len(n) == blen && memcmp(n, base, blen) == 0)
			return v - 1;
	}
}

/* One parsed uidlist. */
struct ul_rec {
	uint32_t uid;
	char *ext;
	char *base;
	int64_t off;
	unsigned line;
};
struct uidlist {
	bool exists;
	uint32_t validity, next;
	char guid[40];
	char *hdr_extra;
	struct ul_rec *v;
	size_t n;
	bool broken;
	struct stat st;
};

static void
uidlist_free(struct uidlist *u)
{
	size_t i;

	for (i = 0; i < u->n; i++) {
		free(u->v[i].ext);
		free(u->v[i].base);
	}
	free(u->v);
	free(u->hdr_extra);
	memset(u, 0, sizeof(*u));
}

static void
ul_damage(struct mb_box *b, struct uidlist *u, const char *code, int64_t off,
	  unsigned line, const char *what)
{
	u->broken = true;
	diag_file(b, UIDLIST, MB_DIAG_DAMAGE, code, off, 0, 0, "line %u: %s",
		  line, what);
}

/* Parse "3 V<n> N<n> G<hex> ..." (or version 1: "1 <v> <n>"). */
static bool
ul_header(struct uidlist *u, char *line)
{
	char *tok, *save = NULL, *end;
	struct mbi_buf extra;
	bool v1 = line[0] == '1' && line[1] == ' ';
	int field = 0;

	if (!v1 && !(line[0] == '3' && line[1] == ' '))
		return false;
	mbi_buf_init(&extra);
	for (tok = strtok_r(line + 2, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save), field++) {
		unsigned long v;

		if (v1) {
			errno = 0;
			v = strtoul(tok, &end, 10);
			if (*end != '\0' || errno != 0 || v > UINT32_MAX ||
			    field > 1)
				goto bad;
			if (field == 0)
				u->validity = (uint32_t)v;
			else
				u->next = (uint32_t)v;
			continue;
		}
		if (tok[0] == 'V' || tok[0] == 'N') {
			errno = 0;
			v = strtoul(tok + 1, &end, 10);
			if (*end != '\0' || end == tok + 1 || errno != 0 ||
			    v > UINT32_MAX)
				goto bad;
			if (tok[0] == 'V')
				u->validity = (uint32_t)v;
			else
				u->next = (uint32_t)v;
		} else if (tok[0] == 'G' && strlen(tok + 1) < sizeof(u->guid)) {
			snprintf(u->guid, sizeof(u->guid), "%s", tok + 1);
		} else {
			mbi_buf_addf(&extra, " %s", tok);
		}
	}
	if (u->validity == 0 || u->next == 0)
		goto bad;
	u->hdr_extra = extra.len ? strdup(extra.buf) : NULL;
	mbi_buf_free(&extra);
	return true;
bad:
	mbi_buf_free(&extra);
	return false;
}

/*
 * Read dovecot-uidlist.  Damage is reported through diag (file, line,
 * byte offset) and sets u->broken; the records that parse are kept.
 */
static int
uidlist_read(struct mb_box *b, struct uidlist *u, struct mb_err *e)
{
	char path[PATH_MAX], *data = NULL, *p, *nl;
	struct stat st;
	int64_t off = 0;
	unsigned line = 0;
	uint32_t prev = 0;
	ssize_t n;
	int fd, rc = MB_OK;

	memset(u, 0, sizeof(*u));
	if (join(path, sizeof(path), b->path, UIDLIST, e) != MB_OK)
		return MB_FAILED;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return MB_OK;
		return mbi_err_sys(e, MB_FAILED, errno, path, "cannot open");
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > UIDLIST_MAX) {
		close(fd);
		return mbi_err(e, MB_FAILED, MB_EFORMAT, path, -1,
			       "not a uidlist file");
	}
	u->st = st;
	u->exists = true;
	data = malloc((size_t)st.st_size + 1);
	if (data == NULL) {
		close(fd);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1,
			       "out of memory");
	}
	n = mbi_pread_full(fd, data, (size_t)st.st_size, 0);
	close(fd);
	if (n < 0) {
		free(data);
		return mbi_err_sys(e, MB_FAILED, errno, path, "cannot read");
	}
	data[n] = '\0';
	for (p = data; p < data + n; p = nl + 1) {
		struct ul_rec r;
		unsigned long uid;
		char *colon, *q;

		off = p - data;
		nl = memchr(p, '\n', (size_t)(data + n - p));
		if (nl == NULL) {
			ul_damage(b, u, "uidlist", off, line + 1,
				  "last line has no newline (torn write)");
			break;
		}
		*nl = '\0';
		line++;
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			ul_damage(b, u, "uidlist", off, line, "NUL bytes");
			continue;
		}
		if (line == 1) {
			if (!ul_header(u, p)) {
				ul_damage(b, u, "uidlist", off, line,
					  "bad header (want '3 V<uidvalidity> "
					  "N<nextuid> G<guid>')");
				u->validity = 0;
				break;
			}
			continue;
		}
		errno = 0;
		uid = strtoul(p, &q, 10);
		colon = strstr(p, " :");
		if (!isdigit((unsigned char)*p) || errno != 0 || uid == 0 ||
		    uid > UINT32_MAX || (*q != ' ') || colon == NULL ||
		    colon[2] == '\0' || strchr(colon + 2, '/') != NULL) {
			ul_damage(b, u, "uidlist", off, line,
				  "not '<uid> [fields] :<name>'");
			continue;
		}
		if (uid <= prev) {
			if (uid == prev)
				ul_damage(b, u, "duplicate-uid", off, line,
					  "duplicate UID");
			else
				ul_damage(b, u, "uid-order", off, line,
					  "UID lower than the one before");
			continue;
		}
		if (uid >= u->next) /* appended after the header was written */
			u->next = (uint32_t)uid + 1;
		memset(&r, 0, sizeof(r));
		r.uid = (uint32_t)uid;
		r.off = off;
		r.line = line;
		r.base = strndup(colon + 2, base_len(colon + 2));
		if (colon > q + 1)
			r.ext = strndup(q + 1, (size_t)(colon - q - 1));
		if (r.base == NULL || (colon > q + 1 && r.ext == NULL)) {
			free(r.base);
			free(r.ext);
			rc = mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1,
				     "out of memory");
			break;
		}
		if (u->n % 256 == 0) {
			struct ul_rec *v =
				mbi_reallocarray(u->v, u->n + 256, sizeof(*v));

			if (v == NULL) {
				free(r.base);
				free(r.ext);
				rc = mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1,
					     "out of memory");
				break;
			}
			u->v = v;
		}
		u->v[u->n++] = r;
		prev = (uint32_t)uid;
	}
	free(data);
	return rc;
}

/* The uidlist text for the current entries (and pending appends). */
static int
uidlist_build(struct mb_box *b, struct md_state *s, struct mbi_buf *c,
	      struct mb_err *e)
{
	uint32_t i;
	int bad = 0;

	if (s->guid[0] == '\0') {
		unsigned char g[16];
		size_t k;

		if (getrandom(g, sizeof(g), 0) != (ssize_t)sizeof(g)) {
			uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)getpid();

			memset(g, 0, sizeof(g));
			memcpy(g, &t, sizeof(t));
		}
		for (k = 0; k < sizeof(g); k++)
			snprintf(s->guid + 2 * k, 3, "%02x", g[k]);
	}
	bad |= mbi_buf_addf(c, "3 V%" PRIu32 " N%" PRIu32 " G%s%s\n",
			    b->uidvalidity, b->uidlast + 1, s->guid,
			    s->hdr_extra ? s->hdr_extra : "");
	for (i = 0; i < s->nents; i++) {
		const struct md_ent *t = &s->ents[i];

		if (t->gone || t->uid == 0)
			continue;
		bad |= mbi_buf_addf(c, "%" PRIu32 "%s%s :%.*s\n", t->uid,
				    t->ext ? " " : "", t->ext ? t->ext : "",
				    (int)t->blen, leaf(t->name));
	}
	for (i = 0; i < s->npend; i++)
		bad |= mbi_buf_addf(c, "%" PRIu32 " :%.*s\n", s->pend[i].uid,
				    (int)s->pend[i].blen,
				    leaf(s->pend[i].name));
	if (bad)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	return MB_OK;
}

/* Write the uidlist: under the held lock, or directly into a folder
 * nobody sees yet (being created). */
static int
uidlist_write(struct mb_box *b, struct md_state *s, struct mb_err *e)
{
	char path[PATH_MAX];
	struct mbi_buf c;
	struct md_lock tmp = { .fd = -1 };
	int rc;

	if (s->ul_broken && !s->uids_dirty)
		return mbi_err(e, MB_FAILED, MB_EFORMAT, b->path, -1,
			       UIDLIST " is damaged: run mailbag uid-rebuild "
				       "(see mailbag check)");
	if (join(path, sizeof(path), b->path, UIDLIST, e) != MB_OK)
		return MB_FAILED;
	mbi_buf_init(&c);
	rc = uidlist_build(b, s, &c, e);
	if (rc == MB_OK) {
		if (lock_held(&s->lock)) {
			rc = lock_replace(&s->lock, path, &c, e);
		} else {
			rc = lock_take(b, path, &tmp, e);
			if (rc == MB_OK)
				rc = lock_replace(&tmp, path, &c, e);
		}
	}
	mbi_buf_free(&c);
	if (rc == MB_OK) {
		stat(path, &s->ul_st);
		s->ul_exists = true;
		s->ul_dirty = false;
		s->ul_broken = false;
		s->ul_next = b->uidlast + 1;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Synchronising with the directories                                   */

static bool
mtime_of(struct mb_box *b, const char *sub, struct timespec *out)
{
	char p[PATH_MAX];
	struct stat st;

	if (!pathf(p, sizeof(p), "%s/%s", b->path, sub) || stat(p, &st) < 0)
		return false;
	*out = st.st_mtim;
	return true;
}

/* Remember the directories' times before a listing. */
static void
dir_times(struct mb_box *b, struct md_state *s)
{
	memset(&s->new_mtim, 0, sizeof(s->new_mtim));
	memset(&s->cur_mtim, 0, sizeof(s->cur_mtim));
	mtime_of(b, "new", &s->new_mtim);
	mtime_of(b, "cur", &s->cur_mtim);
	clock_gettime(CLOCK_REALTIME, &s->listed_at);
}

static bool
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * Nothing changed since the last listing: new/, cur/ and the uidlist
 * have the times they had, and those were at least two seconds older
 * than the listing (a change in the same clock tick as the listing
 * would not move them).
 */
static bool
unchanged(struct mb_box *b, struct md_state *s)
{
	struct timespec n, c;
	struct stat st;
	char p[PATH_MAX];

	if (!mtime_of(b, "new", &n) || !mtime_of(b, "cur", &c) ||
	    !same_time(&n, &s->new_mtim) || !same_time(&c, &s->cur_mtim) ||
	    n.tv_sec + 2 > s->listed_at.tv_sec ||
	    c.tv_sec + 2 > s->listed_at.tv_sec)
		return false;
	if (!pathf(p, sizeof(p), "%s/" UIDLIST, b->path))
		return false;
	if (stat(p, &st) < 0)
		return !s->ul_exists;
	return s->ul_exists && st.st_ino == s->ul_st.st_ino &&
	       st.st_size == s->ul_st.st_size &&
	       same_time(&st.st_mtim, &s->ul_st.st_mtim);
}

static int
ents_grow(struct mb_box *b, struct md_state *s, struct mb_err *e)
{
	if (s->nents == s->nalloc) {
		uint32_t n = s->nalloc ? s->nalloc * 2 : 256;
		struct md_ent *p = mbi_reallocarray(s->ents, n, sizeof(*p));

		if (p == NULL)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		s->ents = p;
		s->nalloc = n;
	}
	return MB_OK;
}

struct newfile {
	char *name;
	size_t li;    /* its index in the listing */
	uint32_t uid; /* from the uidlist, or 0 */
	char *ext;
};

static int
newfile_cmp(const void *pa, const void *pb)
{
	const struct newfile *a = pa, *b = pb;
	const char *na = leaf(a->name), *nb = leaf(b->name);

	if (a->uid != b->uid)
		return a->uid == 0 ? 1 :
		       b->uid == 0 ? -1 :
				     (a->uid < b->uid ? -1 : 1);
	return name_cmp(na, base_len(na), nb, base_len(nb));
}

/* In check mode: what is odd about one file name. */
static void
check_name(struct mb_box *b, const char *rel)
{
	const char *n = leaf(rel), *c = strchr(n, ':');

	if (!good_name(n))
		diag_file(b, rel, MB_DIAG_WARN, "bad-name", -1, 0, 0,
			  "not a maildir message name "
			  "('<seconds>.<unique>.<host>[:2,<flags>]')");
	else if (c != NULL && info_of(n) == NULL)
		diag_file(b, rel, MB_DIAG_WARN, "bad-info", -1, 0, 0,
			  "info '%s' is not ':2,<flags>': flags unknown", c);
	else if (c != NULL) {
		const char *p = info_of(n);

		for (; *p && p[1]; p++)
			if ((unsigned char)p[0] >= (unsigned char)p[1]) {
				diag_file(b, rel, MB_DIAG_WARN, "info-order",
					  -1, 0, 0,
					  "flag letters '%s' not in ASCII "
					  "order or repeated",
					  info_of(n));
				break;
			}
	}
	if (c == NULL && in_cur(rel))
		diag_file(b, rel, MB_DIAG_INFO, "no-info", -1, 0, 0,
			  "a message in cur/ without ':2,' info");
}

/*
 * List new/ and cur/, read the uidlist, and bring s->ents up to date:
 * files already known keep their UID (a changed name is a flag change,
 * *flags_changed), files that vanished are marked gone, new files are
 * added at the end in UID order.  With assign (and the uidlist lock
 * held), files without a UID get the next ones and the uidlist is
 * marked to be written; without it they get the UIDs they will get
 * (predicted, as mbx does for UW).
 */
static int
resync(struct mb_box *b, struct md_state *s, bool assign, bool *added,
       bool *flags_changed, uint32_t *vanished, struct mb_err *e)
{
	struct listing l = { 0 };
	struct uidlist u;
	struct bmap fmap = { 0 };
	struct newfile *nf = NULL;
	size_t i, nnf = 0;
	uint32_t j, next;
	int rc;

	*added = *flags_changed = false;
	*vanished = 0;
	if (assign) {
		/* unreported entries with predicted UIDs are numbered
		 * afresh, in order with the other newcomers */
		uint32_t kept = s->reported;

		for (j = s->reported; j < s->nents; j++) {
			if (!s->ents[j].listed) {
				free(s->ents[j].name);
				free(s->ents[j].ext);
				continue;
			}
			s->ents[kept++] = s->ents[j];
		}
		s->nents = kept;
		if (!s->uids_dirty) {
			/* predictions no longer count */
			b->uidlast = s->ul_next > 0 ? s->ul_next - 1 : 0;
			for (j = 0; j < s->nents; j++)
				if (s->ents[j].uid > b->uidlast)
					b->uidlast = s->ents[j].uid;
		}
	}
	if ((rc = uidlist_read(b, &u, e)) != MB_OK)
		return rc;
	dir_times(b, s);
	if ((rc = list_dir(b, s, "new", &l, e)) != MB_OK ||
	    (rc = list_dir(b, s, "cur", &l, e)) != MB_OK)
		goto out;
	if (bmap_init(&fmap, l.n) < 0)
		goto nomem;
	for (i = 0; i < l.n; i++) {
		const char *n = leaf(l.names[i]);
		uint32_t k =
			bmap_get(&fmap, l.names, n, base_len(n), (uint32_t)i);

		if (s->check)
			check_name(b, l.names[i]);
		if (k != UINT32_MAX) {
			diag_file(b, l.names[i], MB_DIAG_DAMAGE,
				  "duplicate-file", -1, 0, 0,
				  "same unique name as %s: ignored",
				  l.names[k]);
			free(l.names[i]);
			l.names[i] = NULL;
		}
	}

	/* the uidlist's state */
	if (u.exists && u.validity != 0) {
		if (s->ul_exists && b->uidvalidity != 0 &&
		    u.validity != b->uidvalidity && !s->uids_dirty) {
			rc = mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, -1,
				     "UIDVALIDITY changed under us (%" PRIu32
				     ", was %" PRIu32 ")",
				     u.validity, b->uidvalidity);
			goto out;
		}
		if (!s->uids_dirty) {
			b->uidvalidity = u.validity;
			if (u.next - 1 > b->uidlast)
				b->uidlast = u.next - 1;
		}
		s->ul_next = u.next;
		if (u.guid[0])
			snprintf(s->guid, sizeof(s->guid), "%s", u.guid);
		free(s->hdr_extra);
		s->hdr_extra = u.hdr_extra;
		u.hdr_extra = NULL;
	}
	s->ul_exists = u.exists;
	s->ul_st = u.st;
	if (u.broken) {
		s->ul_broken = true;
		b->uids_broken = true;
	}

	/* files the uidlist names, by unique name */
	nf = calloc(l.n ? l.n : 1, sizeof(*nf));
	if (nf == NULL)
		goto nomem;
	for (i = 0; i < u.n; i++) {
		uint32_t k = bmap_get(&fmap, l.names, u.v[i].base,
				      strlen(u.v[i].base), UINT32_MAX);

		if (k == UINT32_MAX || l.names[k] == NULL)
			continue;
		if (nf[k].uid != 0) {
			diag_file(b, UIDLIST, MB_DIAG_DAMAGE, "uidlist",
				  u.v[i].off, 0, u.v[i].uid,
				  "line %u: '%s' is listed twice", u.v[i].line,
				  u.v[i].base);
			s->ul_broken = b->uids_broken = true;
			continue;
		}
		nf[k].uid = u.v[i].uid;
		nf[k].ext = u.v[i].ext;
		u.v[i].ext = NULL;
	}
	for (i = 0; i < l.n; i++) {
		nf[i].name = l.names[i];
		nf[i].li = i;
	}

	/* known entries: same unique name -> same message */
	for (j = 0; j < s->nents; j++) {
		struct md_ent *t = &s->ents[j];
		uint32_t k;

		if (t->gone)
			continue;
		k = bmap_get(&fmap, l.names, leaf(t->name), t->blen,
			     UINT32_MAX);
		if (k == UINT32_MAX || l.names[k] == NULL) {
			t->gone = true;
			(*vanished)++;
			continue;
		}
		if (nf[k].uid != 0 && nf[k].uid != t->uid && t->listed) {
			rc = mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, -1,
				     "UID of %s changed under us (%" PRIu32
				     ", was %" PRIu32 ")",
				     l.names[k], nf[k].uid, t->uid);
			goto out;
		}
		if (nf[k].uid != 0 && !t->listed) {
			/* another program numbered it meanwhile */
			t->uid = nf[k].uid;
			t->listed = true;
		}
		if (strcmp(t->name, l.names[k]) != 0) {
			char *n = strdup(l.names[k]);

			if (n == NULL)
				goto nomem;
			free(t->name);
			t->name = n;
			*flags_changed = true;
		}
		free(nf[k].ext);
		nf[k].ext = NULL;
		nf[k].name = NULL;
	}

	/* the rest are new to us */
	for (i = 0; i < l.n; i++)
		if (nf[i].name != NULL)
			nf[nnf++] = nf[i];
	qsort(nf, nnf, sizeof(*nf), newfile_cmp);
	next = b->uidlast + 1;
	if (s->nents > 0 && s->ents[s->nents - 1].uid >= next)
		next = s->ents[s->nents - 1].uid + 1;
	for (i = 0; i < nnf; i++) {
		struct md_ent *t;
		const char *n = leaf(nf[i].name);

		if ((rc = ents_grow(b, s, e)) != MB_OK)
			goto out;
		t = &s->ents[s->nents];
		memset(t, 0, sizeof(*t));
		t->name = nf[i].name;
		t->blen = base_len(n);
		t->ext = nf[i].ext;
		nf[i].ext = NULL;
		l.names[nf[i].li] = NULL; /* the entry owns it now */
		if (nf[i].uid != 0) {
			t->uid = nf[i].uid;
			t->listed = true;
		} else {
			t->uid = next;
			if (assign && !s->ul_broken) {
				t->listed = true;
				s->ul_dirty = true;
			} else if (s->check || !(b->mode & MB_RDWR)) {
				diag_file(
					b, t->name, MB_DIAG_INFO,
					"uid-unassigned", -1, 0, t->uid,
					"message has no UID yet (gets %" PRIu32
					" at the next read/write open)",
					t->uid);
			}
		}
		if (t->uid >= next)
			next = t->uid + 1;
		if (t->uid > b->uidlast)
			b->uidlast = t->uid;
		s->nents++;
		*added = true;
	}
	if (assign && !s->ul_exists && !s->ul_broken)
		s->ul_dirty = true;
	rc = MB_OK;
	goto out;
nomem:
	rc = mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1, "out of memory");
out:
	if (nf != NULL)
		for (i = 0; i < l.n; i++)
			free(nf[i].ext);
	free(nf);
	free(fmap.slot);
	listing_free(&l);
	uidlist_free(&u);
	return rc;
}

/*
 * Drop the gone entries from s->ents and the core's index together, so
 * that ents[i] stays message i + 1.
 */
static void
compact(struct mb_box *b, struct md_state *s)
{
	uint32_t i, kept = 0, rep = 0;

	if (b->mode & MB_STREAM)
		return;
	for (i = 0; i < s->nents; i++) {
		struct md_ent t = s->ents[i];

		if (t.gone) {
			free(t.name);
			free(t.ext);
			continue;
		}
		if (i < b->nmsgs) {
			struct mb_msg m = b->msgs[i];

			m.seq = kept + 1;
			b->msgs[kept] = m;
			b->msgs[kept].key = t.name;
			rep++;
		}
		s->ents[kept++] = t;
	}
	s->nents = kept;
	b->nmsgs = rep;
	s->reported = rep;
	if (b->iter > b->nmsgs)
		b->iter = b->nmsgs;
}

/* ------------------------------------------------------------------ */
/* Open, read                                                           */

static int
alloc_state(struct mb_box *b, struct mb_err *e)
{
	struct md_state *s = calloc(1, sizeof(*s));
	unsigned i;

	if (s == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	s->lock.fd = -1;
	for (i = 0; i < NLETTERS; i++)
		s->letter_kw[i] = -1;
	s->check = (b->mode & MB_CHECK) != 0;
	b->priv = s;
	return MB_OK;
}

static bool
is_dir(const char *dir, const char *sub)
{
	char p[PATH_MAX];
	struct stat st;

	if (snprintf(p, sizeof(p), "%s/%s", dir, sub) >= (int)sizeof(p))
		return false;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Old files in tmp/ (check mode). */
static void
check_tmp(struct mb_box *b)
{
	char path[PATH_MAX], rel[PATH_MAX];
	const char *tmprel;
	struct dirent *d;
	struct stat st;
	time_t now = time(NULL);
	DIR *dir;

	pathf(path, sizeof(path), "%s/tmp", b->path);
	dir = opendir(path);
	if (dir == NULL)
		return;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		pathf(rel, sizeof(rel), "%s/%s", path, d->d_name);
		tmprel = rel + strlen(path) - 3; /* "tmp/<name>" */
		if (stat(rel, &st) == 0 && now - st.st_mtime > 36 * 3600)
			diag_file(b, tmprel, MB_DIAG_INFO, "stale-tmp", -1, 0,
				  0,
				  "left in tmp/ for more than 36 hours (an "
				  "interrupted delivery)");
	}
	closedir(dir);
}

static int
md_open(struct mb_box *b, struct mb_err *e)
{
	struct md_state *s;
	bool added, changed;
	uint32_t vanished;
	int rc;

	if ((rc = alloc_state(b, e)) != MB_OK)
		return rc;
	s = state(b);
	{
		struct stat st;

		if (stat(b->path, &st) == 0) {
			s->fmode = st.st_mode & 0666;
			s->fuid = st.st_uid;
			s->fgid = st.st_gid;
		}
		if ((s->fmode & 0600) != 0600)
			s->fmode |= 0600;
	}
	if (!is_dir(b->path, "cur") || !is_dir(b->path, "new")) {
		rc = mbi_err(e, MB_FAILED, MB_EFORMAT, b->path, -1,
			     "not a maildir (no cur/ and new/)");
		goto fail;
	}
	if (!is_dir(b->path, "tmp")) {
		if (s->check)
			mbi_diag(b, MB_DIAG_WARN, "no-tmp", -1, 0, 0,
				 "tmp/ is missing: deliveries will fail");
	} else if (s->check) {
		check_tmp(b);
	}
	if ((rc = kw_read(b, s, true, e)) != MB_OK)
		goto fail;
	if ((rc = resync(b, s, false, &added, &changed, &vanished, e)) != MB_OK)
		goto fail;
	if ((b->mode & MB_RDWR) && !s->ul_broken) {
		bool need = !s->ul_exists;
		uint32_t i;

		for (i = 0; i < s->nents && !need; i++)
			need = !s->ents[i].listed;
		if (need) {
			/* number the newcomers, as Dovecot would */
			char path[PATH_MAX];

			if ((rc = join(path, sizeof(path), b->path, UIDLIST,
				       e)) != MB_OK ||
			    (rc = lock_take(b, path, &s->lock, e)) != MB_OK)
				goto fail;
			rc = resync(b, s, true, &added, &changed, &vanished, e);
			if (rc == MB_OK && b->uidvalidity == 0)
				b->uidvalidity = (uint32_t)time(NULL);
			if (rc == MB_OK && s->ul_dirty)
				rc = uidlist_write(b, s, e);
			lock_release(&s->lock);
			if (rc != MB_OK)
				goto fail;
			for (i = 0; i < s->nents; i++)
				s->ents[i].listed = true;
		}
	}
	return MB_OK;
fail:
	md_close(b);
	return rc;
}

static int
md_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e)
{
	struct md_state *s = state(b);
	char path[PATH_MAX];
	struct md_ent *t;
	struct stat st;
	struct tm tm;
	time_t tt;
	const char *sz;

	for (;;) {
		if (s->reported >= s->nents)
			return MB_END;
		t = &s->ents[s->reported];
		if (!t->gone) {
			if (join(path, sizeof(path), b->path, t->name, e) !=
			    MB_OK)
				return MB_FAILED;
			if (stat(path, &st) == 0)
				break;
			if (errno != ENOENT)
				return mbi_err_sys(e, MB_FAILED, errno, path,
						   "cannot read message");
			/* renamed by another program since the listing? */
			if (relocate(b, s, t, e) == MB_OK &&
			    join(path, sizeof(path), b->path, t->name, e) ==
				    MB_OK &&
			    stat(path, &st) == 0)
				break;
			mb_err_clear(e);
		}
		/* gone before we reported it: it never was a message of
		 * ours (removing it keeps ents[i] message i + 1) */
		free(t->name);
		free(t->ext);
		memmove(t, t + 1,
			(size_t)(s->nents - s->reported - 1) * sizeof(*t));
		s->nents--;
	}
	memset(out, 0, sizeof(*out));
	out->uid = t->uid;
	parse_info(b, s, t->name, &out->flags, &out->keywords, s->reported + 1,
		   t->uid);
	out->idate = (int64_t)st.st_mtime;
	tt = st.st_mtime;
	out->idate_tz = localtime_r(&tt, &tm) ? (int)(tm.tm_gmtoff / 60) : 0;
	out->size = st.st_size;
	sz = strstr(leaf(t->name), ",S=");
	if (sz != NULL && sz < leaf(t->name) + t->blen) {
		char *end;
		long long v = strtoll(sz + 3, &end, 10);

		if (end != sz + 3 &&
		    (*end == ',' || *end == ':' || *end == '\0')) {
			if (v != (long long)st.st_size)
				diag_file(b, t->name, MB_DIAG_DAMAGE,
					  "size-mismatch", -1, s->reported + 1,
					  t->uid,
					  "S=%lld in the name, but the file "
					  "has %lld bytes",
					  v, (long long)st.st_size);
			else
				out->size = v;
		}
	}
	if (s->check && st.st_size == 0)
		diag_file(b, t->name, MB_DIAG_WARN, "empty-message", -1,
			  s->reported + 1, t->uid, "empty message file");
	out->offset = 0;
	out->text_offset = 0;
	out->text_size = st.st_size;
	out->key = t->name;
	s->reported++;
	return MB_OK;
}

/* A reader that owns its file. */
struct file_reader {
	struct mb_reader r;
	int fd;
	int64_t pos;
	char path[PATH_MAX];
};

static ssize_t
fr_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	struct file_reader *f = (struct file_reader *)r;
	ssize_t n = mbi_pread_full(f->fd, buf, len, f->pos);

	if (n < 0) {
		mbi_err_sys(e, MB_FAILED, errno, f->path, "cannot read");
		return -1;
	}
	f->pos += n;
	return n;
}

static int
fr_rewind(struct mb_reader *r, struct mb_err *e)
{
	((struct file_reader *)r)->pos = 0;
	return MB_OK;
}

static void
fr_close(struct mb_reader *r)
{
	struct file_reader *f = (struct file_reader *)r;

	close(f->fd);
	free(f);
}

/*
 * The current name of entry t: when its file is gone, look for the same
 * unique name in cur/ and new/ (another program renamed it).
 */
static int
relocate(struct mb_box *b, struct md_state *s, struct md_ent *t,
	 struct mb_err *e)
{
	static const char *const subs[] = { "cur", "new" };
	char path[PATH_MAX];
	struct dirent *d;
	size_t i;
	DIR *dir;

	for (i = 0; i < 2; i++) {
		pathf(path, sizeof(path), "%s/%s", b->path, subs[i]);
		dir = opendir(path);
		if (dir == NULL)
			continue;
		while ((d = readdir(dir)) != NULL) {
			char *n;

			if (base_len(d->d_name) != t->blen ||
			    memcmp(d->d_name, leaf(t->name), t->blen) != 0)
				continue;
			if (asprintf(&n, "%s/%s", subs[i], d->d_name) < 0) {
				closedir(dir);
				return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path,
					       -1, "out of memory");
			}
			free(t->name);
			t->name = n;
			closedir(dir);
			return MB_OK;
		}
		closedir(dir);
	}
	t->gone = true;
	return mbi_err(e, MB_FAILED, MB_ECHANGED, b->path, -1,
		       "message %" PRIu32 " was removed by another program",
		       t->uid);
}

static struct md_ent *
ent_of(struct mb_box *b, struct md_state *s, const struct mb_msg *m,
       struct mb_err *e)
{
	if (m->seq == 0 || m->seq > s->nents || m->seq > s->reported) {
		mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1, "no message %u",
			m->seq);
		return NULL;
	}
	return &s->ents[m->seq - 1];
}

static int
md_msg_open(struct mb_box *b, const struct mb_msg *m, struct mb_reader **out,
	    struct mb_err *e)
{
	struct md_state *s = state(b);
	struct md_ent *t = ent_of(b, s, m, e);
	struct file_reader *f;
	int fd = -1, tries, rc;
	char path[PATH_MAX];
	struct stat st;

	if (t == NULL)
		return MB_FAILED;
	for (tries = 0; tries < 3; tries++) {
		if (join(path, sizeof(path), b->path, t->name, e) != MB_OK)
			return MB_FAILED;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		if (fd >= 0 || errno != ENOENT)
			break;
		if ((rc = relocate(b, s, t, e)) != MB_OK)
			return rc;
		if (!(b->mode & MB_STREAM) && m->seq <= b->nmsgs)
			b->msgs[m->seq - 1].key = t->name;
	}
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot open message");
	if (fstat(fd, &st) < 0) {
		close(fd);
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot open message");
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		close(fd);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	}
	f->r.read = fr_read;
	f->r.rewind = fr_rewind;
	f->r.close = fr_close;
	f->r.size = st.st_size;
	f->fd = fd;
	snprintf(f->path, sizeof(f->path), "%s", path);
	*out = &f->r;
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Create, close                                                        */

static int
make_dirs(const char *root, struct mb_err *e)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char p[PATH_MAX];
	size_t i;

	if (mkdir(root, 0700) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, root,
				   "cannot create maildir");
	for (i = 0; i < 3; i++) {
		if (join(p, sizeof(p), root, subs[i], e) != MB_OK)
			return MB_FAILED;
		if (mkdir(p, 0700) < 0)
			return mbi_err_sys(e, MB_FAILED, errno, p,
					   "cannot create maildir");
	}
	return MB_OK;
}

/* Is the parent of path a maildir and path's name ".Something"?  Then
 * path is a Maildir++ subfolder. */
static bool
is_subfolder(const char *final)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(final, '/');
	const char *name = slash ? slash + 1 : final;

	if (name[0] != '.' || name[1] == '\0' || name[1] == '.')
		return false;
	if (slash == NULL)
		snprintf(parent, sizeof(parent), ".");
	else
		snprintf(parent, sizeof(parent), "%.*s",
			 slash == final ? 1 : (int)(slash - final), final);
	return is_dir(parent, "cur") && is_dir(parent, "new");
}

static int
md_create(struct mb_box *b, struct mb_err *e)
{
	struct md_state *s;
	char p[PATH_MAX];
	int rc, fd;

	if ((rc = alloc_state(b, e)) != MB_OK)
		return rc;
	s = state(b);
	if ((rc = make_dirs(b->path, e)) != MB_OK)
		goto fail;
	if (is_subfolder(b->final_path)) {
		if ((rc = join(p, sizeof(p), b->path, FOLDER_MARK, e)) != MB_OK)
			goto fail;
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = mbi_err_sys(e, MB_FAILED, errno, p,
					 "cannot create");
			goto fail;
		}
		own(b, fd);
		close(fd);
	}
	s->created = true;
	b->uidvalidity = (uint32_t)time(NULL);
	b->uidlast = 0;
	s->ul_dirty = true;
	if (!b->creating) {
		/* visible at once: the uidlist now, synced */
		if ((rc = uidlist_write(b, s, e)) != MB_OK)
			goto fail;
		mbi_fsync_dir(b->path, NULL);
	}
	return MB_OK;
fail:
	md_close(b);
	if (!b->creating) {
		/* a half-made maildir of ours */
		pathf(p, sizeof(p), "%s/" FOLDER_MARK, b->path);
		unlink(p);
		pathf(p, sizeof(p), "%s/" UIDLIST, b->path);
		unlink(p);
		pathf(p, sizeof(p), "%s/tmp", b->path);
		rmdir(p);
		pathf(p, sizeof(p), "%s/new", b->path);
		rmdir(p);
		pathf(p, sizeof(p), "%s/cur", b->path);
		rmdir(p);
		rmdir(b->path);
	}
	return rc;
}

static void
drop_pending(struct mb_box *b, struct md_state *s)
{
	char path[PATH_MAX];
	uint32_t i;

	for (i = 0; i < s->npend; i++) {
		const char *f = s->pend[i].tmpname ? s->pend[i].tmpname :
						     s->pend[i].name;

		if (f != NULL && snprintf(path, sizeof(path), "%s/%s", b->path,
					  f) < (int)sizeof(path))
			unlink(path);
		free(s->pend[i].tmpname);
		free(s->pend[i].name);
	}
	free(s->pend);
	s->pend = NULL;
	s->npend = s->npalloc = 0;
	s->unsynced = 0;
}

static void
md_close(struct mb_box *b)
{
	struct md_state *s = state(b);
	uint32_t i;

	if (s == NULL)
		return;
	drop_pending(b, s);
	lock_release(&s->lock);
	for (i = 0; i < s->nents; i++) {
		free(s->ents[i].name);
		free(s->ents[i].ext);
	}
	free(s->ents);
	free(s->hdr_extra);
	free(s->raw);
	free(s->cooked);
	kw_forget(s);
	free(s);
	b->priv = NULL;
}

/* ------------------------------------------------------------------ */
/* Append                                                               */

/*
 * First append to an existing folder: hold the uidlist lock until
 * commit, so that the UIDs we hand out are the ones the folder gets;
 * number what others delivered meanwhile first.
 */
static int
start_writing(struct mb_box *b, struct md_state *s, struct mb_err *e)
{
	char path[PATH_MAX];
	bool added, changed;
	uint32_t vanished;
	int rc;

	if (lock_held(&s->lock) || s->created)
		return MB_OK;
	if (s->ul_broken)
		return mbi_err(e, MB_FAILED, MB_EFORMAT, b->path, -1,
			       UIDLIST " is damaged: run mailbag uid-rebuild "
				       "(see mailbag check)");
	if ((rc = join(path, sizeof(path), b->path, UIDLIST, e)) != MB_OK ||
	    (rc = lock_take(b, path, &s->lock, e)) != MB_OK)
		return rc;
	rc = resync(b, s, true, &added, &changed, &vanished, e);
	if (rc == MB_OK && b->uidvalidity == 0)
		b->uidvalidity = (uint32_t)time(NULL);
	if (rc != MB_OK) {
		lock_release(&s->lock);
		return rc;
	}
	if (added)
		b->scanned = false;
	s->wprev_uid = b->uidlast;
	return MB_OK;
}

static unsigned long
next_serial(void)
{
	static unsigned long serial;

	return __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED);
}

/* "<sec>.M<usec>P<pid>Q<n>.<host>" with '/' and ':' in host escaped. */
static void
unique_name(struct mb_box *b, char *out, size_t size)
{
	char host[256], esc[800];
	struct timeval tv;
	size_t i, o = 0;

	gettimeofday(&tv, NULL);
	if (b->ctx->localhost[0])
		snprintf(host, sizeof(host), "%s", b->ctx->localhost);
	else
		host_name(host, sizeof(host));
	for (i = 0; host[i] && o + 5 < sizeof(esc); i++) {
		if (host[i] == '/')
			o += (size_t)snprintf(esc + o, 5, "\\057");
		else if (host[i] == ':')
			o += (size_t)snprintf(esc + o, 5, "\\072");
		else if ((unsigned char)host[i] > ' ' && host[i] != 0x7f)
			esc[o++] = host[i];
	}
	esc[o] = '\0';
	snprintf(out, size, "%lld.M%ldP%ldQ%lu.%s", (long long)tv.tv_sec,
		 (long)tv.tv_usec, (long)getpid(), next_serial(), esc);
}

/* Copy src into fd with CRLF made LF; count bytes and lines. */
static int
copy_text(struct mb_box *b, struct mb_reader *src, int fd, const char *path,
	  int64_t *size, int64_t *lines, struct mb_err *e)
{
	char *in = malloc(CHUNK), *out = malloc(CHUNK + 1);
	bool cr = false;
	ssize_t n, i;
	size_t o;
	int rc = MB_OK;

	*size = *lines = 0;
	if (in == NULL || out == NULL) {
		free(in);
		free(out);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	}
	for (;;) {
		n = mb_reader_read(src, in, CHUNK, e);
		if (n < 0) {
			rc = MB_FAILED;
			break;
		}
		o = 0;
		if (n == 0) {
			if (cr)
				out[o++] = '\r';
			cr = false;
		}
		if (n > 0 && cr && in[0] != '\n')
			out[o++] = '\r';
		cr = false;
		for (i = 0; i < n;) {
			const char *r = memchr(in + i, '\r', (size_t)(n - i));
			size_t run =
				r ? (size_t)(r - (in + i)) : (size_t)(n - i);
			const char *l = in + i, *end = in + i + run;

			memcpy(out + o, in + i, run);
			o += run;
			while ((l = memchr(l, '\n', (size_t)(end - l))) !=
			       NULL) {
				(*lines)++;
				l++;
			}
			i += (ssize_t)run;
			if (r == NULL)
				break;
			/* a CR: dropped before a LF, kept otherwise */
			if (++i == n)
				cr = true; /* decided by the next chunk */
			else if (in[i] != '\n')
				out[o++] = '\r';
		}
		if (o > 0) {
			rc = mbi_write_all(fd, out, o, path, e);
			if (rc != MB_OK)
				break;
			*size += (int64_t)o;
		}
		if (n == 0)
			break;
	}
	free(in);
	free(out);
	return rc;
}

static uint64_t
map_keywords(struct mb_box *b, struct md_state *s, const struct mb_newmsg *meta)
{
	uint64_t kw = 0;
	size_t i;

	for (i = 0; i < meta->nkeywords; i++) {
		const char *name = meta->keywords[i];
		int k = mbi_kw_find(b, name, strlen(name));
		unsigned used = 0, j;

		for (j = 0; j < NLETTERS; j++)
			if (s->letter_name[j] != NULL)
				used++;
		if (k < 0 && kw_storable(name) && used < NLETTERS)
			k = mbi_kw_add(b, name, strlen(name));
		if (k >= 0 && k < MB_MAX_KEYWORDS &&
		    (kw_letter(b, s, (unsigned)k, false, NULL) != 0 ||
		     used < NLETTERS)) {
			kw |= (uint64_t)1 << k;
			continue;
		}
		mbi_diag(b, MB_DIAG_WARN, "keyword-dropped", -1, 0, meta->uid,
			 "keyword '%s' cannot be stored (a maildir names at "
			 "most %d keywords)",
			 name, NLETTERS);
	}
	return kw;
}

/* The UID an append gets; the caller records it. */
static uint32_t
append_uid(struct mb_box *b, struct md_state *s, const struct mb_newmsg *meta,
	   bool *renumbered)
{
	/* UIDs: a new folder keeps the source's while they ascend */
	*renumbered = false;
	if (s->created && meta->uid != 0 && meta->uid > s->wprev_uid)
		return meta->uid;
	*renumbered = s->created && meta->uid != 0;
	return (b->uidlast > s->wprev_uid ? b->uidlast : s->wprev_uid) + 1;
}

/* Record a message written (in tmp/, or in place when tmprel is NULL)
 * as pending; name is taken over. */
static int
add_pending(struct mb_box *b, struct md_state *s, const char *tmprel,
	    char *name, size_t blen, uint32_t uid, bool renumbered,
	    uint32_t *uid_out, struct mb_err *e)
{
	struct md_pending *p = &s->pend[s->npend];

	p->tmpname = NULL;
	if (tmprel != NULL && (p->tmpname = strdup(tmprel)) == NULL) {
		free(name);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	}
	p->name = name;
	p->blen = blen;
	p->uid = uid;
	s->npend++;
	if (renumbered)
		s->renumbered = true;
	s->wprev_uid = uid;
	if (uid > b->uidlast)
		b->uidlast = uid;
	if (uid_out)
		*uid_out = uid;
	return MB_OK;
}

/* A reader that serves the bytes already read from src, then src. */
struct lead_reader {
	struct mb_reader r;
	const char *buf;
	size_t len, off;
	struct mb_reader *src;
};

static ssize_t
lead_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	struct lead_reader *l = (struct lead_reader *)r;
	size_t n;

	if (l->off >= l->len)
		return mb_reader_read(l->src, buf, len, e);
	n = l->len - l->off < len ? l->len - l->off : len;
	memcpy(buf, l->buf + l->off, n);
	l->off += n;
	return (ssize_t)n;
}

static void
lead_close(struct mb_reader *r)
{
}

/* Read src into s->raw; *whole when it ended within RAW_MAX bytes. */
static int
slurp(struct mb_box *b, struct md_state *s, struct mb_reader *src, size_t *got,
      bool *whole, struct mb_err *e)
{
	ssize_t n;

	*got = 0;
	*whole = false;
	if (s->raw == NULL && (s->raw = malloc(RAW_MAX)) == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	while (*got < RAW_MAX) {
		n = mb_reader_read(src, s->raw + *got, RAW_MAX - *got, e);
		if (n < 0)
			return MB_FAILED;
		if (n == 0) {
			*whole = true;
			return MB_OK;
		}
		*got += (size_t)n;
	}
	return MB_OK;
}

/* A folder being created under its temporary name, which nobody else
 * sees: the message read whole goes straight to its final name, one
 * open, write, futimens, close (no tmp/ entry, no rename). */
static int
append_in_place(struct mb_box *b, struct md_state *s,
		const struct mb_newmsg *meta, size_t got, uint32_t *uid_out,
		struct mb_err *e)
{
	char uniq[1024], base[1200], path[PATH_MAX];
	struct timespec ts[2];
	int64_t lines = 0, t;
	size_t i, o = 0;
	char *name = NULL;
	bool renumbered;
	uint32_t uid;
	int fd, rc, tries;

	if (s->cooked == NULL && (s->cooked = malloc(RAW_MAX)) == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	/* CRLF made LF, as copy_text does */
	for (i = 0; i < got; i++) {
		char c = s->raw[i];

		if (c == '\r' && i + 1 < got && s->raw[i + 1] == '\n')
			continue;
		if (c == '\n')
			lines++;
		s->cooked[o++] = c;
	}
	uid = append_uid(b, s, meta, &renumbered);
	for (tries = 0;; tries++) {
		unique_name(b, uniq, sizeof(uniq));
		snprintf(base, sizeof(base), "%s,S=%lld,W=%lld", uniq,
			 (long long)o, (long long)(o + (size_t)lines));
		rc = build_name(b, s, base, strlen(base), NULL,
				meta->flags & MB_FLAGS_ALL,
				map_keywords(b, s, meta), &name, e);
		if (rc != MB_OK)
			return rc;
		if ((rc = join(path, sizeof(path), b->path, name, e)) !=
		    MB_OK) {
			free(name);
			return rc;
		}
		fd = open(path,
			  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			  0600);
		if (fd >= 0 || errno != EEXIST || tries >= 100)
			break;
		free(name);
	}
	if (fd < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, path,
				 "cannot create message file");
		free(name);
		return rc;
	}
	own(b, fd);
	rc = mbi_write_all(fd, s->cooked, o, path, e);
	if (rc == MB_OK) {
		/* the internal date is the file's mtime */
		t = meta->idate >= 0 ? meta->idate : (int64_t)time(NULL);
		ts[0].tv_sec = ts[1].tv_sec = (time_t)t;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (futimens(fd, ts) < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, path,
					 "cannot set the internal date");
	}
	/* synced with the whole folder at commit (syncfs) */
	if (close(fd) < 0 && rc == MB_OK)
		rc = mbi_err_sys(e, MB_FAILED, errno, path,
				 "cannot write message");
	if (rc != MB_OK) {
		unlink(path);
		free(name);
		return rc;
	}
	return add_pending(b, s, NULL, name, strlen(base), uid, renumbered,
			   uid_out, e);
}

static int
md_append(struct mb_box *b, const struct mb_newmsg *meta, struct mb_reader *src,
	  uint32_t *uid_out, struct mb_err *e)
{
	struct md_state *s = state(b);
	char uniq[1024], base[1200], tmprel[1300], path[PATH_MAX];
	struct lead_reader lead;
	struct timespec ts[2];
	int64_t size, lines;
	uint64_t kw;
	uint32_t uid;
	bool renumbered;
	char *name = NULL;
	int fd = -1, rc, tries;

	if ((rc = start_writing(b, s, e)) != MB_OK)
		return rc;
	lock_touch(&s->lock);
	if (s->npend == s->npalloc) {
		uint32_t n = s->npalloc ? s->npalloc * 2 : 64;
		struct md_pending *v = mbi_reallocarray(s->pend, n, sizeof(*v));

		if (v == NULL)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		s->pend = v;
		s->npalloc = n;
	}
	if (s->created && b->creating) {
		/* a new folder under its temporary name: nobody sees it */
		size_t got;
		bool whole;

		if ((rc = slurp(b, s, src, &got, &whole, e)) != MB_OK)
			return rc;
		if (whole)
			return append_in_place(b, s, meta, got, uid_out, e);
		/* larger: through tmp/, the bytes read so far first */
		memset(&lead, 0, sizeof(lead));
		lead.r.read = lead_read;
		lead.r.close = lead_close;
		lead.r.size = -1;
		lead.buf = s->raw;
		lead.len = got;
		lead.src = src;
		src = &lead.r;
	}
	for (tries = 0; tries < 100; tries++) {
		unique_name(b, uniq, sizeof(uniq));
		snprintf(tmprel, sizeof(tmprel), "tmp/%s", uniq);
		if ((rc = join(path, sizeof(path), b->path, tmprel, e)) !=
		    MB_OK)
			return rc;
		fd = open(path,
			  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			  0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot create message file");
	own(b, fd);
	rc = copy_text(b, src, fd, path, &size, &lines, e);
	if (rc == MB_OK) {
		/* the internal date is the file's mtime */
		int64_t t =
			meta->idate >= 0 ? meta->idate : (int64_t)time(NULL);

		ts[0].tv_sec = ts[1].tv_sec = (time_t)t;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (futimens(fd, ts) < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, path,
					 "cannot set the internal date");
	}
	/* synced at commit: each file, or the file system at once */
	if (close(fd) < 0 && rc == MB_OK)
		rc = mbi_err_sys(e, MB_FAILED, errno, path,
				 "cannot write message");
	if (rc != MB_OK)
		goto fail;

	uid = append_uid(b, s, meta, &renumbered);
	kw = map_keywords(b, s, meta);
	snprintf(base, sizeof(base), "%s,S=%lld,W=%lld", uniq, (long long)size,
		 (long long)(size + lines));
	rc = build_name(b, s, base, strlen(base), NULL,
			meta->flags & MB_FLAGS_ALL, kw, &name, e);
	if (rc != MB_OK)
		goto fail;
	rc = add_pending(b, s, tmprel, name, strlen(base), uid, renumbered,
			 uid_out, e);
	if (rc != MB_OK)
		goto fail;
	s->unsynced++;
	return MB_OK;
fail:
	unlink(path);
	return rc;
}

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* rename(2) that fails with EEXIST instead of replacing; ENOSYS or
 * EINVAL where the kernel or the file system cannot do that. */
static int
move_noreplace(const char *from, const char *to)
{
#ifdef SYS_renameat2
	return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to,
			    RENAME_NOREPLACE);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* Move a pending message from tmp/ to its place, never replacing. */
static int
publish_one(struct mb_box *b, const struct md_pending *p, struct mb_err *e)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct stat st;

	if (p->tmpname == NULL)
		return MB_OK; /* made at its place in a new folder */
	if (join(from, sizeof(from), b->path, p->tmpname, e) != MB_OK ||
	    join(to, sizeof(to), b->path, p->name, e) != MB_OK)
		return MB_FAILED;
	/* one system call where the kernel refuses to replace by itself */
	if (move_noreplace(from, to) == 0)
		return MB_OK;
	if (errno != ENOSYS && errno != EINVAL && errno != ENOTSUP)
		return mbi_err_sys(e, MB_FAILED, errno, to,
				   "cannot deliver message");
	if (link(from, to) == 0) {
		unlink(from);
		return MB_OK;
	}
	if (errno != EPERM && errno != ENOTSUP && errno != EXDEV)
		return mbi_err_sys(e, MB_FAILED, errno, to,
				   "cannot deliver message");
	if (lstat(to, &st) == 0)
		return mbi_err(e, MB_FAILED, MB_EEXIST, to, -1,
			       "'%s' already exists", to);
	if (rename(from, to) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, to,
				   "cannot deliver message");
	return MB_OK;
}

static int
sync_subdirs(struct mb_box *b, struct mb_err *e)
{
	char p[PATH_MAX];
	int rc;

	/* mbi_fsync_dir syncs the directory holding its argument */
	pathf(p, sizeof(p), "%s/new/x", b->path);
	if ((rc = mbi_fsync_dir(p, e)) != MB_OK)
		return rc;
	pathf(p, sizeof(p), "%s/cur/x", b->path);
	return mbi_fsync_dir(p, e);
}

/*
 * Put the pending messages' data on disk.  A new folder, or a batch of
 * SYNCFS_MIN messages or more, is synced with one syncfs(2) of the file
 * system (one journal commit instead of one per file; it reports write
 * errors since Linux 5.8); a few messages are fsynced one by one.
 */
#define SYNCFS_MIN 16

static int
sync_pending(struct mb_box *b, struct md_state *s, struct mb_err *e)
{
	char path[PATH_MAX];
	uint32_t i;
	int fd, rc = MB_OK;

	if (s->created || s->unsynced >= SYNCFS_MIN) {
		fd = open(b->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd) < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot write messages to disk");
		if (fd >= 0)
			close(fd);
		if (rc == MB_OK)
			s->unsynced = 0;
		return rc;
	}
	for (i = 0; i < s->npend && s->unsynced > 0; i++) {
		if (s->pend[i].tmpname == NULL)
			continue;
		if (join(path, sizeof(path), b->path, s->pend[i].tmpname, e) !=
		    MB_OK)
			return MB_FAILED;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || fsync(fd) < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, path,
					 "cannot write message to disk");
		if (fd >= 0)
			close(fd);
		if (rc != MB_OK)
			return rc;
	}
	s->unsynced = 0;
	return MB_OK;
}

static int
md_commit(struct mb_box *b, struct mb_err *e)
{
	struct md_state *s = state(b);
	uint32_t i;
	int rc = MB_OK;

	if (s->created && s->renumbered) {
		/* the kept UIDs are not the source's: a new validity */
		uint32_t v = (uint32_t)time(NULL);

		b->uidvalidity = v > b->uidvalidity ? v : b->uidvalidity + 1;
		s->renumbered = false;
	}
	/* the messages' data on disk before any name points to it */
	if (s->npend > 0 && (rc = sync_pending(b, s, e)) != MB_OK) {
		drop_pending(b, s);
		return rc;
	}
	for (i = 0; i < s->npend; i++)
		if ((rc = publish_one(b, &s->pend[i], e)) != MB_OK)
			break;
	if (rc == MB_OK && s->npend > 0)
		rc = sync_subdirs(b, e);
	if (rc != MB_OK) {
		/* the ones published stay, without UIDs: the next sync
		 * numbers them; the rest are dropped */
		uint32_t k;

		for (k = 0; k < i; k++) {
			free(s->pend[k].tmpname);
			s->pend[k].tmpname = strdup("tmp/.none");
		}
		drop_pending(b, s);
		lock_release(&s->lock);
		return rc;
	}
	if (s->npend > 0 || s->ul_dirty || s->uids_dirty || s->created)
		rc = uidlist_write(b, s, e);
	/* the published messages join the index */
	for (i = 0; rc == MB_OK && i < s->npend; i++) {
		struct md_ent *t;

		if ((rc = ents_grow(b, s, e)) != MB_OK)
			break;
		t = &s->ents[s->nents++];
		memset(t, 0, sizeof(*t));
		t->name = s->pend[i].name;
		t->blen = s->pend[i].blen;
		t->uid = s->pend[i].uid;
		t->listed = true;
		s->pend[i].name = NULL;
		free(s->pend[i].tmpname);
		s->pend[i].tmpname = NULL;
		b->scanned = false;
	}
	if (rc == MB_OK) {
		free(s->pend);
		s->pend = NULL;
		s->npend = s->npalloc = 0;
		s->uids_dirty = false;
	}
	lock_release(&s->lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Flags, expunge, renumber, poll                                       */

static int
rename_ent(struct mb_box *b, struct md_state *s, struct md_ent *t,
	   const char *to, struct mb_err *e)
{
	char from_p[PATH_MAX], to_p[PATH_MAX];
	int tries, rc;

	for (tries = 0; tries < 3; tries++) {
		if (join(from_p, sizeof(from_p), b->path, t->name, e) !=
			    MB_OK ||
		    join(to_p, sizeof(to_p), b->path, to, e) != MB_OK)
			return MB_FAILED;
		if (rename(from_p, to_p) == 0)
			return MB_OK;
		if (errno != ENOENT)
			return mbi_err_sys(e, MB_FAILED, errno, from_p,
					   "cannot rename message");
		/* renamed by another program meanwhile */
		if ((rc = relocate(b, s, t, e)) != MB_OK)
			return rc;
	}
	return mbi_err(e, MB_RETRY, MB_ECHANGED, from_p, -1,
		       "message keeps being renamed by another program");
}

static int
md_set_flags(struct mb_box *b, struct mb_msg *m, unsigned flags, uint64_t kw,
	     struct mb_err *e)
{
	struct md_state *s = state(b);
	struct md_ent *t = ent_of(b, s, m, e);
	char *name = NULL;
	int rc;

	if (t == NULL)
		return MB_FAILED;
	if (t->gone)
		return mbi_err(e, MB_FAILED, MB_ECHANGED, b->path, -1,
			       "message %u was removed by another program",
			       m->seq);
	kw_read(b, s, false, NULL);
	rc = build_name(b, s, leaf(t->name), t->blen, t->name, flags, kw, &name,
			e);
	if (rc != MB_OK)
		return rc;
	if (strcmp(name, t->name) == 0) {
		free(name);
		return MB_OK;
	}
	rc = rename_ent(b, s, t, name, e);
	if (rc != MB_OK) {
		free(name);
		return rc;
	}
	free(t->name);
	t->name = name;
	m->key = name;
	return MB_OK;
}

static int
md_expunge(struct mb_box *b, uint32_t *expunged, struct mb_err *e)
{
	struct md_state *s = state(b);
	char path[PATH_MAX];
	uint32_t i, n = 0;
	int rc;

	if (b->mode & MB_STREAM)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "a streaming box cannot expunge");
	if ((rc = mbi_scan_all(b, e)) != MB_OK)
		return rc;
	for (i = 0; i < b->nmsgs; i++) {
		struct md_ent *t = &s->ents[i];

		if (!(b->msgs[i].flags & MB_DELETED) || t->gone)
			continue;
		for (;;) {
			if (join(path, sizeof(path), b->path, t->name, e) !=
			    MB_OK)
				return MB_FAILED;
			if (unlink(path) == 0)
				break;
			if (errno != ENOENT)
				return mbi_err_sys(e, MB_FAILED, errno, path,
						   "cannot remove message");
			if (relocate(b, s, t, e) != MB_OK)
				break; /* gone already: expunged all the same */
		}
		t->gone = true;
		n++;
	}
	if (n == 0)
		return MB_OK;
	mb_err_clear(e);
	if ((rc = sync_subdirs(b, e)) != MB_OK)
		return rc;
	compact(b, s);
	*expunged = n;
	mbi_diag(b, MB_DIAG_INFO, "expunged", -1, 0, 0, "Expunged %u messages",
		 n);
	/* drop their uidlist entries (Dovecot would at its next sync) */
	if (!s->created && !s->ul_broken && !lock_held(&s->lock)) {
		bool added, changed;
		uint32_t vanished;

		pathf(path, sizeof(path), "%s/" UIDLIST, b->path);
		if ((rc = lock_take(b, path, &s->lock, e)) != MB_OK)
			return rc;
		rc = resync(b, s, true, &added, &changed, &vanished, e);
		if (rc == MB_OK)
			rc = uidlist_write(b, s, e);
		lock_release(&s->lock);
		if (added)
			b->scanned = false;
		return rc;
	}
	s->ul_dirty = true;
	return MB_OK;
}

static int
md_renumber(struct mb_box *b, struct mb_err *e)
{
	struct md_state *s = state(b);
	uint32_t i;

	if (s->npend > 0)
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "commit the appends before renumbering");
	for (i = 0; i < b->nmsgs && i < s->nents; i++) {
		s->ents[i].uid = b->msgs[i].uid;
		s->ents[i].listed = true;
	}
	s->uids_dirty = true;
	return MB_OK;
}

static int
md_poll(struct mb_box *b, bool *changed, struct mb_err *e)
{
	struct md_state *s = state(b);
	char path[PATH_MAX];
	bool added = false, renamed = false, assign;
	uint32_t vanished = 0, i;
	int rc;

	if (lock_held(&s->lock))
		return MB_OK; /* appending: we are the writer */
	kw_read(b, s, false, NULL);
	if (unchanged(b, s))
		return MB_OK;
	assign = (b->mode & MB_RDWR) && !s->ul_broken;
	if (assign) {
		pathf(path, sizeof(path), "%s/" UIDLIST, b->path);
		if ((rc = lock_take(b, path, &s->lock, e)) != MB_OK)
			return rc;
	}
	rc = resync(b, s, assign, &added, &renamed, &vanished, e);
	if (rc == MB_OK && assign && s->ul_dirty)
		rc = uidlist_write(b, s, e);
	lock_release(&s->lock);
	if (rc != MB_OK)
		return rc;
	/* new flags of the messages already reported */
	for (i = 0; renamed && !(b->mode & MB_STREAM) && i < b->nmsgs; i++) {
		struct mb_msg *m = &b->msgs[i];
		struct md_ent *t = &s->ents[i];

		if (t->gone)
			continue;
		parse_info(b, s, t->name, &m->flags, &m->keywords, m->seq,
			   m->uid);
		m->key = t->name;
	}
	for (i = 0; i < s->nents; i++)
		if (s->ents[i].gone && i < b->nmsgs)
			mbi_diag(b, MB_DIAG_INFO, "vanished", -1, i + 1,
				 s->ents[i].uid,
				 "message removed by another program");
	if (vanished > 0)
		compact(b, s);
	if (added)
		b->scanned = false;
	*changed = added || renamed || vanished > 0;
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Remove, rename                                                       */

/* Things a maildir folder holds besides messages. */
static bool
known_entry(const char *n)
{
	return strcmp(n, "tmp") == 0 || strcmp(n, "new") == 0 ||
	       strcmp(n, "cur") == 0 || strcmp(n, FOLDER_MARK) == 0 ||
	       strncmp(n, "dovecot", 7) == 0 || strncmp(n, "courier", 7) == 0;
}

static int
remove_tree_fd(int dfd)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		int fd;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			rc = -1;
			continue;
		}
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || remove_tree_fd(fd) < 0 ||
		    unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

static int
md_remove(struct mb_ctx *ctx, const char *path, struct mb_err *e)
{
	char tmp[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd, rc;

	d = opendir(path);
	if (d == NULL)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot delete mailbox");
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (!known_entry(de->d_name)) {
			rc = mbi_err(e, MB_FAILED, MB_EINVAL, path, -1,
				     "'%s' holds '%s' (a subfolder or "
				     "another program's file): not deleted",
				     path, de->d_name);
			closedir(d);
			return rc;
		}
	}
	closedir(d);
	/* out of sight first, so nobody sees half a maildir */
	if ((rc = mbi_tmp_name(path, tmp, sizeof(tmp), e)) != MB_OK)
		return rc;
	if (rename(path, tmp) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot delete mailbox");
	mbi_fsync_dir(path, NULL);
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || remove_tree_fd(fd) < 0 || rmdir(tmp) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, tmp,
				   "mailbox deleted, but '%s' could not be "
				   "removed",
				   tmp);
	return MB_OK;
}

static int
md_rename(struct mb_ctx *ctx, const char *from, const char *to,
	  struct mb_err *e)
{
	return mbi_publish(from, to, e);
}

/* ------------------------------------------------------------------ */

static int
md_probe(const char *path, const struct stat *st, const unsigned char *head,
	 size_t len)
{
	if (!is_dir(path, "cur") || !is_dir(path, "new"))
		return 0;
	return is_dir(path, "tmp") ? 100 : 80;
}

const struct mb_driver mbi_driver_maildir = {
	.name = "maildir",
	.summary = "maildir (one file per message), with Dovecot's UIDs and "
		   "keywords; Maildir++ subfolders",
	.caps = MB_CAP_APPEND | MB_CAP_FLAGS | MB_CAP_KEYWORDS | MB_CAP_UIDS |
		MB_CAP_EXPUNGE | MB_CAP_CREATE | MB_CAP_DIR | MB_CAP_DATES,
	.probe_len = 0,
	.probe = md_probe,
	.open = md_open,
	.create = md_create,
	.next = md_next,
	.msg_open = md_msg_open,
	.append = md_append,
	.set_flags = md_set_flags,
	.expunge = md_expunge,
	.renumber = md_renumber,
	.poll = md_poll,
	.commit = md_commit,
	.close = md_close,
	.remove = md_remove,
	.rename = md_rename,
};

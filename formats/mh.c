/*
 * mh.c - MH folders (shared/spec/uw-formats.md section 8), as UW c-client,
 * nmh and their mail readers share them.
 *
 *	folder/1, folder/2, ...	one message per file, LF text; the file's
 *				modification time is the internal date
 *	folder/.mh_sequences	"name: 1-3 7" lines (nmh's public sequences)
 *
 * UIDs are the message numbers: MH renumbers only when told to (folder
 * -pack).  UW keeps flags in memory only; mailbag keeps them in the
 * sequences nmh users know (unseen, flagged, replied, deleted, draft)
 * and leaves every other sequence of the file as it was.  A folder with
 * no .mh_sequences file is read UW's way: a message is seen when its
 * file was read after it was written (atime > mtime).
 *
 * Appends write a temporary file in the folder, fsync it, give it the
 * internal date and link it to the next free number (link never replaces,
 * so a concurrent nmh inc is safe).  .mh_sequences is rewritten under
 * nmh's fcntl lock on it, through a temporary file and rename.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "formats.h"

#define SEQFILE	       ".mh_sequences"
#define SEQ_MAX	       (16u << 20) /* a sequences file larger than this is refused */
#define MAXNUM	       0x7fffffffu
#define CHUNK	       (64u << 10)
#define KEYS_PER_BLOCK 1024
#define MAX_UNSEEN     8

/* A set of message numbers: sorted, disjoint ranges. */
struct range {
	uint32_t lo, hi;
};
struct set {
	struct range *r;
	size_t n, cap;
};

/* One entry of .mh_sequences, kept verbatim unless we change it. */
struct seq {
	char *name; /* NULL: a line we do not understand */
	char *raw;  /* the original bytes, continuation lines too */
	size_t rawlen;
	struct set set;
	bool changed;
};

struct seqfile {
	struct seq *v;
	size_t n, cap;
	bool exists;
};

/* The flags mailbag keeps in sequences (\Seen is "not unseen"). */
static const struct {
	unsigned flag;
	const char *name;
} seq_flags[] = {
	{ MB_FLAGGED, "flagged" },
	{ MB_ANSWERED, "replied" },
	{ MB_DELETED, "deleted" },
	{ MB_DRAFT, "draft" },
};

struct change {
	uint32_t num;
	unsigned flags;
};

struct keyblock {
	struct keyblock *next;
	char k[KEYS_PER_BLOCK][12];
	unsigned used;
};

struct mh_state {
	int dfd;
	bool created;	/* we made the folder: kept UIDs are used */
	uint32_t *nums; /* message numbers found, ascending */
	size_t nnums, cap, pos;
	uint32_t last; /* highest number seen or used */
	struct seqfile sf;
	char unseen[MAX_UNSEEN][64]; /* Unseen-Sequence names */
	unsigned nunseen;
	struct change *ch; /* flag changes to store, by number */
	size_t nch, chcap;
	uint32_t *added; /* numbers we linked, not yet committed */
	size_t nadded, addcap;
	uint32_t *gone; /* numbers expunged, not yet committed */
	size_t ngone, gonecap;
	struct keyblock *keys;
};

static struct mh_state *
state(struct mb_box *b)
{
	return b->priv;
}

/* ------------------------------------------------------------------ */
/* Number sets                                                          */

/* Index of the first range whose hi >= n. */
static size_t
set_find(const struct set *s, uint32_t n)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->r[mid].hi < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool
set_has(const struct set *s, uint32_t n)
{
	size_t i = set_find(s, n);

	return i < s->n && s->r[i].lo <= n;
}

static int
set_room(struct set *s, size_t extra)
{
	struct range *p;
	size_t cap;

	if (s->n + extra <= s->cap)
		return 0;
	cap = s->cap ? s->cap * 2 : 8;
	while (cap < s->n + extra)
		cap *= 2;
	p = mbi_reallocarray(s->r, cap, sizeof(*p));
	if (p == NULL)
		return -1;
	s->r = p;
	s->cap = cap;
	return 0;
}

static int
set_add_range(struct set *s, uint32_t lo, uint32_t hi)
{
	size_t i = set_find(s, lo > 0 ? lo - 1 : 0), j;

	/* ranges from i on that touch [lo-1, hi+1] merge with it */
	j = i;
	while (j < s->n && (hi == UINT32_MAX || s->r[j].lo <= hi + 1)) {
		if (s->r[j].lo < lo)
			lo = s->r[j].lo;
		if (s->r[j].hi > hi)
			hi = s->r[j].hi;
		j++;
	}
	if (j > i) {
		s->r[i].lo = lo;
		s->r[i].hi = hi;
		memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof(*s->r));
		s->n -= j - i - 1;
		return 0;
	}
	if (set_room(s, 1) < 0)
		return -1;
	memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
	s->r[i].lo = lo;
	s->r[i].hi = hi;
	s->n++;
	return 0;
}

static int
set_del(struct set *s, uint32_t n)
{
	size_t i = set_find(s, n);
	struct range *r;

	if (i >= s->n || s->r[i].lo > n)
		return 0;
	r = &s->r[i];
	if (r->lo == n && r->hi == n) {
		memmove(r, r + 1, (s->n - i - 1) * sizeof(*r));
		s->n--;
	} else if (r->lo == n) {
		r->lo++;
	} else if (r->hi == n) {
		r->hi--;
	} else {
		uint32_t hi = r->hi;

		if (set_room(s, 1) < 0)
			return -1;
		r = &s->r[i];
		r->hi = n - 1;
		memmove(r + 2, r + 1, (s->n - i - 1) * sizeof(*r));
		r[1].lo = n + 1;
		r[1].hi = hi;
		s->n++;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* .mh_sequences                                                        */

static void
seqfile_free(struct seqfile *sf)
{
	size_t i;

	for (i = 0; i < sf->n; i++) {
		free(sf->v[i].name);
		free(sf->v[i].raw);
		free(sf->v[i].set.r);
	}
	free(sf->v);
	memset(sf, 0, sizeof(*sf));
}

static struct seq *
seqfile_new(struct seqfile *sf)
{
	if (sf->n == sf->cap) {
		size_t cap = sf->cap ? sf->cap * 2 : 8;
		struct seq *p = mbi_reallocarray(sf->v, cap, sizeof(*p));

		if (p == NULL)
			return NULL;
		sf->v = p;
		sf->cap = cap;
	}
	memset(&sf->v[sf->n], 0, sizeof(sf->v[0]));
	return &sf->v[sf->n++];
}

static struct seq *
seq_get(struct seqfile *sf, const char *name)
{
	size_t i;

	for (i = 0; i < sf->n; i++)
		if (sf->v[i].name != NULL && strcmp(sf->v[i].name, name) == 0)
			return &sf->v[i];
	return NULL;
}

static bool
seq_has(struct seqfile *sf, const char *name, uint32_t n)
{
	struct seq *q = seq_get(sf, name);

	return q != NULL && set_has(&q->set, n);
}

/*
 * The numbers of one entry: "1 3-5 9" (text from p, len bytes, which may
 * span continuation lines).  Bad tokens are reported and skipped.
 */
static int
parse_numbers(struct mb_box *b, struct seq *q, const char *p, size_t len,
	      int64_t off)
{
	size_t i = 0;

	while (i < len) {
		unsigned long lo, hi;
		char *end;
		size_t start;

		while (i < len && isspace((unsigned char)p[i]))
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && !isspace((unsigned char)p[i]))
			i++;
		errno = 0;
		lo = isdigit((unsigned char)p[start]) ?
			     strtoul(p + start, &end, 10) :
			     0;
		hi = lo;
		if (lo != 0 && end < p + i && *end == '-' &&
		    isdigit((unsigned char)end[1]))
			hi = strtoul(end + 1, &end, 10);
		if (lo == 0 || errno != 0 || end != p + i || hi < lo ||
		    hi > MAXNUM) {
			mbi_diag(b, MB_DIAG_WARN, "bad-sequence", -1, 0, 0,
				 "%s at byte %lld: '%.*s' in sequence '%s' is "
				 "not a message number or range (ignored)",
				 SEQFILE, (long long)(off + (int64_t)start),
				 (int)(i - start > 40 ? 40 : i - start),
				 p + start, q->name);
			continue;
		}
		if (set_add_range(&q->set, (uint32_t)lo, (uint32_t)hi) < 0)
			return -1;
	}
	return 0;
}

/* Read and parse the folder's .mh_sequences (a missing one is empty). */
static int
seqfile_read(struct mb_box *b, int dfd, struct seqfile *sf, struct mb_err *e)
{
	struct stat st;
	char *buf = NULL;
	size_t i, len;
	ssize_t n;
	int fd, rc = MB_OK;

	seqfile_free(sf);
	fd = openat(dfd, SEQFILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return MB_OK;
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot read %s", SEQFILE);
	}
	sf->exists = true;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)SEQ_MAX) {
		rc = mbi_err(e, MB_FAILED, MB_EFORMAT, b->path, -1,
			     "%s is not a regular file of at most %u bytes",
			     SEQFILE, SEQ_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			     "out of memory");
		goto out;
	}
	n = mbi_pread_full(fd, buf, (size_t)st.st_size, 0);
	if (n < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path, "cannot read %s",
				 SEQFILE);
		goto out;
	}
	len = (size_t)n;
	buf[len] = '\0';
	for (i = 0; i < len;) {
		size_t start = i, end, colon;
		struct seq *q;

		/* the entry: this line and its continuation lines */
		for (end = i;;) {
			const char *nl = memchr(buf + end, '\n', len - end);

			end = nl ? (size_t)(nl - buf) + 1 : len;
			if (end >= len || (buf[end] != ' ' && buf[end] != '\t'))
				break;
		}
		i = end;
		if ((q = seqfile_new(sf)) == NULL)
			goto nomem;
		q->raw = mbi_strndup(buf + start, end - start);
		if (q->raw == NULL)
			goto nomem;
		q->rawlen = end - start;
		for (colon = start;
		     colon < end && buf[colon] != ':' && buf[colon] != '\n';
		     colon++)
			;
		if (colon == start || colon >= end || buf[colon] != ':') {
			if (end - start > 1 || buf[start] != '\n')
				mbi_diag(b, MB_DIAG_WARN, "bad-sequence", -1, 0,
					 0,
					 "%s at byte %lld: a line that is not "
					 "'name: numbers' (kept as it is)",
					 SEQFILE, (long long)start);
			continue;
		}
		q->name = mbi_strndup(buf + start, colon - start);
		if (q->name == NULL ||
		    parse_numbers(b, q, buf + colon + 1, end - colon - 1,
				  (int64_t)colon + 1) < 0)
			goto nomem;
	}
	goto out;
nomem:
	rc = mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1, "out of memory");
out:
	free(buf);
	close(fd);
	return rc;
}

/* The text of a changed entry: "name: 1-3 5" LF; nothing when empty. */
static int
seq_format(const struct seq *q, struct mbi_buf *out)
{
	size_t i;
	int rc;

	if (q->set.n == 0)
		return 0;
	rc = mbi_buf_addf(out, "%s:", q->name);
	for (i = 0; rc == 0 && i < q->set.n; i++) {
		const struct range *r = &q->set.r[i];

		rc = r->lo == r->hi ? mbi_buf_addf(out, " %u", r->lo) :
				      mbi_buf_addf(out, " %u-%u", r->lo, r->hi);
	}
	return rc == 0 ? mbi_buf_addstr(out, "\n") : rc;
}

/* ------------------------------------------------------------------ */
/* The folder's messages                                                */

/* A message file name: digits, no leading zero, at most MAXNUM. */
static uint32_t
msg_number(const char *name)
{
	unsigned long v = 0;
	const char *p;

	if (name[0] < '1' || name[0] > '9')
		return 0;
	for (p = name; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - name >= 10)
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v <= MAXNUM ? (uint32_t)v : 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
u32_push(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		uint32_t *p = mbi_reallocarray(*v, c, sizeof(*p));

		if (p == NULL)
			return -1;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return 0;
}

/*
 * The message numbers of the folder, ascending, into *out (malloc'd).
 * Only regular files count; other entries (subfolders, ",5" backups of
 * rmm, .mh_sequences, editors' files) are not messages.
 */
static int
list_numbers(struct mb_box *b, int dfd, uint32_t **out, size_t *nout,
	     struct mb_err *e)
{
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd = dup(dfd);

	*out = NULL;
	*nout = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		return mbi_err_sys(e, MB_FAILED, err, b->path,
				   "cannot read folder");
	}
	rewinddir(d);
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		uint32_t num = msg_number(de->d_name);
		struct stat st;

		if (num == 0)
			continue;
		if (de->d_type != DT_REG) {
			if (de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
				continue;
			if (fstatat(dfd, de->d_name, &st, 0) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
		}
		if (u32_push(&v, &n, &cap, num) < 0) {
			free(v);
			closedir(d);
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		}
		errno = 0;
	}
	if (errno != 0) {
		int err = errno;

		free(v);
		closedir(d);
		return mbi_err_sys(e, MB_FAILED, err, b->path,
				   "cannot read folder");
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_u32);
	*out = v;
	*nout = n;
	return MB_OK;
}

/* A stable home for the decimal name of message num (mb_msg.key). */
static const char *
key_of(struct mh_state *s, uint32_t num)
{
	struct keyblock *kb = s->keys;

	if (kb == NULL || kb->used == KEYS_PER_BLOCK) {
		kb = calloc(1, sizeof(*kb));
		if (kb == NULL)
			return NULL;
		kb->next = s->keys;
		s->keys = kb;
	}
	snprintf(kb->k[kb->used], sizeof(kb->k[0]), "%u", num);
	return kb->k[kb->used++];
}

static bool
is_unseen(struct mh_state *s, uint32_t num)
{
	unsigned i;

	for (i = 0; i < s->nunseen; i++)
		if (seq_has(&s->sf, s->unseen[i], num))
			return true;
	return false;
}

/* UW's rule, for folders without .mh_sequences: read after written. */
static bool
seen_by_times(const struct stat *st)
{
	return st->st_atim.tv_sec > st->st_mtim.tv_sec ||
	       (st->st_atim.tv_sec == st->st_mtim.tv_sec &&
		st->st_atim.tv_nsec > st->st_mtim.tv_nsec);
}

static unsigned
flags_of(struct mh_state *s, uint32_t num, const struct stat *st)
{
	unsigned f = 0;
	size_t i;

	if (s->sf.exists ? !is_unseen(s, num) : seen_by_times(st))
		f |= MB_SEEN;
	for (i = 0; i < sizeof(seq_flags) / sizeof(seq_flags[0]); i++)
		if (seq_has(&s->sf, seq_flags[i].name, num))
			f |= seq_flags[i].flag;
	if (seq_has(&s->sf, "answered", num))
		f |= MB_ANSWERED;
	return f;
}

static int
local_tz(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

static int
mh_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e)
{
	struct mh_state *s = state(b);

	while (s->pos < s->nnums) {
		uint32_t num = s->nums[s->pos++];
		const char *key = key_of(s, num);
		struct stat st;

		if (key == NULL)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		if (fstatat(s->dfd, key, &st, 0) < 0) {
			if (errno == ENOENT)
				continue; /* removed meanwhile (rmm) */
			return mbi_err_sys(e, MB_FAILED, errno, b->path,
					   "cannot stat message %u", num);
		}
		if (!S_ISREG(st.st_mode))
			continue;
		out->uid = num;
		out->flags = flags_of(s, num, &st);
		out->idate = st.st_mtim.tv_sec;
		out->idate_tz = local_tz(out->idate);
		out->offset = 0;
		out->size = st.st_size;
		out->text_offset = 0;
		out->text_size = st.st_size;
		out->key = key;
		if ((b->mode & MB_CHECK) && st.st_size == 0)
			mbi_diag(b, MB_DIAG_WARN, "empty-message", -1, 0, num,
				 "message file %s is empty", key);
		return MB_OK;
	}
	return MB_END;
}

/* A reader that owns the message file it reads. */
struct file_reader {
	struct mb_reader r;
	int fd;
	int64_t pos;
	char path[PATH_MAX];
};

static ssize_t
file_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	struct file_reader *f = (struct file_reader *)r;
	int64_t left = f->r.size - f->pos;
	ssize_t n;

	if ((int64_t)len > left)
		len = (size_t)left;
	if (len == 0)
		return 0;
	n = mbi_pread_full(f->fd, buf, len, f->pos);
	if (n < 0) {
		mbi_err_sys(e, MB_FAILED, errno, f->path,
			    "cannot read message");
		return -1;
	}
	f->pos += n;
	if (n == 0)
		f->r.size = f->pos; /* truncated meanwhile */
	return n;
}

static int
file_rewind(struct mb_reader *r, struct mb_err *e)
{
	((struct file_reader *)r)->pos = 0;
	return MB_OK;
}

static void
file_close(struct mb_reader *r)
{
	struct file_reader *f = (struct file_reader *)r;

	close(f->fd);
	free(f);
}

static int
mh_msg_open(struct mb_box *b, const struct mb_msg *m, struct mb_reader **out,
	    struct mb_err *e)
{
	struct mh_state *s = state(b);
	struct file_reader *f;
	struct stat st;
	char name[16];
	int fd;

	snprintf(name, sizeof(name), "%u", m->uid);
	fd = openat(s->dfd, name,
		    O_RDONLY | O_CLOEXEC | O_NOCTTY |
			    ((b->mode & MB_KEEP_TIMES) ? O_NOATIME : 0));
	if (fd < 0 && errno == EPERM && (b->mode & MB_KEEP_TIMES))
		fd = openat(s->dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot open message %s", name);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mbi_err(e, MB_FAILED, MB_EFORMAT, b->path, -1,
			       "message %s is not a regular file", name);
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		close(fd);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	}
	f->fd = fd;
	f->r.read = file_read;
	f->r.rewind = file_rewind;
	f->r.close = file_close;
	f->r.size = st.st_size;
	if (snprintf(f->path, sizeof(f->path), "%s/%s", b->path, name) >=
	    (int)sizeof(f->path))
		f->path[0] = '\0'; /* only for messages; b->path says enough */
	*out = &f->r;
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Open, create, close                                                  */

/* Unseen-Sequence of the profile (several names allowed), or "unseen". */
static void
read_unseen_names(struct mh_state *s)
{
	char val[512], *p, *tok, *save = NULL;
	struct mb_err e;

	s->nunseen = 0;
	if (mbi_mh_profile("Unseen-Sequence", val, sizeof(val), &e) == MB_OK) {
		for (p = val; (tok = strtok_r(p, " \t,", &save)) != NULL;
		     p = NULL) {
			if (s->nunseen < MAX_UNSEEN &&
			    strlen(tok) < sizeof(s->unseen[0]))
				snprintf(s->unseen[s->nunseen++],
					 sizeof(s->unseen[0]), "%s", tok);
		}
	}
	if (s->nunseen == 0)
		snprintf(s->unseen[s->nunseen++], sizeof(s->unseen[0]),
			 "unseen");
}

static void mh_close(struct mb_box *b);

static uint32_t
folder_validity(const char *path, const struct stat *st)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, 0, STATX_BTIME, &stx) == 0 &&
	    (stx.stx_mask & STATX_BTIME) && stx.stx_btime.tv_sec > 0)
		return (uint32_t)stx.stx_btime.tv_sec;
	return st->st_mtim.tv_sec > 0 ? (uint32_t)st->st_mtim.tv_sec : 1;
}

static int
start(struct mb_box *b, struct mb_err *e)
{
	struct mh_state *s;
	struct stat st;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	b->priv = s;
	s->dfd = open(b->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dfd < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot open MH folder");
		goto fail;
	}
	if (fstat(s->dfd, &st) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot stat MH folder");
		goto fail;
	}
	if (!b->readonly && access(b->path, W_OK) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot write to MH folder");
		goto fail;
	}
	read_unseen_names(s);
	rc = list_numbers(b, s->dfd, &s->nums, &s->nnums, e);
	if (rc == MB_OK)
		rc = seqfile_read(b, s->dfd, &s->sf, e);
	if (rc != MB_OK)
		goto fail;
	s->last = s->nnums > 0 ? s->nums[s->nnums - 1] : 0;
	b->uidvalidity = folder_validity(b->path, &st);
	b->uidlast = s->last;
	return MB_OK;
fail:
	mh_close(b);
	return rc;
}

static int
mh_open(struct mb_box *b, struct mb_err *e)
{
	return start(b, e);
}

/* mkdir -p the directories above path (0700, as UW makes them). */
static int
make_parents(const char *path, struct mb_err *e)
{
	char buf[PATH_MAX];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return mbi_err_sys(e, MB_FAILED, errno, buf,
					   "cannot create directory");
		*p = '/';
	}
	return MB_OK;
}

static int
mh_create(struct mb_box *b, struct mb_err *e)
{
	int rc;

	if ((rc = make_parents(b->path, e)) != MB_OK)
		return rc;
	if (mkdir(b->path, 0700) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, b->final_path,
				   "cannot create MH folder");
	rc = start(b, e);
	if (rc != MB_OK) {
		rmdir(b->path);
		return rc;
	}
	state(b)->created = true;
	if (!b->creating)
		mbi_fsync_dir(b->path, NULL);
	return MB_OK;
}

static void
mh_close(struct mb_box *b)
{
	struct mh_state *s = state(b);
	struct keyblock *kb;
	size_t i;

	if (s == NULL)
		return;
	/* appends never committed: take them back */
	for (i = 0; i < s->nadded && s->dfd >= 0; i++) {
		char name[16];

		snprintf(name, sizeof(name), "%u", s->added[i]);
		unlinkat(s->dfd, name, 0);
	}
	if (s->nadded > 0)
		fsync(s->dfd);
	if (s->dfd >= 0)
		close(s->dfd);
	seqfile_free(&s->sf);
	while ((kb = s->keys) != NULL) {
		s->keys = kb->next;
		free(kb);
	}
	free(s->nums);
	free(s->ch);
	free(s->added);
	free(s->gone);
	free(s);
	b->priv = NULL;
}

static int
mh_poll(struct mb_box *b, bool *changed, struct mb_err *e)
{
	struct mh_state *s = state(b);
	uint32_t *v;
	size_t n, i;
	int rc;

	rc = list_numbers(b, s->dfd, &v, &n, e);
	if (rc != MB_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if (v[i] <= s->last)
			continue;
		if (u32_push(&s->nums, &s->nnums, &s->cap, v[i]) < 0) {
			free(v);
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		}
		s->last = v[i];
		b->scanned = false;
		*changed = true;
	}
	free(v);
	if (s->last > b->uidlast)
		b->uidlast = s->last;
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Flags                                                                */

static int
record_change(struct mb_box *b, struct mh_state *s, uint32_t num,
	      unsigned flags, struct mb_err *e)
{
	size_t lo = 0, hi = s->nch;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->ch[mid].num < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->nch && s->ch[lo].num == num) {
		s->ch[lo].flags = flags;
		return MB_OK;
	}
	if (s->nch == s->chcap) {
		size_t cap = s->chcap ? s->chcap * 2 : 64;
		struct change *p = mbi_reallocarray(s->ch, cap, sizeof(*p));

		if (p == NULL)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		s->ch = p;
		s->chcap = cap;
	}
	memmove(&s->ch[lo + 1], &s->ch[lo], (s->nch - lo) * sizeof(*s->ch));
	s->ch[lo].num = num;
	s->ch[lo].flags = flags;
	s->nch++;
	return MB_OK;
}

static int
mh_set_flags(struct mb_box *b, struct mb_msg *m, unsigned flags,
	     uint64_t keywords, struct mb_err *e)
{
	return record_change(b, state(b), m->uid, flags, e);
}

/* Put num into sequence name (or take it out), creating the entry. */
static int
seq_set(struct seqfile *sf, const char *name, uint32_t num, bool in)
{
	struct seq *q = seq_get(sf, name);

	if (q == NULL) {
		if (!in)
			return 0;
		if ((q = seqfile_new(sf)) == NULL ||
		    (q->name = strdup(name)) == NULL)
			return -1;
	}
	if (set_has(&q->set, num) == in)
		return 0;
	q->changed = true;
	return in ? set_add_range(&q->set, num, num) : set_del(&q->set, num);
}

/* The flags of one message into the sequences. */
static int
apply_flags(struct mh_state *s, struct seqfile *sf, uint32_t num,
	    unsigned flags)
{
	bool answered = (flags & MB_ANSWERED) != 0;
	unsigned i;
	int rc = 0;

	if (flags & MB_SEEN) {
		for (i = 0; rc == 0 && i < s->nunseen; i++)
			rc = seq_set(sf, s->unseen[i], num, false);
	} else if (!(s->nunseen > 0 && seq_has(sf, s->unseen[0], num))) {
		rc = seq_set(sf, s->unseen[0], num, true);
	}
	for (i = 0; rc == 0 && i < sizeof(seq_flags) / sizeof(seq_flags[0]);
	     i++) {
		if (seq_flags[i].flag == MB_ANSWERED && answered &&
		    seq_has(sf, "answered", num))
			continue; /* already answered, under the other name */
		rc = seq_set(sf, seq_flags[i].name, num,
			     (flags & seq_flags[i].flag) != 0);
	}
	if (rc == 0 && !answered)
		rc = seq_set(sf, "answered", num, false);
	return rc;
}

/*
 * Store the pending flag changes and expunges in .mh_sequences: under
 * nmh's lock on the file, read it again (nmh may have changed it), apply
 * our changes to it, write it to a temporary file and rename it over.
 */
static int
write_sequences(struct mb_box *b, struct mh_state *s, struct mb_err *e)
{
	struct seqfile sf = { 0 };
	struct mbi_buf out;
	char tmp[PATH_MAX], final[PATH_MAX];
	int lfd, tfd = -1, rc;
	size_t i, j;

	if (s->nch == 0 && s->ngone == 0)
		return MB_OK;
	if (snprintf(final, sizeof(final), "%s/%s", b->path, SEQFILE) >=
	    (int)sizeof(final))
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "name too long");
	mbi_buf_init(&out);
	lfd = openat(s->dfd, SEQFILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (lfd >= 0) {
		rc = mbi_fcntl_lock(lfd, F_WRLCK, b->ctx->lock_timeout, final,
				    e);
		if (rc != MB_OK)
			goto out;
	} else if (errno != ENOENT) {
		rc = mbi_err_sys(e, MB_FAILED, errno, final, "cannot open");
		goto out;
	}
	if ((rc = seqfile_read(b, s->dfd, &sf, e)) != MB_OK)
		goto out;
	if (!sf.exists) {
		/* the first sequences file: what UW's rule said of the
		 * messages we did not change must stay true */
		uint32_t *v;
		size_t n;

		if ((rc = list_numbers(b, s->dfd, &v, &n, e)) != MB_OK)
			goto out;
		for (i = 0, j = 0; i < n && rc == MB_OK; i++) {
			struct stat st;
			char name[16];

			while (j < s->nch && s->ch[j].num < v[i])
				j++;
			if (j < s->nch && s->ch[j].num == v[i])
				continue;
			snprintf(name, sizeof(name), "%u", v[i]);
			if (fstatat(s->dfd, name, &st, 0) == 0 &&
			    !seen_by_times(&st) &&
			    seq_set(&sf, s->unseen[0], v[i], true) < 0)
				rc = MB_FATAL;
		}
		free(v);
		if (rc != MB_OK)
			goto nomem;
	}
	for (i = 0; i < s->nch; i++)
		if (apply_flags(s, &sf, s->ch[i].num, s->ch[i].flags) < 0)
			goto nomem;
	for (i = 0; i < s->ngone; i++)
		for (j = 0; j < sf.n; j++)
			if (sf.v[j].name != NULL &&
			    set_has(&sf.v[j].set, s->gone[i])) {
				if (set_del(&sf.v[j].set, s->gone[i]) < 0)
					goto nomem;
				sf.v[j].changed = true;
			}
	for (i = 0; i < sf.n; i++) {
		const struct seq *q = &sf.v[i];

		if (q->changed ? seq_format(q, &out) < 0 :
				 mbi_buf_add(&out, q->raw, q->rawlen) < 0)
			goto nomem;
	}
	if (!sf.exists && out.len == 0) {
		rc = MB_OK; /* nothing to say: no file, as before */
		goto done;
	}
	if ((rc = mbi_tmp_name(final, tmp, sizeof(tmp), e)) != MB_OK)
		goto out;
	tfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		   0600);
	if (tfd < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, tmp, "cannot create");
		goto out;
	}
	rc = mbi_write_all(tfd, out.buf, out.len, tmp, e);
	if (rc == MB_OK && fsync(tfd) < 0)
		rc = mbi_err_sys(e, MB_FAILED, errno, tmp,
				 "cannot write to disk");
	close(tfd);
	if (rc == MB_OK && rename(tmp, final) < 0)
		rc = mbi_err_sys(e, MB_FAILED, errno, final, "cannot replace");
	if (rc != MB_OK) {
		unlink(tmp);
		goto out;
	}
	rc = mbi_fsync_dir(final, e);
done:
	if (rc == MB_OK) {
		seqfile_free(&s->sf);
		s->sf = sf;
		memset(&sf, 0, sizeof(sf));
		s->nch = 0;
		s->ngone = 0;
	}
	goto out;
nomem:
	rc = mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1, "out of memory");
out:
	if (lfd >= 0)
		close(lfd); /* drops the lock */
	seqfile_free(&sf);
	mbi_buf_free(&out);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Append                                                               */

/* Copy src into fd, CR LF turned into LF (MH files are LF text). */
static int
copy_text(struct mb_box *b, struct mb_reader *src, int fd, const char *path,
	  struct mb_err *e)
{
	char *in = malloc(CHUNK), *out = malloc(CHUNK + 1);
	struct mbi_wbuf w;
	bool held_cr = false;
	int rc;

	if (in == NULL || out == NULL) {
		free(in);
		free(out);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	}
	rc = mbi_wbuf_init(&w, fd, path, 0, e);
	while (rc == MB_OK) {
		ssize_t n = mb_reader_read(src, in, CHUNK, e), i;
		size_t o = 0;

		if (n < 0) {
			rc = MB_FAILED;
			break;
		}
		if (n == 0) {
			if (held_cr)
				out[o++] = '\r';
			rc = mbi_wbuf_put(&w, out, o, e);
			break;
		}
		for (i = 0; i < n; i++) {
			if (held_cr && in[i] != '\n')
				out[o++] = '\r';
			held_cr = in[i] == '\r';
			if (!held_cr)
				out[o++] = in[i];
		}
		rc = mbi_wbuf_put(&w, out, o, e);
	}
	if (rc == MB_OK)
		rc = mbi_wbuf_flush(&w, e);
	mbi_wbuf_free(&w);
	free(in);
	free(out);
	return rc;
}

static int
mh_append(struct mb_box *b, const struct mb_newmsg *meta, struct mb_reader *src,
	  uint32_t *uid_out, struct mb_err *e)
{
	struct mh_state *s = state(b);
	char tmp[PATH_MAX], name[16], hint[PATH_MAX];
	struct timespec ts[2];
	uint32_t num;
	size_t i;
	int fd, rc, tries;

	for (i = 0; i < meta->nkeywords; i++)
		mbi_diag(b, MB_DIAG_WARN, "keyword-dropped", -1, 0, meta->uid,
			 "keyword '%s' cannot be stored (MH folders keep no "
			 "keywords)",
			 meta->keywords[i]);
	if (s->last >= MAXNUM)
		return mbi_err(e, MB_FAILED, MB_ELIMIT, b->path, -1,
			       "no message number left in the folder");
	/* a new folder keeps the source's UIDs as message numbers */
	num = s->created && meta->uid > s->last && meta->uid <= MAXNUM ?
		      meta->uid :
		      s->last + 1;
	if (snprintf(hint, sizeof(hint), "%s/%u", b->path, num) >=
	    (int)sizeof(hint))
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "name too long");
	if ((rc = mbi_tmp_name(hint, tmp, sizeof(tmp), e)) != MB_OK)
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, tmp,
				   "cannot create message file");
	rc = copy_text(b, src, fd, tmp, e);
	if (rc == MB_OK) {
		/* internal date = mtime, as UW sets it */
		ts[0].tv_sec = time(NULL);
		ts[0].tv_nsec = 0;
		ts[1].tv_sec =
			meta->idate >= 0 ? (time_t)meta->idate : ts[0].tv_sec;
		ts[1].tv_nsec = 0;
		/* and UW's rule (seen = read after written) agrees with
		 * the flag when no .mh_sequences says otherwise */
		if (!(meta->flags & MB_SEEN))
			ts[0] = ts[1];
		else if (ts[0].tv_sec <= ts[1].tv_sec)
			ts[0].tv_sec = ts[1].tv_sec + 1;
		if (futimens(fd, ts) < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, tmp,
					 "cannot set the internal date");
	}
	if (rc == MB_OK && fsync(fd) < 0)
		rc = mbi_err_sys(e, MB_FAILED, errno, tmp,
				 "cannot write message to disk");
	close(fd);
	/* link never replaces: a number someone else took is skipped */
	for (tries = 0; rc == MB_OK; tries++) {
		snprintf(name, sizeof(name), "%u", num);
		if (linkat(AT_FDCWD, tmp, s->dfd, name, 0) == 0)
			break;
		if (errno != EEXIST || tries > 10000 || num >= MAXNUM) {
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot add message %u", num);
			break;
		}
		num++;
	}
	unlink(tmp);
	if (rc != MB_OK)
		return rc;
	if (u32_push(&s->added, &s->nadded, &s->addcap, num) < 0 ||
	    record_change(b, s, num, meta->flags & MB_FLAGS_ALL, e) != MB_OK) {
		unlinkat(s->dfd, name, 0);
		if (s->nadded > 0 && s->added[s->nadded - 1] == num)
			s->nadded--;
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	}
	if (num > s->last)
		s->last = num;
	if (num > b->uidlast)
		b->uidlast = num;
	if (uid_out != NULL)
		*uid_out = num;
	return MB_OK;
}

static int
mh_commit(struct mb_box *b, struct mb_err *e)
{
	struct mh_state *s = state(b);
	int rc;

	if ((s->nadded > 0 || s->ngone > 0) && fsync(s->dfd) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot write folder to disk");
	rc = write_sequences(b, s, e);
	if (rc != MB_OK)
		return rc;
	s->nadded = 0;
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Expunge, remove, rename                                              */

static int
mh_expunge(struct mb_box *b, uint32_t *expunged, struct mb_err *e)
{
	struct mh_state *s = state(b);
	struct mb_msg *m;
	uint32_t i, kept = 0;
	int rc;

	if (b->mode & MB_STREAM)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "a streaming box cannot expunge");
	while ((rc = mb_next(b, &m, e)) == MB_OK)
		;
	if (rc != MB_END)
		return rc;
	for (i = 0; i < b->nmsgs; i++) {
		struct mb_msg msg = b->msgs[i];
		char name[16];

		if (!(msg.flags & MB_DELETED)) {
			msg.seq = ++kept;
			b->msgs[kept - 1] = msg;
			continue;
		}
		snprintf(name, sizeof(name), "%u", msg.uid);
		if (unlinkat(s->dfd, name, 0) < 0 && errno != ENOENT) {
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot remove message %s", name);
			/* keep the rest of the index whole */
			for (; i < b->nmsgs; i++) {
				msg = b->msgs[i];
				msg.seq = ++kept;
				b->msgs[kept - 1] = msg;
			}
			break;
		}
		if (u32_push(&s->gone, &s->ngone, &s->gonecap, msg.uid) < 0)
			rc = mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				     "out of memory");
		(*expunged)++;
	}
	b->nmsgs = kept;
	if (b->iter > b->nmsgs)
		b->iter = b->nmsgs;
	if (*expunged > 0) {
		b->dirty = true;
		mbi_diag(b, MB_DIAG_INFO, "expunged", -1, 0, 0,
			 "Expunged %u messages", *expunged);
	}
	return rc == MB_END ? MB_OK : rc;
}

/* Delete a folder: its messages and .mh_sequences, then the directory
 * unless it holds anything else (subfolders, other files), as UW does. */
static int
mh_remove(struct mb_ctx *ctx, const char *path, struct mb_err *e)
{
	struct mb_box fake;
	uint32_t *v;
	size_t n, i;
	int dfd, rc;

	memset(&fake, 0, sizeof(fake));
	snprintf(fake.path, sizeof(fake.path), "%s", path);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot delete MH folder");
	rc = list_numbers(&fake, dfd, &v, &n, e);
	for (i = 0; rc == MB_OK && i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "%u", v[i]);
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			rc = mbi_err_sys(e, MB_FAILED, errno, path,
					 "cannot delete message %s", name);
	}
	free(v);
	if (rc == MB_OK && unlinkat(dfd, SEQFILE, 0) < 0 && errno != ENOENT)
		rc = mbi_err_sys(e, MB_FAILED, errno, path, "cannot delete %s",
				 SEQFILE);
	fsync(dfd);
	close(dfd);
	if (rc == MB_OK && rmdir(path) == 0)
		rc = mbi_fsync_dir(path, e);
	return rc;
}

static int
mh_rename(struct mb_ctx *ctx, const char *from, const char *to,
	  struct mb_err *e)
{
	int rc = make_parents(to, e);

	return rc == MB_OK ? mbi_publish(from, to, e) : rc;
}

/* ------------------------------------------------------------------ */

/*
 * A directory whose entries are numbered files and/or .mh_sequences,
 * and which is no other directory format (UW's mix .mixmeta, mx
 * .mxindex, maildir cur/new).  An empty directory is not claimed: name
 * it #mh/... or #driver.mh/... to use it as an empty folder.  A folder
 * of numbered files that look like mailboxes themselves (From line,
 * mbx or MMDF header) is only claimed weakly.
 */
static int
mh_probe(const char *path, const struct stat *st, const unsigned char *head,
	 size_t len)
{
	static const char *const others[] = { ".mixmeta", ".mxindex", "cur",
					      "new", "dbox-Mails" };
	int dfd, score = 0;
	struct dirent *de;
	struct stat fst;
	size_t i;
	DIR *d;

	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (fstatat(dfd, others[i], &fst, AT_SYMLINK_NOFOLLOW) == 0) {
			close(dfd);
			return 0;
		}
	if (fstatat(dfd, SEQFILE, &fst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(fst.st_mode))
		score = 80;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return score;
	}
	while ((de = readdir(d)) != NULL) {
		unsigned char buf[8];
		ssize_t n;
		int fd;

		if (msg_number(de->d_name) == 0 ||
		    fstatat(dfd, de->d_name, &fst, 0) < 0 ||
		    !S_ISREG(fst.st_mode))
			continue;
		if (score > 0)
			break;
		score = 60;
		fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOATIME);
		if (fd < 0)
			fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? mbi_pread_full(fd, buf, sizeof(buf), 0) : -1;
		if (fd >= 0)
			close(fd);
		if (n >= 5 && (memcmp(buf, "From ", 5) == 0 ||
			       memcmp(buf, "*mbx*", 5) == 0 ||
			       memcmp(buf, "\1\1\1\1\n", 5) == 0))
			score = 0; /* a directory of mailboxes named by
				    * number (archive/2024), not a folder */
		break;
	}
	closedir(d);
	return score;
}

const struct mb_driver mbi_driver_mh = {
	.name = "mh",
	.summary = "MH folder: a directory of numbered message files, flags "
		   "in .mh_sequences (nmh, UW)",
	.caps = MB_CAP_APPEND | MB_CAP_FLAGS | MB_CAP_EXPUNGE | MB_CAP_CREATE |
		MB_CAP_DIR | MB_CAP_DATES,
	.probe_len = 0,
	.probe = mh_probe,
	.open = mh_open,
	.create = mh_create,
	.next = mh_next,
	.msg_open = mh_msg_open,
	.append = mh_append,
	.set_flags = mh_set_flags,
	.expunge = mh_expunge,
	.poll = mh_poll,
	.commit = mh_commit,
	.close = mh_close,
	.remove = mh_remove,
	.rename = mh_rename,
};

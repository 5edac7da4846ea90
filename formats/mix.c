/*
 * mix.c - UW c-client's "mix" directory format, read and written
 * byte-compatibly with imap-2007f (shared/spec/uw-formats.md sections
 * 1.1-1.3 and 6).
 *
 *	DIR/.mixmeta	S<seq> V<validity> L<last uid> N<data file> [K<kw> ...]
 *	DIR/.mixindex	S<seq>, then per message
 *			:uid:YYYYMMDDhhmmss+zzzz:size:file:pos:isize:hsize:
 *	DIR/.mixstatus	S<seq>, then per message :uid:keywords:flags:modseq:
 *	DIR/.mixHHHHHHHH data files: per message the record line
 *			:msg:uid:YYYYMMDDhhmmss+zzzz:size: CRLF, then the text
 *
 * Every line ends in CRLF and every number is lowercase hex (8 digits,
 * flags 4).  Sequences only grow: the current time, or the previous
 * value + 1.
 *
 * Locks (section 6.7): the session holds flock(LOCK_SH) on .mixmeta;
 * .mixindex and .mixstatus are flocked shared to read and exclusive to
 * update (from the first append until commit, and for expunge).  The
 * data files are compacted ("burp") only when flock(LOCK_EX|LOCK_NB) on
 * .mixmeta succeeds, i.e. nobody else has the mailbox open; otherwise the
 * expunged messages only leave the index and the bytes stay (UW's shared
 * expunge).
 *
 * Crash safety: index, status and metadata are rewritten in place (UW
 * processes lock them by inode) through the redo journal of rewrite.c.
 * Appended text goes to the end of the current data file and is fsynced
 * before the index names it.  A burp writes the kept messages of a data
 * file to a new data file, switches the index to it, and only then
 * removes the old one, so every crash point leaves a consistent mailbox.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats.h"

#define NUSERFLAGS   30	     /* keywords per mailbox (UW) */
#define MAXUSERFLAG  50	     /* longest keyword */
#define DATAROLL     1048576 /* start a new data file past this (UW) */
#define MSGTOK	     ":msg:"
#define CHUNK	     (64u << 10)
#define SPOOL_MEM    (1u << 20)
#define LINE_MAX_LEN 4096 /* longest index/status/meta line we accept */

struct mix_ent {
	uint32_t uid;
	int64_t idate;
	int tz;
	uint32_t size;	/* message text bytes */
	uint32_t file;	/* data file number */
	uint32_t pos;	/* record line offset in the data file */
	uint32_t isize; /* record line length */
	uint32_t hsize; /* header bytes (with the blank line) */
	uint32_t kw;
	unsigned flags;
	uint32_t modseq;
	int64_t ixoff; /* offset of the index record */
	bool has_status;
	bool dirty; /* flags to write at commit */
};

struct mix_list {
	struct mix_ent *v;
	uint32_t n, cap;
};

struct mix_state {
	char dir[PATH_MAX];
	char meta_path[PATH_MAX + 16];
	char index_path[PATH_MAX + 16];
	char status_path[PATH_MAX + 16];
	int mfd, ifd, sfd;
	bool meta_sh;	/* session lock on .mixmeta */
	bool locked_ex; /* index + status held exclusively */

	/* what the files said when last read */
	uint32_t metaseq, indexseq, statusseq, newmsg;
	uint32_t meta_v, meta_l; /* UIDVALIDITY and last UID in .mixmeta */
	unsigned meta_nkw;

	struct mix_list l;     /* the index, in UID order */
	uint32_t next;	       /* next entry to report */
	uint32_t reported_uid; /* highest UID reported */

	/* the data file being read in next() */
	int cfd;
	uint32_t cfile;
	int64_t csize;

	/* writing */
	bool created;
	bool appending;	     /* appends pending: locks held */
	struct mix_list app; /* appended, not yet in the index */
	int wfd;	     /* the data file appended to */
	uint32_t wfile;
	int64_t wsize0; /* its size before our appends */
	struct mbi_wbuf wb;
	bool wb_init;
	uint32_t wprev_uid;
	bool renumbered; /* created: a kept UID had to be replaced */
	bool flags_dirty;
	bool uids_dirty;
	bool index_dirty;

	/* a message whose size must be known before it is written: kept
	 * here up to SPOOL_MEM bytes, beyond that in a temporary file */
	char *spmem;
	size_t splen;
	bool spfile; /* this message went to spfd */
	int spfd;
};

static struct mix_state *
state(struct mb_box *b)
{
	return b->priv;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

static uint32_t
new_seq(uint32_t old)
{
	uint32_t t = (uint32_t)time(NULL);

	return t > old ? t : old + 1;
}

static void
data_name(char *out, size_t size, const char *dir, uint32_t file)
{
	if (file == 0)
		snprintf(out, size, "%s/.mix", dir);
	else
		snprintf(out, size, "%s/.mix%08x", dir, file);
}

/* A diagnostic about file path (not b->path) at byte off. */
static void diag_at(struct mb_box *b, int level, const char *code,
		    const char *path, int64_t off, uint32_t msgno, uint32_t uid,
		    const char *fmt, ...) MBI_PRINTF(8, 9);

static void
diag_at(struct mb_box *b, int level, const char *code, const char *path,
	int64_t off, uint32_t msgno, uint32_t uid, const char *fmt, ...)
{
	char text[768];
	struct mb_diag d;
	va_list ap;

	if (b->ctx == NULL || b->ctx->diag == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	d.level = level;
	d.code = code;
	d.path = path;
	d.offset = off;
	d.msgno = msgno;
	d.uid = uid;
	d.text = text;
	b->ctx->diag(b->ctx->diag_arg, &d);
}

/* Parse 1..8 hex digits at *p up to the next ':'; advance past it. */
static bool
hex_field(const char **p, const char *end, uint32_t *out)
{
	const char *s = *p;
	uint32_t v = 0;
	int n = 0;

	while (s < end && isxdigit((unsigned char)*s)) {
		int c = (unsigned char)*s++;

		if (++n > 8)
			return false;
		v = v * 16 +
		    (uint32_t)(isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
	}
	if (n == 0 || s >= end || *s != ':')
		return false;
	*out = v;
	*p = s + 1;
	return true;
}

static bool
dec_n(const char *p, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

/* "YYYYMMDDhhmmss+zzzz:" at *p. */
static bool
date_field(const char **p, const char *end, int64_t *t, int *tz)
{
	const char *s = *p;
	int y, mo, d, h, mi, se, zh, zm;

	if (end - s < 20 || s[19] != ':' || (s[14] != '+' && s[14] != '-'))
		return false;
	if (!dec_n(s, 4, &y) || !dec_n(s + 4, 2, &mo) || !dec_n(s + 6, 2, &d) ||
	    !dec_n(s + 8, 2, &h) || !dec_n(s + 10, 2, &mi) ||
	    !dec_n(s + 12, 2, &se) || !dec_n(s + 15, 2, &zh) ||
	    !dec_n(s + 17, 2, &zm))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60 || zm > 59)
		return false;
	*tz = (zh * 60 + zm) * (s[14] == '-' ? -1 : 1);
	*t = mbi_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	     h * 3600 + mi * 60 + se - (int64_t)*tz * 60;
	*p = s + 20;
	return true;
}

static void
date_fmt(char *out, size_t size, int64_t t, int tz)
{
	int y, mo, d, h, mi, se, wd, a = tz < 0 ? -tz : tz;

	if (!mbi_civil_from_secs(t + (int64_t)tz * 60, &y, &mo, &d, &h, &mi,
				 &se, &wd)) {
		y = 1970;
		mo = d = 1;
		h = mi = se = 0;
	}
	snprintf(out, size, "%04d%02d%02d%02d%02d%02d%c%02d%02d", y, mo, d, h,
		 mi, se, tz < 0 ? '-' : '+', (a / 60) % 100, a % 60);
}

static int
list_add(struct mb_box *b, struct mix_list *l, const struct mix_ent *x,
	 struct mb_err *e)
{
	if (l->n == l->cap) {
		uint32_t c = l->cap ? l->cap * 2 : 64;
		struct mix_ent *v = mbi_reallocarray(l->v, c, sizeof(*v));

		if (v == NULL)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		l->v = v;
		l->cap = c;
	}
	l->v[l->n++] = *x;
	return MB_OK;
}

static struct mix_ent *
list_find(struct mix_list *l, uint32_t uid)
{
	uint32_t lo = 0, hi = l->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (l->v[mid].uid == uid)
			return &l->v[mid];
		if (l->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Line reader over an fd from offset 0.  Lines end in LF (CR before it
 * dropped); a NUL ends the file (UW pre-extends with NULs).
 */
struct lines {
	int fd;
	char buf[CHUNK];
	size_t len, at;
	int64_t off; /* file offset of buf[0] */
	char line[LINE_MAX_LEN + 1];
	bool eof;
};

static void
lines_init(struct lines *r, int fd)
{
	r->fd = fd;
	r->len = r->at = 0;
	r->off = 0;
	r->eof = false;
}

/* 1: a line (*len bytes, *start its offset), 0: end, -1: read error,
 * -2: line too long. */
static int
lines_next(struct lines *r, size_t *len, int64_t *start)
{
	size_t n = 0;
	bool started = false;

	for (;;) {
		char c;

		if (r->at == r->len) {
			ssize_t k;

			if (r->eof)
				break;
			r->off += (int64_t)r->len;
			k = mbi_pread_full(r->fd, r->buf, sizeof(r->buf),
					   r->off);
			if (k < 0)
				return -1;
			r->len = (size_t)k;
			r->at = 0;
			if (k < (ssize_t)sizeof(r->buf))
				r->eof = true;
			if (k == 0)
				break;
		}
		if (!started) {
			*start = r->off + (int64_t)r->at;
			started = true;
		}
		c = r->buf[r->at++];
		if (c == '\0') {
			r->eof = true;
			r->at = r->len;
			break;
		}
		if (c == '\n') {
			if (n > 0 && r->line[n - 1] == '\r')
				n--;
			r->line[n] = '\0';
			*len = n;
			return 1;
		}
		if (n >= LINE_MAX_LEN)
			return -2;
		r->line[n++] = c;
	}
	if (n == 0)
		return 0;
	r->line[n] = '\0';
	*len = n;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Reading the three files                                              */

/* A damaged metadata/index/status file: fatal, with UW's wording. */
static int
file_damage(struct mb_box *b, const char *path, int64_t off, struct mb_err *e,
	    const char *text)
{
	diag_at(b, MB_DIAG_DAMAGE, "mix-file", path, off, 0, 0, "%s", text);
	return mbi_err(e, MB_FATAL, MB_EFORMAT, path, off, "%s", text);
}

static int
read_meta(struct mb_box *b, struct mix_state *s, bool adopt, struct mb_err *e)
{
	struct lines *r = malloc(sizeof(*r));
	bool have_s = false, have_v = false, have_l = false, have_n = false;
	uint32_t seq = 0, v = 0, last = 0, nm = 0;
	size_t len;
	int64_t off = 0;
	int k, rc = MB_OK;
	unsigned nkw = 0;

	if (r == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	lines_init(r, s->mfd);
	while ((k = lines_next(r, &len, &off)) == 1) {
		const char *p = r->line + 1, *end = r->line + len;
		uint32_t x;
		char tmp[16];

		if (len == 0)
			continue;
		if (strchr("SVLN", r->line[0]) != NULL) {
			snprintf(tmp, sizeof(tmp), "%.9s:", p);
			p = tmp;
			if (len > 9 || !hex_field(&p, tmp + strlen(tmp), &x)) {
				const char *what =
					r->line[0] == 'S' ?
						"Error in mix "
						"metadata file "
						"sequence record" :
					r->line[0] == 'V' ?
						"Error in mix "
						"metadata file "
						"UIDVALIDITY "
						"record" :
					r->line[0] == 'L' ?
						"Error in mix metadata file "
						"UIDLAST record" :
						"Error in mix metadata file "
						"new msg record";
				rc = file_damage(b, s->meta_path, off, e, what);
				goto out;
			}
		}
		switch (r->line[0]) {
		case 'S':
			seq = x, have_s = true;
			break;
		case 'V':
			v = x, have_v = true;
			break;
		case 'L':
			last = x, have_l = true;
			break;
		case 'N':
			nm = x, have_n = true;
			break;
		case 'K':
			for (p = r->line + 1; p < end;) {
				const char *q =
					memchr(p, ' ', (size_t)(end - p));

				if (q == NULL)
					q = end;
				if (q == p || q - p > MAXUSERFLAG ||
				    nkw >= NUSERFLAGS) {
					rc = file_damage(
						b, s->meta_path, off, e,
						"Error in mix metadata "
						"file keyword record");
					goto out;
				}
				if (adopt || nkw >= b->nkw) {
					if (mbi_kw_slot(b, p, (size_t)(q - p)) <
					    0) {
						rc = mbi_err(e, MB_FATAL,
							     MB_ENOMEM, b->path,
							     -1,
							     "out of memory");
						goto out;
					}
				}
				nkw++;
				p = q < end ? q + 1 : q;
			}
			break;
		default:
			break; /* unknown keys are ignored (UW) */
		}
	}
	if (k < 0) {
		rc = k == -1 ? mbi_err_sys(e, MB_FATAL, errno, s->meta_path,
					   "cannot read mix metadata") :
			       file_damage(b, s->meta_path, off, e,
					   "Error in mix metadata record");
		goto out;
	}
	if (!have_s || !have_v || !have_l || !have_n) {
		rc = file_damage(b, s->meta_path, 0, e,
				 "Error in mix metadata record");
		goto out;
	}
	s->metaseq = seq;
	s->newmsg = nm;
	s->meta_nkw = nkw;
	s->meta_v = v;
	s->meta_l = last;
	if (adopt) {
		b->uidvalidity = v;
		b->uidlast = last;
	} else {
		if (v != s->meta_v) {
			rc = mbi_err(e, MB_FATAL, MB_ECHANGED, s->meta_path, -1,
				     "UIDVALIDITY changed by another process");
			goto out;
		}
		if (last > b->uidlast)
			b->uidlast = last;
	}
out:
	free(r);
	return rc;
}

/* Read .mixindex into *l (emptied first). */
static int
read_index(struct mb_box *b, struct mix_state *s, struct mix_list *l,
	   struct mb_err *e)
{
	struct lines *r = malloc(sizeof(*r));
	uint32_t prev = 0;
	size_t len;
	int64_t off = 0;
	int k, rc = MB_OK;
	bool first = true;

	if (r == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	l->n = 0;
	s->indexseq = 0;
	lines_init(r, s->ifd);
	while ((k = lines_next(r, &len, &off)) == 1) {
		const char *p = r->line, *end = r->line + len;
		struct mix_ent x;

		if (first) {
			uint32_t seq;
			char tmp[16];

			first = false;
			snprintf(tmp, sizeof(tmp), "%.9s:", p + 1);
			p = tmp;
			if (r->line[0] != 'S' || len > 9 ||
			    !hex_field(&p, tmp + strlen(tmp), &seq)) {
				rc = file_damage(b, s->index_path, off, e,
						 "Error in mix index file "
						 "sequence record");
				goto out;
			}
			s->indexseq = seq;
			continue;
		}
		if (len == 0)
			continue;
		memset(&x, 0, sizeof(x));
		x.ixoff = off;
		p++;
		if (r->line[0] != ':' || !hex_field(&p, end, &x.uid) ||
		    !date_field(&p, end, &x.idate, &x.tz) ||
		    !hex_field(&p, end, &x.size) ||
		    !hex_field(&p, end, &x.file) ||
		    !hex_field(&p, end, &x.pos) ||
		    !hex_field(&p, end, &x.isize) ||
		    !hex_field(&p, end, &x.hsize)) {
			rc = file_damage(b, s->index_path, off, e,
					 "Error in mix index file message "
					 "record");
			goto out;
		}
		if (x.uid == 0 || x.uid <= prev) {
			char text[128];

			snprintf(text, sizeof(text),
				 "Error in mix index file: UID %08x out of "
				 "order (after %08x)",
				 x.uid, prev);
			rc = file_damage(b, s->index_path, off, e, text);
			goto out;
		}
		prev = x.uid;
		if ((rc = list_add(b, l, &x, e)) != MB_OK)
			goto out;
	}
	if (k < 0)
		rc = k == -1 ? mbi_err_sys(e, MB_FATAL, errno, s->index_path,
					   "cannot read mix index") :
			       file_damage(b, s->index_path, off, e,
					   "Error in mix index file message "
					   "record");
out:
	free(r);
	return rc;
}

/* Read .mixstatus onto the entries of l. */
static int
read_status(struct mb_box *b, struct mix_state *s, struct mix_list *l,
	    struct mb_err *e)
{
	struct lines *r = malloc(sizeof(*r));
	size_t len;
	int64_t off = 0;
	int k, rc = MB_OK;
	bool first = true;
	uint32_t i;

	if (r == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	for (i = 0; i < l->n; i++)
		l->v[i].has_status = false;
	s->statusseq = 0;
	lines_init(r, s->sfd);
	while ((k = lines_next(r, &len, &off)) == 1) {
		const char *p = r->line, *end = r->line + len;
		uint32_t uid, kw, fl, ms;
		struct mix_ent *x;

		if (first) {
			uint32_t seq;
			char tmp[16];

			first = false;
			snprintf(tmp, sizeof(tmp), "%.9s:", p + 1);
			p = tmp;
			if (r->line[0] != 'S' || len > 9 ||
			    !hex_field(&p, tmp + strlen(tmp), &seq)) {
				rc = file_damage(b, s->status_path, off, e,
						 "Error in mix status file "
						 "sequence record");
				goto out;
			}
			s->statusseq = seq;
			continue;
		}
		if (len == 0)
			continue;
		p++;
		if (r->line[0] != ':' || !hex_field(&p, end, &uid) ||
		    !hex_field(&p, end, &kw) || !hex_field(&p, end, &fl) ||
		    !hex_field(&p, end, &ms) || fl > 0xffff) {
			rc = file_damage(b, s->status_path, off, e,
					 "Error in mix status file message "
					 "record");
			goto out;
		}
		x = list_find(l, uid);
		if (x == NULL) {
			if (b->mode & MB_CHECK)
				diag_at(b, MB_DIAG_WARN, "mix-status-orphan",
					s->status_path, off, 0, uid,
					"status record for UID %08x that is not "
					"in the index",
					uid);
			continue;
		}
		x->kw = kw;
		x->flags = fl & MB_FLAGS_ALL;
		x->modseq = ms;
		x->has_status = true;
	}
	if (k < 0)
		rc = k == -1 ? mbi_err_sys(e, MB_FATAL, errno, s->status_path,
					   "cannot read mix status") :
			       file_damage(b, s->status_path, off, e,
					   "Error in mix status file message "
					   "record");
out:
	free(r);
	return rc;
}

/* Metadata, index and status, under the index lock the caller holds. */
static int
read_all(struct mb_box *b, struct mix_state *s, bool adopt, struct mb_err *e)
{
	int rc;

	if ((rc = read_meta(b, s, adopt, e)) != MB_OK)
		return rc;
	if ((rc = read_index(b, s, &s->l, e)) != MB_OK)
		return rc;
	return read_status(b, s, &s->l, e);
}

/* ------------------------------------------------------------------ */
/* Locks                                                                */

static int
lock_files(struct mb_box *b, struct mix_state *s, int op, struct mb_err *e)
{
	int rc;

	rc = mbi_flock(s->ifd, op, b->ctx->lock_timeout, s->index_path, e);
	if (rc != MB_OK)
		return rc;
	rc = mbi_flock(s->sfd, op, b->ctx->lock_timeout, s->status_path, e);
	if (rc != MB_OK)
		flock(s->ifd, LOCK_UN);
	return rc;
}

static void
unlock_files(struct mix_state *s)
{
	flock(s->sfd, LOCK_UN);
	flock(s->ifd, LOCK_UN);
	s->locked_ex = false;
}

/* Under the exclusive locks, before reading: finish the rewrites of
 * index, status and metadata that a killed writer left half done. */
static int
recover_files(struct mix_state *s, struct mb_err *e)
{
	bool redone;
	int rc;

	rc = mbi_rewrite_recover(s->index_path, s->ifd, &redone, e);
	if (rc == MB_OK)
		rc = mbi_rewrite_recover(s->status_path, s->sfd, &redone, e);
	if (rc == MB_OK)
		rc = mbi_rewrite_recover(s->meta_path, s->mfd, &redone, e);
	return rc;
}

/* Take index and status exclusively, finish a rewrite a killed writer
 * left, and read everything again. */
static int
lock_for_update(struct mb_box *b, struct mix_state *s, struct mix_list *l,
		struct mb_err *e)
{
	int rc;

	if (s->locked_ex)
		return MB_OK;
	if ((rc = lock_files(b, s, LOCK_EX, e)) != MB_OK)
		return rc;
	s->locked_ex = true;
	rc = recover_files(s, e);
	if (rc == MB_OK)
		rc = read_meta(b, s, false, e);
	if (rc == MB_OK)
		rc = read_index(b, s, l, e);
	if (rc == MB_OK)
		rc = read_status(b, s, l, e);
	if (rc != MB_OK)
		unlock_files(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Messages                                                             */

/* Open data file n for reading (caller closes), with its size. */
static int
open_data(struct mb_box *b, struct mix_state *s, uint32_t file, int flags,
	  int64_t *size)
{
	char path[PATH_MAX + 16];
	struct stat st;
	int fd;

	data_name(path, sizeof(path), s->dir, file);
	fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd >= 0 && fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	if (fd >= 0 && size != NULL)
		*size = st.st_size;
	return fd;
}

/*
 * Check x against its data file: the file exists, holds the record and
 * text, and the record line names the same UID, date and size.  Returns
 * NULL when fine, else the problem (and *off the data-file offset).
 */
static const char *
verify_ent(struct mb_box *b, struct mix_state *s, const struct mix_ent *x,
	   char *why, size_t wsize)
{
	char rec[128], want[128], date[32];
	int n;

	if (s->cfd < 0 || s->cfile != x->file) {
		if (s->cfd >= 0)
			close(s->cfd);
		s->cfile = x->file;
		s->cfd = open_data(b, s, x->file, O_RDONLY, &s->csize);
		if (s->cfd < 0) {
			char path[PATH_MAX + 16];

			data_name(path, sizeof(path), s->dir, x->file);
			snprintf(why, wsize, "data file %s: %s",
				 strrchr(path, '/') + 1, strerror(errno));
			return why;
		}
	}
	if ((int64_t)x->pos + x->isize + x->size > s->csize) {
		struct stat st;

		/* another process appended to the data file since we
		 * opened it (a new message mb_poll found): its size now */
		if (fstat(s->cfd, &st) == 0 && st.st_size > s->csize)
			s->csize = st.st_size;
	}
	if ((int64_t)x->pos + x->isize + x->size > s->csize) {
		snprintf(why, wsize,
			 "message runs past the end of data file .mix%08x "
			 "(%llu > %lld)",
			 x->file,
			 (unsigned long long)x->pos + x->isize + x->size,
			 (long long)s->csize);
		return why;
	}
	if (x->hsize > x->size) {
		snprintf(why, wsize,
			 "header size %08x exceeds message size %08x", x->hsize,
			 x->size);
		return why;
	}
	date_fmt(date, sizeof(date), x->idate, x->tz);
	n = snprintf(want, sizeof(want), MSGTOK "%08x:%s:%08x:\r\n", x->uid,
		     date, x->size);
	if (x->isize > sizeof(rec) - 1 ||
	    mbi_pread_full(s->cfd, rec, x->isize, x->pos) !=
		    (ssize_t)x->isize) {
		snprintf(why, wsize, "cannot read message record in .mix%08x",
			 x->file);
		return why;
	}
	if ((int)x->isize != n || strncasecmp(rec, want, (size_t)n) != 0) {
		char shown[sizeof(rec)];
		uint32_t i;

		for (i = 0; i < x->isize && i < sizeof(rec) - 1; i++)
			shown[i] =
				rec[i] < 0x20 || rec[i] == 0x7f ? '.' : rec[i];
		shown[i] = '\0';
		snprintf(why, wsize,
			 "message record at %u in .mix%08x does not match the "
			 "index: '%s'",
			 x->pos, x->file, shown);
		return why;
	}
	return NULL;
}

static void
ent_to_msg(const struct mix_ent *x, struct mb_msg *m)
{
	m->uid = x->uid;
	m->flags = x->flags;
	m->keywords = x->kw;
	m->idate = x->idate;
	m->idate_tz = x->tz;
	m->offset = x->pos;
	m->size = (int64_t)x->isize + x->size;
	m->text_offset = (int64_t)x->pos + x->isize;
	m->text_size = x->size;
	m->modseq = x->modseq;
}

static int
mix_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e)
{
	struct mix_state *s = state(b);
	char why[512], path[PATH_MAX + 16];
	const struct mix_ent *x;
	uint32_t msgno;

	while (s->next < s->l.n && s->l.v[s->next].uid <= s->reported_uid)
		s->next++;
	if (s->next >= s->l.n)
		return MB_END;
	x = &s->l.v[s->next++];
	s->reported_uid = x->uid;
	msgno = b->nmsgs + 1;
	if (x->uid > b->uidlast) {
		diag_at(b, MB_DIAG_DAMAGE, "mix-uid", s->index_path, x->ixoff,
			msgno, x->uid,
			"UID %08x is above the last UID %08x of .mixmeta",
			x->uid, b->uidlast);
		b->uids_broken = true;
	}
	if (!x->has_status && (b->mode & MB_CHECK))
		diag_at(b, MB_DIAG_WARN, "mix-no-status", s->index_path,
			x->ixoff, msgno, x->uid,
			"message has no record in .mixstatus");
	if (b->nkw < 32 && (x->kw >> b->nkw) != 0)
		diag_at(b, MB_DIAG_WARN, "undeclared-keyword", s->status_path,
			-1, msgno, x->uid,
			"keyword bits %08x name no declared keyword",
			x->kw & ~((1u << b->nkw) - 1));
	if (verify_ent(b, s, x, why, sizeof(why)) != NULL) {
		data_name(path, sizeof(path), s->dir, x->file);
		diag_at(b, MB_DIAG_DAMAGE, "mix-message", s->index_path,
			x->ixoff, msgno, x->uid, "message %u (UID %08x): %s",
			msgno, x->uid, why);
		if (b->mode & MB_CHECK)
			return mix_next(b, out, e);
		mbi_err(e, MB_FAILED, MB_EFORMAT, s->index_path, x->ixoff,
			"message %u (UID %08x): %s", msgno, x->uid, why);
		e->uid = x->uid;
		return MB_FAILED;
	}
	ent_to_msg(x, out);
	if (b->nkw < 32)
		out->keywords &= (1u << b->nkw) - 1;
	if ((uint64_t)x->modseq > b->highest_modseq)
		b->highest_modseq = x->modseq;
	mbi_progress(b, s->next, s->l.n);
	return MB_OK;
}

/* A reader that owns the data file's descriptor. */
struct mix_reader {
	struct mb_reader r;
	int fd;
	int64_t off, len, at;
};

static ssize_t
mr_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	struct mix_reader *m = (struct mix_reader *)r;
	ssize_t n;

	if (m->at >= m->len)
		return 0;
	if ((int64_t)len > m->len - m->at)
		len = (size_t)(m->len - m->at);
	n = mbi_pread_full(m->fd, buf, len, m->off + m->at);
	if (n < 0) {
		mbi_err_sys(e, MB_FAILED, errno, NULL, "cannot read message");
		return -1;
	}
	if (n == 0) {
		mbi_err(e, MB_FAILED, MB_ECHANGED, NULL, m->off + m->at,
			"data file shrank");
		return -1;
	}
	m->at += n;
	return n;
}

static int
mr_rewind(struct mb_reader *r, struct mb_err *e)
{
	((struct mix_reader *)r)->at = 0;
	return MB_OK;
}

static void
mr_close(struct mb_reader *r)
{
	struct mix_reader *m = (struct mix_reader *)r;

	close(m->fd);
	free(m);
}

static struct mix_ent *
find_msg(struct mix_state *s, const struct mb_msg *m)
{
	return list_find(&s->l, m->uid);
}

static int
mix_msg_open(struct mb_box *b, const struct mb_msg *m, struct mb_reader **out,
	     struct mb_err *e)
{
	struct mix_state *s = state(b);
	struct mix_ent *x = find_msg(s, m);
	struct mix_reader *r;
	char why[512];
	int64_t size;

	if (x == NULL)
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "no such message (UID %u)", m->uid);
	if (verify_ent(b, s, x, why, sizeof(why)) != NULL)
		return mbi_err(e, MB_FAILED, MB_EFORMAT, s->index_path,
			       x->ixoff, "UID %08x: %s", x->uid, why);
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	r->fd = open_data(b, s, x->file, O_RDONLY, &size);
	if (r->fd < 0) {
		free(r);
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot open data file .mix%08x", x->file);
	}
	r->off = (int64_t)x->pos + x->isize;
	r->len = x->size;
	r->r.read = mr_read;
	r->r.rewind = mr_rewind;
	r->r.close = mr_close;
	r->r.size = x->size;
	*out = &r->r;
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Open, create, close                                                  */

static void mix_close(struct mb_box *b);

static int
alloc_state(struct mb_box *b, struct mb_err *e)
{
	struct mix_state *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	s->mfd = s->ifd = s->sfd = s->cfd = s->wfd = s->spfd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", b->path);
	snprintf(s->meta_path, sizeof(s->meta_path), "%s/.mixmeta", b->path);
	snprintf(s->index_path, sizeof(s->index_path), "%s/.mixindex", b->path);
	snprintf(s->status_path, sizeof(s->status_path), "%s/.mixstatus",
		 b->path);
	b->priv = s;
	return MB_OK;
}

static int
open_files(struct mb_box *b, struct mix_state *s, bool rw, struct mb_err *e)
{
	int fl = (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
	struct stat st;

	s->mfd = open(s->meta_path, fl);
	if (s->mfd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, s->meta_path,
				   "cannot open mix metadata");
	if (fstat(s->mfd, &st) < 0 || !S_ISREG(st.st_mode))
		return mbi_err(e, MB_FAILED, MB_EFORMAT, s->meta_path, -1,
			       "not a regular file");
	s->ifd = open(s->index_path, fl);
	if (s->ifd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, s->index_path,
				   "cannot open mix index");
	s->sfd = open(s->status_path, fl);
	if (s->sfd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, s->status_path,
				   "cannot open mix status");
	return MB_OK;
}

static int
mix_open(struct mb_box *b, struct mb_err *e)
{
	struct mix_state *s;
	bool rw = (b->mode & MB_RDWR) != 0;
	int rc;

	if ((rc = alloc_state(b, e)) != MB_OK)
		return rc;
	s = state(b);
	if ((rc = open_files(b, s, rw, e)) != MB_OK)
		goto fail;
	if (!(b->mode & MB_NOLOCK)) {
		rc = mbi_flock(s->mfd, LOCK_SH, b->ctx->lock_timeout,
			       s->meta_path, e);
		if (rc != MB_OK)
			goto fail;
		s->meta_sh = true;
		if ((rc = lock_files(b, s, rw ? LOCK_EX : LOCK_SH, e)) != MB_OK)
			goto fail;
		/* a writer finishes the rewrite a killed writer left half
		 * done before it reads the files */
		if (rw && (rc = recover_files(s, e)) != MB_OK) {
			unlock_files(s);
			goto fail;
		}
	}
	rc = read_all(b, s, true, e);
	if (!(b->mode & MB_NOLOCK))
		unlock_files(s);
	if (rc != MB_OK)
		goto fail;
	return MB_OK;
fail:
	mix_close(b);
	return rc;
}

static int
write_file(const char *path, int fd, const char *p, size_t n, struct mb_err *e)
{
	int rc = mbi_write_all(fd, p, n, path, e);

	if (rc == MB_OK && fsync(fd) < 0)
		rc = mbi_err_sys(e, MB_FAILED, errno, path,
				 "cannot write to disk");
	return rc;
}

/* A data file name: ".mix" and 8 hex digits, or ".mix" alone. */
static bool
data_file_num(const char *name, uint32_t *num)
{
	const char *p = name + 4;
	int i;

	if (strncmp(name, ".mix", 4) != 0)
		return false;
	if (*p == '\0') {
		*num = 0;
		return true;
	}
	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)p[i]))
			return false;
	if (p[8] != '\0')
		return false;
	*num = (uint32_t)strtoul(p, NULL, 16);
	return true;
}

/* Remove a mix mailbox's files (and the directory when that empties
 * it: child mailboxes stay). */
static int
remove_files(const char *dir)
{
	static const char *const fixed[] = { ".mixmeta", ".mixindex",
					     ".mixstatus", ".mixsortcache" };
	char path[PATH_MAX + 300];
	struct dirent *d;
	uint32_t num;
	DIR *dp;
	size_t i;

	if ((dp = opendir(dir)) != NULL) {
		while ((d = readdir(dp)) != NULL) {
			if (!data_file_num(d->d_name, &num))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
			unlink(path);
		}
		closedir(dp);
	}
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, fixed[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			return -1;
	}
	if (rmdir(dir) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		return -1;
	return 0;
}

static int
mix_create(struct mb_box *b, struct mb_err *e)
{
	struct mix_state *s;
	char buf[128], path[PATH_MAX + 16];
	uint32_t now = (uint32_t)time(NULL);
	int rc, fd, n;

	if ((rc = alloc_state(b, e)) != MB_OK)
		return rc;
	s = state(b);
	if (mkdir(b->path, 0700) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->final_path,
				 "cannot create mailbox");
		free(s);
		b->priv = NULL;
		return rc;
	}
	/* as `mailutil create #driver.mix/x`: an empty data file named by
	 * the time, empty index and status, and the metadata */
	data_name(path, sizeof(path), s->dir, now);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0 || fsync(fd) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, path,
				 "cannot create data file");
		goto fail;
	}
	close(fd);
	fd = open(s->index_path,
		  O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fsync(fd) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, s->index_path,
				 "cannot create mix index");
		goto fail;
	}
	s->ifd = fd;
	fd = open(s->status_path,
		  O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fsync(fd) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, s->status_path,
				 "cannot create mix status");
		goto fail;
	}
	s->sfd = fd;
	fd = open(s->meta_path,
		  O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, s->meta_path,
				 "cannot create mix metadata");
		goto fail;
	}
	s->mfd = fd;
	n = snprintf(buf, sizeof(buf), "S%08x\r\nV%08x\r\nL%08x\r\nN%08x\r\n",
		     now, now, 0u, now);
	if ((rc = write_file(s->meta_path, fd, buf, (size_t)n, e)) != MB_OK)
		goto fail;
	if ((rc = mbi_fsync_dir(s->meta_path, e)) != MB_OK)
		goto fail;
	if (!b->creating && (rc = mbi_fsync_dir(b->path, e)) != MB_OK)
		goto fail;
	if (flock(s->mfd, LOCK_SH) == 0)
		s->meta_sh = true;
	s->metaseq = now;
	s->newmsg = now;
	s->meta_v = now;
	b->uidvalidity = now;
	b->uidlast = 0;
	s->created = true;
	return MB_OK;
fail:
	mix_close(b);
	if (!b->creating)
		remove_files(b->path);
	return rc;
}

static void
mix_close(struct mb_box *b)
{
	struct mix_state *s = state(b);

	if (s == NULL)
		return;
	if (s->wb_init)
		mbi_wbuf_free(&s->wb);
	free(s->spmem);
	s->spmem = NULL;
	if (s->spfd >= 0)
		close(s->spfd);
	s->spfd = -1;
	if (s->appending && s->wfd >= 0) {
		/* appends never committed: take their bytes back */
		if (ftruncate(s->wfd, s->wsize0) == 0)
			fsync(s->wfd);
	}
	if (s->wfd >= 0)
		close(s->wfd);
	if (s->cfd >= 0)
		close(s->cfd);
	if (s->locked_ex)
		unlock_files(s);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->ifd >= 0)
		close(s->ifd);
	if (s->mfd >= 0)
		close(s->mfd); /* drops the session lock */
	free(s->l.v);
	free(s->app.v);
	free(s);
	b->priv = NULL;
}

/* ------------------------------------------------------------------ */
/* Following other processes                                            */

/*
 * Make fresh (just read from the files) the index: our pending flag
 * changes stay on top of it.  Returns false when a message we reported
 * is gone (expunged by another process).
 */
static bool
adopt_fresh(struct mb_box *b, struct mix_state *s, struct mix_list *fresh)
{
	bool all_there = true;
	uint32_t i;

	for (i = 0; i < s->l.n; i++) {
		struct mix_ent *o = &s->l.v[i], *x = list_find(fresh, o->uid);

		if (x == NULL) {
			if (o->uid <= s->reported_uid)
				all_there = false;
			continue;
		}
		if (o->dirty) {
			x->flags = o->flags;
			x->kw = o->kw;
			x->dirty = true;
		}
	}
	free(s->l.v);
	s->l = *fresh;
	memset(fresh, 0, sizeof(*fresh));
	s->next = 0;
	if (s->l.n > 0 && s->l.v[s->l.n - 1].uid > s->reported_uid)
		b->scanned = false;
	return all_there;
}

/* Under the exclusive locks: read everything again, keep our changes. */
static int
refresh_locked(struct mb_box *b, struct mix_state *s, struct mb_err *e)
{
	struct mix_list fresh = { 0 };
	int rc;

	if (s->locked_ex)
		return MB_OK;
	rc = lock_for_update(b, s, &fresh, e);
	if (rc == MB_OK)
		adopt_fresh(b, s, &fresh);
	free(fresh.v);
	return rc;
}

static int
mix_poll(struct mb_box *b, bool *changed, struct mb_err *e)
{
	struct mix_state *s = state(b);
	struct mix_list fresh = { 0 };
	uint32_t ms = s->metaseq, is = s->indexseq, ss = s->statusseq, i;
	int rc;

	if (s->locked_ex)
		return MB_OK; /* we are the writer */
	if ((rc = lock_files(b, s, LOCK_SH, e)) != MB_OK)
		return rc;
	rc = read_meta(b, s, false, e);
	if (rc == MB_OK)
		rc = read_index(b, s, &fresh, e);
	if (rc == MB_OK)
		rc = read_status(b, s, &fresh, e);
	unlock_files(s);
	if (rc != MB_OK) {
		free(fresh.v);
		return rc;
	}
	if (ms == s->metaseq && is == s->indexseq && ss == s->statusseq) {
		free(fresh.v);
		return MB_OK;
	}
	/* flags others changed, onto the messages the core holds */
	if (!(b->mode & MB_STREAM))
		for (i = 0; i < b->nmsgs; i++) {
			struct mb_msg *m = &b->msgs[i];
			struct mix_ent *x = list_find(&fresh, m->uid);
			struct mix_ent *o = list_find(&s->l, m->uid);

			if (x == NULL || (o != NULL && o->dirty))
				continue;
			if (m->flags != x->flags || m->keywords != x->kw) {
				m->flags = x->flags;
				m->keywords = x->kw;
				*changed = true;
			}
		}
	if (!adopt_fresh(b, s, &fresh)) {
		free(fresh.v);
		return mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, -1,
			       "messages were expunged by another process");
	}
	free(fresh.v);
	if (!b->scanned)
		*changed = true;
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Appending                                                            */

/* A new, empty data file named by a fresh sequence number. */
static int
new_data_file(struct mb_box *b, struct mix_state *s, struct mb_err *e)
{
	char path[PATH_MAX + 16];
	uint32_t num = new_seq(s->newmsg > s->metaseq ? s->newmsg : s->metaseq);
	int fd = -1, i;

	for (i = 0; i < 1000; i++, num++) {
		data_name(path, sizeof(path), s->dir, num);
		fd = open(path,
			  O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			  0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot create data file");
	if (s->wfd >= 0)
		close(s->wfd);
	s->wfd = fd;
	s->wfile = num;
	s->wsize0 = 0;
	s->newmsg = num;
	return MB_OK;
}

/* First append: the exclusive locks until commit, the current data file
 * opened at its end. */
static int
start_append(struct mb_box *b, struct mix_state *s, struct mb_err *e)
{
	int64_t size = 0;
	int rc;

	if (s->appending)
		return MB_OK;
	if (b->mode & MB_STREAM)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "cannot append to a streaming mix box");
	if ((rc = refresh_locked(b, s, e)) != MB_OK)
		return rc;
	if (s->wfd < 0 || s->wfile != s->newmsg) {
		if (s->wfd >= 0)
			close(s->wfd);
		s->wfile = s->newmsg;
		s->wfd = open_data(b, s, s->newmsg, O_RDWR, &size);
		if (s->wfd < 0 && errno == ENOENT)
			rc = new_data_file(b, s, e);
		else if (s->wfd < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot open data file .mix%08x",
					 s->newmsg);
		else
			s->wsize0 = size;
	} else {
		struct stat st;

		if (fstat(s->wfd, &st) < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot stat data file");
		else
			s->wsize0 = st.st_size;
	}
	if (rc == MB_OK)
		rc = mbi_wbuf_init(&s->wb, s->wfd, b->path, s->wsize0, e);
	if (rc != MB_OK) {
		unlock_files(s);
		return rc;
	}
	s->wb_init = true;
	s->appending = true;
	if (s->wprev_uid < b->uidlast && !s->created)
		s->wprev_uid = b->uidlast;
	return MB_OK;
}

/* The source's text, CRLF: counted (count_only) or written; *hsize gets
 * the header size, blank line included. */
/* Add n bytes to the spool: memory first, a temporary file past
 * SPOOL_MEM (made once, unlinked, reused). */
static int
spool_put(struct mb_box *b, struct mix_state *s, const char *p, size_t n,
	  struct mb_err *e)
{
	if (!s->spfile && s->splen + n <= SPOOL_MEM) {
		if (s->spmem == NULL && (s->spmem = malloc(SPOOL_MEM)) == NULL)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		memcpy(s->spmem + s->splen, p, n);
		s->splen += n;
		return MB_OK;
	}
	if (s->spfd < 0) {
		s->spfd = mb_tmpfile(".mix-append", "a temporary file", e);
		if (s->spfd < 0)
			return MB_FAILED;
	}
	if (!s->spfile) {
		/* spill: what memory holds goes first */
		if (lseek(s->spfd, 0, SEEK_SET) < 0)
			return mbi_err_sys(e, MB_FAILED, errno, b->path,
					   "cannot rewind temporary file");
		if (s->splen > 0 && mbi_write_all(s->spfd, s->spmem, s->splen,
						  "spool", e) != MB_OK)
			return MB_FAILED;
		s->spfile = true;
	}
	if (mbi_write_all(s->spfd, p, n, "spool", e) != MB_OK)
		return MB_FAILED;
	s->splen += n;
	return MB_OK;
}

static int
convert_text(struct mb_box *b, struct mix_state *s, struct mb_reader *src,
	     bool spool, bool count_only, int64_t *size, int64_t *hsize,
	     struct mb_err *e)
{
	char *in = malloc(CHUNK), *out = malloc(2 * CHUNK);
	int state_nl = 1; /* 1: at a line start, after the previous LF */
	bool prev_cr = false;
	int rc = MB_OK;
	ssize_t n, i;
	size_t o;

	*size = 0;
	*hsize = -1;
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
		if (n == 0)
			break;
		for (i = 0, o = 0; i < n; i++) {
			char c = in[i];

			if (c == '\n' && !prev_cr)
				out[o++] = '\r';
			out[o++] = c;
			prev_cr = c == '\r';
			if (*hsize < 0) {
				if (c == '\n') {
					if (state_nl)
						*hsize = *size + (int64_t)o;
					state_nl = 1;
				} else if (c != '\r') {
					state_nl = 0;
				}
			}
		}
		*size += (int64_t)o;
		if (count_only)
			continue;
		rc = spool ? spool_put(b, s, out, o, e) :
			     mbi_wbuf_put(&s->wb, out, o, e);
		if (rc != MB_OK)
			break;
	}
	if (*hsize < 0)
		*hsize = *size;
	free(in);
	free(out);
	return rc;
}

static int
spool_out(struct mb_box *b, struct mix_state *s, int64_t len, struct mb_err *e)
{
	char *buf;
	int64_t off = 0;
	int fd = s->spfd;
	int rc = MB_OK;

	if (!s->spfile)
		return (int64_t)s->splen == len ?
			       (s->splen == 0 ? MB_OK :
						mbi_wbuf_put(&s->wb, s->spmem,
							     s->splen, e)) :
			       mbi_err(e, MB_FAILED, MB_ECHANGED, b->path, -1,
				       "the message changed while it was "
				       "copied");
	if ((buf = malloc(CHUNK)) == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	while (off < len && rc == MB_OK) {
		size_t k = len - off < CHUNK ? (size_t)(len - off) : CHUNK;

		if (mbi_pread_full(fd, buf, k, off) != (ssize_t)k)
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot read temporary file");
		else
			rc = mbi_wbuf_put(&s->wb, buf, k, e);
		off += (int64_t)k;
	}
	free(buf);
	return rc;
}

static bool
kw_storable(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= MAXUSERFLAG && strpbrk(name, " \r\n") == NULL;
}

static uint32_t
map_keywords(struct mb_box *b, const struct mb_newmsg *meta)
{
	uint32_t kw = 0;
	size_t i;

	for (i = 0; i < meta->nkeywords; i++) {
		const char *name = meta->keywords[i];
		int k = mbi_kw_find(b, name, strlen(name));

		if (k < 0 && kw_storable(name) && b->nkw < NUSERFLAGS)
			k = mbi_kw_add(b, name, strlen(name));
		if (k >= 0 && k < NUSERFLAGS) {
			kw |= 1u << k;
			continue;
		}
		mbi_diag(b, MB_DIAG_WARN, "keyword-dropped", -1, 0, meta->uid,
			 "keyword '%s' cannot be stored (a mix mailbox names "
			 "at most %d keywords of up to %d bytes, no spaces)",
			 name, NUSERFLAGS, MAXUSERFLAG);
	}
	return kw;
}

static int
mix_append(struct mb_box *b, const struct mb_newmsg *meta,
	   struct mb_reader *src, uint32_t *uid_out, struct mb_err *e)
{
	struct mix_state *s = state(b);
	char date[32], line[128];
	int64_t size, hsize, start;
	int64_t t = meta->idate >= 0 ? meta->idate : (int64_t)time(NULL);
	int tz = meta->idate >= 0 ? meta->idate_tz : 0;
	uint32_t uid, uidlast = b->uidlast;
	bool renumbered = false;
	struct mix_ent x;
	bool spool = src->rewind == NULL;
	int rc, n;

	if ((rc = start_append(b, s, e)) != MB_OK)
		return rc;
	if (!spool) {
		rc = convert_text(b, s, src, false, true, &size, &hsize, e);
		if (rc == MB_OK)
			rc = mb_reader_rewind(src, e);
	} else {
		s->splen = 0;
		s->spfile = false;
		rc = convert_text(b, s, src, true, false, &size, &hsize, e);
	}
	if (rc != MB_OK)
		goto out;
	if (size > 0xffffffffLL) {
		rc = mbi_err(e, MB_FAILED, MB_ELIMIT, b->path, -1,
			     "message too large for a mix mailbox");
		goto out;
	}
	/* UIDs: a new mailbox keeps ascending ones it is given */
	if (s->created && meta->uid != 0 && meta->uid > s->wprev_uid) {
		uid = meta->uid;
	} else {
		renumbered = s->created && meta->uid != 0;
		uid = (uidlast > s->wprev_uid ? uidlast : s->wprev_uid) + 1;
	}
	if (uid > uidlast)
		uidlast = uid;
	date_fmt(date, sizeof(date), t, tz);
	n = snprintf(line, sizeof(line), MSGTOK "%08x:%s:%08x:\r\n", uid, date,
		     (uint32_t)size);
	/* past the roll size: a new data file, as UW */
	if (s->wb.pos > 0 && s->wb.pos + n + size > DATAROLL) {
		if ((rc = mbi_wbuf_flush(&s->wb, e)) != MB_OK)
			goto out;
		if (fsync(s->wfd) < 0) {
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot write data file to disk");
			goto out;
		}
		mbi_wbuf_free(&s->wb);
		s->wb_init = false;
		if ((rc = new_data_file(b, s, e)) != MB_OK)
			goto out;
		if ((rc = mbi_wbuf_init(&s->wb, s->wfd, b->path, 0, e)) !=
		    MB_OK)
			goto out;
		s->wb_init = true;
	}
	start = s->wb.pos;
	rc = mbi_wbuf_put(&s->wb, line, (size_t)n, e);
	if (rc == MB_OK)
		rc = !spool ? convert_text(b, s, src, false, false, &size,
					   &hsize, e) :
			      spool_out(b, s, size, e);
	if (rc == MB_OK && s->wb.pos != start + n + size)
		rc = mbi_err(e, MB_FAILED, MB_ECHANGED, b->path, -1,
			     "the message changed while it was copied");
	if (rc != MB_OK) {
		/* leave no part of it */
		if (s->wb.pos - (int64_t)s->wb.len <= start) {
			s->wb.len -= (size_t)(s->wb.pos - start);
		} else {
			s->wb.len = 0;
			if (ftruncate(s->wfd, start) < 0)
				rc = MB_FATAL;
		}
		s->wb.pos = start;
		goto out;
	}
	memset(&x, 0, sizeof(x));
	x.uid = uid;
	x.idate = t;
	x.tz = tz;
	x.size = (uint32_t)size;
	x.file = s->wfile;
	x.pos = (uint32_t)start;
	x.isize = (uint32_t)n;
	x.hsize = (uint32_t)hsize;
	x.kw = map_keywords(b, meta);
	x.flags = meta->flags & MB_FLAGS_ALL;
	x.has_status = true;
	if ((rc = list_add(b, &s->app, &x, e)) != MB_OK)
		goto out;
	b->uidlast = uidlast;
	s->wprev_uid = uid;
	if (renumbered)
		s->renumbered = true;
	if (uid_out)
		*uid_out = uid;
out:
	return rc;
}

/* ------------------------------------------------------------------ */
/* Flags, UIDs                                                          */

static int
mix_set_flags(struct mb_box *b, struct mb_msg *m, unsigned flags, uint64_t kw,
	      struct mb_err *e)
{
	struct mix_state *s = state(b);
	struct mix_ent *x = find_msg(s, m);

	if (kw >> NUSERFLAGS)
		return mbi_err(e, MB_FAILED, MB_ELIMIT, b->path, -1,
			       "a mix mailbox names at most %d keywords",
			       NUSERFLAGS);
	if (x == NULL)
		return mbi_err(e, MB_FAILED, MB_ECHANGED, b->path, -1,
			       "message %u is no longer in the index", m->seq);
	x->flags = flags & MB_FLAGS_ALL;
	x->kw = (uint32_t)kw;
	x->dirty = true;
	s->flags_dirty = true;
	return MB_OK;
}

static int
mix_renumber(struct mb_box *b, struct mb_err *e)
{
	struct mix_state *s = state(b);

	if (s->appending)
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "commit the appends before renumbering");
	s->uids_dirty = true;
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Writing the three files                                              */

static int
rewrite_with(struct mb_box *b, const char *path, int fd, struct mbi_buf *sb,
	     struct mb_err *e)
{
	struct mbi_rewrite rw;
	int rc;

	if ((rc = mbi_rewrite_begin(path, fd, &rw, e)) != MB_OK)
		return rc;
	rc = mbi_wbuf_put(&rw.wb, sb->buf, sb->len, e);
	if (rc == MB_OK)
		rc = mbi_rewrite_commit(&rw, e);
	if (rc != MB_OK)
		mbi_rewrite_abort(&rw);
	return rc;
}

static int
write_index(struct mb_box *b, struct mix_state *s, struct mb_err *e)
{
	struct mbi_buf sb;
	char date[32];
	uint32_t i, seq = new_seq(s->indexseq);
	int rc = MB_OK;

	mbi_buf_init(&sb);
	if (mbi_buf_addf(&sb, "S%08x\r\n", seq) < 0)
		rc = MB_FATAL;
	for (i = 0; rc == MB_OK && i < s->l.n; i++) {
		const struct mix_ent *x = &s->l.v[i];

		date_fmt(date, sizeof(date), x->idate, x->tz);
		if (mbi_buf_addf(&sb, ":%08x:%s:%08x:%08x:%08x:%08x:%08x:\r\n",
				 x->uid, date, x->size, x->file, x->pos,
				 x->isize, x->hsize) < 0)
			rc = MB_FATAL;
	}
	if (rc != MB_OK)
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			     "out of memory");
	else
		rc = rewrite_with(b, s->index_path, s->ifd, &sb, e);
	mbi_buf_free(&sb);
	if (rc == MB_OK)
		s->indexseq = seq;
	return rc;
}

/* The dirty entries get a new modseq: the status file's sequence. */
static int
write_status(struct mb_box *b, struct mix_state *s, struct mb_err *e)
{
	struct mbi_buf sb;
	uint32_t i, seq = new_seq(s->statusseq);
	int rc = MB_OK;

	mbi_buf_init(&sb);
	if (mbi_buf_addf(&sb, "S%08x\r\n", seq) < 0)
		rc = MB_FATAL;
	for (i = 0; rc == MB_OK && i < s->l.n; i++) {
		struct mix_ent *x = &s->l.v[i];
		uint32_t ms = x->dirty || !x->has_status ? seq : x->modseq;

		if (mbi_buf_addf(&sb, ":%08x:%08x:%04x:%08x:\r\n", x->uid,
				 x->kw, x->flags & 0xffff, ms) < 0)
			rc = MB_FATAL;
	}
	if (rc != MB_OK)
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			     "out of memory");
	else
		rc = rewrite_with(b, s->status_path, s->sfd, &sb, e);
	mbi_buf_free(&sb);
	if (rc != MB_OK)
		return rc;
	s->statusseq = seq;
	for (i = 0; i < s->l.n; i++) {
		struct mix_ent *x = &s->l.v[i];

		if (x->dirty || !x->has_status)
			x->modseq = seq;
		x->dirty = false;
		x->has_status = true;
		if ((uint64_t)x->modseq > b->highest_modseq)
			b->highest_modseq = x->modseq;
	}
	s->flags_dirty = false;
	return MB_OK;
}

static int
write_meta(struct mb_box *b, struct mix_state *s, struct mb_err *e)
{
	struct mbi_buf sb;
	uint32_t seq = new_seq(s->metaseq);
	unsigned i, nkw = b->nkw < NUSERFLAGS ? b->nkw : NUSERFLAGS;
	int rc = MB_OK;

	mbi_buf_init(&sb);
	if (mbi_buf_addf(&sb, "S%08x\r\nV%08x\r\nL%08x\r\nN%08x\r\n", seq,
			 b->uidvalidity, b->uidlast, s->newmsg) < 0)
		rc = MB_FATAL;
	for (i = 0; rc == MB_OK && i < nkw; i++)
		if (mbi_buf_addf(&sb, "%c%s", i ? ' ' : 'K', b->kw[i]) < 0)
			rc = MB_FATAL;
	if (rc == MB_OK && nkw > 0 && mbi_buf_addstr(&sb, "\r\n") < 0)
		rc = MB_FATAL;
	if (rc != MB_OK)
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			     "out of memory");
	else
		rc = rewrite_with(b, s->meta_path, s->mfd, &sb, e);
	mbi_buf_free(&sb);
	if (rc == MB_OK) {
		s->metaseq = seq;
		s->meta_nkw = nkw;
		s->meta_v = b->uidvalidity;
		s->meta_l = b->uidlast;
	}
	return rc;
}

/* renumber(): the UID in every message's record line. */
static int
write_record_uids(struct mb_box *b, struct mix_state *s, struct mb_err *e)
{
	char buf[16];
	uint32_t i;
	int rc = MB_OK, fd = -1;
	uint32_t file = 0;

	if (s->l.n != b->nmsgs)
		return mbi_err(e, MB_FAILED, MB_ECHANGED, b->path, -1,
			       "the mailbox changed since it was read");
	for (i = 0; i < s->l.n && rc == MB_OK; i++) {
		struct mix_ent *x = &s->l.v[i];

		if (fd < 0 || file != x->file) {
			if (fd >= 0 && fsync(fd) < 0)
				rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
						 "cannot write data file");
			if (fd >= 0)
				close(fd);
			file = x->file;
			fd = open_data(b, s, file, O_RDWR, NULL);
			if (fd < 0) {
				rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
						 "cannot open data file");
				break;
			}
		}
		if (rc != MB_OK)
			break;
		snprintf(buf, sizeof(buf), "%08x", b->msgs[i].uid);
		rc = mbi_pwrite_all(fd, buf, 8, (int64_t)x->pos + 5, b->path,
				    e);
		x->uid = b->msgs[i].uid;
		x->dirty = true; /* a new modseq in the status */
	}
	if (fd >= 0) {
		if (rc == MB_OK && fsync(fd) < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot write data file");
		close(fd);
	}
	if (rc == MB_OK)
		s->reported_uid = s->l.n ? s->l.v[s->l.n - 1].uid : 0;
	return rc;
}

static int
mix_commit(struct mb_box *b, struct mb_err *e)
{
	struct mix_state *s = state(b);
	bool index = false, meta;
	uint32_t i;
	int rc;

	if (!s->appending && !s->flags_dirty && !s->uids_dirty &&
	    b->nkw <= s->meta_nkw && b->uidvalidity == s->meta_v &&
	    b->uidlast == s->meta_l)
		return MB_OK;
	if ((rc = refresh_locked(b, s, e)) != MB_OK)
		return rc;
	if (s->wb_init) {
		if ((rc = mbi_wbuf_flush(&s->wb, e)) != MB_OK)
			goto out;
		if (fsync(s->wfd) < 0) {
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot write data file to disk");
			goto out;
		}
	}
	if (s->uids_dirty) {
		if ((rc = write_record_uids(b, s, e)) != MB_OK)
			goto out;
		index = true;
	}
	if (s->created && s->renumbered) {
		/* the kept UIDs are not the source's: a new validity */
		uint32_t v = (uint32_t)time(NULL);

		b->uidvalidity = v > b->uidvalidity ? v : b->uidvalidity + 1;
	}
	for (i = 0; i < s->app.n; i++) {
		struct mix_ent x = s->app.v[i];

		x.dirty = true;
		if (s->l.n > 0 && x.uid <= s->l.v[s->l.n - 1].uid) {
			rc = mbi_err(e, MB_FATAL, MB_EINTERNAL, b->path, -1,
				     "appended UID %u out of order", x.uid);
			goto out;
		}
		if ((rc = list_add(b, &s->l, &x, e)) != MB_OK)
			goto out;
		s->reported_uid = x.uid;
		index = true;
	}
	s->app.n = 0;
	if (index && (rc = write_index(b, s, e)) != MB_OK)
		goto out;
	if ((index || s->flags_dirty) && (rc = write_status(b, s, e)) != MB_OK)
		goto out;
	meta = index || b->nkw != s->meta_nkw || b->uidvalidity != s->meta_v ||
	       b->uidlast != s->meta_l;
	if (meta && (rc = write_meta(b, s, e)) != MB_OK)
		goto out;
	s->uids_dirty = false;
	if (s->wb_init) {
		mbi_wbuf_free(&s->wb);
		s->wb_init = false;
	}
	s->appending = false;
	s->created = s->created && b->creating;
out:
	unlock_files(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Expunge and burp                                                     */

static int
cmp_file_pos(const void *a, const void *b)
{
	const struct mix_ent *x = *(const struct mix_ent *const *)a;
	const struct mix_ent *y = *(const struct mix_ent *const *)b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Copy len bytes at off of fd into w. */
static int
copy_range(struct mb_box *b, int fd, int64_t off, int64_t len,
	   struct mbi_wbuf *w, struct mb_err *e)
{
	char *buf = malloc(CHUNK);
	int rc = MB_OK;

	if (buf == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	while (len > 0 && rc == MB_OK) {
		size_t k = len < CHUNK ? (size_t)len : CHUNK;

		if (mbi_pread_full(fd, buf, k, off) != (ssize_t)k)
			rc = mbi_err(e, MB_FAILED, MB_ECHANGED, b->path, off,
				     "data file shrank during expunge");
		else
			rc = mbi_wbuf_put(w, buf, k, e);
		off += (int64_t)k;
		len -= (int64_t)k;
	}
	free(buf);
	return rc;
}

/*
 * With nobody else in the mailbox: every data file with holes gets its
 * kept messages copied to a new data file (fsynced); the entries of s->l
 * are moved onto it.  Old files to delete are listed in *gone.
 */
static int
burp_copy(struct mb_box *b, struct mix_state *s, uint32_t **gone,
	  uint32_t *ngone, struct mb_err *e)
{
	struct mix_ent **v = NULL;
	uint32_t i, j, n = s->l.n;
	int rc = MB_OK;

	*gone = NULL;
	*ngone = 0;
	if (n == 0)
		return MB_OK;
	v = mbi_reallocarray(NULL, n, sizeof(*v));
	*gone = mbi_reallocarray(NULL, n, sizeof(**gone));
	if (v == NULL || *gone == NULL) {
		free(v);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	}
	for (i = 0; i < n; i++)
		v[i] = &s->l.v[i];
	qsort(v, n, sizeof(*v), cmp_file_pos);
	for (i = 0; i < n && rc == MB_OK; i = j) {
		uint32_t file = v[i]->file, k, keep_n;
		int64_t expect = 0, fsize = 0;
		struct mbi_wbuf w;
		int fd, nfd = -1;

		for (j = i; j < n && v[j]->file == file; j++) {
			if (v[j]->pos != expect)
				expect = -1;
			if (expect >= 0)
				expect += (int64_t)v[j]->isize + v[j]->size;
		}
		fd = open_data(b, s, file, O_RDONLY, &fsize);
		if (fd < 0) {
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot open data file .mix%08x",
					 file);
			break;
		}
		if (expect == fsize) {
			close(fd); /* no holes */
			continue;
		}
		keep_n = s->newmsg;
		if ((rc = new_data_file(b, s, e)) != MB_OK) {
			close(fd);
			break;
		}
		nfd = s->wfd;
		s->wfd = -1;
		/* new appends go to the replacement only if this was N */
		if (file != keep_n)
			s->newmsg = keep_n;
		rc = mbi_wbuf_init(&w, nfd, b->path, 0, e);
		for (k = i; k < j && rc == MB_OK; k++) {
			int64_t len = (int64_t)v[k]->isize + v[k]->size;
			uint32_t npos = (uint32_t)w.pos;

			rc = copy_range(b, fd, v[k]->pos, len, &w, e);
			v[k]->pos = npos;
		}
		if (rc == MB_OK)
			rc = mbi_wbuf_flush(&w, e);
		if (rc == MB_OK && fsync(nfd) < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot write data file to disk");
		mbi_wbuf_free(&w);
		close(nfd);
		close(fd);
		for (k = i; k < j; k++)
			v[k]->file = s->wfile;
		(*gone)[(*ngone)++] = file;
	}
	free(v);
	return rc;
}

/*
 * After the index names only kept files: remove replaced data files and
 * any other data file nothing refers to; the current one (N) is emptied
 * instead, as UW does.
 */
static void
burp_remove(struct mb_box *b, struct mix_state *s)
{
	char path[PATH_MAX + 300];
	struct dirent *d;
	uint32_t num, i;
	DIR *dp;

	if ((dp = opendir(s->dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		bool used = false;

		if (!data_file_num(d->d_name, &num))
			continue;
		for (i = 0; i < s->l.n && !used; i++)
			used = s->l.v[i].file == num;
		if (used)
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->dir, d->d_name);
		if (num != s->newmsg)
			unlink(path);
		else if (truncate(path, 0) < 0)
			mbi_diag(b, MB_DIAG_WARN, "mix-burp", -1, 0, 0,
				 "cannot empty %s: %s", path, strerror(errno));
	}
	closedir(dp);
	mbi_fsync_dir(s->meta_path, NULL);
}

static int
mix_expunge(struct mb_box *b, uint32_t *expunged, struct mb_err *e)
{
	struct mix_state *s = state(b);
	uint32_t i, kept = 0, ndel = 0, ngone = 0, *gone = NULL;
	uint32_t old_newmsg;
	bool burp;
	int rc;

	*expunged = 0;
	if (b->mode & MB_STREAM)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "a streaming box cannot expunge");
	if (s->appending && (rc = mix_commit(b, e)) != MB_OK)
		return rc;
	for (i = 0; i < s->l.n; i++)
		if (s->l.v[i].flags & MB_DELETED)
			ndel++;
	if (ndel == 0)
		return MB_OK;
	if ((rc = refresh_locked(b, s, e)) != MB_OK)
		return rc;
	old_newmsg = s->newmsg;
	for (i = 0; i < s->l.n; i++) {
		if (s->l.v[i].flags & MB_DELETED)
			continue;
		s->l.v[kept++] = s->l.v[i];
	}
	s->l.n = kept;
	/* compact the data files only when nobody else has the mailbox
	 * open (UW's burp); else the bytes stay until a later expunge */
	burp = flock(s->mfd, LOCK_EX | LOCK_NB) == 0;
	if (burp && (rc = burp_copy(b, s, &gone, &ngone, e)) != MB_OK)
		goto out;
	if ((rc = write_index(b, s, e)) != MB_OK)
		goto out;
	if ((rc = write_status(b, s, e)) != MB_OK)
		goto out;
	if (s->newmsg != old_newmsg && (rc = write_meta(b, s, e)) != MB_OK)
		goto out;
	if (burp)
		burp_remove(b, s);
	/* the core's index: what is still in ours */
	kept = 0;
	if (!(b->mode & MB_STREAM)) {
		for (i = 0; i < b->nmsgs; i++) {
			struct mb_msg m = b->msgs[i];
			struct mix_ent *x = list_find(&s->l, m.uid);

			if (x == NULL)
				continue;
			ent_to_msg(x, &m);
			m.seq = ++kept;
			b->msgs[kept - 1] = m;
		}
		*expunged = b->nmsgs - kept;
		b->nmsgs = kept;
		if (b->iter > b->nmsgs)
			b->iter = b->nmsgs;
	}
	if (s->cfd >= 0) {
		close(s->cfd);
		s->cfd = -1;
	}
	if (*expunged > 0)
		mbi_diag(b, MB_DIAG_INFO, "expunged", -1, 0, 0,
			 "Expunged %u messages", *expunged);
out:
	if (burp && s->meta_sh)
		flock(s->mfd, LOCK_SH);
	else if (burp)
		flock(s->mfd, LOCK_UN);
	free(gone);
	unlock_files(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Remove, rename                                                       */

/* Only when no session has the mailbox open (flock on .mixmeta). */
static int
with_exclusive(struct mb_ctx *ctx, const char *path, const char *to,
	       struct mb_err *e)
{
	char meta[PATH_MAX + 16];
	int fd, rc = MB_OK;

	snprintf(meta, sizeof(meta), "%s/.mixmeta", path);
	fd = open(meta, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   to ? "cannot rename mailbox" :
					"cannot delete mailbox");
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		rc = mbi_err(e, MB_RETRY, MB_ELOCKED, path, -1,
			     "mailbox is in use by another process");
	if (rc == MB_OK) {
		if (to != NULL)
			rc = mbi_publish(path, to, e);
		else if (remove_files(path) < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, path,
					 "cannot delete mailbox");
		else
			mbi_fsync_dir(path, NULL);
	}
	close(fd);
	return rc;
}

static int
mix_remove(struct mb_ctx *ctx, const char *path, struct mb_err *e)
{
	return with_exclusive(ctx, path, NULL, e);
}

static int
mix_rename(struct mb_ctx *ctx, const char *from, const char *to,
	   struct mb_err *e)
{
	return with_exclusive(ctx, from, to, e);
}

/* ------------------------------------------------------------------ */

/* UW's test: a directory holding a regular file .mixmeta. */
static int
mix_probe(const char *path, const struct stat *st, const unsigned char *head,
	  size_t len)
{
	char meta[PATH_MAX + 16];
	struct stat ms;

	if (!S_ISDIR(st->st_mode))
		return 0;
	snprintf(meta, sizeof(meta), "%s/.mixmeta", path);
	if (stat(meta, &ms) < 0 || !S_ISREG(ms.st_mode))
		return 0;
	return 100;
}

/* Listings: .mixmeta, .mixindex, .mixstatus, .mixsortcache and the
 * .mixXXXXXXXX data files are the mailbox's own (spec 6.1). */
static int
mix_list_child(const char *dir, const char *name, const struct stat *st,
	       char *child, size_t size)
{
	return strncmp(name, ".mix", 4) == 0 ? MB_CHILD_INTERNAL :
					       MB_CHILD_OTHER;
}

const struct mb_driver mbi_driver_mix = {
	.name = "mix",
	.summary = "UW c-client's mix: a directory of data files with index, "
		   "status and metadata files, shared access",
	.caps = MB_CAP_CRLF | MB_CAP_APPEND | MB_CAP_FLAGS | MB_CAP_KEYWORDS |
		MB_CAP_UIDS | MB_CAP_EXPUNGE | MB_CAP_CREATE | MB_CAP_DIR |
		MB_CAP_DATES,
	.probe_len = 0,
	.probe = mix_probe,
	.open = mix_open,
	.create = mix_create,
	.next = mix_next,
	.msg_open = mix_msg_open,
	.append = mix_append,
	.set_flags = mix_set_flags,
	.expunge = mix_expunge,
	.renumber = mix_renumber,
	.poll = mix_poll,
	.commit = mix_commit,
	.close = mix_close,
	.remove = mix_remove,
	.rename = mix_rename,
	.list_child = mix_list_child,
};

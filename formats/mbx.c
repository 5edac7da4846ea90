/*
 * mbx.c - UW c-client's preferred single-file format ("mbx"), read and
 * written byte-compatibly with imap-2007f (shared/spec/uw-formats.md
 * sections 1.1-1.3, 4 and 12.3).
 *
 *	0     "*mbx*" CRLF validity(hex8) lastuid(hex8) CRLF
 *	25    30 keyword slots "name" CRLF (empty slot = CRLF, ends the list)
 *	...   NUL padding
 *	2038  PID of the last flag updater (hex8) CRLF, or NULs
 *	2048  messages, back to back:
 *	      <date>,<size>;<keywords hex8><flags hex4>-<uid hex8> CRLF
 *	      <size> bytes of CRLF text
 *
 * Locks (section 12.7): every session holds flock(LOCK_SH) on the file;
 * the /tmp/.<dev>.<ino> lock is taken exclusively and briefly to read the
 * header and size, to append, to update flags and to expunge.  Expunge
 * slides the kept messages down when flock(LOCK_EX|LOCK_NB) succeeds
 * (nobody else has the file open) and otherwise only marks the deleted
 * messages expunged (0x8000) in place: UW's shared expunge.
 *
 * Appends to an existing mailbox go at its end under the /tmp lock, with
 * the tail journal, so a killed append is cut off by the next writer.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats.h"

#define HDRSIZE	    2048 /* the file header */
#define MAGIC	    "*mbx*\r\n"
#define MAGIC_LEN   7
#define NUSERFLAGS  30 /* keyword slots */
#define MAXUSERFLAG 50 /* longest keyword */
#define PID_OFF	    (HDRSIZE - 10)
#define IHDR_READ   64 /* UW reads this much at each message */
#define FEXPUNGED   0x8000
#define CHUNK	    (64u << 10)

struct mbx_state {
	int fd;
	struct stat st;
	struct mbi_tmplock tl;
	bool tl_held; /* the /tmp lock, exclusively */
	bool flocked; /* LOCK_SH on the file, for the session */

	/* reading */
	int64_t end;	  /* file size when last looked (under locks) */
	int64_t pos;	  /* next internal header */
	bool stopped;	  /* the walk met damage */
	uint32_t visible; /* messages reported */
	uint32_t prev_uid;
	uint32_t unsaved; /* reported messages with UID 0 on disk */
	uint32_t hidden;  /* hidden-expunged messages seen */
	int64_t hidden_bytes;
	bool uids_broken;
	uint32_t hdr_uidlast; /* last UID as the header records it */
	unsigned hdr_nkw;     /* keywords named in the header */
	char pid[10];	      /* bytes 2038..2047 as last read or written */

	/* writing */
	bool created; /* we made the file: appends keep UIDs */
	bool writing; /* appends are staged at the end */
	bool wb_init;
	struct mbi_wbuf wb;
	int64_t orig_size; /* size before the staged appends */
	struct mbi_tail journal;
	uint32_t wprev_uid; /* last UID written by an append */
	bool renumbered;    /* created: a kept UID had to be replaced */
	bool uids_dirty;    /* renumber(): every UID and the validity */
	bool flags_dirty;   /* flags were written in place */
	bool kw_added;	    /* keywords to declare in the header */
};

static struct mbx_state *
state(struct mb_box *b)
{
	return b->priv;
}

static bool
all_hex(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]))
			return false;
	return true;
}

static uint32_t
hex_val(const char *p, size_t n)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)p[i];

		v = v * 16 +
		    (uint32_t)(isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
	}
	return v;
}

/* Can this keyword name be stored in a header slot? */
static bool
kw_storable(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= MAXUSERFLAG && strpbrk(name, "\r\n") == NULL;
}

/* ------------------------------------------------------------------ */
/* Locks                                                                */

static int hdr_sync(struct mb_box *b, struct mbx_state *s, struct mb_err *e);

/* Under the /tmp lock, before an append: the header again. */
static int
locked_hdr_sync(struct mb_box *b, struct mb_err *e)
{
	return hdr_sync(b, state(b), e);
}

/* Our fields, for the single-file helpers of libmbox/afile.c. */
static struct mbi_afile
afile(struct mbx_state *s)
{
	return MBI_AFILE(s, "mbx", locked_hdr_sync);
}

static int
tl_take(struct mb_box *b, struct mbx_state *s, struct mb_err *e)
{
	struct mbi_afile f = afile(s);

	return mbi_afile_take(b, &f, e);
}

static void
tl_drop(struct mbx_state *s)
{
	struct mbi_afile f = afile(s);

	mbi_afile_drop(&f);
}

/* ------------------------------------------------------------------ */
/* The file header                                                      */

struct hdr {
	uint32_t validity;
	uint32_t uidlast;
	char kw[NUSERFLAGS][MAXUSERFLAG + 1];
	unsigned nkw;
	char pid[10];
};

/* Parse the 2048 bytes at h.  false when they are not an mbx header. */
static bool
hdr_parse(const char *h, struct hdr *out)
{
	const char *p = h + 25, *end = h + PID_OFF, *cr;
	unsigned i;

	memset(out, 0, sizeof(*out));
	if (memcmp(h, MAGIC, MAGIC_LEN) != 0 || !all_hex(h + 7, 16) ||
	    h[23] != '\r' || h[24] != '\n')
		return false;
	out->validity = hex_val(h + 7, 8);
	out->uidlast = hex_val(h + 15, 8);
	/* keywords: contiguous, the first empty slot ends them */
	for (i = 0; i < NUSERFLAGS && p < end; i++) {
		cr = memchr(p, '\r', (size_t)(end - p));
		if (cr == NULL || cr + 1 >= end || cr[1] != '\n' || cr == p ||
		    cr - p > MAXUSERFLAG || memchr(p, '\0', (size_t)(cr - p)))
			break;
		memcpy(out->kw[i], p, (size_t)(cr - p));
		out->kw[i][cr - p] = '\0';
		out->nkw++;
		p = cr + 2;
	}
	memcpy(out->pid, h + PID_OFF, 10);
	return true;
}

/*
 * The header as UW writes it: magic, validity, last UID, the keyword
 * slots, NUL padding, and the PID field: ours when with_pid (we updated
 * flags or keywords), else the bytes last read (NULs on a new file).
 */
static void
hdr_build(const struct mb_box *b, struct mbx_state *s, char *h, bool with_pid)
{
	char tmp[32];
	char *p;
	unsigned i, stored = 0;

	/* while UW has messages to number, the recorded last UID stays:
	 * UW numbers them from it */
	uint32_t last = s->unsaved > 0 ? s->hdr_uidlast : b->uidlast;

	memset(h, 0, HDRSIZE);
	snprintf(tmp, sizeof(tmp), "%08x%08x", b->uidvalidity, last);
	memcpy(h, MAGIC, MAGIC_LEN);
	memcpy(h + 7, tmp, 16);
	memcpy(h + 23, "\r\n", 2);
	p = h + 25;
	for (i = 0; i < NUSERFLAGS; i++) {
		if (i == stored && i < b->nkw && kw_storable(b->kw[i])) {
			size_t n = strlen(b->kw[i]);

			memcpy(p, b->kw[i], n);
			p += n;
			stored++;
		}
		*p++ = '\r';
		*p++ = '\n';
	}
	if (with_pid) {
		snprintf(tmp, sizeof(tmp), "%08lx\r\n",
			 (unsigned long)getpid());
		memcpy(s->pid, tmp, 10);
	}
	memcpy(h + PID_OFF, s->pid, 10);
	s->hdr_nkw = stored;
}

static int
hdr_read(struct mb_box *b, struct mbx_state *s, struct hdr *h, struct mb_err *e)
{
	char buf[HDRSIZE];
	ssize_t n = mbi_pread_full(s->fd, buf, HDRSIZE, 0);

	if (n < 0)
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot read mailbox");
	if (n < HDRSIZE || !hdr_parse(buf, h))
		return mbi_err(e, MB_FAILED, MB_EFORMAT, b->path, 0,
			       "not an mbx mailbox (bad file header)");
	return MB_OK;
}

/*
 * Under the /tmp lock: bring our idea of the header up to date with the
 * file's (another process may have declared keywords or numbered
 * messages).  Keywords we declared in memory must not clash with ones
 * declared meanwhile on disk.
 */
static int
hdr_sync(struct mb_box *b, struct mbx_state *s, struct mb_err *e)
{
	struct hdr h;
	unsigned i;
	int rc;

	if ((rc = hdr_read(b, s, &h, e)) != MB_OK)
		return rc;
	if (h.validity != b->uidvalidity && !s->uids_dirty)
		return mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, 7,
			       "UIDVALIDITY changed under us (%08x, was %08x)",
			       h.validity, b->uidvalidity);
	for (i = 0; i < h.nkw && i < b->nkw; i++)
		if (strcasecmp(h.kw[i], b->kw[i]) != 0)
			return mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, 25,
				       "keyword slot %u changed under us "
				       "('%s', was '%s')",
				       i, h.kw[i], b->kw[i]);
	if (h.nkw > b->nkw && b->nkw > s->hdr_nkw)
		return mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, 25,
			       "another process declared keywords meanwhile");
	for (i = b->nkw; i < h.nkw; i++)
		if (mbi_kw_slot(b, h.kw[i], strlen(h.kw[i])) != (int)i)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
	s->hdr_nkw = h.nkw;
	if (h.uidlast > s->hdr_uidlast) {
		/* numbered by someone else: our predictions move up */
		if (h.uidlast > b->uidlast)
			b->uidlast = h.uidlast;
		s->hdr_uidlast = h.uidlast;
	}
	memcpy(s->pid, h.pid, 10);
	return MB_OK;
}

static int
hdr_write(struct mb_box *b, struct mbx_state *s, bool with_pid,
	  struct mb_err *e)
{
	char h[HDRSIZE];
	int rc;

	hdr_build(b, s, h, with_pid);
	rc = mbi_pwrite_all(s->fd, h, HDRSIZE, 0, b->path, e);
	if (rc == MB_OK) {
		if (s->unsaved == 0)
			s->hdr_uidlast = b->uidlast;
		s->kw_added = false;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */

/* The walk cannot go on: report it with UW's text. */
static int walk_damage(struct mb_box *b, struct mbx_state *s, int64_t pos,
		       struct mb_err *e, const char *fmt, ...) MBI_PRINTF(5, 6);

static int
walk_damage(struct mb_box *b, struct mbx_state *s, int64_t pos,
	    struct mb_err *e, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	s->stopped = true;
	mbi_diag(b, MB_DIAG_DAMAGE, "mbx-header", pos, s->visible + 1, 0, "%s",
		 text);
	if (b->mode & MB_CHECK)
		return MB_END;
	return mbi_err(e, MB_FATAL, MB_EFORMAT, b->path, pos, "%s", text);
}

/* Bytes of a header line for a message: control characters as '.'. */
static void
printable(char *dst, size_t size, const char *p, size_t n)
{
	size_t i;

	if (size == 0)
		return;
	if (n > size - 1)
		n = size - 1;
	for (i = 0; i < n; i++)
		dst[i] =
			(unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '.' : p[i];
	dst[n] = '\0';
}

/*
 * Read the record at s->pos.  *hidden says it is a hidden-expunged one
 * (not to be reported).
 */
static int
read_record(struct mb_box *b, struct mbx_state *s, struct mb_msg *m,
	    bool *hidden, struct mb_err *e)
{
	char buf[IHDR_READ + 1], line[IHDR_READ + 1], num[IHDR_READ + 1];
	char *cr, *comma, *semi, *t, *endp;
	int64_t pos = s->pos, text_off;
	unsigned long long size;
	uint32_t kw, uid;
	unsigned flags;
	size_t want, len;
	ssize_t n;
	int64_t idate;
	int tz;

	*hidden = false;
	want = s->end - pos < IHDR_READ ? (size_t)(s->end - pos) : IHDR_READ;
	n = mbi_pread_full(s->fd, buf, want, pos);
	if (n <= 0)
		return walk_damage(b, s, pos, e,
				   "Unable to read internal header at %lld, "
				   "size = %lld: %s",
				   (long long)pos, (long long)s->end,
				   n < 0 ? strerror(errno) : "no data read");
	buf[n] = '\0';
	cr = memchr(buf, '\r', (size_t)n);
	if (cr == NULL || cr + 1 >= buf + n || cr[1] != '\n') {
		printable(line, sizeof(line), buf, (size_t)n);
		return walk_damage(b, s, pos, e,
				   "Unable to find CRLF at %lld in %zd bytes, "
				   "text: %s",
				   (long long)pos, n, line);
	}
	len = (size_t)(cr - buf);
	printable(line, sizeof(line), buf, len);
	comma = memchr(buf, ',', len);
	semi = comma ? memchr(comma + 1, ';', (size_t)(cr - comma - 1)) : NULL;
	if (semi == NULL)
		return walk_damage(
			b, s, pos, e,
			"Unable to parse internal header at %lld: %s",
			(long long)pos, line);
	t = semi;
	if (cr - (t + 1) < 12 || !all_hex(t + 1, 12))
		return walk_damage(b, s, pos, e,
				   "Unable to parse message flags at %lld: %s",
				   (long long)pos, line);
	if (cr - t != 22 || t[13] != '-' || !all_hex(t + 14, 8))
		return walk_damage(b, s, pos, e,
				   "Unable to parse message UID at %lld: %s",
				   (long long)pos, line);
	/* the size as strtoul reads it: "abc" is 0 and accepted (UW) */
	memcpy(num, comma + 1, (size_t)(semi - comma - 1));
	num[semi - comma - 1] = '\0';
	errno = 0;
	size = strtoull(num, &endp, 10);
	if (size == 0 && *endp == '\0')
		return walk_damage(b, s, pos, e,
				   "Unable to parse message size at %lld: %s",
				   (long long)pos, line);
	text_off = pos + (int64_t)len + 2;
	if (size > (unsigned long long)(s->end - text_off))
		return walk_damage(b, s, pos, e,
				   "Last message (at %lld) runs past end of "
				   "file (%llu > %lld)",
				   (long long)pos,
				   (unsigned long long)text_off + size,
				   (long long)s->end);
	if (!mb_date_parse(buf, (size_t)(comma - buf), &idate, &tz))
		return walk_damage(b, s, pos, e,
				   "Unable to parse message date at %lld: %.*s",
				   (long long)pos, (int)(comma - buf), line);
	kw = hex_val(t + 1, 8);
	flags = hex_val(t + 9, 4);
	uid = hex_val(t + 14, 8);
	s->pos = text_off + (int64_t)size;

	if (flags & FEXPUNGED) {
		/* invisible, but its UID still counts (UW) */
		if (uid > s->prev_uid)
			s->prev_uid = uid;
		s->hidden++;
		s->hidden_bytes += s->pos - pos;
		*hidden = true;
		return MB_OK;
	}
	s->visible++;
	if (uid == 0) {
		/* not yet numbered: UW gives it the next UID at its next
		 * read/write open; report that one */
		uid = ++b->uidlast;
		s->unsaved++;
		mbi_diag(b, MB_DIAG_INFO, "uid-unassigned", pos, s->visible,
			 uid,
			 "message has no UID yet (UW assigns %u at its next "
			 "read/write open)",
			 uid);
	} else if (uid <= s->prev_uid || uid > b->uidlast) {
		mbi_diag(b, MB_DIAG_DAMAGE, "mbx-uid", pos, s->visible, uid,
			 "Invalid UID %08x in message %u", uid, s->visible);
		s->uids_broken = true;
		b->uids_broken = true;
		uid = ++b->uidlast;
	}
	s->prev_uid = uid;
	if (b->nkw < 32 && (kw >> b->nkw) != 0) {
		mbi_diag(b, MB_DIAG_WARN, "undeclared-keyword", pos, s->visible,
			 uid, "keyword bits %08x name no declared keyword",
			 kw & ~((1u << b->nkw) - 1));
		kw &= (1u << b->nkw) - 1;
	}
	m->uid = uid;
	m->flags = flags & MB_FLAGS_ALL;
	m->keywords = kw;
	m->idate = idate;
	m->idate_tz = tz;
	m->offset = pos;
	m->size = s->pos - pos;
	m->text_offset = text_off;
	m->text_size = (int64_t)size;
	return MB_OK;
}

static void
set_variant(struct mb_box *b, struct mbx_state *s)
{
	char *v = b->variant;
	size_t sz = sizeof(b->variant);

	v[0] = '\0';
	if (s->hidden > 0)
		snprintf(v, sz, "%u hidden expunged", s->hidden);
	if (s->uids_broken)
		snprintf(v + strlen(v), sz - strlen(v), "%sUIDs broken",
			 v[0] ? ", " : "");
}

static int
mbx_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e)
{
	struct mbx_state *s = state(b);
	bool hidden;
	int rc;

	for (;;) {
		if (s->stopped || s->pos >= s->end) {
			set_variant(b, s);
			return MB_END;
		}
		rc = read_record(b, s, out, &hidden, e);
		if (rc != MB_OK) {
			set_variant(b, s);
			return rc;
		}
		if (!hidden)
			break;
	}
	mbi_progress(b, out->offset, s->end);
	return MB_OK;
}

static int
mbx_msg_open(struct mb_box *b, const struct mb_msg *m, struct mb_reader **out,
	     struct mb_err *e)
{
	struct mbx_state *s = state(b);

	if (m->text_offset < HDRSIZE || m->text_size < 0 ||
	    m->text_offset + m->text_size > s->end)
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, m->offset,
			       "no such message");
	*out = mb_reader_fd(s->fd, m->text_offset, m->text_size);
	if (*out == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Open, create, close                                                  */

static void mbx_close(struct mb_box *b);

static int
alloc_state(struct mb_box *b, struct mb_err *e)
{
	struct mbx_state *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	s->fd = -1;
	s->tl.fd = -1;
	b->priv = s;
	return MB_OK;
}

/* Our header state from a parsed header. */
static int
adopt_header(struct mb_box *b, struct mbx_state *s, const struct hdr *h,
	     struct mb_err *e)
{
	unsigned i;

	b->uidvalidity = h->validity;
	b->uidlast = h->uidlast;
	s->hdr_uidlast = h->uidlast;
	mbi_kw_clear(b);
	for (i = 0; i < h->nkw; i++)
		if (mbi_kw_slot(b, h->kw[i], strlen(h->kw[i])) < 0)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
	s->hdr_nkw = h->nkw;
	memcpy(s->pid, h->pid, 10);
	return MB_OK;
}

static int
mbx_open(struct mb_box *b, struct mb_err *e)
{
	struct mbx_state *s;
	struct mbi_afile f;
	struct hdr h;
	bool rw = (b->mode & MB_RDWR) != 0;
	int rc;

	if ((rc = alloc_state(b, e)) != MB_OK)
		return rc;
	s = state(b);
	if ((rc = mbi_open_box(b, rw, &s->fd, &s->st, e)) != MB_OK)
		goto fail;
	/* UW's locks (the /tmp one briefly, to read header and size);
	 * a writer recovers what a killed writer left */
	f = afile(s);
	if ((rc = mbi_afile_lock_open(b, &f, &s->st, e)) != MB_OK)
		goto fail;
	if (fstat(s->fd, &s->st) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot stat mailbox");
		goto fail;
	}
	if ((rc = hdr_read(b, s, &h, e)) != MB_OK)
		goto fail;
	if ((rc = adopt_header(b, s, &h, e)) != MB_OK)
		goto fail;
	s->end = s->st.st_size;
	s->pos = HDRSIZE;
	tl_drop(s);
	return MB_OK;
fail:
	mbx_close(b);
	return rc;
}

static int
mbx_create(struct mb_box *b, struct mb_err *e)
{
	struct mbx_state *s;
	char h[HDRSIZE];
	int rc;

	if ((rc = alloc_state(b, e)) != MB_OK)
		return rc;
	s = state(b);
	s->fd = open(b->path,
		     O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->fd < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->final_path,
				 "cannot create mailbox");
		mbx_close(b);
		return rc;
	}
	b->uidvalidity = (uint32_t)time(NULL);
	b->uidlast = 0;
	memset(s->pid, 0, sizeof(s->pid));
	hdr_build(b, s, h, false);
	rc = mbi_pwrite_all(s->fd, h, HDRSIZE, 0, b->path, e);
	if (rc == MB_OK && !b->creating) {
		/* visible at once: make it whole before others see it */
		if (fsync(s->fd) < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot write mailbox to disk");
		else
			mbi_fsync_dir(b->path, NULL);
	}
	if (rc == MB_OK && fstat(s->fd, &s->st) < 0)
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot stat mailbox");
	if (rc == MB_OK && flock(s->fd, LOCK_SH) == 0)
		s->flocked = true;
	if (rc == MB_OK && !b->creating)
		rc = mbi_tmplock_open(&s->st, &s->tl, e);
	if (rc != MB_OK) {
		mbx_close(b);
		if (!b->creating)
			unlink(b->path);
		return rc;
	}
	s->created = true;
	s->hdr_uidlast = 0;
	s->end = s->pos = HDRSIZE;
	return MB_OK;
}

static void
mbx_close(struct mb_box *b)
{
	struct mbx_state *s = state(b);
	struct mbi_afile f;

	if (s == NULL)
		return;
	f = afile(s);
	mbi_afile_close(&f, s->writing, s->wb_init);
	free(s);
	b->priv = NULL;
}

static int
mbx_poll(struct mb_box *b, bool *changed, struct mb_err *e)
{
	struct mbx_state *s = state(b);
	struct mbi_afile f = afile(s);

	return mbi_afile_poll(b, &f, s->writing, changed, e);
}

/* ------------------------------------------------------------------ */
/* Appending                                                            */

/*
 * First append to an existing mailbox: take the /tmp lock until commit,
 * learn what others appended meanwhile, record the tail journal.
 */
static int
start_writing(struct mb_box *b, struct mbx_state *s, struct mb_err *e)
{
	struct mbi_afile f = afile(s);
	int rc;

	if (s->writing)
		return MB_OK;
	if ((rc = mbi_afile_begin(b, &f, e)) != MB_OK)
		return rc;
	s->wprev_uid = s->prev_uid;
	s->wb_init = true;
	s->writing = true;
	return MB_OK;
}

/*
 * Copy src to the spool (when sp) or to the mailbox's write buffer,
 * turning bare LF into CRLF.  *size gets the converted byte count.
 */
static int
convert_text(struct mb_box *b, struct mbx_state *s, struct mb_reader *src,
	     struct mbi_spool *sp, bool count_only, int64_t *size,
	     struct mb_err *e)
{
	char *in = malloc(CHUNK), *out = malloc(2 * CHUNK);
	bool prev_cr = false;
	int rc = MB_OK;
	ssize_t n, i;
	size_t o;

	*size = 0;
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
		for (i = 0, o = 0; i < n;) {
			const char *nl = memchr(in + i, '\n', (size_t)(n - i));
			size_t run =
				nl ? (size_t)(nl - (in + i)) : (size_t)(n - i);

			memcpy(out + o, in + i, run);
			o += run;
			if (run > 0)
				prev_cr = in[i + (ssize_t)run - 1] == '\r';
			i += (ssize_t)run;
			if (nl == NULL)
				break;
			if (!prev_cr)
				out[o++] = '\r';
			out[o++] = '\n';
			prev_cr = false;
			i++;
		}
		*size += (int64_t)o;
		if (count_only)
			continue;
		rc = sp ? mbi_spool_put(b, sp, out, o, e) :
			  mbi_wbuf_put(&s->wb, out, o, e);
		if (rc != MB_OK)
			break;
	}
	free(in);
	free(out);
	return rc;
}

/* Keyword names onto header slots; new ones are declared, past 30 they
 * are dropped with a warning. */
static uint32_t
map_keywords(struct mb_box *b, struct mbx_state *s,
	     const struct mb_newmsg *meta)
{
	uint32_t kw = 0;
	size_t i;

	for (i = 0; i < meta->nkeywords; i++) {
		const char *name = meta->keywords[i];
		int k = mbi_kw_find(b, name, strlen(name));

		if (k < 0 && kw_storable(name) && b->nkw < NUSERFLAGS) {
			k = mbi_kw_add(b, name, strlen(name));
			if (k >= 0)
				s->kw_added = true;
		}
		if (k >= 0 && k < NUSERFLAGS) {
			kw |= 1u << k;
			continue;
		}
		mbi_diag(b, MB_DIAG_WARN, "keyword-dropped", -1, 0, meta->uid,
			 "keyword '%s' cannot be stored (an mbx mailbox "
			 "names at most %d keywords of up to %d bytes)",
			 name, NUSERFLAGS, MAXUSERFLAG);
	}
	return kw;
}

static int
mbx_append(struct mb_box *b, const struct mb_newmsg *meta,
	   struct mb_reader *src, uint32_t *uid_out, struct mb_err *e)
{
	struct mbx_state *s = state(b);
	struct mbi_spool sp;
	char date[64], line[160];
	int64_t size, start;
	uint32_t uid, disk_uid, kw, uidlast = b->uidlast;
	bool renumbered = false;
	int64_t t = meta->idate >= 0 ? meta->idate : (int64_t)time(NULL);
	int tz = meta->idate >= 0 ? meta->idate_tz : 0;
	int rc, n;

	if (!s->created && (rc = start_writing(b, s, e)) != MB_OK)
		return rc;
	if (s->created && !s->wb_init) {
		rc = mbi_wbuf_init(&s->wb, s->fd, b->path, s->end, e);
		if (rc != MB_OK)
			return rc;
		s->wb_init = true;
		s->writing = true;
		s->orig_size = s->end;
	}
	start = s->wb.pos;

	/* the text, CRLF, counted before the header line is written */
	mbi_spool_init(&sp, "mbx");
	if (src->rewind != NULL) {
		rc = convert_text(b, s, src, NULL, true, &size, e);
		if (rc == MB_OK)
			rc = mb_reader_rewind(src, e);
	} else {
		rc = convert_text(b, s, src, &sp, false, &size, e);
	}
	if (rc != MB_OK)
		goto out;

	/* UIDs */
	if (s->created) {
		if (meta->uid != 0 && meta->uid > s->wprev_uid) {
			uid = meta->uid;
		} else {
			renumbered = meta->uid != 0;
			uid = (uidlast > s->wprev_uid ? uidlast :
							s->wprev_uid) +
			      1;
		}
		disk_uid = uid;
	} else {
		uid = (uidlast > s->wprev_uid ? uidlast : s->wprev_uid) + 1;
		/* messages UW has not numbered yet take the UIDs above the
		 * header's last UID at its next open: ours must wait too,
		 * or UW would find it out of order */
		disk_uid = s->unsaved > 0 ? 0 : uid;
	}
	if (uid > uidlast)
		uidlast = uid;

	kw = map_keywords(b, s, meta);
	if (mb_date_imap(t, tz, date, sizeof(date)) == 0) {
		rc = mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			     "cannot format the internal date");
		goto out;
	}
	n = snprintf(line, sizeof(line), "%s,%lld;%08x%04x-%08x\r\n", date,
		     (long long)size, kw, meta->flags & MB_FLAGS_ALL, disk_uid);
	rc = mbi_wbuf_put(&s->wb, line, (size_t)n, e);
	if (rc == MB_OK)
		rc = src->rewind != NULL ?
			     convert_text(b, s, src, NULL, false, &size, e) :
			     mbi_spool_out(b, &sp, &s->wb, e);
	if (rc != MB_OK) {
		/* leave no part of it: back to where it started */
		if (s->wb.pos - (int64_t)s->wb.len <= start) {
			s->wb.len -= (size_t)(s->wb.pos - start);
		} else {
			s->wb.len = 0;
			if (ftruncate(s->fd, start) < 0)
				rc = MB_FATAL;
		}
		s->wb.pos = start;
		goto out;
	}
	b->uidlast = uidlast;
	s->wprev_uid = uid;
	if (renumbered)
		s->renumbered = true;
	if (disk_uid == 0)
		s->unsaved++;
	if (uid_out)
		*uid_out = uid;
out:
	mbi_spool_free(&sp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Flags, UIDs, commit                                                  */

/* Re-read and check the 12 status digits of m: its system flags. */
static int
read_status(struct mb_box *b, struct mbx_state *s, const struct mb_msg *m,
	    char *st, struct mb_err *e)
{
	if (mbi_pread_full(s->fd, st, 24, m->text_offset - 24) != 24 ||
	    st[0] != ';' || st[13] != '-' || !all_hex(st + 1, 12) ||
	    st[22] != '\r' || st[23] != '\n')
		return mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, m->offset,
			       "Invalid flags for message %u", m->seq);
	return MB_OK;
}

static int
write_status(struct mb_box *b, struct mbx_state *s, const struct mb_msg *m,
	     uint32_t kw, unsigned sysflags, struct mb_err *e)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%08x%04x", kw, sysflags & 0xffff);
	return mbi_pwrite_all(s->fd, buf, 12, m->text_offset - 23, b->path, e);
}

static int
mbx_set_flags(struct mb_box *b, struct mb_msg *m, unsigned flags, uint64_t kw,
	      struct mb_err *e)
{
	struct mbx_state *s = state(b);
	char st[24];
	unsigned disk;
	int rc;

	if (kw >> NUSERFLAGS)
		return mbi_err(e, MB_FAILED, MB_ELIMIT, b->path, m->offset,
			       "an mbx mailbox names at most %d keywords",
			       NUSERFLAGS);
	if ((rc = tl_take(b, s, e)) != MB_OK)
		return rc;
	if (!s->created && (rc = hdr_sync(b, s, e)) != MB_OK)
		goto out;
	if (b->nkw > s->hdr_nkw && (kw >> s->hdr_nkw) != 0) {
		/* declare the new keywords before any message uses them */
		if ((rc = hdr_write(b, s, true, e)) != MB_OK)
			goto out;
		if (kw >> s->hdr_nkw) {
			rc = mbi_err(e, MB_FAILED, MB_ELIMIT, b->path, 25,
				     "keyword cannot be stored in an mbx "
				     "header");
			goto out;
		}
	}
	if ((rc = read_status(b, s, m, st, e)) != MB_OK)
		goto out;
	/* keep what we do not manage (another's expunge mark) */
	disk = hex_val(st + 9, 4);
	rc = write_status(b, s, m, (uint32_t)kw,
			  (disk & ~(unsigned)MB_FLAGS_ALL) | flags, e);
	if (rc == MB_OK)
		s->flags_dirty = true;
out:
	if (!s->writing)
		tl_drop(s);
	return rc;
}

static int
mbx_renumber(struct mb_box *b, struct mb_err *e)
{
	struct mbx_state *s = state(b);

	if (s->writing)
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "commit the appends before renumbering");
	s->uids_dirty = true;
	return MB_OK;
}

/* renumber(): every message's UID, then the header. */
static int
write_uids(struct mb_box *b, struct mbx_state *s, struct mb_err *e)
{
	char buf[16];
	uint32_t i;
	int rc;

	for (i = 0; i < b->nmsgs; i++) {
		snprintf(buf, sizeof(buf), "%08x", b->msgs[i].uid);
		rc = mbi_pwrite_all(s->fd, buf, 8, b->msgs[i].text_offset - 10,
				    b->path, e);
		if (rc != MB_OK)
			return rc;
	}
	s->unsaved = 0;
	s->uids_broken = false;
	return MB_OK;
}

static int
mbx_commit(struct mb_box *b, struct mb_err *e)
{
	struct mbx_state *s = state(b);
	char buf[16];
	int rc;

	if (s->wb_init && (rc = mbi_wbuf_flush(&s->wb, e)) != MB_OK)
		return rc;
	if (!s->created && (rc = tl_take(b, s, e)) != MB_OK)
		return rc;
	if (s->created) {
		if (s->renumbered) {
			/* the kept UIDs are not the source's: new validity */
			uint32_t v = (uint32_t)time(NULL);

			b->uidvalidity = v == b->uidvalidity ? v + 1 : v;
		}
		rc = hdr_write(b, s, s->kw_added || s->flags_dirty, e);
	} else if (s->uids_dirty) {
		rc = write_uids(b, s, e);
		if (rc == MB_OK)
			rc = hdr_write(b, s, true, e);
	} else if (s->kw_added || b->nkw > s->hdr_nkw) {
		rc = hdr_write(b, s, true, e);
	} else {
		rc = MB_OK;
		if (b->uidlast != s->hdr_uidlast && s->unsaved == 0) {
			/* UW patches only the last UID after an append */
			snprintf(buf, sizeof(buf), "%08x", b->uidlast);
			rc = mbi_pwrite_all(s->fd, buf, 8, 15, b->path, e);
			if (rc == MB_OK)
				s->hdr_uidlast = b->uidlast;
		}
		if (rc == MB_OK && s->flags_dirty) {
			snprintf(buf, sizeof(buf), "%08lx\r\n",
				 (unsigned long)getpid());
			memcpy(s->pid, buf, 10);
			rc = mbi_pwrite_all(s->fd, buf, 10, PID_OFF, b->path,
					    e);
		}
	}
	if (rc == MB_OK && fsync(s->fd) < 0)
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot write mailbox to disk");
	if (rc != MB_OK)
		return rc;
	if (s->journal.active && (rc = mbi_tail_end(&s->journal, e)) != MB_OK)
		return rc;
	if (s->wb_init) {
		s->orig_size = s->wb.pos;
		if (!s->created) {
			mbi_wbuf_free(&s->wb);
			s->wb_init = false;
			s->writing = false;
		}
	}
	s->flags_dirty = false;
	s->uids_dirty = false;
	if (!s->created)
		tl_drop(s);
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Expunge                                                              */

/* Exclusive access: the kept messages slide down, holes are reclaimed. */
static int
expunge_slide(struct mb_box *b, struct mbx_state *s, int64_t fsize,
	      uint32_t *expunged, struct mb_err *e)
{
	struct mbi_rewrite rw;
	int64_t dst = HDRSIZE, reclaimed = s->hidden_bytes;
	uint32_t i, kept = 0;
	int rc;

	if ((rc = mbi_rewrite_begin(b->path, s->fd, &rw, e)) != MB_OK)
		return rc;
	rc = mbi_rewrite_copy(&rw, 0, HDRSIZE, e);
	for (i = 0; rc == MB_OK && i < b->nmsgs; i++) {
		struct mb_msg *m = &b->msgs[i];

		if (m->flags & MB_DELETED)
			continue;
		rc = mbi_rewrite_copy(&rw, m->offset, m->size, e);
		dst += m->size;
	}
	/* what others appended after our scan */
	if (rc == MB_OK && fsize > s->end)
		rc = mbi_rewrite_copy(&rw, s->end, fsize - s->end, e);
	if (rc == MB_OK)
		rc = mbi_rewrite_commit(&rw, e);
	if (rc != MB_OK) {
		mbi_rewrite_abort(&rw);
		return rc;
	}
	dst = HDRSIZE;
	for (i = 0; i < b->nmsgs; i++) {
		struct mb_msg m = b->msgs[i];

		if (m.flags & MB_DELETED)
			continue;
		m.text_offset += dst - m.offset;
		m.offset = dst;
		dst += m.size;
		m.seq = ++kept;
		b->msgs[kept - 1] = m;
	}
	*expunged = b->nmsgs - kept;
	b->nmsgs = kept;
	s->pos = dst;
	s->end = dst + (fsize > s->end ? fsize - s->end : 0);
	s->hidden = 0;
	s->hidden_bytes = 0;
	if (s->pos < s->end)
		b->scanned = false;
	if (*expunged > 0)
		mbi_diag(b, MB_DIAG_INFO, "expunged", -1, 0, 0,
			 "Expunged %u messages", *expunged);
	if (reclaimed > 0)
		mbi_diag(b, MB_DIAG_INFO, "reclaimed", -1, 0, 0,
			 "Reclaimed %lld bytes of expunged space",
			 (long long)reclaimed);
	return MB_OK;
}

/* Shared access: mark the deleted messages expunged (0x8000) in place. */
static int
expunge_hide(struct mb_box *b, struct mbx_state *s, uint32_t *expunged,
	     struct mb_err *e)
{
	uint32_t i, kept = 0;
	char st[24];
	int rc;

	for (i = 0; i < b->nmsgs; i++) {
		struct mb_msg *m = &b->msgs[i];

		if (!(m->flags & MB_DELETED))
			continue;
		if ((rc = read_status(b, s, m, st, e)) != MB_OK)
			return rc;
		rc = write_status(b, s, m, hex_val(st + 1, 8),
				  hex_val(st + 9, 4) | m->flags | FEXPUNGED, e);
		if (rc != MB_OK)
			return rc;
	}
	if (fsync(s->fd) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot write mailbox to disk");
	for (i = 0; i < b->nmsgs; i++) {
		struct mb_msg m = b->msgs[i];

		if (m.flags & MB_DELETED) {
			s->hidden++;
			s->hidden_bytes += m.size;
			continue;
		}
		m.seq = ++kept;
		b->msgs[kept - 1] = m;
	}
	*expunged = b->nmsgs - kept;
	b->nmsgs = kept;
	s->flags_dirty = true; /* the PID field, at commit */
	if (*expunged > 0)
		mbi_diag(b, MB_DIAG_INFO, "expunged", -1, 0, 0,
			 "Expunged %u messages", *expunged);
	return MB_OK;
}

static int
mbx_expunge(struct mb_box *b, uint32_t *expunged, struct mb_err *e)
{
	struct mbx_state *s = state(b);
	struct mbi_afile f;
	uint32_t i, n = 0;
	int64_t size;
	int rc;

	*expunged = 0;
	if (b->mode & MB_STREAM)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "a streaming box cannot expunge");
	if (s->writing && !s->created && (rc = mbx_commit(b, e)) != MB_OK)
		return rc;
	if (s->created && s->wb_init &&
	    (rc = mbi_wbuf_flush(&s->wb, e)) != MB_OK)
		return rc;
	if ((rc = mbi_scan_all(b, e)) != MB_OK)
		return rc;
	for (i = 0; i < b->nmsgs; i++)
		if (b->msgs[i].flags & MB_DELETED)
			n++;
	if (n == 0 && s->hidden_bytes == 0)
		return MB_OK; /* UW: no messages deleted, no update needed */
	if ((rc = tl_take(b, s, e)) != MB_OK)
		return rc;
	f = afile(s);
	if ((rc = mbi_afile_size(b, &f, MB_FAILED, &size, e)) != MB_OK)
		goto out;
	if (s->created || flock(s->fd, LOCK_EX | LOCK_NB) == 0) {
		/* nobody else has it open */
		rc = expunge_slide(b, s, size, expunged, e);
		if (!s->created)
			flock(s->fd, LOCK_SH);
		else if (rc == MB_OK && s->wb_init)
			s->wb.pos = s->orig_size = s->end;
	} else {
		/* a failed conversion dropped our shared lock: take it back
		 * (the /tmp lock keeps other expungers out meanwhile) */
		if (s->flocked)
			flock(s->fd, LOCK_SH);
		rc = n > 0 ? expunge_hide(b, s, expunged, e) : MB_OK;
	}
	if (b->iter > b->nmsgs)
		b->iter = b->nmsgs;
out:
	if (!s->created)
		tl_drop(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Remove, rename                                                       */

static int
mbx_remove(struct mb_ctx *ctx, const char *path, struct mb_err *e)
{
	return mbi_afile_remove(ctx, path, NULL, e);
}

static int
mbx_rename(struct mb_ctx *ctx, const char *from, const char *to,
	   struct mb_err *e)
{
	return mbi_afile_remove(ctx, from, to, e);
}

/* ------------------------------------------------------------------ */

/* Certain: 2048 bytes or more starting "*mbx*" CRLF, 16 hex, CRLF. */
static int
mbx_probe(const char *path, const struct stat *st, const unsigned char *head,
	  size_t len)
{
	if (st->st_size < HDRSIZE || len < 25)
		return 0;
	if (memcmp(head, MAGIC, MAGIC_LEN) != 0 ||
	    !all_hex((const char *)head + 7, 16) || head[23] != '\r' ||
	    head[24] != '\n')
		return 0;
	return 100;
}

const struct mb_driver mbi_driver_mbx = {
	.name = "mbx",
	.summary = "UW c-client's mbx: indexed flags, keywords and UIDs, "
		   "shared access",
	.caps = MB_CAP_CRLF | MB_CAP_APPEND | MB_CAP_FLAGS | MB_CAP_KEYWORDS |
		MB_CAP_UIDS | MB_CAP_EXPUNGE | MB_CAP_CREATE | MB_CAP_DATES,
	.probe_len = HDRSIZE,
	.probe = mbx_probe,
	.open = mbx_open,
	.create = mbx_create,
	.next = mbx_next,
	.msg_open = mbx_msg_open,
	.append = mbx_append,
	.set_flags = mbx_set_flags,
	.expunge = mbx_expunge,
	.renumber = mbx_renumber,
	.poll = mbx_poll,
	.commit = mbx_commit,
	.close = mbx_close,
	.remove = mbx_remove,
	.rename = mbx_rename,
};

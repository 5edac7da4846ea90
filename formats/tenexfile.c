/*
 * tenexfile.c - UW c-client's legacy single-file formats mtx and tenex
 * (shared/spec/uw-formats.md sections 1.1-1.3, 5 and 12.3), read and
 * written byte-compatibly with imap-2007f.
 *
 *	<date>,<size>;<keywords oct10><flags oct2> NL
 *	<size> bytes of text
 *	<date>,<size>;...			(the next message, no separator)
 *
 * NL and the text's newlines are CRLF in mtx and bare LF in tenex.
 * <date> is the IMAP internal form (" 2-Dec-1992 05:53:22 +0000"),
 * <size> the stored byte count of the text, <flags> the system flags of
 * section 1.1 in octal (01 seen ... 20 old, 40 draft), and <keywords>
 * a 30-bit mask in octal with the bits reversed: keyword n is bit 29-n.
 * The file stores no keyword names (they come from the site's
 * "keywords" setting, as UW's c-client.cf) and no UIDs (UW numbers the
 * messages 1..n at each open; we report the same numbers).
 *
 * Locks (section 12.7): every session holds flock(LOCK_SH) on the file;
 * the /tmp/.<dev>.<ino> lock is taken exclusively and briefly to read
 * the size, to append, to update flags and to expunge.  Expunge needs
 * flock(LOCK_EX|LOCK_NB), that is nobody else having the file open, and
 * rewrites the file in place through libmbox/rewrite.c.  Appends go at
 * the end under the /tmp lock, with the tail journal.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tenexfile.h"

#define IHDR_READ   64 /* UW reads this much at each message */
#define NUSERFLAGS  30 /* keyword bits in the header line */
#define FLAG_DIGITS 12 /* 10 keyword + 2 system flag digits */
#define CHUNK	    (64u << 10)

struct tx_state {
	int flavor; /* enum tx_flavor */
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

	/* writing */
	bool writing; /* appends are staged at the end */
	bool wb_init;
	struct mbi_wbuf wb;
	int64_t orig_size; /* size before the staged appends */
	struct mbi_tail journal;
	bool flags_dirty; /* flags were written in place */
};

static struct tx_state *
state(struct mb_box *b)
{
	return b->priv;
}

static const char *
fname(const struct tx_state *s)
{
	return s->flavor == TX_MTX ? "mtx" : "tenex";
}

/* Bytes of the header line's newline. */
static int
nl_len(const struct tx_state *s)
{
	return s->flavor == TX_MTX ? 2 : 1;
}

static bool
all_octal(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '7')
			return false;
	return true;
}

static uint32_t
octal_val(const char *p, size_t n)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 8 + (uint32_t)(p[i] - '0');
	return v;
}

/* The stored (reversed) keyword bits of our keyword mask, and back. */
static uint32_t
kw_to_disk(uint64_t kw)
{
	uint32_t v = 0;
	unsigned n;

	for (n = 0; n < NUSERFLAGS; n++)
		if (kw & ((uint64_t)1 << n))
			v |= 1u << (NUSERFLAGS - 1 - n);
	return v;
}

static uint64_t
kw_from_disk(uint32_t v)
{
	uint64_t kw = 0;
	unsigned n;

	for (n = 0; n < NUSERFLAGS; n++)
		if (v & (1u << (NUSERFLAGS - 1 - n)))
			kw |= (uint64_t)1 << n;
	return kw;
}

/* The stored bits that name a configured keyword. */
static uint32_t
known_disk_mask(const struct mb_box *b)
{
	unsigned n = b->nkw < NUSERFLAGS ? b->nkw : NUSERFLAGS;

	return kw_to_disk(n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1);
}

/* The box's keywords: the site's list (UW's "set keywords"). */
static int
load_keywords(struct mb_box *b, struct mb_err *e)
{
	const char *p = b->ctx->keywords;
	size_t n;

	mbi_kw_clear(b);
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || b->nkw >= NUSERFLAGS)
			return MB_OK;
		for (n = 0; p[n] && p[n] != ' ' && p[n] != '\t'; n++)
			;
		if (mbi_kw_find(b, p, n) < 0 && mbi_kw_add(b, p, n) < 0)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		p += n;
	}
}

/* ------------------------------------------------------------------ */
/* Locks                                                                */

/* Our fields, for the single-file helpers of libmbox/afile.c. */
static struct mbi_afile
afile(struct tx_state *s)
{
	return MBI_AFILE(s, fname(s), NULL);
}

static int
tl_take(struct mb_box *b, struct tx_state *s, struct mb_err *e)
{
	struct mbi_afile f = afile(s);

	return mbi_afile_take(b, &f, e);
}

static void
tl_drop(struct tx_state *s)
{
	struct mbi_afile f = afile(s);

	mbi_afile_drop(&f);
}

/* ------------------------------------------------------------------ */
/* Probing                                                              */

/*
 * UW's validity test: the first line, within 64 bytes, looks like
 * "d-mmm-" or "dd-mmm-", has a ',' after byte 18 and a ';' after that,
 * and ends in CRLF (mtx) or in an LF without CR (tenex).  Empty files
 * are not claimed (UW gives them to the default format).
 */
int
tx_probe(int flavor, const struct stat *st, const unsigned char *head,
	 size_t len)
{
	const char *p = (const char *)head, *nl, *comma;
	size_t n = len < IHDR_READ ? len : IHDR_READ;

	if (st->st_size == 0 || n == 0)
		return 0;
	nl = memchr(p, '\n', n);
	if (nl == NULL)
		return 0;
	if (flavor == TX_MTX ? (nl == p || nl[-1] != '\r') :
			       (nl > p && nl[-1] == '\r'))
		return 0;
	if (!((nl - p > 6 && p[2] == '-' && p[6] == '-') ||
	      (nl - p > 5 && p[1] == '-' && p[5] == '-')))
		return 0;
	if (nl - p <= 19)
		return 0;
	comma = memchr(p + 19, ',', (size_t)(nl - p - 19));
	if (comma == NULL || memchr(comma, ';', (size_t)(nl - comma)) == NULL)
		return 0;
	return 95;
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */

/* The walk cannot go on: report it with UW's text. */
static int walk_damage(struct mb_box *b, struct tx_state *s, int64_t pos,
		       struct mb_err *e, const char *fmt, ...) MBI_PRINTF(5, 6);

static int
walk_damage(struct mb_box *b, struct tx_state *s, int64_t pos, struct mb_err *e,
	    const char *fmt, ...)
{
	char text[512], code[32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	s->stopped = true;
	snprintf(code, sizeof(code), "%s-header", fname(s));
	mbi_diag(b, MB_DIAG_DAMAGE, code, pos, s->visible + 1, 0, "%s", text);
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

static bool
all_digits(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)p[i]))
			return false;
	return true;
}

/* Read the record at s->pos into *m. */
static int
read_record(struct mb_box *b, struct tx_state *s, struct mb_msg *m,
	    struct mb_err *e)
{
	char buf[IHDR_READ + 1], line[IHDR_READ + 1];
	const char *nl, *comma, *semi, *f;
	int64_t pos = s->pos, text_off;
	unsigned long long size = 0;
	uint32_t kwdisk, unknown;
	unsigned flags;
	size_t want, len, i;
	ssize_t n;
	int64_t idate;
	int tz;

	want = s->end - pos < IHDR_READ ? (size_t)(s->end - pos) : IHDR_READ;
	n = mbi_pread_full(s->fd, buf, want, pos);
	if (n <= 0)
		return walk_damage(b, s, pos, e,
				   "Unable to read internal header at %lld, "
				   "size = %lld: %s",
				   (long long)pos, (long long)s->end,
				   n < 0 ? strerror(errno) : "no data read");
	buf[n] = '\0';
	nl = memchr(buf, '\n', (size_t)n);
	if (s->flavor == TX_MTX &&
	    (nl == NULL || nl == buf || nl[-1] != '\r')) {
		printable(line, sizeof(line), buf, (size_t)n);
		return walk_damage(b, s, pos, e,
				   "Unable to find CRLF at %lld in %zd bytes, "
				   "text: %s",
				   (long long)pos, n, line);
	}
	if (nl == NULL) {
		printable(line, sizeof(line), buf, (size_t)n);
		return walk_damage(b, s, pos, e,
				   "Unable to find newline at %lld in %zd "
				   "bytes, text: %s",
				   (long long)pos, n, line);
	}
	len = (size_t)(nl - buf) + 1 - (size_t)nl_len(s);
	printable(line, sizeof(line), buf, len);
	comma = memchr(buf, ',', len);
	semi = comma ? memchr(comma + 1, ';', len - (size_t)(comma + 1 - buf)) :
		       NULL;
	if (semi == NULL)
		return walk_damage(
			b, s, pos, e,
			"Unable to parse internal header at %lld: %s",
			(long long)pos, line);
	f = semi + 1;
	if (!all_digits(comma + 1, (size_t)(semi - comma - 1)) ||
	    semi - comma - 1 > 18 || buf + len - f != FLAG_DIGITS ||
	    !all_octal(f, FLAG_DIGITS) ||
	    !mb_date_parse(buf, (size_t)(comma - buf), &idate, &tz))
		return walk_damage(b, s, pos, e,
				   "Unable to parse internal header elements "
				   "at %lld: %s",
				   (long long)pos, line);
	for (i = 1; comma + i < semi; i++)
		size = size * 10 + (unsigned long long)(comma[i] - '0');
	text_off = pos + (int64_t)(nl - buf) + 1;
	if (size > (unsigned long long)(s->end - text_off))
		return walk_damage(b, s, pos, e,
				   "Last message (at %lld) runs past end of "
				   "file (%llu > %lld)",
				   (long long)pos,
				   (unsigned long long)text_off + size,
				   (long long)s->end);
	kwdisk = octal_val(f, 10);
	flags = octal_val(f + 10, 2);
	s->pos = text_off + (int64_t)size;
	s->visible++;
	unknown = kwdisk & ~known_disk_mask(b);
	if (unknown != 0)
		mbi_diag(b, MB_DIAG_WARN, "unknown-keyword", pos + (f - buf),
			 s->visible, b->uidlast + 1,
			 "keyword bits %010o name no keyword of the "
			 "'keywords' setting",
			 unknown);
	/* UW numbers the messages at each open, 1..n, and later arrivals
	 * on from there */
	m->uid = ++b->uidlast;
	m->flags = flags & MB_FLAGS_ALL;
	m->keywords = kw_from_disk(kwdisk & known_disk_mask(b));
	m->idate = idate;
	m->idate_tz = tz;
	m->offset = pos;
	m->size = s->pos - pos;
	m->text_offset = text_off;
	m->text_size = (int64_t)size;
	return MB_OK;
}

int
tx_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e)
{
	struct tx_state *s = state(b);
	int rc;

	if (s->stopped || s->pos >= s->end)
		return MB_END;
	rc = read_record(b, s, out, e);
	if (rc != MB_OK)
		return rc;
	mbi_progress(b, out->offset, s->end);
	return MB_OK;
}

int
tx_msg_open(struct mb_box *b, const struct mb_msg *m, struct mb_reader **out,
	    struct mb_err *e)
{
	struct tx_state *s = state(b);

	if (m->text_offset <= 0 || m->text_size < 0 ||
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

static int
alloc_state(struct mb_box *b, int flavor, struct mb_err *e)
{
	struct tx_state *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	s->flavor = flavor;
	s->fd = -1;
	s->tl.fd = -1;
	b->priv = s;
	b->uidvalidity = 0; /* no UIDs are kept */
	b->uidlast = 0;
	return load_keywords(b, e);
}

int
tx_open(struct mb_box *b, int flavor, struct mb_err *e)
{
	struct tx_state *s;
	struct mbi_afile f;
	bool rw = (b->mode & MB_RDWR) != 0;
	int rc;

	if ((rc = alloc_state(b, flavor, e)) != MB_OK)
		goto fail;
	s = state(b);
	if ((rc = mbi_open_box(b, rw, &s->fd, &s->st, e)) != MB_OK)
		goto fail;
	/* UW's locks (the /tmp one briefly, to learn the size); a writer
	 * recovers an expunge or an append a killed writer left half done */
	f = afile(s);
	if ((rc = mbi_afile_lock_open(b, &f, &s->st, e)) != MB_OK)
		goto fail;
	if (fstat(s->fd, &s->st) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot stat mailbox");
		goto fail;
	}
	s->end = s->st.st_size;
	s->pos = 0;
	tl_drop(s);
	return MB_OK;
fail:
	tx_close(b);
	return rc;
}

/* UW's CREATE makes an empty file; the first append gives it its form. */
int
tx_create(struct mb_box *b, int flavor, struct mb_err *e)
{
	struct tx_state *s;
	int rc;

	if ((rc = alloc_state(b, flavor, e)) != MB_OK) {
		tx_close(b);
		return rc;
	}
	s = state(b);
	s->fd = open(b->path,
		     O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->fd < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->final_path,
				 "cannot create mailbox");
		tx_close(b);
		return rc;
	}
	rc = MB_OK;
	if (!b->creating) {
		/* visible at once: durable before others see it */
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
		tx_close(b);
		if (!b->creating)
			unlink(b->path);
		return rc;
	}
	s->end = s->pos = 0;
	return MB_OK;
}

void
tx_close(struct mb_box *b)
{
	struct tx_state *s = state(b);
	struct mbi_afile f;

	if (s == NULL)
		return;
	f = afile(s);
	mbi_afile_close(&f, s->writing, s->wb_init);
	free(s);
	b->priv = NULL;
}

int
tx_poll(struct mb_box *b, bool *changed, struct mb_err *e)
{
	struct tx_state *s = state(b);
	struct mbi_afile f = afile(s);

	return mbi_afile_poll(b, &f, s->writing, changed, e);
}

/* ------------------------------------------------------------------ */
/* Appending                                                            */

/*
 * First append: take the /tmp lock until commit, learn what others
 * appended meanwhile, record the tail journal.
 */
static int
start_writing(struct mb_box *b, struct tx_state *s, struct mb_err *e)
{
	struct mbi_afile f = afile(s);
	int rc;

	if (s->writing)
		return MB_OK;
	if ((rc = mbi_afile_begin(b, &f, e)) != MB_OK)
		return rc;
	s->wb_init = true;
	s->writing = true;
	return MB_OK;
}

/*
 * Copy src to the spool (sp), to the mailbox's write buffer, or nowhere
 * (count_only), in the file's newline convention: mtx turns a bare LF
 * into CRLF, tenex drops the CR of each CRLF (a lone CR is kept).  *size
 * gets the converted byte count.
 */
static int
convert_text(struct mb_box *b, struct tx_state *s, struct mb_reader *src,
	     struct mbi_spool *sp, bool count_only, int64_t *size,
	     struct mb_err *e)
{
	char *in = malloc(CHUNK), *out = malloc(2 * CHUNK + 1);
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
		o = 0;
		if (n == 0 && s->flavor == TX_TENEX && prev_cr) {
			out[o++] = '\r'; /* a CR at the very end */
			prev_cr = false;
		}
		for (i = 0; i < n; i++) {
			char c = in[i];

			if (s->flavor == TX_MTX) {
				if (c == '\n' && !prev_cr)
					out[o++] = '\r';
				out[o++] = c;
				prev_cr = c == '\r';
				continue;
			}
			if (prev_cr && c != '\n')
				out[o++] = '\r';
			prev_cr = c == '\r';
			if (!prev_cr)
				out[o++] = c;
		}
		*size += (int64_t)o;
		if (!count_only && o > 0) {
			rc = sp ? mbi_spool_put(b, sp, out, o, e) :
				  mbi_wbuf_put(&s->wb, out, o, e);
			if (rc != MB_OK)
				break;
		}
		if (n == 0)
			break;
	}
	free(in);
	free(out);
	return rc;
}

/* Keyword names onto the configured list; others are dropped, as UW
 * drops them ("Unknown flag"). */
static uint64_t
map_keywords(struct mb_box *b, struct tx_state *s, const struct mb_newmsg *meta)
{
	uint64_t kw = 0;
	size_t i;

	for (i = 0; i < meta->nkeywords; i++) {
		const char *name = meta->keywords[i];
		int k = mbi_kw_find(b, name, strlen(name));

		if (k >= 0 && k < NUSERFLAGS) {
			kw |= (uint64_t)1 << k;
			continue;
		}
		mbi_diag(b, MB_DIAG_WARN, "keyword-dropped", -1, 0, meta->uid,
			 "Unknown flag: %s (a %s mailbox stores only the "
			 "keywords of the 'keywords' setting)",
			 name, fname(s));
	}
	return kw;
}

int
tx_append(struct mb_box *b, const struct mb_newmsg *meta, struct mb_reader *src,
	  uint32_t *uid_out, struct mb_err *e)
{
	struct tx_state *s = state(b);
	struct mbi_spool sp;
	char date[64], line[128];
	int64_t size, start;
	int64_t t = meta->idate >= 0 ? meta->idate : (int64_t)time(NULL);
	int tz = meta->idate >= 0 ? meta->idate_tz : 0;
	int rc, n;

	if ((rc = start_writing(b, s, e)) != MB_OK)
		return rc;
	start = s->wb.pos;

	/* the text, converted, counted before the header line is written */
	mbi_spool_init(&sp, "tenex");
	if (src->rewind != NULL) {
		rc = convert_text(b, s, src, NULL, true, &size, e);
		if (rc == MB_OK)
			rc = mb_reader_rewind(src, e);
	} else {
		rc = convert_text(b, s, src, &sp, false, &size, e);
	}
	if (rc != MB_OK)
		goto out;
	if (mb_date_imap(t, tz, date, sizeof(date)) == 0) {
		rc = mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			     "cannot format the internal date");
		goto out;
	}
	n = snprintf(line, sizeof(line), "%s,%lld;%010o%02o%s", date,
		     (long long)size, kw_to_disk(map_keywords(b, s, meta)),
		     meta->flags & MB_FLAGS_ALL,
		     s->flavor == TX_MTX ? "\r\n" : "\n");
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
	/* UW would number it next at its next open */
	if (uid_out)
		*uid_out = 0;
out:
	mbi_spool_free(&sp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Flags, commit                                                        */

/* Re-read and check the 12 flag digits of m and the newline after them. */
static int
read_status(struct mb_box *b, struct tx_state *s, const struct mb_msg *m,
	    char *st, struct mb_err *e)
{
	int nl = nl_len(s);
	int64_t off = m->text_offset - nl - FLAG_DIGITS;

	if (off <= m->offset ||
	    mbi_pread_full(s->fd, st, (size_t)(FLAG_DIGITS + nl), off) !=
		    FLAG_DIGITS + nl ||
	    !all_octal(st, FLAG_DIGITS) || st[FLAG_DIGITS + nl - 1] != '\n' ||
	    (nl == 2 && st[FLAG_DIGITS] != '\r'))
		return mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, m->offset,
			       "Invalid flags for message %u", m->seq);
	return MB_OK;
}

int
tx_set_flags(struct mb_box *b, struct mb_msg *m, unsigned flags, uint64_t kw,
	     struct mb_err *e)
{
	struct tx_state *s = state(b);
	char st[FLAG_DIGITS + 2], buf[FLAG_DIGITS + 1];
	uint32_t disk;
	int rc;

	if (kw >> (b->nkw < NUSERFLAGS ? b->nkw : NUSERFLAGS))
		return mbi_err(e, MB_FAILED, MB_ELIMIT, b->path, m->offset,
			       "a %s mailbox stores only the keywords of the "
			       "'keywords' setting",
			       fname(s));
	if ((rc = tl_take(b, s, e)) != MB_OK)
		return rc;
	if ((rc = read_status(b, s, m, st, e)) != MB_OK)
		goto out;
	/* bits of keywords we have no name for stay as they are */
	disk = octal_val(st, 10) & ~known_disk_mask(b);
	snprintf(buf, sizeof(buf), "%010o%02o", disk | kw_to_disk(kw),
		 flags & MB_FLAGS_ALL);
	rc = mbi_pwrite_all(s->fd, buf, FLAG_DIGITS,
			    m->text_offset - nl_len(s) - FLAG_DIGITS, b->path,
			    e);
	if (rc == MB_OK)
		s->flags_dirty = true;
out:
	if (!s->writing)
		tl_drop(s);
	return rc;
}

int
tx_commit(struct mb_box *b, struct mb_err *e)
{
	struct tx_state *s = state(b);
	int rc;

	if (s->wb_init && (rc = mbi_wbuf_flush(&s->wb, e)) != MB_OK)
		return rc;
	if ((s->wb_init || s->flags_dirty) && fsync(s->fd) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot write mailbox to disk");
	if (s->journal.active && (rc = mbi_tail_end(&s->journal, e)) != MB_OK)
		return rc;
	if (s->wb_init) {
		/* our messages are the file's now: the scan goes on to them */
		if (s->wb.pos > s->end) {
			s->end = s->wb.pos;
			b->scanned = false;
		}
		s->orig_size = s->wb.pos;
		mbi_wbuf_free(&s->wb);
		s->wb_init = false;
		s->writing = false;
	}
	s->flags_dirty = false;
	tl_drop(s);
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Expunge                                                              */

/* Under both exclusive locks: the kept records, back to back. */
static int
expunge_rewrite(struct mb_box *b, struct tx_state *s, int64_t fsize,
		uint32_t *expunged, struct mb_err *e)
{
	struct mbi_rewrite rw;
	int64_t dst = 0;
	uint32_t i, kept = 0;
	int rc;

	if ((rc = mbi_rewrite_begin(b->path, s->fd, &rw, e)) != MB_OK)
		return rc;
	for (i = 0; rc == MB_OK && i < b->nmsgs; i++) {
		struct mb_msg *m = &b->msgs[i];

		if (!(m->flags & MB_DELETED))
			rc = mbi_rewrite_copy(&rw, m->offset, m->size, e);
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
	if (s->pos < s->end)
		b->scanned = false;
	if (b->iter > b->nmsgs)
		b->iter = b->nmsgs;
	mbi_diag(b, MB_DIAG_INFO, "expunged", -1, 0, 0, "Expunged %u messages",
		 *expunged);
	return MB_OK;
}

int
tx_expunge(struct mb_box *b, uint32_t *expunged, struct mb_err *e)
{
	struct tx_state *s = state(b);
	struct mbi_afile f;
	uint32_t i, n = 0;
	int64_t size;
	int rc;

	*expunged = 0;
	if (b->mode & MB_STREAM)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "a streaming box cannot expunge");
	if (s->writing && (rc = tx_commit(b, e)) != MB_OK)
		return rc;
	if ((rc = mbi_scan_all(b, e)) != MB_OK)
		return rc;
	if (s->stopped)
		return mbi_afile_damaged(b, s->pos, e);
	for (i = 0; i < b->nmsgs; i++)
		if (b->msgs[i].flags & MB_DELETED)
			n++;
	if (n == 0)
		return MB_OK; /* UW: no messages deleted, no update needed */
	if ((rc = tl_take(b, s, e)) != MB_OK)
		return rc;
	f = afile(s);
	if ((rc = mbi_afile_size(b, &f, MB_FAILED, &size, e)) != MB_OK)
		goto out;
	if (flock(s->fd, LOCK_EX | LOCK_NB) < 0) {
		/* the conversion may have dropped our shared lock */
		if (s->flocked)
			flock(s->fd, LOCK_SH);
		rc = mbi_err(e, MB_RETRY, MB_ELOCKED, b->path, -1,
			     "Can't expunge because mailbox is in use by "
			     "another process");
		goto out;
	}
	rc = expunge_rewrite(b, s, size, expunged, e);
	flock(s->fd, LOCK_SH);
out:
	tl_drop(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Remove, rename                                                       */

int
tx_remove(struct mb_ctx *ctx, const char *path, struct mb_err *e)
{
	return mbi_afile_remove(ctx, path, NULL, e);
}

int
tx_rename(struct mb_ctx *ctx, const char *from, const char *to,
	  struct mb_err *e)
{
	return mbi_afile_remove(ctx, from, to, e);
}

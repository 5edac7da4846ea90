/*
 * mbx.c - `mailbag repair` for mbx mailboxes (spec section 4).
 *
 * Under the locks UW takes for an expunge that rewrites the file (the
 * /tmp lock exclusively, then flock(LOCK_EX) on the file), the size
 * chain is walked from byte 2048:
 *  - a record whose size lands on a valid internal header (or exactly
 *    on the end of the file) is intact and copied byte for byte;
 *  - where the chain breaks, the next valid internal header is searched
 *    from the message's text: found inside the claimed message, the
 *    size ate into the next one and the message is cut there; found
 *    after the claimed end, either the size was too small (the message
 *    is extended) or, when the claimed end is a line end, the damage is
 *    at the next record; past the end of the file, the size is cut to
 *    the end.  Such messages keep their date, flags, keywords and UID;
 *  - bytes that are no record (a destroyed internal header, garbage)
 *    become a message again when they hold a header block (new internal
 *    header, date from Date:, placed at the end with a UID above the
 *    last), and go to salvage files otherwise;
 *  - a damaged file header is saved to a salvage file and made again
 *    from what can be read of it;
 *  - UIDs are kept when they ascend (the last UID raised if needed),
 *    else all are given anew under a new UIDVALIDITY (UW's rule).
 * The new content is checked with the mbx driver, after a verified
 * backup of the original, and copied over the mailbox in place
 * (libmbox/rewrite.c, redo-journaled).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "repair-mbox.h"

#define HDRSIZE	    2048
#define NUSERFLAGS  30
#define MAXUSERFLAG 50
#define PID_OFF	    (HDRSIZE - 10)
#define IHDR_READ   64
#define FEXPUNGED   0x8000

enum { R_MSG, R_SALV, R_HDRSALV };

struct rec {
	int kind;
	int64_t off, end; /* the region of the original */
	int64_t text_off, text_end;
	int64_t hlen;	   /* framed: its header line, with CRLF */
	int64_t date_len;  /* framed: the date is [off, off+date_len) */
	int64_t flags_off; /* framed: the 12 hex digits of kw+flags */
	uint64_t size;	   /* framed: the size field */
	uint32_t uid, newuid;
	bool framed;	/* has its own internal header */
	bool recovered; /* made from unframed bytes */
	bool hidden;	/* fEXPUNGED */
	bool size_fixed;
	bool damaged;
	unsigned salv_no;
	char *why; /* what was wrong, or NULL */
};

struct mplan {
	struct mb_ctx *ctx;
	const char *path;
	const char *buf;
	int64_t len;
	struct rec *r;
	size_t n, cap;
	unsigned nsalv;
	bool oom;
	bool damaged;
	/* the file header */
	bool hdr_ok;
	uint32_t validity, last; /* as read (or made up) */
	uint32_t new_validity, new_last;
	char kw[NUSERFLAGS][MAXUSERFLAG + 1];
	unsigned nkw;
	char pid[10];
	bool hdr_regen;
	bool renumbered;
	bool zeros; /* recovered messages get UID 0 */
	char uid_note[300];
};

/* ------------------------------------------------------------------ */
/* Parsing                                                              */

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

struct ih {
	int64_t hlen; /* the line with its CRLF */
	int64_t date_len;
	int64_t flags_off;
	uint64_t size;
	uint32_t kw, uid;
	unsigned flags;
};

/*
 * A valid internal header line at pos, by formats/mbx.c's rules, a
 * little stricter: the size must be digits only and the date in UW's
 * form.  The size is not checked against the
 * end of the file.
 */
static bool
ihdr(const char *buf, int64_t len, int64_t pos, struct ih *h)
{
	const char *p = buf + pos, *cr, *comma, *semi, *s;
	size_t avail;
	uint64_t size = 0;
	int64_t t;
	int tz;

	if (pos < 0 || pos >= len)
		return false;
	avail = len - pos < IHDR_READ ? (size_t)(len - pos) : IHDR_READ;
	cr = memchr(p, '\r', avail);
	if (cr == NULL || cr + 1 >= p + avail || cr[1] != '\n')
		return false;
	comma = memchr(p, ',', (size_t)(cr - p));
	if (comma == NULL)
		return false;
	semi = memchr(comma + 1, ';', (size_t)(cr - comma - 1));
	if (semi == NULL || cr - semi != 22 || !all_hex(semi + 1, 12) ||
	    semi[13] != '-' || !all_hex(semi + 14, 8))
		return false;
	if (semi == comma + 1 || semi - comma - 1 > 15)
		return false;
	for (s = comma + 1; s < semi; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		size = size * 10 + (uint64_t)(*s - '0');
	}
	if (size == 0)
		return false;
	/* the date as UW writes it ("%2d-Mmm-yyyy hh:mm:ss +zzzz"): a
	 * size off by one or two would otherwise land on a header missing
	 * its first byte, or with the message's last LF, that still parses */
	if (comma - p != 26 || !(p[0] == ' ' || isdigit((unsigned char)p[0])) ||
	    !isdigit((unsigned char)p[1]) || p[2] != '-' ||
	    !mb_date_parse(p, (size_t)(comma - p), &t, &tz))
		return false;
	if (h != NULL) {
		h->hlen = cr + 2 - p;
		h->date_len = comma - p;
		h->flags_off = pos + (semi + 1 - p);
		h->size = size;
		h->kw = hex_val(semi + 1, 8);
		h->flags = hex_val(semi + 9, 4);
		h->uid = hex_val(semi + 14, 8);
	}
	return true;
}

/* The first valid internal header starting at or after from, or -1. */
static int64_t
resync(const char *buf, int64_t len, int64_t from)
{
	int64_t c = from + 22;
	struct ih h;

	while (c + 1 < len) {
		const char *cr = memmem(buf + c, (size_t)(len - c), "\r\n", 2);
		int64_t k, lf, s;

		if (cr == NULL)
			return -1;
		k = cr - buf;
		c = k + 1;
		if (k - 22 < from || buf[k - 22] != ';' || buf[k - 9] != '-')
			continue;
		/* the line start: after the previous LF, or 26 before the
		 * comma (UW's date), or anywhere that parses */
		lf = -1;
		for (s = k - 23; s >= from && s >= k - (IHDR_READ - 2); s--)
			if (buf[s] == '\n') {
				lf = s + 1;
				break;
			}
		if (lf >= from && ihdr(buf, len, lf, &h) &&
		    lf + h.hlen == k + 2)
			return lf;
		for (s = k - 23; s >= from && s > k - (IHDR_READ - 2); s--)
			if (buf[s] == ',') {
				int64_t d = s - 26;

				if (d >= from && ihdr(buf, len, d, &h) &&
				    d + h.hlen == k + 2)
					return d;
				break;
			}
		for (s = k - (IHDR_READ - 2) > from ? k - (IHDR_READ - 2) :
						      from;
		     s < k - 22; s++)
			if (ihdr(buf, len, s, &h) && s + h.hlen == k + 2)
				return s;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* The plan                                                             */

static struct rec *
new_rec(struct mplan *P, int kind, int64_t off, int64_t end)
{
	struct rec *r;

	if (P->n == P->cap) {
		size_t nc = P->cap ? P->cap * 2 : 64;
		struct rec *nr = mbi_reallocarray(P->r, nc, sizeof(*nr));

		if (nr == NULL) {
			P->oom = true;
			return NULL;
		}
		P->r = nr;
		P->cap = nc;
	}
	r = &P->r[P->n++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->off = off;
	r->end = end;
	return r;
}

#define WHY_MAX 300

static void add_why(struct rec *r, const char *fmt, ...) MBI_PRINTF(2, 3);

/* Add to r's explanation (kept only for the few records that need one,
 * so the plan stays small for a big mailbox). */
static void
add_why(struct rec *r, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (r->why == NULL && (r->why = calloc(1, WHY_MAX)) == NULL)
		return;
	n = strlen(r->why);
	if (n > 0 && n + 2 < WHY_MAX) {
		memcpy(r->why + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->why + n, WHY_MAX - n, fmt, ap);
	va_end(ap);
}

static const char *
why(const struct rec *r)
{
	return r->why ? r->why : "";
}

static void
free_plan(struct mplan *P)
{
	size_t i;

	for (i = 0; i < P->n; i++)
		free(P->r[i].why);
	free(P->r);
	P->r = NULL;
}

static void
salvage(struct mplan *P, int64_t off, int64_t end, const char *what)
{
	struct rec *r;

	if (end <= off)
		return;
	r = new_rec(P, R_SALV, off, end);
	if (r == NULL)
		return;
	r->salv_no = P->nsalv++;
	r->damaged = true;
	add_why(r, "%s", what);
	P->damaged = true;
}

static int64_t
line_end(const struct mplan *P, int64_t off, int64_t end)
{
	const char *nl = memchr(P->buf + off, '\n', (size_t)(end - off));

	return nl ? nl + 1 - P->buf : end;
}

static bool
blank_line(const char *p, int64_t n)
{
	return (n == 1 && p[0] == '\n') ||
	       (n == 2 && p[0] == '\r' && p[1] == '\n');
}

static bool
header_field(const char *p, int64_t n)
{
	int64_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == ':')
			return i > 0;
		if (c <= ' ' || c >= 127)
			return false;
	}
	return false;
}

static bool
known_field(const char *p, int64_t n)
{
	static const char *const names[] = {
		"From:",	 "Date:",     "Subject:",      "To:",
		"Message-ID:",	 "Received:", "Return-Path:",  "Sender:",
		"Cc:",		 "Reply-To:", "MIME-Version:", "Content-Type:",
		"Delivered-To:",
	};
	size_t i, k;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		k = strlen(names[i]);
		if ((size_t)n >= k && strncasecmp(p, names[i], k) == 0)
			return true;
	}
	return false;
}

/* A header block starting at o: fields up to a blank line, one known. */
static bool
header_block(const struct mplan *P, int64_t o, int64_t end)
{
	bool known = false;
	int64_t q = o;

	if (!header_field(P->buf + o, line_end(P, o, end) - o))
		return false;
	while (q < end) {
		int64_t e = line_end(P, q, end);
		const char *l = P->buf + q;

		if (blank_line(l, e - q))
			return known;
		if (l[0] == ' ' || l[0] == '\t') {
			if (q == o)
				return false;
		} else if (header_field(l, e - q)) {
			known = known || known_field(l, e - q);
		} else {
			return false;
		}
		q = e;
	}
	return false; /* no blank line: not a recognisable message */
}

/* Bytes [off, end) that are no record: a message again, or salvage. */
static void
unframed(struct mplan *P, int64_t off, int64_t end, const char *what)
{
	int64_t o, hdr = -1;
	struct rec *r;

	for (o = off; o < end; o = line_end(P, o, end))
		if (header_block(P, o, end)) {
			hdr = o;
			break;
		}
	if (hdr < 0) {
		salvage(P, off, end, what);
		return;
	}
	salvage(P, off, hdr, what);
	r = new_rec(P, R_MSG, hdr, end);
	if (r == NULL)
		return;
	r->recovered = r->damaged = true;
	r->text_off = hdr;
	r->text_end = end;
	add_why(r, "%s, recovered as a message with a new internal header",
		what);
	P->damaged = true;
}

static void
framed(struct mplan *P, int64_t pos, const struct ih *h, int64_t text_end,
       bool fixed, bool text_moved)
{
	struct rec *r = new_rec(P, R_MSG, pos, text_end);

	if (r == NULL)
		return;
	r->framed = true;
	r->text_off = text_moved ? text_end - (int64_t)h->size : pos + h->hlen;
	r->text_end = text_end;
	r->hlen = h->hlen;
	r->date_len = h->date_len;
	r->flags_off = h->flags_off;
	r->size = h->size;
	r->uid = r->newuid = h->uid;
	r->hidden = (h->flags & FEXPUNGED) != 0;
	if (fixed) {
		r->size_fixed = r->damaged = true;
		P->damaged = true;
	}
}

/*
 * The walk touches the whole mapping; let go of the pages well behind it
 * so that the resident size does not grow with the mailbox (they stay in
 * the page cache and come back on demand).
 */
#define DROP_BEHIND ((int64_t)8 << 20)

static void
drop_behind(struct mplan *P, int64_t pos, int64_t *dropped)
{
	int64_t upto = (pos - DROP_BEHIND) & ~(DROP_BEHIND - 1);

	if (upto > *dropped) {
		madvise((char *)P->buf + *dropped, (size_t)(upto - *dropped),
			MADV_DONTNEED);
		*dropped = upto;
	}
}

static void
walk(struct mplan *P)
{
	int64_t pos = HDRSIZE, len = P->len, dropped = 0;
	struct ih h;

	while (pos < len && !P->oom) {
		int64_t text, e, q;

		drop_behind(P, pos, &dropped);
		if (!ihdr(P->buf, len, pos, &h)) {
			q = resync(P->buf, len, pos + 1);
			if (q < 0)
				q = len;
			unframed(P, pos, q,
				 pos == HDRSIZE ? "no valid internal header "
						  "where the first message "
						  "starts" :
						  "no valid internal header "
						  "where the size chain "
						  "leads");
			pos = q;
			continue;
		}
		text = pos + h.hlen;
		e = (int64_t)h.size > len - text ? -1 : text + (int64_t)h.size;
		if (e == len || (e >= 0 && ihdr(P->buf, len, e, NULL))) {
			framed(P, pos, &h, e, false, false);
			pos = e;
			continue;
		}
		q = resync(P->buf, len, text);
		if (q < 0)
			q = len;
		if (e >= 0 && q > e && e - text >= 2 && P->buf[e - 2] == '\r' &&
		    P->buf[e - 1] == '\n') {
			/* the message ends well: the damage is after it */
			framed(P, pos, &h, e, false, false);
			pos = e;
			continue;
		}
		if (e >= 0 && q > e && !header_block(P, text, q) &&
		    header_block(P, q - (int64_t)h.size, q)) {
			/* bytes came in before the text: the size is right */
			framed(P, pos, &h, q, true, true);
			salvage(P, text, q - (int64_t)h.size,
				"bytes between an internal header and its "
				"message");
			if (P->n > 1 && !P->oom)
				add_why(&P->r[P->n - 2],
					"%lld bytes before its text saved",
					(long long)(q - (int64_t)h.size -
						    text));
			pos = q;
			continue;
		}
		framed(P, pos, &h, q, true, false);
		if (P->n > 0 && !P->oom) {
			struct rec *r = &P->r[P->n - 1];

			add_why(r, "size %llu %s; corrected to %lld",
				(unsigned long long)h.size,
				e < 0 ? "runs past the end of the file" :
				q < e ? "runs into the next message" :
					"ends inside the message",
				(long long)(q - text));
		}
		pos = q;
	}
}

/* ------------------------------------------------------------------ */
/* The file header                                                      */

static void
header(struct mplan *P)
{
	const char *h = P->buf;
	int64_t hl = P->len < HDRSIZE ? P->len : HDRSIZE;
	const char *p = h + 25, *end = h + (hl < PID_OFF ? hl : PID_OFF);
	bool magic = hl >= 25 && memcmp(h, "*mbx*\r\n", 7) == 0 &&
		     all_hex(h + 7, 16) && h[23] == '\r' && h[24] == '\n';
	unsigned i;

	P->hdr_ok = magic && hl == HDRSIZE;
	memset(P->pid, 0, sizeof(P->pid));
	if (P->hdr_ok)
		memcpy(P->pid, h + PID_OFF, 10);
	if (magic) {
		P->validity = hex_val(h + 7, 8);
		P->last = hex_val(h + 15, 8);
		for (i = 0; i < NUSERFLAGS && p < end; i++) {
			const char *cr = memchr(p, '\r', (size_t)(end - p));

			if (cr == NULL || cr + 1 >= end || cr[1] != '\n' ||
			    cr == p || cr - p > MAXUSERFLAG ||
			    memchr(p, '\0', (size_t)(cr - p)))
				break;
			memcpy(P->kw[i], p, (size_t)(cr - p));
			P->kw[i][cr - p] = '\0';
			P->nkw++;
			p = cr + 2;
		}
	}
	if (!P->hdr_ok) {
		struct rec *r;

		P->damaged = P->hdr_regen = true;
		if (hl > 0) {
			r = new_rec(P, R_HDRSALV, 0, hl);
			if (r != NULL) {
				r->salv_no = P->nsalv++;
				r->damaged = true;
				add_why(r, "damaged file header");
			}
		}
	}
}

static uint32_t
fresh_validity(uint32_t old)
{
	uint32_t v = (uint32_t)time(NULL);

	if (v <= old && old < UINT32_MAX)
		v = old + 1;
	return v ? v : 1;
}

/* Would the mbx driver accept these UIDs with this last UID? */
static bool
uids_ok(const struct mplan *P, uint32_t last)
{
	uint32_t prev = 0, cur = last;
	size_t i;

	for (int pass = 0; pass < 2; pass++)
		for (i = 0; i < P->n; i++) {
			const struct rec *r = &P->r[i];
			uint32_t uid = r->newuid;

			if (r->kind != R_MSG || r->recovered != (pass == 1))
				continue;
			if (r->hidden) {
				if (uid > prev)
					prev = uid;
				continue;
			}
			if (uid == 0)
				uid = ++cur;
			else if (uid <= prev || uid > cur)
				return false;
			prev = uid;
		}
	return true;
}

static void
decide(struct mplan *P)
{
	uint32_t maxuid = 0, k = 0;
	bool unassigned = false;
	size_t i;

	for (i = 0; i < P->n; i++) {
		struct rec *r = &P->r[i];

		if (r->kind != R_MSG || r->recovered)
			continue;
		if (r->uid > maxuid)
			maxuid = r->uid;
		if (r->uid == 0 && !r->hidden)
			unassigned = true;
	}
	P->new_validity = P->validity;
	P->new_last = P->last;
	if (P->hdr_regen && P->validity == 0)
		P->new_validity = fresh_validity(0);
	/* recovered messages: above the last, or numbered by UW with the
	 * unassigned ones when there are such */
	if (P->new_last < maxuid && uids_ok(P, maxuid)) {
		P->new_last = maxuid;
		P->damaged = true;
		snprintf(P->uid_note, sizeof(P->uid_note),
			 "the last UID of the file header (%u) is below a "
			 "message's UID: raised to %u",
			 P->last, maxuid);
	}
	if (uids_ok(P, P->new_last)) {
		P->zeros = unassigned;
		for (i = 0; i < P->n; i++) {
			struct rec *r = &P->r[i];

			if (r->kind == R_MSG && r->recovered)
				r->newuid = unassigned ? 0 : ++P->new_last;
		}
		if (uids_ok(P, P->new_last))
			return;
	}
	/* renumber everything, in output order */
	P->damaged = P->renumbered = true;
	P->new_validity = fresh_validity(P->validity);
	for (int pass = 0; pass < 2; pass++)
		for (i = 0; i < P->n; i++) {
			struct rec *r = &P->r[i];

			if (r->kind != R_MSG || r->recovered != (pass == 1))
				continue;
			r->newuid = ++k;
			if (r->framed && r->uid != r->newuid) {
				r->damaged = true;
				add_why(r, "UID %u renumbered to %u", r->uid,
					r->newuid);
			}
		}
	P->new_last = k;
	snprintf(P->uid_note, sizeof(P->uid_note),
		 "UIDs do not ascend (repeated, out of order or above the "
		 "last UID): new UIDVALIDITY %u, UIDs 1 to %u",
		 P->new_validity, k);
}

static bool
rec_verbatim(const struct rec *r)
{
	return r->kind == R_MSG && r->framed && !r->size_fixed &&
	       r->newuid == r->uid;
}

static bool
hdr_verbatim(const struct mplan *P)
{
	return !P->hdr_regen && P->new_validity == P->validity &&
	       P->new_last == P->last;
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */

static void
build_header(const struct mplan *P, char *h)
{
	char tmp[32];
	char *p;
	unsigned i;

	memset(h, 0, HDRSIZE);
	memcpy(h, "*mbx*\r\n", 7);
	snprintf(tmp, sizeof(tmp), "%08x%08x", P->new_validity, P->new_last);
	memcpy(h + 7, tmp, 16);
	memcpy(h + 23, "\r\n", 2);
	p = h + 25;
	for (i = 0; i < NUSERFLAGS; i++) {
		if (i < P->nkw) {
			size_t n = strlen(P->kw[i]);

			memcpy(p, P->kw[i], n);
			p += n;
		}
		*p++ = '\r';
		*p++ = '\n';
	}
	memcpy(h + PID_OFF, P->pid, 10);
}

/* The internal header line of r as written. */
static int
ihdr_line(const struct mplan *P, const struct rec *r, char *line, size_t size)
{
	int64_t len = r->text_end - r->text_off;

	if (r->framed)
		return snprintf(line, size, "%.*s,%lld;%.12s-%08x\r\n",
				(int)r->date_len, P->buf + r->off,
				(long long)len, P->buf + r->flags_off,
				r->newuid);
	{
		char date[64];
		int64_t t = (int64_t)time(NULL);
		int tz = 0;
		int64_t o = r->text_off;

		/* the date of its Date: field, or now */
		while (o < r->text_end) {
			int64_t e = line_end(P, o, r->text_end);

			if (blank_line(P->buf + o, e - o))
				break;
			if (e - o > 5 &&
			    strncasecmp(P->buf + o, "Date:", 5) == 0) {
				int64_t a = o + 5, b = e;

				while (b > a && (P->buf[b - 1] == '\n' ||
						 P->buf[b - 1] == '\r'))
					b--;
				while (a < b &&
				       (P->buf[a] == ' ' || P->buf[a] == '\t'))
					a++;
				if (!mb_date_parse(P->buf + a, (size_t)(b - a),
						   &t, &tz)) {
					t = (int64_t)time(NULL);
					tz = 0;
				}
				break;
			}
			o = e;
		}
		if (mb_date_imap(t, tz, date, sizeof(date)) == 0)
			mb_date_imap((int64_t)time(NULL), 0, date,
				     sizeof(date));
		return snprintf(line, size, "%s,%lld;%08x%04x-%08x\r\n", date,
				(long long)len, 0u, 0u, r->newuid);
	}
}

struct vcheck {
	unsigned damage;
	char first[300];
};

static void
vcheck_diag(void *arg, const struct mb_diag *d)
{
	struct vcheck *v = arg;

	if (d->level != MB_DIAG_DAMAGE)
		return;
	if (v->damage++ == 0)
		snprintf(v->first, sizeof(v->first), "at byte %lld: %s",
			 (long long)d->offset, d->text ? d->text : d->code);
}

static int
verify_new(const char *tmp, const char *mailbox, uint32_t want,
	   struct mb_err *e)
{
	struct mb_ctx *c = mb_ctx_new();
	struct mb_box *box = NULL;
	struct mb_msg *mp;
	struct vcheck v;
	struct mb_err e2;
	uint32_t n = 0;
	int rc;

	if (c == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, mailbox, -1,
			       "out of memory");
	memset(&v, 0, sizeof(v));
	mb_ctx_set_diag(c, vcheck_diag, &v);
	mb_err_clear(&e2);
	rc = mb_open(c, tmp, "mbx",
		     MB_RDONLY | MB_NOLOCK | MB_CHECK | MB_STREAM, &box, &e2);
	if (rc == MB_OK) {
		while ((rc = mb_next(box, &mp, &e2)) == MB_OK)
			n++;
		mb_abort(&box);
	}
	mb_ctx_free(&c);
	if (rc != MB_END && rc != MB_OK)
		return mbi_err(e, MB_FAILED, MB_EINTERNAL, mailbox, -1,
			       "the repaired text does not read back (%s); "
			       "the mailbox was not changed",
			       e2.msg);
	if (v.damage > 0 || n != want)
		return mbi_err(e, MB_FAILED, MB_EINTERNAL, mailbox, -1,
			       "the repaired text is not clean (%u damage, %u "
			       "of %u messages%s%s); the mailbox was not "
			       "changed",
			       v.damage, n, want, v.damage ? ": " : "",
			       v.first);
	return MB_OK;
}

static int
write_all(struct mplan *P, struct mbi_rewrite *rw, uint32_t want,
	  struct mb_err *e)
{
	char h[HDRSIZE], line[128];
	size_t i;
	int rc, n;

	if (hdr_verbatim(P)) {
		rc = mbi_rewrite_copy(rw, 0, HDRSIZE, e);
	} else {
		build_header(P, h);
		rc = mbi_wbuf_put(&rw->wb, h, HDRSIZE, e);
	}
	if (rc != MB_OK)
		return rc;
	for (int pass = 0; pass < 2; pass++)
		for (i = 0; i < P->n; i++) {
			struct rec *r = &P->r[i];

			if (r->kind != R_MSG || r->recovered != (pass == 1))
				continue;
			if (rec_verbatim(r)) {
				rc = mbi_rewrite_copy(rw, r->off,
						      r->end - r->off, e);
			} else {
				n = ihdr_line(P, r, line, sizeof(line));
				if (n <= 0 || (size_t)n >= sizeof(line))
					return mbi_err(
						e, MB_FATAL, MB_EINTERNAL,
						P->path, r->off,
						"internal header too long");
				rc = mbi_wbuf_put(&rw->wb, line, (size_t)n, e);
				if (rc == MB_OK)
					rc = mbi_rewrite_copy(
						rw, r->text_off,
						r->text_end - r->text_off, e);
			}
			if (rc != MB_OK)
				return rc;
		}
	if ((rc = mbi_wbuf_flush(&rw->wb, e)) != MB_OK)
		return rc;
	return verify_new(rw->tmp, P->path, want, e);
}

/* ------------------------------------------------------------------ */
/* Patching in place                                                    */

/*
 * Most damage leaves nearly all of a mailbox where it is, so rather than
 * copying a gigabyte to move bytes by a few, the repair can patch it:
 * a message whose header needs new values gets them in a line of the
 * same length (the size zero-padded, which UW's strtoul reads alike);
 * bytes that are no message (already saved to salvage files) become a
 * hidden-expunged record (flag 0x8000) covering exactly their place,
 * which every mbx reader skips and UW reclaims at its next expunge with
 * exclusive access, as it does its own hidden expunges; a recovered
 * message is copied after the last one with its new header, and its old
 * place becomes such a record.  When some piece does not fit (a region
 * shorter than an internal header, a size needing more digits than its
 * field has), the whole file is rewritten instead.
 */

#define DATE_LEN    26 /* UW's "%2d-Mmm-yyyy hh:mm:ss +zzzz" */
#define IH_FIXED    (1 + 1 + 12 + 1 + 8 + 2) /* ",", ";", flags, "-", UID, CRLF */
#define SIZE_DIGITS 15			     /* the longest size ihdr() takes */

static int
ndigits(uint64_t v)
{
	int d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* A hidden-expunged record exactly span bytes long with this UID: its
 * line, or 0. */
static int
filler_line(int64_t span, uint32_t uid, char *line, size_t size)
{
	char date[64];
	int d;

	if (mb_date_imap((int64_t)time(NULL), 0, date, sizeof(date)) !=
	    DATE_LEN)
		return 0;
	for (d = 1; d <= SIZE_DIGITS; d++) {
		int64_t text = span - (DATE_LEN + IH_FIXED + d);

		if (text < 1)
			return 0;
		if (ndigits((uint64_t)text) <= d)
			return snprintf(line, size,
					"%s,%0*lld;%08x%04x-%08x\r\n", date, d,
					(long long)text, 0u,
					(unsigned)FEXPUNGED, uid);
	}
	return 0;
}

/* Framed r's header line with its size field d digits wide, or 0. */
static int
ihdr_line_width(const struct mplan *P, const struct rec *r, int d, char *line,
		size_t size)
{
	int64_t len = r->text_end - r->text_off;

	if (!r->framed || d < ndigits((uint64_t)len) || d > SIZE_DIGITS)
		return 0;
	return snprintf(line, size, "%.*s,%0*lld;%.12s-%08x\r\n",
			(int)r->date_len, P->buf + r->off, d, (long long)len,
			P->buf + r->flags_off, r->newuid);
}

struct patcher {
	struct mplan *P;
	int fd;
	bool write; /* false: only see whether it all fits */
	struct mb_err *e;
	bool failed;	   /* an I/O error (e is set) */
	uint32_t prev_uid; /* the UID a reader saw last, in file order */
	bool unnumbered;   /* a visible message without UID came before */
	size_t next;	   /* the record after the current one */
	int64_t tail;	   /* the new end of the file */
	uint32_t fillers;
};

static bool
put(struct patcher *W, int64_t off, const void *p, size_t n)
{
	if (!W->write)
		return true;
	if (mbi_pwrite_all(W->fd, p, n, off, W->P->path, W->e) != MB_OK) {
		W->failed = true;
		return false;
	}
	return true;
}

/*
 * The UID of the first record a reader meets after the records before
 * W->next: 0 when that one has none (a reader gives it the next one,
 * above the last UID), the last UID + 1 at the end.
 */
static uint32_t
next_uid(const struct patcher *W)
{
	const struct mplan *P = W->P;
	size_t i;

	for (i = W->next; i < P->n; i++)
		if (P->r[i].kind == R_MSG && !P->r[i].recovered)
			return P->r[i].newuid;
	for (i = 0; i < P->n; i++)
		if (P->r[i].kind == R_MSG && P->r[i].recovered)
			return P->r[i].newuid;
	return P->new_last + 1;
}

/*
 * A placeholder over [a, b) (nothing when empty).  Readers (UW's too)
 * hold a hidden record's UID to the rules of the visible ones, and give
 * one without a UID the next free one, which would break the order of
 * those after it; so it takes the UID after the previous one and fits
 * only where the UIDs around it leave that free.
 */
static bool
fill(struct patcher *W, int64_t a, int64_t b)
{
	char line[IHDR_READ + 1];
	uint32_t uid = W->prev_uid + 1, nx;
	int n;

	if (b <= a)
		return true;
	nx = next_uid(W);
	if (W->unnumbered || uid > W->P->new_last || (nx != 0 && uid >= nx))
		return false;
	W->prev_uid = uid;
	n = filler_line(b - a, uid, line, sizeof(line));
	if (n <= 0)
		return false;
	W->fillers++;
	return put(W, a, line, (size_t)n);
}

/* Is r a salvage region inside the framed message before it (the bytes
 * between a header and its text)? */
static bool
nested(const struct mplan *P, size_t i)
{
	const struct rec *r = &P->r[i], *m = i > 0 ? &P->r[i - 1] : NULL;

	return r->kind == R_SALV && m != NULL && m->kind == R_MSG &&
	       m->framed && r->off >= m->off && r->end <= m->end;
}

/* A reader has met record i (framed, in place). */
static void
seen_uid(struct patcher *W, const struct rec *r, size_t i)
{
	W->next = i + 1;
	if (r->newuid != 0 && r->newuid > W->prev_uid)
		W->prev_uid = r->newuid;
	else if (r->newuid == 0 && !r->hidden)
		W->unnumbered = true;
}

static bool
patch_all(struct patcher *W)
{
	struct mplan *P = W->P;
	char line[IHDR_READ * 2];
	int64_t fa = -1, fb = -1, tail = P->len;
	size_t i;
	int n;

	W->fillers = 0;
	if (P->len < HDRSIZE)
		return false;
	/* 1. recovered messages after the last one, while their bytes are
	 * still where they were */
	for (i = 0; i < P->n; i++) {
		const struct rec *r = &P->r[i];
		int64_t len = r->text_end - r->text_off;

		if (r->kind != R_MSG || !r->recovered)
			continue;
		n = ihdr_line(P, r, line, sizeof(line));
		if (n <= 0 || (size_t)n >= sizeof(line))
			return false;
		if (!put(W, tail, line, (size_t)n) ||
		    !put(W, tail + n, P->buf + r->text_off, (size_t)len))
			return false;
		tail += n + len;
	}
	/* 2. the records, in place */
	W->prev_uid = 0;
	W->unnumbered = false;
	for (i = 0; i < P->n; i++) {
		const struct rec *r = &P->r[i];

		W->next = i;
		if (r->kind == R_HDRSALV || nested(P, i))
			continue;
		if (r->kind == R_SALV || r->recovered) {
			if (fa >= 0 && fb == r->off) {
				fb = r->end;
			} else {
				if (!fill(W, fa, fb))
					return false;
				fa = r->off;
				fb = r->end;
			}
			continue;
		}
		if (!fill(W, fa, fb))
			return false;
		fa = fb = -1;
		if (rec_verbatim(r)) {
			seen_uid(W, r, i);
			continue;
		}
		if (r->text_off == r->off + r->hlen) {
			seen_uid(W, r, i);
			n = ihdr_line_width(
				P, r, (int)(r->hlen - r->date_len - IH_FIXED),
				line, sizeof(line));
			if (n != r->hlen || !put(W, r->off, line, (size_t)n))
				return false;
		} else {
			/* bytes came in between the header and the text:
			 * the header goes right before the text, a
			 * placeholder before it */
			int64_t hs;

			n = ihdr_line_width(
				P, r,
				ndigits((uint64_t)(r->text_end - r->text_off)),
				line, sizeof(line));
			hs = r->text_off - n;
			if (n <= 0 || hs < r->off || !fill(W, r->off, hs) ||
			    !put(W, hs, line, (size_t)n))
				return false;
			seen_uid(W, r, i);
		}
	}
	W->next = P->n;
	if (!fill(W, fa, fb))
		return false;
	/* 3. the file header */
	if (!hdr_verbatim(P)) {
		char h[HDRSIZE];

		build_header(P, h);
		if (!put(W, 0, h, HDRSIZE))
			return false;
	}
	W->tail = tail;
	return true;
}

/*
 * Patch the mailbox (fd, under the exclusive locks) after the verified
 * backup: guarded by an undo record naming the backup, so a killed run
 * leaves the original for the next writer to restore.
 */
static int
patch_in_place(struct mplan *P, int fd, const char *backup, uint32_t want,
	       struct rp_result *res, struct mb_err *e)
{
	struct patcher W = { .P = P, .fd = fd, .write = true, .e = e };
	int rc;

	rc = mbi_rewrite_guard(P->path, fd, backup, P->len, e);
	if (rc != MB_OK)
		return rc;
	if (!patch_all(&W) || fsync(fd) < 0) {
		if (!W.failed)
			mbi_err_sys(e, MB_FAILED, errno ? errno : EIO, P->path,
				    "cannot write mailbox to disk");
		goto restore;
	}
	rc = verify_new(P->path, P->path, want, e);
	if (rc != MB_OK)
		goto restore;
	mbi_rewrite_unguard(P->path, fd);
	res->in_place = true;
	res->placeholders = W.fillers;
	return MB_OK;
restore : {
	struct mb_err e2;
	bool redone = false;

	if (mbi_rewrite_recover(P->path, fd, &redone, &e2) != MB_OK)
		return mbi_err(e, MB_FATAL, e2.code, P->path, -1,
			       "%s; and putting the original back "
			       "failed too: %s (it is in %s)",
			       e->msg, e2.msg, backup);
}
	return MB_FAILED;
}

/* ------------------------------------------------------------------ */
/* Report                                                               */

static void
report_plan(struct mplan *P, struct rp_salvage *sv, rp_report_fn fn, void *arg,
	    struct rp_result *res)
{
	int64_t koff = -1, kend = 0;
	uint32_t kn = 0;
	size_t i;
	char text[700], file[PATH_MAX + 32];

	if (!P->damaged) {
		uint32_t n = 0;

		for (i = 0; i < P->n; i++)
			if (P->r[i].kind == R_MSG && !P->r[i].hidden)
				n++;
		rp_report(fn, arg, RP_KEPT, 0, P->len, n, NULL,
			  "nothing damaged; left as it is", false);
		res->kept = res->messages = n;
		return;
	}
	if (!hdr_verbatim(P) || P->uid_note[0]) {
		snprintf(text, sizeof(text),
			 "%s file header: UIDVALIDITY %u, last UID %u, %u "
			 "keyword%s%s%s%s",
			 P->hdr_regen ? "made a new" : "rewrote the",
			 P->new_validity, P->new_last, P->nkw,
			 P->nkw == 1 ? "" : "s", P->uid_note[0] ? " (" : "",
			 P->uid_note, P->uid_note[0] ? ")" : "");
		rp_report(fn, arg, RP_PSEUDO, 0,
			  P->len < HDRSIZE ? P->len : HDRSIZE, 0, NULL, text,
			  true);
	}
	if (hdr_verbatim(P))
		rp_report(fn, arg, RP_KEPT, 0, HDRSIZE, 0, NULL,
			  "file header copied as it was", false);
	for (i = 0; i <= P->n; i++) {
		struct rec *r = i < P->n ? &P->r[i] : NULL;

		if (r != NULL && rec_verbatim(r)) {
			if (koff < 0)
				koff = r->off;
			kend = r->end;
			if (!r->hidden) {
				kn++;
				res->kept++;
			}
			continue;
		}
		if (koff >= 0) {
			snprintf(text, sizeof(text),
				 "%u message%s copied as they were", kn,
				 kn == 1 ? "" : "s");
			rp_report(fn, arg, RP_KEPT, koff, kend - koff, kn, NULL,
				  text, false);
			koff = -1;
			kn = 0;
		}
		if (r == NULL)
			break;
		switch (r->kind) {
		case R_SALV:
		case R_HDRSALV:
			rp_salvage_name(sv, r->salv_no, file, sizeof(file));
			snprintf(text, sizeof(text), "%s: not a message, saved",
				 why(r));
			rp_report(fn, arg, RP_SALVAGED, r->off, r->end - r->off,
				  0, file, text, true);
			res->salvaged++;
			break;
		case R_MSG:
			if (r->recovered) {
				if (r->newuid)
					add_why(r,
						"UID %u, after the last "
						"message",
						r->newuid);
				else
					add_why(r, "placed after the last "
						   "message, its UID given "
						   "by the next read/write "
						   "open");
			}
			rp_report(fn, arg,
				  r->recovered ? RP_RECOVERED : RP_CHANGED,
				  r->off, r->end - r->off, r->hidden ? 0 : 1,
				  NULL, why(r), r->damaged);
			if (r->recovered)
				res->recovered++;
			else if (!r->hidden)
				res->changed++;
			break;
		}
	}
	res->messages = res->kept + res->changed + res->recovered;
}

/* ------------------------------------------------------------------ */

bool
rp_mbx_looks(const char *buf, size_t n)
{
	if (n >= 5 && memcmp(buf, "*mbx*", 5) == 0)
		return true;
	return n > HDRSIZE && ihdr(buf, (int64_t)n, HDRSIZE, NULL);
}

int
rp_repair_mbx(struct mb_ctx *ctx, const char *path, const struct rp_opts *o,
	      rp_report_fn fn, void *arg, struct rp_result *res,
	      struct mb_err *e)
{
	struct mplan P;
	struct stat st;
	struct mbi_tmplock tl = { .fd = -1 };
	struct rp_salvage sv;
	struct mbi_rewrite rw;
	void *map = NULL;
	volatile sig_atomic_t bus = 0;
	int fd, rc;
	bool flocked = false;
	uint32_t want = 0;
	size_t i;

	memset(&P, 0, sizeof(P));
	memset(&rw, 0, sizeof(rw));
	P.ctx = ctx;
	P.path = path;
	snprintf(res->format, sizeof(res->format), "mbx");

	fd = open(path, (o->dry_run ? O_RDONLY : O_RDWR) | O_CLOEXEC |
				O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot open mailbox");
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mbi_err(e, MB_FAILED, MB_EFORMAT, path, -1,
			       "not a regular file");
	}
	if (o->dry_run) {
		/* a reader's locks: the session's shared flock, and the
		 * /tmp lock while reading, when it can be had */
		rc = mbi_flock(fd, LOCK_SH, ctx->lock_timeout, path, e);
		if (rc != MB_OK)
			goto out;
		flocked = true;
		if (mbi_tmplock_open(&st, &tl, e) != MB_OK ||
		    mbi_tmplock_lock(&tl, LOCK_EX, ctx->lock_timeout, e) !=
			    MB_OK) {
			if (tl.fd >= 0)
				close(tl.fd);
			tl.fd = -1;
			rc = MB_OK;
			mb_err_clear(e);
		}
	} else {
		/* UW's locks for an expunge that rewrites the file */
		rc = mbi_tmplock_open(&st, &tl, e);
		if (rc == MB_OK)
			rc = mbi_tmplock_lock(&tl, LOCK_EX, ctx->lock_timeout,
					      e);
		if (rc != MB_OK)
			goto out;
		mbi_tmplock_write_pid(&tl);
		rc = mbi_flock(fd, LOCK_EX, ctx->lock_timeout, path, e);
		if (rc != MB_OK)
			goto out;
		flocked = true;
		rc = rp_recover(path, fd, fn, arg, e);
		if (rc != MB_OK)
			goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, path,
				 "cannot stat mailbox");
		goto out;
	}
	res->size_before = res->size_after = st.st_size;
	P.len = st.st_size;
	rp_salvage_init(&sv, path, o->salvage_dir);
	snprintf(res->salvage_dir, sizeof(res->salvage_dir), "%s", sv.dir);
	if (P.len == 0) {
		rp_report(fn, arg, RP_KEPT, 0, 0, 0, NULL,
			  "empty file; nothing to do", false);
		rc = MB_OK;
		goto out;
	}
	/* guarded: a program that ignores our locks and truncates the
	 * file makes this an error, not a SIGBUS */
	map = mbi_map_ro(fd, 0, (size_t)P.len, &bus);
	if (map == NULL) {
		rc = mbi_err_sys(e, MB_FAILED, errno ? errno : ENOMEM, path,
				 "cannot map mailbox");
		goto out;
	}
	P.buf = map;

	header(&P);
	walk(&P);
	if (!P.oom)
		decide(&P);
	if (P.oom) {
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1, "out of memory");
		goto out;
	}
	res->damaged = P.damaged;
	res->renumbered = P.renumbered;
	res->uidvalidity = P.new_validity;
	report_plan(&P, &sv, fn, arg, res);
	if (!P.damaged || o->dry_run) {
		rc = MB_OK;
		goto out;
	}

	/* 1. the verified backup, kept */
	rc = rp_backup(path, fd, P.len, &st, NULL, res->backup,
		       sizeof(res->backup), e);
	if (rc != MB_OK)
		goto out;
	/* 2. the salvage files */
	for (i = 0; i < P.n; i++) {
		struct rec *r = &P.r[i];

		if (r->kind != R_SALV && r->kind != R_HDRSALV)
			continue;
		rc = rp_salvage_write(&sv, r->salv_no, P.buf + r->off,
				      (size_t)(r->end - r->off), e);
		if (rc != MB_OK)
			goto out;
	}
	for (i = 0; i < P.n; i++)
		if (P.r[i].kind == R_MSG && !P.r[i].hidden)
			want++;
	/* 3a. patched in place where everything fits */
	if (!o->compact) {
		struct patcher W = {
			.P = &P, .fd = fd, .write = false, .e = e
		};

		if (patch_all(&W)) {
			rc = patch_in_place(&P, fd, res->backup, want, res, e);
			if (rc == MB_OK) {
				res->written = true;
				if (fstat(fd, &st) == 0)
					res->size_after = st.st_size;
			}
			goto out;
		}
	}
	/* 3b. else the new content, checked, then copied over in place */
	if (bus) {
		rc = rp_shrank(path, e);
		goto out;
	}
	rc = mbi_rewrite_begin(path, fd, &rw, e);
	if (rc != MB_OK)
		goto out;
	rc = write_all(&P, &rw, want, e);
	if (rc != MB_OK) {
		mbi_rewrite_abort(&rw);
		goto out;
	}
	mbi_unmap(map, (size_t)P.len);
	map = NULL;
	if (bus) {
		mbi_rewrite_abort(&rw);
		rc = rp_shrank(path, e);
		goto out;
	}
	rc = mbi_rewrite_commit(&rw, e);
	if (rc != MB_OK) {
		mbi_rewrite_abort(&rw);
		goto out;
	}
	res->written = true;
	if (fstat(fd, &st) == 0)
		res->size_after = st.st_size;
	rc = MB_OK;
out:
	if (map != NULL)
		mbi_unmap(map, (size_t)P.len);
	if (flocked)
		flock(fd, LOCK_UN);
	if (tl.fd >= 0)
		mbi_tmplock_release(&tl);
	close(fd);
	free_plan(&P);
	return rc;
}

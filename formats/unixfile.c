/*
 * unixfile.c - scanner, status headers, message reader and writer shared
 * by the unix (mbox) and mmdf drivers.
 *
 * Reading streams the file through one buffer: memory is bounded by the
 * longest line kept whole (the rest of a longer line is passed through
 * in pieces), never by the mailbox.  What UW keeps in headers (section
 * 2.5 of shared/spec/uw-formats.md) is parsed exactly as UW parses it:
 * exact-case names, the R O D F A T letters in Status and X-Status,
 * X-Keywords names, X-UID, and X-IMAP / X-IMAPbase in message 1 only.
 *
 * Writing a new mailbox builds it under a temporary name (the core
 * publishes it); appending to an existing one happens in place under
 * UW's locks (the /tmp lock for the session, dot-lock and flock around
 * the write) with a tail journal, so a killed append is cut off by the
 * next writer and never left half in the mailbox.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unixfile.h"

#define RD_CHUNK       (1u << 20) /* bytes read at a time */
#define LINE_KEEP      (4u << 20) /* a longer line is handled in pieces */
#define PSEUDO_RESERVE 3400	  /* room for 64 keywords in X-IMAP */
#define SENDER_MAX     512

/* Internal header ids (bit positions). */
enum {
	H_STATUS = 1,
	H_XSTATUS,
	H_XKEYWORDS,
	H_XUID,
	H_XIMAP,
	H_XIMAPBASE,
};

static const struct {
	const char *name;
	size_t len;
} internal_hdrs[] = {
	[H_STATUS] = { "Status:", 7 },
	[H_XSTATUS] = { "X-Status:", 9 },
	[H_XKEYWORDS] = { "X-Keywords:", 11 },
	[H_XUID] = { "X-UID:", 6 },
	[H_XIMAP] = { "X-IMAP:", 7 },
	[H_XIMAPBASE] = { "X-IMAPbase:", 11 },
};

int
ux_internal_header(const char *line, size_t len)
{
	int i;

	if (len < 6 || (line[0] != 'S' && line[0] != 'X'))
		return 0;
	for (i = H_STATUS; i <= H_XIMAPBASE; i++)
		if (len >= internal_hdrs[i].len &&
		    memcmp(line, internal_hdrs[i].name, internal_hdrs[i].len) ==
			    0)
			return i;
	return 0;
}

/* The same names in another case or spacing: UW discards them. */
static int
bogus_internal_header(const char *line, size_t len)
{
	int i;
	size_t n;

	for (i = H_STATUS; i <= H_XIMAPBASE; i++) {
		n = internal_hdrs[i].len - 1; /* without the colon */
		if (len > n &&
		    strncasecmp(line, internal_hdrs[i].name, n) == 0) {
			size_t k = n;

			while (k < len && (line[k] == ' ' || line[k] == '\t'))
				k++;
			if (k < len && line[k] == ':')
				return i;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Buffered line reader over [start, end) of a file.                    */

struct lr {
	int fd;
	const char *path;
	char *buf;
	size_t cap, len, pos;
	int64_t base;	      /* file offset of buf[0] */
	int64_t end;	      /* stop here */
	bool mid_line;	      /* the previous piece was a cut line */
	bool saw_nul, saw_cr; /* seen in header lines so far */
	/* mapped mode: buf points into a window of the file mapped at
	 * map_off; no copies, and the window slides with the reader */
	char *map;
	size_t map_len;
	int64_t map_off;
	bool mapped;
	volatile sig_atomic_t bus; /* the file shrank under the window */
	/* a long scan maps its whole range at once and has a scout
	 * (scout.c) search it ahead; zap: pages before it are given back */
	struct mbi_scout *scout;
	bool scout_tried;
	int64_t zap;
};

/* Bytes kept before pos when the buffer moves, so the scanner can look
 * at the line ends just before a From line. */
#define LOOKBEHIND 8

/* buf of a mapped reader that has no window in place yet */
static char lr_empty[1];

static int64_t map_min(void);
struct lr;
static ssize_t lr_fill(struct lr *r, struct mb_err *e);

static int
lr_init(struct lr *r, int fd, const char *path, int64_t start, int64_t end)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->path = path;
	if (end - start >= map_min()) {
		/* a whole-mailbox scan: map windows of the file instead */
		r->mapped = true;
		r->buf = lr_empty;
		r->base = start;
		r->end = end;
		return 0;
	}
	/* a whole message's reader needs no more than the message: a 1 MiB
	 * buffer per message would cost page faults for every message */
	r->cap = end - start + 64 < (int64_t)RD_CHUNK ?
			 (size_t)(end - start + 64) :
			 RD_CHUNK;
	if (r->cap < 4096)
		r->cap = 4096;
	r->buf = malloc(r->cap);
	r->base = start;
	r->end = end;
	return r->buf ? 0 : -1;
}

static void
lr_scout_stop(struct lr *r)
{
	mbi_scout_stop(r->scout);
	r->scout = NULL;
}

static void
lr_free(struct lr *r)
{
	lr_scout_stop(r);
	if (r->mapped) {
		mbi_unmap(r->map, r->map_len);
		r->map = NULL;
	} else {
		free(r->buf);
	}
	r->buf = NULL;
	r->mapped = false;
}

/* A mapped reader's buf for its base: inside the window when the window
 * holds base, else empty until lr_fill maps a window there. */
static void
lr_place(struct lr *r)
{
	if (r->map != NULL && r->base >= r->map_off &&
	    r->base < r->map_off + (int64_t)r->map_len)
		r->buf = r->map + (r->base - r->map_off);
	else
		r->buf = lr_empty;
}

/* Offset of the next unread byte. */
static int64_t
lr_tell(const struct lr *r)
{
	return r->base + (int64_t)r->pos;
}

static void
lr_seek(struct lr *r, int64_t off)
{
	if (off >= r->base && off <= r->base + (int64_t)r->len) {
		r->pos = (size_t)(off - r->base);
	} else {
		r->base = off;
		r->len = r->pos = 0;
		if (r->mapped)
			lr_place(r);
	}
	r->mid_line = false;
}

/* Forget what is buffered: the next fill reads [off, end) anew. */
static void
lr_reset(struct lr *r, int64_t off, int64_t end)
{
	lr_scout_stop(r); /* what it found is of the old bytes */
	r->base = off;
	r->end = end;
	r->len = r->pos = 0;
	if (r->mapped)
		lr_place(r);
	r->mid_line = false;
}

/* A size threshold from the environment: NAME in bytes, 0 for never,
 * else 16 MiB.  Read at every reader's start, which is cheap next to
 * the scan. */
static int64_t
env_min(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long long n;

	if (v != NULL && *v != '\0') {
		n = strtoll(v, &end, 10);
		if (*end == '\0' && n >= 0)
			return n == 0 ? INT64_MAX : n;
	}
	return (int64_t)16 << 20;
}

/* Scans of at least this many bytes map the file.  MAILBAG_MMAP_MIN
 * overrides it (tests run every scan mapped with 1; 0 turns mapping
 * off). */
static int64_t
map_min(void)
{
	return env_min("MAILBAG_MMAP_MIN");
}

/* Mapped scans of at least this many bytes get a scout (scout.c) on a
 * second CPU.  MAILBAG_SCOUT_MIN overrides it (1: every mapped scan; 0:
 * never). */
static int64_t
scout_min(void)
{
	return env_min("MAILBAG_SCOUT_MIN");
}

#define MAP_WINDOW ((size_t)16 << 20) /* bytes mapped at a time */
#define ZAP_MARGIN ((size_t)4 << 20)  /* whole mappings: see lr_fill_mapped */

/* The file changed under the mapping: say so, once. */
static ssize_t
lr_bus(struct lr *r, struct mb_err *e)
{
	mbi_err(e, MB_FATAL, MB_ECHANGED, r->path, r->base + (int64_t)r->len,
		"mailbox shrank while it was being read (another program "
		"rewrote it?)");
	return -1;
}

/* Fall back to reading, keeping what is buffered. */
static ssize_t
lr_unmap(struct lr *r, struct mb_err *e)
{
	size_t cap = r->len + RD_CHUNK;
	char *p = malloc(cap);

	if (p == NULL) {
		mbi_err(e, MB_FATAL, MB_ENOMEM, r->path, -1, "out of memory");
		return -1;
	}
	if (r->len > 0)
		memcpy(p, r->buf, r->len);
	if (r->bus) {
		free(p);
		return lr_bus(r, e);
	}
	lr_scout_stop(r);
	mbi_unmap(r->map, r->map_len);
	r->map = NULL;
	r->mapped = false;
	r->buf = p;
	r->cap = cap;
	return lr_fill(r, e);
}

/*
 * lr_fill for a mapped reader: the same contract, but "reading" only
 * moves the end of the buffered range forward within the mapped window,
 * and dropping consumed bytes only moves buf.  When the range would leave
 * the window, a new window is mapped from the page holding base.
 */
static ssize_t
lr_fill_mapped(struct lr *r, struct mb_err *e)
{
	int64_t fpos;
	size_t want;

	if (r->bus)
		return lr_bus(r, e);
	if (r->pos > LOOKBEHIND) {
		size_t drop = r->pos - LOOKBEHIND;

		r->buf += drop;
		r->base += (int64_t)drop;
		r->len -= drop;
		r->pos = LOOKBEHIND;
		/* a whole-range mapping (windows are never larger): give
		 * back the pages well behind, so memory stays that of a
		 * window (a look back there faults them in again) */
		if (r->map_len > MAP_WINDOW)
			mbi_map_release(r->map, r->map_off,
					r->base - (int64_t)ZAP_MARGIN, &r->zap);
	}
	if (r->len >= LINE_KEEP)
		return 0; /* caller cuts the line, as lr_fill does */
	fpos = r->base + (int64_t)r->len;
	if (fpos >= r->end) {
		struct stat st;

		/* bytes past a shrunk end read as zeros without a fault
		 * when they share the last page: look at the size */
		if (fstat(r->fd, &st) == 0 && st.st_size < r->end)
			return lr_bus(r, e);
		return 0;
	}
	want = RD_CHUNK;
	if ((int64_t)want > r->end - fpos)
		want = (size_t)(r->end - fpos);
	if (r->buf == lr_empty || r->base < r->map_off ||
	    fpos + (int64_t)want > r->map_off + (int64_t)r->map_len) {
		int64_t off = r->base & ~(int64_t)(sysconf(_SC_PAGESIZE) - 1);
		size_t len = MAP_WINDOW;
		char *p;

		if ((int64_t)len > r->end - off)
			len = (size_t)(r->end - off);
		p = mbi_map_ro(r->fd, off, len, &r->bus);
		if (p == NULL)
			return lr_unmap(r, e);
		lr_scout_stop(r);
		mbi_unmap(r->map, r->map_len);
		r->map = p;
		r->map_off = off;
		r->map_len = len;
		r->buf = p + (r->base - off);
		madvise(p, len, MADV_SEQUENTIAL);
	}
	r->len += want;
	return (ssize_t)want;
}

/*
 * A mapped reader at the start of a long scan: map the rest of its range
 * at once and have a scout search it ahead for LFs followed by c1 or c2
 * (and word; see mbi_scout_start).  Without the address space it goes on
 * with windows; without a second CPU, with the whole mapping and no
 * scout (as fast as windows, and given back behind the same way).
 */
static void
lr_scout_start(struct lr *r, char c1, char c2, const char *word)
{
	int64_t off;
	size_t len;
	char *p;

	if (!r->mapped || r->scout != NULL || r->scout_tried)
		return;
	r->scout_tried = true;
	if (r->end - r->base < scout_min() || r->bus ||
	    (uint64_t)r->end > (uint64_t)SIZE_MAX / 2)
		return;
	off = r->base & ~(int64_t)(sysconf(_SC_PAGESIZE) - 1);
	len = (size_t)(r->end - off);
	p = mbi_map_ro(r->fd, off, len, &r->bus);
	if (p == NULL)
		return;
	mbi_unmap(r->map, r->map_len);
	r->map = p;
	r->map_off = off;
	r->map_len = len;
	r->zap = off;
	r->buf = p + (r->base - off);
	r->scout = mbi_scout_start(p, off, len, &r->bus, r->base, r->end, c1,
				   c2, word, 0);
}

/* Read more: keep [pos, len), fill after it.  Returns bytes added, 0 at
 * end, -1 on error. */
static ssize_t
lr_fill(struct lr *r, struct mb_err *e)
{
	int64_t fpos;
	size_t want;
	ssize_t n;

	if (r->mapped)
		return lr_fill_mapped(r, e);
	if (r->pos > LOOKBEHIND) {
		size_t drop = r->pos - LOOKBEHIND;

		memmove(r->buf, r->buf + drop, r->len - drop);
		r->base += (int64_t)drop;
		r->len -= drop;
		r->pos = LOOKBEHIND;
	}
	if (r->len == r->cap) {
		size_t ncap = r->cap * 2;
		char *p;

		if (ncap > LINE_KEEP + RD_CHUNK)
			return 0; /* caller cuts the line */
		p = realloc(r->buf, ncap);
		if (p == NULL) {
			mbi_err(e, MB_FATAL, MB_ENOMEM, r->path, -1,
				"out of memory");
			return -1;
		}
		r->buf = p;
		r->cap = ncap;
	}
	fpos = r->base + (int64_t)r->len;
	if (fpos >= r->end)
		return 0;
	want = r->cap - r->len;
	if ((int64_t)want > r->end - fpos)
		want = (size_t)(r->end - fpos);
	n = mbi_pread_full(r->fd, r->buf + r->len, want, fpos);
	if (n < 0) {
		mbi_err_sys(e, MB_FATAL, errno, r->path,
			    "cannot read at byte %lld", (long long)fpos);
		return -1;
	}
	if ((size_t)n < want) {
		/* the file shrank under us */
		r->end = fpos + n;
	}
	r->len += (size_t)n;
	return n;
}

/*
 * Next line: *line and *len include the LF (absent at EOF or when cut).
 * *start is true when the piece begins a line (false for the rest of a
 * cut line).  Returns 1, 0 at the end, -1 on error.
 */
static int
lr_line(struct lr *r, const char **line, size_t *len, bool *start,
	struct mb_err *e)
{
	char *nl;
	size_t from = r->pos;

	for (;;) {
		nl = memchr(r->buf + from, '\n', r->len - from);
		if (nl != NULL)
			break;
		from = r->len - r->pos; /* searched, relative to pos */
		{
			ssize_t n = lr_fill(r, e);

			if (n < 0)
				return -1;
			if (n == 0) {
				if (r->len == r->pos)
					return 0;
				/* EOF without LF, or a line longer than we
				 * keep: hand out what we have */
				*line = r->buf + r->pos;
				*len = r->len - r->pos;
				*start = !r->mid_line;
				r->mid_line =
					r->base + (int64_t)r->len < r->end;
				r->pos = r->len;
				return 1;
			}
		}
		from += r->pos;
	}
	*line = r->buf + r->pos;
	*len = (size_t)(nl + 1 - (r->buf + r->pos));
	*start = !r->mid_line;
	r->mid_line = false;
	r->pos += *len;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Driver state                                                         */

struct ux_state {
	int flavor;
	int fd;
	struct stat st; /* at open / last scan */
	struct lr rd;
	int64_t end; /* bytes scanned so far belong to [0, end) */

	/* scanner */
	bool started;	      /* past the leading blank bytes */
	bool have_from;	      /* a From line (unix) or delimiter is pending */
	int64_t from_off;     /* offset of that line */
	size_t from_len;      /* its length with the LF */
	struct mbi_from from; /* parsed (unix: pending From line) */
	char sender[SENDER_MAX];
	char envelope[SENDER_MAX + 64];
	char cur_sender[SENDER_MAX];
	char cur_envelope[SENDER_MAX + 64];
	bool pending_valid; /* a scanned message waits for next() */
	struct mb_msg pending;
	uint32_t scanned; /* messages scanned (pseudo included) */
	uint32_t prev_uid;
	bool uids_known; /* validity came from X-IMAP/X-IMAPbase */
	bool uids_broken;
	uint64_t quoted_from, quoted_from2, bare_from;
	uint32_t hdr_uidlast;  /* last UID as recorded in message 1 */
	uint32_t unsaved_uids; /* messages UW has yet to number */
	int64_t uidlast_off;   /* offset of its 10 digits, or -1 */
	int uidlast_width;

	/* locks */
	struct mbi_tmplock tl;
	struct mbi_dotlock dl;
	bool flocked;

	/* writer */
	bool writing;	   /* appends are staged in the file */
	bool created;	   /* a new file (atomic create) */
	int64_t orig_size; /* size before our appends */
	int64_t wpos;	   /* where the next byte goes */
	struct mbi_wbuf wb;
	bool wb_init;
	char tail[3]; /* the last three bytes written */
	int tail_len;
	bool last_nl;	/* the last message text ended in LF */
	bool text_last; /* unix: the last bytes written end a message
				   text, whose separator is still owed even
				   when that text ends in a blank line */
	bool crlf;	/* write CRLF line ends */
	struct mbi_tail journal;
	int64_t pseudo_len;  /* bytes reserved for our pseudo-message */
	bool renumbered;     /* a kept UID had to be replaced */
	bool flags_dirty;    /* set_flags changed something: rewrite */
	unsigned kw_written; /* keywords named in the pseudo-message */
};

static struct ux_state *
state(struct mb_box *b)
{
	return b->priv;
}

static void
set_variant(struct mb_box *b, struct ux_state *s)
{
	const char *q = "";

	if (s->flavor == UX_MMDF)
		q = "";
	else if (s->quoted_from2 > 0)
		q = "mboxrd quoting";
	else if (s->quoted_from > 0)
		q = "mboxo quoting";
	bool cr = s->rd.saw_cr, nul = s->rd.saw_nul;

	snprintf(b->variant, sizeof(b->variant), "%s%s%s%s%s", q,
		 *q && cr ? ", " : "", cr ? "crlf" : "",
		 (*q || cr) && nul ? ", " : "", nul ? "nul bytes" : "");
}

static bool
is_blank_line(const char *p, size_t n)
{
	return (n == 1 && p[0] == '\n') ||
	       (n == 2 && p[0] == '\r' && p[1] == '\n');
}

static bool
is_mmdf_delim(const char *p, size_t n)
{
	return (n == 5 && memcmp(p, "\1\1\1\1\n", 5) == 0) ||
	       (n == 6 && memcmp(p, "\1\1\1\1\r\n", 6) == 0);
}

/* Strip LF and a CR before it. */
static size_t
chomp(const char *p, size_t n)
{
	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return n;
}

static bool
from_line(const char *p, size_t n, struct mbi_from *f)
{
	if (n < 5 || memcmp(p, "From ", 5) != 0)
		return false;
	return mbi_from_line(p, chomp(p, n), f);
}

static void
keep_from(struct ux_state *s, const char *p, size_t n)
{
	size_t k = chomp(p, n);
	size_t sl = s->from.sender_len;

	if (k >= sizeof(s->envelope))
		k = sizeof(s->envelope) - 1;
	memcpy(s->envelope, p, k);
	s->envelope[k] = '\0';
	if (sl >= sizeof(s->sender))
		sl = sizeof(s->sender) - 1;
	memcpy(s->sender, s->from.sender, sl);
	s->sender[sl] = '\0';
}

/* Status / X-Status letters. */
static unsigned
status_flags(const char *p, size_t n)
{
	unsigned f = 0;
	size_t i;

	for (i = 0; i < n; i++)
		switch (p[i]) {
		case 'R':
			f |= MB_SEEN;
			break;
		case 'O':
			f |= MB_OLD;
			break;
		case 'D':
			f |= MB_DELETED;
			break;
		case 'F':
			f |= MB_FLAGGED;
			break;
		case 'A':
			f |= MB_ANSWERED;
			break;
		case 'T':
			f |= MB_DRAFT;
			break;
		default:
			break;
		}
	return f;
}

static bool
parse_u32(const char **pp, const char *end, uint32_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (p >= end || *p < '0' || *p > '9')
		return false;
	while (p < end && *p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > 0xffffffffu)
			return false;
		p++;
	}
	*pp = p;
	*out = (uint32_t)v;
	return true;
}

static const char *
skip_sp(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Per-message facts gathered from its header. */
struct hdrinfo {
	unsigned flags;
	uint64_t kw;
	uint32_t uid;
	bool has_uid;
	bool has_ximap, has_ximapbase;
	bool has_cl;
	int64_t cl;
	int64_t cl_off;
	int64_t uid_off;
	bool has_date; /* a parsable Date: header */
	int64_t date;
	int date_tz;
};

/*
 * X-IMAP / X-IMAPbase: "<validity> <last uid> [keyword]...".  Honoured
 * only in message 1 and only when no validity is known yet (UW).
 */
static void
parse_ximap(struct mb_box *b, struct ux_state *s, const char *v,
	    const char *end, int64_t off, int64_t voff, int hid)
{
	const char *p = skip_sp(v, end), *d;
	uint32_t validity, last;

	if (!parse_u32(&p, end, &validity) || validity == 0 ||
	    (p = skip_sp(p, end)) >= end ||
	    !(d = p, parse_u32(&p, end, &last))) {
		mbi_diag(b, MB_DIAG_DAMAGE, "bad-ximap", off, s->scanned + 1, 0,
			 "malformed %s header: UIDs and keywords of this "
			 "mailbox are lost to UW and mailbag",
			 internal_hdrs[hid].name);
		return;
	}
	b->uidvalidity = validity;
	b->uidlast = last;
	s->hdr_uidlast = last;
	s->uids_known = true;
	s->uidlast_off = voff + (d - v);
	s->uidlast_width = (int)(p - d);
	for (;;) {
		const char *k;

		p = skip_sp(p, end);
		if (p >= end)
			break;
		k = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		if (mbi_kw_add(b, k, (size_t)(p - k)) < 0)
			mbi_diag(b, MB_DIAG_WARN, "too-many-keywords", off,
				 s->scanned + 1, 0,
				 "more than %d keywords; '%.*s' is ignored",
				 MB_MAX_KEYWORDS, (int)(p - k), k);
	}
}

static void
parse_keywords(struct mb_box *b, struct ux_state *s, struct hdrinfo *h,
	       const char *p, const char *end, int64_t off)
{
	for (;;) {
		const char *k;
		int i;

		p = skip_sp(p, end);
		if (p >= end)
			break;
		k = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		i = mbi_kw_find(b, k, (size_t)(p - k));
		if (i < 0) {
			/* UW drops names its X-IMAP list lacks; keep them */
			if (s->uids_known)
				mbi_diag(b, MB_DIAG_WARN, "undeclared-keyword",
					 off, s->scanned + 1, 0,
					 "keyword '%.*s' is not declared in "
					 "X-IMAP/X-IMAPbase (UW ignores it)",
					 (int)(p - k), k);
			i = mbi_kw_add(b, k, (size_t)(p - k));
		}
		if (i >= 0)
			h->kw |= (uint64_t)1 << i;
		else
			mbi_diag(b, MB_DIAG_WARN, "too-many-keywords", off,
				 s->scanned + 1, 0,
				 "more than %d keywords; '%.*s' is ignored",
				 MB_MAX_KEYWORDS, (int)(p - k), k);
	}
}

static void
header_line(struct mb_box *b, struct ux_state *s, struct hdrinfo *h,
	    const char *line, size_t n, int64_t off)
{
	int id = ux_internal_header(line, n);
	const char *end = line + chomp(line, n), *v;

	if (id == 0) {
		if ((line[0] == 'D' || line[0] == 'd') && n > 5 &&
		    !s->from.date_ok && !h->has_date &&
		    strncasecmp(line, "Date:", 5) == 0) {
			/* no envelope date (an MMDF message without a From
			 * line): the Date header is the best guess */
			h->has_date = mb_date_parse(line + 5,
						    (size_t)(end - line - 5),
						    &h->date, &h->date_tz);
		} else if ((line[0] == 'C' || line[0] == 'c') && n > 15 &&
			   strncasecmp(line, "Content-Length:", 15) == 0) {
			const char *p = skip_sp(line + 15, end);
			uint32_t cl;

			if (parse_u32(&p, end, &cl)) {
				h->has_cl = true;
				h->cl = cl;
				h->cl_off = off;
			}
		} else if ((b->mode & MB_CHECK) &&
			   (line[0] == 'S' || line[0] == 's' ||
			    line[0] == 'X' || line[0] == 'x') &&
			   (id = bogus_internal_header(line, n)) != 0) {
			mbi_diag(b, MB_DIAG_WARN, "bogus-header", off,
				 s->scanned + 1, 0,
				 "bogus %.*s header: UW discards it and "
				 "ignores its value",
				 (int)internal_hdrs[id].len - 1,
				 internal_hdrs[id].name);
		}
		return;
	}
	v = line + internal_hdrs[id].len;
	switch (id) {
	case H_STATUS:
	case H_XSTATUS:
		h->flags |= status_flags(v, (size_t)(end - v));
		break;
	case H_XKEYWORDS:
		parse_keywords(b, s, h, v, end, off);
		break;
	case H_XUID: {
		const char *p = skip_sp(v, end);

		uint32_t u;

		if (h->has_uid) {
			/* UW: "already has UID", and it renumbers them all */
			s->uids_broken = true;
			b->uids_broken = true;
			mbi_diag(b, MB_DIAG_DAMAGE, "duplicate-uid", off,
				 s->scanned + 1, h->uid,
				 "second X-UID header in one message: UW "
				 "will renumber every message");
		} else if (parse_u32(&p, end, &u) && skip_sp(p, end) == end) {
			h->uid = u;
			h->has_uid = true;
			h->uid_off = off;
		} else {
			mbi_diag(b, MB_DIAG_DAMAGE, "bad-x-uid", off,
				 s->scanned + 1, 0, "malformed X-UID header");
		}
		break;
	}
	case H_XIMAP:
	case H_XIMAPBASE:
		if (id == H_XIMAP)
			h->has_ximap = true;
		else
			h->has_ximapbase = true;
		if (s->scanned == 0 && !s->uids_known)
			parse_ximap(b, s, v, end, off, off + (v - line), id);
		else
			mbi_diag(b, MB_DIAG_WARN, "stray-ximap", off,
				 s->scanned + 1, 0,
				 "%s header outside the first message is "
				 "ignored",
				 internal_hdrs[id].name);
		break;
	}
}

/*
 * The next LF in [p, end - 1) of the reader's buffer whose following
 * byte is c1 or c2: the only line starts a body scan must look at.  With
 * a scout, what it has searched is asked, and only the rest is searched
 * here.
 */
static const char *
find_line_start(const struct lr *r, const char *p, const char *end, char c1,
		char c2)
{
	int64_t a, b, lo, hi;

	if (r->scout == NULL)
		return mbi_find_line_start(p, end, c1, c2);
	a = r->base + (p - r->buf);
	b = r->base + (end - r->buf) - 1;
	while (a < b) {
		const char *q;

		switch (mbi_scout_find(r->scout, a, b, &lo, &hi)) {
		case 1:
			return r->buf + (lo - r->base);
		case 0:
			return NULL;
		}
		q = mbi_find_line_start(r->buf + (lo - r->base),
					r->buf + (hi - r->base) + 1, c1, c2);
		if (q != NULL)
			return q;
		a = hi;
	}
	return NULL;
}

/* Is the line that ends just before buffer index i a blank line?  Gives
 * the offset of that blank line, or -1. */
static int64_t
blank_before(const struct lr *r, size_t i)
{
	const char *b = r->buf;

	if (i >= 2 && b[i - 1] == '\n' && b[i - 2] == '\n')
		return r->base + (int64_t)i - 1;
	if (i >= 3 && b[i - 1] == '\n' && b[i - 2] == '\r' && b[i - 3] == '\n')
		return r->base + (int64_t)i - 2;
	return -1;
}

/*
 * The body of a message, from the current position (a line start) to
 * the line that ends the message.  Only lines starting with 'F' or '>'
 * (unix) or ^A (mmdf) are looked at, so the cost is close to a memchr
 * over the bytes.  Returns MB_OK with *text_end set, or MB_FATAL.
 */
static int
scan_body(struct mb_box *b, struct ux_state *s, int64_t *text_end,
	  struct mb_err *e)
{
	struct lr *r = &s->rd;
	const char c1 = s->flavor == UX_UNIX ? 'F' : '\1';
	const char c2 = s->flavor == UX_UNIX ? '>' : '\1';
	const char *line, *q;
	size_t n;
	bool start;
	int64_t off, blank;
	int rc;

	/* unix wants only the lines that begin ">*From " */
	lr_scout_start(r, c1, c2, s->flavor == UX_UNIX ? "From " : NULL);
	goto look; /* the first body line starts right here */
	for (;;) {
		/* search from the LF that ends the previous line */
		q = find_line_start(r, r->buf + (r->pos > 0 ? r->pos - 1 : 0),
				    r->buf + r->len, c1, c2);
		if (q == NULL) {
			ssize_t got;

			/* all searched; the next search starts at the
			 * last byte, kept as lookbehind */
			r->pos = r->len;
			got = lr_fill(r, e);
			if (got < 0)
				return MB_FATAL;
			if (got == 0) {
				/* end of file */
				size_t i = r->len;

				if (s->flavor == UX_MMDF &&
				    (b->mode & MB_CHECK))
					mbi_diag(b, MB_DIAG_DAMAGE, "truncated",
						 r->base + (int64_t)i,
						 s->scanned + 1, 0,
						 "last message has no closing "
						 "^A^A^A^A line (truncated?)");
				blank = blank_before(r, i);
				*text_end = blank >= 0 ? blank :
							 r->base + (int64_t)i;
				r->pos = r->len;
				s->have_from = false;
				return MB_OK;
			}
			if (s->end > 0)
				mbi_progress(b, r->base, s->end);
			continue;
		}
		r->pos = (size_t)(q + 1 - r->buf);
		if (s->flavor == UX_UNIX) {
			/* most such lines are plain text ("For ...",
			 * "> quoted"): when the bytes are at hand, see
			 * that no "From " follows and search on */
			const char *c = q + 1, *lim = r->buf + r->len;
			size_t k = 0;

			while (c + k < lim && c[k] == '>')
				k++;
			if (c + k + 5 <= lim &&
			    memcmp(c + k, "From ", 5) != 0) {
				r->pos++; /* search on from c */
				continue;
			}
		}
look:
		off = lr_tell(r);
		r->mid_line = false;
		rc = lr_line(r, &line, &n, &start, e);
		if (rc < 0)
			return MB_FATAL;
		if (rc == 0) {
			/* EOF right at a line start */
			lr_seek(r, off);
			blank = blank_before(r, r->pos);
			if (s->flavor == UX_MMDF && (b->mode & MB_CHECK))
				mbi_diag(b, MB_DIAG_DAMAGE, "truncated", off,
					 s->scanned + 1, 0,
					 "last message has no closing "
					 "^A^A^A^A line (truncated?)");
			*text_end = blank >= 0 ? blank : off;
			s->have_from = false;
			return MB_OK;
		}
		if (line[0] == 'F' && s->flavor == UX_UNIX) {
			if (from_line(line, n, &s->from)) {
				s->have_from = true;
				s->from_off = off;
				s->from_len = n;
				keep_from(s, line, n);
				lr_seek(r, off + (int64_t)n);
				blank = blank_before(r,
						     (size_t)(off - r->base));
				if (blank < 0 && (b->mode & MB_CHECK))
					mbi_diag(b, MB_DIAG_WARN,
						 "no-blank-line", off,
						 s->scanned + 2, 0,
						 "no blank line before this "
						 "From line (some readers "
						 "will not split here)");
				*text_end = blank >= 0 ? blank : off;
				return MB_OK;
			}
			if (n >= 5 && memcmp(line, "From ", 5) == 0) {
				s->bare_from++;
				if (b->mode & MB_CHECK)
					mbi_diag(b, MB_DIAG_DAMAGE,
						 "unquoted-from", off,
						 s->scanned + 1, 0,
						 "body line starts with an "
						 "unquoted \"From \": readers "
						 "that split on every \"From "
						 "\" line see a new message "
						 "here");
			}
		} else if (line[0] == '>' && s->flavor == UX_UNIX) {
			size_t k = 1;

			while (k < n && line[k] == '>')
				k++;
			if (n - k >= 5 && memcmp(line + k, "From ", 5) == 0) {
				if (k == 1)
					s->quoted_from++;
				else
					s->quoted_from2++;
			}
		} else if (line[0] == '\1' && is_mmdf_delim(line, n)) {
			blank = blank_before(r, (size_t)(off - r->base));
			*text_end = blank >= 0 ? blank : off;
			s->have_from = false;
			return MB_OK;
		}
	}
}

/*
 * Scan one message from the current position.  For unix the pending From
 * line has been read; for mmdf the opening delimiter has.  Fills *m and
 * says whether it was the pseudo-message.  Returns MB_OK, MB_END (no
 * message left), MB_FATAL.
 */
static int
scan_message(struct mb_box *b, struct ux_state *s, struct mb_msg *m,
	     bool *pseudo, struct mb_err *e)
{
	struct hdrinfo h;
	const char *line;
	size_t n;
	bool start, after_internal = false;
	int64_t off, body_off = -1, text_off, text_end = -1;
	int rc;

	memset(&h, 0, sizeof(h));
	memset(m, 0, sizeof(*m));
	*pseudo = false;
	m->offset = s->from_off;
	memcpy(s->cur_sender, s->sender, sizeof(s->sender));
	memcpy(s->cur_envelope, s->envelope, sizeof(s->envelope));
	text_off = s->from_off + (int64_t)s->from_len;

	if (s->flavor == UX_MMDF) {
		/* optional From line right after the delimiter */
		s->from.date_ok = false;
		s->cur_sender[0] = s->cur_envelope[0] = '\0';
		off = lr_tell(&s->rd);
		rc = lr_line(&s->rd, &line, &n, &start, e);
		if (rc < 0)
			return MB_FATAL;
		if (rc > 0 && from_line(line, n, &s->from)) {
			keep_from(s, line, n);
			memcpy(s->cur_sender, s->sender, sizeof(s->sender));
			memcpy(s->cur_envelope, s->envelope,
			       sizeof(s->envelope));
			text_off = off + (int64_t)n;
		} else {
			s->from.date_ok = false;
			text_off = off;
			lr_seek(&s->rd, off);
		}
	}
	m->idate = s->from.date_ok ? s->from.t : 0;
	m->idate_tz = s->from.date_ok ? s->from.tz : 0;
	if (!s->from.date_ok && (s->flavor == UX_UNIX || s->cur_envelope[0]))
		mbi_diag(b, MB_DIAG_WARN, "bad-date", s->from_off,
			 s->scanned + 1, 0, "unparsable date in the From line");

	for (;;) {
		off = lr_tell(&s->rd);
		rc = lr_line(&s->rd, &line, &n, &start, e);
		if (rc < 0)
			return MB_FATAL;
		if (rc == 0) {
			if (s->flavor == UX_MMDF && (b->mode & MB_CHECK))
				mbi_diag(b, MB_DIAG_DAMAGE, "truncated", off,
					 s->scanned + 1, 0,
					 "last message has no closing ^A^A^A^A "
					 "line (truncated?)");
			text_end = off;
			s->have_from = false;
			break;
		}
		if (!start)
			continue;
		if (s->flavor == UX_UNIX && line[0] == 'F' &&
		    from_line(line, n, &s->from)) {
			/* the next message begins here */
			s->have_from = true;
			s->from_off = off;
			s->from_len = n;
			keep_from(s, line, n);
			/* still in the header: no blank line before it */
			if (b->mode & MB_CHECK)
				mbi_diag(b, MB_DIAG_WARN, "no-blank-line", off,
					 s->scanned + 2, 0,
					 "no blank line before this From line "
					 "(some readers will not split here)");
			text_end = off;
			break;
		}
		if (s->flavor == UX_MMDF && line[0] == '\1' &&
		    is_mmdf_delim(line, n)) {
			text_end = off;
			s->have_from = false;
			break;
		}
		/* a header line: the blank line hands over to scan_body */
		if (n >= 2 && line[n - 2] == '\r')
			s->rd.saw_cr = true;
		if (!s->rd.saw_nul && memchr(line, '\0', n) != NULL)
			s->rd.saw_nul = true;
		if (is_blank_line(line, n)) {
			body_off = off + (int64_t)n;
			rc = scan_body(b, s, &text_end, e);
			if (rc != MB_OK)
				return rc;
			break;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (after_internal && (b->mode & MB_CHECK))
				mbi_diag(b, MB_DIAG_WARN, "bogus-continuation",
					 off, s->scanned + 1, 0,
					 "continuation of a status header: UW "
					 "discards it");
		} else {
			after_internal = ux_internal_header(line, n) != 0;
			header_line(b, s, &h, line, n, off);
		}
	}
	m->size = text_end - m->offset;
	m->text_offset = text_off;
	m->text_size = text_end - text_off;
	if (!s->from.date_ok && h.has_date) {
		m->idate = h.date;
		m->idate_tz = h.date_tz;
	}
	m->flags = h.flags;
	m->keywords = h.kw;
	m->sender =
		s->cur_sender[0] || s->flavor == UX_UNIX ? s->cur_sender : NULL;
	m->envelope = s->cur_envelope[0] ? s->cur_envelope : NULL;

	if (h.has_cl && body_off >= 0 && (b->mode & MB_CHECK) &&
	    h.cl != text_end - body_off)
		mbi_diag(b, MB_DIAG_DAMAGE, "content-length", h.cl_off,
			 s->scanned + 1, 0,
			 "Content-Length: %lld disagrees with the framing "
			 "(the body is %lld bytes); readers that trust it "
			 "split differently",
			 (long long)h.cl, (long long)(text_end - body_off));

	/* the pseudo-message: X-IMAP in message 1 */
	if (s->scanned == 0 && h.has_ximap && s->uids_known) {
		*pseudo = true;
		b->has_pseudo = true;
		s->scanned++;
		return MB_OK;
	}
	s->scanned++;

	/* UIDs (section 2.5) */
	if (h.has_uid && s->uids_known) {
		if (h.uid == 0 || h.uid <= s->prev_uid) {
			s->uids_broken = true;
			b->uids_broken = true;
			mbi_diag(b, MB_DIAG_DAMAGE,
				 h.uid == s->prev_uid ? "duplicate-uid" :
							"uid-order",
				 h.uid_off,
				 s->scanned - (b->has_pseudo ? 1 : 0), h.uid,
				 h.uid == s->prev_uid ?
					 "X-UID %u repeats the previous "
					 "message's UID: UW will renumber "
					 "every message" :
					 "X-UID %u is not above the previous "
					 "UID %u: UW will renumber every "
					 "message",
				 h.uid, s->prev_uid);
		} else {
			if (h.uid > b->uidlast) {
				mbi_diag(b, MB_DIAG_WARN, "uid-above-last",
					 h.uid_off,
					 s->scanned - (b->has_pseudo ? 1 : 0),
					 h.uid,
					 "X-UID %u is above the last UID %u "
					 "recorded in X-IMAP/X-IMAPbase",
					 h.uid, b->uidlast);
				b->uidlast = h.uid;
			}
			m->uid = h.uid;
			s->prev_uid = h.uid;
		}
	} else if (h.has_uid) {
		mbi_diag(b, MB_DIAG_WARN, "uid-without-base", h.uid_off,
			 s->scanned, h.uid,
			 "X-UID without X-IMAP/X-IMAPbase in the first "
			 "message is ignored");
	} else if (s->uids_known) {
		/* UW numbers it from the last UID up at its next read/write
		 * open; report the UID it will get */
		m->uid = ++b->uidlast;
		s->prev_uid = m->uid;
		s->unsaved_uids++;
		mbi_diag(b, MB_DIAG_WARN, "missing-uid", m->offset,
			 s->scanned - (b->has_pseudo ? 1 : 0), m->uid,
			 "message has no X-UID (UW assigns UID %u at its next "
			 "read/write open)",
			 m->uid);
	}
	return MB_OK;
}

/*
 * Find the first message.  unix: skip CR/LF/SP/TAB (UW tolerates them
 * from broken MTAs), then the first line must be a From line.  mmdf: the
 * file must start with the delimiter.  In check mode a bad start is
 * reported and the scan resumes at the first valid delimiter.
 */
static int
find_start(struct mb_box *b, struct ux_state *s, struct mb_err *e)
{
	const char *line;
	size_t n;
	bool start, reported = false;
	int64_t off, garbage_from = -1;
	int rc;

	s->started = true;
	for (;;) {
		off = lr_tell(&s->rd);
		rc = lr_line(&s->rd, &line, &n, &start, e);
		if (rc < 0)
			return MB_FATAL;
		if (rc == 0)
			break;
		if (!start)
			continue;
		if (s->flavor == UX_UNIX && garbage_from < 0 && !reported) {
			size_t k = 0;

			while (k < n && (line[k] == '\n' || line[k] == '\r' ||
					 line[k] == ' ' || line[k] == '\t'))
				k++;
			if (k == n)
				continue; /* leading blank bytes */
			if (k > 0) {
				/* blank bytes, then text on the same line */
				lr_seek(&s->rd, off + (int64_t)k);
				if (off + (int64_t)k > 0)
					mbi_diag(b, MB_DIAG_WARN,
						 "leading-blanks", 0, 0, 0,
						 "%lld blank bytes before the "
						 "first From line",
						 (long long)(off + (int64_t)k));
				continue;
			}
			if (off > 0)
				mbi_diag(b, MB_DIAG_WARN, "leading-blanks", 0,
					 0, 0,
					 "%lld blank bytes before the first "
					 "From line",
					 (long long)off);
		}
		if (s->flavor == UX_UNIX && line[0] == 'F' &&
		    from_line(line, n, &s->from)) {
			s->have_from = true;
			s->from_off = off;
			s->from_len = n;
			keep_from(s, line, n);
			break;
		}
		if (s->flavor == UX_MMDF && is_mmdf_delim(line, n)) {
			s->have_from = true;
			s->from_off = off;
			s->from_len = n;
			break;
		}
		if (!(b->mode & MB_CHECK))
			return mbi_err(e, MB_FATAL, MB_EFORMAT, b->path, off,
				       s->flavor == UX_UNIX ?
					       "not a valid From line where "
					       "the first message should "
					       "begin (mailbag repair can "
					       "fix it)" :
					       "no ^A^A^A^A line where the "
					       "first message should begin");
		if (!reported) {
			mbi_diag(b, MB_DIAG_DAMAGE, "bad-first-line", off, 0, 0,
				 s->flavor == UX_UNIX ?
					 "first line is not a valid From "
					 "line: UW calls the file not a "
					 "mailbox (an INBOX looks empty or "
					 "like one huge message)" :
					 "file does not start with a "
					 "^A^A^A^A line");
			reported = true;
			garbage_from = off;
		}
	}
	if (reported && s->have_from)
		mbi_diag(b, MB_DIAG_DAMAGE, "garbage", garbage_from, 0, 0,
			 "%lld bytes that belong to no message",
			 (long long)(s->from_off - garbage_from));
	else if (reported)
		mbi_diag(b, MB_DIAG_DAMAGE, "garbage", garbage_from, 0, 0,
			 "no message found in %lld bytes",
			 (long long)(s->end - garbage_from));
	return MB_OK;
}

/* After an MMDF message's closing delimiter, the next must open one. */
static int
mmdf_next_delim(struct mb_box *b, struct ux_state *s, struct mb_err *e)
{
	const char *line;
	size_t n;
	bool start;
	int64_t off, bad = -1;
	int rc;

	for (;;) {
		off = lr_tell(&s->rd);
		rc = lr_line(&s->rd, &line, &n, &start, e);
		if (rc < 0)
			return MB_FATAL;
		if (rc == 0)
			break;
		if (start && is_mmdf_delim(line, n)) {
			s->have_from = true;
			s->from_off = off;
			s->from_len = n;
			break;
		}
		if (bad < 0 && !(start && is_blank_line(line, n)))
			bad = off;
	}
	if (bad >= 0) {
		if (!(b->mode & MB_CHECK))
			return mbi_err(e, MB_FATAL, MB_EFORMAT, b->path, bad,
				       "text between MMDF messages");
		mbi_diag(b, MB_DIAG_DAMAGE, "garbage", bad, 0, 0,
			 "text between two MMDF messages belongs to no "
			 "message");
	}
	return MB_OK;
}

/* Scan until a message that is not the pseudo-message; MB_END at EOF. */
static int
scan_next(struct mb_box *b, struct ux_state *s, struct mb_msg *m,
	  struct mb_err *e)
{
	bool pseudo;
	int rc;

	for (;;) {
		if (!s->started && (rc = find_start(b, s, e)) != MB_OK)
			return rc;
		if (!s->have_from && s->flavor == UX_MMDF && s->scanned > 0 &&
		    (rc = mmdf_next_delim(b, s, e)) != MB_OK)
			return rc;
		if (!s->have_from) {
			set_variant(b, s);
			return MB_END;
		}
		s->have_from = false;
		rc = scan_message(b, s, m, &pseudo, e);
		if (rc != MB_OK)
			return rc;
		if (!pseudo)
			return MB_OK;
	}
}

/* ------------------------------------------------------------------ */
/* Open, create, close                                                  */

static void drop_write_locks(struct ux_state *s);

static int
take_write_locks(struct mb_box *b, struct ux_state *s, struct mb_err *e)
{
	int rc;

	rc = mbi_dotlock_take(b->ctx, b->path, &s->dl, b->ctx->lock_timeout, e);
	if (rc != MB_OK)
		return rc;
	rc = mbi_flock(s->fd, LOCK_EX, b->ctx->lock_timeout, b->path, e);
	if (rc != MB_OK) {
		mbi_dotlock_release(&s->dl);
		return rc;
	}
	s->flocked = true;
	/* Postfix's local(8) and others lock with fcntl, not flock */
	rc = mbi_fcntl_lock(s->fd, F_WRLCK, b->ctx->lock_timeout, b->path, e);
	if (rc != MB_OK) {
		drop_write_locks(s);
		return rc;
	}
	return MB_OK;
}

static void
drop_write_locks(struct ux_state *s)
{
	if (s->flocked) {
		struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

		fcntl(s->fd, F_SETLK, &fl);
		flock(s->fd, LOCK_UN);
		s->flocked = false;
	}
	mbi_dotlock_release(&s->dl);
}

static int
alloc_state(struct mb_box *b, int flavor, struct mb_err *e)
{
	struct ux_state *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	s->flavor = flavor;
	s->fd = -1;
	s->tl.fd = -1;
	s->dl.helper_fd = -1;
	s->uidlast_off = -1;
	b->priv = s;
	return MB_OK;
}

int
ux_open(struct mb_box *b, int flavor, struct mb_err *e)
{
	struct ux_state *s;
	int rc;

	if ((rc = alloc_state(b, flavor, e)) != MB_OK)
		return rc;
	s = state(b);
	rc = mbi_open_box(b, (b->mode & MB_RDWR) != 0, &s->fd, &s->st, e);
	if (rc != MB_OK)
		goto fail;
	if (b->mode & MB_RDWR) {
		/* UW: the /tmp lock, exclusive, for the whole session */
		rc = mbi_tmplock_open(&s->st, &s->tl, e);
		if (rc == MB_OK)
			rc = mbi_tmplock_lock(&s->tl, LOCK_EX,
					      b->ctx->lock_timeout, e);
		if (rc != MB_OK)
			goto fail;
		mbi_tmplock_write_pid(&s->tl);
		/* with the write locks, finish what a killed writer left:
		 * a rewrite half done, a torn tail to cut */
		rc = take_write_locks(b, s, e);
		if (rc == MB_OK)
			rc = mbi_recover(b, s->fd, e);
		if (rc != MB_OK)
			goto fail;
		/* the size under our locks, after any recovery */
		fstat(s->fd, &s->st);
		mbi_cleanup_stale(b->path, b->ctx->localhost);
		/* hold the dot-lock and flock while parsing (UW) */
	} else if (!(b->mode & MB_NOLOCK)) {
		rc = mbi_flock(s->fd, LOCK_SH, b->ctx->lock_timeout, b->path,
			       e);
		if (rc != MB_OK)
			goto fail;
		s->flocked = true;
	}
	s->end = s->st.st_size;
	if (lr_init(&s->rd, s->fd, b->path, 0, s->end) < 0) {
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			     "out of memory");
		goto fail;
	}
	/* scan message 1 now, so X-IMAP/X-IMAPbase are known at open */
	rc = scan_next(b, s, &s->pending, e);
	if (rc == MB_OK)
		s->pending_valid = true;
	else if (rc != MB_END)
		goto fail;
	if (b->uidvalidity == 0 && (b->mode & MB_RDWR))
		b->uidvalidity = (uint32_t)time(NULL);
	return MB_OK;
fail:
	ux_close(b);
	return rc;
}

int
ux_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e)
{
	struct ux_state *s = state(b);
	int rc;

	if (s->pending_valid) {
		*out = s->pending;
		s->pending_valid = false;
		return MB_OK;
	}
	if (s->created)
		return MB_END;
	rc = scan_next(b, s, out, e);
	if (rc != MB_OK)
		lr_scout_stop(&s->rd); /* the scan is over */
	if (rc == MB_OK && s->end > 0)
		mbi_progress(b, out->offset, s->end);
	if (rc == MB_END && s->uids_broken)
		snprintf(b->variant + strlen(b->variant),
			 sizeof(b->variant) - strlen(b->variant), "%s%s",
			 b->variant[0] ? ", " : "", "UIDs broken");
	return rc;
}

int
ux_create(struct mb_box *b, int flavor, struct mb_err *e)
{
	struct ux_state *s;
	int rc;

	if ((rc = alloc_state(b, flavor, e)) != MB_OK)
		return rc;
	s = state(b);
	s->fd = open(b->path,
		     O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->fd < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->final_path,
				 "cannot create mailbox");
		ux_close(b);
		return rc;
	}
	fstat(s->fd, &s->st);
	s->created = true;
	s->writing = true;
	b->uidvalidity = (uint32_t)time(NULL);
	b->uidlast = 0;
	return MB_OK;
}

void
ux_close(struct mb_box *b)
{
	struct ux_state *s = state(b);

	if (s == NULL)
		return;
	if (s->writing && !s->created && s->journal.active) {
		/* staged appends never committed: roll them back */
		if (s->wb_init)
			s->wb.len = 0;
		if (ftruncate(s->fd, s->orig_size) == 0 && fsync(s->fd) == 0)
			mbi_tail_end(&s->journal, NULL);
	}
	if (s->wb_init)
		mbi_wbuf_free(&s->wb);
	drop_write_locks(s);
	if (s->tl.fd >= 0)
		mbi_tmplock_release(&s->tl);
	lr_free(&s->rd);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	b->priv = NULL;
}

int
ux_poll(struct mb_box *b, bool *changed, struct mb_err *e)
{
	struct ux_state *s = state(b);
	struct stat st;

	if (fstat(s->fd, &st) < 0)
		return mbi_err_sys(e, MB_FATAL, errno, b->path,
				   "cannot stat mailbox");
	if (st.st_size < s->end)
		return mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, st.st_size,
			       "mailbox shrank from %lld to %lld bytes",
			       (long long)s->end, (long long)st.st_size);
	if (st.st_size == s->end) {
		if (st.st_mtim.tv_sec != s->st.st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != s->st.st_mtim.tv_nsec) {
			s->st = st;
			return mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, -1,
				       "mailbox was rewritten by another "
				       "process");
		}
		return MB_OK;
	}
	/* appended: let the scanner go on into the new bytes */
	s->rd.end = st.st_size;
	s->end = st.st_size;
	s->st = st;
	if (s->flavor == UX_UNIX && s->started && !s->have_from) {
		/*
		 * The scan had ended at the old end of file: the appended
		 * bytes must begin with the next message's From line (MMDF
		 * finds its delimiter by itself in scan_next).
		 */
		const char *line;
		size_t n;
		bool start;
		int64_t off = lr_tell(&s->rd);
		int rc = lr_line(&s->rd, &line, &n, &start, e);

		if (rc < 0)
			return MB_FATAL;
		if (rc == 0 || !start || line[0] != 'F' ||
		    !from_line(line, n, &s->from)) {
			lr_seek(&s->rd, off);
			return mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, off,
				       "the bytes appended by another process "
				       "do not begin with a From line");
		}
		s->have_from = true;
		s->from_off = off;
		s->from_len = n;
		keep_from(s, line, n);
	}
	b->scanned = false;
	*changed = true;
	return MB_OK;
}

int
ux_remove(struct mb_ctx *ctx, const char *path, struct mb_err *e)
{
	struct mbi_dotlock dl = { .helper_fd = -1 };
	struct mbi_tmplock tl = { .fd = -1 };
	struct stat st;
	int rc;

	if (lstat(path, &st) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot delete mailbox");
	rc = mbi_tmplock_open(&st, &tl, e);
	if (rc == MB_OK)
		rc = mbi_tmplock_lock(&tl, LOCK_EX, 0, e);
	if (rc != MB_OK) {
		if (tl.fd >= 0)
			close(tl.fd);
		return rc == MB_RETRY ?
			       mbi_err(e, MB_RETRY, MB_ELOCKED, path, -1,
				       "mailbox is in use by another process") :
			       rc;
	}
	rc = mbi_dotlock_take(ctx, path, &dl, ctx->lock_timeout, e);
	if (rc == MB_OK) {
		if (unlink(path) < 0)
			rc = mbi_err_sys(e, MB_FAILED, errno, path,
					 "cannot delete mailbox");
		else
			mbi_fsync_dir(path, NULL);
		mbi_dotlock_release(&dl);
	}
	mbi_tmplock_release(&tl);
	return rc;
}

int
ux_rename(struct mb_ctx *ctx, const char *from, const char *to,
	  struct mb_err *e)
{
	struct mbi_dotlock dl = { .helper_fd = -1 };
	int rc;

	rc = mbi_dotlock_take(ctx, from, &dl, ctx->lock_timeout, e);
	if (rc != MB_OK)
		return rc;
	rc = mbi_publish(from, to, e);
	if (rc == MB_OK)
		unlink(from); /* mbi_publish links when it cannot rename */
	mbi_dotlock_release(&dl);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading a message's text                                             */

/*
 * Streams [text_offset, +text_size) less the internal headers (and the
 * continuation lines of those) in the header part; with MB_UNQUOTE, one
 * ">" is taken off body lines matching ^>+From .
 */
struct msg_reader {
	struct mb_reader r;
	struct lr lr;
	bool unquote;
	bool in_header;
	bool skipping;	   /* inside an internal header field */
	const char *piece; /* rest of the current line to hand out */
	size_t piece_len;
};

static ssize_t
msg_read(struct mb_reader *rr, void *buf, size_t len, struct mb_err *e)
{
	struct msg_reader *m = (struct msg_reader *)rr;
	size_t done = 0;

	while (done < len) {
		const char *line;
		size_t n;
		bool start;
		int rc;

		if (m->piece_len > 0) {
			size_t k = m->piece_len < len - done ? m->piece_len :
							       len - done;

			memcpy((char *)buf + done, m->piece, k);
			m->piece += k;
			m->piece_len -= k;
			done += k;
			continue;
		}
		rc = lr_line(&m->lr, &line, &n, &start, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		if (m->in_header && start) {
			if (is_blank_line(line, n)) {
				m->in_header = false;
				m->skipping = false;
			} else if (line[0] == ' ' || line[0] == '\t') {
				if (m->skipping)
					continue;
			} else {
				m->skipping = ux_internal_header(line, n) != 0;
				if (m->skipping)
					continue;
			}
		} else if (m->in_header && m->skipping) {
			continue;
		} else if (m->unquote && start && !m->in_header && n > 5 &&
			   line[0] == '>') {
			size_t k = 1;

			while (k < n && line[k] == '>')
				k++;
			if (n - k >= 5 && memcmp(line + k, "From ", 5) == 0) {
				line++;
				n--;
			}
		}
		m->piece = line;
		m->piece_len = n;
	}
	return (ssize_t)done;
}

static void
msg_close(struct mb_reader *rr)
{
	struct msg_reader *m = (struct msg_reader *)rr;

	lr_free(&m->lr);
	free(m);
}

int
ux_msg_open(struct mb_box *b, const struct mb_msg *msg, struct mb_reader **out,
	    struct mb_err *e)
{
	struct ux_state *s = state(b);
	struct msg_reader *m;

	if (msg->text_offset < 0 || msg->text_offset + msg->text_size > s->end)
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, msg->offset,
			       "no such message");
	m = calloc(1, sizeof(*m));
	if (m == NULL || lr_init(&m->lr, s->fd, b->path, msg->text_offset,
				 msg->text_offset + msg->text_size) < 0) {
		free(m);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	}
	m->r.read = msg_read;
	m->r.rewind = NULL;
	m->r.close = msg_close;
	m->r.size = -1;
	m->unquote = (b->mode & MB_UNQUOTE) != 0;
	m->in_header = true;
	*out = &m->r;
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */

/* Lines from an mb_reader, cut into pieces past LINE_KEEP. */
struct src_lines {
	struct mb_reader *r;
	char *buf;
	size_t cap, len, pos;
	bool eof, mid;
};

static int
sl_line(struct src_lines *sl, const char **line, size_t *n, bool *start,
	struct mb_err *e)
{
	char *nl;
	size_t from = sl->pos;

	for (;;) {
		nl = memchr(sl->buf + from, '\n', sl->len - from);
		if (nl != NULL || sl->eof)
			break;
		if (sl->pos > 0) {
			memmove(sl->buf, sl->buf + sl->pos, sl->len - sl->pos);
			sl->len -= sl->pos;
			sl->pos = 0;
		}
		from = sl->len;
		if (sl->len == sl->cap) {
			if (sl->cap >= LINE_KEEP)
				break; /* cut the line */
			char *p = realloc(sl->buf, sl->cap * 2);

			if (p == NULL)
				return mbi_err(e, MB_FATAL, MB_ENOMEM, NULL, -1,
					       "out of memory");
			sl->buf = p;
			sl->cap *= 2;
		}
		{
			ssize_t r = mb_reader_read(sl->r, sl->buf + sl->len,
						   sl->cap - sl->len, e);

			if (r < 0)
				return MB_FAILED;
			if (r == 0)
				sl->eof = true;
			sl->len += (size_t)r;
		}
	}
	*start = !sl->mid;
	*line = sl->buf + sl->pos;
	if (nl != NULL) {
		*n = (size_t)(nl + 1 - *line);
		sl->mid = false;
	} else {
		*n = sl->len - sl->pos;
		sl->mid = !sl->eof;
	}
	sl->pos += *n;
	return *n > 0 ? 1 : 0;
}

static int
put(struct ux_state *s, const void *p, size_t n, struct mb_err *e)
{
	const char *c = p;

	if (n == 0)
		return MB_OK;
	if (mbi_wbuf_put(&s->wb, p, n, e) != MB_OK)
		return MB_FAILED;
	s->text_last = false;
	/* remember the last three bytes written, for separators */
	if (n >= 3) {
		memcpy(s->tail, c + n - 3, 3);
		s->tail_len = 3;
	} else {
		size_t keep = (size_t)s->tail_len + n > 3 ? 3 - n :
							    (size_t)s->tail_len;

		memmove(s->tail, s->tail + s->tail_len - keep, keep);
		memcpy(s->tail + keep, c, n);
		s->tail_len = (int)(keep + n);
	}
	return MB_OK;
}

static int
puts_(struct ux_state *s, const char *str, struct mb_err *e)
{
	return put(s, str, strlen(str), e);
}

static const char *
eol(const struct ux_state *s)
{
	return s->crlf ? "\r\n" : "\n";
}

static bool
tail_blank(const struct ux_state *s)
{
	const char *t = s->tail;

	if (s->tail_len >= 2 && t[s->tail_len - 1] == '\n' &&
	    t[s->tail_len - 2] == '\n')
		return true;
	return s->tail_len == 3 && memcmp(t, "\n\r\n", 3) == 0;
}

/*
 * Is a separator line owed before the next message?  Always after a text
 * we wrote (the reader drops the last blank line before a From line, so
 * a text that ends in one needs another); after bytes that were in the
 * file already, unless they end in a blank line.
 */
static bool
sep_owed(const struct ux_state *s)
{
	return s->text_last || !tail_blank(s);
}

static bool
tail_nl(const struct ux_state *s)
{
	return s->tail_len > 0 && s->tail[s->tail_len - 1] == '\n';
}

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/*
 * The FOLDER INTERNAL DATA message, UW's marker lines with our text.
 * The body is padded with blank lines to exactly `size` bytes (when
 * size > 0), so it can be regenerated in place at commit with the final
 * keyword list and last UID.
 */
static int
build_pseudo(struct mb_box *b, struct ux_state *s, time_t now,
	     struct mbi_buf *out, size_t size)
{
	char ct[64];
	int y, mon, d, hh, mm, ss, wd;
	unsigned i;

	mb_date_ctime(now, 0, ct, sizeof(ct));
	if (strlen(ct) > 6)
		ct[strlen(ct) - 6] = '\0'; /* UW writes plain ctime here */
	mbi_civil_from_secs(now, &y, &mon, &d, &hh, &mm, &ss, &wd);
	if (s->flavor == UX_MMDF && mbi_buf_addstr(out, "\1\1\1\1\n") < 0)
		return -1;
	if (mbi_buf_addf(out,
			 "From MAILER-DAEMON %s\n"
			 "Date: %02d %s %04d %02d:%02d:%02d +0000\n"
			 "From: Mail System Internal Data <MAILER-DAEMON@%s>\n"
			 "Subject: DON'T DELETE THIS MESSAGE -- FOLDER "
			 "INTERNAL DATA\n"
			 "Message-ID: <%lld@%s>\n"
			 "X-IMAP: %010u %010u",
			 ct, d, months[mon - 1], y, hh, mm, ss,
			 b->ctx->localhost, (long long)now, b->ctx->localhost,
			 b->uidvalidity, b->uidlast) < 0)
		return -1;
	for (i = 0; i < b->nkw; i++)
		if (mbi_buf_addf(out, " %s", b->kw[i]) < 0)
			return -1;
	if (mbi_buf_addstr(out,
			   "\nStatus: RO\n\n"
			   "This message keeps data that the mail programs "
			   "need for this folder:\n"
			   "its unique identifiers and its keywords.  It is "
			   "not a real message.\n"
			   "Deleting it loses that data; it is then made "
			   "again from scratch.\n") < 0)
		return -1;
	/* closing: separator (unix) or LF + delimiter (mmdf) */
	{
		size_t closing = s->flavor == UX_MMDF ? 6 : 1;

		if (size > 0) {
			/* pad with lines of spaces (room for keywords) */
			size_t col = 0;

			if (out->len + closing > size)
				return -1;
			while (out->len + closing < size) {
				bool end = col == 72 ||
					   out->len + closing + 1 == size;

				if (mbi_buf_add(out, end ? "\n" : " ", 1) < 0)
					return -1;
				col = end ? 0 : col + 1;
			}
		}
		if (mbi_buf_addstr(out, s->flavor == UX_MMDF ? "\n\1\1\1\1\n" :
							       "\n") < 0)
			return -1;
	}
	return 0;
}

/* Our pseudo-message, padded so that 64 keywords fit in it later. */
static int
padded_pseudo(struct mb_box *b, struct ux_state *s, struct mbi_buf *pb,
	      struct mb_err *e)
{
	time_t now = time(NULL);

	if (build_pseudo(b, s, now, pb, 0) < 0)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	s->pseudo_len = (int64_t)pb->len + PSEUDO_RESERVE;
	mbi_buf_reset(pb);
	if (build_pseudo(b, s, now, pb, (size_t)s->pseudo_len) < 0)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	return MB_OK;
}

static int
write_pseudo(struct mb_box *b, struct ux_state *s, struct mb_err *e)
{
	struct mbi_buf pb;
	int rc;

	mbi_buf_init(&pb);
	rc = padded_pseudo(b, s, &pb, e);
	if (rc == MB_OK)
		rc = put(s, pb.buf, pb.len, e);
	mbi_buf_free(&pb);
	b->has_pseudo = true;
	s->kw_written = b->nkw;
	return rc;
}

/*
 * New keywords in an existing mailbox with a pseudo-message: regenerate
 * it in place when it has room (ours are padded), so no message moves.
 * Returns MB_OK, or MB_FAILED with MB_ELIMIT when it does not fit.
 */
static int
declare_in_place(struct mb_box *b, struct ux_state *s, struct mb_err *e)
{
	struct mbi_buf pb;
	int64_t region;
	int rc;

	if (!b->has_pseudo)
		return mbi_err(e, MB_FAILED, MB_ELIMIT, b->path, 0,
			       "no pseudo-message");
	region = b->nmsgs > 0 ? b->msgs[0].offset : s->end;
	mbi_buf_init(&pb);
	if (region <= 0 ||
	    build_pseudo(b, s, time(NULL), &pb, (size_t)region) < 0 ||
	    (int64_t)pb.len != region) {
		mbi_buf_free(&pb);
		return mbi_err(e, MB_FAILED, MB_ELIMIT, b->path, 0,
			       "the pseudo-message has no room");
	}
	rc = mbi_pwrite_all(s->fd, pb.buf, pb.len, 0, b->path, e);
	mbi_buf_free(&pb);
	if (rc == MB_OK && fsync(s->fd) < 0)
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot write mailbox to disk");
	if (rc == MB_OK)
		s->kw_written = b->nkw;
	return rc;
}

/* Get ready to write: first append to a new or an existing mailbox. */
static int
start_writing(struct mb_box *b, struct ux_state *s, struct mb_err *e)
{
	int rc;

	if (s->wb_init)
		return MB_OK;
	if (!s->created) {
		/* learn the last UID: scan what is left, through the core so
		 * that the index (which a rewrite needs) is complete */
		struct mb_msg *mp;

		while ((rc = mb_next(b, &mp, e)) == MB_OK)
			;
		if (rc != MB_END)
			return rc;
		s->kw_written = b->nkw;
		s->orig_size = s->end;
		s->tail_len = (int)(s->end < 3 ? s->end : 3);
		if (s->tail_len > 0 &&
		    mbi_pread_full(s->fd, s->tail, (size_t)s->tail_len,
				   s->end - s->tail_len) != s->tail_len)
			return mbi_err_sys(e, MB_FAILED, errno, b->path,
					   "cannot read mailbox");
		rc = mbi_tail_begin(b->path, s->fd, &s->journal, e);
		if (rc != MB_OK)
			return rc;
		s->writing = true;
	}
	s->wpos = s->orig_size;
	if (mbi_wbuf_init(&s->wb, s->fd, b->path, s->wpos, e) != MB_OK)
		return MB_FATAL;
	if (s->journal.active)
		s->wb.tail = &s->journal;
	s->wb_init = true;
	if (s->created && b->ctx->uw_metadata)
		return write_pseudo(b, s, e);
	return MB_OK;
}

static int
put_line(struct mb_box *b, struct ux_state *s, const char *line, size_t n,
	 bool start, bool header, struct mb_err *e)
{
	if (start) {
		if (header && ux_internal_header(line, n) &&
		    puts_(s, "X-Original-", e) != MB_OK)
			return MB_FAILED;
		if (s->flavor == UX_UNIX && n >= 5) {
			size_t k = 0;

			if (b->ctx->quote == MB_QUOTE_MBOXRD)
				while (k < n && line[k] == '>')
					k++;
			if (n - k >= 5 && memcmp(line + k, "From ", 5) == 0 &&
			    put(s, ">", 1, e) != MB_OK)
				return MB_FAILED;
		}
	}
	if (s->flavor == UX_MMDF) {
		/* ^A bytes could forge a delimiter: MMDF removes them */
		const char *p = line, *end = line + n, *a;

		while ((a = memchr(p, '\1', (size_t)(end - p))) != NULL) {
			if (put(s, p, (size_t)(a - p), e) != MB_OK)
				return MB_FAILED;
			p = a + 1;
		}
		return put(s, p, (size_t)(end - p), e);
	}
	return put(s, line, n, e);
}

static int
put_status(struct mb_box *b, struct ux_state *s, unsigned flags, uint64_t kw,
	   uint32_t uid, struct mb_err *e)
{
	struct mbi_buf sb;
	size_t blk;
	unsigned i;
	int rc;

	mbi_buf_init(&sb);
	mbi_buf_addf(&sb, "Status: %s%s%s", flags & MB_SEEN ? "R" : "",
		     flags & MB_OLD ? "O" : "", eol(s));
	mbi_buf_addf(&sb, "X-Status: %s%s%s%s%s", flags & MB_DELETED ? "D" : "",
		     flags & MB_FLAGGED ? "F" : "",
		     flags & MB_ANSWERED ? "A" : "",
		     flags & MB_DRAFT ? "T" : "", eol(s));
	if (b->ctx->uw_metadata) {
		mbi_buf_addstr(&sb, "X-Keywords:");
		for (i = 0; i < b->nkw; i++)
			if (kw & ((uint64_t)1 << i))
				mbi_buf_addf(&sb, " %s", b->kw[i]);
		/* UW pads so that flag changes fit in place later */
		blk = sb.len;
		while (blk < 50) {
			mbi_buf_add(&sb, " ", 1);
			blk++;
		}
		mbi_buf_addstr(&sb, eol(s));
		if (uid != 0)
			mbi_buf_addf(&sb, "X-UID: %u%s", uid, eol(s));
	}
	if (sb.cap == 0) /* every add failed */
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	rc = put(s, sb.buf, sb.len, e);
	mbi_buf_free(&sb);
	return rc;
}

/* A From line for a message that brings none. */
static void
make_from_line(const struct mb_newmsg *meta, char *buf, size_t size)
{
	char date[64], sender[SENDER_MAX];
	const char *snd =
		meta->sender && *meta->sender ? meta->sender : "MAILER-DAEMON";
	/* 0 or less: the date is unknown, so the time of writing */
	int64_t t = meta->idate > 0 ? meta->idate : (int64_t)time(NULL);
	size_t i;

	snprintf(sender, sizeof(sender), "%s", snd);
	for (i = 0; sender[i]; i++)
		if (sender[i] == '\n' || sender[i] == '\r' ||
		    sender[i] == ' ' || sender[i] == '\t')
			sender[i] = '_';
	if (mb_date_ctime(t, meta->idate > 0 ? meta->idate_tz : 0, date,
			  sizeof(date)) == 0)
		mb_date_ctime((int64_t)time(NULL), 0, date, sizeof(date));
	snprintf(buf, size, "From %s %s", sender, date);
}

int
ux_append(struct mb_box *b, const struct mb_newmsg *meta, struct mb_reader *src,
	  uint32_t *uid_out, struct mb_err *e)
{
	struct ux_state *s = state(b);
	struct src_lines sl;
	char fromline[SENDER_MAX + 128];
	const char *line;
	size_t n, i;
	bool start, header = true, status_done = false;
	int have;
	uint64_t kw = 0;
	uint32_t uid = 0;
	int rc;

	rc = start_writing(b, s, e);
	if (rc != MB_OK)
		return rc;
	if (!s->dl.held && s->created == false)
		return mbi_err(e, MB_FAILED, MB_EINTERNAL, b->path, -1,
			       "append without the mailbox lock");
	mbi_dotlock_refresh(&s->dl);

	/* keywords by name onto this mailbox's list */
	for (i = 0; i < meta->nkeywords; i++) {
		int k = mbi_kw_add(b, meta->keywords[i],
				   strlen(meta->keywords[i]));

		if (k >= 0)
			kw |= (uint64_t)1 << k;
	}
	if (b->ctx->uw_metadata && !s->created && !s->uids_known) {
		/* a mailbox with no UID state (an MTA's): leave the existing
		 * messages as they are and number nothing, as UW's append
		 * does; keywords are still written (mailbag reads them) */
		uid = 0;
	} else if (b->ctx->uw_metadata) {
		if (s->created && meta->uid > s->prev_uid) {
			uid = meta->uid;
		} else {
			if (s->created && meta->uid != 0)
				s->renumbered = true;
			uid = (b->uidlast > s->prev_uid ? b->uidlast :
							  s->prev_uid) +
			      1;
		}
		s->prev_uid = uid;
		if (uid > b->uidlast)
			b->uidlast = uid;
	}

	memset(&sl, 0, sizeof(sl));
	sl.r = src;
	sl.cap = 64 << 10; /* grows for long lines */
	sl.buf = malloc(sl.cap);
	if (sl.buf == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	rc = sl_line(&sl, &line, &n, &start, e);
	if (rc < 0)
		goto out;
	have = rc;
	s->crlf =
		rc > 0 && n >= 2 && line[n - 2] == '\r' && line[n - 1] == '\n';

	/* separator after the previous message */
	if (s->wpos > 0 || s->wb.pos > 0) {
		if (s->flavor == UX_UNIX && sep_owed(s))
			rc = puts_(s, tail_nl(s) ? eol(s) : "\n\n", e);
		else if (s->flavor == UX_MMDF && !tail_nl(s))
			rc = puts_(s, "\n", e);
		if (rc < 0)
			goto out;
	}
	if (s->flavor == UX_MMDF && (rc = puts_(s, "\1\1\1\1\n", e)) < 0)
		goto out;
	if (meta->envelope && !strpbrk(meta->envelope, "\r\n") &&
	    mbi_from_line(meta->envelope, strlen(meta->envelope), NULL))
		snprintf(fromline, sizeof(fromline), "%s", meta->envelope);
	else
		make_from_line(meta, fromline, sizeof(fromline));
	if ((rc = puts_(s, fromline, e)) < 0 || (rc = puts_(s, eol(s), e)) < 0)
		goto out;

	while (have > 0) {
		if (header && start && is_blank_line(line, n)) {
			rc = put_status(b, s, meta->flags, kw, uid, e);
			if (rc < 0)
				goto out;
			status_done = true;
			header = false;
		}
		rc = put_line(b, s, line, n, start, header, e);
		if (rc < 0)
			goto out;
		s->last_nl = n > 0 && line[n - 1] == '\n';
		have = sl_line(&sl, &line, &n, &start, e);
		if (have < 0) {
			rc = have;
			goto out;
		}
	}
	if (!status_done) {
		/* a message that is all header */
		if (!tail_nl(s) && (rc = puts_(s, eol(s), e)) < 0)
			goto out;
		if ((rc = put_status(b, s, meta->flags, kw, uid, e)) < 0)
			goto out;
		s->last_nl = true;
	}
	if (s->flavor == UX_MMDF) {
		rc = puts_(s, tail_nl(s) ? "\n\1\1\1\1\n" : "\n\n\1\1\1\1\n",
			   e);
		if (rc < 0)
			goto out;
	}
	s->text_last = s->flavor == UX_UNIX;
	rc = MB_OK;
	if (uid_out)
		*uid_out = uid;
out:
	free(sl.buf);
	return rc < 0 ? rc : MB_OK;
}

/* Rewrite the pseudo-message in place with the final UIDs and keywords. */
static int
finish_pseudo(struct mb_box *b, struct ux_state *s, struct mb_err *e)
{
	struct mbi_buf pb;
	int rc;

	if (s->renumbered) {
		uint32_t v = (uint32_t)time(NULL);

		b->uidvalidity = v == b->uidvalidity ? v + 1 : v;
	}
	mbi_buf_init(&pb);
	if (build_pseudo(b, s, time(NULL), &pb, (size_t)s->pseudo_len) < 0) {
		mbi_buf_free(&pb);
		return mbi_err(e, MB_FATAL, MB_ELIMIT, b->path, 0,
			       "keywords do not fit in the pseudo-message");
	}
	rc = mbi_pwrite_all(s->fd, pb.buf, pb.len, 0, b->path, e);
	mbi_buf_free(&pb);
	return rc;
}

/* Existing mailbox: record the new last UID where it fits in place. */
static int
patch_uidlast(struct mb_box *b, struct ux_state *s, struct mb_err *e)
{
	char num[16];
	int w;

	if (s->uidlast_off < 0 || b->uidlast == s->hdr_uidlast)
		return MB_OK;
	/*
	 * Messages without X-UID get their UIDs from the recorded last UID
	 * when UW next opens the mailbox; raising it would make those
	 * collide with ours.  UW raises it itself from our X-UID headers.
	 */
	if (s->unsaved_uids > 0)
		return MB_OK;
	w = snprintf(num, sizeof(num), "%0*u", s->uidlast_width, b->uidlast);
	if (w != s->uidlast_width)
		return MB_OK; /* UW raises its last UID from the X-UIDs */
	return mbi_pwrite_all(s->fd, num, (size_t)w, s->uidlast_off, b->path,
			      e);
}

static int rewrite(struct mb_box *b, struct ux_state *s, struct mb_err *e);

static int
commit_appends(struct mb_box *b, struct ux_state *s, struct mb_err *e)
{
	int rc;

	if (!s->wb_init && (rc = start_writing(b, s, e)) != MB_OK)
		return rc;
	/* the separator after the last message, unless its text had no
	 * final newline: then the file ends with that text, as it came */
	if (s->flavor == UX_UNIX && s->wb.pos > s->orig_size && s->last_nl &&
	    sep_owed(s) && (rc = puts_(s, eol(s), e)) != MB_OK)
		return rc;
	if ((rc = mbi_wbuf_flush(&s->wb, e)) != MB_OK)
		return rc;
	if (s->created && b->ctx->uw_metadata && s->pseudo_len > 0)
		rc = finish_pseudo(b, s, e);
	else if (!s->created)
		rc = patch_uidlast(b, s, e);
	if (rc != MB_OK)
		return rc;
	if (fsync(s->fd) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot write mailbox to disk");
	if (!s->created) {
		rc = mbi_tail_end(&s->journal, e);
		if (rc != MB_OK)
			return rc;
		s->orig_size = s->wb.pos;
	}
	return MB_OK;
}

int
ux_commit(struct mb_box *b, struct mb_err *e)
{
	struct ux_state *s = state(b);
	bool declare;
	int rc;

	if (s->writing && (rc = commit_appends(b, s, e)) != MB_OK)
		return rc;
	/* appended keywords UW does not know yet: declare them by a
	 * rewrite, or UW drops them from the messages */
	declare = !s->created && s->writing && b->ctx->uw_metadata &&
		  s->uids_known && !(b->mode & MB_STREAM) &&
		  b->nkw > s->kw_written;
	if (declare && !s->flags_dirty) {
		rc = declare_in_place(b, s, e);
		if (rc == MB_OK)
			return MB_OK;
		mb_err_clear(e);
	}
	if (s->flags_dirty || declare) {
		rc = rewrite(b, s, e);
		if (rc != MB_OK)
			return rc;
	}
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Flag changes and expunge: rewriting the mailbox                      */

int
ux_set_flags(struct mb_box *b, struct mb_msg *m, unsigned flags, uint64_t kw,
	     struct mb_err *e)
{
	state(b)->flags_dirty = true;
	return MB_OK;
}

int
ux_renumber(struct mb_box *b, struct mb_err *e)
{
	struct ux_state *s = state(b);

	if (!b->ctx->uw_metadata)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "UIDs are not written when uw-metadata is off");
	/* the index holds the new UIDs; a rewrite writes them all */
	s->uids_broken = false;
	b->uids_broken = false;
	s->flags_dirty = true;
	return MB_OK;
}

/* A line of four ^A bytes (and a CR) that no LF ends: a delimiter as
 * soon as a writer ends it. */
static bool
forged_delim(const char *line, size_t n)
{
	return (n == 4 || (n == 5 && line[4] == '\r')) &&
	       memcmp(line, "\1\1\1\1", 4) == 0;
}

/* Copy [off, off+len) of the mailbox into the rewrite. */
static int
copy_range(struct ux_state *s, int64_t off, int64_t len, const char *path,
	   struct mb_err *e)
{
	char buf[65536];

	while (len > 0) {
		size_t k =
			len < (int64_t)sizeof(buf) ? (size_t)len : sizeof(buf);

		if (mbi_pread_full(s->fd, buf, k, off) != (ssize_t)k)
			return mbi_err(e, MB_FAILED, MB_ECHANGED, path, off,
				       "mailbox changed while rewriting");
		if (put(s, buf, k, e) != MB_OK)
			return MB_FAILED;
		off += (int64_t)k;
		len -= (int64_t)k;
	}
	return MB_OK;
}

/*
 * One message as UW's rewrite writes it (section 2.7): its From line,
 * its header without the status headers, a fresh status block (with
 * X-IMAPbase in message 1 when there is no pseudo-message), the blank
 * line and the body, verbatim.  Updates m's offsets to the new file.
 */
static int
rewrite_msg(struct mb_box *b, struct ux_state *s, struct mb_msg *m,
	    bool base_here, struct mb_err *e)
{
	struct lr r;
	const char *line;
	size_t n;
	bool start, skipping = false, header = true;
	int64_t new_off, new_text, body = -1;
	int rc;

	/* separator after the previous message */
	if (s->wb.pos > 0) {
		if (s->flavor == UX_UNIX && sep_owed(s))
			rc = puts_(s, tail_nl(s) ? "\n" : "\n\n", e);
		else if (s->flavor == UX_MMDF && !tail_nl(s))
			rc = puts_(s, "\n", e);
		else
			rc = MB_OK;
		if (rc != MB_OK)
			return rc;
	}
	new_off = s->wb.pos;
	/* the envelope: the From line (unix) or delimiter (+From, mmdf) */
	if ((rc = copy_range(s, m->offset, m->text_offset - m->offset, b->path,
			     e)) != MB_OK)
		return rc;
	new_text = s->wb.pos;
	if (lr_init(&r, s->fd, b->path, m->text_offset,
		    m->text_offset + m->text_size) < 0)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	s->crlf = false;
	while ((rc = lr_line(&r, &line, &n, &start, e)) > 0) {
		if (!start) {
			if (!skipping && put(s, line, n, e) != MB_OK)
				goto fail;
			continue;
		}
		if (is_blank_line(line, n)) {
			s->crlf = n == 2;
			body = lr_tell(&r);
			header = false;
			break;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (!skipping && put(s, line, n, e) != MB_OK)
				goto fail;
			continue;
		}
		skipping = ux_internal_header(line, n) != 0;
		if (!skipping && s->flavor == UX_MMDF &&
		    forged_delim(line, n)) {
			/* a last line of four ^A bytes, cut short: given the
			 * LF below it would be a delimiter.  MMDF drops it,
			 * its CR too: a lone CR given a LF would end the
			 * header, and the status lines would join the body */
			line += n;
			n = 0;
		}
		if (!skipping && put(s, line, n, e) != MB_OK)
			goto fail;
	}
	lr_free(&r);
	if (rc < 0)
		return MB_FATAL;
	/* a text that is all header, its last line cut short: the status
	 * lines (and X-IMAPbase) start on lines of their own */
	if (header && !tail_nl(s) && puts_(s, "\n", e) != MB_OK)
		return MB_FAILED;
	if (base_here) {
		struct mbi_buf xb;
		unsigned i;

		mbi_buf_init(&xb);
		mbi_buf_addf(&xb, "X-IMAPbase: %u %u", b->uidvalidity,
			     b->uidlast);
		for (i = 0; i < b->nkw; i++)
			mbi_buf_addf(&xb, " %s", b->kw[i]);
		mbi_buf_addstr(&xb, eol(s));
		rc = put(s, xb.buf, xb.len, e);
		mbi_buf_free(&xb);
		if (rc != MB_OK)
			return rc;
	}
	if ((rc = put_status(b, s, m->flags, m->keywords, m->uid, e)) != MB_OK)
		return rc;
	if (body >= 0) {
		/* the blank line and the body, verbatim */
		int64_t from = body - (s->crlf ? 2 : 1);
		int64_t end = m->text_offset + m->text_size;
		char t[6];
		size_t k = end - from < 6 ? (size_t)(end - from) : 6, cut = 0;

		/* ... but a last line of four ^A bytes cut short (a file
		 * that ends without its closing delimiter) would become a
		 * delimiter once the LF below ends it: MMDF drops it, its CR
		 * too (the text then ends in its last LF, as in a header) */
		if (s->flavor == UX_MMDF && k >= 5 &&
		    mbi_pread_full(s->fd, t, k, end - (int64_t)k) ==
			    (ssize_t)k) {
			if (memcmp(t + k - 5, "\n\1\1\1\1", 5) == 0)
				cut = 4;
			else if (k == 6 && memcmp(t, "\n\1\1\1\1\r", 6) == 0)
				cut = 5;
		}
		rc = copy_range(s, from, end - from - (int64_t)cut, b->path, e);
		if (rc != MB_OK)
			return rc;
	}
	s->last_nl = tail_nl(s);
	if (s->flavor == UX_MMDF &&
	    (rc = puts_(s, tail_nl(s) ? "\n\1\1\1\1\n" : "\n\n\1\1\1\1\n", e)))
		return rc;
	s->text_last = s->flavor == UX_UNIX;
	/* mmdf: less the blank line and the delimiter */
	m->text_size = s->wb.pos - new_text - (s->flavor == UX_MMDF ? 6 : 0);
	m->offset = new_off;
	m->text_offset = new_text;
	m->size = new_text + m->text_size - new_off;
	return MB_OK;
fail:
	lr_free(&r);
	return MB_FAILED;
}

/* Messages that stay after an expunge (all of them otherwise). */
static uint32_t
kept_count(const struct mb_box *b, bool expunge)
{
	uint32_t i, n = 0;

	for (i = 0; i < b->nmsgs; i++)
		if (!expunge || !(b->msgs[i].flags & MB_DELETED))
			n++;
	return n;
}

/*
 * Rewrite the whole mailbox in place (through libmbox/rewrite.c's redo
 * journal): messages flagged for expunge (MB_DELETED when expunging) are
 * left out; bytes appended after the scan are kept as they are.
 */
static int
rewrite_box(struct mb_box *b, struct ux_state *s, bool expunge,
	    uint32_t *expunged, struct mb_err *e)
{
	struct mbi_rewrite rw;
	struct mbi_wbuf saved;
	struct stat st;
	uint32_t i, kept = 0;
	int64_t tail_from;
	bool pseudo;
	int rc;

	if (!b->scanned) {
		struct mb_msg *m;

		while ((rc = mb_next(b, &m, e)) == MB_OK)
			;
		if (rc != MB_END)
			return rc;
	}
	if (fstat(s->fd, &st) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot stat mailbox");
	if (s->uids_broken) {
		/* UW's rule: a broken UID sequence gets a new validity and
		 * every message a new UID */
		uint32_t v = (uint32_t)time(NULL);

		b->uidvalidity = v == b->uidvalidity ? v + 1 : v;
		b->uidlast = 0;
		for (i = 0; i < b->nmsgs; i++)
			b->msgs[i].uid = ++b->uidlast;
		s->uids_broken = false;
		b->uids_broken = false;
	}
	if (b->ctx->uw_metadata) {
		/* messages UW has not numbered yet get their UIDs now, in
		 * order, as UW's first read/write session gives them */
		if (b->uidvalidity == 0)
			b->uidvalidity = (uint32_t)time(NULL);
		for (i = 0; i < b->nmsgs; i++)
			if (b->msgs[i].uid == 0)
				b->msgs[i].uid = ++b->uidlast;
		s->unsaved_uids = 0;
	}
	if ((rc = mbi_rewrite_begin(b->path, s->fd, &rw, e)) != MB_OK)
		return rc;
	/* the writer helpers write through s->wb: lend them rw's buffer */
	saved = s->wb;
	s->wb = rw.wb;
	s->tail_len = 0;
	s->text_last = false;
	pseudo = b->ctx->uw_metadata &&
		 (b->has_pseudo || kept_count(b, expunge) == 0);
	if (pseudo) {
		struct mbi_buf pb;

		mbi_buf_init(&pb);
		rc = padded_pseudo(b, s, &pb, e);
		if (rc == MB_OK)
			rc = put(s, pb.buf, pb.len, e);
		mbi_buf_free(&pb);
		if (rc != MB_OK)
			goto fail;
	}
	for (i = 0; i < b->nmsgs; i++) {
		struct mb_msg *m = &b->msgs[i];

		if (expunge && (m->flags & MB_DELETED))
			continue;
		rc = rewrite_msg(b, s, m,
				 b->ctx->uw_metadata && !pseudo && kept == 0,
				 e);
		if (rc != MB_OK)
			goto fail;
		m->seq = ++kept;
		b->msgs[kept - 1] = *m;
	}
	/* what was appended after the scan, from its first From line */
	tail_from = s->end;
	while (tail_from < st.st_size) {
		char c;

		if (mbi_pread_full(s->fd, &c, 1, tail_from) != 1 ||
		    (c != '\n' && c != '\r'))
			break;
		tail_from++;
	}
	if (tail_from < st.st_size) {
		if (s->wb.pos > 0 && s->flavor == UX_UNIX && sep_owed(s) &&
		    (rc = puts_(s, tail_nl(s) ? "\n" : "\n\n", e)) != MB_OK)
			goto fail;
		if ((rc = copy_range(s, tail_from, st.st_size - tail_from,
				     b->path, e)) != MB_OK)
			goto fail;
	} else if (s->flavor == UX_UNIX && s->wb.pos > 0 && s->last_nl &&
		   sep_owed(s) && (rc = puts_(s, "\n", e)) != MB_OK) {
		goto fail;
	}
	rw.wb = s->wb;
	s->wb = saved;
	if ((rc = mbi_rewrite_commit(&rw, e)) != MB_OK) {
		mbi_rewrite_abort(&rw);
		return rc;
	}
	if (expunged)
		*expunged = b->nmsgs - kept;
	b->nmsgs = kept;
	b->iter = b->iter > kept ? kept : b->iter;
	b->has_pseudo = pseudo;
	s->flags_dirty = false;
	s->kw_written = b->nkw;
	s->unsaved_uids = 0;
	fstat(s->fd, &s->st);
	s->end = s->st.st_size;
	s->orig_size = s->end;
	/* the read buffer holds the old bytes: drop them */
	lr_reset(&s->rd, s->end, s->end);
	return MB_OK;
fail:
	rw.wb = s->wb;
	s->wb = saved;
	mbi_rewrite_abort(&rw);
	return rc;
}

static int
rewrite(struct mb_box *b, struct ux_state *s, struct mb_err *e)
{
	return rewrite_box(b, s, false, NULL, e);
}

int
ux_expunge(struct mb_box *b, uint32_t *expunged, struct mb_err *e)
{
	struct ux_state *s = state(b);
	uint32_t i, n = 0;
	int rc;

	*expunged = 0;
	if (b->mode & MB_STREAM)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "a streaming box cannot expunge");
	if (s->writing && (rc = commit_appends(b, s, e)) != MB_OK)
		return rc;
	if (!b->scanned) {
		struct mb_msg *m;

		while ((rc = mb_next(b, &m, e)) == MB_OK)
			;
		if (rc != MB_END)
			return rc;
	}
	for (i = 0; i < b->nmsgs; i++)
		if (b->msgs[i].flags & MB_DELETED)
			n++;
	if (n == 0 && !s->flags_dirty)
		return MB_OK;
	return rewrite_box(b, s, true, expunged, e);
}

/*
 * mbox.c - `mailbag repair` for the unix/mmdf family.
 *
 * Under the locks UW uses for a rewrite (the /tmp lock, the dot-lock,
 * flock and fcntl), the whole file is framed again by a lenient framer:
 *  - unix: messages start at every valid From line (section 2.2 of the
 *    spec, mbi_from_line); mmdf: the file is cut at every ^A^A^A^A line
 *    and the pieces between an opening and a closing one are messages;
 *  - bytes outside any message (before the first From line, between
 *    MMDF messages, after a lost closing delimiter) become a message
 *    again when they hold a recognisable header, with a From line made
 *    from their Date: header, and go to salvage files otherwise;
 *  - unquoted body "From " lines are quoted (--from-lines=keep) or start
 *    a message (--from-lines=split); a Content-Length that disagrees is
 *    corrected; UIDs are kept when they still ascend, else renumbered
 *    under a new UIDVALIDITY (UW's rule); a lost pseudo-message is made
 *    again.
 * Messages that need no change are copied byte for byte; the others are
 * regenerated in the layout formats/unixfile.c writes.  The new content
 * is checked with libmbox's own checker before it is copied over the
 * mailbox in place (libmbox/rewrite.c, redo-journaled), after a verified
 * backup of the original has been written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "repair-mbox.h"

enum { FL_UNIX, FL_MMDF };

#define SENDER_MAX     100
#define PSEUDO_RESERVE 3400

struct msg {
	int64_t rec_off, rec_end;   /* the whole record, for a verbatim copy */
	int64_t env_off;	    /* the From line, or -1 (synthesized) */
	size_t env_len;		    /* with its LF */
	int64_t text_off, text_end; /* header and body */
	int64_t body_off;	    /* after the blank line, or -1 */
	int64_t blank_off;	    /* the blank line, or -1 */
	char *synth;		    /* a made-up From line (no LF), or NULL */
	bool is_new;		    /* recovered or split off */
	bool closed;		    /* mmdf: the closing delimiter exists */
	bool verbatim_ok;	    /* the record may be copied as it is */
	bool body_only;		    /* split off: the text has no header */
	bool recovered;		    /* made from unframed bytes */
	/* parsed */
	unsigned flags;
	uint64_t kw;
	uint32_t uid;
	bool has_uid, uid_bad, uid_twice;
	bool ximap, ximapbase;
	int64_t ximap_off; /* value of X-IMAP/X-IMAPbase */
	size_t ximap_len;
	bool cl_seen;
	int64_t cl;
	unsigned nbare; /* unquoted "From " body lines (unix) */
	bool pseudo_subject;
	/* decided */
	uint32_t newuid;
	bool regen;
	bool damaged;
	char *why; /* what was wrong and what is done, or NULL */
};

/* Both strings are on the heap and only for the few messages that need
 * them: a record costs about 200 bytes, not 800, per message. */
#define WHY_MAX	  400
#define SYNTH_MAX 200

static const char *
synth(const struct msg *m)
{
	return m->synth ? m->synth : "";
}

enum { I_MSG, I_SALV, I_BLANK };
struct item {
	int kind;
	int64_t off, len;
	size_t idx; /* I_MSG */
	bool damage;
	const char *note; /* I_SALV / I_BLANK */
	unsigned salv_no; /* I_SALV: k for rp_salvage_name */
};

enum { US_NONE, US_KNOWN, US_RECREATE };

struct plan {
	struct mb_ctx *ctx;
	const char *path;
	int fl;
	const char *buf;
	int64_t len;
	int64_t released; /* pages below given back (mbi_map_release) */
	time_t mtime;
	const struct rp_opts *o;
	struct msg *m;
	size_t n, mcap;
	struct item *it;
	size_t nit, icap;
	unsigned nsalv;
	char *kw[MB_MAX_KEYWORDS];
	unsigned nkw;
	int us;
	uint32_t old_validity, old_last, validity, last;
	long pseudo_idx; /* the original pseudo-message, or -1 */
	bool pseudo_out, pseudo_regen;
	long base_idx; /* message carrying X-IMAPbase, or -1 */
	bool renumbered;
	bool damaged;
	bool oom;
	char uid_note[200];
};

/* ------------------------------------------------------------------ */
/* Lines                                                                */

static size_t
line_at(const struct plan *P, int64_t off, int64_t end)
{
	const char *p = P->buf + off;
	const char *nl = memchr(p, '\n', (size_t)(end - off));

	return nl ? (size_t)(nl + 1 - p) : (size_t)(end - off);
}

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
blank_line(const char *p, size_t n)
{
	return (n == 1 && p[0] == '\n') ||
	       (n == 2 && p[0] == '\r' && p[1] == '\n');
}

static bool
valid_from(const char *p, size_t n)
{
	return n >= 5 && memcmp(p, "From ", 5) == 0 &&
	       mbi_from_line(p, chomp(p, n), NULL);
}

static bool
is_delim(const char *p, size_t n)
{
	return (n == 5 && memcmp(p, "\1\1\1\1\n", 5) == 0) ||
	       (n == 6 && memcmp(p, "\1\1\1\1\r\n", 6) == 0);
}

static bool
all_blank(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != '\n' && p[i] != '\r' && p[i] != ' ' && p[i] != '\t')
			return false;
	return true;
}

/* "Name:" with a field name of printable non-space characters. */
static bool
header_field(const char *p, size_t n)
{
	size_t i;

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
known_field(const char *p, size_t n)
{
	static const char *const names[] = {
		"From:",       "Date:",	    "Subject:",	     "To:",
		"Message-ID:", "Received:", "Return-Path:",  "Sender:",
		"Cc:",	       "Reply-To:", "MIME-Version:", "Content-Type:",
		"X-UID:",      "Status:",   "Delivered-To:",
	};
	size_t i, k;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		k = strlen(names[i]);
		if (n >= k && strncasecmp(p, names[i], k) == 0)
			return true;
	}
	return false;
}

/* The blank line ending just before end (a separator), or end. */
static int64_t
strip_blank(const struct plan *P, int64_t start, int64_t end)
{
	const char *b = P->buf;

	if (end - start >= 1 && end >= 2 && b[end - 1] == '\n' &&
	    b[end - 2] == '\n')
		return end - 1;
	if (end - start >= 2 && end >= 3 && b[end - 1] == '\n' &&
	    b[end - 2] == '\r' && b[end - 3] == '\n')
		return end - 2;
	return end;
}

static int
internal_header(const char *p, size_t n)
{
	static const char *const names[] = { "Status:",	    "X-Status:",
					     "X-Keywords:", "X-UID:",
					     "X-IMAP:",	    "X-IMAPbase:" };
	int i;

	for (i = 0; i < 6; i++) {
		size_t k = strlen(names[i]);

		if (n >= k && memcmp(p, names[i], k) == 0)
			return i + 1;
	}
	return 0;
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

/* ------------------------------------------------------------------ */
/* Plan building                                                        */

static int
kw_index(struct plan *P, const char *k, size_t n, bool create)
{
	unsigned i;

	for (i = 0; i < P->nkw; i++)
		if (strlen(P->kw[i]) == n && strncasecmp(P->kw[i], k, n) == 0)
			return (int)i;
	if (!create || P->nkw >= MB_MAX_KEYWORDS)
		return -1;
	if ((P->kw[P->nkw] = mbi_strndup(k, n)) == NULL) {
		P->oom = true;
		return -1;
	}
	return (int)P->nkw++;
}

static struct msg *
new_msg(struct plan *P)
{
	struct msg *m;

	if (P->n == P->mcap) {
		size_t cap = P->mcap ? 2 * P->mcap : 64;
		struct msg *q = mbi_reallocarray(P->m, cap, sizeof(*q));

		if (q == NULL) {
			P->oom = true;
			return NULL;
		}
		P->m = q;
		P->mcap = cap;
	}
	m = &P->m[P->n++];
	memset(m, 0, sizeof(*m));
	m->env_off = m->body_off = m->blank_off = -1;
	return m;
}

static struct item *
new_item(struct plan *P, int kind, int64_t off, int64_t len)
{
	struct item *it;

	if (P->nit == P->icap) {
		size_t cap = P->icap ? 2 * P->icap : 64;
		struct item *q = mbi_reallocarray(P->it, cap, sizeof(*q));

		if (q == NULL) {
			P->oom = true;
			return NULL;
		}
		P->it = q;
		P->icap = cap;
	}
	it = &P->it[P->nit++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->off = off;
	it->len = len;
	return it;
}

static void add_why(struct msg *m, const char *fmt, ...) MBI_PRINTF(2, 3);
static void
add_why(struct msg *m, const char *fmt, ...)
{
	char why[WHY_MAX], *p;
	size_t l;
	va_list ap;

	snprintf(why, sizeof(why), "%s", m->why ? m->why : "");
	l = strlen(why);
	if (l > 0 && l + 2 < sizeof(why)) {
		memcpy(why + l, "; ", 3);
		l += 2;
	}
	va_start(ap, fmt);
	vsnprintf(why + l, sizeof(why) - l, fmt, ap);
	va_end(ap);
	/* out of memory: the old text stays, the report is shorter */
	if ((p = strdup(why)) != NULL) {
		free(m->why);
		m->why = p;
	}
}

/* Parse the header and body of m's text. */
static void
parse_text(struct plan *P, struct msg *m)
{
	int64_t off = m->text_off, end = m->text_end;
	bool header = true;

	m->flags = 0;
	m->kw = 0;
	m->has_uid = m->uid_bad = m->uid_twice = false;
	m->ximap = m->ximapbase = m->cl_seen = m->pseudo_subject = false;
	m->nbare = 0;
	m->body_off = m->blank_off = -1;
	if (m->body_only) {
		header = false;
		m->body_off = off;
	}
	while (off < end) {
		size_t n = line_at(P, off, end);
		const char *p = P->buf + off;
		const char *e = p + chomp(p, n);
		int id;

		if (header) {
			if (blank_line(p, n)) {
				header = false;
				m->blank_off = off;
				m->body_off = off + (int64_t)n;
				off += (int64_t)n;
				continue;
			}
			id = internal_header(p, n);
			if (id == 1 || id == 2) {
				const char *q;

				for (q = p + (id == 1 ? 7 : 9); q < e; q++)
					switch (*q) {
					case 'R':
						m->flags |= MB_SEEN;
						break;
					case 'O':
						m->flags |= MB_OLD;
						break;
					case 'D':
						m->flags |= MB_DELETED;
						break;
					case 'F':
						m->flags |= MB_FLAGGED;
						break;
					case 'A':
						m->flags |= MB_ANSWERED;
						break;
					case 'T':
						m->flags |= MB_DRAFT;
						break;
					default:
						break;
					}
			} else if (id == 3) {
				const char *q = p + 11;

				for (;;) {
					const char *k;
					int i;

					q = skip_sp(q, e);
					if (q >= e)
						break;
					k = q;
					while (q < e && *q != ' ' && *q != '\t')
						q++;
					i = kw_index(P, k, (size_t)(q - k),
						     true);
					if (i >= 0)
						m->kw |= (uint64_t)1 << i;
				}
			} else if (id == 4) {
				const char *q = skip_sp(p + 6, e);
				uint32_t u;

				if (m->has_uid || m->uid_twice)
					m->uid_twice = true;
				else if (parse_u32(&q, e, &u) &&
					 skip_sp(q, e) == e) {
					m->uid = u;
					m->has_uid = true;
				} else {
					m->uid_bad = true;
				}
			} else if (id == 5 || id == 6) {
				size_t k = id == 5 ? 7 : 11;

				if (!m->ximap && !m->ximapbase) {
					m->ximap_off = off + (int64_t)k;
					m->ximap_len = (size_t)(e - p) - k;
				}
				if (id == 5)
					m->ximap = true;
				else
					m->ximapbase = true;
			} else if (n > 15 &&
				   strncasecmp(p, "Content-Length:", 15) == 0) {
				const char *q = skip_sp(p + 15, e);
				uint32_t v;

				if (parse_u32(&q, e, &v)) {
					m->cl_seen = true;
					m->cl = v;
				}
			} else if (n > 8 &&
				   strncasecmp(p, "Subject:", 8) == 0 &&
				   memmem(p, n, "FOLDER INTERNAL DATA", 20)) {
				m->pseudo_subject = true;
			}
		} else if (P->fl == FL_UNIX && n >= 5 &&
			   memcmp(p, "From ", 5) == 0) {
			m->nbare++;
		}
		off += (int64_t)n;
	}
}

/* A From line for a message that lost its own. */
static void
synth_from(struct plan *P, struct msg *m, const char *sender, size_t slen)
{
	char snd[SENDER_MAX + 1], date[64], line[SYNTH_MAX];
	int64_t t = (int64_t)P->mtime, off;
	int tz = 0;
	size_t i, k = 0;
	int64_t hend = m->body_only	 ? m->text_off :
		       m->blank_off >= 0 ? m->blank_off :
					   m->text_end;

	for (i = 0; i < slen && k < SENDER_MAX; i++) {
		unsigned char c = (unsigned char)sender[i];

		if (c <= ' ' || c >= 127)
			break;
		snd[k++] = (char)c;
	}
	snd[k] = '\0';
	if (k == 0)
		snprintf(snd, sizeof(snd), "MAILER-DAEMON");
	for (off = m->text_off; off < hend;) {
		size_t n = line_at(P, off, hend);
		const char *p = P->buf + off;

		if (n > 5 && strncasecmp(p, "Date:", 5) == 0) {
			int64_t dt;
			int dtz;
			const char *v = skip_sp(p + 5, p + chomp(p, n));

			if (mb_date_parse(v, (size_t)(p + chomp(p, n) - v), &dt,
					  &dtz) &&
			    mb_date_ctime(dt, dtz, date, sizeof(date)) > 0) {
				t = dt;
				tz = dtz;
			}
			break;
		}
		off += (int64_t)n;
	}
	if (mb_date_ctime(t, tz, date, sizeof(date)) == 0)
		mb_date_ctime((int64_t)time(NULL), 0, date, sizeof(date));
	snprintf(line, sizeof(line), "From %s %s", snd, date);
	if (!mbi_from_line(line, strlen(line), NULL))
		snprintf(line, sizeof(line),
			 "From MAILER-DAEMON Thu Jan  1 00:00:00 1970 +0000");
	free(m->synth);
	if ((m->synth = strdup(line)) == NULL)
		P->oom = true;
}

static void
salvage_item(struct plan *P, int64_t off, int64_t len, const char *note)
{
	struct item *it;

	if (len <= 0)
		return;
	if (all_blank(P->buf + off, (size_t)len)) {
		it = new_item(P, I_BLANK, off, len);
		if (it)
			it->note = "blank bytes outside any message";
		return;
	}
	it = new_item(P, I_SALV, off, len);
	if (it == NULL)
		return;
	it->damage = true;
	it->note = note;
	it->salv_no = P->nsalv++;
	P->damaged = true;
}

/*
 * Bytes outside any message: a message again when they hold a header
 * block (at least one well-known field, then a blank line or the end),
 * else salvage.  Lines before that header go to salvage.
 */
static bool
unframed(struct plan *P, int64_t off, int64_t end, const char *what)
{
	int64_t o, hdr = -1, env = -1, prev = -1;
	size_t env_len = 0;
	struct msg *m;
	struct item *it;

	if (end <= off)
		return false;
	if (all_blank(P->buf + off, (size_t)(end - off))) {
		it = new_item(P, I_BLANK, off, end - off);
		if (it != NULL) {
			it->note = "blank bytes outside any message";
			/* mmdf: the file must start with the delimiter */
			if (P->fl == FL_MMDF && off == 0) {
				it->damage = true;
				P->damaged = true;
			}
		}
		return false;
	}
	P->damaged = true;
	for (o = off; o < end && hdr < 0;) {
		size_t n = line_at(P, o, end);
		const char *p = P->buf + o;

		if (header_field(p, n)) {
			/* the block: fields and continuations up to a blank */
			int64_t q = o;
			bool known = false, ok = true;

			while (q < end) {
				size_t k = line_at(P, q, end);
				const char *l = P->buf + q;

				if (blank_line(l, k))
					break;
				if (l[0] == ' ' || l[0] == '\t') {
					if (q == o)
						ok = false;
				} else if (header_field(l, k)) {
					known = known || known_field(l, k);
				} else {
					ok = false;
					break;
				}
				q += (int64_t)k;
			}
			if (ok && known)
				hdr = o;
		}
		if (hdr < 0) {
			prev = o;
			o += (int64_t)n;
		}
	}
	if (hdr < 0) {
		salvage_item(P, off, end - off, what);
		return false;
	}
	/* the line before the header: a From line (valid: mmdf) */
	if (prev >= 0) {
		size_t n = line_at(P, prev, end);
		const char *p = P->buf + prev;

		if (n >= 5 && memcmp(p, "From ", 5) == 0) {
			env = prev;
			env_len = n;
		}
	}
	if (env >= 0 && P->fl == FL_MMDF && valid_from(P->buf + env, env_len)) {
		salvage_item(P, off, env - off, what);
	} else {
		salvage_item(P, off, hdr - off, what);
	}
	it = new_item(P, I_MSG,
		      env >= 0 && P->fl == FL_MMDF &&
				      valid_from(P->buf + env, env_len) ?
			      env :
			      hdr,
		      0);
	m = new_msg(P);
	if (it == NULL || m == NULL)
		return false;
	it->idx = P->n - 1;
	it->damage = true;
	m->is_new = m->recovered = true;
	m->rec_off = it->off;
	m->rec_end = end;
	m->text_off = hdr;
	m->text_end = strip_blank(P, hdr, end);
	it->len = end - it->off;
	parse_text(P, m);
	if (env >= 0 && P->fl == FL_MMDF && valid_from(P->buf + env, env_len)) {
		m->env_off = env;
		m->env_len = env_len;
		add_why(m, "%s, recovered as a message with its own From line",
			what);
	} else {
		const char *s = "";
		size_t sl = 0;

		if (env >= 0 && env_len > 5) {
			s = P->buf + env + 5;
			sl = env_len - 5;
		}
		synth_from(P, m, s, sl);
		add_why(m,
			"%s, recovered as a message with a new From line "
			"(\"%s\")",
			what, synth(m));
	}
	m->regen = true;
	m->damaged = true;
	return true;
}

/* A message record of the original framing. */
static struct msg *
framed(struct plan *P, int64_t rec_off, int64_t rec_end, int64_t env_off,
       size_t env_len, int64_t text_off, int64_t text_end)
{
	struct msg *m = new_msg(P);
	struct item *it = new_item(P, I_MSG, rec_off, rec_end - rec_off);

	if (m == NULL || it == NULL)
		return NULL;
	it->idx = P->n - 1;
	m->rec_off = rec_off;
	m->rec_end = rec_end;
	m->env_off = env_off;
	m->env_len = env_len;
	m->text_off = text_off;
	m->text_end = text_end < text_off ? text_off : text_end;
	m->verbatim_ok = true;
	parse_text(P, m);
	return m;
}

/* --from-lines=split: cut m (the last item) at its first unquoted
 * "From " line; the rest is split again. */
static void
split_msg(struct plan *P, size_t idx)
{
	struct msg *m = &P->m[idx];
	size_t mit = P->nit - 1;
	int64_t off = m->body_off, end = m->text_end, cut = -1;
	int64_t rec_end = m->rec_end, next;
	struct item *it;
	struct msg *k;
	size_t n = 0;

	while (off >= 0 && off < end) {
		n = line_at(P, off, end);
		if (n >= 5 && memcmp(P->buf + off, "From ", 5) == 0) {
			cut = off;
			break;
		}
		off += (int64_t)n;
	}
	if (cut < 0)
		return;
	m->text_end = strip_blank(P, m->text_off, cut);
	if (m->text_end < m->body_off)
		m->text_end = cut;
	m->rec_end = cut;
	P->it[mit].len = cut - P->it[mit].off;
	m->verbatim_ok = false;
	m->regen = m->damaged = true;
	P->damaged = true;
	parse_text(P, m);
	add_why(m, "cut at the unquoted \"From \" line at byte %lld",
		(long long)cut);
	/* the "From " line itself: salvage (its sender is reused) */
	salvage_item(P, cut, (int64_t)n,
		     "an unquoted \"From \" line where a lax reader starts a "
		     "message");
	next = cut + (int64_t)n;
	if (next >= end)
		return;
	k = new_msg(P);
	it = new_item(P, I_MSG, next, rec_end - next);
	if (k == NULL || it == NULL)
		return;
	it->idx = P->n - 1;
	it->damage = true;
	k->is_new = k->body_only = k->recovered = true;
	k->rec_off = next;
	k->rec_end = rec_end;
	k->text_off = next;
	k->text_end = end;
	parse_text(P, k);
	synth_from(P, k, P->buf + cut + 5, n - 5);
	k->regen = k->damaged = true;
	add_why(k,
		"split off at an unquoted \"From \" line, with a new "
		"From line (\"%s\")",
		synth(k));
	if (k->nbare > 0)
		split_msg(P, P->n - 1);
}

static void
frame_unix(struct plan *P)
{
	int64_t off = 0, first = -1, cur = -1;
	size_t curlen = 0;

	while (off < P->len && (P->buf[off] == '\n' || P->buf[off] == '\r' ||
				P->buf[off] == ' ' || P->buf[off] == '\t'))
		off++;
	if (off > 0) {
		struct item *it = new_item(P, I_BLANK, 0, off);

		if (it)
			it->note = "blank bytes before the first From line";
	}
	while (off < P->len) {
		size_t n = line_at(P, off, P->len);
		const char *p = P->buf + off;

		if (n >= 5 && p[0] == 'F' && valid_from(p, n)) {
			if (first < 0) {
				first = off;
				unframed(P,
					 P->nit > 0 ?
						 P->it[0].off + P->it[0].len :
						 0,
					 off,
					 "bytes before the first From line");
			}
			if (cur >= 0) {
				size_t idx = P->n;

				framed(P, cur, off, cur, curlen,
				       cur + (int64_t)curlen,
				       strip_blank(P, cur + (int64_t)curlen,
						   off));
				if (P->n > idx && P->m[idx].nbare > 0 &&
				    P->o->from_lines == RP_FROM_SPLIT)
					split_msg(P, idx);
			}
			/* what lies before the last message is done with */
			mbi_map_release(P->buf, 0, cur >= 0 ? cur : off,
					&P->released);
			cur = off;
			curlen = n;
		}
		off += (int64_t)n;
	}
	if (first < 0) {
		unframed(P, P->nit > 0 ? P->it[0].len : 0, P->len,
			 "bytes that belong to no message");
		return;
	}
	{
		size_t idx = P->n;

		framed(P, cur, P->len, cur, curlen, cur + (int64_t)curlen,
		       strip_blank(P, cur + (int64_t)curlen, P->len));
		if (P->n > idx && P->m[idx].nbare > 0 &&
		    P->o->from_lines == RP_FROM_SPLIT)
			split_msg(P, idx);
	}
}

static void
frame_mmdf(struct plan *P)
{
	int64_t off = 0, seg = 0, open = -1;
	size_t dl = 0;

	while (off < P->len) {
		size_t n = line_at(P, off, P->len);

		if (P->buf[off] != '\1' || !is_delim(P->buf + off, n)) {
			off += (int64_t)n;
			continue;
		}
		if (open < 0) {
			/* text outside a message: one that lost its opening
			 * delimiter (this one then closes it), or garbage */
			if (unframed(P, seg, off,
				     seg == 0 ? "bytes before the first "
						"^A^A^A^A line" :
						"bytes between two MMDF "
						"messages")) {
				seg = off + (int64_t)n;
			} else {
				open = off;
				dl = n;
			}
		} else if (all_blank(P->buf + open + dl,
				     (size_t)(off - open - (int64_t)dl))) {
			/* nothing between two delimiters: the first opens no
			 * message (its message lost its closing one) */
			struct item *it =
				new_item(P, I_BLANK, open, off - open);

			if (it) {
				it->note = "a ^A^A^A^A line that opens no "
					   "message";
				it->damage = true;
			}
			P->damaged = true;
			open = off;
			dl = n;
		} else {
			int64_t t = open + (int64_t)dl, env = -1;
			size_t el = 0;
			struct msg *m;

			if (t < off) {
				size_t k = line_at(P, t, off);

				if (valid_from(P->buf + t, k)) {
					env = t;
					el = k;
					t += (int64_t)k;
				}
			}
			m = framed(P, open, off + (int64_t)n, env, el, t,
				   strip_blank(P, t, off));
			if (m != NULL)
				m->closed = true;
			open = -1;
			seg = off + (int64_t)n;
			/* what lies before this message is done with */
			mbi_map_release(P->buf, 0, t, &P->released);
		}
		off += (int64_t)n;
	}
	if (open < 0) {
		unframed(P, seg, P->len, "bytes after the last MMDF message");
		return;
	}
	/* the last message has no closing delimiter */
	{
		int64_t t = open + (int64_t)dl, env = -1;
		size_t el = 0;
		struct msg *m;

		if (all_blank(P->buf + t, (size_t)(P->len - t))) {
			struct item *it =
				new_item(P, I_BLANK, open, P->len - open);

			if (it) {
				it->note = "a ^A^A^A^A line that opens no "
					   "message";
				it->damage = true;
			}
			P->damaged = true;
			return;
		}
		if (t < P->len) {
			size_t k = line_at(P, t, P->len);

			if (valid_from(P->buf + t, k)) {
				env = t;
				el = k;
				t += (int64_t)k;
			}
		}
		m = framed(P, open, P->len, env, el, t,
			   strip_blank(P, t, P->len));
		if (m != NULL) {
			m->verbatim_ok = false;
			m->regen = m->damaged = true;
			add_why(m, "truncated: closing ^A^A^A^A line added");
			P->damaged = true;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Decisions                                                            */

static bool
parse_base(struct plan *P, struct msg *m, uint32_t *v, uint32_t *l)
{
	const char *p = P->buf + m->ximap_off, *end = p + m->ximap_len;

	p = skip_sp(p, end);
	if (!parse_u32(&p, end, v) || *v == 0)
		return false;
	p = skip_sp(p, end);
	if (!parse_u32(&p, end, l))
		return false;
	for (;;) {
		const char *k;

		p = skip_sp(p, end);
		if (p >= end)
			break;
		k = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		kw_index(P, k, (size_t)(p - k), true);
	}
	return true;
}

static uint32_t
new_validity(uint32_t old)
{
	uint32_t v = (uint32_t)time(NULL);

	if (v <= old && old < UINT32_MAX)
		v = old + 1;
	return v ? v : 1;
}

static void
decide(struct plan *P)
{
	size_t i, first = (size_t)-1;
	bool any_uid = false, broken = false, known = false;
	uint32_t prev = 0, L;

	P->pseudo_idx = P->base_idx = -1;
	/* message 1: the first framed message, or a recovered one that
	 * carries X-IMAP/X-IMAPbase (the pseudo-message lost its From line) */
	for (i = 0; i < P->nit; i++) {
		struct msg *m;

		if (P->it[i].kind != I_MSG)
			continue;
		m = &P->m[P->it[i].idx];
		if (!m->recovered || m->ximap || m->ximapbase) {
			first = P->it[i].idx;
			break;
		}
	}
	if (first != (size_t)-1) {
		struct msg *m = &P->m[first];

		/* a recovered first message that carries the mailbox's
		 * UID state stays first */
		if (m->ximap || m->ximapbase) {
			uint32_t v = 0, l = 0;
			bool ok;

			ok = parse_base(P, m, &v, &l);
			if (m->is_new && (ok || m->ximap)) {
				m->is_new = false;
			}
			if (m->ximap && (ok || m->pseudo_subject)) {
				P->pseudo_idx = (long)first;
				if (!ok) {
					m->damaged = true;
					P->damaged = true;
				}
			} else if (ok) {
				P->base_idx = (long)first;
			} else {
				m->damaged = m->regen = true;
				m->verbatim_ok = false;
				P->damaged = true;
				add_why(m, "malformed %s header removed",
					m->ximap ? "X-IMAP" : "X-IMAPbase");
			}
			if (ok) {
				known = true;
				P->old_validity = v;
				P->old_last = l;
			}
			if (P->pseudo_idx >= 0 && m->is_new) {
				m->is_new = false;
			}
		}
	}
	for (i = 0; i < P->n; i++) {
		struct msg *m = &P->m[i];

		if ((long)i == P->pseudo_idx)
			continue;
		if (m->has_uid || m->uid_bad || m->uid_twice)
			any_uid = true;
	}
	if (!known && (any_uid || P->pseudo_idx >= 0)) {
		P->us = US_RECREATE;
		P->damaged = true;
		snprintf(P->uid_note, sizeof(P->uid_note),
			 "messages have X-UID headers but the mailbox's "
			 "UIDVALIDITY (FOLDER INTERNAL DATA message or "
			 "X-IMAPbase) is gone");
	} else if (known) {
		P->us = US_KNOWN;
	} else {
		P->us = US_NONE;
	}
	if (P->us == US_NONE || !P->ctx->uw_metadata) {
		for (i = 0; i < P->n; i++)
			P->m[i].newuid = 0;
		P->validity = P->old_validity;
		P->last = P->old_last;
		if (P->pseudo_idx >= 0) {
			P->pseudo_out = true;
			P->pseudo_regen = P->m[P->pseudo_idx].damaged ||
					  !P->m[P->pseudo_idx].verbatim_ok;
		}
		return;
	}

	/* UIDs in output order: originals, then new messages */
	L = P->us == US_KNOWN ? P->old_last : 0;
	for (int pass = 0; pass < 2; pass++)
		for (i = 0; i < P->nit; i++) {
			struct msg *m;

			if (P->it[i].kind != I_MSG)
				continue;
			m = &P->m[P->it[i].idx];
			if ((long)P->it[i].idx == P->pseudo_idx ||
			    m->is_new != (pass == 1))
				continue;
			if (m->uid_twice || m->uid_bad) {
				broken = true;
				m->damaged = true;
			}
			if (m->has_uid && !m->is_new && !m->uid_twice) {
				if (m->uid <= prev) {
					broken = true;
					m->damaged = true;
				}
				m->newuid = m->uid;
				if (m->uid > L)
					L = m->uid;
			} else {
				m->newuid = ++L;
			}
			prev = m->newuid;
		}
	if (broken) {
		uint32_t k = 0;

		P->damaged = true;
		P->renumbered = true;
		P->validity = new_validity(P->old_validity);
		for (int pass = 0; pass < 2; pass++)
			for (i = 0; i < P->nit; i++) {
				struct msg *m;

				if (P->it[i].kind != I_MSG)
					continue;
				m = &P->m[P->it[i].idx];
				if ((long)P->it[i].idx == P->pseudo_idx ||
				    m->is_new != (pass == 1))
					continue;
				m->newuid = ++k;
			}
		L = k;
		snprintf(P->uid_note, sizeof(P->uid_note),
			 "UIDs do not ascend (repeated, out of order or "
			 "malformed): new UIDVALIDITY %u, UIDs 1 to %u",
			 P->validity, k);
	} else {
		P->validity =
			P->us == US_KNOWN ? P->old_validity : new_validity(0);
	}
	P->last = L;
	for (i = 0; i < P->n; i++) {
		struct msg *m = &P->m[i];

		if ((long)i == P->pseudo_idx)
			continue;
		if (m->newuid != (m->has_uid ? m->uid : 0)) {
			m->regen = true;
			if (!m->is_new) {
				if (m->has_uid)
					add_why(m, "UID %u renumbered to %u",
						m->uid, m->newuid);
				else
					add_why(m, "given UID %u", m->newuid);
			}
		}
	}
	if (P->pseudo_idx >= 0 || P->us == US_RECREATE ||
	    (P->base_idx < 0 && P->us == US_KNOWN)) {
		P->pseudo_out = true;
		P->pseudo_regen =
			P->pseudo_idx < 0 || P->validity != P->old_validity ||
			P->last != P->old_last || P->m[P->pseudo_idx].damaged ||
			!P->m[P->pseudo_idx].verbatim_ok;
	}
	if (P->base_idx >= 0 &&
	    (P->validity != P->old_validity || P->last != P->old_last)) {
		struct msg *m = &P->m[P->base_idx];

		m->regen = true;
		add_why(m, "X-IMAPbase updated to %u %u", P->validity, P->last);
	}
}

/* Damage found per message by parse_text, and --from-lines=keep. */
static void
mark_damage(struct plan *P)
{
	size_t i;

	for (i = 0; i < P->n; i++) {
		struct msg *m = &P->m[i];

		if (m->nbare > 0 && P->fl == FL_UNIX) {
			m->regen = m->damaged = true;
			P->damaged = true;
			add_why(m,
				"%u unquoted \"From \" line%s quoted as "
				"\">From \"",
				m->nbare, m->nbare == 1 ? "" : "s");
		}
		if (m->cl_seen && m->body_off >= 0 &&
		    m->cl != m->text_end - m->body_off) {
			m->regen = m->damaged = true;
			P->damaged = true;
			/* the text is written by gen_msg with the new value */
		}
		/* one byte a message still maps pages all along */
		mbi_map_release(P->buf, 0, m->rec_off, &P->released);
		if (m->text_end > m->text_off &&
		    P->buf[m->text_end - 1] != '\n') {
			/* only the last message can end mid-line: a writer
			 * appending after it would glue its From line on */
			m->regen = m->damaged = true;
			m->verbatim_ok = false;
			P->damaged = true;
			add_why(m,
				"truncated: the file ends in the middle of "
				"%s; the line is completed",
				m->body_off < 0 ? "the header" : "a line");
		}
	}
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */

struct out {
	struct plan *P;
	struct mbi_rewrite *rw;
	struct mbi_dotlock *dl;
	char tail[2];
	int tlen;
	int64_t pos;
};

static int
out_put(struct out *w, const void *p, size_t n, struct mb_err *e)
{
	const char *c = p;

	if (n == 0)
		return MB_OK;
	if (mbi_wbuf_put(&w->rw->wb, p, n, e) != MB_OK)
		return MB_FAILED;
	if (n >= 2) {
		memcpy(w->tail, c + n - 2, 2);
		w->tlen = 2;
	} else {
		if (w->tlen == 2)
			w->tail[0] = w->tail[1];
		w->tail[w->tlen == 2 ? 1 : w->tlen] = c[0];
		if (w->tlen < 2)
			w->tlen++;
	}
	w->pos += (int64_t)n;
	return MB_OK;
}

static bool
out_nl(const struct out *w)
{
	return w->tlen > 0 && w->tail[w->tlen - 1] == '\n';
}

static bool
out_blank(const struct out *w)
{
	return w->tlen == 2 && w->tail[0] == '\n' && w->tail[1] == '\n';
}

/* The separator before the next message. */
static int
out_sep(struct out *w, struct mb_err *e)
{
	if (w->pos == 0)
		return MB_OK;
	if (!out_nl(w) && out_put(w, "\n", 1, e) != MB_OK)
		return MB_FAILED;
	if (w->P->fl == FL_UNIX && !out_blank(w) &&
	    out_put(w, "\n", 1, e) != MB_OK)
		return MB_FAILED;
	return MB_OK;
}

static int
put_status(struct plan *P, struct mbi_buf *b, unsigned flags, uint64_t kw,
	   uint32_t uid, const char *eol)
{
	size_t start = b->len;
	unsigned i;

	mbi_buf_addf(b, "Status: %s%s%s", flags & MB_SEEN ? "R" : "",
		     flags & MB_OLD ? "O" : "", eol);
	mbi_buf_addf(b, "X-Status: %s%s%s%s%s", flags & MB_DELETED ? "D" : "",
		     flags & MB_FLAGGED ? "F" : "",
		     flags & MB_ANSWERED ? "A" : "",
		     flags & MB_DRAFT ? "T" : "", eol);
	if (P->ctx->uw_metadata) {
		size_t blk;

		mbi_buf_addstr(b, "X-Keywords:");
		for (i = 0; i < P->nkw; i++)
			if (kw & ((uint64_t)1 << i))
				mbi_buf_addf(b, " %s", P->kw[i]);
		for (blk = b->len - start; blk < 50; blk++)
			mbi_buf_add(b, " ", 1);
		mbi_buf_addstr(b, eol);
		if (uid != 0)
			mbi_buf_addf(b, "X-UID: %u%s", uid, eol);
	}
	return 0;
}

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* The pseudo-message as formats/unixfile.c builds it, padded. */
static void
build_pseudo(struct plan *P, time_t now, struct mbi_buf *out, size_t size)
{
	char ct[64];
	int y, mon, d, hh, mm, ss, wd;
	unsigned i;
	size_t closing = P->fl == FL_MMDF ? 6 : 1, col = 0;

	mb_date_ctime(now, 0, ct, sizeof(ct));
	if (strlen(ct) > 6)
		ct[strlen(ct) - 6] = '\0';
	mbi_civil_from_secs(now, &y, &mon, &d, &hh, &mm, &ss, &wd);
	if (P->fl == FL_MMDF)
		mbi_buf_addstr(out, "\1\1\1\1\n");
	mbi_buf_addf(out,
		     "From MAILER-DAEMON %s\n"
		     "Date: %02d %s %04d %02d:%02d:%02d +0000\n"
		     "From: Mail System Internal Data <MAILER-DAEMON@%s>\n"
		     "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL "
		     "DATA\n"
		     "Message-ID: <%lld@%s>\n"
		     "X-IMAP: %010u %010u",
		     ct, d, months[mon - 1], y, hh, mm, ss, P->ctx->localhost,
		     (long long)now, P->ctx->localhost, P->validity, P->last);
	for (i = 0; i < P->nkw; i++)
		mbi_buf_addf(out, " %s", P->kw[i]);
	mbi_buf_addstr(out, "\nStatus: RO\n\n"
			    "This message keeps data that the mail programs "
			    "need for this folder:\n"
			    "its unique identifiers and its keywords.  It is "
			    "not a real message.\n"
			    "Deleting it loses that data; it is then made "
			    "again from scratch.\n");
	while (size > 0 && out->len + closing < size) {
		bool end = col == 72 || out->len + closing + 1 == size;

		mbi_buf_add(out, end ? "\n" : " ", 1);
		col = end ? 0 : col + 1;
	}
	mbi_buf_addstr(out, P->fl == FL_MMDF ? "\n\1\1\1\1\n" : "\n");
}

/* Regenerate message m (section 2.7 layout) into out. */
static int
gen_msg(struct plan *P, struct msg *m, bool base_here, struct mbi_buf *out,
	bool *cl_changed, int64_t *body_len)
{
	struct mbi_buf body;
	int64_t off, hend;
	bool skipping = false, cl_done = false, cl_fix, crlf = false;
	int64_t newlen;
	const char *eol = "\n";

	mbi_buf_init(&body);
	if (m->body_off >= 0) {
		for (off = m->body_off; off < m->text_end;) {
			size_t n = line_at(P, off, m->text_end);
			const char *p = P->buf + off;

			if (P->fl == FL_UNIX && n >= 5 &&
			    memcmp(p, "From ", 5) == 0)
				mbi_buf_add(&body, ">", 1);
			mbi_buf_add(&body, p, n);
			off += (int64_t)n;
		}
		if (body.len > 0 && body.buf[body.len - 1] != '\n')
			mbi_buf_add(&body, "\n", 1);
	}
	newlen = (int64_t)body.len;
	{
		/* write new lines with the message's own line ends */
		int64_t l = m->blank_off >= 0 ? m->blank_off : -1;

		if (l >= 0)
			crlf = P->buf[l] == '\r';
		else if (m->text_end > m->text_off) {
			size_t n = line_at(P, m->text_off, m->text_end);

			crlf = n >= 2 &&
			       P->buf[m->text_off + (int64_t)n - 2] == '\r';
		}
		eol = crlf ? "\r\n" : "\n";
	}
	cl_fix = m->cl_seen && m->cl != newlen;
	*cl_changed = cl_fix;
	if (body_len != NULL)
		*body_len = newlen;

	if (P->fl == FL_MMDF)
		mbi_buf_addstr(out, "\1\1\1\1\n");
	if (m->env_off >= 0) {
		mbi_buf_add(out, P->buf + m->env_off, m->env_len);
		if (m->env_len == 0 ||
		    P->buf[m->env_off + m->env_len - 1] != '\n')
			mbi_buf_addstr(out, "\n");
	} else {
		mbi_buf_addf(out, "%s\n", synth(m));
	}
	hend = m->body_only	 ? m->text_off :
	       m->blank_off >= 0 ? m->blank_off :
				   m->text_end;
	for (off = m->text_off; off < hend;) {
		size_t n = line_at(P, off, hend);
		const char *p = P->buf + off;

		off += (int64_t)n;
		if (p[0] == ' ' || p[0] == '\t') {
			if (!skipping)
				mbi_buf_add(out, p, n);
		} else if (internal_header(p, n)) {
			skipping = true;
			continue;
		} else {
			skipping = false;
			if (n > 15 &&
			    strncasecmp(p, "Content-Length:", 15) == 0) {
				const char *q =
					skip_sp(p + 15, p + chomp(p, n));
				uint32_t v;

				if (cl_fix &&
				    parse_u32(&q, p + chomp(p, n), &v)) {
					mbi_buf_addstr(out, "X-Original-");
					mbi_buf_add(out, p, n);
					if (p[n - 1] != '\n')
						mbi_buf_addstr(out, eol);
					if (!cl_done && !P->o->drop_cl)
						mbi_buf_addf(out,
							     "Content-Length: "
							     "%lld%s",
							     (long long)newlen,
							     eol);
					cl_done = true;
					continue;
				}
			}
			if (P->fl == FL_UNIX && n >= 5 &&
			    memcmp(p, "From ", 5) == 0)
				mbi_buf_add(out, ">", 1);
			mbi_buf_add(out, p, n);
		}
		if (p[n - 1] != '\n')
			mbi_buf_addstr(out, eol);
	}
	if (base_here) {
		unsigned i;

		mbi_buf_addf(out, "X-IMAPbase: %u %u", P->validity, P->last);
		for (i = 0; i < P->nkw; i++)
			mbi_buf_addf(out, " %s", P->kw[i]);
		mbi_buf_addstr(out, eol);
	}
	put_status(P, out, m->flags, m->kw, m->newuid, eol);
	if (m->blank_off >= 0)
		mbi_buf_add(out, P->buf + m->blank_off,
			    (size_t)(m->body_off - m->blank_off));
	else
		mbi_buf_addstr(out, eol);
	mbi_buf_add(out, body.buf, body.len);
	mbi_buf_addstr(out, P->fl == FL_MMDF ? "\n\1\1\1\1\n" : "\n");
	mbi_buf_free(&body);
	if (out->cap == 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Checking the new content with libmbox's own checker                  */

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
verify_new(const char *tmp, const char *format, const char *mailbox,
	   uint32_t want, struct mb_err *e)
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
	rc = mb_open(c, tmp, format,
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
write_all(struct plan *P, struct mbi_rewrite *rw, struct mbi_dotlock *dl,
	  const char *format, uint32_t nout, struct mb_err *e)
{
	struct out w;
	struct mbi_buf b;
	size_t i;
	bool first_written = false;
	int rc;

	memset(&w, 0, sizeof(w));
	w.P = P;
	w.rw = rw;
	w.dl = dl;
	mbi_buf_init(&b);
	if (P->pseudo_out) {
		if (P->pseudo_regen) {
			time_t now = time(NULL);
			size_t sz;

			build_pseudo(P, now, &b, 0);
			sz = b.len + PSEUDO_RESERVE;
			mbi_buf_reset(&b);
			build_pseudo(P, now, &b, sz);
			if (b.cap == 0)
				return mbi_err(e, MB_FATAL, MB_ENOMEM, P->path,
					       -1, "out of memory");
			rc = out_put(&w, b.buf, b.len, e);
			mbi_buf_reset(&b);
		} else {
			struct msg *m = &P->m[P->pseudo_idx];

			rc = mbi_rewrite_copy(rw, m->rec_off,
					      m->rec_end - m->rec_off, e);
			if (rc == MB_OK && m->rec_end > m->rec_off) {
				/* track the tail of the copied bytes */
				int64_t k = m->rec_end - m->rec_off;

				w.pos += k;
				w.tlen = k >= 2 ? 2 : 1;
				memcpy(w.tail, P->buf + m->rec_end - w.tlen,
				       (size_t)w.tlen);
			}
		}
		if (rc != MB_OK)
			goto fail;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < P->nit; i++) {
			struct msg *m;
			bool moved;

			if (P->it[i].kind != I_MSG)
				continue;
			if ((long)P->it[i].idx == P->pseudo_idx)
				continue;
			m = &P->m[P->it[i].idx];
			moved = m->is_new && P->us != US_NONE &&
				P->ctx->uw_metadata;
			if (moved != (pass == 1))
				continue;
			mbi_dotlock_refresh(dl);
			if (pass == 0)
				mbi_map_release(P->buf, 0, m->rec_off,
						&P->released);
			if ((rc = out_sep(&w, e)) != MB_OK)
				goto fail;
			if (!m->regen && m->verbatim_ok) {
				int64_t k = m->rec_end - m->rec_off;

				rc = mbi_rewrite_copy(rw, m->rec_off, k, e);
				if (rc != MB_OK)
					goto fail;
				if (k > 0) {
					w.pos += k;
					w.tlen = k >= 2 ? 2 : 1;
					memcpy(w.tail,
					       P->buf + m->rec_end - w.tlen,
					       (size_t)w.tlen);
				}
			} else {
				bool clc;

				if (gen_msg(P, m,
					    !first_written && !P->pseudo_out &&
						    P->us != US_NONE &&
						    P->ctx->uw_metadata,
					    &b, &clc, NULL) < 0) {
					rc = mbi_err(e, MB_FATAL, MB_ENOMEM,
						     P->path, -1,
						     "out of memory");
					goto fail;
				}
				rc = out_put(&w, b.buf, b.len, e);
				mbi_buf_reset(&b);
				if (rc != MB_OK)
					goto fail;
			}
			first_written = true;
		}
	}
	if (P->fl == FL_UNIX && w.pos > 0 && (rc = out_sep(&w, e)) != MB_OK)
		goto fail;
	if (P->fl == FL_MMDF && w.pos > 0 && !out_nl(&w) &&
	    (rc = out_put(&w, "\n", 1, e)) != MB_OK)
		goto fail;
	mbi_buf_free(&b);
	if ((rc = mbi_wbuf_flush(&rw->wb, e)) != MB_OK)
		return rc;
	return verify_new(rw->tmp, format, P->path, nout, e);
fail:
	mbi_buf_free(&b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Report                                                               */

static void
report_plan(struct plan *P, struct rp_salvage *sv, rp_report_fn fn, void *arg,
	    struct rp_result *res)
{
	int64_t koff = -1, kend = 0;
	uint32_t kn = 0;
	size_t i;
	char text[600], file[PATH_MAX + 32];

	if (!P->damaged) {
		uint32_t n = 0;

		for (i = 0; i < P->n; i++)
			if ((long)i != P->pseudo_idx)
				n++;
		rp_report(fn, arg, RP_KEPT, 0, P->len, n, NULL,
			  "nothing damaged; left as it is", false);
		res->kept = res->messages = n;
		return;
	}
	if (P->pseudo_out && P->pseudo_regen) {
		snprintf(text, sizeof(text),
			 "%s FOLDER INTERNAL DATA message: UIDVALIDITY %u, "
			 "last UID %u%s%s",
			 P->pseudo_idx >= 0 ? "rewrote the" : "made a new",
			 P->validity, P->last, P->uid_note[0] ? " (" : "",
			 P->uid_note[0] ? P->uid_note : "");
		if (P->uid_note[0])
			strncat(text, ")", sizeof(text) - strlen(text) - 1);
		rp_report(fn, arg, RP_PSEUDO,
			  P->pseudo_idx >= 0 ? P->m[P->pseudo_idx].rec_off : -1,
			  P->pseudo_idx >= 0 ?
				  P->m[P->pseudo_idx].rec_end -
					  P->m[P->pseudo_idx].rec_off :
				  0,
			  0, NULL, text,
			  P->pseudo_idx < 0 || P->m[P->pseudo_idx].damaged);
	} else if (P->uid_note[0]) {
		rp_report(fn, arg, RP_PSEUDO, -1, 0, 0, NULL, P->uid_note,
			  true);
	}
	for (i = 0; i <= P->nit; i++) {
		struct item *it = i < P->nit ? &P->it[i] : NULL;
		struct msg *m = it && it->kind == I_MSG ? &P->m[it->idx] : NULL;
		bool kept = m != NULL && !m->regen && m->verbatim_ok;

		if (kept) {
			if (koff < 0)
				koff = m->rec_off;
			kend = m->rec_end;
			if ((long)it->idx != P->pseudo_idx) {
				kn++;
				res->kept++;
			}
			continue;
		}
		if (koff >= 0) {
			snprintf(text, sizeof(text),
				 "%u message%s copied as "
				 "they were",
				 kn, kn == 1 ? "" : "s");
			rp_report(fn, arg, RP_KEPT, koff, kend - koff, kn, NULL,
				  text, false);
			koff = -1;
			kn = 0;
		}
		if (it == NULL)
			break;
		switch (it->kind) {
		case I_BLANK:
			rp_report(fn, arg, RP_BLANK, it->off, it->len, 0, NULL,
				  it->note, it->damage);
			break;
		case I_SALV:
			rp_salvage_name(sv, it->salv_no, file, sizeof(file));
			snprintf(text, sizeof(text),
				 "%s: not a message, "
				 "saved",
				 it->note);
			rp_report(fn, arg, RP_SALVAGED, it->off, it->len, 0,
				  file, text, true);
			res->salvaged++;
			break;
		case I_MSG:
			if ((long)it->idx == P->pseudo_idx)
				break;
			if (m->cl_seen && m->body_off >= 0) {
				/* the value gen_msg writes */
				struct mbi_buf tmp;
				bool clc = false;
				int64_t clc_len = 0;

				mbi_buf_init(&tmp);
				gen_msg(P, m, false, &tmp, &clc, &clc_len);
				mbi_buf_free(&tmp);
				if (clc)
					add_why(m,
						"Content-Length: %lld %s "
						"%lld (the old header kept "
						"as X-Original-Content-"
						"Length)",
						(long long)m->cl,
						P->o->drop_cl ?
							"removed: the body is" :
							"corrected to",
						(long long)clc_len);
			}
			if (m->is_new && P->us != US_NONE &&
			    P->ctx->uw_metadata)
				add_why(m,
					"UID %u, after the last message "
					"(new UIDs go above every old one)",
					m->newuid);
			rp_report(fn, arg,
				  m->recovered ? RP_RECOVERED : RP_CHANGED,
				  it->off, it->len, 1, NULL,
				  m->why ? m->why : "", m->damaged);
			if (m->recovered)
				res->recovered++;
			else
				res->changed++;
			break;
		}
	}
	res->messages = res->kept + res->changed + res->recovered;
}

/* ------------------------------------------------------------------ */

static void
plan_free(struct plan *P)
{
	unsigned i;

	for (i = 0; i < P->nkw; i++)
		free(P->kw[i]);
	for (i = 0; i < P->n; i++) {
		free(P->m[i].why);
		free(P->m[i].synth);
	}
	free(P->m);
	free(P->it);
}

int
rp_repair_mbox(struct mb_ctx *ctx, const char *path, const char *format,
	       const struct rp_opts *o, rp_report_fn fn, void *arg,
	       struct rp_result *res, struct mb_err *e)
{
	struct plan P;
	struct stat st;
	struct mbi_tmplock tl = { .fd = -1 };
	struct mbi_dotlock dl;
	struct rp_salvage sv;
	struct mbi_rewrite rw;
	void *map = NULL;
	volatile sig_atomic_t bus = 0;
	int fd, rc;
	bool flocked = false;
	size_t i;

	memset(&P, 0, sizeof(P));
	memset(&dl, 0, sizeof(dl));
	memset(&rw, 0, sizeof(rw));
	dl.helper_fd = -1;
	P.ctx = ctx;
	P.path = path;
	P.o = o;
	P.fl = strcmp(format, "mmdf") == 0 ? FL_MMDF : FL_UNIX;
	P.pseudo_idx = P.base_idx = -1;
	snprintf(res->format, sizeof(res->format), "%s", format);

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
		rc = mbi_flock(fd, LOCK_SH, ctx->lock_timeout, path, e);
		if (rc != MB_OK)
			goto out;
		flocked = true;
	} else {
		/* UW's locks for a rewrite (section 12) */
		rc = mbi_tmplock_open(&st, &tl, e);
		if (rc == MB_OK)
			rc = mbi_tmplock_lock(&tl, LOCK_EX, ctx->lock_timeout,
					      e);
		if (rc != MB_OK)
			goto out;
		mbi_tmplock_write_pid(&tl);
		rc = mbi_dotlock_take(ctx, path, &dl, ctx->lock_timeout, e);
		if (rc != MB_OK)
			goto out;
		rc = mbi_flock(fd, LOCK_EX, ctx->lock_timeout, path, e);
		if (rc != MB_OK)
			goto out;
		flocked = true;
		rc = mbi_fcntl_lock(fd, F_WRLCK, ctx->lock_timeout, path, e);
		if (rc != MB_OK)
			goto out;
		rc = rp_recover(path, fd, fn, arg, e);
		if (rc != MB_OK)
			goto out;
	}
	/* the file as it is now, under the locks: includes what was
	 * delivered while we waited for them */
	if (fstat(fd, &st) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, path,
				 "cannot stat mailbox");
		goto out;
	}
	res->size_before = res->size_after = st.st_size;
	P.len = st.st_size;
	P.mtime = st.st_mtime;
	rp_salvage_init(&sv, path, o->salvage_dir);
	snprintf(res->salvage_dir, sizeof(res->salvage_dir), "%s", sv.dir);
	if (P.len == 0) {
		rp_report(fn, arg, RP_KEPT, 0, 0, 0, NULL,
			  "empty mailbox; nothing to do", false);
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

	if (P.fl == FL_UNIX)
		frame_unix(&P);
	else
		frame_mmdf(&P);
	/* the passes after framing go back to the start: give all back */
	mbi_map_release(P.buf, 0, P.len, &P.released);
	P.released = 0;
	if (!P.oom) {
		mark_damage(&P);
		decide(&P);
	}
	mbi_map_release(P.buf, 0, P.len, &P.released);
	P.released = 0;
	if (P.oom) {
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1, "out of memory");
		goto out;
	}
	res->damaged = P.damaged;
	res->renumbered = P.renumbered;
	res->uidvalidity = P.us != US_NONE ? P.validity : 0;
	report_plan(&P, &sv, fn, arg, res);
	if (!P.damaged || o->dry_run) {
		rc = MB_OK;
		goto out;
	}

	/* 1. the verified backup, kept */
	mbi_dotlock_refresh(&dl);
	rc = rp_backup(path, fd, P.len, &st, &dl, res->backup,
		       sizeof(res->backup), e);
	if (rc != MB_OK)
		goto out;
	/* 2. the salvage files */
	for (i = 0; i < P.nit; i++) {
		struct item *it = &P.it[i];

		if (it->kind != I_SALV)
			continue;
		rc = rp_salvage_write(&sv, it->salv_no, P.buf + it->off,
				      (size_t)it->len, e);
		if (rc != MB_OK)
			goto out;
	}
	/* 3. the new content, checked, then copied over in place */
	if (bus) {
		rc = rp_shrank(path, e);
		goto out;
	}
	rc = mbi_rewrite_begin(path, fd, &rw, e);
	if (rc != MB_OK)
		goto out;
	rc = write_all(&P, &rw, &dl, format, res->messages, e);
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
	mbi_dotlock_refresh(&dl);
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
	if (flocked) {
		struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

		fcntl(fd, F_SETLK, &fl);
		flock(fd, LOCK_UN);
	}
	mbi_dotlock_release(&dl);
	if (tl.fd >= 0)
		mbi_tmplock_release(&tl);
	close(fd);
	plan_free(&P);
	return rc;
}

/* ------------------------------------------------------------------ */

int
rp_repair(struct mb_ctx *ctx, const char *path, const struct rp_opts *o,
	  rp_report_fn fn, void *arg, struct rp_result *res, struct mb_err *e)
{
	const char *fmt = o->format;

	memset(res, 0, sizeof(*res));
	if (fmt == NULL) {
		struct mb_err pe;

		mb_err_clear(&pe);
		fmt = mb_probe(ctx, path, &pe);
		if (fmt != NULL && strcmp(fmt, "phile") == 0)
			fmt = NULL; /* no format: not a reason to give up */
		if (fmt == NULL) {
			/* too damaged to probe: look for either framing */
			int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			char buf[65536];
			ssize_t n;

			if (fd < 0)
				return mbi_err_sys(e, MB_FAILED, errno, path,
						   "cannot open mailbox");
			n = mbi_pread_full(fd, buf, sizeof(buf) - 1, 0);
			close(fd);
			if (n < 0)
				return mbi_err_sys(e, MB_FAILED, errno, path,
						   "cannot read mailbox");
			buf[n] = '\0';
			if (rp_mbx_looks(buf, (size_t)n))
				fmt = "mbx";
			else if ((n >= 5 &&
				  memcmp(buf, "\1\1\1\1\n", 5) == 0) ||
				 memmem(buf, (size_t)n, "\n\1\1\1\1\n", 6))
				fmt = "mmdf";
			else {
				const char *p = buf;

				while (p != NULL && p < buf + n) {
					const char *nl = memchr(
						p, '\n', (size_t)(buf + n - p));

					if (nl != NULL &&
					    mbi_from_line(
						    p,
						    chomp(p,
							  (size_t)(nl + 1 - p)),
						    NULL)) {
						fmt = "unix";
						break;
					}
					p = nl ? nl + 1 : NULL;
				}
			}
			if (fmt == NULL)
				return mbi_err(e, MB_FAILED, MB_EFORMAT, path,
					       -1,
					       "no From line and no ^A^A^A^A "
					       "line in the first 64 KiB: not "
					       "a mailbox? (--format=unix or "
					       "--format=mmdf repairs it "
					       "anyway)");
		}
	}
	if (strcmp(fmt, "mbox") == 0 || strcmp(fmt, "mboxo") == 0 ||
	    strcmp(fmt, "mboxrd") == 0)
		fmt = "unix";
	if (strcmp(fmt, "unix") == 0 || strcmp(fmt, "mmdf") == 0)
		return rp_repair_mbox(ctx, path, fmt, o, fn, arg, res, e);
	if (strcmp(fmt, "mbx") == 0)
		return rp_repair_mbx(ctx, path, o, fn, arg, res, e);
	return mbi_err(e, MB_FAILED, MB_ENOTSUP, path, -1,
		       "repair of %s mailboxes is not supported yet", fmt);
}

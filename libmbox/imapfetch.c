/*
 * imapfetch.c - IMAP FETCH data from a parsed message (RFC 3501 7.4.2):
 * ENVELOPE, BODY, BODYSTRUCTURE with its extension data, and
 * BODY[section]<partial> / BINARY[section] (RFC 3516) by byte offsets.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mb-int.h"
#include "mb-msg.h"
#include "msg-int.h"

/* An nstring: NIL, a quoted string, or a literal for what a quoted
 * string cannot carry (CR, LF, NUL, 8-bit bytes). */
static void
put_nstr(struct mbi_buf *b, const char *s)
{
	const unsigned char *p;
	bool lit = false;

	if (s == NULL) {
		mbi_buf_addstr(b, "NIL");
		return;
	}
	for (p = (const unsigned char *)s; *p; p++)
		if (*p == '\r' || *p == '\n' || *p >= 0x80)
			lit = true;
	if (lit) {
		mbi_buf_addf(b, "{%zu}\r\n%s", strlen(s), s);
		return;
	}
	mbi_buf_addstr(b, "\"");
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			mbi_buf_addstr(b, "\\");
		mbi_buf_add(b, p, 1);
	}
	mbi_buf_addstr(b, "\"");
}

static void
put_addrs(struct mbi_buf *b, const struct mb_addr *a, int n)
{
	int i;

	if (n <= 0) {
		mbi_buf_addstr(b, "NIL");
		return;
	}
	mbi_buf_addstr(b, "(");
	for (i = 0; i < n; i++) {
		mbi_buf_addstr(b, "(");
		put_nstr(b, a[i].name);
		mbi_buf_addstr(b, " ");
		put_nstr(b, a[i].adl);
		mbi_buf_addstr(b, " ");
		put_nstr(b, a[i].mailbox);
		mbi_buf_addstr(b, " ");
		put_nstr(b, a[i].host);
		mbi_buf_addstr(b, ")");
	}
	mbi_buf_addstr(b, ")");
}

static void
put_envelope(struct mbi_buf *b, const struct mb_envelope *env)
{
	int k, src;

	mbi_buf_addstr(b, "(");
	put_nstr(b, env->date);
	mbi_buf_addstr(b, " ");
	put_nstr(b, env->subject);
	for (k = 0; k < 6; k++) {
		src = k;
		/* Sender and Reply-To default to From (RFC 3501) */
		if ((k == MB_ENV_SENDER || k == MB_ENV_REPLY_TO) &&
		    env->naddr[k] == 0)
			src = MB_ENV_FROM;
		mbi_buf_addstr(b, " ");
		put_addrs(b, env->addr[src], env->naddr[src]);
	}
	mbi_buf_addstr(b, " ");
	put_nstr(b, env->in_reply_to);
	mbi_buf_addstr(b, " ");
	put_nstr(b, env->message_id);
	mbi_buf_addstr(b, ")");
}

char *
mb_imap_envelope(const struct mb_part *p)
{
	struct mbi_buf b;

	if (p->env == NULL && p->message && p->child != NULL)
		p = p->child;
	if (p->env == NULL)
		return NULL;
	mbi_buf_init(&b);
	put_envelope(&b, p->env);
	return msg_buf_take(&b);
}

static void
put_params(struct mbi_buf *b, const struct mb_param *pa, int n)
{
	int i;

	if (n <= 0) {
		mbi_buf_addstr(b, "NIL");
		return;
	}
	mbi_buf_addstr(b, "(");
	for (i = 0; i < n; i++) {
		if (i > 0)
			mbi_buf_addstr(b, " ");
		put_nstr(b, pa[i].name);
		mbi_buf_addstr(b, " ");
		put_nstr(b, pa[i].value);
	}
	mbi_buf_addstr(b, ")");
}

/* Content-Language: one tag as a string, several as a list. */
static void
put_language(struct mbi_buf *b, const char *lang)
{
	char *tags[32];
	int n = 0, i;
	const char *s = lang;

	if (lang == NULL) {
		mbi_buf_addstr(b, "NIL");
		return;
	}
	while (*s && n < 32) {
		size_t l;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (*s == '(') { /* a comment */
			while (*s && *s != ')')
				s++;
			if (*s)
				s++;
			continue;
		}
		l = strcspn(s, " \t,(");
		if (l == 0)
			break;
		tags[n++] = mbi_strndup(s, l);
		s += l;
	}
	if (n == 0)
		mbi_buf_addstr(b, "NIL");
	else if (n == 1)
		put_nstr(b, tags[0]);
	else {
		mbi_buf_addstr(b, "(");
		for (i = 0; i < n; i++) {
			if (i > 0)
				mbi_buf_addstr(b, " ");
			put_nstr(b, tags[i]);
		}
		mbi_buf_addstr(b, ")");
	}
	for (i = 0; i < n; i++)
		free(tags[i]);
}

static void
put_disposition(struct mbi_buf *b, const struct mb_part *p)
{
	if (p->disposition == NULL || p->disposition[0] == 0) {
		mbi_buf_addstr(b, "NIL");
		return;
	}
	mbi_buf_addstr(b, "(");
	put_nstr(b, p->disposition);
	mbi_buf_addstr(b, " ");
	put_params(b, p->dparams, p->ndparams);
	mbi_buf_addstr(b, ")");
}

static bool
is_rfc822(const struct mb_part *p)
{
	return strcasecmp(p->type, "message") == 0 &&
	       strcasecmp(p->subtype, "rfc822") == 0;
}

static void
put_body(struct mbi_buf *b, const struct mb_part *p, bool ext)
{
	const struct mb_part *c;

	mbi_buf_addstr(b, "(");
	if (strcasecmp(p->type, "multipart") == 0) {
		for (c = p->child; c != NULL; c = c->next)
			put_body(b, c, ext);
		/* no parts at all: one empty text/plain, as servers do */
		if (p->child == NULL)
			mbi_buf_addf(b,
				     "(\"text\" \"plain\" (\"charset\" "
				     "\"us-ascii\") NIL NIL \"7bit\" 0 0%s)",
				     ext ? " NIL NIL NIL NIL" : "");
		mbi_buf_addstr(b, " ");
		put_nstr(b, p->subtype);
		if (ext) {
			mbi_buf_addstr(b, " ");
			put_params(b, p->params, p->nparams);
			mbi_buf_addstr(b, " ");
			put_disposition(b, p);
			mbi_buf_addstr(b, " ");
			put_language(b, p->language);
			mbi_buf_addstr(b, " ");
			put_nstr(b, p->location);
		}
		mbi_buf_addstr(b, ")");
		return;
	}
	if (is_rfc822(p)) {
		mbi_buf_addstr(b, "\"message\" \"rfc822\"");
	} else {
		put_nstr(b, p->type);
		mbi_buf_addstr(b, " ");
		put_nstr(b, p->subtype);
	}
	mbi_buf_addstr(b, " ");
	put_params(b, p->params, p->nparams);
	mbi_buf_addstr(b, " ");
	put_nstr(b, p->id);
	mbi_buf_addstr(b, " ");
	put_nstr(b, p->description);
	mbi_buf_addstr(b, " ");
	put_nstr(b, p->encoding ? p->encoding : "7bit");
	mbi_buf_addf(b, " %lld", (long long)p->body_vsize);
	if (strcasecmp(p->type, "text") == 0) {
		mbi_buf_addf(b, " %lld", (long long)p->body_lines);
	} else if (p->message && p->child != NULL) {
		mbi_buf_addstr(b, " ");
		put_envelope(b, p->child->env);
		mbi_buf_addstr(b, " ");
		put_body(b, p->child, ext);
		mbi_buf_addf(b, " %lld", (long long)p->body_lines);
	} else if (is_rfc822(p)) {
		/* encoded, so not parsed: an empty message */
		mbi_buf_addf(b,
			     " (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
			     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
			     "NIL NIL \"7bit\" 0 0%s) %lld",
			     ext ? " NIL NIL NIL NIL" : "",
			     (long long)p->body_lines);
	}
	if (ext) {
		mbi_buf_addstr(b, " ");
		put_nstr(b, p->md5);
		mbi_buf_addstr(b, " ");
		put_disposition(b, p);
		mbi_buf_addstr(b, " ");
		put_language(b, p->language);
		mbi_buf_addstr(b, " ");
		put_nstr(b, p->location);
	}
	mbi_buf_addstr(b, ")");
}

char *
mb_imap_bodystructure(const struct mb_part *p, bool ext)
{
	struct mbi_buf b;

	mbi_buf_init(&b);
	put_body(&b, p, ext);
	return msg_buf_take(&b);
}

/* ------------------------------------------------------------------ */
/* Sections                                                             */

struct sink {
	mb_out_fn out;
	void *arg;
	int64_t skip; /* partial: bytes still to drop */
	int64_t left; /* bytes still to write, or -1 */
	int64_t written;
	bool crlf; /* turn bare LF into CR LF */
	bool last_cr;
	bool failed;
};

static void
sink_raw(struct sink *k, const char *p, size_t n)
{
	size_t d;

	if (k->failed || k->left == 0)
		return;
	if (k->skip > 0) {
		d = (int64_t)n < k->skip ? n : (size_t)k->skip;
		k->skip -= (int64_t)d;
		p += d;
		n -= d;
	}
	if (n == 0)
		return;
	if (k->left >= 0 && (int64_t)n > k->left)
		n = (size_t)k->left;
	if (k->out(k->arg, p, n) != 0)
		k->failed = true;
	k->written += (int64_t)n;
	if (k->left >= 0)
		k->left -= (int64_t)n;
}

static void
sink_put(struct sink *k, const char *p, size_t n)
{
	size_t i, s = 0;

	if (!k->crlf) {
		sink_raw(k, p, n);
		return;
	}
	for (i = 0; i < n; i++) {
		if (p[i] == '\n' && !(i > 0 ? p[i - 1] == '\r' : k->last_cr)) {
			sink_raw(k, p + s, i - s);
			sink_raw(k, "\r\n", 2);
			s = i + 1;
		}
	}
	sink_raw(k, p + s, n - s);
	if (n > 0)
		k->last_cr = p[n - 1] == '\r';
}

/* Read [off, off+len) of the message from r into buf. */
static int
read_range(struct mb_reader *r, int64_t *pos, int64_t off, int64_t len,
	   struct sink *k, struct mb_decoder *dec, struct mb_err *e)
{
	char buf[16384], *dout = NULL;
	size_t dlen = 0, dcap = 0;
	ssize_t got;
	size_t want;

	if (*pos > off) {
		if (mb_reader_rewind(r, e) < 0)
			return MB_FAILED;
		*pos = 0;
	}
	while (*pos < off) {
		want = off - *pos < (int64_t)sizeof(buf) ?
			       (size_t)(off - *pos) :
			       sizeof(buf);
		got = mb_reader_read(r, buf, want, e);
		if (got < 0)
			return MB_FAILED;
		if (got == 0)
			return MB_OK;
		*pos += got;
	}
	while (len > 0 && !k->failed) {
		want = len < (int64_t)sizeof(buf) ? (size_t)len : sizeof(buf);
		got = mb_reader_read(r, buf, want, e);
		if (got < 0) {
			free(dout);
			return MB_FAILED;
		}
		if (got == 0)
			break;
		*pos += got;
		len -= got;
		if (dec != NULL) {
			dlen = 0;
			if (mb_decoder_feed(dec, buf, (size_t)got, &dout, &dlen,
					    &dcap) < 0)
				goto nomem;
			sink_put(k, dout, dlen);
		} else {
			sink_put(k, buf, (size_t)got);
		}
	}
	if (dec != NULL) {
		dlen = 0;
		if (mb_decoder_finish(dec, &dout, &dlen, &dcap) < 0)
			goto nomem;
		sink_put(k, dout, dlen);
		free(dout);
	}
	return MB_OK;
nomem:
	free(dout);
	return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1, "out of memory");
}

static int
buf_out(void *arg, const void *p, size_t n)
{
	return mbi_buf_add(arg, p, n);
}

struct fsel {
	char **names;
	int n;
	bool not ;
	struct sink *k;
};

/*
 * HEADER.FIELDS: the fields of the header block hb (without its empty
 * line) whose names are listed, or for .NOT those that are not (lines
 * that are no field at all go with .NOT), each as it is written.
 */
static void
filter_fields(struct fsel *f, const char *hb, size_t len)
{
	size_t i = 0, start, end, nl;
	const char *colon;
	bool in;
	int k;

	while (i < len) {
		start = i;
		end = i;
		for (;;) {
			const char *lf = memchr(hb + end, '\n', len - end);

			end = lf ? (size_t)(lf - hb) + 1 : len;
			if (end >= len || (hb[end] != ' ' && hb[end] != '\t'))
				break;
		}
		i = end;
		colon = memchr(hb + start, ':', end - start);
		in = false;
		if (colon != NULL) {
			nl = (size_t)(colon - (hb + start));
			while (nl > 0 && (hb[start + nl - 1] == ' ' ||
					  hb[start + nl - 1] == '\t'))
				nl--;
			for (k = 0; k < f->n; k++)
				if (strlen(f->names[k]) == nl &&
				    strncasecmp(f->names[k], hb + start, nl) ==
					    0)
					in = true;
		}
		if (in == f->not )
			continue;
		sink_put(f->k, hb + start, end - start);
		/* listed fields always end with a line end */
		if (!f->not &&hb[end - 1] != '\n')
			sink_put(f->k, "\n", 1);
	}
}

static void
free_names(char **names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* "(A B C)" into names; -1 when malformed. */
static int
parse_fields(const char *s, char ***out)
{
	char **names = NULL, **nn;
	int n = 0;
	size_t l;

	while (*s == ' ')
		s++;
	if (*s++ != '(')
		return -1;
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == ')')
			break;
		l = strcspn(s, " )");
		if (l == 0 || s[l] == 0) {
			free_names(names, n);
			return -1;
		}
		if (*s == '"' && l >= 2 && s[l - 1] == '"') {
			s++;
			l -= 2;
		}
		nn = mbi_reallocarray(names, (size_t)n + 1, sizeof(*nn));
		if (nn == NULL) {
			free_names(names, n);
			return -1;
		}
		names = nn;
		names[n] = mbi_strndup(s, l);
		n++;
		s += l + (s[l] == '"');
	}
	if (s[1] != 0) {
		free_names(names, n);
		return -1;
	}
	*out = names;
	return n;
}

int
mb_imap_section(const struct mb_mime *m, struct mb_reader *r,
		const char *section, bool binary, int64_t partial_off,
		int64_t partial_len, mb_out_fn out, void *arg, int64_t *size,
		struct mb_err *e)
{
	struct sink k = { out, arg, 0, -1, 0, true, false, false };
	const struct mb_part *p, *msg;
	struct mb_decoder dec, *dp = NULL;
	char num[256], *hb = NULL;
	const char *text;
	size_t nl = 0, i;
	int64_t pos = -1, off, len;
	int rc;

	if (size != NULL)
		*size = 0;
	if (partial_len >= 0) {
		k.skip = partial_off;
		k.left = partial_len;
	}
	/* the part number, then the text specifier */
	while (section[nl] &&
	       (isdigit((unsigned char)section[nl]) || section[nl] == '.'))
		nl++;
	text = section + nl;
	if (nl > 0 && *text && section[nl - 1] != '.')
		goto bad;
	if (nl > 0 && *text == 0 && section[nl - 1] == '.')
		goto bad;
	if (nl >= sizeof(num))
		goto bad;
	memcpy(num, section, nl);
	num[nl] = 0;
	/* nz-number ("." nz-number)* */
	for (i = 0; i < nl; i++)
		if ((i == 0 || num[i - 1] == '.') &&
		    (num[i] == '0' || num[i] == '.'))
			goto bad;
	if (nl > 0 && num[nl - 1] == '.')
		num[nl - 1] = 0;
	p = mb_mime_find(m, num);
	if (p == NULL)
		return MB_OK; /* no such part: empty, as servers send */
	/* the message a HEADER/TEXT specifier refers to */
	msg = p;
	if (num[0] && msg->message && msg->child != NULL)
		msg = msg->child;
	if (*text == 0) {
		if (num[0] == 0) {
			off = 0;
			len = m->size;
		} else {
			off = p->body_off;
			len = p->body_size;
			/* BINARY of a multipart or message part is its
			 * body as it is, as Dovecot sends it: these
			 * may only be 7bit, 8bit or binary (RFC 2045
			 * 6.4), and a wrong encoding stays undone */
			if (binary && !p->multipart && !p->message &&
			    strcasecmp(p->type, "multipart") != 0) {
				if (p->cte == MB_CTE_OTHER)
					return mbi_err(
						e, MB_FAILED, MB_EFORMAT, NULL,
						-1,
						"unknown content transfer "
						"encoding '%s'",
						p->encoding);
				mb_decoder_init(&dec, p->cte);
				dp = &dec;
				/* line ends as CR LF, except in decoded
				 * base64 and in binary, which are bytes */
				k.crlf = p->cte != MB_CTE_BASE64 &&
					 p->cte != MB_CTE_BINARY;
			}
		}
	} else if (binary) {
		goto bad;
	} else if (strcasecmp(text, "MIME") == 0) {
		if (num[0] == 0)
			goto bad;
		off = p->hdr_off;
		len = p->hdr_size;
	} else if (strcasecmp(text, "TEXT") == 0) {
		if (num[0] && msg == p)
			return MB_OK; /* no message here: empty */
		off = msg->body_off;
		len = msg->body_size;
	} else if (strcasecmp(text, "HEADER") == 0) {
		if (num[0] && msg == p)
			return MB_OK;
		off = msg->hdr_off;
		len = msg->hdr_size;
	} else if (strncasecmp(text, "HEADER.FIELDS", 13) == 0) {
		struct fsel f = { NULL, 0, false, &k };
		struct sink hk = { NULL, NULL, 0, -1, 0, false, false, false };
		struct mbi_buf b;

		if (num[0] && msg == p)
			return MB_OK;
		text += 13;
		if (strncasecmp(text, ".NOT", 4) == 0) {
			f.not = true;
			text += 4;
		}
		if (*text != ' ' || (f.n = parse_fields(text, &f.names)) < 0)
			goto bad;
		/* the header block is bounded: read it whole */
		mbi_buf_init(&b);
		if (mbi_buf_grow(&b, (size_t)msg->hdr_size) < 0) {
			free_names(f.names, f.n);
			return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
				       "out of memory");
		}
		hk.out = buf_out;
		hk.arg = &b;
		if (mb_reader_rewind(r, e) < 0) {
			mbi_buf_free(&b);
			free_names(f.names, f.n);
			return MB_FAILED;
		}
		pos = 0;
		rc = read_range(r, &pos, msg->hdr_off, msg->hdr_size, &hk, NULL,
				e);
		if (rc == MB_OK) {
			size_t hl = b.len;
			bool blank = false;

			/* the empty line that ends the header, if any */
			if (hl >= 1 && b.buf[hl - 1] == '\n') {
				size_t t = hl - 1;

				if (t > 0 && b.buf[t - 1] == '\r')
					t--;
				if (t == 0 || b.buf[t - 1] == '\n') {
					hl = t;
					blank = true;
				}
			}
			filter_fields(&f, b.buf, hl);
			if (blank || !f.not )
				sink_put(&k, "\n", 1);
		}
		mbi_buf_free(&b);
		free_names(f.names, f.n);
		if (size != NULL)
			*size = k.written;
		if (rc == MB_OK && k.failed)
			return mbi_err(e, MB_FAILED, MB_EIO, NULL, -1,
				       "output failed");
		return rc;
	} else {
		goto bad;
	}
	free(hb);
	if (mb_reader_rewind(r, e) < 0)
		return MB_FAILED;
	pos = 0;
	rc = read_range(r, &pos, off, len, &k, dp, e);
	if (size != NULL)
		*size = k.written;
	if (rc == MB_OK && dp != NULL && dp->bad > 0)
		return mbi_err(e, MB_FAILED, MB_EFORMAT, NULL, off,
			       "damaged base64 in part %s: %lu bad bytes", num,
			       dp->bad);
	if (rc == MB_OK && k.failed)
		return mbi_err(e, MB_FAILED, MB_EIO, NULL, -1, "output failed");
	return rc;
bad:
	return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
		       "bad section specification '%s'", section);
}

/*
 * mime.c - the MIME structure of a message, parsed in one streaming pass
 * into a tree of parts with byte offsets (RFC 2045, 2046, 2822 and the
 * real world: missing or wrong boundaries, a boundary of an outer
 * multipart closing inner ones, no final delimiter, headers without a
 * body).  Only header blocks are buffered (up to the context's
 * max-header); body bytes pass through a fixed window.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mb-int.h"
#include "mb-msg.h"
#include "msg-int.h"

#define WIN	 65536 /* the line window; longer lines come in pieces */
#define MAXDEPTH 64    /* deeper nesting is read as opaque bodies */
#define MAXPARTS 20000 /* more parts are read as opaque bodies */

struct line {
	const char *p;
	size_t n; /* bytes, line end included */
	int64_t off;
	bool bol; /* starts at the start of a line */
	bool eol; /* ends with LF */
};

struct pstate {
	struct mb_reader *r;
	struct mb_err *e;
	char *win;
	size_t start, end;
	bool eof, err, nomem, at_bol;
	bool stop;   /* the callback returned MB_MIME_STOP */
	int64_t off; /* offset of win[start] */
	/* counts at the start of the current unread position */
	int64_t lfs, barelfs;
	struct line cur; /* the line just read */
	bool have_pushback;
	int64_t pb_lfs, pb_barelfs; /* counts before the pushed-back line */
	int last_eol;  /* 1 (LF) or 2 (CRLF) for the previous line */
	int blank_eol; /* the empty line ending the header just read:
				   1 (LF), 2 (CR LF), 0 (none) */
	bool keep_eol; /* the previous line closed a multipart: the
				   line end before the next boundary stays
				   with the parts that end there (as
				   Dovecot counts it) */
	/* boundaries of the enclosing multiparts, innermost last */
	char *bnd[MAXDEPTH];
	size_t bndlen[MAXDEPTH];
	unsigned nbnd;
	size_t max_header;
	struct mb_mime *m;
	mb_mime_body_fn body;
	void *arg;
};

/* The next line (or piece of one): false at the end or on error. */
static bool
next_line(struct pstate *s)
{
	const char *nl;
	ssize_t got;

	if (s->have_pushback) {
		s->have_pushback = false;
		return true;
	}
	if (s->stop)
		return false; /* the callback asked for no more */
	for (;;) {
		nl = memchr(s->win + s->start, '\n', s->end - s->start);
		if (nl != NULL || s->eof || s->end - s->start >= WIN / 2)
			break;
		if (s->start > 0) {
			memmove(s->win, s->win + s->start, s->end - s->start);
			s->end -= s->start;
			s->start = 0;
		}
		got = mb_reader_read(s->r, s->win + s->end, WIN - s->end, s->e);
		if (got < 0) {
			s->err = true;
			return false;
		}
		if (got == 0)
			s->eof = true;
		s->end += (size_t)got;
	}
	if (s->start >= s->end)
		return false;
	s->keep_eol = false;
	s->cur.p = s->win + s->start;
	s->cur.n = nl ? (size_t)(nl - s->cur.p) + 1 : s->end - s->start;
	if (nl == NULL && s->cur.n > WIN / 2)
		s->cur.n = WIN / 2;
	s->cur.off = s->off;
	s->cur.bol = s->at_bol;
	s->cur.eol = nl != NULL;
	s->pb_lfs = s->lfs;
	s->pb_barelfs = s->barelfs;
	if (nl != NULL) {
		s->lfs++;
		if (s->cur.n < 2 || s->cur.p[s->cur.n - 2] != '\r')
			s->barelfs++;
	}
	s->at_bol = nl != NULL;
	s->start += s->cur.n;
	s->off += (int64_t)s->cur.n;
	return true;
}

/* Is the current line a boundary of an enclosing multipart?  Returns
 * its depth + 1 (innermost wins), 0 if none. */
static unsigned
boundary_of(struct pstate *s, bool *close)
{
	const struct line *l = &s->cur;
	unsigned i;

	if (!l->bol || l->n < 3 || l->p[0] != '-' || l->p[1] != '-')
		return 0;
	for (i = s->nbnd; i-- > 0;) {
		size_t bl = s->bndlen[i];

		if (l->n >= 2 + bl && memcmp(l->p + 2, s->bnd[i], bl) == 0) {
			*close = l->n >= 4 + bl && l->p[2 + bl] == '-' &&
				 l->p[3 + bl] == '-';
			return i + 1;
		}
	}
	return 0;
}

static void
push_back(struct pstate *s)
{
	s->have_pushback = true;
}

/* Where a part that ends at the pushed-back boundary line ends. */
static void
end_at_boundary(struct pstate *s, struct mb_part *p, bool at_eof)
{
	int64_t end, lfs, bare;

	if (at_eof) {
		end = s->off;
		lfs = s->lfs;
		bare = s->barelfs;
	} else {
		end = s->cur.off;
		lfs = s->pb_lfs;
		bare = s->pb_barelfs;
		/* the line end before the boundary belongs to it */
		if (end > p->body_off && !s->keep_eol && s->last_eol > 0) {
			end -= s->last_eol;
			lfs--;
			if (s->last_eol == 1)
				bare--;
		}
	}
	if (end < p->body_off)
		end = p->body_off;
	p->body_size = end - p->body_off;
	p->body_lines = lfs - p->body_lines; /* body_lines held the start */
	if (p->body_lines < 0)
		p->body_lines = 0;
	p->body_vsize = p->body_size + (bare - p->body_vsize);
	if (p->body_vsize < p->body_size)
		p->body_vsize = p->body_size;
}

static void
note_eol(struct pstate *s)
{
	if (s->cur.eol)
		s->last_eol =
			(s->cur.n >= 2 && s->cur.p[s->cur.n - 2] == '\r') ? 2 :
									    1;
}

/* ------------------------------------------------------------------ */
/* Header fields IMAP reports                                           */

struct hctx {
	struct mb_part *p;
	bool want_env;
	struct mb_envelope *env;
	bool nomem;
};

static char *
unfold_dup(const char *v, size_t n)
{
	return mb_hdr_unfold(v, n);
}

/* MIME fields: the first of duplicates wins. */
static void
set_str(char **dst, const char *v, size_t n)
{
	if (*dst != NULL)
		return;
	*dst = unfold_dup(v, n);
}

/* Envelope strings: the last of duplicates wins, as IMAP servers do. */
static void
set_last(char **dst, const char *v, size_t n)
{
	char *s = unfold_dup(v, n);

	if (s == NULL)
		return;
	free(*dst);
	*dst = s;
}

static void
set_addr(struct hctx *h, int which, const char *v, size_t n)
{
	struct mb_envelope *env = h->env;
	int k;

	struct mb_addr *a = NULL, *na;

	/* duplicate fields add their addresses */
	k = mb_addr_parse(v, n, &a);
	if (k < 0) {
		h->nomem = true;
		return;
	}
	if (k == 0)
		return;
	na = mbi_reallocarray(env->addr[which], (size_t)(env->naddr[which] + k),
			      sizeof(*na));
	if (na == NULL) {
		mb_addr_free(a, k);
		h->nomem = true;
		return;
	}
	memcpy(na + env->naddr[which], a, (size_t)k * sizeof(*a));
	free(a);
	env->addr[which] = na;
	env->naddr[which] += k;
}

static int
on_field(void *arg, const char *name, size_t nl, const char *v, size_t vl,
	 size_t off)
{
	struct hctx *h = arg;
	struct mb_part *p = h->p;

#define IS(s) (nl == sizeof(s) - 1 && strncasecmp(name, s, nl) == 0)
	if (IS("content-type")) {
		char *val = NULL;
		int n;

		if (p->has_ctype)
			return 0;
		n = mb_params_parse(v, vl, &val, &p->params);
		if (n < 0) {
			h->nomem = true;
			return 0;
		}
		p->nparams = n;
		p->has_ctype = true;
		if (val != NULL) {
			char *slash = strchr(val, '/');

			if (slash != NULL && slash != val && slash[1]) {
				p->type =
					mbi_strndup(val, (size_t)(slash - val));
				p->subtype = strdup(slash + 1);
			} else if (slash == NULL && val[0] && n == 0) {
				/* "Content-Type: text": a type, no subtype */
				p->type = strdup(val);
				p->subtype = strdup("");
			} else if (slash == NULL && val[0]) {
				/* "text; charset=x": unusable, no type and no
				 * parameters (as Dovecot reports it) */
				mb_params_free(p->params, p->nparams);
				p->params = NULL;
				p->nparams = 0;
				p->type = strdup("");
				p->subtype = strdup("");
			}
			free(val);
		}
	} else if (IS("content-transfer-encoding")) {
		set_str(&p->encoding, v, vl);
	} else if (IS("content-id")) {
		set_str(&p->id, v, vl);
	} else if (IS("content-description")) {
		set_str(&p->description, v, vl);
	} else if (IS("content-md5")) {
		set_str(&p->md5, v, vl);
	} else if (IS("content-location")) {
		set_str(&p->location, v, vl);
	} else if (IS("content-language")) {
		set_str(&p->language, v, vl);
	} else if (IS("content-disposition")) {
		int n;

		if (p->disposition != NULL)
			return 0;
		n = mb_params_parse(v, vl, &p->disposition, &p->dparams);
		if (n < 0)
			h->nomem = true;
		else
			p->ndparams = n;
	} else if (h->env != NULL) {
		struct mb_envelope *env = h->env;

		if (IS("date"))
			set_last(&env->date, v, vl);
		else if (IS("subject"))
			set_last(&env->subject, v, vl);
		else if (IS("in-reply-to"))
			set_last(&env->in_reply_to, v, vl);
		else if (IS("message-id"))
			set_last(&env->message_id, v, vl);
		else if (IS("from"))
			set_addr(h, MB_ENV_FROM, v, vl);
		else if (IS("sender"))
			set_addr(h, MB_ENV_SENDER, v, vl);
		else if (IS("reply-to"))
			set_addr(h, MB_ENV_REPLY_TO, v, vl);
		else if (IS("to"))
			set_addr(h, MB_ENV_TO, v, vl);
		else if (IS("cc"))
			set_addr(h, MB_ENV_CC, v, vl);
		else if (IS("bcc"))
			set_addr(h, MB_ENV_BCC, v, vl);
	}
#undef IS
	(void)off;
	return 0;
}

/* A text part without a charset parameter: us-ascii (RFC 2045 5.2) */
static int
add_default_charset(struct mb_part *p)
{
	struct mb_param *np;
	int i;

	for (i = 0; i < p->nparams; i++)
		if (strcasecmp(p->params[i].name, "charset") == 0)
			return 0;
	np = mbi_reallocarray(p->params, (size_t)p->nparams + 1, sizeof(*np));
	if (np == NULL)
		return -1;
	p->params = np;
	np[p->nparams].name = strdup("charset");
	np[p->nparams].value = strdup("us-ascii");
	if (np[p->nparams].name == NULL || np[p->nparams].value == NULL)
		return -1;
	p->nparams++;
	return 0;
}

/* Apply the parsed header to p: types, defaults, envelope. */
static int
interpret_header(struct pstate *s, struct mb_part *p, const char *hdr,
		 size_t hl, bool digest_child, bool is_message)
{
	struct hctx h = { p, is_message, NULL, false };
	char *b;
	size_t i;
	int k;

	if (is_message) {
		h.env = calloc(1, sizeof(*h.env));
		if (h.env == NULL)
			return -1;
		p->env = h.env;
	}
	mb_hdr_walk(hdr, hl, on_field, &h);
	if (h.nomem)
		return -1;
	if (p->type == NULL) {
		/* missing or unreadable: the default (RFC 2045 5.2) */
		bool had = p->has_ctype;

		mb_params_free(p->params, p->nparams);
		p->params = NULL;
		p->nparams = 0;
		p->type = strdup(digest_child ? "message" : "text");
		p->subtype = strdup(digest_child ? "rfc822" : "plain");
		if (!digest_child) {
			p->params = calloc(1, sizeof(*p->params));
			if (p->params != NULL) {
				p->params[0].name = strdup("charset");
				p->params[0].value = strdup("us-ascii");
				p->nparams = 1;
			}
		}
		(void)had;
	}
	if (p->type == NULL || p->subtype == NULL)
		return -1;
	(void)k;
	if (strcasecmp(p->type, "text") == 0 && add_default_charset(p) < 0)
		return -1;
	p->cte = mb_cte_from_name(p->encoding);
	if (strcasecmp(p->type, "multipart") == 0) {
		for (i = 0; i < (size_t)p->nparams; i++)
			if (strcasecmp(p->params[i].name, "boundary") == 0 &&
			    p->params[i].value[0])
				p->multipart = true;
	} else if (strcasecmp(p->type, "message") == 0 &&
		   strcasecmp(p->subtype, "rfc822") == 0) {
		/* parsed as a message even when encoded (then it is a
		 * header of base64 lines, as Dovecot reads it) */
		p->message = true;
	}
	if (p->depth + 1 >= MAXDEPTH || s->m->nparts >= MAXPARTS)
		p->multipart = p->message = false;
	(void)b;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The entity parser                                                    */

static struct mb_part *
new_part(struct pstate *s, struct mb_part *parent)
{
	struct mb_part *p = calloc(1, sizeof(*p)), **link;

	if (p == NULL) {
		s->nomem = true;
		return NULL;
	}
	p->parent = parent;
	p->depth = parent ? parent->depth + 1 : 0;
	if (parent != NULL) {
		for (link = &parent->child; *link; link = &(*link)->next)
			;
		*link = p;
		parent->nchild++;
	}
	s->m->nparts++;
	return p;
}

/*
 * Parse one entity starting at the current position: its header, then
 * its body, up to a boundary of an enclosing multipart (left pushed
 * back) or the end.  Returns false on a read error or without memory.
 */
static bool parse_entity(struct pstate *s, struct mb_part *p, bool digest_child,
			 bool is_message);

static bool
read_header(struct pstate *s, struct mb_part *p, struct mbi_buf *hb,
	    bool *ended)
{
	bool close;
	int64_t lfs0 = s->lfs, bare0 = s->barelfs;
	int hdr_eol = 0;

	*ended = false;
	s->blank_eol = 0;
	p->hdr_off = s->off - (s->have_pushback ? (int64_t)s->cur.n : 0);
	if (s->have_pushback) {
		lfs0 = s->pb_lfs;
		bare0 = s->pb_barelfs;
	}
	while (next_line(s)) {
		if (s->nbnd > 0 && boundary_of(s, &close)) {
			/* a header cut short by a boundary: no body, and
			 * the line end before the boundary is the
			 * boundary's */
			int64_t lfs = s->pb_lfs, bare = s->pb_barelfs;
			int64_t end = s->cur.off;

			push_back(s);
			*ended = true;
			if (end > p->hdr_off && hdr_eol > 0) {
				end -= hdr_eol;
				lfs--;
				if (hdr_eol == 1)
					bare--;
			}
			p->hdr_size = end - p->hdr_off;
			p->hdr_lines = lfs - lfs0;
			p->hdr_vsize = p->hdr_size + (bare - bare0);
			return true;
		}
		note_eol(s);
		hdr_eol = s->cur.eol ? s->last_eol : 0;
		if (s->cur.bol && (s->cur.n == 1 && s->cur.p[0] == '\n')) {
			s->blank_eol = 1;
			break;
		}
		if (s->cur.bol && s->cur.n == 2 && s->cur.p[0] == '\r' &&
		    s->cur.p[1] == '\n') {
			s->blank_eol = 2;
			break;
		}
		if (hb->len + s->cur.n <= s->max_header) {
			if (mbi_buf_add(hb, s->cur.p, s->cur.n) < 0) {
				s->nomem = true;
				return false;
			}
		} else {
			s->m->truncated = true;
		}
	}
	if (s->err)
		return false;
	p->hdr_size = s->off - p->hdr_off;
	p->hdr_lines = s->lfs - lfs0;
	p->hdr_vsize = p->hdr_size + (s->barelfs - bare0);
	return true;
}

/* Call the body callback; MB_MIME_STOP ends the parse at this point. */
static void
call_body(struct pstate *s, const struct mb_part *p, const char *h, size_t hl,
	  const char *d, size_t n)
{
	int rc;

	if (s->body == NULL)
		return;
	rc = s->body(s->arg, p, h, hl, d, n);
	if (rc == MB_MIME_STOP) {
		s->stop = true;
		s->m->stopped = true;
	}
	if (rc != 0)
		s->body = NULL;
}

static bool
body_leaf(struct pstate *s, struct mb_part *p, struct mbi_buf *hb)
{
	bool close, first = true;

	call_body(s, p, hb->buf, hb->len, NULL, 0);
	while (next_line(s)) {
		if (s->nbnd > 0 && boundary_of(s, &close)) {
			push_back(s);
			end_at_boundary(s, p, false);
			if (first && s->blank_eol > 0) {
				/* the empty line after the header is the
				 * line end before the boundary: the
				 * boundary's (as Dovecot counts it) */
				p->hdr_size -= s->blank_eol;
				p->hdr_vsize -= 2;
				p->hdr_lines--;
			}
			return true;
		}
		first = false;
		call_body(s, p, NULL, 0, s->cur.p, s->cur.n);
		note_eol(s);
	}
	if (s->err)
		return false;
	end_at_boundary(s, p, true);
	return true;
}

/* After the close delimiter: the epilogue, to an outer boundary or the
 * end (our boundary already popped). */
static bool
epilogue(struct pstate *s, struct mb_part *p)
{
	bool close, first = true;

	while (next_line(s)) {
		if (s->nbnd > 0 && boundary_of(s, &close)) {
			push_back(s);
			s->keep_eol = first;
			end_at_boundary(s, p, false);
			return true;
		}
		note_eol(s);
		first = false;
	}
	if (s->err)
		return false;
	end_at_boundary(s, p, true);
	return true;
}

static bool
body_multipart(struct pstate *s, struct mb_part *p)
{
	const char *b = "";
	unsigned mine, which = 0;
	bool close = false, digest;
	int i;

	for (i = 0; i < p->nparams; i++)
		if (strcasecmp(p->params[i].name, "boundary") == 0)
			b = p->params[i].value;
	digest = strcasecmp(p->subtype, "digest") == 0;
	s->bnd[s->nbnd] = (char *)b;
	s->bndlen[s->nbnd] = strlen(b);
	mine = ++s->nbnd;
	/* the preamble */
	for (;;) {
		if (!next_line(s)) {
			s->nbnd = mine - 1;
			if (s->err)
				return false;
			end_at_boundary(s, p, true);
			return true;
		}
		if ((which = boundary_of(s, &close)) != 0)
			break;
		note_eol(s);
	}
	/* s->cur is a boundary line, not yet consumed */
	for (;;) {
		struct mb_part *c;

		if (which != mine) {
			/* an outer boundary: this multipart ends too */
			s->nbnd = mine - 1;
			push_back(s);
			end_at_boundary(s, p, false);
			return true;
		}
		note_eol(s);
		if (close) {
			s->nbnd = mine - 1;
			return epilogue(s, p);
		}
		c = new_part(s, p);
		if (c == NULL || !parse_entity(s, c, digest, false))
			return false;
		if (!s->have_pushback) {
			s->nbnd = mine - 1;
			end_at_boundary(s, p, true);
			return true;
		}
		s->have_pushback = false;
		which = boundary_of(s, &close);
	}
}

static bool
parse_entity(struct pstate *s, struct mb_part *p, bool digest_child,
	     bool is_message)
{
	struct mbi_buf hb;
	bool ended, ok;

	mbi_buf_init(&hb);
	if (!read_header(s, p, &hb, &ended)) {
		mbi_buf_free(&hb);
		return false;
	}
	if (interpret_header(s, p, hb.buf, hb.len, digest_child,
			     is_message || p->parent == NULL) < 0) {
		s->nomem = true;
		mbi_buf_free(&hb);
		return false;
	}
	if (p->multipart || p->message || ended)
		call_body(s, p, hb.buf, hb.len, NULL, 0);
	p->body_off = p->hdr_off + p->hdr_size;
	/* body_lines and body_vsize hold the counts at the body's start
	 * until end_at_boundary() turns them into sizes */
	p->body_lines = s->have_pushback ? s->pb_lfs : s->lfs;
	p->body_vsize = s->have_pushback ? s->pb_barelfs : s->barelfs;
	s->last_eol = 0;
	if (ended) {
		p->body_off = s->cur.off;
		p->body_size = p->body_vsize = p->body_lines = 0;
		mbi_buf_free(&hb);
		return true;
	}
	if (p->multipart) {
		mbi_buf_free(&hb);
		return body_multipart(s, p);
	}
	if (p->message) {
		struct mb_part *c = new_part(s, p);

		mbi_buf_free(&hb);
		if (c == NULL || !parse_entity(s, c, false, true))
			return false;
		if (s->have_pushback)
			end_at_boundary(s, p, false);
		else
			end_at_boundary(s, p, true);
		return true;
	}
	ok = body_leaf(s, p, &hb);
	mbi_buf_free(&hb);
	return ok;
}

int
mb_mime_parse(struct mb_ctx *ctx, struct mb_reader *r, mb_mime_body_fn body,
	      void *arg, struct mb_mime **out, struct mb_err *e)
{
	struct pstate s;
	struct mb_mime *m;
	bool ok;

	*out = NULL;
	memset(&s, 0, sizeof(s));
	s.r = r;
	s.e = e;
	s.at_bol = true;
	s.body = body;
	s.arg = arg;
	s.max_header = ctx != NULL ? ctx->max_header : 16u << 20;
	s.win = malloc(WIN);
	m = calloc(1, sizeof(*m));
	if (s.win == NULL || m == NULL) {
		free(s.win);
		free(m);
		return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
			       "out of memory");
	}
	s.m = m;
	m->root = new_part(&s, NULL);
	ok = m->root != NULL && parse_entity(&s, m->root, false, true);
	/* a stray pushed-back line cannot remain at the top: no bounds */
	free(s.win);
	if (!ok) {
		mb_mime_free(&m);
		if (s.err)
			return MB_FAILED;
		return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
			       "out of memory");
	}
	m->size = s.off;
	m->vsize = s.off + s.barelfs;
	*out = m;
	return MB_OK;
}

int
mb_mime_parse_buf(const void *buf, size_t len, struct mb_mime **out,
		  struct mb_err *e)
{
	struct mb_reader *r = mb_reader_mem(buf, len);
	int rc;

	if (r == NULL)
		return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
			       "out of memory");
	rc = mb_mime_parse(NULL, r, NULL, NULL, out, e);
	mb_reader_close(&r);
	return rc;
}

static void
free_env(struct mb_envelope *env)
{
	int k;

	if (env == NULL)
		return;
	free(env->date);
	free(env->subject);
	free(env->in_reply_to);
	free(env->message_id);
	for (k = 0; k < 6; k++)
		mb_addr_free(env->addr[k], env->naddr[k]);
	free(env);
}

static void
free_part(struct mb_part *p)
{
	struct mb_part *c, *n;

	/* iterative over siblings, recursive over depth (bounded) */
	for (c = p->child; c; c = n) {
		n = c->next;
		free_part(c);
	}
	free(p->type);
	free(p->subtype);
	mb_params_free(p->params, p->nparams);
	free(p->id);
	free(p->description);
	free(p->encoding);
	free(p->md5);
	free(p->location);
	free(p->language);
	free(p->disposition);
	mb_params_free(p->dparams, p->ndparams);
	free_env(p->env);
	free(p);
}

void
mb_mime_free(struct mb_mime **m)
{
	if (m == NULL || *m == NULL)
		return;
	if ((*m)->root != NULL)
		free_part((*m)->root);
	free(*m);
	*m = NULL;
}

static const struct mb_part *
nth_child(const struct mb_part *p, unsigned long n)
{
	for (p = p->child; p != NULL && n > 1; n--)
		p = p->next;
	return p;
}

const struct mb_part *
mb_mime_find(const struct mb_mime *m, const char *spec)
{
	const struct mb_part *p = m->root;
	bool msglevel = true; /* p is a message, not one of its parts */
	bool self = false;    /* a leaf's "N.1" was used */
	unsigned long n;
	char *end;

	while (*spec) {
		if (*spec < '1' || *spec > '9')
			return NULL;
		n = strtoul(spec, &end, 10);
		if (!msglevel && p->message && p->child != NULL) {
			/* N.n: part n of the message part N encloses */
			p = p->child;
			msglevel = true;
			self = false;
		}
		if (strcasecmp(p->type, "multipart") == 0)
			/* none when it has no parts (no usable boundary) */
			p = p->multipart ? nth_child(p, n) : NULL;
		else if (n != 1 || self ||
			 (!msglevel &&
			  (p->parent == NULL || !p->parent->multipart)))
			return NULL;
		else if (!msglevel)
			self = true;
		/* a message that is no multipart is its own part 1, and
		 * so is a leaf part of a multipart (as Dovecot has it) */
		if (p == NULL)
			return NULL;
		msglevel = false;
		spec = end;
		if (*spec == '.')
			spec++;
		else if (*spec)
			return NULL;
	}
	return p;
}

/*
 * search.c - IMAP SEARCH (RFC 3501 6.4.4) over any mailbox: the criteria
 * parser, and the evaluation of a message through the driver interface.
 * Text keys match case-insensitively over decoded text: RFC 2047 words
 * in headers, the transfer encodings and charsets of text parts, all
 * converted to UTF-8.  Bodies are streamed through a window; the
 * message text is read only when a key needs it.  PCRE2 extensions:
 * X-MATCH "HEADER:REGEX" and X-BODY-MATCH "REGEX" (line by line).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mb-int.h"
#include "mb-msg.h"
#include "msg-int.h"

enum kind {
	K_ALL,
	K_AND,
	K_OR,
	K_NOT,
	K_FLAG,
	K_UNFLAG,
	K_RECENT,
	K_NEW,
	K_OLD,
	K_KEYWORD,
	K_UNKEYWORD,
	K_BEFORE,
	K_ON,
	K_SINCE,
	K_SENTBEFORE,
	K_SENTON,
	K_SENTSINCE,
	K_LARGER,
	K_SMALLER,
	K_HEADER,
	K_BODY,
	K_TEXT,
	K_UID,
	K_SEQ,
	K_RE_HEADER,
	K_RE_BODY,
};

struct range {
	uint32_t lo, hi; /* UINT32_MAX stands for "*" */
};

struct node {
	int kind;
	unsigned flag;
	int64_t num; /* day number, size */
	char *field; /* HEADER name, keyword */
	char *str;   /* folded UTF-8 needle */
	size_t slen;
	struct range *set;
	size_t nset;
	pcre2_code *re;
	struct node **kids;
	size_t nkids;
	bool hit; /* per message: body/text/regex found */
};

struct mb_search {
	struct node *root;
	char *charset;
	/* per message */
	struct mbi_buf hdr; /* the message's header block */
	bool need_text, need_size, need_hdr;
	size_t overlap; /* longest needle - 1 */
	pcre2_match_data *md;
};

struct tok {
	const char *s;
	size_t i, n;
	char *charset;
	struct mb_err *e;
	/* command-line words with blanks: [start, end) in s, each one
	 * string when a string argument starts there */
	const size_t *ws, *we;
	size_t nw;
};

static void
free_node(struct node *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		free_node(n->kids[i]);
	free(n->kids);
	free(n->field);
	free(n->str);
	free(n->set);
	if (n->re != NULL)
		pcre2_code_free(n->re);
	free(n);
}

void
mb_search_free(struct mb_search **s)
{
	if (s == NULL || *s == NULL)
		return;
	free_node((*s)->root);
	free((*s)->charset);
	mbi_buf_free(&(*s)->hdr);
	if ((*s)->md != NULL)
		pcre2_match_data_free((*s)->md);
	free(*s);
	*s = NULL;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                              */

static void
skip_sp(struct tok *t)
{
	while (t->i < t->n && isspace((unsigned char)t->s[t->i]))
		t->i++;
}

/* An atom or a quoted string (malloc'd), NULL at the end or on error. */
static char *
word(struct tok *t, bool *quoted)
{
	struct mbi_buf b;
	size_t st;

	skip_sp(t);
	*quoted = false;
	if (t->i >= t->n)
		return NULL;
	mbi_buf_init(&b);
	if (t->s[t->i] == '"') {
		*quoted = true;
		t->i++;
		while (t->i < t->n && t->s[t->i] != '"') {
			if (t->s[t->i] == '\\' && t->i + 1 < t->n)
				t->i++;
			mbi_buf_add(&b, t->s + t->i, 1);
			t->i++;
		}
		if (t->i >= t->n) {
			mbi_buf_free(&b);
			mbi_err(t->e, MB_FAILED, MB_EINVAL, NULL, (int64_t)t->i,
				"unterminated quoted string");
			return NULL;
		}
		t->i++;
		return msg_buf_take(&b);
	}
	st = t->i;
	while (t->i < t->n && !isspace((unsigned char)t->s[t->i]) &&
	       t->s[t->i] != '(' && t->s[t->i] != ')')
		t->i++;
	mbi_buf_add(&b, t->s + st, t->i - st);
	return msg_buf_take(&b);
}

/* A string argument: a whole command-line word when one starts here. */
static char *
string_word(struct tok *t, bool *quoted)
{
	size_t k;

	skip_sp(t);
	for (k = 0; k < t->nw; k++)
		if (t->ws[k] == t->i) {
			*quoted = true;
			t->i = t->we[k];
			return mbi_strndup(t->s + t->ws[k],
					   t->we[k] - t->ws[k]);
		}
	return word(t, quoted);
}

static int
bad(struct tok *t, const char *what, const char *w)
{
	return mbi_err(t->e, MB_FAILED, MB_EINVAL, NULL, (int64_t)t->i,
		       "%s%s%s%s", what, w ? " '" : "", w ? w : "",
		       w ? "'" : "");
}

/* A string argument, converted from CHARSET and folded. */
static int
str_arg(struct tok *t, struct node *n, const char *key)
{
	bool q;
	char *w = string_word(t, &q), *u;

	if (w == NULL)
		return bad(t, "missing string after", key);
	u = mb_to_utf8(t->charset ? t->charset : "utf-8", w, strlen(w));
	free(w);
	if (u == NULL)
		return bad(t, "out of memory", NULL);
	n->str = mb_utf8_fold(u, strlen(u));
	free(u);
	if (n->str == NULL)
		return bad(t, "out of memory", NULL);
	n->slen = strlen(n->str);
	return MB_OK;
}

/* d-Mon-yyyy into a day number. */
static int
date_arg(struct tok *t, struct node *n, const char *key)
{
	bool q;
	char *w = word(t, &q), *end;
	long d, y;
	int mon;

	if (w == NULL)
		return bad(t, "missing date after", key);
	d = strtol(w, &end, 10);
	if (end == w || *end != '-' || d < 1 || d > 31 ||
	    (mon = mbi_month(end + 1)) == 0 || end[4] != '-') {
		bad(t, "bad date", w);
		free(w);
		return MB_FAILED;
	}
	y = strtol(end + 5, &end, 10);
	if (*end != 0 || y < 1 || y > 9999) {
		bad(t, "bad date", w);
		free(w);
		return MB_FAILED;
	}
	n->num = mbi_days_from_civil((int)y, (unsigned)mon, (unsigned)d);
	free(w);
	return MB_OK;
}

static bool
parse_set(const char *w, struct node *n)
{
	const char *p = w;
	char *end;
	struct range r, *nr;

	while (*p) {
		if (*p == '*') {
			r.lo = UINT32_MAX;
			end = (char *)p + 1;
		} else {
			unsigned long v = strtoul(p, &end, 10);

			if (end == p || v == 0 || v > UINT32_MAX - 1)
				return false;
			r.lo = (uint32_t)v;
		}
		r.hi = r.lo;
		p = end;
		if (*p == ':') {
			p++;
			if (*p == '*') {
				r.hi = UINT32_MAX;
				p++;
			} else {
				unsigned long v = strtoul(p, &end, 10);

				if (end == p || v == 0 || v > UINT32_MAX - 1)
					return false;
				r.hi = (uint32_t)v;
				p = end;
			}
		}
		nr = mbi_reallocarray(n->set, n->nset + 1, sizeof(*nr));
		if (nr == NULL)
			return false;
		n->set = nr;
		n->set[n->nset++] = r;
		if (*p == ',')
			p++;
		else if (*p)
			return false;
	}
	return n->nset > 0;
}

static int compile_re(struct node *n, const char *re, struct mb_err *e);

static int parse_key(struct tok *t, struct node **out);

static int
add_kid(struct node *n, struct node *k)
{
	struct node **nk = mbi_reallocarray(n->kids, n->nkids + 1, sizeof(*nk));

	if (nk == NULL) {
		free_node(k);
		return -1;
	}
	n->kids = nk;
	n->kids[n->nkids++] = k;
	return 0;
}

static const struct {
	const char *name;
	int kind;
	unsigned flag;
} simple[] = {
	{ "ALL", K_ALL, 0 },
	{ "ANSWERED", K_FLAG, MB_ANSWERED },
	{ "DELETED", K_FLAG, MB_DELETED },
	{ "DRAFT", K_FLAG, MB_DRAFT },
	{ "FLAGGED", K_FLAG, MB_FLAGGED },
	{ "SEEN", K_FLAG, MB_SEEN },
	{ "UNANSWERED", K_UNFLAG, MB_ANSWERED },
	{ "UNDELETED", K_UNFLAG, MB_DELETED },
	{ "UNDRAFT", K_UNFLAG, MB_DRAFT },
	{ "UNFLAGGED", K_UNFLAG, MB_FLAGGED },
	{ "UNSEEN", K_UNFLAG, MB_SEEN },
	{ "RECENT", K_RECENT, 0 },
	{ "NEW", K_NEW, 0 },
	{ "OLD", K_OLD, 0 },
};

static const struct {
	const char *name;
	int kind;
} withdate[] = {
	{ "BEFORE", K_BEFORE }, { "ON", K_ON },
	{ "SINCE", K_SINCE },	{ "SENTBEFORE", K_SENTBEFORE },
	{ "SENTON", K_SENTON }, { "SENTSINCE", K_SENTSINCE },
};

static int
parse_key(struct tok *t, struct node **out)
{
	struct node *n;
	char *w;
	bool q;
	size_t i;
	int rc = MB_OK;

	*out = NULL;
	skip_sp(t);
	if (t->i >= t->n)
		return bad(t, "missing search key", NULL);
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return bad(t, "out of memory", NULL);
	if (t->s[t->i] == '(') {
		t->i++;
		n->kind = K_AND;
		for (;;) {
			struct node *k;

			skip_sp(t);
			if (t->i < t->n && t->s[t->i] == ')') {
				t->i++;
				break;
			}
			if (t->i >= t->n) {
				free_node(n);
				return bad(t, "missing ')'", NULL);
			}
			if (parse_key(t, &k) < 0 || add_kid(n, k) < 0) {
				free_node(n);
				return MB_FAILED;
			}
		}
		if (n->nkids == 0) {
			free_node(n);
			return bad(t, "empty parentheses", NULL);
		}
		*out = n;
		return MB_OK;
	}
	if (t->s[t->i] == ')') {
		free_node(n);
		return bad(t, "unexpected ')'", NULL);
	}
	w = word(t, &q);
	if (w == NULL) {
		free_node(n);
		return MB_FAILED;
	}
	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (!q && strcasecmp(w, simple[i].name) == 0) {
			n->kind = simple[i].kind;
			n->flag = simple[i].flag;
			goto done;
		}
	for (i = 0; i < sizeof(withdate) / sizeof(withdate[0]); i++)
		if (!q && strcasecmp(w, withdate[i].name) == 0) {
			n->kind = withdate[i].kind;
			rc = date_arg(t, n, w);
			goto done;
		}
	if (q) {
		rc = bad(t, "unknown search key", w);
	} else if (strcasecmp(w, "NOT") == 0 || strcasecmp(w, "OR") == 0) {
		struct node *k;
		int need = strcasecmp(w, "OR") == 0 ? 2 : 1;

		n->kind = need == 2 ? K_OR : K_NOT;
		while (need-- > 0) {
			if (parse_key(t, &k) < 0 || add_kid(n, k) < 0) {
				rc = MB_FAILED;
				break;
			}
		}
	} else if (strcasecmp(w, "KEYWORD") == 0 ||
		   strcasecmp(w, "UNKEYWORD") == 0) {
		n->kind = toupper((unsigned char)w[0]) == 'K' ? K_KEYWORD :
								K_UNKEYWORD;
		n->field = word(t, &q);
		if (n->field == NULL)
			rc = bad(t, "missing flag after", w);
	} else if (strcasecmp(w, "LARGER") == 0 ||
		   strcasecmp(w, "SMALLER") == 0) {
		char *a = word(t, &q), *end;

		n->kind = toupper((unsigned char)w[0]) == 'L' ? K_LARGER :
								K_SMALLER;
		if (a == NULL || !isdigit((unsigned char)a[0]))
			rc = bad(t, "bad number after", w);
		else {
			n->num = strtoll(a, &end, 10);
			if (*end)
				rc = bad(t, "bad number", a);
		}
		free(a);
	} else if (strcasecmp(w, "HEADER") == 0) {
		n->kind = K_HEADER;
		n->field = word(t, &q);
		if (n->field == NULL)
			rc = bad(t, "missing field name after", w);
		else
			rc = str_arg(t, n, w);
	} else if (strcasecmp(w, "SUBJECT") == 0 ||
		   strcasecmp(w, "FROM") == 0 || strcasecmp(w, "TO") == 0 ||
		   strcasecmp(w, "CC") == 0 || strcasecmp(w, "BCC") == 0) {
		n->kind = K_HEADER;
		n->field = strdup(w);
		rc = str_arg(t, n, w);
	} else if (strcasecmp(w, "BODY") == 0 || strcasecmp(w, "TEXT") == 0) {
		n->kind = toupper((unsigned char)w[0]) == 'B' ? K_BODY : K_TEXT;
		rc = str_arg(t, n, w);
	} else if (strcasecmp(w, "UID") == 0) {
		char *a = word(t, &q);

		n->kind = K_UID;
		if (a == NULL || !parse_set(a, n))
			rc = bad(t, "bad UID set", a);
		free(a);
	} else if (strcasecmp(w, "X-MATCH") == 0 ||
		   strcasecmp(w, "X-BODY-MATCH") == 0) {
		char *a = string_word(t, &q), *colon;
		bool hdr = w[2] == 'M' || w[2] == 'm';

		n->kind = hdr ? K_RE_HEADER : K_RE_BODY;
		if (a == NULL) {
			rc = bad(t, "missing regular expression after", w);
		} else if (hdr &&
			   ((colon = strchr(a, ':')) == NULL || colon == a)) {
			rc = bad(t, "expected HEADER:REGEX, not", a);
		} else if (hdr) {
			n->field = mbi_strndup(a, (size_t)(colon - a));
			rc = compile_re(n, colon + 1, t->e);
		} else {
			rc = compile_re(n, a, t->e);
		}
		free(a);
	} else if (isdigit((unsigned char)w[0]) || w[0] == '*') {
		n->kind = K_SEQ;
		if (!parse_set(w, n))
			rc = bad(t, "bad sequence set", w);
	} else {
		rc = bad(t, "unknown search key", w);
	}
done:
	free(w);
	if (rc < 0) {
		free_node(n);
		return MB_FAILED;
	}
	*out = n;
	return MB_OK;
}

static int
compile_re(struct node *n, const char *re, struct mb_err *e)
{
	int err;
	PCRE2_SIZE eoff;
	PCRE2_UCHAR msg[256];

	n->re = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
			      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &eoff,
			      NULL);
	if (n->re == NULL) {
		pcre2_get_error_message(err, msg, sizeof(msg));
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, (int64_t)eoff,
			       "bad regular expression '%s': %s at offset %zu",
			       re, (char *)msg, (size_t)eoff);
	}
	return MB_OK;
}

static void
scan_needs(struct mb_search *s, struct node *n)
{
	size_t i;

	switch (n->kind) {
	case K_LARGER:
	case K_SMALLER:
		s->need_size = true;
		break;
	case K_HEADER:
	case K_SENTBEFORE:
	case K_SENTON:
	case K_SENTSINCE:
	case K_RE_HEADER:
		s->need_hdr = true;
		break;
	case K_BODY:
	case K_TEXT:
	case K_RE_BODY:
		s->need_text = true;
		s->need_hdr = true;
		if (n->slen > s->overlap)
			s->overlap = n->slen;
		break;
	}
	for (i = 0; i < n->nkids; i++)
		scan_needs(s, n->kids[i]);
}

static int parse_tok(struct tok *t, struct mb_search **out, struct mb_err *e);

int
mb_search_parse(const char *text, struct mb_search **out, struct mb_err *e)
{
	struct tok t = { text, 0, strlen(text), NULL, e, NULL, NULL, 0 };

	return parse_tok(&t, out, e);
}

int
mb_search_parse_argv(int argc, char *const *argv, struct mb_search **out,
		     struct mb_err *e)
{
	struct tok t = { NULL, 0, 0, NULL, e, NULL, NULL, 0 };
	struct mbi_buf b;
	size_t *ws, *we;
	int k, rc;

	*out = NULL;
	mbi_buf_init(&b);
	ws = calloc((size_t)argc + 1, sizeof(*ws));
	we = calloc((size_t)argc + 1, sizeof(*we));
	if (ws == NULL || we == NULL) {
		free(ws);
		free(we);
		return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
			       "out of memory");
	}
	for (k = 0; k < argc; k++) {
		if (k > 0)
			mbi_buf_addstr(&b, " ");
		if (strpbrk(argv[k], " \t") != NULL || argv[k][0] == 0) {
			ws[t.nw] = b.len;
			we[t.nw++] = b.len + strlen(argv[k]);
		}
		mbi_buf_addstr(&b, argv[k]);
	}
	t.s = b.buf;
	t.n = b.len;
	t.ws = ws;
	t.we = we;
	rc = parse_tok(&t, out, e);
	mbi_buf_free(&b);
	free(ws);
	free(we);
	return rc;
}

static int
parse_tok(struct tok *tp, struct mb_search **out, struct mb_err *e)
{
	struct tok t = *tp;
	struct mb_search *s;
	struct node *k;
	size_t save;
	bool q;
	char *w;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
			       "out of memory");
	mbi_buf_init(&s->hdr);
	s->root = calloc(1, sizeof(*s->root));
	if (s->root == NULL) {
		mb_search_free(&s);
		return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
			       "out of memory");
	}
	s->root->kind = K_AND;
	/* CHARSET first */
	save = t.i;
	w = word(&t, &q);
	if (w != NULL && !q && strcasecmp(w, "CHARSET") == 0) {
		free(w);
		w = word(&t, &q);
		if (w == NULL || !mb_charset_known(w)) {
			mbi_err(e, MB_FAILED, MB_EINVAL, NULL, (int64_t)t.i,
				"[BADCHARSET] unknown charset '%s'",
				w ? w : "");
			free(w);
			mb_search_free(&s);
			return MB_FAILED;
		}
		s->charset = w;
		t.charset = w;
	} else {
		free(w);
		t.i = save;
	}
	for (;;) {
		skip_sp(&t);
		if (t.i >= t.n)
			break;
		if (parse_key(&t, &k) < 0 || add_kid(s->root, k) < 0) {
			mb_search_free(&s);
			return MB_FAILED;
		}
	}
	if (s->root->nkids == 0) {
		mb_search_free(&s);
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, 0,
			       "no search criteria");
	}
	scan_needs(s, s->root);
	*out = s;
	return MB_OK;
}

int
mb_search_add_regex(struct mb_search *s, bool hdr, const char *spec,
		    struct mb_err *e)
{
	struct node *n = calloc(1, sizeof(*n));
	const char *colon = strchr(spec, ':');

	if (n == NULL)
		return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
			       "out of memory");
	n->kind = hdr ? K_RE_HEADER : K_RE_BODY;
	if (hdr) {
		if (colon == NULL || colon == spec) {
			free(n);
			return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
				       "expected HEADER:REGEX, not '%s'", spec);
		}
		n->field = mbi_strndup(spec, (size_t)(colon - spec));
		spec = colon + 1;
	}
	if (compile_re(n, spec, e) < 0) {
		free_node(n);
		return MB_FAILED;
	}
	if (add_kid(s->root, n) < 0)
		return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
			       "out of memory");
	scan_needs(s, n);
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                           */

struct textscan {
	struct mb_search *s;
	const struct mb_part *part;
	bool active; /* the current leaf is text we search */
	struct mb_decoder dec;
	struct mb_conv *conv;
	char *dbuf, *cbuf;
	size_t dlen, dcap, clen, ccap;
	struct mbi_buf win;  /* folded text: overlap + new */
	struct mbi_buf line; /* the current line, for regexes */
	bool nomem;
};

static void
each_node(struct node *n, void (*fn)(struct node *, void *), void *arg)
{
	size_t i;

	fn(n, arg);
	for (i = 0; i < n->nkids; i++)
		each_node(n->kids[i], fn, arg);
}

static void
reset_hit(struct node *n, void *arg)
{
	n->hit = false;
}

struct feed {
	const char *p;
	size_t n;
	bool body; /* body text (BODY keys too), else header */
	pcre2_match_data *md;
};

static void
feed_needles(struct node *n, void *arg)
{
	struct feed *f = arg;

	if (n->hit || n->slen == 0)
		return;
	if ((n->kind == K_BODY && f->body) || n->kind == K_TEXT)
		if (memmem(f->p, f->n, n->str, n->slen) != NULL)
			n->hit = true;
}

static void
feed_regex(struct node *n, void *arg)
{
	struct feed *f = arg;

	if (n->hit || n->kind != K_RE_BODY || !f->body)
		return;
	if (pcre2_match(n->re, (PCRE2_SPTR)f->p, f->n, 0, 0, f->md, NULL) >= 0)
		n->hit = true;
}

/* Search folded text appended to the window, keeping an overlap. */
static void
scan_text(struct textscan *ts, const char *u, size_t n, bool body)
{
	struct feed f;
	char *fold;
	size_t keep, i, st;

	fold = mb_utf8_fold(u, n);
	if (fold == NULL) {
		ts->nomem = true;
		return;
	}
	mbi_buf_addstr(&ts->win, fold);
	free(fold);
	f.p = ts->win.buf;
	f.n = ts->win.len;
	f.body = body;
	f.md = ts->s->md;
	each_node(ts->s->root, feed_needles, &f);
	keep = ts->s->overlap;
	if (ts->win.len > keep) {
		memmove(ts->win.buf, ts->win.buf + ts->win.len - keep, keep);
		ts->win.len = keep;
		ts->win.buf[keep] = 0;
	}
	/* regexes line by line, on the unfolded text */
	if (!body || ts->s->md == NULL)
		return;
	st = 0;
	for (i = 0; i < n; i++) {
		if (u[i] != '\n')
			continue;
		if (ts->line.len + (i - st) < (1u << 20))
			mbi_buf_add(&ts->line, u + st, i - st);
		f.p = ts->line.buf;
		f.n = ts->line.len;
		if (f.n > 0 && f.p[f.n - 1] == '\r')
			f.n--;
		each_node(ts->s->root, feed_regex, &f);
		mbi_buf_reset(&ts->line);
		st = i + 1;
	}
	if (ts->line.len + (n - st) < (1u << 20))
		mbi_buf_add(&ts->line, u + st, n - st);
}

static void
flush_line(struct textscan *ts)
{
	struct feed f = { ts->line.buf, ts->line.len, true, ts->s->md };

	if (ts->line.len > 0 && ts->s->md != NULL)
		each_node(ts->s->root, feed_regex, &f);
	mbi_buf_reset(&ts->line);
	mbi_buf_reset(&ts->win);
}

static void
end_leaf(struct textscan *ts)
{
	if (!ts->active)
		return;
	ts->dlen = 0;
	mb_decoder_finish(&ts->dec, &ts->dbuf, &ts->dlen, &ts->dcap);
	ts->clen = 0;
	if (ts->conv != NULL) {
		mb_conv_feed(ts->conv, ts->dbuf, ts->dlen, &ts->cbuf, &ts->clen,
			     &ts->ccap);
		mb_conv_finish(ts->conv, &ts->cbuf, &ts->clen, &ts->ccap);
		scan_text(ts, ts->cbuf, ts->clen, true);
	} else if (ts->dlen > 0) {
		char *u = mb_to_utf8(NULL, ts->dbuf, ts->dlen);

		if (u != NULL)
			scan_text(ts, u, strlen(u), true);
		free(u);
	}
	flush_line(ts);
	mb_conv_free(&ts->conv);
	ts->active = false;
}

static int
on_part(void *arg, const struct mb_part *p, const char *hdr, size_t hl,
	const char *data, size_t n)
{
	struct textscan *ts = arg;
	struct mb_search *s = ts->s;

	if (hdr != NULL || data == NULL) {
		end_leaf(ts);
		if (p->parent == NULL) {
			mbi_buf_reset(&s->hdr);
			mbi_buf_add(&s->hdr, hdr, hl);
			if (!s->need_text)
				/* the header is all we need */
				return s->need_size ? 1 : MB_MIME_STOP;
		} else if (s->need_text) {
			/* headers of attached messages are text too */
			char *u = mb_hdr_decode(hdr, hl, NULL);

			if (u != NULL)
				scan_text(ts, u, strlen(u), false);
			free(u);
			mbi_buf_reset(&ts->win);
		}
		if (p->multipart || p->message)
			return 0;
		ts->part = p;
		ts->active = strcasecmp(p->type, "text") == 0 ||
			     (strcasecmp(p->type, "message") == 0 &&
			      strcasecmp(p->subtype, "delivery-status") == 0);
		if (ts->active) {
			char *cs = mb_param_value(p->params, p->nparams,
						  "charset");

			mb_decoder_init(&ts->dec, p->cte);
			ts->conv = cs ? mb_conv_new(cs) : NULL;
			free(cs);
		}
		return 0;
	}
	if (!ts->active || ts->part != p)
		return 0;
	ts->dlen = 0;
	if (mb_decoder_feed(&ts->dec, data, n, &ts->dbuf, &ts->dlen,
			    &ts->dcap) < 0) {
		ts->nomem = true;
		return 1;
	}
	if (ts->conv != NULL) {
		ts->clen = 0;
		if (mb_conv_feed(ts->conv, ts->dbuf, ts->dlen, &ts->cbuf,
				 &ts->clen, &ts->ccap) < 0) {
			ts->nomem = true;
			return 1;
		}
		scan_text(ts, ts->cbuf, ts->clen, true);
	} else {
		char *u = mb_to_utf8(NULL, ts->dbuf, ts->dlen);

		if (u != NULL)
			scan_text(ts, u, strlen(u), true);
		free(u);
	}
	return 0;
}

struct hmatch {
	const char *field;
	const char *needle;
	size_t nlen;
	pcre2_code *re;
	pcre2_match_data *md;
	bool all; /* every field (TEXT) */
	bool hit;
	int64_t date_day; /* first Date: day, or INT64_MIN */
};

static int
on_hfield(void *arg, const char *name, size_t nl, const char *v, size_t vl,
	  size_t off)
{
	struct hmatch *h = arg;
	char *u, *f;

	if (!h->all &&
	    (strlen(h->field) != nl || strncasecmp(name, h->field, nl) != 0))
		return 0;
	if (h->re == NULL && h->nlen == 0) {
		h->hit = true; /* an empty string: the field exists */
		return 1;
	}
	u = mb_hdr_decode(v, vl, NULL);
	if (u == NULL)
		return 0;
	if (h->re != NULL) {
		if (pcre2_match(h->re, (PCRE2_SPTR)u, strlen(u), 0, 0, h->md,
				NULL) >= 0)
			h->hit = true;
	} else {
		f = mb_utf8_fold(u, strlen(u));
		if (f != NULL && strstr(f, h->needle) != NULL)
			h->hit = true;
		free(f);
	}
	free(u);
	return h->hit;
}

static int
on_date(void *arg, const char *name, size_t nl, const char *v, size_t vl,
	size_t off)
{
	struct hmatch *h = arg;
	int64_t t;
	int tz;

	if (nl != 4 || strncasecmp(name, "date", 4) != 0)
		return 0;
	if (mb_date_parse(v, vl, &t, &tz))
		h->date_day = (t + tz * 60) >= 0 ?
				      (t + tz * 60) / 86400 :
				      -((-(t + tz * 60) + 86399) / 86400);
	return 1;
}

static bool
in_set(const struct node *n, uint32_t v, uint32_t max)
{
	size_t i;

	for (i = 0; i < n->nset; i++) {
		uint32_t lo = n->set[i].lo == UINT32_MAX ? max : n->set[i].lo;
		uint32_t hi = n->set[i].hi == UINT32_MAX ? max : n->set[i].hi;

		if (lo > hi) {
			uint32_t x = lo;

			lo = hi;
			hi = x;
		}
		if (v >= lo && v <= hi)
			return true;
	}
	return false;
}

struct ectx {
	struct mb_search *s;
	struct mb_box *box;
	const struct mb_msg *m;
	uint32_t nmsgs, maxuid;
	int64_t vsize;
	int64_t sent_day; /* INT64_MIN: no date */
};

static bool
eval(struct ectx *x, struct node *n)
{
	const struct mb_msg *m = x->m;
	int64_t day;
	size_t i;
	int kw;

	switch (n->kind) {
	case K_ALL:
		return true;
	case K_AND:
		for (i = 0; i < n->nkids; i++)
			if (!eval(x, n->kids[i]))
				return false;
		return true;
	case K_OR:
		return eval(x, n->kids[0]) || eval(x, n->kids[1]);
	case K_NOT:
		return !eval(x, n->kids[0]);
	case K_FLAG:
		return (m->flags & n->flag) != 0;
	case K_UNFLAG:
		return (m->flags & n->flag) == 0;
	case K_RECENT:
		return (m->flags & MB_OLD) == 0;
	case K_NEW:
		return (m->flags & (MB_OLD | MB_SEEN)) == 0;
	case K_OLD:
		return (m->flags & MB_OLD) != 0;
	case K_KEYWORD:
	case K_UNKEYWORD:
		kw = mb_keyword_index(x->box, n->field, false);
		return (kw >= 0 && (m->keywords >> kw) & 1) ==
		       (n->kind == K_KEYWORD);
	case K_BEFORE:
	case K_ON:
	case K_SINCE:
		day = m->idate + m->idate_tz * 60;
		day = day >= 0 ? day / 86400 : -((-day + 86399) / 86400);
		goto cmpday;
	case K_SENTBEFORE:
	case K_SENTON:
	case K_SENTSINCE:
		if (x->sent_day == INT64_MIN)
			return false;
		day = x->sent_day;
cmpday:
		if (n->kind == K_BEFORE || n->kind == K_SENTBEFORE)
			return day < n->num;
		if (n->kind == K_ON || n->kind == K_SENTON)
			return day == n->num;
		return day >= n->num;
	case K_LARGER:
		return x->vsize > n->num;
	case K_SMALLER:
		return x->vsize < n->num;
	case K_HEADER:
	case K_RE_HEADER: {
		struct hmatch h = { n->field, n->str, n->slen, n->re,
				    x->s->md, false,  false,   0 };

		mb_hdr_walk(x->s->hdr.buf, x->s->hdr.len, on_hfield, &h);
		return h.hit;
	}
	case K_TEXT:
		if (n->hit)
			return true;
		{
			struct hmatch h = { NULL, n->str, n->slen, NULL,
					    NULL, true,	  false,   0 };

			if (n->slen == 0)
				return true;
			mb_hdr_walk(x->s->hdr.buf, x->s->hdr.len, on_hfield,
				    &h);
			return h.hit;
		}
	case K_BODY:
		return n->hit || n->slen == 0;
	case K_RE_BODY:
		return n->hit;
	case K_UID:
		return in_set(n, m->uid, x->maxuid);
	case K_SEQ:
		return in_set(n, m->seq, x->nmsgs);
	}
	return false;
}

int
mb_search_match(struct mb_search *s, struct mb_box *box, const struct mb_msg *m,
		uint32_t nmsgs, uint32_t maxuid, bool *match, struct mb_err *e)
{
	struct ectx x = { s, box, m, nmsgs, maxuid, -1, INT64_MIN };
	struct textscan ts;
	struct mb_reader *r = NULL;
	struct mb_mime *mm = NULL;
	int rc;

	*match = false;
	if (s->md == NULL) {
		s->md = pcre2_match_data_create(4, NULL);
		if (s->md == NULL)
			return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
				       "out of memory");
	}
	each_node(s->root, reset_hit, NULL);
	mbi_buf_reset(&s->hdr);
	if (s->need_hdr || s->need_text || s->need_size) {
		memset(&ts, 0, sizeof(ts));
		ts.s = s;
		mbi_buf_init(&ts.win);
		mbi_buf_init(&ts.line);
		/* header keys alone: the header is enough (POP3: TOP) */
		rc = s->need_text || s->need_size ?
			     mb_msg_open(box, m, &r, e) :
			     mb_msg_open_header(box, m, &r, e);
		if (rc < 0)
			return rc;
		rc = mb_mime_parse(box->ctx, r,
				   (s->need_text || s->need_hdr) ? on_part :
								   NULL,
				   &ts, &mm, e);
		end_leaf(&ts);
		mb_reader_close(&r);
		free(ts.dbuf);
		free(ts.cbuf);
		mbi_buf_free(&ts.win);
		mbi_buf_free(&ts.line);
		mb_conv_free(&ts.conv);
		if (rc < 0)
			return rc;
		if (ts.nomem) {
			mb_mime_free(&mm);
			return mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
				       "out of memory");
		}
		/* the parser reads to the end even when the callback
		 * stopped: vsize is the whole message's */
		x.vsize = mm->vsize;
		mb_mime_free(&mm);
		if (s->need_hdr) {
			struct hmatch h = { 0 };

			h.date_day = INT64_MIN;
			mb_hdr_walk(s->hdr.buf, s->hdr.len, on_date, &h);
			x.sent_day = h.date_day;
		}
	}
	*match = eval(&x, s->root);
	return MB_OK;
}

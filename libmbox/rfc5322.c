/*
 * rfc5322.c - header fields (RFC 5322 with its obsolete syntax),
 * addresses and groups, RFC 2047 encoded-words, MIME parameters with
 * RFC 2231 continuations and charsets.  Nothing here rejects input:
 * whatever cannot be read is skipped or kept as it is.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mb-int.h"
#include "mb-msg.h"
#include "msg-int.h"

int
mb_hdr_walk(const char *buf, size_t len, mb_hdr_fn fn, void *arg)
{
	size_t i = 0, start, colon, end, nlen, vs;
	int rc;

	while (i < len) {
		start = i;
		/* The field runs to the first line end not followed by a
		 * blank (a continuation line). */
		end = i;
		for (;;) {
			const char *nl = memchr(buf + end, '\n', len - end);

			if (nl == NULL) {
				end = len;
				break;
			}
			end = (size_t)(nl - buf) + 1;
			if (end >= len || (buf[end] != ' ' && buf[end] != '\t'))
				break;
		}
		i = end;
		for (colon = start;
		     colon < end && buf[colon] != ':' && buf[colon] != '\n';
		     colon++)
			;
		if (colon >= end || buf[colon] != ':' || colon == start)
			continue;
		nlen = colon - start;
		while (nlen > 0 && (buf[start + nlen - 1] == ' ' ||
				    buf[start + nlen - 1] == '\t'))
			nlen--;
		if (nlen == 0 || buf[start] == ' ' || buf[start] == '\t')
			continue;
		vs = colon + 1;
		while (vs < end && (buf[vs] == ' ' || buf[vs] == '\t'))
			vs++;
		while (end > vs &&
		       (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
			end--;
		rc = fn(arg, buf + start, nlen, buf + vs, end - vs, start);
		if (rc != 0)
			return rc;
	}
	return 0;
}

char *
mb_hdr_unfold(const char *val, size_t len)
{
	char *s = malloc(len + 1);
	size_t i, n = 0;

	if (s == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (val[i] == '\r' || val[i] == '\n')
			continue;
		if (val[i] == '\t' && i > 0 && val[i - 1] == '\n')
			s[n++] = ' ';
		else
			s[n++] = val[i] ? val[i] : ' ';
	}
	s[n] = 0;
	return s;
}

/* ------------------------------------------------------------------ */
/* Tokens (RFC 5322 3.2)                                                */

struct lex {
	const char *s;
	size_t n, i;
	bool mime;	    /* RFC 2045 tspecials: also = / ? */
	size_t cmt, cmtlen; /* the last top-level comment's text */
};

static bool
is_special(int c)
{
	return c == '(' || c == ')' || c == '<' || c == '>' || c == '@' ||
	       c == ',' || c == ';' || c == ':' || c == '\\' || c == '"' ||
	       c == '[' || c == ']';
}

static bool
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip blanks and (nested (comments)). */
static void
skip_cfws(struct lex *l)
{
	int depth;

	for (;;) {
		while (l->i < l->n && is_ws((unsigned char)l->s[l->i]))
			l->i++;
		if (l->i >= l->n || l->s[l->i] != '(')
			return;
		depth = 0;
		l->cmt = l->i + 1;
		while (l->i < l->n) {
			char c = l->s[l->i++];

			if (c == '\\' && l->i < l->n)
				l->i++;
			else if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				break;
		}
		l->cmtlen = l->i - l->cmt - (l->s[l->i - 1] == ')');
	}
}

enum { T_END, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL };

/*
 * The next token into out (unquoted for strings).  dot: '.' is part of
 * an atom (phrases and dot-atoms both).
 */
static int
next_tok(struct lex *l, struct mbi_buf *out, char *special)
{
	char c;

	mbi_buf_reset(out);
	skip_cfws(l);
	if (l->i >= l->n)
		return T_END;
	c = l->s[l->i];
	if (c == '"') {
		l->i++;
		while (l->i < l->n && l->s[l->i] != '"') {
			if (l->s[l->i] == '\\' && l->i + 1 < l->n)
				l->i++;
			if (l->s[l->i] != '\r' && l->s[l->i] != '\n')
				mbi_buf_add(out, l->s + l->i, 1);
			l->i++;
		}
		if (l->i < l->n)
			l->i++;
		return T_QSTR;
	}
	if (c == '[') {
		while (l->i < l->n && l->s[l->i] != ']') {
			if (l->s[l->i] == '\\' && l->i + 1 < l->n)
				l->i++;
			if (!is_ws((unsigned char)l->s[l->i]))
				mbi_buf_add(out, l->s + l->i, 1);
			l->i++;
		}
		if (l->i < l->n)
			l->i++;
		mbi_buf_addstr(out, "]");
		return T_DLIT;
	}
	if (is_special((unsigned char)c) ||
	    (l->mime && (c == '=' || c == '/' || c == '?'))) {
		l->i++;
		*special = c;
		return T_SPECIAL;
	}
	while (l->i < l->n && !is_special((unsigned char)l->s[l->i]) &&
	       !is_ws((unsigned char)l->s[l->i]) &&
	       !(l->mime &&
		 (l->s[l->i] == '=' || l->s[l->i] == '/' || l->s[l->i] == '?')))
		mbi_buf_add(out, l->s + l->i++, 1);
	return T_ATOM;
}

/* ------------------------------------------------------------------ */
/* Addresses (RFC 5322 3.4, 4.4)                                        */

struct alist {
	struct mb_addr *a;
	int n, cap;
	bool nomem;
};

static char *
dup_or_null(const struct mbi_buf *b, bool keep_empty)
{
	if (b->len == 0 && !keep_empty)
		return NULL;
	return mbi_strndup(b->buf, b->len);
}

static void
alist_add(struct alist *al, const struct mbi_buf *name, const char *adl,
	  const char *mbox, const char *host)
{
	struct mb_addr *a;

	if (al->n == al->cap) {
		int cap = al->cap ? al->cap * 2 : 4;
		struct mb_addr *na = mbi_reallocarray(al->a, cap, sizeof(*na));

		if (na == NULL) {
			al->nomem = true;
			return;
		}
		al->a = na;
		al->cap = cap;
	}
	a = &al->a[al->n++];
	if (name != NULL && name->len > 0 && mbox == NULL)
		mbox = "MISSING_MAILBOX";
	if (name != NULL && mbox != NULL && host == NULL)
		host = "MISSING_DOMAIN";
	a->name = name ? dup_or_null(name, false) : NULL;
	a->adl = adl ? strdup(adl) : NULL;
	a->mailbox = mbox ? strdup(mbox) : NULL;
	a->host = host ? strdup(host) : NULL;
}

/* Append a word to a phrase: words separated by one blank. */
static void
phrase_add(struct mbi_buf *ph, const struct mbi_buf *w)
{
	if (ph->len > 0)
		mbi_buf_addstr(ph, " ");
	mbi_buf_add(ph, w->buf, w->len);
}

/* local-part "@" domain after '<' (route first), up to '>'. */
static void
parse_angle(struct lex *l, struct alist *al, const struct mbi_buf *name)
{
	struct mbi_buf tok, local, dom, adl;
	char sp = 0;
	int t;
	bool at = false;

	mbi_buf_init(&tok);
	mbi_buf_init(&local);
	mbi_buf_init(&dom);
	mbi_buf_init(&adl);
	/* obs-route: "@a,@b:" */
	skip_cfws(l);
	if (l->i < l->n && l->s[l->i] == '@') {
		size_t save = l->i;
		const char *colon = memchr(l->s + l->i, ':', l->n - l->i);
		const char *gt = memchr(l->s + l->i, '>', l->n - l->i);

		if (colon != NULL && (gt == NULL || colon < gt)) {
			for (l->i = save; l->s + l->i < colon; l->i++)
				if (!is_ws((unsigned char)l->s[l->i]))
					mbi_buf_add(&adl, l->s + l->i, 1);
			l->i++;
		}
	}
	for (;;) {
		t = next_tok(l, &tok, &sp);
		if (t == T_END || (t == T_SPECIAL && sp == '>'))
			break;
		if (t == T_SPECIAL && sp == '@' && !at) {
			at = true;
			continue;
		}
		if (t == T_SPECIAL && (sp == ',' || sp == ';')) {
			/* unterminated: "<a@b, c" - keep what we have */
			l->i--;
			break;
		}
		if (t == T_SPECIAL) {
			if (sp != '<' && sp != ':')
				mbi_buf_add(at ? &dom : &local, &sp, 1);
			continue;
		}
		if (t == T_QSTR && !at) {
			mbi_buf_addstr(&local, "\"");
			mbi_buf_add(&local, tok.buf, tok.len);
			mbi_buf_addstr(&local, "\"");
		} else {
			mbi_buf_add(at ? &dom : &local, tok.buf, tok.len);
		}
	}
	if (local.len > 0 || dom.len > 0 || name->len > 0)
		alist_add(al, name, adl.len ? adl.buf : NULL,
			  local.len ? local.buf : NULL,
			  at && dom.len ? dom.buf : NULL);
	mbi_buf_free(&tok);
	mbi_buf_free(&local);
	mbi_buf_free(&dom);
	mbi_buf_free(&adl);
}

int
mb_addr_parse(const char *val, size_t len, struct mb_addr **out)
{
	struct lex l = { val, len, 0, false, 0, 0 };
	struct alist al = { 0 };
	struct mbi_buf tok, phrase, local, dom;
	bool in_group = false, at;
	char sp = 0;
	int t;

	*out = NULL;
	mbi_buf_init(&tok);
	mbi_buf_init(&phrase);
	mbi_buf_init(&local);
	mbi_buf_init(&dom);
	while (l.i < l.n && !al.nomem) {
		mbi_buf_reset(&phrase);
		mbi_buf_reset(&local);
		mbi_buf_reset(&dom);
		at = false;
		l.cmtlen = 0;
		for (;;) {
			size_t before = l.i;

			t = next_tok(&l, &tok, &sp);
			if (t == T_END)
				break;
			if (t == T_SPECIAL) {
				if (sp == '.' || sp == '[' || sp == ']' ||
				    sp == '\\' || sp == ')' || sp == '>') {
					continue;
				}
				if (sp == '@' && !at) {
					at = true;
					continue;
				}
				if (sp == '@')
					continue;
				if (sp == '<') {
					parse_angle(&l, &al, &phrase);
					mbi_buf_reset(&phrase);
					mbi_buf_reset(&local);
					at = false;
					sp = 0;
					/* skip to the next ',' or ';' */
					continue;
				}
				if (sp == ':' && !at) {
					if (in_group)
						alist_add(&al, NULL, NULL, NULL,
							  NULL);
					alist_add(&al, NULL, NULL,
						  phrase.len ? phrase.buf : "",
						  NULL);
					in_group = true;
					mbi_buf_reset(&phrase);
					mbi_buf_reset(&local);
					continue;
				}
				if (sp == ':')
					continue;
				/* ',' or ';' */
				(void)before;
				break;
			}
			if (at) {
				mbi_buf_add(&dom, tok.buf, tok.len);
			} else {
				phrase_add(&phrase, &tok);
				if (t == T_QSTR)
					mbi_buf_addstr(&local, "\"");
				mbi_buf_add(&local, tok.buf, tok.len);
				if (t == T_QSTR)
					mbi_buf_addstr(&local, "\"");
			}
		}
		if (at || local.len > 0) {
			/* "addr (Name)": the comment names it */
			mbi_buf_reset(&phrase);
			if (l.cmtlen > 0)
				mbi_buf_add(&phrase, l.s + l.cmt, l.cmtlen);
			alist_add(&al, &phrase, NULL, local.buf,
				  at ? dom.buf : NULL);
		}
		if (t == T_SPECIAL && sp == ';' && in_group) {
			alist_add(&al, NULL, NULL, NULL, NULL);
			in_group = false;
		}
		if (t == T_END)
			break;
	}
	if (in_group)
		alist_add(&al, NULL, NULL, NULL, NULL);
	mbi_buf_free(&tok);
	mbi_buf_free(&phrase);
	mbi_buf_free(&local);
	mbi_buf_free(&dom);
	if (al.nomem) {
		mb_addr_free(al.a, al.n);
		return -1;
	}
	*out = al.a;
	return al.n;
}

void
mb_addr_free(struct mb_addr *a, int n)
{
	int i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(a[i].name);
		free(a[i].adl);
		free(a[i].mailbox);
		free(a[i].host);
	}
	free(a);
}

/* ------------------------------------------------------------------ */
/* RFC 2047 encoded-words                                               */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Append text in charset (NULL: UTF-8, else Latin-1) as UTF-8. */
static void
add_text(struct mbi_buf *out, const char *cs, const char *p, size_t n)
{
	char *u;

	if (n == 0)
		return;
	u = mb_to_utf8(cs, p, n);
	if (u != NULL) {
		mbi_buf_addstr(out, u);
		free(u);
	}
}

/*
 * One encoded-word at s[0..n): "=?cs?E?text?=".  Decodes it into out and
 * returns its length, or 0 when s is no encoded-word.
 */
static size_t
encoded_word(const char *s, size_t n, struct mbi_buf *out)
{
	const char *q1, *q2, *end, *p;
	char cs[64], *star, *dec;
	size_t cl, dl = 0;
	int enc, a, b;
	unsigned bits = 0, nb = 0;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	q1 = memchr(s + 2, '?', n - 2);
	if (q1 == NULL || q1 + 3 >= s + n || q1[2] != '?')
		return 0;
	enc = toupper((unsigned char)q1[1]);
	if (enc != 'B' && enc != 'Q')
		return 0;
	q2 = q1 + 3;
	end = NULL;
	for (p = q2; p + 1 < s + n; p++) {
		if (p[0] == '?' && p[1] == '=') {
			end = p;
			break;
		}
		if (p[0] == ' ' || p[0] == '\t' || p[0] == '\n')
			return 0;
	}
	if (end == NULL)
		return 0;
	cl = (size_t)(q1 - (s + 2));
	if (cl == 0 || cl >= sizeof(cs))
		return 0;
	memcpy(cs, s + 2, cl);
	cs[cl] = 0;
	if ((star = strchr(cs, '*')) != NULL) /* RFC 2231 language */
		*star = 0;
	dec = malloc((size_t)(end - q2) + 1);
	if (dec == NULL)
		return 0;
	for (p = q2; p < end; p++) {
		if (enc == 'Q') {
			if (*p == '_') {
				dec[dl++] = ' ';
			} else if (*p == '=' && p + 2 < end + 1 &&
				   (a = hexval(p[1])) >= 0 &&
				   (b = hexval(p[2])) >= 0) {
				dec[dl++] = (char)(a * 16 + b);
				p += 2;
			} else {
				dec[dl++] = *p;
			}
		} else {
			const char *b64 =
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"abcdefghijklmnopqrstuvwxyz0123456789+/";
			const char *k = *p ? strchr(b64, *p) : NULL;

			if (k == NULL)
				continue;
			bits = (bits << 6) | (unsigned)(k - b64);
			nb += 6;
			if (nb >= 8) {
				nb -= 8;
				dec[dl++] = (char)((bits >> nb) & 0xff);
			}
		}
	}
	add_text(out, cs, dec, dl);
	free(dec);
	return (size_t)(end + 2 - s);
}

char *
mb_hdr_decode(const char *val, size_t len, const char *charset)
{
	struct mbi_buf out, dummy;
	char *u = mb_hdr_unfold(val, len);
	size_t i = 0, j, n, w;

	if (u == NULL)
		return NULL;
	n = strlen(u);
	mbi_buf_init(&out);
	mbi_buf_init(&dummy);
	while (i < n) {
		if (u[i] == '=' && i + 1 < n && u[i + 1] == '?' &&
		    (w = encoded_word(u + i, n - i, &out)) > 0) {
			i += w;
			/* Blanks between two encoded-words are dropped. */
			j = i;
			while (j < n && (u[j] == ' ' || u[j] == '\t'))
				j++;
			if (j > i && j < n &&
			    encoded_word(u + j, n - j, &dummy) > 0)
				i = j;
			mbi_buf_reset(&dummy);
			continue;
		}
		j = i + 1;
		while (j < n && !(u[j] == '=' && j + 1 < n && u[j + 1] == '?'))
			j++;
		add_text(&out, charset, u + i, j - i);
		i = j;
	}
	mbi_buf_free(&dummy);
	free(u);
	return msg_buf_take(&out);
}

/* ------------------------------------------------------------------ */
/* Parameters (RFC 2045 5.1, RFC 2231)                                  */

struct plist {
	struct mb_param *p;
	int n, cap;
};

static int
plist_add(struct plist *pl, const char *name, size_t nl, const char *val,
	  size_t vl)
{
	struct mb_param *np;
	size_t i;

	if (pl->n == pl->cap) {
		int cap = pl->cap ? pl->cap * 2 : 4;

		np = mbi_reallocarray(pl->p, cap, sizeof(*np));
		if (np == NULL)
			return -1;
		pl->p = np;
		pl->cap = cap;
	}
	np = &pl->p[pl->n];
	np->name = mbi_strndup(name, nl);
	np->value = mbi_strndup(val, vl);
	if (np->name == NULL || np->value == NULL) {
		free(np->name);
		free(np->value);
		return -1;
	}
	(void)i;
	pl->n++;
	return 0;
}

/* name*N or name*N*: section number, or -1. */
static int
section_of(const char *name, size_t *base, bool *ext)
{
	const char *star = strchr(name, '*');
	char *end;
	long v;

	*ext = false;
	*base = strlen(name);
	if (star == NULL)
		return -1;
	*base = (size_t)(star - name);
	if (star[1] == 0) {
		*ext = true;
		return -1;
	}
	if (!isdigit((unsigned char)star[1]))
		return -1;
	v = strtol(star + 1, &end, 10);
	if (*end == '*') {
		*ext = true;
		end++;
	}
	if (*end != 0 || v > 10000)
		return -1;
	return (int)v;
}

/* Merge "name*0", "name*1*" ... into one "name" or "name*". */
static int
merge_2231(struct plist *pl)
{
	int i, j, sec, next;
	size_t base, b2;
	bool ext, e2, any_ext;
	struct mbi_buf v, nm;

	for (i = 0; i < pl->n; i++) {
		if (section_of(pl->p[i].name, &base, &ext) != 0)
			continue;
		mbi_buf_init(&v);
		mbi_buf_init(&nm);
		mbi_buf_add(&nm, pl->p[i].name, base);
		any_ext = ext;
		mbi_buf_addstr(&v, pl->p[i].value);
		for (next = 1;; next++) {
			for (j = i + 1; j < pl->n; j++) {
				sec = section_of(pl->p[j].name, &b2, &e2);
				if (sec == next && b2 == base &&
				    strncasecmp(pl->p[j].name, nm.buf, base) ==
					    0)
					break;
			}
			if (j >= pl->n)
				break;
			if (e2 && !any_ext) {
				/* plain text so far: no charset'' prefix */
				struct mbi_buf t;

				mbi_buf_init(&t);
				mbi_buf_addstr(&t, "''");
				mbi_buf_add(&t, v.buf, v.len);
				mbi_buf_free(&v);
				v = t;
				any_ext = true;
			}
			mbi_buf_addstr(&v, pl->p[j].value);
			free(pl->p[j].name);
			free(pl->p[j].value);
			memmove(&pl->p[j], &pl->p[j + 1],
				(size_t)(pl->n - j - 1) * sizeof(pl->p[0]));
			pl->n--;
		}
		if (any_ext)
			mbi_buf_addstr(&nm, "*");
		mbi_buf_addstr(&nm, "\x01"); /* mark: RFC 2231 */
		free(pl->p[i].name);
		free(pl->p[i].value);
		pl->p[i].name = msg_buf_take(&nm);
		pl->p[i].value = msg_buf_take(&v);
	}
	return 0;
}

static int
cmp_param(const void *a, const void *b)
{
	return strcasecmp(((const struct mb_param *)a)->name,
			  ((const struct mb_param *)b)->name);
}

/* The parameters made of RFC 2231 sections go last, sorted by name
 * (the order IMAP servers report them in). */
static void
sort_2231(struct plist *pl)
{
	int i, n = 0, k;
	struct mb_param tmp;
	char *mark;

	for (i = 0; i < pl->n; i++) {
		if (strchr(pl->p[i].name, '\x01') != NULL ||
		    strchr(pl->p[i].name, '*') != NULL)
			continue;
		tmp = pl->p[i];
		memmove(&pl->p[n + 1], &pl->p[n],
			(size_t)(i - n) * sizeof(tmp));
		pl->p[n++] = tmp;
	}
	if (pl->n - n > 1)
		qsort(pl->p + n, (size_t)(pl->n - n), sizeof(pl->p[0]),
		      cmp_param);
	for (k = n; k < pl->n; k++)
		if ((mark = strchr(pl->p[k].name, '\x01')) != NULL)
			*mark = 0;
}

int
mb_params_parse(const char *val, size_t len, char **value,
		struct mb_param **out)
{
	struct lex l = { val, len, 0, true, 0, 0 };
	struct plist pl = { 0 };
	struct mbi_buf v, name, tok;
	char sp = 0;
	int t;
	size_t i;

	*out = NULL;
	if (value != NULL)
		*value = NULL;
	mbi_buf_init(&v);
	mbi_buf_init(&name);
	mbi_buf_init(&tok);
	/* the value: tokens up to ';' */
	for (;;) {
		t = next_tok(&l, &tok, &sp);
		if (t == T_END || (t == T_SPECIAL && sp == ';'))
			break;
		if (t == T_SPECIAL)
			mbi_buf_add(&v, &sp, 1);
		else
			mbi_buf_add(&v, tok.buf, tok.len);
	}
	(void)i;
	while (t != T_END) {
		/* name = value ; */
		t = next_tok(&l, &tok, &sp);
		if (t == T_END)
			break;
		if (t != T_ATOM)
			continue;
		mbi_buf_reset(&name);
		mbi_buf_add(&name, tok.buf, tok.len);
		t = next_tok(&l, &tok, &sp);
		if (t != T_SPECIAL || sp != '=') {
			while (t != T_END && !(t == T_SPECIAL && sp == ';'))
				t = next_tok(&l, &tok, &sp);
			continue;
		}
		/* the value: one token, or atoms and specials glued (a
		 * broken unquoted "a/b=c" value) up to ';' */
		{
			struct mbi_buf pv;
			bool first = true;

			mbi_buf_init(&pv);
			for (;;) {
				size_t save = l.i;

				t = next_tok(&l, &tok, &sp);
				if (t == T_END || (t == T_SPECIAL && sp == ';'))
					break;
				if (!first && t == T_ATOM && save < l.n &&
				    is_ws((unsigned char)val[save]))
					mbi_buf_addstr(&pv, " ");
				if (t == T_SPECIAL)
					mbi_buf_add(&pv, &sp, 1);
				else
					mbi_buf_add(&pv, tok.buf, tok.len);
				first = false;
			}
			if (plist_add(&pl, name.buf, name.len, pv.buf, pv.len) <
			    0) {
				mbi_buf_free(&pv);
				goto nomem;
			}
			mbi_buf_free(&pv);
		}
	}
	merge_2231(&pl);
	sort_2231(&pl);
	mbi_buf_free(&name);
	mbi_buf_free(&tok);
	if (value != NULL)
		*value = msg_buf_take(&v);
	else
		mbi_buf_free(&v);
	*out = pl.p;
	return pl.n;
nomem:
	mbi_buf_free(&v);
	mbi_buf_free(&name);
	mbi_buf_free(&tok);
	mb_params_free(pl.p, pl.n);
	return -1;
}

void
mb_params_free(struct mb_param *p, int n)
{
	int i;

	if (p == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

char *
mb_param_value(const struct mb_param *p, int n, const char *name)
{
	size_t nl = strlen(name);
	int i, a, b;

	for (i = 0; i < n; i++) {
		const char *v = p[i].value, *q1, *q2;
		char cs[64], *dec, *r;
		size_t dl = 0;

		if (strncasecmp(p[i].name, name, nl) != 0)
			continue;
		if (p[i].name[nl] == 0)
			return mb_hdr_decode(v, strlen(v), NULL);
		if (strcmp(p[i].name + nl, "*") != 0)
			continue;
		/* charset'language'%XX */
		q1 = strchr(v, '\'');
		q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
		cs[0] = 0;
		if (q2 != NULL) {
			size_t cl = (size_t)(q1 - v);

			if (cl < sizeof(cs)) {
				memcpy(cs, v, cl);
				cs[cl] = 0;
			}
			v = q2 + 1;
		}
		dec = malloc(strlen(v) + 1);
		if (dec == NULL)
			return NULL;
		for (; *v; v++) {
			if (*v == '%' && (a = hexval(v[1])) >= 0 &&
			    (b = hexval(v[2])) >= 0) {
				dec[dl++] = (char)(a * 16 + b);
				v += 2;
			} else {
				dec[dl++] = *v;
			}
		}
		r = mb_to_utf8(cs[0] ? cs : NULL, dec, dl);
		free(dec);
		return r;
	}
	return NULL;
}

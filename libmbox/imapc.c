/*
 * imapc.c - reading IMAP4rev1 server responses (RFC 3501 section 7):
 * a response is one line, or several when it carries literals; the
 * literals' bytes go to a spool file (so a message body is never held in
 * memory) and the text keeps their "{n}" markers for the tokenizer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net.h"

/* Does the line end in a literal marker "{n}" or "{n+}"?  Its size. */
static bool
literal_at_end(const char *s, size_t len, int64_t *n)
{
	size_t i = len;
	int64_t v = 0, mul = 1;

	if (i < 3 || s[i - 1] != '}')
		return false;
	i--;
	if (s[i - 1] == '+')
		i--;
	if (i == 0 || s[i - 1] < '0' || s[i - 1] > '9')
		return false;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9') {
		if (mul > (int64_t)1e15)
			return false;
		v += (s[i - 1] - '0') * mul;
		mul *= 10;
		i--;
	}
	if (i == 0 || s[i - 1] != '{')
		return false;
	*n = v;
	return true;
}

int
mbi_imap_read(struct mbi_conn *c, int spool_fd, int64_t *spool_pos, size_t max,
	      struct mbi_imap_resp *r, struct mb_err *e)
{
	struct mbi_buf line;
	char chunk[65536];
	int64_t n;
	int rc;

	mbi_buf_reset(&r->text);
	r->nlit = 0;
	mbi_buf_init(&line);
	for (;;) {
		rc = mbi_conn_getline(c, &line, max, e);
		if (rc != MB_OK)
			break;
		if (mbi_buf_add(&r->text, line.buf, line.len) < 0) {
			rc = mbi_err(e, MB_FATAL, MB_ENOMEM, NULL, -1,
				     "out of memory");
			break;
		}
		if (!literal_at_end(line.buf, line.len, &n))
			break;
		if (n > MBI_IMAP_MAXLITLEN) {
			rc = mbi_err(e, MB_FATAL, MB_EPROTO, mbi_conn_name(c),
				     -1, "literal of %lld bytes refused",
				     (long long)n);
			break;
		}
		if (r->nlit >= MBI_IMAP_MAXLIT) {
			rc = mbi_err(e, MB_FATAL, MB_EPROTO, mbi_conn_name(c),
				     -1, "too many literals in one response");
			break;
		}
		r->lit_off[r->nlit] = *spool_pos;
		r->lit_len[r->nlit] = n;
		r->nlit++;
		while (n > 0) {
			size_t k = n > (int64_t)sizeof(chunk) ? sizeof(chunk) :
								(size_t)n;

			rc = mbi_conn_read(c, chunk, k, e);
			if (rc != MB_OK)
				goto out;
			if (mbi_pwrite_all(spool_fd, chunk, k, *spool_pos,
					   "spool file", e) != MB_OK) {
				rc = MB_FATAL;
				goto out;
			}
			*spool_pos += (int64_t)k;
			n -= (int64_t)k;
		}
	}
out:
	mbi_buf_free(&line);
	return rc;
}

void
mbi_imap_lex_init(struct mbi_imap_lex *lx, const char *s, size_t len)
{
	lx->s = s;
	lx->len = len;
	lx->pos = 0;
	lx->nlit = 0;
}

static bool
atom_char(char c)
{
	return c != ' ' && c != '(' && c != ')' && c != '{' && c != '"' &&
	       (unsigned char)c > 0x1f && c != 0x7f;
}

int
mbi_imap_tok(struct mbi_imap_lex *lx, struct mbi_imap_tok *t)
{
	const char *s = lx->s;
	size_t i = lx->pos;

	memset(t, 0, sizeof(*t));
	while (i < lx->len && s[i] == ' ')
		i++;
	if (i >= lx->len) {
		lx->pos = i;
		return t->type = MBI_TOK_END;
	}
	t->p = s + i;
	if (s[i] == '(' || s[i] == ')') {
		lx->pos = i + 1;
		t->len = 1;
		return t->type = s[i] == '(' ? MBI_TOK_LPAREN : MBI_TOK_RPAREN;
	}
	if (s[i] == '"') {
		size_t j = i + 1;

		while (j < lx->len && s[j] != '"') {
			if (s[j] == '\\' && j + 1 < lx->len)
				j++;
			j++;
		}
		if (j >= lx->len)
			return t->type = MBI_TOK_ERROR;
		t->p = s + i + 1;
		t->len = j - i - 1;
		lx->pos = j + 1;
		return t->type = MBI_TOK_STRING;
	}
	if (s[i] == '{') {
		size_t j = i + 1;

		while (j < lx->len && s[j] != '}')
			j++;
		if (j >= lx->len)
			return t->type = MBI_TOK_ERROR;
		t->lit = lx->nlit++;
		lx->pos = j + 1;
		return t->type = MBI_TOK_LITERAL;
	}
	{
		size_t j = i;
		int depth = 0;

		/* BODY[HEADER.FIELDS (A B)]<0>: brackets hold spaces */
		while (j < lx->len && (depth > 0 || atom_char(s[j]))) {
			if (s[j] == '[')
				depth++;
			else if (s[j] == ']' && depth > 0)
				depth--;
			j++;
		}
		if (j == i)
			return t->type = MBI_TOK_ERROR;
		t->len = j - i;
		lx->pos = j;
		if (t->len == 3 && strncasecmp(t->p, "NIL", 3) == 0)
			return t->type = MBI_TOK_NIL;
		return t->type = MBI_TOK_ATOM;
	}
}

bool
mbi_imap_skip(struct mbi_imap_lex *lx, const struct mbi_imap_tok *t)
{
	struct mbi_imap_tok u;
	int depth;

	if (t->type != MBI_TOK_LPAREN)
		return t->type == MBI_TOK_ATOM || t->type == MBI_TOK_STRING ||
		       t->type == MBI_TOK_LITERAL || t->type == MBI_TOK_NIL;
	for (depth = 1; depth > 0;) {
		switch (mbi_imap_tok(lx, &u)) {
		case MBI_TOK_LPAREN:
			depth++;
			break;
		case MBI_TOK_RPAREN:
			depth--;
			break;
		case MBI_TOK_END:
		case MBI_TOK_ERROR:
			return false;
		default:
			break;
		}
	}
	return true;
}

int
mbi_imap_unquote(const char *p, size_t len, struct mbi_buf *out)
{
	size_t i;

	mbi_buf_reset(out);
	for (i = 0; i < len; i++) {
		if (p[i] == '\\' && i + 1 < len)
			i++;
		if (mbi_buf_add(out, p + i, 1) < 0)
			return -1;
	}
	return 0;
}

static const struct {
	const char *name;
	unsigned flag;
} sysflags[] = {
	{ "\\Seen", MB_SEEN },	     { "\\Deleted", MB_DELETED },
	{ "\\Flagged", MB_FLAGGED }, { "\\Answered", MB_ANSWERED },
	{ "\\Draft", MB_DRAFT },     { "\\Recent", 0 },
};

bool
mbi_imap_flags(struct mbi_imap_lex *lx, unsigned *flags,
	       void (*kw)(void *arg, const char *name, size_t len), void *arg)
{
	struct mbi_imap_tok t;
	size_t i;

	*flags = MB_OLD;
	for (;;) {
		switch (mbi_imap_tok(lx, &t)) {
		case MBI_TOK_RPAREN:
			return true;
		case MBI_TOK_ATOM:
			break;
		default:
			return false;
		}
		if (t.p[0] == '\\') {
			for (i = 0; i < sizeof(sysflags) / sizeof(sysflags[0]);
			     i++)
				if (strlen(sysflags[i].name) == t.len &&
				    strncasecmp(sysflags[i].name, t.p, t.len) ==
					    0)
					break;
			if (i < sizeof(sysflags) / sizeof(sysflags[0])) {
				*flags |= sysflags[i].flag;
				if (sysflags[i].flag == 0)
					*flags &= ~(unsigned)MB_OLD;
			}
			/* other system flags (\*) carry nothing to keep */
			continue;
		}
		if (kw != NULL)
			kw(arg, t.p, t.len);
	}
}

int
mbi_imap_quote(struct mbi_buf *out, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++)
		if (*p == '\r' || *p == '\n' || *p >= 0x80)
			return -1;
	if (mbi_buf_add(out, "\"", 1) < 0)
		return -1;
	for (p = (const unsigned char *)s; *p; p++) {
		if ((*p == '"' || *p == '\\') && mbi_buf_add(out, "\\", 1) < 0)
			return -1;
		if (mbi_buf_add(out, p, 1) < 0)
			return -1;
	}
	return mbi_buf_add(out, "\"", 1);
}

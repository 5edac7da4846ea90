/*
 * imap.c - a remote mailbox on an IMAP4rev1 server (RFC 3501), opened by
 * name: "{host[:port][/flags]}MAILBOX" (libmbox/net.c parses it).
 *
 * open: connect (TLS at once with /ssl; else STARTTLS whenever offered,
 * required with /tls), log in (AUTHENTICATE with SASL-IR, or LOGIN),
 * SELECT (EXAMINE read-only), and fetch the index: UID, FLAGS,
 * INTERNALDATE and RFC822.SIZE of every message in one command.
 * Message texts are fetched in batches, many messages per round trip
 * (one UID FETCH of a UID set, BODY.PEEK[] so \Seen is not set), into an
 * unlinked spool file: memory does not grow with the mailbox.  Flags are
 * stored (UID STORE) and messages appended (APPEND with flags and date,
 * LITERAL+ when offered) at once; expunge uses UID EXPUNGE with UIDPLUS.
 * The text is CR LF, as IMAP sends it (MB_CAP_CRLF).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "formats.h"
#include "net.h"

#define IMAP_PORT   143
#define IMAPS_PORT  993
#define BATCH_MSGS  256
#define BATCH_BYTES ((int64_t)16 << 20)
#define MAX_LINE    ((size_t)1 << 20)

/* capabilities */
#define C_IMAP4REV1	0x01
#define C_STARTTLS	0x02
#define C_LOGINDISABLED 0x04
#define C_SASLIR	0x08
#define C_LITERALPLUS	0x10
#define C_UIDPLUS	0x20

struct imsg {
	uint32_t uid;
	unsigned flags;
	uint64_t kw;
	int64_t idate;
	int tz;
	int64_t size;
	int64_t boff, blen; /* text in the spool, when fetched */
};

struct imap_state {
	struct mbi_remote r;
	struct mbi_conn *c;
	char name[1024]; /* "{...}MAILBOX" for messages */
	unsigned caps;
	char mechs[512]; /* " PLAIN LOGIN " offered by AUTH= */
	unsigned tag;
	char tagstr[16];
	int spool_fd;
	int64_t spool_pos;
	int append_fd;
	struct mbi_imap_resp resp;
	struct mbi_buf cmd;
	struct mbi_buf tmp;
	/* the index, in mailbox order (UIDs ascend) */
	struct imsg *idx;
	uint32_t nidx, nalloc;
	uint32_t next; /* driver next() position */
	uint32_t exists;
	uint32_t bfirst, bcount; /* the batch in the spool */
	bool indexing;		 /* FETCH responses add to the index */
	uint32_t appenduid;
	char delim;
	bool bye;
	/* list callback */
	mb_list_fn list_fn;
	void *list_arg;
	int list_stop;
};

static struct imap_state *
st_of(struct mb_box *b)
{
	return b->priv;
}

/* ------------------------------------------------------------------ */
/* Commands and responses                                               */

static int
send_cmd(struct imap_state *s, const char *text, struct mb_err *e)
{
	s->tag++;
	snprintf(s->tagstr, sizeof(s->tagstr), "A%u", s->tag);
	mbi_buf_reset(&s->cmd);
	if (mbi_buf_addf(&s->cmd, "%s %s\r\n", s->tagstr, text) < 0)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			       "out of memory");
	return mbi_conn_write(s->c, s->cmd.buf, s->cmd.len, e);
}

/* Keyword collector used while parsing one FETCH response. */
struct kwcol {
	struct mb_box *b;
	uint64_t kw;
};

static void
col_kw(void *arg, const char *name, size_t len)
{
	struct kwcol *k = arg;
	int i = mbi_kw_add(k->b, name, len);

	if (i >= 0 && i < 64)
		k->kw |= (uint64_t)1 << i;
}

static int32_t
find_uid(const struct imap_state *s, uint32_t uid)
{
	uint32_t lo = 0, hi = s->nidx;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->idx[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nidx && s->idx[lo].uid == uid ? (int32_t)lo : -1;
}

static int
proto_err(struct imap_state *s, const char *what, struct mb_err *e)
{
	return mbi_err(e, MB_FATAL, MB_EPROTO, s->name, -1,
		       "bad %s from the server: %.200s", what,
		       s->resp.text.buf);
}

/* "* seq FETCH (...)" */
static int
on_fetch(struct mb_box *b, uint32_t seq, struct mbi_imap_lex *lx,
	 struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	struct mbi_imap_tok t, v;
	struct imsg m;
	struct kwcol kc = { b, 0 };
	bool have_flags = false, have_body = false, have_uid = false;
	int64_t boff = -1, blen = -1;
	int32_t pos;

	memset(&m, 0, sizeof(m));
	m.boff = m.blen = -1;
	if (mbi_imap_tok(lx, &t) != MBI_TOK_LPAREN)
		return proto_err(s, "FETCH response", e);
	for (;;) {
		if (mbi_imap_tok(lx, &t) == MBI_TOK_RPAREN)
			break;
		if (t.type != MBI_TOK_ATOM)
			return proto_err(s, "FETCH response", e);
		if (t.len == 3 && strncasecmp(t.p, "UID", 3) == 0) {
			if (mbi_imap_tok(lx, &v) != MBI_TOK_ATOM)
				return proto_err(s, "FETCH UID", e);
			m.uid = (uint32_t)strtoul(v.p, NULL, 10);
			have_uid = m.uid != 0;
		} else if (t.len == 5 && strncasecmp(t.p, "FLAGS", 5) == 0) {
			if (mbi_imap_tok(lx, &v) != MBI_TOK_LPAREN ||
			    !mbi_imap_flags(lx, &m.flags, col_kw, &kc))
				return proto_err(s, "FETCH FLAGS", e);
			m.kw = kc.kw;
			have_flags = true;
		} else if (t.len == 12 &&
			   strncasecmp(t.p, "INTERNALDATE", 12) == 0) {
			if (mbi_imap_tok(lx, &v) != MBI_TOK_STRING ||
			    !mb_date_parse(v.p, v.len, &m.idate, &m.tz))
				return proto_err(s, "FETCH INTERNALDATE", e);
		} else if (t.len == 11 &&
			   strncasecmp(t.p, "RFC822.SIZE", 11) == 0) {
			if (mbi_imap_tok(lx, &v) != MBI_TOK_ATOM)
				return proto_err(s, "FETCH RFC822.SIZE", e);
			m.size = strtoll(v.p, NULL, 10);
		} else if (t.len == 6 && strncasecmp(t.p, "BODY[]", 6) == 0) {
			switch (mbi_imap_tok(lx, &v)) {
			case MBI_TOK_LITERAL:
				if (v.lit >= s->resp.nlit)
					return proto_err(s, "FETCH BODY[]", e);
				boff = s->resp.lit_off[v.lit];
				blen = s->resp.lit_len[v.lit];
				break;
			case MBI_TOK_STRING:
				/* a quoted body: unescaped into the spool */
				if (mbi_imap_unquote(v.p, v.len, &s->tmp) < 0 ||
				    mbi_pwrite_all(s->spool_fd, s->tmp.buf,
						   s->tmp.len, s->spool_pos,
						   "spool file", e) != MB_OK)
					return MB_FATAL;
				boff = s->spool_pos;
				blen = (int64_t)s->tmp.len;
				s->spool_pos += blen;
				break;
			case MBI_TOK_NIL:
				boff = s->spool_pos;
				blen = 0;
				break;
			default:
				return proto_err(s, "FETCH BODY[]", e);
			}
			have_body = true;
		} else {
			mbi_imap_tok(lx, &v);
			if (!mbi_imap_skip(lx, &v))
				return proto_err(s, "FETCH item", e);
		}
	}
	if (s->indexing && have_uid) {
		/* UIDs ascend with sequence numbers; "n:*" may answer with
		 * the last message even below n */
		if (s->nidx > 0 && m.uid <= s->idx[s->nidx - 1].uid)
			return MB_OK;
		if (s->nidx == s->nalloc) {
			uint32_t n = s->nalloc ? s->nalloc * 2 : 256;
			struct imsg *p =
				mbi_reallocarray(s->idx, n, sizeof(*p));

			if (p == NULL)
				return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name,
					       -1, "out of memory");
			s->idx = p;
			s->nalloc = n;
		}
		s->idx[s->nidx++] = m;
		return MB_OK;
	}
	/* a batch answer, or an unsolicited flag change */
	pos = have_uid			 ? find_uid(s, m.uid) :
	      seq >= 1 && seq <= s->nidx ? (int32_t)seq - 1 :
					   -1;
	if (pos < 0)
		return MB_OK;
	if (have_flags) {
		s->idx[pos].flags = m.flags;
		s->idx[pos].kw = m.kw;
	}
	if (have_body) {
		s->idx[pos].boff = boff;
		s->idx[pos].blen = blen;
	}
	return MB_OK;
}

static void
parse_caps(struct imap_state *s, struct mbi_imap_lex *lx)
{
	struct mbi_imap_tok t;

	s->caps = 0;
	s->mechs[0] = '\0';
	while (mbi_imap_tok(lx, &t) == MBI_TOK_ATOM) {
		if (t.len > 0 && t.p[t.len - 1] == ']')
			t.len--;
		if (t.len == 9 && strncasecmp(t.p, "IMAP4rev1", 9) == 0)
			s->caps |= C_IMAP4REV1;
		else if (t.len == 8 && strncasecmp(t.p, "STARTTLS", 8) == 0)
			s->caps |= C_STARTTLS;
		else if (t.len == 13 &&
			 strncasecmp(t.p, "LOGINDISABLED", 13) == 0)
			s->caps |= C_LOGINDISABLED;
		else if (t.len == 7 && strncasecmp(t.p, "SASL-IR", 7) == 0)
			s->caps |= C_SASLIR;
		else if (t.len == 8 && strncasecmp(t.p, "LITERAL+", 8) == 0)
			s->caps |= C_LITERALPLUS;
		else if (t.len == 7 && strncasecmp(t.p, "UIDPLUS", 7) == 0)
			s->caps |= C_UIDPLUS;
		else if (t.len > 5 && strncasecmp(t.p, "AUTH=", 5) == 0 &&
			 strlen(s->mechs) + t.len < sizeof(s->mechs) - 2)
			snprintf(s->mechs + strlen(s->mechs),
				 sizeof(s->mechs) - strlen(s->mechs), " %.*s ",
				 (int)t.len - 5, t.p + 5);
		if (t.len > 0 && lx->pos <= lx->len &&
		    lx->s[lx->pos - 1] == ']')
			break;
	}
}

/* A response code "[CODE ...]" at the start of a status text. */
static void
resp_code(struct mb_box *b, const char *p)
{
	struct imap_state *s = st_of(b);
	struct mbi_imap_lex lx;

	if (*p != '[')
		return;
	if (strncasecmp(p, "[UIDVALIDITY ", 13) == 0)
		b->uidvalidity = (uint32_t)strtoul(p + 13, NULL, 10);
	else if (strncasecmp(p, "[UIDNEXT ", 9) == 0)
		b->uidlast = (uint32_t)strtoul(p + 9, NULL, 10) - 1;
	else if (strncasecmp(p, "[APPENDUID ", 11) == 0) {
		char *q;

		strtoul(p + 11, &q, 10);
		s->appenduid = (uint32_t)strtoul(q, NULL, 10);
	} else if (strncasecmp(p, "[CAPABILITY ", 12) == 0) {
		mbi_imap_lex_init(&lx, p + 12, strlen(p + 12));
		parse_caps(s, &lx);
	} else if (strncasecmp(p, "[READ-ONLY]", 11) == 0)
		b->readonly = true;
}

static int
on_list(struct mb_box *b, struct mbi_imap_lex *lx, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	struct mbi_imap_tok t;
	struct mb_list_entry ent;
	struct mbi_buf name, path;
	unsigned attrs = 0;
	size_t i;
	int rc = MB_OK;

	if (mbi_imap_tok(lx, &t) != MBI_TOK_LPAREN)
		return proto_err(s, "LIST response", e);
	while (mbi_imap_tok(lx, &t) == MBI_TOK_ATOM) {
		if (t.len == 9 && strncasecmp(t.p, "\\Noselect", 9) == 0)
			attrs |= MB_LATT_NOSELECT;
		else if (t.len == 11 &&
			 strncasecmp(t.p, "\\NonExistent", 11) == 0)
			attrs |= MB_LATT_NOSELECT;
		else if (t.len == 14 &&
			 strncasecmp(t.p, "\\Noinferiors", 12) == 0)
			attrs |= MB_LATT_NOINFERIORS;
		else if (t.len == 12 &&
			 strncasecmp(t.p, "\\HasChildren", 12) == 0)
			attrs |= MB_LATT_HASCHILDREN;
		else if (t.len == 14 &&
			 strncasecmp(t.p, "\\HasNoChildren", 14) == 0)
			attrs |= MB_LATT_HASNOCHILDREN;
	}
	if (t.type != MBI_TOK_RPAREN)
		return proto_err(s, "LIST response", e);
	mbi_imap_tok(lx, &t);
	if (t.type == MBI_TOK_STRING && t.len >= 1)
		s->delim = t.p[t.len == 2 ? 1 : 0];
	else if (t.type != MBI_TOK_NIL)
		return proto_err(s, "LIST delimiter", e);
	mbi_buf_init(&name);
	mbi_buf_init(&path);
	mbi_imap_tok(lx, &t);
	if (t.type == MBI_TOK_STRING)
		rc = mbi_imap_unquote(t.p, t.len, &name) < 0 ? -1 : 0;
	else if (t.type == MBI_TOK_ATOM)
		rc = mbi_buf_add(&name, t.p, t.len);
	else if (t.type == MBI_TOK_LITERAL && t.lit < s->resp.nlit &&
		 s->resp.lit_len[t.lit] < 65536 &&
		 mbi_buf_grow(&name, (size_t)s->resp.lit_len[t.lit]) == 0) {
		ssize_t n = mbi_pread_full(s->spool_fd, name.buf,
					   (size_t)s->resp.lit_len[t.lit],
					   s->resp.lit_off[t.lit]);

		name.len = n > 0 ? (size_t)n : 0;
		name.buf[name.len] = '\0';
	} else {
		mbi_buf_free(&name);
		mbi_buf_free(&path);
		return proto_err(s, "LIST name", e);
	}
	if (rc < 0 || mbi_buf_add(&path, b->path, s->r.spec_len) < 0 ||
	    mbi_buf_addstr(&path, name.buf) < 0) {
		mbi_buf_free(&name);
		mbi_buf_free(&path);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			       "out of memory");
	}
	/* the hierarchy as local names: the delimiter becomes "/" */
	for (i = 0; i < name.len; i++)
		if (s->delim && name.buf[i] == s->delim)
			name.buf[i] = '/';
	memset(&ent, 0, sizeof(ent));
	ent.name = name.buf;
	ent.path = path.buf;
	ent.kind = (attrs & MB_LATT_NOSELECT) ? MB_LIST_DIR : MB_LIST_MAILBOX;
	ent.attrs = attrs;
	ent.format = "imap";
	ent.depth = 1;
	if (s->list_fn != NULL && !s->list_stop)
		s->list_stop = s->list_fn(s->list_arg, &ent);
	mbi_buf_free(&name);
	mbi_buf_free(&path);
	return MB_OK;
}

/* An untagged response ("* ..."). */
static int
untagged(struct mb_box *b, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	const char *p = s->resp.text.buf + 2;
	struct mbi_imap_lex lx;
	struct mbi_imap_tok t;
	char *end;
	unsigned long n;

	if (strncasecmp(p, "OK ", 3) == 0 || strncasecmp(p, "NO ", 3) == 0) {
		resp_code(b, p + 3);
		return MB_OK;
	}
	if (strncasecmp(p, "BYE", 3) == 0) {
		s->bye = true;
		return MB_OK;
	}
	if (strncasecmp(p, "CAPABILITY ", 11) == 0) {
		mbi_imap_lex_init(&lx, p + 11, strlen(p + 11));
		parse_caps(s, &lx);
		return MB_OK;
	}
	if (strncasecmp(p, "LIST ", 5) == 0) {
		mbi_imap_lex_init(&lx, p + 5,
				  s->resp.text.len -
					  (size_t)(p + 5 - s->resp.text.buf));
		return on_list(b, &lx, e);
	}
	if (*p < '0' || *p > '9')
		return MB_OK; /* FLAGS, SEARCH, STATUS ...: nothing to keep */
	n = strtoul(p, &end, 10);
	if (strncasecmp(end, " EXISTS", 7) == 0) {
		s->exists = (uint32_t)n;
		return MB_OK;
	}
	if (strncasecmp(end, " EXPUNGE", 8) == 0) {
		if (n >= 1 && n <= s->nidx) {
			memmove(&s->idx[n - 1], &s->idx[n],
				(s->nidx - n) * sizeof(s->idx[0]));
			s->nidx--;
			if (s->exists > 0)
				s->exists--;
			if (s->bcount > 0 && n - 1 < s->bfirst + s->bcount)
				s->bcount = 0; /* positions moved */
		}
		return MB_OK;
	}
	if (strncasecmp(end, " FETCH ", 7) == 0) {
		size_t off = (size_t)(end + 7 - s->resp.text.buf);

		mbi_imap_lex_init(&lx, s->resp.text.buf + off,
				  s->resp.text.len - off);
		(void)t;
		return on_fetch(b, (uint32_t)n, &lx, e);
	}
	return MB_OK;
}

/*
 * Read responses up to our tagged one.  Returns MB_OK for OK; MB_FAILED
 * with code (MB_EPROTO unless the caller says) for NO and BAD.
 * Continuation requests ("+") are returned as 1 when want_cont.
 */
static int
wait_tagged(struct mb_box *b, int nocode, bool want_cont, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	size_t tl = strlen(s->tagstr);
	const char *p;
	int rc;

	for (;;) {
		rc = mbi_imap_read(s->c, s->spool_fd, &s->spool_pos, MAX_LINE,
				   &s->resp, e);
		if (rc != MB_OK) {
			if (s->bye && e->code == MB_ENET)
				snprintf(e->msg, sizeof(e->msg),
					 "the server closed the connection");
			return MB_FATAL;
		}
		p = s->resp.text.buf;
		if (p[0] == '*' && p[1] == ' ') {
			rc = untagged(b, e);
			if (rc != MB_OK)
				return rc;
			continue;
		}
		if (p[0] == '+') {
			if (want_cont)
				return 1;
			return proto_err(s, "continuation request", e);
		}
		if (strncmp(p, s->tagstr, tl) != 0 || p[tl] != ' ')
			return proto_err(s, "response tag", e);
		p += tl + 1;
		if (strncasecmp(p, "OK", 2) == 0) {
			if (p[2] == ' ')
				resp_code(b, p + 3);
			return MB_OK;
		}
		if (strncasecmp(p, "NO", 2) == 0 ||
		    strncasecmp(p, "BAD", 3) == 0)
			return mbi_err(e, MB_FAILED, nocode, s->name, -1,
				       "server says: %.300s", p);
		return proto_err(s, "tagged response", e);
	}
}

static int
simple(struct mb_box *b, const char *text, int nocode, struct mb_err *e)
{
	int rc = send_cmd(st_of(b), text, e);

	return rc != MB_OK ? rc : wait_tagged(b, nocode, false, e);
}

/* ------------------------------------------------------------------ */
/* Login                                                                */

static bool
offers(const struct imap_state *s, const char *mech)
{
	char w[48];

	snprintf(w, sizeof(w), " %s ", mech);
	return strcasestr(s->mechs, w) != NULL;
}

/* AUTHENTICATE; an OAuth error's "status", if any, into status[64]. */
static int
authenticate(struct mb_box *b, int mech, const char *user, const char *secret,
	     char *status, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	struct mbi_sasl sa;
	struct mbi_buf raw, enc;
	int rc, r0;

	memset(&sa, 0, sizeof(sa));
	sa.mech = mech;
	sa.user = user;
	sa.authuser = s->r.authuser;
	sa.secret = secret ? secret : "";
	sa.host = s->r.host;
	sa.port = s->r.port ? s->r.port : s->r.ssl ? IMAPS_PORT : IMAP_PORT;
	mbi_buf_init(&raw);
	mbi_buf_init(&enc);
	r0 = mbi_sasl_step(&sa, NULL, 0, &raw);
	if (r0 == 0 && (s->caps & C_SASLIR)) {
		if (raw.len == 0)
			rc = mbi_buf_addstr(&enc, "=");
		else
			rc = mbi_b64_encode(raw.buf, raw.len, &enc);
		mbi_buf_reset(&s->tmp);
		rc |= mbi_buf_addf(&s->tmp, "AUTHENTICATE %s %s",
				   mbi_sasl_name(mech), enc.buf);
		r0 = 1; /* sent */
	} else {
		mbi_buf_reset(&s->tmp);
		rc = mbi_buf_addf(&s->tmp, "AUTHENTICATE %s",
				  mbi_sasl_name(mech));
	}
	if (rc < 0) {
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			     "out of memory");
		goto out;
	}
	rc = send_cmd(s, s->tmp.buf, e);
	explicit_bzero(s->tmp.buf, s->tmp.len);
	explicit_bzero(enc.buf, enc.len);
	if (rc != MB_OK)
		goto out;
	for (;;) {
		rc = wait_tagged(b, MB_EAUTH, true, e);
		if (rc != 1)
			break;
		/* a challenge */
		mbi_buf_reset(&enc);
		if (r0 == 0) {
			/* the initial response, asked for by an empty "+" */
			r0 = 1;
		} else {
			const char *c = s->resp.text.buf + 1;

			while (*c == ' ')
				c++;
			mbi_buf_reset(&enc);
			if (mbi_b64_decode(c, strlen(c), &enc) < 0 ||
			    mbi_sasl_step(&sa, enc.buf, enc.len, &raw) < 0) {
				/* cancel; the server answers BAD */
				rc = mbi_conn_write(s->c, "*\r\n", 3, e);
				if (rc != MB_OK)
					break;
				continue;
			}
			mbi_buf_reset(&enc);
		}
		if (mbi_b64_encode(raw.buf, raw.len, &enc) < 0 ||
		    mbi_buf_add(&enc, "\r\n", 2) < 0) {
			rc = mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
				     "out of memory");
			break;
		}
		rc = mbi_conn_write(s->c, enc.buf, enc.len, e);
		explicit_bzero(enc.buf, enc.len);
		if (rc != MB_OK)
			break;
	}
out:
	if (status != NULL)
		memcpy(status, sa.status, sizeof(sa.status));
	explicit_bzero(raw.buf, raw.len);
	mbi_buf_free(&raw);
	mbi_buf_free(&enc);
	return rc;
}

static int
login_cmd(struct mb_box *b, const char *user, const char *secret,
	  struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	int rc;

	mbi_buf_reset(&s->tmp);
	if (mbi_buf_addstr(&s->tmp, "LOGIN ") < 0 ||
	    mbi_imap_quote(&s->tmp, user) < 0 ||
	    mbi_buf_addstr(&s->tmp, " ") < 0 ||
	    mbi_imap_quote(&s->tmp, secret) < 0)
		return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
			       "user name or password cannot be sent with "
			       "LOGIN (8-bit or line ends)");
	rc = send_cmd(s, s->tmp.buf, e);
	explicit_bzero(s->tmp.buf, s->tmp.len);
	explicit_bzero(s->cmd.buf, s->cmd.len);
	return rc != MB_OK ? rc : wait_tagged(b, MB_EAUTH, false, e);
}

static int
login(struct mb_box *b, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	struct mbi_netconf *nc = &b->ctx->net;
	bool enc = mbi_conn_tls(s->c);
	bool clear_ok = (enc || nc->plaintext) && !s->r.secure;
	char user[256], status[64] = "";
	const char *secret = NULL;
	int mech = MBI_SASL_NONE, rc;
	bool use_login = false, oauth;

	mbi_net_user(&s->r, user, sizeof(user));
	if (s->r.anonymous) {
		if (!offers(s, "ANONYMOUS"))
			return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
				       "the server offers no anonymous login");
		return authenticate(b, MBI_SASL_ANONYMOUS, "anonymous", "",
				    NULL, e);
	}
	if (nc->mech[0]) {
		if (strcasecmp(nc->mech, "login-command") == 0)
			use_login = true;
		else
			mech = mbi_sasl_by_name(nc->mech);
		if (mech != MBI_SASL_NONE && !offers(s, nc->mech))
			return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
				       "the server does not offer AUTH=%s",
				       nc->mech);
	} else if (nc->oauth_cmd[0]) {
		mech = offers(s, "OAUTHBEARER") ? MBI_SASL_OAUTHBEARER :
		       offers(s, "XOAUTH2")	? MBI_SASL_XOAUTH2 :
						  MBI_SASL_NONE;
		if (mech == MBI_SASL_NONE)
			return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
				       "the server offers neither OAUTHBEARER "
				       "nor XOAUTH2");
	} else if (clear_ok && offers(s, "PLAIN")) {
		mech = MBI_SASL_PLAIN;
	} else if (clear_ok && !(s->caps & C_LOGINDISABLED)) {
		use_login = true;
	} else if (offers(s, "CRAM-MD5")) {
		mech = MBI_SASL_CRAM_MD5;
	} else {
		return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
			       "refusing to send the password in clear: use "
			       "TLS (/ssl, or a server with STARTTLS) or set "
			       "plaintext-auth=yes");
	}
	oauth = mech == MBI_SASL_XOAUTH2 || mech == MBI_SASL_OAUTHBEARER;
	if (oauth && s->r.secure)
		return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
			       "refusing to send an access token: /secure "
			       "allows only CRAM-MD5");
	if (oauth && !enc && !nc->plaintext)
		return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
			       "refusing to send an access token in clear: "
			       "use TLS (/ssl, or a server with STARTTLS) or "
			       "set plaintext-auth=yes");
	if ((use_login || mbi_sasl_plaintext(mech)) && !clear_ok && !oauth)
		return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
			       "refusing to send the password in clear: use "
			       "TLS (/ssl, or a server with STARTTLS) or set "
			       "plaintext-auth=yes");
	rc = mbi_net_secret(b->ctx, oauth, &secret, e);
	if (rc != MB_OK) {
		snprintf(e->path, sizeof(e->path), "%.1000s", s->name);
		return rc;
	}
	if (use_login)
		rc = login_cmd(b, user, secret, e);
	else
		rc = authenticate(b, mech, user, secret, status, e);
	if (rc == MB_FAILED && e->code == MB_EAUTH)
		snprintf(e->msg, sizeof(e->msg),
			 "login as '%s' refused by the server%s%s%s", user,
			 status[0] ? ": access token rejected (status " : "",
			 status, status[0] ? ")" : "");
	return rc;
}

/* Connect, greet, STARTTLS, log in. */
static int
session(struct mb_box *b, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	const char *p;
	bool preauth;
	int rc;

	rc = mbi_conn_open(b->ctx, &s->r, IMAP_PORT, IMAPS_PORT, &s->c, e);
	if (rc != MB_OK)
		return rc;
	rc = mbi_imap_read(s->c, s->spool_fd, &s->spool_pos, MAX_LINE, &s->resp,
			   e);
	if (rc != MB_OK)
		return MB_FAILED;
	p = s->resp.text.buf;
	if (strncasecmp(p, "* BYE", 5) == 0)
		return mbi_err(e, MB_FAILED, MB_ENET, s->name, -1,
			       "the server refuses the connection: %.200s", p);
	preauth = strncasecmp(p, "* PREAUTH", 9) == 0;
	if (!preauth && strncasecmp(p, "* OK", 4) != 0)
		return proto_err(s, "greeting", e);
	resp_code(b, p + (preauth ? 10 : 5));
	if (s->caps == 0 && (rc = simple(b, "CAPABILITY", MB_EPROTO, e)))
		return rc;
	if (!s->r.ssl && !s->r.notls && !preauth) {
		if (s->caps & C_STARTTLS) {
			if ((rc = simple(b, "STARTTLS", MB_ETLS, e)) ||
			    (rc = mbi_conn_starttls(s->c, e)))
				return rc;
			s->caps = 0;
			if ((rc = simple(b, "CAPABILITY", MB_EPROTO, e)))
				return rc;
		} else if (s->r.tls) {
			return mbi_err(e, MB_FAILED, MB_ETLS, s->name, -1,
				       "the server does not offer STARTTLS "
				       "(/tls requires it)");
		}
	}
	if (!preauth) {
		if ((rc = login(b, e)) != MB_OK)
			return rc;
		/* capabilities may change after login */
		if (s->resp.text.len &&
		    !strstr(s->resp.text.buf, "CAPABILITY")) {
			s->caps = 0;
			if ((rc = simple(b, "CAPABILITY", MB_EPROTO, e)))
				return rc;
		}
	}
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* The driver                                                           */

static int
state_new(struct mb_box *b, struct mb_err *e)
{
	struct imap_state *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	b->priv = s;
	s->spool_fd = s->append_fd = -1;
	mbi_buf_init(&s->resp.text);
	mbi_buf_init(&s->cmd);
	mbi_buf_init(&s->tmp);
	snprintf(s->name, sizeof(s->name), "%.1000s", b->path);
	if (mbi_remote_parse(b->path, &s->r, e) != MB_OK)
		return MB_FAILED;
	s->spool_fd = mb_tmpfile("mailbag-imap", "a spool file", e);
	return s->spool_fd < 0 ? MB_FAILED : MB_OK;
}

static void
imap_close(struct mb_box *b)
{
	struct imap_state *s = st_of(b);
	struct mb_err e;

	if (s == NULL)
		return;
	if (mbi_conn_ok(s->c) && !s->bye && send_cmd(s, "LOGOUT", &e) == MB_OK)
		wait_tagged(b, MB_EPROTO, false, &e);
	mbi_conn_close(&s->c);
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	if (s->append_fd >= 0)
		close(s->append_fd);
	mbi_buf_free(&s->resp.text);
	mbi_buf_free(&s->cmd);
	mbi_buf_free(&s->tmp);
	free(s->idx);
	free(s);
	b->priv = NULL;
}

static int
quoted_cmd(struct imap_state *s, const char *verb, const char *arg,
	   const char *rest, struct mb_err *e)
{
	mbi_buf_reset(&s->tmp);
	if (mbi_buf_addf(&s->tmp, "%s ", verb) < 0 ||
	    mbi_imap_quote(&s->tmp, arg) < 0 ||
	    (rest && mbi_buf_addstr(&s->tmp, rest) < 0))
		return mbi_err(e, MB_FAILED, MB_EINVAL, s->name, -1,
			       "mailbox name cannot be sent (8-bit or line "
			       "ends; use modified UTF-7)");
	return MB_OK;
}

static int
fetch_index(struct mb_box *b, const char *range, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	char cmd[96];
	int rc;

	snprintf(cmd, sizeof(cmd),
		 "UID FETCH %s (UID FLAGS INTERNALDATE RFC822.SIZE)", range);
	s->indexing = true;
	rc = simple(b, cmd, MB_EPROTO, e);
	s->indexing = false;
	return rc;
}

static int
select_box(struct mb_box *b, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	bool ro = b->readonly || s->r.readonly;
	int rc;

	if (s->r.readonly)
		b->readonly = true;
	if ((rc = quoted_cmd(s, ro ? "EXAMINE" : "SELECT", s->r.mailbox, NULL,
			     e)) != MB_OK)
		return rc;
	rc = simple(b, s->tmp.buf, MB_ENOENT, e);
	if (rc != MB_OK)
		return rc;
	if (s->exists > 0 && (rc = fetch_index(b, "1:*", e)) != MB_OK)
		return rc;
	return MB_OK;
}

static int
imap_open(struct mb_box *b, struct mb_err *e)
{
	int rc = state_new(b, e);

	if (rc == MB_OK)
		rc = session(b, e);
	if (rc == MB_OK)
		rc = select_box(b, e);
	if (rc != MB_OK) {
		if (rc == MB_FATAL && e->code != MB_ENOMEM)
			rc = MB_FAILED;
		imap_close(b);
	}
	return rc;
}

static int
imap_create(struct mb_box *b, struct mb_err *e)
{
	struct imap_state *s;
	int rc = state_new(b, e);

	s = st_of(b);
	if (rc == MB_OK)
		rc = session(b, e);
	if (rc == MB_OK &&
	    (rc = quoted_cmd(s, "CREATE", s->r.mailbox, NULL, e)) == MB_OK)
		rc = simple(b, s->tmp.buf, MB_EEXIST, e);
	if (rc == MB_OK)
		rc = select_box(b, e);
	if (rc != MB_OK) {
		if (rc == MB_FATAL && e->code != MB_ENOMEM)
			rc = MB_FAILED;
		imap_close(b);
	}
	return rc;
}

static int
imap_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	struct imsg *m;

	if (s->next >= s->nidx)
		return MB_END;
	m = &s->idx[s->next++];
	out->uid = m->uid;
	out->flags = m->flags;
	out->keywords = m->kw;
	out->idate = m->idate;
	out->idate_tz = m->tz;
	out->offset = -1;
	out->size = m->size;
	out->text_offset = -1;
	out->text_size = m->size;
	return MB_OK;
}

/* Fetch the texts of index positions from pos on, many per command. */
static int
fetch_batch(struct mb_box *b, uint32_t pos, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	struct mbi_buf set;
	uint32_t i, k = 0;
	int64_t bytes = 0;
	int rc;

	if (ftruncate(s->spool_fd, 0) < 0)
		return mbi_err_sys(e, MB_FATAL, errno, "spool file",
				   "cannot truncate");
	s->spool_pos = 0;
	mbi_buf_init(&set);
	for (i = pos; i < s->nidx && k < BATCH_MSGS; i++, k++) {
		if (k > 0 && bytes + s->idx[i].size > BATCH_BYTES)
			break;
		bytes += s->idx[i].size;
		s->idx[i].boff = s->idx[i].blen = -1;
	}
	/* the UID set, consecutive UIDs as ranges */
	mbi_buf_addstr(&set, "UID FETCH ");
	for (i = pos; i < pos + k;) {
		uint32_t j = i;

		while (j + 1 < pos + k &&
		       s->idx[j + 1].uid == s->idx[j].uid + 1)
			j++;
		if (j > i)
			rc = mbi_buf_addf(&set, "%s%u:%u", i > pos ? "," : "",
					  s->idx[i].uid, s->idx[j].uid);
		else
			rc = mbi_buf_addf(&set, "%s%u", i > pos ? "," : "",
					  s->idx[i].uid);
		if (rc < 0)
			break;
		i = j + 1;
	}
	if (mbi_buf_addstr(&set, " (UID BODY.PEEK[])") < 0) {
		mbi_buf_free(&set);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			       "out of memory");
	}
	s->bfirst = pos;
	s->bcount = k;
	rc = simple(b, set.buf, MB_EPROTO, e);
	mbi_buf_free(&set);
	if (rc != MB_OK)
		s->bcount = 0;
	return rc == MB_FAILED ? MB_FATAL : rc;
}

static int
imap_msg_open(struct mb_box *b, const struct mb_msg *m, struct mb_reader **out,
	      struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	int32_t pos = find_uid(s, m->uid);
	int rc;

	if (pos < 0)
		return mbi_err(e, MB_FAILED, MB_ENOENT, s->name, -1,
			       "message UID %u is gone from the server",
			       m->uid);
	if (s->bcount == 0 || (uint32_t)pos < s->bfirst ||
	    (uint32_t)pos >= s->bfirst + s->bcount) {
		rc = fetch_batch(b, (uint32_t)pos, e);
		if (rc != MB_OK)
			return rc;
		pos = find_uid(s, m->uid);
		if (pos < 0)
			return mbi_err(e, MB_FAILED, MB_ENOENT, s->name, -1,
				       "message UID %u is gone from the "
				       "server",
				       m->uid);
	}
	if (s->idx[pos].blen < 0)
		return mbi_err(e, MB_FAILED, MB_ENOENT, s->name, -1,
			       "the server sent no text for UID %u", m->uid);
	*out = mb_reader_fd(s->spool_fd, s->idx[pos].boff, s->idx[pos].blen);
	if (*out == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			       "out of memory");
	return MB_OK;
}

/* "(\Seen \Flagged kw1 ...)" */
static int
flag_list(struct mb_box *b, struct mbi_buf *out, unsigned flags, uint64_t kw,
	  const char *const *names, size_t nnames)
{
	static const struct {
		unsigned f;
		const char *n;
	} map[] = {
		{ MB_SEEN, "\\Seen" },	     { MB_ANSWERED, "\\Answered" },
		{ MB_FLAGGED, "\\Flagged" }, { MB_DELETED, "\\Deleted" },
		{ MB_DRAFT, "\\Draft" },
	};
	const char *sep = "";
	size_t i;
	int rc = mbi_buf_addstr(out, "(");

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (flags & map[i].f) {
			rc |= mbi_buf_addf(out, "%s%s", sep, map[i].n);
			sep = " ";
		}
	for (i = 0; i < 64 && i < b->nkw; i++)
		if (kw & ((uint64_t)1 << i)) {
			rc |= mbi_buf_addf(out, "%s%s", sep, b->kw[i]);
			sep = " ";
		}
	for (i = 0; i < nnames; i++) {
		const char *k = names[i];
		size_t j;

		/* only atoms can be sent as keywords */
		for (j = 0; k[j]; j++)
			if (strchr("(){ %*\"\\]", k[j]) ||
			    (unsigned char)k[j] <= 0x20 ||
			    (unsigned char)k[j] >= 0x7f)
				break;
		if (j == 0 || k[j])
			continue;
		rc |= mbi_buf_addf(out, "%s%s", sep, k);
		sep = " ";
	}
	return rc | mbi_buf_addstr(out, ")");
}

static int
imap_set_flags(struct mb_box *b, struct mb_msg *m, unsigned flags,
	       uint64_t keywords, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	struct mbi_buf cmd;
	int rc;

	mbi_buf_init(&cmd);
	if (mbi_buf_addf(&cmd, "UID STORE %u FLAGS.SILENT ", m->uid) < 0 ||
	    flag_list(b, &cmd, flags, keywords, NULL, 0) < 0) {
		mbi_buf_free(&cmd);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			       "out of memory");
	}
	rc = simple(b, cmd.buf, MB_EPROTO, e);
	mbi_buf_free(&cmd);
	return rc;
}

static int
imap_expunge(struct mb_box *b, uint32_t *expunged, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	uint32_t i, j, before = s->nidx;
	int rc;

	rc = simple(b, "EXPUNGE", MB_EPROTO, e);
	if (rc != MB_OK)
		return rc;
	*expunged = before - s->nidx;
	/* the core's index: keep what the server still has */
	for (i = j = 0; i < b->nmsgs; i++)
		if (find_uid(s, b->msgs[i].uid) >= 0) {
			b->msgs[j] = b->msgs[i];
			b->msgs[j].seq = j + 1;
			j++;
		}
	b->nmsgs = j;
	if (b->iter > b->nmsgs)
		b->iter = b->nmsgs;
	if (s->next > s->nidx)
		s->next = s->nidx;
	return MB_OK;
}

/* Copy src into the append file with CR LF line ends; its size. */
static int
spool_append(struct imap_state *s, const struct mb_newmsg *meta,
	     struct mb_reader *src, int64_t *size, struct mb_err *e)
{
	struct mbi_wbuf w;
	char in[65536];
	char prev = 0;
	ssize_t n, i;
	int rc;

	if (s->append_fd < 0) {
		s->append_fd = mb_tmpfile("mailbag-imapa", "a spool file", e);
		if (s->append_fd < 0)
			return MB_FAILED;
	}
	if (ftruncate(s->append_fd, 0) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, "spool file",
				   "cannot truncate");
	if (mbi_wbuf_init(&w, s->append_fd, "spool file", 0, e) != MB_OK)
		return MB_FAILED;
	while ((n = mb_reader_read(src, in, sizeof(in), e)) > 0) {
		ssize_t start = 0;

		/* a bare LF becomes CR LF */
		for (i = 0; i < n; i++) {
			if (in[i] == '\n' &&
			    (i > 0 ? in[i - 1] : prev) != '\r') {
				if (mbi_wbuf_put(&w, in + start,
						 (size_t)(i - start),
						 e) != MB_OK ||
				    mbi_wbuf_put(&w, "\r", 1, e) != MB_OK)
					goto fail;
				start = i;
			}
		}
		if (mbi_wbuf_put(&w, in + start, (size_t)(n - start), e) !=
		    MB_OK)
			goto fail;
		prev = in[n - 1];
	}
	if (n < 0)
		goto fail;
	/* IMAP text ends with a line end */
	if (prev != '\n' && w.pos > 0 &&
	    mbi_wbuf_put(&w, "\r\n", 2, e) != MB_OK)
		goto fail;
	rc = mbi_wbuf_flush(&w, e);
	*size = w.pos;
	mbi_wbuf_free(&w);
	(void)meta;
	return rc;
fail:
	mbi_wbuf_free(&w);
	return MB_FAILED;
}

static int
imap_append(struct mb_box *b, const struct mb_newmsg *meta,
	    struct mb_reader *src, uint32_t *uid_out, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	struct mbi_buf cmd;
	char date[40], chunk[65536];
	int64_t size = 0, off;
	int rc;

	rc = spool_append(s, meta, src, &size, e);
	if (rc != MB_OK)
		return rc;
	mbi_buf_init(&cmd);
	rc = quoted_cmd(s, "APPEND", s->r.mailbox, " ", e);
	if (rc != MB_OK)
		return rc;
	mbi_buf_addstr(&cmd, s->tmp.buf);
	flag_list(b, &cmd, meta->flags & (MB_FLAGS_ALL & ~MB_OLD), 0,
		  meta->keywords, meta->nkeywords);
	if (meta->idate >= 0) {
		mb_date_imap(meta->idate, meta->idate_tz, date, sizeof(date));
		mbi_buf_addf(&cmd, " \"%s\"", date);
	}
	if (mbi_buf_addf(&cmd, " {%lld%s}", (long long)size,
			 (s->caps & C_LITERALPLUS) ? "+" : "") < 0) {
		mbi_buf_free(&cmd);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			       "out of memory");
	}
	rc = send_cmd(s, cmd.buf, e);
	mbi_buf_free(&cmd);
	if (rc != MB_OK)
		return rc;
	if (!(s->caps & C_LITERALPLUS)) {
		rc = wait_tagged(b, MB_EPROTO, true, e);
		if (rc != 1)
			return rc == MB_OK ? proto_err(s, "APPEND answer", e) :
					     rc;
	}
	for (off = 0; off < size;) {
		size_t k = size - off > (int64_t)sizeof(chunk) ?
				   sizeof(chunk) :
				   (size_t)(size - off);
		ssize_t got = mbi_pread_full(s->append_fd, chunk, k, off);

		if (got != (ssize_t)k)
			return mbi_err_sys(e, MB_FATAL, errno ? errno : EIO,
					   "spool file", "cannot read");
		if ((rc = mbi_conn_write(s->c, chunk, k, e)) != MB_OK)
			return rc;
		off += (int64_t)k;
	}
	if ((rc = mbi_conn_write(s->c, "\r\n", 2, e)) != MB_OK)
		return rc;
	s->appenduid = 0;
	rc = wait_tagged(b, MB_EPROTO, false, e);
	if (rc == MB_OK && uid_out != NULL)
		*uid_out = s->appenduid;
	return rc;
}

static int
imap_poll(struct mb_box *b, bool *changed, struct mb_err *e)
{
	struct imap_state *s = st_of(b);
	uint32_t before = s->nidx;
	char range[32];
	int rc;

	rc = simple(b, "NOOP", MB_EPROTO, e);
	if (rc != MB_OK)
		return rc;
	if (s->exists > s->nidx) {
		snprintf(range, sizeof(range), "%u:*",
			 s->nidx ? s->idx[s->nidx - 1].uid + 1 : 1);
		if ((rc = fetch_index(b, range, e)) != MB_OK)
			return rc;
	}
	*changed = s->nidx != before;
	return MB_OK;
}

static int
imap_commit(struct mb_box *b, struct mb_err *e)
{
	/* every change went to the server when it was made */
	return MB_OK;
}

static int
imap_remove(struct mb_ctx *ctx, const char *path, struct mb_err *e)
{
	return mbi_err(e, MB_FAILED, MB_ENOTSUP, path, -1,
		       "deleting remote mailboxes is not supported");
}

const struct mb_driver mbi_driver_imap = {
	.name = "imap",
	.summary = "remote mailbox on an IMAP4rev1 server ({host}MAILBOX)",
	.caps = MB_CAP_APPEND | MB_CAP_FLAGS | MB_CAP_KEYWORDS | MB_CAP_UIDS |
		MB_CAP_EXPUNGE | MB_CAP_CREATE | MB_CAP_DATES | MB_CAP_CRLF,
	.probe_len = 0,
	.probe = NULL,
	.open = imap_open,
	.create = imap_create,
	.next = imap_next,
	.msg_open = imap_msg_open,
	.append = imap_append,
	.set_flags = imap_set_flags,
	.expunge = imap_expunge,
	.poll = imap_poll,
	.commit = imap_commit,
	.close = imap_close,
	.remove = imap_remove,
};

/* ------------------------------------------------------------------ */
/* Listing a server                                                     */

int
mb_remote_list(struct mb_ctx *ctx, const char *remote, mb_list_fn fn, void *arg,
	       struct mb_err *e)
{
	struct mb_box *b;
	struct imap_state *s;
	struct mb_list_entry ent;
	struct mbi_remote r;
	int rc;

	mb_err_clear(e);
	if (mbi_remote_parse(remote, &r, e) != MB_OK)
		return MB_FAILED;
	if (r.service == MBI_SVC_POP3) {
		/* a POP3 server has one mailbox */
		memset(&ent, 0, sizeof(ent));
		ent.name = "INBOX";
		ent.path = remote;
		ent.kind = MB_LIST_MAILBOX;
		ent.format = "pop3";
		ent.depth = 1;
		fn(arg, &ent);
		return MB_OK;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, remote, -1,
			       "out of memory");
	b->magic = MBI_BOX_MAGIC;
	b->ctx = ctx;
	b->drv = &mbi_driver_imap;
	b->readonly = true;
	snprintf(b->path, sizeof(b->path), "%s", remote);
	rc = state_new(b, e);
	if (rc == MB_OK)
		rc = session(b, e);
	if (rc == MB_OK) {
		s = st_of(b);
		s->list_fn = fn;
		s->list_arg = arg;
		rc = simple(b, "LIST \"\" \"*\"", MB_EPROTO, e);
	}
	if (rc == MB_FATAL && e->code != MB_ENOMEM)
		rc = MB_FAILED;
	imap_close(b);
	mbi_kw_clear(b);
	free(b);
	return rc;
}

/*
 * pop3.c - the mailbox of a POP3 server (RFC 1939), opened by name:
 * "{host[:port]/pop3[/flags]}INBOX".
 *
 * open: connect (TLS at once with /ssl; else STLS whenever offered,
 * required with /tls), CAPA, log in (AUTH with a SASL mechanism, APOP, or
 * USER/PASS), then STAT, UIDL and LIST make the index: message numbers,
 * unique ids (mb_msg.key) and sizes.  Texts are fetched with RETR, many
 * per round trip when the server offers PIPELINING, into an unlinked
 * spool file.  POP3 keeps no flags: \Deleted is remembered here, expunge
 * sends DELE, and the deletions take effect when commit sends QUIT; a
 * box closed without commit sends RSET first, so nothing is deleted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "formats.h"
#include "net.h"

#define POP3_PORT   110
#define POP3S_PORT  995
#define BATCH_MSGS  256
#define BATCH_BYTES ((int64_t)16 << 20)
#define MAX_LINE    ((size_t)1 << 20)

struct pmsg {
	uint32_t num; /* the server's message number */
	char *uidl;
	int64_t size;
	unsigned flags;
	bool deleled;	    /* DELE sent */
	int64_t boff, blen; /* the text in the spool file */
	int64_t hoff, hlen; /* the header (TOP n 0) in the header spool */
};

struct pop3_state {
	struct mbi_remote r;
	struct mbi_conn *c;
	char name[1024];
	char stamp[256]; /* APOP timestamp of the greeting, or "" */
	bool capa_ok, stls, pipelining, uidl, top, user_ok;
	char sasl[512]; /* " PLAIN LOGIN " */
	int spool_fd;
	int hspool_fd; /* headers by TOP, made when first needed */
	struct mbi_buf line;
	struct pmsg *idx;
	uint32_t nidx;
	uint32_t next;
	uint32_t bfirst, bcount;
	uint32_t hfirst, hcount;
	bool dele_sent, quit;
};

static struct pop3_state *
st_of(struct mb_box *b)
{
	return b->priv;
}

static int
send_line(struct pop3_state *s, const char *text, struct mb_err *e)
{
	int rc = mbi_conn_write(s->c, text, strlen(text), e);

	return rc != MB_OK ? rc : mbi_conn_write(s->c, "\r\n", 2, e);
}

/* Read a status line: MB_OK for +OK, MB_FAILED (code) for -ERR, 1 for a
 * "+ " continuation when want_cont. */
static int
status(struct pop3_state *s, int code, bool want_cont, struct mb_err *e)
{
	int rc = mbi_conn_getline(s->c, &s->line, MAX_LINE, e);

	if (rc != MB_OK)
		return MB_FATAL;
	if (strncmp(s->line.buf, "+OK", 3) == 0)
		return MB_OK;
	if (want_cont && s->line.buf[0] == '+' &&
	    (s->line.buf[1] == ' ' || s->line.buf[1] == '\0'))
		return 1;
	if (strncmp(s->line.buf, "-ERR", 4) == 0)
		return mbi_err(e, MB_FAILED, code, s->name, -1,
			       "server says: %.300s", s->line.buf);
	return mbi_err(e, MB_FATAL, MB_EPROTO, s->name, -1,
		       "bad answer from the server: %.200s", s->line.buf);
}

static int
command(struct pop3_state *s, const char *text, int code, struct mb_err *e)
{
	int rc = send_line(s, text, e);

	return rc != MB_OK ? rc : status(s, code, false, e);
}

/* The next line of a multi-line answer, unstuffed; 1 at its end. */
static int
ml_line(struct pop3_state *s, struct mb_err *e)
{
	if (mbi_conn_getline(s->c, &s->line, MAX_LINE, e) != MB_OK)
		return MB_FATAL;
	if (s->line.buf[0] == '.') {
		if (s->line.len == 1)
			return 1;
		memmove(s->line.buf, s->line.buf + 1, s->line.len);
		s->line.len--;
	}
	return MB_OK;
}

static int
capa(struct pop3_state *s, struct mb_err *e)
{
	int rc;

	s->capa_ok = s->stls = s->pipelining = s->top = false;
	s->user_ok = false;
	s->sasl[0] = '\0';
	rc = command(s, "CAPA", MB_EPROTO, e);
	if (rc == MB_FAILED)
		return MB_OK; /* an RFC 1939 server: no capabilities */
	if (rc != MB_OK)
		return rc;
	s->capa_ok = true;
	while ((rc = ml_line(s, e)) == MB_OK) {
		const char *l = s->line.buf;

		if (strcasecmp(l, "STLS") == 0)
			s->stls = true;
		else if (strcasecmp(l, "PIPELINING") == 0)
			s->pipelining = true;
		else if (strcasecmp(l, "UIDL") == 0)
			s->uidl = true;
		else if (strcasecmp(l, "TOP") == 0)
			s->top = true;
		else if (strcasecmp(l, "USER") == 0)
			s->user_ok = true;
		else if (strncasecmp(l, "SASL ", 5) == 0)
			snprintf(s->sasl, sizeof(s->sasl), " %s ", l + 5);
	}
	return rc == 1 ? MB_OK : rc;
}

static bool
offers(const struct pop3_state *s, const char *mech)
{
	char w[48];

	snprintf(w, sizeof(w), " %s ", mech);
	return strcasestr(s->sasl, w) != NULL;
}

/*
 * AUTH (RFC 5034); an OAuth error's "status", if any, into why[64].
 * The initial response goes on the AUTH line when the line stays within
 * POP3's 255 octets (RFC 2449), else after the server's empty "+".
 */
static int
auth_sasl(struct mb_box *b, int mech, const char *user, const char *secret,
	  char *why, struct mb_err *e)
{
	struct pop3_state *s = st_of(b);
	struct mbi_sasl sa;
	struct mbi_buf raw, enc;
	size_t head;
	int rc, r0;

	memset(&sa, 0, sizeof(sa));
	sa.mech = mech;
	sa.user = user;
	sa.authuser = s->r.authuser;
	sa.secret = secret;
	sa.host = s->r.host;
	sa.port = s->r.port ? s->r.port : s->r.ssl ? POP3S_PORT : POP3_PORT;
	mbi_buf_init(&raw);
	mbi_buf_init(&enc);
	rc = mbi_buf_addf(&enc, "AUTH %s", mbi_sasl_name(mech));
	head = enc.len;
	r0 = mbi_sasl_step(&sa, NULL, 0, &raw);
	if (r0 == 0) {
		rc |= mbi_buf_addstr(&enc, " ");
		if (raw.len == 0)
			rc |= mbi_buf_addstr(&enc, "=");
		else
			rc |= mbi_b64_encode(raw.buf, raw.len, &enc);
		if (enc.len + 2 <= 255) {
			r0 = 1; /* sent */
		} else {
			/* too long: asked for by an empty "+" */
			explicit_bzero(enc.buf + head, enc.len - head);
			enc.len = head;
		}
	}
	if (rc < 0) {
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			     "out of memory");
		goto out;
	}
	rc = send_line(s, enc.buf, e);
	explicit_bzero(enc.buf, enc.len);
	while (rc == MB_OK) {
		const char *c;

		rc = status(s, MB_EAUTH, true, e);
		if (rc != 1)
			break;
		c = s->line.buf + 1;
		while (*c == ' ')
			c++;
		mbi_buf_reset(&enc);
		if (r0 == 0) {
			/* the initial response, asked for by the "+" */
			r0 = 1;
		} else if (mbi_b64_decode(c, strlen(c), &enc) < 0 ||
			   mbi_sasl_step(&sa, enc.buf, enc.len, &raw) < 0) {
			rc = send_line(s, "*", e);
			continue;
		}
		mbi_buf_reset(&enc);
		if (mbi_b64_encode(raw.buf, raw.len, &enc) < 0) {
			rc = mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
				     "out of memory");
			break;
		}
		rc = send_line(s, enc.buf, e);
		explicit_bzero(enc.buf, enc.len);
	}
out:
	memcpy(why, sa.status, sizeof(sa.status));
	explicit_bzero(raw.buf, raw.len);
	mbi_buf_free(&raw);
	mbi_buf_free(&enc);
	return rc;
}

static int
login(struct mb_box *b, struct mb_err *e)
{
	struct pop3_state *s = st_of(b);
	struct mbi_netconf *nc = &b->ctx->net;
	bool enc = mbi_conn_tls(s->c);
	bool clear_ok = (enc || nc->plaintext) && !s->r.secure;
	const char *secret = NULL;
	char user[256], digest[33], why[64] = "";
	struct mbi_buf cmd;
	int mech = MBI_SASL_NONE, rc;
	enum { M_SASL, M_APOP, M_USER } how = M_SASL;
	bool oauth = false;

	mbi_net_user(&s->r, user, sizeof(user));
	if (s->r.anonymous)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, s->name, -1,
			       "POP3 has no anonymous login");
	if (nc->mech[0]) {
		if (strcasecmp(nc->mech, "apop") == 0)
			how = M_APOP;
		else if (strcasecmp(nc->mech, "user") == 0)
			how = M_USER;
		else
			mech = mbi_sasl_by_name(nc->mech);
		if (how == M_APOP && !s->stamp[0])
			return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
				       "the server offers no APOP");
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
	} else if (clear_ok) {
		how = M_USER;
	} else if (offers(s, "CRAM-MD5")) {
		mech = MBI_SASL_CRAM_MD5;
	} else if (s->stamp[0]) {
		how = M_APOP;
	} else {
		return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
			       "refusing to send the password in clear: use "
			       "TLS (/ssl, or a server with STLS) or set "
			       "plaintext-auth=yes");
	}
	oauth = mech == MBI_SASL_XOAUTH2 || mech == MBI_SASL_OAUTHBEARER;
	if (oauth && s->r.secure)
		return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
			       "refusing to send an access token: /secure "
			       "allows only CRAM-MD5 or APOP");
	if (oauth && !enc && !nc->plaintext)
		return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
			       "refusing to send an access token in clear: "
			       "use TLS (/ssl, or a server with STLS) or set "
			       "plaintext-auth=yes");
	if (!clear_ok && !oauth &&
	    (how == M_USER || (how == M_SASL && mbi_sasl_plaintext(mech))))
		return mbi_err(e, MB_FAILED, MB_EAUTH, s->name, -1,
			       "refusing to send the password in clear: use "
			       "TLS (/ssl, or a server with STLS) or set "
			       "plaintext-auth=yes");
	rc = mbi_net_secret(b->ctx, oauth, &secret, e);
	if (rc != MB_OK) {
		snprintf(e->path, sizeof(e->path), "%.1000s", s->name);
		return rc;
	}
	mbi_buf_init(&cmd);
	switch (how) {
	case M_SASL:
		rc = auth_sasl(b, mech, user, secret, why, e);
		break;
	case M_APOP:
		mbi_apop_digest(s->stamp, secret, digest);
		mbi_buf_addf(&cmd, "APOP %s %s", user, digest);
		rc = command(s, cmd.buf, MB_EAUTH, e);
		break;
	case M_USER:
		mbi_buf_addf(&cmd, "USER %s", user);
		rc = command(s, cmd.buf, MB_EAUTH, e);
		if (rc == MB_OK) {
			mbi_buf_reset(&cmd);
			mbi_buf_addf(&cmd, "PASS %s", secret);
			rc = command(s, cmd.buf, MB_EAUTH, e);
			explicit_bzero(cmd.buf, cmd.len);
		}
		break;
	}
	mbi_buf_free(&cmd);
	if (rc == MB_FAILED && e->code == MB_EAUTH)
		snprintf(e->msg, sizeof(e->msg),
			 "login as '%s' refused by the server%s%s%s", user,
			 why[0] ? ": access token rejected (status " : "", why,
			 why[0] ? ")" : "");
	return rc;
}

static int
session(struct mb_box *b, struct mb_err *e)
{
	struct pop3_state *s = st_of(b);
	const char *lt, *gt;
	int rc;

	rc = mbi_conn_open(b->ctx, &s->r, POP3_PORT, POP3S_PORT, &s->c, e);
	if (rc != MB_OK)
		return rc;
	rc = status(s, MB_ENET, false, e);
	if (rc != MB_OK)
		return rc;
	lt = strchr(s->line.buf, '<');
	gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt && (size_t)(gt - lt + 1) < sizeof(s->stamp) &&
	    memchr(lt, '@', (size_t)(gt - lt)) != NULL)
		snprintf(s->stamp, sizeof(s->stamp), "%.*s", (int)(gt - lt + 1),
			 lt);
	if ((rc = capa(s, e)) != MB_OK)
		return rc;
	if (!s->r.ssl && !s->r.notls) {
		if (s->stls) {
			if ((rc = command(s, "STLS", MB_ETLS, e)) ||
			    (rc = mbi_conn_starttls(s->c, e)) ||
			    (rc = capa(s, e)))
				return rc;
		} else if (s->r.tls) {
			return mbi_err(e, MB_FAILED, MB_ETLS, s->name, -1,
				       "the server does not offer STLS (/tls "
				       "requires it)");
		}
	}
	if ((rc = login(b, e)) != MB_OK)
		return rc;
	/* some servers tell more after login */
	return capa(s, e);
}

/* The index to hold want entries, new ones empty. */
static int
index_grow(struct pop3_state *s, uint32_t want, struct mb_err *e)
{
	struct pmsg *v;
	uint32_t i;

	if (want <= s->nidx)
		return MB_OK;
	v = mbi_reallocarray(s->idx, want, sizeof(*v));
	if (v == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			       "out of memory");
	memset(v + s->nidx, 0, (size_t)(want - s->nidx) * sizeof(*v));
	for (i = s->nidx; i < want; i++) {
		v[i].num = i + 1;
		v[i].boff = v[i].blen = -1;
		v[i].flags = MB_OLD;
	}
	s->idx = v;
	s->nidx = want;
	return MB_OK;
}

/* Room for message num of n: doubling, so a full listing costs O(n). */
static uint32_t
grow_to(uint32_t have, unsigned long num, unsigned long n)
{
	unsigned long want = have * 2UL;

	if (want < num)
		want = num;
	return (uint32_t)(want < n ? want : n);
}

static int
make_index(struct mb_box *b, struct mb_err *e)
{
	struct pop3_state *s = st_of(b);
	unsigned long n, num;
	long long size;
	char *end;
	uint32_t i;
	int rc;

	if ((rc = command(s, "STAT", MB_EPROTO, e)) != MB_OK)
		return rc;
	n = strtoul(s->line.buf + 3, &end, 10);
	if (n > b->ctx->max_messages)
		return mbi_err(e, MB_FAILED, MB_ELIMIT, s->name, -1,
			       "more than %u messages", b->ctx->max_messages);
	if (n == 0)
		return MB_OK;
	/* the index grows with the lines the server sends, not with the
	 * count it claims: a STAT of millions costs nothing until listed */
	if ((rc = index_grow(s, (uint32_t)(n < 1024 ? n : 1024), e)) != MB_OK)
		return rc;
	/* LIST and UIDL, pipelined: two round trips become one */
	if (s->pipelining) {
		if ((rc = send_line(s, "LIST", e)) ||
		    (rc = send_line(s, "UIDL", e)))
			return rc;
		rc = status(s, MB_EPROTO, false, e);
	} else {
		rc = command(s, "LIST", MB_EPROTO, e);
	}
	if (rc != MB_OK)
		return rc;
	while ((rc = ml_line(s, e)) == MB_OK) {
		num = strtoul(s->line.buf, &end, 10);
		size = strtoll(end, NULL, 10);
		if (num < 1 || num > n)
			continue;
		if (num > s->nidx &&
		    (rc = index_grow(s, grow_to(s->nidx, num, n), e)) != MB_OK)
			return rc;
		s->idx[num - 1].size = size;
	}
	if (rc != 1)
		return rc;
	rc = s->pipelining ? status(s, MB_ENOTSUP, false, e) :
			     command(s, "UIDL", MB_ENOTSUP, e);
	if (rc == MB_FAILED)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, s->name, -1,
			       "the server has no UIDL: messages cannot be "
			       "told apart between sessions");
	if (rc != MB_OK)
		return rc;
	while ((rc = ml_line(s, e)) == MB_OK) {
		const char *u;

		num = strtoul(s->line.buf, &end, 10);
		u = end;
		while (*u == ' ')
			u++;
		if (num >= 1 && num <= n && num > s->nidx &&
		    (rc = index_grow(s, grow_to(s->nidx, num, n), e)) != MB_OK)
			return rc;
		if (num < 1 || num > n || *u == '\0' || s->idx[num - 1].uidl)
			return mbi_err(e, MB_FATAL, MB_EPROTO, s->name, -1,
				       "bad UIDL line: %.200s", s->line.buf);
		s->idx[num - 1].uidl = strdup(u);
		if (s->idx[num - 1].uidl == NULL)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
				       "out of memory");
	}
	if (rc != 1)
		return rc;
	for (i = 0; i < n; i++)
		if (i >= s->nidx || s->idx[i].uidl == NULL)
			return mbi_err(e, MB_FATAL, MB_EPROTO, s->name, -1,
				       "no UIDL for message %u", i + 1);
	return MB_OK;
}

static void
pop3_close(struct mb_box *b)
{
	struct pop3_state *s = st_of(b);
	struct mb_err e;
	uint32_t i;

	if (s == NULL)
		return;
	if (mbi_conn_ok(s->c) && !s->quit) {
		/* not committed: undo the DELEs before saying goodbye */
		if (!s->dele_sent || command(s, "RSET", MB_EPROTO, &e) == MB_OK)
			command(s, "QUIT", MB_EPROTO, &e);
	}
	mbi_conn_close(&s->c);
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	if (s->hspool_fd >= 0)
		close(s->hspool_fd);
	mbi_buf_free(&s->line);
	for (i = 0; i < s->nidx; i++)
		free(s->idx[i].uidl);
	free(s->idx);
	free(s);
	b->priv = NULL;
}

/* An unlinked temporary file in $TMPDIR for what the server sends. */
static int
make_spool(int *fd, struct mb_err *e)
{
	*fd = mb_tmpfile("mailbag-pop3", "a spool file", e);
	return *fd < 0 ? MB_FAILED : MB_OK;
}

static int
pop3_open(struct mb_box *b, struct mb_err *e)
{
	struct pop3_state *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	b->priv = s;
	s->spool_fd = s->hspool_fd = -1;
	mbi_buf_init(&s->line);
	snprintf(s->name, sizeof(s->name), "%.1000s", b->path);
	rc = mbi_remote_parse(b->path, &s->r, e);
	if (rc == MB_OK && strcasecmp(s->r.mailbox, "INBOX") != 0)
		rc = mbi_err(e, MB_FAILED, MB_ENOENT, b->path, -1,
			     "a POP3 server has only INBOX");
	if (rc == MB_OK)
		rc = make_spool(&s->spool_fd, e);
	if (rc == MB_OK)
		rc = session(b, e);
	if (rc == MB_OK)
		rc = make_index(b, e);
	if (rc != MB_OK) {
		if (rc == MB_FATAL && e->code != MB_ENOMEM)
			rc = MB_FAILED;
		pop3_close(b);
	}
	return rc;
}

static int
pop3_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e)
{
	struct pop3_state *s = st_of(b);
	struct pmsg *m;

	if (s->next >= s->nidx)
		return MB_END;
	m = &s->idx[s->next++];
	out->uid = 0;
	out->flags = m->flags;
	out->idate = -1;
	out->offset = -1;
	out->size = m->size;
	out->text_offset = -1;
	out->text_size = m->size;
	out->key = m->uidl;
	return MB_OK;
}

/* RETR messages (or with top, their headers: TOP n 0) from index
 * position pos on, pipelined when offered, into the (header) spool. */
static int
fetch_batch(struct mb_box *b, uint32_t pos, bool top, struct mb_err *e)
{
	struct pop3_state *s = st_of(b);
	int fd = top ? s->hspool_fd : s->spool_fd;
	struct mbi_wbuf w;
	struct mbi_buf cmd;
	uint32_t i, k = 0, max = s->pipelining ? BATCH_MSGS : 1;
	int64_t bytes = 0;
	int rc = MB_OK;

	if (ftruncate(fd, 0) < 0)
		return mbi_err_sys(e, MB_FATAL, errno, "spool file",
				   "cannot truncate");
	mbi_buf_init(&cmd);
	for (i = pos; i < s->nidx && k < max; i++) {
		if (s->idx[i].deleled)
			continue;
		if (!top && k > 0 && bytes + s->idx[i].size > BATCH_BYTES)
			break;
		bytes += s->idx[i].size;
		if (top) {
			s->idx[i].hoff = s->idx[i].hlen = -1;
			rc |= mbi_buf_addf(&cmd, "TOP %u 0\r\n", s->idx[i].num);
		} else {
			s->idx[i].boff = s->idx[i].blen = -1;
			rc |= mbi_buf_addf(&cmd, "RETR %u\r\n", s->idx[i].num);
		}
		k++;
	}
	if (rc < 0) {
		mbi_buf_free(&cmd);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			       "out of memory");
	}
	if (top) {
		s->hfirst = pos;
		s->hcount = i - pos;
	} else {
		s->bfirst = pos;
		s->bcount = i - pos;
	}
	rc = mbi_conn_write(s->c, cmd.buf, cmd.len, e);
	mbi_buf_free(&cmd);
	if (rc != MB_OK || mbi_wbuf_init(&w, fd, "spool file", 0, e) != MB_OK)
		goto fail;
	for (i = pos; i < pos + (top ? s->hcount : s->bcount); i++) {
		int64_t start;

		if (s->idx[i].deleled)
			continue;
		rc = status(s, MB_ENOENT, false, e);
		if (rc != MB_OK)
			break;
		start = w.pos;
		while ((rc = ml_line(s, e)) == MB_OK)
			if (mbi_wbuf_put(&w, s->line.buf, s->line.len, e) ||
			    mbi_wbuf_put(&w, "\r\n", 2, e)) {
				rc = MB_FATAL;
				break;
			}
		if (rc != 1)
			break;
		rc = MB_OK;
		if (top) {
			s->idx[i].hoff = start;
			s->idx[i].hlen = w.pos - start;
		} else {
			s->idx[i].boff = start;
			s->idx[i].blen = w.pos - start;
		}
	}
	if (rc == MB_OK)
		rc = mbi_wbuf_flush(&w, e);
	mbi_wbuf_free(&w);
	if (rc == MB_OK)
		return MB_OK;
fail:
	if (top)
		s->hcount = 0;
	else
		s->bcount = 0;
	return rc == MB_FAILED ? MB_FATAL : rc;
}

static int32_t
find_msg(const struct pop3_state *s, const struct mb_msg *m)
{
	uint32_t i = m->seq > 0 ? m->seq - 1 : 0;

	if (i < s->nidx && (s->idx[i].uidl == m->key ||
			    (m->key && strcmp(s->idx[i].uidl, m->key) == 0)))
		return (int32_t)i; /* where it was: the usual case */
	for (i = 0; i < s->nidx; i++)
		if (s->idx[i].uidl == m->key ||
		    (m->key && strcmp(s->idx[i].uidl, m->key) == 0))
			return (int32_t)i;
	return -1;
}

static int
pop3_msg_open(struct mb_box *b, const struct mb_msg *m, struct mb_reader **out,
	      struct mb_err *e)
{
	struct pop3_state *s = st_of(b);
	int32_t pos = find_msg(s, m);
	int rc;

	if (pos < 0 || s->idx[pos].deleled)
		return mbi_err(e, MB_FAILED, MB_ENOENT, s->name, -1,
			       "message %u is gone", m->seq);
	if (s->bcount == 0 || (uint32_t)pos < s->bfirst ||
	    (uint32_t)pos >= s->bfirst + s->bcount || s->idx[pos].blen < 0) {
		rc = fetch_batch(b, (uint32_t)pos, false, e);
		if (rc != MB_OK)
			return rc;
	}
	if (s->idx[pos].blen < 0)
		return mbi_err(e, MB_FAILED, MB_ENOENT, s->name, -1,
			       "the server sent no text for message %u",
			       m->seq);
	*out = mb_reader_fd(s->spool_fd, s->idx[pos].boff, s->idx[pos].blen);
	if (*out == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			       "out of memory");
	return MB_OK;
}

/*
 * The header of a message by TOP n 0 (RFC 1939), in pipelined batches
 * like RETR, when the server lists TOP in its capabilities; else the
 * whole message.  A message whose text is at hand already is not asked
 * for again.
 */
static int
pop3_msg_header(struct mb_box *b, const struct mb_msg *m,
		struct mb_reader **out, struct mb_err *e)
{
	struct pop3_state *s = st_of(b);
	int32_t pos = find_msg(s, m);
	int rc;

	if (pos < 0 || s->idx[pos].deleled)
		return mbi_err(e, MB_FAILED, MB_ENOENT, s->name, -1,
			       "message %u is gone", m->seq);
	if (!s->top ||
	    (s->bcount > 0 && (uint32_t)pos >= s->bfirst &&
	     (uint32_t)pos < s->bfirst + s->bcount && s->idx[pos].blen >= 0))
		return pop3_msg_open(b, m, out, e);
	if (s->hspool_fd < 0 && (rc = make_spool(&s->hspool_fd, e)) != MB_OK)
		return rc;
	if (s->hcount == 0 || (uint32_t)pos < s->hfirst ||
	    (uint32_t)pos >= s->hfirst + s->hcount || s->idx[pos].hlen < 0) {
		rc = fetch_batch(b, (uint32_t)pos, true, e);
		if (rc != MB_OK)
			return rc;
	}
	if (s->idx[pos].hlen < 0)
		return mbi_err(e, MB_FAILED, MB_ENOENT, s->name, -1,
			       "the server sent no header for message %u",
			       m->seq);
	*out = mb_reader_fd(s->hspool_fd, s->idx[pos].hoff, s->idx[pos].hlen);
	if (*out == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name, -1,
			       "out of memory");
	return MB_OK;
}

static int
pop3_set_flags(struct mb_box *b, struct mb_msg *m, unsigned flags,
	       uint64_t keywords, struct mb_err *e)
{
	struct pop3_state *s = st_of(b);
	int32_t pos = find_msg(s, m);

	if (pos < 0)
		return mbi_err(e, MB_FAILED, MB_ENOENT, s->name, -1,
			       "message %u is gone", m->seq);
	/* remembered for this session only: POP3 stores no flags */
	s->idx[pos].flags = flags;
	return MB_OK;
}

static int
pop3_expunge(struct mb_box *b, uint32_t *expunged, struct mb_err *e)
{
	struct pop3_state *s = st_of(b);
	struct mbi_buf cmd;
	uint32_t i, j, n = 0, sent = 0;
	int rc = MB_OK;

	mbi_buf_init(&cmd);
	for (i = 0; i < s->nidx; i++)
		if ((s->idx[i].flags & MB_DELETED) && !s->idx[i].deleled) {
			char one[32];

			snprintf(one, sizeof(one), "DELE %u\r\n",
				 s->idx[i].num);
			if (mbi_buf_addstr(&cmd, one) < 0) {
				mbi_buf_free(&cmd);
				return mbi_err(e, MB_FATAL, MB_ENOMEM, s->name,
					       -1, "out of memory");
			}
			n++;
			if (!s->pipelining || n % BATCH_MSGS == 0 ||
			    i + 1 == s->nidx) {
				rc = mbi_conn_write(s->c, cmd.buf, cmd.len, e);
				mbi_buf_reset(&cmd);
				for (; rc == MB_OK && sent < n; sent++)
					rc = status(s, MB_EPROTO, false, e);
				if (rc != MB_OK)
					break;
			}
			s->idx[i].deleled = true;
		}
	if (rc == MB_OK && cmd.len > 0) {
		rc = mbi_conn_write(s->c, cmd.buf, cmd.len, e);
		for (; rc == MB_OK && sent < n; sent++)
			rc = status(s, MB_EPROTO, false, e);
	}
	mbi_buf_free(&cmd);
	if (n > 0)
		s->dele_sent = true;
	if (rc != MB_OK)
		return rc == MB_FAILED ? MB_FATAL : rc;
	/* the deletions take effect at QUIT, in commit */
	b->dirty = b->dirty || n > 0;
	*expunged = n;
	for (i = j = 0; i < b->nmsgs; i++) {
		int32_t p = find_msg(s, &b->msgs[i]);

		if (p >= 0 && s->idx[p].deleled)
			continue;
		b->msgs[j] = b->msgs[i];
		b->msgs[j].seq = j + 1;
		j++;
	}
	b->nmsgs = j;
	if (b->iter > b->nmsgs)
		b->iter = b->nmsgs;
	return MB_OK;
}

static int
pop3_commit(struct mb_box *b, struct mb_err *e)
{
	struct pop3_state *s = st_of(b);
	int rc;

	if (s->quit || s->c == NULL)
		return MB_OK;
	/* QUIT enters the UPDATE state: the DELEs become real */
	rc = command(s, "QUIT", MB_EPROTO, e);
	s->quit = true;
	return rc == MB_FAILED ? MB_FAILED : rc;
}

const struct mb_driver mbi_driver_pop3 = {
	.name = "pop3",
	.summary = "the mailbox of a POP3 server ({host/pop3}INBOX)",
	.caps = MB_CAP_FLAGS | MB_CAP_EXPUNGE | MB_CAP_CRLF,
	.probe_len = 0,
	.probe = NULL,
	.open = pop3_open,
	.next = pop3_next,
	.msg_open = pop3_msg_open,
	.msg_header = pop3_msg_header,
	.set_flags = pop3_set_flags,
	.expunge = pop3_expunge,
	.commit = pop3_commit,
	.close = pop3_close,
};

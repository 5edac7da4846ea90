/*
 * net.h - remote mailboxes: names, connections (TCP, TLS), credentials,
 * SASL, and the IMAP response reader shared by formats/imap.c and
 * formats/pop3.c.  Internal to libmbox; see mailbag-fetch(1) for what a
 * user sees.
 */
#ifndef MB_NET_H
#define MB_NET_H

#include "mb-int.h"

/* ------------------------------------------------------------------ */
/* Names: {host[:port][/flag...]}MAILBOX (uw-formats.md section 19)     */

enum { MBI_SVC_IMAP = 1, MBI_SVC_POP3 };

struct mbi_remote {
	char host[256];	    /* name or address, no brackets */
	int port;	    /* 0: the service's default */
	int service;	    /* MBI_SVC_* */
	bool ssl;	    /* TLS from the first byte (/ssl) */
	bool tls;	    /* STARTTLS required (/tls) */
	bool notls;	    /* no STARTTLS (/notls) */
	bool novalidate;    /* /novalidate-cert */
	bool secure;	    /* /secure: no password, even over TLS */
	bool anonymous;	    /* /anonymous */
	bool readonly;	    /* /readonly */
	char user[256];	    /* /user=, "" when absent */
	char authuser[256]; /* /authuser=, "" when absent */
	char mailbox[1024]; /* after the "}", "INBOX" when empty */
	size_t spec_len;    /* bytes of name up to and including "}" */
};

/* Parse name; MB_OK, or MB_FAILED with MB_EINVAL saying what is wrong. */
int mbi_remote_parse(const char *name, struct mbi_remote *r, struct mb_err *e);

/* ------------------------------------------------------------------ */
/* Connections                                                          */

struct mbi_conn;

/*
 * Connect to r's host and port (defport, or ssl_port with /ssl), with
 * ctx's timeout, and do the TLS handshake for /ssl.  Errors: MB_ENET
 * (refused, unreachable, timed out: MB_FAILED severity), MB_ETLS.
 * e->path names "host:port".
 */
int mbi_conn_open(struct mb_ctx *ctx, const struct mbi_remote *r, int defport,
		  int ssl_port, struct mbi_conn **out, struct mb_err *e);
/* TLS on an open plain connection (after STARTTLS / STLS). */
int mbi_conn_starttls(struct mbi_conn *c, struct mb_err *e);
bool mbi_conn_tls(const struct mbi_conn *c);
/* false once a read, write or TLS step failed: say no goodbye on it */
bool mbi_conn_ok(const struct mbi_conn *c);
const char *mbi_conn_name(const struct mbi_conn *c);
int mbi_conn_write(struct mbi_conn *c, const void *p, size_t n,
		   struct mb_err *e);
/* One line into line (reset first), CR LF or LF dropped; at most max
 * bytes.  MB_OK, or MB_FATAL (MB_ENET: dropped, timed out; MB_EPROTO:
 * too long). */
int mbi_conn_getline(struct mbi_conn *c, struct mbi_buf *line, size_t max,
		     struct mb_err *e);
/* Exactly n bytes. */
int mbi_conn_read(struct mbi_conn *c, void *p, size_t n, struct mb_err *e);
void mbi_conn_close(struct mbi_conn **c);

/* ------------------------------------------------------------------ */
/* Credentials and SASL (libmbox/sasl.c)                                */

/*
 * The password (oauth false) or access token (true) from the sources
 * configured in ctx->net, read once and kept in the context.  MB_OK, or
 * MB_FAILED with MB_EAUTH (none configured) or MB_EIO.
 */
int mbi_net_secret(struct mb_ctx *ctx, bool oauth, const char **out,
		   struct mb_err *e);
/* The login name: /user=, else the local user's name. */
void mbi_net_user(const struct mbi_remote *r, char *buf, size_t size);

int mbi_b64_encode(const void *in, size_t n, struct mbi_buf *out);
/* -1 for bad input. */
int mbi_b64_decode(const char *in, size_t n, struct mbi_buf *out);

enum {
	MBI_SASL_NONE = 0,
	MBI_SASL_PLAIN,
	MBI_SASL_LOGIN,
	MBI_SASL_CRAM_MD5,
	MBI_SASL_XOAUTH2,
	MBI_SASL_OAUTHBEARER,
	MBI_SASL_ANONYMOUS,
};
const char *mbi_sasl_name(int mech);
int mbi_sasl_by_name(const char *name);
/* Does mech send the password itself (only over TLS, or when allowed)? */
bool mbi_sasl_plaintext(int mech);

struct mbi_sasl {
	int mech;
	int step;
	const char *user;     /* authorization identity (login name) */
	const char *authuser; /* authentication identity, or NULL */
	const char *secret;   /* password or token */
	const char *host;     /* for OAUTHBEARER */
	int port;
	char status[64]; /* OAuth: the "status" of the server's error
			  * challenge ("invalid_token", "401"), or "" */
};
/*
 * The next response (raw bytes, not base64) to challenge chal (decoded,
 * clen bytes; step 0 is the initial response, with chal NULL).  Returns
 * 0, or -1 when the mechanism has nothing more to say.
 */
int mbi_sasl_step(struct mbi_sasl *s, const char *chal, size_t clen,
		  struct mbi_buf *resp);
/* APOP's digest: lowercase hex MD5 of timestamp and secret, in out[33]. */
void mbi_apop_digest(const char *stamp, const char *secret, char out[33]);

/* ------------------------------------------------------------------ */
/* IMAP responses (libmbox/imapc.c)                                     */

#define MBI_IMAP_MAXLIT 16
/* larger literals (a message of 4 GiB) are a protocol error */
#define MBI_IMAP_MAXLITLEN ((int64_t)1 << 32)

/*
 * One response: its text with every literal cut out (the "{n}" marker
 * stays, the literal's bytes go to a spool file), and where each literal
 * landed in the spool.
 */
struct mbi_imap_resp {
	struct mbi_buf text;
	unsigned nlit;
	int64_t lit_off[MBI_IMAP_MAXLIT];
	int64_t lit_len[MBI_IMAP_MAXLIT];
};
/*
 * Read one response from c.  Literals are written to spool_fd at
 * *spool_pos, which advances.  max bounds a line.
 */
int mbi_imap_read(struct mbi_conn *c, int spool_fd, int64_t *spool_pos,
		  size_t max, struct mbi_imap_resp *r, struct mb_err *e);

enum {
	MBI_TOK_END = 0,
	MBI_TOK_ATOM,	 /* p, len (may contain [..] sections) */
	MBI_TOK_STRING,	 /* quoted: p, len of the raw text inside */
	MBI_TOK_LITERAL, /* lit: index into the response's literals */
	MBI_TOK_NIL,
	MBI_TOK_LPAREN,
	MBI_TOK_RPAREN,
	MBI_TOK_ERROR,
};
struct mbi_imap_tok {
	int type;
	const char *p;
	size_t len;
	unsigned lit;
};
struct mbi_imap_lex {
	const char *s;
	size_t len, pos;
	unsigned nlit; /* literals passed so far */
};
void mbi_imap_lex_init(struct mbi_imap_lex *lx, const char *s, size_t len);
int mbi_imap_tok(struct mbi_imap_lex *lx, struct mbi_imap_tok *t);
/* Skip one value (atom, string, literal, NIL or a whole list) whose first
 * token is t.  false on a syntax error. */
bool mbi_imap_skip(struct mbi_imap_lex *lx, const struct mbi_imap_tok *t);
/* A quoted string's raw text unescaped into out ("\\" and "\""). */
int mbi_imap_unquote(const char *p, size_t len, struct mbi_buf *out);
/* Parse a flag list "(\Seen $Label ...)" after its "(" token: system
 * flags into *flags, keyword names to kw(arg, name, len). */
bool mbi_imap_flags(struct mbi_imap_lex *lx, unsigned *flags,
		    void (*kw)(void *arg, const char *name, size_t len),
		    void *arg);
/* Quote s for a command (as a quoted string, or NULL when it needs a
 * literal: CR, LF, NUL or 8-bit bytes). */
int mbi_imap_quote(struct mbi_buf *out, const char *s);

#endif /* MB_NET_H */

/*
 * remote.c - unit tests of the remote-mailbox parsers: UW's
 * {host...}MAILBOX names, base64, the SASL mechanisms (with the RFC
 * examples), APOP, and the IMAP response tokenizer and flag lists.
 */
#include "tap.h"

#include "net.h"

static void
t_names(void)
{
	struct mbi_remote r;
	struct mb_err e;

	ok(mbi_remote_parse("{mail.example.org}INBOX", &r, &e) == MB_OK &&
		   strcmp(r.host, "mail.example.org") == 0 && r.port == 0 &&
		   r.service == MBI_SVC_IMAP && strcmp(r.mailbox, "INBOX") == 0,
	   "plain host, default service imap");
	ok(mbi_remote_parse("{h:995/pop3/ssl/user=\"a b\\\"c\"}", &r, &e) ==
			   MB_OK &&
		   r.port == 995 && r.service == MBI_SVC_POP3 && r.ssl &&
		   r.notls && strcmp(r.user, "a b\"c") == 0 &&
		   strcmp(r.mailbox, "INBOX") == 0,
	   "port, /pop3, /ssl, quoted /user=, empty mailbox is INBOX");
	ok(mbi_remote_parse("{[::1]:1143/imap/tls/novalidate-cert/authuser=x/"
			    "secure}Lists/a}b",
			    &r, &e) == MB_OK &&
		   strcmp(r.host, "::1") == 0 && r.port == 1143 && r.tls &&
		   r.novalidate && r.secure && strcmp(r.authuser, "x") == 0 &&
		   strcmp(r.mailbox, "Lists/a}b") == 0 && r.spec_len == 55,
	   "IPv6 literal, flags, mailbox after the first }");
	ok(mbi_remote_parse("{h/service=pop3/anonymous/readonly}x", &r, &e) ==
			   MB_OK &&
		   r.service == MBI_SVC_POP3 && r.anonymous && r.readonly,
	   "/service=pop3, /anonymous, /readonly");
	ok(mbi_remote_parse("{h/tls/notls}x", &r, &e) == MB_FAILED &&
		   e.code == MB_EINVAL,
	   "/tls with /notls is refused");
	ok(mbi_remote_parse("{h/tls/ssl}x", &r, &e) == MB_FAILED,
	   "/ssl after /tls is refused");
	ok(mbi_remote_parse("{h/imap/pop3}x", &r, &e) == MB_FAILED,
	   "two services are refused");
	ok(mbi_remote_parse("{h/bogus}x", &r, &e) == MB_FAILED &&
		   strstr(e.msg, "bogus") != NULL,
	   "an unknown flag is named");
	ok(mbi_remote_parse("{h:0}x", &r, &e) == MB_FAILED &&
		   mbi_remote_parse("{h:70000}x", &r, &e) == MB_FAILED &&
		   mbi_remote_parse("{h:12a}x", &r, &e) == MB_FAILED,
	   "bad ports are refused");
	ok(mbi_remote_parse("{hx", &r, &e) == MB_FAILED &&
		   mbi_remote_parse("{}x", &r, &e) == MB_FAILED &&
		   mbi_remote_parse("{[::1}x", &r, &e) == MB_FAILED &&
		   mbi_remote_parse("{h/user=}x", &r, &e) == MB_FAILED,
	   "unterminated names and empty parts are refused");
	ok(mbi_remote_parse("{h/nntp}x", &r, &e) == MB_FAILED &&
		   e.code == MB_ENOTSUP,
	   "nntp is not supported");
}

static void
t_base64(void)
{
	struct mbi_buf b;

	mbi_buf_init(&b);
	mbi_b64_encode("", 0, &b);
	is_str(b.buf, "", "empty");
	mbi_buf_reset(&b);
	mbi_b64_encode("f", 1, &b);
	mbi_b64_encode("fo", 2, &b);
	mbi_b64_encode("foo", 3, &b);
	mbi_b64_encode("foob", 4, &b);
	is_str(b.buf, "Zg==Zm8=Zm9vZm9vYg==", "RFC 4648 vectors");
	mbi_buf_reset(&b);
	ok(mbi_b64_decode("Zm9vYmFy", 8, &b) == 0 &&
		   strcmp(b.buf, "foobar") == 0,
	   "decode");
	mbi_buf_reset(&b);
	ok(mbi_b64_decode("Zm9vYg==", 8, &b) == 0 && b.len == 4,
	   "decode with padding");
	mbi_buf_reset(&b);
	ok(mbi_b64_decode("Zm9*", 4, &b) < 0, "bad character refused");
	mbi_buf_reset(&b);
	ok(mbi_b64_decode("Zg=a", 4, &b) < 0, "data after padding refused");
	mbi_buf_reset(&b);
	ok(mbi_b64_decode("Z", 1, &b) < 0, "a lone sextet refused");
	mbi_buf_free(&b);
}

/* a challenge that is a C string */
static int
step(struct mbi_sasl *s, const char *chal, struct mbi_buf *r)
{
	return mbi_sasl_step(s, chal, strlen(chal), r);
}

static void
t_sasl(void)
{
	struct mbi_sasl s;
	struct mbi_buf r;
	const char *chal = "<1896.697170952@postoffice.reston.mci.net>";
	char digest[33];

	mbi_buf_init(&r);
	memset(&s, 0, sizeof(s));
	s.mech = MBI_SASL_PLAIN;
	s.user = "tim";
	s.secret = "pw";
	ok(mbi_sasl_step(&s, NULL, 0, &r) == 0 && r.len == 7 &&
		   memcmp(r.buf, "\0tim\0pw", 7) == 0,
	   "PLAIN: NUL authcid NUL password");
	ok(mbi_sasl_step(&s, "", 0, &r) < 0, "PLAIN has one step");
	memset(&s, 0, sizeof(s));
	s.mech = MBI_SASL_PLAIN;
	s.user = "boss";
	s.authuser = "admin";
	s.secret = "pw";
	ok(mbi_sasl_step(&s, NULL, 0, &r) == 0 && r.len == 13 &&
		   memcmp(r.buf, "boss\0admin\0pw", 13) == 0,
	   "PLAIN with /authuser: authzid is the login name");

	memset(&s, 0, sizeof(s));
	s.mech = MBI_SASL_CRAM_MD5;
	s.user = "tim";
	s.secret = "tanstaaftanstaaf";
	ok(mbi_sasl_step(&s, NULL, 0, &r) < 0, "CRAM-MD5: no initial response");
	ok(mbi_sasl_step(&s, chal, strlen(chal), &r) == 0 &&
		   strcmp(r.buf, "tim b913a602c7eda7a495b4e6e7334d3890") == 0,
	   "CRAM-MD5: the RFC 2195 example");

	memset(&s, 0, sizeof(s));
	s.mech = MBI_SASL_LOGIN;
	s.user = "tim";
	s.secret = "pw";
	ok(mbi_sasl_step(&s, NULL, 0, &r) < 0 &&
		   mbi_sasl_step(&s, "Username:", 9, &r) == 0 &&
		   strcmp(r.buf, "tim") == 0 &&
		   mbi_sasl_step(&s, "Password:", 9, &r) == 0 &&
		   strcmp(r.buf, "pw") == 0 &&
		   mbi_sasl_step(&s, "?", 1, &r) < 0,
	   "LOGIN: user, then password, then nothing");

	memset(&s, 0, sizeof(s));
	s.mech = MBI_SASL_XOAUTH2;
	s.user = "u@example.com";
	s.secret = "ya29.tok";
	ok(mbi_sasl_step(&s, NULL, 0, &r) == 0 &&
		   strcmp(r.buf, "user=u@example.com\001auth=Bearer "
				 "ya29.tok\001\001") == 0,
	   "XOAUTH2 initial response");
	ok(mbi_sasl_step(&s, "{}", 2, &r) == 0 && r.len == 0,
	   "XOAUTH2 answers an error challenge empty");

	memset(&s, 0, sizeof(s));
	s.mech = MBI_SASL_OAUTHBEARER;
	s.user = "u@example.com";
	s.secret = "tok";
	s.host = "server.example.com";
	s.port = 993;
	ok(mbi_sasl_step(&s, NULL, 0, &r) == 0 &&
		   strcmp(r.buf,
			  "n,a=u@example.com,\001host=server.example.com"
			  "\001port=993\001auth=Bearer tok\001\001") == 0,
	   "OAUTHBEARER initial response (RFC 7628)");
	ok(mbi_sasl_step(&s, "{}", 2, &r) == 0 && r.len == 1 &&
		   r.buf[0] == '\001' && s.status[0] == '\0',
	   "OAUTHBEARER answers an error challenge with ^A");

	/* RFC 7628 3.1: the gs2-header's a= is a saslname (RFC 5801) */
	memset(&s, 0, sizeof(s));
	s.mech = MBI_SASL_OAUTHBEARER;
	s.user = "a,b=c";
	s.secret = "tok";
	s.host = "h";
	s.port = 143;
	ok(mbi_sasl_step(&s, NULL, 0, &r) == 0 &&
		   strcmp(r.buf, "n,a=a=2Cb=3Dc,\001host=h\001port=143\001"
				 "auth=Bearer tok\001\001") == 0,
	   "OAUTHBEARER escapes , and = in the user name as =2C and =3D");
	{
		static const char j[] = "{ \"status\" : \"invalid_\\\"token\","
					"\"scope\":\"mail\"}";

		ok(mbi_sasl_step(&s, j, sizeof(j) - 1, &r) == 0 &&
			   strcmp(s.status, "invalid_\"token") == 0,
		   "OAUTHBEARER keeps the error's status (JSON string)");
	}
	memset(&s, 0, sizeof(s));
	s.mech = MBI_SASL_XOAUTH2;
	s.user = "u";
	s.secret = "tok";
	ok(mbi_sasl_step(&s, NULL, 0, &r) == 0 &&
		   step(&s, "{\"status\":401,\"schemes\":\"bearer\"}", &r) ==
			   0 &&
		   r.len == 0 && strcmp(s.status, "401") == 0,
	   "XOAUTH2 keeps the error's status (JSON number)");
	memset(&s, 0, sizeof(s));
	s.mech = MBI_SASL_XOAUTH2;
	s.user = "u";
	s.secret = "tok";
	ok(mbi_sasl_step(&s, NULL, 0, &r) == 0 &&
		   step(&s, "{\"status\":\"4\x01\xff\"}", &r) == 0 &&
		   strcmp(s.status, "4??") == 0 &&
		   mbi_sasl_step(&s, "{}", 2, &r) < 0,
	   "XOAUTH2: status in printable ASCII; one error, no more steps");
	memset(&s, 0, sizeof(s));
	s.mech = MBI_SASL_XOAUTH2;
	s.user = "u";
	s.secret = "tok";
	ok(mbi_sasl_step(&s, NULL, 0, &r) == 0 &&
		   step(&s, "{\"status\"", &r) == 0 && s.status[0] == '\0' &&
		   (s.step = 1, step(&s, "{\"status\":\"", &r)) == 0 &&
		   s.status[0] == '\0' &&
		   (s.step = 1, step(&s, "not json", &r)) == 0 &&
		   s.status[0] == '\0',
	   "XOAUTH2: a cut or missing status is empty");

	ok(mbi_sasl_by_name("cram-md5") == MBI_SASL_CRAM_MD5 &&
		   mbi_sasl_by_name("GSSAPI") == MBI_SASL_NONE &&
		   mbi_sasl_plaintext(MBI_SASL_PLAIN) &&
		   !mbi_sasl_plaintext(MBI_SASL_CRAM_MD5),
	   "mechanism names and which send the password");

	mbi_apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf",
			digest);
	is_str(digest, "c4c9334bac560ecc979e58001b3e22fb",
	       "APOP: the RFC 1939 example");
	mbi_buf_free(&r);
}

static char kwseen[256];

static void
kw_cb(void *arg, const char *name, size_t len)
{
	(void)arg;
	strncat(kwseen, name, len);
	strcat(kwseen, ",");
}

static void
t_imap(void)
{
	const char *s = "* 12 FETCH (UID 7 FLAGS (\\Seen \\Recent $Label1 "
			"NonJunk) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
			"BODY[HEADER.FIELDS (FROM TO)] {12} X \"a\\\"b\" NIL)";
	struct mbi_imap_lex lx;
	struct mbi_imap_tok t;
	struct mbi_buf b;
	unsigned flags;
	int64_t when;
	int tz;

	mbi_imap_lex_init(&lx, s, strlen(s));
	ok(mbi_imap_tok(&lx, &t) == MBI_TOK_ATOM && t.len == 1 &&
		   mbi_imap_tok(&lx, &t) == MBI_TOK_ATOM && t.len == 2 &&
		   mbi_imap_tok(&lx, &t) == MBI_TOK_ATOM &&
		   mbi_imap_tok(&lx, &t) == MBI_TOK_LPAREN,
	   "atoms and a list");
	ok(mbi_imap_tok(&lx, &t) == MBI_TOK_ATOM &&
		   mbi_imap_tok(&lx, &t) == MBI_TOK_ATOM && t.p[0] == '7',
	   "UID 7");
	ok(mbi_imap_tok(&lx, &t) == MBI_TOK_ATOM &&
		   mbi_imap_tok(&lx, &t) == MBI_TOK_LPAREN &&
		   mbi_imap_flags(&lx, &flags, kw_cb, NULL) &&
		   flags == MB_SEEN && strcmp(kwseen, "$Label1,NonJunk,") == 0,
	   "flag list: \\Seen, \\Recent clears MB_OLD, two keywords");
	ok(mbi_imap_tok(&lx, &t) == MBI_TOK_ATOM &&
		   mbi_imap_tok(&lx, &t) == MBI_TOK_STRING &&
		   mb_date_parse(t.p, t.len, &when, &tz) && when == 837596665 &&
		   tz == -420,
	   "INTERNALDATE as a quoted string parses");
	ok(mbi_imap_tok(&lx, &t) == MBI_TOK_ATOM &&
		   t.len == strlen("BODY[HEADER.FIELDS (FROM TO)]"),
	   "a section with spaces is one atom");
	ok(mbi_imap_tok(&lx, &t) == MBI_TOK_LITERAL && t.lit == 0,
	   "literal marker: literal 0");
	ok(mbi_imap_tok(&lx, &t) == MBI_TOK_ATOM &&
		   mbi_imap_tok(&lx, &t) == MBI_TOK_STRING && t.len == 4,
	   "quoted string with an escape");
	mbi_buf_init(&b);
	ok(mbi_imap_unquote(t.p, t.len, &b) == 0 && strcmp(b.buf, "a\"b") == 0,
	   "unquote");
	ok(mbi_imap_tok(&lx, &t) == MBI_TOK_NIL &&
		   mbi_imap_tok(&lx, &t) == MBI_TOK_RPAREN &&
		   mbi_imap_tok(&lx, &t) == MBI_TOK_END,
	   "NIL, end of list, end");
	mbi_imap_lex_init(&lx, "(a (b c) \"d\") e", 15);
	mbi_imap_tok(&lx, &t);
	ok(mbi_imap_skip(&lx, &t) && mbi_imap_tok(&lx, &t) == MBI_TOK_ATOM &&
		   t.p[0] == 'e',
	   "skip a nested list");
	mbi_imap_lex_init(&lx, "(a (b", 5);
	mbi_imap_tok(&lx, &t);
	ok(!mbi_imap_skip(&lx, &t), "skip an unterminated list fails");
	mbi_imap_lex_init(&lx, "\"abc", 4);
	ok(mbi_imap_tok(&lx, &t) == MBI_TOK_ERROR, "unterminated string");
	mbi_imap_lex_init(&lx, "(\\Seen \"x\")", 11);
	mbi_imap_tok(&lx, &t);
	ok(!mbi_imap_flags(&lx, &flags, NULL, NULL),
	   "a string in a flag list is an error");
	mbi_buf_reset(&b);
	ok(mbi_imap_quote(&b, "a\"b\\c") == 0 &&
		   strcmp(b.buf, "\"a\\\"b\\\\c\"") == 0,
	   "quote escapes");
	mbi_buf_reset(&b);
	ok(mbi_imap_quote(&b, "a\r\nb") < 0 &&
		   mbi_imap_quote(&b, "\xc3\xa9") < 0,
	   "line ends and 8-bit bytes cannot be quoted");
	mbi_buf_free(&b);
}

static void
t_settings(void)
{
	struct mb_ctx *ctx = mb_ctx_new();
	struct mb_err e;

	ok(mb_ctx_set(ctx, "net-timeout", "7", &e) == MB_OK &&
		   ctx->net.timeout == 7,
	   "net-timeout");
	ok(mb_ctx_set(ctx, "net-timeout", "0", &e) == MB_FAILED &&
		   mb_ctx_set(ctx, "net-timeout", "x", &e) == MB_FAILED,
	   "bad timeouts refused");
	ok(mb_ctx_set(ctx, "plaintext-auth", "yes", &e) == MB_OK &&
		   strcmp(mb_ctx_get(ctx, "plaintext-auth"), "yes") == 0,
	   "plaintext-auth");
	ok(mb_ctx_set(ctx, "auth-mechanism", "GSSAPI", &e) == MB_FAILED,
	   "unknown mechanism refused");
	ok(mb_ctx_set(ctx, "ca-file", "/x/ca.pem", &e) == MB_OK &&
		   strcmp(mb_ctx_get(ctx, "ca-file"), "/x/ca.pem") == 0,
	   "ca-file");
	ok(mb_ctx_set(ctx, "no-such-setting", "1", &e) == MB_FAILED &&
		   e.code == MB_EINVAL,
	   "unknown settings still refused");
	setenv("MBT_PW", "hunter2", 1);
	{
		const char *sec;

		ok(mb_ctx_set(ctx, "password-env", "MBT_PW", &e) == MB_OK &&
			   mbi_net_secret(ctx, false, &sec, &e) == MB_OK &&
			   strcmp(sec, "hunter2") == 0,
		   "password from the environment");
	}
	mb_ctx_free(&ctx);
	ctx = mb_ctx_new();
	{
		const char *sec;

		ok(mb_ctx_set(ctx, "password-command", "echo tok1; echo x",
			      &e) == MB_OK &&
			   mbi_net_secret(ctx, false, &sec, &e) == MB_OK &&
			   strcmp(sec, "tok1") == 0,
		   "password from a command: its first line");
	}
	mb_ctx_free(&ctx);
	ctx = mb_ctx_new();
	{
		const char *sec;

		ok(mbi_net_secret(ctx, false, &sec, &e) == MB_FAILED &&
			   e.code == MB_EAUTH,
		   "no password source: an auth error");
		mb_ctx_set(ctx, "oauth-command", "false", &e);
		ok(mbi_net_secret(ctx, true, &sec, &e) == MB_FAILED &&
			   e.code == MB_EAUTH,
		   "a failing token command: an auth error");
	}
	mb_ctx_free(&ctx);
}

int
main(void)
{
	t_names();
	t_base64();
	t_sasl();
	t_imap();
	t_settings();
	return done_testing();
}

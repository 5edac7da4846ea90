/*
 * Unit tests for the message engine: header fields (rfc5322.c),
 * addresses and groups, RFC 2047 encoded-words, RFC 2231 parameters,
 * transfer decoders (decode.c), charsets (charset.c), the MIME tree
 * (mime.c), IMAP FETCH data (imapfetch.c) and SEARCH (search.c).
 * Expected values are worked out by hand from the RFCs.
 */
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "mb-int.h"
#include "mb-msg.h"
#include "tap.h"

/* ------------------------------------------------------------------ */

struct fields {
	char out[1024];
};

static int
collect(void *arg, const char *name, size_t nl, const char *v, size_t vl,
	size_t off)
{
	struct fields *f = arg;
	size_t n = strlen(f->out);

	snprintf(f->out + n, sizeof(f->out) - n, "[%.*s=%.*s@%zu]", (int)nl,
		 name, (int)vl, v, off);
	return 0;
}

static void
test_fields(void)
{
	const char *h = "Subject: a\n b\nX-A : 1\nno colon here\n"
			"To: x\r\nTo: y\n: empty\n\tstray\n";
	struct fields f = { "" };
	char *u;

	mb_hdr_walk(h, strlen(h), collect, &f);
	ok(strstr(f.out, "[Subject=a\n b@0]") != NULL,
	   "folded field keeps its fold, offset 0");
	ok(strstr(f.out, "[X-A=1@14]") != NULL, "obsolete 'Name :' form");
	ok(strstr(f.out, "no colon") == NULL, "line without colon skipped");
	ok(strstr(f.out, "[To=x@") != NULL && strstr(f.out, "[To=y@") != NULL,
	   "duplicate fields are both reported");
	ok(strstr(f.out, "[=") == NULL, "empty field name skipped");
	u = mb_hdr_unfold("a\r\n\tb\n c", 8);
	is_str(u, "a b c", "unfold: CR LF removed, folding tab becomes blank");
	free(u);
}

static char *
addrs(const char *v)
{
	static char out[1024];
	struct mb_addr *a;
	int n = mb_addr_parse(v, strlen(v), &a), i;
	size_t l = 0;

	out[0] = 0;
	for (i = 0; i < n; i++)
		l += (size_t)snprintf(out + l, sizeof(out) - l, "(%s|%s|%s|%s)",
				      a[i].name ? a[i].name : "NIL",
				      a[i].adl ? a[i].adl : "NIL",
				      a[i].mailbox ? a[i].mailbox : "NIL",
				      a[i].host ? a[i].host : "NIL");
	mb_addr_free(a, n);
	return out;
}

static void
test_addresses(void)
{
	is_str(addrs("a@b.c"), "(NIL|NIL|a|b.c)", "addr-spec");
	is_str(addrs("John Doe <jd@x.org>"), "(John Doe|NIL|jd|x.org)",
	       "name-addr");
	is_str(addrs("\"Doe, \\\"J\\\"\" <jd@x.org>"),
	       "(Doe, \"J\"|NIL|jd|x.org)", "quoted phrase with escapes");
	is_str(addrs("jd@x.org (John X. Doe)"), "(John X. Doe|NIL|jd|x.org)",
	       "comment names an addr-spec");
	is_str(addrs("a@b, c <d@e> ,, f@g"),
	       "(NIL|NIL|a|b)(c|NIL|d|e)(NIL|NIL|f|g)",
	       "list with empty members");
	is_str(addrs("Team: a@b, C <c@d>;, z@y"),
	       "(NIL|NIL|Team|NIL)(NIL|NIL|a|b)(C|NIL|c|d)(NIL|NIL|NIL|NIL)"
	       "(NIL|NIL|z|y)",
	       "group with members, then an address");
	is_str(addrs("undisclosed-recipients:;"),
	       "(NIL|NIL|undisclosed-recipients|NIL)(NIL|NIL|NIL|NIL)",
	       "empty group");
	is_str(addrs("<@r1,@r2:u@h>"), "(NIL|@r1,@r2|u|h)", "obsolete route");
	is_str(addrs("foo"), "(NIL|NIL|foo|MISSING_DOMAIN)", "bare local part");
	is_str(addrs("Name <>"), "(Name|NIL|MISSING_MAILBOX|MISSING_DOMAIN)",
	       "name without address");
	is_str(addrs("a@[1.2.3.4]"), "(NIL|NIL|a|[1.2.3.4])",
	       "domain literal");
	is_str(addrs("Broken <a@b"), "(Broken|NIL|a|b)", "unterminated <");
	is_str(addrs("\x01\xff<<>>@@,;:"), addrs("\x01\xff<<>>@@,;:"),
	       "garbage does not crash");
}

static void
dec(const char *in, const char *want, const char *what)
{
	char *u = mb_hdr_decode(in, strlen(in), NULL);

	is_str(u, want, "%s", what);
	free(u);
}

static void
test_encoded_words(void)
{
	dec("=?ISO-8859-1?Q?Andr=E9_Pirard?=", "Andr\xc3\xa9 Pirard",
	    "Q, latin-1, underscore is a blank");
	dec("=?UTF-8?B?w6lsw6h2ZQ==?=", "\xc3\xa9l\xc3\xa8ve", "B, UTF-8");
	dec("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab",
	    "blanks between adjacent encoded-words dropped");
	dec("=?ISO-8859-1?Q?a?= x =?ISO-8859-1?Q?b?=", "a x b",
	    "text between encoded-words kept");
	dec("=?KOI8-R?B?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2"
				     "\xd0\xb5\xd1\x82",
	    "KOI8-R");
	dec("=?ISO-2022-JP?B?GyRCRnxLXBsoQg==?=", "\xe6\x97\xa5\xe6\x9c\xac",
	    "ISO-2022-JP");
	dec("=?us-ascii*en?Q?hi?=", "hi", "RFC 2231 language suffix");
	dec("=?bogus?Q?x", "=?bogus?Q?x", "unterminated word kept literally");
	dec("=?x-unknown?Q?caf=E9?=", "caf\xc3\xa9",
	    "unknown charset: Latin-1 fallback");
	dec("plain \xc3\xa9 and \xe9", "plain \xc3\xa9 and \xc3\xa9",
	    "raw 8-bit: UTF-8 kept, other bytes as Latin-1");
	dec("a\r\n b", "a b", "unfolded");
}

static void
test_params(void)
{
	struct mb_param *p;
	char *v, *d;
	const char *ct;
	int n;

	ct = "Text/Plain; Charset=\"utf-8\"; format=flowed (comment)";
	n = mb_params_parse(ct, strlen(ct), &v, &p);
	is_int(n, 2, "two parameters");
	is_str(v, "Text/Plain", "value keeps its case");
	is_str(p[0].name, "Charset", "name as written");
	is_str(p[0].value, "utf-8", "quotes removed");
	is_str(p[1].value, "flowed", "comment skipped");
	free(v);
	mb_params_free(p, n);

	ct = "attachment; filename*0*=iso-8859-1'fr'caf%E9; "
	     "filename*1=\" au lait.txt\"; size=12";
	n = mb_params_parse(ct, strlen(ct), &v, &p);
	is_int(n, 2, "RFC 2231 sections merged");
	is_str(p[0].name, "size", "plain parameters first");
	is_str(p[1].name, "filename*", "merged extended name");
	is_str(p[1].value, "iso-8859-1'fr'caf%E9 au lait.txt",
	       "merged raw value");
	d = mb_param_value(p, n, "filename");
	is_str(d, "caf\xc3\xa9 au lait.txt", "decoded to UTF-8");
	free(d);
	free(v);
	mb_params_free(p, n);

	ct = "attachment; filename=\"=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?=\"";
	n = mb_params_parse(ct, strlen(ct), &v, &p);
	d = mb_param_value(p, n, "FILENAME");
	is_str(d, "r\xc3\xa9sum\xc3\xa9.pdf", "RFC 2047 in a parameter");
	free(d);
	free(v);
	mb_params_free(p, n);

	ct = "multipart/mixed; boundary=a/b=c; x";
	n = mb_params_parse(ct, strlen(ct), &v, &p);
	ok(n >= 1 && strcmp(p[0].value, "a/b=c") == 0,
	   "unquoted value with tspecials kept whole");
	free(v);
	mb_params_free(p, n);
}

static char *
decode_all(int cte, const char *in, size_t step)
{
	struct mb_decoder d;
	char *out = NULL;
	size_t len = 0, cap = 0, i, k;

	mb_decoder_init(&d, cte);
	for (i = 0; i < strlen(in); i += step) {
		k = strlen(in) - i < step ? strlen(in) - i : step;
		mb_decoder_feed(&d, in + i, k, &out, &len, &cap);
	}
	mb_decoder_finish(&d, &out, &len, &cap);
	return out;
}

static void
test_decoders(void)
{
	size_t step;
	char *s;
	int good = 1;

	for (step = 1; step <= 7; step++) {
		s = decode_all(MB_CTE_BASE64, "aGVs\nbG8g\r\nd29y bGQ=\n", step);
		good &= strcmp(s, "hello world") == 0;
		free(s);
		s = decode_all(MB_CTE_QP,
			       "caf=E9 =\nau=20lait=  \r\n=ZZ end=3d\nx=", step);
		good &= strcmp(s, "caf\xe9 au lait=ZZ end=\nx") == 0;
		free(s);
	}
	ok(good, "base64 and quoted-printable, fed in pieces of 1..7 bytes");
	for (step = 1; step <= 5; step++) {
		s = decode_all(MB_CTE_QP, "pad  \t\nkeep \r\nend =41 ", step);
		good &= strcmp(s, "pad\nkeep\r\nend A") == 0;
		free(s);
	}
	ok(good, "quoted-printable: blanks at line ends are padding");
	{
		struct mb_decoder d;
		char *o = NULL;
		size_t l = 0, c = 0;

		mb_decoder_init(&d, MB_CTE_BASE64);
		mb_decoder_feed(&d, "aGk=\n", 5, &o, &l, &c);
		mb_decoder_finish(&d, &o, &l, &c);
		is_int((long long)d.bad, 0, "valid base64: nothing bad");
		mb_decoder_init(&d, MB_CTE_BASE64);
		mb_decoder_feed(&d, "Some text.", 10, &o, &l, &c);
		mb_decoder_finish(&d, &o, &l, &c);
		is_int((long long)d.bad, 1, "damaged base64 is counted (the dot)");
		free(o);
	}
	s = decode_all(MB_CTE_BASE64, "!!aGk*", 3);
	is_str(s, "hi", "base64: bad characters skipped");
	free(s);
	s = decode_all(MB_CTE_8BIT, "as is=41", 2);
	is_str(s, "as is=41", "8bit: identity");
	free(s);
	is_int(mb_cte_from_name("Quoted-Printable"), MB_CTE_QP, "cte names");
	is_int(mb_cte_from_name("x-uuencode"), MB_CTE_OTHER, "unknown cte");
}

/* Encode utf8 into cs with iconv, then back through mb_to_utf8. */
static bool
roundtrip(const char *cs, const char *iconv_name, const char *utf8)
{
	iconv_t cd = iconv_open(iconv_name, "UTF-8");
	char buf[256], *ip = (char *)utf8, *op = buf, *u;
	size_t il = strlen(utf8), ol = sizeof(buf);
	bool good;

	if (cd == (iconv_t)-1)
		return false;
	if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
		iconv_close(cd);
		return false;
	}
	iconv(cd, NULL, NULL, &op, &ol);
	iconv_close(cd);
	u = mb_to_utf8(cs, buf, (size_t)(op - buf));
	good = u != NULL && strcmp(u, utf8) == 0;
	if (!good)
		diag("%s: got '%s'", cs, u ? u : "(null)");
	free(u);
	return good;
}

static void
test_charsets(void)
{
	static const struct {
		const char *mail, *iconv, *text;
	} tab[] = {
		{ "ISO-8859-2", "ISO-8859-2", "\xc5\x81\xc3\xb3" "d\xc5\xba" },
		{ "ISO-8859-3", "ISO-8859-3", "\xc4\xa6" },
		{ "ISO-8859-4", "ISO-8859-4", "\xc4\x80" },
		{ "ISO-8859-5", "ISO-8859-5", "\xd0\x96" },
		{ "ISO-8859-6", "ISO-8859-6", "\xd8\xa7" },
		{ "ISO-8859-7", "ISO-8859-7", "\xce\xb1\xce\xb2" },
		{ "ISO-8859-8", "ISO-8859-8", "\xd7\x90" },
		{ "ISO-8859-9", "ISO-8859-9", "\xc4\x9f" },
		{ "ISO-8859-10", "ISO-8859-10", "\xc5\x8b" },
		{ "ISO-8859-13", "ISO-8859-13", "\xc4\x85" },
		{ "ISO-8859-14", "ISO-8859-14", "\xe1\xb8\x82" },
		{ "ISO-8859-15", "ISO-8859-15", "\xe2\x82\xac" },
		{ "ISO-8859-16", "ISO-8859-16", "\xc8\x99" },
		{ "KOI8-R", "KOI8-R", "\xd0\x9c\xd0\xb8\xd1\x80" },
		{ "KOI8-U", "KOI8-U", "\xd1\x97" },
		{ "windows-1250", "CP1250", "\xc5\x99" },
		{ "windows-1251", "CP1251", "\xd0\x96" },
		{ "windows-1252", "CP1252", "\xe2\x82\xac" },
		{ "windows-1253", "CP1253", "\xce\xa9" },
		{ "windows-1254", "CP1254", "\xc5\x9f" },
		{ "windows-1255", "CP1255", "\xd7\xa9" },
		{ "windows-1256", "CP1256", "\xd8\xb9" },
		{ "windows-1257", "CP1257", "\xc5\xab" },
		{ "windows-1258", "CP1258", "\xc4\x91" },
		{ "ISO-2022-JP", "ISO-2022-JP", "\xe6\x97\xa5\xe6\x9c\xac" },
		{ "ISO-2022-KR", "ISO-2022-KR", "\xed\x95\x9c" },
		{ "ISO-2022-CN", "ISO-2022-CN", "\xe4\xb8\xad" },
		{ "EUC-JP", "EUC-JP", "\xe6\x97\xa5" },
		{ "EUC-KR", "EUC-KR", "\xed\x95\x9c" },
		{ "Shift_JIS", "SHIFT_JIS", "\xe6\x97\xa5\xe6\x9c\xac" },
		{ "x-sjis", "SHIFT_JIS", "\xe6\x9c\xac" },
		{ "GB2312", "GB2312", "\xe4\xb8\xad\xe6\x96\x87" },
		{ "BIG5", "BIG5", "\xe4\xb8\xad\xe6\x96\x87" },
		{ "TIS-620", "TIS-620", "\xe0\xb8\x81" },
		{ "VISCII", "VISCII", "\xe1\xba\xa0" },
		{ "ks_c_5601-1987", "CP949", "\xed\x95\x9c" },
	};
	size_t i;
	char *u;
	struct mb_conv *c;
	char *out = NULL;
	size_t len = 0, cap = 0;
	const char *jis = "\x1b$BF|\x1b(B";

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		ok(mb_charset_known(tab[i].mail) &&
			   roundtrip(tab[i].mail, tab[i].iconv, tab[i].text),
		   "charset %s to UTF-8", tab[i].mail);
	/* known bytes, independent of iconv's encoder */
	u = mb_to_utf8("Shift_JIS", "\x93\xfa\x96\x7b", 4);
	is_str(u, "\xe6\x97\xa5\xe6\x9c\xac", "Shift_JIS bytes");
	free(u);
	u = mb_to_utf8("big5", "\xa4\xa4\xa4\xe5", 4);
	is_str(u, "\xe4\xb8\xad\xe6\x96\x87", "Big5 bytes");
	free(u);
	u = mb_to_utf8("utf-8", "a\xff" "b", 3);
	is_str(u, "a\xef\xbf\xbd" "b", "invalid UTF-8 becomes U+FFFD");
	free(u);
	/* 8-bit text labelled US-ASCII: UTF-8 where it is, else CP1252 */
	u = mb_to_utf8("us-ascii", "caf\xc3\xa9 \x93q\x94 \x81", 11);
	is_str(u, "caf\xc3\xa9 \xe2\x80\x9cq\xe2\x80\x9d \xef\xbf\xbd",
	       "US-ASCII: UTF-8 kept, CP1252 bytes, undefined byte U+FFFD");
	free(u);
	c = mb_conv_new("US-ASCII");
	for (i = 0; i < 5; i++)
		mb_conv_feed(c, "\xc3\xa9\xe9" "ab" + i, 1, &out, &len, &cap);
	mb_conv_finish(c, &out, &len, &cap);
	is_str(out, "\xc3\xa9\xc3\xa9" "ab",
	       "US-ASCII fed byte by byte: a split UTF-8 sequence");
	mb_conv_free(&c);
	free(out);
	out = NULL;
	len = cap = 0;
	ok(!mb_charset_known("x-no-such-charset"), "unknown charset");
	/* a stateful charset split inside its escape sequence */
	c = mb_conv_new("iso-2022-jp");
	for (i = 0; i < strlen(jis); i++)
		mb_conv_feed(c, jis + i, 1, &out, &len, &cap);
	mb_conv_finish(c, &out, &len, &cap);
	is_str(out, "\xe6\x97\xa5", "ISO-2022-JP fed byte by byte");
	free(out);
	mb_conv_free(&c);
	u = mb_utf8_fold("\xc3\x89T\xc3\xa9 \xd0\x9f\xce\xa3", 10);
	is_str(u, "\xc3\xa9t\xc3\xa9 \xd0\xbf\xcf\x83", "case folding");
	free(u);
	/* other scripts through glibc: Armenian, Georgian Mtavruli,
	 * fullwidth Latin, Deseret (4 bytes), Turkish dotted I */
	u = mb_utf8_fold("\xd4\xb1 \xe1\xb2\x90 \xef\xbc\xa1 "
			 "\xf0\x90\x90\x80 \xc4\xb0",
			 18);
	is_str(u, "\xd5\xa1 \xe1\x83\x90 \xef\xbd\x81 \xf0\x90\x90\xa8 i",
	       "case folding beyond Latin, Greek and Cyrillic");
	free(u);
}

/* ------------------------------------------------------------------ */

static const char msg1[] =
	"From: \"A. B\" <a@b.example>\n"
	"To: c@d.example, Group: e@f.example;\n"
	"Subject: =?ISO-8859-1?Q?caf=E9?= time\n"
	"Date: Mon, 2 Jan 2006 15:04:05 -0700\n"
	"Message-ID: <1@b.example>\n"
	"Content-Type: multipart/mixed; boundary=XX\n"
	"\n"
	"pre\n"
	"--XX\n"
	"Content-Type: text/plain\n"
	"Content-Language: en, de\n"
	"\n"
	"hello\n"
	"--XX\n"
	"Content-Type: application/octet-stream; name=x.bin\n"
	"Content-Transfer-Encoding: base64\n"
	"Content-Disposition: attachment; filename=x.bin\n"
	"\n"
	"aGVsbG8=\n"
	"--XX\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"Subject: inner\n"
	"\n"
	"inner body\n"
	"two\n"
	"--XX--\n"
	"epilogue\n";

struct outbuf {
	char b[4096];
	size_t n;
};

static int
to_buf(void *arg, const void *p, size_t n)
{
	struct outbuf *o = arg;

	if (o->n + n >= sizeof(o->b))
		return -1;
	memcpy(o->b + o->n, p, n);
	o->n += n;
	o->b[o->n] = 0;
	return 0;
}

static void
section(const struct mb_mime *m, const char *sec, bool bin, int64_t po,
	int64_t pl, const char *want)
{
	struct mb_reader *r = mb_reader_mem(msg1, strlen(msg1));
	struct outbuf o = { "", 0 };
	struct mb_err e;
	int rc = mb_imap_section(m, r, sec, bin, po, pl, to_buf, &o, NULL, &e);

	if (want == NULL)
		ok(rc < 0, "%s[%s] refused: %s", bin ? "BINARY" : "BODY", sec,
		   e.msg);
	else
		is_str(rc == MB_OK ? o.b : e.msg, want, "%s[%s]<%lld.%lld>",
		       bin ? "BINARY" : "BODY", sec, (long long)po,
		       (long long)pl);
	mb_reader_close(&r);
}

static void
test_structure(void)
{
	struct mb_mime *m;
	struct mb_err e;
	char *s;
	size_t lfs = 0, i;

	ok(mb_mime_parse_buf(msg1, strlen(msg1), &m, &e) == MB_OK, "parse");
	for (i = 0; msg1[i]; i++)
		lfs += msg1[i] == '\n';
	is_int(m->vsize, (int64_t)(strlen(msg1) + lfs),
	       "RFC822.SIZE counts CR LF line ends");
	is_int(m->nparts, 5, "five entities");
	s = mb_imap_bodystructure(m->root, true);
	is_str(s,
	       "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	       "\"7bit\" 5 0 NIL NIL (\"en\" \"de\") NIL)"
	       "(\"application\" \"octet-stream\" (\"name\" \"x.bin\") NIL "
	       "NIL \"base64\" 8 NIL (\"attachment\" (\"filename\" "
	       "\"x.bin\")) NIL NIL)"
	       "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 33 "
	       "(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	       "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	       "\"7bit\" 15 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) "
	       "\"mixed\" (\"boundary\" \"XX\") NIL NIL NIL)",
	       "BODYSTRUCTURE");
	free(s);
	s = mb_imap_bodystructure(m->root, false);
	is_str(s,
	       "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	       "\"7bit\" 5 0)(\"application\" \"octet-stream\" (\"name\" "
	       "\"x.bin\") NIL NIL \"base64\" 8)(\"message\" \"rfc822\" NIL "
	       "NIL NIL \"7bit\" 33 (NIL \"inner\" NIL NIL NIL NIL NIL NIL "
	       "NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	       "NIL \"7bit\" 15 1) 3) \"mixed\")",
	       "BODY: no extension data");
	free(s);
	s = mb_imap_envelope(m->root);
	is_str(s,
	       "(\"Mon, 2 Jan 2006 15:04:05 -0700\" "
	       "\"=?ISO-8859-1?Q?caf=E9?= time\" "
	       "((\"A. B\" NIL \"a\" \"b.example\")) "
	       "((\"A. B\" NIL \"a\" \"b.example\")) "
	       "((\"A. B\" NIL \"a\" \"b.example\")) "
	       "((NIL NIL \"c\" \"d.example\")(NIL NIL \"Group\" NIL)"
	       "(NIL NIL \"e\" \"f.example\")(NIL NIL NIL NIL)) "
	       "NIL NIL NIL \"<1@b.example>\")",
	       "ENVELOPE with a group");
	free(s);
	section(m, "1", false, 0, -1, "hello");
	section(m, "2", false, 0, -1, "aGVsbG8=");
	section(m, "2", true, 0, -1, "hello");
	section(m, "1", true, 0, -1, "hello");
	/* BINARY of a message part: its body as it is (as Dovecot) */
	section(m, "3", true, 0, -1, "Subject: inner\r\n\r\ninner body\r\ntwo");
	section(m, "1.MIME", false, 0, -1,
		"Content-Type: text/plain\r\nContent-Language: en, de\r\n\r\n");
	section(m, "3", false, 0, -1,
		"Subject: inner\r\n\r\ninner body\r\ntwo");
	section(m, "3.HEADER", false, 0, -1, "Subject: inner\r\n\r\n");
	section(m, "3.TEXT", false, 0, -1, "inner body\r\ntwo");
	section(m, "3.1", false, 0, -1, "inner body\r\ntwo");
	section(m, "HEADER.FIELDS (SUBJECT message-id)", false, 0, -1,
		"Subject: =?ISO-8859-1?Q?caf=E9?= time\r\n"
		"Message-ID: <1@b.example>\r\n\r\n");
	section(m, "HEADER.FIELDS.NOT (From To Subject Date Message-ID)",
		false, 0, -1,
		"Content-Type: multipart/mixed; boundary=XX\r\n\r\n");
	section(m, "", false, 0, 4, "From");
	section(m, "TEXT", false, 5, 4, "--XX");
	section(m, "1", false, 10, 5, "");
	section(m, "4", false, 0, -1, "");
	section(m, "1.HEADER", false, 0, -1, "");
	section(m, "1.1", false, 0, -1, "hello");
	section(m, "1.1.1", false, 0, -1, "");
	section(m, "1..1", false, 0, -1, NULL);
	section(m, "HEADER.FIELDS", false, 0, -1, NULL);
	section(m, "0", false, 0, -1, NULL);
	section(m, "TEXT", true, 0, -1, NULL);
	mb_mime_free(&m);
}

static void
test_envelope(void)
{
	const char *msg = "From: a@b\nSubject: s\nTo: x@y\nCc: u@v\ncc: w@z\n"
			  "Reply-To: r@q\n\nbody";
	struct mb_mime *m;
	struct mb_err e;
	char *s;

	mb_mime_parse_buf(msg, strlen(msg), &m, &e);
	s = mb_imap_envelope(m->root);
	is_str(s,
	       "(NIL \"s\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	       "((NIL NIL \"r\" \"q\")) ((NIL NIL \"x\" \"y\")) "
	       "((NIL NIL \"u\" \"v\")(NIL NIL \"w\" \"z\")) NIL NIL NIL)",
	       "ENVELOPE: Sender defaults to From, duplicate Cc joined");
	free(s);
	mb_mime_free(&m);
}

static int
stop_at_header(void *arg, const struct mb_part *p, const char *h, size_t hl,
	       const char *d, size_t n)
{
	(*(int *)arg)++;
	return MB_MIME_STOP;
}

static void
test_stop(void)
{
	struct mb_reader *r = mb_reader_mem(msg1, strlen(msg1));
	struct mb_mime *m;
	struct mb_err e;
	int calls = 0;

	ok(mb_mime_parse(NULL, r, stop_at_header, &calls, &m, &e) == MB_OK,
	   "parse with a callback that stops");
	is_int(calls, 1, "one call: the message header");
	ok(m->stopped && m->size < (int64_t)strlen(msg1) &&
		   m->root->hdr_size > 0,
	   "stopped after the header (%lld of %zu bytes read)",
	   (long long)m->size, strlen(msg1));
	mb_mime_free(&m);
	mb_reader_close(&r);
}

/* Broken structures: what a part is when boundaries go wrong. */
static void
test_broken(void)
{
	static const struct {
		const char *msg, *want, *what;
	} tab[] = {
		{ "Content-Type: multipart/mixed; boundary=a\n\n--a\n\nx\n",
		  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
		  "\"7bit\" 3 1) \"mixed\")",
		  "no close delimiter: the part runs to the end" },
		{ "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
		  "Content-Type: multipart/alternative; boundary=i\n\n--i\n\n"
		  "in\n--o\n\nsecond\n--o--\n",
		  "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
		  "\"7bit\" 2 0) \"alternative\")(\"text\" \"plain\" "
		  "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0) \"mixed\")",
		  "an outer boundary closes the inner multipart" },
		{ "Content-Type: multipart/mixed\n\nno boundary\n",
		  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
		  "\"7bit\" 0 0) \"mixed\")",
		  "multipart without boundary" },
		{ "Content-Type: multipart/mixed; boundary=q\n\n--q\n"
		  "Content-Type: text/plain\n--q--\n",
		  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
		  "\"7bit\" 0 0) \"mixed\")",
		  "a header cut short by the boundary" },
		{ "Subject: x", "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
				"NIL NIL \"7bit\" 0 0)",
		  "header only, no line end" },
		{ "Content-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n"
		  "\r\nab\r\n--c--\r\n",
		  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
		  "\"7bit\" 2 0) \"mixed\")",
		  "CR LF line ends" },
		{ "Content-Type: text/plain; charset=\n\n\n",
		  "(\"text\" \"plain\" (\"charset\" \"\") NIL NIL \"7bit\" 2 1)",
		  "empty parameter value" },
	};
	struct mb_mime *m;
	struct mb_err e;
	size_t i;
	char *s;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (mb_mime_parse_buf(tab[i].msg, strlen(tab[i].msg), &m, &e) <
		    0) {
			ok(0, "%s: %s", tab[i].what, e.msg);
			continue;
		}
		s = mb_imap_bodystructure(m->root, false);
		is_str(s, tab[i].want, "%s", tab[i].what);
		free(s);
		mb_mime_free(&m);
	}
}

/* Every prefix of a message parses (a cut can land anywhere). */
static void
test_prefixes(void)
{
	struct mb_mime *m;
	struct mb_err e;
	size_t n, bad = 0;

	for (n = 0; n <= strlen(msg1); n++) {
		if (mb_mime_parse_buf(msg1, n, &m, &e) < 0) {
			bad++;
			continue;
		}
		free(mb_imap_bodystructure(m->root, true));
		free(mb_imap_envelope(m->root));
		if (m->size != (int64_t)n)
			bad++;
		mb_mime_free(&m);
	}
	is_int((int64_t)bad, 0, "every prefix of a message parses whole");
}

static int
discard(void *arg, const void *p, size_t n)
{
	*(size_t *)arg += n;
	return 0;
}

/*
 * Seeded mutations of a message (bytes changed, boundaries and
 * encoded-words planted, cuts): everything parses and every output is
 * computed without a crash (run under ASan by `make check SAN=1`).
 */
static void
test_mutations(void)
{
	static const char *plant[] = {
		"\n--XX\n", "\n--XX--\n", "=?utf-8?B?", "?=", "\r", "\n\n",
		"Content-Type: multipart/mixed; boundary=XX\n",
		"Content-Type: message/rfc822\n\n", "\"", "(", "<", ";",
		"=\n", "\0", "\xff\xfe", "*0*=", "\t",
	};
	static const char *secs[] = {
		"", "1", "2", "3", "1.1", "3.1", "3.HEADER", "3.TEXT", "2.MIME",
		"HEADER.FIELDS (FROM TO)", "HEADER.FIELDS.NOT (SUBJECT)", "TEXT",
	};
	char buf[4096];
	unsigned long seed = 12345;
	size_t len, i, k, out;
	int round, fails = 0;
	struct mb_mime *m;
	struct mb_reader *r;
	struct mb_err e;
	struct mb_addr *a;
	int na;

#define RND() (seed = seed * 6364136223846793005UL + 1442695040888963407UL, \
	       (unsigned)(seed >> 33))
	for (round = 0; round < 3000; round++) {
		len = strlen(msg1);
		memcpy(buf, msg1, len);
		for (k = RND() % 8 + 1; k > 0; k--) {
			size_t at = RND() % (len + 1);
			const char *pl = plant[RND() % (sizeof(plant) /
							sizeof(plant[0]))];
			size_t pn = strlen(pl) ? strlen(pl) : 1;

			switch (RND() % 4) {
			case 0:
				if (at < len)
					buf[at] = (char)RND();
				break;
			case 1:
				if (len + pn < sizeof(buf)) {
					memmove(buf + at + pn, buf + at,
						len - at);
					memcpy(buf + at, pl, pn);
					len += pn;
				}
				break;
			case 2:
				len = at;
				break;
			default:
				if (at < len) {
					size_t cut = RND() % (len - at) + 1;

					memmove(buf + at, buf + at + cut,
						len - at - cut);
					len -= cut;
				}
				break;
			}
		}
		if (mb_mime_parse_buf(buf, len, &m, &e) < 0) {
			fails++;
			continue;
		}
		free(mb_imap_bodystructure(m->root, true));
		free(mb_imap_bodystructure(m->root, false));
		free(mb_imap_envelope(m->root));
		r = mb_reader_mem(buf, len);
		for (i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
			int64_t po = RND() % 8, pl = RND() % 64;

			if (RND() % 2)
				pl = -1;
			out = 0;
			mb_imap_section(m, r, secs[i], false, po, pl, discard,
					&out, NULL, &e);
			mb_imap_section(m, r, secs[i], true, 0, -1, discard,
					&out, NULL, &e);
		}
		mb_reader_close(&r);
		if (m->size != (int64_t)len)
			fails++;
		mb_mime_free(&m);
		na = mb_addr_parse(buf, len < 300 ? len : 300, &a);
		mb_addr_free(a, na);
		free(mb_hdr_decode(buf, len < 500 ? len : 500, NULL));
		free(mb_hdr_decode(buf, len < 500 ? len : 500, "iso-2022-jp"));
	}
#undef RND
	is_int(fails, 0, "3000 mutated messages parse whole, all outputs made");
}

static void
test_search_parse(void)
{
	static const char *good[] = {
		"ALL", "OR FROM a (SINCE 1-Jan-2020 NOT SEEN)",
		"CHARSET ISO-8859-1 SUBJECT \"caf\xe9\"", "1:3,5,7:* UID 4:*",
		"HEADER X-Spam \"\"", "KEYWORD $Junk UNKEYWORD foo",
		"LARGER 10 SMALLER 100000 BODY x TEXT y",
		"SENTBEFORE 2-Feb-2002 SENTON 1-Jan-2000 SENTSINCE 3-Mar-1999",
		"NEW OLD RECENT ANSWERED DELETED DRAFT FLAGGED UNANSWERED "
		"UNDELETED UNDRAFT UNFLAGGED UNSEEN BEFORE 1-Jan-2030 ON "
		"9-Sep-2009 TO t CC c BCC b",
		"((NOT (OR SEEN DELETED)))",
		"X-MATCH \"subject:^re:\" X-BODY-MATCH foo.*bar",
	};
	static const char *badones[] = {
		"", "FOO", "OR SEEN", "(SEEN", "SEEN)", "SINCE 32-Jan-2020",
		"SINCE yesterday", "LARGER x", "UID 0", "1:x", "CHARSET x-nope ALL",
		"SUBJECT \"open", "()", "X-MATCH noregex", "X-BODY-MATCH (",
		"HEADER",
	};
	struct mb_search *s;
	struct mb_err e;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ok(mb_search_parse(good[i], &s, &e) == MB_OK, "parses: %s",
		   good[i]);
		mb_search_free(&s);
	}
	for (i = 0; i < sizeof(badones) / sizeof(badones[0]); i++) {
		ok(mb_search_parse(badones[i], &s, &e) == MB_FAILED &&
			   e.code == MB_EINVAL,
		   "refused: '%s' (%s)", badones[i], e.msg);
		mb_search_free(&s);
	}
}

int
main(void)
{

	test_fields();
	test_addresses();
	test_encoded_words();
	test_params();
	test_decoders();
	test_charsets();
	test_structure();
	test_envelope();
	test_stop();
	test_broken();
	test_prefixes();
	test_mutations();
	test_search_parse();
	return done_testing();
}

/*
 * charset.c - text in mail's charsets to UTF-8 through iconv (glibc),
 * with the aliases found in real mail, and case folding for search.
 * Undecodable input becomes U+FFFD; nothing is refused.
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "mb-int.h"
#include "mb-msg.h"

/* Names mail uses that iconv spells differently (or supersets). */
static const struct {
	const char *mail, *iconv;
} aliases[] = {
	{ "x-sjis", "SHIFT_JIS" },
	{ "shift-jis", "SHIFT_JIS" },
	{ "sjis", "SHIFT_JIS" },
	{ "x-euc-jp", "EUC-JP" },
	{ "ks_c_5601-1987", "CP949" },
	{ "ks_c_5601", "CP949" },
	{ "ksc5601", "CP949" },
	{ "euc-kr", "CP949" },
	{ "gb2312", "GBK" },
	{ "x-gbk", "GBK" },
	{ "cn-gb", "GBK" },
	{ "big5", "BIG5-HKSCS" },
	{ "x-big5", "BIG5-HKSCS" },
	{ "tis-620", "TIS-620" },
	{ "windows-874", "CP874" },
	{ "x-mac-roman", "MACINTOSH" },
	{ "unicode-1-1-utf-7", "UTF-7" },
	{ "x-unicode-2-0-utf-7", "UTF-7" },
	{ "iso-8859-8-i", "ISO-8859-8" },
	{ "iso-8859-6-i", "ISO-8859-6" },
	{ "us-ascii", "CP1252" }, /* 8-bit bytes in "ASCII" are cp1252 */
	{ "ascii", "CP1252" },
	{ "iso-8859-1", "CP1252" }, /* as browsers and MUAs read it */
	{ "latin1", "CP1252" },
	{ "x-user-defined", "CP1252" },
	{ "viscii", "VISCII" },
	{ "koi8-u", "KOI8-U" },
	{ "koi8-r", "KOI8-R" },
};

struct mb_conv {
	iconv_t cd;
	bool utf8;  /* validate only */
	bool ascii; /* "US-ASCII": valid UTF-8 as such, other bytes CP1252 */
	unsigned char pend[16];
	size_t npend;
};

static void
norm_name(const char *cs, char *out, size_t size)
{
	size_t i, n = 0;

	while (*cs == ' ' || *cs == '"')
		cs++;
	for (i = 0; cs[i] && n + 1 < size; i++) {
		if (cs[i] == '"' || cs[i] == ' ' || cs[i] == '*')
			break;
		out[n++] = (char)tolower((unsigned char)cs[i]);
	}
	out[n] = 0;
}

static iconv_t
open_cd(const char *charset, bool *utf8)
{
	char name[64];
	size_t i;
	iconv_t cd;

	*utf8 = false;
	norm_name(charset, name, sizeof(name));
	if (strcmp(name, "utf-8") == 0 || strcmp(name, "utf8") == 0) {
		*utf8 = true;
		return (iconv_t)-1;
	}
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(name, aliases[i].mail) == 0)
			return iconv_open("UTF-8", aliases[i].iconv);
	if (name[0] == 0)
		return (iconv_t)-1;
	cd = iconv_open("UTF-8", name);
	return cd;
}

bool
mb_charset_known(const char *charset)
{
	bool utf8;
	iconv_t cd = open_cd(charset, &utf8);

	if (cd != (iconv_t)-1)
		iconv_close(cd);
	return utf8 || cd != (iconv_t)-1;
}

struct mb_conv *
mb_conv_new(const char *charset)
{
	struct mb_conv *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->cd = open_cd(charset ? charset : "", &c->utf8);
	if (c->cd == (iconv_t)-1 && !c->utf8) {
		free(c);
		return NULL;
	}
	if (!c->utf8) {
		char name[64];

		/* 8-bit text labelled ASCII is mostly UTF-8 today (as
		 * Dovecot reads it), else Windows' code page */
		norm_name(charset, name, sizeof(name));
		c->ascii = strcmp(name, "us-ascii") == 0 ||
			   strcmp(name, "ascii") == 0;
	}
	return c;
}

static int
grow(char **out, size_t *len, size_t *cap, size_t need)
{
	char *p;
	size_t nc;

	if (*out == NULL || *len + need + 1 > *cap) {
		nc = *cap ? *cap : 256;
		while (nc < *len + need + 1)
			nc *= 2;
		p = realloc(*out, nc);
		if (p == NULL)
			return -1;
		*out = p;
		*cap = nc;
	}
	(*out)[*len] = 0; /* a string even when nothing is added */
	return 0;
}

static int
put(char **out, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (grow(out, len, cap, n) < 0)
		return -1;
	memcpy(*out + *len, p, n);
	*len += n;
	(*out)[*len] = 0;
	return 0;
}

static const char fffd[] = "\xef\xbf\xbd";

/* Length of the valid UTF-8 sequence at s (n bytes left): 0 invalid,
 * -1 incomplete at the end. */
static int
utf8_seq(const unsigned char *s, size_t n)
{
	int len, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return -1;
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* UTF-8 where valid; invalid bytes as Latin-1 (latin1), through cd
 * (a single-byte charset) when it is open, else U+FFFD. */
static int
feed_utf8(const unsigned char *s, size_t n, bool latin1, iconv_t cd, bool final,
	  size_t *used, char **out, size_t *len, size_t *cap)
{
	size_t i = 0;
	int l;

	while (i < n) {
		l = utf8_seq(s + i, n - i);
		if (l < 0 && !final)
			break;
		if (l > 0) {
			if (put(out, len, cap, s + i, (size_t)l) < 0)
				return -1;
			i += (size_t)l;
			continue;
		}
		if (cd != (iconv_t)-1) {
			char b[8], *ip = (char *)s + i, *op = b;
			size_t il = 1, ol = sizeof(b);

			if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1)
				op = b; /* undefined in the code page */
			iconv(cd, NULL, NULL, NULL, NULL);
			if (put(out, len, cap, op == b ? fffd : b,
				op == b ? 3 : (size_t)(op - b)) < 0)
				return -1;
		} else if (latin1) {
			char u[2] = { (char)(0xc0 | (s[i] >> 6)),
				      (char)(0x80 | (s[i] & 0x3f)) };

			if (put(out, len, cap, u, 2) < 0)
				return -1;
		} else if (put(out, len, cap, fffd, 3) < 0) {
			return -1;
		}
		i++;
	}
	*used = i;
	return 0;
}

static int
conv_run(struct mb_conv *c, const unsigned char *in, size_t n, bool final,
	 size_t *used, char **out, size_t *len, size_t *cap)
{
	char *ip = (char *)in, *op;
	size_t il = n, ol, r;

	if (c->utf8 || c->ascii)
		return feed_utf8(in, n, false, c->utf8 ? (iconv_t)-1 : c->cd,
				 final, used, out, len, cap);
	while (il > 0) {
		if (grow(out, len, cap, il * 4 + 16) < 0)
			return -1;
		op = *out + *len;
		ol = *cap - *len - 1;
		r = iconv(c->cd, &ip, &il, &op, &ol);
		*len = (size_t)(op - *out);
		(*out)[*len] = 0;
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		if (errno == EINVAL && !final)
			break;
		/* EILSEQ, or an incomplete sequence at the very end */
		if (put(out, len, cap, fffd, 3) < 0)
			return -1;
		ip++;
		il--;
	}
	*used = (size_t)(ip - (char *)in);
	return 0;
}

int
mb_conv_feed(struct mb_conv *c, const void *in, size_t n, char **out,
	     size_t *len, size_t *cap)
{
	const unsigned char *p = in;
	size_t used, k;

	if (grow(out, len, cap, 0) < 0)
		return -1;
	/* finish a sequence split by the previous piece, bytewise */
	while (c->npend > 0 && n > 0) {
		c->pend[c->npend++] = *p++;
		n--;
		if (conv_run(c, c->pend, c->npend, false, &used, out, len,
			     cap) < 0)
			return -1;
		memmove(c->pend, c->pend + used, c->npend - used);
		c->npend -= used;
		if (c->npend >= sizeof(c->pend) - 1) {
			if (conv_run(c, c->pend, c->npend, true, &used, out,
				     len, cap) < 0)
				return -1;
			c->npend = 0;
		}
	}
	if (c->npend > 0)
		return 0; /* all of the input is pending */
	if (conv_run(c, p, n, false, &used, out, len, cap) < 0)
		return -1;
	k = n - used;
	if (k >= sizeof(c->pend))
		k = sizeof(c->pend) - 1;
	memcpy(c->pend, p + n - k, k);
	c->npend = k;
	return 0;
}

int
mb_conv_finish(struct mb_conv *c, char **out, size_t *len, size_t *cap)
{
	size_t used;

	if (grow(out, len, cap, 0) < 0)
		return -1;
	if (c->npend > 0 &&
	    conv_run(c, c->pend, c->npend, true, &used, out, len, cap) < 0)
		return -1;
	c->npend = 0;
	if (!c->utf8) {
		/* flush what a stateful converter holds back (the
		 * combining marks of CP1255 and CP1258), then reset */
		char *op;
		size_t ol;

		if (grow(out, len, cap, 64) < 0)
			return -1;
		op = *out + *len;
		ol = *cap - *len - 1;
		iconv(c->cd, NULL, NULL, &op, &ol);
		*len = (size_t)(op - *out);
		(*out)[*len] = 0;
		iconv(c->cd, NULL, NULL, NULL, NULL);
	}
	return 0;
}

void
mb_conv_free(struct mb_conv **c)
{
	if (c == NULL || *c == NULL)
		return;
	if (!(*c)->utf8)
		iconv_close((*c)->cd);
	free(*c);
	*c = NULL;
}

char *
mb_to_utf8(const char *charset, const void *in, size_t n)
{
	struct mb_conv *c = NULL;
	char *out = NULL;
	size_t len = 0, cap = 0, used;

	if (charset != NULL && charset[0])
		c = mb_conv_new(charset);
	if (c == NULL) {
		if (feed_utf8(in, n, true, (iconv_t)-1, true, &used, &out, &len,
			      &cap) < 0 ||
		    grow(&out, &len, &cap, 0) < 0) {
			free(out);
			return NULL;
		}
		return out;
	}
	if (mb_conv_feed(c, in, n, &out, &len, &cap) < 0 ||
	    mb_conv_finish(c, &out, &len, &cap) < 0) {
		free(out);
		out = NULL;
	}
	mb_conv_free(&c);
	return out;
}

/* ------------------------------------------------------------------ */
/* Case folding                                                         */

/* glibc's lower case of every other script (Armenian, Georgian,
 * Cherokee, Glagolitic, Deseret, fullwidth Latin, ...), through the
 * C.UTF-8 locale whatever the process's locale is. */
static locale_t fold_loc;
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

static void
fold_init(void)
{
	fold_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static unsigned
fold_other(unsigned cp)
{
	wint_t w;

	if (cp < 0x80)
		return cp;
	pthread_once(&fold_once, fold_init);
	if (fold_loc == (locale_t)0)
		return cp;
	w = towlower_l((wint_t)cp, fold_loc);
	/* a surrogate or an invalid value never comes back */
	return w > 0x10ffff || (w >= 0xd800 && w <= 0xdfff) ? cp : (unsigned)w;
}

static unsigned
fold_cp(unsigned cp)
{
	if (cp < 0x80)
		return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
	if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
		return cp + 32;
	if (cp >= 0x100 && cp <= 0x137 && (cp & 1) == 0 && cp != 0x130)
		return cp + 1; /* U+0130, dotted I, is i: below */
	if (cp >= 0x139 && cp <= 0x148 && (cp & 1) == 1)
		return cp + 1;
	if (cp >= 0x14a && cp <= 0x177 && (cp & 1) == 0)
		return cp + 1;
	if (cp == 0x178)
		return 0xff;
	if (cp >= 0x179 && cp <= 0x17e && (cp & 1) == 1)
		return cp + 1;
	if (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2)
		return cp + 32;
	if (cp == 0x3c2) /* final sigma */
		return 0x3c3;
	if (cp >= 0x410 && cp <= 0x42f)
		return cp + 32;
	if (cp >= 0x400 && cp <= 0x40f)
		return cp + 80;
	if (cp >= 0x460 && cp <= 0x4ff && (cp & 1) == 0)
		return cp + 1;
	return fold_other(cp);
}

char *
mb_utf8_fold(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(n * 2 + 1);
	size_t i = 0, o = 0;
	unsigned cp;
	int l;

	if (out == NULL)
		return NULL;
	while (i < n) {
		l = utf8_seq(p + i, n - i);
		if (l <= 0) {
			out[o++] = (char)p[i++];
			continue;
		}
		if (l == 1) {
			out[o++] = (char)fold_cp(p[i++]);
			continue;
		}
		if (l == 2)
			cp = ((p[i] & 0x1fu) << 6) | (p[i + 1] & 0x3fu);
		else if (l == 3)
			cp = ((p[i] & 0x0fu) << 12) |
			     ((p[i + 1] & 0x3fu) << 6) | (p[i + 2] & 0x3fu);
		else
			cp = ((p[i] & 0x07u) << 18) |
			     ((p[i + 1] & 0x3fu) << 12) |
			     ((p[i + 2] & 0x3fu) << 6) | (p[i + 3] & 0x3fu);
		cp = fold_cp(cp);
		/* the folded character, when it is not longer than 3 bytes
		 * (out has room for 2 bytes an input byte) */
		if (cp < 0x80) {
			out[o++] = (char)cp;
			i += (size_t)l;
			continue;
		}
		if (cp < 0x800) {
			out[o++] = (char)(0xc0 | (cp >> 6));
			out[o++] = (char)(0x80 | (cp & 0x3f));
			i += (size_t)l;
			continue;
		}
		if (cp < 0x10000 || l == 4) {
			if (cp < 0x10000) {
				out[o++] = (char)(0xe0 | (cp >> 12));
			} else {
				out[o++] = (char)(0xf0 | (cp >> 18));
				out[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
			}
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
			i += (size_t)l;
			continue;
		}
		memcpy(out + o, p + i, (size_t)l);
		o += (size_t)l;
		i += (size_t)l;
	}
	out[o] = 0;
	return out;
}

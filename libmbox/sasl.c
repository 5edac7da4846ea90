/*
 * sasl.c - base64 and the client side of the SASL mechanisms mailbag
 * speaks to IMAP and POP3 servers: PLAIN (RFC 4616), LOGIN, CRAM-MD5
 * (RFC 2195), XOAUTH2 (Google's), OAUTHBEARER (RFC 7628), ANONYMOUS
 * (RFC 4505); and POP3's APOP digest (RFC 1939).
 */
#include <string.h>
#include <strings.h>

#include "lazy.h"
#include "net.h"

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
mbi_b64_encode(const void *in, size_t n, struct mbi_buf *out)
{
	const unsigned char *s = in;
	char q[4];
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		q[0] = b64[s[i] >> 2];
		q[1] = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		q[2] = b64[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		q[3] = b64[s[i + 2] & 63];
		if (mbi_buf_add(out, q, 4) < 0)
			return -1;
	}
	if (i < n) {
		q[0] = b64[s[i] >> 2];
		if (i + 1 < n) {
			q[1] = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
			q[2] = b64[(s[i + 1] & 15) << 2];
		} else {
			q[1] = b64[(s[i] & 3) << 4];
			q[2] = '=';
		}
		q[3] = '=';
		if (mbi_buf_add(out, q, 4) < 0)
			return -1;
	}
	return 0;
}

int
mbi_b64_decode(const char *in, size_t n, struct mbi_buf *out)
{
	unsigned v = 0, bits = 0, pad = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *p;
		char c;

		if (in[i] == '=') {
			pad++;
			continue;
		}
		if (pad || in[i] == '\0')
			return -1;
		p = strchr(b64, in[i]);
		if (p == NULL)
			return -1;
		v = (v << 6) | (unsigned)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			c = (char)((v >> bits) & 0xff);
			if (mbi_buf_add(out, &c, 1) < 0)
				return -1;
		}
	}
	if (pad > 2 || (n - pad) % 4 == 1 || (pad && n % 4 != 0))
		return -1;
	return 0;
}

static const struct {
	const char *name;
	int mech;
	bool plaintext;
} mechs[] = {
	{ "PLAIN", MBI_SASL_PLAIN, true },
	{ "LOGIN", MBI_SASL_LOGIN, true },
	{ "CRAM-MD5", MBI_SASL_CRAM_MD5, false },
	{ "XOAUTH2", MBI_SASL_XOAUTH2, true },
	{ "OAUTHBEARER", MBI_SASL_OAUTHBEARER, true },
	{ "ANONYMOUS", MBI_SASL_ANONYMOUS, false },
};

const char *
mbi_sasl_name(int mech)
{
	size_t i;

	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (mechs[i].mech == mech)
			return mechs[i].name;
	return NULL;
}

int
mbi_sasl_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strcasecmp(mechs[i].name, name) == 0)
			return mechs[i].mech;
	return MBI_SASL_NONE;
}

bool
mbi_sasl_plaintext(int mech)
{
	size_t i;

	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (mechs[i].mech == mech)
			return mechs[i].plaintext;
	return true;
}

static void
hex(const unsigned char *d, size_t n, char *out)
{
	static const char x[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = x[d[i] >> 4];
		out[2 * i + 1] = x[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* A saslname (RFC 5801 3, used by RFC 7628's gs2-header): "," and "="
 * are sent as "=2C" and "=3D". */
static int
add_saslname(struct mbi_buf *b, const char *name)
{
	int rc = 0;

	for (; *name; name++) {
		if (*name == ',')
			rc |= mbi_buf_addstr(b, "=2C");
		else if (*name == '=')
			rc |= mbi_buf_addstr(b, "=3D");
		else
			rc |= mbi_buf_add(b, name, 1);
	}
	return rc;
}

static bool
json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The "status" member of an OAuth error challenge, a JSON object (RFC
 * 7628 3.2.2; Google's XOAUTH2 has the same): its string or number, in
 * printable ASCII, into out; "" when there is none.  Only for telling
 * the user why the token was refused, so no full JSON parser.
 */
static void
oauth_status(const char *j, size_t n, char *out, size_t size)
{
	static const char key[] = "\"status\"";
	const char *p, *end;
	size_t k = 0;
	char c;

	if (size == 0)
		return;
	out[0] = '\0';
	if (j == NULL)
		return;
	end = j + n;
	p = memmem(j, n, key, sizeof(key) - 1);
	if (p == NULL)
		return;
	for (p += sizeof(key) - 1; p < end && json_space(*p); p++)
		;
	if (p == end || *p++ != ':')
		return;
	while (p < end && json_space(*p))
		p++;
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"' && k + 1 < size; k++) {
			c = *p++;
			if (c == '\\' && p < end)
				c = *p++;
			out[k] = c >= ' ' && c < 0x7f ? c : '?';
		}
	} else {
		while (p < end && k + 1 < size &&
		       ((*p >= '0' && *p <= '9') || *p == '-'))
			out[k++] = *p++;
	}
	out[k] = '\0';
}

int
mbi_sasl_step(struct mbi_sasl *s, const char *chal, size_t clen,
	      struct mbi_buf *resp)
{
	const char *authc =
		s->authuser && s->authuser[0] ? s->authuser : s->user;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hx[2 * EVP_MAX_MD_SIZE + 1];
	int step = s->step++;
	int rc = 0;

	mbi_buf_reset(resp);
	switch (s->mech) {
	case MBI_SASL_PLAIN:
		if (step > 0)
			return -1;
		/* authzid NUL authcid NUL passwd; authzid only when the
		 * login and authentication identities differ */
		if (s->authuser && s->authuser[0])
			rc |= mbi_buf_addstr(resp, s->user);
		rc |= mbi_buf_add(resp, "", 1);
		rc |= mbi_buf_addstr(resp, authc);
		rc |= mbi_buf_add(resp, "", 1);
		rc |= mbi_buf_addstr(resp, s->secret);
		break;
	case MBI_SASL_LOGIN:
		/* no initial response: the server asks "Username:" and
		 * "Password:" (the prompts are not checked, as in most
		 * clients: their wording varies) */
		if (step == 0 || step > 2)
			return -1;
		rc = mbi_buf_addstr(resp, step == 1 ? authc : s->secret);
		break;
	case MBI_SASL_CRAM_MD5:
		if (step != 1 || chal == NULL ||
		    mbi_lazy_load(MBI_LAZY_CRYPTO, NULL) != MB_OK)
			return -1;
		if (HMAC(EVP_md5(), s->secret, (int)strlen(s->secret),
			 (const unsigned char *)chal, clen, md, &mdlen) == NULL)
			return -1;
		hex(md, mdlen, hx);
		rc = mbi_buf_addf(resp, "%s %s", authc, hx);
		break;
	case MBI_SASL_XOAUTH2:
		/* an error arrives as a challenge: answer it empty */
		if (step > 1)
			return -1;
		if (step == 0)
			rc = mbi_buf_addf(resp,
					  "user=%s\001auth=Bearer %s\001\001",
					  authc, s->secret);
		else
			oauth_status(chal, clen, s->status, sizeof(s->status));
		break;
	case MBI_SASL_OAUTHBEARER:
		/* an error arrives as a challenge: answer it with ^A */
		if (step > 1)
			return -1;
		if (step == 0) {
			rc = mbi_buf_addstr(resp, "n,a=");
			rc |= add_saslname(resp, authc);
			rc |= mbi_buf_addf(resp,
					   ",\001host=%s\001port=%d\001"
					   "auth=Bearer %s\001\001",
					   s->host ? s->host : "", s->port,
					   s->secret);
		} else {
			oauth_status(chal, clen, s->status, sizeof(s->status));
			rc = mbi_buf_add(resp, "\001", 1);
		}
		break;
	case MBI_SASL_ANONYMOUS:
		if (step > 0)
			return -1;
		rc = mbi_buf_addstr(resp, s->user && s->user[0] ? s->user :
								  "anonymous");
		break;
	default:
		return -1;
	}
	return rc < 0 ? -1 : 0;
}

void
mbi_apop_digest(const char *stamp, const char *secret, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *c;

	out[0] = '\0';
	if (mbi_lazy_load(MBI_LAZY_CRYPTO, NULL) != MB_OK)
		return;
	c = EVP_MD_CTX_new();
	if (c == NULL)
		return;
	if (EVP_DigestInit_ex(c, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(c, stamp, strlen(stamp)) == 1 &&
	    EVP_DigestUpdate(c, secret, strlen(secret)) == 1 &&
	    EVP_DigestFinal_ex(c, md, &len) == 1 && len == 16)
		hex(md, 16, out);
	EVP_MD_CTX_free(c);
}

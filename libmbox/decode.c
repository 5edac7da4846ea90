/*
 * decode.c - Content-Transfer-Encoding decoders (base64, quoted-
 * printable; the identity for 7bit, 8bit, binary and unknown names),
 * streaming: input may be cut anywhere.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mb-int.h"
#include "mb-msg.h"

int
mb_cte_from_name(const char *name)
{
	if (name == NULL || name[0] == 0 || strcasecmp(name, "7bit") == 0)
		return MB_CTE_7BIT;
	if (strcasecmp(name, "8bit") == 0)
		return MB_CTE_8BIT;
	if (strcasecmp(name, "binary") == 0)
		return MB_CTE_BINARY;
	if (strcasecmp(name, "base64") == 0)
		return MB_CTE_BASE64;
	if (strcasecmp(name, "quoted-printable") == 0)
		return MB_CTE_QP;
	return MB_CTE_OTHER;
}

void
mb_decoder_init(struct mb_decoder *d, int cte)
{
	memset(d, 0, sizeof(*d));
	d->cte = cte;
}

static int
out_grow(char **out, size_t *len, size_t *cap, size_t need)
{
	char *p;
	size_t nc;

	if (*out != NULL && *len + need + 1 <= *cap)
		return 0;
	nc = *cap ? *cap : 256;
	while (nc < *len + need + 1)
		nc *= 2;
	p = realloc(*out, nc);
	if (p == NULL)
		return -1;
	*out = p;
	*cap = nc;
	return 0;
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int
hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Quoted-printable, one byte at a time.  pend holds "=" and what follows
 * it until it is known to be "=XX", a soft line break "=[blanks]\n", or
 * neither (then kept literally).
 */
/* Blanks at the end of a line are padding (RFC 2045 6.7 rule 3): they
 * are held back until the next byte shows whether a line end follows. */
static void
qp_plain(struct mb_decoder *d, unsigned char c, char *o, size_t *ol)
{
	unsigned i;

	if ((c == ' ' || c == '\t' || c == '\r') &&
	    d->nblank < sizeof(d->blanks)) {
		d->blanks[d->nblank++] = (char)c;
		return;
	}
	if (c == '\n') {
		/* the blanks go; a CR held last stays */
		if (d->nblank > 0 && d->blanks[d->nblank - 1] == '\r')
			o[(*ol)++] = '\r';
		d->nblank = 0;
		o[(*ol)++] = (char)c;
		return;
	}
	for (i = 0; i < d->nblank; i++)
		o[(*ol)++] = d->blanks[i];
	d->nblank = 0;
	o[(*ol)++] = (char)c;
}

static void
qp_byte(struct mb_decoder *d, unsigned char c, char *o, size_t *ol)
{
	unsigned i;

	if (d->npend == 0) {
		if (c == '=') {
			for (i = 0; i < d->nblank; i++)
				o[(*ol)++] = d->blanks[i];
			d->nblank = 0;
			d->pend[d->npend++] = c;
		} else {
			qp_plain(d, c, o, ol);
		}
		return;
	}
	/* after "=" */
	if (c == '\n') { /* soft break: "=\n", "=  \r\n" */
		d->npend = 0;
		return;
	}
	if (c == '\r' || ((c == ' ' || c == '\t') && d->pend[1] != 'x')) {
		if (d->npend < sizeof(d->pend)) {
			if (d->npend == 1 || d->pend[d->npend - 1] == ' ' ||
			    d->pend[d->npend - 1] == '\t' ||
			    d->pend[d->npend - 1] == '\r') {
				d->pend[d->npend++] = c;
				return;
			}
		}
	}
	if (d->npend == 1 && hexv(c) >= 0) {
		d->pend[d->npend++] = c;
		return;
	}
	if (d->npend == 2 && hexv(d->pend[1]) >= 0 && hexv(c) >= 0) {
		o[(*ol)++] = (char)(hexv(d->pend[1]) * 16 + hexv(c));
		d->npend = 0;
		return;
	}
	/* not an escape: the bytes as they were */
	o[(*ol)++] = (char)d->pend[0];
	for (i = 1; i < d->npend; i++)
		qp_plain(d, d->pend[i], o, ol);
	d->npend = 0;
	qp_byte(d, c, o, ol);
}

int
mb_decoder_feed(struct mb_decoder *d, const void *in, size_t n, char **out,
		size_t *len, size_t *cap)
{
	const unsigned char *p = in;
	size_t i, ol;
	char *o;
	int v;

	if (out_grow(out, len, cap,
		     n + sizeof(d->pend) + sizeof(d->blanks) + 4) < 0)
		return -1;
	o = *out + *len;
	ol = 0;
	switch (d->cte) {
	case MB_CTE_BASE64:
		for (i = 0; i < n; i++) {
			if (p[i] == '=') {
				d->state = 0; /* padding ends a group */
				continue;
			}
			if ((v = b64val(p[i])) < 0) {
				if (p[i] != '\n' && p[i] != '\r' &&
				    p[i] != ' ' && p[i] != '\t')
					d->bad++;
				continue;
			}
			d->pend[d->npend++] = (unsigned char)v;
			if (d->npend == 4) {
				o[ol++] = (char)(d->pend[0] << 2 |
						 d->pend[1] >> 4);
				o[ol++] = (char)(d->pend[1] << 4 |
						 d->pend[2] >> 2);
				o[ol++] = (char)(d->pend[2] << 6 | d->pend[3]);
				d->npend = 0;
			}
		}
		break;
	case MB_CTE_QP:
		for (i = 0; i < n; i++)
			qp_byte(d, p[i], o, &ol);
		break;
	default:
		memcpy(o, p, n);
		ol = n;
		break;
	}
	*len += ol;
	(*out)[*len] = 0;
	return 0;
}

int
mb_decoder_finish(struct mb_decoder *d, char **out, size_t *len, size_t *cap)
{
	char *o;
	size_t ol = 0;
	unsigned i;

	if (out_grow(out, len, cap, 8 + sizeof(d->blanks)) < 0)
		return -1;
	o = *out + *len;
	if (d->cte == MB_CTE_BASE64) {
		if (d->npend == 1)
			d->bad++;
		if (d->npend >= 2)
			o[ol++] = (char)(d->pend[0] << 2 | d->pend[1] >> 4);
		if (d->npend >= 3)
			o[ol++] = (char)(d->pend[1] << 4 | d->pend[2] >> 2);
	} else if (d->cte == MB_CTE_QP) {
		/* "=" and blanks at the very end: a soft break */
		bool soft = true;

		for (i = 1; i < d->npend; i++)
			if (d->pend[i] != ' ' && d->pend[i] != '\t' &&
			    d->pend[i] != '\r')
				soft = false;
		if (!soft)
			for (i = 0; i < d->npend; i++)
				o[ol++] = (char)d->pend[i];
		/* blanks at the very end are padding too; a CR stays */
		if (d->nblank > 0 && d->blanks[d->nblank - 1] == '\r')
			o[ol++] = '\r';
		d->nblank = 0;
	}
	d->npend = 0;
	*len += ol;
	(*out)[*len] = 0;
	return 0;
}

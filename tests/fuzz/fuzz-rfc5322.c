/*
 * fuzz-rfc5322.c - header parsing (libmbox/rfc5322.c): the field walker
 * on a header block, and on every field's value the unfolder, the RFC
 * 2047 decoder, the address-list parser and the parameter parser with
 * RFC 2231 decoding.
 */
#include "fuzz.h"
#include "mb-msg.h"

static int
field(void *arg, const char *name, size_t nlen, const char *val, size_t vlen,
      size_t off)
{
	const uint8_t *end = arg;
	struct mb_addr *a;
	struct mb_param *p;
	char *s, *v;
	int n, i;

	if (val + vlen > (const char *)end || name + nlen > (const char *)end)
		abort();
	s = mb_hdr_unfold(val, vlen);
	free(s);
	s = mb_hdr_decode(val, vlen, NULL);
	free(s);
	s = mb_hdr_decode(val, vlen, "iso-8859-2");
	free(s);
	n = mb_addr_parse(val, vlen, &a);
	if (n > 0) {
		for (i = 0; i < n; i++)
			if (a[i].name) {
				s = mb_hdr_decode(a[i].name, strlen(a[i].name),
						  NULL);
				free(s);
			}
		mb_addr_free(a, n);
	}
	n = mb_params_parse(val, vlen, &v, &p);
	if (n >= 0) {
		for (i = 0; i < n; i++) {
			s = mb_param_value(p, n, p[i].name);
			free(s);
		}
		mb_params_free(p, n);
		free(v);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mb_hdr_walk((const char *)data, size, field, (void *)(data + size));
	return 0;
}

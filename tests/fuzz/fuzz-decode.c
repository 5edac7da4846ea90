/*
 * fuzz-decode.c - the transfer decoders (libmbox/decode.c: base64,
 * quoted-printable) fed in pieces of every size.  The first byte picks
 * the encoding and the piece size; the result must not depend on how
 * the input is cut.
 */
#include "fuzz.h"
#include "mb-msg.h"

static char *
run(int cte, const uint8_t *p, size_t n, size_t step, size_t *len)
{
	struct mb_decoder d;
	char *out = NULL;
	size_t cap = 0, k;

	*len = 0;
	mb_decoder_init(&d, cte);
	while (n > 0) {
		k = n < step ? n : step;
		if (mb_decoder_feed(&d, p, k, &out, len, &cap) < 0)
			break;
		p += k;
		n -= k;
	}
	mb_decoder_finish(&d, &out, len, &cap);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int ctes[] = {MB_CTE_BASE64, MB_CTE_QP, MB_CTE_7BIT,
				   MB_CTE_OTHER};
	char *a, *b;
	size_t alen, blen;
	int cte;

	if (size < 1)
		return 0;
	cte = ctes[data[0] & 3];
	a = run(cte, data + 1, size - 1, size, &alen);
	b = run(cte, data + 1, size - 1, (data[0] >> 2) + 1, &blen);
	if (alen != blen || (alen && memcmp(a, b, alen) != 0))
		abort();
	free(a);
	free(b);
	return 0;
}

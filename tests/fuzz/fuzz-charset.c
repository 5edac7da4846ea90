/*
 * fuzz-charset.c - charset conversion to UTF-8 (libmbox/charset.c).  The
 * input is "CHARSET\n" and the text; the text is converted in one piece
 * and in small pieces (stateful charsets keep state across feeds).
 */
#include "fuzz.h"
#include "mb-msg.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size < 64 ? size : 64);
	char cs[65], *s, *out = NULL;
	size_t cl, len = 0, cap = 0, i, k;
	struct mb_conv *c;

	if (nl == NULL)
		return 0;
	cl = (size_t)(nl - data);
	memcpy(cs, data, cl);
	cs[cl] = 0;
	data += cl + 1;
	size -= cl + 1;
	s = mb_to_utf8(cs, data, size);
	free(s);
	mb_charset_known(cs);
	c = mb_conv_new(cs);
	if (c == NULL)
		return 0;
	for (i = 0; i < size; i += k) {
		k = size - i < 3 ? size - i : 3;
		if (mb_conv_feed(c, data + i, k, &out, &len, &cap) < 0)
			break;
	}
	mb_conv_finish(c, &out, &len, &cap);
	mb_conv_free(&c);
	free(out);
	return 0;
}

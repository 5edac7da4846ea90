/*
 * fuzz-imapfetch.c - IMAP FETCH output (libmbox/imapfetch.c) for any
 * message: the first input line is "SECTION" or "SECTION<OFF.LEN>"
 * (BINARY when it starts with '~'), the rest is the message.  Writes
 * that section, then BODY[] / HEADER / TEXT / MIME of every part.
 */
#include "fuzz.h"
#include "mb-msg.h"

static int
sink(void *arg, const void *p, size_t n)
{
	int64_t *count = arg;

	if (n && ((const char *)p)[n - 1] == 0x7f)
		*count += 1;
	*count += (int64_t)n;
	return 0;
}

static void
parts(const struct mb_mime *m, struct mb_reader *r, const struct mb_part *p,
      char *spec, size_t len, unsigned depth)
{
	static const char *const sub[] = {"", ".MIME", ".HEADER", ".TEXT"};
	char sec[600];
	int64_t count = 0, size;
	struct mb_err e;
	unsigned i, k = 1;
	size_t n;

	for (; p && depth < 12; p = p->next, k++) {
		n = (size_t)snprintf(spec + len, 300 - len, "%s%u",
				     len ? "." : "", k);
		if (len + n >= 300)
			return;
		for (i = 0; i < 4; i++) {
			snprintf(sec, sizeof(sec), "%s%s", spec, sub[i]);
			mb_imap_section(m, r, sec, false, -1, -1, sink, &count,
					&size, &e);
		}
		mb_imap_section(m, r, spec, true, 1, 7, sink, &count, &size,
				&e);
		mb_mime_find(m, spec);
		if (p->multipart)
			parts(m, r, p->child, spec, len + n, depth + 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size < 200 ? size : 200);
	char sec[201], spec[300] = "", *lt;
	long long off = -1, len = -1;
	struct mb_reader *r;
	struct mb_mime *m;
	struct mb_err e;
	int64_t count = 0, got;
	bool binary = false;
	size_t sl;

	if (nl == NULL)
		return 0;
	sl = (size_t)(nl - data);
	memcpy(sec, data, sl);
	sec[sl] = 0;
	if (sec[0] == '~')
		binary = true;
	lt = strchr(sec, '<');
	if (lt && sscanf(lt, "<%lld.%lld>", &off, &len) == 2)
		*lt = 0;
	else
		off = -1, len = -1;
	data += sl + 1;
	size -= sl + 1;
	r = mb_reader_mem(data, size);
	if (r == NULL)
		return 0;
	if (mb_mime_parse(NULL, r, NULL, NULL, &m, &e) == MB_OK) {
		if (mb_imap_section(m, r, sec + binary, binary,
				    off < 0 ? 0 : off, len, sink, &count, &got,
				    &e) == MB_OK &&
		    got < 0)
			abort();
		mb_imap_section(m, r, "", false, 0, -1, sink, &count, &got,
				&e);
		mb_imap_section(m, r, "HEADER.FIELDS (FROM TO SUBJECT)", false,
				0, -1, sink, &count, &got, &e);
		mb_imap_section(m, r, "HEADER.FIELDS.NOT (RECEIVED)", false,
				0, -1, sink, &count, &got, &e);
		if (m->root->multipart)
			parts(m, r, m->root->child, spec, 0, 0);
		mb_mime_free(&m);
	}
	mb_reader_close(&r);
	return 0;
}

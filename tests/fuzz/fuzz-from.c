/*
 * fuzz-from.c - the "From " line parser (libmbox/from.c) on one line, and
 * the date formatters on what it finds.
 */
#include "fuzz.h"
#include "mb-int.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbi_from f;
	char *line = malloc(size ? size : 1), out[64];

	if (line == NULL)
		return 0;
	/* An exact-size copy, so a read past the end is caught. */
	memcpy(line, data, size);
	if (mbi_from_line(line, size, &f)) {
		if (f.sender_len > size || f.sender < line ||
		    f.sender + f.sender_len > line + size)
			abort();
		if (f.date_ok) {
			mb_date_ctime(f.t, f.tz, out, sizeof(out));
			mb_date_imap(f.t, f.tz, out, sizeof(out));
			mb_date_rfc5322(f.t, f.tz, out, sizeof(out));
		}
	}
	mbi_from_line(line, size, NULL);
	free(line);
	return 0;
}

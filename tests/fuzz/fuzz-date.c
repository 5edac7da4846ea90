/*
 * fuzz-date.c - the date parser (libmbox/date.c, RFC 5322, ctime and
 * IMAP forms) and the formatters on whatever it accepts, round trip
 * included: what mb_date_rfc5322 writes must parse back to the same time.
 */
#include "fuzz.h"
#include "mb-int.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1), out[128];
	int64_t t, t2;
	int tz, tz2;
	size_t n;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	if (mb_date_parse(s, size, &t, &tz)) {
		mb_date_ctime(t, tz, out, sizeof(out));
		mb_date_imap(t, tz, out, sizeof(out));
		n = mb_date_rfc5322(t, tz, out, sizeof(out));
		if (n > 0 && n < sizeof(out) &&
		    (!mb_date_parse(out, n, &t2, &tz2) || t2 != t || tz2 != tz))
			abort();
	}
	if (size >= 3) {
		char mon[4] = {s[0], s[1], s[2], 0};

		mbi_month(mon);
	}
	mbi_zone_name(s, size, &tz);
	free(s);
	return 0;
}

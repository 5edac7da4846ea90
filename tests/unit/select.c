/*
 * select.c - the message selection of cmd/select.c: IMAP sequence sets
 * parsed and matched by number and by UID, "*" as the last, reversed
 * ranges, and every malformed set refused with a reason.
 */
#include <stdint.h>
#include <stdlib.h>

#include "mb.h"

/* cmd/util.c's dying allocators, which select.c uses */
void *xreallocarray(void *p, size_t n, size_t size);
void *xcalloc(size_t n, size_t size);

void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n, size);

	if (q == NULL)
		abort();
	return q;
}

void *
xcalloc(size_t n, size_t size)
{
	void *q = calloc(n, size);

	if (q == NULL)
		abort();
	return q;
}

#include "../../cmd/select.c"

#include "tap.h"

/* The numbers 1..last that text selects (by seq, uid = seq * 10), as a
 * string "1,3,5". */
static const char *
picks(int kind, const char *text, uint32_t last)
{
	static char out[512];
	struct mb_msg m;
	struct sel s;
	char why[256];
	size_t n = 0;
	uint32_t i;

	out[0] = '\0';
	if (!sel_parse(&s, kind, text, why, sizeof(why)))
		return "bad";
	for (i = 1; i <= last; i++) {
		memset(&m, 0, sizeof(m));
		m.seq = i;
		m.uid = i * 10;
		if (sel_match(&s, &m, last, last * 10))
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%u",
					      n ? "," : "", (unsigned)i);
	}
	sel_free(&s);
	return out;
}

int
main(void)
{
	static const char *const bad[] = { "",	    "0",    "1:",  ":1",
					   "a",	    "1,,2", ",1",  "1,",
					   "1:2:3", "-1",   "1 2", "4294967296",
					   "01",    "*:",   "1:0" };
	struct mb_msg m;
	struct sel s;
	char why[256];
	size_t i;

	is_str(picks(SEL_SEQ, "1", 5), "1", "a single number");
	is_str(picks(SEL_SEQ, "2:4", 5), "2,3,4", "a range");
	is_str(picks(SEL_SEQ, "4:2", 5), "2,3,4", "a reversed range");
	is_str(picks(SEL_SEQ, "*", 5), "5", "* is the last message");
	is_str(picks(SEL_SEQ, "3:*", 5), "3,4,5", "n:* to the end");
	is_str(picks(SEL_SEQ, "*:3", 5), "3,4,5", "*:n the same");
	is_str(picks(SEL_SEQ, "9:*", 5), "5", "n:* past the end is the last");
	is_str(picks(SEL_SEQ, "1,3,5,3", 5), "1,3,5", "a list, repeats once");
	is_str(picks(SEL_SEQ, "1:2,4:*", 5), "1,2,4,5", "ranges in a list");
	is_str(picks(SEL_SEQ, "6:9", 5), "", "beyond the end: nothing");
	is_str(picks(SEL_SEQ, "4294967295", 5), "", "the largest number");
	is_str(picks(SEL_UID, "20:40", 5), "2,3,4", "UIDs");
	is_str(picks(SEL_UID, "25:35", 5), "3", "a UID range between UIDs");
	is_str(picks(SEL_UID, "*", 5), "5", "* is the highest UID");
	is_str(picks(SEL_UID, "1:9", 5), "", "no UID in range");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ok(!sel_parse(&s, SEL_SEQ, bad[i], why, sizeof(why)) &&
			   why[0] != '\0',
		   "'%s' is refused (%s)", bad[i], why);
	}
	ok(sel_parse(&s, SEL_UID, "1:*", why, sizeof(why)), "1:* parses");
	memset(&m, 0, sizeof(m));
	m.seq = 1;
	ok(!sel_match(&s, &m, 1, 0), "a message without a UID is no UID match");
	sel_free(&s);
	return done_testing();
}

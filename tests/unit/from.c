/*
 * Unit tests for libmbox/from.c: the UW "From " line grammar
 * (shared/spec/uw-formats.md 2.2) and the date taken from it (2.3).
 */
#include <stdlib.h>
#include <time.h>

#include "mb-int.h"
#include "tap.h"

#define T1992 723275602LL /* Wed Dec  2 05:53:22 1992 UTC */
#define H     3600

struct fcase {
	const char *line;
	size_t len; /* 0: strlen(line) */
	bool valid;
	const char *sender; /* expected sender (when valid) */
	size_t sender_len;  /* 0: strlen(sender) */
	bool date_ok;
	int64_t t;
	int tz;
	bool has_zone;
};

/* A line that must not be taken for a "From " line. */
#define BAD(s) BADN(s, 0)
#define BADN(s, n)                                       \
	{                                                \
		s, n, false, NULL, 0, false, 0, 0, false \
	}

static const struct fcase cases[] = {
	/* Every accepted example of the spec. */
	{ "From user Wed Dec  2 05:53 1992", 0, true, "user", 0, true,
	  T1992 - 22, 0, false },
	{ "From user Wed Dec  2 05:53:22 1992", 0, true, "user", 0, true, T1992,
	  0, false },
	{ "From user Wed Dec  2 05:53 PST 1992", 0, true, "user", 0, true,
	  T1992 - 22 + 8 * H, -480, true },
	{ "From user Wed Dec  2 05:53:22 PST 1992", 0, true, "user", 0, true,
	  T1992 + 8 * H, -480, true },
	{ "From user Wed Dec  2 05:53 -0700 1992", 0, true, "user", 0, true,
	  T1992 - 22 + 7 * H, -420, true },
	{ "From user Wed Dec  2 05:53:22 -0700 1992", 0, true, "user", 0, true,
	  T1992 + 7 * H, -420, true },
	{ "From user Wed Dec  2 05:53 1992 PST", 0, true, "user", 0, true,
	  T1992 - 22 + 8 * H, -480, true },
	{ "From user Wed Dec  2 05:53:22 1992 PST", 0, true, "user", 0, true,
	  T1992 + 8 * H, -480, true },
	{ "From user Wed Dec  2 05:53 1992 -0700", 0, true, "user", 0, true,
	  T1992 - 22 + 7 * H, -420, true },
	{ "From user Wed Dec  2 05:53:22 1992 -0700", 0, true, "user", 0, true,
	  T1992 + 7 * H, -420, true },
	{ "From user Wed Dec  2 05:53:22 1992 remote from xyz", 0, true, "user",
	  0, true, T1992, 0, false },
	{ "From user Wed Dec  2 05:53:22 1992 -0700 remote from xyz", 0, true,
	  "user", 0, true, T1992 + 7 * H, -420, true },
	{ "From user with spaces Wed Dec  2 05:53:22 1992", 0, true,
	  "user with spaces", 0, true, T1992, 0, false },
	{ "From  Wed Dec  2 05:53:22 1992", 0, true, "", 0, true, T1992, 0,
	  false },
	{ "From user Wed Dec 02 05:53:22 1992", 0, true, "user", 0, true, T1992,
	  0, false },
	/* "+07" is taken for a 3-char zone, which is no known zone. */
	{ "From user Wed Dec  2 05:53:22 1992 +07", 0, true, "user", 0, false,
	  0, 0, true },
	/* Letters are not checked by the grammar, only by the date. */
	{ "From user XYZ ABC  2 05:53:22 1992", 0, true, "user", 0, false, 0, 0,
	  false },

	/* Every rejected example of the spec. */
	BAD("From user Wed Dec 2 05:53:22 1992"),
	BAD("From user Wed Dec  2 5:53:22 1992"),
	BAD("From user Wed Dec  2 05:53:22 92"),
	BAD("From user Wed Dec  2 05:53:22 1992 "),
	BAD("From user Dec  2 05:53:22 1992"),
	BAD("From: user Wed Dec  2 05:53:22 1992"),
	BAD("from user Wed Dec  2 05:53:22 1992"),
	BAD("From user Wed Dec  2 05:53:22 EEST 1992"),
	BAD("From user Wed Dec  2 05:53:22 1992 EEST"),
	BAD("From user Wed Dec  2 05:53:22 1992 +0700 (PDT)"),

	/* CRLF: the CR before the end is ignored, only one of them. */
	{ "From user Wed Dec  2 05:53:22 1992\r", 0, true, "user", 0, true,
	  T1992, 0, false },
	{ "From user Wed Dec  2 05:53:22 1992 -0700 remote from xyz\r", 0, true,
	  "user", 0, true, T1992 + 7 * H, -420, true },
	BAD("From user Wed Dec  2 05:53:22 1992\r\r"),
	BAD("From user Wed Dec  2 05:53:22\r1992"),

	/* Very short lines and the 27-byte minimum. */
	BAD(""),
	BAD("F"),
	BAD("From"),
	BAD("From "),
	BAD("\r"),
	BAD("From  Wed Dec  2 05:53 199"), /* 26 */
	{ "From  Wed Dec  2 05:53 1992", 0, true, "", 0, true, T1992 - 22, 0,
	  false },			   /* 27 */
	BAD("From Wed Dec  2 05:53 1992"), /* 26 */
	/* The weekday's space may be the one of "From ". */
	{ "From Wed Dec  2 05:53:22 1992", 0, true, "", 0, true, T1992, 0,
	  false },
	{ "From Wed Dec  2 05:53 -0700 1992", 0, true, "", 0, true,
	  T1992 - 22 + 7 * H, -420, true },
	BAD("From  Dec  2 05:53 -0700 1992"),
	BAD("From                      "),
	BAD("From                            "),
	BAD("From   :   :   :   :   :    "),

	/* " remote from": only looked for from 41 bytes on. */
	{ "From  Wed Dec  2 05:53 1992 remote from x", 0, true, "", 0, true,
	  T1992 - 22, 0, false },			 /* 41 */
	BAD("From  Wed Dec  2 05:53 1992 remote from "), /* 40 */
	BAD("From  Wed Dec  2 05:53 1992 remote from  x"),
	BAD("From  Wed Dec  2 05:53 1992 remote fro xy"),
	/* The last space is the trailing one: no trailer, and no date. */
	BAD("From  Wed Dec  2 05:53 1992 remote from xy "),
	/* ...but " remote from " is a trailer with an empty host. */
	{ "From  Wed Dec  2 05:53:22 1992 remote from ", 0, true, "", 0, true,
	  T1992, 0, false },
	{ "From user remote from Wed Dec  2 05:53:22 1992", 0, true,
	  "user remote from", 0, true, T1992, 0, false },
	BAD("From u Wed Dec  2 05:53:22 1992 remote from a remote from b"),
	BAD("From remote from xyz"),
	{ "From  Wed Dec  2 05:53:22 1992 PST remote from host.example", 0,
	  true, "", 0, true, T1992 + 8 * H, -480, true },

	/* Zones and dates the grammar accepts but the date parser does not. */
	{ "From user Wed Dec  2 05:53:22 XYZ 1992", 0, true, "user", 0, false,
	  0, 0, true },
	{ "From user Wed Dec  2 05:53:22 1992 pst", 0, true, "user", 0, true,
	  T1992 + 8 * H, -480, true },
	{ "From user Wed Dec  2 05:53:22 1992 GMT", 0, true, "user", 0, true,
	  T1992, 0, true },
	{ "From user Wed Dec  2 05:53:22 1992 +0000", 0, true, "user", 0, true,
	  T1992, 0, true },
	{ "From user Wed Dec  2 05:53:22 1992 +9999", 0, true, "user", 0, false,
	  0, 0, true },
	{ "From user Wed Dec  2 05:53:22 +07xx 1992", 0, true, "user", 0, false,
	  0, 0, true },
	{ "From user Wed Feb 30 05:53:22 1992", 0, true, "user", 0, false, 0, 0,
	  false },
	{ "From user Wed Dec 32 05:53:22 1992", 0, true, "user", 0, false, 0, 0,
	  false },
	{ "From user Wed Dec  2 25:53:22 1992", 0, true, "user", 0, false, 0, 0,
	  false },
	{ "From user Wed Dec  2 05:53:99 1992", 0, true, "user", 0, false, 0, 0,
	  false },
	{ "From user Wed Dec  2 ab:cd:ef abcd", 0, true, "user", 0, false, 0, 0,
	  false },
	{ "From user Wed Dec 2  05:53:22 1992", 0, true, "user", 0, false, 0, 0,
	  false },
	{ "From user Wed Dec  2 05:53:22 0092", 0, true, "user", 0, true,
	  -59234868398LL, 0, false },
	/* Weekday letters never matter, even for the date. */
	{ "From user Xyz Dec  2 05:53:22 1992", 0, true, "user", 0, true, T1992,
	  0, false },
	{ "From user@example.org Wed Dec  2 05:53:22 1992", 0, true,
	  "user@example.org", 0, true, T1992, 0, false },
	{ "From MAILER-DAEMON Wed Nov 25 19:35:39 2026 +0000", 0, true,
	  "MAILER-DAEMON", 0, true, 1795635339, 0, true },
	/* Tail shapes that fail one of their checks. */
	BAD("From user Wed Dec  2 05:53:22 1992 -07000"),
	BAD("From user Wed Dec  2 05:53:22 1992 x0700"),
	BAD("From user Wed Dec  2 05:53:22 x0700 1992"),
	BAD("From user Wed Dec  2 05:53:22  0700 1992"),
	BAD("From user Wed Dec  2 05-53-22 1992"),
	BAD("From user Wed Dec  2 05:53-22 1992"),
	BAD("From user Wed Dec  2 05-53:22 1992"),
	BAD("From user Wed Dec  2x05:53:22 1992"),
	BAD("From user Wed Decx 2 05:53:22 1992"),
	BAD("From user WedxDec  2 05:53:22 1992"),
	BAD("From userxWed Dec  2 05:53:22 1992"),
	BAD("From\tuser Wed Dec  2 05:53:22 1992"),
	BAD(" From user Wed Dec  2 05:53:22 1992"),
	BAD(">From user Wed Dec  2 05:53:22 1992"),

	/* Embedded NULs: bytes like any other, len is authoritative. */
	{ "From us\0er Wed Dec  2 05:53:22 1992", 35, true, "us\0er", 5, true,
	  T1992, 0, false },
	{ "From user Wed D\0c  2 05:53:22 1992", 34, true, "user", 0, false, 0,
	  0, false },
	{ "From user Wed Dec  2 05:53:22 1992 P\0T", 38, true, "user", 0, false,
	  0, 0, true },
	BADN("From user Wed Dec  2 05:53:22 1992\0", 35),
	{ "From user Wed Dec  2 05:53:22 1992 trailing", 34, true, "user", 0,
	  true, T1992, 0, false },
};

static void
printable(char *out, size_t size, const char *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 3 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			out[o++] = '\\';
			out[o++] = 'r';
		} else if (c == '\0') {
			out[o++] = '\\';
			out[o++] = '0';
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

static void
test_cases(void)
{
	size_t i, len, slen;
	struct mbi_from f;
	char name[160];
	bool r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fcase *c = &cases[i];

		len = c->len ? c->len : strlen(c->line);
		printable(name, sizeof(name), c->line, len);
		memset(&f, 0x5a, sizeof(f));
		r = mbi_from_line(c->line, len, &f);
		if (!c->valid) {
			ok(!r, "invalid: '%s'", name);
			continue;
		}
		slen = c->sender_len ? c->sender_len : strlen(c->sender);
		if (!ok(r && f.sender == c->line + 5 && f.sender_len == slen &&
				memcmp(f.sender, c->sender, slen) == 0 &&
				f.date_ok == c->date_ok &&
				f.has_zone == c->has_zone &&
				(!c->date_ok || (f.t == c->t && f.tz == c->tz)),
			"valid: '%s'", name))
			diag("r=%d sender_len=%zu date_ok=%d t=%lld tz=%d "
			     "has_zone=%d",
			     r, r ? f.sender_len : 0, r && f.date_ok,
			     r ? (long long)f.t : 0LL, r ? f.tz : 0,
			     r && f.has_zone);
	}
}

static void
test_misc(void)
{
	struct mbi_from f;
	const char *l = "From user Wed Dec  2 05:53:22 1992";

	ok(mbi_from_line(l, strlen(l), NULL), "out may be NULL");
	ok(!mbi_from_line(NULL, 0, &f), "NULL line");
	ok(!mbi_from_line(l, 0, &f), "len 0");
	ok(!mbi_from_line(l, 26, &f), "prefix of a valid line");

	/* No zone: the machine's zone for that instant. */
	setenv("TZ", "XST8", 1);
	tzset();
	ok(mbi_from_line(l, strlen(l), &f) && f.date_ok && !f.has_zone &&
		   f.tz == -480 && f.t == T1992 + 8 * H,
	   "no zone: local zone (XST8)");
	l = "From user Wed Dec  2 05:53:22 1992 +0100";
	ok(mbi_from_line(l, strlen(l), &f) && f.date_ok && f.has_zone &&
		   f.tz == 60 && f.t == T1992 - H,
	   "explicit zone wins over the local one");
	setenv("TZ", "UTC0", 1);
	tzset();
}

int
main(void)
{
	/* The expected dates of zone-less lines assume UTC. */
	setenv("TZ", "UTC0", 1);
	tzset();
	test_cases();
	test_misc();
	return done_testing();
}

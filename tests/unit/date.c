/*
 * Unit tests for libmbox/date.c: calendar arithmetic, the three output
 * forms and the tolerant date parser.
 */
#include <stdlib.h>
#include <time.h>

#include "mb-int.h"
#include "tap.h"

#define T1992 723275602LL /* Wed Dec  2 05:53:22 1992 UTC */

static void
test_civil(void)
{
	static const struct {
		int y;
		unsigned m, d;
		int64_t days;
	} tab[] = {
		{ 1970, 1, 1, 0 },	   { 1969, 12, 31, -1 },
		{ 2000, 3, 1, 11017 },	   { 1, 1, 1, -719162 },
		{ 9999, 12, 31, 2932896 }, { 0, 3, 1, -719468 },
		{ 0, 1, 1, -719528 },	   { -1, 1, 1, -719893 },
		{ 2024, 2, 29, 19782 },	   { 1600, 2, 29, -135081 },
	};
	size_t i;
	int64_t d;
	int y, mon, mday, hh, mm, ss, wday, bad = 0;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		is_int(mbi_days_from_civil(tab[i].y, tab[i].m, tab[i].d),
		       tab[i].days, "days_from_civil %d-%u-%u", tab[i].y,
		       tab[i].m, tab[i].d);

	ok(mbi_civil_from_secs(0, &y, &mon, &mday, &hh, &mm, &ss, &wday) &&
		   y == 1970 && mon == 1 && mday == 1 && hh == 0 && mm == 0 &&
		   ss == 0 && wday == 4,
	   "epoch is Thursday 1970-01-01 00:00:00");
	ok(mbi_civil_from_secs(-1, &y, &mon, &mday, &hh, &mm, &ss, &wday) &&
		   y == 1969 && mon == 12 && mday == 31 && hh == 23 &&
		   mm == 59 && ss == 59 && wday == 3,
	   "-1 is Wednesday 1969-12-31 23:59:59");
	ok(mbi_civil_from_secs(T1992, &y, &mon, &mday, &hh, &mm, &ss, &wday) &&
		   y == 1992 && mon == 12 && mday == 2 && hh == 5 && mm == 53 &&
		   ss == 22 && wday == 3,
	   "1992-12-02 05:53:22 Wednesday");
	ok(mbi_civil_from_secs(-14182940, &y, &mon, &mday, &hh, &mm, &ss,
			       &wday) &&
		   y == 1969 && mon == 7 && mday == 20 && hh == 20 &&
		   mm == 17 && ss == 40 && wday == 0,
	   "1969-07-20 20:17:40 Sunday");
	ok(mbi_civil_from_secs(2147483648LL, &y, &mon, &mday, NULL, NULL, NULL,
			       NULL) &&
		   y == 2038 && mon == 1 && mday == 19,
	   "past 2038, NULL outputs allowed");
	ok(!mbi_civil_from_secs(INT64_MAX, &y, NULL, NULL, NULL, NULL, NULL,
				NULL),
	   "year beyond int: false");
	ok(!mbi_civil_from_secs(INT64_MIN, &y, NULL, NULL, NULL, NULL, NULL,
				NULL),
	   "very negative: false");

	/* Round trip over a wide range of days, both sides of year 0. */
	for (d = -1000000; d <= 1000000; d += 37) {
		if (!mbi_civil_from_secs(d * 86400 + 3661, &y, &mon, &mday, &hh,
					 &mm, &ss, &wday) ||
		    mbi_days_from_civil(y, (unsigned)mon, (unsigned)mday) !=
			    d ||
		    hh != 1 || mm != 1 || ss != 1 ||
		    wday != (int)(((d % 7) + 11) % 7)) {
			bad++;
			break;
		}
	}
	is_int(bad, 0, "days <-> civil round trip -1e6..1e6");
}

static void
test_names(void)
{
	static const struct {
		const char *s;
		int want;
	} months[] = {
		{ "Jan", 1 },	 { "feb", 2 },	{ "MAR", 3 },  { "Apr", 4 },
		{ "May", 5 },	 { "Jun", 6 },	{ "Jul", 7 },  { "Aug", 8 },
		{ "Sep", 9 },	 { "Oct", 10 }, { "Nov", 11 }, { "Dec", 12 },
		{ "Dec 2", 12 }, { "Foo", 0 },	{ "De", 0 },   { "", 0 },
		{ "Ja\0n", 0 },
	};
	static const struct {
		const char *s;
		bool ok;
		int min;
	} zones[] = {
		{ "UT", true, 0 },     { "GMT", true, 0 },
		{ "gmt", true, 0 },    { "EST", true, -300 },
		{ "EDT", true, -240 }, { "CST", true, -360 },
		{ "CDT", true, -300 }, { "MST", true, -420 },
		{ "MDT", true, -360 }, { "PST", true, -480 },
		{ "PDT", true, -420 }, { "A", true, 0 },
		{ "z", true, 0 },      { "Y", true, 0 },
		{ "J", false, 0 },     { "XYZ", false, 0 },
		{ "", false, 0 },      { "+07", false, 0 },
		{ "UTC", true, 0 },    { "GMTX", false, 0 },
	};
	size_t i;
	int tz;

	for (i = 0; i < sizeof(months) / sizeof(months[0]); i++)
		is_int(mbi_month(months[i].s), months[i].want, "month '%s'",
		       months[i].s);
	is_int(mbi_month(NULL), 0, "month NULL");
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		tz = 12345;
		ok(mbi_zone_name(zones[i].s, strlen(zones[i].s), &tz) ==
				   zones[i].ok &&
			   (!zones[i].ok || tz == zones[i].min),
		   "zone '%s' -> %s %d", zones[i].s, zones[i].ok ? "yes" : "no",
		   zones[i].min);
	}
	ok(mbi_zone_name("PSTX", 3, &tz) && tz == -480,
	   "zone uses len, not the NUL");
}

static void
test_format(void)
{
	static const struct {
		int64_t t;
		int tz;
		const char *ctime, *imap, *rfc;
	} tab[] = {
		{ T1992, 0, "Wed Dec  2 05:53:22 1992 +0000",
		  " 2-Dec-1992 05:53:22 +0000",
		  "Wed, 2 Dec 1992 05:53:22 +0000" },
		{ T1992, -420, "Tue Dec  1 22:53:22 1992 -0700",
		  " 1-Dec-1992 22:53:22 -0700",
		  "Tue, 1 Dec 1992 22:53:22 -0700" },
		{ T1992, 330, "Wed Dec  2 11:23:22 1992 +0530",
		  " 2-Dec-1992 11:23:22 +0530",
		  "Wed, 2 Dec 1992 11:23:22 +0530" },
		{ 1795635339, 0, "Wed Nov 25 19:35:39 2026 +0000",
		  "25-Nov-2026 19:35:39 +0000",
		  "Wed, 25 Nov 2026 19:35:39 +0000" },
		{ -1, -30, "Wed Dec 31 23:29:59 1969 -0030",
		  "31-Dec-1969 23:29:59 -0030",
		  "Wed, 31 Dec 1969 23:29:59 -0030" },
		{ 0, 0, "Thu Jan  1 00:00:00 1970 +0000",
		  " 1-Jan-1970 00:00:00 +0000",
		  "Thu, 1 Jan 1970 00:00:00 +0000" },
	};
	char buf[64];
	size_t i, n;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		n = mb_date_ctime(tab[i].t, tab[i].tz, buf, sizeof(buf));
		ok(n == strlen(tab[i].ctime) && strcmp(buf, tab[i].ctime) == 0,
		   "ctime %s", tab[i].ctime);
		n = mb_date_imap(tab[i].t, tab[i].tz, buf, sizeof(buf));
		ok(n == strlen(tab[i].imap) && strcmp(buf, tab[i].imap) == 0,
		   "imap '%s'", tab[i].imap);
		n = mb_date_rfc5322(tab[i].t, tab[i].tz, buf, sizeof(buf));
		ok(n == strlen(tab[i].rfc) && strcmp(buf, tab[i].rfc) == 0,
		   "rfc5322 %s", tab[i].rfc);
	}

	/* Exactly fitting, one short, and unrepresentable inputs. */
	is_int(mb_date_ctime(T1992, 0, buf, 31), 30, "ctime fits in 31 bytes");
	buf[0] = 'x';
	is_int(mb_date_ctime(T1992, 0, buf, 30), 0, "ctime in 30 bytes: 0");
	is_str(buf, "", "truncated output is empty");
	is_int(mb_date_imap(T1992, 0, buf, 0), 0, "size 0: 0");
	is_int(mb_date_imap(T1992, 0, NULL, 10), 0, "NULL buffer: 0");
	is_int(mb_date_rfc5322(INT64_MAX, 0, buf, sizeof(buf)), 0,
	       "INT64_MAX: 0");
	is_int(mb_date_rfc5322(253402300800LL, 0, buf, sizeof(buf)), 0,
	       "year 10000: 0");
	is_int(mb_date_rfc5322(253402300799LL, 0, buf, sizeof(buf)), 31,
	       "year 9999 ok");
	is_int(mb_date_ctime(T1992, 24 * 60, buf, sizeof(buf)), 0,
	       "zone +2400: 0");
	is_int(mb_date_ctime(T1992, -24 * 60, buf, sizeof(buf)), 0,
	       "zone -2400: 0");
	is_int(mb_date_ctime(T1992, -(23 * 60 + 59), buf, sizeof(buf)), 30,
	       "zone -2359 ok");
}

struct pcase {
	const char *s;
	bool ok;
	int64_t t;
	int tz;
};

static void
run_parse(const struct pcase *tab, size_t n)
{
	size_t i;
	int64_t t;
	int tz;
	bool r;

	for (i = 0; i < n; i++) {
		char name[128];
		size_t k;

		/* TAP descriptions must stay on one line. */
		snprintf(name, sizeof(name), "%s", tab[i].s);
		for (k = 0; name[k]; k++)
			if (name[k] == '\r' || name[k] == '\n' ||
			    name[k] == '\t')
				name[k] = ' ';
		t = -7;
		tz = -7;
		r = mb_date_parse(tab[i].s, strlen(tab[i].s), &t, &tz);
		if (tab[i].ok) {
			if (!ok(r && t == tab[i].t && tz == tab[i].tz,
				"parse '%s'", name))
				diag("r=%d t=%lld tz=%d", r, (long long)t, tz);
		} else {
			ok(!r, "reject '%s'", name);
		}
	}
}

static void
test_parse(void)
{
	static const struct pcase tab[] = {
		/* ctime forms */
		{ "Wed Dec  2 05:53:22 1992 +0000", true, T1992, 0 },
		{ "Wed Dec  2 05:53:22 1992 -0700", true, T1992 + 7 * 3600,
		  -420 },
		{ "Wed Dec  2 05:53 1992 -0700", true, T1992 - 22 + 7 * 3600,
		  -420 },
		{ "Wed Dec  2 05:53:22 PST 1992", true, T1992 + 8 * 3600,
		  -480 },
		{ "Wed Dec  2 05:53:22 1992 PST", true, T1992 + 8 * 3600,
		  -480 },
		{ "Wed Dec  2 05:53:22 -0700 1992", true, T1992 + 7 * 3600,
		  -420 },
		{ "Wed Dec 02 05:53:22 1992 GMT", true, T1992, 0 },
		{ "Dec  2 05:53:22 1992 +0000", true, T1992, 0 },
		{ "wed dec 2 5:53:22 1992 +0000", true, T1992, 0 },
		{ "Wednesday December 2 05:53:22 1992 +0000", true, T1992, 0 },
		{ "Wed Dec  2 05:53:22 1992 XYZ", false, 0, 0 },
		{ "Wed Dec  2 05:53:22 XYZ 1992", false, 0, 0 },
		{ "Wed Dec  2 05:53:22 1992 +07", false, 0, 0 },
		{ "Wed Foo  2 05:53:22 1992", false, 0, 0 },
		{ "XYZ ABC  2 05:53:22 1992", false, 0, 0 },
		{ "Wed Dec  2 05:53:22", false, 0, 0 },
		{ "Wed Dec  2 1992", false, 0, 0 },
		{ "Wed Dec  2 05:53:22 1992 +0000 x", false, 0, 0 },
		/* IMAP internal */
		{ " 2-Dec-1992 05:53:22 +0000", true, T1992, 0 },
		{ "02-Dec-1992 05:53:22 +0000", true, T1992, 0 },
		{ "2-Dec-1992 05:53:22 +0000", true, T1992, 0 },
		{ "02-dec-1992 05:53:22 -0700", true, T1992 + 7 * 3600, -420 },
		{ "25-Nov-2026 19:35:39 +0000", true, 1795635339, 0 },
		{ "02-Dec-1992 05:53:22 +2400", false, 0, 0 },
		{ "02-Dec-1992 05:53:22 +0060", false, 0, 0 },
		{ "002-Dec-1992 05:53:22 +0000", false, 0, 0 },
		/* RFC 5322 */
		{ "Wed, 2 Dec 1992 05:53:22 +0000", true, T1992, 0 },
		{ "2 Dec 1992 05:53:22 +0000", true, T1992, 0 },
		{ "Wed, 02 Dec 1992 05:53:22 +0000 (UTC)", true, T1992, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 +0000 (a (nested) comment)", true,
		  T1992, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 +0000 (open", false, 0, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 +0000 (a \\) b)", true, T1992, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 +0000 (a \\)", false, 0, 0 },
		{ "Wed, 2 Dec 92 05:53:22 +0000", true, T1992, 0 },
		{ "Wed, 2 Dec 092 05:53:22 +0000", true, T1992, 0 },
		{ "Mon, 2 Dec 24 05:53:22 +0000", true, 1733118802, 0 },
		{ "Thu, 2 Dec 49 05:53:22 +0000", true, 2522037202LL, 0 },
		{ "Wed, 2 Dec 1992 05:53 +0000", true, T1992 - 22, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 EST", true, T1992 + 5 * 3600,
		  -300 },
		{ "Wed, 2 Dec 1992 05:53:22 EDT", true, T1992 + 4 * 3600,
		  -240 },
		{ "Wed, 2 Dec 1992 05:53:22 CST", true, T1992 + 6 * 3600,
		  -360 },
		{ "Wed, 2 Dec 1992 05:53:22 CDT", true, T1992 + 5 * 3600,
		  -300 },
		{ "Wed, 2 Dec 1992 05:53:22 MST", true, T1992 + 7 * 3600,
		  -420 },
		{ "Wed, 2 Dec 1992 05:53:22 MDT", true, T1992 + 6 * 3600,
		  -360 },
		{ "Wed, 2 Dec 1992 05:53:22 PST", true, T1992 + 8 * 3600,
		  -480 },
		{ "Wed, 2 Dec 1992 05:53:22 PDT", true, T1992 + 7 * 3600,
		  -420 },
		{ "Wed, 2 Dec 1992 05:53:22 UT", true, T1992, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 GMT", true, T1992, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 Z", true, T1992, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 A", true, T1992, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 M", true, T1992, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 XYZ", true, T1992, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 GMT+0100", true, T1992 - 3600, 60 },
		{ "Wed, 2 Dec 1992 05:53:22 -0800 PST", true, T1992 + 8 * 3600,
		  -480 },
		{ "Wed, 2 Dec 1992 05:53:22", true, T1992, 0 },
		{ "  Wed,   2  Dec   1992   05:53:22   +0000  ", true, T1992,
		  0 },
		{ "Wed,\t2 Dec 1992\r\n 05:53:22 +0000", true, T1992, 0 },
		{ "Wed, 2 Dec. 1992 05.53.22 +0000", true, T1992, 0 },
		{ "Wed. 2.Dec.1992 05:53:22 +0000", true, T1992, 0 },
		{ "Wed 2 Dec 1992 05:53:22 +0000", true, T1992, 0 },
		{ "Wed, 2 December 1992 05:53:22 +0000", true, T1992, 0 },
		{ "Wed, 2 Dec 1992 05:53:60 +0000", true, T1992 + 38, 0 },
		{ "Thu, 29 Feb 2024 00:00:00 +0000", true, 1709164800, 0 },
		/* garbage and out-of-range fields */
		{ "", false, 0, 0 },
		{ "   ", false, 0, 0 },
		{ "hello world", false, 0, 0 },
		{ "Wed,", false, 0, 0 },
		{ "Wed, 2 Dec", false, 0, 0 },
		{ "Wed, 2 Dec 1992", false, 0, 0 },
		{ "Wed, 2 Foo 1992 05:53:22 +0000", false, 0, 0 },
		{ "Wed, 0 Dec 1992 05:53:22 +0000", false, 0, 0 },
		{ "Wed, 32 Dec 1992 05:53:22 +0000", false, 0, 0 },
		{ "Fri, 29 Feb 2023 05:53:22 +0000", false, 0, 0 },
		{ "Wed, 31 Nov 1992 05:53:22 +0000", false, 0, 0 },
		{ "Wed, 2 Dec 1992 24:00:00 +0000", false, 0, 0 },
		{ "Wed, 2 Dec 1992 05:60:00 +0000", false, 0, 0 },
		{ "Wed, 2 Dec 1992 05:53:61 +0000", false, 0, 0 },
		{ "Wed, 2 Dec 1992 05:5:22 +0000", false, 0, 0 },
		{ "Wed, 2 Dec 1992 005:53:22 +0000", false, 0, 0 },
		{ "Wed, 2 Dec 1 05:53:22 +0000", false, 0, 0 },
		{ "Wed, 2 Dec 19920 05:53:22 +0000", false, 0, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 +00000", false, 0, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 +000", false, 0, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 Pacific", false, 0, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 +0000 junk-trailer", false, 0, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 +0000 ;", false, 0, 0 },
		{ "Wed, 2 Dec 1992 05:53:22 +0000 +0100", false, 0, 0 },
		{ "Wed, 9999999999 Dec 1992 05:53:22 +0000", false, 0, 0 },
		{ "1992-12-02T05:53:22Z", false, 0, 0 },
		{ "Dec 2 1992 05:53:22", false, 0, 0 },
	};
	int64_t t;
	int tz;

	run_parse(tab, sizeof(tab) / sizeof(tab[0]));

	/* The length is authoritative: a NUL or stray text past it. */
	ok(mb_date_parse("Wed, 2 Dec 1992 05:53:22 +0000XXX", 30, &t, &tz) &&
		   t == T1992,
	   "len bounds the parse");
	ok(!mb_date_parse("Wed, 2 Dec 1992 05:53:22 +0000\0", 31, &t, &tz),
	   "embedded NUL rejected");
	ok(!mb_date_parse("Wed, 2 Dec 1992 05:53:22 +0000", 20, &t, &tz),
	   "cut short by len: rejected");
	ok(!mb_date_parse(NULL, 0, &t, &tz), "NULL rejected");
	ok(mb_date_parse("2 Dec 1992 05:53:22 +0000", 25, NULL, NULL),
	   "NULL outputs allowed");
}

/* A ctime date without a zone is in the machine's local time. */
static void
test_local(void)
{
	static const struct pcase pst[] = {
		{ "Wed Dec  2 05:53:22 1992", true, T1992 + 8 * 3600, -480 },
		{ "Wed Dec  2 05:53 1992", true, T1992 - 22 + 8 * 3600, -480 },
		/* RFC and IMAP dates without a zone stay UTC. */
		{ "Wed, 2 Dec 1992 05:53:22", true, T1992, 0 },
		{ "02-Dec-1992 05:53:22", true, T1992, 0 },
		/* a day the next zone (with DST) sees differently: the
		 * offset kept for the day must go with the zone */
		{ "Wed Jul  1 04:00:00 1992", true, 709992000, -480 },
	};
	static const struct pcase dst[] = {
		/* first: the day pst's last case kept must not be used */
		{ "Wed Jul  1 05:00:00 1992", true, 709992000, -420 },
		{ "Wed Dec  2 05:53:22 1992", true, T1992 + 8 * 3600, -480 },
		/* 1992-07-01 12:00:00 UTC = 1992-07-01 05:00:00 PDT */
		{ "Wed Jul  1 05:00:00 1992", true, 709992000, -420 },
		/* the offset is kept per UTC day: days with a change, in
		 * both directions and out of order, must not use it */
		{ "Sat Apr  4 12:00:00 1992", true, 702417600, -480 },
		{ "Sun Apr  5 01:30:00 1992", true, 702466200, -480 },
		{ "Sun Apr  5 03:30:00 1992", true, 702469800, -420 },
		{ "Sun Apr  5 01:30:00 1992", true, 702466200, -480 },
		{ "Sun Oct 25 01:30:00 1992", true, 720001800, -420 },
		{ "Sun Oct 25 03:30:00 1992", true, 720012600, -480 },
		{ "Sat Apr  4 12:00:00 1992", true, 702417600, -480 },
	};

	setenv("TZ", "XST8", 1);
	tzset();
	run_parse(pst, sizeof(pst) / sizeof(pst[0]));
	setenv("TZ", "XST8XDT,M4.1.0,M10.5.0", 1);
	tzset();
	run_parse(dst, sizeof(dst) / sizeof(dst[0]));
	setenv("TZ", "UTC0", 1);
	tzset();
}

int
main(void)
{
	test_civil();
	test_names();
	test_format();
	test_parse();
	test_local();
	return done_testing();
}

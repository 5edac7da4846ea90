/*
 * date.c - date arithmetic, formatting and parsing.
 *
 * Calendar arithmetic is done here by hand (proleptic Gregorian, days
 * counted from 1970-01-01) rather than with timegm/gmtime, so that it has
 * no libc state, no locale, no time_t range limit and defined behaviour
 * for any input.  The only use of the machine's time zone is for a ctime
 * date that carries no zone (see local_offset).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mb-int.h"

#define SECS_PER_DAY 86400

/* Days between 0000-03-01 and 1970-01-01 in the proleptic calendar. */
#define EPOCH_SHIFT 719468
/* Days in one 400-year cycle (the Gregorian calendar repeats). */
#define DAYS_PER_ERA 146097

static const char month_names[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char month_long[12][10] = {
	"january", "february", "march",	    "april",   "may",	   "june",
	"july",	   "august",   "september", "october", "november", "december",
};
static const char wday_names[7][4] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char wday_long[7][10] = {
	"sunday",   "monday", "tuesday",  "wednesday",
	"thursday", "friday", "saturday",
};

static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ASCII-only case-insensitive compare of n bytes; no locale involved. */
static bool
same_ci(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

/*
 * The March-based year makes the leap day the last day of the year, so
 * the day of the year is a linear function of the month.
 */
int64_t
mbi_days_from_civil(int y, unsigned m, unsigned d)
{
	int64_t yr = (int64_t)y - (m <= 2 ? 1 : 0);
	int64_t era = (yr >= 0 ? yr : yr - 399) / 400;
	int64_t yoe = yr - era * 400;	      /* 0..399 */
	int64_t mp = (int64_t)((m + 9) % 12); /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * DAYS_PER_ERA + doe - EPOCH_SHIFT;
}

bool
mbi_civil_from_secs(int64_t t, int *y, int *mon, int *mday, int *hh, int *mm,
		    int *ss, int *wday)
{
	int64_t days = t / SECS_PER_DAY;
	int64_t rem = t % SECS_PER_DAY;
	int64_t z, era, doe, yoe, yr, doy, mp, d, m;

	/* Floor division: the C operators truncate toward zero. */
	if (rem < 0) {
		rem += SECS_PER_DAY;
		days--;
	}
	z = days + EPOCH_SHIFT;
	era = (z >= 0 ? z : z - (DAYS_PER_ERA - 1)) / DAYS_PER_ERA;
	doe = z - era * DAYS_PER_ERA; /* 0..146096 */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yr = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		yr++;
	if (yr < INT_MIN || yr > INT_MAX)
		return false;
	if (y)
		*y = (int)yr;
	if (mon)
		*mon = (int)m;
	if (mday)
		*mday = (int)d;
	if (hh)
		*hh = (int)(rem / 3600);
	if (mm)
		*mm = (int)(rem / 60 % 60);
	if (ss)
		*ss = (int)(rem % 60);
	if (wday)
		*wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01: Thu */
	return true;
}

/*
 * Only the first three bytes are looked at, since callers point into
 * lines; a NUL fails its comparison before the next byte is read.
 */
int
mbi_month(const char *s)
{
	int i;

	if (s == NULL)
		return 0;
	for (i = 0; i < 12; i++)
		if (lower((unsigned char)s[0]) == lower(month_names[i][0]) &&
		    lower((unsigned char)s[1]) == lower(month_names[i][1]) &&
		    lower((unsigned char)s[2]) == lower(month_names[i][2]))
			return i + 1;
	return 0;
}

/*
 * Named zones.  RFC 5322's obsolete names come first; a few other
 * unambiguous names seen in old "From " lines and Date: headers follow.
 * Ambiguous ones (IST, BST, ...) are left out on purpose: guessing wrong
 * would shift the date by hours, unknown means "no date".
 */
static const struct {
	const char *name;
	int min;
} zones[] = {
	{ "UT", 0 },	  { "GMT", 0 },	   { "UTC", 0 },    { "Z", 0 },
	{ "EST", -300 },  { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
	{ "MST", -420 },  { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
	{ "AST", -240 },  { "ADT", -180 }, { "HST", -600 }, { "AKST", -540 },
	{ "AKDT", -480 }, { "WET", 0 },	   { "WEST", 60 },  { "CET", 60 },
	{ "CEST", 120 },  { "MET", 60 },   { "MEST", 120 }, { "EET", 120 },
	{ "EEST", 180 },  { "JST", 540 },  { "NZST", 720 }, { "NZDT", 780 },
};

bool
mbi_zone_name(const char *s, size_t len, int *tz_min)
{
	size_t i;

	if (s == NULL || len == 0)
		return false;
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strlen(zones[i].name) == len &&
		    same_ci(s, zones[i].name, len)) {
			if (tz_min)
				*tz_min = zones[i].min;
			return true;
		}
	}
	/*
	 * Military letters: RFC 822 got their signs backwards, so RFC 5322
	 * says to treat them all as an unknown offset; we use +0000.
	 */
	if (len == 1 && is_alpha((unsigned char)s[0]) && lower(s[0]) != 'j') {
		if (tz_min)
			*tz_min = 0;
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Formatting                                                           */

/* Largest zone offset, printed or parsed: what the parser accepts back. */
#define TZ_MAX (23 * 60 + 59)

struct civil {
	int y, mon, mday, hh, mm, ss, wday;
};

/* t shifted into zone tz_min, split into fields printable with 4-digit
 * years. */
static bool
split_local(int64_t t, int tz_min, struct civil *c)
{
	int64_t local;

	if (tz_min < -TZ_MAX || tz_min > TZ_MAX)
		return false;
	if (__builtin_add_overflow(t, (int64_t)tz_min * 60, &local))
		return false;
	if (!mbi_civil_from_secs(local, &c->y, &c->mon, &c->mday, &c->hh,
				 &c->mm, &c->ss, &c->wday))
		return false;
	return c->y >= 0 && c->y <= 9999;
}

/* snprintf's result turned into "length written, or 0 if it did not fit". */
static size_t
fit(int n, char *buf, size_t size)
{
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

static size_t
fail(char *buf, size_t size)
{
	if (buf != NULL && size > 0)
		buf[0] = '\0';
	return 0;
}

size_t
mb_date_ctime(int64_t t, int tz_min, char *buf, size_t size)
{
	struct civil c;
	int a = tz_min < 0 ? -tz_min : tz_min;

	if (buf == NULL || !split_local(t, tz_min, &c))
		return fail(buf, size);
	return fit(snprintf(buf, size,
			    "%s %s %2d %02d:%02d:%02d %04d %c%02d%02d",
			    wday_names[c.wday], month_names[c.mon - 1], c.mday,
			    c.hh, c.mm, c.ss, c.y, tz_min < 0 ? '-' : '+',
			    a / 60, a % 60),
		   buf, size);
}

size_t
mb_date_imap(int64_t t, int tz_min, char *buf, size_t size)
{
	struct civil c;
	int a = tz_min < 0 ? -tz_min : tz_min;

	if (buf == NULL || !split_local(t, tz_min, &c))
		return fail(buf, size);
	return fit(snprintf(buf, size, "%2d-%s-%04d %02d:%02d:%02d %c%02d%02d",
			    c.mday, month_names[c.mon - 1], c.y, c.hh, c.mm,
			    c.ss, tz_min < 0 ? '-' : '+', a / 60, a % 60),
		   buf, size);
}

size_t
mb_date_rfc5322(int64_t t, int tz_min, char *buf, size_t size)
{
	struct civil c;
	int a = tz_min < 0 ? -tz_min : tz_min;

	if (buf == NULL || !split_local(t, tz_min, &c))
		return fail(buf, size);
	return fit(snprintf(buf, size,
			    "%s, %d %s %04d %02d:%02d:%02d %c%02d%02d",
			    wday_names[c.wday], c.mday, month_names[c.mon - 1],
			    c.y, c.hh, c.mm, c.ss, tz_min < 0 ? '-' : '+',
			    a / 60, a % 60),
		   buf, size);
}

/* ------------------------------------------------------------------ */
/* Parsing                                                              */

struct dp {
	const char *s;
	size_t n, i;
};

struct dfields {
	int y, mon, day, hh, mm, ss;
	int tz;
	bool has_zone;
};

static int
peek(const struct dp *p)
{
	return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static bool
eat(struct dp *p, int c)
{
	if (peek(p) != c)
		return false;
	p->i++;
	return true;
}

/*
 * Skip white space and RFC 5322 comments (nested, with quoted pairs), as
 * in "+0000 (UTC)".  An unclosed comment makes the date garbage.
 */
static bool
skip_cfws(struct dp *p)
{
	for (;;) {
		int c = peek(p);

		if (c >= 0 && is_space(c)) {
			p->i++;
		} else if (c == '(') {
			size_t open = p->i;
			int depth = 0;

			do {
				c = peek(p);
				if (c < 0) {
					/* Stay before it so that callers
					 * also see trailing garbage. */
					p->i = open;
					return false;
				}
				p->i++;
				if (c == '\\')
					p->i += p->i < p->n;
				else if (c == '(')
					depth++;
				else if (c == ')')
					depth--;
			} while (depth > 0);
		} else {
			return true;
		}
	}
}

static size_t
word(struct dp *p, const char **w)
{
	size_t start = p->i;

	while (p->i < p->n && is_alpha((unsigned char)p->s[p->i]))
		p->i++;
	*w = p->s + start;
	return p->i - start;
}

/* A run of digits; more than 9 cannot be anything we want. */
static bool
number(struct dp *p, int *v, int *nd)
{
	int val = 0, k = 0;

	while (p->i < p->n && is_digit((unsigned char)p->s[p->i])) {
		if (++k > 9)
			return false;
		val = val * 10 + (p->s[p->i] - '0');
		p->i++;
	}
	*v = val;
	*nd = k;
	return k > 0;
}

static int
month_word(const char *w, size_t len)
{
	int i;

	if (len == 3)
		return mbi_month(w);
	for (i = 0; i < 12; i++)
		if (strlen(month_long[i]) == len &&
		    same_ci(w, month_long[i], len))
			return i + 1;
	return 0;
}

static bool
weekday_word(const char *w, size_t len)
{
	int i;

	for (i = 0; i < 7; i++)
		if ((len == 3 && same_ci(w, wday_names[i], 3)) ||
		    (strlen(wday_long[i]) == len &&
		     same_ci(w, wday_long[i], len)))
			return true;
	return false;
}

/* hh:mm[:ss], with '.' tolerated as the separator. */
static bool
parse_time(struct dp *p, struct dfields *f)
{
	int nd;

	if (!number(p, &f->hh, &nd) || nd > 2)
		return false;
	if (!eat(p, ':') && !eat(p, '.'))
		return false;
	if (!number(p, &f->mm, &nd) || nd != 2)
		return false;
	f->ss = 0;
	if (peek(p) == ':' || (peek(p) == '.' && p->i + 1 < p->n &&
			       is_digit((unsigned char)p->s[p->i + 1]))) {
		p->i++;
		if (!number(p, &f->ss, &nd) || nd != 2)
			return false;
	}
	return true;
}

/* RFC 5322 4.3: two-digit years below 50 are 20xx, three digits +1900. */
static bool
parse_year(struct dp *p, int *y)
{
	int nd;

	if (!number(p, y, &nd))
		return false;
	if (nd == 2)
		*y += *y < 50 ? 2000 : 1900;
	else if (nd == 3)
		*y += 1900;
	else if (nd != 4)
		return false;
	return true;
}

/*
 * A zone: ±hhmm, or a name.  Returns 1 with f->tz set, 0 when there is
 * none here, -1 when it is bad.  lenient: an unknown alphabetic zone of
 * up to five letters is +0000 (RFC 5322 says to treat unknown zones as
 * "-0000"); otherwise it is an error.
 */
static int
parse_zone(struct dp *p, struct dfields *f, bool lenient)
{
	const char *w;
	size_t wl;
	int c = peek(p), v, nd, sign;

	if (c == '+' || c == '-') {
		sign = c == '-' ? -1 : 1;
		p->i++;
		if (!number(p, &v, &nd) || nd != 4 || v / 100 > 23 ||
		    v % 100 > 59)
			return -1;
		f->tz = sign * (v / 100 * 60 + v % 100);
		f->has_zone = true;
		return 1;
	}
	if (c < 0 || !is_alpha(c))
		return 0;
	wl = word(p, &w);
	if (mbi_zone_name(w, wl, &f->tz)) {
		f->has_zone = true;
		/* "GMT+0100": a broken but common spelling of +0100. */
		c = peek(p);
		if ((c == '+' || c == '-') && f->tz == 0 && wl > 1)
			return parse_zone(p, f, lenient);
		return 1;
	}
	if (lenient && wl <= 5) {
		f->tz = 0;
		f->has_zone = true;
		return 1;
	}
	return -1;
}

static bool
at_end(struct dp *p)
{
	return skip_cfws(p) && p->i == p->n;
}

/*
 * The machine's offset, in minutes, for the wall-clock time wall (seconds
 * counted as if it were UTC).  The offset depends on the instant, which
 * depends on the offset: try once, and again if the answer moved (DST).
 */
/*
 * The machine's UTC offset in seconds at instant t.  Scanning a mailbox
 * asks this for every message, so the answer is kept per UTC day, for
 * every day whose offset is the same at both ends (no zone changes its
 * offset twice in a day and back), in a table indexed by day number:
 * 16384 slots hold 44 years of days without two sharing a slot.  The
 * table is forgotten when the zone changes (tzset(3) after a new TZ
 * changes tzname, timezone or daylight; glibc's localtime_r itself looks
 * at TZ only then).
 */
#define DAY_SLOTS 16384

static bool
gmtoff_at(time_t t, long *off)
{
	static struct {
		int32_t day1; /* day number + 1; 0: empty */
		int32_t off;
	} days[DAY_SLOTS];
	static long z_off;
	static int z_dst;
	static const char *z_name0, *z_name1;
	struct tm tm;
	time_t lo, hi, day = t / 86400 - (t % 86400 < 0);
	unsigned slot = (unsigned)((uint64_t)day % DAY_SLOTS);
	long off_lo;

	if (tzname[0] != z_name0 || tzname[1] != z_name1 || timezone != z_off ||
	    daylight != z_dst) {
		memset(days, 0, sizeof(days));
		z_name0 = tzname[0];
		z_name1 = tzname[1];
		z_off = timezone;
		z_dst = daylight;
	}
	if (day > -2000000 && day < 2000000 &&
	    days[slot].day1 == (int32_t)day + 1) {
		*off = days[slot].off;
		return true;
	}
	memset(&tm, 0, sizeof(tm));
	if (localtime_r(&t, &tm) == NULL)
		return false;
	*off = tm.tm_gmtoff;
	if (day <= -2000000 || day >= 2000000)
		return true;
	lo = day * 86400;
	hi = lo + 86399;
	if (localtime_r(&lo, &tm) == NULL)
		return true;
	off_lo = tm.tm_gmtoff;
	if (off_lo == *off && localtime_r(&hi, &tm) != NULL &&
	    tm.tm_gmtoff == off_lo && tzname[0] == z_name0 &&
	    tzname[1] == z_name1 && timezone == z_off && daylight == z_dst) {
		days[slot].day1 = (int32_t)day + 1;
		days[slot].off = (int32_t)off_lo;
	}
	return true;
}

static int
local_offset(int64_t wall)
{
	time_t when;
	long off1, off2, off3;

	if ((int64_t)(time_t)wall != wall)
		return 0;
	when = (time_t)wall;
	if (!gmtoff_at(when, &off1))
		return 0;
	when = (time_t)(wall - off1);
	if (!gmtoff_at(when, &off2))
		return (int)(off1 / 60);
	if (off2 == off1)
		return (int)(off1 / 60);
	when = (time_t)(wall - off2);
	if (gmtoff_at(when, &off3) && off3 == off2)
		return (int)(off2 / 60);
	/* A wall time skipped by a DST jump: keep the first guess. */
	return (int)(off1 / 60);
}

static bool
days_ok(int y, int mon, int day)
{
	static const unsigned char mdays[12] = { 31, 29, 31, 30, 31, 30,
						 31, 31, 30, 31, 30, 31 };

	if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1])
		return false;
	if (mon == 2 && day == 29)
		return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return true;
}

static bool
finish(struct dfields *f, bool local_if_none, int64_t *t, int *tz_min)
{
	int64_t wall;

	if (!days_ok(f->y, f->mon, f->day) || f->hh > 23 || f->mm > 59 ||
	    f->ss > 60)
		return false;
	wall = mbi_days_from_civil(f->y, (unsigned)f->mon, (unsigned)f->day) *
		       SECS_PER_DAY +
	       f->hh * 3600 + f->mm * 60 + f->ss;
	if (!f->has_zone)
		f->tz = local_if_none ? local_offset(wall) : 0;
	if (t)
		*t = wall - (int64_t)f->tz * 60;
	if (tz_min)
		*tz_min = f->tz;
	return true;
}

/* After the month of a ctime date: dd hh:mm[:ss] (yyyy [zone] | zone yyyy) */
static bool
parse_ctime(struct dp *p, struct dfields *f, int64_t *t, int *tz_min)
{
	int nd;

	eat(p, '.');
	if (!skip_cfws(p) || !number(p, &f->day, &nd) || nd > 2)
		return false;
	if (!skip_cfws(p) || !parse_time(p, f) || !skip_cfws(p))
		return false;
	if (peek(p) >= 0 && is_digit(peek(p))) {
		if (!parse_year(p, &f->y) || !skip_cfws(p))
			return false;
		if (parse_zone(p, f, false) < 0)
			return false;
	} else {
		if (parse_zone(p, f, false) <= 0 || !skip_cfws(p))
			return false;
		if (!parse_year(p, &f->y))
			return false;
	}
	return at_end(p) && finish(f, true, t, tz_min);
}

/* Separators between day, month and year: "2 Dec 1992", "2-Dec-1992",
 * and broken "2.Dec.1992" or "2 Dec, 1992". */
static bool
skip_dmy_sep(struct dp *p)
{
	size_t start = p->i;
	int c;

	while ((c = peek(p)) >= 0 &&
	       (is_space(c) || c == '-' || c == '.' || c == ','))
		p->i++;
	return p->i > start;
}

/* dd mmm yyyy hh:mm[:ss] [zone]: RFC 5322 and IMAP internal dates. */
static bool
parse_dmy(struct dp *p, struct dfields *f, int64_t *t, int *tz_min)
{
	const char *w;
	size_t wl;
	int nd, r;

	if (!number(p, &f->day, &nd) || nd > 2 || !skip_dmy_sep(p))
		return false;
	wl = word(p, &w);
	if ((f->mon = month_word(w, wl)) == 0)
		return false;
	if (!skip_dmy_sep(p) || !parse_year(p, &f->y))
		return false;
	if (!skip_cfws(p) || !parse_time(p, f) || !skip_cfws(p))
		return false;
	r = parse_zone(p, f, true);
	if (r < 0)
		return false;
	/* "-0800 PST": a bare zone name repeating the numeric one. */
	if (r > 0 && skip_cfws(p) && peek(p) >= 0 && is_alpha(peek(p))) {
		wl = word(p, &w);
		if (wl > 5)
			return false;
	}
	/* A missing zone in an RFC date means UTC, not local time. */
	return at_end(p) && finish(f, false, t, tz_min);
}

bool
mb_date_parse(const char *s, size_t len, int64_t *t, int *tz_min)
{
	struct dp p = { s, len, 0 };
	struct dfields f;
	const char *w;
	size_t wl;

	if (s == NULL)
		return false;
	memset(&f, 0, sizeof(f));
	if (!skip_cfws(&p))
		return false;
	wl = word(&p, &w);
	if (wl > 0 && weekday_word(w, wl)) {
		eat(&p, '.');
		if (!skip_cfws(&p))
			return false;
		if (eat(&p, ',') && !skip_cfws(&p))
			return false;
		wl = word(&p, &w);
	}
	if (wl > 0) {
		/* A month first: the ctime family. */
		if ((f.mon = month_word(w, wl)) == 0)
			return false;
		return parse_ctime(&p, &f, t, tz_min);
	}
	return parse_dmy(&p, &f, t, tz_min);
}

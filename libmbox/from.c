/*
 * from.c - recognising the "From " line that starts a message in a
 * traditional UNIX mailbox.
 *
 * What counts as a message separator must be exactly what UW c-client
 * accepts (shared/spec/uw-formats.md 2.2), or a mailbox would split
 * differently here and there.  The sender may contain spaces, so the
 * line is read backwards from its end, where the date has fixed-width
 * fields.  Only byte positions are checked; whether the fields make a
 * real date is decided afterwards and never makes the line invalid.
 */
#include <string.h>

#include "mb-int.h"

#define FROM_MIN_LEN	   27 /* "From  Www Mmm dd hh:mm yyyy" */
#define REMOTE_MIN_LEN	   41 /* shortest line examined for a trailer */
#define REMOTE_TRAILER	   " remote from"
#define REMOTE_TRAILER_LEN 12

static bool
digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
digits(const char *p, size_t n)
{
	while (n-- > 0)
		if (!digit(*p++))
			return false;
	return true;
}

/*
 * The date of a valid line: the fields are copied into a ctime string
 * "Mmm dd hh:mm:ss yyyy[ zone]" for the date parser, after checking the
 * fixed-width fields here, since the parser itself is more forgiving
 * than this fixed layout.
 */
static void
from_date(const char *mon, const char *day, const char *hm, bool has_ss,
	  const char *year, const char *zone, size_t zlen, struct mbi_from *out)
{
	char buf[64];
	int n;

	out->date_ok = false;
	out->t = 0;
	out->tz = 0;
	out->has_zone = zlen > 0;
	if (!(digit(day[1]) && (day[0] == ' ' || digit(day[0]))) ||
	    !digits(hm, 2) || hm[2] != ':' || !digits(hm + 3, 2) ||
	    (has_ss && !digits(hm + 6, 2)) || !digits(year, 4))
		return;
	/* %.*s stops at a NUL, which would silently shorten a field. */
	if (memchr(zone, '\0', zlen) != NULL || memchr(mon, '\0', 3) != NULL)
		return;
	/* "Mmm dd hh:mm:ss yyyy[ zone]", built by hand: this runs once per
	 * message of every scan, and snprintf was a visible part of it */
	if (zlen > sizeof(buf) - 22)
		return;
	memcpy(buf, mon, 3);
	buf[3] = ' ';
	memcpy(buf + 4, day, 2);
	buf[6] = ' ';
	memcpy(buf + 7, hm, 5);
	buf[12] = ':';
	memcpy(buf + 13, has_ss ? hm + 6 : "00", 2);
	buf[15] = ' ';
	memcpy(buf + 16, year, 4);
	n = 20;
	if (zlen > 0) {
		buf[n++] = ' ';
		memcpy(buf + n, zone, zlen);
		n += (int)zlen;
	}
	buf[n] = '\0';
	out->date_ok = mb_date_parse(buf, (size_t)n, &out->t, &out->tz);
	if (!out->date_ok) {
		out->t = 0;
		out->tz = 0;
	}
}

/* The k-th byte from the end of the line, as the spec counts them. */
#define B(k) (line[len - (k)])

bool
mbi_from_line(const char *line, size_t len, struct mbi_from *out)
{
	const char *zone = NULL, *year;
	size_t zlen = 0, t, hh, i;
	bool has_ss;

	if (line == NULL)
		return false;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return false;

	/* " remote from <host>" after the date (UUCP). */
	if (len >= REMOTE_MIN_LEN) {
		i = len;
		while (i > 0 && line[i - 1] != ' ')
			i--;
		/* line[i - 1] is the last space (there is one at index 4). */
		if (i - 1 >= REMOTE_TRAILER_LEN &&
		    memcmp(line + i - 1 - REMOTE_TRAILER_LEN, REMOTE_TRAILER,
			   REMOTE_TRAILER_LEN) == 0)
			len = i - 1 - REMOTE_TRAILER_LEN;
	}
	if (len < FROM_MIN_LEN)
		return false;

	/* Classify the tail; t ends up just after hh:mm[:ss]. */
	if (B(5) == ' ') {
		year = line + len - 4;
		if (B(8) == ':') {
			t = len - 5;
		} else if (B(9) == ' ') {
			zone = line + len - 8;
			zlen = 3;
			t = len - 9;
		} else if (B(11) == ' ' && (B(10) == '+' || B(10) == '-')) {
			zone = line + len - 10;
			zlen = 5;
			t = len - 11;
		} else {
			return false;
		}
	} else if (B(4) == ' ') {
		if (B(9) != ' ')
			return false;
		zone = line + len - 3;
		zlen = 3;
		year = line + len - 8;
		t = len - 9;
	} else if (B(6) == ' ') {
		if (B(11) != ' ' || (B(5) != '+' && B(5) != '-'))
			return false;
		zone = line + len - 5;
		zlen = 5;
		year = line + len - 10;
		t = len - 11;
	} else {
		return false;
	}

	/* www SP mmm SP dd SP hh:mm[:ss], checked from the time backwards. */
	if (line[t - 3] != ':')
		return false;
	has_ss = line[t - 6] == ':';
	hh = t - (has_ss ? 8 : 5);
	/* t >= 16 (len >= 27), so every index above is in the line; but
	 * the space before the weekday must not go before that of "From ". */
	if (hh < 12 + 4)
		return false;
	if (line[hh - 1] != ' ' || line[hh - 4] != ' ' || line[hh - 8] != ' ' ||
	    line[hh - 12] != ' ')
		return false;

	if (out != NULL) {
		/* The space before the weekday may be the one of "From "
		 * itself; the sender is then empty too. */
		out->sender = line + 5;
		out->sender_len = hh - 12 > 5 ? hh - 12 - 5 : 0;
		from_date(line + hh - 7, line + hh - 3, line + hh, has_ss, year,
			  zone ? zone : "", zlen, out);
	}
	return true;
}

#undef B

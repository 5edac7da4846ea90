/*
 * gen-mbox - seeded generator of realistic UNIX (or MMDF) mailbox files.
 *
 * Standalone on purpose: uses libc only, so it builds before libmbox does.
 *
 *   gen-mbox [--seed N] [--size BYTES[K|M|G] | --count N] [--format unix|mmdf]
 *            [--bad-uid-near-end] [--crlf] [--no-uw-metadata] [-o FILE]
 *
 * The output depends only on the options (its own PRNG, splitmix64; no
 * clock, no environment).  With UW metadata (the default) message 1 carries
 * "X-IMAPbase: <validity> <last uid> <keywords>" and every message a status
 * block as a UW rewrite writes it (Status, X-Status, X-Keywords padded,
 * X-UID ascending from 1).  The last UID is written as ten digits and
 * patched at the end, so --size needs a seekable output (-o FILE or stdout
 * redirected to a regular file); --count can go to a pipe.
 *
 * --bad-uid-near-end: one message in the last 1% of the file repeats the
 * previous message's X-UID; stderr gets
 *     bad-uid offset=<offset of its From line> msgno=<n> uid=<u> xuid-offset=<o>
 * where <o> is the offset of that message's "X-UID:" header line.
 * Stderr always ends with "messages=N bytes=B".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- PRNG */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [0, n) (n > 0; the tiny modulo bias does not matter here) */
static uint64_t rn(uint64_t n)
{
	return rnd() % n;
}

/* true with probability permille/1000 */
static int chance(unsigned permille)
{
	return rn(1000) < permille;
}

#define PICK(a) ((a)[rn(sizeof(a) / sizeof((a)[0]))])

/* ------------------------------------------------------------- output */

#define OBUF_SIZE (8u << 20)

static char *obuf;
static size_t olen;
static uint64_t ooff; /* bytes flushed before obuf[0] */
static FILE *ofp;
static const char *oname = "stdout";
static int crlf;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("gen-mbox: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void oflush(void)
{
	if (olen && fwrite(obuf, 1, olen, ofp) != olen)
		die("write %s: %s", oname, strerror(errno));
	ooff += olen;
	olen = 0;
}

static uint64_t opos(void)
{
	return ooff + olen;
}

static void oput(const char *s, size_t n)
{
	if (olen + n > OBUF_SIZE) {
		oflush();
		if (n > OBUF_SIZE) {
			if (fwrite(s, 1, n, ofp) != n)
				die("write %s: %s", oname, strerror(errno));
			ooff += n;
			return;
		}
	}
	memcpy(obuf + olen, s, n);
	olen += n;
}

static void ostr(const char *s)
{
	oput(s, strlen(s));
}

static void oeol(void)
{
	if (crlf)
		oput("\r\n", 2);
	else
		oput("\n", 1);
}

/* one text line (no newline inside) + line end */
static void oline(const char *s, size_t n)
{
	oput(s, n);
	oeol();
}

static void of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void of(const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("format error");
	if ((size_t)n >= sizeof tmp)
		n = sizeof tmp - 1;
	oput(tmp, (size_t)n);
}

/* formatted header line (fmt without the line end) */
static void ohdr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ohdr(const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("format error");
	if ((size_t)n >= sizeof tmp)
		n = sizeof tmp - 1;
	oline(tmp, (size_t)n);
}

/* --------------------------------------------------------- word pools */

static const char *const words[] = {
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was",
	"with", "be", "by", "on", "not", "he", "this", "are", "or", "his",
	"from", "at", "which", "but", "have", "an", "had", "they", "you",
	"were", "their", "one", "all", "we", "can", "her", "has", "there",
	"been", "if", "more", "when", "will", "would", "who", "so", "no",
	"mailbox", "server", "message", "folder", "patch", "release", "build",
	"meeting", "tomorrow", "budget", "report", "draft", "schedule", "review",
	"kernel", "driver", "checkpoint", "expunge", "buffer", "offset", "index",
	"please", "thanks", "attached", "regards", "question", "problem",
	"update", "version", "config", "network", "backup", "archive", "quota",
	"customer", "invoice", "project", "deadline", "quarterly", "summary",
	"coffee", "weekend", "holiday", "garden", "bicycle", "train", "ticket",
	"approximately", "unfortunately", "immediately", "configuration",
	"documentation", "implementation", "responsibility", "infrastructure",
	"a", "I", "my", "our", "your", "its", "them", "then", "than", "also",
	"just", "only", "very", "some", "any", "each", "other", "such", "into",
	"over", "after", "before", "again", "still", "never", "always", "maybe",
	"yes", "okay", "sure", "great", "good", "bad", "new", "old", "first",
	"last", "next", "same", "different", "small", "large", "fast", "slow",
};

static const char *const utf8_words[] = {
	"café", "naïve", "Grüße", "Straße", "über", "façade", "jalapeño",
	"smörgåsbord", "Ærø", "Łódź", "Zürich", "crème", "brûlée", "€100",
	"Привет", "мир", "日本語", "メール", "中文", "Ελληνικά", "עברית",
	"résumé", "coöperate", "señor", "ß", "…", "“quoted”", "—",
};

static const char *const first_names[] = {
	"Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi",
	"Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert",
	"Sybil", "Trent", "Victor", "Walter", "Yolanda", "Zoë", "José",
	"Björn", "Ana", "Mark", "Linda", "Kenji", "Priya", "Omar", "Fatima",
};

static const char *const last_names[] = {
	"Smith", "Jones", "Crispin", "Miller", "Garcia", "Nguyen", "Kowalski",
	"Müller", "Rossi", "Dubois", "Tanaka", "Okafor", "Silva", "Novak",
	"Larsen", "Petrov", "Hughes", "Bauer", "Lindqvist", "O'Brien",
};

static const char *const domains[] = {
	"example.com", "example.org", "example.net", "gen.example",
	"mail.example.edu", "lists.example.org", "corp.example.com",
	"cs.example.ac.uk", "uw.example.edu", "isp.example.net",
};

static const char *const mtas[] = {
	"Postfix", "Sendmail 8.13.8/8.13.8", "Exim 4.69", "qmail 1.03",
	"Microsoft SMTP Server", "smail-3.2",
};

static const char *const subjects[] = {
	"meeting notes", "patch for the mailbox driver", "lunch?",
	"quarterly report", "your invoice", "re-org announcement",
	"build failure on the nightly", "holiday schedule", "photos",
	"question about IMAP", "server maintenance tonight", "draft proposal",
	"minutes of the last call", "backup failed", "welcome aboard",
	"new release", "the budget", "travel plans", "bug in expunge",
	"checkpoint takes forever", "weekly status", "coffee machine",
};

static const char *const zones[] = {
	"+0000", "-0800", "-0700", "-0500", "-0400", "+0100", "+0200", "+0530",
	"+0900", "+1000", "-0300", "+0800",
};

static const char *const keywords[] = {
	"$Forwarded", "Junk", "NonJunk", "$Label1", "todo",
};
#define NKEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
				     "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
				      "May", "Jun", "Jul", "Aug",
				      "Sep", "Oct", "Nov", "Dec" };

struct line {
	const char *s;
	uint32_t n;
};

#define NTEXT 8192
#define NUTF8 2048
#define NLONG 256
#define NB64 4096

static struct line text_pool[NTEXT]; /* ASCII lines 0..76 chars, some empty */
static struct line utf8_pool[NUTF8]; /* lines mixing UTF-8 words */
static struct line long_pool[NLONG]; /* unwrapped paragraphs 300..2500 chars */
static struct line b64_pool[NB64];   /* 76-char base64 lines */

static char *arena;
static size_t arena_len, arena_cap;

static char *arena_alloc(size_t n)
{
	char *p;

	if (arena_len + n > arena_cap)
		die("internal: arena too small");
	p = arena + arena_len;
	arena_len += n;
	return p;
}

/* builds a line of words up to max bytes; utf8pct = permille of UTF-8 words */
static struct line make_words_line(size_t min, size_t max, unsigned utf8pm)
{
	char tmp[4096];
	size_t n = 0, target = min + rn(max - min + 1);
	struct line l;
	char *p;

	while (n < target) {
		const char *w = chance(utf8pm) ? PICK(utf8_words) : PICK(words);
		size_t wl = strlen(w);

		if (n + wl + 2 > max || n + wl + 2 > sizeof tmp)
			break;
		if (n)
			tmp[n++] = ' ';
		memcpy(tmp + n, w, wl);
		if (n == 0)
			tmp[0] = (char)(tmp[0] >= 'a' && tmp[0] <= 'z' ? tmp[0] - 32 : tmp[0]);
		n += wl;
		if (chance(60) && n + 1 < max)
			tmp[n++] = chance(500) ? '.' : ',';
	}
	if (n == 0) {
		memcpy(tmp, "Ok.", 3);
		n = 3;
	}
	/* never a line a mailbox parser could take for a separator */
	if (n >= 5 && memcmp(tmp, "From ", 5) == 0)
		tmp[0] = 'f';
	p = arena_alloc(n);
	memcpy(p, tmp, n);
	l.s = p;
	l.n = (uint32_t)n;
	return l;
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void build_pools(void)
{
	size_t i, j;

	arena_cap = NTEXT * 80 + NUTF8 * 100 + NLONG * 2600 + NB64 * 76 + 4096;
	arena = malloc(arena_cap);
	if (!arena)
		die("out of memory");
	for (i = 0; i < NTEXT; i++) {
		if (chance(120)) {
			text_pool[i].s = "";
			text_pool[i].n = 0;
		} else if (chance(50)) {
			/* quoted reply text */
			struct line w = make_words_line(10, 70, 0);
			char *p = arena_alloc(w.n + 2);

			p[0] = '>';
			p[1] = ' ';
			memcpy(p + 2, w.s, w.n);
			text_pool[i].s = p;
			text_pool[i].n = w.n + 2;
		} else {
			text_pool[i] = make_words_line(8, 76, 0);
		}
	}
	for (i = 0; i < NUTF8; i++)
		utf8_pool[i] = chance(100) ? text_pool[rn(NTEXT)]
					   : make_words_line(8, 90, 250);
	for (i = 0; i < NLONG; i++)
		long_pool[i] = make_words_line(300, 2500, 20);
	for (i = 0; i < NB64; i++) {
		char *p = arena_alloc(76);

		for (j = 0; j < 76; j += 8) {
			uint64_t r = rnd();
			size_t k;

			for (k = 0; k < 8 && j + k < 76; k++, r >>= 6)
				p[j + k] = b64chars[r & 63];
		}
		b64_pool[i].s = p;
		b64_pool[i].n = 76;
	}
}

/* ---------------------------------------------------------- messages */

struct opts {
	uint64_t seed;
	uint64_t size;  /* 0 = use count */
	uint64_t count; /* 0 = use size */
	int mmdf;
	int bad_uid;
	int uw;
};

struct gen {
	struct opts o;
	uint64_t msgno;      /* number of the message being written */
	uint64_t last_uid;   /* highest X-UID written */
	uint64_t known_last; /* --count: last UID, computed up front */
	uint64_t patch_at;   /* offset of the 10-digit last-uid field, or ~0 */
	int planted;
	uint64_t bad_off, bad_msgno, bad_uid, bad_xuid_off;
	uint32_t validity;
};

struct person {
	char name[64];
	char addr[128];
};

static void lower_ascii(char *d, const char *s, size_t cap)
{
	size_t i = 0;

	for (; *s && i + 1 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 'A' && c <= 'Z')
			d[i++] = (char)(c + 32);
		else if ((c >= 'a' && c <= 'z') || c == '.' || c == '-')
			d[i++] = (char)c;
	}
	d[i] = 0;
}

static void make_person(struct person *p)
{
	const char *fn = PICK(first_names), *ln = PICK(last_names);
	char a[32], b[32];

	lower_ascii(a, fn, sizeof a);
	lower_ascii(b, ln, sizeof b);
	snprintf(p->name, sizeof p->name, "%s %s", fn, ln);
	switch (rn(3)) {
	case 0:
		snprintf(p->addr, sizeof p->addr, "%s@%s", a, PICK(domains));
		break;
	case 1:
		snprintf(p->addr, sizeof p->addr, "%s.%s@%s", a, b, PICK(domains));
		break;
	default: {
		unsigned num = (unsigned)rn(100);

		snprintf(p->addr, sizeof p->addr, "%c%s%u@%s", a[0] ? a[0] : 'x', b,
			 num, PICK(domains));
		break;
	}
	}
}

static int zone_minutes(const char *z)
{
	int v = ((z[1] - '0') * 10 + (z[2] - '0')) * 60 + (z[3] - '0') * 10 + (z[4] - '0');

	return z[0] == '-' ? -v : v;
}

/* RFC 5322 date of instant t shown in zone z */
static void fmt_rfc5322(char *d, size_t cap, time_t t, const char *z)
{
	struct tm tm;
	time_t lt = t + (time_t)zone_minutes(z) * 60;

	gmtime_r(&lt, &tm);
	snprintf(d, cap, "%s, %d %s %04d %02d:%02d:%02d %s", wdays[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, z);
}

static void fmt_ip(char *d, size_t cap)
{
	static const int nets[][3] = { { 192, 0, 2 }, { 198, 51, 100 }, { 203, 0, 113 } };
	const int *n = nets[rn(3)];

	snprintf(d, cap, "%d.%d.%d.%u", n[0], n[1], n[2], (unsigned)(1 + rn(254)));
}

/* body lines from a pool until about `bytes` have been written */
static void body_lines(const struct line *pool, size_t npool, uint64_t bytes)
{
	uint64_t done = 0;

	while (done < bytes) {
		const struct line *l = &pool[rn(npool)];

		oline(l->s, l->n);
		done += l->n + 1u;
	}
}

/* text body, with the occasional From-line, sig, forwarded header */
static void text_body(uint64_t bytes, int utf8)
{
	uint64_t done = 0;

	while (done < bytes) {
		uint64_t chunk = 200 + rn(1200);
		const char *w1, *w2;

		if (chunk > bytes - done)
			chunk = bytes - done;
		if (utf8)
			body_lines(utf8_pool, NUTF8, chunk);
		else
			body_lines(text_pool, NTEXT, chunk);
		done += chunk;
		switch (rn(60)) {
		case 0: /* "From " at line start: quoted as UW's append does */
			w1 = PICK(first_names);
			w2 = PICK(words);
			ohdr(">From %s %s, I think.", w1, w2);
			done += 30;
			break;
		case 1: /* already quoted by someone else */
			w1 = PICK(words);
			w2 = PICK(last_names);
			ohdr(">From the %s of %s:", w1, w2);
			done += 30;
			break;
		case 2: /* forwarded header block: "From:" is not a separator */
			ostr("-----Original Message-----");
			oeol();
			ohdr("From: %s", PICK(first_names));
			w1 = PICK(wdays);
			w2 = PICK(months);
			ohdr("Sent: %s, %s", w1, w2);
			ohdr("Subject: %s", PICK(subjects));
			oeol();
			done += 100;
			break;
		case 3: /* words that merely start with From */
			w1 = PICK(words);
			w2 = PICK(words);
			ohdr("Fromage and %s %s", w1, w2);
			done += 30;
			break;
		default:
			break;
		}
	}
}

/* log-normal-ish text size: mostly 1..8 KB */
static uint64_t text_size(void)
{
	/* sum of uniforms ~ normal, used as a base-2 exponent */
	uint64_t r = rn(1000) + rn(1000) + rn(1000); /* 0..2997, peak 1500 */
	uint64_t s = 400;
	uint64_t i;

	/* 400 B * 2^(r/450): 400 B .. 40 KB, median ~4 KB, most 2..9 KB */
	for (i = 0; i < r / 450; i++)
		s *= 2;
	s += s * (r % 450) / 450;
	return s;
}

static void from_line_date(char *d, size_t cap, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(d, cap, "%s %s %2d %02d:%02d:%02d %04d", wdays[tm.tm_wday],
		 months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 tm.tm_year + 1900);
}

static void status_block(struct gen *g, uint64_t uid)
{
	size_t blk = 0; /* bytes of the block through the X-Keywords text */
	char tmp[256];
	int n;
	const char *st;
	char xs[8];
	size_t i, xl = 0;
	uint64_t r;

	if (g->msgno == 1) {
		size_t k;

		n = snprintf(tmp, sizeof tmp, "X-IMAPbase: %" PRIu32 " ", g->validity);
		oput(tmp, (size_t)n);
		blk += (size_t)n;
		if (g->o.count) {
			/* known in advance: no patching, so a pipe works */
			of("%010" PRIu64, g->known_last);
		} else {
			g->patch_at = opos();
			oput("0000000000", 10);
		}
		blk += 10;
		for (k = 0; k < NKEYWORDS; k++) {
			of(" %s", keywords[k]);
			blk += 1 + strlen(keywords[k]);
		}
		oeol();
		blk++;
	}
	r = rn(1000);
	st = r < 700 ? "RO" : r < 900 ? "O" : r < 930 ? "R" : "";
	n = snprintf(tmp, sizeof tmp, "Status: %s", st);
	oline(tmp, (size_t)n);
	blk += (size_t)n + 1;

	r = rnd();
	if (r & 0x10000) { /* half the messages have flags */
		if ((r & 0xf) == 0)
			xs[xl++] = 'D';
		if (((r >> 4) & 0x7) == 0)
			xs[xl++] = 'F';
		if (((r >> 7) & 0x3) == 0)
			xs[xl++] = 'A';
		if (((r >> 9) & 0x1f) == 0)
			xs[xl++] = 'T';
	}
	xs[xl] = 0;
	n = snprintf(tmp, sizeof tmp, "X-Status: %s", xs);
	oline(tmp, (size_t)n);
	blk += (size_t)n + 1;

	n = snprintf(tmp, sizeof tmp, "X-Keywords:");
	r = rnd();
	if ((r & 3) == 0)
		for (i = 0; i < NKEYWORDS; i++)
			if ((r >> (8 + i)) & 1)
				n += snprintf(tmp + n, sizeof tmp - (size_t)n, " %s", keywords[i]);
	blk += (size_t)n;
	{
		size_t want = g->msgno == 1 ? 80 : 50;

		while (blk < want && (size_t)n + 1 < sizeof tmp) {
			tmp[n++] = ' ';
			blk++;
		}
	}
	oline(tmp, (size_t)n);
	if (uid != g->msgno)
		g->bad_xuid_off = opos(); /* the planted header line */
	n = snprintf(tmp, sizeof tmp, "X-UID: %" PRIu64, uid);
	oline(tmp, (size_t)n);
}

/*
 * Writes message g->msgno.  `limit` = approximate number of bytes the
 * message may use (0 = no limit).
 */
static void write_message(struct gen *g, uint64_t limit, int plant)
{
	struct person from, to, cc;
	char date[64], fdate[64], rdate[64], ip[32], host[64];
	const char *zone = PICK(zones);
	/* 1996-01-01 .. 2025-12-31 */
	time_t t = (time_t)(820454400 + rn(946684800ULL));
	unsigned kind, i, nrecv;
	uint64_t body, uid;
	char boundary[64];
	int utf8 = 0;

	make_person(&from);
	make_person(&to);

	if (g->o.mmdf) {
		oput("\1\1\1\1", 4);
		oeol();
	}
	if (plant) {
		g->bad_off = opos();
		g->bad_msgno = g->msgno;
	}
	from_line_date(fdate, sizeof fdate, t);
	of("From %s %s", from.addr, fdate);
	oeol();

	ohdr("Return-Path: <%s>", from.addr);
	nrecv = 2 + (unsigned)rn(3);
	for (i = 0; i < nrecv; i++) {
		/* top (newest) Received first: hops get earlier going down */
		time_t rt = t - (time_t)(i * (1 + rn(90)));

		fmt_rfc5322(rdate, sizeof rdate, rt, i == 0 ? "+0000" : zone);
		fmt_ip(ip, sizeof ip);
		{
			/* one PRNG call per statement: argument order is unspecified */
			unsigned mx = (unsigned)rn(10);
			const char *dom = PICK(domains);
			const char *by = i == 0 ? "mail.gen.example" : PICK(domains);
			const char *mta = PICK(mtas);
			const char *proto = chance(500) ? "ESMTP" : "SMTP";
			uint64_t id = rnd() & 0xffffffffu;

			snprintf(host, sizeof host, "mx%u.%s", mx, dom);
			ohdr("Received: from %s (%s [%s])", host, host, ip);
			ohdr("\tby %s (%s) with %s id %08" PRIX64, by, mta, proto, id);
		}
		ohdr("\tfor <%s>; %s", to.addr, rdate);
	}
	fmt_rfc5322(date, sizeof date, t - (time_t)rn(300), zone);
	ohdr("Date: %s", date);
	ohdr("From: %s <%s>", from.name, from.addr);
	ohdr("To: %s <%s>", to.name, to.addr);
	if (chance(300)) {
		make_person(&cc);
		ohdr("Cc: %s <%s>, %s", cc.name, cc.addr, to.addr);
	}
	if (chance(100))
		ohdr("Subject: =?UTF-8?Q?Caf=C3=A9_%s?=", PICK(subjects));
	else {
		const char *re = chance(350) ? "Re: " : "";

		ohdr("Subject: %s%s", re, PICK(subjects));
	}
	ohdr("Message-ID: <%" PRIu64 ".%" PRIu64 "@gen.example>", g->o.seed, g->msgno);
	if (g->msgno > 1 && chance(300))
		ohdr("In-Reply-To: <%" PRIu64 ".%" PRIu64 "@gen.example>", g->o.seed,
		     1 + rn(g->msgno - 1));
	ohdr("MIME-Version: 1.0");

	/* body kind: 0 plain, 1 utf-8, 2 long paragraphs, 3 attachment */
	kind = (unsigned)rn(1000);
	kind = kind < 790 ? 0 : kind < 890 ? 1 : kind < 940 ? 2 : 3;
	body = text_size();
	if (kind == 3)
		body = 50 * 1024 + rn(450 * 1024);
	else if (kind == 2)
		body = 4000 + rn(40000);
	if (limit) {
		uint64_t cap = limit > 2500 ? limit - 2000 : 500;

		if (body > cap) {
			body = cap;
			if (kind == 3 && body < 4096)
				kind = 0;
		}
	}
	snprintf(boundary, sizeof boundary, "=_gen_%" PRIu64 "_%" PRIu64 "_=", g->o.seed,
		 g->msgno);
	switch (kind) {
	case 1:
		utf8 = 1;
		ohdr("Content-Type: text/plain; charset=UTF-8");
		ohdr("Content-Transfer-Encoding: 8bit");
		break;
	case 3:
		ohdr("Content-Type: multipart/mixed; boundary=\"%s\"", boundary);
		break;
	default:
		ohdr("Content-Type: text/plain; charset=us-ascii%s",
		     kind == 2 ? "; format=flowed" : "");
		break;
	}
	if (chance(50))
		ohdr("X-Mailer: gen-mbox 1.0");

	uid = g->msgno;
	if (plant)
		uid = g->msgno - 1;
	if (g->o.uw)
		status_block(g, uid);
	if (uid > g->last_uid)
		g->last_uid = uid;
	if (plant)
		g->bad_uid = uid;
	oeol(); /* end of header */

	switch (kind) {
	case 2:
		{
			uint64_t done = 0;

			while (done < body) {
				const struct line *l = &long_pool[rn(NLONG)];

				oline(l->s, l->n);
				oeol();
				done += l->n + 2u;
			}
		}
		break;
	case 3:
		{
			uint64_t nl = body / 77;

			ostr("This is a multi-part message in MIME format.");
			oeol();
			oeol();
			of("--%s", boundary);
			oeol();
			ohdr("Content-Type: text/plain; charset=us-ascii");
			oeol();
			text_body(200 + rn(1500), 0);
			oeol();
			of("--%s", boundary);
			oeol();
			ohdr("Content-Type: application/octet-stream; name=\"file-%" PRIu64 ".bin\"",
			     g->msgno);
			ohdr("Content-Transfer-Encoding: base64");
			ohdr("Content-Disposition: attachment; filename=\"file-%" PRIu64 ".bin\"",
			     g->msgno);
			oeol();
			body_lines(b64_pool, NB64, nl * 77);
			{
				const struct line *l = &b64_pool[rn(NB64)];
				size_t tail = 4 * (1 + rn(18));

				oput(l->s, tail - 4);
				oline(chance(500) ? "AA==" : "AAA=", 4);
			}
			of("--%s--", boundary);
			oeol();
		}
		break;
	default:
		text_body(body, utf8);
		if (chance(400)) {
			oline("-- ", 3);
			ohdr("%s", from.name);
		}
		break;
	}
	oeol(); /* separator blank line (unix) / extra LF before ^A^A^A^A (mmdf) */
	if (g->o.mmdf) {
		oput("\1\1\1\1", 4);
		oeol();
	}
}

/* ------------------------------------------------------------ options */

static uint64_t parse_num(const char *opt, const char *s, int suffix)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		die("%s: bad number '%s'", opt, s);
	if (suffix && *end) {
		uint64_t mul;

		switch (*end) {
		case 'k': case 'K': mul = 1024ULL; break;
		case 'm': case 'M': mul = 1024ULL * 1024; break;
		case 'g': case 'G': mul = 1024ULL * 1024 * 1024; break;
		default: die("%s: bad size suffix in '%s'", opt, s);
		}
		end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (v > UINT64_MAX / mul)
			die("%s: too large '%s'", opt, s);
		v *= mul;
	}
	if (*end)
		die("%s: bad number '%s'", opt, s);
	return v;
}

static void usage(FILE *f)
{
	fputs("usage: gen-mbox [--seed N] [--size BYTES[K|M|G] | --count N]\n"
	      "                [--format unix|mmdf] [--bad-uid-near-end] [--crlf]\n"
	      "                [--no-uw-metadata] [-o FILE]\n"
	      "--size needs a seekable output (-o FILE or stdout redirected to a file).\n",
	      f);
}

int main(int argc, char **argv)
{
	struct gen g;
	const char *out = NULL;
	int i;
	struct stat st;

	memset(&g, 0, sizeof g);
	g.o.seed = 1;
	g.o.uw = 1;
	g.patch_at = UINT64_MAX;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = NULL;
		const char *eq = NULL;
		char name[64];

		if (strncmp(a, "--", 2) == 0 && (eq = strchr(a, '=')) != NULL &&
		    (size_t)(eq - a) < sizeof name) {
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = 0;
			v = eq + 1;
			a = name;
		}
#define NEEDARG()                                                    \
	do {                                                         \
		if (!v) {                                            \
			if (i + 1 >= argc)                           \
				die("%s needs an argument", a);      \
			v = argv[++i];                               \
		}                                                    \
	} while (0)
		if (!strcmp(a, "--seed")) {
			NEEDARG();
			g.o.seed = parse_num(a, v, 0);
		} else if (!strcmp(a, "--size")) {
			NEEDARG();
			g.o.size = parse_num(a, v, 1);
			g.o.count = 0;
		} else if (!strcmp(a, "--count")) {
			NEEDARG();
			g.o.count = parse_num(a, v, 0);
			g.o.size = 0;
		} else if (!strcmp(a, "--format")) {
			NEEDARG();
			if (!strcmp(v, "unix"))
				g.o.mmdf = 0;
			else if (!strcmp(v, "mmdf"))
				g.o.mmdf = 1;
			else
				die("--format: unix or mmdf, not '%s'", v);
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			NEEDARG();
			out = v;
		} else if (!strcmp(a, "--bad-uid-near-end") && !v) {
			g.o.bad_uid = 1;
		} else if (!strcmp(a, "--crlf") && !v) {
			crlf = 1;
		} else if (!strcmp(a, "--no-uw-metadata") && !v) {
			g.o.uw = 0;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			die("unknown argument '%s'", argv[i]);
		}
#undef NEEDARG
	}
	if (!g.o.size && !g.o.count)
		g.o.count = 100;
	if (g.o.bad_uid && !g.o.uw)
		die("--bad-uid-near-end needs UW metadata (drop --no-uw-metadata)");
	if (g.o.bad_uid && g.o.count && g.o.count < 2)
		die("--bad-uid-near-end needs at least 2 messages");

	if (out) {
		ofp = fopen(out, "w");
		if (!ofp)
			die("%s: %s", out, strerror(errno));
		oname = out;
	} else {
		ofp = stdout;
		if (g.o.size && g.o.uw &&
		    (fstat(STDOUT_FILENO, &st) < 0 || !S_ISREG(st.st_mode) ||
		     lseek(STDOUT_FILENO, 0, SEEK_CUR) < 0))
			die("--size with UW metadata needs a seekable output: use -o FILE");
	}
	obuf = malloc(OBUF_SIZE);
	if (!obuf)
		die("out of memory");

	rng_state = g.o.seed;
	g.validity = (uint32_t)(1000000000u + rnd() % 700000000u);
	build_pools();

	if (g.o.count) {
		uint64_t plant_at = g.o.count - g.o.count / 200; /* last 0.5% */

		if (plant_at < 2)
			plant_at = 2;
		g.known_last = g.o.bad_uid && plant_at == g.o.count ? g.o.count - 1
								     : g.o.count;
		for (g.msgno = 1; g.msgno <= g.o.count; g.msgno++)
			write_message(&g, 0, g.o.bad_uid && g.msgno == plant_at);
	} else {
		uint64_t s = g.o.size;
		uint64_t zone99 = s - s / 100;     /* last 1% starts here */
		uint64_t aim = s - s / 200;        /* try to start a message here */

		for (g.msgno = 1;; g.msgno++) {
			uint64_t pos = opos();
			uint64_t limit = 0;
			int plant = 0;

			if (pos >= s)
				break;
			if (g.o.bad_uid && !g.planted && g.msgno >= 2 && pos >= zone99)
				plant = 1;
			if (g.o.bad_uid && !g.planted && pos < aim)
				limit = aim - pos; /* land a message start in the last 1% */
			else
				limit = s - pos;
			write_message(&g, limit, plant);
			if (plant)
				g.planted = 1;
		}
		if (g.o.bad_uid && !g.planted) {
			/* tiny --size: no message started in the last 1%; add one */
			write_message(&g, 1000, 1);
			g.planted = 1;
			g.msgno++;
		}
		g.msgno--; /* number of messages written */
	}
	if (g.o.count)
		g.msgno = g.o.count;
	oflush();
	if (fflush(ofp) != 0)
		die("write %s: %s", oname, strerror(errno));

	if (g.patch_at != UINT64_MAX) {
		char d[16];

		snprintf(d, sizeof d, "%010" PRIu64, g.last_uid);
		if (pwrite(fileno(ofp), d, 10, (off_t)g.patch_at) != 10)
			die("cannot patch X-IMAPbase in %s: %s", oname, strerror(errno));
	}
	if (out && fclose(ofp) != 0)
		die("close %s: %s", out, strerror(errno));
	if (g.o.bad_uid)
		fprintf(stderr,
			"bad-uid offset=%" PRIu64 " msgno=%" PRIu64 " uid=%" PRIu64
			" xuid-offset=%" PRIu64 "\n",
			g.bad_off, g.bad_msgno, g.bad_uid, g.bad_xuid_off);
	fprintf(stderr, "messages=%" PRIu64 " bytes=%" PRIu64 "\n", g.msgno, ooff);
	free(obuf);
	free(arena);
	return 0;
}

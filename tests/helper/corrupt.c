/*
 * corrupt - damage a mailbox file in a chosen, reproducible way, for
 * tests of check, repair and recovery.
 *
 *	corrupt --seed N --kind KIND [--count K] IN OUT
 *
 * The format (unix, mmdf or mbx) is taken from IN's first bytes.  KIND:
 *	truncate	cut the file at a random offset
 *	garbage		insert 1..64 random bytes at a random line start
 *	overwrite-header overwrite one header line of a random message with
 *			random printable text of the same length
 *	size-field	mbx: change a digit of the size in a message's
 *			internal header line; unix/mmdf: of a Content-Length
 *	flip		flip one random bit in each of K random bytes
 *	delete-separator unix: drop the blank line before a "From " line or
 *			turn "From " into "from "; mmdf: drop a ^A^A^A^A line
 *	dup-uid		copy one message's UID (X-UID, or mbx's internal
 *			header) onto the next message
 *	random		one of the above, chosen by the seed
 * --count K repeats the damage K times (flip: K bytes); default 1.
 * Each change is described on stderr with its byte offset.  The result
 * depends on IN, the seed, the kind and K only.
 * Exit: 0 done, 2 this kind does not apply to IN (OUT not written),
 * 64 usage, 1 I/O error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum fmt { F_UNIX, F_MMDF, F_MBX };

struct buf {
	unsigned char *p;
	size_t len;
};

static uint64_t rng_state;

/* splitmix64: small, good enough, and the same everywhere */
static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [0, n); n > 0 */
static size_t
rnd_below(size_t n)
{
	return (size_t)(rnd() % (uint64_t)n);
}

static void
say(const char *fmt, ...)
{
	va_list ap;

	fputs("corrupt: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
splice(struct buf *b, size_t off, size_t del, const void *ins, size_t n)
{
	unsigned char *p;

	if (n > del) {
		p = realloc(b->p, b->len - del + n + 1);
		if (p == NULL) {
			perror("corrupt");
			exit(1);
		}
		b->p = p;
	}
	memmove(b->p + off + n, b->p + off + del, b->len - off - del);
	memcpy(b->p + off, ins, n);
	b->len = b->len - del + n;
}

static enum fmt
detect(const struct buf *b)
{
	if (b->len >= 7 && memcmp(b->p, "*mbx*\r\n", 7) == 0)
		return F_MBX;
	if (b->len >= 5 && memcmp(b->p, "\1\1\1\1\n", 5) == 0)
		return F_MMDF;
	return F_UNIX;
}

static const char *const fmt_names[] = {"unix", "mmdf", "mbx"};

/* End of the line starting at off (the offset just past its LF). */
static size_t
line_end(const struct buf *b, size_t off)
{
	const unsigned char *nl = memchr(b->p + off, '\n', b->len - off);

	return nl != NULL ? (size_t)(nl - b->p) + 1 : b->len;
}

static int
starts(const struct buf *b, size_t off, const char *s)
{
	size_t n = strlen(s);

	return off + n <= b->len && memcmp(b->p + off, s, n) == 0;
}

/*
 * Message starts: for unix, the "From " line; for mmdf, the line after
 * an opening ^A^A^A^A; for mbx, the internal header line.  Returns the
 * number found (at most max).
 */
static size_t
messages(const struct buf *b, enum fmt f, size_t *at, size_t max)
{
	size_t off = 0, n = 0, e;
	int open = 0;

	if (f == F_MBX) {
		off = 2048;
		while (off < b->len && n < max) {
			const unsigned char *c, *s;
			unsigned long long size;

			e = line_end(b, off);
			c = memchr(b->p + off, ',', e - off);
			s = memchr(b->p + off, ';', e - off);
			if (c == NULL || s == NULL || s < c)
				break;
			size = strtoull((const char *)c + 1, NULL, 10);
			at[n++] = off;
			if (size > b->len - e)
				break;
			off = e + (size_t)size;
		}
		return n;
	}
	while (off < b->len && n < max) {
		e = line_end(b, off);
		if (f == F_MMDF) {
			if (e - off == 5 && starts(b, off, "\1\1\1\1\n")) {
				open = !open;
				if (open && e < b->len)
					at[n++] = e;
			}
		} else if (starts(b, off, "From ") &&
			   (off == 0 || (off >= 2 && b->p[off - 2] == '\n'))) {
			at[n++] = off;
		}
		off = e;
	}
	return n;
}

/* The header lines of the message at m: [*hs, *he), first line skipped
 * when it is the From line or the mbx internal header. */
static void
header_span(const struct buf *b, enum fmt f, size_t m, size_t *hs, size_t *he)
{
	size_t off = m, e;

	if (f == F_MBX || starts(b, off, "From "))
		off = line_end(b, off);
	*hs = off;
	while (off < b->len) {
		e = line_end(b, off);
		if (b->p[off] == '\n' || (b->p[off] == '\r' && e - off == 2) ||
		    (f == F_MMDF && starts(b, off, "\1\1\1\1\n")))
			break;
		off = e;
	}
	*he = off;
}

#define MAXMSG 100000
static size_t msg_at[MAXMSG];

static int
k_truncate(struct buf *b, enum fmt f)
{
	size_t cut;

	if (b->len < 2)
		return 2;
	cut = 1 + rnd_below(b->len - 1);
	say("truncate: cut at offset %zu (was %zu bytes)", cut, b->len);
	b->len = cut;
	return 0;
}

static int
k_garbage(struct buf *b, enum fmt f)
{
	unsigned char junk[64];
	size_t off = 0, lines = 0, pick, i, n;

	for (off = 0; off < b->len; off = line_end(b, off))
		lines++;
	if (lines == 0)
		return 2;
	pick = rnd_below(lines);
	for (off = 0, i = 0; i < pick; i++)
		off = line_end(b, off);
	n = 1 + rnd_below(sizeof(junk));
	for (i = 0; i < n; i++)
		junk[i] = (unsigned char)rnd();
	say("garbage: inserted %zu random bytes at offset %zu (line %zu)", n,
	    off, pick + 1);
	splice(b, off, 0, junk, n);
	return 0;
}

static int
k_overwrite_header(struct buf *b, enum fmt f)
{
	size_t n = messages(b, f, msg_at, MAXMSG), m, hs, he, off, lines = 0,
	       pick, i, e;

	if (n == 0)
		return 2;
	m = rnd_below(n);
	header_span(b, f, msg_at[m], &hs, &he);
	for (off = hs; off < he; off = line_end(b, off))
		lines++;
	if (lines == 0)
		return 2;
	pick = rnd_below(lines);
	for (off = hs, i = 0; i < pick; i++)
		off = line_end(b, off);
	e = line_end(b, off);
	if (e > off && b->p[e - 1] == '\n')
		e--;
	if (e > off && b->p[e - 1] == '\r')
		e--;
	for (i = off; i < e; i++)
		b->p[i] = (unsigned char)(' ' + rnd_below(95));
	say("overwrite-header: message %zu, header line at offset %zu, %zu "
	    "bytes overwritten",
	    m + 1, off, e - off);
	return 0;
}

/* Change one digit in [s, e) (all digits) to a different one. */
static size_t
change_digit(struct buf *b, size_t s, size_t e)
{
	size_t at = s + rnd_below(e - s);
	int d = b->p[at] - '0', nd = (d + 1 + (int)rnd_below(9)) % 10;

	b->p[at] = (unsigned char)('0' + nd);
	return at;
}

static int
k_size_field(struct buf *b, enum fmt f)
{
	size_t cand[4096], n = 0, off, e, s, d, at;

	if (f == F_MBX) {
		size_t nm = messages(b, f, msg_at, MAXMSG);

		for (off = 0; off < nm && n < 4096; off++)
			cand[n++] = msg_at[off];
	} else {
		for (off = 0; off < b->len && n < 4096; off = line_end(b, off))
			if (b->len - off > 15 &&
			    strncasecmp((const char *)b->p + off,
					"Content-Length:", 15) == 0)
				cand[n++] = off;
	}
	if (n == 0)
		return 2;
	off = cand[rnd_below(n)];
	e = line_end(b, off);
	if (f == F_MBX) {
		s = (size_t)((unsigned char *)memchr(b->p + off, ',', e - off) -
			     b->p) + 1;
	} else {
		s = off + 15;
		while (s < e && (b->p[s] == ' ' || b->p[s] == '\t'))
			s++;
	}
	for (d = s; d < e && b->p[d] >= '0' && b->p[d] <= '9'; d++)
		;
	if (d == s)
		return 2;
	at = change_digit(b, s, d);
	say("size-field: %s at offset %zu: digit at offset %zu changed to %c",
	    f == F_MBX ? "internal header" : "Content-Length", off, at,
	    b->p[at]);
	return 0;
}

static int
k_flip(struct buf *b, enum fmt f, unsigned count)
{
	unsigned i;

	if (b->len == 0)
		return 2;
	for (i = 0; i < count; i++) {
		size_t at = rnd_below(b->len);
		unsigned bit = (unsigned)rnd_below(8);

		b->p[at] ^= (unsigned char)(1u << bit);
		say("flip: bit %u of the byte at offset %zu", bit, at);
	}
	return 0;
}

static int
k_delete_separator(struct buf *b, enum fmt f)
{
	size_t n, m, off, e, cand[4096], nc = 0;

	if (f == F_MBX)
		return 2;
	if (f == F_MMDF) {
		for (off = 0; off < b->len && nc < 4096; off = e) {
			e = line_end(b, off);
			if (e - off == 5 && starts(b, off, "\1\1\1\1\n"))
				cand[nc++] = off;
		}
		if (nc == 0)
			return 2;
		off = cand[rnd_below(nc)];
		say("delete-separator: removed the ^A^A^A^A line at offset %zu",
		    off);
		splice(b, off, 5, "", 0);
		return 0;
	}
	n = messages(b, f, msg_at, MAXMSG);
	if (n == 0)
		return 2;
	m = rnd_below(n);
	off = msg_at[m];
	if (off > 0 && rnd_below(2) == 0) {
		say("delete-separator: removed the blank line at offset %zu "
		    "before the From line of message %zu",
		    off - 1, m + 1);
		splice(b, off - 1, 1, "", 0);
	} else {
		b->p[off] = 'f';
		say("delete-separator: \"From \" of message %zu at offset %zu "
		    "made \"from \"",
		    m + 1, off);
	}
	return 0;
}

static int
k_dup_uid(struct buf *b, enum fmt f)
{
	size_t n = messages(b, f, msg_at, MAXMSG), i, start, hs, he, off, e;
	size_t uid_at[2], uid_end[2];
	int k;

	if (n < 2)
		return 2;
	start = rnd_below(n - 1);
	for (i = 0; i + 1 < n; i++) {
		size_t m = (start + i) % (n - 1);

		if (f == F_MBX) {
			size_t e0 = line_end(b, msg_at[m]),
			       e1 = line_end(b, msg_at[m + 1]);
			size_t l0 = e0 - msg_at[m], l1 = e1 - msg_at[m + 1];

			if (l0 < 24 || l1 < 24)
				continue;
			memcpy(b->p + e1 - 10, b->p + e0 - 10, 8);
			say("dup-uid: UID of message %zu copied onto message "
			    "%zu (offset %zu)",
			    m + 1, m + 2, e1 - 10);
			return 0;
		}
		for (k = 0; k < 2; k++) {
			uid_at[k] = 0;
			header_span(b, f, msg_at[m + (size_t)k], &hs, &he);
			for (off = hs; off < he; off = e) {
				e = line_end(b, off);
				if (starts(b, off, "X-UID:")) {
					uid_at[k] = off + 6;
					uid_end[k] = e;
					break;
				}
			}
		}
		if (uid_at[0] == 0 || uid_at[1] == 0)
			continue;
		{
			size_t len = uid_end[0] - uid_at[0];
			char *v = malloc(len);

			if (v == NULL)
				return 1;
			memcpy(v, b->p + uid_at[0], len);
			say("dup-uid: X-UID of message %zu copied onto message "
			    "%zu (offset %zu, %zu bytes replaced by %zu)",
			    m + 1, m + 2, uid_at[1], uid_end[1] - uid_at[1],
			    len);
			splice(b, uid_at[1], uid_end[1] - uid_at[1], v, len);
			free(v);
		}
		return 0;
	}
	return 2;
}

static const char *const kinds[] = {
	"truncate", "garbage", "overwrite-header", "size-field",
	"flip",	    "delete-separator", "dup-uid",
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static int
apply(struct buf *b, enum fmt f, size_t kind, unsigned count)
{
	switch (kind) {
	case 0: return k_truncate(b, f);
	case 1: return k_garbage(b, f);
	case 2: return k_overwrite_header(b, f);
	case 3: return k_size_field(b, f);
	case 4: return k_flip(b, f, count);
	case 5: return k_delete_separator(b, f);
	default: return k_dup_uid(b, f);
	}
}

static int
usage(void)
{
	size_t i;

	fprintf(stderr, "usage: corrupt --seed N --kind KIND [--count K] IN "
			"OUT\nkinds:");
	for (i = 0; i < NKINDS; i++)
		fprintf(stderr, " %s", kinds[i]);
	fprintf(stderr, " random\n");
	return 64;
}

static int
read_file(const char *path, struct buf *b)
{
	FILE *fp = fopen(path, "rb");
	size_t cap = 1 << 16, n;

	if (fp == NULL)
		return -1;
	b->len = 0;
	b->p = malloc(cap + 1);
	while (b->p != NULL) {
		n = fread(b->p + b->len, 1, cap - b->len, fp);
		b->len += n;
		if (b->len < cap)
			break;
		cap *= 2;
		b->p = realloc(b->p, cap + 1);
	}
	if (b->p == NULL || ferror(fp)) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *kind = NULL, *in, *out;
	unsigned long long seed = 0;
	unsigned count = 1, i;
	int have_seed = 0, rc = 0, random_kind;
	size_t k = NKINDS, tries;
	struct buf b;
	enum fmt f;
	FILE *fp;

	for (i = 1; (int)i < argc && argv[i][0] == '-' && argv[i][1] == '-';
	     i++) {
		if ((int)i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "--seed") == 0) {
			seed = strtoull(argv[++i], NULL, 10);
			have_seed = 1;
		} else if (strcmp(argv[i], "--kind") == 0) {
			kind = argv[++i];
		} else if (strcmp(argv[i], "--count") == 0) {
			count = (unsigned)strtoul(argv[++i], NULL, 10);
		} else {
			return usage();
		}
	}
	if (!have_seed || kind == NULL || count == 0 || (int)i + 2 != argc)
		return usage();
	in = argv[i];
	out = argv[i + 1];
	random_kind = strcmp(kind, "random") == 0;
	if (!random_kind) {
		for (k = 0; k < NKINDS; k++)
			if (strcmp(kind, kinds[k]) == 0)
				break;
		if (k == NKINDS)
			return usage();
	}
	if (read_file(in, &b) != 0) {
		fprintf(stderr, "corrupt: %s: %s\n", in, strerror(errno));
		return 1;
	}
	rng_state = seed;
	f = detect(&b);
	if (random_kind) {
		/* the seeded choice, or the next kind that applies */
		size_t first = rnd_below(NKINDS);
		struct buf save = {malloc(b.len + 1), b.len};

		if (save.p == NULL)
			return 1;
		memcpy(save.p, b.p, b.len);
		for (tries = 0; tries < NKINDS; tries++) {
			k = (first + tries) % NKINDS;
			say("random: kind %s (%s)", kinds[k], fmt_names[f]);
			rc = apply(&b, f, k, count);
			if (rc != 2)
				break;
			b.len = save.len;
			memcpy(b.p, save.p, save.len);
		}
		free(save.p);
		for (i = 1; rc == 0 && k != 4 && i < count; i++)
			rc = apply(&b, f, k, 1);
	} else {
		rc = apply(&b, f, k, count);
		for (i = 1; rc == 0 && k != 4 && i < count; i++)
			rc = apply(&b, f, k, 1);
	}
	if (rc == 2) {
		fprintf(stderr, "corrupt: %s: kind %s does not apply to this "
				"%s mailbox\n",
			in, kinds[k], fmt_names[f]);
		return 2;
	}
	if (rc != 0)
		return 1;
	fp = fopen(out, "wb");
	if (fp == NULL || fwrite(b.p, 1, b.len, fp) != b.len ||
	    fclose(fp) != 0) {
		fprintf(stderr, "corrupt: %s: %s\n", out, strerror(errno));
		return 1;
	}
	free(b.p);
	return 0;
}

/*
 * scout.c - the scout (libmbox/scout.c) against a byte-by-byte reference.
 *
 * A caller walks a buffer the way the UNIX scanner does: it asks for the
 * next line start from just after the last one, and searches the ranges
 * the scout says it has not searched with mbi_find_line_start.  What the
 * walk finds must hold every LF the caller wants (LF, any '>', "From ")
 * and nothing that is not at least a LF followed by 'F' or '>'.  The
 * walks cover small and odd chunk sizes, the scout ahead of the caller,
 * the caller ahead of the scout, chunks given up for too many hits, a
 * raised SIGBUS flag, and stops at every moment.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mb-int.h"
#include "tap.h"

static unsigned seed = 7;

static unsigned
rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

/* Text of n bytes: lines, many of them starting with From, >From,
 * F-words, runs of '>', and long runs of '>' before From. */
static char *
make_text(size_t n)
{
	static const char *const pieces[] = {
		"From a@b Sat Jan  3 01:05:34 1996\n",
		">From quoted\n",
		">>>From deeper\n",
		"Fred was here\n",
		"> just quoted\n",
		"plain text line\n",
		"From\n",
		"\n",
		"F\n",
		">\n",
		"Fro",
		">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>"
		">>>>>>>>>>From far\n",
	};
	char *p = malloc(n);
	size_t i = 0;

	while (i < n) {
		const char *s =
			pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t k = strlen(s);

		if (k > n - i)
			k = n - i;
		memcpy(p + i, s, k);
		i += k;
	}
	return p;
}

/* Is there a LF at q the caller wants: LF, '>'*, "From "? */
static int
wanted(const char *p, size_t n, size_t q)
{
	size_t c = q + 1;

	if (p[q] != '\n' || c >= n || (p[c] != 'F' && p[c] != '>'))
		return 0;
	while (c < n && p[c] == '>')
		c++;
	return n - c >= 5 && memcmp(p + c, "From ", 5) == 0;
}

/* Is q a LF followed by 'F' or '>'? */
static int
candidate(const char *p, size_t n, size_t q)
{
	return q + 1 < n && p[q] == '\n' &&
	       (p[q + 1] == 'F' || p[q + 1] == '>');
}

/*
 * Walk [0, n) as the scanner does, asking sc (NULL: search alone), with
 * the caller's reads going forward `step` bytes at a time (as the reader
 * fills).  found[q] = 1 for every line start the walk stops at.  Returns
 * 0, or -1 when an answer was out of range or not even a candidate.
 */
static int
walk(struct mbi_scout *sc, const char *p, size_t n, size_t step,
     unsigned char *found)
{
	size_t pos = 0, len = 0;

	memset(found, 0, n);
	while (pos + 1 < n) {
		int64_t a = (int64_t)pos, b, lo, hi;
		const char *q = NULL;

		if (len < n && len < pos + 2)
			len = pos + step < n ? pos + step : n;
		b = (int64_t)len - 1;
		while (a < b && q == NULL) {
			int k = sc ? mbi_scout_find(sc, a, b, &lo, &hi) : -1;

			if (sc == NULL) {
				lo = a;
				hi = b;
			}
			if (k == 1) {
				if (lo < a || lo >= b) {
					diag("hit %lld out of [%lld, %lld)",
					     (long long)lo, (long long)a,
					     (long long)b);
					return -1;
				}
				q = p + lo;
			} else if (k == 0) {
				break;
			} else {
				if (lo < a || hi > b || hi <= lo) {
					diag("unknown [%lld, %lld) for [%lld, "
					     "%lld)",
					     (long long)lo, (long long)hi,
					     (long long)a, (long long)b);
					return -1;
				}
				q = mbi_find_line_start(p + lo, p + hi + 1, 'F',
							'>');
				a = hi;
			}
		}
		if (q == NULL) {
			/* nothing in what is read: read more */
			if (len >= n)
				break;
			pos = len - 1;
			len = len + step < n ? len + step : n;
			continue;
		}
		if (!candidate(p, n, (size_t)(q - p))) {
			diag("answer %td is no line start", q - p);
			return -1;
		}
		found[q - p] = 1;
		pos = (size_t)(q - p) + 1;
	}
	return 0;
}

/* found holds every wanted LF and only candidates. */
static int
agrees(const char *p, size_t n, const unsigned char *found, size_t *nwant)
{
	size_t q, w = 0;

	for (q = 0; q < n; q++) {
		if (wanted(p, n, q)) {
			w++;
			if (!found[q]) {
				diag("missed the line start at %zu", q);
				return 0;
			}
		}
		if (found[q] && !candidate(p, n, q)) {
			diag("%zu is not a line start", q);
			return 0;
		}
	}
	*nwant = w;
	return 1;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait (up to 5 s) for the scout to have done `chunks` chunks. */
static void
wait_scout(struct mbi_scout *sc, uint64_t chunks)
{
	struct mbi_scout_stats st;
	int i;

	for (i = 0; i < 5000; i++) {
		mbi_scout_stats(sc, &st);
		if (st.by_scout + st.given_up >= chunks)
			return;
		sleep_ms(1);
	}
}

static void
test_walks(void)
{
	static const size_t chunks[] = { 64, 100, 4096, 65536 + 13, 0 };
	static const size_t steps[] = { 97, 4096, 1 << 20 };
	size_t n = 3u << 20, i, j, w = 0;
	char *p = make_text(n);
	unsigned char *found = malloc(n), *ref = malloc(n);
	volatile sig_atomic_t bus = 0;
	int good = walk(NULL, p, n, 4096, ref) == 0 && agrees(p, n, ref, &w);

	ok(good, "the walk without a scout finds every From line (%zu)", w);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			struct mbi_scout *sc =
				mbi_scout_start(p, 0, n, &bus, 0, (int64_t)n,
						'F', '>', "From ", chunks[i]);
			struct mbi_scout_stats st;
			int rc;

			if (sc == NULL) {
				skip(1, "no second CPU: no scout");
				continue;
			}
			if (j == 1)
				wait_scout(sc, 16); /* let it get ahead */
			rc = walk(sc, p, n, steps[j], found);
			mbi_scout_stats(sc, &st);
			mbi_scout_stop(sc);
			rc = rc == 0 && agrees(p, n, found, &w);
			ok(rc,
			   "chunk %zu, reads of %zu: every From line, only "
			   "candidates (scout %llu chunks, caller %llu, "
			   "waits %llu)",
			   chunks[i], steps[j], (unsigned long long)st.by_scout,
			   (unsigned long long)st.by_caller,
			   (unsigned long long)st.waits);
		}
	free(p);
	free(found);
	free(ref);
}

/* A text, its walk's marks and a scout over it. */
struct fx {
	char *p;
	size_t n;
	unsigned char *found;
	volatile sig_atomic_t bus;
	struct mbi_scout *sc;
	struct mbi_scout_stats st;
};

/* Start a scout over p (taken over) with the word "From " or none; false
 * (and `tests` tests skipped) when there is no scout to be had. */
static bool
fx_start(struct fx *f, char *p, size_t n, const char *word, size_t chunk,
	 int bus, int tests)
{
	memset(f, 0, sizeof(*f));
	f->p = p;
	f->n = n;
	f->found = malloc(n);
	f->bus = bus;
	f->sc = mbi_scout_start(p, 0, n, &f->bus, 0, (int64_t)n, 'F', '>', word,
				chunk);
	if (f->sc == NULL) {
		skip(tests, "no second CPU: no scout");
		free(f->p);
		free(f->found);
	}
	return f->sc != NULL;
}

/* Walk the first `len` bytes; stop the scout; keep its counts. */
static int
fx_walk(struct fx *f, size_t len, size_t step)
{
	int rc = walk(f->sc, f->p, len, step, f->found);

	mbi_scout_stats(f->sc, &f->st);
	mbi_scout_stop(f->sc);
	f->sc = NULL;
	return rc;
}

static void
fx_end(struct fx *f)
{
	free(f->p);
	free(f->found);
}

/* The scout ahead: what it found is used (every chunk done by it). */
static void
test_ahead(void)
{
	struct fx f;
	size_t w = 0;
	int rc;

	if (!fx_start(&f, make_text(1u << 20), 1u << 20, "From ", 4096, 0, 2))
		return;
	wait_scout(f.sc, 10);
	rc = fx_walk(&f, 40960, 1 << 20);
	ok(f.st.by_scout >= 10 && f.st.by_caller == 0,
	   "a scout that is ahead answers (%llu chunks by it)",
	   (unsigned long long)f.st.by_scout);
	rc = rc == 0 && agrees(f.p, 40960, f.found, &w);
	ok(rc, "and its answers are right (%zu From lines)", w);
	fx_end(&f);
}

/* The caller far ahead of the scout: it searches those chunks itself. */
static void
test_behind(void)
{
	struct fx f;
	size_t n = 4u << 20, w = 0;
	int64_t off = 3 << 20, lo = -1, hi = -1;
	int k;

	if (!fx_start(&f, make_text(n), n, "From ", 4096, 0, 3))
		return;
	/* chunk 768: out of the scout's reach (it stays 16 ahead of the
	 * caller, who was at chunk 0) */
	k = mbi_scout_find(f.sc, off, off + 4096, &lo, &hi);
	ok(k == -1 && lo == off && hi == off + 4096,
	   "a chunk the scout has not reached is the caller's to search");
	mbi_scout_stats(f.sc, &f.st);
	ok(f.st.by_caller >= 1, "and counts as the caller's (%llu)",
	   (unsigned long long)f.st.by_caller);
	/* and the walk goes on from the start, with the scout behind */
	k = fx_walk(&f, n, 65536) == 0 && agrees(f.p, n, f.found, &w);
	ok(k, "a walk after it is still right (%zu From lines)", w);
	fx_end(&f);
}

/* A chunk of nothing but LF 'F' pairs has too many hits to keep. */
static void
test_giveup(void)
{
	struct fx f;
	size_t n = 1u << 20, i, w;
	char *p = malloc(n);
	int rc;

	for (i = 0; i < n; i += 2)
		memcpy(p + i, "\nF", 2);
	/* each 64 KiB chunk of "\nF": 32768 lines, over the limit */
	if (!fx_start(&f, p, n, NULL, 65536, 0, 2))
		return;
	wait_scout(f.sc, 4);
	rc = fx_walk(&f, n, 1 << 16);
	ok(f.st.given_up >= 1, "a chunk with too many hits is given up (%llu)",
	   (unsigned long long)f.st.given_up);
	for (w = 0, i = 0; i + 1 < n; i++)
		w += f.found[i];
	ok(rc == 0 && w == n / 2, "and the caller finds its lines itself (%zu)",
	   w);
	fx_end(&f);
}

/* The mapping's SIGBUS flag raised: the scout stops answering. */
static void
test_bus(void)
{
	struct fx f;
	size_t n = 1u << 20, w = 0;
	int rc;

	if (!fx_start(&f, make_text(n), n, "From ", 4096, 1, 2))
		return;
	wait_scout(f.sc, 1);
	rc = fx_walk(&f, n, 65536);
	ok(f.st.by_scout == 0,
	   "with the flag raised the scout answers nothing (%llu given up)",
	   (unsigned long long)f.st.given_up);
	rc = rc == 0 && agrees(f.p, n, f.found, &w);
	ok(rc, "and the caller searches alone (%zu From lines)", w);
	fx_end(&f);
}

/*
 * A real mapping of a file cut short before the scout reads it: the
 * scout's own SIGBUS goes to mapped.c's handler in the scout's thread,
 * raises the mapping's flag, and the process lives.
 */
static void
test_sigbus(void)
{
	size_t n = 4u << 20;
	char *p = make_text(n), *map;
	volatile sig_atomic_t bus = 0;
	struct mbi_scout *sc;
	struct mbi_scout_stats st;
	FILE *f = fopen("cut.txt", "w");
	int fd;

	fwrite(p, 1, n, f);
	fclose(f);
	free(p);
	fd = open("cut.txt", O_RDONLY);
	map = mbi_map_ro(fd, 0, n, &bus);
	if (map == NULL || truncate("cut.txt", 8192) < 0) {
		ok(0, "map and cut a file");
		return;
	}
	sc = mbi_scout_start(map, 0, n, &bus, 0, (int64_t)n, 'F', '>', "From ",
			     4096);
	if (sc == NULL) {
		skip(2, "no second CPU: no scout");
	} else {
		wait_scout(sc, 3);
		mbi_scout_stats(sc, &st);
		mbi_scout_stop(sc);
		ok(bus == 1, "the scout's SIGBUS past the end raised the flag");
		ok(st.given_up >= 1 && st.by_scout <= 2,
		   "and it gave up there (%llu chunks done, %llu given up)",
		   (unsigned long long)st.by_scout,
		   (unsigned long long)st.given_up);
	}
	mbi_unmap(map, n);
	close(fd);
	unlink("cut.txt");
}

/* Stopped at once, mid-way, or after the end: no hang, no leak. */
static void
test_stops(void)
{
	size_t n = 8u << 20;
	char *p = make_text(n);
	volatile sig_atomic_t bus = 0;
	int i, good = 1;

	for (i = 0; i < 50; i++) {
		struct mbi_scout *sc =
			mbi_scout_start(p, 0, n, &bus, 0, (int64_t)n, 'F', '>',
					"From ", (size_t)4096 << (i % 5));
		int64_t lo, hi;

		if (sc == NULL)
			break;
		if (i % 3 == 1)
			sleep_ms(1);
		if (i % 3 == 2)
			good &= mbi_scout_find(sc, 100, 200, &lo, &hi) >= -1;
		mbi_scout_stop(sc);
	}
	ok(good, "50 scouts stopped at every moment");
	free(p);
}

/* Bad ranges are refused, not read. */
static void
test_refused(void)
{
	char buf[64] = { 0 };
	volatile sig_atomic_t bus = 0;

	ok(mbi_scout_start(buf, 100, sizeof(buf), &bus, 50, 120, 'F', '>', NULL,
			   0) == NULL,
	   "a range that begins before the view is refused");
	ok(mbi_scout_start(buf, 0, sizeof(buf), &bus, 0, 65, 'F', '>', NULL,
			   0) == NULL,
	   "a range that ends past the view is refused");
	ok(mbi_scout_start(buf, 0, sizeof(buf), &bus, 10, 10, 'F', '>', NULL,
			   0) == NULL,
	   "an empty range is refused");
}

/* mbi_find_line_start alone, against the reference, at every offset. */
static void
test_find(void)
{
	size_t n = 300, s, e, bad = 0;
	char *p = make_text(n);

	for (s = 0; s < n; s++)
		for (e = s; e <= n; e += 7) {
			const char *q =
				mbi_find_line_start(p + s, p + e, 'F', '>');
			size_t k, want = SIZE_MAX;

			for (k = s; k + 1 < e; k++)
				if (candidate(p, e, k)) {
					want = k;
					break;
				}
			if ((q == NULL) != (want == SIZE_MAX) ||
			    (q != NULL && (size_t)(q - p) != want))
				bad++;
		}
	ok(bad == 0,
	   "mbi_find_line_start finds the first candidate for "
	   "every start and end (%zu wrong)",
	   bad);
	free(p);
}

int
main(void)
{
	t_tmpdir();
	test_find();
	test_refused();
	test_walks();
	test_ahead();
	test_behind();
	test_giveup();
	test_bus();
	test_sigbus();
	test_stops();
	return done_testing();
}

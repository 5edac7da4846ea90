/*
 * scout.c - find the line starts a mailbox scan looks at, ahead of it,
 * on a second CPU.
 *
 * A scan of a UNIX or MMDF mailbox spends most of its time looking for
 * the few line starts that matter: a LF followed by 'F' or '>' (unix) or
 * by ^A (MMDF).  On one CPU that search runs at the speed one core can
 * pull a page-cache file through memory, which is slower than the
 * kernel copies it for cat(1).  The scout is a thread that reads the
 * scan's own mapping of the file ahead of the scan, in chunks, and
 * records where such line starts are; the scan then asks the scout
 * instead of looking at every byte itself, and finds the pages it reads
 * mapped and in cache.  A SIGBUS in the scout (the file shrank) goes to
 * mapped.c's handler like the scan's own and raises the same flag.
 *
 * The scan never waits for more than the chunk the scout is working on:
 * when it needs a chunk the scout has not reached, it takes that chunk
 * itself (mbi_scout_find says "unknown" and the caller searches its own
 * bytes), and the scout goes on after it.  The scout stays at most
 * SC_RING chunks ahead, so its memory is bounded; a chunk with too many
 * hits is given up and left to the caller too.  The answers are
 * positions only: the caller still reads every byte it acts on from its
 * own view of the file, so a file that changes under both reads at
 * worst as a missed or a needless look, never out of bounds.
 *
 * All shared state is under one mutex; the caller takes it once per
 * chunk, not per question.  The thread blocks every signal, so handlers
 * (and SIGBUS from mapped.c) run in the caller's thread as before.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mb-int.h"

#define SC_CHUNK   ((size_t)256 << 10) /* bytes per chunk */
#define SC_RING	   16		       /* chunks the scout may be ahead */
#define SC_LOOK	   64		       /* bytes read past a chunk's end */
#define SC_MAXHITS 16384	       /* more in one chunk: give it up */

enum { SL_FREE, SL_SCOUT, SL_DONE, SL_MAIN, SL_GIVEUP };
/* SL_MAIN: a chunk ahead that the caller will search; the scout skips it */

struct sc_slot {
	int64_t idx; /* chunk held, -1 none */
	int state;
	uint32_t *hit; /* offsets from the chunk's start, ascending */
	size_t n, cap;
};

struct mbi_scout {
	const char *map; /* the caller's view of the file, from map_off */
	int64_t map_off, map_end;
	volatile sig_atomic_t *bus; /* raised when the file shrank */
	int64_t start, end;	    /* the range searched */
	size_t chunk;
	char c1, c2;
	const char *word; /* after any c2s, the line begins so (or NULL) */
	size_t wlen;

	pthread_t th;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t next; /* next chunk to take, by either side */
	int64_t low;  /* the caller's chunk: the scout stays < low+RING */
	bool stop, caller_waits, scout_waits;
	struct sc_slot slot[SC_RING];
	struct mbi_scout_stats st;

	/* the caller's own: a finished chunk it reads without the lock */
	struct sc_slot *cur;
	int64_t cur_idx;
};

/* ---- the line-start search itself --------------------------------- */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* 64 bytes a round where the CPU has AVX2 (checked at run time); the
 * prefetch runs a few hundred cycles ahead of the loads. */
__attribute__((target("avx2"))) static const char *
find_avx2(const char *p, const char *end, char c1, char c2)
{
	const __m256i nl = _mm256_set1_epi8('\n');
	const __m256i v1 = _mm256_set1_epi8(c1), v2 = _mm256_set1_epi8(c2);

	while (end - p >= 65) {
		__m256i x0, y0, x1, y1;
		unsigned m0, m1;

		_mm_prefetch(p + 1024, _MM_HINT_T0);
		x0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
		y0 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));
		x1 = _mm256_loadu_si256(
			(const __m256i *)(const void *)(p + 32));
		y1 = _mm256_loadu_si256(
			(const __m256i *)(const void *)(p + 33));
		m0 = (unsigned)_mm256_movemask_epi8(_mm256_and_si256(
			_mm256_cmpeq_epi8(x0, nl),
			_mm256_or_si256(_mm256_cmpeq_epi8(y0, v1),
					_mm256_cmpeq_epi8(y0, v2))));
		m1 = (unsigned)_mm256_movemask_epi8(_mm256_and_si256(
			_mm256_cmpeq_epi8(x1, nl),
			_mm256_or_si256(_mm256_cmpeq_epi8(y1, v1),
					_mm256_cmpeq_epi8(y1, v2))));
		if (m0 != 0)
			return p + __builtin_ctz(m0);
		if (m1 != 0)
			return p + 32 + __builtin_ctz(m1);
		p += 64;
	}
	return p;
}
#endif

const char *
mbi_find_line_start(const char *p, const char *end, char c1, char c2)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (__builtin_cpu_supports("avx2")) {
		p = find_avx2(p, end, c1, c2);
		if (end - p >= 65)
			return p; /* found */
	}
	{
		/* SSE2 is always there on x86-64 */
		const __m128i nl = _mm_set1_epi8('\n');
		const __m128i v1 = _mm_set1_epi8(c1), v2 = _mm_set1_epi8(c2);

		while (end - p >= 17) {
			__m128i x = _mm_loadu_si128(
				(const __m128i *)(const void *)p);
			__m128i y = _mm_loadu_si128(
				(const __m128i *)(const void *)(p + 1));
			unsigned m = (unsigned)_mm_movemask_epi8(
					     _mm_cmpeq_epi8(x, nl)) &
				     (unsigned)_mm_movemask_epi8(_mm_or_si128(
					     _mm_cmpeq_epi8(y, v1),
					     _mm_cmpeq_epi8(y, v2)));

			if (m != 0)
				return p + __builtin_ctz(m);
			p += 16;
		}
	}
#endif
	while (p + 1 < end) {
		const char *nl2 = memchr(p, '\n', (size_t)(end - 1 - p));

		if (nl2 == NULL)
			return NULL;
		if (nl2[1] == c1 || nl2[1] == c2)
			return nl2;
		p = nl2 + 1;
	}
	return NULL;
}

/* ---- the thread ---------------------------------------------------- */

static int64_t
chunk_start(const struct mbi_scout *sc, int64_t i)
{
	return sc->start + i * (int64_t)sc->chunk;
}

static int64_t
chunk_end(const struct mbi_scout *sc, int64_t i)
{
	int64_t e = chunk_start(sc, i) + (int64_t)sc->chunk;

	return e < sc->end ? e : sc->end;
}

/* Can the line after the LF at p begin as the caller asked?  Lines cut
 * by the end of what was read may. */
static bool
wanted(const struct mbi_scout *sc, const char *p, const char *end)
{
	const char *c = p + 1;

	if (sc->word == NULL)
		return true;
	while (c < end && *c == sc->c2)
		c++;
	if ((size_t)(end - c) < sc->wlen)
		return memcmp(c, sc->word, (size_t)(end - c)) == 0;
	return memcmp(c, sc->word, sc->wlen) == 0;
}

/* Record the hits of a chunk at buf (n bytes: the chunk and up to
 * SC_LOOK after it; hits lie in the first clen).  false: too many, or
 * no memory. */
static bool
scan_chunk(struct mbi_scout *sc, struct sc_slot *s, const char *buf,
	   size_t clen, size_t n)
{
	const char *p = buf, *end = buf + n;
	const char *stop = buf + clen;

	s->n = 0;
	while ((p = mbi_find_line_start(p, end, sc->c1, sc->c2)) != NULL &&
	       p < stop) {
		if (!wanted(sc, p, end)) {
			p++;
			continue;
		}
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 256;
			uint32_t *h;

			if (cap > SC_MAXHITS)
				return false;
			h = realloc(s->hit, cap * sizeof(*h));
			if (h == NULL)
				return false;
			s->hit = h;
			s->cap = cap;
		}
		s->hit[s->n++] = (uint32_t)(p - buf);
		p++;
	}
	return true;
}

static void *
scout_main(void *arg)
{
	struct mbi_scout *sc = arg;

	pthread_mutex_lock(&sc->mu);
	for (;;) {
		struct sc_slot *s;
		int64_t i, cs, ce, le;
		bool ok;

		while (!sc->stop && sc->next >= sc->low + SC_RING &&
		       chunk_start(sc, sc->next) < sc->end) {
			sc->scout_waits = true;
			pthread_cond_wait(&sc->cv, &sc->mu);
			sc->scout_waits = false;
		}
		if (sc->stop || chunk_start(sc, sc->next) >= sc->end)
			break;
		i = sc->next++;
		s = &sc->slot[i % SC_RING];
		if (s->idx == i)
			continue; /* the caller took it */
		s->idx = i;
		s->state = SL_SCOUT;
		pthread_mutex_unlock(&sc->mu);

		cs = chunk_start(sc, i);
		ce = chunk_end(sc, i);
		/* and some bytes after it, for the lines that begin at the
		 * chunk's last bytes */
		le = ce + SC_LOOK < sc->map_end ? ce + SC_LOOK : sc->map_end;
		ok = scan_chunk(sc, s, sc->map + (cs - sc->map_off),
				(size_t)(ce - cs), (size_t)(le - cs));
		/* what a shrunk file showed is zeros: give up */
		if (*sc->bus)
			ok = false;

		pthread_mutex_lock(&sc->mu);
		s->state = ok ? SL_DONE : SL_GIVEUP;
		if (ok)
			sc->st.by_scout++;
		else
			sc->st.given_up++;
		if (sc->caller_waits)
			pthread_cond_broadcast(&sc->cv);
		if (*sc->bus)
			break; /* the caller sees the change for itself */
	}
	pthread_mutex_unlock(&sc->mu);
	return NULL;
}

/* CPUs this process may run on. */
static int
cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	return CPU_COUNT(&set);
}

struct mbi_scout *
mbi_scout_start(const char *map, int64_t map_off, size_t map_len,
		volatile sig_atomic_t *bus, int64_t start, int64_t end, char c1,
		char c2, const char *word, size_t chunk)
{
	struct mbi_scout *sc;
	sigset_t all, old;
	int i, rc;

	if (end <= start || start < map_off ||
	    end > map_off + (int64_t)map_len || cpus() < 2)
		return NULL;
	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return NULL;
	sc->map = map;
	sc->map_off = map_off;
	sc->map_end = map_off + (int64_t)map_len;
	sc->bus = bus;
	sc->start = start;
	sc->end = end;
	sc->chunk = chunk ? chunk : SC_CHUNK;
	sc->c1 = c1;
	sc->c2 = c2;
	sc->word = word;
	sc->wlen = word ? strlen(word) : 0;
	sc->cur_idx = -1;
	for (i = 0; i < SC_RING; i++)
		sc->slot[i].idx = -1;
	if (pthread_mutex_init(&sc->mu, NULL) != 0) {
		free(sc);
		return NULL;
	}
	if (pthread_cond_init(&sc->cv, NULL) != 0) {
		pthread_mutex_destroy(&sc->mu);
		free(sc);
		return NULL;
	}
	/* the thread starts with every signal blocked but the faults,
	 * which are never blocked (SIGBUS is mapped.c's) */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&sc->th, NULL, scout_main, sc);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		mbi_scout_stop(sc);
		return NULL;
	}
	sc->running = true;
	return sc;
}

void
mbi_scout_stop(struct mbi_scout *sc)
{
	int i;

	if (sc == NULL)
		return;
	if (sc->running) {
		pthread_mutex_lock(&sc->mu);
		sc->stop = true;
		pthread_cond_broadcast(&sc->cv);
		pthread_mutex_unlock(&sc->mu);
		pthread_join(sc->th, NULL);
	}
	for (i = 0; i < SC_RING; i++)
		free(sc->slot[i].hit);
	pthread_cond_destroy(&sc->cv);
	pthread_mutex_destroy(&sc->mu);
	free(sc);
}

void
mbi_scout_stats(struct mbi_scout *sc, struct mbi_scout_stats *out)
{
	pthread_mutex_lock(&sc->mu);
	*out = sc->st;
	pthread_mutex_unlock(&sc->mu);
}

/* ---- the caller's side --------------------------------------------- */

/* Make chunk i the caller's: cur when the scout has its hits, else
 * NULL (the caller searches that chunk itself). */
static void
take_chunk(struct mbi_scout *sc, int64_t i)
{
	struct sc_slot *s = &sc->slot[i % SC_RING];

	pthread_mutex_lock(&sc->mu);
	/* the scout keeps off chunk i's slot while low is i; a scout
	 * waiting for room is woken when half the ring is free, not for
	 * every chunk */
	sc->low = i;
	if (sc->scout_waits && sc->next <= i + SC_RING / 2)
		pthread_cond_broadcast(&sc->cv);
	if (s->idx == i && s->state == SL_SCOUT) {
		/* the scout is behind: take the farthest chunk it may
		 * reach as well, so that the two share the work */
		int64_t j = i + SC_RING - 1;
		struct sc_slot *t = &sc->slot[j % SC_RING];

		if (j >= sc->next && t->idx != j && t->state != SL_SCOUT &&
		    chunk_start(sc, j) < sc->end) {
			t->idx = j;
			t->state = SL_MAIN;
			sc->st.by_caller++;
		}
	}
	while (s->idx == i && s->state == SL_SCOUT) {
		sc->caller_waits = true;
		sc->st.waits++;
		pthread_cond_wait(&sc->cv, &sc->mu);
		sc->caller_waits = false;
	}
	sc->cur = NULL;
	if (s->idx == i && s->state == SL_DONE) {
		sc->cur = s;
	} else if (i >= sc->next) {
		/* not reached yet: ours, and the scout goes on after it.
		 * The slot is left alone: the scout may still be filling it
		 * for a chunk the caller has jumped past. */
		sc->next = i + 1;
		sc->st.by_caller++;
	}
	sc->cur_idx = i;
	pthread_mutex_unlock(&sc->mu);
}

int
mbi_scout_find(struct mbi_scout *sc, int64_t a, int64_t b, int64_t *lo,
	       int64_t *hi)
{
	while (a < b) {
		int64_t i, cs, ce;
		const struct sc_slot *s;
		size_t l, h;

		if (a < sc->start || a >= sc->end) {
			*lo = a;
			*hi = b;
			return -1;
		}
		i = (a - sc->start) / (int64_t)sc->chunk;
		if (i != sc->cur_idx)
			take_chunk(sc, i);
		cs = chunk_start(sc, i);
		ce = chunk_end(sc, i);
		s = sc->cur;
		if (s == NULL) {
			*lo = a;
			*hi = ce < b ? ce : b;
			return -1;
		}
		/* the first hit at or after a */
		l = 0;
		h = s->n;
		while (l < h) {
			size_t mid = l + (h - l) / 2;

			if (cs + (int64_t)s->hit[mid] < a)
				l = mid + 1;
			else
				h = mid;
		}
		if (l < s->n) {
			int64_t q = cs + (int64_t)s->hit[l];

			if (q >= b)
				return 0;
			*lo = q;
			return 1;
		}
		a = ce;
	}
	return 0;
}

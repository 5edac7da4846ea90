/*
 * fuzz-rewrite.c - the write side of the single-file drivers on damaged
 * input: the first byte picks the format (unix, mmdf, mbx, tenex, mtx),
 * the rest is the file.  Open read/write (UW's locks, journals), scan,
 * set flags on every message, delete the first, expunge, commit; then
 * reopen: the mailbox must hold the messages that were not deleted,
 * with the same texts, in the same order.
 */
#include "fuzz.h"

#define MAXMSG 64

struct sums {
	uint32_t n;
	uint64_t h[MAXMSG];
	uint64_t h_nl[MAXMSG]; /* of the text and a LF, when it ends in none */
	uint64_t h_cut[MAXMSG]; /* a last line ^A^A^A^A[CR] cut short, as
				 * MMDF stores it: without the ^As */
	uint64_t h_cut2[MAXMSG]; /* ... in a header: without the line */
	bool del[MAXMSG];
	bool all_ok;
};

static uint64_t
text_sum(struct mb_box *box, const struct mb_msg *m, bool *ok, uint64_t *h_nl,
	 uint64_t *h_cut, uint64_t *h_cut2)
{
	char last = '\n';
	static char buf[8192];
	struct mb_reader *r;
	struct mb_err e;
	uint64_t h = 1469598103934665603ULL, hist[7];
	unsigned char tail[6];
	size_t seen = 0;
	ssize_t got, i;

	if (mb_msg_open(box, m, &r, &e) != MB_OK) {
		*ok = false;
		return 0;
	}
	while ((got = mb_reader_read(r, buf, sizeof(buf), &e)) > 0) {
		for (i = 0; i < got; i++) {
			/* hist[k]: the hash before the last k bytes */
			memmove(hist + 1, hist, 6 * sizeof(hist[0]));
			hist[0] = h;
			memmove(tail, tail + 1, 5);
			tail[5] = (unsigned char)buf[i];
			seen++;
			h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
		}
		if (got > 0)
			last = buf[got - 1];
	}
	*h_nl = last == '\n' ? h : (h ^ '\n') * 1099511628211ULL;
	*h_cut = *h_cut2 = h;
	if (seen >= 5 && memcmp(tail + 1, "\n\1\1\1\1", 5) == 0) {
		*h_cut = *h_cut2 = hist[3]; /* before the four ^As */
	} else if (seen >= 6 && memcmp(tail, "\n\1\1\1\1\r", 6) == 0) {
		*h_cut = (hist[4] ^ '\r') * 1099511628211ULL;
		*h_cut2 = hist[4];
	}
	if (got < 0)
		*ok = false;
	mb_reader_close(&r);
	return h;
}

/* Scan box: count the messages and sum their texts. */
static int
scan(struct mb_box *box, struct sums *s)
{
	struct mb_msg *m;
	struct mb_err e;
	int rc;

	s->n = 0;
	s->all_ok = true;
	while ((rc = mb_next(box, &m, &e)) != MB_END) {
		if (rc != MB_OK) {
			s->all_ok = false;
			if (rc == MB_FATAL)
				return rc;
			continue;
		}
		if (s->n < MAXMSG) {
			s->h[s->n] = text_sum(box, m, &s->all_ok,
					      &s->h_nl[s->n], &s->h_cut[s->n],
					      &s->h_cut2[s->n]);
			s->del[s->n] = (m->flags & MB_DELETED) || s->n == 0;
		}
		s->n++;
	}
	return MB_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const formats[] = {"unix", "mmdf", "mbx", "tenex",
					      "mtx"};
	const char *fmt;
	struct mb_ctx *ctx;
	struct mb_box *box = NULL;
	struct mb_err e;
	struct sums before, after;
	uint32_t i, k, gone = 0;
	char path[300];
	bool committed = false;

	if (size < 1)
		return 0;
	fmt = formats[data[0] % 5];
	snprintf(path, sizeof(path), "%s/box", fuzz_scratch());
	fuzz_write(path, data + 1, size - 1);
	ctx = mb_ctx_new();
	if (ctx == NULL)
		return 0;
	mb_ctx_set(ctx, "lock-timeout", "1", &e);
	if (mb_open(ctx, path, fmt, MB_RDWR, &box, &e) != MB_OK)
		goto out;
	if (scan(box, &before) != MB_OK) {
		mb_abort(&box);
		goto out;
	}
	for (i = 1; i <= before.n; i++)
		mb_set_flags(box, i, i == 1 ? MB_DELETED | MB_SEEN : MB_FLAGGED,
			     0, 0, 0, &e);
	if (mb_expunge(box, &gone, &e) != MB_OK) {
		mb_abort(&box);
		goto out;
	}
	committed = mb_close(&box, &e) == MB_OK;
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "%s: %u messages, %u expunged, commit %s\n",
			fmt, before.n, gone, committed ? "ok" : e.msg);
	if (!committed || !before.all_ok || before.n == 0 ||
	    before.n > MAXMSG)
		goto out;
	if (mb_open(ctx, path, fmt, MB_RDONLY | MB_NOLOCK, &box, &e) != MB_OK)
		abort(); /* a mailbox we wrote must open */
	scan(box, &after);
	mb_abort(&box);
	if (after.n != before.n - gone)
		abort(); /* a message was lost or made up */
	for (i = 0, k = 0; i < before.n; i++) {
		if (before.del[i])
			continue;
		/* a kept message must not change; but a text that is all
		 * header and ends in no LF (a truncated last message) gets
		 * one: the status lines follow on lines of their own */
		if (k >= after.n || (after.h[k] != before.h[i] &&
				     after.h[k] != before.h_nl[i] &&
				     !(data[0] % 5 == 1 &&
				       (after.h[k] == before.h_cut[i] ||
					after.h[k] == before.h_cut2[i]))))
			abort(); /* a kept message changed */
		k++;
	}
out:
	mb_ctx_free(&ctx);
	return 0;
}

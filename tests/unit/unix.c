/*
 * unix.c - the unix and mmdf drivers through the public API: framing at
 * read-buffer boundaries, cut long lines, offsets, the message text,
 * and a write/read round trip.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb.h"
#include "tap.h"

#define FROM "From a@b Wed Dec  2 05:53:22 1992\n"

static void
write_file(const char *path, const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	close(fd);
}

/* Read a whole message text through the reader. */
static char *
slurp(struct mb_box *b, const struct mb_msg *m, size_t *len)
{
	struct mb_reader *r;
	struct mb_err e;
	size_t cap = 1024, n = 0;
	char *buf = malloc(cap);
	ssize_t got;

	if (mb_msg_open(b, m, &r, &e) != MB_OK) {
		free(buf);
		return NULL;
	}
	for (;;) {
		if (cap - n < 4096)
			buf = realloc(buf, cap *= 2);
		got = mb_reader_read(r, buf + n, cap - n, &e);
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	mb_reader_close(&r);
	*len = n;
	return buf;
}

/*
 * Messages whose From lines fall at every position around the 1 MiB
 * read-buffer boundary: the count and every offset must come out right.
 */
static void
test_boundaries(struct mb_ctx *ctx)
{
	const size_t chunk = 1u << 20;
	int shift, bad = 0;

	for (shift = -40; shift <= 40; shift++) {
		size_t first = chunk + (size_t)shift - 1; /* body length */
		size_t total = strlen(FROM) * 3 + first + 400;
		char *p = malloc(total), *q = p;
		int64_t off2, off3;
		struct mb_box *b;
		struct mb_msg *m;
		struct mb_err e;
		int count = 0;
		size_t i;

		q += sprintf(q, "%sSubject: one\n\n", FROM);
		/* body lines that start with 'F' and '>' to tempt the scanner */
		while ((size_t)(q - p) < first) {
			size_t left = first - (size_t)(q - p);
			const char *l = (count++ % 3) == 0 ? "From the body\n" :
					(count % 3) == 1   ? ">From quoted\n" :
							     "plain line\n";

			if (strlen(l) > left) {
				for (i = 0; i + 1 < left; i++)
					*q++ = 'x';
				*q++ = '\n';
				break;
			}
			q = stpcpy(q, l);
		}
		q = stpcpy(q, "\n");
		off2 = q - p;
		q += sprintf(q, "%sSubject: two\n\nbody\n\n", FROM);
		off3 = q - p;
		q += sprintf(q, "%sSubject: three\n\nlast", FROM);
		write_file("b.mbox", p, (size_t)(q - p));

		count = 0;
		if (mb_open(ctx, "b.mbox", NULL, MB_RDONLY | MB_STREAM, &b,
			    &e) != MB_OK) {
			bad++;
			free(p);
			continue;
		}
		while (mb_next(b, &m, &e) == MB_OK) {
			count++;
			if ((count == 2 && m->offset != off2) ||
			    (count == 3 && m->offset != off3))
				bad++;
			if (count == 3) {
				size_t n;
				char *t = slurp(b, m, &n);

				if (t == NULL || n != 20 ||
				    memcmp(t, "Subject: three\n\nlast", 20) !=
					    0)
					bad++;
				free(t);
			}
		}
		if (count != 3)
			bad++;
		mb_close(&b, &e);
		free(p);
	}
	is_int(bad, 0,
	       "From lines at every position around the 1 MiB "
	       "buffer boundary are found at their offsets");
}

/* A body line longer than the scanner keeps whole, then a From line. */
static void
test_long_line(struct mb_ctx *ctx)
{
	size_t big = 9u << 20, n;
	char *p = malloc(big + 200), *q = p, *t;
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	int count = 0;
	int64_t second = 0;

	q += sprintf(q, "%sSubject: long\n\n", FROM);
	memset(q, 'F', big); /* a 9 MiB line of F's: never a From line */
	q += big;
	*q++ = '\n';
	*q++ = '\n';
	second = q - p;
	q += sprintf(q, "%sSubject: after\n\nx\n", FROM);
	write_file("long.mbox", p, (size_t)(q - p));
	ok(mb_open(ctx, "long.mbox", NULL, MB_RDONLY | MB_STREAM, &b, &e) ==
		   MB_OK,
	   "open a mailbox with a 9 MiB line");
	while (mb_next(b, &m, &e) == MB_OK) {
		count++;
		if (count == 1) {
			t = slurp(b, m, &n);
			is_int((long long)n, (long long)(15 + big + 1),
			       "the long line comes back whole");
			free(t);
		}
		if (count == 2)
			is_int(m->offset, second,
			       "the next From line is found");
	}
	is_int(count, 2, "two messages");
	mb_close(&b, &e);
	free(p);
}

/* Status headers are parsed and hidden from the text; UIDs and keywords. */
static void
test_status(struct mb_ctx *ctx)
{
	const char *box = "From a@b Wed Dec  2 05:53:22 1992 -0800\n"
			  "Subject: s\n"
			  "X-IMAPbase: 1234 7 Junk $Label1\n"
			  "Status: RO\n"
			  "X-Status: FA\n"
			  "X-Keywords: $Label1\n"
			  "X-UID: 5\n"
			  "\n"
			  "text\n"
			  "\n"
			  "From a@b Wed Dec  2 05:53:22 1992\n"
			  "X-UID: 7\n"
			  "X-Keywords: Junk\n"
			  "\n"
			  "two\n";
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_info info;
	struct mb_err e;
	size_t n;
	char *t;

	write_file("s.mbox", box, strlen(box));
	ok(mb_open(ctx, "s.mbox", NULL, MB_RDONLY, &b, &e) == MB_OK,
	   "open a mailbox with status headers");
	mb_box_info(b, &info, &e);
	is_int(info.uidvalidity, 1234, "UIDVALIDITY from X-IMAPbase");
	is_int(info.uidnext, 8, "UIDNEXT from X-IMAPbase");
	is_int(mb_next(b, &m, &e), MB_OK, "first message");
	is_int(m->flags, MB_SEEN | MB_OLD | MB_FLAGGED | MB_ANSWERED,
	       "Status RO + X-Status FA");
	is_int(m->uid, 5, "X-UID 5");
	is_int(m->idate_tz, -480, "zone of the From line date");
	is_str(mb_keyword(b, 1), "$Label1", "keyword 1 declared");
	is_int((long long)m->keywords, 2, "keyword bit of $Label1");
	t = slurp(b, m, &n);
	is_mem(t, n, "Subject: s\n\ntext\n", 17,
	       "text without internal headers or separator");
	free(t);
	is_int(mb_next(b, &m, &e), MB_OK, "second message");
	is_int(m->uid, 7, "X-UID 7");
	is_int((long long)m->keywords, 1, "keyword Junk");
	is_int(mb_next(b, &m, &e), MB_END, "two messages");
	mb_close(&b, &e);
}

/* Write with the API, read back: flags, keywords, UIDs, exact text. */
static void
test_roundtrip(struct mb_ctx *ctx, const char *fmt)
{
	static const char *const kws[] = { "Junk", "work" };
	const char *texts[] = {
		"Subject: a\r\n\r\nCRLF body\r\n",
		"Subject: b\n\nFrom inside\n\1\1\1\1 x\nno final newline",
		"Subject: c\n\nNUL \0 and 8-bit \xe9\n",
	};
	/* the third has no final newline: 29 of the literal's 30 bytes */
	size_t lens[] = { strlen(texts[0]), strlen(texts[1]), 29 };
	const char *want1 =
		"Subject: b\n\n>From inside\n\1\1\1\1 x\nno final newline\n";
	struct mb_newmsg nm;
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_reader *r;
	struct mb_info info;
	struct mb_err e;
	char path[64];
	int i, rc;

	snprintf(path, sizeof(path), "rt.%s", fmt);
	unlink(path);
	rc = mb_create(ctx, path, fmt, MB_CREATE_ATOMIC | MB_CREATE_EXCL, &b,
		       &e);
	ok(rc == MB_OK, "%s: create", fmt);
	if (rc != MB_OK)
		return;
	mb_set_uidstate(b, 4242, 10, &e);
	for (i = 0; i < 3; i++) {
		memset(&nm, 0, sizeof(nm));
		nm.flags = i == 0 ? MB_SEEN | MB_DELETED : MB_DRAFT;
		nm.idate = 723275602 + i;
		nm.idate_tz = 60;
		nm.uid = (uint32_t)(10 + i * 2);
		nm.keywords = kws;
		nm.nkeywords = (size_t)(i == 2 ? 2 : 1);
		r = mb_reader_mem(texts[i], lens[i]);
		is_int(mb_append(b, &nm, r, NULL, &e), MB_OK, "%s: append %d",
		       fmt, i);
		mb_reader_close(&r);
	}
	is_int(mb_close(&b, &e), MB_OK, "%s: close publishes", fmt);
	is_int(mb_open(ctx, path, NULL, MB_RDONLY, &b, &e), MB_OK, "%s: reopen",
	       fmt);
	is_str(mb_box_format(b), fmt, "%s: probed as itself", fmt);
	mb_box_info(b, &info, &e);
	is_int(info.uidvalidity, 4242, "%s: UIDVALIDITY kept", fmt);
	for (i = 0; i < 3; i++) {
		size_t n;
		char *t;

		if (mb_next(b, &m, &e) != MB_OK)
			break;
		is_int(m->uid, 10 + i * 2, "%s: UID %d kept", fmt, 10 + i * 2);
		is_int(m->flags, i == 0 ? MB_SEEN | MB_DELETED : MB_DRAFT,
		       "%s: flags of message %d", fmt, i + 1);
		is_int(m->idate, 723275602 + i, "%s: internal date %d", fmt,
		       i + 1);
		is_int((long long)m->keywords, i == 2 ? 3 : 1,
		       "%s: keywords of message %d", fmt, i + 1);
		t = slurp(b, m, &n);
		if (i == 1 && strcmp(fmt, "unix") == 0)
			/* the last message keeps its missing newline only at
			 * the end of the file; this one is not last */
			is_mem(t, n, want1, strlen(want1),
			       "%s: text %d quoted, newline added", fmt, i + 1);
		else if (i == 1)
			is_mem(t, n,
			       "Subject: b\n\nFrom inside\n x\nno final "
			       "newline\n",
			       strlen("Subject: b\n\nFrom inside\n x\nno final "
				      "newline\n"),
			       "%s: text %d: ^A removed, newline added", fmt,
			       i + 1);
		else if (i == 2 && strcmp(fmt, "mmdf") == 0)
			/* no final newline: MMDF must add one before ^A^A^A^A */
			is_mem(t, n, texts[i], lens[i] + 1,
			       "%s: text %d equal, newline added", fmt, i + 1);
		else
			is_mem(t, n, texts[i], lens[i], "%s: text %d equal",
			       fmt, i + 1);
		free(t);
	}
	is_int(mb_next(b, &m, &e), MB_END, "%s: three messages", fmt);
	mb_close(&b, &e);
}

/* Flag changes and expunge rewrite the file in place (same inode). */
static void
test_rewrite(struct mb_ctx *ctx, const char *fmt)
{
	const char *unix_box =
		"From a@b Wed Dec  2 05:53:22 1992\nSubject: one\n\nbody 1\n\n"
		"From a@b Wed Dec  2 05:53:23 1992\nSubject: two\nStatus: O\n"
		"\nbody 2\n>From q\n\n"
		"From a@b Wed Dec  2 05:53:24 1992\nSubject: three\n\nbody 3";
	const char *mmdf_box =
		"\1\1\1\1\nFrom a@b Wed Dec  2 05:53:22 1992\nSubject: one\n\n"
		"body 1\n\1\1\1\1\n"
		"\1\1\1\1\nFrom a@b Wed Dec  2 05:53:23 1992\nSubject: two\n"
		"Status: O\n\nbody 2\n>From q\n\1\1\1\1\n"
		"\1\1\1\1\nFrom a@b Wed Dec  2 05:53:24 1992\nSubject: three\n"
		"\nbody 3\n\1\1\1\1\n";
	const char *box = strcmp(fmt, "unix") == 0 ? unix_box : mmdf_box;
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_info info;
	struct mb_err e;
	struct stat st1, st2;
	uint32_t n = 0, uid3 = 0, validity;
	size_t len;
	char path[32], *t;
	int kw;

	snprintf(path, sizeof(path), "rw.%s", fmt);
	write_file(path, box, strlen(box));
	stat(path, &st1);
	is_int(mb_open(ctx, path, fmt, MB_RDWR, &b, &e), MB_OK,
	       "%s: open read/write", fmt);
	while (mb_next(b, &m, &e) == MB_OK)
		if (m->seq == 3)
			uid3 = m->uid;
	mb_box_info(b, &info, &e);
	validity = info.uidvalidity;
	kw = mb_keyword_index(b, "Work", true);
	ok(kw >= 0, "%s: keyword created", fmt);
	is_int(mb_set_flags(b, 2, MB_FLAGGED | MB_SEEN, 0,
			    kw >= 0 ? (uint64_t)1 << kw : 0, 0, &e),
	       MB_OK, "%s: set flags", fmt);
	is_int(mb_set_flags(b, 1, MB_DELETED, 0, 0, 0, &e), MB_OK,
	       "%s: delete message 1", fmt);
	is_int(mb_expunge(b, &n, &e), MB_OK, "%s: expunge", fmt);
	is_int(n, 1, "%s: one message expunged", fmt);
	is_int(mb_close(&b, &e), MB_OK, "%s: close", fmt);
	stat(path, &st2);
	is_int(st2.st_ino, st1.st_ino, "%s: same inode (rewritten in place)",
	       fmt);
	ok(access(".mbredo", F_OK) != 0, "%s: no journal left", fmt);

	is_int(mb_open(ctx, path, NULL, MB_RDONLY | MB_CHECK, &b, &e), MB_OK,
	       "%s: reopen", fmt);
	mb_box_info(b, &info, &e);
	is_int(info.uidvalidity, validity, "%s: UIDVALIDITY kept", fmt);
	is_int(mb_next(b, &m, &e), MB_OK, "%s: message 1", fmt);
	is_int(m->flags, MB_FLAGGED | MB_SEEN | MB_OLD, "%s: flags stored",
	       fmt);
	is_str(mb_keyword(b, 0), "Work", "%s: keyword declared", fmt);
	is_int((long long)m->keywords, 1, "%s: keyword stored", fmt);
	t = slurp(b, m, &len);
	is_mem(t, len, "Subject: two\n\nbody 2\n>From q\n", 29,
	       "%s: text of message 2 unchanged", fmt);
	free(t);
	is_int(m->uid, 2, "%s: the rewrite numbered the messages", fmt);
	is_int(mb_next(b, &m, &e), MB_OK, "%s: message 2", fmt);
	is_int(m->uid, 3, "%s: UID of the third message", fmt);
	is_int(uid3, 0, "%s: (no UIDs before the rewrite)", fmt);
	t = slurp(b, m, &len);
	if (strcmp(fmt, "unix") == 0)
		is_mem(t, len, "Subject: three\n\nbody 3", 22,
		       "%s: last text, no final newline kept", fmt);
	else
		is_mem(t, len, "Subject: three\n\nbody 3\n", 23,
		       "%s: last text unchanged", fmt);
	free(t);
	is_int(mb_next(b, &m, &e), MB_END, "%s: two messages left", fmt);
	mb_close(&b, &e);
}

/* An indexed box keeps every message's own envelope strings (they used
 * to point into the scanner's line buffer, so all read as the last). */
static void
test_index_strings(struct mb_ctx *ctx)
{
	static const char mbox[] =
		"From alice@example.com Wed Dec  2 05:53:22 1992\n"
		"Subject: a\n\na\n\n"
		"From bob@example.org Thu Dec  3 05:53:22 1992\n"
		"Subject: b\n\nb\n";
	struct mb_box *b;
	struct mb_msg *m, *first = NULL;
	struct mb_err e;

	write_file("idx.mbox", mbox, sizeof(mbox) - 1);
	if (mb_open(ctx, "idx.mbox", NULL, MB_RDONLY, &b, &e) != MB_OK) {
		ok(0, "index strings: open: %s", e.msg);
		return;
	}
	while (mb_next(b, &m, &e) == MB_OK)
		if (first == NULL)
			first = m;
	ok(first != NULL && first->sender != NULL &&
		   strcmp(first->sender, "alice@example.com") == 0,
	   "index: the first message keeps its sender after the scan");
	ok(first != NULL && first->envelope != NULL &&
		   strncmp(first->envelope, "From alice@", 11) == 0,
	   "index: and its envelope line");
	ok(mb_msg_at(b, 2, &m, &e) == MB_OK && m->sender != NULL &&
		   strcmp(m->sender, "bob@example.org") == 0,
	   "index: the second has its own");
	mb_abort(&b);
}

/* Offsets, sizes and flags of every message, as one string per mode. */
static char *
layout(struct mb_ctx *ctx, const char *path, const char *mmap_min,
       const char *scout_min)
{
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	size_t cap = 1 << 20, n = 0;
	char *out = malloc(cap);

	setenv("MAILBAG_MMAP_MIN", mmap_min, 1);
	setenv("MAILBAG_SCOUT_MIN", scout_min, 1);
	out[0] = '\0';
	if (mb_open(ctx, path, NULL, MB_RDONLY | MB_STREAM, &b, &e) != MB_OK)
		return out;
	while (mb_next(b, &m, &e) == MB_OK) {
		if (cap - n < 128)
			out = realloc(out, cap *= 2);
		n += (size_t)snprintf(out + n, cap - n, "%lld/%lld/%u/%u;",
				      (long long)m->offset, (long long)m->size,
				      (unsigned)m->flags, (unsigned)m->uid);
	}
	mb_close(&b, &e);
	unsetenv("MAILBAG_SCOUT_MIN");
	return out;
}

/*
 * Write a mailbox of about `total` bytes to path, with messages of random
 * sizes whose bodies are drawn from lines[0..3] (plain text most often):
 * unix when mmdf is false, else MMDF.  Returns the message count.
 */
static int
write_big(const char *path, bool mmdf, size_t total, unsigned seed,
	  const char *const lines[3])
{
	char *p = malloc(total + 8192);
	size_t n = 0;
	int msgs = 0;

	while (n < total) {
		size_t body;

		seed = seed * 1103515245u + 12345u;
		body = (seed >> 8) % 6000;
		if (mmdf)
			n += (size_t)sprintf(p + n,
					     "\1\1\1\1\n%sSubject: m%d\n\n",
					     (seed & 512) ? FROM : "", msgs);
		else
			n += (size_t)sprintf(
				p + n, "%sSubject: m%d\nStatus: %s\n\n", FROM,
				msgs, (seed & 256) ? "RO" : "O");
		while (body > 0) {
			const char *l = (seed & 7) < 3 ? lines[seed & 7] :
							 "text line here\n";
			size_t k = strlen(l);

			seed = seed * 1103515245u + 12345u;
			if (k > body)
				break;
			memcpy(p + n, l, k);
			n += k;
			body -= k;
		}
		n += (size_t)sprintf(p + n, "%s", mmdf ? "\1\1\1\1\n" : "\n");
		msgs++;
	}
	write_file(path, p, n);
	free(p);
	return msgs;
}

/*
 * A mailbox larger than several mapped windows, with messages of random
 * sizes so that From lines, quoted ">From" lines and status headers fall
 * at every kind of place around window and fill boundaries: the mapped
 * scan must see exactly what the reading scan sees.
 */
static void
test_windows(struct mb_ctx *ctx)
{
	static const char *const lines[3] = { ">From x\n", "From y\n",
					      ">>>From z\n" };
	int msgs = write_big("w.mbox", false, 40u << 20, 12345, lines);
	char *a, *b2;

	a = layout(ctx, "w.mbox", "0", "0");
	b2 = layout(ctx, "w.mbox", "1", "0");
	ok(strlen(a) > 0 && strcmp(a, b2) == 0,
	   "a 40 MiB mailbox scans the same mapped as read (%d messages)",
	   msgs);
	free(b2);
	/* mapped whole, with a scout searching ahead (on two CPUs) and
	 * the pages behind given back */
	b2 = layout(ctx, "w.mbox", "1", "1");
	ok(strcmp(a, b2) == 0, "and the same with a scout");
	free(a);
	free(b2);
	unlink("w.mbox");
}

/* The same for MMDF, whose scout looks for ^A lines. */
static void
test_windows_mmdf(struct mb_ctx *ctx)
{
	static const char *const lines[3] = { "\1 not a delimiter\n",
					      "\1\1\1\1 text\n", "text\n" };
	int msgs = write_big("w.mmdf", true, 24u << 20, 777, lines);
	char *a, *b2;

	a = layout(ctx, "w.mmdf", "0", "0");
	b2 = layout(ctx, "w.mmdf", "1", "1");
	ok(strlen(a) > 0 && strcmp(a, b2) == 0,
	   "a 24 MiB MMDF file scans the same with a scout as read (%d "
	   "messages)",
	   msgs);
	free(a);
	free(b2);
	unlink("w.mmdf");
}

/*
 * Another program truncates the mailbox while a mapped scan is in it:
 * the scan stops with an error that says so (no SIGBUS), for a cut in the
 * middle of a page and for one at a page boundary.
 */
static void
test_shrink(struct mb_ctx *ctx, const char *scout_min)
{
	static const off_t cuts[] = { 100000, 65536, 0 };
	size_t total = 3u << 20, n = 0;
	char *p = malloc(total + 200);
	size_t i;

	while (n < total)
		n += (size_t)sprintf(p + n,
				     "%sSubject: s\n\nsome text for the body "
				     "of this message\nand a second line\n\n",
				     FROM);
	setenv("MAILBAG_MMAP_MIN", "1", 1);
	setenv("MAILBAG_SCOUT_MIN", scout_min, 1);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct mb_box *b;
		struct mb_msg *m;
		struct mb_err e;
		int rc, count = 0;

		write_file("t.mbox", p, n);
		if (mb_open(ctx, "t.mbox", NULL, MB_RDONLY | MB_NOLOCK, &b,
			    &e) != MB_OK) {
			ok(0, "shrink: open: %s", e.msg);
			continue;
		}
		rc = mb_next(b, &m, &e);
		if (truncate("t.mbox", cuts[i]) < 0)
			rc = -99;
		while (rc == MB_OK) {
			count++;
			rc = mb_next(b, &m, &e);
		}
		ok(rc != MB_END && rc != -99 && strstr(e.msg, "shrank") != NULL,
		   "truncated to %lld under a mapped scan%s: an error, not a "
		   "crash (%d more messages seen; %s)",
		   (long long)cuts[i],
		   strcmp(scout_min, "0") ? " with a scout" : "", count, e.msg);
		mb_abort(&b);
	}
	free(p);
	unsetenv("MAILBAG_MMAP_MIN");
	unsetenv("MAILBAG_SCOUT_MIN");
}

int
main(void)
{
	struct mb_ctx *ctx = mb_ctx_new();
	int pass;

	t_tmpdir();
	test_boundaries(ctx);
	test_long_line(ctx);
	test_status(ctx);
	test_roundtrip(ctx, "unix");
	test_roundtrip(ctx, "mmdf");
	test_rewrite(ctx, "unix");
	test_rewrite(ctx, "mmdf");
	test_index_strings(ctx);
	test_windows(ctx);
	test_windows_mmdf(ctx);
	test_shrink(ctx, "0");
	test_shrink(ctx, "1");
	/* again with every scan mapped (libmbox maps large mailboxes), and
	 * then with a scout on every mapped scan as well */
	for (pass = 0; pass < 2; pass++) {
		setenv("MAILBAG_MMAP_MIN", "1", 1);
		if (pass == 1)
			setenv("MAILBAG_SCOUT_MIN", "1", 1);
		diag("the same tests with mapped scans%s",
		     pass == 1 ? " and a scout" : "");
		test_boundaries(ctx);
		test_long_line(ctx);
		test_status(ctx);
		test_rewrite(ctx, "unix");
		test_rewrite(ctx, "mmdf");
		test_index_strings(ctx);
	}
	unsetenv("MAILBAG_SCOUT_MIN");
	unsetenv("MAILBAG_MMAP_MIN");
	mb_ctx_free(&ctx);
	return done_testing();
}

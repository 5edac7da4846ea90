/*
 * tenex.c - the tenex and mtx drivers through the library API: probing,
 * appends in one session with flag changes and an expunge after them,
 * what poll sees of another writer, keyword mapping, remove and rename
 * refused while the file is open elsewhere.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb.h"
#include "tap.h"

static void
bail(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(1);
}

static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		bail(path);
	p = malloc((size_t)st.st_size + 1);
	if (p == NULL || read(fd, p, (size_t)st.st_size) != st.st_size)
		bail(path);
	p[st.st_size] = '\0';
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static void
spit(const char *path, const char *p)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, p, strlen(p)) != (ssize_t)strlen(p))
		bail(path);
	close(fd);
}

static int
add(struct mb_box *b, const char *text, unsigned flags, const char *kw)
{
	const char *kws[1] = { kw };
	struct mb_newmsg nm = { .flags = flags, .idate = 723275602 };
	struct mb_reader *r = mb_reader_mem(text, strlen(text));
	struct mb_err e;
	int rc;

	nm.keywords = kws;
	nm.nkeywords = kw ? 1 : 0;
	rc = mb_append(b, &nm, r, NULL, &e);
	mb_reader_close(&r);
	return rc;
}

static uint32_t
count(struct mb_box *b)
{
	struct mb_msg *m;
	struct mb_err e;
	uint32_t n = 0;

	mb_rewind(b, &e);
	while (mb_next(b, &m, &e) == MB_OK)
		n++;
	return n;
}

static void
test_session(struct mb_ctx *ctx, const char *fmt, const char *path)
{
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	uint32_t n = 0;
	size_t len;
	char *d, want[256];

	ok(mb_create(ctx, path, fmt, MB_CREATE_ATOMIC, &b, &e) == MB_OK,
	   "%s: create", fmt);
	ok(add(b, "Subject: a\n\none\n", MB_SEEN, "Work") == MB_OK &&
		   add(b, "Subject: b\r\n\r\ntwo\r\n", 0, NULL) == MB_OK,
	   "%s: two appends to a new box", fmt);
	ok(mb_close(&b, &e) == MB_OK, "%s: published", fmt);
	d = slurp(path, &len);
	if (strcmp(fmt, "tenex") == 0)
		snprintf(want, sizeof(want),
			 " 2-Dec-1992 05:53:22 +0000,16;040000000001\n"
			 "Subject: a\n\none\n"
			 " 2-Dec-1992 05:53:22 +0000,16;000000000000\n"
			 "Subject: b\n\ntwo\n");
	else
		snprintf(want, sizeof(want),
			 " 2-Dec-1992 05:53:22 +0000,19;040000000001\r\n"
			 "Subject: a\r\n\r\none\r\n"
			 " 2-Dec-1992 05:53:22 +0000,19;000000000000\r\n"
			 "Subject: b\r\n\r\ntwo\r\n");
	is_str(d, want, "%s: the bytes UW writes (Work is keyword 3)", fmt);
	free(d);
	is_str(mb_probe(ctx, path, &e), fmt, "%s: probe", fmt);

	/* one session: append, flag, expunge (which commits the append) */
	ok(mb_open(ctx, path, NULL, MB_RDWR, &b, &e) == MB_OK, "%s: open rw",
	   fmt);
	is_int(count(b), 2, "%s: 2 messages", fmt);
	ok(mb_msg_at(b, 1, &m, &e) == MB_OK && m->uid == 1 &&
		   m->keywords == 8 && m->flags == MB_SEEN,
	   "%s: message 1: UID 1, keyword Work, seen", fmt);
	ok(add(b, "Subject: c\n\nthree\n", MB_FLAGGED, "Nope") == MB_OK,
	   "%s: append in the session (unknown keyword dropped)", fmt);
	ok(mb_set_flags(b, 2, MB_DELETED, 0, 1, 0, &e) == MB_OK,
	   "%s: delete message 2, keyword Junk", fmt);
	ok(mb_set_flags(b, 1, 0, 0, (uint64_t)1 << 40, 0, &e) != MB_OK,
	   "%s: a keyword past the list is refused", fmt);
	ok(mb_expunge(b, &n, &e) == MB_OK && n == 1, "%s: 1 expunged", fmt);
	is_int(count(b), 2, "%s: 2 left, the appended one included", fmt);
	ok(mb_msg_at(b, 2, &m, &e) == MB_OK && m->flags == MB_FLAGGED &&
		   m->keywords == 0 && m->uid == 3,
	   "%s: message 2 is the appended one, session UID 3", fmt);
	ok(mb_close(&b, &e) == MB_OK, "%s: close", fmt);

	ok(mb_open(ctx, path, NULL, MB_RDONLY, &b, &e) == MB_OK &&
		   count(b) == 2 && mb_msg_at(b, 2, &m, &e) == MB_OK &&
		   m->uid == 2,
	   "%s: reopened: 2 messages, numbered 1..2 again", fmt);
	mb_close(&b, &e);
}

static void
test_poll(struct mb_ctx *ctx)
{
	struct mb_box *b, *w;
	struct mb_err e;
	bool changed = false;

	if (mb_open(ctx, "s.tenex", NULL, MB_RDONLY, &b, &e) != MB_OK)
		bail("open s.tenex");
	is_int(count(b), 2, "poll: 2 at first");
	ok(mb_open(ctx, "s.tenex", NULL, MB_RDWR, &w, &e) == MB_OK &&
		   add(w, "Subject: d\n\nfour\n", 0, NULL) == MB_OK &&
		   mb_close(&w, &e) == MB_OK,
	   "poll: another box appends while the first is open");
	ok(mb_poll(b, &changed, &e) == MB_OK && changed, "poll: changed");
	is_int(count(b), 3, "poll: 3 now");
	if (truncate("s.tenex", 10) < 0)
		bail("truncate");
	ok(mb_poll(b, &changed, &e) == MB_FATAL && e.code == MB_ECHANGED,
	   "poll: a shrunken file is fatal (%s)", e.msg);
	mb_close(&b, &e);
}

static void
test_busy(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_err e;
	uint32_t n;

	spit("busy.mtx", " 2-Dec-1992 05:53:22 +0000,5;000000000002\r\n"
			 "x\r\n\r\n");
	ok(mb_open(ctx, "busy.mtx", NULL, MB_RDONLY, &b, &e) == MB_OK,
	   "busy: a reader holds it");
	ok(mb_delete(ctx, "busy.mtx", &e) != MB_OK && e.code == MB_ELOCKED,
	   "busy: delete refused");
	ok(mb_rename(ctx, "busy.mtx", "b2.mtx", &e) != MB_OK &&
		   access("b2.mtx", F_OK) != 0,
	   "busy: rename refused");
	{
		struct mb_box *w;

		ok(mb_open(ctx, "busy.mtx", NULL, MB_RDWR, &w, &e) == MB_OK &&
			   count(w) == 1 && mb_expunge(w, &n, &e) == MB_RETRY &&
			   e.code == MB_ELOCKED,
		   "busy: expunge refused while the reader has it open");
		mb_close(&w, &e);
	}
	mb_close(&b, &e);
	ok(mb_rename(ctx, "busy.mtx", "b2.mtx", &e) == MB_OK &&
		   access("busy.mtx", F_OK) != 0,
	   "busy: rename once closed");
	ok(mb_delete(ctx, "b2.mtx", &e) == MB_OK && access("b2.mtx", F_OK) != 0,
	   "busy: delete once closed");
}

static void
test_probe(struct mb_ctx *ctx)
{
	struct mb_err e;

	spit("p1", "10-Dec-1992 11:00:00 +0000,3;000000000000\nab\n");
	spit("p2", "10-Dec-1992 11:00:00 +0000,3;000000000000\r\nab\n");
	spit("p3", "10-Dec-1992 11:00:00 +0000 3 000000000000\nab\n");
	spit("p4", " 2-Dec-1992 05:53:22 +0000,3;000000000000\r\nab\n");
	is_str(mb_probe(ctx, "p1", &e), "tenex", "probe: LF line is tenex");
	is_str(mb_probe(ctx, "p2", &e), "mtx", "probe: CRLF line is mtx");
	/* nothing claims it but phile, which takes any other file */
	is_str(mb_probe(ctx, "p3", &e), "phile",
	       "probe: no ',' and ';': not tenex or mtx");
	is_str(mb_probe(ctx, "p4", &e), "mtx", "probe: space-padded day");
}

int
main(void)
{
	struct mb_ctx *ctx;
	struct mb_err e;

	t_tmpdir();
	ctx = mb_ctx_new();
	if (ctx == NULL || mb_ctx_set(ctx, "keywords",
				      "Junk NonJunk $Label1 Work", &e) != MB_OK)
		bail("context");
	ok(mb_ctx_set(ctx, "keywords",
		      "a b c d e f g h i j k l m n o p q r "
		      "s t u v w x y z A B C D E",
		      &e) != MB_OK,
	   "keywords: 31 names refused");
	is_str(mb_ctx_get(ctx, "keywords"), "Junk NonJunk $Label1 Work",
	       "keywords: kept");
	test_probe(ctx);
	test_session(ctx, "tenex", "s.tenex");
	test_session(ctx, "mtx", "s.mtx");
	test_poll(ctx);
	test_busy(ctx);
	mb_ctx_free(&ctx);
	return done_testing();
}

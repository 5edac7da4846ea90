/*
 * poll.c - mb_poll in every local format that can be appended to: a
 * reader that has scanned the mailbox notices what another process
 * appended (and only then), reads the new message, and is told when the
 * file shrank under it (the formats that can tell).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mb.h"
#include "tap.h"

static const char *const formats[] = { "unix", "mmdf", "mbx", "mix",
				       "tenex", "mtx", "mh" };

static int
append_text(struct mb_box *b, const char *text)
{
	struct mb_newmsg m;
	struct mb_reader *r = mb_reader_mem(text, strlen(text));
	struct mb_err e;
	int rc;

	memset(&m, 0, sizeof(m));
	m.idate = 1700000000;
	rc = mb_append(b, &m, r, NULL, &e);
	if (rc != MB_OK)
		diag("append: %s: %s", e.path, e.msg);
	mb_reader_close(&r);
	return rc;
}

/* Another process opens NAME read/write and appends TEXT: 0 on success. */
static int
append_elsewhere(struct mb_ctx *ctx, const char *name, const char *text)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct mb_box *b;
		struct mb_err e;

		int rc = mb_open(ctx, name, NULL, MB_RDWR, &b, &e);

		if (rc == MB_OK && append_text(b, text) != MB_OK)
			_exit(1);
		if (rc == MB_OK)
			rc = mb_close(&b, &e);
		if (rc != MB_OK)
			diag("another process: %s: %s", e.path, e.msg);
		fflush(stdout);
		_exit(rc == MB_OK ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
scan(struct mb_box *b, struct mb_msg **last)
{
	struct mb_msg *m;
	struct mb_err e;
	int n = 0, rc;

	while ((rc = mb_next(b, &m, &e)) == MB_OK) {
		n++;
		if (last)
			*last = m;
	}
	if (rc != MB_END)
		diag("mb_next: %s: %s", e.path, e.msg);
	return rc == MB_END ? n : -1;
}

static bool
text_has(struct mb_box *b, struct mb_msg *m, const char *what)
{
	char buf[2048];
	struct mb_reader *r;
	struct mb_err e;
	ssize_t n;

	if (mb_msg_open(b, m, &r, &e) != MB_OK)
		return false;
	n = mb_reader_read(r, buf, sizeof(buf) - 1, &e);
	mb_reader_close(&r);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

static void
test_format(struct mb_ctx *ctx, const char *fmt)
{
	struct mb_box *w, *r;
	struct mb_msg *m = NULL;
	struct mb_err e;
	bool changed;
	char name[64];
	int rc;

	snprintf(name, sizeof(name), "p.%s", fmt);
	if (mb_create(ctx, name, fmt, MB_CREATE_ATOMIC, &w, &e) != MB_OK ||
	    append_text(w, "Subject: one\n\nfirst\n") != MB_OK ||
	    append_text(w, "Subject: two\n\nsecond\n") != MB_OK ||
	    mb_close(&w, &e) != MB_OK) {
		ok(0, "%s: a mailbox of two messages (%s)", fmt, e.msg);
		skip(9, "no mailbox");
		return;
	}
	/*
	 * unix and mmdf: a read-only box holds flock(LOCK_SH) for its whole
	 * life, which keeps every writer out (mailbag's and UW's): the
	 * reader here takes no lock, so that a writer can append at all.
	 */
	if (mb_open(ctx, name, NULL,
		    MB_RDONLY | (strcmp(fmt, "unix") == 0 ||
					 strcmp(fmt, "mmdf") == 0 ?
				 MB_NOLOCK :
				 0),
		    &r, &e) != MB_OK) {
		ok(0, "%s: open the reader (%s)", fmt, e.msg);
		skip(9, "no reader");
		return;
	}
	is_int(scan(r, NULL), 2, "%s: the reader sees two messages", fmt);
	changed = true;
	ok(mb_poll(r, &changed, &e) == MB_OK && !changed,
	   "%s: poll before anyone writes: unchanged", fmt);
	is_int(append_elsewhere(ctx, name, "Subject: three\n\nthird\n"), 0,
	       "%s: another process appends a message", fmt);
	changed = false;
	rc = mb_poll(r, &changed, &e);
	ok(rc == MB_OK && changed, "%s: poll: changed", fmt);
	if (rc != MB_OK)
		diag("%s: %s", fmt, e.msg);
	is_int(scan(r, &m), 1, "%s: mb_next gives the new message", fmt);
	ok(m != NULL && m->seq == 3 && text_has(r, m, "Subject: three"),
	   "%s: it is message 3, the appended text", fmt);
	changed = true;
	ok(mb_poll(r, &changed, &e) == MB_OK && !changed,
	   "%s: poll again: unchanged", fmt);
	is_int(scan(r, NULL), 0, "%s: nothing more to read", fmt);
	/* the single-file formats notice a file that shrank under them */
	if (strcmp(fmt, "unix") == 0 || strcmp(fmt, "mmdf") == 0 ||
	    strcmp(fmt, "mbx") == 0 || strcmp(fmt, "tenex") == 0 ||
	    strcmp(fmt, "mtx") == 0) {
		struct stat st;

		ok(stat(name, &st) == 0 && truncate(name, st.st_size / 2) == 0,
		   "%s: another process cuts the file", fmt);
		rc = mb_poll(r, &changed, &e);
		ok(rc == MB_FATAL && e.code == MB_ECHANGED,
		   "%s: poll: the mailbox changed beyond following (%s)", fmt,
		   rc == MB_OK ? "no error" : e.msg);
	} else {
		skip(2, "a directory mailbox does not shrink as a file");
	}
	mb_abort(&r);
}

int
main(void)
{
	struct mb_ctx *ctx;
	size_t i;

	t_tmpdir();
	setenv("TZ", "UTC", 1);
	ctx = mb_ctx_new();
	/* a writer that waited for the reader would wait for ever */
	mb_ctx_set(ctx, "lock-timeout", "2", NULL);
	mb_ctx_set(ctx, "dotlock-timeout", "2", NULL);
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		test_format(ctx, formats[i]);
	mb_ctx_free(&ctx);
	return done_testing();
}

/*
 * mdwatch - hold a mailbox open read/write while another program changes
 * it, then poll, for the maildir tests.
 *
 *	mdwatch BOX CMD [ARG...]
 *
 * Opens BOX, reads it whole and prints one line per message ("UID FLAGS
 * KEY"), runs CMD, calls mb_poll, prints "changed N" and the messages
 * again.  Exit 0, or 1 with the error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mb.h"

static void
flags_text(unsigned f, char *out)
{
	char *p = out;

	if (f & MB_SEEN)
		*p++ = 'S';
	if (f & MB_ANSWERED)
		*p++ = 'R';
	if (f & MB_FLAGGED)
		*p++ = 'F';
	if (f & MB_DELETED)
		*p++ = 'T';
	if (f & MB_DRAFT)
		*p++ = 'D';
	if (!(f & MB_OLD))
		*p++ = 'N';
	if (p == out)
		*p++ = '-';
	*p = '\0';
}

static int
list(struct mb_box *b)
{
	struct mb_msg *m;
	struct mb_err e;
	char f[16];
	int rc;

	if (mb_rewind(b, &e) != MB_OK)
		return 1;
	while ((rc = mb_next(b, &m, &e)) == MB_OK) {
		flags_text(m->flags, f);
		printf("%u %s %s\n", m->uid, f, m->key ? m->key : "-");
	}
	if (rc != MB_END) {
		fprintf(stderr, "mdwatch: %s\n", e.msg);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct mb_ctx *ctx = mb_ctx_new();
	struct mb_box *b;
	struct mb_err e;
	bool changed;
	pid_t pid;
	int st;

	if (argc < 3) {
		fprintf(stderr, "usage: mdwatch BOX CMD [ARG...]\n");
		return 64;
	}
	if (mb_open(ctx, argv[1], NULL, MB_RDWR, &b, &e) != MB_OK) {
		fprintf(stderr, "mdwatch: %s: %s\n", argv[1], e.msg);
		return 1;
	}
	if (list(b) != 0)
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "mdwatch: %s failed\n", argv[2]);
		return 1;
	}
	if (mb_poll(b, &changed, &e) != MB_OK) {
		fprintf(stderr, "mdwatch: poll: %s\n", e.msg);
		return 1;
	}
	printf("changed %d\n", changed);
	if (list(b) != 0)
		return 1;
	if (mb_close(&b, &e) != MB_OK) {
		fprintf(stderr, "mdwatch: %s\n", e.msg);
		return 1;
	}
	mb_ctx_free(&ctx);
	return 0;
}

/*
 * mimetool - the MIME engine of libmbox from the shell, for tests.
 *
 *	mimetool fetch MAILBOX          per message: "N (ENVELOPE ... BODY ...
 *	                                BODYSTRUCTURE ... RFC822.SIZE n)"
 *	mimetool files FILE...           the same, one message per file
 *	mimetool section FILE SECTION [OFF LEN]   BODY[SECTION] of one message
 *	mimetool binary FILE SECTION              BINARY[SECTION]
 *	mimetool decode-header TEXT               RFC 2047 decoding to UTF-8
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mb.h"
#include "mb-msg.h"

static int
die_err(const char *what, const struct mb_err *e)
{
	fprintf(stderr, "mimetool: %s: %s\n", what, e->msg);
	return 1;
}

static int
out_stdout(void *arg, const void *p, size_t n)
{
	return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

static void
print_fetch(unsigned n, const struct mb_mime *m)
{
	char *env = mb_imap_envelope(m->root);
	char *body = mb_imap_bodystructure(m->root, false);
	char *bs = mb_imap_bodystructure(m->root, true);

	printf("%u (ENVELOPE %s BODY %s BODYSTRUCTURE %s RFC822.SIZE %lld)\n",
	       n, env ? env : "?", body ? body : "?", bs ? bs : "?",
	       (long long)m->vsize);
	free(env);
	free(body);
	free(bs);
}

static int
cmd_fetch(const char *path)
{
	struct mb_ctx *ctx = mb_ctx_new();
	struct mb_box *box = NULL;
	struct mb_msg *msg;
	struct mb_reader *r;
	struct mb_mime *m;
	struct mb_err e;
	int rc;

	if (mb_open(ctx, path, NULL, MB_RDONLY | MB_NOLOCK, &box, &e) < 0)
		return die_err(path, &e);
	while ((rc = mb_next(box, &msg, &e)) == MB_OK) {
		if (mb_msg_open(box, msg, &r, &e) < 0)
			return die_err("msg_open", &e);
		if (mb_mime_parse(ctx, r, NULL, NULL, &m, &e) < 0)
			return die_err("parse", &e);
		print_fetch(msg->seq, m);
		mb_mime_free(&m);
		mb_reader_close(&r);
	}
	mb_close(&box, &e);
	mb_ctx_free(&ctx);
	return 0;
}

/* Each file one message, numbered from 1. */
static int
cmd_files(int n, char **files)
{
	struct mb_reader *r;
	struct mb_mime *m;
	struct mb_err e;
	struct stat st;
	int i, fd;

	for (i = 0; i < n; i++) {
		fd = open(files[i], O_RDONLY);
		if (fd < 0 || fstat(fd, &st) < 0) {
			perror(files[i]);
			return 1;
		}
		r = mb_reader_fd(fd, 0, st.st_size);
		if (mb_mime_parse(NULL, r, NULL, NULL, &m, &e) < 0)
			return die_err(files[i], &e);
		print_fetch((unsigned)i + 1, m);
		mb_mime_free(&m);
		mb_reader_close(&r);
		close(fd);
	}
	return 0;
}

static int
cmd_section(const char *path, const char *sec, bool binary, int argc,
	    char **argv)
{
	struct mb_reader *r;
	struct mb_mime *m;
	struct mb_err e;
	struct stat st;
	int fd = open(path, O_RDONLY), rc;
	int64_t off = 0, len = -1;

	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		return 1;
	}
	if (argc >= 2) {
		off = atoll(argv[0]);
		len = atoll(argv[1]);
	}
	r = mb_reader_fd(fd, 0, st.st_size);
	if (mb_mime_parse(NULL, r, NULL, NULL, &m, &e) < 0)
		return die_err("parse", &e);
	rc = 0;
	if (mb_imap_section(m, r, sec, binary, off, len, out_stdout, NULL,
			    NULL, &e) < 0) {
		die_err(sec, &e);
		/* 2: undecodable, 3: not a leaf, 1: anything else */
		rc = e.code == MB_EFORMAT ? 2 : e.code == MB_ENOTSUP ? 3 : 1;
	}
	mb_mime_free(&m);
	mb_reader_close(&r);
	close(fd);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "files") == 0)
		return cmd_files(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "fetch") == 0)
		return cmd_fetch(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "section") == 0)
		return cmd_section(argv[2], argv[3], false, argc - 4, argv + 4);
	if (argc >= 4 && strcmp(argv[1], "binary") == 0)
		return cmd_section(argv[2], argv[3], true, argc - 4, argv + 4);
	if (argc >= 3 && strcmp(argv[1], "decode-header") == 0) {
		char *s = mb_hdr_decode(argv[2], strlen(argv[2]), NULL);

		puts(s ? s : "");
		free(s);
		return 0;
	}
	fprintf(stderr, "usage: mimetool fetch|section|binary|"
			"decode-header ...\n");
	return 64;
}

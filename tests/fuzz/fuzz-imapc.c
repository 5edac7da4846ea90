/*
 * fuzz-imapc.c - the IMAP response reader and tokenizer (libmbox/imapc.c)
 * over a real TCP connection (mbi_conn_*, libmbox/net.c) from a scripted
 * server whose bytes are the input: every response is read (literals
 * spooled to a file), then tokenized to its end, lists skipped, quoted
 * strings unquoted and flag lists parsed; literal offsets are checked
 * against the spool.
 */
#include "fuzz-net.h"
#include "net.h"

static void
kw(void *arg, const char *name, size_t len)
{
	size_t *total = arg;

	if (len == 0 || name[len - 1] == 0x7f)
		*total += 1;
	*total += len;
}

static void
tokens(const struct mbi_imap_resp *r, int64_t spool_pos)
{
	struct mbi_imap_lex lx, sub;
	struct mbi_imap_tok t;
	struct mbi_buf q;
	unsigned flags;
	size_t total = 0;
	int type;

	mbi_buf_init(&q);
	mbi_imap_lex_init(&lx, r->text.buf, r->text.len);
	while ((type = mbi_imap_tok(&lx, &t)) != MBI_TOK_END &&
	       type != MBI_TOK_ERROR) {
		switch (type) {
		case MBI_TOK_STRING:
			mbi_imap_unquote(t.p, t.len, &q);
			break;
		case MBI_TOK_LITERAL:
			/* any "{...}" is a literal token: the caller checks
			 * the index (formats/imap.c does) */
			if (t.lit < r->nlit &&
			    r->lit_off[t.lit] + r->lit_len[t.lit] > spool_pos)
				abort();
			break;
		case MBI_TOK_LPAREN:
			sub = lx;
			mbi_imap_flags(&sub, &flags, kw, &total);
			if (!mbi_imap_skip(&lx, &t))
				goto out;
			break;
		default:
			break;
		}
	}
out:
	mbi_buf_free(&q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_srv srv;
	struct mbi_remote rem;
	struct mbi_imap_resp resp;
	struct mbi_conn *c = NULL;
	struct mb_ctx *ctx;
	struct mb_err e;
	char name[128], spool[300];
	int64_t pos = 0;
	int fd, i;

	ctx = mb_ctx_new();
	if (ctx == NULL)
		return 0;
	mb_ctx_set(ctx, "net-timeout", "5", &e);
	snprintf(spool, sizeof(spool), "%s/spool", fuzz_scratch());
	fd = open(spool, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	fuzz_srv_start(&srv, data, size);
	snprintf(name, sizeof(name), "{127.0.0.1:%d/notls}INBOX", srv.port);
	if (mbi_remote_parse(name, &rem, &e) != MB_OK ||
	    mbi_conn_open(ctx, &rem, 143, 993, &c, &e) != MB_OK)
		abort();
	mbi_buf_init(&resp.text);
	/* at most 1000 responses: each costs at least a line end */
	for (i = 0; i < 1000; i++) {
		if (mbi_imap_read(c, fd, &pos, 65536, &resp, &e) != MB_OK)
			break;
		tokens(&resp, pos);
	}
	mbi_buf_free(&resp.text);
	mbi_conn_close(&c);
	fuzz_srv_stop(&srv);
	close(fd);
	mb_ctx_free(&ctx);
	return 0;
}

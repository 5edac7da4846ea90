/*
 * fuzz-imap.c - the IMAP driver (formats/imap.c) against a scripted
 * server whose every byte is the input: greeting, CAPABILITY, LOGIN,
 * SELECT, the FETCH of flags, sizes and texts (literals), STORE and
 * EXPUNGE, through the public API as `mailbag fetch` uses it: open,
 * scan, read every message, delete the first, expunge, commit.  The
 * client's tags are A1, A2, ... in order.
 */
#include "fuzz-net.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[8192];
	struct fuzz_srv srv;
	struct mb_ctx *ctx;
	struct mb_box *box = NULL;
	struct mb_msg *m;
	struct mb_reader *r;
	struct mb_err e;
	char name[128];
	uint32_t n = 0, gone;
	int rc;

	ctx = mb_ctx_new();
	if (ctx == NULL)
		return 0;
	setenv("MAILBAG_FUZZ_PASS", "secret", 1);
	mb_ctx_set(ctx, "password-env", "MAILBAG_FUZZ_PASS", &e);
	mb_ctx_set(ctx, "plaintext-auth", "yes", &e);
	mb_ctx_set(ctx, "net-timeout", "5", &e);
	fuzz_srv_start(&srv, data, size);
	snprintf(name, sizeof(name), "{127.0.0.1:%d/notls/user=fuzz}INBOX",
		 srv.port);
	if (mb_open(ctx, name, NULL, MB_RDWR, &box, &e) == MB_OK) {
		while ((rc = mb_next(box, &m, &e)) != MB_END && rc != MB_FATAL) {
			if (rc != MB_OK)
				continue;
			n++;
			if (mb_msg_open(box, m, &r, &e) != MB_OK)
				continue;
			while (mb_reader_read(r, buf, sizeof(buf), &e) > 0)
				;
			mb_reader_close(&r);
		}
		if (n > 0)
			mb_set_flags(box, 1, MB_DELETED, 0, 0, 0, &e);
		if (mb_expunge(box, &gone, &e) != MB_FATAL)
			mb_close(&box, &e);
		else
			mb_abort(&box);
	}
	fuzz_srv_stop(&srv);
	mb_ctx_free(&ctx);
	return 0;
}

/*
 * fuzz-name.c - mailbox names: the remote name parser (libmbox/net.c,
 * "{host[:port][/flag...]}MAILBOX") and the name resolver (name.c:
 * "~/x", "#driver.NAME/rest", relative names).
 */
#include "fuzz.h"
#include "net.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mb_ctx *ctx;
	struct mbi_remote r;
	struct mb_err e;
	char *name, path[4096];
	const char *fmt;

	if (ctx == NULL) {
		ctx = mb_ctx_new();
		if (ctx == NULL)
			return 0;
	}
	name = malloc(size + 1);
	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = 0;
	if (mbi_remote_parse(name, &r, &e) == MB_OK) {
		if (r.spec_len > size || !memchr(r.host, 0, sizeof(r.host)) ||
		    !memchr(r.mailbox, 0, sizeof(r.mailbox)))
			abort();
		mbi_remote_driver(name, &e);
	}
	mb_resolve_name(ctx, name, path, sizeof(path), &fmt, &e);
	free(name);
	return 0;
}

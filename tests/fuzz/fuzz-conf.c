/*
 * fuzz-conf.c - the configuration file parser (libmbox/conf.c,
 * mailbag.conf(5)): the input is the system file ($MAILBAG_CONF); every
 * setting is read back afterwards.
 */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"new-format", "uw-metadata", "lock-timeout", "plaintext-auth",
		"net-timeout", "auth-mechanism", "spool-directory", "quote",
		"keywords", "dotlock", "local-host", NULL};
	struct mb_ctx *ctx;
	struct mb_err e;
	char path[300];
	const char *v;
	size_t i, total = 0;

	snprintf(path, sizeof(path), "%s/conf", fuzz_scratch());
	fuzz_write(path, data, size);
	setenv("MAILBAG_CONF", path, 1);
	/* no ~/.mailbagrc: HOME is the scratch directory */
	setenv("HOME", fuzz_scratch(), 1);
	ctx = mb_ctx_new();
	if (ctx == NULL)
		return 0;
	mb_ctx_load_config(ctx, &e);
	for (i = 0; names[i]; i++)
		if ((v = mb_ctx_get(ctx, names[i])) != NULL)
			total += strlen(v);
	mb_ctx_free(&ctx);
	(void)total;
	return 0;
}

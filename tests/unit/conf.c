/*
 * Unit tests for libmbox/conf.c: context defaults, settings, progress
 * rate limiting and the configuration files.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb-int.h"
#include "tap.h"

/* A stand-in for formats/registry.c, so this test links on its own. */
static const struct mb_driver fake_unix = { .name = "unix" };
static const struct mb_driver fake_mbx = { .name = "mbx" };
static const struct mb_driver fake_mmdf = { .name = "mmdf" };
const struct mb_driver *const mbi_drivers[] = { &fake_unix, &fake_mbx,
						&fake_mmdf, NULL };

const struct mb_driver *
mbi_driver_by_name(const char *name)
{
	size_t i;

	for (i = 0; mbi_drivers[i] != NULL; i++)
		if (strcmp(mbi_drivers[i]->name, name) == 0)
			return mbi_drivers[i];
	return NULL;
}

static void
test_defaults(void)
{
	struct mb_ctx *ctx = mb_ctx_new();
	char host[256] = "";
	struct stat st;
	const char *spool;

	if (!ok(ctx != NULL, "mb_ctx_new")) {
		printf("Bail out! no context\n");
		exit(1);
	}
	is_str(mb_ctx_get(ctx, "new-format"), "unix", "default new-format");
	is_str(mb_ctx_get(ctx, "uw-metadata"), "yes", "default uw-metadata");
	is_str(mb_ctx_get(ctx, "quote"), "mboxo", "default quote");
	is_str(mb_ctx_get(ctx, "lock-timeout"), "300", "default lock-timeout");
	is_str(mb_ctx_get(ctx, "dotlock-timeout"), "300",
	       "default dotlock-timeout");
	is_str(mb_ctx_get(ctx, "dotlock"), "yes", "default dotlock");
	spool = stat("/var/mail", &st) == 0 && S_ISDIR(st.st_mode) ?
			"/var/mail" :
			"/var/spool/mail";
	is_str(mb_ctx_get(ctx, "spool-directory"), spool,
	       "default spool-directory");
	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	is_str(mb_ctx_get(ctx, "local-host"), host, "default local-host");
	ok(ctx->uw_metadata && ctx->quote == MB_QUOTE_MBOXO &&
		   ctx->lock_timeout == 300 && ctx->dotlock_stale == 300 &&
		   ctx->dotlock,
	   "default fields");
	is_int((long long)ctx->max_line, 64LL << 20, "max_line 64 MiB");
	is_int((long long)ctx->max_header, 16LL << 20, "max_header 16 MiB");
	is_int(ctx->max_messages, 100000000, "max_messages");
	ok(ctx->diag == NULL && ctx->progress == NULL, "no hooks");
	is_str(mb_ctx_get(ctx, "no-such"), NULL, "get unknown: NULL");
	is_str(mb_ctx_get(NULL, "quote"), NULL, "get on NULL ctx: NULL");
	mb_ctx_free(&ctx);
	ok(ctx == NULL, "mb_ctx_free clears the pointer");
	mb_ctx_free(&ctx);
	mb_ctx_free(NULL);
	ok(1, "mb_ctx_free of NULL is harmless");
}

static void
test_set(void)
{
	static const struct {
		const char *name, *value;
		bool good;
		const char *get; /* expected mb_ctx_get(name) afterwards */
	} tab[] = {
		{ "new-format", "mbx", true, "mbx" },
		{ "new-format", "mmdf", true, "mmdf" },
		{ "new-format", "nosuch", false, "mmdf" },
		{ "new-format", "", false, "mmdf" },
		{ "new-mailbox-format", "unix", true, "unix" },
		{ "new-folder-format", "mbx", true, "mbx" },
		{ "uw-metadata", "no", true, "no" },
		{ "uw-metadata", "yes", true, "yes" },
		{ "uw-metadata", "false", true, "no" },
		{ "uw-metadata", "true", true, "yes" },
		{ "uw-metadata", "0", true, "no" },
		{ "uw-metadata", "1", true, "yes" },
		{ "uw-metadata", "NO", true, "no" },
		{ "uw-metadata", "maybe", false, "no" },
		{ "uw-metadata", "", false, "no" },
		{ "quote", "mboxrd", true, "mboxrd" },
		{ "quote", "mboxo", true, "mboxo" },
		{ "quote", "mboxcl", false, "mboxo" },
		{ "lock-timeout", "0", true, "0" },
		{ "lock-timeout", "45", true, "45" },
		{ "lock-timeout", "-1", false, "45" },
		{ "lock-timeout", "10s", false, "45" },
		{ "lock-timeout", "", false, "45" },
		{ "lock-timeout", "99999999999", false, "45" },
		{ "lock-timeout", "2147483647", true, "2147483647" },
		{ "dotlock-timeout", "600", true, "600" },
		{ "dotlock-timeout", "x", false, "600" },
		/* UW's name counts minutes: 2 minutes = 120 s */
		{ "dot-lock-file-timeout", "2", true, "2" },
		{ "dotlock", "no", true, "no" },
		{ "dotlock", "yes", true, "yes" },
		{ "dotlock", "sometimes", false, "yes" },
		{ "spool-directory", "/srv/mail", true, "/srv/mail" },
		{ "spool-directory", "relative/mail", false, "/srv/mail" },
		{ "spool-directory", "", false, "/srv/mail" },
		{ "local-host", "mx.example.org", true, "mx.example.org" },
		{ "local-host", "two words", false, "mx.example.org" },
		{ "local-host", "", false, "mx.example.org" },
		{ "LOCAL-HOST", "vm", true, "vm" },
	};
	struct mb_ctx *ctx = mb_ctx_new();
	struct mb_err e;
	char longv[300];
	const char *a, *b;
	size_t i;
	int r;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		mb_err_clear(&e);
		r = mb_ctx_set(ctx, tab[i].name, tab[i].value, &e);
		if (tab[i].good)
			ok(r == MB_OK && e.code == MB_ENONE, "set %s = '%s'",
			   tab[i].name, tab[i].value);
		else
			ok(r == MB_FAILED && e.code == MB_EINVAL,
			   "refuse %s = '%s' (%s)", tab[i].name, tab[i].value,
			   e.msg);
		is_str(mb_ctx_get(ctx, tab[i].name), tab[i].get,
		       "  then %s is '%s'", tab[i].name, tab[i].get);
	}
	ok(!ctx->uw_metadata && ctx->dotlock, "boolean fields");
	is_int(ctx->lock_timeout, 2147483647, "lock_timeout field");
	is_int(ctx->dotlock_stale, 120, "dotlock_stale field");
	is_int(ctx->quote, MB_QUOTE_MBOXO, "quote field");

	r = mb_ctx_set(ctx, "bogus", "1", &e);
	ok(r == MB_FAILED && e.code == MB_EINVAL, "unknown name fails");
	is_str(e.msg, "unknown setting 'bogus'", "unknown name message");
	r = mb_ctx_set(ctx, "quote", "x", &e);
	is_str(e.msg, "bad value 'x' for 'quote'", "bad value message");
	ok(mb_ctx_set(NULL, "quote", "mboxo", &e) == MB_FAILED &&
		   mb_ctx_set(ctx, NULL, "mboxo", &e) == MB_FAILED &&
		   mb_ctx_set(ctx, "quote", NULL, &e) == MB_FAILED &&
		   mb_ctx_set(ctx, "quote", "mboxo", NULL) == MB_OK,
	   "NULL arguments");

	memset(longv, 'a', sizeof(longv));
	longv[0] = '/';
	longv[sizeof(longv) - 1] = '\0';
	ok(mb_ctx_set(ctx, "spool-directory", longv, &e) == MB_FAILED,
	   "too long a spool directory");
	is_str(ctx->spool_dir, "/srv/mail", "  left unchanged");

	/* Each numeric setting has its own text buffer. */
	mb_ctx_set(ctx, "lock-timeout", "7", &e);
	mb_ctx_set(ctx, "dotlock-timeout", "8", &e);
	a = mb_ctx_get(ctx, "lock-timeout");
	b = mb_ctx_get(ctx, "dotlock-timeout");
	ok(a && b && strcmp(a, "7") == 0 && strcmp(b, "8") == 0,
	   "two numeric gets at once");
	ctx->lock_timeout = 9;
	is_str(mb_ctx_get(ctx, "lock-timeout"), "9", "get reflects the field");
	mb_ctx_free(&ctx);
}

struct calls {
	int n;
	int64_t done[16], total[16];
};

static void
progress_cb(void *arg, int64_t done, int64_t total)
{
	struct calls *c = arg;

	if (c->n < 16) {
		c->done[c->n] = done;
		c->total[c->n] = total;
	}
	c->n++;
}

static void
diag_cb(void *arg, const struct mb_diag *d)
{
	(*(int *)arg)++;
}

static void
test_hooks(void)
{
	struct mb_ctx *ctx = mb_ctx_new();
	struct mb_box *b = calloc(1, sizeof(*b));
	struct calls c = { 0 };
	int64_t M = 1 << 20, off;
	int dn = 0;

	b->ctx = ctx;
	mbi_progress(b, 0, 100 * M);
	is_int(c.n, 0, "no progress callback set: no call");
	mb_ctx_set_progress(ctx, progress_cb, &c);
	ok(ctx->progress == progress_cb && ctx->progress_arg == &c,
	   "set_progress");

	for (off = 0; off <= 31 * M; off += M / 2)
		mbi_progress(b, off, 32 * M - 1);
	is_int(c.n, 0, "total under 32 MiB: never called");

	b->progress_next = 0;
	for (off = 0; off <= 100 * M; off += M)
		mbi_progress(b, off, 100 * M);
	is_int(c.n, 7, "100 MiB in 1 MiB steps: 7 calls");
	ok(c.done[0] == 0 && c.done[1] == 16 * M && c.done[2] == 32 * M &&
		   c.done[6] == 96 * M && c.total[3] == 100 * M,
	   "every 16 MiB");
	is_int(b->progress_next, 112 * M, "progress_next = done + 16 MiB");

	c.n = 0;
	b->progress_next = 0;
	mbi_progress(b, 5 * M, 64 * M);
	mbi_progress(b, 20 * M, 64 * M);
	mbi_progress(b, 21 * M, 64 * M);
	mbi_progress(b, 60 * M, 64 * M);
	is_int(c.n, 3, "uneven steps: called at 5, 21 and 60 MiB");
	ok(c.done[1] == 21 * M && c.done[2] == 60 * M, "  those offsets");
	mbi_progress(NULL, 0, 0);
	b->ctx = NULL;
	mbi_progress(b, 90 * M, 100 * M);
	is_int(c.n, 3, "no box or no ctx: no call");

	mb_ctx_set_diag(ctx, diag_cb, &dn);
	ok(ctx->diag == diag_cb && ctx->diag_arg == &dn, "set_diag");
	b->ctx = ctx;
	mbi_diag(b, MB_DIAG_WARN, "test", 0, 1, 0, "x");
	is_int(dn, 1, "diag reaches the callback");
	mb_ctx_set_diag(ctx, NULL, NULL);
	mbi_diag(b, MB_DIAG_WARN, "test", 0, 1, 0, "x");
	is_int(dn, 1, "diag cleared");
	mb_ctx_set_diag(NULL, diag_cb, NULL);
	mb_ctx_set_progress(NULL, progress_cb, NULL);
	free(b);
	mb_ctx_free(&ctx);
}

static void
put(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

#define PUT(path, lit) put(path, lit, sizeof(lit) - 1)

static void
test_files(void)
{
	char dir[1024], sys[1100], rc[1100];
	struct mb_ctx *ctx;
	struct mb_err e;
	int r;

	snprintf(dir, sizeof(dir), "%s", t_tmpdir());
	snprintf(sys, sizeof(sys), "%s/mailbag.conf", dir);
	snprintf(rc, sizeof(rc), "%s/.mailbagrc", dir);
	setenv("HOME", dir, 1);

	/* Neither file exists. */
	setenv("MAILBAG_CONF", sys, 1);
	ctx = mb_ctx_new();
	mb_err_clear(&e);
	ok(mb_ctx_load_config(ctx, &e) == MB_OK && e.code == MB_ENONE,
	   "missing files are fine");
	is_str(mb_ctx_get(ctx, "new-format"), "unix", "  defaults kept");
	mb_ctx_free(&ctx);

	/* Both syntaxes, comments, blank lines, CRLF, quotes. */
	PUT(sys, "# system settings\n"
		 "\n"
		 "new-format = mbx\n"
		 "   quote=mboxrd   \n"
		 "\tlock-timeout\t=\t60\r\n"
		 "set dotlock-timeout 30\n"
		 "set uw-metadata no\n"
		 "set local-host \"mx.example.org\"\n"
		 "  # indented comment\n"
		 "spool-directory = /srv/mail");
	PUT(rc, "new-format = mmdf\n"
		"set new-mailbox-format unix\n"
		"dotlock = no\n");
	ctx = mb_ctx_new();
	r = mb_ctx_load_config(ctx, &e);
	is_int(r, MB_OK, "both files load");
	is_str(mb_ctx_get(ctx, "new-format"), "unix", "user file wins");
	is_str(mb_ctx_get(ctx, "quote"), "mboxrd", "name=value, no spaces");
	is_str(mb_ctx_get(ctx, "lock-timeout"), "60", "tabs and CRLF");
	is_str(mb_ctx_get(ctx, "dotlock-timeout"), "30", "set name value");
	is_str(mb_ctx_get(ctx, "uw-metadata"), "no", "set boolean");
	is_str(mb_ctx_get(ctx, "local-host"), "mx.example.org", "quoted value");
	is_str(mb_ctx_get(ctx, "spool-directory"), "/srv/mail",
	       "last line without newline");
	is_str(mb_ctx_get(ctx, "dotlock"), "no", "user file setting");
	mb_ctx_free(&ctx);

	/* A UW c-client.cf's first line. */
	PUT(sys, "I accept the risk\nset new-folder-format mbx\n");
	unlink(rc);
	ctx = mb_ctx_new();
	ok(mb_ctx_load_config(ctx, &e) == MB_OK &&
		   strcmp(mb_ctx_get(ctx, "new-format"), "mbx") == 0,
	   "c-client.cf style file");
	mb_ctx_free(&ctx);
	PUT(sys, "set quote mboxo\nI accept the risk\n");
	ctx = mb_ctx_new();
	ok(mb_ctx_load_config(ctx, &e) == MB_FAILED && e.code == MB_ECONFIG &&
		   e.offset == 16,
	   "'I accept the risk' only as the first line (%s)", e.msg);
	mb_ctx_free(&ctx);

	/* Errors: path, byte offset of the line, line number in msg. */
	PUT(sys, "# ok\nquote = mboxrd\nbogus = 1\nquote = mboxo\n");
	ctx = mb_ctx_new();
	mb_err_clear(&e);
	r = mb_ctx_load_config(ctx, &e);
	ok(r == MB_FAILED && e.code == MB_ECONFIG, "unknown setting fails");
	is_str(e.path, sys, "  path set");
	is_int(e.offset, 20, "  offset of the bad line");
	is_str(e.msg, "line 3: unknown setting 'bogus'", "  message");
	is_str(mb_ctx_get(ctx, "quote"), "mboxrd", "  stops at the bad line");
	mb_ctx_free(&ctx);

	PUT(sys, "quote = mboxcl\n");
	ctx = mb_ctx_new();
	r = mb_ctx_load_config(ctx, &e);
	ok(r == MB_FAILED && e.code == MB_ECONFIG && e.offset == 0,
	   "bad value fails at line 1");
	is_str(e.msg, "line 1: bad value 'mboxcl' for 'quote'", "  message");
	mb_ctx_free(&ctx);

	PUT(sys, "\n\nquote mboxrd\n");
	ctx = mb_ctx_new();
	r = mb_ctx_load_config(ctx, &e);
	ok(r == MB_FAILED && e.code == MB_ECONFIG && e.offset == 2,
	   "syntax error (%s)", e.msg);
	ok(strncmp(e.msg, "line 3: ", 8) == 0, "  line number");
	mb_ctx_free(&ctx);

	PUT(sys, "= mboxrd\n");
	ctx = mb_ctx_new();
	ok(mb_ctx_load_config(ctx, &e) == MB_FAILED && e.code == MB_ECONFIG,
	   "missing name (%s)", e.msg);
	mb_ctx_free(&ctx);

	PUT(sys, "set quote\n");
	ctx = mb_ctx_new();
	ok(mb_ctx_load_config(ctx, &e) == MB_FAILED && e.code == MB_ECONFIG,
	   "set without value (%s)", e.msg);
	mb_ctx_free(&ctx);

	put(sys, "quote = mb\0xrd\n", 15);
	ctx = mb_ctx_new();
	ok(mb_ctx_load_config(ctx, &e) == MB_FAILED && e.code == MB_ECONFIG,
	   "NUL byte (%s)", e.msg);
	mb_ctx_free(&ctx);

	/* The error can come from the user file too. */
	PUT(sys, "quote = mboxrd\n");
	PUT(rc, "\nlock-timeout = soon\n");
	ctx = mb_ctx_new();
	r = mb_ctx_load_config(ctx, &e);
	ok(r == MB_FAILED && e.code == MB_ECONFIG && e.offset == 1 &&
		   strcmp(e.path, rc) == 0,
	   "bad user file (%s)", e.msg);
	is_str(mb_ctx_get(ctx, "quote"), "mboxrd", "  system file was read");
	mb_ctx_free(&ctx);
	unlink(rc);

	/* A directory where the file should be is an error, not absence. */
	unlink(sys);
	mkdir(sys, 0700);
	ctx = mb_ctx_new();
	ok(mb_ctx_load_config(ctx, &e) == MB_FAILED, "directory: fails (%s)",
	   e.msg);
	mb_ctx_free(&ctx);
	rmdir(sys);

	if (geteuid() != 0) {
		PUT(sys, "quote = mboxrd\n");
		chmod(sys, 0);
		ctx = mb_ctx_new();
		ok(mb_ctx_load_config(ctx, &e) == MB_FAILED &&
			   e.code == MB_EPERM,
		   "unreadable file: fails (%s)", e.msg);
		mb_ctx_free(&ctx);
		chmod(sys, 0600);
	} else {
		skip(1, "root reads everything");
	}
	unsetenv("MAILBAG_CONF");
	ok(mb_ctx_load_config(NULL, &e) == MB_FAILED, "NULL ctx");
}

int
main(void)
{
	test_defaults();
	test_set();
	test_hooks();
	test_files();
	return done_testing();
}

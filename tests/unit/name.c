/*
 * Unit tests for libmbox/name.c: mailbox names to paths.
 */
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include "mb-int.h"
#include "tap.h"

/* A stand-in for formats/registry.c, so this test links on its own. */
static const struct mb_driver fake_unix = { .name = "unix" };
static const struct mb_driver fake_mbx = { .name = "mbx" };
const struct mb_driver *const mbi_drivers[] = { &fake_unix, &fake_mbx, NULL };

const struct mb_driver *
mbi_driver_by_name(const char *name)
{
	size_t i;

	for (i = 0; mbi_drivers[i] != NULL; i++)
		if (strcmp(mbi_drivers[i]->name, name) == 0)
			return mbi_drivers[i];
	return NULL;
}

/* Expected values are built from these at run time. */
static char me[256], my_pwdir[1024], root_dir[1024];

struct ncase {
	const char *name;
	const char *want;   /* path, with $H $P $R $U expanded; NULL: error */
	const char *format; /* forced format, or NULL */
	const char *msg;    /* expected error message (when want is NULL) */
};

/* $H = HOME, $U = our login, $R = root's home. */
static void
expand(const char *tpl, char *out, size_t size)
{
	size_t o = 0;
	const char *v;

	for (; *tpl && o + 1 < size; tpl++) {
		if (tpl[0] == '$' &&
		    (tpl[1] == 'H' || tpl[1] == 'U' || tpl[1] == 'R')) {
			v = tpl[1] == 'H' ? "/home/tester" :
			    tpl[1] == 'U' ? me :
					    root_dir;
			while (*v && o + 1 < size)
				out[o++] = *v++;
			tpl++;
		} else {
			out[o++] = *tpl;
		}
	}
	out[o] = '\0';
}

static void
run(struct mb_ctx *ctx, const struct ncase *tab, size_t n)
{
	char path[PATH_MAX], want[PATH_MAX];
	const char *fmt;
	struct mb_err e;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		mb_err_clear(&e);
		fmt = "junk";
		snprintf(path, sizeof(path), "junk");
		r = mb_resolve_name(ctx, tab[i].name, path, sizeof(path), &fmt,
				    &e);
		if (tab[i].want != NULL) {
			expand(tab[i].want, want, sizeof(want));
			if (!ok(r == MB_OK && strcmp(path, want) == 0 &&
					((fmt == NULL &&
					  tab[i].format == NULL) ||
					 (fmt && tab[i].format &&
					  strcmp(fmt, tab[i].format) == 0)),
				"'%s' -> '%s' %s", tab[i].name, want,
				tab[i].format ? tab[i].format : ""))
				diag("r=%d path='%s' fmt=%s msg=%s", r, path,
				     fmt ? fmt : "NULL", e.msg);
		} else {
			if (!ok(r == MB_FAILED && e.code == MB_EINVAL &&
					path[0] == '\0' && fmt == NULL &&
					strcmp(e.msg, tab[i].msg) == 0,
				"'%s' refused: %s", tab[i].name, tab[i].msg))
				diag("r=%d code=%d path='%s' msg='%s'", r,
				     e.code, path, e.msg);
		}
	}
}

static void
test_names(struct mb_ctx *ctx)
{
	static const struct ncase tab[] = {
		{ "INBOX", "/srv/mail/$U", NULL, NULL },
		{ "inbox", "/srv/mail/$U", NULL, NULL },
		{ "InBoX", "/srv/mail/$U", NULL, NULL },
		{ "INBOXES", "INBOXES", NULL, NULL },
		{ "INBOX/sub", "INBOX/sub", NULL, NULL },
		{ "INBO", "INBO", NULL, NULL },
		{ "~/x", "$H/x", NULL, NULL },
		{ "~/a/b/c", "$H/a/b/c", NULL, NULL },
		{ "~", "$H", NULL, NULL },
		{ "~/", "$H", NULL, NULL },
		{ "~root/x", "$R/x", NULL, NULL },
		{ "~root", "$R", NULL, NULL },
		{ "~no-such-user-xq7/x", NULL, NULL,
		  "no such user 'no-such-user-xq7'" },
		{ "~no-such-user-xq7", NULL, NULL,
		  "no such user 'no-such-user-xq7'" },
		{ "/abs/path", "/abs/path", NULL, NULL },
		{ "/", "/", NULL, NULL },
		{ "plain", "plain", NULL, NULL },
		{ "sub/dir/box", "sub/dir/box", NULL, NULL },
		{ "./x", "./x", NULL, NULL },
		{ "x~y", "x~y", NULL, NULL },
		{ "#driver.mbx/x1", "$H/x1", "mbx", NULL },
		{ "#driver.mbx/tmp/x", "$H/tmp/x", "mbx", NULL },
		{ "#driver.mbx//tmp/x", "/tmp/x", "mbx", NULL },
		{ "#driver.mbx:colon1", "$H/colon1", "mbx", NULL },
		{ "#driver.unix\\back", "$H/back", "unix", NULL },
		{ "#driver.mbx/INBOX", "$H/INBOX", "mbx", NULL },
		{ "#driver.mbx/~/y", "$H/y", "mbx", NULL },
		{ "#driver.mbx/~root/y", "$R/y", "mbx", NULL },
		{ "#DRIVER.unix/x", "$H/x", "unix", NULL },
		{ "#driver.mbx", NULL, NULL,
		  "bad driver syntax in '#driver.mbx'" },
		{ "#driver./x", NULL, NULL,
		  "bad driver syntax in '#driver./x'" },
		{ "#driver.nosuch/x", NULL, NULL, "unknown driver 'nosuch'" },
		{ "#driver.MBX/x", NULL, NULL, "unknown driver 'MBX'" },
		{ "#driver.mbx/", NULL, NULL, "empty mailbox name" },
		{ "#driver.mbx/{host}x", NULL, NULL,
		  "remote mailbox names are not supported: '{host}x'" },
		{ "#driver.mbx/#driver.unix/x", NULL, NULL,
		  "unsupported name space in '#driver.unix/x'" },
		{ "#driver.mbx/~nobody-xq7/y", NULL, NULL,
		  "no such user 'nobody-xq7'" },
		{ "", NULL, NULL, "empty mailbox name" },
		/* remote names pass through: the remote drivers parse them */
		{ "{imap.example.org}INBOX", "{imap.example.org}INBOX", NULL,
		  NULL },
		{ "#ftp/x", NULL, NULL, "unsupported name space in '#ftp/x'" },
		{ "#news.comp.mail", NULL, NULL,
		  "unsupported name space in '#news.comp.mail'" },
	};

	run(ctx, tab, sizeof(tab) / sizeof(tab[0]));
}

static void
test_limits(struct mb_ctx *ctx)
{
	char small[12], big[5000];
	const char *fmt = "junk";
	struct mb_err e;
	int r;

	r = mb_resolve_name(ctx, "/abc/defghij", small, sizeof(small), &fmt,
			    &e);
	ok(r == MB_FAILED && e.code == MB_EINVAL &&
		   strcmp(e.msg, "name too long") == 0 && small[0] == '\0' &&
		   fmt == NULL,
	   "12 bytes for a 12-char name: too long");
	r = mb_resolve_name(ctx, "/abc/defghi", small, sizeof(small), &fmt, &e);
	ok(r == MB_OK && strcmp(small, "/abc/defghi") == 0,
	   "11 chars fit in 12 bytes");
	r = mb_resolve_name(ctx, "~/abcdefg", small, sizeof(small), &fmt, &e);
	ok(r == MB_FAILED && strcmp(e.msg, "name too long") == 0 &&
		   small[0] == '\0',
	   "home expansion too long");
	r = mb_resolve_name(ctx, "#driver.mbx/abcdefg", small, sizeof(small),
			    &fmt, &e);
	ok(r == MB_FAILED && strcmp(e.msg, "name too long") == 0 && fmt == NULL,
	   "#driver expansion too long: no format either");
	r = mb_resolve_name(ctx, "INBOX", small, 5, &fmt, &e);
	ok(r == MB_FAILED && strcmp(e.msg, "name too long") == 0,
	   "INBOX path too long");

	memset(big, 'u', sizeof(big));
	big[0] = '~';
	big[sizeof(big) - 1] = '\0';
	r = mb_resolve_name(ctx, big, small, sizeof(small), &fmt, &e);
	ok(r == MB_FAILED && e.code == MB_EINVAL &&
		   strncmp(e.msg, "no such user '", 14) == 0,
	   "very long user name");
	memcpy(big, "#driver.", 8);
	r = mb_resolve_name(ctx, big, small, sizeof(small), &fmt, &e);
	ok(r == MB_FAILED && e.code == MB_EINVAL, "very long driver name: %s",
	   e.msg);
	big[100] = '/';
	r = mb_resolve_name(ctx, big, small, sizeof(small), &fmt, &e);
	ok(r == MB_FAILED && strncmp(e.msg, "unknown driver '", 16) == 0,
	   "long driver name: %s", e.msg);

	ok(mb_resolve_name(ctx, NULL, small, sizeof(small), &fmt, &e) ==
			   MB_FAILED &&
		   strcmp(e.msg, "empty mailbox name") == 0,
	   "NULL name");
	ok(mb_resolve_name(ctx, "x", NULL, 10, &fmt, &e) == MB_FAILED,
	   "NULL path");
	ok(mb_resolve_name(ctx, "x", small, 0, &fmt, &e) == MB_FAILED,
	   "size 0");
	ok(mb_resolve_name(ctx, "x", small, sizeof(small), NULL, NULL) ==
			   MB_OK &&
		   strcmp(small, "x") == 0,
	   "format and e may be NULL");
	ok(mb_resolve_name(NULL, "INBOX", small, sizeof(small), &fmt, &e) ==
			   MB_FAILED &&
		   e.code == MB_EINVAL,
	   "INBOX without a context: %s", e.msg);
	ok(mb_resolve_name(NULL, "/x", small, sizeof(small), &fmt, &e) == MB_OK,
	   "other names need no context");
}

static int
mbi_inbox_path(struct mb_ctx *ctx, char *path, size_t size, struct mb_err *e)
{
	struct mb_inbox in;
	int r;

	if (path == NULL || size == 0)
		return MB_FAILED;
	r = mb_inbox(ctx, &in, e);
	if (r == MB_OK)
		snprintf(path, size, "%s", in.path);
	return r;
}

static void
test_inbox(struct mb_ctx *ctx)
{
	char path[PATH_MAX], want[PATH_MAX];
	struct mb_err e;

	snprintf(want, sizeof(want), "/srv/mail/%s", me);
	ok(mbi_inbox_path(ctx, path, sizeof(path), &e) == MB_OK &&
		   strcmp(path, want) == 0,
	   "mbi_inbox_path");
	mb_ctx_set(ctx, "spool-directory", "/var/spool/mail/", &e);
	snprintf(want, sizeof(want), "/var/spool/mail/%s", me);
	ok(mbi_inbox_path(ctx, path, sizeof(path), &e) == MB_OK &&
		   strcmp(path, want) == 0,
	   "spool directory with a trailing slash");
	/* $USER does not decide whose spool file it is. */
	setenv("USER", "someone-else", 1);
	setenv("LOGNAME", "someone-else", 1);
	ok(mbi_inbox_path(ctx, path, sizeof(path), &e) == MB_OK &&
		   strcmp(path, want) == 0,
	   "USER and LOGNAME are ignored");
	ok(mbi_inbox_path(ctx, NULL, 0, &e) == MB_FAILED, "no buffer");
}

static void
test_no_home(struct mb_ctx *ctx)
{
	char path[PATH_MAX], want[PATH_MAX];
	struct mb_err e;
	const char *fmt;

	unsetenv("HOME");
	snprintf(want, sizeof(want), "%s%sx", my_pwdir,
		 my_pwdir[strlen(my_pwdir) - 1] == '/' ? "" : "/");
	ok(mb_resolve_name(ctx, "~/x", path, sizeof(path), &fmt, &e) == MB_OK &&
		   strcmp(path, want) == 0,
	   "no HOME: the password file's home (%s)", path);
	setenv("HOME", "", 1);
	ok(mb_resolve_name(ctx, "#driver.unix/x", path, sizeof(path), &fmt,
			   &e) == MB_OK &&
		   strcmp(path, want) == 0,
	   "empty HOME: the password file's home");
	setenv("HOME", "/", 1);
	ok(mb_resolve_name(ctx, "~/x", path, sizeof(path), &fmt, &e) == MB_OK &&
		   strcmp(path, "/x") == 0,
	   "HOME=/ gives /x, not //x");
}

int
main(void)
{
	struct passwd pwe, *pw = NULL;
	char pwbuf[16384];
	struct mb_ctx *ctx;
	struct mb_err e;

	if (getpwuid_r(getuid(), &pwe, pwbuf, sizeof(pwbuf), &pw) != 0 ||
	    pw == NULL) {
		printf("1..0 # skip no password entry for our uid\n");
		return 0;
	}
	snprintf(me, sizeof(me), "%s", pw->pw_name);
	snprintf(my_pwdir, sizeof(my_pwdir), "%s", pw->pw_dir);
	pw = NULL;
	if (getpwnam_r("root", &pwe, pwbuf, sizeof(pwbuf), &pw) != 0)
		pw = NULL;
	snprintf(root_dir, sizeof(root_dir), "%s", pw ? pw->pw_dir : "/root");

	setenv("HOME", "/home/tester", 1);
	ctx = mb_ctx_new();
	if (ctx == NULL ||
	    mb_ctx_set(ctx, "spool-directory", "/srv/mail", &e) != MB_OK) {
		printf("Bail out! no context\n");
		return 1;
	}
	test_names(ctx);
	test_limits(ctx);
	test_inbox(ctx);
	test_no_home(ctx);
	mb_ctx_free(&ctx);
	return done_testing();
}

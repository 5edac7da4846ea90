/*
 * conf.c - the context: its lifetime, its settings and the configuration
 * files that set them (mailbag.conf(5)).
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb-int.h"

#define MIB	      ((size_t)1 << 20)
#define PROGRESS_STEP ((int64_t)16 << 20) /* bytes between reports */
#define PROGRESS_MIN  ((int64_t)32 << 20) /* smaller jobs: no reports */
#define CONF_LINE_MAX 65536

#ifndef MAILBAG_LOCK_HELPER
#define MAILBAG_LOCK_HELPER "/usr/local/lib/mailbag/mailbag-lock"
#endif

enum setting {
	S_NEW_FORMAT,
	S_UW_METADATA,
	S_QUOTE,
	S_LOCK_TIMEOUT,
	S_DOTLOCK_TIMEOUT,
	S_DOTLOCK,
	S_SPOOL_DIR,
	S_LOCAL_HOST,
	S_UW_DOTLOCK_MINUTES, /* UW's dot-lock-file-timeout, in minutes */
	S_KEYWORDS,	      /* mtx/tenex keyword names, as UW's "keywords" */
	S_LOCK_HELPER,
};

static const struct {
	const char *name;
	enum setting id;
} settings[] = {
	{ "new-format", S_NEW_FORMAT },
	{ "uw-metadata", S_UW_METADATA },
	{ "quote", S_QUOTE },
	{ "lock-timeout", S_LOCK_TIMEOUT },
	{ "dotlock-timeout", S_DOTLOCK_TIMEOUT },
	{ "dotlock", S_DOTLOCK },
	{ "spool-directory", S_SPOOL_DIR },
	{ "local-host", S_LOCAL_HOST },
	{ "keywords", S_KEYWORDS },
	{ "lock-helper", S_LOCK_HELPER },
	/* c-client.cf spellings of the same things, so that a UW
	 * configuration line can be copied over as it is. */
	{ "new-mailbox-format", S_NEW_FORMAT },
	{ "new-folder-format", S_NEW_FORMAT },
	{ "dot-lock-file-timeout", S_UW_DOTLOCK_MINUTES },
};

/* ASCII case-insensitive equality; strcasecmp would follow the locale. */
static bool
eq_ci(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = (unsigned char)*a, y = (unsigned char)*b;

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
		if (x == 0)
			return true;
	}
}

static int
find_setting(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (eq_ci(name, settings[i].name))
			return (int)settings[i].id;
	return -1;
}

struct mb_ctx *
mb_ctx_new(void)
{
	struct mb_ctx *ctx = calloc(1, sizeof(*ctx));
	struct stat st;

	if (ctx == NULL)
		return NULL;
	snprintf(ctx->new_format, sizeof(ctx->new_format), "unix");
	ctx->uw_metadata = true;
	ctx->quote = MB_QUOTE_MBOXO;
	ctx->lock_timeout = 300;
	ctx->dotlock_stale = 300;
	ctx->dotlock = true;
	/* Debian and most current systems use /var/mail; older ones and
	 * UW's default build use /var/spool/mail. */
	if (stat("/var/mail", &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(ctx->spool_dir, sizeof(ctx->spool_dir), "/var/mail");
	else
		snprintf(ctx->spool_dir, sizeof(ctx->spool_dir),
			 "/var/spool/mail");
	/* gethostname need not terminate a truncated name. */
	if (gethostname(ctx->localhost, sizeof(ctx->localhost) - 1) != 0)
		ctx->localhost[0] = '\0';
	ctx->localhost[sizeof(ctx->localhost) - 1] = '\0';
	if (ctx->localhost[0] == '\0')
		snprintf(ctx->localhost, sizeof(ctx->localhost), "localhost");
	snprintf(ctx->lock_helper, sizeof(ctx->lock_helper), "%s",
		 MAILBAG_LOCK_HELPER);
	ctx->max_line = 64 * MIB;
	ctx->max_header = 16 * MIB;
	ctx->max_messages = 100000000;
	mbi_net_defaults(&ctx->net);
	return ctx;
}

void
mb_ctx_free(struct mb_ctx **ctx)
{
	if (ctx == NULL)
		return;
	if (*ctx != NULL)
		explicit_bzero((*ctx)->net.secret, sizeof((*ctx)->net.secret));
	free(*ctx);
	*ctx = NULL;
}

void
mb_ctx_set_diag(struct mb_ctx *ctx, mb_diag_fn fn, void *arg)
{
	if (ctx == NULL)
		return;
	ctx->diag = fn;
	ctx->diag_arg = arg;
}

void
mb_ctx_set_progress(struct mb_ctx *ctx, mb_progress_fn fn, void *arg)
{
	if (ctx == NULL)
		return;
	ctx->progress = fn;
	ctx->progress_arg = arg;
}

void
mbi_progress(struct mb_box *b, int64_t done, int64_t total)
{
	if (b == NULL || b->ctx == NULL || b->ctx->progress == NULL)
		return;
	/* A progress line for a file read in a blink is just noise. */
	if (total < PROGRESS_MIN)
		return;
	if (done < b->progress_next)
		return;
	b->ctx->progress(b->ctx->progress_arg, done, total);
	b->progress_next = done > INT64_MAX - PROGRESS_STEP ?
				   INT64_MAX :
				   done + PROGRESS_STEP;
}

static bool
parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "1", "on" };
	static const char *const no[] = { "no", "false", "0", "off" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (eq_ci(v, yes[i])) {
			*out = true;
			return true;
		}
		if (eq_ci(v, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Seconds: plain decimal digits, no sign, no suffix, at most INT_MAX. */
static bool
parse_seconds(const char *v, int *out)
{
	long long n = 0;

	if (*v == '\0')
		return false;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return false;
		n = n * 10 + (*v - '0');
		if (n > INT_MAX)
			return false;
	}
	*out = (int)n;
	return true;
}

static bool
has_space(const char *v)
{
	for (; *v; v++)
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
			return true;
	return false;
}

/*
 * UW's "keywords": names separated by blanks, at most 30 (UW's
 * NUSERFLAGS) of at most 50 bytes each (MAXUSERFLAG).
 */
static bool
valid_keywords(const char *v)
{
	size_t n, count = 0;

	for (;;) {
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == '\0')
			return true;
		for (n = 0; v[n] && v[n] != ' ' && v[n] != '\t'; n++)
			if ((unsigned char)v[n] < 0x21 || v[n] == 0x7f)
				return false;
		if (n > 50 || ++count > 30)
			return false;
		v += n;
	}
}

/* Copy v into a settings field; false when it does not fit. */
static bool
set_text(char *field, size_t size, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= size)
		return false;
	memcpy(field, v, n + 1);
	return true;
}

int
mb_ctx_set(struct mb_ctx *ctx, const char *name, const char *value,
	   struct mb_err *e)
{
	const struct mb_driver *drv;
	int id, n;
	bool b;

	if (ctx == NULL || name == NULL || value == NULL)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "missing context, setting name or value");
	id = find_setting(name);
	if (id < 0 && (n = mbi_net_set(ctx, name, value, e)) != 1)
		return n;
	if (id < 0)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "unknown setting '%s'", name);
	switch ((enum setting)id) {
	case S_NEW_FORMAT:
		drv = mbi_driver_by_name(value);
		if (drv == NULL || drv->name == NULL ||
		    !set_text(ctx->new_format, sizeof(ctx->new_format),
			      drv->name))
			goto bad;
		return MB_OK;
	case S_UW_METADATA:
		if (!parse_bool(value, &b))
			goto bad;
		ctx->uw_metadata = b;
		return MB_OK;
	case S_QUOTE:
		if (eq_ci(value, "mboxo"))
			ctx->quote = MB_QUOTE_MBOXO;
		else if (eq_ci(value, "mboxrd"))
			ctx->quote = MB_QUOTE_MBOXRD;
		else
			goto bad;
		return MB_OK;
	case S_LOCK_TIMEOUT:
		if (!parse_seconds(value, &n))
			goto bad;
		ctx->lock_timeout = n;
		return MB_OK;
	case S_DOTLOCK_TIMEOUT:
		if (!parse_seconds(value, &n))
			goto bad;
		ctx->dotlock_stale = n;
		return MB_OK;
	case S_UW_DOTLOCK_MINUTES:
		if (!parse_seconds(value, &n) || n > INT_MAX / 60)
			goto bad;
		ctx->dotlock_stale = n * 60;
		return MB_OK;
	case S_DOTLOCK:
		if (!parse_bool(value, &b))
			goto bad;
		ctx->dotlock = b;
		return MB_OK;
	case S_SPOOL_DIR:
		/* Relative would depend on the current directory of
		 * whichever command runs: never what was meant. */
		if (value[0] != '/' ||
		    !set_text(ctx->spool_dir, sizeof(ctx->spool_dir), value))
			goto bad;
		return MB_OK;
	case S_LOCK_HELPER:
		/* "" or "no": never run a helper */
		if (strcmp(value, "no") == 0 || value[0] == '\0') {
			ctx->lock_helper[0] = '\0';
			return MB_OK;
		}
		if (value[0] != '/' ||
		    !set_text(ctx->lock_helper, sizeof(ctx->lock_helper),
			      value))
			goto bad;
		return MB_OK;
	case S_LOCAL_HOST:
		if (has_space(value) ||
		    !set_text(ctx->localhost, sizeof(ctx->localhost), value))
			goto bad;
		return MB_OK;
	case S_KEYWORDS:
		if (!valid_keywords(value) ||
		    (value[0] != '\0' &&
		     !set_text(ctx->keywords, sizeof(ctx->keywords), value)))
			goto bad;
		if (value[0] == '\0')
			ctx->keywords[0] = '\0';
		return MB_OK;
	}
bad:
	return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
		       "bad value '%s' for '%s'", value, name);
}

const char *
mb_ctx_get(const struct mb_ctx *ctx, const char *name)
{
	/* The text buffers belong to the context but are not part of its
	 * settings: writing them does not change what ctx means, and the
	 * object itself was never defined const (mb_ctx_new allocates it). */
	struct mb_ctx *w = (struct mb_ctx *)ctx;
	int id;

	if (ctx == NULL || name == NULL)
		return NULL;
	if ((id = find_setting(name)) < 0)
		return mbi_net_get(ctx, name);
	switch ((enum setting)id) {
	case S_NEW_FORMAT:
		return ctx->new_format;
	case S_UW_METADATA:
		return ctx->uw_metadata ? "yes" : "no";
	case S_QUOTE:
		return ctx->quote == MB_QUOTE_MBOXRD ? "mboxrd" : "mboxo";
	case S_LOCK_TIMEOUT:
		snprintf(w->num_text[0], sizeof(w->num_text[0]), "%d",
			 ctx->lock_timeout);
		return w->num_text[0];
	case S_DOTLOCK_TIMEOUT:
		snprintf(w->num_text[1], sizeof(w->num_text[1]), "%d",
			 ctx->dotlock_stale);
		return w->num_text[1];
	case S_UW_DOTLOCK_MINUTES:
		snprintf(w->num_text[1], sizeof(w->num_text[1]), "%d",
			 ctx->dotlock_stale / 60);
		return w->num_text[1];
	case S_DOTLOCK:
		return ctx->dotlock ? "yes" : "no";
	case S_SPOOL_DIR:
		return ctx->spool_dir;
	case S_LOCAL_HOST:
		return ctx->localhost;
	case S_KEYWORDS:
		return ctx->keywords;
	case S_LOCK_HELPER:
		return ctx->lock_helper;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Configuration files                                                  */

static bool
blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *
skip_blank(char *s)
{
	while (blank(*s))
		s++;
	return s;
}

/* Cut trailing blanks and, when the whole value is in double quotes,
 * the quotes. */
static char *
clean_value(char *v)
{
	size_t n = strlen(v);

	while (n > 0 && blank(v[n - 1]))
		v[--n] = '\0';
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = '\0';
		v++;
	}
	return v;
}

/*
 * One line (its newline removed, NUL-terminated in place).  Returns
 * MB_OK, or MB_FAILED with e's message set (without the line number).
 */
static int
config_line(struct mb_ctx *ctx, char *s, bool first, struct mb_err *e)
{
	char *name, *value, *p;

	s = skip_blank(s);
	if (*s == '\0' || *s == '#')
		return MB_OK;
	/* UW insists the system c-client.cf start with this line; accept
	 * it so such a file can be used unchanged. */
	if (first && strcmp(clean_value(s), "I accept the risk") == 0)
		return MB_OK;

	if (strncmp(s, "set", 3) == 0 && blank(s[3])) {
		/* c-client.cf style: set NAME VALUE */
		name = skip_blank(s + 3);
		for (p = name; *p && !blank(*p) && *p != '='; p++)
			;
		value = skip_blank(p);
		if (*value == '=')
			value = skip_blank(value + 1);
		*p = '\0';
	} else {
		/* NAME = VALUE */
		name = s;
		for (p = name; *p && !blank(*p) && *p != '='; p++)
			;
		value = skip_blank(p);
		if (*value != '=')
			return mbi_err(e, MB_FAILED, MB_ECONFIG, NULL, -1,
				       "expected 'name = value' or "
				       "'set name value'");
		value = skip_blank(value + 1);
		*p = '\0';
	}
	if (*name == '\0')
		return mbi_err(e, MB_FAILED, MB_ECONFIG, NULL, -1,
			       "missing setting name");
	return mb_ctx_set(ctx, name, clean_value(value), e);
}

static int
load_file(struct mb_ctx *ctx, const char *path, struct mb_err *e)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int64_t off = 0;
	unsigned lineno = 0;
	struct mb_err le;
	int r = MB_OK;
	FILE *f;

	f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return MB_OK;
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot open configuration file");
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		mb_err_clear(&le);
		if (len > CONF_LINE_MAX)
			mbi_err(&le, MB_FAILED, MB_ECONFIG, NULL, -1,
				"line too long");
		else if (memchr(line, '\0', len) != NULL)
			mbi_err(&le, MB_FAILED, MB_ECONFIG, NULL, -1,
				"NUL byte in line");
		else
			config_line(ctx, line, lineno == 1, &le);
		if (le.code != MB_ENONE) {
			r = mbi_err(e, MB_FAILED, MB_ECONFIG, path, off,
				    "line %u: %s", lineno, le.msg);
			break;
		}
		off += n;
	}
	if (r == MB_OK && ferror(f))
		r = mbi_err_sys(e, MB_FAILED, errno ? errno : EIO, path,
				"cannot read configuration file");
	free(line);
	fclose(f);
	return r;
}

/* $HOME, or the password file's home directory when HOME is unset. */
static bool
home_dir(char *buf, size_t size)
{
	const char *h = getenv("HOME");
	struct passwd pw, *res = NULL;
	char tmp[4096];
	int n;

	if (h == NULL || *h == '\0') {
		if (getpwuid_r(getuid(), &pw, tmp, sizeof(tmp), &res) != 0 ||
		    res == NULL || pw.pw_dir == NULL)
			return false;
		h = pw.pw_dir;
	}
	n = snprintf(buf, size, "%s", h);
	return n > 0 && (size_t)n < size;
}

int
mb_ctx_load_config(struct mb_ctx *ctx, struct mb_err *e)
{
	const char *sys = getenv("MAILBAG_CONF");
	char user[PATH_MAX], home[PATH_MAX];
	int r, n;

	if (ctx == NULL)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "missing context");
	if (sys == NULL || *sys == '\0')
		sys = "/etc/mailbag.conf";
	r = load_file(ctx, sys, e);
	if (r != MB_OK)
		return r;
	if (!home_dir(home, sizeof(home)))
		return MB_OK;
	n = snprintf(user, sizeof(user), "%s%s.mailbagrc", home,
		     home[strlen(home) - 1] == '/' ? "" : "/");
	if (n < 0 || (size_t)n >= sizeof(user))
		return mbi_err(e, MB_FAILED, MB_ECONFIG, home, -1,
			       "home directory name too long");
	return load_file(ctx, user, e);
}

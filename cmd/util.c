/*
 * util.c - CLI helpers: see util.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <zlib.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "lazy.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		die(EX_OSERR, "mailbag", "out of memory");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		die(EX_OSERR, "mailbag", "out of memory");
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		die(EX_OSERR, "mailbag", "out of memory");
	n *= size;
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		die(EX_OSERR, "mailbag", "out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		die(EX_OSERR, "mailbag", "out of memory");
	return p;
}

static void
vwarnmsg(const char *prog, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
warnmsg(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnmsg(prog, fmt, ap);
	va_end(ap);
}

void
die(int status, const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnmsg(prog, fmt, ap);
	va_end(ap);
	exit(status);
}

/*
 * mb_err.code -> exit status (sysexits.h; documented in mailbag-exit(7)).
 * ELIMIT is input too large to handle: malformed input as far as the
 * caller can tell.  ENONE reaching here means an error path lost its
 * cause: a bug.
 */
static const int exit_codes[] = {
	[MB_ENONE] = EX_SOFTWARE,     [MB_ENOMEM] = EX_OSERR,
	[MB_EIO] = EX_IOERR,	      [MB_ENOENT] = EX_NOINPUT,
	[MB_EEXIST] = EX_CANTCREAT,   [MB_EPERM] = EX_NOPERM,
	[MB_ENOSPC] = EX_TEMPFAIL,    [MB_ELOCKED] = EX_TEMPFAIL,
	[MB_EFORMAT] = EX_DATAERR,    [MB_ENOTSUP] = EX_UNAVAILABLE,
	[MB_EINVAL] = EX_USAGE,	      [MB_ELIMIT] = EX_DATAERR,
	[MB_ECHANGED] = EX_TEMPFAIL,  [MB_ECONFIG] = EX_CONFIG,
	[MB_EINTERNAL] = EX_SOFTWARE, [MB_ENET] = EX_TEMPFAIL,
	[MB_ETLS] = EX_PROTOCOL,      [MB_EAUTH] = EX_NOPERM,
	[MB_EPROTO] = EX_PROTOCOL,
};

int
exit_code(int mb_code)
{
	if (mb_code < 0 ||
	    (size_t)mb_code >= sizeof(exit_codes) / sizeof(exit_codes[0]) ||
	    exit_codes[mb_code] == 0)
		return EX_SOFTWARE;
	return exit_codes[mb_code];
}

int
report_err(const char *prog, const char *path, const struct mb_err *e)
{
	const char *p = e->path[0] ? e->path : path;
	const char *msg = e->msg[0] ? e->msg : mb_code_name(e->code);

	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	if (p != NULL && p[0])
		fprintf(stderr, "%s: ", p);
	if (e->offset >= 0)
		fprintf(stderr, "at byte %lld: ", (long long)e->offset);
	fputs(msg, stderr);
	if (e->msgno > 0)
		fprintf(stderr, " (message %lu)", (unsigned long)e->msgno);
	fputc('\n', stderr);
	return exit_code(e->code);
}

int
cmd_help(const struct cmd_env *env)
{
	if (env->cmd->usage != NULL)
		fputs(env->cmd->usage, stdout);
	return 0;
}

int
cmd_usage_error(const struct cmd_env *env, const char *fmt, ...)
{
	const char *u = env->cmd->usage ? env->cmd->usage : "";
	const char *nl = strchr(u, '\n');
	va_list ap;

	fflush(stdout);
	if (fmt != NULL) {
		va_start(ap, fmt);
		vwarnmsg(env->prog, fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "%.*s\n", nl ? (int)(nl - u) : (int)strlen(u), u);
	fprintf(stderr, "try '%s --help'\n", env->prog);
	return EX_USAGE;
}

int
print_version(void)
{
	printf("mailbag %s\n", MAILBAG_VERSION);
	printf("libmbox %s\n", MB_VERSION);
	char pcre[64];

	printf("zlib %s\n", zlibVersion());
	if (pcre2_config(PCRE2_CONFIG_VERSION, pcre) > 0)
		printf("PCRE2 %s\n", pcre);
	/* loaded on first use: say so when they cannot be */
	if (mbi_lazy_load(MBI_LAZY_ARCHIVE, NULL) == MB_OK)
		printf("%s\n", archive_version_string());
	else
		printf("libarchive: not loadable\n");
	if (mbi_lazy_load(MBI_LAZY_SSL, NULL) == MB_OK)
		printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
	else
		printf("OpenSSL: not loadable\n");
	return 0;
}

int
cmd_load_config(struct cmd_env *env)
{
	struct mb_err e;

	int i;

	mb_err_clear(&e);
	if (mb_ctx_load_config(env->ctx, &e) == MB_OK) {
		/* --set NAME=VALUE: after the files, so it wins */
		for (i = 0; i < env->nsettings; i++) {
			char name[128];
			const char *eq = strchr(env->settings[i], '=');
			size_t n = eq ? (size_t)(eq - env->settings[i]) : 0;

			if (eq == NULL || n == 0 || n >= sizeof(name)) {
				fprintf(stderr,
					"%s: --set takes NAME=VALUE, not '%s'\n",
					env->prog, env->settings[i]);
				return EX_USAGE;
			}
			memcpy(name, env->settings[i], n);
			name[n] = '\0';
			if (cmd_set(env, name, eq + 1) != 0)
				return EX_USAGE;
		}
		return 0;
	}
	/* e.msg says "line N: ..." (offset is the line's byte offset) */
	fflush(stdout);
	if (e.path[0])
		fprintf(stderr, "%s: %s: %s\n", env->prog, e.path, e.msg);
	else
		fprintf(stderr, "%s: %s\n", env->prog, e.msg);
	return EX_CONFIG;
}

int
cmd_set(struct cmd_env *env, const char *name, const char *value)
{
	struct mb_err e;

	mb_err_clear(&e);
	if (mb_ctx_set(env->ctx, name, value, &e) == MB_OK)
		return 0;
	if (e.msg[0])
		warnmsg(env->prog, "%s", e.msg);
	else
		warnmsg(env->prog, "bad value '%s' for '%s'", value, name);
	return EX_USAGE;
}

/*
 * git's rule: data that did not reach stdout is an error, reported once.
 * A closed stdout (EBADF at flush) is the caller's choice, not ours.
 */
int
close_stdout(const char *prog)
{
	int bad;

	errno = 0;
	bad = fflush(stdout) != 0 || ferror(stdout);
	if (bad && errno == EBADF)
		return 0;
	if (fclose(stdout) != 0 && !bad)
		bad = 1;
	if (bad && errno != EBADF) {
		fprintf(stderr, "%s: write error on standard output%s%s\n",
			prog, errno ? ": " : "", errno ? strerror(errno) : "");
		return EX_IOERR;
	}
	return 0;
}

/* The progress bar.  The CLI is single-threaded, so plain statics do. */
static struct {
	bool on;
	bool drawn;
	char label[64];
} progress;

static void
progress_draw(void *arg, int64_t done, int64_t total)
{
	int pct;

	if (!progress.on)
		return;
	if (total > 0) {
		pct = (int)(done * 100 / total);
		if (pct > 100)
			pct = 100;
		fprintf(stderr, "\r%s %3d%% (%lld of %lld MiB)\033[K",
			progress.label, pct, (long long)(done >> 20),
			(long long)(total >> 20));
	} else {
		fprintf(stderr, "\r%s %lld MiB\033[K", progress.label,
			(long long)(done >> 20));
	}
	progress.drawn = true;
}

void
progress_setup(struct cmd_env *env, bool quiet)
{
	progress.on = !quiet && isatty(STDERR_FILENO);
	if (progress.on && env->ctx != NULL)
		mb_ctx_set_progress(env->ctx, progress_draw, NULL);
}

void
progress_label(const char *label)
{
	size_t n = strlen(label);

	/* Keep the end of long paths: the file name matters most. */
	if (n >= sizeof(progress.label))
		snprintf(progress.label, sizeof(progress.label), "...%s",
			 label + n - (sizeof(progress.label) - 4));
	else
		snprintf(progress.label, sizeof(progress.label), "%s", label);
}

void
progress_done(void)
{
	if (progress.drawn)
		fputs("\r\033[K", stderr);
	progress.drawn = false;
}

/* JSON Lines. */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void
json_write_string(FILE *fp, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n, len;

	if (str == NULL) {
		fputs("null", fp);
		return;
	}
	n = strlen(str);
	putc('"', fp);
	while (n > 0) {
		if (*s >= 0x80) {
			len = utf8_len(s, n);
			if (len == 0) {
				fputs("\xef\xbf\xbd", fp); /* U+FFFD */
				len = 1;
			} else {
				fwrite(s, 1, len, fp);
			}
			s += len;
			n -= len;
			continue;
		}
		switch (*s) {
		case '"':
			fputs("\\\"", fp);
			break;
		case '\\':
			fputs("\\\\", fp);
			break;
		case '\b':
			fputs("\\b", fp);
			break;
		case '\f':
			fputs("\\f", fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		default:
			if (*s < 0x20 || *s == 0x7f)
				fprintf(fp, "\\u%04x", *s);
			else
				putc(*s, fp);
		}
		s++;
		n--;
	}
	putc('"', fp);
}

static void
json_key(struct json *j, const char *key)
{
	if (j->members++ > 0)
		putc(',', j->fp);
	json_write_string(j->fp, key);
	putc(':', j->fp);
}

void
json_begin(struct json *j, FILE *fp, const char *type)
{
	j->fp = fp;
	j->members = 0;
	putc('{', fp);
	json_str(j, "type", type);
}

void
json_str(struct json *j, const char *key, const char *val)
{
	json_key(j, key);
	json_write_string(j->fp, val);
}

void
json_int(struct json *j, const char *key, int64_t val)
{
	json_key(j, key);
	fprintf(j->fp, "%lld", (long long)val);
}

void
json_uint(struct json *j, const char *key, uint64_t val)
{
	json_key(j, key);
	fprintf(j->fp, "%llu", (unsigned long long)val);
}

void
json_bool(struct json *j, const char *key, bool val)
{
	json_key(j, key);
	fputs(val ? "true" : "false", j->fp);
}

void
json_strv(struct json *j, const char *key, const char *const *v, size_t n)
{
	size_t i;

	json_key(j, key);
	putc('[', j->fp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			putc(',', j->fp);
		json_write_string(j->fp, v[i]);
	}
	putc(']', j->fp);
}

void
json_end(struct json *j)
{
	fputs("}\n", j->fp);
}

/*
 * tap.h - a tiny TAP producer for mailbag's C unit tests.
 *
 *	plan(n) or no_plan(); ok(cond, fmt...); is_int(got, want, fmt...);
 *	is_str(got, want, fmt...); is_mem(got, glen, want, wlen, fmt...);
 *	diag(fmt...); skip(n, why); done_testing() returns the exit status.
 *	t_tmpdir() makes a fresh directory for this test program and chdirs
 *	into it (removed at exit unless the test failed).
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_n, tap_failed, tap_planned = -1;
static char tap_dir[256];

static void
tap_vres(int good, const char *fmt, va_list ap)
{
	tap_n++;
	printf("%sok %d - ", good ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	printf("\n");
	if (!good)
		tap_failed++;
	fflush(stdout);
}

static inline void
plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

static inline void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline int
ok(int good, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vres(good, fmt, ap);
	va_end(ap);
	return good;
}

static inline int
is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	int good = got == want;

	va_start(ap, fmt);
	tap_vres(good, fmt, ap);
	va_end(ap);
	if (!good)
		diag("got %lld, want %lld", got, want);
	return good;
}

static inline int
is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int good = (got == NULL && want == NULL) ||
		   (got != NULL && want != NULL && strcmp(got, want) == 0);

	va_start(ap, fmt);
	tap_vres(good, fmt, ap);
	va_end(ap);
	if (!good)
		diag("got '%s', want '%s'", got ? got : "(null)",
		     want ? want : "(null)");
	return good;
}

static inline int
is_mem(const void *got, size_t glen, const void *want, size_t wlen,
       const char *fmt, ...)
{
	va_list ap;
	int good = glen == wlen && memcmp(got, want, glen) == 0;

	va_start(ap, fmt);
	tap_vres(good, fmt, ap);
	va_end(ap);
	if (!good)
		diag("got %zu bytes '%.*s', want %zu bytes '%.*s'", glen,
		     (int)(glen > 200 ? 200 : glen), (const char *)got, wlen,
		     (int)(wlen > 200 ? 200 : wlen), (const char *)want);
	return good;
}

static inline void
skip(int n, const char *why)
{
	while (n-- > 0) {
		tap_n++;
		printf("ok %d # skip %s\n", tap_n, why);
	}
}

static void
tap_cleanup(void)
{
	char cmd[300];

	if (tap_dir[0] && tap_failed == 0 && getenv("TAP_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tap_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tap_dir);
	}
}

static inline const char *
t_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tap_dir, sizeof(tap_dir), "%s/mailbag-unit.XXXXXX",
		 base ? base : "/tmp");
	if (mkdtemp(tap_dir) == NULL || chdir(tap_dir) != 0) {
		printf("Bail out! cannot make a temporary directory\n");
		exit(1);
	}
	atexit(tap_cleanup);
	return tap_dir;
}

static inline int
done_testing(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_n);
	else if (tap_planned != tap_n)
		diag("planned %d tests but ran %d", tap_planned, tap_n);
	return tap_failed || (tap_planned >= 0 && tap_planned != tap_n);
}

#endif /* TAP_H */

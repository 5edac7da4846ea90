/*
 * crashinject.so - an LD_PRELOAD shim that kills its host with SIGKILL
 * at a chosen mutating system call, for crash-consistency tests.
 *
 * Counted calls: write, pwrite, pwrite64, writev, pwritev, fsync,
 * fdatasync, ftruncate, ftruncate64, rename, renameat, renameat2 (the
 * libc function and syscall(SYS_renameat2, ...)), link, linkat, unlink,
 * unlinkat.  Calls on fd 1 and 2, and on fds or paths under /proc, are
 * not counted, so diagnostics do not shift the numbering.
 *
 * Environment:
 *	CRASH_AT=N		SIGKILL just before the Nth counted call
 *	CRASH_TORN=1		with CRASH_AT: when call N writes data
 *				(write, pwrite, writev), write the first half
 *				of it, then SIGKILL (a torn write)
 *	CRASH_COUNT=1		count only; keep the running total in
 *	CRASH_COUNT_FILE=PATH	PATH (rewritten after every counted call,
 *				so it is right however the process ends)
 *	CRASH_TRACE=PATH	append one line per counted call to PATH
 *				("N call target [bytes]"), for debugging
 *	CRASH_ONLY=PATH		count only calls on PATH (an fd open on it,
 *				or the path itself): "the Nth write to the
 *				mailbox", whatever locking did before
 *
 * Build: make (it becomes $(B)/tests/helper/crashinject.so).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* Exported entry points, declared for -Wmissing-prototypes. */
ssize_t write(int fd, const void *buf, size_t len);
ssize_t pwrite(int fd, const void *buf, size_t len, off_t off);
ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off);
ssize_t writev(int fd, const struct iovec *iov, int n);
ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off);
int fsync(int fd);
int fdatasync(int fd);
int ftruncate(int fd, off_t len);
int ftruncate64(int fd, off64_t len);
int rename(const char *from, const char *to);
int renameat(int dfd, const char *from, int tdfd, const char *to);
int renameat2(int dfd, const char *from, int tdfd, const char *to,
	      unsigned flags);
int link(const char *from, const char *to);
int linkat(int dfd, const char *from, int tdfd, const char *to, int flags);
int unlink(const char *path);
int unlinkat(int dfd, const char *path, int flags);
long syscall(long nr, ...);

enum mode { M_UNSET, M_OFF, M_CRASH, M_COUNT };

static enum mode mode = M_UNSET;
static unsigned long crash_at, counted;
static int torn;
static const char *count_file, *trace_file, *only_path;
static int in_hook; /* our own bookkeeping must not be counted */

#define REAL(name)                                                           \
	static __typeof__(name) *real_##name;                                \
	if (real_##name == NULL)                                             \
		real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static void
setup(void)
{
	const char *s;

	if (mode != M_UNSET)
		return;
	mode = M_OFF;
	trace_file = getenv("CRASH_TRACE");
	only_path = getenv("CRASH_ONLY");
	if (only_path != NULL && *only_path == '\0')
		only_path = NULL;
	if ((s = getenv("CRASH_COUNT")) != NULL && strcmp(s, "1") == 0) {
		count_file = getenv("CRASH_COUNT_FILE");
		mode = M_COUNT;
	} else if ((s = getenv("CRASH_AT")) != NULL && *s != '\0') {
		crash_at = strtoul(s, NULL, 10);
		s = getenv("CRASH_TORN");
		torn = s != NULL && strcmp(s, "1") == 0;
		if (crash_at > 0)
			mode = M_CRASH;
	}
}

__attribute__((constructor)) static void
init(void)
{
	setup();
}

/* Write the whole string to a file we open ourselves, uncounted. */
static void
put_file(const char *path, const char *s, int append)
{
	REAL(write);
	int fd, save = errno;
	size_t len = strlen(s), off = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC |
				(append ? O_APPEND : O_TRUNC),
		  0644);
	if (fd >= 0) {
		while (off < len) {
			ssize_t n = real_write(fd, s + off, len - off);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
		close(fd);
	}
	errno = save;
}

static int
proc_path(const char *path)
{
	return path != NULL && strncmp(path, "/proc", 5) == 0 &&
	       (path[5] == '\0' || path[5] == '/');
}

/* Should a call on fd count?  Not 1 and 2, not anything under /proc. */
static int
fd_counts(int fd, char *name, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(name, size, "fd%d", fd);
	if (fd == 1 || fd == 2 || fd < 0)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, name, size - 1);
	if (n < 0) {
		snprintf(name, size, "fd%d", fd);
		return 1;
	}
	name[n] = '\0';
	return !proc_path(name);
}

/*
 * Account for one call.  Returns the number of bytes a torn write should
 * still write before dying (only when torn != 0 and this call is the
 * crash point), or -1 to go on normally.  Dies here for a plain crash.
 */
static long
hit(const char *call, const char *target, size_t bytes, int writes)
{
	char line[4200];

	setup();
	if (mode == M_OFF || in_hook)
		return -1;
	if (only_path != NULL && strcmp(target, only_path) != 0)
		return -1;
	in_hook = 1;
	counted++;
	if (trace_file != NULL) {
		snprintf(line, sizeof(line), "%lu %s %s %zu\n", counted, call,
			 target, bytes);
		put_file(trace_file, line, 1);
	}
	if (mode == M_COUNT) {
		if (count_file != NULL) {
			snprintf(line, sizeof(line), "%lu\n", counted);
			put_file(count_file, line, 0);
		}
		in_hook = 0;
		return -1;
	}
	if (counted == crash_at) {
		if (torn && writes && bytes > 1)
			return (long)(bytes / 2); /* caller writes, then dies */
		kill(getpid(), SIGKILL);
		for (;;)
			pause();
	}
	in_hook = 0;
	return -1;
}

static void __attribute__((noreturn))
die(void)
{
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

static long
hit_fd(const char *call, int fd, size_t bytes, int writes)
{
	char name[4096];

	if (in_hook || !fd_counts(fd, name, sizeof(name)))
		return -1;
	return hit(call, name, bytes, writes);
}

static long
hit_path(const char *call, const char *path)
{
	if (in_hook || proc_path(path))
		return -1;
	return hit(call, path != NULL ? path : "(null)", 0, 0);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	REAL(write);
	long t = hit_fd("write", fd, len, 1);

	if (t >= 0) {
		real_write(fd, buf, (size_t)t);
		die();
	}
	return real_write(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	REAL(pwrite);
	long t = hit_fd("pwrite", fd, len, 1);

	if (t >= 0) {
		real_pwrite(fd, buf, (size_t)t, off);
		die();
	}
	return real_pwrite(fd, buf, len, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	REAL(pwrite64);
	long t = hit_fd("pwrite64", fd, len, 1);

	if (t >= 0) {
		real_pwrite64(fd, buf, (size_t)t, off);
		die();
	}
	return real_pwrite64(fd, buf, len, off);
}

static size_t
iov_total(const struct iovec *iov, int n)
{
	size_t sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += iov[i].iov_len;
	return sum;
}

/* Write the first want bytes of iov through writefn at off (or -1). */
static void
iov_prefix(int fd, const struct iovec *iov, int n, size_t want, off_t off)
{
	REAL(write);
	REAL(pwrite);
	int i;

	for (i = 0; i < n && want > 0; i++) {
		size_t k = iov[i].iov_len < want ? iov[i].iov_len : want;

		if (off < 0) {
			real_write(fd, iov[i].iov_base, k);
		} else {
			real_pwrite(fd, iov[i].iov_base, k, off);
			off += (off_t)k;
		}
		want -= k;
	}
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	REAL(writev);
	long t = hit_fd("writev", fd, iov_total(iov, n), 1);

	if (t >= 0) {
		iov_prefix(fd, iov, n, (size_t)t, -1);
		die();
	}
	return real_writev(fd, iov, n);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	REAL(pwritev);
	long t = hit_fd("pwritev", fd, iov_total(iov, n), 1);

	if (t >= 0) {
		iov_prefix(fd, iov, n, (size_t)t, off);
		die();
	}
	return real_pwritev(fd, iov, n, off);
}

int
fsync(int fd)
{
	REAL(fsync);
	hit_fd("fsync", fd, 0, 0);
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	REAL(fdatasync);
	hit_fd("fdatasync", fd, 0, 0);
	return real_fdatasync(fd);
}

int
ftruncate(int fd, off_t len)
{
	REAL(ftruncate);
	hit_fd("ftruncate", fd, 0, 0);
	return real_ftruncate(fd, len);
}

int
ftruncate64(int fd, off64_t len)
{
	REAL(ftruncate64);
	hit_fd("ftruncate64", fd, 0, 0);
	return real_ftruncate64(fd, len);
}

int
rename(const char *from, const char *to)
{
	REAL(rename);
	hit_path("rename", to);
	return real_rename(from, to);
}

int
renameat(int dfd, const char *from, int tdfd, const char *to)
{
	REAL(renameat);
	hit_path("renameat", to);
	return real_renameat(dfd, from, tdfd, to);
}

int
renameat2(int dfd, const char *from, int tdfd, const char *to, unsigned flags)
{
	REAL(renameat2);
	hit_path("renameat2", to);
	return real_renameat2(dfd, from, tdfd, to, flags);
}

int
link(const char *from, const char *to)
{
	REAL(link);
	hit_path("link", to);
	return real_link(from, to);
}

int
linkat(int dfd, const char *from, int tdfd, const char *to, int flags)
{
	REAL(linkat);
	hit_path("linkat", to);
	return real_linkat(dfd, from, tdfd, to, flags);
}

int
unlink(const char *path)
{
	REAL(unlink);
	hit_path("unlink", path);
	return real_unlink(path);
}

int
unlinkat(int dfd, const char *path, int flags)
{
	REAL(unlinkat);
	hit_path("unlinkat", path);
	return real_unlinkat(dfd, path, flags);
}

/*
 * syscall(2) is variadic; the kernel takes at most six arguments, all
 * passed as longs on the ABIs we run on.
 */
long
syscall(long nr, ...)
{
	REAL(syscall);
	long a[6];
	va_list ap;
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
#ifdef SYS_renameat2
	if (nr == SYS_renameat2)
		hit_path("renameat2", (const char *)a[3]);
#endif
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

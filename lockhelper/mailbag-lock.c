/*
 * mailbag-lock - the setgid dot-lock helper for the mail spool
 * (man/mailbag-lock.8; shared/spec/uw-formats.md 12.2, 12.6).
 *
 *	mailbag-lock [-t SECONDS] SPOOLFILE
 *
 * Installed setgid to the group that may write the spool directory (mail
 * on Debian, whose /var/mail is 2775 root:mail).  It creates one file and
 * nothing else: SPOOLDIR/USER.lock, where USER is the login of the real
 * uid and SPOOLDIR is fixed for the caller (compiled in, or the
 * spool-directory line of the root-owned system configuration file; no
 * environment variable, no option, no user file).  SPOOLFILE must name
 * that user's spool file; it is only compared, never opened.
 *
 * Protocol, over stdin/stdout (one socket or two pipes to the caller):
 *	"+\n"		the lock is held; it is refreshed every minute
 *	"-NN text\n"	refused or failed; the helper exits NN (sysexits)
 * After "+", one byte or end-of-file on stdin (the caller released it,
 * exited or died) makes the helper remove the lock, if it is still the
 * file it created, and exit 0.
 *
 * The group privilege is kept only as the saved set-group-ID and is
 * switched on for the few calls that touch the spool directory.  This
 * file links nothing of libmbox, so that all of it can be audited here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#ifndef MAILBAG_LOCK_CONF
#define MAILBAG_LOCK_CONF "/etc/mailbag.conf"
#endif

#define STALE_SECONDS	300 /* UW's dot-lock-file-timeout: 5 minutes */
#define REFRESH_SECONDS 60
#define TIMEOUT_MAX	3600
#define NAME_MAX_LEN	200 /* a login name longer than this is refused */

static gid_t real_gid, priv_gid;
static uid_t real_uid;
static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

/* Switch the group privilege on or off (effective gid only). */
static void
privileged(bool on)
{
	if (setresgid((gid_t)-1, on ? priv_gid : real_gid, (gid_t)-1) != 0) {
		/* Cannot happen for a correctly installed helper; never go
		 * on with a privilege state we did not ask for. */
		_exit(EX_OSERR);
	}
}

/* The one-line answer to the caller, then the exit status. */
static void
reply(const char *text)
{
	size_t n = strlen(text), off = 0;
	ssize_t w;

	while (off < n) {
		w = write(STDOUT_FILENO, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static _Noreturn void fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static _Noreturn void
fail(int code, const char *fmt, ...)
{
	char msg[512], line[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line: no newline from a user-supplied name may split it. */
	for (char *p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = '?';
	snprintf(line, sizeof(line), "-%d %s\n", code, msg);
	reply(line);
	fprintf(stderr, "mailbag-lock: %s\n", msg);
	if (code == EX_NOPERM)
		syslog(LOG_MAIL | LOG_WARNING, "uid %u refused: %s",
		       (unsigned)real_uid, msg);
	exit(code);
}

/* fds 0-2 open (to /dev/null if they were closed), every other closed. */
static void
sanitise_fds(void)
{
	struct stat st;
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			int n = open("/dev/null", O_RDWR);

			if (n < 0)
				_exit(EX_OSERR);
			if (n != fd)
				_exit(EX_OSERR);
		}
	if (close_range(3, ~0U, 0) != 0) {
		long max = sysconf(_SC_OPEN_MAX);

		for (fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
			close(fd);
	}
	(void)fstat(0, &st);
}

static void
sanitise_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL); /* fails for KILL, STOP */
	sa.sa_handler = SIG_IGN;
	/*
	 * Keyboard signals reach the whole process group: the caller may
	 * survive a ^C and still be writing, so the lock stays until the
	 * caller says so or its end of the pipe closes.
	 */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGTSTP, &sa, NULL);
	sigaction(SIGTTIN, &sa, NULL);
	sigaction(SIGTTOU, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * The spool directory: "spool-directory = /abs" in the system file, used
 * only when that file is root's and writable by nobody else; otherwise
 * /var/mail, or /var/spool/mail where /var/mail is missing.
 */
static void
spool_dir(char *out, size_t size)
{
	char line[1024];
	struct stat st;
	FILE *fp;
	int fd;

	if (stat("/var/mail", &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(out, size, "/var/mail");
	else
		snprintf(out, size, "/var/spool/mail");
	fd = open(MAILBAG_LOCK_CONF, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *p = line, *v, *end;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "spool-directory", 15) != 0)
			continue;
		p += 15;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p++ != '=')
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		v = p;
		end = v + strcspn(v, "\r\n");
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		if (v[0] == '/' && strlen(v) < size)
			snprintf(out, size, "%s", v);
	}
	fclose(fp);
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static time_t
age_base(const struct stat *st)
{
	return st->st_ctime > st->st_mtime ? st->st_ctime : st->st_mtime;
}

/*
 * One attempt at creating the lock, NFS-safe: a unique post linked to
 * the lock name; the post's link count says whether the link was made.
 * Returns 1 (made, *made filled), 0 (busy) or -errno.
 */
static int
try_create(int dfd, const char *lock, struct stat *made)
{
	char post[NAME_MAX_LEN + 128], host[64];
	struct stat st;
	int fd, err = 0;
	bool linked;

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p != '\0'; p++)
		if (*p == '/')
			*p = '_';
	snprintf(post, sizeof(post), "%s.%lld.%ld.%s", lock,
		 (long long)time(NULL), (long)getpid(), host);

	privileged(true);
	fd = openat(dfd, post,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = errno;
		privileged(false);
		return err == EEXIST ? 0 : -err;
	}
	close(fd);
	linked = linkat(dfd, post, dfd, lock, 0) == 0;
	err = errno;
	if (!linked && err == EPERM) {
		/* no hard links here: O_EXCL on the name itself */
		unlinkat(dfd, post, 0);
		fd = openat(dfd, lock,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
			    0644);
		err = errno;
		if (fd >= 0 && fstat(fd, made) != 0) {
			err = errno;
			close(fd);
			unlinkat(dfd, lock, 0);
			fd = -1;
		}
		privileged(false);
		if (fd < 0)
			return err == EEXIST ? 0 : -err;
		close(fd);
		return 1;
	}
	if (fstatat(dfd, post, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		err = errno;
		unlinkat(dfd, post, 0);
		privileged(false);
		return -err;
	}
	unlinkat(dfd, post, 0);
	privileged(false);
	if (st.st_nlink != 2)
		return linked || err == EEXIST ? 0 : -err;
	st.st_nlink = 1;
	*made = st;
	return 1;
}

/* Remove the lock if it is still the file we made. */
static void
release(int dfd, const char *lock, const struct stat *made)
{
	struct stat st;

	privileged(true);
	if (fstatat(dfd, lock, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && same_file(&st, made))
		unlinkat(dfd, lock, 0);
	privileged(false);
}

static void
refresh(int dfd, const char *lock, const struct stat *made)
{
	struct stat st;

	privileged(true);
	if (fstatat(dfd, lock, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && same_file(&st, made))
		(void)utimensat(dfd, lock, NULL, AT_SYMLINK_NOFOLLOW);
	privileged(false);
}

static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
	char dir[PATH_MAX], user[NAME_MAX_LEN + 1], lock[NAME_MAX_LEN + 8];
	struct stat dst, st, made;
	struct passwd *pw;
	const char *path, *slash;
	char *end;
	long timeout = 300, ms = 10;
	struct timespec t0, now;
	int dfd, i, r;
	uid_t euid = geteuid();

	real_uid = getuid();
	real_gid = getgid();
	priv_gid = getegid();

	/* Never run with another uid's rights: this is a group helper. */
	if (euid != real_uid && setresuid(real_uid, real_uid, real_uid) != 0)
		_exit(EX_OSERR);
	/* Effective gid back to the caller's; the privilege stays saved. */
	if (setresgid(real_gid, real_gid, priv_gid) != 0)
		_exit(EX_OSERR);
	sanitise_fds();
	sanitise_signals();
	if (clearenv() != 0)
		_exit(EX_OSERR);
	umask(022);
	{
		struct rlimit rl = { 0, 0 };

		setrlimit(RLIMIT_CORE, &rl);
	}
	openlog("mailbag-lock", LOG_PID, LOG_MAIL);

	/* Arguments: [-t SECONDS] SPOOLFILE, nothing else. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-t") != 0 || i + 1 >= argc)
			fail(EX_USAGE,
			     "usage: mailbag-lock [-t SECONDS] SPOOLFILE");
		errno = 0;
		timeout = strtol(argv[++i], &end, 10);
		if (errno != 0 || *end != '\0' || end == argv[i] ||
		    timeout < 0 || timeout > TIMEOUT_MAX)
			fail(EX_USAGE, "bad timeout '%.32s' (0 to %d seconds)",
			     argv[i], TIMEOUT_MAX);
	}
	if (i + 1 != argc)
		fail(EX_USAGE, "usage: mailbag-lock [-t SECONDS] SPOOLFILE");
	path = argv[i];

	if (real_uid == 0)
		fail(EX_USAGE, "root creates its locks itself; the helper is "
			       "for ordinary users");
	if (priv_gid == real_gid)
		fprintf(stderr, "mailbag-lock: warning: not installed setgid; "
				"only a writable spool directory will do\n");

	/* Who is asking: the real uid's login, never $USER. */
	errno = 0;
	pw = getpwuid(real_uid);
	if (pw == NULL || pw->pw_name == NULL || pw->pw_name[0] == '\0')
		fail(EX_NOUSER, "uid %u has no password entry",
		     (unsigned)real_uid);
	if (strlen(pw->pw_name) > NAME_MAX_LEN ||
	    strchr(pw->pw_name, '/') != NULL || pw->pw_name[0] == '.')
		fail(EX_NOPERM,
		     "login name of uid %u is unusable as a file "
		     "name",
		     (unsigned)real_uid);
	snprintf(user, sizeof(user), "%s", pw->pw_name);
	snprintf(lock, sizeof(lock), "%s.lock", user);
	endpwent();

	spool_dir(dir, sizeof(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &dst) != 0)
		fail(EX_OSFILE, "cannot open the spool directory %s: %s", dir,
		     strerror(errno));

	/* SPOOLFILE: SPOOLDIR/USER, the directory compared by identity. */
	slash = strrchr(path, '/');
	if (path[0] != '/' || slash == NULL)
		fail(EX_NOPERM, "'%.200s' is not an absolute path", path);
	if (strcmp(slash + 1, user) != 0)
		fail(EX_NOPERM, "'%.200s' is not your spool file (you are %s)",
		     path, user);
	{
		char pdir[PATH_MAX];
		size_t n = (size_t)(slash - path);

		if (n >= sizeof(pdir))
			fail(EX_NOPERM, "path too long");
		memcpy(pdir, path, n);
		pdir[n] = '\0';
		if (n == 0)
			snprintf(pdir, sizeof(pdir), "/");
		if (stat(pdir, &st) != 0 || !same_file(&st, &dst))
			fail(EX_NOPERM,
			     "'%.200s' is outside the spool directory %s", path,
			     dir);
	}

	/* The spool file, if it exists, is the caller's own plain file. */
	if (fstatat(dfd, user, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			fail(EX_NOPERM, "%s/%s is a symbolic link", dir, user);
		if (!S_ISREG(st.st_mode))
			fail(EX_NOPERM, "%s/%s is not a regular file", dir,
			     user);
		if (st.st_uid != real_uid)
			fail(EX_NOPERM, "%s/%s belongs to uid %u, not to you",
			     dir, user, (unsigned)st.st_uid);
		if (st.st_nlink != 1)
			fail(EX_NOPERM, "%s/%s has %lu hard links", dir, user,
			     (unsigned long)st.st_nlink);
	} else if (errno != ENOENT) {
		fail(EX_OSFILE, "cannot check %s/%s: %s", dir, user,
		     strerror(errno));
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (fstatat(dfd, lock, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!S_ISREG(st.st_mode))
				fail(EX_NOPERM, "%s/%s is not a regular file",
				     dir, lock);
			if (time(NULL) - age_base(&st) >= STALE_SECONDS) {
				struct stat again;

				privileged(true);
				if (fstatat(dfd, lock, &again,
					    AT_SYMLINK_NOFOLLOW) == 0 &&
				    same_file(&again, &st) &&
				    age_base(&again) == age_base(&st))
					unlinkat(dfd, lock, 0);
				privileged(false);
				syslog(LOG_MAIL | LOG_NOTICE,
				       "broke stale lock %s/%s", dir, lock);
				continue;
			}
		} else if (errno != ENOENT) {
			fail(EX_OSFILE, "cannot check %s/%s: %s", dir, lock,
			     strerror(errno));
		} else {
			r = try_create(dfd, lock, &made);
			if (r > 0)
				break;
			if (r < 0)
				fail(EX_CANTCREAT, "cannot create %s/%s: %s",
				     dir, lock, strerror(-r));
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (got_signal || now.tv_sec - t0.tv_sec >= timeout)
			fail(EX_TEMPFAIL, "%s/%s is held by another process",
			     dir, lock);
		nap(ms);
		ms = ms * 2 > 1000 ? 1000 : ms * 2;
	}

	reply("+\n");
	/* Hold until the caller writes a byte, closes, or dies. */
	for (;;) {
		struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
		char c;

		if (got_signal)
			break;
		r = poll(&pfd, 1, REFRESH_SECONDS * 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			refresh(dfd, lock, &made);
			continue;
		}
		if (r < 0)
			break;
		if (read(STDIN_FILENO, &c, 1) < 0 && errno == EINTR)
			continue;
		break;
	}
	release(dfd, lock, &made);
	return 0;
}

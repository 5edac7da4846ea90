/*
 * lock.c - the locks UW c-client and mail delivery agents agree on:
 * dot-locks beside the mailbox, flock()/fcntl() on the file itself, and
 * the world-writable /tmp/.<dev>.<ino> files (uw-formats.md section 12).
 *
 * Waiting is done by polling with LOCK_NB / F_SETLK: first every 10 ms,
 * backing off to once a second, so nothing here touches signals or
 * alarms and a short lock held by another process costs little.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mb-int.h"

#define POLL_FIRST_MS 10
#define POLL_MAX_MS   1000
#define REFRESH_EVERY 60 /* seconds between dot-lock touches */
#define TMPLOCK_TRIES 8	 /* reopen attempts when the name moves */

/* ------------------------------------------------------------------ */
/* Waiting                                                              */

struct waiter {
	struct timespec deadline;
	long next_ms;
	bool once; /* timeout 0: a single attempt */
};

static void
wait_init(struct waiter *w, int timeout)
{
	clock_gettime(CLOCK_MONOTONIC, &w->deadline);
	if (timeout > 0)
		w->deadline.tv_sec += timeout;
	w->next_ms = POLL_FIRST_MS;
	w->once = timeout <= 0;
}

/* Sleep before the next attempt; false once the time is up. */
static bool
wait_more(struct waiter *w)
{
	struct timespec now, ts;
	long left_ms, ms;

	if (w->once)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left_ms = (long)(w->deadline.tv_sec - now.tv_sec) * 1000 +
		  (w->deadline.tv_nsec - now.tv_nsec) / 1000000;
	if (left_ms <= 0)
		return false;
	ms = w->next_ms < left_ms ? w->next_ms : left_ms;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL); /* EINTR only shortens one nap */
	w->next_ms *= 2;
	if (w->next_ms > POLL_MAX_MS)
		w->next_ms = POLL_MAX_MS;
	return true;
}

static const char *
nz(const char *path)
{
	return path != NULL ? path : "(unknown)";
}

/* ------------------------------------------------------------------ */
/* Dot-locks                                                            */

/* dotlock_try's answer when the directory refuses us the lock file. */
#define DOTLOCK_DENIED 100

static void
host_name(struct mb_ctx *ctx, char *out, size_t size)
{
	char *p;

	if (ctx->localhost[0] != '\0')
		snprintf(out, size, "%s", ctx->localhost);
	else if (gethostname(out, size) != 0 || out[0] == '\0')
		snprintf(out, size, "localhost");
	out[size - 1] = '\0';
	for (p = out; *p != '\0'; p++)
		if (*p == '/')
			*p = '_';
}

/*
 * What our dot-locks hold: one line naming the owner,
 *
 *	mailbag PID HOST PIDNS
 *
 * PIDNS is the inode of the process's PID namespace (/proc/self/ns/pid),
 * so that a container sharing the directory under the same host name is
 * not taken for this host.  UW and procmail write no owner (UW's file is
 * empty, procmail's holds "0"), so their locks only ever go stale.
 */
#define OWNER_MAX 400

static unsigned long long
pid_ns(void)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st) != 0)
		return 0;
	return (unsigned long long)st.st_ino;
}

static int
owner_line(struct mb_ctx *ctx, char *out, size_t size)
{
	char host[256];

	host_name(ctx, host, sizeof(host));
	return snprintf(out, size, "mailbag %ld %s %llu\n", (long)getpid(),
			host, pid_ns());
}

/*
 * Is the lock file st (open on fd) one of ours whose process is gone?
 * Only when it holds exactly our owner line, for this host and this PID
 * namespace, and that PID does not run: then nobody can be relying on
 * it.  Anything else (UW's, procmail's, another host's, a live one, a
 * damaged line) is left to the staleness rule.
 */
static bool
owner_dead(struct mb_ctx *ctx, int fd, const struct stat *st, long *owner)
{
	char buf[OWNER_MAX + 1], host[256], want[OWNER_MAX];
	unsigned long long ns;
	long pid;
	ssize_t n;
	int len;

	if (!S_ISREG(st->st_mode) || st->st_size <= 0 ||
	    st->st_size > OWNER_MAX || st->st_nlink < 1 || st->st_nlink > 2)
		return false;
	n = mbi_pread_full(fd, buf, (size_t)st->st_size, 0);
	if (n != (ssize_t)st->st_size)
		return false;
	buf[n] = '\0';
	if (sscanf(buf, "mailbag %ld %255s %llu", &pid, host, &ns) != 3 ||
	    pid <= 0 || pid == (long)getpid())
		return false;
	/* the line must be exactly what that process would have written */
	host_name(ctx, want, sizeof(want));
	if (strcmp(host, want) != 0 || ns == 0 || ns != pid_ns())
		return false;
	len = snprintf(want, sizeof(want), "mailbag %ld %s %llu\n", pid, host,
		       ns);
	if (len != (int)n || memcmp(want, buf, (size_t)n) != 0)
		return false;
	*owner = pid;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/*
 * A writer killed between link() and the unlink of its hitching post
 * leaves the lock with a second name, "<lock>.TIME.PID.HOST".  Remove
 * that name when it is this very file and pid's post; false when the
 * second name is anything else (then the lock is not provably ours).
 */
static bool
drop_dead_post(struct mb_ctx *ctx, const char *lock, const struct stat *st,
	       long pid)
{
	char dir[PATH_MAX], tail[300], full[PATH_MAX + 300], host[256];
	const char *base, *slash = strrchr(lock, '/');
	struct dirent *d;
	struct stat pst;
	bool done = false;
	size_t bl, tl;
	DIR *dp;

	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
		base = lock;
	} else {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - lock), lock);
		if (dir[0] == '\0')
			snprintf(dir, sizeof(dir), "/");
		base = slash + 1;
	}
	host_name(ctx, host, sizeof(host));
	snprintf(tail, sizeof(tail), ".%ld.%s", pid, host);
	bl = strlen(base);
	tl = strlen(tail);
	dp = opendir(dir);
	if (dp == NULL)
		return false;
	while (!done && (d = readdir(dp)) != NULL) {
		const char *n = d->d_name, *t;
		size_t len = strlen(n);

		if (len <= bl + 1 + tl || strncmp(n, base, bl) != 0 ||
		    n[bl] != '.' || strcmp(n + len - tl, tail) != 0)
			continue;
		for (t = n + bl + 1; t < n + len - tl; t++)
			if (*t < '0' || *t > '9')
				break;
		if (t != n + len - tl)
			continue;
		snprintf(full, sizeof(full), "%s/%s", dir, n);
		if (lstat(full, &pst) == 0 && pst.st_dev == st->st_dev &&
		    pst.st_ino == st->st_ino)
			done = unlink(full) == 0;
	}
	closedir(dp);
	return done;
}

/* lstat path into *now: 0 when it is still st's file, with one name. */
static int
still_one_name(const char *path, const struct stat *st, struct stat *now)
{
	if (lstat(path, now) != 0 || now->st_dev != st->st_dev ||
	    now->st_ino != st->st_ino || now->st_nlink != 1)
		return -1;
	return 0;
}

/*
 * Remove the lock at dl->path when it is ours and its process is dead
 * (a writer killed with SIGKILL leaves it behind; others would wait five
 * minutes for it to go stale).  True when it was removed.
 */
static bool
dotlock_break_dead(struct mb_ctx *ctx, struct mbi_dotlock *dl,
		   const struct stat *seen)
{
	struct stat fst, again;
	long pid = 0;
	bool dead;
	int fd;

	if (!S_ISREG(seen->st_mode) || seen->st_size <= 0 ||
	    seen->st_size > OWNER_MAX)
		return false;
	fd = open(dl->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	dead = fstat(fd, &fst) == 0 && fst.st_dev == seen->st_dev &&
	       fst.st_ino == seen->st_ino && owner_dead(ctx, fd, &fst, &pid);
	close(fd);
	if (!dead)
		return false;
	if (fst.st_nlink == 2) {
		if (!drop_dead_post(ctx, dl->path, &fst, pid) ||
		    still_one_name(dl->path, &fst, &again) != 0)
			return false;
		fst = again;
	}
	/* the same file still, not one a live locker just made */
	if (lstat(dl->path, &again) != 0 || again.st_dev != fst.st_dev ||
	    again.st_ino != fst.st_ino || again.st_ctime != fst.st_ctime ||
	    again.st_nlink != 1)
		return false;
	return unlink(dl->path) == 0;
}

/*
 * One attempt at creating the lock.  Returns MB_OK (got it), MB_RETRY
 * (someone else has it) or MB_FAILED.
 */
static int
dotlock_try(struct mb_ctx *ctx, struct mbi_dotlock *dl, struct mb_err *e)
{
	char host[256], post[PATH_MAX + 320], owner[OWNER_MAX];
	struct stat st;
	int fd, n, err;
	bool linked;

	host_name(ctx, host, sizeof(host));
	n = snprintf(post, sizeof(post), "%s.%lld.%ld.%s", dl->path,
		     (long long)time(NULL), (long)getpid(), host);
	if (n < 0 || (size_t)n >= sizeof(post) || (size_t)n >= PATH_MAX)
		return mbi_err(e, MB_FAILED, MB_EINVAL, dl->path, -1,
			       "lock file name too long");

	fd = open(post, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0666);
	if (fd < 0) {
		err = errno;
		if (err == EEXIST) /* another thread of ours, this second */
			return MB_RETRY;
		if (err == EACCES || err == EPERM)
			return DOTLOCK_DENIED;
		return mbi_err_sys(e, MB_FAILED, err, dl->path,
				   "cannot create lock file '%s'", dl->path);
	}
	(void)fchmod(fd, 0666); /* undo the umask, as UW does */
	/* who holds it, so that our next locker can clear it if we die */
	n = owner_line(ctx, owner, sizeof(owner));
	if (n > 0 && (size_t)n < sizeof(owner) &&
	    mbi_write_all(fd, owner, (size_t)n, post, NULL) != MB_OK)
		(void)!ftruncate(fd, 0); /* an empty lock is still a lock */
	close(fd);

	linked = link(post, dl->path) == 0;
	err = errno;
	if (!linked && err == EPERM) {
		/* No hard links on this file system: plain O_EXCL. */
		unlink(post);
		fd = open(dl->path,
			  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0666);
		if (fd < 0) {
			err = errno;
			if (err == EEXIST)
				return MB_RETRY;
			if (err == EACCES || err == EPERM)
				return DOTLOCK_DENIED;
			return mbi_err_sys(e, MB_FAILED, err, dl->path,
					   "cannot create lock file '%s'",
					   dl->path);
		}
		(void)fchmod(fd, 0666);
		n = owner_line(ctx, owner, sizeof(owner));
		if (n > 0 && (size_t)n < sizeof(owner) &&
		    mbi_write_all(fd, owner, (size_t)n, post, NULL) != MB_OK)
			(void)!ftruncate(fd, 0);
		if (fstat(fd, &st) != 0) {
			err = errno;
			close(fd);
			unlink(dl->path);
			return mbi_err_sys(e, MB_FAILED, err, dl->path,
					   "cannot stat lock file '%s'",
					   dl->path);
		}
		close(fd);
	} else {
		/*
		 * Over NFS link() can report failure for a link that was
		 * made (a lost reply), so the post's link count decides.
		 */
		if (lstat(post, &st) != 0) {
			err = errno;
			unlink(post);
			return mbi_err_sys(e, MB_FAILED, err, post,
					   "cannot stat '%s'", post);
		}
		unlink(post);
		if (st.st_nlink != 2) {
			if (linked || err == EEXIST)
				return MB_RETRY;
			if (err == EACCES)
				return DOTLOCK_DENIED;
			return mbi_err_sys(e, MB_FAILED, err, dl->path,
					   "cannot create lock file '%s'",
					   dl->path);
		}
	}
	dl->held = true;
	dl->dev = st.st_dev;
	dl->ino = st.st_ino;
	dl->refreshed = time(NULL);
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* The setgid helper, for a spool directory we cannot write            */

/* "mode 2775, root:mail" of dir, for messages. */
static void
dir_desc(const char *dir, char *out, size_t size)
{
	struct stat st;
	struct passwd *pw;
	struct group *gr;

	if (stat(dir, &st) != 0) {
		snprintf(out, size, "%s", strerror(errno));
		return;
	}
	pw = getpwuid(st.st_uid);
	gr = getgrgid(st.st_gid);
	snprintf(out, size, "mode %o, owner %s:%s",
		 (unsigned)(st.st_mode & 07777), pw ? pw->pw_name : "?",
		 gr ? gr->gr_name : "?");
}

/*
 * Neither we nor the helper could make the lock: one message that says
 * why and what to do (UW's "Mailbox vulnerable - directory must have
 * 1777 protection", FAQ 7.10, made actionable).  MB_ELOCKED: the caller
 * leaves the mailbox alone and a mail system retries later (exit 75).
 */
static int
err_denied(struct mb_ctx *ctx, struct mbi_dotlock *dl, const char *why,
	   struct mb_err *e)
{
	char dir[PATH_MAX], desc[128];
	char *slash;
	int r;

	snprintf(dir, sizeof(dir), "%s", dl->path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	dir_desc(dir, desc, sizeof(desc));
	r = mbi_err(e, MB_FAILED, MB_ELOCKED, dl->path, -1,
		    "cannot create lock file '%s': directory %s (%s) is not "
		    "writable by you, and %s; install mailbag-lock setgid to "
		    "the directory's group (make install does, see "
		    "mailbag-lock(8)) or give the directory mode 1777; "
		    "nothing was changed",
		    dl->path, dir, desc, why);
	if (e != NULL)
		e->sys_errno = EACCES;
	return r;
}

/* Read the helper's one-line answer, waiting at most ms. */
static ssize_t
helper_answer(int fd, char *buf, size_t size, long ms)
{
	struct timespec t0, now;
	size_t len = 0;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (len + 1 < size) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		long left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = ms - ((now.tv_sec - t0.tv_sec) * 1000 +
			     (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			break;
		if (poll(&pfd, 1, (int)(left > 60000 ? 60000 : left)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n = read(fd, buf + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Tell the helper to let go and wait until it has (EOF on the pipe). */
static void
helper_stop(struct mbi_dotlock *dl)
{
	char buf[64];

	(void)send(dl->helper_fd, "x", 1, MSG_NOSIGNAL);
	shutdown(dl->helper_fd, SHUT_WR);
	while (helper_answer(dl->helper_fd, buf, sizeof(buf), 10000) > 0)
		;
	close(dl->helper_fd);
	while (waitpid(dl->helper_pid, NULL, 0) < 0 && errno == EINTR)
		;
	dl->helper_fd = -1;
	dl->helper_pid = 0;
}

/* Is the lock's directory the spool directory (the helper's only one)? */
static bool
in_spool_dir(struct mb_ctx *ctx, const char *lock)
{
	char dir[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", lock);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return ctx->spool_dir[0] != '\0' && realpath(dir, a) != NULL &&
	       realpath(ctx->spool_dir, b) != NULL && strcmp(a, b) == 0;
}

static int
dotlock_helper(struct mb_ctx *ctx, const char *mailbox, struct mbi_dotlock *dl,
	       int timeout, struct mb_err *e)
{
	/* Anywhere but the spool, a directory we may not write is no
	 * passing state: permission denied (77), not "try later" (75). */
	if (!in_spool_dir(ctx, dl->path)) {
		int r = mbi_err(e, MB_FAILED, MB_EPERM, dl->path, -1,
				"cannot create lock file '%s': Permission "
				"denied (the directory is not writable)",
				dl->path);

		if (e != NULL)
			e->sys_errno = EACCES;
		return r;
	}

	char abs[PATH_MAX], tbuf[24], ans[512], why[700];
	char *argv[6], *envp[1] = { NULL };
	const char *text;
	int sv[2], status, code, n;
	pid_t pid;

	if (ctx->lock_helper[0] == '\0')
		return err_denied(ctx, dl, "no lock helper is configured", e);
	if (access(ctx->lock_helper, X_OK) != 0) {
		snprintf(why, sizeof(why),
			 "the lock helper %s cannot be run (%s)",
			 ctx->lock_helper, strerror(errno));
		return err_denied(ctx, dl, why, e);
	}
	if (mailbox[0] == '/') {
		n = snprintf(abs, sizeof(abs), "%s", mailbox);
	} else {
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return mbi_err_sys(e, MB_FAILED, errno, mailbox,
					   "cannot find the current directory");
		n = snprintf(abs, sizeof(abs), "%s/%s", cwd, mailbox);
	}
	if (n < 0 || (size_t)n >= sizeof(abs))
		return mbi_err(e, MB_FAILED, MB_EINVAL, mailbox, -1,
			       "name too long");
	snprintf(tbuf, sizeof(tbuf), "%d", timeout < 0 ? 0 : timeout);
	argv[0] = ctx->lock_helper;
	argv[1] = (char *)"-t";
	argv[2] = tbuf;
	argv[3] = (char *)"--";
	argv[4] = abs;
	argv[5] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return mbi_err_sys(e, MB_FAILED, errno, dl->path,
				   "cannot run the lock helper");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return mbi_err_sys(e, MB_FAILED, errno, dl->path,
				   "cannot run the lock helper");
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* only async-signal-safe calls between fork and exec */
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0 || null < 0 ||
		    dup2(null, 2) < 0)
			_exit(127);
		execve(ctx->lock_helper, argv, envp);
		_exit(127);
	}
	close(sv[1]);
	/* the helper itself gives up after timeout: allow it some slack */
	helper_answer(sv[0], ans, sizeof(ans),
		      (long)(timeout < 0 ? 0 : timeout) * 1000 + 30000);
	if (ans[0] == '+') {
		dl->held = true;
		dl->helper_pid = pid;
		dl->helper_fd = sv[0];
		dl->refreshed = time(NULL);
		return MB_OK;
	}
	/* no lock: the helper exits by itself (or is made to) */
	if (ans[0] == '\0')
		kill(pid, SIGTERM);
	close(sv[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	code = 0;
	text = "";
	if (ans[0] == '-') {
		code = (int)strtol(ans + 1, (char **)&text, 10);
		while (*text == ' ')
			text++;
	}
	if (code == 75)
		return mbi_err(e, MB_RETRY, MB_ELOCKED, mailbox, -1,
			       "mailbox '%s' is locked (%s)", mailbox, text);
	if (ans[0] == '-')
		snprintf(why, sizeof(why), "the lock helper %s refused: %s",
			 ctx->lock_helper, text);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		snprintf(why, sizeof(why),
			 "the lock helper %s could not be "
			 "run",
			 ctx->lock_helper);
	else
		snprintf(why, sizeof(why), "the lock helper %s gave no answer",
			 ctx->lock_helper);
	return err_denied(ctx, dl, why, e);
}

/* Can we create files in the directory of path? */
static bool
dir_writable(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0 ||
	       errno != EACCES;
}

/* The newer of ctime and mtime; a refresh moves both. */
static time_t
lock_age_base(const struct stat *st)
{
	return st->st_ctime > st->st_mtime ? st->st_ctime : st->st_mtime;
}

int
mbi_dotlock_take(struct mb_ctx *ctx, const char *mailbox,
		 struct mbi_dotlock *dl, int timeout, struct mb_err *e)
{
	struct waiter w;
	struct stat st;
	int n, r;

	dl->held = false;
	dl->refreshed = 0;
	dl->dev = 0;
	dl->ino = 0;
	dl->helper_pid = 0;
	dl->helper_fd = -1;
	n = snprintf(dl->path, sizeof(dl->path), "%s.lock", mailbox);
	if (n < 0 || (size_t)n >= sizeof(dl->path)) {
		dl->path[0] = '\0';
		return mbi_err(e, MB_FAILED, MB_EINVAL, mailbox, -1,
			       "mailbox name too long for a lock file");
	}
	if (!ctx->dotlock)
		return MB_OK;
	/* As UW: the helper only where we cannot make the file ourselves. */
	if (!dir_writable(dl->path))
		return dotlock_helper(ctx, mailbox, dl, timeout, e);

	wait_init(&w, timeout);
	for (;;) {
		if (lstat(dl->path, &st) == 0) {
			if (S_ISLNK(st.st_mode))
				return mbi_err(e, MB_FAILED, MB_EPERM, dl->path,
					       -1,
					       "symbolic link on lock name");
			if (ctx->dotlock_stale > 0 &&
			    time(NULL) - lock_age_base(&st) >=
				    (time_t)ctx->dotlock_stale) {
				struct stat again;

				/* Break it, unless it was just replaced. */
				if (lstat(dl->path, &again) != 0 ||
				    again.st_dev != st.st_dev ||
				    again.st_ino != st.st_ino ||
				    lock_age_base(&again) !=
					    lock_age_base(&st) ||
				    unlink(dl->path) == 0 || errno == ENOENT)
					continue;
				/* Cannot remove it: wait like for a live one. */
			}
			if (dotlock_break_dead(ctx, dl, &st)) {
				/* and what else that writer left there */
				mbi_cleanup_stale(mailbox, ctx->localhost);
				continue;
			}
			r = MB_RETRY;
		} else if (errno != ENOENT) {
			return mbi_err_sys(e, MB_FAILED, errno, dl->path,
					   "cannot check lock file '%s'",
					   dl->path);
		} else {
			r = dotlock_try(ctx, dl, e);
			if (r == DOTLOCK_DENIED)
				return dotlock_helper(ctx, mailbox, dl, timeout,
						      e);
			if (r != MB_RETRY)
				return r;
		}
		if (!wait_more(&w))
			return mbi_err(e, MB_RETRY, MB_ELOCKED, mailbox, -1,
				       "mailbox '%s' is locked", mailbox);
	}
}

/* Is the lock file still the one we made? */
static bool
dotlock_ours(const struct mbi_dotlock *dl)
{
	struct stat st;

	return lstat(dl->path, &st) == 0 && S_ISREG(st.st_mode) &&
	       st.st_dev == dl->dev && st.st_ino == dl->ino;
}

void
mbi_dotlock_refresh(struct mbi_dotlock *dl)
{
	time_t now;

	if (!dl->held || dl->helper_pid > 0) /* the helper refreshes it */
		return;
	now = time(NULL);
	if (now - dl->refreshed <= REFRESH_EVERY)
		return;
	if (dotlock_ours(dl))
		(void)utimensat(AT_FDCWD, dl->path, NULL, AT_SYMLINK_NOFOLLOW);
	dl->refreshed = now;
}

void
mbi_dotlock_release(struct mbi_dotlock *dl)
{
	if (!dl->held)
		return;
	if (dl->helper_pid > 0) {
		helper_stop(dl);
		dl->held = false;
		return;
	}
	/* A lock broken as stale and retaken by another is theirs now. */
	if (dotlock_ours(dl))
		unlink(dl->path);
	dl->held = false;
}

/* ------------------------------------------------------------------ */
/* flock and fcntl                                                      */

int
mbi_flock(int fd, int op, int timeout, const char *path, struct mb_err *e)
{
	struct waiter w;

	op &= ~LOCK_NB;
	wait_init(&w, timeout);
	for (;;) {
		if (flock(fd, op | (op == LOCK_UN ? 0 : LOCK_NB)) == 0)
			return MB_OK;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return mbi_err_sys(e, MB_FAILED, errno, path,
					   "cannot lock '%s'", nz(path));
		if (!wait_more(&w))
			return mbi_err(e, MB_RETRY, MB_ELOCKED, path, -1,
				       "mailbox '%s' is locked", nz(path));
	}
}

int
mbi_fcntl_lock(int fd, short type, int timeout, const char *path,
	       struct mb_err *e)
{
	struct waiter w;
	struct flock fl;

	wait_init(&w, timeout);
	for (;;) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = type;
		fl.l_whence = SEEK_SET;
		fl.l_start = 0;
		fl.l_len = 0; /* to the end, however far it grows */
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return MB_OK;
		if (errno == EINTR)
			continue;
		if (errno != EACCES && errno != EAGAIN)
			return mbi_err_sys(e, MB_FAILED, errno, path,
					   "cannot lock '%s'", nz(path));
		if (!wait_more(&w))
			return mbi_err(e, MB_RETRY, MB_ELOCKED, path, -1,
				       "mailbox '%s' is locked", nz(path));
	}
}

/* ------------------------------------------------------------------ */
/* /tmp/.<dev>.<ino>                                                    */

/* Is st a safe lock file: a regular file with a single name? */
static int
tmplock_check(const struct stat *st, const char *path, struct mb_err *e)
{
	if (S_ISLNK(st->st_mode))
		return mbi_err(e, MB_FAILED, MB_EPERM, path, -1,
			       "symbolic link on lock name");
	if (!S_ISREG(st->st_mode))
		return mbi_err(e, MB_FAILED, MB_EPERM, path, -1,
			       "lock name is not a regular file");
	if (st->st_nlink != 1)
		return mbi_err(e, MB_FAILED, MB_EPERM, path, -1,
			       "hard link to lock name");
	return MB_OK;
}

/*
 * UW creates the lock file NFS-safely: a unique name hard-linked to this
 * one, then unlinked.  Two links for a moment are that, not an attack.
 * Wait while they last: true (after a short sleep) while this inode has
 * had two links for less than two seconds.  Under contention UW makes
 * and removes lock files many times a second, so the time counts per
 * inode, and a new inode starts afresh.
 */
struct link_wait {
	dev_t dev;
	ino_t ino;
	struct timespec since;
	int rounds; /* a bound on the whole wait, however many inodes */
};

static bool
transient_link(struct link_wait *lw, const struct stat *st)
{
	struct timespec now, ts = { 0, 20 * 1000000L };

	if (!S_ISREG(st->st_mode) || st->st_nlink != 2 || lw->rounds++ > 1500)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (st->st_dev != lw->dev || st->st_ino != lw->ino) {
		lw->dev = st->st_dev;
		lw->ino = st->st_ino;
		lw->since = now;
	} else if (now.tv_sec - lw->since.tv_sec > 2) {
		return false;
	}
	nanosleep(&ts, NULL);
	return true;
}

static int
tmplock_open_path(struct mbi_tmplock *tl, struct mb_err *e)
{
	struct stat lst, fst;
	struct link_wait lw;
	int i, fd, r;

	memset(&lw, 0, sizeof(lw));

	for (i = 0; i < TMPLOCK_TRIES; i++) {
		if (lstat(tl->path, &lst) == 0) {
			/* two links for a moment: UW making it */
			if (transient_link(&lw, &lst)) {
				i--;
				continue;
			}
			r = tmplock_check(&lst, tl->path, e);
			if (r != MB_OK)
				return r;
			/*
			 * Never O_CREAT here: with fs.protected_regular a
			 * sticky /tmp refuses it on another user's file.
			 */
			fd = open(tl->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				if (errno == ENOENT)
					continue; /* just removed */
				if (errno == ELOOP)
					return mbi_err(
						e, MB_FAILED, MB_EPERM,
						tl->path, -1,
						"symbolic link on lock name");
				return mbi_err_sys(
					e, MB_FAILED, errno, tl->path,
					"cannot open lock file '%s'", tl->path);
			}
			/*
			 * Replaced meanwhile, or unlinked by its last user
			 * (UW removes it when it unlocks): no link left is
			 * that, not a hard link.
			 */
			if (fstat(fd, &fst) != 0 || fst.st_dev != lst.st_dev ||
			    fst.st_ino != lst.st_ino || fst.st_nlink == 0) {
				close(fd);
				continue;
			}
			/* the second link may appear between lstat and open */
			if (transient_link(&lw, &fst)) {
				close(fd);
				i--;
				continue;
			}
			r = tmplock_check(&fst, tl->path, e);
			if (r != MB_OK) {
				close(fd);
				return r;
			}
			tl->fd = fd;
			return MB_OK;
		}
		if (errno != ENOENT)
			return mbi_err_sys(e, MB_FAILED, errno, tl->path,
					   "cannot check lock file '%s'",
					   tl->path);
		fd = open(tl->path,
			  O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0666);
		if (fd < 0) {
			if (errno == EEXIST)
				continue; /* lost a race: open theirs */
			return mbi_err_sys(e, MB_FAILED, errno, tl->path,
					   "cannot create lock file '%s'",
					   tl->path);
		}
		/* World-writable on purpose: other users share it. */
		(void)fchmod(fd, 0666);
		tl->fd = fd;
		return MB_OK;
	}
	return mbi_err(e, MB_RETRY, MB_ELOCKED, tl->path, -1,
		       "lock file '%s' keeps changing", tl->path);
}

int
mbi_tmplock_open(const struct stat *st, struct mbi_tmplock *tl,
		 struct mb_err *e)
{
	tl->fd = -1;
	snprintf(tl->path, sizeof(tl->path), "/tmp/.%llx.%llx",
		 (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino);
	return tmplock_open_path(tl, e);
}

/* Does the name still lead to our open file, safely? */
static bool
tmplock_same(const struct mbi_tmplock *tl)
{
	struct stat lst, fst;

	if (lstat(tl->path, &lst) != 0 || fstat(tl->fd, &fst) != 0)
		return false;
	return S_ISREG(lst.st_mode) && lst.st_nlink == 1 &&
	       lst.st_dev == fst.st_dev && lst.st_ino == fst.st_ino;
}

int
mbi_tmplock_lock(struct mbi_tmplock *tl, int op, int timeout, struct mb_err *e)
{
	time_t start;
	int i, r;

	if (tl->fd < 0) {
		r = tmplock_open_path(tl, e);
		if (r != MB_OK)
			return r;
	}
	/* Under contention every release unlinks the name the waiters
	 * opened, so a waiter may lose many rounds: retry while the
	 * timeout lasts, not a fixed number of times. */
	start = time(NULL);
	for (i = 0; i < TMPLOCK_TRIES || time(NULL) - start <= timeout; i++) {
		r = mbi_flock(tl->fd, op, timeout, tl->path, e);
		if (r != MB_OK || (op & ~LOCK_NB) == LOCK_UN)
			return r;
		/*
		 * The previous holder may have unlinked the name between our
		 * open and our flock, or someone may have put another file
		 * there: then this lock protects nothing.  Start again.
		 */
		if (tmplock_same(tl))
			return MB_OK;
		close(tl->fd);
		tl->fd = -1;
		r = tmplock_open_path(tl, e);
		if (r != MB_OK)
			return r;
	}
	return mbi_err(e, MB_RETRY, MB_ELOCKED, tl->path, -1,
		       "lock file '%s' keeps changing", tl->path);
}

void
mbi_tmplock_write_pid(struct mbi_tmplock *tl)
{
	char pid[32];
	int n;

	if (tl->fd < 0)
		return;
	n = snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (ftruncate(tl->fd, 0) != 0)
		return;
	/* Decimal digits without a terminator, as UW leaves it. */
	(void)!pwrite(tl->fd, pid, (size_t)n, 0);
}

void
mbi_tmplock_release(struct mbi_tmplock *tl)
{
	if (tl->fd < 0)
		return;
	/* Nobody else holds or waits holding it: the name can go. */
	if (flock(tl->fd, LOCK_EX | LOCK_NB) == 0 && tmplock_same(tl))
		unlink(tl->path);
	close(tl->fd);
	tl->fd = -1;
}

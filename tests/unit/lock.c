/*
 * lock.c - unit tests for libmbox/lock.c: dot-locks (also against
 * procmail's lockfile), flock/fcntl with timeouts and the /tmp locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mb-int.h"
#include "tap.h"

#define LOCKFILE_PROG "/usr/bin/lockfile"

static void
ctx_init(struct mb_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->lock_timeout = 5;
	ctx->dotlock_stale = 300;
	ctx->dotlock = true;
	snprintf(ctx->localhost, sizeof(ctx->localhost), "testhost");
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0)
		close(fd);
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Number of entries in the current directory whose name starts so. */
static int
count_prefix(const char *prefix)
{
	char cmd[256], buf[64];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -a | grep -c '^%s'", prefix);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), p) != NULL)
		n = atoi(buf);
	pclose(p);
	return n;
}

/*
 * A child that takes a lock of some kind, says 'L' on *ready, waits for
 * a byte on *go, then lingers ms and exits (releasing it).
 */
enum hold_kind {
	HOLD_DOTLOCK,
	HOLD_FLOCK_EX,
	HOLD_FLOCK_SH,
	HOLD_FCNTL_WR,
	HOLD_FCNTL_RD,
	HOLD_TMPLOCK_SH
};

struct holder {
	pid_t pid;
	int ready; /* read end */
	int go;	   /* write end */
};

static int
hold_start(struct holder *h, enum hold_kind kind, const char *path,
	   long linger_ms)
{
	int rp[2], gp[2];
	char c;

	if (pipe(rp) != 0 || pipe(gp) != 0)
		return -1;
	fflush(stdout);
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (h->pid == 0) {
		struct mb_ctx ctx;
		struct mbi_dotlock dl;
		struct mbi_tmplock tl;
		struct mb_err e;
		struct stat st;
		int fd = -1, r = MB_FAILED;

		close(rp[0]);
		close(gp[1]);
		ctx_init(&ctx);
		if (kind != HOLD_DOTLOCK && kind != HOLD_TMPLOCK_SH)
			fd = open(path, O_RDWR);
		switch (kind) {
		case HOLD_DOTLOCK:
			r = mbi_dotlock_take(&ctx, path, &dl, 0, &e);
			break;
		case HOLD_FLOCK_EX:
			r = mbi_flock(fd, LOCK_EX, 0, path, &e);
			break;
		case HOLD_FLOCK_SH:
			r = mbi_flock(fd, LOCK_SH, 0, path, &e);
			break;
		case HOLD_FCNTL_WR:
			r = mbi_fcntl_lock(fd, F_WRLCK, 0, path, &e);
			break;
		case HOLD_FCNTL_RD:
			r = mbi_fcntl_lock(fd, F_RDLCK, 0, path, &e);
			break;
		case HOLD_TMPLOCK_SH:
			if (stat(path, &st) == 0 &&
			    mbi_tmplock_open(&st, &tl, &e) == MB_OK)
				r = mbi_tmplock_lock(&tl, LOCK_SH, 0, &e);
			break;
		}
		c = r == MB_OK ? 'L' : 'F';
		(void)!write(rp[1], &c, 1);
		(void)!read(gp[0], &c, 1);
		nap_ms(linger_ms);
		if (kind == HOLD_DOTLOCK && r == MB_OK)
			mbi_dotlock_release(&dl);
		if (kind == HOLD_TMPLOCK_SH && r == MB_OK)
			mbi_tmplock_release(&tl);
		_exit(0);
	}
	close(rp[1]);
	close(gp[0]);
	h->ready = rp[0];
	h->go = gp[1];
	if (read(h->ready, &c, 1) != 1 || c != 'L')
		return -1;
	return 0;
}

static int
hold_stop(struct holder *h)
{
	int status = -1;

	(void)!write(h->go, "x", 1);
	close(h->go);
	close(h->ready);
	waitpid(h->pid, &status, 0);
	return status;
}

/* Tell the holder to let go, without waiting for it to exit. */
static void
hold_let_go(struct holder *h)
{
	(void)!write(h->go, "x", 1);
}

static void
hold_reap(struct holder *h)
{
	int status;

	close(h->go);
	close(h->ready);
	waitpid(h->pid, &status, 0);
}

/* ------------------------------------------------------------------ */

static void
test_dotlock_basic(void)
{
	struct mb_ctx ctx;
	struct mbi_dotlock dl;
	struct mb_err e;
	struct stat st;
	mode_t old;

	ctx_init(&ctx);
	touch("box");
	old = umask(022);
	is_int(mbi_dotlock_take(&ctx, "box", &dl, 0, &e), MB_OK,
	       "dotlock: take a free lock");
	umask(old);
	ok(dl.held, "dotlock: held");
	is_str(dl.path, "box.lock", "dotlock: name is <mailbox>.lock");
	ok(lstat("box.lock", &st) == 0 && S_ISREG(st.st_mode),
	   "dotlock: lock file exists");
	is_int(st.st_mode & 07777, 0666, "dotlock: mode 0666 despite umask");
	is_int(count_prefix("box\\.lock\\."), 0,
	       "dotlock: no hitching post left behind");
	is_int(dl.helper_pid, 0, "dotlock: no helper");
	is_int(dl.helper_fd, -1, "dotlock: no helper pipe");
	mbi_dotlock_release(&dl);
	ok(!exists("box.lock"), "dotlock: release removes the lock");
	ok(!dl.held, "dotlock: not held after release");
	mbi_dotlock_release(&dl); /* twice is harmless */
	ok(!exists("box.lock"), "dotlock: second release is a no-op");

	ctx.dotlock = false;
	is_int(mbi_dotlock_take(&ctx, "box", &dl, 0, &e), MB_OK,
	       "dotlock: disabled take succeeds");
	ok(!dl.held && !exists("box.lock"), "dotlock: disabled takes nothing");
	mbi_dotlock_release(&dl);
}

static void
test_dotlock_contend(void)
{
	struct mb_ctx ctx;
	struct mbi_dotlock dl;
	struct mb_err e;
	struct holder h;
	double t0, dt;
	int r;

	ctx_init(&ctx);
	touch("cbox");
	if (hold_start(&h, HOLD_DOTLOCK, "cbox", 300) != 0) {
		ok(0, "dotlock contend: child could not take the lock");
		return;
	}
	t0 = now_s();
	r = mbi_dotlock_take(&ctx, "cbox", &dl, 0, &e);
	dt = now_s() - t0;
	is_int(r, MB_RETRY, "dotlock contend: timeout 0 gives MB_RETRY");
	is_int(e.code, MB_ELOCKED, "dotlock contend: code MB_ELOCKED");
	is_str(e.msg, "mailbox 'cbox' is locked", "dotlock contend: message");
	ok(dt < 0.5, "dotlock contend: timeout 0 does not wait (%.2fs)", dt);
	ok(!dl.held, "dotlock contend: not held");

	t0 = now_s();
	r = mbi_dotlock_take(&ctx, "cbox", &dl, 1, &e);
	dt = now_s() - t0;
	is_int(r, MB_RETRY, "dotlock contend: timeout 1 gives MB_RETRY");
	ok(dt >= 0.9 && dt < 3.0, "dotlock contend: waited about 1s (%.2fs)",
	   dt);
	ok(exists("cbox.lock"), "dotlock contend: holder's lock untouched");

	/* The holder lets go 300 ms from now; a waiter gets it. */
	hold_let_go(&h);
	t0 = now_s();
	r = mbi_dotlock_take(&ctx, "cbox", &dl, 5, &e);
	dt = now_s() - t0;
	hold_reap(&h);
	is_int(r, MB_OK, "dotlock contend: waiting take succeeds on release");
	ok(dt < 4.0, "dotlock contend: got it promptly (%.2fs)", dt);
	mbi_dotlock_release(&dl);
	ok(!exists("cbox.lock"), "dotlock contend: released");
}

static void
test_dotlock_stale(void)
{
	struct mb_ctx ctx;
	struct mbi_dotlock dl;
	struct mb_err e;
	struct stat before, after;
	int fd;

	ctx_init(&ctx);
	touch("sbox");
	touch("sbox.lock");
	lstat("sbox.lock", &before);
	/* Keep a name on the old inode so the new one cannot reuse it. */
	link("sbox.lock", "old-inode");

	is_int(mbi_dotlock_take(&ctx, "sbox", &dl, 0, &e), MB_RETRY,
	       "stale: a fresh foreign lock is respected");

	ctx.dotlock_stale = 1;
	sleep(2);
	is_int(mbi_dotlock_take(&ctx, "sbox", &dl, 0, &e), MB_OK,
	       "stale: a lock older than dotlock_stale is broken");
	ok(lstat("sbox.lock", &after) == 0 && after.st_ino != before.st_ino,
	   "stale: the lock was replaced by ours");
	mbi_dotlock_release(&dl);
	unlink("old-inode");

	/* Staleness follows ctime: an old mtime alone does not make it. */
	ctx.dotlock_stale = 60;
	fd = open("sbox.lock", O_WRONLY | O_CREAT | O_EXCL, 0644);
	close(fd);
	{
		struct timespec ts[2] = { { time(NULL) - 3600, 0 },
					  { time(NULL) - 3600, 0 } };

		utimensat(AT_FDCWD, "sbox.lock", ts, 0);
	}
	is_int(mbi_dotlock_take(&ctx, "sbox", &dl, 0, &e), MB_RETRY,
	       "stale: recently changed lock with old mtime is kept");
	unlink("sbox.lock");
}

static void
test_dotlock_refresh(void)
{
	struct mb_ctx ctx;
	struct mbi_dotlock dl;
	struct mb_err e;
	struct stat st;
	struct timespec old[2];
	time_t now = time(NULL);

	ctx_init(&ctx);
	touch("rbox");
	if (mbi_dotlock_take(&ctx, "rbox", &dl, 0, &e) != MB_OK) {
		ok(0, "refresh: take");
		return;
	}
	old[0].tv_sec = old[1].tv_sec = now - 1000;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	utimensat(AT_FDCWD, "rbox.lock", old, 0);
	mbi_dotlock_refresh(&dl);
	lstat("rbox.lock", &st);
	ok(st.st_mtime <= now - 999,
	   "refresh: not touched within 60 s of the last refresh");
	dl.refreshed = now - 61;
	mbi_dotlock_refresh(&dl);
	lstat("rbox.lock", &st);
	ok(st.st_mtime >= now - 1, "refresh: touched after 60 s");
	ok(dl.refreshed >= now, "refresh: refreshed time kept");

	/* Someone broke ours and took it: release leaves theirs alone. */
	touch("other-lock");
	rename("other-lock", "rbox.lock");
	mbi_dotlock_release(&dl);
	ok(exists("rbox.lock"), "release: another's lock is not removed");
	unlink("rbox.lock");
}

static void
test_dotlock_symlink(void)
{
	struct mb_ctx ctx;
	struct mbi_dotlock dl;
	struct mb_err e;

	ctx_init(&ctx);
	touch("lbox");
	symlink("victim", "lbox.lock");
	is_int(mbi_dotlock_take(&ctx, "lbox", &dl, 1, &e), MB_FAILED,
	       "symlink: refused");
	is_int(e.code, MB_EPERM, "symlink: MB_EPERM");
	is_str(e.msg, "symbolic link on lock name", "symlink: message");
	ok(!exists("victim"), "symlink: target not created");
	ok(!dl.held, "symlink: not held");
	unlink("lbox.lock");
}

static void
test_dotlock_perm(void)
{
	struct mb_ctx ctx;
	struct mbi_dotlock dl;
	struct mb_err e;
	char buf[600] = "";
	int p[2], status;
	pid_t pid;

	chmod(".", 0755); /* let the unprivileged child in */
	mkdir("ro", 0755);
	touch("ro/box");
	if (pipe(p) != 0) {
		ok(0, "perm: pipe");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r;

		close(p[0]);
		if (geteuid() == 0) {
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(2);
		} else {
			chmod("ro", 0555);
		}
		ctx_init(&ctx);
		/* the spool directory: the helper's business */
		snprintf(ctx.spool_dir, sizeof(ctx.spool_dir), "ro");
		r = mbi_dotlock_take(&ctx, "ro/box", &dl, 0, &e);
		snprintf(buf, sizeof(buf), "%d %d %d %s", r, e.code,
			 dl.helper_fd, e.msg);
		/* any other directory: permission denied, no retry */
		snprintf(ctx.spool_dir, sizeof(ctx.spool_dir), "/nonexistent");
		r = mbi_dotlock_take(&ctx, "ro/box", &dl, 0, &e);
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
			 "|%d %d", r, e.code);
		(void)!write(p[1], buf, strlen(buf));
		_exit(0);
	}
	close(p[1]);
	(void)!read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	waitpid(pid, &status, 0);
	chmod("ro", 0755);
	{
		char want[100];

		/* no helper configured (ctx_init leaves lock_helper "") */
		snprintf(want, sizeof(want), "%d %d -1 ", MB_FAILED,
			 MB_ELOCKED);
		ok(strncmp(buf, want, strlen(want)) == 0,
		   "perm: unwritable directory refused as locked");
		ok(strstr(buf, "cannot create lock file 'ro/box.lock': "
			       "directory ro (mode ") != NULL &&
			   strstr(buf, "no lock helper is configured") &&
			   strstr(buf, "mode 1777; nothing was changed"),
		   "perm: the message says why and what to do");
		snprintf(want, sizeof(want), "|%d %d", MB_FAILED, MB_EPERM);
		ok(strstr(buf, want) != NULL,
		   "perm: outside the spool directory it is permission denied");
	}
	ok(!exists("ro/box.lock"), "perm: nothing created");
}

static int
run_lockfile(const char *args)
{
	char cmd[300];
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s >/dev/null 2>&1", LOCKFILE_PROG,
		 args);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_dotlock_procmail(void)
{
	struct mb_ctx ctx;
	struct mbi_dotlock dl;
	struct mb_err e;

	if (access(LOCKFILE_PROG, X_OK) != 0) {
		skip(5, "procmail's lockfile is not installed");
		return;
	}
	ctx_init(&ctx);
	touch("pbox");
	if (mbi_dotlock_take(&ctx, "pbox", &dl, 0, &e) != MB_OK) {
		ok(0, "procmail: take");
		return;
	}
	ok(run_lockfile("-r0 pbox.lock") != 0,
	   "procmail: lockfile respects our dot-lock");
	mbi_dotlock_release(&dl);
	is_int(run_lockfile("-r0 pbox.lock"), 0,
	       "procmail: lockfile takes it after we release");
	is_int(mbi_dotlock_take(&ctx, "pbox", &dl, 0, &e), MB_RETRY,
	       "procmail: we respect lockfile's lock");
	is_int(e.code, MB_ELOCKED, "procmail: MB_ELOCKED");
	unlink("pbox.lock");
	is_int(mbi_dotlock_take(&ctx, "pbox", &dl, 0, &e), MB_OK,
	       "procmail: we take it after lockfile's is gone");
	mbi_dotlock_release(&dl);
}

/* Write text into path, replacing it. */
static void
put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);

	if (fd >= 0) {
		(void)!write(fd, text, strlen(text));
		close(fd);
	}
}

/* A PID that has just exited (reaped), so is not running. */
static pid_t
dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid;
}

/*
 * Our dot-lock names its owner; one whose process is gone (a writer
 * killed with SIGKILL) is cleared by the next locker at once, and only
 * then: a live owner, another host, another PID namespace, or a lock
 * that is not ours in exactly our form (UW's empty one, procmail's "0")
 * waits for the staleness rule.
 */
static void
test_dotlock_dead(void)
{
	struct mb_ctx ctx;
	struct mbi_dotlock dl;
	struct mb_err e;
	struct stat st;
	char want[512], got[512], text[512];
	unsigned long long ns = 0;
	ssize_t n;
	pid_t pid;
	int fd, status;

	ctx_init(&ctx);
	touch("dbox");
	if (stat("/proc/self/ns/pid", &st) == 0)
		ns = (unsigned long long)st.st_ino;
	is_int(mbi_dotlock_take(&ctx, "dbox", &dl, 0, &e), MB_OK,
	       "dead: take");
	snprintf(want, sizeof(want), "mailbag %ld testhost %llu\n",
		 (long)getpid(), ns);
	fd = open("dbox.lock", O_RDONLY);
	n = fd >= 0 ? read(fd, got, sizeof(got) - 1) : -1;
	if (fd >= 0)
		close(fd);
	got[n > 0 ? n : 0] = '\0';
	is_str(got, want, "dead: the lock names its owner, host, namespace");
	mbi_dotlock_release(&dl);

	/* a locker that dies holding it */
	pid = fork();
	if (pid == 0) {
		struct mbi_dotlock cdl;

		_exit(mbi_dotlock_take(&ctx, "dbox", &cdl, 0, &e) == MB_OK
			      ? 0
			      : 1);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && exists("dbox.lock"),
	   "dead: a process exiting without release leaves its lock");
	is_int(mbi_dotlock_take(&ctx, "dbox", &dl, 0, &e), MB_OK,
	   "dead: the next locker clears a dead owner's lock at once");
	mbi_dotlock_release(&dl);

	/* what must be left alone */
	pid = dead_pid();
	snprintf(text, sizeof(text), "mailbag 1 testhost %llu\n", ns);
	put("dbox.lock", text);
	is_int(mbi_dotlock_take(&ctx, "dbox", &dl, 0, &e), MB_RETRY,
	       "dead: a live owner's lock is respected");
	snprintf(text, sizeof(text), "mailbag %ld otherhost %llu\n",
		 (long)pid, ns);
	put("dbox.lock", text);
	is_int(mbi_dotlock_take(&ctx, "dbox", &dl, 0, &e), MB_RETRY,
	       "dead: another host's lock is respected");
	snprintf(text, sizeof(text), "mailbag %ld testhost %llu\n",
		 (long)pid, ns + 1);
	put("dbox.lock", text);
	is_int(mbi_dotlock_take(&ctx, "dbox", &dl, 0, &e), MB_RETRY,
	       "dead: another PID namespace's lock is respected");
	snprintf(text, sizeof(text), "mailbag %ld testhost %llu\nx", (long)pid,
		 ns);
	put("dbox.lock", text);
	is_int(mbi_dotlock_take(&ctx, "dbox", &dl, 0, &e), MB_RETRY,
	       "dead: a line not exactly ours is respected");
	put("dbox.lock", "");
	is_int(mbi_dotlock_take(&ctx, "dbox", &dl, 0, &e), MB_RETRY,
	       "dead: UW's empty lock is respected");
	put("dbox.lock", "0");
	is_int(mbi_dotlock_take(&ctx, "dbox", &dl, 0, &e), MB_RETRY,
	       "dead: procmail's lock is respected");
	snprintf(text, sizeof(text), "mailbag %ld testhost %llu\n", (long)pid,
		 ns);
	put("dbox.lock", text);
	ok(link("dbox.lock", "dbox.lock.extra") == 0, "dead: second link");
	is_int(mbi_dotlock_take(&ctx, "dbox", &dl, 0, &e), MB_RETRY,
	       "dead: a lock with two names is respected");
	unlink("dbox.lock.extra");
	{
		char post[256];

		/* killed between link() and the post's unlink */
		snprintf(post, sizeof(post), "dbox.lock.1700000000.%ld.testhost",
			 (long)pid);
		ok(link("dbox.lock", post) == 0, "dead: hitching post link");
		is_int(mbi_dotlock_take(&ctx, "dbox", &dl, 0, &e), MB_OK,
		       "dead: a lock still linked to its dead post is cleared");
		ok(!exists(post), "dead: the post went too");
		mbi_dotlock_release(&dl);
		snprintf(text, sizeof(text), "mailbag %ld testhost %llu\n",
			 (long)pid, ns);
		put("dbox.lock", text);
	}
	is_int(mbi_dotlock_take(&ctx, "dbox", &dl, 0, &e), MB_OK,
	       "dead: the same line, alone, is cleared");
	mbi_dotlock_release(&dl);
	ok(!exists("dbox.lock"), "dead: released");
}

/* ------------------------------------------------------------------ */

static void
contend_kernel(bool use_fcntl)
{
	const char *name = use_fcntl ? "fcntl" : "flock";
	struct mb_err e;
	struct holder h;
	double t0, dt;
	int fd, r;

	touch("kbox");
	fd = open("kbox", O_RDWR);
	if (hold_start(&h, use_fcntl ? HOLD_FCNTL_WR : HOLD_FLOCK_EX, "kbox",
		       300) != 0) {
		ok(0, "%s: child could not lock", name);
		close(fd);
		return;
	}
	t0 = now_s();
	r = use_fcntl ? mbi_fcntl_lock(fd, F_WRLCK, 0, "kbox", &e) :
			mbi_flock(fd, LOCK_EX, 0, "kbox", &e);
	dt = now_s() - t0;
	is_int(r, MB_RETRY, "%s: exclusive busy, timeout 0", name);
	is_int(e.code, MB_ELOCKED, "%s: MB_ELOCKED", name);
	is_str(e.msg, "mailbox 'kbox' is locked", "%s: message", name);
	ok(dt < 0.5, "%s: timeout 0 does not wait", name);
	r = use_fcntl ? mbi_fcntl_lock(fd, F_RDLCK, 0, "kbox", &e) :
			mbi_flock(fd, LOCK_SH, 0, "kbox", &e);
	is_int(r, MB_RETRY, "%s: shared busy too", name);
	t0 = now_s();
	r = use_fcntl ? mbi_fcntl_lock(fd, F_WRLCK, 1, "kbox", &e) :
			mbi_flock(fd, LOCK_EX, 1, "kbox", &e);
	dt = now_s() - t0;
	is_int(r, MB_RETRY, "%s: timeout 1 expires", name);
	ok(dt >= 0.9 && dt < 3.0, "%s: waited about 1s (%.2fs)", name, dt);
	hold_let_go(&h);
	r = use_fcntl ? mbi_fcntl_lock(fd, F_WRLCK, 5, "kbox", &e) :
			mbi_flock(fd, LOCK_EX, 5, "kbox", &e);
	hold_reap(&h);
	is_int(r, MB_OK, "%s: waiting lock succeeds when the holder exits",
	       name);
	r = use_fcntl ? mbi_fcntl_lock(fd, F_UNLCK, 0, "kbox", &e) :
			mbi_flock(fd, LOCK_UN, 0, "kbox", &e);
	is_int(r, MB_OK, "%s: unlock", name);

	/* Shared holders let other readers in. */
	if (hold_start(&h, use_fcntl ? HOLD_FCNTL_RD : HOLD_FLOCK_SH, "kbox",
		       0) != 0) {
		ok(0, "%s: child could not lock shared", name);
	} else {
		r = use_fcntl ? mbi_fcntl_lock(fd, F_RDLCK, 0, "kbox", &e) :
				mbi_flock(fd, LOCK_SH, 0, "kbox", &e);
		is_int(r, MB_OK, "%s: shared beside shared", name);
		if (use_fcntl)
			mbi_fcntl_lock(fd, F_UNLCK, 0, "kbox", &e);
		else
			mbi_flock(fd, LOCK_UN, 0, "kbox", &e);
		r = use_fcntl ? mbi_fcntl_lock(fd, F_WRLCK, 0, "kbox", &e) :
				mbi_flock(fd, LOCK_EX, 0, "kbox", &e);
		is_int(r, MB_RETRY, "%s: exclusive beside shared is busy",
		       name);
		hold_stop(&h);
	}
	close(fd);
	r = use_fcntl ? mbi_fcntl_lock(fd, F_WRLCK, 0, "kbox", &e) :
			mbi_flock(fd, LOCK_EX, 0, "kbox", &e);
	is_int(r, MB_FAILED, "%s: bad descriptor fails hard", name);
}

/* ------------------------------------------------------------------ */

static void
tmp_name_of(const char *file, char *out, size_t size)
{
	struct stat st;

	stat(file, &st);
	snprintf(out, size, "/tmp/.%llx.%llx", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
}

static void
test_tmplock(void)
{
	struct mbi_tmplock tl;
	struct mb_err e;
	struct stat st, lst;
	struct holder h;
	char want[64], buf[64];
	ssize_t n;
	int fd;
	mode_t old;

	touch("tbox");
	stat("tbox", &st);
	tmp_name_of("tbox", want, sizeof(want));
	unlink(want);
	old = umask(077);
	is_int(mbi_tmplock_open(&st, &tl, &e), MB_OK, "tmplock: open");
	umask(old);
	is_str(tl.path, want, "tmplock: name /tmp/.<dev hex>.<ino hex>");
	{
		char lower[64];
		size_t i;

		snprintf(lower, sizeof(lower), "%s", tl.path);
		for (i = 0; lower[i]; i++)
			if (lower[i] >= 'A' && lower[i] <= 'F')
				lower[i] = 'x';
		is_str(lower, tl.path, "tmplock: lowercase hex");
		ok(strncmp(tl.path, "/tmp/.0", 7) != 0 || st.st_dev == 0,
		   "tmplock: no zero padding");
	}
	ok(lstat(tl.path, &lst) == 0 && (lst.st_mode & 07777) == 0666,
	   "tmplock: created mode 0666 despite umask");
	ok(tl.fd >= 0, "tmplock: fd open");
	is_int(mbi_tmplock_lock(&tl, LOCK_EX, 0, &e), MB_OK,
	       "tmplock: lock exclusive");

	fd = open(tl.path, O_RDWR);
	(void)!write(fd, "123456789012345", 15);
	close(fd);
	mbi_tmplock_write_pid(&tl);
	fd = open(tl.path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	snprintf(want, sizeof(want), "%ld", (long)getpid());
	is_str(buf, want, "tmplock: PID in decimal, no newline, truncated");

	mbi_tmplock_release(&tl);
	is_int(tl.fd, -1, "tmplock: fd -1 after release");
	ok(!exists(tl.path), "tmplock: unused lock file removed on release");
	mbi_tmplock_release(&tl); /* harmless */

	/* An existing file is reused, not replaced. */
	fd = open(tl.path, O_RDWR | O_CREAT | O_EXCL, 0666);
	fstat(fd, &lst);
	close(fd);
	is_int(mbi_tmplock_open(&st, &tl, &e), MB_OK, "tmplock: open existing");
	{
		struct stat fst;

		fstat(tl.fd, &fst);
		ok(fst.st_ino == lst.st_ino, "tmplock: existing inode reused");
	}
	mbi_tmplock_release(&tl);

	/* Someone else holds it shared: busy for us, and not removed. */
	if (hold_start(&h, HOLD_TMPLOCK_SH, "tbox", 0) != 0) {
		ok(0, "tmplock: child could not lock");
		return;
	}
	is_int(mbi_tmplock_open(&st, &tl, &e), MB_OK,
	       "tmplock: open while held");
	is_int(mbi_tmplock_lock(&tl, LOCK_EX, 0, &e), MB_RETRY,
	       "tmplock: exclusive busy while another holds it");
	is_int(e.code, MB_ELOCKED, "tmplock: MB_ELOCKED");
	is_int(mbi_tmplock_lock(&tl, LOCK_SH, 0, &e), MB_OK,
	       "tmplock: shared beside shared");
	mbi_tmplock_release(&tl);
	ok(exists(tl.path), "tmplock: release keeps a lock file in use");
	hold_stop(&h);
	ok(!exists(tl.path), "tmplock: last user's release removes it");

	/*
	 * The name is replaced between open and lock (the previous holder
	 * unlinked it): lock() must notice and use the new file.
	 */
	is_int(mbi_tmplock_open(&st, &tl, &e), MB_OK, "tmplock: open again");
	unlink(tl.path);
	touch(tl.path);
	is_int(mbi_tmplock_lock(&tl, LOCK_EX, 0, &e), MB_OK,
	       "tmplock: lock after the name moved");
	{
		struct stat fst;

		fstat(tl.fd, &fst);
		lstat(tl.path, &lst);
		ok(fst.st_ino == lst.st_ino,
		   "tmplock: re-opened the file now at the name");
	}
	mbi_tmplock_release(&tl);
}

static void
test_tmplock_unsafe(void)
{
	struct mbi_tmplock tl;
	struct mb_err e;
	struct stat st;
	char name[64], other[80];

	touch("ubox");
	stat("ubox", &st);
	tmp_name_of("ubox", name, sizeof(name));
	snprintf(other, sizeof(other), "%s.victim", name);
	unlink(name);
	unlink(other);

	symlink(other, name);
	is_int(mbi_tmplock_open(&st, &tl, &e), MB_FAILED,
	       "tmplock: symlink at the name refused");
	is_str(e.msg, "symbolic link on lock name", "tmplock: symlink message");
	is_int(tl.fd, -1, "tmplock: fd -1 after refusal");
	ok(!exists(other), "tmplock: symlink target not created");
	unlink(name);

	touch(other);
	link(other, name);
	is_int(mbi_tmplock_open(&st, &tl, &e), MB_FAILED,
	       "tmplock: hard-linked name refused");
	is_str(e.msg, "hard link to lock name", "tmplock: hard link message");
	unlink(name);
	unlink(other);

	mkdir(name, 0700);
	is_int(mbi_tmplock_open(&st, &tl, &e), MB_FAILED,
	       "tmplock: directory at the name refused");
	rmdir(name);
}

/*
 * UW makes lock files through a hitching post, so the name has two links
 * for a moment, and under contention one such file after another.  Two
 * of them, each with two links for 1.5 s (3 s in all, more than the 2 s
 * one file may take): the open waits them out and takes the lock file.
 */
static void
test_tmplock_posts(void)
{
	struct mbi_tmplock tl;
	struct mb_err e;
	struct stat st, lst;
	char name[64], post[80];
	int i, fds[2], rc;
	pid_t pid;
	char c;

	touch("pbox2");
	stat("pbox2", &st);
	tmp_name_of("pbox2", name, sizeof(name));
	snprintf(post, sizeof(post), "%s.post", name);
	unlink(name);
	unlink(post);
	if (pipe(fds) < 0 || (pid = fork()) < 0) {
		ok(0, "tmplock posts: fork");
		return;
	}
	if (pid == 0) {
		struct timespec ts = { 1, 500 * 1000000L };

		for (i = 0; i < 2; i++) {
			/* a new inode with two names, put at the name */
			unlink(post);
			touch(post);
			link(post, "posts.tmp");
			rename("posts.tmp", name);
			if (i == 0 && write(fds[1], "x", 1) != 1)
				_exit(1);
			nanosleep(&ts, NULL);
		}
		unlink(post);
		_exit(0);
	}
	close(fds[1]);
	rc = read(fds[0], &c, 1) == 1;
	close(fds[0]);
	lstat(name, &lst);
	ok(rc && lst.st_nlink == 2, "tmplock posts: the name has two links");
	memset(&e, 0, sizeof(e));
	is_int(mbi_tmplock_open(&st, &tl, &e), MB_OK,
	       "tmplock posts: two files with two links for 1.5 s each are "
	       "waited out (%s)",
	       e.msg);
	mbi_tmplock_release(&tl);
	waitpid(pid, NULL, 0);
	unlink(name);
	unlink(post);
}

int
main(void)
{
	t_tmpdir();
	signal(SIGPIPE, SIG_IGN);
	test_dotlock_basic();
	test_dotlock_contend();
	test_dotlock_stale();
	test_dotlock_refresh();
	test_dotlock_symlink();
	test_dotlock_perm();
	test_dotlock_procmail();
	test_dotlock_dead();
	contend_kernel(false);
	contend_kernel(true);
	test_tmplock();
	test_tmplock_unsafe();
	test_tmplock_posts();
	return done_testing();
}

/*
 * durable.c - unit tests for libmbox/durable.c: temporary names,
 * publishing without replacing, and the tail journal.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mb-int.h"
#include "tap.h"

#define ORIG \
	"From alice@example.com Wed Dec  2 05:53:22 1992\nSubject: a\n\nbody\n\n"

static void
put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0) {
		(void)!write(fd, text, strlen(text));
		close(fd);
	}
}

/* Whole file as a string (static buffer, good for small files). */
static const char *
slurp(const char *path)
{
	static char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	buf[0] = '\0';
	if (fd < 0)
		return "(missing)";
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static off_t
size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void
test_names(void)
{
	char a[PATH_MAX], b[PATH_MAX], want[128];
	struct mb_err e;

	mkdir("d", 0755);
	snprintf(want, sizeof(want), "d/.box.mbtmp.%ld.", (long)getpid());
	is_int(mbi_tmp_name("d/box", a, sizeof(a), &e), MB_OK, "tmp_name: ok");
	ok(strncmp(a, want, strlen(want)) == 0 && strlen(a) > strlen(want),
	   "tmp_name: '%s' is <dir>/.<base>.mbtmp.<pid>.<n>", a);
	ok(!exists(a), "tmp_name: does not exist");
	mbi_tmp_name("d/box", b, sizeof(b), &e);
	ok(strcmp(a, b) != 0, "tmp_name: two calls give two names");

	snprintf(want, sizeof(want), ".box.mbtmp.%ld.", (long)getpid());
	is_int(mbi_tmp_name("box", a, sizeof(a), &e), MB_OK,
	       "tmp_name: bare name");
	ok(strncmp(a, want, strlen(want)) == 0, "tmp_name: '%s' in cwd", a);
	is_int(mbi_tmp_name("d/sub/", a, sizeof(a), &e), MB_OK,
	       "tmp_name: trailing slash");
	ok(strncmp(a, "d/.sub.mbtmp.", 13) == 0, "tmp_name: '%s' beside dir",
	   a);
	is_int(mbi_tmp_name("d/box", a, 10, &e), MB_FAILED,
	       "tmp_name: too small a buffer fails");

	is_int(mbi_fsync_dir("d/box", &e), MB_OK, "fsync_dir: ok");
	is_int(mbi_fsync_dir("box", &e), MB_OK, "fsync_dir: bare name");
	is_int(mbi_fsync_dir("nodir/box", &e), MB_FAILED,
	       "fsync_dir: missing directory fails");
	is_int(e.code, MB_ENOENT, "fsync_dir: MB_ENOENT");
}

static void
test_publish(void)
{
	struct mb_err e;

	put("d/tmp1", "one");
	is_int(mbi_publish("d/tmp1", "d/final", &e), MB_OK, "publish: file");
	is_str(slurp("d/final"), "one", "publish: content arrived");
	ok(!exists("d/tmp1"), "publish: temporary name gone");

	put("d/tmp2", "two");
	is_int(mbi_publish("d/tmp2", "d/final", &e), MB_FAILED,
	       "publish: refuses to replace a file");
	is_int(e.code, MB_EEXIST, "publish: MB_EEXIST");
	is_str(e.msg, "'d/final' already exists", "publish: message");
	is_str(slurp("d/final"), "one", "publish: existing file untouched");
	ok(exists("d/tmp2"), "publish: temporary kept on failure");

	mkdir("d/tdir", 0755);
	put("d/tdir/x", "x");
	is_int(mbi_publish("d/tdir", "d/fdir", &e), MB_OK,
	       "publish: directory");
	is_str(slurp("d/fdir/x"), "x", "publish: directory content arrived");
	mkdir("d/tdir2", 0755);
	mkdir("d/empty", 0755);
	is_int(mbi_publish("d/tdir2", "d/empty", &e), MB_FAILED,
	       "publish: refuses to replace even an empty directory");
	is_int(e.code, MB_EEXIST, "publish: directory MB_EEXIST");
	is_int(mbi_publish("d/nothere", "d/new", &e), MB_FAILED,
	       "publish: missing source fails");
	is_int(e.code, MB_ENOENT, "publish: MB_ENOENT");
}

static void
journal_name(const char *box, char *out, size_t size)
{
	const char *slash = strrchr(box, '/');

	if (slash == NULL)
		snprintf(out, size, ".%s.mbtail", box);
	else
		snprintf(out, size, "%.*s/.%s.mbtail", (int)(slash - box), box,
			 slash + 1);
}

static void
test_tail(void)
{
	struct mbi_tail t;
	struct mb_err e;
	struct stat st;
	char jn[PATH_MAX], want[200];
	int64_t cut = -1;
	int fd;

	put("d/mbox", ORIG);
	journal_name("d/mbox", jn, sizeof(jn));
	fd = open("d/mbox", O_RDWR | O_APPEND);
	fstat(fd, &st);
	is_int(mbi_tail_recover("d/mbox", fd, &cut, &e), MB_OK,
	       "tail: recover without a journal");
	is_int(cut, 0, "tail: nothing cut");

	is_int(mbi_tail_begin("d/mbox", fd, &t, &e), MB_OK, "tail: begin");
	ok(t.active, "tail: active");
	is_str(t.path, jn, "tail: journal beside the mailbox");
	snprintf(want, sizeof(want), "mailbag-tail 1 %llu %llu %zu\n",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		 strlen(ORIG));
	is_str(slurp(jn), want, "tail: record format");
	ok(lstat(jn, &st) == 0 && (st.st_mode & 022) == 0,
	   "tail: journal writable by its owner only");
	is_int(system("ls -a d | grep -q mbtmp"), 256,
	       "tail: no temporary left behind");

	/* A torn append, then the writer dies before end(). */
	(void)!write(fd, "From bob Thu Dec 10 11:00 1992\nSubj", 35);
	close(fd);
	fd = open("d/mbox", O_RDWR);
	is_int(mbi_tail_recover("d/mbox", fd, &cut, &e), MB_OK,
	       "tail: recover after a crash");
	is_int(cut, 35, "tail: cut the torn bytes");
	is_int(size_of("d/mbox"), (long long)strlen(ORIG),
	       "tail: size back to the recorded one");
	is_str(slurp("d/mbox"), ORIG, "tail: content back to the original");
	ok(!exists(jn), "tail: journal removed");
	is_int(mbi_tail_recover("d/mbox", fd, &cut, &e), MB_OK,
	       "tail: recover again");
	is_int(cut, 0, "tail: second recover cuts nothing");

	/* A completed append. */
	is_int(mbi_tail_begin("d/mbox", fd, &t, &e), MB_OK, "tail: begin 2");
	(void)!pwrite(fd, "X\n", 2, (off_t)strlen(ORIG));
	fsync(fd);
	is_int(mbi_tail_end(&t, &e), MB_OK, "tail: end");
	ok(!t.active, "tail: inactive after end");
	ok(!exists(jn), "tail: end removes the journal");
	is_int(mbi_tail_end(&t, &e), MB_OK, "tail: end twice is harmless");
	is_int(mbi_tail_recover("d/mbox", fd, &cut, &e), MB_OK,
	       "tail: recover after a clean end");
	is_int(cut, 0, "tail: clean append kept");
	is_int(size_of("d/mbox"), (long long)strlen(ORIG) + 2,
	       "tail: appended size kept");
	close(fd);

	/* A record for a mailbox since replaced (other inode). */
	put("d/box2", ORIG);
	fd = open("d/box2", O_RDWR);
	mbi_tail_begin("d/box2", fd, &t, &e);
	close(fd);
	put("d/box2.new", ORIG "more mail\n");
	rename("d/box2.new", "d/box2");
	fd = open("d/box2", O_RDWR);
	journal_name("d/box2", jn, sizeof(jn));
	ok(exists(jn), "tail: stale journal present");
	is_int(mbi_tail_recover("d/box2", fd, &cut, &e), MB_OK,
	       "tail: recover with a stale journal");
	is_int(cut, 0, "tail: other inode's record ignored");
	is_str(slurp("d/box2"), ORIG "more mail\n",
	       "tail: replaced mailbox untouched");
	ok(!exists(jn), "tail: stale journal removed");

	/* Damaged records. */
	put(jn, "mailbag-tail 1 garbage\n");
	chmod(jn, 0644);
	is_int(mbi_tail_recover("d/box2", fd, &cut, &e), MB_OK,
	       "tail: recover with a malformed journal");
	is_int(cut, 0, "tail: malformed record cuts nothing");
	ok(!exists(jn), "tail: malformed journal removed");
	fstat(fd, &st);
	snprintf(want, sizeof(want), "mailbag-tail 1 %llu %llu 3",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	put(jn, want); /* no newline: could be a torn journal write */
	chmod(jn, 0644);
	mbi_tail_recover("d/box2", fd, &cut, &e);
	ok(cut == 0 && size_of("d/box2") == (off_t)strlen(ORIG "more mail\n"),
	   "tail: unterminated record cuts nothing");

	/* A record anyone could have written is not trusted. */
	strcat(want, "\n");
	put(jn, want);
	chmod(jn, 0666);
	mbi_tail_recover("d/box2", fd, &cut, &e);
	ok(cut == 0 && size_of("d/box2") == (off_t)strlen(ORIG "more mail\n"),
	   "tail: world-writable record ignored");
	ok(!exists(jn), "tail: untrusted record removed");

	/* Recorded size beyond the end: nothing to cut. */
	snprintf(want, sizeof(want), "mailbag-tail 1 %llu %llu 99999\n",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	put(jn, want);
	chmod(jn, 0644);
	mbi_tail_recover("d/box2", fd, &cut, &e);
	ok(cut == 0 && size_of("d/box2") == (off_t)strlen(ORIG "more mail\n"),
	   "tail: shorter file is left alone");
	ok(!exists(jn), "tail: its journal removed");

	/* A genuine record works through the same path (control). */
	snprintf(want, sizeof(want), "mailbag-tail 1 %llu %llu %zu\n",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		 strlen(ORIG));
	put(jn, want);
	chmod(jn, 0644);
	mbi_tail_recover("d/box2", fd, &cut, &e);
	is_int(cut, 10, "tail: hand-written record honoured");
	close(fd);
}

/*
 * A mailbox in a directory we cannot write: the journal goes to /tmp.
 * As root the writer is a child running as nobody.
 */
static void
test_tail_tmp(void)
{
	struct mbi_tail t;
	struct mb_err e;
	struct stat st;
	char tj[128], buf[PATH_MAX + 8] = "";
	int64_t cut = -1;
	int p[2], fd, status;
	pid_t pid;
	bool root = geteuid() == 0;

	chmod(".", 0755);
	mkdir("ro", 0755);
	put("ro/mbox", ORIG);
	if (root) {
		chown("ro/mbox", 65534, 65534);
		chmod("ro/mbox", 0600);
	}
	stat("ro/mbox", &st);
	snprintf(tj, sizeof(tj), "/tmp/.mbtail.%llx.%llx",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	unlink(tj);
	if (pipe(p) != 0) {
		ok(0, "tail tmp: pipe");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r;

		close(p[0]);
		if (root) {
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(2);
		} else {
			chmod("ro", 0555);
		}
		fd = open("ro/mbox", O_RDWR | O_APPEND);
		r = mbi_tail_begin("ro/mbox", fd, &t, &e);
		snprintf(buf, sizeof(buf), "%d %s", r, t.path);
		(void)!write(fd, "From torn", 9);
		(void)!write(p[1], buf, strlen(buf));
		_exit(0); /* "crash": no end() */
	}
	close(p[1]);
	(void)!read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	waitpid(pid, &status, 0);
	{
		char want[200];

		snprintf(want, sizeof(want), "%d %s", MB_OK, tj);
		is_str(buf, want, "tail tmp: journal in /tmp");
	}
	ok(exists(tj), "tail tmp: journal exists");
	ok(!exists("ro/.mbox.mbtail"), "tail tmp: nothing beside the mailbox");
	chmod("ro", 0755);
	/* The recovering writer may find the directory writable by now. */
	fd = open("ro/mbox", O_RDWR);
	is_int(mbi_tail_recover("ro/mbox", fd, &cut, &e), MB_OK,
	       "tail tmp: recover");
	is_int(cut, 9, "tail tmp: torn bytes cut");
	is_str(slurp("ro/mbox"), ORIG, "tail tmp: content restored");
	ok(!exists(tj), "tail tmp: journal removed");
	close(fd);

	if (!root) {
		skip(2, "needs root to plant another user's record");
		return;
	}
	/* A record owned by an unrelated user is not trusted. */
	chown("ro/mbox", 0, 0);
	snprintf(buf, sizeof(buf), "mailbag-tail 1 %llu %llu 0\n",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	put(tj, buf);
	chown(tj, 65534, 65534);
	fd = open("ro/mbox", O_RDWR);
	mbi_tail_recover("ro/mbox", fd, &cut, &e);
	close(fd);
	ok(cut == 0, "tail tmp: another user's record cuts nothing");
	is_str(slurp("ro/mbox"), ORIG, "tail tmp: mailbox intact");
	unlink(tj);
}

int
main(void)
{
	t_tmpdir();
	test_names();
	test_publish();
	test_tail();
	test_tail_tmp();
	return done_testing();
}

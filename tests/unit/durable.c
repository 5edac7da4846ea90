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

#define OURS \
	"From bob@example.com Thu Dec 10 11:00:00 1992\nSubject: ours\n\n" \
	"our body\n\n"
#define OURS2 \
	"From dan@example.com Thu Dec 10 11:00:01 1992\nSubject: ours 2\n\n" \
	"more\n\n"
#define THEIRS \
	"From carol@example.com Fri Dec 11 09:00:00 1992\nSubject: theirs\n" \
	"\nhello\n\n"

/* A fresh mailbox d/NAME holding ORIG, open read-write. */
static int
fresh(const char *path)
{
	unlink(path);
	put(path, ORIG);
	return open(path, O_RDWR);
}

/* What another program appends: at the end, without the journal. */
static void
foreign(int fd, const char *text)
{
	off_t end = lseek(fd, 0, SEEK_END);

	(void)!pwrite(fd, text, strlen(text), end);
}

static void
test_tail(void)
{
	struct mbi_tail t;
	struct mbi_tail_outcome o;
	struct mb_err e;
	struct stat st;
	char jn[PATH_MAX], want[200], hdr[300];
	size_t olen = strlen(ORIG), n = strlen(OURS);
	int fd;

	fd = fresh("d/mbox");
	journal_name("d/mbox", jn, sizeof(jn));
	fstat(fd, &st);
	is_int(mbi_tail_recover("d/mbox", fd, &o, &e), MB_OK,
	       "tail: recover without a journal");
	is_int(o.cut, 0, "tail: nothing cut");
	is_int(o.refused_at, -1, "tail: nothing refused");

	is_int(mbi_tail_begin("d/mbox", fd, &t, &e), MB_OK, "tail: begin");
	ok(t.active, "tail: active");
	is_str(t.path, jn, "tail: journal beside the mailbox");
	snprintf(want, sizeof(want), "mailbag-tail 2 1 %llu %llu %zu 0 ",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		 olen);
	{
		int jfd = open(jn, O_RDONLY);

		/* the first record goes to slot 1 (odd SEQ) */
		memset(hdr, 0, sizeof(hdr));
		(void)!pread(jfd, hdr, 256, 256);
		close(jfd);
	}
	ok(strncmp(hdr, want, strlen(want)) == 0, "tail: record format: %.60s",
	   hdr);
	ok(lstat(jn, &st) == 0 && (st.st_mode & 022) == 0,
	   "tail: journal writable by its owner only");
	is_int(system("ls -a d | grep -q mbtmp"), 256,
	       "tail: no temporary left behind");

	/* A torn write, then the writer dies before end(). */
	is_int(mbi_tail_note(&t, OURS, n, (int64_t)olen, &e), MB_OK,
	       "tail: note");
	(void)!pwrite(fd, OURS, 20, (off_t)olen);
	close(t.jfd); /* "killed" */
	is_int(mbi_tail_recover("d/mbox", fd, &o, &e), MB_OK,
	       "tail: recover after a crash");
	is_int(o.cut, 20, "tail: cut the torn bytes");
	is_int(o.kept, 0, "tail: nothing moved");
	is_str(slurp("d/mbox"), ORIG, "tail: content back to the original");
	ok(!exists(jn), "tail: journal removed");
	is_int(mbi_tail_recover("d/mbox", fd, &o, &e), MB_OK,
	       "tail: recover again");
	is_int(o.cut, 0, "tail: second recover cuts nothing");

	/* A completed append. */
	is_int(mbi_tail_begin("d/mbox", fd, &t, &e), MB_OK, "tail: begin 2");
	is_int(mbi_tail_write(&t, fd, "X\n", 2, (int64_t)olen, "d/mbox", &e),
	       MB_OK, "tail: write");
	fsync(fd);
	is_int(mbi_tail_end(&t, &e), MB_OK, "tail: end");
	ok(!t.active, "tail: inactive after end");
	ok(!exists(jn), "tail: end removes the journal");
	is_int(mbi_tail_end(&t, &e), MB_OK, "tail: end twice is harmless");
	is_int(mbi_tail_recover("d/mbox", fd, &o, &e), MB_OK,
	       "tail: recover after a clean end");
	is_int(o.cut, 0, "tail: clean append kept");
	is_int(size_of("d/mbox"), (long long)olen + 2,
	       "tail: appended size kept");
	close(fd);

	/* Torn, then another program appends a message after it. */
	fd = fresh("d/mbox");
	mbi_tail_begin("d/mbox", fd, &t, &e);
	mbi_tail_note(&t, OURS, n, (int64_t)olen, &e);
	(void)!pwrite(fd, OURS, n / 2, (off_t)olen);
	close(t.jfd);
	foreign(fd, THEIRS);
	is_int(mbi_tail_recover("d/mbox", fd, &o, &e), MB_OK,
	       "tail: recover torn + foreign");
	is_int(o.cut, (long long)(n / 2), "tail: only our torn bytes removed");
	is_int(o.kept, (long long)strlen(THEIRS), "tail: theirs moved down");
	is_str(slurp("d/mbox"), ORIG THEIRS, "tail: their message survives");
	ok(!exists(jn), "tail: journal removed");
	close(fd);

	/* The same with the tear before a "From " line of ours: their
	 * first bytes match ours for a while. */
	fd = fresh("d/mbox");
	mbi_tail_begin("d/mbox", fd, &t, &e);
	mbi_tail_note(&t, OURS OURS2, strlen(OURS OURS2), (int64_t)olen, &e);
	(void)!pwrite(fd, OURS, n, (off_t)olen);
	close(t.jfd);
	foreign(fd, THEIRS);
	mbi_tail_recover("d/mbox", fd, &o, &e);
	is_int(o.cut, (long long)n, "tail: coinciding bytes: ours cut");
	is_str(slurp("d/mbox"), ORIG THEIRS,
	       "tail: coinciding bytes: theirs intact");
	close(fd);

	/* MMDF: killed before the write; their message begins with the
	 * same delimiter and "From " line as ours. */
	fd = fresh("d/mbox");
	mbi_tail_begin("d/mbox", fd, &t, &e);
	mbi_tail_note(&t, "\1\1\1\1\n" OURS "\1\1\1\1\n", n + 10,
		      (int64_t)olen, &e);
	close(t.jfd);
	foreign(fd, "\1\1\1\1\n"
		    "From bob@example.com Thu Dec 10 11:00:00 1992\nSubject: "
		    "x\n\nhi\n\1\1\1\1\n");
	mbi_tail_recover("d/mbox", fd, &o, &e);
	ok(o.cut == 0 && o.refused_at == -1,
	   "tail: MMDF coinciding start: nothing cut");
	is_int(size_of("d/mbox"), (long long)olen + 71,
	       "tail: MMDF coinciding start: theirs intact");
	close(fd);

	/* One write complete, the next noted but not begun, then theirs. */
	fd = fresh("d/mbox");
	mbi_tail_begin("d/mbox", fd, &t, &e);
	mbi_tail_write(&t, fd, OURS, n, (int64_t)olen, "d/mbox", &e);
	mbi_tail_note(&t, OURS2, strlen(OURS2), (int64_t)(olen + n), &e);
	close(t.jfd);
	foreign(fd, THEIRS);
	mbi_tail_recover("d/mbox", fd, &o, &e);
	is_int(o.cut, (long long)n, "tail: killed between writes: ours cut");
	is_str(slurp("d/mbox"), ORIG THEIRS,
	       "tail: killed between writes: theirs intact");
	close(fd);

	/* Every write complete, killed before end(), then theirs. */
	fd = fresh("d/mbox");
	mbi_tail_begin("d/mbox", fd, &t, &e);
	mbi_tail_write(&t, fd, OURS, n, (int64_t)olen, "d/mbox", &e);
	mbi_tail_write(&t, fd, OURS2, strlen(OURS2), (int64_t)(olen + n),
		       "d/mbox", &e);
	close(t.jfd);
	foreign(fd, THEIRS);
	mbi_tail_recover("d/mbox", fd, &o, &e);
	is_int(o.cut, (long long)strlen(OURS OURS2),
	       "tail: complete but unended: ours cut");
	is_str(slurp("d/mbox"), ORIG THEIRS,
	       "tail: complete but unended: theirs intact");
	close(fd);

	/* Killed before the first noted write: whatever follows is theirs. */
	fd = fresh("d/mbox");
	mbi_tail_begin("d/mbox", fd, &t, &e);
	close(t.jfd);
	foreign(fd, THEIRS);
	mbi_tail_recover("d/mbox", fd, &o, &e);
	ok(o.cut == 0 && o.refused_at == -1,
	   "tail: nothing written: nothing cut");
	is_str(slurp("d/mbox"), ORIG THEIRS, "tail: nothing written: intact");
	ok(!exists(jn), "tail: nothing written: journal removed");
	close(fd);

	/* Our first bytes are no longer there: refuse to cut. */
	fd = fresh("d/mbox");
	mbi_tail_begin("d/mbox", fd, &t, &e);
	mbi_tail_write(&t, fd, OURS, n, (int64_t)olen, "d/mbox", &e);
	mbi_tail_note(&t, OURS2, strlen(OURS2), (int64_t)(olen + n), &e);
	(void)!pwrite(fd, OURS2, strlen(OURS2), (off_t)(olen + n));
	close(t.jfd);
	(void)!pwrite(fd, "X", 1, (off_t)olen + 3);
	mbi_tail_recover("d/mbox", fd, &o, &e);
	is_int(o.cut, 0, "tail: changed first bytes: nothing cut");
	is_int(o.refused_at, (long long)olen, "tail: refused at the start");
	ok(strstr(o.why, "not those the append wrote") != NULL,
	   "tail: why: %s", o.why);
	is_int(size_of("d/mbox"), (long long)(olen + n + strlen(OURS2)),
	   "tail: changed first bytes: size kept");
	ok(!exists(jn), "tail: refused journal removed");
	close(fd);

	/* Torn, and what follows starts no message: refuse. */
	fd = fresh("d/mbox");
	mbi_tail_begin("d/mbox", fd, &t, &e);
	mbi_tail_note(&t, OURS, n, (int64_t)olen, &e);
	(void)!pwrite(fd, OURS, n / 2, (off_t)olen);
	close(t.jfd);
	foreign(fd, "garbage without a start\n");
	mbi_tail_recover("d/mbox", fd, &o, &e);
	ok(o.cut == 0 && o.refused_at == (int64_t)olen,
	   "tail: torn + unknown bytes: refused");
	is_int(size_of("d/mbox"), (long long)(olen + n / 2 + 24),
	       "tail: torn + unknown bytes: size kept");
	close(fd);

	/* A torn journal update: the older slot still counts. */
	fd = fresh("d/mbox");
	mbi_tail_begin("d/mbox", fd, &t, &e);
	mbi_tail_write(&t, fd, OURS, n, (int64_t)olen, "d/mbox", &e);
	close(t.jfd);
	{
		int jfd = open(jn, O_RDWR);

		/* slot 0 holds the write (SEQ 2); the update for a next
		 * write (SEQ 3, slot 1) was torn */
		(void)!pwrite(jfd, "mailbag-tail 2 3 1 2 3", 22, 256);
		close(jfd);
	}
	foreign(fd, THEIRS);
	mbi_tail_recover("d/mbox", fd, &o, &e);
	is_int(o.cut, (long long)n, "tail: torn header: older slot used");
	is_str(slurp("d/mbox"), ORIG THEIRS, "tail: torn header: intact");
	close(fd);

	/* A record for a mailbox since replaced (other inode). */
	fd = fresh("d/box2");
	mbi_tail_begin("d/box2", fd, &t, &e);
	mbi_tail_write(&t, fd, OURS, n, (int64_t)olen, "d/box2", &e);
	close(t.jfd);
	close(fd);
	put("d/box2.new", ORIG OURS "more mail\n");
	rename("d/box2.new", "d/box2");
	fd = open("d/box2", O_RDWR);
	journal_name("d/box2", jn, sizeof(jn));
	ok(exists(jn), "tail: stale journal present");
	is_int(mbi_tail_recover("d/box2", fd, &o, &e), MB_OK,
	       "tail: recover with a stale journal");
	is_int(o.cut, 0, "tail: other inode's record ignored");
	is_str(slurp("d/box2"), ORIG OURS "more mail\n",
	       "tail: replaced mailbox untouched");
	ok(!exists(jn), "tail: stale journal removed");

	/* Damaged records. */
	put(jn, "mailbag-tail 2 garbage\n");
	chmod(jn, 0644);
	is_int(mbi_tail_recover("d/box2", fd, &o, &e), MB_OK,
	       "tail: recover with a malformed journal");
	is_int(o.cut, 0, "tail: malformed record cuts nothing");
	ok(!exists(jn), "tail: malformed journal removed");

	/* A genuine record, then its checksum broken. */
	close(fd);
	fd = fresh("d/box2");
	mbi_tail_begin("d/box2", fd, &t, &e);
	mbi_tail_write(&t, fd, OURS, n, (int64_t)olen, "d/box2", &e);
	close(t.jfd);
	{
		int jfd = open(jn, O_RDWR);

		(void)!pwrite(jfd, "9", 1, 15); /* the newest: slot 0's SEQ */
		close(jfd);
	}
	mbi_tail_recover("d/box2", fd, &o, &e);
	ok(o.cut == 0 && size_of("d/box2") == (off_t)(olen + n),
	   "tail: record with a bad checksum cuts nothing");

	/* A record anyone could have written is not trusted. */
	mbi_tail_begin("d/box2", fd, &t, &e);
	mbi_tail_write(&t, fd, OURS2, strlen(OURS2), (int64_t)(olen + n),
		       "d/box2", &e);
	close(t.jfd);
	chmod(jn, 0666);
	mbi_tail_recover("d/box2", fd, &o, &e);
	ok(o.cut == 0 &&
		   size_of("d/box2") == (off_t)(olen + n + strlen(OURS2)),
	   "tail: world-writable record ignored");
	ok(!exists(jn), "tail: untrusted record removed");

	/* The same record, trusted (control). */
	mbi_tail_begin("d/box2", fd, &t, &e);
	mbi_tail_write(&t, fd, OURS2, strlen(OURS2),
		       (int64_t)(olen + n + strlen(OURS2)), "d/box2", &e);
	close(t.jfd);
	mbi_tail_recover("d/box2", fd, &o, &e);
	is_int(o.cut, (long long)strlen(OURS2),
	       "tail: the same record, trusted, is honoured");

	/* The file shorter than our write's start: refused. */
	mbi_tail_begin("d/box2", fd, &t, &e);
	mbi_tail_write(&t, fd, OURS2, strlen(OURS2), size_of("d/box2"),
		       "d/box2", &e);
	close(t.jfd);
	(void)!ftruncate(fd, (off_t)olen);
	mbi_tail_recover("d/box2", fd, &o, &e);
	ok(o.cut == 0 && size_of("d/box2") == (off_t)olen,
	   "tail: shorter file is left alone");
	ok(!exists(jn), "tail: its journal removed");
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
	struct mbi_tail_outcome o;
	struct mb_err e;
	struct stat st;
	char tj[128], buf[PATH_MAX + 8] = "";
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
		mbi_tail_write(&t, fd, "From torn", 9, (int64_t)strlen(ORIG),
			       "ro/mbox", &e);
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
	is_int(mbi_tail_recover("ro/mbox", fd, &o, &e), MB_OK,
	       "tail tmp: recover");
	is_int(o.cut, 9, "tail tmp: torn bytes cut");
	is_str(slurp("ro/mbox"), ORIG, "tail tmp: content restored");
	ok(!exists(tj), "tail tmp: journal removed");
	close(fd);

	if (!root) {
		skip(3, "needs root to plant another user's record");
		return;
	}
	/* A genuine record, owned by an unrelated user: not trusted. */
	chown("ro/mbox", 0, 0);
	chmod("ro", 0555);
	fd = open("ro/mbox", O_RDWR);
	/* as root the directory stays writable: put the journal in /tmp */
	mbi_tail_begin("ro/mbox", fd, &t, &e);
	mbi_tail_write(&t, fd, "From torn", 9, (int64_t)strlen(ORIG),
		       "ro/mbox", &e);
	close(t.jfd);
	if (strcmp(t.path, tj) != 0) {
		rename(t.path, tj);
		mbi_fsync_dir(tj, NULL);
	}
	chown(tj, 65534, 65534);
	link(tj, "ro/.held"); /* keep it for the control below */
	mbi_tail_recover("ro/mbox", fd, &o, &e);
	ok(o.cut == 0, "tail tmp: another user's record cuts nothing");
	is_int(size_of("ro/mbox"), (long long)strlen(ORIG) + 9,
	       "tail tmp: mailbox intact");
	/* control: the same record, ours, is honoured */
	rename("ro/.held", tj);
	chown(tj, 0, 0);
	mbi_tail_recover("ro/mbox", fd, &o, &e);
	is_int(o.cut, 9, "tail tmp: the same record of ours is honoured");
	close(fd);
	chmod("ro", 0755);
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

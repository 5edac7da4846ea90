/*
 * maildir.c - the maildir driver through the library API: create (and
 * Maildir++ subfolders), append with flags, keywords, dates and CRLF
 * text, reopen, flag renames, expunge, poll after other programs' drops,
 * renames and removals, staged appends dropped by mb_abort, the uidlist
 * lock (busy, stale), damaged uidlists, remove and rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mb.h"
#include "tap.h"

static void
bail(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(1);
}

static void
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t n = strlen(text);

	if (fd < 0 || write(fd, text, n) != (ssize_t)n)
		bail(path);
	close(fd);
}

static char *
read_all(const char *path)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

/* The one file in dir/sub (or NULL when there are none or several). */
static const char *
only_file(const char *dir, const char *sub)
{
	static char name[1024];
	char p[4096];
	struct dirent *d;
	int n = 0;
	DIR *dd;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	if ((dd = opendir(p)) == NULL)
		return NULL;
	while ((d = readdir(dd)) != NULL)
		if (d->d_name[0] != '.') {
			snprintf(name, sizeof(name), "%s", d->d_name);
			n++;
		}
	closedir(dd);
	return n == 1 ? name : NULL;
}

static int
count_files(const char *dir, const char *sub)
{
	char p[4096];
	struct dirent *d;
	int n = 0;
	DIR *dd;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	if ((dd = opendir(p)) == NULL)
		return -1;
	while ((d = readdir(dd)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dd);
	return n;
}

static int
append(struct mb_box *b, const char *text, unsigned flags, int64_t date,
       const char *kw, uint32_t uid, uint32_t *got)
{
	struct mb_newmsg m;
	struct mb_reader *r = mb_reader_mem(text, strlen(text));
	const char *kws[1] = { kw };
	struct mb_err e;
	int rc;

	memset(&m, 0, sizeof(m));
	m.flags = flags;
	m.idate = date;
	m.uid = uid;
	m.keywords = kws;
	m.nkeywords = kw ? 1 : 0;
	rc = mb_append(b, &m, r, got, &e);
	if (rc != MB_OK)
		diag("append: %s", e.msg);
	mb_reader_close(&r);
	return rc;
}

static char *
text_of(struct mb_box *b, struct mb_msg *m)
{
	static char buf[4096];
	struct mb_reader *r;
	struct mb_err e;
	ssize_t n;

	if (mb_msg_open(b, m, &r, &e) != MB_OK)
		return NULL;
	n = mb_reader_read(r, buf, sizeof(buf) - 1, &e);
	mb_reader_close(&r);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static int ndamage;

static void
on_diag(void *arg, const struct mb_diag *d)
{
	if (d->level == MB_DIAG_DAMAGE)
		ndamage++;
}

static void
test_create_append(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_info in;
	struct mb_err e;
	uint32_t uid = 0;
	const char *f;
	int k;

	ok(mb_create(ctx, "md", "maildir", MB_CREATE_ATOMIC, &b, &e) == MB_OK,
	   "create a maildir atomically");
	ok(access("md", F_OK) < 0, "not visible before mb_close");
	ok(mb_set_uidstate(b, 1234, 50, &e) == MB_OK, "set UID state");
	ok(append(b, "Subject: a\r\n\r\nbody\r\n", MB_SEEN | MB_OLD, 1600000000,
		  "Work", 10, &uid) == MB_OK &&
		   uid == 10,
	   "append keeps a source UID");
	ok(append(b, "Subject: b\n\nx\n", 0, 1600000100, NULL, 5, &uid) ==
			   MB_OK &&
		   uid == 50,
	   "a UID out of order gets the next free one");
	ok(mb_close(&b, &e) == MB_OK, "close publishes");
	f = only_file("md", "cur");
	ok(f != NULL && strstr(f, ",S=17,W=20:2,Sa") != NULL,
	   "cur/ name with S=, W=, flags and keyword letter (%s)",
	   f ? f : "none");
	is_int(count_files("md", "new"), 1, "the recent one is in new/");
	is_int(count_files("md", "tmp"), 0, "tmp/ is empty");
	/* a kept UID had to be replaced: the UIDs are not the source's */
	ok(mb_open(ctx, "md", NULL, MB_RDONLY, &b, &e) == MB_OK,
	   "probe and open");
	mb_box_info(b, &in, &e);
	is_str(in.format, "maildir", "probed as maildir");
	ok(in.uidvalidity != 1234, "renumbered: new UIDVALIDITY");
	is_int(in.uidnext, 51, "uidnext");
	k = mb_keyword_index(b, "work", false);
	is_int(k, 0, "keyword read back");
	ok(mb_next(b, &m, &e) == MB_OK && m->uid == 10 &&
		   m->flags == (MB_SEEN | MB_OLD) && m->keywords == 1 &&
		   m->idate == 1600000000,
	   "message 1: uid, flags, keyword, date");
	is_str(text_of(b, m), "Subject: a\n\nbody\n", "stored with LF");
	ok(mb_next(b, &m, &e) == MB_OK && m->uid == 50 && m->flags == 0,
	   "message 2 recent, no flags");
	ok(mb_next(b, &m, &e) == MB_END, "two messages");
	mb_close(&b, &e);
}

static void
test_flags_poll(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	bool changed;
	char p[4096], q[4096];
	const char *f;

	if (mb_open(ctx, "md", NULL, MB_RDWR, &b, &e) != MB_OK)
		bail(e.msg);
	while (mb_next(b, &m, &e) == MB_OK)
		;
	ok(mb_set_flags(b, 2, MB_FLAGGED | MB_OLD, 0, 0, 0, &e) == MB_OK,
	   "flag message 2 and make it old");
	is_int(count_files("md", "new"), 0, "moved out of new/");
	is_int(count_files("md", "cur"), 2, "into cur/");

	/* another program delivers, renames and removes */
	write_file("md/tmp/1700000000.P1Q1.elsewhere", "Subject: c\n\nc\n");
	rename("md/tmp/1700000000.P1Q1.elsewhere",
	       "md/new/1700000000.P1Q1.elsewhere");
	mb_msg_at(b, 1, &m, &e);
	snprintf(p, sizeof(p), "md/%s", m->key);
	snprintf(q, sizeof(q), "md/%.*s:2,RS",
		 (int)(strchr(m->key, ':') - m->key), m->key);
	ok(rename(p, q) == 0, "another program renames message 1 (+R)");
	ok(mb_poll(b, &changed, &e) == MB_OK && changed, "poll: changed");
	ok(mb_msg_at(b, 1, &m, &e) == MB_OK && m->uid == 10 &&
		   (m->flags & MB_ANSWERED) && m->keywords == 0,
	   "the rename is a flag change, UID kept");
	ok(mb_next(b, &m, &e) == MB_OK && m->uid == 51 && !(m->flags & MB_OLD),
	   "the delivery is message 3, UID 51, recent");
	f = read_all("md/dovecot-uidlist");
	ok(f && strstr(f, "\n51 :1700000000.P1Q1.elsewhere\n") != NULL,
	   "recorded in dovecot-uidlist");
	unlink("md/new/1700000000.P1Q1.elsewhere");
	ok(mb_poll(b, &changed, &e) == MB_OK && changed, "poll after removal");
	is_int(mb_msg_at(b, 3, &m, &e), MB_FAILED, "message 3 is gone");
	ok(mb_set_flags(b, 1, MB_DELETED, 0, 0, 0, &e) == MB_OK,
	   "delete message 1");
	{
		uint32_t n = 0;

		ok(mb_expunge(b, &n, &e) == MB_OK && n == 1, "expunge 1");
	}
	ok(mb_msg_at(b, 1, &m, &e) == MB_OK && m->uid == 50,
	   "message 50 is first now");
	ok(mb_close(&b, &e) == MB_OK, "close");
	f = read_all("md/dovecot-uidlist");
	ok(f && strstr(f, "\n10 ") == NULL && strstr(f, "\n50 ") != NULL &&
		   strstr(f, "\n51 ") == NULL,
	   "uidlist keeps only 50");
	is_int(count_files("md", "cur"), 1, "one file left");
}

static void
test_abort(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_err e;
	const char *f;
	char before[8192];

	f = read_all("md/dovecot-uidlist");
	snprintf(before, sizeof(before), "%s", f ? f : "");
	if (mb_open(ctx, "md", NULL, MB_RDWR, &b, &e) != MB_OK)
		bail(e.msg);
	ok(append(b, "Subject: z\n\nz\n", 0, -1, NULL, 0, NULL) == MB_OK,
	   "stage an append");
	ok(access("md/dovecot-uidlist.lock", F_OK) == 0,
	   "the uidlist lock is held while appending");
	is_int(count_files("md", "tmp"), 1, "waiting in tmp/");
	mb_abort(&b);
	is_int(count_files("md", "tmp"), 0, "abort removes it");
	is_int(count_files("md", "new"), 0, "nothing delivered");
	ok(access("md/dovecot-uidlist.lock", F_OK) < 0, "lock released");
	f = read_all("md/dovecot-uidlist");
	is_str(f, before, "uidlist unchanged");
}

static void
test_locks(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_err e;
	char host[256], buf[512];
	pid_t pid;
	int rc, st;

	mb_ctx_set(ctx, "lock-timeout", "1", &e);
	gethostname(host, sizeof(host));
	pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	snprintf(buf, sizeof(buf), "%ld:%s", (long)pid, host);
	write_file("md/dovecot-uidlist.lock", buf);
	write_file("md/new/1700000001.x.y", "Subject: d\n\nd\n");
	rc = mb_open(ctx, "md", NULL, MB_RDWR, &b, &e);
	is_int(rc, MB_RETRY, "a live holder's lock is waited for");
	is_int(e.code, MB_ELOCKED, "... and reported as locked");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	rc = mb_open(ctx, "md", NULL, MB_RDWR, &b, &e);
	is_int(rc, MB_OK, "a dead holder's lock is broken");
	if (rc == MB_OK)
		mb_close(&b, &e);
	ok(access("md/dovecot-uidlist.lock", F_OK) < 0, "and gone");
	ok(strstr(read_all("md/dovecot-uidlist"), "\n52 :1700000001.x.y\n") !=
		   NULL,
	   "the new file got UID 52");
	mb_ctx_set(ctx, "lock-timeout", "300", &e);
}

static void
test_damage(struct mb_ctx *ctx)
{
	static const char *const lists[] = {
		"",
		"3\n",
		"3 V0 N1\n",
		"3 V1 N2 G\n1 :a\n1 :b\n",
		"3 V1 N2\nx :a\n0 :a\n5\n7 x\n9 :\n",
		"3 V1 N2\n1 :a",
		"3 V1 N2\n1 :a\0b\n",
		"1 5 6\n1 name\n",
	};
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	size_t i;
	int rc;

	mkdir("dmg", 0700);
	mkdir("dmg/new", 0700);
	mkdir("dmg/cur", 0700);
	write_file("dmg/new/1.a.h", "x");
	write_file("dmg/cur/1.a.h:2,S", "dup");
	write_file("dmg/cur/bad name:2,S:x", "y");
	write_file("dmg/dovecot-keywords", "0 one\n99 big\nzz\n0 again\n");
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		int fd = open("dmg/dovecot-uidlist",
			      O_WRONLY | O_CREAT | O_TRUNC, 0600);
		size_t n = strlen(lists[i]) + (i == 6 ? 3 : 0); /* "\0b\n" */

		if (fd < 0 || write(fd, lists[i], n) != (ssize_t)n)
			bail("write");
		close(fd);
		ndamage = 0;
		rc = mb_open(ctx, "dmg", NULL, MB_RDONLY | MB_CHECK, &b, &e);
		if (rc == MB_OK) {
			while ((rc = mb_next(b, &m, &e)) == MB_OK)
				;
			mb_close(&b, &e);
		}
		ok(rc == MB_END && ndamage > 0,
		   "damaged uidlist %zu read with damage reported (%d)", i,
		   ndamage);
	}
	/* read/write: nothing is rewritten until uid-rebuild */
	write_file("dmg/dovecot-uidlist", "3 V1 N2\nbogus\n");
	rc = mb_open(ctx, "dmg", NULL, MB_RDWR, &b, &e);
	ok(rc == MB_OK, "a damaged folder opens read/write");
	if (rc == MB_OK) {
		rc = append(b, "x\n", 0, -1, NULL, 0, NULL);
		ok(rc == MB_FAILED, "but refuses appends");
		mb_abort(&b);
	}
	is_str(read_all("dmg/dovecot-uidlist"), "3 V1 N2\nbogus\n",
	       "the damaged uidlist is as it was");
}

/* A poll that finds nothing changed skips the listing, but a change in
 * the directories is never missed. */
static void
test_poll_quiet(struct mb_ctx *ctx)
{
	struct timespec old[2] = { { time(NULL) - 10, 0 },
				   { time(NULL) - 10, 0 } };
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	bool changed = true;

	utimensat(AT_FDCWD, "md/new", old, 0);
	utimensat(AT_FDCWD, "md/cur", old, 0);
	if (mb_open(ctx, "md", NULL, MB_RDWR, &b, &e) != MB_OK)
		bail(e.msg);
	while (mb_next(b, &m, &e) == MB_OK)
		;
	ok(mb_poll(b, &changed, &e) == MB_OK && !changed,
	   "poll of an unchanged folder: nothing");
	write_file("md/new/1700000002.q.h", "Subject: q\n\nq\n");
	ok(mb_poll(b, &changed, &e) == MB_OK && changed &&
		   mb_next(b, &m, &e) == MB_OK &&
		   strcmp(m->key, "new/1700000002.q.h") == 0,
	   "a drop right after is seen");
	mb_close(&b, &e);
}

/* Many renames by another program in one poll (hash probes cross the
 * renamed entries): every UID kept, every new flag seen. */
static void
test_many_renames(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	char from[256], to[256];
	bool changed;
	int i, good = 0;

	mkdir("many", 0700);
	mkdir("many/new", 0700);
	mkdir("many/cur", 0700);
	mkdir("many/tmp", 0700);
	for (i = 0; i < 400; i++) {
		snprintf(from, sizeof(from), "many/cur/17000%05d.x%d.h:2,", i,
			 i);
		write_file(from, "Subject: m\n\nm\n");
	}
	if (mb_open(ctx, "many", NULL, MB_RDWR, &b, &e) != MB_OK)
		bail(e.msg);
	while (mb_next(b, &m, &e) == MB_OK)
		;
	for (i = 0; i < 400; i += 2) {
		snprintf(from, sizeof(from), "many/cur/17000%05d.x%d.h:2,", i,
			 i);
		snprintf(to, sizeof(to), "many/cur/17000%05d.x%d.h:2,S", i, i);
		rename(from, to);
	}
	ok(mb_poll(b, &changed, &e) == MB_OK && changed,
	   "poll after 200 renames");
	for (i = 0; i < 400; i++)
		if (mb_msg_at(b, (uint32_t)i + 1, &m, &e) == MB_OK &&
		    m->uid == (uint32_t)i + 1 &&
		    ((m->flags & MB_SEEN) != 0) == (i % 2 == 0))
			good++;
	is_int(good, 400, "all UIDs kept, the renamed ones \\Seen");
	mb_close(&b, &e);
}

static void
test_subfolder_remove_rename(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_err e;

	ok(mb_create(ctx, "md/.Sub.Folder", "maildir",
		     MB_CREATE_ATOMIC | MB_CREATE_EXCL, &b, &e) == MB_OK &&
		   mb_close(&b, &e) == MB_OK,
	   "create a Maildir++ subfolder");
	ok(access("md/.Sub.Folder/maildirfolder", F_OK) == 0,
	   "it has maildirfolder");
	ok(access("md/.Sub.Folder/dovecot-uidlist", F_OK) == 0,
	   "and a uidlist");
	ok(mb_create(ctx, "plain", "maildir", 0, &b, &e) == MB_OK &&
		   mb_close(&b, &e) == MB_OK,
	   "create a top-level maildir in place");
	ok(access("plain/maildirfolder", F_OK) < 0, "without maildirfolder");
	is_int(mb_delete(ctx, "md", &e), MB_FAILED,
	       "a maildir with subfolders is not deleted");
	ok(access("md/cur", F_OK) == 0, "and is intact");
	ok(mb_rename(ctx, "md/.Sub.Folder", "md/.Other", &e) == MB_OK &&
		   access("md/.Other/maildirfolder", F_OK) == 0,
	   "rename a subfolder");
	is_int(mb_rename(ctx, "plain", "md", &e), MB_FAILED,
	       "rename refuses to replace");
	ok(mb_delete(ctx, "md/.Other", &e) == MB_OK &&
		   access("md/.Other", F_OK) < 0,
	   "delete a folder");
	ok(mb_delete(ctx, "plain", &e) == MB_OK && access("plain", F_OK) < 0,
	   "delete another");
}

int
main(void)
{
	struct mb_ctx *ctx;

	t_tmpdir();
	setenv("TZ", "UTC", 1);
	ctx = mb_ctx_new();
	mb_ctx_set_diag(ctx, on_diag, NULL);
	test_create_append(ctx);
	test_flags_poll(ctx);
	test_abort(ctx);
	test_locks(ctx);
	test_damage(ctx);
	test_poll_quiet(ctx);
	test_many_renames(ctx);
	test_subfolder_remove_rename(ctx);
	mb_ctx_free(&ctx);
	return done_testing();
}

/*
 * rewrite.c - rewriting a single-file mailbox in place, crash-safely.
 *
 * Other programs lock and append to spool files and mbx files by inode,
 * so a rewritten mailbox may never be replaced by rename(2).  UW
 * rewrites such files in place and a crash in the middle leaves them
 * damaged.  We build the new content in a temporary file first (fsynced),
 * then record a redo journal naming it, then copy it over the mailbox
 * from byte 0, truncate, fsync, and drop the journal.  A writer killed
 * during the copy leaves the journal and a complete new content behind;
 * the next writer (mbi_rewrite_recover, under the mailbox's exclusive
 * locks) finishes the copy.  Memory stays bounded by the copy buffer.
 *
 * A repair that patches a few bytes in place instead guards itself with
 * an undo record naming its verified backup: a writer that finds one
 * copies the backup back, so a killed repair leaves the original.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb-int.h"

#define COPY_CHUNK (1u << 20)

/* Where the temporary file and the journal go: beside the mailbox when
 * its directory is writable, else in $TMPDIR or /tmp. */
static void
work_dir(const char *mailbox, char *dir, size_t size)
{
	char tmp[PATH_MAX];
	const char *t;

	snprintf(tmp, sizeof(tmp), "%s", mailbox);
	snprintf(dir, size, "%s", dirname(tmp));
	if (access(dir, W_OK) == 0)
		return;
	t = getenv("TMPDIR");
	snprintf(dir, size, "%s", t && *t == '/' ? t : "/tmp");
}

static int
journal_path(const char *mailbox, int fd, char *out, size_t size,
	     struct mb_err *e)
{
	char dir[PATH_MAX];
	struct stat st;

	if (fstat(fd, &st) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, mailbox,
				   "cannot stat mailbox");
	work_dir(mailbox, dir, sizeof(dir));
	if ((size_t)snprintf(out, size, "%s/.mbredo.%llx.%llx", dir,
			     (unsigned long long)st.st_dev,
			     (unsigned long long)st.st_ino) >= size)
		return mbi_err(e, MB_FAILED, MB_EINVAL, mailbox, -1,
			       "name too long");
	return MB_OK;
}

int
mbi_rewrite_begin(const char *mailbox, int fd, struct mbi_rewrite *rw,
		  struct mb_err *e)
{
	char dir[PATH_MAX], base[PATH_MAX];
	int rc;

	memset(rw, 0, sizeof(*rw));
	rw->tfd = -1;
	rw->fd = fd;
	snprintf(rw->mailbox, sizeof(rw->mailbox), "%s", mailbox);
	work_dir(mailbox, dir, sizeof(dir));
	snprintf(base, sizeof(base), "%s", mailbox);
	if ((size_t)snprintf(rw->tmp, sizeof(rw->tmp), "%s/.%s.mbnew.%ld", dir,
			     basename(base), (long)getpid()) >= sizeof(rw->tmp))
		return mbi_err(e, MB_FAILED, MB_EINVAL, mailbox, -1,
			       "name too long");
	unlink(rw->tmp); /* a leftover of ours from a killed run */
	rw->tfd =
		open(rw->tmp,
		     O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (rw->tfd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, rw->tmp,
				   "cannot create temporary file");
	rc = mbi_wbuf_init(&rw->wb, rw->tfd, rw->tmp, 0, e);
	if (rc != MB_OK) {
		mbi_rewrite_abort(rw);
		return rc;
	}
	rw->active = true;
	return MB_OK;
}

int
mbi_rewrite_copy(struct mbi_rewrite *rw, int64_t off, int64_t len,
		 struct mb_err *e)
{
	char *buf = malloc(COPY_CHUNK);
	int rc = MB_OK;

	if (buf == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, rw->mailbox, -1,
			       "out of memory");
	while (len > 0) {
		size_t k = len < (int64_t)COPY_CHUNK ? (size_t)len : COPY_CHUNK;
		ssize_t n = mbi_pread_full(rw->fd, buf, k, off);

		if (n < (ssize_t)k) {
			rc = n < 0 ? mbi_err_sys(e, MB_FAILED, errno,
						 rw->mailbox, "cannot read") :
				     mbi_err(e, MB_FAILED, MB_ECHANGED,
					     rw->mailbox, off + (n > 0 ? n : 0),
					     "mailbox shrank while rewriting");
			break;
		}
		rc = mbi_wbuf_put(&rw->wb, buf, k, e);
		if (rc != MB_OK)
			break;
		off += (int64_t)k;
		len -= (int64_t)k;
	}
	free(buf);
	return rc;
}

/* Copy src (from 0, len bytes) over dst from byte 0, truncate, fsync. */
static int
copy_over(int src, int dst, int64_t len, const char *path, struct mb_err *e)
{
	char *buf = malloc(COPY_CHUNK);
	int64_t off = 0;

	if (buf == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1,
			       "out of memory");
	while (off < len) {
		size_t k = len - off < (int64_t)COPY_CHUNK ?
				   (size_t)(len - off) :
				   COPY_CHUNK;
		ssize_t n = mbi_pread_full(src, buf, k, off);

		if (n != (ssize_t)k) {
			free(buf);
			return mbi_err_sys(e, MB_FAILED, n < 0 ? errno : EIO,
					   path, "cannot read the new content");
		}
		if (mbi_pwrite_all(dst, buf, k, off, path, e) != MB_OK) {
			free(buf);
			return MB_FAILED;
		}
		off += (int64_t)k;
	}
	free(buf);
	if (ftruncate(dst, len) < 0 || fsync(dst) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot write mailbox to disk");
	return MB_OK;
}

/* Durably install the journal record rec for the mailbox. */
static int
write_journal(const char *mailbox, int fd, const char *rec, struct mb_err *e)
{
	char jpath[PATH_MAX], jtmp[PATH_MAX + 8];
	int jfd, rc;

	if ((rc = journal_path(mailbox, fd, jpath, sizeof(jpath), e)))
		return rc;
	snprintf(jtmp, sizeof(jtmp), "%s.new", jpath);
	unlink(jtmp);
	jfd = open(jtmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		   0600);
	if (jfd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, jtmp,
				   "cannot create journal");
	if (mbi_write_all(jfd, rec, strlen(rec), jtmp, e) != MB_OK ||
	    fsync(jfd) < 0 || rename(jtmp, jpath) < 0) {
		close(jfd);
		unlink(jtmp);
		return e->code ? MB_FAILED :
				 mbi_err_sys(e, MB_FAILED, errno, jpath,
					     "cannot write journal");
	}
	close(jfd);
	mbi_fsync_dir(jpath, NULL);
	return MB_OK;
}

static void
drop_journal(const char *mailbox, int fd)
{
	char jpath[PATH_MAX];
	struct mb_err e;

	if (journal_path(mailbox, fd, jpath, sizeof(jpath), &e) != MB_OK)
		return;
	unlink(jpath);
	mbi_fsync_dir(jpath, NULL);
}

int
mbi_rewrite_commit(struct mbi_rewrite *rw, struct mb_err *e)
{
	char rec[PATH_MAX + 64];
	int64_t len;
	int rc;

	if (mbi_wbuf_flush(&rw->wb, e) != MB_OK)
		return MB_FAILED;
	len = rw->wb.pos;
	if (fsync(rw->tfd) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, rw->tmp,
				   "cannot write to disk");
	/* the redo record: from now on the new content wins */
	snprintf(rec, sizeof(rec), "mailbag-redo 1 %lld %s\n", (long long)len,
		 rw->tmp);
	if ((rc = write_journal(rw->mailbox, rw->fd, rec, e)) != MB_OK)
		return rc;
	rc = copy_over(rw->tfd, rw->fd, len, rw->mailbox, e);
	if (rc != MB_OK)
		return rc; /* journal stays: the next writer redoes it */
	drop_journal(rw->mailbox, rw->fd);
	mbi_rewrite_abort(rw);
	return MB_OK;
}

int
mbi_rewrite_guard(const char *mailbox, int fd, const char *backup, int64_t len,
		  struct mb_err *e)
{
	char rec[PATH_MAX + 64];

	if (strchr(backup, '\n') != NULL || strchr(backup, ' ') != NULL)
		return mbi_err(e, MB_FAILED, MB_EINVAL, mailbox, -1,
			       "the backup's name cannot be journaled");
	snprintf(rec, sizeof(rec), "mailbag-undo 1 %lld %s\n", (long long)len,
		 backup);
	return write_journal(mailbox, fd, rec, e);
}

void
mbi_rewrite_unguard(const char *mailbox, int fd)
{
	drop_journal(mailbox, fd);
}

void
mbi_rewrite_abort(struct mbi_rewrite *rw)
{
	if (rw->wb.buf != NULL)
		mbi_wbuf_free(&rw->wb);
	if (rw->tfd >= 0) {
		close(rw->tfd);
		unlink(rw->tmp);
	}
	rw->tfd = -1;
	rw->active = false;
}

int
mbi_rewrite_recover(const char *mailbox, int fd, bool *redone, struct mb_err *e)
{
	char jpath[PATH_MAX], rec[PATH_MAX + 64], tmp[PATH_MAX];
	struct stat st;
	long long len;
	ssize_t n;
	int jfd, tfd, rc;
	bool undo;

	*redone = false;
	if ((rc = journal_path(mailbox, fd, jpath, sizeof(jpath), e)))
		return rc;
	jfd = open(jpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (jfd < 0)
		return MB_OK;
	n = read(jfd, rec, sizeof(rec) - 1);
	/* only our own or root's journal is believed */
	if (n <= 0 || fstat(jfd, &st) < 0 ||
	    (st.st_uid != geteuid() && st.st_uid != 0)) {
		close(jfd);
		return MB_OK;
	}
	close(jfd);
	rec[n] = '\0';
	undo = sscanf(rec, "mailbag-undo 1 %lld %4095s", &len, tmp) == 2;
	if ((!undo &&
	     sscanf(rec, "mailbag-redo 1 %lld %4095s", &len, tmp) != 2) ||
	    len < 0) {
		unlink(jpath);
		return MB_OK;
	}
	tfd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (tfd < 0 || fstat(tfd, &st) < 0 || st.st_size != len) {
		if (tfd >= 0)
			close(tfd);
		return mbi_err(e, MB_FATAL, MB_ECHANGED, mailbox, -1,
			       "an interrupted %s left journal '%s' but "
			       "'%s' is missing or short; the mailbox may "
			       "be damaged",
			       undo ? "repair" : "rewrite", jpath, tmp);
	}
	rc = copy_over(tfd, fd, len, mailbox, e);
	close(tfd);
	if (rc != MB_OK)
		return rc;
	unlink(jpath);
	if (!undo)
		unlink(tmp); /* an undo source is the kept backup */
	mbi_fsync_dir(jpath, NULL);
	*redone = true;
	return MB_OK;
}

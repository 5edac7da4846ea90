/*
 * afile.c - the steps that the drivers of single files appended at their
 * end (mbx, tenex, mtx) share: UW's locks at open, recovery of what a
 * killed writer left, the size under the /tmp lock, poll, the start of
 * an append and the end of a session.  See struct mbi_afile in mb-int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb-int.h"

#define SPOOL_MEM (8u << 20) /* append text kept in memory up to this */
#define CHUNK	  (64u << 10)

int
mbi_scan_all(struct mb_box *b, struct mb_err *e)
{
	struct mb_msg *m;
	int rc;

	while ((rc = mb_next(b, &m, e)) == MB_OK)
		;
	return rc == MB_END ? MB_OK : rc;
}

int
mbi_recover(struct mb_box *b, int fd, struct mb_err *e)
{
	struct mbi_tail_outcome tail;
	int rc;

	rc = mbi_tail_recover(b->path, fd, &tail, e);
	if (rc == MB_OK)
		mbi_tail_diag(b, &tail);
	return rc;
}

int
mbi_afile_damaged(struct mb_box *b, int64_t pos, struct mb_err *e)
{
	return mbi_err(e, MB_FAILED, MB_EFORMAT, b->path, pos,
		       "the mailbox is damaged: repair it first");
}

int
mbi_afile_take(struct mb_box *b, const struct mbi_afile *f, struct mb_err *e)
{
	int rc;

	if (*f->tl_held || (b->mode & MB_NOLOCK))
		return MB_OK;
	if (f->tl->fd < 0 && f->tl->path[0] == '\0')
		return MB_OK; /* a file nobody else can see yet */
	rc = mbi_tmplock_lock(f->tl, LOCK_EX, b->ctx->lock_timeout, e);
	if (rc == MB_OK)
		*f->tl_held = true;
	return rc;
}

void
mbi_afile_drop(const struct mbi_afile *f)
{
	if (!*f->tl_held)
		return;
	if (f->tl->fd >= 0)
		flock(f->tl->fd, LOCK_UN);
	*f->tl_held = false;
}

int
mbi_afile_lock_open(struct mb_box *b, const struct mbi_afile *f,
		    const struct stat *st, struct mb_err *e)
{
	bool rw = (b->mode & MB_RDWR) != 0;
	int rc;

	if (!(b->mode & MB_NOLOCK)) {
		/* the session's shared lock on the file (UW) */
		rc = mbi_flock(f->fd, LOCK_SH, b->ctx->lock_timeout, b->path,
			       e);
		if (rc != MB_OK)
			return rc;
		*f->flocked = true;
		/* and the /tmp lock, while the caller reads what it needs */
		rc = mbi_tmplock_open(st, f->tl, e);
		if (rc == MB_OK)
			rc = mbi_afile_take(b, f, e);
		if (rc != MB_OK) {
			if (rw)
				return rc;
			/* a reader that cannot use /tmp still reads */
			mb_err_clear(e);
			if (f->tl->fd >= 0)
				close(f->tl->fd);
			f->tl->fd = -1;
		}
	}
	/* a rewrite or an append a killed writer left half done */
	return rw ? mbi_recover(b, f->fd, e) : MB_OK;
}

int
mbi_afile_size(struct mb_box *b, const struct mbi_afile *f, int sev,
	       int64_t *size, struct mb_err *e)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return mbi_err_sys(e, sev, errno, b->path,
				   "cannot stat mailbox");
	if (st.st_size < *f->end)
		return mbi_err(e, MB_FATAL, MB_ECHANGED, b->path, st.st_size,
			       "Mailbox shrank from %lld to %lld!",
			       (long long)*f->end, (long long)st.st_size);
	*size = st.st_size;
	return MB_OK;
}

int
mbi_afile_poll(struct mb_box *b, const struct mbi_afile *f, bool writing,
	       bool *changed, struct mb_err *e)
{
	int64_t size;
	int rc;

	if ((rc = mbi_afile_take(b, f, e)) != MB_OK)
		return rc;
	rc = mbi_afile_size(b, f, MB_FATAL, &size, e);
	if (!writing)
		mbi_afile_drop(f);
	if (rc != MB_OK)
		return rc;
	if (size > *f->end && !writing) {
		*f->end = size;
		b->scanned = false;
		*changed = true;
	}
	return MB_OK;
}

int
mbi_afile_begin(struct mb_box *b, const struct mbi_afile *f, struct mb_err *e)
{
	int64_t size;
	int rc;

	if (b->mode & MB_STREAM)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "cannot append to a streaming %s box",
			       f->format);
	if ((rc = mbi_scan_all(b, e)) != MB_OK)
		return rc;
	if (*f->stopped)
		return mbi_afile_damaged(b, *f->pos, e);
	if ((rc = mbi_afile_take(b, f, e)) != MB_OK)
		return rc;
	if (f->locked != NULL && (rc = f->locked(b, e)) != MB_OK)
		goto fail;
	if ((rc = mbi_afile_size(b, f, MB_FAILED, &size, e)) != MB_OK)
		goto fail;
	if (size > *f->end) {
		/* appended by others since we looked: their UIDs count; but
		 * first cut what a writer killed meanwhile left (it held the
		 * /tmp lock we hold now, so its bytes start past *end) */
		if ((rc = mbi_recover(b, f->fd, e)) != MB_OK ||
		    (rc = mbi_afile_size(b, f, MB_FAILED, &size, e)) != MB_OK)
			goto fail;
	}
	if (size > *f->end) {
		*f->end = size;
		b->scanned = false;
		if ((rc = mbi_scan_all(b, e)) != MB_OK)
			goto fail;
		if (*f->stopped) {
			rc = mbi_afile_damaged(b, *f->pos, e);
			goto fail;
		}
	}
	*f->orig_size = *f->end;
	if (!b->creating) {
		rc = mbi_tail_begin(b->path, f->fd, f->journal, e);
		if (rc != MB_OK)
			goto fail;
	}
	rc = mbi_wbuf_init(f->wb, f->fd, b->path, *f->orig_size, e);
	if (rc != MB_OK) {
		if (f->journal->active)
			mbi_tail_end(f->journal, NULL);
		goto fail;
	}
	if (f->journal->active)
		f->wb->tail = f->journal;
	return MB_OK;
fail:
	mbi_afile_drop(f);
	return rc;
}

void
mbi_afile_close(const struct mbi_afile *f, bool writing, bool wb_init)
{
	if (writing && f->journal->active) {
		/* staged appends never committed: roll them back */
		if (ftruncate(f->fd, *f->orig_size) == 0 && fsync(f->fd) == 0)
			mbi_tail_end(f->journal, NULL);
	}
	if (wb_init)
		mbi_wbuf_free(f->wb);
	mbi_afile_drop(f);
	if (f->tl->fd >= 0)
		mbi_tmplock_release(f->tl);
	if (f->fd >= 0)
		close(f->fd); /* drops the flock */
}

void
mbi_spool_init(struct mbi_spool *sp, const char *name)
{
	mbi_buf_init(&sp->mem);
	sp->fd = -1;
	sp->len = 0;
	sp->name = name;
}

int
mbi_spool_put(struct mb_box *b, struct mbi_spool *sp, const char *p, size_t n,
	      struct mb_err *e)
{
	if (sp->fd < 0 && sp->mem.len + n > SPOOL_MEM) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), ".%s-append", sp->name);
		sp->fd = mb_tmpfile(prefix, "a temporary file", e);
		if (sp->fd < 0)
			return MB_FAILED;
		if (mbi_write_all(sp->fd, sp->mem.buf, sp->mem.len,
				  "temporary file", e) != MB_OK)
			return MB_FAILED;
		mbi_buf_reset(&sp->mem);
	}
	if (sp->fd >= 0) {
		if (mbi_write_all(sp->fd, p, n, "temporary file", e) != MB_OK)
			return MB_FAILED;
	} else if (mbi_buf_add(&sp->mem, p, n) < 0) {
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	}
	sp->len += (int64_t)n;
	return MB_OK;
}

int
mbi_spool_out(struct mb_box *b, struct mbi_spool *sp, struct mbi_wbuf *wb,
	      struct mb_err *e)
{
	char *buf;
	int64_t off = 0;
	int rc = MB_OK;

	if (sp->fd < 0)
		return mbi_wbuf_put(wb, sp->mem.buf, sp->mem.len, e);
	if ((buf = malloc(CHUNK)) == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	while (off < sp->len && rc == MB_OK) {
		size_t k =
			sp->len - off < CHUNK ? (size_t)(sp->len - off) : CHUNK;

		if (mbi_pread_full(sp->fd, buf, k, off) != (ssize_t)k)
			rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
					 "cannot read temporary file");
		else
			rc = mbi_wbuf_put(wb, buf, k, e);
		off += (int64_t)k;
	}
	free(buf);
	return rc;
}

void
mbi_spool_free(struct mbi_spool *sp)
{
	mbi_buf_free(&sp->mem);
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
}

int
mbi_afile_remove(struct mb_ctx *ctx, const char *path, const char *to,
		 struct mb_err *e)
{
	struct mbi_tmplock tl = { .fd = -1 };
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, path,
				 to ? "cannot rename mailbox" :
				      "cannot delete mailbox");
		if (fd >= 0)
			close(fd);
		return rc;
	}
	rc = mbi_tmplock_open(&st, &tl, e);
	if (rc == MB_OK)
		rc = mbi_tmplock_lock(&tl, LOCK_EX, ctx->lock_timeout, e);
	if (rc == MB_OK && flock(fd, LOCK_EX | LOCK_NB) < 0)
		rc = mbi_err(e, MB_RETRY, MB_ELOCKED, path, -1,
			     "mailbox is in use by another process");
	if (rc == MB_OK) {
		if (to != NULL) {
			rc = mbi_publish(path, to, e);
			if (rc == MB_OK)
				unlink(path); /* mbi_publish may link */
		} else if (unlink(path) < 0) {
			rc = mbi_err_sys(e, MB_FAILED, errno, path,
					 "cannot delete mailbox");
		} else {
			mbi_fsync_dir(path, NULL);
		}
	}
	close(fd);
	if (tl.fd >= 0)
		mbi_tmplock_release(&tl);
	return rc;
}

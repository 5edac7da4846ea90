/*
 * buf.c - growable byte buffers, checked allocation and full-length I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mb-int.h"

static char buf_empty[1];

void
mbi_buf_init(struct mbi_buf *sb)
{
	sb->buf = buf_empty;
	sb->len = 0;
	sb->cap = 0;
}

void
mbi_buf_free(struct mbi_buf *sb)
{
	if (sb->cap != 0)
		free(sb->buf);
	mbi_buf_init(sb);
}

void
mbi_buf_reset(struct mbi_buf *sb)
{
	sb->len = 0;
	sb->buf[0] = '\0';
}

int
mbi_buf_grow(struct mbi_buf *sb, size_t extra)
{
	size_t want, cap;
	char *p;

	if (extra > SIZE_MAX - sb->len - 1)
		return -1;
	want = sb->len + extra + 1;
	if (want <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 64;
	while (cap < want) {
		if (cap > SIZE_MAX / 2) {
			cap = want;
			break;
		}
		cap *= 2;
	}
	p = realloc(sb->cap ? sb->buf : NULL, cap);
	if (p == NULL)
		return -1;
	if (sb->cap == 0)
		p[0] = '\0';
	sb->buf = p;
	sb->cap = cap;
	return 0;
}

int
mbi_buf_add(struct mbi_buf *sb, const void *p, size_t n)
{
	if (mbi_buf_grow(sb, n) < 0)
		return -1;
	if (n)
		memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
	return 0;
}

int
mbi_buf_addstr(struct mbi_buf *sb, const char *s)
{
	return mbi_buf_add(sb, s, strlen(s));
}

int
mbi_buf_addf(struct mbi_buf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || mbi_buf_grow(sb, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return 0;
}

void *
mbi_reallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, (n * size) != 0 ? n * size : 1);
}

char *
mbi_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
mbi_write_all(int fd, const void *p, size_t n, const char *path,
	      struct mb_err *e)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return mbi_err_sys(e, MB_FAILED, errno, path,
					   "cannot write");
		}
		c += w;
		n -= (size_t)w;
	}
	return MB_OK;
}

int
mbi_pwrite_all(int fd, const void *p, size_t n, int64_t off, const char *path,
	       struct mb_err *e)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = pwrite(fd, c, n, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return mbi_err_sys(e, MB_FAILED, errno, path,
					   "cannot write at byte %lld",
					   (long long)off);
		}
		c += w;
		n -= (size_t)w;
		off += w;
	}
	return MB_OK;
}

ssize_t
mbi_pread_full(int fd, void *p, size_t n, int64_t off)
{
	char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, c + got, n - got,
				  (off_t)(off + (int64_t)got));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

#define WBUF_SIZE (1 << 20)

int
mbi_wbuf_init(struct mbi_wbuf *w, int fd, const char *path, int64_t pos,
	      struct mb_err *e)
{
	w->fd = fd;
	w->path = path;
	w->len = 0;
	w->cap = WBUF_SIZE;
	w->pos = pos;
	w->tail = NULL;
	w->buf = malloc(w->cap);
	if (w->buf == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1,
			       "out of memory");
	return MB_OK;
}

int
mbi_wbuf_flush(struct mbi_wbuf *w, struct mb_err *e)
{
	int rc;

	if (w->len == 0)
		return MB_OK;
	if (w->tail != NULL &&
	    mbi_tail_note(w->tail, w->buf, w->len, w->pos - (int64_t)w->len,
			  e) != MB_OK)
		return MB_FAILED;
	rc = mbi_pwrite_all(w->fd, w->buf, w->len, w->pos - (int64_t)w->len,
			    w->path, e);
	if (rc == MB_OK)
		w->len = 0;
	return rc;
}

int
mbi_wbuf_put(struct mbi_wbuf *w, const void *p, size_t n, struct mb_err *e)
{
	const char *c = p;

	while (n > 0) {
		size_t room = w->cap - w->len, k = n < room ? n : room;

		/* Large writes with an empty buffer go straight to the file
		 * (not when journaled: a noted write is at most a block). */
		if (w->len == 0 && n >= w->cap && w->tail == NULL) {
			if (mbi_pwrite_all(w->fd, c, n, w->pos, w->path, e) !=
			    MB_OK)
				return MB_FAILED;
			w->pos += (int64_t)n;
			return MB_OK;
		}
		memcpy(w->buf + w->len, c, k);
		w->len += k;
		w->pos += (int64_t)k;
		c += k;
		n -= k;
		if (w->len == w->cap && mbi_wbuf_flush(w, e) != MB_OK)
			return MB_FAILED;
	}
	return MB_OK;
}

void
mbi_wbuf_free(struct mbi_wbuf *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

int
mb_tmpfile(const char *prefix, const char *what, struct mb_err *e)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[PATH_MAX];
	int fd;

	if (dir == NULL || *dir != '/')
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if ((size_t)snprintf(tmpl, sizeof(tmpl), "%s/%s.XXXXXX", dir, prefix) >=
	    sizeof(tmpl)) {
		mbi_err(e, MB_FAILED, MB_EINVAL, dir, -1,
			"cannot make %s: $TMPDIR is too long", what);
		return -1;
	}
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0) {
		mbi_err_sys(e, MB_FAILED, errno, tmpl, "cannot make %s", what);
		return -1;
	}
	unlink(tmpl);
	return fd;
}

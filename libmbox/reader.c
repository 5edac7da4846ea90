/*
 * reader.c - struct mb_reader: the calls, and readers over memory and
 * over a byte range of a file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mb-int.h"

ssize_t
mb_reader_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	return r->read(r, buf, len, e);
}

int
mb_reader_rewind(struct mb_reader *r, struct mb_err *e)
{
	if (r->rewind == NULL)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, NULL, -1,
			       "this input cannot be read twice");
	return r->rewind(r, e);
}

void
mb_reader_close(struct mb_reader **r)
{
	if (r == NULL || *r == NULL)
		return;
	(*r)->close(*r);
	*r = NULL;
}

struct mem_reader {
	struct mb_reader r;
	const char *buf;
	size_t len, pos;
};

static ssize_t
mem_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	struct mem_reader *m = (struct mem_reader *)r;
	size_t n = m->len - m->pos;

	if (n > len)
		n = len;
	memcpy(buf, m->buf + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static int
mem_rewind(struct mb_reader *r, struct mb_err *e)
{
	((struct mem_reader *)r)->pos = 0;
	return MB_OK;
}

static void
mem_close(struct mb_reader *r)
{
	free(r);
}

struct mb_reader *
mb_reader_mem(const void *buf, size_t len)
{
	struct mem_reader *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->r.read = mem_read;
	m->r.rewind = mem_rewind;
	m->r.close = mem_close;
	m->r.size = (int64_t)len;
	m->buf = buf;
	m->len = len;
	return &m->r;
}

struct fd_reader {
	struct mb_reader r;
	int fd;
	int64_t off, len, pos;
};

static ssize_t
fd_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	struct fd_reader *f = (struct fd_reader *)r;
	int64_t left = f->len - f->pos;
	ssize_t n;

	if ((int64_t)len > left)
		len = (size_t)left;
	if (len == 0)
		return 0;
	n = mbi_pread_full(f->fd, buf, len, f->off + f->pos);
	if (n < 0) {
		mbi_err_sys(e, MB_FAILED, errno, NULL, "cannot read");
		return -1;
	}
	if (n == 0) {
		mbi_err(e, MB_FAILED, MB_ECHANGED, NULL, f->off + f->pos,
			"file shrank while reading");
		return -1;
	}
	f->pos += n;
	return n;
}

static int
fd_rewind(struct mb_reader *r, struct mb_err *e)
{
	((struct fd_reader *)r)->pos = 0;
	return MB_OK;
}

struct mb_reader *
mb_reader_fd(int fd, int64_t off, int64_t len)
{
	struct fd_reader *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->r.read = fd_read;
	f->r.rewind = fd_rewind;
	f->r.close = mem_close;
	f->r.size = len;
	f->fd = fd;
	f->off = off;
	f->len = len;
	return &f->r;
}

/*
 * A reader over src that drops the CR of every CR LF: the text of a
 * format that stores CR LF line ends (mbx, mix, mtx) on its way into one
 * that stores LF.  A lone CR stays.  src stays the caller's.
 */
struct lf_reader {
	struct mb_reader r;
	struct mb_reader *src;
	bool cr; /* a CR held back from the previous read */
};

static ssize_t
lf_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	struct lf_reader *f = (struct lf_reader *)r;
	unsigned char *b = buf;
	size_t i, o;
	ssize_t n;

	if (len < 2)
		return mb_reader_read(f->src, buf, len, e);
	for (;;) {
		o = 0;
		if (f->cr)
			b[o++] = '\r';
		n = mb_reader_read(f->src, b + o, len - o, e);
		if (n < 0)
			return -1;
		if (n == 0) {
			f->cr = false;
			return (ssize_t)o; /* a CR at the very end stays */
		}
		n += (ssize_t)o;
		f->cr = false;
		for (i = 0, o = 0; i < (size_t)n;) {
			unsigned char *c = memchr(b + i, '\r', (size_t)n - i);
			size_t run = c ? (size_t)(c - (b + i)) : (size_t)n - i;

			if (o != i)
				memmove(b + o, b + i, run);
			o += run;
			i += run;
			if (c == NULL)
				break;
			if (i + 1 == (size_t)n) {
				f->cr = true; /* decided next time */
				break;
			}
			if (b[i + 1] != '\n')
				b[o++] = '\r'; /* a lone CR stays */
			i++;
		}
		if (o > 0)
			return (ssize_t)o;
	}
}

static int
lf_rewind(struct mb_reader *r, struct mb_err *e)
{
	struct lf_reader *f = (struct lf_reader *)r;

	f->cr = false;
	return mb_reader_rewind(f->src, e);
}

static void
lf_close(struct mb_reader *r)
{
	free(r);
}

struct mb_reader *
mbi_reader_lf(struct mb_reader *src)
{
	struct lf_reader *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->r.read = lf_read;
	f->r.rewind = lf_rewind;
	f->r.close = lf_close;
	f->r.size = -1;
	f->src = src;
	return &f->r;
}

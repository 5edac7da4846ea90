/*
 * eml.c - a directory of .eml files, one message per file ("1.eml",
 * "2.eml", ...), as mail programs export them.  The message text is the
 * file, byte for byte; the internal date is the file's modification time.
 * Flags, keywords and UIDs have nowhere to go and are not stored.
 *
 * Reading takes every "*.eml" regular file (not dot-files), numbered
 * names in numeric order first, then the others by name.  Appends are
 * written to ".N.eml.mbtmp" files, fsynced, and renamed to the next free
 * "N.eml" at commit; an aborted box removes them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats.h"

struct eml_state {
	int dfd;      /* the directory */
	char **names; /* the messages found at open, sorted */
	uint32_t n, pos;
	unsigned long next; /* the number the next new file gets */
	char **staged;	    /* temporary names of staged appends */
	uint32_t nstaged;
	struct mbi_buf kbuf; /* key of the current message */
	bool warned;	     /* flags or keywords were dropped */
};

static struct eml_state *
state(struct mb_box *b)
{
	return b->priv;
}

static bool
is_eml(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".eml") == 0;
}

/* The N of "N.eml", or 0 when the name is not all digits. */
static unsigned long
eml_number(const char *name)
{
	unsigned long v = 0;
	const char *p;

	for (p = name; *p >= '0' && *p <= '9'; p++) {
		if (v > 400000000UL)
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return p != name && strcmp(p, ".eml") == 0 ? v : 0;
}

static int
name_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	unsigned long nx = eml_number(x), ny = eml_number(y);

	if (nx && ny)
		return nx < ny ? -1 : nx > ny;
	if (nx || ny)
		return nx ? -1 : 1;
	return strcmp(x, y);
}

static void
free_names(char **v, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
eml_close(struct mb_box *b)
{
	struct eml_state *s = state(b);
	uint32_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nstaged; i++)
		unlinkat(s->dfd, s->staged[i], 0); /* never committed */
	free_names(s->staged, s->nstaged);
	free_names(s->names, s->n);
	mbi_buf_free(&s->kbuf);
	if (s->dfd >= 0)
		close(s->dfd);
	free(s);
	b->priv = NULL;
}

static int
push_name(char ***v, uint32_t *n, const char *name)
{
	char **p;

	if ((*n & (*n - 1)) == 0 || *n == 0) {
		p = mbi_reallocarray(*v, *n ? (size_t)*n * 2 : 64, sizeof(*p));
		if (p == NULL)
			return -1;
		*v = p;
	}
	(*v)[*n] = strdup(name);
	if ((*v)[*n] == NULL)
		return -1;
	(*n)++;
	return 0;
}

static int
list_dir(struct mb_box *b, struct eml_state *s, struct mb_err *e)
{
	struct dirent *d;
	struct stat st;
	DIR *dp;
	int fd;

	fd = dup(s->dfd);
	if (fd < 0 || (dp = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot read the directory");
	}
	while ((d = readdir(dp)) != NULL) {
		unsigned long num;

		if (!is_eml(d->d_name))
			continue;
		if (fstatat(s->dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (s->n >= b->ctx->max_messages) {
			closedir(dp);
			return mbi_err(e, MB_FAILED, MB_ELIMIT, b->path, -1,
				       "more than %u messages",
				       b->ctx->max_messages);
		}
		if (push_name(&s->names, &s->n, d->d_name) < 0) {
			closedir(dp);
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		}
		num = eml_number(d->d_name);
		if (num >= s->next)
			s->next = num + 1;
	}
	closedir(dp);
	if (s->n > 1)
		qsort(s->names, s->n, sizeof(*s->names), name_cmp);
	return MB_OK;
}

static int
start(struct mb_box *b, bool create, struct mb_err *e)
{
	struct eml_state *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	s->dfd = -1;
	s->next = 1;
	mbi_buf_init(&s->kbuf);
	b->priv = s;
	if (create && mkdir(b->path, 0700) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->final_path,
				 "cannot create mailbox");
		eml_close(b);
		return rc;
	}
	s->dfd = open(b->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (s->dfd < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot open mailbox");
		if (create)
			rmdir(b->path);
		eml_close(b);
		return rc;
	}
	if (!create && (rc = list_dir(b, s, e)) != MB_OK) {
		eml_close(b);
		return rc;
	}
	return MB_OK;
}

static int
eml_open(struct mb_box *b, struct mb_err *e)
{
	return start(b, false, e);
}

static int
eml_create(struct mb_box *b, struct mb_err *e)
{
	return start(b, true, e);
}

static int
eml_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e)
{
	struct eml_state *s = state(b);
	struct stat st;
	const char *name;

	for (;;) {
		if (s->pos >= s->n)
			return MB_END;
		name = s->names[s->pos++];
		if (fstatat(s->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			break;
		/* removed by someone since open */
		mbi_diag(b, MB_DIAG_WARN, "file-vanished", -1, 0, 0,
			 "%s: gone since the mailbox was opened", name);
	}
	mbi_buf_reset(&s->kbuf);
	if (mbi_buf_addstr(&s->kbuf, name) < 0)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	if (st.st_size == 0)
		mbi_diag(b, MB_DIAG_WARN, "empty-message", 0, s->pos, 0,
			 "%s: empty file", name);
	out->idate = st.st_mtim.tv_sec;
	out->idate_tz = 0;
	out->offset = 0;
	out->size = st.st_size;
	out->text_offset = 0;
	out->text_size = st.st_size;
	out->key = s->kbuf.buf;
	return MB_OK;
}

/* A reader over one message file; it owns the descriptor. */
struct file_reader {
	struct mb_reader r;
	struct mb_reader *inner;
	int fd;
};

static ssize_t
fr_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	return mb_reader_read(((struct file_reader *)r)->inner, buf, len, e);
}

static int
fr_rewind(struct mb_reader *r, struct mb_err *e)
{
	return mb_reader_rewind(((struct file_reader *)r)->inner, e);
}

static void
fr_close(struct mb_reader *r)
{
	struct file_reader *f = (struct file_reader *)r;

	mb_reader_close(&f->inner);
	close(f->fd);
	free(f);
}

static int
eml_msg_open(struct mb_box *b, const struct mb_msg *m, struct mb_reader **out,
	     struct mb_err *e)
{
	struct eml_state *s = state(b);
	struct file_reader *f;
	struct stat st;
	int fd;

	if (m->key == NULL || !is_eml(m->key) || strchr(m->key, '/') != NULL)
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "no such message");
	fd = openat(s->dfd, m->key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				     "cannot open message %s", m->key);

		if (fd >= 0)
			close(fd);
		return rc;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->inner = mb_reader_fd(fd, 0, st.st_size)) == NULL) {
		free(f);
		close(fd);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	}
	f->fd = fd;
	f->r.read = fr_read;
	f->r.rewind = fr_rewind;
	f->r.close = fr_close;
	f->r.size = st.st_size;
	*out = &f->r;
	return MB_OK;
}

static int
eml_append(struct mb_box *b, const struct mb_newmsg *meta,
	   struct mb_reader *src, uint32_t *uid_out, struct mb_err *e)
{
	struct eml_state *s = state(b);
	struct timespec ts[2];
	struct mbi_wbuf wb;
	char tmp[64], buf[65536];
	ssize_t n;
	int fd, rc;

	if (!s->warned &&
	    (meta->nkeywords > 0 || (meta->flags & ~(unsigned)MB_OLD) != 0)) {
		s->warned = true;
		mbi_diag(b, MB_DIAG_WARN, "flags-dropped", -1, 0, meta->uid,
			 "flags and keywords cannot be stored in an eml "
			 "directory; they are dropped");
	}
	snprintf(tmp, sizeof(tmp), ".%u.eml.mbtmp.%ld", s->nstaged,
		 (long)getpid());
	fd = openat(s->dfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot create a message file");
	if (push_name(&s->staged, &s->nstaged, tmp) < 0) {
		close(fd);
		unlinkat(s->dfd, tmp, 0);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	}
	rc = mbi_wbuf_init(&wb, fd, b->path, 0, e);
	while (rc == MB_OK &&
	       (n = mb_reader_read(src, buf, sizeof(buf), e)) != 0) {
		if (n < 0)
			rc = MB_FAILED;
		else
			rc = mbi_wbuf_put(&wb, buf, (size_t)n, e);
	}
	if (rc == MB_OK)
		rc = mbi_wbuf_flush(&wb, e);
	mbi_wbuf_free(&wb);
	if (rc == MB_OK && meta != NULL && meta->idate >= 0) {
		ts[0].tv_sec = ts[1].tv_sec = (time_t)meta->idate;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		futimens(fd, ts);
	}
	if (rc == MB_OK && fsync(fd) < 0)
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot write a message file to disk");
	close(fd);
	if (rc != MB_OK) {
		unlinkat(s->dfd, tmp, 0);
		free(s->staged[--s->nstaged]);
	}
	if (rc == MB_OK && uid_out != NULL)
		*uid_out = 0;
	return rc;
}

static int
eml_commit(struct mb_box *b, struct mb_err *e)
{
	struct eml_state *s = state(b);
	char name[32];
	uint32_t i;

	for (i = 0; i < s->nstaged; i++) {
		for (;;) {
			snprintf(name, sizeof(name), "%lu.eml", s->next++);
			/* link, not rename: never replace a file */
			if (linkat(s->dfd, s->staged[i], s->dfd, name, 0) == 0)
				break;
			if (errno != EEXIST)
				return mbi_err_sys(e, MB_FAILED, errno, b->path,
						   "cannot add %s", name);
		}
		unlinkat(s->dfd, s->staged[i], 0);
		free(s->staged[i]);
		s->staged[i] = NULL;
	}
	s->nstaged = 0;
	if (fsync(s->dfd) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot write the directory to disk");
	return MB_OK;
}

static int
eml_remove(struct mb_ctx *ctx, const char *path, struct mb_err *e)
{
	struct dirent *d;
	DIR *dp = opendir(path);

	if (dp == NULL)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot open mailbox");
	while ((d = readdir(dp)) != NULL)
		if (is_eml(d->d_name) &&
		    unlinkat(dirfd(dp), d->d_name, 0) < 0 && errno != ENOENT) {
			int err = errno;

			closedir(dp);
			return mbi_err_sys(e, MB_FAILED, err, path,
					   "cannot remove %s", d->d_name);
		}
	closedir(dp);
	if (rmdir(path) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot remove the directory (files other "
				   "than .eml remain?)");
	return MB_OK;
}

static int
eml_rename(struct mb_ctx *ctx, const char *from, const char *to,
	   struct mb_err *e)
{
	struct stat st;

	if (lstat(to, &st) == 0)
		return mbi_err(e, MB_FAILED, MB_EEXIST, to, -1,
			       "'%s' already exists", to);
	if (rename(from, to) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, from,
				   "cannot rename to '%s'", to);
	return MB_OK;
}

/*
 * Ours when the directory holds .eml files and is no maildir; an empty
 * directory only just (so a new, empty eml mailbox opens again).
 */
static int
eml_probe(const char *path, const struct stat *st, const unsigned char *head,
	  size_t len)
{
	struct dirent *d;
	DIR *dp = opendir(path);
	int score = 1, seen = 0;

	if (dp == NULL)
		return 0;
	while ((d = readdir(dp)) != NULL && seen < 64) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		seen++;
		if (strcmp(d->d_name, "cur") == 0 ||
		    strcmp(d->d_name, "new") == 0) {
			score = 0;
			break;
		}
		/* an empty directory is taken weakly (listings show it as a
		 * plain directory, see MB_CAP_ANYFILE) */
		if (is_eml(d->d_name))
			score = 60;
		else if (d->d_name[0] != '.' && score == 1)
			score = 0;
	}
	closedir(dp);
	return score;
}

const struct mb_driver mbi_driver_eml = {
	.name = "eml",
	.summary = "a directory of N.eml files, one message each; "
		   "STORES NO FLAGS, KEYWORDS OR UIDS",
	.caps = MB_CAP_APPEND | MB_CAP_CREATE | MB_CAP_DIR | MB_CAP_DATES |
		MB_CAP_ANYFILE,
	.probe_len = 0,
	.probe = eml_probe,
	.open = eml_open,
	.create = eml_create,
	.next = eml_next,
	.msg_open = eml_msg_open,
	.append = eml_append,
	.commit = eml_commit,
	.close = eml_close,
	.remove = eml_remove,
	.rename = eml_rename,
};

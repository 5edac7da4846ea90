/*
 * durable.c - writes that survive a crash: directory fsync, temporary
 * names, publishing without replacing, and the tail journal that lets a
 * writer undo a torn append to a single-file mailbox.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mb-int.h"

#define TMP_TRIES 100

/* ------------------------------------------------------------------ */
/* Names                                                                */

/*
 * Split path into its directory ("." when there is none, "/" for the
 * root) and its last component, ignoring trailing slashes.
 */
static int
split_path(const char *path, char *dir, size_t dsize, char *base, size_t bsize,
	   struct mb_err *e)
{
	size_t len = strlen(path), slash;
	const char *p;
	int n;

	while (len > 1 && path[len - 1] == '/')
		len--;
	p = memrchr(path, '/', len);
	if (p == NULL) {
		n = snprintf(dir, dsize, ".");
		slash = 0;
	} else {
		slash = (size_t)(p - path);
		n = snprintf(dir, dsize, "%.*s", slash == 0 ? 1 : (int)slash,
			     path);
		slash++;
	}
	if (n < 0 || (size_t)n >= dsize || len - slash >= bsize)
		return mbi_err(e, MB_FAILED, MB_EINVAL, path, -1,
			       "path name too long");
	memcpy(base, path + slash, len - slash);
	base[len - slash] = '\0';
	return MB_OK;
}

/* "<dir>/" as a prefix, or "" for a bare name in the current directory. */
static const char *
dir_prefix(const char *path, const char *dir)
{
	return strchr(path, '/') != NULL ? dir : "";
}

int
mbi_fsync_dir(const char *path, struct mb_err *e)
{
	char dir[PATH_MAX], base[PATH_MAX];
	int fd, r;

	r = split_path(path, dir, sizeof(dir), base, sizeof(base), e);
	if (r != MB_OK)
		return r;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, dir,
				   "cannot open directory '%s'", dir);
	/* Some file systems cannot sync a directory; nothing to do then. */
	if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS &&
	    errno != ENOTSUP) {
		r = mbi_err_sys(e, MB_FAILED, errno, dir,
				"cannot sync directory '%s'", dir);
		close(fd);
		return r;
	}
	close(fd);
	return MB_OK;
}

static uint32_t
random32(void)
{
	uint32_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec * 2654435761U ^
	       (uint32_t)(uintptr_t)&v;
}

int
mbi_tmp_name(const char *final, char *out, size_t size, struct mb_err *e)
{
	char dir[PATH_MAX], base[PATH_MAX];
	struct stat st;
	int i, n, r;
	const char *pre;

	r = split_path(final, dir, sizeof(dir), base, sizeof(base), e);
	if (r != MB_OK)
		return r;
	pre = dir_prefix(final, dir);
	for (i = 0; i < TMP_TRIES; i++) {
		n = snprintf(out, size, "%s%s.%s.mbtmp.%ld.%08" PRIx32, pre,
			     pre[0] != '\0' && strcmp(pre, "/") != 0 ? "/" : "",
			     base, (long)getpid(), random32());
		if (n < 0 || (size_t)n >= size)
			return mbi_err(e, MB_FAILED, MB_EINVAL, final, -1,
				       "path name too long");
		if (lstat(out, &st) != 0) {
			if (errno == ENOENT)
				return MB_OK;
			return mbi_err_sys(e, MB_FAILED, errno, out,
					   "cannot check '%s'", out);
		}
	}
	return mbi_err(e, MB_FAILED, MB_EIO, final, -1,
		       "cannot find an unused temporary name for '%s'", final);
}

/* ------------------------------------------------------------------ */
/* Publishing                                                           */

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static int
rename_noreplace(const char *from, const char *to)
{
#ifdef SYS_renameat2
	return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to,
			    RENAME_NOREPLACE);
#else
	errno = ENOSYS;
	return -1;
#endif
}

int
mbi_publish(const char *tmp, const char *final, struct mb_err *e)
{
	struct stat st;
	int err;

	if (rename_noreplace(tmp, final) != 0) {
		err = errno;
		if (err != ENOSYS && err != EINVAL && err != ENOTSUP)
			goto fail;
		/*
		 * No RENAME_NOREPLACE here (old kernel, some network file
		 * systems): link() refuses to replace just as well for
		 * files; a directory gets a checked plain rename.
		 */
		if (link(tmp, final) == 0) {
			unlink(tmp);
		} else {
			err = errno;
			if (err != EPERM && err != EXDEV && err != ENOTSUP)
				goto fail;
			if (lstat(final, &st) == 0) {
				err = EEXIST;
				goto fail;
			}
			if (rename(tmp, final) != 0) {
				err = errno;
				goto fail;
			}
		}
	}
	return mbi_fsync_dir(final, e);
fail:
	if (err == EEXIST)
		return mbi_err(e, MB_FAILED, MB_EEXIST, final, -1,
			       "'%s' already exists", final);
	return mbi_err_sys(e, MB_FAILED, err, final,
			   "cannot rename '%s' to '%s'", tmp, final);
}

/* ------------------------------------------------------------------ */
/* The tail journal                                                     */

/*
 * The journal file holds two slots.  Slot k is a header of TAIL_HDR
 * bytes at k * TAIL_HDR and a data area at 2 * TAIL_HDR + k * TAIL_DATA.
 * A header is one NUL-padded line,
 *
 *   mailbag-tail 2 SEQ DEV INO START FLEN FSUM WSTART WLEN MOVED SUM
 *
 * SEQ numbers the updates (of two headers that check out, the higher
 * wins); DEV INO name the mailbox; START is its size before our first
 * byte; FLEN FSUM the length (at most TAIL_FIRST) and hash of our first
 * bytes at START; WSTART WLEN the write in flight, whose bytes the data
 * area holds; MOVED is -1, or the size the mailbox gets when a recovery
 * moves foreign bytes down over ours; SUM is the hash of the line before
 * " SUM".  An update goes to the slot not holding the newest header,
 * data before header, so a header that checks out names complete data.
 */
#define TAIL_MAGIC "mailbag-tail 2"
#define TAIL_HDR   256
#define TAIL_DATA  (1u << 20) /* the largest write: mbi_wbuf's block */
#define TAIL_FIRST 64
#define TAIL_LOOK  1024 /* the longest message start line we look at */
#define MMDF_LF	   "\1\1\1\1\n"
#define MMDF_CRLF  "\1\1\1\1\r\n"

struct tail_rec {
	unsigned long long seq, dev, ino, fsum;
	long long start, wstart, wlen, moved;
	unsigned flen;
};

static uint64_t
fnv64(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 14695981039346656037ULL;

	while (n-- > 0) {
		h ^= *c++;
		h *= 1099511628211ULL;
	}
	return h;
}

static void
tail_format(const struct tail_rec *r, char *h)
{
	int n;

	memset(h, 0, TAIL_HDR);
	n = snprintf(h, TAIL_HDR,
		     TAIL_MAGIC
		     " %llu %llu %llu %lld %u %016llx %lld %lld %lld",
		     r->seq, r->dev, r->ino, r->start, r->flen, r->fsum,
		     r->wstart, r->wlen, r->moved);
	snprintf(h + n, TAIL_HDR - (size_t)n, " %016llx\n",
		 (unsigned long long)fnv64(h, (size_t)n));
}

/* Parse a header (TAIL_HDR bytes); false when it is none or damaged. */
static bool
tail_parse(const char *h, struct tail_rec *r)
{
	char line[TAIL_HDR + 1], *sp, *end;
	const char *nl = memchr(h, '\n', TAIL_HDR);
	unsigned long long sum;
	size_t len;
	int used = -1;

	if (nl == NULL)
		return false;
	len = (size_t)(nl - h);
	memcpy(line, h, len);
	line[len] = '\0';
	if (strlen(line) != len || (sp = strrchr(line, ' ')) == NULL)
		return false;
	errno = 0;
	sum = strtoull(sp + 1, &end, 16);
	if (errno != 0 || end == sp + 1 || *end != '\0' ||
	    sum != fnv64(line, (size_t)(sp - line)))
		return false;
	*sp = '\0';
	if (sscanf(line,
		   TAIL_MAGIC " %llu %llu %llu %lld %u %llx %lld %lld %lld%n",
		   &r->seq, &r->dev, &r->ino, &r->start, &r->flen, &r->fsum,
		   &r->wstart, &r->wlen, &r->moved, &used) != 9 ||
	    used != (int)strlen(line))
		return false;
	return r->start >= 0 && r->wstart >= r->start && r->wlen >= 0 &&
	       r->wlen <= (long long)TAIL_DATA && r->flen <= TAIL_FIRST &&
	       r->moved >= -1;
}

/* Write r (and the bytes of its write in flight) into its slot. */
static int
tail_store(int jfd, const char *jpath, const struct tail_rec *r,
	   const void *data, struct mb_err *e)
{
	char h[TAIL_HDR];
	unsigned k = (unsigned)(r->seq & 1);

	if (r->wlen > 0 && mbi_pwrite_all(jfd, data, (size_t)r->wlen,
					  2 * TAIL_HDR + (int64_t)k * TAIL_DATA,
					  jpath, e) != MB_OK)
		return MB_FAILED;
	tail_format(r, h);
	return mbi_pwrite_all(jfd, h, TAIL_HDR, (int64_t)k * TAIL_HDR, jpath,
			      e);
}

/* Where the journal of the file st at mailbox lives: beside it or /tmp. */
static int
tail_paths(const char *mailbox, const struct stat *st, char *local, char *tmp,
	   size_t size, bool *use_local, struct mb_err *e)
{
	char dir[PATH_MAX], base[PATH_MAX];
	const char *pre;
	int n, r;

	r = split_path(mailbox, dir, sizeof(dir), base, sizeof(base), e);
	if (r != MB_OK)
		return r;
	pre = dir_prefix(mailbox, dir);
	n = snprintf(local, size, "%s%s.%s.mbtail", pre,
		     pre[0] != '\0' && strcmp(pre, "/") != 0 ? "/" : "", base);
	if (n < 0 || (size_t)n >= size)
		return mbi_err(e, MB_FAILED, MB_EINVAL, mailbox, -1,
			       "path name too long");
	snprintf(tmp, size, "/tmp/.mbtail.%llx.%llx",
		 (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino);
	if (use_local != NULL)
		*use_local = faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) == 0;
	return MB_OK;
}

int
mbi_tail_begin(const char *mailbox, int fd, struct mbi_tail *t,
	       struct mb_err *e)
{
	char local[PATH_MAX], tmpj[PATH_MAX], tmp[PATH_MAX];
	struct tail_rec rec;
	struct stat st;
	bool use_local;
	int jfd, r, err;

	t->active = false;
	t->jfd = -1;
	t->path[0] = '\0';
	if (fstat(fd, &st) != 0)
		return mbi_err_sys(e, MB_FAILED, errno, mailbox,
				   "cannot stat '%s'", mailbox);
	r = tail_paths(mailbox, &st, local, tmpj, sizeof(local), &use_local, e);
	if (r != MB_OK)
		return r;
	snprintf(t->path, sizeof(t->path), "%s", use_local ? local : tmpj);
	t->seq = 1;
	t->dev = (uint64_t)st.st_dev;
	t->ino = (uint64_t)st.st_ino;
	t->start = (int64_t)st.st_size;
	t->first_len = 0;
	t->first_sum = 0;
	rec = (struct tail_rec){ .seq = t->seq,
				 .dev = t->dev,
				 .ino = t->ino,
				 .start = t->start,
				 .wstart = t->start,
				 .moved = -1 };

	r = mbi_tmp_name(t->path, tmp, sizeof(tmp), e);
	if (r != MB_OK)
		return r;
	jfd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		   0644);
	if (jfd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, tmp,
				   "cannot create tail journal '%s'", tmp);
	/* Readable by every writer, writable by nobody else. */
	(void)fchmod(jfd, 0644);
	r = tail_store(jfd, tmp, &rec, NULL, e);
	if (r == MB_OK && fsync(jfd) != 0)
		r = mbi_err_sys(e, MB_FAILED, errno, tmp,
				"cannot sync tail journal '%s'", tmp);
	/* rename() replaces a symlink at the name, never follows it. */
	if (r == MB_OK && rename(tmp, t->path) != 0) {
		err = errno;
		r = mbi_err_sys(e, MB_FAILED, err, t->path,
				"cannot install tail journal '%s'", t->path);
	}
	if (r != MB_OK) {
		close(jfd);
		unlink(tmp);
		return r;
	}
	r = mbi_fsync_dir(t->path, e);
	if (r != MB_OK) {
		close(jfd);
		unlink(t->path);
		return r;
	}
	t->jfd = jfd;
	t->active = true;
	return MB_OK;
}

int
mbi_tail_note(struct mbi_tail *t, const void *p, size_t n, int64_t off,
	      struct mb_err *e)
{
	struct tail_rec rec;
	int r;

	if (!t->active)
		return MB_OK;
	if (n > TAIL_DATA || off < t->start)
		return mbi_err(e, MB_FATAL, MB_EINVAL, t->path, -1,
			       "a write of %zu bytes at %lld does not fit the "
			       "tail journal",
			       n, (long long)off);
	if (off == t->start) {
		t->first_len = n < TAIL_FIRST ? (unsigned)n : TAIL_FIRST;
		t->first_sum = fnv64(p, t->first_len);
	}
	rec = (struct tail_rec){ .seq = t->seq + 1,
				 .dev = t->dev,
				 .ino = t->ino,
				 .start = t->start,
				 .flen = t->first_len,
				 .fsum = t->first_sum,
				 .wstart = off,
				 .wlen = (long long)n,
				 .moved = -1 };
	r = tail_store(t->jfd, t->path, &rec, p, e);
	if (r != MB_OK)
		return r;
	t->seq++;
	return MB_OK;
}

int
mbi_tail_write(struct mbi_tail *t, int fd, const void *p, size_t n, int64_t off,
	       const char *path, struct mb_err *e)
{
	const char *c = p;

	while (n > 0) {
		size_t k = n < TAIL_DATA ? n : TAIL_DATA;

		if (mbi_tail_note(t, c, k, off, e) != MB_OK ||
		    mbi_pwrite_all(fd, c, k, off, path, e) != MB_OK)
			return MB_FAILED;
		c += k;
		off += (int64_t)k;
		n -= k;
	}
	return MB_OK;
}

int
mbi_tail_end(struct mbi_tail *t, struct mb_err *e)
{
	if (!t->active)
		return MB_OK;
	t->active = false;
	close(t->jfd);
	t->jfd = -1;
	if (unlink(t->path) != 0 && errno != ENOENT)
		return mbi_err_sys(e, MB_FAILED, errno, t->path,
				   "cannot remove tail journal '%s'", t->path);
	return mbi_fsync_dir(t->path, e);
}

static void
tail_remove(const char *jpath)
{
	if (unlink(jpath) == 0)
		(void)mbi_fsync_dir(jpath, NULL);
}

/* Does a line at c read like an internal header of mbx, tenex or mtx,
 * "dd-Mon-yyyy hh:mm:ss +zzzz,SIZE;FLAGS" + CR LF or LF? */
static bool
internal_header_at(const char *c, size_t n)
{
	static const char pat[] = "Dd-Aaa-dddd dd:dd:dd Sdddd,";
	size_t i, k;

	if (n < sizeof(pat) + 3)
		return false;
	for (i = 0; i < sizeof(pat) - 1; i++) {
		unsigned char x = (unsigned char)c[i];
		bool okc;

		switch (pat[i]) {
		case 'D':
			okc = x == ' ' || (x >= '0' && x <= '9');
			break;
		case 'd':
			okc = x >= '0' && x <= '9';
			break;
		case 'A':
			okc = (x >= 'A' && x <= 'Z') || (x >= 'a' && x <= 'z');
			break;
		case 'a':
			okc = x >= 'a' && x <= 'z';
			break;
		case 'S':
			okc = x == '+' || x == '-';
			break;
		default:
			okc = x == (unsigned char)pat[i];
		}
		if (!okc)
			return false;
	}
	for (k = i; k < n && c[k] >= '0' && c[k] <= '9'; k++)
		;
	if (k == i || k >= n || c[k] != ';')
		return false;
	for (i = ++k; k < n && (isxdigit((unsigned char)c[k]) || c[k] == '-');
	     k++)
		;
	if (k == i || k >= n)
		return false;
	if (c[k] == '\r')
		k++;
	return k < n && c[k] == '\n';
}

/*
 * Does a message of one of our single-file formats start at c (n bytes
 * available)?  Every program that appends to them begins with one: a
 * "From " line, an MMDF delimiter, an internal header line.
 */
static bool
message_start_at(const char *c, size_t n)
{
	const char *nl;

	if (n >= 5 && memcmp(c, "\1\1\1\1", 4) == 0) {
		/* an opening delimiter: a message's header follows, not the
		 * next delimiter (then this one closes a message) */
		size_t k = c[4] == '\r' ? 5 : 4;

		return k < n && c[k] == '\n' && k + 1 < n && c[k + 1] != '\1' &&
		       c[k + 1] != '\n' && c[k + 1] != '\r';
	}
	if (n >= 5 && memcmp(c, "From ", 5) == 0) {
		nl = memchr(c, '\n', n);
		return nl != NULL && mbi_from_line(c, (size_t)(nl - c), NULL);
	}
	return internal_header_at(c, n);
}

/*
 * Where do our bytes end?  True with *end set when the mailbox (size
 * bytes) still holds our write from r->start on, as far as it got; false
 * with *why set when it does not.  jdata holds the write in flight.
 */
static bool
tail_judge(int fd, const struct tail_rec *r, const char *jdata, int64_t size,
	   int64_t *end, const char **why)
{
	char first[TAIL_FIRST], *fb;
	int64_t want, avail, l, i;
	bool found = false;

	if (size < r->wstart) {
		*why = "the mailbox is shorter than the bytes the append "
		       "had written";
		return false;
	}
	if (r->wstart > r->start && r->flen > 0 &&
	    (mbi_pread_full(fd, first, r->flen, r->start) != (ssize_t)r->flen ||
	     fnv64(first, r->flen) != r->fsum)) {
		*why = "the bytes there are not those the append wrote";
		return false;
	}
	want = r->wlen + TAIL_LOOK;
	avail = size - r->wstart < want ? size - r->wstart : want;
	fb = malloc((size_t)avail + 1);
	if (fb == NULL) {
		*why = "out of memory";
		return false;
	}
	if (mbi_pread_full(fd, fb, (size_t)avail, r->wstart) != avail) {
		free(fb);
		*why = "the mailbox cannot be read";
		return false;
	}
	for (l = 0; l < avail && l < r->wlen && fb[l] == jdata[l]; l++)
		;
	if (l == r->wlen) {
		/* the write in flight is all there */
		*end = r->wstart + l;
		found = true;
	} else if (r->wstart + l == size) {
		/* torn, and nothing after it */
		*end = size;
		found = true;
	} else {
		/*
		 * Torn, and another program appended after it: its first
		 * bytes may match ours for a while, so its message starts
		 * at the last message start within the matching stretch.
		 */
		for (i = l; i >= 0 && !found; i--)
			if (message_start_at(fb + i, (size_t)(avail - i))) {
				/* a "From " line right after an MMDF
				 * delimiter belongs to the delimiter's start */
				if (i >= 5 && !memcmp(fb + i - 5, MMDF_LF, 5))
					i -= 5;
				else if (i >= 6 &&
					 !memcmp(fb + i - 6, MMDF_CRLF, 6))
					i -= 6;
				*end = r->wstart + i;
				found = true;
			}
		if (!found)
			*why = "the bytes after the interrupted write do not "
			       "start a message";
	}
	free(fb);
	return found;
}

/* Remove [start, end) from the mailbox, moving the bytes after it down,
 * through the crash-safe rewrite. */
static int
tail_move(const char *mailbox, int fd, int64_t start, int64_t end, int64_t size,
	  struct mb_err *e)
{
	struct mbi_rewrite rw;
	int r;

	r = mbi_rewrite_begin(mailbox, fd, &rw, e);
	if (r != MB_OK)
		return r;
	r = mbi_rewrite_copy(&rw, 0, start, e);
	if (r == MB_OK)
		r = mbi_rewrite_copy(&rw, end, size - end, e);
	if (r == MB_OK)
		r = mbi_rewrite_commit(&rw, e);
	if (rw.active)
		mbi_rewrite_abort(&rw);
	return r;
}

/*
 * Act on the journal at jpath, if any.  A record is trusted only when it
 * is a plain file owned by us, by root or by the mailbox's owner, and
 * writable by its owner alone: anyone else could otherwise make us cut a
 * mailbox short.
 */
static int
tail_recover_one(const char *jpath, const char *mailbox, int fd,
		 struct mbi_tail_outcome *o, struct mb_err *e)
{
	char h[2 * TAIL_HDR], *jdata = NULL;
	struct tail_rec recs[2], *r = NULL;
	struct stat lst, jst, st;
	const char *why = NULL;
	int64_t end = 0, size;
	ssize_t got;
	int jfd, k, rc = MB_OK;

	if (lstat(jpath, &lst) != 0) {
		if (errno == ENOENT)
			return MB_OK;
		return mbi_err_sys(e, MB_FAILED, errno, jpath,
				   "cannot check tail journal '%s'", jpath);
	}
	if (fstat(fd, &st) != 0)
		return mbi_err_sys(e, MB_FAILED, errno, mailbox,
				   "cannot stat '%s'", mailbox);
	if (!S_ISREG(lst.st_mode) || lst.st_nlink != 1 ||
	    (lst.st_mode & 022) != 0 ||
	    (lst.st_uid != geteuid() && lst.st_uid != 0 &&
	     lst.st_uid != st.st_uid)) {
		tail_remove(jpath); /* fails harmlessly if not ours */
		return MB_OK;
	}
	jfd = open(jpath, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (jfd < 0 && (errno == EACCES || errno == EPERM))
		jfd = open(jpath,
			   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (jfd < 0) {
		if (errno == ENOENT)
			return MB_OK;
		return mbi_err_sys(e, MB_FAILED, errno, jpath,
				   "cannot open tail journal '%s'", jpath);
	}
	if (fstat(jfd, &jst) != 0 || jst.st_dev != lst.st_dev ||
	    jst.st_ino != lst.st_ino) {
		close(jfd);
		return mbi_err(e, MB_RETRY, MB_ECHANGED, jpath, -1,
			       "tail journal '%s' changed while read", jpath);
	}
	got = mbi_pread_full(jfd, h, sizeof(h), 0);
	if (got < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, jpath,
				 "cannot read tail journal '%s'", jpath);
		goto out;
	}
	if (got < (ssize_t)sizeof(h))
		memset(h + got, 0, sizeof(h) - (size_t)got);
	for (k = 0; k < 2; k++)
		if (tail_parse(h + k * TAIL_HDR, &recs[k]) &&
		    recs[k].dev == (unsigned long long)st.st_dev &&
		    recs[k].ino == (unsigned long long)st.st_ino &&
		    (recs[k].seq & 1) == (unsigned long long)k &&
		    (r == NULL || recs[k].seq > r->seq))
			r = &recs[k];
	if (r == NULL) {
		/* Damaged, or left for a file that is gone: not ours. */
		close(jfd);
		tail_remove(jpath);
		return MB_OK;
	}
	jdata = malloc((size_t)r->wlen + 1);
	if (jdata == NULL) {
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, jpath, -1,
			     "out of memory");
		goto out;
	}
	if (mbi_pread_full(jfd, jdata, (size_t)r->wlen,
			   2 * TAIL_HDR + (int64_t)(r->seq & 1) * TAIL_DATA) !=
	    (ssize_t)r->wlen) {
		/* a header is written after its data: cannot happen */
		why = "the journal's copy of the write is short";
	} else {
		size = (int64_t)st.st_size;
		if (!tail_judge(fd, r, jdata, size, &end, &why)) {
			;
		} else if (end == r->start) {
			; /* nothing of ours is there */
		} else if (end == size) {
			if (ftruncate(fd, (off_t)r->start) != 0) {
				rc = mbi_err_sys(e, MB_FAILED, errno, mailbox,
						 "cannot cut torn tail of '%s'",
						 mailbox);
				goto out;
			}
			if (fsync(fd) != 0) {
				rc = mbi_err_sys(e, MB_FAILED, errno, mailbox,
						 "cannot sync '%s'", mailbox);
				goto out;
			}
			o->cut += end - r->start;
		} else {
			/* mark the move, so that a recovery interrupted after
			 * it finished does not take the result for damage */
			struct tail_rec m = *r;

			m.seq = r->seq + 1;
			m.moved = r->start + size - end;
			if (tail_store(jfd, jpath, &m, jdata, NULL) == MB_OK)
				(void)fsync(jfd);
			rc = tail_move(mailbox, fd, r->start, end, size, e);
			if (rc != MB_OK)
				goto out; /* journal stays for the next one */
			o->cut += end - r->start;
			o->kept += size - end;
		}
	}
	if (why != NULL && r->moved >= 0 && (int64_t)st.st_size == r->moved)
		why = NULL; /* an interrupted recovery had finished its move */
	if (why != NULL) {
		o->refused_at = r->start;
		snprintf(o->why, sizeof(o->why), "%s", why);
	}
	close(jfd);
	jfd = -1;
	if (unlink(jpath) != 0 && errno != ENOENT) {
		rc = mbi_err_sys(e, MB_FAILED, errno, jpath,
				 "cannot remove tail journal '%s'", jpath);
		goto out;
	}
	rc = mbi_fsync_dir(jpath, e);
out:
	if (jfd >= 0)
		close(jfd);
	free(jdata);
	return rc;
}

int
mbi_tail_recover(const char *mailbox, int fd, struct mbi_tail_outcome *o,
		 struct mb_err *e)
{
	char local[PATH_MAX], tmpj[PATH_MAX];
	struct mbi_tail_outcome dummy;
	struct stat st;
	int r;

	if (o == NULL)
		o = &dummy;
	memset(o, 0, sizeof(*o));
	o->refused_at = -1;
	/* a move an earlier recovery left half done comes first */
	r = mbi_rewrite_recover(mailbox, fd, &o->redone, e);
	if (r != MB_OK)
		return r;
	if (fstat(fd, &st) != 0)
		return mbi_err_sys(e, MB_FAILED, errno, mailbox,
				   "cannot stat '%s'", mailbox);
	r = tail_paths(mailbox, &st, local, tmpj, sizeof(local), NULL, e);
	if (r != MB_OK)
		return r;
	r = tail_recover_one(local, mailbox, fd, o, e);
	if (r == MB_OK)
		r = tail_recover_one(tmpj, mailbox, fd, o, e);
	return r;
}

void
mbi_tail_diag(struct mb_box *b, const struct mbi_tail_outcome *o)
{
	if (o->redone)
		mbi_diag(b, MB_DIAG_INFO, "rewrite-recovered", -1, 0, 0,
			 "finished a rewrite that an interrupted process left "
			 "half done");
	if (o->cut > 0 && o->kept > 0)
		mbi_diag(b, MB_DIAG_INFO, "tail-recovered", -1, 0, 0,
			 "removed %lld bytes left by an interrupted append "
			 "and moved the %lld bytes appended after them down",
			 (long long)o->cut, (long long)o->kept);
	else if (o->cut > 0)
		mbi_diag(b, MB_DIAG_INFO, "tail-recovered", -1, 0, 0,
			 "removed %lld bytes left by an interrupted append",
			 (long long)o->cut);
	if (o->refused_at >= 0)
		mbi_diag(b, MB_DIAG_WARN, "tail-unverified", o->refused_at, 0,
			 0,
			 "an interrupted append began here, but %s: nothing "
			 "removed (see mailbag repair)",
			 o->why);
}

/* ------------------------------------------------------------------ */
/* Leftovers of killed writers                                          */

/* Is pid a process of this host that no longer runs? */
static bool
pid_dead(const char *s)
{
	char *end;
	long pid = strtol(s, &end, 10);

	if (end == s || pid <= 0 || (*end != '.' && *end != '\0'))
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/*
 * Remove what killed writers of the mailbox at path left in its
 * directory: temporary files of atomic creates (".BASE.mbtmp.PID.N",
 * whole directories too), of tail journals ("..BASE.mbtail.mbtmp.PID.N")
 * and of rewrites (".BASE.mbnew.PID"), and dot-lock hitching posts of
 * this host ("BASE.lock.TIME.PID.HOST").  Only names whose process is
 * gone are touched; the caller holds the mailbox's write locks, so no
 * live writer of ours is using them.  Failures are ignored: this only
 * tidies up.
 */
void
mbi_cleanup_stale(const char *path, const char *localhost)
{
	char dir[PATH_MAX], base[PATH_MAX], full[PATH_MAX * 2];
	char p1[PATH_MAX + 16], p2[PATH_MAX + 16], p3[PATH_MAX + 16],
		p4[PATH_MAX + 16];
	struct dirent *d;
	DIR *dp;

	if (split_path(path, dir, sizeof(dir), base, sizeof(base), NULL) !=
	    MB_OK)
		return;
	snprintf(p1, sizeof(p1), ".%s.mbtmp.", base);
	snprintf(p2, sizeof(p2), "..%s.mbtail.mbtmp.", base);
	snprintf(p3, sizeof(p3), ".%s.mbnew.", base);
	snprintf(p4, sizeof(p4), "%s.lock.", base);
	{
		/* a rewrite's journal that never got renamed into place */
		struct stat st;

		if (stat(path, &st) == 0) {
			snprintf(full, sizeof(full), "%s/.mbredo.%llx.%llx.new",
				 dir[0] ? dir : ".",
				 (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino);
			unlink(full);
		}
	}
	dp = opendir(dir[0] ? dir : ".");
	if (dp == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		const char *n = d->d_name, *pid = NULL;
		bool tree = false;

		if (strncmp(n, p1, strlen(p1)) == 0) {
			pid = n + strlen(p1);
			tree = true;
		} else if (strncmp(n, p2, strlen(p2)) == 0) {
			pid = n + strlen(p2);
		} else if (strncmp(n, p3, strlen(p3)) == 0) {
			pid = n + strlen(p3);
		} else if (strncmp(n, p4, strlen(p4)) == 0) {
			/* TIME.PID.HOST: ours only, and only when dead */
			const char *t = n + strlen(p4), *dot = strchr(t, '.');
			const char *host = dot ? strchr(dot + 1, '.') : NULL;

			if (host == NULL || strcmp(host + 1, localhost) != 0)
				continue;
			pid = dot + 1;
		}
		if (pid == NULL || !pid_dead(pid))
			continue;
		snprintf(full, sizeof(full), "%s/%s", dir[0] ? dir : ".", n);
		if (tree) {
			struct stat st;

			/* a directory mailbox being built: left alone */
			if (lstat(full, &st) != 0 || S_ISDIR(st.st_mode))
				continue;
		}
		unlink(full);
	}
	closedir(dp);
}

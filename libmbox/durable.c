/*
 * durable.c - writes that survive a crash: directory fsync, temporary
 * names, publishing without replacing, and the tail journal that lets a
 * writer undo a torn append to a single-file mailbox.
 */
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

#define TAIL_MAGIC "mailbag-tail 1"
#define TAIL_MAX   128 /* longest record we accept */
#define TMP_TRIES  100

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
	char local[PATH_MAX], tmpj[PATH_MAX], tmp[PATH_MAX], rec[TAIL_MAX];
	struct stat st;
	bool use_local;
	int jfd, n, r, err;

	t->active = false;
	t->path[0] = '\0';
	if (fstat(fd, &st) != 0)
		return mbi_err_sys(e, MB_FAILED, errno, mailbox,
				   "cannot stat '%s'", mailbox);
	r = tail_paths(mailbox, &st, local, tmpj, sizeof(local), &use_local, e);
	if (r != MB_OK)
		return r;
	snprintf(t->path, sizeof(t->path), "%s", use_local ? local : tmpj);
	n = snprintf(rec, sizeof(rec), TAIL_MAGIC " %llu %llu %lld\n",
		     (unsigned long long)st.st_dev,
		     (unsigned long long)st.st_ino, (long long)st.st_size);

	r = mbi_tmp_name(t->path, tmp, sizeof(tmp), e);
	if (r != MB_OK)
		return r;
	jfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		   0644);
	if (jfd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, tmp,
				   "cannot create tail journal '%s'", tmp);
	/* Readable by every writer, writable by nobody else. */
	(void)fchmod(jfd, 0644);
	r = mbi_write_all(jfd, rec, (size_t)n, tmp, e);
	if (r == MB_OK && fsync(jfd) != 0)
		r = mbi_err_sys(e, MB_FAILED, errno, tmp,
				"cannot sync tail journal '%s'", tmp);
	close(jfd);
	/* rename() replaces a symlink at the name, never follows it. */
	if (r == MB_OK && rename(tmp, t->path) != 0) {
		err = errno;
		r = mbi_err_sys(e, MB_FAILED, err, t->path,
				"cannot install tail journal '%s'", t->path);
	}
	if (r != MB_OK) {
		unlink(tmp);
		return r;
	}
	r = mbi_fsync_dir(t->path, e);
	if (r != MB_OK) {
		unlink(t->path);
		return r;
	}
	t->active = true;
	return MB_OK;
}

int
mbi_tail_end(struct mbi_tail *t, struct mb_err *e)
{
	if (!t->active)
		return MB_OK;
	t->active = false;
	if (unlink(t->path) != 0 && errno != ENOENT)
		return mbi_err_sys(e, MB_FAILED, errno, t->path,
				   "cannot remove tail journal '%s'", t->path);
	return mbi_fsync_dir(t->path, e);
}

/* Parse a record; false when it is not one. */
static bool
tail_parse(const char *s, unsigned long long *dev, unsigned long long *ino,
	   long long *size)
{
	const char *p;
	char *end;
	size_t ml = sizeof(TAIL_MAGIC) - 1;

	if (strncmp(s, TAIL_MAGIC " ", ml + 1) != 0)
		return false;
	p = s + ml + 1;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	*dev = strtoull(p, &end, 10);
	if (errno != 0 || *end != ' ')
		return false;
	p = end + 1;
	if (*p < '0' || *p > '9')
		return false;
	*ino = strtoull(p, &end, 10);
	if (errno != 0 || *end != ' ')
		return false;
	p = end + 1;
	if (*p < '0' || *p > '9')
		return false;
	*size = strtoll(p, &end, 10);
	if (errno != 0 || end[0] != '\n' || end[1] != '\0')
		return false;
	return true;
}

static void
tail_remove(const char *jpath)
{
	if (unlink(jpath) == 0)
		(void)mbi_fsync_dir(jpath, NULL);
}

/*
 * Act on the journal at jpath, if any.  A record is trusted only when it
 * is a plain file owned by us, by root or by the mailbox's owner, and
 * writable by its owner alone: anyone else could otherwise make us cut a
 * mailbox short.
 */
static int
tail_recover_one(const char *jpath, const char *mailbox, int fd, int64_t *cut,
		 struct mb_err *e)
{
	char rec[TAIL_MAX + 1];
	struct stat lst, jst, st;
	unsigned long long dev, ino;
	long long size;
	ssize_t got;
	int jfd;

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
	jfd = open(jpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
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
	got = mbi_pread_full(jfd, rec, TAIL_MAX, 0);
	close(jfd);
	if (got < 0)
		return mbi_err_sys(e, MB_FAILED, errno, jpath,
				   "cannot read tail journal '%s'", jpath);
	rec[got] = '\0';
	if ((size_t)got != strlen(rec) || !tail_parse(rec, &dev, &ino, &size) ||
	    size < 0 || dev != (unsigned long long)st.st_dev ||
	    ino != (unsigned long long)st.st_ino) {
		/* Damaged, or left for a file that is gone: not ours. */
		tail_remove(jpath);
		return MB_OK;
	}
	if ((long long)st.st_size > size) {
		if (ftruncate(fd, (off_t)size) != 0)
			return mbi_err_sys(e, MB_FAILED, errno, mailbox,
					   "cannot cut torn tail of '%s'",
					   mailbox);
		if (fsync(fd) != 0)
			return mbi_err_sys(e, MB_FAILED, errno, mailbox,
					   "cannot sync '%s'", mailbox);
		*cut += (int64_t)st.st_size - size;
	}
	if (unlink(jpath) != 0 && errno != ENOENT)
		return mbi_err_sys(e, MB_FAILED, errno, jpath,
				   "cannot remove tail journal '%s'", jpath);
	return mbi_fsync_dir(jpath, e);
}

int
mbi_tail_recover(const char *mailbox, int fd, int64_t *cut_out,
		 struct mb_err *e)
{
	char local[PATH_MAX], tmpj[PATH_MAX];
	struct stat st;
	int64_t cut = 0;
	int r;

	if (cut_out != NULL)
		*cut_out = 0;
	if (fstat(fd, &st) != 0)
		return mbi_err_sys(e, MB_FAILED, errno, mailbox,
				   "cannot stat '%s'", mailbox);
	r = tail_paths(mailbox, &st, local, tmpj, sizeof(local), NULL, e);
	if (r != MB_OK)
		return r;
	r = tail_recover_one(local, mailbox, fd, &cut, e);
	if (r == MB_OK)
		r = tail_recover_one(tmpj, mailbox, fd, &cut, e);
	if (cut_out != NULL)
		*cut_out = cut;
	return r;
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

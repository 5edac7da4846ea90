/*
 * salvage.c - what `mailbag repair` writes besides the mailbox: the
 * verified backup of the original and the salvage files for bytes that
 * cannot be parsed as a message.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "repair-mbox.h"

void
rp_report(rp_report_fn fn, void *arg, int action, int64_t off, int64_t len,
	  uint32_t msgs, const char *file, const char *text, bool damage)
{
	struct rp_region r;

	if (fn == NULL)
		return;
	memset(&r, 0, sizeof(r));
	r.action = action;
	r.offset = off;
	r.length = len;
	r.messages = msgs;
	r.file = file;
	r.text = text;
	r.damage = damage;
	fn(arg, &r);
}

int
rp_recover(const char *path, int fd, rp_report_fn fn, void *arg,
	   struct mb_err *e)
{
	struct mbi_tail_outcome tail;
	bool redone = false;
	char t[200];
	int rc;

	rc = mbi_rewrite_recover(path, fd, &redone, e);
	if (rc != MB_OK)
		return rc;
	if (redone)
		rp_report(fn, arg, RP_RECOVER_NOTE, -1, 0, 0, NULL,
			  "finished a rewrite that an interrupted process "
			  "left half done",
			  false);
	rc = mbi_tail_recover(path, fd, &tail, e);
	if (rc != MB_OK)
		return rc;
	if (tail.cut > 0) {
		snprintf(t, sizeof(t),
			 "removed %lld bytes left by an interrupted append%s",
			 (long long)tail.cut,
			 tail.kept > 0 ? " (the bytes appended after them "
					 "moved down)" :
					 "");
		rp_report(fn, arg, RP_RECOVER_NOTE, -1, tail.cut, 0, NULL, t,
			  false);
	}
	if (tail.refused_at >= 0) {
		snprintf(t, sizeof(t),
			 "an interrupted append began here, but %s: left for "
			 "the repair",
			 tail.why);
		rp_report(fn, arg, RP_RECOVER_NOTE, tail.refused_at, 0, 0, NULL,
			  t, false);
	}
	return MB_OK;
}

int
rp_shrank(const char *path, struct mb_err *e)
{
	return mbi_err(e, MB_FAILED, MB_ECHANGED, path, -1,
		       "mailbox shrank while it was being repaired (a program "
		       "that ignores mail locks rewrote it?): nothing changed");
}

#define CHUNK (1u << 20)
/* copy and compare windows; a multiple of the page size, small enough
 * that two mapped ones keep the resident size low */
#define WINDOW ((size_t)4 << 20)

int
rp_backup(const char *path, int fd, int64_t len, const struct stat *st,
	  struct mbi_dotlock *dl, char *out, size_t size, struct mb_err *e)
{
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	char *a = NULL;
	int bfd = -1, n, rc = MB_FAILED;
	int64_t off;
	bool cfr_ok = true;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	for (n = 1; n < 1000; n++) {
		int w = n == 1 ? snprintf(out, size, "%s.mailbag-backup.%s",
					  path, stamp) :
				 snprintf(out, size, "%s.mailbag-backup.%s-%d",
					  path, stamp, n);

		if (w < 0 || (size_t)w >= size)
			return mbi_err(e, MB_FAILED, MB_EINVAL, path, -1,
				       "name too long for the backup");
		bfd = open(out,
			   O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			   0600);
		if (bfd >= 0 || errno != EEXIST)
			break;
	}
	if (bfd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, out,
				   "cannot create the backup");
	(void)fchmod(bfd, st->st_mode & 0666);
	a = malloc(CHUNK);
	if (a == NULL) {
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1, "out of memory");
		goto fail;
	}
	/* the copy: in the kernel where it can (no trip through our
	 * buffers), else by read and write */
	for (off = 0; off < len;) {
		size_t k = len - off < (int64_t)WINDOW ? (size_t)(len - off) :
							 WINDOW;
		loff_t in = off, o = off;
		ssize_t got =
			cfr_ok ? copy_file_range(fd, &in, bfd, &o, k, 0) : -1;

		if (got < 0 && cfr_ok && errno != EXDEV && errno != ENOSYS &&
		    errno != EINVAL && errno != EOPNOTSUPP) {
			rc = mbi_err_sys(e, MB_FAILED, errno, out,
					 "cannot write the backup");
			goto fail;
		}
		if (got <= 0) {
			/* unsupported here, or the source ended early
			 * (caught by the comparison below) */
			cfr_ok = false;
			k = k < CHUNK ? k : CHUNK;
			if (mbi_pread_full(fd, a, k, off) != (ssize_t)k) {
				rc = mbi_err_sys(e, MB_FAILED,
						 errno ? errno : EIO, path,
						 "cannot read the mailbox");
				goto fail;
			}
			if (mbi_pwrite_all(bfd, a, k, off, out, e) != MB_OK)
				goto fail;
			got = (ssize_t)k;
		}
		off += (int64_t)got;
		if (dl != NULL)
			mbi_dotlock_refresh(dl);
	}
	if (fsync(bfd) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, out,
				 "cannot write the backup to disk");
		goto fail;
	}
	/* read both back and compare, a mapped window at a time (no
	 * copies, and the mappings never grow with the mailbox) */
	for (off = 0; off < len;) {
		size_t k = len - off < (int64_t)WINDOW ? (size_t)(len - off) :
							 WINDOW;
		void *ma = mmap(NULL, k, PROT_READ, MAP_SHARED, fd, off);
		void *mb = mmap(NULL, k, PROT_READ, MAP_SHARED, bfd, off);
		bool same = ma != MAP_FAILED && mb != MAP_FAILED &&
			    memcmp(ma, mb, k) == 0;

		if (ma != MAP_FAILED)
			munmap(ma, k);
		if (mb != MAP_FAILED)
			munmap(mb, k);
		if (!same) {
			rc = mbi_err(e, MB_FAILED, MB_EIO, out, off,
				     "the backup does not read back equal to "
				     "the mailbox");
			goto fail;
		}
		off += (int64_t)k;
		if (dl != NULL)
			mbi_dotlock_refresh(dl);
	}
	{
		struct stat bst;

		if (fstat(bfd, &bst) < 0 || bst.st_size != len) {
			rc = mbi_err(e, MB_FAILED, MB_EIO, out, -1,
				     "the backup has the wrong size");
			goto fail;
		}
	}
	close(bfd);
	free(a);
	mbi_fsync_dir(out, NULL);
	return MB_OK;
fail:
	close(bfd);
	unlink(out);
	out[0] = '\0';
	free(a);
	return rc;
}

void
rp_salvage_init(struct rp_salvage *sv, const char *mailbox, const char *dir)
{
	DIR *d;
	struct dirent *de;
	unsigned max = 0;

	memset(sv, 0, sizeof(*sv));
	if (dir != NULL && *dir)
		snprintf(sv->dir, sizeof(sv->dir), "%s", dir);
	else
		snprintf(sv->dir, sizeof(sv->dir), "%s.salvage", mailbox);
	/* never overwrite the salvage of an earlier repair */
	if ((d = opendir(sv->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char *end;
			unsigned long v;

			if (strncmp(de->d_name, "badmsg.", 7) != 0)
				continue;
			v = strtoul(de->d_name + 7, &end, 10);
			if (*end == '\0' && v > max && v < 1000000000UL)
				max = (unsigned)v;
		}
		closedir(d);
	}
	sv->next = max + 1;
}

void
rp_salvage_name(const struct rp_salvage *sv, unsigned k, char *out, size_t size)
{
	snprintf(out, size, "%s/badmsg.%u", sv->dir, sv->next + k);
}

int
rp_salvage_write(struct rp_salvage *sv, unsigned k, const void *p, size_t n,
		 struct mb_err *e)
{
	char name[PATH_MAX + 32];
	int fd;

	if (!sv->dir_made) {
		if (mkdir(sv->dir, 0700) < 0 && errno != EEXIST)
			return mbi_err_sys(e, MB_FAILED, errno, sv->dir,
					   "cannot create the salvage "
					   "directory");
		sv->dir_made = true;
	}
	rp_salvage_name(sv, k, name, sizeof(name));
	fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, name,
				   "cannot create salvage file");
	if (mbi_write_all(fd, p, n, name, e) != MB_OK) {
		close(fd);
		unlink(name);
		return MB_FAILED;
	}
	if (fsync(fd) < 0) {
		int err = errno;

		close(fd);
		unlink(name);
		return mbi_err_sys(e, MB_FAILED, err, name,
				   "cannot write salvage file to disk");
	}
	close(fd);
	mbi_fsync_dir(name, NULL);
	return MB_OK;
}

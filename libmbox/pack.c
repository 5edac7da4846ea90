/*
 * pack.c - writing a gzip-compressed mailbox or an archive of a directory
 * mailbox (maildir, eml ...).  The output is written under a temporary
 * name beside its destination, fsynced and renamed without replacing, so
 * a failed or killed run leaves no destination.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "lazy.h"
#include "mb-int.h"

#define PBUF (64 * 1024)

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcasecmp(s + n - m, suffix) == 0;
}

const char *
mb_pack_kind(const char *dst)
{
	if (dst == NULL)
		return NULL;
	if (ends_with(dst, ".tar.gz") || ends_with(dst, ".tgz"))
		return "tar.gz";
	if (ends_with(dst, ".tar.xz") || ends_with(dst, ".txz"))
		return "tar.xz";
	if (ends_with(dst, ".tar"))
		return "tar";
	if (ends_with(dst, ".zip"))
		return "zip";
	if (ends_with(dst, ".gz"))
		return "gzip";
	return NULL;
}

/* gzip the regular file src into fd (zlib, level 6, one member). */
static int
gzip_into(const char *src, int out, const char *tmp, struct mb_err *e)
{
	unsigned char *ib = malloc(PBUF), *ob = malloc(PBUF);
	struct mbi_wbuf wb;
	struct stat st;
	z_stream z;
	ssize_t n;
	int in, zr, flush, rc = MB_FAILED;
	bool inited = false;

	memset(&z, 0, sizeof(z));
	in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (in >= 0)
			close(in);
		free(ib);
		free(ob);
		if (in >= 0 || errno == ELOOP)
			return mbi_err(e, MB_FAILED, MB_ENOTSUP, src, -1,
				       "only a single-file mailbox can be "
				       "gzip-compressed; pack a directory "
				       "mailbox into .tar.gz or .zip");
		return mbi_err_sys(e, MB_FAILED, errno, src, "cannot open");
	}
	if (ib == NULL || ob == NULL ||
	    mbi_wbuf_init(&wb, out, tmp, 0, e) != MB_OK) {
		close(in);
		free(ib);
		free(ob);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, src, -1,
			       "out of memory");
	}
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK) {
		mbi_err(e, MB_FATAL, MB_ENOMEM, src, -1, "out of memory");
		goto out;
	}
	inited = true;
	do {
		n = read(in, ib, PBUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mbi_err_sys(e, MB_FAILED, errno, src, "cannot read");
			goto out;
		}
		flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
		z.next_in = ib;
		z.avail_in = (uInt)n;
		do {
			z.next_out = ob;
			z.avail_out = PBUF;
			zr = deflate(&z, flush);
			if (zr == Z_STREAM_ERROR) {
				mbi_err(e, MB_FAILED, MB_EINTERNAL, src, -1,
					"deflate failed");
				goto out;
			}
			if (PBUF - z.avail_out > 0 &&
			    mbi_wbuf_put(&wb, ob, PBUF - z.avail_out, e) !=
				    MB_OK)
				goto out;
		} while (z.avail_out == 0);
	} while (flush != Z_FINISH);
	rc = mbi_wbuf_flush(&wb, e);
out:
	if (inited)
		deflateEnd(&z);
	mbi_wbuf_free(&wb);
	close(in);
	free(ib);
	free(ob);
	return rc;
}

struct packer {
	struct archive *a;
	const char *dst;
	char *buf;
	struct mb_err *e;
};

static int
arc_fail(struct packer *pk, const char *what)
{
	return mbi_err(pk->e, MB_FAILED, MB_EIO, pk->dst, -1,
		       "cannot write the archive (%s): %s", what,
		       archive_error_string(pk->a) ?
			       archive_error_string(pk->a) :
			       "unknown error");
}

static int
only_real(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/* Add path (on disk) as name (in the archive), and its tree. */
static int
add_tree(struct packer *pk, const char *path, const char *name, int depth)
{
	struct archive_entry *ae;
	struct dirent **list = NULL;
	struct stat st;
	char sub[PATH_MAX], subname[PATH_MAX];
	int i, n, fd = -1, rc = MB_OK;
	ssize_t got;

	if (depth > 32)
		return mbi_err(pk->e, MB_FAILED, MB_ELIMIT, path, -1,
			       "directories nested too deep");
	if (lstat(path, &st) < 0)
		return mbi_err_sys(pk->e, MB_FAILED, errno, path,
				   "cannot read '%s'", path);
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return MB_OK; /* sockets, links: no part of a mailbox */
	if (S_ISREG(st.st_mode)) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return mbi_err_sys(pk->e, MB_FAILED, errno, path,
					   "cannot read '%s'", path);
	}
	ae = archive_entry_new();
	if (ae == NULL) {
		if (fd >= 0)
			close(fd);
		return mbi_err(pk->e, MB_FATAL, MB_ENOMEM, path, -1,
			       "out of memory");
	}
	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae,
				   S_ISDIR(st.st_mode) ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(ae, S_ISDIR(st.st_mode) ? 0700 : 0600);
	archive_entry_set_size(ae, S_ISREG(st.st_mode) ? st.st_size : 0);
	archive_entry_set_mtime(ae, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (archive_write_header(pk->a, ae) != ARCHIVE_OK) {
		rc = arc_fail(pk, name);
		goto out;
	}
	if (fd >= 0) {
		int64_t left = st.st_size;

		while (left > 0) {
			got = read(fd, pk->buf, PBUF);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				rc = got < 0 ? mbi_err_sys(pk->e, MB_FAILED,
							   errno, path,
							   "cannot read") :
					       mbi_err(pk->e, MB_FAILED,
						       MB_ECHANGED, path, -1,
						       "file shrank while "
						       "packing");
				goto out;
			}
			if (got > left)
				got = (ssize_t)left;
			if (archive_write_data(pk->a, pk->buf, (size_t)got) !=
			    got) {
				rc = arc_fail(pk, name);
				goto out;
			}
			left -= got;
		}
		goto out;
	}
	n = scandir(path, &list, only_real, alphasort);
	if (n < 0) {
		rc = mbi_err_sys(pk->e, MB_FAILED, errno, path,
				 "cannot list '%s'", path);
		goto out;
	}
	for (i = 0; i < n; i++) {
		int a = snprintf(sub, sizeof(sub), "%s/%s", path,
				 list[i]->d_name);
		int b = snprintf(subname, sizeof(subname), "%s/%s", name,
				 list[i]->d_name);

		if (rc == MB_OK && (a < 0 || (size_t)a >= sizeof(sub) ||
				    b < 0 || (size_t)b >= sizeof(subname)))
			rc = mbi_err(pk->e, MB_FAILED, MB_ELIMIT, path, -1,
				     "path name too long");
		if (rc == MB_OK)
			rc = add_tree(pk, sub, subname, depth + 1);
		free(list[i]);
	}
	free(list);
out:
	archive_entry_free(ae);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int
archive_into(const char *src, const char *top, const char *kind, int out,
	     const char *dst, struct mb_err *e)
{
	struct packer pk;
	int rc;

	memset(&pk, 0, sizeof(pk));
	pk.dst = dst;
	pk.e = e;
	if (mbi_lazy_load(MBI_LAZY_ARCHIVE, e) != MB_OK)
		return MB_FAILED;
	pk.a = archive_write_new();
	pk.buf = malloc(PBUF);
	if (pk.a == NULL || pk.buf == NULL) {
		if (pk.a != NULL)
			archive_write_free(pk.a);
		free(pk.buf);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, dst, -1,
			       "out of memory");
	}
	if (strcmp(kind, "zip") == 0) {
		rc = archive_write_set_format_zip(pk.a);
	} else {
		rc = archive_write_set_format_pax_restricted(pk.a);
		if (rc == ARCHIVE_OK && strcmp(kind, "tar.gz") == 0)
			rc = archive_write_add_filter_gzip(pk.a);
		else if (rc == ARCHIVE_OK && strcmp(kind, "tar.xz") == 0)
			rc = archive_write_add_filter_xz(pk.a);
	}
	if (rc != ARCHIVE_OK ||
	    archive_write_open_fd(pk.a, out) != ARCHIVE_OK) {
		rc = arc_fail(&pk, kind);
		goto out;
	}
	rc = add_tree(&pk, src, top, 0);
	if (rc == MB_OK && archive_write_close(pk.a) != ARCHIVE_OK)
		rc = arc_fail(&pk, "close");
out:
	archive_write_free(pk.a);
	free(pk.buf);
	return rc;
}

int
mb_pack(struct mb_ctx *ctx, const char *src, const char *top, const char *dst,
	const char *kind, struct mb_err *e)
{
	char tmp[PATH_MAX];
	struct stat st;
	int fd, rc;

	mb_err_clear(e);
	if (kind == NULL ||
	    (strcmp(kind, "gzip") != 0 && strcmp(kind, "tar") != 0 &&
	     strcmp(kind, "tar.gz") != 0 && strcmp(kind, "tar.xz") != 0 &&
	     strcmp(kind, "zip") != 0))
		return mbi_err(e, MB_FAILED, MB_EINVAL, dst, -1,
			       "unknown packing '%s'", kind ? kind : "");
	if (lstat(dst, &st) == 0)
		return mbi_err(e, MB_FAILED, MB_EEXIST, dst, -1,
			       "'%s' already exists", dst);
	if (ctx != NULL)
		mbi_cleanup_stale(dst, ctx->localhost);
	if (mbi_tmp_name(dst, tmp, sizeof(tmp), e) != MB_OK)
		return MB_FAILED;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, dst,
				   "cannot create '%s'", tmp);
	if (strcmp(kind, "gzip") == 0)
		rc = gzip_into(src, fd, tmp, e);
	else
		rc = archive_into(src, top ? top : "mailbox", kind, fd, dst, e);
	if (rc == MB_OK && fsync(fd) < 0)
		rc = mbi_err_sys(e, MB_FAILED, errno, dst,
				 "cannot write '%s' to disk", tmp);
	if (close(fd) < 0 && rc == MB_OK)
		rc = mbi_err_sys(e, MB_FAILED, errno, dst, "cannot write '%s'",
				 tmp);
	if (rc == MB_OK)
		rc = mbi_publish(tmp, dst, e);
	if (rc != MB_OK)
		unlink(tmp);
	return rc;
}

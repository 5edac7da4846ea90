/*
 * compress.c - reading compressed mailboxes and archives.
 *
 * mb_open hands every regular file to mbi_unpack first.  A file that
 * starts with the magic bytes of gzip, bzip2, xz or zstd is decompressed,
 * streaming, into a private temporary directory (gzip with zlib, which
 * checks the CRC and length of every member; the others with libarchive's
 * raw read filters).  When the result, or the file itself, is a tar or
 * zip archive, its members are extracted there instead, refusing absolute
 * paths, "..", links, devices and more than a limit of entries or bytes.
 * The driver then opens the copy read-only and without locks; a single
 * file is unlinked as soon as the driver holds it open, a directory is
 * removed when the box is freed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "lazy.h"
#include "mb-int.h"

#define ZBUF (64 * 1024)
/* An archive may hold at most this many entries and bytes. */
#define MAX_ENTRIES 10000000
#define MAX_BYTES   ((int64_t)256 << 30)

/* "a/b" into out; false when it does not fit. */
static bool
pjoin(char *out, size_t size, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + 1 + lb + 1 > size)
		return false;
	memmove(out, a, la);
	out[la] = '/';
	memcpy(out + la + 1, b, lb + 1);
	return true;
}

void
mb_ctx_set_member(struct mb_ctx *ctx, const char *member)
{
	if (ctx == NULL)
		return;
	snprintf(ctx->member, sizeof(ctx->member), "%s", member ? member : "");
}

int
mb_tmpdir(char *out, size_t size, struct mb_err *e)
{
	const char *t = getenv("TMPDIR");
	int n;

	if (t == NULL || *t == '\0')
		t = "/tmp";
	n = snprintf(out, size, "%s/mailbag.XXXXXX", t);
	if (n < 0 || (size_t)n >= size)
		return mbi_err(e, MB_FAILED, MB_EINVAL, t, -1,
			       "temporary directory name too long");
	if (mkdtemp(out) == NULL) {
		mbi_err_sys(e, MB_FAILED, errno, t,
			    "cannot make a temporary directory in '%s'", t);
		if (e != NULL && e->code == MB_ENOENT)
			e->code = MB_EIO; /* not "no such mailbox" */
		return MB_FAILED;
	}
	return MB_OK;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

void
mb_rmtree(const char *path)
{
	struct stat st;

	if (path == NULL || *path == '\0' || lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		/* extracted files may have come without owner write bits */
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	} else {
		unlink(path);
	}
}

/* ------------------------------------------------------------------ */
/* Detection                                                            */

static const char *
magic_compression(const unsigned char *h, size_t n)
{
	if (n >= 3 && h[0] == 0x1f && h[1] == 0x8b && h[2] == 8)
		return "gzip";
	if (n >= 4 && memcmp(h, "BZh", 3) == 0 && h[3] >= '1' && h[3] <= '9')
		return "bzip2";
	if (n >= 6 && memcmp(h,
			     "\xfd"
			     "7zXZ\0",
			     6) == 0)
		return "xz";
	if (n >= 4 && memcmp(h, "\x28\xb5\x2f\xfd", 4) == 0)
		return "zstd";
	return NULL;
}

/* A tar header block: "ustar" magic or at least a valid checksum. */
static bool
is_tar(const unsigned char *h, size_t n)
{
	unsigned long sum = 0, want = 0;
	size_t i;

	if (n < 512)
		return false;
	for (i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	for (i = 148; i < 156 && (h[i] == ' ' || h[i] == '\0'); i++)
		;
	if (i == 156)
		return false;
	for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++)
		want = want * 8 + (unsigned long)(h[i] - '0');
	for (; i < 156; i++)
		if (h[i] != ' ' && h[i] != '\0')
			return false;
	return sum == want && h[0] != '\0';
}

static const char *
magic_archive(const unsigned char *h, size_t n)
{
	if (n >= 4 &&
	    (memcmp(h, "PK\3\4", 4) == 0 || memcmp(h, "PK\5\6", 4) == 0))
		return "zip";
	if (is_tar(h, n))
		return "tar";
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Decompression                                                        */

static int
gunzip_fd(int in, const char *path, int out, const char *opath, int64_t *size,
	  struct mb_err *e)
{
	unsigned char *ib = malloc(ZBUF), *ob = malloc(ZBUF);
	struct mbi_wbuf wb;
	z_stream z;
	int64_t pos = 0; /* file offset of ib[0] */
	ssize_t n = 0;
	bool ended = false, inited = false;
	int zr, rc = MB_FAILED;

	memset(&z, 0, sizeof(z));
	if (ib == NULL || ob == NULL ||
	    mbi_wbuf_init(&wb, out, opath, 0, e) != MB_OK) {
		free(ib);
		free(ob);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1,
			       "out of memory");
	}
	if (inflateInit2(&z, 15 + 16) != Z_OK) {
		mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1, "out of memory");
		goto out;
	}
	inited = true;
	for (;;) {
		if (z.avail_in == 0) {
			pos += n;
			n = read(in, ib, ZBUF);
			if (n < 0 && errno == EINTR) {
				n = 0;
				continue;
			}
			if (n < 0) {
				mbi_err_sys(e, MB_FAILED, errno, path,
					    "cannot read");
				goto out;
			}
			if (n == 0)
				break;
			z.next_in = ib;
			z.avail_in = (uInt)n;
		}
		if (ended) {
			/* another member, or zero padding (tapes) */
			if (ib[n - z.avail_in] == 0) {
				z.next_in++;
				z.avail_in--;
				continue;
			}
			if (ib[n - z.avail_in] != 0x1f) {
				mbi_err(e, MB_FAILED, MB_EFORMAT, path,
					pos + n - z.avail_in,
					"trailing garbage after the gzip data");
				goto out;
			}
			inflateReset(&z);
			ended = false;
		}
		z.next_out = ob;
		z.avail_out = ZBUF;
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
			mbi_err(e, MB_FAILED, MB_EFORMAT, path,
				pos + n - z.avail_in, "corrupt gzip data: %s",
				z.msg ? z.msg : "inflate failed");
			goto out;
		}
		if (ZBUF - z.avail_out > 0 &&
		    mbi_wbuf_put(&wb, ob, ZBUF - z.avail_out, e) != MB_OK)
			goto out;
		if (zr == Z_STREAM_END)
			ended = true;
	}
	if (!ended) {
		mbi_err(e, MB_FAILED, MB_EFORMAT, path, pos,
			"truncated gzip data: the file ends at byte %lld "
			"inside a compressed stream",
			(long long)pos);
		goto out;
	}
	if (mbi_wbuf_flush(&wb, e) != MB_OK)
		goto out;
	*size = wb.pos;
	rc = MB_OK;
out:
	if (inited)
		inflateEnd(&z);
	mbi_wbuf_free(&wb);
	free(ib);
	free(ob);
	return rc;
}

/* bzip2, xz, zstd: libarchive's read filters over the "raw" format. */
static int
unfilter_fd(int in, const char *path, const char *kind, int out,
	    const char *opath, int64_t *size, struct mb_err *e)
{
	struct archive *a;
	struct archive_entry *ae;
	struct mbi_wbuf wb;
	char *buf;
	la_ssize_t n;
	int rc = MB_FAILED;

	if (mbi_lazy_load(MBI_LAZY_ARCHIVE, e) != MB_OK)
		return MB_FAILED;
	a = archive_read_new();
	buf = malloc(ZBUF);
	if (a == NULL || buf == NULL ||
	    mbi_wbuf_init(&wb, out, opath, 0, e) != MB_OK) {
		if (a != NULL)
			archive_read_free(a);
		free(buf);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1,
			       "out of memory");
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_fd(a, in, ZBUF) != ARCHIVE_OK ||
	    archive_read_next_header(a, &ae) != ARCHIVE_OK) {
		mbi_err(e, MB_FAILED, MB_EFORMAT, path,
			archive_filter_bytes(a, -1), "corrupt %s data: %s",
			kind,
			archive_error_string(a) ? archive_error_string(a) :
						  "cannot decode");
		goto out;
	}
	/* a stream the filter does not take is handed over raw: that is
	 * no decompression at all */
	if (archive_filter_count(a) < 2 ||
	    archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE) {
		mbi_err(e, MB_FAILED, MB_EFORMAT, path, 0,
			"corrupt %s data: not recognised by the decoder", kind);
		goto out;
	}
	for (;;) {
		n = archive_read_data(a, buf, ZBUF);
		if (n == 0)
			break;
		if (n < 0) {
			const char *s = archive_error_string(a);

			mbi_err(e, MB_FAILED, MB_EFORMAT, path,
				archive_filter_bytes(a, -1), "%s %s data: %s",
				s && strstr(s, "runcat") ? "truncated" :
							   "corrupt",
				kind, s ? s : "cannot decode");
			goto out;
		}
		if (mbi_wbuf_put(&wb, buf, (size_t)n, e) != MB_OK)
			goto out;
	}
	if (mbi_wbuf_flush(&wb, e) != MB_OK)
		goto out;
	*size = wb.pos;
	rc = MB_OK;
out:
	archive_read_free(a);
	mbi_wbuf_free(&wb);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Archives                                                             */

/* A member name made safe, relative, without "." parts; false if evil. */
static bool
clean_member(const char *name, char *out, size_t size)
{
	const char *p = name, *q;
	size_t len = 0, n;

	if (name == NULL || *name == '/' || *name == '\0')
		return false;
	out[0] = '\0';
	while (*p != '\0') {
		q = strchr(p, '/');
		n = q ? (size_t)(q - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (memchr(p, '\\', n) != NULL || len + n + 2 > size)
				return false;
			if (len > 0)
				out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
			out[len] = '\0';
		}
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

/* mkdir -p of rel's parent directories under root (no links exist). */
static int
make_parents(const char *root, const char *rel, const char *apath,
	     struct mb_err *e)
{
	char p[PATH_MAX * 2];
	size_t rl = strlen(root);
	char *s;

	if (!pjoin(p, sizeof(p), root, rel))
		return mbi_err(e, MB_FAILED, MB_ELIMIT, apath, -1,
			       "member name too long");
	for (s = p + rl + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			*s = '/';
			return mbi_err_sys(e, MB_FAILED, errno, apath,
					   "cannot extract '%s'", rel);
		}
		*s = '/';
	}
	return MB_OK;
}

static int
extract_file(struct archive *a, const char *root, const char *rel,
	     const char *apath, int64_t *total, struct mb_err *e)
{
	char p[PATH_MAX * 2], *buf;
	struct mbi_wbuf wb;
	la_ssize_t n;
	int fd, rc;

	if (make_parents(root, rel, apath, e) != MB_OK)
		return MB_FAILED;
	if (!pjoin(p, sizeof(p), root, rel))
		return mbi_err(e, MB_FAILED, MB_ELIMIT, apath, -1,
			       "member name too long");
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return mbi_err(e, MB_FAILED, MB_EFORMAT, apath,
				       archive_filter_bytes(a, -1),
				       "member '%s' appears twice", rel);
		return mbi_err_sys(e, MB_FAILED, errno, apath,
				   "cannot extract '%s'", rel);
	}
	buf = malloc(ZBUF);
	if (buf == NULL || mbi_wbuf_init(&wb, fd, p, 0, e) != MB_OK) {
		free(buf);
		close(fd);
		return mbi_err(e, MB_FATAL, MB_ENOMEM, apath, -1,
			       "out of memory");
	}
	rc = MB_OK;
	while ((n = archive_read_data(a, buf, ZBUF)) > 0) {
		*total += n;
		if (*total > MAX_BYTES) {
			rc = mbi_err(e, MB_FAILED, MB_ELIMIT, apath, -1,
				     "the archive unpacks to more than %lld "
				     "bytes",
				     (long long)MAX_BYTES);
			break;
		}
		if ((rc = mbi_wbuf_put(&wb, buf, (size_t)n, e)) != MB_OK)
			break;
	}
	if (rc == MB_OK && n < 0)
		rc = mbi_err(e, MB_FAILED, MB_EFORMAT, apath,
			     archive_filter_bytes(a, -1),
			     "damaged archive member '%s': %s", rel,
			     archive_error_string(a) ? archive_error_string(a) :
						       "cannot read");
	if (rc == MB_OK)
		rc = mbi_wbuf_flush(&wb, e);
	mbi_wbuf_free(&wb);
	free(buf);
	close(fd);
	return rc;
}

/* Set the times of the extracted entries (maildir and eml keep dates). */
static void
set_mtime(const char *root, const char *rel, struct archive_entry *ae)
{
	struct timespec ts[2];
	char p[PATH_MAX * 2];

	if (!archive_entry_mtime_is_set(ae))
		return;
	if (!pjoin(p, sizeof(p), root, rel))
		return;
	ts[0].tv_sec = ts[1].tv_sec = archive_entry_mtime(ae);
	ts[0].tv_nsec = ts[1].tv_nsec = archive_entry_mtime_nsec(ae);
	utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
}

static int
extract(int fd, const char *apath, const char *root, struct mb_err *e)
{
	struct archive *a;
	struct archive_entry *ae;
	char rel[PATH_MAX];
	int64_t total = 0;
	unsigned long entries = 0;
	int r, rc = MB_OK;

	if (mbi_lazy_load(MBI_LAZY_ARCHIVE, e) != MB_OK)
		return MB_FAILED;
	a = archive_read_new();
	if (a == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, apath, -1,
			       "out of memory");
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_zip(a);
	if (archive_read_open_fd(a, fd, ZBUF) != ARCHIVE_OK) {
		rc = mbi_err(e, MB_FAILED, MB_EFORMAT, apath, 0,
			     "not a readable archive: %s",
			     archive_error_string(a));
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			rc = mbi_err(e, MB_FAILED, MB_EFORMAT, apath,
				     archive_filter_bytes(a, -1),
				     "damaged archive: %s",
				     archive_error_string(a) ?
					     archive_error_string(a) :
					     "bad header");
			goto out;
		}
		if (++entries > MAX_ENTRIES) {
			rc = mbi_err(e, MB_FAILED, MB_ELIMIT, apath, -1,
				     "more than %d entries in the archive",
				     MAX_ENTRIES);
			goto out;
		}
		if (!clean_member(archive_entry_pathname(ae), rel,
				  sizeof(rel))) {
			rc = mbi_err(e, MB_FAILED, MB_EFORMAT, apath,
				     archive_filter_bytes(a, -1),
				     "unsafe member name '%s' (absolute or "
				     "with ..): refused",
				     archive_entry_pathname(ae) ?
					     archive_entry_pathname(ae) :
					     "");
			goto out;
		}
		if (archive_entry_hardlink(ae) != NULL ||
		    archive_entry_symlink(ae) != NULL) {
			rc = mbi_err(e, MB_FAILED, MB_EFORMAT, apath,
				     archive_filter_bytes(a, -1),
				     "member '%s' is a link: refused", rel);
			goto out;
		}
		if (rel[0] == '\0')
			continue; /* "./" */
		switch (archive_entry_filetype(ae)) {
		case AE_IFDIR:
			if (make_parents(root, rel, apath, e) != MB_OK) {
				rc = MB_FAILED;
				goto out;
			}
			{
				char p[PATH_MAX * 2];

				if (!pjoin(p, sizeof(p), root, rel) ||
				    (mkdir(p, 0700) < 0 && errno != EEXIST)) {
					rc = mbi_err_sys(
						e, MB_FAILED, errno, apath,
						"cannot extract '%s'", rel);
					goto out;
				}
			}
			break;
		case AE_IFREG:
			rc = extract_file(a, root, rel, apath, &total, e);
			if (rc != MB_OK)
				goto out;
			set_mtime(root, rel, ae);
			break;
		default:
			rc = mbi_err(e, MB_FAILED, MB_EFORMAT, apath,
				     archive_filter_bytes(a, -1),
				     "member '%s' is not a file or directory: "
				     "refused",
				     rel);
			goto out;
		}
	}
out:
	archive_read_free(a);
	return rc;
}

/* Entries of dir other than "." and ".."; *one gets the last name. */
static int
count_entries(const char *dir, char *one, size_t size, bool *is_dir)
{
	struct dirent *d;
	DIR *dp = opendir(dir);
	int n = 0;

	if (dp == NULL)
		return -1;
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		n++;
		snprintf(one, size, "%s", d->d_name);
		*is_dir = d->d_type == DT_DIR;
	}
	closedir(dp);
	return n;
}

/* Which directory of the extracted tree is the mailbox. */
static int
find_mailbox(struct mb_ctx *ctx, struct mbi_unpack *up, const char *root,
	     const char *apath, struct mb_err *e)
{
	char one[256], m[PATH_MAX];
	struct stat st;
	bool dir = false;
	int n;

	if (ctx->member[0] != '\0') {
		if (!clean_member(ctx->member, m, sizeof(m)))
			return mbi_err(e, MB_FAILED, MB_EINVAL, apath, -1,
				       "bad member name '%s'", ctx->member);
		if (!pjoin(up->path, sizeof(up->path), root, m) ||
		    lstat(up->path, &st) < 0)
			return mbi_err(e, MB_FAILED, MB_ENOENT, apath, -1,
				       "the archive holds no '%s'", m);
		return MB_OK;
	}
	if (!pjoin(up->path, sizeof(up->path), root, "."))
		return mbi_err(e, MB_FAILED, MB_ELIMIT, apath, -1,
			       "temporary path too long");
	up->path[strlen(up->path) - 2] = '\0';
	/* the archive's single top directory, unless the top itself is
	 * the mailbox (maildir's cur/new/tmp, MH's numbers, *.eml) */
	n = count_entries(root, one, sizeof(one), &dir);
	if (n == 1 && dir && strcmp(one, "cur") != 0 && strcmp(one, "new") != 0)
		pjoin(up->path, sizeof(up->path), root, one);
	else if (n == 0)
		return mbi_err(e, MB_FAILED, MB_EFORMAT, apath, -1,
			       "the archive is empty");
	return MB_OK;
}

/* ------------------------------------------------------------------ */
/* The entry point                                                      */

void
mbi_unpack_free(struct mbi_unpack **upp)
{
	struct mbi_unpack *up = upp ? *upp : NULL;

	if (up == NULL)
		return;
	*upp = NULL;
	if (up->dir[0] != '\0')
		mb_rmtree(up->dir);
	free(up);
}

void
mbi_unpack_opened(struct mbi_unpack *up)
{
	if (up == NULL || !up->single)
		return;
	/* the driver holds its descriptor: nothing to leave behind */
	unlink(up->path);
	if (rmdir(up->dir) == 0)
		up->dir[0] = '\0';
}

bool
mbi_unpack_name(const struct mb_box *b, const char *path, char *out,
		size_t size)
{
	const struct mbi_unpack *up = b ? b->unpack : NULL;
	int r;
	size_t n;

	if (up == NULL || path == NULL || up->dir[0] == '\0')
		return false;
	n = strlen(up->dir);
	if (strncmp(path, up->dir, n) != 0)
		return false;
	if (up->single || up->archive[0] == '\0') {
		r = snprintf(out, size, "%s", b->final_path);
	} else {
		const char *rest = path + n;

		if (strncmp(rest, "/root/", 6) == 0)
			rest += 6;
		else if (*rest == '/')
			rest++;
		if (strcmp(rest, "root") == 0)
			rest = "";
		r = snprintf(out, size, "%s%s%s", b->final_path,
			     *rest ? ":" : "", rest);
	}
	return r >= 0;
}

void
mbi_unpack_fix_err(const struct mb_box *b, struct mb_err *e)
{
	char fixed[sizeof(e->path)];

	if (e != NULL && mbi_unpack_name(b, e->path, fixed, sizeof(fixed)))
		snprintf(e->path, sizeof(e->path), "%s", fixed);
}

static int
open_tmp_file(const char *dir, const char *name, char *out, size_t size,
	      struct mb_err *e)
{
	int fd;

	if (!pjoin(out, size, dir, name))
		return mbi_err(e, MB_FAILED, MB_ELIMIT, dir, -1,
			       "temporary path too long");
	fd = open(out, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		mbi_err_sys(e, MB_FAILED, errno, out, "cannot create '%s'",
			    out);
	return fd;
}

int
mbi_unpack(struct mb_ctx *ctx, const char *path, unsigned mode,
	   struct mbi_unpack **out, struct mb_err *e)
{
	unsigned char head[512];
	const char *z, *arc;
	struct mbi_unpack *up = NULL;
	char root[PATH_MAX];
	ssize_t len;
	int fd, tfd = -1, rc = MB_FAILED;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot open mailbox");
	len = mbi_pread_full(fd, head, sizeof(head), 0);
	if (len < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, path,
				 "cannot read mailbox");
		goto out_fd;
	}
	z = magic_compression(head, (size_t)len);
	arc = z ? NULL : magic_archive(head, (size_t)len);
	if (z == NULL && arc == NULL) {
		close(fd);
		return MB_OK;
	}
	if (mode & MB_RDWR) {
		rc = mbi_err(e, MB_FAILED, MB_ENOTSUP, path, -1,
			     "%s: can only be read; unpack it to change it",
			     z ? "a compressed mailbox" : "an archive");
		goto out_fd;
	}
	up = calloc(1, sizeof(*up));
	if (up == NULL) {
		rc = mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1, "out of memory");
		goto out_fd;
	}
	if (mb_tmpdir(up->dir, sizeof(up->dir), e) != MB_OK)
		goto out_up;
	if (z != NULL) {
		snprintf(up->compression, sizeof(up->compression), "%s", z);
		tfd = open_tmp_file(up->dir, "data", up->path, sizeof(up->path),
				    e);
		if (tfd < 0)
			goto out_up;
		if (strcmp(z, "gzip") == 0)
			rc = gunzip_fd(fd, path, tfd, up->path, &up->size, e);
		else
			rc = unfilter_fd(fd, path, z, tfd, up->path, &up->size,
					 e);
		if (rc != MB_OK)
			goto out_up;
		len = mbi_pread_full(tfd, head, sizeof(head), 0);
		arc = len > 0 ? magic_archive(head, (size_t)len) : NULL;
		if (arc == NULL) {
			up->single = true;
			rc = MB_OK;
			goto done;
		}
		close(fd);
		fd = tfd;
		tfd = -1;
		lseek(fd, 0, SEEK_SET);
		/* the archive is read from the copy, then the copy goes */
		unlink(up->path);
	}
	snprintf(up->archive, sizeof(up->archive), "%s", arc);
	if (!pjoin(root, sizeof(root), up->dir, "root") ||
	    mkdir(root, 0700) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, root,
				 "cannot create '%s'", root);
		goto out_up;
	}
	rc = extract(fd, path, root, e);
	if (rc == MB_OK)
		rc = find_mailbox(ctx, up, root, path, e);
	if (rc != MB_OK)
		goto out_up;
done:
	if (tfd >= 0)
		close(tfd);
	close(fd);
	*out = up;
	return MB_OK;
out_up:
	if (tfd >= 0)
		close(tfd);
	mbi_unpack_free(&up);
out_fd:
	close(fd);
	return rc;
}

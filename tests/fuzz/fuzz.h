/*
 * fuzz.h - shared helpers of mailbag's fuzz targets (tests/fuzz/README.md).
 *
 * Every target defines LLVMFuzzerTestOneInput.  The targets that drive
 * a format driver write their input to a private scratch directory (one
 * per process, removed at exit) and run the real library through its
 * public API: open, scan, read every message.
 *
 * Multi-file inputs (mix, maildir, mh) are split into parts at the
 * three bytes FUZZ_SEP ("\0%\n").
 */
#ifndef FUZZ_H
#define FUZZ_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SEP "\0%\n"
#define FUZZ_SEP_LEN 3

static char fuzz_dir[256];

static int
fuzz_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

/* Remove everything under path (and path itself). */
static inline void
fuzz_rm_rf(const char *path)
{
	nftw(path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
fuzz_cleanup(void)
{
	if (fuzz_dir[0])
		fuzz_rm_rf(fuzz_dir);
}

/* The scratch directory, made on first use. */
static inline const char *
fuzz_scratch(void)
{
	const char *t;

	if (fuzz_dir[0])
		return fuzz_dir;
	t = getenv("TMPDIR");
	if (t == NULL || !*t)
		t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/mailbag-fuzz.XXXXXX", t);
	if (mkdtemp(fuzz_dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	atexit(fuzz_cleanup);
	return fuzz_dir;
}

/* Write n bytes at p to path (created or truncated).  false when path
 * cannot be a file (a directory: "." or "cur" from fuzz_make_dir) when
 * may_fail, else such a failure aborts. */
static inline bool
fuzz_write_file(const char *path, const void *p, size_t n, bool may_fail)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *c = p;
	ssize_t w;

	if (fd < 0) {
		if (may_fail)
			return false;
		perror(path);
		abort();
	}
	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror(path);
			abort();
		}
		c += w;
		n -= (size_t)w;
	}
	close(fd);
	return true;
}

static inline void
fuzz_write(const char *path, const void *p, size_t n)
{
	fuzz_write_file(path, p, n, false);
}

/* The next part of a multi-file input: *p, *n; false after the last. */
struct fuzz_parts {
	const uint8_t *data;
	size_t size, pos;
	bool done;
};

static inline bool
fuzz_part(struct fuzz_parts *fp, const uint8_t **p, size_t *n)
{
	const uint8_t *s, *hit = NULL;
	size_t left, i;

	if (fp->done)
		return false;
	s = fp->data + fp->pos;
	left = fp->size - fp->pos;
	for (i = 0; i + FUZZ_SEP_LEN <= left; i++)
		if (memcmp(s + i, FUZZ_SEP, FUZZ_SEP_LEN) == 0) {
			hit = s + i;
			break;
		}
	*p = s;
	if (hit == NULL) {
		*n = left;
		fp->done = true;
	} else {
		*n = (size_t)(hit - s);
		fp->pos += *n + FUZZ_SEP_LEN;
	}
	return true;
}

/*
 * Make directory dir (emptied first, with the subdirectories named in
 * subdirs, NULL-terminated) from a multi-file input: parts alternate
 * file name and content ("cur/1:2,S", "...", ".mixmeta", "...").  Names
 * keep only [A-Za-z0-9._,:=+-] and at most one '/' after a known
 * subdirectory; others are dropped, as is ".." and anything past 256
 * files.
 */
static inline void
fuzz_make_dir(const char *dir, const char *const *subdirs,
	      const uint8_t *data, size_t size)
{
	struct fuzz_parts fp = {data, size, 0, false};
	const uint8_t *np, *cp;
	size_t nn, cn, i;
	char path[600], name[256];
	unsigned nfiles = 0;
	bool ok;

	fuzz_rm_rf(dir);
	if (mkdir(dir, 0700) < 0)
		abort();
	for (i = 0; subdirs && subdirs[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		mkdir(path, 0700);
	}
	while (fuzz_part(&fp, &np, &nn) && nfiles < 256) {
		if (!fuzz_part(&fp, &cp, &cn))
			cp = NULL, cn = 0;
		ok = nn > 0 && nn < sizeof(name);
		for (i = 0; ok && i < nn; i++) {
			unsigned char c = np[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || strchr("._,:=+-/", c)))
				ok = false;
		}
		if (!ok)
			continue;
		memcpy(name, np, nn);
		name[nn] = 0;
		if (strstr(name, "..") || name[0] == '/' || name[nn - 1] == '/')
			continue;
		if (strchr(name, '/')) {
			size_t k = (size_t)(strchr(name, '/') - name);

			ok = false;
			for (i = 0; subdirs && subdirs[i]; i++)
				if (strlen(subdirs[i]) == k &&
				    memcmp(subdirs[i], name, k) == 0)
					ok = true;
			if (!ok || strchr(name + k + 1, '/'))
				continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (fuzz_write_file(path, cp ? cp : (const uint8_t *)"", cn,
				    true))
			nfiles++;
	}
}

static void
fuzz_diag(void *arg, const struct mb_diag *d)
{
	size_t *count = arg;

	/* Touch every field, so a dangling pointer is caught here. */
	*count += strlen(d->code) + (d->text ? strlen(d->text) : 0) +
		  (d->path ? strlen(d->path) : 0);
}

/*
 * Open path with driver format (NULL: probe), scan every message, read
 * every text to its end, twice for the first one (rewind), and look at
 * the box's info and keywords.
 */
static inline void
fuzz_scan_box(const char *path, const char *format, unsigned mode)
{
	static char buf[8192];
	struct mb_ctx *ctx = mb_ctx_new();
	struct mb_box *box = NULL;
	struct mb_msg *m;
	struct mb_reader *r;
	struct mb_info info;
	struct mb_err e;
	size_t diags = 0, total = 0;
	unsigned i, n = 0;
	ssize_t got;
	int rc;

	if (ctx == NULL)
		return;
	mb_ctx_set_diag(ctx, fuzz_diag, &diags);
	if (mb_open(ctx, path, format, mode, &box, &e) != MB_OK) {
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "%s: open: %s\n", format ? format : "probe",
				e.msg);
		mb_ctx_free(&ctx);
		return;
	}
	while ((rc = mb_next(box, &m, &e)) != MB_END && rc != MB_FATAL) {
		if (rc != MB_OK)
			continue;
		if (m->sender)
			total += strlen(m->sender);
		if (m->envelope)
			total += strlen(m->envelope);
		if (m->key)
			total += strlen(m->key);
		if (mb_msg_open(box, m, &r, &e) != MB_OK)
			continue;
		while ((got = mb_reader_read(r, buf, sizeof(buf), &e)) > 0)
			total += (size_t)got;
		if (n++ == 0 && mb_reader_rewind(r, &e) == MB_OK)
			while ((got = mb_reader_read(r, buf, 100, &e)) > 0)
				total += (size_t)got;
		mb_reader_close(&r);
	}
	if (mb_box_info(box, &info, &e) == MB_OK)
		for (i = 0; i < info.nkeywords; i++) {
			const char *k = mb_keyword(box, i);

			if (k)
				total += strlen(k);
		}
	/* FUZZ_VERBOSE=1: what the scan saw, to check that seeds are good */
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "%s: %u messages, %zu bytes, %zu diag bytes\n",
			format ? format : "probe", n, total, diags);
	mb_abort(&box);
	mb_ctx_free(&ctx);
}

#endif /* FUZZ_H */

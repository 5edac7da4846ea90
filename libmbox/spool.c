/*
 * spool.c - move new mail from a spool file into another mailbox
 * (`mailbag spool-move`, and the servers' INBOX snarf later): UW's
 * mbox/mbx "snarf" (shared/spec/uw-formats.md 2.10, 4.6) made crash-safe.
 *
 * Under the spool's locks (dot-lock, through mailbag-lock(8) where the
 * directory needs it; flock and fcntl on the file, which is what MTAs
 * and procmail take; UW's /tmp lock, so a UW session that has the spool
 * open read/write is left alone) the messages are appended to the
 * destination, which is made durable, and only then is the spool
 * truncated.  A journal beside the destination, ".<name>.spoolmove",
 * records before the first byte is appended the spool's identity and
 * size, a hash of its bytes, and where the destination ended:
 *
 *	mailbag-spool-move 1
 *	spool DEV INO SIZE HASH
 *	dest DEV INO SIZE COUNT
 *	phase begin|done
 *
 * A run that finds a journal whose spool is still there (same inode, at
 * least SIZE bytes, the same leading bytes) knows that those bytes were
 * being moved: with phase "done" they are in the destination; with phase
 * "begin" the destination (whose own tail journal has cut any torn
 * append by then) is compared message by message with the spool; either
 * way nothing is appended twice and nothing is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb-int.h"

#define FNV_OFF	  0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

struct journal {
	bool present;
	dev_t sdev;
	ino_t sino;
	int64_t ssize;
	uint64_t shash;
	dev_t ddev;
	ino_t dino;
	int64_t dsize;
	uint32_t dcount;
	bool done;
};

static uint64_t
fnv(uint64_t h, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * FNV_PRIME;
	return h;
}

/* FNV-1a of the first len bytes of fd. */
static int
hash_prefix(int fd, int64_t len, const char *path, uint64_t *out,
	    struct mb_err *e)
{
	unsigned char buf[1 << 16];
	uint64_t h = FNV_OFF;
	int64_t off = 0;
	ssize_t n;

	while (off < len) {
		size_t want = len - off < (int64_t)sizeof(buf) ?
				      (size_t)(len - off) :
				      sizeof(buf);

		n = mbi_pread_full(fd, buf, want, off);
		if (n < 0)
			return mbi_err_sys(e, MB_FAILED, errno, path,
					   "cannot read spool file");
		if ((size_t)n < want)
			return mbi_err(e, MB_FAILED, MB_ECHANGED, path, off + n,
				       "spool file shrank while locked");
		h = fnv(h, buf, (size_t)n);
		off += n;
	}
	*out = h;
	return MB_OK;
}

/*
 * The hash of a message's text as formats may differ in storing it:
 * CRLF read as LF, and trailing line ends (a mailbox's last message may
 * lack the blank line the others have) left out.
 */
static int
hash_text(struct mb_box *b, const struct mb_msg *m, uint64_t *out,
	  struct mb_err *e)
{
	unsigned char buf[1 << 16];
	struct mb_reader *r;
	uint64_t h = FNV_OFF, nl = 0;
	bool cr = false;
	ssize_t n, i;
	int rc;

	rc = mb_msg_open(b, m, &r, e);
	if (rc != MB_OK)
		return rc;
	while ((n = mb_reader_read(r, buf, sizeof(buf), e)) > 0) {
		for (i = 0; i < n; i++) {
			unsigned char c = buf[i];

			if (cr && c != '\n') {
				for (; nl > 0; nl--)
					h = (h ^ '\n') * FNV_PRIME;
				h = (h ^ '\r') * FNV_PRIME;
			}
			cr = c == '\r';
			if (cr)
				continue;
			if (c == '\n') {
				nl++;
				continue;
			}
			for (; nl > 0; nl--)
				h = (h ^ '\n') * FNV_PRIME;
			h = (h ^ c) * FNV_PRIME;
		}
	}
	mb_reader_close(&r);
	if (n < 0)
		return MB_FAILED;
	*out = h;
	return MB_OK;
}

static int
journal_name(const char *dest, char *out, size_t size, struct mb_err *e)
{
	const char *slash = strrchr(dest, '/');
	int n;

	if (slash == NULL)
		n = snprintf(out, size, ".%s.spoolmove", dest);
	else
		n = snprintf(out, size, "%.*s/.%s.spoolmove",
			     (int)(slash - dest), dest, slash + 1);
	if (n < 0 || (size_t)n >= size)
		return mbi_err(e, MB_FAILED, MB_EINVAL, dest, -1,
			       "name too long");
	return MB_OK;
}

static void
journal_read(const char *path, struct journal *j)
{
	unsigned long long sdev, sino, ddev, dino;
	long long ssize, dsize;
	unsigned long long shash;
	unsigned dcount;
	char phase[16];
	FILE *fp;
	int n;

	memset(j, 0, sizeof(*j));
	fp = fopen(path, "re");
	if (fp == NULL)
		return;
	n = fscanf(fp,
		   "mailbag-spool-move 1\nspool %llu %llu %lld %llx\n"
		   "dest %llu %llu %lld %u\nphase %15s",
		   &sdev, &sino, &ssize, &shash, &ddev, &dino, &dsize, &dcount,
		   phase);
	fclose(fp);
	/* a journal cut short by a crash was never in effect: its rename
	 * is what publishes it, so this is damage from elsewhere */
	if (n != 9 || ssize < 0 || dsize < 0)
		return;
	j->present = true;
	j->sdev = (dev_t)sdev;
	j->sino = (ino_t)sino;
	j->ssize = ssize;
	j->shash = shash;
	j->ddev = (dev_t)ddev;
	j->dino = (ino_t)dino;
	j->dsize = dsize;
	j->dcount = dcount;
	j->done = strcmp(phase, "done") == 0;
}

/* Write the journal durably: temporary file, fsync, rename, fsync dir. */
static int
journal_write(const char *path, const struct journal *j, struct mb_err *e)
{
	char tmp[PATH_MAX], text[512];
	int fd, n, rc;

	rc = mbi_tmp_name(path, tmp, sizeof(tmp), e);
	if (rc != MB_OK)
		return rc;
	n = snprintf(text, sizeof(text),
		     "mailbag-spool-move 1\nspool %llu %llu %lld %016llx\n"
		     "dest %llu %llu %lld %u\nphase %s\n",
		     (unsigned long long)j->sdev, (unsigned long long)j->sino,
		     (long long)j->ssize, (unsigned long long)j->shash,
		     (unsigned long long)j->ddev, (unsigned long long)j->dino,
		     (long long)j->dsize, j->dcount,
		     j->done ? "done" : "begin");
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, tmp,
				   "cannot create the move journal");
	rc = mbi_write_all(fd, text, (size_t)n, tmp, e);
	if (rc == MB_OK && fsync(fd) != 0)
		rc = mbi_err_sys(e, MB_FAILED, errno, tmp,
				 "cannot write the move journal");
	close(fd);
	if (rc == MB_OK && rename(tmp, path) != 0)
		rc = mbi_err_sys(e, MB_FAILED, errno, path,
				 "cannot write the move journal");
	if (rc != MB_OK) {
		unlink(tmp);
		return rc;
	}
	return mbi_fsync_dir(path, e);
}

static int
journal_remove(const char *path, struct mb_err *e)
{
	if (unlink(path) != 0) {
		if (errno == ENOENT)
			return MB_OK;
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot remove the move journal");
	}
	return mbi_fsync_dir(path, e);
}

/*
 * After a failed move that appended nothing before (skip 0), is the
 * destination as the journal found it: gone again if it was created,
 * else the same file of the same size?  Only a regular file can tell.
 */
static bool
dest_back(const char *dest, bool existed, const struct journal *j)
{
	struct stat st;

	if (stat(dest, &st) != 0)
		return errno == ENOENT && !existed;
	return existed && S_ISREG(st.st_mode) && st.st_dev == j->ddev &&
	       st.st_ino == j->dino && st.st_size == j->dsize;
}

/* The locked spool. */
struct spool {
	const char *path;
	int fd;
	struct stat st;
	struct mbi_dotlock dl;
	struct mbi_tmplock tl;
	bool flocked, fcntled;
};

static void
spool_unlock(struct spool *sp)
{
	if (sp->tl.fd >= 0)
		mbi_tmplock_release(&sp->tl);
	if (sp->fcntled)
		mbi_fcntl_lock(sp->fd, F_UNLCK, 0, sp->path, NULL);
	if (sp->flocked)
		flock(sp->fd, LOCK_UN);
	mbi_dotlock_release(&sp->dl);
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
}

/* Open and lock the spool; MB_END when there is no spool file. */
static int
spool_lock(struct mb_ctx *ctx, struct spool *sp, struct mb_err *e)
{
	struct stat lst;
	int rc, t = ctx->lock_timeout;

	sp->tl.fd = -1;
	sp->dl.held = false;
	sp->dl.helper_pid = 0;
	sp->dl.helper_fd = -1;
	sp->fd = open(sp->path, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (sp->fd < 0) {
		if (errno == ENOENT)
			return MB_END;
		if (errno == ELOOP)
			return mbi_err(e, MB_FAILED, MB_EPERM, sp->path, -1,
				       "spool file is a symbolic link");
		return mbi_err_sys(e, MB_FAILED, errno, sp->path,
				   "cannot open spool file");
	}
	if (fstat(sp->fd, &sp->st) != 0 || !S_ISREG(sp->st.st_mode)) {
		rc = mbi_err(e, MB_FAILED, MB_EFORMAT, sp->path, -1,
			     "spool file is not a regular file");
		goto fail;
	}
	/* UW's order: dot-lock, then the file's own locks */
	rc = mbi_dotlock_take(ctx, sp->path, &sp->dl, t, e);
	if (rc != MB_OK)
		goto fail;
	rc = mbi_flock(sp->fd, LOCK_EX, t, sp->path, e);
	if (rc != MB_OK)
		goto fail;
	sp->flocked = true;
	rc = mbi_fcntl_lock(sp->fd, F_WRLCK, t, sp->path, e);
	if (rc != MB_OK)
		goto fail;
	sp->fcntled = true;
	/* a UW session with the spool open read/write holds this one for
	 * as long as it has it open: then, like UW, move nothing now */
	rc = mbi_tmplock_open(&sp->st, &sp->tl, e);
	if (rc == MB_OK)
		rc = mbi_tmplock_lock(&sp->tl, LOCK_EX | LOCK_NB, 0, e);
	if (rc != MB_OK) {
		if (e != NULL && e->code == MB_ELOCKED)
			rc = mbi_err(e, MB_RETRY, MB_ELOCKED, sp->path, -1,
				     "spool file is open read/write by "
				     "another program; nothing moved");
		goto fail;
	}
	/* the name must still lead to what we locked */
	if (lstat(sp->path, &lst) != 0 || lst.st_dev != sp->st.st_dev ||
	    lst.st_ino != sp->st.st_ino) {
		rc = mbi_err(e, MB_RETRY, MB_ECHANGED, sp->path, -1,
			     "spool file was replaced while being locked");
		goto fail;
	}
	if (fstat(sp->fd, &sp->st) != 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, sp->path,
				 "cannot stat spool file");
		goto fail;
	}
	return MB_OK;
fail:
	spool_unlock(sp);
	return rc;
}

/*
 * Phase "begin" of an interrupted run: are the journal's spool messages
 * (those before skip_to) the destination's next messages after where it
 * ended then?  dbox is open read/write and so already cut of any torn
 * append.
 */
static int
already_moved(struct mb_box *sbox, struct mb_box *dbox, const struct journal *j,
	      bool dest_same, bool *moved, struct mb_err *e)
{
	uint64_t *want = NULL, h;
	uint32_t n = 0, cap = 0, k = 0, seq = 0;
	struct mb_msg *m;
	bool matching = true, started = false;
	int rc;

	*moved = false;
	for (;;) {
		rc = mb_next(sbox, &m, e);
		if (rc == MB_END)
			break;
		if (rc != MB_OK)
			goto out;
		if (m->offset >= j->ssize)
			break;
		if (n == cap) {
			uint64_t *nw;

			cap = cap ? cap * 2 : 64;
			nw = mbi_reallocarray(want, cap, sizeof(*want));
			if (nw == NULL) {
				rc = mbi_err(e, MB_FAILED, MB_ENOMEM, NULL, -1,
					     "out of memory");
				goto out;
			}
			want = nw;
		}
		rc = hash_text(sbox, m, &want[n], e);
		if (rc != MB_OK)
			goto out;
		n++;
	}
	for (;;) {
		rc = mb_next(dbox, &m, e);
		if (rc == MB_END)
			break;
		if (rc != MB_OK)
			goto out;
		seq++;
		/* where the destination ended when the move began */
		if (dest_same && (j->dsize > 0 || j->dcount > 0) &&
		    (m->key != NULL ? seq <= j->dcount : m->offset < j->dsize))
			continue;
		if (!started)
			started = true;
		if (k >= n)
			continue; /* keep scanning: appends need the index */
		rc = hash_text(dbox, m, &h, e);
		if (rc != MB_OK)
			goto out;
		if (h != want[k])
			matching = false;
		k++;
	}
	*moved = n > 0 && k >= n && matching;
	rc = MB_OK;
out:
	free(want);
	return rc;
}

static int
copy_one(struct mb_box *sbox, struct mb_box *dbox, const struct mb_msg *m,
	 struct mb_err *e)
{
	const char *kw[MB_MAX_KEYWORDS];
	struct mb_newmsg meta;
	struct mb_reader *r;
	unsigned n;
	int rc;

	memset(&meta, 0, sizeof(meta));
	meta.flags = m->flags;
	meta.idate = m->idate;
	meta.idate_tz = m->idate_tz;
	meta.sender = m->sender;
	meta.envelope = m->envelope;
	for (n = 0; n < MB_MAX_KEYWORDS; n++)
		if ((m->keywords & ((uint64_t)1 << n)) &&
		    (kw[meta.nkeywords] = mb_keyword(sbox, n)) != NULL)
			meta.nkeywords++;
	meta.keywords = kw;
	rc = mb_msg_open(sbox, m, &r, e);
	if (rc != MB_OK)
		return rc;
	rc = mb_append(dbox, &meta, r, NULL, e);
	mb_reader_close(&r);
	return rc;
}

int
mb_spool_move(struct mb_ctx *ctx, const char *spool, const char *dest,
	      const char *create_format, unsigned flags,
	      struct mb_spool_result *res, struct mb_err *e)
{
	struct spool sp = { .path = spool, .fd = -1 };
	struct mb_box *sbox = NULL, *dbox = NULL;
	struct journal j, old;
	char jpath[PATH_MAX];
	struct stat dst;
	struct mb_msg *m;
	int64_t skip = 0;
	uint64_t h = 0;
	bool dest_exists, moved, begun = false;
	int rc;

	memset(res, 0, sizeof(*res));
	if (ctx == NULL || spool == NULL || dest == NULL)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "spool-move needs a context and two names");
	rc = journal_name(dest, jpath, sizeof(jpath), e);
	if (rc != MB_OK)
		return rc;
	dest_exists = stat(dest, &dst) == 0;
	if (dest_exists && stat(spool, &sp.st) == 0 &&
	    dst.st_dev == sp.st.st_dev && dst.st_ino == sp.st.st_ino)
		return mbi_err(e, MB_FAILED, MB_EINVAL, dest, -1,
			       "the spool file and the destination are the "
			       "same file");
	if (!dest_exists && create_format == NULL)
		return mbi_err(e, MB_FAILED, MB_ENOENT, dest, -1,
			       "no such mailbox");

	rc = spool_lock(ctx, &sp, e);
	if (rc == MB_END) {
		/* no spool file: nothing to move, and no journal can
		 * apply; an old one is left for when it reappears */
		return MB_OK;
	}
	if (rc != MB_OK)
		return rc;
	res->spool_size = sp.st.st_size;
	/* temporary files of killed runs (theirs only: by dead PID) */
	mbi_cleanup_stale(jpath, ctx->localhost);
	mbi_cleanup_stale(spool, ctx->localhost);
	if (dest_exists)
		mbi_cleanup_stale(dest, ctx->localhost);

	/* an interrupted run: which of the spool's bytes were moved? */
	journal_read(jpath, &old);
	if (old.present && old.sdev == sp.st.st_dev &&
	    old.sino == sp.st.st_ino && old.ssize <= sp.st.st_size) {
		rc = hash_prefix(sp.fd, old.ssize, spool, &h, e);
		if (rc != MB_OK)
			goto out;
		if (h != old.shash)
			old.present = false; /* another spool by now */
	} else {
		old.present = false;
	}
	if (sp.st.st_size == 0 && !old.present) {
		if (!(flags & MB_SPOOL_DRY_RUN))
			rc = journal_remove(jpath, e);
		goto out;
	}

	rc = mb_open(ctx, spool, NULL, MB_RDONLY | MB_NOLOCK, &sbox, e);
	if (rc != MB_OK)
		goto out;
	res->format = mb_box_format(sbox);
	if (flags & MB_SPOOL_DRY_RUN) {
		while ((rc = mb_next(sbox, &m, e)) == MB_OK) {
			if (old.present && old.done && m->offset < old.ssize)
				continue;
			res->messages++;
		}
		if (rc == MB_END)
			rc = MB_OK;
		res->bytes = sp.st.st_size;
		res->recovered = old.present;
		goto out;
	}

	if (dest_exists)
		rc = mb_open(ctx, dest, NULL, MB_RDWR, &dbox, e);
	else {
		rc = mb_create(ctx, dest, create_format,
			       MB_CREATE_ATOMIC | MB_CREATE_EXCL, &dbox, e);
		res->created = rc == MB_OK;
	}
	if (rc != MB_OK)
		goto out;
	res->dest_format = mb_box_format(dbox);

	if (old.present) {
		res->recovered = true;
		if (old.done) {
			skip = old.ssize;
		} else {
			bool same = dest_exists && old.dino != 0 &&
				    old.ddev == dst.st_dev &&
				    old.dino == dst.st_ino;

			rc = already_moved(sbox, dbox, &old, same, &moved, e);
			if (rc != MB_OK)
				goto out;
			if (moved)
				skip = old.ssize;
			rc = mb_rewind(sbox, e);
			if (rc != MB_OK) {
				/* a streaming driver: reopen */
				mb_abort(&sbox);
				rc = mb_open(ctx, spool, NULL,
					     MB_RDONLY | MB_NOLOCK, &sbox, e);
				if (rc != MB_OK)
					goto out;
			}
		}
		res->skipped = skip;
	}

	if (skip < sp.st.st_size) {
		struct mb_info info;
		struct stat now;

		/* where the destination ends now, before our first byte */
		memset(&j, 0, sizeof(j));
		j.sdev = sp.st.st_dev;
		j.sino = sp.st.st_ino;
		j.ssize = sp.st.st_size;
		rc = hash_prefix(sp.fd, j.ssize, spool, &j.shash, e);
		if (rc != MB_OK)
			goto out;
		memset(&now, 0, sizeof(now));
		if (dest_exists && stat(dest, &now) == 0) {
			j.ddev = now.st_dev;
			j.dino = now.st_ino;
			j.dsize = S_ISREG(now.st_mode) ? now.st_size : 0;
			if (mb_box_info(dbox, &info, NULL) == MB_OK)
				j.dcount = info.messages;
		}
		if (dest_exists && !old.present && S_ISDIR(now.st_mode)) {
			/* a directory mailbox is placed by its count, which
			 * must be of the whole mailbox */
			while ((rc = mb_next(dbox, &m, e)) == MB_OK)
				;
			if (rc != MB_END)
				goto out;
			if (mb_box_info(dbox, &info, e) == MB_OK)
				j.dcount = info.messages;
		}
		j.done = false;
		rc = journal_write(jpath, &j, e);
		if (rc != MB_OK)
			goto out;
		begun = skip == 0;

		while ((rc = mb_next(sbox, &m, e)) == MB_OK) {
			if (m->offset < skip)
				continue;
			mbi_dotlock_refresh(&sp.dl);
			rc = copy_one(sbox, dbox, m, e);
			if (rc != MB_OK)
				goto out;
			res->messages++;
		}
		if (rc != MB_END)
			goto out;
		/* durable in the destination (created ones published) */
		rc = mb_close(&dbox, e);
		if (rc != MB_OK)
			goto out;
		begun = false;
		j.done = true;
		rc = journal_write(jpath, &j, e);
		if (rc != MB_OK)
			goto out;
		res->bytes = sp.st.st_size - skip;
	}

	/* everything up to st_size is in the destination: empty the spool
	 * (truncated, not removed: MTAs and UW keep its inode and mode) */
	{
		struct stat now;

		if (fstat(sp.fd, &now) != 0) {
			rc = mbi_err_sys(e, MB_FAILED, errno, spool,
					 "cannot stat spool file");
			goto out;
		}
		if (now.st_size != sp.st.st_size) {
			rc = mbi_err(e, MB_FAILED, MB_ECHANGED, spool,
				     sp.st.st_size,
				     "spool file changed from %lld to %lld "
				     "bytes while locked (a program ignores "
				     "the locks); the moved messages are "
				     "recorded and will not be moved again",
				     (long long)sp.st.st_size,
				     (long long)now.st_size);
			goto out;
		}
	}
	if (ftruncate(sp.fd, 0) != 0 || fsync(sp.fd) != 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, spool,
				 "cannot empty spool file");
		goto out;
	}
	rc = journal_remove(jpath, e);
out:
	if (dbox != NULL)
		mb_abort(&dbox);
	if (sbox != NULL)
		mb_abort(&sbox);
	if (rc != MB_OK && begun && dest_back(dest, dest_exists, &j)) {
		/* a failed append (disk full) was rolled back: the journal
		 * records nothing, and a failure leaves nothing behind */
		struct mb_err ignore;

		mb_err_clear(&ignore);
		(void)journal_remove(jpath, &ignore);
	}
	spool_unlock(&sp);
	return rc;
}

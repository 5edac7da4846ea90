/*
 * box.c - the mailbox handle: probing, open/create/close, the message
 * index, and the checks every public entry makes before it calls into a
 * driver.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mb-int.h"

/* Largest probe_len any driver may ask for. */
#define PROBE_MAX 4096

const char *
mb_format_name(unsigned n)
{
	unsigned i;

	for (i = 0; mbi_drivers[i] != NULL; i++)
		if (i == n)
			return mbi_drivers[i]->name;
	return NULL;
}

const char *
mb_format_summary(unsigned n)
{
	unsigned i;

	for (i = 0; mbi_drivers[i] != NULL; i++)
		if (i == n)
			return mbi_drivers[i]->summary;
	return NULL;
}

static void restore_times(struct mb_box *b);

static bool
box_ok(const struct mb_box *b)
{
	return b != NULL && b->magic == MBI_BOX_MAGIC;
}

#define CHECK_BOX(b, e)                                                     \
	do {                                                                \
		if (!box_ok(b))                                             \
			return mbi_err(e, MB_FATAL, MB_EINTERNAL, NULL, -1, \
				       "invalid mailbox handle");           \
	} while (0)

/*
 * Open the box's own file, read-only or read/write, and stat it into *st:
 * without an access-time update when b->mode asks to keep times and the
 * kernel lets us (the owner, or root).  Anything but a regular file is
 * refused.  MB_OK with *fd set, else MB_FAILED with *fd -1.
 */
int
mbi_open_box(struct mb_box *b, bool rw, int *fd, struct stat *st,
	     struct mb_err *e)
{
	int flags =
		(rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW;
	bool keep = (b->mode & MB_KEEP_TIMES) != 0;

	*fd = open(b->path, flags | (keep ? O_NOATIME : 0));
	if (*fd < 0 && errno == EPERM && keep)
		*fd = open(b->path, flags);
	if (*fd < 0)
		return mbi_err_sys(e, MB_FAILED, errno, b->path,
				   "cannot open mailbox");
	if (fstat(*fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(*fd);
		*fd = -1;
		return mbi_err(e, MB_FAILED, MB_EFORMAT, b->path, -1,
			       "not a regular file");
	}
	return MB_OK;
}

/*
 * The driver whose probe scores highest for path (ties: table order).
 * Returns NULL with *e filled when nothing claims it.
 */
const struct mb_driver *
mbi_probe(const char *path, struct stat *stp, struct mb_err *e)
{
	unsigned char head[PROBE_MAX];
	const struct mb_driver *best = NULL;
	struct stat st;
	ssize_t len = 0;
	int fd, i, score, best_score = 0;

	if (stat(path, &st) < 0) {
		mbi_err_sys(e, MB_FAILED, errno, path, "cannot open mailbox");
		if (errno == ENOENT)
			snprintf(e->msg, sizeof(e->msg), "no such mailbox");
		return NULL;
	}
	if (S_ISREG(st.st_mode)) {
		/* a probe must not clear a "new mail" mark: no atime update
		 * where the kernel lets us (owner or root) */
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOATIME);
		if (fd < 0 && errno == EPERM)
			fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			mbi_err_sys(e, MB_FAILED, errno, path,
				    "cannot open mailbox");
			return NULL;
		}
		len = mbi_pread_full(fd, head, sizeof(head), 0);
		close(fd);
		if (len < 0) {
			mbi_err_sys(e, MB_FAILED, errno, path,
				    "cannot read mailbox");
			return NULL;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		mbi_err(e, MB_FAILED, MB_EFORMAT, path, -1,
			"not a regular file or directory");
		return NULL;
	}
	for (i = 0; mbi_drivers[i] != NULL; i++) {
		const struct mb_driver *d = mbi_drivers[i];
		size_t n = (size_t)len;

		if (d->probe == NULL)
			continue;
		if (S_ISDIR(st.st_mode) != ((d->caps & MB_CAP_DIR) != 0))
			continue;
		if (n > d->probe_len)
			n = d->probe_len;
		score = d->probe(path, &st, S_ISDIR(st.st_mode) ? NULL : head,
				 n);
		if (score > best_score) {
			best_score = score;
			best = d;
		}
	}
	if (best == NULL)
		mbi_err(e, MB_FAILED, MB_EFORMAT, path,
			S_ISREG(st.st_mode) ? 0 : -1,
			"not in a recognised mailbox format");
	if (stp != NULL)
		*stp = st;
	return best;
}

static const struct mb_driver *
probe_path(const char *path, struct mb_err *e)
{
	return mbi_probe(path, NULL, e);
}

const char *
mb_probe(struct mb_ctx *ctx, const char *path, struct mb_err *e)
{
	const struct mb_driver *d = probe_path(path, e);

	return d ? d->name : NULL;
}

static struct mb_box *
box_alloc(struct mb_ctx *ctx, const struct mb_driver *d, const char *path,
	  unsigned mode, struct mb_err *e)
{
	struct mb_box *b;

	if (strlen(path) >= sizeof(b->path)) {
		mbi_err(e, MB_FAILED, MB_EINVAL, path, -1, "name too long");
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		mbi_err(e, MB_FATAL, MB_ENOMEM, path, -1, "out of memory");
		return NULL;
	}
	b->magic = MBI_BOX_MAGIC;
	b->ctx = ctx;
	b->drv = d;
	b->mode = mode;
	b->readonly = !(mode & MB_RDWR);
	snprintf(b->path, sizeof(b->path), "%s", path);
	snprintf(b->final_path, sizeof(b->final_path), "%s", path);
	return b;
}

/*
 * A copy of s that lives as long as the box: the index keeps each
 * message's strings here, since a driver's next() may point them into a
 * buffer that the following message reuses.  NULL stays NULL (and so
 * does a copy that cannot be made: the string is optional).
 */
static const char *
box_strdup(struct mb_box *b, const char *s)
{
	struct mbi_chunk *c = b->strings;
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	if (c == NULL || c->cap - c->len < n) {
		size_t cap = n > 65536 ? n : 65536;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->len = 0;
		c->cap = cap;
		c->next = b->strings;
		b->strings = c;
	}
	memcpy(c->data + c->len, s, n);
	c->len += n;
	return c->data + c->len - n;
}

static void
box_free(struct mb_box *b)
{
	while (b->strings != NULL) {
		struct mbi_chunk *c = b->strings;

		b->strings = c->next;
		free(c);
	}
	mbi_unpack_free(&b->unpack);
	mbi_kw_clear(b);
	free(b->msgs);
	b->magic = 0;
	free(b);
}

static const struct mb_driver *
driver_named(const char *format, const char *path, struct mb_err *e)
{
	const struct mb_driver *d = mbi_driver_by_name(format);

	if (d == NULL)
		mbi_err(e, MB_FAILED, MB_EINVAL, path, -1,
			"unknown mailbox format '%s'", format);
	return d;
}

int
mb_open(struct mb_ctx *ctx, const char *path, const char *format, unsigned mode,
	struct mb_box **out, struct mb_err *e)
{
	const struct mb_driver *d;
	struct stat st;
	struct mb_box *b;
	int rc;

	struct mbi_unpack *up = NULL;
	const char *opath = path;

	*out = NULL;
	mb_err_clear(e);
	if (ctx == NULL || path == NULL || *path == '\0')
		return mbi_err(e, MB_FAILED, MB_EINVAL, path, -1,
			       "no mailbox name");
	if ((mode & MB_RDWR) && (mode & MB_NOLOCK))
		return mbi_err(e, MB_FAILED, MB_EINVAL, path, -1,
			       "read/write access needs locks");
	/* remote names dispatch by name, not by content (net.c) */
	if (path[0] == '{') {
		d = mbi_remote_driver(path, e);
		if (d == NULL)
			return MB_FAILED;
		goto alloc;
	}
	/* compressed mailboxes and archives: open an unpacked copy */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		rc = mbi_unpack(ctx, path, mode, &up, e);
		if (rc != MB_OK)
			return rc;
		if (up != NULL) {
			opath = up->path;
			mode |= MB_NOLOCK; /* a private copy */
		}
	}
	if (format != NULL) {
		d = driver_named(format, path, e);
		if (d == NULL)
			goto fail_up;
		if (stat(opath, &st) < 0) {
			mbi_err_sys(e, MB_FAILED, errno, path,
				    "cannot open mailbox");
			goto fail_up;
		}
	} else {
		d = probe_path(opath, e);
		if (d == NULL) {
			if (up != NULL)
				snprintf(e->path, sizeof(e->path), "%s", path);
			goto fail_up;
		}
	}
alloc:
	b = box_alloc(ctx, d, opath, mode, e);
	if (b == NULL) {
		mbi_unpack_free(&up);
		return e->code == MB_ENOMEM ? MB_FATAL : MB_FAILED;
	}
	b->unpack = up;
	snprintf(b->final_path, sizeof(b->final_path), "%s", path);
	if ((mode & MB_KEEP_TIMES) && !(mode & MB_RDWR) &&
	    stat(path, &b->keep_st) == 0)
		b->keep_times = true;
	rc = d->open(b, e);
	if (rc != MB_OK) {
		mbi_unpack_fix_err(b, e);
		restore_times(b);
		box_free(b);
		return rc;
	}
	mbi_unpack_opened(up);
	*out = b;
	return MB_OK;
fail_up:
	mbi_unpack_free(&up);
	return MB_FAILED;
}

int
mb_create(struct mb_ctx *ctx, const char *path, const char *format,
	  unsigned flags, struct mb_box **out, struct mb_err *e)
{
	const struct mb_driver *d;
	struct stat st;
	struct mb_box *b;
	char tmp[PATH_MAX];
	int rc;

	*out = NULL;
	mb_err_clear(e);
	if (ctx == NULL || path == NULL || *path == '\0')
		return mbi_err(e, MB_FAILED, MB_EINVAL, path, -1,
			       "no mailbox name");
	/* a remote mailbox is created on its server, at once */
	if (path[0] == '{') {
		d = mbi_remote_driver(path, e);
		flags &= ~(unsigned)MB_CREATE_ATOMIC;
	} else {
		d = driver_named(format ? format : ctx->new_format, path, e);
	}
	if (d == NULL)
		return MB_FAILED;
	if (d->create == NULL || !(d->caps & MB_CAP_CREATE))
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, path, -1,
			       "cannot create %s mailboxes", d->name);
	if (path[0] != '{' && lstat(path, &st) == 0)
		return mbi_err(e, MB_FAILED, MB_EEXIST, path, -1,
			       "mailbox already exists");
	b = box_alloc(ctx, d, path, MB_RDWR, e);
	if (b == NULL)
		return e->code == MB_ENOMEM ? MB_FATAL : MB_FAILED;
	if (flags & MB_CREATE_ATOMIC) {
		/* temporary files of earlier, killed runs */
		mbi_cleanup_stale(path, ctx->localhost);
		if (mbi_tmp_name(path, tmp, sizeof(tmp), e) != MB_OK) {
			box_free(b);
			return MB_FAILED;
		}
		snprintf(b->path, sizeof(b->path), "%s", tmp);
		b->creating = true;
	}
	rc = d->create(b, e);
	if (rc != MB_OK) {
		box_free(b);
		return rc;
	}
	b->dirty = true;
	b->scanned = true;
	*out = b;
	return MB_OK;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/* Remove a file or a whole directory tree (an aborted directory mailbox). */
static void
remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode))
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		unlink(path);
}

/*
 * Reading a mailbox moves its access time, and "new mail" marks (UW's
 * \Marked, shells' MAILCHECK, biff) compare it with the modification
 * time.  A read-only visitor puts it back, as UW does, unless somebody
 * wrote to the file meanwhile.
 */
static void
restore_times(struct mb_box *b)
{
	struct timespec ts[2];
	struct stat st;

	if (!b->keep_times || stat(b->final_path, &st) < 0)
		return;
	if (st.st_ino != b->keep_st.st_ino ||
	    st.st_size != b->keep_st.st_size ||
	    st.st_mtim.tv_sec != b->keep_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != b->keep_st.st_mtim.tv_nsec)
		return;
	ts[0] = b->keep_st.st_atim;
	ts[1] = b->keep_st.st_mtim;
	utimensat(AT_FDCWD, b->final_path, ts, 0);
}

int
mb_close(struct mb_box **bp, struct mb_err *e)
{
	struct mb_box *b = bp ? *bp : NULL;
	int rc = MB_OK;

	mb_err_clear(e);
	CHECK_BOX(b, e);
	*bp = NULL;
	if (b->dirty && b->drv->commit != NULL)
		rc = b->drv->commit(b, e);
	if (rc == MB_OK && b->creating) {
		rc = mbi_publish(b->path, b->final_path, e);
		if (rc == MB_OK)
			b->creating = false;
	}
	b->drv->close(b);
	if (b->creating)
		remove_tree(b->path);
	restore_times(b);
	box_free(b);
	return rc;
}

void
mb_abort(struct mb_box **bp)
{
	struct mb_box *b = bp ? *bp : NULL;

	if (!box_ok(b))
		return;
	*bp = NULL;
	b->dirty = false;
	b->drv->close(b);
	if (b->creating)
		remove_tree(b->path);
	restore_times(b);
	box_free(b);
}

const char *
mb_box_format(const struct mb_box *b)
{
	return box_ok(b) ? b->drv->name : NULL;
}

bool
mb_box_crlf_text(const struct mb_box *b)
{
	return box_ok(b) && (b->drv->caps & MB_CAP_CRLF) != 0;
}

const char *
mb_box_path(const struct mb_box *b)
{
	return box_ok(b) ? b->final_path : NULL;
}

int
mb_box_info(struct mb_box *b, struct mb_info *out, struct mb_err *e)
{
	struct stat st;

	CHECK_BOX(b, e);
	memset(out, 0, sizeof(*out));
	out->format = b->drv->name;
	out->uidvalidity = b->uidvalidity;
	out->uidnext = b->uidlast + 1;
	out->messages = b->nmsgs;
	out->highest_modseq = b->highest_modseq;
	out->nkeywords = b->nkw;
	out->has_pseudo = b->has_pseudo;
	out->crlf_text = (b->drv->caps & MB_CAP_CRLF) != 0;
	out->uids_broken = b->uids_broken;
	out->readonly = b->readonly;
	snprintf(out->variant, sizeof(out->variant), "%s", b->variant);
	if (b->unpack != NULL) {
		snprintf(out->compression, sizeof(out->compression), "%s",
			 b->unpack->compression);
		snprintf(out->archive, sizeof(out->archive), "%s",
			 b->unpack->archive);
	}
	if (b->unpack != NULL && b->unpack->single)
		out->size = b->unpack->size;
	else if (stat(b->path, &st) == 0 && S_ISREG(st.st_mode))
		out->size = st.st_size;
	return MB_OK;
}

const char *
mb_keyword(const struct mb_box *b, unsigned n)
{
	if (!box_ok(b) || n >= b->nkw)
		return NULL;
	return b->kw[n];
}

int
mbi_kw_find(const struct mb_box *b, const char *name, size_t len)
{
	unsigned i;

	for (i = 0; i < b->nkw; i++)
		if (strlen(b->kw[i]) == len &&
		    strncasecmp(b->kw[i], name, len) == 0)
			return (int)i;
	return -1;
}

int
mbi_kw_add(struct mb_box *b, const char *name, size_t len)
{
	int i = mbi_kw_find(b, name, len);

	return i >= 0 ? i : mbi_kw_slot(b, name, len);
}

/*
 * The next slot, named even when an earlier slot has the same name: for
 * formats whose keyword bits are positions in a list the file stores
 * (mbx header, mix metadata), so slot i here stays slot i there.  Names
 * are looked up first match, as UW does.
 */
int
mbi_kw_slot(struct mb_box *b, const char *name, size_t len)
{
	if (b->nkw >= MB_MAX_KEYWORDS || len == 0)
		return -1;
	b->kw[b->nkw] = mbi_strndup(name, len);
	if (b->kw[b->nkw] == NULL)
		return -1;
	return (int)b->nkw++;
}

void
mbi_kw_clear(struct mb_box *b)
{
	unsigned i;

	for (i = 0; i < b->nkw; i++)
		free(b->kw[i]);
	b->nkw = 0;
}

int
mb_keyword_index(struct mb_box *b, const char *name, bool create)
{
	int i;

	if (!box_ok(b) || name == NULL)
		return -1;
	i = mbi_kw_find(b, name, strlen(name));
	if (i >= 0 || !create || b->readonly ||
	    !(b->drv->caps & MB_CAP_KEYWORDS))
		return i;
	i = mbi_kw_add(b, name, strlen(name));
	if (i >= 0)
		b->dirty = true;
	return i;
}

int
mb_next(struct mb_box *b, struct mb_msg **out, struct mb_err *e)
{
	struct mb_msg m;
	int rc;

	*out = NULL;
	CHECK_BOX(b, e);
	if (!(b->mode & MB_STREAM) && b->iter < b->nmsgs) {
		*out = &b->msgs[b->iter++];
		return MB_OK;
	}
	if (b->scanned)
		return MB_END;
	memset(&m, 0, sizeof(m));
	rc = b->drv->next(b, &m, e);
	if (rc < 0)
		mbi_unpack_fix_err(b, e);
	if (rc == MB_END) {
		b->scanned = true;
		return MB_END;
	}
	if (rc != MB_OK)
		return rc;
	if (b->nmsgs >= b->ctx->max_messages)
		return mbi_err(e, MB_FATAL, MB_ELIMIT, b->path, m.offset,
			       "more than %u messages", b->ctx->max_messages);
	m.seq = ++b->nmsgs;
	if (b->mode & MB_STREAM) {
		b->cur = m;
		*out = &b->cur;
		return MB_OK;
	}
	if (b->nmsgs > b->nalloc) {
		uint32_t n = b->nalloc ? b->nalloc * 2 : 256;
		struct mb_msg *p = mbi_reallocarray(b->msgs, n, sizeof(*p));

		if (p == NULL) {
			b->nmsgs--;
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		}
		b->msgs = p;
		b->nalloc = n;
	}
	m.sender = box_strdup(b, m.sender);
	m.envelope = box_strdup(b, m.envelope);
	m.key = box_strdup(b, m.key);
	b->msgs[b->nmsgs - 1] = m;
	b->iter = b->nmsgs;
	*out = &b->msgs[b->nmsgs - 1];
	return MB_OK;
}

int
mb_rewind(struct mb_box *b, struct mb_err *e)
{
	CHECK_BOX(b, e);
	if (b->mode & MB_STREAM)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "a streaming box cannot rewind");
	b->iter = 0;
	return MB_OK;
}

int
mb_msg_at(struct mb_box *b, uint32_t seq, struct mb_msg **out, struct mb_err *e)
{
	CHECK_BOX(b, e);
	*out = NULL;
	if (b->mode & MB_STREAM)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "a streaming box keeps no index");
	if (seq == 0 || seq > b->nmsgs)
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "no message %u", seq);
	*out = &b->msgs[seq - 1];
	return MB_OK;
}

int
mb_msg_open(struct mb_box *b, const struct mb_msg *m, struct mb_reader **out,
	    struct mb_err *e)
{
	int rc;

	*out = NULL;
	CHECK_BOX(b, e);
	rc = b->drv->msg_open(b, m, out, e);
	if (rc != MB_OK)
		mbi_unpack_fix_err(b, e);
	return rc;
}

int
mb_msg_open_header(struct mb_box *b, const struct mb_msg *m,
		   struct mb_reader **out, struct mb_err *e)
{
	int rc;

	*out = NULL;
	CHECK_BOX(b, e);
	rc = b->drv->msg_header != NULL ? b->drv->msg_header(b, m, out, e) :
					  b->drv->msg_open(b, m, out, e);
	if (rc != MB_OK)
		mbi_unpack_fix_err(b, e);
	return rc;
}

int
mb_append(struct mb_box *b, const struct mb_newmsg *meta, struct mb_reader *src,
	  uint32_t *uid_out, struct mb_err *e)
{
	int rc;

	CHECK_BOX(b, e);
	if (b->readonly)
		return mbi_err(e, MB_FAILED, MB_EPERM, b->path, -1,
			       "mailbox is open read-only");
	if (b->drv->append == NULL || !(b->drv->caps & MB_CAP_APPEND))
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "cannot append to %s mailboxes", b->drv->name);
	if (meta->crlf_text && !(b->drv->caps & MB_CAP_CRLF)) {
		struct mb_reader *lf = mbi_reader_lf(src);

		if (lf == NULL)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
				       "out of memory");
		rc = b->drv->append(b, meta, lf, uid_out, e);
		mb_reader_close(&lf);
	} else {
		rc = b->drv->append(b, meta, src, uid_out, e);
	}
	if (rc == MB_OK)
		b->dirty = true;
	return rc;
}

int
mb_set_uidstate(struct mb_box *b, uint32_t uidvalidity, uint32_t uidnext,
		struct mb_err *e)
{
	CHECK_BOX(b, e);
	if (!(b->drv->caps & MB_CAP_UIDS))
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "%s mailboxes keep no UIDs", b->drv->name);
	if (b->readonly || b->nmsgs != 0 || uidvalidity == 0 || uidnext == 0)
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "UID state can only be set on a new mailbox");
	b->uidvalidity = uidvalidity;
	b->uidlast = uidnext - 1;
	b->dirty = true;
	return MB_OK;
}

int
mb_set_uids(struct mb_box *b, uint32_t uidvalidity, const uint32_t *uids,
	    uint32_t n, uint32_t uidnext, struct mb_err *e)
{
	uint32_t i;
	int rc;

	CHECK_BOX(b, e);
	if (b->readonly)
		return mbi_err(e, MB_FAILED, MB_EPERM, b->path, -1,
			       "mailbox is open read-only");
	if (b->drv->renumber == NULL || !(b->drv->caps & MB_CAP_UIDS))
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "%s mailboxes keep no UIDs", b->drv->name);
	if ((b->mode & MB_STREAM) || !b->scanned || n != b->nmsgs)
		return mbi_err(
			e, MB_FAILED, MB_EINVAL, b->path, -1,
			"renumbering needs a fully scanned, indexed box");
	if (uidvalidity == 0)
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "UIDVALIDITY must not be 0");
	for (i = 0; i < n; i++)
		if (uids[i] == 0 || (i > 0 && uids[i] <= uids[i - 1]))
			return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
				       "UIDs must ascend strictly");
	if (uidnext == 0 || (n > 0 && uidnext <= uids[n - 1]))
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "UIDNEXT must be above the last UID");
	for (i = 0; i < n; i++)
		b->msgs[i].uid = uids[i];
	b->uidvalidity = uidvalidity;
	b->uidlast = uidnext - 1;
	rc = b->drv->renumber(b, e);
	if (rc == MB_OK)
		b->dirty = true;
	return rc;
}

int
mb_new_uidvalidity(struct mb_box *b, struct mb_err *e)
{
	uint32_t v = (uint32_t)time(NULL);

	CHECK_BOX(b, e);
	if (!b->creating || !(b->drv->caps & MB_CAP_UIDS))
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "only a mailbox being created takes a new "
			       "UIDVALIDITY this way");
	b->uidvalidity = v > b->uidvalidity ? v : b->uidvalidity + 1;
	b->dirty = true;
	return MB_OK;
}

int
mb_set_flags(struct mb_box *b, uint32_t seq, unsigned add, unsigned del,
	     uint64_t kw_add, uint64_t kw_del, struct mb_err *e)
{
	struct mb_msg *m;
	unsigned flags;
	uint64_t kw;
	int rc;

	CHECK_BOX(b, e);
	if (b->readonly)
		return mbi_err(e, MB_FAILED, MB_EPERM, b->path, -1,
			       "mailbox is open read-only");
	if (b->drv->set_flags == NULL || !(b->drv->caps & MB_CAP_FLAGS))
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "%s mailboxes keep no flags", b->drv->name);
	if (mb_msg_at(b, seq, &m, e) != MB_OK)
		return MB_FAILED;
	flags = ((m->flags | add) & ~del) & MB_FLAGS_ALL;
	kw = (m->keywords | kw_add) & ~kw_del;
	if (flags == m->flags && kw == m->keywords)
		return MB_OK;
	rc = b->drv->set_flags(b, m, flags, kw, e);
	if (rc == MB_OK) {
		m->flags = flags;
		m->keywords = kw;
		b->dirty = true;
	}
	return rc;
}

int
mb_expunge(struct mb_box *b, uint32_t *expunged, struct mb_err *e)
{
	uint32_t dummy;

	CHECK_BOX(b, e);
	if (expunged == NULL)
		expunged = &dummy;
	*expunged = 0;
	if (b->readonly)
		return mbi_err(e, MB_FAILED, MB_EPERM, b->path, -1,
			       "mailbox is open read-only");
	if (b->drv->expunge == NULL || !(b->drv->caps & MB_CAP_EXPUNGE))
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "cannot expunge %s mailboxes", b->drv->name);
	return b->drv->expunge(b, expunged, e);
}

int
mb_poll(struct mb_box *b, bool *changed, struct mb_err *e)
{
	CHECK_BOX(b, e);
	*changed = false;
	if (b->drv->poll == NULL)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, b->path, -1,
			       "%s mailboxes cannot be polled", b->drv->name);
	return b->drv->poll(b, changed, e);
}

int
mb_delete(struct mb_ctx *ctx, const char *path, struct mb_err *e)
{
	const struct mb_driver *d;

	mb_err_clear(e);
	d = probe_path(path, e);
	if (d == NULL)
		return MB_FAILED;
	if (d->remove == NULL)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, path, -1,
			       "cannot delete %s mailboxes", d->name);
	return d->remove(ctx, path, e);
}

int
mb_rename(struct mb_ctx *ctx, const char *from, const char *to,
	  struct mb_err *e)
{
	const struct mb_driver *d;

	mb_err_clear(e);
	d = probe_path(from, e);
	if (d == NULL)
		return MB_FAILED;
	if (d->rename == NULL)
		return mbi_err(e, MB_FAILED, MB_ENOTSUP, from, -1,
			       "cannot rename %s mailboxes", d->name);
	return d->rename(ctx, from, to, e);
}

/*
 * list.c - walk a tree of mailboxes and report what each entry is: the
 * core of `mailbag list`, `convert -r` and the servers' LIST
 * (shared/spec/uw-formats.md 1.4-1.6: "*" and "%" wildcards, "/" as the
 * hierarchy delimiter, dot files shown, \Marked when the file changed
 * after it was last read).
 *
 * Unlike UW, which follows every symbolic link (and so lists /etc as
 * mailboxes through a link to it, and a link to "." until its depth
 * limit), a link is followed only when its target lies inside the root,
 * and no directory is walked twice.  A directory's entries are read,
 * filtered and sorted before it is reported, so that its \HasChildren is
 * known; only the names of the directories on the current path are kept.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb-int.h"

/* Deeper directories are reported but not walked (UW's list level). */
#define LIST_MAX_DEPTH 64
/* Longest pattern mb_list_match takes. */
#define PATTERN_MAX 1024

struct seen {
	dev_t dev;
	ino_t ino;
	char *name;
};

struct lister {
	struct mb_ctx *ctx;
	const char *pattern;
	unsigned flags;
	mb_list_fn fn;
	void *arg;
	char root[PATH_MAX]; /* the root's real path */
	size_t root_len;
	struct seen *seen; /* directories walked so far */
	size_t nseen, aseen;
	int stop;		 /* fn asked to stop */
	int fail;		 /* out of memory */
	char why[PATH_MAX + 32]; /* a reason built for one entry */
};

struct dent {
	char *name;	/* the directory entry */
	char *child;	/* the name it is listed under, or NULL */
	struct stat st; /* its lstat */
	bool forced;	/* the directory's driver calls it a child
				   mailbox of its format */
};

struct dlist {
	struct dent *v;
	size_t n, a;
	const struct mb_driver *drv; /* the driver of a mailbox directory */
};

/* ------------------------------------------------------------------ */
/* Patterns                                                             */

/*
 * Run the pattern over s as a set of positions in the pattern (so no
 * backtracking): returns false when the set becomes empty.  at[] has
 * room for strlen(pat) + 1 flags.
 */
static bool
pat_run(const char *pat, size_t plen, const char *s, bool *at, bool *nx)
{
	size_t i;
	bool any;

	memset(at, 0, plen + 1);
	at[0] = true;
	for (i = 0; i < plen && at[i] && (pat[i] == '*' || pat[i] == '%'); i++)
		at[i + 1] = true;
	for (; *s != '\0'; s++) {
		memset(nx, 0, plen + 1);
		any = false;
		for (i = 0; i < plen; i++) {
			if (!at[i])
				continue;
			if (pat[i] == '*' || (pat[i] == '%' && *s != '/'))
				nx[i] = any = true;
			else if (pat[i] == *s)
				nx[i + 1] = any = true;
		}
		if (!any)
			return false;
		for (i = 0; i < plen; i++)
			if (nx[i] && (pat[i] == '*' || pat[i] == '%'))
				nx[i + 1] = true;
		memcpy(at, nx, plen + 1);
	}
	return true;
}

/* full: does pat match s; else could it match some s + "...". */
static bool
pat_match(const char *pat, const char *s, bool full)
{
	bool a[PATTERN_MAX + 1], b[PATTERN_MAX + 1];
	size_t plen = strlen(pat);

	if (plen > PATTERN_MAX)
		return false;
	if (!pat_run(pat, plen, s, a, b))
		return false;
	return full ? a[plen] : true;
}

bool
mb_format_dir(const char *format)
{
	const struct mb_driver *d = format ? mbi_driver_by_name(format) : NULL;

	return d != NULL && (d->caps & MB_CAP_DIR) != 0;
}

bool
mb_list_match(const char *pattern, const char *name)
{
	if (pattern == NULL || name == NULL)
		return false;
	return pat_match(pattern, name, true);
}

/* ------------------------------------------------------------------ */
/* Reading one directory                                                */

static void
dlist_free(struct dlist *dl)
{
	size_t i;

	for (i = 0; i < dl->n; i++) {
		free(dl->v[i].name);
		free(dl->v[i].child);
	}
	free(dl->v);
	memset(dl, 0, sizeof(*dl));
}

static const char *
dent_label(const struct dent *d)
{
	return d->child ? d->child : d->name;
}

static int
dent_cmp(const void *a, const void *b)
{
	return strcmp(dent_label(a), dent_label(b));
}

static bool
starts(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static bool
ends(const char *s, const char *p)
{
	size_t n = strlen(s), m = strlen(p);

	return n >= m && strcmp(s + n - m, p) == 0;
}

/* mailbag's own files beside a mailbox (libmbox/durable.c, rewrite.c) */
static bool
mailbag_internal(const char *name)
{
	if (name[0] != '.')
		return false;
	return strstr(name, ".mbtmp.") != NULL || ends(name, ".mbtail") ||
	       strstr(name, ".mbnew.") != NULL || starts(name, ".mbredo.");
}

static bool
dlist_has(const struct dlist *dl, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < dl->n; i++)
		if (strlen(dl->v[i].name) == len &&
		    memcmp(dl->v[i].name, name, len) == 0)
			return true;
	return false;
}

/*
 * A dot-lock "BASE.lock" or a hitching post "BASE.lock.<...>" (UW's and
 * ours, libmbox/lock.c) of a mailbox BASE of the same directory.
 */
static bool
lock_of_sibling(const struct dlist *dl, const char *name)
{
	const char *p = strstr(name, ".lock");

	while (p != NULL) {
		if ((p[5] == '\0' || p[5] == '.') && p > name &&
		    dlist_has(dl, name, (size_t)(p - name)))
			return true;
		p = strstr(p + 1, ".lock");
	}
	return false;
}

/*
 * Read the entries of dir into dl, less ".", "..", mailbag's temporary
 * files, lock files of siblings, dot files under MB_LIST_NODOT and
 * whatever dl->drv's list_child calls its own.  Returns 0 or an errno.
 */
static int
read_dir(struct lister *L, const char *dir, struct dlist *dl)
{
	struct dirent *de;
	struct dent *d;
	char child[PATH_MAX];
	size_t i, j;
	DIR *dp;
	int fd, err, r;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno;
	dp = fdopendir(fd);
	if (dp == NULL) {
		err = errno;
		close(fd);
		return err;
	}
	for (;;) {
		errno = 0;
		de = readdir(dp);
		if (de == NULL) {
			err = errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    mailbag_internal(de->d_name))
			continue;
		if ((L->flags & MB_LIST_NODOT) && de->d_name[0] == '.')
			continue;
		if (dl->n == dl->a) {
			size_t na = dl->a ? dl->a * 2 : 16;
			struct dent *nv =
				mbi_reallocarray(dl->v, na, sizeof(*nv));

			if (nv == NULL) {
				err = ENOMEM;
				break;
			}
			dl->v = nv;
			dl->a = na;
		}
		d = &dl->v[dl->n];
		memset(d, 0, sizeof(*d));
		if (fstatat(fd, de->d_name, &d->st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* gone meanwhile */
			/* keep it: examining it will say what is wrong */
			memset(&d->st, 0, sizeof(d->st));
		}
		child[0] = '\0';
		r = MB_CHILD_OTHER;
		if (dl->drv != NULL && dl->drv->list_child != NULL)
			r = dl->drv->list_child(dir, de->d_name, &d->st, child,
						sizeof(child));
		if (r == MB_CHILD_INTERNAL)
			continue;
		d->forced = r == MB_CHILD_MAILBOX;
		d->name = strdup(de->d_name);
		if (d->name == NULL) {
			err = ENOMEM;
			break;
		}
		if (d->forced && child[0] != '\0' &&
		    strcmp(child, de->d_name) != 0) {
			d->child = strdup(child);
			if (d->child == NULL) {
				free(d->name);
				err = ENOMEM;
				break;
			}
		}
		dl->n++;
	}
	closedir(dp);
	if (err != 0) {
		dlist_free(dl);
		return err;
	}
	/* lock files of the mailboxes beside them */
	for (i = j = 0; i < dl->n; i++) {
		if (lock_of_sibling(dl, dl->v[i].name)) {
			free(dl->v[i].name);
			free(dl->v[i].child);
			continue;
		}
		dl->v[j++] = dl->v[i];
	}
	dl->n = j;
	if (dl->n > 1)
		qsort(dl->v, dl->n, sizeof(*dl->v), dent_cmp);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The walk                                                             */

static const char *
seen_as(const struct lister *L, const struct stat *st)
{
	size_t i;

	for (i = 0; i < L->nseen; i++)
		if (L->seen[i].dev == st->st_dev &&
		    L->seen[i].ino == st->st_ino)
			return L->seen[i].name;
	return NULL;
}

static int
seen_add(struct lister *L, const struct stat *st, const char *name)
{
	struct seen *s;

	if (L->nseen == L->aseen) {
		size_t na = L->aseen ? L->aseen * 2 : 16;

		s = mbi_reallocarray(L->seen, na, sizeof(*s));
		if (s == NULL)
			return -1;
		L->seen = s;
		L->aseen = na;
	}
	s = &L->seen[L->nseen];
	s->name = strdup(name);
	if (s->name == NULL)
		return -1;
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	L->nseen++;
	return 0;
}

/* UW's \Marked: the file changed after it was last read. */
static unsigned
marked(const struct stat *st)
{
	if (st->st_mtime > st->st_atime || st->st_ctime > st->st_atime)
		return MB_LATT_MARKED;
	return MB_LATT_UNMARKED;
}

/* Is the real path of path inside the root?  0, or an errno. */
static int
inside_root(const struct lister *L, const char *path, bool *inside)
{
	char *real = realpath(path, NULL);

	*inside = false;
	if (real == NULL)
		return errno;
	if (strncmp(real, L->root, L->root_len) == 0 &&
	    (real[L->root_len] == '/' || real[L->root_len] == '\0' ||
	     L->root_len == 1))
		*inside = true;
	free(real);
	return 0;
}

static void
report(struct lister *L, struct mb_list_entry *ent)
{
	if (L->stop)
		return;
	if ((ent->kind == MB_LIST_OTHER || ent->kind == MB_LIST_ERROR) &&
	    !(L->flags & MB_LIST_ALL))
		return;
	if (ent->depth > 0 && !pat_match(L->pattern, ent->name, true))
		return;
	L->stop = L->fn(L->arg, ent);
}

static void walk(struct lister *L, const char *dir, const char *rel,
		 unsigned depth, struct dlist *dl);

/* ent->path is a directory (ent->kind MAILBOX or DIR so far): read it,
 * report it, walk it. */
static void
visit_dir(struct lister *L, struct mb_list_entry *ent,
	  const struct mb_driver *drv, const struct stat *st)
{
	struct dlist dl;
	const char *prev;
	char *slash;
	int err;

	memset(&dl, 0, sizeof(dl));
	if (drv != NULL)
		ent->attrs |= MB_LATT_DIRBOX;
	else
		ent->attrs |= MB_LATT_NOSELECT;
	if ((ent->attrs & MB_LATT_SYMLINK) && (L->flags & MB_LIST_NOFOLLOW)) {
		ent->attrs |= MB_LATT_NOWALK;
		ent->reason = "symbolic link not followed";
		report(L, ent);
		return;
	}
	prev = seen_as(L, st);
	if (prev != NULL) {
		ent->attrs |= MB_LATT_NOWALK;
		snprintf(L->why, sizeof(L->why), "same directory as %s%s",
			 *prev ? "" : "the root", prev);
		ent->reason = L->why;
		report(L, ent);
		return;
	}
	if (ent->depth >= LIST_MAX_DEPTH) {
		ent->attrs |= MB_LATT_NOWALK;
		ent->reason = "too deep";
		report(L, ent);
		return;
	}
	dl.drv = drv;
	err = read_dir(L, ent->path, &dl);
	if (err == ENOMEM) {
		L->fail = ENOMEM;
		return;
	}
	if (err != 0) {
		ent->kind = MB_LIST_ERROR;
		ent->attrs &= ~(unsigned)MB_LATT_NOSELECT;
		ent->code = mbi_errno_code(err);
		ent->sys_errno = err;
		ent->reason = strerror(err);
		report(L, ent);
		return;
	}
	ent->attrs |= dl.n ? MB_LATT_HASCHILDREN : MB_LATT_HASNOCHILDREN;
	report(L, ent);
	if (seen_add(L, st, ent->name) < 0) {
		L->fail = ENOMEM;
	} else if (!L->stop && dl.n > 0) {
		/* only where the pattern can match something below */
		slash = malloc(strlen(ent->name) + 2);
		if (slash == NULL) {
			L->fail = ENOMEM;
		} else {
			strcpy(slash, ent->name);
			if (*slash != '\0')
				strcat(slash, "/");
			if (pat_match(L->pattern, slash, false))
				walk(L, ent->path, ent->name, ent->depth + 1,
				     &dl);
			free(slash);
		}
	}
	dlist_free(&dl);
}

/* Does directory path hold nothing but "." and ".."? */
static bool
dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = false;
			break;
		}
	closedir(d);
	return empty;
}

static void
visit(struct lister *L, const char *dir, const char *rel, unsigned depth,
      const struct dlist *parent, const struct dent *d)
{
	struct mb_list_entry ent;
	const struct mb_driver *drv;
	struct mbi_buf name, path;
	struct mb_err e;
	char link[PATH_MAX];
	struct stat st = d->st;
	bool inside;
	ssize_t n;
	int err;

	mbi_buf_init(&name);
	mbi_buf_init(&path);
	if ((*rel && mbi_buf_addf(&name, "%s/", rel) < 0) ||
	    mbi_buf_addstr(&name, dent_label(d)) < 0 ||
	    mbi_buf_addf(&path, "%s%s%s", dir, ends(dir, "/") ? "" : "/",
			 d->name) < 0) {
		L->fail = ENOMEM;
		goto out;
	}
	memset(&ent, 0, sizeof(ent));
	ent.name = name.buf;
	ent.path = path.buf;
	ent.depth = depth;
	ent.kind = MB_LIST_OTHER;

	if (S_ISLNK(st.st_mode)) {
		ent.attrs |= MB_LATT_SYMLINK;
		n = readlink(path.buf, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		ent.link = link;
		err = inside_root(L, path.buf, &inside);
		if (err == ELOOP) {
			ent.reason = "symbolic link loop";
			goto done;
		}
		if (err == ENOENT) {
			ent.reason = "dangling symbolic link";
			goto done;
		}
		if (err == 0 && !inside) {
			ent.reason = "symbolic link out of the tree";
			goto done;
		}
		if (err == 0 && stat(path.buf, &st) < 0)
			err = errno;
		if (err != 0) {
			ent.kind = MB_LIST_ERROR;
			ent.code = mbi_errno_code(err);
			ent.sys_errno = err;
			ent.reason = strerror(err);
			goto done;
		}
	} else if (st.st_mode == 0) {
		/* lstat failed in read_dir: ask again for the reason */
		err = lstat(path.buf, &st) < 0 ? errno : EIO;
		ent.kind = MB_LIST_ERROR;
		ent.code = mbi_errno_code(err);
		ent.sys_errno = err;
		ent.reason = strerror(err);
		goto done;
	}

	if (d->forced) {
		ent.kind = MB_LIST_MAILBOX;
		ent.format = parent->drv->name;
		if (S_ISDIR(st.st_mode)) {
			visit_dir(L, &ent, parent->drv, &st);
			goto out;
		}
		ent.attrs |= MB_LATT_NOINFERIORS | marked(&st);
		goto done;
	}
	if (S_ISREG(st.st_mode)) {
		mb_err_clear(&e);
		drv = mbi_probe(path.buf, NULL, &e);
		if (drv != NULL && (drv->caps & MB_CAP_ANYFILE)) {
			/* phile reads it when named, as UW does; in
			 * a listing it is a plain file */
			ent.reason = "not a mailbox";
		} else if (drv != NULL) {
			ent.kind = MB_LIST_MAILBOX;
			ent.format = drv->name;
			ent.attrs |= MB_LATT_NOINFERIORS | marked(&st);
		} else if (e.code == MB_EFORMAT) {
			ent.reason = "not a mailbox";
		} else {
			ent.kind = MB_LIST_ERROR;
			ent.code = e.code;
			ent.sys_errno = e.sys_errno;
			ent.reason = e.sys_errno ? strerror(e.sys_errno) :
						   "cannot read";
		}
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		mb_err_clear(&e);
		drv = mbi_probe(path.buf, NULL, &e);
		if (drv != NULL && (drv->caps & MB_CAP_ANYFILE) &&
		    dir_empty(path.buf))
			drv = NULL; /* an empty directory is a plain one */
		ent.kind = drv ? MB_LIST_MAILBOX : MB_LIST_DIR;
		ent.format = drv ? drv->name : NULL;
		visit_dir(L, &ent, drv, &st);
		goto out;
	}
	ent.reason = "not a regular file or directory";
done:
	report(L, &ent);
out:
	mbi_buf_free(&name);
	mbi_buf_free(&path);
}

static void
walk(struct lister *L, const char *dir, const char *rel, unsigned depth,
     struct dlist *dl)
{
	size_t i;

	for (i = 0; i < dl->n && !L->stop && !L->fail; i++)
		visit(L, dir, rel, depth, dl, &dl->v[i]);
}

int
mb_list(struct mb_ctx *ctx, const char *root, const char *pattern,
	unsigned flags, mb_list_fn fn, void *arg, struct mb_err *e)
{
	struct mb_list_entry ent;
	const struct mb_driver *drv;
	struct lister L;
	struct mb_err pe;
	struct stat st;
	size_t i;
	int rc = MB_OK;

	mb_err_clear(e);
	if (ctx == NULL || root == NULL || *root == '\0' || fn == NULL)
		return mbi_err(e, MB_FAILED, MB_EINVAL, root, -1,
			       "no directory to list");
	if (pattern == NULL)
		pattern = "*";
	if (strlen(pattern) > PATTERN_MAX)
		return mbi_err(e, MB_FAILED, MB_EINVAL, root, -1,
			       "pattern too long");
	if (stat(root, &st) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, root,
				   "cannot list mailboxes");
	if (!S_ISDIR(st.st_mode))
		return mbi_err(e, MB_FAILED, MB_EINVAL, root, -1,
			       "not a directory");
	memset(&L, 0, sizeof(L));
	if (realpath(root, L.root) == NULL)
		return mbi_err_sys(e, MB_FAILED, errno, root,
				   "cannot list mailboxes");
	L.root_len = strlen(L.root);
	L.ctx = ctx;
	L.pattern = pattern;
	L.flags = flags;
	L.fn = fn;
	L.arg = arg;

	/* the root: a plain directory, or a directory mailbox */
	mb_err_clear(&pe);
	drv = mbi_probe(root, NULL, &pe);
	memset(&ent, 0, sizeof(ent));
	ent.name = "";
	ent.path = root;
	ent.kind = drv ? MB_LIST_MAILBOX : MB_LIST_DIR;
	ent.format = drv ? drv->name : NULL;
	{
		struct dlist dl;
		int err;

		memset(&dl, 0, sizeof(dl));
		dl.drv = drv;
		err = read_dir(&L, root, &dl);
		if (err != 0) {
			rc = mbi_err_sys(e, MB_FAILED, err, root,
					 "cannot list mailboxes");
			goto out;
		}
		ent.attrs =
			(drv ? MB_LATT_DIRBOX : MB_LATT_NOSELECT) |
			(dl.n ? MB_LATT_HASCHILDREN : MB_LATT_HASNOCHILDREN);
		if (flags & MB_LIST_ROOT)
			L.stop = fn(arg, &ent);
		if (seen_add(&L, &st, "") < 0)
			L.fail = ENOMEM;
		else if (!L.stop)
			walk(&L, root, "", 1, &dl);
		dlist_free(&dl);
	}
	if (L.fail)
		rc = mbi_err(e, MB_FAILED, MB_ENOMEM, root, -1,
			     "out of memory");
out:
	for (i = 0; i < L.nseen; i++)
		free(L.seen[i].name);
	free(L.seen);
	return rc;
}

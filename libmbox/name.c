/*
 * name.c - mailbox names to paths (shared/spec/uw-formats.md 1.4, 1.6).
 *
 * Unlike UW, which puts every plain name under the home directory, a
 * plain relative name is relative to the current directory, as shell
 * users expect; the UW rule survives inside "#driver.NAME/rest", where
 * rest is relative to the home directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mb-int.h"

#define USER_MAX   256 /* longer than any real login name */
#define DRIVER_MAX 64

static bool
eq_ci_n(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
		if (x == 0)
			break;
	}
	return true;
}

/*
 * The password entry of user (NULL: of our real uid), in *bufp which the
 * caller frees.  Returns 0, ENOENT when there is no such user, or an
 * errno.  The buffer grows until the entry fits, since the size hint of
 * sysconf is only a hint.
 */
static int
pw_lookup(const char *user, struct passwd *pw, char **bufp)
{
	size_t size = 1024;
	struct passwd *res;
	char *buf, *nb;
	int r;

	*bufp = NULL;
	for (buf = NULL;; size *= 2) {
		nb = realloc(buf, size);
		if (nb == NULL) {
			free(buf);
			return ENOMEM;
		}
		buf = nb;
		res = NULL;
		r = user ? getpwnam_r(user, pw, buf, size, &res) :
			   getpwuid_r(getuid(), pw, buf, size, &res);
		if (r == ERANGE && size < (1u << 20))
			continue;
		break;
	}
	if (r == 0 && res == NULL)
		r = ENOENT;
	if (r != 0) {
		free(buf);
		return r;
	}
	*bufp = buf;
	return 0;
}

/* dir "/" rest into buf; rest "" gives dir itself. */
static int
join(char *buf, size_t size, const char *dir, const char *rest,
     struct mb_err *e)
{
	size_t dl = strlen(dir);
	int n;

	if (*rest == '\0')
		n = snprintf(buf, size, "%s", dir);
	else
		n = snprintf(buf, size, "%s%s%s", dir,
			     dl > 0 && dir[dl - 1] == '/' ? "" : "/", rest);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "name too long");
	}
	return MB_OK;
}

/* rest under $HOME, or under the password file's home without HOME. */
static int
under_home(const char *rest, char *buf, size_t size, struct mb_err *e)
{
	const char *home = getenv("HOME");
	struct passwd pw;
	char *pwbuf;
	int r;

	if (home != NULL && *home != '\0')
		return join(buf, size, home, rest, e);
	r = pw_lookup(NULL, &pw, &pwbuf);
	if (r != 0 || pw.pw_dir == NULL || pw.pw_dir[0] == '\0') {
		if (r == 0)
			free(pwbuf);
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "cannot find the home directory: HOME is not "
			       "set and uid %u has no password entry",
			       (unsigned)getuid());
	}
	r = join(buf, size, pw.pw_dir, rest, e);
	free(pwbuf);
	return r;
}

/* "~", "~/x", "~user", "~user/x". */
static int
tilde(const char *name, char *buf, size_t size, struct mb_err *e)
{
	const char *slash = strchr(name, '/');
	size_t ulen = slash ? (size_t)(slash - name - 1) : strlen(name + 1);
	const char *rest = slash ? slash + 1 : "";
	char user[USER_MAX];
	struct passwd pw;
	char *pwbuf;
	int r;

	if (ulen == 0)
		return under_home(rest, buf, size, e);
	if (ulen >= sizeof(user))
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "no such user '%.*s...'", 32, name + 1);
	memcpy(user, name + 1, ulen);
	user[ulen] = '\0';
	r = pw_lookup(user, &pw, &pwbuf);
	if (r == ENOMEM)
		return mbi_err_sys(e, MB_FAILED, r, NULL,
				   "cannot look up user '%s'", user);
	if (r != 0 || pw.pw_dir == NULL || pw.pw_dir[0] == '\0') {
		if (r == 0)
			free(pwbuf);
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "no such user '%s'", user);
	}
	r = join(buf, size, pw.pw_dir, rest, e);
	free(pwbuf);
	return r;
}

static int
copy_name(const char *name, char *buf, size_t size, struct mb_err *e)
{
	size_t n = strlen(name);

	if (n >= size) {
		buf[0] = '\0';
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "name too long");
	}
	memcpy(buf, name, n + 1);
	return MB_OK;
}

/* What no resolver here handles: empty, remote and other '#' names. */
static int
unsupported(const char *name, struct mb_err *e)
{
	if (*name == '\0')
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "empty mailbox name");
	if (*name == '{')
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "remote mailbox names are not supported: '%s'",
			       name);
	if (*name == '#')
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "unsupported name space in '%s'", name);
	return MB_OK;
}

/* The spool file <spool_dir>/<login of the real uid>. */
static int
spool_path(struct mb_ctx *ctx, char *buf, size_t size, struct mb_err *e)
{
	struct passwd pw;
	char *pwbuf;
	int r;

	/* Named after the login of the real uid, not $USER, which anyone
	 * can set. */
	r = pw_lookup(NULL, &pw, &pwbuf);
	if (r != 0 || pw.pw_name == NULL || pw.pw_name[0] == '\0' ||
	    strchr(pw.pw_name, '/') != NULL) {
		if (r == 0)
			free(pwbuf);
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "cannot find the user name of uid %u",
			       (unsigned)getuid());
	}
	r = join(buf, size, ctx->spool_dir, pw.pw_name, e);
	free(pwbuf);
	return r;
}

/*
 * The MH profile ($MH, else ~/.mh_profile): the value of the first line
 * whose field name is field (case-insensitive), blanks around it
 * dropped, into buf.  MB_OK; MB_END when the profile has no such field;
 * MB_FAILED when there is no profile (*e names it, as UW says it).
 */
int
mbi_mh_profile(const char *field, char *buf, size_t size, struct mb_err *e)
{
	char path[PATH_MAX], *line = NULL;
	const char *env = getenv("MH");
	size_t cap = 0, fl = strlen(field);
	ssize_t n;
	FILE *f;
	int r = MB_END;

	if (env != NULL && *env != '\0') {
		if (env[0] == '/')
			r = copy_name(env, path, sizeof(path), e);
		else
			r = under_home(env, path, sizeof(path), e);
	} else {
		r = under_home(".mh_profile", path, sizeof(path), e);
	}
	if (r != MB_OK)
		return r;
	f = fopen(path, "re");
	if (f == NULL && errno == ENOENT)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "%s not found, mh format names disabled", path);
	if (f == NULL)
		return mbi_err_sys(e, MB_FAILED, errno, path,
				   "cannot read the MH profile");
	r = MB_END;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *v, *end;

		if ((size_t)n <= fl || !eq_ci_n(line, field, fl) ||
		    line[fl] != ':')
			continue;
		v = line + fl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		end = v + strlen(v);
		while (end > v && (end[-1] == '\n' || end[-1] == '\r' ||
				   end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if ((size_t)(end - v) >= size)
			r = mbi_err(e, MB_FAILED, MB_EINVAL, path, -1,
				    "%s: value too long", field);
		else {
			memcpy(buf, v, (size_t)(end - v) + 1);
			r = MB_OK;
		}
		break;
	}
	free(line);
	fclose(f);
	return r;
}

/*
 * "#mh/folder" and "#mhinbox" (spec 8): folders under the profile's
 * Path (relative to the home directory; ~/Mail without one).  A folder
 * name may not climb out ("..") and no component may be all digits
 * (those are messages).
 */
static int
mh_name(const char *name, char *buf, size_t size, const char **format,
	struct mb_err *e)
{
	char root[PATH_MAX], tmp[PATH_MAX];
	const char *folder, *p;
	int r;

	if (eq_ci_n(name, "#mhinbox", 9))
		folder = "inbox";
	else
		folder = name + 4;
	if (*folder == '\0' || *folder == '/')
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "invalid MH-format name '%s'", name);
	for (p = folder; *p != '\0';) {
		size_t n = strcspn(p, "/"), i;

		for (i = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			;
		if (n == 0 || i == n || (n == 2 && memcmp(p, "..", 2) == 0) ||
		    (n == 1 && p[0] == '.'))
			return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
				       "invalid MH-format name '%s'", name);
		p += n;
		if (*p == '/')
			p++;
	}
	r = mbi_mh_profile("Path", root, sizeof(root), e);
	if (r == MB_END)
		snprintf(root, sizeof(root), "Mail");
	else if (r != MB_OK)
		return r;
	if (root[0] == '/')
		r = copy_name(root, tmp, sizeof(tmp), e);
	else
		r = under_home(root, tmp, sizeof(tmp), e);
	if (r == MB_OK)
		r = join(buf, size, tmp, folder, e);
	if (r == MB_OK && format != NULL)
		*format = "mh";
	return r;
}

enum kind { K_ABSENT, K_EMPTY, K_OTHER };

/*
 * Does driver name (if this build has it) claim path?  *kind says what
 * the path is otherwise: absent, an empty regular file, something else.
 */
static bool
claims(const char *name, const char *path, enum kind *kind)
{
	const struct mb_driver *d = mbi_driver_by_name(name);
	unsigned char head[4096];
	struct stat st;
	ssize_t len = 0;
	int fd;

	*kind = K_ABSENT;
	if (stat(path, &st) != 0)
		return false;
	*kind = S_ISREG(st.st_mode) && st.st_size == 0 ? K_EMPTY : K_OTHER;
	if (d == NULL || d->probe == NULL)
		return false;
	if (S_ISDIR(st.st_mode) != ((d->caps & MB_CAP_DIR) != 0))
		return false;
	if (S_ISREG(st.st_mode)) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOATIME);
		if (fd < 0 && errno == EPERM)
			fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return false;
		len = mbi_pread_full(fd, head, sizeof(head), 0);
		close(fd);
		if (len < 0)
			return false;
		if ((size_t)len > d->probe_len)
			len = (ssize_t)d->probe_len;
	} else if (!S_ISDIR(st.st_mode)) {
		return false;
	}
	return d->probe(path, &st, S_ISDIR(st.st_mode) ? NULL : head,
			(size_t)len) > 0;
}

/*
 * UW's INBOX drivers after mbox, in UW's driver order (spec 13): the
 * format, the file under the home directory, and whether an empty file
 * of that name already counts.  Formats this build lacks are skipped,
 * so a driver added to the registry joins in by its name alone.
 */
static const struct {
	const char *format;
	const char *file;
	bool empty_ok;
} home_inboxes[] = {
	{ "mix", "INBOX", false },   { "mx", "INBOX", false },
	{ "mbx", "INBOX", false },   { "tenex", "mail.txt", true },
	{ "tenex", "INBOX", false }, { "mtx", "INBOX.MTX", true },
	{ "mtx", "INBOX", false },
};

int
mb_inbox(struct mb_ctx *ctx, struct mb_inbox *out, struct mb_err *e)
{
	enum kind sk, k;
	char p[PATH_MAX];
	size_t i;
	int r;

	if (out == NULL)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "no room for the path");
	memset(out, 0, sizeof(*out));
	if (ctx == NULL)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "INBOX needs a context");
	r = spool_path(ctx, out->spool, sizeof(out->spool), e);
	if (r != MB_OK)
		return r;

	/* The spool's own format: MMDF, else UNIX (rules 8 and 9). */
	if (claims("mmdf", out->spool, &sk))
		out->spool_format = "mmdf";
	else if (claims("unix", out->spool, &sk))
		out->spool_format = "unix";

	/* 1. ~/mbox in UNIX format or empty, with a UNIX, empty or
	 * missing spool: new mail moves into it. */
	r = under_home("mbox", p, sizeof(p), e);
	if (r != MB_OK)
		return r;
	if ((claims("unix", p, &k) || k == K_EMPTY) &&
	    (sk != K_OTHER || (out->spool_format != NULL &&
			       strcmp(out->spool_format, "unix") == 0))) {
		snprintf(out->path, sizeof(out->path), "%s", p);
		out->format = "unix";
		out->rule = "mbox";
		out->exists = true;
		out->moves_spool = true;
		return MB_OK;
	}

	/* 2-7. A mailbox of UW's other INBOX formats in the home. */
	for (i = 0; i < sizeof(home_inboxes) / sizeof(home_inboxes[0]); i++) {
		const char *f = home_inboxes[i].format;

		r = under_home(home_inboxes[i].file, p, sizeof(p), e);
		if (r != MB_OK)
			return r;
		if (claims(f, p, &k) ||
		    (k == K_EMPTY && home_inboxes[i].empty_ok &&
		     mbi_driver_by_name(f) != NULL)) {
			snprintf(out->path, sizeof(out->path), "%s", p);
			out->format = mbi_driver_by_name(f)->name;
			out->rule = home_inboxes[i].file;
			out->exists = true;
			out->moves_spool = true;
			return MB_OK;
		}
	}

	/* 8-10. The spool file itself. */
	snprintf(out->path, sizeof(out->path), "%s", out->spool);
	out->format = out->spool_format;
	out->rule = "spool";
	out->exists = sk != K_ABSENT;
	return MB_OK;
}

/* "#driver.NAME<delim>rest", delim one of / \ : (spec 1.6). */
static int
driver_name(const char *name, char *buf, size_t size, const char **format,
	    struct mb_err *e)
{
	const char *p = name + strlen("#driver.");
	size_t dl = strcspn(p, "/\\:");
	const struct mb_driver *drv;
	char dname[DRIVER_MAX];
	const char *rest;
	int r;

	if (p[dl] == '\0' || dl == 0)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "bad driver syntax in '%s'", name);
	if (dl >= sizeof(dname))
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "unknown driver '%.*s...'", 32, p);
	memcpy(dname, p, dl);
	dname[dl] = '\0';
	drv = mbi_driver_by_name(dname);
	if (drv == NULL || drv->name == NULL)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "unknown driver '%s'", dname);

	/* The rest is a name as UW reads it: relative to the home
	 * directory, INBOX included ("#driver.mbx/INBOX" is ~/INBOX). */
	rest = p + dl + 1;
	if (eq_ci_n(rest, "#mh/", 4) || eq_ci_n(rest, "#mhinbox", 9))
		r = mh_name(rest, buf, size, NULL,
			    e); /* UW: #driver.mh/#mh/x */
	else if ((r = unsupported(rest, e)) != MB_OK)
		return r;
	else if (rest[0] == '/')
		r = copy_name(rest, buf, size, e);
	else if (rest[0] == '~')
		r = tilde(rest, buf, size, e);
	else
		r = under_home(rest, buf, size, e);
	if (r == MB_OK && format != NULL)
		*format = drv->name;
	return r;
}

static int
inbox_name(struct mb_ctx *ctx, char *path, size_t size, const char **format,
	   struct mb_err *e)
{
	struct mb_inbox in;
	int r;

	r = mb_inbox(ctx, &in, e);
	if (r != MB_OK)
		return r;
	r = copy_name(in.path, path, size, e);
	/* an empty ~/mbox is UNIX by rule, not by content */
	if (r == MB_OK && format != NULL && in.moves_spool)
		*format = in.format;
	return r;
}

int
mb_resolve_name(struct mb_ctx *ctx, const char *name, char *path, size_t size,
		const char **format, struct mb_err *e)
{
	int r;

	if (format != NULL)
		*format = NULL;
	if (path == NULL || size == 0)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "no room for the path");
	path[0] = '\0';
	if (name == NULL)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "empty mailbox name");
	if (name[0] == '{')
		r = copy_name(name, path, size,
			      e); /* remote: net.c parses it */
	else if (eq_ci_n(name, "#driver.", 8))
		r = driver_name(name, path, size, format, e);
	else if (eq_ci_n(name, "#mh/", 4) || eq_ci_n(name, "#mhinbox", 9))
		r = mh_name(name, path, size, format, e);
	else if (unsupported(name, e) != MB_OK)
		r = MB_FAILED;
	else if (eq_ci_n(name, "INBOX", 6))
		r = inbox_name(ctx, path, size, format, e);
	else if (name[0] == '~')
		r = tilde(name, path, size, e);
	else
		r = copy_name(name, path, size, e);
	if (r != MB_OK)
		path[0] = '\0';
	return r;
}

/*
 * convert-tree.c - `mailbag convert -r SRC DST`: recreate the tree SRC
 * at DST, mailbox by mailbox, with mb_list (libmbox/list.c).
 *
 * Each mailbox goes through the one-mailbox copy of cmd/convert.c, so it
 * is built under a temporary name and published whole, or not at all.
 * Directories are made as the walk reaches them (parents first),
 * symbolic links inside the tree are made again with the same text and
 * never followed, files that are no mailbox are left out, and every
 * entry gets one line on stdout.  A failure stops only its own entry;
 * the exit status is the highest one of the entries.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "convert-tree.h"

struct tree_run {
	struct tree_conv *t;
	const char *src, *dst;
	unsigned mailboxes, failed, skipped, dirs, links;
	int worst;
};

static void
worse(struct tree_run *r, int code)
{
	if (code > r->worst)
		r->worst = code;
}

/* DST's counterpart of entry name ("" is DST itself); caller frees. */
static char *
dst_path(const struct tree_run *r, const char *name)
{
	size_t n = strlen(r->dst) + strlen(name) + 2;
	char *p = xmalloc(n);

	snprintf(p, n, "%s%s%s", r->dst, *name ? "/" : "", name);
	return p;
}

/* Make a new directory durable: fsync the directory holding it. */
static int
sync_parent(const char *path)
{
	char *tmp = xstrdup(path);
	int fd, rc = 0;

	fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = -1;
	if (fd >= 0)
		close(fd);
	free(tmp);
	return rc;
}

static void
line_fail(struct tree_run *r, const char *src, const char *dst, int code,
	  const char *why)
{
	struct json j;

	r->failed++;
	worse(r, code);
	if (r->t->json) {
		json_begin(&j, stdout, "convert-error");
		json_str(&j, "source", src);
		json_str(&j, "destination", dst);
		json_str(&j, "error", why);
		json_int(&j, "exit", code);
		json_end(&j);
	} else {
		printf("failed %s: %s\n", src, why);
	}
}

static void
line_skip(struct tree_run *r, const char *src, const char *why)
{
	struct json j;

	r->skipped++;
	if (r->t->json) {
		json_begin(&j, stdout, "convert-skip");
		json_str(&j, "source", src);
		json_str(&j, "reason", why);
		json_end(&j);
	} else {
		printf("skipped %s: %s\n", src, why);
	}
}

/* A directory at dst, with the permissions of src's. */
static void
make_dir(struct tree_run *r, const char *src, const char *dst, bool quiet)
{
	struct stat st;
	mode_t mode = 0700;
	bool exists = false;
	struct json j;
	char why[512];

	if (stat(src, &st) == 0)
		mode = st.st_mode & 0777;
	if (!r->t->dry_run && mkdir(dst, mode) < 0) {
		if (errno != EEXIST || stat(dst, &st) < 0 ||
		    !S_ISDIR(st.st_mode)) {
			snprintf(why, sizeof(why), "cannot make %s: %s", dst,
				 errno == EEXIST ? "it exists and is no "
						   "directory" :
						   strerror(errno));
			line_fail(r, src, dst, EX_CANTCREAT, why);
			return;
		}
		exists = true;
	} else if (!r->t->dry_run && sync_parent(dst) < 0) {
		snprintf(why, sizeof(why),
			 "cannot sync the directory of %s: %s", dst,
			 strerror(errno));
		line_fail(r, src, dst, EX_IOERR, why);
		return;
	}
	r->dirs++;
	if (quiet)
		return;
	if (r->t->json) {
		json_begin(&j, stdout, "convert-dir");
		json_bool(&j, "dry_run", r->t->dry_run);
		json_str(&j, "source", src);
		json_str(&j, "destination", dst);
		json_bool(&j, "existed", exists);
		json_end(&j);
	} else {
		printf("%s %s%s\n",
		       r->t->dry_run ? "would make directory" : "directory",
		       dst, exists ? " (exists)" : "");
	}
}

/* A symbolic link inside the tree: the same link at dst. */
static void
make_link(struct tree_run *r, const struct mb_list_entry *ent, const char *dst)
{
	struct json j;
	char why[512];

	if (ent->link == NULL || ent->link[0] == '\0' || ent->link[0] == '/') {
		line_skip(r, ent->path,
			  "absolute symbolic link (it would point into the "
			  "source)");
		return;
	}
	if (!r->t->dry_run &&
	    (symlink(ent->link, dst) < 0 || sync_parent(dst) < 0)) {
		snprintf(why, sizeof(why), "cannot make link %s: %s", dst,
			 strerror(errno));
		line_fail(r, ent->path, dst,
			  errno == EEXIST ? EX_CANTCREAT : EX_IOERR, why);
		return;
	}
	r->links++;
	if (r->t->json) {
		json_begin(&j, stdout, "convert-link");
		json_bool(&j, "dry_run", r->t->dry_run);
		json_str(&j, "source", ent->path);
		json_str(&j, "destination", dst);
		json_str(&j, "target", ent->link);
		json_end(&j);
	} else {
		printf("%s %s -> %s\n", r->t->dry_run ? "would link" : "link",
		       dst, ent->link);
	}
}

static void
copy_box(struct tree_run *r, const struct mb_list_entry *ent, const char *dst)
{
	const char *to = r->t->to ? r->t->to : ent->format;
	char why[512];
	int rc;

	if ((ent->attrs & MB_LATT_HASCHILDREN) && !mb_format_dir(to)) {
		/* a dual-use name: a file cannot hold the children, which
		 * go into a plain directory of that name */
		make_dir(r, ent->path, dst, true);
		snprintf(why, sizeof(why),
			 "a mailbox with child mailboxes, and %s mailboxes "
			 "cannot have children: its messages were not copied, "
			 "its children go to the directory %s",
			 to, dst);
		line_fail(r, ent->path, dst, EX_CANTCREAT, why);
		return;
	}
	rc = r->t->one(r->t->arg, ent->path, dst, ent->format, to);
	if (rc == 0) {
		r->mailboxes++;
		return;
	}
	snprintf(why, sizeof(why),
		 "not copied (exit %d, see the message "
		 "above)",
		 rc);
	line_fail(r, ent->path, dst, rc, why);
}

static int
on_entry(void *arg, const struct mb_list_entry *ent)
{
	struct tree_run *r = arg;
	char *dst = dst_path(r, ent->name);

	if ((ent->attrs & MB_LATT_SYMLINK) && ent->kind != MB_LIST_ERROR &&
	    ent->kind != MB_LIST_OTHER) {
		make_link(r, ent, dst);
	} else {
		switch (ent->kind) {
		case MB_LIST_DIR:
			make_dir(r, ent->path, dst, false);
			break;
		case MB_LIST_MAILBOX:
			copy_box(r, ent, dst);
			break;
		case MB_LIST_OTHER:
			line_skip(r, ent->path,
				  ent->reason ? ent->reason : "not a mailbox");
			break;
		default:
			line_fail(r, ent->path, dst, exit_code(ent->code),
				  ent->reason ? ent->reason : "cannot read");
			break;
		}
	}
	fflush(stdout);
	free(dst);
	return 0;
}

/*
 * The real path dst would have: the real path of its deepest existing
 * ancestor, then the rest as written.  Caller frees; NULL on failure.
 */
static char *
real_dst(const char *dst)
{
	char *head = xstrdup(dst), *real = NULL, *out, *slash;
	const char *rest = "";
	size_t n;

	for (;;) {
		real = realpath(*head ? head : "/", NULL);
		if (real != NULL || errno != ENOENT)
			break;
		slash = strrchr(head, '/');
		if (slash == NULL) {
			real = realpath(".", NULL);
			rest = dst;
			break;
		}
		*slash = '\0';
		rest = dst + (slash - head) + 1;
	}
	free(head);
	if (real == NULL)
		return NULL;
	while (*rest == '/')
		rest++;
	n = strlen(real) + strlen(rest) + 2;
	out = xmalloc(n);
	snprintf(out, n, "%s%s%s", real, *rest ? "/" : "", rest);
	free(real);
	return out;
}

static void
summary(const struct tree_run *r)
{
	struct json j;

	if (r->t->json) {
		json_begin(&j, stdout, "convert-tree");
		json_bool(&j, "dry_run", r->t->dry_run);
		json_str(&j, "source", r->src);
		json_str(&j, "destination", r->dst);
		json_uint(&j, "mailboxes", r->mailboxes);
		json_uint(&j, "failed", r->failed);
		json_uint(&j, "skipped", r->skipped);
		json_uint(&j, "directories", r->dirs);
		json_uint(&j, "links", r->links);
		json_int(&j, "exit", r->worst);
		json_end(&j);
		return;
	}
	printf("%s %u mailboxes, %u directories, %u links; %u failed, "
	       "%u skipped\n",
	       r->t->dry_run ? "would copy" : "copied", r->mailboxes, r->dirs,
	       r->links, r->failed, r->skipped);
}

int
convert_tree(struct tree_conv *t, const char *src, const char *dst)
{
	const char *prog = t->env->prog;
	struct tree_run r;
	struct mb_err e;
	char *rs, *rd;
	size_t n;
	bool inside;
	struct stat st;

	memset(&r, 0, sizeof(r));
	r.t = t;
	r.src = src;
	r.dst = dst;

	if (stat(src, &st) < 0) {
		mb_err_clear(&e);
		e.code = errno == ENOENT ? MB_ENOENT : MB_EIO;
		warnmsg(prog, "%s: %s", src, strerror(errno));
		return exit_code(e.code);
	}
	if (!S_ISDIR(st.st_mode)) {
		warnmsg(prog,
			"%s: not a directory (convert a single mailbox "
			"without -r)",
			src);
		return EX_USAGE;
	}
	rs = realpath(src, NULL);
	rd = real_dst(dst);
	if (rs == NULL || rd == NULL) {
		warnmsg(prog, "%s: %s", rs ? dst : src, strerror(errno));
		free(rs);
		free(rd);
		return EX_CANTCREAT;
	}
	n = strlen(rs);
	inside = strncmp(rd, rs, n) == 0 &&
		 (rd[n] == '\0' || rd[n] == '/' || strcmp(rs, "/") == 0);
	free(rs);
	free(rd);
	if (inside) {
		warnmsg(prog,
			"'%s' is inside '%s': a tree cannot be copied "
			"into itself",
			dst, src);
		return EX_USAGE;
	}
	if (lstat(dst, &st) == 0 && !S_ISDIR(st.st_mode)) {
		warnmsg(prog, "'%s' exists and is no directory", dst);
		return EX_CANTCREAT;
	}

	mb_err_clear(&e);
	if (mb_list(t->env->ctx, src, "*",
		    MB_LIST_ALL | MB_LIST_ROOT | MB_LIST_NOFOLLOW, on_entry, &r,
		    &e) != MB_OK) {
		worse(&r, report_err(prog, src, &e));
	}
	summary(&r);
	return r.worst;
}

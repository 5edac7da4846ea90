/*
 * Unit tests for libmbox/list.c: LIST patterns and the tree walk, with
 * the real unix driver and a directory driver made up here that uses
 * the list_child hook (internal files, Maildir++-style ".A.B" children,
 * other children inside it: a dual-use mailbox).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats.h"
#include "mb-int.h"
#include "tap.h"

static int
fake_probe(const char *path, const struct stat *st, const unsigned char *head,
	   size_t len)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/.fakemeta", path);
	return access(p, F_OK) == 0 ? 100 : 0;
}

static int
fake_child(const char *dir, const char *name, const struct stat *st,
	   char *child, size_t size)
{
	size_t i;

	if (strcmp(name, ".fakemeta") == 0 ||
	    strspn(name, "0123456789") == strlen(name))
		return MB_CHILD_INTERNAL;
	if (name[0] == '.' && name[1] != '\0' && S_ISDIR(st->st_mode)) {
		snprintf(child, size, "%s", name + 1);
		for (i = 0; child[i] != '\0'; i++)
			if (child[i] == '.')
				child[i] = '/';
		return MB_CHILD_MAILBOX;
	}
	return MB_CHILD_OTHER;
}

static const struct mb_driver fake_dir = {
	.name = "fakedir",
	.caps = MB_CAP_DIR,
	.probe = fake_probe,
	.list_child = fake_child,
};

/* A stand-in for formats/registry.c with the made-up driver. */
const struct mb_driver *const mbi_drivers[] = { &fake_dir, &mbi_driver_unix,
						NULL };

const struct mb_driver *
mbi_driver_by_name(const char *name)
{
	size_t i;

	for (i = 0; mbi_drivers[i] != NULL; i++)
		if (strcmp(mbi_drivers[i]->name, name) == 0)
			return mbi_drivers[i];
	return NULL;
}

struct out {
	char buf[8192];
	size_t len;
	int stop_after; /* 0: never */
	int seen;
};

static int
collect(void *arg, const struct mb_list_entry *ent)
{
	static const char *const kinds[] = { "mailbox", "dir", "other",
					     "error" };
	struct out *o = arg;
	size_t room = sizeof(o->buf) - o->len;
	int n;

	n = snprintf(o->buf + o->len, room, "%s %s%s%s%s%s%s%s%s%s%s\n",
		     ent->name, kinds[ent->kind], ent->format ? " " : "",
		     ent->format ? ent->format : "",
		     ent->attrs & MB_LATT_DIRBOX ? " dirbox" : "",
		     ent->attrs & MB_LATT_HASCHILDREN ? " children" : "",
		     ent->attrs & MB_LATT_NOINFERIORS ? " noinferiors" : "",
		     ent->attrs & MB_LATT_SYMLINK ? " symlink" : "",
		     ent->reason ? " (" : "", ent->reason ? ent->reason : "",
		     ent->reason ? ")" : "");
	if (n > 0 && (size_t)n < room)
		o->len += (size_t)n;
	o->seen++;
	return o->stop_after != 0 && o->seen >= o->stop_after;
}

static void
put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		diag("cannot write %s", path);
	if (fd >= 0)
		close(fd);
}

#define MBOX "From a@b Wed Dec  2 05:53:22 1992\nSubject: x\n\nhi\n"

static void
make_tree(void)
{
	mkdir("root", 0700);
	put("root/inbox", MBOX);
	put("root/inbox.lock", "");
	put("root/.inbox.mbtmp.1.2", MBOX);
	put("root/.hidden", MBOX);
	mkdir("root/box", 0700);
	put("root/box/.fakemeta", "");
	put("root/box/1", "msg");
	put("root/box/2", "msg");
	mkdir("root/box/.Sent", 0700);
	put("root/box/.Sent/.fakemeta", "");
	mkdir("root/box/.Sent.Old", 0700);
	put("root/box/.Sent.Old/.fakemeta", "");
	mkdir("root/box/kids", 0700);
	put("root/box/kids/m", MBOX);
	put("root/box/note", "not mail\n");
	mkdir("root/plain", 0700);
	symlink("..", "root/plain/up");
	symlink(".", "root/loop");
	symlink("/", "root/out");
	symlink("nowhere", "root/dang");
	symlink("b", "root/a");
	symlink("a", "root/b");
	symlink("inbox", "root/lnk");
}

static const char want_all[] =
	" dir children\n"
	".hidden mailbox unix noinferiors\n"
	"a other symlink (symbolic link loop)\n"
	"b other symlink (symbolic link loop)\n"
	"box mailbox fakedir dirbox children\n"
	"box/Sent mailbox fakedir dirbox\n"
	"box/Sent/Old mailbox fakedir dirbox\n"
	"box/kids dir children\n"
	"box/kids/m mailbox unix noinferiors\n"
	"box/note other (not a mailbox)\n"
	"dang other symlink (dangling symbolic link)\n"
	"inbox mailbox unix noinferiors\n"
	"lnk mailbox unix noinferiors symlink\n"
	"loop dir symlink (same directory as the root)\n"
	"out other symlink (symbolic link out of the tree)\n"
	"plain dir children\n"
	"plain/up dir symlink (same directory as the root)\n";

static const char want_plain[] =
	".hidden mailbox unix noinferiors\n"
	"box mailbox fakedir dirbox children\n"
	"box/Sent mailbox fakedir dirbox\n"
	"box/Sent/Old mailbox fakedir dirbox\n"
	"box/kids dir children\n"
	"box/kids/m mailbox unix noinferiors\n"
	"inbox mailbox unix noinferiors\n"
	"lnk mailbox unix noinferiors symlink\n"
	"loop dir symlink (same directory as the root)\n"
	"plain dir children\n"
	"plain/up dir symlink (same directory as the root)\n";

static const char want_pct[] = "box mailbox fakedir dirbox children\n"
			       "inbox mailbox unix noinferiors\n"
			       "lnk mailbox unix noinferiors symlink\n"
			       "loop dir symlink (same directory as the root)\n"
			       "plain dir children\n";

static const char want_box[] = "box/Sent mailbox fakedir dirbox\n"
			       "box/kids dir children\n";

static const char want_nofollow[] =
	"loop dir symlink (symbolic link not followed)\n";

static int
list(const char *pattern, unsigned flags, struct out *o)
{
	struct mb_ctx *ctx = mb_ctx_new();
	struct mb_err e;
	int rc;

	o->len = 0;
	o->buf[0] = '\0';
	o->seen = 0;
	rc = mb_list(ctx, "root", pattern, flags, collect, o, &e);
	o->buf[o->len] = '\0';
	mb_ctx_free(&ctx);
	return rc;
}

int
main(void)
{
	static const struct {
		const char *pat, *name;
		bool match;
	} pm[] = {
		{ "*", "a/b/c", true },
		{ "%", "a", true },
		{ "%", "a/b", false },
		{ "a/%", "a/b", true },
		{ "a/%", "a/b/c", false },
		{ "a*", "a/b/c", true },
		{ "*c", "a/b/c", true },
		{ "*c", "a/b/d", false },
		{ "a%c", "abbc", true },
		{ "a%c", "ab/c", false },
		{ "%/%", "a/b", true },
		{ "%/%", "a", false },
		{ "a", "a", true },
		{ "a", "ab", false },
		{ "", "", true },
		{ "*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false },
		{ "Sent", "sent", false },
	};
	struct mb_ctx *ctx;
	struct mb_err e;
	struct out o;
	size_t i;

	t_tmpdir();
	for (i = 0; i < sizeof(pm) / sizeof(pm[0]); i++)
		ok(mb_list_match(pm[i].pat, pm[i].name) == pm[i].match,
		   "'%s' %s '%s'", pm[i].pat,
		   pm[i].match ? "matches" : "does not match", pm[i].name);

	make_tree();
	memset(&o, 0, sizeof(o));
	is_int(list("*", MB_LIST_ALL | MB_LIST_ROOT, &o), MB_OK, "list * all");
	is_str(o.buf, want_all, "every entry, with what it is and why");
	list(NULL, 0, &o);
	is_str(o.buf, want_plain, "without MB_LIST_ALL: mailboxes and dirs");
	list("%", MB_LIST_NODOT, &o);
	is_str(o.buf, want_pct,
	       "%% stays at the top level; NODOT hides .hidden");
	list("box/%", 0, &o);
	is_str(o.buf, want_box, "box/%% lists box's children by their names");
	list("loop", MB_LIST_NOFOLLOW, &o);
	is_str(o.buf, want_nofollow, "NOFOLLOW walks no link");
	o.stop_after = 2;
	list("*", 0, &o);
	is_int(o.seen, 2, "a non-zero return stops the walk");
	o.stop_after = 0;

	ctx = mb_ctx_new();
	is_int(mb_list(ctx, "root/inbox", NULL, 0, collect, &o, &e), MB_FAILED,
	       "a file is no tree");
	is_int(e.code, MB_EINVAL, "... EINVAL");
	is_int(mb_list(ctx, "nosuch", NULL, 0, collect, &o, &e), MB_FAILED,
	       "a missing root fails");
	is_int(e.code, MB_ENOENT, "... ENOENT");
	is_str(e.path, "nosuch", "... and names it");
	ok(mb_format_dir("fakedir") && !mb_format_dir("unix") &&
		   !mb_format_dir("nosuch"),
	   "mb_format_dir tells directory formats");
	mb_ctx_free(&ctx);

	if (geteuid() != 0) {
		chmod("root/plain", 0);
		list("*", MB_LIST_ALL, &o);
		ok(strstr(o.buf, "plain error (Permission denied)\n") != NULL,
		   "an unreadable directory is an error entry");
		chmod("root/plain", 0700);
	} else {
		skip(1, "root reads every directory");
	}
	return done_testing();
}

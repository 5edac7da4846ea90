/*
 * spool-move.c - `mailbag spool-move`: move new mail from the spool file
 * into the INBOX as UW resolves it (mb_inbox), crash-safely
 * (mb_spool_move), for cron: for the calling user, or for every user
 * with a spool file with --all-users as root, each moved by a child that
 * has become that user.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "util.h"

const char cmd_spool_move_usage[] =
	"usage: mailbag spool-move [-n] [-q] [--json] [--format=NAME]"
	" [--all-users] [SPOOL [DEST]]\n"
	"\n"
	"Move new mail from the spool file (default: yours, in the spool\n"
	"directory) into DEST (default: your INBOX as UW resolves it: ~/mbox,\n"
	"or an mbx/mix/tenex/mtx ~/INBOX).  When your only INBOX is the spool\n"
	"file, an mbx ~/INBOX is created, unless UW's rules would hide it.\n"
	"Flags and keywords are kept; DEST is made durable before the spool\n"
	"is emptied, and a run killed at any point is finished by the next.\n"
	"\n"
	"   -n, --dry-run        only report what would be moved\n"
	"   -q, --quiet          print nothing when nothing was moved\n"
	"       --json           one JSON object per spool file\n"
	"       --format=NAME    format of a DEST to create (default mbx)\n"
	"       --all-users      as root: every user's spool file, each moved\n"
	"                        as that user\n"
	"       --lock-timeout=SECONDS\n"
	"                        wait this long for a busy lock\n"
	"   -h, --help           this text\n"
	"       --version        print the version\n"
	"\n"
	"Exit status: 0 moved or nothing to move, 75 the spool is locked or\n"
	"busy (try again later), 73 DEST cannot or must not be created, else\n"
	"see mailbag-exit(7).  Messages go to syslog (mail) as well when\n"
	"stderr is not a terminal.\n";

struct sm {
	struct cmd_env *env;
	bool dry_run, quiet, json, all, use_syslog;
	const char *format;
	const char *user;
};

static void logmsg(struct sm *s, int prio, const char *fmt, ...)
	CMD_PRINTF(3, 4);

static void
logmsg(struct sm *s, int prio, const char *fmt, ...)
{
	char buf[1600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (prio <= LOG_WARNING)
		warnmsg(s->env->prog, "%s", buf);
	if (s->use_syslog)
		syslog(LOG_MAIL | prio, "%s%s%s", s->user ? s->user : "",
		       s->user ? ": " : "", buf);
}

static int
fail(struct sm *s, const char *path, const struct mb_err *e)
{
	const char *p = e->path[0] ? e->path : path;

	if (e->offset >= 0)
		logmsg(s, LOG_ERR, "%s: at byte %lld: %s", p,
		       (long long)e->offset, e->msg);
	else
		logmsg(s, LOG_ERR, "%s: %s", p, e->msg);
	return exit_code(e->code);
}

/* rest under the home directory, as libmbox reads "~/rest". */
static int
home_path(struct sm *s, const char *rest, char *out, size_t size)
{
	char name[64];
	struct mb_err e;

	snprintf(name, sizeof(name), "~/%s", rest);
	mb_err_clear(&e);
	if (mb_resolve_name(s->env->ctx, name, out, size, NULL, &e) != MB_OK)
		return fail(s, name, &e);
	return 0;
}

/* Is fmt one UW takes as a ~/INBOX? */
static bool
inbox_format(const char *fmt)
{
	return strcmp(fmt, "mbx") == 0 || strcmp(fmt, "mix") == 0 ||
	       strcmp(fmt, "mx") == 0 || strcmp(fmt, "tenex") == 0 ||
	       strcmp(fmt, "mtx") == 0;
}

/*
 * The user's INBOX is the spool itself: a new ~/INBOX, unless UW's rules
 * would not take it as INBOX (then the mail would seem to vanish).
 */
static int
new_inbox(struct sm *s, char *dest, size_t size)
{
	char mbox[4096];
	struct stat st;
	struct mb_err e;
	const char *f;
	int rc;

	if (!inbox_format(s->format)) {
		logmsg(s, LOG_ERR,
		       "UW takes no %s-format ~/INBOX as INBOX; use "
		       "--format=mbx (or mix, tenex, mtx)",
		       s->format);
		return EX_CANTCREAT;
	}
	if ((rc = home_path(s, "mbox", mbox, sizeof(mbox))) != 0 ||
	    (rc = home_path(s, "INBOX", dest, size)) != 0)
		return rc;
	if (lstat(mbox, &st) == 0) {
		logmsg(s, LOG_ERR,
		       "%s exists, so UW would not take a new %s as INBOX "
		       "whenever %s is in UNIX format or empty; move the "
		       "mail there instead ('mailbag spool-move SPOOL %s') "
		       "or rename %s first",
		       mbox, dest, mbox, mbox, mbox);
		return EX_CANTCREAT;
	}
	if (lstat(dest, &st) == 0) {
		mb_err_clear(&e);
		f = mb_probe(s->env->ctx, dest, &e);
		logmsg(s, LOG_ERR,
		       "%s exists but is %s%s, which UW does not take as "
		       "INBOX; convert it ('mailbag convert --to=mbx') or "
		       "rename it first",
		       dest, f ? "in format " : "not a mailbox", f ? f : "");
		return EX_CANTCREAT;
	}
	return 0;
}

static void
report(struct sm *s, const char *spool, const char *dest,
       const struct mb_spool_result *r)
{
	struct json j;

	if (s->json) {
		json_begin(&j, stdout, "spool-move");
		json_str(&j, "user", s->user);
		json_str(&j, "spool", spool);
		json_str(&j, "dest", dest);
		json_str(&j, "format", r->dest_format);
		json_uint(&j, "messages", r->messages);
		json_int(&j, "bytes", r->bytes);
		json_bool(&j, "created", r->created);
		json_bool(&j, "recovered", r->recovered);
		json_int(&j, "recovered_bytes", r->skipped);
		json_bool(&j, "dry_run", s->dry_run);
		json_end(&j);
		return;
	}
	if (r->messages == 0 && r->skipped == 0) {
		if (!s->quiet)
			printf("%s: no new mail\n", spool);
		return;
	}
	printf("%s: %s %lu message%s (%lld bytes) to %s%s%s\n", spool,
	       s->dry_run ? "would move" : "moved", (unsigned long)r->messages,
	       r->messages == 1 ? "" : "s", (long long)r->bytes, dest,
	       r->created ? " (created)" : "",
	       r->skipped > 0 ? "; finished an interrupted move" : "");
	if (!s->dry_run && s->use_syslog)
		syslog(LOG_MAIL | LOG_INFO,
		       "%s%smoved %lu messages (%lld bytes) from %s to %s",
		       s->user ? s->user : "", s->user ? ": " : "",
		       (unsigned long)r->messages, (long long)r->bytes, spool,
		       dest);
}

static int
move_one(struct sm *s, const char *spool_arg, const char *dest_arg)
{
	struct mb_spool_result r;
	struct mb_inbox in;
	struct mb_err e;
	char dest[4096];
	const char *spool, *create = NULL;
	struct stat st;
	int rc;

	mb_err_clear(&e);
	if (mb_inbox(s->env->ctx, &in, &e) != MB_OK)
		return fail(s, "INBOX", &e);
	spool = spool_arg ? spool_arg : in.spool;
	if (dest_arg != NULL) {
		snprintf(dest, sizeof(dest), "%s", dest_arg);
		create = s->format;
	} else if (in.moves_spool) {
		snprintf(dest, sizeof(dest), "%s", in.path);
	} else {
		/* nothing to move needs no new INBOX */
		if (lstat(spool, &st) != 0 || st.st_size == 0) {
			memset(&r, 0, sizeof(r));
			report(s, spool, "INBOX", &r);
			return 0;
		}
		rc = new_inbox(s, dest, sizeof(dest));
		if (rc != 0)
			return rc;
		create = s->format;
	}
	rc = mb_spool_move(s->env->ctx, spool, dest, create,
			   s->dry_run ? MB_SPOOL_DRY_RUN : 0, &r, &e);
	if (rc != MB_OK)
		return fail(s, spool, &e);
	report(s, spool, dest, &r);
	return 0;
}

/*
 * The group that may write the spool directory dir when that is how the
 * system lets delivery agents lock there (Debian: /var/mail 2775
 * root:mail), or (gid_t)-1.  The children keep it, as deliver's do, so
 * they make the dot-lock themselves instead of through the helper.
 */
static gid_t
spool_group(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return (gid_t)-1;
	if ((st.st_mode & S_IWGRP) && !(st.st_mode & S_IWOTH) && st.st_gid != 0)
		return st.st_gid;
	return (gid_t)-1;
}

/* Become pw for good: groups (plus extra, unless (gid_t)-1), gid, uid,
 * and check it took. */
static int
become(const struct passwd *pw, gid_t extra)
{
	gid_t groups[NGROUPS_MAX + 1];
	int n;

	if (initgroups(pw->pw_name, pw->pw_gid) != 0)
		return -1;
	if (extra != (gid_t)-1) {
		n = getgroups(NGROUPS_MAX, groups);
		if (n < 0)
			return -1;
		groups[n++] = extra;
		if (setgroups((size_t)n, groups) != 0)
			return -1;
	}
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0)
		return -1;
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || getegid() != pw->pw_gid ||
	    (pw->pw_uid != 0 && setuid(0) == 0))
		return -1;
	return 0;
}

static int
move_user(struct sm *s, const char *dir, const char *name)
{
	char spool[4096];
	struct passwd *pw;
	struct stat st;
	pid_t pid;
	int status, rc;

	s->user = name;
	pw = getpwnam(name);
	if (pw == NULL) {
		logmsg(s, LOG_WARNING, "%s/%s: no such user, skipped", dir,
		       name);
		return 0;
	}
	if (pw->pw_uid == 0) {
		logmsg(s, LOG_NOTICE, "%s/%s: root's mail is left alone", dir,
		       name);
		return 0;
	}
	snprintf(spool, sizeof(spool), "%s/%s", dir, name);
	if (lstat(spool, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != pw->pw_uid) {
		logmsg(s, LOG_WARNING,
		       "%s: not a regular file owned by %s, skipped", spool,
		       name);
		return 0;
	}
	if (st.st_size == 0)
		return 0;
	/* No home, no INBOX to move to: the mail stays where it is. */
	if (pw->pw_dir == NULL || pw->pw_dir[0] != '/' ||
	    stat(pw->pw_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		logmsg(s, LOG_WARNING,
		       "%s: %s has no home directory (%s), skipped; the mail "
		       "stays in the spool",
		       spool, name, pw->pw_dir ? pw->pw_dir : "none");
		return 0;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		logmsg(s, LOG_ERR, "cannot fork: %s", strerror(errno));
		return EX_OSERR;
	}
	if (pid == 0) {
		if (become(pw, spool_group(dir)) != 0) {
			logmsg(s, LOG_ERR, "cannot become %s: %s", name,
			       strerror(errno));
			_exit(EX_OSERR);
		}
		if (setenv("HOME", pw->pw_dir, 1) != 0 ||
		    setenv("USER", name, 1) != 0 ||
		    setenv("LOGNAME", name, 1) != 0 || chdir(pw->pw_dir) != 0) {
			logmsg(s, LOG_ERR, "cannot use %s's home %s: %s", name,
			       pw->pw_dir, strerror(errno));
			_exit(EX_TEMPFAIL);
		}
		/* the user's own settings, then the command line's */
		mb_ctx_free(&s->env->ctx);
		s->env->ctx = mb_ctx_new();
		if (s->env->ctx == NULL)
			_exit(EX_OSERR);
		rc = cmd_load_config(s->env);
		if (rc == 0)
			rc = move_one(s, NULL, NULL);
		fflush(stdout);
		_exit(rc);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EX_OSERR;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	logmsg(s, LOG_ERR, "moving %s's mail: killed by signal %d", name,
	       WTERMSIG(status));
	return EX_SOFTWARE;
}

static int
all_users(struct sm *s)
{
	const char *dir = mb_ctx_get(s->env->ctx, "spool-directory");
	struct dirent *de;
	DIR *d;
	int rc, worst = 0;

	if (getuid() != 0 || geteuid() != 0) {
		logmsg(s, LOG_ERR, "--all-users needs root");
		return EX_NOPERM;
	}
	d = opendir(dir);
	if (d == NULL) {
		logmsg(s, LOG_ERR, "%s: %s", dir, strerror(errno));
		return EX_OSFILE;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' ||
		    (n > 5 && strcmp(de->d_name + n - 5, ".lock") == 0) ||
		    strchr(de->d_name, '.') != NULL)
			continue;
		rc = move_user(s, dir, de->d_name);
		/* the least retryable failure decides */
		if (rc != 0 && (worst == 0 || worst == EX_TEMPFAIL))
			worst = rc;
	}
	closedir(d);
	s->user = NULL;
	return worst;
}

int
cmd_spool_move(int argc, char **argv, struct cmd_env *env)
{
	enum { O_JSON = 256, O_FORMAT, O_ALL, O_TIMEOUT, O_VERSION };
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, O_JSON },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "all-users", no_argument, NULL, O_ALL },
		{ "lock-timeout", required_argument, NULL, O_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct sm s = { .env = env, .format = "mbx" };
	const char *timeout = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "nqh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			s.dry_run = true;
			break;
		case 'q':
			s.quiet = true;
			break;
		case O_JSON:
			s.json = true;
			break;
		case O_FORMAT:
			s.format = optarg;
			break;
		case O_ALL:
			s.all = true;
			break;
		case O_TIMEOUT:
			timeout = optarg;
			break;
		case 'h':
			return cmd_help(env);
		case O_VERSION:
			return print_version();
		default:
			return cmd_usage_error(env, NULL);
		}
	}
	if (argc - optind > 2)
		return cmd_usage_error(env, "at most SPOOL and DEST");
	if (s.all && argc > optind)
		return cmd_usage_error(env, "--all-users takes no names");
	s.use_syslog = !isatty(STDERR_FILENO);
	if (s.use_syslog)
		openlog("mailbag-spool-move", LOG_PID, LOG_MAIL);
	if ((rc = cmd_load_config(env)) != 0)
		return rc;
	if (timeout != NULL && (rc = cmd_set(env, "lock-timeout", timeout)))
		return rc;
	if (s.all) {
		/* the children apply --lock-timeout as a --set */
		if (timeout != NULL) {
			static char set[64];

			snprintf(set, sizeof(set), "lock-timeout=%s", timeout);
			env->settings = xreallocarray(
				env->settings, (size_t)env->nsettings + 2,
				sizeof(char *));
			env->settings[env->nsettings++] = set;
		}
		return all_users(&s);
	}
	{
		struct passwd *pw = getpwuid(getuid());

		s.user = pw ? xstrdup(pw->pw_name) : NULL;
	}
	rc = move_one(&s, optind < argc ? argv[optind] : NULL,
		      optind + 1 < argc ? argv[optind + 1] : NULL);
	free((char *)s.user);
	return rc;
}

/*
 * manage.c - the engine of the mailbox management commands, see
 * manage.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "manage.h"
#include "util.h"

bool
mg_is_inbox(const char *name)
{
	return name != NULL && strcasecmp(name, "INBOX") == 0;
}

int
mg_resolve(struct cmd_env *env, const char *name, struct mg_name *n)
{
	struct mb_err e;

	memset(n, 0, sizeof(*n));
	n->name = name;
	n->inbox = mg_is_inbox(name);
	mb_err_clear(&e);
	if (mb_resolve_name(env->ctx, name, n->path, sizeof(n->path),
			    &n->format, &e) != MB_OK) {
		warnmsg(env->prog, "%s: %s", name, e.msg);
		return exit_code(e.code);
	}
	return 0;
}

int
mg_make_parents(const char *path, struct mb_err *e)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t len = strlen(path), i;

	if (len >= sizeof(buf)) {
		mb_err_clear(e);
		e->code = MB_EINVAL;
		snprintf(e->msg, sizeof(e->msg), "name too long");
		return MB_FAILED;
	}
	memcpy(buf, path, len + 1);
	for (i = 1; i < len; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (stat(buf, &st) < 0) {
			if (errno != ENOENT || mkdir(buf, 0700) < 0) {
				mb_err_clear(e);
				e->code = errno == EACCES ? MB_EPERM : MB_EIO;
				e->sys_errno = errno;
				snprintf(e->path, sizeof(e->path), "%s", buf);
				snprintf(e->msg, sizeof(e->msg),
					 "cannot make the directory: %s",
					 strerror(errno));
				return MB_FAILED;
			}
		} else if (!S_ISDIR(st.st_mode)) {
			mb_err_clear(e);
			e->code = MB_EINVAL;
			snprintf(e->path, sizeof(e->path), "%s", buf);
			snprintf(
				e->msg, sizeof(e->msg),
				"not a directory, so it cannot hold mailboxes");
			return MB_FAILED;
		}
		buf[i] = '/';
	}
	return MB_OK;
}

int
mg_open_scan(struct cmd_env *env, const char *path, const char *format,
	     unsigned mode, struct mb_box **box, uint32_t *count,
	     struct mb_err *e)
{
	struct mb_msg *m;
	int rc;

	*count = 0;
	rc = mb_open(env->ctx, path, format, mode, box, e);
	if (rc != MB_OK)
		return rc;
	while ((rc = mb_next(*box, &m, e)) == MB_OK)
		(*count)++;
	if (rc != MB_END) {
		mb_abort(box);
		return rc == MB_OK ? MB_FAILED : rc;
	}
	return MB_OK;
}

/*
 * The envelope "From " line of m, read again from the file: an indexed
 * box that has been scanned to the end hands out the envelope and sender
 * strings of its last message for every message (they live in the
 * scanner's buffer), so they are taken from the record's first line,
 * where the unix and MMDF formats keep them (mb_msg.offset).  Fills env
 * and snd (the address after "From "); false when there is none.
 */
static bool
envelope_of(int fd, const struct mb_msg *m, char *env, size_t esize, char *snd,
	    size_t ssize)
{
	char buf[1024], *nl, *p;
	ssize_t n;
	size_t len, sl;

	if (m->envelope == NULL || m->offset < 0 || fd < 0)
		return false;
	n = pread(fd, buf, sizeof(buf) - 1, m->offset);
	if (n < 6)
		return false;
	buf[n] = '\0';
	p = buf;
	if (strncmp(p, "\1\1\1\1\n", 5) == 0)
		p += 5; /* MMDF: the record may start at its delimiter */
	nl = strchr(p, '\n');
	if (nl == NULL || strncmp(p, "From ", 5) != 0)
		return false;
	len = (size_t)(nl - p);
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len >= esize)
		return false;
	memcpy(env, p, len);
	env[len] = '\0';
	sl = strcspn(env + 5, " \t");
	if (sl == 0 || sl >= ssize)
		return false;
	memcpy(snd, env + 5, sl);
	snd[sl] = '\0';
	return true;
}

int
mg_copy_msg(struct mb_box *sbox, int sfd, const struct mb_msg *m,
	    struct mb_box *dbox, int64_t *bytes, struct mb_err *e)
{
	const char *kw[MB_MAX_KEYWORDS];
	char env[1024], snd[512];
	struct mb_newmsg meta;
	struct mb_reader *r;
	unsigned n;
	int rc;

	memset(&meta, 0, sizeof(meta));
	meta.flags = m->flags;
	meta.idate = m->idate;
	meta.idate_tz = m->idate_tz;
	if (envelope_of(sfd, m, env, sizeof(env), snd, sizeof(snd))) {
		meta.envelope = env;
		meta.sender = snd;
	} else if (m->envelope == NULL) {
		meta.sender = m->sender;
	}
	meta.crlf_text = mb_box_crlf_text(sbox);
	for (n = 0; n < MB_MAX_KEYWORDS; n++)
		if ((m->keywords & ((uint64_t)1 << n)) &&
		    (kw[meta.nkeywords] = mb_keyword(sbox, n)) != NULL)
			meta.nkeywords++;
	meta.keywords = kw;
	rc = mb_msg_open(sbox, m, &r, e);
	if (rc != MB_OK)
		return rc;
	if (bytes != NULL)
		*bytes += r->size >= 0 ? r->size : m->text_size;
	rc = mb_append(dbox, &meta, r, NULL, e);
	mb_reader_close(&r);
	return rc;
}

int
mg_expunge_marked(struct mb_box *box, const bool *marks, uint32_t nmsgs,
		  uint32_t *expunged, struct mb_err *e)
{
	struct mb_msg *m;
	uint32_t seq, gone = 0, *keep = NULL, nkeep = 0;
	int rc = MB_OK;

	*expunged = 0;
	/* Messages deleted before but not selected lose the flag for the
	 * expunge and get it back after it. */
	for (seq = 1; seq <= nmsgs; seq++) {
		if ((rc = mb_msg_at(box, seq, &m, e)) != MB_OK)
			goto out;
		if (marks[seq - 1])
			rc = mb_set_flags(box, seq, MB_DELETED, 0, 0, 0, e);
		else if (m->flags & MB_DELETED) {
			if (keep == NULL)
				keep = xcalloc(nmsgs, sizeof(*keep));
			/* its number after the expunge */
			keep[nkeep++] = seq - gone;
			rc = mb_set_flags(box, seq, 0, MB_DELETED, 0, 0, e);
		}
		if (marks[seq - 1])
			gone++;
		if (rc != MB_OK)
			goto out;
	}
	if (gone == 0)
		goto out;
	rc = mb_expunge(box, expunged, e);
	if (rc != MB_OK)
		goto out;
	if (*expunged != gone) {
		mb_err_clear(e);
		e->code = MB_EINTERNAL;
		snprintf(e->path, sizeof(e->path), "%s", mb_box_path(box));
		snprintf(e->msg, sizeof(e->msg),
			 "expunged %u messages, expected %u",
			 (unsigned)*expunged, (unsigned)gone);
		rc = MB_FAILED;
		goto out;
	}
	for (seq = 0; seq < nkeep; seq++) {
		rc = mb_set_flags(box, keep[seq], MB_DELETED, 0, 0, 0, e);
		if (rc != MB_OK)
			goto out;
	}
out:
	free(keep);
	return rc;
}

/* Report e for the mailbox of n and return the exit status. */
static int
fail(struct cmd_env *env, const struct mg_name *n, const struct mb_err *e)
{
	return report_err(env->prog, n->path, e);
}

static void
print_result(const struct mg_opts *o, const struct mg_name *src,
	     const struct mg_name *dst, const struct mg_transfer *t)
{
	const char *verb = t->job == MG_MOVE ? "moved" : "copied";
	struct json j;

	if (o->json) {
		json_begin(&j, stdout, t->job == MG_MOVE ? "move" : "copy");
		json_bool(&j, "dry_run", o->dry_run);
		json_str(&j, "source", src->path);
		json_str(&j, "destination", dst->path);
		json_str(&j, "source_format", t->src_format);
		json_str(&j, "format", t->dst_format);
		json_uint(&j, "messages", t->messages);
		json_uint(&j, "selected", t->selected);
		json_uint(&j, "copied", t->copied);
		json_uint(&j, "expunged", t->expunged);
		json_int(&j, "bytes", t->bytes);
		json_bool(&j, "created", t->created);
		json_end(&j);
		return;
	}
	if (o->quiet)
		return;
	if (o->dry_run)
		printf("would %s %u of %u messages from %s to %s%s\n",
		       t->job == MG_MOVE ? "move" : "copy",
		       (unsigned)t->selected, (unsigned)t->messages, src->path,
		       dst->path, t->created ? " (new)" : "");
	else
		printf("%s %u of %u messages from %s to %s%s\n", verb,
		       (unsigned)t->copied, (unsigned)t->messages, src->path,
		       dst->path, t->created ? " (created)" : "");
}

int
mg_transfer(struct cmd_env *env, const struct mg_opts *o,
	    const struct mg_name *src, const struct mg_name *dst,
	    struct mg_transfer *t)
{
	struct mb_box *sbox = NULL, *dbox = NULL;
	struct stat sst, dst_st;
	struct mb_msg *m;
	struct mb_err e;
	bool *marks = NULL, exists;
	uint32_t seq, i;
	int rc, status = 0, sfd = -1;

	mb_err_clear(&e);
	exists = lstat(dst->path, &dst_st) == 0;
	if (stat(src->path, &sst) == 0 && exists &&
	    stat(dst->path, &dst_st) == 0 && sst.st_dev == dst_st.st_dev &&
	    sst.st_ino == dst_st.st_ino) {
		warnmsg(env->prog, "'%s' and '%s' are the same mailbox",
			src->name, dst->name);
		return EX_USAGE;
	}
	if (exists && t->must_not_exist) {
		warnmsg(env->prog, "%s: mailbox already exists", dst->path);
		return EX_CANTCREAT;
	}
	if (!exists && t->must_exist) {
		warnmsg(env->prog, "%s: no such mailbox", dst->path);
		return EX_NOINPUT;
	}
	rc = mg_open_scan(env, src->path, src->format,
			  t->job == MG_MOVE && !o->dry_run ? MB_RDWR :
							     MB_RDONLY,
			  &sbox, &t->messages, &e);
	if (rc != MB_OK)
		return fail(env, src, &e);
	t->src_format = mb_box_format(sbox);
	if (t->sel != NULL) {
		if (sel_mark(t->sel, sbox, t->messages, &marks, &t->selected,
			     &e) != MB_OK) {
			status = fail(env, src, &e);
			goto out;
		}
	} else {
		marks = xcalloc(t->messages ? t->messages : 1, sizeof(*marks));
		for (i = 0; i < t->messages; i++)
			marks[i] = true;
		t->selected = t->messages;
	}
	t->created = !exists;
	/* A SRC that cannot lose messages (no flags, read-only) fails the
	 * move before anything is copied: a no-op flag change tells. */
	if (t->job == MG_MOVE && !o->dry_run && t->selected > 0) {
		for (seq = 1; !marks[seq - 1]; seq++)
			;
		if (mb_set_flags(sbox, seq, 0, 0, 0, 0, &e) != MB_OK) {
			status = fail(env, src, &e);
			goto out;
		}
	}
	if (o->dry_run) {
		if (exists)
			t->dst_format = mb_probe(env->ctx, dst->path, &e);
		else
			t->dst_format = t->to ? t->to : dst->format;
		for (seq = 1; seq <= t->messages; seq++)
			if (marks[seq - 1] &&
			    mb_msg_at(sbox, seq, &m, &e) == MB_OK)
				t->bytes += m->text_size;
		print_result(o, src, dst, t);
		goto out;
	}
	if (exists) {
		rc = mb_open(env->ctx, dst->path, dst->format, MB_RDWR, &dbox,
			     &e);
	} else {
		rc = mg_make_parents(dst->path, &e);
		if (rc == MB_OK)
			rc = mb_create(env->ctx, dst->path,
				       t->to ? t->to : dst->format,
				       MB_CREATE_ATOMIC | MB_CREATE_EXCL, &dbox,
				       &e);
	}
	if (rc != MB_OK) {
		status = fail(env, dst, &e);
		goto out;
	}
	t->dst_format = mb_box_format(dbox);
	/* for the envelope lines (envelope_of) */
	sfd = open(mb_box_path(sbox), O_RDONLY | O_CLOEXEC | O_NOCTTY);
	for (seq = 1; seq <= t->messages; seq++) {
		if (!marks[seq - 1])
			continue;
		rc = mb_msg_at(sbox, seq, &m, &e);
		if (rc == MB_OK)
			rc = mg_copy_msg(sbox, sfd, m, dbox, &t->bytes, &e);
		if (rc != MB_OK) {
			status = report_err(env->prog, NULL, &e);
			mb_abort(&dbox);
			goto out;
		}
		t->copied++;
	}
	/* The copy is durable here, before SRC is changed at all. */
	if (mb_close(&dbox, &e) != MB_OK) {
		status = fail(env, dst, &e);
		goto out;
	}
	if (t->job == MG_MOVE && t->copied > 0) {
		rc = mg_expunge_marked(sbox, marks, t->messages, &t->expunged,
				       &e);
		if (rc == MB_OK)
			rc = mb_close(&sbox, &e);
		if (rc != MB_OK) {
			warnmsg(env->prog,
				"the messages were copied to %s, but could "
				"not be removed from %s",
				dst->path, src->path);
			status = fail(env, src, &e);
			goto out;
		}
	}
	print_result(o, src, dst, t);
out:
	if (sfd >= 0)
		close(sfd);
	if (sbox != NULL)
		mb_abort(&sbox);
	free(marks);
	return status;
}

int
mg_common_opt(struct cmd_env *env, int c, struct mg_opts *o)
{
	switch (c) {
	case 'n':
		o->dry_run = true;
		return -1;
	case 'q':
		o->quiet = true;
		return -1;
	case MG_OPT_JSON:
		o->json = true;
		return -1;
	case 'h':
		return cmd_help(env);
	case MG_OPT_VERSION:
		return print_version();
	case '?':
	case ':':
		return cmd_usage_error(env, NULL);
	default:
		return -2;
	}
}

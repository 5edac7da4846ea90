/*
 * err.c - filling struct mb_err and reporting diagnostics.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mb-int.h"

void
mb_err_clear(struct mb_err *e)
{
	if (e == NULL)
		return;
	e->code = MB_ENONE;
	e->sys_errno = 0;
	e->offset = -1;
	e->msgno = 0;
	e->uid = 0;
	e->path[0] = '\0';
	e->msg[0] = '\0';
}

static const char *const code_names[] = {
	[MB_ENONE] = "none",
	[MB_ENOMEM] = "nomem",
	[MB_EIO] = "io",
	[MB_ENOENT] = "noent",
	[MB_EEXIST] = "exists",
	[MB_EPERM] = "perm",
	[MB_ENOSPC] = "nospace",
	[MB_ELOCKED] = "locked",
	[MB_EFORMAT] = "format",
	[MB_ENOTSUP] = "notsup",
	[MB_EINVAL] = "invalid",
	[MB_ELIMIT] = "limit",
	[MB_ECHANGED] = "changed",
	[MB_ECONFIG] = "config",
	[MB_EINTERNAL] = "internal",
	[MB_ENET] = "network",
	[MB_ETLS] = "tls",
	[MB_EAUTH] = "auth",
	[MB_EPROTO] = "protocol",
};

const char *
mb_code_name(int code)
{
	if (code < 0 ||
	    (size_t)code >= sizeof(code_names) / sizeof(code_names[0]) ||
	    code_names[code] == NULL)
		return "unknown";
	return code_names[code];
}

int
mbi_errno_code(int err)
{
	switch (err) {
	case 0:
		return MB_ENONE;
	case ENOMEM:
		return MB_ENOMEM;
	case ENOENT:
	case ENOTDIR:
		return MB_ENOENT;
	case EEXIST:
	case ENOTEMPTY:
		return MB_EEXIST;
	case EACCES:
	case EPERM:
	case EROFS:
		return MB_EPERM;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return MB_ENOSPC;
	case EWOULDBLOCK:
		return MB_ELOCKED;
	case EINVAL:
	case ENAMETOOLONG:
	case ELOOP:
		return MB_EINVAL;
	default:
		return MB_EIO;
	}
}

static void
set_path(struct mb_err *e, const char *path)
{
	if (path == NULL)
		e->path[0] = '\0';
	else
		snprintf(e->path, sizeof(e->path), "%s", path);
}

int
mbi_err(struct mb_err *e, int sev, int code, const char *path, int64_t offset,
	const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return sev;
	mb_err_clear(e);
	e->code = code;
	e->offset = offset;
	set_path(e, path);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return sev;
}

int
mbi_err_sys(struct mb_err *e, int sev, int err, const char *path,
	    const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (e == NULL)
		return sev;
	mb_err_clear(e);
	e->code = mbi_errno_code(err);
	e->sys_errno = err;
	set_path(e, path);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	if (err != 0 && n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(err));
	return sev;
}

void
mbi_diag(struct mb_box *b, int level, const char *code, int64_t offset,
	 uint32_t msgno, uint32_t uid, const char *fmt, ...)
{
	char text[768];
	struct mb_diag d;
	va_list ap;

	if (b == NULL || b->ctx == NULL || b->ctx->diag == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	d.level = level;
	d.code = code;
	d.path = b->creating || b->unpack != NULL ? b->final_path : b->path;
	d.offset = offset;
	d.msgno = msgno;
	d.uid = uid;
	d.text = text;
	b->ctx->diag(b->ctx->diag_arg, &d);
}

void
mbi_diag_at(struct mb_box *b, const char *path, int level, const char *code,
	    int64_t offset, uint32_t msgno, uint32_t uid, const char *fmt, ...)
{
	char text[768], orig[PATH_MAX + 64];
	struct mb_diag d;
	va_list ap;

	if (b == NULL || b->ctx == NULL || b->ctx->diag == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	d.level = level;
	d.code = code;
	/* a file of an unpacked archive: ARCHIVE:MEMBER, not the copy */
	d.path = mbi_unpack_name(b, path, orig, sizeof(orig)) ? orig : path;
	d.offset = offset;
	d.msgno = msgno;
	d.uid = uid;
	d.text = text;
	b->ctx->diag(b->ctx->diag_arg, &d);
}

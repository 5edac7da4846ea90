/*
 * phile.c - any other non-empty regular file, read as one message, the
 * way UW c-client's "phile" driver shows it (shared/spec/uw-formats.md
 * section 9).  Read-only: nothing is ever written to the file.
 *
 * The message is a header made up from the file's metadata and the
 * file's bytes as its body:
 *
 *	Date: <mtime, RFC 5322, local zone>
 *	From: <owner>@<localhost>          (User-Number-<uid>@... if none)
 *	Subject: <absolute path>
 *	MIME-Version: 1.0
 *	Content-Type: TEXT/PLAIN; charset=US-ASCII
 *	                               X-UNKNOWN (+ 8BIT) with 8-bit bytes,
 *	                               ISO-2022-JP/-KR/-CN on their escapes;
 *	   or APPLICATION/OCTET-STREAM; name=<base name>, BASE64, when the
 *	   file has control bytes text does not have
 *
 * Internal date and UIDVALIDITY are the mtime, the UID is 1, no flags.
 * The probe scores 1, below every real format, so a phile is only what
 * nothing else claims; an empty file stays an empty mailbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "formats.h"

#define CHUNK  (64u << 10)
#define B64_IN 45 /* bytes per 60-character line, as UW encodes */

struct phile_state {
	int fd;
	struct stat st;
	char hdr[PATH_MAX + 1024];
	size_t hdrlen;
	bool binary;
	const char *nl; /* "\n", or "\r\n" for a CR LF file */
	int64_t text_size;
	char sender[512];
	bool done;
};

/* Bytes that make a file binary for UW: controls text never has. */
static bool
binary_byte(unsigned char c)
{
	return c < 0x07 || (c >= 0x10 && c <= 0x1a) ||
	       (c >= 0x1c && c <= 0x1f) || c == 0x7f;
}

enum { CS_ASCII, CS_8BIT, CS_CN, CS_KR, CS_JP };

/* ISO 2022 designations UW recognises after ESC $ (p: the bytes after). */
static int
iso2022(const unsigned char *p, size_t n)
{
	if (n >= 1 && (p[0] == '@' || p[0] == 'B'))
		return CS_JP;
	if (n >= 2 && p[0] == ')' && p[1] == 'C')
		return CS_KR;
	if (n >= 2 && p[0] == ')' &&
	    (p[1] == 'A' || p[1] == 'E' || p[1] == 'G' || p[1] == 'H'))
		return CS_CN;
	if (n >= 2 && p[0] == '*' && p[1] == 'H')
		return CS_CN;
	if (n >= 2 && p[0] == '+' && p[1] >= 'I' && p[1] <= 'M')
		return CS_CN;
	return CS_ASCII;
}

/*
 * One pass over the file: binary or text, 8-bit bytes, the strongest
 * ISO 2022 escape, CR LF line ends.
 */
static int
classify(struct mb_box *b, struct phile_state *s, int *charset, bool *eight,
	 struct mb_err *e)
{
	unsigned char *buf = malloc(CHUNK + 4);
	int64_t off = 0;
	size_t keep = 0;
	bool crlf = false, lf = false;

	*charset = CS_ASCII;
	*eight = false;
	if (buf == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	for (;;) {
		ssize_t n = mbi_pread_full(s->fd, buf + keep, CHUNK, off);
		size_t i, len;

		if (n < 0) {
			free(buf);
			return mbi_err_sys(e, MB_FAILED, errno, b->path,
					   "cannot read file");
		}
		len = keep + (size_t)n;
		off += n;
		for (i = 0; i < len; i++) {
			unsigned char c = buf[i];

			/* an escape near the end waits for its bytes */
			if (c == 0x1b && n > 0 && len - i < 4)
				break;
			if (binary_byte(c)) {
				s->binary = true;
				free(buf);
				return MB_OK;
			}
			if (c >= 0x80)
				*eight = true;
			if (c == '\n' && !lf && !crlf) {
				if (i > 0 && buf[i - 1] == '\r')
					crlf = true;
				else
					lf = true;
			}
			if (c == 0x1b && i + 1 < len && buf[i + 1] == '$') {
				int cs = iso2022(buf + i + 2, len - i - 2);

				if (cs > *charset)
					*charset = cs;
			}
		}
		if (n == 0)
			break;
		keep = len - i;
		memmove(buf, buf + i, keep);
	}
	free(buf);
	s->nl = crlf ? "\r\n" : "\n";
	return MB_OK;
}

/* Base64 size of n bytes in UW's layout: 60-character lines, each
 * ended, and one more line end after the last. */
static int64_t
b64_size(int64_t n, size_t nllen)
{
	int64_t full = n / B64_IN, rest = n % B64_IN;

	return full * (60 + (int64_t)nllen) +
	       (rest > 0 ? (rest + 2) / 3 * 4 : 0) + (int64_t)nllen;
}

static int
local_tz(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

static int
build_header(struct mb_box *b, struct phile_state *s, struct mb_err *e)
{
	static const char *const cs_name[] = { [CS_ASCII] = "US-ASCII",
					       [CS_8BIT] = "X-UNKNOWN",
					       [CS_CN] = "ISO-2022-CN",
					       [CS_KR] = "ISO-2022-KR",
					       [CS_JP] = "ISO-2022-JP" };
	char date[64], abs[PATH_MAX], cwd[PATH_MAX];
	const char *base, *nl;
	struct passwd pw, *res = NULL;
	char pwbuf[4096];
	int charset, n;
	bool eight;
	int rc;

	if ((rc = classify(b, s, &charset, &eight, e)) != MB_OK)
		return rc;
	if (s->binary)
		s->nl = "\n";
	nl = s->nl;
	if (!s->binary && charset == CS_ASCII && eight)
		charset = CS_8BIT;
	mb_date_rfc5322(s->st.st_mtim.tv_sec, local_tz(s->st.st_mtim.tv_sec),
			date, sizeof(date));
	if (getpwuid_r(s->st.st_uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 &&
	    res != NULL && res->pw_name != NULL && res->pw_name[0] != '\0')
		snprintf(s->sender, sizeof(s->sender), "%s@%s", res->pw_name,
			 b->ctx->localhost);
	else
		snprintf(s->sender, sizeof(s->sender), "User-Number-%u@%s",
			 (unsigned)s->st.st_uid, b->ctx->localhost);
	if (b->path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL ||
	    snprintf(abs, sizeof(abs), "%s/%s", cwd, b->path) >=
		    (int)sizeof(abs))
		snprintf(abs, sizeof(abs), "%s", b->path);
	base = strrchr(b->path, '/');
	base = base ? base + 1 : b->path;
	n = snprintf(s->hdr, sizeof(s->hdr),
		     "Date: %s%sFrom: %s%sSubject: %s%sMIME-Version: 1.0%s",
		     date, nl, s->sender, nl, abs, nl, nl);
	if (n > 0 && (size_t)n < sizeof(s->hdr)) {
		size_t k = (size_t)n;

		if (s->binary)
			n = snprintf(s->hdr + k, sizeof(s->hdr) - k,
				     "Content-Type: APPLICATION/OCTET-STREAM; "
				     "name=%s%sContent-Transfer-Encoding: "
				     "BASE64%s%s",
				     base, nl, nl, nl);
		else
			n = snprintf(s->hdr + k, sizeof(s->hdr) - k,
				     "Content-Type: TEXT/PLAIN; charset=%s%s"
				     "%s%s%s",
				     cs_name[charset], nl,
				     eight ? "Content-Transfer-Encoding: 8BIT" :
					     "",
				     eight ? nl : "", nl);
		n = n < 0 ? -1 : n + (int)k;
	}
	if (n < 0 || (size_t)n >= sizeof(s->hdr))
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "name too long");
	s->hdrlen = (size_t)n;
	s->text_size = (int64_t)s->hdrlen +
		       (s->binary ? b64_size(s->st.st_size, strlen(nl)) :
				    s->st.st_size);
	return MB_OK;
}

static void
phile_close(struct mb_box *b)
{
	struct phile_state *s = b->priv;

	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	b->priv = NULL;
}

static int
phile_open(struct mb_box *b, struct mb_err *e)
{
	struct phile_state *s;
	int rc;

	if (b->mode & MB_RDWR)
		return mbi_err(e, MB_FAILED, MB_EFORMAT, b->path, 0,
			       "not in valid mailbox format (a plain file is "
			       "only read, as a single message)");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	b->priv = s;
	s->nl = "\n";
	s->fd = open(b->path,
		     O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
			     ((b->mode & MB_KEEP_TIMES) ? O_NOATIME : 0));
	if (s->fd < 0 && errno == EPERM && (b->mode & MB_KEEP_TIMES))
		s->fd = open(b->path,
			     O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (s->fd < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot open file");
		goto fail;
	}
	if (fstat(s->fd, &s->st) < 0) {
		rc = mbi_err_sys(e, MB_FAILED, errno, b->path,
				 "cannot stat file");
		goto fail;
	}
	if (!S_ISREG(s->st.st_mode) || s->st.st_size == 0) {
		rc = mbi_err(e, MB_FAILED, MB_EFORMAT, b->path, -1,
			     "not a non-empty regular file");
		goto fail;
	}
	if ((rc = build_header(b, s, e)) != MB_OK)
		goto fail;
	b->readonly = true;
	b->uidvalidity =
		s->st.st_mtim.tv_sec > 0 ? (uint32_t)s->st.st_mtim.tv_sec : 1;
	b->uidlast = 1;
	snprintf(b->variant, sizeof(b->variant), "%s",
		 s->binary ? "base64" : "text");
	return MB_OK;
fail:
	phile_close(b);
	return rc;
}

static int
phile_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e)
{
	struct phile_state *s = b->priv;

	if (s->done)
		return MB_END;
	s->done = true;
	if (b->mode & MB_CHECK)
		mbi_diag(b, MB_DIAG_WARN, "not-a-mailbox", 0, 1, 1,
			 "not in any mailbox format: read as one message "
			 "(%s), as UW's phile driver does",
			 s->binary ? "binary, base64" : "text");
	out->uid = 1;
	out->flags = 0;
	out->idate = s->st.st_mtim.tv_sec;
	out->idate_tz = local_tz(out->idate);
	out->offset = 0;
	out->size = s->st.st_size;
	out->text_offset = 0;
	out->text_size = s->text_size;
	out->sender = s->sender;
	return MB_OK;
}

/* The message: the made-up header, then the file, as is or in base64. */
struct phile_reader {
	struct mb_reader r;
	struct phile_state *s;
	const char *path;
	int64_t pos;	/* in the message text */
	int64_t fpos;	/* in the file (base64) */
	char pend[128]; /* encoded bytes not yet handed out */
	size_t npend, opend;
	bool final_nl;
};

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode the next line of up to 45 file bytes into pend. */
static int
b64_line(struct phile_reader *p, struct mb_err *e)
{
	unsigned char in[B64_IN];
	int64_t left = p->s->st.st_size - p->fpos;
	size_t n = left > B64_IN ? B64_IN : (size_t)left, i, o = 0;
	ssize_t got;

	p->npend = p->opend = 0;
	if (n == 0) {
		if (p->final_nl)
			return 0;
		p->final_nl = true;
		memcpy(p->pend, p->s->nl, strlen(p->s->nl));
		p->npend = strlen(p->s->nl);
		return 0;
	}
	got = mbi_pread_full(p->s->fd, in, n, p->fpos);
	if (got != (ssize_t)n) {
		mbi_err_sys(e, MB_FAILED, got < 0 ? errno : EIO, p->path,
			    "cannot read file");
		return -1;
	}
	p->fpos += (int64_t)n;
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		p->pend[o++] = b64[(v >> 18) & 63];
		p->pend[o++] = b64[(v >> 12) & 63];
		p->pend[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		p->pend[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	if (n == B64_IN) {
		memcpy(p->pend + o, p->s->nl, strlen(p->s->nl));
		o += strlen(p->s->nl);
	}
	p->npend = o;
	return 0;
}

static ssize_t
phile_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	struct phile_reader *p = (struct phile_reader *)r;
	struct phile_state *s = p->s;
	char *out = buf;
	size_t done = 0;

	while (done < len) {
		if (p->pos < (int64_t)s->hdrlen) {
			size_t k = s->hdrlen - (size_t)p->pos;

			if (k > len - done)
				k = len - done;
			memcpy(out + done, s->hdr + p->pos, k);
			p->pos += (int64_t)k;
			done += k;
			continue;
		}
		if (!s->binary) {
			int64_t fo = p->pos - (int64_t)s->hdrlen;
			int64_t left = s->st.st_size - fo;
			size_t k = left < (int64_t)(len - done) ? (size_t)left :
								  len - done;
			ssize_t n;

			if (k == 0)
				break;
			n = mbi_pread_full(s->fd, out + done, k, fo);
			if (n < 0) {
				mbi_err_sys(e, MB_FAILED, errno, p->path,
					    "cannot read file");
				return -1;
			}
			if (n == 0)
				break; /* shrank meanwhile */
			p->pos += n;
			done += (size_t)n;
			continue;
		}
		if (p->opend == p->npend) {
			if (b64_line(p, e) < 0)
				return -1;
			if (p->npend == 0)
				break;
		}
		{
			size_t k = p->npend - p->opend;

			if (k > len - done)
				k = len - done;
			memcpy(out + done, p->pend + p->opend, k);
			p->opend += k;
			p->pos += (int64_t)k;
			done += k;
		}
	}
	return (ssize_t)done;
}

static int
phile_rewind(struct mb_reader *r, struct mb_err *e)
{
	struct phile_reader *p = (struct phile_reader *)r;

	p->pos = p->fpos = 0;
	p->npend = p->opend = 0;
	p->final_nl = false;
	return MB_OK;
}

static void
phile_reader_close(struct mb_reader *r)
{
	free(r);
}

static int
phile_msg_open(struct mb_box *b, const struct mb_msg *m, struct mb_reader **out,
	       struct mb_err *e)
{
	struct phile_reader *p;

	if (m->uid != 1)
		return mbi_err(e, MB_FAILED, MB_EINVAL, b->path, -1,
			       "no such message");
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, b->path, -1,
			       "out of memory");
	p->s = b->priv;
	p->path = b->path;
	p->r.read = phile_read;
	p->r.rewind = phile_rewind;
	p->r.close = phile_reader_close;
	p->r.size = p->s->text_size;
	*out = &p->r;
	return MB_OK;
}

/* Any non-empty regular file, at the lowest score there is. */
static int
phile_probe(const char *path, const struct stat *st, const unsigned char *head,
	    size_t len)
{
	return S_ISREG(st->st_mode) && st->st_size > 0 ? 1 : 0;
}

const struct mb_driver mbi_driver_phile = {
	.name = "phile",
	.summary = "any other file, read-only as a single message (UW's "
		   "phile)",
	.caps = MB_CAP_DATES | MB_CAP_ANYFILE,
	.probe_len = 0,
	.probe = phile_probe,
	.open = phile_open,
	.next = phile_next,
	.msg_open = phile_msg_open,
	.close = phile_close,
};

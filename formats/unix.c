/*
 * unix.c - the traditional UNIX mailbox ("mbox"), as UW c-client reads
 * and writes it (shared/spec/uw-formats.md section 2; RFC 4155).
 *
 *	From sender Www Mmm dd hh:mm:ss yyyy[ zone] LF
 *	header LF ... LF
 *	LF
 *	body LF ...
 *	LF			(separator, not part of the message)
 *
 * A message ends where the next line passing the strict "From " grammar
 * begins; Content-Length is never used for framing.  The scanner, the
 * status headers and the writer are shared with MMDF in unixfile.c.
 */
#include <string.h>

#include "formats.h"
#include "unixfile.h"

/*
 * Ours when the first line that is not blank is a valid "From " line
 * (UW's test).  A file that has a valid From line further in is probably
 * a damaged mbox: claim it weakly so that check and repair can say what
 * is wrong with it instead of calling it "not a mailbox".  An empty file
 * is an empty mailbox of the default format (UW's "dummy" rule).
 */
static int
unix_probe(const char *path, const struct stat *st, const unsigned char *head,
	   size_t len)
{
	const char *p = (const char *)head, *end = p + len, *nl;

	if (st->st_size == 0)
		return 5;
	while (p < end && (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t'))
		p++;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl != NULL && mbi_from_line(p, (size_t)(nl - p), NULL))
		return 90;
	if (nl == NULL && (size_t)(end - p) >= 5 &&
	    memcmp(p, "From ", 5) == 0 &&
	    mbi_from_line(p, (size_t)(end - p), NULL))
		return 90;
	/* a valid From line at some later line start */
	while (nl != NULL && nl + 1 < end) {
		const char *s = nl + 1;

		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl != NULL && (size_t)(nl - s) >= 5 &&
		    memcmp(s, "From ", 5) == 0 &&
		    mbi_from_line(s, (size_t)(nl - s), NULL))
			return 10;
	}
	return 0;
}

static int
unix_open(struct mb_box *b, struct mb_err *e)
{
	return ux_open(b, UX_UNIX, e);
}

static int
unix_create(struct mb_box *b, struct mb_err *e)
{
	return ux_create(b, UX_UNIX, e);
}

const struct mb_driver mbi_driver_unix = {
	.name = "unix",
	.summary = "traditional UNIX mbox, as UW c-client, mutt and Dovecot "
		   "read it",
	.caps = MB_CAP_APPEND | MB_CAP_FLAGS | MB_CAP_EXPUNGE |
		MB_CAP_KEYWORDS | MB_CAP_UIDS | MB_CAP_CREATE | MB_CAP_DATES,
	.probe_len = 4096,
	.probe = unix_probe,
	.open = unix_open,
	.create = unix_create,
	.next = ux_next,
	.msg_open = ux_msg_open,
	.append = ux_append,
	.set_flags = ux_set_flags,
	.expunge = ux_expunge,
	.renumber = ux_renumber,
	.poll = ux_poll,
	.commit = ux_commit,
	.close = ux_close,
	.remove = ux_remove,
	.rename = ux_rename,
};

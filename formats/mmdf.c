/*
 * mmdf.c - the MMDF mailbox (shared/spec/uw-formats.md section 3).
 *
 *	^A^A^A^A LF
 *	[From sender date LF]	(optional; UW always writes one)
 *	header LF ... LF
 *	LF
 *	body LF ...
 *	LF
 *	^A^A^A^A LF
 *
 * No ">From" quoting; ^A bytes are removed from message text on write.
 * Status headers and the pseudo-message are as in unix mbox; the
 * scanner and writer are shared in unixfile.c.
 */
#include <string.h>

#include "formats.h"
#include "unixfile.h"

/* The 5-byte delimiter is certain; UW requires it at byte 0. */
static int
mmdf_probe(const char *path, const struct stat *st, const unsigned char *head,
	   size_t len)
{
	if (len >= 5 && memcmp(head, "\1\1\1\1\n", 5) == 0)
		return 100;
	if (len >= 6 && memcmp(head, "\1\1\1\1\r\n", 6) == 0)
		return 100;
	return 0;
}

static int
mmdf_open(struct mb_box *b, struct mb_err *e)
{
	return ux_open(b, UX_MMDF, e);
}

static int
mmdf_create(struct mb_box *b, struct mb_err *e)
{
	return ux_create(b, UX_MMDF, e);
}

const struct mb_driver mbi_driver_mmdf = {
	.name = "mmdf",
	.summary = "MMDF mailbox: messages between ^A^A^A^A lines",
	.caps = MB_CAP_APPEND | MB_CAP_FLAGS | MB_CAP_EXPUNGE |
		MB_CAP_KEYWORDS | MB_CAP_UIDS | MB_CAP_CREATE | MB_CAP_DATES,
	.probe_len = 8,
	.probe = mmdf_probe,
	.open = mmdf_open,
	.create = mmdf_create,
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

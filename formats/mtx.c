/*
 * mtx.c - UW c-client's legacy "mtx" format (shared/spec/uw-formats.md
 * section 5): messages back to back, each after a one-line header
 *
 *	<date>,<size>;<keywords oct10><flags oct2> CRLF
 *
 * with CRLF newlines in the header and the text.  The scanner and the
 * writer are shared with the other of the pair in tenexfile.c.
 */
#include "formats.h"
#include "tenexfile.h"

static int
mtx_probe(const char *path, const struct stat *st, const unsigned char *head,
	  size_t len)
{
	return tx_probe(TX_MTX, st, head, len);
}

static int
mtx_open(struct mb_box *b, struct mb_err *e)
{
	return tx_open(b, TX_MTX, e);
}

static int
mtx_create(struct mb_box *b, struct mb_err *e)
{
	return tx_create(b, TX_MTX, e);
}

const struct mb_driver mbi_driver_mtx = {
	.name = "mtx",
	.summary =
		"UW c-client's mtx: CRLF text, octal flags, no UIDs or keyword names",
	.caps = MB_CAP_CRLF | MB_CAP_APPEND | MB_CAP_FLAGS | MB_CAP_EXPUNGE |
		MB_CAP_CREATE | MB_CAP_DATES,
	.probe_len = 64,
	.probe = mtx_probe,
	.open = mtx_open,
	.create = mtx_create,
	.next = tx_next,
	.msg_open = tx_msg_open,
	.append = tx_append,
	.set_flags = tx_set_flags,
	.expunge = tx_expunge,
	.poll = tx_poll,
	.commit = tx_commit,
	.close = tx_close,
	.remove = tx_remove,
	.rename = tx_rename,
};

/*
 * msg-int.h - helpers private to the message engine (rfc5322.c, mime.c,
 * imapfetch.c, search.c).
 */
#ifndef MSG_INT_H
#define MSG_INT_H

#include <stdlib.h>
#include <string.h>

#include "mb-int.h"

/* The buffer's string, which the caller frees (an empty buffer's is
 * static, so it becomes a new ""); NULL without memory. */
static inline char *
msg_buf_take(struct mbi_buf *b)
{
	if (b->cap == 0)
		return strdup("");
	return b->buf;
}

#endif /* MSG_INT_H */

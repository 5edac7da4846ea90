/*
 * select.h - which messages of a mailbox a command works on: the one
 * place where a selection is parsed and matched, for copy, move and
 * prune.  Today an IMAP sequence set (RFC 9051 "sequence-set": "1:5,7,
 * 10:*") of message numbers or, with --uid, of UIDs; a search
 * expression is meant to become one more kind here.
 */
#ifndef CMD_SELECT_H
#define CMD_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mb.h"

enum sel_kind {
	SEL_SEQ, /* message numbers */
	SEL_UID, /* UIDs */
};

/* One range lo:hi of a set; 0 stands for "*" (the largest in use). */
struct sel_range {
	uint32_t lo, hi;
};

struct sel {
	int kind; /* enum sel_kind */
	struct sel_range *r;
	size_t n;
};

/*
 * Parse text as a sequence set into *s (kind as given).  Returns true,
 * or false with a reason in why (size bytes) for a malformed set.
 */
bool sel_parse(struct sel *s, int kind, const char *text, char *why,
	       size_t size);
void sel_free(struct sel *s);

/*
 * Is message m selected?  last_seq is the number of messages in the
 * box, last_uid the highest UID in it (the values of "*").
 */
bool sel_match(const struct sel *s, const struct mb_msg *m, uint32_t last_seq,
	       uint32_t last_uid);

/*
 * Mark the selected messages of an indexed box, which has been scanned
 * to the end: (*marks)[seq - 1] is true for each selected one; *nmarks
 * is the number of messages, *count the number selected.  Returns MB_OK
 * or the failure of mb_msg_at with *e filled.
 */
int sel_mark(const struct sel *s, struct mb_box *box, uint32_t nmsgs,
	     bool **marks, uint32_t *count, struct mb_err *e);

#endif /* CMD_SELECT_H */

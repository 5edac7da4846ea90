/*
 * tenexfile.h - code shared by UW c-client's two legacy single-file
 * formats, mtx (formats/mtx.c) and tenex (formats/tenex.c).  They differ
 * only in their newline: CRLF for mtx, bare LF for tenex.
 */
#ifndef TENEXFILE_H
#define TENEXFILE_H

#include "mb-int.h"

enum tx_flavor { TX_MTX, TX_TENEX };

int tx_probe(int flavor, const struct stat *st, const unsigned char *head,
	     size_t len);
int tx_open(struct mb_box *b, int flavor, struct mb_err *e);
int tx_create(struct mb_box *b, int flavor, struct mb_err *e);
int tx_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e);
int tx_msg_open(struct mb_box *b, const struct mb_msg *m,
		struct mb_reader **out, struct mb_err *e);
int tx_append(struct mb_box *b, const struct mb_newmsg *meta,
	      struct mb_reader *src, uint32_t *uid_out, struct mb_err *e);
int tx_set_flags(struct mb_box *b, struct mb_msg *m, unsigned flags,
		 uint64_t kw, struct mb_err *e);
int tx_expunge(struct mb_box *b, uint32_t *expunged, struct mb_err *e);
int tx_poll(struct mb_box *b, bool *changed, struct mb_err *e);
int tx_commit(struct mb_box *b, struct mb_err *e);
void tx_close(struct mb_box *b);
int tx_remove(struct mb_ctx *ctx, const char *path, struct mb_err *e);
int tx_rename(struct mb_ctx *ctx, const char *from, const char *to,
	      struct mb_err *e);

#endif /* TENEXFILE_H */

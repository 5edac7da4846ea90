/*
 * unixfile.h - code shared by the two single-file, line-delimited
 * formats: traditional UNIX mbox (formats/unix.c) and MMDF
 * (formats/mmdf.c).  Both keep their state in UW's status headers and
 * differ only in how a message is delimited.
 */
#ifndef UNIXFILE_H
#define UNIXFILE_H

#include "mb-int.h"

enum ux_flavor { UX_UNIX, UX_MMDF };

int ux_open(struct mb_box *b, int flavor, struct mb_err *e);
int ux_create(struct mb_box *b, int flavor, struct mb_err *e);
int ux_next(struct mb_box *b, struct mb_msg *out, struct mb_err *e);
int ux_msg_open(struct mb_box *b, const struct mb_msg *m,
		struct mb_reader **out, struct mb_err *e);
int ux_append(struct mb_box *b, const struct mb_newmsg *meta,
	      struct mb_reader *src, uint32_t *uid_out, struct mb_err *e);
int ux_set_flags(struct mb_box *b, struct mb_msg *m, unsigned flags,
		 uint64_t kw, struct mb_err *e);
int ux_expunge(struct mb_box *b, uint32_t *expunged, struct mb_err *e);
int ux_renumber(struct mb_box *b, struct mb_err *e);
int ux_poll(struct mb_box *b, bool *changed, struct mb_err *e);
int ux_commit(struct mb_box *b, struct mb_err *e);
void ux_close(struct mb_box *b);
int ux_remove(struct mb_ctx *ctx, const char *path, struct mb_err *e);
int ux_rename(struct mb_ctx *ctx, const char *from, const char *to,
	      struct mb_err *e);

/* The six headers UW keeps its state in; exact case (UW's own test). */
int ux_internal_header(const char *line, size_t len);

#endif /* UNIXFILE_H */

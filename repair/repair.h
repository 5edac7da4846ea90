/*
 * repair.h - UID rebuilding (repair/uid.c), used by `mailbag uid-rebuild`.
 * The mbox-family repair is declared in repair/repair-mbox.h.
 */
#ifndef REPAIR_H
#define REPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mb.h"

/* rp_uid_rebuild flags. */
#define RP_UID_FORCE   0x0001 /* a new UIDVALIDITY and UIDs 1..n anyway */
#define RP_UID_DRY_RUN 0x0002 /* decide and report, write nothing */

/* Why every UID was given anew (bits of rp_uid_report.why). */
#define RP_WHY_FORCED	 0x0001 /* --new-uidvalidity */
#define RP_WHY_NO_STATE	 0x0002 /* no UIDVALIDITY recorded */
#define RP_WHY_DUPLICATE 0x0004 /* two messages claim one UID */
#define RP_WHY_ORDER	 0x0008 /* UIDs go backwards */
#define RP_WHY_LOST	 0x0010 /* a message between numbered ones has none */

struct rp_uid_report {
	char format[32];
	uint32_t messages;
	uint32_t uidvalidity_old; /* 0: none was recorded */
	uint32_t uidvalidity;	  /* the one stored now */
	uint32_t uidnext;
	bool renumbered;   /* new UIDVALIDITY, UIDs 1..n */
	bool changed;	   /* something was (or would be) written */
	unsigned why;	   /* RP_WHY_* when renumbered */
	uint32_t kept;	   /* stored UIDs kept */
	uint32_t assigned; /* UIDs given to messages without one */
	/* what the scan saw */
	uint32_t nduplicate, norder, nabove, nbad, nmissing;
	uint32_t nother_damage; /* damage that is not about UIDs */
};

/*
 * Check and rebuild the UIDs of the mailbox at path (format NULL:
 * probe).  Diagnostics of the scan are passed on to diag (may be NULL).
 * Returns MB_OK with *rep filled, or a failure with e set.
 */
int rp_uid_rebuild(struct mb_ctx *ctx, const char *path, const char *format,
		   unsigned flags, mb_diag_fn diag, void *diag_arg,
		   struct rp_uid_report *rep, struct mb_err *e);

/* The reasons in why as text ("duplicate UIDs, UIDs out of order"). */
const char *rp_uid_why(unsigned why, char *buf, size_t size);

#endif /* REPAIR_H */

/*
 * repair-mbox.h - `mailbag repair`: put a damaged mailbox back in order
 * without losing a byte (see man/mailbag-repair.1).
 *
 * The logic lives in repair/ (it uses libmbox internals: locks, the
 * redo-journaled in-place rewrite); cmd/repair.c only parses options
 * and prints what the callback reports.
 *
 *   repair/mbox.c     the unix/mmdf family: lenient framer, plan, writer
 *   repair/mbx.c      mbx: the size chain walked and resynchronised
 *   repair/salvage.c  the verified backup and the salvage files
 */
#ifndef REPAIR_MBOX_H
#define REPAIR_MBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "mb-int.h"

/* How an unquoted body "From " line (not a valid From line) is read. */
enum rp_from_lines {
	RP_FROM_KEEP = 0, /* part of the message; quoted ">From " on rewrite */
	RP_FROM_SPLIT,	  /* a new message starts there (lax readers) */
};

struct rp_opts {
	const char *format;	 /* "unix", "mmdf"; NULL: probe */
	const char *salvage_dir; /* NULL: "<mailbox>.salvage" */
	bool dry_run;		 /* plan and report, write nothing */
	int from_lines;		 /* enum rp_from_lines */
	bool drop_cl;		 /* remove a wrong Content-Length */
	bool compact;		 /* mbx: rewrite the whole file rather than
				  * patch it in place */
};

/* What happened to one region of the original file. */
enum rp_action {
	RP_KEPT,      /* messages copied byte for byte */
	RP_CHANGED,   /* a message kept with repaired headers or quoting */
	RP_RECOVERED, /* unframed bytes made into a message again */
	RP_SALVAGED,  /* bytes written to a salvage file */
	RP_BLANK,     /* blank bytes between or before messages, dropped */
	RP_PSEUDO,    /* the FOLDER INTERNAL DATA message (re)created */
	RP_RECOVER_NOTE, /* an interrupted writer's work finished first */
};

struct rp_region {
	int action;	   /* enum rp_action */
	int64_t offset;	   /* in the original file (-1: none) */
	int64_t length;
	uint32_t messages; /* messages in the region */
	const char *file;  /* RP_SALVAGED: the salvage file */
	const char *text;  /* what was done, lowercase */
	bool damage;	   /* the region was damaged */
};
typedef void (*rp_report_fn)(void *arg, const struct rp_region *r);

struct rp_result {
	char format[16];
	bool damaged;		/* anything needed repairing */
	bool written;		/* the mailbox was rewritten */
	bool in_place;		/* mbx: patched in place; damaged bytes stay
				 * as expunged placeholders */
	uint32_t placeholders;	/* how many */
	uint32_t messages;	/* messages in the repaired mailbox */
	uint32_t kept, changed, recovered, salvaged;
	int64_t size_before, size_after;
	uint32_t uidvalidity;	/* 0: the mailbox keeps no UIDs */
	bool renumbered;	/* every UID was given anew */
	char backup[PATH_MAX];	/* "" when none was written */
	char salvage_dir[PATH_MAX];
};

/*
 * Repair the mailbox at path.  Returns MB_OK (res says whether anything
 * was damaged), MB_RETRY (locks busy), MB_FAILED/MB_FATAL with e set.
 */
int rp_repair(struct mb_ctx *ctx, const char *path, const struct rp_opts *o,
	      rp_report_fn fn, void *arg, struct rp_result *res,
	      struct mb_err *e);

/* repair/mbox.c: the unix/mmdf family ("unix" or "mmdf" in format). */
int rp_repair_mbox(struct mb_ctx *ctx, const char *path, const char *format,
		   const struct rp_opts *o, rp_report_fn fn, void *arg,
		   struct rp_result *res, struct mb_err *e);

/* repair/mbx.c: mbx mailboxes. */
int rp_repair_mbx(struct mb_ctx *ctx, const char *path,
		  const struct rp_opts *o, rp_report_fn fn, void *arg,
		  struct rp_result *res, struct mb_err *e);
/* Do the first n bytes of a file that does not probe look like mbx? */
bool rp_mbx_looks(const char *buf, size_t n);

/* ------------------------------------------------------------------ */
/* repair/salvage.c                                                     */

/*
 * Copy len bytes of fd (the locked mailbox) to a new file
 * "<path>.mailbag-backup.YYYYMMDDTHHMMSS[-N]" beside it, fsync it, read
 * both back and compare.  The name is stored in out.  dl (may be NULL)
 * is refreshed while copying.
 */
int rp_backup(const char *path, int fd, int64_t len, const struct stat *st,
	      struct mbi_dotlock *dl, char *out, size_t size,
	      struct mb_err *e);

/*
 * Salvage files "<dir>/badmsg.N".  rp_salvage_init picks the directory
 * (dir, or "<mailbox>.salvage") and the first free N without creating
 * anything; rp_salvage_name gives the name the next file will have;
 * rp_salvage_write creates the directory when needed and writes the
 * bytes (O_EXCL, fsynced), then advances N.
 */
struct rp_salvage {
	char dir[PATH_MAX];
	unsigned next;
	bool dir_made;
};
void rp_salvage_init(struct rp_salvage *sv, const char *mailbox,
		     const char *dir);
void rp_salvage_name(const struct rp_salvage *sv, unsigned k, char *out,
		     size_t size);
int rp_salvage_write(struct rp_salvage *sv, unsigned k, const void *p,
		     size_t n, struct mb_err *e);

/* One region or note to the caller's report function (fn may be NULL). */
void rp_report(rp_report_fn fn, void *arg, int action, int64_t off,
	       int64_t len, uint32_t msgs, const char *file, const char *text,
	       bool damage);

/*
 * Under the write locks, before a repair looks at the file: finish a
 * rewrite an interrupted process left half done and remove the torn tail
 * of an interrupted append (libmbox's journals), reporting each as an
 * RP_RECOVER_NOTE.
 */
int rp_recover(const char *path, int fd, rp_report_fn fn, void *arg,
	       struct mb_err *e);

/* The mailbox shrank under the repair's mapping: MB_FAILED, e set. */
int rp_shrank(const char *path, struct mb_err *e);

#endif /* REPAIR_MBOX_H */

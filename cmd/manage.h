/*
 * manage.h - what the mailbox management commands (create, delete,
 * rename, list, append, copy, move, prune: UW mailutil's jobs) share:
 * naming, parent directories, the indexed open, the copy of one message
 * and the transfer engine behind copy, move, prune and the rename of
 * INBOX.
 */
#ifndef CMD_MANAGE_H
#define CMD_MANAGE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "commands.h"
#include "mb.h"
#include "select.h"

/* The options every management command takes. */
struct mg_opts {
	bool dry_run;
	bool quiet;
	bool json;
};

/* A resolved mailbox name. */
struct mg_name {
	const char *name;    /* as the user gave it */
	char path[PATH_MAX]; /* the file or directory */
	const char *format;  /* forced by #driver.NAME/, else NULL */
	bool inbox;	     /* the name is INBOX (any case) */
};

/* Resolve name into *n; 0, or the exit status after a message. */
int mg_resolve(struct cmd_env *env, const char *name, struct mg_name *n);

/* Is name "INBOX", in any case? */
bool mg_is_inbox(const char *name);

/*
 * Create the missing parent directories of path, mode 0700 as UW makes
 * them (shared/spec/uw-formats.md 1.7).  MB_OK or MB_FAILED with *e.
 */
int mg_make_parents(const char *path, struct mb_err *e);

/*
 * Open path (format forced or NULL) in mode and scan it to the end, so
 * that every message has its number.  *count is the number of messages.
 */
int mg_open_scan(struct cmd_env *env, const char *path, const char *format,
		 unsigned mode, struct mb_box **box, uint32_t *count,
		 struct mb_err *e);

/* Append message m of sbox to dbox with its flags, keywords, date and
 * sender; sfd is sbox's file open for reading (its envelope lines), or
 * -1.  *bytes grows by the bytes read. */
int mg_copy_msg(struct mb_box *sbox, int sfd, const struct mb_msg *m,
		struct mb_box *dbox, int64_t *bytes, struct mb_err *e);

/*
 * Flag the marked messages of the writable box \Deleted and expunge
 * exactly them: messages that were \Deleted before but are not marked
 * keep their flag and stay.  *expunged counts what went.
 */
int mg_expunge_marked(struct mb_box *box, const bool *marks, uint32_t nmsgs,
		      uint32_t *expunged, struct mb_err *e);

/* What mg_transfer does. */
enum mg_job { MG_COPY, MG_MOVE };

struct mg_transfer {
	int job;	       /* enum mg_job */
	const struct sel *sel; /* NULL: every message */
	const char *to;	       /* format of a DST to create, or NULL */
	bool must_exist;       /* DST must exist already */
	bool must_not_exist;   /* DST must not exist */
	/* results */
	uint32_t messages; /* in SRC */
	uint32_t selected;
	uint32_t copied;
	uint32_t expunged;
	int64_t bytes;
	bool created; /* DST was created */
	const char *src_format, *dst_format;
};

/*
 * Copy (and for MG_MOVE then remove from SRC) the selected messages of
 * src into dst, creating dst when it does not exist.  The copy is
 * durable (mb_close of DST) before SRC is touched, so a crash leaves
 * every message in SRC or DST, at worst in both.  Returns 0 or the exit
 * status after a message.
 */
int mg_transfer(struct cmd_env *env, const struct mg_opts *o,
		const struct mg_name *src, const struct mg_name *dst,
		struct mg_transfer *t);

/* getopt_long values of the shared long options. */
enum { MG_OPT_VERSION = 300, MG_OPT_JSON, MG_OPT_FIRST_FREE };
#define MG_COMMON_LONGOPTS                                   \
	{ "dry-run", no_argument, NULL, 'n' },               \
		{ "quiet", no_argument, NULL, 'q' },         \
		{ "json", no_argument, NULL, MG_OPT_JSON },  \
		{ "help", no_argument, NULL, 'h' },          \
	{                                                    \
		"version", no_argument, NULL, MG_OPT_VERSION \
	}

/*
 * The shared options: -n, -q, --json set *o and return -1 (go on); -h
 * and --version print and return 0; an unknown option returns 64 after
 * the usage message.  Any other c returns -2 (the command's own).
 */
int mg_common_opt(struct cmd_env *env, int c, struct mg_opts *o);

#endif /* CMD_MANAGE_H */

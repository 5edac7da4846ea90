/*
 * deliver.h - local delivery shared by `mailbag deliver` (the MTA's
 * delivery agent, tmail's job) and `mailbag dmail` (procmail's, dmail's
 * job): spooling the message, naming the target, safety checks and the
 * append through the generic driver interface.
 */
#ifndef CMD_DELIVER_H
#define CMD_DELIVER_H

#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>

#include "mb.h"

/* The message read from stdin, kept in an unlinked temporary file with
 * LF line ends (the drivers add CRs where their format wants them). */
struct dl_msg {
	int fd;
	int64_t size;
	char *sender;	/* -f, or the envelope "From " line; NULL: unknown */
	char *envelope; /* the dropped "From " line (CR, LF cut), or NULL */
	bool has_return_path;
};

/*
 * Read the message from in_fd into m.  An envelope "From " line first
 * gives the sender (unless one is already set) and is dropped; CRLF
 * becomes LF.  Returns 0, or the exit status after a message on stderr:
 * 65 (EX_DATAERR) for an empty message, 75 (EX_TEMPFAIL) when it cannot
 * be read or stored.
 */
int dl_spool(struct dl_msg *m, int in_fd, const char *prog);
void dl_msg_free(struct dl_msg *m);

/* What one delivery needs. */
struct dl_job {
	struct mb_ctx *ctx;
	const char *prog;
	const char *via;     /* "deliver" or "dmail", for Received: */
	const char *rcpt;    /* for Received: "for RCPT" */
	const char *invoker; /* "invoked by user X" in Received:, or NULL */
	const struct dl_msg *msg;
	const struct passwd *pw; /* the recipient (we run as this user) */
	bool check_owner;	 /* the mailbox must belong to pw->pw_uid */
	const char *new_format;	 /* for created mailboxes; NULL: new-format */
	unsigned flags;		 /* MB_SEEN ... */
	const char *const *keywords;
	size_t nkeywords;
	bool verbose;
};

/*
 * Is name a valid +FOLDER (after the '+')?  UW's rules: not starting with
 * % * # / ~, no "..", "//" or "/~".
 */
bool dl_folder_ok(const char *name);
/* "", "INBOX" (any case): the folder part names INBOX. */
bool dl_folder_is_inbox(const char *name);

/*
 * The INBOX path of the user we run as, and the format to create it in
 * when it does not exist.  All INBOX naming goes through here.
 */
int dl_inbox(struct mb_ctx *ctx, const struct passwd *pw, const char *fmt,
	     char *path, size_t size, const char **create_fmt,
	     struct mb_err *e);

/* dl_append's create: no, with mb_create, or (an INBOX of the unix or
 * mmdf format) as an empty file, as UW makes the spool file. */
enum { DL_NO_CREATE = 0, DL_CREATE, DL_CREATE_EMPTY };

/*
 * Append the message to the mailbox at path, creating it (in create_fmt,
 * NULL for new-format) when it does not exist and create says so.
 * Returns MB_OK or a failure with *e filled; *missing is set when the
 * mailbox does not exist and create is false.
 */
int dl_append(const struct dl_job *j, const char *path, int create,
	      const char *create_fmt, bool *missing, struct mb_err *e);

#endif /* CMD_DELIVER_H */

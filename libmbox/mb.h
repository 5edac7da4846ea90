/*
 * mb.h - the public interface of libmbox, mailbag's mailbox core.
 *
 * libmbox opens, reads, validates, appends to and rewrites mailboxes in
 * the formats of the UW IMAP toolkit and its peers.  Every format is a
 * driver (see man/libmbox.3, section DRIVERS, and formats/formats.h);
 * callers see only the handles declared here.
 *
 * Conventions that hold for every function below:
 *  - Functions that can fail return a severity (MB_OK, MB_END, MB_RETRY,
 *    MB_FAILED, MB_FATAL) and fill the caller's struct mb_err with the
 *    cause.  The library never prints, never exits and never aborts on
 *    bad input.
 *  - Memory returned through a pointer (struct mb_msg, keyword names,
 *    sender strings) belongs to the box and stays valid until the next
 *    call that advances or closes that box, unless said otherwise.
 *  - Byte offsets are 0-based offsets into the mailbox file.
 */
#ifndef MB_H
#define MB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MB_VERSION "0.1.0"

/* Severities.  Negative values are failures, graded by blast radius. */
enum {
	MB_OK = 0,	/* success */
	MB_END = 1,	/* iteration finished (mb_next only) */
	MB_RETRY = -1,	/* transient: lock busy, interrupted; retry later */
	MB_FAILED = -2, /* this call or this message failed; box still usable */
	MB_FATAL =
		-3, /* the box is unusable: only mb_close/mb_abort may follow */
};

/* Causes, stored in mb_err.code.  cmd/util maps them onto sysexits. */
enum mb_code {
	MB_ENONE = 0,
	MB_ENOMEM,    /* out of memory */
	MB_EIO,	      /* read or write error; sys_errno says which */
	MB_ENOENT,    /* the mailbox does not exist */
	MB_EEXIST,    /* it exists already */
	MB_EPERM,     /* permission denied */
	MB_ENOSPC,    /* disk full or over quota */
	MB_ELOCKED,   /* another process holds the lock */
	MB_EFORMAT,   /* not a mailbox of this format, or damaged */
	MB_ENOTSUP,   /* the driver cannot do this */
	MB_EINVAL,    /* bad argument or mailbox name */
	MB_ELIMIT,    /* a limit of the context was exceeded */
	MB_ECHANGED,  /* changed by another process in an unexpected way */
	MB_ECONFIG,   /* bad configuration file */
	MB_EINTERNAL, /* a broken invariant: a bug */
	/* remote mailboxes (IMAP, POP3) */
	MB_ENET,   /* refused, unreachable, timed out, dropped: retry later */
	MB_ETLS,   /* TLS handshake or certificate verification failed */
	MB_EAUTH,  /* the server refused the credentials */
	MB_EPROTO, /* the server broke the protocol or refused a command */
};

/*
 * The error value.  Fixed size, so filling it never allocates.  offset is
 * -1 when no position applies; msgno and uid are 0 when unknown.
 */
struct mb_err {
	int code;	 /* enum mb_code */
	int sys_errno;	 /* errno of the failing system call, or 0 */
	int64_t offset;	 /* byte offset in path, or -1 */
	uint32_t msgno;	 /* 1-based message number, or 0 */
	uint32_t uid;	 /* UID, or 0 */
	char path[1024]; /* the file concerned, or "" */
	char msg[512];	 /* what went wrong, lowercase, no final period */
};

/* Reset *e to "no error". */
void mb_err_clear(struct mb_err *e);
/* A short name for an mb_code ("format", "locked", ...). */
const char *mb_code_name(int code);

/*
 * System flags.  The values are UW c-client's (shared by its mbx, mix,
 * mtx and tenex formats), so drivers for those formats store them as is.
 * MB_OLD set means "not \Recent".
 */
#define MB_SEEN	     0x0001
#define MB_DELETED   0x0002
#define MB_FLAGGED   0x0004
#define MB_ANSWERED  0x0008
#define MB_OLD	     0x0010
#define MB_DRAFT     0x0020
#define MB_FLAGS_ALL 0x003f

/* A box can name at most this many keywords (UW: 30, Dovecot maildir: 26). */
#define MB_MAX_KEYWORDS 64

/*
 * One message, as a driver reports it.  Owned by the box.
 *  offset/size: the whole on-disk record (envelope line or internal header
 *  included, separators excluded), so a repair or check can name bytes.
 *  text_offset/text_size: where the message text proper starts in the
 *  file and how many stored bytes it spans (for single-file formats).
 */
struct mb_msg {
	uint32_t seq;	      /* 1-based position in the box */
	uint32_t uid;	      /* 0 when none is assigned yet */
	unsigned flags;	      /* MB_SEEN ... */
	uint64_t keywords;    /* bit n = keyword n of the box */
	int64_t idate;	      /* internal date, seconds since the epoch */
	int idate_tz;	      /* its zone, minutes east of UTC */
	int64_t offset;	      /* first byte of the record */
	int64_t size;	      /* bytes of the record */
	int64_t text_offset;  /* first byte of the message text */
	int64_t text_size;    /* stored bytes of the message text */
	uint64_t modseq;      /* change sequence, 0 if the format keeps none */
	const char *sender;   /* envelope sender, or NULL */
	const char *envelope; /* the raw "From " line (no newline), or NULL */
	const char *key;      /* file name for one-file-per-message formats */
};

/*
 * A message to append.  keywords are names (the destination maps them
 * onto its own list); uid 0 lets the destination assign one.
 */
struct mb_newmsg {
	unsigned flags;
	int64_t idate; /* -1: now */
	int idate_tz;
	uint32_t uid;
	const char *sender;   /* NULL: the format's default */
	const char *envelope; /* a "From " line to keep verbatim, or NULL */
	const char *const *keywords;
	size_t nkeywords;
	/* The text's line ends are CR LF because its source format stores
	 * them so (mb_info.crlf_text): a format that stores LF drops the CRs. */
	bool crlf_text;
};

/*
 * A bounded byte stream: one message's text, a file, a buffer.  read
 * returns the number of bytes placed in buf, 0 at the end, -1 on error
 * (with *e filled).  rewind starts again from the first byte; a reader
 * that cannot rewind returns MB_FAILED with MB_ENOTSUP.  size is the
 * total length when known, else -1.
 */
struct mb_reader {
	ssize_t (*read)(struct mb_reader *r, void *buf, size_t len,
			struct mb_err *e);
	int (*rewind)(struct mb_reader *r, struct mb_err *e);
	void (*close)(struct mb_reader *r);
	int64_t size;
};

ssize_t mb_reader_read(struct mb_reader *r, void *buf, size_t len,
		       struct mb_err *e);
int mb_reader_rewind(struct mb_reader *r, struct mb_err *e);
/* Free the reader and set *r to NULL. */
void mb_reader_close(struct mb_reader **r);
/* A reader over len bytes at buf; the buffer must outlive the reader. */
struct mb_reader *mb_reader_mem(const void *buf, size_t len);
/* A reader over len bytes of fd from off (pread; fd stays the caller's). */
struct mb_reader *mb_reader_fd(int fd, int64_t off, int64_t len);

/* ">From" quoting and unquoting, see mailbag-formats(5). */
enum mb_quote {
	MB_QUOTE_MBOXO = 0, /* write: ">" before lines starting "From " (UW) */
	MB_QUOTE_MBOXRD,    /* write: ">" before lines matching ^>*From  */
};
enum mb_unquote {
	MB_UNQUOTE_NONE = 0, /* read: bytes as stored (UW, mutt, Dovecot) */
	MB_UNQUOTE_MBOXRD,   /* read: drop one ">" from ^>+From  */
};

/*
 * A diagnostic found while scanning (mb_open with MB_CHECK and every
 * mb_next after it).  code is a stable hyphenated word ("bad-from-line").
 */
enum mb_diag_level { MB_DIAG_INFO, MB_DIAG_WARN, MB_DIAG_DAMAGE };
struct mb_diag {
	int level; /* enum mb_diag_level */
	const char *code;
	const char *path;
	int64_t offset;
	uint32_t msgno;
	uint32_t uid;
	const char *text; /* lowercase description, no final period */
};
typedef void (*mb_diag_fn)(void *arg, const struct mb_diag *d);

/*
 * The context: configuration and hooks shared by the boxes opened from it.
 * It holds no global state; separate contexts may be used from separate
 * threads.
 */
struct mb_ctx;

struct mb_ctx *mb_ctx_new(void);
void mb_ctx_free(struct mb_ctx **ctx);
void mb_ctx_set_diag(struct mb_ctx *ctx, mb_diag_fn fn, void *arg);
/*
 * Progress of long scans and copies: fn(arg, done, total) is called with
 * byte counts now and then (about every 16 MiB), never for small files.
 */
typedef void (*mb_progress_fn)(void *arg, int64_t done, int64_t total);
void mb_ctx_set_progress(struct mb_ctx *ctx, mb_progress_fn fn, void *arg);

/*
 * Settings.  Names and values are those of mailbag.conf(5): for example
 * "new-format" = "mbx", "uw-metadata" = "no", "lock-timeout" = "300".
 * Returns MB_OK, or MB_FAILED with MB_EINVAL for an unknown name or a bad
 * value.
 */
int mb_ctx_set(struct mb_ctx *ctx, const char *name, const char *value,
	       struct mb_err *e);
const char *mb_ctx_get(const struct mb_ctx *ctx, const char *name);
/*
 * Read the system file (/etc/mailbag.conf, or $MAILBAG_CONF) and then the
 * user's ~/.mailbagrc.  A missing file is not an error; a bad line is
 * MB_FAILED with MB_ECONFIG, path and line number (in offset) set.
 */
int mb_ctx_load_config(struct mb_ctx *ctx, struct mb_err *e);

/*
 * Resolve a mailbox name to a path and an optional forced format:
 * "INBOX" (mb_inbox), "~/name", "~user/name", "/abs", "#driver.NAME/rest" and, as
 * shell users expect, a plain relative name relative to the current
 * directory.  Fills path (size bytes) and format (NULL unless forced by
 * #driver.NAME).  Returns MB_OK or MB_FAILED with MB_EINVAL.
 */
int mb_resolve_name(struct mb_ctx *ctx, const char *name, char *path,
		    size_t size, const char **format, struct mb_err *e);

/*
 * The user's INBOX, resolved exactly in UW c-client's order
 * (shared/spec/uw-formats.md 13), so that mailbag and UW programs open
 * the same file:
 *  1. ~/mbox when it is in UNIX format or empty, and the spool file is
 *     UNIX, empty or missing (rule "mbox");
 *  2. ~/INBOX in mix, mx, mbx, tenex or mtx format, ~/mail.txt in tenex
 *     format or empty, ~/INBOX.MTX in mtx format or empty (rule: the file
 *     name), for the formats this build has;
 *  3. otherwise the spool file <spool-directory>/<login of the real uid>
 *     (rule "spool"), MMDF or UNIX.
 * Home is $HOME, else the password file's.  moves_spool says that the
 * INBOX is not the spool file: new mail in the spool belongs moved into
 * it (UW moves it when it opens INBOX; `mailbag spool-move` does it).
 * Returns MB_OK or MB_FAILED (MB_EINVAL: no user name, name too long).
 */
struct mb_inbox {
	char path[4096];	  /* the INBOX */
	char spool[4096];	  /* the spool file */
	const char *format;	  /* format of path; NULL when it is the spool
				     and that is missing, empty or unknown */
	const char *spool_format; /* "mmdf", "unix" or NULL */
	const char *rule;	  /* "mbox", "INBOX", "mail.txt", "INBOX.MTX"
				     or "spool" */
	bool exists;		  /* path exists */
	bool moves_spool;	  /* path is not the spool file */
};
int mb_inbox(struct mb_ctx *ctx, struct mb_inbox *out, struct mb_err *e);

/* The mailbox. */
struct mb_box;

/* mb_open modes. */
#define MB_RDONLY     0x0000
#define MB_RDWR	      0x0001 /* read/write: locks as UW does */
#define MB_CHECK      0x0002 /* validate everything, report through diag */
#define MB_STREAM     0x0004 /* sequential scan; keep no per-message index */
#define MB_NOLOCK     0x0008 /* read-only without locks (tests, forensics) */
#define MB_UNQUOTE    0x0010 /* read with mboxrd unquoting */
#define MB_KEEP_TIMES 0x0020 /* restore atime/mtime after reading (check) */

/*
 * Open the mailbox at path.  format names a driver ("unix", "mmdf", ...);
 * NULL probes by content.  Returns MB_OK, MB_RETRY (lock busy),
 * MB_FAILED (ENOENT, EFORMAT, EPERM ...).
 */
int mb_open(struct mb_ctx *ctx, const char *path, const char *format,
	    unsigned mode, struct mb_box **out, struct mb_err *e);

/* mb_create flags. */
#define MB_CREATE_ATOMIC \
	0x0001		      /* build under a temporary name; mb_close
				    publishes it, mb_abort removes it */
#define MB_CREATE_EXCL 0x0002 /* fail with MB_EEXIST if path exists */

/*
 * Create a new, empty mailbox of the given format (NULL: the configured
 * "new-format") at path and return it opened read/write.
 */
int mb_create(struct mb_ctx *ctx, const char *path, const char *format,
	      unsigned flags, struct mb_box **out, struct mb_err *e);

/* Delete or rename a mailbox (with the locks its format asks for). */
int mb_delete(struct mb_ctx *ctx, const char *path, struct mb_err *e);
int mb_rename(struct mb_ctx *ctx, const char *from, const char *to,
	      struct mb_err *e);

/*
 * Commit what is pending (flag changes, appends, a created mailbox),
 * release the locks and free the box.  *box is set to NULL whatever the
 * result.  A failure leaves the mailbox as it was before the pending work.
 */
int mb_close(struct mb_box **box, struct mb_err *e);
/* Drop pending work, remove a mailbox being created, unlock, free. */
void mb_abort(struct mb_box **box);

/* The name of the driver that opened the box ("unix"). */
const char *mb_box_format(const struct mb_box *box);
const char *mb_box_path(const struct mb_box *box);
/* Does the box's format store text with CR LF line ends (mbx, mix, mtx)?
 * Set mb_newmsg.crlf_text from it when copying its messages. */
bool mb_box_crlf_text(const struct mb_box *box);

/* Mailbox-wide state. */
struct mb_info {
	const char *format;
	uint32_t uidvalidity; /* 0 when the mailbox has none yet */
	uint32_t uidnext;     /* last assigned UID + 1 */
	uint32_t messages;    /* messages seen so far (all, after a scan) */
	int64_t size;	      /* bytes of the mailbox file(s) */
	uint64_t highest_modseq;
	unsigned nkeywords;
	bool has_pseudo;  /* unix/mmdf: a FOLDER INTERNAL DATA message */
	bool crlf_text;	  /* messages are stored with CR LF line ends by
				 * the format's rule (mbx, mix, mtx) */
	bool uids_broken; /* duplicate or backward UIDs were found: the
				   UIDs reported under this UIDVALIDITY are
				   not all the ones clients saw */
	bool readonly;
	/* What the scan saw of the format's variants, e.g. "mboxo" or
	 * "mboxrd" quoting, "crlf" line ends; "" when nothing to say. */
	char variant[64];
	/* Where the mailbox was unpacked from: compression "gzip", "bzip2",
	 * "xz" or "zstd" and archive "tar" or "zip"; "" when neither. */
	char compression[16];
	char archive[16];
};
int mb_box_info(struct mb_box *box, struct mb_info *out, struct mb_err *e);

/* Keyword n of the box, or NULL. */
const char *mb_keyword(const struct mb_box *box, unsigned n);
/*
 * Index of keyword name (case-insensitive), creating it when create is
 * set and the box is writable.  Returns the index, or -1 (no such
 * keyword, or MB_MAX_KEYWORDS reached).
 */
int mb_keyword_index(struct mb_box *box, const char *name, bool create);

/*
 * Next message, in mailbox order.  Returns MB_OK with *out set, MB_END
 * after the last one, MB_FAILED when one message could not be read (the
 * scan goes on at the next call), MB_FATAL when the mailbox is unusable.
 */
int mb_next(struct mb_box *box, struct mb_msg **out, struct mb_err *e);
/* Start the iteration again (indexed boxes only). */
int mb_rewind(struct mb_box *box, struct mb_err *e);
/* Message seq (1-based) of an indexed box, after a full scan. */
int mb_msg_at(struct mb_box *box, uint32_t seq, struct mb_msg **out,
	      struct mb_err *e);

/*
 * The text of a message: its header (less the format's own bookkeeping
 * headers, such as Status and X-UID in unix mbox) and body, in the bytes
 * the mailbox stores (see mailbag-formats(5) for what "equal" means).
 * The reader must be closed before the box is.
 */
int mb_msg_open(struct mb_box *box, const struct mb_msg *m,
		struct mb_reader **out, struct mb_err *e);

/*
 * A reader that starts with the message's header: where the format can
 * give the header alone cheaply (POP3's TOP) it ends after the empty
 * line that closes the header, else it is mb_msg_open's and goes on
 * into the body.  For callers that need the header only.
 */
int mb_msg_open_header(struct mb_box *box, const struct mb_msg *m,
		       struct mb_reader **out, struct mb_err *e);

/*
 * Append one message read from src, with the metadata in meta.  The new
 * UID is stored in *uid_out when the format keeps UIDs (uid_out may be
 * NULL).  Appends are staged: they become durable at mb_close, and a
 * failed or interrupted append leaves no part of the message behind.
 */
int mb_append(struct mb_box *box, const struct mb_newmsg *meta,
	      struct mb_reader *src, uint32_t *uid_out, struct mb_err *e);

/*
 * Set the mailbox's UIDVALIDITY and the lowest UID the next append may
 * use (for conversions that keep UIDs).  Only on an empty, writable box.
 */
int mb_set_uidstate(struct mb_box *box, uint32_t uidvalidity, uint32_t uidnext,
		    struct mb_err *e);

/*
 * Renumber an indexed, writable box (after a full scan): give message
 * seq the UID uids[seq - 1] (n entries, strictly ascending, non-zero)
 * under uidvalidity, and set the next UID to uidnext (greater than the
 * last).  Written at mb_close, as flag changes are.  For uid-rebuild and
 * repair; MB_ENOTSUP where the format keeps no UIDs.
 */
int mb_set_uids(struct mb_box *box, uint32_t uidvalidity, const uint32_t *uids,
		uint32_t n, uint32_t uidnext, struct mb_err *e);

/*
 * Give a mailbox being created (mb_create with MB_CREATE_ATOMIC, before
 * mb_close) a new, larger UIDVALIDITY: for a conversion that kept its
 * source's UIDs and then found the source's UIDs broken.
 */
int mb_new_uidvalidity(struct mb_box *box, struct mb_err *e);

/* Change flags: add then remove (masks of MB_SEEN ...). */
int mb_set_flags(struct mb_box *box, uint32_t seq, unsigned add, unsigned del,
		 uint64_t kw_add, uint64_t kw_del, struct mb_err *e);

/* Remove messages flagged \Deleted. *expunged counts them (may be NULL). */
int mb_expunge(struct mb_box *box, uint32_t *expunged, struct mb_err *e);

/*
 * For long-running readers (the servers): notice what other processes did
 * since the last scan.  Returns MB_OK with *changed set when new messages
 * were appended (mb_next then returns them) or flags changed, MB_FATAL
 * with MB_ECHANGED when the mailbox was rewritten in a way the box cannot
 * follow (reopen it).
 */
int mb_poll(struct mb_box *box, bool *changed, struct mb_err *e);

/*
 * Move the messages of the spool file into dest (which mb_inbox names
 * for the user's own spool), keeping flags and keywords, then empty the
 * spool.  Takes the spool's dot-lock (through the setgid helper where
 * the directory needs it), flock and fcntl locks, and UW's /tmp lock
 * (MB_RETRY, MB_ELOCKED when a UW session has the spool open).  dest is
 * made durable before the spool is truncated, and a journal beside dest
 * lets a run after a crash at any point finish the move without losing
 * or duplicating a message (see libmbox/spool.c).  A missing dest is
 * created in create_format, or refused (MB_ENOENT) when that is NULL.  A
 * missing spool file moves nothing.
 */
#define MB_SPOOL_DRY_RUN 0x0001 /* count what would move; change nothing */
struct mb_spool_result {
	uint32_t messages;  /* messages appended (or that would be) */
	int64_t bytes;	    /* spool bytes they took */
	int64_t spool_size; /* the spool's size when locked */
	int64_t skipped;    /* spool bytes an interrupted run had moved */
	bool recovered;	    /* a journal of an interrupted run applied */
	bool created;	    /* dest was created */
	const char *format; /* the spool's format */
	const char *dest_format;
};
int mb_spool_move(struct mb_ctx *ctx, const char *spool, const char *dest,
		  const char *create_format, unsigned flags,
		  struct mb_spool_result *res, struct mb_err *e);

/* Format n (0-based, in registry order): its name and a one-line
 * summary, or NULL past the last one. */
const char *mb_format_name(unsigned n);
const char *mb_format_summary(unsigned n);
/* Probe path without opening it: the winning driver's name, or NULL. */
const char *mb_probe(struct mb_ctx *ctx, const char *path, struct mb_err *e);

/*
 * Listing (libmbox/list.c): walk the directory tree under root and report
 * each entry to fn, parents before their children, the entries of one
 * directory sorted by name.  Names are relative to root, with "/"
 * between levels; pattern (NULL: "*") selects them with IMAP's
 * wildcards: "*" matches any run of characters, "%" any run without
 * "/".  Symbolic links are followed only to targets inside root, and no
 * directory is walked twice, so there are no loops.  Entries that are a
 * format's own files (lock files, mailbag's temporary files, the
 * internals of directory mailboxes) are never reported.
 */
enum mb_list_kind {
	MB_LIST_MAILBOX, /* a mailbox of entry->format */
	MB_LIST_DIR,	 /* a directory that is no mailbox (\NoSelect) */
	MB_LIST_OTHER,	 /* no mailbox: unknown content, special file,
				   a link out of the tree (reason says) */
	MB_LIST_ERROR,	 /* cannot be examined (code, reason) */
};

/* Attributes of an entry (IMAP's LIST attributes, and two of ours). */
#define MB_LATT_NOINFERIORS   0x0001 /* cannot have children (a file) */
#define MB_LATT_NOSELECT      0x0002 /* not a mailbox (MB_LIST_DIR) */
#define MB_LATT_HASCHILDREN   0x0004 /* has entries below it */
#define MB_LATT_HASNOCHILDREN 0x0008 /* could have, has none */
#define MB_LATT_MARKED	      0x0010 /* new mail since last read (UW's test) */
#define MB_LATT_UNMARKED      0x0020 /* no new mail */
#define MB_LATT_SYMLINK	      0x0040 /* reached through a symbolic link */
#define MB_LATT_DIRBOX \
	0x0080 /* a mailbox that is a directory; with
					  HASCHILDREN a "dual-use" name */
#define MB_LATT_NOWALK \
	0x0100 /* a directory that was not walked
					  (seen before, or too deep) */

struct mb_list_entry {
	const char *name;   /* relative to root; "" for root itself */
	const char *path;   /* root "/" name, as opened */
	int kind;	    /* enum mb_list_kind */
	unsigned attrs;	    /* MB_LATT_* */
	const char *format; /* MB_LIST_MAILBOX: the driver's name */
	const char *reason; /* OTHER/ERROR/NOWALK: why, else NULL */
	int code;	    /* ERROR: enum mb_code, else 0 */
	int sys_errno;	    /* ERROR: errno, or 0 */
	const char *link;   /* SYMLINK: the link's text, else NULL */
	unsigned depth;	    /* 0 for root, 1 for its entries ... */
};
/* Return 0 to go on, anything else to stop the walk. */
typedef int (*mb_list_fn)(void *arg, const struct mb_list_entry *ent);

/* mb_list flags. */
#define MB_LIST_ALL  0x0001 /* report OTHER and ERROR entries too */
#define MB_LIST_ROOT 0x0002 /* report root itself (name "") first */
#define MB_LIST_NODOT \
	0x0004 /* hide names starting with "." (UW shows
				   them) */
#define MB_LIST_NOFOLLOW \
	0x0008 /* report symbolic links, walk none (for
				   copies: every directory once, by its
				   own name) */

/*
 * Returns MB_OK when the walk ended or fn stopped it, MB_FAILED when
 * root cannot be read or is no directory (MB_ENOENT, MB_EPERM,
 * MB_EINVAL).  Problems below root are entries, not failures.
 */
int mb_list(struct mb_ctx *ctx, const char *root, const char *pattern,
	    unsigned flags, mb_list_fn fn, void *arg, struct mb_err *e);
/*
 * The mailboxes of a remote server (libmbox/net.c names): IMAP's
 * LIST "" "*", a POP3 server's one INBOX.  ent->name is the server's
 * name with its hierarchy delimiter shown as "/", ent->path the full
 * remote name to open; \Noselect names are MB_LIST_DIR.  MB_OK, or
 * MB_FAILED (MB_ENET, MB_ETLS, MB_EAUTH, MB_EPROTO).
 */
int mb_remote_list(struct mb_ctx *ctx, const char *remote, mb_list_fn fn,
		   void *arg, struct mb_err *e);
/* Does name match the LIST pattern ("*", "%")? */
bool mb_list_match(const char *pattern, const char *name);
/* Are mailboxes of format (a name) directories, which can hold child
 * mailboxes?  false for an unknown name. */
bool mb_format_dir(const char *format);

/*
 * Compressed mailboxes and archives (libmbox/compress.c, libmbox/pack.c).
 * mb_open reads a mailbox compressed with gzip, bzip2, xz or zstd, and a
 * tar or zip archive holding a directory mailbox, by content: it unpacks
 * into a private temporary directory (under $TMPDIR) and opens that
 * read-only; mb_info.compression and .archive say so.
 *
 * mb_ctx_set_member picks the mailbox inside an archive (a relative
 * path); NULL restores the default, the archive's single top directory.
 */
void mb_ctx_set_member(struct mb_ctx *ctx, const char *member);
/*
 * What DST's name asks for: "gzip" (.gz), "tar" (.tar), "tar.gz"
 * (.tar.gz, .tgz), "tar.xz" (.tar.xz, .txz), "zip" (.zip), or NULL.
 */
const char *mb_pack_kind(const char *dst);
/*
 * Write src into a new file dst: kind "gzip" compresses the regular file
 * src; the others pack the directory src (its tree of regular files and
 * directories) as top/ into a tar (pax), tar.gz, tar.xz or zip archive.
 * Written under a temporary name beside dst, fsynced and renamed; dst
 * must not exist (MB_EEXIST).
 */
int mb_pack(struct mb_ctx *ctx, const char *src, const char *top,
	    const char *dst, const char *kind, struct mb_err *e);
/* A new private directory under $TMPDIR (or /tmp), name in out. */
int mb_tmpdir(char *out, size_t size, struct mb_err *e);

/*
 * A temporary file for scratch data in $TMPDIR (an absolute path; else
 * /tmp) that has no name, so that a process killed at any point leaves
 * nothing behind: O_TMPFILE, else a "PREFIX.XXXXXX" file unlinked at once
 * (a window only file systems without O_TMPFILE have).  The descriptor,
 * or -1 with e set ("cannot make WHAT").
 */
int mb_tmpfile(const char *prefix, const char *what, struct mb_err *e);

/* Remove a file or directory tree (no symlinks followed). */
void mb_rmtree(const char *path);

/* Dates. */
/* Format "Wed Dec  2 05:53:22 1992 +0000" (UW's From-line form). */
size_t mb_date_ctime(int64_t t, int tz_min, char *buf, size_t size);
/* Format the IMAP internal form " 2-Dec-1992 05:53:22 +0000". */
size_t mb_date_imap(int64_t t, int tz_min, char *buf, size_t size);
/* Format RFC 5322: "Wed, 2 Dec 1992 05:53:22 +0000". */
size_t mb_date_rfc5322(int64_t t, int tz_min, char *buf, size_t size);
/*
 * Parse any date UW or RFC 5322 accepts (ctime with or without zone,
 * IMAP internal, RFC 5322 with obsolete zones).  Returns true with *t and
 * *tz_min set, false when s is not a date.
 */
bool mb_date_parse(const char *s, size_t len, int64_t *t, int *tz_min);

#endif /* MB_H */

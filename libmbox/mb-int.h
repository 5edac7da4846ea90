/*
 * mb-int.h - libmbox internals shared by the core (libmbox/) and the
 * format drivers (formats/).  Not installed; commands never include it.
 *
 * Sections: the driver interface, the box, diagnostics and errors,
 * buffers and I/O, dates and the "From " line, locking, durable writes.
 */
#ifndef MB_INT_H
#define MB_INT_H

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "mb.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define MBI_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ------------------------------------------------------------------ */
/* Driver interface (documented for newcomers in man/libmbox.3)         */

/* Capability bits: a NULL slot must have its bit clear. */
#define MB_CAP_APPEND	0x0001 /* append */
#define MB_CAP_FLAGS	0x0002 /* set_flags (flags are stored) */
#define MB_CAP_KEYWORDS 0x0004 /* keyword names are stored */
#define MB_CAP_UIDS	0x0008 /* UIDs and UIDVALIDITY are sticky */
#define MB_CAP_EXPUNGE	0x0010 /* expunge */
#define MB_CAP_CREATE	0x0020 /* create */
#define MB_CAP_DIR	0x0040 /* the mailbox is a directory */
#define MB_CAP_DATES	0x0080 /* internal dates are stored */
#define MB_CAP_ANYFILE \
	0x0200 /* takes what nothing else claims: any
				 * file (phile), an empty directory (eml);
				 * such an entry is no mailbox in listings */
#define MB_CAP_CRLF \
	0x0100 /* text is stored with CR LF line ends, by
				 * the format's rule (mbx, mix, mtx) */

struct mb_driver {
	const char *name;    /* "unix" */
	const char *summary; /* one line for `mailbag formats` and --help */
	unsigned caps;	     /* MB_CAP_* */
	size_t probe_len;    /* leading bytes probe() wants; 0 for dirs */

	/*
	 * How sure the driver is that path is one of its mailboxes:
	 * 0 (not mine) to 100.  head holds up to probe_len leading bytes
	 * (len may be smaller for short files; NULL for directories).
	 * Must not keep pointers, must not write.
	 */
	int (*probe)(const char *path, const struct stat *st,
		     const unsigned char *head, size_t len);

	/* Open b->path per b->mode; allocate b->priv; take the locks. */
	int (*open)(struct mb_box *b, struct mb_err *e);
	/* Make a new empty mailbox at b->path (which does not exist) and
	 * leave it open read/write as open() would. */
	int (*create)(struct mb_box *b, struct mb_err *e);
	/* Fill *out with the next message; MB_END after the last. */
	int (*next)(struct mb_box *b, struct mb_msg *out, struct mb_err *e);
	/* Reader over a message's text (see mb_msg_open). */
	int (*msg_open)(struct mb_box *b, const struct mb_msg *m,
			struct mb_reader **out, struct mb_err *e);
	/* Stage one message; it becomes durable at commit(). */
	int (*append)(struct mb_box *b, const struct mb_newmsg *meta,
		      struct mb_reader *src, uint32_t *uid_out,
		      struct mb_err *e);
	/* Record new flags/keywords of message m (already in the index). */
	int (*set_flags)(struct mb_box *b, struct mb_msg *m, unsigned flags,
			 uint64_t keywords, struct mb_err *e);
	int (*expunge)(struct mb_box *b, uint32_t *expunged, struct mb_err *e);
	/* The core changed b->uidvalidity, b->uidlast and the msgs[].uid
	 * of the index: store them at commit(). */
	int (*renumber)(struct mb_box *b, struct mb_err *e);
	int (*poll)(struct mb_box *b, bool *changed, struct mb_err *e);
	/* Make pending work durable (fsync).  Called by mb_close before the
	 * core publishes an atomically created mailbox. */
	int (*commit)(struct mb_box *b, struct mb_err *e);
	/* Release locks, close files, free b->priv.  No failure. */
	void (*close)(struct mb_box *b);
	/* Delete / rename the mailbox at path, with the format's locks. */
	int (*remove)(struct mb_ctx *ctx, const char *path, struct mb_err *e);
	int (*rename)(struct mb_ctx *ctx, const char *from, const char *to,
		      struct mb_err *e);

	/*
	 * Directory formats (optional, NULL: every entry is MB_CHILD_OTHER):
	 * what entry name (one component, lstat in st) of the mailbox
	 * directory dir is.  MB_CHILD_INTERNAL: the format's own file or
	 * directory (cur, new, tmp; .mixmeta; 1, 2, ...), never listed nor
	 * walked.  MB_CHILD_MAILBOX: a child mailbox of this format whose
	 * name below the parent is written to child (size bytes; "A/B" for
	 * Maildir++'s ".A.B"; left empty, the entry name is used).
	 * MB_CHILD_OTHER: not the format's; listed like an entry of a
	 * plain directory (probed, walked), so a child mailbox of any format.
	 */
	int (*list_child)(const char *dir, const char *name,
			  const struct stat *st, char *child, size_t size);

	/* Optional (NULL: msg_open): a reader over the message's header
	 * and the empty line after it, for formats where the header alone
	 * is much cheaper (a POP3 server's TOP); see mb_msg_open_header. */
	int (*msg_header)(struct mb_box *b, const struct mb_msg *m,
			  struct mb_reader **out, struct mb_err *e);
};

/* list_child results. */
enum { MB_CHILD_OTHER = 0, MB_CHILD_INTERNAL, MB_CHILD_MAILBOX };

/*
 * The driver whose probe claims path most strongly (libmbox/box.c); st
 * is filled with its stat.  NULL with *e filled when none does.
 */
const struct mb_driver *mbi_probe(const char *path, struct stat *st,
				  struct mb_err *e);

struct mbi_netconf;
/* Remote names "{host...}MAILBOX" (libmbox/net.c): the driver of the
 * service the name asks for (imap, pop3), or NULL when name is no remote
 * name; a malformed remote name also yields NULL, with *e filled. */
const struct mb_driver *mbi_remote_driver(const char *name, struct mb_err *e);
/* A remote setting of mb_ctx_set: MB_OK, MB_FAILED (bad value), or 1
 * when name is not one (libmbox/net.c). */
int mbi_net_set(struct mb_ctx *ctx, const char *name, const char *value,
		struct mb_err *e);
const char *mbi_net_get(const struct mb_ctx *ctx, const char *name);
void mbi_net_defaults(struct mbi_netconf *nc);

/* The registry: formats/registry.c, in probe-tie order, NULL-terminated. */
extern const struct mb_driver *const mbi_drivers[];
const struct mb_driver *mbi_driver_by_name(const char *name);

/* ------------------------------------------------------------------ */
/* Context and box                                                      */

/* Settings of remote mailboxes (libmbox/net.c, mailbag-fetch(1)). */
struct mbi_netconf {
	char ca_file
		[PATH_MAX]; /* "ca-file": trust these CAs, not the system's */
	int timeout;	    /* "net-timeout": connect, TLS, each read (s) */
	bool plaintext;	    /* "plaintext-auth": password without TLS */
	char pass_file[PATH_MAX]; /* "password-file" */
	int pass_fd;		  /* "password-fd", -1: none */
	char pass_env[128];	  /* "password-env": a variable's name */
	char pass_cmd[1024];	  /* "password-command": sh -c, first line */
	char oauth_cmd[1024];	  /* "oauth-command": prints an access token */
	char mech[32];		  /* "auth-mechanism": force one, "" = best */
	char secret[16384];	  /* the password or token once read (an
				   * access token may be kilobytes long) */
	bool have_secret;
};

struct mb_ctx {
	mb_diag_fn diag;
	void *diag_arg;
	mb_progress_fn progress;
	void *progress_arg;
	/* settings (see libmbox/conf.c for names and defaults) */
	char new_format[32];
	bool uw_metadata;  /* write X-IMAP/X-UID/X-Keywords, pseudo-msg */
	int quote;	   /* enum mb_quote for writing */
	int lock_timeout;  /* seconds to wait for a lock */
	int dotlock_stale; /* seconds after which a dot-lock is broken */
	bool dotlock;	   /* take dot-locks at all */
	char spool_dir[256];
	char lock_helper[256]; /* setgid dot-lock helper, "" for none */
	char localhost[256];
	char keywords[1600]; /* mtx/tenex keyword names, blank-separated */
	size_t max_line;     /* longest line a scanner will buffer */
	size_t max_header;   /* longest header block parsed */
	uint32_t max_messages;
	/* mb_ctx_get's text of the numeric settings (lock-timeout,
	 * dotlock-timeout), formatted on each call from the fields above */
	char num_text[2][24];
	char member[PATH_MAX];	/* mb_ctx_set_member, "" by default */
	struct mbi_netconf net; /* remote mailboxes (libmbox/net.c) */
};

/*
 * A field of the MH profile ($MH, else ~/.mh_profile; libmbox/name.c),
 * such as "Path" or "Unseen-Sequence", into buf.  MB_OK, MB_END when the
 * profile lacks it, MB_FAILED when there is no profile.
 */
int mbi_mh_profile(const char *field, char *buf, size_t size, struct mb_err *e);

#define MBI_BOX_MAGIC 0x6d62786fU

/* A block of the box's string store (see mb_next in libmbox/box.c). */
struct mbi_chunk {
	struct mbi_chunk *next;
	size_t len, cap;
	char data[];
};

struct mb_box {
	unsigned magic;
	struct mb_ctx *ctx;
	const struct mb_driver *drv;
	void *priv;	     /* the driver's state */
	char path[PATH_MAX]; /* what the driver opens (may be temporary) */
	char final_path[PATH_MAX]; /* where an atomic create publishes */
	unsigned mode;		   /* MB_RDWR ... */
	bool readonly;
	bool creating; /* atomic create in progress */
	bool dirty;    /* pending changes for commit() */

	/* mailbox-wide state, kept by the driver */
	uint32_t uidvalidity;
	uint32_t uidlast;
	char *kw[MB_MAX_KEYWORDS];
	unsigned nkw;
	bool has_pseudo;
	bool uids_broken; /* the scan found UIDs UW would not keep */
	uint64_t highest_modseq;
	char variant[64];      /* see mb_info.variant */
	bool keep_times;       /* MB_KEEP_TIMES: restore atime at close */
	struct stat keep_st;   /* the file's stat at open */
	int64_t progress_next; /* next offset worth a progress call */

	/* messages: an index unless MB_STREAM */
	struct mb_msg *msgs;
	uint32_t nmsgs; /* messages reported so far */
	uint32_t nalloc;
	uint32_t iter;		   /* mb_next position for indexed replay */
	bool scanned;		   /* the driver reported MB_END */
	struct mb_msg cur;	   /* the current message in MB_STREAM mode */
	struct mbi_chunk *strings; /* the index's copies of sender, envelope
				    * and key (drivers' buffers move on) */

	/* a compressed mailbox or an archive, unpacked (compress.c) */
	struct mbi_unpack *unpack;
};

/* Keyword helpers for drivers: add a name (dup) / look one up. */
/* Open b->path for a file driver's open; see box.c. */
int mbi_open_box(struct mb_box *b, bool rw, int *fd, struct stat *st,
		 struct mb_err *e);
int mbi_kw_add(struct mb_box *b, const char *name, size_t len);
int mbi_kw_slot(struct mb_box *b, const char *name, size_t len);
int mbi_kw_find(const struct mb_box *b, const char *name, size_t len);
void mbi_kw_clear(struct mb_box *b);

/* ------------------------------------------------------------------ */
/* Errors and diagnostics                                               */

/* Fill e; returns sev so drivers can `return mbi_err(...)`. */
int mbi_err(struct mb_err *e, int sev, int code, const char *path,
	    int64_t offset, const char *fmt, ...) MBI_PRINTF(6, 7);
/* The same with errno: code is derived from it (ENOSPC -> MB_ENOSPC ...)
 * and ": strerror" is appended. */
int mbi_err_sys(struct mb_err *e, int sev, int err, const char *path,
		const char *fmt, ...) MBI_PRINTF(5, 6);
/* Map errno onto an mb_code. */
int mbi_errno_code(int err);

/* Report a diagnostic through the context (no-op without a callback). */
void mbi_diag(struct mb_box *b, int level, const char *code, int64_t offset,
	      uint32_t msgno, uint32_t uid, const char *fmt, ...)
	MBI_PRINTF(7, 8);
/* The same about another file than the box's own (a maildir message). */
void mbi_diag_at(struct mb_box *b, const char *path, int level,
		 const char *code, int64_t offset, uint32_t msgno, uint32_t uid,
		 const char *fmt, ...) MBI_PRINTF(8, 9);

/* Report scan progress (rate-limited; no-op without a callback). */
void mbi_progress(struct mb_box *b, int64_t done, int64_t total);

/* ------------------------------------------------------------------ */
/* Memory and buffers                                                   */

/*
 * struct mbi_buf follows git's strbuf rules: buf is never NULL after
 * init, always NUL-terminated, len is authoritative, NULs allowed.
 * Growth failures return -1 and leave the buffer as it was.
 */
struct mbi_buf {
	char *buf;
	size_t len;
	size_t cap;
};
void mbi_buf_init(struct mbi_buf *sb);
void mbi_buf_free(struct mbi_buf *sb);
int mbi_buf_grow(struct mbi_buf *sb, size_t extra);
int mbi_buf_add(struct mbi_buf *sb, const void *p, size_t n);
int mbi_buf_addstr(struct mbi_buf *sb, const char *s);
int mbi_buf_addf(struct mbi_buf *sb, const char *fmt, ...) MBI_PRINTF(2, 3);
void mbi_buf_reset(struct mbi_buf *sb);

/* Overflow-checked n*size allocation. */
void *mbi_reallocarray(void *p, size_t n, size_t size);
char *mbi_strndup(const char *s, size_t n);

/* A reader over src (which stays the caller's) dropping the CR of each
 * CR LF; size unknown (-1).  NULL when out of memory. */
struct mb_reader *mbi_reader_lf(struct mb_reader *src);

/* Full write / pwrite / pread loops (EINTR-safe). */
int mbi_write_all(int fd, const void *p, size_t n, const char *path,
		  struct mb_err *e);
int mbi_pwrite_all(int fd, const void *p, size_t n, int64_t off,
		   const char *path, struct mb_err *e);
/* Returns bytes read (short only at EOF) or -1. */
ssize_t mbi_pread_full(int fd, void *p, size_t n, int64_t off);

/*
 * A read-only shared mapping of [off, off + len) of fd (off a multiple of
 * the page size), or NULL (the caller then reads instead).  Should the
 * file shrink under the mapping, touching a page past its new end does
 * not kill the process: that page reads as zeros and *flag becomes 1
 * (mapped.c), so a reader checks *flag before it trusts what it saw.
 * mbi_unmap() undoes it.
 */
void *mbi_map_ro(int fd, int64_t off, size_t len, volatile sig_atomic_t *flag);
void mbi_unmap(void *p, size_t len);
/* A pass over a large mapping (from mbi_map_ro: map holds the file from
 * offset map_off) gives back the pages it has left behind: those of
 * [*done, off) (file offsets, off rounded down to a page) once there are
 * 4 MiB of them, so RSS does not grow with the file; *done (start at
 * map_off) moves up.  Looking there again faults them in again from the
 * page cache, so this is only for files nobody writes under us. */
void mbi_map_release(const void *map, int64_t map_off, int64_t off,
		     int64_t *done);

/*
 * The scout (scout.c): a thread that reads [start, end) of a file ahead
 * of a scan and records every LF followed by c1 or c2 and, when word is
 * not NULL, by any number of c2 and then word (a static string); a line
 * the scout sees only part of counts when that part fits.  It reads the
 * caller's view of the file: map holds the bytes from offset map_off,
 * map_len of them, and stays in place until mbi_scout_stop; *bus is the
 * mapping's flag (mapped.c).  NULL when the process has one CPU or a
 * thread cannot be had; the caller then searches alone.  chunk 0 takes
 * the default chunk size (tests pass small ones).
 *
 * mbi_scout_find: the first such LF at an offset in [a, b).  1: at *lo;
 * 0: none; -1: none in [a, *lo), but the scout has not searched [*lo,
 * *hi) (*hi <= b), so the caller searches that range itself and asks
 * again from *hi.
 * Questions should move forward: the scout stays a bounded distance ahead
 * of the last one.
 */
struct mbi_scout;
struct mbi_scout_stats {
	uint64_t by_scout, by_caller, given_up, waits; /* chunks, waits */
};
struct mbi_scout *mbi_scout_start(const char *map, int64_t map_off,
				  size_t map_len, volatile sig_atomic_t *bus,
				  int64_t start, int64_t end, char c1, char c2,
				  const char *word, size_t chunk);
int mbi_scout_find(struct mbi_scout *sc, int64_t a, int64_t b, int64_t *lo,
		   int64_t *hi);
void mbi_scout_stats(struct mbi_scout *sc, struct mbi_scout_stats *out);
void mbi_scout_stop(struct mbi_scout *sc);

/* The first LF in [p, end - 1) whose next byte is c1 or c2, or NULL:
 * SIMD where the CPU has it. */
const char *mbi_find_line_start(const char *p, const char *end, char c1,
				char c2);

/*
 * Buffered appender for building files: collects writes and flushes in
 * large blocks.  pos is the file offset of the next byte.
 */
struct mbi_tail;
struct mbi_wbuf {
	int fd;
	const char *path;
	char *buf;
	size_t len, cap;
	int64_t pos;
	struct mbi_tail *tail; /* NULL, or each write is noted in it first */
};
int mbi_wbuf_init(struct mbi_wbuf *w, int fd, const char *path, int64_t pos,
		  struct mb_err *e);
int mbi_wbuf_put(struct mbi_wbuf *w, const void *p, size_t n, struct mb_err *e);
int mbi_wbuf_flush(struct mbi_wbuf *w, struct mb_err *e);
void mbi_wbuf_free(struct mbi_wbuf *w);

/* ------------------------------------------------------------------ */
/* Dates and the "From " line (libmbox/date.c, libmbox/from.c)         */

/* timegm-like conversion of broken-down UTC fields; no libc state. */
int64_t mbi_days_from_civil(int y, unsigned m, unsigned d);
bool mbi_civil_from_secs(int64_t t, int *y, int *mon, int *mday, int *hh,
			 int *mm, int *ss, int *wday);
/* Month name ("Jan".."Dec", case-insensitive, 3 letters) -> 1..12, or 0. */
int mbi_month(const char *s);
/* Named zone (UT, GMT, EST, PDT, military letters ...) -> minutes. */
bool mbi_zone_name(const char *s, size_t len, int *tz_min);

/*
 * A parsed "From " line.  The grammar is UW's (shared/spec/uw-formats.md
 * section 2.2), checked backwards from the end of the line.
 */
struct mbi_from {
	const char *sender; /* points into the line */
	size_t sender_len;
	bool date_ok; /* the date fields parsed as a real date */
	int64_t t;    /* internal date (when date_ok) */
	int tz;	      /* zone in minutes; local zone when absent */
	bool has_zone;
};
/*
 * Is line (len bytes, without its LF; a trailing CR is ignored) a valid
 * "From " line?  Fills *out when it is (out may be NULL).
 */
bool mbi_from_line(const char *line, size_t len, struct mbi_from *out);

/* ------------------------------------------------------------------ */
/* Compressed mailboxes and archives (libmbox/compress.c)              */

struct mbi_unpack {
	char dir[PATH_MAX];   /* private temporary directory, or "" */
	char path[PATH_MAX];  /* what the driver opens inside it */
	char compression[16]; /* "gzip" ... or "" */
	char archive[16];     /* "tar", "zip" or "" */
	int64_t size;	      /* bytes of the uncompressed file */
	bool single;	      /* path is one file: unlinked after open */
};
/*
 * If the regular file at path is compressed or an archive, unpack it
 * (struct allocated into *out; NULL for a plain file).  MB_OK, or
 * MB_FAILED with the file and the offset of a damaged stream.
 */
int mbi_unpack(struct mb_ctx *ctx, const char *path, unsigned mode,
	       struct mbi_unpack **out, struct mb_err *e);
/* Remove what mbi_unpack made and free it; *up set to NULL. */
void mbi_unpack_free(struct mbi_unpack **up);
/* After the driver opened up->path: drop the file if nothing reopens it. */
void mbi_unpack_opened(struct mbi_unpack *up);
/* Rewrite e->path naming a file of the unpacked copy into the name of
 * the original (ARCHIVE:MEMBER for archives). */
void mbi_unpack_fix_err(const struct mb_box *b, struct mb_err *e);
/* The same for any path: the original's name into out; false when path
 * is not inside b's unpacked copy. */
bool mbi_unpack_name(const struct mb_box *b, const char *path, char *out,
		     size_t size);

/* ------------------------------------------------------------------ */
/* Locking (libmbox/lock.c)                                             */

/*
 * Dot-lock "<path>.lock" in the mailbox's directory, created with UW's
 * hitching-post method, broken when older than ctx->dotlock_stale.
 * mbi_dotlock_refresh touches it so a long operation never looks stale.
 * When the directory is not writable the setgid helper is used (see
 * mailbag-lock(8)).  take() returns MB_OK, MB_RETRY on timeout, or
 * MB_FAILED (EPERM ...).
 */
struct mbi_dotlock {
	char path[PATH_MAX]; /* "<mailbox>.lock" */
	bool held;
	time_t refreshed;
	dev_t dev;	  /* the lock file we created, so that release */
	ino_t ino;	  /* never removes someone else's lock */
	pid_t helper_pid; /* > 0 when the helper holds it for us */
	int helper_fd;	  /* pipe to the helper */
};
int mbi_dotlock_take(struct mb_ctx *ctx, const char *mailbox,
		     struct mbi_dotlock *dl, int timeout, struct mb_err *e);
void mbi_dotlock_refresh(struct mbi_dotlock *dl);
void mbi_dotlock_release(struct mbi_dotlock *dl);

/* flock(2) with a timeout in seconds (0: try once).  MB_OK/MB_RETRY. */
int mbi_flock(int fd, int op, int timeout, const char *path, struct mb_err *e);
/* fcntl(F_SETLK[W]) write/read lock over the whole file, with timeout. */
int mbi_fcntl_lock(int fd, short type, int timeout, const char *path,
		   struct mb_err *e);

/*
 * UW's /tmp/.<dev hex>.<ino hex> lock file of the mailbox whose stat is
 * st.  open() creates it 0666 (or opens another user's without O_CREAT,
 * because of fs.protected_regular), refusing symlinks and hard links;
 * lock() flocks it; write_pid() stores our PID as UW does; release()
 * unlocks and unlinks it when nobody else holds it.
 */
struct mbi_tmplock {
	int fd;
	char path[64];
};
int mbi_tmplock_open(const struct stat *st, struct mbi_tmplock *tl,
		     struct mb_err *e);
int mbi_tmplock_lock(struct mbi_tmplock *tl, int op, int timeout,
		     struct mb_err *e);
void mbi_tmplock_write_pid(struct mbi_tmplock *tl);
void mbi_tmplock_release(struct mbi_tmplock *tl);

/* ------------------------------------------------------------------ */
/* Durable writes (libmbox/durable.c)                                   */

/* Remove temporary files and lock posts that killed writers of the
 * mailbox at path left beside it (only those whose process is gone). */
void mbi_cleanup_stale(const char *path, const char *localhost);
/* fsync the directory holding path. */
int mbi_fsync_dir(const char *path, struct mb_err *e);
/* A unique temporary name beside final: "<dir>/.<base>.mbtmp.<pid>.<n>". */
int mbi_tmp_name(const char *final, char *out, size_t size, struct mb_err *e);
/* rename(2) that refuses to replace (RENAME_NOREPLACE), then fsync dir. */
int mbi_publish(const char *tmp, const char *final, struct mb_err *e);

/*
 * The tail journal, for appends in place to a single-file mailbox that
 * others lock by inode.  begin() durably records (inode, size) before the
 * first byte is appended.  note() is called before every write of
 * appended data (at most 1 MiB, at or after the recorded size): it
 * records, without fsync, the write's range and a copy of its bytes,
 * and the first bytes written at the recorded size.  mbi_wbuf does this
 * itself when its tail member is set; mbi_tail_write() is note() plus
 * pwrite.  end() removes the record once the appended data is fsynced.
 *
 * recover(), called by every writer once it holds the mailbox's
 * exclusive locks, finishes a half-done rewrite (mbi_rewrite_recover),
 * then finds a record left by a killed writer and removes exactly the
 * bytes it had written: by truncating when they end the file, or, when
 * another program appended after them, by moving its bytes down over
 * ours (crash-safely, through mbi_rewrite).  The end of a torn write is
 * found by comparing the file with the journal's copy; where another
 * program's message follows it, that message starts at the last message
 * start ("From " line, MMDF delimiter, internal header) within the
 * stretch that matches.  When the bytes at the recorded place are not
 * ours (first-bytes hash, copy of the write), nothing is removed and
 * the outcome says where and why.  The record lives beside the mailbox
 * (".<base>.mbtail") or, if that directory is not writable, in /tmp.
 */
struct mbi_tail {
	char path[PATH_MAX];
	bool active;
	int jfd; /* the journal, open while active */
	uint64_t seq, dev, ino;
	int64_t start;	    /* the mailbox's size at begin() */
	unsigned first_len; /* our first bytes at start: length, hash */
	uint64_t first_sum;
};
struct mbi_tail_outcome {
	int64_t cut;	    /* bytes of a killed append removed */
	int64_t kept;	    /* bytes others appended after them, moved down */
	int64_t refused_at; /* -1, or where unverified bytes were left */
	bool redone;	    /* a half-done rewrite was finished first */
	char why[120];	    /* why they were left */
};
int mbi_tail_begin(const char *mailbox, int fd, struct mbi_tail *t,
		   struct mb_err *e);
int mbi_tail_note(struct mbi_tail *t, const void *p, size_t n, int64_t off,
		  struct mb_err *e);
int mbi_tail_write(struct mbi_tail *t, int fd, const void *p, size_t n,
		   int64_t off, const char *path, struct mb_err *e);
int mbi_tail_end(struct mbi_tail *t, struct mb_err *e);
int mbi_tail_recover(const char *mailbox, int fd, struct mbi_tail_outcome *o,
		     struct mb_err *e);
/* Report an outcome as diagnostics of b (info; a warning when refused). */
void mbi_tail_diag(struct mb_box *b, const struct mbi_tail_outcome *o);

/* ------------------------------------------------------------------ */
/* In-place rewrite with a redo journal (libmbox/rewrite.c)             */

/*
 * Rewriting a mailbox that others lock by inode: begin() opens a
 * temporary file; the caller writes the complete new content into
 * rw->wb (mbi_wbuf_put) or copies ranges of the old file with
 * mbi_rewrite_copy(); commit() fsyncs it, records a redo journal, copies
 * it over the mailbox (fd) from byte 0, truncates and fsyncs.  The caller
 * holds the mailbox's exclusive locks throughout.  recover(), run by
 * every writer under those locks, finishes a copy a killed writer left
 * half done (*redone says whether it did).
 */
struct mbi_rewrite {
	char mailbox[PATH_MAX];
	char tmp[PATH_MAX];
	int fd;	 /* the mailbox, open read/write */
	int tfd; /* the new content */
	struct mbi_wbuf wb;
	bool active;
};
int mbi_rewrite_begin(const char *mailbox, int fd, struct mbi_rewrite *rw,
		      struct mb_err *e);
int mbi_rewrite_copy(struct mbi_rewrite *rw, int64_t off, int64_t len,
		     struct mb_err *e);
int mbi_rewrite_commit(struct mbi_rewrite *rw, struct mb_err *e);
void mbi_rewrite_abort(struct mbi_rewrite *rw);
int mbi_rewrite_recover(const char *mailbox, int fd, bool *redone,
			struct mb_err *e);
/*
 * For changes made in place (a few bytes patched, data appended): first
 * guard() durably records that backup (len bytes, fsynced, a file that
 * stays) holds the original; unguard() drops the record once the changes
 * are fsynced.  recover() finding the record copies the backup back over
 * the mailbox and truncates it to len (*redone set), keeping the backup.
 */
int mbi_rewrite_guard(const char *mailbox, int fd, const char *backup,
		      int64_t len, struct mb_err *e);
void mbi_rewrite_unguard(const char *mailbox, int fd);

/* ------------------------------------------------------------------ */
/* Single files appended at their end (libmbox/afile.c)                 */

/*
 * mbx, tenex and mtx keep one file that other UW programs lock by inode:
 * the session holds LOCK_SH on it, and UW's /tmp lock is taken
 * exclusively while its size is looked at and until staged appends are
 * committed.  These helpers do the steps those drivers share; they work
 * on the driver's own fields, named here by address:
 *
 *	format		the driver's name, for messages
 *	fd		the open mailbox
 *	tl, tl_held	UW's /tmp lock; whether we hold it exclusively
 *	flocked		our session's LOCK_SH on the file
 *	end		the size the driver has read up to (grows here)
 *	stopped, pos	the driver's walk met damage, at pos
 *	orig_size, wb, journal	set up by begin() for staged appends
 *	locked		optional: re-read what the driver caches of the file
 *			(mbx's header) once the /tmp lock is held
 *
 * take()/drop(): the /tmp lock, exclusively (nothing for MB_NOLOCK or a
 * file nobody else can see yet).  lock_open(): at open, LOCK_SH on the
 * file and the /tmp lock (a reader that cannot use /tmp reads without
 * it); a writer then recovers what a killed writer left (mbi_recover).
 * The caller drops the /tmp lock once it has read what it needs.
 * size(): under the /tmp lock, the file's size; smaller than *end is an
 * error ("Mailbox shrank"), a failed stat has severity sev.
 * poll(): a grown file makes the core scan again (*changed); while we
 * are writing the size stays ours.  begin(): the start of an append:
 * scan what the core has not seen, refuse a damaged mailbox, take the
 * /tmp lock until commit, learn what others appended meanwhile (a torn
 * tail a writer killed meanwhile left is cut first; the rest scanned), then start the tail journal (unless b->creating) and the write
 * buffer at the end; on failure the lock is dropped.  close(): staged
 * appends never committed are cut off (writing) and their journal
 * removed, the buffer freed (wb_init), the locks released, fd closed.
 */
struct mbi_afile {
	const char *format;
	int fd;
	struct mbi_tmplock *tl;
	bool *tl_held;
	bool *flocked;
	int64_t *end;
	const bool *stopped;
	const int64_t *pos;
	int64_t *orig_size;
	struct mbi_wbuf *wb;
	struct mbi_tail *journal;
	int (*locked)(struct mb_box *b, struct mb_err *e);
};
/* One filled from a driver state s whose fields have those names. */
#define MBI_AFILE(s, fmt, locked_fn)                       \
	((struct mbi_afile){ .format = (fmt),              \
			     .fd = (s)->fd,                \
			     .tl = &(s)->tl,               \
			     .tl_held = &(s)->tl_held,     \
			     .flocked = &(s)->flocked,     \
			     .end = &(s)->end,             \
			     .stopped = &(s)->stopped,     \
			     .pos = &(s)->pos,             \
			     .orig_size = &(s)->orig_size, \
			     .wb = &(s)->wb,               \
			     .journal = &(s)->journal,     \
			     .locked = (locked_fn) })
int mbi_afile_take(struct mb_box *b, const struct mbi_afile *f,
		   struct mb_err *e);
void mbi_afile_drop(const struct mbi_afile *f);
int mbi_afile_lock_open(struct mb_box *b, const struct mbi_afile *f,
			const struct stat *st, struct mb_err *e);
int mbi_afile_size(struct mb_box *b, const struct mbi_afile *f, int sev,
		   int64_t *size, struct mb_err *e);
int mbi_afile_poll(struct mb_box *b, const struct mbi_afile *f, bool writing,
		   bool *changed, struct mb_err *e);
int mbi_afile_begin(struct mb_box *b, const struct mbi_afile *f,
		    struct mb_err *e);
void mbi_afile_close(const struct mbi_afile *f, bool writing, bool wb_init);
/* Remove the file at path, or rename it to "to" when that is not NULL
 * (never replacing), with UW's /tmp lock and only when no session has
 * it open (UW: flock(LOCK_EX|LOCK_NB) on the file), else MB_RETRY. */
int mbi_afile_remove(struct mb_ctx *ctx, const char *path, const char *to,
		     struct mb_err *e);
/* "the mailbox is damaged: repair it first", at pos. */
int mbi_afile_damaged(struct mb_box *b, int64_t pos, struct mb_err *e);

/*
 * The converted text of a message to append, kept while its size is
 * counted (the size goes before the text): in memory up to 8 MiB, then in
 * an unlinked temporary file ".<name>-append.XXXXXX" in $TMPDIR or /tmp.
 * init() before use, free() after; put() adds bytes, out() copies all of
 * it into a write buffer.
 */
struct mbi_spool {
	struct mbi_buf mem;
	int fd;
	int64_t len;
	const char *name;
};
void mbi_spool_init(struct mbi_spool *sp, const char *name);
int mbi_spool_put(struct mb_box *b, struct mbi_spool *sp, const char *p,
		  size_t n, struct mb_err *e);
int mbi_spool_out(struct mb_box *b, struct mbi_spool *sp, struct mbi_wbuf *wb,
		  struct mb_err *e);
void mbi_spool_free(struct mbi_spool *sp);

/*
 * What a writer does once it holds a single-file mailbox's exclusive
 * locks, before reading it: recover what a killed writer left (a half-done
 * rewrite, then a torn append: mbi_tail_recover) and report it as b's
 * diagnostics (mbi_tail_diag).
 */
int mbi_recover(struct mb_box *b, int fd, struct mb_err *e);
/* Let the core read every message left (mb_next to the end), so that its
 * index is complete: MB_OK, or the reading error. */
int mbi_scan_all(struct mb_box *b, struct mb_err *e);

#endif /* MB_INT_H */

/*
 * mb-msg.h - message understanding in libmbox: RFC 5322 headers and
 * addresses, RFC 2047 encoded-words, RFC 2231 parameters, MIME structure,
 * transfer decoding, charsets to UTF-8, the IMAP FETCH data of RFC 3501
 * (ENVELOPE, BODY, BODYSTRUCTURE, BODY[section], BINARY[section],
 * RFC822.SIZE) and SEARCH.  See man/libmbox.3, section MESSAGES.
 *
 * A message is parsed once, streaming, into a tree of parts that holds
 * byte offsets and the few header values IMAP reports (struct mb_part);
 * bodies are never kept in memory.  Sections are then extracted from the
 * message text by offset.  Every parser here also works on a byte buffer
 * (mb_reader_mem), never rejects a message and never reads out of bounds
 * whatever the input.
 */
#ifndef MB_MSG_H
#define MB_MSG_H

#include "mb.h"

/* ------------------------------------------------------------------ */
/* Headers (libmbox/rfc5322.c)                                          */

/*
 * Walk the header fields of a header block (buf, len; up to and without
 * the empty line or the whole buffer).  fn gets each field's name (no
 * colon, trailing blanks of the obsolete "Name :" form dropped), its raw
 * value (folded, after the colon, leading blanks dropped, without the
 * final line end) and the offset of the field in buf.  Lines that are no
 * field (no colon, a blank line) are skipped.  Return non-zero from fn
 * to stop; mb_hdr_walk returns that value, else 0.
 */
typedef int (*mb_hdr_fn)(void *arg, const char *name, size_t nlen,
			 const char *val, size_t vlen, size_t off);
int mb_hdr_walk(const char *buf, size_t len, mb_hdr_fn fn, void *arg);

/*
 * Unfold a raw value: every CR and LF removed (so "a\r\n b" is "a b"),
 * into a new NUL-terminated string (malloc).  NULL only without memory.
 */
char *mb_hdr_unfold(const char *val, size_t len);

/*
 * Decode a header value for display or search: unfold, decode RFC 2047
 * encoded-words (B and Q, any charset; blanks between adjacent
 * encoded-words dropped), convert the rest from charset (NULL: UTF-8
 * with Latin-1 fallback) into UTF-8.  Returns a malloc'd string.
 */
char *mb_hdr_decode(const char *val, size_t len, const char *charset);

/*
 * An address as IMAP's ENVELOPE reports it.  A group is an entry with
 * mailbox = the group name and host NULL, its members, then an entry with
 * mailbox and host NULL.  name is the phrase, quotes removed, still in its
 * encoded-word form; adl the obsolete source route ("@a,@b") or NULL.
 */
struct mb_addr {
	char *name;
	char *adl;
	char *mailbox;
	char *host;
};
/*
 * Parse an address-list (RFC 5322 with the obsolete forms) from a raw
 * header value.  Never fails on syntax: what cannot be read is skipped.
 * Returns the number of entries stored in a malloc'd *out (NULL when 0),
 * or -1 without memory.
 */
int mb_addr_parse(const char *val, size_t len, struct mb_addr **out);
void mb_addr_free(struct mb_addr *a, int n);

/*
 * A parameter of Content-Type or Content-Disposition.  name is lowercase.
 * mb_params_parse keeps the raw form (RFC 2231 sections "name*0*" merged
 * into one "name*" whose value is still charset'lang'%XX, as IMAP servers
 * report it); mb_param_value() returns a parameter decoded to UTF-8
 * (RFC 2231 charset and %XX, or RFC 2047 encoded-words in a plain value).
 */
struct mb_param {
	char *name;
	char *value;
};
/* Parse "type/subtype; a=b; ..." (or a disposition: "attachment; ...")
 * into *value (the part before the first ';', lowercase, blanks
 * removed) and parameters.  Returns the number of parameters or -1. */
int mb_params_parse(const char *val, size_t len, char **value,
		    struct mb_param **out);
void mb_params_free(struct mb_param *p, int n);
/* The decoded value of parameter name (malloc'd UTF-8), or NULL. */
char *mb_param_value(const struct mb_param *p, int n, const char *name);

/* ------------------------------------------------------------------ */
/* Decoders and charsets (libmbox/decode.c, libmbox/charset.c)          */

enum mb_cte {
	MB_CTE_7BIT = 0,
	MB_CTE_8BIT,
	MB_CTE_BINARY,
	MB_CTE_BASE64,
	MB_CTE_QP,
	MB_CTE_OTHER, /* unknown: passed through as is */
};
/* The encoding named by a Content-Transfer-Encoding value. */
int mb_cte_from_name(const char *name);

/*
 * A streaming transfer decoder: feed it the encoded bytes in any pieces,
 * get the decoded bytes appended to out (which it reallocs: *out, *len,
 * *cap; a NULL *out starts a new buffer).  Bad input is skipped (base64)
 * or kept literally (quoted-printable), never refused.  Returns 0, or -1
 * without memory.
 */
struct mb_decoder {
	int cte;
	unsigned state; /* private */
	unsigned char pend[4];
	unsigned npend;
	char blanks[16]; /* quoted-printable: blanks held back until
				   it is known whether a line end follows */
	unsigned nblank;
	unsigned long bad; /* bytes that were no valid encoding (base64
				   characters outside the alphabet, a
				   truncated last group) */
};
void mb_decoder_init(struct mb_decoder *d, int cte);
int mb_decoder_feed(struct mb_decoder *d, const void *in, size_t n, char **out,
		    size_t *len, size_t *cap);
int mb_decoder_finish(struct mb_decoder *d, char **out, size_t *len,
		      size_t *cap);

/*
 * Conversion of text in a named charset to UTF-8 through iconv, with the
 * aliases mail uses (x-sjis, ks_c_5601-1987, gb2312 as GBK, windows-874,
 * unicode-1-1-utf-7 ...).  Undecodable bytes become U+FFFD.  Stateful
 * charsets (ISO-2022-*) keep their state across feeds.
 */
struct mb_conv;
/* NULL when the charset is unknown (or without memory). */
struct mb_conv *mb_conv_new(const char *charset);
int mb_conv_feed(struct mb_conv *c, const void *in, size_t n, char **out,
		 size_t *len, size_t *cap);
int mb_conv_finish(struct mb_conv *c, char **out, size_t *len, size_t *cap);
void mb_conv_free(struct mb_conv **c);
/* One shot: a malloc'd NUL-terminated UTF-8 string; an unknown charset
 * is read as UTF-8 where valid, Latin-1 elsewhere. */
char *mb_to_utf8(const char *charset, const void *in, size_t n);
/* Is the charset one iconv knows (after our aliases)? */
bool mb_charset_known(const char *charset);

/* ------------------------------------------------------------------ */
/* MIME structure (libmbox/mime.c)                                      */

struct mb_envelope {
	char *date, *subject, *in_reply_to, *message_id; /* raw, unfolded */
	struct mb_addr *addr[6]; /* from sender reply-to to cc bcc */
	int naddr[6];
};
enum {
	MB_ENV_FROM,
	MB_ENV_SENDER,
	MB_ENV_REPLY_TO,
	MB_ENV_TO,
	MB_ENV_CC,
	MB_ENV_BCC
};

/*
 * One entity.  Offsets are into the message text (byte 0 is its first
 * header byte).  "vsize" is the size with every line end counted as
 * CR LF, which is what IMAP reports.  The body of a part ends before the
 * line end that precedes the boundary closing it (RFC 2046).
 */
struct mb_part {
	struct mb_part *parent, *child, *next;
	unsigned nchild;
	unsigned depth;
	int64_t hdr_off, hdr_size, hdr_vsize;
	int64_t body_off, body_size, body_vsize;
	int64_t hdr_lines, body_lines;
	char *type, *subtype; /* lowercase, defaults applied */
	struct mb_param *params;
	int nparams;
	char *id, *description, *encoding, *md5, *location, *language;
	char *disposition; /* lowercase, or NULL */
	struct mb_param *dparams;
	int ndparams;
	int cte;		 /* enum mb_cte */
	bool multipart;		 /* multipart with a boundary */
	bool message;		 /* message/rfc822 (or global) */
	bool has_ctype;		 /* a Content-Type field was present */
	struct mb_envelope *env; /* the root and message/rfc822 children */
};

struct mb_mime {
	struct mb_part *root;
	int64_t size, vsize; /* the whole message; vsize =
					   RFC822.SIZE */
	unsigned nparts;
	bool truncated; /* a header exceeded max-header: the
					   rest of that header was ignored */
	bool stopped;	/* the body callback ended the parse early */
};

/*
 * A callback the parser calls once per part with its header block
 * (header, hlen; data NULL) when the part starts, and then with the raw
 * (still encoded) body bytes of every leaf part, in order, in pieces
 * (header NULL).  Pointers are valid during the call only.  Return
 * non-zero to get no more calls, or MB_MIME_STOP to end the parse there
 * (the rest of the message is not read; mb_mime.stopped is set and the
 * tree describes only what was read).
 */
#define MB_MIME_STOP 2
typedef int (*mb_mime_body_fn)(void *arg, const struct mb_part *p,
			       const char *header, size_t hlen,
			       const char *data, size_t n);

/*
 * Parse the message read from r (from its current position to its end).
 * ctx supplies max-header (NULL: 16 MiB).  body may be NULL.  MB_OK, or
 * MB_FAILED on a read error or without memory; never on bad syntax.
 */
int mb_mime_parse(struct mb_ctx *ctx, struct mb_reader *r, mb_mime_body_fn body,
		  void *arg, struct mb_mime **out, struct mb_err *e);
int mb_mime_parse_buf(const void *buf, size_t len, struct mb_mime **out,
		      struct mb_err *e);
void mb_mime_free(struct mb_mime **m);

/* The part with IMAP section number spec ("", "1", "2.1.3"); NULL if
 * none.  "" is the message itself. */
const struct mb_part *mb_mime_find(const struct mb_mime *m, const char *spec);

/* ------------------------------------------------------------------ */
/* IMAP FETCH data (libmbox/imapfetch.c)                                */

/* ENVELOPE of a message or message/rfc822 part (malloc'd), or NULL. */
char *mb_imap_envelope(const struct mb_part *p);
/* BODYSTRUCTURE (ext true) or BODY of a part, malloc'd, or NULL. */
char *mb_imap_bodystructure(const struct mb_part *p, bool ext);

/* Where section output goes: return 0, or -1 to stop with an error. */
typedef int (*mb_out_fn)(void *arg, const void *p, size_t n);
/*
 * Write BODY[section]<partial> (binary false) or BINARY[section]<partial>
 * of the message to out.  BINARY decodes leaf parts; of a multipart
 * or message part it is the body as it is, like BODY, as Dovecot sends
 * it, except that Dovecot also decodes the base64 and quoted-printable
 * leaf parts inside and relabels them "binary" (not done here).
 * It refuses a damaged base64 body (MB_EFORMAT, after writing it: a
 * server measures the section before it sends it).  section is the text between the brackets
 * ("", "1.2", "HEADER", "1.TEXT", "2.MIME", "HEADER.FIELDS (A B)",
 * "HEADER.FIELDS.NOT (A)"); partial_len < 0 means no partial.  r is the
 * message text (it is rewound); line ends are written as CR LF.  A part
 * that does not exist, and HEADER or TEXT of a part that is no message,
 * are empty (as IMAP servers send them).  Returns MB_OK, MB_FAILED with
 * MB_EINVAL for a bad section, MB_EFORMAT for BINARY of an unknown
 * encoding, or a read error.  *size (may be NULL) gets the number of
 * bytes written.
 */
int mb_imap_section(const struct mb_mime *m, struct mb_reader *r,
		    const char *section, bool binary, int64_t partial_off,
		    int64_t partial_len, mb_out_fn out, void *arg,
		    int64_t *size, struct mb_err *e);

/* ------------------------------------------------------------------ */
/* SEARCH (libmbox/search.c)                                            */

struct mb_search;

/*
 * Parse IMAP SEARCH criteria (RFC 3501 6.4.4 syntax, with the keys of
 * every section of it) from text, e.g. "OR FROM alice (SINCE 1-Jan-2020
 * NOT SEEN)" or "CHARSET ISO-8859-1 SUBJECT {3}\r\n..." (no literals:
 * quoted strings).  Returns MB_OK or MB_FAILED with MB_EINVAL and a
 * message naming the offending token.  Extension keys (not IMAP):
 * "X-MATCH HEADER:REGEX" and "X-BODY-MATCH REGEX" (PCRE2).
 */
int mb_search_parse(const char *text, struct mb_search **out, struct mb_err *e);
/*
 * The same from command-line words, joined with blanks, except that a
 * word with blanks in it (or an empty word) is one string wherever a
 * string argument starts with it: `SUBJECT "two words"` and
 * `'(OR SEEN FLAGGED)'` both do what the shell user means.
 */
int mb_search_parse_argv(int argc, char *const *argv, struct mb_search **out,
			 struct mb_err *e);
/* Add a PCRE2 condition ANDed with the criteria: header "NAME:REGEX"
 * (hdr true) or a body regex.  MB_FAILED with MB_EINVAL if bad. */
int mb_search_add_regex(struct mb_search *s, bool hdr, const char *spec,
			struct mb_err *e);
void mb_search_free(struct mb_search **s);

/*
 * Does message m of box match?  nmsgs is the number of messages (for "*"
 * in sets), maxuid the highest UID.  The text is read only when a key
 * needs it.  *match is set; MB_OK or a read error.
 */
int mb_search_match(struct mb_search *s, struct mb_box *box,
		    const struct mb_msg *m, uint32_t nmsgs, uint32_t maxuid,
		    bool *match, struct mb_err *e);

/* Fold UTF-8 text for case-insensitive comparison (ASCII, Latin-1,
 * Latin Extended-A, Greek, Cyrillic), into a malloc'd string. */
char *mb_utf8_fold(const char *s, size_t n);

#endif /* MB_MSG_H */

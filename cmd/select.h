/*
 * select.h - which messages of a mailbox a command works on: the one
 * place where a selection is parsed and matched, for copy, move and
 * prune: an IMAP sequence set (RFC 9051 "sequence-set": "1:5,7,10:*")
 * of message numbers or, with --uid, of UIDs, or IMAP SEARCH criteria
 * (libmbox/search.c, as `mailbag search` takes them) with the PCRE2
 * options --match and --body-match.  A sequence set is one search key,
 * so the commands take criteria and a bare set means what it always did.
 */
#ifndef CMD_SELECT_H
#define CMD_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mb.h"

struct mb_search;

enum sel_kind {
	SEL_SEQ,    /* message numbers */
	SEL_UID,    /* UIDs */
	SEL_SEARCH, /* search criteria */
};

/* One range lo:hi of a set; 0 stands for "*" (the largest in use). */
struct sel_range {
	uint32_t lo, hi;
};

struct sel {
	int kind; /* enum sel_kind */
	struct sel_range *r;
	size_t n;
	struct mb_search *search; /* SEL_SEARCH */
};

/* The selection options of copy, move and prune, as getopt gives them. */
struct sel_args {
	bool uid;	 /* --uid: the first criterion is a set of UIDs */
	const char **re; /* --match HEADER:REGEX, --body-match REGEX */
	bool *re_hdr;	 /* re[i] is a --match */
	size_t nre;
};

/* getopt_long values of --match and --body-match. */
enum { SEL_OPT_MATCH = 400, SEL_OPT_BODY_MATCH };
#define SEL_LONGOPTS                                                      \
	{ "uid", no_argument, NULL, 'u' },                                \
		{ "match", required_argument, NULL, SEL_OPT_MATCH },      \
	{                                                                 \
		"body-match", required_argument, NULL, SEL_OPT_BODY_MATCH \
	}

/* Take option c (with arg) into *a when it is a selection option ('u',
 * SEL_OPT_MATCH, SEL_OPT_BODY_MATCH); false for any other. */
bool sel_opt(struct sel_args *a, int c, const char *arg);
void sel_args_free(struct sel_args *a);

/*
 * Parse the argc criteria words of argv (joined as `mailbag search`
 * joins them) and the regexes of *a into a SEL_SEARCH selection *s.
 * With a->uid the first word must be a sequence set, of UIDs.  No words
 * and no regexes select every message.  Returns true, or false with a
 * reason in why (size bytes).
 */
bool sel_parse_search(struct sel *s, const struct sel_args *a, int argc,
		      char *const *argv, char *why, size_t size);

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

/*
 * select.c - message selection by IMAP sequence set or search criteria,
 * see select.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb-msg.h"
#include "select.h"
#include "util.h"

/* A number of the set: digits (no leading zero, non-zero, 32 bits) or
 * "*" (returned as 0).  Advances *pp; false when there is none. */
static bool
number(const char **pp, uint32_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (*p == '*') {
		*out = 0;
		*pp = p + 1;
		return true;
	}
	if (*p < '1' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
		p++;
	}
	*out = (uint32_t)v;
	*pp = p;
	return true;
}

bool
sel_parse(struct sel *s, int kind, const char *text, char *why, size_t size)
{
	const char *p = text;
	size_t cap = 0;

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	if (text == NULL || *text == '\0') {
		snprintf(why, size, "empty message set");
		return false;
	}
	for (;;) {
		struct sel_range r;
		const char *start = p;

		if (!number(&p, &r.lo)) {
			snprintf(why, size,
				 "bad message set '%s' at '%s': expected a "
				 "number (1 or more) or '*'",
				 text, start);
			goto bad;
		}
		r.hi = r.lo;
		if (*p == ':') {
			p++;
			if (!number(&p, &r.hi)) {
				snprintf(why, size,
					 "bad message set '%s' at '%s': "
					 "expected a number or '*' after ':'",
					 text, start);
				goto bad;
			}
		}
		if (s->n == cap) {
			cap = cap ? cap * 2 : 8;
			s->r = xreallocarray(s->r, cap, sizeof(*s->r));
		}
		s->r[s->n++] = r;
		if (*p == '\0')
			return true;
		if (*p != ',') {
			snprintf(why, size,
				 "bad message set '%s' at '%s': expected ',' "
				 "or the end",
				 text, p);
			goto bad;
		}
		p++;
	}
bad:
	sel_free(s);
	return false;
}

void
sel_free(struct sel *s)
{
	free(s->r);
	s->r = NULL;
	s->n = 0;
	mb_search_free(&s->search);
}

bool
sel_opt(struct sel_args *a, int c, const char *arg)
{
	switch (c) {
	case 'u':
		a->uid = true;
		return true;
	case SEL_OPT_MATCH:
	case SEL_OPT_BODY_MATCH:
		a->re = xreallocarray(a->re, a->nre + 1, sizeof(*a->re));
		a->re_hdr = xreallocarray(a->re_hdr, a->nre + 1,
					  sizeof(*a->re_hdr));
		a->re[a->nre] = arg;
		a->re_hdr[a->nre++] = c == SEL_OPT_MATCH;
		return true;
	}
	return false;
}

void
sel_args_free(struct sel_args *a)
{
	free(a->re);
	free(a->re_hdr);
	memset(a, 0, sizeof(*a));
}

bool
sel_parse_search(struct sel *s, const struct sel_args *a, int argc,
		 char *const *argv, char *why, size_t size)
{
	char **words = NULL;
	struct sel set;
	struct mb_err e;
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	/* A lone set is matched here, without the search engine. */
	if (argc == 1 && a->nre == 0 &&
	    sel_parse(s, a->uid ? SEL_UID : SEL_SEQ, argv[0], why, size))
		return true;
	memset(s, 0, sizeof(*s));
	s->kind = SEL_SEARCH;
	mb_err_clear(&e);
	if (a->uid) {
		if (argc == 0) {
			snprintf(why, size, "--uid needs a SET");
			return false;
		}
		if (!sel_parse(&set, SEL_UID, argv[0], why, size))
			return false;
		sel_free(&set);
		/* "UID" before the set, the words after it */
		words = xcalloc((size_t)argc + 1, sizeof(*words));
		words[0] = (char *)"UID";
		memcpy(words + 1, argv, (size_t)argc * sizeof(*words));
		rc = mb_search_parse_argv(argc + 1, words, &s->search, &e);
		free(words);
	} else if (argc > 0) {
		rc = mb_search_parse_argv(argc, argv, &s->search, &e);
	} else {
		rc = mb_search_parse("ALL", &s->search, &e);
	}
	if (rc != MB_OK) {
		snprintf(why, size, "bad search criteria: %s", e.msg);
		return false;
	}
	for (i = 0; i < a->nre; i++)
		if (mb_search_add_regex(s->search, a->re_hdr[i], a->re[i],
					&e) != MB_OK) {
			snprintf(why, size, "%s", e.msg);
			sel_free(s);
			return false;
		}
	return true;
}

bool
sel_match(const struct sel *s, const struct mb_msg *m, uint32_t last_seq,
	  uint32_t last_uid)
{
	uint32_t v = s->kind == SEL_UID ? m->uid : m->seq;
	uint32_t star = s->kind == SEL_UID ? last_uid : last_seq;
	size_t i;

	if (v == 0)
		return false; /* no UID: only a sequence number can name it */
	for (i = 0; i < s->n; i++) {
		uint32_t lo = s->r[i].lo ? s->r[i].lo : star;
		uint32_t hi = s->r[i].hi ? s->r[i].hi : star;

		/* "n:m" and "m:n" are the same range (RFC 9051) */
		if (lo > hi) {
			uint32_t t = lo;

			lo = hi;
			hi = t;
		}
		if (v >= lo && v <= hi)
			return true;
	}
	return false;
}

int
sel_mark(const struct sel *s, struct mb_box *box, uint32_t nmsgs, bool **marks,
	 uint32_t *count, struct mb_err *e)
{
	struct mb_msg *m;
	uint32_t seq, last_uid = 0;
	bool *v;

	*marks = NULL;
	*count = 0;
	for (seq = 1; seq <= nmsgs; seq++) {
		if (mb_msg_at(box, seq, &m, e) != MB_OK)
			return MB_FAILED;
		if (m->uid > last_uid)
			last_uid = m->uid;
	}
	v = xcalloc(nmsgs ? nmsgs : 1, sizeof(*v));
	for (seq = 1; seq <= nmsgs; seq++) {
		if (mb_msg_at(box, seq, &m, e) != MB_OK) {
			free(v);
			return MB_FAILED;
		}
		if (s->kind != SEL_SEARCH)
			v[seq - 1] = sel_match(s, m, nmsgs, last_uid);
		else if (mb_search_match(s->search, box, m, nmsgs, last_uid,
					 &v[seq - 1], e) != MB_OK) {
			free(v);
			return MB_FAILED;
		}
		if (v[seq - 1])
			(*count)++;
	}
	*marks = v;
	return MB_OK;
}

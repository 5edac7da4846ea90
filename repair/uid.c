/*
 * uid.c - rebuild the UID regime of a mailbox (UW FAQ 7.14: duplicate
 * UIDs, UIDs out of order, UIDs above the recorded last UID, a lost
 * pseudo-message), the least disruptive way IMAP allows.
 *
 * IMAP's rule (RFC 3501 2.3.1.1): under one UIDVALIDITY a UID names one
 * message for ever, is never reused, and UIDs ascend in mailbox order;
 * new messages get UIDs above every UID assigned before.  When the UIDs
 * a client may have seen cannot all be kept, the UIDVALIDITY must change,
 * and it must grow.  So:
 *  - UIDs that ascend, with messages merely not numbered yet at the end
 *    (the driver reports the UIDs UW would give them) and UIDs above the
 *    recorded last UID: keep everything and write the numbers down,
 *    raising the last UID;
 *  - a repeated UID (two messages claimed it: a client may have cached
 *    either), a UID that goes backwards, a message that lost its UID
 *    between numbered ones, or no UIDVALIDITY at all (the pseudo-message
 *    or X-IMAPbase is gone, so the old value is unknown): a new, greater
 *    UIDVALIDITY and UIDs 1..n.
 * Only the public libmbox interface is used: the scan's diagnostics say
 * what the driver saw, mb_set_uids writes the result at mb_close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repair.h"

struct uidscan {
	struct rp_uid_report *rep;
	mb_diag_fn fwd;
	void *fwd_arg;
	bool lost_base; /* uid-without-base, bad-ximap */
	/* UIDs the driver made up for messages without one (ascending) */
	uint32_t *made;
	size_t nmade, made_cap;
	bool oom;
};

/* Damage that a rewrite carries over unchanged: not in the way. */
static bool
harmless_damage(const char *code)
{
	static const char *const ok[] = {
		"unquoted-from",  /* the framing does not split there */
		"content-length", /* never trusted; copied verbatim */
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(code, ok[i]) == 0)
			return true;
	return false;
}

static void
on_diag(void *arg, const struct mb_diag *d)
{
	struct uidscan *us = arg;
	struct rp_uid_report *rep = us->rep;
	const char *c = d->code ? d->code : "";

	if (strcmp(c, "duplicate-uid") == 0) {
		rep->nduplicate++;
	} else if (strcmp(c, "uid-order") == 0) {
		rep->norder++;
	} else if (strcmp(c, "uid-above-last") == 0) {
		rep->nabove++;
	} else if (strcmp(c, "bad-x-uid") == 0) {
		rep->nbad++;
	} else if (strcmp(c, "uid-without-base") == 0 ||
		   strcmp(c, "bad-ximap") == 0) {
		us->lost_base = true;
	} else if (strcmp(c, "missing-uid") == 0) {
		rep->nmissing++;
		if (d->uid != 0) {
			if (us->nmade == us->made_cap) {
				size_t cap =
					us->made_cap ? 2 * us->made_cap : 64;
				uint32_t *p =
					realloc(us->made, cap * sizeof(*p));

				if (p == NULL) {
					us->oom = true;
					goto fwd;
				}
				us->made = p;
				us->made_cap = cap;
			}
			us->made[us->nmade++] = d->uid;
		}
	} else if (d->level == MB_DIAG_DAMAGE && !harmless_damage(c)) {
		rep->nother_damage++;
	}
fwd:
	if (us->fwd != NULL)
		us->fwd(us->fwd_arg, d);
}

static int
fail(struct mb_err *e, int sev, int code, const char *path, const char *msg)
{
	mb_err_clear(e);
	e->code = code;
	e->offset = -1;
	snprintf(e->path, sizeof(e->path), "%s", path);
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	return sev;
}

/* Was uid made up by the driver (a message with no stored UID)? */
static bool
made_up(const struct uidscan *us, size_t *pos, uint32_t uid)
{
	while (*pos < us->nmade && us->made[*pos] < uid)
		(*pos)++;
	return *pos < us->nmade && us->made[*pos] == uid;
}

/* A UIDVALIDITY greater than old (RFC 3501 asks for growth). */
static uint32_t
new_validity(uint32_t old)
{
	uint32_t v = (uint32_t)time(NULL);

	if (v <= old && old < UINT32_MAX)
		v = old + 1;
	return v ? v : 1;
}

/*
 * Decide from the scanned UIDs.  Fills uids[] with the UIDs to store and
 * rep's counts; returns the next UID.
 */
static uint32_t
decide(const struct uidscan *us, const struct mb_info *in, bool known,
       bool force, uint32_t *uids, uint32_t n, struct rp_uid_report *rep)
{
	uint32_t i, prev = 0, last, maxuid = 0;
	bool gap = false;
	size_t pos = 0;

	rep->why = 0;
	if (force)
		rep->why |= RP_WHY_FORCED;
	if (!known && n > 0)
		rep->why |= RP_WHY_NO_STATE;
	if (rep->nduplicate > 0)
		rep->why |= RP_WHY_DUPLICATE;
	if (rep->norder > 0)
		rep->why |= RP_WHY_ORDER;
	for (i = 0; known && i < n; i++) {
		if (uids[i] == 0) {
			gap = true;
			continue;
		}
		if (uids[i] <= prev)
			rep->why |= uids[i] == prev ? RP_WHY_DUPLICATE :
						      RP_WHY_ORDER;
		else if (gap && rep->nduplicate == 0 && rep->norder == 0)
			rep->why |= RP_WHY_LOST; /* a hole before this one */
		prev = uids[i];
		if (uids[i] > maxuid)
			maxuid = uids[i];
	}

	if (rep->why != 0) {
		rep->renumbered = true;
		rep->changed = true;
		rep->uidvalidity = new_validity(known ? in->uidvalidity : 0);
		for (i = 0; i < n; i++)
			uids[i] = i + 1;
		rep->kept = 0;
		rep->assigned = n;
		return n + 1;
	}

	/* keep every stored UID; number the tail; raise the last UID */
	rep->uidvalidity = in->uidvalidity;
	last = in->uidnext > 0 ? in->uidnext - 1 : 0;
	if (maxuid > last)
		last = maxuid;
	rep->kept = rep->assigned = 0;
	for (i = 0; i < n; i++) {
		if (uids[i] == 0) {
			uids[i] = ++last;
			rep->assigned++;
		} else if (made_up(us, &pos, uids[i])) {
			rep->assigned++;
		} else {
			rep->kept++;
		}
	}
	rep->changed = rep->assigned > 0 || rep->nabove > 0;
	return last + 1;
}

int
rp_uid_rebuild(struct mb_ctx *ctx, const char *path, const char *format,
	       unsigned flags, mb_diag_fn diag, void *diag_arg,
	       struct rp_uid_report *rep, struct mb_err *e)
{
	struct uidscan us;
	struct mb_box *box = NULL;
	struct mb_info info;
	struct mb_msg *m;
	uint32_t *uids = NULL, n = 0, cap = 0, uidnext;
	time_t t0, t1;
	bool known, any_uid = false, failed_msg = false;
	int rc;

	memset(rep, 0, sizeof(*rep));
	memset(&us, 0, sizeof(us));
	us.rep = rep;
	us.fwd = diag;
	us.fwd_arg = diag_arg;
	mb_ctx_set_diag(ctx, on_diag, &us);

	mb_err_clear(e);
	t0 = time(NULL);
	rc = mb_open(ctx, path, format, MB_RDWR | MB_CHECK | MB_KEEP_TIMES,
		     &box, e);
	t1 = time(NULL);
	if (rc != MB_OK)
		goto out;
	snprintf(rep->format, sizeof(rep->format), "%s", mb_box_format(box));

	for (;;) {
		mb_err_clear(e);
		rc = mb_next(box, &m, e);
		if (rc == MB_END)
			break;
		if (rc == MB_FAILED) {
			/* not in the index: renumbering would skip it */
			failed_msg = true;
			continue;
		}
		if (rc != MB_OK)
			goto out;
		if (n == cap) {
			uint32_t *p;

			cap = cap ? 2 * cap : 256;
			p = realloc(uids, (size_t)cap * sizeof(*p));
			if (p == NULL) {
				rc = fail(e, MB_FATAL, MB_ENOMEM, path,
					  "out of memory");
				goto out;
			}
			uids = p;
		}
		uids[n++] = m->uid;
		if (m->uid != 0)
			any_uid = true;
	}
	mb_err_clear(e);
	if ((rc = mb_box_info(box, &info, e)) != MB_OK)
		goto out;
	if (us.oom) {
		rc = fail(e, MB_FATAL, MB_ENOMEM, path, "out of memory");
		goto out;
	}
	rep->messages = n;
	rep->uidvalidity_old = info.uidvalidity;
	if (failed_msg || rep->nother_damage > 0 || n != info.messages) {
		rc = fail(e, MB_FAILED, MB_EFORMAT, path,
			  "damaged beyond its UIDs (see mailbag check); "
			  "not changed");
		goto out;
	}

	/*
	 * Was there a UIDVALIDITY?  A read/write open makes one up for a
	 * mailbox without (as UW does) and the driver then numbers nothing;
	 * a value made during our open that numbers nothing is that one.
	 */
	known = !us.lost_base && info.uidvalidity != 0 &&
		!((time_t)info.uidvalidity >= t0 &&
		  (time_t)info.uidvalidity <= t1 && !info.has_pseudo &&
		  !any_uid && rep->nduplicate == 0 && rep->norder == 0);
	if (!known)
		rep->uidvalidity_old = 0;

	if (!known && n == 0 && !(flags & RP_UID_FORCE)) {
		/* an empty mailbox with no UID state: nothing to rebuild */
		rep->uidvalidity = info.uidvalidity;
		rep->uidnext = 1;
		rep->changed = false;
	} else {
		uidnext = decide(&us, &info, known, flags & RP_UID_FORCE, uids,
				 n, rep);
		rep->uidnext = uidnext;
	}
	/* also when nothing changes: tells formats without UIDs apart */
	mb_err_clear(e);
	rc = mb_set_uids(box, rep->uidvalidity ? rep->uidvalidity : 1, uids, n,
			 rep->uidnext, e);
	if (rc != MB_OK)
		goto out;
	if (!rep->changed || (flags & RP_UID_DRY_RUN)) {
		mb_abort(&box);
	} else {
		rc = mb_close(&box, e);
		if (rc != MB_OK)
			rep->changed = false;
	}
out:
	if (box != NULL)
		mb_abort(&box);
	mb_ctx_set_diag(ctx, NULL, NULL);
	free(uids);
	free(us.made);
	return rc;
}

const char *
rp_uid_why(unsigned why, char *buf, size_t size)
{
	static const struct {
		unsigned bit;
		const char *text;
	} reasons[] = {
		{ RP_WHY_FORCED, "forced" },
		{ RP_WHY_NO_STATE, "no UIDVALIDITY recorded" },
		{ RP_WHY_DUPLICATE, "duplicate UIDs" },
		{ RP_WHY_ORDER, "UIDs out of order" },
		{ RP_WHY_LOST, "a message lost its UID" },
	};
	size_t i, len = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (!(why & reasons[i].bit))
			continue;
		snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
			 reasons[i].text);
		len = strlen(buf);
	}
	return buf;
}

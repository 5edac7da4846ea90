/*
 * fuzz-mime.c - the MIME parser (libmbox/mime.c) on one message, with a
 * body callback that decodes every leaf (decode.c, charset.c), and the
 * tree walked: every part's fields, ENVELOPE and BODYSTRUCTURE
 * (imapfetch.c).  The message is read in small pieces through a reader
 * so that lines and boundaries straddle reads.
 */
#include "fuzz.h"
#include "mb-msg.h"

struct piecemeal {
	struct mb_reader r;
	const uint8_t *p;
	size_t len, pos, step;
};

static ssize_t
pm_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	struct piecemeal *pm = (struct piecemeal *)r;
	size_t n = pm->len - pm->pos;

	(void)e;
	if (n > len)
		n = len;
	if (n > pm->step)
		n = pm->step;
	memcpy(buf, pm->p + pm->pos, n);
	pm->pos += n;
	pm->step = pm->step * 7 % 97 + 1;
	return (ssize_t)n;
}

static int
pm_rewind(struct mb_reader *r, struct mb_err *e)
{
	(void)e;
	((struct piecemeal *)r)->pos = 0;
	return MB_OK;
}

static void
pm_close(struct mb_reader *r)
{
	(void)r;
}

static int
on_body(void *arg, const struct mb_part *p, const char *header, size_t hlen,
	const char *data, size_t n)
{
	struct mb_decoder *d = arg;
	char *out = NULL;
	size_t len = 0, cap = 0;

	if (header) {
		mb_decoder_init(d, p->cte);
		return 0;
	}
	mb_decoder_feed(d, data, n, &out, &len, &cap);
	free(out);
	return 0;
}

static size_t
walk(const struct mb_part *p, unsigned depth)
{
	size_t total = 0;
	char *s, *cs;
	int i;

	for (; p; p = p->next) {
		total += strlen(p->type) + strlen(p->subtype);
		for (i = 0; i < p->nparams; i++)
			total += strlen(p->params[i].name) +
				 strlen(p->params[i].value);
		cs = mb_param_value(p->params, p->nparams, "charset");
		if (cs) {
			s = mb_to_utf8(cs, "abc\xe9", 4);
			free(s);
			free(cs);
		}
		s = mb_param_value(p->dparams, p->ndparams, "filename");
		free(s);
		s = mb_imap_bodystructure(p, true);
		free(s);
		if (p->env) {
			s = mb_imap_envelope(p);
			free(s);
		}
		if (p->hdr_off < 0 || p->body_off < p->hdr_off ||
		    p->body_size < 0 || p->hdr_size < 0)
			abort();
		if (depth < 200)
			total += walk(p->child, depth + 1);
	}
	return total;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct piecemeal pm = {
		{pm_read, pm_rewind, pm_close, (int64_t)size}, data, size, 0, 1};
	struct mb_decoder d;
	struct mb_mime *m = NULL;
	struct mb_err e;
	char *s;

	if (mb_mime_parse(NULL, &pm.r, on_body, &d, &m, &e) == MB_OK) {
		walk(m->root, 0);
		s = mb_imap_bodystructure(m->root, false);
		free(s);
		if (m->size != (int64_t)size)
			abort();
		mb_mime_free(&m);
	}
	if (mb_mime_parse_buf(data, size, &m, &e) == MB_OK)
		mb_mime_free(&m);
	return 0;
}

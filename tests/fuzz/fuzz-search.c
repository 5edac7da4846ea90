/*
 * fuzz-search.c - SEARCH (libmbox/search.c): the criteria parser on the
 * input's first line and, when it parses, the evaluation against every
 * message of a unix mailbox made of the rest of the input.
 */
#include "fuzz.h"
#include "mb-msg.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char from[] = "From fuzz@example.com Mon Jan  1 00:00:00 2024\n";
	const uint8_t *nl = memchr(data, '\n', size);
	struct mb_search *s = NULL;
	struct mb_ctx *ctx;
	struct mb_box *box = NULL;
	struct mb_msg *m;
	struct mb_err e;
	char path[300], *crit, *file;
	size_t cl = nl ? (size_t)(nl - data) : size, rest;
	uint32_t n = 0;
	bool match;
	int rc;

	crit = malloc(cl + 1);
	if (crit == NULL)
		return 0;
	memcpy(crit, data, cl);
	crit[cl] = 0;
	rc = mb_search_parse(crit, &s, &e);
	free(crit);
	if (rc != MB_OK)
		return 0;
	rest = nl ? size - cl - 1 : 0;
	file = malloc(sizeof(from) - 1 + rest);
	if (file == NULL) {
		mb_search_free(&s);
		return 0;
	}
	memcpy(file, from, sizeof(from) - 1);
	if (rest)
		memcpy(file + sizeof(from) - 1, nl + 1, rest);
	snprintf(path, sizeof(path), "%s/box", fuzz_scratch());
	fuzz_write(path, file, sizeof(from) - 1 + rest);
	free(file);
	ctx = mb_ctx_new();
	if (ctx && mb_open(ctx, path, "unix", MB_RDONLY | MB_NOLOCK, &box,
			   &e) == MB_OK) {
		while ((rc = mb_next(box, &m, &e)) != MB_END && rc != MB_FATAL)
			if (rc == MB_OK)
				n++;
		if (mb_rewind(box, &e) == MB_OK)
			while ((rc = mb_next(box, &m, &e)) != MB_END &&
			       rc != MB_FATAL)
				if (rc == MB_OK)
					mb_search_match(s, box, m, n, n + 1,
							&match, &e);
		mb_abort(&box);
	}
	mb_ctx_free(&ctx);
	mb_search_free(&s);
	return 0;
}

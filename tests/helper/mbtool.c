/*
 * mbtool - drive libmbox operations that no command exposes yet, for the
 * shell tests: flag changes and expunge.
 *
 *	mbtool flags BOX SEQ [+-]FLAG...	(FLAG: seen deleted flagged
 *						 answered draft, or a keyword)
 *	mbtool expunge BOX
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb.h"

static unsigned
flag_bit(const char *s)
{
	static const struct {
		const char *name;
		unsigned bit;
	} t[] = {{"seen", MB_SEEN},	  {"deleted", MB_DELETED},
		 {"flagged", MB_FLAGGED}, {"answered", MB_ANSWERED},
		 {"draft", MB_DRAFT}};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0)
			return t[i].bit;
	return 0;
}

int
main(int argc, char **argv)
{
	struct mb_ctx *ctx = mb_ctx_new();
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	uint32_t n = 0;
	int rc, i;

	if (argc < 3) {
		fprintf(stderr, "usage: mbtool flags|expunge BOX ...\n");
		return 64;
	}
	if (mb_open(ctx, argv[2], NULL, MB_RDWR, &b, &e) != MB_OK) {
		fprintf(stderr, "mbtool: %s: %s\n", argv[2], e.msg);
		mb_ctx_free(&ctx);
		return 1;
	}
	while ((rc = mb_next(b, &m, &e)) == MB_OK)
		;
	if (strcmp(argv[1], "flags") == 0 && argc >= 4) {
		uint32_t seq = (uint32_t)strtoul(argv[3], NULL, 10);

		for (i = 4; i < argc; i++) {
			const char *f = argv[i] + 1;
			unsigned bit = flag_bit(f);
			uint64_t kw = 0;

			if (bit == 0) {
				int k = mb_keyword_index(b, f, true);

				if (k < 0) {
					fprintf(stderr, "mbtool: bad flag %s\n", f);
					return 64;
				}
				kw = (uint64_t)1 << k;
			}
			rc = argv[i][0] == '+'
				     ? mb_set_flags(b, seq, bit, 0, kw, 0, &e)
				     : mb_set_flags(b, seq, 0, bit, 0, kw, &e);
			if (rc != MB_OK) {
				fprintf(stderr, "mbtool: %s\n", e.msg);
				return 1;
			}
		}
	} else if (strcmp(argv[1], "expunge") == 0) {
		if (mb_expunge(b, &n, &e) != MB_OK) {
			fprintf(stderr, "mbtool: %s\n", e.msg);
			return 1;
		}
		printf("%u expunged\n", n);
	} else {
		fprintf(stderr, "mbtool: unknown operation %s\n", argv[1]);
		return 64;
	}
	if (mb_close(&b, &e) != MB_OK) {
		fprintf(stderr, "mbtool: %s\n", e.msg);
		return 1;
	}
	mb_ctx_free(&ctx);
	return 0;
}

/*
 * mbtool - drive libmbox operations that no command exposes yet, for the
 * shell tests: flag changes and expunge.
 *
 *	mbtool flags BOX SEQ [+-]FLAG...	(FLAG: seen deleted flagged
 *						 answered draft, or a keyword)
 *	mbtool expunge BOX
 *	mbtool dump BOX			(read-only: UID state, then per
 *					 message UID, flags, keywords, date,
 *					 size and FNV-1a hash of the text)
 *	mbtool list ROOT [PATTERN [FLAG...]]	(mb_list; FLAG: all root
 *					 nodot nofollow; one line per entry)
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

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keywords are printed sorted: formats declare them in different orders. */
static int
dump(struct mb_ctx *ctx, const char *path)
{
	struct mb_reader *r;
	struct mb_info info;
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	const char *kw[MB_MAX_KEYWORDS];
	char buf[65536];
	unsigned n, nk;
	int rc;

	if (mb_open(ctx, path, NULL, MB_RDONLY, &b, &e) != MB_OK) {
		fprintf(stderr, "mbtool: %s: %s\n", path, e.msg);
		return 1;
	}
	while ((rc = mb_next(b, &m, &e)) == MB_OK) {
		uint64_t h = 1469598103934665603ULL;
		int64_t size = 0;
		ssize_t got;

		if (mb_msg_open(b, m, &r, &e) != MB_OK)
			break;
		while ((got = mb_reader_read(r, buf, sizeof(buf), &e)) > 0) {
			for (ssize_t i = 0; i < got; i++)
				h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
			size += got;
		}
		mb_reader_close(&r);
		if (got < 0)
			break;
		printf("msg uid=%u flags=%#x date=%lld%+d size=%lld hash=%016llx"
		       " kw=",
		       m->uid, m->flags & ~(unsigned)MB_OLD, (long long)m->idate,
		       m->idate_tz, (long long)size, (unsigned long long)h);
		nk = 0;
		for (n = 0; n < MB_MAX_KEYWORDS; n++)
			if ((m->keywords & ((uint64_t)1 << n)) &&
			    mb_keyword(b, n) != NULL)
				kw[nk++] = mb_keyword(b, n);
		qsort(kw, nk, sizeof(kw[0]), cmp_str);
		for (n = 0; n < nk; n++)
			printf("%s,", kw[n]);
		printf("\n");
	}
	if (rc != MB_END) {
		fprintf(stderr, "mbtool: %s: %s\n", path, e.msg);
		mb_abort(&b);
		return 1;
	}
	mb_box_info(b, &info, &e);
	printf("uidvalidity=%u uidnext=%u messages=%u\n", info.uidvalidity,
	       info.uidnext, info.messages);
	mb_abort(&b);
	return 0;
}

/* jdump BOX: one JSON object per message with its text in hex, then one
 * for the mailbox (for the format round-trip test). */
static int
jdump(struct mb_ctx *ctx, const char *path)
{
	struct mb_reader *r;
	struct mb_info info;
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	unsigned char buf[65536];
	unsigned n;
	int rc;

	if (mb_open(ctx, path, NULL, MB_RDONLY, &b, &e) != MB_OK) {
		fprintf(stderr, "mbtool: %s: %s\n", path, e.msg);
		return 1;
	}
	while ((rc = mb_next(b, &m, &e)) == MB_OK) {
		ssize_t got;
		const char *sep = "";

		printf("{\"uid\":%u,\"flags\":%u,\"idate\":%lld,\"tz\":%d,"
		       "\"keywords\":[",
		       m->uid, m->flags & ~(unsigned)MB_OLD, (long long)m->idate,
		       m->idate_tz);
		for (n = 0; n < MB_MAX_KEYWORDS; n++)
			if ((m->keywords & ((uint64_t)1 << n)) &&
			    mb_keyword(b, n) != NULL) {
				printf("%s\"%s\"", sep, mb_keyword(b, n));
				sep = ",";
			}
		printf("],\"text\":\"");
		if (mb_msg_open(b, m, &r, &e) != MB_OK)
			break;
		while ((got = mb_reader_read(r, buf, sizeof(buf), &e)) > 0)
			for (ssize_t i = 0; i < got; i++)
				printf("%02x", buf[i]);
		mb_reader_close(&r);
		printf("\"}\n");
		if (got < 0)
			break;
	}
	if (rc != MB_END) {
		fprintf(stderr, "mbtool: %s: %s\n", path, e.msg);
		mb_abort(&b);
		return 1;
	}
	mb_box_info(b, &info, &e);
	printf("{\"box\":\"%s\",\"uidvalidity\":%u,\"uidnext\":%u,"
	       "\"messages\":%u}\n",
	       info.format, info.uidvalidity, info.uidnext, info.messages);
	mb_abort(&b);
	return 0;
}

static int
list_one(void *arg, const struct mb_list_entry *ent)
{
	static const char *const kinds[] = { "mailbox", "dir", "other",
					     "error" };
	static const struct {
		unsigned bit;
		const char *name;
	} at[] = { { MB_LATT_NOINFERIORS, "noinferiors" },
		   { MB_LATT_NOSELECT, "noselect" },
		   { MB_LATT_HASCHILDREN, "haschildren" },
		   { MB_LATT_HASNOCHILDREN, "hasnochildren" },
		   { MB_LATT_SYMLINK, "symlink" },
		   { MB_LATT_DIRBOX, "dirbox" },
		   { MB_LATT_NOWALK, "nowalk" } };
	size_t i;

	printf("%s %s", ent->name[0] ? ent->name : "(root)", kinds[ent->kind]);
	if (ent->format)
		printf(" %s", ent->format);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		if (ent->attrs & at[i].bit)
			printf(" %s", at[i].name);
	if (ent->reason)
		printf(" (%s)", ent->reason);
	printf("\n");
	return arg != NULL && strcmp(arg, ent->name) == 0;
}

static int
list(struct mb_ctx *ctx, int argc, char **argv)
{
	const char *stop = getenv("MBTOOL_STOP_AT");
	unsigned flags = 0;
	struct mb_err e;
	int i;

	for (i = 4; i < argc; i++)
		if (strcmp(argv[i], "all") == 0)
			flags |= MB_LIST_ALL;
		else if (strcmp(argv[i], "root") == 0)
			flags |= MB_LIST_ROOT;
		else if (strcmp(argv[i], "nodot") == 0)
			flags |= MB_LIST_NODOT;
		else if (strcmp(argv[i], "nofollow") == 0)
			flags |= MB_LIST_NOFOLLOW;
	if (mb_list(ctx, argv[2], argc > 3 ? argv[3] : NULL, flags, list_one,
		    (void *)stop, &e) != MB_OK) {
		fprintf(stderr, "mbtool: %s: %s (%s)\n", argv[2], e.msg,
			mb_code_name(e.code));
		return 1;
	}
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
	int rc, i, status = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: mbtool flags|expunge|dump|jdump|list BOX ...\n");
		return 64;
	}
	/* $MAILBAG_CONF and ~/.mailbagrc, as mailbag reads them */
	if (mb_ctx_load_config(ctx, &e) != MB_OK) {
		fprintf(stderr, "mbtool: %s: %s\n", e.path, e.msg);
		mb_ctx_free(&ctx);
		return 78;
	}
	if (strcmp(argv[1], "jdump") == 0) {
		rc = jdump(ctx, argv[2]);
		mb_ctx_free(&ctx);
		return rc;
	}
	if (strcmp(argv[1], "dump") == 0 || strcmp(argv[1], "list") == 0) {
		rc = strcmp(argv[1], "dump") == 0 ? dump(ctx, argv[2]) :
						    list(ctx, argc, argv);
		mb_ctx_free(&ctx);
		return rc;
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
					status = 64;
					goto fail;
				}
				kw = (uint64_t)1 << k;
			}
			rc = argv[i][0] == '+'
				     ? mb_set_flags(b, seq, bit, 0, kw, 0, &e)
				     : mb_set_flags(b, seq, 0, bit, 0, kw, &e);
			if (rc != MB_OK) {
				fprintf(stderr, "mbtool: %s\n", e.msg);
				goto fail;
			}
		}
	} else if (strcmp(argv[1], "expunge") == 0) {
		if (mb_expunge(b, &n, &e) != MB_OK) {
			fprintf(stderr, "mbtool: %s\n", e.msg);
			goto fail;
		}
		printf("%u expunged\n", n);
	} else {
		fprintf(stderr, "mbtool: unknown operation %s\n", argv[1]);
		status = 64;
		goto fail;
	}
	if (mb_close(&b, &e) != MB_OK) {
		fprintf(stderr, "mbtool: %s\n", e.msg);
		return 1;
	}
	mb_ctx_free(&ctx);
	return 0;
fail:
	mb_abort(&b);
	mb_ctx_free(&ctx);
	return status;
}

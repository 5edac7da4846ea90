/*
 * crlf.c - the two places that turn CR LF into LF on the way between
 * formats: libmbox's LF reader (mbi_reader_lf) and the maildir writer.
 * The mbx writer goes the other way: a CR before every LF that lacks one.
 * Random texts full of CRs, LFs and CR LF pairs, handed over in pieces
 * of every size so that a CR falls on each side of every boundary, must
 * come out as a plain byte-by-byte reference conversion says: the CR of
 * each CR LF dropped, a lone CR kept, a CR at the very end kept.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb-int.h"
#include "tap.h"

/* A reader that hands out at most `piece` bytes a call. */
struct pieces {
	struct mb_reader r;
	const char *p;
	size_t len, pos, piece;
};

static ssize_t
pieces_read(struct mb_reader *r, void *buf, size_t len, struct mb_err *e)
{
	struct pieces *s = (struct pieces *)r;
	size_t n = s->len - s->pos;

	(void)e;
	if (n > s->piece)
		n = s->piece;
	if (n > len)
		n = len;
	memcpy(buf, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static int
pieces_rewind(struct mb_reader *r, struct mb_err *e)
{
	(void)e;
	((struct pieces *)r)->pos = 0;
	return MB_OK;
}

static void
pieces_close(struct mb_reader *r)
{
	(void)r;
}

static void
pieces_init(struct pieces *s, const char *p, size_t len, size_t piece)
{
	memset(s, 0, sizeof(*s));
	s->r.read = pieces_read;
	s->r.rewind = pieces_rewind;
	s->r.close = pieces_close;
	s->r.size = (int64_t)len;
	s->p = p;
	s->len = len;
	s->piece = piece;
}

/* The reference: byte by byte. */
static size_t
reference(const char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++)
		if (!(in[i] == '\r' && i + 1 < n && in[i + 1] == '\n'))
			out[o++] = in[i];
	return o;
}

/* The reference the other way: CR LF for every LF without its CR. */
static size_t
reference_crlf(const char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = in[i];
	}
	return o;
}

/* A text of n bytes drawn from "\r", "\n" and "a", often ending in CR. */
static void
random_text(char *p, size_t n, unsigned seed)
{
	static const char pick[] = "\r\n\ra\n\ra";
	size_t i;

	srand(seed);
	for (i = 0; i < n; i++)
		p[i] = pick[rand() % 7];
	if (seed % 2 && n > 0)
		p[n - 1] = '\r';
}

static void
lf_reader_cases(void)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 7, 64, 4099 };
	static const size_t piece[] = { 1, 2, 3, 5, 64, 100000 };
	static const size_t bufsz[] = { 2, 3, 7, 4096 };
	char *in = malloc(5000), *want = malloc(5000), *got = malloc(6000);
	size_t a, b, c;
	unsigned seed = 1;
	int bad = 0, runs = 0;

	for (a = 0; a < sizeof(sizes) / sizeof(sizes[0]); a++)
		for (b = 0; b < sizeof(piece) / sizeof(piece[0]); b++)
			for (c = 0; c < sizeof(bufsz) / sizeof(bufsz[0]); c++) {
				struct pieces src;
				struct mb_reader *lf;
				struct mb_err e;
				size_t wn, gn = 0;
				ssize_t n;

				random_text(in, sizes[a], seed++);
				wn = reference(in, sizes[a], want);
				pieces_init(&src, in, sizes[a], piece[b]);
				lf = mbi_reader_lf(&src.r);
				while ((n = mb_reader_read(lf, got + gn,
							   bufsz[c], &e)) > 0)
					gn += (size_t)n;
				mb_reader_close(&lf);
				runs++;
				if (n < 0 || gn != wn ||
				    memcmp(got, want, wn) != 0) {
					if (bad++ == 0)
						diag("size %zu piece %zu buffer "
						     "%zu: %zu bytes, want %zu",
						     sizes[a], piece[b],
						     bufsz[c], gn, wn);
				}
			}
	ok(bad == 0, "LF reader: %d texts in pieces of every size, as the "
		     "reference (%d differ)", runs, bad);
	free(in);
	free(want);
	free(got);
}

/* The one file under DIR/new or DIR/cur, read whole into *out. */
static ssize_t
only_message(const char *dir, char **out)
{
	static const char *const sub[] = { "new", "cur" };
	char path[8192];
	struct stat st;
	ssize_t n = -1;
	size_t i;

	for (i = 0; i < 2 && n < 0; i++) {
		struct dirent *d;
		DIR *dp;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, sub[i]) >=
		    sizeof(path))
			continue;
		if ((dp = opendir(path)) == NULL)
			continue;
		while ((d = readdir(dp)) != NULL) {
			int fd;

			if (d->d_name[0] == '.')
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir,
					     sub[i], d->d_name) >= sizeof(path))
				break;
			if ((fd = open(path, O_RDONLY)) < 0 ||
			    fstat(fd, &st) < 0)
				break;
			*out = malloc((size_t)st.st_size + 1);
			n = read(fd, *out, (size_t)st.st_size);
			close(fd);
			break;
		}
		closedir(dp);
	}
	return n;
}

/* The maildir writer, with texts larger than its copy buffer. */
static void
maildir_cases(const char *tmp)
{
	static const size_t sizes[] = { 1, 2, 200000, 300001 };
	static const size_t piece[] = { 1, 65536, 131073 };
	size_t a, b;
	unsigned seed = 100;
	int k = 0;

	for (a = 0; a < sizeof(sizes) / sizeof(sizes[0]); a++)
		for (b = 0; b < sizeof(piece) / sizeof(piece[0]); b++) {
			size_t n = sizes[a], wn;
			char *in, *want, *got = NULL, dir[4096];
			struct mb_ctx *ctx = NULL;
			struct mb_box *box = NULL;
			struct mb_newmsg m;
			struct pieces src;
			struct mb_err e;
			ssize_t gn;

			if (n < 1000 && piece[b] > 1)
				continue;
			in = malloc(n + 16);
			want = malloc(n + 16);
			/* a header first: the text is a message */
			memcpy(in, "Subject: x\r\n\r\n", 14);
			random_text(in + 14, n, seed++);
			n += 14;
			wn = reference(in, n, want);
			snprintf(dir, sizeof(dir), "%s/md%d", tmp, k++);
			pieces_init(&src, in, n, piece[b]);
			memset(&m, 0, sizeof(m));
			m.idate = 1700000000;
			/* into an existing folder: through tmp/ (a new
			 * folder keeps small texts in memory instead) */
			if ((ctx = mb_ctx_new()) == NULL ||
			    mb_create(ctx, dir, "maildir", 0, &box, &e) !=
				    MB_OK ||
			    mb_close(&box, &e) != MB_OK ||
			    mb_open(ctx, dir, NULL, MB_RDWR, &box, &e) !=
				    MB_OK ||
			    mb_append(box, &m, &src.r, NULL, &e) != MB_OK ||
			    mb_close(&box, &e) != MB_OK) {
				ok(0, "maildir append of %zu bytes: %s", n,
				   e.msg);
			} else {
				gn = only_message(dir, &got);
				ok(gn == (ssize_t)wn &&
					   memcmp(got, want, wn) == 0,
				   "maildir: %zu bytes in pieces of %zu stored "
				   "as the reference (%zd bytes, want %zu)",
				   n, piece[b], gn, wn);
			}
			mb_abort(&box);
			mb_ctx_free(&ctx);
			free(in);
			free(want);
			free(got);
		}
}

/* The mbx writer: appended in pieces, read back as stored. */
static void
mbx_cases(const char *tmp)
{
	static const size_t sizes[] = { 3, 5000, 200000, 300001 };
	static const size_t piece[] = { 1, 7, 65536, 131073 };
	size_t a, b;
	unsigned seed = 200;
	int k = 0;

	for (a = 0; a < sizeof(sizes) / sizeof(sizes[0]); a++)
		for (b = 0; b < sizeof(piece) / sizeof(piece[0]); b++) {
			size_t n = sizes[a], wn, gn = 0;
			char *in, *want, *got, path[4096];
			struct mb_ctx *ctx = NULL;
			struct mb_box *box = NULL;
			struct mb_newmsg m;
			struct mb_msg *msg;
			struct mb_reader *r;
			struct pieces src;
			struct mb_err e;
			ssize_t got_n = 0;

			if (n > 100000 && piece[b] < 100)
				continue;
			in = malloc(n + 16);
			want = malloc(2 * n + 32);
			got = malloc(2 * n + 32);
			memcpy(in, "Subject: x\n\n", 13);
			random_text(in + 13, n, seed++);
			n += 13;
			wn = reference_crlf(in, n, want);
			snprintf(path, sizeof(path), "%s/x%d.mbx", tmp, k++);
			pieces_init(&src, in, n, piece[b]);
			memset(&m, 0, sizeof(m));
			m.idate = 1700000000;
			if ((ctx = mb_ctx_new()) == NULL ||
			    mb_create(ctx, path, "mbx", 0, &box, &e) != MB_OK ||
			    mb_append(box, &m, &src.r, NULL, &e) != MB_OK ||
			    mb_close(&box, &e) != MB_OK ||
			    mb_open(ctx, path, NULL, 0, &box, &e) != MB_OK ||
			    mb_next(box, &msg, &e) != MB_OK ||
			    mb_msg_open(box, msg, &r, &e) != MB_OK) {
				ok(0, "mbx append of %zu bytes: %s", n, e.msg);
			} else {
				while ((got_n = mb_reader_read(
						r, got + gn, 2 * n + 32 - gn,
						&e)) > 0)
					gn += (size_t)got_n;
				mb_reader_close(&r);
				ok(got_n == 0 && gn == wn &&
					   memcmp(got, want, wn) == 0,
				   "mbx: %zu bytes in pieces of %zu stored with "
				   "CR LF as the reference (%zu bytes, want %zu)",
				   n, piece[b], gn, wn);
			}
			mb_abort(&box);
			mb_ctx_free(&ctx);
			free(in);
			free(want);
			free(got);
		}
}

int
main(void)
{
	/* one directory for both writers (t_tmpdir removes one at exit) */
	const char *tmp = t_tmpdir();

	lf_reader_cases();
	maildir_cases(tmp);
	mbx_cases(tmp);
	return done_testing();
}

/*
 * mbx.c - the mbx driver: UW's samples read with the right counts, flags,
 * keywords and UIDs; UW's error texts at the right offsets on planted
 * damage; create byte for byte as mailutil; append, flags, renumbering
 * and expunge round trips; the shared-lock (hidden) expunge.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mb.h"
#include "tap.h"

static char data_dir[4096];

static void
bail(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(1);
}

static char *
read_file(const char *path, size_t *len)
{
	struct stat st;
	char *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		bail(path);
	p = malloc((size_t)st.st_size + 1);
	if (p == NULL || read(fd, p, (size_t)st.st_size) != st.st_size)
		bail(path);
	p[st.st_size] = '\0';
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static void
write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n)
		bail(path);
	close(fd);
}

static char *
sample(const char *name, size_t *len)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	return read_file(path, len);
}

/* Copy a sample into the test directory. */
static void
put_sample(const char *name, const char *as)
{
	size_t n;
	char *p = sample(name, &n);

	write_file(as, p, n);
	free(p);
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Diagnostics collected from the context. */
static struct {
	int n;
	int level[64];
	char code[64][32];
	long long offset[64];
	char text[64][600];
} dg;

static void
on_diag(void *arg, const struct mb_diag *d)
{
	if (dg.n >= 64)
		return;
	dg.level[dg.n] = d->level;
	snprintf(dg.code[dg.n], sizeof(dg.code[0]), "%s", d->code);
	dg.offset[dg.n] = d->offset;
	snprintf(dg.text[dg.n], sizeof(dg.text[0]), "%s", d->text);
	dg.n++;
}

/* The first diagnostic of level DAMAGE, or -1. */
static int
first_damage(void)
{
	int i;

	for (i = 0; i < dg.n; i++)
		if (dg.level[i] == MB_DIAG_DAMAGE)
			return i;
	return -1;
}

static char *
slurp(struct mb_box *b, const struct mb_msg *m, size_t *len)
{
	struct mb_reader *r;
	struct mb_err e;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	ssize_t got;

	if (mb_msg_open(b, m, &r, &e) != MB_OK) {
		free(buf);
		return NULL;
	}
	while ((got = mb_reader_read(r, buf + n, cap - n, &e)) > 0) {
		n += (size_t)got;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	mb_reader_close(&r);
	*len = n;
	return buf;
}

/* Read a whole box: count, and the messages' uid/flags/keywords. */
struct seen {
	int n;
	uint32_t uid[16];
	unsigned flags[16];
	uint64_t kw[16];
	int64_t idate[16];
	int tz[16];
	int64_t offset[16];
	int64_t text_size[16];
	struct mb_info info;
	char kwnames[128];
	int rc;
};

static void
read_box(struct mb_ctx *ctx, const char *path, unsigned mode, struct seen *s)
{
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	unsigned i;

	memset(s, 0, sizeof(*s));
	dg.n = 0;
	s->rc = mb_open(ctx, path, NULL, MB_RDONLY | mode, &b, &e);
	if (s->rc != MB_OK) {
		diag("open %s: %s", path, e.msg);
		return;
	}
	while ((s->rc = mb_next(b, &m, &e)) == MB_OK) {
		if (s->n < 16) {
			s->uid[s->n] = m->uid;
			s->flags[s->n] = m->flags;
			s->kw[s->n] = m->keywords;
			s->idate[s->n] = m->idate;
			s->tz[s->n] = m->idate_tz;
			s->offset[s->n] = m->offset;
			s->text_size[s->n] = m->text_size;
		}
		s->n++;
	}
	mb_box_info(b, &s->info, &e);
	for (i = 0; mb_keyword(b, i) != NULL; i++)
		snprintf(s->kwnames + strlen(s->kwnames),
			 sizeof(s->kwnames) - strlen(s->kwnames), "%s%s",
			 i ? " " : "", mb_keyword(b, i));
	mb_close(&b, &e);
}

static void
test_samples(struct mb_ctx *ctx)
{
	struct seen s;
	struct mb_err e;

	put_sample("mbx-after-rw-open-uids-assigned.mbx", "rw.mbx");
	is_str(mb_probe(ctx, "rw.mbx", &e), "mbx", "probe: mbx");
	read_box(ctx, "rw.mbx", MB_CHECK, &s);
	ok(s.rc == MB_END && s.n == 2, "rw-open sample: 2 messages");
	ok(s.uid[0] == 1 && s.uid[1] == 2, "rw-open sample: UIDs 1 2");
	ok(s.flags[0] == 0x1d && s.flags[1] == 0x32,
	   "rw-open sample: flags 1d 32");
	ok(s.info.uidvalidity == 0x6b07381b && s.info.uidnext == 3,
	   "rw-open sample: validity and uidnext from the header");
	ok(s.offset[0] == 2048 && s.text_size[0] == 186 && s.offset[1] == 2288,
	   "rw-open sample: offsets and sizes");
	ok(s.idate[0] == 723275602 && s.tz[0] == 0,
	   "rw-open sample: space-padded day parses");
	is_int(first_damage(), -1, "rw-open sample: no damage");

	put_sample("mbx-appended-no-uids.mbx", "app.mbx");
	read_box(ctx, "app.mbx", MB_CHECK, &s);
	ok(s.n == 2 && s.uid[0] == 1 && s.uid[1] == 2 && s.info.uidnext == 3,
	   "appended sample: UID 0 messages get the UIDs UW will give");
	ok(s.flags[0] == 0x0d && s.flags[1] == 0x22,
	   "appended sample: flags 0d 22 (not old)");

	put_sample("mbx-new-empty.mbx", "new.mbx");
	read_box(ctx, "new.mbx", MB_CHECK, &s);
	ok(s.rc == MB_END && s.n == 0 && s.info.uidvalidity == 0x6b073809 &&
		   s.info.uidnext == 1,
	   "empty sample: no messages, validity");

	put_sample("mbx-shared-expunge-hidden.mbx", "hid.mbx");
	read_box(ctx, "hid.mbx", MB_CHECK, &s);
	ok(s.rc == MB_END && s.n == 0 && s.info.uidnext == 3,
	   "hidden sample: both messages hidden-expunged, skipped");

	put_sample("mbx-with-keywords.mbx", "kw.mbx");
	read_box(ctx, "kw.mbx", MB_CHECK, &s);
	ok(s.n == 2 && s.uid[0] == 2 && s.uid[1] == 3 && s.info.uidnext == 4,
	   "keywords sample: numbered above the header's last UID 1");
	is_str(s.kwnames, "Junk NonJunk $Label1", "keywords sample: names");
	ok(s.kw[0] == 6 && s.kw[1] == 1 && s.flags[0] == 5 && s.flags[1] == 1,
	   "keywords sample: keyword bits and flags");
	ok(s.tz[1] == -480, "keywords sample: zone -0800 kept");

	put_sample("tmail-folder-mbx.mbx", "tf.mbx");
	read_box(ctx, "tf.mbx", MB_CHECK, &s);
	ok(s.n == 1 && s.flags[0] == 0 && s.uid[0] == 1,
	   "tmail folder sample: 1 recent message");
	put_sample("tmail-mbx-inbox.mbx", "ti.mbx");
	read_box(ctx, "ti.mbx", MB_CHECK, &s);
	ok(s.n == 2 && s.text_size[1] == 171, "tmail INBOX sample: 2 messages");
	put_sample("dmail-kw-seen.mbx", "dm.mbx");
	read_box(ctx, "dm.mbx", MB_CHECK, &s);
	ok(s.n == 3 && s.kw[2] == 1 && s.flags[2] == 1 && s.uid[2] == 4,
	   "dmail sample: 3 messages, the last seen with Junk");
}

static void
test_text(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	size_t n = 0, len;
	char *t, *raw = sample("mbx-after-rw-open-uids-assigned.mbx", &len);

	if (mb_open(ctx, "rw.mbx", NULL, MB_RDONLY, &b, &e) != MB_OK ||
	    mb_next(b, &m, &e) != MB_OK) {
		ok(0, "open for text");
		free(raw);
		return;
	}
	t = slurp(b, m, &n);
	is_mem(t, n, raw + 2048 + 54, 186, "message text: the size bytes");
	free(t);
	mb_close(&b, &e);
	free(raw);
}

/* The zero-padded day of tmail's "now" dates reads as the padded one. */
static void
test_day_forms(struct mb_ctx *ctx)
{
	size_t len;
	char *p = sample("mbx-after-rw-open-uids-assigned.mbx", &len);
	struct seen a, z;

	write_file("day1.mbx", p, len);
	memcpy(p + 2048, "02", 2); /* " 2-Dec-1992" -> "02-Dec-1992" */
	write_file("day2.mbx", p, len);
	read_box(ctx, "day1.mbx", MB_CHECK, &a);
	read_box(ctx, "day2.mbx", MB_CHECK, &z);
	ok(a.n == 2 && z.n == 2 && a.idate[0] == z.idate[0] &&
		   first_damage() == -1,
	   "' 2-Dec-1992' and '02-Dec-1992' are the same date");
	free(p);
}

/*
 * Planted damage in message 2 (at 2288) of the appended sample: each of
 * UW's texts, with the offset; check mode ends the walk after message 1,
 * a plain open fails with the same text.
 */
static void
test_damage(struct mb_ctx *ctx)
{
	static const struct {
		const char *line; /* replaces message 2's header line */
		const char *want;
	} cases[] = {
		{"10-Dec-1992 11:00:00 +0000 29;000000000022-00000000",
		 "Unable to parse internal header at 2288: 10-Dec-1992 11:00:00 "
		 "+0000 29;000000000022-00000000"},
		{"10-Dec-1992 11:00:00 +0000,29:000000000022-00000000",
		 "Unable to parse internal header at 2288: 10-Dec-1992 11:00:00 "
		 "+0000,29:000000000022-00000000"},
		{"10-Dec-1992 11:00:00 +0000,29;0000000000x2-00000000",
		 "Unable to parse message flags at 2288: 10-Dec-1992 11:00:00 "
		 "+0000,29;0000000000x2-00000000"},
		{"10-Dec-1992 11:00:00 +0000,29;000000000022+00000000",
		 "Unable to parse message UID at 2288: 10-Dec-1992 11:00:00 "
		 "+0000,29;000000000022+00000000"},
		{"10-Dec-1992 11:00:00 +0000,29;000000000022-0000000g",
		 "Unable to parse message UID at 2288: 10-Dec-1992 11:00:00 "
		 "+0000,29;000000000022-0000000g"},
		{"10-Dec-1992 11:00:00 +0000,29;000000000022-000000001",
		 "Unable to parse message UID at 2288: 10-Dec-1992 11:00:00 "
		 "+0000,29;000000000022-000000001"},
		{"10-Dec-1992 11:00:00 +0000,0;000000000022-00000000",
		 "Unable to parse message size at 2288: 10-Dec-1992 11:00:00 "
		 "+0000,0;000000000022-00000000"},
		{"10-Dec-1992 11:00:00 +0000,;000000000022-00000000",
		 "Unable to parse message size at 2288: 10-Dec-1992 11:00:00 "
		 "+0000,;000000000022-00000000"},
		{"10-Dec-1992 11:00:00 +0000,31;000000000022-00000000",
		 "Last message (at 2288) runs past end of file (2372 > 2370)"},
		{"10-Foo-1992 11:00:00 +0000,29;000000000022-00000000",
		 "Unable to parse message date at 2288: 10-Foo-1992 11:00:00 "
		 "+0000"},
		{"10-Dec-1992 11:00:00 +0000,29;000000000022-00000000 and more "
		 "text",
		 "Unable to find CRLF at 2288 in 64 bytes, text: 10-Dec-1992 "
		 "11:00:00 +0000,29;000000000022-00000000 and more tex"},
	};
	size_t len, i;
	char *p = sample("mbx-appended-no-uids.mbx", &len);
	const char *tail = "Subject: second\r\n\r\nBody two\r\n";

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[4096];
		struct mb_box *b;
		struct mb_msg *m;
		struct mb_err e;
		struct seen s;
		int d, n = 0, rc;
		bool crlf = strstr(cases[i].want, "CRLF") == NULL;

		memcpy(buf, p, 2288);
		n = 2288 + sprintf(buf + 2288, "%s%s%s", cases[i].line,
				   crlf ? "\r\n" : "", tail);
		write_file("dmg.mbx", buf, (size_t)n);
		read_box(ctx, "dmg.mbx", MB_CHECK, &s);
		d = first_damage();
		ok(s.rc == MB_END && s.n == 1 && d >= 0 &&
			   dg.offset[d] == 2288 &&
			   strcmp(dg.code[d], "mbx-header") == 0 &&
			   strcmp(dg.text[d], cases[i].want) == 0,
		   "damage %zu: %s", i, cases[i].want);
		if (d >= 0 && strcmp(dg.text[d], cases[i].want) != 0)
			diag("got: %s", dg.text[d]);
		/* without MB_CHECK: the walk stops with MB_FATAL */
		rc = mb_open(ctx, "dmg.mbx", NULL, MB_RDONLY, &b, &e);
		if (rc == MB_OK) {
			struct mb_err e2;

			while ((rc = mb_next(b, &m, &e)) == MB_OK)
				;
			mb_close(&b, &e2);
		}
		ok(rc == MB_FATAL && e.offset == 2288 &&
			   strcmp(e.msg, cases[i].want) == 0,
		   "damage %zu: MB_FATAL with the same text", i);
	}

	/* a non-numeric size is 0 and accepted (UW quirk) */
	{
		char buf[4096];
		struct seen s;
		int n;

		memcpy(buf, p, 2288);
		n = 2288 + sprintf(buf + 2288, "10-Dec-1992 11:00:00 +0000,"
					       "abc;000000000022-00000000\r\n");
		write_file("abc.mbx", buf, (size_t)n);
		read_box(ctx, "abc.mbx", MB_CHECK, &s);
		ok(s.n == 2 && s.text_size[1] == 0 && first_damage() == -1,
		   "size 'abc' reads as 0 (UW quirk)");
		/* trailing garbage */
		write_file("garb.mbx", p, len);
		{
			int fd = open("garb.mbx", O_WRONLY | O_APPEND);

			if (fd < 0 || write(fd, "abc", 3) != 3)
				bail("garb.mbx");
			close(fd);
		}
		read_box(ctx, "garb.mbx", MB_CHECK, &s);
		n = first_damage();
		ok(s.n == 2 && n >= 0 && dg.offset[n] == 2370 &&
			   strcmp(dg.text[n], "Unable to find CRLF at 2370 in 3 "
					      "bytes, text: abc") == 0,
		   "trailing garbage: CRLF error in 3 bytes");
		/* truncated: the last message runs past the end */
		write_file("trunc.mbx", p, len - 5);
		read_box(ctx, "trunc.mbx", MB_CHECK, &s);
		n = first_damage();
		ok(s.n == 1 && n >= 0 &&
			   strcmp(dg.text[n], "Last message (at 2288) runs past "
					      "end of file (2370 > 2365)") == 0,
		   "truncated file: runs past end of file");
	}

	/* UIDs out of order or above the header's last UID */
	{
		char *q;
		struct seen s;
		int d;

		free(p);
		p = sample("mbx-after-rw-open-uids-assigned.mbx", &len);
		q = memmem(p + 2288, len - 2288, "-00000002\r\n", 11);
		memcpy(q, "-00000001", 9);
		write_file("uid.mbx", p, len);
		read_box(ctx, "uid.mbx", MB_CHECK, &s);
		d = first_damage();
		ok(s.n == 2 && d >= 0 && dg.offset[d] == 2288 &&
			   strcmp(dg.code[d], "mbx-uid") == 0 &&
			   strcmp(dg.text[d], "Invalid UID 00000001 in message 2") ==
				   0 &&
			   s.uid[1] == 3,
		   "UID not above the previous: Invalid UID, reassigned");
		memcpy(q, "-00000009", 9);
		write_file("uid.mbx", p, len);
		read_box(ctx, "uid.mbx", MB_CHECK, &s);
		d = first_damage();
		ok(d >= 0 && strcmp(dg.text[d], "Invalid UID 00000009 in "
						"message 2") == 0,
		   "UID above the header's last UID: Invalid UID");
	}
	free(p);
}

/* mb_create = mailutil create, but for the validity. */
static void
test_create(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_err e;
	size_t len, glen;
	char *want = sample("mbx-new-empty.mbx", &len), *got;
	int rc;

	rc = mb_create(ctx, "c1.mbx", "mbx", 0, &b, &e);
	if (rc == MB_OK)
		rc = mb_close(&b, &e);
	ok(rc == MB_OK, "create");
	got = read_file("c1.mbx", &glen);
	memcpy(got + 7, want + 7, 8); /* the validity is the creation time */
	is_mem(got, glen, want, len, "create: the bytes of mailutil create");
	free(got);
	rc = mb_create(ctx, "c2.mbx", "mbx", MB_CREATE_ATOMIC, &b, &e);
	if (rc == MB_OK)
		rc = mb_close(&b, &e);
	got = read_file("c2.mbx", &glen);
	memcpy(got + 7, want + 7, 8);
	is_mem(got, glen, want, len, "atomic create: the same bytes");
	free(got);
	free(want);
}

static int
append_str(struct mb_box *b, const char *text, unsigned flags, uint32_t uid,
	   const char *const *kw, size_t nkw, uint32_t *uid_out,
	   struct mb_err *e)
{
	struct mb_newmsg meta;
	struct mb_reader *r = mb_reader_mem(text, strlen(text));
	int rc;

	memset(&meta, 0, sizeof(meta));
	meta.flags = flags;
	meta.idate = 723275602; /* Wed Dec  2 05:53:22 1992 */
	meta.idate_tz = 0;
	meta.uid = uid;
	meta.keywords = kw;
	meta.nkeywords = nkw;
	/* alternate rewindable and spooled readers */
	if (uid % 2)
		r->rewind = NULL;
	rc = mb_append(b, &meta, r, uid_out, e);
	mb_reader_close(&r);
	return rc;
}

static void
test_append_created(struct mb_ctx *ctx)
{
	static const char *const kw1[] = {"Junk", "$Label1"};
	static const char *const kw2[] = {"$Label1", "Work"};
	struct mb_box *b;
	struct mb_err e;
	struct seen s;
	uint32_t u1 = 0, u2 = 0, u3 = 0;
	size_t len;
	char *p, *q;
	int rc;

	rc = mb_create(ctx, "a.mbx", "mbx", MB_CREATE_ATOMIC, &b, &e);
	if (rc == MB_OK)
		rc = mb_set_uidstate(b, 1234567890, 11, &e);
	if (rc == MB_OK)
		rc = append_str(b, "Subject: one\n\nbody\nline\n",
				MB_SEEN | MB_OLD, 3, kw1, 2, &u1, &e);
	if (rc == MB_OK)
		rc = append_str(b, "Subject: two\r\n\r\ncrlf\r\n", MB_DELETED, 6,
				kw2, 2, &u2, &e);
	if (rc == MB_OK)
		rc = append_str(b, "Subject: three\n\nmixed\r\nbare\n", 0, 5,
				NULL, 0, &u3, &e);
	if (rc == MB_OK)
		rc = mb_close(&b, &e);
	ok(rc == MB_OK, "create + 3 appends: %s", rc ? e.msg : "ok");
	ok(u1 == 3 && u2 == 6 && u3 == 11,
	   "kept UIDs 3 6; 5 is not above 6: last+1 = 11");
	p = read_file("a.mbx", &len);
	ok(memcmp(p + 15, "0000000b\r\nJunk\r\n$Label1\r\nWork\r\n\r\n", 33) ==
		   0,
	   "header: last UID 11, keywords in slots");
	q = p + 2048;
	ok(len > 2100 &&
		   memcmp(q, " 2-Dec-1992 05:53:22 +0000,28;000000030011-00000003"
			     "\r\nSubject: one\r\n\r\nbody\r\nline\r\n",
			  53 + 28) == 0,
	   "message 1: UW's header line, LF made CRLF, flags with old");
	q += 53 + 28;
	ok(memcmp(q, " 2-Dec-1992 05:53:22 +0000,22;000000060002-00000006"
		     "\r\nSubject: two\r\n\r\ncrlf\r\n",
		  53 + 22) == 0,
	   "message 2: CRLF kept, keywords mapped by name");
	q += 53 + 22;
	ok(memcmp(q, " 2-Dec-1992 05:53:22 +0000,31;000000000000-0000000b"
		     "\r\nSubject: three\r\n\r\nmixed\r\nbare\r\n",
		  53 + 31) == 0 &&
		   q + 53 + 31 == p + len,
	   "message 3: renumbered, mixed line ends");
	ok(memcmp(p + 2038, "\0\0", 2) != 0 && p[2046] == '\r',
	   "keywords declared: the PID field is written");
	free(p);
	read_box(ctx, "a.mbx", MB_CHECK, &s);
	ok(s.n == 3 && s.uid[0] == 3 && s.uid[1] == 6 && s.uid[2] == 11 &&
		   s.info.uidnext == 12 && first_damage() == -1,
	   "the created mailbox reads back");
	ok(s.info.uidvalidity != 1234567890,
	   "a source UID was replaced: new UIDVALIDITY");
	ok(s.flags[0] == (MB_SEEN | MB_OLD) && s.kw[0] == 3 && s.kw[1] == 6,
	   "flags and keywords read back");
}

static void
test_append_existing(struct mb_ctx *ctx)
{
	static const char *const kw[] = {"NewKw"};
	struct mb_box *b;
	struct mb_err e;
	struct seen s;
	uint32_t uid = 0;
	size_t len;
	char *p;
	int rc;

	/* numbered mailbox: the append gets last+1 and the header says so */
	put_sample("mbx-after-rw-open-uids-assigned.mbx", "ex.mbx");
	rc = mb_open(ctx, "ex.mbx", NULL, MB_RDWR, &b, &e);
	if (rc == MB_OK)
		rc = append_str(b, "Subject: new\n\nx\n", 0, 0, NULL, 0, &uid,
				&e);
	ok(rc == MB_OK && access(".ex.mbx.mbtail", F_OK) == 0,
	   "append in place: tail journal while staged");
	if (rc == MB_OK)
		rc = mb_close(&b, &e);
	ok(rc == MB_OK && uid == 3, "append to a numbered mbx: UID 3");
	ok(access(".ex.mbx.mbtail", F_OK) != 0, "journal gone after commit");
	p = read_file("ex.mbx", &len);
	ok(memcmp(p + 7, "6b07381b00000003\r\n", 18) == 0 &&
		   memcmp(p + 2038, "00000000\r\n", 10) == 0,
	   "header: last UID patched, PID field untouched");
	ok(len == 2370 + 53 + 19 &&
		   memcmp(p + 2370, " 2-Dec-1992 05:53:22 +0000,19;"
				    "000000000000-00000003\r\n",
			  53) == 0,
	   "appended record at the end");
	free(p);

	/* not yet numbered: the appended message waits too (UID 0) */
	put_sample("mbx-appended-no-uids.mbx", "ex2.mbx");
	rc = mb_open(ctx, "ex2.mbx", NULL, MB_RDWR, &b, &e);
	if (rc == MB_OK)
		rc = append_str(b, "Subject: new\n\nx\n", MB_SEEN, 0, kw, 1,
				&uid, &e);
	if (rc == MB_OK)
		rc = mb_close(&b, &e);
	p = read_file("ex2.mbx", &len);
	ok(rc == MB_OK && uid == 3 &&
		   memcmp(p + 7, "6b07381b00000000\r\nNewKw\r\n\r\n", 27) == 0 &&
		   memcmp(p + 2370 + 29, ";000000010001-00000000\r\n", 24) == 0,
	   "append to an unnumbered mbx: UID 0 on disk, 3 reported, "
	   "keyword declared");
	free(p);
	read_box(ctx, "ex2.mbx", MB_CHECK, &s);
	ok(s.n == 3 && s.uid[2] == 3 && s.kw[2] == 1 && first_damage() == -1,
	   "reads back");

	/* an append that is never committed leaves nothing */
	put_sample("mbx-after-rw-open-uids-assigned.mbx", "ex3.mbx");
	rc = mb_open(ctx, "ex3.mbx", NULL, MB_RDWR, &b, &e);
	if (rc == MB_OK)
		rc = append_str(b, "Subject: new\n\nx\n", 0, 0, NULL, 0, &uid,
				&e);
	mb_abort(&b);
	ok(rc == MB_OK && file_size("ex3.mbx") == 2370 &&
		   access(".ex3.mbx.mbtail", F_OK) != 0,
	   "aborted append: rolled back");
}

static void
test_flags(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	char pid[16];
	size_t len;
	char *p;
	int rc;

	put_sample("mbx-with-keywords.mbx", "fl.mbx");
	rc = mb_open(ctx, "fl.mbx", NULL, MB_RDWR, &b, &e);
	while (rc == MB_OK && (rc = mb_next(b, &m, &e)) == MB_OK)
		;
	rc = rc == MB_END ? MB_OK : rc;
	if (rc == MB_OK)
		rc = mb_set_flags(b, 1, MB_FLAGGED | MB_DELETED | MB_ANSWERED,
				  MB_SEEN, 1, 4, &e);
	if (rc == MB_OK)
		rc = mb_set_flags(b, 2, MB_DRAFT, 0, 0, 0, &e);
	if (rc == MB_OK)
		rc = mb_close(&b, &e);
	ok(rc == MB_OK, "set flags");
	p = read_file("fl.mbx", &len);
	snprintf(pid, sizeof(pid), "%08lx\r\n", (unsigned long)getpid());
	ok(len == 2257 &&
		   memcmp(p + 2048, " 2-Dec-1992 05:53:22 +0000,79;"
				    "00000003000e-00000000\r\n",
			  53) == 0 &&
		   memcmp(p + 2180, "10-Dec-1992 11:00:07 -0800,24;"
				    "000000010021-00000000\r\n",
			  53) == 0,
	   "flags rewritten in place, UIDs untouched");
	is_mem(p + 2038, 10, pid, 10, "PID field: ours");
	free(p);
}

static void
test_renumber(struct mb_ctx *ctx)
{
	static const uint32_t uids[] = {7, 9};
	struct mb_box *b;
	struct mb_msg *m;
	struct mb_err e;
	struct seen s;
	int rc;

	put_sample("mbx-with-keywords.mbx", "rn.mbx");
	rc = mb_open(ctx, "rn.mbx", NULL, MB_RDWR, &b, &e);
	while (rc == MB_OK && (rc = mb_next(b, &m, &e)) == MB_OK)
		;
	rc = rc == MB_END ? MB_OK : rc;
	if (rc == MB_OK)
		rc = mb_set_uids(b, 4242, uids, 2, 20, &e);
	if (rc == MB_OK)
		rc = mb_close(&b, &e);
	read_box(ctx, "rn.mbx", MB_CHECK, &s);
	ok(rc == MB_OK && s.uid[0] == 7 && s.uid[1] == 9 &&
		   s.info.uidvalidity == 4242 && s.info.uidnext == 20 &&
		   first_damage() == -1,
	   "renumber: UIDs, validity and last UID written");
}

/* Delete message 1 of a copy of the keywords sample and expunge. */
static int
delete_and_expunge(struct mb_ctx *ctx, const char *path, uint32_t *n,
		   struct mb_err *e)
{
	struct mb_box *b;
	struct mb_msg *m;
	int rc;

	rc = mb_open(ctx, path, NULL, MB_RDWR, &b, e);
	while (rc == MB_OK && (rc = mb_next(b, &m, e)) == MB_OK)
		;
	rc = rc == MB_END ? MB_OK : rc;
	if (rc == MB_OK)
		rc = mb_set_flags(b, 1, MB_DELETED, 0, 0, 0, e);
	if (rc == MB_OK)
		rc = mb_expunge(b, n, e);
	if (rc == MB_OK)
		rc = mb_close(&b, e);
	else
		mb_abort(&b);
	return rc;
}

static void
test_expunge(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_err e;
	struct seen s;
	uint32_t n = 0;
	int pfd[2], rc, i;
	pid_t child;
	size_t len;
	char c, *p;

	/* exclusive: the bytes go (message 1: 132 bytes, message 2: 77) */
	put_sample("mbx-with-keywords.mbx", "x1.mbx");
	dg.n = 0;
	rc = delete_and_expunge(ctx, "x1.mbx", &n, &e);
	p = read_file("x1.mbx", &len);
	ok(rc == MB_OK && n == 1 && len == 2048 + 77 &&
		   memcmp(p + 2048, "10-Dec-1992 11:00:07 -0800,24;", 30) == 0,
	   "exclusive expunge: message 2 slid down, file truncated");
	free(p);
	read_box(ctx, "x1.mbx", MB_CHECK, &s);
	ok(s.n == 1 && s.kw[0] == 1 && first_damage() == -1,
	   "after expunge: 1 message, its keyword");

	/* shared: another process holds LOCK_SH, the bit is set in place */
	put_sample("mbx-with-keywords.mbx", "x2.mbx");
	if (pipe(pfd) < 0)
		bail("pipe");
	child = fork();
	if (child == 0) {
		int fd = open("x2.mbx", O_RDONLY);

		if (fd < 0 || flock(fd, LOCK_SH) < 0)
			_exit(1);
		(void)!write(pfd[1], "x", 1);
		pause();
		_exit(0);
	}
	if (read(pfd[0], &c, 1) != 1)
		bail("child");
	rc = delete_and_expunge(ctx, "x2.mbx", &n, &e);
	p = read_file("x2.mbx", &len);
	ok(rc == MB_OK && n == 1 && len == 2257 &&
		   memcmp(p + 2048, " 2-Dec-1992 05:53:22 +0000,79;"
				    "000000068007-00000000\r\n",
			  53) == 0,
	   "shared expunge: 0x8000 set in place, size unchanged");
	free(p);
	read_box(ctx, "x2.mbx", MB_CHECK, &s);
	ok(s.n == 1 && s.kw[0] == 1 && first_damage() == -1,
	   "the hidden message is skipped by readers");
	/* our own shared lock came back after the failed upgrade */
	rc = mb_open(ctx, "x2.mbx", NULL, MB_RDWR, &b, &e);
	if (rc == MB_OK) {
		int fd = open("x2.mbx", O_RDONLY);

		ok(flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK,
		   "an open box holds LOCK_SH on the file");
		close(fd);
		mb_close(&b, &e);
	} else {
		ok(0, "reopen");
	}
	kill(child, SIGTERM);
	waitpid(child, &i, 0);
	close(pfd[0]);
	close(pfd[1]);

	/* without the other process: the hidden space is reclaimed */
	dg.n = 0;
	rc = mb_open(ctx, "x2.mbx", NULL, MB_RDWR, &b, &e);
	if (rc == MB_OK)
		rc = mb_expunge(b, &n, &e);
	if (rc == MB_OK)
		rc = mb_close(&b, &e);
	ok(rc == MB_OK && n == 0 && file_size("x2.mbx") == 2048 + 77,
	   "a later exclusive expunge reclaims the hidden bytes");
	for (i = 0, rc = 0; i < dg.n; i++)
		if (strcmp(dg.text[i], "Reclaimed 132 bytes of expunged space") ==
		    0)
			rc = 1;
	ok(rc, "UW's 'Reclaimed N bytes' message");

	put_sample("mbx-shared-expunge-hidden.mbx", "x3.mbx");
	rc = mb_open(ctx, "x3.mbx", NULL, MB_RDWR, &b, &e);
	if (rc == MB_OK)
		rc = mb_expunge(b, &n, &e);
	if (rc == MB_OK)
		rc = mb_close(&b, &e);
	ok(rc == MB_OK && file_size("x3.mbx") == 2048,
	   "UW's hidden sample: all 322 bytes reclaimed");
}

static void
test_too_many_keywords(struct mb_ctx *ctx)
{
	char names[40][16];
	const char *kw[40];
	struct mb_box *b;
	struct mb_err e;
	struct seen s;
	int i, rc, warned = 0;

	for (i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "kw%02d", i);
		kw[i] = names[i];
	}
	dg.n = 0;
	rc = mb_create(ctx, "k.mbx", "mbx", MB_CREATE_ATOMIC, &b, &e);
	if (rc == MB_OK)
		rc = append_str(b, "Subject: k\n\nx\n", 0, 0, kw, 40, NULL, &e);
	if (rc == MB_OK)
		rc = mb_close(&b, &e);
	for (i = 0; i < dg.n; i++)
		if (strcmp(dg.code[i], "keyword-dropped") == 0)
			warned++;
	ok(rc == MB_OK && warned == 10, "keywords past 30 dropped, with a "
					 "warning each");
	read_box(ctx, "k.mbx", MB_CHECK, &s);
	ok(s.n == 1 && s.info.nkeywords == 30 && s.kw[0] == 0x3fffffff,
	   "30 keywords in the header, all set");
}

static void
test_remove_rename(struct mb_ctx *ctx)
{
	struct mb_box *b;
	struct mb_err e;
	int rc;

	put_sample("mbx-new-empty.mbx", "r1.mbx");
	rc = mb_open(ctx, "r1.mbx", NULL, MB_RDONLY, &b, &e);
	ok(rc == MB_OK && mb_delete(ctx, "r1.mbx", &e) == MB_RETRY &&
		   e.code == MB_ELOCKED,
	   "delete refused while a session has it open");
	mb_close(&b, &e);
	ok(mb_rename(ctx, "r1.mbx", "r2.mbx", &e) == MB_OK &&
		   access("r2.mbx", F_OK) == 0 && access("r1.mbx", F_OK) != 0,
	   "rename");
	ok(mb_delete(ctx, "r2.mbx", &e) == MB_OK && access("r2.mbx", F_OK) != 0,
	   "delete");
}

int
main(void)
{
	struct mb_ctx *ctx;
	const char *build = getenv("MAILBAG_BUILD");
	char tmp[4096];

	if (build != NULL) {
		snprintf(tmp, sizeof(tmp), "%s", build);
		snprintf(data_dir, sizeof(data_dir), "%s/tests/data/mbx",
			 dirname(tmp));
	} else if (realpath("tests/data/mbx", data_dir) == NULL) {
		bail("run from the source directory or set MAILBAG_BUILD");
	}
	t_tmpdir();
	ctx = mb_ctx_new();
	mb_ctx_set_diag(ctx, on_diag, NULL);

	test_samples(ctx);
	test_text(ctx);
	test_day_forms(ctx);
	test_damage(ctx);
	test_create(ctx);
	test_append_created(ctx);
	test_append_existing(ctx);
	test_flags(ctx);
	test_renumber(ctx);
	test_expunge(ctx);
	test_too_many_keywords(ctx);
	test_remove_rename(ctx);

	mb_ctx_free(&ctx);
	return done_testing();
}

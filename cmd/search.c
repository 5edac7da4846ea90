/*
 * search.c - `mailbag search MAILBOX CRITERIA...`: the messages of a
 * mailbox that match IMAP SEARCH criteria (libmbox/search.c), printed as
 * message numbers, UIDs, JSON Lines or an mbox stream.  Read-only.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "mb-msg.h"
#include "util.h"

const char cmd_search_usage[] =
	"usage: mailbag search [--uid] [--mbox] [--json] [--format=NAME]\n"
	"                      [--match=HEADER:REGEX]... [--body-match=REGEX]..."
	"\n"
	"                      MAILBOX [CRITERIA...]\n"
	"\n"
	"Print the messages of MAILBOX that match CRITERIA, IMAP SEARCH keys\n"
	"(RFC 3501): ALL, SEEN, UNSEEN, NEW, OLD, RECENT, ANSWERED, DELETED,\n"
	"DRAFT, FLAGGED and their UN- forms, KEYWORD F, UNKEYWORD F, BEFORE D,\n"
	"ON D, SINCE D, SENTBEFORE D, SENTON D, SENTSINCE D (D: 1-Feb-2024),\n"
	"LARGER N, SMALLER N, FROM S, TO S, CC S, BCC S, SUBJECT S, HEADER F S,\n"
	"BODY S, TEXT S, UID SET, SET (1:4,7,9:*), NOT K, OR K1 K2, (K...),\n"
	"CHARSET NAME first.  Keys in a row must all match.  Text matching is\n"
	"case-insensitive over decoded text.  The words are joined with blanks;\n"
	"a word with blanks in it is one string where a string is expected.\n"
	"No CRITERIA means ALL.  Output: message numbers, one per line.\n"
	"\n"
	"       --uid            print UIDs instead of message numbers\n"
	"       --mbox           write the matching messages as an mbox stream\n"
	"       --json           one JSON object per matching message\n"
	"       --match=HEADER:REGEX\n"
	"                        also require a HEADER field whose decoded value\n"
	"                        matches the PCRE2 REGEX (repeatable)\n"
	"       --body-match=REGEX\n"
	"                        also require a line of decoded body text to\n"
	"                        match REGEX (repeatable)\n"
	"       --format=NAME    read as format NAME instead of probing\n"
	"   -h, --help           this text\n"
	"       --version        print the version\n"
	"\n"
	"Exit status: 0 when a message matched, 1 when none did, else see\n"
	"mailbag-exit(7).\n";

/* One message as mbox: its "From " line, the text with mboxo quoting. */
static int
write_mbox(struct mb_box *box, const struct mb_msg *m, struct mb_err *e)
{
	struct mb_reader *r;
	char buf[65536], date[64];
	bool bol = true, crlf = mb_box_crlf_text(box), last_nl = true;
	size_t i, st;
	ssize_t n;
	int rc;

	if (m->envelope != NULL && strncmp(m->envelope, "From ", 5) == 0) {
		printf("%s\n", m->envelope);
	} else {
		mb_date_ctime(m->idate, m->idate_tz, date, sizeof(date));
		printf("From %s %s\n", m->sender ? m->sender : "MAILER-DAEMON",
		       date);
	}
	if ((rc = mb_msg_open(box, m, &r, e)) < 0)
		return rc;
	while ((n = mb_reader_read(r, buf, sizeof(buf), e)) > 0) {
		st = 0;
		for (i = 0; i < (size_t)n; i++) {
			if (bol && (size_t)n - i >= 5 &&
			    memcmp(buf + i, "From ", 5) == 0) {
				fwrite(buf + st, 1, i - st, stdout);
				fputc('>', stdout);
				st = i;
			}
			if (crlf && buf[i] == '\r' && i + 1 < (size_t)n &&
			    buf[i + 1] == '\n') {
				fwrite(buf + st, 1, i - st, stdout);
				st = i + 1;
			}
			bol = buf[i] == '\n';
		}
		fwrite(buf + st, 1, (size_t)n - st, stdout);
		last_nl = buf[n - 1] == '\n';
	}
	mb_reader_close(&r);
	if (n < 0)
		return MB_FAILED;
	if (!last_nl)
		fputc('\n', stdout);
	fputc('\n', stdout);
	return MB_OK;
}

int
cmd_search(int argc, char **argv, struct cmd_env *env)
{
	enum {
		OPT_VERSION = 256,
		OPT_UID,
		OPT_MBOX,
		OPT_JSON,
		OPT_FORMAT,
		OPT_MATCH,
		OPT_BODY
	};
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "uid", no_argument, NULL, OPT_UID },
		{ "mbox", no_argument, NULL, OPT_MBOX },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "match", required_argument, NULL, OPT_MATCH },
		{ "body-match", required_argument, NULL, OPT_BODY },
		{ NULL, 0, NULL, 0 },
	};
	const char *format = NULL, *fmt2 = NULL;
	bool uid = false, mbox = false, json = false;
	char **res = NULL;
	bool *res_hdr = NULL;
	int nres = 0, c, rc, status = 1, i;
	struct mb_search *s = NULL;
	struct mb_box *box = NULL;
	struct mb_msg *m;
	struct mb_info info;
	struct mb_err e;
	char path[4096];
	uint32_t seq, maxuid = 0;
	bool match;
	struct json j;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cmd_help(env);
		case OPT_VERSION:
			return print_version();
		case OPT_UID:
			uid = true;
			break;
		case OPT_MBOX:
			mbox = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_FORMAT:
			format = optarg;
			break;
		case OPT_MATCH:
		case OPT_BODY:
			res = xreallocarray(res, (size_t)nres + 1,
					    sizeof(*res));
			res_hdr = xreallocarray(res_hdr, (size_t)nres + 1,
						sizeof(*res_hdr));
			res[nres] = optarg;
			res_hdr[nres++] = c == OPT_MATCH;
			break;
		default:
			return cmd_usage_error(env, NULL);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(env, "missing MAILBOX");
	if (mbox && json)
		return cmd_usage_error(env, "--mbox and --json exclude each "
					    "other");
	if ((rc = cmd_load_config(env)) != 0)
		return rc;
	if ((optind + 1 < argc ?
		     mb_search_parse_argv(argc - optind - 1, argv + optind + 1,
					  &s, &e) :
		     mb_search_parse("ALL", &s, &e)) < 0) {
		warnmsg(env->prog, "bad criteria: %s", e.msg);
		free(res);
		free(res_hdr);
		return 64;
	}
	for (i = 0; i < nres; i++)
		if (mb_search_add_regex(s, res_hdr[i], res[i], &e) < 0) {
			warnmsg(env->prog, "%s", e.msg);
			mb_search_free(&s);
			free(res);
			free(res_hdr);
			return 64;
		}
	free(res);
	free(res_hdr);
	if (mb_resolve_name(env->ctx, argv[optind], path, sizeof(path), &fmt2,
			    &e) < 0) {
		mb_search_free(&s);
		return report_err(env->prog, argv[optind], &e);
	}
	if (format == NULL)
		format = fmt2;
	rc = mb_open(env->ctx, path, format, MB_RDONLY | MB_KEEP_TIMES, &box,
		     &e);
	if (rc < 0) {
		mb_search_free(&s);
		return report_err(env->prog, path, &e);
	}
	/* a full scan first: "*" is the last message */
	while ((rc = mb_next(box, &m, &e)) == MB_OK || rc == MB_FAILED)
		if (rc == MB_OK && m->uid > maxuid)
			maxuid = m->uid;
	if (rc == MB_FATAL || mb_box_info(box, &info, &e) < 0) {
		rc = report_err(env->prog, path, &e);
		goto out;
	}
	for (seq = 1; seq <= info.messages; seq++) {
		if (mb_msg_at(box, seq, &m, &e) < 0 ||
		    mb_search_match(s, box, m, info.messages, maxuid, &match,
				    &e) < 0) {
			rc = report_err(env->prog, path, &e);
			goto out;
		}
		if (!match)
			continue;
		status = 0;
		if (mbox) {
			if (write_mbox(box, m, &e) < 0) {
				rc = report_err(env->prog, path, &e);
				goto out;
			}
		} else if (json) {
			json_begin(&j, stdout, "match");
			json_str(&j, "mailbox", path);
			json_uint(&j, "seq", m->seq);
			json_uint(&j, "uid", m->uid);
			json_int(&j, "size", m->text_size);
			json_end(&j);
		} else {
			printf("%lu\n", (unsigned long)(uid ? m->uid : m->seq));
		}
	}
	rc = status;
out:
	mb_close(&box, &e);
	mb_search_free(&s);
	return rc;
}

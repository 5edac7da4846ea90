/*
 * formats.c - `mailbag formats`: the mailbox formats of this build, in
 * the order the probe tries them.
 */
#include <getopt.h>

#include "util.h"

const char cmd_formats_usage[] =
	"usage: mailbag formats [--json]\n"
	"\n"
	"List the mailbox formats (drivers) this build knows, one per line as\n"
	"NAME<tab>SUMMARY, in the order mailbag probes them.  The names are\n"
	"those --format, --to and #driver.NAME/ accept.\n"
	"\n"
	"       --json           one JSON object per format\n"
	"   -h, --help           this text\n"
	"       --version        print the version\n";

int
cmd_formats(int argc, char **argv, struct cmd_env *env)
{
	enum { OPT_VERSION = 256, OPT_JSON };
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *name, *summary;
	struct json j;
	bool json = false;
	unsigned n;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cmd_help(env);
		case OPT_VERSION:
			return print_version();
		case OPT_JSON:
			json = true;
			break;
		default:
			return cmd_usage_error(env, NULL);
		}
	}
	if (optind < argc)
		return cmd_usage_error(env, "unexpected argument '%s'",
				       argv[optind]);
	for (n = 0; (name = mb_format_name(n)) != NULL; n++) {
		summary = mb_format_summary(n);
		if (json) {
			json_begin(&j, stdout, "format");
			json_str(&j, "name", name);
			json_str(&j, "summary", summary);
			json_uint(&j, "probe_order", n + 1);
			json_end(&j);
		} else if (summary != NULL && summary[0]) {
			printf("%s\t%s\n", name, summary);
		} else {
			puts(name);
		}
	}
	return 0;
}

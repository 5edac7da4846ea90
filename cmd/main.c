/*
 * main.c - the mailbag multi-call dispatcher.
 *
 *	mailbag [--help|--version|--list-commands|--list-aliases]
 *	mailbag COMMAND [options] ARGS	(also: mailbag-COMMAND, aliases)
 *	mailbag help [COMMAND]
 *
 * The dispatcher picks the command from argv[0] or argv[1], makes the
 * libmbox context for CMD_CTX commands, runs the command with argv[0]
 * set to "mailbag NAME" (so getopt's own complaints carry that prefix)
 * and checks that stdout took every byte.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "commands.h"
#include "util.h"

static const char main_usage[] = "usage: mailbag COMMAND [options] ARGS...\n";

/*
 * Warnings the library reports while a command works (a keyword a format
 * cannot store, a file skipped ...) go to stderr unless the command
 * installs its own handler, as check does.
 */
static void
warn_diag(void *arg, const struct mb_diag *d)
{
	const char *prog = arg;

	/* only what happens to what is written (a keyword dropped ...):
	 * what a scan notices about a file is check's to report */
	if (d->level != MB_DIAG_WARN || d->offset >= 0)
		return;
	fprintf(stderr, "%s: warning: ", prog);
	if (d->path != NULL)
		fprintf(stderr, "%s: ", d->path);
	fprintf(stderr, "%s", d->text ? d->text : d->code);
	if (d->msgno > 0)
		fprintf(stderr, " (message %lu)", (unsigned long)d->msgno);
	fputc('\n', stderr);
}

static void
print_main_help(FILE *fp)
{
	size_t i;

	fputs(main_usage, fp);
	fputs("\ncommands:\n", fp);
	for (i = 0; i < ncmds; i++)
		fprintf(fp, "   %-12s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\noptions:\n"
	      "   -h, --help         this list\n"
	      "   --version          versions of mailbag and its libraries\n"
	      "   --list-commands    command names, one per line\n"
	      "   --list-aliases     alias link names, one per line\n"
	      "\nevery command also takes --set NAME=VALUE, a mailbag.conf(5)\n"
	      "setting that overrides the configuration files\n"
	      "\n'mailbag help COMMAND' or 'mailbag COMMAND --help' describes"
	      " a command.\n",
	      fp);
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int
run(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_env env;
	char prog[128];
	int rc;

	snprintf(prog, sizeof(prog), "mailbag %s", cmd->name);
	env.prog = prog;
	env.cmd = cmd;
	env.ctx = NULL;
	env.settings = NULL;
	env.nsettings = 0;
	/*
	 * --set NAME=VALUE (or --set=NAME=VALUE) gives any mailbag.conf(5)
	 * setting on the command line, for every command: taken out of argv
	 * here, before the command's own getopt sees it.
	 */
	{
		int i, j = 1;

		env.settings = calloc((size_t)argc + 1, sizeof(char *));
		if (env.settings == NULL)
			die(EX_OSERR, prog, "out of memory");
		for (i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--") == 0) {
				while (i < argc)
					argv[j++] = argv[i++];
				break;
			}
			if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
				env.settings[env.nsettings++] = argv[++i];
				continue;
			}
			if (strncmp(argv[i], "--set=", 6) == 0) {
				env.settings[env.nsettings++] = argv[i] + 6;
				continue;
			}
			argv[j++] = argv[i];
		}
		argv[j] = NULL;
		argc = j;
	}
	if (cmd->flags & CMD_CTX) {
		env.ctx = mb_ctx_new();
		if (env.ctx == NULL)
			die(EX_OSERR, prog, "out of memory");
		mb_ctx_set_diag(env.ctx, warn_diag, (void *)prog);
	}
	argv[0] = prog;
	optind = 0; /* a fresh getopt_long scan for the command */
	opterr = 1;
	rc = cmd->fn(argc, argv, &env);
	if (env.ctx != NULL)
		mb_ctx_free(&env.ctx);
	free(env.settings);
	if (close_stdout(prog) != 0 && rc == 0)
		rc = EX_IOERR;
	return rc;
}

static int
help_command(const char *name)
{
	const struct cmd *cmd = cmd_find(name);

	if (cmd == NULL)
		cmd = cmd_find_alias(name);
	if (cmd == NULL) {
		fprintf(stderr,
			"mailbag: '%s' is not a mailbag command; "
			"see 'mailbag --help'\n",
			name);
		return EX_USAGE;
	}
	if (cmd->usage != NULL)
		fputs(cmd->usage, stdout);
	return 0;
}

static int
finish(int rc)
{
	if (close_stdout("mailbag") != 0 && rc == 0)
		rc = EX_IOERR;
	return rc;
}

int
main(int argc, char **argv)
{
	enum { OPT_VERSION = 256, OPT_LIST_COMMANDS, OPT_LIST_ALIASES };
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "list-commands", no_argument, NULL, OPT_LIST_COMMANDS },
		{ "list-aliases", no_argument, NULL, OPT_LIST_ALIASES },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *cmd;
	const char *self;
	size_t i;
	int c;

	/* `mailbag ... | head` ends quietly even if our parent ignored it. */
	signal(SIGPIPE, SIG_DFL);

	self = argc > 0 ? base_name(argv[0]) : "mailbag";
	if (strncmp(self, "mailbag-", 8) == 0) {
		cmd = cmd_find(self + 8);
		if (cmd == NULL) {
			fprintf(stderr,
				"mailbag: '%s' is not a mailbag command; "
				"see 'mailbag --help'\n",
				self + 8);
			return EX_USAGE;
		}
		return run(cmd, argc, argv);
	}
	cmd = cmd_find_alias(self);
	if (cmd != NULL)
		return run(cmd, argc, argv);

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			print_main_help(stdout);
			return finish(0);
		case OPT_VERSION:
			print_version();
			return finish(0);
		case OPT_LIST_COMMANDS:
			for (i = 0; i < ncmds; i++)
				puts(cmds[i].name);
			return finish(0);
		case OPT_LIST_ALIASES:
			for (i = 0; i < ncmd_aliases; i++)
				puts(cmd_aliases[i].alias);
			return finish(0);
		default:
			if (optopt != 0 && optopt < 256)
				fprintf(stderr,
					"mailbag: unknown option '-%c'\n",
					optopt);
			else
				fprintf(stderr,
					"mailbag: unknown option '%s'\n",
					argv[optind - 1]);
			fputs(main_usage, stderr);
			fputs("try 'mailbag --help'\n", stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		print_main_help(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 >= argc) {
			print_main_help(stdout);
			return finish(0);
		}
		if (optind + 2 < argc) {
			fputs("usage: mailbag help [COMMAND]\n", stderr);
			return EX_USAGE;
		}
		return finish(help_command(argv[optind + 1]));
	}
	cmd = cmd_find(argv[optind]);
	if (cmd == NULL) {
		fprintf(stderr,
			"mailbag: '%s' is not a mailbag command; "
			"see 'mailbag --help'\n",
			argv[optind]);
		return EX_USAGE;
	}
	return run(cmd, argc - optind, argv + optind);
}

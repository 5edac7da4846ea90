/*
 * commands.h - the command table of the mailbag multi-call binary.
 *
 * Adding a command (see also STYLE.md, "Adding a command"):
 *  1. write cmd/foo.c with `int cmd_foo(int argc, char **argv,
 *     struct cmd_env *env)` and `const char cmd_foo_usage[]` (first line
 *     the synopsis, "usage: mailbag foo ..."; then the options);
 *  2. declare both below and add one row to cmds[] in cmd/commands.c,
 *     keeping the table sorted (tests/unit/commands.c checks it).
 * The Makefile picks up every cmd/ source by itself; `make install` links
 * mailbag-foo from `mailbag --list-commands`.
 */
#ifndef CMD_COMMANDS_H
#define CMD_COMMANDS_H

#include <stddef.h>

struct mb_ctx;
struct cmd;

/* What the dispatcher hands to a command. */
struct cmd_env {
	const char *prog;      /* "mailbag check": prefix of messages */
	const struct cmd *cmd; /* the table row being run */
	struct mb_ctx *ctx;    /* made for CMD_CTX commands, else NULL */
	char **settings;       /* NAME=VALUE from --set, applied after the
				  configuration files */
	int nsettings;
};

typedef int (*cmd_fn)(int argc, char **argv, struct cmd_env *env);

/* Preconditions and properties, enforced or used by the dispatcher. */
#define CMD_CTX	   0x0001 /* needs a libmbox context (env->ctx) */
#define CMD_WRITES 0x0002 /* may modify mailboxes: honours -n/--dry-run */

struct cmd {
	const char *name;    /* "check" */
	cmd_fn fn;	     /* cmd_check; NULL only in CMD_TABLE_ONLY builds */
	unsigned flags;	     /* CMD_* */
	const char *summary; /* one line for `mailbag --help` */
	const char *usage;   /* cmd_check_usage; NULL as fn */
};

/* Other link names of the binary: `mbox-check` runs `check`. */
struct cmd_alias {
	const char *alias;
	const char *command;
};

extern const struct cmd cmds[];
extern const size_t ncmds;
extern const struct cmd_alias cmd_aliases[];
extern const size_t ncmd_aliases;

/* The row for name, or NULL (binary search: the table is sorted). */
const struct cmd *cmd_find(const char *name);
/* The command an alias link name stands for, or NULL. */
const struct cmd *cmd_find_alias(const char *alias);

/* The commands. */
int cmd_check(int argc, char **argv, struct cmd_env *env);
int cmd_convert(int argc, char **argv, struct cmd_env *env);
int cmd_deliver(int argc, char **argv, struct cmd_env *env);
int cmd_dmail(int argc, char **argv, struct cmd_env *env);
int cmd_fetch(int argc, char **argv, struct cmd_env *env);
int cmd_formats(int argc, char **argv, struct cmd_env *env);
int cmd_repair(int argc, char **argv, struct cmd_env *env);
int cmd_search(int argc, char **argv, struct cmd_env *env);
int cmd_spool_move(int argc, char **argv, struct cmd_env *env);
int cmd_uid_rebuild(int argc, char **argv, struct cmd_env *env);
int cmd_append(int argc, char **argv, struct cmd_env *env);
int cmd_copy(int argc, char **argv, struct cmd_env *env);
int cmd_create(int argc, char **argv, struct cmd_env *env);
int cmd_delete(int argc, char **argv, struct cmd_env *env);
int cmd_list(int argc, char **argv, struct cmd_env *env);
int cmd_move(int argc, char **argv, struct cmd_env *env);
int cmd_prune(int argc, char **argv, struct cmd_env *env);
int cmd_rename(int argc, char **argv, struct cmd_env *env);

extern const char cmd_check_usage[];
extern const char cmd_convert_usage[];
extern const char cmd_deliver_usage[];
extern const char cmd_dmail_usage[];
extern const char cmd_fetch_usage[];
extern const char cmd_formats_usage[];
extern const char cmd_repair_usage[];
extern const char cmd_search_usage[];
extern const char cmd_spool_move_usage[];
extern const char cmd_uid_rebuild_usage[];
extern const char cmd_append_usage[];
extern const char cmd_copy_usage[];
extern const char cmd_create_usage[];
extern const char cmd_delete_usage[];
extern const char cmd_list_usage[];
extern const char cmd_move_usage[];
extern const char cmd_prune_usage[];
extern const char cmd_rename_usage[];

#endif /* CMD_COMMANDS_H */

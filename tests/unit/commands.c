/*
 * commands.c - the command table of cmd/commands.c: sorted (cmd_find
 * bisects it), names unique, every row complete, aliases pointing at
 * real commands.  Built with CMD_TABLE_ONLY so that no command has to be
 * linked in.
 */
#define CMD_TABLE_ONLY 1
#include "../../cmd/commands.c"

#include "tap.h"

static int
valid_name(const char *s)
{
	if (*s == '\0' || *s == '-')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '-'))
			return 0;
	return 1;
}

int
main(void)
{
	size_t i, j;
	int sorted = 1, unique = 1, named = 1, summed = 1, found = 1;
	int asorted = 1, atarget = 1, aclash = 0;

	ok(ncmds > 0, "the table has commands");
	for (i = 0; i < ncmds; i++) {
		if (cmds[i].name == NULL || !valid_name(cmds[i].name)) {
			named = 0;
			diag("bad name in row %zu", i);
			continue;
		}
		if (cmds[i].summary == NULL || cmds[i].summary[0] == '\0') {
			summed = 0;
			diag("'%s' has no summary", cmds[i].name);
		}
		if (i > 0 && cmds[i - 1].name != NULL) {
			int c = strcmp(cmds[i - 1].name, cmds[i].name);

			if (c > 0) {
				sorted = 0;
				diag("'%s' sorts before '%s'", cmds[i].name,
				     cmds[i - 1].name);
			}
		}
		for (j = 0; j < i; j++)
			if (cmds[j].name &&
			    strcmp(cmds[j].name, cmds[i].name) == 0) {
				unique = 0;
				diag("'%s' appears twice", cmds[i].name);
			}
		if (cmd_find(cmds[i].name) != &cmds[i]) {
			found = 0;
			diag("cmd_find('%s') misses its row", cmds[i].name);
		}
	}
	ok(named, "names are lowercase words joined by hyphens");
	ok(summed, "every command has a summary");
	ok(sorted, "the table is sorted by name");
	ok(unique, "command names are unique");
	ok(found, "cmd_find finds every row");
	ok(cmd_find("no-such-command") == NULL,
	   "cmd_find misses unknown names");
	ok(cmd_find("") == NULL, "cmd_find misses the empty name");
	ok(cmd_find("help") == NULL, "'help' is left to the dispatcher");

	for (i = 0; i < ncmd_aliases; i++) {
		if (i > 0 && strcmp(cmd_aliases[i - 1].alias,
				    cmd_aliases[i].alias) >= 0) {
			asorted = 0;
			diag("alias '%s' out of order", cmd_aliases[i].alias);
		}
		if (cmd_find(cmd_aliases[i].command) == NULL ||
		    cmd_find_alias(cmd_aliases[i].alias) !=
			    cmd_find(cmd_aliases[i].command)) {
			atarget = 0;
			diag("alias '%s' names no command",
			     cmd_aliases[i].alias);
		}
		/* an alias may repeat its own command's name (installed as
		 * `uid-rebuild`), never another command's */
		if ((cmd_find(cmd_aliases[i].alias) != NULL &&
		     strcmp(cmd_aliases[i].alias, cmd_aliases[i].command) != 0) ||
		    strncmp(cmd_aliases[i].alias, "mailbag", 7) == 0) {
			aclash = 1;
			diag("alias '%s' clashes with a command name",
			     cmd_aliases[i].alias);
		}
	}
	ok(asorted, "aliases are sorted and unique");
	ok(atarget, "every alias names a command");
	ok(!aclash, "no alias shadows a command or the mailbag- prefix");
	is_str(cmd_find_alias("mbox-check") ?
		       cmd_find_alias("mbox-check")->name :
		       NULL,
	       "check", "mbox-check runs check");
	is_str(cmd_find_alias("mailbox-convert") ?
		       cmd_find_alias("mailbox-convert")->name :
		       NULL,
	       "convert", "mailbox-convert runs convert");
	ok(cmd_find_alias("check") == NULL, "a command name is not an alias");
	is_str(cmd_find_alias("uid-rebuild") ?
		       cmd_find_alias("uid-rebuild")->name :
		       NULL,
	       "uid-rebuild", "uid-rebuild is installed under its own name");
	return done_testing();
}

/*
 * commands.c - the sorted command and alias tables.
 *
 * Built with -DCMD_TABLE_ONLY (by tests/unit/commands.c) the rows carry
 * NULL function and usage pointers, so the table can be checked without
 * linking every command.
 */
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#ifdef CMD_TABLE_ONLY
#define CMD_FN(id)    NULL
#define CMD_USAGE(id) NULL
#else
#define CMD_FN(id)    cmd_##id
#define CMD_USAGE(id) cmd_##id##_usage
#endif

/* id is the C name: "uid-rebuild" would be uid_rebuild. */
#define ROW(name, id, flags, summary)                           \
	{                                                       \
		name, CMD_FN(id), flags, summary, CMD_USAGE(id) \
	}

/* Keep sorted by name (strcmp order): cmd_find() bisects it. */
const struct cmd cmds[] = {
	ROW("append", append, CMD_CTX | CMD_WRITES,
	    "append the message on stdin to a mailbox, with flags and keywords"),
	ROW("check", check, CMD_CTX,
	    "verify mailboxes and report damage with byte offsets"),
	ROW("convert", convert, CMD_CTX | CMD_WRITES,
	    "copy a mailbox into another format, keeping flags and UIDs"),
	ROW("copy", copy, CMD_CTX | CMD_WRITES,
	    "copy selected messages to another mailbox, keeping their flags"),
	ROW("create", create, CMD_CTX | CMD_WRITES,
	    "create a new, empty mailbox in any format"),
	ROW("delete", delete, CMD_CTX | CMD_WRITES,
	    "delete a mailbox, with its format's locks"),
	ROW("deliver", deliver, CMD_CTX,
	    "deliver a message from the MTA to users' INBOXes or folders"),
	ROW("dmail", dmail, CMD_CTX,
	    "deliver a message from procmail to the user's INBOX or a folder"),
	ROW("fetch", fetch, CMD_CTX | CMD_WRITES,
	    "copy new messages from an IMAP or POP3 mailbox into a local one"),
	ROW("formats", formats, 0, "list the mailbox formats this build knows"),
	ROW("list", list, CMD_CTX,
	    "list mailboxes matching an IMAP pattern, with their formats"),
	ROW("move", move, CMD_CTX | CMD_WRITES,
	    "move selected messages to another mailbox, crash-safely"),
	ROW("prune", prune, CMD_CTX | CMD_WRITES,
	    "delete and expunge selected messages of a mailbox"),
	ROW("rename", rename, CMD_CTX | CMD_WRITES,
	    "rename a mailbox; renaming INBOX moves its messages"),
	ROW("repair", repair, CMD_CTX | CMD_WRITES,
	    "repair a damaged mailbox in place, salvaging what is no message"),
	ROW("search", search, CMD_CTX,
	    "print the messages that match IMAP SEARCH criteria or regexes"),
	ROW("spool-move", spool_move, CMD_CTX | CMD_WRITES,
	    "move new mail from the spool file into the INBOX, crash-safely"),
	ROW("uid-rebuild", uid_rebuild, CMD_CTX | CMD_WRITES,
	    "repair duplicate, disordered or lost UIDs, keeping what is valid"),
};
const size_t ncmds = sizeof(cmds) / sizeof(cmds[0]);

/* Kept sorted by alias as well. */
const struct cmd_alias cmd_aliases[] = {
	{ "fetch-remote", "fetch" },	{ "mailbox-convert", "convert" },
	{ "mbox-check", "check" },	{ "mbx-repair", "repair" },
	{ "spool-move", "spool-move" }, { "uid-rebuild", "uid-rebuild" },
};
const size_t ncmd_aliases = sizeof(cmd_aliases) / sizeof(cmd_aliases[0]);

static int
cmp_name(const void *key, const void *row)
{
	return strcmp(key, ((const struct cmd *)row)->name);
}

const struct cmd *
cmd_find(const char *name)
{
	return bsearch(name, cmds, ncmds, sizeof(cmds[0]), cmp_name);
}

const struct cmd *
cmd_find_alias(const char *alias)
{
	size_t i;

	for (i = 0; i < ncmd_aliases; i++)
		if (strcmp(cmd_aliases[i].alias, alias) == 0)
			return cmd_find(cmd_aliases[i].command);
	return NULL;
}

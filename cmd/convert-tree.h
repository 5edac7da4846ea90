/*
 * convert-tree.h - `mailbag convert -r`: the tree walk around the
 * one-mailbox copy of cmd/convert.c.
 */
#ifndef CMD_CONVERT_TREE_H
#define CMD_CONVERT_TREE_H

#include <stdbool.h>

#include "util.h"

struct tree_conv {
	struct cmd_env *env;
	const char *to; /* format for every mailbox, or NULL: its own */
	bool dry_run, json;
	/*
	 * Copy (or with dry_run, count) the mailbox src of format
	 * src_format into the new mailbox dst of format dst_format, report
	 * it on stdout as plain convert does, and return its exit status.
	 */
	int (*one)(void *arg, const char *src, const char *dst,
		   const char *src_format, const char *dst_format);
	void *arg;
};

/* Copy the tree src into dst; returns the worst exit status. */
int convert_tree(struct tree_conv *t, const char *src, const char *dst);

#endif /* CMD_CONVERT_TREE_H */

/*
 * registry.c - the ordered table of format drivers.
 *
 * Probing asks every driver for a score (0-100) and takes the highest;
 * on a tie the earlier row wins.  Drivers with a cheap, certain magic
 * (mmdf's ^A^A^A^A line) come before the ones that must read a line and
 * judge it (unix).
 */
#include <string.h>

#include "formats.h"

const struct mb_driver *const mbi_drivers[] = {
	&mbi_driver_mix,
	&mbi_driver_mbx,
	&mbi_driver_tenex,
	&mbi_driver_mtx,
	&mbi_driver_mmdf,
	&mbi_driver_unix,
	&mbi_driver_mh,
	&mbi_driver_eml,
	&mbi_driver_maildir,
	/* remote: chosen by name ({host}MAILBOX), never by probing */
	&mbi_driver_imap,
	&mbi_driver_pop3,
	&mbi_driver_phile, /* last: any other non-empty file (score 1) */
	NULL,
};

const struct mb_driver *
mbi_driver_by_name(const char *name)
{
	size_t i;

	for (i = 0; mbi_drivers[i] != NULL; i++)
		if (strcmp(mbi_drivers[i]->name, name) == 0)
			return mbi_drivers[i];
	/* UW's and mutt's other names for the same formats */
	if (strcmp(name, "mbox") == 0 || strcmp(name, "mboxo") == 0 ||
	    strcmp(name, "mboxrd") == 0)
		return &mbi_driver_unix;
	return NULL;
}

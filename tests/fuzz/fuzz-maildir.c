/*
 * fuzz-maildir.c - the maildir driver over a directory made from the input
 * (fuzz_make_dir: parts alternate file name and content): file names (flags, S= and W= sizes), dovecot-uidlist and dovecot-keywords.
 */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const subdirs[] = {"cur", "new", "tmp", NULL};
	char path[300];

	snprintf(path, sizeof(path), "%s/box", fuzz_scratch());
	fuzz_make_dir(path, subdirs, data, size);
	fuzz_scan_box(path, "maildir", MB_RDONLY | MB_NOLOCK | MB_CHECK);
	return 0;
}

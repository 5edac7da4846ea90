/*
 * fuzz-eml.c - the eml driver (a directory of *.eml files) over a
 * directory made from the input (fuzz_make_dir: parts alternate file
 * name and content): the name ordering and the message reader.
 */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/box", fuzz_scratch());
	fuzz_make_dir(path, NULL, data, size);
	fuzz_scan_box(path, "eml", MB_RDONLY | MB_NOLOCK | MB_CHECK);
	/* and what the probe makes of it */
	fuzz_scan_box(path, NULL, MB_RDONLY | MB_NOLOCK);
	return 0;
}

/*
 * fuzz-mh.c - the mh driver over a directory made from the input
 * (fuzz_make_dir: parts alternate file name and content): numbered message files and .mh_sequences.
 */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const *subdirs = NULL;
	char path[300];

	snprintf(path, sizeof(path), "%s/box", fuzz_scratch());
	fuzz_make_dir(path, subdirs, data, size);
	fuzz_scan_box(path, "mh", MB_RDONLY | MB_NOLOCK | MB_CHECK);
	return 0;
}

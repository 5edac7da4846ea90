/*
 * fuzz-mix.c - the mix driver over a directory made from the input
 * (fuzz_make_dir: parts alternate file name and content): .mixmeta, .mixindex, .mixstatus and the .mixXXXXXXXX data files.
 */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const *subdirs = NULL;
	char path[300];

	snprintf(path, sizeof(path), "%s/box", fuzz_scratch());
	fuzz_make_dir(path, subdirs, data, size);
	fuzz_scan_box(path, "mix", MB_RDONLY | MB_NOLOCK | MB_CHECK);
	return 0;
}

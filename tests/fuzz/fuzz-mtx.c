/* fuzz-mtx.c - the mtx driver's scanner and reader over one file. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/box", fuzz_scratch());
	fuzz_write(path, data, size);
	fuzz_scan_box(path, "mtx", MB_RDONLY | MB_NOLOCK | MB_CHECK);

	return 0;
}

/*
 * fuzz-probe.c - format detection (every driver's probe, formats/
 * registry.c) on one file, then a scan with whatever driver claims it.
 */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/box", fuzz_scratch());
	fuzz_write(path, data, size);
	fuzz_scan_box(path, NULL, MB_RDONLY | MB_NOLOCK | MB_CHECK);
	return 0;
}

/*
 * fuzz-imap.c - the IMAP driver (formats/imap.c) against a scripted
 * server whose every byte is the input: greeting, CAPABILITY, LOGIN,
 * SELECT, the FETCH of flags, sizes and texts (literals), STORE and
 * EXPUNGE, through the public API as `mailbag fetch` uses it: open,
 * scan, read every message, delete the first, expunge, commit.  The
 * client's tags are A1, A2, ... in order.
 */
#include "fuzz-net.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_remote_session(data, size, "imap");
	return 0;
}

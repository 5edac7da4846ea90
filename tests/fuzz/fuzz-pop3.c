/*
 * fuzz-pop3.c - the POP3 driver (formats/pop3.c) against a scripted
 * server whose every byte is the input: greeting, CAPA, login, STAT,
 * UIDL, LIST, RETR (dot-unstuffing), through the public API as
 * `mailbag fetch` uses it: open, scan, read every message, delete the
 * first, expunge, commit.
 */
#include "fuzz-net.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_remote_session(data, size, "pop3");
	return 0;
}

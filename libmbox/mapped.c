/*
 * mapped.c - read-only file mappings that survive the file shrinking.
 *
 * Scanning a large mailbox through a mapping saves the copy that read(2)
 * makes, but a mapping has a hazard read(2) does not: when another
 * program truncates the file while we look at it, touching a page past
 * the new end raises SIGBUS, which would kill the command.  Readers of a
 * mailbox hold the locks UW's writers honour, but not every program
 * honours them (a user's `: > mbox`, a foreign rewriter).
 *
 * So every mapping made here is registered, and one SIGBUS handler
 * (installed on first use, chaining to whatever was there before) looks
 * the faulting address up: inside a registered mapping, it puts a page of
 * zeros over the faulting page and raises the mapping's flag; the reader
 * sees the flag and reports that the file changed under it.  A fault
 * anywhere else goes on to the previous handler, or kills the process as
 * it would have without us.  Everything the handler does is
 * async-signal-safe (mmap, an array walk, a flag store).
 *
 * Threads (scout.c maps too) take slots with an atomic exchange, and a
 * fault is handled in the thread that took it; SIGBUS from a fault is
 * never blocked, so it is.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mb-int.h"

#define MAP_SLOTS	 32
#define MAP_RELEASE_STEP ((int64_t)4 << 20) /* see mbi_map_release */

static struct map_slot {
	int taken;	     /* claimed, atomically */
	char *volatile addr; /* NULL: not mapped (yet) */
	volatile size_t len;
	volatile sig_atomic_t *volatile flag;
} slots[MAP_SLOTS];

static struct sigaction old_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static volatile sig_atomic_t installed;

static void
on_sigbus(int sig, siginfo_t *si, void *uctx)
{
	char *a = si != NULL ? (char *)si->si_addr : NULL;
	int i;

	for (i = 0; a != NULL && i < MAP_SLOTS; i++) {
		char *p = slots[i].addr;
		long pg;

		if (p == NULL || a < p || a >= p + slots[i].len)
			continue;
		pg = sysconf(_SC_PAGESIZE);
		if (pg <= 0)
			pg = 4096;
		if (mmap((void *)((uintptr_t)a & ~(uintptr_t)(pg - 1)),
			 (size_t)pg, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) == MAP_FAILED)
			break;
		*slots[i].flag = 1;
		return;
	}
	/* not ours */
	if (old_bus.sa_flags & SA_SIGINFO) {
		if (old_bus.sa_sigaction != NULL) {
			old_bus.sa_sigaction(sig, si, uctx);
			return;
		}
	} else if (old_bus.sa_handler != SIG_DFL &&
		   old_bus.sa_handler != SIG_IGN) {
		old_bus.sa_handler(sig);
		return;
	}
	/* default action: the fault repeats on return and kills us */
	signal(SIGBUS, SIG_DFL);
}

static void
install_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old_bus) == 0)
		installed = 1;
}

static int
install(void)
{
	pthread_once(&install_once, install_handler);
	return installed ? 0 : -1;
}

void *
mbi_map_ro(int fd, int64_t off, size_t len, volatile sig_atomic_t *flag)
{
	char *p;
	int i;

	if (len == 0 || install() < 0)
		return NULL;
	for (i = 0; i < MAP_SLOTS; i++)
		if (__atomic_exchange_n(&slots[i].taken, 1, __ATOMIC_ACQ_REL) ==
		    0)
			break;
	if (i == MAP_SLOTS)
		return NULL; /* the caller reads instead */
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
	if (p == MAP_FAILED) {
		__atomic_store_n(&slots[i].taken, 0, __ATOMIC_RELEASE);
		return NULL;
	}
	slots[i].len = len;
	slots[i].flag = flag;
	__atomic_store_n(&slots[i].addr, p, __ATOMIC_SEQ_CST);
	return p;
}

void
mbi_unmap(void *p, size_t len)
{
	int i;

	if (p == NULL)
		return;
	for (i = 0; i < MAP_SLOTS; i++)
		if (slots[i].addr == p) {
			__atomic_store_n(&slots[i].addr, NULL,
					 __ATOMIC_SEQ_CST);
			munmap(p, len);
			__atomic_store_n(&slots[i].taken, 0, __ATOMIC_RELEASE);
			return;
		}
	munmap(p, len);
}

void
mbi_map_release(const void *map, int64_t map_off, int64_t off, int64_t *done)
{
	long pg = sysconf(_SC_PAGESIZE);
	int64_t to;

	if (pg <= 0)
		pg = 4096;
	to = off & ~(int64_t)(pg - 1);
	if (map == NULL || *done < map_off || to - *done < MAP_RELEASE_STEP)
		return;
	madvise((char *)(uintptr_t)map + (*done - map_off),
		(size_t)(to - *done), MADV_DONTNEED);
	*done = to;
}

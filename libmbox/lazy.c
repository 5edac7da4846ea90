/*
 * lazy.c - load libarchive and OpenSSL on first use (see lazy.h).
 */
#define MBI_LAZY_IMPL
#include <dlfcn.h>
#include <string.h>

#include "lazy.h"
#include "mb-int.h"

/* The sonames mailbag was built against (the Makefile reads them off the
 * libraries; these are Debian 12's). */
#ifndef MB_SONAME_ARCHIVE
#define MB_SONAME_ARCHIVE "libarchive.so.13"
#endif
#ifndef MB_SONAME_SSL
#define MB_SONAME_SSL "libssl.so.3"
#endif
#ifndef MB_SONAME_CRYPTO
#define MB_SONAME_CRYPTO "libcrypto.so.3"
#endif

#define MBI_LAZY_DEF(f) __typeof__(f) *mbi_lz_##f;
MBI_LAZY_ARCHIVE_FNS(MBI_LAZY_DEF)
MBI_LAZY_SSL_FNS(MBI_LAZY_DEF)
MBI_LAZY_CRYPTO_FNS(MBI_LAZY_DEF)
#undef MBI_LAZY_DEF

static unsigned loaded;

/* dlopen soname and fill the pointers of one list; on failure nothing of
 * the list is set, so a later attempt starts afresh. */
#define MBI_LAZY_SYM(f)                                           \
	if (ok) {                                                 \
		void *sym_ = dlsym(h, #f);                        \
		if (sym_ == NULL) {                               \
			missing = #f;                             \
			ok = false;                               \
		} else {                                          \
			memcpy(&mbi_lz_##f, &sym_, sizeof(sym_)); \
		}                                                 \
	}

static int
load_failed(const char *soname, const char *what, struct mb_err *e)
{
	return mbi_err(e, MB_FAILED, MB_EINVAL, soname, -1,
		       "cannot load %s (%s): reinstall it or rebuild mailbag",
		       soname, what);
}

int
mbi_lazy_load(unsigned what, struct mb_err *e)
{
	const char *missing = NULL;
	bool ok;
	void *h;

	if (what & MBI_LAZY_SSL)
		what |= MBI_LAZY_CRYPTO;
	if ((what & ~loaded) & MBI_LAZY_CRYPTO) {
		h = dlopen(MB_SONAME_CRYPTO, RTLD_NOW | RTLD_LOCAL);
		if (h == NULL)
			return load_failed(MB_SONAME_CRYPTO, dlerror(), e);
		ok = true;
		MBI_LAZY_CRYPTO_FNS(MBI_LAZY_SYM)
		if (!ok)
			return load_failed(MB_SONAME_CRYPTO, missing, e);
		loaded |= MBI_LAZY_CRYPTO;
	}
	if ((what & ~loaded) & MBI_LAZY_SSL) {
		h = dlopen(MB_SONAME_SSL, RTLD_NOW | RTLD_LOCAL);
		if (h == NULL)
			return load_failed(MB_SONAME_SSL, dlerror(), e);
		ok = true;
		MBI_LAZY_SSL_FNS(MBI_LAZY_SYM)
		if (!ok)
			return load_failed(MB_SONAME_SSL, missing, e);
		loaded |= MBI_LAZY_SSL;
	}
	if ((what & ~loaded) & MBI_LAZY_ARCHIVE) {
		h = dlopen(MB_SONAME_ARCHIVE, RTLD_NOW | RTLD_LOCAL);
		if (h == NULL)
			return load_failed(MB_SONAME_ARCHIVE, dlerror(), e);
		ok = true;
		MBI_LAZY_ARCHIVE_FNS(MBI_LAZY_SYM)
		if (!ok)
			return load_failed(MB_SONAME_ARCHIVE, missing, e);
		loaded |= MBI_LAZY_ARCHIVE;
	}
	return MB_OK;
}

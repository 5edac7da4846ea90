/*
 * lazy.h - libarchive and OpenSSL, loaded when first needed.
 *
 * Most runs of mailbag (a check, a delivery from an MTA, a conversion
 * between plain formats) never touch an archive or the network, yet
 * linking libarchive and OpenSSL made every start-up pay for loading and
 * relocating them and the libraries they bring (libxml2, ICU, libstdc++
 * among them): about 5 ms of a 6 ms start.  So the code that uses them
 * includes this header instead of their headers, calls mbi_lazy_load()
 * before its first call into them, and every call goes through a
 * pointer that mbi_lazy_load() fills from the real library (dlopen of
 * the soname it was built against).  The call sites keep the libraries'
 * own names and types: each name below is #defined to its pointer.
 */
#ifndef MB_LAZY_H
#define MB_LAZY_H

#include <stddef.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct mb_err;

enum {
	MBI_LAZY_ARCHIVE = 1, /* libarchive */
	MBI_LAZY_CRYPTO = 2,  /* libcrypto */
	MBI_LAZY_SSL = 4,     /* libssl (and libcrypto) */
};

/*
 * Load what `what` names, once; later calls cost a test.  MB_OK, or
 * MB_FAILED with e set (e may be NULL) naming the library that could not
 * be loaded, for example when it was removed after mailbag was built.
 */
int mbi_lazy_load(unsigned what, struct mb_err *e);

#define MBI_LAZY_ARCHIVE_FNS(X)                    \
	X(archive_entry_filetype)                  \
	X(archive_entry_free)                      \
	X(archive_entry_hardlink)                  \
	X(archive_entry_mtime)                     \
	X(archive_entry_mtime_is_set)              \
	X(archive_entry_mtime_nsec)                \
	X(archive_entry_new)                       \
	X(archive_entry_pathname)                  \
	X(archive_entry_set_filetype)              \
	X(archive_entry_set_mtime)                 \
	X(archive_entry_set_pathname)              \
	X(archive_entry_set_perm)                  \
	X(archive_entry_set_size)                  \
	X(archive_entry_symlink)                   \
	X(archive_error_string)                    \
	X(archive_filter_bytes)                    \
	X(archive_filter_code)                     \
	X(archive_filter_count)                    \
	X(archive_read_data)                       \
	X(archive_read_free)                       \
	X(archive_read_new)                        \
	X(archive_read_next_header)                \
	X(archive_read_open_fd)                    \
	X(archive_read_support_filter_all)         \
	X(archive_read_support_format_raw)         \
	X(archive_read_support_format_tar)         \
	X(archive_read_support_format_zip)         \
	X(archive_write_add_filter_gzip)           \
	X(archive_write_add_filter_xz)             \
	X(archive_write_close)                     \
	X(archive_write_data)                      \
	X(archive_write_free)                      \
	X(archive_write_header)                    \
	X(archive_write_new)                       \
	X(archive_write_open_fd)                   \
	X(archive_write_set_format_pax_restricted) \
	X(archive_write_set_format_zip)            \
	X(archive_version_string)

#define MBI_LAZY_SSL_FNS(X)                 \
	X(SSL_CTX_ctrl)                     \
	X(SSL_CTX_free)                     \
	X(SSL_CTX_load_verify_locations)    \
	X(SSL_CTX_new)                      \
	X(SSL_CTX_set_default_verify_paths) \
	X(SSL_CTX_set_verify)               \
	X(SSL_connect)                      \
	X(SSL_ctrl)                         \
	X(SSL_free)                         \
	X(SSL_get0_param)                   \
	X(SSL_get_error)                    \
	X(SSL_get_verify_result)            \
	X(SSL_new)                          \
	X(SSL_read)                         \
	X(SSL_set_fd)                       \
	X(SSL_shutdown)                     \
	X(SSL_write)                        \
	X(TLS_client_method)

#define MBI_LAZY_CRYPTO_FNS(X)             \
	X(ERR_clear_error)                 \
	X(ERR_error_string_n)              \
	X(ERR_get_error)                   \
	X(EVP_DigestFinal_ex)              \
	X(EVP_DigestInit_ex)               \
	X(EVP_DigestUpdate)                \
	X(EVP_MD_CTX_free)                 \
	X(EVP_MD_CTX_new)                  \
	X(EVP_md5)                         \
	X(EVP_sha256)                      \
	X(HMAC)                            \
	X(X509_VERIFY_PARAM_set1_host)     \
	X(X509_VERIFY_PARAM_set1_ip_asc)   \
	X(X509_VERIFY_PARAM_set_hostflags) \
	X(X509_verify_cert_error_string)   \
	X(OpenSSL_version)

#define MBI_LAZY_DECL(f) extern __typeof__(f) *mbi_lz_##f;
MBI_LAZY_ARCHIVE_FNS(MBI_LAZY_DECL)
MBI_LAZY_SSL_FNS(MBI_LAZY_DECL)
MBI_LAZY_CRYPTO_FNS(MBI_LAZY_DECL)
#undef MBI_LAZY_DECL

#ifndef MBI_LAZY_IMPL
#define archive_entry_filetype	   (*mbi_lz_archive_entry_filetype)
#define archive_entry_free	   (*mbi_lz_archive_entry_free)
#define archive_entry_hardlink	   (*mbi_lz_archive_entry_hardlink)
#define archive_entry_mtime	   (*mbi_lz_archive_entry_mtime)
#define archive_entry_mtime_is_set (*mbi_lz_archive_entry_mtime_is_set)
#define archive_entry_mtime_nsec   (*mbi_lz_archive_entry_mtime_nsec)
#define archive_entry_new	   (*mbi_lz_archive_entry_new)
#define archive_entry_pathname	   (*mbi_lz_archive_entry_pathname)
#define archive_entry_set_filetype (*mbi_lz_archive_entry_set_filetype)
#define archive_entry_set_mtime	   (*mbi_lz_archive_entry_set_mtime)
#define archive_entry_set_pathname (*mbi_lz_archive_entry_set_pathname)
#define archive_entry_set_perm	   (*mbi_lz_archive_entry_set_perm)
#define archive_entry_set_size	   (*mbi_lz_archive_entry_set_size)
#define archive_entry_symlink	   (*mbi_lz_archive_entry_symlink)
#define archive_error_string	   (*mbi_lz_archive_error_string)
#define archive_filter_bytes	   (*mbi_lz_archive_filter_bytes)
#define archive_filter_code	   (*mbi_lz_archive_filter_code)
#define archive_filter_count	   (*mbi_lz_archive_filter_count)
#define archive_read_data	   (*mbi_lz_archive_read_data)
#define archive_read_free	   (*mbi_lz_archive_read_free)
#define archive_read_new	   (*mbi_lz_archive_read_new)
#define archive_read_next_header   (*mbi_lz_archive_read_next_header)
#define archive_read_open_fd	   (*mbi_lz_archive_read_open_fd)
#define archive_read_support_filter_all \
	(*mbi_lz_archive_read_support_filter_all)
#define archive_read_support_format_raw \
	(*mbi_lz_archive_read_support_format_raw)
#define archive_read_support_format_tar \
	(*mbi_lz_archive_read_support_format_tar)
#define archive_read_support_format_zip \
	(*mbi_lz_archive_read_support_format_zip)
#define archive_write_add_filter_gzip (*mbi_lz_archive_write_add_filter_gzip)
#define archive_write_add_filter_xz   (*mbi_lz_archive_write_add_filter_xz)
#define archive_write_close	      (*mbi_lz_archive_write_close)
#define archive_write_data	      (*mbi_lz_archive_write_data)
#define archive_write_free	      (*mbi_lz_archive_write_free)
#define archive_write_header	      (*mbi_lz_archive_write_header)
#define archive_write_new	      (*mbi_lz_archive_write_new)
#define archive_write_open_fd	      (*mbi_lz_archive_write_open_fd)
#define archive_write_set_format_pax_restricted \
	(*mbi_lz_archive_write_set_format_pax_restricted)
#define archive_write_set_format_zip  (*mbi_lz_archive_write_set_format_zip)
#define archive_version_string	      (*mbi_lz_archive_version_string)
#define SSL_CTX_ctrl		      (*mbi_lz_SSL_CTX_ctrl)
#define SSL_CTX_free		      (*mbi_lz_SSL_CTX_free)
#define SSL_CTX_load_verify_locations (*mbi_lz_SSL_CTX_load_verify_locations)
#define SSL_CTX_new		      (*mbi_lz_SSL_CTX_new)
#define SSL_CTX_set_default_verify_paths \
	(*mbi_lz_SSL_CTX_set_default_verify_paths)
#define SSL_CTX_set_verify	      (*mbi_lz_SSL_CTX_set_verify)
#define SSL_connect		      (*mbi_lz_SSL_connect)
#define SSL_ctrl		      (*mbi_lz_SSL_ctrl)
#define SSL_free		      (*mbi_lz_SSL_free)
#define SSL_get0_param		      (*mbi_lz_SSL_get0_param)
#define SSL_get_error		      (*mbi_lz_SSL_get_error)
#define SSL_get_verify_result	      (*mbi_lz_SSL_get_verify_result)
#define SSL_new			      (*mbi_lz_SSL_new)
#define SSL_read		      (*mbi_lz_SSL_read)
#define SSL_set_fd		      (*mbi_lz_SSL_set_fd)
#define SSL_shutdown		      (*mbi_lz_SSL_shutdown)
#define SSL_write		      (*mbi_lz_SSL_write)
#define TLS_client_method	      (*mbi_lz_TLS_client_method)
#define ERR_clear_error		      (*mbi_lz_ERR_clear_error)
#define ERR_error_string_n	      (*mbi_lz_ERR_error_string_n)
#define ERR_get_error		      (*mbi_lz_ERR_get_error)
#define EVP_DigestFinal_ex	      (*mbi_lz_EVP_DigestFinal_ex)
#define EVP_DigestInit_ex	      (*mbi_lz_EVP_DigestInit_ex)
#define EVP_DigestUpdate	      (*mbi_lz_EVP_DigestUpdate)
#define EVP_MD_CTX_free		      (*mbi_lz_EVP_MD_CTX_free)
#define EVP_MD_CTX_new		      (*mbi_lz_EVP_MD_CTX_new)
#define EVP_md5			      (*mbi_lz_EVP_md5)
#define EVP_sha256		      (*mbi_lz_EVP_sha256)
#define HMAC			      (*mbi_lz_HMAC)
#define X509_VERIFY_PARAM_set1_host   (*mbi_lz_X509_VERIFY_PARAM_set1_host)
#define X509_VERIFY_PARAM_set1_ip_asc (*mbi_lz_X509_VERIFY_PARAM_set1_ip_asc)
#define X509_VERIFY_PARAM_set_hostflags \
	(*mbi_lz_X509_VERIFY_PARAM_set_hostflags)
#define X509_verify_cert_error_string (*mbi_lz_X509_verify_cert_error_string)
#define OpenSSL_version		      (*mbi_lz_OpenSSL_version)
#endif

#endif

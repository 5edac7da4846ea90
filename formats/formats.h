/*
 * formats.h - the format drivers.  Each lives in one file of this
 * directory and exports one const struct mb_driver; formats/registry.c
 * lists them.  See man/libmbox.3, section DRIVERS.
 */
#ifndef FORMATS_H
#define FORMATS_H

#include "mb-int.h"

extern const struct mb_driver mbi_driver_unix;
extern const struct mb_driver mbi_driver_mmdf;
extern const struct mb_driver mbi_driver_mbx;
extern const struct mb_driver mbi_driver_mix;
extern const struct mb_driver mbi_driver_tenex;
extern const struct mb_driver mbi_driver_mtx;
extern const struct mb_driver mbi_driver_mh;
extern const struct mb_driver mbi_driver_phile;
extern const struct mb_driver mbi_driver_eml;
extern const struct mb_driver mbi_driver_maildir;
extern const struct mb_driver mbi_driver_imap;
extern const struct mb_driver mbi_driver_pop3;

#endif /* FORMATS_H */

/*
 * util.h - helpers shared by the mailbag commands (never by libmbox):
 * dying allocators, error reporting and exit codes, usage and version,
 * the stdout check at exit, a terminal progress bar and a JSON Lines
 * emitter.
 */
#ifndef CMD_UTIL_H
#define CMD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "commands.h"
#include "mb.h"

#define MAILBAG_VERSION "0.1.0"

#define CMD_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Allocation that cannot fail: on failure print and exit 71 (EX_OSERR). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

/* Print "PROG: message" to stderr. */
void warnmsg(const char *prog, const char *fmt, ...) CMD_PRINTF(2, 3);
/* warnmsg, then exit with status. */
_Noreturn void die(int status, const char *prog, const char *fmt, ...)
	CMD_PRINTF(3, 4);

/* The sysexits status for an mb_err code: the one table of the project. */
int exit_code(int mb_code);
/*
 * Report e on stderr as "PROG: PATH: at byte N: MSG" (path from e, else
 * the given fallback; the offset only when known) and return
 * exit_code(e->code).
 */
int report_err(const char *prog, const char *path, const struct mb_err *e);

/* Usage text of env's command on stdout; returns 0 (for -h/--help). */
int cmd_help(const struct cmd_env *env);
/*
 * A bad invocation: optional message, then the synopsis line and "try
 * 'PROG --help'" on stderr.  Returns 64 (EX_USAGE).
 */
int cmd_usage_error(const struct cmd_env *env, const char *fmt, ...)
	CMD_PRINTF(2, 3);
/* `--version`: mailbag, libmbox and the linked libraries.  Returns 0. */
int print_version(void);

/*
 * Read the configuration files into env->ctx.  Returns 0, or reports the
 * error and returns 78 (EX_CONFIG).  Commands call it after option
 * parsing, before applying options, so options override the files.
 */
int cmd_load_config(struct cmd_env *env);
/* mb_ctx_set that reports a bad value: returns 0 or 64. */
int cmd_set(struct cmd_env *env, const char *name, const char *value);

/* Flush and close stdout; returns 0, or 74 after a message. */
int close_stdout(const char *prog);

/*
 * A progress bar on stderr for long scans, drawn only when stderr is a
 * terminal and quiet is false.  progress_label() names what is being
 * read; progress_done() clears the bar.
 */
void progress_setup(struct cmd_env *env, bool quiet);
void progress_label(const char *label);
void progress_done(void);

/*
 * JSON Lines: json_begin() opens an object and writes its "type" member,
 * the json_* calls add members, json_end() closes it with a newline.
 * Strings are escaped as RFC 8259 asks; bytes that are not valid UTF-8
 * become U+FFFD.  A NULL string is written as null.
 */
struct json {
	FILE *fp;
	int members;
};
void json_begin(struct json *j, FILE *fp, const char *type);
void json_str(struct json *j, const char *key, const char *val);
void json_int(struct json *j, const char *key, int64_t val);
void json_uint(struct json *j, const char *key, uint64_t val);
void json_bool(struct json *j, const char *key, bool val);
void json_strv(struct json *j, const char *key, const char *const *v, size_t n);
void json_end(struct json *j);
/* One JSON string literal, quotes included. */
void json_write_string(FILE *fp, const char *s);

#endif /* CMD_UTIL_H */

/*
 * Logging: one line per event on stderr, key=value fields, e.g.
 *   ts=2026-11-24T21:39:42.123456Z level=info area=store conn=7 msg="database opened" schema=1
 * No PHI (names, MRNs, values, free text) and no secrets at any level: log surrogate ids.
 * The log_ctx carries the ids that let an operator follow one reading through the log.
 * Thread: any (each line is written with one write(2) call).
 */
#ifndef MEDHUB_CORE_LOG_H
#define MEDHUB_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
    LOG_ERROR = 0, /* operator action needed */
    LOG_WARN = 1,  /* something went wrong but the system carries on */
    LOG_INFO = 2,  /* lifecycle: start, listen, stop */
    LOG_DEBUG = 3, /* developer detail, off by default */
};

struct log_ctx {
    uint64_t conn;      /* connection id, 0 when none */
    uint64_t req;       /* request or message id, 0 when none */
    const char *device; /* device id (a surrogate, not PHI), NULL when none */
};

/* Sets the threshold; lines above it are dropped. Call before starting threads. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_is_enabled(enum log_level level);

/* Parses "error", "warn", "info" or "debug". Returns 0 or HX_EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/* Writes one line. ctx may be NULL; msg is a short lower-case sentence without a final
 * period; fields_fmt (may be NULL) is printf-style "key=value key2=value2" text appended. */
void log_write(enum log_level level, const struct log_ctx *ctx, const char *area, const char *msg,
               const char *fields_fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_error(ctx, area, msg, ...) log_write(LOG_ERROR, ctx, area, msg, __VA_ARGS__)
#define log_warn(ctx, area, msg, ...)  log_write(LOG_WARN, ctx, area, msg, __VA_ARGS__)
#define log_info(ctx, area, msg, ...)  log_write(LOG_INFO, ctx, area, msg, __VA_ARGS__)
#define log_debug(ctx, area, msg, ...)                                                             \
    do {                                                                                           \
        if (log_is_enabled(LOG_DEBUG))                                                             \
            log_write(LOG_DEBUG, ctx, area, msg, __VA_ARGS__);                                     \
    } while (0)

#endif

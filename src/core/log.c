/*
 * Log line formatting. Each line is assembled in a stack buffer and written with a single
 * write(2) so concurrent threads never interleave within a line.
 * Layer: core. Thread safety: the level is an atomic; everything else is per call.
 */
#include "core/log.h"
#include "core/err.h"
#include "core/hxtime.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic int log_level = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&log_level);
}

bool log_is_enabled(enum log_level level)
{
    return (int)level <= atomic_load(&log_level);
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return HX_EINVAL;
}

const char *log_level_name(enum log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}

/* Appends s as a quoted logfmt value, escaping quotes, backslashes and control bytes. */
static size_t append_quoted(char *dst, size_t pos, size_t cap, const char *s)
{
    if (pos < cap)
        dst[pos++] = '"';
    for (; *s && pos + 2 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[pos++] = '\\';
            dst[pos++] = (char)c;
        } else if (c < 0x20) {
            dst[pos++] = ' ';
        } else {
            dst[pos++] = (char)c;
        }
    }
    if (pos < cap)
        dst[pos++] = '"';
    return pos;
}

void log_write(enum log_level level, const struct log_ctx *ctx, const char *area, const char *msg,
               const char *fields_fmt, ...)
{
    if (!log_is_enabled(level))
        return;
    char line[2048];
    const size_t cap = sizeof(line) - 1; /* room for the newline */
    char ts[40];
    hx_time_format_rfc3339(hx_time_now_us(), ts, sizeof(ts));
    int n = snprintf(line, cap, "ts=%s level=%s area=%s", ts, log_level_name(level), area);
    size_t pos = n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap);
    if (ctx) {
        if (ctx->conn) {
            n = snprintf(line + pos, cap - pos, " conn=%llu", (unsigned long long)ctx->conn);
            pos += n > 0 && (size_t)n < cap - pos ? (size_t)n : 0;
        }
        if (ctx->req) {
            n = snprintf(line + pos, cap - pos, " req=%llu", (unsigned long long)ctx->req);
            pos += n > 0 && (size_t)n < cap - pos ? (size_t)n : 0;
        }
        if (ctx->device && pos + 8 < cap) {
            memcpy(line + pos, " device=", 8);
            pos = append_quoted(line, pos + 8, cap, ctx->device);
        }
    }
    if (pos + 5 < cap) {
        memcpy(line + pos, " msg=", 5);
        pos = append_quoted(line, pos + 5, cap, msg);
    }
    if (fields_fmt && *fields_fmt && pos + 1 < cap) {
        line[pos++] = ' ';
        va_list ap;
        va_start(ap, fields_fmt);
        n = vsnprintf(line + pos, cap - pos, fields_fmt, ap);
        va_end(ap);
        if (n > 0)
            pos += (size_t)n < cap - pos ? (size_t)n : cap - pos - 1;
    }
    line[pos++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
}

/*
 * Byte slices: a pointer and a length into someone else's buffer, never NUL-terminated.
 * A slice borrows; it is valid only as long as its source buffer. Thread: any.
 */
#ifndef MEDHUB_CORE_SLICE_H
#define MEDHUB_CORE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct slice {
    const uint8_t *ptr; /* first byte (may be NULL when len is 0) */
    size_t len;         /* number of bytes */
};

static inline struct slice slice_make(const void *p, size_t len)
{
    return (struct slice){.ptr = (const uint8_t *)p, .len = len};
}

static inline struct slice slice_cstr(const char *s)
{
    return slice_make(s, s ? strlen(s) : 0);
}

static inline bool slice_eq_cstr(struct slice s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

static inline bool slice_has_prefix(struct slice s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

#endif

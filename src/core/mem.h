/*
 * Allocation policy. Small fixed-size allocations use hx_xmalloc/hx_xcalloc, which abort on
 * OOM (there is no sane recovery from failing to allocate 64 bytes). Any size that comes from
 * the network, a file or config goes through hx_try_alloc with a limit checked before
 * allocating. Thread: any.
 */
#ifndef MEDHUB_CORE_MEM_H
#define MEDHUB_CORE_MEM_H

#include <stddef.h>
#include <stdlib.h>

/* Returns owned memory (free with free() or HX_FREE); aborts on OOM. */
void *hx_xmalloc(size_t size);
void *hx_xcalloc(size_t n, size_t size);
void *hx_xrealloc(void *p, size_t size);
char *hx_xstrdup(const char *s);
char *hx_xstrndup(const char *s, size_t len);

/* Allocates size bytes if size <= limit. OUT: *out owned by the caller.
 * Returns 0, HX_ETOOBIG (size > limit) or -ENOMEM. */
int hx_try_alloc(void **out, size_t size, size_t limit);

/* Overflow-checked n * size allocation (aborts on OOM, returns NULL on overflow). */
void *hx_alloc_array(size_t n, size_t size);

/* printf into a newly allocated string (aborts on OOM). */
char *hx_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define HX_FREE(p)                                                                                 \
    do {                                                                                           \
        free(p);                                                                                   \
        (p) = NULL;                                                                                \
    } while (0)

#define HX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif

/*
 * Allocation wrappers (see mem.h for the policy). The only file allowed raw malloc/free
 * besides the HX_FREE macro. Layer: core. Thread: any.
 */
#include "core/mem.h"
#include "core/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void oom(size_t size)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", size);
    abort();
}

void *hx_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *hx_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *hx_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        oom(size);
    return q;
}

char *hx_xstrdup(const char *s)
{
    return hx_xstrndup(s, strlen(s));
}

char *hx_xstrndup(const char *s, size_t len)
{
    char *p = hx_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

int hx_try_alloc(void **out, size_t size, size_t limit)
{
    *out = NULL;
    if (size > limit)
        return HX_ETOOBIG;
    void *p = malloc(size ? size : 1);
    if (!p)
        return -ENOMEM;
    *out = p;
    return 0;
}

void *hx_alloc_array(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return hx_xmalloc(n * size);
}

char *hx_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    return s;
}

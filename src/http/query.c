/*
 * Query strings and paths: percent-decoding (RFC 3986 2.1), application/x-www-form-urlencoded
 * pairs ('+' as space), and the path segment splitter the router matches on.
 * Layer: http (pure codec: no I/O, no globals). Thread: any.
 */
#include "http/query.h"
#include "core/err.h"
#include "core/mem.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Longest raw query or path accepted here; the request parser's header limit is far lower. */
#define HTTP_QUERY_RAW_MAX (1024 * 1024)

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int http_pct_decode(const char *in, size_t len, bool plus_space, char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (len - i < 3)
                return HX_EMALFORMED; /* fewer than two bytes follow */
            int hi = hexval(in[i + 1]);
            int lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                return HX_EMALFORMED;
            c = (char)(hi << 4 | lo);
            if (c == '\0')
                return HX_EMALFORMED;
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        } else if (c == '\0') {
            return HX_EMALFORMED;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    *out_len = o;
    return 0;
}

int http_query_parse(const char *raw, size_t len, struct http_query *out)
{
    memset(out, 0, sizeof(*out));
    if (len > HTTP_QUERY_RAW_MAX)
        return HX_ETOOBIG;
    /* Decoding never grows a string; each pair adds two NULs. */
    void *mem;
    int rc = hx_try_alloc(&mem, len + 2 * HTTP_QUERY_MAX_PARAMS + 1, SIZE_MAX);
    if (rc < 0)
        return rc;
    out->buf = mem;
    char *w = out->buf;
    size_t i = 0;
    while (i <= len) {
        size_t end = i;
        while (end < len && raw[end] != '&')
            end++;
        if (end > i) {
            if (out->n_params == HTTP_QUERY_MAX_PARAMS)
                return HX_ETOOBIG;
            const char *eq = memchr(raw + i, '=', end - i);
            size_t name_end = eq ? (size_t)(eq - raw) : end;
            struct http_param *p = &out->params[out->n_params];
            size_t n;
            rc = http_pct_decode(raw + i, name_end - i, true, w, &n);
            if (rc < 0)
                return rc;
            p->name = w;
            p->name_len = n;
            w += n + 1;
            if (eq) {
                rc = http_pct_decode(eq + 1, end - name_end - 1, true, w, &n);
                if (rc < 0)
                    return rc;
            } else {
                n = 0;
                *w = '\0';
            }
            p->value = w;
            p->value_len = n;
            p->has_value = eq != NULL;
            w += n + 1;
            out->n_params++;
        }
        i = end + 1;
    }
    return 0;
}

void http_query_release(struct http_query *q)
{
    HX_FREE(q->buf);
    q->n_params = 0;
}

const struct http_param *http_query_next(const struct http_query *q, const char *name,
                                         uint32_t *pos)
{
    for (; *pos < q->n_params; (*pos)++) {
        const struct http_param *p = &q->params[*pos];
        if (!name || strcmp(p->name, name) == 0) {
            (*pos)++;
            return p;
        }
    }
    return NULL;
}

const struct http_param *http_query_get(const struct http_query *q, const char *name)
{
    uint32_t pos = 0;
    return http_query_next(q, name, &pos);
}

static bool is_dot_segment(const char *s, size_t len)
{
    return (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.');
}

int http_path_split(const char *raw, size_t len, struct http_path *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || raw[0] != '/')
        return HX_EMALFORMED;
    if (len > HTTP_QUERY_RAW_MAX)
        return HX_ETOOBIG;
    void *mem;
    int rc = hx_try_alloc(&mem, len + HTTP_PATH_MAX_SEGS + 1, SIZE_MAX);
    if (rc < 0)
        return rc;
    out->buf = mem;
    char *w = out->buf;
    size_t i = 1;
    while (i < len) {
        size_t end = i;
        while (end < len && raw[end] != '/')
            end++;
        if (out->n_segs == HTTP_PATH_MAX_SEGS)
            return HX_ETOOBIG;
        size_t n;
        rc = http_pct_decode(raw + i, end - i, false, w, &n);
        if (rc < 0)
            return rc;
        if (is_dot_segment(w, n))
            return HX_EMALFORMED;
        out->seg[out->n_segs] = w;
        out->seg_len[out->n_segs] = n;
        out->n_segs++;
        w += n + 1;
        i = end + 1;
    }
    out->trailing_slash = raw[len - 1] == '/';
    return 0;
}

void http_path_release(struct http_path *p)
{
    HX_FREE(p->buf);
    p->n_segs = 0;
}

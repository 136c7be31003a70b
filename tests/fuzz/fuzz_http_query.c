/*
 * libFuzzer target for the query-string parser, the path splitter, percent-decoding and the
 * static file path resolver (http/query.h, http/http.h). Invariants: decoded strings never
 * contain NUL and their lengths are right, nothing grows past its input, the parameter and
 * segment limits hold, and a resolved static key never has a "." or ".." segment, a
 * backslash or a leading '/'.
 * Layer: tests. Thread: main.
 */
#include "core/err.h"
#include "core/mem.h"
#include "http/http.h"
#include "http/query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_key(const char *key)
{
    if (key[0] == '/' || strchr(key, '\\'))
        abort();
    const char *s = key;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            abort();
        if (!slash)
            break;
        s = slash + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct http_query q;
    if (http_query_parse(in, size, &q) == 0) {
        if (q.n_params > HTTP_QUERY_MAX_PARAMS)
            abort();
        size_t total = 0;
        for (uint32_t i = 0; i < q.n_params; i++) {
            const struct http_param *p = &q.params[i];
            if (strlen(p->name) != p->name_len || strlen(p->value) != p->value_len)
                abort();
            total += p->name_len + p->value_len;
            if (http_query_get(&q, p->name) == NULL)
                abort();
        }
        if (total > size)
            abort();
    }
    http_query_release(&q);

    struct http_path path;
    if (http_path_split(in, size, &path) == 0) {
        if (path.n_segs > HTTP_PATH_MAX_SEGS)
            abort();
        for (uint32_t i = 0; i < path.n_segs; i++)
            if (strlen(path.seg[i]) != path.seg_len[i] || !strcmp(path.seg[i], "..") ||
                !strcmp(path.seg[i], "."))
                abort();
    }
    http_path_release(&path);

    char key[512];
    if (http_static_resolve(in, size, key, sizeof(key)) == 0)
        check_key(key);

    char *out = hx_xmalloc(size + 1);
    size_t n;
    if (http_pct_decode(in, size, true, out, &n) == 0 && (n > size || strlen(out) != n))
        abort();
    free(out);
    return 0;
}

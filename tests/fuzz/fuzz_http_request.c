/*
 * libFuzzer target for the HTTP request parser (http/parse.h) and what the server does with a
 * parsed request (path split, query parse, static path resolution). The input is a stream of
 * pipelined requests, parsed once whole and once cut at a position taken from the input; both
 * must agree on how many requests parse and on each one's method, target, headers and body.
 * Invariants: consumed never exceeds the input, every slice lies in the parser's buffers
 * (ASan), the limits hold, a refused request maps to a 4xx/5xx status.
 * Layer: tests. Thread: main.
 */
#include "core/err.h"
#include "http/http.h"
#include "http/parse.h"
#include "http/query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQS 8

static const struct http_limits lim = {
    .max_header_bytes = 2048, .max_headers = 16, .max_body = 4096};

/* A digest of one parsed request, to compare the two feeds. */
struct digest {
    int method;
    uint64_t h; /* FNV-1a over target, headers and body */
};

static uint64_t fnv(uint64_t h, struct slice s)
{
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ s.ptr[i]) * 1099511628211u;
    return (h ^ 0xff) * 1099511628211u;
}

static void use_request(const struct http_request *r, struct digest *d)
{
    if (r->n_headers > lim.max_headers || r->body.len > lim.max_body)
        abort();
    if (r->path.len == 0 || r->path.ptr[0] != '/')
        abort();
    uint64_t h = 14695981039346656037u;
    h = fnv(h, r->target);
    h = fnv(h, r->path);
    h = fnv(h, r->query);
    for (uint32_t i = 0; i < r->n_headers; i++) {
        h = fnv(h, r->headers[i].name);
        h = fnv(h, r->headers[i].value);
    }
    h = fnv(h, r->body);
    d->method = (int)r->method;
    d->h = h;
    /* What the server does next with it. */
    struct http_path p;
    if (http_path_split((const char *)r->path.ptr, r->path.len, &p) == 0)
        for (uint32_t i = 0; i < p.n_segs; i++)
            if (strlen(p.seg[i]) != p.seg_len[i])
                abort();
    http_path_release(&p);
    struct http_query q;
    http_query_parse((const char *)r->query.ptr, r->query.len, &q);
    http_query_release(&q);
    char key[256];
    http_static_resolve((const char *)r->path.ptr, r->path.len, key, sizeof(key));
}

/* Parses data[0..size) as pipelined requests, feeding the first `cut` bytes separately.
 * Returns how many requests parsed; OUT: d[] for each, *failed when one was refused. */
static int feed(const uint8_t *data, size_t size, size_t cut, struct digest *d, int *failed)
{
    struct http_req_parser *p = http_req_parser_new(&lim);
    int n = 0;
    size_t off = 0;
    *failed = 0;
    while (off < size && n < MAX_REQS) {
        size_t end = off < cut && cut < size ? cut : size;
        size_t used = 0;
        int rc = http_req_parse(p, data + off, end - off, &used);
        if (used > end - off)
            abort();
        off += used;
        if (rc == HX_ENEEDMORE) {
            if (end == size)
                break; /* incomplete at the end of the input */
            continue;
        }
        if (rc != 0) {
            int st = http_parse_err_status(http_req_parser_error(p));
            if (st < 400 || st > 599 || !*http_parse_err_code(http_req_parser_error(p)))
                abort();
            *failed = 1;
            break;
        }
        use_request(http_req_parser_request(p), &d[n++]);
        http_req_parser_reset(p);
    }
    http_req_parser_free(p);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    struct digest whole[MAX_REQS], split[MAX_REQS];
    int failed_whole, failed_split;
    int n = feed(data, size, 0, whole, &failed_whole);
    size_t cut = size ? (data[size - 1] * 131u + size / 2) % (size + 1) : 0;
    int m = feed(data, size, cut, split, &failed_split);
    if (n != m || failed_whole != failed_split)
        abort();
    for (int i = 0; i < n; i++)
        if (whole[i].method != split[i].method || whole[i].h != split[i].h)
            abort();
    return 0;
}

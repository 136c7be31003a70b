/*
 * libFuzzer target for fhir__search_parse, the FHIR search-parameter parser every /fhir search
 * runs on a request's query. Input: the first byte picks the resource type and lenient mode;
 * the rest is a query string "name=value&name=value..." split here (no percent-decoding: the
 * parser receives decoded bytes, including NULs). Invariants: a refused search has a status
 * (400/406), an issue code and a message; an accepted one has a page size in 1..1000, ranges
 * and lists within their limits, and its cursor re-encodes to a token that decodes to the
 * same key. The self and next URLs are built too (the Bundle links).
 * Layer: tests. Thread: main.
 */
#include "core/mem.h"
#include "fhir/fhir_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum fhir_type type = (enum fhir_type)(data[0] % FHIR_TYPE__COUNT);
    bool lenient = data[0] & 0x80;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    struct fhir_param params[FHIR_PARAMS_MAX + 2];
    size_t n = 0;
    for (size_t start = 0, i = 0; i <= len && n < FHIR_PARAMS_MAX + 2; i++) {
        if (i < len && s[i] != '&')
            continue;
        const char *p = s + start;
        size_t plen = i - start;
        const char *eq = memchr(p, '=', plen);
        size_t nl = eq ? (size_t)(eq - p) : plen;
        params[n++] = (struct fhir_param){p, nl, eq ? eq + 1 : "", eq ? plen - nl - 1 : 0};
        start = i + 1;
    }
    struct fhir_query *q = hx_xmalloc(sizeof(*q));
    struct fhir_error err;
    if (fhir__search_parse(type, params, n, lenient, q, &err) != 0) {
        if ((err.status != 400 && err.status != 406) || !err.code || !err.diagnostics[0])
            abort();
    } else {
        if (q->count < 1 || q->count > FHIR_COUNT_MAX || q->n_ids > STORE_QUERY_VALUES_MAX ||
            q->n_texts > STORE_QUERY_VALUES_MAX || q->date.n_exclude > STORE_RANGE_EXCLUDE_MAX ||
            q->birth.n_exclude > STORE_RANGE_EXCLUDE_MAX ||
            q->last_updated.n_exclude > STORE_RANGE_EXCLUDE_MAX)
            abort();
        if (type == FHIR_OBSERVATION && !q->none && q->patient_id <= 0)
            abort();
        if (q->cursor.set) {
            char tok[FHIR_CURSOR_MAX + 1];
            struct fhir_cursor back;
            fhir__cursor_encode(type, &q->cursor, tok);
            if (fhir__cursor_decode(type, tok, strlen(tok), &back) != 0 || back.a != q->cursor.a)
                abort();
        }
        char *self = fhir__search_url("https://h/fhir", type, params, n, q->used, NULL);
        char *next = fhir__search_url("https://h/fhir", type, params, n, q->used, "abc");
        free(self);
        free(next);
    }
    free(q);
    return 0;
}

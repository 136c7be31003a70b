/*
 * libFuzzer target for webhook_url_parse, the strict URL parser behind `medhub webhook add`.
 * Invariants: an accepted URL has a non-empty host, a port in 1..65535 and a target starting
 * with '/'; a refused one says why.
 * Layer: tests. Thread: main.
 */
#include "core/mem.h"
#include "notify/webhook.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = hx_xstrndup((const char *)data, size);
    struct webhook_url u;
    char why[200] = "";
    if (webhook_url_parse(s, &u, why, sizeof(why)) == 0) {
        if (!u.host[0] || u.port == 0 || u.target[0] != '/')
            abort();
    } else if (!why[0]) {
        abort();
    }
    free(s);
    return 0;
}

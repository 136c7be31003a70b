/*
 * libFuzzer target for hx_time_parse, the forgiving time parser behind every CLI --from/--to
 * and API time filter. The input is NUL-terminated in a copy; a parsed time is formatted and
 * must parse back to the same instant when it lies in years 0000-9999.
 * Layer: tests. Thread: main.
 */
#include "core/hxtime.h"
#include "core/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in microseconds. */
#define MIN_RT (INT64_C(-62167219200) * HX_USEC_PER_SEC)
#define MAX_RT (INT64_C(253402300800) * HX_USEC_PER_SEC - 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = hx_xstrndup((const char *)data, size);
    const int64_t now = INT64_C(1795514400123456);
    int64_t t;
    if (hx_time_parse(s, now, &t) == 0) {
        char buf[40];
        hx_time_format_rfc3339(t, buf, sizeof(buf));
        if (t >= MIN_RT && t <= MAX_RT) {
            int64_t back;
            if (hx_time_parse(buf, now, &back) != 0 || back != t)
                abort(); /* format and parse disagree */
        }
    }
    free(s);
    return 0;
}

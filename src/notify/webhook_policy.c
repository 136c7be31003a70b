/*
 * Webhook naming and retry policy, pure: severity names, which webhook and event names are
 * acceptable, and the backoff between attempts. Layer: notify. Thread: any.
 */
#include "core/err.h"
#include "notify/webhook.h"

#include <string.h>

static bool all_in(const char *s, const char *set, size_t max)
{
    size_t n = strnlen(s, max + 1);
    return n >= 1 && n <= max && strspn(s, set) == n;
}

bool webhook_name_is_valid(const char *name)
{
    return name &&
           all_in(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", 63);
}

bool webhook_event_is_valid(const char *event)
{
    return event && event[0] >= 'a' && event[0] <= 'z' &&
           all_in(event, "abcdefghijklmnopqrstuvwxyz0123456789._-", 63);
}

uint64_t webhook_backoff_ms(uint32_t failures, uint32_t initial_ms, uint32_t max_ms, uint32_t rnd)
{
    uint64_t d = initial_ms;
    for (uint32_t i = 1; i < failures && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    uint64_t jitter = d / 4;
    if (jitter)
        d -= rnd % (jitter + 1);
    return d;
}

/*
 * The login throttle schedule (see throttle.h): exponential delay after a few free failures,
 * lockout after many. Pure: time comes in as an argument.
 * Layer: security. Thread: any.
 */
#include "security/throttle.h"

#include <stdbool.h>

int64_t sec_throttle_delay_us(const struct sec_throttle_policy *p, int64_t n)
{
    if (n <= (int64_t)p->free_failures || p->base_delay_us <= 0)
        return 0;
    int64_t d = p->base_delay_us;
    for (int64_t i = (int64_t)p->free_failures + 1; i < n && d < p->max_delay_us; i++)
        d *= 2;
    return d < p->max_delay_us ? d : p->max_delay_us;
}

/* Whether t's failures have aged out at now_us. */
static bool is_stale(const struct sec_throttle *t, const struct sec_throttle_policy *p,
                     int64_t now_us)
{
    return p->reset_after_us > 0 && t->last_failure_us > 0 &&
           now_us - t->last_failure_us >= p->reset_after_us && now_us >= t->locked_until_us;
}

enum sec_throttle_state sec_throttle_check(const struct sec_throttle *t,
                                           const struct sec_throttle_policy *p, int64_t now_us,
                                           int64_t *retry_after_us)
{
    if (retry_after_us)
        *retry_after_us = 0;
    if (is_stale(t, p, now_us))
        return SEC_THROTTLE_OPEN;
    if (t->locked_until_us > now_us) {
        if (retry_after_us)
            *retry_after_us = t->locked_until_us - now_us;
        return SEC_THROTTLE_LOCKED;
    }
    if (t->next_allowed_us > now_us) {
        if (retry_after_us)
            *retry_after_us = t->next_allowed_us - now_us;
        return SEC_THROTTLE_DELAYED;
    }
    return SEC_THROTTLE_OPEN;
}

void sec_throttle_fail(struct sec_throttle *t, const struct sec_throttle_policy *p, int64_t now_us)
{
    if (is_stale(t, p, now_us))
        *t = (struct sec_throttle){0};
    t->failures++;
    t->last_failure_us = now_us;
    t->next_allowed_us = now_us + sec_throttle_delay_us(p, t->failures);
    if (p->lock_after > 0 && t->failures >= (int64_t)p->lock_after) {
        t->locked_until_us = now_us + p->lock_duration_us;
        if (t->next_allowed_us < t->locked_until_us)
            t->next_allowed_us = t->locked_until_us;
    }
}

/*
 * hx_hist: log-linear buckets. Values below HX_HIST_SUB get one bucket each; above, the
 * power of two picks the group and the next 4 bits below the top bit the bucket in it.
 */
#include "core/hist.h"

static uint32_t bucket_of(uint64_t v)
{
    if (v < HX_HIST_SUB)
        return (uint32_t)v;
    int top = 63 - __builtin_clzll(v);              /* >= 4 */
    uint32_t sub = (uint32_t)(v >> (top - 4)) & 15; /* the 4 bits after the top bit */
    uint32_t b = (uint32_t)(top - 3) * HX_HIST_SUB + sub;
    return b < HX_HIST_BUCKETS ? b : HX_HIST_BUCKETS - 1;
}

/* The largest value that falls in bucket b. */
static uint64_t bucket_top(uint32_t b)
{
    if (b < HX_HIST_SUB)
        return b;
    uint32_t top = b / HX_HIST_SUB + 3, sub = b % HX_HIST_SUB;
    uint64_t lo = ((uint64_t)(HX_HIST_SUB + sub)) << (top - 4);
    return lo + (UINT64_C(1) << (top - 4)) - 1;
}

void hx_hist_record(struct hx_hist *h, uint64_t v)
{
    h->bucket[bucket_of(v)]++;
    h->count++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

uint64_t hx_hist_quantile(const struct hx_hist *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->count + 0.999999);
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (uint32_t b = 0; b < HX_HIST_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen >= want) {
            uint64_t top = bucket_top(b);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}

uint64_t hx_hist_count_le(const struct hx_hist *h, uint64_t v)
{
    if (v >= h->max)
        return h->count;
    uint64_t n = 0;
    uint32_t last = bucket_of(v);
    for (uint32_t b = 0; b <= last; b++)
        n += h->bucket[b];
    return n;
}

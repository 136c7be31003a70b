/*
 * hx_hist: a latency histogram with bounded relative error (log-linear buckets: 16 per power
 * of two, about 4 % wide), fixed size, no allocation: record is O(1) and percentiles are
 * O(buckets). Values are non-negative integers (microseconds, nanoseconds). Zero-initialise
 * before use. Thread: one at a time.
 */
#ifndef MEDHUB_CORE_HIST_H
#define MEDHUB_CORE_HIST_H

#include <stdint.h>

#define HX_HIST_SUB     16
#define HX_HIST_BUCKETS (64 * HX_HIST_SUB)

struct hx_hist {
    uint64_t count;                   /* values recorded */
    uint64_t max;                     /* largest value */
    uint64_t sum;                     /* sum of the values (wraps after 2^64) */
    uint64_t bucket[HX_HIST_BUCKETS]; /* counts */
};

void hx_hist_record(struct hx_hist *h, uint64_t v);
/* The value at quantile q (0..1]: an upper bound within one bucket; 0 when empty. */
uint64_t hx_hist_quantile(const struct hx_hist *h, double q);
/* How many values were at most v, counting whole buckets: exact when v is the top of a
 * bucket, else within one bucket (about 4 %) of it. For Prometheus histogram buckets. */
uint64_t hx_hist_count_le(const struct hx_hist *h, uint64_t v);

#endif

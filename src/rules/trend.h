/*
 * Trends over one patient's readings of one observation code: a fixed-capacity ring of
 * samples with two window queries (the change from the window's lowest or highest value to
 * the latest one, and the least-squares slope), and Holt's linear trend (double exponential
 * smoothing) for irregularly spaced samples with a threshold-crossing forecast.
 * See docs/rules-trends.md for the definitions, the equations and a worked example.
 *
 * Pure: no I/O, no globals, no allocation. The caller owns every struct (one series and/or
 * one Holt state per (patient, code)) and zero-initialises it or calls the _init function.
 * Thread: any; a struct is not safe to update from two threads at once.
 *
 * Rules that callers rely on:
 * - Times are int64_t microseconds since the epoch, UTC (core/hxtime.h). Values are in the
 *   code's canonical unit (domain/codes.h: weight kg, glucose mg/dL), so limits are too.
 * - Samples must come in time order. A sample older than the newest one is refused with
 *   HX_EINVAL and a sample at the same time as the newest one with HX_EEXIST; either way
 *   nothing changes (a resend of the same reading, e.g. an MQTT QoS 1 redelivery, must not
 *   count twice, and the first value at a given time wins). Late samples are never merged:
 *   a forecast cannot be rewound, and the rules engine evaluates the present.
 * - NaN and infinite values are refused with HX_EINVAL, and values beyond
 *   +-RULES_TREND_MAX_ABS with HX_ERANGE, so no query can overflow.
 * - Windows are closed at both ends: [now - window, now]. Samples after now are ignored, so
 *   a query at a past now sees the series as it was then.
 * - Compare results with limits through rules_trend_is_more_than, never with a bare '>':
 *   82.3 - 80.3 kg is exactly 2 but 128.3 - 126.3 is 2.000000000000014 in binary.
 */
#ifndef MEDHUB_RULES_TREND_H
#define MEDHUB_RULES_TREND_H

#include <stdbool.h>
#include <stdint.h>

/* Samples a series holds; adding to a full series drops the oldest. 64 covers a 15-minute
 * slope at one CGM reading a minute (64 min kept) or every 5 minutes (5 h 20 min), and a
 * 3-day weight window at up to 21 weighings a day. A window longer than the ring holds is
 * evaluated over the samples still held (see rules_series_change). 1032 bytes a series. */
#define RULES_SERIES_CAP 64

/* Largest magnitude a value may have (any canonical unit). Far above any physiological
 * value; it bounds every sum and product so that no query or forecast overflows. */
#define RULES_TREND_MAX_ABS 1e12

/* Relative slack of rules_trend_is_more_than: differences of binary doubles and of devices'
 * 32-bit floats are off by up to a few units in their last place (a 32-bit 127.1 kg is off
 * by 4e-6 kg). 1e-4 of the limit, at least 1e-4 absolute, is below any instrument's
 * resolution (0.2 g of a 2 kg weight limit, 2e-4 mg/dL/min of a glucose slope limit). */
#define RULES_TREND_SLACK 1e-4

/* Direction of a change or of a crossing. Zero is "not given" so that a zeroed argument is
 * caught. */
enum rules_trend_dir {
    RULES_TREND_RISING = 1,  /* upwards: a rise, crossing a threshold from below */
    RULES_TREND_FALLING = 2, /* downwards: a fall, crossing a threshold from above */
};

/* A ring of the latest samples of one (patient, code), oldest first from head. Samples are
 * strictly increasing in time. All zeroes is a valid empty series. */
struct rules_series {
    int64_t t_us[RULES_SERIES_CAP]; /* sample times, microseconds since the epoch, UTC */
    double v[RULES_SERIES_CAP];     /* sample values, canonical unit; v[i] goes with t_us[i] */
    uint32_t head;                  /* slot of the oldest sample, 0..RULES_SERIES_CAP-1 */
    uint32_t n;                     /* samples held, 0..RULES_SERIES_CAP; the newest is in slot
                                     * (head + n - 1) % RULES_SERIES_CAP */
};

/* Empties s (caller's storage). Thread: any. */
void rules_series_init(struct rules_series *s);

/* Appends the sample (t_us, v) as the newest. When the ring is full the oldest sample is
 * dropped to make room. s is borrowed for the call.
 * Returns 0; HX_EINVAL when v is NaN or infinite or t_us is older than the newest sample;
 * HX_EEXIST when t_us equals the newest sample's time (a resend: the value held is kept);
 * HX_ERANGE when |v| > RULES_TREND_MAX_ABS; HX_EINVAL when s is damaged (head or n out of
 * range). On any error s is unchanged. Thread: any. */
int rules_series_add(struct rules_series *s, int64_t t_us, double v);

/* The i-th sample held, 0 the oldest, n - 1 the newest.
 * OUT: *t_us, *v, written only on success. Returns 0, or HX_ENOTFOUND when i >= n;
 * HX_EINVAL when s is damaged. Thread: any. */
int rules_series_at(const struct rules_series *s, uint32_t i, int64_t *t_us, double *v);

/* The change up to the latest value in [now_us - window_us, now_us] (the newest sample at or
 * before now_us) from the most extreme value in that window:
 * - RISING: the rise latest - min(window), from the window's LOWEST value;
 * - FALLING: the fall max(window) - latest, from the window's HIGHEST value.
 * Both are >= 0. Comparing with the window's extreme rather than its first sample detects a
 * gain whatever the path (weight fluctuates by a kilogram a day: 70, 71, 69.5, 71.6 is a
 * 2.1 kg gain since the 69.5). The extreme is found among the samples the ring still holds:
 * size RULES_SERIES_CAP to the window (a dropped sample can only hide a change, never make
 * one up). Ties go to the most recent sample, the shortest interval with that change.
 * Heart-failure weight gain: rules_trend_is_more_than(delta, 2.0) with a 3-day window, or
 * 1.5 with a 1-day window.
 * OUT: *delta (canonical unit, >= 0) and *from_t_us (time of the extreme sample), written
 * only on success.
 * Returns 0; HX_ENOTFOUND when the window holds fewer than two samples; HX_EINVAL when
 * window_us <= 0, dir is not a rules_trend_dir or s is damaged. Thread: any. */
int rules_series_change(const struct rules_series *s, int64_t now_us, int64_t window_us,
                        enum rules_trend_dir dir, double *delta, int64_t *from_t_us);

/* The ordinary least-squares slope of value against time over the samples in
 * [now_us - window_us, now_us], in canonical units per minute (negative when falling).
 * Glucose falling faster than 2 mg/dL/min over 15 minutes:
 * rules_trend_is_more_than(-per_minute, 2.0) with window_us 15 minutes.
 * A slope needs enough of the window: at least min_points samples, spanning (first to last
 * sample used) at least half the window, so that three readings bunched into the last two
 * minutes of a 15-minute window are not taken for the 15-minute trend.
 * OUT: *per_minute, written only on success.
 * Returns 0; HX_ENOTFOUND when fewer than min_points samples are in the window or they
 * span less than window_us / 2; HX_EINVAL when window_us <= 0, min_points < 2 or s is
 * damaged. Thread: any. */
int rules_series_slope(const struct rules_series *s, int64_t now_us, int64_t window_us,
                       uint32_t min_points, double *per_minute);

/* True when x is more than limit, by more than RULES_TREND_SLACK * max(1, |limit|): "more
 * than 2 kg" is false for a computed 2.000000000000014 and true for 2.01. False when either
 * is NaN. Thread: any. */
bool rules_trend_is_more_than(double x, double limit);

/* Holt's linear trend state for one (patient, code): a smoothed level and a smoothed slope,
 * updated with each sample. All zeroes is a valid state with no samples. */
struct rules_holt {
    double level;      /* smoothed value at last_t_us, canonical unit */
    double trend;      /* smoothed slope, canonical unit per second */
    int64_t last_t_us; /* time of the latest sample folded in */
    bool initialised;  /* a sample has been folded in since the last (re)start; the other
                        * fields are meaningless while false */
    uint32_t n;        /* samples folded in since the last (re)start: the trend is a first
                        * difference at 2 and smoothed from 3 on */
};

/* How a Holt state is updated. alpha and beta are the weights of a new sample for a step of
 * exactly step_us; a longer step gives the new sample more weight, a shorter one less:
 * alpha(dt) = 1 - (1 - alpha)^(dt / step_us), likewise beta (docs/rules-trends.md). */
struct rules_holt_params {
    double alpha;       /* level smoothing weight per step_us, in (0, 1]; 1 follows the data */
    double beta;        /* trend smoothing weight per step_us, in (0, 1] */
    int64_t step_us;    /* the step alpha and beta are given for, > 0: the device's usual
                         * sampling interval (1-5 min for a CGM, 1 day for a scale) */
    int64_t max_gap_us; /* a sample more than this after the previous one restarts the
                         * state (n = 1): a trend is not carried across a long gap, > 0 */
};

/* Forgets every sample (caller's storage). Thread: any. */
void rules_holt_init(struct rules_holt *h);

/* Folds the sample (t_us, v) into h. The first sample (or the first after a restart) sets
 * the level and a zero trend; the second sets the level and the trend as the first
 * difference per second; from the third on the Holt recursions run with the time-scaled
 * weights of p. h is borrowed for the call, p for the call.
 * Restarts from this sample (n = 1) when it comes more than p->max_gap_us after the
 * previous one, or when the recursion would leave the finite range.
 * Returns 0; HX_EINVAL when v is NaN or infinite, t_us is older than the latest sample, or
 * p is out of range; HX_EEXIST when t_us equals the latest sample's time; HX_ERANGE when
 * |v| > RULES_TREND_MAX_ABS. On any error h is unchanged. Thread: any. */
int rules_holt_update(struct rules_holt *h, const struct rules_holt_params *p, int64_t t_us,
                      double v);

/* Whether the straight-line projection level + trend * (t - last_t_us) reaches threshold
 * going in direction dir within horizon_us after the latest sample, and when. A level
 * already at or beyond the threshold crosses at last_t_us. A trend of zero or in the other
 * direction never crosses. The projection is a forecast, not a measurement: the rules
 * engine raises at most a lower-severity "predicted" alert from it (docs/rules-trends.md).
 * h is borrowed for the call.
 * OUT: *crosses; *eta_us (absolute time, microseconds since the epoch, the first
 * microsecond at which the projection has reached threshold) when *crosses, else left
 * alone. Written only on success.
 * Returns 0; HX_ENOTFOUND when fewer than min_points samples have been folded in since the
 * last (re)start; HX_EINVAL when min_points < 2, horizon_us < 0, threshold is not finite,
 * dir is not a rules_trend_dir or h holds non-finite numbers. Thread: any. */
int rules_holt_time_to_cross(const struct rules_holt *h, double threshold, enum rules_trend_dir dir,
                             int64_t horizon_us, uint32_t min_points, bool *crosses,
                             int64_t *eta_us);

#endif

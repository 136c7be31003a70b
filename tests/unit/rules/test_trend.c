/*
 * Unit tests for src/rules/trend.c: heart-failure weight gain at the "more than 2 kg in 3
 * days" and "1.5 kg in 1 day" boundaries, fluctuating weights, falls, the CGM glucose slope
 * (-2.5 mg/dL/min detected, -1.5 not; noisy readings; too few points or too short a span),
 * the ring dropping its oldest samples, out-of-order and duplicate samples, and Holt's
 * forecast (crossing time of a linear rise at irregular steps, noise, flat, falling, too few
 * points, gaps, the time-scaled weights and invalid input).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "rules/trend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEC_US  INT64_C(1000000)
#define MIN_US  (60 * SEC_US)
#define HOUR_US (60 * MIN_US)
#define DAY_US  (24 * HOUR_US)
#define T0      (INT64_C(1767225600) * SEC_US) /* 2026-01-01T00:00:00Z */

static void add_ok(struct rules_series *s, int64_t t_us, double v)
{
    int rc = rules_series_add(s, t_us, v);
    if (rc != 0)
        fail_msg("rules_series_add(%lld, %g): %d (%s)", (long long)t_us, v, rc, hx_strerror(rc));
}

static double change_ok(const struct rules_series *s, int64_t now_us, int64_t window_us,
                        enum rules_trend_dir dir, int64_t *from_t_us)
{
    double delta = NAN;
    int64_t from = 0;
    int rc = rules_series_change(s, now_us, window_us, dir, &delta, &from);
    if (rc != 0)
        fail_msg("rules_series_change: %d (%s)", rc, hx_strerror(rc));
    if (from_t_us)
        *from_t_us = from;
    return delta;
}

static double slope_ok(const struct rules_series *s, int64_t now_us, int64_t window_us,
                       uint32_t min_points)
{
    double per_minute = NAN;
    int rc = rules_series_slope(s, now_us, window_us, min_points, &per_minute);
    if (rc != 0)
        fail_msg("rules_series_slope: %d (%s)", rc, hx_strerror(rc));
    return per_minute;
}

/* The heart-failure weight rule: more than 2 kg in 3 days or more than 1.5 kg in 1 day. */
static bool weight_gain_alert(const struct rules_series *s, int64_t now_us)
{
    double d3 = 0, d1 = 0;
    int64_t from;
    int rc3 = rules_series_change(s, now_us, 3 * DAY_US, RULES_TREND_RISING, &d3, &from);
    int rc1 = rules_series_change(s, now_us, 1 * DAY_US, RULES_TREND_RISING, &d1, &from);
    assert_true(rc3 == 0 || rc3 == HX_ENOTFOUND);
    assert_true(rc1 == 0 || rc1 == HX_ENOTFOUND);
    return (rc3 == 0 && rules_trend_is_more_than(d3, 2.0)) ||
           (rc1 == 0 && rules_trend_is_more_than(d1, 1.5));
}

/* The CGM rule: glucose falling faster than 2 mg/dL per minute over the last 15 minutes. */
static bool glucose_fall_alert(const struct rules_series *s, int64_t now_us, uint32_t min_points)
{
    double per_minute;
    int rc = rules_series_slope(s, now_us, 15 * MIN_US, min_points, &per_minute);
    assert_true(rc == 0 || rc == HX_ENOTFOUND);
    return rc == 0 && rules_trend_is_more_than(-per_minute, 2.0);
}

/* Daily 07:00 weighings, day 0 first. */
static void weigh_daily(struct rules_series *s, const double *kg, size_t n)
{
    rules_series_init(s);
    for (size_t i = 0; i < n; i++)
        add_ok(s, T0 + (int64_t)i * DAY_US + 7 * HOUR_US, kg[i]);
}

#define WEIGH_DAILY(s, kg) weigh_daily(s, kg, sizeof(kg) / sizeof(kg[0]))

static void test_trend_weight_2kg_in_3_days_boundary(void **state)
{
    (void)state;
    struct rules_series s;
    int64_t day3 = T0 + 3 * DAY_US + 7 * HOUR_US;
    int64_t from;

    /* Exactly 2.0 kg since the weighing exactly 3 days ago (window closed at both ends),
     * and never more than 1.5 kg in a day: not "more than 2 kg". */
    static const double exactly2[] = {70.0, 70.6, 71.3, 72.0};
    WEIGH_DAILY(&s, exactly2);
    double d = change_ok(&s, day3, 3 * DAY_US, RULES_TREND_RISING, &from);
    assert_true(d == 2.0);
    assert_true(from == T0 + 7 * HOUR_US);
    assert_false(weight_gain_alert(&s, day3));

    static const double over2[] = {70.0, 70.6, 71.3, 72.01};
    WEIGH_DAILY(&s, over2);
    d = change_ok(&s, day3, 3 * DAY_US, RULES_TREND_RISING, NULL);
    assert_true(fabs(d - 2.01) < 1e-9);
    assert_true(weight_gain_alert(&s, day3));

    /* One microsecond later the day-0 weighing has left the window: the rise is from day 1. */
    d = change_ok(&s, day3 + 1, 3 * DAY_US, RULES_TREND_RISING, &from);
    assert_true(fabs(d - 1.41) < 1e-9);
    assert_true(from == T0 + DAY_US + 7 * HOUR_US);
    assert_false(weight_gain_alert(&s, day3 + 1));

    /* 128.3 - 126.3 is 2.000000000000014 in binary: still exactly 2 kg, no alert. */
    static const double binary2[] = {126.3, 126.9, 127.5, 128.3};
    WEIGH_DAILY(&s, binary2);
    d = change_ok(&s, day3, 3 * DAY_US, RULES_TREND_RISING, NULL);
    assert_true(d > 2.0); /* what a bare '>' would alert on */
    assert_false(weight_gain_alert(&s, day3));

    /* The same from a scale that sends 32-bit floats (2.0000038 apart). */
    static const double float2[] = {(float)62.3, (float)63.0, (float)63.7, (float)64.3};
    WEIGH_DAILY(&s, float2);
    d = change_ok(&s, day3, 3 * DAY_US, RULES_TREND_RISING, NULL);
    assert_true(d > 2.0 && d < 2.00001);
    assert_false(weight_gain_alert(&s, day3));
}

static void test_trend_weight_1_5kg_in_1_day_boundary(void **state)
{
    (void)state;
    struct rules_series s;
    int64_t day3 = T0 + 3 * DAY_US + 7 * HOUR_US;

    static const double exactly15[] = {70.0, 70.0, 70.0, 71.5};
    WEIGH_DAILY(&s, exactly15);
    assert_true(change_ok(&s, day3, DAY_US, RULES_TREND_RISING, NULL) == 1.5);
    assert_false(weight_gain_alert(&s, day3));

    static const double over15[] = {70.0, 70.0, 70.0, 71.51};
    WEIGH_DAILY(&s, over15);
    double d1 = change_ok(&s, day3, DAY_US, RULES_TREND_RISING, NULL);
    double d3 = change_ok(&s, day3, 3 * DAY_US, RULES_TREND_RISING, NULL);
    assert_true(fabs(d1 - 1.51) < 1e-9);
    assert_false(rules_trend_is_more_than(d3, 2.0)); /* the 1-day rule alone fires */
    assert_true(weight_gain_alert(&s, day3));

    /* An evening weighing 12 hours after a morning one: 1.6 kg within the day. */
    rules_series_init(&s);
    add_ok(&s, T0 + 7 * HOUR_US, 80.0);
    add_ok(&s, T0 + 19 * HOUR_US, 81.6);
    assert_true(weight_gain_alert(&s, T0 + 19 * HOUR_US));
}

/* Weight fluctuates: the gain is measured from the window's lowest value, whatever the path,
 * and the fall from the highest. */
static void test_trend_change_fluctuating_series(void **state)
{
    (void)state;
    struct rules_series s;
    int64_t day3 = T0 + 3 * DAY_US + 7 * HOUR_US;
    int64_t from;

    /* Twice a day: up and down by a kilogram, lowest 69.5 on the morning of day 1. */
    rules_series_init(&s);
    static const double kg[] = {70.0, 71.0, 69.5, 70.8, 70.2, 71.1, 71.6};
    for (int i = 0; i < 7; i++)
        add_ok(&s, T0 + 7 * HOUR_US + i * 12 * HOUR_US, kg[i]);
    int64_t now = T0 + 7 * HOUR_US + 6 * 12 * HOUR_US;
    double d = change_ok(&s, now, 3 * DAY_US, RULES_TREND_RISING, &from);
    assert_true(fabs(d - 2.1) < 1e-9); /* from 69.5, though latest - first is only 1.6 */
    assert_true(from == T0 + 7 * HOUR_US + 2 * 12 * HOUR_US);
    assert_true(weight_gain_alert(&s, now));

    /* Fall from the highest value in the window: the 71.6 of the weighing before. */
    add_ok(&s, now + 12 * HOUR_US, 69.0);
    d = change_ok(&s, now + 12 * HOUR_US, 3 * DAY_US, RULES_TREND_FALLING, &from);
    assert_true(fabs(d - 2.6) < 1e-9);
    assert_true(from == now);
    /* The rise to a latest value that is the window's lowest is 0, from the latest. */
    d = change_ok(&s, now + 12 * HOUR_US, 3 * DAY_US, RULES_TREND_RISING, &from);
    assert_true(d == 0);
    assert_true(from == now + 12 * HOUR_US);

    /* Ties go to the most recent sample. */
    static const double tie[] = {70.0, 72.0, 70.0, 71.0};
    WEIGH_DAILY(&s, tie);
    d = change_ok(&s, day3, 3 * DAY_US, RULES_TREND_RISING, &from);
    assert_true(d == 1.0);
    assert_true(from == T0 + 2 * DAY_US + 7 * HOUR_US);
    d = change_ok(&s, day3, 3 * DAY_US, RULES_TREND_FALLING, &from);
    assert_true(d == 1.0);
    assert_true(from == T0 + DAY_US + 7 * HOUR_US);
}

/* Window edges: samples after now are not seen, fewer than two samples is no change. */
static void test_trend_change_window_edges(void **state)
{
    (void)state;
    struct rules_series s;
    rules_series_init(&s);
    double d = 0;
    int64_t from = 0;
    assert_int_equal(rules_series_change(&s, T0, DAY_US, RULES_TREND_RISING, &d, &from),
                     HX_ENOTFOUND);
    static const double kg[] = {70.0, 71.0, 73.0};
    WEIGH_DAILY(&s, kg);

    /* At day 1 the series is 70, 71: the day-2 sample is in the future. */
    int64_t day1 = T0 + DAY_US + 7 * HOUR_US;
    assert_true(change_ok(&s, day1, 3 * DAY_US, RULES_TREND_RISING, NULL) == 1.0);
    /* At day 1 with a 12-hour window only one sample is in it. */
    assert_int_equal(rules_series_change(&s, day1, 12 * HOUR_US, RULES_TREND_RISING, &d, &from),
                     HX_ENOTFOUND);
    /* Long after the last weighing nothing is in the window. */
    assert_int_equal(
        rules_series_change(&s, T0 + 30 * DAY_US, 3 * DAY_US, RULES_TREND_RISING, &d, &from),
        HX_ENOTFOUND);
    /* Before the first sample, and with extreme times and windows (no overflow). */
    assert_int_equal(rules_series_change(&s, T0, 3 * DAY_US, RULES_TREND_RISING, &d, &from),
                     HX_ENOTFOUND);
    assert_true(change_ok(&s, INT64_MAX, INT64_MAX, RULES_TREND_RISING, NULL) == 3.0);
    assert_int_equal(rules_series_change(&s, INT64_MIN, INT64_MAX, RULES_TREND_RISING, &d, &from),
                     HX_ENOTFOUND);

    assert_true(d == 0 && from == 0); /* untouched on error */
    assert_int_equal(rules_series_change(&s, day1, 0, RULES_TREND_RISING, &d, &from), HX_EINVAL);
    assert_int_equal(rules_series_change(&s, day1, -DAY_US, RULES_TREND_RISING, &d, &from),
                     HX_EINVAL);
    assert_int_equal(rules_series_change(&s, day1, DAY_US, 0, &d, &from), HX_EINVAL);
    assert_int_equal(rules_series_change(&s, day1, DAY_US, 3, &d, &from), HX_EINVAL);
}

/* CGM readings every cadence_min minutes for 30 minutes, from 180 mg/dL at slope
 * mg_per_min, plus noise[i] when given. Returns the time of the last reading. */
static int64_t cgm(struct rules_series *s, int cadence_min, double mg_per_min, const double *noise)
{
    rules_series_init(s);
    int64_t t = T0;
    for (int i = 0, m = 0; m <= 30; i++, m += cadence_min) {
        t = T0 + m * MIN_US;
        add_ok(s, t, 180.0 + mg_per_min * m + (noise ? noise[i] : 0));
    }
    return t;
}

static void test_trend_slope_linear_glucose_decline(void **state)
{
    (void)state;
    struct rules_series s;
    static const int cadences[] = {1, 2, 3, 5};
    for (size_t c = 0; c < sizeof(cadences) / sizeof(cadences[0]); c++) {
        int64_t now = cgm(&s, cadences[c], -2.5, NULL);
        double slope = slope_ok(&s, now, 15 * MIN_US, 3);
        if (fabs(slope + 2.5) > 1e-9)
            fail_msg("every %d min: slope %.12g, want -2.5", cadences[c], slope);
        assert_true(glucose_fall_alert(&s, now, 3));

        now = cgm(&s, cadences[c], -1.5, NULL);
        assert_true(fabs(slope_ok(&s, now, 15 * MIN_US, 3) + 1.5) < 1e-9);
        assert_false(glucose_fall_alert(&s, now, 3));

        /* Rising at 2.5 is not a fall; exactly -2.0 is not "faster than 2". */
        now = cgm(&s, cadences[c], 2.5, NULL);
        assert_true(fabs(slope_ok(&s, now, 15 * MIN_US, 3) - 2.5) < 1e-9);
        assert_false(glucose_fall_alert(&s, now, 3));
        now = cgm(&s, cadences[c], -2.0, NULL);
        assert_false(glucose_fall_alert(&s, now, 3));
        now = cgm(&s, cadences[c], -2.01, NULL);
        assert_true(glucose_fall_alert(&s, now, 3));
    }

    /* Irregular intervals (1 to 4 minutes, seconds off the minute) on the same line. */
    rules_series_init(&s);
    static const int64_t at_s[] = {0, 70, 250, 380, 500, 560, 800, 870, 1020, 1100, 1150, 1300};
    for (size_t i = 0; i < sizeof(at_s) / sizeof(at_s[0]); i++)
        add_ok(&s, T0 + at_s[i] * SEC_US, 200.0 - 2.5 * (double)at_s[i] / 60.0);
    int64_t now = T0 + 1300 * SEC_US;
    assert_true(fabs(slope_ok(&s, now, 15 * MIN_US, 5) + 2.5) < 1e-9);
    assert_true(glucose_fall_alert(&s, now, 5));
}

/* Sensor noise of up to +-4 mg/dL: the least-squares slope still finds -2.5 and a flat
 * trace stays flat. The noise pattern is fixed so the test is repeatable. */
static void test_trend_slope_noisy_glucose(void **state)
{
    (void)state;
    static const double noise[] = {1.8,  -3.1, 0.4, 2.9,  -1.2, -3.9, 2.2,  0.7,  -2.4, 3.6, 1.1,
                                   -0.6, -3.3, 2.5, 0.2,  -1.7, 3.9,  -2.8, 0.9,  -0.3, 2.7, -3.5,
                                   1.4,  -1.1, 3.2, -2.0, 0.6,  -3.7, 2.1,  -0.9, 1.5};
    struct rules_series s;
    int64_t now = cgm(&s, 1, -2.5, noise);
    double slope = slope_ok(&s, now, 15 * MIN_US, 5);
    assert_true(slope < -2.2 && slope > -2.8);
    assert_true(glucose_fall_alert(&s, now, 5));

    now = cgm(&s, 1, -1.5, noise);
    slope = slope_ok(&s, now, 15 * MIN_US, 5);
    assert_true(slope < -1.2 && slope > -1.8);
    assert_false(glucose_fall_alert(&s, now, 5));

    now = cgm(&s, 1, 0, noise);
    assert_true(fabs(slope_ok(&s, now, 15 * MIN_US, 5)) < 0.3);
    assert_false(glucose_fall_alert(&s, now, 5));

    /* At minute 21 of the flat trace two consecutive readings are 6.2 mg/dL apart: a
     * -6.2 mg/dL/min "trend" over a 1-minute window, while the 15-minute least-squares slope
     * does not follow the noise. */
    now = cgm(&s, 1, 0, noise);
    double one_minute = 0;
    assert_int_equal(rules_series_slope(&s, T0 + 21 * MIN_US, MIN_US, 2, &one_minute), 0);
    assert_true(fabs(one_minute + 6.2) < 1e-9);
    assert_false(glucose_fall_alert(&s, T0 + 21 * MIN_US, 5));
}

static void test_trend_slope_too_few_points_or_short_span(void **state)
{
    (void)state;
    struct rules_series s;
    double slope = 42;

    /* Every 5 minutes: 4 readings in a closed 15-minute window. */
    int64_t now = cgm(&s, 5, -2.5, NULL);
    assert_true(fabs(slope_ok(&s, now, 15 * MIN_US, 4) + 2.5) < 1e-9);
    assert_int_equal(rules_series_slope(&s, now, 15 * MIN_US, 5, &slope), HX_ENOTFOUND);
    assert_int_equal(rules_series_slope(&s, now, 14 * MIN_US, 4, &slope), HX_ENOTFOUND);

    /* Three readings bunched into the last 2 minutes of the window: span 2 < 7.5 minutes. */
    rules_series_init(&s);
    add_ok(&s, T0 - 60 * MIN_US, 100);
    add_ok(&s, T0 + 13 * MIN_US, 100);
    add_ok(&s, T0 + 14 * MIN_US, 97.5);
    add_ok(&s, T0 + 15 * MIN_US, 95);
    assert_int_equal(rules_series_slope(&s, T0 + 15 * MIN_US, 15 * MIN_US, 3, &slope),
                     HX_ENOTFOUND);
    /* A span of exactly half the window is enough; a microsecond less is not. */
    rules_series_init(&s);
    add_ok(&s, T0 + 7 * MIN_US + 30 * SEC_US, 100);
    add_ok(&s, T0 + 15 * MIN_US, 95);
    assert_true(fabs(slope_ok(&s, T0 + 15 * MIN_US, 15 * MIN_US, 2) + 5 / 7.5) < 1e-9);
    rules_series_init(&s);
    add_ok(&s, T0 + 7 * MIN_US + 30 * SEC_US + 1, 100);
    add_ok(&s, T0 + 15 * MIN_US, 95);
    assert_int_equal(rules_series_slope(&s, T0 + 15 * MIN_US, 15 * MIN_US, 2, &slope),
                     HX_ENOTFOUND);

    /* Empty series, nothing in the window, invalid arguments. */
    rules_series_init(&s);
    slope = 42;
    assert_int_equal(rules_series_slope(&s, T0, 15 * MIN_US, 2, &slope), HX_ENOTFOUND);
    add_ok(&s, T0, 100);
    assert_int_equal(rules_series_slope(&s, T0, 15 * MIN_US, 2, &slope), HX_ENOTFOUND);
    assert_int_equal(rules_series_slope(&s, T0, 15 * MIN_US, 1, &slope), HX_EINVAL);
    assert_int_equal(rules_series_slope(&s, T0, 15 * MIN_US, 0, &slope), HX_EINVAL);
    assert_int_equal(rules_series_slope(&s, T0, 0, 2, &slope), HX_EINVAL);
    assert_true(slope == 42); /* untouched on error */
}

/* Adding to a full ring drops the oldest sample; queries see only what is held. */
static void test_trend_series_ring_drops_oldest(void **state)
{
    (void)state;
    struct rules_series s;
    rules_series_init(&s);
    const uint32_t extra = 10;
    for (uint32_t i = 0; i < RULES_SERIES_CAP + extra; i++) {
        add_ok(&s, T0 + (int64_t)i * MIN_US, 100.0 + i);
        assert_int_equal(s.n, i < RULES_SERIES_CAP ? i + 1 : RULES_SERIES_CAP);
    }
    int64_t t;
    double v;
    for (uint32_t i = 0; i < RULES_SERIES_CAP; i++) {
        assert_int_equal(rules_series_at(&s, i, &t, &v), 0);
        assert_true(t == T0 + (int64_t)(i + extra) * MIN_US);
        assert_true(v == 100.0 + i + extra);
    }
    assert_int_equal(rules_series_at(&s, RULES_SERIES_CAP, &t, &v), HX_ENOTFOUND);

    /* The window reaches back before the oldest held sample: the change is from it. */
    int64_t now = T0 + (int64_t)(RULES_SERIES_CAP + extra - 1) * MIN_US;
    int64_t from;
    double d = change_ok(&s, now, 24 * HOUR_US, RULES_TREND_RISING, &from);
    assert_true(d == RULES_SERIES_CAP - 1);
    assert_true(from == T0 + (int64_t)extra * MIN_US);
    assert_true(fabs(slope_ok(&s, now, 100 * MIN_US, 2) - 1.0) < 1e-9);

    /* A fresh ring is empty; init empties a full one. */
    rules_series_init(&s);
    assert_int_equal(s.n, 0);
    assert_int_equal(rules_series_at(&s, 0, &t, &v), HX_ENOTFOUND);
}

/* Late samples are refused, a resend of the newest time is ignored, and neither changes the
 * series; so are NaN, infinities and absurd values. A damaged struct is refused. */
static void test_trend_series_rejects_out_of_order_and_bad_values(void **state)
{
    (void)state;
    struct rules_series s, before;
    rules_series_init(&s);
    add_ok(&s, T0, 70.0);
    add_ok(&s, T0 + DAY_US, 71.0);
    memcpy(&before, &s, sizeof(s));

    assert_int_equal(rules_series_add(&s, T0 + DAY_US - 1, 90.0), HX_EINVAL);
    assert_int_equal(rules_series_add(&s, T0, 70.0), HX_EINVAL);
    assert_int_equal(rules_series_add(&s, T0 + DAY_US, 75.0), HX_EEXIST);
    assert_int_equal(rules_series_add(&s, T0 + 2 * DAY_US, NAN), HX_EINVAL);
    assert_int_equal(rules_series_add(&s, T0 + 2 * DAY_US, INFINITY), HX_EINVAL);
    assert_int_equal(rules_series_add(&s, T0 + 2 * DAY_US, -INFINITY), HX_EINVAL);
    assert_int_equal(rules_series_add(&s, T0 + 2 * DAY_US, 2e12), HX_ERANGE);
    assert_int_equal(rules_series_add(&s, T0 + 2 * DAY_US, -2e12), HX_ERANGE);
    assert_memory_equal(&s, &before, sizeof(s));

    /* The series goes on from where it was. */
    add_ok(&s, T0 + DAY_US + 1, 71.5);
    add_ok(&s, T0 + 2 * DAY_US, -RULES_TREND_MAX_ABS);
    assert_int_equal(s.n, 4);

    /* Damaged head or count. */
    struct rules_series bad = before;
    bad.n = RULES_SERIES_CAP + 1;
    double d;
    int64_t t;
    assert_int_equal(rules_series_add(&bad, T0 + 3 * DAY_US, 70), HX_EINVAL);
    assert_int_equal(rules_series_at(&bad, 0, &t, &d), HX_EINVAL);
    bad = before;
    bad.head = RULES_SERIES_CAP;
    assert_int_equal(rules_series_change(&bad, T0, DAY_US, RULES_TREND_RISING, &d, &t), HX_EINVAL);
    assert_int_equal(rules_series_slope(&bad, T0, DAY_US, 2, &d), HX_EINVAL);

    /* All zeroes is an empty series, as documented. */
    struct rules_series zero = {0};
    add_ok(&zero, T0, 70);
    assert_int_equal(zero.n, 1);
}

static void test_trend_is_more_than(void **state)
{
    (void)state;
    assert_false(rules_trend_is_more_than(2.0, 2.0));
    assert_false(rules_trend_is_more_than(2.000000000000014, 2.0));
    assert_false(rules_trend_is_more_than(2.0000038, 2.0));
    assert_false(rules_trend_is_more_than(2.00019, 2.0));
    assert_true(rules_trend_is_more_than(2.00021, 2.0));
    assert_true(rules_trend_is_more_than(2.01, 2.0));
    assert_false(rules_trend_is_more_than(1.99, 2.0));
    assert_true(rules_trend_is_more_than(1.51, 1.5));
    assert_false(rules_trend_is_more_than(1.5, 1.5));
    /* Small limits keep an absolute slack of 1e-4; large ones scale. */
    assert_false(rules_trend_is_more_than(0.00005, 0));
    assert_true(rules_trend_is_more_than(0.0002, 0));
    assert_false(rules_trend_is_more_than(5000.4, 5000));
    assert_true(rules_trend_is_more_than(5001, 5000));
    assert_true(rules_trend_is_more_than(-1.9, -2.0));
    assert_false(rules_trend_is_more_than(NAN, 2.0));
    assert_false(rules_trend_is_more_than(3.0, NAN));
    assert_true(rules_trend_is_more_than(INFINITY, 2.0));
    assert_false(rules_trend_is_more_than(-INFINITY, 2.0));
}

/* Typical CGM parameters: weights per 5-minute reading, restart after 30 minutes silent. */
static const struct rules_holt_params cgm_params = {
    .alpha = 0.5,
    .beta = 0.3,
    .step_us = 5 * MIN_US,
    .max_gap_us = 30 * MIN_US,
};

static void holt_ok(struct rules_holt *h, const struct rules_holt_params *p, int64_t t_us, double v)
{
    int rc = rules_holt_update(h, p, t_us, v);
    if (rc != 0)
        fail_msg("rules_holt_update(%lld, %g): %d (%s)", (long long)t_us, v, rc, hx_strerror(rc));
}

static bool cross_ok(const struct rules_holt *h, double threshold, enum rules_trend_dir dir,
                     int64_t horizon_us, uint32_t min_points, int64_t *eta_us)
{
    bool crosses = false;
    int rc = rules_holt_time_to_cross(h, threshold, dir, horizon_us, min_points, &crosses, eta_us);
    if (rc != 0)
        fail_msg("rules_holt_time_to_cross: %d (%s)", rc, hx_strerror(rc));
    return crosses;
}

/* A linear rise at irregular steps: level and trend follow the line exactly, and the
 * crossing time is where the line reaches the threshold. */
static void test_trend_holt_linear_rise_predicts_crossing(void **state)
{
    (void)state;
    struct rules_holt h;
    rules_holt_init(&h);
    /* 100 + 0.5/min, readings 1 to 5 minutes apart (seconds off the minute). */
    static const int64_t at_s[] = {0, 300, 420, 700, 1000, 1060, 1360, 1500, 1800, 2000};
    for (size_t i = 0; i < sizeof(at_s) / sizeof(at_s[0]); i++)
        holt_ok(&h, &cgm_params, T0 + at_s[i] * SEC_US, 100.0 + 0.5 * (double)at_s[i] / 60.0);
    assert_int_equal(h.n, 10);
    assert_true(fabs(h.level - (100.0 + 0.5 * 2000 / 60.0)) < 1e-9);
    assert_true(fabs(h.trend * 60 - 0.5) < 1e-9);
    assert_true(h.last_t_us == T0 + 2000 * SEC_US);

    /* 130 is reached at minute 60 on the line. */
    int64_t eta = 0;
    assert_true(cross_ok(&h, 130, RULES_TREND_RISING, HOUR_US, 5, &eta));
    assert_true(llabs(eta - (T0 + 60 * MIN_US)) <= SEC_US);
    /* The horizon counts from the latest sample (minute 33.3): 26.7 minutes to go. */
    eta = 0;
    assert_false(cross_ok(&h, 130, RULES_TREND_RISING, 26 * MIN_US, 5, &eta));
    assert_true(eta == 0); /* left alone when it does not cross */
    assert_true(cross_ok(&h, 130, RULES_TREND_RISING, 27 * MIN_US, 5, &eta));
    /* Not falling to anything below. */
    assert_false(cross_ok(&h, 100, RULES_TREND_FALLING, 100 * HOUR_US, 5, &eta));
    /* Already above: crosses at the latest sample. */
    assert_true(cross_ok(&h, 110, RULES_TREND_RISING, 0, 5, &eta));
    assert_true(eta == h.last_t_us);
}

/* With CGM noise the forecast is near the true crossing, not on it. */
static void test_trend_holt_noisy_rise_within_tolerance(void **state)
{
    (void)state;
    static const double noise[] = {1.5, -2.0, 0.5, 2.0,  -1.5, -2.0, 1.0,
                                   0.5, -1.0, 2.0, -0.5, -1.5, 1.5};
    struct rules_holt h;
    rules_holt_init(&h);
    /* 150 + 1 mg/dL/min every 5 minutes for an hour; 250 is reached at minute 100. */
    for (int i = 0; i <= 12; i++)
        holt_ok(&h, &cgm_params, T0 + i * 5 * MIN_US, 150.0 + 5.0 * i + noise[i]);
    int64_t eta = 0;
    assert_true(cross_ok(&h, 250, RULES_TREND_RISING, HOUR_US, 5, &eta));
    /* 40 minutes ahead; within 10 minutes of the truth. */
    assert_true(llabs(eta - (T0 + 100 * MIN_US)) <= 10 * MIN_US);
}

static void test_trend_holt_flat_never_crosses(void **state)
{
    (void)state;
    struct rules_holt h;
    rules_holt_init(&h);
    for (int i = 0; i < 20; i++)
        holt_ok(&h, &cgm_params, T0 + i * 5 * MIN_US, 120.0);
    assert_true(h.trend == 0);
    int64_t eta = 0;
    assert_false(cross_ok(&h, 121, RULES_TREND_RISING, INT64_MAX, 3, &eta));
    assert_false(cross_ok(&h, 119, RULES_TREND_FALLING, INT64_MAX, 3, &eta));
    assert_true(eta == 0);

    /* Nearly flat: a tiny trend does not reach a distant threshold within any horizon. */
    holt_ok(&h, &cgm_params, T0 + 100 * MIN_US, 120.000001);
    assert_true(h.trend > 0);
    assert_false(cross_ok(&h, 1e12, RULES_TREND_RISING, INT64_MAX, 3, &eta));
    assert_true(eta == 0);
}

/* Glucose falling 1 mg/dL/min from 120: 70 is reached at minute 50. */
static void test_trend_holt_falling_glucose(void **state)
{
    (void)state;
    struct rules_holt h;
    rules_holt_init(&h);
    for (int m = 0; m <= 20; m += 5)
        holt_ok(&h, &cgm_params, T0 + m * MIN_US, 120.0 - m);
    int64_t eta = 0;
    assert_true(cross_ok(&h, 70, RULES_TREND_FALLING, 45 * MIN_US, 3, &eta));
    assert_true(llabs(eta - (T0 + 50 * MIN_US)) <= SEC_US);
    eta = 0;
    assert_false(cross_ok(&h, 70, RULES_TREND_FALLING, 20 * MIN_US, 3, &eta));
    assert_false(cross_ok(&h, 180, RULES_TREND_RISING, 100 * HOUR_US, 3, &eta));
    assert_true(eta == 0);
    /* Already below. */
    assert_true(cross_ok(&h, 110, RULES_TREND_FALLING, 0, 3, &eta));
    assert_true(eta == T0 + 20 * MIN_US);
}

static void test_trend_holt_needs_min_points(void **state)
{
    (void)state;
    struct rules_holt h;
    rules_holt_init(&h);
    bool crosses = false;
    int64_t eta = 0;
    assert_int_equal(
        rules_holt_time_to_cross(&h, 70, RULES_TREND_FALLING, HOUR_US, 2, &crosses, &eta),
        HX_ENOTFOUND);
    for (int i = 0; i < 4; i++) {
        holt_ok(&h, &cgm_params, T0 + i * 5 * MIN_US, 120.0 - 10 * i);
        int rc = rules_holt_time_to_cross(&h, 70, RULES_TREND_FALLING, HOUR_US, 4, &crosses, &eta);
        assert_int_equal(rc, i + 1 < 4 ? HX_ENOTFOUND : 0);
    }
    assert_true(crosses);
    /* min_points below 2 cannot forecast a trend. */
    assert_int_equal(
        rules_holt_time_to_cross(&h, 70, RULES_TREND_FALLING, HOUR_US, 1, &crosses, &eta),
        HX_EINVAL);
    /* Two points give the first difference as trend. */
    rules_holt_init(&h);
    holt_ok(&h, &cgm_params, T0, 100);
    assert_true(h.initialised && h.n == 1 && h.trend == 0);
    holt_ok(&h, &cgm_params, T0 + 2 * MIN_US, 96);
    assert_true(h.level == 96 && fabs(h.trend * 60 + 2.0) < 1e-12);
    assert_true(cross_ok(&h, 70, RULES_TREND_FALLING, HOUR_US, 2, &eta));
    assert_true(llabs(eta - (T0 + 15 * MIN_US)) <= SEC_US);
}

/* A sample after more than max_gap_us restarts the state: no trend across the gap. */
static void test_trend_holt_gap_restarts(void **state)
{
    (void)state;
    struct rules_holt h;
    rules_holt_init(&h);
    for (int i = 0; i < 6; i++)
        holt_ok(&h, &cgm_params, T0 + i * 5 * MIN_US, 150.0 - 5 * i);
    assert_int_equal(h.n, 6);
    /* Exactly max_gap later still continues. */
    int64_t t = T0 + 25 * MIN_US + 30 * MIN_US;
    holt_ok(&h, &cgm_params, t, 90);
    assert_int_equal(h.n, 7);
    /* One microsecond more restarts. */
    t += 30 * MIN_US + 1;
    holt_ok(&h, &cgm_params, t, 60);
    assert_int_equal(h.n, 1);
    assert_true(h.level == 60 && h.trend == 0 && h.last_t_us == t);
    bool crosses;
    int64_t eta;
    assert_int_equal(
        rules_holt_time_to_cross(&h, 55, RULES_TREND_FALLING, HOUR_US, 3, &crosses, &eta),
        HX_ENOTFOUND);
    /* An initialised flag of false means empty, whatever the other fields hold. */
    h = (struct rules_holt){.level = NAN, .trend = 5, .last_t_us = T0 + 99 * DAY_US};
    holt_ok(&h, &cgm_params, T0, 80);
    assert_true(h.initialised && h.n == 1 && h.level == 80 && h.last_t_us == T0);
}

/* The weights of a sample step_us after the previous one are alpha and beta; after two steps
 * 1 - (1 - alpha)^2; after half a step 1 - (1 - alpha)^0.5. */
static void test_trend_holt_time_scaled_weights(void **state)
{
    (void)state;
    static const struct {
        int64_t dt_us;
        double a;
    } cases[] = {
        {5 * MIN_US, 0.5},
        {10 * MIN_US, 0.75},
        {150 * SEC_US, 0.29289321881345254}, /* 1 - sqrt(0.5) */
        {1, 0.69314718055994531 / 3e8},      /* one microsecond: ln 2 / (5 min in us) */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rules_holt h;
        rules_holt_init(&h);
        holt_ok(&h, &cgm_params, T0, 100);
        holt_ok(&h, &cgm_params, T0 + 5 * MIN_US, 100); /* level 100, trend 0 */
        int64_t t = T0 + 5 * MIN_US + cases[i].dt_us;
        holt_ok(&h, &cgm_params, t, 110);
        double a = (h.level - 100) / 10;
        if (fabs(a - cases[i].a) > 1e-5 * cases[i].a)
            fail_msg("dt %lld us: level weight %.12g, want %.12g", (long long)cases[i].dt_us, a,
                     cases[i].a);
        /* b = 1 - (1 - beta)^(dt/step); trend = b * (level change) / dt. */
        double steps = (double)cases[i].dt_us / (double)cgm_params.step_us;
        double b = 1 - pow(1 - cgm_params.beta, steps);
        double want_trend = b * (h.level - 100) / ((double)cases[i].dt_us / 1e6);
        assert_true(fabs(h.trend - want_trend) <= 1e-5 * fabs(want_trend));
    }

    /* With alpha = beta = 1 the state follows the data whatever the step. */
    struct rules_holt_params follow = {
        .alpha = 1, .beta = 1, .step_us = MIN_US, .max_gap_us = DAY_US};
    struct rules_holt h;
    rules_holt_init(&h);
    holt_ok(&h, &follow, T0, 10);
    holt_ok(&h, &follow, T0 + MIN_US, 20);
    holt_ok(&h, &follow, T0 + 3 * MIN_US, 5);
    assert_true(h.level == 5);
    assert_true(fabs(h.trend * 60 + 7.5) < 1e-12);
}

static void test_trend_holt_rejects_bad_input(void **state)
{
    (void)state;
    struct rules_holt h, before;
    rules_holt_init(&h);
    holt_ok(&h, &cgm_params, T0, 100);
    holt_ok(&h, &cgm_params, T0 + 5 * MIN_US, 95);
    holt_ok(&h, &cgm_params, T0 + 10 * MIN_US, 91);
    memcpy(&before, &h, sizeof(h));

    assert_int_equal(rules_holt_update(&h, &cgm_params, T0 + 15 * MIN_US, NAN), HX_EINVAL);
    assert_int_equal(rules_holt_update(&h, &cgm_params, T0 + 15 * MIN_US, INFINITY), HX_EINVAL);
    assert_int_equal(rules_holt_update(&h, &cgm_params, T0 + 15 * MIN_US, 1e13), HX_ERANGE);
    assert_int_equal(rules_holt_update(&h, &cgm_params, T0 + 5 * MIN_US, 90), HX_EINVAL);
    assert_int_equal(rules_holt_update(&h, &cgm_params, T0 + 10 * MIN_US - 1, 90), HX_EINVAL);
    assert_int_equal(rules_holt_update(&h, &cgm_params, T0 + 10 * MIN_US, 80), HX_EEXIST);

    struct rules_holt_params p = cgm_params;
    p.alpha = 0;
    assert_int_equal(rules_holt_update(&h, &p, T0 + 15 * MIN_US, 90), HX_EINVAL);
    p.alpha = 1.01;
    assert_int_equal(rules_holt_update(&h, &p, T0 + 15 * MIN_US, 90), HX_EINVAL);
    p.alpha = NAN;
    assert_int_equal(rules_holt_update(&h, &p, T0 + 15 * MIN_US, 90), HX_EINVAL);
    p = cgm_params;
    p.beta = 0;
    assert_int_equal(rules_holt_update(&h, &p, T0 + 15 * MIN_US, 90), HX_EINVAL);
    p.beta = -0.5;
    assert_int_equal(rules_holt_update(&h, &p, T0 + 15 * MIN_US, 90), HX_EINVAL);
    p = cgm_params;
    p.step_us = 0;
    assert_int_equal(rules_holt_update(&h, &p, T0 + 15 * MIN_US, 90), HX_EINVAL);
    p = cgm_params;
    p.max_gap_us = -1;
    assert_int_equal(rules_holt_update(&h, &p, T0 + 15 * MIN_US, 90), HX_EINVAL);
    assert_memory_equal(&h, &before, sizeof(h));

    bool crosses = false;
    int64_t eta = 0;
    assert_int_equal(
        rules_holt_time_to_cross(&h, NAN, RULES_TREND_FALLING, HOUR_US, 3, &crosses, &eta),
        HX_EINVAL);
    assert_int_equal(
        rules_holt_time_to_cross(&h, INFINITY, RULES_TREND_RISING, HOUR_US, 3, &crosses, &eta),
        HX_EINVAL);
    assert_int_equal(rules_holt_time_to_cross(&h, 70, 0, HOUR_US, 3, &crosses, &eta), HX_EINVAL);
    assert_int_equal(rules_holt_time_to_cross(&h, 70, RULES_TREND_FALLING, -1, 3, &crosses, &eta),
                     HX_EINVAL);
    struct rules_holt bad = before;
    bad.trend = NAN;
    assert_int_equal(
        rules_holt_time_to_cross(&bad, 70, RULES_TREND_FALLING, HOUR_US, 3, &crosses, &eta),
        HX_EINVAL);
    assert_false(crosses);
    assert_true(eta == 0);

    /* Extreme but finite values and times: no overflow, no UB. */
    rules_holt_init(&h);
    struct rules_holt_params wide = {
        .alpha = 0.5, .beta = 0.5, .step_us = 1, .max_gap_us = INT64_MAX};
    holt_ok(&h, &wide, INT64_MIN, -RULES_TREND_MAX_ABS);
    holt_ok(&h, &wide, INT64_MIN + 1, RULES_TREND_MAX_ABS); /* trend 2e18 per second */
    holt_ok(&h, &wide, -1, -RULES_TREND_MAX_ABS);           /* gap INT64_MAX - 1 */
    assert_int_equal(h.n, 3);
    assert_true(isfinite(h.level) && isfinite(h.trend));
    (void)cross_ok(&h, 0, RULES_TREND_RISING, INT64_MAX, 2, &eta);
    (void)cross_ok(&h, 0, RULES_TREND_FALLING, INT64_MAX, 2, &eta);
    holt_ok(&h, &wide, INT64_MAX, 0); /* gap 2^63: more than max_gap_us */
    assert_int_equal(h.n, 1);
    rules_holt_init(&h);
    holt_ok(&h, &wide, INT64_MAX - 2, 0);
    holt_ok(&h, &wide, INT64_MAX - 1, 1);
    eta = 0;
    assert_true(cross_ok(&h, 1e6, RULES_TREND_RISING, INT64_MAX, 2, &eta) == false);
    assert_true(cross_ok(&h, 1.5, RULES_TREND_RISING, INT64_MAX, 2, &eta));
    assert_true(eta == INT64_MAX);
}

/* The worked examples of docs/rules-trends.md, so that the page stays true. */
static void test_trend_docs_worked_examples(void **state)
{
    (void)state;
    /* Weight: Mon-Thu 81.2, 80.6, 81.9, 82.7 kg: 2.1 kg since Tuesday, though only 1.5 kg
     * since Monday. */
    struct rules_series s;
    static const double kg[] = {81.2, 80.6, 81.9, 82.7};
    WEIGH_DAILY(&s, kg);
    int64_t thu = T0 + 3 * DAY_US + 7 * HOUR_US, from;
    double d = change_ok(&s, thu, 3 * DAY_US, RULES_TREND_RISING, &from);
    assert_true(fabs(d - 2.1) < 1e-9);
    assert_true(from == T0 + DAY_US + 7 * HOUR_US);
    assert_true(weight_gain_alert(&s, thu));

    /* Glucose every 5 minutes from 07:00: 142, 133, 125, 114, 106 mg/dL. */
    static const double mg[] = {142, 133, 125, 114, 106};
    int64_t at7 = T0 + 7 * HOUR_US;
    struct rules_holt h;
    rules_series_init(&s);
    rules_holt_init(&h);
    for (int i = 0; i < 5; i++) {
        add_ok(&s, at7 + i * 5 * MIN_US, mg[i]);
        holt_ok(&h, &cgm_params, at7 + i * 5 * MIN_US, mg[i]);
    }
    int64_t now = at7 + 20 * MIN_US;
    assert_true(fabs(slope_ok(&s, now, 15 * MIN_US, 4) + 1.84) < 1e-9);
    assert_false(glucose_fall_alert(&s, now, 4));
    assert_true(fabs(h.level - 105.86375) < 1e-9);
    assert_true(fabs(h.trend * 60 + 1.811325) < 1e-9);
    int64_t eta = 0;
    assert_true(cross_ok(&h, 70, RULES_TREND_FALLING, 30 * MIN_US, 4, &eta));
    assert_true(llabs(eta - (at7 + 39 * MIN_US + 48 * SEC_US)) <= SEC_US); /* 07:39:48 */

    /* The next reading comes 7 minutes later: weights 0.621 and 0.393. */
    holt_ok(&h, &cgm_params, now + 7 * MIN_US, 99);
    assert_true(fabs(h.level - 96.796328) < 1e-6);
    assert_true(fabs(h.trend * 60 + 1.608508) < 1e-6);
    assert_true(cross_ok(&h, 70, RULES_TREND_FALLING, 30 * MIN_US, 4, &eta));
    assert_true(llabs(eta - (at7 + 43 * MIN_US + 40 * SEC_US)) <= SEC_US); /* 07:43:40 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trend_weight_2kg_in_3_days_boundary),
        cmocka_unit_test(test_trend_weight_1_5kg_in_1_day_boundary),
        cmocka_unit_test(test_trend_change_fluctuating_series),
        cmocka_unit_test(test_trend_change_window_edges),
        cmocka_unit_test(test_trend_slope_linear_glucose_decline),
        cmocka_unit_test(test_trend_slope_noisy_glucose),
        cmocka_unit_test(test_trend_slope_too_few_points_or_short_span),
        cmocka_unit_test(test_trend_series_ring_drops_oldest),
        cmocka_unit_test(test_trend_series_rejects_out_of_order_and_bad_values),
        cmocka_unit_test(test_trend_is_more_than),
        cmocka_unit_test(test_trend_holt_linear_rise_predicts_crossing),
        cmocka_unit_test(test_trend_holt_noisy_rise_within_tolerance),
        cmocka_unit_test(test_trend_holt_flat_never_crosses),
        cmocka_unit_test(test_trend_holt_falling_glucose),
        cmocka_unit_test(test_trend_holt_needs_min_points),
        cmocka_unit_test(test_trend_holt_gap_restarts),
        cmocka_unit_test(test_trend_holt_time_scaled_weights),
        cmocka_unit_test(test_trend_holt_rejects_bad_input),
        cmocka_unit_test(test_trend_docs_worked_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

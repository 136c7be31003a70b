/*
 * Unit tests for src/rules/news2.c: every Chart 1 boundary of every parameter on both sides
 * (REFERENCE 6.1), both SpO2 scales on air and oxygen, rounding as charted for decimals and
 * 32-bit floats, the bands and their texts (REFERENCE 6.2), incomplete sets, and invalid input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "rules/news2.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BIT(p) RULES_NEWS2_BIT(p)

/* One value of one numeric parameter and the sub-score Chart 1 gives it. */
struct case_num {
    double value;
    int score;
};

/* A complete set where every parameter scores 0. */
static struct rules_news2_input normal_set(void)
{
    return (struct rules_news2_input){
        .present = RULES_NEWS2_ALL,
        .rr = 16,
        .spo2 = 98,
        .scale = RULES_NEWS2_SCALE_1,
        .o2 = RULES_NEWS2_AIR,
        .sbp = 120,
        .pulse = 70,
        .acvpu = RULES_NEWS2_ALERT,
        .temp = 37.0,
    };
}

static void set_num(struct rules_news2_input *in, enum rules_news2_param p, double v)
{
    switch (p) {
    case RULES_NEWS2_RR:
        in->rr = v;
        break;
    case RULES_NEWS2_SPO2:
        in->spo2 = v;
        break;
    case RULES_NEWS2_SBP:
        in->sbp = v;
        break;
    case RULES_NEWS2_PULSE:
        in->pulse = v;
        break;
    case RULES_NEWS2_TEMP:
        in->temp = v;
        break;
    default:
        fail_msg("not a numeric parameter: %d", (int)p);
    }
}

static struct rules_news2_result score_ok(const struct rules_news2_input *in)
{
    struct rules_news2_result r;
    int rc = rules_news2_score(in, &r);
    if (rc != 0)
        fail_msg("rules_news2_score: %d (%s)", rc, hx_strerror(rc));
    return r;
}

/* Scores each case both on its own (only p present: incomplete) and inside an otherwise
 * normal set (complete: total = the sub-score), and checks the sub-score both ways. */
static void check_cases(enum rules_news2_param p, const struct case_num *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct rules_news2_input alone = {.present = BIT(p), .scale = RULES_NEWS2_SCALE_1};
        set_num(&alone, p, cases[i].value);
        struct rules_news2_result r = score_ok(&alone);
        if (r.sub[p] != cases[i].score)
            fail_msg("%s %.10g alone: score %d, want %d", rules_news2_param_name(p), cases[i].value,
                     r.sub[p], cases[i].score);
        assert_false(r.complete);

        struct rules_news2_input full = normal_set();
        set_num(&full, p, cases[i].value);
        r = score_ok(&full);
        if (r.sub[p] != cases[i].score || r.score != cases[i].score || !r.complete)
            fail_msg("%s %.10g in a set: sub %d score %d complete %d, want %d",
                     rules_news2_param_name(p), cases[i].value, r.sub[p], r.score, r.complete,
                     cases[i].score);
    }
}

#define CHECK_CASES(p, cases) check_cases(p, cases, sizeof(cases) / sizeof(cases[0]))

static void test_news2_rr_boundaries(void **state)
{
    (void)state;
    static const struct case_num cases[] = {
        {1, 3}, {8, 3}, {9, 1}, {11, 1}, {12, 0}, {20, 0}, {21, 2}, {24, 2}, {25, 3}, {80, 3},
    };
    CHECK_CASES(RULES_NEWS2_RR, cases);
}

static void test_news2_spo2_scale1_boundaries(void **state)
{
    (void)state;
    static const struct case_num cases[] = {
        {50, 3}, {91, 3}, {92, 2}, {93, 2}, {94, 1}, {95, 1}, {96, 0}, {100, 0},
    };
    CHECK_CASES(RULES_NEWS2_SPO2, cases);
}

/* On scale 1 oxygen scores only on its own row: the SpO2 sub-score is the same on air. */
static void test_news2_spo2_scale1_same_on_air_and_oxygen(void **state)
{
    (void)state;
    static const struct case_num cases[] = {
        {91, 3}, {92, 2}, {93, 2}, {94, 1}, {95, 1}, {96, 0}, {97, 0}, {100, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int o2 = RULES_NEWS2_AIR; o2 <= RULES_NEWS2_OXYGEN; o2++) {
            struct rules_news2_input in = normal_set();
            in.spo2 = cases[i].value;
            in.o2 = (enum rules_news2_o2)o2;
            struct rules_news2_result r = score_ok(&in);
            int o2_score = o2 == RULES_NEWS2_OXYGEN ? 2 : 0;
            if (r.sub[RULES_NEWS2_SPO2] != cases[i].score || r.sub[RULES_NEWS2_O2] != o2_score ||
                r.score != cases[i].score + o2_score)
                fail_msg("scale 1 SpO2 %g o2 %d: sub %d total %d", cases[i].value, o2,
                         r.sub[RULES_NEWS2_SPO2], r.score);
        }
    }
}

/* Scale 2 (REFERENCE 6.1): <=83 3, 84-85 2, 86-87 1, 88-92 0 on air or oxygen; >=93 on air 0;
 * on oxygen 93-94 1, 95-96 2, >=97 3. */
static void test_news2_spo2_scale2_boundaries(void **state)
{
    (void)state;
    static const struct {
        double spo2;
        int on_air;
        int on_oxygen;
    } cases[] = {
        {50, 3, 3}, {83, 3, 3}, {84, 2, 2},  {85, 2, 2},    {86, 1, 1},   {87, 1, 1},
        {88, 0, 0}, {92, 0, 0}, {93, 0, 1},  {94, 0, 1},    {95, 0, 2},   {96, 0, 2},
        {97, 0, 3}, {99, 0, 3}, {100, 0, 3}, {92.49, 0, 0}, {92.5, 0, 1}, {96.5, 0, 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int o2 = RULES_NEWS2_AIR; o2 <= RULES_NEWS2_OXYGEN; o2++) {
            struct rules_news2_input in = normal_set();
            in.scale = RULES_NEWS2_SCALE_2;
            in.spo2 = cases[i].spo2;
            in.o2 = (enum rules_news2_o2)o2;
            struct rules_news2_result r = score_ok(&in);
            int want = o2 == RULES_NEWS2_AIR ? cases[i].on_air : cases[i].on_oxygen;
            int o2_score = o2 == RULES_NEWS2_OXYGEN ? 2 : 0;
            if (r.sub[RULES_NEWS2_SPO2] != want || r.score != want + o2_score || !r.complete)
                fail_msg("scale 2 SpO2 %g on %s: sub %d total %d, want sub %d", cases[i].spo2,
                         o2 == RULES_NEWS2_AIR ? "air" : "oxygen", r.sub[RULES_NEWS2_SPO2], r.score,
                         want);
        }
    }
}

/* Scale 2 at 93 % or more cannot be scored without knowing air or oxygen; below 93 it can. */
static void test_news2_spo2_scale2_needs_o2_from_93(void **state)
{
    (void)state;
    struct rules_news2_input in = normal_set();
    in.present &= ~BIT(RULES_NEWS2_O2);
    in.scale = RULES_NEWS2_SCALE_2;
    in.spo2 = 92;
    struct rules_news2_result r = score_ok(&in);
    assert_int_equal(r.sub[RULES_NEWS2_SPO2], 0);
    assert_int_equal(r.missing, BIT(RULES_NEWS2_O2));
    assert_false(r.complete);

    in.spo2 = 93;
    r = score_ok(&in);
    assert_int_equal(r.sub[RULES_NEWS2_SPO2], -1);
    assert_int_equal(r.sub[RULES_NEWS2_O2], -1);
    assert_int_equal(r.missing, BIT(RULES_NEWS2_O2)); /* SpO2 itself was given */
    assert_false(r.complete);
    assert_int_equal(r.score, -1);
    assert_int_equal(r.band, RULES_NEWS2_BAND_INCOMPLETE);
    assert_true(r.charted[RULES_NEWS2_SPO2] == 93);

    /* The scale is only read when SpO2 is present. */
    in = (struct rules_news2_input){.present = BIT(RULES_NEWS2_RR), .rr = 16, .scale = 7};
    r = score_ok(&in);
    assert_int_equal(r.sub[RULES_NEWS2_RR], 0);
}

static void test_news2_o2_air_and_oxygen(void **state)
{
    (void)state;
    struct rules_news2_input in = normal_set();
    in.o2 = RULES_NEWS2_AIR;
    assert_int_equal(score_ok(&in).sub[RULES_NEWS2_O2], 0);
    in.o2 = RULES_NEWS2_OXYGEN;
    struct rules_news2_result r = score_ok(&in);
    assert_int_equal(r.sub[RULES_NEWS2_O2], 2);
    assert_int_equal(r.score, 2);
    assert_true(isnan(r.charted[RULES_NEWS2_O2]));
}

static void test_news2_sbp_boundaries(void **state)
{
    (void)state;
    static const struct case_num cases[] = {
        {40, 3},  {90, 3},  {91, 2},  {100, 2}, {101, 1},
        {110, 1}, {111, 0}, {219, 0}, {220, 3}, {300, 3},
    };
    CHECK_CASES(RULES_NEWS2_SBP, cases);
}

static void test_news2_pulse_boundaries(void **state)
{
    (void)state;
    static const struct case_num cases[] = {
        {20, 3},  {40, 3},  {41, 1},  {50, 1},  {51, 0},  {90, 0},  {91, 1},
        {110, 1}, {111, 2}, {130, 2}, {131, 3}, {250, 3}, {300, 3},
    };
    CHECK_CASES(RULES_NEWS2_PULSE, cases);
}

static void test_news2_acvpu_each_letter(void **state)
{
    (void)state;
    static const struct {
        enum rules_news2_acvpu c;
        int score;
    } cases[] = {
        {RULES_NEWS2_ALERT, 0}, {RULES_NEWS2_CONFUSION, 3},    {RULES_NEWS2_VOICE, 3},
        {RULES_NEWS2_PAIN, 3},  {RULES_NEWS2_UNRESPONSIVE, 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rules_news2_input in = normal_set();
        in.acvpu = cases[i].c;
        struct rules_news2_result r = score_ok(&in);
        assert_int_equal(r.sub[RULES_NEWS2_ACVPU], cases[i].score);
        assert_int_equal(r.single_parameter_3, cases[i].score == 3);
        /* New confusion alone is a red score: low-medium, not low. */
        assert_int_equal(r.band,
                         cases[i].score ? RULES_NEWS2_BAND_LOW_MEDIUM : RULES_NEWS2_BAND_NONE);
    }
}

static void test_news2_temp_boundaries(void **state)
{
    (void)state;
    static const struct case_num cases[] = {
        {25, 3},   {35.0, 3}, {35.1, 1}, {36.0, 1}, {36.1, 0},
        {38.0, 0}, {38.1, 1}, {39.0, 1}, {39.1, 2}, {45, 2},
    };
    CHECK_CASES(RULES_NEWS2_TEMP, cases);
}

/* Values between the chart's printed steps are rounded as charted, half-way up: below x.x5
 * stays with x.x, x.x5 and above goes to the next tenth (REFERENCE 6.1 "round as charted"). */
static void test_news2_temp_decimals_round_as_charted(void **state)
{
    (void)state;
    static const struct case_num cases[] = {
        {35.04, 3}, {35.049, 3}, {35.05, 1}, {35.06, 1},      {36.04, 1},   {36.049, 1},
        {36.05, 0}, {38.04, 0},  {38.05, 1}, {39.04, 1},      {39.049, 1},  {39.05, 2},
        {34.95, 3}, {35.95, 1},  {37.99, 0}, {37.7777778, 0}, {38.0999, 1}, {39.09, 2},
    };
    CHECK_CASES(RULES_NEWS2_TEMP, cases);

    /* The same half-way decimals from a device's 32-bit float (36.05f is 36.0499992). */
    static const struct case_num floats[] = {
        {(float)35.05, 1}, {(float)36.05, 0}, {(float)38.05, 1},
        {(float)39.05, 2}, {(float)35.04, 3}, {(float)39.04, 1},
    };
    CHECK_CASES(RULES_NEWS2_TEMP, floats);

    struct rules_news2_input in = {.present = BIT(RULES_NEWS2_TEMP), .temp = 38.04};
    assert_true(fabs(score_ok(&in).charted[RULES_NEWS2_TEMP] - 38.0) < 1e-9);
    in.temp = 38.05;
    assert_true(fabs(score_ok(&in).charted[RULES_NEWS2_TEMP] - 38.1) < 1e-9);
}

/* Rates and pressures are charted as whole numbers: x.5 and above rounds up. */
static void test_news2_integer_parameters_round_as_charted(void **state)
{
    (void)state;
    static const struct case_num rr[] = {
        {8.49, 3}, {8.5, 1}, {11.49, 1}, {11.5, 0}, {20.49, 0}, {20.5, 2}, {24.49, 2}, {24.5, 3},
    };
    CHECK_CASES(RULES_NEWS2_RR, rr);
    static const struct case_num spo2[] = {
        {91.49, 3}, {91.5, 2}, {93.5, 1}, {95.49, 1}, {95.5, 0}, {99.99, 0},
    };
    CHECK_CASES(RULES_NEWS2_SPO2, spo2);
    static const struct case_num sbp[] = {
        {90.4, 3}, {90.5, 2}, {110.49, 1}, {110.5, 0}, {219.49, 0}, {219.5, 3},
    };
    CHECK_CASES(RULES_NEWS2_SBP, sbp);
    static const struct case_num pulse[] = {
        {40.49, 3}, {40.5, 1}, {50.5, 0}, {90.5, 1}, {110.5, 2}, {130.49, 2}, {130.5, 3},
    };
    CHECK_CASES(RULES_NEWS2_PULSE, pulse);

    struct rules_news2_input in = {.present = BIT(RULES_NEWS2_RR), .rr = 20.5};
    assert_true(score_ok(&in).charted[RULES_NEWS2_RR] == 21);
}

struct band_case {
    const char *what;
    struct rules_news2_input in;
    int score;
    bool single_3;
    enum rules_news2_band band;
};

static void test_news2_bands(void **state)
{
    (void)state;
    struct rules_news2_input base = normal_set();
    struct band_case cases[16];
    size_t n = 0;
    cases[n++] = (struct band_case){"all normal", base, 0, false, RULES_NEWS2_BAND_NONE};
    struct rules_news2_input in = base;
    in.temp = 38.5; /* 1 */
    cases[n++] = (struct band_case){"one point", in, 1, false, RULES_NEWS2_BAND_LOW};
    in = base;
    in.rr = 22;                 /* 2 */
    in.o2 = RULES_NEWS2_OXYGEN; /* 2 */
    cases[n++] = (struct band_case){"4 without a 3", in, 4, false, RULES_NEWS2_BAND_LOW};
    in = base;
    in.acvpu = RULES_NEWS2_CONFUSION; /* 3 */
    cases[n++] = (struct band_case){"a single 3", in, 3, true, RULES_NEWS2_BAND_LOW_MEDIUM};
    in.temp = 38.5; /* +1 */
    cases[n++] = (struct band_case){"4 with a 3", in, 4, true, RULES_NEWS2_BAND_LOW_MEDIUM};
    in = base;
    in.rr = 22;                 /* 2 */
    in.o2 = RULES_NEWS2_OXYGEN; /* 2 */
    in.pulse = 95;              /* 1 */
    cases[n++] = (struct band_case){"5 without a 3", in, 5, false, RULES_NEWS2_BAND_MEDIUM};
    in = base;
    in.sbp = 85;                /* 3 */
    in.o2 = RULES_NEWS2_OXYGEN; /* 2 */
    cases[n++] = (struct band_case){"5 with a 3", in, 5, true, RULES_NEWS2_BAND_MEDIUM};
    in.temp = 38.5; /* +1 */
    cases[n++] = (struct band_case){"6 with a 3", in, 6, true, RULES_NEWS2_BAND_MEDIUM};
    in = base;
    in.rr = 22;                 /* 2 */
    in.o2 = RULES_NEWS2_OXYGEN; /* 2 */
    in.pulse = 115;             /* 2 */
    cases[n++] = (struct band_case){"6 without a 3", in, 6, false, RULES_NEWS2_BAND_MEDIUM};
    in.temp = 38.5; /* +1 */
    cases[n++] = (struct band_case){"7", in, 7, false, RULES_NEWS2_BAND_HIGH};
    in = (struct rules_news2_input){
        .present = RULES_NEWS2_ALL,
        .rr = 30,
        .spo2 = 85,
        .scale = RULES_NEWS2_SCALE_1,
        .o2 = RULES_NEWS2_OXYGEN,
        .sbp = 80,
        .pulse = 140,
        .acvpu = RULES_NEWS2_UNRESPONSIVE,
        .temp = 34,
    };
    cases[n++] = (struct band_case){"maximum 20", in, 20, true, RULES_NEWS2_BAND_HIGH};
    assert_true(n <= sizeof(cases) / sizeof(cases[0]));

    for (size_t i = 0; i < n; i++) {
        struct rules_news2_result r = score_ok(&cases[i].in);
        if (r.score != cases[i].score || r.single_parameter_3 != cases[i].single_3 ||
            r.band != cases[i].band || !r.complete || r.minimum_band != r.band ||
            r.partial_score != r.score || r.missing != 0)
            fail_msg("%s: score %d single3 %d band %s, want %d %d %s", cases[i].what, r.score,
                     r.single_parameter_3, rules_news2_band_name(r.band), cases[i].score,
                     cases[i].single_3, rules_news2_band_name(cases[i].band));
    }
}

static void test_news2_band_texts(void **state)
{
    (void)state;
    static const struct {
        enum rules_news2_band b;
        const char *name;
        const char *monitoring;
        const char *response_has;
    } cases[] = {
        {RULES_NEWS2_BAND_NONE, "none", "minimum 12-hourly", "routine NEWS monitoring"},
        {RULES_NEWS2_BAND_LOW, "low", "minimum 4-6-hourly", "registered nurse"},
        {RULES_NEWS2_BAND_LOW_MEDIUM, "low-medium", "minimum 1-hourly",
         "urgent ward-based response"},
        {RULES_NEWS2_BAND_MEDIUM, "medium", "minimum 1-hourly", "(urgent response)"},
        {RULES_NEWS2_BAND_HIGH, "high", "continuous monitoring of vital signs",
         "emergency response"},
        {RULES_NEWS2_BAND_INCOMPLETE, "incomplete", "record the missing parameters now",
         "no valid NEWS2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_string_equal(rules_news2_band_name(cases[i].b), cases[i].name);
        assert_string_equal(rules_news2_band_monitoring(cases[i].b), cases[i].monitoring);
        assert_non_null(strstr(rules_news2_band_response(cases[i].b), cases[i].response_has));
    }
    assert_string_equal(rules_news2_band_name((enum rules_news2_band)99), "?");
    assert_string_equal(rules_news2_band_response((enum rules_news2_band) - 1), "?");
    assert_string_equal(rules_news2_band_monitoring((enum rules_news2_band)6), "?");
}

static void test_news2_param_names_and_ranges(void **state)
{
    (void)state;
    static const char *const names[] = {"rr", "spo2", "o2", "sbp", "pulse", "acvpu", "temp"};
    for (int p = 0; p < RULES_NEWS2__COUNT; p++)
        assert_string_equal(rules_news2_param_name((enum rules_news2_param)p), names[p]);
    assert_string_equal(rules_news2_param_name(RULES_NEWS2__COUNT), "?");

    double min, max;
    assert_int_equal(rules_news2_range(RULES_NEWS2_RR, &min, &max), 0);
    assert_true(min == 1 && max == 80);
    assert_int_equal(rules_news2_range(RULES_NEWS2_SPO2, &min, &max), 0);
    assert_true(min == 50 && max == 100);
    assert_int_equal(rules_news2_range(RULES_NEWS2_SBP, &min, &max), 0);
    assert_true(min == 40 && max == 300);
    assert_int_equal(rules_news2_range(RULES_NEWS2_PULSE, &min, &max), 0);
    assert_true(min == 20 && max == 300);
    assert_int_equal(rules_news2_range(RULES_NEWS2_TEMP, &min, &max), 0);
    assert_true(min == 25 && max == 45);
    assert_int_equal(rules_news2_range(RULES_NEWS2_O2, &min, &max), HX_EINVAL);
    assert_int_equal(rules_news2_range(RULES_NEWS2_ACVPU, &min, &max), HX_EINVAL);
    assert_int_equal(rules_news2_range(RULES_NEWS2__COUNT, &min, &max), HX_EINVAL);
}

/* Nothing measured: no score, everything missing, nothing scored as 0. */
static void test_news2_empty_set_is_incomplete(void **state)
{
    (void)state;
    struct rules_news2_input in = {0};
    struct rules_news2_result r = score_ok(&in);
    assert_false(r.complete);
    assert_int_equal(r.score, -1);
    assert_int_equal(r.partial_score, 0);
    assert_int_equal(r.missing, RULES_NEWS2_ALL);
    assert_int_equal(r.band, RULES_NEWS2_BAND_INCOMPLETE);
    assert_int_equal(r.minimum_band, RULES_NEWS2_BAND_NONE);
    assert_false(r.single_parameter_3);
    for (int p = 0; p < RULES_NEWS2__COUNT; p++) {
        assert_int_equal(r.sub[p], -1);
        assert_true(isnan(r.charted[p]));
    }
}

/* Each parameter left out of an otherwise normal set: incomplete, never a score of 0. */
static void test_news2_each_missing_parameter_is_incomplete(void **state)
{
    (void)state;
    for (int p = 0; p < RULES_NEWS2__COUNT; p++) {
        struct rules_news2_input in = normal_set();
        in.present &= ~BIT(p);
        struct rules_news2_result r = score_ok(&in);
        assert_false(r.complete);
        assert_int_equal(r.score, -1);
        assert_int_equal(r.missing, BIT(p));
        assert_int_equal(r.sub[p], -1);
        assert_int_equal(r.partial_score, 0);
        assert_int_equal(r.band, RULES_NEWS2_BAND_INCOMPLETE);
        assert_int_equal(r.minimum_band, RULES_NEWS2_BAND_NONE);
    }
}

/* What is known already counts: a partial 7 is at least high, a 3 at least low-medium. */
static void test_news2_incomplete_minimum_band(void **state)
{
    (void)state;
    struct rules_news2_input in = {
        .present = BIT(RULES_NEWS2_RR) | BIT(RULES_NEWS2_SBP) | BIT(RULES_NEWS2_PULSE),
        .rr = 30,
        .sbp = 85,
        .pulse = 70,
    };
    struct rules_news2_result r = score_ok(&in);
    assert_int_equal(r.partial_score, 6);
    assert_true(r.single_parameter_3);
    assert_int_equal(r.minimum_band, RULES_NEWS2_BAND_MEDIUM);
    assert_int_equal(r.band, RULES_NEWS2_BAND_INCOMPLETE);
    assert_int_equal(r.score, -1);

    in.pulse = 140;
    r = score_ok(&in);
    assert_int_equal(r.partial_score, 9);
    assert_int_equal(r.minimum_band, RULES_NEWS2_BAND_HIGH);

    in = (struct rules_news2_input){.present = BIT(RULES_NEWS2_ACVPU), .acvpu = RULES_NEWS2_VOICE};
    r = score_ok(&in);
    assert_int_equal(r.minimum_band, RULES_NEWS2_BAND_LOW_MEDIUM);
    assert_int_equal(r.missing, RULES_NEWS2_ALL & ~BIT(RULES_NEWS2_ACVPU));
}

/* For every set on a grid of values and every subset of it, the partial result is a lower
 * bound of the complete one: partial score <= score, minimum band <= band, a 3 seen is a 3. */
static void test_news2_partial_is_lower_bound(void **state)
{
    (void)state;
    static const double rr[] = {7, 10, 16, 22, 26};
    static const double spo2[] = {84, 90, 93, 95, 98};
    static const double sbp[] = {85, 95, 105, 150, 230};
    static const double pulse[] = {35, 45, 70, 100, 120};
    static const double temp[] = {34.5, 35.5, 37.0, 38.5, 39.5};
    unsigned long checked = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int c = 0; c < 5; c++)
                for (int d = 0; d < 5; d++)
                    for (int e = 0; e < 5; e++)
                        for (int k = 0; k < 4; k++) {
                            struct rules_news2_input in = {
                                .present = RULES_NEWS2_ALL,
                                .rr = rr[a],
                                .spo2 = spo2[b],
                                .scale = k & 1 ? RULES_NEWS2_SCALE_2 : RULES_NEWS2_SCALE_1,
                                .o2 = k & 2 ? RULES_NEWS2_OXYGEN : RULES_NEWS2_AIR,
                                .sbp = sbp[c],
                                .pulse = pulse[d],
                                .acvpu = (enum rules_news2_acvpu)(1 + (a + e) % 5),
                                .temp = temp[e],
                            };
                            struct rules_news2_result full = score_ok(&in);
                            int sum = 0;
                            for (int p = 0; p < RULES_NEWS2__COUNT; p++)
                                sum += full.sub[p];
                            assert_true(full.complete);
                            assert_int_equal(full.score, sum);
                            assert_true(full.score >= 0 && full.score <= 20);
                            for (unsigned mask = 0; mask < RULES_NEWS2_ALL; mask++) {
                                in.present = mask;
                                struct rules_news2_result part = score_ok(&in);
                                assert_false(part.complete);
                                assert_true(part.partial_score <= full.score);
                                assert_true(part.minimum_band <= full.band);
                                assert_true(!part.single_parameter_3 || full.single_parameter_3);
                                checked++;
                            }
                            in.present = RULES_NEWS2_ALL;
                        }
    assert_true(checked > 100000);
}

/* Out-of-range values are errors, not extreme scores; bounds are inclusive. */
static void test_news2_rejects_implausible_values(void **state)
{
    (void)state;
    static const struct {
        enum rules_news2_param p;
        double value;
        int rc;
    } cases[] = {
        {RULES_NEWS2_RR, 0, HX_ERANGE},           {RULES_NEWS2_RR, 0.99, HX_ERANGE},
        {RULES_NEWS2_RR, 80.01, HX_ERANGE},       {RULES_NEWS2_RR, -8, HX_ERANGE},
        {RULES_NEWS2_SPO2, 49.9, HX_ERANGE},      {RULES_NEWS2_SPO2, 100.01, HX_ERANGE},
        {RULES_NEWS2_SPO2, 0.97, HX_ERANGE},      {RULES_NEWS2_SBP, 39, HX_ERANGE},
        {RULES_NEWS2_SBP, 301, HX_ERANGE},        {RULES_NEWS2_PULSE, 19.9, HX_ERANGE},
        {RULES_NEWS2_PULSE, 300.5, HX_ERANGE},    {RULES_NEWS2_TEMP, 24.9, HX_ERANGE},
        {RULES_NEWS2_TEMP, 45.01, HX_ERANGE},     {RULES_NEWS2_TEMP, 98.6, HX_ERANGE},
        {RULES_NEWS2_RR, NAN, HX_EINVAL},         {RULES_NEWS2_SPO2, INFINITY, HX_EINVAL},
        {RULES_NEWS2_TEMP, -INFINITY, HX_EINVAL}, {RULES_NEWS2_PULSE, NAN, HX_EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rules_news2_input in = normal_set();
        set_num(&in, cases[i].p, cases[i].value);
        struct rules_news2_result r, before;
        memset(&r, 0xAB, sizeof(r));
        memcpy(&before, &r, sizeof(r));
        int rc = rules_news2_score(&in, &r);
        if (rc != cases[i].rc)
            fail_msg("%s %g: rc %d, want %d", rules_news2_param_name(cases[i].p), cases[i].value,
                     rc, cases[i].rc);
        assert_memory_equal(&r, &before, sizeof(r)); /* untouched on error */
    }
}

static void test_news2_rejects_invalid_enums_and_bits(void **state)
{
    (void)state;
    struct rules_news2_result r;
    struct rules_news2_input in = normal_set();
    in.scale = 0;
    assert_int_equal(rules_news2_score(&in, &r), HX_EINVAL);
    in.scale = 3;
    assert_int_equal(rules_news2_score(&in, &r), HX_EINVAL);
    in = normal_set();
    in.o2 = 0;
    assert_int_equal(rules_news2_score(&in, &r), HX_EINVAL);
    in.o2 = 3;
    assert_int_equal(rules_news2_score(&in, &r), HX_EINVAL);
    in = normal_set();
    in.acvpu = 0;
    assert_int_equal(rules_news2_score(&in, &r), HX_EINVAL);
    in.acvpu = RULES_NEWS2_UNRESPONSIVE + 1;
    assert_int_equal(rules_news2_score(&in, &r), HX_EINVAL);
    in = normal_set();
    in.present |= 1u << RULES_NEWS2__COUNT;
    assert_int_equal(rules_news2_score(&in, &r), HX_EINVAL);

    /* Fields of absent parameters are ignored, whatever they hold. */
    in = (struct rules_news2_input){.present = BIT(RULES_NEWS2_RR),
                                    .rr = 16,
                                    .spo2 = NAN,
                                    .o2 = 9,
                                    .sbp = -1,
                                    .pulse = INFINITY,
                                    .acvpu = 42,
                                    .temp = 98.6};
    assert_int_equal(rules_news2_score(&in, &r), 0);
    assert_int_equal(r.sub[RULES_NEWS2_RR], 0);
    assert_int_equal(r.missing, RULES_NEWS2_ALL & ~BIT(RULES_NEWS2_RR));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_news2_rr_boundaries),
        cmocka_unit_test(test_news2_spo2_scale1_boundaries),
        cmocka_unit_test(test_news2_spo2_scale1_same_on_air_and_oxygen),
        cmocka_unit_test(test_news2_spo2_scale2_boundaries),
        cmocka_unit_test(test_news2_spo2_scale2_needs_o2_from_93),
        cmocka_unit_test(test_news2_o2_air_and_oxygen),
        cmocka_unit_test(test_news2_sbp_boundaries),
        cmocka_unit_test(test_news2_pulse_boundaries),
        cmocka_unit_test(test_news2_acvpu_each_letter),
        cmocka_unit_test(test_news2_temp_boundaries),
        cmocka_unit_test(test_news2_temp_decimals_round_as_charted),
        cmocka_unit_test(test_news2_integer_parameters_round_as_charted),
        cmocka_unit_test(test_news2_bands),
        cmocka_unit_test(test_news2_band_texts),
        cmocka_unit_test(test_news2_param_names_and_ranges),
        cmocka_unit_test(test_news2_empty_set_is_incomplete),
        cmocka_unit_test(test_news2_each_missing_parameter_is_incomplete),
        cmocka_unit_test(test_news2_incomplete_minimum_band),
        cmocka_unit_test(test_news2_partial_is_lower_bound),
        cmocka_unit_test(test_news2_rejects_implausible_values),
        cmocka_unit_test(test_news2_rejects_invalid_enums_and_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * NEWS2 scoring (RCP 2017, Chart 1) and bands (Charts 2 and 4); REFERENCE 6.1 and 6.2 are
 * the authority for every number here, and docs/news2.md explains the rules in prose.
 * Layer: rules (uses domain/codes for the plausible ranges). Pure: no I/O, no globals, no
 * allocation. Thread: any.
 *
 * Each numeric value is first rounded to the chart's resolution (chart_round), then compared
 * with the chart's printed bounds as integers (tenths for temperature), so there is exactly
 * one place where real numbers meet the chart and no threshold is a floating-point compare.
 */
#include "rules/news2.h"
#include "core/err.h"
#include "domain/codes.h"

#include <math.h>
#include <stddef.h>

/*
 * Rounds v to a whole number of chart steps (steps_per_unit: 10 for temperature, 1 for the
 * rest), half-way values up: "round as charted" (REFERENCE 6.1). The slack makes a value
 * written as a half-way decimal round up as written although its binary double (36.05 is
 * 36.04999...) or a device's 32-bit float (36.0499992) sits just below the half: anything
 * within 1e-4 of a step below the half counts as the half. No thermometer or monitor resolves
 * 1e-5 degC or 1e-4 breaths/min, so no real reading is moved across a bound by it.
 */
#define CHART_ROUND_SLACK 1e-4

static long chart_round(double v, double steps_per_unit)
{
    return (long)floor(v * steps_per_unit + 0.5 + CHART_ROUND_SLACK);
}

/* Chart 1, respiration rate: <=8 3, 9-11 1, 12-20 0, 21-24 2, >=25 3. */
static int score_rr(long rr)
{
    if (rr <= 8)
        return 3;
    if (rr <= 11)
        return 1;
    if (rr <= 20)
        return 0;
    if (rr <= 24)
        return 2;
    return 3;
}

/* Chart 1, SpO2 scale 1: <=91 3, 92-93 2, 94-95 1, >=96 0. Air/oxygen scores on its own row. */
static int score_spo2_scale1(long s)
{
    if (s <= 91)
        return 3;
    if (s <= 93)
        return 2;
    if (s <= 95)
        return 1;
    return 0;
}

/* Chart 1, SpO2 scale 2: <=83 3, 84-85 2, 86-87 1, 88-92 0, >=93 on air 0; on oxygen 93-94 1,
 * 95-96 2, >=97 3. At 93 and above the score needs o2; -1 when it is not known (o2 == 0). */
static int score_spo2_scale2(long s, enum rules_news2_o2 o2)
{
    if (s <= 83)
        return 3;
    if (s <= 85)
        return 2;
    if (s <= 87)
        return 1;
    if (s <= 92)
        return 0;
    if (o2 == RULES_NEWS2_AIR)
        return 0;
    if (o2 != RULES_NEWS2_OXYGEN)
        return -1;
    if (s <= 94)
        return 1;
    if (s <= 96)
        return 2;
    return 3;
}

/* Chart 1, air or oxygen: oxygen 2, air 0. */
static int score_o2(enum rules_news2_o2 o2)
{
    return o2 == RULES_NEWS2_OXYGEN ? 2 : 0;
}

/* Chart 1, systolic BP: <=90 3, 91-100 2, 101-110 1, 111-219 0, >=220 3. */
static int score_sbp(long sbp)
{
    if (sbp <= 90)
        return 3;
    if (sbp <= 100)
        return 2;
    if (sbp <= 110)
        return 1;
    if (sbp <= 219)
        return 0;
    return 3;
}

/* Chart 1, pulse: <=40 3, 41-50 1, 51-90 0, 91-110 1, 111-130 2, >=131 3. */
static int score_pulse(long p)
{
    if (p <= 40)
        return 3;
    if (p <= 50)
        return 1;
    if (p <= 90)
        return 0;
    if (p <= 110)
        return 1;
    if (p <= 130)
        return 2;
    return 3;
}

/* Chart 1, consciousness: A 0; new confusion, V, P or U 3. */
static int score_acvpu(enum rules_news2_acvpu c)
{
    return c == RULES_NEWS2_ALERT ? 0 : 3;
}

/* Chart 1, temperature in tenths of a degree: <=35.0 3, 35.1-36.0 1, 36.1-38.0 0,
 * 38.1-39.0 1, >=39.1 2. */
static int score_temp_tenths(long t)
{
    if (t <= 350)
        return 3;
    if (t <= 360)
        return 1;
    if (t <= 380)
        return 0;
    if (t <= 390)
        return 1;
    return 2;
}

/* Chart 2: the band of an aggregate and whether a single parameter scored 3. A 3 moves a
 * low aggregate (1-4) to low-medium; at 5 and above the aggregate alone decides. */
static enum rules_news2_band band_of(int score, bool single_3)
{
    if (score >= 7)
        return RULES_NEWS2_BAND_HIGH;
    if (score >= 5)
        return RULES_NEWS2_BAND_MEDIUM;
    if (single_3)
        return RULES_NEWS2_BAND_LOW_MEDIUM;
    if (score >= 1)
        return RULES_NEWS2_BAND_LOW;
    return RULES_NEWS2_BAND_NONE;
}

/* The code whose plausible range bounds a numeric parameter. Pulse uses heart rate (20-300):
 * NEWS2 takes the pulse from an oximeter, an ECG monitor or by hand. */
static const struct obs_code *range_code(enum rules_news2_param p)
{
    switch (p) {
    case RULES_NEWS2_RR:
        return obs_code_get(OBS_CODE_RESP_RATE);
    case RULES_NEWS2_SPO2:
        return obs_code_get(OBS_CODE_SPO2);
    case RULES_NEWS2_SBP:
        return obs_code_get(OBS_CODE_BP_SYS);
    case RULES_NEWS2_PULSE:
        return obs_code_get(OBS_CODE_HEART_RATE);
    case RULES_NEWS2_TEMP:
        return obs_code_get(OBS_CODE_TEMPERATURE);
    default:
        return NULL;
    }
}

int rules_news2_range(enum rules_news2_param p, double *min, double *max)
{
    const struct obs_code *c = range_code(p);
    if (!c)
        return HX_EINVAL;
    *min = c->min;
    *max = c->max;
    return 0;
}

static double numeric_value(const struct rules_news2_input *in, enum rules_news2_param p)
{
    switch (p) {
    case RULES_NEWS2_RR:
        return in->rr;
    case RULES_NEWS2_SPO2:
        return in->spo2;
    case RULES_NEWS2_SBP:
        return in->sbp;
    case RULES_NEWS2_PULSE:
        return in->pulse;
    case RULES_NEWS2_TEMP:
        return in->temp;
    default:
        return NAN;
    }
}

static bool has(const struct rules_news2_input *in, enum rules_news2_param p)
{
    return (in->present & RULES_NEWS2_BIT(p)) != 0;
}

/* Checks every present field; nothing is scored until the whole input is valid. */
static int validate(const struct rules_news2_input *in)
{
    if (in->present & ~RULES_NEWS2_ALL)
        return HX_EINVAL;
    static const enum rules_news2_param numeric[] = {
        RULES_NEWS2_RR, RULES_NEWS2_SPO2, RULES_NEWS2_SBP, RULES_NEWS2_PULSE, RULES_NEWS2_TEMP};
    for (size_t i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++) {
        enum rules_news2_param p = numeric[i];
        if (!has(in, p))
            continue;
        double v = numeric_value(in, p);
        if (!isfinite(v))
            return HX_EINVAL;
        if (!obs_code_is_plausible(range_code(p), v))
            return HX_ERANGE;
    }
    if (has(in, RULES_NEWS2_SPO2) && in->scale != RULES_NEWS2_SCALE_1 &&
        in->scale != RULES_NEWS2_SCALE_2)
        return HX_EINVAL;
    if (has(in, RULES_NEWS2_O2) && in->o2 != RULES_NEWS2_AIR && in->o2 != RULES_NEWS2_OXYGEN)
        return HX_EINVAL;
    if (has(in, RULES_NEWS2_ACVPU) &&
        (in->acvpu < RULES_NEWS2_ALERT || in->acvpu > RULES_NEWS2_UNRESPONSIVE))
        return HX_EINVAL;
    return 0;
}

int rules_news2_score(const struct rules_news2_input *in, struct rules_news2_result *out)
{
    int rc = validate(in);
    if (rc < 0)
        return rc;

    struct rules_news2_result r = {.missing = RULES_NEWS2_ALL & ~in->present};
    for (int p = 0; p < RULES_NEWS2__COUNT; p++) {
        r.sub[p] = -1;
        r.charted[p] = NAN;
    }
    /* O2 only counts for SpO2 scale 2 when it was given. */
    enum rules_news2_o2 o2 = has(in, RULES_NEWS2_O2) ? in->o2 : 0;
    if (has(in, RULES_NEWS2_RR)) {
        long v = chart_round(in->rr, 1);
        r.charted[RULES_NEWS2_RR] = (double)v;
        r.sub[RULES_NEWS2_RR] = score_rr(v);
    }
    if (has(in, RULES_NEWS2_SPO2)) {
        long v = chart_round(in->spo2, 1);
        r.charted[RULES_NEWS2_SPO2] = (double)v;
        r.sub[RULES_NEWS2_SPO2] =
            in->scale == RULES_NEWS2_SCALE_2 ? score_spo2_scale2(v, o2) : score_spo2_scale1(v);
    }
    if (has(in, RULES_NEWS2_O2))
        r.sub[RULES_NEWS2_O2] = score_o2(in->o2);
    if (has(in, RULES_NEWS2_SBP)) {
        long v = chart_round(in->sbp, 1);
        r.charted[RULES_NEWS2_SBP] = (double)v;
        r.sub[RULES_NEWS2_SBP] = score_sbp(v);
    }
    if (has(in, RULES_NEWS2_PULSE)) {
        long v = chart_round(in->pulse, 1);
        r.charted[RULES_NEWS2_PULSE] = (double)v;
        r.sub[RULES_NEWS2_PULSE] = score_pulse(v);
    }
    if (has(in, RULES_NEWS2_ACVPU))
        r.sub[RULES_NEWS2_ACVPU] = score_acvpu(in->acvpu);
    if (has(in, RULES_NEWS2_TEMP)) {
        long tenths = chart_round(in->temp, 10);
        r.charted[RULES_NEWS2_TEMP] = (double)tenths / 10.0;
        r.sub[RULES_NEWS2_TEMP] = score_temp_tenths(tenths);
    }

    bool all_scored = true;
    for (int p = 0; p < RULES_NEWS2__COUNT; p++) {
        if (r.sub[p] < 0) {
            all_scored = false;
            continue;
        }
        r.partial_score += r.sub[p];
        if (r.sub[p] == 3)
            r.single_parameter_3 = true;
    }
    /* Sub-scores are never negative, so adding the missing ones can only raise the aggregate
     * and set the single-3 flag; band_of is monotone in both, which makes minimum_band a
     * true lower bound. */
    r.minimum_band = band_of(r.partial_score, r.single_parameter_3);
    r.complete = r.missing == 0 && all_scored;
    r.score = r.complete ? r.partial_score : -1;
    r.band = r.complete ? r.minimum_band : RULES_NEWS2_BAND_INCOMPLETE;
    *out = r;
    return 0;
}

const char *rules_news2_param_name(enum rules_news2_param p)
{
    static const char *const names[RULES_NEWS2__COUNT] = {
        [RULES_NEWS2_RR] = "rr",     [RULES_NEWS2_SPO2] = "spo2",   [RULES_NEWS2_O2] = "o2",
        [RULES_NEWS2_SBP] = "sbp",   [RULES_NEWS2_PULSE] = "pulse", [RULES_NEWS2_ACVPU] = "acvpu",
        [RULES_NEWS2_TEMP] = "temp",
    };
    return (unsigned)p < RULES_NEWS2__COUNT ? names[p] : "?";
}

/* Chart 2 (risk) and Chart 4 (response, monitoring), RCP 2017; REFERENCE 6.2. */
static const struct band_text {
    const char *name;
    const char *response;
    const char *monitoring;
} band_texts[] = {
    [RULES_NEWS2_BAND_NONE] = {"none", "continue routine NEWS monitoring", "minimum 12-hourly"},
    [RULES_NEWS2_BAND_LOW] = {"low",
                              "inform the registered nurse, who must assess the patient and "
                              "decide whether to increase monitoring and/or escalate care "
                              "(ward-based response)",
                              "minimum 4-6-hourly"},
    [RULES_NEWS2_BAND_LOW_MEDIUM] = {"low-medium",
                                     "the registered nurse informs the medical team caring for "
                                     "the patient, who review and decide whether escalation of "
                                     "care is necessary (urgent ward-based response)",
                                     "minimum 1-hourly"},
    [RULES_NEWS2_BAND_MEDIUM] = {"medium",
                                 "the registered nurse immediately informs the medical team; "
                                 "urgent assessment by a clinician or team competent in acute "
                                 "illness; care in an environment with monitoring facilities "
                                 "(urgent response)",
                                 "minimum 1-hourly"},
    [RULES_NEWS2_BAND_HIGH] = {"high",
                               "the registered nurse immediately informs the medical team, at "
                               "least at specialist registrar level; emergency assessment by a "
                               "team with critical-care competencies including airway "
                               "management; consider transfer to level 2/3 care (HDU/ICU) "
                               "(emergency response)",
                               "continuous monitoring of vital signs"},
    [RULES_NEWS2_BAND_INCOMPLETE] = {"incomplete",
                                     "no valid NEWS2: record the missing parameters and score "
                                     "again; meanwhile respond at least as the minimum band "
                                     "requires",
                                     "record the missing parameters now"},
};

static const struct band_text *band_text(enum rules_news2_band b)
{
    return (unsigned)b < sizeof(band_texts) / sizeof(band_texts[0]) ? &band_texts[b] : NULL;
}

const char *rules_news2_band_name(enum rules_news2_band b)
{
    const struct band_text *t = band_text(b);
    return t ? t->name : "?";
}

const char *rules_news2_band_response(enum rules_news2_band b)
{
    const struct band_text *t = band_text(b);
    return t ? t->response : "?";
}

const char *rules_news2_band_monitoring(enum rules_news2_band b)
{
    const struct band_text *t = band_text(b);
    return t ? t->monitoring : "?";
}

/*
 * The rules engine's evaluation of readings: per patient the latest value of each code, the
 * threshold rules of the patient's protocol with persistence and hysteresis, NEWS2 from the
 * latest fresh components (once per message, not per component), heart-failure weight gain
 * and glucose fall rate (trend.h), Holt forecasts of threshold crossings ("predicted"
 * alerts), and missed scheduled measurements. Alert episodes are engine_alert.c, device
 * alerts engine_device.c, deadlines engine_timer.c. Thread: loop.
 */
#include "core/mem.h"
#include "rules/engine_int.h"
#include "rules/news2.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Forecast smoothing for bedside vitals sampled about every minute. */
static const struct rules_holt_params holt_params = {.alpha = 0.5,
                                                     .beta = 0.3,
                                                     .step_us = 60 * INT64_C(1000000),
                                                     .max_gap_us = 900 * INT64_C(1000000)};
#define FORECAST_MIN_POINTS 5
/* A predicted alert is for a crossing at least this far ahead: nearer ones are the threshold
 * rule's business (and a trend estimate from a few seconds of data is noise). */
#define FORECAST_MIN_LEAD_US (5 * 60 * INT64_C(1000000))
/* A prediction is raised only when this many readings in a row make it: a noisy but flat
 * series (96, 97, 96, ...) tips the trend one way and back at every reading. */
#define FORECAST_CONFIRM 3
/* Glucose fall rate over the last 15 minutes, from at least 3 readings. */
#define GLUCOSE_WINDOW_US (15 * 60 * INT64_C(1000000))
#define DAY_US            (86400 * INT64_C(1000000))

void rules_engine_new(struct rules_engine **out, const struct rules_sink *sink, int64_t next_id)
{
    struct rules_engine *e = hx_xcalloc(1, sizeof(*e));
    if (sink)
        e->sink = *sink;
    e->next_id = next_id > 0 ? next_id : 1;
    rules_config_defaults(&e->dflt, RULES_PROTO_ADULT_WARD);
    for (int s = 0; s <= ALERT_SEV_CRITICAL; s++)
        rules_escalation_defaults(&e->esc[s], s);
    e->nodata_grace_us = 1000 * 1000;
    *out = e;
}

void rules_engine_free(struct rules_engine *e)
{
    if (!e)
        return;
    for (uint32_t i = 0; i < e->patients.cap; i++) {
        struct rules__patient *p = e->patients.vals[i];
        if (p) {
            free(p->own);
            free(p);
        }
    }
    for (uint32_t i = 0; i < e->devices.cap; i++)
        free(e->devices.vals[i]);
    for (uint32_t i = 0; i < e->alerts.cap; i++)
        free(e->alerts.vals[i]);
    hx_idmap_release(&e->patients);
    hx_idmap_release(&e->devices);
    hx_idmap_release(&e->alerts);
    hx_idmap_release(&e->by_key);
    free(e->heap);
    free(e->dirty);
    free(e);
}

struct rules__patient *rules__patient(struct rules_engine *e, int64_t id)
{
    struct rules__patient *p = hx_idmap_get(&e->patients, id);
    if (p)
        return p;
    p = hx_xcalloc(1, sizeof(*p));
    p->id = id;
    p->cfg_gen = e->cfg_gen;
    rules_series_init(&p->weight);
    rules_series_init(&p->glucose);
    for (int i = 0; i < RULES_THRESHOLDS_MAX; i++)
        rules_holt_init(&p->holt[i]);
    for (int i = 0; i < RULES__SCHEDULES; i++) {
        rules__timer_init(&p->sched[i], RULES__T_SCHEDULE, p);
        p->sched[i].slot = (uint8_t)i;
    }
    hx_idmap_put(&e->patients, id, p);
    e->stats.patients++;
    return p;
}

const struct rules_patient_config *rules__config(const struct rules_engine *e,
                                                 const struct rules__patient *p)
{
    return p->own ? p->own : &e->dflt;
}

/* ---- configuration ------------------------------------------------------------------------ */

static int64_t next_local_minute(int64_t now_us, int minute)
{
    time_t now = (time_t)(now_us / 1000000);
    struct tm tm;
    localtime_r(&now, &tm);
    tm.tm_hour = minute / 60;
    tm.tm_min = minute % 60;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if ((int64_t)t * 1000000 <= now_us) {
        tm.tm_mday++;
        tm.tm_isdst = -1;
        t = mktime(&tm);
    }
    return (int64_t)t * 1000000;
}

static int64_t local_midnight(int64_t t_us)
{
    time_t t = (time_t)(t_us / 1000000);
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000000;
}

static void arm_schedules(struct rules_engine *e, struct rules__patient *p, int64_t now)
{
    const struct rules_patient_config *c = rules__config(e, p);
    for (int i = 0; i < RULES__SCHEDULES; i++) {
        if (c->schedule_minute[i] >= 0)
            rules__timer_set(e, &p->sched[i], next_local_minute(now, c->schedule_minute[i]));
        else
            rules__timer_cancel(e, &p->sched[i]);
    }
}

void rules_engine_set_default_config(struct rules_engine *e, const struct rules_patient_config *c)
{
    e->dflt = *c;
    e->cfg_gen++;
}

void rules_engine_set_patient_config(struct rules_engine *e, int64_t patient_id,
                                     const struct rules_patient_config *c)
{
    struct rules__patient *p = rules__patient(e, patient_id);
    if (!p->own)
        p->own = hx_xmalloc(sizeof(*p->own));
    *p->own = *c;
    e->cfg_gen++;
    /* Schedules count from the wall clock, not a reading. */
    arm_schedules(e, p, (int64_t)time(NULL) * 1000000);
}

void rules_engine_clear_patient_configs(struct rules_engine *e)
{
    for (uint32_t i = 0; i < e->patients.cap; i++) {
        struct rules__patient *p = e->patients.vals[i];
        if (p && p->own) {
            HX_FREE(p->own);
            for (int s = 0; s < RULES__SCHEDULES; s++)
                rules__timer_cancel(e, &p->sched[s]);
        }
    }
    e->cfg_gen++;
}

void rules_engine_set_escalation(struct rules_engine *e, int severity,
                                 const struct rules_escalation *p)
{
    if (severity >= ALERT_SEV_INFO && severity <= ALERT_SEV_CRITICAL)
        e->esc[severity] = *p;
}

void rules_engine_set_nodata_grace(struct rules_engine *e, uint32_t grace_ms)
{
    e->nodata_grace_us = grace_ms * 1000;
}

/* A physiological alert change of patient p caused by reading o. */
static struct rules__change phys_change(struct rules__patient *p, const struct obs *o,
                                        const char *rule, int sev, int64_t now)
{
    return (struct rules__change){
        .cls = ALERT_CLASS_PHYSIOLOGICAL,
        .owner = p->id,
        .patient = p,
        .patient_id = p->id,
        .device_id = o->device_id,
        .rule = rule,
        .severity = sev,
        .code = o->code,
        .value = o->value,
        .at = now,
        .rx = o->received_us,
    };
}

/* ---- thresholds and forecasts ------------------------------------------------------------- */

/* Does a reading of code feed rule t? Pulse-oximeter and ECG rates feed heart-rate rules. */
static bool feeds(int rule_code, int code)
{
    return rule_code == code || (rule_code == OBS_CODE_HEART_RATE &&
                                 (code == OBS_CODE_PULSE_RATE || code == OBS_CODE_HEART_RATE_ECG));
}

static const char *code_name(int code)
{
    const struct obs_code *c = obs_code_get(code);
    return c ? c->senml_name : "?";
}

/* "KIND.CODE.low|high" (the hot path: no printf). */
static void rule_key(char *buf, size_t cap, const char *kind, const struct rules_threshold *t)
{
    const char *parts[5] = {kind, ".", code_name(t->code), ".",
                            t->dir == RULES_LOW ? "low" : "high"};
    size_t n = 0;
    for (int i = 0; i < 5; i++) {
        size_t l = strlen(parts[i]);
        if (n + l >= cap)
            l = cap - 1 - n;
        memcpy(buf + n, parts[i], l);
        n += l;
    }
    buf[n] = '\0';
}

/* The patient's open alert of (cls, rule); no hashing when it has none. */
static struct rules__alert *find_p(const struct rules_engine *e, const struct rules__patient *p,
                                   int cls, const char *rule)
{
    return p->n_open ? rules__find(e, cls, p->id, rule) : NULL;
}

static void clear_p(struct rules_engine *e, const struct rules__patient *p, int cls,
                    const char *rule, int64_t now)
{
    if (p->n_open)
        rules__clear(e, cls, p->id, rule, now);
}

static void format_value(char *buf, size_t cap, int code, double v)
{
    const struct obs_code *c = obs_code_get(code);
    snprintf(buf, cap, "%.*f %s", fabs(v - round(v)) < 1e-9 ? 0 : 1, v, c ? c->unit_label : "");
}

static void threshold(struct rules_engine *e, struct rules__patient *p, size_t idx,
                      const struct rules_threshold *t, const struct obs *o, int64_t now)
{
    struct rules__pending *pd = &p->pend[idx];
    double v = o->value;
    bool low = t->dir == RULES_LOW;
    bool abnormal = low ? v < t->limit[0] : v > t->limit[0];
    bool cleared = low ? v >= t->limit[0] + t->hysteresis : v <= t->limit[0] - t->hysteresis;
    if (!abnormal && !p->n_open) { /* the common case: nothing to look up */
        if (cleared)
            pd->n = 0, pd->since = 0;
        return;
    }
    char key[ALERT_RULE_MAX];
    rule_key(key, sizeof(key), "threshold", t);
    if (!abnormal) {
        /* Only a value back past the margin ends the run: one hovering around the limit
         * (in the hysteresis band) keeps counting towards the same episode. */
        if (cleared) {
            pd->n = 0;
            pd->since = 0;
            clear_p(e, p, ALERT_CLASS_PHYSIOLOGICAL, key, now);
        }
        return;
    }
    if (pd->n++ == 0)
        pd->since = o->effective_us;
    int tier = 0;
    for (int i = 1; i < t->n_tiers; i++)
        if (low ? v < t->limit[i] : v > t->limit[i])
            tier = i;
    bool open = find_p(e, p, ALERT_CLASS_PHYSIOLOGICAL, key) != NULL;
    bool held = (t->persist_n && pd->n >= t->persist_n) ||
                (t->persist_s && o->effective_us - pd->since >= (int64_t)t->persist_s * 1000000) ||
                (!t->persist_n && !t->persist_s);
    if (!open && !held)
        return;
    const struct obs_code *c = obs_code_get(t->code);
    char val[48], title[ALERT_TITLE_MAX], detail[ALERT_DETAIL_MAX];
    format_value(val, sizeof(val), t->code, v);
    snprintf(title, sizeof(title), "%s %s: %s", c ? c->display : "?", low ? "low" : "high", val);
    format_value(val, sizeof(val), t->code, t->limit[tier]);
    snprintf(detail, sizeof(detail), "%s %s (%s tier)", low ? "below" : "above", val,
             alert_severity_name(t->severity[tier]));
    struct rules__change ch = phys_change(p, o, key, t->severity[tier], now);
    ch.code = t->code;
    ch.worse_is_lower = low;
    ch.title = title;
    ch.detail = detail;
    rules__raise(e, &ch);
    /* The real thing supersedes its prediction. */
    rule_key(key, sizeof(key), "forecast", t);
    clear_p(e, p, ALERT_CLASS_PHYSIOLOGICAL, key, now);
}

static void forecast(struct rules_engine *e, struct rules__patient *p, size_t idx,
                     const struct rules_threshold *t, const struct obs *o, int64_t now)
{
    const struct rules_patient_config *c = rules__config(e, p);
    struct rules_holt *h = &p->holt[idx];
    rules_holt_update(h, &holt_params, o->effective_us, o->value);
    if (!c->forecast_horizon_s)
        return;
    if (p->pend[idx].n || p->holt[idx].n < FORECAST_MIN_POINTS)
        return; /* already abnormal (the threshold rule speaks), or too little history */
    char key[ALERT_RULE_MAX], real[ALERT_RULE_MAX];
    rule_key(key, sizeof(key), "forecast", t);
    rule_key(real, sizeof(real), "threshold", t);
    if (find_p(e, p, ALERT_CLASS_PHYSIOLOGICAL, real))
        return;
    bool crosses = false;
    int64_t eta = 0;
    enum rules_trend_dir dir = t->dir == RULES_LOW ? RULES_TREND_FALLING : RULES_TREND_RISING;
    int64_t horizon = (int64_t)c->forecast_horizon_s * 1000000;
    bool open = find_p(e, p, ALERT_CLASS_PHYSIOLOGICAL, key) != NULL;
    /* An open prediction stays while the crossing is still expected within twice the
     * horizon, so that it does not flap at the horizon's edge. */
    if (rules_holt_time_to_cross(h, t->limit[0], dir, open ? 2 * horizon : horizon,
                                 FORECAST_MIN_POINTS, &crosses, &eta) < 0 ||
        !crosses) {
        p->predicted[idx] = 0;
        clear_p(e, p, ALERT_CLASS_PHYSIOLOGICAL, key, now);
        return;
    }
    if (!open && eta - o->effective_us < FORECAST_MIN_LEAD_US) {
        p->predicted[idx] = 0;
        return;
    }
    if (p->predicted[idx] < FORECAST_CONFIRM)
        p->predicted[idx]++;
    if (!open && p->predicted[idx] < FORECAST_CONFIRM)
        return;
    const struct obs_code *oc = obs_code_get(t->code);
    char val[48], title[ALERT_TITLE_MAX];
    format_value(val, sizeof(val), t->code, t->limit[0]);
    int64_t mins = (eta - o->effective_us) / 60000000;
    snprintf(title, sizeof(title), "%s predicted %s %s in about %lld min", oc ? oc->display : "?",
             t->dir == RULES_LOW ? "below" : "above", val, (long long)(mins > 0 ? mins : 0));
    struct rules__change ch = phys_change(p, o, key, ALERT_SEV_LOW, now);
    ch.code = t->code;
    ch.worse_is_lower = t->dir == RULES_LOW;
    ch.title = title;
    ch.detail = "Holt linear trend projection (docs/rules.md)";
    rules__raise(e, &ch);
}

/* ---- trends ------------------------------------------------------------------------------- */

static void trend_alert(struct rules_engine *e, struct rules__patient *p, const struct obs *o,
                        const char *rule, bool on, int sev, const char *title, int64_t now)
{
    if (!on) {
        clear_p(e, p, ALERT_CLASS_PHYSIOLOGICAL, rule, now);
        return;
    }
    struct rules__change ch = phys_change(p, o, rule, sev, now);
    ch.worse_is_lower = o->code != OBS_CODE_WEIGHT;
    ch.title = title;
    rules__raise(e, &ch);
}

static void trends(struct rules_engine *e, struct rules__patient *p, const struct obs *o,
                   int64_t now)
{
    const struct rules_patient_config *c = rules__config(e, p);
    char title[ALERT_TITLE_MAX];
    if (o->code == OBS_CODE_WEIGHT && (c->weight_gain_3d_kg > 0 || c->weight_gain_1d_kg > 0)) {
        rules_series_add(&p->weight, o->effective_us, o->value);
        static const struct {
            const char *rule;
            int days;
        } w[] = {{"trend.weight_3d", 3}, {"trend.weight_1d", 1}};
        for (int i = 0; i < 2; i++) {
            double limit = i == 0 ? c->weight_gain_3d_kg : c->weight_gain_1d_kg;
            double delta = 0;
            int64_t from = 0;
            bool on = limit > 0 &&
                      rules_series_change(&p->weight, o->effective_us, w[i].days * DAY_US,
                                          RULES_TREND_RISING, &delta, &from) == 0 &&
                      rules_trend_is_more_than(delta, limit);
            snprintf(title, sizeof(title), "Weight up %.1f kg in %d day%s (limit %.1f kg)", delta,
                     w[i].days, w[i].days > 1 ? "s" : "", limit);
            trend_alert(e, p, o, w[i].rule, on, ALERT_SEV_MEDIUM, title, now);
        }
    }
    if ((o->code == OBS_CODE_GLUCOSE || o->code == OBS_CODE_GLUCOSE_CGM) &&
        c->glucose_fall_per_min > 0) {
        rules_series_add(&p->glucose, o->effective_us, o->value);
        double slope = 0;
        if (rules_series_slope(&p->glucose, o->effective_us, GLUCOSE_WINDOW_US, 3, &slope) < 0)
            return;
        bool open = find_p(e, p, ALERT_CLASS_PHYSIOLOGICAL, "trend.glucose_fall");
        /* Clears only once the fall has slowed to three quarters of the limit. */
        double limit = open ? 0.75 * c->glucose_fall_per_min : c->glucose_fall_per_min;
        snprintf(title, sizeof(title), "Glucose falling %.1f mg/dL per min", -slope);
        trend_alert(e, p, o, "trend.glucose_fall", rules_trend_is_more_than(-slope, limit),
                    ALERT_SEV_HIGH, title, now);
    }
}

/* ---- NEWS2 -------------------------------------------------------------------------------- */

static bool fresh(const struct rules__latest *l, int64_t now, uint32_t fresh_s)
{
    return l->t && now - l->t <= (int64_t)fresh_s * 1000000;
}

static int news2_severity(enum rules_news2_band b)
{
    switch (b) {
    case RULES_NEWS2_BAND_LOW:
        return ALERT_SEV_INFO;
    case RULES_NEWS2_BAND_LOW_MEDIUM:
        return ALERT_SEV_LOW;
    case RULES_NEWS2_BAND_MEDIUM:
        return ALERT_SEV_MEDIUM;
    case RULES_NEWS2_BAND_HIGH:
        return ALERT_SEV_HIGH;
    default:
        return ALERT_SEV_NONE;
    }
}

static void news2(struct rules_engine *e, struct rules__patient *p, int64_t now)
{
    const struct rules_patient_config *c = rules__config(e, p);
    if (!c->news2_enabled)
        return;
    const struct rules__latest *L = p->latest;
    uint32_t fs = c->news2_fresh_s;
    struct rules_news2_input in = {.scale = c->spo2_scale == 2 ? RULES_NEWS2_SCALE_2
                                                               : RULES_NEWS2_SCALE_1};
    if (fresh(&L[OBS_CODE_RESP_RATE], now, fs)) {
        in.present |= RULES_NEWS2_BIT(RULES_NEWS2_RR);
        in.rr = L[OBS_CODE_RESP_RATE].v;
    }
    if (fresh(&L[OBS_CODE_SPO2], now, fs)) {
        in.present |= RULES_NEWS2_BIT(RULES_NEWS2_SPO2);
        in.spo2 = L[OBS_CODE_SPO2].v;
    }
    if (fresh(&L[OBS_CODE_O2_FLOW], now, fs)) {
        in.present |= RULES_NEWS2_BIT(RULES_NEWS2_O2);
        in.o2 = L[OBS_CODE_O2_FLOW].v > 0 ? RULES_NEWS2_OXYGEN : RULES_NEWS2_AIR;
    }
    if (fresh(&L[OBS_CODE_BP_SYS], now, fs)) {
        in.present |= RULES_NEWS2_BIT(RULES_NEWS2_SBP);
        in.sbp = L[OBS_CODE_BP_SYS].v;
    }
    static const int pulse_codes[] = {OBS_CODE_HEART_RATE, OBS_CODE_PULSE_RATE,
                                      OBS_CODE_HEART_RATE_ECG};
    const struct rules__latest *pulse = NULL;
    for (int i = 0; i < 3; i++)
        if (fresh(&L[pulse_codes[i]], now, fs) && (!pulse || L[pulse_codes[i]].t > pulse->t))
            pulse = &L[pulse_codes[i]];
    if (pulse) {
        in.present |= RULES_NEWS2_BIT(RULES_NEWS2_PULSE);
        in.pulse = pulse->v;
    }
    if (fresh(&L[OBS_CODE_CONSCIOUSNESS], now, fs)) {
        in.present |= RULES_NEWS2_BIT(RULES_NEWS2_ACVPU);
        in.acvpu = (enum rules_news2_acvpu)lround(L[OBS_CODE_CONSCIOUSNESS].v);
    }
    if (fresh(&L[OBS_CODE_TEMPERATURE], now, fs)) {
        in.present |= RULES_NEWS2_BIT(RULES_NEWS2_TEMP);
        in.temp = L[OBS_CODE_TEMPERATURE].v;
    }
    struct rules_news2_result r;
    if (rules_news2_score(&in, &r) < 0 || !r.complete)
        return; /* an incomplete score neither raises nor clears */
    if (r.band >= c->news2_min_band) {
        char title[ALERT_TITLE_MAX], detail[ALERT_DETAIL_MAX];
        snprintf(title, sizeof(title), "NEWS2 %d (%s)", r.score, rules_news2_band_name(r.band));
        int n = snprintf(detail, sizeof(detail), "%s.", rules_news2_band_response(r.band));
        for (int i = 0; i < RULES_NEWS2__COUNT && n > 0 && (size_t)n < sizeof(detail); i++)
            n += snprintf(detail + n, sizeof(detail) - (size_t)n, " %s %d",
                          rules_news2_param_name((enum rules_news2_param)i), r.sub[i]);
        struct rules__change ch = {
            .cls = ALERT_CLASS_PHYSIOLOGICAL,
            .owner = p->id,
            .patient = p,
            .patient_id = p->id,
            .rule = "news2",
            .severity = news2_severity(r.band),
            .value = r.score,
            .at = now,
            .rx = p->news2_rx,
            .title = title,
            .detail = detail,
        };
        rules__raise(e, &ch);
        p->news2_below = 0;
    } else if (find_p(e, p, ALERT_CLASS_PHYSIOLOGICAL, "news2") && ++p->news2_below >= 2) {
        /* Two complete scores in a row below the alerting band. */
        clear_p(e, p, ALERT_CLASS_PHYSIOLOGICAL, "news2", now);
        p->news2_below = 0;
    }
}

static bool is_news2_component(int code)
{
    switch (code) {
    case OBS_CODE_RESP_RATE:
    case OBS_CODE_SPO2:
    case OBS_CODE_O2_FLOW:
    case OBS_CODE_BP_SYS:
    case OBS_CODE_HEART_RATE:
    case OBS_CODE_PULSE_RATE:
    case OBS_CODE_HEART_RATE_ECG:
    case OBS_CODE_CONSCIOUSNESS:
    case OBS_CODE_TEMPERATURE:
        return true;
    default:
        return false;
    }
}

/* ---- schedules ---------------------------------------------------------------------------- */

static const struct {
    const char *rule;
    const char *what;
    int codes[2];
} schedules[RULES__SCHEDULES] = {
    {"schedule.weight", "weight", {OBS_CODE_WEIGHT, 0}},
    {"schedule.bp", "blood pressure", {OBS_CODE_BP_SYS, 0}},
    {"schedule.glucose", "glucose", {OBS_CODE_GLUCOSE, OBS_CODE_GLUCOSE_CGM}},
    {"schedule.spo2", "SpO2", {OBS_CODE_SPO2, 0}},
};

void rules__schedule_timer(struct rules_engine *e, struct rules__timer *t, int64_t now)
{
    struct rules__patient *p = t->owner;
    int s = t->slot;
    int64_t since = local_midnight(now);
    bool taken = false;
    for (int i = 0; i < 2 && schedules[s].codes[i]; i++)
        taken = taken || p->latest[schedules[s].codes[i]].t >= since;
    if (!taken) {
        char title[ALERT_TITLE_MAX];
        snprintf(title, sizeof(title), "Missed measurement: no %s today", schedules[s].what);
        struct rules__change ch = {
            .cls = ALERT_CLASS_TECHNICAL,
            .owner = p->id,
            .patient = p,
            .patient_id = p->id,
            .rule = schedules[s].rule,
            .severity = ALERT_SEV_LOW,
            .code = (uint16_t)schedules[s].codes[0],
            .value = NAN,
            .at = now,
            .title = title,
        };
        rules__raise(e, &ch);
    }
    const struct rules_patient_config *c = rules__config(e, p);
    if (c->schedule_minute[s] >= 0)
        rules__timer_set(e, t, next_local_minute(now + 1000000, c->schedule_minute[s]));
}

/* ---- the reading path --------------------------------------------------------------------- */

static void mark_dirty(struct rules_engine *e, struct rules__patient *p, int64_t rx)
{
    p->news2_rx = rx;
    if (p->news2_dirty)
        return;
    p->news2_dirty = true;
    if (e->n_dirty == e->cap_dirty) {
        e->cap_dirty = e->cap_dirty ? 2 * e->cap_dirty : 16;
        e->dirty = hx_xrealloc(e->dirty, e->cap_dirty * sizeof(*e->dirty));
    }
    e->dirty[e->n_dirty++] = p;
}

static void observe_one(struct rules_engine *e, const struct obs *o, int64_t now)
{
    e->stats.readings++;
    if (o->device_id)
        rules__device_data(e, o->device_id, now);
    if (!o->patient_id || o->code == OBS_CODE_NONE || o->code >= OBS_CODE__COUNT)
        return;
    struct rules__patient *p = rules__patient(e, o->patient_id);
    if (p->cfg_gen != e->cfg_gen) { /* the rules changed: persistence starts again */
        memset(p->pend, 0, sizeof(p->pend));
        memset(p->predicted, 0, sizeof(p->predicted));
        for (int i = 0; i < RULES_THRESHOLDS_MAX; i++)
            rules_holt_init(&p->holt[i]);
        p->cfg_gen = e->cfg_gen;
    }
    struct rules__latest *l = &p->latest[o->code];
    if (o->effective_us < l->t)
        return; /* a late reading: stored, but the rules judge the present */
    *l = (struct rules__latest){.v = o->value, .t = o->effective_us, .rx = o->received_us};
    const struct rules_patient_config *c = rules__config(e, p);
    bool has_rule[2] = {false, false};
    for (size_t i = 0; i < c->n_thresholds; i++) {
        const struct rules_threshold *t = &c->thresholds[i];
        if (!t->n_tiers || !feeds(t->code, o->code))
            continue;
        if (t->code == o->code)
            has_rule[t->dir] = true;
        threshold(e, p, i, t, o, now);
        forecast(e, p, i, t, o, now);
    }
    for (int dir = 0; dir < 2 && p->n_open; dir++) {
        if (has_rule[dir])
            continue;
        /* A rule switched off: its open alert ends with the next reading. */
        char key[ALERT_RULE_MAX];
        snprintf(key, sizeof(key), "threshold.%s.%s", code_name(o->code), dir ? "high" : "low");
        clear_p(e, p, ALERT_CLASS_PHYSIOLOGICAL, key, now);
    }
    trends(e, p, o, now);
    for (int s = 0; s < RULES__SCHEDULES; s++)
        if (schedules[s].codes[0] == o->code || schedules[s].codes[1] == o->code)
            clear_p(e, p, ALERT_CLASS_TECHNICAL, schedules[s].rule, now);
    if (is_news2_component(o->code))
        mark_dirty(e, p, o->received_us);
}

void rules_engine_observe(struct rules_engine *e, const struct obs *o, size_t n, int64_t now_us)
{
    for (size_t i = 0; i < n; i++)
        observe_one(e, &o[i], now_us);
    /* NEWS2 once per patient per message, after all its components are in. */
    for (uint32_t i = 0; i < e->n_dirty; i++) {
        e->dirty[i]->news2_dirty = false;
        news2(e, e->dirty[i], now_us);
    }
    e->n_dirty = 0;
}

/* ---- timers ------------------------------------------------------------------------------- */

int64_t rules_engine_next_due(const struct rules_engine *e)
{
    const struct rules__timer *t = rules__timer_peek(e);
    return t ? t->due : INT64_MAX;
}

void rules_engine_tick(struct rules_engine *e, int64_t now_us)
{
    struct rules__timer *t;
    while ((t = rules__timer_peek(e)) && t->due <= now_us) {
        rules__timer_cancel(e, t);
        switch (t->kind) {
        case RULES__T_ESCALATION:
            rules__escalate(e, t->owner, now_us);
            break;
        case RULES__T_NODATA:
        case RULES__T_DISCONNECT:
            rules__device_timer(e, t, now_us);
            break;
        case RULES__T_SCHEDULE:
            rules__schedule_timer(e, t, now_us);
            break;
        default:
            break;
        }
    }
}

void rules_engine_get_stats(const struct rules_engine *e, struct rules_stats *out)
{
    *out = e->stats;
}

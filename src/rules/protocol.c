/*
 * Default care protocols, device-kind reporting intervals, escalation policies, and the
 * parser of rule settings. The numbers are conservative starting points that a clinical
 * safety officer reviews and tunes per site (docs/rules.md lists them); they are not
 * clinical advice. Thread: any (pure).
 */
#include "rules/protocol.h"
#include "core/err.h"
#include "domain/codes.h"
#include "rules/news2.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const proto_names[RULES_PROTO__COUNT] = {"adult_ward", "home_hf", "copd",
                                                            "diabetes"};

const char *rules_protocol_name(int id)
{
    return id >= 0 && id < RULES_PROTO__COUNT ? proto_names[id] : NULL;
}

int rules_protocol_parse(const char *name)
{
    for (int i = 0; i < RULES_PROTO__COUNT; i++)
        if (strcmp(name, proto_names[i]) == 0)
            return i;
    return -1;
}

#define T1(c, d, l0, s0, h, ps, pn)                                                                \
    {                                                                                              \
        .code = (c), .dir = (d), .n_tiers = 1, .limit = {l0}, .severity = {s0}, .hysteresis = (h), \
        .persist_s = (ps), .persist_n = (pn)                                                       \
    }
#define T2(c, d, l0, s0, l1, s1, h, ps, pn)                                                        \
    {                                                                                              \
        .code = (c), .dir = (d), .n_tiers = 2, .limit = {l0, l1}, .severity = {s0, s1},            \
        .hysteresis = (h), .persist_s = (ps), .persist_n = (pn)                                    \
    }

/* Adult ward (NEWS2 patients): thresholds just beyond NEWS2's own red scores, so that a
 * single sustained extreme value alerts even before the aggregate does. Persistence: two
 * consecutive readings or 60 s, so one artefact does not page anyone. */
static const struct rules_threshold adult_ward[] = {
    T2(OBS_CODE_HEART_RATE, RULES_HIGH, 130, ALERT_SEV_MEDIUM, 150, ALERT_SEV_HIGH, 5, 60, 2),
    T2(OBS_CODE_HEART_RATE, RULES_LOW, 45, ALERT_SEV_MEDIUM, 35, ALERT_SEV_HIGH, 3, 60, 2),
    T2(OBS_CODE_SPO2, RULES_LOW, 92, ALERT_SEV_MEDIUM, 88, ALERT_SEV_HIGH, 2, 60, 2),
    T2(OBS_CODE_RESP_RATE, RULES_HIGH, 24, ALERT_SEV_MEDIUM, 29, ALERT_SEV_HIGH, 2, 60, 2),
    T1(OBS_CODE_RESP_RATE, RULES_LOW, 9, ALERT_SEV_HIGH, 2, 60, 2),
    T2(OBS_CODE_BP_SYS, RULES_LOW, 100, ALERT_SEV_MEDIUM, 90, ALERT_SEV_HIGH, 5, 60, 2),
    T2(OBS_CODE_BP_SYS, RULES_HIGH, 200, ALERT_SEV_MEDIUM, 219, ALERT_SEV_HIGH, 5, 60, 2),
    T2(OBS_CODE_TEMPERATURE, RULES_HIGH, 38.5, ALERT_SEV_LOW, 39.5, ALERT_SEV_MEDIUM, 0.3, 60, 2),
    T1(OBS_CODE_TEMPERATURE, RULES_LOW, 35.5, ALERT_SEV_MEDIUM, 0.3, 60, 2),
};

/* Home remote monitoring, heart failure: spot checks, so one reading is enough. */
static const struct rules_threshold home_hf[] = {
    T2(OBS_CODE_HEART_RATE, RULES_HIGH, 110, ALERT_SEV_MEDIUM, 130, ALERT_SEV_HIGH, 5, 0, 1),
    T1(OBS_CODE_HEART_RATE, RULES_LOW, 45, ALERT_SEV_MEDIUM, 3, 0, 1),
    T2(OBS_CODE_BP_SYS, RULES_LOW, 95, ALERT_SEV_MEDIUM, 85, ALERT_SEV_HIGH, 5, 0, 1),
    T2(OBS_CODE_SPO2, RULES_LOW, 92, ALERT_SEV_MEDIUM, 88, ALERT_SEV_HIGH, 2, 0, 1),
};

/* COPD with a prescribed target of 88-92 %: low SpO2 starts below 88. */
static const struct rules_threshold copd[] = {
    T2(OBS_CODE_SPO2, RULES_LOW, 88, ALERT_SEV_MEDIUM, 85, ALERT_SEV_HIGH, 2, 60, 2),
    T2(OBS_CODE_RESP_RATE, RULES_HIGH, 24, ALERT_SEV_MEDIUM, 29, ALERT_SEV_HIGH, 2, 60, 2),
    T2(OBS_CODE_HEART_RATE, RULES_HIGH, 120, ALERT_SEV_MEDIUM, 140, ALERT_SEV_HIGH, 5, 60, 2),
};

/* Diabetes: hypoglycaemia levels 1 (< 70 mg/dL) and 2 (< 54), hyperglycaemia. */
static const struct rules_threshold diabetes[] = {
    T2(OBS_CODE_GLUCOSE, RULES_LOW, 70, ALERT_SEV_HIGH, 54, ALERT_SEV_CRITICAL, 10, 0, 1),
    T2(OBS_CODE_GLUCOSE_CGM, RULES_LOW, 70, ALERT_SEV_HIGH, 54, ALERT_SEV_CRITICAL, 10, 0, 2),
    T2(OBS_CODE_GLUCOSE, RULES_HIGH, 250, ALERT_SEV_MEDIUM, 400, ALERT_SEV_HIGH, 20, 0, 1),
    T2(OBS_CODE_GLUCOSE_CGM, RULES_HIGH, 250, ALERT_SEV_MEDIUM, 400, ALERT_SEV_HIGH, 20, 0, 2),
};

static void copy_rules(struct rules_patient_config *cfg, const struct rules_threshold *t, size_t n)
{
    memcpy(cfg->thresholds, t, n * sizeof(*t));
    cfg->n_thresholds = n;
}

void rules_config_defaults(struct rules_patient_config *cfg, int protocol)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->protocol = (uint8_t)protocol;
    cfg->spo2_scale = 1;
    cfg->news2_min_band = RULES_NEWS2_BAND_LOW_MEDIUM;
    cfg->news2_fresh_s = 3600;
    cfg->forecast_horizon_s = 1800;
    for (int i = 0; i < 4; i++)
        cfg->schedule_minute[i] = -1;
    switch (protocol) {
    case RULES_PROTO_HOME_HF:
        copy_rules(cfg, home_hf, sizeof(home_hf) / sizeof(home_hf[0]));
        cfg->weight_gain_3d_kg = 2.0;
        cfg->weight_gain_1d_kg = 1.5;
        cfg->schedule_minute[0] = 11 * 60; /* a daily weight by 11:00 */
        break;
    case RULES_PROTO_COPD:
        copy_rules(cfg, copd, sizeof(copd) / sizeof(copd[0]));
        cfg->news2_enabled = true;
        cfg->spo2_scale = 2;
        break;
    case RULES_PROTO_DIABETES:
        copy_rules(cfg, diabetes, sizeof(diabetes) / sizeof(diabetes[0]));
        cfg->glucose_fall_per_min = 2.0;
        break;
    default:
        copy_rules(cfg, adult_ward, sizeof(adult_ward) / sizeof(adult_ward[0]));
        cfg->news2_enabled = true;
        break;
    }
}

const struct rules_threshold *rules_config_threshold(const struct rules_patient_config *cfg,
                                                     int code, int dir)
{
    for (size_t i = 0; i < cfg->n_thresholds; i++)
        if (cfg->thresholds[i].code == code && cfg->thresholds[i].dir == dir)
            return &cfg->thresholds[i];
    return NULL;
}

static int fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return HX_EINVAL;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || *s == '-' || v > 100000000UL)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* "LIMIT[:SEV][,LIMIT:SEV...]" into t (keeps t's severities where none is given). */
static int parse_tiers(struct rules_threshold *t, const char *value, char *err, size_t len)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", value);
    struct rules_threshold n = *t;
    n.n_tiers = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n.n_tiers == RULES_TIERS_MAX)
            return fail(err, len, "at most 3 limits in '%s'", value);
        char *colon = strchr(tok, ':');
        if (colon)
            *colon = '\0';
        double lim;
        if (!parse_double(tok, &lim))
            return fail(err, len, "'%s' is not a number (in '%s')", tok, value);
        int sev = n.severity[n.n_tiers] ? n.severity[n.n_tiers] : ALERT_SEV_MEDIUM;
        if (colon && !(sev = alert_severity_parse(colon + 1)))
            return fail(err, len, "unknown severity '%s' (info, low, medium, high, critical)",
                        colon + 1);
        if (n.n_tiers > 0) {
            double prev = n.limit[n.n_tiers - 1];
            bool further = t->dir == RULES_LOW ? lim < prev : lim > prev;
            if (!further || sev < n.severity[n.n_tiers - 1])
                return fail(err, len,
                            "limits in '%s' must go further out with the same or a higher "
                            "severity",
                            value);
        }
        n.limit[n.n_tiers] = lim;
        n.severity[n.n_tiers] = (uint8_t)sev;
        n.n_tiers++;
    }
    if (n.n_tiers == 0)
        return fail(err, len, "no limit in '%s'", value);
    *t = n;
    return 0;
}

/* The rule of (code, dir) in cfg, added (disabled, default persistence) when absent. */
static struct rules_threshold *rule_for(struct rules_patient_config *cfg, int code, int dir)
{
    for (size_t i = 0; i < cfg->n_thresholds; i++)
        if (cfg->thresholds[i].code == code && cfg->thresholds[i].dir == dir)
            return &cfg->thresholds[i];
    if (cfg->n_thresholds == RULES_THRESHOLDS_MAX)
        return NULL;
    struct rules_threshold *t = &cfg->thresholds[cfg->n_thresholds++];
    *t = (struct rules_threshold){.code = (uint16_t)code, .dir = (uint8_t)dir, .persist_n = 1};
    return t;
}

static int parse_hhmm(const char *v, int16_t *out)
{
    if (strcmp(v, "off") == 0) {
        *out = -1;
        return 0;
    }
    /* Exactly H:MM or HH:MM. */
    size_t n = strlen(v);
    if ((n != 4 && n != 5) || v[n - 3] != ':')
        return -1;
    for (size_t i = 0; i < n; i++)
        if (i != n - 3 && (v[i] < '0' || v[i] > '9'))
            return -1;
    int h = n == 5 ? (v[0] - '0') * 10 + (v[1] - '0') : v[0] - '0';
    int m = (v[n - 2] - '0') * 10 + (v[n - 1] - '0');
    if (h > 23 || m > 59)
        return -1;
    *out = (int16_t)(h * 60 + m);
    return 0;
}

int rules_config_apply(struct rules_patient_config *cfg, const char *key, const char *value,
                       char *err, size_t err_len)
{
    double d = 0;
    uint32_t u = 0;
    if (strcmp(key, "protocol") == 0) {
        int p = rules_protocol_parse(value);
        if (p < 0)
            return fail(err, err_len, "unknown protocol '%s' (adult_ward, home_hf, copd, diabetes)",
                        value);
        rules_config_defaults(cfg, p);
        return 0;
    }
    if (strcmp(key, "spo2_scale") == 0) {
        if (strcmp(value, "1") != 0 && strcmp(value, "2") != 0)
            return fail(err, err_len, "spo2_scale must be 1 or 2, not '%s'", value);
        cfg->spo2_scale = (uint8_t)(value[0] - '0');
        return 0;
    }
    if (strcmp(key, "news2") == 0) {
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
            return fail(err, err_len, "news2 must be on or off, not '%s'", value);
        cfg->news2_enabled = strcmp(value, "on") == 0;
        return 0;
    }
    if (strcmp(key, "news2_min_band") == 0) {
        static const char *const b[] = {"low", "low-medium", "medium", "high"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(value, b[i]) == 0) {
                cfg->news2_min_band = (uint8_t)(RULES_NEWS2_BAND_LOW + i);
                return 0;
            }
        }
        return fail(err, err_len, "news2_min_band: low, low-medium, medium or high, not '%s'",
                    value);
    }
    struct {
        const char *key;
        double *d;
        uint32_t *u;
    } nums[] = {
        {"news2_fresh", NULL, &cfg->news2_fresh_s},
        {"forecast_horizon", NULL, &cfg->forecast_horizon_s},
        {"weight_gain_3d", &cfg->weight_gain_3d_kg, NULL},
        {"weight_gain_1d", &cfg->weight_gain_1d_kg, NULL},
        {"glucose_fall", &cfg->glucose_fall_per_min, NULL},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (strcmp(key, nums[i].key) != 0)
            continue;
        if (nums[i].u ? !parse_u32(value, &u) : !parse_double(value, &d) || d < 0)
            return fail(err, err_len, "%s: '%s' is not a valid non-negative number", key, value);
        if (nums[i].u)
            *nums[i].u = u;
        else
            *nums[i].d = d;
        return 0;
    }
    if (strncmp(key, "schedule.", 9) == 0) {
        static const char *const what[] = {"weight", "bp", "glucose", "spo2"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(key + 9, what[i]) == 0) {
                if (parse_hhmm(value, &cfg->schedule_minute[i]) < 0)
                    return fail(err, err_len, "%s: expected HH:MM or off, not '%s'", key, value);
                return 0;
            }
        }
        return fail(err, err_len, "unknown schedule '%s' (weight, bp, glucose, spo2)%s", key + 9,
                    "");
    }

    /* CODE.low, CODE.high, CODE.persist, CODE.hysteresis */
    const char *dot = strrchr(key, '.');
    if (!dot)
        return fail(err, err_len, "unknown setting '%s' (see docs/rules.md)", key);
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)(dot - key), key);
    const struct obs_code *c;
    if (obs_code_by_name(slice_cstr(name), &c) < 0)
        return fail(err, err_len, "unknown code '%s' in '%s' (see medhub codes)", name, key);
    const char *what = dot + 1;
    if (strcmp(what, "low") == 0 || strcmp(what, "high") == 0) {
        int dir = what[0] == 'l' ? RULES_LOW : RULES_HIGH;
        struct rules_threshold *t = rule_for(cfg, c->id, dir);
        if (!t)
            return fail(err, err_len, "too many threshold rules (at most 16)");
        if (strcmp(value, "off") == 0) {
            t->n_tiers = 0;
            return 0;
        }
        return parse_tiers(t, value, err, err_len);
    }
    if (strcmp(what, "persist") == 0 || strcmp(what, "hysteresis") == 0) {
        uint32_t secs = 0, reads = 0;
        bool persist = what[0] == 'p';
        if (persist) {
            char buf[64];
            snprintf(buf, sizeof(buf), "%s", value);
            char *slash = strchr(buf, '/');
            if (slash)
                *slash = '\0';
            if (!parse_u32(buf, &secs) || (slash && !parse_u32(slash + 1, &reads)))
                return fail(err, err_len, "%s: expected SECONDS[/READINGS], not '%s'", key, value);
        } else if (!parse_double(value, &d) || d < 0) {
            return fail(err, err_len, "%s: '%s' is not a valid non-negative number", key, value);
        }
        bool any = false;
        for (size_t i = 0; i < cfg->n_thresholds; i++) {
            struct rules_threshold *t = &cfg->thresholds[i];
            if (t->code != c->id)
                continue;
            any = true;
            if (persist) {
                t->persist_s = secs;
                t->persist_n = reads;
            } else {
                t->hysteresis = d;
            }
        }
        if (!any)
            return fail(err, err_len, "%s: set %s.low or %s.high first", key, name, name);
        return 0;
    }
    return fail(err, err_len, "unknown setting '%s' (see docs/rules.md)", key);
}

uint32_t rules_kind_interval_s(const char *kind)
{
    static const struct {
        const char *kind;
        uint32_t s;
    } t[] = {
        {"monitor", 60},           {"patch", 300},
        {"oximeter", 300},         {"cgm", 900},
        {"bp_cuff", 26 * 3600},    {"scale", 26 * 3600},
        {"glucometer", 26 * 3600}, {"thermometer", 26 * 3600},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(kind, t[i].kind) == 0)
            return t[i].s;
    return 0;
}

void rules_escalation_defaults(struct rules_escalation *e, int severity)
{
    memset(e, 0, sizeof(*e));
    static const char *const who[] = {"primary_nurse", "charge_nurse", "rapid_response"};
    uint32_t steps[3] = {0, 0, 0};
    uint8_t n = 1;
    switch (severity) {
    case ALERT_SEV_CRITICAL:
        steps[1] = 120, steps[2] = 300, n = 3, e->repeat_s = 120;
        break;
    case ALERT_SEV_HIGH:
        steps[1] = 300, steps[2] = 600, n = 3, e->repeat_s = 300;
        break;
    case ALERT_SEV_MEDIUM:
        steps[1] = 900, n = 2, e->repeat_s = 900;
        break;
    case ALERT_SEV_LOW:
        e->repeat_s = 3600;
        break;
    default:
        break; /* info: told once */
    }
    e->n_tiers = n;
    for (uint8_t i = 0; i < n; i++) {
        e->after_s[i] = steps[i];
        snprintf(e->target[i], sizeof(e->target[i]), "%s", who[i]);
    }
}

int rules_escalation_parse(struct rules_escalation *e, const char *value, char *err, size_t err_len)
{
    struct rules_escalation n;
    memset(&n, 0, sizeof(n));
    if (strcmp(value, "none") == 0) {
        *e = n;
        return 0;
    }
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", value);
    char *semi = strchr(buf, ';');
    if (semi) {
        *semi = '\0';
        if (strncmp(semi + 1, "repeat=", 7) != 0 || !parse_u32(semi + 8, &n.repeat_s))
            return fail(err, err_len, "escalation: expected ';repeat=SECONDS' in '%s'%s", value,
                        "");
    }
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        if (!colon || n.n_tiers == RULES_ESC_TIERS_MAX)
            return fail(err, err_len, "escalation: expected up to 4 SECONDS:TARGET in '%s'", value);
        *colon = '\0';
        uint32_t s;
        if (!parse_u32(tok, &s) || (n.n_tiers && s <= n.after_s[n.n_tiers - 1]) || !colon[1] ||
            strlen(colon + 1) >= sizeof(n.target[0]))
            return fail(err, err_len, "escalation: bad tier '%s' in '%s'", tok, value);
        n.after_s[n.n_tiers] = s;
        snprintf(n.target[n.n_tiers], sizeof(n.target[0]), "%s", colon + 1);
        n.n_tiers++;
    }
    if (n.n_tiers == 0)
        return fail(err, err_len, "escalation: no tier in '%s'", value);
    *e = n;
    return 0;
}

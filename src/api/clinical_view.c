/*
 * What the clinical routes show of a patient beyond the stored rows (api_int.h "Clinical
 * views"): the rule settings as the engine applies them, NEWS2 from the latest readings, and
 * JSON written as text for listings (valid JSON whatever bytes the stored text holds).
 * Layer: api. Thread: any (pure, except api__settings_load, which reads st on its thread).
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "domain/codes.h"
#include "rules/news2.h"
#include "rules/protocol.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most rule settings read to work out a patient's configuration. */
#define SETTINGS_MAX 4096

/* ---- rule settings ------------------------------------------------------------------------ */

static int collect_setting(void *arg, const struct rule_setting *s)
{
    struct api_settings *ss = arg;
    if (strncmp(s->key, "escalation.", 11) == 0 || strcmp(s->key, "nodata_grace_ms") == 0 ||
        strcmp(s->scope, "kind") == 0)
        return 0;
    if (ss->n == SETTINGS_MAX) {
        ss->truncated = true;
        return 0;
    }
    if (ss->n == ss->cap) {
        ss->cap = ss->cap ? 2 * ss->cap : 16;
        ss->v = hx_xrealloc(ss->v, ss->cap * sizeof(*ss->v));
    }
    ss->v[ss->n++] = *s;
    return 0;
}

int api__settings_load(struct store *st, struct api_settings *ss)
{
    memset(ss, 0, sizeof(*ss));
    return store_rule_setting_list(st, collect_setting, ss);
}

/* A patient's configuration as the rules engine builds it: global protocol, global keys,
 * the patient's protocol, the patient's keys (mrn NULL: global only). Settings that do not
 * parse are skipped, as the engine does. */
void api__settings_config(const struct api_settings *ss, const char *mrn,
                          struct rules_patient_config *c)
{
    rules_config_defaults(c, RULES_PROTO_ADULT_WARD);
    for (int pass = 0; pass < (mrn ? 4 : 2); pass++) {
        for (size_t i = 0; i < ss->n; i++) {
            const struct rule_setting *r = &ss->v[i];
            bool global = strcmp(r->scope, "global") == 0;
            bool mine = mrn && strcmp(r->scope, "patient") == 0 && strcmp(r->scope_id, mrn) == 0;
            bool proto = strcmp(r->key, "protocol") == 0;
            if ((pass < 2 ? global : mine) && (pass % 2 == 0) == proto) {
                char err[160];
                (void)rules_config_apply(c, r->key, r->value, err, sizeof(err));
            }
        }
    }
}

bool api__settings_has_patient(const struct api_settings *ss, const char *mrn)
{
    for (size_t i = 0; i < ss->n; i++)
        if (strcmp(ss->v[i].scope, "patient") == 0 && strcmp(ss->v[i].scope_id, mrn) == 0)
            return true;
    return false;
}

void api__news2_compute(const struct obs *latest, size_t n, const struct rules_patient_config *c,
                        int64_t now_us, struct api_news2 *out)
{
    memset(out, 0, sizeof(*out));
    out->scale = c->spo2_scale == 2 ? 2 : 1;
    out->enabled = c->news2_enabled;
    struct rules_news2_input in = {.scale =
                                       out->scale == 2 ? RULES_NEWS2_SCALE_2 : RULES_NEWS2_SCALE_1};
    int64_t oldest = c->news2_fresh_s ? now_us - (int64_t)c->news2_fresh_s * 1000000 : INT64_MIN;
    int64_t pulse_t = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const struct obs *o = &latest[i];
        int p;
        switch (o->code) {
        case OBS_CODE_RESP_RATE:
            p = RULES_NEWS2_RR;
            break;
        case OBS_CODE_SPO2:
            p = RULES_NEWS2_SPO2;
            break;
        case OBS_CODE_O2_FLOW:
            p = RULES_NEWS2_O2;
            break;
        case OBS_CODE_BP_SYS:
            p = RULES_NEWS2_SBP;
            break;
        case OBS_CODE_HEART_RATE:
        case OBS_CODE_PULSE_RATE:
        case OBS_CODE_HEART_RATE_ECG:
            p = RULES_NEWS2_PULSE;
            break;
        case OBS_CODE_CONSCIOUSNESS:
            p = RULES_NEWS2_ACVPU;
            break;
        case OBS_CODE_TEMPERATURE:
            p = RULES_NEWS2_TEMP;
            break;
        default:
            continue;
        }
        if (o->effective_us < oldest) {
            if (!(in.present & RULES_NEWS2_BIT(p)))
                out->stale |= RULES_NEWS2_BIT(p);
            continue;
        }
        out->stale &= ~RULES_NEWS2_BIT(p);
        in.present |= RULES_NEWS2_BIT(p);
        switch (p) {
        case RULES_NEWS2_RR:
            in.rr = o->value;
            break;
        case RULES_NEWS2_SPO2:
            in.spo2 = o->value;
            break;
        case RULES_NEWS2_O2:
            in.o2 = o->value > 0 ? RULES_NEWS2_OXYGEN : RULES_NEWS2_AIR;
            break;
        case RULES_NEWS2_SBP:
            in.sbp = o->value;
            break;
        case RULES_NEWS2_PULSE: /* the newest of the three pulse codes */
            if (o->effective_us > pulse_t) {
                pulse_t = o->effective_us;
                in.pulse = o->value;
            }
            break;
        case RULES_NEWS2_ACVPU:
            in.acvpu = (enum rules_news2_acvpu)lround(o->value);
            break;
        case RULES_NEWS2_TEMP:
            in.temp = o->value;
            break;
        }
    }
    out->rc = rules_news2_score(&in, &out->r);
}

/* ---- JSON as text (the overview: no json_t tree per row) --------------------------------- */

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static int utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    int n = p[0] >= 0xc2 && p[0] <= 0xdf   ? 2
            : p[0] >= 0xe0 && p[0] <= 0xef ? 3
            : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                           : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
        return 0;
    return n;
}

/* A JSON string literal of s. Stored text was never checked for UTF-8 (the CLI takes bytes):
 * a byte that does not start a valid sequence becomes U+FFFD, so the answer is always valid
 * JSON. */
void api__json_str(struct http_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[256];
    size_t n = 0;
    tmp[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (n > sizeof(tmp) - 8) {
            http_buf_append(b, tmp, n);
            n = 0;
        }
        int len = utf8_len(p);
        if (len == 0) {
            memcpy(tmp + n, "\\ufffd", 6);
            n += 6;
            p++;
        } else if (len > 1) {
            memcpy(tmp + n, p, (size_t)len);
            n += (size_t)len;
            p += len;
        } else if (*p == '"' || *p == '\\') {
            tmp[n++] = '\\';
            tmp[n++] = (char)*p++;
        } else if (*p < 0x20) {
            memcpy(tmp + n, "\\u00", 4);
            tmp[n + 4] = hex[*p >> 4];
            tmp[n + 5] = hex[*p & 15];
            n += 6;
            p++;
        } else {
            tmp[n++] = (char)*p++;
        }
    }
    tmp[n++] = '"';
    http_buf_append(b, tmp, n);
}

/* json_string that survives text that is not UTF-8 (see api__json_str). Returns owned. */
json_t *api__json_safe(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    struct http_buf b = {0};
    api__json_str(&b, s);
    v = json_loadb(b.ptr, b.len, JSON_DECODE_ANY, NULL);
    http_buf_release(&b);
    return v ? v : json_string("");
}

static void jkey(struct http_buf *b, const char *key)
{
    http_buf_printf(b, "\"%s\":", key); /* keys are our own constants */
}

static void jnum(struct http_buf *b, double v)
{
    if (isfinite(v))
        http_buf_printf(b, "%.15g", v);
    else
        http_buf_append(b, "null", 4);
}

static void jtime(struct http_buf *b, int64_t t_us)
{
    char t[40];
    hx_time_format_rfc3339(t_us, t, sizeof(t));
    http_buf_printf(b, "\"%s\"", t);
}

void api__obs_text(struct http_buf *b, const struct obs *o)
{
    const struct obs_code *c = obs_code_get(o->code);
    http_buf_append(b, "{", 1);
    jkey(b, "code");
    api__json_str(b, c ? c->loinc : "?");
    http_buf_append(b, ",", 1);
    jkey(b, "name");
    api__json_str(b, c ? c->senml_name : "?");
    http_buf_append(b, ",", 1);
    jkey(b, "value");
    jnum(b, o->value);
    http_buf_append(b, ",", 1);
    jkey(b, "unit");
    api__json_str(b, c ? c->ucum : "");
    http_buf_append(b, ",", 1);
    jkey(b, "time");
    jtime(b, o->effective_us);
    http_buf_printf(b, ",\"device_id\":%lld,\"manual\":%s}", (long long)o->device_id,
                    o->device_id ? "false" : "true");
}

void api__news2_text(struct http_buf *b, const struct api_news2 *v)
{
    if (v->rc < 0) {
        http_buf_printf(b, "{\"error\":\"%s\"}",
                        v->rc == HX_ERANGE ? "a reading is outside its plausible range"
                                           : "the readings cannot be scored");
        return;
    }
    const struct rules_news2_result *r = &v->r;
    http_buf_append(b, "{\"score\":", 9);
    if (r->complete)
        http_buf_printf(b, "%d", r->score);
    else
        http_buf_append(b, "null", 4);
    http_buf_printf(b,
                    ",\"partial_score\":%d,\"complete\":%s,\"band\":\"%s\",\"minimum_band\":\"%s\""
                    ",\"scale\":%d,\"alerts_enabled\":%s,\"missing\":[",
                    r->partial_score, r->complete ? "true" : "false",
                    rules_news2_band_name(r->band), rules_news2_band_name(r->minimum_band),
                    v->scale, v->enabled ? "true" : "false");
    bool first = true;
    for (int p = 0; p < RULES_NEWS2__COUNT; p++)
        if (r->missing & RULES_NEWS2_BIT(p)) {
            http_buf_printf(b, "%s\"%s\"", first ? "" : ",", rules_news2_param_name(p));
            first = false;
        }
    http_buf_append(b, "],\"stale\":[", 11);
    first = true;
    for (int p = 0; p < RULES_NEWS2__COUNT; p++)
        if (v->stale & RULES_NEWS2_BIT(p)) {
            http_buf_printf(b, "%s\"%s\"", first ? "" : ",", rules_news2_param_name(p));
            first = false;
        }
    http_buf_append(b, "]}", 2);
}

json_t *api__news2_json(const struct api_news2 *v)
{
    struct http_buf b = {0};
    api__news2_text(&b, v);
    json_t *j = json_loadb(b.ptr, b.len, 0, NULL);
    http_buf_release(&b);
    return j ? j : json_null();
}

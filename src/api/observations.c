/*
 * A patient's observations (docs/api.md "Patients, observations, alerts, rules"):
 *   GET  /api/v1/patients/{id}/observations   obs.read    a range, or a chart series
 *   POST /api/v1/patients/{id}/observations   obs.write   manual entry
 * A manual entry is checked like a SenML reading (code, unit converted to the canonical one,
 * plausible range, at most 5 minutes ahead), then goes through the ingest pipeline like any
 * device reading (ingest_submit_manual: device 0, the patient given), so the rules engine
 * evaluates it and it is durable before the 201; the entering user is recorded in the audit
 * entry obs.create written once it is durable.
 * Layer: api. Thread: loop, except the *_work functions (workers).
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/slice.h"
#include "domain/codes.h"
#include "domain/units.h"
#include "ingest/pipeline.h"
#include "security/audit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OBS_LIMIT_MAX    10000 /* readings in one range answer */
#define OBS_LIMIT_DEF    1000
#define OBS_POINTS_MAX   1000 /* buckets of one chart series */
#define OBS_FUTURE_US    (5 * 60 * INT64_C(1000000))
#define OBS_DEFAULT_SPAN (24 * 3600 * INT64_C(1000000))

static json_t *obs_json(const struct obs *o)
{
    const struct obs_code *c = obs_code_get(o->code);
    char t[40];
    hx_time_format_rfc3339(o->effective_us, t, sizeof(t));
    return json_pack("{s:s, s:s, s:f, s:s, s:s, s:I, s:b}", "code", c ? c->loinc : "?", "name",
                     c ? c->senml_name : "?", "value", o->value, "unit", c ? c->ucum : "", "time",
                     t, "device_id", (json_int_t)o->device_id, "manual", o->device_id == 0);
}

/* A code given as LOINC ("2708-6") or SenML name ("spo2"). */
static const struct obs_code *find_code(const char *s, size_t len)
{
    const struct obs_code *c = NULL;
    struct slice sl = {(const uint8_t *)s, len};
    if (obs_code_by_loinc(sl, &c) == 0 || obs_code_by_name(sl, &c) == 0)
        return c;
    return NULL;
}

/* ---- GET: range or chart series ----------------------------------------------------------- */

struct range_req {
    int64_t patient_id;
    int code; /* 0 = every code (range only) */
    int64_t since_us, until_us;
    size_t limit;
    size_t points; /* 0: raw readings */
    struct obs_bucket *buckets;
};

static int range_obs(void *arg, const struct obs *o)
{
    json_array_append_new(arg, obs_json(o));
    return 0;
}

static void range_work(struct store *st, struct api_job *j)
{
    struct range_req *r = j->arg;
    bool bg;
    if (api__patient_scope(st, j, r->patient_id, &bg) < 0)
        return;
    char since[40], until[40];
    hx_time_format_rfc3339(r->since_us, since, sizeof(since));
    hx_time_format_rfc3339(r->until_us, until, sizeof(until));
    const struct obs_code *c = r->code ? obs_code_get(r->code) : NULL;
    json_t *b =
        json_pack("{s:I, s:s?, s:s?, s:s, s:s}", "patient_id", (json_int_t)r->patient_id, "code",
                  c ? c->loinc : NULL, "unit", c ? c->ucum : NULL, "since", since, "until", until);
    int rc;
    if (r->points) {
        rc = store_obs_downsample(st, r->patient_id, r->code, r->since_us, r->until_us, r->points,
                                  r->buckets);
        json_t *arr = json_array();
        for (size_t i = 0; rc == 0 && i < r->points; i++) {
            const struct obs_bucket *k = &r->buckets[i];
            char t[40];
            hx_time_format_rfc3339(k->start_us, t, sizeof(t));
            json_t *pt = json_pack("{s:s, s:I}", "start", t, "count", (json_int_t)k->count);
            if (k->count) {
                json_object_set_new(pt, "min", json_real(k->min));
                json_object_set_new(pt, "max", json_real(k->max));
                json_object_set_new(pt, "avg", json_real(k->mean));
            }
            json_array_append_new(arr, pt);
        }
        json_object_set_new(b, "points", arr);
    } else {
        json_t *arr = json_array();
        rc = store_obs_range(st, r->patient_id, r->code, r->since_us, r->until_us, r->limit,
                             range_obs, arr);
        json_object_set_new(b, "truncated", json_boolean(json_array_size(arr) >= r->limit));
        json_object_set_new(b, "observations", arr);
    }
    if (rc < 0) {
        json_decref(b);
        api__fail_store(j, rc, "observations");
        return;
    }
    char oid[24];
    snprintf(oid, sizeof(oid), "%lld", (long long)r->patient_id);
    api__audit_read_deferred(j, "obs.read", r->patient_id, "patient", oid, NULL, bg);
    api__ok(j, 200, b);
}

static bool bad(struct http_exchange *x, const char *msg)
{
    http_error(x, 400, "invalid", msg);
    return false;
}

static bool parse_range(struct http_exchange *x, struct range_req *r)
{
    const struct http_query *q;
    if (http_exchange_query(x, &q) < 0)
        return bad(x, "malformed query string");
    int64_t now = hx_time_now_us();
    r->until_us = now + OBS_FUTURE_US;
    r->since_us = now - OBS_DEFAULT_SPAN;
    r->limit = OBS_LIMIT_DEF;
    const struct http_param *p;
    if ((p = http_query_get(q, "code"))) {
        const struct obs_code *c = find_code(p->value, p->value_len);
        if (!c)
            return bad(x, "code: not a known LOINC code or name (e.g. 2708-6 or spo2)");
        r->code = c->id;
    }
    if ((p = http_query_get(q, "since")) && hx_time_parse(p->value, now, &r->since_us) < 0)
        return bad(x, "since: expected an RFC 3339 time, a date, now or -24h style");
    if ((p = http_query_get(q, "until")) && hx_time_parse(p->value, now, &r->until_us) < 0)
        return bad(x, "until: expected an RFC 3339 time, a date, now or -24h style");
    if (r->since_us >= r->until_us)
        return bad(x, "since must be before until");
    const char *names[2] = {"limit", "points"};
    long max[2] = {OBS_LIMIT_MAX, OBS_POINTS_MAX};
    for (int i = 0; i < 2; i++) {
        if (!(p = http_query_get(q, names[i])))
            continue;
        char *end = NULL;
        errno = 0;
        long v = p->value_len && p->value_len < 8 && p->value[0] >= '0' && p->value[0] <= '9'
                     ? strtol(p->value, &end, 10)
                     : -1;
        if (!end || *end || errno || v < 1 || v > max[i]) {
            char msg[80];
            snprintf(msg, sizeof(msg), "%s: expected an integer from 1 to %ld", names[i], max[i]);
            return bad(x, msg);
        }
        if (i == 0)
            r->limit = (size_t)v;
        else
            r->points = (size_t)v;
    }
    if (r->points && !r->code)
        return bad(x, "points needs a code (one series per chart)");
    if (r->points && (r->until_us - r->since_us) / (int64_t)r->points < 1)
        return bad(x, "points: the range is shorter than one microsecond per point");
    return true;
}

static void range_after(struct api_job *j)
{
    struct range_req *r = j->arg;
    free(r->buckets);
}

static void h_range(struct http_exchange *x, void *arg)
{
    struct range_req *r = http_exchange_alloc(x, sizeof(*r));
    memset(r, 0, sizeof(*r));
    if (!api__param_id(x, "id", &r->patient_id) || !parse_range(x, r))
        return;
    if (r->points)
        r->buckets = hx_alloc_array(r->points, sizeof(*r->buckets));
    api__run_after(arg, x, range_work, r, range_after);
}

/* ---- POST: manual entry ------------------------------------------------------------------- */

struct manual_req {
    int64_t patient_id;
    struct obs o;
    bool break_glass;
    int status; /* the pipeline's result */
};

/* Worker, after the reading is durable: the audit entry with the entering user. */
static void manual_record_work(struct store *st, struct api_job *j)
{
    struct manual_req *m = j->arg;
    const struct obs_code *c = obs_code_get(m->o.code);
    char t[40], oid[24];
    hx_time_format_rfc3339(m->o.effective_us, t, sizeof(t));
    snprintf(oid, sizeof(oid), "%lld", (long long)m->patient_id);
    /* As `medhub obs add`: the code and time, never the value; the user is the actor. */
    json_t *d = json_pack("{s:s, s:s, s:s, s:b}", "code", c ? c->loinc : "?", "time", t, "device",
                          "(manual)", "manual", 1);
    char *details = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(d);
    struct audit_entry e = {.action = "obs.create",
                            .outcome = AUDIT_SUCCESS,
                            .patient_id = m->patient_id,
                            .object_type = "patient",
                            .object_id = oid,
                            .details = details,
                            .break_glass = m->break_glass};
    api__audit_actor(j, &e);
    int rc = details ? audit_record(st, &e, NULL) : -ENOMEM;
    free(details);
    if (rc < 0)
        log_error(NULL, "api", "manual reading stored but not recorded in the audit trail",
                  "patient=%lld err=\"%s\"", (long long)m->patient_id, hx_strerror(rc));
    json_t *b = obs_json(&m->o);
    json_object_set_new(b, "patient_id", json_integer(m->patient_id));
    json_object_set_new(b, "entered_by", json_string(j->who->name));
    api__ok(j, 201, b);
}

static void manual_durable(void *arg, int status)
{
    struct api_job *j = arg;
    if (status < 0) {
        api__fail(j, 503, "unavailable", "the reading could not be stored: %s",
                  hx_strerror(status));
        api__finish(j);
        return;
    }
    api__continue(j, manual_record_work);
}

/* Loop, once the scope check passed: into the pipeline. */
static void manual_submit(struct api_job *j)
{
    struct manual_req *m = j->arg;
    struct obs o = m->o;
    int rc = j->a->ingest ? ingest_submit_manual(j->a->ingest, m->patient_id, &o, 1,
                                                 hx_time_now_us(), manual_durable, j)
                          : HX_ESHUTDOWN;
    if (rc < 0) {
        api__fail(j, 503, "unavailable",
                  rc == -EAGAIN ? "the server is busy storing readings; try again"
                                : "readings cannot be stored now");
        api__finish(j);
        return;
    }
    m->o = o;
}

static void manual_scope_work(struct store *st, struct api_job *j)
{
    struct manual_req *m = j->arg;
    if (api__patient_scope(st, j, m->patient_id, &m->break_glass) < 0)
        return;
    j->cont = manual_submit;
}

static void h_manual(struct http_exchange *x, void *arg)
{
    struct manual_req *m = http_exchange_alloc(x, sizeof(*m));
    memset(m, 0, sizeof(*m));
    if (!api__param_id(x, "id", &m->patient_id))
        return;
    json_t *body = api__json_body(x);
    if (!body)
        return;
    json_t *jc = json_object_get(body, "code"), *jv = json_object_get(body, "value");
    json_t *ju = json_object_get(body, "unit"), *jt = json_object_get(body, "time");
    char msg[200] = "";
    int status = 422;
    const struct obs_code *c = NULL;
    int64_t now = hx_time_now_us(), when = now;
    double value = 0;
    if (!json_is_string(jc) || !json_is_number(jv) || (ju && !json_is_string(ju)) ||
        (jt && !json_is_string(jt))) {
        status = 400;
        snprintf(msg, sizeof(msg),
                 "send {\"code\": LOINC or name, \"value\": number, \"unit\"?: UCUM, \"time\"?: "
                 "RFC 3339}");
    } else if (!(c = find_code(json_string_value(jc), json_string_length(jc)))) {
        snprintf(msg, sizeof(msg), "code: not a known LOINC code or name");
    } else if (c->id == OBS_CODE_GLUCOSE_CGM || c->id == OBS_CODE_GLUCOSE_CGM_MOLAR) {
        snprintf(msg, sizeof(msg), "code: CGM readings come from devices only");
    } else {
        const char *unit = ju ? json_string_value(ju) : c->ucum;
        size_t unit_len = ju ? json_string_length(ju) : strlen(c->ucum);
        double raw = json_number_value(jv);
        if (!isfinite(raw) || units_to_canonical(c, (struct slice){(const uint8_t *)unit, unit_len},
                                                 raw, &value, NULL) < 0)
            snprintf(msg, sizeof(msg), "unit: '%.32s' cannot be converted to %s for %s", unit,
                     c->ucum, c->display);
        else if (!obs_code_is_plausible(c, value))
            snprintf(msg, sizeof(msg), "value: %g %s is outside the plausible range %g-%g", value,
                     c->ucum, c->min, c->max);
        else if (jt && hx_time_parse(json_string_value(jt), now, &when) < 0) {
            status = 400;
            snprintf(msg, sizeof(msg), "time: expected an RFC 3339 time, a date, now or -1h");
        } else if (when > now + OBS_FUTURE_US)
            snprintf(msg, sizeof(msg), "time: more than 5 minutes in the future");
    }
    json_decref(body);
    if (msg[0]) {
        http_error(x, status, status == 422 ? "unprocessable" : "invalid", msg);
        return;
    }
    m->o = (struct obs){.patient_id = m->patient_id,
                        .effective_us = when,
                        .value = value,
                        .code = (uint16_t)c->id,
                        .status = OBS_STATUS_FINAL};
    api__run(arg, x, manual_scope_work, m);
}

int api__observation_routes(struct api *a, struct http_router *r)
{
    const struct http_route_def defs[] = {
        {"GET", "/api/v1/patients/{id}/observations", h_range, a, "patients.observations",
         "obs.read", 0},
        {"POST", "/api/v1/patients/{id}/observations", h_manual, a, "patients.observation_add",
         "obs.write", 0},
    };
    for (size_t i = 0; i < HX_ARRAY_LEN(defs); i++) {
        int rc = http_router_add_route(r, &defs[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

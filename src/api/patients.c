/*
 * Patients for clinical staff (docs/api.md "Patients, observations, alerts, rules"):
 *   GET  /api/v1/patients                     patient.read   the ward overview
 *   GET  /api/v1/patients/{id}                patient.read   detail
 *   POST /api/v1/patients/{id}/break-glass    break_glass    emergency access
 *   GET  /api/v1/patients/{id}/rules          rules.read     rule settings and overrides
 *   PUT  /api/v1/patients/{id}/rules          rules.write    change overrides
 * and the care-scope check every clinical handler uses (api__patient_scope). Observations
 * are in observations.c, alerts in alerts.c, NEWS2 and the JSON text writer in
 * clinical_view.c, batched audit entries in audit_batch.c. Every read is in the audit trail
 * (patient.read, rules.read), every change with its audit entry in the same transaction. Layer:
 * api. Thread: loop, except the *_work functions (workers).
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "domain/codes.h"
#include "rules/news2.h"
#include "rules/protocol.h"
#include "security/audit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most patients one overview lists, and the default. */
#define OVERVIEW_LIMIT_MAX 500 /* the audit entry's details name them all (8 KiB) */
#define OVERVIEW_LIMIT_DEF 500

/* ---- scope -------------------------------------------------------------------------------- */

int api__patient_scope(struct store *st, struct api_job *j, int64_t patient_id, bool *break_glass)
{
    enum rbac_scope how = RBAC_SCOPE_DENIED;
    int rc = rbac_patient_in_scope(st, j->who, patient_id, hx_time_now_us(), &how);
    *break_glass = false;
    if (rc == HX_ENOTFOUND || (rc == 0 && how == RBAC_SCOPE_DENIED)) {
        api__fail(j, 404, "not_found", "no such patient");
        return HX_ENOTFOUND;
    }
    if (rc < 0) {
        api__fail_store(j, rc, "patient");
        return rc;
    }
    *break_glass = how == RBAC_SCOPE_BREAK_GLASS;
    return 0;
}

/* ---- query parameters --------------------------------------------------------------------- */

/* Text that may be a ward name: 1..PAT_WARD_MAX-1 printable ASCII bytes (SQL metacharacters are
 * harmless: every value is bound, never written into SQL). */
static bool is_ward_text(const char *s, size_t len)
{
    if (len == 0 || len >= PAT_WARD_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* ---- GET /api/v1/patients: the ward overview --------------------------------------------- */

struct overview_req {
    char ward[PAT_WARD_MAX]; /* "" = every ward in scope */
    size_t limit;            /* at most this many patients */
};

struct overview_ctx {
    struct http_buf out;
    const struct api_settings *ss;
    const struct rules_patient_config *global; /* for patients without overrides */
    struct rules_patient_config *mine;         /* scratch for those with */
    int64_t now_us;
    size_t n;
    struct http_buf ids; /* the audit entry's details: who was shown */
    bool ids_cut;        /* ids stopped short of AUDIT_DETAILS_MAX */
};

static int overview_row(void *arg, const struct store_overview_row *r)
{
    struct overview_ctx *c = arg;
    struct http_buf *b = &c->out;
    const struct rules_patient_config *cfg = c->global;
    if (c->ss->n && api__settings_has_patient(c->ss, r->p.mrn)) {
        api__settings_config(c->ss, r->p.mrn, c->mine);
        cfg = c->mine;
    }
    struct api_news2 nv;
    api__news2_compute(r->latest, r->n_latest, cfg, c->now_us, &nv);
    http_buf_printf(b, "%s{\"id\":%lld,\"mrn\":", c->n ? "," : "", (long long)r->p.id);
    api__json_str(b, r->p.mrn);
    http_buf_append(b, ",\"name\":", 8);
    api__json_str(b, r->p.name);
    http_buf_append(b, ",\"ward\":", 8);
    api__json_str(b, r->p.ward);
    http_buf_append(b, ",\"location\":", 12);
    api__json_str(b, r->p.location);
    http_buf_append(b, ",\"vitals\":[", 11);
    for (size_t i = 0; i < r->n_latest; i++) {
        if (i)
            http_buf_append(b, ",", 1);
        api__obs_text(b, &r->latest[i]);
    }
    http_buf_append(b, "],\"news2\":", 10);
    api__news2_text(b, &nv);
    http_buf_printf(
        b, ",\"alerts\":{\"active\":%lld,\"highest_severity\":", (long long)r->open_alerts);
    if (r->open_alerts)
        http_buf_printf(b, "\"%s\"}}", alert_severity_name(r->max_severity));
    else
        http_buf_append(b, "null}}", 6);
    if (c->ids.len + 64 < AUDIT_DETAILS_MAX)
        http_buf_printf(&c->ids, "%s%lld", c->n ? "," : "", (long long)r->p.id);
    else
        c->ids_cut = true;
    c->n++;
    return 0;
}

static void overview_work(struct store *st, struct api_job *j)
{
    const struct overview_req *rq = j->arg;
    const struct principal *p = j->who;
    const char *wards[RBAC_WARDS_MAX];
    struct store_overview_query q = {.ward = rq->ward[0] ? rq->ward : NULL, .limit = rq->limit};
    switch (p->role) {
    case RBAC_ROLE_CLINICIAN:
    case RBAC_ROLE_NURSE:
        q.caseload_user_id = p->is_token ? 0 : p->user_id;
        /* fall through */
    case RBAC_ROLE_INTEGRATION:
        q.all = p->is_token && p->all_wards;
        for (int i = 0; i < p->n_wards && i < RBAC_WARDS_MAX; i++)
            wards[q.n_wards++] = p->wards[i];
        q.wards = wards;
        break;
    case RBAC_ROLE_PATIENT:
        q.patient_id = p->patient_id;
        break;
    default:
        break; /* no clinical scope: nobody */
    }
    struct api_settings ss = {0};
    int rc = api__settings_load(st, &ss);
    if (rc < 0) {
        free(ss.v);
        api__fail_store(j, rc, "rule settings");
        return;
    }
    struct rules_patient_config *cfgs = hx_xcalloc(2, sizeof(*cfgs));
    api__settings_config(&ss, NULL, &cfgs[0]);
    struct overview_ctx c = {
        .ss = &ss, .global = &cfgs[0], .mine = &cfgs[1], .now_us = hx_time_now_us()};
    http_buf_append(&c.out, "{\"patients\":[", 13);
    http_buf_append(&c.ids, "{\"ids\":[", 8);
    rc = store_patient_overview(st, &q, overview_row, &c);
    free(cfgs);
    free(ss.v);
    if (rc < 0) {
        http_buf_release(&c.out);
        http_buf_release(&c.ids);
        api__fail_store(j, rc, "patient");
        return;
    }
    http_buf_printf(&c.out, "],\"count\":%zu,\"truncated\":%s}", c.n,
                    rq->limit && c.n >= rq->limit ? "true" : "false");
    /* One entry per listing, naming the patients shown (ids only: no PHI), appended in a
     * batch by the writer thread (audit_batch.c). No answer without it. */
    http_buf_printf(&c.ids, "],%s\"patients\":%zu}", c.ids_cut ? "\"ids_cut\":true," : "", c.n);
    api__audit_read_deferred(j, "patient.read", 0, "ward_overview", rq->ward[0] ? rq->ward : "*",
                             c.ids.ptr, false);
    http_buf_release(&c.ids);
    api__ok_raw(j, 200, &c.out);
}

/* Reads an integer query parameter in [lo, hi]; answers 400 itself when it is not one. */
static bool query_int(struct http_exchange *x, const struct http_query *q, const char *name,
                      long lo, long hi, long *out)
{
    const struct http_param *pr = http_query_get(q, name);
    if (!pr)
        return true;
    char *end = NULL;
    long v = pr->value_len && pr->value_len < 12 && pr->value[0] >= '0' && pr->value[0] <= '9'
                 ? strtol(pr->value, &end, 10)
                 : -1;
    if (!end || *end || v < lo || v > hi) {
        char msg[120];
        snprintf(msg, sizeof(msg), "%s: expected an integer from %ld to %ld", name, lo, hi);
        http_error(x, 400, "invalid", msg);
        return false;
    }
    *out = v;
    return true;
}

static void h_overview(struct http_exchange *x, void *arg)
{
    const struct http_query *q;
    if (http_exchange_query(x, &q) < 0) {
        http_error(x, 400, "invalid", "malformed query string");
        return;
    }
    struct overview_req *rq = http_exchange_alloc(x, sizeof(*rq));
    memset(rq, 0, sizeof(*rq));
    long limit = OVERVIEW_LIMIT_DEF;
    if (!query_int(x, q, "limit", 1, OVERVIEW_LIMIT_MAX, &limit))
        return;
    rq->limit = (size_t)limit;
    const struct http_param *w = http_query_get(q, "ward");
    if (w) {
        if (!is_ward_text(w->value, w->value_len)) {
            http_error(x, 400, "invalid", "ward: 1 to 63 printable characters");
            return;
        }
        memcpy(rq->ward, w->value, w->value_len);
    }
    api__run(arg, x, overview_work, rq);
}

/* ---- GET /api/v1/patients/{id} ------------------------------------------------------------ */

struct detail_ctx {
    struct obs latest[OBS_CODE__COUNT];
    size_t n_latest;
    json_t *arr;
};

static int detail_obs(void *arg, const struct obs *o)
{
    struct detail_ctx *c = arg;
    if (c->n_latest < OBS_CODE__COUNT)
        c->latest[c->n_latest++] = *o;
    return 0;
}

static int detail_alert(void *arg, const struct alert *a)
{
    struct detail_ctx *c = arg;
    json_array_append_new(c->arr, api__alert_json(a));
    return 0;
}

static int detail_device(void *arg, const struct device *d, int64_t patient_id)
{
    struct detail_ctx *c = arg;
    (void)patient_id;
    json_array_append_new(c->arr, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)d->id, "uid",
                                            d->uid, "kind", d->kind));
    return 0;
}

static void detail_work(struct store *st, struct api_job *j)
{
    int64_t id = *(int64_t *)j->arg;
    bool bg;
    if (api__patient_scope(st, j, id, &bg) < 0)
        return;
    struct patient p;
    int rc = store_patient_get(st, id, &p);
    if (rc < 0) {
        api__fail_store(j, rc, "patient");
        return;
    }
    struct detail_ctx *c = hx_xcalloc(1, sizeof(*c));
    rc = store_obs_latest(st, id, detail_obs, c);
    struct api_settings ss = {0};
    if (rc == 0)
        rc = api__settings_load(st, &ss);
    struct api_news2 nv = {0};
    if (rc == 0) {
        struct rules_patient_config *cfg = hx_xcalloc(1, sizeof(*cfg));
        api__settings_config(&ss, p.mrn, cfg);
        api__news2_compute(c->latest, c->n_latest, cfg, hx_time_now_us(), &nv);
        free(cfg);
    }
    free(ss.v);
    json_t *alerts = json_array(), *devices = json_array(), *vitals = json_array();
    if (rc == 0) {
        struct store_alert_filter f = {
            .states = (1u << ALERT_RAISED) | (1u << ALERT_ACKED), .patient_id = id, .limit = 100};
        c->arr = alerts;
        rc = store_alert_list(st, &f, detail_alert, c);
    }
    if (rc == 0) {
        struct store_scope all = {.kind = STORE_SCOPE_ALL};
        struct store_device_query dq = {.scope = &all, .patient_id = id, .limit = 100};
        c->arr = devices;
        rc = store_device_search(st, &dq, detail_device, c);
    }
    for (size_t i = 0; rc == 0 && i < c->n_latest; i++) {
        struct http_buf b = {0};
        api__obs_text(&b, &c->latest[i]);
        json_array_append_new(vitals, json_loadb(b.ptr, b.len, 0, NULL));
        http_buf_release(&b);
    }
    free(c);
    if (rc < 0) {
        json_decref(alerts);
        json_decref(devices);
        json_decref(vitals);
        api__fail_store(j, rc, "patient");
        return;
    }
    char oid[24];
    snprintf(oid, sizeof(oid), "%lld", (long long)id);
    api__audit_read_deferred(j, "patient.read", id, "patient", oid, NULL, bg);
    api__ok(j, 200,
            json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "id",
                      (json_int_t)p.id, "mrn", api__json_safe(p.mrn), "name",
                      api__json_safe(p.name), "birth_date", api__json_safe(p.birth_date), "ward",
                      api__json_safe(p.ward), "location", api__json_safe(p.location), "vitals",
                      vitals, "news2", api__news2_json(&nv), "alerts", alerts, "devices", devices,
                      "break_glass", bg));
}

static void h_detail(struct http_exchange *x, void *arg)
{
    int64_t *id = http_exchange_alloc(x, sizeof(*id));
    if (!api__param_id(x, "id", id))
        return;
    api__run(arg, x, detail_work, id);
}

/* ---- POST /api/v1/patients/{id}/break-glass ---------------------------------------------- */

struct bg_req {
    int64_t patient_id;
    int minutes;
    char reason[STORE_REASON_MAX];
};

static void break_glass_work(struct store *st, struct api_job *j)
{
    struct bg_req *r = j->arg;
    struct store_break_glass g = {0};
    int64_t now = hx_time_now_us();
    int rc = store_begin(st);
    if (rc == 0)
        rc = rbac_break_glass(st, j->who, r->patient_id, r->reason, r->minutes,
                              j->a->policy.break_glass_max_min, now, &g);
    if (rc == 0) {
        /* The grant id leads a reviewer to the reason (break_glass table); the reason itself
         * is free text that may name the patient, which the trail never holds. */
        char oid[24], details[160];
        snprintf(oid, sizeof(oid), "%lld", (long long)r->patient_id);
        snprintf(details, sizeof(details),
                 "{\"grant_id\":%lld,\"minutes\":%d,\"reason_chars\":%zu}", (long long)g.id,
                 r->minutes, strlen(g.reason));
        struct audit_entry e = {.action = "break_glass",
                                .outcome = AUDIT_SUCCESS,
                                .patient_id = r->patient_id,
                                .object_type = "patient",
                                .object_id = oid,
                                .details = details,
                                .break_glass = true};
        api__audit_actor(j, &e);
        rc = audit_append(st, &e, NULL);
    }
    if (rc == 0)
        rc = store_commit(st);
    else if (store_in_transaction(st))
        store_rollback(st);
    switch (rc) {
    case 0: {
        char exp[40], granted[40];
        hx_time_format_rfc3339(g.expires_us, exp, sizeof(exp));
        hx_time_format_rfc3339(g.granted_us, granted, sizeof(granted));
        api__ok(j, 201,
                json_pack("{s:I, s:I, s:s, s:s, s:i}", "grant_id", (json_int_t)g.id, "patient_id",
                          (json_int_t)r->patient_id, "granted", granted, "expires", exp, "minutes",
                          r->minutes));
        return;
    }
    case HX_EDENIED:
        api__fail(j, 403, "forbidden", "break-glass is for clinicians and nurses, not tokens");
        return;
    case HX_EINVAL:
        api__fail(j, 400, "invalid", "reason: at least %d characters; minutes: 1 to %d",
                  RBAC_BREAK_GLASS_REASON_MIN, j->a->policy.break_glass_max_min);
        return;
    default:
        api__fail_store(j, rc, "patient");
    }
}

static void h_break_glass(struct http_exchange *x, void *arg)
{
    struct api *a = arg;
    struct bg_req *r = http_exchange_alloc(x, sizeof(*r));
    memset(r, 0, sizeof(*r));
    if (!api__param_id(x, "id", &r->patient_id))
        return;
    json_t *body = api__json_body(x);
    if (!body)
        return;
    json_t *reason = json_object_get(body, "reason");
    json_t *minutes = json_object_get(body, "minutes");
    r->minutes = a->policy.break_glass_default_min;
    bool ok = json_is_string(reason) && json_string_length(reason) < sizeof(r->reason) &&
              !memchr(json_string_value(reason), '\0', json_string_length(reason));
    if (ok)
        memcpy(r->reason, json_string_value(reason), json_string_length(reason));
    if (minutes) {
        json_int_t m = json_is_integer(minutes) ? json_integer_value(minutes) : 0;
        ok = ok && m >= 1 && m <= a->policy.break_glass_max_min;
        r->minutes = (int)m;
    }
    json_decref(body);
    if (!ok) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "send {\"reason\": at least %d characters, \"minutes\": 1 to %d (optional)}",
                 RBAC_BREAK_GLASS_REASON_MIN, a->policy.break_glass_max_min);
        http_error(x, 400, "invalid", msg);
        return;
    }
    api__run(a, x, break_glass_work, r);
}

/* ---- GET/PUT /api/v1/patients/{id}/rules -------------------------------------------------- */

struct rules_req {
    int64_t patient_id;
    struct rule_setting set[32];
    bool unset[32];
    int n;
};

struct rules_list {
    const char *mrn;
    json_t *patient, *global;
};

static int rules_one(void *arg, const struct rule_setting *r)
{
    struct rules_list *l = arg;
    json_t *dst = strcmp(r->scope, "global") == 0 ? l->global
                  : strcmp(r->scope, "patient") == 0 && strcmp(r->scope_id, l->mrn) == 0
                      ? l->patient
                      : NULL;
    if (!dst)
        return 0;
    char when[40];
    hx_time_format_rfc3339(r->updated_us, when, sizeof(when));
    json_array_append_new(dst, json_pack("{s:s, s:s, s:s, s:s}", "key", r->key, "value", r->value,
                                         "updated", when, "by", r->updated_by));
    return 0;
}

static void rules_get_work(struct store *st, struct api_job *j)
{
    int64_t id = *(int64_t *)j->arg;
    bool bg;
    if (api__patient_scope(st, j, id, &bg) < 0)
        return;
    struct patient p;
    int rc = store_patient_get(st, id, &p);
    struct rules_list l = {.mrn = p.mrn, .patient = json_array(), .global = json_array()};
    if (rc == 0)
        rc = store_rule_setting_list(st, rules_one, &l);
    struct api_settings ss = {0};
    if (rc == 0)
        rc = api__settings_load(st, &ss);
    if (rc < 0) {
        free(ss.v);
        json_decref(l.patient);
        json_decref(l.global);
        api__fail_store(j, rc, "rule settings");
        return;
    }
    struct rules_patient_config *cfg = hx_xcalloc(1, sizeof(*cfg));
    api__settings_config(&ss, p.mrn, cfg);
    json_t *eff = json_pack("{s:s, s:i, s:b, s:I}", "protocol", rules_protocol_name(cfg->protocol),
                            "spo2_scale", cfg->spo2_scale, "news2", cfg->news2_enabled,
                            "news2_fresh_s", (json_int_t)cfg->news2_fresh_s);
    free(cfg);
    free(ss.v);
    char oid[24];
    snprintf(oid, sizeof(oid), "%lld", (long long)id);
    api__audit_read_deferred(j, "rules.read", id, "patient", oid, NULL, bg);
    api__ok(j, 200,
            json_pack("{s:I, s:o, s:o, s:o}", "patient_id", (json_int_t)id, "settings", l.patient,
                      "global", l.global, "effective", eff));
}

static void h_rules_get(struct http_exchange *x, void *arg)
{
    int64_t *id = http_exchange_alloc(x, sizeof(*id));
    if (!api__param_id(x, "id", id))
        return;
    api__run(arg, x, rules_get_work, id);
}

static void rules_put_work(struct store *st, struct api_job *j)
{
    struct rules_req *r = j->arg;
    bool bg;
    if (api__patient_scope(st, j, r->patient_id, &bg) < 0)
        return;
    struct patient p;
    int rc = store_patient_get(st, r->patient_id, &p);
    if (rc < 0) {
        api__fail_store(j, rc, "patient");
        return;
    }
    char pid[24];
    snprintf(pid, sizeof(pid), "%lld", (long long)r->patient_id);
    /* All of them or none, each with its audit entry (as `medhub rules set|unset`). */
    rc = store_begin(st);
    for (int i = 0; rc == 0 && i < r->n; i++) {
        struct rule_setting *s = &r->set[i];
        snprintf(s->scope, sizeof(s->scope), "patient");
        snprintf(s->scope_id, sizeof(s->scope_id), "%s", p.mrn);
        snprintf(s->updated_by, sizeof(s->updated_by), "%s", j->who->name);
        s->updated_us = hx_time_now_us();
        rc = store_rule_setting_set(st, s);
        if (rc == HX_ENOTFOUND && r->unset[i]) {
            rc = 0; /* removing what is not there: nothing to record */
            continue;
        }
        if (rc < 0)
            break;
        char obj[AUDIT_OBJID_MAX];
        snprintf(obj, sizeof(obj), "patient:%s:%.63s", pid, s->key);
        json_t *d = json_pack("{s:s, s:s, s:s*, s:s}", "scope", "patient", "key", s->key, "value",
                              r->unset[i] ? NULL : s->value, "by", j->who->name);
        char *details = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(d);
        struct audit_entry e = {.action = r->unset[i] ? "rules.unset" : "rules.set",
                                .outcome = AUDIT_SUCCESS,
                                .patient_id = r->patient_id,
                                .object_type = "rule_setting",
                                .object_id = obj,
                                .details = details,
                                .break_glass = bg};
        api__audit_actor(j, &e);
        rc = details ? audit_append(st, &e, NULL) : -ENOMEM;
        free(details);
    }
    if (rc == 0)
        rc = store_commit(st);
    else if (store_in_transaction(st))
        store_rollback(st);
    if (rc < 0) {
        api__fail_store(j, rc, "rule setting");
        return;
    }
    /* The current state, as GET answers it (that read is audited too); patient_id is the
     * first member of struct rules_req, which is what rules_get_work reads. */
    rules_get_work(st, j);
}

static void h_rules_put(struct http_exchange *x, void *arg)
{
    struct rules_req *r = http_exchange_alloc(x, sizeof(*r));
    memset(r, 0, sizeof(*r));
    if (!api__param_id(x, "id", &r->patient_id))
        return;
    json_t *body = api__json_body(x);
    if (!body)
        return;
    json_t *settings = json_object_get(body, "settings");
    char err[200] = "";
    if (!json_is_object(settings) || json_object_size(settings) == 0)
        snprintf(err, sizeof(err),
                 "send {\"settings\": {\"KEY\": \"VALUE\" or null to remove, ...}}");
    else if (json_object_size(settings) > 32)
        snprintf(err, sizeof(err), "at most 32 settings at once");
    const char *key;
    json_t *v;
    if (!err[0])
        json_object_foreach(settings, key, v)
        {
            struct rule_setting *s = &r->set[r->n];
            size_t kl = strlen(key);
            if (kl == 0 || kl >= sizeof(s->key)) {
                snprintf(err, sizeof(err), "a key is empty or too long");
                break;
            }
            if (strncmp(key, "escalation.", 11) == 0 || strcmp(key, "nodata_grace_ms") == 0 ||
                strcmp(key, "nodata_interval") == 0) {
                snprintf(err, sizeof(err), "%.63s is not a patient setting", key);
                break;
            }
            memcpy(s->key, key, kl + 1);
            if (json_is_null(v)) {
                r->unset[r->n++] = true;
                continue;
            }
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                json_string_length(v) >= sizeof(s->value) ||
                memchr(json_string_value(v), '\0', json_string_length(v))) {
                snprintf(err, sizeof(err), "%.63s: the value must be a non-empty string", key);
                break;
            }
            memcpy(s->value, json_string_value(v), json_string_length(v) + 1);
            struct rules_patient_config c;
            rules_config_defaults(&c, RULES_PROTO_ADULT_WARD);
            if (rules_config_apply(&c, s->key, s->value, err, sizeof(err)) < 0) {
                if (!err[0])
                    snprintf(err, sizeof(err), "%.63s: invalid value", key);
                break;
            }
            r->n++;
        }
    json_decref(body);
    if (err[0]) {
        http_error(x, 400, "invalid_setting", err);
        return;
    }
    api__run(arg, x, rules_put_work, r);
}

/* ---- routes ------------------------------------------------------------------------------- */

int api__patient_routes(struct api *a, struct http_router *r)
{
    const struct http_route_def defs[] = {
        {"GET", "/api/v1/patients", h_overview, a, "patients.overview", "patient.read", 0},
        {"GET", "/api/v1/patients/{id}", h_detail, a, "patients.show", "patient.read", 0},
        {"POST", "/api/v1/patients/{id}/break-glass", h_break_glass, a, "patients.break_glass",
         "break_glass", 0},
        {"GET", "/api/v1/patients/{id}/rules", h_rules_get, a, "patients.rules", "rules.read", 0},
        {"PUT", "/api/v1/patients/{id}/rules", h_rules_put, a, "patients.rules_set", "rules.write",
         0},
    };
    for (size_t i = 0; i < HX_ARRAY_LEN(defs); i++) {
        int rc = http_router_add_route(r, &defs[i]);
        if (rc < 0)
            return rc;
    }
    return api__observation_routes(a, r);
}

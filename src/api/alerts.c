/*
 * Alerts (docs/api.md "Patients, observations, alerts, rules"):
 *   GET  /api/v1/alerts                  alert.read      list (state, patient, ward, limit)
 *   GET  /api/v1/alerts/{id}             alert.read      one, with its history
 *   POST /api/v1/alerts/{id}/ack         alert.ack       {note?}
 *   POST /api/v1/alerts/{id}/resolve     alert.resolve   {note}
 *   POST /api/v1/alerts/{id}/escalate    alert.escalate  {note?}
 * Who sees an alert: a patient's alert when the patient is in the caller's scope (404
 * otherwise); an alert of an unassigned device (patient 0) any caller with the permission;
 * facilities technical alerts only. Actions are queued exactly as `medhub alert ack|resolve`
 * queues them (store_alert_action_add, with the alert.ack|resolve|escalate audit entry in the
 * same transaction); the daemon's alerts service, which owns alert state, applies them within
 * a poll round (250 ms), so they answer 202 and the change shows in GET /api/v1/alerts/{id}.
 * Layer: api. Thread: loop, except the *_work functions (workers).
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "domain/codes.h"
#include "security/audit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALERT_LIMIT_MAX 1000
#define ALERT_LIMIT_DEF 100
/* Patients whose scope one listing remembers (beyond that each is checked again). */
#define SCOPE_CACHE 64

static json_t *time_or_null(int64_t t_us)
{
    if (!t_us)
        return json_null();
    char t[40];
    hx_time_format_rfc3339(t_us, t, sizeof(t));
    return json_string(t);
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *api__alert_json(const struct alert *a)
{
    const struct obs_code *c = a->code ? obs_code_get(a->code) : NULL;
    json_t *j = json_pack(
        "{s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:i, s:s?, s:s, s:s, s:I}", "id", (json_int_t)a->id,
        "patient_id", (json_int_t)a->patient_id, "device_id", (json_int_t)a->device_id, "rule",
        a->rule, "class", alert_class_name(a->cls), "severity", alert_severity_name(a->severity),
        "state", alert_state_name(a->state), "tier", a->tier, "code", c ? c->loinc : NULL, "title",
        a->title, "detail", a->detail, "count", (json_int_t)a->count);
    json_object_set_new(j, "first_value", num_or_null(a->first_value));
    json_object_set_new(j, "worst_value", num_or_null(a->worst_value));
    json_object_set_new(j, "current_value", num_or_null(a->current_value));
    json_object_set_new(j, "raised", time_or_null(a->raised_us));
    json_object_set_new(j, "updated", time_or_null(a->updated_us));
    json_object_set_new(j, "acknowledged", time_or_null(a->acked_us));
    json_object_set_new(j, "acknowledged_by",
                        a->acked_by[0] ? json_string(a->acked_by) : json_null());
    json_object_set_new(j, "resolved", time_or_null(a->resolved_us));
    json_object_set_new(j, "resolved_by",
                        a->resolved_by[0] ? json_string(a->resolved_by) : json_null());
    json_object_set_new(j, "note", a->note[0] ? json_string(a->note) : json_null());
    json_object_set_new(j, "next_escalation", time_or_null(a->next_escalation_us));
    return j;
}

/* ---- visibility --------------------------------------------------------------------------- */

struct seen {
    int64_t patient_id;
    int verdict; /* 1 in scope, 2 in scope by break-glass, 0 not */
    char ward[PAT_WARD_MAX];
};

struct vis {
    struct seen cache[SCOPE_CACHE];
    size_t n;
    size_t next; /* replaced next when full */
};

static bool is_facilities(const struct api_job *j)
{
    return j->who->role == RBAC_ROLE_FACILITIES;
}

/* May the caller see a? OUT: *bg set when only a break-glass grant allows it, *ward (may be
 * NULL) the patient's ward. Returns 1 yes, 0 no, or a store error. */
static int visible(struct store *st, struct api_job *j, struct vis *v, const struct alert *a,
                   bool *bg, const char **ward)
{
    *bg = false;
    if (ward)
        *ward = "";
    if (is_facilities(j))
        return a->cls == ALERT_CLASS_TECHNICAL;
    if (a->patient_id == 0)
        return 1; /* an unassigned device: the permission is enough */
    struct seen *s = NULL;
    for (size_t i = 0; i < v->n; i++)
        if (v->cache[i].patient_id == a->patient_id)
            s = &v->cache[i];
    if (!s) {
        enum rbac_scope how = RBAC_SCOPE_DENIED;
        int rc = rbac_patient_in_scope(st, j->who, a->patient_id, hx_time_now_us(), &how);
        if (rc < 0 && rc != HX_ENOTFOUND)
            return rc;
        struct patient p = {0};
        if (rc == 0 && how != RBAC_SCOPE_DENIED && (rc = store_patient_get(st, a->patient_id, &p)))
            return rc == HX_ENOTFOUND ? 0 : rc;
        if (v->n < SCOPE_CACHE) {
            s = &v->cache[v->n++];
        } else {
            s = &v->cache[v->next];
            v->next = (v->next + 1) % SCOPE_CACHE;
        }
        s->patient_id = a->patient_id;
        s->verdict = how == RBAC_SCOPE_DENIED ? 0 : how == RBAC_SCOPE_BREAK_GLASS ? 2 : 1;
        memcpy(s->ward, p.ward, sizeof(s->ward));
    }
    *bg = s->verdict == 2;
    if (ward)
        *ward = s->ward;
    return s->verdict != 0;
}

/* ---- GET /api/v1/alerts ------------------------------------------------------------------- */

struct list_req {
    unsigned states;
    int64_t patient_id;
    char ward[PAT_WARD_MAX];
    size_t limit;
};

struct list_ctx {
    struct store *st;
    struct api_job *j;
    const struct list_req *rq;
    struct vis v;
    json_t *arr;
    bool any_bg;
    int rc;
};

static int list_one(void *arg, const struct alert *a)
{
    struct list_ctx *c = arg;
    bool bg;
    const char *ward;
    int rc = visible(c->st, c->j, &c->v, a, &bg, &ward);
    if (rc < 0) {
        c->rc = rc;
        return 1;
    }
    if (!rc || (c->rq->ward[0] && strcmp(ward, c->rq->ward) != 0))
        return 0;
    c->any_bg |= bg;
    json_t *aj = api__alert_json(a);
    if (is_facilities(c->j))
        json_object_set_new(aj, "patient_id", json_null()); /* equipment, not people */
    json_array_append_new(c->arr, aj);
    return json_array_size(c->arr) >= c->rq->limit;
}

static void list_work(struct store *st, struct api_job *j)
{
    struct list_req *rq = j->arg;
    if (rq->patient_id) {
        bool bg;
        if (is_facilities(j)) {
            api__fail(j, 404, "not_found", "no such patient");
            return;
        }
        if (api__patient_scope(st, j, rq->patient_id, &bg) < 0)
            return;
    }
    struct list_ctx *c = hx_xcalloc(1, sizeof(*c));
    c->st = st;
    c->j = j;
    c->rq = rq;
    c->arr = json_array();
    /* Newest first; stops at the limit of visible ones. */
    struct store_alert_filter f = {.states = rq->states, .patient_id = rq->patient_id};
    int rc = store_alert_list(st, &f, list_one, c);
    if (c->rc < 0)
        rc = c->rc;
    else if (rc > 0)
        rc = 0;
    json_t *arr = c->arr;
    bool bg = c->any_bg;
    free(c);
    if (rc < 0) {
        json_decref(arr);
        api__fail_store(j, rc, "alert");
        return;
    }
    char details[64];
    snprintf(details, sizeof(details), "{\"alerts\":%zu}", json_array_size(arr));
    api__audit_read_deferred(j, "alert.read", rq->patient_id, "alert_list",
                             rq->ward[0] ? rq->ward : "*", details, bg);
    api__ok(j, 200,
            json_pack("{s:o, s:I}", "alerts", arr, "count", (json_int_t)json_array_size(arr)));
}

static bool bad(struct http_exchange *x, const char *msg)
{
    http_error(x, 400, "invalid", msg);
    return false;
}

static bool digits(const struct http_param *p, int max_len)
{
    if (p->value_len == 0 || p->value_len > (size_t)max_len)
        return false;
    for (size_t i = 0; i < p->value_len; i++)
        if (p->value[i] < '0' || p->value[i] > '9')
            return false;
    return true;
}

static bool parse_list(struct http_exchange *x, struct list_req *rq)
{
    const struct http_query *q;
    if (http_exchange_query(x, &q) < 0)
        return bad(x, "malformed query string");
    rq->states = (1u << ALERT_RAISED) | (1u << ALERT_ACKED);
    rq->limit = ALERT_LIMIT_DEF;
    const struct http_param *p;
    if ((p = http_query_get(q, "state"))) {
        static const struct {
            const char *name;
            unsigned states;
        } st[] = {{"active", (1u << ALERT_RAISED) | (1u << ALERT_ACKED)},
                  {"raised", 1u << ALERT_RAISED},
                  {"acknowledged", 1u << ALERT_ACKED},
                  {"resolved", 1u << ALERT_RESOLVED},
                  {"all", 0}};
        size_t i = 0;
        while (i < HX_ARRAY_LEN(st) && strcmp(p->value, st[i].name) != 0)
            i++;
        if (i == HX_ARRAY_LEN(st))
            return bad(x, "state: active, raised, acknowledged, resolved or all");
        rq->states = st[i].states;
    }
    if ((p = http_query_get(q, "patient"))) {
        if (!digits(p, 18) || p->value[0] == '0')
            return bad(x, "patient: a patient id (a positive integer)");
        rq->patient_id = strtoll(p->value, NULL, 10);
    }
    if ((p = http_query_get(q, "limit"))) {
        long v = digits(p, 5) ? strtol(p->value, NULL, 10) : 0;
        if (v < 1 || v > ALERT_LIMIT_MAX)
            return bad(x, "limit: an integer from 1 to 1000");
        rq->limit = (size_t)v;
    }
    if ((p = http_query_get(q, "ward"))) {
        bool ok = p->value_len > 0 && p->value_len < PAT_WARD_MAX;
        for (size_t i = 0; ok && i < p->value_len; i++)
            ok = (unsigned char)p->value[i] >= 0x20 && (unsigned char)p->value[i] < 0x7f;
        if (!ok)
            return bad(x, "ward: 1 to 63 printable characters");
        memcpy(rq->ward, p->value, p->value_len);
    }
    return true;
}

static void h_list(struct http_exchange *x, void *arg)
{
    struct list_req *rq = http_exchange_alloc(x, sizeof(*rq));
    memset(rq, 0, sizeof(*rq));
    if (!parse_list(x, rq))
        return;
    api__run(arg, x, list_work, rq);
}

/* ---- GET /api/v1/alerts/{id} -------------------------------------------------------------- */

/* Reads alert id and checks that the caller may see it; fails j (404 both when missing and
 * when out of scope) and returns false otherwise. */
static bool get_visible(struct store *st, struct api_job *j, int64_t id, struct alert *a, bool *bg)
{
    int rc = store_alert_get(st, id, a);
    if (rc == 0) {
        struct vis *v = hx_xcalloc(1, sizeof(*v));
        rc = visible(st, j, v, a, bg, NULL);
        free(v);
        if (rc == 0)
            rc = HX_ENOTFOUND;
        else if (rc > 0)
            rc = 0;
    }
    if (rc < 0)
        api__fail_store(j, rc, "alert");
    return rc == 0;
}

static int add_transition(void *arg, const struct alert_transition *t)
{
    char at[40];
    hx_time_format_rfc3339(t->at_us, at, sizeof(at));
    json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:s, s:s}", "time", at, "event",
                                         alert_event_name(t->event), "severity",
                                         alert_severity_name(t->severity), "who", t->who, "detail",
                                         t->detail));
    return 0;
}

static void show_work(struct store *st, struct api_job *j)
{
    int64_t id = *(int64_t *)j->arg;
    struct alert a;
    bool bg;
    if (!get_visible(st, j, id, &a, &bg))
        return;
    json_t *hist = json_array();
    int rc = store_alert_transitions(st, id, add_transition, hist);
    if (rc < 0) {
        json_decref(hist);
        api__fail_store(j, rc, "alert");
        return;
    }
    json_t *b = api__alert_json(&a);
    if (is_facilities(j))
        json_object_set_new(b, "patient_id", json_null());
    json_object_set_new(b, "history", hist);
    char oid[24];
    snprintf(oid, sizeof(oid), "%lld", (long long)id);
    api__audit_read_deferred(j, "alert.read", a.patient_id, "alert", oid, NULL, bg);
    api__ok(j, 200, b);
}

static void h_show(struct http_exchange *x, void *arg)
{
    int64_t *id = http_exchange_alloc(x, sizeof(*id));
    if (!api__param_id(x, "id", id))
        return;
    api__run(arg, x, show_work, id);
}

/* ---- POST /api/v1/alerts/{id}/ack|resolve|escalate --------------------------------------- */

struct act_req {
    int64_t id;
    enum alert_action_kind kind;
    char note[ALERT_NOTE_MAX];
};

static const char *kind_name(enum alert_action_kind k)
{
    return k == ALERT_ACTION_ACK ? "ack" : k == ALERT_ACTION_RESOLVE ? "resolve" : "escalate";
}

static void act_work(struct store *st, struct api_job *j)
{
    struct act_req *r = j->arg;
    struct alert a;
    bool bg;
    if (!get_visible(st, j, r->id, &a, &bg))
        return;
    if (a.state == ALERT_RESOLVED) {
        api__fail(j, 409, "conflict", "alert %lld is already resolved", (long long)r->id);
        return;
    }
    if (r->kind == ALERT_ACTION_ACK && a.state == ALERT_ACKED) {
        api__fail(j, 409, "conflict", "alert %lld is already acknowledged", (long long)r->id);
        return;
    }
    struct alert_action x = {.alert_id = r->id, .action = (uint8_t)r->kind};
    snprintf(x.who, sizeof(x.who), "%s", j->who->name);
    memcpy(x.note, r->note, sizeof(x.note));
    int rc = store_begin(st);
    if (rc == 0)
        rc = store_alert_action_add(st, &x);
    if (rc == 0) {
        /* As `medhub alert ack|resolve`: the request with its queued action, never the note
         * (free text); the daemon records the transition it applies. */
        char oid[24], details[128];
        snprintf(oid, sizeof(oid), "%lld", (long long)r->id);
        json_t *d = json_pack("{s:s, s:I}", "by", x.who, "action_id", (json_int_t)x.id);
        char *txt = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(d);
        snprintf(details, sizeof(details), "%s", txt ? txt : "{}");
        free(txt);
        char action[32];
        snprintf(action, sizeof(action), "alert.%s", kind_name(r->kind));
        struct audit_entry e = {.action = action,
                                .outcome = AUDIT_SUCCESS,
                                .patient_id = a.patient_id,
                                .object_type = "alert",
                                .object_id = oid,
                                .details = details,
                                .break_glass = bg};
        api__audit_actor(j, &e);
        rc = audit_append(st, &e, NULL);
    }
    if (rc == 0)
        rc = store_commit(st);
    else if (store_in_transaction(st))
        store_rollback(st);
    if (rc < 0) {
        api__fail_store(j, rc, "alert");
        return;
    }
    api__ok(j, 202,
            json_pack("{s:I, s:s, s:I, s:s, s:b}", "id", (json_int_t)r->id, "action",
                      kind_name(r->kind), "action_id", (json_int_t)x.id, "by", x.who, "queued", 1));
}

static void act(struct http_exchange *x, void *arg, enum alert_action_kind kind)
{
    struct act_req *r = http_exchange_alloc(x, sizeof(*r));
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    if (!api__param_id(x, "id", &r->id))
        return;
    const struct http_request *rq = http_exchange_request(x);
    if (rq->body.len || kind == ALERT_ACTION_RESOLVE) {
        json_t *body = api__json_body(x);
        if (!body)
            return;
        json_t *note = json_object_get(body, "note");
        bool ok = !note || (json_is_string(note) && json_string_length(note) < sizeof(r->note) &&
                            !memchr(json_string_value(note), '\0', json_string_length(note)));
        if (ok && note)
            memcpy(r->note, json_string_value(note), json_string_length(note));
        json_decref(body);
        if (!ok) {
            http_error(x, 400, "invalid", "note: a string of at most 255 bytes");
            return;
        }
        if (kind == ALERT_ACTION_RESOLVE && !r->note[0]) {
            http_error(x, 400, "invalid", "send {\"note\": why it is resolved}");
            return;
        }
    }
    api__run(arg, x, act_work, r);
}

static void h_ack(struct http_exchange *x, void *arg)
{
    act(x, arg, ALERT_ACTION_ACK);
}

static void h_resolve(struct http_exchange *x, void *arg)
{
    act(x, arg, ALERT_ACTION_RESOLVE);
}

static void h_escalate(struct http_exchange *x, void *arg)
{
    act(x, arg, ALERT_ACTION_ESCALATE);
}

int api__alert_routes(struct api *a, struct http_router *r)
{
    const struct http_route_def defs[] = {
        {"GET", "/api/v1/alerts", h_list, a, "alerts.list", "alert.read", 0},
        {"GET", "/api/v1/alerts/{id}", h_show, a, "alerts.show", "alert.read", 0},
        {"POST", "/api/v1/alerts/{id}/ack", h_ack, a, "alerts.ack", "alert.ack", 0},
        {"POST", "/api/v1/alerts/{id}/resolve", h_resolve, a, "alerts.resolve", "alert.resolve", 0},
        {"POST", "/api/v1/alerts/{id}/escalate", h_escalate, a, "alerts.escalate", "alert.escalate",
         0},
    };
    for (size_t i = 0; i < HX_ARRAY_LEN(defs); i++) {
        int rc = http_router_add_route(r, &defs[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

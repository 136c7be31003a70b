/*
 * Readings over HTTP, POST /api/v1/ingest?device=ID (permission ingest: gateway tokens;
 * docs/api.md "Ingest over HTTP"). The body is a SenML pack (application/senml+json,
 * application/json or application/senml+cbor) decoded and normalized exactly as an MQTT
 * telemetry publish (ingest/senml.h), for the enrolled device named by ?device=. On the
 * loop: decode and validate every record (all bad records are reported, with index and
 * reason, and nothing is stored); on a worker: the token's scope must cover the device's
 * patient (rbac_patient_in_scope); back on the loop: ingest_submit, and 201 {"accepted": n}
 * only once the store writer reports the message durable (STYLE.md 6).
 * Layer: api. Thread: loop, except scope_work (a worker).
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "ingest/pipeline.h"
#include "ingest/registry.h"
#include "ingest/senml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most records in one request (more is 413: split the pack). */
#define INGEST_HTTP_MAX_RECS 4096

struct ingest_req {
    struct api *a;
    struct http_exchange *x;
    struct principal who; /* the caller (copied: the job outlives nothing, but is simple) */
    int64_t device_id;    /* internal id */
    int64_t patient_id;   /* assigned now, 0 when none */
    struct obs *obs;      /* owned: the normalized readings */
    size_t n_obs;         /* entries in obs */
    int64_t now_us;       /* receive time */
    int scope_rc;         /* worker: 0 in scope, HX_EDENIED, store error */
};

static void req_free(struct ingest_req *r)
{
    free(r->obs);
    free(r);
}

/* Answers an error with a list of {index, reason} (no PHI: reasons may quote the device's
 * values back to it, which is what the device sent). */
static void fail_records(struct http_exchange *x, int status, const char *code, const char *msg,
                         json_t *errors)
{
    json_t *b = json_pack("{s:{s:s, s:s}, s:o}", "error", "code", code, "message", msg, "errors",
                          errors ? errors : json_array());
    http_respond_json(x, status, b);
    json_decref(b);
}

static void on_stored(void *arg, int status)
{
    struct ingest_req *r = arg;
    if (status < 0) {
        http_add_header(r->x, "Retry-After", "1");
        http_error(r->x, 503, "unavailable", "the readings could not be stored; retry");
    } else {
        json_t *b = json_pack("{s:I}", "accepted", (json_int_t)r->n_obs);
        http_respond_json(r->x, 201, b);
        json_decref(b);
    }
    req_free(r);
}

static int scope_work(struct store *st, void *arg)
{
    struct ingest_req *r = arg;
    if (r->who.is_token && r->who.all_wards) {
        r->scope_rc = 0;
        return 0;
    }
    if (r->patient_id <= 0) {
        r->scope_rc = HX_EDENIED; /* an unassigned device: only a token for every ward */
        return 0;
    }
    enum rbac_scope how;
    int rc = rbac_patient_in_scope(st, &r->who, r->patient_id, r->now_us, &how);
    r->scope_rc = rc == HX_ENOTFOUND         ? HX_EDENIED
                  : rc < 0                   ? rc
                  : how == RBAC_SCOPE_DENIED ? HX_EDENIED
                                             : 0;
    return 0;
}

static void scope_done(void *arg, int status)
{
    struct ingest_req *r = arg;
    int rc = status < 0 ? status : r->scope_rc;
    if (rc == HX_EDENIED) {
        http_error(r->x, 403, "forbidden", "this token's ward does not cover the device's patient");
        req_free(r);
        return;
    }
    if (rc < 0 || r->a->stopping) {
        http_error(r->x, 503, "unavailable", "the database is not available");
        req_free(r);
        return;
    }
    rc = ingest_submit(r->a->ingest, r->device_id, r->obs, r->n_obs, r->now_us, on_stored, r);
    if (rc == 0)
        return;
    if (rc == -EAGAIN || rc == HX_ESHUTDOWN) {
        http_add_header(r->x, "Retry-After", "1");
        http_error(r->x, 503, "unavailable", "the store is busy; retry");
    } else if (rc == HX_ETOOBIG) {
        http_error(r->x, 413, "too_many_records", "too many readings in one request");
    } else if (rc == HX_ENOTFOUND) {
        http_error(r->x, 404, "unknown_device", "no such device");
    } else {
        http_error(r->x, 400, "invalid", "the readings were refused");
    }
    req_free(r);
}

static bool content_type_ok(const struct http_request *rq, struct slice *ct)
{
    const struct http_header *h = http_request_header(rq, "Content-Type");
    if (!h)
        return false;
    *ct = h->value;
    static const char *const ok[] = {"application/senml+json", "application/json",
                                     "application/senml+cbor"};
    for (size_t i = 0; i < HX_ARRAY_LEN(ok); i++) {
        size_t n = strlen(ok[i]);
        if (h->value.len >= n && strncasecmp((const char *)h->value.ptr, ok[i], n) == 0 &&
            (h->value.len == n || h->value.ptr[n] == ';' || h->value.ptr[n] == ' '))
            return true;
    }
    return false;
}

static void ingest_post(struct http_exchange *x, void *arg)
{
    struct api *a = arg;
    if (a->stopping || !a->ingest || !a->reg) {
        http_error(x, 503, "unavailable", "ingest is not available");
        return;
    }
    const struct http_request *rq = http_exchange_request(x);
    struct slice ct;
    if (!content_type_ok(rq, &ct)) {
        http_error(x, 415, "unsupported_media_type",
                   "send a SenML pack as application/senml+json (or senml+cbor)");
        return;
    }
    const struct http_query *q;
    const struct http_param *dev;
    if (http_exchange_query(x, &q) < 0 || !(dev = http_query_get(q, "device")) ||
        dev->value_len == 0) {
        http_error(x, 400, "missing_device", "name the device: ?device=ID");
        return;
    }
    const struct reg_device *d =
        reg_find(a->reg, slice_make((const uint8_t *)dev->value, dev->value_len));
    if (!d) {
        http_error(x, 404, "unknown_device", "no such device");
        return;
    }
    if (d->status != DEV_STATUS_ACTIVE) {
        http_error(x, 403, "device_disabled", "this device is disabled");
        return;
    }
    int64_t now = hx_time_now_us();

    /* Decode: records borrow the body and the scratch (resolved names). */
    size_t scratch_len = rq->body.len * 2 + 1024;
    struct senml_record *recs = hx_alloc_array(INGEST_HTTP_MAX_RECS, sizeof(*recs));
    uint8_t *scratch = hx_xmalloc(scratch_len);
    struct senml_out o = {.recs = recs,
                          .max_recs = INGEST_HTTP_MAX_RECS,
                          .scratch = scratch,
                          .scratch_len = scratch_len};
    struct senml_opts opts = {.now_us = now, .max_payload = rq->body.len + 1};
    struct senml_error e;
    memset(&e, 0, sizeof(e));
    int rc = senml_decode(ct, rq->body, &opts, &o, &e);
    if (rc < 0) {
        if (rc == HX_ETOOBIG) {
            http_error(x, 413, "too_many_records",
                       "at most 4096 records per request: split the pack");
        } else {
            json_t *errs = json_array();
            json_array_append_new(errs,
                                  json_pack("{s:i, s:s}", "index", e.index, "reason", e.reason));
            fail_records(x, 400, "malformed", "the body is not a valid SenML pack", errs);
        }
        goto out_free;
    }
    if (o.n_recs == 0) {
        fail_records(x, 400, "malformed", "the pack has no records", NULL);
        goto out_free;
    }
    struct obs *obs = hx_alloc_array(o.n_recs, sizeof(*obs));
    size_t n_obs = 0;
    rc = senml_to_obs(recs, o.n_recs, now, obs, &n_obs, NULL, &e);
    if (rc < 0) {
        /* Report every bad record, not only the first: normalize them one by one. */
        json_t *errs = json_array();
        for (size_t i = 0; i < o.n_recs; i++) {
            struct obs one;
            size_t n1 = 0;
            struct senml_error e1;
            memset(&e1, 0, sizeof(e1));
            if (senml_to_obs(&recs[i], 1, now, &one, &n1, NULL, &e1) < 0)
                json_array_append_new(
                    errs, json_pack("{s:I, s:s}", "index", (json_int_t)i, "reason", e1.reason));
        }
        free(obs);
        fail_records(x, 422, "invalid_records", "some records were refused; nothing was stored",
                     errs);
        goto out_free;
    }
    struct ingest_req *r = hx_xcalloc(1, sizeof(*r));
    r->a = a;
    r->x = x;
    r->who = *api__principal(x);
    r->device_id = d->id;
    r->patient_id = reg_patient_at(a->reg, d, now);
    r->obs = obs;
    r->n_obs = n_obs;
    r->now_us = now;
    if (store_pool_submit(a->pool, scope_work, scope_done, r) < 0) {
        req_free(r);
        http_error(x, 503, "unavailable", "the server is shutting down");
    }
out_free:
    free(scratch);
    free(recs);
}

int api__ingest_routes(struct api *a, struct http_router *r)
{
    struct http_route_def d = {.method = "POST",
                               .pattern = "/api/v1/ingest",
                               .fn = ingest_post,
                               .arg = a,
                               .name = "ingest",
                               .perm = "ingest"};
    return http_router_add_route(r, &d);
}

/*
 * The REST API's lifecycle and the helpers every handler uses (see api_int.h): the job runner
 * that takes store work to a pooled connection on a worker and answers on the loop, JSON
 * bodies, path ids and audit entries for reads.
 * Layer: api (front end: above security, store, ingest, alerts). Thread: loop, except the job
 * functions.
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "security/audit.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Connections in the pool: at most one per libuv worker (4 unless UV_THREADPOOL_SIZE). */
#define API_POOL_CONNS 8

/* ---- jobs --------------------------------------------------------------------------------- */

static int job_work(struct store *st, void *arg)
{
    struct api_job *j = arg;
    j->fn(st, j);
    return 0;
}

static void job_done(void *arg, int status)
{
    struct api_job *j = arg;
    if (status < 0 && !j->body && !j->status)
        api__fail(j, status == HX_ESHUTDOWN ? 503 : 503, "unavailable",
                  "the database is not available: %s", hx_strerror(status));
    if (j->cont && j->status < 400) {
        void (*cont)(struct api_job *) = j->cont;
        j->cont = NULL;
        cont(j);
        return;
    }
    api__finish(j);
}

void api__finish(struct api_job *j)
{
    if (j->after)
        j->after(j);
    api__read_audit_free(j->read_audit); /* a job that failed before recording it */
    j->read_audit = NULL;
    if (j->raw.ptr) {
        http_respond(j->x, j->status ? j->status : 200, "application/json", j->raw.ptr, j->raw.len);
        http_buf_release(&j->raw);
    } else if (j->body) {
        http_respond_json(j->x, j->status ? j->status : 200, j->body);
        json_decref(j->body);
    } else {
        http_error(j->x, j->status ? j->status : 500, j->code[0] ? j->code : "internal",
                   j->msg[0] ? j->msg : "internal error");
    }
    free(j);
}

void api__continue(struct api_job *j, api_job_fn *fn)
{
    j->fn = fn;
    int rc = j->a->stopping ? HX_ESHUTDOWN : store_pool_submit(j->a->pool, job_work, job_done, j);
    if (rc < 0) {
        api__fail(j, 503, "unavailable", "the server is shutting down");
        api__finish(j);
    }
}

void api__run(struct api *a, struct http_exchange *x, api_job_fn *fn, void *arg)
{
    api__run_after(a, x, fn, arg, NULL);
}

void api__run_after(struct api *a, struct http_exchange *x, api_job_fn *fn, void *arg,
                    void (*after)(struct api_job *j))
{
    if (a->stopping) {
        if (after) {
            struct api_job tmp = {.a = a, .x = x, .arg = arg};
            after(&tmp);
        }
        http_error(x, 503, "unavailable", "the server is shutting down");
        return;
    }
    struct api_job *j = hx_xcalloc(1, sizeof(*j));
    j->a = a;
    j->x = x;
    j->fn = fn;
    j->arg = arg;
    j->after = after;
    j->who = api__principal(x);
    api__peer_address(x, j->source, sizeof(j->source));
    int rc = store_pool_submit(a->pool, job_work, job_done, j);
    if (rc < 0) {
        if (after)
            after(j);
        free(j);
        http_error(x, 503, "unavailable", "the server is shutting down");
    }
}

void api__ok_raw(struct api_job *j, int status, struct http_buf *body)
{
    if (j->body) {
        json_decref(j->body);
        j->body = NULL;
    }
    http_buf_release(&j->raw);
    j->status = status;
    j->raw = *body;
    *body = (struct http_buf){0};
}

void api__ok(struct api_job *j, int status, json_t *body)
{
    if (j->body)
        json_decref(j->body);
    http_buf_release(&j->raw);
    j->status = status;
    j->body = body;
}

void api__fail(struct api_job *j, int status, const char *code, const char *fmt, ...)
{
    if (j->body) {
        json_decref(j->body);
        j->body = NULL;
    }
    http_buf_release(&j->raw);
    j->status = status;
    snprintf(j->code, sizeof(j->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
    va_end(ap);
}

void api__fail_store(struct api_job *j, int rc, const char *what)
{
    switch (rc) {
    case HX_ENOTFOUND:
        api__fail(j, 404, "not_found", "no such %s", what);
        break;
    case HX_EEXIST:
        api__fail(j, 409, "conflict", "that %s already exists", what);
        break;
    case HX_EINVAL:
        api__fail(j, 400, "invalid", "invalid %s", what);
        break;
    case HX_EDENIED:
        api__fail(j, 403, "forbidden", "not permitted");
        break;
    case HX_EBUSY:
    case HX_EFULL:
    case HX_EREADONLY:
    case HX_ESTORE:
        api__fail(j, 503, "unavailable", "the database cannot do this now: %s", hx_strerror(rc));
        break;
    default:
        log_warn(NULL, "api", "store call failed", "what=\"%s\" err=\"%s\"", what, hx_strerror(rc));
        api__fail(j, 500, "internal", "internal error");
    }
}

/* ---- request helpers ---------------------------------------------------------------------- */

void api__peer_address(const struct http_exchange *x, char *out, size_t len)
{
    const char *peer = http_exchange_peer(x);
    /* "127.0.0.1:53422" -> "127.0.0.1" (the port says nothing in an audit trail). */
    snprintf(out, len, "%s", peer ? peer : "");
    char *colon = strrchr(out, ':');
    if (colon && !strchr(out, ']') && strchr(out, ':') == colon)
        *colon = '\0';
}

const struct principal *api__principal(const struct http_exchange *x)
{
    return http_exchange_principal(x);
}

json_t *api__json_body(struct http_exchange *x)
{
    const struct http_request *rq = http_exchange_request(x);
    const struct http_header *ct = http_request_header(rq, "Content-Type");
    if (!ct || ct->value.len < 16 ||
        strncasecmp((const char *)ct->value.ptr, "application/json", 16) != 0) {
        http_error(x, 415, "unsupported_media_type", "send the body as application/json");
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb((const char *)rq->body.ptr, rq->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        http_error(x, 400, "bad_json", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

bool api__param_id(struct http_exchange *x, const char *name, int64_t *out)
{
    const char *s = http_exchange_param(x, name);
    char *end = NULL;
    errno = 0;
    long long v = s && *s >= '1' && *s <= '9' ? strtoll(s, &end, 10) : 0;
    if (!s || errno || !end || *end || v <= 0) {
        http_error(x, 404, "not_found", "no such resource");
        return false;
    }
    *out = v;
    return true;
}

void api__audit_actor(const struct api_job *j, struct audit_entry *e)
{
    const struct principal *p = j->who;
    if (!p) {
        e->actor_kind = AUDIT_ACTOR_USER;
        e->actor = "anonymous";
        e->actor_id = 0;
    } else {
        e->actor_kind = p->is_token ? AUDIT_ACTOR_TOKEN : AUDIT_ACTOR_USER;
        e->actor_id = p->is_token ? p->token_id : p->user_id;
        e->actor = p->name;
    }
    e->source = j->source;
}

void api__audit_read(struct store *st, struct api_job *j, const char *action, int64_t patient_id,
                     const char *object_type, const char *object_id, bool break_glass)
{
    struct audit_entry e = {.action = action,
                            .outcome = AUDIT_SUCCESS,
                            .patient_id = patient_id,
                            .object_type = object_type,
                            .object_id = object_id,
                            .break_glass = break_glass};
    api__audit_actor(j, &e);
    int rc = audit_record(st, &e, NULL);
    if (rc < 0)
        log_error(NULL, "api", "cannot record a read in the audit trail", "action=%s err=\"%s\"",
                  action, hx_strerror(rc));
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

int api_start(struct api **out, const struct api_deps *d, char *err, size_t err_len)
{
    *out = NULL;
    struct api *a = hx_xcalloc(1, sizeof(*a));
    a->loop = d->loop;
    a->cfg = d->cfg;
    a->http = d->http;
    a->writer = d->writer;
    a->ingest = d->ingest;
    a->alerts = d->alerts;
    a->reg = d->reg;
    memcpy(a->key, d->server_key, SEC_KEY_LEN);
    auth_policy_from_cfg(d->cfg, &a->policy);
    store_pool_new(&a->pool, d->loop, &d->cfg->storage, 0, API_POOL_CONNS);

    struct http_router *r = http_server_router(d->http);
    int (*const reg[])(struct api *, struct http_router *) = {
        api__session_routes, api__patient_routes, api__alert_routes,  api__device_routes,
        api__admin_routes,   api__fhir_routes,    api__stream_routes, api__ingest_routes,
    };
    for (size_t i = 0; i < HX_ARRAY_LEN(reg); i++) {
        int rc = reg[i](a, r);
        if (rc < 0) {
            snprintf(err, err_len, "api: cannot register routes: %s", hx_strerror(rc));
            api_free(a);
            return rc;
        }
    }
    http_server_set_authenticator(d->http, api__authenticate, a);
    *out = a;
    return 0;
}

void api_stop(struct api *a)
{
    if (!a || a->stopping)
        return;
    a->stopping = true;
    api__stream_stop(a);
    store_pool_stop(a->pool);
}

void api_free(struct api *a)
{
    if (!a)
        return;
    api__stream_free(a);
    store_pool_free(a->pool);
    api__auth_cache_free(a);
    api__audit_q_free(a);
    OPENSSL_cleanse(a->key, sizeof(a->key));
    free(a);
}

/*
 * The FHIR R4 routes over src/fhir/ (docs/fhir.md "Serving"):
 *   GET /fhir/metadata          the CapabilityStatement (public)
 *   GET /fhir/{Type}            search (fhir_search with the decoded query pairs)
 *   GET /fhir/{Type}/{id}       read (fhir_read)
 * One public prefix route: this file authenticates itself (api__auth_check, permission
 * fhir.read) so that every failure, 401 and 403 included, is an OperationOutcome. The
 * caller's care scope comes from the principal (fhir_scope_of); the search or read and its
 * audit entry ("fhir.search" / "fhir.read", naming the patient when the request names one)
 * run on a worker with a pooled store connection; the body goes out as FHIR_MEDIA_TYPE.
 * Layer: api. Thread: loop, except fhir_work (a worker).
 */
#include "api/api_int.h"
#include "security/audit.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "fhir/fhir.h"

#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Longest Host header used in links; a longer or odd one falls back to "localhost". */
#define FHIR_HOST_MAX 200

struct fhir_job {
    struct api_job j; /* a, x, who, source: for the audit helpers */
    bool is_read;     /* read (id) or search */
    enum fhir_type type;
    const char *id; /* read: the id segment (borrowed from x) */
    size_t id_len;
    struct fhir_param params[HTTP_QUERY_MAX_PARAMS]; /* search: borrowed from x's query */
    size_t n_params;
    char base[FHIR_HOST_MAX + 32];     /* "https://host:8443/fhir" */
    const char *wards[RBAC_WARDS_MAX]; /* the scope's ward names (in who) */
    struct fhir_scope scope;           /* the caller's care scope */
    unsigned flags;                    /* enum fhir_request_flags */
    json_t *body;                      /* the answer (owned) */
    int status;                        /* its HTTP status */
    bool audit;                        /* the answer waits for its audit entry */
    int64_t audit_patient;             /* the patient the request names, 0 when none */
    char audit_oid[FHIR_ID_MAX + 1];   /* read: the id */
};

/* Sends body (borrowed) as FHIR JSON with status and finishes x. */
static void send_fhir(struct http_exchange *x, int status, const json_t *body)
{
    char *s = body ? fhir_dumps(body) : NULL;
    if (!s) {
        http_error(x, 500, "internal", "cannot encode the response");
        return;
    }
    http_respond(x, status, FHIR_MEDIA_TYPE, s, strlen(s));
    free(s);
}

static void send_outcome(struct http_exchange *x, int status, const char *code, const char *diag)
{
    json_t *o = fhir_outcome_new("error", code, diag);
    if (status == 401)
        http_add_header(x, "WWW-Authenticate", "Bearer realm=\"medhub\"");
    send_fhir(x, status, o);
    json_decref(o);
}

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == ':' || c == '[' || c == ']';
}

/* The external base URL without a trailing slash, from the Host header and the listener. */
static void base_url(const struct http_exchange *x, char *out, size_t len)
{
    const struct http_header *h = http_request_header(http_exchange_request(x), "Host");
    char host[FHIR_HOST_MAX + 1] = "localhost";
    if (h && h->value.len > 0 && h->value.len <= FHIR_HOST_MAX) {
        bool ok = true;
        for (size_t i = 0; i < h->value.len && ok; i++)
            ok = host_char_ok((char)h->value.ptr[i]);
        if (ok) {
            memcpy(host, h->value.ptr, h->value.len);
            host[h->value.len] = '\0';
        }
    }
    snprintf(out, len, "%s://%s/fhir", http_exchange_is_tls(x) ? "https" : "http", host);
}

/* Does the request's Accept admit a JSON answer? No Accept header: yes. */
static bool accepts_json(const struct http_exchange *x)
{
    const struct http_header *h = http_request_header(http_exchange_request(x), "Accept");
    if (!h || h->value.len == 0)
        return true;
    static const char *const ok[] = {"json", "*/*", "application/*"};
    for (size_t k = 0; k < HX_ARRAY_LEN(ok); k++) {
        size_t n = strlen(ok[k]);
        for (size_t i = 0; i + n <= h->value.len; i++)
            if (strncasecmp((const char *)h->value.ptr + i, ok[k], n) == 0)
                return true;
    }
    return false;
}

static bool prefers_lenient(const struct http_exchange *x)
{
    const struct http_header *h = http_request_header(http_exchange_request(x), "Prefer");
    static const char want[] = "handling=lenient";
    if (!h)
        return false;
    for (size_t i = 0; i + sizeof(want) - 1 <= h->value.len; i++)
        if (strncasecmp((const char *)h->value.ptr + i, want, sizeof(want) - 1) == 0)
            return true;
    return false;
}

/* The care scope of a principal (docs/fhir.md "Scope"): a patient user their own record,
 * a token its ward (or all), clinical staff their wards. Caseload patients outside the
 * wards are not included yet (fhir_scope has no patient list). wards[] borrows from p. */
static void fhir_scope_of(const struct principal *p, struct fhir_scope *s, const char **wards)
{
    memset(s, 0, sizeof(*s));
    if (p->role == RBAC_ROLE_PATIENT) {
        s->kind = STORE_SCOPE_PATIENT;
        s->patient_id = p->patient_id > 0 ? p->patient_id : -1;
        return;
    }
    if (p->is_token && p->all_wards) {
        s->kind = STORE_SCOPE_ALL;
        return;
    }
    s->kind = STORE_SCOPE_WARDS;
    s->wards = wards;
    for (int i = 0; i < p->n_wards && i < RBAC_WARDS_MAX; i++)
        wards[s->n_wards++] = p->wards[i];
}

/* A patient id named by a reference value "12" or "Patient/12"; 0 when none. */
static int64_t ref_patient(const char *v, size_t len)
{
    if (len > 8 && memcmp(v, "Patient/", 8) == 0) {
        v += 8;
        len -= 8;
    }
    int64_t id = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9' || id > INT64_MAX / 10 - 10)
            return 0;
        id = id * 10 + (v[i] - '0');
    }
    return len ? id : 0;
}

/* The patient a request names, for the audit entry (0 when none or several). */
static int64_t named_patient(const struct fhir_job *f)
{
    if (f->is_read) {
        if (f->type == FHIR_PATIENT)
            return ref_patient(f->id, f->id_len);
        if (f->type == FHIR_OBSERVATION) {
            const char *dot = memchr(f->id, '.', f->id_len);
            return dot ? ref_patient(f->id, (size_t)(dot - f->id)) : 0;
        }
        return 0;
    }
    for (size_t i = 0; i < f->n_params; i++) {
        const struct fhir_param *p = &f->params[i];
        bool is_pat =
            (p->name_len == 7 && memcmp(p->name, "patient", 7) == 0) ||
            (p->name_len == 7 && memcmp(p->name, "subject", 7) == 0) ||
            (f->type == FHIR_PATIENT && p->name_len == 3 && memcmp(p->name, "_id", 3) == 0);
        if (is_pat)
            return ref_patient(p->value, p->value_len);
    }
    return 0;
}

static int fhir_work(struct store *st, void *arg)
{
    struct fhir_job *f = arg;
    struct fhir_request rq = {.base_url = f->base, .scope = &f->scope, .flags = f->flags};
    int rc;
    if (f->is_read)
        rc = fhir_read(st, &rq, f->type, f->id, f->id_len, &f->body, &f->status);
    else
        rc = fhir_search(st, &rq, f->type, f->params, f->n_params, &f->body, &f->status);
    if (f->status == 200 || f->status == 404) {
        /* Recorded on the loop through the batched path (audit_batch.c): one transaction
         * for every search answered meanwhile instead of one fsync per search. */
        f->audit = true;
        f->audit_patient = named_patient(f);
        if (f->is_read)
            snprintf(f->audit_oid, sizeof(f->audit_oid), "%.*s",
                     (int)(f->id_len < FHIR_ID_MAX ? f->id_len : FHIR_ID_MAX), f->id);
    }
    (void)rc;
    return 0;
}

/* The answer, once its audit entry is committed (or at once when it needs none). */
static void fhir_answer(struct fhir_job *f, int audit_status)
{
    if (audit_status < 0) {
        send_outcome(f->j.x, 503, "transient", "the access could not be recorded; try again");
    } else if (!f->body) {
        http_error(f->j.x, 500, "internal", "out of memory");
    } else {
        send_fhir(f->j.x, f->status ? f->status : 500, f->body);
    }
    json_decref(f->body);
    free(f);
}

static void fhir_audited(struct api_job *j, int status)
{
    fhir_answer((struct fhir_job *)((char *)j - offsetof(struct fhir_job, j)), status);
}

static void fhir_done(void *arg, int status)
{
    struct fhir_job *f = arg;
    if (status >= 0 && f->body && f->audit) {
        static const char *const objtype[FHIR_TYPE__COUNT] = {
            [FHIR_PATIENT] = "patient",
            [FHIR_DEVICE] = "device",
            [FHIR_OBSERVATION] = "observation",
            [FHIR_FLAG] = "alert",
        };
        struct audit_entry e = {.action = f->is_read ? "fhir.read" : "fhir.search",
                                .outcome = AUDIT_SUCCESS,
                                .patient_id = f->audit_patient,
                                .object_type = objtype[f->type],
                                .object_id = f->is_read ? f->audit_oid : NULL};
        api__audit_actor(&f->j, &e);
        api__audit_read_batched(&f->j, &e, fhir_audited);
        return;
    }
    if (status < 0 && !f->body) {
        send_outcome(f->j.x, 503, "transient", "the database is not available");
    } else if (!f->body) {
        http_error(f->j.x, 500, "internal", "out of memory");
    } else {
        send_fhir(f->j.x, f->status ? f->status : 500, f->body);
    }
    json_decref(f->body);
    free(f);
}

/* After authentication: parse the path and query, then the worker. */
static void fhir_authed(struct http_exchange *x, int verdict, void *arg)
{
    struct api *a = arg;
    if (verdict != HTTP_AUTH_OK) {
        if (verdict == 401)
            send_outcome(x, 401, "login", "authentication required");
        else if (verdict == 403)
            send_outcome(x, 403, "forbidden", "not permitted");
        else
            send_outcome(x, verdict >= 400 && verdict <= 599 ? verdict : 500, "transient",
                         "the request could not be authenticated");
        return;
    }
    const struct http_path *path = http_exchange_path(x);
    enum fhir_type type;
    if (fhir_type_parse(path->seg[1], path->seg_len[1], &type) < 0) {
        json_t *o = fhir_outcome_unknown_type(path->seg[1], path->seg_len[1]);
        send_fhir(x, 404, o);
        json_decref(o);
        return;
    }
    struct fhir_job *f = hx_xcalloc(1, sizeof(*f));
    f->j.a = a;
    f->j.x = x;
    f->j.who = api__principal(x);
    api__peer_address(x, f->j.source, sizeof(f->j.source));
    f->type = type;
    f->flags = prefers_lenient(x) ? FHIR_LENIENT : 0;
    base_url(x, f->base, sizeof(f->base));
    fhir_scope_of(f->j.who, &f->scope, f->wards);
    if (path->n_segs == 3) {
        f->is_read = true;
        f->id = path->seg[2];
        f->id_len = path->seg_len[2];
    } else {
        const struct http_query *q;
        if (http_exchange_query(x, &q) < 0) {
            free(f);
            send_outcome(x, 400, "invalid", "malformed query string");
            return;
        }
        for (uint32_t i = 0; i < q->n_params; i++)
            f->params[f->n_params++] = (struct fhir_param){.name = q->params[i].name,
                                                           .name_len = q->params[i].name_len,
                                                           .value = q->params[i].value,
                                                           .value_len = q->params[i].value_len};
    }
    if (store_pool_submit(a->pool, fhir_work, fhir_done, f) < 0) {
        free(f);
        send_outcome(x, 503, "transient", "the server is shutting down");
    }
}

static void fhir_dispatch(struct http_exchange *x, void *arg)
{
    struct api *a = arg;
    const struct http_path *path = http_exchange_path(x);
    enum http_meth m = http_exchange_request(x)->method;
    if (m != HTTP_METH_GET && m != HTTP_METH_HEAD) {
        http_add_header(x, "Allow", "GET, HEAD, OPTIONS");
        if (m == HTTP_METH_OPTIONS)
            http_respond(x, 204, NULL, NULL, 0);
        else
            send_outcome(x, 405, "not-supported", "the FHIR API is read-only");
        return;
    }
    if (!accepts_json(x)) {
        send_outcome(x, 406, "not-supported", "only application/fhir+json is served");
        return;
    }
    if (path->n_segs == 2 && path->seg_len[1] == 8 && memcmp(path->seg[1], "metadata", 8) == 0) {
        char base[FHIR_HOST_MAX + 32];
        base_url(x, base, sizeof(base));
        json_t *cs = fhir_capability(base);
        send_fhir(x, 200, cs);
        json_decref(cs);
        return;
    }
    if (path->n_segs < 2 || path->n_segs > 3 || path->seg_len[1] == 0 ||
        (path->n_segs == 3 && path->seg_len[2] == 0)) {
        send_outcome(x, 404, "not-found", "no such FHIR route");
        return;
    }
    int st = api__auth_check(a, x, http_exchange_route(x), "fhir.read", fhir_authed, a);
    if (st != HTTP_AUTH_PENDING)
        fhir_authed(x, st, a); /* at once: a refusal, or OK from a cached lookup */
}

int api__fhir_routes(struct api *a, struct http_router *r)
{
    /* Every method: writes get a 405 OperationOutcome here rather than the server's JSON. */
    struct http_route_def d = {.method = "*",
                               .pattern = "/fhir/",
                               .fn = fhir_dispatch,
                               .arg = a,
                               .name = "fhir",
                               .perm = "fhir.read",
                               .flags = HTTP_ROUTE_PREFIX | HTTP_ROUTE_PUBLIC};
    int rc = http_router_add_route(r, &d);
    if (rc < 0)
        return rc;
    /* "/fhir" itself: the prefix route needs the slash. */
    d.pattern = "/fhir";
    d.flags = HTTP_ROUTE_PUBLIC;
    return http_router_add_route(r, &d);
}

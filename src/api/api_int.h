/*
 * Private to src/api/: the API's state and the helpers every handler file uses.
 *
 * A handler (http_handler_fn) runs on the loop with an authenticated exchange: the route's
 * permission has been checked already (route perm strings are rbac_perm names, see
 * security/rbac.h and docs/security.md), and api__principal(x) is the caller. Patient scope
 * (care team, break-glass) is NOT checked by the authenticator: a handler that touches a
 * patient checks it on its worker with rbac_patient_in_scope and answers 404 (not 403: the
 * caller must not learn which ids exist) when it is out of scope.
 *
 * Store work goes to a worker through api__run: fn(st, j) runs with a pooled connection and
 * fills j (status + body, or status + error code/message); the answer is sent on the loop.
 * Reads and writes of patient data append an audit entry (security/audit.h) from the worker:
 * writes inside the change's transaction (audit_append), reads with audit_record.
 * Thread: loop, except the api_job_fn callbacks (workers).
 */
#ifndef MEDHUB_API_API_INT_H
#define MEDHUB_API_API_INT_H

#include "api/api.h"
#include "http/http.h"
#include "security/auth.h"
#include "security/rbac.h"
#include "store/pool.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>

/* The session cookie's name. */
#define API_SESSION_COOKIE "medhub_session"
/* The header a cookie-authenticated state-changing request carries its CSRF token in. */
#define API_CSRF_HEADER "X-CSRF-Token"

struct api {
    uv_loop_t *loop;
    const struct cfg *cfg;
    struct http_server *http;
    struct store_writer *writer;
    struct ingest *ingest;
    struct alerts *alerts;
    struct registry *reg;
    uint8_t key[SEC_KEY_LEN]; /* copy of the server key */
    struct auth_policy policy;
    struct store_pool *pool;   /* read-write connections for handler work */
    struct api_stream *stream; /* the live stream hub (stream.c), NULL until started */
    bool stopping;
};

/* One unit of worker work for an exchange. */
struct api_job;
typedef void api_job_fn(struct store *st, struct api_job *j);

struct api_job {
    struct api *a;
    struct http_exchange *x;
    const struct principal *who; /* the caller (borrowed from x; NULL on public routes) */
    char source[64];             /* the client address, for the audit trail */
    void *arg;                   /* the handler's own request data */
    /* The answer, filled by fn: */
    api_job_fn *fn;                   /* the work */
    int status;                       /* HTTP status; 0 = 500 */
    json_t *body;                     /* owned: sent as JSON when set */
    char code[48];                    /* error code when body is NULL ("not_found") */
    char msg[200];                    /* error message when body is NULL (no PHI) */
    void (*after)(struct api_job *j); /* optional: runs on the loop before answering */
};

/* Runs fn on a worker for x, then answers with what it filled. arg is the handler's. On a
 * pool error (draining) answers 503 at once. */
void api__run(struct api *a, struct http_exchange *x, api_job_fn *fn, void *arg);
/* api__run with a function that runs on the loop after fn, before the answer is sent (to
 * add headers such as Set-Cookie, or to release arg). */
void api__run_after(struct api *a, struct http_exchange *x, api_job_fn *fn, void *arg,
                    void (*after)(struct api_job *j));
/* Worker-side helpers to fill the answer. api__ok takes body. */
void api__ok(struct api_job *j, int status, json_t *body);
void api__fail(struct api_job *j, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps a store error to an answer (404 for HX_ENOTFOUND, 409 HX_EEXIST, 503 busy/full/store,
 * 400 HX_EINVAL, 500 otherwise). */
void api__fail_store(struct api_job *j, int rc, const char *what);

/* The authenticated caller (NULL on public routes). */
const struct principal *api__principal(const struct http_exchange *x);
/* The request body as a JSON object: answers 415 (not application/json) or 400 (bad JSON,
 * not an object) itself and returns NULL then. The result is owned by the caller. */
json_t *api__json_body(struct http_exchange *x);
/* An int64 path parameter (decimal, > 0), or answers 404 itself and returns false. */
bool api__param_id(struct http_exchange *x, const char *name, int64_t *out);
/* Fills an audit entry's actor fields from the principal (user, token or anonymous). */
struct audit_entry;
void api__audit_actor(const struct api_job *j, struct audit_entry *e);
/* Records a read of patient data (patient.read, obs.read ...) in its own transaction; a
 * failure is logged, not answered (the data was already read). */
void api__audit_read(struct store *st, struct api_job *j, const char *action, int64_t patient_id,
                     const char *object_type, const char *object_id, bool break_glass);

/* Route registration per file (called by api_start). */
int api__session_routes(struct api *a, struct http_router *r);
int api__patient_routes(struct api *a, struct http_router *r);
int api__alert_routes(struct api *a, struct http_router *r);
int api__device_routes(struct api *a, struct http_router *r);
int api__admin_routes(struct api *a, struct http_router *r);
int api__fhir_routes(struct api *a, struct http_router *r);
int api__stream_routes(struct api *a, struct http_router *r);
int api__ingest_routes(struct api *a, struct http_router *r);

/* The live stream hub (stream.c): api_stop ends every stream in order and unhooks it from
 * the pipeline and alerts; api_free frees it (after the loop ran to completion). */
void api__stream_stop(struct api *a);
void api__stream_free(struct api *a);

/* The authenticator (auth.c), installed by api_start. */
int api__authenticate(void *arg, struct http_exchange *x, const struct http_route *route);
/* The same checks for a handler of a public route that answers failures in its own format
 * (FHIR: OperationOutcome): credential, CSRF, lookup on a worker, then perm (an rbac_perm
 * name; NULL: any authenticated caller). On HTTP_AUTH_OK the principal is attached to x.
 * Returns HTTP_AUTH_PENDING (done(x, verdict, arg) runs later on the loop with HTTP_AUTH_OK
 * or a status: 401, 403, 503) or a status at once (done never runs then). */
typedef void api_auth_done_fn(struct http_exchange *x, int verdict, void *arg);
int api__auth_check(struct api *a, struct http_exchange *x, const struct http_route *route,
                    const char *perm, api_auth_done_fn *done, void *arg);
/* The client's address without its port ("127.0.0.1"), for the audit trail. */
void api__peer_address(const struct http_exchange *x, char *out, size_t len);

#endif

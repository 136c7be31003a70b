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
#include "rules/news2.h"
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
    struct store_pool *pool;           /* read-write connections for handler work */
    struct api_stream *stream;         /* the live stream hub (stream.c), NULL until started */
    struct api_auth_cache *auth_cache; /* recent credential lookups (auth.c), lazily made */
    struct api_audit_q *audit_q;       /* batched audit entries of hot reads (audit_batch.c) */
    bool stopping;
};

/* One unit of worker work for an exchange. */
struct api_job;
struct api_read_audit;
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
    /* Optional, set by fn: unless fn failed (a status of 400 or more), this runs on the loop
     * before the answer and owns j: it finishes with api__finish (sending what j holds), or
     * starts the next worker step with api__continue (a job in several steps, e.g. a check
     * on a worker, a submit on the loop, a record on a worker). */
    void (*cont)(struct api_job *j);
    struct http_buf raw; /* owned: a JSON body built as text (api__ok_raw), sent when set */
    struct api_read_audit *read_audit; /* owned: a read to record before answering
                                        * (api__audit_read_deferred), or NULL */
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
/* api__ok with a body already serialized as JSON text: takes body's buffer (zeroes *body).
 * For large listings, where building a json_t tree would allocate per field. */
void api__ok_raw(struct api_job *j, int status, struct http_buf *body);
/* From a cont function (loop): answers with what j holds and frees j. */
void api__finish(struct api_job *j);
/* From a cont function (loop): runs fn on a worker for the same exchange; the answer (or
 * another cont) follows as for api__run. */
void api__continue(struct api_job *j, api_job_fn *fn);
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

/* Clinical helpers (patients.c). Worker side: is patient_id in the caller's scope? Returns 0
 * (OUT: *break_glass whether only an emergency grant allows it), or fails j itself with 404
 * not_found (out of scope, or no such patient: the same answer) or a store error and returns
 * a negative code. */
int api__patient_scope(struct store *st, struct api_job *j, int64_t patient_id, bool *break_glass);
/* ---- Clinical views (clinical_view.c) ---- */

/* Every global and patient rule setting that bears on a patient's configuration (escalation,
 * no-data and kind settings left out). */
struct api_settings {
    struct rule_setting *v; /* owned: free(v) */
    size_t n;               /* entries used */
    size_t cap;             /* entries allocated */
    bool truncated;         /* more than the 4096 kept */
};
/* Reads them from st. OUT: *ss (release with free(ss->v), also after an error). */
int api__settings_load(struct store *st, struct api_settings *ss);
/* The configuration the rules engine applies to the patient with this MRN (NULL: global
 * only): defaults, global protocol, global keys, the patient's protocol, the patient's keys;
 * a setting that does not parse is skipped, as the engine does. OUT: *c. */
struct rules_patient_config;
void api__settings_config(const struct api_settings *ss, const char *mrn,
                          struct rules_patient_config *c);
/* Whether the patient with this MRN has settings of their own. */
bool api__settings_has_patient(const struct api_settings *ss, const char *mrn);

/* NEWS2 of a patient's latest readings. A reading older than the configuration's
 * news2_fresh_s is stale: not scored (missing), as in the rules engine. */
struct api_news2 {
    int rc;                      /* 0, or the scorer's error (an implausible value) */
    struct rules_news2_result r; /* the score when rc is 0 */
    int scale;                   /* SpO2 scale used (1 or 2) */
    bool enabled;                /* NEWS2 alerts are on for the patient (news2=on) */
    unsigned stale;              /* set of RULES_NEWS2_BIT(param): present but too old */
};
/* Scores latest[0..n) (latest reading per code, any subset) with c at now_us. OUT: *out. */
void api__news2_compute(const struct obs *latest, size_t n, const struct rules_patient_config *c,
                        int64_t now_us, struct api_news2 *out);
/* {"score", "partial_score", "complete", "band", "minimum_band", "scale", "alerts_enabled",
 * "missing", "stale"}
 * (or {"error"}) appended as text, or as a json_t (returns owned). */
void api__news2_text(struct http_buf *b, const struct api_news2 *v);
json_t *api__news2_json(const struct api_news2 *v);
/* A reading {"code", "name", "value", "unit", "time", "device_id", "manual"} as text. */
void api__obs_text(struct http_buf *b, const struct obs *o);
/* A JSON string literal of s; a byte that starts no valid UTF-8 sequence becomes U+FFFD. */
void api__json_str(struct http_buf *b, const char *s);
/* json_string that survives text that is not UTF-8 (as api__json_str). Returns owned. */
json_t *api__json_safe(const char *s);

/* An alert as JSON (alerts.c). Returns owned. */
json_t *api__alert_json(const struct alert *a);
/* The observation routes (observations.c), registered by api__patient_routes. */
int api__observation_routes(struct api *a, struct http_router *r);

/* Batched audit entries (audit_batch.c), for reads answered many times a second: e is copied
 * and appended by the store writer thread together with the entries queued meanwhile, in one
 * transaction; done(j, status) then runs on the loop (status 0: recorded). Call from the loop
 * (a cont function); answer in done, so no answer goes out without its entry. */
typedef void api_audit_done_fn(struct api_job *j, int status);
void api__audit_read_batched(struct api_job *j, const struct audit_entry *e,
                             api_audit_done_fn *done);
void api__audit_q_free(struct api *a);
/* Worker side: records a read of patient data like api__audit_read, but through the batched
 * path: the entry is copied into j and appended by the writer thread once fn returns; the
 * answer goes out only after it is committed (503 if it cannot be). Sets j->cont: for a job
 * that has no cont of its own. A job that fails afterwards (status >= 400) records nothing.
 * details (copied) may be NULL. */
void api__audit_read_deferred(struct api_job *j, const char *action, int64_t patient_id,
                              const char *object_type, const char *object_id, const char *details,
                              bool break_glass);
/* Frees a deferred read entry (NULL is fine). */
void api__read_audit_free(struct api_read_audit *r);

/* Route registration per file (called by api_start). */
int api__session_routes(struct api *a, struct http_router *r);
int api__patient_routes(struct api *a, struct http_router *r);
int api__alert_routes(struct api *a, struct http_router *r);
int api__device_routes(struct api *a, struct http_router *r);
int api__admin_routes(struct api *a, struct http_router *r);
/* Called by api__admin_routes: the audit trail (audit.c) and the OpenAPI document. */
int api__audit_routes(struct api *a, struct http_router *r);
int api__openapi_routes(struct api *a, struct http_router *r);
int api__fhir_routes(struct api *a, struct http_router *r);
int api__stream_routes(struct api *a, struct http_router *r);
int api__ingest_routes(struct api *a, struct http_router *r);

/* The live stream hub (stream.c): api_stop ends every stream in order and unhooks it from
 * the pipeline and alerts; api_free frees it (after the loop ran to completion). */
void api__stream_stop(struct api *a);
void api__stream_free(struct api *a);

/* The authenticator (auth.c), installed by api_start. */
int api__authenticate(void *arg, struct http_exchange *x, const struct http_route *route);
/* The session cookie's value in a request (the first Cookie header that has it). */
bool api__session_cookie(const struct http_request *rq, struct slice *out);
/* Forgets a cached lookup of this credential (logout), and frees the cache (api_free). */
void api__auth_cache_evict(struct api *a, const char *token, size_t len);
void api__auth_cache_free(struct api *a);
/* Forgets every cached lookup of a user (token false) or token by name: an administrator
 * changed, disabled or revoked it (through the API: at once; elsewhere within 2 s). */
void api__auth_cache_evict_name(struct api *a, bool token, const char *name);
/* The same checks for a handler of a public route that answers failures in its own format
 * (FHIR: OperationOutcome): credential, CSRF, lookup on a worker, then perm (an rbac_perm
 * name; NULL: any authenticated caller). On HTTP_AUTH_OK the principal is attached to x.
 * Returns HTTP_AUTH_PENDING (done(x, verdict, arg) runs later on the loop with HTTP_AUTH_OK
 * or a status: 401, 403, 503) or a verdict at once (done never runs then): a status, or
 * HTTP_AUTH_OK when a cached lookup decided (the principal is attached already). */
typedef void api_auth_done_fn(struct http_exchange *x, int verdict, void *arg);
int api__auth_check(struct api *a, struct http_exchange *x, const struct http_route *route,
                    const char *perm, api_auth_done_fn *done, void *arg);
/* The client's address without its port ("127.0.0.1"), for the audit trail. */
void api__peer_address(const struct http_exchange *x, char *out, size_t len);

#endif

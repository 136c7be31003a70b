/*
 * The authenticator every non-public route goes through (http_authenticate_fn):
 *   1. credentials: "Authorization: Bearer <token>" (API tokens, no cookie, no CSRF) or the
 *      session cookie medhub_session (browsers); none -> 401;
 *   2. CSRF: a cookie-authenticated POST/PUT/PATCH/DELETE must carry X-CSRF-Token, the token
 *      derived from the session (checked on the loop, pure, constant time) -> else 403;
 *   3. on a worker: the session or token looked up (idle and absolute timeouts, revocation,
 *      disabled users) into a struct principal -> else 401;
 *   4. on the loop: the route's permission (its perm string is an rbac_perm name) against
 *      the principal's role and token scopes; a user who must change their password may only
 *      use "self" routes -> else 403, recorded in the audit trail as access.denied.
 * Patient scope is the handlers' job (api_int.h).
 * Layer: api. Thread: loop, except lookup_work (a worker).
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "security/audit.h"

#include <openssl/crypto.h>
#include <string.h>

/* Longest credential accepted (tokens are 43-47 characters). */
#define AUTH_TOKEN_MAX 128

struct auth_job {
    struct api *a;
    struct http_exchange *x;
    const struct http_route *route;
    const char *perm;               /* the permission to check (NULL: any authenticated caller) */
    api_auth_done_fn *done;         /* the verdict's taker */
    void *done_arg;                 /* for done */
    bool bearer;                    /* else the session cookie */
    char token[AUTH_TOKEN_MAX + 1]; /* the credential (wiped after use) */
    size_t len;
    struct principal p; /* filled by the worker */
    int state;          /* sec_session_state or sec_apitoken_state */
    int rc;             /* store error */
};

/* Finds name=value in a Cookie header. OUT: value slice. */
static bool cookie_value(struct slice hdr, const char *name, struct slice *out)
{
    size_t n = strlen(name);
    const uint8_t *p = hdr.ptr, *end = hdr.ptr + hdr.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ';'))
            p++;
        const uint8_t *semi = memchr(p, ';', (size_t)(end - p));
        const uint8_t *stop = semi ? semi : end;
        if ((size_t)(stop - p) > n && memcmp(p, name, n) == 0 && p[n] == '=') {
            *out = slice_make(p + n + 1, (size_t)(stop - p - (ptrdiff_t)n - 1));
            return true;
        }
        p = stop;
    }
    return false;
}

/* The request's credential. Returns false when there is none (or it is malformed). */
static bool credential(const struct http_request *rq, struct auth_job *j)
{
    const struct http_header *h = http_request_header(rq, "Authorization");
    struct slice v = {0};
    if (h) {
        if (h->value.len <= 7 || strncasecmp((const char *)h->value.ptr, "Bearer ", 7) != 0)
            return false;
        v = slice_make(h->value.ptr + 7, h->value.len - 7);
        j->bearer = true;
    } else {
        /* Browsers may send several Cookie headers over HTTP/1.1 only if asked; take the
         * first that has ours. */
        bool found = false;
        for (uint32_t i = 0; i < rq->n_headers && !found; i++)
            if (http_slice_eq_nocase(rq->headers[i].name, "Cookie"))
                found = cookie_value(rq->headers[i].value, API_SESSION_COOKIE, &v);
        if (!found)
            return false;
    }
    if (v.len == 0 || v.len > AUTH_TOKEN_MAX)
        return false;
    memcpy(j->token, v.ptr, v.len);
    j->token[v.len] = '\0';
    j->len = v.len;
    return true;
}

static bool is_safe_method(enum http_meth m)
{
    return m == HTTP_METH_GET || m == HTTP_METH_HEAD || m == HTTP_METH_OPTIONS;
}

static int lookup_work(struct store *st, void *arg)
{
    struct auth_job *j = arg;
    int64_t now = hx_time_now_us();
    if (j->bearer) {
        enum sec_apitoken_state s;
        j->rc = auth_token_principal(st, j->a->key, j->token, j->len, now, &j->p, &s);
        j->state = j->rc == 0 && s == SEC_APITOKEN_VALID ? 0 : 1;
    } else {
        enum sec_session_state s;
        j->rc =
            auth_session_principal(st, j->a->key, &j->a->policy, j->token, j->len, now, &j->p, &s);
        j->state = j->rc == 0 && s == SEC_SESSION_VALID ? 0 : 1;
    }
    return 0;
}

/* Records a refused request (outside any change: its own transaction, on the writer). */
static void audit_denied(struct api *a, struct http_exchange *x, const struct principal *p,
                         const char *why)
{
    char details[128];
    const struct http_route *rt = http_exchange_route(x);
    snprintf(details, sizeof(details), "{\"route\":\"%s\",\"reason\":\"%s\"}",
             rt ? http_route_name(rt) : "?", why);
    const char *peer = http_exchange_peer(x);
    struct audit_entry e = {.actor_kind = p->is_token ? AUDIT_ACTOR_TOKEN : AUDIT_ACTOR_USER,
                            .actor_id = p->is_token ? p->token_id : p->user_id,
                            .actor = p->name,
                            .action = "access.denied",
                            .outcome = AUDIT_DENIED,
                            .source = peer,
                            .details = details};
    if (a->writer)
        (void)audit_submit(a->writer, &e, NULL, NULL);
}

static void lookup_done(void *arg, int status)
{
    struct auth_job *j = arg;
    OPENSSL_cleanse(j->token, sizeof(j->token));
    struct http_exchange *x = j->x;
    int verdict;
    if (status < 0 || j->rc < 0) {
        verdict = 503;
    } else if (j->state != 0) {
        verdict = 401;
    } else {
        const char *perm_name = j->perm;
        int perm = perm_name ? rbac_perm_parse(perm_name) : -1;
        if (perm_name && perm < 0) {
            verdict = 403; /* a route naming an unknown permission is closed, not open */
            log_error(NULL, "api", "route names an unknown permission", "route=%s perm=%s",
                      http_route_name(j->route), perm_name);
        } else if (j->p.must_change_password && perm >= 0 && perm != RBAC_PERM_SELF) {
            verdict = 403;
            audit_denied(j->a, x, &j->p, "password_change_required");
        } else if (perm >= 0 && !rbac_principal_allows(&j->p, (enum rbac_perm)perm)) {
            verdict = 403;
            audit_denied(j->a, x, &j->p, "permission");
        } else {
            struct principal *p = hx_xmalloc(sizeof(*p));
            *p = j->p;
            http_exchange_set_principal(x, p, free);
            verdict = HTTP_AUTH_OK;
        }
    }
    api_auth_done_fn *done = j->done;
    void *done_arg = j->done_arg;
    free(j);
    done(x, verdict, done_arg);
}

int api__auth_check(struct api *a, struct http_exchange *x, const struct http_route *route,
                    const char *perm, api_auth_done_fn *done, void *arg)
{
    if (a->stopping)
        return 503;
    const struct http_request *rq = http_exchange_request(x);
    struct auth_job *j = hx_xcalloc(1, sizeof(*j));
    j->a = a;
    j->x = x;
    j->route = route;
    j->perm = perm;
    j->done = done;
    j->done_arg = arg;
    if (!credential(rq, j)) {
        free(j);
        return 401;
    }
    if (!j->bearer && !is_safe_method(rq->method)) {
        const struct http_header *c = http_request_header(rq, API_CSRF_HEADER);
        if (!c ||
            !auth_csrf_check(a->key, j->token, j->len, (const char *)c->value.ptr, c->value.len)) {
            OPENSSL_cleanse(j->token, sizeof(j->token));
            free(j);
            return 403;
        }
    }
    if (store_pool_submit(a->pool, lookup_work, lookup_done, j) < 0) {
        OPENSSL_cleanse(j->token, sizeof(j->token));
        free(j);
        return 503;
    }
    return HTTP_AUTH_PENDING;
}

static void resume(struct http_exchange *x, int verdict, void *arg)
{
    (void)arg;
    http_auth_resume(x, verdict);
}

int api__authenticate(void *arg, struct http_exchange *x, const struct http_route *route)
{
    return api__auth_check(arg, x, route, http_route_perm(route), resume, NULL);
}

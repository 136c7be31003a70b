/*
 * The authenticator every non-public route goes through (http_authenticate_fn):
 *   1. credentials: "Authorization: Bearer <token>" (API tokens, no cookie, no CSRF) or the
 *      session cookie medhub_session (browsers); none -> 401;
 *   2. CSRF: a cookie-authenticated POST/PUT/PATCH/DELETE must carry X-CSRF-Token, the token
 *      derived from the session (checked on the loop, pure, constant time) -> else 403;
 *   3. on a worker: the session or token looked up (idle and absolute timeouts, revocation,
 *      disabled users) into a struct principal -> else 401;
 *      A lookup is cached on the loop for AUTH_CACHE_TTL_US, keyed by the credential's
 *      keyed hash (never the credential itself);
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
/* A principal looked up for a credential is reused for this long (microseconds): a busy
 * dashboard or integration then costs one database lookup per few seconds, not one per
 * request. The price: a revoked token, a disabled user or a session ended elsewhere keeps
 * working for at most this long (logout through the API evicts at once). */
#define AUTH_CACHE_TTL_US INT64_C(2000000)
/* Slots in the cache (direct-mapped by the credential's keyed hash). */
#define AUTH_CACHE_SLOTS 1024

/* One cached lookup: the keyed hash of the credential, the principal, when it was made. */
struct auth_cache_slot {
    char hash[SEC_HASH_HEX];
    bool bearer;
    int64_t at_us; /* monotonic; 0 = empty */
    struct principal p;
};

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

struct api_auth_cache {
    struct auth_cache_slot slot[AUTH_CACHE_SLOTS];
};

static struct auth_cache_slot *cache_slot(struct api *a, const char *hash)
{
    if (!a->auth_cache)
        a->auth_cache = hx_xcalloc(1, sizeof(*a->auth_cache));
    uint32_t h = 0;
    for (int i = 0; i < 8; i++) /* the hash is uniform hex: its first digits will do */
        h = h << 4 | (uint32_t)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return &a->auth_cache->slot[h % AUTH_CACHE_SLOTS];
}

void api__auth_cache_evict(struct api *a, const char *token, size_t len)
{
    if (!a->auth_cache)
        return;
    char hash[SEC_HASH_HEX];
    sec_secret_hash(a->key, token, len, hash);
    struct auth_cache_slot *s = cache_slot(a, hash);
    if (strcmp(s->hash, hash) == 0)
        OPENSSL_cleanse(s, sizeof(*s));
}

void api__auth_cache_evict_name(struct api *a, bool token, const char *name)
{
    if (!a->auth_cache)
        return;
    for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++) {
        struct auth_cache_slot *s = &a->auth_cache->slot[i];
        if (s->at_us && s->p.is_token == token && strcmp(s->p.name, name) == 0)
            OPENSSL_cleanse(s, sizeof(*s));
    }
}

void api__auth_cache_free(struct api *a)
{
    if (a->auth_cache)
        OPENSSL_cleanse(a->auth_cache, sizeof(*a->auth_cache));
    free(a->auth_cache);
    a->auth_cache = NULL;
}

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
    char hash[SEC_HASH_HEX]; /* keyed hash of token: the cache key */
    struct principal p;      /* filled by the worker */
    int state;               /* sec_session_state or sec_apitoken_state */
    int rc;                  /* store error */
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

bool api__session_cookie(const struct http_request *rq, struct slice *out)
{
    for (uint32_t i = 0; i < rq->n_headers; i++)
        if (http_slice_eq_nocase(rq->headers[i].name, "Cookie") &&
            cookie_value(rq->headers[i].value, API_SESSION_COOKIE, out))
            return true;
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
        if (!api__session_cookie(rq, &v))
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

/* A permission (an rbac_perm name; NULL: any authenticated caller) against a principal:
 * HTTP_AUTH_OK (the principal is attached to x) or 403. */
static int authorize(struct api *a, struct http_exchange *x, const struct http_route *route,
                     const char *perm_name, const struct principal *who)
{
    int perm = perm_name ? rbac_perm_parse(perm_name) : -1;
    if (perm_name && perm < 0) {
        log_error(NULL, "api", "route names an unknown permission", "route=%s perm=%s",
                  route ? http_route_name(route) : "?", perm_name);
        return 403; /* a route naming an unknown permission is closed, not open */
    }
    if (who->must_change_password && perm >= 0 && perm != RBAC_PERM_SELF) {
        audit_denied(a, x, who, "password_change_required");
        return 403;
    }
    if (perm >= 0 && !rbac_principal_allows(who, (enum rbac_perm)perm)) {
        audit_denied(a, x, who, "permission");
        return 403;
    }
    struct principal *p = hx_xmalloc(sizeof(*p));
    *p = *who;
    http_exchange_set_principal(x, p, free);
    return HTTP_AUTH_OK;
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
        struct auth_cache_slot *s = cache_slot(j->a, j->hash);
        memcpy(s->hash, j->hash, sizeof(s->hash));
        s->bearer = j->bearer;
        s->p = j->p;
        s->at_us = hx_time_mono_us();
        verdict = authorize(j->a, x, j->route, j->perm, &j->p);
    }
    OPENSSL_cleanse(&j->p, sizeof(j->p));
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
    sec_secret_hash(a->key, j->token, j->len, j->hash);
    struct auth_cache_slot *cs = cache_slot(a, j->hash);
    if (cs->at_us && cs->bearer == j->bearer && strcmp(cs->hash, j->hash) == 0 &&
        hx_time_mono_us() - cs->at_us < AUTH_CACHE_TTL_US) {
        OPENSSL_cleanse(j->token, sizeof(j->token));
        free(j);
        return authorize(a, x, route, perm, &cs->p);
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

/*
 * The webhook transport: HTTP(S) POSTs through libcurl's multi-socket interface on the libuv
 * loop (the design's choice for outbound HTTP), so no thread ever blocks on a slow or silent
 * receiver and stopping abandons attempts at once. curl tells us which sockets to watch
 * (socket_cb: one uv_poll_t each) and when to call it back (timer_cb: one uv_timer_t); we
 * hand readiness back with curl_multi_socket_action and collect finished transfers.
 * Each attempt uses a fresh connection (no reuse: curl silently re-sends a request when a
 * reused connection turns out dead, which would repeat an attempt id), no proxy, no
 * redirects, http and https only, TLS 1.2 or later with the server certificate checked
 * against the system CA store plus webhook.ca_file, and one timeout for the whole attempt.
 * Layer: notify. Thread: loop (curl runs its DNS resolver threads internally).
 */
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "notify/webhook_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

/* A socket curl asked us to watch. */
struct sock {
    uv_poll_t poll;          /* watches fd */
    curl_socket_t fd;        /* curl's socket */
    struct webhook__http *h; /* owner */
    struct sock *next;       /* in h->socks */
};

/* One POST in flight. */
struct req {
    CURL *easy;                   /* the transfer */
    struct curl_slist *headers;   /* request headers (owned) */
    char *body;                   /* the JSON document (owned) */
    webhook__done_fn *done;       /* called once */
    void *arg;                    /* for done */
    char errbuf[CURL_ERROR_SIZE]; /* curl's detail */
    struct webhook__http *h;      /* owner */
    struct req *next;             /* in h->reqs */
};

struct webhook__http {
    uv_loop_t *loop;        /* borrowed */
    CURLM *multi;           /* NULL once closed */
    uv_timer_t timer;       /* curl's timeout */
    uint32_t timeout_ms;    /* whole attempt */
    STACK_OF(X509) * extra; /* webhook.ca_file certificates, NULL when none */
    struct sock *socks;     /* watched sockets */
    struct req *reqs;       /* in flight */
    size_t n_reqs;          /* ... */
    bool closed;            /* webhook__http_close ran */
};

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- Sockets and timer: curl <-> libuv -------------------------------------------------- */

static void sock_free_cb(uv_handle_t *hd)
{
    free(hd->data);
}

static void sock_close(struct webhook__http *h, struct sock *k)
{
    for (struct sock **pp = &h->socks; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    }
    /* Before curl closes the fd (curl reports CURL_POLL_REMOVE first), so the epoll
     * registration goes with the right file. */
    uv_poll_stop(&k->poll);
    uv_close((uv_handle_t *)&k->poll, sock_free_cb);
}

static void check_done(struct webhook__http *h);

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock *k = p->data;
    struct webhook__http *h = k->h;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else
        flags = (events & UV_READABLE ? CURL_CSELECT_IN : 0) |
                (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(h->multi, k->fd, flags, &running); /* k may be closed by this */
    check_done(h);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct webhook__http *h = userp;
    struct sock *k = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            curl_multi_assign(h->multi, s, NULL);
            sock_close(h, k);
        }
        return 0;
    }
    if (!k) {
        k = hx_xcalloc(1, sizeof(*k));
        if (uv_poll_init_socket(h->loop, &k->poll, s) < 0) {
            free(k);
            return -1; /* curl fails the transfer */
        }
        k->poll.data = k;
        k->fd = s;
        k->h = h;
        k->next = h->socks;
        h->socks = k;
        curl_multi_assign(h->multi, s, k);
    }
    int events = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    return uv_poll_start(&k->poll, events, on_poll) < 0 ? -1 : 0;
}

static void on_timeout(uv_timer_t *t)
{
    struct webhook__http *h = t->data;
    int running = 0;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct webhook__http *h = userp;
    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else /* 0 means "as soon as possible": the next loop iteration, never from inside curl */
        uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- Transfers -------------------------------------------------------------------------- */

static size_t discard(char *ptr, size_t size, size_t n, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * n; /* the response body is not used */
}

/* Adds webhook.ca_file's certificates to the store curl built from the system CAs. */
static CURLcode ssl_ctx_cb(CURL *easy, void *ssl_ctx, void *arg)
{
    struct webhook__http *h = arg;
    (void)easy;
    X509_STORE *store = SSL_CTX_get_cert_store(ssl_ctx);
    for (int i = 0; store && i < sk_X509_num(h->extra); i++)
        X509_STORE_add_cert(store, sk_X509_value(h->extra, i)); /* a duplicate is fine */
    ERR_clear_error();
    return CURLE_OK;
}

static void req_unlink(struct webhook__http *h, struct req *r)
{
    for (struct req **pp = &h->reqs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            h->n_reqs--;
            return;
        }
    }
}

static void req_free(struct req *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r);
}

/* Detaches r, frees it and reports res (last: done may post again). */
static void finish(struct webhook__http *h, struct req *r, struct webhook__result *res)
{
    req_unlink(h, r);
    if (h->multi)
        curl_multi_remove_handle(h->multi, r->easy);
    webhook__done_fn *done = r->done;
    void *arg = r->arg;
    req_free(r);
    done(arg, res);
}

static void check_done(struct webhook__http *h)
{
    CURLMsg *m;
    int left;
    while (h->multi && (m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode code = m->data.result;
        struct webhook__result res = {0};
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
        if (code != CURLE_OK)
            snprintf(res.error, sizeof(res.error), "%s",
                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(code));
        else if (res.status >= 200 && res.status <= 299)
            res.ok = true;
        else
            snprintf(res.error, sizeof(res.error), "HTTP %ld", res.status);
        finish(h, r, &res);
    }
}

#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (curl_easy_setopt(r->easy, opt, val) != CURLE_OK)                                       \
            goto out_inval;                                                                        \
    } while (0)

int webhook__http_post(struct webhook__http *h, const struct webhook__post *p,
                       webhook__done_fn *done, void *arg)
{
    if (h->closed || !h->multi) {
        free(p->body);
        return HX_ESHUTDOWN;
    }
    struct req *r = hx_xcalloc(1, sizeof(*r));
    r->body = p->body;
    r->done = done;
    r->arg = arg;
    r->h = h;
    if (!(r->easy = curl_easy_init())) {
        req_free(r);
        return -ENOMEM;
    }
    for (size_t i = 0; i < WEBHOOK_N_HEADERS; i++) {
        struct curl_slist *l = curl_slist_append(r->headers, p->headers->line[i]);
        if (!l)
            goto out_nomem;
        r->headers = l;
    }
    /* No "Expect: 100-continue" round trip before larger bodies. */
    struct curl_slist *l = curl_slist_append(r->headers, "Expect:");
    if (!l)
        goto out_nomem;
    r->headers = l;

    SET(CURLOPT_URL, p->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROXY, ""); /* never a proxy from the environment */
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_FORBID_REUSE, 1L);
    SET(CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->extra) {
        SET(CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
        SET(CURLOPT_SSL_CTX_DATA, h);
    }
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, r->body);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
    SET(CURLOPT_HTTPHEADER, r->headers);
    SET(CURLOPT_WRITEFUNCTION, discard);
    SET(CURLOPT_ERRORBUFFER, r->errbuf);
    SET(CURLOPT_PRIVATE, r);
    if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK)
        goto out_inval;
    r->next = h->reqs;
    h->reqs = r;
    h->n_reqs++;
    return 0;

out_nomem:
    req_free(r);
    return -ENOMEM;
out_inval:
    req_free(r);
    return HX_EINVAL;
}

size_t webhook__http_in_flight(const struct webhook__http *h)
{
    return h ? h->n_reqs : 0;
}

void webhook__http_abort_all(struct webhook__http *h, const char *why)
{
    while (h && h->reqs) {
        struct webhook__result res = {.aborted = true};
        snprintf(res.error, sizeof(res.error), "%s", why);
        finish(h, h->reqs, &res);
    }
}

/* ---- Lifecycle -------------------------------------------------------------------------- */

/* Reads every certificate of a PEM file. */
static int load_extra(struct webhook__http *h, const char *path, char *err, size_t err_len)
{
    BIO *bio = BIO_new_file(path, "r");
    if (!bio) {
        snprintf(err, err_len, "webhook.ca_file %s: cannot read it", path);
        ERR_clear_error();
        return HX_ECONFIG;
    }
    STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
    BIO_free(bio);
    h->extra = sk_X509_new_null();
    for (int i = 0; infos && h->extra && i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *xi = sk_X509_INFO_value(infos, i);
        if (xi->x509 && sk_X509_push(h->extra, xi->x509))
            xi->x509 = NULL; /* moved */
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    ERR_clear_error();
    if (!h->extra || sk_X509_num(h->extra) == 0) {
        snprintf(err, err_len, "webhook.ca_file %s: no PEM certificates in it", path);
        return HX_ECONFIG;
    }
    return 0;
}

int webhook__http_new(struct webhook__http **out, uv_loop_t *loop, uint32_t timeout_ms,
                      const char *ca_file, char *err, size_t err_len)
{
    static uv_once_t once = UV_ONCE_INIT;
    uv_once(&once, global_init);
    *out = NULL;
    struct webhook__http *h = hx_xcalloc(1, sizeof(*h));
    h->loop = loop;
    h->timeout_ms = timeout_ms;
    int rc;
    if (ca_file && *ca_file && (rc = load_extra(h, ca_file, err, err_len)) < 0)
        goto out_free;
    if (!(h->multi = curl_multi_init())) {
        snprintf(err, err_len, "cannot start libcurl");
        rc = HX_EINVAL;
        goto out_free;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    *out = h;
    return 0;

out_free:
    sk_X509_pop_free(h->extra, X509_free);
    free(h);
    return rc;
}

void webhook__http_close(struct webhook__http *h)
{
    if (!h || h->closed)
        return;
    h->closed = true;
    webhook__http_abort_all(h, "abandoned: shutting down");
    /* Cleanup may still report sockets (CURL_POLL_REMOVE) and timers through the callbacks;
     * whatever it leaves watched is closed below. */
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    while (h->socks)
        sock_close(h, h->socks);
    uv_close((uv_handle_t *)&h->timer, NULL);
}

void webhook__http_free(struct webhook__http *h)
{
    if (!h)
        return;
    sk_X509_pop_free(h->extra, X509_free);
    free(h);
}

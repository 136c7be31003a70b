/*
 * Unit tests for the HTTP server on a real libuv loop over 127.0.0.1 (port 0), with a client
 * on blocking sockets in a pthread: keep-alive and pipelining in order (an async response
 * before a sync one), HEAD, OPTIONS and 405, an async handler whose client leaves before it
 * answers (the exchange stays valid: run under ASan by `make test`), streams with chunked
 * framing and on_close, a congested stream dropped, a response larger than the write queue,
 * the authentication seam, 100-continue and 417, parse errors and timeouts, and static files
 * (ETag/304, gzip, a symlink out of the root, dotfiles, directory redirects).
 * Every test ends with uv_loop_close() == 0, so a leaked handle fails it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* Failure messages quote responses and may be cut: that is fine. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define BIG_LEN (3 * 1024 * 1024 + 17)

struct fx;
typedef void client_fn(struct fx *f);

struct fx {
    uv_loop_t loop;
    uv_async_t done;            /* the client finished: stop the server */
    uv_timer_t guard;           /* fails a hung test */
    uv_timer_t later;           /* handlers answer from here */
    struct cfg cfg;             /* loaded from overrides */
    struct http_server *hs;     /* the server */
    uint16_t port;              /* plain listener */
    client_fn *client;          /* runs in the thread */
    pthread_t thread;           /* the client */
    struct http_exchange *held; /* an exchange a handler keeps */
    const char *later_mode;     /* what the later timer does */
    int on_close_calls;         /* http_close_fn calls */
    int respond_rc;             /* result of the late response */
    int stream_n;               /* events written */
    int stream_rc;              /* last http_stream_write result */
    bool congested;             /* http_stream_is_congested was seen */
    bool with_auth;             /* install the authenticator */
    const char *web_root;       /* register static files from here */
    int client_ok;              /* 1 when every client check passed */
    char client_msg[512];       /* why the client failed */
};

/* ---- client side (thread) ------------------------------------------------------------------ */

struct cli {
    int fd;
    char *buf; /* received, not yet consumed */
    size_t len;
    size_t cap;
};

struct resp {
    int status;
    char head[8192]; /* status line and headers */
    char *body;      /* owned, NUL-terminated */
    size_t body_len;
};

#define CHECK(f, cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf((f)->client_msg, sizeof((f)->client_msg), __VA_ARGS__);                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void cli_open(struct cli *c, uint16_t port)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        abort();
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void cli_close(struct cli *c)
{
    close(c->fd);
    free(c->buf);
}

static void cli_send(struct cli *c, const char *s)
{
    size_t n = strlen(s), off = 0;
    while (off < n) {
        ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

/* Reads more; returns bytes read, 0 at EOF or error. */
static size_t cli_fill(struct cli *c)
{
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 : 131072;
        c->buf = realloc(c->buf, c->cap + 1);
    }
    ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (r <= 0)
        return 0;
    c->len += (size_t)r;
    c->buf[c->len] = '\0';
    return (size_t)r;
}

static void cli_consume(struct cli *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    if (c->buf)
        c->buf[c->len] = '\0';
}

/* True when the server closed the connection (EOF or reset) within the receive timeout. */
static bool cli_sees_eof(struct cli *c)
{
    for (;;) {
        char tmp[4096];
        ssize_t r = recv(c->fd, tmp, sizeof(tmp), 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
        if (r < 0)
            return false; /* timeout */
    }
}

static const char *header_value(const struct resp *r, const char *name, char *out, size_t len)
{
    char needle[128];
    snprintf(needle, sizeof(needle), "\r\n%s: ", name);
    const char *p = strcasestr(r->head, needle);
    if (!p)
        return NULL;
    p += strlen(needle);
    const char *e = strstr(p, "\r\n");
    snprintf(out, len, "%.*s", (int)(e - p), p);
    return out;
}

/* Reads one response (Content-Length, chunked, or to EOF). head_only: a HEAD response.
 * Returns 0 or -1 (EOF before a whole response). */
static int cli_response(struct cli *c, struct resp *r, bool head_only)
{
    memset(r, 0, sizeof(*r));
    char *end;
    while (!(end = c->buf ? strstr(c->buf, "\r\n\r\n") : NULL))
        if (!cli_fill(c))
            return -1;
    size_t hl = (size_t)(end - c->buf) + 4;
    snprintf(r->head, sizeof(r->head), "%.*s", (int)hl, c->buf);
    r->status = atoi(c->buf + 9);
    cli_consume(c, hl);
    char v[64];
    r->body = calloc(1, 1);
    if (head_only || r->status == 304 || r->status == 204 || r->status == 100)
        return 0;
    if (header_value(r, "Content-Length", v, sizeof(v))) {
        size_t n = strtoul(v, NULL, 10);
        while (c->len < n)
            if (!cli_fill(c))
                return -1;
        r->body = realloc(r->body, n + 1);
        memcpy(r->body, c->buf, n);
        r->body[n] = '\0';
        r->body_len = n;
        cli_consume(c, n);
        return 0;
    }
    if (header_value(r, "Transfer-Encoding", v, sizeof(v))) {
        for (;;) {
            char *eol;
            while (!(eol = strstr(c->buf ? c->buf : "", "\r\n")))
                if (!cli_fill(c))
                    return -1;
            size_t n = strtoul(c->buf, NULL, 16);
            size_t need = (size_t)(eol - c->buf) + 2 + n + 2;
            while (c->len < need)
                if (!cli_fill(c))
                    return -1;
            r->body = realloc(r->body, r->body_len + n + 1);
            memcpy(r->body + r->body_len, eol + 2, n);
            r->body_len += n;
            r->body[r->body_len] = '\0';
            cli_consume(c, need);
            if (n == 0)
                return 0;
        }
    }
    while (cli_fill(c)) /* to EOF */
        ;
    r->body = realloc(r->body, c->len + 1);
    memcpy(r->body, c->buf ? c->buf : "", c->len);
    r->body_len = c->len;
    r->body[r->body_len] = '\0';
    cli_consume(c, c->len);
    return 0;
}

static void resp_free(struct resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* ---- server side (loop) ------------------------------------------------------------------- */

static struct fx *g; /* the running fixture (one at a time) */

static void on_fast(struct http_exchange *x, void *arg)
{
    http_respond(x, 200, "text/plain", "fast", 4);
}

static void on_later(uv_timer_t *t)
{
    struct fx *f = t->data;
    struct http_exchange *x = f->held;
    if (!strcmp(f->later_mode, "slow")) {
        f->held = NULL;
        f->respond_rc = http_respond(x, 200, "text/plain", "slow", 4);
    } else if (!strcmp(f->later_mode, "hold")) {
        f->held = NULL;
        /* The client has gone by now: the exchange is still valid, the answer is dropped. */
        if (!http_exchange_is_closed(x))
            f->respond_rc = 12345;
        else
            f->respond_rc = http_error(x, 500, "late", "too late");
    } else if (!strcmp(f->later_mode, "events")) {
        char ev[64];
        int n = snprintf(ev, sizeof(ev), "id: %d\ndata: tick %d\n\n", f->stream_n, f->stream_n);
        f->stream_rc = http_stream_write(x, ev, (size_t)n);
        f->stream_n++;
        uv_timer_start(&f->later, on_later, 20, 0);
    } else if (!strcmp(f->later_mode, "auth")) {
        f->held = NULL;
        const struct http_header *h =
            http_request_header(http_exchange_request(x), "authorization");
        if (h && slice_eq_cstr(h->value, "Bearer good")) {
            http_exchange_set_principal(x, strdup("nurse-1"), free);
            http_auth_resume(x, HTTP_AUTH_OK);
        } else {
            http_auth_resume(x, 403);
        }
    }
}

static void on_slow(struct http_exchange *x, void *arg)
{
    g->held = x;
    g->later_mode = "slow";
    uv_timer_start(&g->later, on_later, 50, 0);
}

static void on_gone(struct http_exchange *x, void *arg)
{
    g->on_close_calls++;
    if (!strcmp(g->later_mode, "events")) {
        uv_timer_stop(&g->later);
        g->stream_rc = http_stream_write(x, "data: x\n\n", 9);
        g->held = NULL;
        http_stream_end(x);
    }
}

static void on_hold(struct http_exchange *x, void *arg)
{
    g->held = x;
    g->later_mode = "hold";
    http_exchange_on_close(x, on_gone, NULL);
    uv_timer_start(&g->later, on_later, 300, 0);
}

static void on_echo(struct http_exchange *x, void *arg)
{
    const struct http_query *q;
    int rc = http_exchange_query(x, &q);
    if (rc < 0) {
        http_error(x, 400, "bad_query", "malformed query");
        return;
    }
    const struct http_param *p = http_query_get(q, "x");
    const char *principal = http_exchange_principal(x);
    char body[256];
    int n = snprintf(body, sizeof(body), "%s|%s|%s|%zu", http_exchange_param(x, "id"),
                     p ? p->value : "-", principal ? principal : "-",
                     http_exchange_request(x)->body.len);
    char *copy = http_exchange_alloc(x, (size_t)n + 1);
    memcpy(copy, body, (size_t)n + 1);
    http_add_header(x, "X-Echo", "1");
    assert_int_equal(http_add_header(x, "Bad", "a\r\nb"), HX_EINVAL);
    http_respond(x, 200, "text/plain", copy, (size_t)n);
}

static void on_events(struct http_exchange *x, void *arg)
{
    g->held = x;
    g->later_mode = "events";
    http_exchange_on_close(x, on_gone, NULL);
    assert_int_equal(http_stream_begin(x, 200, "text/event-stream"), 0);
    assert_int_equal(http_stream_begin(x, 200, "text/event-stream"), HX_EINVAL);
    g->stream_rc = http_stream_write(x, ": hello\n\n", 9);
    uv_timer_start(&g->later, on_later, 20, 0);
}

static void on_flood(struct http_exchange *x, void *arg)
{
    static char piece[32 * 1024];
    memset(piece, 'e', sizeof(piece));
    assert_int_equal(http_stream_begin(x, 200, "text/event-stream"), 0);
    for (int i = 0; i < 1000 && !http_stream_is_congested(x); i++)
        g->stream_rc = http_stream_write(x, piece, sizeof(piece));
    g->congested = http_stream_is_congested(x);
    http_stream_abort(x);
}

static void on_big(struct http_exchange *x, void *arg)
{
    char *b = malloc(BIG_LEN);
    for (size_t i = 0; i < BIG_LEN; i++)
        b[i] = (char)('a' + i % 26);
    http_respond(x, 200, "application/octet-stream", b, BIG_LEN);
    free(b); /* copied */
}

#define HUGE_LEN (32 * 1024 * 1024)

static void on_huge(struct http_exchange *x, void *arg)
{
    char *b = calloc(1, HUGE_LEN);
    http_respond(x, 200, "application/octet-stream", b, HUGE_LEN);
    free(b);
}

static int authenticate(void *arg, struct http_exchange *x, const struct http_route *rt)
{
    struct fx *f = arg;
    if (!http_request_header(http_exchange_request(x), "authorization"))
        return 401;
    f->held = x;
    f->later_mode = "auth";
    uv_timer_start(&f->later, on_later, 10, 0);
    return HTTP_AUTH_PENDING;
}

static void on_guard(uv_timer_t *t)
{
    fail_msg("test timed out");
}

static void on_done(uv_async_t *a)
{
    struct fx *f = a->data;
    uv_timer_stop(&f->later);
    http_server_stop(f->hs);
    uv_close((uv_handle_t *)&f->done, NULL);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_close((uv_handle_t *)&f->later, NULL);
}

static void *client_main(void *arg)
{
    struct fx *f = arg;
    f->client(f);
    if (!f->client_msg[0])
        f->client_ok = 1;
    uv_async_send(&f->done);
    return NULL;
}

static void add(struct fx *f, const char *method, const char *pattern, http_handler_fn *fn,
                const char *perm, unsigned flags)
{
    struct http_route_def d = {.method = method,
                               .pattern = pattern,
                               .fn = fn,
                               .arg = f,
                               .name = pattern,
                               .perm = perm,
                               .flags = flags};
    assert_int_equal(http_router_add_route(http_server_router(f->hs), &d), 0);
}

static void run(struct fx *f, client_fn *client)
{
    g = f;
    f->client = client;
    const char *sets[] = {
        "http.listen=127.0.0.1:0",        "http.tls_listen=",
        "http.header_timeout_ms=400",     "http.body_timeout_ms=400",
        "http.idle_timeout_ms=600",       "http.stream_queue_bytes=4096",
        "http.write_queue_bytes=1048576", "http.max_body_bytes=4096",
    };
    struct cfg_sources src = {.data_dir = "/tmp/medhub-test-http",
                              .overrides = sets,
                              .n_overrides = (int)(sizeof(sets) / sizeof(sets[0]))};
    char err[512];
    if (cfg_load_string(&f->cfg, "", 0, NULL, &src, err, sizeof(err)) != 0)
        fail_msg("config: %s", err);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    http_server_new(&f->hs, &f->loop, &f->cfg);
    add(f, "GET", "/fast", on_fast, NULL, HTTP_ROUTE_PUBLIC);
    add(f, "GET", "/slow", on_slow, NULL, HTTP_ROUTE_PUBLIC);
    add(f, "GET", "/hold", on_hold, NULL, HTTP_ROUTE_PUBLIC);
    add(f, "*", "/echo/{id}", on_echo, NULL, HTTP_ROUTE_PUBLIC);
    add(f, "GET", "/events", on_events, NULL, HTTP_ROUTE_PUBLIC);
    add(f, "GET", "/flood", on_flood, NULL, HTTP_ROUTE_PUBLIC);
    add(f, "GET", "/big", on_big, NULL, HTTP_ROUTE_PUBLIC);
    add(f, "GET", "/huge", on_huge, NULL, HTTP_ROUTE_PUBLIC);
    add(f, "GET", "/private/{id}", on_echo, "patients.read", 0);
    add(f, "GET", "/m/{id}", on_echo, "metrics", HTTP_ROUTE_LOOPBACK_PUBLIC);
    if (f->with_auth)
        http_server_set_authenticator(f->hs, authenticate, f);
    if (f->web_root) {
        if (http_static_register(f->hs, f->web_root, err, sizeof(err)) != 0)
            fail_msg("static: %s", err);
    }
    if (http_server_start(f->hs, err, sizeof(err)) != 0)
        fail_msg("start: %s", err);
    f->port = http_server_port(f->hs, false);
    assert_true(f->port > 0);
    assert_int_equal(http_server_port(f->hs, true), 0);
    uv_async_init(&f->loop, &f->done, on_done);
    f->done.data = f;
    uv_timer_init(&f->loop, &f->guard);
    uv_timer_start(&f->guard, on_guard, 20000, 0);
    uv_timer_init(&f->loop, &f->later);
    f->later.data = f;
    assert_int_equal(pthread_create(&f->thread, NULL, client_main, f), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    pthread_join(f->thread, NULL);
    if (!f->client_ok)
        fail_msg("client: %s", f->client_msg);
    struct http_stats st;
    http_server_get_stats(f->hs, &st);
    assert_int_equal(st.open_plain, 0);
    http_server_free(f->hs);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void client_pipelining(struct fx *f)
{
    struct cli c;
    cli_open(&c, f->port);
    /* Three requests in one write: the first is answered later (async), the rest at once,
     * yet the responses come back in request order. */
    cli_send(&c, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /echo/a%20b?x=1+2 HTTP/1.1\r\nHost: t\r\n\r\n");
    struct resp r;
    const char *want[] = {"slow", "fast", "a b|1 2|-|0"};
    for (int i = 0; i < 3; i++) {
        CHECK(f, cli_response(&c, &r, false) == 0, "response %d missing", i);
        CHECK(f, r.status == 200 && !strcmp(r.body, want[i]), "response %d: %d '%s'", i, r.status,
              r.body);
        CHECK(f, strstr(r.head, "\r\nCache-Control: no-store\r\n"), "no Cache-Control");
        CHECK(f, strstr(r.head, "\r\nX-Content-Type-Options: nosniff\r\n"), "no nosniff");
        CHECK(f, !strstr(r.head, "Strict-Transport-Security"), "HSTS over plain HTTP");
        resp_free(&r);
    }
    /* HEAD: headers with the GET's length, no body. */
    cli_send(&c, "HEAD /fast HTTP/1.1\r\nHost: t\r\n\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(f, cli_response(&c, &r, true) == 0 && r.status == 200, "HEAD failed");
    CHECK(f, strstr(r.head, "Content-Length: 4\r\n"), "HEAD length: %s", r.head);
    resp_free(&r);
    CHECK(f, cli_response(&c, &r, false) == 0 && !strcmp(r.body, "fast"), "GET after HEAD");
    resp_free(&r);
    /* 405 with Allow; OPTIONS answers 204 with Allow; a body on POST is read. */
    cli_send(&c, "POST /fast HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                 "OPTIONS /fast HTTP/1.1\r\nHost: t\r\n\r\n"
                 "POST /echo/z HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n0\r\n\r\n"
                 "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n");
    char v[128];
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 405, "want 405: %d", r.status);
    CHECK(f, header_value(&r, "Allow", v, sizeof(v)) && !strcmp(v, "GET, HEAD, OPTIONS"),
          "Allow: %s", r.head);
    CHECK(f, strstr(r.body, "\"code\":\"method_not_allowed\""), "405 body %s", r.body);
    resp_free(&r);
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 204, "want 204: %d", r.status);
    CHECK(f, header_value(&r, "Allow", v, sizeof(v)), "no Allow on OPTIONS");
    resp_free(&r);
    CHECK(f, cli_response(&c, &r, false) == 0 && !strcmp(r.body, "z|-|-|3"), "echo '%s'", r.body);
    CHECK(f, strstr(r.head, "X-Echo: 1\r\n") && !strstr(r.head, "Bad:"), "extra headers");
    resp_free(&r);
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 404, "want 404: %d", r.status);
    CHECK(f,
          !strcmp(r.body, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such "
                          "resource\"}}"),
          "404 body %s", r.body);
    resp_free(&r);
    /* HTTP/1.0: Connection: keep-alive honoured, then a plain 1.0 request closes. */
    cli_send(&c, "GET /fast HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && strstr(r.head, "Connection: keep-alive"),
          "1.0 keep-alive: %s", r.head);
    resp_free(&r);
    cli_send(&c, "GET /fast HTTP/1.0\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && strstr(r.head, "Connection: close"),
          "1.0 close: %s", r.head);
    resp_free(&r);
    CHECK(f, cli_sees_eof(&c), "not closed after HTTP/1.0");
    cli_close(&c);
}

static void test_server_pipelining_in_order(void **state)
{
    struct fx f = {0};
    run(&f, client_pipelining);
    assert_int_equal(f.respond_rc, 0);
}

static void client_gone(struct fx *f)
{
    struct cli c;
    cli_open(&c, f->port);
    cli_send(&c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(50 * 1000);
    cli_close(&c); /* before the handler answers (at 300 ms) */
    usleep(500 * 1000);
}

static void test_server_async_client_gone(void **state)
{
    struct fx f = {0};
    run(&f, client_gone);
    assert_int_equal(f.on_close_calls, 1);
    assert_int_equal(f.respond_rc, HX_ESHUTDOWN);
    assert_null(f.held);
}

static void client_events(struct fx *f)
{
    struct cli c;
    cli_open(&c, f->port);
    cli_send(&c, "GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
    while (!strstr(c.buf ? c.buf : "", "\r\n\r\n"))
        CHECK(f, cli_fill(&c), "no stream headers");
    CHECK(f, strstr(c.buf, "Transfer-Encoding: chunked\r\n"), "not chunked: %s", c.buf);
    CHECK(f, strstr(c.buf, "Content-Type: text/event-stream\r\n"), "type: %s", c.buf);
    CHECK(f, !strstr(c.buf, "Content-Length"), "length on a stream");
    while (!strstr(c.buf, "data: tick 2\n\n\r\n"))
        CHECK(f, cli_fill(&c), "events stopped: %s", c.buf);
    CHECK(f, strstr(c.buf, "9\r\n: hello\n\n\r\n"), "chunk framing: %s", c.buf);
    cli_close(&c);
    usleep(300 * 1000);
}

static void test_server_stream_and_on_close(void **state)
{
    struct fx f = {0};
    run(&f, client_events);
    assert_int_equal(f.on_close_calls, 1);
    assert_true(f.stream_n >= 3);
    assert_int_equal(f.stream_rc, HX_ESHUTDOWN); /* the write from on_close */
}

static void client_flood(struct fx *f)
{
    struct cli c;
    cli_open(&c, f->port);
    cli_send(&c, "GET /flood HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(f, cli_sees_eof(&c), "a congested stream was not dropped");
    cli_close(&c);
    /* The HTTP/1.0 framing of a stream: the body ends with the connection. */
    cli_open(&c, f->port);
    cli_send(&c, "GET /events HTTP/1.0\r\n\r\n");
    while (!strstr(c.buf ? c.buf : "", "data: tick 1\n\n"))
        CHECK(f, cli_fill(&c), "1.0 stream stopped");
    CHECK(f, !strstr(c.buf, "chunked") && strstr(c.buf, "Connection: close"), "1.0: %s", c.buf);
    cli_close(&c);
    usleep(200 * 1000);
}

static void test_server_stream_congested(void **state)
{
    struct fx f = {0};
    run(&f, client_flood);
    assert_true(f.congested);
}

static void client_big(struct fx *f)
{
    struct cli c;
    cli_open(&c, f->port);
    cli_send(&c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(100 * 1000); /* let the queue fill before reading */
    struct resp r;
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 200, "big response");
    CHECK(f, r.body_len == BIG_LEN, "big: %zu bytes", r.body_len);
    for (size_t i = 0; i < BIG_LEN; i++)
        CHECK(f, r.body[i] == (char)('a' + i % 26), "big: byte %zu", i);
    resp_free(&r);
    CHECK(f, cli_response(&c, &r, false) == 0 && !strcmp(r.body, "fast"), "after big");
    resp_free(&r);
    cli_close(&c);
}

static void test_server_response_larger_than_queue(void **state)
{
    struct fx f = {0};
    run(&f, client_big);
}

static void client_slow_read(struct fx *f)
{
    struct cli c;
    cli_open(&c, f->port);
    cli_send(&c, "GET /huge HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(1500 * 1000); /* read nothing for longer than the idle timeout (600 ms) */
    size_t got = 0;
    for (;;) {
        char tmp[65536];
        ssize_t r = recv(c.fd, tmp, sizeof(tmp), 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    CHECK(f, got < HUGE_LEN, "the whole response arrived (%zu bytes)", got);
    cli_close(&c);
}

static void test_server_slow_reader_dropped(void **state)
{
    struct fx f = {0};
    run(&f, client_slow_read);
}

static void client_no_auth(struct fx *f)
{
    struct cli c;
    cli_open(&c, f->port);
    struct resp r;
    char v[128];
    cli_send(&c, "GET /private/1 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 401, "want 401: %d", r.status);
    CHECK(f, header_value(&r, "WWW-Authenticate", v, sizeof(v)), "no challenge");
    resp_free(&r);
    /* Loopback-public on the plain loopback listener. */
    cli_send(&c, "GET /m/7 HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 200, "metrics route: %d", r.status);
    resp_free(&r);
    cli_close(&c);
}

static void test_server_default_allows_only_public(void **state)
{
    struct fx f = {0};
    run(&f, client_no_auth);
}

static void client_auth(struct fx *f)
{
    struct cli c;
    cli_open(&c, f->port);
    struct resp r;
    cli_send(&c, "GET /private/1 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /private/2 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n\r\n"
                 "GET /private/3 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ro\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 401, "want 401: %d", r.status);
    resp_free(&r);
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 200, "want 200: %d", r.status);
    CHECK(f, !strcmp(r.body, "2|-|nurse-1|0"), "principal: %s", r.body);
    resp_free(&r);
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 403, "want 403: %d", r.status);
    CHECK(f, strstr(r.body, "\"forbidden\""), "403 body %s", r.body);
    resp_free(&r);
    cli_close(&c);
    /* The client leaves while the authenticator works: nothing breaks. */
    cli_open(&c, f->port);
    cli_send(&c, "GET /private/4 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n\r\n");
    cli_close(&c);
    usleep(100 * 1000);
}

static void test_server_authenticator(void **state)
{
    struct fx f = {.with_auth = true};
    run(&f, client_auth);
}

static void client_continue_and_errors(struct fx *f)
{
    struct cli c;
    struct resp r;
    cli_open(&c, f->port);
    cli_send(&c, "POST /echo/c HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                 "Content-Length: 5\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 100, "want 100: %d", r.status);
    resp_free(&r);
    cli_send(&c, "hello");
    CHECK(f, cli_response(&c, &r, false) == 0 && !strcmp(r.body, "c|-|-|5"), "after 100: %s",
          r.body);
    resp_free(&r);
    /* An expectation we do not meet: 417 and close. */
    cli_send(&c, "GET /fast HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 417, "want 417: %d", r.status);
    CHECK(f, strstr(r.head, "Connection: close"), "417 keeps the connection");
    resp_free(&r);
    CHECK(f, cli_sees_eof(&c), "open after 417");
    cli_close(&c);
    /* Garbage: 400 with the error body and the security headers, then close. */
    cli_open(&c, f->port);
    cli_send(&c, "GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\nGET /fast HTTP/1.1\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 400, "want 400: %d", r.status);
    CHECK(f, strstr(r.head, "Content-Security-Policy: default-src 'self'"), "no CSP on 400");
    CHECK(f, strstr(r.body, "\"error\":{\"code\":\"bad_request\""), "400 body %s", r.body);
    resp_free(&r);
    CHECK(f, cli_sees_eof(&c), "open after 400");
    cli_close(&c);
    /* Too large a body: 413 at the headers. */
    cli_open(&c, f->port);
    cli_send(&c, "POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 4097\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 413, "want 413: %d", r.status);
    resp_free(&r);
    CHECK(f, cli_sees_eof(&c), "open after 413");
    cli_close(&c);
    /* Dot segments never reach a handler. */
    cli_open(&c, f->port);
    cli_send(&c, "GET /echo/../fast HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 400, "dot segment: %d", r.status);
    resp_free(&r);
    cli_close(&c);
}

static void test_server_continue_and_errors(void **state)
{
    struct fx f = {0};
    run(&f, client_continue_and_errors);
}

static void client_timeouts(struct fx *f)
{
    struct cli c;
    struct resp r;
    struct timeval t0, t1;
    /* Headers that trickle in: 408 after the header timeout (400 ms from the first byte, not
     * from the last), then close. (Nothing is sent after the deadline: a send to a closed
     * socket would draw a reset that can discard the 408 before it is read.) */
    cli_open(&c, f->port);
    gettimeofday(&t0, NULL);
    cli_send(&c, "GET /fast HTTP/1.1\r\n");
    for (int i = 0; i < 2; i++) {
        usleep(150 * 1000);
        cli_send(&c, "X: y\r\n");
    }
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 408, "want 408: %d", r.status);
    resp_free(&r);
    CHECK(f, cli_sees_eof(&c), "open after 408");
    gettimeofday(&t1, NULL);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    CHECK(f, ms >= 350 && ms < 2000, "408 after %ld ms", ms);
    cli_close(&c);
    /* A connection that sends nothing: closed after the header timeout, without a response. */
    cli_open(&c, f->port);
    CHECK(f, cli_sees_eof(&c) && c.len == 0, "silent connection kept");
    cli_close(&c);
    /* Idle keep-alive (600 ms): closed after a request. */
    cli_open(&c, f->port);
    cli_send(&c, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 200, "fast");
    resp_free(&r);
    gettimeofday(&t0, NULL);
    CHECK(f, cli_sees_eof(&c), "idle connection kept");
    gettimeofday(&t1, NULL);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    CHECK(f, ms >= 500, "idle close after %ld ms", ms);
    cli_close(&c);
}

static void test_server_timeouts(void **state)
{
    struct fx f = {0};
    run(&f, client_timeouts);
}

/* ---- static files ------------------------------------------------------------------------- */

static char web_dir[] = "/tmp/medhub-test-web-XXXXXX";
static char outside_dir[] = "/tmp/medhub-test-outside-XXXXXX";

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void client_static(struct fx *f)
{
    struct cli c;
    struct resp r;
    char etag[128], v[128];
    cli_open(&c, f->port);
    cli_send(&c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 200, "index: %d", r.status);
    CHECK(f, !strcmp(r.body, "<p>index</p>"), "index body %s", r.body);
    CHECK(f,
          header_value(&r, "Content-Type", v, sizeof(v)) && !strcmp(v, "text/html; charset=utf-8"),
          "index type %s", r.head);
    CHECK(f, header_value(&r, "ETag", etag, sizeof(etag)) && etag[0] == '"', "no ETag");
    CHECK(f, header_value(&r, "Cache-Control", v, sizeof(v)) && !strcmp(v, "no-cache"),
          "static Cache-Control: %s", r.head);
    resp_free(&r);
    char req[512];
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"x\", W/%s\r\n\r\n",
             etag);
    cli_send(&c, req);
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 304, "want 304: %d", r.status);
    CHECK(f, !strstr(r.head, "Content-Length"), "304 with a length");
    CHECK(f, strstr(r.head, "X-Frame-Options: DENY"), "304 without security headers");
    resp_free(&r);
    /* The big script compresses; a client that refuses gzip gets it plain. */
    cli_send(&c, "GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br, gzip;q=0.5\r\n\r\n"
                 "GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip;q=0\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 200, "app.js gz");
    CHECK(f, strstr(r.head, "Content-Encoding: gzip"), "not gzipped: %s", r.head);
    CHECK(f, strstr(r.head, "Vary: Accept-Encoding"), "no Vary");
    CHECK(f, r.body_len < 2000 && (uint8_t)r.body[0] == 0x1f, "gzip body %zu", r.body_len);
    resp_free(&r);
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 200, "app.js plain");
    CHECK(f, !strstr(r.head, "Content-Encoding") && r.body_len == 8000, "plain: %zu", r.body_len);
    CHECK(f,
          header_value(&r, "Content-Type", v, sizeof(v)) &&
              !strcmp(v, "text/javascript; charset=utf-8"),
          "js type");
    resp_free(&r);
    /* Directories: /sub redirects to /sub/, which serves sub/index.html. */
    cli_send(&c, "GET /sub HTTP/1.1\r\nHost: t\r\n\r\nGET /sub/ HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 301, "want 301: %d", r.status);
    CHECK(f, header_value(&r, "Location", v, sizeof(v)) && !strcmp(v, "/sub/"), "Location");
    resp_free(&r);
    CHECK(f, cli_response(&c, &r, false) == 0 && !strcmp(r.body, "sub"), "sub index");
    resp_free(&r);
    /* Never outside the root: a symlink out, a dotfile, traversal spelled every way. */
    static const char *const no[] = {"/link.txt", "/.secret", "/nothing.js", "/linkdir/x.txt"};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", no[i]);
        cli_send(&c, req);
        CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 404, "%s: %d", no[i], r.status);
        CHECK(f, !strstr(r.body, "outside"), "%s leaked", no[i]);
        resp_free(&r);
    }
    static const char *const bad[] = {"/../outside.txt", "/%2e%2e/outside.txt",
                                      "/sub/..%2f..%2foutside.txt", "/sub%5c..%5cindex.html"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", bad[i]);
        cli_send(&c, req);
        CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 400, "%s: %d", bad[i], r.status);
        CHECK(f, !strstr(r.body, "outside"), "%s leaked", bad[i]);
        resp_free(&r);
        /* A 400 on the path closes the connection. */
        cli_close(&c);
        cli_open(&c, f->port);
    }
    /* Other methods on the catch-all: 404, not 405. */
    cli_send(&c, "DELETE /app.js HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(f, cli_response(&c, &r, false) == 0 && r.status == 404, "DELETE: %d", r.status);
    resp_free(&r);
    cli_close(&c);
}

static void test_server_static_files(void **state)
{
    assert_non_null(mkdtemp(web_dir));
    assert_non_null(mkdtemp(outside_dir));
    put(web_dir, "index.html", "<p>index</p>");
    char js[8001];
    for (int i = 0; i < 8000; i++)
        js[i] = "let a = 1;\n"[i % 11];
    js[8000] = '\0';
    put(web_dir, "app.js", js);
    put(web_dir, ".secret", "outside secret");
    char sub[512], link[512], target[512];
    snprintf(sub, sizeof(sub), "%s/sub", web_dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    put(sub, "index.html", "sub");
    put(outside_dir, "outside.txt", "outside");
    put(outside_dir, "x.txt", "outside");
    snprintf(target, sizeof(target), "%s/outside.txt", outside_dir);
    snprintf(link, sizeof(link), "%s/link.txt", web_dir);
    assert_int_equal(symlink(target, link), 0);
    snprintf(link, sizeof(link), "%s/linkdir", web_dir);
    assert_int_equal(symlink(outside_dir, link), 0);
    struct fx f = {.web_root = web_dir};
    run(&f, client_static);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", web_dir, outside_dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_pipelining_in_order),
        cmocka_unit_test(test_server_async_client_gone),
        cmocka_unit_test(test_server_stream_and_on_close),
        cmocka_unit_test(test_server_stream_congested),
        cmocka_unit_test(test_server_response_larger_than_queue),
        cmocka_unit_test(test_server_slow_reader_dropped),
        cmocka_unit_test(test_server_default_allows_only_public),
        cmocka_unit_test(test_server_authenticator),
        cmocka_unit_test(test_server_continue_and_errors),
        cmocka_unit_test(test_server_timeouts),
        cmocka_unit_test(test_server_static_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

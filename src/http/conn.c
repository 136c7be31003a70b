/*
 * HTTP connections on the loop: input held and parsed one request at a time (pipelined
 * requests wait until the response before them is done, so responses leave in request
 * order), the timers (idle keep-alive, header and body deadlines), 100-continue, dispatch
 * (path, route, authentication, handler) and the exchange's lifetime.
 *
 * Lifetime: a struct http__conn is reference counted. net holds one reference until its
 * on_close, the timer one until its close callback, and a live exchange one from dispatch
 * until it is finished; so an async handler that answers after the client left still finds
 * its exchange (marked closed) and the request it points to, and its answer only releases.
 * Reading goes on while a request is being answered (up to HTTP__IN_HOLD bytes held), so a
 * client that leaves is noticed and the handler told through http_exchange_on_close.
 * Layer: http (front end over net). Thread: loop.
 */
#include "core/err.h"
#include "core/mem.h"
#include "http/http_int.h"

#include <inttypes.h>
#include <string.h>

static void process_input(struct http__conn *c);

void http__conn_ref(struct http__conn *c)
{
    c->refs++;
}

static void conn_free(struct http__conn *c)
{
    http_req_parser_free(c->parser);
    free(c->in);
    http_buf_release(&c->hdr);
    http_buf_release(&c->x.extra);
    c->hs->live_conns--;
    free(c);
}

void http__conn_unref(struct http__conn *c)
{
    assert(c->refs > 0);
    if (--c->refs == 0)
        conn_free(c);
}

static void update_reading(struct http__conn *c)
{
    if (!c->nc || c->closing)
        return;
    bool want = c->in_len - c->in_off < HTTP__IN_HOLD;
    if (want && c->paused) {
        c->paused = false;
        net_conn_resume(c->nc);
    } else if (!want && !c->paused) {
        c->paused = true;
        net_conn_pause(c->nc);
    }
}

/* ---- timers ------------------------------------------------------------------------------ */

static void on_timer(uv_timer_t *t);

void http__conn_arm(struct http__conn *c, enum http__phase ph)
{
    const struct http_server *hs = c->hs;
    c->phase = ph;
    c->kick = false;
    uint32_t ms = 0;
    switch (ph) {
    case HTTP__PH_IDLE:
    case HTTP__PH_SEND:
        ms = hs->idle_timeout_ms;
        break;
    case HTTP__PH_HEADERS:
        ms = hs->header_timeout_ms;
        break;
    case HTTP__PH_BODY:
        ms = hs->body_timeout_ms;
        break;
    case HTTP__PH_BUSY:
        uv_timer_stop(&c->timer);
        return;
    }
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *t)
{
    struct http__conn *c = t->data;
    if (!c->nc || c->closing)
        return;
    if (c->kick) {
        c->kick = false;
        process_input(c);
        return;
    }
    switch (c->phase) {
    case HTTP__PH_IDLE:
        c->hs->stats.timeouts++;
        log_debug(&c->lc, "http", "closing idle connection", "peer=%s", net_conn_peer(c->nc));
        c->closing = true;
        net_conn_close(c->nc);
        break;
    case HTTP__PH_HEADERS:
    case HTTP__PH_BODY:
        c->hs->stats.timeouts++;
        log_debug(&c->lc, "http", "closing connection: request too slow", "peer=%s phase=%s",
                  net_conn_peer(c->nc), c->phase == HTTP__PH_BODY ? "body" : "headers");
        if (http_req_parser_started(c->parser)) {
            http__conn_error_close(c, 408, "request_timeout", "the request did not arrive in time");
        } else {
            c->closing = true;
            net_conn_close(c->nc);
        }
        break;
    case HTTP__PH_SEND:
        /* A client that stopped reading a large response (slow read). */
        c->hs->stats.timeouts++;
        log_debug(&c->lc, "http", "closing connection: client stopped reading",
                  "peer=%s queued=%zu", net_conn_peer(c->nc), net_conn_write_queued(c->nc));
        c->closing = true;
        net_conn_abort(c->nc);
        break;
    case HTTP__PH_BUSY:
        break;
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    http__conn_unref(h->data);
}

/* ---- input --------------------------------------------------------------------------------- */

/* Holds len bytes of input. Returns 0 or -ENOMEM / HX_ETOOBIG. */
static int hold(struct http__conn *c, const uint8_t *p, size_t len)
{
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    } else if (c->in_off > 0 && c->in_cap - c->in_len < len) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_cap - c->in_len < len) {
        /* At most HTTP__IN_HOLD plus one read: reading pauses at HTTP__IN_HOLD. */
        size_t cap = c->in_len + len;
        if (cap < 4096)
            cap = 4096;
        void *mem;
        int rc = hx_try_alloc(&mem, cap, 4 * HTTP__IN_HOLD);
        if (rc < 0)
            return rc;
        if (c->in_len)
            memcpy(mem, c->in, c->in_len);
        free(c->in);
        c->in = mem;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, p, len);
    c->in_len += len;
    return 0;
}

static void parse_failed(struct http__conn *c)
{
    enum http_parse_err e = http_req_parser_error(c->parser);
    int status = http_parse_err_status(e);
    c->hs->stats.parse_errors++;
    log_debug(&c->lc, "http", "refusing request", "peer=%s status=%d why=%s", net_conn_peer(c->nc),
              status, http_parse_err_code(e));
    http__conn_error_close(c, status, http_parse_err_code(e), http_parse_err_message(e));
}

/* The header section is in and passed the parser's checks. RFC 9110 10.1.1: Expect has one
 * defined value; anything else gets 417. 100-continue is honoured when a body is due. */
static bool headers_ready(struct http__conn *c, bool complete)
{
    const struct http_request *r = http_req_parser_request(c->parser);
    if (r->has_expect && !r->expect_continue) {
        http__conn_error_close(c, 417, "expectation_failed",
                               "only 'Expect: 100-continue' is supported");
        return false;
    }
    if (!complete && r->expect_continue && !c->sent_continue) {
        c->sent_continue = true;
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        net_conn_write(c->nc, cont, sizeof(cont) - 1);
    }
    return true;
}

/* Parses held input while no request is in progress; dispatches each complete request. */
static void process_input(struct http__conn *c)
{
    if (c->processing)
        return;
    c->processing = true;
    http__conn_ref(c);
    while (c->nc && !c->closing && c->x.state == HTTP__X_IDLE && !c->wait_drain &&
           c->in_off < c->in_len) {
        if (net_conn_write_queued(c->nc) > c->hs->write_queue / 2) {
            /* The client is not reading its responses: the next one waits for on_drain
             * (and the idle timeout guards the wait). */
            c->wait_drain = true;
            http__conn_arm(c, HTTP__PH_IDLE);
            break;
        }
        bool had_headers = http_req_parser_headers_done(c->parser);
        size_t used = 0;
        int rc = http_req_parse(c->parser, c->in + c->in_off, c->in_len - c->in_off, &used);
        c->in_off += used;
        if (rc != 0 && rc != HX_ENEEDMORE) {
            parse_failed(c);
            break;
        }
        if (c->phase == HTTP__PH_IDLE && http_req_parser_started(c->parser))
            http__conn_arm(c, HTTP__PH_HEADERS);
        if (!had_headers && http_req_parser_headers_done(c->parser)) {
            if (!headers_ready(c, rc == 0))
                break;
            if (rc != 0)
                http__conn_arm(c, HTTP__PH_BODY);
        }
        if (rc == HX_ENEEDMORE)
            break;
        http__dispatch(c);
    }
    if (c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
    update_reading(c);
    c->processing = false;
    http__conn_unref(c);
}

static void on_data(struct net_conn *nc, void *user, const uint8_t *p, size_t len)
{
    struct http__conn *c = user;
    if (c->closing)
        return;
    if (hold(c, p, len) < 0) {
        log_warn(&c->lc, "http", "closing connection: cannot hold input", "bytes=%zu", len);
        c->closing = true;
        net_conn_abort(nc);
        return;
    }
    process_input(c);
}

static void on_drain(struct net_conn *nc, void *user)
{
    struct http__conn *c = user;
    if (c->x.state == HTTP__X_SENDING) {
        http__x_send_more(&c->x);
    } else if (c->wait_drain) {
        c->wait_drain = false;
        process_input(c);
    }
}

static void on_close(struct net_conn *nc, void *user, int status)
{
    struct http__conn *c = user;
    struct http_server *hs = c->hs;
    http__conn_ref(c); /* callbacks below may finish the exchange */
    c->nc = NULL;
    c->closing = true;
    if (c->lctx->tls)
        hs->stats.open_tls--;
    else
        hs->stats.open_plain--;
    struct http_exchange *x = &c->x;
    if (x->state != HTTP__X_IDLE && !x->closed) {
        x->closed = true;
        if (x->state == HTTP__X_SENDING) {
            http__x_finish(x);
        } else {
            hs->stats.client_gone++;
            if (x->on_close)
                x->on_close(x, x->on_close_arg);
        }
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    http__conn_unref(c); /* net's reference */
    http__conn_unref(c);
}

static const struct net_handler handler = {
    .on_data = on_data,
    .on_close = on_close,
    .on_drain = on_drain,
};

void http__accept(void *arg, struct net_conn *nc)
{
    const struct http__lctx *lctx = arg;
    struct http_server *hs = lctx->hs;
    struct http__conn *c = hx_xcalloc(1, sizeof(*c));
    c->hs = hs;
    c->lctx = lctx;
    c->nc = nc;
    c->refs = 2; /* net, timer */
    c->parser = http_req_parser_new(&hs->lim);
    c->lc.conn = net_conn_id(nc);
    uv_timer_init(hs->loop, &c->timer);
    c->timer.data = c;
    hs->live_conns++;
    hs->stats.connections++;
    if (lctx->tls)
        hs->stats.open_tls++;
    else
        hs->stats.open_plain++;
    net_conn_set_handler(nc, &handler, c);
    /* The first request's header section is due within the header timeout of the accept:
     * a connection that sends nothing holds a slot no longer than that. */
    http__conn_arm(c, HTTP__PH_HEADERS);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static bool is_public(const struct http__conn *c, const struct http_route *rt)
{
    if (rt->flags & HTTP_ROUTE_PUBLIC)
        return true;
    return (rt->flags & HTTP_ROUTE_LOOPBACK_PUBLIC) && !c->lctx->tls && c->lctx->loopback;
}

static void run_handler(struct http_exchange *x)
{
    x->state = HTTP__X_HANDLER;
    x->route->fn(x, x->route->arg);
}

void http__dispatch(struct http__conn *c)
{
    struct http_server *hs = c->hs;
    struct http_exchange *x = &c->x;
    const struct http_request *req = http_req_parser_request(c->parser);
    http__conn_ref(c); /* the exchange's */
    http__conn_arm(c, HTTP__PH_BUSY);
    x->c = c;
    x->req = req;
    x->state = HTTP__X_HANDLER;
    x->start_ns = uv_hrtime();
    x->lc = c->lc;
    x->lc.req = ++hs->next_req;
    x->head = req->method == HTTP_METH_HEAD;
    x->close_after = !req->keep_alive || hs->stopping;
    x->counts = &hs->counts_none;

    int rc = http_path_split((const char *)req->path.ptr, req->path.len, &x->path);
    if (rc < 0) {
        x->close_after = true;
        if (rc == HX_ETOOBIG)
            http_error(x, 414, "uri_too_long", "the path has too many segments");
        else
            http_error(x, 400, "bad_path", "malformed path");
        return;
    }
    x->counts = &hs->counts_unmatched;
    enum http_match m = http_router_match(hs->router, req->method, &x->path, &x->match);
    if (m == HTTP_MATCH_NOT_FOUND) {
        http_error(x, 404, "not_found", "no such resource");
        return;
    }
    if (m == HTTP_MATCH_NOT_ALLOWED) {
        char allow[96];
        http_allow_format(x->match.allow, allow, sizeof(allow));
        http_add_header(x, "Allow", allow);
        if (req->method == HTTP_METH_OPTIONS)
            http_respond(x, 204, NULL, NULL, 0);
        else
            http_error(x, 405, "method_not_allowed", "this method is not allowed here");
        return;
    }
    /* The router owns the route; its counters are ours to bump. */
    struct http_route *rt = (struct http_route *)x->match.route;
    x->route = rt;
    x->counts = &rt->counts;
    if (is_public(c, rt)) {
        run_handler(x);
        return;
    }
    if (!hs->auth) {
        http_error(x, 401, "unauthenticated", "authentication required");
        return;
    }
    x->state = HTTP__X_AUTH;
    int st = hs->auth(hs->auth_arg, x, rt);
    if (st != HTTP_AUTH_PENDING)
        http_auth_resume(x, st);
}

void http_auth_resume(struct http_exchange *x, int status)
{
    if (HX_UNLIKELY_BUG(x->state != HTTP__X_AUTH))
        return;
    x->state = HTTP__X_HANDLER;
    if (x->closed) {
        http__x_finish(x);
        return;
    }
    if (status == HTTP_AUTH_OK)
        run_handler(x);
    else if (status == 401)
        http_error(x, 401, "unauthenticated", "authentication required");
    else if (status == 403)
        http_error(x, 403, "forbidden", "not permitted");
    else if (status >= 400 && status <= 599)
        http_error(x, status, "authentication_failed", "the request could not be authenticated");
    else
        http_error(x, 500, "internal", "authentication failed");
}

void http__x_finish(struct http_exchange *x)
{
    struct http__conn *c = x->c;
    struct http_server *hs = c->hs;
    if (HX_UNLIKELY_BUG(x->state == HTTP__X_IDLE))
        return;
    /* 499: the client went away before any response (nginx's convention). */
    int status = x->status ? x->status : 499;
    http__count(x->counts, status);
    hs->stats.requests++;
    uint64_t us = (uv_hrtime() - x->start_ns) / 1000;
    hx_hist_record(&hs->latency, us);
    const char *route = x->route ? x->route->name : "-";
    const char *meth = http_meth_name(x->req->method);
    if (status >= 500 && status != 503)
        log_warn(&x->lc, "http", "request failed", "method=%s route=%s status=%d us=%" PRIu64, meth,
                 route, status, us);
    else
        log_debug(&x->lc, "http", "request", "method=%s route=%s status=%d us=%" PRIu64, meth,
                  route, status, us);

    bool close = x->close_after || x->closed || c->closing;
    http_path_release(&x->path);
    if (x->query_parsed)
        http_query_release(&x->query);
    for (struct http__chunk *k = x->arena, *next; k; k = next) {
        next = k->next;
        free(k);
    }
    if (x->free_principal)
        x->free_principal(x->principal);
    free(x->rest);
    struct http_buf extra = x->extra; /* keep the allocation for the next request */
    extra.len = 0;
    memset(x, 0, sizeof(*x));
    x->extra = extra;
    x->state = HTTP__X_IDLE;
    http_req_parser_reset(c->parser);
    c->sent_continue = false;

    if (c->nc && !c->closing) {
        if (close) {
            c->closing = true;
            net_conn_close(c->nc);
        } else {
            http__conn_arm(c, HTTP__PH_IDLE);
            if (!c->processing && c->in_off < c->in_len) {
                /* A pipelined request is waiting: take it from the loop, not from inside
                 * the caller (an async completion must not re-enter another handler). */
                c->kick = true;
                uv_timer_start(&c->timer, on_timer, 0, 0);
            }
            update_reading(c);
        }
    }
    http__conn_unref(c); /* the exchange's */
}

/* ---- exchange accessors -------------------------------------------------------------------- */

const struct http_request *http_exchange_request(const struct http_exchange *x)
{
    return x->req;
}

const struct http_path *http_exchange_path(const struct http_exchange *x)
{
    return &x->path;
}

const char *http_exchange_param(const struct http_exchange *x, const char *name)
{
    const struct http_route *rt = x->route;
    if (!rt)
        return NULL;
    for (uint32_t i = 0; i < rt->n_params; i++)
        if (strcmp(rt->seg[rt->param_pos[i]], name) == 0)
            return x->path.seg[x->match.param_seg[i]];
    return NULL;
}

int http_exchange_query(struct http_exchange *x, const struct http_query **out)
{
    if (!x->query_parsed) {
        x->query_rc =
            http_query_parse((const char *)x->req->query.ptr, x->req->query.len, &x->query);
        x->query_parsed = true;
    }
    *out = &x->query;
    return x->query_rc;
}

const struct http_route *http_exchange_route(const struct http_exchange *x)
{
    return x->route;
}

bool http_exchange_is_tls(const struct http_exchange *x)
{
    return x->c->lctx->tls;
}

bool http_exchange_is_loopback_plain(const struct http_exchange *x)
{
    return !x->c->lctx->tls && x->c->lctx->loopback;
}

const char *http_exchange_peer(const struct http_exchange *x)
{
    return x->c->nc ? net_conn_peer(x->c->nc) : "-";
}

const struct log_ctx *http_exchange_log_ctx(const struct http_exchange *x)
{
    return &x->lc;
}

bool http_exchange_is_closed(const struct http_exchange *x)
{
    return x->closed;
}

void http_exchange_on_close(struct http_exchange *x, http_close_fn *fn, void *arg)
{
    x->on_close = fn;
    x->on_close_arg = arg;
}

void http_exchange_set_principal(struct http_exchange *x, void *principal, void (*free_fn)(void *))
{
    if (x->free_principal)
        x->free_principal(x->principal);
    x->principal = principal;
    x->free_principal = free_fn;
}

void *http_exchange_principal(const struct http_exchange *x)
{
    return x->principal;
}

void *http_exchange_alloc(struct http_exchange *x, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    size = (size + align - 1) / align * align;
    struct http__chunk *k = x->arena;
    if (!k || k->cap - k->used < size) {
        size_t cap = size > 4000 ? size : 4000;
        k = hx_xmalloc(sizeof(*k) + cap);
        k->cap = cap;
        k->used = 0;
        k->next = x->arena;
        x->arena = k;
    }
    void *p = (char *)k->data + k->used;
    k->used += size;
    return p;
}

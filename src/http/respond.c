/*
 * Responses: the status line and headers every response carries (security headers, Date,
 * Server, framing, Connection), fixed-length bodies (sent in pieces when larger than the
 * write queue), JSON and error bodies, and streams (chunked, or close-delimited for
 * HTTP/1.0) for server-sent events.
 * Layer: http. Thread: loop.
 */
#include "core/err.h"
#include "core/mem.h"
#include "http/http_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Sent on every response (docs/http.md). No inline script anywhere: the web UI loads its
 * modules from files. */
static const char security_headers[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n";
/* HTTPS only (RFC 6797 7.2: not over plain HTTP). One year. */
static const char hsts_header[] = "Strict-Transport-Security: max-age=31536000\r\n";

/* ---- http_buf --------------------------------------------------------------------------- */

static void buf_reserve(struct http_buf *b, size_t more)
{
    if (b->cap - b->len > more)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= more)
        cap *= 2;
    b->ptr = hx_xrealloc(b->ptr, cap);
    b->cap = cap;
}

void http_buf_append(struct http_buf *b, const void *p, size_t len)
{
    buf_reserve(b, len);
    if (len)
        memcpy(b->ptr + b->len, p, len);
    b->len += len;
    b->ptr[b->len] = '\0';
}

void http_buf_printf(struct http_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        http_buf_append(b, small, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void http_buf_release(struct http_buf *b)
{
    HX_FREE(b->ptr);
    b->len = b->cap = 0;
}

/* ---- headers ------------------------------------------------------------------------------ */

const char *http__reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* No body and no Content-Length: RFC 9110 15.2, 15.3.5, 15.4.5. */
static bool status_has_no_body(int status)
{
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

void http__build_headers(struct http__conn *c, struct http_exchange *x, int status,
                         const char *content_type, long long body_len, bool stream)
{
    struct http_buf *b = &c->hdr;
    b->len = 0;
    http_buf_printf(b, "HTTP/1.1 %d %s\r\n", status, http__reason(status));
    const char *date = http__date(c->hs);
    http_buf_append(b, date, strlen(date));
    http_buf_append(b, "Server: medhub\r\n", 16);
    if (content_type && !status_has_no_body(status))
        http_buf_printf(b, "Content-Type: %s\r\n", content_type);
    if (stream) {
        if (x && x->chunked)
            http_buf_append(b, "Transfer-Encoding: chunked\r\n", 28);
    } else if (body_len >= 0 && !status_has_no_body(status)) {
        http_buf_printf(b, "Content-Length: %lld\r\n", body_len);
    }
    bool close = !x || x->close_after;
    if (close)
        http_buf_append(b, "Connection: close\r\n", 19);
    else if (x->req && x->req->version_minor == 0)
        http_buf_append(b, "Connection: keep-alive\r\n", 24);
    http_buf_append(b, security_headers, sizeof(security_headers) - 1);
    if (c->lctx->tls)
        http_buf_append(b, hsts_header, sizeof(hsts_header) - 1);
    if (!x || !x->has_cache_control)
        http_buf_append(b, "Cache-Control: no-store\r\n", 25);
    if (x && x->extra.len)
        http_buf_append(b, x->extra.ptr, x->extra.len);
    http_buf_append(b, "\r\n", 2);
}

void http__error_body(struct http_buf *b, const char *code, const char *message)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code ? code : "error", "message",
                          message ? message : "");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (s)
        http_buf_append(b, s, strlen(s));
    else
        http_buf_append(b, "{\"error\":{\"code\":\"error\",\"message\":\"\"}}", 39);
    free(s);
    json_decref(j);
}

int http_add_header(struct http_exchange *x, const char *name, const char *value)
{
    if (x->state != HTTP__X_AUTH && x->state != HTTP__X_HANDLER)
        return HX_ESHUTDOWN;
    if (!*name || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return HX_EINVAL;
    http_buf_printf(&x->extra, "%s: %s\r\n", name, value);
    if (strcasecmp(name, "Cache-Control") == 0)
        x->has_cache_control = true;
    return 0;
}

/* ---- fixed responses ----------------------------------------------------------------------- */

static size_t queue_space(const struct http__conn *c)
{
    size_t q = net_conn_write_queued(c->nc);
    return q < c->hs->write_queue ? c->hs->write_queue - q : 0;
}

/* Queues as much of the held body as the write queue takes; finishes x when all is queued. */
void http__x_send_more(struct http_exchange *x)
{
    struct http__conn *c = x->c;
    if (x->closed || !c->nc) {
        http__x_finish(x);
        return;
    }
    /* Fill the queue up to its cap: net's on_drain fires once it has passed a quarter of the
     * cap and fallen back below it, which calls this again. */
    while (x->rest_off < x->rest_len) {
        size_t n = x->rest_len - x->rest_off;
        if (n > HTTP__SEND_PIECE)
            n = HTTP__SEND_PIECE;
        size_t space = queue_space(c);
        if (n > space)
            n = space;
        if (n == 0)
            return;
        if (net_conn_write(c->nc, x->rest + x->rest_off, n) < 0) {
            x->close_after = true;
            break;
        }
        x->rest_off += n;
        http__conn_arm(c, HTTP__PH_SEND); /* progress: the client reads */
    }
    http__x_finish(x);
}

int http_respond(struct http_exchange *x, int status, const char *content_type, const void *body,
                 size_t len)
{
    if (HX_UNLIKELY_BUG(x->state != HTTP__X_HANDLER && x->state != HTTP__X_AUTH))
        return HX_EINVAL;
    struct http__conn *c = x->c;
    if (x->closed || !c->nc) {
        http__x_finish(x); /* counted as 499: the client went first */
        return HX_ESHUTDOWN;
    }
    x->status = status;
    if (status_has_no_body(status))
        len = 0;
    http__build_headers(c, x, status, content_type, (long long)len, false);
    size_t send = x->head ? 0 : len;
    uv_buf_t bufs[2] = {uv_buf_init(c->hdr.ptr, (unsigned)c->hdr.len),
                        uv_buf_init((char *)body, 0)};
    size_t space = queue_space(c);
    size_t now = send;
    if (c->hdr.len + send > space)
        now = space > c->hdr.len ? space - c->hdr.len : 0;
    bufs[1].len = now;
    if (send > now) {
        /* Too big for the queue now: hold the rest and send it as the client reads. */
        void *mem;
        if (send - now > HTTP__RESPONSE_MAX ||
            hx_try_alloc(&mem, send - now, HTTP__RESPONSE_MAX) < 0) {
            log_warn(&x->lc, "http", "closing connection: response too large to hold", "bytes=%zu",
                     send);
            x->close_after = true;
            net_conn_abort(c->nc);
            http__x_finish(x);
            return HX_ETOOBIG;
        }
        memcpy(mem, (const uint8_t *)body + now, send - now);
        x->rest = mem;
        x->rest_len = send - now;
        x->rest_off = 0;
    }
    int rc = net_conn_writev(c->nc, bufs, now ? 2 : 1);
    if (rc < 0) {
        /* The queue is over its cap even for the headers: the client reads nothing. */
        log_warn(&x->lc, "http", "closing connection: write queue full", "queued=%zu",
                 net_conn_write_queued(c->nc));
        x->close_after = true;
        net_conn_abort(c->nc);
        http__x_finish(x);
        return rc;
    }
    if (x->rest) {
        x->state = HTTP__X_SENDING;
        http__conn_arm(c, HTTP__PH_SEND);
        return 0;
    }
    http__x_finish(x);
    return 0;
}

int http_respond_json(struct http_exchange *x, int status, const json_t *json)
{
    char *s = json_dumps(json, JSON_COMPACT);
    if (!s)
        return http_error(x, 500, "internal", "cannot encode the response");
    int rc = http_respond(x, status, "application/json", s, strlen(s));
    free(s);
    return rc;
}

int http_error(struct http_exchange *x, int status, const char *code, const char *message)
{
    struct http_buf b = {0};
    http__error_body(&b, code, message);
    if (status == 401 && !x->closed)
        http_add_header(x, "WWW-Authenticate", "Bearer realm=\"medhub\"");
    int rc = http_respond(x, status, "application/json", b.ptr, b.len);
    http_buf_release(&b);
    return rc;
}

void http__conn_error_close(struct http__conn *c, int status, const char *code, const char *message)
{
    c->closing = true;
    http__count(&c->hs->counts_none, status);
    c->hs->stats.requests++;
    if (!c->nc)
        return;
    struct http_buf body = {0};
    http__error_body(&body, code, message);
    http__build_headers(c, NULL, status, "application/json", (long long)body.len, false);
    uv_buf_t bufs[2] = {uv_buf_init(c->hdr.ptr, (unsigned)c->hdr.len),
                        uv_buf_init(body.ptr, (unsigned)body.len)};
    net_conn_writev(c->nc, bufs, 2);
    http_buf_release(&body);
    net_conn_close(c->nc);
}

/* ---- streams ------------------------------------------------------------------------------- */

int http_stream_begin(struct http_exchange *x, int status, const char *content_type)
{
    if (x->state != HTTP__X_HANDLER)
        return HX_EINVAL;
    struct http__conn *c = x->c;
    x->status = status;
    c->hs->stats.streams++;
    if (x->closed || !c->nc) {
        x->state = HTTP__X_STREAMING;
        return HX_ESHUTDOWN;
    }
    if (x->req->version_minor >= 1)
        x->chunked = true;
    else
        x->close_after = true;                     /* HTTP/1.0: the body ends with the connection */
    http_add_header(x, "X-Accel-Buffering", "no"); /* proxies: do not hold events back */
    x->state = HTTP__X_STREAMING;
    http__build_headers(c, x, status, content_type, -1, true);
    if (net_conn_write(c->nc, c->hdr.ptr, c->hdr.len) < 0) {
        net_conn_abort(c->nc);
        return HX_ESHUTDOWN;
    }
    return 0;
}

int http_stream_write(struct http_exchange *x, const void *p, size_t len)
{
    if (x->state != HTTP__X_STREAMING)
        return HX_EINVAL;
    struct http__conn *c = x->c;
    if (x->closed || !c->nc)
        return HX_ESHUTDOWN;
    if (x->head || len == 0)
        return 0;
    if (len > UINT32_MAX)
        return HX_ETOOBIG;
    if (!x->chunked)
        return net_conn_write(c->nc, p, len);
    char size_line[24];
    int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", len);
    uv_buf_t bufs[3] = {uv_buf_init(size_line, (unsigned)n), uv_buf_init((char *)p, (unsigned)len),
                        uv_buf_init("\r\n", 2)};
    return net_conn_writev(c->nc, bufs, 3);
}

size_t http_stream_queued(const struct http_exchange *x)
{
    return x->closed || !x->c->nc ? 0 : net_conn_write_queued(x->c->nc);
}

bool http_stream_is_congested(const struct http_exchange *x)
{
    return http_stream_queued(x) > x->c->hs->stream_queue;
}

void http_stream_end(struct http_exchange *x)
{
    if (HX_UNLIKELY_BUG(x->state != HTTP__X_STREAMING && x->state != HTTP__X_HANDLER))
        return;
    struct http__conn *c = x->c;
    if (x->state == HTTP__X_HANDLER) {
        /* Ended before it began (the client left first): nothing was sent. */
        x->close_after = true;
    } else if (!x->closed && c->nc && x->chunked && !x->head) {
        if (net_conn_write(c->nc, "0\r\n\r\n", 5) < 0)
            x->close_after = true;
    }
    http__x_finish(x);
}

void http_stream_abort(struct http_exchange *x)
{
    if (HX_UNLIKELY_BUG(x->state != HTTP__X_STREAMING && x->state != HTTP__X_HANDLER))
        return;
    struct http__conn *c = x->c;
    x->close_after = true;
    c->closing = true;
    if (c->nc && !x->closed)
        net_conn_abort(c->nc);
    http__x_finish(x);
}

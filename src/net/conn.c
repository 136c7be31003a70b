/*
 * Connections on the loop: reading (with pause/resume), the per-connection write queue (one
 * copied uv_write request per write, capped in bytes), orderly close (flush, FIN, 2 s cap) and
 * abort. A connection is freed only in the close callback of its last libuv handle, after
 * on_close has run, so no callback ever sees freed memory.
 * Layer: net. Thread: loop.
 */
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/net_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* A queued write: the request and its bytes in one allocation, freed in the write callback. */
struct net_wreq {
    uv_write_t req;     /* libuv request; req.data unused */
    struct net_conn *c; /* owner */
    size_t len;         /* bytes in data */
    uint8_t data[];     /* copy of the caller's bytes (ciphertext for TLS) */
};

static uint64_t next_conn_id = 1;

static void do_close(struct net_conn *c, int status);

void net__conn_warn(const struct net_conn *c, const char *msg, const char *detail)
{
    struct log_ctx ctx = {.conn = c->id};
    if (detail)
        log_warn(&ctx, "net", msg, "name=%s peer=%s detail=\"%s\"", c->l->label, c->peer, detail);
    else
        log_warn(&ctx, "net", msg, "name=%s peer=%s", c->l->label, c->peer);
}

static bool wants_read(const struct net_conn *c)
{
    switch (c->state) {
    case NET_CONN_HANDSHAKE:
    case NET_CONN_CLOSING: /* read and discard: unread input would turn close() into a RST */
        return true;
    case NET_CONN_OPEN:
        return !c->paused;
    case NET_CONN_CLOSED:
        break;
    }
    return false;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct net_conn *c = h->data;
    /* One buffer per listener is enough: libuv runs alloc, read and the read callback back to
     * back for one stream, and front ends copy what they keep. */
    *buf = uv_buf_init((char *)c->l->read_buf, sizeof(c->l->read_buf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void update_reading(struct net_conn *c)
{
    bool want = !c->eof && wants_read(c);
    if (want && !c->reading) {
        int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (rc == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct net_conn *c = h->data;
    if (--c->n_handles > 0)
        return;
    struct net_listener *l = c->l;
    struct log_ctx ctx = {.conn = c->id};
    log_debug(&ctx, "net", "connection closed", "name=%s peer=%s status=%d", l->label, c->peer,
              c->status);
    if (c->has_handler)
        c->h.on_close(c, c->user, c->status);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    l->n_conns--;
    net__tls_conn_release(c);
    free(c->peer_cn);
    free(c);
    net__listener_maybe_free(l);
}

/* Closes every handle now; queued writes are cancelled. on_close runs from the last close
 * callback, never from here. */
static void do_close(struct net_conn *c, int status)
{
    if (c->state == NET_CONN_CLOSED)
        return;
    if (c->status == 0)
        c->status = status;
    c->state = NET_CONN_CLOSED;
    c->reading = false;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct net_conn *c = req->handle->data;
    do_close(c, 0);
}

/* Orderly close, second half: once every queued byte has left, send FIN, then close. */
static void maybe_finish_close(struct net_conn *c)
{
    if (c->state != NET_CONN_CLOSING || c->queued > 0 || c->shutting_down)
        return;
    c->shutting_down = true;
    if (c->eof || uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        do_close(c, 0);
}

static void on_timer(uv_timer_t *t)
{
    struct net_conn *c = t->data;
    switch (c->state) {
    case NET_CONN_HANDSHAKE:
        net__conn_warn(c, "tls handshake timed out", NULL);
        do_close(c, -ETIMEDOUT);
        break;
    case NET_CONN_CLOSING: {
        struct log_ctx ctx = {.conn = c->id};
        log_warn(&ctx, "net", "closing without flushing: peer not reading",
                 "name=%s peer=%s queued=%zu", c->l->label, c->peer, c->queued);
        do_close(c, -ETIMEDOUT);
        break;
    }
    case NET_CONN_OPEN:
        net__tls_pump(c); /* resume: deliver plaintext OpenSSL already holds */
        break;
    case NET_CONN_CLOSED:
        break;
    }
}

/* Orderly close, first half. From the handshake state too, so that a TLS alert the handshake
 * produced still reaches the peer. */
static void begin_close(struct net_conn *c, int status)
{
    if (c->state != NET_CONN_OPEN && c->state != NET_CONN_HANDSHAKE)
        return;
    c->state = NET_CONN_CLOSING;
    if (c->status == 0)
        c->status = status;
    c->drain_armed = false;
    if (c->ssl)
        net__tls_shutdown(c);
    if (c->state != NET_CONN_CLOSING)
        return;
    uv_timer_start(&c->timer, on_timer, NET_CLOSE_FLUSH_MS, 0);
    update_reading(c);
    maybe_finish_close(c);
}

void net__conn_fail(struct net_conn *c, int status)
{
    do_close(c, status);
}

void net__conn_fail_flush(struct net_conn *c, int status)
{
    begin_close(c, status);
}

void net__conn_peer_closed(struct net_conn *c)
{
    c->eof = true;
    if (c->state == NET_CONN_CLOSING)
        maybe_finish_close(c);
    else
        begin_close(c, 0);
}

void net__conn_deliver(struct net_conn *c, const uint8_t *p, size_t len)
{
    if (c->state == NET_CONN_OPEN && c->has_handler && len > 0)
        c->h.on_data(c, c->user, p, len);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct net_conn *c = s->data;
    if (nread == 0 || c->state == NET_CONN_CLOSED)
        return;
    if (nread < 0) {
        c->reading = false; /* libuv stops reading after EOF and errors */
        if (nread == UV_EOF) {
            net__conn_peer_closed(c);
            return;
        }
        struct log_ctx ctx = {.conn = c->id};
        log_debug(&ctx, "net", "read failed", "name=%s peer=%s error=\"%s\"", c->l->label, c->peer,
                  uv_strerror((int)nread));
        c->eof = true;
        do_close(c, (int)nread);
        return;
    }
    if (c->state == NET_CONN_CLOSING)
        return; /* discarded: the front end is done with this connection */
    if (c->ssl)
        net__tls_on_cipher(c, (const uint8_t *)buf->base, (size_t)nread);
    else
        net__conn_deliver(c, (const uint8_t *)buf->base, (size_t)nread);
}

static void on_write(uv_write_t *req, int status)
{
    struct net_wreq *w = (struct net_wreq *)req;
    struct net_conn *c = w->c;
    c->queued -= w->len;
    free(w);
    if (status < 0) {
        if (status != UV_ECANCELED && c->state != NET_CONN_CLOSED) {
            struct log_ctx ctx = {.conn = c->id};
            log_debug(&ctx, "net", "write failed", "name=%s peer=%s error=\"%s\"", c->l->label,
                      c->peer, uv_strerror(status));
            do_close(c, status);
        }
        return;
    }
    if (c->state == NET_CONN_OPEN && c->drain_armed && c->queued <= c->l->max_write_queue / 4) {
        c->drain_armed = false;
        if (c->has_handler && c->h.on_drain)
            c->h.on_drain(c, c->user);
    }
    maybe_finish_close(c);
}

int net__queue_raw(struct net_conn *c, const uv_buf_t *bufs, unsigned n_bufs)
{
    size_t total = 0;
    for (unsigned i = 0; i < n_bufs; i++)
        total += bufs[i].len;
    if (total == 0)
        return 0;
    struct net_wreq *w = hx_xmalloc(sizeof(*w) + total);
    w->c = c;
    w->len = total;
    size_t off = 0;
    for (unsigned i = 0; i < n_bufs; i++) {
        if (bufs[i].len)
            memcpy(w->data + off, bufs[i].base, bufs[i].len);
        off += bufs[i].len;
    }
    uv_buf_t ub = uv_buf_init((char *)w->data, (unsigned)total);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, on_write);
    if (rc < 0) {
        free(w);
        return rc;
    }
    c->queued += total;
    if (c->queued > c->l->max_write_queue / 4)
        c->drain_armed = true;
    return 0;
}

struct net_conn *net__conn_alloc(struct net_listener *l)
{
    struct net_conn *c = hx_xcalloc(1, sizeof(*c));
    c->l = l;
    c->id = next_conn_id++;
    snprintf(c->peer, sizeof(c->peer), "?");
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    uv_timer_init(l->loop, &c->timer);
    c->timer.data = c;
    c->n_handles = 2;
    c->state = NET_CONN_OPEN;
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    l->n_conns++;
    return c;
}

static void format_peer(struct net_conn *c)
{
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, ntohs(a->sin_port));
    }
}

void net__conn_accepted(struct net_conn *c)
{
    c->state = NET_CONN_OPEN;
    uv_timer_stop(&c->timer);
    c->l->on_accept(c->l->arg, c);
    if (c->state != NET_CONN_OPEN)
        return; /* closed by the front end */
    if (HX_UNLIKELY_BUG(!c->has_handler)) {
        net__conn_warn(c, "closing connection: front end set no handler", NULL);
        do_close(c, HX_EINVAL);
        return;
    }
    update_reading(c);
}

void net__conn_start(struct net_conn *c)
{
    struct net_listener *l = c->l;
    format_peer(c);
    uv_tcp_nodelay(&c->tcp, 1);
    struct log_ctx ctx = {.conn = c->id};
    log_debug(&ctx, "net", "connection accepted", "name=%s peer=%s", l->label, c->peer);
    if (!l->tls) {
        net__conn_accepted(c);
        return;
    }
    int rc = net__tls_conn_init(c);
    if (rc < 0) {
        net__conn_warn(c, "cannot start tls", hx_strerror(rc));
        do_close(c, rc);
        return;
    }
    c->state = NET_CONN_HANDSHAKE;
    uv_timer_start(&c->timer, on_timer, l->handshake_timeout_ms, 0);
    update_reading(c);
}

void net_conn_set_handler(struct net_conn *c, const struct net_handler *h, void *user)
{
    c->h = *h;
    c->user = user;
    c->has_handler = true;
}

int net_conn_writev(struct net_conn *c, const uv_buf_t *bufs, unsigned n_bufs)
{
    if (c->state != NET_CONN_OPEN)
        return HX_ESHUTDOWN;
    size_t total = 0, max = c->l->max_write_queue;
    for (unsigned i = 0; i < n_bufs; i++) {
        if (bufs[i].len > max - total)
            return HX_ETOOBIG;
        total += bufs[i].len;
    }
    if (c->queued > max - total)
        return HX_ETOOBIG;
    if (c->ssl)
        return net__tls_write(c, bufs, n_bufs);
    return net__queue_raw(c, bufs, n_bufs);
}

int net_conn_write(struct net_conn *c, const void *p, size_t len)
{
    if (len > UINT32_MAX)
        return HX_ETOOBIG;
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
    return net_conn_writev(c, &b, 1);
}

size_t net_conn_write_queued(const struct net_conn *c)
{
    return c->queued;
}

void net_conn_pause(struct net_conn *c)
{
    c->paused = true;
    update_reading(c);
}

void net_conn_resume(struct net_conn *c)
{
    if (!c->paused)
        return;
    c->paused = false;
    update_reading(c);
    /* OpenSSL may hold decrypted records that arrived before the pause: deliver them from
     * the loop, not from inside the caller. */
    if (c->ssl && c->state == NET_CONN_OPEN)
        uv_timer_start(&c->timer, on_timer, 0, 0);
}

void net_conn_close(struct net_conn *c)
{
    begin_close(c, 0);
}

void net_conn_abort(struct net_conn *c)
{
    do_close(c, 0);
}

uint64_t net_conn_id(const struct net_conn *c)
{
    return c->id;
}

const char *net_conn_peer(const struct net_conn *c)
{
    return c->peer;
}

bool net_conn_is_tls(const struct net_conn *c)
{
    return c->ssl != NULL;
}

const char *net_conn_peer_cn(const struct net_conn *c)
{
    return c->peer_cn;
}

/*
 * TCP listeners on the libuv loop: bind an IPv4/IPv6 literal (port 0 lets the OS choose),
 * accept connections up to max_conns and hand each to conn.c; stop closes every connection
 * and frees the listener once its handle and all its connections are gone.
 * Layer: net (below the front ends, above core). Thread: loop.
 */
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/net_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NET_BACKLOG 511

static void on_listener_closed(uv_handle_t *h)
{
    struct net_listener *l = h->data;
    l->tcp_closed = true;
    net__listener_maybe_free(l);
}

void net__listener_maybe_free(struct net_listener *l)
{
    if (l->stopping && l->tcp_closed && l->n_conns == 0) {
        log_debug(NULL, "net", "listener stopped", "name=%s port=%u", l->label, l->port);
        free(l);
    }
}

static void on_refused_closed(uv_handle_t *h)
{
    free(h);
}

/* Accepts and closes at once: keeps the backlog from filling with connections we refuse. */
static void refuse(struct net_listener *l, uv_stream_t *server)
{
    uv_tcp_t *t = hx_xmalloc(sizeof(*t));
    uv_tcp_init(l->loop, t);
    if (uv_accept(server, (uv_stream_t *)t) == 0)
        log_warn(NULL, "net", "refusing connection: too many connections", "name=%s max=%u",
                 l->label, l->max_conns);
    uv_close((uv_handle_t *)t, on_refused_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct net_listener *l = server->data;
    if (status < 0) {
        log_warn(NULL, "net", "accept failed", "name=%s error=\"%s\"", l->label,
                 uv_strerror(status));
        return;
    }
    if (l->stopping)
        return;
    if (l->n_conns >= l->max_conns) {
        l->n_refused++;
        refuse(l, server);
        return;
    }
    struct net_conn *c = net__conn_alloc(l);
    int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (rc < 0) {
        log_warn(NULL, "net", "accept failed", "name=%s error=\"%s\"", l->label, uv_strerror(rc));
        net__conn_fail(c, rc);
        return;
    }
    net__conn_start(c);
}

/* Creates, binds and listens on a non-blocking socket without libuv, so that a failure
 * leaves no handle behind that would need the loop to run before it can be freed. */
static int bind_socket(const struct cfg_addr *a, int *out_fd, char *err, size_t err_len)
{
    struct sockaddr_storage ss;
    int rc;
    if (strchr(a->host, ':'))
        rc = uv_ip6_addr(a->host, a->port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(a->host, a->port, (struct sockaddr_in *)&ss);
    if (rc < 0) {
        snprintf(err, err_len, "listen address '%s': not a numeric IPv4 or IPv6 address", a->host);
        return HX_EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, err_len, "cannot create a socket: %s", hx_strerror(rc));
        return rc;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t sl =
        ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, NET_BACKLOG) < 0) {
        rc = -errno;
        close(fd);
        snprintf(err, err_len, "cannot listen on %s%s%s:%u: %s", strchr(a->host, ':') ? "[" : "",
                 a->host, strchr(a->host, ':') ? "]" : "", a->port, hx_strerror(rc));
        return rc;
    }
    *out_fd = fd;
    return 0;
}

int net_listener_start(struct net_listener **out, uv_loop_t *loop,
                       const struct net_listener_opts *o, char *err, size_t err_len)
{
    *out = NULL;
    if (!o || !o->addr || !o->on_accept || !loop) {
        snprintf(err, err_len, "net_listener_start: missing address or accept callback");
        return HX_EINVAL;
    }
    int fd = -1;
    int rc = bind_socket(o->addr, &fd, err, err_len);
    if (rc < 0)
        return rc;

    struct net_listener *l = hx_xcalloc(1, sizeof(*l));
    l->loop = loop;
    snprintf(l->label, sizeof(l->label), "%s", o->name ? o->name : "net");
    l->tls = o->tls;
    l->on_accept = o->on_accept;
    l->arg = o->arg;
    l->max_conns = o->max_conns ? o->max_conns : 10000;
    l->max_write_queue = o->max_write_queue ? o->max_write_queue : 4u * 1024 * 1024;
    l->handshake_timeout_ms = o->handshake_timeout_ms ? o->handshake_timeout_ms : 10000;
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    rc = uv_tcp_open(&l->tcp, fd);
    if (rc < 0)
        close(fd); /* not adopted by the handle */
    else
        rc = uv_listen((uv_stream_t *)&l->tcp, NET_BACKLOG, on_connection);
    if (rc < 0) {
        /* The handle exists now: it is freed once the loop runs its close callback. */
        snprintf(err, err_len, "cannot listen on %s:%u: %s", o->addr->host, o->addr->port,
                 uv_strerror(rc));
        l->stopping = true;
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return rc;
    }
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &sl) == 0)
        l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    log_info(NULL, "net", "listening", "name=%s addr=%s port=%u tls=%s", l->label, o->addr->host,
             l->port, l->tls ? "on" : "off");
    *out = l;
    return 0;
}

uint16_t net_listener_port(const struct net_listener *l)
{
    return l->port;
}

uint64_t net_listener_refused(const struct net_listener *l)
{
    return l->n_refused;
}

void net_listener_stop(struct net_listener *l)
{
    if (!l || l->stopping)
        return;
    l->stopping = true;
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    /* Closing may unlink c; take next first. Connections still in the TLS handshake were
     * never seen by the front end, so they go at once. */
    for (struct net_conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == NET_CONN_HANDSHAKE)
            net_conn_abort(c);
        else
            net_conn_close(c);
    }
}

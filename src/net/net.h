/*
 * Connections on the loop: TCP listeners and connections, optionally TLS (OpenSSL through
 * memory BIOs, so TLS never blocks and never owns a socket). Front ends (MQTT, HTTP, MLLP)
 * see only plaintext bytes in and out; they never touch libuv streams or SSL objects.
 *
 * Lifetime: a struct net_conn is owned by the net module. The front end attaches its own
 * state with net_conn_set_handler() in its accept callback. net_conn_close() starts an
 * asynchronous close; the on_close handler runs exactly once, later, on the loop, after
 * which the connection pointer is invalid. Never free a connection yourself.
 * Thread: loop, every function.
 */
#ifndef MEDHUB_NET_NET_H
#define MEDHUB_NET_NET_H

#include "core/cfg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct net_conn;
struct net_listener;
struct net_tls; /* a server TLS context (certificate, key, client CA) */

/* Plaintext bytes arrived. They are borrowed for the duration of the call only: a front end
 * that cannot consume them all copies the rest into its own buffer. */
typedef void net_on_data_fn(struct net_conn *c, void *user, const uint8_t *p, size_t len);
/* The connection is gone (peer closed, error, timeout, or net_conn_close). status 0 for an
 * orderly close (also after the front end's own net_conn_close or net_conn_abort), else a
 * negative error (-ECONNRESET, -ETIMEDOUT when a close could not flush in 2 s, -EPROTO for
 * TLS errors). Called exactly once, never from inside a net_* call; c is invalid afterwards.
 * Not called for a connection closed in on_accept before net_conn_set_handler. */
typedef void net_on_close_fn(struct net_conn *c, void *user, int status);
/* A write queue drained below the low-water mark (for front ends that paused producers). */
typedef void net_on_drain_fn(struct net_conn *c, void *user);
/* A new connection was accepted (after the TLS handshake when TLS is on). The callee must
 * call net_conn_set_handler before returning, or close the connection. */
typedef void net_on_accept_fn(void *arg, struct net_conn *c);

struct net_handler {
    net_on_data_fn *on_data;   /* required */
    net_on_close_fn *on_close; /* required */
    net_on_drain_fn *on_drain; /* may be NULL */
};

struct net_listener_opts {
    const char *name;              /* for logs: "mqtt", "mqtt+tls", "http" ... */
    const struct cfg_addr *addr;   /* borrowed for the call */
    struct net_tls *tls;           /* NULL for plain TCP; borrowed, must outlive the listener */
    net_on_accept_fn *on_accept;   /* required */
    void *arg;                     /* for on_accept */
    uint32_t max_conns;            /* refuse (close at once) beyond this; 0 = 10000 */
    size_t max_write_queue;        /* bytes queued unsent before net_conn_write fails; 0 = 4 MiB */
    uint32_t handshake_timeout_ms; /* TLS handshake deadline; 0 = 10000 */
};

/* Creates a server TLS context: TLS 1.2 minimum (1.3 preferred), the server certificate chain
 * (PEM, leaf first) and its private key, and, when client_ca_file is not NULL, optional client
 * certificate verification against that CA (a client without a certificate may still connect,
 * for password authentication; a client presenting a certificate that does not verify is
 * refused in the handshake). Every path is borrowed for the call.
 * OUT: *out returns owned (free with net_tls_free once no listener uses it).
 * Errors: -ENOENT (a file is missing), HX_EINVAL (unreadable certificate or key, or a key that
 * does not match the certificate), -ENOMEM; one line of detail in err. */
int net_tls_new(struct net_tls **out, const char *cert_file, const char *key_file,
                const char *client_ca_file, char *err, size_t err_len);
/* Frees a context from net_tls_new (NULL is a no-op). Connections hold their own reference
 * to the underlying SSL_CTX, so this is safe even while connections are closing. */
void net_tls_free(struct net_tls *t);

/* Binds and listens. OUT: *out returns owned (stop with net_listener_stop).
 * Errors: negative libuv/errno codes (e.g. -EADDRINUSE), with one line of detail in err. */
int net_listener_start(struct net_listener **out, uv_loop_t *loop,
                       const struct net_listener_opts *o, char *err, size_t err_len);
/* The bound port (useful with port 0). */
uint16_t net_listener_port(const struct net_listener *l);
/* Connections refused so far because max_conns were open. */
uint64_t net_listener_refused(const struct net_listener *l);
/* Stops accepting and closes every connection it accepted (their on_close run); the listener
 * is freed once its handles have closed. */
void net_listener_stop(struct net_listener *l);

void net_conn_set_handler(struct net_conn *c, const struct net_handler *h, void *user);
/* Queues bytes for sending (copied; the caller may reuse p at once). Returns 0, HX_ETOOBIG
 * when the write queue limit would be exceeded (the caller should close), or
 * HX_ESHUTDOWN when the connection is closing. */
int net_conn_write(struct net_conn *c, const void *p, size_t len);
/* Like net_conn_write for several pieces (header + payload) without joining them first. */
int net_conn_writev(struct net_conn *c, const uv_buf_t *bufs, unsigned n_bufs);
/* Bytes queued and not yet written to the socket. */
size_t net_conn_write_queued(const struct net_conn *c);
/* Backpressure: stop / restart reading from the socket. */
void net_conn_pause(struct net_conn *c);
void net_conn_resume(struct net_conn *c);
/* Starts an orderly close after queued writes are flushed (at most 2 s); on_close follows. */
void net_conn_close(struct net_conn *c);
/* Closes at once without flushing (protocol violations, timeouts). on_close follows. */
void net_conn_abort(struct net_conn *c);

uint64_t net_conn_id(const struct net_conn *c);      /* unique per process, for logs */
const char *net_conn_peer(const struct net_conn *c); /* "127.0.0.1:53422" */
bool net_conn_is_tls(const struct net_conn *c);
/* The CN of a verified TLS client certificate, or NULL (plain TCP, or no certificate). */
const char *net_conn_peer_cn(const struct net_conn *c);

#endif

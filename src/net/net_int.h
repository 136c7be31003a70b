/*
 * Private to src/net/: the listener and connection structs and the functions the files of the
 * module share (listener.c accepts, conn.c reads/writes/closes, tls.c wraps OpenSSL).
 * Thread: loop, every function.
 */
#ifndef MEDHUB_NET_NET_INT_H
#define MEDHUB_NET_NET_INT_H

#include "net/net.h"

#include <openssl/ssl.h>

#define NET_READ_BUF       (64 * 1024) /* one shared read buffer per listener */
#define NET_TLS_PLAIN_BUF  (16 * 1024) /* one TLS record of plaintext */
#define NET_CLOSE_FLUSH_MS 2000        /* orderly close: flush deadline */
#define NET_PEER_MAX       64          /* "[ipv6]:port" */

enum net_conn_state {
    NET_CONN_HANDSHAKE = 0, /* TLS handshake running; the front end has not seen it yet */
    NET_CONN_OPEN = 1,      /* delivered to the front end, reading and writing */
    NET_CONN_CLOSING = 2,   /* orderly close: flushing queued writes, then shutdown */
    NET_CONN_CLOSED = 3,    /* uv_close started on every handle; freed in the last close cb */
};

struct net_tls {
    SSL_CTX *ctx;   /* owned; every SSL made from it holds its own reference */
    bool verify_cn; /* a client CA was given: peer certificates are verified */
};

struct net_conn {
    struct net_listener *l;       /* owner; outlives the connection */
    struct net_conn *prev, *next; /* in l->conns */
    uv_tcp_t tcp;                 /* the socket */
    uv_timer_t timer;             /* handshake deadline, close-flush deadline, TLS pump */
    uv_shutdown_t shutdown_req;   /* FIN after the flush of an orderly close */
    int n_handles;                /* handles not yet closed (tcp, timer) */
    enum net_conn_state state;    /* see enum net_conn_state */
    int status;                   /* for on_close; the first cause wins */
    uint64_t id;                  /* unique per process */
    char peer[NET_PEER_MAX];      /* "127.0.0.1:53422" */
    struct net_handler h;         /* set by the front end in on_accept */
    void *user;                   /* for h's callbacks */
    bool has_handler;             /* h is set: on_close will run */
    bool paused;                  /* the front end asked us to stop reading */
    bool reading;                 /* uv_read_start is in effect */
    bool drain_armed;             /* queue passed the low-water mark: on_drain when below */
    bool shutting_down;           /* uv_shutdown issued */
    bool eof;                     /* the peer ended its side, or reading failed: never read */
    size_t queued;                /* bytes handed to uv_write whose callback has not run */
    SSL *ssl;                     /* owned; NULL for plain TCP */
    char *peer_cn;                /* owned; CN of a verified client certificate, or NULL */
};

struct net_listener {
    uv_loop_t *loop;                /* borrowed */
    uv_tcp_t tcp;                   /* the listening socket */
    char label[32];                 /* for logs: "mqtt", "mqtt+tls" */
    struct net_tls *tls;            /* borrowed; NULL for plain TCP */
    net_on_accept_fn *on_accept;    /* front end's accept callback */
    void *arg;                      /* for on_accept */
    uint32_t max_conns;             /* refuse beyond this */
    size_t max_write_queue;         /* per connection */
    uint32_t handshake_timeout_ms;  /* TLS only */
    uint16_t port;                  /* bound port */
    uint32_t n_conns;               /* connections alive (any state) */
    uint64_t n_refused;             /* connections closed at once over max_conns */
    struct net_conn *conns;         /* list of every live connection */
    bool stopping;                  /* net_listener_stop was called */
    bool tcp_closed;                /* the listening handle has closed */
    uint8_t read_buf[NET_READ_BUF]; /* ciphertext or plaintext from uv; used within one read cb */
    uint8_t plain_buf[NET_TLS_PLAIN_BUF]; /* TLS plaintext, used within one call */
};

/* conn.c: creates a connection for an accepted socket (the tcp handle is already initialised
 * and accepted into c->tcp by the caller). Takes c: starts reading (TLS handshake) or hands
 * it to on_accept (plain). */
struct net_conn *net__conn_alloc(struct net_listener *l);
void net__conn_start(struct net_conn *c);
/* Frees the listener when it is stopping, its handle has closed and no connection is left. */
void net__listener_maybe_free(struct net_listener *l);
/* Logs a one-line error for a connection at warn level. */
void net__conn_warn(const struct net_conn *c, const char *msg, const char *detail);

/* tls.c */
int net__tls_conn_init(struct net_conn *c);
/* Feeds ciphertext; runs the handshake or reads plaintext and delivers it. */
void net__tls_on_cipher(struct net_conn *c, const uint8_t *p, size_t len);
/* Delivers plaintext already decrypted or buffered (after resume). */
void net__tls_pump(struct net_conn *c);
/* Encrypts plaintext and queues the records. Returns 0 or a negative error. */
int net__tls_write(struct net_conn *c, const uv_buf_t *bufs, unsigned n_bufs);
/* Queues close_notify (only once the handshake is done). */
void net__tls_shutdown(struct net_conn *c);
void net__tls_conn_release(struct net_conn *c);

/* conn.c: queues len bytes (copied) for uv_write. Returns 0 or a negative error. */
int net__queue_raw(struct net_conn *c, const uv_buf_t *bufs, unsigned n_bufs);
/* conn.c: the handshake is done: hand the connection to the front end. */
void net__conn_accepted(struct net_conn *c);
/* conn.c: fails the connection with status (abort, no flush). */
void net__conn_fail(struct net_conn *c, int status);
/* conn.c: fails the connection with status after flushing what is queued (a TLS alert). */
void net__conn_fail_flush(struct net_conn *c, int status);
/* conn.c: the peer ended the stream (EOF or close_notify): orderly close, status 0. */
void net__conn_peer_closed(struct net_conn *c);
/* conn.c: delivers plaintext to the front end unless closing. */
void net__conn_deliver(struct net_conn *c, const uint8_t *p, size_t len);

#endif

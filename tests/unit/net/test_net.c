/*
 * Unit tests for src/net/: listeners and connections on a real libuv loop over 127.0.0.1
 * (port 0), with clients on blocking sockets in a pthread: echo, write-queue cap and drain,
 * pause/resume, close after flush, abort, on_close exactly once, max_conns, listener stop,
 * and TLS (server verified against the device CA, client certificates, old protocols refused).
 * Every test ends with uv_loop_close() == 0, so a leaked handle fails it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "net/net.h"
#include "security/ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- a test server on the loop ---------------------------------------------------------- */

struct srv;
typedef void client_fn(struct srv *s);

struct srv {
    uv_loop_t loop;
    uv_async_t done;          /* client thread finished: stop the listener */
    uv_timer_t guard;         /* fails a hung test */
    uv_timer_t aux;           /* per-test timer */
    struct net_listener *l;   /* NULL once stopped */
    uint16_t port;            /* bound port */
    client_fn *client;        /* runs in the thread */
    pthread_t thread;         /* the client */
    int n_accept;             /* on_accept calls */
    int n_close;              /* on_close calls */
    int n_drain;              /* on_drain calls */
    int last_status;          /* status of the last on_close */
    size_t n_data;            /* bytes received by the server */
    struct net_conn *conn;    /* the last accepted connection, until its on_close */
    const char *mode;         /* what the server does with data */
    char peer_cn[128];        /* CN seen in on_accept ("" for none) */
    bool peer_cn_null;        /* net_conn_peer_cn was NULL */
    bool is_tls;              /* net_conn_is_tls in on_accept */
    int rc_big;               /* result of an over-cap write */
    size_t queued_after;      /* net_conn_write_queued after the writes */
    size_t data_while_paused; /* bytes seen while paused */
    int client_ok;            /* set by the client thread: 1 = all client checks passed */
    char client_msg[256];     /* why the client failed */
    const char *dir;          /* TLS material: data dir with tls/ and out/ (device dev-7) */
    const char *cert_dir;     /* client certificate directory, NULL for none */
    int tls_version;          /* client: only this version (0: any) */
};

static void on_data(struct net_conn *c, void *user, const uint8_t *p, size_t len)
{
    struct srv *s = user;
    s->n_data += len;
    if (!strcmp(s->mode, "echo") || !strcmp(s->mode, "pause")) {
        assert_int_equal(net_conn_write(c, p, len), 0);
    } else if (!strcmp(s->mode, "abort")) {
        net_conn_abort(c);
        /* Still valid until on_close; writes are refused and a second close is a no-op. */
        assert_int_equal(net_conn_write(c, "x", 1), HX_ESHUTDOWN);
        net_conn_close(c);
        net_conn_abort(c);
    } else if (!strcmp(s->mode, "echo-close")) {
        uv_buf_t b[2] = {uv_buf_init("<", 1), uv_buf_init((char *)p, (unsigned)len)};
        assert_int_equal(net_conn_writev(c, b, 2), 0);
        net_conn_close(c);
        assert_int_equal(net_conn_write(c, "x", 1), HX_ESHUTDOWN);
    }
}

static void on_close(struct net_conn *c, void *user, int status)
{
    struct srv *s = user;
    s->n_close++;
    s->last_status = status;
    if (s->conn == c)
        s->conn = NULL;
}

static void on_drain(struct net_conn *c, void *user)
{
    struct srv *s = user;
    s->n_drain++;
}

static const struct net_handler handler = {on_data, on_close, on_drain};

#define BIG_LEN (1024 * 1024)
static uint8_t big[BIG_LEN];

static void on_resume_timer(uv_timer_t *t)
{
    struct srv *s = t->data;
    s->data_while_paused = s->n_data;
    if (s->conn)
        net_conn_resume(s->conn);
}

static void on_cap_drained_close(uv_timer_t *t)
{
    struct srv *s = t->data;
    if (s->conn && net_conn_write_queued(s->conn) == 0)
        net_conn_close(s->conn);
    else
        uv_timer_start(t, on_cap_drained_close, 20, 0);
}

static void on_accept(void *arg, struct net_conn *c)
{
    struct srv *s = arg;
    s->n_accept++;
    s->conn = c;
    s->is_tls = net_conn_is_tls(c);
    const char *cn = net_conn_peer_cn(c);
    s->peer_cn_null = cn == NULL;
    snprintf(s->peer_cn, sizeof(s->peer_cn), "%s", cn ? cn : "");
    assert_true(net_conn_id(c) > 0);
    assert_non_null(strstr(net_conn_peer(c), "127.0.0.1:"));
    if (!strcmp(s->mode, "reject")) {
        net_conn_close(c); /* closing without a handler: no on_close */
        s->conn = NULL;
        return;
    }
    net_conn_set_handler(c, &handler, s);
    if (!strcmp(s->mode, "cap")) {
        /* max_write_queue is 64 KiB in this test. */
        assert_int_equal(net_conn_write(c, big, 60000), 0);
        s->rc_big = net_conn_write(c, big, 10000);
        s->queued_after = net_conn_write_queued(c);
        assert_int_equal(net_conn_write(c, big, 5536), 0);
        /* The client reads everything and waits for EOF: close once the queue has drained. */
        s->aux.data = s;
        uv_timer_start(&s->aux, on_cap_drained_close, 20, 0);
    } else if (!strcmp(s->mode, "flush-close")) {
        assert_int_equal(net_conn_write(c, big, BIG_LEN), 0);
        net_conn_close(c);
    } else if (!strcmp(s->mode, "pause")) {
        net_conn_pause(c);
        s->aux.data = s;
        uv_timer_start(&s->aux, on_resume_timer, 300, 0);
    } else if (!strcmp(s->mode, "stop")) {
        net_listener_stop(s->l);
        s->l = NULL;
    }
}

static void on_done(uv_async_t *a)
{
    struct srv *s = a->data;
    net_listener_stop(s->l);
    s->l = NULL;
    uv_close((uv_handle_t *)&s->done, NULL);
    uv_close((uv_handle_t *)&s->guard, NULL);
    uv_close((uv_handle_t *)&s->aux, NULL);
}

static void on_guard(uv_timer_t *t)
{
    fail_msg("test timed out");
}

static void *client_main(void *arg)
{
    struct srv *s = arg;
    s->client(s);
    uv_async_send(&s->done);
    return NULL;
}

/* Runs the loop with a listener configured by o (addr/on_accept filled in here) until the
 * client thread has finished and everything has closed. */
static void run_server(struct srv *s, struct net_listener_opts o, client_fn *client)
{
    assert_int_equal(uv_loop_init(&s->loop), 0);
    struct cfg_addr addr = {.is_set = true, .host = "127.0.0.1", .port = 0, .is_loopback = true};
    o.addr = &addr;
    o.on_accept = on_accept;
    o.arg = s;
    o.name = o.tls ? "test+tls" : "test";
    char err[256] = "";
    int rc = net_listener_start(&s->l, &s->loop, &o, err, sizeof(err));
    if (rc)
        fail_msg("net_listener_start: %s", err);
    s->port = net_listener_port(s->l);
    assert_true(s->port > 0);
    uv_async_init(&s->loop, &s->done, on_done);
    s->done.data = s;
    uv_timer_init(&s->loop, &s->guard);
    uv_timer_start(&s->guard, on_guard, 20000, 0);
    uv_timer_init(&s->loop, &s->aux);
    s->client = client;
    assert_int_equal(pthread_create(&s->thread, NULL, client_main, s), 0);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    pthread_join(s->thread, NULL);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    if (!s->client_ok)
        fail_msg("client: %s", s->client_msg);
}

/* ---- blocking client helpers (client thread) --------------------------------------------- */

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const void *p, size_t len)
{
    const uint8_t *b = p;
    while (len) {
        ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        b += n;
        len -= (size_t)n;
    }
    return true;
}

/* Reads exactly len bytes; false on EOF or error first. */
static bool recv_all(int fd, void *p, size_t len)
{
    uint8_t *b = p;
    while (len) {
        ssize_t n = recv(fd, b, len, 0);
        if (n <= 0)
            return false;
        b += n;
        len -= (size_t)n;
    }
    return true;
}

/* Reads until EOF (or error); returns the byte count, or -1 on a timeout. */
static long recv_to_eof(int fd)
{
    uint8_t buf[65536];
    long total = 0;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0)
            return total;
        if (n < 0)
            return errno == EAGAIN ? -1 : total;
        total += n;
    }
}

#define CLIENT_CHECK(s, cond)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf((s)->client_msg, sizeof((s)->client_msg), "%s:%d: %s", __FILE__, __LINE__,    \
                     #cond);                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* ---- plain TCP --------------------------------------------------------------------------- */

static void client_echo(struct srv *s)
{
    int fd = connect_to(s->port);
    CLIENT_CHECK(s, fd >= 0);
    char buf[6] = "";
    CLIENT_CHECK(s, send_all(fd, "hello", 5));
    CLIENT_CHECK(s, recv_all(fd, buf, 5));
    CLIENT_CHECK(s, !memcmp(buf, "hello", 5));
    CLIENT_CHECK(s, send_all(fd, "again", 5));
    CLIENT_CHECK(s, recv_all(fd, buf, 5));
    CLIENT_CHECK(s, !memcmp(buf, "again", 5));
    close(fd);
    s->client_ok = 1;
}

static void test_net_echo_plain(void **state)
{
    struct srv s = {.mode = "echo"};
    run_server(&s, (struct net_listener_opts){0}, client_echo);
    assert_int_equal(s.n_accept, 1);
    assert_int_equal(s.n_close, 1);
    assert_false(s.is_tls);
    assert_true(s.peer_cn_null);
    assert_int_equal(s.n_data, 10);
}

static void client_read_all_then_eof(struct srv *s, long expect)
{
    int fd = connect_to(s->port);
    CLIENT_CHECK(s, fd >= 0);
    usleep(200 * 1000); /* let the server's queue back up */
    long n = recv_to_eof(fd);
    close(fd);
    CLIENT_CHECK(s, n == expect);
    s->client_ok = 1;
}

static void client_cap(struct srv *s)
{
    client_read_all_then_eof(s, 65536);
}

static void test_net_write_queue_cap_and_drain(void **state)
{
    struct srv s = {.mode = "cap"};
    struct net_listener_opts o = {.max_write_queue = 65536};
    run_server(&s, o, client_cap);
    assert_int_equal(s.rc_big, HX_ETOOBIG);
    assert_int_equal(s.queued_after, 60000);
    assert_true(s.n_drain >= 1);
    assert_int_equal(s.n_close, 1);
}

static void client_flush_close(struct srv *s)
{
    client_read_all_then_eof(s, BIG_LEN);
}

static void test_net_close_flushes_queued_writes(void **state)
{
    struct srv s = {.mode = "flush-close"};
    run_server(&s, (struct net_listener_opts){0}, client_flush_close);
    assert_int_equal(s.n_close, 1);
    assert_int_equal(s.last_status, 0);
}

static void client_pause(struct srv *s)
{
    int fd = connect_to(s->port);
    CLIENT_CHECK(s, fd >= 0);
    CLIENT_CHECK(s, send_all(fd, "abc", 3));
    char buf[4] = "";
    CLIENT_CHECK(s, recv_all(fd, buf, 3)); /* echoed only after the resume */
    CLIENT_CHECK(s, !memcmp(buf, "abc", 3));
    close(fd);
    s->client_ok = 1;
}

static void test_net_pause_resume(void **state)
{
    struct srv s = {.mode = "pause"};
    run_server(&s, (struct net_listener_opts){0}, client_pause);
    /* nothing was delivered while paused; everything after the resume */
    assert_int_equal(s.data_while_paused, 0);
    assert_int_equal(s.n_data, 3);
    assert_int_equal(s.n_close, 1);
}

static void client_abort(struct srv *s)
{
    int fd = connect_to(s->port);
    CLIENT_CHECK(s, fd >= 0);
    CLIENT_CHECK(s, send_all(fd, "bad", 3));
    CLIENT_CHECK(s, recv_to_eof(fd) == 0);
    close(fd);
    s->client_ok = 1;
}

static void test_net_abort_closes_once(void **state)
{
    struct srv s = {.mode = "abort"};
    run_server(&s, (struct net_listener_opts){0}, client_abort);
    assert_int_equal(s.n_close, 1);
    assert_int_equal(s.last_status, 0);
}

static void client_echo_close(struct srv *s)
{
    int fd = connect_to(s->port);
    CLIENT_CHECK(s, fd >= 0);
    CLIENT_CHECK(s, send_all(fd, "bye", 3));
    char buf[8] = "";
    CLIENT_CHECK(s, recv_all(fd, buf, 4));
    CLIENT_CHECK(s, !memcmp(buf, "<bye", 4));
    CLIENT_CHECK(s, recv_to_eof(fd) == 0);
    close(fd);
    s->client_ok = 1;
}

static void test_net_writev_then_close(void **state)
{
    struct srv s = {.mode = "echo-close"};
    run_server(&s, (struct net_listener_opts){0}, client_echo_close);
    assert_int_equal(s.n_close, 1);
}

static void client_max_conns(struct srv *s)
{
    int a = connect_to(s->port);
    CLIENT_CHECK(s, a >= 0);
    char buf[2] = "";
    CLIENT_CHECK(s, send_all(a, "1", 1));
    CLIENT_CHECK(s, recv_all(a, buf, 1)); /* a is accepted */
    int b = connect_to(s->port);
    CLIENT_CHECK(s, b >= 0);              /* the kernel completes the handshake ... */
    CLIENT_CHECK(s, recv_to_eof(b) == 0); /* ... and medhub closes it at once */
    close(b);
    CLIENT_CHECK(s, send_all(a, "2", 1));
    CLIENT_CHECK(s, recv_all(a, buf, 1));
    CLIENT_CHECK(s, buf[0] == '2');
    close(a);
    s->client_ok = 1;
}

static void test_net_max_conns_refuses_extra(void **state)
{
    struct srv s = {.mode = "echo"};
    run_server(&s, (struct net_listener_opts){.max_conns = 1}, client_max_conns);
    assert_int_equal(s.n_accept, 1);
    assert_int_equal(s.n_close, 1);
}

static void client_wait_eof(struct srv *s)
{
    int fd = connect_to(s->port);
    CLIENT_CHECK(s, fd >= 0);
    CLIENT_CHECK(s, recv_to_eof(fd) == 0);
    close(fd);
    s->client_ok = 1;
}

static void test_net_listener_stop_closes_connections(void **state)
{
    struct srv s = {.mode = "stop"};
    run_server(&s, (struct net_listener_opts){0}, client_wait_eof);
    assert_int_equal(s.n_accept, 1);
    assert_int_equal(s.n_close, 1);
}

static void test_net_close_in_accept_without_handler(void **state)
{
    struct srv s = {.mode = "reject"};
    run_server(&s, (struct net_listener_opts){0}, client_wait_eof);
    assert_int_equal(s.n_accept, 1);
    assert_int_equal(s.n_close, 0); /* no handler, no on_close */
}

static void test_net_listen_errors(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct cfg_addr addr = {.is_set = true, .host = "127.0.0.1", .port = 0};
    struct net_listener_opts o = {.name = "t", .addr = &addr, .on_accept = on_accept};
    struct net_listener *a, *b;
    char err[256];
    assert_int_equal(net_listener_start(&a, &loop, &o, err, sizeof(err)), 0);
    addr.port = net_listener_port(a);
    assert_int_equal(net_listener_start(&b, &loop, &o, err, sizeof(err)), -EADDRINUSE);
    assert_null(b);
    assert_non_null(strstr(err, "cannot listen"));
    struct cfg_addr bad = {.is_set = true, .host = "not-an-ip", .port = 0};
    o.addr = &bad;
    assert_int_equal(net_listener_start(&b, &loop, &o, err, sizeof(err)), HX_EINVAL);
    net_listener_stop(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_net_listen_ipv6_loopback(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct cfg_addr addr = {.is_set = true, .host = "::1", .port = 0, .is_loopback = true};
    struct net_listener_opts o = {.name = "t6", .addr = &addr, .on_accept = on_accept};
    struct net_listener *l;
    char err[256];
    int rc = net_listener_start(&l, &loop, &o, err, sizeof(err));
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
        assert_int_equal(uv_loop_close(&loop), 0);
        skip(); /* no IPv6 in this environment */
    }
    assert_int_equal(rc, 0);
    assert_true(net_listener_port(l) > 0);
    net_listener_stop(l);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- TLS ----------------------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

struct pki {
    char dir[64];        /* data dir: tls/ with the CA and server certificate */
    char out[128];       /* dev-7's certificate, key and ca.crt */
    char rogue[64];      /* another CA's data dir */
    char rogue_out[128]; /* dev-7 issued by that other CA */
    struct net_tls *tls; /* server context */
};

static int tls_setup(void **state)
{
    struct pki *k = calloc(1, sizeof(*k));
    char err[512] = "";
    snprintf(k->dir, sizeof(k->dir), "/tmp/medhub-net-XXXXXX");
    snprintf(k->rogue, sizeof(k->rogue), "/tmp/medhub-net-XXXXXX");
    if (!mkdtemp(k->dir) || !mkdtemp(k->rogue))
        return -1;
    snprintf(k->out, sizeof(k->out), "%s/out", k->dir);
    snprintf(k->rogue_out, sizeof(k->rogue_out), "%s/out", k->rogue);
    mkdir(k->out, 0700);
    mkdir(k->rogue_out, 0700);
    if (sec_ca_ensure(k->dir, NULL, 0, err, sizeof(err)) ||
        sec_ca_issue_device(k->dir, "dev-7", k->out, err, sizeof(err)) ||
        sec_ca_ensure(k->rogue, NULL, 0, err, sizeof(err)) ||
        sec_ca_issue_device(k->rogue, "dev-7", k->rogue_out, err, sizeof(err))) {
        fprintf(stderr, "pki setup: %s\n", err);
        return -1;
    }
    char crt[160], key[160], ca[160];
    snprintf(crt, sizeof(crt), "%s/tls/server.crt", k->dir);
    snprintf(key, sizeof(key), "%s/tls/server.key", k->dir);
    snprintf(ca, sizeof(ca), "%s/tls/device-ca.crt", k->dir);
    if (net_tls_new(&k->tls, crt, key, ca, err, sizeof(err))) {
        fprintf(stderr, "net_tls_new: %s\n", err);
        return -1;
    }
    *state = k;
    return 0;
}

static int tls_teardown(void **state)
{
    struct pki *k = *state;
    net_tls_free(k->tls);
    nftw(k->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    nftw(k->rogue, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(k);
    return 0;
}

/* Connects with OpenSSL on a blocking socket, verifying the server as "localhost" against the
 * CA copy in s->dir/out, presenting dev-7's certificate from s->cert_dir when set, and echoes
 * "ping". Returns 1 on success, 0 when the handshake or first read failed. */
static int tls_ping(struct srv *s)
{
    char path[256], key[256];
    int ok = 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    snprintf(path, sizeof(path), "%s/out/ca.crt", s->dir);
    SSL_CTX_load_verify_locations(ctx, path, NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (s->tls_version) {
        SSL_CTX_set_min_proto_version(ctx, s->tls_version);
        SSL_CTX_set_max_proto_version(ctx, s->tls_version);
        SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0"); /* let the client offer it */
    }
    if (s->cert_dir) {
        snprintf(path, sizeof(path), "%s/dev-7.crt", s->cert_dir);
        snprintf(key, sizeof(key), "%s/dev-7.key", s->cert_dir);
        if (SSL_CTX_use_certificate_file(ctx, path, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
            goto out_ctx;
    }
    int fd = connect_to(s->port);
    if (fd < 0)
        goto out_ctx;
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set1_host(ssl, "localhost");
    char buf[8] = "";
    if (SSL_connect(ssl) == 1 && SSL_write(ssl, "ping", 4) == 4 && SSL_read(ssl, buf, 4) == 4 &&
        !memcmp(buf, "ping", 4))
        ok = 1;
    if (ok)
        SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
out_ctx:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static void client_tls_ok(struct srv *s)
{
    CLIENT_CHECK(s, tls_ping(s) == 1);
    s->client_ok = 1;
}

static void client_tls_refused(struct srv *s)
{
    CLIENT_CHECK(s, tls_ping(s) == 0);
    s->client_ok = 1;
}

static void test_net_tls_echo_with_client_cert(void **state)
{
    struct pki *k = *state;
    struct srv s = {.mode = "echo", .dir = k->dir, .cert_dir = k->out};
    run_server(&s, (struct net_listener_opts){.tls = k->tls}, client_tls_ok);
    assert_int_equal(s.n_accept, 1);
    assert_true(s.is_tls);
    assert_string_equal(s.peer_cn, "dev-7");
    assert_int_equal(s.n_data, 4);
    assert_int_equal(s.n_close, 1);
    assert_int_equal(s.last_status, 0);
}

static void test_net_tls12_echo_with_client_cert(void **state)
{
    struct pki *k = *state;
    struct srv s = {
        .mode = "echo", .dir = k->dir, .cert_dir = k->out, .tls_version = TLS1_2_VERSION};
    run_server(&s, (struct net_listener_opts){.tls = k->tls}, client_tls_ok);
    assert_string_equal(s.peer_cn, "dev-7");
    assert_int_equal(s.n_close, 1);
}

static void test_net_tls_without_client_cert_has_no_cn(void **state)
{
    struct pki *k = *state;
    struct srv s = {.mode = "echo", .dir = k->dir};
    run_server(&s, (struct net_listener_opts){.tls = k->tls}, client_tls_ok);
    assert_int_equal(s.n_accept, 1);
    assert_true(s.is_tls);
    assert_true(s.peer_cn_null);
    assert_int_equal(s.n_close, 1);
}

static void test_net_tls_rejects_cert_from_other_ca(void **state)
{
    struct pki *k = *state;
    struct srv s = {.mode = "echo", .dir = k->dir, .cert_dir = k->rogue_out};
    run_server(&s, (struct net_listener_opts){.tls = k->tls}, client_tls_refused);
    assert_int_equal(s.n_accept, 0);
    assert_int_equal(s.n_close, 0);
}

static void test_net_tls11_refused(void **state)
{
    struct pki *k = *state;
    struct srv s = {.mode = "echo", .dir = k->dir, .tls_version = TLS1_1_VERSION};
    run_server(&s, (struct net_listener_opts){.tls = k->tls}, client_tls_refused);
    assert_int_equal(s.n_accept, 0);
}

static void test_net_tls_handshake_timeout(void **state)
{
    struct pki *k = *state;
    struct srv s = {.mode = "echo", .dir = k->dir};
    run_server(&s, (struct net_listener_opts){.tls = k->tls, .handshake_timeout_ms = 200},
               client_wait_eof);
    assert_int_equal(s.n_accept, 0);
}

static void test_net_tls_new_errors(void **state)
{
    struct pki *k = *state;
    struct net_tls *t;
    char err[512], crt[160], key[160];
    snprintf(crt, sizeof(crt), "%s/tls/server.crt", k->dir);
    snprintf(key, sizeof(key), "%s/tls/device-ca.key", k->dir);
    assert_int_equal(net_tls_new(&t, "/nonexistent.crt", key, NULL, err, sizeof(err)), -ENOENT);
    assert_null(t);
    /* a key that does not belong to the certificate */
    assert_int_equal(net_tls_new(&t, crt, key, NULL, err, sizeof(err)), HX_EINVAL);
    assert_non_null(strstr(err, "device-ca.key"));
    /* a certificate file that is not one */
    assert_int_equal(net_tls_new(&t, key, key, NULL, err, sizeof(err)), HX_EINVAL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_echo_plain),
        cmocka_unit_test(test_net_write_queue_cap_and_drain),
        cmocka_unit_test(test_net_close_flushes_queued_writes),
        cmocka_unit_test(test_net_pause_resume),
        cmocka_unit_test(test_net_abort_closes_once),
        cmocka_unit_test(test_net_writev_then_close),
        cmocka_unit_test(test_net_max_conns_refuses_extra),
        cmocka_unit_test(test_net_listener_stop_closes_connections),
        cmocka_unit_test(test_net_close_in_accept_without_handler),
        cmocka_unit_test(test_net_listen_errors),
        cmocka_unit_test(test_net_listen_ipv6_loopback),
        cmocka_unit_test_setup_teardown(test_net_tls_echo_with_client_cert, tls_setup,
                                        tls_teardown),
        cmocka_unit_test_setup_teardown(test_net_tls12_echo_with_client_cert, tls_setup,
                                        tls_teardown),
        cmocka_unit_test_setup_teardown(test_net_tls_without_client_cert_has_no_cn, tls_setup,
                                        tls_teardown),
        cmocka_unit_test_setup_teardown(test_net_tls_rejects_cert_from_other_ca, tls_setup,
                                        tls_teardown),
        cmocka_unit_test_setup_teardown(test_net_tls11_refused, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(test_net_tls_handshake_timeout, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(test_net_tls_new_errors, tls_setup, tls_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

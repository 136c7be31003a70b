/*
 * TLS for connections through OpenSSL memory BIOs: ciphertext from libuv reads is written
 * into the read BIO, records OpenSSL produces are drained from the write BIO into uv_write,
 * so TLS never blocks and never owns the socket. Server contexts (net_tls_new) require
 * TLS 1.2 or later and optionally verify client certificates against the device CA.
 * Layer: net. Thread: loop (net_tls_new/net_tls_free: any, before/after use on the loop).
 */
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/net_int.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Forward-secret AEAD suites only for TLS 1.2 (TLS 1.3 suites are all fine). */
#define NET_TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"
#define NET_CN_MAX        256

/* One line about the first queued OpenSSL error (or ssl_err), then clears the queue. */
static void tls_detail(char *buf, size_t len, int ssl_err)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, len);
    else if (ssl_err == SSL_ERROR_SYSCALL)
        snprintf(buf, len, "unexpected end of stream");
    else
        snprintf(buf, len, "ssl error %d", ssl_err);
    ERR_clear_error();
}

static int ctx_fail(SSL_CTX *ctx, int rc, char *err, size_t err_len, const char *what,
                    const char *path)
{
    char detail[256];
    tls_detail(detail, sizeof(detail), 0);
    snprintf(err, err_len, "%s %s: %s", what, path, detail);
    SSL_CTX_free(ctx);
    return rc;
}

static int check_file(const char *what, const char *path, char *err, size_t err_len)
{
    struct stat sb;
    if (!path || !*path) {
        snprintf(err, err_len, "no %s file configured", what);
        return HX_EINVAL;
    }
    if (stat(path, &sb) < 0) {
        int rc = -errno;
        snprintf(err, err_len, "%s %s: %s", what, path, hx_strerror(rc));
        return rc;
    }
    return 0;
}

int net_tls_new(struct net_tls **out, const char *cert_file, const char *key_file,
                const char *client_ca_file, char *err, size_t err_len)
{
    int rc;
    *out = NULL;
    if ((rc = check_file("certificate", cert_file, err, err_len)) < 0 ||
        (rc = check_file("key", key_file, err, err_len)) < 0 ||
        (client_ca_file && (rc = check_file("client CA", client_ca_file, err, err_len)) < 0))
        return rc;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, err_len, "cannot create a TLS context");
        ERR_clear_error();
        return -ENOMEM;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    /* Thousands of idle device connections: give buffers back between records. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, NET_TLS12_CIPHERS) != 1)
        return ctx_fail(ctx, HX_EINVAL, err, err_len, "cipher list", NET_TLS12_CIPHERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
        return ctx_fail(ctx, HX_EINVAL, err, err_len, "cannot load certificate", cert_file);
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
        return ctx_fail(ctx, HX_EINVAL, err, err_len, "cannot load key", key_file);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return ctx_fail(ctx, HX_EINVAL, err, err_len, "key does not match certificate", key_file);
    /* Sessions may be resumed, and a resumed session keeps its verified client certificate;
     * OpenSSL refuses resumption with client verification unless the context is named. */
    static const unsigned char sid_ctx[] = "medhub";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    bool verify = false;
    if (client_ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, client_ca_file, NULL) != 1)
            return ctx_fail(ctx, HX_EINVAL, err, err_len, "cannot load client CA", client_ca_file);
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca_file);
        if (!names)
            return ctx_fail(ctx, HX_EINVAL, err, err_len, "cannot load client CA", client_ca_file);
        SSL_CTX_set_client_CA_list(ctx, names); /* takes names */
        /* No SSL_VERIFY_FAIL_IF_NO_PEER_CERT: devices with a password need no certificate.
         * A certificate that is presented must verify, or the handshake fails. */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_verify_depth(ctx, 4);
        verify = true;
    }
    struct net_tls *t = hx_xcalloc(1, sizeof(*t));
    t->ctx = ctx;
    t->verify_cn = verify;
    *out = t;
    return 0;
}

void net_tls_free(struct net_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

int net__tls_conn_init(struct net_conn *c)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(c->l->tls->ctx);
    BIO *rbio = BIO_new(BIO_s_mem());
    BIO *wbio = BIO_new(BIO_s_mem());
    if (!ssl || !rbio || !wbio) {
        SSL_free(ssl);
        BIO_free(rbio);
        BIO_free(wbio);
        ERR_clear_error();
        return -ENOMEM;
    }
    SSL_set_bio(ssl, rbio, wbio); /* ssl takes both */
    SSL_set_accept_state(ssl);
    c->ssl = ssl;
    return 0;
}

void net__tls_conn_release(struct net_conn *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
}

/* Moves every record OpenSSL produced into the write queue (one copy). */
static int flush_out(struct net_conn *c)
{
    BIO *wbio = SSL_get_wbio(c->ssl);
    char *p;
    long n = BIO_get_mem_data(wbio, &p);
    if (n <= 0)
        return 0;
    uv_buf_t b = uv_buf_init(p, (unsigned)n);
    int rc = net__queue_raw(c, &b, 1);
    (void)BIO_reset(wbio);
    return rc;
}

/* The CN of a verified client certificate, copied (exactly one CN, no NUL, < 256 bytes). */
static void capture_peer_cn(struct net_conn *c)
{
    if (!c->l->tls->verify_cn)
        return;
    X509 *cert = SSL_get1_peer_certificate(c->ssl);
    if (!cert)
        return;
    if (SSL_get_verify_result(c->ssl) == X509_V_OK) {
        X509_NAME *name = X509_get_subject_name(cert);
        int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
        if (i >= 0 && X509_NAME_get_index_by_NID(name, NID_commonName, i) < 0) {
            ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
            unsigned char *utf8 = NULL;
            int len = ASN1_STRING_to_UTF8(&utf8, s);
            if (len > 0 && len < NET_CN_MAX && !memchr(utf8, 0, (size_t)len))
                c->peer_cn = hx_xstrndup((const char *)utf8, (size_t)len);
            OPENSSL_free(utf8);
        }
    }
    X509_free(cert);
}

static void do_handshake(struct net_conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
    if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        char detail[256];
        tls_detail(detail, sizeof(detail), e);
        net__conn_warn(c, "tls handshake failed", detail);
        flush_out(c); /* the alert, if any */
        net__conn_fail_flush(c, -EPROTO);
        return;
    }
    if (flush_out(c) < 0) {
        net__conn_fail(c, -EIO);
        return;
    }
    if (r != 1)
        return;
    capture_peer_cn(c);
    struct log_ctx ctx = {.conn = c->id, .device = c->peer_cn};
    log_debug(&ctx, "net", "tls handshake done", "name=%s peer=%s version=%s cipher=%s",
              c->l->label, c->peer, SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
    net__conn_accepted(c);
    /* A client may send application data right behind its Finished message. */
    net__tls_pump(c);
}

void net__tls_pump(struct net_conn *c)
{
    uint8_t *buf = c->l->plain_buf;
    while (c->state == NET_CONN_OPEN && !c->paused) {
        ERR_clear_error();
        int n = SSL_read(c->ssl, buf, NET_TLS_PLAIN_BUF);
        if (n > 0) {
            net__conn_deliver(c, buf, (size_t)n);
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify: answer it and close */
            net_conn_close(c);
            return;
        }
        char detail[256];
        tls_detail(detail, sizeof(detail), e);
        net__conn_warn(c, "tls error", detail);
        flush_out(c);
        net__conn_fail_flush(c, -EPROTO);
        return;
    }
    /* Post-handshake messages (key updates, session tickets) may have produced records. */
    if (c->state == NET_CONN_OPEN && flush_out(c) < 0)
        net__conn_fail(c, -EIO);
}

void net__tls_on_cipher(struct net_conn *c, const uint8_t *p, size_t len)
{
    BIO *rbio = SSL_get_rbio(c->ssl);
    if (len > INT32_MAX || BIO_write(rbio, p, (int)len) != (int)len) {
        ERR_clear_error();
        net__conn_fail(c, -ENOMEM);
        return;
    }
    if (c->state == NET_CONN_HANDSHAKE)
        do_handshake(c);
    else
        net__tls_pump(c);
}

static int tls_write_one(struct net_conn *c, const void *p, size_t len)
{
    if (len == 0)
        return 0;
    if (len > INT32_MAX)
        return HX_ETOOBIG;
    ERR_clear_error();
    int r = SSL_write(c->ssl, p, (int)len);
    if (r == (int)len)
        return 0;
    char detail[256];
    tls_detail(detail, sizeof(detail), SSL_get_error(c->ssl, r));
    net__conn_warn(c, "tls write failed", detail);
    return -EPROTO;
}

int net__tls_write(struct net_conn *c, const uv_buf_t *bufs, unsigned n_bufs)
{
    size_t total = 0;
    for (unsigned i = 0; i < n_bufs; i++)
        total += bufs[i].len;
    int rc = 0;
    if (n_bufs > 1 && total <= NET_TLS_PLAIN_BUF) {
        /* One record for header + payload: small pieces would each cost a record header
         * and a MAC. */
        uint8_t joined[NET_TLS_PLAIN_BUF];
        size_t off = 0;
        for (unsigned i = 0; i < n_bufs; i++) {
            if (bufs[i].len)
                memcpy(joined + off, bufs[i].base, bufs[i].len);
            off += bufs[i].len;
        }
        rc = tls_write_one(c, joined, total);
    } else {
        for (unsigned i = 0; i < n_bufs && rc == 0; i++)
            rc = tls_write_one(c, bufs[i].base, bufs[i].len);
    }
    int frc = flush_out(c);
    return rc < 0 ? rc : frc;
}

void net__tls_shutdown(struct net_conn *c)
{
    if (!SSL_is_init_finished(c->ssl))
        return;
    ERR_clear_error();
    (void)SSL_shutdown(c->ssl); /* queues close_notify; we do not wait for the reply */
    ERR_clear_error();
    flush_out(c);
}

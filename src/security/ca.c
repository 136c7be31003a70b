/*
 * Device PKI on OpenSSL 3: creates the device CA and the server certificate in
 * <data-dir>/tls/ and issues per-device client certificates (CN = device id). ECDSA P-256
 * keys, X.509 v3 with SHA-256 signatures, random 128-bit serials. Never overwrites a file:
 * keys are created with open(O_CREAT | O_EXCL, 0600) and a failed step removes only what
 * the same call created.
 * Layer: security (OpenSSL; used by the CLI). Thread: any (blocking; never the loop).
 */
#include "security/ca.h"
#include "core/err.h"
#include "core/mem.h"
#include "domain/model.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_PATH_MAX   (PATH_MAX + 64)
#define CA_FILE_LIMIT (1024 * 1024) /* a PEM certificate larger than this is not ours */
#define CA_SAN_MAX    4096
#define CA_SKEW_SECS  300 /* notBefore this far in the past: devices with slightly slow clocks */

/* One line about the first queued OpenSSL error, then clears the queue. */
static void ossl_detail(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "unknown OpenSSL error");
    ERR_clear_error();
}

static int ossl_fail(char *err, size_t err_len, const char *what)
{
    char d[256];
    ossl_detail(d, sizeof(d));
    snprintf(err, err_len, "%s: %s", what, d);
    return HX_ECORRUPT;
}

/* dst = a "/" b suffix. Returns 0, or -ENAMETOOLONG (with err) when it does not fit. */
static int join_path(char *dst, size_t len, const char *a, const char *b, const char *suffix,
                     char *err, size_t err_len)
{
    int n = snprintf(dst, len, "%s/%s%s", a, b, suffix);
    if (n < 0 || (size_t)n >= len) {
        snprintf(err, err_len, "path too long: %s/%s%s", a, b, suffix);
        return -ENAMETOOLONG;
    }
    return 0;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Reads a whole (small) file. OUT: *out owned (free()), *len its size. */
static int read_file(const char *path, uint8_t **out, size_t *len, char *err, size_t err_len)
{
    int rc;
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc = -errno;
        snprintf(err, err_len, "cannot read %s: %s", path, hx_strerror(rc));
        return rc;
    }
    void *buf;
    if ((rc = hx_try_alloc(&buf, CA_FILE_LIMIT, CA_FILE_LIMIT)) < 0) {
        fclose(f);
        snprintf(err, err_len, "cannot read %s: %s", path, hx_strerror(rc));
        return rc;
    }
    size_t n = fread(buf, 1, CA_FILE_LIMIT, f);
    bool bad = ferror(f) || n == CA_FILE_LIMIT;
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, err_len, "cannot read %s: unreadable or larger than 1 MiB", path);
        return HX_ECORRUPT;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Creates path with O_EXCL and mode, writes what write_fn produces. Removes it on failure. */
static int write_new_file(const char *path, mode_t mode, int (*write_fn)(FILE *f, void *arg),
                          void *arg, char *err, size_t err_len)
{
    int rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, err_len, "cannot create %s: %s", path,
                 rc == -EEXIST ? "file exists (not overwritten)" : hx_strerror(rc));
        return rc;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        rc = -errno;
        close(fd);
        unlink(path);
        snprintf(err, err_len, "cannot write %s: %s", path, hx_strerror(rc));
        return rc;
    }
    rc = write_fn(f, arg);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = rc < 0 ? rc : -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0) {
        unlink(path);
        ERR_clear_error();
        snprintf(err, err_len, "cannot write %s: %s", path, hx_strerror(rc));
    }
    return rc;
}

static int put_key(FILE *f, void *arg)
{
    return PEM_write_PrivateKey(f, arg, NULL, NULL, 0, NULL, NULL) == 1 ? 0 : -EIO;
}

static int put_cert(FILE *f, void *arg)
{
    return PEM_write_X509(f, arg) == 1 ? 0 : -EIO;
}

struct bytes {
    const uint8_t *p; /* borrowed */
    size_t len;       /* bytes at p */
};

static int put_bytes(FILE *f, void *arg)
{
    const struct bytes *b = arg;
    return fwrite(b->p, 1, b->len, f) == b->len ? 0 : -EIO;
}

static int load_cert(const char *path, X509 **out, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int rc = -errno;
        snprintf(err, err_len, "cannot read %s: %s", path, hx_strerror(rc));
        return rc;
    }
    *out = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!*out) {
        char d[256];
        ossl_detail(d, sizeof(d));
        snprintf(err, err_len, "%s is not a PEM certificate: %s", path, d);
        return HX_ECORRUPT;
    }
    return 0;
}

static int load_key(const char *path, EVP_PKEY **out, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int rc = -errno;
        snprintf(err, err_len, "cannot read %s: %s", path, hx_strerror(rc));
        return rc;
    }
    *out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!*out) {
        char d[256];
        ossl_detail(d, sizeof(d));
        snprintf(err, err_len, "%s is not a PEM private key: %s", path, d);
        return HX_ECORRUPT;
    }
    return 0;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

struct cert_spec {
    const char *cn;       /* subject CN */
    const char *org;      /* subject O, or NULL */
    long days;            /* validity from now */
    bool is_ca;           /* CA:TRUE, keyCertSign */
    const char *eku;      /* extendedKeyUsage value, or NULL */
    const char *key_use;  /* keyUsage value */
    const char *san;      /* subjectAltName value, or NULL */
    X509 *issuer;         /* NULL: self-signed */
    EVP_PKEY *issuer_key; /* signs */
    EVP_PKEY *key;        /* the subject's key */
};

/* Builds and signs a certificate. Returns it owned, or NULL (OpenSSL error queued). */
static X509 *make_cert(const struct cert_spec *s)
{
    X509 *x = X509_new();
    BIGNUM *bn = BN_new();
    if (!x || !bn)
        goto fail;
    if (!X509_set_version(x, X509_VERSION_3))
        goto fail;
    /* RFC 5280 4.1.2.2: positive, unique per CA, at most 20 octets; 128 random bits. */
    do {
        if (!BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY))
            goto fail;
    } while (BN_is_zero(bn));
    if (!BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
        goto fail;
    if (!X509_gmtime_adj(X509_getm_notBefore(x), -CA_SKEW_SECS) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), (int)s->days, 0, NULL))
        goto fail;
    X509_NAME *name = X509_get_subject_name(x);
    if (s->org && !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                              (const unsigned char *)s->org, -1, -1, 0))
        goto fail;
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)s->cn, -1, -1,
                                    0))
        goto fail;
    if (!X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer) : name))
        goto fail;
    if (!X509_set_pubkey(x, s->key))
        goto fail;
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, s->issuer ? s->issuer : x, x, NULL, NULL, 0);
    if (add_ext(x, &ctx, NID_basic_constraints,
                s->is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE"))
        goto fail;
    if (add_ext(x, &ctx, NID_key_usage, s->key_use))
        goto fail;
    if (s->eku && add_ext(x, &ctx, NID_ext_key_usage, s->eku))
        goto fail;
    if (add_ext(x, &ctx, NID_subject_key_identifier, "hash"))
        goto fail;
    if (add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
        goto fail;
    if (s->san && add_ext(x, &ctx, NID_subject_alt_name, s->san))
        goto fail;
    if (!X509_sign(x, s->issuer_key, EVP_sha256()))
        goto fail;
    BN_free(bn);
    return x;
fail:
    BN_free(bn);
    X509_free(x);
    return NULL;
}

/* Validates host names and builds the SAN value. */
static int build_san(const char *const *hosts, size_t n, char *out, size_t len, char *err,
                     size_t err_len)
{
    size_t off = (size_t)snprintf(out, len, "DNS:localhost,IP:127.0.0.1,IP:::1");
    for (size_t i = 0; i < n; i++) {
        const char *h = hosts[i];
        uint8_t addr[16];
        const char *kind;
        if (inet_pton(AF_INET, h, addr) == 1 || inet_pton(AF_INET6, h, addr) == 1) {
            kind = "IP";
        } else {
            size_t hl = strlen(h);
            if (hl == 0 || hl > 253 ||
                strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                          "vwxyz0123456789.-") != hl) {
                snprintf(err, err_len, "host name '%s': expected a DNS name or an IP address", h);
                return HX_EINVAL;
            }
            kind = "DNS";
        }
        if (!strcmp(h, "localhost") || !strcmp(h, "127.0.0.1") || !strcmp(h, "::1"))
            continue;
        int w = snprintf(out + off, len - off, ",%s:%s", kind, h);
        if (w < 0 || (size_t)w >= len - off) {
            snprintf(err, err_len, "too many host names for the server certificate");
            return HX_EINVAL;
        }
        off += (size_t)w;
    }
    return 0;
}

/* 0 when neither file exists, 1 when both do; HX_ECORRUPT (with err) for half a pair. */
static int pair_state(const char *crt, const char *key, char *err, size_t err_len)
{
    bool c = file_exists(crt), k = file_exists(key);
    if (c && k)
        return 1;
    if (!c && !k)
        return 0;
    snprintf(err, err_len, "%s exists without %s: restore it or remove both to regenerate",
             c ? crt : key, c ? key : crt);
    return HX_ECORRUPT;
}

/* Generates a key, makes a certificate from spec (key filled in) and writes both files. */
static int create_pair(struct cert_spec *spec, const char *crt_path, const char *key_path,
                       X509 **out_cert, EVP_PKEY **out_key, char *err, size_t err_len)
{
    int rc;
    ERR_clear_error();
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!key)
        return ossl_fail(err, err_len, "cannot generate a P-256 key");
    spec->key = key;
    if (!spec->issuer_key)
        spec->issuer_key = key;
    X509 *x = make_cert(spec);
    if (!x) {
        EVP_PKEY_free(key);
        return ossl_fail(err, err_len, "cannot create a certificate");
    }
    rc = write_new_file(key_path, 0600, put_key, key, err, err_len);
    if (rc == 0) {
        rc = write_new_file(crt_path, 0644, put_cert, x, err, err_len);
        if (rc < 0)
            unlink(key_path);
    }
    if (rc == 0 && out_cert) {
        *out_cert = x;
        x = NULL;
    }
    if (rc == 0 && out_key) {
        *out_key = key;
        key = NULL;
    }
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

static int load_ca(const char *dir, X509 **cert, EVP_PKEY **key, char *err, size_t err_len)
{
    char crt[CA_PATH_MAX], kp[CA_PATH_MAX];
    int rc;
    if ((rc = join_path(crt, sizeof(crt), dir, SEC_CA_CERT_FILE, "", err, err_len)) < 0 ||
        (rc = join_path(kp, sizeof(kp), dir, SEC_CA_KEY_FILE, "", err, err_len)) < 0)
        return rc;
    if ((rc = load_cert(crt, cert, err, err_len)) < 0)
        return rc;
    if ((rc = load_key(kp, key, err, err_len)) < 0) {
        X509_free(*cert);
        return rc;
    }
    if (X509_check_private_key(*cert, *key) != 1) {
        ERR_clear_error();
        snprintf(err, err_len, "%s does not match %s", kp, crt);
        X509_free(*cert);
        EVP_PKEY_free(*key);
        return HX_ECORRUPT;
    }
    return 0;
}

int sec_ca_ensure_ex(const char *data_dir, const char *const *hostnames, size_t n_hostnames,
                     struct sec_ca_result *res, char *err, size_t err_len)
{
    struct sec_ca_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof(*res));
    char dir[CA_PATH_MAX], ca_crt[CA_PATH_MAX], ca_key[CA_PATH_MAX], srv_crt[CA_PATH_MAX],
        srv_key[CA_PATH_MAX], san[CA_SAN_MAX];
    int rc = build_san(hostnames, n_hostnames, san, sizeof(san), err, err_len);
    if (rc < 0)
        return rc;
    if ((rc = join_path(dir, sizeof(dir), data_dir, SEC_CA_DIR, "", err, err_len)) < 0 ||
        (rc = join_path(ca_crt, sizeof(ca_crt), dir, SEC_CA_CERT_FILE, "", err, err_len)) < 0 ||
        (rc = join_path(ca_key, sizeof(ca_key), dir, SEC_CA_KEY_FILE, "", err, err_len)) < 0 ||
        (rc = join_path(srv_crt, sizeof(srv_crt), dir, SEC_CA_SERVER_CERT, "", err, err_len)) < 0 ||
        (rc = join_path(srv_key, sizeof(srv_key), dir, SEC_CA_SERVER_KEY, "", err, err_len)) < 0)
        return rc;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        snprintf(err, err_len, "cannot create %s: %s", dir, hx_strerror(rc));
        return rc;
    }
    int have_ca = pair_state(ca_crt, ca_key, err, err_len);
    if (have_ca < 0)
        return have_ca;
    int have_srv = pair_state(srv_crt, srv_key, err, err_len);
    if (have_srv < 0)
        return have_srv;
    if (have_ca && have_srv)
        return 0;

    X509 *ca = NULL;
    EVP_PKEY *ca_pkey = NULL;
    if (!have_ca) {
        struct cert_spec spec = {
            .cn = "medhub device CA",
            .org = "medhub",
            .days = SEC_CA_DAYS,
            .is_ca = true,
            .key_use = "critical,keyCertSign,cRLSign",
        };
        rc = create_pair(&spec, ca_crt, ca_key, &ca, &ca_pkey, err, err_len);
        if (rc < 0)
            return rc;
        res->ca_created = true;
    } else if (!have_srv) {
        if ((rc = load_ca(dir, &ca, &ca_pkey, err, err_len)) < 0)
            return rc;
    }
    if (!have_srv) {
        struct cert_spec spec = {
            .cn = "medhub server",
            .org = "medhub",
            .days = SEC_SERVER_DAYS,
            .key_use = "critical,digitalSignature",
            .eku = "serverAuth",
            .san = san,
            .issuer = ca,
            .issuer_key = ca_pkey,
        };
        rc = create_pair(&spec, srv_crt, srv_key, NULL, NULL, err, err_len);
        if (rc == 0)
            res->server_created = true;
    }
    X509_free(ca);
    EVP_PKEY_free(ca_pkey);
    return rc;
}

int sec_ca_ensure(const char *data_dir, const char *const *hostnames, size_t n_hostnames, char *err,
                  size_t err_len)
{
    return sec_ca_ensure_ex(data_dir, hostnames, n_hostnames, NULL, err, err_len);
}

static void out_path(char *dst, size_t len, const char *path)
{
    if (dst)
        snprintf(dst, len, "%s", path);
}

int sec_ca_issue_device_ex(const char *data_dir, const char *device_id, const char *out_dir,
                           char *cert_path, char *key_path, char *ca_path, size_t path_len,
                           char *err, size_t err_len)
{
    if (!device_id || dev_uid_validate(device_id) < 0) {
        snprintf(err, err_len, "device ID '%s': expected 1-63 characters of A-Z a-z 0-9 . _ -",
                 device_id ? device_id : "");
        return HX_EINVAL;
    }
    char dir[CA_PATH_MAX], ca_crt[CA_PATH_MAX], crt[CA_PATH_MAX], key[CA_PATH_MAX],
        ca_copy[CA_PATH_MAX];
    int rc;
    if ((rc = join_path(dir, sizeof(dir), data_dir, SEC_CA_DIR, "", err, err_len)) < 0 ||
        (rc = join_path(ca_crt, sizeof(ca_crt), dir, SEC_CA_CERT_FILE, "", err, err_len)) < 0 ||
        (rc = join_path(crt, sizeof(crt), out_dir, device_id, ".crt", err, err_len)) < 0 ||
        (rc = join_path(key, sizeof(key), out_dir, device_id, ".key", err, err_len)) < 0 ||
        (rc = join_path(ca_copy, sizeof(ca_copy), out_dir, "ca.crt", "", err, err_len)) < 0)
        return rc;

    X509 *ca;
    EVP_PKEY *ca_pkey;
    rc = load_ca(dir, &ca, &ca_pkey, err, err_len);
    if (rc == -ENOENT)
        snprintf(err, err_len, "no device CA in %s (run 'medhub init')", dir);
    if (rc < 0)
        return rc;
    uint8_t *ca_pem = NULL;
    size_t ca_len = 0;
    if ((rc = read_file(ca_crt, &ca_pem, &ca_len, err, err_len)) < 0)
        goto out_free_ca;

    /* ca.crt: keep an identical copy, refuse to replace a different one. */
    bool write_ca = true;
    if (file_exists(ca_copy)) {
        uint8_t *old = NULL;
        size_t old_len = 0;
        if ((rc = read_file(ca_copy, &old, &old_len, err, err_len)) < 0)
            goto out_free_pem;
        bool same = old_len == ca_len && !memcmp(old, ca_pem, ca_len);
        free(old);
        if (!same) {
            snprintf(err, err_len, "%s exists and holds a different CA (not overwritten)", ca_copy);
            rc = -EEXIST;
            goto out_free_pem;
        }
        write_ca = false;
    }
    if (file_exists(crt) || file_exists(key)) {
        snprintf(err, err_len, "%s exists (not overwritten): remove %s and %s to issue anew",
                 file_exists(crt) ? crt : key, crt, key);
        rc = -EEXIST;
        goto out_free_pem;
    }
    struct cert_spec spec = {
        .cn = device_id,
        .days = SEC_DEVICE_DAYS,
        .key_use = "critical,digitalSignature",
        .eku = "clientAuth",
        .issuer = ca,
        .issuer_key = ca_pkey,
    };
    if ((rc = create_pair(&spec, crt, key, NULL, NULL, err, err_len)) < 0)
        goto out_free_pem;
    if (write_ca) {
        struct bytes b = {ca_pem, ca_len};
        rc = write_new_file(ca_copy, 0644, put_bytes, &b, err, err_len);
        if (rc < 0) {
            unlink(crt);
            unlink(key);
            goto out_free_pem;
        }
    }
    out_path(cert_path, path_len, crt);
    out_path(key_path, path_len, key);
    out_path(ca_path, path_len, ca_copy);
out_free_pem:
    free(ca_pem);
out_free_ca:
    X509_free(ca);
    EVP_PKEY_free(ca_pkey);
    return rc;
}

int sec_ca_issue_device(const char *data_dir, const char *device_id, const char *out_dir, char *err,
                        size_t err_len)
{
    return sec_ca_issue_device_ex(data_dir, device_id, out_dir, NULL, NULL, NULL, 0, err, err_len);
}

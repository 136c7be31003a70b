/*
 * Unit tests for src/security/ca.c: the device CA and server certificate in <data-dir>/tls/
 * (created once with 0600 keys, never overwritten, SANs, key usages) and device client
 * certificates (CN, clientAuth, one year, chain verifies against the CA).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "security/ca.h"

#include <errno.h>
#include <ftw.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int setup(void **state)
{
    char tmpl[] = "/tmp/medhub-ca-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    *state = strdup(d);
    return 0;
}

static int teardown(void **state)
{
    nftw(*state, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(*state);
    return 0;
}

__attribute__((noinline)) static void path_of(char *buf, size_t len, const char *dir,
                                              const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static mode_t mode_of(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_mode & 0777;
}

static X509 *load(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

static int verify(X509 *ca, X509 *leaf, int purpose)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, NULL);
    X509_STORE_CTX_set_purpose(ctx, purpose);
    int ok = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

static void test_ca_ensure_creates_files_with_0600_keys(void **state)
{
    const char *dir = *state;
    char err[512] = "";
    static const char *const hosts[] = {"medhub.example.org", "10.1.2.3"};
    struct sec_ca_result res;
    int rc = sec_ca_ensure_ex(dir, hosts, 2, &res, err, sizeof(err));
    if (rc)
        fail_msg("%s", err);
    assert_true(res.ca_created);
    assert_true(res.server_created);
    char p[512];
    path_of(p, sizeof(p), dir, "tls");
    assert_int_equal(mode_of(p), 0700);
    path_of(p, sizeof(p), dir, "tls/device-ca.key");
    assert_int_equal(mode_of(p), 0600);
    path_of(p, sizeof(p), dir, "tls/server.key");
    assert_int_equal(mode_of(p), 0600);
    path_of(p, sizeof(p), dir, "tls/device-ca.crt");
    assert_int_equal(mode_of(p), 0644);
    path_of(p, sizeof(p), dir, "tls/server.crt");
    assert_int_equal(mode_of(p), 0644);
}

static void test_ca_ensure_never_overwrites(void **state)
{
    const char *dir = *state;
    char err[512] = "", p[512];
    assert_int_equal(sec_ca_ensure(dir, NULL, 0, err, sizeof(err)), 0);
    static const char *const names[] = {"tls/device-ca.crt", "tls/device-ca.key", "tls/server.crt",
                                        "tls/server.key"};
    char *before[4];
    for (int i = 0; i < 4; i++) {
        path_of(p, sizeof(p), dir, names[i]);
        before[i] = slurp(p);
    }
    struct sec_ca_result res;
    assert_int_equal(sec_ca_ensure_ex(dir, NULL, 0, &res, err, sizeof(err)), 0);
    assert_false(res.ca_created);
    assert_false(res.server_created);
    for (int i = 0; i < 4; i++) {
        path_of(p, sizeof(p), dir, names[i]);
        char *after = slurp(p);
        assert_string_equal(before[i], after);
        free(after);
    }
    /* Only the server pair missing: it is regenerated from the existing CA. */
    path_of(p, sizeof(p), dir, "tls/server.crt");
    unlink(p);
    path_of(p, sizeof(p), dir, "tls/server.key");
    unlink(p);
    assert_int_equal(sec_ca_ensure_ex(dir, NULL, 0, &res, err, sizeof(err)), 0);
    assert_false(res.ca_created);
    assert_true(res.server_created);
    path_of(p, sizeof(p), dir, "tls/device-ca.crt");
    char *ca_after = slurp(p);
    assert_string_equal(before[0], ca_after);
    free(ca_after);
    /* Half a pair is an error, never repaired by overwriting. */
    path_of(p, sizeof(p), dir, "tls/server.crt");
    unlink(p);
    assert_int_equal(sec_ca_ensure(dir, NULL, 0, err, sizeof(err)), HX_ECORRUPT);
    assert_non_null(strstr(err, "server.key exists without"));
    for (int i = 0; i < 4; i++)
        free(before[i]);
}

static void test_ca_server_cert_sans_and_usage(void **state)
{
    const char *dir = *state;
    char err[512] = "", p[512];
    static const char *const hosts[] = {"medhub.example.org", "10.1.2.3", "fd00::5"};
    assert_int_equal(sec_ca_ensure(dir, hosts, 3, err, sizeof(err)), 0);
    path_of(p, sizeof(p), dir, "tls/server.crt");
    X509 *srv = load(p);
    path_of(p, sizeof(p), dir, "tls/device-ca.crt");
    X509 *ca = load(p);
    assert_int_equal(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(srv, "medhub.example.org", 0, 0, NULL), 1);
    assert_int_not_equal(X509_check_host(srv, "other.example.org", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(srv, "::1", 0), 1);
    assert_int_equal(X509_check_ip_asc(srv, "10.1.2.3", 0), 1);
    assert_int_equal(X509_check_ip_asc(srv, "fd00::5", 0), 1);
    assert_true(X509_get_extended_key_usage(srv) & XKU_SSL_SERVER);
    assert_int_equal(X509_check_ca(srv), 0);
    assert_int_equal(X509_check_ca(ca), 1);
    assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
    assert_int_equal(X509_get_version(ca), X509_VERSION_3);
    assert_int_equal(verify(ca, srv, X509_PURPOSE_SSL_SERVER), 1);
    int days, secs;
    assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca), X509_get0_notAfter(ca)));
    assert_true(days >= 3650 && days <= 3651);
    assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(srv), X509_get0_notAfter(srv)));
    assert_true(days >= 730 && days <= 731);
    X509_free(srv);
    X509_free(ca);
    /* A host name that could smuggle in another SAN is refused. */
    static const char *const bad[] = {"a.example,DNS:evil.example"};
    char dir2[512];
    path_of(dir2, sizeof(dir2), dir, "other");
    mkdir(dir2, 0700);
    assert_int_equal(sec_ca_ensure(dir2, bad, 1, err, sizeof(err)), HX_EINVAL);
}

static void test_ca_issue_device_cert(void **state)
{
    const char *dir = *state;
    char err[512] = "", p[512], out[512];
    assert_int_equal(sec_ca_ensure(dir, NULL, 0, err, sizeof(err)), 0);
    path_of(out, sizeof(out), dir, "out");
    assert_int_equal(mkdir(out, 0700), 0);
    char crt[600], key[600], cacopy[600];
    int rc = sec_ca_issue_device_ex(dir, "bp-cuff-07", out, crt, key, cacopy, sizeof(crt), err,
                                    sizeof(err));
    if (rc)
        fail_msg("%s", err);
    path_of(p, sizeof(p), out, "bp-cuff-07.crt");
    assert_string_equal(crt, p);
    path_of(p, sizeof(p), out, "bp-cuff-07.key");
    assert_string_equal(key, p);
    assert_int_equal(mode_of(key), 0600);
    path_of(p, sizeof(p), out, "ca.crt");
    assert_string_equal(cacopy, p);

    X509 *dev = load(crt);
    X509 *ca = load(cacopy);
    char cn[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(dev), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "bp-cuff-07");
    uint32_t xku = X509_get_extended_key_usage(dev);
    assert_true(xku & XKU_SSL_CLIENT);
    assert_false(xku & XKU_SSL_SERVER);
    assert_int_equal(X509_check_ca(dev), 0);
    assert_int_equal(verify(ca, dev, X509_PURPOSE_SSL_CLIENT), 1);
    assert_int_not_equal(verify(ca, dev, X509_PURPOSE_SSL_SERVER), 1);
    int days, secs;
    assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(dev), X509_get0_notAfter(dev)));
    assert_true(days >= 365 && days <= 366);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(dev);
    assert_true(ASN1_STRING_length(serial) >= 8 && ASN1_STRING_length(serial) <= 17);

    /* A second device into the same directory: the identical ca.crt is kept. */
    assert_int_equal(sec_ca_issue_device(dir, "bp-cuff-08", out, err, sizeof(err)), 0);
    path_of(p, sizeof(p), out, "bp-cuff-08.crt");
    X509 *dev8 = load(p);
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(dev8), serial), 0);
    X509_free(dev8);

    /* Issuing again never overwrites. */
    char *before = slurp(crt);
    assert_int_equal(sec_ca_issue_device(dir, "bp-cuff-07", out, err, sizeof(err)), -EEXIST);
    char *after = slurp(crt);
    assert_string_equal(before, after);
    free(before);
    free(after);
    X509_free(dev);
    X509_free(ca);
}

static void test_ca_issue_device_errors(void **state)
{
    const char *dir = *state;
    char err[512] = "";
    /* no CA yet */
    assert_int_equal(sec_ca_issue_device(dir, "dev-1", dir, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "medhub init"));
    assert_int_equal(sec_ca_ensure(dir, NULL, 0, err, sizeof(err)), 0);
    assert_int_equal(sec_ca_issue_device(dir, "../evil", dir, err, sizeof(err)), HX_EINVAL);
    assert_int_equal(sec_ca_issue_device(dir, "", dir, err, sizeof(err)), HX_EINVAL);
    /* A different ca.crt in the output directory is not replaced, and nothing is left. */
    char p[512];
    path_of(p, sizeof(p), dir, "ca.crt");
    FILE *f = fopen(p, "w");
    fputs("not our CA\n", f);
    fclose(f);
    assert_int_equal(sec_ca_issue_device(dir, "dev-1", dir, err, sizeof(err)), -EEXIST);
    path_of(p, sizeof(p), dir, "dev-1.key");
    assert_int_not_equal(access(p, F_OK), 0);
    path_of(p, sizeof(p), dir, "dev-1.crt");
    assert_int_not_equal(access(p, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ca_ensure_creates_files_with_0600_keys, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ca_ensure_never_overwrites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_server_cert_sans_and_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_issue_device_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_issue_device_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

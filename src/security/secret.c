/*
 * Device secret and API token generation, keyed hashing and constant-time verification,
 * and the server key file. Layer: security (OpenSSL for HMAC). Thread: any.
 */
#include "security/secret.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int sec_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int sec_secret_generate(char out[SEC_SECRET_STR])
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[SEC_SECRET_BYTES + 1] = {0}; /* one pad byte so the loop reads whole triples */
    int rc = sec_random_bytes(raw, SEC_SECRET_BYTES);
    if (rc < 0)
        return rc;
    size_t o = 0;
    for (size_t i = 0; i < SEC_SECRET_BYTES; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
                     (i + 2 < SEC_SECRET_BYTES ? raw[i + 2] : 0);
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < SEC_SECRET_BYTES)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < SEC_SECRET_BYTES)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

int sec_server_key_load(const char *data_dir, bool create, uint8_t key[SEC_KEY_LEN], char *err,
                        size_t err_len)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/server.key", data_dir) >= sizeof(path)) {
        snprintf(err, err_len, "data directory path too long");
        return HX_EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        int rc = sec_random_bytes(key, SEC_KEY_LEN);
        if (rc < 0)
            return rc;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = -errno;
            snprintf(err, err_len, "cannot create %s: %s", path, hx_strerror(rc));
            return rc;
        }
        ssize_t w = write(fd, key, SEC_KEY_LEN);
        if (w != SEC_KEY_LEN || fsync(fd) < 0) {
            rc = w < 0 ? -errno : HX_EFULL;
            close(fd);
            unlink(path);
            snprintf(err, err_len, "cannot write %s: %s", path, hx_strerror(rc));
            return rc;
        }
        close(fd);
        return 0;
    }
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, err_len, "cannot open %s: %s%s", path, hx_strerror(rc),
                 rc == -ENOENT ? " (run 'medhub init' first)" : "");
        return rc;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || (sb.st_mode & 077)) {
        close(fd);
        snprintf(err, err_len, "%s is readable by group or others; chmod 600 it", path);
        return HX_EDENIED;
    }
    ssize_t n = read(fd, key, SEC_KEY_LEN);
    close(fd);
    if (n != SEC_KEY_LEN || sb.st_size != SEC_KEY_LEN) {
        snprintf(err, err_len, "%s is damaged: expected %d bytes", path, SEC_KEY_LEN);
        return HX_ECORRUPT;
    }
    return 0;
}

void sec_secret_hash(const uint8_t key[SEC_KEY_LEN], const char *secret, size_t len,
                     char out[SEC_HASH_HEX])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), key, SEC_KEY_LEN, (const uint8_t *)secret, len, mac, &mac_len);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[64] = '\0';
}

bool sec_secret_verify(const uint8_t key[SEC_KEY_LEN], const char *secret, size_t len,
                       const char *stored_hex)
{
    char computed[SEC_HASH_HEX];
    sec_secret_hash(key, secret, len, computed);
    if (strlen(stored_hex) != 64)
        return false;
    return CRYPTO_memcmp(computed, stored_hex, 64) == 0;
}

int sec_hmac_sha256_hex(const void *key, size_t key_len, const struct slice *parts, size_t n,
                        char out[SEC_HASH_HEX])
{
    static const char hex[] = "0123456789abcdef";
    static const uint8_t no_key; /* OpenSSL wants a non-NULL key, even an empty one */
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    uint8_t md[EVP_MAX_MD_SIZE];
    size_t md_len = 0;
    int rc = -ENOMEM;
    out[0] = '\0';
    if (!ctx || !EVP_MAC_init(ctx, key_len ? key : &no_key, key_len, params))
        goto out_free;
    for (size_t i = 0; i < n; i++)
        if (parts[i].len && !EVP_MAC_update(ctx, parts[i].ptr, parts[i].len))
            goto out_free;
    if (!EVP_MAC_final(ctx, md, &md_len, sizeof(md)) || md_len != 32)
        goto out_free;
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    rc = 0;
out_free:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

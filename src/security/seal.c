/*
 * AES-256-GCM sealing of small secrets under purpose keys derived from server.key (see
 * seal.h). OpenSSL EVP. Layer: security. Thread: any (no shared state).
 */
#include "security/seal.h"
#include "core/err.h"
#include "core/slice.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define NONCE_LEN 12
#define TAG_LEN   16
#define RAW_MAX   (NONCE_LEN + SEC_SEAL_MAX_PLAIN + TAG_LEN)

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void derive(const uint8_t key[SEC_KEY_LEN], const char *purpose, uint8_t out[32])
{
    static const char label[] = "medhub seal v1 ";
    uint8_t msg[256];
    size_t l = strlen(label), p = strnlen(purpose, sizeof(msg) - l);
    memcpy(msg, label, l);
    memcpy(msg + l, purpose, p);
    unsigned out_len = 0;
    HMAC(EVP_sha256(), key, SEC_KEY_LEN, msg, l + p, out, &out_len);
}

static size_t b64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64_decode(const char *in, uint8_t *out, size_t cap, size_t *len)
{
    uint32_t buf = 0;
    int bits = 0;
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        const char *hit = strchr(b64url, *p);
        if (!hit)
            return HX_ECORRUPT;
        buf = (buf << 6) | (uint32_t)(hit - b64url);
        bits += 6;
        if (bits >= 8) {
            if (o == cap)
                return HX_ECORRUPT;
            out[o++] = (uint8_t)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    *len = o;
    return 0;
}

int sec_seal(const uint8_t key[SEC_KEY_LEN], const char *purpose, const char *aad,
             const uint8_t *plain, size_t len, char out[SEC_SEAL_TEXT_MAX])
{
    if (len > SEC_SEAL_MAX_PLAIN)
        return HX_ETOOBIG;
    uint8_t k[32], raw[RAW_MAX];
    int rc = sec_random_bytes(raw, NONCE_LEN);
    if (rc < 0)
        return rc;
    derive(key, purpose, k);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    rc = -ENOMEM;
    if (!ctx || !EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k, raw) ||
        !EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) ||
        !EVP_EncryptUpdate(ctx, raw + NONCE_LEN, &n, plain, (int)len) ||
        !EVP_EncryptFinal_ex(ctx, raw + NONCE_LEN + n, &n) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + NONCE_LEN + len))
        goto out_free;
    memcpy(out, "v1.", 3);
    b64_encode(raw, NONCE_LEN + len + TAG_LEN, out + 3);
    rc = 0;
out_free:
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

int sec_unseal(const uint8_t key[SEC_KEY_LEN], const char *purpose, const char *aad,
               const char *text, uint8_t *plain, size_t cap, size_t *len)
{
    uint8_t k[32], raw[RAW_MAX];
    size_t raw_len = 0;
    *len = 0;
    if (strncmp(text, "v1.", 3) != 0 || b64_decode(text + 3, raw, sizeof(raw), &raw_len) < 0 ||
        raw_len < NONCE_LEN + TAG_LEN)
        return HX_ECORRUPT;
    size_t clen = raw_len - NONCE_LEN - TAG_LEN;
    if (clen > cap)
        return HX_ETOOBIG;
    derive(key, purpose, k);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, rc = HX_ECORRUPT;
    if (!ctx) {
        rc = -ENOMEM;
        goto out_free;
    }
    if (!EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k, raw) ||
        !EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) ||
        !EVP_DecryptUpdate(ctx, plain, &n, raw + NONCE_LEN, (int)clen) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + NONCE_LEN + clen) ||
        EVP_DecryptFinal_ex(ctx, plain + n, &n) <= 0) {
        OPENSSL_cleanse(plain, clen);
        goto out_free;
    }
    *len = clen;
    rc = 0;
out_free:
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

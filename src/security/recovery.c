/*
 * Recovery code generation, normalization and keyed hashing (see recovery.h).
 * Layer: security. Thread: any (no shared state).
 */
#include "security/recovery.h"
#include "core/slice.h"

#include <openssl/crypto.h>
#include <string.h>

/* Crockford's Base32, lower case: no i, l, o, u. */
static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

int sec_recovery_generate(char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN])
{
    uint8_t raw[SEC_RECOVERY_N * SEC_RECOVERY_CHARS];
    int rc = sec_random_bytes(raw, sizeof(raw));
    if (rc < 0)
        return rc;
    for (int i = 0; i < SEC_RECOVERY_N; i++) {
        char *c = codes[i];
        int o = 0;
        for (int j = 0; j < SEC_RECOVERY_CHARS; j++) {
            if (j && j % 4 == 0)
                c[o++] = '-';
            c[o++] = alphabet[raw[i * SEC_RECOVERY_CHARS + j] & 31]; /* 256 % 32 == 0: unbiased */
        }
        c[o] = '\0';
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

bool sec_recovery_normalize(const char *in, char out[SEC_RECOVERY_CHARS + 1])
{
    int n = 0;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == '-' || c == ' ')
            continue;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == 'i' || c == 'l')
            c = '1';
        else if (c == 'o')
            c = '0';
        if (!strchr(alphabet, c) || c == '\0' || n == SEC_RECOVERY_CHARS)
            return false;
        out[n++] = c;
    }
    out[n] = '\0';
    return n == SEC_RECOVERY_CHARS;
}

bool sec_recovery_hash(const uint8_t key[SEC_KEY_LEN], const char *code, char out[SEC_HASH_HEX])
{
    char norm[SEC_RECOVERY_CHARS + 1];
    bool ok = sec_recovery_normalize(code, norm);
    if (!ok)
        memset(norm, 0, sizeof(norm));
    struct slice parts[] = {{(const uint8_t *)"medhub recovery v1 ", 19},
                            {(const uint8_t *)norm, SEC_RECOVERY_CHARS}};
    if (sec_hmac_sha256_hex(key, SEC_KEY_LEN, parts, 2, out) < 0)
        out[0] = '\0';
    OPENSSL_cleanse(norm, sizeof(norm));
    return ok;
}

bool sec_recovery_verify(const uint8_t key[SEC_KEY_LEN], const char *code, const char *stored_hex)
{
    char h[SEC_HASH_HEX];
    bool ok = sec_recovery_hash(key, code, h);
    if (strlen(stored_hex) != SEC_HASH_HEX - 1 || strlen(h) != SEC_HASH_HEX - 1)
        return false;
    return (CRYPTO_memcmp(h, stored_hex, SEC_HASH_HEX - 1) == 0) & ok;
}

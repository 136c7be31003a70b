/*
 * API token creation and validation (see apitoken.h). Layer: security.
 * Thread: any (no shared state).
 */
#include "security/apitoken.h"
#include "core/err.h"

#include <openssl/crypto.h>
#include <string.h>

const char *sec_apitoken_state_name(enum sec_apitoken_state state)
{
    switch (state) {
    case SEC_APITOKEN_VALID:
        return "valid";
    case SEC_APITOKEN_UNKNOWN:
        return "unknown";
    case SEC_APITOKEN_REVOKED:
        return "revoked";
    case SEC_APITOKEN_EXPIRED:
        return "expired";
    }
    return "unknown";
}

bool sec_apitoken_is_wellformed(const char *text, size_t len)
{
    if (!text || len != SEC_APITOKEN_LEN || memcmp(text, SEC_APITOKEN_PREFIX, 4) != 0)
        return false;
    for (size_t i = 4; i < len; i++) {
        char c = text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

int sec_apitoken_create(struct store *st, const uint8_t key[SEC_KEY_LEN], struct store_apitoken *t,
                        char token[SEC_APITOKEN_STR])
{
    char raw[SEC_SECRET_STR];
    int rc = sec_secret_generate(raw);
    if (rc < 0)
        return rc;
    memcpy(token, SEC_APITOKEN_PREFIX, 4);
    memcpy(token + 4, raw, SEC_SECRET_STR); /* 43 characters and the NUL */
    OPENSSL_cleanse(raw, sizeof(raw));
    sec_secret_hash(key, token, SEC_APITOKEN_LEN, t->token_hash);
    t->last_used_us = 0;
    t->revoked_us = 0;
    rc = store_apitoken_add(st, t);
    if (rc < 0)
        OPENSSL_cleanse(token, SEC_APITOKEN_STR);
    return rc;
}

int sec_apitoken_validate(struct store *st, const uint8_t key[SEC_KEY_LEN], const char *token,
                          size_t len, int64_t now_us, struct store_apitoken *out,
                          enum sec_apitoken_state *state)
{
    *state = SEC_APITOKEN_UNKNOWN;
    memset(out, 0, sizeof(*out));
    if (!sec_apitoken_is_wellformed(token, len))
        return 0;
    char hash[SEC_HASH_HEX];
    sec_secret_hash(key, token, len, hash);
    int rc = store_apitoken_get_by_hash(st, hash, out);
    if (rc == HX_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    /* The lookup was by hash; compare once more in constant time all the same. */
    if (CRYPTO_memcmp(hash, out->token_hash, SEC_HASH_HEX - 1) != 0) {
        memset(out, 0, sizeof(*out));
        return 0;
    }
    if (out->revoked_us) {
        *state = SEC_APITOKEN_REVOKED;
        return 0;
    }
    if (out->expires_us && now_us >= out->expires_us) {
        *state = SEC_APITOKEN_EXPIRED;
        return 0;
    }
    *state = SEC_APITOKEN_VALID;
    if (now_us - out->last_used_us >= 60 * INT64_C(1000000)) {
        rc = store_apitoken_touch(st, out->id, now_us);
        if (rc < 0)
            return rc;
        out->last_used_us = now_us;
    }
    return 0;
}

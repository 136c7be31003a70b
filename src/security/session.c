/*
 * Sessions: creation with a random token stored only as a keyed hash, validation against
 * idle and absolute timeouts, logout, and the derived CSRF token (see session.h).
 * Layer: security. Thread: any (no shared state).
 */
#include "security/session.h"
#include "core/err.h"
#include "core/slice.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

enum sec_session_state sec_session_state(const struct store_session *s,
                                         const struct sec_session_policy *p, int64_t now_us)
{
    if (now_us >= s->expires_us || now_us - s->created_us >= p->absolute_us)
        return SEC_SESSION_EXPIRED;
    if (now_us - s->last_seen_us >= p->idle_us)
        return SEC_SESSION_IDLE;
    return SEC_SESSION_VALID;
}

bool sec_session_needs_touch(const struct store_session *s, int64_t now_us)
{
    return now_us - s->last_seen_us >= SEC_SESSION_TOUCH_US;
}

const char *sec_session_state_name(enum sec_session_state state)
{
    switch (state) {
    case SEC_SESSION_VALID:
        return "valid";
    case SEC_SESSION_IDLE:
        return "idle";
    case SEC_SESSION_EXPIRED:
        return "expired";
    case SEC_SESSION_UNKNOWN:
        return "unknown";
    }
    return "unknown";
}

int sec_session_create(struct store *st, const uint8_t key[SEC_KEY_LEN], int64_t user_id,
                       const char *address, const char *user_agent,
                       const struct sec_session_policy *p, int64_t now_us,
                       char token[SEC_SECRET_STR], struct store_session *out)
{
    memset(out, 0, sizeof(*out));
    int rc = sec_secret_generate(token);
    if (rc < 0)
        return rc;
    sec_secret_hash(key, token, strlen(token), out->token_hash);
    out->user_id = user_id;
    out->created_us = out->last_seen_us = now_us;
    out->expires_us = now_us + p->absolute_us;
    snprintf(out->address, sizeof(out->address), "%s", address ? address : "");
    snprintf(out->user_agent, sizeof(out->user_agent), "%s", user_agent ? user_agent : "");
    rc = store_session_add(st, out);
    if (rc < 0)
        OPENSSL_cleanse(token, SEC_SECRET_STR);
    return rc;
}

int sec_session_validate(struct store *st, const uint8_t key[SEC_KEY_LEN], const char *token,
                         size_t len, const struct sec_session_policy *p, int64_t now_us,
                         struct store_session *out, enum sec_session_state *state)
{
    *state = SEC_SESSION_UNKNOWN;
    memset(out, 0, sizeof(*out));
    if (!token || len == 0 || len >= SEC_SECRET_STR)
        return 0; /* not one of ours: no lookup */
    char hash[SEC_HASH_HEX];
    sec_secret_hash(key, token, len, hash);
    int rc = store_session_get(st, hash, out);
    if (rc == HX_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    *state = sec_session_state(out, p, now_us);
    if (*state != SEC_SESSION_VALID) {
        rc = store_session_delete(st, out->id, 0);
        memset(out, 0, sizeof(*out));
        if (rc < 0 && rc != HX_ENOTFOUND)
            return rc;
    }
    return 0;
}

int sec_session_logout(struct store *st, const uint8_t key[SEC_KEY_LEN], const char *token,
                       size_t len)
{
    struct store_session s;
    char hash[SEC_HASH_HEX];
    if (!token || len == 0 || len >= SEC_SECRET_STR)
        return HX_ENOTFOUND;
    sec_secret_hash(key, token, len, hash);
    int rc = store_session_get(st, hash, &s);
    if (rc < 0)
        return rc;
    return store_session_delete(st, s.id, 0);
}

void sec_csrf_token(const uint8_t key[SEC_KEY_LEN], const char *token, size_t len,
                    char out[SEC_HASH_HEX])
{
    struct slice parts[] = {{(const uint8_t *)"medhub csrf v1 ", 15},
                            {(const uint8_t *)token, len}};
    if (sec_hmac_sha256_hex(key, SEC_KEY_LEN, parts, 2, out) < 0)
        out[0] = '\0';
}

bool sec_csrf_verify(const uint8_t key[SEC_KEY_LEN], const char *token, size_t len,
                     const char *csrf, size_t csrf_len)
{
    char want[SEC_HASH_HEX];
    if (!token || len == 0 || !csrf || csrf_len != SEC_HASH_HEX - 1)
        return false;
    sec_csrf_token(key, token, len, want);
    if (strlen(want) != SEC_HASH_HEX - 1)
        return false;
    return CRYPTO_memcmp(want, csrf, SEC_HASH_HEX - 1) == 0;
}

/*
 * The login flow (password, then TOTP or a recovery code, or MFA enrolment), sessions and
 * API tokens as principals, and the account operations around them (see auth.h).
 * Layer: security (reads and writes the store). Thread: any; the caller's store connection
 * is used on the calling thread. No shared mutable state.
 */
#include "security/auth.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "security/seal.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_S INT64_C(1000000)

_Static_assert(RBAC_ROLE_ADMIN == 1 && RBAC_ROLE_CLINICIAN == 2 && RBAC_ROLE_NURSE == 3 &&
                   RBAC_ROLE_FACILITIES == 4 && RBAC_ROLE_SECURITY == 5 && RBAC_ROLE_AUDITOR == 6 &&
                   RBAC_ROLE_PATIENT == 7 && RBAC_ROLE_INTEGRATION == 8,
               "auth.mfa_roles bit i is role i + 1 (core/cfg.c role_names)");

/* ---- Policy ------------------------------------------------------------------------------- */

static void policy_from(struct auth_policy *p, uint32_t idle_s, uint32_t absolute_s,
                        unsigned cfg_roles, uint32_t ticket_s, uint32_t free, uint32_t max_delay_s,
                        uint32_t lock_after, uint32_t lock_s, uint32_t addr_free, uint32_t bg_def,
                        uint32_t bg_max)
{
    memset(p, 0, sizeof(*p));
    p->session.idle_us = (int64_t)idle_s * US_PER_S;
    p->session.absolute_us = (int64_t)absolute_s * US_PER_S;
    p->mfa_roles = cfg_roles << 1; /* config bit i is role i + 1 */
    p->ticket_us = (int64_t)ticket_s * US_PER_S;
    p->account = (struct sec_throttle_policy){
        .free_failures = free,
        .base_delay_us = US_PER_S,
        .max_delay_us = (int64_t)max_delay_s * US_PER_S,
        .lock_after = lock_after,
        .lock_duration_us = (int64_t)lock_s * US_PER_S,
        .reset_after_us = 24 * 3600 * US_PER_S,
    };
    p->address = (struct sec_throttle_policy){
        .free_failures = addr_free,
        .base_delay_us = US_PER_S,
        .max_delay_us = (int64_t)max_delay_s * US_PER_S,
        .lock_after = 0,
        .reset_after_us = 3600 * US_PER_S,
    };
    p->break_glass_default_min = (int)bg_def;
    p->break_glass_max_min = (int)bg_max;
}

void auth_policy_default(struct auth_policy *out)
{
    /* admin, clinician, nurse, facilities, security, auditor: config bits 0..5 */
    policy_from(out, 900, 43200, 0x3f, 300, 3, 900, 10, 900, 20, 60, 240);
}

void auth_policy_from_cfg(const struct cfg *cfg, struct auth_policy *out)
{
    const struct cfg_auth *a = &cfg->auth;
    policy_from(out, a->session_idle_s, a->session_absolute_s, a->mfa_roles, a->login_ticket_s,
                a->throttle_free, a->throttle_max_delay_s, a->lockout_failures, a->lockout_s,
                a->address_throttle_free, a->break_glass_default_min, a->break_glass_max_min);
}

bool auth_mfa_required(const struct auth_policy *p, enum rbac_role role)
{
    return role > RBAC_ROLE_NONE && role < RBAC_ROLE__COUNT && (p->mfa_roles & (1u << role));
}

const char *auth_result_name(enum auth_result r)
{
    switch (r) {
    case AUTH_OK:
        return "ok";
    case AUTH_MFA_REQUIRED:
        return "mfa_required";
    case AUTH_MUST_ENROL_MFA:
        return "must_enrol_mfa";
    case AUTH_BAD_CREDENTIALS:
        return "bad_credentials";
    case AUTH_THROTTLED:
        return "throttled";
    case AUTH_LOCKED:
        return "locked";
    case AUTH_DISABLED:
        return "disabled";
    case AUTH_TICKET_INVALID:
        return "ticket_invalid";
    }
    return "unknown";
}

void auth_login_wipe(struct auth_login *l)
{
    OPENSSL_cleanse(l->ticket, sizeof(l->ticket));
    OPENSSL_cleanse(l->session_token, sizeof(l->session_token));
    OPENSSL_cleanse(l->csrf_token, sizeof(l->csrf_token));
}

void auth_enrolment_release(struct auth_enrolment *e)
{
    OPENSSL_cleanse(e->secret, sizeof(e->secret));
    OPENSSL_cleanse(e->uri, sizeof(e->uri));
    free(e->svg);
    e->svg = NULL;
    e->svg_len = 0;
}

/* ---- Names --------------------------------------------------------------------------------- */

bool auth_name_is_valid(const char *name, bool allow_at)
{
    size_t n = strlen(name);
    if (n == 0 || n >= STORE_USER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || (allow_at && c == '@')))
            return false;
    }
    return true;
}

bool auth_ward_is_valid(const char *ward)
{
    size_t n = strlen(ward);
    if (n == 0 || n >= PAT_WARD_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)ward[i] < 0x20 || ward[i] == ',')
            return false;
    return true;
}

/* ---- Throttling --------------------------------------------------------------------------- */

void auth_throttle_key_user(const char *name, char out[STORE_THROTTLE_KEY_MAX])
{
    snprintf(out, STORE_THROTTLE_KEY_MAX, "user:%s", name ? name : "");
}

void auth_throttle_key_addr(const char *address, char out[STORE_THROTTLE_KEY_MAX])
{
    snprintf(out, STORE_THROTTLE_KEY_MAX, "addr:%s", address ? address : "");
}

static bool has_address(const struct auth_client *c)
{
    return c && c->address && *c->address;
}

static int throttle_load(struct store *st, const char *key, struct sec_throttle *t)
{
    struct store_throttle s;
    int rc = store_throttle_get(st, key, &s);
    memset(t, 0, sizeof(*t));
    if (rc == HX_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    *t = (struct sec_throttle){s.failures, s.last_failure_us, s.next_allowed_us, s.locked_until_us};
    return 0;
}

/* Whether the account key (and the address, when there is one) may try now. OUT: *result
 * THROTTLED or LOCKED and *retry when not. */
static int throttle_check(struct store *st, const struct auth_policy *pol, const char *name,
                          const struct auth_client *c, int64_t now_us, bool *open,
                          struct auth_login *out)
{
    char key[STORE_THROTTLE_KEY_MAX];
    struct sec_throttle t;
    int64_t wait_user = 0, wait_addr = 0;
    auth_throttle_key_user(name, key);
    int rc = throttle_load(st, key, &t);
    if (rc < 0)
        return rc;
    enum sec_throttle_state su = sec_throttle_check(&t, &pol->account, now_us, &wait_user);
    enum sec_throttle_state sa = SEC_THROTTLE_OPEN;
    if (has_address(c)) {
        auth_throttle_key_addr(c->address, key);
        if ((rc = throttle_load(st, key, &t)) < 0)
            return rc;
        sa = sec_throttle_check(&t, &pol->address, now_us, &wait_addr);
    }
    *open = su == SEC_THROTTLE_OPEN && sa == SEC_THROTTLE_OPEN;
    if (!*open) {
        out->result = su == SEC_THROTTLE_LOCKED ? AUTH_LOCKED : AUTH_THROTTLED;
        out->retry_after_us = wait_user > wait_addr ? wait_user : wait_addr;
    }
    return 0;
}

/* Records one failure under key in a transaction (two failures at once both count). */
static int throttle_fail_key(struct store *st, const struct sec_throttle_policy *p, const char *key,
                             int64_t now_us)
{
    int rc = store_begin(st);
    if (rc < 0)
        return rc;
    struct sec_throttle t;
    if ((rc = throttle_load(st, key, &t)) < 0)
        goto out_rollback;
    sec_throttle_fail(&t, p, now_us);
    struct store_throttle s = {t.failures, t.last_failure_us, t.next_allowed_us, t.locked_until_us};
    if ((rc = store_throttle_put(st, key, &s)) < 0)
        goto out_rollback;
    return store_commit(st);

out_rollback:
    store_rollback(st);
    return rc;
}

static int throttle_fail(struct store *st, const struct auth_policy *pol, const char *name,
                         const struct auth_client *c, int64_t now_us)
{
    char key[STORE_THROTTLE_KEY_MAX];
    auth_throttle_key_user(name, key);
    int rc = throttle_fail_key(st, &pol->account, key, now_us);
    if (rc == 0 && has_address(c)) {
        auth_throttle_key_addr(c->address, key);
        rc = throttle_fail_key(st, &pol->address, key, now_us);
    }
    return rc;
}

/* ---- Steps shared by the flow ------------------------------------------------------------- */

static int issue_ticket(struct store *st, const uint8_t key[SEC_KEY_LEN],
                        const struct auth_policy *pol, const struct store_user *u,
                        enum store_ticket_kind kind, const struct auth_client *c, int64_t now_us,
                        struct auth_login *out)
{
    struct store_ticket t = {.user_id = u->id,
                             .kind = kind,
                             .created_us = now_us,
                             .expires_us = now_us + pol->ticket_us};
    int rc = sec_secret_generate(out->ticket);
    if (rc < 0)
        return rc;
    sec_secret_hash(key, out->ticket, strlen(out->ticket), t.token_hash);
    snprintf(t.address, sizeof(t.address), "%s", has_address(c) ? c->address : "");
    if ((rc = store_ticket_add(st, &t)) < 0) {
        OPENSSL_cleanse(out->ticket, sizeof(out->ticket));
        return rc;
    }
    out->result = kind == STORE_TICKET_MFA ? AUTH_MFA_REQUIRED : AUTH_MUST_ENROL_MFA;
    out->user_id = u->id;
    return 0;
}

/* The login is complete: a session, the CSRF token, the account's failures forgotten. */
static int complete_login(struct store *st, const uint8_t key[SEC_KEY_LEN],
                          const struct auth_policy *pol, struct store_user *u,
                          const struct auth_client *c, int64_t now_us, struct auth_login *out)
{
    int rc = sec_session_create(st, key, u->id, c ? c->address : NULL, c ? c->user_agent : NULL,
                                &pol->session, now_us, out->session_token, &out->session);
    if (rc < 0)
        return rc;
    sec_csrf_token(key, out->session_token, strlen(out->session_token), out->csrf_token);
    char tkey[STORE_THROTTLE_KEY_MAX];
    auth_throttle_key_user(u->name, tkey);
    if ((rc = store_throttle_delete(st, tkey)) < 0)
        goto out_undo;
    u->last_login_us = now_us;
    if ((rc = store_user_update(st, u, STORE_USER_LAST_LOGIN, now_us)) < 0)
        goto out_undo;
    out->result = AUTH_OK;
    out->user_id = u->id;
    out->role = rbac_role_parse(u->role);
    out->must_change_password = u->must_change_password;
    return 0;

out_undo:
    store_session_delete(st, out->session.id, 0);
    auth_login_wipe(out);
    return rc;
}

/* Loads the ticket of text for kind. OUT: *ok false (and out->result TICKET_INVALID) when it
 * is unknown, expired (then deleted) or of another kind. */
static int load_ticket(struct store *st, const uint8_t key[SEC_KEY_LEN], const char *text,
                       enum store_ticket_kind kind, int64_t now_us, struct store_ticket *t,
                       bool *ok, struct auth_login *out)
{
    *ok = false;
    out->result = AUTH_TICKET_INVALID;
    if (!text || !*text || strlen(text) >= SEC_SECRET_STR)
        return 0;
    char hash[SEC_HASH_HEX];
    sec_secret_hash(key, text, strlen(text), hash);
    int rc = store_ticket_get(st, hash, t);
    if (rc == HX_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (now_us >= t->expires_us) {
        rc = store_ticket_delete(st, hash);
        return rc == HX_ENOTFOUND ? 0 : rc;
    }
    *ok = t->kind == kind;
    return 0;
}

/* The user behind a ticket, checked again: still there, still enabled. OUT: *ok. */
static int ticket_user(struct store *st, const struct store_ticket *t, struct store_user *u,
                       bool *ok, struct auth_login *out)
{
    *ok = false;
    int rc = store_user_get_by_id(st, t->user_id, u);
    if (rc == HX_ENOTFOUND) {
        out->result = AUTH_TICKET_INVALID; /* its ticket went with it (ON DELETE CASCADE) */
        return 0;
    }
    if (rc < 0)
        return rc;
    if (u->disabled || rbac_role_parse(u->role) == RBAC_ROLE_NONE) {
        out->result = AUTH_DISABLED;
        rc = store_ticket_delete(st, t->token_hash);
        return rc == HX_ENOTFOUND ? 0 : rc;
    }
    *ok = true;
    return 0;
}

/* A wrong second factor: one failure for the account and address, one attempt on the
 * ticket (spent after AUTH_TICKET_MAX_ATTEMPTS). */
static int second_factor_failed(struct store *st, const struct auth_policy *pol,
                                const struct store_user *u, const struct store_ticket *t,
                                const struct auth_client *c, int64_t now_us, struct auth_login *out)
{
    out->result = AUTH_BAD_CREDENTIALS;
    int rc = throttle_fail(st, pol, u->name, c, now_us);
    if (rc < 0)
        return rc;
    int attempts = 0;
    rc = store_ticket_attempt(st, t->token_hash, &attempts);
    if (rc == 0 && attempts >= AUTH_TICKET_MAX_ATTEMPTS)
        rc = store_ticket_delete(st, t->token_hash);
    return rc == HX_ENOTFOUND ? 0 : rc;
}

int auth_mfa_secret(const uint8_t key[SEC_KEY_LEN], const struct store_user *u,
                    uint8_t raw[SEC_TOTP_SECRET_BYTES])
{
    if (!*u->mfa_secret)
        return HX_ENOTFOUND;
    size_t len = 0;
    int rc = sec_unseal(key, AUTH_SEAL_PURPOSE, u->name, u->mfa_secret, raw, SEC_TOTP_SECRET_BYTES,
                        &len);
    if (rc == 0 && len != SEC_TOTP_SECRET_BYTES)
        rc = HX_ECORRUPT;
    return rc;
}

/* ---- Step 1: password --------------------------------------------------------------------- */

int auth_login_password(struct store *st, const uint8_t key[SEC_KEY_LEN],
                        const struct auth_policy *pol, const char *name, const char *password,
                        size_t len, const struct auth_client *client, int64_t now_us,
                        struct auth_login *out)
{
    memset(out, 0, sizeof(*out));
    if (!name)
        name = "";
    bool open;
    int rc = throttle_check(st, pol, name, client, now_us, &open, out);
    if (rc < 0 || !open)
        return rc; /* no Argon2id time spent while throttled, known name or not */

    struct store_user u;
    rc = strlen(name) < STORE_USER_NAME_MAX ? store_user_get(st, name, &u) : HX_ENOTFOUND;
    if (rc < 0 && rc != HX_ENOTFOUND)
        return rc;
    bool known = rc == 0;
    bool ok;
    if (known && *u.password_hash) {
        ok = sec_password_verify(u.password_hash, password, len);
    } else {
        sec_password_verify_dummy(password, len); /* same time as a real verification */
        ok = false;
    }
    if (!ok) {
        out->result = AUTH_BAD_CREDENTIALS;
        rc = throttle_fail(st, pol, name, client, now_us);
        goto out_wipe;
    }
    enum rbac_role role = rbac_role_parse(u.role);
    if (u.disabled || role == RBAC_ROLE_NONE) {
        out->result = AUTH_DISABLED;
        rc = 0;
        goto out_wipe;
    }
    if (sec_password_needs_rehash(u.password_hash)) {
        /* Parameters changed since this hash was made: upgrade it while we have the password.
         * A failure here is not a failed login. */
        if (sec_password_hash(password, len, u.password_hash) == 0 &&
            store_user_update(st, &u, STORE_USER_PASSWORD, now_us) < 0)
            log_warn(NULL, "auth", "cannot store a rehashed password", "user_id=%lld",
                     (long long)u.id);
    }
    if (u.mfa_enrolled)
        rc = issue_ticket(st, key, pol, &u, STORE_TICKET_MFA, client, now_us, out);
    else if (auth_mfa_required(pol, role))
        rc = issue_ticket(st, key, pol, &u, STORE_TICKET_ENROL, client, now_us, out);
    else
        rc = complete_login(st, key, pol, &u, client, now_us, out);

out_wipe:
    if (known)
        OPENSSL_cleanse(&u, sizeof(u));
    return rc;
}

/* ---- Step 2: a code ----------------------------------------------------------------------- */

int auth_login_totp(struct store *st, const uint8_t key[SEC_KEY_LEN], const struct auth_policy *pol,
                    const char *ticket, const char *code, const struct auth_client *client,
                    int64_t now_us, struct auth_login *out)
{
    memset(out, 0, sizeof(*out));
    struct store_ticket t;
    struct store_user u;
    bool ok;
    int rc = load_ticket(st, key, ticket, STORE_TICKET_MFA, now_us, &t, &ok, out);
    if (rc < 0 || !ok)
        return rc;
    if ((rc = ticket_user(st, &t, &u, &ok, out)) < 0 || !ok)
        goto out_wipe;
    if ((rc = throttle_check(st, pol, u.name, client, now_us, &ok, out)) < 0 || !ok)
        goto out_wipe;

    uint8_t raw[SEC_TOTP_SECRET_BYTES];
    int64_t step = 0;
    enum sec_totp_result tr = SEC_TOTP_BAD;
    rc = auth_mfa_secret(key, &u, raw);
    if (rc == 0)
        tr = sec_totp_verify(raw, sizeof(raw), code, now_us / US_PER_S, u.mfa_last_step, &step);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (rc == HX_ECORRUPT)
        log_error(NULL, "auth", "a TOTP secret does not open with this server.key", "user_id=%lld",
                  (long long)u.id);
    if (rc < 0 && rc != HX_ENOTFOUND && rc != HX_ECORRUPT)
        goto out_wipe;
    if (tr == SEC_TOTP_OK) {
        /* Spend the ticket first: of two requests racing with it, one gets here. */
        rc = store_ticket_delete(st, t.token_hash);
        if (rc == HX_ENOTFOUND) {
            out->result = AUTH_TICKET_INVALID;
            rc = 0;
            goto out_wipe;
        }
        if (rc < 0)
            goto out_wipe;
        rc = store_user_use_mfa_step(st, u.id, step);
        if (rc == HX_EEXIST) {
            tr = SEC_TOTP_REPLAY; /* the same code won a race elsewhere */
        } else if (rc < 0) {
            goto out_wipe;
        } else {
            u.mfa_last_step = step;
            rc = complete_login(st, key, pol, &u, client, now_us, out);
            goto out_wipe;
        }
    }
    out->replayed = tr == SEC_TOTP_REPLAY;
    rc = second_factor_failed(st, pol, &u, &t, client, now_us, out);

out_wipe:
    OPENSSL_cleanse(&u, sizeof(u));
    return rc;
}

int auth_login_recovery(struct store *st, const uint8_t key[SEC_KEY_LEN],
                        const struct auth_policy *pol, const char *ticket, const char *code,
                        const struct auth_client *client, int64_t now_us, struct auth_login *out)
{
    memset(out, 0, sizeof(*out));
    struct store_ticket t;
    struct store_user u;
    bool ok;
    int rc = load_ticket(st, key, ticket, STORE_TICKET_MFA, now_us, &t, &ok, out);
    if (rc < 0 || !ok)
        return rc;
    if ((rc = ticket_user(st, &t, &u, &ok, out)) < 0 || !ok)
        goto out_wipe;
    if ((rc = throttle_check(st, pol, u.name, client, now_us, &ok, out)) < 0 || !ok)
        goto out_wipe;
    char hash[SEC_HASH_HEX];
    if (!code || !sec_recovery_hash(key, code, hash)) {
        rc = second_factor_failed(st, pol, &u, &t, client, now_us, out);
        goto out_wipe;
    }
    rc = store_recovery_use(st, u.id, hash, now_us);
    if (rc == HX_ENOTFOUND) {
        rc = second_factor_failed(st, pol, &u, &t, client, now_us, out);
        goto out_wipe;
    }
    if (rc < 0)
        goto out_wipe;
    rc = store_ticket_delete(st, t.token_hash);
    if (rc == HX_ENOTFOUND) {
        out->result = AUTH_TICKET_INVALID; /* raced: the code is spent all the same */
        rc = 0;
        goto out_wipe;
    }
    if (rc < 0)
        goto out_wipe;
    if ((rc = complete_login(st, key, pol, &u, client, now_us, out)) < 0)
        goto out_wipe;
    out->used_recovery_code = true;
    rc = store_recovery_count(st, u.id, &out->recovery_codes_left);

out_wipe:
    OPENSSL_cleanse(&u, sizeof(u));
    return rc;
}

/* ---- Enrolment ---------------------------------------------------------------------------- */

/* A new secret for account: its Base32, URI and QR code into e; sealed for u into sealed. */
static int new_secret(const uint8_t key[SEC_KEY_LEN], const struct store_user *u,
                      struct auth_enrolment *e, char sealed[SEC_SEAL_TEXT_MAX])
{
    memset(e, 0, sizeof(*e));
    uint8_t raw[SEC_TOTP_SECRET_BYTES];
    int rc = sec_totp_secret_generate(raw, e->secret);
    if (rc == 0)
        rc = sec_seal(key, AUTH_SEAL_PURPOSE, u->name, raw, sizeof(raw), sealed);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (rc == 0)
        rc = sec_totp_uri(u->name, e->secret, e->uri, sizeof(e->uri));
    if (rc == 0)
        rc = sec_totp_qr_svg(e->uri, &e->svg, &e->svg_len);
    if (rc < 0)
        auth_enrolment_release(e);
    return rc;
}

int auth_mfa_provision(struct store *st, const uint8_t key[SEC_KEY_LEN], struct store_user *u,
                       int64_t now_us, struct auth_enrolment *out)
{
    char sealed[SEC_SEAL_TEXT_MAX];
    int rc = new_secret(key, u, out, sealed);
    if (rc < 0)
        return rc;
    snprintf(u->mfa_secret, sizeof(u->mfa_secret), "%s", sealed);
    u->mfa_enrolled = true;
    u->mfa_last_step = 0;
    u->mfa_pending[0] = '\0';
    if (u->id &&
        (rc = store_user_update(st, u, STORE_USER_MFA | STORE_USER_MFA_PENDING, now_us)) < 0)
        auth_enrolment_release(out);
    return rc;
}

static int start_pending(struct store *st, const uint8_t key[SEC_KEY_LEN], struct store_user *u,
                         int64_t now_us, struct auth_enrolment *out)
{
    char sealed[SEC_SEAL_TEXT_MAX];
    int rc = new_secret(key, u, out, sealed);
    if (rc < 0)
        return rc;
    snprintf(u->mfa_pending, sizeof(u->mfa_pending), "%s", sealed);
    if ((rc = store_user_update(st, u, STORE_USER_MFA_PENDING, now_us)) < 0)
        auth_enrolment_release(out);
    return rc;
}

/* Checks code against u's pending secret (no replay history: the secret is new).
 * OUT: *step. Returns 0 with *ok, HX_ENOTFOUND (nothing pending), HX_ECORRUPT. */
static int check_pending(const uint8_t key[SEC_KEY_LEN], const struct store_user *u,
                         const char *code, int64_t now_us, bool *ok, int64_t *step)
{
    *ok = false;
    if (!*u->mfa_pending)
        return HX_ENOTFOUND;
    uint8_t raw[SEC_TOTP_SECRET_BYTES];
    size_t len = 0;
    int rc = sec_unseal(key, AUTH_SEAL_PURPOSE, u->name, u->mfa_pending, raw, sizeof(raw), &len);
    if (rc == 0 && len == sizeof(raw))
        *ok = sec_totp_verify(raw, len, code, now_us / US_PER_S, -1, step) == SEC_TOTP_OK;
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

/* Makes u's pending secret the enrolled one (last step = step) and issues recovery codes. */
static int activate_pending(struct store *st, const uint8_t key[SEC_KEY_LEN], struct store_user *u,
                            int64_t step, int64_t now_us,
                            char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN])
{
    memcpy(u->mfa_secret, u->mfa_pending, sizeof(u->mfa_secret));
    u->mfa_pending[0] = '\0';
    u->mfa_enrolled = true;
    u->mfa_last_step = step;
    int rc = store_user_update(st, u, STORE_USER_MFA | STORE_USER_MFA_PENDING, now_us);
    if (rc == 0)
        rc = auth_recovery_regenerate(st, key, u->id, codes);
    return rc;
}

int auth_enrol_start(struct store *st, const uint8_t key[SEC_KEY_LEN],
                     const struct auth_policy *pol, const char *ticket, int64_t now_us,
                     struct auth_enrolment *out, enum auth_result *result)
{
    memset(out, 0, sizeof(*out));
    struct auth_login l = {0};
    struct store_ticket t;
    struct store_user u;
    bool ok;
    (void)pol;
    int rc = load_ticket(st, key, ticket, STORE_TICKET_ENROL, now_us, &t, &ok, &l);
    *result = l.result;
    if (rc < 0 || !ok)
        return rc;
    if ((rc = ticket_user(st, &t, &u, &ok, &l)) < 0 || !ok) {
        *result = l.result;
        goto out_wipe;
    }
    rc = start_pending(st, key, &u, now_us, out);
    *result = AUTH_OK;
out_wipe:
    OPENSSL_cleanse(&u, sizeof(u));
    return rc;
}

int auth_enrol_confirm(struct store *st, const uint8_t key[SEC_KEY_LEN],
                       const struct auth_policy *pol, const char *ticket, const char *code,
                       const struct auth_client *client, int64_t now_us, struct auth_login *out,
                       char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN])
{
    memset(out, 0, sizeof(*out));
    struct store_ticket t;
    struct store_user u;
    bool ok;
    int rc = load_ticket(st, key, ticket, STORE_TICKET_ENROL, now_us, &t, &ok, out);
    if (rc < 0 || !ok)
        return rc;
    if ((rc = ticket_user(st, &t, &u, &ok, out)) < 0 || !ok)
        goto out_wipe;
    if ((rc = throttle_check(st, pol, u.name, client, now_us, &ok, out)) < 0 || !ok)
        goto out_wipe;
    int64_t step = 0;
    rc = check_pending(key, &u, code ? code : "", now_us, &ok, &step);
    if (rc < 0 && rc != HX_ENOTFOUND && rc != HX_ECORRUPT)
        goto out_wipe;
    if (!ok) {
        rc = second_factor_failed(st, pol, &u, &t, client, now_us, out);
        goto out_wipe;
    }
    rc = store_ticket_delete(st, t.token_hash);
    if (rc == HX_ENOTFOUND) {
        out->result = AUTH_TICKET_INVALID;
        rc = 0;
        goto out_wipe;
    }
    if (rc < 0 || (rc = activate_pending(st, key, &u, step, now_us, codes)) < 0)
        goto out_wipe;
    rc = complete_login(st, key, pol, &u, client, now_us, out);
out_wipe:
    OPENSSL_cleanse(&u, sizeof(u));
    return rc;
}

int auth_mfa_enrol_start(struct store *st, const uint8_t key[SEC_KEY_LEN], int64_t user_id,
                         struct auth_enrolment *out)
{
    memset(out, 0, sizeof(*out));
    struct store_user u;
    int rc = store_user_get_by_id(st, user_id, &u);
    if (rc == 0)
        rc = start_pending(st, key, &u, hx_time_now_us(), out);
    OPENSSL_cleanse(&u, sizeof(u));
    return rc;
}

int auth_mfa_enrol_confirm(struct store *st, const uint8_t key[SEC_KEY_LEN], int64_t user_id,
                           const char *code, int64_t now_us,
                           char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN])
{
    struct store_user u;
    int rc = store_user_get_by_id(st, user_id, &u);
    if (rc < 0)
        return rc;
    bool ok = false;
    int64_t step = 0;
    rc = check_pending(key, &u, code ? code : "", now_us, &ok, &step);
    if (rc == 0 && !ok)
        rc = HX_EDENIED;
    if (rc == 0)
        rc = activate_pending(st, key, &u, step, now_us, codes);
    OPENSSL_cleanse(&u, sizeof(u));
    return rc;
}

int auth_recovery_regenerate(struct store *st, const uint8_t key[SEC_KEY_LEN], int64_t user_id,
                             char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN])
{
    char hashes[SEC_RECOVERY_N][STORE_HASH_MAX];
    int rc = sec_recovery_generate(codes);
    if (rc < 0)
        return rc;
    for (int i = 0; i < SEC_RECOVERY_N; i++)
        sec_recovery_hash(key, codes[i], hashes[i]);
    rc = store_recovery_set(st, user_id, (const char(*)[STORE_HASH_MAX])hashes, SEC_RECOVERY_N);
    if (rc < 0)
        OPENSSL_cleanse(codes, sizeof(char[SEC_RECOVERY_N][SEC_RECOVERY_LEN]));
    return rc;
}

/* ---- Password change ---------------------------------------------------------------------- */

int auth_password_change(struct store *st, int64_t user_id, const char *old_password,
                         size_t old_len, const char *new_password, size_t new_len,
                         int64_t keep_session_id, int64_t now_us, enum sec_pw_policy *why)
{
    *why = SEC_PW_OK;
    struct store_user u;
    int rc = store_user_get_by_id(st, user_id, &u);
    if (rc < 0)
        return rc;
    if (old_password && !sec_password_verify(u.password_hash, old_password, old_len)) {
        rc = HX_EDENIED;
        goto out_wipe;
    }
    if ((*why = sec_password_policy_check(new_password, new_len, u.name)) != SEC_PW_OK) {
        rc = HX_EINVAL;
        goto out_wipe;
    }
    if ((rc = sec_password_hash(new_password, new_len, u.password_hash)) < 0)
        goto out_wipe;
    u.must_change_password = false;
    if ((rc = store_user_update(st, &u, STORE_USER_PASSWORD, now_us)) < 0)
        goto out_wipe;
    rc = store_session_delete_user(st, u.id, keep_session_id, NULL);
out_wipe:
    OPENSSL_cleanse(&u, sizeof(u));
    return rc;
}

/* ---- Requests ----------------------------------------------------------------------------- */

int auth_session_principal(struct store *st, const uint8_t key[SEC_KEY_LEN],
                           const struct auth_policy *pol, const char *token, size_t len,
                           int64_t now_us, struct principal *out, enum sec_session_state *state)
{
    memset(out, 0, sizeof(*out));
    struct store_session s;
    int rc = sec_session_validate(st, key, token, len, &pol->session, now_us, &s, state);
    if (rc < 0 || *state != SEC_SESSION_VALID)
        return rc;
    struct store_user u;
    rc = store_user_get_by_id(st, s.user_id, &u);
    if (rc < 0 && rc != HX_ENOTFOUND)
        return rc;
    if (rc == HX_ENOTFOUND || u.disabled || rbac_role_parse(u.role) == RBAC_ROLE_NONE) {
        *state = SEC_SESSION_UNKNOWN;
        rc = store_session_delete(st, s.id, 0);
        goto out_wipe;
    }
    if ((rc = rbac_principal_for_user(st, &u, s.id, out)) < 0)
        goto out_wipe;
    if (sec_session_needs_touch(&s, now_us))
        rc = store_session_touch(st, s.id, now_us);
out_wipe:
    OPENSSL_cleanse(&u, sizeof(u));
    return rc == HX_ENOTFOUND ? 0 : rc;
}

int auth_token_principal(struct store *st, const uint8_t key[SEC_KEY_LEN], const char *token,
                         size_t len, int64_t now_us, struct principal *out,
                         enum sec_apitoken_state *state)
{
    memset(out, 0, sizeof(*out));
    struct store_apitoken t;
    int rc = sec_apitoken_validate(st, key, token, len, now_us, &t, state);
    if (rc < 0 || *state != SEC_APITOKEN_VALID)
        return rc;
    rbac_principal_for_token(&t, out);
    if (out->role == RBAC_ROLE_NONE) {
        *state = SEC_APITOKEN_UNKNOWN;
        memset(out, 0, sizeof(*out));
    }
    return 0;
}

bool auth_csrf_check(const uint8_t key[SEC_KEY_LEN], const char *token, size_t token_len,
                     const char *csrf, size_t csrf_len)
{
    return sec_csrf_verify(key, token, token_len, csrf, csrf_len);
}

int auth_logout(struct store *st, const uint8_t key[SEC_KEY_LEN], const char *token, size_t len)
{
    return sec_session_logout(st, key, token, len);
}

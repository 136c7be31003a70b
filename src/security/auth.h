/*
 * Logging in, and turning a cookie or a bearer token into a struct principal: the entry
 * points the HTTP layer calls. docs/security.md describes the flow and its parameters.
 *
 *   auth_login_password ─ OK ────────────────────────────────► session (cookie) + CSRF token
 *        │ MFA_REQUIRED (ticket) ── auth_login_totp / auth_login_recovery ─► session
 *        │ MUST_ENROL_MFA (ticket) ─ auth_enrol_start ─ auth_enrol_confirm ─► session +
 *        │                                                        recovery codes (shown once)
 *        └ BAD_CREDENTIALS | THROTTLED | LOCKED | DISABLED
 *
 * An unknown name and a wrong password give the same result after the same Argon2id time;
 * throttling is keyed by the name as typed, so it behaves the same for unknown names too.
 * Results are enums, never strings. Every function here may do disk I/O and the password
 * steps spend ~40 ms of CPU and 19 MiB in Argon2id: the daemon calls them on worker threads
 * (uv_queue_work) with a store connection that worker owns; none of them touches the loop.
 * Secrets passed in are borrowed for the call; secrets passed out (tokens, recovery codes,
 * TOTP secrets) are the caller's to show once and then wipe.
 * Thread: any (one struct store per thread).
 */
#ifndef MEDHUB_SECURITY_AUTH_H
#define MEDHUB_SECURITY_AUTH_H

#include "core/cfg.h"
#include "security/apitoken.h"
#include "security/password.h"
#include "security/rbac.h"
#include "security/recovery.h"
#include "security/session.h"
#include "security/throttle.h"
#include "security/totp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wrong codes accepted on one ticket before it is spent (a new password login is needed). */
#define AUTH_TICKET_MAX_ATTEMPTS 5

/* Everything the login flow is configured with ([auth], see auth_policy_from_cfg). */
struct auth_policy {
    struct sec_session_policy session;  /* idle and absolute timeouts */
    struct sec_throttle_policy account; /* per "user:NAME" */
    struct sec_throttle_policy address; /* per "addr:IP" */
    unsigned mfa_roles;                 /* (1u << enum rbac_role): MFA required */
    int64_t ticket_us;                  /* lifetime of a pending login */
    int break_glass_default_min;        /* grant length when none is asked for */
    int break_glass_max_min;            /* longest grant */
};

/* The defaults of docs/security.md (the same as an empty configuration). */
void auth_policy_default(struct auth_policy *out);
/* The policy of a loaded configuration ([auth] section). */
void auth_policy_from_cfg(const struct cfg *cfg, struct auth_policy *out);
/* Whether users of role must have MFA to log in. */
bool auth_mfa_required(const struct auth_policy *p, enum rbac_role role);

/* Outcome of a login step. */
enum auth_result {
    AUTH_OK = 0,          /* logged in: session_token, csrf_token, session filled */
    AUTH_MFA_REQUIRED,    /* password accepted: present a code with ticket */
    AUTH_MUST_ENROL_MFA,  /* password accepted, MFA required but not enrolled: enrol with ticket */
    AUTH_BAD_CREDENTIALS, /* unknown name, wrong password or wrong/replayed code: one answer */
    AUTH_THROTTLED,       /* too many recent failures: retry_after_us */
    AUTH_LOCKED,          /* account locked after repeated failures: retry_after_us */
    AUTH_DISABLED,        /* the password was right but the account is disabled */
    AUTH_TICKET_INVALID,  /* ticket unknown, expired, used up, or for another step */
};

/* "ok", "mfa_required", ... (stable: for the audit trail and JSON). */
const char *auth_result_name(enum auth_result r);

/* Everything a login step produces. Secrets inside: wipe with auth_login_wipe. */
struct auth_login {
    enum auth_result result;            /* see enum auth_result */
    int64_t retry_after_us;             /* THROTTLED, LOCKED: wait this long */
    int64_t user_id;                    /* the user, when known to be real (not on BAD) */
    enum rbac_role role;                /* OK: the user's role */
    char ticket[SEC_SECRET_STR];        /* MFA_REQUIRED, MUST_ENROL_MFA: the next step's key */
    char session_token[SEC_SECRET_STR]; /* OK: the session cookie value */
    char csrf_token[SEC_HASH_HEX];      /* OK: for the X-CSRF-Token header */
    struct store_session session;       /* OK: the session row */
    bool must_change_password;          /* OK: only the password change is allowed */
    bool used_recovery_code;            /* OK via auth_login_recovery */
    int64_t recovery_codes_left;        /* OK via auth_login_recovery: unused codes left */
    bool replayed;                      /* BAD: the code was right but already used (audit) */
};

/* Wipes the secrets of l. */
void auth_login_wipe(struct auth_login *l);

/* Where a login comes from. Every pointer is borrowed for the call. */
struct auth_client {
    const char *address;    /* client IP as text ("" or NULL: no address throttling) */
    const char *user_agent; /* User-Agent header, may be NULL */
};

/* Step 1: name and password (len bytes). OUT: *out. Returns 0 (see out->result) or a
 * negative store error (nothing was decided: answer 503). */
int auth_login_password(struct store *st, const uint8_t key[SEC_KEY_LEN],
                        const struct auth_policy *pol, const char *name, const char *password,
                        size_t len, const struct auth_client *client, int64_t now_us,
                        struct auth_login *out);

/* Step 2 after MFA_REQUIRED: the 6-digit TOTP code. A wrong code counts as a failed login
 * (throttling) and as an attempt on the ticket. */
int auth_login_totp(struct store *st, const uint8_t key[SEC_KEY_LEN], const struct auth_policy *pol,
                    const char *ticket, const char *code, const struct auth_client *client,
                    int64_t now_us, struct auth_login *out);

/* Step 2 after MFA_REQUIRED, instead of TOTP: one recovery code (spent). */
int auth_login_recovery(struct store *st, const uint8_t key[SEC_KEY_LEN],
                        const struct auth_policy *pol, const char *ticket, const char *code,
                        const struct auth_client *client, int64_t now_us, struct auth_login *out);

/* A TOTP enrolment in progress: show uri (or svg) to the user and wipe it afterwards. */
struct auth_enrolment {
    char secret[SEC_TOTP_B32_MAX]; /* Base32, for typing into an app by hand */
    char uri[SEC_TOTP_URI_MAX];    /* otpauth:// URI */
    char *svg;                     /* returns owned: the URI as a QR code (free()) */
    size_t svg_len;                /* bytes in svg */
};
void auth_enrolment_release(struct auth_enrolment *e);

/* Step 2 after MUST_ENROL_MFA: a new secret is generated and kept (encrypted) as the user's
 * pending one. May be called again (a new secret replaces the pending one).
 * OUT: *out (release with auth_enrolment_release), *result AUTH_OK or AUTH_TICKET_INVALID. */
int auth_enrol_start(struct store *st, const uint8_t key[SEC_KEY_LEN],
                     const struct auth_policy *pol, const char *ticket, int64_t now_us,
                     struct auth_enrolment *out, enum auth_result *result);
/* Step 3: a code from the new authenticator confirms it: MFA is enrolled, recovery codes
 * are generated (into codes: show them once) and the login completes (out->result OK).
 * A wrong code: BAD_CREDENTIALS (counted like a failed login). */
int auth_enrol_confirm(struct store *st, const uint8_t key[SEC_KEY_LEN],
                       const struct auth_policy *pol, const char *ticket, const char *code,
                       const struct auth_client *client, int64_t now_us, struct auth_login *out,
                       char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN]);

/* Self-service for a logged-in user (re-enrol a new phone): start keeps a pending secret;
 * confirm with a code from it makes it the user's secret (the old one stops working) and
 * returns a fresh set of recovery codes. confirm: HX_EDENIED on a wrong code,
 * HX_ENOTFOUND when nothing is pending. */
int auth_mfa_enrol_start(struct store *st, const uint8_t key[SEC_KEY_LEN], int64_t user_id,
                         struct auth_enrolment *out);
int auth_mfa_enrol_confirm(struct store *st, const uint8_t key[SEC_KEY_LEN], int64_t user_id,
                           const char *code, int64_t now_us,
                           char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN]);

/* Replaces the user's recovery codes with a new set (into codes: show once). */
int auth_recovery_regenerate(struct store *st, const uint8_t key[SEC_KEY_LEN], int64_t user_id,
                             char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN]);

/* Sets up TOTP for user u directly (medhub user add / reset-mfa / init: an administrator
 * hands the secret over): a new secret, enrolled at once, last step 0.
 * OUT: *out (release it). Writes u's MFA fields to the store. */
int auth_mfa_provision(struct store *st, const uint8_t key[SEC_KEY_LEN], struct store_user *u,
                       int64_t now_us, struct auth_enrolment *out);

/* The user's current TOTP secret in clear (raw bytes) from the sealed column. For the login
 * steps and tests. HX_ENOTFOUND when u has none, HX_ECORRUPT when it does not open (another
 * server.key). */
int auth_mfa_secret(const uint8_t key[SEC_KEY_LEN], const struct store_user *u,
                    uint8_t raw[SEC_TOTP_SECRET_BYTES]);

/* Changes a user's password: old (unless NULL: an administrator's reset) must verify, new
 * must pass the policy (OUT: *why). Clears must_change_password, and ends every other
 * session of the user (keep_session_id is kept; 0 ends all).
 * Returns 0, HX_EDENIED (old password wrong), HX_EINVAL (policy: see *why), store errors. */
int auth_password_change(struct store *st, int64_t user_id, const char *old_password,
                         size_t old_len, const char *new_password, size_t new_len,
                         int64_t keep_session_id, int64_t now_us, enum sec_pw_policy *why);

/* A request's session cookie (token, len bytes) as a principal. A valid session is touched
 * (at most once a minute). A disabled user, an unknown role or a vanished user make the
 * session UNKNOWN (and end it). OUT: *state, *out (filled when VALID).
 * Returns 0 (see *state) or a store error. */
int auth_session_principal(struct store *st, const uint8_t key[SEC_KEY_LEN],
                           const struct auth_policy *pol, const char *token, size_t len,
                           int64_t now_us, struct principal *out, enum sec_session_state *state);

/* A request's bearer token (after "Bearer ") as a principal. OUT: *state, *out (VALID only).
 * Returns 0 (see *state) or a store error. */
int auth_token_principal(struct store *st, const uint8_t key[SEC_KEY_LEN], const char *token,
                         size_t len, int64_t now_us, struct principal *out,
                         enum sec_apitoken_state *state);

/* Whether a state-changing request (POST, PUT, PATCH, DELETE) made with session cookie
 * token carries the right CSRF token (the X-CSRF-Token header). Constant time. Bearer-token
 * requests carry no cookie and need no CSRF check. */
bool auth_csrf_check(const uint8_t key[SEC_KEY_LEN], const char *token, size_t token_len,
                     const char *csrf, size_t csrf_len);

/* Logs out the session of cookie token. HX_ENOTFOUND when there is none. */
int auth_logout(struct store *st, const uint8_t key[SEC_KEY_LEN], const char *token, size_t len);

/* Names of users (allow_at: also '@') and API tokens: 1-63 characters of A-Z a-z 0-9 . _ -.
 * Shared by `medhub user`/`medhub token` and the REST API. Pure. */
bool auth_name_is_valid(const char *name, bool allow_at);
/* A ward name of a user's care team or a token's scope: 1..PAT_WARD_MAX-1 bytes, no control
 * character, no comma. Pure. */
bool auth_ward_is_valid(const char *ward);

/* The throttle keys of a name and an address, "user:NAME" and "addr:IP". */
void auth_throttle_key_user(const char *name, char out[STORE_THROTTLE_KEY_MAX]);
void auth_throttle_key_addr(const char *address, char out[STORE_THROTTLE_KEY_MAX]);

/* The purpose and associated data that seal a user's TOTP secret (seal.h). */
#define AUTH_SEAL_PURPOSE "totp"

#endif

/*
 * Storage interface, part two: the rows behind users, authentication and access control
 * (schema version 5): users with their wards and caseloads, MFA recovery codes, sessions,
 * pending logins (tickets), API tokens, login throttling and break-glass grants.
 * src/security/ gives them meaning (docs/security.md); this layer only stores them, with
 * parameterized SQL, and never sees a secret in clear: tokens, codes and passwords arrive
 * already hashed, TOTP secrets already encrypted.
 * Every function returns 0 or a negative error (core/err.h); the usual store errors
 * (HX_EFULL, HX_EREADONLY, HX_EBUSY, HX_ESTORE) are not repeated below. Strings in the
 * structs are NUL-terminated; a value longer than its field is refused with HX_EINVAL by
 * the caller's validation (security/), never cut here.
 * Thread: a struct store is used by one thread at a time (store.h); these calls do disk I/O,
 * so the daemon makes them on worker threads, never on the loop.
 */
#ifndef MEDHUB_STORE_STORE_AUTH_H
#define MEDHUB_STORE_STORE_AUTH_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_USER_NAME_MAX    64  /* user and token names: 1..63 bytes + NUL */
#define STORE_ROLE_MAX         16  /* role names ("clinician") + NUL */
#define STORE_DISPLAY_MAX      128 /* display name + NUL */
#define STORE_PWHASH_MAX       192 /* Argon2id PHC string + NUL */
#define STORE_MFA_SECRET_MAX   128 /* encrypted TOTP secret (text) + NUL */
#define STORE_HASH_MAX         65  /* HMAC-SHA-256 as hex + NUL */
#define STORE_ADDR_MAX         64  /* client address text + NUL */
#define STORE_AGENT_MAX        256 /* User-Agent, cut by the caller + NUL */
#define STORE_SCOPES_MAX       256 /* token scopes: comma-separated permission names + NUL */
#define STORE_REASON_MAX       512 /* break-glass reason + NUL */
#define STORE_THROTTLE_KEY_MAX 128 /* "user:NAME" or "addr:IP" + NUL */

/* ---- Users -------------------------------------------------------------------------------- */

/* One user. password_hash, mfa_secret and mfa_pending are secrets at rest (hashed or
 * encrypted): never print or log them. */
struct store_user {
    int64_t id;                             /* assigned by store_user_add */
    char name[STORE_USER_NAME_MAX];         /* unique login name */
    char role[STORE_ROLE_MAX];              /* rbac role name */
    char display_name[STORE_DISPLAY_MAX];   /* for people, "" when none */
    char password_hash[STORE_PWHASH_MAX];   /* Argon2id PHC string, "" = cannot log in */
    bool must_change_password;              /* one-time password: change it at next login */
    char mfa_secret[STORE_MFA_SECRET_MAX];  /* encrypted TOTP secret, "" = none */
    char mfa_pending[STORE_MFA_SECRET_MAX]; /* encrypted secret being enrolled, "" = none */
    bool mfa_enrolled;                      /* mfa_secret is confirmed and required at login */
    int64_t mfa_last_step;                  /* last TOTP step accepted (replay protection) */
    int64_t patient_id;                     /* patient users: their record; else 0 */
    bool disabled;                          /* cannot log in; sessions are refused */
    int64_t last_login_us;                  /* last complete login, 0 = never */
    int64_t created_us;                     /* set by store_user_add */
    int64_t updated_us;                     /* last change by store_user_update */
};

/* Which fields store_user_update writes. */
enum store_user_fields {
    STORE_USER_ROLE = 1u << 0,        /* role */
    STORE_USER_DISPLAY = 1u << 1,     /* display_name */
    STORE_USER_PASSWORD = 1u << 2,    /* password_hash and must_change_password */
    STORE_USER_MFA = 1u << 3,         /* mfa_secret, mfa_enrolled and mfa_last_step */
    STORE_USER_MFA_PENDING = 1u << 4, /* mfa_pending */
    STORE_USER_PATIENT = 1u << 5,     /* patient_id */
    STORE_USER_DISABLED = 1u << 6,    /* disabled */
    STORE_USER_LAST_LOGIN = 1u << 7,  /* last_login_us */
};

typedef int store_user_fn(void *arg, const struct store_user *u);

/* Adds u. OUT: u->id, u->created_us (= updated_us). HX_EEXIST on a duplicate name. */
int store_user_add(struct store *st, struct store_user *u);
/* HX_ENOTFOUND when there is no such user. */
int store_user_get(struct store *st, const char *name, struct store_user *out);
int store_user_get_by_id(struct store *st, int64_t id, struct store_user *out);
/* Every user, by name. */
int store_user_list(struct store *st, store_user_fn *fn, void *arg);
/* Writes the fields of u named in fields (enum store_user_fields) to user u->id in one
 * statement (a concurrent update of other fields is not lost), and updated_us = now_us.
 * HX_ENOTFOUND when there is no such user. */
int store_user_update(struct store *st, const struct store_user *u, unsigned fields,
                      int64_t now_us);
/* Records TOTP step as used by user_id if it is later than the last one used, atomically
 * (two logins racing with the same code: one wins). HX_EEXIST when step <= the stored step
 * (a replay), HX_ENOTFOUND when there is no such user. */
int store_user_use_mfa_step(struct store *st, int64_t user_id, int64_t step);
/* OUT: *n users with this role (disabled ones included when with_disabled). */
int store_user_count_role(struct store *st, const char *role, bool with_disabled, int64_t *n);

/* Wards of a user (care team). add: HX_EEXIST when already there; remove: HX_ENOTFOUND. */
typedef int store_ward_fn(void *arg, const char *ward);
int store_user_ward_add(struct store *st, int64_t user_id, const char *ward);
int store_user_ward_remove(struct store *st, int64_t user_id, const char *ward);
/* The user's wards in name order; fn's ward is lent for the call. */
int store_user_ward_list(struct store *st, int64_t user_id, store_ward_fn *fn, void *arg);

/* Caseload: patients a user cares for by name, whatever their ward. add: HX_EEXIST when
 * already there, HX_ENOTFOUND when the patient does not exist; remove: HX_ENOTFOUND. */
typedef int store_id_fn(void *arg, int64_t id);
int store_user_patient_add(struct store *st, int64_t user_id, int64_t patient_id);
int store_user_patient_remove(struct store *st, int64_t user_id, int64_t patient_id);
int store_user_patient_list(struct store *st, int64_t user_id, store_id_fn *fn, void *arg);
/* OUT: *out true when patient_id is on user_id's caseload. */
int store_user_has_patient(struct store *st, int64_t user_id, int64_t patient_id, bool *out);

/* ---- MFA recovery codes ------------------------------------------------------------------- */

/* Replaces every recovery code of user_id with the n keyed hashes (hashes may be NULL when
 * n is 0), in one transaction: its own, or the caller's when one is open (store_begin). */
int store_recovery_set(struct store *st, int64_t user_id, const char (*hashes)[STORE_HASH_MAX],
                       size_t n);
/* Marks the unused code with this hash used at now_us. HX_ENOTFOUND when no unused code of
 * the user has it (wrong, or already used): each code works once, even under races. */
int store_recovery_use(struct store *st, int64_t user_id, const char *hash, int64_t now_us);
/* OUT: *n_unused codes the user has left. */
int store_recovery_count(struct store *st, int64_t user_id, int64_t *n_unused);

/* ---- Sessions ----------------------------------------------------------------------------- */

struct store_session {
    int64_t id;                       /* assigned by store_session_add */
    char token_hash[STORE_HASH_MAX];  /* HMAC-SHA-256(server.key, token) as hex */
    int64_t user_id;                  /* whose */
    int64_t created_us;               /* login time */
    int64_t last_seen_us;             /* last request (idle timeout counts from here) */
    int64_t expires_us;               /* absolute timeout */
    char address[STORE_ADDR_MAX];     /* client address at login */
    char user_agent[STORE_AGENT_MAX]; /* User-Agent at login */
};
typedef int store_session_fn(void *arg, const struct store_session *s);

/* OUT: s->id. HX_EEXIST on a duplicate token hash. */
int store_session_add(struct store *st, struct store_session *s);
/* HX_ENOTFOUND when no session has this token hash. */
int store_session_get(struct store *st, const char *token_hash, struct store_session *out);
/* last_seen_us = now_us (never moves back). HX_ENOTFOUND when the session is gone. */
int store_session_touch(struct store *st, int64_t id, int64_t now_us);
/* Deletes session id, only if it belongs to user_id (0: any user). HX_ENOTFOUND otherwise. */
int store_session_delete(struct store *st, int64_t id, int64_t user_id);
/* Deletes every session of user_id except keep_id (0: keep none). OUT: *n (may be NULL). */
int store_session_delete_user(struct store *st, int64_t user_id, int64_t keep_id, size_t *n);
/* The user's sessions, newest first. */
int store_session_list(struct store *st, int64_t user_id, store_session_fn *fn, void *arg);
/* Deletes sessions past expires_us <= now_us or idle since last_seen_us <= idle_cutoff_us,
 * and expired login tickets. OUT: *n sessions deleted (may be NULL). */
int store_session_purge(struct store *st, int64_t now_us, int64_t idle_cutoff_us, size_t *n);

/* ---- Pending logins (tickets) ------------------------------------------------------------- */

/* What a ticket lets its holder do next. Persisted: never renumber. */
enum store_ticket_kind {
    STORE_TICKET_MFA = 1,   /* present a TOTP or recovery code */
    STORE_TICKET_ENROL = 2, /* enrol a TOTP authenticator (MFA required, none enrolled) */
};

struct store_ticket {
    char token_hash[STORE_HASH_MAX]; /* HMAC-SHA-256(server.key, ticket) as hex */
    int64_t user_id;                 /* whose password was accepted */
    enum store_ticket_kind kind;     /* see enum store_ticket_kind */
    int64_t created_us;              /* when */
    int64_t expires_us;              /* unusable from then on */
    int attempts;                    /* wrong codes presented so far */
    char address[STORE_ADDR_MAX];    /* client address at login */
};

/* HX_EEXIST on a duplicate hash. */
int store_ticket_add(struct store *st, const struct store_ticket *t);
/* HX_ENOTFOUND when absent. */
int store_ticket_get(struct store *st, const char *token_hash, struct store_ticket *out);
/* attempts + 1. OUT: *attempts the new count. HX_ENOTFOUND when absent. */
int store_ticket_attempt(struct store *st, const char *token_hash, int *attempts);
/* HX_ENOTFOUND when absent (a ticket is consumed exactly once). */
int store_ticket_delete(struct store *st, const char *token_hash);

/* ---- API tokens --------------------------------------------------------------------------- */

struct store_apitoken {
    int64_t id;                      /* assigned by store_apitoken_add */
    char name[STORE_USER_NAME_MAX];  /* unique */
    char token_hash[STORE_HASH_MAX]; /* HMAC-SHA-256(server.key, token) as hex */
    char role[STORE_ROLE_MAX];       /* rbac role name */
    char ward[64];                   /* scope: "" = every ward */
    char scopes[STORE_SCOPES_MAX];   /* "" = the role's permissions */
    int64_t expires_us;              /* 0 = never */
    int64_t created_us;              /* set by store_apitoken_add */
    int64_t last_used_us;            /* 0 = never */
    int64_t revoked_us;              /* 0 = live */
};
typedef int store_apitoken_fn(void *arg, const struct store_apitoken *t);

/* OUT: t->id, t->created_us. HX_EEXIST on a duplicate name (revoked tokens keep theirs). */
int store_apitoken_add(struct store *st, struct store_apitoken *t);
int store_apitoken_get(struct store *st, const char *name, struct store_apitoken *out);
int store_apitoken_get_by_hash(struct store *st, const char *token_hash,
                               struct store_apitoken *out);
/* Every token (revoked ones too), by name. */
int store_apitoken_list(struct store *st, store_apitoken_fn *fn, void *arg);
/* revoked_us = now_us. HX_ENOTFOUND when there is no live token with this name. */
int store_apitoken_revoke(struct store *st, const char *name, int64_t now_us);
/* last_used_us = now_us when later. */
int store_apitoken_touch(struct store *st, int64_t id, int64_t now_us);

/* ---- Login throttling --------------------------------------------------------------------- */

struct store_throttle {
    int64_t failures;        /* consecutive failures */
    int64_t last_failure_us; /* time of the last one */
    int64_t next_allowed_us; /* no attempt before this */
    int64_t locked_until_us; /* account lockout end, 0 = none */
};

/* HX_ENOTFOUND when the key has no record (no failures). */
int store_throttle_get(struct store *st, const char *key, struct store_throttle *out);
/* Inserts or replaces the record of key. */
int store_throttle_put(struct store *st, const char *key, const struct store_throttle *t);
/* Forgets key (a success, or `medhub user unlock`). Not an error when absent. */
int store_throttle_delete(struct store *st, const char *key);

/* ---- Break-glass grants ------------------------------------------------------------------- */

struct store_break_glass {
    int64_t id;                    /* assigned by store_break_glass_add */
    int64_t user_id;               /* who */
    int64_t patient_id;            /* whose record */
    char reason[STORE_REASON_MAX]; /* why (non-empty) */
    int64_t granted_us;            /* from */
    int64_t expires_us;            /* until */
};
typedef int store_break_glass_fn(void *arg, const struct store_break_glass *g);

/* OUT: g->id. HX_ENOTFOUND when the user or patient does not exist. */
int store_break_glass_add(struct store *st, struct store_break_glass *g);
/* The grant of user_id for patient_id live at now_us with the latest expiry, into out (may be
 * NULL). HX_ENOTFOUND when there is none. */
int store_break_glass_active(struct store *st, int64_t user_id, int64_t patient_id, int64_t now_us,
                             struct store_break_glass *out);
/* Grants newest first; user_id 0 for every user; at most limit (0 = all). */
int store_break_glass_list(struct store *st, int64_t user_id, size_t limit,
                           store_break_glass_fn *fn, void *arg);

#endif

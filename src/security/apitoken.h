/*
 * API tokens (Bearer) for other systems: "mhk_" followed by a 256-bit random value in
 * base64url (47 characters in all). The prefix lets secret scanners and people recognise a
 * leaked medhub key; only HMAC-SHA-256(server.key, whole token) is stored, so a token is
 * shown once and cannot be recovered. A token carries a role, an optional ward (its patient
 * scope) and optional scopes (permission names narrowing the role), may expire, and can be
 * revoked; each successful use records last_used.
 * Thread: any; functions taking a struct store do disk I/O (worker threads in the daemon).
 */
#ifndef MEDHUB_SECURITY_APITOKEN_H
#define MEDHUB_SECURITY_APITOKEN_H

#include "security/secret.h"
#include "store/store_auth.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEC_APITOKEN_PREFIX "mhk_"
#define SEC_APITOKEN_LEN    47 /* "mhk_" + 43 */
#define SEC_APITOKEN_STR    48 /* + NUL */

enum sec_apitoken_state {
    SEC_APITOKEN_VALID = 0, /* usable */
    SEC_APITOKEN_UNKNOWN,   /* malformed or no such token */
    SEC_APITOKEN_REVOKED,   /* revoked */
    SEC_APITOKEN_EXPIRED,   /* past expires_us */
};

/* "valid", "unknown", "revoked", "expired". */
const char *sec_apitoken_state_name(enum sec_apitoken_state state);

/* True when text (len bytes) has the shape of a medhub API token. Pure. */
bool sec_apitoken_is_wellformed(const char *text, size_t len);

/* Creates token t (name, role, ward, scopes and expires_us filled by the caller; validated
 * there) with a new random value. OUT: token (show it once), t->token_hash, t->id,
 * t->created_us. HX_EEXIST on a duplicate name. */
int sec_apitoken_create(struct store *st, const uint8_t key[SEC_KEY_LEN], struct store_apitoken *t,
                        char token[SEC_APITOKEN_STR]);

/* Looks up a presented token (len bytes) at now_us. OUT: *state, *out the row (when found).
 * A VALID token's last_used is recorded (at most once a minute). Returns 0 (see *state) or a
 * store error. */
int sec_apitoken_validate(struct store *st, const uint8_t key[SEC_KEY_LEN], const char *token,
                          size_t len, int64_t now_us, struct store_apitoken *out,
                          enum sec_apitoken_state *state);

#endif

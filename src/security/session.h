/*
 * Login sessions: a 256-bit random token (base64url, the cookie value) of which only the
 * keyed hash is stored; an idle timeout (HIPAA §164.312(a)(2)(iii) automatic logoff) and an
 * absolute timeout; and a CSRF token derived from the session token as
 * HMAC-SHA-256(server.key, "medhub csrf v1 " || token), so it needs no storage and a
 * database leak reveals neither. Checks compare in constant time.
 * sec_session_state is pure so the HTTP layer may cache sessions in memory on the loop and
 * re-check their times per request; everything that takes a struct store does disk I/O
 * (worker threads in the daemon).
 * Thread: any.
 */
#ifndef MEDHUB_SECURITY_SESSION_H
#define MEDHUB_SECURITY_SESSION_H

#include "security/secret.h"
#include "store/store_auth.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Timeouts (auth.session_idle_s, auth.session_absolute_s). */
struct sec_session_policy {
    int64_t idle_us;     /* no request for this long ends the session */
    int64_t absolute_us; /* a session never lives longer than this */
};

/* Writes to the session row are spared for this long: sec_session_needs_touch is false
 * while last_seen_us is more recent (idle accuracy: up to a minute in the user's favour). */
#define SEC_SESSION_TOUCH_US (60 * INT64_C(1000000))

enum sec_session_state {
    SEC_SESSION_VALID = 0, /* usable */
    SEC_SESSION_IDLE,      /* idle timeout passed */
    SEC_SESSION_EXPIRED,   /* absolute timeout passed */
    SEC_SESSION_UNKNOWN,   /* no such session (logged out, revoked, or never) */
};

/* The state of s at now_us under p. Pure. */
enum sec_session_state sec_session_state(const struct store_session *s,
                                         const struct sec_session_policy *p, int64_t now_us);
/* True when s's last_seen_us should be written again at now_us. Pure. */
bool sec_session_needs_touch(const struct store_session *s, int64_t now_us);
/* "valid", "idle", "expired", "unknown". */
const char *sec_session_state_name(enum sec_session_state state);

/* Creates a session for user_id at now_us. address and user_agent (may be NULL) are cut to
 * their fields. OUT: token (the cookie value: show it to the client only), *out the row.
 * Returns 0 or a negative error. */
int sec_session_create(struct store *st, const uint8_t key[SEC_KEY_LEN], int64_t user_id,
                       const char *address, const char *user_agent,
                       const struct sec_session_policy *p, int64_t now_us,
                       char token[SEC_SECRET_STR], struct store_session *out);

/* Looks up token (len bytes) and checks its times. A session found idle or expired is
 * deleted. OUT: *state; *out the row (valid only when VALID). Does not touch the session.
 * Returns 0 (see *state) or a store error. */
int sec_session_validate(struct store *st, const uint8_t key[SEC_KEY_LEN], const char *token,
                         size_t len, const struct sec_session_policy *p, int64_t now_us,
                         struct store_session *out, enum sec_session_state *state);

/* Ends the session of token. HX_ENOTFOUND when there is none. */
int sec_session_logout(struct store *st, const uint8_t key[SEC_KEY_LEN], const char *token,
                       size_t len);

/* The CSRF token of a session token, as hex into out. */
void sec_csrf_token(const uint8_t key[SEC_KEY_LEN], const char *token, size_t len,
                    char out[SEC_HASH_HEX]);
/* True when csrf (csrf_len bytes, from a header or form field) is the CSRF token of the
 * session token; constant time. */
bool sec_csrf_verify(const uint8_t key[SEC_KEY_LEN], const char *token, size_t len,
                     const char *csrf, size_t csrf_len);

#endif

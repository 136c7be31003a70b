/*
 * Human passwords: Argon2id hashing and verification (libsodium crypto_pwhash_str), the
 * rehash check, the password policy and one-time password generation.
 * Parameters: m = 19 MiB, t = 2, p = 1 (the OWASP Password Storage Cheat Sheet minimum for
 * Argon2id; docs/security.md says why and what it costs). Hashes are PHC strings
 * ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash") carrying their own parameters, so a change
 * of parameters only needs sec_password_needs_rehash at the next login.
 * Hashing and verifying take tens of milliseconds and 19 MiB each: callers in the daemon run
 * them on worker threads (uv_queue_work), never on the loop.
 * Thread: any (sec_password_set_cost_for_tests excepted).
 */
#ifndef MEDHUB_SECURITY_PASSWORD_H
#define MEDHUB_SECURITY_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEC_PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES: a PHC string + NUL */
#define SEC_PASSWORD_MIN      12  /* characters (bytes of UTF-8 count as typed by people) */
#define SEC_PASSWORD_MAX      128 /* bytes; longer input is refused, never cut */
#define SEC_PASSWORD_GEN_LEN  20  /* generated one-time passwords: 20 characters */

/* The Argon2id cost (libsodium: opslimit = t, memlimit in bytes, p = 1 always). */
#define SEC_ARGON2_OPS 2
#define SEC_ARGON2_MEM (19456u * 1024u)

/* Why a password was refused by the policy. */
enum sec_pw_policy {
    SEC_PW_OK = 0,    /* acceptable */
    SEC_PW_TOO_SHORT, /* fewer than SEC_PASSWORD_MIN characters */
    SEC_PW_TOO_LONG,  /* more than SEC_PASSWORD_MAX bytes */
    SEC_PW_CONTROL,   /* contains a NUL or another control character */
    SEC_PW_IS_NAME,   /* equals (or, case-insensitively, contains) the user name */
    SEC_PW_COMMON,    /* on the list of common passwords */
};

/* Checks password (len bytes, need not be NUL-terminated) against the policy for user name
 * (NUL-terminated; NULL skips the name rule). Pure. */
enum sec_pw_policy sec_password_policy_check(const char *password, size_t len, const char *name);
/* One sentence for people ("at least 12 characters"), static. */
const char *sec_password_policy_message(enum sec_pw_policy why);

/* Hashes password with Argon2id and a random salt into out (a PHC string).
 * Returns 0, HX_EINVAL when len > SEC_PASSWORD_MAX, or -ENOMEM. */
int sec_password_hash(const char *password, size_t len, char out[SEC_PASSWORD_HASH_MAX]);

/* True when password matches stored (a PHC string from sec_password_hash). False for a
 * malformed or empty stored string. Time depends on stored's parameters only. */
bool sec_password_verify(const char *stored, const char *password, size_t len);

/* Spends the same time as sec_password_verify against a real hash, and always fails: the
 * unknown-user path calls it so that response time does not tell whether a name exists. */
void sec_password_verify_dummy(const char *password, size_t len);

/* True when stored was made with parameters other than the current ones (or is not an
 * Argon2id string): hash the password again after a successful login. */
bool sec_password_needs_rehash(const char *stored);

/* Generates a one-time password of SEC_PASSWORD_GEN_LEN characters from an alphabet without
 * look-alikes (about 110 bits). Returns 0 or a negative error. */
int sec_password_generate(char out[SEC_PASSWORD_GEN_LEN + 1]);

/* Unit tests only: makes hashing cheap (ops >= 1, mem >= 8192 bytes). Call before any other
 * thread hashes. */
void sec_password_set_cost_for_tests(uint64_t ops, size_t mem);

#endif

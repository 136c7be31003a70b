/*
 * Machine secrets: device secrets and API tokens are 256-bit random values shown once; only
 * a keyed hash (HMAC-SHA-256 with the server key in <data-dir>/server.key) is stored, and
 * checks compare in constant time. Argon2id is for human passwords only (a slow hash per
 * device connect would turn a reconnect storm into minutes of CPU).
 * Thread: any.
 */
#ifndef MEDHUB_SECURITY_SECRET_H
#define MEDHUB_SECURITY_SECRET_H

#include "core/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEC_KEY_LEN      32
#define SEC_SECRET_BYTES 32
#define SEC_SECRET_STR   44 /* base64url of 32 bytes without padding (43) + NUL */
#define SEC_HASH_HEX     65 /* 64 hex digits + NUL */

/* Fills buf with len bytes from the OS CSPRNG. Returns 0 or a negative error. */
int sec_random_bytes(void *buf, size_t len);

/* Generates a new secret as base64url text (43 characters). Returns 0 or an error. */
int sec_secret_generate(char out[SEC_SECRET_STR]);

/* Loads <data_dir>/server.key (exactly SEC_KEY_LEN bytes, mode 0600), creating it when
 * create is true and it does not exist. Refuses a key file readable by group or others.
 * Returns 0, -ENOENT, HX_ECORRUPT (wrong size), HX_EDENIED (permissions) or -errno; detail
 * in err. */
int sec_server_key_load(const char *data_dir, bool create, uint8_t key[SEC_KEY_LEN], char *err,
                        size_t err_len);

/* HMAC-SHA-256(key, secret) as lower-case hex into out. */
void sec_secret_hash(const uint8_t key[SEC_KEY_LEN], const char *secret, size_t len,
                     char out[SEC_HASH_HEX]);

/* True when secret hashes to stored_hex; constant time in the secret and the hash. */
bool sec_secret_verify(const uint8_t key[SEC_KEY_LEN], const char *secret, size_t len,
                       const char *stored_hex);

/* HMAC-SHA-256 keyed with key_len bytes of key over the concatenation of parts[0..n-1], as
 * lower-case hex into out (webhook signatures: the receiver holds the same key). Every pointer
 * is borrowed for the call. Returns 0, or -ENOMEM when OpenSSL cannot set up the MAC. */
int sec_hmac_sha256_hex(const void *key, size_t key_len, const struct slice *parts, size_t n,
                        char out[SEC_HASH_HEX]);

#endif

/*
 * MFA recovery codes: SEC_RECOVERY_N one-time codes per user, each 12 characters of
 * Crockford's Base32 (60 bits) shown as xxxx-xxxx-xxxx. Only a keyed hash is stored
 * (HMAC-SHA-256 with server.key over the normalized code); a code is spent by marking its
 * hash used in one conditional UPDATE (store_recovery_use), so it works exactly once.
 * People may type codes in any case, with or without dashes and spaces, and with the
 * look-alikes i/l for 1 and o for 0.
 * Thread: any.
 */
#ifndef MEDHUB_SECURITY_RECOVERY_H
#define MEDHUB_SECURITY_RECOVERY_H

#include "security/secret.h"

#include <stdbool.h>
#include <stdint.h>

#define SEC_RECOVERY_N     10 /* codes per set */
#define SEC_RECOVERY_CHARS 12 /* significant characters (5 bits each: 60 bits) */
#define SEC_RECOVERY_LEN   15 /* "xxxx-xxxx-xxxx" + NUL */

/* A new set of codes for people to keep (shown once). Returns 0 or a random source error. */
int sec_recovery_generate(char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN]);

/* The canonical form of what a person typed: 12 lower-case characters of the alphabet.
 * Returns false when in is not a well-formed code. Pure. */
bool sec_recovery_normalize(const char *in, char out[SEC_RECOVERY_CHARS + 1]);

/* The keyed hash of a code (any typed form) into out. Returns false when the code is not
 * well-formed (out is then a hash no code has). */
bool sec_recovery_hash(const uint8_t key[SEC_KEY_LEN], const char *code, char out[SEC_HASH_HEX]);

/* True when code hashes to stored_hex; constant time in the hash. */
bool sec_recovery_verify(const uint8_t key[SEC_KEY_LEN], const char *code, const char *stored_hex);

#endif

/*
 * Small secrets the server must read back (TOTP secrets), encrypted at rest: AES-256-GCM
 * with a key derived from server.key for one purpose (HMAC-SHA-256(server.key,
 * "medhub seal v1 " PURPOSE)), a random 96-bit nonce per sealing, and associated data that
 * binds the ciphertext to its row (the user name), so a value copied into another row does
 * not open. Text form: "v1." + base64url(nonce || ciphertext || tag), no padding.
 * A database copied without server.key reveals nothing; server.key never enters the database.
 * Thread: any.
 */
#ifndef MEDHUB_SECURITY_SEAL_H
#define MEDHUB_SECURITY_SEAL_H

#include "security/secret.h"

#include <stddef.h>
#include <stdint.h>

#define SEC_SEAL_MAX_PLAIN 64  /* longest plaintext, bytes */
#define SEC_SEAL_TEXT_MAX  128 /* longest sealed text + NUL (fits STORE_MFA_SECRET_MAX) */

/* Seals len bytes of plain for purpose and aad (both NUL-terminated, borrowed) into out.
 * Returns 0, HX_ETOOBIG (len > SEC_SEAL_MAX_PLAIN) or -ENOMEM / a random source error. */
int sec_seal(const uint8_t key[SEC_KEY_LEN], const char *purpose, const char *aad,
             const uint8_t *plain, size_t len, char out[SEC_SEAL_TEXT_MAX]);

/* Opens text sealed with the same key, purpose and aad into plain (cap bytes).
 * OUT: *len bytes. HX_ECORRUPT when text is malformed, was sealed under another key,
 * purpose or aad, or was altered; HX_ETOOBIG when cap is too small. */
int sec_unseal(const uint8_t key[SEC_KEY_LEN], const char *purpose, const char *aad,
               const char *text, uint8_t *plain, size_t cap, size_t *len);

#endif

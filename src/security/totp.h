/*
 * TOTP (RFC 6238) over HOTP (RFC 4226): HMAC-SHA-1, 30-second steps, 6 digits, the only
 * combination every authenticator app supports. Pure functions with the time passed in,
 * plus Base32 (RFC 4648, no padding), secret generation, the otpauth:// URI (Google
 * Authenticator Key Uri Format) and its QR code as SVG (libqrencode).
 * Verification accepts the current step and one either side (clock skew and typing time,
 * RFC 6238 §5.2) and refuses a code for a step at or before the last one accepted for the
 * user (a code works once, §5.2 "MUST NOT accept the second attempt").
 * Thread: any.
 */
#ifndef MEDHUB_SECURITY_TOTP_H
#define MEDHUB_SECURITY_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEC_TOTP_SECRET_BYTES 20  /* 160 bits, RFC 4226 §4 recommendation */
#define SEC_TOTP_B32_MAX      40  /* Base32 of 20 bytes is 32 characters, + NUL */
#define SEC_TOTP_PERIOD       30  /* seconds per step (RFC 6238 X) */
#define SEC_TOTP_DIGITS       6   /* code length */
#define SEC_TOTP_WINDOW       1   /* steps accepted either side of now */
#define SEC_TOTP_URI_MAX      512 /* otpauth:// URI + NUL */
#define SEC_TOTP_ISSUER       "medhub"

/* HOTP(key, counter) truncated to digits (6..8) decimal digits (RFC 4226 §5.3). Pure. */
uint32_t sec_hotp(const uint8_t *key, size_t key_len, uint64_t counter, int digits);

/* The TOTP step of a Unix time in seconds: floor(t / 30), T0 = 0. Pure. */
int64_t sec_totp_step(int64_t unix_s);

/* What sec_totp_verify found. */
enum sec_totp_result {
    SEC_TOTP_OK = 0, /* matches a step after last_step within the window */
    SEC_TOTP_BAD,    /* malformed, or matches no step in the window */
    SEC_TOTP_REPLAY, /* matches only steps <= last_step: already used */
};

/* Checks code (NUL-terminated; spaces are ignored, "123 456") against key at now_s. Every
 * step of the window is computed and compared in constant time whatever matches.
 * OUT: *step the step that matched (on SEC_TOTP_OK; may be NULL). Record it as the user's
 * last step (store_user_use_mfa_step) before treating the login as done. Pure. */
enum sec_totp_result sec_totp_verify(const uint8_t *key, size_t key_len, const char *code,
                                     int64_t now_s, int64_t last_step, int64_t *step);

/* Base32 (RFC 4648 alphabet, upper case, no padding) of len bytes into out (out_len bytes
 * including NUL). Returns 0 or HX_ETOOBIG. */
int sec_base32_encode(const uint8_t *in, size_t len, char *out, size_t out_len);
/* Decodes Base32 text (case-insensitive; spaces and '=' padding ignored) into out (cap
 * bytes). OUT: *out_len bytes written. HX_EMALFORMED on other characters, HX_ETOOBIG. */
int sec_base32_decode(const char *in, uint8_t *out, size_t cap, size_t *out_len);

/* A new 160-bit secret from the OS CSPRNG. OUT: raw (SEC_TOTP_SECRET_BYTES) and its Base32
 * (may be NULL). Returns 0 or a negative error. */
int sec_totp_secret_generate(uint8_t raw[SEC_TOTP_SECRET_BYTES], char b32[SEC_TOTP_B32_MAX]);

/* The otpauth:// URI for account with Base32 secret b32:
 * otpauth://totp/medhub:ACCOUNT?secret=B32&issuer=medhub&algorithm=SHA1&digits=6&period=30
 * with ACCOUNT percent-encoded. Returns 0 or HX_ETOOBIG. */
int sec_totp_uri(const char *account, const char *b32, char *out, size_t out_len);

/* The QR code of text (the URI) as a standalone SVG document: black modules on white with a
 * four-module quiet zone, no script, no external references. OUT: *svg returns owned (free
 * with free()), *len its length. Returns 0, HX_ETOOBIG (text too long for a QR code) or
 * -ENOMEM. */
int sec_totp_qr_svg(const char *text, char **svg, size_t *len);

#endif

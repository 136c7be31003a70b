/*
 * Argon2id password hashing through libsodium, the password policy and one-time passwords.
 * See password.h for the parameters; docs/security.md for why.
 * Layer: security. Thread: any. The only shared state is the cost (set once, before threads,
 * by tests) and the dummy hash, built once under uv_once.
 */
#include "security/password.h"
#include "core/err.h"
#include "security/secret.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

static uint64_t cost_ops = SEC_ARGON2_OPS;
static size_t cost_mem = SEC_ARGON2_MEM;

/* Passwords of 12+ characters that attackers try first (breach corpora, defaults, and this
 * product's name). Compared case-insensitively; the list is short on purpose: length and the
 * Argon2id cost do the rest. */
static const char *const common[] = {
    "123456789012",     "1234567890123",  "12345678901234", "123456123456",     "111111111111",
    "password1234",     "password123!",   "password12345",  "passwordpassword", "qwertyuiop12",
    "qwertyuiop123",    "qwertyuiopasdf", "1q2w3e4r5t6y",   "1qaz2wsx3edc",     "iloveyou1234",
    "welcome12345",     "changeme1234",   "letmeinletmein", "administrator",    "administrator1",
    "medhubmedhub",     "medhub123456",   "hospital1234",   "abcdefghijkl",     "abc123abc123",
    "trustno1trustno1", "football1234",   "baseball1234",   "superman1234",     "monkey123456",
};

static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* Case-insensitive search of needle (NUL-terminated) in hay[0..len). */
static bool contains_ci(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0 || n > len)
        return false;
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

enum sec_pw_policy sec_password_policy_check(const char *password, size_t len, const char *name)
{
    if (len > SEC_PASSWORD_MAX)
        return SEC_PW_TOO_LONG;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)password[i];
        if (c < 0x20 || c == 0x7f)
            return SEC_PW_CONTROL;
    }
    if (utf8_chars(password, len) < SEC_PASSWORD_MIN)
        return SEC_PW_TOO_SHORT;
    /* A name of 1-3 characters inside a long password is coincidence, not reuse. */
    if (name && *name &&
        ((strlen(name) == len && strncasecmp(password, name, len) == 0) ||
         (strlen(name) >= 4 && contains_ci(password, len, name))))
        return SEC_PW_IS_NAME;
    bool same = true;
    for (size_t i = 1; i < len; i++)
        same = same && password[i] == password[0];
    if (same)
        return SEC_PW_COMMON;
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        if (strlen(common[i]) == len && strncasecmp(password, common[i], len) == 0)
            return SEC_PW_COMMON;
    return SEC_PW_OK;
}

const char *sec_password_policy_message(enum sec_pw_policy why)
{
    switch (why) {
    case SEC_PW_OK:
        return "acceptable";
    case SEC_PW_TOO_SHORT:
        return "a password needs at least 12 characters";
    case SEC_PW_TOO_LONG:
        return "a password may have at most 128 bytes";
    case SEC_PW_CONTROL:
        return "a password may not contain control characters";
    case SEC_PW_IS_NAME:
        return "a password may not contain the user name";
    case SEC_PW_COMMON:
        return "that password is too common; choose another";
    }
    return "refused";
}

/* libsodium must be initialised once before use (it picks implementations). */
static void sodium_once(void)
{
    if (sodium_init() < 0)
        abort(); /* cannot happen on Linux: sodium_init fails only without a random source */
}

static uv_once_t init_guard = UV_ONCE_INIT;

int sec_password_hash(const char *password, size_t len, char out[SEC_PASSWORD_HASH_MAX])
{
    uv_once(&init_guard, sodium_once);
    if (len > SEC_PASSWORD_MAX)
        return HX_EINVAL;
    if (crypto_pwhash_str_alg(out, password, len, cost_ops, cost_mem,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return -ENOMEM; /* libsodium fails only when it cannot allocate the memory */
    return 0;
}

bool sec_password_verify(const char *stored, const char *password, size_t len)
{
    uv_once(&init_guard, sodium_once);
    if (!stored || strncmp(stored, "$argon2id$", 10) != 0 || len > SEC_PASSWORD_MAX)
        return false;
    return crypto_pwhash_str_verify(stored, password, len) == 0;
}

/* The hash the unknown-user path verifies against: made on first use, and again when the
 * cost changed since (tests), so that it always costs what a real verification costs. */
static char dummy_hash[SEC_PASSWORD_HASH_MAX];
static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;

void sec_password_verify_dummy(const char *password, size_t len)
{
    char stored[SEC_PASSWORD_HASH_MAX];
    pthread_mutex_lock(&dummy_lock);
    if (!*dummy_hash || sec_password_needs_rehash(dummy_hash)) {
        char pw[SEC_PASSWORD_GEN_LEN + 1];
        if (sec_password_generate(pw) < 0 || sec_password_hash(pw, strlen(pw), dummy_hash) < 0)
            dummy_hash[0] = '\0';
        sodium_memzero(pw, sizeof(pw));
    }
    memcpy(stored, dummy_hash, sizeof(stored));
    pthread_mutex_unlock(&dummy_lock);
    if (len > SEC_PASSWORD_MAX)
        len = SEC_PASSWORD_MAX; /* the real path refuses these before hashing, too */
    (void)sec_password_verify(stored, password, len);
}

bool sec_password_needs_rehash(const char *stored)
{
    uv_once(&init_guard, sodium_once);
    if (!stored || strncmp(stored, "$argon2id$", 10) != 0)
        return true;
    return crypto_pwhash_str_needs_rehash(stored, cost_ops, cost_mem) != 0;
}

int sec_password_generate(char out[SEC_PASSWORD_GEN_LEN + 1])
{
    /* 56 symbols without 0/O, 1/l/I: read aloud or typed from paper without confusion. */
    static const char alphabet[] = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const uint32_t n = sizeof(alphabet) - 1;
    for (int i = 0; i < SEC_PASSWORD_GEN_LEN; i++) {
        uint32_t r;
        do {
            int rc = sec_random_bytes(&r, sizeof(r));
            if (rc < 0)
                return rc;
        } while (r >= UINT32_MAX - UINT32_MAX % n); /* no modulo bias */
        out[i] = alphabet[r % n];
    }
    out[SEC_PASSWORD_GEN_LEN] = '\0';
    return 0;
}

void sec_password_set_cost_for_tests(uint64_t ops, size_t mem)
{
    cost_ops = ops;
    cost_mem = mem;
}

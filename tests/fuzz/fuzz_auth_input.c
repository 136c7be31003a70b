/*
 * libFuzzer target for the text a login request carries into src/security/: TOTP codes,
 * recovery codes, API tokens, Base32 secrets and passwords (policy). The first byte picks the
 * parser. Invariants: accepted Base32 re-encodes to the same bits; a normalized recovery code
 * is 12 characters of its alphabet; a well-formed API token is 47 characters after "mhk_";
 * a TOTP code other than 6 digits (spaces aside) never verifies.
 * Layer: tests. Thread: main.
 */
#include "core/mem.h"
#include "security/apitoken.h"
#include "security/password.h"
#include "security/recovery.h"
#include "security/totp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *s = hx_xstrndup((const char *)data + 1, size - 1);
    size_t len = strlen(s);
    static const uint8_t key[20] = "12345678901234567890";
    switch (data[0] % 5) {
    case 0: {
        int64_t step = 0;
        int digits = 0;
        for (const char *p = s; *p; p++)
            digits += *p >= '0' && *p <= '9';
        enum sec_totp_result r = sec_totp_verify(key, sizeof(key), s, 59, -1, &step);
        if (r == SEC_TOTP_OK && (digits != 6 || strspn(s, "0123456789 ") != len))
            abort();
        break;
    }
    case 1: {
        uint8_t raw[256];
        size_t n = 0;
        if (sec_base32_decode(s, raw, sizeof(raw), &n) == 0) {
            char again[512];
            if (sec_base32_encode(raw, n, again, sizeof(again)) != 0)
                abort();
            uint8_t back[256];
            size_t m = 0;
            if (sec_base32_decode(again, back, sizeof(back), &m) != 0 || m != n ||
                memcmp(raw, back, n) != 0)
                abort();
        }
        break;
    }
    case 2: {
        char norm[SEC_RECOVERY_CHARS + 1];
        if (sec_recovery_normalize(s, norm) &&
            (strlen(norm) != SEC_RECOVERY_CHARS ||
             strspn(norm, "0123456789abcdefghjkmnpqrstvwxyz") != SEC_RECOVERY_CHARS))
            abort();
        break;
    }
    case 3:
        if (sec_apitoken_is_wellformed(s, len) &&
            (len != SEC_APITOKEN_LEN || strncmp(s, SEC_APITOKEN_PREFIX, 4) != 0))
            abort();
        break;
    default:
        if (sec_password_policy_check(s, len, "alice") == SEC_PW_OK && len < 12)
            abort();
        break;
    }
    free(s);
    return 0;
}

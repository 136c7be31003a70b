/*
 * RFC 6238 TOTP and RFC 4226 HOTP (HMAC-SHA-1 through OpenSSL), Base32, the otpauth:// URI
 * and the enrolment QR code as SVG (libqrencode). Everything but secret generation is pure.
 * Layer: security. Thread: any (no shared state).
 */
#include "security/totp.h"
#include "core/err.h"
#include "core/mem.h"
#include "security/secret.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <qrencode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* RFC 4226 §5.3: dynamic truncation of HMAC-SHA-1(K, C) with C 8 bytes big-endian. */
uint32_t sec_hotp(const uint8_t *key, size_t key_len, uint64_t counter, int digits)
{
    uint8_t msg[8];
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    static const uint8_t no_key;
    HMAC(EVP_sha1(), key_len ? key : &no_key, (int)key_len, msg, sizeof(msg), mac, &mac_len);
    unsigned off = mac[mac_len - 1] & 0x0f;
    uint32_t bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
                   (uint32_t)mac[off + 2] << 8 | (uint32_t)mac[off + 3];
    uint32_t mod = 1;
    for (int i = 0; i < digits; i++)
        mod *= 10;
    OPENSSL_cleanse(mac, sizeof(mac));
    return bin % mod;
}

int64_t sec_totp_step(int64_t unix_s)
{
    /* floor division: times before 1970 never occur, but keep the step monotonic anyway */
    return unix_s >= 0 ? unix_s / SEC_TOTP_PERIOD
                       : -((-unix_s + SEC_TOTP_PERIOD - 1) / SEC_TOTP_PERIOD);
}

/* Parses exactly SEC_TOTP_DIGITS digits, ignoring spaces. */
static bool parse_code(const char *code, char digits[SEC_TOTP_DIGITS])
{
    int n = 0;
    for (const char *p = code; *p; p++) {
        if (*p == ' ')
            continue;
        if (*p < '0' || *p > '9' || n == SEC_TOTP_DIGITS)
            return false;
        digits[n++] = *p;
    }
    return n == SEC_TOTP_DIGITS;
}

enum sec_totp_result sec_totp_verify(const uint8_t *key, size_t key_len, const char *code,
                                     int64_t now_s, int64_t last_step, int64_t *step)
{
    char given[SEC_TOTP_DIGITS];
    if (!code || !parse_code(code, given))
        return SEC_TOTP_BAD;
    int64_t now_step = sec_totp_step(now_s);
    int64_t ok_step = -1;
    bool replay = false;
    for (int64_t s = now_step - SEC_TOTP_WINDOW; s <= now_step + SEC_TOTP_WINDOW; s++) {
        if (s < 0)
            continue;
        char want[SEC_TOTP_DIGITS + 1];
        snprintf(want, sizeof(want), "%06u", sec_hotp(key, key_len, (uint64_t)s, SEC_TOTP_DIGITS));
        bool match = CRYPTO_memcmp(want, given, SEC_TOTP_DIGITS) == 0;
        if (match && s > last_step)
            ok_step = s; /* the latest fresh step wins */
        else if (match)
            replay = true;
    }
    if (ok_step >= 0) {
        if (step)
            *step = ok_step;
        return SEC_TOTP_OK;
    }
    return replay ? SEC_TOTP_REPLAY : SEC_TOTP_BAD;
}

int sec_base32_encode(const uint8_t *in, size_t len, char *out, size_t out_len)
{
    size_t need = (len * 8 + 4) / 5 + 1;
    if (out_len < need)
        return HX_ETOOBIG;
    size_t o = 0;
    uint32_t buf = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        buf = (buf << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32_alphabet[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = b32_alphabet[(buf << (5 - bits)) & 31];
    out[o] = '\0';
    return 0;
}

int sec_base32_decode(const char *in, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t o = 0;
    uint32_t buf = 0;
    int bits = 0;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == ' ' || c == '=' || c == '-')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        const char *hit = c ? strchr(b32_alphabet, c) : NULL;
        if (!hit)
            return HX_EMALFORMED;
        buf = (buf << 5) | (uint32_t)(hit - b32_alphabet);
        bits += 5;
        if (bits >= 8) {
            if (o == cap)
                return HX_ETOOBIG;
            out[o++] = (uint8_t)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    *out_len = o;
    return 0;
}

int sec_totp_secret_generate(uint8_t raw[SEC_TOTP_SECRET_BYTES], char b32[SEC_TOTP_B32_MAX])
{
    int rc = sec_random_bytes(raw, SEC_TOTP_SECRET_BYTES);
    if (rc < 0)
        return rc;
    return b32 ? sec_base32_encode(raw, SEC_TOTP_SECRET_BYTES, b32, SEC_TOTP_B32_MAX) : 0;
}

/* Appends s percent-encoded (RFC 3986 unreserved characters pass) at out[*o]. */
static bool put_encoded(char *out, size_t out_len, size_t *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        if (*o + (plain ? 1 : 3) >= out_len)
            return false;
        if (plain) {
            out[(*o)++] = (char)c;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[c >> 4];
            out[(*o)++] = hex[c & 15];
        }
    }
    out[*o] = '\0';
    return true;
}

int sec_totp_uri(const char *account, const char *b32, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "otpauth://totp/%s:", SEC_TOTP_ISSUER);
    if (n < 0 || (size_t)n >= out_len)
        return HX_ETOOBIG;
    size_t o = (size_t)n;
    if (!put_encoded(out, out_len, &o, account))
        return HX_ETOOBIG;
    n = snprintf(out + o, out_len - o, "?secret=%s&issuer=%s&algorithm=SHA1&digits=%d&period=%d",
                 b32, SEC_TOTP_ISSUER, SEC_TOTP_DIGITS, SEC_TOTP_PERIOD);
    if (n < 0 || (size_t)n >= out_len - o)
        return HX_ETOOBIG;
    return 0;
}

/* A growing string for the SVG. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void sbuf_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = hx_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sbuf_str(struct sbuf *b, const char *s)
{
    sbuf_put(b, s, strlen(s));
}

static void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        sbuf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

int sec_totp_qr_svg(const char *text, char **svg, size_t *len)
{
    *svg = NULL;
    *len = 0;
    errno = 0;
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr)
        return errno == ENOMEM ? -ENOMEM : HX_ETOOBIG;
    const int quiet = 4, w = qr->width, full = w + 2 * quiet;
    struct sbuf b = {0};
    sbuf_printf(&b,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                "shape-rendering=\"crispEdges\">",
                full, full);
    sbuf_str(&b, "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path fill=\"#000\" d=\"");
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w; x++) {
            if (!(qr->data[y * w + x] & 1))
                continue;
            int run = 1; /* one horizontal run per stretch of dark modules */
            while (x + run < w && (qr->data[y * w + x + run] & 1))
                run++;
            sbuf_printf(&b, "M%d %dh%dv1h-%dz", x + quiet, y + quiet, run, run);
            x += run - 1;
        }
    }
    sbuf_str(&b, "\"/></svg>\n");
    QRcode_free(qr);
    *svg = b.p;
    *len = b.len;
    return 0;
}

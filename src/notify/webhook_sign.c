/*
 * Webhook request signing: the X-Medhub-Signature value (HMAC-SHA-256 with the webhook's
 * secret over timestamp "." body, so a receiver can check both origin and freshness) and the
 * header lines of one attempt. Pure apart from OpenSSL. Layer: notify. Thread: any.
 */
#include "core/err.h"
#include "core/mem.h"
#include "notify/webhook.h"
#include "security/secret.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int webhook_sign(const char *secret, int64_t timestamp_s, const char *body, size_t len,
                 char out[WEBHOOK_SIG_LEN])
{
    char ts[24], hex[SEC_HASH_HEX];
    int n = snprintf(ts, sizeof(ts), "%" PRId64, timestamp_s);
    struct slice parts[] = {slice_make(ts, (size_t)n), slice_cstr("."), slice_make(body, len)};
    int rc = sec_hmac_sha256_hex(secret, strlen(secret), parts, HX_ARRAY_LEN(parts), hex);
    if (rc < 0)
        return rc;
    snprintf(out, WEBHOOK_SIG_LEN, "sha256=%s", hex);
    return 0;
}

int webhook_headers_build(struct webhook_headers *out, const char *event, int64_t delivery_id,
                          uint32_t attempt, int64_t timestamp_s, const char *secret,
                          const char *body, size_t len)
{
    if (!webhook_event_is_valid(event))
        return HX_EINVAL;
    char sig[WEBHOOK_SIG_LEN];
    int rc = webhook_sign(secret, timestamp_s, body, len, sig);
    if (rc < 0)
        return rc;
    const size_t n = WEBHOOK_HEADER_MAX;
    snprintf(out->line[0], n, "Content-Type: application/json");
    snprintf(out->line[1], n, "User-Agent: medhub/%s", MEDHUB_VERSION);
    snprintf(out->line[2], n, "X-Medhub-Event: %s", event);
    snprintf(out->line[3], n, "X-Medhub-Delivery: %" PRId64, delivery_id);
    snprintf(out->line[4], n, "X-Medhub-Attempt: %" PRId64 ".%" PRIu32, delivery_id, attempt);
    snprintf(out->line[5], n, "X-Medhub-Timestamp: %" PRId64, timestamp_s);
    snprintf(out->line[6], n, "X-Medhub-Signature: %s", sig);
    return 0;
}

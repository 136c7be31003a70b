/*
 * Webhooks: notifications (alert transitions, tests) POSTed as signed JSON to receivers that
 * other systems run (integration engines, paging, ticketing). docs/webhooks.md is the
 * receiver's contract.
 *
 * webhooks_notify makes a notification durable as one webhook_deliveries row per matching
 * webhook: the table is the queue. A dispatcher on the loop claims due rows every
 * WEBHOOK_POLL_MS on a libuv worker with its own store connection (the attempt number is
 * stored before the attempt starts, so it is never reused) and POSTs them through libcurl's
 * multi interface on the loop, at most WEBHOOK_MAX_IN_FLIGHT at a time: no thread ever blocks
 * on a receiver. Any 2xx acknowledges a delivery; anything else (refused, timeout, TLS
 * failure, non-2xx) is retried after an exponential backoff with jitter until the delivery
 * expires (webhook.expire_s after it was created), when it becomes DEAD: the dead-letter list
 * (`medhub webhook deliveries --state dead`, `medhub webhook retry ID`). Delivery is at
 * least once; receivers dedupe on X-Medhub-Delivery. Every state change is stored and logged
 * (delivery ids, webhook names, never the URL, the secret or the body).
 *
 * Thread: the lifecycle and webhooks_notify run on the loop thread; the pure helpers below
 * (names, severities, URLs, signatures, backoff) run on any thread.
 */
#ifndef MEDHUB_NOTIFY_WEBHOOK_H
#define MEDHUB_NOTIFY_WEBHOOK_H

#include "core/cfg.h"
#include "domain/alert.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* How often the dispatcher looks for due deliveries (also what `medhub webhook test` waits
 * for at most before the daemon sees a new row). */
#define WEBHOOK_POLL_MS 200
/* Most attempts in flight at once, over all webhooks. */
#define WEBHOOK_MAX_IN_FLIGHT 4
/* A claimed delivery is due again this long after its attempt's timeout if no result was
 * stored (the daemon crashed mid-attempt). */
#define WEBHOOK_LEASE_MARGIN_MS 10000
/* Most notifications waiting in memory for the store; past it notifications are refused
 * (each refusal logged at error). */
#define WEBHOOK_QUEUE_MAX 10000

struct webhooks;

/* Running totals since start (also logged by webhooks_stop). */
struct webhooks_stats {
    uint64_t notified;        /* notifications accepted by webhooks_notify */
    uint64_t queued;          /* delivery rows written for them */
    uint64_t delivered;       /* attempts acknowledged with a 2xx */
    uint64_t failed_attempts; /* attempts that failed (including ones abandoned at stop) */
    uint64_t dead;            /* deliveries moved to DEAD by this daemon */
    uint64_t lost;            /* notifications refused or not stored (each logged at error) */
    int64_t pending;          /* PENDING rows at the last count, -1 before the first */
};

/* Starts the dispatcher on loop with cfg->webhook and its own connection to cfg->storage
 * (opened on the first poll, on a worker). Loads webhook.ca_file now, so a bad file stops the
 * daemon from starting. cfg is copied. OUT: *out returns owned; webhooks_stop it on the loop,
 * then webhooks_free it after the loop has run dry.
 * Errors (one line of detail in err): HX_ECONFIG (ca_file unreadable or without
 * certificates), -ENOMEM, or a libuv/libcurl start-up failure as HX_EINVAL.
 * Thread: loop (or before the loop runs). */
int webhooks_start(struct webhooks **out, uv_loop_t *loop, const struct cfg *cfg, char *err,
                   size_t err_len);

/* Queues a notification: event (1..63 of a-z 0-9 . _ -, starting with a letter, e.g.
 * "alert.raised"), the alert it concerns (0 for none), its severity (1 info .. 5 critical)
 * and json_body, a complete JSON document (NUL-terminated, 1..STORE_DELIVERY_PAYLOAD_MAX
 * bytes; copied, never logged). A worker stores one delivery per enabled webhook whose
 * min_severity <= severity before anything is sent; until then the notification waits in
 * memory (it is lost only if the store refuses it until the daemon stops, which is logged at
 * error). A bad argument or a full queue drops the notification with an error log line.
 * w may be NULL (webhooks not running): nothing happens. Thread: loop. */
void webhooks_notify(struct webhooks *w, const char *event, int64_t alert_id, int severity,
                     const char *json_body);

/* Starts the drain: no more polls; attempts in flight are abandoned at once (their deliveries
 * stay PENDING, due immediately: they are sent again after a restart, with a new attempt
 * number), and one last round on a worker stores their results and any queued notifications,
 * then logs the totals. Never blocks the loop. Idempotent; w may be NULL. Thread: loop. */
void webhooks_stop(struct webhooks *w);

/* Frees w once the loop has stopped running (every handle closed). w may be NULL. */
void webhooks_free(struct webhooks *w);

/* Copies the running totals into out. Thread: loop. */
void webhooks_get_stats(const struct webhooks *w, struct webhooks_stats *out);

/* ---- Pure helpers (thread: any) --------------------------------------------------------- */

/* Severities (webhooks.min_severity, the severity of a notification) are enum
 * alert_severity, named with alert_severity_name/alert_severity_parse (domain/alert.h). */

/* A webhook name: 1..63 of A-Z a-z 0-9 . _ - */
bool webhook_name_is_valid(const char *name);
/* An event name: 1..63 of a-z 0-9 . _ -, starting with a letter (it becomes a header). */
bool webhook_event_is_valid(const char *event);

/* Longest URL accepted, bytes (the store's url field holds it with its NUL). */
#define WEBHOOK_URL_MAX  2047
#define WEBHOOK_HOST_MAX 253

/* A parsed webhook URL. */
struct webhook_url {
    bool tls;                             /* https */
    bool host_is_ip;                      /* a numeric IPv4 or IPv6 address */
    char host[WEBHOOK_HOST_MAX + 1];      /* lower case; IPv6 without its brackets */
    uint16_t port;                        /* as given, else 80 or 443 */
    char target[WEBHOOK_URL_MAX + 1];     /* path and query, "/" when the URL has neither */
    char normalized[WEBHOOK_URL_MAX + 1]; /* scheme://host[:port]target, what is stored */
};

/* Parses s strictly: scheme http or https (any case); then a host: a DNS name (labels of
 * letters, digits and inner hyphens, 1..63 bytes each, 253 in all, the last one not all
 * digits), a dotted-quad IPv4 address or a bracketed IPv6 address; an optional :PORT
 * (1..65535); an optional path and query of RFC 3986 characters with valid %HH escapes.
 * Refused: user information (user:pass@), fragments (#), spaces, controls, non-ASCII bytes,
 * backslashes, anything over WEBHOOK_URL_MAX bytes. On failure returns HX_EINVAL and says
 * what is wrong in why (never quoting the URL, which may hold a token). */
int webhook_url_parse(const char *s, struct webhook_url *out, char *why, size_t why_len);

/* "sha256=" + 64 hex digits + NUL. */
#define WEBHOOK_SIG_LEN 72

/* The X-Medhub-Signature value: "sha256=" + hex HMAC-SHA-256 keyed with the secret (its
 * bytes as text) over the decimal timestamp, ".", and the body. Returns 0 or -ENOMEM. */
int webhook_sign(const char *secret, int64_t timestamp_s, const char *body, size_t len,
                 char out[WEBHOOK_SIG_LEN]);

/* The request headers of one attempt, as "Name: value" lines (no CR LF). */
#define WEBHOOK_N_HEADERS  7
#define WEBHOOK_HEADER_MAX 128
struct webhook_headers {
    char line[WEBHOOK_N_HEADERS][WEBHOOK_HEADER_MAX]; /* in the order sent */
};

/* Fills out for attempt number attempt (1-based) of delivery delivery_id: Content-Type,
 * User-Agent, X-Medhub-Event, X-Medhub-Delivery, X-Medhub-Attempt (ID.N), X-Medhub-Timestamp
 * and X-Medhub-Signature. Returns 0, HX_EINVAL (bad event) or -ENOMEM. */
int webhook_headers_build(struct webhook_headers *out, const char *event, int64_t delivery_id,
                          uint32_t attempt, int64_t timestamp_s, const char *secret,
                          const char *body, size_t len);

/* Wait before the attempt that follows failed attempt number failures (1-based), in ms:
 * initial_ms doubled per earlier failure, at most max_ms, then up to a quarter less drawn from
 * rnd (jitter, so deliveries that failed together spread out). */
uint64_t webhook_backoff_ms(uint32_t failures, uint32_t initial_ms, uint32_t max_ms, uint32_t rnd);

#endif

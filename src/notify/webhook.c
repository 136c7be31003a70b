/*
 * The webhook dispatcher: the store is the queue, this file moves deliveries through it.
 * Rounds run on a libuv worker with the dispatcher's own store connection, one at a time:
 * each writes the attempt results and notifications gathered on the loop since the last one,
 * then claims due deliveries for the free attempt slots (store_delivery_claim stores the
 * attempt number before the attempt starts). Back on the loop, claimed deliveries are signed
 * and POSTed (webhook_http.c); each outcome is logged at once and becomes a result for the
 * next round: DELIVERED on a 2xx, else PENDING after a backoff, or DEAD when the next
 * attempt would come after the delivery expires. A round runs every WEBHOOK_POLL_MS, and
 * straight away after a notification or an outcome when none is running.
 * Thread safety: `st` is used only by the round in flight (`busy`); a round's inputs (results,
 * notices) and outputs (claims) are moved to and from the worker, never shared. Everything
 * else is the loop's.
 * Layer: notify (above store and security, below server). Thread: loop, except round_work on
 * a libuv worker.
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "notify/webhook_int.h"
#include "security/secret.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

_Static_assert(WEBHOOK_URL_MAX + 1 == STORE_WEBHOOK_URL_MAX, "URL sizes");
_Static_assert(STORE_DELIVERY_EVENT_MAX == 64, "event names are 1..63 bytes");

/* Expired deliveries are swept (and the pending count refreshed) at least this often even
 * when every attempt slot is busy. */
#define WEBHOOK_SWEEP_MS 5000
/* Store failures are logged at most this often (with a count of the ones not logged). */
#define WEBHOOK_WARN_EVERY_MS 10000
/* Rounds the drain may spend storing what is left before giving up on it. */
#define WEBHOOK_FINAL_ROUNDS 3

/* A notification waiting for a round to store it. */
struct notice {
    char event[STORE_DELIVERY_EVENT_MAX]; /* validated */
    int64_t alert_id;                     /* 0 for none */
    int severity;                         /* 1..5 */
    char *body;                           /* the JSON document (owned) */
    size_t len;                           /* bytes of body */
    int64_t at_us;                        /* when it was notified */
    size_t n_added;                       /* round output: deliveries queued */
    int64_t last_id;                      /* round output: id of the last one */
    int rc;                               /* round output: HX_EINVAL when refused */
};

/* An attempt's outcome waiting for a round to store it. */
struct result {
    int64_t id;                           /* delivery */
    uint32_t attempt;                     /* its attempt number */
    enum store_delivery_state state;      /* PENDING, DELIVERED or DEAD */
    int64_t next_us;                      /* PENDING: due again then */
    int64_t at_us;                        /* when the outcome was known */
    char error[STORE_DELIVERY_ERROR_MAX]; /* "" when delivered */
};

/* A delivery a round claimed (strings owned). */
struct claimed {
    int64_t id;                           /* delivery */
    uint32_t attempt;                     /* the attempt number claimed */
    bool dead;                            /* moved to DEAD by the claim instead */
    int64_t expires_us;                   /* dead if not delivered by then */
    char webhook[STORE_WEBHOOK_NAME_MAX]; /* name, for logs */
    char event[STORE_DELIVERY_EVENT_MAX]; /* X-Medhub-Event */
    char error[STORE_DELIVERY_ERROR_MAX]; /* DEAD: why */
    char *url;                            /* owned */
    char *secret;                         /* owned, wiped before free */
    char *payload;                        /* owned */
    size_t payload_len;                   /* bytes of payload */
};

/* One attempt in flight. */
struct attempt {
    struct webhooks *w;                   /* owner */
    int64_t id;                           /* delivery */
    uint32_t attempt;                     /* number */
    int64_t expires_us;                   /* of the delivery */
    int64_t started_mono_us;              /* for the log's duration */
    char webhook[STORE_WEBHOOK_NAME_MAX]; /* name, for logs */
};

struct webhooks {
    uv_loop_t *loop;                               /* borrowed */
    struct cfg_store store_cfg;                    /* copy, for opening st */
    struct cfg_webhook policy;                     /* copy of [webhook] */
    struct webhook__http *http;                    /* the transport */
    struct store *st;                              /* used only by the round in flight */
    uv_timer_t tick;                               /* WEBHOOK_POLL_MS */
    bool busy;                                     /* a round is in flight */
    bool stopping;                                 /* webhooks_stop ran: no more claims */
    bool done;                                     /* the drain is over; totals logged */
    unsigned final_rounds;                         /* rounds run since stopping */
    int64_t last_sweep_mono_us;                    /* last claim that could sweep expired rows */
    int64_t last_warn_mono_us;                     /* last store failure logged */
    uint64_t warn_suppressed;                      /* store failures not logged since */
    struct notice *notices;                        /* waiting to be stored */
    size_t n_notices, cap_notices;                 /* ... */
    struct result *results;                        /* waiting to be stored */
    size_t n_results, cap_results;                 /* ... */
    struct attempt *flight[WEBHOOK_MAX_IN_FLIGHT]; /* attempts in flight, NULL slots free */
    size_t n_flight;                               /* used slots */
    struct webhooks_stats stats;                   /* running totals */
};

/* One round: inputs moved from the loop, outputs moved back. */
struct round {
    uv_work_t req;
    struct webhooks *w;
    struct result *results;  /* to store */
    size_t n_results;        /* ... */
    size_t n_results_done;   /* stored (or stale): the rest go back to the queue */
    size_t n_stale;          /* results whose delivery had moved on (removed, final) */
    struct notice *notices;  /* to store */
    size_t n_notices;        /* ... */
    size_t n_notices_done;   /* stored or refused: the rest go back to the queue */
    size_t limit;            /* deliveries to claim */
    bool claim;              /* run a claim (limit may be 0: sweep expired rows only) */
    bool count;              /* count PENDING rows */
    int64_t lease_ms;        /* how long a claim holds a row */
    struct claimed *claimed; /* claimed or moved to DEAD */
    size_t n_claimed, cap_claimed;
    int64_t pending; /* count output, -1 when not counted */
    int rc;          /* first store error */
};

/* ---- Small helpers ---------------------------------------------------------------------- */

static uint32_t random_u32(void)
{
    uint32_t r = 0;
    if (sec_random_bytes(&r, sizeof(r)) < 0)
        r = (uint32_t)hx_time_mono_us();
    return r;
}

static void claimed_release(struct claimed *c)
{
    if (c->secret)
        memset(c->secret, 0, strlen(c->secret));
    HX_FREE(c->secret);
    HX_FREE(c->url);
    HX_FREE(c->payload);
}

static void push_result(struct webhooks *w, int64_t id, uint32_t attempt,
                        enum store_delivery_state state, int64_t next_us, const char *error)
{
    if (w->n_results == w->cap_results) {
        w->cap_results = w->cap_results ? 2 * w->cap_results : 16;
        w->results = hx_xrealloc(w->results, w->cap_results * sizeof(*w->results));
    }
    struct result *x = &w->results[w->n_results++];
    *x = (struct result){.id = id,
                         .attempt = attempt,
                         .state = state,
                         .next_us = next_us,
                         .at_us = hx_time_now_us()};
    snprintf(x->error, sizeof(x->error), "%s", error ? error : "");
}

/* Puts n items back in front of a queue (they were moved to a round and not stored). */
static void requeue(void **q, size_t *n_q, size_t *cap_q, const void *items, size_t n, size_t size)
{
    if (!n)
        return;
    if (*n_q + n > *cap_q) {
        *cap_q = *n_q + n;
        *q = hx_xrealloc(*q, *cap_q * size);
    }
    memmove((char *)*q + n * size, *q, *n_q * size);
    memcpy(*q, items, n * size);
    *n_q += n;
}

/* ---- The worker side -------------------------------------------------------------------- */

static int collect(void *arg, const struct store_delivery *d)
{
    struct round *r = arg;
    if (r->n_claimed == r->cap_claimed) {
        r->cap_claimed = r->cap_claimed ? 2 * r->cap_claimed : 8;
        r->claimed = hx_xrealloc(r->claimed, r->cap_claimed * sizeof(*r->claimed));
    }
    struct claimed *c = &r->claimed[r->n_claimed++];
    memset(c, 0, sizeof(*c));
    c->id = d->id;
    c->attempt = d->attempts;
    c->dead = d->state == STORE_DELIVERY_DEAD;
    c->expires_us = d->expires_us;
    snprintf(c->webhook, sizeof(c->webhook), "%s", d->webhook);
    snprintf(c->event, sizeof(c->event), "%s", d->event);
    snprintf(c->error, sizeof(c->error), "%s", d->last_error);
    if (!c->dead) {
        c->url = hx_xstrdup(d->url);
        c->secret = hx_xstrdup(d->secret);
        c->payload = hx_xstrndup(d->payload, d->payload_len);
        c->payload_len = d->payload_len;
    }
    return 0;
}

static void round_work(uv_work_t *req)
{
    struct round *r = req->data;
    struct webhooks *w = r->w;
    if (!w->st) {
        char err[256];
        int rc = store_open(&w->st, &w->store_cfg, 0, err, sizeof(err));
        if (rc < 0) {
            w->st = NULL;
            r->rc = rc;
            return;
        }
    }
    for (; r->n_results_done < r->n_results; r->n_results_done++) {
        const struct result *x = &r->results[r->n_results_done];
        int rc = store_delivery_set_result(w->st, x->id, x->attempt, x->state, x->next_us, x->error,
                                           x->at_us);
        if (rc == HX_ENOTFOUND) {
            r->n_stale++;
            continue;
        }
        if (rc < 0) {
            r->rc = rc;
            return;
        }
    }
    for (; r->n_notices_done < r->n_notices; r->n_notices_done++) {
        struct notice *n = &r->notices[r->n_notices_done];
        struct store_delivery_new dn = {
            .event = n->event,
            .alert_id = n->alert_id,
            .severity = n->severity,
            .payload = n->body,
            .payload_len = n->len,
            .now_us = n->at_us,
            .expires_us = n->at_us + (int64_t)w->policy.expire_s * HX_USEC_PER_SEC,
        };
        n->rc = store_delivery_add(w->st, &dn, &n->n_added, &n->last_id);
        if (n->rc < 0 && n->rc != HX_EINVAL) {
            r->rc = n->rc;
            return;
        }
    }
    if (r->claim) {
        int64_t now = hx_time_now_us();
        int rc = store_delivery_claim(w->st, now, now + r->lease_ms * 1000, r->limit, collect, r);
        if (rc < 0) {
            r->rc = rc;
            return;
        }
    }
    if (r->count && store_delivery_count(w->st, STORE_DELIVERY_PENDING, &r->pending) < 0)
        r->pending = -1;
}

/* ---- The loop side ---------------------------------------------------------------------- */

static void pump(struct webhooks *w);

static void finish_stop(struct webhooks *w)
{
    w->done = true;
    const struct webhooks_stats *s = &w->stats;
    if (w->n_notices)
        log_error(NULL, "webhook", "webhook notifications not stored before shutdown", "lost=%zu",
                  w->n_notices);
    if (w->n_results)
        log_warn(NULL, "webhook",
                 "attempt results not stored before shutdown; those deliveries stay pending and "
                 "are attempted again after a restart",
                 "results=%zu", w->n_results);
    log_info(NULL, "webhook", "webhooks stopped",
             "notified=%" PRIu64 " queued=%" PRIu64 " delivered=%" PRIu64
             " failed_attempts=%" PRIu64 " dead=%" PRIu64 " lost=%" PRIu64 " pending=%" PRId64,
             s->notified, s->queued, s->delivered, s->failed_attempts, s->dead,
             s->lost + w->n_notices, s->pending);
    w->stats.lost += w->n_notices;
    for (size_t i = 0; i < w->n_notices; i++)
        free(w->notices[i].body);
    w->n_notices = 0;
    w->n_results = 0;
}

static void on_done(void *arg, const struct webhook__result *res);

/* Signs and POSTs a claimed delivery; takes c's strings. */
static void start_attempt(struct webhooks *w, struct claimed *c)
{
    size_t slot = 0;
    while (slot < WEBHOOK_MAX_IN_FLIGHT && w->flight[slot])
        slot++;
    for (size_t i = 0; i < WEBHOOK_MAX_IN_FLIGHT; i++) {
        if (w->flight[i] && w->flight[i]->id == c->id) {
            /* Its lease ran out while an attempt is still going (the store was stuck): let
             * that attempt finish; this claim's attempt number is simply skipped. */
            log_warn(NULL, "webhook", "delivery claimed again while in flight; skipping",
                     "delivery=%" PRId64 " attempt=%" PRIu32, c->id, c->attempt);
            claimed_release(c);
            return;
        }
    }
    if (HX_UNLIKELY_BUG(slot == WEBHOOK_MAX_IN_FLIGHT)) {
        push_result(w, c->id, c->attempt, STORE_DELIVERY_PENDING, hx_time_now_us(),
                    "not attempted: no free slot");
        claimed_release(c);
        return;
    }
    struct webhook_headers hdr;
    int64_t ts = hx_time_now_us() / HX_USEC_PER_SEC;
    int rc = webhook_headers_build(&hdr, c->event, c->id, c->attempt, ts, c->secret, c->payload,
                                   c->payload_len);
    memset(c->secret, 0, strlen(c->secret));
    struct attempt *a = hx_xcalloc(1, sizeof(*a));
    a->w = w;
    a->id = c->id;
    a->attempt = c->attempt;
    a->expires_us = c->expires_us;
    a->started_mono_us = hx_time_mono_us();
    snprintf(a->webhook, sizeof(a->webhook), "%s", c->webhook);
    if (rc == 0) {
        struct webhook__post p = {
            .url = c->url, .headers = &hdr, .body = c->payload, .len = c->payload_len};
        c->payload = NULL; /* taken by the transport */
        rc = webhook__http_post(w->http, &p, on_done, a);
    }
    memset(&hdr, 0, sizeof(hdr));
    claimed_release(c);
    w->flight[slot] = a;
    w->n_flight++;
    if (rc < 0) {
        struct webhook__result res = {0};
        snprintf(res.error, sizeof(res.error), "cannot start the request: %s", hx_strerror(rc));
        on_done(a, &res);
        return;
    }
    log_debug(NULL, "webhook", "attempt started",
              "delivery=%" PRId64 " attempt=%" PRIu32 " webhook=%s", a->id, a->attempt, a->webhook);
}

static void on_done(void *arg, const struct webhook__result *res)
{
    struct attempt *a = arg;
    struct webhooks *w = a->w;
    for (size_t i = 0; i < WEBHOOK_MAX_IN_FLIGHT; i++) {
        if (w->flight[i] == a) {
            w->flight[i] = NULL;
            w->n_flight--;
        }
    }
    int64_t now = hx_time_now_us();
    long long ms = (long long)((hx_time_mono_us() - a->started_mono_us) / 1000);
    if (res->ok) {
        w->stats.delivered++;
        push_result(w, a->id, a->attempt, STORE_DELIVERY_DELIVERED, 0, "");
        log_info(NULL, "webhook", "delivered",
                 "delivery=%" PRId64 " attempt=%" PRIu32 " webhook=%s status=%ld ms=%lld", a->id,
                 a->attempt, a->webhook, res->status, ms);
    } else if (res->aborted) {
        /* Not the receiver's fault: due again at once (after a restart). */
        w->stats.failed_attempts++;
        push_result(w, a->id, a->attempt, STORE_DELIVERY_PENDING, now, res->error);
        log_info(NULL, "webhook", "attempt abandoned; the delivery stays pending",
                 "delivery=%" PRId64 " attempt=%" PRIu32 " webhook=%s", a->id, a->attempt,
                 a->webhook);
    } else {
        w->stats.failed_attempts++;
        uint64_t wait_ms = webhook_backoff_ms(a->attempt, w->policy.backoff_initial_ms,
                                              w->policy.backoff_max_ms, random_u32());
        int64_t next = now + (int64_t)wait_ms * 1000;
        if (next >= a->expires_us) {
            char why[STORE_DELIVERY_ERROR_MAX];
            snprintf(why, sizeof(why), "expired after %" PRIu32 " attempts: %.200s", a->attempt,
                     res->error);
            w->stats.dead++;
            push_result(w, a->id, a->attempt, STORE_DELIVERY_DEAD, 0, why);
            log_warn(NULL, "webhook", "delivery dead: moved to the dead-letter list",
                     "delivery=%" PRId64 " attempts=%" PRIu32 " webhook=%s error=\"%s\"", a->id,
                     a->attempt, a->webhook, res->error);
        } else {
            push_result(w, a->id, a->attempt, STORE_DELIVERY_PENDING, next, res->error);
            log_info(NULL, "webhook", "attempt failed; will retry",
                     "delivery=%" PRId64 " attempt=%" PRIu32
                     " webhook=%s error=\"%s\" retry_in_ms=%" PRIu64,
                     a->id, a->attempt, a->webhook, res->error, wait_ms);
        }
    }
    free(a);
    pump(w);
}

/* Rate-limited warning for a round the store refused. */
static void warn_store(struct webhooks *w, const struct round *r, int rc)
{
    int64_t mono = hx_time_mono_us();
    if (w->last_warn_mono_us && mono - w->last_warn_mono_us < WEBHOOK_WARN_EVERY_MS * 1000) {
        w->warn_suppressed++;
        return;
    }
    log_warn(NULL, "webhook", "webhook store round failed; will retry",
             "err=\"%s\" unstored_results=%zu unstored_notifications=%zu suppressed=%" PRIu64,
             hx_strerror(rc), r->n_results - r->n_results_done, r->n_notices - r->n_notices_done,
             w->warn_suppressed);
    w->last_warn_mono_us = mono;
    w->warn_suppressed = 0;
}

static void round_after(uv_work_t *req, int status)
{
    struct round *r = req->data;
    struct webhooks *w = r->w;
    /* w->busy stays set until the end: an attempt that fails at once calls pump(), which must
     * not start a round (and claim for slots) before every claimed delivery has one. */
    if (status < 0 && !r->rc)
        r->rc = status;
    if (r->rc)
        warn_store(w, r, r->rc);

    if (r->n_stale)
        log_debug(NULL, "webhook", "results for deliveries that had moved on were not stored",
                  "n=%zu", r->n_stale);
    requeue((void **)&w->results, &w->n_results, &w->cap_results, r->results + r->n_results_done,
            r->n_results - r->n_results_done, sizeof(*r->results));

    for (size_t i = 0; i < r->n_notices_done; i++) {
        struct notice *n = &r->notices[i];
        if (n->rc < 0) {
            w->stats.lost++;
            log_error(NULL, "webhook", "webhook notification refused by the store",
                      "event=%s alert_id=%" PRId64 " err=\"%s\"", n->event, n->alert_id,
                      hx_strerror(n->rc));
        } else if (n->n_added) {
            w->stats.queued += n->n_added;
            log_info(NULL, "webhook", "notification queued",
                     "event=%s alert_id=%" PRId64 " deliveries=%zu first=%" PRId64 " last=%" PRId64,
                     n->event, n->alert_id, n->n_added, n->last_id - (int64_t)n->n_added + 1,
                     n->last_id);
        } else {
            log_debug(NULL, "webhook", "no webhook wants this notification",
                      "event=%s alert_id=%" PRId64 " severity=%d", n->event, n->alert_id,
                      n->severity);
        }
        free(n->body);
    }
    requeue((void **)&w->notices, &w->n_notices, &w->cap_notices, r->notices + r->n_notices_done,
            r->n_notices - r->n_notices_done, sizeof(*r->notices));

    if (r->count && r->pending >= 0)
        w->stats.pending = r->pending;
    for (size_t i = 0; i < r->n_claimed; i++) {
        struct claimed *c = &r->claimed[i];
        if (c->dead) {
            w->stats.dead++;
            log_warn(NULL, "webhook", "delivery dead: moved to the dead-letter list",
                     "delivery=%" PRId64 " attempts=%" PRIu32 " webhook=%s error=\"%s\"", c->id,
                     c->attempt, c->webhook[0] ? c->webhook : "(removed)", c->error);
        } else if (w->stopping) {
            push_result(w, c->id, c->attempt, STORE_DELIVERY_PENDING, hx_time_now_us(),
                        "not attempted: shutting down");
        } else {
            start_attempt(w, c);
        }
        claimed_release(c);
    }
    int rc = r->rc;
    free(r->claimed);
    free(r->results);
    free(r->notices);
    free(r);
    w->busy = false;

    if (w->stopping && !w->done) {
        if (w->n_results || w->n_notices || w->final_rounds == 0)
            pump(w);
        else
            finish_stop(w);
        return;
    }
    /* Results and notices came in meanwhile: store them now rather than at the next tick
     * (after a store failure, the tick paces the retries). */
    if (rc == 0 && (w->n_results || w->n_notices))
        pump(w);
}

/* Starts a round if none is running and there is something to do. */
static void pump(struct webhooks *w)
{
    if (w->busy || w->done)
        return;
    struct round *r = hx_xcalloc(1, sizeof(*r));
    r->req.data = r;
    r->w = w;
    r->pending = -1;
    if (w->stopping) {
        if (w->final_rounds == WEBHOOK_FINAL_ROUNDS) {
            free(r);
            finish_stop(w);
            return;
        }
        w->final_rounds++;
        r->count = true;
    } else {
        int64_t mono = hx_time_mono_us();
        r->limit = WEBHOOK_MAX_IN_FLIGHT - w->n_flight;
        bool sweep = mono - w->last_sweep_mono_us >= WEBHOOK_SWEEP_MS * 1000;
        r->claim = r->limit > 0 || sweep;
        r->count = sweep;
        if (sweep)
            w->last_sweep_mono_us = mono;
        r->lease_ms = (int64_t)w->policy.timeout_ms + WEBHOOK_LEASE_MARGIN_MS;
        if (!r->claim && !w->n_results && !w->n_notices) {
            free(r);
            return;
        }
    }
    r->results = w->results;
    r->n_results = w->n_results;
    r->notices = w->notices;
    r->n_notices = w->n_notices;
    w->results = NULL;
    w->n_results = w->cap_results = 0;
    w->notices = NULL;
    w->n_notices = w->cap_notices = 0;
    int rc = uv_queue_work(w->loop, &r->req, round_work, round_after);
    if (rc < 0) {
        /* Cannot happen with a live loop; keep everything queued for the next try. */
        requeue((void **)&w->results, &w->n_results, &w->cap_results, r->results, r->n_results,
                sizeof(*r->results));
        requeue((void **)&w->notices, &w->n_notices, &w->cap_notices, r->notices, r->n_notices,
                sizeof(*r->notices));
        free(r->results);
        free(r->notices);
        free(r);
        if (w->stopping)
            finish_stop(w);
        return;
    }
    w->busy = true;
}

static void on_tick(uv_timer_t *t)
{
    pump(t->data);
}

/* ---- Public API ------------------------------------------------------------------------- */

int webhooks_start(struct webhooks **out, uv_loop_t *loop, const struct cfg *cfg, char *err,
                   size_t err_len)
{
    *out = NULL;
    struct webhooks *w = hx_xcalloc(1, sizeof(*w));
    w->loop = loop;
    w->store_cfg = cfg->storage;
    w->policy = cfg->webhook;
    w->stats.pending = -1;
    int rc =
        webhook__http_new(&w->http, loop, w->policy.timeout_ms, w->policy.ca_file, err, err_len);
    if (rc < 0) {
        free(w);
        return rc;
    }
    uv_timer_init(loop, &w->tick);
    w->tick.data = w;
    /* The first round straight away: deliveries left pending by the last run go out now.
     * (uv_timer_start fails only for a closing handle or a NULL callback.) */
    uv_timer_start(&w->tick, on_tick, 0, WEBHOOK_POLL_MS);
    log_info(NULL, "webhook", "webhooks started",
             "timeout_ms=%" PRIu32 " backoff_initial_ms=%" PRIu32 " backoff_max_ms=%" PRIu32
             " expire_s=%" PRIu32 " extra_ca=%s",
             w->policy.timeout_ms, w->policy.backoff_initial_ms, w->policy.backoff_max_ms,
             w->policy.expire_s, w->policy.ca_file[0] ? "yes" : "no");
    *out = w;
    return 0;
}

void webhooks_notify(struct webhooks *w, const char *event, int64_t alert_id, int severity,
                     const char *json_body)
{
    if (!w)
        return;
    size_t len = json_body ? strnlen(json_body, STORE_DELIVERY_PAYLOAD_MAX + 1) : 0;
    const char *why = NULL;
    if (!webhook_event_is_valid(event))
        why = "bad event name";
    else if (severity < ALERT_SEV_INFO || severity > ALERT_SEV_CRITICAL)
        why = "severity outside 1..5";
    else if (len == 0 || len > STORE_DELIVERY_PAYLOAD_MAX)
        why = "body empty or larger than the payload limit";
    else if (w->done)
        why = "shutting down";
    else if (w->n_notices >= WEBHOOK_QUEUE_MAX)
        why = "queue full: the store is not keeping up";
    if (why) {
        w->stats.lost++;
        log_error(NULL, "webhook", "webhook notification dropped",
                  "reason=\"%s\" event=%s alert_id=%" PRId64 " bytes=%zu", why,
                  webhook_event_is_valid(event) ? event : "(invalid)", alert_id, len);
        return;
    }
    if (w->n_notices == w->cap_notices) {
        w->cap_notices = w->cap_notices ? 2 * w->cap_notices : 16;
        w->notices = hx_xrealloc(w->notices, w->cap_notices * sizeof(*w->notices));
    }
    struct notice *n = &w->notices[w->n_notices++];
    *n = (struct notice){.alert_id = alert_id,
                         .severity = severity,
                         .body = hx_xstrndup(json_body, len),
                         .len = len,
                         .at_us = hx_time_now_us()};
    snprintf(n->event, sizeof(n->event), "%s", event);
    w->stats.notified++;
    pump(w);
}

void webhooks_stop(struct webhooks *w)
{
    if (!w || w->stopping)
        return;
    w->stopping = true;
    uv_timer_stop(&w->tick);
    uv_close((uv_handle_t *)&w->tick, NULL);
    webhook__http_close(w->http); /* abandoned attempts become results */
    pump(w);                      /* the last rounds; if one is running, its end starts them */
}

void webhooks_free(struct webhooks *w)
{
    if (!w)
        return;
    webhook__http_free(w->http);
    if (w->st)
        store_close(w->st);
    for (size_t i = 0; i < w->n_notices; i++)
        free(w->notices[i].body);
    free(w->notices);
    free(w->results);
    free(w);
}

void webhooks_get_stats(const struct webhooks *w, struct webhooks_stats *out)
{
    *out = w->stats;
}

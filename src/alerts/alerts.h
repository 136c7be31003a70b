/*
 * The alerting service: runs the rules engine (rules/engine.h) inside the daemon. It sees
 * every reading the pipeline accepts (ingest_add_observer) and every presence and status
 * report (reg_set_observer), arms one libuv timer on the engine's earliest deadline,
 * persists every alert transition durably on a worker (its own store connection, one batch
 * at a time), applies the actions people ask for (`medhub alert ack|resolve` write a row;
 * a poll round every ALERTS_POLL_MS applies it), reloads rule settings when they change, keeps
 * the watched-device list in step with the registry, and notifies: the log, the listener (the
 * live stream), and webhooks.
 * Restart: open alerts are restored from the store and their escalation re-armed.
 * Thread: loop, every function.
 */
#ifndef MEDHUB_ALERTS_ALERTS_H
#define MEDHUB_ALERTS_ALERTS_H

#include "core/cfg.h"
#include "domain/alert.h"

#include <stdint.h>
#include <uv.h>

#define ALERTS_POLL_MS 250

struct alerts;
struct registry;
struct ingest;
struct webhooks;
struct store_writer;

/* Told about every transition (the live stream, tests). a is valid for the call only. */
typedef void alerts_listener_fn(void *arg, const struct alert *a, enum alert_event ev,
                                const char *target);

struct alerts_stats {
    uint64_t readings;       /* readings evaluated */
    uint64_t raised;         /* alerts raised */
    uint64_t resolved;       /* alerts resolved */
    uint64_t escalations;    /* escalation notifications */
    uint64_t persisted;      /* transitions written */
    uint64_t persist_failed; /* transitions the store refused (retried) */
    uint64_t actions;        /* actions applied */
    uint32_t open;           /* alerts open now (raised or acknowledged) */
    uint32_t acked;          /* of which acknowledged */
    /* From a reading's arrival at the gateway to the alert transition it caused, in the
     * engine (raised) and in the store (persisted), microseconds. */
    uint64_t raise_p50_us, raise_p99_us, raise_p999_us, raise_max_us;
    uint64_t persist_p50_us, persist_p99_us, persist_p999_us, persist_max_us;
    uint64_t latency_samples;
};

/* Loads settings, open alerts and the devices to watch (blocking: before the loop runs),
 * then hooks into ig and reg. webhooks may be NULL. OUT: *out returns owned (alerts_free
 * after the loop). Errors: store errors with detail in err. */
int alerts_start(struct alerts **out, uv_loop_t *loop, const struct cfg *cfg,
                 struct store_writer *writer, struct registry *reg, struct ingest *ig,
                 struct webhooks *webhooks, char *err, size_t err_len);
/* Stops the timers and polls, unhooks, and hands what is still queued to the writer (call
 * it before store_writer_stop, which then writes it; run the loop to completion before
 * alerts_free). Idempotent. */
void alerts_stop(struct alerts *a);
void alerts_free(struct alerts *a);

void alerts_set_listener(struct alerts *a, alerts_listener_fn *fn, void *arg);
void alerts_get_stats(const struct alerts *a, struct alerts_stats *out);

#endif

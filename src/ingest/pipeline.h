/*
 * The ingest pipeline: the one path every reading takes, whatever front end it came in by
 * (MQTT, HTTP, HL7). A front end decodes and normalizes; ingest_submit attributes the
 * observations (device, patient assigned at each reading's effective time, receive time) and
 * hands them to the store writer as ONE request, so a message is stored whole or not at all,
 * then calls the front end back when the request is durable (status 0) or failed. Only then
 * may the front end acknowledge the device (STYLE.md 6). Rules and live fan-out hook in here
 * later.
 *
 * Backpressure: when the writer's queue is full ingest_submit returns -EAGAIN; the front end
 * stops reading from its source and registers an ingest_waiter, which is called once after
 * the next completion frees space.
 * Thread: loop, every function.
 */
#ifndef MEDHUB_INGEST_PIPELINE_H
#define MEDHUB_INGEST_PIPELINE_H

#include "domain/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ingest;
struct registry;
struct store_writer;

/* Completion of one submitted message, on the loop thread. status 0: durable; negative:
 * nothing of the message is stored (HX_EFULL, HX_EREADONLY, HX_ESTORE, HX_ESHUTDOWN). */
typedef void ingest_done_fn(void *arg, int status);

/* Called once, on the loop, when space may have become free after an -EAGAIN. */
typedef void ingest_space_fn(void *arg);

/* A front end's registration for "space available". Embedded in the front end's object; the
 * pipeline links it while waiting. Zero-initialise before first use. */
struct ingest_waiter {
    ingest_space_fn *cb;               /* called once, then unlinked */
    void *arg;                         /* for cb */
    struct ingest_waiter *prev, *next; /* in the pipeline's list while linked */
    bool linked;                       /* waiting now */
};

struct ingest_stats {
    uint64_t messages;     /* messages accepted by ingest_submit */
    uint64_t observations; /* observations in them */
    uint64_t durable;      /* messages reported durable */
    uint64_t failed;       /* messages reported failed */
    uint64_t backpressure; /* submits refused with -EAGAIN */
    uint64_t rejected;     /* submits refused otherwise (unknown device, too big, ...) */
    uint64_t unassigned;   /* observations stored with patient 0 (device unassigned) */
    uint32_t in_flight;    /* messages submitted and not yet completed */
};

/* OUT: *out returns owned (free with ingest_free once every completion has run, i.e. after
 * store_writer_stop). writer and reg are borrowed and must outlive the pipeline. */
void ingest_new(struct ingest **out, struct store_writer *writer, struct registry *reg);
void ingest_free(struct ingest *ig);

/*
 * Attributes obs[0..n) to the device (internal id device_id): sets device_id, patient_id
 * (the device's assignment at each effective_us, 0 when unassigned) and received_us
 * (now_us), then enqueues all n in one store_writer_enqueue call. obs is borrowed and
 * modified in place (copied before return). cb (required) runs later on the loop.
 * Returns 0; -EAGAIN (writer queue full: register a waiter and retry); HX_ENOTFOUND (device
 * not in the registry); HX_ETOOBIG (more than storage.batch_max observations); HX_EINVAL
 * (n is 0 or a value is not finite); HX_ESHUTDOWN. If it returns an error, cb never runs.
 */
int ingest_submit(struct ingest *ig, int64_t device_id, struct obs *obs, size_t n, int64_t now_us,
                  ingest_done_fn *cb, void *arg);

/* Links w (cb/arg set by the caller) until the next completion of any pipeline request; a
 * no-op if already linked. Call it right after an -EAGAIN (the full queue guarantees that a
 * completion follows). w->cb runs once, after w is unlinked; it may submit and re-link. */
void ingest_wait_space(struct ingest *ig, struct ingest_waiter *w);
/* Unlinks w if linked (the front end is going away). */
void ingest_waiter_cancel(struct ingest *ig, struct ingest_waiter *w);

void ingest_get_stats(const struct ingest *ig, struct ingest_stats *out);

#endif

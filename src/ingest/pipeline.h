/*
 * The ingest pipeline: the one path every reading takes, whatever front end it came in by
 * (MQTT, HTTP, HL7). A front end decodes and normalizes; ingest_submit attributes the
 * observations (device, patient assigned at each reading's effective time, receive time) and
 * hands them to the store writer as ONE request, so a message is stored whole or not at all,
 * then calls the front end back when the request is durable (status 0) or failed. Only then
 * may the front end acknowledge the device (STYLE.md 6). Rules and live fan-out hook in here
 * later.
 *
 * Device events take the same shape through ingest_submit_events: attributed the same way,
 * then written by the pipeline's event writer, a libuv worker with its own store connection
 * (one transaction per job, one job at a time), and called back in submit order once durable.
 *
 * Backpressure: when the writer's queue (or the event queue) is full ingest_submit
 * (ingest_submit_events) returns -EAGAIN; the front end stops reading from its source and
 * registers an ingest_waiter, which is called once after a later completion frees space.
 * Thread: loop, every function.
 */
#ifndef MEDHUB_INGEST_PIPELINE_H
#define MEDHUB_INGEST_PIPELINE_H

#include "core/cfg.h"
#include "domain/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Events accepted and not yet called back, at most (the event writer's queue is the smaller
 * of this and storage.queue_max). */
#define INGEST_EVENTS_QUEUE_MAX 4096

struct ingest;
struct registry;
struct senml_event;
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
    /* Device events (ingest_submit_events). backpressure and rejected count them too. */
    uint64_t event_messages;    /* event messages accepted */
    uint64_t events;            /* events in them */
    uint64_t events_stored;     /* events committed as new rows */
    uint64_t events_duplicate;  /* events committed that were already stored (redeliveries) */
    uint64_t events_failed;     /* events whose transaction failed */
    uint64_t events_unassigned; /* events attributed to patient 0 (device unassigned) */
    uint32_t events_queued;     /* events accepted and not yet called back */
};

/* OUT: *out returns owned. loop, writer and reg are borrowed and must outlive the pipeline;
 * cfg is copied (the event writer opens its own connection from it, on its first job).
 * Free with ingest_free once every completion has run: after store_writer_stop, and after
 * the loop ran to completion (event jobs are libuv work requests). */
void ingest_new(struct ingest **out, uv_loop_t *loop, const struct cfg_store *cfg,
                struct store_writer *writer, struct registry *reg);
/* Stops accepting: later ingest_submit and ingest_submit_events calls return HX_ESHUTDOWN.
 * Events already submitted are still written, and their callbacks run while the loop runs
 * (durable, or failed: a job waiting out a full disk tries once more, then fails with
 * HX_EFULL); nothing waits forever. Call at shutdown before store_writer_stop. */
void ingest_stop(struct ingest *ig);
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

/*
 * A manual entry (a person typed the readings in): like ingest_submit, with device_id 0 and
 * every reading attributed to patient_id (> 0, checked by the caller: it exists and the
 * person may write to it), received now_us. The rules see the readings like any other and
 * cb runs once they are durable. Returns 0, -EAGAIN, HX_ETOOBIG, HX_EINVAL (n is 0,
 * patient_id <= 0, a value not finite), HX_ESHUTDOWN; if it returns an error, cb never runs.
 */
int ingest_submit_manual(struct ingest *ig, int64_t patient_id, struct obs *obs, size_t n,
                         int64_t now_us, ingest_done_fn *cb, void *arg);

/*
 * Attributes ev[0..n) like ingest_submit (device device_id, the patient assigned at each
 * event's time_us, 0 when unassigned; received now_us), copies them (ev is borrowed for the
 * call) and queues them with the event writer as ONE request: stored whole or not at all.
 * cb (required) runs later on the loop, in submit order among event requests, with 0 once
 * every event is durable (a redelivered event already stored counts as durable) or the
 * error that rolled its transaction back (HX_EFULL only at shutdown, HX_EREADONLY, HX_EBUSY,
 * HX_ESTORE, HX_ECORRUPT...). Returns 0; -EAGAIN (event queue full: register a waiter and
 * retry); HX_ENOTFOUND (device not in the registry); HX_ETOOBIG (more events than the
 * queue holds); HX_EINVAL (n is 0 or a type is not an enum dev_event_type); HX_ESHUTDOWN.
 * If it returns an error, cb never runs.
 */
int ingest_submit_events(struct ingest *ig, int64_t device_id, const struct senml_event *ev,
                         size_t n, int64_t now_us, ingest_done_fn *cb, void *arg);

/* Links w (cb/arg set by the caller) until the next completion of any pipeline request; a
 * no-op if already linked. Call it right after an -EAGAIN (the full queue guarantees that a
 * completion follows). w->cb runs once, after w is unlinked; it may submit and re-link. */
void ingest_wait_space(struct ingest *ig, struct ingest_waiter *w);
/* Unlinks w if linked (the front end is going away). */
void ingest_waiter_cancel(struct ingest *ig, struct ingest_waiter *w);

void ingest_get_stats(const struct ingest *ig, struct ingest_stats *out);

/* Called on the loop for every message ingest_submit accepted, right after it was queued for
 * the writer (not yet durable): the rules and the live stream see a reading as it arrives,
 * whatever its front end. obs is attributed (device, patient, received_us) and borrowed for
 * the call. An observer must not add or remove observers from inside the call. */
typedef void ingest_observer_fn(void *arg, const struct obs *obs, size_t n, int64_t now_us);

/* Most observers at once (the rules service, the live stream, room to spare). */
#define INGEST_OBSERVERS_MAX 4

struct ingest_observer {
    ingest_observer_fn *fn; /* the callback */
    void *arg;              /* for fn */
};

/* Adds an observer; observers run in the order they were added. Returns 0, HX_EINVAL (fn
 * NULL), HX_EEXIST (the same fn and arg already added) or HX_EFULL (INGEST_OBSERVERS_MAX). */
int ingest_add_observer(struct ingest *ig, ingest_observer_fn *fn, void *arg);
/* Removes the observer added with fn and arg; a no-op when there is none. */
void ingest_remove_observer(struct ingest *ig, ingest_observer_fn *fn, void *arg);

#endif

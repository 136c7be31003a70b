/*
 * The ingest pipeline (see pipeline.h): attribution (device, patient at effective time,
 * receive time) from the in-memory registry, one writer request per message (observations
 * to the store writer, device events to the event writer of event_writer.c), completion
 * fan-back to the front end, backpressure waiters and counters.
 * Layer: ingest. Thread: loop (completions arrive from the store writer's uv_async and the
 * event writer's after-work callbacks).
 */
#include "ingest/pipeline.h"
#include "core/err.h"
#include "core/mem.h"
#include "ingest/ingest_int.h"
#include "ingest/registry.h"
#include "ingest/senml.h"
#include "store/writer.h"

#include <string.h>

struct ingest {
    struct store_writer *writer;                            /* borrowed */
    struct registry *reg;                                   /* borrowed */
    struct ingest__evw *evw;                                /* owned: the event writer */
    struct ingest_waiter *waiters;                          /* head of the waiting list */
    struct ingest_waiter *waiters_tail;                     /* tail (FIFO wake-up order) */
    bool stopped;                                           /* ingest_stop called */
    struct ingest_observer observers[INGEST_OBSERVERS_MAX]; /* see every accepted message */
    size_t n_observers;                                     /* entries used, in add order */
    struct ingest_stats stats; /* counters (events_* partly from evw) */
};

/* One message in flight: what to call when the writer is done. */
struct ingest_req {
    struct ingest *ig;  /* owner */
    ingest_done_fn *cb; /* front end's completion */
    void *arg;          /* for cb */
};

void ingest_new(struct ingest **out, uv_loop_t *loop, const struct cfg_store *cfg,
                struct store_writer *writer, struct registry *reg)
{
    struct ingest *ig = hx_xcalloc(1, sizeof(*ig));
    ig->writer = writer;
    ig->reg = reg;
    uint32_t qmax = INGEST_EVENTS_QUEUE_MAX;
    if (cfg->queue_max && cfg->queue_max < qmax)
        qmax = cfg->queue_max;
    ingest__evw_new(&ig->evw, loop, cfg, qmax);
    *out = ig;
}

void ingest_stop(struct ingest *ig)
{
    if (!ig || ig->stopped)
        return;
    ig->stopped = true;
    ingest__evw_stop(ig->evw);
}

void ingest_free(struct ingest *ig)
{
    if (!ig)
        return;
    ingest__evw_free(ig->evw);
    free(ig);
}

static void unlink_waiter(struct ingest *ig, struct ingest_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        ig->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        ig->waiters_tail = w->prev;
    w->prev = w->next = NULL;
    w->linked = false;
}

void ingest_wait_space(struct ingest *ig, struct ingest_waiter *w)
{
    if (w->linked)
        return;
    w->linked = true;
    w->next = NULL;
    w->prev = ig->waiters_tail;
    if (ig->waiters_tail)
        ig->waiters_tail->next = w;
    else
        ig->waiters = w;
    ig->waiters_tail = w;
}

void ingest_waiter_cancel(struct ingest *ig, struct ingest_waiter *w)
{
    if (w->linked)
        unlink_waiter(ig, w);
}

/* Space for every kind of request: a waiter may be waiting for either queue, and a full
 * queue always has a completion coming that re-checks. After ingest_stop nothing is woken:
 * a retry could only get HX_ESHUTDOWN, the sessions are closing (which unlinks them), and
 * event completions that run after the store writer's stop must not touch the writer. */
static bool has_space(const struct ingest *ig)
{
    return !ig->stopped && store_writer_below_low_water(ig->writer) &&
           ingest__evw_below_low_water(ig->evw);
}

/* Wakes the waiters that were linked when this call began, in FIFO order, until the queue is
 * past its low-water mark again (a waiter that fails again re-links itself at the tail and
 * waits for the next low-water crossing). Waking every waiter at every completion made each
 * paused session parse and fail once per completion: with 1,000 flooding devices that
 * starved the loop for minutes. */
static void wake_waiters(struct ingest *ig)
{
    struct ingest_waiter *last = ig->waiters_tail;
    while (ig->waiters) {
        struct ingest_waiter *w = ig->waiters;
        bool was_last = w == last;
        unlink_waiter(ig, w);
        w->cb(w->arg);
        if (was_last || !has_space(ig))
            break;
    }
}

static void on_done(void *arg, uint64_t last_seq, int status)
{
    struct ingest_req *req = arg;
    struct ingest *ig = req->ig;
    (void)last_seq;
    ig->stats.in_flight--;
    if (status == 0)
        ig->stats.durable++;
    else
        ig->stats.failed++;
    req->cb(req->arg, status);
    free(req);
    if (ig->waiters && has_space(ig))
        wake_waiters(ig);
}

static int submit_attributed(struct ingest *ig, struct obs *obs, size_t n, size_t unassigned,
                             int64_t now_us, ingest_done_fn *cb, void *arg);

int ingest_submit(struct ingest *ig, int64_t device_id, struct obs *obs, size_t n, int64_t now_us,
                  ingest_done_fn *cb, void *arg)
{
    if (ig->stopped) {
        ig->stats.rejected++;
        return HX_ESHUTDOWN;
    }
    if (n == 0) {
        ig->stats.rejected++;
        return HX_EINVAL;
    }
    const struct reg_device *d = reg_find_id(ig->reg, device_id);
    if (!d) {
        ig->stats.rejected++;
        return HX_ENOTFOUND;
    }
    size_t unassigned = 0;
    for (size_t i = 0; i < n; i++) {
        obs[i].device_id = device_id;
        obs[i].patient_id = reg_patient_at(ig->reg, d, obs[i].effective_us);
        obs[i].received_us = now_us;
        unassigned += obs[i].patient_id == 0;
    }
    return submit_attributed(ig, obs, n, unassigned, now_us, cb, arg);
}

int ingest_submit_manual(struct ingest *ig, int64_t patient_id, struct obs *obs, size_t n,
                         int64_t now_us, ingest_done_fn *cb, void *arg)
{
    if (ig->stopped) {
        ig->stats.rejected++;
        return HX_ESHUTDOWN;
    }
    if (n == 0 || patient_id <= 0) {
        ig->stats.rejected++;
        return HX_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        obs[i].device_id = 0;
        obs[i].patient_id = patient_id;
        obs[i].received_us = now_us;
    }
    return submit_attributed(ig, obs, n, 0, now_us, cb, arg);
}

/* The common tail of the submits: one writer request, stats, then the observer. */
static int submit_attributed(struct ingest *ig, struct obs *obs, size_t n, size_t unassigned,
                             int64_t now_us, ingest_done_fn *cb, void *arg)
{
    struct ingest_req *req = hx_xmalloc(sizeof(*req));
    *req = (struct ingest_req){.ig = ig, .cb = cb, .arg = arg};
    int rc = store_writer_enqueue(ig->writer, obs, n, on_done, req, NULL);
    if (rc < 0) {
        free(req);
        if (rc == -EAGAIN)
            ig->stats.backpressure++;
        else
            ig->stats.rejected++;
        return rc;
    }
    ig->stats.messages++;
    ig->stats.observations += n;
    ig->stats.unassigned += unassigned;
    ig->stats.in_flight++;
    for (size_t i = 0; i < ig->n_observers; i++)
        ig->observers[i].fn(ig->observers[i].arg, obs, n, now_us);
    return 0;
}

int ingest_add_observer(struct ingest *ig, ingest_observer_fn *fn, void *arg)
{
    if (!fn)
        return HX_EINVAL;
    for (size_t i = 0; i < ig->n_observers; i++)
        if (ig->observers[i].fn == fn && ig->observers[i].arg == arg)
            return HX_EEXIST;
    if (ig->n_observers == INGEST_OBSERVERS_MAX)
        return HX_EFULL;
    ig->observers[ig->n_observers++] = (struct ingest_observer){.fn = fn, .arg = arg};
    return 0;
}

void ingest_remove_observer(struct ingest *ig, ingest_observer_fn *fn, void *arg)
{
    for (size_t i = 0; i < ig->n_observers; i++) {
        if (ig->observers[i].fn == fn && ig->observers[i].arg == arg) {
            memmove(&ig->observers[i], &ig->observers[i + 1],
                    (ig->n_observers - i - 1) * sizeof(ig->observers[0]));
            ig->n_observers--;
            return;
        }
    }
}

static void on_events_done(void *arg, int status)
{
    struct ingest_req *req = arg;
    struct ingest *ig = req->ig;
    req->cb(req->arg, status);
    free(req);
    if (ig->waiters && has_space(ig))
        wake_waiters(ig);
}

int ingest_submit_events(struct ingest *ig, int64_t device_id, const struct senml_event *ev,
                         size_t n, int64_t now_us, ingest_done_fn *cb, void *arg)
{
    /* Every check before the copy: a session stalled on -EAGAIN retries its message once per
     * wake-up, and a refused submit costs no allocation. */
    int rc = 0;
    const struct reg_device *d = NULL;
    if (ig->stopped)
        rc = HX_ESHUTDOWN;
    else if (n == 0)
        rc = HX_EINVAL;
    else if (!(d = reg_find_id(ig->reg, device_id)))
        rc = HX_ENOTFOUND;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!dev_event_type_is_valid((int)ev[i].type))
            rc = HX_EINVAL; /* would fail the whole job's transaction, other requests too */
    }
    if (rc == 0)
        rc = ingest__evw_check(ig->evw, n);
    if (rc < 0) {
        if (rc == -EAGAIN)
            ig->stats.backpressure++;
        else
            ig->stats.rejected++;
        return rc;
    }
    struct dev_event *out = hx_alloc_array(n, sizeof(*out));
    size_t unassigned = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = (struct dev_event){
            .device_id = device_id,
            .patient_id = reg_patient_at(ig->reg, d, ev[i].time_us),
            .time_us = ev[i].time_us,
            .received_us = now_us,
            .type = ev[i].type,
            .has_text = ev[i].has_text,
            .flag = ev[i].has_text ? false : ev[i].flag,
        };
        if (ev[i].has_text) {
            size_t len = strnlen(ev[i].text, sizeof(ev[i].text));
            if (len >= sizeof(out[i].text))
                len = sizeof(out[i].text) - 1;
            memcpy(out[i].text, ev[i].text, len);
        }
        unassigned += out[i].patient_id == 0;
    }
    struct ingest_req *req = hx_xmalloc(sizeof(*req));
    *req = (struct ingest_req){.ig = ig, .cb = cb, .arg = arg};
    rc = ingest__evw_enqueue(ig->evw, out, n, on_events_done, req);
    if (HX_UNLIKELY_BUG(rc < 0)) { /* checked above, nothing ran in between */
        free(req);
        free(out);
        ig->stats.rejected++;
        return rc;
    }
    ig->stats.event_messages++;
    ig->stats.events += n;
    ig->stats.events_unassigned += unassigned;
    return 0;
}

void ingest_get_stats(const struct ingest *ig, struct ingest_stats *out)
{
    *out = ig->stats;
    struct ingest__evw_stats es;
    ingest__evw_get_stats(ig->evw, &es);
    out->events_stored = es.stored;
    out->events_duplicate = es.duplicates;
    out->events_failed = es.failed;
    out->events_queued = es.queued;
}

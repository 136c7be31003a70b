/*
 * The ingest pipeline (see pipeline.h): attribution (device, patient at effective time,
 * receive time) from the in-memory registry, one writer request per message, completion
 * fan-back to the front end, backpressure waiters and counters.
 * Layer: ingest. Thread: loop (completions arrive from the store writer's uv_async).
 */
#include "ingest/pipeline.h"
#include "core/err.h"
#include "core/mem.h"
#include "ingest/registry.h"
#include "store/writer.h"

struct ingest {
    struct store_writer *writer;        /* borrowed */
    struct registry *reg;               /* borrowed */
    struct ingest_waiter *waiters;      /* head of the waiting list */
    struct ingest_waiter *waiters_tail; /* tail (FIFO wake-up order) */
    struct ingest_stats stats;          /* counters */
};

/* One message in flight: what to call when the writer is done. */
struct ingest_req {
    struct ingest *ig;  /* owner */
    ingest_done_fn *cb; /* front end's completion */
    void *arg;          /* for cb */
};

void ingest_new(struct ingest **out, struct store_writer *writer, struct registry *reg)
{
    struct ingest *ig = hx_xcalloc(1, sizeof(*ig));
    ig->writer = writer;
    ig->reg = reg;
    *out = ig;
}

void ingest_free(struct ingest *ig)
{
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
        if (was_last || !store_writer_below_low_water(ig->writer))
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
    if (ig->waiters && store_writer_below_low_water(ig->writer))
        wake_waiters(ig);
}

int ingest_submit(struct ingest *ig, int64_t device_id, struct obs *obs, size_t n, int64_t now_us,
                  ingest_done_fn *cb, void *arg)
{
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
    return 0;
}

void ingest_get_stats(const struct ingest *ig, struct ingest_stats *out)
{
    *out = ig->stats;
}

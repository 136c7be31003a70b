/*
 * The event writer (see ingest_int.h): device events are written to the store on a libuv
 * worker with the writer's own connection, one transaction per job, at most one job in
 * flight; the loop keeps a FIFO of pending requests and runs their callbacks in submit
 * order once their job is durable or has failed. Events are a few per device per day, so a
 * worker job per commit is plenty and keeps them off the observation writer's hot path.
 * Layer: ingest. Thread: loop, except evw_work, which runs on a libuv worker.
 *
 * Thread safety
 *   The connection `st` is opened and used only by the one job in flight (`busy`), never
 *   concurrently, and closed by ingest__evw_free once no job is left; uv_queue_work orders
 *   each job after the previous one's after-work callback. A job's requests and events are
 *   moved to it on the loop before it is queued and handed back in the after-work callback;
 *   the worker touches nothing else of the writer except `cfg` (immutable) and `stopping`
 *   (atomic: a job waiting out a full disk gives up after the stop). Everything else (the
 *   FIFO, counters, `busy`) belongs to the loop.
 */
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "ingest/ingest_int.h"
#include "store/store.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <uv.h>

/* How often a job refused for lack of disk space retries, and how often it checks for a stop
 * while it waits. */
#define EVW_FULL_RETRY_MS 1000u
#define EVW_STOP_POLL_MS  100u

/* One submitted request: its events and whom to tell. */
struct evw_req {
    struct evw_req *next;    /* FIFO link (pending list or job list) */
    struct dev_event *ev;    /* n events, owned */
    uint32_t n;              /* events in ev */
    ingest__evw_done_fn *cb; /* completion */
    void *arg;               /* for cb */
};

/* One transaction on a worker: every request that was pending when it was queued. */
struct evw_job {
    uv_work_t work;        /* the worker request; work.data = this */
    struct ingest__evw *w; /* owner */
    struct evw_req *reqs;  /* its requests in submit order, moved from the FIFO */
    struct dev_event *ev;  /* their events back to back (reqs->ev when there is one) */
    uint32_t n;            /* events in ev */
    size_t inserted;       /* set by the worker: rows new */
    int rc;                /* set by the worker: outcome */
    char err[256];         /* set by the worker: why the connection did not open */
};

struct ingest__evw {
    uv_loop_t *loop;                /* the loop */
    struct cfg_store cfg;           /* copy: the worker opens the connection from it */
    struct store *st;               /* see "Thread safety"; NULL until the first job opens it */
    struct evw_req *head, *tail;    /* pending requests, oldest first */
    uint32_t queued;                /* events accepted and not yet called back */
    uint32_t queue_max;             /* bound on queued */
    bool busy;                      /* a job is in flight */
    atomic_bool stopping;           /* ingest__evw_stop called */
    int last_status;                /* outcome of the previous job, to log changes only */
    struct ingest__evw_stats stats; /* counters (queued is filled in by get_stats) */
};

void ingest__evw_new(struct ingest__evw **out, struct uv_loop_s *loop, const struct cfg_store *cfg,
                     uint32_t queue_max)
{
    struct ingest__evw *w = hx_xcalloc(1, sizeof(*w));
    w->loop = loop;
    w->cfg = *cfg;
    w->queue_max = queue_max ? queue_max : 1;
    atomic_init(&w->stopping, false);
    *out = w;
}

void ingest__evw_free(struct ingest__evw *w)
{
    if (!w)
        return;
    assert(!w->busy && !w->head && w->queued == 0);
    store_close(w->st);
    free(w);
}

/* Worker: one store_event_put_batch, waiting out a full disk like the observation writer
 * (the requests stay unacknowledged, the queue fills, producers get -EAGAIN) until space
 * returns or the writer stops (then one last try, and the requests fail). */
static int put_until_space(struct ingest__evw *w, struct evw_job *job)
{
    int rc = store_event_put_batch(w->st, job->ev, job->n, &job->inserted);
    bool logged = false;
    while (rc == HX_EFULL) {
        if (!logged) {
            log_error(NULL, "ingest",
                      "disk full: holding event acknowledgements until space returns",
                      "events=%u retry_ms=%u", job->n, EVW_FULL_RETRY_MS);
            logged = true;
        }
        bool stopping = atomic_load(&w->stopping);
        for (unsigned ms = 0; !stopping && ms < EVW_FULL_RETRY_MS; ms += EVW_STOP_POLL_MS) {
            uv_sleep(EVW_STOP_POLL_MS);
            stopping = atomic_load(&w->stopping);
        }
        rc = store_event_put_batch(w->st, job->ev, job->n, &job->inserted);
        if (stopping)
            break;
    }
    if (logged && rc == 0)
        log_info(NULL, "ingest", "disk space available again: event writing resumed", "events=%u",
                 job->n);
    return rc;
}

static void evw_work(uv_work_t *req)
{
    struct evw_job *job = req->data;
    struct ingest__evw *w = job->w;
    if (!w->st) {
        /* STORE_OPEN_WRITER: synchronous per storage.sync, like the observation writer, so
         * "durable" means the same for events and readings. */
        job->rc = store_open(&w->st, &w->cfg, STORE_OPEN_WRITER, job->err, sizeof(job->err));
        if (job->rc < 0) {
            w->st = NULL; /* the next job tries again */
            return;
        }
    }
    job->rc = put_until_space(w, job);
}

static void kick(struct ingest__evw *w);

static void evw_after(uv_work_t *req, int status)
{
    struct evw_job *job = req->data;
    struct ingest__evw *w = job->w;
    int rc = status < 0 ? status : job->rc;
    if (rc == 0) {
        w->stats.commits++;
        w->stats.stored += job->inserted;
        w->stats.duplicates += job->n - job->inserted;
    } else {
        w->stats.failed += job->n;
    }
    /* Log when writing starts failing and when it recovers, not once per job. */
    if (rc != w->last_status) {
        if (rc < 0)
            log_error(NULL, "ingest", "writing device events failed",
                      "events=%u err=\"%s\" detail=\"%s\"", job->n, hx_strerror(rc), job->err);
        else
            log_info(NULL, "ingest", "writing device events recovered", "events=%u", job->n);
        w->last_status = rc;
    }
    /* Callbacks in submit order. busy stays set meanwhile: a callback that submits again
     * appends to the FIFO, and the next job starts after the last callback. */
    for (struct evw_req *r = job->reqs, *next; r; r = next) {
        next = r->next;
        w->queued -= r->n;
        r->cb(r->arg, rc);
        if (r->ev != job->ev)
            free(r->ev);
        free(r);
    }
    free(job->ev);
    free(job);
    w->busy = false;
    kick(w);
}

/* Starts a job for everything pending unless one is in flight (its end kicks again). */
static void kick(struct ingest__evw *w)
{
    if (w->busy || !w->head)
        return;
    struct evw_job *job = hx_xcalloc(1, sizeof(*job));
    job->w = w;
    job->work.data = job;
    job->reqs = w->head;
    for (struct evw_req *r = w->head; r; r = r->next)
        job->n += r->n;
    if (!w->head->next) {
        job->ev = w->head->ev; /* one request: write its array as it is */
    } else {
        /* At most queue_max events: hx_alloc_array cannot overflow here. */
        job->ev = hx_alloc_array(job->n, sizeof(*job->ev));
        uint32_t at = 0;
        for (struct evw_req *r = w->head; r; r = r->next) {
            memcpy(job->ev + at, r->ev, r->n * sizeof(*r->ev));
            at += r->n;
        }
    }
    int rc = uv_queue_work(w->loop, &job->work, evw_work, evw_after);
    if (HX_UNLIKELY_BUG(rc < 0)) { /* only for a NULL work callback */
        if (job->ev != w->head->ev)
            free(job->ev);
        free(job);
        return; /* the requests stay pending */
    }
    w->head = w->tail = NULL;
    w->busy = true;
}

int ingest__evw_check(const struct ingest__evw *w, size_t n)
{
    if (atomic_load(&w->stopping))
        return HX_ESHUTDOWN;
    if (n == 0)
        return HX_EINVAL;
    if (n > w->queue_max)
        return HX_ETOOBIG;
    if (w->queued + n > w->queue_max)
        return -EAGAIN;
    return 0;
}

int ingest__evw_enqueue(struct ingest__evw *w, struct dev_event *ev, size_t n,
                        ingest__evw_done_fn *cb, void *arg)
{
    int rc = ingest__evw_check(w, n);
    if (rc < 0)
        return rc;
    struct evw_req *r = hx_xmalloc(sizeof(*r));
    *r = (struct evw_req){.ev = ev, .n = (uint32_t)n, .cb = cb, .arg = arg};
    if (w->tail)
        w->tail->next = r;
    else
        w->head = r;
    w->tail = r;
    w->queued += (uint32_t)n;
    kick(w);
    return 0;
}

bool ingest__evw_below_low_water(const struct ingest__evw *w)
{
    return w->queued <= w->queue_max / 2;
}

void ingest__evw_stop(struct ingest__evw *w)
{
    atomic_store(&w->stopping, true);
}

void ingest__evw_get_stats(const struct ingest__evw *w, struct ingest__evw_stats *out)
{
    *out = w->stats;
    out->queued = w->queued;
}

/*
 * The store writer (see writer.h): a queue from the loop thread to one writer thread that
 * owns the data path's only write connection and commits observations in groups, and a
 * result queue back to the loop, where completion callbacks run in enqueue order.
 * Layer: store (backend-independent: it writes through store_obs_put_batch).
 * Thread: store_writer_* on the loop thread; writer_main on the writer thread.
 *
 * Thread safety
 *   mu guards the "shared" fields below: the pending buffer (obs + request sizes) that
 *   enqueue appends to, the result array the writer appends to, the stop flag and the
 *   writer-side counters. Everything else is owned by one thread: `work` by the writer
 *   (between swaps), the request ring, `res_loop`, next_seq and queued by the loop.
 *   The two sides exchange whole buffers by swapping pointers under mu (double buffering),
 *   so neither copies the other's data while holding the lock, and nothing is allocated per
 *   observation. The writer sleeps on cv only when the pending buffer is empty; enqueue
 *   signals only when it was asleep. Wake-ups of the loop go through uv_async_send, which
 *   libuv may coalesce: on_async always drains every published result.
 *
 * Capacity: queued (observations accepted and not yet called back, counted on the loop)
 * never exceeds queue_max, so the pending buffer, the writer's buffer, the request ring and
 * the result arrays (one result covers at least one request) all fit in queue_max entries.
 */
#include "store/writer.h"
#include "store/checkpointer.h"

/* How often the writer retries a transaction refused for lack of disk space. */
#define STORE_WRITER_FULL_RETRY_MS 1000u
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

/* Used when the configuration leaves the limits at 0 (tests building a cfg by hand). */
#define WRITER_DEFAULT_BATCH_MAX 65536
#define WRITER_DEFAULT_QUEUE_MAX 131072

/* A batch of requests: observations back to back, and how many belong to each request. */
struct obs_buf {
    struct obs *obs; /* queue_max entries */
    uint32_t n_obs;  /* observations used */
    uint32_t *req_n; /* queue_max entries: size of each request, in order */
    uint32_t n_req;  /* requests used */
};

/* What the writer reports for one transaction. */
struct wresult {
    uint64_t upto_seq; /* sequence number of the transaction's last observation */
    int status;        /* 0 committed, or the error that rolled it back */
};

/* A side job (store_writer_submit_job): queued by the loop, run and then handed back. */
struct wjob {
    struct wjob *next;
    store_job_fn *fn;
    store_job_done_fn *done;
    void *arg;
    int status;
};

/* A request waiting for its callback (loop side). */
struct wreq {
    uint64_t last_seq; /* sequence number of its last observation */
    uint32_t n;        /* observations in it */
    store_done_fn *cb; /* completion, may be NULL */
    void *arg;         /* for cb */
};

struct store_writer {
    uv_loop_t *loop;                 /* the loop callbacks run on */
    uv_async_t async;                /* writer -> loop wake-up; w is freed in its close callback */
    uv_thread_t thread;              /* the writer thread */
    struct store *st;                /* the write connection: used by the writer thread only */
    struct store_checkpointer *ckpt; /* copies the log into the database file, off this thread */
    uint32_t batch_max;              /* rows per transaction at most */
    uint32_t queue_max;              /* observations accepted and not yet called back, at most */

    /* Shared, under mu. */
    uv_mutex_t mu;       /* guards the fields down to the next comment */
    uv_cond_t cv;        /* signalled when pend gains work or stopping is set */
    struct obs_buf pend; /* filled by enqueue, swapped out by the writer */
    bool writer_idle;    /* the writer waits on cv */
    bool stopping;       /* set by stop: the writer exits once pend is empty */
    struct wjob *jobs;   /* side jobs to run, FIFO (head) */
    struct wjob *jobs_tail;
    struct wjob *jobs_done; /* side jobs run, FIFO, for the loop */
    struct wjob *jobs_done_tail;
    struct wresult *res;  /* published results, queue_max entries */
    uint32_t n_res;       /* results used */
    uint64_t committed;   /* stats, see struct store_writer_stats */
    uint64_t duplicates;  /* ... */
    uint64_t failed;      /* ... */
    uint64_t commits;     /* ... */
    uint64_t durable_seq; /* ... */

    /* Writer thread only. */
    struct obs_buf work; /* the batch being written */
    int last_status;     /* status of the previous transaction, to log changes only */

    /* Loop thread only. */
    struct wreq *ring;        /* requests awaiting callbacks, queue_max entries */
    uint32_t ring_head;       /* index of the oldest */
    uint32_t n_ring;          /* requests in the ring */
    struct wresult *res_loop; /* results being delivered (swapped with res) */
    uint64_t next_seq;        /* last sequence number handed out */
    uint32_t queued;          /* observations accepted and not yet called back */
    uint64_t enqueued;        /* observations accepted in total */
    bool stopped;             /* stop began: enqueue refuses */
    bool in_drain;            /* running callbacks (stop must not be called from one) */
};

static void obs_buf_init(struct obs_buf *b, uint32_t cap)
{
    b->obs = hx_alloc_array(cap, sizeof(*b->obs));
    b->req_n = hx_alloc_array(cap, sizeof(*b->req_n));
    b->n_obs = 0;
    b->n_req = 0;
}

static void obs_buf_release(struct obs_buf *b)
{
    HX_FREE(b->obs);
    HX_FREE(b->req_n);
}

/* Writer thread: hands one transaction's outcome to the loop. */
static void publish(struct store_writer *w, uint64_t upto_seq, int status, size_t rows,
                    size_t inserted)
{
    uv_mutex_lock(&w->mu);
    assert(w->n_res < w->queue_max);
    w->res[w->n_res++] = (struct wresult){.upto_seq = upto_seq, .status = status};
    if (status == 0) {
        w->committed += rows;
        w->duplicates += rows - inserted;
        w->commits++;
        w->durable_seq = upto_seq;
    } else {
        w->failed += rows;
    }
    uv_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
}

/* Writer thread: one transaction. A full disk is waited out rather than failed: the requests
 * stay unacknowledged (so devices are never told "stored" and never told to give up), the
 * queue fills, producers are told -EAGAIN and stop reading their sockets, and everything
 * resumes when space returns. Only a stop while the disk is still full fails them (the
 * devices then resend after reconnecting). */
static int put_until_space(struct store_writer *w, const struct obs *obs, size_t n,
                           size_t *inserted)
{
    int rc = store_obs_put_batch(w->st, obs, n, inserted);
    bool logged = false;
    while (rc == HX_EFULL) {
        if (!logged) {
            log_error(NULL, "store", "disk full: holding acknowledgements until space returns",
                      "rows=%zu retry_ms=%u", n, STORE_WRITER_FULL_RETRY_MS);
            logged = true;
        }
        uv_mutex_lock(&w->mu);
        bool stopping = w->stopping;
        if (!stopping)
            uv_cond_timedwait(&w->cv, &w->mu, (uint64_t)STORE_WRITER_FULL_RETRY_MS * 1000000);
        stopping = w->stopping;
        uv_mutex_unlock(&w->mu);
        rc = store_obs_put_batch(w->st, obs, n, inserted);
        if (stopping)
            break; /* one last try, then fail rather than block the shutdown */
    }
    if (logged && rc == 0)
        log_info(NULL, "store", "disk space available again: writing resumed", "rows=%zu", n);
    return rc;
}

/* Writer thread: writes the work buffer as transactions of whole requests, each at most
 * batch_max rows. A failed transaction fails only its own requests. */
static void write_work(struct store_writer *w)
{
    struct obs_buf *b = &w->work;
    /* Split evenly: 1.1 x batch_max becomes two halves, not a full batch and a small one
     * that would pay a whole commit for a few rows. */
    uint32_t n_txn = (b->n_obs + w->batch_max - 1) / w->batch_max;
    uint32_t target = (b->n_obs + n_txn - 1) / n_txn;
    uint32_t i_obs = 0, i_req = 0;
    while (i_req < b->n_req) {
        uint32_t first = i_obs, rows = 0;
        while (i_req < b->n_req && rows < target && rows + b->req_n[i_req] <= w->batch_max)
            rows += b->req_n[i_req++];
        assert(rows > 0); /* enqueue refuses requests over batch_max */
        size_t inserted = 0;
        int rc = put_until_space(w, &b->obs[first], rows, &inserted);
        i_obs += rows;
        if (rc != w->last_status) {
            if (rc < 0)
                log_error(NULL, "store", "writing observations failed", "rows=%u err=\"%s\"", rows,
                          hx_strerror(rc));
            else
                log_info(NULL, "store", "writing observations recovered", "rows=%u", rows);
            w->last_status = rc;
        }
        publish(w, b->obs[i_obs - 1].seq, rc, rows, inserted);
    }
    b->n_obs = 0;
    b->n_req = 0;
}

/* Writer thread, mu held: runs the queued side jobs (mu released meanwhile). */
static void run_jobs(struct store_writer *w)
{
    while (w->jobs) {
        struct wjob *list = w->jobs;
        w->jobs = w->jobs_tail = NULL;
        uv_mutex_unlock(&w->mu);
        for (struct wjob *j = list; j; j = j->next)
            j->status = j->fn(w->st, j->arg);
        uv_mutex_lock(&w->mu);
        struct wjob *last = list;
        while (last->next)
            last = last->next;
        if (w->jobs_done_tail)
            w->jobs_done_tail->next = list;
        else
            w->jobs_done = list;
        w->jobs_done_tail = last;
        uv_mutex_unlock(&w->mu);
        uv_async_send(&w->async);
        uv_mutex_lock(&w->mu);
    }
}

static void writer_main(void *arg)
{
    struct store_writer *w = arg;
    pthread_setname_np(pthread_self(), "store-writer"); /* for top -H, perf, gdb */
    uv_mutex_lock(&w->mu);
    for (;;) {
        while (w->pend.n_obs == 0 && !w->jobs && !w->stopping) {
            w->writer_idle = true;
            uv_cond_wait(&w->cv, &w->mu);
            w->writer_idle = false;
        }
        run_jobs(w);
        if (w->pend.n_obs == 0) {
            if (w->stopping)
                break; /* stopping and everything written */
            continue;
        }
        /* Group commit: take everything that accumulated, including while the previous
         * transaction was being fsynced. */
        struct obs_buf t = w->pend;
        w->pend = w->work;
        w->work = t;
        uv_mutex_unlock(&w->mu);
        write_work(w);
        uv_mutex_lock(&w->mu);
    }
    uv_mutex_unlock(&w->mu);
}

/* Loop thread: runs the callbacks of every request covered by the published results. */
static void drain(struct store_writer *w)
{
    uv_mutex_lock(&w->mu);
    struct wresult *res = w->res;
    uint32_t n_res = w->n_res;
    w->res = w->res_loop;
    w->n_res = 0;
    uv_mutex_unlock(&w->mu);
    w->res_loop = res;

    uv_mutex_lock(&w->mu);
    struct wjob *jobs = w->jobs_done;
    w->jobs_done = w->jobs_done_tail = NULL;
    uv_mutex_unlock(&w->mu);

    w->in_drain = true;
    while (jobs) {
        struct wjob *next = jobs->next;
        if (jobs->done)
            jobs->done(jobs->arg, jobs->status);
        free(jobs);
        jobs = next;
    }
    for (uint32_t i = 0; i < n_res; i++) {
        while (w->n_ring && w->ring[w->ring_head].last_seq <= res[i].upto_seq) {
            struct wreq r = w->ring[w->ring_head];
            w->ring_head = w->ring_head + 1 == w->queue_max ? 0 : w->ring_head + 1;
            w->n_ring--;
            w->queued -= r.n;
            if (r.cb)
                r.cb(r.arg, r.last_seq, res[i].status);
        }
    }
    w->in_drain = false;
}

bool store_writer_below_low_water(const struct store_writer *w)
{
    return w->queued <= w->queue_max / 2;
}

static void on_async(uv_async_t *h)
{
    drain(h->data);
}

int store_writer_enqueue(struct store_writer *w, const struct obs *obs, size_t n, store_done_fn *cb,
                         void *arg, uint64_t *last_seq)
{
    if (w->stopped)
        return HX_ESHUTDOWN;
    if (n == 0)
        return HX_EINVAL;
    if (n > w->batch_max || n > w->queue_max)
        return HX_ETOOBIG;
    if (w->queued + n > w->queue_max)
        return -EAGAIN;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(obs[i].value))
            return HX_EINVAL; /* would fail the whole group's transaction */
    }

    uv_mutex_lock(&w->mu);
    struct obs *dst = w->pend.obs + w->pend.n_obs;
    memcpy(dst, obs, n * sizeof(*obs));
    for (size_t i = 0; i < n; i++)
        dst[i].seq = ++w->next_seq;
    w->pend.n_obs += (uint32_t)n;
    w->pend.req_n[w->pend.n_req++] = (uint32_t)n;
    bool wake = w->writer_idle;
    uv_mutex_unlock(&w->mu);
    if (wake)
        uv_cond_signal(&w->cv);

    uint32_t tail = w->ring_head + w->n_ring;
    if (tail >= w->queue_max)
        tail -= w->queue_max;
    w->ring[tail] = (struct wreq){.last_seq = w->next_seq, .n = (uint32_t)n, .cb = cb, .arg = arg};
    w->n_ring++;
    w->queued += (uint32_t)n;
    w->enqueued += n;
    if (last_seq)
        *last_seq = w->next_seq;
    return 0;
}

void store_writer_get_stats(struct store_writer *w, struct store_writer_stats *out)
{
    uv_mutex_lock(&w->mu);
    out->committed = w->committed;
    out->duplicates = w->duplicates;
    out->failed = w->failed;
    out->commits = w->commits;
    out->durable_seq = w->durable_seq;
    uv_mutex_unlock(&w->mu);
    out->enqueued = w->enqueued;
    out->queued = w->queued;
}

static void writer_free(struct store_writer *w)
{
    obs_buf_release(&w->pend);
    obs_buf_release(&w->work);
    HX_FREE(w->res);
    HX_FREE(w->res_loop);
    HX_FREE(w->ring);
    uv_cond_destroy(&w->cv);
    uv_mutex_destroy(&w->mu);
    free(w);
}

static void on_close(uv_handle_t *h)
{
    writer_free(h->data);
}

/* Stops and joins the thread (used by stop and by a failed start). */
static void join_thread(struct store_writer *w)
{
    uv_mutex_lock(&w->mu);
    w->stopping = true;
    uv_mutex_unlock(&w->mu);
    uv_cond_signal(&w->cv);
    uv_thread_join(&w->thread);
}

int store_writer_start(struct store_writer **out, uv_loop_t *loop, const struct cfg_store *cfg,
                       char *err, size_t err_len)
{
    *out = NULL;
    struct store *st;
    int rc = store_open(&st, cfg, STORE_OPEN_WRITER, err, err_len);
    if (rc < 0)
        return rc;

    struct store_writer *w = hx_xcalloc(1, sizeof(*w));
    w->loop = loop;
    w->st = st;
    w->batch_max = cfg->batch_max ? cfg->batch_max : WRITER_DEFAULT_BATCH_MAX;
    w->queue_max = cfg->queue_max ? cfg->queue_max : WRITER_DEFAULT_QUEUE_MAX;
    obs_buf_init(&w->pend, w->queue_max);
    obs_buf_init(&w->work, w->queue_max);
    w->res = hx_alloc_array(w->queue_max, sizeof(*w->res));
    w->res_loop = hx_alloc_array(w->queue_max, sizeof(*w->res_loop));
    w->ring = hx_alloc_array(w->queue_max, sizeof(*w->ring));
    if (!w->pend.obs || !w->work.obs || !w->pend.req_n || !w->work.req_n || !w->res ||
        !w->res_loop || !w->ring) {
        rc = HX_ETOOBIG; /* hx_alloc_array: the size overflowed */
        goto out_free;
    }
    if ((rc = uv_mutex_init(&w->mu)) < 0)
        goto out_free;
    if ((rc = uv_cond_init(&w->cv)) < 0)
        goto out_mutex;
    if ((rc = store_checkpointer_start(&w->ckpt, cfg, 0, err, err_len)) < 0)
        goto out_cond;
    if ((rc = uv_thread_create(&w->thread, writer_main, w)) < 0) {
        store_checkpointer_stop(w->ckpt);
        goto out_cond;
    }
    /* The thread publishes nothing before the first enqueue, so the async handle may be
     * initialised after it started. */
    if ((rc = uv_async_init(loop, &w->async, on_async)) < 0) {
        join_thread(w);
        store_checkpointer_stop(w->ckpt);
        goto out_cond;
    }
    w->async.data = w;
    log_info(NULL, "store", "store writer started", "batch_max=%u queue_max=%u sync=%s",
             w->batch_max, w->queue_max, cfg->sync == CFG_SYNC_FULL ? "full" : "normal");
    *out = w;
    return 0;

out_cond:
    uv_cond_destroy(&w->cv);
out_mutex:
    uv_mutex_destroy(&w->mu);
out_free:
    snprintf(err, err_len, "cannot start the store writer (queue_max %u): %s", w->queue_max,
             hx_strerror(rc));
    obs_buf_release(&w->pend);
    obs_buf_release(&w->work);
    HX_FREE(w->res);
    HX_FREE(w->res_loop);
    HX_FREE(w->ring);
    free(w);
    store_close(st);
    return rc;
}

int store_writer_submit_job(struct store_writer *w, store_job_fn *fn, store_job_done_fn *done,
                            void *arg)
{
    if (w->stopped)
        return HX_ESHUTDOWN;
    struct wjob *j = hx_xcalloc(1, sizeof(*j));
    j->fn = fn;
    j->done = done;
    j->arg = arg;
    uv_mutex_lock(&w->mu);
    if (w->jobs_tail)
        w->jobs_tail->next = j;
    else
        w->jobs = j;
    w->jobs_tail = j;
    uv_mutex_unlock(&w->mu);
    uv_cond_signal(&w->cv);
    return 0;
}

void store_writer_stop(struct store_writer *w)
{
    assert(!w->in_drain); /* not from a completion callback */
    w->stopped = true;
    join_thread(w); /* the writer commits everything pending before it exits */
    drain(w);       /* the remaining callbacks, in order */
    assert(w->n_ring == 0 && w->queued == 0);
    log_info(NULL, "store", "store writer stopped",
             "enqueued=%llu committed=%llu failed=%llu commits=%llu",
             (unsigned long long)w->enqueued, (unsigned long long)w->committed,
             (unsigned long long)w->failed, (unsigned long long)w->commits);
    store_checkpointer_stop(w->ckpt);
    w->ckpt = NULL;
    store_close(w->st); /* the last connection: checkpoints and removes the log */
    w->st = NULL;
    uv_close((uv_handle_t *)&w->async, on_close);
}

/*
 * The store writer (see writer.h): a queue from the loop thread to two threads, and a result
 * queue back to the loop, where completion callbacks run in enqueue order.
 *
 *   loop --enqueue--> [pend] --log thread: append + fdatasync--> results --> loop (acks)
 *                                   |
 *                                   +--> [apply_pend] --apply thread: sorted, chunked
 *                                        transactions on the write connection--> database
 *
 * Why two steps: a database commit costs one page per patient that sent anything (the
 * observation table is clustered by patient and time), ~4 MiB of WAL per commit with 1,000
 * active patients, so acknowledging on the database commit made acknowledgement latency grow
 * with the number of patients. The ingest log (obslog.h) makes a group durable with one
 * sequential append and one fdatasync; the apply thread then writes the readings to the
 * database in large, sorted batches (cheaper per row), in chunks of APPLY_CHUNK rows so that
 * side jobs (alert transitions) never wait behind a long transaction. Chunks commit with
 * synchronous=NORMAL (their readings are already durable in the log); the last chunk of a
 * batch and every side job commit with storage.sync, which also makes the earlier chunks
 * durable. Only then are the batch's log segments deleted. After a crash, store_writer_start
 * replays what is left of the log before anything else (duplicates are skipped by the
 * table's key, so replaying an applied record is harmless).
 * Readings are therefore visible to queries a moment after their acknowledgement (the apply
 * thread starts as soon as the log thread hands them over), not at it.
 *
 * Layer: store (backend-independent: it writes through store_obs_put_batch).
 * Thread: store_writer_* on the loop thread; log_main on the log thread; apply_main on the
 * apply thread.
 *
 * Thread safety
 *   mu guards the "shared" fields below. Everything else is owned by one thread: `work` by
 *   the log thread, `apply_work` by the apply thread, the request ring, `res_loop`,
 *   next_seq and queued by the loop. The sides exchange whole buffers by swapping pointers
 *   under mu (double buffering), so nothing is allocated per observation. Wake-ups of the
 *   loop go through uv_async_send, which libuv may coalesce: on_async drains everything.
 *
 * Capacity: queued (observations accepted and not yet called back, counted on the loop)
 * never exceeds queue_max, so the pending buffer, the log thread's buffer, the request ring
 * and the result arrays (one result covers at least one request) all fit in queue_max
 * entries. The apply buffers hold queue_max observations each; when the apply thread falls
 * that far behind, the log thread waits for room, the queue fills, and producers are told
 * -EAGAIN: the same backpressure as a slow disk.
 */
#include "store/writer.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/checkpointer.h"
#include "store/obslog.h"
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How often the writer retries a write refused for lack of disk space (or a failed apply). */
#define STORE_WRITER_FULL_RETRY_MS 1000u
/* Rows per apply transaction at most: bounds how long a side job waits for the write
 * connection (a chunk of sorted rows dirties at most one leaf per row). */
#define APPLY_CHUNK 2048u
/* A batch is applied at most every APPLY_INTERVAL_US unless APPLY_BATCH_MIN rows wait: under
 * load a batch then covers ~200 ms of readings, so each patient's leaf page is written about
 * five times a second instead of once per reading, while an idle server applies a reading as
 * soon as it is durable (the previous batch was long ago). */
#define APPLY_INTERVAL_US INT64_C(200000)
#define APPLY_BATCH_MIN   16384u
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

/* What the log thread reports for one group. */
struct wresult {
    uint64_t upto_seq; /* sequence number of the group's last observation */
    int status;        /* 0 durable, or the error that failed it */
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
    uv_async_t async;                /* threads -> loop wake-up; w is freed in its close cb */
    uv_thread_t log_thread;          /* appends groups to the ingest log */
    uv_thread_t apply_thread;        /* writes them to the database; runs side jobs */
    struct store *st;                /* the write connection: used by the apply thread only */
    struct obslog *log;              /* used by the log thread only (and start/stop) */
    struct store_checkpointer *ckpt; /* copies the WAL into the database file */
    uint32_t batch_max;              /* rows per request at most */
    uint32_t queue_max;              /* observations accepted and not yet called back, at most */
    bool sync_full;                  /* storage.sync = full */
    bool sync_ready;                 /* mu and the condition variables are initialised */

    /* Shared, under mu. */
    uv_mutex_t mu;           /* guards the fields down to the next comment */
    uv_cond_t cv;            /* log thread: pend gained work, or stopping */
    uv_cond_t apply_cv;      /* apply thread: apply_pend or jobs gained work, or stopping */
    uv_cond_t space_cv;      /* log thread: apply_pend has room again */
    struct obs_buf pend;     /* filled by enqueue, swapped out by the log thread */
    bool log_idle;           /* the log thread waits on cv */
    bool stopping;           /* set by stop: the log thread exits once pend is empty */
    struct obs *apply_pend;  /* durable, not yet applied; queue_max entries */
    uint32_t n_apply_pend;   /* observations in it */
    uint64_t apply_pend_seg; /* log segment of its newest record */
    bool apply_idle;         /* the apply thread waits on apply_cv */
    bool apply_stopping;     /* the apply thread exits once it has nothing left */
    int64_t last_apply_us;   /* when the apply thread took its last batch (monotonic) */
    uint64_t applied_seg;    /* every record in segments below this is in the database */
    bool apply_failed;       /* the apply thread gave up on a batch at stop (log kept) */
    struct wjob *jobs;       /* side jobs to run, FIFO (head) */
    struct wjob *jobs_tail;
    struct wjob *jobs_done; /* side jobs run, FIFO, for the loop */
    struct wjob *jobs_done_tail;
    struct wresult *res;       /* published results, queue_max entries */
    uint32_t n_res;            /* results used */
    uint64_t committed;        /* stats, see struct store_writer_stats */
    uint64_t duplicates;       /* ... */
    uint64_t failed;           /* ... */
    uint64_t commits;          /* ... */
    uint64_t durable_seq;      /* ... */
    uint64_t applied;          /* ... */
    int latest_status;         /* ... */
    struct hx_hist commit_lat; /* group durability times (append + sync), microseconds */

    /* Log thread only. */
    struct obs_buf work; /* the group being logged */
    int last_status;     /* status of the previous group, to log changes only */

    /* Apply thread only. */
    struct obs *apply_work; /* the batch being applied; queue_max entries */
    uint32_t n_apply_work;
    int sync_mode; /* the connection's synchronous setting now: -1 unknown, 0 normal, 1 full */

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

/* Waits up to the retry interval, or less when a stop begins. Returns whether stopping.
 * mu must not be held. */
static bool retry_pause(struct store_writer *w, uv_cond_t *cv, const bool *flag)
{
    uv_mutex_lock(&w->mu);
    if (!*flag)
        uv_cond_timedwait(cv, &w->mu, (uint64_t)STORE_WRITER_FULL_RETRY_MS * 1000000);
    bool stopping = *flag;
    uv_mutex_unlock(&w->mu);
    return stopping;
}

/* ---- log thread ------------------------------------------------------------------------ */

/* Log thread: hands one group's outcome to the loop. */
static void publish(struct store_writer *w, uint64_t upto_seq, int status, size_t rows,
                    uint64_t took_us)
{
    uv_mutex_lock(&w->mu);
    w->latest_status = status;
    hx_hist_record(&w->commit_lat, took_us);
    assert(w->n_res < w->queue_max);
    w->res[w->n_res++] = (struct wresult){.upto_seq = upto_seq, .status = status};
    if (status == 0) {
        w->committed += rows;
        w->commits++;
        w->durable_seq = upto_seq;
    } else {
        w->failed += rows;
    }
    uv_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
}

/* Log thread: appends a group (as records of at most OBSLOG_RECORD_MAX) and syncs. A full
 * disk is waited out rather than failed: the requests stay unacknowledged (so devices are
 * never told "stored" and never told to give up), the queue fills, producers are told
 * -EAGAIN and stop reading their sockets, and everything resumes when space returns. Only a
 * stop while the disk is still full fails them (the devices resend after reconnecting). */
static int log_group(struct store_writer *w, const struct obs *obs, size_t n, uint64_t *seg)
{
    bool logged = false;
    int rc = 0;
    for (size_t i = 0; i < n;) {
        size_t m = n - i < OBSLOG_RECORD_MAX ? n - i : OBSLOG_RECORD_MAX;
        rc = obslog_append(w->log, obs + i, m, seg);
        if (rc == HX_EFULL) {
            if (!logged) {
                log_error(NULL, "store", "disk full: holding acknowledgements until space returns",
                          "rows=%zu retry_ms=%u", n, STORE_WRITER_FULL_RETRY_MS);
                uv_mutex_lock(&w->mu);
                w->latest_status = HX_EFULL; /* /readyz: not ready while waiting (publish clears) */
                uv_mutex_unlock(&w->mu);
            }
            logged = true;
            if (retry_pause(w, &w->cv, &w->stopping)) {
                rc = obslog_append(w->log, obs + i, m, seg); /* one last try */
                if (rc < 0)
                    return rc;
            } else {
                continue;
            }
        } else if (rc < 0) {
            return rc;
        }
        i += m;
    }
    if (logged)
        log_info(NULL, "store", "disk space available again: writing resumed", "rows=%zu", n);
    return obslog_sync(w->log);
}

/* Log thread: passes a durable group to the apply thread, waiting for room. */
static void hand_over(struct store_writer *w, const struct obs *obs, uint32_t n, uint64_t seg)
{
    uv_mutex_lock(&w->mu);
    while (w->n_apply_pend + n > w->queue_max)
        uv_cond_wait(&w->space_cv, &w->mu);
    memcpy(w->apply_pend + w->n_apply_pend, obs, n * sizeof(*obs));
    w->n_apply_pend += n;
    w->apply_pend_seg = seg;
    bool wake = w->apply_idle;
    uint64_t applied_seg = w->applied_seg;
    uv_mutex_unlock(&w->mu);
    if (wake)
        uv_cond_signal(&w->apply_cv);
    obslog_release_before(w->log, applied_seg);
}

/* Log thread: makes the work buffer durable, acknowledges it, hands it on. */
static void log_work(struct store_writer *w)
{
    struct obs_buf *b = &w->work;
    uint64_t seg = 0;
    uint64_t t0 = uv_hrtime();
    int rc = log_group(w, b->obs, b->n_obs, &seg);
    uint64_t took_us = (uv_hrtime() - t0) / 1000;
    if (rc != w->last_status) {
        if (rc < 0)
            log_error(NULL, "store", "writing observations to the ingest log failed",
                      "rows=%u err=\"%s\"", b->n_obs, hx_strerror(rc));
        else
            log_info(NULL, "store", "writing observations recovered", "rows=%u", b->n_obs);
        w->last_status = rc;
    }
    publish(w, b->obs[b->n_obs - 1].seq, rc, b->n_obs, took_us);
    if (rc == 0)
        hand_over(w, b->obs, b->n_obs, seg);
    b->n_obs = 0;
    b->n_req = 0;
}

static void log_main(void *arg)
{
    struct store_writer *w = arg;
    pthread_setname_np(pthread_self(), "store-log"); /* for top -H, perf, gdb */
    uv_mutex_lock(&w->mu);
    for (;;) {
        while (w->pend.n_obs == 0 && !w->stopping) {
            w->log_idle = true;
            uv_cond_wait(&w->cv, &w->mu);
            w->log_idle = false;
        }
        if (w->pend.n_obs == 0)
            break; /* stopping and everything logged */
        /* Group commit: take everything that accumulated, including during the last sync. */
        struct obs_buf t = w->pend;
        w->pend = w->work;
        w->work = t;
        uv_mutex_unlock(&w->mu);
        log_work(w);
        uv_mutex_lock(&w->mu);
    }
    uv_mutex_unlock(&w->mu);
}

/* ---- apply thread ---------------------------------------------------------------------- */

/* Apply thread: synchronous=FULL (durable commit) or NORMAL, as needed next. */
static void set_sync(struct store_writer *w, bool full)
{
    full = full && w->sync_full;
    if (w->sync_mode == (int)full)
        return;
    if (store_set_sync(w->st, full) == 0)
        w->sync_mode = full;
    else
        w->sync_mode = -1; /* unknown: try again next time */
}

/* Apply thread: runs the queued side jobs, durable commits. */
static void run_jobs(struct store_writer *w)
{
    uv_mutex_lock(&w->mu);
    while (w->jobs) {
        struct wjob *list = w->jobs;
        w->jobs = w->jobs_tail = NULL;
        uv_mutex_unlock(&w->mu);
        set_sync(w, true);
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
    uv_mutex_unlock(&w->mu);
}

/* Apply thread: writes rows already acknowledged. They must not be lost, so any failure
 * (a full disk, an I/O error) is retried until it succeeds; only a stop ends the retries,
 * and then the log keeps the rows for the next start. */
static int apply_rows(struct store_writer *w, const struct obs *obs, size_t n, bool durable)
{
    bool logged = false;
    for (;;) {
        size_t inserted = 0;
        set_sync(w, durable);
        int rc = store_obs_put_batch(w->st, obs, n, &inserted);
        if (rc == 0) {
            if (logged)
                log_info(NULL, "store", "applying observations recovered", "rows=%zu", n);
            uv_mutex_lock(&w->mu);
            w->applied += n;
            w->duplicates += n - inserted;
            uv_mutex_unlock(&w->mu);
            return 0;
        }
        if (!logged)
            log_error(NULL, "store",
                      rc == HX_EFULL ? "disk full: acknowledged observations wait in the ingest log"
                                     : "applying observations failed; they wait in the ingest log",
                      "rows=%zu err=\"%s\" retry_ms=%u", n, hx_strerror(rc),
                      STORE_WRITER_FULL_RETRY_MS);
        logged = true;
        if (retry_pause(w, &w->apply_cv, &w->apply_stopping))
            return rc;
    }
}

static int cmp_obs_key(const void *pa, const void *pb)
{
    const struct obs *a = pa, *b = pb;
    if (a->patient_id != b->patient_id)
        return a->patient_id < b->patient_id ? -1 : 1;
    if (a->effective_us != b->effective_us)
        return a->effective_us < b->effective_us ? -1 : 1;
    if (a->code != b->code)
        return a->code < b->code ? -1 : 1;
    return (a->device_id > b->device_id) - (a->device_id < b->device_id);
}

/* Apply thread: the batch in key order (a chunk then touches neighbouring pages), in
 * chunks with side jobs in between; the last chunk commits durably. */
static void apply_work(struct store_writer *w, uint64_t seg)
{
    uint32_t n = w->n_apply_work;
    qsort(w->apply_work, n, sizeof(*w->apply_work), cmp_obs_key);
    for (uint32_t i = 0; i < n; i += APPLY_CHUNK) {
        uint32_t m = n - i < APPLY_CHUNK ? n - i : APPLY_CHUNK;
        bool last = i + m == n;
        if (apply_rows(w, w->apply_work + i, m, last) < 0) {
            uv_mutex_lock(&w->mu);
            w->apply_failed = true; /* stopping: keep the log for the next start */
            uv_mutex_unlock(&w->mu);
            w->n_apply_work = 0;
            return;
        }
        if (!last)
            run_jobs(w);
    }
    w->n_apply_work = 0;
    uv_mutex_lock(&w->mu);
    if (!w->apply_failed)
        w->applied_seg = seg; /* older segments are wholly in the database */
    uv_mutex_unlock(&w->mu);
}

/* Apply thread, mu held: waits until there is something to do now (jobs, a due batch of
 * rows, or a stop). Returns whether to take the pending rows. */
static bool apply_wait(struct store_writer *w)
{
    uint32_t batch_min = APPLY_BATCH_MIN < w->queue_max / 2 ? APPLY_BATCH_MIN : w->queue_max / 2;
    for (;;) {
        bool due = false;
        int64_t wait_us = -1;
        if (w->n_apply_pend) {
            int64_t now = hx_time_mono_us(), at = w->last_apply_us + APPLY_INTERVAL_US;
            due = w->apply_stopping || w->n_apply_pend >= batch_min || now >= at;
            wait_us = at - now;
        }
        if (due || w->jobs || w->apply_stopping)
            return due;
        w->apply_idle = true;
        if (wait_us > 0)
            uv_cond_timedwait(&w->apply_cv, &w->mu, (uint64_t)wait_us * 1000);
        else
            uv_cond_wait(&w->apply_cv, &w->mu);
        w->apply_idle = false;
    }
}

static void apply_main(void *arg)
{
    struct store_writer *w = arg;
    pthread_setname_np(pthread_self(), "store-apply");
    uv_mutex_lock(&w->mu);
    for (;;) {
        bool take = apply_wait(w);
        if (w->n_apply_pend == 0 && !w->jobs)
            break; /* stopping and everything applied */
        uint64_t seg = w->apply_pend_seg;
        if (take) {
            struct obs *t = w->apply_pend;
            w->apply_pend = w->apply_work;
            w->apply_work = t;
            w->n_apply_work = w->n_apply_pend;
            w->n_apply_pend = 0;
            w->last_apply_us = hx_time_mono_us();
        }
        uv_mutex_unlock(&w->mu);
        if (take)
            uv_cond_signal(&w->space_cv);
        run_jobs(w);
        if (w->n_apply_work)
            apply_work(w, seg);
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
    bool wake = w->log_idle;
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
    out->applied = w->applied;
    out->last_status = w->latest_status;
    uv_mutex_unlock(&w->mu);
    out->enqueued = w->enqueued;
    out->queued = w->queued;
}

void store_writer_get_commit_hist(struct store_writer *w, struct hx_hist *out)
{
    uv_mutex_lock(&w->mu);
    *out = w->commit_lat;
    uv_mutex_unlock(&w->mu);
}

static void writer_free(struct store_writer *w)
{
    obs_buf_release(&w->pend);
    obs_buf_release(&w->work);
    HX_FREE(w->apply_pend);
    HX_FREE(w->apply_work);
    HX_FREE(w->res);
    HX_FREE(w->res_loop);
    HX_FREE(w->ring);
    if (w->sync_ready) {
        uv_cond_destroy(&w->space_cv);
        uv_cond_destroy(&w->apply_cv);
        uv_cond_destroy(&w->cv);
        uv_mutex_destroy(&w->mu);
    }
    free(w);
}

static void on_close(uv_handle_t *h)
{
    writer_free(h->data);
}

/* Stops and joins the log thread, then the apply thread (each finishes its work first). */
static void join_threads(struct store_writer *w)
{
    uv_mutex_lock(&w->mu);
    w->stopping = true;
    uv_mutex_unlock(&w->mu);
    uv_cond_signal(&w->cv);
    uv_thread_join(&w->log_thread);
    uv_mutex_lock(&w->mu);
    w->apply_stopping = true;
    uv_mutex_unlock(&w->mu);
    uv_cond_signal(&w->apply_cv);
    uv_thread_join(&w->apply_thread);
}

/* Replay: observations a previous run acknowledged but had not applied, in transactions of
 * up to a chunk; the last is durable. */
struct replay_ctx {
    struct store *st;
    struct obs *buf; /* APPLY_CHUNK entries */
    size_t n;
    uint64_t inserted;
};

static int replay_flush(struct replay_ctx *r, bool durable)
{
    if (r->n == 0)
        return 0;
    int rc = store_set_sync(r->st, durable);
    size_t inserted = 0;
    if (rc == 0)
        rc = store_obs_put_batch(r->st, r->buf, r->n, &inserted);
    r->inserted += inserted;
    r->n = 0;
    return rc;
}

static int replay_one(void *arg, const struct obs *obs, size_t n)
{
    struct replay_ctx *r = arg;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(obs[i].value))
            continue; /* enqueue never lets one in; a bit flip the CRC missed must not fail all */
        r->buf[r->n++] = obs[i];
        if (r->n == APPLY_CHUNK) {
            int rc = replay_flush(r, false);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int replay_log(struct store *st, struct obslog *log, const struct cfg_store *cfg, char *err,
                      size_t err_len)
{
    struct replay_ctx r = {.st = st, .buf = hx_alloc_array(APPLY_CHUNK, sizeof(struct obs))};
    struct obslog_replay_stats rs;
    int64_t t0 = hx_time_mono_us();
    int rc = obslog_replay(log, replay_one, &r, &rs, err, err_len);
    if (rc == 0)
        rc = replay_flush(&r, cfg->sync == CFG_SYNC_FULL); /* durable: the log may go */
    free(r.buf);
    if (rc < 0) {
        if (err_len && !err[0])
            snprintf(err, err_len, "cannot apply the ingest log to %s: %s", cfg->path,
                     hx_strerror(rc));
        return rc;
    }
    if (rs.segments)
        log_info(NULL, "store", "ingest log replayed",
                 "segments=%llu observations=%llu inserted=%llu torn_bytes=%llu corrupt=%llu "
                 "ms=%lld",
                 (unsigned long long)rs.segments, (unsigned long long)rs.observations,
                 (unsigned long long)r.inserted, (unsigned long long)rs.torn_bytes,
                 (unsigned long long)rs.corrupt, (long long)((hx_time_mono_us() - t0) / 1000));
    obslog_release_before(log, 0); /* the replayed segments: now in the database */
    return 0;
}

static void ingest_log_dir(const struct cfg_store *cfg, char *out, size_t len)
{
    snprintf(out, len, "%s-ingest", cfg->path);
}

int store_writer_recover(const struct cfg_store *cfg, char *err, size_t err_len)
{
    struct store *st;
    int rc = store_open(&st, cfg, STORE_OPEN_WRITER, err, err_len);
    if (rc < 0)
        return rc;
    char dir[CFG_PATH_MAX + 16];
    ingest_log_dir(cfg, dir, sizeof(dir));
    struct obslog *log;
    rc = obslog_open(&log, dir, cfg->sync == CFG_SYNC_FULL, err, err_len);
    if (rc == 0)
        rc = replay_log(st, log, cfg, err, err_len);
    if (rc == 0)
        obslog_remove_all(log);
    obslog_close(log);
    store_close(st);
    return rc;
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
    w->sync_full = cfg->sync == CFG_SYNC_FULL;
    w->sync_mode = -1;
    w->batch_max = cfg->batch_max ? cfg->batch_max : WRITER_DEFAULT_BATCH_MAX;
    w->queue_max = cfg->queue_max ? cfg->queue_max : WRITER_DEFAULT_QUEUE_MAX;
    obs_buf_init(&w->pend, w->queue_max);
    obs_buf_init(&w->work, w->queue_max);
    w->apply_pend = hx_alloc_array(w->queue_max, sizeof(*w->apply_pend));
    w->apply_work = hx_alloc_array(w->queue_max, sizeof(*w->apply_work));
    w->res = hx_alloc_array(w->queue_max, sizeof(*w->res));
    w->res_loop = hx_alloc_array(w->queue_max, sizeof(*w->res_loop));
    w->ring = hx_alloc_array(w->queue_max, sizeof(*w->ring));
    if (!w->pend.obs || !w->work.obs || !w->pend.req_n || !w->work.req_n || !w->apply_pend ||
        !w->apply_work || !w->res || !w->res_loop || !w->ring) {
        rc = HX_ETOOBIG; /* hx_alloc_array: the size overflowed */
        snprintf(err, err_len, "cannot start the store writer (queue_max %u): %s", w->queue_max,
                 hx_strerror(rc));
        goto out_free;
    }
    char dir[CFG_PATH_MAX + 16];
    ingest_log_dir(cfg, dir, sizeof(dir));
    if ((rc = obslog_open(&w->log, dir, w->sync_full, err, err_len)) < 0)
        goto out_free;
    if ((rc = replay_log(w->st, w->log, cfg, err, err_len)) < 0)
        goto out_free;
    if ((rc = uv_mutex_init(&w->mu)) < 0)
        goto out_err;
    if (uv_cond_init(&w->cv) < 0 || uv_cond_init(&w->apply_cv) < 0 ||
        uv_cond_init(&w->space_cv) < 0)
        abort(); /* only fails for lack of memory on Linux */
    w->sync_ready = true;
    if ((rc = store_checkpointer_start(&w->ckpt, cfg, 0, err, err_len)) < 0)
        goto out_err;
    if ((rc = uv_thread_create(&w->apply_thread, apply_main, w)) < 0)
        goto out_ckpt;
    if ((rc = uv_thread_create(&w->log_thread, log_main, w)) < 0) {
        uv_mutex_lock(&w->mu);
        w->apply_stopping = true;
        uv_mutex_unlock(&w->mu);
        uv_cond_signal(&w->apply_cv);
        uv_thread_join(&w->apply_thread);
        goto out_ckpt;
    }
    /* The threads publish nothing before the first enqueue or job, so the async handle may
     * be initialised after they started. */
    if ((rc = uv_async_init(loop, &w->async, on_async)) < 0) {
        join_threads(w);
        goto out_ckpt;
    }
    w->async.data = w;
    log_info(NULL, "store", "store writer started",
             "batch_max=%u queue_max=%u sync=%s ingest_log=\"%s\"", w->batch_max, w->queue_max,
             cfg->sync == CFG_SYNC_FULL ? "full" : "normal", dir);
    *out = w;
    return 0;

out_ckpt:
    store_checkpointer_stop(w->ckpt);
out_err:
    if (err_len && !err[0])
        snprintf(err, err_len, "cannot start the store writer: %s", hx_strerror(rc));
out_free:
    obslog_close(w->log);
    writer_free(w);
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
    bool wake = w->apply_idle;
    uv_mutex_unlock(&w->mu);
    if (wake)
        uv_cond_signal(&w->apply_cv);
    return 0;
}

void store_writer_stop(struct store_writer *w)
{
    assert(!w->in_drain); /* not from a completion callback */
    w->stopped = true;
    join_threads(w); /* everything pending is logged, then applied */
    drain(w);        /* the remaining callbacks, in order */
    assert(w->n_ring == 0 && w->queued == 0);
    log_info(NULL, "store", "store writer stopped",
             "enqueued=%llu committed=%llu applied=%llu failed=%llu commits=%llu",
             (unsigned long long)w->enqueued, (unsigned long long)w->committed,
             (unsigned long long)w->applied, (unsigned long long)w->failed,
             (unsigned long long)w->commits);
    /* Everything is in the database (the last apply was durable): the log can go, unless an
     * apply was given up, in which case the next start replays it. */
    if (!w->apply_failed)
        obslog_remove_all(w->log);
    obslog_close(w->log);
    w->log = NULL;
    store_checkpointer_stop(w->ckpt);
    w->ckpt = NULL;
    store_close(w->st); /* the last connection: checkpoints and removes the WAL */
    w->st = NULL;
    uv_close((uv_handle_t *)&w->async, on_close);
}

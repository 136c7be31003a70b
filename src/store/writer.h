/*
 * The store writer: the daemon's data path into storage. Producers on the loop thread
 * enqueue observations; a log thread appends everything waiting to the ingest log as one
 * group and syncs it (obslog.h), then tells the loop (uv_async), which runs the completion
 * callbacks in enqueue order; an apply thread, which owns the only writing database
 * connection of the data path, then writes the group to the database in sorted chunks and
 * runs side jobs. A request (one enqueue call) is never split across groups: it is made
 * durable whole or fails whole. After a crash the next start replays the log.
 *
 * Never acknowledge data before its callback reports status 0: that is the durability
 * contract (sync = full survives power loss, sync = normal a process crash). An acknowledged
 * reading is visible to database queries a moment later (normally within milliseconds; under
 * overload the apply thread runs behind by up to storage.queue_max readings).
 * Thread: every function here is called on the loop thread, except where noted.
 */
#ifndef MEDHUB_STORE_WRITER_H
#define MEDHUB_STORE_WRITER_H

#include "core/cfg.h"
#include "core/hist.h"
#include "domain/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct store;
struct store_writer;

/* Completion of one request, on the loop thread. status 0: durable; negative: failed (nothing
 * of the request is stored), e.g. HX_EREADONLY, HX_ESTORE, HX_ESHUTDOWN. A full disk is not a
 * failure: the writer retries every second and the callback waits (the queue fills and
 * producers get -EAGAIN) until space returns; only a stop while still full reports HX_EFULL.
 * last_seq is the sequence number of the request's last observation. */
typedef void store_done_fn(void *arg, uint64_t last_seq, int status);

struct store_writer_stats {
    uint64_t enqueued;    /* observations accepted by enqueue */
    uint64_t committed;   /* observations made durable in the log (incl. duplicates) */
    uint64_t duplicates;  /* observations the database skipped as already stored */
    uint64_t failed;      /* observations in failed groups */
    uint64_t commits;     /* groups made durable (log syncs) */
    uint64_t durable_seq; /* highest durable sequence number */
    uint64_t applied;     /* observations written to the database (after the ingest log) */
    uint32_t queued;      /* observations waiting now */
    int last_status;      /* result of the latest group: 0, or the error; HX_EFULL while a
                           * group waits for disk space (readiness) */
};

/* Opens its own connection (STORE_OPEN_WRITER) and the ingest log (<storage.path>-ingest),
 * applies what a previous run left in the log (blocking: after a crash under load this can
 * take seconds), and starts the threads.
 * OUT: *out returns owned; stop with store_writer_stop. Errors as store_open, with detail in
 * err. */
int store_writer_start(struct store_writer **out, uv_loop_t *loop, const struct cfg_store *cfg,
                       char *err, size_t err_len);

/* Applies what a previous run left in the ingest log, without starting anything (for a
 * process that needs the database complete while no daemon runs, and for tests after a
 * simulated crash). Never while a writer runs on the same database (the data directory lock
 * ensures it for the daemon). Returns 0 or an error as store_writer_start. Thread: any. */
int store_writer_recover(const struct cfg_store *cfg, char *err, size_t err_len);

/* Copies n observations into the queue, assigning them consecutive sequence numbers
 * (written back into nothing: the copies carry them). cb runs later on the loop thread.
 * OUT: *last_seq (may be NULL). Returns 0, -EAGAIN when the queue holds storage.queue_max
 * rows (the caller should stop reading from its source and retry after a completion),
 * HX_ETOOBIG when n exceeds storage.batch_max (or storage.queue_max), HX_EINVAL when n is 0
 * or a value is not finite (it would fail the whole group's transaction), HX_ESHUTDOWN after
 * stop began. The queue counts a request until its callback has run, so space freed by
 * completions is visible to the callbacks themselves.
 * obs borrows (copied before return); cb may be NULL; arg is passed through untouched.
 * If it returns an error, cb is never called. */
int store_writer_enqueue(struct store_writer *w, const struct obs *obs, size_t n, store_done_fn *cb,
                         void *arg, uint64_t *last_seq);

/*
 * A side job for the apply thread: fn runs there with the writer's own connection (so other
 * parts of the daemon that write, such as alert transitions, never queue for SQLite's write
 * lock behind it), between two observation transactions of at most a few thousand rows, with
 * synchronous = storage.sync; fn opens its own transaction if it needs one. done then runs on the
 * loop with fn's result. Jobs run in submission order. Returns 0 or HX_ESHUTDOWN after stop began
 * (then nothing runs). A job submitted before stop always runs, and its done is called before
 * store_writer_stop returns.
 */
typedef int store_job_fn(struct store *st, void *arg);
typedef void store_job_done_fn(void *arg, int status);
int store_writer_submit_job(struct store_writer *w, store_job_fn *fn, store_job_done_fn *done,
                            void *arg);

/* Copies the counters. Also valid right after store_writer_stop returns (final totals), until
 * the loop runs the async handle's close callback. */
void store_writer_get_stats(struct store_writer *w, struct store_writer_stats *out);

/* Copies the histogram of group durability times (microseconds from the start of a group's
 * append to the ingest log to the end of its fdatasync, waits for disk space included: what
 * an acknowledgement waits for) into out. */
void store_writer_get_commit_hist(struct store_writer *w, struct hx_hist *out);
/* True when at most half of storage.queue_max observations are waiting: the low-water mark at
 * which producers paused by -EAGAIN should resume (resuming them at every completion would
 * make each of them retry, and fail, once per completion). */
bool store_writer_below_low_water(const struct store_writer *w);

/* Stops accepting, commits everything queued, runs the remaining callbacks (before it
 * returns), joins the thread, closes the connection and uv_close()s its async handle; w is
 * freed in that handle's close callback, so the caller runs the loop once more before
 * uv_loop_close(). Blocks the calling (loop) thread until the queue is flushed: call it during
 * shutdown only, after the listeners have stopped, and never from a completion callback.
 * Callbacks that run during stop and try to enqueue get HX_ESHUTDOWN. */
void store_writer_stop(struct store_writer *w);

#endif

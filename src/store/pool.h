/*
 * A pool of store connections for work the loop hands to libuv's worker threads: the HTTP
 * API's queries and the few writes an operator makes through it (acknowledging an alert,
 * enrolling a device). A job runs fn(st, arg) on a worker with a connection nobody else uses
 * meanwhile, then done(arg, status) on the loop. Connections are opened on first need (at
 * most max_conns, one per worker running a job) and kept for the next job.
 *
 * Writes from the pool take SQLite's write lock like a CLI command would (busy timeout per
 * storage.busy_timeout_ms); they are rare, small and never on the data path, which goes
 * through the store writer.
 * Thread: store_pool_new/submit/stop/free on the loop; fn on a worker.
 */
#ifndef MEDHUB_STORE_POOL_H
#define MEDHUB_STORE_POOL_H

#include "core/cfg.h"
#include "store/store.h"

#include <stdint.h>
#include <uv.h>

struct store_pool;

/* Runs on a worker with a connection of the pool. Returns 0 or a negative error, passed to
 * done. */
typedef int store_pool_fn(struct store *st, void *arg);
/* Runs on the loop after fn, or with the error that kept fn from running: -ENOMEM, an open
 * error (the connection could not be opened; logged once per failure streak), HX_ESHUTDOWN
 * (submitted after store_pool_stop: then done is not called at all, see below). */
typedef void store_pool_done_fn(void *arg, int status);

struct store_pool_stats {
    uint64_t jobs;    /* jobs run */
    uint32_t running; /* jobs queued or running now */
    uint32_t conns;   /* connections open now */
};

/* cfg is copied; flags as store_open (0: read-write; STORE_OPEN_READONLY for query-only
 * pools). max_conns 0 means 4 (libuv's default worker count). OUT: *out returns owned. */
void store_pool_new(struct store_pool **out, uv_loop_t *loop, const struct cfg_store *cfg,
                    unsigned flags, uint32_t max_conns);
/* Queues a job. Returns 0, or HX_ESHUTDOWN after store_pool_stop (then neither fn nor done
 * runs). */
int store_pool_submit(struct store_pool *p, store_pool_fn *fn, store_pool_done_fn *done, void *arg);
void store_pool_get_stats(const struct store_pool *p, struct store_pool_stats *out);
/* Refuses new jobs. Jobs already queued still run and call done. */
void store_pool_stop(struct store_pool *p);
/* Frees the pool once no job is queued or running (closes its connections): call after the
 * loop ran the last done (store_pool_get_stats: running == 0). NULL is a no-op. */
void store_pool_free(struct store_pool *p);

#endif

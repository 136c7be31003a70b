/*
 * The store connection pool (see pool.h). Free connections sit on a stack under mu; a job
 * pops one (or opens a new one when the stack is empty) on its worker and pushes it back
 * after fn. libuv runs at most its worker count of jobs at once, so the number of
 * connections stays at that count whatever max_conns says; max_conns only caps it further
 * (a job finding the cap reached waits on cv for a connection to come back).
 * Layer: store. Thread: loop, except pool_work (a libuv worker).
 */
#include "store/pool.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define POOL_DEFAULT_CONNS 4

struct pool_job {
    uv_work_t req; /* req.data = this */
    struct store_pool *p;
    store_pool_fn *fn;
    store_pool_done_fn *done;
    void *arg;
    int rc;
};

struct store_pool {
    uv_loop_t *loop;
    struct cfg_store cfg; /* copy: workers open connections from it */
    unsigned flags;       /* for store_open */
    uint32_t max_conns;

    /* Shared, under mu. */
    uv_mutex_t mu;
    uv_cond_t cv;              /* a connection came back */
    struct store **free_conns; /* max_conns entries */
    uint32_t n_free;
    uint32_t n_open;   /* connections open (free or in use) */
    bool open_failing; /* the last open failed: log once per streak */

    /* Loop only. */
    uint64_t jobs;
    uint32_t running;
    bool stopped;
};

void store_pool_new(struct store_pool **out, uv_loop_t *loop, const struct cfg_store *cfg,
                    unsigned flags, uint32_t max_conns)
{
    struct store_pool *p = hx_xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->cfg = *cfg;
    p->flags = flags;
    p->max_conns = max_conns ? max_conns : POOL_DEFAULT_CONNS;
    p->free_conns = hx_xcalloc(p->max_conns, sizeof(*p->free_conns));
    if (uv_mutex_init(&p->mu) < 0 || uv_cond_init(&p->cv) < 0)
        abort(); /* only for lack of memory on Linux */
    *out = p;
}

/* Worker: a connection for one job, or an open error. */
static int take_conn(struct store_pool *p, struct store **st)
{
    uv_mutex_lock(&p->mu);
    while (p->n_free == 0 && p->n_open >= p->max_conns)
        uv_cond_wait(&p->cv, &p->mu);
    if (p->n_free) {
        *st = p->free_conns[--p->n_free];
        uv_mutex_unlock(&p->mu);
        return 0;
    }
    p->n_open++; /* reserve the slot while opening outside the lock */
    uv_mutex_unlock(&p->mu);
    char err[256];
    int rc = store_open(st, &p->cfg, p->flags, err, sizeof(err));
    uv_mutex_lock(&p->mu);
    if (rc < 0) {
        p->n_open--;
        uv_cond_signal(&p->cv);
        if (!p->open_failing)
            log_error(NULL, "store", "cannot open a store connection for API work", "err=\"%s\"",
                      err);
        p->open_failing = true;
    } else {
        p->open_failing = false;
    }
    uv_mutex_unlock(&p->mu);
    return rc;
}

static void give_conn(struct store_pool *p, struct store *st)
{
    uv_mutex_lock(&p->mu);
    p->free_conns[p->n_free++] = st;
    uv_cond_signal(&p->cv);
    uv_mutex_unlock(&p->mu);
}

static void pool_work(uv_work_t *req)
{
    struct pool_job *j = req->data;
    struct store *st;
    j->rc = take_conn(j->p, &st);
    if (j->rc < 0)
        return;
    j->rc = j->fn(st, j->arg);
    store_rollback(st); /* a job that failed mid-transaction leaves the connection clean */
    give_conn(j->p, st);
}

static void pool_after(uv_work_t *req, int status)
{
    struct pool_job *j = req->data;
    struct store_pool *p = j->p;
    p->running--;
    p->jobs++;
    if (j->done)
        j->done(j->arg, status < 0 ? status : j->rc);
    free(j);
}

int store_pool_submit(struct store_pool *p, store_pool_fn *fn, store_pool_done_fn *done, void *arg)
{
    if (p->stopped)
        return HX_ESHUTDOWN;
    struct pool_job *j = hx_xcalloc(1, sizeof(*j));
    j->req.data = j;
    j->p = p;
    j->fn = fn;
    j->done = done;
    j->arg = arg;
    int rc = uv_queue_work(p->loop, &j->req, pool_work, pool_after);
    if (rc < 0) {
        free(j);
        return rc;
    }
    p->running++;
    return 0;
}

void store_pool_get_stats(const struct store_pool *p, struct store_pool_stats *out)
{
    out->jobs = p->jobs;
    out->running = p->running;
    uv_mutex_lock((uv_mutex_t *)&p->mu);
    out->conns = p->n_open;
    uv_mutex_unlock((uv_mutex_t *)&p->mu);
}

void store_pool_stop(struct store_pool *p)
{
    p->stopped = true;
}

void store_pool_free(struct store_pool *p)
{
    if (!p)
        return;
    assert(p->running == 0);
    for (uint32_t i = 0; i < p->n_free; i++)
        store_close(p->free_conns[i]);
    free(p->free_conns);
    uv_cond_destroy(&p->cv);
    uv_mutex_destroy(&p->mu);
    free(p);
}

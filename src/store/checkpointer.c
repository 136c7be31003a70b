/*
 * The checkpointer: a thread with its own store connection that copies the write-ahead log
 * into the database file every STORE_CHECKPOINT_MS, so that the writer thread never does
 * (a checkpoint at the end of a commit holds every acknowledgement behind it). PASSIVE
 * checkpoints run alongside the writer's commits; when the log has grown past
 * STORE_CHECKPOINT_TRUNCATE_PAGES (a checkpoint that keeps losing the race with a busy
 * writer), one TRUNCATE checkpoint waits for the writer between two commits and resets it.
 * Thread: its own; start and stop on the caller's.
 */
#include "store/checkpointer.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <stdio.h>
#include <string.h>

struct store_checkpointer {
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    bool stopping;    /* under mu */
    struct store *st; /* the thread's connection */
    uint32_t period_ms;
    uint64_t passes, truncates, failures;
};

static void run(void *arg)
{
    struct store_checkpointer *c = arg;
    int last_rc = 0;
    uv_mutex_lock(&c->mu);
    while (!c->stopping) {
        uv_cond_timedwait(&c->cv, &c->mu, (uint64_t)c->period_ms * 1000000);
        if (c->stopping)
            break;
        uv_mutex_unlock(&c->mu);
        int log_pages = 0, done = 0;
        int rc = store_checkpoint(c->st, false, &log_pages, &done);
        if (rc == 0 && log_pages > STORE_CHECKPOINT_TRUNCATE_PAGES) {
            rc = store_checkpoint(c->st, true, &log_pages, &done);
            c->truncates++;
        }
        c->passes++;
        if (rc < 0) {
            c->failures++;
            if (rc != last_rc)
                log_warn(NULL, "store", "checkpoint failed; will retry", "err=\"%s\"",
                         hx_strerror(rc));
        }
        last_rc = rc;
        uv_mutex_lock(&c->mu);
    }
    uv_mutex_unlock(&c->mu);
}

int store_checkpointer_start(struct store_checkpointer **out, const struct cfg_store *cfg,
                             uint32_t period_ms, char *err, size_t err_len)
{
    *out = NULL;
    struct store_checkpointer *c = hx_xcalloc(1, sizeof(*c));
    c->period_ms = period_ms ? period_ms : STORE_CHECKPOINT_MS;
    int rc = store_open(&c->st, cfg, 0, err, err_len);
    if (rc < 0) {
        free(c);
        return rc;
    }
    if ((rc = uv_mutex_init(&c->mu)) < 0)
        goto fail_st;
    if ((rc = uv_cond_init(&c->cv)) < 0)
        goto fail_mu;
    if ((rc = uv_thread_create(&c->thread, run, c)) < 0)
        goto fail_cv;
    *out = c;
    return 0;
fail_cv:
    uv_cond_destroy(&c->cv);
fail_mu:
    uv_mutex_destroy(&c->mu);
fail_st:
    snprintf(err, err_len, "cannot start the checkpointer: %s", hx_strerror(rc));
    store_close(c->st);
    free(c);
    return rc;
}

void store_checkpointer_stop(struct store_checkpointer *c)
{
    if (!c)
        return;
    uv_mutex_lock(&c->mu);
    c->stopping = true;
    uv_mutex_unlock(&c->mu);
    uv_cond_signal(&c->cv);
    uv_thread_join(&c->thread);
    log_debug(NULL, "store", "checkpointer stopped", "passes=%llu truncates=%llu failures=%llu",
              (unsigned long long)c->passes, (unsigned long long)c->truncates,
              (unsigned long long)c->failures);
    store_close(c->st);
    uv_cond_destroy(&c->cv);
    uv_mutex_destroy(&c->mu);
    free(c);
}

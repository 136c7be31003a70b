/*
 * Audit entries of hot reads, appended in batches by the store writer thread. A handler that
 * answers many times a second (the ward overview) cannot append its entry from its pooled
 * connection: every pooled connection then queues for SQLite's one write lock (measured: p99
 * ~90 ms at a few hundred listings a second). Here entries wait on the loop while one batch
 * is being written, and the next batch takes all of them in ONE transaction on the writer's
 * own connection (store_writer_submit_job), so the cost per entry is an insert, not a commit.
 * Each entry's done runs on the loop once its batch is committed (status 0) or failed; the
 * caller answers only then, so no answer goes out without its entry.
 * Layer: api. Thread: loop, except batch_work (the store writer thread).
 * Thread safety: a batch in flight is owned by the writer until batch_done; the pending list
 * belongs to the loop.
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "security/audit.h"
#include "store/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most entries in one transaction. */
#define BATCH_MAX 256

struct api_audit_item {
    struct api_audit_item *next;
    struct audit_entry e;    /* strings point into text */
    api_audit_done_fn *done; /* on the loop, once written or failed */
    struct api_job *j;       /* for done */
    char text[];             /* the strings, back to back */
};

struct api_audit_q {
    struct api *a;
    struct api_audit_item *head, *tail; /* pending, in order */
    size_t n_pending;
    bool in_flight; /* a batch is with the writer */
};

struct batch {
    struct api_audit_q *q;
    struct api_audit_item *items; /* in order */
};

static const char *put_str(char **p, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *at = *p;
    memcpy(at, s, n);
    *p += n;
    return at;
}

/* Writer thread: every entry of the batch in one transaction, or none. */
static int batch_work(struct store *st, void *arg)
{
    struct batch *b = arg;
    int rc = store_begin(st);
    for (struct api_audit_item *it = b->items; rc == 0 && it; it = it->next)
        rc = audit_append(st, &it->e, NULL);
    if (rc == 0)
        return store_commit(st);
    if (store_in_transaction(st))
        store_rollback(st);
    return rc;
}

static void flush(struct api_audit_q *q);

static void batch_done(void *arg, int status)
{
    struct batch *b = arg;
    struct api_audit_q *q = b->q;
    if (status < 0)
        log_error(NULL, "api", "cannot record reads in the audit trail", "err=\"%s\"",
                  hx_strerror(status));
    for (struct api_audit_item *it = b->items, *next; it; it = next) {
        next = it->next;
        it->done(it->j, status);
        free(it);
    }
    free(b);
    q->in_flight = false;
    flush(q);
}

static void flush(struct api_audit_q *q)
{
    if (q->in_flight || !q->head)
        return;
    struct batch *b = hx_xcalloc(1, sizeof(*b));
    b->q = q;
    b->items = q->head;
    struct api_audit_item *last = q->head;
    size_t n = 1;
    while (last->next && n < BATCH_MAX) {
        last = last->next;
        n++;
    }
    q->head = last->next;
    if (!q->head)
        q->tail = NULL;
    last->next = NULL;
    q->n_pending -= n;
    q->in_flight = true;
    int rc = q->a->stopping ? HX_ESHUTDOWN
                            : store_writer_submit_job(q->a->writer, batch_work, batch_done, b);
    if (rc < 0)
        batch_done(b, rc); /* answers them with the error, then tries the rest */
}

void api__audit_read_batched(struct api_job *j, const struct audit_entry *e,
                             api_audit_done_fn *done)
{
    struct api *a = j->a;
    if (!a->audit_q) {
        a->audit_q = hx_xcalloc(1, sizeof(*a->audit_q));
        a->audit_q->a = a;
    }
    char why[160];
    if (audit_entry_check(e, why, sizeof(why)) < 0) {
        log_warn(NULL, "api", "refusing an invalid audit entry", "reason=\"%s\"", why);
        done(j, HX_EINVAL);
        return;
    }
    const char *const strs[] = {e->actor,     e->action, e->object_type,
                                e->object_id, e->source, e->details};
    size_t total = 0;
    for (size_t i = 0; i < HX_ARRAY_LEN(strs); i++)
        total += strs[i] ? strlen(strs[i]) + 1 : 0;
    struct api_audit_item *it = hx_xmalloc(sizeof(*it) + total);
    char *p = it->text;
    it->next = NULL;
    it->e = *e;
    it->e.actor = put_str(&p, e->actor);
    it->e.action = put_str(&p, e->action);
    it->e.object_type = put_str(&p, e->object_type);
    it->e.object_id = put_str(&p, e->object_id);
    it->e.source = put_str(&p, e->source);
    it->e.details = put_str(&p, e->details);
    it->done = done;
    it->j = j;
    struct api_audit_q *q = a->audit_q;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->n_pending++;
    flush(q);
}

/* A deferred read entry's fields, copied out of the worker's stack. */
struct api_read_audit {
    char action[AUDIT_ACTION_MAX];
    int64_t patient_id;
    char object_type[AUDIT_OBJTYPE_MAX];
    char object_id[AUDIT_OBJID_MAX];
    char *details; /* owned, or NULL */
    bool break_glass;
};

void api__read_audit_free(struct api_read_audit *r)
{
    if (r) {
        free(r->details);
        free(r);
    }
}

static void deferred_done(struct api_job *j, int status)
{
    api__read_audit_free(j->read_audit);
    j->read_audit = NULL;
    if (status < 0)
        api__fail(j, 503, "unavailable", "the audit trail cannot be written: %s",
                  hx_strerror(status));
    api__finish(j);
}

static void deferred_cont(struct api_job *j)
{
    const struct api_read_audit *r = j->read_audit;
    struct audit_entry e = {.action = r->action,
                            .outcome = AUDIT_SUCCESS,
                            .patient_id = r->patient_id,
                            .object_type = r->object_type[0] ? r->object_type : NULL,
                            .object_id = r->object_id[0] ? r->object_id : NULL,
                            .details = r->details,
                            .break_glass = r->break_glass};
    api__audit_actor(j, &e);
    api__audit_read_batched(j, &e, deferred_done);
}

void api__audit_read_deferred(struct api_job *j, const char *action, int64_t patient_id,
                              const char *object_type, const char *object_id, const char *details,
                              bool break_glass)
{
    if (!j->read_audit)
        j->read_audit = hx_xcalloc(1, sizeof(*j->read_audit));
    struct api_read_audit *r = j->read_audit;
    snprintf(r->action, sizeof(r->action), "%s", action);
    r->patient_id = patient_id;
    snprintf(r->object_type, sizeof(r->object_type), "%s", object_type ? object_type : "");
    snprintf(r->object_id, sizeof(r->object_id), "%s", object_id ? object_id : "");
    free(r->details);
    r->details = details ? hx_xstrdup(details) : NULL;
    r->break_glass = break_glass;
    j->cont = deferred_cont;
}

void api__audit_q_free(struct api *a)
{
    /* Nothing can be pending here: every batch is called back before the writer stops, and
     * entries queued behind one are flushed from its callback. */
    free(a->audit_q);
    a->audit_q = NULL;
}
